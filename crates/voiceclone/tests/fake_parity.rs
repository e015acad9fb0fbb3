//! The fake answers as the real client does, where a user's test would otherwise pass and
//! production behave differently (a review of the fake against the client and the simulator).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::fake::clone_refused_for_its_script;
use support::wav::wav;
use voiceclone::fake::{FakeClient, Script};
use voiceclone::{
    CloneRequest, ErrorKind, JobKind, Phase, Provider, ReconcileQuery, SpeechRequest, VoiceCloning,
};

/// A lost VMEG clone submit: the error says what the client's does (sent, when the last
/// attempt ended, the request with its `voiceName`), and the job it made finishes and is
/// listed under that name, so a reconcile by name finds it; not at once, as VMEG lists a
/// clone only once its task finished: the job moves one step per look. Before, it was
/// listed at the first look, so code that resubmitted on "not listed" passed here and
/// billed twice against VMEG.
#[tokio::test(flavor = "current_thread")]
async fn a_lost_submit_can_be_reconciled_as_the_clients_can() {
    let fake = FakeClient::new(Provider::Vmeg);
    fake.script_clone(Script::succeeds().with_voice_id("v-lost").outcome_unknown());
    let req = CloneRequest::new("https://cdn.example.com/b.wav?sig=1")
        .name("lost-one")
        .sample_text("private words");
    let err = fake.clone_voice(&req).await.unwrap_err();
    assert_eq!(err.phase(), Phase::Sent, "{err}");
    assert!(!err.may_resubmit());
    let ErrorKind::OutcomeUnknown {
        request,
        idempotency_key: Some(key),
        ..
    } = err.kind()
    else {
        panic!("{err}");
    };
    // The route the client sends to, from the dry run's plan of the same request.
    let plan = voiceclone::estimate::DryRun::clone_voice(Provider::Vmeg, &req, false).unwrap();
    let sent = plan.requests.last().unwrap();
    assert_eq!(
        (request.method.as_str(), request.route.as_str()),
        (sent.method, sent.path.as_str())
    );
    assert_eq!(
        request.field("refAudio"),
        Some("https://cdn.example.com/b.wav")
    );
    assert_eq!(
        request.field("extraData.voiceclone.idempotencyKey"),
        Some(key.as_str())
    );
    let text = request.to_string();
    assert!(
        !text.contains("private") && !text.contains("sig="),
        "{text}"
    );
    assert!(
        request
            .field("sampleText")
            .unwrap()
            .starts_with("<13 chars, sha256:")
    );

    let q = ReconcileQuery::from_error(&err).unwrap();
    assert_eq!(q.voice_name.as_deref(), Some("lost-one"));
    assert!(q.last_attempt_at.is_some());
    assert_eq!(q.kind, Some(JobKind::Clone));
    assert_eq!(q.idempotency_key.as_deref(), Some(key.as_str()));

    // Queued, then running: not listed yet, though created (and billed).
    for look in 1..=2 {
        let voices = fake.list_voices().await.unwrap();
        assert!(voices.is_empty(), "look {look}: {voices:?}");
    }
    let voices = fake.list_voices().await.unwrap();
    assert!(
        voices
            .iter()
            .any(|v| v.name.as_deref() == Some("lost-one") && v.id.as_str() == "v-lost"),
        "{voices:?}"
    );
    assert_eq!(fake.billable_submits(), 1);

    // A nameless clone is named after its key's SHA-256, as the client names it: in the
    // summary, the job and the voice alike.
    fake.script_clone(Script::succeeds().outcome_unknown());
    let err = fake
        .clone_voice(&CloneRequest::new("https://cdn.example.com/c.wav"))
        .await
        .unwrap_err();
    let q = ReconcileQuery::from_error(&err).unwrap();
    let name = q.voice_name.clone().unwrap();
    assert!(
        name.starts_with("voiceclone-") && name.len() == 23,
        "{name}"
    );
    fake.list_voices().await.unwrap();
    fake.list_voices().await.unwrap();
    assert!(
        fake.list_voices()
            .await
            .unwrap()
            .iter()
            .any(|v| v.name.as_deref() == Some(name.as_str()))
    );
    let job = fake
        .clone_voice(&CloneRequest::new("https://cdn.example.com/d.wav").idempotency_key("k-123"))
        .await
        .unwrap();
    assert_eq!(job.name.as_deref(), Some("voiceclone-3605a9e4358d"));

    // A lost speech submit (JimmyAI: no key) is summarized too, its text fingerprinted.
    let jimmy = FakeClient::new(Provider::JimmyAi);
    jimmy.script_speech(Script::succeeds().outcome_unknown());
    let err = jimmy
        .synthesize(&SpeechRequest::new("m-1", "secret words"))
        .await
        .unwrap_err();
    let ErrorKind::OutcomeUnknown {
        request,
        idempotency_key: None,
        ..
    } = err.kind()
    else {
        panic!("{err}");
    };
    assert_eq!(request.method, "POST");
    assert!(
        !request.fields.is_empty() && !request.to_string().contains("secret"),
        "{request}"
    );
    assert_eq!(
        ReconcileQuery::from_error(&err).unwrap().kind,
        Some(JobKind::Speech)
    );
}

fn real_client(provider: Provider, sim: &voiceclone_sim::SimHandle) -> voiceclone::Client {
    voiceclone::Client::builder(provider)
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .retry(voiceclone::RetryPolicy::none())
        .build()
        .unwrap()
}

async fn simulator() -> voiceclone_sim::SimHandle {
    voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_speed(1000.0))
        .await
        .unwrap()
}

/// The same lost submit through the real client (the simulator drops the answer) and the
/// fake: the same phase, the same request summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_lost_submit_is_summarized_as_the_real_client_summarizes_it() {
    let sim = simulator().await;
    let real = real_client(Provider::Vmeg, &sim);
    let fake = FakeClient::new(Provider::Vmeg);
    sim.fail_next(
        "vmeg.cloneVoiceCreateAsync",
        voiceclone_sim::FaultKind::DropAfter,
        1,
    )
    .unwrap();
    fake.script_clone(Script::succeeds().outcome_unknown());
    let req = CloneRequest::new("https://cdn.example.com/b.wav?sig=1")
        .name("lost-one")
        .sample_text("Hello there.")
        .idempotency_key("k-lost");
    let apis: [&dyn VoiceCloning; 2] = [&real, &fake];
    let mut seen = Vec::new();
    for api in apis {
        let err = api.clone_voice(&req).await.unwrap_err();
        let ErrorKind::OutcomeUnknown {
            request,
            task_id,
            idempotency_key,
            ..
        } = err.kind()
        else {
            panic!("{err}");
        };
        let q = ReconcileQuery::from_error(&err).unwrap();
        seen.push((
            err.phase(),
            err.operation(),
            err.provider(),
            err.may_resubmit(),
            task_id.clone(),
            idempotency_key.clone(),
            request.clone(),
            q.voice_name,
            q.last_attempt_at.is_some(),
        ));
    }
    assert_eq!(seen[0], seen[1], "real, then fake");
    // What the comparison stands on: never resubmit, the caller's key, no task named (the
    // answer was lost).
    assert_eq!(
        (seen[1].3, seen[1].4.clone(), seen[1].5.as_deref()),
        (false, None, Some("k-lost"))
    );
}

/// A scripted submit failure ends the call as the client's retry table ends it: a refused
/// connection is `NotSent` and may be resubmitted; a server fault or a timeout on a write
/// may have made the task, so it is `OutcomeUnknown` and the job exists.
#[tokio::test(flavor = "current_thread")]
async fn a_scripted_submit_failure_is_classified_as_the_client_classifies_it() {
    let req = CloneRequest::new("https://cdn.example.com/a.mp3");
    for provider in [Provider::JimmyAi, Provider::Vmeg] {
        for (kind, unknown, phase) in [
            // Every unknown outcome is `Sent`: the request may have reached the provider.
            (ErrorKind::Server, true, Phase::Sent),
            (ErrorKind::Timeout, true, Phase::Sent),
            (ErrorKind::InvalidResponse, true, Phase::Sent),
            (ErrorKind::Transport, false, Phase::NotSent),
            (ErrorKind::RateLimited, false, Phase::Answered),
            (ErrorKind::PaymentRequired, false, Phase::Answered),
        ] {
            let fake = FakeClient::new(provider);
            fake.script_clone(Script::rejected(kind.clone()));
            let err = fake.clone_voice(&req).await.unwrap_err();
            let what = format!("{provider} {}: {err}", kind.as_str());
            assert_eq!(err.phase(), phase, "{what}");
            assert_eq!(err.provider(), Some(provider), "{what}");
            assert_eq!(err.operation(), Some("clone_voice"), "{what}");
            if unknown {
                assert!(
                    matches!(err.kind(), ErrorKind::OutcomeUnknown { .. }),
                    "{what}"
                );
                assert!(!err.may_resubmit(), "{what}");
                assert_eq!(fake.billable_submits(), 1, "{what}");
                assert!(err.last_attempt_at().is_some(), "{what}");
            } else {
                assert_eq!(err.kind(), &kind, "{what}");
                assert_eq!(fake.billable_submits(), 0, "{what}");
            }
            if kind == ErrorKind::Transport {
                assert!(err.may_resubmit(), "{what}");
            }
        }
    }
}

/// The real client against the simulator, for the rows above that a simulator can fault:
/// JimmyAI's 500 and 502 on a create are unknown outcomes, as the fake's `Server` is.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn jimmyai_server_faults_on_a_create_are_unknown_outcomes_in_both() {
    let sim = simulator().await;
    let real = real_client(Provider::JimmyAi, &sim);
    let req = CloneRequest::new("https://cdn.example.com/a.mp3");
    for fault in [
        voiceclone_sim::FaultKind::Http500,
        voiceclone_sim::FaultKind::Http502,
    ] {
        sim.fail_next("jimmyai.createClone", fault, 1).unwrap();
        let err = real.clone_voice(&req).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::OutcomeUnknown { .. }),
            "{fault:?}: {err}"
        );
        let fake = FakeClient::new(Provider::JimmyAi);
        fake.script_clone(Script::rejected(ErrorKind::Server));
        let faked = fake.clone_voice(&req).await.unwrap_err();
        assert_eq!(faked.kind().as_str(), err.kind().as_str());
        assert_eq!(faked.phase(), err.phase());
        assert_eq!(faked.may_resubmit(), err.may_resubmit());
    }
    // A refused connection (nothing listens on the discard port): NotSent, resubmittable.
    let dead = voiceclone::Client::builder(Provider::JimmyAi)
        .api_key("k")
        .base_url("http://127.0.0.1:9")
        .retry(voiceclone::RetryPolicy::none())
        .build()
        .unwrap();
    let err = dead.clone_voice(&req).await.unwrap_err();
    let fake = FakeClient::new(Provider::JimmyAi);
    fake.script_clone(Script::rejected(ErrorKind::Transport));
    let faked = fake.clone_voice(&req).await.unwrap_err();
    assert_eq!(
        (faked.kind(), faked.phase(), faked.may_resubmit()),
        (err.kind(), err.phase(), err.may_resubmit()),
        "fake, then real: {err}"
    );
}

