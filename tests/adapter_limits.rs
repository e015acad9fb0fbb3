//! Concurrency and lifecycle rules: the in-flight bound, dropping a wait stops polling, and
//! the tracing span each call opens (with its fields, and never the key).

use crate::adapter_support::{SECRET_KEY, client};
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use voiceclone::{Client, JobId, Provider, RetryPolicy, WaitPolicy};
use workspace_tests::scripted::{Scripted, Step};

fn running() -> Step {
    Step::ok(json!({"code": 200, "message": "", "data": {"taskId": "t", "status": "running"}}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_are_bounded_per_client() {
    let server = Scripted::start(vec![Step::Hang(Duration::from_millis(800)); 6]).await;
    let c = Client::builder(Provider::Vmeg)
        .api_key(SECRET_KEY)
        .base_url(server.base_url.as_str())
        .max_in_flight(2)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let calls: Vec<_> = (0..6)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move { c.clone_status(&JobId::new(format!("t-{i}"))).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        server.seen().len(),
        2,
        "only max_in_flight requests may be on the wire"
    );
    for call in calls {
        call.abort();
    }
}

#[tokio::test]
async fn dropping_a_wait_stops_polling() {
    let server = Scripted::start(vec![running(); 200]).await;
    let c = Client::builder(Provider::Vmeg)
        .api_key(SECRET_KEY)
        .base_url(server.base_url.as_str())
        .build()
        .unwrap();
    let policy = WaitPolicy::for_provider(Provider::Vmeg)
        .with_first_interval(Duration::from_millis(10))
        .with_growth(1.0)
        .with_jitter(0.0);
    let waiting = tokio::spawn(async move { c.wait_for_clone(&JobId::new("t"), &policy).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let polled = server.seen().len();
    assert!(polled >= 2, "it was polling: {polled}");
    waiting.abort();
    let _ = waiting.await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(
        server.seen().len() <= polled + 1,
        "polling went on after the drop"
    );
}

/// A `tracing` writer that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

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
    let (c, _) = client(Provider::Vmeg, &server.base_url);
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
