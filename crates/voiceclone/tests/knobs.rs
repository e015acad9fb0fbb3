//! No panic from any setting (issue 9, point 7): every public knob, at every extreme
//! (`Duration::ZERO`, `Duration::MAX`, `u32::MAX`, `usize::MAX`, NaN, ±inf, negative), is
//! clamped or refused with a typed error, and a short run with it does bounded work.
//!
//! - `WaitPolicy`: the setters and the public fields themselves (a caller can write any
//!   value into them); `interval_without_jitter`, `schedule_without_jitter` (its 10,000 cap),
//!   `polls_until`;
//! - `RetryPolicy`: `backoff` / `backoff_ceiling` for retries 0..=u32::MAX;
//! - `MemoryDeduplicator`: capacity 0 and `usize::MAX`, any TTL (never below the 300 s
//!   replay window);
//! - `ClientBuilder`: `max_in_flight` (0 and above tokio's `Semaphore::MAX_PERMITS` are
//!   refused), `timeout` (zero is refused);
//! - a short wait through the public client, against the simulator, with any of the above.
//!
//! Case count: `PROPTEST_CASES` (default 96 per property).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use voiceclone::webhook::MemoryDeduplicator;
use voiceclone::{
    Client, CloneRequest, ErrorKind, Provider, RecordingSleeper, RetryPolicy, WaitPolicy,
};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(96)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn arb_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        Just(Duration::from_nanos(1)),
        Just(Duration::from_secs(u64::MAX)),
        Just(Duration::from_secs(u64::MAX / 2)),
        Just(Duration::from_secs(86_400 * 365 * 1000)),
        (0u64..100_000).prop_map(Duration::from_millis),
        any::<u64>().prop_map(Duration::from_secs),
        any::<u64>().prop_map(Duration::from_nanos),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
    ]
}

fn arb_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-1.0),
        Just(0.0),
        Just(-0.0),
        Just(1.0),
        Just(f64::MAX),
        Just(f64::MIN),
        Just(f64::MIN_POSITIVE),
        Just(1e300),
        0.0..4.0f64,
        any::<f64>(),
    ]
}

fn arb_u32() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(u32::MAX),
        Just(u32::MAX - 1),
        any::<u32>()
    ]
}

fn arb_usize() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(usize::MAX),
        Just(usize::MAX >> 3),
        Just((usize::MAX >> 3) + 1),
        1usize..10_000,
        any::<usize>(),
    ]
}

#[derive(Clone, Debug)]
struct WaitKnobs {
    first_interval: Duration,
    growth: f64,
    max_interval: Duration,
    jitter: f64,
    deadline: Option<Duration>,
    max_polls: Option<u32>,
    seed: u64,
    /// Write the public fields directly, bypassing the setters' clamps.
    raw: bool,
}

fn arb_wait_knobs() -> impl Strategy<Value = WaitKnobs> {
    (
        arb_duration(),
        arb_f64(),
        arb_duration(),
        arb_f64(),
        proptest::option::of(arb_duration()),
        proptest::option::of(arb_u32()),
        any::<u64>(),
        any::<bool>(),
    )
        .prop_map(
            |(first_interval, growth, max_interval, jitter, deadline, max_polls, seed, raw)| {
                WaitKnobs {
                    first_interval,
                    growth,
                    max_interval,
                    jitter,
                    deadline,
                    max_polls,
                    seed,
                    raw,
                }
            },
        )
}

impl WaitKnobs {
    fn policy(&self) -> WaitPolicy {
        let base = WaitPolicy::for_provider(Provider::Vmeg).with_seed(self.seed);
        if self.raw {
            let mut p = base;
            p.first_interval = self.first_interval;
            p.growth = self.growth;
            p.max_interval = self.max_interval;
            p.jitter = self.jitter;
            p.deadline = self.deadline;
            p.max_polls = self.max_polls;
            p
        } else {
            base.with_first_interval(self.first_interval)
                .with_growth(self.growth)
                .with_max_interval(self.max_interval)
                .with_jitter(self.jitter)
                .with_deadline(self.deadline)
                .with_max_polls(self.max_polls)
        }
    }
}

#[derive(Clone, Debug)]
struct RetryKnobs {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    max_retry_after: Duration,
    seed: u64,
    raw: bool,
}