/// A submit answered with an HTTP status on every attempt (`Script::rejected_with_status`)
/// ends in the fake as in the client against a server answering so: a JimmyAI create's 503
/// is a plain `Server` that may be repeated later (`is_transient`), never resent, and its
/// 501 a final one; a VMEG create's 503 on every attempt a plain `Server` too; a 429 asking
/// for a pause longer than the client waits is `RateLimited` with its `retry_after`; a
/// VMEG 502 on every attempt may have made the task (`OutcomeUnknown`, billed in the fake).
/// Before, no script reached a plain `Server` or a `RateLimited` with a `retry_after`.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_submit_answered_with_a_status_ends_as_the_clients_does() {
    use httpmock::Method::POST;
    use serde_json::json;
    use std::time::Duration;
    let req = CloneRequest::new("https://cdn.example.com/a.mp3");
    let cases = [
        (Provider::JimmyAi, 503, None),
        (Provider::JimmyAi, 501, None),
        (Provider::JimmyAi, 429, Some(60)),
        (Provider::Vmeg, 503, None),
        (Provider::Vmeg, 429, Some(60)),
        (Provider::Vmeg, 502, None),
        (Provider::Vmeg, 400, None),
    ];
    for (provider, status, retry_after) in cases {
        let what = format!("{provider} HTTP {status} Retry-After {retry_after:?}");
        let plan = voiceclone::estimate::DryRun::clone_voice(provider, &req, false).unwrap();
        assert_eq!(plan.requests.len(), 1, "{what}: one request to answer");
        let route = plan.requests[0].path.clone();
        // What each vendor's server sends with such a status: JimmyAI its catch-all code,
        // VMEG the status as its code; each vendor's envelope, `data` null (a body without
        // it is a relay's for VMEG, whose 503 says nothing of what was done).
        let code = match provider {
            Provider::Vmeg => i64::from(status),
            _ => -1,
        };
        let server = httpmock::MockServer::start_async().await;
        let mock = server
            .mock_async(|when, then| {
                when.method(POST).path(route.as_str());
                let then = then.status(status).json_body(
                    json!({"code": code, "message": "busy", "msg": "busy", "data": null}),
                );
                if let Some(secs) = retry_after {
                    then.header("Retry-After", secs.to_string());
                }
            })
            .await;
        let real = voiceclone::Client::builder(provider)
            .api_key("sk-parity-key-0001")
            .base_url(server.base_url())
            .sleeper(std::sync::Arc::new(voiceclone::RecordingSleeper::new()))
            .build()
            .unwrap();
        let err = real.clone_voice(&req).await.unwrap_err();
        let fake = FakeClient::new(provider);
        fake.script_clone(Script::rejected_with_status(
            status,
            retry_after.map(Duration::from_secs),
        ));
        let faked = fake.clone_voice(&req).await.unwrap_err();
        let shape = |e: &voiceclone::Error| {
            (
                e.kind().as_str(),
                e.phase(),
                e.may_resubmit(),
                e.is_transient(),
                e.retry_after(),
                e.provider(),
                e.operation(),
            )
        };
        assert_eq!(shape(&faked), shape(&err), "{what}: fake, then real: {err}");
        let unknown = matches!(err.kind(), ErrorKind::OutcomeUnknown { .. });
        assert_eq!(fake.billable_submits(), u64::from(unknown), "{what}");
        if !unknown {
            assert_eq!(faked.http_status(), err.http_status(), "{what}");
        }
        // The rows these pin (RELIABILITY's retry table).
        match (provider, status) {
            // A 503 may follow the task, the vendor's own "busy" too (review 34-d #2).
            (Provider::JimmyAi, 503) | (Provider::Vmeg, 503) => assert!(unknown, "{what}"),
            (Provider::JimmyAi, 501) => assert!(!err.is_transient(), "{what}"),
            (_, 429) => assert_eq!(err.retry_after(), Some(Duration::from_secs(60)), "{what}"),
            (Provider::Vmeg, 502) => assert!(unknown, "{what}"),
            _ => {}
        }
        if provider == Provider::JimmyAi && status >= 500 {
            assert_eq!(
                mock.calls_async().await,
                1,
                "{what}: a JimmyAI create is never resent"
            );
        }
    }
    // A status no refusal has is the test's mistake, refused where it is used.
    let fake = FakeClient::new(Provider::Vmeg);
    fake.script_clone(Script::rejected_with_status(200, None));
    let err = fake.clone_voice(&req).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::InvalidInput { field, .. } if field == "script"),
        "{err}"
    );
    assert_eq!(fake.billable_submits(), 0);
}

/// A future that counts how often its executor polls it: a wait that spins (reads the
/// script or only yields, again and again) is polled thousands of times in a few hundred
/// milliseconds; a parked one a few times.
struct CountedPolls<F> {
    inner: std::pin::Pin<Box<F>>,
    polls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl<F: std::future::Future> std::future::Future for CountedPolls<F> {
    type Output = F::Output;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        self.polls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.as_mut().poll(cx)
    }
}

/// A wait with no deadline and no poll bound on a job that never finishes never ends (as
/// with the client) but neither spins nor grows: it reads the repeating step once, then
/// waits without polling (its future is polled a few times in 300 ms, not thousands); and
/// the call log of a long bounded wait stops at its cap.
#[tokio::test(flavor = "current_thread")]
async fn an_endless_wait_neither_spins_nor_grows() {
    use std::time::Duration;
    use voiceclone::fake::FakeCall;
    let fake = FakeClient::new(Provider::Vmeg);
    fake.script_clone(Script::new().then_status(voiceclone::TaskStatus::Running));
    fake.script_clone(
        Script::new()
            .then_status(voiceclone::TaskStatus::Queued)
            .then_error(ErrorKind::Server),
    );
    let req = CloneRequest::new("https://cdn.example.com/a.wav");
    let endless = voiceclone::WaitPolicy::for_provider(Provider::Vmeg)
        .with_deadline(None)
        .with_max_polls(None);
    for _ in 0..2 {
        let job = fake.clone_voice(&req).await.unwrap();
        let before = fake.calls().len();
        let woken = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let wait = CountedPolls {
            inner: Box::pin(fake.wait_for_clone(&job.id, &endless)),
            polls: woken.clone(),
        };
        let out = tokio::time::timeout(Duration::from_millis(300), wait).await;
        assert!(out.is_err(), "the wait ended: {out:?}");
        let polls = fake.calls().len() - before;
        assert!((1..=2).contains(&polls), "{polls} polls recorded");
        assert_eq!(fake.unrecorded_calls(), 0);
        let woken = woken.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            woken <= 10,
            "the wait's future was polled {woken} times: it spins"
        );
    }
    // Another task ran while the wait was parked (it does not hold the thread).
    fake.script_clone(Script::new());
    let job = fake.clone_voice(&req).await.unwrap();
    let ticker = tokio::spawn(async {
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let _ = tokio::time::timeout(
        Duration::from_millis(200),
        fake.wait_for_clone(&job.id, &endless),
    )
    .await;
    assert!(ticker.is_finished());

    // A long bounded wait (20,000 back-to-back polls on the virtual clock): the log keeps
    // its first MAX_RECORDED_CALLS calls and counts the rest.
    let fake = FakeClient::new(Provider::Vmeg);
    fake.script_clone(Script::new().then_status(voiceclone::TaskStatus::Running));
    let job = fake.clone_voice(&req).await.unwrap();
    let long = voiceclone::WaitPolicy::for_provider(Provider::Vmeg)
        .with_first_interval(Duration::ZERO)
        .with_max_interval(Duration::ZERO)
        .with_max_polls(None)
        .with_deadline(Some(Duration::from_secs(2_000)));
    let err = fake.wait_for_clone(&job.id, &long).await.unwrap_err();
    let ErrorKind::WaitTimedOut { polls, .. } = err.kind() else {
        panic!("{err}");
    };
    assert_eq!(fake.calls().len(), FakeClient::MAX_RECORDED_CALLS);
    assert_eq!(
        fake.unrecorded_calls(),
        u64::from(*polls) + 1 - FakeClient::MAX_RECORDED_CALLS as u64
    );
    assert!(matches!(fake.calls()[0], FakeCall::CloneVoice(_)));
    assert!(*polls >= 19_900, "{polls}");
}

/// A wait's own errors (it ran out, the task failed) and a synchronous submit's carry the
/// provider and the method, as the client's do.
#[tokio::test(flavor = "current_thread")]
async fn wait_and_synchronous_errors_name_provider_and_method() {
    use std::time::Duration;
    let req = CloneRequest::new("https://cdn.example.com/a.wav");
    let bounded = voiceclone::WaitPolicy::for_provider(Provider::Vmeg)
        .with_first_interval(Duration::from_millis(1))
        .with_max_polls(Some(3));
    // The real client: polls of a dead host fail transiently; the poll bound ends the wait.
    let dead = voiceclone::Client::builder(Provider::Vmeg)
        .api_key("k")
        .base_url("http://127.0.0.1:9")
        .retry(voiceclone::RetryPolicy::none())
        .build()
        .unwrap();
    let real = dead
        .wait_for_clone(&voiceclone::JobId::new("t1"), &bounded)
        .await
        .unwrap_err();
    assert!(
        matches!(real.kind(), ErrorKind::WaitTimedOut { .. }),
        "{real}"
    );
    let expected = (Some(Provider::Vmeg), Some("wait_for_clone"));
    assert_eq!((real.provider(), real.operation()), expected);

    let fake = FakeClient::new(Provider::Vmeg);
    fake.script_clone(Script::new().then_status(voiceclone::TaskStatus::Running));
    fake.script_clone(Script::fails("silent"));
    fake.script_speech(Script::fails("silent"));
    fake.script_clone(Script::fails("silent"));
    let job = fake.clone_voice(&req).await.unwrap();
    let err = fake.wait_for_clone(&job.id, &bounded).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WaitTimedOut { .. }),
        "{err}"
    );
    assert_eq!((err.provider(), err.operation()), expected, "{err}");
    let job = fake.clone_voice(&req).await.unwrap();
    let err = fake.wait_for_clone(&job.id, &bounded).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::TaskFailed { .. }), "{err}");
    assert_eq!((err.provider(), err.operation()), expected, "{err}");
    let job = fake
        .synthesize(&SpeechRequest::new("cv_1", "hi"))
        .await
        .unwrap();
    let err = fake.wait_for_speech(&job.id, &bounded).await.unwrap_err();
    assert_eq!(
        (err.provider(), err.operation()),
        (Some(Provider::Vmeg), Some("wait_for_speech")),
        "{err}"
    );
    // A synchronous submit's failure is the submit's (an unknown outcome, as the client's).
    let err = fake
        .clone_voice(&req.clone().synchronous(true))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::OutcomeUnknown { .. }),
        "{err}"
    );
    assert_eq!(
        (err.provider(), err.operation()),
        (Some(Provider::Vmeg), Some("clone_voice")),
        "{err}"
    );
    // A bad id given to a wait names the wait.
    let err = fake
        .wait_for_clone(&voiceclone::JobId::new("a/b"), &bounded)
        .await
        .unwrap_err();
    assert_eq!((err.provider(), err.operation()), expected, "{err}");
}

