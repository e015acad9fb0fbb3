//! Dropping redeliveries: VMEG retries with the same `pipelineKey`.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use super::store::{Confirmation, MarkToken};
use super::{DEFAULT_DEDUPE_TTL, MAX_PIPELINE_KEY_BYTES, MIN_DEDUPE_TTL, WebhookEvent};

/// The boxed future a [`Deduplicator`] returns (`Box::pin(async move { ... })`).
pub type DedupFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Remembers which deliveries were handled, keyed by `pipelineKey`. Usable behind
/// `Arc<dyn Deduplicator>`; back it with a database to share it between processes.
///
/// A receiver whose handling can fail, or outlast VMEG's answer timeout, should use
/// [`Deduplicator::claim`], then [`Deduplicator::confirm`] once the work is committed or
/// [`Deduplicator::release`] if it fails (see the [module example](super)): a redelivery
/// that arrives meanwhile is [`DedupClaim::InProgress`], answered 503, so VMEG still
/// redelivers should the handling fail. With `first_seen` that redelivery reads as handled,
/// is answered 200, and the event is lost if the handling then fails.
///
/// The two-step mark needs an implementor that overrides `claim`, `confirm` and `release`
/// ([`MemoryDeduplicator`] does). With the defaults (a store written against `first_seen`
/// alone), `claim` marks at once, so a redelivery during the handling is still a
/// [`DedupClaim::Duplicate`] (the race above), and `release` removes only what `forget`
/// removes (nothing, unless `forget` is implemented). The default `claim` logs a warning
/// once per process saying so.
pub trait Deduplicator: Send + Sync {
    /// True the first time a key is seen (within the store's memory), false afterwards.
    fn first_seen<'a>(&'a self, key: &'a str) -> DedupFuture<'a, bool>;

    /// [`Deduplicator::first_seen`] for a verified delivery's `pipelineKey`, with its
    /// timestamp ([`WebhookEvent::sent_at`]): [`MemoryDeduplicator`] then also keeps the key
    /// while the wall clock is before that timestamp plus its TTL, so that a system clock
    /// stepped back cannot make a delivery it has forgotten fresh again (see the
    /// [module docs](super)). The default calls `first_seen(&event.pipeline_key)`.
    fn first_seen_delivery<'a>(&'a self, event: &'a WebhookEvent) -> DedupFuture<'a, bool> {
        self.first_seen(&event.pipeline_key)
    }

    /// Forgets a key, so that the next delivery with it is handled again. It helps only if
    /// no redelivery was answered 200 in the meantime (VMEG stops once one is): a receiver
    /// whose handling can outlast VMEG's answer timeout should use
    /// [`Deduplicator::claim`] and [`Deduplicator::release`] instead. The default does
    /// nothing.
    fn forget<'a>(&'a self, key: &'a str) -> DedupFuture<'a, ()> {
        let _ = key;
        Box::pin(async {})
    }

    /// Marks a verified delivery's `pipelineKey` as being handled, for `lease` (at most the
    /// TTL): [`DedupClaim::Claimed`] with the token that confirms or releases the mark when
    /// nobody held it; [`DedupClaim::InProgress`] while another claim's lease runs (answer
    /// 503: VMEG tries again); [`DedupClaim::Duplicate`] once handled. A lease that runs out
    /// unconfirmed (the handler died) makes the next redelivery `Claimed` again: give it more
    /// than the handling takes. The default marks at once, as
    /// [`Deduplicator::first_seen_delivery`] does (`Claimed` or `Duplicate`, never
    /// `InProgress`).
    fn claim<'a>(
        &'a self,
        event: &'a WebhookEvent,
        lease: Duration,
    ) -> DedupFuture<'a, DedupClaim> {
        let _ = lease;
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| {
            tracing::warn!(
                "this Deduplicator does not implement claim: a redelivery during the handling is answered as a duplicate, and release only forgets (see Deduplicator)"
            );
        });
        Box::pin(async move {
            if self.first_seen_delivery(event).await {
                DedupClaim::Claimed(MarkToken::new())
            } else {
                DedupClaim::Duplicate
            }
        })
    }

    /// Confirms a claim once the work is committed: later deliveries with `key` are
    /// duplicates for the TTL. After the lease ran out, the mark is set again if nobody took
    /// the key ([`Confirmation::Reclaimed`]), and another claim's mark is left as it is
    /// ([`Confirmation::Taken`]: handled by both). The default does nothing (its claim
    /// marked at once) and says `Confirmed`.
    fn confirm<'a>(&'a self, key: &'a str, token: &'a MarkToken) -> DedupFuture<'a, Confirmation> {
        let _ = (key, token);
        Box::pin(async { Confirmation::Confirmed })
    }

    /// Gives a claim up (the handling failed before its effects were committed), so that the
    /// next delivery with `key` is claimed again; true when the mark was removed. Only the
    /// claim that set the mark removes it. The default calls [`Deduplicator::forget`] and
    /// says true: it cannot tell whether `forget` removed anything (the default `forget`
    /// removes nothing).
    fn release<'a>(&'a self, key: &'a str, token: &'a MarkToken) -> DedupFuture<'a, bool> {
        let _ = token;
        Box::pin(async move {
            self.forget(key).await;
            true
        })
    }
}

