//! Waiting for a task to finish: one polling loop for both providers.
//!
//! The loop polls at once, then sleeps `first_interval`, `first_interval * growth`, ... up to
//! `max_interval` (each with ± `jitter`), until the status is terminal, the `deadline` has
//! passed or `max_polls` requests were made. Transient errors (those a read would retry) do
//! not end the wait; the next poll simply happens on schedule. Nor do answers that say
//! nothing final of the task (one that cannot be read, a proxy's page sent with status 200;
//! one about another task; a success envelope holding no task; a business code the vendor
//! does not document, inside an HTTP 2xx), up to [`UNREADABLE_POLLS_TOLERATED`] in a row.
//! The wait is an ordinary future: dropping it stops polling.
//!
//! The deadline holds whatever the server does: each poll (the time queued for one of the
//! client's in-flight slots, the request, and its retries) is bounded by the time left, so a
//! wait returns within `deadline` + 1 s even when the server never answers. A poll cut short
//! ends the wait with `WaitTimedOut` (last status seen, a message saying the last poll did
//! not finish in time). A `Retry-After` on a poll error is honoured, but never past the
//! deadline, nor past `max_interval` when there is no deadline.
//!
//! Defaults ([`WaitPolicy::for_provider`], each set in its vendor's module):
//! - JimmyAI: the vendor says "poll every 5-10 s": 5 s growing by 1.25x to 10 s, 15 min deadline.
//! - VMEG: no vendor guidance; 2 s growing by 1.5x to 10 s, 10 min deadline (a clone or a
//!   short TTS batch normally finishes well inside that; raise it for long batches).
//!
//! Both cap the number of polls at 200 as a backstop.
//!
//! With a `CompletionHub` (feature `webhook`) on the client (VMEG only), a wait
//! also listens for the task's webhook: a verified event ends it, with no further request
//! (a failure delivered after a success for the task never ends it as failed). Polling goes
//! on meanwhile as a fallback, every
//! [`WaitPolicy::webhook_poll_interval`] (30 s by default, the first poll 30 s in), and on the
//! normal schedule above once the hub's store is unreachable (listening again whenever the
//! store's subscription comes back).

#[cfg(feature = "webhook")]
mod hub;
mod poll;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::model::{Provider, TaskStatus};

#[cfg(feature = "webhook")]
pub(crate) use hub::wait_with_hub;
pub(crate) use poll::{Waiting, poll_from};

/// How often a wait polls, as a fallback, while a completion hub is healthy (see
/// [`WaitPolicy::webhook_poll_interval`]).
pub const DEFAULT_WEBHOOK_POLL_INTERVAL: Duration = Duration::from_secs(30);

/// How long the poll at (or past) the deadline may take: a wait returns within its deadline
/// plus this (and a zero deadline still allows one poll this long).
pub(crate) const LAST_POLL_GRACE: Duration = Duration::from_secs(1);

/// How many answers in a row a wait may fail to read (no envelope at all: a proxy's error
/// page sent with status 200), find about another task (a proxy's or cache's mix-up), find
/// holding no task (`data: null` in a success envelope, perhaps an id the vendor does not
/// know yet), or find carrying a business code the vendor does not document inside an HTTP
/// 2xx (`Vendor`: a busy answer of its own, say), before it ends with that error: such an
/// answer says nothing final of the task, and the next poll may well read it. The last two
/// are counted since the last answer about the task, server errors (5xx, 429) between them
/// included, so an alternation of them with 502s ends at this bound too. An envelope that
/// reads but contradicts itself, a documented refusal (`InvalidRequest`, `NotFound`), or an
/// undocumented code behind an HTTP refusal (401, 403, 404) or a 3xx ends the wait at once
/// (asking again gets the same). The wait's error still says the task may exist (never
/// "submit again").
pub const UNREADABLE_POLLS_TOLERATED: u32 = 3;

