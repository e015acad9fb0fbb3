//! `cargo xtask <command>`: development tasks for this workspace.
//!
//! - `codegen [--check]`: regenerate the API client crates and their mock crates from `specs/`
//!   (or only check).
//! - `conformance <vendor-openapi.json>`: compare `specs/vmeg.yaml` with VMEG's document.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let from_env = std::env::var_os(xtask::ROOT_VARIABLE);
    let overridden = from_env.is_some();
    let root = match xtask::root_from(from_env) {
        Ok(root) => root,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if overridden {
        // Another tree than this checkout's: say so, so that a stray variable is noticed.
        println!(
            "workspace root {} (from {})",
            root.display(),
            xtask::ROOT_VARIABLE
        );
    }
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["codegen"] => xtask::codegen::run(&root, xtask::codegen::Mode::Write),
        ["codegen", "--check"] => xtask::codegen::run(&root, xtask::codegen::Mode::Check),
        ["conformance", vendor] => xtask::conformance::run(&root, std::path::Path::new(vendor)),
        _ => {
            eprintln!("{}", xtask::USAGE);
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line per problem, no backtrace: the message names the file and operation.
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