/// What [`Deduplicator::claim`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DedupClaim {
    /// Nobody held the key: this call marked it, pending for its lease. Handle the delivery,
    /// then [`Deduplicator::confirm`] (or [`Deduplicator::release`]) with the token.
    Claimed(MarkToken),
    /// Another claim is handling the delivery and has neither confirmed nor released it:
    /// answer 503 (never 200: should that handling fail, VMEG must still be redelivering).
    InProgress,
    /// Already handled: a redelivery; answer 200.
    Duplicate,
}

/// An in-process [`Deduplicator`]: at most `capacity` keys, each remembered for `ttl`.
/// When full, the oldest key is forgotten first. Memory grows with the keys seen, never with
/// `capacity` up front; a key longer than [`MAX_PIPELINE_KEY_BYTES`] is remembered by its
/// SHA-256, so each entry stays small whatever the caller passes in.
pub struct MemoryDeduplicator {
    capacity: usize,
    ttl: Duration,
    state: Mutex<DedupState>,
}

#[derive(Default)]
struct DedupState {
    seen: HashMap<String, Entry>,
    /// Keys in the order they were marked, with the instant that names each entry.
    order: VecDeque<(String, Instant)>,
}

/// A moment on both clocks: marks age by the monotonic one, which a step of the system clock
/// does not move; a delivery's timestamp is judged by the wall clock (see [`Entry::live`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Moment {
    pub(crate) mono: Instant,
    pub(crate) wall: SystemTime,
}

impl Moment {
    /// Now, on both clocks.
    pub(crate) fn now() -> Self {
        Instant::now().into()
    }
}

/// `mono`, with the wall clock read now (for callers that only step the monotonic one).
impl From<Instant> for Moment {
    fn from(mono: Instant) -> Self {
        Self {
            mono,
            wall: SystemTime::now(),
        }
    }
}

/// One key's mark: when it was set, for how long it holds, the token of the call that set
/// it (the [`MemoryStore`](super::MemoryStore)'s record calls set one; `first_seen` does
/// not), whether it is only pending (a lease) or confirmed, and, when the delivery's
/// timestamp is known, the wall-clock time until which it is kept whatever its age.
#[derive(Clone, Debug)]
struct Entry {
    at: Instant,
    ttl: Duration,
    token: Option<String>,
    pending: bool,
    /// The delivery's timestamp plus the TTL (see [`Entry::live`]).
    wall_until: Option<SystemTime>,
}

impl Entry {
    /// A mark holds for its TTL on the monotonic clock, and a confirmed one also while the
    /// wall clock is before its delivery's timestamp plus the TTL. The verifier judges a
    /// delivery fresh by the wall clock: stepped back (by hand, by a VM restored, by NTP),
    /// it makes a delivery seen long ago fresh again, and a mark aged out on the monotonic
    /// clock alone would let its replay through. With the wall-clock bound, a mark goes only
    /// once its delivery is stale on the wall clock by the whole TTL: a replay then needs the
    /// clock stepped back by more than the TTL less the verifier's tolerance (72 h less 5 min
    /// by default) after the mark has gone. A step forward ages no mark sooner.
    fn live(&self, now: Moment) -> bool {
        now.mono.saturating_duration_since(self.at) < self.ttl
            || (!self.pending && self.wall_until.is_some_and(|until| now.wall < until))
    }

