//! Review 32-a #1: an answer whose body breaks off mid-stream (the connection closed before
//! its `Content-Length`, or in the middle of its chunked encoding) is a failure of the
//! connection after the request was sent, never "the API may have changed" (reqwest reports
//! the cut as a body it could not decode): a read is retried, a VMEG async create is retried
//! under its key, and a create that is not repeated ends `OutcomeUnknown` with what finds its
//! task. Before: `InvalidResponse`, not retried, and a write's error carried neither its key
//! nor its request.

use crate::adapter_support::{SECRET_KEY, capture_logs, client, fast_wait};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use voiceclone::{
    Client, CloneRequest, ErrorKind, JobId, JobKind, Provider, RecordingSleeper, RetryPolicy,
    SpeechRequest, VmegEngine,
};
use workspace_tests::scripted::{Scripted, Step};

/// A proxy's error page, cut off.
const PAGE: &str = "<html><head><title>502 Bad Gateway</title></head><body>";

/// The start of a success envelope naming a task, cut off before the id ends.
fn ok_part(provider: Provider) -> &'static str {
    match provider {
        Provider::Vmeg => r#"{"code":200,"message":"","data":{"taskId":"t-"#,
        _ => r#"{"code":20000,"msg":"ok","data":{"id":"audio_"#,
    }
}

/// A 200 and a 502, each cut before its announced length and in its chunked encoding.
fn cuts(provider: Provider) -> Vec<Step> {
    vec![
        Step::cut(200, ok_part(provider)),
        Step::cut_chunked(200, ok_part(provider)),
        Step::cut(502, PAGE),
        Step::cut_chunked(502, PAGE),
    ]
}

/// A client that makes one attempt per call (a wait's polls are its only repeats), and the
/// sleeper that records its pauses (a wait's), so that no test sleeps for real.
fn client_without_retries(provider: Provider, base: &str) -> (Client, RecordingSleeper) {
    let sleeper = RecordingSleeper::new();
    let c = Client::builder(provider)
        .api_key(SECRET_KEY)
        .base_url(base)
        .retry(RetryPolicy::none())
        .sleeper(Arc::new(sleeper.clone()))
        .build()
        .unwrap();
    (c, sleeper)
}

fn status_of(cut: &Step) -> u16 {
    match cut {
        Step::Cut { status, .. } => *status,
        other => panic!("not a cut: {other:?}"),
    }
}

fn vmeg_ok(data: Value) -> Step {
    Step::ok(json!({"code": 200, "message": "", "data": data}))
}

fn jimmyai_ok(data: Value) -> Step {
    Step::ok(json!({"code": 20000, "msg": "ok", "data": data}))
}

fn jimmyai_task(id: &str, model: &str, status: &str, extra: Value) -> Value {
    let mut t = json!({"id": id, "object": "audio", "created": 1781777280, "model": model,
        "status": status, "error": null});
    if let (Some(t), Some(extra)) = (t.as_object_mut(), extra.as_object()) {
        t.extend(extra.clone());
    }
    t
}

/// An answer accepting a create, for whichever call comes after the cut (never reached when
/// the create is not resent).
fn accepted(provider: Provider) -> Step {
    match provider {
        Provider::Vmeg => vmeg_ok(json!({"taskId": "t-2", "createdAt": "2026-11-21T00:00:00Z"})),
        _ => jimmyai_ok(jimmyai_task(
            "audio_2",
            "soundCloningClone",
            "queued",
            json!({}),
        )),
    }
}

fn clone_req(provider: Provider) -> CloneRequest {
    let req = CloneRequest::new("https://cdn.example.com/sample.wav");
    match provider {
        Provider::Vmeg => req
            .name("narrator")
            .language("en-US")
            .vmeg_engine(VmegEngine::V2),
        _ => req.sample_text("A short preview.").language("zh-CN"),
    }
}

fn speech_req(provider: Provider) -> SpeechRequest {
    match provider {
        Provider::Vmeg => SpeechRequest::new("cv_1", "Hello"),
        _ => SpeechRequest::new("model-1", "Hello"),
    }
}

