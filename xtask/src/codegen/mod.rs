//! Running progenitor on a spec, and writing or checking the generated files.
//!
//! - `generator.rs`: progenitor's settings, its panics caught, a failure
//!   narrowed to the schema or operation it is about.
//! - `rewrites.rs`: what the xtask changes in progenitor's output, each change counted.
//! - `glue.rs`: the hand-written part every generated client gets (hooks, operation table,
//!   constructor).
//! - `write.rs`: staging every file before any is renamed over its old one.

mod generator;
mod glue;
mod rewrites;
mod write;

pub use generator::GENERATOR;
pub(crate) use generator::{catching_panics, settings};
pub use glue::rust_name;
pub use rewrites::Rewrites;
pub use write::leftover_temporaries;

use crate::shape;
use crate::spec::{self, Operation, Skipped, Spec};
use crate::targets::{TARGETS, Target};
use crate::{Result, err};
use std::path::Path;

/// Write the generated files, or only report the stale ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Write,
    Check,
}

/// One spec's generated code.
#[derive(Debug)]
pub struct Generated {
    pub code: String,
    pub operations: Vec<Operation>,
    pub skipped: Vec<Skipped>,
    /// The spec's callback operations, not generated ([`crate::spec::Spec::callbacks`]).
    pub callbacks: Vec<String>,
    /// The spec's bounds the generated types do not check
    /// ([`crate::spec::Spec::unchecked_bounds`]).
    pub unchecked_bounds: Vec<String>,
}