    /// Whether a trim keeps this entry though it is not live: a lease that ran out on a mark
    /// that knows its delivery's timestamp stays (reading as absent) for the TTL, as a
    /// confirmed mark made then would, so that a confirm that comes late still carries the
    /// wall-clock bound over (see [`MemoryDeduplicator::confirm_at`]).
    fn kept(&self, now: Moment, ttl: Duration) -> bool {
        self.live(now)
            || (self.pending
                && self.wall_until.is_some()
                && now.mono.saturating_duration_since(self.at) < ttl)
    }

    fn state(&self, now: Moment) -> MarkState {
        match (self.live(now), self.pending) {
            (false, _) => MarkState::Absent,
            (true, true) => MarkState::Pending,
            (true, false) => MarkState::Confirmed,
        }
    }
}

/// What a key's mark is at a given instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MarkState {
    /// Not marked (never, expired, or forgotten).
    Absent,
    /// Marked pending: someone is acting on it under a lease.
    Pending,
    /// Marked handled.
    Confirmed,
}

/// What [`MemoryDeduplicator::confirm_at`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConfirmState {
    /// The mark held the token: confirmed.
    Ours,
    /// No live mark: one was set, confirmed, with the token.
    Reclaimed,
    /// Another token's mark: left as it is.
    Taken,
}

impl fmt::Debug for MemoryDeduplicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryDeduplicator")
            .field("capacity", &self.capacity)
            .field("ttl", &self.ttl)
            .field("len", &self.len())
            .finish()
    }
}

