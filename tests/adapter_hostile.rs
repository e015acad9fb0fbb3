//! A hostile, broken or merely odd server (issue "Hardening the client"): answers to writes
//! that might have created a task never end as a resend or a plain failure; ids survive
//! exactly; the key never comes back out; bodies are bounded.

use crate::adapter_support::{SECRET_KEY, client};
use serde_json::{Value, json};
use voiceclone::{Client, CloneRequest, ErrorKind, JobId, Provider, SpeechRequest};
use workspace_tests::scripted::{Scripted, Step};

fn write_request(provider: Provider) -> CloneRequest {
    match provider {
        Provider::Vmeg => {
            CloneRequest::new("https://cdn.example.com/sample.wav?sig=SECRET").name("hostile")
        }
        _ => CloneRequest::new("https://cdn.example.com/sample.mp3?sig=SECRET")
            .sample_text("Private preview words."),
    }
}

fn success(provider: Provider, data: Value) -> Value {
    match provider {
        Provider::Vmeg => json!({"code": 200, "message": "", "data": data}),
        _ => json!({"code": 20000, "msg": "ok", "data": data}),
    }
}

fn id_field(provider: Provider) -> &'static str {
    match provider {
        Provider::Vmeg => "taskId",
        _ => "id",
    }
}

/// Both writes of a provider: clone and speech.
async fn writes(c: &Client) -> Vec<voiceclone::Error> {
    let mut out = Vec::new();
    if let Err(e) = c.clone_voice(&write_request(c.provider())).await {
        out.push(e);
    }
    if let Err(e) = c
        .synthesize(&SpeechRequest::new(
            "voice-1",
            "Some private words to speak.",
        ))
        .await
    {
        out.push(e);
    }
    out
}

/// The error is `OutcomeUnknown` with what finds the job, and none of the free text or URL
/// queries of the request.
fn assert_unknown_with_reconciliation(
    provider: Provider,
    e: &voiceclone::Error,
    task: Option<&str>,
    case: &str,
) {
    let text = format!("{e} {e:?}");
    match e.kind() {
        ErrorKind::OutcomeUnknown {
            idempotency_key,
            task_id,
            request,
            ..
        } => {
            assert_eq!(
                idempotency_key.is_some(),
                provider == Provider::Vmeg,
                "{case}: {text}"
            );
            assert_eq!(task_id.as_ref().map(JobId::as_str), task, "{case}: {text}");
            assert_eq!(request.method, "POST", "{case}");
            assert!(!request.fields.is_empty(), "{case}: {text}");
        }
        other => panic!("{provider} {case}: expected OutcomeUnknown, got {other:?}: {text}"),
    }
    for private in ["SECRET", "Private preview", "private words"] {
        assert!(
            !text.contains(private),
            "{case}: {private} quoted in {text}"
        );
    }
}

#[tokio::test]
async fn a_2xx_without_a_usable_id_is_outcome_unknown_never_resent() {
    for provider in Provider::ALL {
        let idf = id_field(provider);
        let bodies: Vec<(&str, Value)> = vec![
            ("missing", success(provider, json!({}))),
            ("empty", success(provider, json!({ idf: "" }))),
            ("blank", success(provider, json!({ idf: "  \t " }))),
            ("bool", success(provider, json!({ idf: true }))),
            ("object", success(provider, json!({ idf: {"a": 1} }))),
            ("array", success(provider, json!({ idf: ["t-1"] }))),
            ("null", success(provider, json!({ idf: null }))),
            ("control", success(provider, json!({ idf: "t\u{1b}[2J" }))),
            ("data null", success(provider, Value::Null)),
            ("data string", success(provider, json!("t-1"))),
            ("data empty string", success(provider, json!(""))),
            ("data empty list", success(provider, json!([]))),
            ("data number", success(provider, json!(5))),
            ("the key", success(provider, json!({ idf: SECRET_KEY }))),
        ];
        for (case, body) in bodies {
            let server = Scripted::start(vec![Step::ok(body.clone()), Step::ok(body)]).await;
            let (c, _) = client(provider, &server.base_url);
            let errors = writes(&c).await;
            assert_eq!(errors.len(), 2, "{provider} {case}: a write succeeded");
            for e in &errors {
                assert_unknown_with_reconciliation(provider, e, None, case);
            }
            assert_eq!(server.seen().len(), 2, "{provider} {case}: resent");
        }
    }
}

