//! Writing the generated files all or none: each staged beside its file, then renamed over it.

use crate::targets::TARGETS;
use crate::{Result, err};
use std::path::Path;

/// The prefix and suffix of the temporary files [`stage`] writes beside a generated file.
const TEMP_PREFIX: &str = ".codegen-";
const TEMP_SUFFIX: &str = ".tmp";

/// Temporary files of the staging step (`.codegen-*.tmp`) in the directories of the
/// generated files, relative to `root`, sorted: a run killed between staging and renaming
/// leaves them.
pub fn leftover_temporaries(root: &Path) -> Vec<String> {
    let mut dirs: Vec<&str> = TARGETS
        .iter()
        .flat_map(|t| t.outputs())
        .filter_map(|o| Path::new(o).parent().and_then(Path::to_str))
        .collect();
    dirs.sort_unstable();
    dirs.dedup();
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX) {
                out.push(format!("{dir}/{name}"));
            }
        }
    }
    out.sort();
    out
}

/// Writes every `(output, code, what)`: all staged first (a temporary file beside each, which
/// is removed again when staging another fails), then each renamed over its file.
pub(super) fn write_all(root: &Path, files: &[(&str, &str, &str)]) -> Result<()> {
    let mut staged = Vec::new();
    for (output, code, what) in files {
        let out_path = root.join(output);
        match stage(&out_path, code) {
            Ok(tmp) => staged.push((tmp, out_path, *output, *what, code.len())),
            Err(e) => {
                return err(format!("{output}: cannot write: {e} (nothing was written)"));
            }
        }
    }
    let mut replaced: Vec<&str> = Vec::new();
    for (tmp, out_path, output, what, len) in staged {
        if let Err(e) = tmp.persist(&out_path) {
            // The temporary files not yet renamed are removed when dropped.
            return err(format!(
                "{output}: cannot write: {} (already replaced: {}; every other generated file is as it was: fix the cause and run `cargo xtask codegen` again)",
                e.error,
                if replaced.is_empty() {
                    "none".to_string()
                } else {
                    replaced.join(", ")
                }
            ));
        }
        replaced.push(output);
        println!("wrote {output} ({what}, {len} bytes)");
    }
    Ok(())
}

/// Writes `contents` to a temporary file in `path`'s directory, to be renamed over `path`
/// (`persist`): an interrupted run (Ctrl-C, a full disk) never leaves a half-written generated
/// file, which would not compile and would look like a hand edit to `--check`. The file gets
/// the permissions `path` has.
fn stage(path: &Path, contents: &str) -> std::io::Result<tempfile::NamedTempFile> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)?;
    tmp.write_all(contents.as_bytes())?;
    tmp.as_file().sync_all()?;
    match std::fs::metadata(path) {
        Ok(existing) => tmp.as_file().set_permissions(existing.permissions())?,
        // A new file gets what `std::fs::write` would have given it, not the temporary
        // file's owner-only mode.
        #[cfg(unix)]
        Err(_) => {
            use std::os::unix::fs::PermissionsExt as _;
            let readable = std::fs::Permissions::from_mode(0o644);
            tmp.as_file().set_permissions(readable)?
        }
        #[cfg(not(unix))]
        Err(_) => {}
    }
    Ok(tmp)
}
