//! Concurrency and lifecycle rules: the in-flight bound (on requests and on connections), and
//! dropping a wait stops polling.
//! (The tracing span test has a binary of its own: `tracing_span.rs`.)

use crate::adapter_support::SECRET_KEY;
use serde_json::json;
use std::time::Duration;
use voiceclone::{Client, JobId, Provider, RetryPolicy, WaitPolicy};
use workspace_tests::scripted::{Scripted, Step};

fn running() -> Step {
    Step::ok(json!({"code": 200, "message": "", "data": {"taskId": "t", "status": "running"}}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_are_bounded_per_client() {
    assert_eq!(
        on_the_wire(Some(2), 6).await,
        2,
        "only max_in_flight requests may be on the wire"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_in_flight_bound_is_32() {
    // README: "a bound on requests in flight (`max_in_flight`, default 32)".
    assert_eq!(voiceclone::DEFAULT_MAX_IN_FLIGHT, 32);
    assert_eq!(
        on_the_wire(None, 40).await,
        32,
        "32 requests on the wire, no more"
    );
}

/// Starts `calls` status calls at once on a client with `max_in_flight` (the default when
/// `None`) against a server that never answers; how many requests reach the wire.
async fn on_the_wire(max_in_flight: Option<usize>, calls: usize) -> usize {
    // Hangs far longer than this test can take, however slow the machine: no answer may
    // free a slot while the test counts.
    let server = Scripted::start(vec![Step::Hang(Duration::from_secs(120)); calls]).await;
    let mut builder = Client::builder(Provider::Vmeg)
        .api_key(SECRET_KEY)
        .base_url(server.base_url.as_str())
        .retry(RetryPolicy::none());
    if let Some(n) = max_in_flight {
        builder = builder.max_in_flight(n);
    }
    let c = builder.build().unwrap();
    let bound = max_in_flight.unwrap_or(voiceclone::DEFAULT_MAX_IN_FLIGHT);
    let tasks: Vec<_> = (0..calls)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move { c.clone_status(&JobId::new(format!("t-{i}"))).await })
        })
        .collect();
    // Wait (bounded by a deadline a loaded machine meets) until `bound` are on the wire,
    // then give the others time to get there too if the bound did not hold.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server.seen().len() < bound && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Counted before the calls are aborted: an aborted call frees its slot, and a queued
    // one could take it and send before its own abort lands.
    let on_the_wire = server.seen().len();
    for task in tasks {
        task.abort();
    }
    on_the_wire
}

#[tokio::test]
async fn an_answer_of_4_mib_is_read_and_one_byte_more_is_abandoned() {
    // README: "A response body larger than `ClientBuilder::max_response_bytes` (default
    // 4 MiB) is abandoned while it streams."
    const LIMIT: usize = 4 * 1024 * 1024;
    let answer = |len: usize| {
        let body = |pad: &str| json!({"code": 200, "message": "", "data": {"taskId": "t", "status": "running", "pad": pad}});
        let pad = "p".repeat(len - body("").to_string().len());
        let body = body(&pad);
        assert_eq!(body.to_string().len(), len);
        Step::ok(body)
    };
    let server = Scripted::start(vec![answer(LIMIT), answer(LIMIT + 1)]).await;
    let c = Client::builder(Provider::Vmeg)
        .api_key(SECRET_KEY)
        .base_url(server.base_url.as_str())
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    c.clone_status(&JobId::new("t")).await.unwrap();
    let e = c.clone_status(&JobId::new("t")).await.unwrap_err();
    assert_eq!(e.kind(), &voiceclone::ErrorKind::InvalidResponse, "{e}");
    assert!(e.to_string().contains("larger than 4194304 bytes"), "{e}");
}

/// The bound is soft on purpose (README): a connect that finds no pooled connection coming
/// back within the hand-back window dials a replacement, and logs it. On a loaded machine a
/// stalled worker makes a few (5 for a bound of 4 once, beside a busy test thread), so every
/// connection beyond the bound must be such a logged replacement; a connection dialed past
/// the limit without one fails the test. On two workers (one thread never races hyper's pool
/// checkout against a connect), each capturing into the same buffer.
#[test]
fn connections_opened_stay_within_the_in_flight_bound() {
    let logs = workspace_tests::captured::Captured::default();
    let worker_logs = logs.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            // Kept for the thread's life: the runtime's threads end with it.
            std::mem::forget(workspace_tests::captured::capture_into(
                &worker_logs,
                tracing::Level::DEBUG,
                false,
            ));
        })
        .build()
        .unwrap();
    rt.block_on(async {
        // Bursts of calls that each take a permit the moment another ends: without the
        // connection limit, hyper dials a new connection whenever the previous one is not
        // yet back in its pool (BENCHMARKS.md, section 4).
        let sim = voiceclone_sim::Simulator::start().await.unwrap();
        for provider in Provider::ALL {
            let _ = logs.take();
            let before = sim.stats().connections_accepted;
            let c = Client::builder(provider)
                .api_key(sim.api_key())
                .base_url(sim.base_url())
                .max_in_flight(4)
                .retry(RetryPolicy::none())
                .build()
                .unwrap();
            for _ in 0..3 {
                let calls: Vec<_> = (0..2000)
                    .map(|i| {
                        let c = c.clone();
                        tokio::spawn(
                            async move { c.clone_status(&JobId::new(format!("t-{i}"))).await },
                        )
                    })
                    .collect();
                for call in calls {
                    // Unknown tasks: an answer (an error) is all this test needs.
                    let _ = call.await.unwrap();
                }
            }
            let opened = sim.stats().connections_accepted - before;
            let text = logs.take();
            assert!(
                text.contains("voiceclone::client"),
                "{provider}: the calls were not logged, so no replacement could be counted"
            );
            let replaced = text
                .lines()
                .filter(|l| l.contains("dialing a replacement"))
                .count() as u64;
            assert!(
                opened <= 4 + replaced,
                "{provider}: {opened} connections for an in-flight bound of 4, {replaced} of \
                 them logged replacements"
            );
        }
    });
}

