//! The tracing span each adapter call opens: its fields, and never the key.
//!
//! A binary of its own: `tracing::subscriber::set_default` is per thread, and tracing caches
//! each callsite's interest process-wide, so tests running beside it on other threads (with no
//! subscriber) can make its events disappear.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;
use std::sync::Arc;
use voiceclone::{Client, JobId, Provider, RecordingSleeper};
use workspace_tests::captured::Captured;
use workspace_tests::scripted::{Scripted, Step};

const SECRET_KEY: &str = "sk-test-7f3a9c-DO-NOT-PRINT";

fn running() -> Step {
    Step::ok(json!({"code": 200, "message": "", "data": {"taskId": "t", "status": "running"}}))
}

/// A `tracing` writer that keeps everything in memory.
#[tokio::test]
async fn each_call_has_a_span_with_provider_operation_attempt_status_and_no_secret() {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = Scripted::start(vec![Step::Raw(503, "busy"), running()]).await;
    let c = Client::builder(Provider::Vmeg)
        .api_key(SECRET_KEY)
        .base_url(server.base_url.as_str())
        .sleeper(Arc::new(RecordingSleeper::new()))
        .build()
        .unwrap();
    c.clone_status(&JobId::new("t")).await.unwrap();
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    for field in [
        "provider=vmeg",
        "operation=\"clone_status\"",
        "attempt=2",
        "http_status=200",
        "latency_ms=",
    ] {
        assert!(text.contains(field), "missing {field} in:\n{text}");
    }
    assert!(!text.contains(SECRET_KEY), "the key was logged:\n{text}");
}