fn arb_retry_knobs() -> impl Strategy<Value = RetryKnobs> {
    (
        arb_u32(),
        arb_duration(),
        arb_duration(),
        arb_duration(),
        any::<u64>(),
        any::<bool>(),
    )
        .prop_map(
            |(max_attempts, base_delay, max_delay, max_retry_after, seed, raw)| RetryKnobs {
                max_attempts,
                base_delay,
                max_delay,
                max_retry_after,
                seed,
                raw,
            },
        )
}

impl RetryKnobs {
    fn policy(&self) -> RetryPolicy {
        let base = RetryPolicy::default().with_seed(self.seed);
        if self.raw {
            let mut p = base;
            p.max_attempts = self.max_attempts;
            p.base_delay = self.base_delay;
            p.max_delay = self.max_delay;
            p.max_retry_after = self.max_retry_after;
            p
        } else {
            base.with_max_attempts(self.max_attempts)
                .with_base_delay(self.base_delay)
                .with_max_delay(self.max_delay)
                .with_max_retry_after(self.max_retry_after)
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn wait_policy_schedules_never_panic_and_stay_bounded(
        knobs in arb_wait_knobs(),
        poll in arb_u32(),
        done_after in arb_duration(),
    ) {
        let p = knobs.policy();
        let _ = p.interval_without_jitter(poll);
        prop_assert!(p.interval_without_jitter(poll) <= p.max_interval.max(p.first_interval));
        let schedule = p.schedule_without_jitter();
        prop_assert!(schedule.len() <= 10_000, "{} waits", schedule.len());
        if let Some(deadline) = p.deadline {
            let total = schedule.iter().fold(Duration::ZERO, |a, d| a.saturating_add(*d));
            prop_assert!(total <= deadline, "{total:?} past the {deadline:?} deadline");
        }
        let polls = p.polls_until(done_after);
        prop_assert!(polls >= 1);
        prop_assert!(polls as usize <= schedule.len() + 1);
    }

    #[test]
    fn wait_policy_setters_clamp_what_they_store(knobs in arb_wait_knobs()) {
        let p = WaitPolicy::for_provider(Provider::JimmyAi)
            .with_growth(knobs.growth)
            .with_jitter(knobs.jitter);
        prop_assert!(p.growth >= 1.0 && !p.growth.is_nan(), "growth {}", p.growth);
        prop_assert!((0.0..=1.0).contains(&p.jitter), "jitter {}", p.jitter);
        prop_assert_eq!(p.clone(), p);
    }

    #[test]
    fn retry_backoff_never_panics(knobs in arb_retry_knobs(), retry in arb_u32()) {
        let p = knobs.policy();
        let ceiling = p.backoff_ceiling(retry);
        prop_assert!(ceiling <= p.max_delay);
        let d = p.backoff(retry, knobs.seed);
        prop_assert!(d <= ceiling, "{d:?} over the {ceiling:?} ceiling");
        prop_assert_eq!(d, p.backoff(retry, knobs.seed), "same seed, same wait");
        for (i, retry) in [0, 1, 2, 31, 32, 33, 63, 64, 65, u32::MAX - 1, u32::MAX].into_iter().enumerate() {
            prop_assert!(p.backoff(retry, knobs.seed.wrapping_add(i as u64)) <= p.max_delay);
        }
    }

    #[test]
    fn dedup_with_any_capacity_and_ttl_never_panics(
        capacity in arb_usize(),
        ttl in arb_duration(),
        keys in proptest::collection::vec("[a-z]{1,3}", 1..20),
        later in arb_duration(),
    ) {
        let d = MemoryDeduplicator::new(capacity, ttl);
        let t0 = Instant::now();
        for k in &keys {
            let _ = d.first_seen_at(k, t0);
        }
        prop_assert!(d.len() <= capacity.max(1));
        let last = keys.last().unwrap();
        // A redelivery inside the 300 s replay window is always a duplicate: the TTL is
        // never below it.
        prop_assert!(!d.first_seen_at(last, t0 + Duration::from_secs(299)), "ttl {ttl:?}");
        if let Some(t) = t0.checked_add(later) {
            let _ = d.first_seen_at(last, t);
        }
        prop_assert!(d.len() <= capacity.max(1));
    }

    #[test]
    fn client_builds_or_refuses_any_knob_without_panicking(
        max_in_flight in arb_usize(),
        timeout in arb_duration(),
        retry in arb_retry_knobs(),
        max_response_bytes in arb_usize(),
    ) {
        // Any body limit (0 and usize::MAX included) is taken: it is raised to 1 KiB.
        let built = Client::builder(Provider::Vmeg)
            .api_key("k")
            .base_url("http://127.0.0.1:9")
            .max_in_flight(max_in_flight)
            .timeout(timeout)
            .retry(retry.policy())
            .max_response_bytes(max_response_bytes)
            .build();
        let in_flight_ok = (1..=tokio::sync::Semaphore::MAX_PERMITS).contains(&max_in_flight);
        match built {
            Ok(_) => prop_assert!(in_flight_ok && !timeout.is_zero()),
            Err(e) => match e.kind() {
                ErrorKind::InvalidInput { field, .. } => {
                    prop_assert!(
                        (field == "max_in_flight" && !in_flight_ok)
                            || (field == "timeout" && timeout.is_zero()),
                        "{e}"
                    );
                }
                other => prop_assert!(false, "unexpected {other:?}"),
            },
        }
    }
}

#[test]
fn max_in_flight_zero_or_beyond_the_semaphore_is_refused_by_name() {
    for n in [0, (usize::MAX >> 3) + 1, usize::MAX] {
        let err = Client::builder(Provider::JimmyAi)
            .api_key("k")
            .max_in_flight(n)
            .build()
            .unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::InvalidInput { field, .. } if field == "max_in_flight"),
            "{n}: {err}"
        );
    }
    let err = Client::builder(Provider::Vmeg)
        .api_key("k")
        .timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::InvalidInput { field, .. } if field == "timeout"),
        "{err}"
    );
    for n in [1, 32, usize::MAX >> 3] {
        Client::builder(Provider::Vmeg)
            .api_key("k")
            .max_in_flight(n)
            .timeout(Duration::MAX)
            .build()
            .unwrap();
    }
}

