//! A hostile-server review of the paths that create paid jobs and find them again: each test
//! names the scenario it attacks and failed on the code before its fix. Loopback only.

use crate::adapter_support::client;
use serde_json::json;
use std::time::SystemTime;
use voiceclone::{
    CloneRequest, Error, ErrorKind, JobKind, Provider, ReconcileQuery, SpeechRequest,
};
use workspace_tests::scripted::{Scripted, Step};

fn err(http: u16, code: i64, message: &str) -> Step {
    Step::status(
        http,
        json!({"code": code, "message": message, "data": null}),
    )
}

/// A VMEG clone create, or a TTS one: the same rules hold for both.
async fn create(c: &voiceclone::Client, speech: bool) -> voiceclone::Error {
    if speech {
        c.synthesize(&SpeechRequest::new("sv_en_us_female_01", "Hello."))
            .await
            .unwrap_err()
    } else {
        c.clone_voice(&clone_req()).await.unwrap_err()
    }
}

fn clone_req() -> CloneRequest {
    CloneRequest::new("https://cdn.example.com/sample.wav").name("narrator")
}

/// A VMEG write whose first attempt may have landed (connection dropped after the request
/// was sent, a 502, a 504) and whose retry (same key) then fails with an answer the table
/// does not retry (400, 401, 402, a business error in a 200): the first attempt's
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
        err(400, 400, "bad request"),
        err(401, 401, "Invalid or missing API Key"),
        err(402, 402, "insufficient credits"),
        err(200, 422, "unprocessable inside a 200"),
    ];
    for first in &maybe_landed {
        for second in &then_fail {
            for speech in [false, true] {
                let server = Scripted::start(vec![first.clone(), second.clone()]).await;
                let (c, _) = client(Provider::Vmeg, &server.base_url);
                let e = create(&c, speech).await;
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

/// A status answer about another task than the one asked (a misrouting proxy, a cache keyed
/// on the path without the query, a server bug): its result belongs to someone else's job.
/// The call must refuse it, never hand back a job for the asked id carrying the other
/// task's audio or voice, nor a job under the other task's id.
#[tokio::test]
async fn a_jimmyai_status_answer_about_another_task_is_refused() {
    // JimmyAI: `GET audios/{id}` answered with another task's id.
    let other = json!({"code": 20000, "msg": "ok", "data": {
        "id": "audio_other", "object": "audio", "created": 1781777280,
        "model": "soundCloningAudio", "status": "completed", "error": null,
        "audioUrl": "https://cdn.example.com/someone-else.mp3"}});
    let server = Scripted::start(vec![Step::ok(other)]).await;
    let (c, _) = client(Provider::JimmyAi, &server.base_url);
    let got = c.speech_status(&voiceclone::JobId::new("audio_mine")).await;
    match got {
        Err(e) => assert_eq!(*e.kind(), ErrorKind::InvalidResponse, "{e}"),
        Ok(job) => panic!("JimmyAI: a job for another task's answer: {job:?}"),
    }
    // Review 29-d #2: another id this crate would not accept (a C backend's trailing NUL, an
    // inner space, a `/`, more than 256 characters) is still another task, not "no id": the
    // asked id always passes the id check, so any other non-blank id names someone else's.
    let long = format!("audio_{}", "x".repeat(300));
    for named in [
        "audio_other\u{0}",
        "audio_mine\u{0}",
        "audio other",
        "audio/other",
        long.as_str(),
    ] {
        let other = json!({"code": 20000, "msg": "ok", "data": {
            "id": named, "object": "audio", "created": 1781777280,
            "model": "soundCloningAudio", "status": "completed", "error": null,
            "audioUrl": "https://cdn.example.com/someone-else.mp3"}});
        let server = Scripted::start(vec![Step::ok(other)]).await;
        let (c, _) = client(Provider::JimmyAi, &server.base_url);
        match c.speech_status(&voiceclone::JobId::new("audio_mine")).await {
            Err(e) => {
                assert_eq!(*e.kind(), ErrorKind::InvalidResponse, "{named:?}: {e}");
                // Quoted escaped and cut: no NUL, no 300 characters of it.
                let shown = e.to_string();
                assert!(shown.contains("not the task asked about"), "{shown}");
                assert!(!shown.contains('\u{0}') && shown.len() < 1024, "{shown}");
            }
            Ok(job) => panic!("JimmyAI {named:?}: a job for another task's answer: {job:?}"),
        }
    }
    // The asked id with blanks around it is the asked id.
    let padded = json!({"code": 20000, "msg": "ok", "data": {
        "id": " audio_mine ", "object": "audio", "created": 1781777280,
        "model": "soundCloningAudio", "status": "completed", "error": null,
        "audioUrl": "https://cdn.example.com/mine.mp3"}});
    let server = Scripted::start(vec![Step::ok(padded)]).await;
    let (c, _) = client(Provider::JimmyAi, &server.base_url);
    let job = c
        .speech_status(&voiceclone::JobId::new("audio_mine"))
        .await
        .unwrap();
    assert_eq!(job.id.as_str(), "audio_mine");
}

/// [`a_jimmyai_status_answer_about_another_task_is_refused`] for VMEG's `tasks/detail`, whose
/// `taskId` and `result.taskId` may each name another task.
#[tokio::test]
async fn a_vmeg_detail_answer_about_another_task_is_refused() {
    // `tasks/detail?taskId=t-mine` answered about `t-other`, whole or in its result only.
    // Review 29-d #2: also an id this crate would not accept (`/`, a trailing NUL, too
    // long), in `taskId` or `result.taskId`.
    let long = format!("t-{}", "x".repeat(300));
    for (outer, inner) in [
        ("t-other", "t-other"),
        ("t-mine", "t-other"),
        ("t-other", "t-mine"),
        ("t/other", "t-mine"),
        ("t-mine", "t/other"),
        ("t-mine\u{0}", "t-mine"),
        ("t-mine", long.as_str()),
    ] {
        let other = json!({"code": 200, "message": "", "data": {
            "taskId": outer, "taskType": "tts", "status": "finished",
            "result": {"taskId": inner, "results": [{"uri": "https://cdn.example.com/someone-else.m4a"}]}}});
        let server = Scripted::start(vec![Step::ok(other)]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let got = c.speech_status(&voiceclone::JobId::new("t-mine")).await;
        match got {
            Err(e) => assert_eq!(
                *e.kind(),
                ErrorKind::InvalidResponse,
                "{outer} {inner}: {e}"
            ),
            Ok(job) => panic!("VMEG {outer} {inner}: a job for another task's answer: {job:?}"),
        }
    }
    // The same answer about the asked task is read as before.
    let mine = json!({"code": 200, "message": "", "data": {
        "taskId": "t-mine", "taskType": "tts", "status": "finished",
        "result": {"taskId": "t-mine", "results": [{"uri": "https://cdn.example.com/mine.m4a"}]}}});
    let server = Scripted::start(vec![Step::ok(mine)]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let job = c
        .speech_status(&voiceclone::JobId::new("t-mine"))
        .await
        .unwrap();
    assert_eq!(job.id.as_str(), "t-mine");
    assert_eq!(job.speech.unwrap().audio_urls.len(), 1);
}

/// A 409 "key already used" on the first attempt of a create whose key the client made
/// itself (the caller gave none): nobody else can have used that key, so one of this call's
/// own requests landed (a gateway that retried the POST upstream, a load balancer's
/// `proxy_next_upstream`). The task exists: the call must end as `OutcomeUnknown` carrying
/// the key (so that `reconcile` and `resubmit_*` can find it), not as `Conflict` ("use a new
/// key for new work"), which carries no key and which `ReconcileQuery::from_error` refuses.
/// A key the caller gave keeps the documented `Conflict` (the caller reused it).
#[tokio::test]
async fn a_conflict_on_a_key_the_client_made_is_outcome_unknown_with_the_key() {
    let used = || {
        Step::Json(
            409,
            vec![("retry-after", "2".into())],
            json!({"code": 409, "message": "Idempotency key already used", "data": null}),
        )
    };
    for speech in [false, true] {
        let server = Scripted::start(vec![used()]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let e = create(&c, speech).await;
        let seen = server.seen();
        assert_eq!(seen.len(), 1, "never resent");
        let key = seen[0].header("x-idempotency-key").unwrap().to_string();
        match e.kind() {
            ErrorKind::OutcomeUnknown {
                idempotency_key, ..
            } => assert_eq!(idempotency_key.as_deref(), Some(key.as_str())),
            other => {
                panic!("speech {speech}: expected OutcomeUnknown with the key, got {other:?}: {e}")
            }
        }
        let q = voiceclone::ReconcileQuery::from_error(&e).unwrap();
        assert_eq!(q.idempotency_key.as_deref(), Some(key.as_str()));
    }

    // The caller's own key: `Conflict`, as documented.
    let server = Scripted::start(vec![used()]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let e = c
        .clone_voice(&clone_req().idempotency_key("order-42"))
        .await
        .unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::Conflict, "{e}");
    assert_eq!(server.seen().len(), 1);
}

/// A VMEG create whose attempts stretch over time (the first dropped after sending, a
/// retry that takes 1.5 s before an unreadable answer): the task it created may be as young
/// as the last attempt. The `OutcomeUnknown` says when that ended, and `reconcile`'s window
/// reaches that far past it. Before, the window was centred on the call's start only, so a
/// task made by a retry minutes later (4 attempts with `Retry-After: 30`, a sync create's
/// 180 s) fell outside it and `reconcile` said the submit "most likely created nothing".
#[tokio::test]
async fn reconcile_searches_up_to_the_last_attempt_of_a_call_that_retried() {
    let server = Scripted::start(vec![
        Step::Drop,
        Step::Hang(std::time::Duration::from_millis(1500)),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let e = c.clone_voice(&clone_req()).await.unwrap_err();
    let ErrorKind::OutcomeUnknown { submitted_at, .. } = e.kind() else {
        panic!("{e}");
    };
    let last = e.last_attempt_at().expect("the retry loop decided it");
    let span = last.duration_since(*submitted_at).unwrap();
    assert!(span >= std::time::Duration::from_millis(1400), "{span:?}");
    let q = voiceclone::ReconcileQuery::from_error(&e).unwrap();
    assert_eq!(q.last_attempt_at, Some(last));
    let (from, to) = q.bounds();
    assert_eq!(from, *submitted_at - q.window);
    assert_eq!(
        to,
        last + q.window,
        "the window reaches past the last attempt"
    );
}

/// README's "what to keep of a write whose outcome is unknown", as written there (the test
/// below checks the README still says the same).
macro_rules! readme_to_look_up {
    ($($code:tt)*) => {
        $($code)*
        const README_TO_LOOK_UP: &str = stringify!($($code)*);
    };
}

readme_to_look_up! {
    struct ToLookUp {
        kind: Option<String>,
        idempotency_key: Option<String>,
        voice_name: Option<String>,
        task_id: Option<String>,
        submitted_at: String,
        last_attempt_at: Option<String>,
        request: String,
    }

    fn to_look_up(err: &Error) -> Option<ToLookUp> {
        let rfc3339 = |t: SystemTime| humantime::format_rfc3339_nanos(t).to_string();
        let ErrorKind::OutcomeUnknown { request, .. } = err.kind() else {
            return None;
        };
        let q = ReconcileQuery::from_error(err).ok()?;
        Some(ToLookUp {
            kind: q.kind.map(|k| k.as_str().to_owned()),
            idempotency_key: q.idempotency_key,
            voice_name: q.voice_name,
            task_id: q.task_id.map(|id| id.to_string()),
            submitted_at: rfc3339(q.submitted_at),
            last_attempt_at: q.last_attempt_at.map(rfc3339),
            request: request.to_string(),
        })
    }

    fn query(kept: &ToLookUp) -> Option<ReconcileQuery> {
        let at = |t: &str| humantime::parse_rfc3339(t).ok();
        let mut q = ReconcileQuery::new(at(&kept.submitted_at)?);
        if let Some(kind) = &kept.kind {
            q = q.kind(match kind.as_str() {
                "clone" => JobKind::Clone,
                "speech" => JobKind::Speech,
                _ => return None,
            });
        }
        if let Some(t) = &kept.last_attempt_at {
            q = q.last_attempt_at(at(t)?);
        }
        if let Some(key) = &kept.idempotency_key {
            q = q.idempotency_key(key);
        }
        if let Some(name) = &kept.voice_name {
            q = q.voice_name(name);
        }
        if let Some(id) = &kept.task_id {
            q = q.task_id(id.as_str());
        }
        Some(q)
    }
}

/// What README says to keep of an unknown outcome rebuilds the query `from_error` gives,
/// whole: the last attempt's time, the kind and a clone's voice name included, for a clone and
/// a speech write. Before, the README kept the submit time alone (and as `{:?}`), so a query
/// rebuilt after a restart ended 120 s after the submit and a task made by a late retry read
/// as `Reconciled::None`; and then it kept no voice name (a VMEG clone found by its name
/// became `Candidates`) and searched clone tasks only (a speech task became `None`).
#[tokio::test]
async fn a_query_rebuilt_from_what_the_readme_keeps_spans_what_from_error_spans() {
    let late_retry = || {
        vec![
            Step::Drop,
            Step::Hang(std::time::Duration::from_millis(1500)),
        ]
    };
    // An answer naming its task that does not parse as an envelope (a repeated key).
    let named = vec![Step::Bytes(
        200,
        br#"{"code":200,"message":"","data":{"taskId":"t-7"},"message":""}"#.to_vec(),
    )];
    for (speech, steps, retried) in [
        (false, late_retry(), true),
        (true, late_retry(), true),
        (false, named, false),
    ] {
        let server = Scripted::start(steps).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let e = create(&c, speech).await;
        let kept = to_look_up(&e).expect("an unknown outcome");
        assert!(kept.request.contains("POST"), "{}", kept.request);
        let rebuilt = query(&kept).expect("the kept times parse back");
        let from_error = ReconcileQuery::from_error(&e).unwrap();
        assert_eq!(rebuilt, from_error, "speech: {speech}");
        if retried {
            assert!(
                rebuilt.bounds().1 > rebuilt.submitted_at + rebuilt.window,
                "the late retry is in the span"
            );
        } else {
            let id = rebuilt.task_id.as_ref().expect("the answer named its task");
            assert_eq!(id.as_str(), "t-7");
            assert_eq!(id.kind(), Some(JobKind::Clone), "{id}");
        }
        assert!(rebuilt.idempotency_key.is_some(), "{rebuilt:?}");
        if speech {
            assert_eq!(rebuilt.kind, Some(JobKind::Speech), "{rebuilt:?}");
            assert_eq!(rebuilt.voice_name, None, "{rebuilt:?}");
        } else {
            assert_eq!(rebuilt.kind, Some(JobKind::Clone), "{rebuilt:?}");
            assert_eq!(rebuilt.voice_name.as_deref(), Some("narrator"));
        }
    }

    // The README block is this code (doc comments and spacing aside).
    let readme = include_str!("../README.md");
    let start = readme
        .find("struct ToLookUp {")
        .expect("README keeps `ToLookUp`");
    let end = start
        + readme[start..]
            .find("# #[tokio::main")
            .expect("the block's hidden main");
    let code: String = readme[start..end]
        .lines()
        .filter(|l| !l.trim_start().starts_with("///"))
        .collect::<String>();
    let squeeze = |s: &str| s.split_whitespace().collect::<String>();
    assert_eq!(squeeze(&code), squeeze(README_TO_LOOK_UP));
}

/// A wait that meets an answer about another task refuses that answer and polls again: one
/// misrouted answer does not end the wait on a job that is still running (and paid for).
/// Before: the wait ended at once with `InvalidResponse`. Misrouted until the deadline, it
/// ends as a timed-out wait naming the last failure.
#[tokio::test]
async fn a_wait_polls_again_after_an_answer_about_another_task() {
    let detail = |id: &str, status: &str| {
        Step::ok(json!({"code": 200, "message": "", "data": {
            "taskId": id, "taskType": "tts", "status": status,
            "result": {"taskId": id, "results": [{"uri": format!("https://cdn.example.com/{id}.m4a")}]}}}))
    };
    let server = Scripted::start(vec![
        detail("t-other", "finished"),
        detail("t-other", "running"),
        detail("t-mine", "finished"),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let policy = crate::adapter_support::fast_wait(Provider::Vmeg);
    let speech = c
        .wait_for_speech(&voiceclone::JobId::new("t-mine"), &policy)
        .await
        .unwrap();
    assert_eq!(
        speech.audio_urls[0].as_str(),
        "https://cdn.example.com/t-mine.m4a"
    );
    assert_eq!(server.seen().len(), 3);

    // Only ever about another task: the wait ends after a few such answers in a row (as
    // after unreadable ones), not at its deadline (10 or 15 min by default); its error names
    // the other task and says the asked one may exist.
    let n = voiceclone::wait::UNREADABLE_POLLS_TOLERATED as usize;
    let server = Scripted::start(vec![detail("t-other", "finished"); n + 2]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let e = c
        .wait_for_speech(
            &voiceclone::JobId::new("t-mine"),
            &policy.clone().with_max_polls(Some(n as u32 + 2)),
        )
        .await
        .unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::InvalidResponse, "{e}");
    assert!(e.to_string().contains("t-other"), "{e}");
    assert!(!e.may_resubmit(), "{e}");
    assert_eq!(server.seen().len(), n);
    // One answer about the task between them breaks the row.
    let server = Scripted::start(vec![
        detail("t-other", "finished"),
        detail("t-other", "finished"),
        detail("t-mine", "running"),
        detail("t-other", "finished"),
        detail("t-other", "finished"),
        detail("t-mine", "finished"),
    ])
    .await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    c.wait_for_speech(&voiceclone::JobId::new("t-mine"), &policy)
        .await
        .unwrap();
    assert_eq!(server.seen().len(), 6);

    // The answer is about the task asked, but its own result names another: inconsistent,
    // not misrouted; asking again gets the same. The wait ends on it at once.
    let inconsistent = Step::ok(json!({"code": 200, "message": "", "data": {
        "taskId": "t-mine", "taskType": "tts", "status": "finished",
        "result": {"taskId": "t-other", "results": [{"uri": "https://cdn.example.com/t-other.m4a"}]}}}));
    let server = Scripted::start(vec![inconsistent.clone(), inconsistent]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    let e = c
        .wait_for_speech(&voiceclone::JobId::new("t-mine"), &policy)
        .await
        .unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::InvalidResponse, "{e}");
    assert_eq!(server.seen().len(), 1);
}

/// `Client::task` (VMEG) on an answer about the task asked whose own result names another
/// task: refused as `clone_status` and `speech_status` refuse it, never that other task's
/// voice or audio under the asked id. Before: `Ok` with `cv_other` or `t-other`'s audio.
#[tokio::test]
async fn the_task_read_refuses_a_result_about_another_task() {
    for (task_type, result) in [
        (
            "cloneVoice",
            json!({"taskId": "t-other", "voiceId": "cv_other"}),
        ),
        (
            "tts",
            json!({"taskId": "t-other", "results": [{"uri": "https://cdn.example.com/t-other.m4a"}]}),
        ),
    ] {
        let answer = Step::ok(json!({"code": 200, "message": "", "data": {
            "taskId": "t-mine", "taskType": task_type, "status": "finished", "result": result}}));
        let server = Scripted::start(vec![answer.clone(), answer]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let e = c
            .task(&voiceclone::JobId::new("t-mine"))
            .await
            .map(|d| format!("{d:?}"))
            .unwrap_err();
        assert_eq!(*e.kind(), ErrorKind::InvalidResponse, "{task_type}: {e}");
        assert!(e.to_string().contains("t-other"), "{task_type}: {e}");
        assert_eq!(server.seen().len(), 1, "{task_type}");
    }
}

/// Review 30-d #4: `Client::task` reads VMEG's `taskType` as the status calls and waits do,
/// in any case and with blanks around it: `TTS` is a speech task (with its audio, its
/// result's task id checked), `CloneVoice` a clone. Before: `TaskDetail::Other`, "a task of
/// another product", with no result, and the result's task id went unchecked.
#[tokio::test]
async fn the_task_read_types_a_task_in_any_case_as_the_status_calls_do() {
    for task_type in ["TTS", " tts ", "Tts"] {
        let answer = |result_task: &str| {
            Step::ok(json!({"code": 200, "message": "", "data": {
                "taskId": "t-mine", "taskType": task_type, "status": "finished",
                "result": {"taskId": result_task,
                    "results": [{"uri": "https://cdn.example.com/a.m4a"}]}}}))
        };
        let server = Scripted::start(vec![answer("t-mine"), answer("t-other")]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        let id = voiceclone::JobId::new("t-mine");
        match c.task(&id).await.unwrap() {
            voiceclone::TaskDetail::Speech(job) => {
                let speech = job.speech.expect("the audio");
                assert_eq!(speech.audio_urls.len(), 1, "{task_type:?}");
            }
            other => panic!("{task_type:?}: {other:?}"),
        }
        let e = c.task(&id).await.unwrap_err();
        assert_eq!(*e.kind(), ErrorKind::InvalidResponse, "{task_type:?}: {e}");
    }
    for task_type in ["CloneVoice", " CLONEVOICE"] {
        let answer = Step::ok(json!({"code": 200, "message": "", "data": {
            "taskId": "t-mine", "taskType": task_type, "status": "finished",
            "result": {"taskId": "t-mine", "voiceId": "cv_1"}}}));
        let server = Scripted::start(vec![answer]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        match c.task(&voiceclone::JobId::new("t-mine")).await.unwrap() {
            voiceclone::TaskDetail::Clone(job) => {
                assert_eq!(job.voice.expect("the voice").id, "cv_1", "{task_type:?}");
            }
            other => panic!("{task_type:?}: {other:?}"),
        }
    }
}