/// A task id nobody created: the fake answers as the client reports the provider's answer
/// (the simulator's): VMEG's NotFound, JimmyAI's InvalidRequest code over HTTP 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn an_unknown_task_id_is_refused_as_the_client_reports_it() {
    let sim = simulator().await;
    for provider in [Provider::JimmyAi, Provider::Vmeg] {
        let real = real_client(provider, &sim);
        let fake = FakeClient::new(provider);
        let id = voiceclone::JobId::new("audio_nope");
        let r = real.clone_status(&id).await.unwrap_err();
        let f = fake.clone_status(&id).await.unwrap_err();
        let shape = |e: &voiceclone::Error| {
            (
                e.kind().clone(),
                e.provider(),
                e.operation(),
                e.may_resubmit(),
                e.is_transient(),
                // JimmyAI's: "unknown id or invalid request", which the README documents.
                e.note().map(str::to_owned),
            )
        };
        assert_eq!(shape(&f), shape(&r), "{provider}: fake {f}; real {r}");
        // VMEG's 404 (status and code), JimmyAI's invalid-request code over HTTP 200.
        assert_eq!(
            (f.http_status(), f.vendor_code()),
            (r.http_status(), r.vendor_code()),
            "{provider}: fake {f:?}; real {r:?}"
        );
        assert!(r.http_status().is_some(), "{provider}: {r:?}");
        if provider == Provider::JimmyAi {
            assert!(
                r.note()
                    .is_some_and(|n| n.contains("unknown id or invalid request")),
                "{r}"
            );
        }
    }
}

/// A JimmyAI status read refused by a scripted `then_error(InvalidRequest)` carries the
/// note the client adds to any refused `audios/{id}` read (the id may be unknown), as the
/// client reading the same answer (its HTTP status and code) does.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_refused_jimmyai_status_read_carries_the_clients_note() {
    use httpmock::Method::GET;
    use serde_json::json;
    let fake = FakeClient::new(Provider::JimmyAi);
    fake.script_clone(Script::new().then_error(ErrorKind::InvalidRequest));
    let req = CloneRequest::new("https://cdn.example.com/a.wav").sample_text("A preview.");
    let job = fake.clone_voice(&req).await.unwrap();
    let f = fake.clone_status(&job.id).await.unwrap_err();
    let (status, code) = (f.http_status().unwrap(), f.vendor_code().unwrap());
    let server = httpmock::MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/api/open-api/v1/audios/audio_x");
            then.status(status)
                .json_body(json!({"code": code, "msg": "invalid request"}));
        })
        .await;
    let real = voiceclone::Client::builder(Provider::JimmyAi)
        .api_key("sk-parity-key-0001")
        .base_url(server.base_url())
        .retry(voiceclone::RetryPolicy::none())
        .build()
        .unwrap();
    let id = voiceclone::JobId::new("audio_x");
    let r = real.clone_status(&id).await.unwrap_err();
    let shape = |e: &voiceclone::Error, id: &voiceclone::JobId| {
        (
            e.kind().clone(),
            e.may_resubmit(),
            e.note().map(|n| n.replace(id.as_str(), "<id>")),
        )
    };
    assert_eq!(shape(&f, &job.id), shape(&r, &id), "fake {f}; real {r}");
    assert!(r.note().is_some(), "{r}");
}

/// A local recording the client refuses before sending anything (empty bytes, a file with no
/// extension, a reader already taken by an earlier call) is refused by the fake with the
/// same `InvalidInput`, and nothing is created.
#[tokio::test(flavor = "current_thread")]
async fn local_recordings_are_checked_as_the_client_checks_them() {
    let dir = tempfile::tempdir().unwrap();
    let noext = dir.path().join("sample");
    std::fs::write(&noext, b"RIFF....").unwrap();
    for provider in [Provider::Vmeg, Provider::JimmyAi] {
        // A key of a real key's length: every error leaves the client through the key's
        // scrubber, which takes a one-letter "key" out of every word of a reason.
        let dead = voiceclone::Client::builder(provider)
            .api_key("sk-fake-parity-0123456789")
            .base_url("http://127.0.0.1:9")
            .retry(voiceclone::RetryPolicy::none())
            .build()
            .unwrap();
        let fake = FakeClient::new(provider);
        let shape = |e: &voiceclone::Error| {
            (
                e.kind().clone(),
                e.phase(),
                e.step(),
                e.provider(),
                e.operation(),
            )
        };
        let empty = CloneRequest::from_bytes("a.wav", Vec::<u8>::new());
        let nameless = CloneRequest::from_file(&noext);
        for req in [&empty, &nameless] {
            let r = dead.clone_voice(req).await.unwrap_err();
            let f = fake.clone_voice(req).await.unwrap_err();
            assert!(
                matches!(f.kind(), ErrorKind::InvalidInput { .. }),
                "{provider}: {f}"
            );
            assert_eq!(shape(&f), shape(&r), "{provider}: fake {f}; real {r}");
        }
        // Wrong twice (a field the provider refuses, a file that is not there): the client
        // checks the fields first and names the field, no step; so does the fake.
        let missing = dir.path().join("no-such.wav");
        let wrong_twice = match provider {
            Provider::Vmeg => {
                CloneRequest::from_file(&missing).sound_version(voiceclone::SoundVersion::V2)
            }
            _ => CloneRequest::from_file(&missing).name("x"),
        };
        let r = dead.clone_voice(&wrong_twice).await.unwrap_err();
        let f = fake.clone_voice(&wrong_twice).await.unwrap_err();
        let field = |e: &voiceclone::Error| match e.kind() {
            ErrorKind::InvalidInput { field, .. } => Some(field.clone()),
            _ => None,
        };
        assert_eq!(
            (field(&f), f.step()),
            (field(&r), r.step()),
            "{provider}: fake {f}; real {r}"
        );
        assert_eq!(shape(&f), shape(&r), "{provider}: fake {f}; real {r}");
        assert!(field(&r).is_some_and(|f| f != "audio_file"), "{r}");
        // The dry run (the CLI's too) names the same field.
        let planned =
            voiceclone::estimate::DryRun::clone_voice(provider, &wrong_twice, false).unwrap_err();
        assert_eq!(field(&planned), field(&r), "{provider}: dry run {planned}");
        // A reader is read once: the second call with it is refused, in both.
        let reader = || CloneRequest::from_reader("a.wav", std::io::Cursor::new(vec![1u8; 100]));
        let (real_req, fake_req) = (reader(), reader());
        let _ = dead.clone_voice(&real_req).await.unwrap_err();
        fake.clone_voice(&fake_req).await.unwrap();
        let r = dead.clone_voice(&real_req).await.unwrap_err();
        let f = fake.clone_voice(&fake_req).await.unwrap_err();
        assert_eq!(shape(&f), shape(&r), "{provider}: fake {f}; real {r}");
        assert_eq!(fake.billable_submits(), 1, "{provider}");
    }
}

/// What the client fills in from the provider's answers, the fake fills in too: a VMEG
/// clone job's name, a JimmyAI voice's preview URL, every read's vendor status word.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn the_fake_fills_the_fields_the_client_fills() {
    use std::time::Duration;
    let sim = simulator().await;
    for provider in [Provider::Vmeg, Provider::JimmyAi] {
        let real = real_client(provider, &sim);
        let fake = FakeClient::new(provider);
        let apis: [&dyn VoiceCloning; 2] = [&real, &fake];
        let mut seen = Vec::new();
        for api in apis {
            let job = api
                .clone_voice(&CloneRequest::new("https://cdn.example.com/a.mp3"))
                .await
                .unwrap();
            sim.complete_all_now();
            let policy = voiceclone::WaitPolicy::for_provider(provider)
                .with_first_interval(Duration::from_millis(5));
            let voice = api.wait_for_clone(&job.id, &policy).await.unwrap();
            let read = api.clone_status(&job.id).await.unwrap();
            seen.push((
                job.name.is_some(),
                voice.preview_url.is_some(),
                read.vendor_status.clone(),
            ));
        }
        assert_eq!(seen[0], seen[1], "{provider}: real, then fake");
    }
    let fake = FakeClient::new(Provider::JimmyAi);
    let url = url::Url::parse("https://cdn.example.com/p.mp3").unwrap();
    fake.script_clone(Script::succeeds().with_preview_url(url.clone()));
    let job = fake
        .clone_voice(&CloneRequest::new("https://cdn.example.com/a.mp3"))
        .await
        .unwrap();
    let policy = voiceclone::WaitPolicy::for_provider(Provider::JimmyAi);
    let voice = fake.wait_for_clone(&job.id, &policy).await.unwrap();
    assert_eq!(voice.preview_url, Some(url));
}

/// A finished speech result as a test compares it: how many audio URLs, whether a subtitle
/// file, each segment (has a URL, says a duration, its error, whether it is unreadable),
/// whether the URLs are the segments' in line order (when there are segments), the lines
/// sent when known, and whether it is complete.
type SpeechShape = (
    usize,
    bool,
    Vec<(bool, bool, Option<String>, bool)>,
    bool,
    Option<usize>,
    bool,
);

fn speech_shape(s: &voiceclone::Speech) -> SpeechShape {
    let segment_urls: Vec<_> = s.segments.iter().filter_map(|g| g.url.clone()).collect();
    (
        s.audio_urls.len(),
        s.subtitle_url.is_some(),
        s.segments
            .iter()
            .map(|g| {
                let unreadable = g.unreadable.is_some();
                (
                    g.url.is_some(),
                    g.duration.is_some(),
                    g.error.clone(),
                    unreadable,
                )
            })
            .collect(),
        s.segments.is_empty() || segment_urls == s.audio_urls,
        s.lines_sent,
        s.is_complete(),
    )
}

/// How a call ended, as a test compares it: the shape of what it gave, or the error's kind,
/// provider and operation.
fn ended<T>(r: &Result<T, voiceclone::Error>, shape: impl Fn(&T) -> String) -> String {
    match r {
        Ok(v) => format!("ok {}", shape(v)),
        // A failed task's id is the fake's own: its reason is compared, and whether the
        // error invites a resubmit.
        Err(e) => match e.kind() {
            voiceclone::ErrorKind::TaskFailed { reason, .. } => format!(
                "error TaskFailed({reason}) {:?} {:?} may_resubmit={}",
                e.provider(),
                e.operation(),
                e.may_resubmit()
            ),
            kind => format!(
                "error {kind:?} {:?} {:?} may_resubmit={}",
                e.provider(),
                e.operation(),
                e.may_resubmit()
            ),
        },
    }
}

/// An error's note and text, with `id` masked (the fake's ids are its own), or `None` for
/// a success.
fn told<T>(
    r: &Result<T, voiceclone::Error>,
    id: &voiceclone::JobId,
) -> Option<(Option<String>, String)> {
    let mask = |t: &str| {
        t.replace(&id.to_string(), "<id>")
            .replace(id.as_str(), "<id>")
    };
    r.as_ref()
        .err()
        .map(|e| (e.note().map(mask), mask(&e.to_string())))
}

fn job_shape(j: &voiceclone::SpeechJob) -> String {
    format!("{:?} {:?}", j.status, j.speech.as_ref().map(speech_shape))
}