/// An answer to a create whose `code` is missing, null or not a number, but whose `data`
/// names the task: the task may be made and billed, and JimmyAI has no list to find it by,
/// so its id rides on the `OutcomeUnknown`, sent once.
#[tokio::test]
async fn a_create_answer_without_a_readable_code_keeps_the_task_it_names() {
    for provider in Provider::ALL {
        let idf = id_field(provider);
        let data = json!({ idf: "t-1", "status": "queued" });
        let bodies: Vec<(&str, Value)> = vec![
            ("absent", json!({"msg": "ok", "data": data})),
            ("null", json!({"code": null, "msg": "ok", "data": data})),
            ("word", json!({"code": "ok", "msg": "ok", "data": data})),
            ("bool", json!({"code": true, "msg": "ok", "data": data})),
        ];
        for (case, body) in bodies {
            for status in [200u16, 502] {
                let case = format!("{case} under HTTP {status}");
                let steps = (0..8).map(|_| Step::status(status, body.clone())).collect();
                let server = Scripted::start(steps).await;
                let (c, _) = client(provider, &server.base_url);
                let e = c
                    .clone_voice(&write_request(provider))
                    .await
                    .expect_err("a create without a readable code succeeded");
                assert_unknown_with_reconciliation(provider, &e, Some("t-1"), &case);
                if let ErrorKind::OutcomeUnknown { task_id, .. } = e.kind() {
                    let typed = format!("{provider}:clone:t-1");
                    let shown = task_id.as_ref().map(ToString::to_string);
                    assert_eq!(shown.as_deref(), Some(typed.as_str()), "{provider} {case}");
                }
                assert_eq!(server.seen().len(), 1, "{provider} {case}: resent");
            }
        }
    }
}

/// A status answer with `code: null` is as unreadable as one without `code`: a wait polls
/// past it, as it does past a proxy's page, instead of ending at once.
#[tokio::test]
async fn a_wait_polls_past_a_null_code_as_past_a_missing_one() {
    for body in [
        json!({"code": null, "message": "", "data": {}}),
        json!({"message": "", "data": {}}),
    ] {
        let server = Scripted::start(vec![
            Step::ok(body.clone()),
            Step::ok(json!({"code": 200, "message": "", "data": {
                "taskId": "t-1", "status": "finished", "result": {"voiceId": "cv_1"}
            }})),
        ])
        .await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let voice = c
            .wait_for_clone(
                &JobId::new("t-1"),
                &crate::adapter_support::fast_wait(Provider::Vmeg),
            )
            .await
            .unwrap_or_else(|e| panic!("{body}: {e:?}"));
        assert_eq!(voice.id, "cv_1", "{body}");
        assert_eq!(server.seen().len(), 2, "{body}");
    }
}

/// A 2xx other than 200 is not the generated clients' answer type (it arrives as an
/// unexpected response, read as bytes); its success envelope is still a success, its `data`
/// the call's result, sent once.
#[tokio::test]
async fn a_success_envelope_under_another_2xx_status_is_a_success() {
    for provider in Provider::ALL {
        for status in [201, 202] {
            let body = success(provider, json!({ id_field(provider): "t-2xx" }));
            let server = Scripted::start(vec![Step::status(status, body)]).await;
            let (c, _) = client(provider, &server.base_url);
            let job = c
                .clone_voice(&write_request(provider))
                .await
                .unwrap_or_else(|e| panic!("{provider} {status}: {e:?}"));
            assert_eq!(job.id.as_str(), "t-2xx", "{provider} {status}");
            assert_eq!(server.seen().len(), 1, "{provider} {status}: resent");
        }
    }
}

#[tokio::test]
async fn an_unreadable_2xx_answer_to_a_write_is_outcome_unknown() {
    for provider in Provider::ALL {
        for (case, raw) in [
            ("html", "<html>ok</html>"),
            ("truncated json", "{\"code\":200,\"data\":{\"taskId\":\"t"),
            ("empty", ""),
        ] {
            let server = Scripted::start(vec![Step::Raw(200, raw), Step::Raw(200, raw)]).await;
            let (c, _) = client(provider, &server.base_url);
            for e in writes(&c).await {
                assert_unknown_with_reconciliation(provider, &e, None, case);
            }
            assert_eq!(server.seen().len(), 2, "{provider} {case}: resent");
        }
    }
}