impl MemoryDeduplicator {
    /// A store for up to `capacity` keys, `1..=usize::MAX` (0 is read as 1; nothing is
    /// allocated up front), each kept for `ttl`, at least [`MIN_DEDUPE_TTL`] (shorter
    /// values, zero included, are raised to it: a replay inside the window, either way
    /// around its timestamp, must still be caught);
    /// `Duration::MAX` keeps keys until capacity pushes them out.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            capacity: capacity.max(1),
            ttl: ttl.max(MIN_DEDUPE_TTL),
            state: Mutex::new(DedupState::default()),
        }
    }

    /// How long a key is kept.
    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A store for up to `capacity` keys kept for [`DEFAULT_DEDUPE_TTL`] (72 h).
    pub fn with_capacity(capacity: usize) -> Self {
        Self::new(capacity, DEFAULT_DEDUPE_TTL)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DedupState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.lock().seen.len()
    }

    /// True when no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`Deduplicator::first_seen`] at an explicit instant (for tests).
    pub fn first_seen_at(&self, key: &str, now: Instant) -> bool {
        self.mark_at(key, now.into(), None, None, None)
    }

    /// True when `key` was marked within its TTL as of `now`, pending or confirmed (marks
    /// nothing).
    pub fn seen_at(&self, key: &str, now: Instant) -> bool {
        self.state_at(key, now) != MarkState::Absent
    }

    /// What `key`'s mark is as of `now`.
    pub(crate) fn state_at(&self, key: &str, now: impl Into<Moment>) -> MarkState {
        let now = now.into();
        let st = self.lock();
        st.seen
            .get(bounded_key(key).as_ref())
            .map_or(MarkState::Absent, |e| e.state(now))
    }

    /// Marks `key` unless a live mark holds it: confirmed for the TTL (`lease` `None`), or
    /// pending for `lease` (at least 1 ms, at most the TTL), owned by `token`; `sent_at`, the
    /// delivery's timestamp, keeps a confirmed mark while the wall clock is before it plus the
    /// TTL (see [`Entry::live`]). True when this call set the mark.
    pub(crate) fn mark_at(
        &self,
        key: &str,
        now: Moment,
        sent_at: Option<SystemTime>,
        token: Option<&str>,
        lease: Option<Duration>,
    ) -> bool {
        self.try_mark_at(key, now, sent_at, token, lease).is_ok()
    }

    /// [`MemoryDeduplicator::mark_at`], telling what the live mark that held `key` was
    /// (pending or confirmed), read under the same lock: looked at again afterwards, a
    /// pending mark released in between would read as absent.
    pub(crate) fn try_mark_at(
        &self,
        key: &str,
        now: Moment,
        sent_at: Option<SystemTime>,
        token: Option<&str>,
        lease: Option<Duration>,
    ) -> Result<(), MarkState> {
        let key = bounded_key(key);
        let key = key.as_ref();
        let mut st = self.lock();
        self.trim(&mut st, now);
        if let Some(held @ (MarkState::Pending | MarkState::Confirmed)) =
            st.seen.get(key).map(|e| e.state(now))
        {
            return Err(held);
        }
        let entry = Entry {
            at: now.mono,
            ttl: lease.map_or(self.ttl, |l| l.max(Duration::from_millis(1)).min(self.ttl)),
            token: token.map(str::to_owned),
            pending: lease.is_some(),
            wall_until: sent_at.and_then(|t| t.checked_add(self.ttl)),
        };
        self.insert(&mut st, key, entry);
        Ok(())
    }

    /// Confirms `key`'s mark if `token` owns it (it is then kept for the TTL from `now`);
    /// with no live mark, sets a confirmed one owned by `token`; another token's mark is
    /// left as it is.
    pub(crate) fn confirm_at(
        &self,
        key: &str,
        token: &str,
        now: impl Into<Moment>,
    ) -> ConfirmState {
        let now = now.into();
        let key = bounded_key(key);
        let key = key.as_ref();
        let mut st = self.lock();
        self.trim(&mut st, now);
        let found = match st.seen.get(key) {
            Some(e) if e.live(now) && e.token.as_deref() == Some(token) => ConfirmState::Ours,
            Some(e) if e.live(now) => return ConfirmState::Taken,
            _ => ConfirmState::Reclaimed,
        };
        // The delivery's wall-clock bound carries over from the pending mark, if still kept.
        let wall_until = st.seen.get(key).and_then(|e| e.wall_until);
        let entry = Entry {
            at: now.mono,
            ttl: self.ttl,
            token: Some(token.to_owned()),
            pending: false,
            wall_until,
        };
        self.insert(&mut st, key, entry);
        found
    }

    /// Removes `key`'s mark if `token` owns it (pending or confirmed, live or not); true
    /// when it did. Another token's mark, or a mark set without one, stays.
    pub(crate) fn release_now(&self, key: &str, token: &str) -> bool {
        let key = bounded_key(key);
        let mut st = self.lock();
        let ours = st
            .seen
            .get(key.as_ref())
            .is_some_and(|e| e.token.as_deref() == Some(token));
        if ours {
            st.seen.remove(key.as_ref());
        }
        ours
    }

    pub(crate) fn forget_now(&self, key: &str) {
        self.lock().seen.remove(bounded_key(key).as_ref());
    }

    /// Drops expired entries from the front, and the oldest beyond capacity.
    fn trim(&self, st: &mut DedupState, now: Moment) {
        // Entries are appended in time order, so expired ones sit at the front (one the
        // wall clock still keeps stops the trim there: those behind it go later).
        while let Some((k, at)) = st.order.front().cloned() {
            let expired = match st.seen.get(&k).filter(|e| e.at == at) {
                Some(e) => !e.kept(now, self.ttl),
                // The key was marked again since: this record names no entry.
                None => true,
            };
            let over = st.seen.len() > self.capacity
                || st.order.len() > self.capacity.saturating_mul(2).saturating_add(1);
            if !(expired || over) {
                break;
            }
            st.order.pop_front();
            if st.seen.get(&k).map(|e| e.at) == Some(at) {
                st.seen.remove(&k);
            }
        }
    }

    fn insert(&self, st: &mut DedupState, key: &str, entry: Entry) {
        let at = entry.at;
        st.seen.insert(key.to_owned(), entry);
        st.order.push_back((key.to_owned(), at));
        while st.seen.len() > self.capacity {
            let Some((k, at)) = st.order.pop_front() else {
                break;
            };
            if st.seen.get(&k).map(|e| e.at) == Some(at) {
                st.seen.remove(&k);
            }
        }
    }
}

/// A key or id as stored (here and in the Redis store): itself, or `sha256:<hex>` when
/// longer than [`MAX_PIPELINE_KEY_BYTES`].
pub(crate) fn bounded_key(key: &str) -> std::borrow::Cow<'_, str> {
    if key.len() <= MAX_PIPELINE_KEY_BYTES {
        std::borrow::Cow::Borrowed(key)
    } else {
        let hash = crate::digest::sha256_hex([key.as_bytes()]);
        std::borrow::Cow::Owned(format!("sha256:{hash}"))
    }
}

