//! Issue 14 point 5: JimmyAI's answer to an unknown task id is UNKNOWN (api-facts B6), so a
//! refusal of a task lookup names the id and says "unknown id or invalid request"; the kind
//! is `NotFound` only where the vendor says not found (an HTTP 404).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use voiceclone::{
    Client, ErrorKind, JobId, JobKind, Provider, RecordingSleeper, RetryPolicy, WaitPolicy,
};
use voiceclone_sim::{SimConfig, Simulator};
use workspace_tests::scripted::{Scripted, Step};

fn client(base: &str, key: &str) -> Client {
    Client::builder(Provider::JimmyAi)
        .api_key(key)
        .base_url(base)
        .retry(RetryPolicy::none())
        .sleeper(Arc::new(RecordingSleeper::new()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_unknown_jimmyai_task_id_is_named_and_not_called_not_found() {
    let sim = Simulator::start_with(SimConfig::default().with_speed(1000.0))
        .await
        .unwrap();
    let c = client(&sim.base_url(), sim.api_key());
    let id = JobId::typed(Provider::JimmyAi, JobKind::Clone, "audio_no_such_task");
    let e = c.clone_status(&id).await.unwrap_err();
    // The simulator answers code 20002 (a third-party summary's "invalid request").
    assert_eq!(e.kind(), &ErrorKind::InvalidRequest, "{e}");
    let text = e.to_string();
    assert!(text.contains("\"audio_no_such_task\""), "{text}");
    assert!(text.contains("unknown id or invalid request"), "{text}");

    // A wait ends with the same error, not after its deadline.
    let speech = JobId::typed(Provider::JimmyAi, JobKind::Speech, "audio_gone");
    let e = c
        .wait_for_speech(
            &speech,
            &WaitPolicy::for_provider(Provider::JimmyAi)
                .with_first_interval(Duration::from_millis(1))
                .with_max_polls(Some(3)),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidRequest, "{e}");
    assert!(
        e.note().unwrap_or_default().contains("\"audio_gone\""),
        "{e}"
    );
    // Review 33-a #6: the wait's job may exist (the id was the caller's to hold), so the
    // text does not advise sending the request again, as `may_resubmit` does not.
    assert!(!e.may_resubmit(), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("does not show the task is gone")
            && !text.contains("before sending it again"),
        "{text}"
    );
}

#[tokio::test]
async fn not_found_only_when_the_vendor_says_so() {
    let server = Scripted::start(vec![Step::status(
        404,
        json!({"code": 404, "msg": "Not Found", "data": null}),
    )])
    .await;
    let c = client(&server.base_url, "k-123456");
    let e = c.clone_status(&JobId::new("audio_404")).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NotFound, "{e}");
    assert!(
        e.to_string().contains("unknown id or invalid request"),
        "{e}"
    );
    assert!(e.to_string().contains("\"audio_404\""), "{e}");

    // Other failures are not called an unknown id.
    let server = Scripted::start(vec![Step::Raw(503, "busy")]).await;
    let c = client(&server.base_url, "k-123456");
    let e = c.clone_status(&JobId::new("audio_1")).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Server, "{e}");
    assert!(e.note().is_none(), "{e}");
}

/// A JimmyAI task answer for `audio_1` with `status` (and audio once `completed`).
fn jimmyai_task(status: &str) -> Step {
    let audio = (status == "completed").then_some("https://cdn.example.com/a.mp3");
    Step::ok(json!({"code": 20000, "msg": "ok", "data": {
        "id": "audio_1", "object": "audio", "created": 1781777280,
        "model": "soundCloningAudio", "status": status, "error": null, "audioUrl": audio}}))
}

fn fast(provider: Provider) -> WaitPolicy {
    WaitPolicy::for_provider(provider)
        .with_first_interval(Duration::from_millis(1))
        .with_max_polls(Some(20))
}

/// Review 29-d #3: a poll answered with a business code JimmyAI does not document (a busy
/// or rate-limit answer of its own, HTTP 200) or with a success envelope holding no task
/// (`data: null`, maybe an id it does not know yet) says nothing final about the task: the
/// wait polls again, up to `UNREADABLE_POLLS_TOLERATED` such answers in a row, as for an
/// unreadable page. Then it ends with that error, which names the id. Before, the first one
/// ended the wait.
#[tokio::test]
async fn a_jimmyai_wait_polls_past_a_few_undocumented_codes_or_task_less_answers() {
    let tolerated = voiceclone::wait::UNREADABLE_POLLS_TOLERATED as usize;
    let id = JobId::typed(Provider::JimmyAi, JobKind::Speech, "audio_1");
    let busy = || Step::ok(json!({"code": 50000, "msg": "system busy", "data": null}));
    let empty = || Step::ok(json!({"code": 20000, "msg": "ok", "data": null}));
    let absent = || Step::ok(json!({"code": 20000, "msg": "ok"}));
    // Review 30-d #1: PHP's empty object (`[]`) and an empty string hold no task either.
    let list = || Step::ok(json!({"code": 20000, "msg": "ok", "data": []}));
    let blank = || Step::ok(json!({"code": 20000, "msg": "ok", "data": ""}));
    for (what, answer, kind) in [
        (
            "undocumented code",
            &busy as &dyn Fn() -> Step,
            ErrorKind::Vendor,
        ),
        ("data: null", &empty, ErrorKind::InvalidResponse),
        ("no data", &absent, ErrorKind::InvalidResponse),
        ("data: []", &list, ErrorKind::InvalidResponse),
        ("data: \"\"", &blank, ErrorKind::InvalidResponse),
    ] {
        // Twice (one fewer than the bound), then the task: the wait reads on.
        let mut steps = vec![jimmyai_task("processing")];
        steps.extend((1..tolerated).map(|_| answer()));
        steps.push(jimmyai_task("completed"));
        let polls = steps.len();
        let server = Scripted::start(steps).await;
        let c = client(&server.base_url, "k-123456");
        let speech = c
            .wait_for_speech(&id, &fast(Provider::JimmyAi))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(speech.audio_urls.len(), 1, "{what}");
        assert_eq!(server.seen().len(), polls, "{what}");

        // One more than the bound in a row: the wait ends on the bound's one, with that
        // error, naming the id, never "submit again".
        let mut steps = vec![jimmyai_task("processing")];
        steps.extend((0..=tolerated).map(|_| answer()));
        let server = Scripted::start(steps).await;
        let c = client(&server.base_url, "k-123456");
        let e = c
            .wait_for_speech(&id, &fast(Provider::JimmyAi))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), &kind, "{what}: {e}");
        assert_eq!(server.seen().len(), 1 + tolerated, "{what}: {e}");
        assert!(!e.may_resubmit(), "{what}: {e}");
        let text = e.to_string();
        assert!(text.contains("\"audio_1\""), "{what}: {text}");
        assert!(
            text.contains("unknown id or invalid request"),
            "{what}: {text}"
        );
    }

    // A status read answered `data: null` (or `[]`, or `""`) names the id too.
    for answer in [empty(), list(), blank()] {
        let server = Scripted::start(vec![answer]).await;
        let c = client(&server.base_url, "k-123456");
        let e = c.speech_status(&id).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::InvalidResponse, "{e}");
        assert!(e.note().unwrap_or_default().contains("\"audio_1\""), "{e}");
    }

    // The fake's wait (the client's own loop) polls past a scripted undocumented code the
    // same way, and ends on as many in a row.
    {
        use voiceclone::VoiceCloning;
        use voiceclone::fake::{FakeClient, Script};
        let request = voiceclone::SpeechRequest::new("model-1", "Hello.");
        let policy = fast(Provider::JimmyAi);
        let fake = FakeClient::new(Provider::JimmyAi);
        let mut script = Script::new().with_statuses([voiceclone::TaskStatus::Running]);
        for _ in 1..tolerated {
            script = script.then_error(ErrorKind::Vendor);
        }
        fake.script_speech(script.then_status(voiceclone::TaskStatus::Succeeded));
        let job = fake.synthesize(&request).await.unwrap();
        fake.wait_for_speech(&job.id, &policy).await.unwrap();
        let mut script = Script::new().with_statuses([voiceclone::TaskStatus::Running]);
        for _ in 0..tolerated {
            script = script.then_error(ErrorKind::Vendor);
        }
        fake.script_speech(script);
        let job = fake.synthesize(&request).await.unwrap();
        let e = fake.wait_for_speech(&job.id, &policy).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Vendor, "{e}");
        assert!(!e.may_resubmit(), "{e}");
    }

    // 20002 and an HTTP 404 still end a wait at once (see the tests above).
    for refusal in [
        Step::ok(json!({"code": 20002, "msg": "invalid request", "data": null})),
        Step::status(404, json!({"code": 404, "msg": "Not Found", "data": null})),
    ] {
        let server = Scripted::start(vec![refusal, jimmyai_task("completed")]).await;
        let c = client(&server.base_url, "k-123456");
        let e = c
            .wait_for_speech(&id, &fast(Provider::JimmyAi))
            .await
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::InvalidRequest | ErrorKind::NotFound),
            "{e}"
        );
        assert_eq!(server.seen().len(), 1, "{e}");
    }
}