/// A redirect answered to a create, with no envelope (a framework's POST/redirect/GET after
/// it made the task, a proxy): the write may have landed, so it is `OutcomeUnknown`, sent
/// once, never a plain failure a caller (or the CLI's long-text rerun) would send again
/// under a new key. 307 and 308 ("send it there instead") say it was not acted on. Before:
/// `InvalidResponse`, phase `Answered`, nothing to reconcile with.
#[tokio::test]
async fn a_redirect_answer_to_a_write_is_outcome_unknown() {
    for provider in Provider::ALL {
        for status in [301u16, 302, 303] {
            for (case, raw) in [("empty", ""), ("html", "<html>moved</html>")] {
                let case = format!("HTTP {status} {case}");
                let server = Scripted::start(vec![
                    Step::Json(status, vec![("Location", "/elsewhere".into())], json!(null)),
                    Step::Raw(status, raw),
                ])
                .await;
                let (c, _) = client(provider, &server.base_url);
                for e in writes(&c).await {
                    assert_unknown_with_reconciliation(provider, &e, None, &case);
                }
                assert_eq!(server.seen().len(), 2, "{provider} {case}: resent");
            }
        }
        for status in [307u16, 308] {
            let server = Scripted::start(vec![Step::Raw(status, ""), Step::Raw(status, "")]).await;
            let (c, _) = client(provider, &server.base_url);
            for e in writes(&c).await {
                assert_eq!(
                    e.kind(),
                    &ErrorKind::InvalidResponse,
                    "{provider} {status}: {e}"
                );
            }
        }
    }
}

/// A create answered with a status no HTTP class covers (600-999: hyper reads any three
/// digits) and no envelope: nothing says the request was not acted on, so it is
/// `OutcomeUnknown` with what finds the task, sent once. Before: a plain `InvalidResponse`
/// (review 25-a #3), with no key, time or request to reconcile with, and `may_resubmit()`
/// false.
#[tokio::test]
async fn a_write_answered_with_an_unclassed_status_is_outcome_unknown() {
    for provider in Provider::ALL {
        for status in [600u16, 799, 999] {
            for (case, raw) in [("empty", ""), ("html", "<html>?</html>")] {
                let case = format!("HTTP {status} {case}");
                let server =
                    Scripted::start(vec![Step::Raw(status, raw), Step::Raw(status, raw)]).await;
                let (c, _) = client(provider, &server.base_url);
                for e in writes(&c).await {
                    assert_unknown_with_reconciliation(provider, &e, None, &case);
                }
                assert_eq!(server.seen().len(), 2, "{provider} {case}: resent");
            }
        }
    }
}

#[tokio::test]
async fn a_non_2xx_carrying_the_success_code_and_an_id_is_outcome_unknown_with_the_id() {
    for provider in Provider::ALL {
        let idf = id_field(provider);
        for status in [429u16, 500, 502, 503, 302, 404, 409] {
            let body = success(provider, json!({ idf: "t-77", "status": "queued" }));
            let server = Scripted::start(vec![
                Step::Json(status, vec![("Retry-After", "0".into())], body.clone()),
                Step::Json(status, vec![("Retry-After", "0".into())], body),
            ])
            .await;
            let (c, sleeper) = client(provider, &server.base_url);
            let errors = writes(&c).await;
            assert_eq!(
                errors.len(),
                2,
                "{provider} HTTP {status}: Ok from a non-2xx"
            );
            for e in &errors {
                assert_unknown_with_reconciliation(
                    provider,
                    e,
                    Some("t-77"),
                    &format!("HTTP {status}"),
                );
            }
            assert_eq!(
                server.seen().len(),
                2,
                "{provider} HTTP {status}: a write claiming success was resent"
            );
            assert!(sleeper.sleeps().is_empty(), "{provider} {status}: retried");
        }
    }
}