/// How to wait for a task.
///
/// Every value is accepted and none can make a wait panic: the setters clamp what they store
/// (their docs give the ranges), and a wait reads the public fields through the same clamps,
/// so values written into them directly are safe too.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct WaitPolicy {
    /// The wait after the first poll (any value; `ZERO` polls back to back, values above
    /// `max_interval` are read as `max_interval`).
    pub first_interval: Duration,
    /// Multiplier per poll, `1..=f64::MAX` (below 1 or NaN is read as 1, `+inf` as
    /// `f64::MAX`: straight to `max_interval`).
    pub growth: f64,
    /// The longest wait between polls (any value).
    pub max_interval: Duration,
    /// Relative jitter, `0..=1` (NaN and ±inf are read as 0, other values clamped): each wait
    /// is scaled by a random factor in `[1-jitter, 1+jitter]` (then kept within
    /// `[first_interval, max_interval]`).
    pub jitter: f64,
    /// Give up after this long (`None`: no deadline). Any value: the wait returns within the
    /// deadline plus 1 s; `ZERO` allows one poll of up to 1 s.
    pub deadline: Option<Duration>,
    /// Give up after this many status requests (`None`: no bound; `Some(0)` is read as
    /// `Some(1)`: a wait always polls once).
    pub max_polls: Option<u32>,
    /// Seed for the jitter (deterministic tests); random when `None`.
    pub seed: Option<u64>,
    /// With a `CompletionHub` (feature `webhook`) on the client: the fallback
    /// polling interval while the hub is healthy (any value; default
    /// [`DEFAULT_WEBHOOK_POLL_INTERVAL`], 30 s). The first poll happens this long after the
    /// wait starts, then one every interval (± `jitter`), within the same `deadline` and
    /// `max_polls`. VMEG does not say whether every failure sends a callback, so the wait
    /// never relies on the webhook alone; when the hub's store becomes unreachable, polling
    /// switches to the normal schedule at once.
    pub webhook_poll_interval: Duration,
    /// Told every status a poll sees; see [`WaitPolicy::on_status`].
    observer: Option<StatusObserver>,
    /// The hub fallback's fixed schedule ([`WaitPolicy::webhook_fallback`]): its jitter
    /// spreads each wait both ways around the interval, which the `[first_interval,
    /// max_interval]` bounds of a growing schedule would cancel (both are the interval).
    fixed: bool,
}

/// A callback told each status a wait sees, for progress displays. Cheap to clone.
#[derive(Clone)]
pub struct StatusObserver(Arc<dyn Fn(&TaskStatus) + Send + Sync>);

impl fmt::Debug for StatusObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StatusObserver(..)")
    }
}

impl PartialEq for StatusObserver {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Default for WaitPolicy {
    /// The VMEG defaults (the more conservative deadline of the two).
    fn default() -> Self {
        Self::for_provider(Provider::Vmeg)
    }
}

impl WaitPolicy {
    /// The documented default for a provider (see the module docs).
    pub fn for_provider(provider: Provider) -> Self {
        let d = crate::provider::facts(provider).wait;
        Self {
            first_interval: d.first_interval,
            growth: d.growth,
            max_interval: d.max_interval,
            jitter: d.jitter,
            deadline: d.deadline,
            max_polls: d.max_polls,
            seed: None,
            webhook_poll_interval: DEFAULT_WEBHOOK_POLL_INTERVAL,
            observer: None,
            fixed: false,
        }
    }

    /// Sets the first wait (any value; see [`WaitPolicy::first_interval`]).
    #[must_use]
    pub fn with_first_interval(mut self, d: Duration) -> Self {
        self.first_interval = d;
        self
    }

    /// Sets the growth factor, clamped to `1..=f64::MAX` (NaN is read as 1).
    #[must_use]
    pub fn with_growth(mut self, growth: f64) -> Self {
        self.growth = clamp_growth(growth);
        self
    }

    /// Sets the longest wait (any value).
    #[must_use]
    pub fn with_max_interval(mut self, d: Duration) -> Self {
        self.max_interval = d;
        self
    }

    /// Sets the jitter fraction, clamped to `0..=1` (NaN and ±inf are read as 0).
    #[must_use]
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = clamp_jitter(jitter);
        self
    }