/// [`a_jimmyai_wait_polls_past_a_few_undocumented_codes_or_task_less_answers`] for VMEG's
/// `tasks/detail`: a code VMEG does not document inside an HTTP 200, or `data: null` (or `[]`,
/// or `""`: review 30-d #1).
#[tokio::test]
async fn a_vmeg_wait_polls_past_a_few_undocumented_codes_or_task_less_answers() {
    let tolerated = voiceclone::wait::UNREADABLE_POLLS_TOLERATED as usize;
    let id = JobId::typed(Provider::Vmeg, JobKind::Speech, "t-1");
    let detail = |status: &str| {
        Step::ok(json!({"code": 200, "message": "", "data": {
            "taskId": "t-1", "taskType": "tts", "status": status,
            "result": if status == "finished" {
                json!({"taskId": "t-1", "results": [{"uri": "https://cdn.example.com/a.m4a"}]})
            } else { json!(null) }}}))
    };
    let odd = || Step::ok(json!({"code": 7777, "message": "busy", "data": null}));
    let empty = || Step::ok(json!({"code": 200, "message": "", "data": null}));
    let list = || Step::ok(json!({"code": 200, "message": "", "data": []}));
    let blank = || Step::ok(json!({"code": 200, "message": "", "data": ""}));
    for (what, answer, kind) in [
        (
            "undocumented code",
            &odd as &dyn Fn() -> Step,
            ErrorKind::Vendor,
        ),
        ("data: null", &empty, ErrorKind::InvalidResponse),
        ("data: []", &list, ErrorKind::InvalidResponse),
        ("data: \"\"", &blank, ErrorKind::InvalidResponse),
    ] {
        let mut steps = vec![detail("running")];
        steps.extend((1..tolerated).map(|_| answer()));
        steps.push(detail("finished"));
        let polls = steps.len();
        let server = Scripted::start(steps).await;
        let (c, _) = crate::adapter_support::client(Provider::Vmeg, &server.base_url);
        let speech = c
            .wait_for_speech(&id, &fast(Provider::Vmeg))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(speech.audio_urls.len(), 1, "{what}");
        assert_eq!(server.seen().len(), polls, "{what}");

        let mut steps = vec![detail("running")];
        steps.extend((0..=tolerated).map(|_| answer()));
        let server = Scripted::start(steps).await;
        let (c, _) = crate::adapter_support::client(Provider::Vmeg, &server.base_url);
        let e = c
            .wait_for_speech(&id, &fast(Provider::Vmeg))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), &kind, "{what}: {e}");
        assert_eq!(server.seen().len(), 1 + tolerated, "{what}: {e}");
        assert!(!e.may_resubmit(), "{what}: {e}");
    }
}

