//! One resend per idempotency key at a time in a client (and its clones): two resends of
//! the same submit at once (two tasks handling one error, a retry loop racing a user) would
//! both reach VMEG with the key in flight, and whether VMEG deduplicates a key whose first
//! request is still being processed is UNKNOWN (api-facts A4): the second could bill again.
//!
//! A synchronous create runs at VMEG until its task ends (its route's 180 s), whether or not
//! anyone still waits for the answer. So a synchronous resend cut short after it went out
//! (dropped by an outer timer, or ended in `OutcomeUnknown`) keeps its key held for that
//! time counted from when it ended or was dropped, not from when it started: its request may
//! have reached VMEG at any point of its run (after a slow connect, a retry), as the original
//! error's own rule counts from its last attempt's end. The next resend of the same error
//! would otherwise overlap it, as a second one at once would. An async resend cut short so
//! keeps its key for [`KEYED_CREATE_REPEAT_PAUSE`] (the pause before any repeat under a key
//! that may be in flight), by the same count.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, ErrorKind};
use crate::retry::KEYED_CREATE_REPEAT_PAUSE;

/// How many keys held after a cut-short resend are remembered at most. Each is a resend
/// that ended within the last 180 s; past this, the one whose hold ends first is let go
/// (and logged), so a flood of cut-short resends cannot grow the map without bound.
const MAX_HELD: usize = 4096;

/// The keys being resent now, and those of resends cut short that may still be in flight at
/// VMEG; and when a resend under a key (either route) was last cut short, for a later search
/// to wait for its task (see [`Resends::cut_short_at`]).
#[derive(Debug, Default)]
pub(super) struct Resends(
    Mutex<HashMap<String, Hold>>,
    Mutex<HashMap<String, SystemTime>>,
);

/// How long a cut-short resend's time is remembered: past VMEG's key lifetime no resend
/// under the key is made, so no search after its 409 needs it.
const CUT_SHORT_KEPT: Duration = Duration::from_secs(24 * 60 * 60);

/// A remembered cut-short time `at` as read at `now`: gone past [`CUT_SHORT_KEPT`], and
/// taken as `now` when more than the allowed skew ahead. Such a time was noted before the
/// clock moved back: kept as it is, it would never age out, and every later 409 on its key
/// would answer "look again" until the clock caught up (review 30 pass 3 (b) #4).
fn aged(at: SystemTime, now: SystemTime) -> Option<SystemTime> {
    match now.duration_since(at) {
        Ok(age) => (age < CUT_SHORT_KEPT).then_some(at),
        Err(ahead) if ahead.duration() <= crate::model::FUTURE_SKEW => Some(at),
        Err(_) => Some(now),
    }
}

/// [`aged`] in place: whether the time `at` holds is still kept, `at` set to it if so.
fn keep_aged(at: &mut SystemTime, now: SystemTime) -> bool {
    match aged(*at, now) {
        Some(kept) => {
            *at = kept;
            true
        }
        None => false,
    }
}

#[derive(Debug, Clone, Copy)]
enum Hold {
    /// A resend with this key is in flight in this client.
    InFlight,
    /// A resend with this key was cut short after it went out: it may be in flight at VMEG
    /// until this instant (a synchronous one: the route's time after it ended; an async one:
    /// the pause before a repeat).
    MayRun(Instant),
}

/// Why [`Resends::take`] refused a key (nothing sent).
#[derive(Debug)]
pub(super) enum Busy {
    /// Another resend with the key is in flight in this client.
    InFlight,
    /// A resend with the key was cut short after it went out, and may still be in flight at
    /// VMEG for this long.
    MayStillRun(Duration),
}

impl Busy {
    /// The refusal: for a resend in flight, `in_flight` given an `InvalidInput` naming
    /// `idempotency_key`; for one that may still run, `may_run` given the time left (the
    /// caller's `OutcomeUnknown` with its "resend after" note, as a resend too early after
    /// the first submit gets).
    pub(super) fn refusal(
        self,
        in_flight: impl FnOnce(Error) -> Error,
        may_run: impl FnOnce(Duration) -> Error,
    ) -> Error {
        match self {
            Busy::InFlight => in_flight(Error::invalid_input(
                "idempotency_key",
                "another resend with this key is in flight in this client: wait for its result \
                 (two at once could both reach the provider, and whether it deduplicates a key \
                 still being processed is unknown)",
            )),
            Busy::MayStillRun(left) => may_run(left),
        }
    }
}