/// A speech result has the shape the client gives against the simulator (which answers as
/// api-facts A13 and B6 say): VMEG one URL and one segment (with its duration) per line,
/// from a status read, a wait and a synchronous submit alike; JimmyAI one URL, no segments,
/// and a subtitle file exactly when the request asked for subtitles; several JimmyAI lines
/// are refused before sending.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn speech_results_are_shaped_as_the_clients() {
    use std::time::Duration;
    use voiceclone::SubtitleMode;
    let sim = simulator().await;
    for provider in [Provider::Vmeg, Provider::JimmyAi] {
        let real = real_client(provider, &sim);
        let fake = FakeClient::new(provider);
        // Done by the first read, as the simulator's tasks are once completed.
        for _ in 0..4 {
            fake.script_speech(Script::new().then_status(voiceclone::TaskStatus::Succeeded));
        }
        let apis: [&dyn VoiceCloning; 2] = [&real, &fake];
        let policy = voiceclone::WaitPolicy::for_provider(provider)
            .with_first_interval(Duration::from_millis(5));
        let mut seen = Vec::new();
        for api in apis {
            let voice = match provider {
                Provider::Vmeg => voiceclone::VoiceId::from("sv_en_us_female_01"),
                _ => {
                    let job = api
                        .clone_voice(&CloneRequest::new("https://cdn.example.com/a.mp3"))
                        .await
                        .unwrap();
                    sim.complete_all_now();
                    api.wait_for_clone(&job.id, &policy).await.unwrap().id
                }
            };
            let one = SpeechRequest::new(voice.clone(), "Hello there.");
            let three = SpeechRequest::new(voice.clone(), "One.")
                .add_line(voice.clone(), "Two.")
                .add_line(voice.clone(), "Three.");
            let requests = match provider {
                Provider::Vmeg => vec![
                    one.clone(),
                    three.clone(),
                    one.synchronous(true),
                    three.synchronous(true),
                ],
                _ => vec![
                    one.clone(),
                    one.clone().subtitles(SubtitleMode::Sentence),
                    one.clone().subtitles(SubtitleMode::Word),
                    one.subtitles(SubtitleMode::Off),
                    SpeechRequest::new(voice.clone(), "One.").add_line(voice.clone(), "Two."),
                ],
            };
            let mut outcomes = Vec::new();
            for req in &requests {
                let submitted = api.synthesize(req).await;
                // A synchronous submit's own result; an asynchronous one has none yet.
                outcomes.push(ended(&submitted, |j| {
                    format!("{:?}", j.speech.as_ref().map(speech_shape))
                }));
                let Ok(job) = submitted else { continue };
                sim.complete_all_now();
                outcomes.push(ended(&api.speech_status(&job.id).await, job_shape));
                let waited = api.wait_for_speech(&job.id, &policy).await;
                outcomes.push(ended(&waited, |s| format!("{:?}", speech_shape(s))));
            }
            seen.push(outcomes);
        }
        assert_eq!(seen[0], seen[1], "{provider}: real, then fake");
        // What the comparison stands on, said outright.
        let expected = match provider {
            Provider::Vmeg => {
                "(3, false, [(true, true, None, false), (true, true, None, false), \
                 (true, true, None, false)], true, None, true)"
            }
            _ => "(1, true, [], true, None, true)",
        };
        assert_eq!(
            seen[1][5],
            format!("ok {expected}"),
            "{provider}: {:?}",
            seen[1]
        );
    }
}

/// What the simulator never answers (a VMEG line that failed within a finished task, a
/// success with no audio), from a mock of each API: the fake scripted to answer so reads
/// and waits as the client reading that answer does (a failed line is a segment with its
/// error and no URL; every line failed ends a wait with `TaskFailed` quoting the lines'
/// reasons, never resubmittable; no audio at all with `InvalidResponse`). Before, every line
/// failed was `InvalidResponse` ("the API may have changed").
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn failed_lines_and_audioless_successes_are_read_as_the_clients() {
    use httpmock::Method::GET;
    use serde_json::json;
    use std::time::Duration;
    let server = httpmock::MockServer::start_async().await;
    let ok_line = |i: usize| json!({"uri": format!("https://cdn.example.com/{i}.wav"), "duration": 1.5, "errorMessage": ""});
    let bad_line = json!({"uri": "", "duration": null, "errorMessage": "bad text"});
    let vmeg_answers = [
        (
            "t-partial",
            json!([ok_line(0), bad_line.clone(), ok_line(2)]),
        ),
        (
            "t-all-failed",
            json!([bad_line.clone(), bad_line.clone(), bad_line]),
        ),
        ("t-empty", json!([])),
    ];
    for (id, results) in &vmeg_answers {
        server
            .mock_async(|when, then| {
                when.method(GET)
                    .path("/openapi/v1/tasks/detail")
                    .query_param("taskId", *id);
                then.status(200)
                    .json_body(json!({"code": 200, "message": "", "data": {
                    "taskId": id, "taskType": "tts", "status": "finished",
                    "result": {"results": results}}}));
            })
            .await;
    }
    server
        .mock_async(|when, then| {
            when.method(GET).path("/api/open-api/v1/audios/audio_x");
            then.status(200)
                .json_body(json!({"code": 20000, "msg": "ok", "data": {
                "id": "audio_x", "object": "audio", "created": 1_781_777_280,
                "model": "soundCloningAudio", "status": "completed", "error": null}}));
        })
        .await;
    // Finished by the first read, as the mock's tasks are.
    let done = || Script::new().then_status(voiceclone::TaskStatus::Succeeded);
    let cases = [
        (
            Provider::Vmeg,
            "t-partial",
            done().with_failed_line(1, "bad text"),
        ),
        (
            Provider::Vmeg,
            "t-all-failed",
            (0..3).fold(done(), |s, i| s.with_failed_line(i, "bad text")),
        ),
        (Provider::Vmeg, "t-empty", done().without_audio()),
        (Provider::JimmyAi, "audio_x", done().without_audio()),
    ];
    for (provider, id, script) in cases {
        let real = voiceclone::Client::builder(provider)
            // Long enough that its scrubber cuts nothing of the texts compared (a one-letter
            // key is cut wherever it appears).
            .api_key("sk-parity-key-0001")
            .base_url(server.base_url())
            .retry(voiceclone::RetryPolicy::none())
            .build()
            .unwrap();
        let policy = voiceclone::WaitPolicy::for_provider(provider)
            .with_first_interval(Duration::from_millis(5));
        let id = voiceclone::JobId::new(id);
        let real_waited = real.wait_for_speech(&id, &policy).await;
        let real_seen = (
            ended(&real.speech_status(&id).await, job_shape),
            ended(&real_waited, |s| format!("{:?}", speech_shape(s))),
        );
        let fake = FakeClient::new(provider);
        fake.script_speech(script);
        let req = match provider {
            Provider::Vmeg => SpeechRequest::new("cv_1", "One.")
                .add_line("cv_1", "Two.")
                .add_line("cv_1", "Three."),
            _ => SpeechRequest::new("m-1", "One."),
        };
        let job = fake.synthesize(&req).await.unwrap();
        let fake_waited = fake.wait_for_speech(&job.id, &policy).await;
        let fake_seen = (
            ended(&fake.speech_status(&job.id).await, job_shape),
            ended(&fake_waited, |s| format!("{:?}", speech_shape(s))),
        );
        // The mock says how long a line lasts; the fake says one second. Only whether.
        assert_eq!(fake_seen, real_seen, "{provider} {id}: fake, then real");
        // What the error says too: its note and its text, each with its own id masked. The
        // task was read from the finished job, so no lookup failed and none is to be waited
        // for again.
        let (real_told, fake_told) = (told(&real_waited, &id), told(&fake_waited, &job.id));
        assert_eq!(fake_told, real_told, "{provider} {id}: fake, then real");
        if let Some((note, text)) = &real_told {
            assert!(
                !text.contains("wait for it again") && note.is_none(),
                "{provider} {id}: {text}"
            );
            if id.as_str() == "t-all-failed" {
                assert!(!text.contains("succeeded"), "{text}");
            }
        }
        if id.as_str() == "t-all-failed" {
            assert!(
                real_seen.1.starts_with(
                    "error TaskFailed(every line failed (3 of 3); line 1: bad text; line 2"
                ) && real_seen.1.ends_with("may_resubmit=false"),
                "{}",
                real_seen.1
            );
        }
    }
}

/// A poll refused while the task runs (401 after a key rotation, 402, 400): the job was
/// accepted and exists, so the wait's error is never `may_resubmit()`, whatever its kind, in
/// the fake as in the client (which marks every error of a wait on an accepted job). Before,
/// the fake's wait said "nothing was created, submit again" for these three.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_refused_poll_ends_a_wait_that_may_not_be_resubmitted_in_both() {
    use httpmock::Method::GET;
    use serde_json::json;
    use std::time::Duration;
    let server = httpmock::MockServer::start_async().await;
    let cases = [
        (401u16, ErrorKind::Unauthorized),
        (402, ErrorKind::PaymentRequired),
        (400, ErrorKind::InvalidRequest),
    ];
    for (status, _) in &cases {
        let id = format!("t-{status}");
        server
            .mock_async(|when, then| {
                when.method(GET)
                    .path("/openapi/v1/tasks/detail")
                    .query_param("taskId", id.as_str());
                then.status(*status)
                    .json_body(json!({"code": status, "message": "refused", "data": null}));
            })
            .await;
    }
    let real = voiceclone::Client::builder(Provider::Vmeg)
        .api_key("k")
        .base_url(server.base_url())
        .retry(voiceclone::RetryPolicy::none())
        .build()
        .unwrap();
    let policy = voiceclone::WaitPolicy::for_provider(Provider::Vmeg)
        .with_first_interval(Duration::from_millis(5))
        .with_max_polls(Some(5));
    let shape = |e: &voiceclone::Error| {
        (
            e.kind().clone(),
            e.may_resubmit(),
            e.provider(),
            e.operation(),
        )
    };
    for (status, kind) in cases {
        let id = voiceclone::JobId::new(format!("t-{status}"));
        let r = real.wait_for_speech(&id, &policy).await.unwrap_err();
        let fake = FakeClient::new(Provider::Vmeg);
        fake.script_speech(
            Script::new()
                .then_status(voiceclone::TaskStatus::Running)
                .then_error(kind.clone()),
        );
        let job = fake
            .synthesize(&SpeechRequest::new("cv_1", "Hello."))
            .await
            .unwrap();
        let f = fake.wait_for_speech(&job.id, &policy).await.unwrap_err();
        assert_eq!(shape(&f), shape(&r), "{status}: fake {f}; real {r}");
        assert_eq!((f.kind(), f.may_resubmit()), (&kind, false), "{f}");
        // A status read of its own is about the same task: never "submit it again" either
        // (it was, until both reviews of 2026-12-04 found a resubmit on it pays twice).
        assert!(
            !fake
                .speech_status(&job.id)
                .await
                .unwrap_err()
                .may_resubmit()
        );
        // The same for a clone's wait, and for each provider.
        for provider in [Provider::Vmeg, Provider::JimmyAi] {
            let fake = FakeClient::new(provider);
            fake.script_clone(Script::new().then_error(kind.clone()));
            let job = fake
                .clone_voice(&CloneRequest::new("https://cdn.example.com/a.mp3"))
                .await
                .unwrap();
            let f = fake.wait_for_clone(&job.id, &policy).await.unwrap_err();
            assert_eq!(
                (f.kind(), f.may_resubmit()),
                (&kind, false),
                "{provider}: {f}"
            );
        }
    }
}

/// Many jobs in one fake (a soak test's thousands of submits): every id stays readable, a
/// reused VMEG key is still a conflict, each unused one is not. (The fake keeps its jobs
/// for its life; it finds them by id, not by scanning them all on every call.)
#[tokio::test(flavor = "current_thread")]
async fn many_jobs_stay_readable_and_their_keys_stay_unique() {
    const N: usize = 20_000;
    let fake = FakeClient::new(Provider::Vmeg);
    let req = CloneRequest::new("https://cdn.example.com/a.wav");
    let mut ids = Vec::with_capacity(N);
    for i in 0..N {
        let job = fake
            .clone_voice(&req.clone().idempotency_key(format!("k-{i}")))
            .await
            .unwrap();
        ids.push(job.id);
    }
    for id in &ids {
        let read = fake.clone_status(id).await.unwrap();
        assert_eq!(&read.id, id);
    }
    for i in [0, N / 2, N - 1] {
        let err = fake
            .clone_voice(&req.clone().idempotency_key(format!("k-{i}")))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Conflict, "k-{i}: {err}");
    }
    // The same key on the other route (synchronous) is apart, as VMEG's keys are per route.
    fake.clone_voice(&req.clone().idempotency_key("k-0").synchronous(true))
        .await
        .unwrap();
    assert_eq!(fake.billable_submits(), N as u64 + 1);
    let listed = fake.list_voices().await.unwrap();
    assert_eq!(listed.len(), 1, "only the synchronous clone has finished");
}

