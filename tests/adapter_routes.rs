//! The adapter names no vendor route: every call goes through a generated method, so a path
//! changes in the spec and nowhere else (`xtask/tests/codegen.rs` shows a moved path reaching
//! the generated client). The one exception is JimmyAI's multipart upload, which progenitor
//! cannot generate.

use std::path::Path;

/// Every `.rs` file under `dir`, as (path, text).
pub(crate) fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
}

#[test]
fn the_adapter_names_no_vendor_route_but_the_upload() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/voiceclone/src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 10, "read the adapter's sources");
    let mut found = Vec::new();
    for (file, text) in &files {
        for (n, line) in text.lines().enumerate() {
            for prefix in ["\"/openapi/", "\"/api/open-api/"] {
                if line.contains(prefix) && !line.contains("\"/api/open-api/v1/files/upload\"") {
                    found.push(format!("{file}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "vendor routes in the adapter:\n{}",
        found.join("\n")
    );
}
