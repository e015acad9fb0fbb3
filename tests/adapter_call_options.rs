//! Issue 14 point 6: a per-call timeout and deadline (`Client::with_timeout`,
//! `Client::with_options`) that bound the call from inside: a write out of time keeps
//! everything an `OutcomeUnknown` carries, a read fails as a timed-out request, no retry
//! starts after the time is up, a wait ends with `WaitTimedOut` and its last status.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use voiceclone::{
    CallOptions, Client, CloneRequest, ErrorKind, JobId, JobKind, Phase, Provider,
    RecordingSleeper, RetryPolicy, SpeechRequest, TaskStatus, WaitPolicy,
};
use voiceclone_sim::{SimConfig, Simulator};
use workspace_tests::scripted::{Scripted, Step};

const KEY: &str = "zz-9q8w7e6r5t4";

fn client(base: &str, provider: Provider) -> Client {
    Client::builder(provider)
        .api_key(KEY)
        .base_url(base)
        .sleeper(Arc::new(RecordingSleeper::new()))
        .build()
        .unwrap()
}

fn clone_req() -> CloneRequest {
    CloneRequest::new("https://cdn.example.com/s.wav")
        .name("n")
        .language("en-US")
        .idempotency_key("key-options-1")
}

fn req_id_of(query: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "req_id")
        .map(|(_, v)| v.into_owned())
}

fn detail(status: &str) -> serde_json::Value {
    json!({"code": 200, "message": "", "data": {"taskId": "t-1", "taskType": "cloneVoice", "status": status}})
}

#[tokio::test]
async fn a_write_out_of_time_is_outcome_unknown_with_its_key_not_a_dropped_future() {
    // The server stalls far longer than the call may take (and than the client's own
    // 30 s timeout): only the per-call timeout can end the call.
    // (2 s, not less: the request must reach the wire first, and on a loaded machine a
    // budget of 300 ms could run out before anything was sent.)
    let server = Scripted::start(vec![Step::Hang(Duration::from_secs(120))]).await;
    let c = client(&server.base_url, Provider::Vmeg);
    let quick = c.with_timeout(Duration::from_secs(2));
    assert_eq!(quick.options().get_timeout(), Some(Duration::from_secs(2)));
    assert_eq!(
        c.options(),
        CallOptions::default(),
        "the client is unchanged"
    );
    let e = quick.clone_voice(&clone_req()).await.unwrap_err();
    match e.kind() {
        ErrorKind::OutcomeUnknown {
            idempotency_key, ..
        } => assert_eq!(idempotency_key.as_deref(), Some("key-options-1")),
        other => panic!("expected OutcomeUnknown, got {other:?}: {e}"),
    }
    assert!(
        e.note().unwrap_or_default().contains("CallOptions"),
        "the error says the call's time ran out: {e}"
    );
    assert_eq!(e.phase(), Phase::Sent);
    assert!(!e.may_resubmit());
    // One attempt: the retry a timed-out VMEG write would get had no time left.
    let seen = server.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(e.request_id(), req_id_of(&seen[0].query).as_deref());
}