    /// Sets (or removes) the deadline (any value; see [`WaitPolicy::deadline`]).
    #[must_use]
    pub fn with_deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets (or removes) the poll bound (`Some(0)` is read as `Some(1)`).
    #[must_use]
    pub fn with_max_polls(mut self, max_polls: Option<u32>) -> Self {
        self.max_polls = max_polls;
        self
    }

    /// Sets the fallback polling interval used while a completion hub is healthy (any
    /// value; see [`WaitPolicy::webhook_poll_interval`]).
    #[must_use]
    pub fn with_webhook_poll_interval(mut self, d: Duration) -> Self {
        self.webhook_poll_interval = d;
        self
    }

    /// The schedule a wait polls on while a completion hub is healthy: every
    /// `webhook_poll_interval` (± this policy's jitter, so the fallback polls of waits
    /// started together drift apart), with this policy's deadline and poll bound.
    #[cfg(feature = "webhook")]
    pub(crate) fn webhook_fallback(&self) -> WaitPolicy {
        let mut p = self.clone();
        p.first_interval = self.webhook_poll_interval;
        p.max_interval = self.webhook_poll_interval;
        p.growth = 1.0;
        p.fixed = true;
        p
    }

    /// Fixes the jitter seed.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Calls `observe` with the status of every successful poll (e.g. to show progress on a
    /// spinner). It runs inside the wait, between polls: keep it quick.
    #[must_use]
    pub fn on_status(mut self, observe: impl Fn(&TaskStatus) + Send + Sync + 'static) -> Self {
        self.observer = Some(StatusObserver(Arc::new(observe)));
        self
    }

    fn growth(&self) -> f64 {
        clamp_growth(self.growth)
    }

    fn floor(&self) -> Duration {
        self.first_interval.min(self.max_interval)
    }

    /// The wait after poll number `poll` (1-based), before jitter: never above
    /// `max_interval`.
    pub fn interval_without_jitter(&self, poll: u32) -> Duration {
        if self.first_interval.is_zero() || self.max_interval.is_zero() {
            return Duration::ZERO;
        }
        let exp = i32::try_from(poll.saturating_sub(1)).unwrap_or(i32::MAX);
        let factor = self.growth().powi(exp);
        let secs = self.first_interval.as_secs_f64() * factor;
        if secs.is_nan() || secs >= self.max_interval.as_secs_f64() {
            return self.max_interval;
        }
        Duration::try_from_secs_f64(secs.max(0.0))
            .map_or(self.max_interval, |d| d.min(self.max_interval))
    }

    pub(crate) fn interval(&self, poll: u32, rng: &mut crate::jitter::Jitter) -> Duration {
        let base = self.interval_without_jitter(poll);
        let j = clamp_jitter(self.jitter);
        if j == 0.0 {
            return base;
        }
        let factor = 1.0 + j * (rng.f64() * 2.0 - 1.0);
        let secs = base.as_secs_f64() * factor;
        if self.fixed {
            // At most twice the interval: past what a Duration holds only near `MAX`.
            return Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(base);
        }
        // Past what a Duration holds: only possible above max_interval, so max_interval.
        Duration::try_from_secs_f64(secs.max(0.0))
            .unwrap_or(self.max_interval)
            .clamp(self.floor(), self.max_interval.max(self.floor()))
    }

    /// The waits between polls, without jitter and ignoring request latency, for a task that
    /// never finishes: the schedule up to the deadline or the poll bound. With no bound at
    /// all, the first 10 000 waits.
    pub fn schedule_without_jitter(&self) -> Vec<Duration> {
        let mut out = Vec::new();
        let mut elapsed = Duration::ZERO;
        let mut polls: u32 = 1;
        loop {
            if self.max_polls.is_some_and(|m| polls >= m) || polls > 10_000 {
                return out;
            }
            let mut next = self.interval_without_jitter(polls);
            if let Some(deadline) = self.deadline {
                if elapsed >= deadline {
                    return out;
                }
                next = next.min(deadline.saturating_sub(elapsed));
            }
            out.push(next);
            elapsed = elapsed.saturating_add(next);
            polls = polls.saturating_add(1);
        }
    }

