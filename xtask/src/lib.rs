//! Library side of `cargo xtask`, so that tests can call the same code the command runs.
//!
//! - [`targets`]: which spec generates which crate.
//! - [`spec`]: loading a spec and the checks made before progenitor sees it.
//! - [`codegen`]: running progenitor and writing (or checking) the generated files.
//! - [`mock`]: the typed httpmock extension of each client (progenitor's `Generator::httpmock`).
//! - [`refs`]: following `$ref`s and collecting header parameters, one reading for all.
//! - [`surface`]: a plain-text listing of a generated crate's public surface, for snapshots.
//! - [`conformance`]: comparing `specs/vmeg.yaml` with VMEG's published document.

pub mod codegen;
pub mod conformance;
pub mod mock;
pub mod refs;
pub mod shape;
pub mod spec;
pub mod surface;
pub mod targets;

use std::path::PathBuf;

pub const USAGE: &str = "usage:
  cargo xtask codegen            regenerate crates/*-client/src/generated.rs and
                                 crates/*-client-mock/src/generated.rs from specs/
  cargo xtask codegen --check    write nothing; exit 1 naming each stale file
  cargo xtask conformance <vmeg-openapi.json>
                                 compare specs/vmeg.yaml with VMEG's published document";

/// An xtask failure: a message meant to be printed on one line.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(Error(msg.into()))
}

/// The variable that points the `cargo xtask` command at another tree than this checkout
/// (tests point it at a scratch copy); the command prints the root it names when it is set.
/// Only the binary reads it ([`root_from`]): the library, and so every test, always works on
/// this checkout ([`workspace_root`]).
pub const ROOT_VARIABLE: &str = "VOICECLONE_XTASK_ROOT";

/// This checkout's workspace root: the parent of this crate's manifest directory. The
/// environment is not read here.
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// The root the command works on, given [`ROOT_VARIABLE`]'s value: `None` (unset) is
/// [`workspace_root`]; an empty (or blank) value is refused, since it would silently mean the
/// current directory; anything else is that tree.
pub fn root_from(value: Option<std::ffi::OsString>) -> Result<PathBuf> {
    match value {
        None => Ok(workspace_root()),
        Some(v) if v.to_string_lossy().trim().is_empty() => err(format!(
            "{ROOT_VARIABLE} is set but empty: unset it to work on this checkout, or name a tree"
        )),
        Some(v) => Ok(PathBuf::from(v)),
    }
}