#[tokio::test]
async fn a_jimmyai_write_out_of_time_is_outcome_unknown_too() {
    let server = Scripted::start(vec![Step::Hang(Duration::from_secs(120))]).await;
    let c = client(&server.base_url, Provider::JimmyAi);
    let e = c
        .with_timeout(Duration::from_secs(2))
        .clone_voice(&CloneRequest::new("https://cdn.example.com/s.wav"))
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }),
        "{e:?}"
    );
    assert!(e.note().unwrap_or_default().contains("CallOptions"), "{e}");
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn a_read_out_of_time_is_a_timeout_and_no_retry_starts_after_it() {
    // A 503 (retried at once: the test sleeper does not sleep), then a stall. The budget
    // covers both exchanges reaching the server on a loaded machine (300 ms did not always).
    let server = Scripted::start(vec![
        Step::Raw(503, "busy"),
        Step::Hang(Duration::from_secs(120)),
    ])
    .await;
    let c = client(&server.base_url, Provider::Vmeg);
    let e = c
        .with_timeout(Duration::from_secs(2))
        .clone_status(&JobId::typed(Provider::Vmeg, JobKind::Clone, "t-1"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Timeout, "{e}");
    assert_eq!(server.seen().len(), 2);

    // A retry the server asks to come back for later than the time left is not made.
    let server = Scripted::start(vec![Step::Json(
        503,
        vec![("retry-after", "5".into())],
        json!({"code": 503, "message": "busy", "data": null}),
    )])
    .await;
    let c = client(&server.base_url, Provider::Vmeg);
    let e = c
        .with_timeout(Duration::from_secs(2))
        .clone_status(&JobId::new("t-1"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Server, "{e}");
    assert_eq!(server.seen().len(), 1, "no retry after the time is up");
    // Without the option the same answer is retried.
    let server = Scripted::start(vec![
        Step::Json(
            503,
            vec![("retry-after", "5".into())],
            json!({"code": 503, "message": "busy", "data": null}),
        ),
        Step::ok(detail("running")),
    ])
    .await;
    let c = client(&server.base_url, Provider::Vmeg);
    c.clone_status(&JobId::new("t-1")).await.unwrap();
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn the_per_call_timeout_replaces_a_shorter_client_timeout() {
    let slow = || Step::Slow(Duration::from_millis(800), detail("running"));
    let server = Scripted::start(vec![slow(), slow()]).await;
    let c = Client::builder(Provider::Vmeg)
        .api_key(KEY)
        .base_url(server.base_url.as_str())
        .timeout(Duration::from_millis(200))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let e = c.clone_status(&JobId::new("t-1")).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Timeout, "{e}");
    let job = c
        .with_timeout(Duration::from_secs(60))
        .clone_status(&JobId::new("t-1"))
        .await
        .unwrap();
    assert_eq!(job.status, TaskStatus::Running);
}

#[tokio::test]
async fn a_deadline_already_past_sends_nothing() {
    // Both providers, a clone and a speech create (review 30-e #5: VMEG's clone only before).
    for provider in [Provider::Vmeg, Provider::JimmyAi] {
        let server = Scripted::start(vec![]).await;
        let c = client(&server.base_url, provider);
        let late = c.with_options(CallOptions::new().deadline(Instant::now()));
        let clone = match provider {
            Provider::Vmeg => clone_req(),
            _ => CloneRequest::new("https://cdn.example.com/s.wav").language("en"),
        };
        let voice = match provider {
            Provider::Vmeg => "cv_1",
            _ => "m-1",
        };
        for e in [
            late.clone_voice(&clone).await.unwrap_err(),
            late.synthesize(&SpeechRequest::new(voice, "Hello there."))
                .await
                .unwrap_err(),
        ] {
            assert_eq!(e.kind(), &ErrorKind::Timeout, "{provider:?}: {e}");
            assert_eq!(e.phase(), Phase::NotSent, "{provider:?}");
            assert!(e.may_resubmit(), "{provider:?}: {e}");
        }
        // A read and a wait send nothing either; the wait ends as out of time, never
        // "failed".
        let e = late.clone_status(&JobId::new("t-1")).await.unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::Timeout, "{provider:?}: {e}");
        assert_eq!(e.phase(), Phase::NotSent);
        let policy = WaitPolicy::for_provider(provider);
        let e = late
            .wait_for_clone(&JobId::new("t-1"), &policy)
            .await
            .unwrap_err();
        assert!(
            matches!(
                e.kind(),
                ErrorKind::Timeout | ErrorKind::WaitTimedOut { .. }
            ),
            "{provider:?}: {e}"
        );
        assert!(!e.may_resubmit(), "a wait is on an accepted job: {e}");
        assert!(
            server.seen().is_empty(),
            "{provider:?}: {:?}",
            server.seen()
        );
    }
}

/// On a warm connection one poll of the request is enough to hand it to the connection, so
/// a wait whose call has no time left must not start a poll at all (`tokio::time::timeout`
/// polls its future before its timer: a poll given zero time still went out).
#[tokio::test]
async fn a_wait_out_of_time_on_a_warm_connection_sends_no_poll() {
    let running =
        json!({"code": 200, "message": "ok", "data": {"taskId": "t-1", "status": "running"}});
    let server = Scripted::start(vec![Step::ok(running.clone()), Step::ok(running)]).await;
    let c = client(&server.base_url, Provider::Vmeg);
    // Warms the pooled connection.
    c.clone_status(&JobId::new("t-1")).await.unwrap();
    assert_eq!(server.seen().len(), 1);
    let late = c.with_options(CallOptions::new().deadline(Instant::now()));
    let policy = WaitPolicy::for_provider(Provider::Vmeg);
    for _ in 0..20 {
        let e = late
            .wait_for_clone(&JobId::new("t-1"), &policy)
            .await
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::WaitTimedOut { polls: 0, .. }),
            "{e}"
        );
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.seen().len(), 1, "{:?}", server.seen());
}