/// Ten status calls in a row, and how many of their connects found the connection limit
/// full: the limit's DEBUG line ("no pooled connection is coming back; dialing a
/// replacement"), written on this thread (a current-thread runtime runs hyper's connect
/// tasks here too). A connect over the limit is one that waits out the rest of the hand-back
/// window (~50 ms) when an answer just came, which is what these tests look for: the count
/// is 0 when closed connections are uncounted, and 9 or 10 when they are not. Counted, not
/// timed: a median under 25 ms against ~50 ms for the bug failed on a loaded machine.
async fn connects_over_the_limit_in_ten_calls(c: &Client) -> (usize, String) {
    let (logs, _guard) = crate::adapter_support::capture_logs();
    for _ in 0..10 {
        c.clone_status(&JobId::new("t")).await.unwrap();
    }
    let text = logs.take();
    assert!(
        text.contains("voiceclone::client"),
        "the calls were not logged, so nothing was counted:\n{text}"
    );
    let over = text
        .lines()
        .filter(|l| l.contains(" DEBUG ") && l.contains("voiceclone::connection_limit"))
        .count();
    (over, text)
}

#[tokio::test]
async fn connections_the_server_closes_are_replaced_without_waiting() {
    // Each answer closes its connection. The connection limit must count them as gone;
    // otherwise every call after the first would first wait for a pooled connection that
    // is not coming back: the rest of the 50 ms hand-back window, ~50 ms each.
    let close = vec![("connection", "close".to_owned())];
    let body = json!({"code": 200, "message": "", "data": {"taskId": "t", "status": "running"}});
    let server = Scripted::start(vec![Step::Json(200, close, body); 10]).await;
    let c = Client::builder(Provider::Vmeg)
        .api_key(SECRET_KEY)
        .base_url(server.base_url.as_str())
        .max_in_flight(1)
        .build()
        .unwrap();
    let (over, logs) = connects_over_the_limit_in_ten_calls(&c).await;
    assert_eq!(over, 0, "connects over the limit:\n{logs}");
}