/// Review 29 pass 2-c #4: VMEG's HTTP refusals (401, 403, 404) whose body carries a code it
/// does not document (a gateway's own code for a revoked key, a "task not found" code of its
/// own) end the wait at once, as before 166fef5: only an undocumented code inside an HTTP
/// 2xx is polled past. And 502s between undocumented codes do not reset their count: the
/// wait ends on the bound's one, not at its deadline. Before: the refusals were polled
/// twice more, and a Vendor/502 alternation polled until the deadline.
#[tokio::test]
async fn a_vmeg_refusal_with_an_undocumented_code_ends_the_wait_and_502s_do_not_reset_the_count() {
    let tolerated = voiceclone::wait::UNREADABLE_POLLS_TOLERATED as usize;
    let id = JobId::typed(Provider::Vmeg, JobKind::Speech, "t-1");
    let running = || {
        Step::ok(json!({"code": 200, "message": "", "data": {
            "taskId": "t-1", "taskType": "tts", "status": "running", "result": null}}))
    };
    let vmeg = |base: &str| {
        Client::builder(Provider::Vmeg)
            .api_key("k-123456")
            .base_url(base)
            .retry(RetryPolicy::none())
            .sleeper(Arc::new(RecordingSleeper::new()))
            .build()
            .unwrap()
    };
    for (status, code) in [(404, 40401), (401, 10001), (403, 10003)] {
        let refusal = Step::status(status, json!({"code": code, "message": "no", "data": null}));
        let server = Scripted::start(vec![running(), refusal, running()]).await;
        let e = vmeg(&server.base_url)
            .wait_for_speech(&id, &fast(Provider::Vmeg))
            .await
            .unwrap_err();
        assert_eq!(e.http_status(), Some(status), "{e}");
        assert_eq!(server.seen().len(), 2, "{status}: {e}");
        assert!(!e.may_resubmit(), "{e}");
    }

    let odd = || Step::ok(json!({"code": 7777, "message": "busy", "data": null}));
    let bad_gateway = || Step::status(502, json!({"code": 502, "message": "", "data": null}));
    let mut steps = vec![running()];
    for _ in 0..10 {
        steps.push(odd());
        steps.push(bad_gateway());
    }
    let server = Scripted::start(steps).await;
    let e = vmeg(&server.base_url)
        .wait_for_speech(&id, &fast(Provider::Vmeg).with_max_polls(Some(30)))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Vendor, "{e}");
    assert_eq!(server.seen().len(), 2 * tolerated, "{e}");
    assert!(!e.may_resubmit(), "{e}");
}
