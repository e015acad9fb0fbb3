//! A hostile-server review of the paths that create paid jobs and find them again: each test
//! names the scenario it attacks and failed on the code before its fix. Loopback only.

use crate::adapter_support::client;
use serde_json::json;
use voiceclone::{CloneRequest, ErrorKind, Provider, SpeechRequest};
use workspace_tests::scripted::{Scripted, Step};

fn err(http: u16, code: i64, message: &str) -> Step {
    Step::status(
        http,
        json!({"code": code, "message": message, "data": null}),
    )
}

fn clone_req() -> CloneRequest {
    CloneRequest::new("https://cdn.example.com/sample.wav").name("narrator")
}

/// A VMEG write whose first attempt may have landed (connection dropped after the request
/// was sent, a 502, a 504) and whose retry (same key) then fails with an answer the table
/// does not retry (500, 400, 401, 402, a business error in a 200): the first attempt's
/// outcome is still unknown, so the call must end as `OutcomeUnknown` with the key, never
/// as a plain `Server` ("try again later", which a caller does with a new key and pays
/// twice) or `InvalidRequest`.
#[tokio::test]
async fn a_plain_failure_after_an_attempt_that_may_have_landed_is_outcome_unknown() {
    let maybe_landed = [
        Step::Drop,
        err(502, 502, "upstream"),
        err(504, 504, "gateway timeout"),
    ];
    let then_fail = [
        err(500, 500, "boom"),
        err(400, 400, "bad request"),
        err(401, 401, "Invalid or missing API Key"),
        err(402, 402, "insufficient credits"),
        err(200, 500, "boom inside a 200"),
    ];
    for first in &maybe_landed {
        for second in &then_fail {
            for speech in [false, true] {
                let server = Scripted::start(vec![first.clone(), second.clone()]).await;
                let (c, _) = client(Provider::Vmeg, &server.base_url);
                let e = if speech {
                    c.synthesize(&SpeechRequest::new("sv_en_us_female_01", "Hello."))
                        .await
                        .unwrap_err()
                } else {
                    c.clone_voice(&clone_req()).await.unwrap_err()
                };
                let seen = server.seen();
                assert_eq!(seen.len(), 2, "{first:?} then {second:?}: never a third");
                let key = seen[0].header("x-idempotency-key").unwrap().to_string();
                assert_eq!(seen[1].header("x-idempotency-key"), Some(key.as_str()));
                match e.kind() {
                    ErrorKind::OutcomeUnknown {
                        idempotency_key, ..
                    } => assert_eq!(idempotency_key.as_deref(), Some(key.as_str())),
                    other => panic!(
                        "{first:?} then {second:?} (speech {speech}): expected OutcomeUnknown with the key, got {other:?}: {e}"
                    ),
                }
            }
        }
    }
}