#[tokio::test]
async fn a_wait_ends_at_the_call_deadline_with_its_last_status() {
    // Tasks that take an hour: only the call's timeout can end this wait.
    let sim = Simulator::start_with(
        SimConfig::default()
            .with_speed(1.0)
            .with_durations(Duration::from_secs(3600), Duration::from_secs(3600)),
    )
    .await
    .unwrap();
    let c = Client::builder(Provider::Vmeg)
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .build()
        .unwrap();
    let job = c.clone_voice(&clone_req()).await.unwrap();
    let policy = WaitPolicy::for_provider(Provider::Vmeg)
        .with_first_interval(Duration::from_millis(20))
        .with_max_interval(Duration::from_millis(50))
        .with_max_polls(None)
        .with_deadline(Some(Duration::from_secs(60)));
    let e = c
        .with_timeout(Duration::from_millis(500))
        .wait_for_clone(&job.id, &policy)
        .await
        .unwrap_err();
    match e.kind() {
        ErrorKind::WaitTimedOut {
            job_id,
            last_status,
            polls,
        } => {
            assert_eq!(job_id, &job.id);
            assert!(
                matches!(last_status, TaskStatus::Queued | TaskStatus::Running),
                "{last_status:?}"
            );
            // Polls every 20-50 ms: well under 100 in the call's 0.5 s, over 1,000 in the
            // policy's own 60 s.
            assert!(*polls >= 1 && *polls < 100, "{polls} polls");
        }
        other => panic!("expected WaitTimedOut, got {other:?}: {e}"),
    }
}

/// A call whose time runs out while it queues for an in-flight slot (every slot held by a
/// request the server never answers) ends as `Timeout`, nothing sent, instead of waiting
/// for the slot: the budget bounds the queueing too (`transport/admission.rs`).
#[tokio::test]
async fn a_call_queued_behind_a_full_client_ends_at_its_budget_without_sending() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    // A server that accepts connections and never answers, counting them.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(conn);
        }
    });
    let c = Client::builder(Provider::Vmeg)
        .api_key(KEY)
        .base_url(&base)
        .max_in_flight(1)
        .build()
        .unwrap();
    // The one slot, held by a read that never ends.
    let holder = {
        let c = c.clone();
        tokio::spawn(async move { c.clone_status(&JobId::new("t-1")).await })
    };
    let started = Instant::now();
    while accepted.load(Ordering::SeqCst) == 0 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);

    let queued = Instant::now();
    let e = c
        .with_timeout(Duration::from_millis(300))
        .clone_voice(&clone_req())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Timeout, "{e}");
    assert_eq!(e.phase(), Phase::NotSent, "{e}");
    assert!(
        queued.elapsed() < Duration::from_secs(5),
        "{:?}",
        queued.elapsed()
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "the queued call connected"
    );
    holder.abort();
    server.abort();
}

