//! Dry runs and estimates (issue 16): what a dry run says would be sent is what the call
//! sends (same method, path, idempotency header and body, captured by a loopback server),
//! and a dry run or an estimate sends nothing.

use serde_json::{Value, json};
use voiceclone::estimate::{DryRun, Estimate};
use voiceclone::{Client, CloneRequest, Provider, RetryPolicy, SpeechRequest, VoiceId};
use workspace_tests::Capture;

/// A client of `cap`'s, with its key.
fn client(p: Provider, cap: &Capture) -> Client {
    Client::builder(p)
        .api_key(cap.key())
        .base_url(cap.base_url())
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
        let _ = client(p, &cap).clone_voice(&req).await;
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
        let _ = client(p, &cap).synthesize(&req).await;
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

/// What a refusal looks like: the field, or `None` when the request was accepted.
fn refused_field<T>(r: &Result<T, voiceclone::Error>) -> Option<String> {
    match r {
        Ok(_) => None,
        Err(e) => match e.kind() {
            voiceclone::ErrorKind::InvalidInput { field, .. } => Some(field.clone()),
            other => Some(format!("not InvalidInput: {other:?}")),
        },
    }
}

/// An estimate, a dry run and the call refuse the same requests, naming the same field, and
/// the call sends nothing then: a request an estimate prices is one the call would send.
#[tokio::test]
async fn an_estimate_a_dry_run_and_the_call_refuse_the_same_requests() {
    let flac = tempfile::Builder::new().suffix(".flac").tempfile().unwrap();
    std::fs::write(flac.path(), b"fLaC and some bytes").unwrap();
    let jimmyai_text = format!("{}<#1.5#>", "a".repeat(9_995));
    let clones = [
        (
            Provider::Vmeg,
            CloneRequest::new("https://cdn.example.com/s.wav"),
            None,
        ),
        (
            Provider::Vmeg,
            CloneRequest::new("not a url"),
            Some("audio_url"),
        ),
        (
            Provider::Vmeg,
            CloneRequest::new("http://cdn.example.com/s.wav"),
            Some("audio_url"),
        ),
        (
            Provider::JimmyAi,
            CloneRequest::new("https://cdn.example.com/s.flac"),
            Some("audio_url"),
        ),
        (
            Provider::JimmyAi,
            CloneRequest::new("https://cdn.example.com/s.wav")
                .sample_text(format!("{}<#1#>", "字".repeat(270))),
            Some("sample_text"),
        ),
        (
            Provider::Vmeg,
            CloneRequest::new("https://cdn.example.com/s.wav").idempotency_key("k "),
            Some("idempotency_key"),
        ),
        // A local recording in a format JimmyAI does not clone from (the file exists).
        (
            Provider::JimmyAi,
            CloneRequest::from_file(flac.path()),
            Some("audio_file"),
        ),
        // Bytes without an extension (VMEG's upload needs one), and empty bytes.
        (
            Provider::Vmeg,
            CloneRequest::from_bytes("sample", vec![1u8; 64]).name("n"),
            Some("audio_file"),
        ),
        (
            Provider::Vmeg,
            CloneRequest::from_bytes("a.wav", Vec::new()).name("n"),
            Some("audio_file"),
        ),
        (
            Provider::JimmyAi,
            CloneRequest::from_bytes("a.wav", Vec::new()),
            Some("audio_file"),
        ),
    ];
    for (p, req, field) in clones {
        let capture = Capture::start(200, json!({"code": 500, "message": "x"})).await;
        let call = client(p, &capture).clone_voice(&req).await;
        let sent = capture.wire() != json!("no request was received");
        let estimate = Estimate::clone_voice(p, &req);
        let dry = DryRun::clone_voice(p, &req, false);
        let want = field.map(str::to_owned);
        assert_eq!(refused_field(&estimate), want, "{p} estimate {req:?}");
        assert_eq!(refused_field(&dry), want, "{p} dry run {req:?}");
        if want.is_some() {
            assert_eq!(refused_field(&call), want, "{p} call {req:?}");
        }
        assert_eq!(sent, want.is_none(), "{p} {req:?}");
    }

    let speeches = [
        (Provider::JimmyAi, SpeechRequest::new("m-1", "hi"), None),
        (
            Provider::JimmyAi,
            SpeechRequest::new(VoiceId::typed(Provider::Vmeg, "cv_1"), "hi"),
            Some("voice_id"),
        ),
        (
            Provider::JimmyAi,
            SpeechRequest::new("m-1", jimmyai_text),
            Some("text"),
        ),
        (Provider::Vmeg, SpeechRequest::new("cv_1", "hi"), None),
        (
            Provider::Vmeg,
            SpeechRequest::new("cv_1\n", "hi"),
            Some("lines[0].voice_id"),
        ),
        (
            Provider::Vmeg,
            SpeechRequest::new(VoiceId::typed(Provider::JimmyAi, "m-1"), "hi"),
            Some("voice_id"),
        ),
    ];
    for (p, req, field) in speeches {
        let capture = Capture::start(200, json!({"code": 500, "message": "x"})).await;
        let call = client(p, &capture).synthesize(&req).await;
        let sent = capture.wire() != json!("no request was received");
        let reqs = [req];
        let estimate = Estimate::speech(p, &reqs);
        let dry = DryRun::speech(p, &reqs);
        let want = field.map(str::to_owned);
        assert_eq!(refused_field(&estimate), want, "{p} estimate {reqs:?}");
        assert_eq!(refused_field(&dry), want, "{p} dry run {reqs:?}");
        if want.is_some() {
            assert_eq!(refused_field(&call), want, "{p} call {reqs:?}");
        }
        assert_eq!(sent, want.is_none(), "{p} {reqs:?}");
    }
}

/// A text with nothing to speak (only pause markers, zero-width or invisible characters) is
/// refused before sending: JimmyAI would bill its per-task voice fee for silence.
#[tokio::test]
async fn a_text_with_nothing_to_speak_is_refused_before_sending() {
    for (p, text, field) in [
        (Provider::JimmyAi, "<#1#>", "text"),
        (Provider::JimmyAi, "\u{200B}\u{FEFF}", "text"),
        (Provider::Vmeg, "\u{200B}\u{2060}", "lines[0].text"),
    ] {
        let capture = Capture::start(200, json!({"code": 500, "message": "x"})).await;
        let req = SpeechRequest::new(if p == Provider::Vmeg { "cv_1" } else { "m-1" }, text);
        let call = client(p, &capture).synthesize(&req).await;
        assert_eq!(refused_field(&call).as_deref(), Some(field), "{p} {text:?}");
        assert_eq!(
            capture.wire(),
            json!("no request was received"),
            "{p} {text:?}"
        );
        let reqs = [req];
        assert_eq!(
            refused_field(&Estimate::speech(p, &reqs)).as_deref(),
            Some(field)
        );
    }
}