/// A create (clone or speech) of `provider`, synchronous for VMEG when `sync`.
async fn create(
    c: &Client,
    provider: Provider,
    speech: bool,
    sync: bool,
) -> Result<(), voiceclone::Error> {
    // `synchronous` is VMEG's: set only when asked, as JimmyAI refuses it.
    if speech {
        let req = speech_req(provider);
        let req = if sync { req.synchronous(true) } else { req };
        c.synthesize(&req).await.map(|_| ())
    } else {
        let req = clone_req(provider);
        let req = if sync { req.synchronous(true) } else { req };
        c.clone_voice(&req).await.map(|_| ())
    }
}

/// A create no attempt of which is repeated (a JimmyAI create, which has no key; a VMEG
/// synchronous one, which may still be running) and whose answer breaks off: `OutcomeUnknown`
/// at once, sent once, with the request's summary, the submit time, the VMEG key as sent and
/// the "write outcome unknown" WARN line; the 502's status kept. Before: `InvalidResponse`
/// ("the API may have changed") with none of these, and no WARN line.
#[tokio::test]
async fn a_create_whose_answer_breaks_off_is_an_unknown_outcome_sent_once() {
    let (logs, _guard) = capture_logs();
    for (provider, sync) in [(Provider::JimmyAi, false), (Provider::Vmeg, true)] {
        for speech in [false, true] {
            for cut in cuts(provider) {
                let what = format!("{provider} speech={speech} sync={sync} {cut:?}");
                let status = status_of(&cut);
                let server = Scripted::start(vec![cut, accepted(provider)]).await;
                let (c, sleeper) = client(provider, &server.base_url);
                let before = std::time::SystemTime::now();
                let _ = logs.take();
                let e = create(&c, provider, speech, sync).await.unwrap_err();
                let what = format!("{what}: {e}");
                assert_eq!(server.seen().len(), 1, "{what}: resent");
                assert!(sleeper.sleeps().is_empty(), "{what}");
                match e.kind() {
                    ErrorKind::OutcomeUnknown {
                        idempotency_key,
                        submitted_at,
                        request,
                        ..
                    } => {
                        let sent = server.seen()[0]
                            .header("x-idempotency-key")
                            .map(str::to_owned);
                        assert_eq!(idempotency_key, &sent, "{what}");
                        assert_eq!(sent.is_some(), provider == Provider::Vmeg, "{what}");
                        assert!(*submitted_at >= before - Duration::from_secs(1), "{what}");
                        assert_eq!(request.method, "POST", "{what}");
                        assert!(!request.fields.is_empty(), "{what}");
                    }
                    other => panic!("{what}: expected OutcomeUnknown, got {other:?}"),
                }
                assert!(!e.may_resubmit(), "{what}");
                assert!(!e.is_transient(), "{what}");
                assert_eq!(e.phase(), voiceclone::Phase::Sent, "{what}");
                assert_eq!(e.http_status(), Some(status), "{what}");
                let text = logs.take();
                let warned: Vec<&str> = text
                    .lines()
                    .filter(|l| l.contains(" WARN ") && l.contains("write outcome unknown"))
                    .collect();
                assert_eq!(warned.len(), 1, "{what}: {text}");
                assert!(warned[0].contains("submitted_at="), "{what}: {}", warned[0]);
                assert!(!text.contains(SECRET_KEY), "{what}: {text}");
            }
        }
    }
}

/// A VMEG async create whose answer breaks off is retried under its key (a retry settles it:
/// an acceptance, or a 409 for the key), and ends `OutcomeUnknown` with the key when every
/// attempt breaks off. Before: `InvalidResponse` after one request, the key lost.
#[tokio::test]
async fn a_vmeg_async_create_whose_answer_breaks_off_is_retried_under_its_key() {
    for speech in [false, true] {
        for cut in cuts(Provider::Vmeg) {
            let what = format!("speech={speech} {cut:?}");
            let server = Scripted::start(vec![cut.clone(), accepted(Provider::Vmeg)]).await;
            let (c, _) = client(Provider::Vmeg, &server.base_url);
            let r = create(&c, Provider::Vmeg, speech, false).await;
            assert!(r.is_ok(), "{what}: {r:?}");
            let seen = server.seen();
            assert_eq!(seen.len(), 2, "{what}");
            assert!(seen[0].header("x-idempotency-key").is_some(), "{what}");
            assert_eq!(
                seen[0].header("x-idempotency-key"),
                seen[1].header("x-idempotency-key"),
                "{what}"
            );

            // Every attempt (the test client makes 3) breaks off.
            let server = Scripted::start(vec![cut.clone(), cut.clone(), cut]).await;
            let (c, _) = client(Provider::Vmeg, &server.base_url);
            let e = create(&c, Provider::Vmeg, speech, false).await.unwrap_err();
            let seen = server.seen();
            assert_eq!(seen.len(), 3, "{what}: {e}");
            let sent = seen[0].header("x-idempotency-key");
            assert!(seen.iter().all(|s| s.header("x-idempotency-key") == sent));
            match e.kind() {
                ErrorKind::OutcomeUnknown {
                    idempotency_key, ..
                } => assert_eq!(idempotency_key.as_deref(), sent, "{what}"),
                other => panic!("{what}: expected OutcomeUnknown, got {other:?}: {e}"),
            }
            let query = voiceclone::ReconcileQuery::from_error(&e);
            assert!(query.is_ok(), "{what}: {e}");
        }
    }
}

