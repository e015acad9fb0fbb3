//! Dry runs and estimates (issue 16): what a dry run says would be sent is what the call
//! sends (same method, path, idempotency header and body, captured by a loopback server),
//! and a dry run or an estimate sends nothing.

use serde_json::{Value, json};
use voiceclone::estimate::{DryRun, Estimate};
use voiceclone::{Client, CloneRequest, Provider, RetryPolicy, SpeechRequest};
use workspace_tests::Capture;

fn client(p: Provider, base: &str) -> Client {
    Client::builder(p)
        .api_key("sk-estimate-test-key-0123456789")
        .base_url(base)
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

fn header(wire: &Value, name: &str) -> Option<String> {
    wire["headers"].as_array().and_then(|hs| {
        hs.iter()
            .filter_map(Value::as_str)
            .find_map(|h| h.strip_prefix(&format!("{name}: ")).map(str::to_owned))
    })
}

/// Sends `call` to a capturing server and compares what arrived with `planned`.
async fn same_as_sent(planned: &voiceclone::estimate::PlannedRequest, wire: &Value) {
    assert_eq!(wire["method"], planned.method, "{wire}");
    assert_eq!(wire["path"], planned.path.as_str(), "{wire}");
    assert_eq!(wire["body"], planned.body, "{wire}");
    assert_eq!(
        header(wire, "x-idempotency-key"),
        planned.headers.get("X-Idempotency-Key").cloned(),
        "{wire}"
    );
}

#[tokio::test]
async fn a_dry_run_shows_what_the_call_sends() {
    let clones = [
        (
            Provider::Vmeg,
            CloneRequest::new("https://cdn.example.com/s.wav")
                .name("narrator")
                .language("en-US")
                .sample_text("Hello there.")
                .idempotency_key("key-1"),
        ),
        (
            Provider::Vmeg,
            CloneRequest::new("https://cdn.example.com/s.wav")
                .synchronous(true)
                .idempotency_key("key-2"),
        ),
        (
            Provider::JimmyAi,
            CloneRequest::new("https://cdn.example.com/s.wav")
                .language("zh-CN")
                .sample_text("你好<#0.5#>世界"),
        ),
    ];
    for (p, req) in clones {
        let cap = Capture::start(500, json!({})).await;
        let _ = client(p, &cap.base_url()).clone_voice(&req).await;
        let run = DryRun::clone_voice(p, &req, false).unwrap();
        assert_eq!(run.requests.len(), 1);
        same_as_sent(&run.requests[0], &cap.wire()).await;
    }
    let speeches = [
        (
            Provider::Vmeg,
            SpeechRequest::new("cv_1", "One.")
                .add_line("cv_2", "Two.")
                .language("en-US")
                .trim(true)
                .idempotency_key("key-3"),
        ),
        (
            Provider::JimmyAi,
            SpeechRequest::new("model-1", "Hello <#1.5#> world.")
                .speed(1.2)
                .pitch(-2)
                .subtitles(voiceclone::SubtitleMode::Word),
        ),
    ];
    for (p, req) in speeches {
        let cap = Capture::start(500, json!({})).await;
        let _ = client(p, &cap.base_url()).synthesize(&req).await;
        let run = DryRun::speech(p, std::slice::from_ref(&req)).unwrap();
        same_as_sent(&run.requests[0], &cap.wire()).await;
    }
}

/// Without a given key, the dry run says the key is made when sent, and never shows the API
/// key or an Authorization header.
#[test]
fn a_dry_run_holds_no_secret_and_marks_generated_values() {
    let run = DryRun::speech(Provider::Vmeg, &[SpeechRequest::new("cv_1", "Hi.")]).unwrap();
    let text = serde_json::to_string(&run).unwrap();
    assert!(
        !text.to_ascii_lowercase().contains("authorization"),
        "{text}"
    );
    assert_eq!(
        run.requests[0].headers["X-Idempotency-Key"],
        voiceclone::estimate::GENERATED
    );
    assert_eq!(run.billable.total_credits, Some(0.03));
}

#[test]
fn a_refused_request_is_refused_by_the_dry_run_too() {
    let e = DryRun::clone_voice(
        Provider::Vmeg,
        &CloneRequest::new("http://127.0.0.1/s.wav"),
        false,
    )
    .unwrap_err();
    assert!(
        matches!(e.kind(), voiceclone::ErrorKind::InvalidInput { field, .. } if field == "audio_url")
    );
    let e = Estimate::speech(
        Provider::JimmyAi,
        &[
            SpeechRequest::new("m", "ok"),
            SpeechRequest::new("m", "x".repeat(10_001)),
        ],
    )
    .unwrap_err();
    assert!(
        matches!(e.kind(), voiceclone::ErrorKind::InvalidInput { field, .. } if field == "requests[1].text"),
        "{e}"
    );
}