/// A call dropped mid-request (a caller's timeout, or a wait's deadline during a hung poll)
/// takes its connection down: the limit uncounts it, so later reconnects do not wait out the
/// hand-back window. Before: each such drop left the count one higher for good, and with
/// `max_in_flight(1)` every later reconnect waited ~50 ms.
#[tokio::test]
async fn a_call_dropped_mid_request_gives_its_connection_back_to_the_count() {
    let close = vec![("connection", "close".to_owned())];
    let body = json!({"code": 200, "message": "", "data": {"taskId": "t", "status": "running"}});
    for via_wait in [false, true] {
        let mut steps = vec![Step::Hang(Duration::from_secs(120))];
        steps.extend(vec![Step::Json(200, close.clone(), body.clone()); 10]);
        let server = Scripted::start(steps).await;
        let c = Client::builder(Provider::Vmeg)
            .api_key(SECRET_KEY)
            .base_url(server.base_url.as_str())
            .max_in_flight(1)
            .build()
            .unwrap();
        if via_wait {
            let policy =
                WaitPolicy::for_provider(Provider::Vmeg).with_deadline(Some(Duration::ZERO));
            assert!(c.wait_for_clone(&JobId::new("t"), &policy).await.is_err());
        } else {
            let id = JobId::new("t");
            let call = c.clone_status(&id);
            assert!(
                tokio::time::timeout(Duration::from_secs(1), call)
                    .await
                    .is_err()
            );
        }
        let (over, logs) = connects_over_the_limit_in_ten_calls(&c).await;
        assert_eq!(
            over, 0,
            "via wait {via_wait}: connects over the limit:\n{logs}"
        );
    }
}

#[tokio::test]
async fn dropping_a_wait_stops_polling() {
    let server = Scripted::start(vec![running(); 200]).await;
    let c = Client::builder(Provider::Vmeg)
        .api_key(SECRET_KEY)
        .base_url(server.base_url.as_str())
        .build()
        .unwrap();
    let policy = WaitPolicy::for_provider(Provider::Vmeg)
        .with_first_interval(Duration::from_millis(10))
        .with_growth(1.0)
        .with_jitter(0.0);
    let waiting = tokio::spawn(async move { c.wait_for_clone(&JobId::new("t"), &policy).await });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server.seen().len() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let polled = server.seen().len();
    assert!(polled >= 3, "it was polling: {polled}");
    waiting.abort();
    let _ = waiting.await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(
        server.seen().len() <= polled + 1,
        "polling went on after the drop"
    );
}

#[tokio::test]
async fn a_wait_tells_its_observer_every_status_it_sees() {
    let detail = |status: &str| {
        Step::ok(
            json!({"code": 200, "message": "", "data": {"taskId": "t", "status": status, "result": {"voiceId": "cv_1"}}}),
        )
    };
    let server = Scripted::start(vec![
        detail("queued"),
        detail("running"),
        detail("finished"),
    ])
    .await;
    let (c, _) = crate::adapter_support::client(Provider::Vmeg, &server.base_url);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&seen);
    let policy = crate::adapter_support::fast_wait(Provider::Vmeg)
        .on_status(move |s| log.lock().unwrap().push(s.clone()));
    c.wait_for_clone(&JobId::new("t"), &policy).await.unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            voiceclone::TaskStatus::Queued,
            voiceclone::TaskStatus::Running,
            voiceclone::TaskStatus::Succeeded
        ]
    );
}

/// A call waits for one of the client's slots before it builds its request, and its first
/// request is sent on that slot (`transport::admission`): with one slot, a call whose first
/// request queued again behind its own admission would never be sent. Its retry queues
/// again, so the slot must have been given back after the first attempt.
#[tokio::test]
async fn an_admitted_call_sends_on_its_own_slot_and_its_retry_queues_again() {
    let unavailable = json!({"code": 503, "message": "busy", "data": null});
    let server = Scripted::start(vec![Step::status(503, unavailable), running()]).await;
    let c = Client::builder(Provider::Vmeg)
        .api_key(SECRET_KEY)
        .base_url(server.base_url.as_str())
        .max_in_flight(1)
        .retry(RetryPolicy::default().with_base_delay(Duration::from_millis(1)))
        .build()
        .unwrap();
    let job = tokio::time::timeout(Duration::from_secs(10), c.clone_status(&JobId::new("t")))
        .await
        .expect("the call was never sent: its admission slot was not handed to its request")
        .unwrap();
    assert_eq!(job.id.as_str(), "t");
    assert_eq!(server.seen().len(), 2, "the 503, then the retry");
}