impl Deduplicator for MemoryDeduplicator {
    fn first_seen<'a>(&'a self, key: &'a str) -> DedupFuture<'a, bool> {
        let fresh = self.first_seen_at(key, Instant::now());
        Box::pin(async move { fresh })
    }

    fn first_seen_delivery<'a>(&'a self, event: &'a WebhookEvent) -> DedupFuture<'a, bool> {
        let fresh = self.mark_at(
            &event.pipeline_key,
            Moment::now(),
            Some(event.sent_at),
            None,
            None,
        );
        Box::pin(async move { fresh })
    }

    fn forget<'a>(&'a self, key: &'a str) -> DedupFuture<'a, ()> {
        self.forget_now(key);
        Box::pin(async {})
    }

    fn claim<'a>(
        &'a self,
        event: &'a WebhookEvent,
        lease: Duration,
    ) -> DedupFuture<'a, DedupClaim> {
        let token = MarkToken::new();
        let found = match self.try_mark_at(
            &event.pipeline_key,
            Moment::now(),
            Some(event.sent_at),
            Some(token.as_str()),
            Some(lease),
        ) {
            Ok(()) => DedupClaim::Claimed(token),
            Err(MarkState::Confirmed) => DedupClaim::Duplicate,
            // Absent does not come back from a refused mark; were it to, 503 and VMEG's
            // redelivery lose nothing, where 200 could.
            Err(MarkState::Pending | MarkState::Absent) => DedupClaim::InProgress,
        };
        Box::pin(async move { found })
    }

    fn confirm<'a>(&'a self, key: &'a str, token: &'a MarkToken) -> DedupFuture<'a, Confirmation> {
        let found = match self.confirm_at(key, token.as_str(), Moment::now()) {
            ConfirmState::Ours => Confirmation::Confirmed,
            ConfirmState::Reclaimed => Confirmation::Reclaimed,
            ConfirmState::Taken => Confirmation::Taken,
        };
        Box::pin(async move { found })
    }

    fn release<'a>(&'a self, key: &'a str, token: &'a MarkToken) -> DedupFuture<'a, bool> {
        let released = self.release_now(key, token.as_str());
        Box::pin(async move { released })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn dedup_by_pipeline_key_with_capacity_and_ttl() {
        let d: Arc<dyn Deduplicator> =
            Arc::new(MemoryDeduplicator::new(2, Duration::from_secs(60)));
        assert!(d.first_seen("a").await);
        assert!(!d.first_seen("a").await);
        d.forget("a").await;
        assert!(d.first_seen("a").await);

        let m = MemoryDeduplicator::new(2, Duration::from_secs(600));
        let t0 = Instant::now();
        assert!(m.first_seen_at("a", t0));
        assert!(m.first_seen_at("b", t0));
        assert!(m.first_seen_at("c", t0));
        assert_eq!(m.len(), 2);
        assert!(m.first_seen_at("a", t0), "oldest evicted at capacity");
        assert!(!m.first_seen_at("c", t0 + Duration::from_secs(599)));
        assert!(
            m.first_seen_at("c", t0 + Duration::from_secs(601)),
            "expired after ttl"
        );

        let hour = Duration::from_secs(3600);
        let m = MemoryDeduplicator::with_capacity(10);
        assert!(m.first_seen_at("p", t0));
        assert!(
            !m.first_seen_at("p", t0 + 71 * hour),
            "kept 72 h by default"
        );
        assert!(m.first_seen_at("p", t0 + 73 * hour));
    }

    #[test]
    fn dedup_ttl_is_never_below_the_replay_window_and_capacity_never_overflows() {
        for ttl in [
            Duration::ZERO,
            Duration::from_secs(1),
            Duration::from_secs(299),
            Duration::from_secs(599),
        ] {
            let m = MemoryDeduplicator::new(10, ttl);
            let t0 = Instant::now();
            assert!(m.first_seen_at("a", t0));
            // A delivery stamped 300 s ahead, replayed 599 s after it was first seen, is
            // still inside the window.
            assert!(
                !m.first_seen_at("a", t0 + Duration::from_secs(599)),
                "ttl {ttl:?}: a redelivery within the replay window is a duplicate"
            );
        }
        let m = MemoryDeduplicator::new(usize::MAX, Duration::MAX);
        let t0 = Instant::now();
        for k in ["a", "b", "a", "c"] {
            let _ = m.first_seen_at(k, t0);
        }
        assert_eq!(m.len(), 3);
        assert!(!m.first_seen_at("a", t0 + Duration::from_secs(86_400 * 365)));
        // Keys are bounded in memory whatever a caller passes in.
        let long = "x".repeat(100_000);
        assert!(m.first_seen_at(&long, t0));
        assert!(!m.first_seen_at(&long, t0));
        assert!(m.lock().seen.keys().all(|k| k.len() <= 256));
        assert!(m.lock().order.iter().all(|(k, _)| k.len() <= 256));
    }

    /// A delivery's timestamp, and the moment `secs` seconds on the monotonic clock and
    /// `wall_secs` after that timestamp on the wall clock (stepped back when it is less).
    fn two_clocks() -> (SystemTime, impl Fn(u64, u64) -> Moment) {
        let t0 = Instant::now();
        let sent = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let at = move |secs: u64, wall_secs: u64| Moment {
            mono: t0 + Duration::from_secs(secs),
            wall: sent + Duration::from_secs(wall_secs),
        };
        (sent, at)
    }

    /// A mark made with its delivery's timestamp is kept, after its TTL on the monotonic
    /// clock, while the wall clock is before that timestamp plus the TTL (a clock stepped
    /// back), and goes once both have passed; a pending mark (a lease) runs out with its
    /// lease alone; a mark without a timestamp ages by the monotonic clock alone.
    #[test]
    fn a_mark_with_its_deliverys_timestamp_outlives_a_clock_stepped_back() {
        let ttl = MIN_DEDUPE_TTL;
        let m = MemoryDeduplicator::new(10, ttl);
        let (sent, at) = two_clocks();
        assert!(m.mark_at("p", at(0, 0), Some(sent), None, None));
        assert!(m.mark_at("q", at(0, 0), None, None, None));
        // An hour on, the wall clock stepped back to 100 s after the delivery.
        assert!(!m.mark_at("p", at(3_600, 100), Some(sent), None, None));
        assert!(m.mark_at("q", at(3_600, 100), None, None, None));
        assert_eq!(m.state_at("p", at(3_600, 599)), MarkState::Confirmed);
        assert_eq!(m.state_at("p", at(3_600, 600)), MarkState::Absent);
        // Trimming keeps it too, and a later key behind it is still found.
        assert!(!m.mark_at("p", at(7_200, 300), Some(sent), None, None));
        assert!(!m.mark_at("q", at(3_601, 101), None, None, None));
        // A lease runs out with the lease, the wall clock aside.
        let lease = Some(Duration::from_secs(60));
        assert!(m.mark_at("r", at(0, 0), Some(sent), Some("tok"), lease));
        assert_eq!(m.state_at("r", at(61, 0)), MarkState::Absent);
    }

    /// A handler slower than its lease confirms after the lease ran out and after another
    /// key's mark trimmed the table: the confirmed mark still knows its delivery's
    /// timestamp, so a replay after the clock is stepped back stays a duplicate. Before, the
    /// trim dropped the lapsed lease with its bound, and the late confirm aged on the
    /// monotonic clock alone.
    #[test]
    fn a_late_confirm_after_a_trim_keeps_the_wall_clock_bound() {
        let ttl = MIN_DEDUPE_TTL;
        let m = MemoryDeduplicator::new(10, ttl);
        let (sent, at) = two_clocks();
        let lease = Some(Duration::from_secs(60));
        assert!(m.mark_at("p", at(0, 0), Some(sent), Some("tok"), lease));
        // The lease runs out; another delivery's mark trims the table.
        assert!(m.mark_at("q", at(120, 120), None, None, None));
        assert_eq!(m.state_at("p", at(120, 120)), MarkState::Absent);
        assert_eq!(
            m.confirm_at("p", "tok", at(130, 130)),
            ConfirmState::Reclaimed
        );
        // Past the TTL on the monotonic clock, the wall clock stepped back near the delivery.
        let later = ttl.as_secs() + 200;
        assert_eq!(m.state_at("p", at(later, 300)), MarkState::Confirmed);
    }
}