/// A poll of a wait under a per-call timeout keeps the client's own request timeout and
/// retries: one poll the server never answers (a half-open connection) is cut at the
/// client's 1 s and retried, and the wait finishes, as it does without `CallOptions`.
/// Before, every request inside the call got the call's whole time left as its timeout,
/// so that one stalled poll held until the budget ran out and the wait ended
/// `WaitTimedOut`. The budget still bounds the wait (`a_wait_ends_at_the_call_deadline_...`).
#[tokio::test]
async fn a_stalled_poll_under_a_call_timeout_is_retried_as_without_one() {
    let finished = Step::ok(json!({"code": 200, "message": "", "data": {
        "taskId": "t-1", "taskType": "cloneVoice", "status": "finished",
        "result": {"voiceId": "cv_1"},
    }}));
    let server = Scripted::start(vec![
        Step::ok(detail("running")),
        Step::Hang(Duration::from_secs(60)),
        finished,
    ])
    .await;
    let c = Client::builder(Provider::Vmeg)
        .api_key(KEY)
        .base_url(server.base_url.as_str())
        // 1 s, not less: an answered poll cut by a stall of a loaded machine would be
        // retried too, and shift the script.
        .timeout(Duration::from_secs(1))
        .retry(RetryPolicy::default().with_max_attempts(3).with_seed(7))
        .sleeper(Arc::new(RecordingSleeper::new()))
        .build()
        .unwrap();
    let policy = WaitPolicy::for_provider(Provider::Vmeg)
        .with_first_interval(Duration::from_millis(10))
        .with_deadline(Some(Duration::from_secs(60)));
    let started = Instant::now();
    let voice = c
        .with_timeout(Duration::from_secs(20))
        .wait_for_clone(&JobId::new("t-1"), &policy)
        .await
        .unwrap();
    assert_eq!(voice.id.as_str(), "cv_1");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.seen().len(), 3);
}

/// The call's timeout bounds a wait's last poll too: the 1 s grace a wait gives its last
/// poll past its own deadline does not stretch a call with a budget. A server that answers
/// after 1.5 s, a call of 200 ms: the wait ends at ~0.2 s with `WaitTimedOut`. Before (once
/// polls kept the client's own timeouts): the poll was given the grace, and the call ended
/// at ~1 s. The bound, 950 ms, leaves 750 ms for a loaded machine (whether the poll was
/// sent by then or not, the wait ends with `WaitTimedOut`).
#[tokio::test]
async fn a_wait_under_a_call_timeout_ends_within_it_its_last_poll_included() {
    let slow = || Step::Slow(Duration::from_millis(1500), detail("running"));
    let server = Scripted::start(vec![slow(), slow()]).await;
    let c = client(&server.base_url, Provider::Vmeg);
    let policy = WaitPolicy::for_provider(Provider::Vmeg)
        .with_first_interval(Duration::from_millis(10))
        .with_deadline(Some(Duration::from_secs(60)));
    let started = Instant::now();
    let e = c
        .with_timeout(Duration::from_millis(200))
        .wait_for_clone(&JobId::new("t-1"), &policy)
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(e.kind(), ErrorKind::WaitTimedOut { .. }), "{e}");
    assert!(took < Duration::from_millis(950), "took {took:?}: {e}");
}

/// Review 27 #4: a resend (`resubmit_speech`) answered 409 "key already used" after 2 s,
/// then the search for the first submit's task hangs; under `with_timeout(4 s)` the whole
/// call ends within about 4 s (under 5 s here): the resend and its search share one
/// deadline. Before: the search started a fresh 4 s of its own, and the call took at least
/// 6 s. (Seconds, not the 1 s budget this had: a stall of 300 ms then left no time to send
/// the search; now the search has 2 s to go out, and the call 1 s to end.)
#[tokio::test]
async fn a_resend_and_its_reconcile_share_one_call_timeout() {
    let conflict = json!({"code": 409, "message": "Idempotency key already used", "data": null});
    let server = Scripted::start(vec![
        Step::Late(Duration::from_secs(2), 409, conflict),
        Step::Hang(Duration::from_secs(60)),
        Step::Hang(Duration::from_secs(60)),
    ])
    .await;
    let c = client(&server.base_url, Provider::Vmeg);
    let lost = voiceclone::Error::new(ErrorKind::OutcomeUnknown {
        idempotency_key: Some("k-shared".into()),
        task_id: None,
        submitted_at: std::time::SystemTime::now() - Duration::from_secs(3600),
        request: voiceclone::RequestSummary::default(),
    });
    let req = SpeechRequest::new("sv_en_us_female_01", "Hello.");
    let started = Instant::now();
    let r = c
        .with_timeout(Duration::from_secs(4))
        .resubmit_speech(&lost, &req)
        .await;
    let took = started.elapsed();
    let seen = server.seen();
    assert!(seen.len() >= 2, "the resend and a search: {seen:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}: {r:?}");
    let e = r.unwrap_err();
    assert!(!e.may_resubmit(), "{e}");
}

