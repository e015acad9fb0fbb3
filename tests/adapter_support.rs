//! Builders shared by the adapter tests: clients with recorded (instant) sleeping.

use std::sync::Arc;
use std::time::Duration;
use voiceclone::{Client, Provider, RecordingSleeper, RetryPolicy, WaitPolicy};

/// The key every test client uses; tests assert it never shows up in any output.
pub const SECRET_KEY: &str = "sk-test-7f3a9c-DO-NOT-PRINT";

pub fn client(provider: Provider, base: &str) -> (Client, RecordingSleeper) {
    let sleeper = RecordingSleeper::new();
    let client = Client::builder(provider)
        .api_key(SECRET_KEY)
        .base_url(base)
        .retry(RetryPolicy::default().with_max_attempts(3).with_seed(7))
        .timeout(Duration::from_secs(5))
        .sleeper(Arc::new(sleeper.clone()))
        .build()
        .unwrap();
    (client, sleeper)
}

/// Polls immediately (the recording sleeper returns at once) with a bounded number of polls.
pub fn fast_wait(provider: Provider) -> WaitPolicy {
    WaitPolicy::for_provider(provider)
        .with_seed(1)
        .with_max_polls(Some(20))
}

/// The `data` of a VMEG list answer in the shapes that matter to whether it says anything,
/// each with that: `null`, `{}` and `records: null` alone hold no list and no total (they
/// prove nothing); an array, even empty, or a `total` do.
pub fn list_data_shapes() -> [(serde_json::Value, bool); 6] {
    use serde_json::json;
    [
        (json!(null), false),
        (json!({}), false),
        (json!({"records": null}), false),
        (json!({"records": []}), true),
        (json!({"total": 0}), true),
        (json!({"records": null, "total": 0}), true),
    ]
}

/// Everything logged on this thread (debug and up), kept in memory until the guard is dropped
/// (through the binary's one global subscriber: `workspace_tests::captured`).
pub fn capture_logs() -> (
    workspace_tests::captured::Captured,
    workspace_tests::captured::CaptureGuard,
) {
    workspace_tests::captured::capture(tracing::Level::DEBUG)
}

/// Envoy's answer (and so Istio's and many gateways') when the upstream closed the connection
/// after the request was forwarded (response flag `UC`).
pub const ENVOY_503: &str = "upstream connect error or disconnect/reset before headers. reset reason: connection termination";

/// A relay's or a gateway's JSON 503 (Sentinel, Spring Cloud Gateway and many others answer
/// `{"code":N,"message":...}`): a numeric `code`, but neither vendor's envelope (VMEG's has
/// `data`, JimmyAI's `msg`).
pub const RELAY_JSON_503: &str = r#"{"code":503,"message":"Service Unavailable"}"#;

/// A server's text of about 1 MiB holding a newline that would start a forged log line.
pub const FORGED_LINE: &str = "\n2026-12-05T00:00:00Z  INFO voiceclone: task t-1 succeeded";

pub fn megabyte_word() -> String {
    format!("{}{FORGED_LINE}{}", "w".repeat(32), "x".repeat(1 << 20))
}

/// No line of `logs` was started by a server's newline, none is over 2 KiB.
pub fn assert_no_forged_or_huge_line(logs: &str) {
    for line in logs.lines() {
        assert!(line.len() < 2048, "a {}-byte log line", line.len());
        assert!(!line.starts_with("2026-12-05T00:00:00Z"), "forged: {line}");
    }
}

/// The `TaskFailed` reason of `e`, asserted at most `max` characters and free of the
/// server's newline (server text is folded and cut where it is read).
pub fn folded_failure_reason(e: &voiceclone::Error, max: usize) -> String {
    match e.kind() {
        voiceclone::ErrorKind::TaskFailed { reason, .. } => {
            assert!(reason.chars().count() <= max, "{} chars", reason.len());
            assert!(!reason.contains('\n'), "{reason}");
            reason.clone()
        }
        other => panic!("{other:?}"),
    }
}

/// `e` (an `OutcomeUnknown`) as if its submit had been sent `age` earlier: a resend sooner than
/// 180 s (synchronous) or `KEYED_CREATE_REPEAT_PAUSE` (async) after the submit is refused (the
/// first request may still be in flight at the vendor). Keeps the key, task id and request;
/// not the operation, the scope it was sent under or the last attempt (`None`: the submit
/// time).
pub fn backdated(e: &voiceclone::Error, age: Duration) -> voiceclone::Error {
    match e.kind().clone() {
        voiceclone::ErrorKind::OutcomeUnknown {
            idempotency_key,
            task_id,
            submitted_at,
            request,
        } => voiceclone::Error::new(voiceclone::ErrorKind::OutcomeUnknown {
            idempotency_key,
            task_id,
            submitted_at: submitted_at - age,
            request,
        }),
        _ => panic!("not an outcome_unknown: {e}"),
    }
}

/// The refusal of a resend of an async VMEG create sent right after its submit's last attempt
/// (review 34 pass 5 #1): the submit's own `OutcomeUnknown`, never resubmittable, saying when
/// to resend, `retry_after()` the time left, at most `KEYED_CREATE_REPEAT_PAUSE`. The caller
/// checks that nothing was sent, then gets past the pause with [`backdated`] (or waits the
/// returned time, which the pause is read against the system clock for).
pub fn refused_for_the_pause(e: &voiceclone::Error) -> Duration {
    assert!(
        matches!(e.kind(), voiceclone::ErrorKind::OutcomeUnknown { .. }),
        "not refused for the pause: {e}"
    );
    assert!(!e.may_resubmit(), "{e}");
    assert!(e.to_string().contains("resend after"), "{e}");
    let left = e.retry_after().unwrap_or_default();
    assert!(
        !left.is_zero() && left <= voiceclone::KEYED_CREATE_REPEAT_PAUSE,
        "{left:?}: {e}"
    );
    left
}