/// A submit scripted to fail after the task may exist (`Script::rejected(Server)`) is
/// `OutcomeUnknown` and its job exists, as with `Script::outcome_unknown`: it finishes on its
/// own and a succeeded clone is listed under its name, so a reconcile by name finds it.
/// Before, the job had no steps and stayed queued forever, never listed.
#[tokio::test(flavor = "current_thread")]
async fn a_rejected_submit_whose_task_may_exist_finishes_as_a_lost_one_does() {
    let fake = FakeClient::new(Provider::Vmeg);
    fake.script_clone(Script::rejected(ErrorKind::Server).with_voice_id("v-made"));
    let err = fake
        .clone_voice(&CloneRequest::new("https://cdn.example.com/a.wav").name("n"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::OutcomeUnknown { .. }),
        "{err}"
    );
    assert!(!err.may_resubmit());
    let q = ReconcileQuery::from_error(&err).unwrap();
    assert_eq!(q.voice_name.as_deref(), Some("n"));
    fake.list_voices().await.unwrap();
    fake.list_voices().await.unwrap();
    let voices = fake.list_voices().await.unwrap();
    assert!(
        voices
            .iter()
            .any(|v| v.name.as_deref() == Some("n") && v.id.as_str() == "v-made"),
        "{voices:?}"
    );
    // Its steps can be replaced: one that fails is not listed.
    fake.script_clone(
        Script::rejected(ErrorKind::Timeout).with_statuses([voiceclone::TaskStatus::Failed]),
    );
    fake.clone_voice(&CloneRequest::new("https://cdn.example.com/a.wav").name("f"))
        .await
        .unwrap_err();
    assert_eq!(fake.list_voices().await.unwrap().len(), 1);
    assert_eq!(fake.billable_submits(), 2);
}

/// A synchronous VMEG submit whose one answer is an error, in the fake as in the client
/// against the simulator: a refusal (429, 401) is that error and nothing was made; a fault
/// after which the task may exist (a 500, a connection dropped after processing) is
/// `OutcomeUnknown` carrying the idempotency key and the request summarized. The fake's
/// other step errors and a script that never finishes follow the same rule, and a fake that
/// counts a billable job never says "submit again". Before, every step error came back as
/// itself (a 402 said `may_resubmit()` with a job counted; a 500 had no key) and a script
/// that never finished was `InvalidResponse`.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_synchronous_submit_that_fails_ends_as_the_clients_does() {
    use voiceclone_sim::FaultKind;
    let sim = simulator().await;
    let real = real_client(Provider::Vmeg, &sim);
    let wrong_key = voiceclone::Client::builder(Provider::Vmeg)
        .api_key("not-the-key")
        .base_url(sim.base_url())
        .retry(voiceclone::RetryPolicy::none())
        .build()
        .unwrap();
    let req = |key: &str| {
        CloneRequest::new("https://cdn.example.com/s.wav?sig=1")
            .name("sync-one")
            .synchronous(true)
            .idempotency_key(key)
    };
    type Shape = (
        &'static str,
        Phase,
        bool,
        Option<&'static str>,
        Option<String>,
        Option<voiceclone::JobId>,
        Option<voiceclone::RequestSummary>,
        // What code backing off on a 429 branches on, and what support asks for.
        (Option<u16>, Option<i64>),
    );
    let shape = |e: &voiceclone::Error| -> Shape {
        let (key, task, request) = match e.kind() {
            ErrorKind::OutcomeUnknown {
                idempotency_key,
                task_id,
                request,
                ..
            } => (
                idempotency_key.clone(),
                task_id.clone(),
                Some(request.clone()),
            ),
            _ => (None, None, None),
        };
        (
            e.kind().as_str(),
            e.phase(),
            e.may_resubmit(),
            e.operation(),
            key,
            task,
            request,
            (e.http_status(), e.vendor_code()),
        )
    };
    let cases = [
        (
            Some(FaultKind::TooManyRequests),
            ErrorKind::RateLimited,
            false,
        ),
        (Some(FaultKind::Http500), ErrorKind::Server, true),
        (Some(FaultKind::DropAfter), ErrorKind::Transport, true),
        (None, ErrorKind::Unauthorized, false),
    ];
    let mut lost_summary = None;
    for (i, (fault, kind, unknown)) in cases.into_iter().enumerate() {
        let key = format!("k-sync-{i}");
        let before = sim.stats().billable("vmeg.cloneVoiceCreate");
        let r = match fault {
            Some(f) => {
                sim.fail_next("vmeg.cloneVoiceCreate", f, 1).unwrap();
                real.clone_voice(&req(&key)).await.unwrap_err()
            }
            None => wrong_key.clone_voice(&req(&key)).await.unwrap_err(),
        };
        let fake = FakeClient::new(Provider::Vmeg);
        fake.script_clone(Script::new().then_error(kind.clone()));
        let f = fake.clone_voice(&req(&key)).await.unwrap_err();
        assert_eq!(shape(&f), shape(&r), "{kind:?}: fake {f}; real {r}");
        assert_eq!(
            matches!(f.kind(), ErrorKind::OutcomeUnknown { .. }),
            unknown,
            "{f}"
        );
        assert_eq!(fake.billable_submits(), u64::from(unknown), "{f}");
        if !unknown {
            let after = sim.stats().billable("vmeg.cloneVoiceCreate");
            assert_eq!(after, before, "the simulator made nothing either: {r}");
        }
        if fault == Some(FaultKind::DropAfter) {
            lost_summary = Some(shape(&f));
        }
    }
    // What the simulator cannot fault here, by the same rule: a refusal creates nothing; a
    // timeout, or a task that never finishes (the client's timeout), may have made it.
    let never = Script::new().then_status(voiceclone::TaskStatus::Running);
    for (script, unknown) in [
        (Script::new().then_error(ErrorKind::PaymentRequired), false),
        (Script::new().then_error(ErrorKind::InvalidRequest), false),
        (
            Script::new()
                .then_status(voiceclone::TaskStatus::Running)
                .then_error(ErrorKind::Timeout),
            true,
        ),
        (never.clone(), true),
        (Script::new(), true),
    ] {
        let fake = FakeClient::new(Provider::Vmeg);
        fake.script_clone(script.clone());
        let f = fake.clone_voice(&req("k-sync-2")).await.unwrap_err();
        assert_eq!(
            fake.billable_submits() > 0,
            !f.may_resubmit(),
            "{script:?}: {f}"
        );
        assert_eq!(
            matches!(f.kind(), ErrorKind::OutcomeUnknown { .. }),
            unknown,
            "{f}"
        );
        if unknown {
            // As the connection dropped after processing, key and summary alike.
            let (_, _, _, op, key, task, request, _) = shape(&f);
            let lost = lost_summary.clone().unwrap();
            assert_eq!((op, key, task, request), (lost.3, lost.4, lost.5, lost.6));
        }
    }
}

/// A JimmyAI clone from a local recording is checked as the client's is before it uploads
/// anything: a WAV of 15 s or less is refused (JimmyAI needs more than 15 s), and a file
/// over 100 MB is refused naming JimmyAI's limit; the same kind, field and reason in both.
/// Before, the fake took the 10-second WAV (and billed a clone the client never sends).
#[tokio::test(flavor = "current_thread")]
async fn a_jimmyai_local_recording_is_checked_as_the_clients() {
    let dead = voiceclone::Client::builder(Provider::JimmyAi)
        .api_key("k")
        .base_url("http://127.0.0.1:9")
        .retry(voiceclone::RetryPolicy::none())
        .build()
        .unwrap();
    let fake = FakeClient::new(Provider::JimmyAi);
    let shape = |e: &voiceclone::Error| {
        (
            e.kind().clone(),
            e.phase(),
            e.step(),
            e.provider(),
            e.operation(),
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.wav");
    // Sparse: nothing is read before the size is refused.
    std::fs::File::create(&big)
        .unwrap()
        .set_len(100_000_001)
        .unwrap();
    let short = CloneRequest::from_bytes("a.wav", wav(10));
    for req in [&short, &CloneRequest::from_file(&big)] {
        let r = dead.clone_voice(req).await.unwrap_err();
        let f = fake.clone_voice(req).await.unwrap_err();
        assert!(
            matches!(f.kind(), ErrorKind::InvalidInput { .. }),
            "fake {f}"
        );
        assert_eq!(shape(&f), shape(&r), "fake {f}; real {r}");
    }
    assert_eq!(fake.billable_submits(), 0);
    // Long enough: the client goes on to upload (nothing listens), the fake accepts it.
    let long = CloneRequest::from_bytes("a.wav", wav(16));
    let r = dead.clone_voice(&long).await.unwrap_err();
    assert_eq!(r.kind(), &ErrorKind::Transport, "{r}");
    fake.clone_voice(&long).await.unwrap();
    assert_eq!(fake.billable_submits(), 1);
}

/// A script that says what the client never reports is refused where a submit uses it
/// (`InvalidInput`, field `script`, naming the script method; nothing created), so a test
/// cannot pass on an error or an id production never sees; a voice id with spaces around it
/// is read as the client reads the provider's, trimmed. Before, each of these was handed
/// back as scripted.
#[tokio::test(flavor = "current_thread")]
async fn a_script_the_client_could_never_play_is_refused_where_it_is_used() {
    use std::time::{Duration, SystemTime};
    use voiceclone::TaskStatus;
    let job_id = voiceclone::JobId::new("t-1");
    let unknown = ErrorKind::OutcomeUnknown {
        idempotency_key: None,
        task_id: None,
        submitted_at: SystemTime::now(),
        request: Default::default(),
    };
    let cases: Vec<(Script, &str)> = vec![
        (
            Script::new().then_error(unknown),
            "Script::then_error(OutcomeUnknown)",
        ),
        (
            Script::new()
                .then_status(TaskStatus::Running)
                .then_error(ErrorKind::Conflict),
            "Script::then_error(Conflict)",
        ),
        (
            Script::rejected(ErrorKind::TaskFailed {
                job_id: job_id.clone(),
                reason: "x".into(),
            }),
            "Script::rejected(TaskFailed)",
        ),
        (
            Script::rejected(ErrorKind::WaitTimedOut {
                job_id,
                last_status: TaskStatus::Running,
                polls: 1,
            }),
            "Script::rejected(WaitTimedOut)",
        ),
        (
            Script::rejected(ErrorKind::Download(
                voiceclone::error::DownloadFailure::TooLarge { limit: 1 },
            )),
            "Script::rejected(Download)",
        ),
        (
            Script::rejected(ErrorKind::Webhook(
                voiceclone::error::WebhookFailure::MissingSecret,
            )),
            "Script::rejected(Webhook)",
        ),
        (
            Script::rejected(ErrorKind::Unsupported {
                operation: "clone_voice".into(),
                provider: Provider::JimmyAi,
            }),
            "Script::rejected(Unsupported { provider: jimmyai })",
        ),
        (
            // `rejected` starts from `succeeds()`'s steps: a trailing status is never read.
            Script::rejected(ErrorKind::Server).then_status(TaskStatus::Failed),
            "a step after the terminal status succeeded",
        ),
        (
            Script::succeeds().with_voice_id(""),
            "Script::with_voice_id(\"\")",
        ),
        (
            Script::succeeds().with_voice_id("a/b"),
            "Script::with_voice_id(\"a/b\")",
        ),
        (
            Script::succeeds().with_voice_id("vmeg:voice:v-1"),
            "Script::with_voice_id(\"vmeg:voice:v-1\")",
        ),
    ];
    let req = CloneRequest::new("https://cdn.example.com/a.wav");
    for (script, names) in cases {
        let fake = FakeClient::new(Provider::Vmeg);
        fake.script_clone(script);
        let err = fake.clone_voice(&req).await.unwrap_err();
        let ErrorKind::InvalidInput { field, reason } = err.kind() else {
            panic!("{names}: {err}");
        };
        assert_eq!(field, "script", "{err}");
        assert!(reason.starts_with(names), "{names}: {reason}");
        assert_eq!(
            (err.provider(), err.operation(), err.phase()),
            (Some(Provider::Vmeg), Some("clone_voice"), Phase::NotSent)
        );
        assert_eq!(fake.billable_submits(), 0, "{names}");
        // The script was used: the next submit has none and succeeds.
        fake.clone_voice(&req).await.unwrap();
    }
    // Spaces around a voice id: trimmed, as the client trims the provider's.
    let fake = FakeClient::new(Provider::Vmeg);
    fake.script_clone(Script::succeeds().with_voice_id(" v-1 "));
    let job = fake.clone_voice(&req).await.unwrap();
    let policy = voiceclone::WaitPolicy::for_provider(Provider::Vmeg)
        .with_first_interval(Duration::from_millis(1));
    let voice = fake.wait_for_clone(&job.id, &policy).await.unwrap();
    assert_eq!(voice.id.as_str(), "v-1");
    // What the client does report stays as scripted.
    let fake = FakeClient::new(Provider::JimmyAi);
    fake.script_clone(Script::rejected(ErrorKind::Unsupported {
        operation: "clone_voice".into(),
        provider: Provider::JimmyAi,
    }));
    let err = fake.clone_voice(&req).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Unsupported { .. }), "{err}");
}