/// A status read whose answer breaks off is retried, and then read; alone, it is a transient
/// `Transport` failure after sending. Before: `InvalidResponse`, not transient, not retried.
#[tokio::test]
async fn a_status_read_whose_answer_breaks_off_is_retried() {
    for provider in Provider::ALL {
        let running = match provider {
            Provider::Vmeg => vmeg_ok(
                json!({"taskId": "t-1", "taskType": "cloneVoice", "status": "running", "result": null}),
            ),
            _ => jimmyai_ok(jimmyai_task(
                "audio_1",
                "soundCloningClone",
                "processing",
                json!({}),
            )),
        };
        let id = match provider {
            Provider::Vmeg => JobId::typed(provider, JobKind::Clone, "t-1"),
            _ => JobId::typed(provider, JobKind::Clone, "audio_1"),
        };
        for cut in cuts(provider) {
            let what = format!("{provider} {cut:?}");
            let server = Scripted::start(vec![cut.clone(), running.clone()]).await;
            let (c, sleeper) = client(provider, &server.base_url);
            let status = c.clone_status(&id).await;
            assert!(
                status.as_ref().is_ok_and(|s| !s.status.is_terminal()),
                "{what}: {status:?}"
            );
            assert_eq!(server.seen().len(), 2, "{what}");
            assert_eq!(sleeper.sleeps().len(), 1, "{what}");

            let server = Scripted::start(vec![cut.clone()]).await;
            let (c, _) = client_without_retries(provider, &server.base_url);
            let e = c.clone_status(&id).await.unwrap_err();
            assert_eq!(e.kind(), &ErrorKind::Transport, "{what}: {e}");
            assert!(e.is_transient(), "{what}: {e}");
            assert_eq!(e.http_status(), Some(status_of(&cut)), "{what}: {e}");
            assert!(e.to_string().contains("broke off"), "{what}: {e}");
            assert!(
                !e.to_string().contains("API may have changed"),
                "{what}: {e}"
            );
        }
    }
}

/// A wait one of whose polls breaks off (a load balancer's idle reset) polls again and ends
/// with the task's result; the client makes one attempt per poll, so the wait itself sees the
/// failure. Before: the wait of a paid job ended on that one poll (`InvalidResponse`).
#[tokio::test]
async fn a_wait_whose_poll_breaks_off_polls_again() {
    for provider in Provider::ALL {
        let (running, id) = speech_task(provider, false);
        let (finished, _) = speech_task(provider, true);
        for cut in cuts(provider) {
            let what = format!("{provider} {cut:?}");
            let server = Scripted::start(vec![running.clone(), cut, finished.clone()]).await;
            let (c, _) = client_without_retries(provider, &server.base_url);
            let speech = c.wait_for_speech(&id, &fast_wait(provider)).await;
            let speech = speech.unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(
                speech.audio_urls[0].as_str(),
                "https://cdn.example.com/a.m4a",
                "{what}"
            );
            assert_eq!(server.seen().len(), 3, "{what}");
        }
    }
}