/// A sleeper that never lets a wait end: a shutdown's hold, never released.
#[derive(Debug)]
struct HeldForever;

impl voiceclone::Sleeper for HeldForever {
    fn sleep(&self, _: Duration) -> voiceclone::sleep::BoxFuture<'static, ()> {
        Box::pin(std::future::pending())
    }
}

fn held_client(base: &str, provider: Provider) -> Client {
    Client::builder(provider)
        .api_key(KEY)
        .base_url(base)
        .sleeper(Arc::new(HeldForever))
        .retry(RetryPolicy::default().with_max_attempts(5))
        .build()
        .unwrap()
}

/// Review 33 pass 3 #1: a sleeper that holds the wait before a retry (a shutdown's) no longer
/// holds the call past its timeout: the sleep ends at the call's bound, the attempt after it
/// finds no time and sends nothing, and the call ends with its error. (A read: a write under a
/// timeout this short is not repeated if it has no key, `a_keyless_write_is_not_repeated_...`.)
/// Before, the call never ended (the outer 20 s bound of this test fired).
#[tokio::test]
async fn a_held_retry_wait_ends_at_the_call_timeout_and_sends_nothing_more() {
    let busy = json!({"code": 503, "message": "busy", "data": null});
    let server = Scripted::start(vec![
        Step::status(503, busy.clone()),
        Step::status(503, busy),
    ])
    .await;
    let c = held_client(&server.base_url, Provider::Vmeg);
    let quick = c.with_timeout(Duration::from_millis(800));
    let e = tokio::time::timeout(
        Duration::from_secs(20),
        quick.clone_status(&JobId::typed(Provider::Vmeg, JobKind::Clone, "t-1")),
    )
    .await
    .expect("the held retry wait held the read past its timeout")
    .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Timeout, "{e}");
    assert_eq!(e.phase(), Phase::NotSent, "{e}");
    assert_eq!(server.seen().len(), 1, "{e}");
}

/// The same for a wait's sleep between polls: it ends at the wait's deadline, and the wait
/// ends `WaitTimedOut` with its last status, with or without a call timeout.
#[tokio::test]
async fn a_held_wait_between_polls_ends_at_the_wait_deadline() {
    let server = Scripted::start(vec![
        Step::ok(detail("running")),
        Step::ok(detail("running")),
    ])
    .await;
    let c = held_client(&server.base_url, Provider::Vmeg);
    let policy =
        WaitPolicy::for_provider(Provider::Vmeg).with_deadline(Some(Duration::from_millis(800)));
    let id = JobId::typed(Provider::Vmeg, JobKind::Clone, "t-1");
    let e = tokio::time::timeout(Duration::from_secs(20), c.wait_for_clone(&id, &policy))
        .await
        .expect("the held sleep held the wait past its deadline")
        .unwrap_err();
    assert!(
        matches!(
            e.kind(),
            ErrorKind::WaitTimedOut {
                last_status: TaskStatus::Running,
                ..
            }
        ),
        "{e}"
    );
}

