//! The adapter names no vendor route: every call goes through a generated method, so a path
//! changes in the spec and nowhere else (`xtask/tests/codegen.rs` shows a moved path reaching
//! the generated client). The one exception is JimmyAI's multipart upload, which progenitor
//! cannot generate: what it sends is held to the spec's skipped `uploadFile` instead.

use serde_json::{Value, json};
use std::path::Path;
use voiceclone::Provider;
use workspace_tests::scripted::{Scripted, Step};

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

/// The spec's one operation left out of generation, `uploadFile`: (method, path, its
/// `x-voiceclone-codegen` marker, its request body's content types).
fn skipped_upload_in_the_spec() -> (String, String, Value, Vec<String>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/jimmyai.yaml");
    let spec: Value = serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut found = Vec::new();
    for (route, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["operationId"] == "uploadFile" {
                let types = op["requestBody"]["content"]
                    .as_object()
                    .map(|c| c.keys().cloned().collect())
                    .unwrap_or_default();
                found.push((
                    method.clone(),
                    route.clone(),
                    op["x-voiceclone-codegen"].clone(),
                    types,
                ));
            }
        }
    }
    assert_eq!(
        found.len(),
        1,
        "uploadFile in specs/jimmyai.yaml: {found:?}"
    );
    found.remove(0)
}

/// The hand-written upload (the adapter's one vendor route) sends the method and path of the
/// spec's skipped `uploadFile`, as multipart with its `file` part: moving the operation in the
/// spec, or the route in the adapter, fails here (the route check above only exempts it).
#[tokio::test]
async fn the_hand_written_upload_is_the_specs_skipped_upload_file() {
    let (method, route, marker, types) = skipped_upload_in_the_spec();
    assert_eq!(
        marker["skip"], true,
        "uploadFile is generated now: {marker}"
    );
    assert_eq!(types, ["multipart/form-data"]);

    let server = Scripted::start(vec![Step::ok(json!({
        "code": 20000,
        "msg": "ok",
        "data": {"url": "https://h/f/sample.mp3", "filename": "sample.mp3", "size": 12,
                 "mime_type": "audio/mpeg"}
    }))])
    .await;
    let (c, _) = crate::adapter_support::client(Provider::JimmyAi, &server.base_url);
    let dir = tempfile::tempdir().unwrap();
    let sample = dir.path().join("sample.mp3");
    std::fs::write(&sample, b"ID3fakeaudio").unwrap();
    let url = c.upload_sample(&sample).await.unwrap();
    assert_eq!(url.as_str(), "https://h/f/sample.mp3");

    let seen = server.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].method, method.to_uppercase());
    assert_eq!(seen[0].path, route);
    let content_type = seen[0].header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("multipart/form-data;"),
        "{content_type}"
    );
    let body = String::from_utf8_lossy(&seen[0].body);
    assert!(body.contains("name=\"file\""), "{body}");
}