/// A bounded wait on a job whose script is stuck on a step the wait polls past ends as the
/// client's loop would, without making every poll: with a deadline of `Duration::MAX` or a
/// bound of `u32::MAX` polls it ends within a second, where it made billions of polls of
/// real work before. What it reports (poll count, last status, last error, time slept,
/// the calls logged) is what the same wait gives by polling a script long enough never to
/// repeat, for short waits where both can run.
#[tokio::test(flavor = "current_thread")]
async fn a_bounded_wait_on_a_job_that_never_finishes_ends_as_the_loop_would_at_once() {
    use std::time::Duration;
    use voiceclone::TaskStatus;
    use voiceclone::WaitPolicy;
    let req = CloneRequest::new("https://cdn.example.com/a.wav");
    let vmeg = WaitPolicy::for_provider(Provider::Vmeg);
    let policies = [
        vmeg.clone()
            .with_deadline(None)
            .with_max_polls(Some(50))
            .with_jitter(0.5)
            .with_seed(7),
        vmeg.clone()
            .with_deadline(Some(Duration::from_secs(300)))
            .with_max_polls(None)
            .with_jitter(0.3)
            .with_seed(9),
        vmeg.clone()
            .with_first_interval(Duration::ZERO)
            .with_max_interval(Duration::ZERO)
            .with_deadline(Some(Duration::from_secs(120)))
            .with_max_polls(None),
        vmeg.clone()
            .with_deadline(Some(Duration::from_secs(420)))
            .with_max_polls(Some(40))
            .with_jitter(0.0),
        WaitPolicy::for_provider(Provider::JimmyAi).with_seed(3),
    ];
    let running = || std::iter::repeat_n(TaskStatus::Running, 5_000);
    let failing = |s: Script, n: usize| (0..n).fold(s, |s, _| s.then_error(ErrorKind::Server));
    // (looped: a step of its own for every poll; fast-forwarded: one repeating step)
    let scripts = [
        (
            Script::new().with_statuses(running()),
            Script::new()
                .then_status(TaskStatus::Queued)
                .then_status(TaskStatus::Running),
        ),
        (
            failing(Script::new().then_status(TaskStatus::Running), 5_000),
            failing(Script::new().then_status(TaskStatus::Running), 1),
        ),
    ];
    for policy in &policies {
        for (looped, repeating) in &scripts {
            let mut seen = Vec::new();
            for script in [looped, repeating] {
                let fake = FakeClient::new(Provider::Vmeg);
                fake.script_clone(script.clone());
                let job = fake.clone_voice(&req).await.unwrap();
                let err = fake.wait_for_clone(&job.id, policy).await.unwrap_err();
                assert!(
                    matches!(err.kind(), ErrorKind::WaitTimedOut { .. }),
                    "{err}"
                );
                let after = fake.clone_status(&job.id).await;
                let ErrorKind::WaitTimedOut {
                    job_id,
                    last_status,
                    polls,
                } = err.kind()
                else {
                    panic!("{err}");
                };
                assert_eq!(job_id, &job.id);
                seen.push((
                    (last_status.clone(), *polls),
                    err.message().map(str::to_owned),
                    err.may_resubmit(),
                    fake.slept(),
                    fake.calls().len(),
                    fake.unrecorded_calls(),
                    after.map(|j| j.status).map_err(|e| e.kind().clone()),
                ));
            }
            assert_eq!(seen[0], seen[1], "{policy:?}: looped, then fast-forwarded");
        }
    }

    // The waits that spun: both end within a second of real time.
    let huge = [
        vmeg.clone()
            .with_deadline(Some(Duration::MAX))
            .with_max_polls(None),
        vmeg.clone()
            .with_deadline(None)
            .with_max_polls(Some(u32::MAX)),
    ];
    for policy in huge {
        let fake = FakeClient::new(Provider::Vmeg);
        fake.script_clone(Script::new().then_status(TaskStatus::Running));
        let job = fake.clone_voice(&req).await.unwrap();
        let err = tokio::time::timeout(
            Duration::from_secs(1),
            fake.wait_for_clone(&job.id, &policy),
        )
        .await
        .expect("the wait ends within a second")
        .unwrap_err();
        let ErrorKind::WaitTimedOut {
            polls, last_status, ..
        } = err.kind()
        else {
            panic!("{err}");
        };
        assert_eq!(last_status, &TaskStatus::Running);
        assert!(!err.may_resubmit());
        if policy.max_polls.is_some() {
            assert_eq!(*polls, u32::MAX);
        } else {
            // The clock (u64 nanoseconds, ~584 years) runs out after about 1.8e9 polls of
            // 10 s and the poll's own 100 ms.
            assert!((1_700_000_000..=1_900_000_000).contains(polls), "{polls}");
        }
        assert_eq!(fake.calls().len(), FakeClient::MAX_RECORDED_CALLS);
        assert_eq!(
            fake.unrecorded_calls(),
            u64::from(*polls) + 1 - FakeClient::MAX_RECORDED_CALLS as u64
        );
    }
}

/// Job ids differ between fakes: an id one fake handed out is unknown to another, which
/// answers as the client reports the provider's answer for a task it does not know (the
/// simulator's, compared in `an_unknown_task_id_is_refused_as_the_client_reports_it`):
/// VMEG's `NotFound`, JimmyAI's `InvalidRequest`. Before, every fake's first clone was
/// `fake-clone-1`, so a test mixing two fakes read the other's job as its own.
#[tokio::test(flavor = "current_thread")]
async fn a_job_id_of_another_fake_is_unknown_as_another_accounts_task_is() {
    use std::time::Duration;
    let req = CloneRequest::new("https://cdn.example.com/a.mp3");
    for (provider, unknown) in [
        (Provider::Vmeg, ErrorKind::NotFound),
        (Provider::JimmyAi, ErrorKind::InvalidRequest),
    ] {
        let (a, b) = (FakeClient::new(provider), FakeClient::new(provider));
        let from_a = a.clone_voice(&req).await.unwrap();
        let from_b = b.clone_voice(&req).await.unwrap();
        assert_ne!(from_a.id, from_b.id, "{provider}");
        // The same shape as any id the fake never made.
        let never = b
            .clone_status(&voiceclone::JobId::new("audio_nope"))
            .await
            .unwrap_err();
        let err = b.clone_status(&from_a.id).await.unwrap_err();
        assert_eq!(err.kind(), &unknown, "{provider}: {err}");
        assert_eq!(
            (err.http_status(), err.vendor_code(), err.may_resubmit()),
            (
                never.http_status(),
                never.vendor_code(),
                never.may_resubmit()
            )
        );
        let policy = voiceclone::WaitPolicy::for_provider(provider)
            .with_first_interval(Duration::from_millis(1));
        let err = b.wait_for_clone(&from_a.id, &policy).await.unwrap_err();
        assert_eq!(err.kind(), &unknown, "{provider}: {err}");
        // Each fake still reads its own.
        a.clone_status(&from_a.id).await.unwrap();
        b.clone_status(&from_b.id).await.unwrap();
    }
}

/// A wait given an id it refuses before sending (malformed, another provider's, a stored
/// form typed wrong) names a job that may exist: the client and the fake refuse the same
/// ids the same way (kind, field), and neither says "submit again". Before: the client
/// refused a malformed id in its first poll and the fake up front, with opposite
/// `may_resubmit()`, and a stored-looking id flipped to "resubmittable".
#[tokio::test(flavor = "current_thread")]
async fn a_wait_refuses_the_same_ids_as_the_client_and_never_says_resubmit() {
    let policy = voiceclone::WaitPolicy::for_provider(Provider::Vmeg);
    let real = voiceclone::Client::builder(Provider::Vmeg)
        .api_key("k")
        .base_url("http://127.0.0.1:9")
        .retry(voiceclone::RetryPolicy::none())
        .build()
        .unwrap();
    let fake = FakeClient::new(Provider::Vmeg);
    for text in [
        "",
        "a/b",
        "..",
        "a\u{7}b",
        "VMEG:clone:t-1",
        " vmeg:clone:t-1",
    ] {
        let id = voiceclone::JobId::new(text);
        let other: voiceclone::JobId = "jimmyai:clone:t-1".parse().unwrap();
        for id in [&id, &other] {
            let mine = real.wait_for_clone(id, &policy).await.unwrap_err();
            let theirs = fake.wait_for_clone(id, &policy).await.unwrap_err();
            let field = |e: &voiceclone::Error| match e.kind() {
                ErrorKind::InvalidInput { field, .. } => field.clone(),
                other => format!("not InvalidInput: {other:?}"),
            };
            assert_eq!(field(&mine), "job_id", "{id:?}: {mine}");
            assert_eq!(field(&theirs), "job_id", "{id:?}: {theirs}");
            assert_eq!(mine.phase(), Phase::NotSent, "{id:?}: {mine}");
            assert!(!mine.may_resubmit(), "client, {id:?}: {mine}");
            assert!(!theirs.may_resubmit(), "fake, {id:?}: {theirs}");
        }
    }
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}