    /// How many status requests a wait makes (without jitter, ignoring latency) when the
    /// task turns terminal `done_after` the first poll; if it never sees the end in time,
    /// the number of polls made before giving up.
    pub fn polls_until(&self, done_after: Duration) -> u32 {
        let mut elapsed = Duration::ZERO;
        let mut polls: u32 = 1;
        for wait in self.schedule_without_jitter() {
            if elapsed >= done_after {
                return polls;
            }
            elapsed = elapsed.saturating_add(wait);
            polls = polls.saturating_add(1);
        }
        polls
    }
}

fn clamp_growth(growth: f64) -> f64 {
    if growth.is_nan() || growth < 1.0 {
        1.0
    } else {
        growth.min(f64::MAX)
    }
}

fn clamp_jitter(jitter: f64) -> f64 {
    if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn policy() -> WaitPolicy {
        WaitPolicy::for_provider(Provider::Vmeg).with_jitter(0.0)
    }

    #[test]
    fn schedule_grows_to_the_cap_and_stops_at_the_deadline() {
        let p = policy().with_deadline(Some(Duration::from_secs(60)));
        let s = p.schedule_without_jitter();
        let secs: Vec<f64> = s.iter().map(|d| d.as_secs_f64()).collect();
        assert_eq!(&secs[..5], &[2.0, 3.0, 4.5, 6.75, 10.0]);
        assert_eq!(s.iter().sum::<Duration>(), Duration::from_secs(60));
        assert_eq!(p.polls_until(Duration::ZERO), 1);
        assert_eq!(p.polls_until(Duration::from_secs(5)), 3);
        assert_eq!(p.polls_until(Duration::from_secs(3600)), s.len() as u32 + 1);
        let bounded = policy().with_max_polls(Some(3));
        assert_eq!(bounded.schedule_without_jitter().len(), 2);
        let jimmy = WaitPolicy::for_provider(Provider::JimmyAi).with_jitter(0.0);
        for d in jimmy.schedule_without_jitter().iter().take(20) {
            assert!(*d >= Duration::from_secs(5) && *d <= Duration::from_secs(10));
        }
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let p = WaitPolicy::for_provider(Provider::JimmyAi).with_jitter(0.5);
        let mut rng = crate::jitter::Jitter::with_seed(3);
        for n in 1..100 {
            let d = p.interval(n, &mut rng);
            assert!(
                d >= Duration::from_secs(5) && d <= Duration::from_secs(10),
                "{d:?}"
            );
        }
    }

    #[test]
    fn intervals_survive_extreme_knobs() {
        let huge = WaitPolicy::for_provider(Provider::Vmeg)
            .with_first_interval(Duration::MAX)
            .with_max_interval(Duration::MAX)
            .with_growth(f64::INFINITY)
            .with_jitter(1.0)
            .with_deadline(None)
            .with_max_polls(None);
        let mut rng = crate::jitter::Jitter::with_seed(9);
        for poll in [0, 1, 2, 3, 1000, u32::MAX] {
            for _ in 0..20 {
                assert!(huge.interval(poll, &mut rng) <= Duration::MAX);
            }
        }
        assert_eq!(huge.schedule_without_jitter().len(), 10_000);
        assert!(huge.polls_until(Duration::MAX) <= 10_001);
        // A zero first interval and no bound at all: the 10,000 cap still holds.
        let zero = huge
            .clone()
            .with_first_interval(Duration::ZERO)
            .with_growth(1.0);
        assert_eq!(zero.schedule_without_jitter().len(), 10_000);
        assert_eq!(zero.polls_until(Duration::from_secs(1)), 10_001);
        // Whatever is written into the public fields.
        let mut raw = policy();
        raw.growth = f64::NAN;
        raw.jitter = f64::NEG_INFINITY;
        raw.first_interval = Duration::MAX;
        raw.max_interval = Duration::ZERO;
        for poll in [1, 2, u32::MAX] {
            assert_eq!(raw.interval(poll, &mut rng), Duration::ZERO);
        }
    }
}