#[tokio::test]
async fn ids_beyond_u64_keep_their_exact_text() {
    const BIG: &str = "123456789012345678901234567890123";
    // Written as text: a `serde_json::Value` would itself round the number through `f64`.
    let raw = |body: String| Step::Raw(200, Box::leak(body.into_boxed_str()));
    // VMEG: async create, then a status naming a voice with a big numeric id.
    let server = Scripted::start(vec![
        raw(format!(r#"{{"code":200,"data":{{"taskId":{BIG}}}}}"#)),
        raw(format!(
            r#"{{"code":200,"data":{{"status":"finished","result":{{"taskId":{BIG},"voiceId":{BIG}}}}}}}"#
        )),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let job = c.clone_voice(&write_request(Provider::Vmeg)).await.unwrap();
    assert_eq!(job.id.as_str(), BIG);
    let done = c.clone_status(&job.id).await.unwrap();
    assert_eq!(
        done.voice.map(|v| v.id.as_str().to_owned()),
        Some(BIG.to_owned())
    );
    assert_eq!(
        server.seen().get(1).map(|s| s
            .query
            .split('&')
            .filter(|p| !p.starts_with("req_id="))
            .collect::<Vec<_>>()
            .join("&")),
        Some(format!("taskId={BIG}")),
        "the exact id goes back on the wire"
    );

    // JimmyAI: create and status with big numeric task and model ids.
    let server = Scripted::start(vec![
        raw(format!(
            r#"{{"code":20000,"data":{{"id":{BIG},"status":"queued"}}}}"#
        )),
        raw(format!(
            r#"{{"code":"20000","data":{{"id":{BIG},"status":"completed","modelId":{BIG}}}}}"#
        )),
    ])
    .await;
    let (c, _) = client(Provider::JimmyAi, &server.base_url);
    let job = c
        .clone_voice(&write_request(Provider::JimmyAi))
        .await
        .unwrap();
    assert_eq!(job.id.as_str(), BIG);
    let done = c.clone_status(&job.id).await.unwrap();
    assert_eq!(done.id.as_str(), BIG);
    assert_eq!(
        done.voice.map(|v| v.id.as_str().to_owned()),
        Some(BIG.to_owned())
    );
}

#[tokio::test]
async fn webhook_payload_ids_keep_their_exact_text() {
    use hmac::{Hmac, Mac};
    const BIG: &str = "98765432109876543210987654321";
    let body = format!(
        r#"{{"code":200,"event":"openapi-clone-voice","pipelineKey":{BIG},"data":{{"taskId":{BIG},"voiceId":{BIG}}}}}"#
    );
    let now = std::time::SystemTime::now();
    let ts = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"whsec-big-ids").unwrap();
    mac.update(ts.as_bytes());
    mac.update(body.as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    let event = voiceclone::webhook::Verifier::new(voiceclone::WebhookSecret::new("whsec-big-ids"))
        .verify_at(&ts, &sig, body.as_bytes(), now)
        .unwrap();
    assert_eq!(event.pipeline_key, BIG);
    match event.payload {
        voiceclone::webhook::WebhookPayload::Clone(job) => {
            assert_eq!(job.id.as_str(), BIG);
            assert_eq!(
                job.voice.map(|v| v.id.as_str().to_owned()),
                Some(BIG.to_owned())
            );
        }
        other => panic!("expected a clone payload, got {other:?}"),
    }
}

/// Every 8-character piece of the key, for "never shows up" checks.
pub fn key_pieces(key: &str) -> Vec<String> {
    let b: Vec<char> = key.chars().collect();
    b.windows(8).map(|w| w.iter().collect()).collect()
}

/// `text` with every `\uXXXX` decoded (however many backslashes a `Debug` added before the
/// `u`), so that a key spelled with JSON escapes is found too.
fn decode_u_escapes(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let after = rest[at..].trim_start_matches('\\');
        let hex = after.strip_prefix(['u', 'U']).and_then(|h| h.get(..4));
        match hex
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .and_then(char::from_u32)
        {
            Some(c) => {
                out.push(c);
                rest = &after[5..];
            }
            None => {
                out.push('\\');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

pub fn assert_no_key_piece(text: &str, key: &str, context: &str) {
    let lower = decode_u_escapes(text).to_ascii_lowercase();
    for piece in key_pieces(key) {
        assert!(
            !lower.contains(&piece.to_ascii_lowercase()),
            "{context}: a piece of the key ({piece:?}) shows in: {text}"
        );
    }
}

#[tokio::test]
async fn a_key_echoed_anywhere_never_comes_back_out() {
    let k = SECRET_KEY;
    let cut = &k[..12];
    let escaped: String = k.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
    for provider in Provider::ALL {
        // Error messages: whole, cut, upper-cased, JSON-escaped, in an HTML page.
        let code = match provider {
            Provider::Vmeg => 400,
            _ => 20002,
        };
        let msg_field = match provider {
            Provider::Vmeg => "message",
            _ => "msg",
        };
        let raw_escaped = format!(r#"{{"code":{code},"{msg_field}":"bad {escaped}"}}"#);
        let raw_escaped: &'static str = Box::leak(raw_escaped.into_boxed_str());
        let html: &'static str =
            Box::leak(format!("<html>{}{k}</html>", "x".repeat(290)).into_boxed_str());
        // No readable code: the body itself is quoted, so its escapes must be decoded first.
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let no_code = leak(format!(r#"{{"code":"x","{msg_field}":"bad {escaped}"}}"#));
        let no_envelope = leak(format!(r#"{{"error":"{escaped}"}}"#));
        let cut_short = leak(format!(r#"{{"error":"{escaped}"#));
        for step in [
            Step::status(
                400,
                json!({"code": code, msg_field: format!("bad key {k}")}),
            ),
            Step::status(
                400,
                json!({"code": code, msg_field: format!("{}{cut}", "y".repeat(495))}),
            ),
            Step::status(400, json!({"code": code, msg_field: k.to_uppercase()})),
            Step::Raw(400, raw_escaped),
            Step::Raw(502, html),
            Step::Raw(400, no_code),
            Step::Raw(502, no_envelope),
            Step::Raw(200, no_envelope),
            Step::Raw(502, cut_short),
        ] {
            let server = Scripted::start(vec![step.clone(); 8]).await;
            let (c, _) = client(provider, &server.base_url);
            let e = c.clone_status(&JobId::new("t-1")).await.unwrap_err();
            assert_no_key_piece(&format!("{e} {e:?}"), k, &format!("{provider} {step:?}"));
        }
        // Values of a successful answer: status word, failure reason, names, URLs.
        let idf = id_field(provider);
        let data = match provider {
            Provider::Vmeg => json!({"status": format!("st-{k}"), "result": {
                idf: "t-1", "voiceId": "v-1", "voiceName": format!("n-{k}"),
                "errorMessage": format!("r-{k}")}}),
            _ => json!({idf: "t-1", "status": format!("st-{k}"),
                "modelId": "m-1", "audioUrl": format!("https://x.example/{k}.mp3"),
                "error": format!("r-{k}")}),
        };
        let server = Scripted::start(vec![Step::ok(success(provider, data))]).await;
        let (c, _) = client(provider, &server.base_url);
        let job = c.clone_status(&JobId::new("t-1")).await.unwrap();
        assert_no_key_piece(&format!("{job:?}"), k, &format!("{provider} job"));
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_abandoned_and_a_write_is_outcome_unknown() {
    for provider in Provider::ALL {
        let idf = id_field(provider);
        let padding = "p".repeat(4096);
        let big = success(provider, json!({ idf: "t-1", "pad": padding }));
        let server = Scripted::start(vec![
            Step::ok(big.clone()),
            Step::ok(big.clone()),
            Step::status(500, big),
        ])
        .await;
        let c = voiceclone::Client::builder(provider)
            .api_key(SECRET_KEY)
            .base_url(server.base_url.as_str())
            .max_response_bytes(2048)
            .sleeper(std::sync::Arc::new(voiceclone::RecordingSleeper::new()))
            .build()
            .unwrap();
        let e = c.clone_voice(&write_request(provider)).await.unwrap_err();
        assert_unknown_with_reconciliation(provider, &e, None, "oversized 200");
        let e = c.clone_status(&JobId::new("t-1")).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidResponse, "{e}");
        assert!(e.to_string().contains("larger than 2048 bytes"), "{e}");
        let e = c
            .synthesize(&SpeechRequest::new(
                "voice-1",
                "Some private words to speak.",
            ))
            .await
            .unwrap_err();
        assert_unknown_with_reconciliation(provider, &e, None, "oversized 500");
        assert_eq!(server.seen().len(), 3, "{provider}: nothing resent");
    }
}

/// Review 34-d #5: an answer with several `Retry-After` headers (a CDN's `0` ahead of the
/// origin's `3`), or one folded list (`3, 3`), is paced by its longest wait. Before, only the
/// first header was read (a pause of 0), and a folded list read as none.
#[tokio::test]
async fn several_retry_after_headers_pace_the_retry_by_the_longest() {
    let busy = json!({"code": 503, "message": "busy", "data": null});
    let detail = json!({"code": 200, "message": "", "data": {
        "taskId": "t-1", "taskType": "cloneVoice", "status": "running"}});
    for headers in [
        vec![
            ("retry-after", "0".to_owned()),
            ("retry-after", "3".to_owned()),
        ],
        vec![("retry-after", "3, 3".to_owned())],
    ] {
        let server = Scripted::start(vec![
            Step::Json(503, headers.clone(), busy.clone()),
            Step::ok(detail.clone()),
        ])
        .await;
        let (c, sleeper) = client(Provider::Vmeg, &server.base_url);
        c.clone_status(&JobId::new("t-1")).await.unwrap();
        assert_eq!(
            sleeper.sleeps(),
            vec![std::time::Duration::from_secs(3)],
            "{headers:?}"
        );
    }
}