/// A body that arrived whole but is not JSON is still an answer that could not be read (a
/// read is not retried on it; a write's 2xx is `OutcomeUnknown` as before), and one past the
/// size limit is still refused as too large: neither is taken for a cut.
#[tokio::test]
async fn a_whole_body_that_is_not_json_is_no_cut() {
    for provider in Provider::ALL {
        let id = JobId::typed(provider, JobKind::Clone, "t-1");
        let server = Scripted::start(vec![Step::Raw(200, "{\"code\":")]).await;
        let (c, _) = client_without_retries(provider, &server.base_url);
        let e = c.clone_status(&id).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidResponse, "{provider}: {e}");
        assert!(!e.is_transient(), "{provider}: {e}");

        let big: &'static str = Box::leak("x".repeat(4096).into_boxed_str());
        let server = Scripted::start(vec![Step::Raw(502, big)]).await;
        let c = Client::builder(provider)
            .api_key(SECRET_KEY)
            .base_url(&server.base_url)
            .retry(RetryPolicy::none())
            .max_response_bytes(1024)
            .build()
            .unwrap();
        let e = c.clone_status(&id).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidResponse, "{provider}: {e}");
        assert!(
            e.to_string().contains("max_response_bytes"),
            "{provider}: {e}"
        );
    }
}

