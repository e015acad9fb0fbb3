//! The adapter against VMEG's dialect, on a scripted loopback server.

use crate::adapter_support::{
    FORGED_LINE, SECRET_KEY, assert_no_forged_or_huge_line, capture_logs, client, fast_wait,
    folded_failure_reason, megabyte_word,
};
use serde_json::{Value, json};
use std::time::Duration;
use voiceclone::{CloneRequest, ErrorKind, JobId, Provider, SpeechRequest, TaskStatus, VmegEngine};
use workspace_tests::scripted::{Scripted, Step};

fn ok(data: Value) -> Step {
    Step::ok(json!({"code": 200, "message": "", "data": data}))
}

fn accepted(task: &str) -> Step {
    ok(json!({"taskId": task, "createdAt": "2026-11-21T00:00:00Z"}))
}

fn err(http: u16, code: i64, message: &str) -> Step {
    Step::status(
        http,
        json!({"code": code, "message": message, "data": null}),
    )
}

fn detail(task: &str, status: &str, result: Value) -> Step {
    ok(json!({"taskId": task, "taskType": "cloneVoice", "status": status, "result": result}))
}

/// A synchronous create: a clone (`what` is "sync clone") or `speech`.
async fn sync_create(
    c: &voiceclone::Client,
    what: &str,
    speech: &SpeechRequest,
) -> Result<(), voiceclone::Error> {
    if what == "sync clone" {
        c.clone_voice(&clone_req().synchronous(true))
            .await
            .map(drop)
    } else {
        c.synthesize(&speech.clone().synchronous(true))
            .await
            .map(drop)
    }
}

fn clone_req() -> CloneRequest {
    CloneRequest::new("https://cdn.example.com/sample.wav")
        .name("narrator")
        .language("en-US")
        .vmeg_engine(VmegEngine::V2)
}

#[tokio::test]
async fn async_clone_sends_one_key_as_header_and_in_extra_data() {
    let server = Scripted::start(vec![accepted("t-1")]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let job = c.clone_voice(&clone_req()).await.unwrap();
    assert_eq!(
        job.id,
        JobId::typed(Provider::Vmeg, voiceclone::JobKind::Clone, "t-1")
    );
    assert!(!job.status.is_terminal());
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!(req.path, "/openapi/v1/task/clone-voice/create-async");
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {SECRET_KEY}").as_str())
    );
    let key = req.header("x-idempotency-key").unwrap().to_string();
    assert!(!key.is_empty() && key.len() <= 64);
    let body = req.json();
    assert_eq!(
        body["extraData"]["voiceclone"]["idempotencyKey"],
        json!(key)
    );
    assert_eq!(body["provider"], "V2");
    assert_eq!(body["refAudio"], "https://cdn.example.com/sample.wav");
    assert_eq!(body["sampleLanguage"], "en-US");
    assert_eq!(job.idempotency_key.as_deref(), Some(key.as_str()));
}

#[tokio::test]
async fn a_caller_key_is_used_as_given() {
    let server = Scripted::start(vec![accepted("t-1")]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    c.clone_voice(&clone_req().idempotency_key("order-42"))
        .await
        .unwrap();
    assert_eq!(
        server.seen()[0].header("x-idempotency-key"),
        Some("order-42")
    );
}

#[tokio::test]
async fn sync_clone_returns_a_succeeded_job_with_its_voice() {
    let server = Scripted::start(vec![ok(
        json!({"taskId": "t-9", "voiceId": "cv_9", "createdAt": "2026-11-21T00:00:00Z"}),
    )])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let job = c.clone_voice(&clone_req().synchronous(true)).await.unwrap();
    assert_eq!(job.status, TaskStatus::Succeeded);
    assert_eq!(job.voice.unwrap().id, "cv_9");
    assert_eq!(server.seen()[0].path, "/openapi/v1/task/clone-voice/create");
}

/// VMEG's schema does not mark `taskId` required in a synchronous answer (api-facts A7,
/// A13; its description says "(async clone)"): an answer carrying the result (a clone's
/// `voiceId`, speech with an audio URL) and no `taskId` is the finished job, under an id that
/// names no task, which every later call refuses with nothing sent (no poll of a made-up
/// id). An answer carrying neither is still `OutcomeUnknown`, sent once. Before, both
/// answers were `OutcomeUnknown`: a paid voice thrown away.
#[tokio::test]
async fn a_sync_answer_with_its_result_but_no_task_id_is_the_finished_job() {
    let server = Scripted::start(vec![ok(json!({"voiceId": "cv_9"}))]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let job = c.clone_voice(&clone_req().synchronous(true)).await.unwrap();
    assert_eq!(server.seen().len(), 1);
    assert_eq!(job.status, TaskStatus::Succeeded);
    assert_eq!(job.voice.as_ref().unwrap().id, "cv_9");
    assert!(job.id.names_no_task(), "{}", job.id);
    assert!(job.idempotency_key.is_some());
    // The id round-trips through its stored form, and no call sends it.
    let stored: JobId = job.id.to_string().parse().unwrap();
    assert_eq!(stored, job.id);
    for e in [
        c.clone_status(&job.id).await.unwrap_err(),
        c.wait_for_clone(&job.id, &fast_wait(Provider::Vmeg))
            .await
            .unwrap_err(),
        c.task(&stored).await.unwrap_err(),
        c.delete_task(&stored).await.unwrap_err(),
    ] {
        assert!(
            matches!(e.kind(), ErrorKind::InvalidInput { field, reason } if field == "job_id" && reason.contains("names no task")),
            "{e}"
        );
    }
    assert_eq!(server.seen().len(), 1, "nothing sent for the id");

    let speech = SpeechRequest::new("cv_1", "Hello").synchronous(true);
    let server = Scripted::start(vec![ok(json!({
        "results": [{"uri": "https://cdn.example.com/a.m4a", "duration": 1.5}]
    }))])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let job = c.synthesize(&speech).await.unwrap();
    assert_eq!(server.seen().len(), 1);
    assert_eq!(job.status, TaskStatus::Succeeded);
    assert!(job.id.names_no_task(), "{}", job.id);
    assert_eq!(
        job.speech.unwrap().audio_urls[0].as_str(),
        "https://cdn.example.com/a.m4a"
    );
    let e = c.speech_status(&job.id).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidInput { .. }), "{e}");
    assert_eq!(server.seen().len(), 1);

    // Neither a task nor a result (a voice id that cannot be used, lines that all failed):
    // no job to build, and the create may have been billed.
    for (sync_clone, data) in [
        (true, json!({"voiceId": "a/b"})),
        (true, json!({})),
        (false, json!({"results": [{"errorMessage": "bad voice"}]})),
    ] {
        let server = Scripted::start(vec![ok(data.clone()), accepted("B")]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let e = if sync_clone {
            c.clone_voice(&clone_req().synchronous(true))
                .await
                .map(|_| ())
        } else {
            c.synthesize(&speech).await.map(|_| ())
        }
        .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }),
            "{data}: {e}"
        );
        assert_eq!(server.seen().len(), 1, "{data}");
    }
}