/// Review 34-d #1: a write without a key (a JimmyAI create) is repeated under a call timeout
/// only with at least 5 s of it left after the pause: sent with less, it may be carried out
/// and cut off before its answer, turning a rate limit that made nothing (`may_resubmit()`)
/// into an unknown outcome no list finds. The call ends with the 429, sent once; with time to
/// spare the same answer is retried. A VMEG create (under its key) and a read keep their
/// retry (pass 2 #5: VMEG advises the repeat, and its key finds a repeat cut off).
#[tokio::test]
async fn a_keyless_write_is_not_repeated_with_too_little_of_its_call_time_left() {
    let limited = |code: i64| {
        Step::Json(
            429,
            vec![("retry-after", "2".into())],
            json!({"code": code, "message": "slow down", "msg": "slow down", "data": null}),
        )
    };
    let jimmy_ok = json!({"code": 20000, "msg": "ok", "data": {"id": "audio_1", "object": "audio",
        "created": 1781777280, "model": "soundCloningClone", "status": "queued", "error": null}});
    let jimmy_clone = CloneRequest::new("https://cdn.example.com/s.mp3")
        .sample_text("A short preview.")
        .language("zh-CN");
    let server = Scripted::start(vec![limited(-1), Step::ok(jimmy_ok.clone())]).await;
    let c = client(&server.base_url, Provider::JimmyAi);
    let e = c
        .with_timeout(Duration::from_secs(6))
        .clone_voice(&jimmy_clone)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::RateLimited, "{e}");
    assert!(e.may_resubmit(), "{e}");
    assert_eq!(server.seen().len(), 1, "repeated with 4 s left: {e}");

    let server = Scripted::start(vec![limited(-1), Step::ok(jimmy_ok)]).await;
    let c = client(&server.base_url, Provider::JimmyAi);
    c.with_timeout(Duration::from_secs(30))
        .clone_voice(&jimmy_clone)
        .await
        .unwrap();
    assert_eq!(server.seen().len(), 2);

    let accepted = json!({"code": 200, "message": "", "data": {"taskId": "t-1"}});
    let server = Scripted::start(vec![limited(429), Step::ok(accepted)]).await;
    let c = client(&server.base_url, Provider::Vmeg);
    c.with_timeout(Duration::from_secs(6))
        .clone_voice(&clone_req())
        .await
        .unwrap();
    assert_eq!(
        server.seen().len(),
        2,
        "a VMEG create keeps its retry under its key"
    );

    let server = Scripted::start(vec![limited(429), Step::ok(detail("running"))]).await;
    let c = client(&server.base_url, Provider::Vmeg);
    c.with_timeout(Duration::from_secs(6))
        .clone_status(&JobId::new("t-1"))
        .await
        .unwrap();
    assert_eq!(server.seen().len(), 2, "a read keeps its retry");
}

/// A sleeper that takes 1.5 s whatever it is asked (a hold let go late, a starved runtime).
#[derive(Debug)]
struct Late;

impl voiceclone::Sleeper for Late {
    fn sleep(&self, _: Duration) -> voiceclone::sleep::BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(Duration::from_millis(1500)))
    }
}

/// Pass 2 #5 (b): the floor is checked again right before a keyless write's repeat is sent: a
/// pause that took longer than the retry driver asked (here 1.5 s of 6) leaves under 5 s, and
/// nothing more is sent. Before, only the pause it asked for was weighed.
#[tokio::test]
async fn a_keyless_writes_repeat_held_past_the_floor_is_not_sent() {
    let server = Scripted::start(vec![
        Step::Json(
            429,
            vec![("retry-after", "0".into())],
            json!({"code": -1, "msg": "slow down", "data": null}),
        ),
        Step::ok(json!({"code": 20000, "msg": "ok", "data": {"id": "audio_1"}})),
    ])
    .await;
    let c = Client::builder(Provider::JimmyAi)
        .api_key(KEY)
        .base_url(&server.base_url)
        .sleeper(Arc::new(Late))
        .build()
        .unwrap();
    let req = CloneRequest::new("https://cdn.example.com/s.mp3")
        .sample_text("A short preview.")
        .language("zh-CN");
    let e = c
        .with_timeout(Duration::from_secs(6))
        .clone_voice(&req)
        .await
        .unwrap_err();
    assert_eq!(server.seen().len(), 1, "the late repeat was sent: {e}");
    assert!(e.may_resubmit(), "{e}");
}