/// Review 32 pass 2-a #2: an answer to a create that names its task before it breaks off (a
/// 200, or a failure naming its task as VMEG's 502 does) leaves an `OutcomeUnknown` carrying
/// that id, sent once, by its length, in its chunked encoding, as a 2xx the generated client
/// reads or a failure status read as bytes: for JimmyAI, which has no task list, the id is
/// the only handle to a task that may be billed. A VMEG async create that names its task is
/// not resent under its key either (whether a failed attempt uses the key up is UNKNOWN).
/// Before: `task_id` `None`, the bytes that named it dropped.
#[tokio::test]
async fn a_create_whose_answer_breaks_off_after_its_task_id_keeps_the_id() {
    let cases: [(Provider, bool, u16, &'static str, &str); 6] = [
        (
            Provider::JimmyAi,
            false,
            200,
            r#"{"code":20000,"msg":"ok","data":{"id":"audio_7","status":"#,
            "audio_7",
        ),
        (
            Provider::JimmyAi,
            false,
            502,
            r#"{"code":-1,"msg":"busy","data":{"id":"audio_7","status":"queued""#,
            "audio_7",
        ),
        (
            Provider::Vmeg,
            true,
            200,
            r#"{"code":200,"message":"","data":{"taskId":"t-7","createdAt":"2026"#,
            "t-7",
        ),
        (
            Provider::Vmeg,
            false,
            200,
            r#"{"code":200,"message":"","data":{"taskId":"t-7","#,
            "t-7",
        ),
        (
            Provider::Vmeg,
            true,
            502,
            r#"{"code":502,"message":"upstream","data":{"taskId":"t-7""#,
            "t-7",
        ),
        (
            Provider::Vmeg,
            false,
            502,
            r#"{"code":502,"message":"upstream","data":{"taskId":"t-7","result"#,
            "t-7",
        ),
    ];
    for (provider, sync, status, part, id) in cases {
        for speech in [false, true] {
            for cut in [Step::cut(status, part), Step::cut_chunked(status, part)] {
                let what = format!("{provider} speech={speech} sync={sync} {cut:?}");
                let server = Scripted::start(vec![cut, accepted(provider)]).await;
                let (c, _) = client(provider, &server.base_url);
                let e = create(&c, provider, speech, sync).await.unwrap_err();
                let what = format!("{what}: {e}");
                assert_eq!(server.seen().len(), 1, "{what}: resent");
                match e.kind() {
                    ErrorKind::OutcomeUnknown {
                        task_id: Some(named),
                        ..
                    } => assert_eq!(named.as_str(), id, "{what}"),
                    other => panic!("{what}: expected OutcomeUnknown naming {id}, got {other:?}"),
                }
                assert!(!e.may_resubmit(), "{what}");
            }
        }
    }
}

/// An id that had not arrived whole when the body broke off names nothing (a string before
/// its closing quote, a number before what ends it: `"id":12` may have been `"id":123`), nor
/// does one outside `data` or another vendor's field; the create is still an unknown outcome.
#[tokio::test]
async fn an_id_cut_off_before_its_end_names_no_task() {
    for (provider, part) in [
        (
            Provider::JimmyAi,
            r#"{"code":20000,"msg":"ok","data":{"id":"audio_7"#,
        ),
        (
            Provider::JimmyAi,
            r#"{"code":20000,"msg":"ok","data":{"id":7"#,
        ),
        (
            Provider::JimmyAi,
            r#"{"code":20000,"msg":"ok","id":"audio_7","data":{"#,
        ),
        (
            Provider::JimmyAi,
            r#"{"code":20000,"msg":"ok","data":{"id":"audio_7","id":"audio_8","#,
        ),
        (
            Provider::Vmeg,
            r#"{"code":200,"message":"","data":{"id":"voice_7","taskId":"t-"#,
        ),
    ] {
        let sync = provider == Provider::Vmeg;
        let server = Scripted::start(vec![Step::cut(200, part), accepted(provider)]).await;
        let (c, _) = client(provider, &server.base_url);
        let e = create(&c, provider, false, sync).await.unwrap_err();
        let what = format!("{provider} {part}: {e}");
        assert_eq!(server.seen().len(), 1, "{what}: resent");
        match e.kind() {
            ErrorKind::OutcomeUnknown { task_id: None, .. } => {}
            other => panic!("{what}: expected OutcomeUnknown naming nothing, got {other:?}"),
        }
    }
}

/// A speech task's status answer, still running or `done` with its audio, and the id to read
/// it by.
fn speech_task(provider: Provider, done: bool) -> (Step, JobId) {
    match provider {
        Provider::Vmeg => {
            let answer = if done {
                json!({"taskId": "tts-1", "taskType": "tts", "status": "finished",
                "result": {"results": [{"uri": "https://cdn.example.com/a.m4a", "duration": 1.5}]}})
            } else {
                json!({"taskId": "tts-1", "taskType": "tts", "status": "running", "result": null})
            };
            (
                vmeg_ok(answer),
                JobId::typed(provider, JobKind::Speech, "tts-1"),
            )
        }
        _ => {
            let (status, extra) = if done {
                (
                    "completed",
                    json!({"audioUrl": "https://cdn.example.com/a.m4a"}),
                )
            } else {
                ("queued", json!({}))
            };
            let answer = jimmyai_task("audio_9", "soundCloningAudio", status, extra);
            (
                jimmyai_ok(answer),
                JobId::typed(provider, JobKind::Speech, "audio_9"),
            )
        }
    }
}

/// A running clone task's status answer and the id to read it by.
fn running_clone(provider: Provider) -> (Step, JobId) {
    match provider {
        Provider::Vmeg => (
            vmeg_ok(
                json!({"taskId": "t-1", "taskType": "cloneVoice", "status": "running", "result": null}),
            ),
            JobId::typed(provider, JobKind::Clone, "t-1"),
        ),
        _ => (
            jimmyai_ok(jimmyai_task(
                "audio_1",
                "soundCloningClone",
                "processing",
                json!({}),
            )),
            JobId::typed(provider, JobKind::Clone, "audio_1"),
        ),
    }
}

/// Review 32 pass 2-a #3: a cut failure keeps the `Retry-After` its headers carried (a 429, a
/// 503): a read, and a VMEG async create under its key, wait that long before the repeat,
/// not the policy's backoff alone (about 0.2 s, four quick requests at a server that asked
/// for 3 s). Before: the header was read only for a body that arrived whole. A cut 2xx's is
/// not kept (`a_cut_2xx_asks_no_pause_of_its_repeat`).
#[tokio::test]
async fn a_cut_answer_keeps_its_retry_after() {
    for provider in Provider::ALL {
        let (running, id) = running_clone(provider);
        for cut in [
            Step::cut(429, PAGE),
            Step::cut(503, PAGE),
            Step::cut_chunked(503, PAGE),
        ] {
            let cut = cut.with_header("retry-after", "3");
            let what = format!("{provider} {cut:?}");
            let server = Scripted::start(vec![cut, running.clone()]).await;
            let (c, sleeper) = client(provider, &server.base_url);
            let status = c.clone_status(&id).await;
            assert!(status.is_ok(), "{what}: {status:?}");
            assert_eq!(server.seen().len(), 2, "{what}");
            assert_eq!(sleeper.sleeps(), vec![Duration::from_secs(3)], "{what}");
        }
    }
    for speech in [false, true] {
        for cut in [Step::cut(503, PAGE), Step::cut_chunked(429, PAGE)] {
            let cut = cut.with_header("retry-after", "3");
            let what = format!("speech={speech} {cut:?}");
            let server = Scripted::start(vec![cut, accepted(Provider::Vmeg)]).await;
            let (c, sleeper) = client(Provider::Vmeg, &server.base_url);
            let r = create(&c, Provider::Vmeg, speech, false).await;
            assert!(r.is_ok(), "{what}: {r:?}");
            let seen = server.seen();
            assert_eq!(seen.len(), 2, "{what}");
            assert_eq!(
                seen[0].header("x-idempotency-key"),
                seen[1].header("x-idempotency-key"),
                "{what}"
            );
            assert_eq!(sleeper.sleeps(), vec![Duration::from_secs(3)], "{what}");
        }
    }
}

/// Review 32 pass 3 #5: a cut 2xx's `Retry-After` (a 202's polling hint of 60 s, past the
/// policy's `max_retry_after`) is not obeyed: the status says nothing failed and the code
/// that would say more was lost, and a whole 2xx with the success code is never paced by it
/// either. A status read, and a VMEG async create under its key, are repeated on the policy's
/// backoff, as the same cut without the header is; a wait's next poll comes when it would
/// have. Before: the driver gave up after one attempt (the create `OutcomeUnknown`, where a
/// repeat under the key settles it), and the wait's poll was pushed 60 s out.
#[tokio::test]
async fn a_cut_2xx_asks_no_pause_of_its_repeat() {
    let hinted = |cut: &Step| cut.clone().with_header("retry-after", "60");
    for provider in Provider::ALL {
        let (running, id) = running_clone(provider);
        let (pending, wait_id) = speech_task(provider, false);
        let (finished, _) = speech_task(provider, true);
        for status in [200, 202] {
            let part = ok_part(provider);
            for cut in [Step::cut(status, part), Step::cut_chunked(status, part)] {
                let what = format!("{provider} {cut:?}");
                let plain = Scripted::start(vec![cut.clone(), running.clone()]).await;
                let (c, backoff) = client(provider, &plain.base_url);
                let read = c.clone_status(&id).await;
                assert!(read.is_ok(), "{what}: {read:?}");

                let server = Scripted::start(vec![hinted(&cut), running.clone()]).await;
                let (c, sleeper) = client(provider, &server.base_url);
                let read = c.clone_status(&id).await;
                assert!(read.is_ok(), "{what}: {read:?}");
                assert_eq!(server.seen().len(), 2, "{what}");
                assert_eq!(sleeper.sleeps(), backoff.sleeps(), "{what}");
                assert!(sleeper.sleeps()[0] < Duration::from_secs(3), "{what}");

                let steps = |cut: Step| vec![pending.clone(), cut, finished.clone()];
                let plain = Scripted::start(steps(cut.clone())).await;
                let (c, polls) = client_without_retries(provider, &plain.base_url);
                let waited = c.wait_for_speech(&wait_id, &fast_wait(provider)).await;
                assert!(waited.is_ok(), "{what}: {waited:?}");

                let server = Scripted::start(steps(hinted(&cut))).await;
                let (c, sleeper) = client_without_retries(provider, &server.base_url);
                let waited = c.wait_for_speech(&wait_id, &fast_wait(provider)).await;
                assert!(waited.is_ok(), "{what}: {waited:?}");
                assert_eq!(server.seen().len(), 3, "{what}");
                assert_eq!(sleeper.sleeps(), polls.sleeps(), "{what}: a wait's poll");
            }
        }
    }
    for speech in [false, true] {
        for cut in [Step::cut(202, PAGE), Step::cut_chunked(202, PAGE)] {
            let what = format!("speech={speech} {cut:?}");
            let plain = Scripted::start(vec![cut.clone(), accepted(Provider::Vmeg)]).await;
            let (c, backoff) = client(Provider::Vmeg, &plain.base_url);
            let r = create(&c, Provider::Vmeg, speech, false).await;
            assert!(r.is_ok(), "{what}: {r:?}");

            let server = Scripted::start(vec![hinted(&cut), accepted(Provider::Vmeg)]).await;
            let (c, sleeper) = client(Provider::Vmeg, &server.base_url);
            let r = create(&c, Provider::Vmeg, speech, false).await;
            assert!(r.is_ok(), "{what}: {r:?}");
            let seen = server.seen();
            assert_eq!(seen.len(), 2, "{what}");
            assert!(seen[0].header("x-idempotency-key").is_some(), "{what}");
            assert_eq!(
                seen[0].header("x-idempotency-key"),
                seen[1].header("x-idempotency-key"),
                "{what}"
            );
            assert_eq!(sleeper.sleeps(), backoff.sleeps(), "{what}");
        }
    }
}

/// Review 32 pass 2-a #3: on a read, a wait's poll or an upload, a cut 4xx refusal (not 408
/// or 429) is that refusal by its status, as the same status with a whole body that is no
/// envelope: not transient, not repeated, and a wait ends on a cut 401 at once (README: a 401
/// during a wait is `unauthorized`). A cut 408 or 429 is still repeated. Before: `Transport`,
/// transient, so the read was repeated and a wait polled to its deadline.
#[tokio::test]
async fn a_cut_refusal_on_a_read_or_an_upload_is_that_refusal() {
    let refusals = [
        (401, ErrorKind::Unauthorized),
        (403, ErrorKind::Unauthorized),
        (404, ErrorKind::NotFound),
        (400, ErrorKind::InvalidRequest),
        (402, ErrorKind::PaymentRequired),
    ];
    for provider in Provider::ALL {
        let (running, id) = running_clone(provider);
        for (status, kind) in refusals.clone() {
            for cut in [Step::cut(status, PAGE), Step::cut_chunked(status, PAGE)] {
                let what = format!("{provider} {cut:?}");
                let server = Scripted::start(vec![cut, running.clone()]).await;
                let (c, sleeper) = client(provider, &server.base_url);
                let e = c.clone_status(&id).await.unwrap_err();
                let what = format!("{what}: {e}");
                assert_eq!(e.kind(), &kind, "{what}");
                assert!(!e.is_transient(), "{what}");
                assert_eq!(e.http_status(), Some(status), "{what}");
                assert_eq!(server.seen().len(), 1, "{what}");
                assert!(sleeper.sleeps().is_empty(), "{what}");
                assert!(!e.to_string().contains(SECRET_KEY), "{what}");
            }
        }
        for status in [408, 429] {
            let server = Scripted::start(vec![Step::cut(status, PAGE), running.clone()]).await;
            let (c, _) = client(provider, &server.base_url);
            let r = c.clone_status(&id).await;
            assert!(r.is_ok(), "{provider} {status}: {r:?}");
            assert_eq!(server.seen().len(), 2, "{provider} {status}");
        }

        // A wait whose poll is a cut 401 ends at once.
        let (finished, wait_id) = speech_task(provider, true);
        let server = Scripted::start(vec![Step::cut(401, PAGE), finished]).await;
        let (c, _) = client_without_retries(provider, &server.base_url);
        let e = c
            .wait_for_speech(&wait_id, &fast_wait(provider))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Unauthorized, "{provider}: {e}");
        assert_eq!(server.seen().len(), 1, "{provider}: {e}");

        // An upload (VMEG's `gen-upload-url`, JimmyAI's `files/upload`): refused, not repeated.
        let server = Scripted::start(vec![Step::cut(401, PAGE), Step::cut(401, PAGE)]).await;
        let (c, _) = client(provider, &server.base_url);
        let e = c
            .upload(&voiceclone::AudioSource::Bytes {
                file_name: "c.wav".into(),
                bytes: crate::adapter_upload::wav(200).into(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Unauthorized, "{provider}: {e}");
        assert_eq!(server.seen().len(), 1, "{provider}: {e}");
    }
}

/// A write keeps `Transport` on a cut 4xx (review 32 pass 2-a #3): its refusal is the
/// vendor's code, which was in the lost body (VMEG: "decided by code"), so a JimmyAI create
/// and a VMEG synchronous create end `OutcomeUnknown`, sent once, and a VMEG async create is
/// repeated under its key.
#[tokio::test]
async fn a_cut_refusal_on_a_write_is_no_refusal() {
    for (provider, sync) in [
        (Provider::JimmyAi, false),
        (Provider::Vmeg, true),
        (Provider::Vmeg, false),
    ] {
        for status in [400, 401, 404] {
            let what = format!("{provider} sync={sync} {status}");
            let server = Scripted::start(vec![Step::cut(status, PAGE), accepted(provider)]).await;
            let (c, _) = client(provider, &server.base_url);
            let r = create(&c, provider, false, sync).await;
            if provider == Provider::Vmeg && !sync {
                assert!(r.is_ok(), "{what}: {r:?}");
                assert_eq!(server.seen().len(), 2, "{what}");
                continue;
            }
            let e = r.unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }),
                "{what}: {e}"
            );
            assert!(!e.may_resubmit(), "{what}: {e}");
            assert_eq!(server.seen().len(), 1, "{what}: {e}");
        }
    }
}