#[tokio::test]
async fn retries_of_a_write_reuse_the_same_idempotency_key() {
    let server = Scripted::start(vec![
        err(502, 502, "upstream"),
        Step::Drop,
        err(503, 503, "busy"),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let e = c.clone_voice(&clone_req()).await.unwrap_err();
    let seen = server.seen();
    assert_eq!(seen.len(), 3, "3 attempts allowed");
    let keys: Vec<_> = seen
        .iter()
        .map(|s| s.header("x-idempotency-key").unwrap().to_string())
        .collect();
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
    let bodies: Vec<_> = seen.iter().map(|s| s.json()).collect();
    assert!(bodies.iter().all(|b| *b == bodies[0]));
    // Attempts that may have landed (a 502, a drop) and run out: an unknown outcome with the
    // key sent, never `Server`, which a caller repeats under a new key (review 30-e #5).
    match e.kind() {
        ErrorKind::OutcomeUnknown {
            idempotency_key: Some(k),
            ..
        } => assert_eq!(*k, keys[0], "{e}"),
        other => panic!("expected OutcomeUnknown with the key, got {other:?}: {e}"),
    }

    // A 429 with `Retry-After`: retried after it, with the same key (a new one would make
    // the retry new work, and a second bill if the first had landed).
    let server = Scripted::start(vec![
        Step::Json(
            429,
            vec![("retry-after", "1".into())],
            json!({"code": 429, "message": "too many requests", "data": null}),
        ),
        accepted("t-1"),
    ])
    .await;
    let (c, sleeper) = client(Provider::Vmeg, &server.base_url);
    let job = c.clone_voice(&clone_req()).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "the 429, then the retry");
    let keys: Vec<_> = seen
        .iter()
        .map(|s| s.header("x-idempotency-key").unwrap().to_string())
        .collect();
    assert_eq!(keys[0], keys[1], "{keys:?}");
    assert_eq!(job.idempotency_key.as_deref(), Some(keys[0].as_str()));
    assert!(
        sleeper
            .sleeps()
            .first()
            .is_some_and(|d| *d >= Duration::from_secs(1)),
        "the retry waited the Retry-After: {:?}",
        sleeper.sleeps()
    );
}

#[tokio::test]
async fn transient_failures_then_success() {
    let server = Scripted::start(vec![
        err(503, 503, "busy"),
        err(504, 504, "gateway timeout"),
        accepted("t-2"),
    ])
    .await;
    let (c, sleeper) = client(Provider::Vmeg, &server.base_url);
    let job = c.clone_voice(&clone_req()).await.unwrap();
    assert_eq!(job.id.as_str(), "t-2");
    assert_eq!(sleeper.sleeps().len(), 2, "one backoff per retry");
}

/// A VMEG async create answered with a repeated top-level key (`message` twice) or with a
/// `message` that is not UTF-8: the envelope does not parse, but the unknown outcome still
/// names the task `data` holds, beside its idempotency key. Before, only the key was kept.
#[tokio::test]
async fn an_async_create_answer_whose_envelope_does_not_parse_keeps_the_task_id() {
    let repeated = br#"{"code":200,"message":"","data":{"taskId":"t-7"},"message":""}"#.to_vec();
    let mut latin1 = br#"{"code":200,"message":"d"#.to_vec();
    latin1.push(0xE9);
    latin1.extend_from_slice(br#"j","data":{"taskId":"t-7"}}"#);
    for body in [repeated, latin1] {
        let what = String::from_utf8_lossy(&body).into_owned();
        let server = Scripted::start(vec![Step::Bytes(200, body)]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let e = c.clone_voice(&clone_req()).await.unwrap_err();
        match e.kind() {
            ErrorKind::OutcomeUnknown {
                task_id,
                idempotency_key,
                ..
            } => {
                assert_eq!(
                    task_id.as_ref().map(JobId::as_str),
                    Some("t-7"),
                    "{what}: {e}"
                );
                assert!(idempotency_key.is_some(), "{what}: {e}");
            }
            other => panic!("{what}: expected OutcomeUnknown, got {other:?}: {e}"),
        }
        assert_eq!(server.seen().len(), 1, "{what}: resent");
    }
}

#[tokio::test]
async fn conflict_after_our_own_retry_is_outcome_unknown_with_the_key() {
    let server = Scripted::start(vec![
        err(502, 502, "upstream timed out"),
        Step::Json(
            409,
            vec![("retry-after", "2".into())],
            json!({"code": 409, "message": "Idempotency key already used", "data": null}),
        ),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let e = c.clone_voice(&clone_req()).await.unwrap_err();
    let key = server.seen()[0]
        .header("x-idempotency-key")
        .unwrap()
        .to_string();
    match e.kind() {
        ErrorKind::OutcomeUnknown {
            idempotency_key, ..
        } => assert_eq!(idempotency_key.as_deref(), Some(key.as_str())),
        other => panic!("expected OutcomeUnknown, got {other:?}"),
    }
    assert_eq!(server.seen().len(), 2, "never a third attempt");
}

#[tokio::test]
async fn conflict_on_the_first_attempt_is_a_conflict() {
    let server = Scripted::start(vec![Step::Json(
        409,
        vec![("retry-after", "2".into())],
        json!({"code": 409, "message": "Idempotency key already used", "data": null}),
    )])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    // The caller's own key, reused. (A key the client made for the call cannot have been
    // used by anyone else: a 409 on it is `OutcomeUnknown`, see
    // `adapter_attack4.rs::a_conflict_on_a_key_the_client_made_is_outcome_unknown_with_the_key`.)
    let e = c
        .clone_voice(&clone_req().idempotency_key("order-42"))
        .await
        .unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::Conflict);
    assert_eq!(e.http_status(), Some(409));
    assert_eq!(e.vendor_code(), Some(409));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
/// VMEG: "reuse [the key] only when retrying the same intent after a timeout or unclear
/// 5xx". A 500 on a write is repeated under the same key (a task the 500 hid would answer the
/// repeat with 409, never be made twice); when every attempt gets one, the outcome is unknown
/// and the error carries the key: a `Server` error would invite a repeat under a new key,
/// which pays twice if the fault came after the task was made.
async fn server_error_500_on_a_write_is_retried_under_the_same_key() {
    // A CDN's 524 (the origin took too long after the request reached it) is as unclear.
    for boom in [
        err(500, 500, "boom"),
        err(200, 500, "boom inside a 200"),
        err(524, 524, "a timeout occurred"),
        // A status-like code VMEG's table lacks, inside a 200: read as that status.
        err(200, 524, "a timeout occurred inside a 200"),
        // An HTTP 503 whose body says 502, "an upstream step failed" (api-facts A3): the
        // body's status counts too.
        err(503, 502, "upstream failed"),
        // "Success or failure is decided by code": an HTTP 400 whose code says 524.
        err(400, 524, "a timeout occurred behind a 400"),
    ] {
        let server = Scripted::start(vec![boom.clone(), accepted("t-1")]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let job = c.clone_voice(&clone_req()).await.unwrap();
        assert_eq!(job.id.as_str(), "t-1");
        let seen = server.seen();
        assert_eq!(seen.len(), 2);
        let key = seen[0].header("x-idempotency-key").unwrap();
        assert_eq!(seen[1].header("x-idempotency-key"), Some(key));

        let server = Scripted::start(vec![boom.clone(), boom.clone(), boom.clone()]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let e = c.clone_voice(&clone_req()).await.unwrap_err();
        let seen = server.seen();
        assert_eq!(seen.len(), 3, "the policy's three attempts");
        let key = seen[0].header("x-idempotency-key").unwrap();
        assert!(
            seen.iter()
                .all(|s| s.header("x-idempotency-key") == Some(key))
        );
        match e.kind() {
            ErrorKind::OutcomeUnknown {
                idempotency_key, ..
            } => assert_eq!(idempotency_key.as_deref(), Some(key)),
            other => panic!("{boom:?} x3: expected OutcomeUnknown with the key, got {other:?}"),
        }
        assert!(!e.is_transient(), "never repeated blindly: {e}");

        // The 500 came after the task was made: the repeat meets the used key.
        let used = err(409, 409, "Idempotency key already used");
        let server = Scripted::start(vec![boom.clone(), used]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let e = c.clone_voice(&clone_req()).await.unwrap_err();
        assert_eq!(server.seen().len(), 2);
        assert!(
            matches!(
                e.kind(),
                ErrorKind::OutcomeUnknown {
                    idempotency_key: Some(_),
                    ..
                }
            ),
            "{e}"
        );
    }
}

/// VMEG's 502 "an upstream step failed": poll `tasks/detail` with the `taskId` (api-facts
/// A3). An answer to a create that names its task is never resent, not even under the same
/// key: whether a failed attempt uses up the key is UNKNOWN (A4), so a repeat may be taken as
/// new work and bill a second task (here `B`). The call ends at once as `OutcomeUnknown`
/// carrying the named task, typed like an accepted submit's id, for every create route.
/// Before, the create was repeated under its key and `Ok` with task `B` (two tasks billed).
#[tokio::test]
async fn a_create_failure_that_names_its_task_is_not_resent() {
    let named = || {
        Step::status(
            502,
            json!({"code": 502, "message": "upstream failed", "data": {"taskId": "A"}}),
        )
    };
    let speech = SpeechRequest::new("cv_1", "Hello");
    for (what, kind) in [
        ("async clone", voiceclone::JobKind::Clone),
        ("sync clone", voiceclone::JobKind::Clone),
        ("async speech", voiceclone::JobKind::Speech),
        ("sync speech", voiceclone::JobKind::Speech),
    ] {
        let server = Scripted::start(vec![named(), accepted("B")]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let e = match what {
            "async clone" => c.clone_voice(&clone_req()).await.map(|_| ()),
            "sync clone" => c
                .clone_voice(&clone_req().synchronous(true))
                .await
                .map(|_| ()),
            "async speech" => c.synthesize(&speech).await.map(|_| ()),
            _ => c
                .synthesize(&speech.clone().synchronous(true))
                .await
                .map(|_| ()),
        }
        .unwrap_err();
        assert_eq!(server.seen().len(), 1, "{what}: resent");
        match e.kind() {
            ErrorKind::OutcomeUnknown {
                task_id,
                idempotency_key,
                ..
            } => {
                assert_eq!(
                    task_id.as_ref().map(JobId::as_str),
                    Some("A"),
                    "{what}: {e}"
                );
                assert_eq!(
                    task_id.as_ref(),
                    Some(&JobId::typed(Provider::Vmeg, kind, "A"))
                );
                assert!(idempotency_key.is_some(), "{what}");
            }
            other => panic!("{what}: expected OutcomeUnknown, got {other:?}: {e}"),
        }
        assert!(!e.may_resubmit(), "{what}");
        let q = voiceclone::ReconcileQuery::from_error(&e).unwrap();
        assert_eq!(q.task_id.as_ref().map(JobId::as_str), Some("A"), "{what}");
    }
}

/// Review 35-d #1: a failure answer to a create whose `data` names a task id this crate cannot
/// use (`t/9`) names a task on every path: inside an HTTP 200 (the typed answer), behind a
/// refusal status (read as bytes) and without a `code`. The create ends `OutcomeUnknown`, sent
/// once (a 429 is not repeated under its key: whether a failed attempt used the key up is
/// UNKNOWN, api-facts A4), and the WARN line quotes the id. Before: inside a 200 the id was
/// dropped: a 402 was a refusal to resubmit and a 429 was resent.
#[tokio::test]
async fn a_failure_naming_an_unusable_task_id_on_a_create_is_an_unknown_outcome_sent_once() {
    let (logs, _guard) = capture_logs();
    let data = json!({"taskId": "t/9"});
    let cases = [
        (
            200,
            json!({"code": 402, "message": "Insufficient credits", "data": data}),
        ),
        (200, json!({"code": 400, "message": "bad", "data": data})),
        (200, json!({"code": 422, "message": "bad", "data": data})),
        (
            200,
            json!({"code": 429, "message": "slow down", "data": data}),
        ),
        (
            402,
            json!({"code": 402, "message": "Insufficient credits", "data": data}),
        ),
        (400, json!({"data": data})),
    ];
    let speech = SpeechRequest::new("cv_1", "Hello");
    for (status, body) in cases {
        for is_speech in [false, true] {
            let what = format!("HTTP {status} {body} speech={is_speech}");
            let server =
                Scripted::start(vec![Step::status(status, body.clone()), accepted("B")]).await;
            let (c, _) = client(Provider::Vmeg, &server.base_url);
            let _ = logs.take();
            let e = if is_speech {
                c.synthesize(&speech).await.map(drop)
            } else {
                c.clone_voice(&clone_req()).await.map(drop)
            }
            .unwrap_err();
            assert_eq!(server.seen().len(), 1, "{what}: resent");
            assert!(
                matches!(e.kind(), ErrorKind::OutcomeUnknown { task_id: None, .. }),
                "{what}: {e}"
            );
            assert!(!e.may_resubmit(), "{what}");
            let text = logs.take();
            assert!(
                text.lines().any(|l| l.contains(" WARN ")
                    && l.contains("write outcome unknown")
                    && l.contains(r#"named_task_id="t/9""#)),
                "{what}: {text}"
            );
        }
    }
}

/// Review 35-d #2: a refusal whose `data` gives the task id as `null`, `""` or blanks (a Java
/// backend filling the object) names no task: it stays the plain refusal the same answer
/// without `data` is, one to fix and resubmit, on every path. Before: read as answering with an
/// unusable id behind a 4xx, it was `OutcomeUnknown` ("it named null"), never resubmittable.
#[tokio::test]
async fn a_refusal_naming_a_null_or_blank_task_id_on_a_create_is_a_plain_refusal() {
    let speech = SpeechRequest::new("cv_1", "Hello");
    let refusals = [
        (Provider::Vmeg, 400, json!(400), "taskId"),
        (Provider::Vmeg, 200, json!(400), "taskId"),
        (Provider::Vmeg, 402, json!(402), "taskId"),
        (Provider::JimmyAi, 400, json!(20002), "id"),
    ];
    for (provider, status, code, field) in refusals {
        let answer = |data: Value| {
            let body = if provider == Provider::Vmeg {
                json!({"code": code, "message": "voiceId not found", "data": data})
            } else {
                json!({"code": code, "msg": "voiceId not found", "data": data})
            };
            Step::status(status, body)
        };
        let create = |c: voiceclone::Client| {
            let speech = speech.clone();
            async move {
                if provider == Provider::Vmeg {
                    c.synthesize(&speech).await.map(drop).unwrap_err()
                } else {
                    c.synthesize(&SpeechRequest::new("m-1", "Hi"))
                        .await
                        .map(drop)
                        .unwrap_err()
                }
            }
        };
        let server = Scripted::start(vec![answer(Value::Null)]).await;
        let (c, _) = client(provider, &server.base_url);
        let twin = create(c).await;
        assert!(twin.may_resubmit(), "{provider} HTTP {status}: {twin}");
        for id in [Value::Null, json!(""), json!("  ")] {
            let what = format!("{provider} HTTP {status} code {code} {field}={id}");
            let server = Scripted::start(vec![answer(json!({ field: id }))]).await;
            let (c, _) = client(provider, &server.base_url);
            let e = create(c).await;
            assert_eq!(e.kind(), twin.kind(), "{what}: {e}");
            assert!(e.may_resubmit(), "{what}: {e}");
            assert_eq!(server.seen().len(), 1, "{what}: resent");
        }
    }
}

/// Review 35 pass 2b #5: a refusal behind a refusal status (read as bytes) whose `data` gives
/// the task id as an object, a list or a bool (Mongo's `{"$oid": ...}`) names something: a
/// task this crate cannot use, never none. The create ends `OutcomeUnknown`, sent once (a 429
/// is not resent under its key), never resubmittable, and the WARN line says what was given
/// (an object, a list, a bool), never its JSON: an API key echoed there with `\u` escapes
/// would pass the text scrubber (pass 3 #2). Only `null` and blank strings name nothing.
/// Before: such an id was dropped, so a 402 was a refusal to resubmit (a second bill) and a
/// 429 was resent.
#[tokio::test]
async fn a_refusal_naming_a_task_id_of_another_json_type_is_an_unknown_outcome() {
    let (logs, _guard) = capture_logs();
    let refusals = [
        (Provider::Vmeg, 402, json!(402), "taskId"),
        (Provider::Vmeg, 429, json!(429), "taskId"),
        (Provider::Vmeg, 400, json!(400), "taskId"),
        (Provider::JimmyAi, 400, json!(20002), "id"),
    ];
    for (provider, status, code, field) in refusals {
        for (id, quoted) in [
            (json!({"$oid": "65f0aa"}), "(a JSON object)"),
            (json!(["t9"]), "(a JSON list)"),
            (json!(true), "(a JSON bool)"),
        ] {
            let what = format!("{provider} HTTP {status} code {code} {field}={id}");
            let body = if provider == Provider::Vmeg {
                json!({"code": code, "message": "refused", "data": { field: id }})
            } else {
                json!({"code": code, "msg": "refused", "data": { field: id }})
            };
            let server = Scripted::start(vec![Step::status(status, body), accepted("B")]).await;
            let (c, _) = client(provider, &server.base_url);
            let _ = logs.take();
            let model = if provider == Provider::Vmeg {
                "cv_1"
            } else {
                "m-1"
            };
            let e = c
                .synthesize(&SpeechRequest::new(model, "Hello"))
                .await
                .map(drop)
                .unwrap_err();
            assert_eq!(server.seen().len(), 1, "{what}: resent");
            assert!(
                matches!(e.kind(), ErrorKind::OutcomeUnknown { task_id: None, .. }),
                "{what}: {e}"
            );
            assert!(!e.may_resubmit(), "{what}: {e}");
            let text = logs.take();
            assert!(
                text.lines().any(|l| l.contains(" WARN ")
                    && l.contains("write outcome unknown")
                    && l.contains("named_task_id=")
                    && l.contains(quoted)),
                "{what}: {text}"
            );
            assert!(
                !text.contains("65f0aa") && !text.contains("[\\\"t9"),
                "{what}: the value's JSON was quoted: {text}"
            );
        }
    }
}

/// "A write counts as not processed only when both [the HTTP status and the status the body
/// `code` stands for] say so": a refusal code (400, 401, 402, 404, 413, 422) behind an HTTP
/// 500, 502 or 504 does not say the fault came before the task was made. An async create is
/// repeated under its key like any unclear 5xx and, still unsettled, ends `OutcomeUnknown`
/// with that key; a synchronous one (it may still be running) at once, sent once. Before: a
/// plain refusal with `may_resubmit()` true, sent once, and a resubmit could pay twice.
#[tokio::test]
async fn a_refusal_code_behind_a_5xx_that_may_have_landed_is_no_refusal_on_a_create() {
    for http in [500, 502, 504] {
        for code in [400, 401, 402, 404, 413, 422] {
            let what = format!("HTTP {http} code {code}");
            let refused = || err(http, code, "vendor says no");

            // Async: repeated under its key, then settled by the repeat.
            let server = Scripted::start(vec![refused(), accepted("t-1")]).await;
            let (c, _) = client(Provider::Vmeg, &server.base_url);
            let job = c.clone_voice(&clone_req()).await;
            let seen = server.seen();
            assert_eq!(seen.len(), 2, "{what}: not repeated: {job:?}");
            assert_eq!(job.unwrap().id.as_str(), "t-1", "{what}");
            let key = seen[0].header("x-idempotency-key").unwrap();
            assert_eq!(seen[1].header("x-idempotency-key"), Some(key), "{what}");

            // Async, never settled: the policy's three attempts under one key.
            let server = Scripted::start(vec![refused(), refused(), refused()]).await;
            let (c, _) = client(Provider::Vmeg, &server.base_url);
            let e = c.clone_voice(&clone_req()).await.unwrap_err();
            assert!(!e.may_resubmit(), "{what}: {e}");
            let seen = server.seen();
            assert_eq!(seen.len(), 3, "{what}: {e}");
            let key = seen[0].header("x-idempotency-key").unwrap();
            assert!(
                seen.iter()
                    .all(|s| s.header("x-idempotency-key") == Some(key)),
                "{what}"
            );
            match e.kind() {
                ErrorKind::OutcomeUnknown {
                    idempotency_key, ..
                } => assert_eq!(idempotency_key.as_deref(), Some(key), "{what}"),
                other => panic!("{what}: expected OutcomeUnknown, got {other:?}: {e}"),
            }

            // Sync: never resent (it may still be running); the outcome is unknown.
            let server = Scripted::start(vec![refused(), accepted("t-2")]).await;
            let (c, _) = client(Provider::Vmeg, &server.base_url);
            let e = c
                .clone_voice(&clone_req().synchronous(true))
                .await
                .unwrap_err();
            assert_eq!(server.seen().len(), 1, "{what}: sync resent");
            assert!(!e.may_resubmit(), "{what}: {e}");
            assert!(
                matches!(
                    e.kind(),
                    ErrorKind::OutcomeUnknown {
                        idempotency_key: Some(_),
                        ..
                    }
                ),
                "{what}: {e}"
            );
        }
    }
    // Both say nothing was done (an HTTP 503 and a refusal code): the refusal stands.
    let server = Scripted::start(vec![err(503, 400, "bad sample")]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let e = c.clone_voice(&clone_req()).await.unwrap_err();
    assert_eq!(server.seen().len(), 1);
    assert_eq!(*e.kind(), ErrorKind::InvalidRequest, "{e}");
    assert!(e.may_resubmit(), "{e}");
}

/// A business code VMEG does not document (4711) on a create: it does not say nothing was
/// made, even behind an HTTP 400 (VMEG: "success or failure is decided by code"), so the
/// create is `OutcomeUnknown`, sent once (README's retry table). Before: `InvalidRequest`
/// from the HTTP status, `may_resubmit()` true.
#[tokio::test]
async fn an_undocumented_code_behind_an_http_4xx_on_a_create_is_an_unknown_outcome() {
    for http in [400, 404, 422] {
        for sync in [false, true] {
            let what = format!("HTTP {http} code 4711 sync {sync}");
            let server =
                Scripted::start(vec![err(http, 4711, "new failure"), accepted("t-1")]).await;
            let (c, _) = client(Provider::Vmeg, &server.base_url);
            let e = c
                .clone_voice(&clone_req().synchronous(sync))
                .await
                .unwrap_err();
            assert_eq!(server.seen().len(), 1, "{what}: resent");
            assert!(!e.may_resubmit(), "{what}: {e}");
            assert!(
                matches!(
                    e.kind(),
                    ErrorKind::OutcomeUnknown {
                        idempotency_key: Some(_),
                        ..
                    }
                ),
                "{what}: {e}"
            );
            assert_eq!(e.vendor_code(), Some(4711), "{what}");
        }
    }
}

/// Review 28-a #3: a refusal code (400, 401, 402, 413, 422) behind a redirect other than
/// 307/308 (a 303 is how POST/redirect/GET answers a request it carried out; 301 and 302 say
/// nothing either way) or a status no HTTP class covers (600-999) does not say the create was
/// not carried out: `OutcomeUnknown` with its key, never resubmittable, sent once, async or
/// sync. "A write counts as not processed only when both say so". Before: the code's refusal,
/// `may_resubmit()` true, and a resubmit under a new key could pay twice.
#[tokio::test]
async fn a_refusal_code_behind_a_redirect_or_an_unclassed_status_is_no_refusal_on_a_create() {
    for http in [301u16, 302, 303, 600, 999] {
        for code in [400, 401, 402, 413, 422] {
            for sync in [false, true] {
                let what = format!("HTTP {http} code {code} sync {sync}");
                let refused = Step::Json(
                    http,
                    vec![("location", "/x".into())],
                    json!({"code": code, "message": "vendor says no", "data": null}),
                );
                let server = Scripted::start(vec![refused, accepted("t-1")]).await;
                let (c, _) = client(Provider::Vmeg, &server.base_url);
                let e = c
                    .clone_voice(&clone_req().synchronous(sync))
                    .await
                    .unwrap_err();
                assert_eq!(server.seen().len(), 1, "{what}: resent");
                assert!(!e.may_resubmit(), "{what}: {e}");
                assert!(
                    matches!(
                        e.kind(),
                        ErrorKind::OutcomeUnknown {
                            idempotency_key: Some(_),
                            ..
                        }
                    ),
                    "{what}: {e}"
                );
                assert_eq!(e.vendor_code(), Some(code), "{what}");
            }
        }
    }
    // Behind a 307 ("send it there instead") nothing was acted on: the refusal stands.
    let refused = Step::Json(
        307,
        vec![("location", "/x".into())],
        json!({"code": 402, "message": "no credit", "data": null}),
    );
    let server = Scripted::start(vec![refused]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let e = c.clone_voice(&clone_req()).await.unwrap_err();
    assert_eq!(server.seen().len(), 1);
    assert_eq!(*e.kind(), ErrorKind::PaymentRequired, "{e}");
    assert!(e.may_resubmit(), "{e}");
}

/// A poll answered HTTP 400 whose code says 502 (a server fault: "decided by code") is
/// retried as a read, as the same code inside an HTTP 200 is, and does not end the wait of a
/// paid job. Before: the poll failed and the wait ended with `Server`.
#[tokio::test]
async fn a_server_code_behind_an_http_4xx_does_not_end_a_wait() {
    let server = Scripted::start(vec![
        detail("t-1", "running", json!({})),
        err(400, 502, "upstream failed"),
        detail("t-1", "finished", json!({"voiceId": "cv_1"})),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let voice = c
        .wait_for_clone(&JobId::new("t-1"), &fast_wait(Provider::Vmeg))
        .await
        .unwrap();
    assert_eq!(voice.id, "cv_1");
    assert_eq!(server.seen().len(), 3);
    // A status read alone: retried the same way.
    let server = Scripted::start(vec![
        err(400, 502, "upstream failed"),
        detail("t-1", "running", json!({})),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let job = c.clone_status(&JobId::new("t-1")).await.unwrap();
    assert_eq!(job.status, TaskStatus::Running);
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn server_error_500_on_a_read_is_retried() {
    let server = Scripted::start(vec![
        err(500, 500, "boom"),
        detail("t-1", "running", json!({})),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let job = c.clone_status(&JobId::new("t-1")).await.unwrap();
    assert_eq!(job.status, TaskStatus::Running);
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = Scripted::start(vec![
        Step::Json(
            429,
            vec![("retry-after", "7".into())],
            json!({"code": 429, "message": "slow down", "data": null}),
        ),
        accepted("t-3"),
    ])
    .await;
    let (c, sleeper) = client(Provider::Vmeg, &server.base_url);
    c.clone_voice(&clone_req()).await.unwrap();
    assert_eq!(sleeper.sleeps(), vec![Duration::from_secs(7)]);
}

/// The same rate limit as a code inside an HTTP 200 (VMEG: "success or failure is decided
/// by code") is paced by its `Retry-After` too, on a write and on a read. Before, only a
/// failure status read the header: the 200's retry went on the plain backoff (~0.2 s).
#[tokio::test]
async fn retry_after_is_honoured_when_the_rate_limit_is_a_code_inside_a_200() {
    let limited = || {
        Step::Json(
            200,
            vec![("retry-after", "7".into())],
            json!({"code": 429, "message": "slow down", "data": null}),
        )
    };
    let server = Scripted::start(vec![limited(), accepted("t-3")]).await;
    let (c, sleeper) = client(Provider::Vmeg, &server.base_url);
    c.clone_voice(&clone_req()).await.unwrap();
    assert_eq!(sleeper.sleeps(), vec![Duration::from_secs(7)]);
    let server = Scripted::start(vec![limited(), detail("t-1", "running", json!({}))]).await;
    let (c, sleeper) = client(Provider::Vmeg, &server.base_url);
    c.clone_status(&JobId::new("t-1")).await.unwrap();
    assert_eq!(sleeper.sleeps(), vec![Duration::from_secs(7)]);
}

#[tokio::test]
async fn retry_after_as_an_http_date_waits_on_the_backoff_as_without_one() {
    // RFC 9110 allows `Retry-After: <HTTP-date>`; neither vendor sends one (VMEG documents
    // `Retry-After: 2`), so a date is read as no header: the same backoff as a plain 503,
    // not the 20 s the date asks for.
    let when = std::time::SystemTime::now() + Duration::from_secs(20);
    let date = jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&jiff::Timestamp::try_from(when).unwrap())
        .unwrap();
    let mut slept = Vec::new();
    for headers in [vec![("retry-after", date.clone())], vec![]] {
        let server = Scripted::start(vec![
            Step::Json(
                503,
                headers,
                json!({"code": 503, "message": "maintenance", "data": null}),
            ),
            detail("t-1", "running", json!({})),
        ])
        .await;
        let (c, sleeper) = client(Provider::Vmeg, &server.base_url);
        c.clone_status(&JobId::new("t-1")).await.unwrap();
        slept.push(sleeper.sleeps());
    }
    assert_eq!(slept[0].len(), 1, "{slept:?}");
    assert_eq!(slept[0], slept[1], "`Retry-After: {date}` against none");
    assert!(slept[0][0] < Duration::from_secs(18), "{slept:?}");
}

#[tokio::test]
async fn business_errors_map_the_same_inside_http_200_and_as_http_errors() {
    let cases = [
        (400, ErrorKind::InvalidRequest),
        (401, ErrorKind::Unauthorized),
        (402, ErrorKind::PaymentRequired),
        (404, ErrorKind::NotFound),
        (413, ErrorKind::PayloadTooLarge),
        (422, ErrorKind::InvalidRequest),
    ];
    for (code, kind) in cases {
        for http in [200, code] {
            let server = Scripted::start(vec![err(http, i64::from(code), "vendor says no")]).await;
            let (c, _) = client(Provider::Vmeg, &server.base_url);
            let e = c.clone_voice(&clone_req()).await.unwrap_err();
            assert_eq!(*e.kind(), kind, "code {code} with HTTP {http}");
            assert_eq!(e.vendor_code(), Some(i64::from(code)));
            assert_eq!(e.http_status(), Some(http));
            assert_eq!(e.message(), Some("vendor says no"));
            assert_eq!(e.provider(), Some(Provider::Vmeg));
        }
    }
}

#[tokio::test]
async fn unknown_codes_keep_their_number_and_message() {
    let server = Scripted::start(vec![err(200, 4711, "new failure")]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let e = c.clone_voice(&clone_req()).await.unwrap_err();
    assert_eq!(e.vendor_code(), Some(4711));
    assert_eq!(e.message(), Some("new failure"));
}

#[tokio::test]
async fn a_gateway_page_instead_of_an_envelope_is_a_typed_error() {
    let server = Scripted::start(vec![Step::Raw(502, "<html>Bad Gateway</html>"); 3]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let e = c.clone_status(&JobId::new("t")).await.unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::Server);
    assert_eq!(e.http_status(), Some(502));
}

#[tokio::test]
async fn wait_through_running_to_finished_reads_the_voice_from_result() {
    let server = Scripted::start(vec![
        detail("t-1", "running", json!({})),
        detail("t-1", "Running", json!({"progress": 50, "newField": true})),
        detail("t-1", "finished", json!({"voiceId": "cv_1"})),
    ])
    .await;
    let (c, sleeper) = client(Provider::Vmeg, &server.base_url);
    let voice = c
        .wait_for_clone(&JobId::new("t-1"), &fast_wait(Provider::Vmeg))
        .await
        .unwrap();
    assert_eq!(voice.id, "cv_1");
    assert_eq!(voice.provider, Provider::Vmeg);
    assert_eq!(server.seen().len(), 3);
    assert!(server.seen()[0].query.contains("taskId=t-1"));
    assert!(sleeper.sleeps().len() >= 2);
}

#[tokio::test]
async fn wait_falls_back_to_the_voice_list_entry_of_the_task() {
    let server = Scripted::start(vec![
        detail("t-5", "finished", json!({})),
        ok(json!({"records": [
            {"voiceId": "cv_other", "name": "x", "taskId": "t-4"},
            {"voiceId": "cv_5", "name": "narrator", "taskId": "t-5", "audio": "https://cdn.example.com/p.mp3"}
        ], "total": 2})),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let voice = c
        .wait_for_clone(&JobId::new("t-5"), &fast_wait(Provider::Vmeg))
        .await
        .unwrap();
    assert_eq!(voice.id, "cv_5");
    assert_eq!(
        voice.preview_url.map(|u| u.to_string()).as_deref(),
        Some("https://cdn.example.com/p.mp3")
    );
    assert_eq!(server.seen()[1].path, "/openapi/v1/assets/voice/clone/list");
}

/// A finished clone whose voice is looked up in the voice list is within the wait's
/// deadline: a list of slow pages that goes on and on ends the wait with `Timeout` saying
/// the task finished, at the deadline. Before: only the polls were bounded, and 10,000
/// pages at 30 s each held a one-minute wait for days.
#[tokio::test]
async fn the_voice_lookup_after_a_finished_clone_is_within_the_waits_deadline() {
    let page = |n: usize| {
        Step::Slow(
            Duration::from_millis(300),
            json!({"code": 200, "message": "", "data": {
                "records": [{"voiceId": format!("cv_{n}"), "name": "x", "taskId": format!("t-other-{n}")}],
                "total": 1_000_000
            }}),
        )
    };
    let mut steps = vec![detail("t-5", "finished", json!({}))];
    steps.extend((0..40).map(page));
    let server = Scripted::start(steps).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let policy = fast_wait(Provider::Vmeg).with_deadline(Some(Duration::from_secs(1)));
    let started = std::time::Instant::now();
    let e = c
        .wait_for_clone(&JobId::new("t-5"), &policy)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Timeout, "{e}");
    assert!(
        e.to_string().contains("succeeded, but finding its result"),
        "{e}"
    );
    // The clone succeeded (and was billed): never "send it again".
    assert!(!e.may_resubmit(), "{e}");
    let pages = server.seen().len() - 1;
    assert!((1..40).contains(&pages), "{pages} pages read: {e}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // A zero deadline with a quick poll: the lookup gets the rest of the last poll's grace
    // (and is sent), and its failure is never resubmittable either.
    let mut steps = vec![detail("t-6", "finished", json!({}))];
    steps.extend((0..40).map(page));
    let server = Scripted::start(steps).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let policy = fast_wait(Provider::Vmeg).with_deadline(Some(Duration::ZERO));
    let e = c
        .wait_for_clone(&JobId::new("t-6"), &policy)
        .await
        .unwrap_err();
    assert!(!e.may_resubmit(), "{e}");
    assert!(server.seen().len() >= 2, "the lookup was sent: {e}");
}

/// The last poll and the voice lookup after it share one grace: a wait ends within its
/// deadline plus 1 s, as `WaitPolicy::deadline` says, and a lookup cut short names the
/// wait's deadline, not `CallOptions` (which the caller never set). Before: a 0.5 s last
/// poll and a lookup given a grace of its own ended a `ZERO` deadline after at least 1.5 s
/// (0.5 s + a fresh 1 s), blaming "the call's timeout or deadline (CallOptions)". Now it
/// ends at ~1 s. The poll's answer has 0.5 s of the grace to spare, the bound 0.45 s
/// (review 31 #1: a 0.9 s poll left 100 ms, and a stall cut the poll instead).
#[tokio::test]
async fn the_last_poll_and_the_voice_lookup_share_one_grace() {
    let server = Scripted::start(vec![
        Step::Slow(
            Duration::from_millis(500),
            json!({"code": 200, "message": "", "data": {
                "taskId": "t-5", "taskType": "cloneVoice", "status": "finished", "result": {}
            }}),
        ),
        Step::Hang(Duration::from_secs(60)),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let policy = fast_wait(Provider::Vmeg).with_deadline(Some(Duration::ZERO));
    let started = std::time::Instant::now();
    let e = c
        .wait_for_clone(&JobId::new("t-5"), &policy)
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        server.seen().len() >= 2,
        "the poll was answered in time and the lookup sent: {e}"
    );
    assert!(took < Duration::from_millis(1450), "took {took:?}: {e}");
    assert!(!e.may_resubmit(), "{e}");
    let text = e.to_string();
    assert!(text.contains("WaitPolicy::deadline"), "{text}");
    assert!(!text.contains("CallOptions"), "{text}");
}

/// A finished clone whose voice lookup is refused (rate limited, unauthorized after a key
/// rotation): the error is the lookup's, but the clone succeeded and was billed, so it is
/// never `may_resubmit()`, whatever its kind.
#[tokio::test]
async fn a_failed_voice_lookup_after_a_finished_clone_is_never_resubmittable() {
    for refusal in [err(429, 429, "slow down"), err(401, 401, "bad key")] {
        let mut steps = vec![detail("t-7", "finished", json!({}))];
        steps.extend(std::iter::repeat_with(|| refusal.clone()).take(10));
        let server = Scripted::start(steps).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let e = c
            .wait_for_clone(&JobId::new("t-7"), &fast_wait(Provider::Vmeg))
            .await
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::RateLimited | ErrorKind::Unauthorized),
            "{e}"
        );
        assert!(!e.may_resubmit(), "a billed clone: {e}");
        assert!(
            e.to_string()
                .contains("task t-7 succeeded, but finding its result failed"),
            "the error says the clone succeeded: {e}"
        );
    }
}

/// A poll refused while the task runs (401 after a key rotation, a 402): the job
/// was accepted and exists, so the wait's error is never `may_resubmit()`, whatever its kind
/// (a 401 alone would say "refused, nothing created"). Before, only errors after the task
/// succeeded were marked.
#[tokio::test]
async fn a_refused_poll_of_an_accepted_job_is_never_resubmittable() {
    for refusal in [err(401, 401, "bad key"), err(402, 402, "no credit")] {
        let steps = std::iter::repeat_with(|| refusal.clone())
            .take(10)
            .collect();
        let server = Scripted::start(steps).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let e = c
            .wait_for_speech(&JobId::new("t-8"), &fast_wait(Provider::Vmeg))
            .await
            .unwrap_err();
        assert!(
            matches!(
                e.kind(),
                ErrorKind::PaymentRequired | ErrorKind::Unauthorized
            ),
            "{e}"
        );
        assert!(!e.may_resubmit(), "an accepted job: {e}");
    }
}

#[tokio::test]
async fn wait_ends_in_task_failed() {
    let server = Scripted::start(vec![
        detail("t-1", "running", json!({})),
        detail("t-1", "failed", json!({"errorMessage": "audio too short"})),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let e = c
        .wait_for_clone(&JobId::new("t-1"), &fast_wait(Provider::Vmeg))
        .await
        .unwrap_err();
    match e.kind() {
        ErrorKind::TaskFailed { job_id, reason } => {
            assert_eq!(job_id.as_str(), "t-1");
            assert!(reason.contains("audio too short"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

/// `Client::task` reads a task's status as the waits do, and says so as they do when the
/// word is one VMEG does not document: the detail names the word (`assumed_status`), a job
/// failed by it has an `error` saying the failure is an assumption and the task may still
/// be alive (with the vendor's own reason kept), and the job's, or another product's
/// summary's, `Debug` and `Display` say it too. A documented word says nothing of the kind.
/// Before, `task` returned a `Failed` job with no error and nothing in its `Debug` telling
/// that `Failed` was a guess.
#[tokio::test]
async fn a_task_looked_up_by_id_says_when_its_status_is_assumed() {
    for (task_type, word) in [
        ("cloneVoice", "timeout"),
        ("tts", "expired"),
        ("vt", "timeout"),
    ] {
        let body = json!({"taskId": "t-1", "taskType": task_type, "status": word,
            "result": {"errorMessage": "took too long"}});
        let server = Scripted::start(vec![ok(body)]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let detail = c.task(&JobId::new("t-1")).await.unwrap();
        assert_eq!(detail.status(), &TaskStatus::Failed, "{task_type}");
        assert_eq!(detail.assumed_status(), Some(word), "{task_type}");
        let shown = format!("{detail:?}");
        assert!(
            shown.contains("by assumption") && shown.contains("may still be alive"),
            "{task_type}: {shown}"
        );
        let error = match &detail {
            voiceclone::TaskDetail::Clone(j) => j.error.clone(),
            voiceclone::TaskDetail::Speech(j) => j.error.clone(),
            voiceclone::TaskDetail::Other(summary) => {
                let text = summary.to_string();
                assert!(
                    text.contains("by assumption") && text.contains(word),
                    "{text}"
                );
                continue;
            }
            other => panic!("{other:?}"),
        };
        let error = error.unwrap_or_default();
        assert!(
            error.contains("took too long")
                && error.contains("by assumption")
                && error.contains("before submitting again"),
            "{task_type}: {error}"
        );
    }
    // The documented word: a certain failure, the vendor's reason as it is.
    let server = Scripted::start(vec![detail(
        "t-1",
        "failed",
        json!({"errorMessage": "bad audio"}),
    )])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let detail = c.task(&JobId::new("t-1")).await.unwrap();
    assert_eq!(detail.assumed_status(), None);
    let shown = format!("{detail:?}");
    assert!(!shown.contains("assum"), "{shown}");
    assert!(shown.contains("bad audio"), "{shown}");
}

/// VMEG documents only `running`, `finished` and `failed` (api-facts A10). A guessed failure
/// word (`timeout`, `expired`, `cancelled`, `error`) still ends a wait as `TaskFailed`, but
/// says the failure is an assumption, names the word (`Error::assumed_status`) and never
/// advises submitting again: a task that is in fact alive would be billed twice. A guessed
/// success word is taken only with its result: a `done` clone whose voice cannot be found
/// is an error that says not to submit again (never a voice made up, never a resubmit).
/// Before: "fix the input and submit a new task" for every failure word.
#[tokio::test]
async fn a_guessed_failure_word_says_it_is_assumed_and_never_advises_resubmitting() {
    for word in ["timeout", "expired", "cancelled", "error", "TIMEOUT"] {
        let server = Scripted::start(vec![
            detail("t-1", word, json!({"errorMessage": "took too long"})),
            detail("t-1", word, json!({"errorMessage": "took too long"})),
        ])
        .await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let job = c.clone_status(&JobId::new("t-1")).await.unwrap();
        assert_eq!(job.status, TaskStatus::Failed, "{word}");
        let reason = job.error.as_deref().unwrap_or_default();
        assert!(
            reason.contains("took too long") && reason.contains("assum"),
            "{word}: {reason}"
        );
        assert!(
            reason.contains("before submitting again"),
            "{word}: {reason}"
        );
        let e = c
            .wait_for_clone(&JobId::new("t-1"), &fast_wait(Provider::Vmeg))
            .await
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::TaskFailed { .. }),
            "{word}: {e}"
        );
        assert_eq!(e.assumed_status(), Some(word), "{e}");
        assert!(!e.may_resubmit(), "{word}: {e}");
        let text = e.to_string();
        assert!(text.contains("assum"), "{word}: {text}");
        assert!(!text.contains("submit a new task"), "{word}: {text}");
    }
    // The documented word: a certain failure, with the usual advice.
    let server = Scripted::start(vec![detail(
        "t-1",
        "failed",
        json!({"errorMessage": "bad audio"}),
    )])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let e = c
        .wait_for_clone(&JobId::new("t-1"), &fast_wait(Provider::Vmeg))
        .await
        .unwrap_err();
    assert_eq!(e.assumed_status(), None, "{e}");
    assert!(e.to_string().contains("submit a new task"), "{e}");

    // A guessed success word with its result is the result; without one, the lookup's
    // failure says not to submit again.
    let server = Scripted::start(vec![detail("t-1", "done", json!({"voiceId": "cv_1"}))]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let voice = c
        .wait_for_clone(&JobId::new("t-1"), &fast_wait(Provider::Vmeg))
        .await
        .unwrap();
    assert_eq!(voice.id, "cv_1");
    let server = Scripted::start(vec![
        detail("t-1", "complete", json!({})),
        ok(json!({"records": [], "total": 0})),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let e = c
        .wait_for_clone(&JobId::new("t-1"), &fast_wait(Provider::Vmeg))
        .await
        .unwrap_err();
    assert!(!e.may_resubmit(), "{e}");
    assert!(e.to_string().contains("do not submit it again"), "{e}");
}

/// Review 35-d #4: a `tasks/detail` answered HTTP 404 with VMEG's success code contradicts
/// itself: VMEG decides by `code` (api-facts A3), a gateway by the status. On a read it is an
/// answer that could not be read: a wait polls past it and reads the task on the next poll,
/// and a run of them ends `InvalidResponse`, never `NotFound`. Before: `NotFound` at once.
#[tokio::test]
async fn a_success_code_behind_a_404_on_a_status_read_is_polled_past_not_not_found() {
    let contradicted = || {
        Step::status(
            404,
            json!({"code": 200, "message": "", "data": {"taskId": "t-1", "taskType": "cloneVoice",
                "status": "finished", "result": {"voiceId": "cv_1"}}}),
        )
    };
    let server = Scripted::start(vec![
        contradicted(),
        detail("t-1", "finished", json!({"voiceId": "cv_1"})),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let voice = c
        .wait_for_clone(&JobId::new("t-1"), &fast_wait(Provider::Vmeg))
        .await
        .unwrap();
    assert_eq!(voice.id, "cv_1");

    let server = Scripted::start((0..8).map(|_| contradicted()).collect()).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let e = c.clone_status(&JobId::new("t-1")).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidResponse, "{e}");
    let e = c
        .wait_for_clone(&JobId::new("t-1"), &fast_wait(Provider::Vmeg))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidResponse, "{e}");
    assert!(!e.may_resubmit(), "{e}");
    assert!(
        server.seen().len() > 2,
        "not polled past: {}",
        server.seen().len()
    );
}

/// Review 35-d #5: a clone that finished with a `voiceId` this crate refuses (a control
/// character, a `/`) says so and quotes it (escaped, cut) when the clone list, looked up by the
/// task's id, holds no usable voice for it either: waiting again reads the same. Never
/// resubmittable. Before: the list lookup ended `NotFound` ("wait for it again to finish the
/// lookup"), the id dropped, and so did every later wait.
///
/// Review 35 pass 2b #4: the list is still read, by `taskId`: a usable voice it lists for the
/// task is the clone's (the shape of `tasks/detail`'s `result` is UNKNOWN, api-facts A17 #4,
/// and the two answers may differ). Before: the refused id ended every wait, unread.
#[tokio::test]
async fn a_clone_finished_with_a_refused_voice_id_quotes_it() {
    for (voice, quoted) in [("cv\u{7}1", "\"cv\\u{7}1\""), ("cv/1", "\"cv/1\"")] {
        let server = Scripted::start(vec![
            detail("t-1", "finished", json!({"voiceId": voice})),
            ok(
                json!({"records": [{"voiceId": voice, "name": "narrator", "taskId": "t-1"}],
                "total": 1}),
            ),
        ])
        .await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let e = c
            .wait_for_clone(&JobId::new("t-1"), &fast_wait(Provider::Vmeg))
            .await
            .unwrap_err();
        let text = e.message().unwrap_or_default();
        let shown = e.to_string();
        assert_eq!(e.kind(), &ErrorKind::InvalidResponse, "{voice:?}: {e}");
        assert!(
            text.contains("a voiceId this crate cannot use"),
            "{voice:?}: {e}"
        );
        assert!(text.contains(quoted), "{voice:?}: {quoted} missing: {e}");
        assert!(shown.contains("list_voices()"), "{voice:?}: {e}");
        assert!(!shown.contains("wait for it again"), "{voice:?}: {e}");
        assert!(!shown.contains('\u{7}'), "{voice:?}: {e}");
        assert!(!e.may_resubmit(), "{voice:?}: {e}");
        assert_eq!(server.seen().len(), 2, "{voice:?}: not looked up once");

        // The list carries a usable voice for the task: that is the clone's voice.
        let server = Scripted::start(vec![
            detail("t-1", "finished", json!({"voiceId": voice})),
            ok(
                json!({"records": [{"voiceId": "cv_1", "name": "narrator", "taskId": "t-1"}],
                "total": 1}),
            ),
        ])
        .await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let found = c
            .wait_for_clone(&JobId::new("t-1"), &fast_wait(Provider::Vmeg))
            .await
            .unwrap_or_else(|e| panic!("{voice:?}: {e}"));
        assert_eq!(found.id, "cv_1", "{voice:?}");

        // A lookup that fails (a 401 while a key is rotated) is that failure: the task is
        // done, so never "submit it again", and waiting again may finish the lookup.
        let server = Scripted::start(vec![
            detail("t-1", "finished", json!({"voiceId": voice})),
            err(401, 401, "bad key"),
        ])
        .await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let e = c
            .wait_for_clone(&JobId::new("t-1"), &fast_wait(Provider::Vmeg))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Unauthorized, "{voice:?}: {e}");
        assert!(
            e.to_string().contains("wait for it again"),
            "{voice:?}: {e}"
        );
        assert!(!e.may_resubmit(), "{voice:?}: {e}");
    }
}

#[tokio::test]
async fn unknown_status_is_not_terminal_and_wait_times_out_with_it() {
    let server = Scripted::start(vec![detail("t-1", "warming_up", json!({})); 3]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let job = c.clone_status(&JobId::new("t-1")).await.unwrap();
    assert_eq!(job.status, TaskStatus::Unknown("warming_up".into()));
    let policy = fast_wait(Provider::Vmeg).with_max_polls(Some(2));
    let e = c
        .wait_for_clone(&JobId::new("t-1"), &policy)
        .await
        .unwrap_err();
    match e.kind() {
        ErrorKind::WaitTimedOut {
            last_status, polls, ..
        } => {
            assert_eq!(*last_status, TaskStatus::Unknown("warming_up".into()));
            assert_eq!(*polls, 2);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn transient_errors_while_waiting_are_retried_not_fatal() {
    let server = Scripted::start(vec![
        detail("t-1", "running", json!({})),
        Step::Raw(503, "busy"),
        Step::Drop,
        detail("t-1", "finished", json!({"voiceId": "cv_1"})),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let voice = c
        .wait_for_clone(&JobId::new("t-1"), &fast_wait(Provider::Vmeg))
        .await
        .unwrap();
    assert_eq!(voice.id, "cv_1");
}

/// A long text whose second part is refused (402) after its first finished: the first part
/// is paid for, so running the text again would pay again. The run's error is never
/// `may_resubmit()`, whatever the refusal's own kind says ("nothing created" is true of that
/// part only), and its text never advises submitting again. Before: `true`, from the 402,
/// and "top up the account, then submit again".
#[tokio::test]
async fn a_long_text_failing_after_a_paid_part_is_never_resubmittable() {
    let finished = ok(
        json!({"taskId": "tts-1", "taskType": "tts", "status": "finished",
        "result": {"results": [{"uri": "https://cdn.example.com/a.m4a", "duration": 1.5}]}}),
    );
    let server = Scripted::start(vec![
        accepted("tts-1"),
        finished,
        err(402, 402, "no credit left"),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let text = "First sentence. ".repeat(200) + &"Second part. ".repeat(200);
    let req = SpeechRequest::new("cv_1", text);
    let mut limits = voiceclone::long_text::SplitLimits::for_provider(Provider::Vmeg);
    limits.max_line_chars = 1_000;
    limits.max_lines = 1;
    let plan =
        voiceclone::long_text::LongSpeechPlan::with_limits(Provider::Vmeg, &req, limits).unwrap();
    assert!(plan.parts().len() >= 2, "{}", plan.parts().len());
    let e = c
        .synthesize_plan(&plan, &fast_wait(Provider::Vmeg), 1)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::PaymentRequired, "{e}");
    assert!(!e.may_resubmit(), "part 1 was paid for: {e}");
    // What a person reads agrees: the 402's own advice ("top up the account, then submit
    // again") would have them run the whole text again and pay for part 1 twice.
    let shown = e.to_string();
    assert!(shown.contains("not enough credits"), "{shown}");
    assert!(
        !shown.contains("submit again") && !shown.contains("try again"),
        "{shown}"
    );
    assert!(
        shown.contains("do not submit the whole text again") && shown.contains("long_text_parts"),
        "{shown}"
    );

    // Nothing sent at all but the refused first part: that one may be submitted again.
    let server = Scripted::start(vec![err(402, 402, "no credit left")]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let e = c
        .synthesize_plan(&plan, &fast_wait(Provider::Vmeg), 1)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::PaymentRequired, "{e}");
    assert!(e.may_resubmit(), "nothing was created: {e}");
    // Nothing to pay twice: the kind's own advice stands.
    assert!(e.to_string().contains("then submit again"), "{e}");
}

/// Review 35-d #3: a finished TTS line whose `uri` this crate refuses (relative, another
/// scheme, not a string) beside an `errorMessage` is a line it could not read, not one the
/// vendor said failed: the vendor said where its audio is. The wait ends `InvalidResponse`
/// marked `audio_unreadable` (the task kept, read again), quoting the vendor's words as a
/// remark, never `TaskFailed` "every line failed" (which a long text records as a failed part
/// and pays for again).
///
/// Review 35 pass 2b #6: the refused `uri` is quoted (without its query or userinfo, cut), as
/// JimmyAI's refused `audioUrl` is: the only handle support has to audio already billed.
#[tokio::test]
async fn a_line_with_a_refused_uri_and_an_error_message_is_unreadable_not_failed() {
    for (uri, quoted) in [
        (json!("/files/t1/2.wav"), Some("\"/files/t1/2.wav\"")),
        (json!("s3://bucket/2.wav"), Some("\"s3://bucket/2.wav\"")),
        (
            json!("/files/t1/2.wav?sig=s3cr3t"),
            Some("\"/files/t1/2.wav\""),
        ),
        (
            json!("s3://AKIA:s3cr3t@bucket/2.wav"),
            Some("\"s3://bucket/2.wav\""),
        ),
        (json!({"k": 1}), None),
    ] {
        let lines = json!({"taskId": "t-1", "results": [
            {"uri": uri, "errorMessage": "duration adjusted"}
        ]});
        let finished =
            ok(json!({"taskId": "t-1", "taskType": "tts", "status": "finished", "result": lines}));
        let server = Scripted::start(vec![finished]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let e = c
            .wait_for_speech(&JobId::new("t-1"), &fast_wait(Provider::Vmeg))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidResponse, "{uri}: {e}");
        let why = e.audio_unreadable().unwrap_or_default();
        assert!(why.contains("not an absolute http(s) URL"), "{uri}: {why}");
        assert!(why.contains("duration adjusted"), "{uri}: {why}");
        if let Some(quoted) = quoted {
            assert!(why.contains(quoted), "{uri}: {quoted} missing: {why}");
        }
        assert!(!e.to_string().contains("s3cr3t"), "{uri}: {e}");
        assert!(!e.may_resubmit(), "{uri}: {e}");
    }
}

#[tokio::test]
async fn synthesize_async_then_wait_for_speech() {
    let server = Scripted::start(vec![
        accepted("tts-1"),
        ok(json!({"taskId": "tts-1", "taskType": "tts", "status": "running", "result": null})),
        ok(json!({"taskId": "tts-1", "taskType": "tts", "status": "finished",
                  "result": {"results": [{"uri": "https://cdn.example.com/a.m4a", "duration": 1.5}]}})),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let req = SpeechRequest::new("cv_1", "Hello").add_line("cv_1", "World");
    let job = c.synthesize(&req).await.unwrap();
    let body = server.seen()[0].json();
    assert_eq!(server.seen()[0].path, "/openapi/v1/task/tts/create-async");
    assert_eq!(body["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(body["data"][1]["text"], "World");
    assert!(server.seen()[0].header("x-idempotency-key").is_some());
    let speech = c
        .wait_for_speech(&job.id, &fast_wait(Provider::Vmeg))
        .await
        .unwrap();
    assert_eq!(
        speech.audio_urls[0].as_str(),
        "https://cdn.example.com/a.m4a"
    );
}

#[tokio::test]
async fn voice_management_calls() {
    let server = Scripted::start(vec![
        ok(json!({"records": [{"voiceId": "cv_1", "name": "a", "provider": "V1"}], "total": 1})),
        ok(Value::Null),
        ok(Value::Null),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let voices = c.list_voices().await.unwrap();
    assert_eq!(voices.len(), 1);
    assert_eq!(voices[0].name.as_deref(), Some("a"));
    c.rename_voice("cv_1", "b").await.unwrap();
    c.delete_voice("cv_1").await.unwrap();
    let seen = server.seen();
    assert_eq!(seen[1].path, "/openapi/v1/assets/voice/clone/update");
    assert_eq!(seen[1].json(), json!({"voiceId": "cv_1", "voiceName": "b"}));
    assert!(seen[1].header("x-idempotency-key").is_some());
    assert_eq!(seen[2].path, "/openapi/v1/assets/voice/clone/delete");
    assert_eq!(seen[2].json(), json!({"voiceId": "cv_1"}));
    assert_ne!(
        seen[1].header("x-idempotency-key"),
        seen[2].header("x-idempotency-key"),
        "a new key for new work"
    );
}

#[tokio::test]
async fn upload_of_a_missing_or_empty_file_sends_nothing() {
    let server = Scripted::start(vec![]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let e = c
        .upload_sample("/definitely/not/here.wav")
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "audio_file"),
        "{e}"
    );
    let dir = std::env::temp_dir().join(format!("vc-vmeg-upload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    let e = c.upload_sample(&empty).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidInput { .. }), "{e}");
    assert!(server.seen().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn invalid_input_names_the_field_and_sends_nothing() {
    let server = Scripted::start(vec![]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let cases = [
        (
            CloneRequest::new("http://cdn.example.com/a.wav"),
            "audio_url",
        ),
        (
            CloneRequest::new("https://cdn.example.com/a.wav").language("not a tag!"),
            "language",
        ),
        (
            CloneRequest::new("https://cdn.example.com/a.wav").idempotency_key("k".repeat(65)),
            "idempotency_key",
        ),
    ];
    for (req, field) in cases {
        let e = c.clone_voice(&req).await.unwrap_err();
        match e.kind() {
            ErrorKind::InvalidInput { field: f, .. } => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    let too_many = (0..51).fold(SpeechRequest::new("cv_1", "x"), |r, _| {
        r.add_line("cv_1", "y")
    });
    let e = c.synthesize(&too_many).await.unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::InvalidInput { .. }), "{e}");
    assert!(server.seen().is_empty(), "nothing may be sent");
}

/// A `taskType` VMEG does not document (`CLONE_VOICE_V2`, a new spelling) is taken as the
/// caller says, as JimmyAI's undocumented model is; only a documented other type (any case)
/// is refused. Before: every status read and wait of the paid task failed as `InvalidInput`.
#[tokio::test]
async fn an_undocumented_task_type_is_taken_as_the_caller_says() {
    let typed = |task_type: &str, result: Value| {
        ok(json!({"taskId": "t-1", "taskType": task_type, "status": "finished", "result": result}))
    };
    for task_type in ["CLONE_VOICE_V2", "CloneVoice", "clone_voice"] {
        let answer = typed(task_type, json!({"voiceId": "cv_1"}));
        let server = Scripted::start(vec![answer.clone(), answer]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let job = c.clone_status(&JobId::new("t-1")).await;
        let job = job.unwrap_or_else(|e| panic!("{task_type}: {e}"));
        assert_eq!(job.status, TaskStatus::Succeeded, "{task_type}");
        let voice = c
            .wait_for_clone(&JobId::new("t-1"), &fast_wait(Provider::Vmeg))
            .await
            .unwrap_or_else(|e| panic!("{task_type}: {e}"));
        assert_eq!(voice.id, "cv_1", "{task_type}");
    }
    let uri = json!({"results": [{"uri": "https://cdn.example.com/t-1.m4a"}]});
    for task_type in ["TTS", "Tts_v2"] {
        let server = Scripted::start(vec![typed(task_type, uri.clone())]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let job = c.speech_status(&JobId::new("t-1")).await;
        let job = job.unwrap_or_else(|e| panic!("{task_type}: {e}"));
        let urls = job.speech.as_ref().map(|s| s.audio_urls.len());
        assert_eq!(urls, Some(1), "{task_type}");
    }
    // A documented other type, in any case, is still another kind of task.
    for (task_type, as_clone) in [
        ("tts", true),
        ("TTS", true),
        ("VT", true),
        ("cloneVoice", false),
    ] {
        let server = Scripted::start(vec![typed(task_type, json!({}))]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let e = if as_clone {
            c.clone_status(&JobId::new("t-1"))
                .await
                .map(|_| ())
                .unwrap_err()
        } else {
            c.speech_status(&JobId::new("t-1"))
                .await
                .map(|_| ())
                .unwrap_err()
        };
        assert!(
            matches!(e.kind(), ErrorKind::InvalidInput { .. }),
            "{task_type}: {e}"
        );
    }
}

/// A synchronous create cut short after it was sent (the client's timeout shorter than the
/// time VMEG takes, or the connection dropped) is still running at VMEG, which answers only
/// when the task ends: a repeat under the key would reach it while the first is in flight,
/// and how VMEG treats that is UNKNOWN (api-facts A4). `OutcomeUnknown` with the key, sent
/// once. An async create keeps VMEG's advice: retried under its key. Before: up to three
/// sync creates, each possibly billed.
#[tokio::test]
async fn a_synchronous_create_cut_short_after_sending_is_not_resent() {
    let speech = SpeechRequest::new("cv_1", "Hello");
    // Review 23 pass 2 #1: a hop in between that gives up on waiting (a proxy's HTML 504,
    // a CDN's 524, VMEG's own 502 naming no task) leaves the first request running too.
    let gateway_504 = Step::Raw(504, "<html>504 Gateway Time-out</html>");
    let cdn_524 = Step::status(524, json!({"error": "a timeout occurred"}));
    let upstream_502 = Step::status(
        502,
        json!({"code": 502, "message": "upstream timed out", "data": null}),
    );
    let mut cases = Vec::new();
    for cut in [
        Step::Hang(Duration::from_secs(30)),
        Step::Drop,
        gateway_504,
        cdn_524,
        upstream_502,
    ] {
        cases.push(("sync clone", cut.clone()));
        cases.push(("sync speech", cut));
    }
    for (what, cut) in cases {
        let server = Scripted::start(vec![cut.clone(), cut.clone(), accepted("B")]).await;
        // A timeout that leaves the request time to reach the wire on a loaded machine (with
        // 300 ms, a stall before the send left nothing sent); the hang outlasts it by far.
        let c = voiceclone::Client::builder(Provider::Vmeg)
            .api_key(SECRET_KEY)
            .base_url(&server.base_url)
            .timeout(Duration::from_secs(2))
            .sleeper(std::sync::Arc::new(voiceclone::RecordingSleeper::new()))
            .build()
            .unwrap();
        let e = sync_create(&c, what, &speech).await.unwrap_err();
        let what = format!("{what} after {cut:?}");
        assert_eq!(server.seen().len(), 1, "{what}: resent: {e}");
        match e.kind() {
            ErrorKind::OutcomeUnknown {
                idempotency_key, ..
            } => {
                let sent = server.seen()[0]
                    .header("x-idempotency-key")
                    .map(str::to_owned);
                assert_eq!(idempotency_key.as_deref(), sent.as_deref(), "{what}");
                assert!(sent.is_some(), "{what}");
            }
            other => panic!("{what}: expected OutcomeUnknown, got {other:?}: {e}"),
        }
    }
    // A sync create answered with VMEG's own 503 may still run (a gateway may copy the
    // shape, review 34-d #2): unknown, sent once.
    let server = Scripted::start(vec![
        Step::status(503, json!({"code": 503, "message": "busy", "data": null})),
        accepted("t-2"),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let e = c
        .clone_voice(&clone_req().synchronous(true))
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }), "{e}");
    assert_eq!(server.seen().len(), 1, "{e}");
    // A sync create refused with a status that says nothing was done: retried under its key.
    for refused in [
        Step::status(
            429,
            json!({"code": 429, "message": "slow down", "data": null}),
        ),
        Step::status(522, json!({"error": "origin unreachable"})),
    ] {
        let server = Scripted::start(vec![refused.clone(), accepted("t-2")]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let r = c.clone_voice(&clone_req().synchronous(true)).await;
        let seen = server.seen();
        assert_eq!(seen.len(), 2, "{refused:?}: {r:?}");
        assert_eq!(
            seen[0].header("x-idempotency-key"),
            seen[1].header("x-idempotency-key")
        );
    }
    // The async create cut short: retried under the same key, as VMEG advises.
    let server = Scripted::start(vec![Step::Drop, accepted("t-1")]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let job = c.clone_voice(&clone_req()).await.unwrap();
    assert_eq!(job.id.as_str(), "t-1");
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].header("x-idempotency-key"),
        seen[1].header("x-idempotency-key")
    );
}

/// Review 32-a #4: a caller's voice name holding a newline (an end user's, in a service) is
/// quoted in the request summary of a lost write with its control characters escaped: the
/// error's text and the WARN and INFO lines forge no log line. The name sent is the name
/// given. Before: the newline was written as it is, and a second, forged line followed.
#[tokio::test]
async fn a_voice_name_holding_a_newline_forges_no_log_line_when_its_write_is_lost() {
    let (logs, _guard) = capture_logs();
    let server = Scripted::start(vec![Step::Json(502, vec![], json!({"code": 502})); 3]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let name = format!("Narrator{FORGED_LINE}\r\u{2028}end");
    let e = c
        .clone_voice(&CloneRequest::new("https://cdn.example.com/a.wav").name(&name))
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }), "{e}");
    for shown in [e.to_string(), format!("{}", e.kind())] {
        assert!(!shown.contains(['\n', '\r', '\u{2028}']), "{shown}");
        assert!(shown.contains("Narrator\\n2026-12-05"), "{shown}");
    }
    let text = logs.take();
    assert!(text.contains("write outcome unknown"), "{text}");
    assert_no_forged_or_huge_line(&text);
    let sent: Value = serde_json::from_slice(&server.seen()[0].body).unwrap();
    assert_eq!(sent["voiceName"], name.as_str());
}

/// Review 32-a #2: a bare HTTP 503 that is no VMEG envelope (a proxy's page such as Envoy's
/// "upstream connect error or disconnect/reset before headers", sent when the upstream closed
/// the connection after the request was forwarded) does not say nothing was done: VMEG may
/// have made the task first. A synchronous create ends `OutcomeUnknown` with its key at once,
/// sent once (it may still be running); an async create is still retried under its key and,
/// answered so on every attempt, ends `OutcomeUnknown` with the key, not `Server`. So does a
/// relay's JSON with a numeric `code` but without VMEG's `data` (`RELAY_JSON_503`, or a
/// refusal code in it; review 32 pass 2-a #1: read as VMEG's own 503, the synchronous create
/// was resent). VMEG's own 503 envelope keeps its meaning: retried under the key, and `Server`
/// when attempts run out.
#[tokio::test]
async fn a_proxys_bare_503_on_a_create_is_no_proof_that_nothing_was_done() {
    use crate::adapter_support::{ENVOY_503, RELAY_JSON_503};
    let speech = SpeechRequest::new("cv_1", "Hello");
    let key_of = |e: &voiceclone::Error| match e.kind() {
        ErrorKind::OutcomeUnknown {
            idempotency_key, ..
        } => idempotency_key.clone(),
        other => panic!("expected OutcomeUnknown, got {other:?}: {e}"),
    };
    for page in [
        ENVOY_503,
        RELAY_JSON_503,
        r#"{"code":400,"message":"Bad Request"}"#,
    ] {
        for what in ["sync clone", "sync speech"] {
            let server = Scripted::start(vec![Step::Raw(503, page), accepted("t-2")]).await;
            let (c, sleeper) = client(Provider::Vmeg, &server.base_url);
            let e = sync_create(&c, what, &speech).await.unwrap_err();
            let what = format!("{page} {what}");
            assert_eq!(server.seen().len(), 1, "{what}: resent: {e}");
            assert!(sleeper.sleeps().is_empty(), "{what}");
            let sent = server.seen()[0]
                .header("x-idempotency-key")
                .map(str::to_owned);
            assert!(sent.is_some(), "{what}");
            assert_eq!(key_of(&e), sent, "{what}");
            assert!(!e.is_transient() && !e.may_resubmit(), "{what}: {e}");
        }
        // Async: retried under its key, and settled by the retry.
        let server = Scripted::start(vec![Step::Raw(503, page), accepted("t-1")]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let job = c.clone_voice(&clone_req()).await.unwrap();
        assert_eq!(job.id.as_str(), "t-1", "{page}");
        let seen = server.seen();
        assert_eq!(seen.len(), 2, "{page}");
        assert_eq!(
            seen[0].header("x-idempotency-key"),
            seen[1].header("x-idempotency-key"),
            "{page}"
        );
        // Answered so on every attempt (the test client makes 3): unknown, with the key.
        let server = Scripted::start(vec![Step::Raw(503, page); 3]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let e = c.clone_voice(&clone_req()).await.unwrap_err();
        let seen = server.seen();
        assert_eq!(seen.len(), 3, "{page}: {e}");
        assert_eq!(
            key_of(&e).as_deref(),
            seen[0].header("x-idempotency-key"),
            "{page}: {e}"
        );
    }
    // VMEG's own 503 on every attempt: no proof either (a gateway may copy the shape, review
    // 34-d #2): retried under its key, then unknown with it, never resubmittable.
    let server = Scripted::start(vec![err(503, 503, "busy"); 3]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let e = c.clone_voice(&clone_req()).await.unwrap_err();
    let seen = server.seen();
    assert_eq!(seen.len(), 3, "{e}");
    assert_eq!(
        key_of(&e).as_deref(),
        seen[0].header("x-idempotency-key"),
        "{e}"
    );
    assert!(!e.may_resubmit(), "{e}");
}

/// Review 32 pass 2-b F5: an undocumented status is warned of once each time it appears, not
/// on every poll (a wait bounded by time alone, the CLI's `--timeout`, polled for a day logged
/// 8,640 lines); each new word is warned of again. Before: one WARN per poll (5 here).
#[tokio::test]
async fn an_undocumented_status_is_warned_of_once_each_time_it_appears() {
    let (logs, _guard) = capture_logs();
    let mut steps = vec![detail("t-1", "reviewing", json!({})); 3];
    steps.extend(vec![detail("t-1", "moderating", json!({})); 2]);
    let server = Scripted::start(steps).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let policy = fast_wait(Provider::Vmeg).with_max_polls(Some(5));
    let e = c
        .wait_for_clone(&JobId::new("t-1"), &policy)
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::WaitTimedOut { polls: 5, .. }),
        "{e}"
    );
    let text = logs.take();
    let warned: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("undocumented task status"))
        .collect();
    assert_eq!(warned.len(), 2, "{text}");
    assert!(
        warned[0].contains("reviewing") && warned[1].contains("moderating"),
        "{warned:?}"
    );
}

/// Review 23-b #5: a status word, failure reason or `taskType` a server chooses is cut where
/// it is read and its control characters folded: a megabyte word holding a newline makes
/// neither a megabyte error nor a megabyte warn line on every poll, nor a forged log line.
#[tokio::test]
async fn a_megabyte_status_reason_or_type_is_cut_and_forges_no_log_line() {
    let (logs, _guard) = capture_logs();
    let big = megabyte_word();
    let server = Scripted::start(vec![detail("t-1", &big, json!({})); 3]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let policy = fast_wait(Provider::Vmeg).with_max_polls(Some(3));
    let e = c
        .wait_for_clone(&JobId::new("t-1"), &policy)
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::WaitTimedOut { .. }), "{e}");
    let shown = e.to_string();
    assert!(shown.len() < 2048 && !shown.contains('\n'), "{shown}");
    let text = logs.take();
    assert!(text.contains("undocumented task status"), "{text}");
    assert_no_forged_or_huge_line(&text);

    let failed = detail("t-1", "failed", json!({"errorMessage": big}));
    let server = Scripted::start(vec![failed]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let e = c
        .wait_for_clone(&JobId::new("t-1"), &fast_wait(Provider::Vmeg))
        .await
        .unwrap_err();
    let reason = folded_failure_reason(&e, 501);
    assert!(reason.starts_with("www"), "{reason}");
    assert!(e.to_string().len() < 2048);

    // A task type VMEG does not document, read as another kind or not: either way no
    // megabyte of it comes back.
    let typed = ok(json!({"taskId": "t-1", "taskType": big, "status": "running"}));
    let server = Scripted::start(vec![typed]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let shown = match c.clone_status(&JobId::new("t-1")).await {
        Ok(job) => format!("{job:?}"),
        Err(e) => format!("{e} {e:?}"),
    };
    assert!(shown.len() < 4096 && !shown.contains('\n'), "{shown}");
    assert_no_forged_or_huge_line(&logs.take());

    // Review 23 pass 2 #8: a line's `errorMessage` in a finished TTS task reaches the
    // wait's `TaskFailed` reason.
    let lines = json!({"taskId": "t-1", "results": [{"errorMessage": big}]});
    let finished =
        ok(json!({"taskId": "t-1", "taskType": "tts", "status": "finished", "result": lines}));
    let server = Scripted::start(vec![finished]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let e = c
        .wait_for_speech(&JobId::new("t-1"), &fast_wait(Provider::Vmeg))
        .await
        .unwrap_err();
    let reason = folded_failure_reason(&e, 600);
    assert!(reason.contains("www"), "{reason}");
    // `Client::task` keeps the status word of a known kind and of another product, and the
    // other product's type.
    for step in [
        detail("t-1", &big, json!({})),
        ok(json!({"taskId": "t-1", "taskType": big, "status": big})),
    ] {
        let server = Scripted::start(vec![step]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let d = c.task(&JobId::new("t-1")).await.unwrap();
        let shown = format!("{d:?}");
        assert!(shown.len() < 4096 && !shown.contains('\n'), "{shown}");
    }
    // A listed task's type and status word reach every `Candidates` sentence.
    let now = std::time::SystemTime::now();
    let at = jiff::Timestamp::try_from(now).unwrap().to_string();
    let record = json!({"taskId": "t-2", "taskType": big, "status": big, "createdAt": at});
    let list = ok(json!({"records": [record], "total": 1}));
    let server = Scripted::start(vec![list]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let r = c
        .reconcile(&voiceclone::ReconcileQuery::new(now))
        .await
        .unwrap();
    let shown = format!("{r} {r:?}");
    assert!(shown.contains("t-2"), "{shown}");
    assert!(shown.len() < 4096 && !shown.contains('\n'), "{shown}");
    assert_no_forged_or_huge_line(&logs.take());
}

/// Review 29-d #1: a finished TTS batch whose middle line failed is handed back, but
/// `audio_urls` holds only the lines that have audio (A and C), so it is no list to pair with
/// the lines: `segments[i]` is line `i`, `Speech::is_complete` says a line has none, and one
/// WARN names the task and how many of its lines lack audio.
#[tokio::test]
async fn a_batch_with_a_failed_line_is_incomplete_and_its_segments_keep_line_order() {
    let (logs, _guard) = capture_logs();
    let (a, c_url) = (
        "https://cdn.example.com/a.m4a",
        "https://cdn.example.com/c.m4a",
    );
    let finished = || {
        ok(
            json!({"taskId": "t-batch", "taskType": "tts", "status": "finished",
            "result": {"taskId": "t-batch", "results": [
                {"uri": a},
                {"uri": "", "errorMessage": "bad text"},
                {"uri": c_url}]}}),
        )
    };
    let server = Scripted::start(vec![finished(), finished()]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let id = JobId::new("t-batch");
    let speech = c
        .wait_for_speech(&id, &fast_wait(Provider::Vmeg))
        .await
        .unwrap();
    assert!(!speech.is_complete(), "{speech:?}");
    assert_eq!(speech.segments.len(), 3);
    assert!(speech.segments[1].url.is_none());
    assert_eq!(speech.segments[1].error.as_deref(), Some("bad text"));
    assert_eq!(
        speech.segments[2].url.as_ref().map(|u| u.as_str()),
        Some(c_url)
    );
    let urls: Vec<&str> = speech.audio_urls.iter().map(|u| u.as_str()).collect();
    assert_eq!(urls, [a, c_url]);
    let text = logs.take();
    let warned: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("without audio"))
        .collect();
    assert_eq!(warned.len(), 1, "{text}");
    assert!(
        warned[0].contains("t-batch") && warned[0].contains("1 of its 3 lines"),
        "{text}"
    );

    // A status read handing back the finished task says the same, once.
    let job = c.speech_status(&id).await.unwrap();
    assert!(!job.speech.unwrap().is_complete());
    let text = logs.take();
    let warned = text
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("without audio"))
        .count();
    assert_eq!(warned, 1, "{text}");
}

/// Review 29 pass 2-c #3: a synchronous TTS of 3 lines answered with 2 results (a failed line
/// dropped rather than listed with its `errorMessage`) is not complete: the request's line
/// count is at hand, and `segments[1]` may be line 3's audio. The speech says how many lines
/// were sent, and one WARN names the task and the count. Before: `is_complete()` was true and
/// nothing was logged. The same answer with 3 results is complete.
#[tokio::test]
async fn a_sync_answer_listing_fewer_results_than_lines_sent_is_incomplete() {
    let (logs, _guard) = capture_logs();
    let req = SpeechRequest::new("cv_1", "one")
        .add_line("cv_1", "two")
        .add_line("cv_1", "three")
        .synchronous(true);
    let (a, c_url) = (
        "https://cdn.example.com/a.m4a",
        "https://cdn.example.com/c.m4a",
    );
    let server = Scripted::start(vec![ok(json!({"taskId": "t-sync", "results": [
        {"uri": a}, {"uri": c_url}]}))])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let job = c.synthesize(&req).await.unwrap();
    assert_eq!(job.status, TaskStatus::Succeeded);
    let speech = job.speech.unwrap();
    assert_eq!(speech.segments.len(), 2);
    assert!(speech.segments.iter().all(|s| s.url.is_some()));
    assert_eq!(speech.lines_sent, Some(3));
    assert!(!speech.is_complete(), "{speech:?}");
    let text = logs.take();
    let warned: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("t-sync"))
        .collect();
    assert_eq!(warned.len(), 1, "{text}");
    assert!(
        warned[0].contains("lists 2 results for the 3 lines sent"),
        "{text}"
    );

    let server = Scripted::start(vec![ok(json!({"taskId": "t-sync", "results": [
        {"uri": a}, {"uri": a}, {"uri": c_url}]}))])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let speech = c.synthesize(&req).await.unwrap().speech.unwrap();
    assert_eq!(speech.lines_sent, Some(3));
    assert!(speech.is_complete(), "{speech:?}");
    let text = logs.take();
    assert!(!text.contains("WARN"), "{text}");
}