/// A synchronous VMEG submit whose task fails: VMEG's synchronous route answers a failed
/// task with a non-200 envelope (the simulator's HTTP 502, the task left queryable), which
/// the client's retry table makes `OutcomeUnknown` (sent, the key, never resubmit), never
/// `TaskFailed`. The fake's scripted failure ends the same way, for a clone and a speech
/// alike, and its job exists and reads as failed. Before, the fake gave `TaskFailed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_synchronous_submit_whose_task_fails_is_an_unknown_outcome_as_the_clients() {
    let sim = voiceclone_sim::Simulator::start_with(
        voiceclone_sim::SimConfig::default()
            .with_speed(1000.0)
            .with_task_failure_rate(1.0),
    )
    .await
    .unwrap();
    let real = real_client(Provider::Vmeg, &sim);
    let shape = |e: &voiceclone::Error| {
        let (key, task, request) = match e.kind() {
            ErrorKind::OutcomeUnknown {
                idempotency_key,
                task_id,
                request,
                ..
            } => (
                idempotency_key.clone(),
                task_id.clone(),
                Some(request.clone()),
            ),
            _ => (None, None, None),
        };
        (
            e.kind().as_str(),
            e.phase(),
            e.may_resubmit(),
            e.provider(),
            e.operation(),
            e.http_status(),
            key,
            task,
            request,
        )
    };
    let clone = CloneRequest::new("https://cdn.example.com/s.wav")
        .name("sync-failed")
        .synchronous(true)
        .idempotency_key("k-sync-failed");
    let speech = SpeechRequest::new("sv_en_us_female_01", "Hello there.")
        .synchronous(true)
        .idempotency_key("k-sync-failed");

    let r = real.clone_voice(&clone).await.unwrap_err();
    let fake = FakeClient::new(Provider::Vmeg);
    fake.script_clone(Script::fails("the sample is silent"));
    let f = fake.clone_voice(&clone).await.unwrap_err();
    assert_eq!(shape(&f), shape(&r), "clone: fake {f}; real {r}");
    // The answer came (HTTP 502): the task was made, never resubmit (and, as every unknown
    // outcome, `Sent`: the phase of a request whose outcome is unknown).
    assert_eq!(
        (f.kind().as_str(), f.phase(), f.may_resubmit()),
        ("outcome_unknown", Phase::Sent, false),
        "{f}"
    );
    assert_eq!(fake.billable_submits(), 1);
    // The task exists and failed: nothing is listed.
    assert!(fake.list_voices().await.unwrap().is_empty());

    let r = real.synthesize(&speech).await.unwrap_err();
    fake.script_speech(Script::fails("unspeakable"));
    let f = fake.synthesize(&speech).await.unwrap_err();
    assert_eq!(shape(&f), shape(&r), "speech: fake {f}; real {r}");
    assert_eq!(fake.billable_submits(), 2);
}

/// A speech request wrong in two ways (a voice id typed for the other provider, and blank
/// text) is refused naming the same field by the fake as by the client, which checks the
/// voice ids first. Before, the fake ran the provider's text rules first and named another
/// field.
#[tokio::test(flavor = "current_thread")]
async fn a_speech_request_wrong_twice_names_the_field_the_client_names() {
    for (provider, foreign) in [
        (Provider::Vmeg, "jimmyai:voice:m-1"),
        (Provider::JimmyAi, "vmeg:voice:cv_1"),
    ] {
        let dead = voiceclone::Client::builder(provider)
            .api_key("k")
            .base_url("http://127.0.0.1:9")
            .retry(voiceclone::RetryPolicy::none())
            .build()
            .unwrap();
        let fake = FakeClient::new(provider);
        for text in ["", "   "] {
            let req = SpeechRequest::new(foreign, text);
            let field = |e: &voiceclone::Error| match e.kind() {
                ErrorKind::InvalidInput { field, .. } => field.to_string(),
                other => panic!("{provider}: {other:?}: {e}"),
            };
            let r = dead.synthesize(&req).await.unwrap_err();
            let f = fake.synthesize(&req).await.unwrap_err();
            assert_eq!(
                field(&f),
                field(&r),
                "{provider} {text:?}: fake {f}; real {r}"
            );
            assert_eq!(f.kind().as_str(), r.kind().as_str());
        }
        assert_eq!(fake.billable_submits(), 0);
    }
}

/// A script URL the client would drop (it takes only http and https from the provider) or a
/// blank reason it would not keep is refused where a submit uses the script, naming the
/// method, so a test cannot pass on a `file:` preview or an empty line error production
/// never gives. Before, each came back as scripted (`file:///tmp/a.wav`, `error: Some("")`).
#[tokio::test(flavor = "current_thread")]
async fn script_urls_and_reasons_the_client_would_drop_are_refused() {
    let url = |s: &str| url::Url::parse(s).unwrap();
    let cases: Vec<(Provider, Script, &str)> = vec![
        (
            Provider::JimmyAi,
            Script::succeeds().with_preview_url(url("file:///tmp/a.wav")),
            "Script::with_preview_url(\"file:///tmp/a.wav\")",
        ),
        (
            Provider::Vmeg,
            Script::succeeds().with_audio_urls([
                url("https://cdn.example.com/1.wav"),
                url("file:///tmp/a.wav"),
            ]),
            "Script::with_audio_urls([.., \"file:///tmp/a.wav\", ..])",
        ),
        (
            Provider::JimmyAi,
            Script::succeeds().with_audio_urls([url("data:audio/wav;base64,AAAA")]),
            "Script::with_audio_urls(",
        ),
        (
            Provider::Vmeg,
            Script::succeeds().with_failed_line(0, ""),
            "Script::with_failed_line(0, \"\")",
        ),
        (
            Provider::Vmeg,
            Script::succeeds().with_failed_line(1, " \t"),
            "Script::with_failed_line(1, ",
        ),
        (
            Provider::JimmyAi,
            Script::fails(""),
            "Script::with_failure_reason(\"\")",
        ),
        (
            Provider::Vmeg,
            Script::fails("x").with_failure_reason("  "),
            "Script::with_failure_reason(",
        ),
        // Control characters only: the client folds them away, and keeps nothing.
        (
            Provider::JimmyAi,
            Script::fails("\u{1}\u{7f}"),
            "Script::with_failure_reason(",
        ),
        (
            Provider::Vmeg,
            Script::succeeds().with_failed_line(0, "\u{0}\r"),
            "Script::with_failed_line(0, ",
        ),
    ];
    for (provider, script, names) in cases {
        let fake = FakeClient::new(provider);
        fake.script_speech(script);
        // JimmyAI speaks one line per request.
        let req = match provider {
            Provider::Vmeg => SpeechRequest::new("v-1", "One.").add_line("v-1", "Two."),
            _ => SpeechRequest::new("v-1", "One."),
        };
        let err = fake.synthesize(&req).await.unwrap_err();
        let ErrorKind::InvalidInput { field, reason } = err.kind() else {
            panic!("{names}: {err}");
        };
        assert_eq!(field, "script", "{err}");
        assert!(reason.starts_with(names), "{names}: {reason}");
        assert_eq!(fake.billable_submits(), 0, "{names}");
    }
    // What the client keeps stays as scripted: an http URL, a reason with text.
    let fake = FakeClient::new(Provider::JimmyAi);
    fake.script_clone(Script::succeeds().with_preview_url(url("http://cdn.example.com/p.mp3")));
    let job = fake
        .clone_voice(&CloneRequest::new("https://cdn.example.com/a.wav"))
        .await
        .unwrap();
    let policy = voiceclone::WaitPolicy::for_provider(Provider::JimmyAi);
    let voice = fake.wait_for_clone(&job.id, &policy).await.unwrap();
    assert_eq!(
        voice.preview_url.map(String::from).as_deref(),
        Some("http://cdn.example.com/p.mp3")
    );
}

/// A VMEG status word the vendor does not document, read as a failure (`timeout`): through
/// the real client (the simulator answering with that word for a failed task) and the fake
/// scripted with it, a wait ends `TaskFailed` saying the failure is assumed, never advising
/// a new submit, and a status read keeps the word (`Job::assumed_status`). Before, the fake
/// read `Unknown("timeout")` as a status still going and polled to the deadline, so code
/// that resubmitted on a timed-out wait passed here while the client failed the task.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_guessed_vmeg_failure_word_ends_a_wait_as_the_clients_does() {
    use voiceclone::{Job, TaskStatus};
    let words = voiceclone_sim::VmegStatusWords {
        failed: "timeout".into(),
        ..Default::default()
    };
    let sim = voiceclone_sim::Simulator::start_with(
        voiceclone_sim::SimConfig::default()
            .with_speed(1000.0)
            .with_task_failure_rate(1.0)
            .with_vmeg_status_words(words),
    )
    .await
    .unwrap();
    let real = real_client(Provider::Vmeg, &sim);
    let fake = FakeClient::new(Provider::Vmeg);
    fake.script_clone(
        Script::new()
            .with_statuses([TaskStatus::Running, TaskStatus::Unknown("timeout".into())])
            .with_failure_reason("took too long"),
    );
    let req = CloneRequest::new("https://cdn.example.com/a.wav").name("n");
    let policy = voiceclone::WaitPolicy::for_provider(Provider::Vmeg)
        .with_first_interval(std::time::Duration::from_millis(5))
        .with_deadline(Some(std::time::Duration::from_secs(30)));
    for api in [&real as &dyn VoiceCloning, &fake] {
        let job = api.clone_voice(&req).await.unwrap();
        let err = api.wait_for_clone(&job.id, &policy).await.unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::TaskFailed { .. }), "{err}");
        assert_eq!(err.assumed_status(), Some("timeout"), "{err}");
        assert!(!err.may_resubmit(), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("assum") && !text.contains("submit a new task"),
            "{text}"
        );
        let read = api.clone_status(&job.id).await.unwrap();
        assert_eq!(read.status, TaskStatus::Failed);
        assert_eq!(read.assumed_status(), Some("timeout"), "{read:?}");
        // The reason in the client's words: an assumption, check before submitting again.
        let reason = read.error.as_deref().unwrap_or_default();
        assert!(
            reason.contains("does not document") && reason.contains("before submitting again"),
            "{reason}"
        );
    }

    // A guess may be wrong: a read after the word may see the task go on, and the script
    // may say so (a documented `Failed` or `Succeeded` still ends the steps).
    fake.script_clone(
        Script::new().with_statuses([TaskStatus::Unknown("expired".into()), TaskStatus::Succeeded]),
    );
    let job = fake.clone_voice(&req).await.unwrap();
    let first = fake.clone_status(&job.id).await.unwrap();
    assert_eq!(
        (&first.status, first.assumed_status()),
        (&TaskStatus::Failed, Some("expired"))
    );
    let second = fake.clone_status(&job.id).await.unwrap();
    assert_eq!(
        (&second.status, second.assumed_status()),
        (&TaskStatus::Succeeded, None)
    );

    // A word nobody guesses stays unknown and is polled past, in both.
    fake.script_clone(Script::new().with_statuses([TaskStatus::Unknown("warming_up".into())]));
    let job = fake.clone_voice(&req).await.unwrap();
    let read = fake.clone_status(&job.id).await.unwrap();
    assert_eq!(read.status, TaskStatus::Unknown("warming_up".into()));
}