/// Short waits through the public client with any knobs: a job that never finishes on the
/// simulator, recorded sleeping, at most a few polls and attempts. Each ends in a typed
/// `WaitTimedOut`, never a panic, in bounded time.
#[test]
fn short_waits_with_any_knobs_never_panic() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (sim, job) = rt.block_on(async {
        let sim = voiceclone_sim::Simulator::start_with(
            voiceclone_sim::SimConfig::default()
                .with_durations(Duration::from_secs(86_400), Duration::from_secs(86_400)),
        )
        .await
        .unwrap();
        let c = Client::builder(Provider::Vmeg)
            .api_key(sim.api_key())
            .base_url(sim.base_url())
            .build()
            .unwrap();
        let job = c
            .clone_voice(&CloneRequest::new("https://cdn.example.com/a.wav").name("n"))
            .await
            .unwrap();
        (sim, job)
    });
    let strategy = (
        arb_wait_knobs(),
        1u32..=4,
        arb_retry_knobs(),
        1u32..=3,
        arb_duration().prop_filter("non-zero timeout", |d| !d.is_zero()),
        1usize..=64,
    );
    let mut runner = TestRunner::new(ProptestConfig {
        cases: cases().min(48),
        ..config()
    });
    runner
        .run(
            &strategy,
            |(wait, polls, retry, attempts, timeout, in_flight)| {
                let sleeper = RecordingSleeper::new();
                let client = Client::builder(Provider::Vmeg)
                    .api_key(sim.api_key())
                    .base_url(sim.base_url())
                    .retry(retry.policy().with_max_attempts(attempts))
                    .timeout(timeout)
                    .max_in_flight(in_flight)
                    .sleeper(Arc::new(sleeper.clone()))
                    .build()
                    .unwrap();
                let policy = wait.policy().with_max_polls(Some(polls));
                let started = Instant::now();
                let res = rt.block_on(async {
                    tokio::time::timeout(
                        Duration::from_secs(30),
                        client.wait_for_clone(&job.id, &policy),
                    )
                    .await
                });
                let res =
                    res.unwrap_or_else(|_| panic!("still waiting after {:?}", started.elapsed()));
                let err = res.unwrap_err();
                prop_assert!(
                    matches!(err.kind(), ErrorKind::WaitTimedOut { .. }),
                    "{err}"
                );
                Ok(())
            },
        )
        .unwrap();
    drop(sim);
}