/// `cargo xtask codegen [--check]`.
///
/// Every file is generated before any is written, and the stale ones are written to temporary
/// files beside them before any is renamed over its file: a spec that fails to generate, or a
/// file that cannot be staged, leaves the whole tree as it was (not one vendor regenerated and
/// the other not, nor a client without its mocks). A rename that fails part way names the
/// files already replaced. Temporary files a killed run left (`.codegen-*.tmp`, ignored by
/// git) fail `--check`, naming them; a writing run removes them.
pub fn run(root: &Path, mode: Mode) -> Result<()> {
    // (output, code, what) for every generated file, in target order.
    let mut outputs: Vec<(&str, String, String)> = Vec::new();
    for target in TARGETS {
        let generated = generate_target(root, target)?;
        for s in &generated.skipped {
            println!(
                "skipped {}: {} (left out of generation: {})",
                target.spec, s.operation, s.reason
            );
        }
        // Printed as skipped operations are: nothing is left out silently.
        for c in &generated.callbacks {
            println!("not generated {}: callback {c}", target.spec);
        }
        for b in &generated.unchecked_bounds {
            println!("not checked by the generated types {}: {b}", target.spec);
        }
        let mocks = crate::mock::generate_target(root, target)?;
        let what = format!(
            "{} operations from {}",
            generated.operations.len(),
            target.spec
        );
        outputs.push((target.output, generated.code, what.clone()));
        outputs.push((target.mock_output, mocks, what));
    }
    let mut stale = Vec::new();
    for (output, code, what) in &outputs {
        let current = std::fs::read_to_string(root.join(output)).ok();
        if current.as_deref() == Some(code.as_str()) {
            println!("up to date {output} ({what})");
        } else {
            stale.push((*output, code.as_str(), what.as_str()));
        }
    }
    // Temporary files a killed run left beside the generated files.
    let leftover = leftover_temporaries(root);
    if mode == Mode::Check && !leftover.is_empty() {
        return err(format!(
            "leftover temporary file(s) of an interrupted `cargo xtask codegen`, delete them: {}",
            leftover.join(", ")
        ));
    }
    for rel in &leftover {
        // Write mode: they are this command's own, from an interrupted run.
        match std::fs::remove_file(root.join(rel)) {
            Ok(()) => println!("removed leftover {rel}"),
            Err(e) => {
                return err(format!(
                    "{rel}: cannot remove a leftover temporary file: {e}"
                ));
            }
        }
    }
    match mode {
        Mode::Check if stale.is_empty() => Ok(()),
        Mode::Check => err(format!(
            "stale generated file(s), run `cargo xtask codegen`: {}",
            stale
                .iter()
                .map(|(output, _, _)| *output)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Mode::Write => write::write_all(root, &stale),
    }
}

/// Generates one target's file content from its spec on disk.
pub fn generate_target(root: &Path, target: &Target) -> Result<Generated> {
    let text = match std::fs::read_to_string(root.join(target.spec)) {
        Ok(t) => t,
        Err(e) => return err(format!("{}: cannot read: {e}", target.spec)),
    };
    generate(target.spec, &text)
}

/// Generates the client code for a spec's text. `name` is used in messages and the header.
pub fn generate(name: &str, text: &str) -> Result<Generated> {
    let Prepared {
        spec,
        openapi,
        notes: shaping_notes,
    } = prepare(name, text)?;
    let tokens = match generator::run_progenitor(&openapi) {
        Ok(t) => t,
        Err(msg) => return err(generator::narrow_failure(&spec, &msg)),
    };
    let mut file: syn::File = match syn::parse2(tokens) {
        Ok(f) => f,
        Err(e) => return err(format!("{name}: progenitor produced unparsable code: {e}")),
    };
    rewrites::apply_rewrites(&spec, &mut file)?;
    let plain = rewrites::plain_lists(&mut file);
    let glue = match syn::parse_str::<syn::File>(&glue::glue(&spec.operations)) {
        Ok(g) => g,
        Err(e) => return err(format!("{name}: the xtask's glue does not parse: {e}")),
    };
    file.items.extend(glue.items);
    let body = prettyplease::unparse(&file);
    let mut notes = vec![
        "the `Client` carries a `client_glue::ClientConfig`; its `ClientHooks` impl (below) adds the bearer header, sets each operation's timeout and bounds the response body".to_string(),
        "progenitor's panicking `Client::new` is removed; `connect` is the fallible constructor".to_string(),
        "progenitor's `api-version` header (neither vendor documents it) is not added".to_string(),
        "request URLs come from `client_glue::hooks::request_url` (the base URL parsed once, the operation's path appended; a path without parameters is built once, by `static_request_url`; a trailing plain path parameter is appended to a prefix built once, by `template_request_url`; path parameters are encoded by `client_glue::hooks::encode_segment`, progenitor's `encode_path` plus `\\` (which http(s) URLs read as `/`), without a new string when there is nothing to encode; a parameter that would make an empty, `.` or `..` segment is refused with `Error::InvalidRequest`) instead of a string reqwest parses on every call".to_string(),
        "header parameters are added with `RequestBuilder::header` instead of a header map merged into the request (when every one is required and none is a header the request already has), and operations without header parameters build no (empty) header map".to_string(),
        "2xx answers are read by `client_glue::hooks::decode` (progenitor's `ResponseValue::from_response` with the same errors, the headers moved instead of copied, the config's text filter applied)".to_string(),
        "`Client`'s `Debug` is the glue's, not derived: it prints the base URL without credentials, query or fragment (`client_glue::printable_url`)".to_string(),
    ];
    if plain > 0 {
        notes.push(format!(
            "optional `client_glue::List` fields ({plain}) are plain ones with `#[serde(default)]`: `null`, absence and a value that is not an array all read as an empty list, so there is no `None` to tell apart"
        ));
    }
    notes.extend(shaping_notes);
    let code = format!(
        "// @generated by `cargo xtask codegen` from {name}. Do not edit by hand:\n\
         // edit the spec (or xtask/) and run `cargo xtask codegen`.\n\
         // spec-sha256: {sha}\n\
         // generator: {GENERATOR}\n\
         // Skipped operations: {skipped}\n\
         // Not generated: callback operations {callbacks}\n\
         // Not checked by the generated types (typify drops these bounds; voiceclone's rules, crates/voiceclone/src/provider/*/rules.rs, check them, and serde_json sends a non-finite number as `null`): {bounds}\n\
         // What the xtask changed between the spec and progenitor (xtask/src/shape.rs, codegen/rewrites.rs):\n\
         {notes}\n\n{body}",
        sha = spec.sha256,
        skipped = if spec.skipped.is_empty() {
            "none".to_string()
        } else {
            spec.skipped
                .iter()
                .map(|s| s.operation.id.clone())
                .collect::<Vec<_>>()
                .join(", ")
        },
        callbacks = if spec.callbacks.is_empty() {
            "none".to_string()
        } else {
            format!(
                "{} (requests the vendor sends; voiceclone's webhook module reads them)",
                spec.callbacks.join(", ")
            )
        },
        bounds = if spec.unchecked_bounds.is_empty() {
            "none".to_string()
        } else {
            spec.unchecked_bounds.join("; ")
        },
        notes = notes
            .iter()
            .map(|n| format!("// - {n}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    Ok(Generated {
        code,
        operations: spec.operations,
        skipped: spec.skipped,
        callbacks: spec.callbacks,
        unchecked_bounds: spec.unchecked_bounds,
    })
}

/// A spec loaded, checked and shaped: what progenitor is given, for the client and its mocks.
#[derive(Debug)]
pub struct Prepared {
    /// The checked spec, its JSON shaped (skipped operations removed).
    pub spec: Spec,
    /// The shaped document, as progenitor reads it.
    pub openapi: openapiv3::OpenAPI,
    /// What the shaping changed, one line each, for the generated file's header.
    pub notes: Vec<String>,
}

/// Loads, checks and shapes a spec's text. `name` is used in messages.
pub fn prepare(name: &str, text: &str) -> Result<Prepared> {
    let mut spec = spec::load(name, text)?;
    let shaped = match shape::for_progenitor(&spec.json) {
        Ok(shaped) => shaped,
        Err(msg) => return err(format!("{name}: {msg}")),
    };
    spec.json = shaped.json;
    let openapi = match spec::openapi_document(spec.json.clone()) {
        Ok(v) => v,
        Err(e) => return err(format!("{name}: shaping made an invalid document: {e}")),
    };
    Ok(Prepared {
        spec,
        openapi,
        notes: shaped.notes,
    })
}