/// A VMEG synchronous answer carrying its result but no `taskId`: the client returns the
/// finished job under an id that names no task, and refuses that id afterwards with
/// nothing sent; the fake does the same with `Script::without_task_id`, and refuses the
/// script where no such answer exists (an asynchronous submit, JimmyAI), creating nothing.
#[tokio::test(flavor = "current_thread")]
async fn a_synchronous_answer_without_a_task_id_is_a_finished_job_naming_no_task() {
    let fake = FakeClient::new(Provider::Vmeg);
    fake.script_clone(Script::succeeds().with_voice_id("v-9").without_task_id());
    let req = CloneRequest::new("https://cdn.example.com/a.wav")
        .name("n")
        .synchronous(true);
    let job = fake.clone_voice(&req).await.unwrap();
    assert!(job.id.names_no_task(), "{}", job.id);
    assert_eq!(job.id.to_string(), "vmeg:clone:#no-task-id");
    assert_eq!(job.voice.as_ref().map(|v| v.id.as_str()), Some("v-9"));
    assert_eq!(fake.billable_submits(), 1);
    let policy = voiceclone::WaitPolicy::for_provider(Provider::Vmeg);
    for err in [
        fake.clone_status(&job.id).await.unwrap_err(),
        fake.wait_for_clone(&job.id, &policy).await.unwrap_err(),
    ] {
        assert!(
            matches!(err.kind(), ErrorKind::InvalidInput { field, .. } if field == "job_id"),
            "{err}"
        );
        assert!(err.to_string().contains("names no task"), "{err}");
    }

    fake.script_speech(Script::succeeds().without_task_id());
    let speech = fake
        .synthesize(&SpeechRequest::new("vmeg:voice:v-9", "Hello.").synchronous(true))
        .await
        .unwrap();
    assert!(speech.id.names_no_task(), "{}", speech.id);
    assert!(speech.speech.is_some());

    // No such answer on an asynchronous submit, or from JimmyAI: the script is refused.
    fake.script_clone(Script::succeeds().without_task_id());
    let err = clone_refused_for_its_script(&fake).await;
    assert!(err.to_string().contains("without_task_id"), "{err}");
    let jimmy = FakeClient::new(Provider::JimmyAi);
    jimmy.script_clone(Script::succeeds().without_task_id());
    clone_refused_for_its_script(&jimmy).await;
    assert_eq!(fake.billable_submits(), 2);
    assert_eq!(jimmy.billable_submits(), 0);
}

/// A JimmyAI status word in another case or with spaces around it (`Completed`,
/// ` PROCESSING `), scripted as `TaskStatus::Unknown(word)`, is read through JimmyAI's table as
/// the client reads it from an answer (trimmed, any case): the same status and word, never an
/// assumption, and a wait on `Completed` ends with the result. A word off the table stays
/// `Unknown` in both. Before, the fake kept every such word `Unknown`, so its wait polled
/// past a finished task to `WaitTimedOut` where the client's returned the voice.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_jimmyai_status_word_is_read_through_its_table_as_the_clients() {
    use httpmock::Method::GET;
    use serde_json::json;
    use std::time::Duration;
    use voiceclone::{Job, TaskStatus, WaitPolicy};
    let server = httpmock::MockServer::start_async().await;
    let words = ["Completed", " PROCESSING ", "Failed", "Queued", "done"];
    for (i, word) in words.iter().enumerate() {
        let path = format!("/api/open-api/v1/audios/audio_w{i}");
        server
            .mock_async(|when, then| {
                when.method(GET).path(path.as_str());
                then.status(200)
                    .json_body(json!({"code": 20000, "msg": "ok", "data": {
                    "id": format!("audio_w{i}"), "object": "audio", "created": 1_781_777_280,
                    "model": "soundCloningClone", "status": word, "error": null}}));
            })
            .await;
    }
    let real = voiceclone::Client::builder(Provider::JimmyAi)
        .api_key("sk-parity-key-0001")
        .base_url(server.base_url())
        .retry(voiceclone::RetryPolicy::none())
        .build()
        .unwrap();
    let req = CloneRequest::new("https://cdn.example.com/a.wav");
    let seen = |j: &voiceclone::CloneJob| {
        (
            j.status.clone(),
            j.vendor_status.clone(),
            j.assumed_status().map(str::to_owned),
        )
    };
    for (i, word) in words.iter().enumerate() {
        let id = voiceclone::JobId::new(format!("audio_w{i}"));
        let r = real.clone_status(&id).await.unwrap();
        let fake = FakeClient::new(Provider::JimmyAi);
        fake.script_clone(Script::new().with_statuses([TaskStatus::Unknown((*word).into())]));
        let job = fake.clone_voice(&req).await.unwrap();
        let f = fake.clone_status(&job.id).await.unwrap();
        assert_eq!(seen(&f), seen(&r), "{word:?}: fake {f:?}; real {r:?}");
    }
    assert_eq!(
        real.clone_status(&voiceclone::JobId::new("audio_w0"))
            .await
            .unwrap()
            .status,
        TaskStatus::Succeeded
    );
    // A wait on the finished task ends with its voice, as the client's does.
    let fake = FakeClient::new(Provider::JimmyAi);
    fake.script_clone(
        Script::new()
            .with_statuses([
                TaskStatus::Unknown(" PROCESSING ".into()),
                TaskStatus::Unknown("Completed".into()),
            ])
            .with_voice_id("m-1"),
    );
    let job = fake.clone_voice(&req).await.unwrap();
    let policy = WaitPolicy::for_provider(Provider::JimmyAi)
        .with_first_interval(Duration::from_millis(1))
        .with_max_polls(Some(10));
    let voice = fake.wait_for_clone(&job.id, &policy).await.unwrap();
    assert_eq!(voice.id.as_str(), "m-1");
    // A finished task stays finished: a step after `Failed` in any case is never read.
    let fake = FakeClient::new(Provider::JimmyAi);
    fake.script_clone(
        Script::new().with_statuses([TaskStatus::Unknown("FAILED".into()), TaskStatus::Running]),
    );
    let err = fake.clone_voice(&req).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::InvalidInput { field, .. } if field == "script"),
        "{err}"
    );
}

/// Review 34-b #2: a scripted failure reason (a failed task's, a failed line's) is folded
/// and cut as the client folds and cuts the provider's (each run of whitespace or control
/// characters one space, at most 500 characters), so `job.error`, the wait's `TaskFailed`
/// reason and a failed segment's error are the client's reading the same answer from a mock
/// of each API. Before, the fake kept the script's newline and all 600 characters.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn scripted_failure_reasons_are_folded_and_cut_as_the_clients() {
    use httpmock::Method::GET;
    use serde_json::json;
    use std::time::Duration;
    use voiceclone::{Job, TaskStatus};
    let long = format!("{} end", "x".repeat(600));
    let reasons = [("nl", "a\nb\tc".to_owned()), ("long", long)];
    let server = httpmock::MockServer::start_async().await;
    for (name, reason) in &reasons {
        let (task, line) = (format!("t-task-{name}"), format!("t-line-{name}"));
        server
            .mock_async(|when, then| {
                when.method(GET)
                    .path("/openapi/v1/tasks/detail")
                    .query_param("taskId", task.as_str());
                then.status(200)
                    .json_body(json!({"code": 200, "message": "", "data": {
                    "taskId": task, "taskType": "tts", "status": "failed",
                    "result": {"errorMessage": reason}}}));
            })
            .await;
        server
            .mock_async(|when, then| {
                when.method(GET)
                    .path("/openapi/v1/tasks/detail")
                    .query_param("taskId", line.as_str());
                then.status(200)
                    .json_body(json!({"code": 200, "message": "", "data": {
                    "taskId": line, "taskType": "tts", "status": "finished",
                    "result": {"results": [
                        {"uri": "https://cdn.example.com/0.wav", "duration": 1.0, "errorMessage": ""},
                        {"uri": "", "duration": null, "errorMessage": reason}]}}}));
            })
            .await;
        server
            .mock_async(|when, then| {
                when.method(GET)
                    .path(format!("/api/open-api/v1/audios/audio_{name}"));
                then.status(200)
                    .json_body(json!({"code": 20000, "msg": "ok", "data": {
                    "id": format!("audio_{name}"), "object": "audio", "created": 1_781_777_280,
                    "model": "soundCloningAudio", "status": "failed", "error": reason}}));
            })
            .await;
    }
    let failed = |reason: &str| {
        Script::new()
            .then_status(TaskStatus::Failed)
            .with_failure_reason(reason)
    };
    for (name, reason) in &reasons {
        let cases = [
            (Provider::Vmeg, format!("t-task-{name}"), failed(reason)),
            (
                Provider::Vmeg,
                format!("t-line-{name}"),
                Script::new()
                    .then_status(TaskStatus::Succeeded)
                    .with_failed_line(1, reason.as_str()),
            ),
            (Provider::JimmyAi, format!("audio_{name}"), failed(reason)),
        ];
        for (provider, id, script) in cases {
            let real = voiceclone::Client::builder(provider)
                .api_key("sk-parity-key-0001")
                .base_url(server.base_url())
                .retry(voiceclone::RetryPolicy::none())
                .build()
                .unwrap();
            let policy = voiceclone::WaitPolicy::for_provider(provider)
                .with_first_interval(Duration::from_millis(5));
            let id = voiceclone::JobId::new(id);
            let read = real.speech_status(&id).await.unwrap();
            let real_seen = (
                read.error().map(str::to_owned),
                read.speech.as_ref().map(speech_shape),
                ended(&real.wait_for_speech(&id, &policy).await, |s| {
                    format!("{:?}", speech_shape(s))
                }),
            );
            let fake = FakeClient::new(provider);
            fake.script_speech(script);
            let req = match provider {
                Provider::Vmeg => SpeechRequest::new("cv_1", "One.").add_line("cv_1", "Two."),
                _ => SpeechRequest::new("m-1", "One."),
            };
            let job = fake.synthesize(&req).await.unwrap();
            let read = fake.speech_status(&job.id).await.unwrap();
            let fake_seen = (
                read.error().map(str::to_owned),
                read.speech.as_ref().map(speech_shape),
                ended(&fake.wait_for_speech(&job.id, &policy).await, |s| {
                    format!("{:?}", speech_shape(s))
                }),
            );
            assert_eq!(fake_seen, real_seen, "{provider} {id}: fake, then real");
            // What the client keeps: one line, at most 500 characters.
            let kept = real_seen
                .0
                .clone()
                .or_else(|| real_seen.1.as_ref().and_then(|s| s.2[1].2.clone()))
                .unwrap();
            assert!(
                !kept.contains(['\n', '\t']) && kept.chars().count() <= 500,
                "{provider} {id}: {kept:?}"
            );
        }
    }
}

/// Review 34-b #3: a wait with no deadline and no poll bound on a job already read past its
/// steps (a `clone_status` first) reads it once before waiting without polling, as the
/// client's wait would poll it and report its status: the observer sees `Running` once.
/// Before, the wait parked at once, made no read and never called the observer.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn an_endless_wait_on_a_job_read_past_its_steps_reads_it_once_before_waiting() {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use voiceclone::TaskStatus;
    use voiceclone::fake::FakeCall;
    let fake = FakeClient::new(Provider::Vmeg);
    fake.script_clone(Script::new().then_status(TaskStatus::Running));
    let job = fake
        .clone_voice(&CloneRequest::new("https://cdn.example.com/a.wav"))
        .await
        .unwrap();
    let read = fake.clone_status(&job.id).await.unwrap();
    assert_eq!(read.status, TaskStatus::Running);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let endless = voiceclone::WaitPolicy::for_provider(Provider::Vmeg)
        .with_deadline(None)
        .with_max_polls(None)
        .on_status({
            let seen = seen.clone();
            move |s| seen.lock().unwrap().push(s.clone())
        });
    let before = fake.calls().len();
    // The paused clock moves on once the wait waits: the test's bound ends it.
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        fake.wait_for_clone(&job.id, &endless),
    )
    .await;
    assert!(out.is_err(), "the wait ended: {out:?}");
    assert_eq!(*seen.lock().unwrap(), vec![TaskStatus::Running]);
    assert_eq!(
        fake.calls()[before..],
        [FakeCall::CloneStatus(job.id.clone())]
    );
}