/// The resend being made, as the transport sees it from inside (a task-local).
#[derive(Debug)]
struct Resending {
    /// Whether it may have put its create on the wire (set by the transport as an attempt may
    /// start sending; cleared when it reached nothing).
    sent: AtomicBool,
    /// The first submit under its key: what a search for the task starts from, as the
    /// resend's returned error is dated (`dated_from_first_submit`).
    first_submitted_at: SystemTime,
}

tokio::task_local! {
    static RESENDING: Arc<Resending>;
}

/// An attempt of a create may now reach the provider (`true`), or the attempt that was
/// sending reached nothing and none before it had (`false`). Noted only inside a
/// resend ([`Taken::send`]); elsewhere nothing holds a key.
pub(crate) fn sending(sent: bool) {
    let _ = RESENDING.try_with(|r| r.sent.store(sent, Ordering::Relaxed));
}

/// Inside a resend ([`Taken::send`]): when the first submit under its key was made, for the
/// transport's WARN line about a write that may have made a task. `None` outside a resend.
pub(crate) fn first_submitted_at() -> Option<SystemTime> {
    RESENDING.try_with(|r| r.first_submitted_at).ok()
}

/// A key taken by [`Resends::take`]; given back when dropped, unless its resend may still be
/// in flight at VMEG (see the module's docs).
pub(super) struct Taken<'a> {
    resends: &'a Resends,
    key: String,
    /// The request goes to a synchronous create.
    synchronous: bool,
    /// Whether the resend may have sent its create (see [`sending`]), and its first submit.
    resending: Arc<Resending>,
    /// When the resend ended with its outcome unknown; `None` while it runs (a drop then
    /// counts the hold from the drop).
    ended: Option<(Instant, SystemTime)>,
    /// Its create was started: cut short, it may have used the key.
    started: bool,
    /// The resend ended with an answer (or with nothing sent): nothing of it runs on.
    answered: bool,
}

impl Resends {
    /// `key` for one resend (to a synchronous create when `synchronous`) of the submit made
    /// at `first_submitted_at`, or why not: another resend with it is in flight, or a
    /// cut-short one may still be in flight at VMEG.
    pub(super) fn take(
        &self,
        key: &str,
        synchronous: bool,
        first_submitted_at: SystemTime,
    ) -> Result<Taken<'_>, Busy> {
        let now = Instant::now();
        let mut keys = self.0.lock().unwrap_or_else(|p| p.into_inner());
        keys.retain(|_, hold| !matches!(hold, Hold::MayRun(until) if *until <= now));
        match keys.get(key) {
            Some(Hold::InFlight) => return Err(Busy::InFlight),
            Some(Hold::MayRun(until)) => {
                return Err(Busy::MayStillRun(until.saturating_duration_since(now)));
            }
            None => {}
        }
        keys.insert(key.to_owned(), Hold::InFlight);
        Ok(Taken {
            resends: self,
            key: key.to_owned(),
            synchronous,
            resending: Arc::new(Resending {
                sent: AtomicBool::new(false),
                first_submitted_at,
            }),
            ended: None,
            started: false,
            answered: false,
        })
    }

    /// When the latest resend under `key` in this client (and its clones) that may have
    /// reached the provider was cut short (dropped while running, or ended in
    /// `OutcomeUnknown`; either route), if within VMEG's key lifetime. A 409 on a later
    /// resend may be the key that resend used, its task not yet listed: the search after it
    /// settles only after this too (review 30 pass 2 #2).
    pub(super) fn cut_short_at(&self, key: &str) -> Option<SystemTime> {
        let mut times = self.1.lock().unwrap_or_else(|p| p.into_inner());
        let now = SystemTime::now();
        let at = times.get_mut(key)?;
        if keep_aged(at, now) {
            Some(*at)
        } else {
            times.remove(key);
            None
        }
    }

    fn note_cut_short(&self, key: &str, at: SystemTime) {
        let mut times = self.1.lock().unwrap_or_else(|p| p.into_inner());
        let now = SystemTime::now();
        times.retain(|_, t| keep_aged(t, now));
        let latest = times.get(key).map_or(at, |t| (*t).max(at));
        times.insert(key.to_owned(), latest);
        if times.len() > MAX_HELD {
            // The oldest goes: its search is the likeliest to have settled already.
            let oldest = times
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                times.remove(&oldest);
                tracing::warn!(
                    idempotency_key = %oldest,
                    kept = MAX_HELD,
                    "too many cut-short resends remembered; the oldest is let go: a search \
                     after a 409 on its key may settle before its task is listed"
                );
            }
        }
    }

    fn release(&self, key: &str, may_run_until: Option<Instant>) {
        let mut keys = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let Some(until) = may_run_until.filter(|u| *u > Instant::now()) else {
            keys.remove(key);
            return;
        };
        keys.insert(key.to_owned(), Hold::MayRun(until));
        let held = keys
            .values()
            .filter(|h| matches!(h, Hold::MayRun(_)))
            .count();
        if held > MAX_HELD {
            let first = keys
                .iter()
                .filter_map(|(k, h)| match h {
                    Hold::MayRun(u) => Some((*u, k)),
                    Hold::InFlight => None,
                })
                .min()
                .map(|(_, k)| k.clone());
            if let Some(first) = first {
                keys.remove(&first);
                tracing::warn!(
                    idempotency_key = %first,
                    held = MAX_HELD,
                    "too many cut-short resends held; the key whose hold ends \
                     first is let go early: a resend of it now may overlap one still running"
                );
            }
        }
    }
}

