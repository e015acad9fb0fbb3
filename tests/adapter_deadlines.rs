//! Waits end on time (issue 9, point 6): a wait returns within its deadline plus a small
//! constant whatever the server does: never answers, keeps every in-flight slot busy, or
//! asks for an hour of `Retry-After`.
//!
//! These run on the real clock against loopback servers (a paused clock would jump while a
//! request is on the wire), so they assert generous bounds: deadline + [`GRACE`].

use crate::adapter_support::{SECRET_KEY, client};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use voiceclone::{Client, Error, ErrorKind, JobId, Provider, RetryPolicy, WaitPolicy};
use workspace_tests::scripted::{Scripted, Step};

/// What a wait may take beyond its deadline in these tests: the library's 1 s grace for a
/// last poll, and seconds for a loaded machine (1,000 waits on 2 workers in a debug build).
/// The failures these tests look for last 30 s (a request's timeout) or an hour.
const GRACE: Duration = Duration::from_secs(8);

/// What the typical wait (the median of several) may take beyond its deadline: the
/// library's 1 s grace and a second for the machine. A stall moves a few waits, not the
/// median; a regression that adds a grace per retry or bounds a queue by a fixed few seconds
/// moves them all, and [`GRACE`] alone would let it pass.
const TYPICAL: Duration = Duration::from_secs(2);

/// The middle of `times` (the upper one of an even count).
fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

/// Accepts connections and never answers (nor reads, nor closes them).
struct BlackHole {
    base_url: String,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl BlackHole {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                held.push(stream);
            }
        });
        Self {
            base_url: format!("http://{addr}"),
            accepted,
            task,
        }
    }
}