/// Waits on one slot: each poll is admitted, sent on its slot, and gives it back, so waits
/// sharing a single slot all finish (here: `running`, then `failed`, for each of three).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_sharing_one_slot_all_finish() {
    let detail = |status: &str| {
        Step::ok(json!({"code": 200, "message": "", "data": {
            "taskId": "t", "taskType": "cloneVoice", "status": status, "result": null}}))
    };
    let mut steps = vec![detail("running"); 3];
    steps.extend(vec![detail("failed"); 3]);
    let server = Scripted::start(steps).await;
    let c = Client::builder(Provider::Vmeg)
        .api_key(SECRET_KEY)
        .base_url(server.base_url.as_str())
        .max_in_flight(1)
        .build()
        .unwrap();
    let policy = WaitPolicy::for_provider(Provider::Vmeg)
        .with_first_interval(Duration::from_millis(20))
        .with_growth(1.0)
        .with_jitter(0.0);
    let waits: Vec<_> = (0..3)
        .map(|_| {
            let (c, policy) = (c.clone(), policy.clone());
            tokio::spawn(async move { c.wait_for_clone(&JobId::new("t"), &policy).await })
        })
        .collect();
    for w in waits {
        let res = tokio::time::timeout(Duration::from_secs(10), w)
            .await
            .expect("a wait never finished")
            .unwrap();
        let err = res.unwrap_err();
        assert!(
            matches!(err.kind(), voiceclone::ErrorKind::TaskFailed { .. }),
            "{err}"
        );
    }
    assert_eq!(server.seen().len(), 6);
}

/// Many concurrent waits on one client share its in-flight bound and all succeed: 500
/// `wait_for_clone` per provider (clone and wait, all at once) on the simulator at a high
/// speed, through `max_in_flight(32)`. Every wait ends `Ok` with its voice, and the client
/// opens no more connections than its bound. The 10,000-wait measurement (memory, polls per
/// job) is `benches/benches/wait_scale.rs`; this is the part of it `cargo test` runs, so a
/// wait that times out or fails under load, or a connection past the bound, fails a test.
/// On one thread, as the simulator shares the runtime: on two workers of a loaded debug
/// build, a connection's hand-back to the pool now and then outlasts `connection_limit`'s
/// 50 ms window and one more is dialed (33 to 39 seen; 32 in every single-thread run).
#[tokio::test]
async fn concurrent_waits_all_succeed_within_the_connection_bound() {
    // 500 per provider: a wait costs ~10 ms of a debug build's time here (the voice lookup
    // walks a growing clone list), so 2,000 took ~20 s per provider.
    const WAITS: usize = 500;
    let sim = voiceclone_sim::Simulator::start_with(
        voiceclone_sim::SimConfig::default()
            .with_speed(1000.0)
            .with_durations(Duration::from_secs(20), Duration::from_secs(20)),
    )
    .await
    .unwrap();
    for provider in Provider::ALL {
        let before = sim.stats().connections_accepted;
        let c = Client::builder(provider)
            .api_key(sim.api_key())
            .base_url(sim.base_url())
            .max_in_flight(32)
            .build()
            .unwrap();
        // 20 simulated seconds are 20 ms here; polls every 10 ms, for at most 60 s each.
        let policy = WaitPolicy::for_provider(provider)
            .with_first_interval(Duration::from_millis(10))
            .with_growth(1.0)
            .with_jitter(0.0)
            .with_max_polls(Some(6_000));
        let waits: Vec<_> = (0..WAITS)
            .map(|i| {
                let (c, policy) = (c.clone(), policy.clone());
                tokio::spawn(async move {
                    let req = match provider {
                        Provider::Vmeg => {
                            voiceclone::CloneRequest::new("https://cdn.example.com/sample.wav")
                                .name(format!("scale voice {i}"))
                                .language("en-US")
                        }
                        _ => voiceclone::CloneRequest::new("https://cdn.example.com/sample.wav")
                            .sample_text(format!("Scale job {i} preview sentence."))
                            .language("English"),
                    };
                    let job = c.clone_voice(&req).await?;
                    c.wait_for_clone(&job.id, &policy).await
                })
            })
            .collect();
        let mut failed = Vec::new();
        for w in waits {
            if let Err(e) = w.await.unwrap() {
                failed.push(e.to_string());
            }
        }
        assert!(
            failed.is_empty(),
            "{provider}: {} of {WAITS} waits failed, first: {:?}",
            failed.len(),
            failed.first()
        );
        let opened = sim.stats().connections_accepted - before;
        assert!(
            opened <= 32,
            "{provider}: {opened} connections for an in-flight bound of 32"
        );
    }
}