impl Taken<'_> {
    /// Runs the resend's create (`fut`), noting whether its requests went out; an
    /// `OutcomeUnknown` keeps the key held from its end as a drop mid-way does from the drop.
    pub(super) async fn send<T>(
        &mut self,
        fut: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        self.started = true;
        let out = RESENDING.scope(Arc::clone(&self.resending), fut).await;
        match &out {
            Err(e) if matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }) => {
                // Unknown, so it may have gone out even if no attempt said so. Its last
                // attempt ended just now (an unknown outcome is never waited on to retry).
                self.resending.sent.store(true, Ordering::Relaxed);
                self.ended = Some((Instant::now(), SystemTime::now()));
            }
            _ => self.answered = true,
        }
        out
    }
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        let may_run = !self.answered && self.resending.sent.load(Ordering::Relaxed);
        let runs = if self.synchronous {
            super::reconcile::SYNC_RUNS
        } else {
            KEYED_CREATE_REPEAT_PAUSE
        };
        // Dropped while running: the request may have reached VMEG only just now.
        let may_run_until = may_run
            .then(|| self.ended.map_or_else(Instant::now, |(at, _)| at))
            .and_then(|end| end.checked_add(runs));
        // Either route, and any started one: a later search only waits longer for one that
        // sent nothing, while one that went out unnoted would let it settle too soon.
        if self.started && !self.answered {
            let at = self.ended.map_or_else(SystemTime::now, |(_, at)| at);
            self.resends.note_cut_short(&self.key, at);
        }
        self.resends.release(&self.key, may_run_until);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn held(r: &Resends) -> usize {
        r.0.lock().unwrap().len()
    }

    #[tokio::test]
    async fn a_cut_short_sync_resend_holds_its_key_and_an_answered_one_does_not() {
        let r = Resends::default();
        // Dropped after sending: held for about the route's time.
        let mut t = r.take("k", true, SystemTime::now()).unwrap();
        let cut = t.send(async {
            sending(true);
            std::future::pending::<Result<(), Error>>().await
        });
        let _ = tokio::time::timeout(Duration::from_millis(5), cut).await;
        drop(t);
        let left = match r.take("k", true, SystemTime::now()) {
            Err(Busy::MayStillRun(left)) => Some(left),
            _ => None,
        };
        assert!(
            left.is_some_and(|l| l > Duration::from_secs(170) && l <= Duration::from_secs(180)),
            "{left:?}"
        );
        // Dropped before anything went out, or answered: given back.
        let mut t = r.take("k2", true, SystemTime::now()).unwrap();
        t.send(async {
            sending(true);
            Err::<(), _>(Error::invalid_input("x", "refused"))
        })
        .await
        .unwrap_err();
        drop(t);
        drop(r.take("k3", true, SystemTime::now()).unwrap());
        let mut t = r.take("k4", false, SystemTime::now()).unwrap();
        t.send(async {
            sending(true);
            Err::<(), _>(Error::new(ErrorKind::OutcomeUnknown {
                idempotency_key: Some("k4".into()),
                task_id: None,
                submitted_at: std::time::SystemTime::now(),
                request: crate::error::RequestSummary::default(),
            }))
        })
        .await
        .unwrap_err();
        drop(t);
        // Async and ended unknown: held for the pause before a repeat under its key, no more
        // (review 34 pass 5 #1).
        let left = match r.take("k4", false, SystemTime::now()) {
            Err(Busy::MayStillRun(left)) => Some(left),
            _ => None,
        };
        assert!(
            left.is_some_and(|l| !l.is_zero() && l <= KEYED_CREATE_REPEAT_PAUSE),
            "{left:?}"
        );
        for k in ["k2", "k3"] {
            assert!(r.take(k, true, SystemTime::now()).is_ok(), "{k}");
        }
        assert_eq!(held(&r), 2);
    }

    /// Review 30 pass 2 #2: a resend cut short (either route: dropped while running, or
    /// ended unknown) is remembered for the search after a later 409; one answered, or never
    /// started, is not; the remembered keys are capped.
    #[tokio::test]
    async fn cut_short_resends_are_remembered_and_answered_ones_are_not() {
        let r = Resends::default();
        let before = SystemTime::now();
        let mut t = r.take("async-dropped", false, before).unwrap();
        let cut = t.send(std::future::pending::<Result<(), Error>>());
        let _ = tokio::time::timeout(Duration::from_millis(5), cut).await;
        drop(t);
        assert!(
            r.cut_short_at("async-dropped")
                .is_some_and(|at| at >= before)
        );
        let mut t = r.take("answered", false, before).unwrap();
        t.send(async { Err::<(), _>(Error::new(ErrorKind::Conflict)) })
            .await
            .unwrap_err();
        drop(t);
        drop(r.take("never-sent", false, before).unwrap());
        assert_eq!(r.cut_short_at("answered"), None);
        assert_eq!(r.cut_short_at("never-sent"), None);
        for i in 0..=MAX_HELD {
            r.note_cut_short(
                &format!("k{i}"),
                before + Duration::from_millis(u64::try_from(i).unwrap()),
            );
        }
        assert_eq!(r.1.lock().unwrap().len(), MAX_HELD);
    }

    /// Review 30 pass 3 (b) #4: a time older than VMEG's key lifetime is not given (nor
    /// kept once another is noted), and one more than the allowed skew ahead of the clock (a
    /// clock moved back since) is taken as now, so it ages out instead of keeping every
    /// later 409 on its key "look again" until the clock catches up. One within the skew
    /// stands. Before: both were given as stored, the future one for ever.
    #[test]
    fn a_cut_short_time_too_old_or_too_far_ahead_is_not_kept_as_it_is() {
        let r = Resends::default();
        let now = SystemTime::now();
        let day = Duration::from_secs(24 * 60 * 60);
        let near = now + Duration::from_secs(120);
        {
            let mut times = r.1.lock().unwrap();
            times.insert("old".into(), now - day - Duration::from_secs(60));
            times.insert("ahead".into(), now + Duration::from_secs(3600));
            times.insert("near".into(), near);
            times.insert("old2".into(), now - day - Duration::from_secs(60));
            times.insert("ahead2".into(), now + Duration::from_secs(3600));
        }
        assert_eq!(r.cut_short_at("old"), None);
        let ahead = r.cut_short_at("ahead");
        assert!(
            ahead.is_some_and(|at| at >= now && at <= SystemTime::now()),
            "{ahead:?}"
        );
        assert_eq!(r.cut_short_at("ahead"), ahead, "the clamped time is kept");
        assert_eq!(r.cut_short_at("near"), Some(near));
        r.note_cut_short("new", SystemTime::now());
        let times = r.1.lock().unwrap();
        assert!(!times.contains_key("old2"));
        assert!(
            times
                .get("ahead2")
                .is_some_and(|at| *at <= SystemTime::now()),
            "{times:?}"
        );
    }

    #[test]
    fn held_keys_expire_and_are_capped() {
        let r = Resends::default();
        let now = Instant::now();
        r.release("gone", Some(now));
        assert_eq!(held(&r), 0, "a hold already over is not kept");
        for i in 0..=MAX_HELD {
            let until =
                now + Duration::from_secs(60) + Duration::from_millis(u64::try_from(i).unwrap());
            r.release(&format!("k{i}"), Some(until));
        }
        assert_eq!(held(&r), MAX_HELD);
        assert!(
            r.take("k0", true, SystemTime::now()).is_ok(),
            "the first to end is let go"
        );
        assert!(matches!(
            r.take(&format!("k{MAX_HELD}"), true, SystemTime::now()),
            Err(Busy::MayStillRun(_))
        ));
    }
}