impl Drop for BlackHole {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A client on the real clock with the default 30 s per-request timeout stated explicitly.
fn real_client(provider: Provider, base: &str, max_in_flight: usize) -> Client {
    Client::builder(provider)
        .api_key(SECRET_KEY)
        .base_url(base)
        .timeout(Duration::from_secs(30))
        .max_in_flight(max_in_flight)
        .build()
        .unwrap()
}

fn deadline_policy(provider: Provider, deadline: Duration) -> WaitPolicy {
    WaitPolicy::for_provider(provider)
        .with_seed(1)
        .with_deadline(Some(deadline))
}

fn assert_timed_out(err: &Error) {
    assert!(
        matches!(err.kind(), ErrorKind::WaitTimedOut { .. }),
        "expected WaitTimedOut, got {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_on_a_server_that_never_answers_ends_at_its_deadline() {
    let hole = BlackHole::start().await;
    let deadline = Duration::from_secs(1);
    let mut each = Vec::new();
    for provider in Provider::ALL {
        let c = real_client(provider, &hole.base_url, 32);
        let policy = deadline_policy(provider, deadline);
        let started = Instant::now();
        let clone = tokio::time::timeout(
            deadline + GRACE,
            c.wait_for_clone(&JobId::new("t-1"), &policy),
        )
        .await;
        each.push(started.elapsed());
        let speech_started = Instant::now();
        let speech = tokio::time::timeout(
            deadline + GRACE,
            c.wait_for_speech(&JobId::new("t-2"), &policy),
        )
        .await;
        each.push(speech_started.elapsed());
        let took = started.elapsed();
        for res in [clone.map(|r| r.map(drop)), speech.map(|r| r.map(drop))] {
            let err = res
                .unwrap_or_else(|_| panic!("{provider}: still waiting after {took:?}"))
                .unwrap_err();
            assert_timed_out(&err);
            match err.kind() {
                ErrorKind::WaitTimedOut { polls, .. } => assert_eq!(*polls, 1, "{err}"),
                _ => unreachable!(),
            }
            let message = err.message().unwrap_or_default();
            assert!(
                message.contains("did not finish"),
                "{provider}: the message says the last poll did not finish: {err}"
            );
        }
    }
    assert!(
        median(each.clone()) < deadline + TYPICAL,
        "the typical wait ended well past its deadline: {each:?}"
    );
    assert!(hole.accepted.load(Ordering::SeqCst) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_queued_behind_a_hung_request_end_at_their_deadline() {
    let hole = BlackHole::start().await;
    let c = real_client(Provider::Vmeg, &hole.base_url, 1);
    // One request takes the only in-flight slot and hangs (30 s timeout, then retries).
    let held = {
        let c = c.clone();
        tokio::spawn(async move { c.clone_status(&JobId::new("held")).await })
    };
    // (A deadline a loaded machine meets, not 2 s of bounded retries.)
    let connected_by = Instant::now() + Duration::from_secs(20);
    while hole.accepted.load(Ordering::SeqCst) < 1 && Instant::now() < connected_by {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(hole.accepted.load(Ordering::SeqCst), 1, "the slot is taken");
    let deadline = Duration::from_secs(1);
    let policy = deadline_policy(Provider::Vmeg, deadline);
    let started = Instant::now();
    let waits: Vec<_> = (0..1000)
        .map(|i| {
            let c = c.clone();
            let policy = policy.clone();
            tokio::spawn(async move {
                let r = c
                    .wait_for_clone(&JobId::new(format!("t-{i}")), &policy)
                    .await;
                (r, started.elapsed())
            })
        })
        .collect();
    let all = tokio::time::timeout(deadline + GRACE, futures_join(waits)).await;
    let took = started.elapsed();
    let results = all.unwrap_or_else(|_| panic!("waits still queued after {took:?}"));
    assert_eq!(results.len(), 1000);
    let mut ended = Vec::new();
    for res in results {
        let (r, at) = res.unwrap();
        assert_timed_out(&r.unwrap_err());
        ended.push(at);
    }
    let typical = median(ended);
    assert!(
        typical < deadline + TYPICAL,
        "half the queued waits ended later than {typical:?} after they began"
    );
    held.abort();
}

async fn futures_join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<Result<T, String>> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.map_err(|e| e.to_string()));
    }
    out
}

fn rate_limited(retry_after: &str, n: usize) -> Vec<Step> {
    vec![
        Step::Json(
            429,
            vec![("retry-after", retry_after.to_owned())],
            json!({"code": 429, "message": "slow down", "data": null}),
        );
        n
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hour_of_retry_after_does_not_outlast_the_deadline() {
    // A retry policy that would sleep through an hour: the wait's deadline still wins.
    let server = Scripted::start(rate_limited("3600", 50)).await;
    let c = Client::builder(Provider::Vmeg)
        .api_key(SECRET_KEY)
        .base_url(server.base_url.as_str())
        .retry(RetryPolicy::default().with_max_retry_after(Duration::from_secs(7200)))
        .build()
        .unwrap();
    let deadline = Duration::from_secs(2);
    let policy = deadline_policy(Provider::Vmeg, deadline);
    let started = Instant::now();
    let res = tokio::time::timeout(
        deadline + GRACE,
        c.wait_for_clone(&JobId::new("t-1"), &policy),
    )
    .await;
    let took = started.elapsed();
    let err = res
        .unwrap_or_else(|_| panic!("still waiting after {took:?}"))
        .unwrap_err();
    assert_timed_out(&err);
}

#[tokio::test]
async fn retry_after_inside_a_wait_is_cut_to_the_deadline() {
    // Recorded sleeping: no sleep the wait asks for (its own, or its polls' retries) goes
    // past the deadline, although the retry policy would honour an hour.
    let server = Scripted::start(rate_limited("3600", 50)).await;
    let sleeper = voiceclone::RecordingSleeper::new();
    let c = Client::builder(Provider::Vmeg)
        .api_key(SECRET_KEY)
        .base_url(server.base_url.as_str())
        .retry(
            RetryPolicy::default()
                .with_seed(3)
                .with_max_retry_after(Duration::from_secs(7200)),
        )
        .sleeper(Arc::new(sleeper.clone()))
        .build()
        .unwrap();
    let deadline = Duration::from_secs(2);
    let err = c
        .wait_for_clone(
            &JobId::new("t-1"),
            &deadline_policy(Provider::Vmeg, deadline),
        )
        .await
        .unwrap_err();
    assert_timed_out(&err);
    let sleeps = sleeper.sleeps();
    assert!(!sleeps.is_empty());
    assert!(
        sleeps.iter().all(|d| *d <= deadline),
        "a sleep past the 2 s deadline: {sleeps:?}"
    );
    assert!(sleeper.total() <= deadline, "{sleeps:?}");
}

#[tokio::test]
async fn without_a_deadline_retry_after_is_cut_to_max_interval() {
    // 3600: beyond the retry policy's cap, handed to the wait; 20: within it, so the poll's
    // own retry loop would sleep it.
    for retry_after in ["3600", "20"] {
        let server = Scripted::start(rate_limited(retry_after, 50)).await;
        let (c, sleeper) = client(Provider::Vmeg, &server.base_url);
        let max_interval = Duration::from_secs(1);
        let policy = WaitPolicy::for_provider(Provider::Vmeg)
            .with_seed(1)
            .with_deadline(None)
            .with_max_interval(max_interval)
            .with_max_polls(Some(3));
        let err = c
            .wait_for_clone(&JobId::new("t-1"), &policy)
            .await
            .unwrap_err();
        assert_timed_out(&err);
        let sleeps = sleeper.sleeps();
        assert!(!sleeps.is_empty());
        assert!(
            sleeps.iter().all(|d| *d <= max_interval),
            "Retry-After {retry_after}: a sleep past max_interval: {sleeps:?}"
        );
    }
}

#[tokio::test]
async fn retry_after_zero_does_not_make_a_burst_of_immediate_retries() {
    // RELIABILITY.md: the delay is max(backoff, Retry-After).
    let server = Scripted::start(rate_limited("0", 3)).await;
    let (c, sleeper) = client(Provider::Vmeg, &server.base_url);
    let _ = c.clone_status(&JobId::new("t-1")).await;
    let sleeps = sleeper.sleeps();
    assert_eq!(sleeps.len(), 2, "three attempts: {sleeps:?}");
    assert!(
        sleeps.iter().any(|d| !d.is_zero()),
        "every retry after Retry-After: 0 was immediate: {sleeps:?}"
    );
}
