//! Where a [`CompletionHub`](super::CompletionHub) keeps verified deliveries: the
//! [`CompletionStore`] trait, and [`MemoryStore`], the in-process store used by default.
//!
//! A store does three things for every hub that shares it: it remembers which `pipelineKey`s
//! were handled (deduplication), keeps each delivery for a while under its task id and its
//! idempotency key (so that a wait that starts late, or an `OutcomeUnknown` being resolved,
//! still finds it), and fans each new delivery out to every hub subscribed to it. The Redis
//! store (feature `redis`) shares all three between processes.
//!
//! A store holds what was *delivered*, signature included ([`StoredEvent`]): a hub verifies
//! every event it reads back with its own secret, so whoever can write to a shared store
//! still cannot forge a completion.
//!
//! # Marks: one step or two, owned by a token
//!
//! Every record call carries a [`MarkToken`] of its own, and the `pipelineKey`'s mark holds
//! it. A mark is removed after a failed record, or by a receiver whose action failed
//! ([`CompletionStore::release`]), only while it still holds that call's token: a mark set by
//! another instance (which acted on the delivery) is never removed by it.
//!
//! A receiver that answers VMEG only once it has acted (the CLI's `webhook listen` prints a
//! line first) records the delivery **pending**, with a lease
//! ([`CompletionStore::record_marked`] with `Some(lease)`): while the lease runs, a
//! redelivery reaching any hub sharing the store is [`Recorded::Pending`], answered 503, so
//! VMEG keeps trying. Once it has acted it **confirms** ([`CompletionStore::confirm`]): the
//! mark becomes the ordinary dedupe mark, kept for the dedupe TTL. If it dies, the lease runs
//! out and the next redelivery is fresh on any instance; if its action fails, it releases
//! the mark. The event itself is stored and published at the pending step, as in one step:
//! it is a genuine completion whether or not that receiver's action succeeds, so waits on
//! other instances may end on it at once. A plain [`CompletionStore::record`] marks confirmed
//! at once.
//!
//! # Another database
//!
//! A Postgres store fits the same trait: one table keyed by `pipeline_key` (with `task_id`,
//! `idempotency_key`, the three delivery fields and `received_at`, indexed on the first two),
//! and one of marks (`pipeline_key` primary key, `token`, `pending`, `expires_at`);
//! [`CompletionStore::record_marked`] is one transaction that deletes an expired mark, looks
//! at a live one (pending: [`Recorded::Pending`]; confirmed: [`Recorded::Duplicate`]), and
//! otherwise upserts the event, `NOTIFY`s a channel with the pipeline key and inserts the
//! mark `ON CONFLICT (pipeline_key) DO NOTHING` (no row inserted: a duplicate); `confirm` is
//! an `UPDATE ... SET pending = false, expires_at = <dedupe TTL> WHERE pipeline_key = $1 AND
//! token = $2` (no row: an `INSERT ... ON CONFLICT DO NOTHING`, which tells
//! [`Confirmation::Reclaimed`] from [`Confirmation::Taken`]); `release` is a `DELETE ...
//! WHERE pipeline_key = $1 AND token = $2`; the lookups are `SELECT`s bounded by
//! `received_at`; a periodic `DELETE` keeps both tables to their TTLs;
//! [`CompletionStore::subscribe`] holds one connection in `LISTEN` and reports
//! [`StoreSignal::Lost`] when it drops. The guarantees to keep: the mark that makes a
//! redelivery a duplicate (or pending) becomes visible only with (or after) the stored and
//! published event, never before; and a mark is changed or removed only by the call whose
//! token it holds.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::dedupe::{ConfirmState, MarkState, MemoryDeduplicator, Moment};
use super::{DEFAULT_DEDUPE_TTL, MIN_DEDUPE_TTL};
use crate::sleep::BoxFuture;

/// How long a [`MemoryStore`] keeps a delivery by default, for a wait that starts late or a
/// lookup by idempotency key: one day.
pub const DEFAULT_EVENT_TTL: Duration = Duration::from_secs(24 * 3600);
/// How many deliveries a [`MemoryStore`] keeps by default.
pub const DEFAULT_MAX_EVENTS: usize = 10_000;
/// How many bytes of deliveries a [`MemoryStore`] keeps by default (bodies are at most the
/// verifier's limit, 1 MiB by default; a VMEG delivery is usually under 1 KiB).
pub const DEFAULT_MAX_EVENT_BYTES: usize = 64 * 1024 * 1024;

/// A verified delivery as stored and shared: the two headers and the body exactly as VMEG
/// sent them (so any hub can verify it again), the ids it is found by, and when it arrived.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredEvent {
    /// `pipelineKey`.
    pub pipeline_key: String,
    /// The task id in `data`, when there is one.
    pub task_id: Option<String>,
    /// The idempotency key the adapter put in `extraData`, when there is one.
    pub idempotency_key: Option<String>,
    /// The `X-Timestamp` header.
    pub timestamp: String,
    /// The `X-Signature` header.
    pub signature: String,
    /// The raw body (a verified body is JSON, hence UTF-8).
    pub body: String,
    /// When the receiver accepted it, in Unix milliseconds.
    pub received_at_ms: u64,
}

impl fmt::Debug for StoredEvent {
    // The body can be large and holds the caller's extraData: not for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredEvent")
            .field("pipeline_key", &self.pipeline_key)
            .field("task_id", &self.task_id)
            .field("idempotency_key", &self.idempotency_key)
            .field("body_bytes", &self.body.len())
            .field("received_at_ms", &self.received_at_ms)
            .finish()
    }
}

impl StoredEvent {
    /// When the receiver accepted it.
    pub fn received_at(&self) -> SystemTime {
        UNIX_EPOCH
            .checked_add(Duration::from_millis(self.received_at_ms))
            .unwrap_or(UNIX_EPOCH)
    }

    /// Whether the delivery says its task succeeded: the body's `code` is 200, read as the
    /// verifier reads it (a number, or a string holding one). `false` for a body that does
    /// not parse. Only a success that [carries its result](Self::carries_result) is kept over
    /// a later failure for the same task ([`replaces`]).
    pub fn succeeded(&self) -> bool {
        #[derive(Deserialize)]
        struct Code {
            #[serde(default, deserialize_with = "crate::wire::lenient_i64")]
            code: Option<i64>,
        }
        serde_json::from_str::<Code>(&self.body)
            .ok()
            .and_then(|c| c.code)
            == Some(200)
    }

    /// Whether the delivery is a success of a finished, paid task, which a later failure of
    /// the same task must not replace ([`replaces`]): a clone's code-200 delivery, with or
    /// without a usable `voiceId` (a wait ends on it and finds the voice in the clone list);
    /// a TTS task's when its `data` names the task and lists a line VMEG did not say failed
    /// (a line with audio, or an unreadable one: read the task again, never synthesize it
    /// again); another product's by its `code` alone (this crate does not read its result).
    /// `false` for a failure, for a body that does not decode, and for a TTS success whose
    /// every line VMEG said failed, or that lists none.
    ///
    /// Quiet and narrow (only `code`, `event`, `pipelineKey` and a TTS task's first lines
    /// are read, and nothing is logged): stores and hubs call it under their locks, where a
    /// tracing layer that reads them on a warning would deadlock (review 30 pass 3 #2).
    pub fn carries_result(&self) -> bool {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Envelope<'a> {
            #[serde(default, deserialize_with = "crate::wire::lenient_i64")]
            code: Option<i64>,
            #[serde(default, deserialize_with = "crate::wire::lenient_string")]
            event: Option<String>,
            #[serde(default, deserialize_with = "crate::wire::lenient_string")]
            pipeline_key: Option<String>,
            #[serde(default, borrow)]
            data: Option<&'a serde_json::value::RawValue>,
        }
        let Ok(envelope) = serde_json::from_str::<Envelope<'_>>(&self.body) else {
            return false;
        };
        // What the full decode refuses (`decode_event`): no wait can end on it.
        let key_ok = envelope
            .pipeline_key
            .is_some_and(|k| !k.trim().is_empty() && k.len() <= super::MAX_PIPELINE_KEY_BYTES);
        if !key_ok || envelope.code != Some(200) {
            return false;
        }
        match envelope.event.as_deref() {
            Some("openapi-tts") => crate::provider::vmeg::webhook::speech_data_has_unfailed_line(
                envelope
                    .data
                    .map_or("null", serde_json::value::RawValue::get),
            ),
            _ => true,
        }
    }

    /// Roughly what keeping it costs, in bytes.
    pub fn size(&self) -> usize {
        [
            self.pipeline_key.len(),
            self.task_id.as_ref().map_or(0, String::len),
            self.idempotency_key.as_ref().map_or(0, String::len),
            self.timestamp.len(),
            self.signature.len(),
            self.body.len(),
        ]
        .iter()
        .fold(std::mem::size_of::<Self>(), |a, b| a.saturating_add(*b))
    }
}

/// Whether `new`, a later delivery for the same task (or idempotency key), takes the place
/// of `old` where a store keeps one delivery per task: always, except a delivery without
/// the task's result (a failure) in place of a success with it
/// ([`StoredEvent::carries_result`]), both naming the same task. The task succeeded and was
/// paid for; a failure delivered after that (a late callback, a re-run on VMEG's side) must
/// not end a wait with `TaskFailed`, which a caller may answer with a new, paid submit. A
/// success after a failure is taken: it carries the result, and keeping the failure could
/// lose a finished job.
///
/// The exception holds per task, never across tasks: one idempotency key can name several
/// (VMEG scopes a key by API key and route, and forgets it after 24 h: a clone and a TTS
/// submit, or two tenants on one hub, may share one), and the failure of the key's latest
/// task is that submit's own outcome. An event that names no task, in place of one that
/// names a task (under a shared key: the shape of a failure's `data` is not documented), is
/// another task's too: it is the key's latest outcome, never to be hidden by another task's
/// success (review 30 pass 3 #3). Under a task id both always name the same task.
/// A TTS success whose every line VMEG said failed keeps nothing out: the failure after it
/// says no more than it did.
pub fn replaces(old: &StoredEvent, new: &StoredEvent) -> bool {
    let other_task = old.task_id != new.task_id;
    other_task || !old.carries_result() || new.carries_result()
}

/// What [`CompletionStore::record`] (or [`CompletionStore::record_marked`]) did with a
/// delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recorded {
    /// First seen: stored, published, and its `pipelineKey` marked by this call (pending
    /// when it asked for a lease).
    Fresh,
    /// Its `pipelineKey` was already marked handled: a redelivery; nothing changed.
    Duplicate,
    /// Another call's pending mark holds its `pipelineKey`: a receiver is acting on the
    /// delivery under a lease and has not confirmed yet. Nothing changed; answer 503 (never
    /// 200: should that receiver fail, VMEG must still be redelivering).
    Pending,
}

/// The token a record call marks a `pipelineKey` with, so that only that call's receiver
/// confirms or removes the mark. Random (128 bits from the system generator); not a secret.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MarkToken(String);

impl MarkToken {
    /// A fresh random token.
    pub fn new() -> Self {
        Self(crate::random_id::RandomId::new().to_string())
    }

    /// The token as stored (32 lowercase hex digits).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for MarkToken {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MarkToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MarkToken({})", self.0)
    }
}

/// What [`CompletionStore::confirm`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Confirmation {
    /// The mark still held the token: it is now the ordinary dedupe mark (kept for the
    /// dedupe TTL).
    Confirmed,
    /// The lease had run out and nobody held the `pipelineKey`: it is marked now, confirmed,
    /// with the token (a redelivery that came in between was processed again: acted on
    /// twice, never lost).
    Reclaimed,
    /// The lease had run out and another record call's mark holds the `pipelineKey` now
    /// (another receiver took a redelivery): left as it is. The delivery is acted on by both.
    Taken,
}

/// The store could not be reached or refused an operation. The receiver answers 503 (VMEG
/// redelivers) and waits fall back to polling.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the completion store is unavailable: {reason}")]
pub struct StoreError {
    reason: String,
}

impl StoreError {
    /// An error with a reason (never put a connection URL or password in it).
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    /// The reason.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// What a store tells its subscribers.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum StoreSignal {
    /// A delivery was recorded (by this hub or another sharing the store).
    Event(Arc<StoredEvent>),
    /// The subscription broke: deliveries recorded elsewhere may be missed until
    /// [`StoreSignal::Restored`]. Waits switch to polling.
    Lost,
    /// The subscription works again.
    Restored,
}

/// Receives a store's signals; see [`CompletionStore::subscribe`].
pub type Listener = Arc<dyn Fn(StoreSignal) + Send + Sync>;

type WeakListener = Weak<dyn Fn(StoreSignal) + Send + Sync>;

/// Keeps a subscription alive: dropping it ends the subscription (and any task behind it).
pub struct Subscription {
    _guard: Box<dyn Send + Sync>,
    /// Whether the subscription has ended by itself (its task died with its runtime): the
    /// hub then subscribes again. `None`: it lasts as long as the guard.
    ended: Option<Box<dyn Fn() -> bool + Send + Sync>>,
}

impl Subscription {
    /// A subscription whose end is `guard`'s drop.
    pub fn new(guard: impl Send + Sync + 'static) -> Self {
        Self {
            _guard: Box::new(guard),
            ended: None,
        }
    }

    /// A subscription run by a tokio task: dropping it aborts the task, and it has ended once
    /// the task has (a task dies with its runtime, so a hub first used in a runtime since
    /// shut down subscribes again in the next one). `held` is dropped before the task is
    /// aborted: the task can tell this drop from its runtime's end.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn of_task(
        task: tokio::task::AbortHandle,
        held: impl Send + Sync + 'static,
    ) -> Self {
        let probe = task.clone();
        Self {
            // A tuple drops its fields in order: `held` first.
            _guard: Box::new((held, AbortOnDrop(task))),
            ended: Some(Box::new(move || probe.is_finished())),
        }
    }

    /// A subscription that could not start (no runtime to run it in): ended already, so
    /// the next use of the hub tries again.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn not_started() -> Self {
        Self {
            _guard: Box::new(()),
            ended: Some(Box::new(|| true)),
        }
    }

    /// True once the subscription has ended by itself (see [`Subscription::of_task`]).
    pub(crate) fn has_ended(&self) -> bool {
        self.ended.as_ref().is_some_and(|ended| ended())
    }
}

/// Ends a subscription's task when the [`Subscription`] is dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Subscription(..)")
    }
}

/// A shared memory of verified deliveries; see the module docs for what it promises.
/// Implement it to keep deliveries in another database.
pub trait CompletionStore: Send + Sync + fmt::Debug {
    /// Records a verified delivery. A `pipelineKey` already marked is
    /// [`Recorded::Duplicate`] (or [`Recorded::Pending`], while another call's lease runs)
    /// and changes nothing. Otherwise the event is stored (under its
    /// task id and idempotency key), published to every subscriber, and only then its
    /// `pipelineKey` marked, so that a failure at any step leaves no mark and the
    /// redelivery is processed: never a swallowed event. Two hubs racing on one delivery may
    /// both store and publish it (the same content); exactly one gets `Fresh`. The mark is
    /// confirmed at once (kept for the dedupe TTL).
    fn record<'a>(&'a self, event: &'a StoredEvent) -> BoxFuture<'a, Result<Recorded, StoreError>>;

    /// The stored delivery for a task id, if still kept: the latest, except that a failure
    /// never takes the place of a success ([`replaces`]; this crate's stores keep that rule,
    /// and a store of your own should too: a wait ends on what this returns).
    fn by_task<'a>(
        &'a self,
        task_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>>;

    /// The stored delivery whose `extraData` carried this idempotency key, chosen as
    /// [`CompletionStore::by_task`]'s is.
    fn by_idempotency_key<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>>;

    /// Removes `pipeline_key`'s mark, whoever set it, so that its next delivery is
    /// [`Recorded::Fresh`] again. A receiver that recorded a delivery but could not act on it
    /// should rather [`CompletionStore::release`] its own mark (a mark another instance set
    /// after it stays). The stored event stays (a wait may already have ended on it; the
    /// task did end).
    ///
    /// The default answers `Err`: a store that cannot forget says so, and its caller knows
    /// that a redelivery will be a duplicate.
    fn forget<'a>(&'a self, pipeline_key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        let _ = pipeline_key;
        Box::pin(std::future::ready(Err(StoreError::new(
            "this completion store cannot forget a delivery",
        ))))
    }

    /// Records a delivery as [`CompletionStore::record`] does, marking its `pipelineKey` with
    /// `token`: confirmed at once (`lease` `None`), or pending for `lease` (`Some`), until
    /// [`CompletionStore::confirm`] makes it the dedupe mark. While another call's pending
    /// mark is live, a delivery is [`Recorded::Pending`] and changes nothing. The event is
    /// stored and published at this step either way (see the module docs).
    ///
    /// The default ignores `token` and `lease` and calls [`CompletionStore::record`]: a store
    /// without leases marks confirmed at once, as before (a redelivery while the receiver is
    /// still acting is then a [`Recorded::Duplicate`] on every other instance).
    fn record_marked<'a>(
        &'a self,
        event: &'a StoredEvent,
        token: &'a MarkToken,
        lease: Option<Duration>,
    ) -> BoxFuture<'a, Result<Recorded, StoreError>> {
        let _ = (token, lease);
        self.record(event)
    }

    /// Makes the mark `token` set on `pipeline_key` the ordinary dedupe mark (kept for the
    /// dedupe TTL), if it still holds `token`. A mark gone (the lease ran out, nobody took
    /// the key) is set again, confirmed ([`Confirmation::Reclaimed`]); another call's mark is
    /// left alone ([`Confirmation::Taken`]). Never an error for either: only for a store
    /// that cannot be reached.
    ///
    /// The default answers [`Confirmation::Confirmed`]: a store without leases marked it
    /// confirmed when it recorded it.
    fn confirm<'a>(
        &'a self,
        pipeline_key: &'a str,
        token: &'a MarkToken,
    ) -> BoxFuture<'a, Result<Confirmation, StoreError>> {
        let _ = (pipeline_key, token);
        Box::pin(std::future::ready(Ok(Confirmation::Confirmed)))
    }

    /// Removes `pipeline_key`'s mark if it holds `token` (pending or confirmed), so that the
    /// next delivery is [`Recorded::Fresh`] again: after a failed record, or when the action
    /// on a fresh delivery failed. `Ok(true)` when it removed it; `Ok(false)` when the key
    /// was not marked, or marked by another call (left as it is: that call acted on it).
    /// The stored event stays.
    ///
    /// The default calls [`CompletionStore::forget`] (the mark is removed whoever set it, as
    /// before tokens) and answers `Ok(true)`.
    fn release<'a>(
        &'a self,
        pipeline_key: &'a str,
        token: &'a MarkToken,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let _ = token;
        Box::pin(async move { self.forget(pipeline_key).await.map(|()| true) })
    }

    /// How long this store remembers a `pipelineKey`, when it knows (the default: `None`).
    /// A hub shortens its verifier's tolerance to it: a delivery older than the store's
    /// memory of it would be fresh again when replayed.
    fn dedupe_ttl(&self) -> Option<Duration> {
        None
    }

    /// Calls `listener` with every delivery recorded from now on by any hub sharing the
    /// store, and with [`StoreSignal::Lost`] / [`StoreSignal::Restored`] as the subscription
    /// breaks and recovers, until the returned guard is dropped. Called once per hub, from
    /// inside a tokio runtime (again only if a subscription of this crate's own stores
    /// ended by itself, its task gone with its runtime).
    fn subscribe(&self, listener: Listener) -> Subscription;
}

/// The in-process [`CompletionStore`]: nothing to install, nothing shared between
/// processes. Keeps at most [`DEFAULT_MAX_EVENTS`] deliveries and [`DEFAULT_MAX_EVENT_BYTES`]
/// bytes for [`DEFAULT_EVENT_TTL`] (oldest dropped first), and remembers `pipelineKey`s for
/// [`DEFAULT_DEDUPE_TTL`] (72 h); every bound is settable.
pub struct MemoryStore {
    dedupe: MemoryDeduplicator,
    event_ttl: Duration,
    max_events: usize,
    max_bytes: usize,
    state: Mutex<Events>,
    listeners: Mutex<Vec<WeakListener>>,
}

#[derive(Default)]
struct Events {
    by_task: HashMap<String, Arc<StoredEvent>>,
    by_key: HashMap<String, Arc<StoredEvent>>,
    /// Arrival order, for expiry and eviction.
    order: VecDeque<(Instant, Arc<StoredEvent>)>,
    bytes: usize,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("event_ttl", &self.event_ttl)
            .field("max_events", &self.max_events)
            .field("max_bytes", &self.max_bytes)
            .field("events", &self.len())
            .finish()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// A store with the default bounds.
    pub fn new() -> Self {
        Self {
            dedupe: MemoryDeduplicator::new(100_000, DEFAULT_DEDUPE_TTL),
            event_ttl: DEFAULT_EVENT_TTL,
            max_events: DEFAULT_MAX_EVENTS,
            max_bytes: DEFAULT_MAX_EVENT_BYTES,
            state: Mutex::new(Events::default()),
            listeners: Mutex::new(Vec::new()),
        }
    }

    /// Remembers `pipelineKey`s for `ttl` (never less than [`MIN_DEDUPE_TTL`]), at most
    /// `capacity` of them (0 is read as 1).
    #[must_use]
    pub fn dedupe(mut self, capacity: usize, ttl: Duration) -> Self {
        self.dedupe = MemoryDeduplicator::new(capacity, ttl.max(MIN_DEDUPE_TTL));
        self
    }

    /// Keeps deliveries for `ttl` (any value; zero keeps none past their fan-out), at most
    /// `max_events` of them (0 is read as 1) and `max_bytes` in all.
    #[must_use]
    pub fn keep_events(mut self, ttl: Duration, max_events: usize, max_bytes: usize) -> Self {
        self.event_ttl = ttl;
        self.max_events = max_events.max(1);
        self.max_bytes = max_bytes;
        self
    }

    /// How many deliveries are kept.
    pub fn len(&self) -> usize {
        self.lock().order.len()
    }

    /// True when no delivery is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Events> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn store(&self, event: Arc<StoredEvent>, now: Instant) {
        let mut st = self.lock();
        st.bytes = st.bytes.saturating_add(event.size());
        if let Some(t) = &event.task_id
            && st.by_task.get(t).is_none_or(|old| replaces(old, &event))
        {
            st.by_task.insert(t.clone(), event.clone());
        }
        if let Some(k) = &event.idempotency_key
            && st.by_key.get(k).is_none_or(|old| replaces(old, &event))
        {
            st.by_key.insert(k.clone(), event.clone());
        }
        st.order.push_back((now, event));
        self.trim(&mut st, now);
    }

    fn trim(&self, st: &mut Events, now: Instant) {
        while let Some((at, oldest)) = st.order.front().cloned() {
            let expired = now.saturating_duration_since(at) >= self.event_ttl;
            let over = st.order.len() > self.max_events || st.bytes > self.max_bytes;
            if !(expired || over) {
                break;
            }
            st.order.pop_front();
            st.bytes = st.bytes.saturating_sub(oldest.size());
            // Only unlink the maps' entries that still point at this very event.
            if let Some(t) = &oldest.task_id
                && st.by_task.get(t).is_some_and(|e| Arc::ptr_eq(e, &oldest))
            {
                st.by_task.remove(t);
            }
            if let Some(k) = &oldest.idempotency_key
                && st.by_key.get(k).is_some_and(|e| Arc::ptr_eq(e, &oldest))
            {
                st.by_key.remove(k);
            }
        }
    }

    fn lookup(&self, pick: impl Fn(&Events) -> Option<Arc<StoredEvent>>) -> Option<StoredEvent> {
        let mut st = self.lock();
        self.trim(&mut st, Instant::now());
        pick(&st).map(|e| (*e).clone())
    }

    /// Records `event` (the trait's `record_marked`; the lock of the marks is taken per step,
    /// which in one process leaves nothing to fail in between).
    fn record_now(
        &self,
        event: &StoredEvent,
        token: &MarkToken,
        lease: Option<Duration>,
    ) -> Recorded {
        self.record_at(event, token, lease, Moment::now())
    }

    /// [`MemoryStore::record_now`] as of `now`, so that a test can let a lease run out
    /// without sleeping through it.
    pub(crate) fn record_at(
        &self,
        event: &StoredEvent,
        token: &MarkToken,
        lease: Option<Duration>,
        now: impl Into<Moment>,
    ) -> Recorded {
        let now = now.into();
        let key = &event.pipeline_key;
        match self.dedupe.state_at(key, now) {
            MarkState::Pending => return Recorded::Pending,
            MarkState::Confirmed => return Recorded::Duplicate,
            MarkState::Absent => {}
        }
        // The delivery's own timestamp (verified when it was received): its mark is kept
        // while the wall clock is before it plus the TTL, whatever the mark's age.
        let sent_at = super::verify::parse_millis(&event.timestamp)
            .and_then(|ms| UNIX_EPOCH.checked_add(Duration::from_millis(ms)));
        let event = Arc::new(event.clone());
        self.store(event.clone(), now.mono);
        self.publish(&event);
        // Marked last: in one process nothing can fail in between, but the order is the
        // trait's promise. Should another call have marked it meanwhile, its mark is read
        // under the same lock (read again afterwards, a pending mark released in between
        // would look absent, and was taken for a duplicate: a 200 for an event acted on
        // nowhere).
        match self
            .dedupe
            .try_mark_at(key, now, sent_at, Some(token.as_str()), lease)
        {
            Ok(()) => Recorded::Fresh,
            Err(MarkState::Confirmed) => Recorded::Duplicate,
            Err(MarkState::Pending | MarkState::Absent) => Recorded::Pending,
        }
    }

    /// The trait's `confirm` as of `now` (see [`MemoryStore::record_at`]).
    pub(crate) fn confirm_at(
        &self,
        pipeline_key: &str,
        token: &MarkToken,
        now: impl Into<Moment>,
    ) -> Confirmation {
        match self.dedupe.confirm_at(pipeline_key, token.as_str(), now) {
            ConfirmState::Ours => Confirmation::Confirmed,
            ConfirmState::Reclaimed => Confirmation::Reclaimed,
            ConfirmState::Taken => Confirmation::Taken,
        }
    }

    fn publish(&self, event: &Arc<StoredEvent>) {
        let listeners: Vec<_> = {
            let mut ls = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
            ls.retain(|l| l.strong_count() > 0);
            ls.iter().filter_map(Weak::upgrade).collect()
        };
        for l in listeners {
            l(StoreSignal::Event(event.clone()));
        }
    }
}

impl CompletionStore for MemoryStore {
    fn record<'a>(&'a self, event: &'a StoredEvent) -> BoxFuture<'a, Result<Recorded, StoreError>> {
        let outcome = self.record_now(event, &MarkToken::new(), None);
        Box::pin(std::future::ready(Ok(outcome)))
    }

    fn record_marked<'a>(
        &'a self,
        event: &'a StoredEvent,
        token: &'a MarkToken,
        lease: Option<Duration>,
    ) -> BoxFuture<'a, Result<Recorded, StoreError>> {
        let outcome = self.record_now(event, token, lease);
        Box::pin(std::future::ready(Ok(outcome)))
    }

    fn confirm<'a>(
        &'a self,
        pipeline_key: &'a str,
        token: &'a MarkToken,
    ) -> BoxFuture<'a, Result<Confirmation, StoreError>> {
        let found = self.confirm_at(pipeline_key, token, Moment::now());
        Box::pin(std::future::ready(Ok(found)))
    }

    fn release<'a>(
        &'a self,
        pipeline_key: &'a str,
        token: &'a MarkToken,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let removed = self.dedupe.release_now(pipeline_key, token.as_str());
        Box::pin(std::future::ready(Ok(removed)))
    }

    fn forget<'a>(&'a self, pipeline_key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.dedupe.forget_now(pipeline_key);
        Box::pin(std::future::ready(Ok(())))
    }

    fn by_task<'a>(
        &'a self,
        task_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
        let found = self.lookup(|st| st.by_task.get(task_id).cloned());
        Box::pin(std::future::ready(Ok(found)))
    }

    fn by_idempotency_key<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
        let found = self.lookup(|st| st.by_key.get(key).cloned());
        Box::pin(std::future::ready(Ok(found)))
    }

    fn dedupe_ttl(&self) -> Option<Duration> {
        Some(self.dedupe.ttl())
    }

    fn subscribe(&self, listener: Listener) -> Subscription {
        self.listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::downgrade(&listener));
        // The store only holds a weak reference: the listener lives as long as the guard.
        Subscription::new(listener)
    }
}

/// Now, in Unix milliseconds.
pub(crate) fn unix_millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A third-party store written before leases: it keeps the trait's defaults for
/// `record_marked`, `confirm` and `release` (marks at once; releases by forgetting).
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct PreLease(MemoryStore);

#[cfg(test)]
impl CompletionStore for PreLease {
    fn record<'a>(&'a self, e: &'a StoredEvent) -> BoxFuture<'a, Result<Recorded, StoreError>> {
        self.0.record(e)
    }
    fn by_task<'a>(&'a self, t: &'a str) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
        self.0.by_task(t)
    }
    fn by_idempotency_key<'a>(
        &'a self,
        k: &'a str,
    ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
        self.0.by_idempotency_key(k)
    }
    fn forget<'a>(&'a self, pk: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.0.forget(pk)
    }
    fn subscribe(&self, l: Listener) -> Subscription {
        self.0.subscribe(l)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn event(pk: &str, task: &str, key: Option<&str>, body_len: usize) -> StoredEvent {
        StoredEvent {
            pipeline_key: pk.into(),
            task_id: Some(task.into()),
            idempotency_key: key.map(str::to_owned),
            timestamp: "1".into(),
            signature: "s".into(),
            body: "x".repeat(body_len),
            received_at_ms: 0,
        }
    }

    #[test]
    fn the_in_process_store_keeps_24_h_10_000_events_64_mib_by_default() {
        // README: "an event that arrives before its wait starts is kept (24 h, 10,000
        // events, 64 MiB by default)"; `CompletionHub::in_memory` uses `MemoryStore::new`.
        let store = MemoryStore::new();
        assert_eq!(store.event_ttl, Duration::from_secs(24 * 3600));
        assert_eq!(store.max_events, 10_000);
        assert_eq!(store.max_bytes, 64 * 1024 * 1024);
    }

    #[tokio::test]
    async fn records_once_finds_by_task_and_key_and_fans_out() {
        let store = MemoryStore::new();
        let seen = Arc::new(AtomicUsize::new(0));
        let s2 = seen.clone();
        let sub = store.subscribe(Arc::new(move |sig| {
            if let StoreSignal::Event(_) = sig {
                s2.fetch_add(1, Ordering::SeqCst);
            }
        }));
        let e = event("p1", "t1", Some("k1"), 10);
        assert_eq!(store.record(&e).await.unwrap(), Recorded::Fresh);
        assert_eq!(store.record(&e).await.unwrap(), Recorded::Duplicate);
        assert_eq!(
            seen.load(Ordering::SeqCst),
            1,
            "a duplicate is not published"
        );
        assert_eq!(store.by_task("t1").await.unwrap().unwrap(), e);
        assert_eq!(store.by_idempotency_key("k1").await.unwrap().unwrap(), e);
        assert!(store.by_task("t2").await.unwrap().is_none());
        drop(sub);
        assert_eq!(
            store.record(&event("p2", "t2", None, 1)).await.unwrap(),
            Recorded::Fresh
        );
        assert_eq!(seen.load(Ordering::SeqCst), 1, "dropped subscription");
    }

    #[tokio::test]
    async fn a_forgotten_delivery_is_fresh_again_and_stays_stored() {
        let store = MemoryStore::new();
        let e = event("p1", "t1", Some("k1"), 10);
        assert_eq!(store.record(&e).await.unwrap(), Recorded::Fresh);
        store.forget("p1").await.unwrap();
        assert_eq!(store.record(&e).await.unwrap(), Recorded::Fresh);
        assert_eq!(store.record(&e).await.unwrap(), Recorded::Duplicate);
        // Only that key: another stays marked, and the event is still found.
        let other = event("p2", "t2", None, 1);
        assert_eq!(store.record(&other).await.unwrap(), Recorded::Fresh);
        store.forget("p1").await.unwrap();
        assert_eq!(store.record(&other).await.unwrap(), Recorded::Duplicate);
        assert_eq!(store.by_task("t1").await.unwrap().unwrap(), e);
        // A key never seen, and one over the length limit (stored hashed), are forgotten too.
        store.forget("never").await.unwrap();
        let long = "p".repeat(5_000);
        let e_long = event(&long, "t3", None, 1);
        assert_eq!(store.record(&e_long).await.unwrap(), Recorded::Fresh);
        store.forget(&long).await.unwrap();
        assert_eq!(store.record(&e_long).await.unwrap(), Recorded::Fresh);
    }

    /// Waits (10 s at most) until `pk`'s mark is gone (its lease ran out).
    async fn until_unmarked(store: &MemoryStore, pk: &str) {
        let end = Instant::now() + Duration::from_secs(10);
        while store.dedupe.state_at(pk, Instant::now()) != MarkState::Absent {
            assert!(Instant::now() < end, "{pk}: the lease never ran out");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn a_pending_mark_is_pending_for_everyone_until_confirmed_or_released() {
        let store = MemoryStore::new();
        let seen = Arc::new(AtomicUsize::new(0));
        let s2 = seen.clone();
        let _sub = store.subscribe(Arc::new(move |sig| {
            if let StoreSignal::Event(_) = sig {
                s2.fetch_add(1, Ordering::SeqCst);
            }
        }));
        let lease = Some(Duration::from_secs(60));
        let (a, b) = (MarkToken::new(), MarkToken::new());
        assert_ne!(a, b);
        let e = event("p1", "t1", None, 1);
        assert_eq!(
            store.record_marked(&e, &a, lease).await.unwrap(),
            Recorded::Fresh
        );
        // Stored and published at the pending step: waits end on it at once.
        assert_eq!(store.by_task("t1").await.unwrap().unwrap(), e);
        assert_eq!(seen.load(Ordering::SeqCst), 1);
        // A redelivery, leased or not, is pending (never a duplicate) until it is confirmed.
        assert_eq!(
            store.record_marked(&e, &b, lease).await.unwrap(),
            Recorded::Pending
        );
        assert_eq!(store.record(&e).await.unwrap(), Recorded::Pending);
        assert_eq!(seen.load(Ordering::SeqCst), 1, "nothing published again");
        // Only its own token confirms it... (another token's confirm leaves it pending)
        assert_eq!(store.confirm("p1", &b).await.unwrap(), Confirmation::Taken);
        assert_eq!(store.record(&e).await.unwrap(), Recorded::Pending);
        assert_eq!(
            store.confirm("p1", &a).await.unwrap(),
            Confirmation::Confirmed
        );
        assert_eq!(store.record(&e).await.unwrap(), Recorded::Duplicate);
        // ...kept for the dedupe TTL from then on, not the lease.
        let later = Instant::now() + Duration::from_secs(3600);
        assert_eq!(store.dedupe.state_at("p1", later), MarkState::Confirmed);

        // The action failed: released, the redelivery is fresh (for anyone).
        let e2 = event("p2", "t2", None, 1);
        assert_eq!(
            store.record_marked(&e2, &a, lease).await.unwrap(),
            Recorded::Fresh
        );
        assert!(!store.release("p2", &b).await.unwrap(), "not b's mark");
        assert_eq!(store.record(&e2).await.unwrap(), Recorded::Pending);
        assert!(store.release("p2", &a).await.unwrap());
        assert_eq!(
            store.record_marked(&e2, &b, lease).await.unwrap(),
            Recorded::Fresh
        );
    }

    /// Two receivers record the same delivery pending at the same moment, over and over, and
    /// release it at once (their action failed): nobody ever confirms, so no record may be
    /// a duplicate (a 200 for an event acted on nowhere). Before, a record whose mark lost
    /// to the other's pending mark looked at the mark again under a second lock; released
    /// in between, it read as absent and was answered `Duplicate`.
    #[test]
    fn a_pending_mark_released_while_another_record_loses_to_it_is_never_a_duplicate() {
        let store = Arc::new(MemoryStore::new().keep_events(Duration::ZERO, 1, usize::MAX));
        let e = Arc::new(event("p1", "t1", None, 1));
        let lease = Some(Duration::from_secs(60));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let run = |store: Arc<MemoryStore>,
                   e: Arc<StoredEvent>,
                   stop: Arc<std::sync::atomic::AtomicBool>| {
            std::thread::spawn(move || {
                let token = MarkToken::new();
                let end = Instant::now() + Duration::from_secs(2);
                let mut duplicates = 0usize;
                while Instant::now() < end && !stop.load(Ordering::Relaxed) {
                    match store.record_now(&e, &token, lease) {
                        Recorded::Fresh => {
                            store.dedupe.release_now(&e.pipeline_key, token.as_str());
                        }
                        Recorded::Pending => {}
                        Recorded::Duplicate => {
                            duplicates += 1;
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                }
                duplicates
            })
        };
        let a = run(store.clone(), e.clone(), stop.clone());
        let b = run(store.clone(), e.clone(), stop.clone());
        let duplicates = a.join().unwrap() + b.join().unwrap();
        assert_eq!(
            duplicates, 0,
            "a pending mark (never confirmed) was read as a duplicate"
        );
    }

    #[tokio::test]
    async fn a_lease_that_runs_out_makes_the_redelivery_fresh_and_a_late_confirm_is_no_surprise() {
        let store = MemoryStore::new();
        let (a, b) = (MarkToken::new(), MarkToken::new());
        let short = Some(Duration::from_millis(50));
        // A dies holding the lease: after it, the redelivery is fresh (b takes it).
        let e = event("p1", "t1", None, 1);
        assert_eq!(
            store.record_marked(&e, &a, short).await.unwrap(),
            Recorded::Fresh
        );
        until_unmarked(&store, "p1").await;
        assert_eq!(
            store
                .record_marked(&e, &b, Some(Duration::from_secs(60)))
                .await
                .unwrap(),
            Recorded::Fresh
        );
        // A confirming late neither fails nor touches b's mark (b confirms it).
        assert_eq!(store.confirm("p1", &a).await.unwrap(), Confirmation::Taken);
        assert_eq!(store.record(&e).await.unwrap(), Recorded::Pending);
        assert!(!store.release("p1", &a).await.unwrap());
        assert_eq!(
            store.confirm("p1", &b).await.unwrap(),
            Confirmation::Confirmed
        );
        assert_eq!(store.record(&e).await.unwrap(), Recorded::Duplicate);

        // Nobody took it: a late confirm marks it again (no redelivery is processed twice).
        let e2 = event("p2", "t2", None, 1);
        assert_eq!(
            store.record_marked(&e2, &a, short).await.unwrap(),
            Recorded::Fresh
        );
        until_unmarked(&store, "p2").await;
        assert_eq!(
            store.confirm("p2", &a).await.unwrap(),
            Confirmation::Reclaimed
        );
        assert_eq!(store.record(&e2).await.unwrap(), Recorded::Duplicate);
    }

    #[tokio::test]
    async fn a_mark_is_removed_only_with_its_own_token() {
        let store = MemoryStore::new();
        let (a, b) = (MarkToken::new(), MarkToken::new());
        // B recorded it (confirmed at once) and acted on it; A's failed record releases
        // with its own token: B's mark stays, the redelivery is a duplicate.
        let e = event("p1", "t1", None, 1);
        assert_eq!(
            store.record_marked(&e, &b, None).await.unwrap(),
            Recorded::Fresh
        );
        assert_eq!(
            store.record_marked(&e, &a, None).await.unwrap(),
            Recorded::Duplicate
        );
        assert!(!store.release("p1", &a).await.unwrap());
        assert_eq!(store.record(&e).await.unwrap(), Recorded::Duplicate);
        assert!(store.release("p1", &b).await.unwrap());
        assert_eq!(store.record(&e).await.unwrap(), Recorded::Fresh);
        // A mark set by `first_seen` (no token) is released by no token; `forget` still
        // removes any mark.
        let long = "p".repeat(5_000);
        assert!(store.dedupe.first_seen_at(&long, Instant::now()));
        assert!(!store.release(&long, &a).await.unwrap());
        store.forget(&long).await.unwrap();
        assert!(!store.dedupe.seen_at(&long, Instant::now()));
    }

    #[tokio::test]
    async fn a_store_without_leases_marks_at_once_and_releases_as_it_forgets() {
        let store = PreLease::default();
        let a = MarkToken::new();
        let e = event("p1", "t1", None, 1);
        let lease = Some(Duration::from_secs(60));
        assert_eq!(
            store.record_marked(&e, &a, lease).await.unwrap(),
            Recorded::Fresh
        );
        assert_eq!(store.record(&e).await.unwrap(), Recorded::Duplicate);
        assert_eq!(
            store.confirm("p1", &a).await.unwrap(),
            Confirmation::Confirmed
        );
        assert!(store.release("p1", &MarkToken::new()).await.unwrap());
        assert_eq!(store.record(&e).await.unwrap(), Recorded::Fresh);
    }

    #[tokio::test]
    async fn a_store_without_forget_says_so() {
        #[derive(Debug)]
        struct Plain;
        impl CompletionStore for Plain {
            fn record<'a>(
                &'a self,
                _: &'a StoredEvent,
            ) -> BoxFuture<'a, Result<Recorded, StoreError>> {
                Box::pin(std::future::ready(Ok(Recorded::Fresh)))
            }
            fn by_task<'a>(
                &'a self,
                _: &'a str,
            ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
                Box::pin(std::future::ready(Ok(None)))
            }
            fn by_idempotency_key<'a>(
                &'a self,
                _: &'a str,
            ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
                Box::pin(std::future::ready(Ok(None)))
            }
            fn subscribe(&self, _: Listener) -> Subscription {
                Subscription::new(())
            }
        }
        let err = Plain.forget("p1").await.unwrap_err();
        assert!(err.reason().contains("cannot forget"), "{}", err.reason());
    }

    #[tokio::test]
    async fn keeps_events_within_count_bytes_and_ttl() {
        let store = MemoryStore::new().keep_events(Duration::from_secs(3600), 2, usize::MAX);
        for i in 0..5 {
            let e = event(
                &format!("p{i}"),
                &format!("t{i}"),
                Some(&format!("k{i}")),
                1,
            );
            store.record(&e).await.unwrap();
        }
        assert_eq!(store.len(), 2);
        assert!(store.by_task("t0").await.unwrap().is_none());
        assert!(store.by_idempotency_key("k2").await.unwrap().is_none());
        assert!(store.by_task("t4").await.unwrap().is_some());

        let store = MemoryStore::new().keep_events(Duration::from_secs(3600), 100, 5_000);
        for i in 0..10 {
            store
                .record(&event(&format!("p{i}"), &format!("t{i}"), None, 1_000))
                .await
                .unwrap();
        }
        assert!(store.lock().bytes <= 5_000, "{}", store.lock().bytes);
        assert!(store.by_task("t9").await.unwrap().is_some());

        let store = MemoryStore::new().keep_events(Duration::ZERO, 100, usize::MAX);
        store.record(&event("p", "t", None, 1)).await.unwrap();
        assert!(store.by_task("t").await.unwrap().is_none(), "ttl zero");
        assert_eq!(
            store.record(&event("p", "t", None, 1)).await.unwrap(),
            Recorded::Duplicate,
            "the dedupe memory outlives the event"
        );
    }

    /// A clone delivery for `task` and `key` whose body's `code` is `code` (JSON text: `200`
    /// or `"200"`), with its voice.
    fn coded(pk: &str, task: &str, key: &str, code: &str) -> StoredEvent {
        with_data(
            pk,
            task,
            key,
            code,
            &format!(r#"{{"taskId":"{task}","voiceId":"v-{task}"}}"#),
        )
    }

    /// A clone delivery for `task` and `key` whose `code` is `code` and `data` is `data`.
    fn with_data(pk: &str, task: &str, key: &str, code: &str, data: &str) -> StoredEvent {
        with_body(
            pk,
            task,
            key,
            format!(
                r#"{{"code":{code},"event":"openapi-clone-voice","pipelineKey":"{pk}","data":{data}}}"#
            ),
        )
    }

    fn with_body(pk: &str, task: &str, key: &str, body: String) -> StoredEvent {
        StoredEvent {
            body,
            ..event(pk, task, Some(key), 0)
        }
    }

    /// Review 30 pass 2-b #1: one idempotency key can name several tasks (VMEG scopes a key
    /// by API key and route: a clone and a TTS submit, or two tenants on one hub). A failure
    /// of another task takes the key's place: it is the outcome of the key's latest submit,
    /// which `job_for_idempotency_key` resolves. Before: the other task's success stayed under
    /// the key for the event TTL.
    #[tokio::test]
    async fn a_failure_of_another_task_replaces_a_success_under_a_shared_key() {
        let store = MemoryStore::new();
        let a = coded("p1", "t-a", "order-7", "200");
        let b = coded("p2", "t-b", "order-7", "500");
        store.record(&a).await.unwrap();
        store.record(&b).await.unwrap();
        assert_eq!(
            store.by_idempotency_key("order-7").await.unwrap(),
            Some(b.clone())
        );
        assert_eq!(store.by_task("t-a").await.unwrap(), Some(a.clone()));
        assert_eq!(store.by_task("t-b").await.unwrap(), Some(b.clone()));
        assert!(replaces(&a, &b));
        // The same task under the same key still keeps its success.
        let late = coded("p3", "t-a", "order-7", "500");
        assert!(!replaces(&a, &late));
        // A failure that names no task (the shape of a failure's `data` is not documented)
        // is the key's latest outcome too (review 30 pass 3 #3). Before: the other task's
        // success stayed under the key, and `job_for_idempotency_key` gave it.
        let unnamed = with_body(
            "p4",
            "t-a",
            "order-7",
            r#"{"code":500,"event":"openapi-clone-voice","pipelineKey":"p4","data":{}}"#.into(),
        );
        let unnamed = StoredEvent {
            task_id: None,
            ..unnamed
        };
        assert!(replaces(&a, &unnamed));
        let store = MemoryStore::new();
        store.record(&a).await.unwrap();
        store.record(&unnamed).await.unwrap();
        assert_eq!(
            store.by_idempotency_key("order-7").await.unwrap(),
            Some(unnamed)
        );
        assert_eq!(store.by_task("t-a").await.unwrap(), Some(a.clone()));
    }

    /// Review 30 pass 2-b #5, as pass 3 #1 corrected it: a TTS success whose every line VMEG
    /// said failed (or that lists none) keeps no failure out, under the task and the key. A
    /// success with audio, or with a line that is only unreadable (read it again, never
    /// synthesize again), is kept over a failure.
    #[tokio::test]
    async fn a_tts_success_whose_every_line_failed_keeps_no_failure_out() {
        let tts = |pk: &str, code: &str, results: &str| {
            with_body(
                pk,
                "t-s",
                "k-s",
                format!(
                    r#"{{"code":{code},"event":"openapi-tts","pipelineKey":"{pk}","data":{{"taskId":"t-s","results":{results}}}}}"#
                ),
            )
        };
        let lines_failed = tts(
            "p1",
            "200",
            r#"[{"errorMessage":"bad line"},{"uri":"","errorMessage":"bad too"}]"#,
        );
        let no_results = tts("p2", "200", "[]");
        let with_audio = tts("p4", "200", r#"[{"uri":"https://cdn.example/a.mp3"}]"#);
        for hollow in [&lines_failed, &no_results] {
            assert!(
                hollow.succeeded() && !hollow.carries_result(),
                "{}",
                hollow.body
            );
        }
        // A line VMEG did not say failed: a relative or non-http(s) uri (its `errorMessage` a
        // remark: review 35-d #3), none at all (a blank `errorMessage` says nothing), or a
        // result that is not an object.
        for unreadable in [
            r#"[{"errorMessage":"bad line"},{"uri":"ftp://x/a"}]"#,
            r#"[{"errorMessage":"bad line"},{"uri":"ftp://x/a","errorMessage":"bad too"}]"#,
            r#"[{"uri":"/a.wav"}]"#,
            r#"[{"errorMessage":" \n "}]"#,
            r#"[{"errorMessage":"bad line"},null]"#,
            r#"[{"errorMessage":"bad line"},7]"#,
        ] {
            assert!(tts("p", "200", unreadable).carries_result(), "{unreadable}");
        }
        assert!(with_audio.carries_result());
        assert!(coded("p", "t", "k", r#""200""#).carries_result());
        assert!(!coded("p", "t", "k", "500").carries_result());
        // Another product's success counts by its code: its result is not read here.
        assert!(
            with_body(
                "p",
                "t",
                "k",
                r#"{"code":200,"event":"openapi-translate","pipelineKey":"p","data":{}}"#.into()
            )
            .carries_result()
        );

        let store = MemoryStore::new();
        store.record(&lines_failed).await.unwrap();
        let failed = tts("p5", "500", "null");
        store.record(&failed).await.unwrap();
        assert_eq!(store.by_task("t-s").await.unwrap(), Some(failed.clone()));
        assert_eq!(store.by_idempotency_key("k-s").await.unwrap(), Some(failed));
        store.record(&with_audio).await.unwrap();
        // Neither a failure nor a result-less success takes the place of the audio.
        store.record(&tts("p6", "500", "null")).await.unwrap();
        store.record(&no_results).await.unwrap();
        assert_eq!(store.by_task("t-s").await.unwrap(), Some(with_audio));
    }

    /// Review 30 pass 3 #1: a VMEG clone success without a usable `voiceId` ends a wait (the
    /// client finds the voice in the clone list): it is a finished, paid clone, and a late
    /// failure of the same task must not take its place, under the task or the key. Before:
    /// the failure did, and a wait started afterwards returned `TaskFailed`, which a caller
    /// answers with a second, paid clone. The same for a TTS success whose lines are all
    /// unreadable.
    #[tokio::test]
    async fn a_clone_success_without_its_voice_keeps_a_late_failure_out() {
        let store = MemoryStore::new();
        for (pk, data) in [
            ("p1", r#"{"taskId":"t-c"}"#),
            ("p2", r#"{"taskId":"t-c","voiceId":" "}"#),
        ] {
            let no_voice = with_data(pk, "t-c", "k-c", "200", data);
            assert!(no_voice.carries_result(), "{data}");
            let store = MemoryStore::new();
            store.record(&no_voice).await.unwrap();
            let failed = with_data(
                &format!("{pk}-f"),
                "t-c",
                "k-c",
                "500",
                r#"{"taskId":"t-c"}"#,
            );
            store.record(&failed).await.unwrap();
            assert_eq!(store.by_task("t-c").await.unwrap(), Some(no_voice.clone()));
            assert_eq!(
                store.by_idempotency_key("k-c").await.unwrap(),
                Some(no_voice)
            );
        }
        let unreadable = with_body(
            "p3",
            "t-s",
            "k-s",
            r#"{"code":200,"event":"openapi-tts","pipelineKey":"p3","data":{"taskId":"t-s","results":[{"uri":"/a.wav"},{}]}}"#.into(),
        );
        store.record(&unreadable).await.unwrap();
        store
            .record(&with_data("p4", "t-s", "k-s", "500", r#"{"taskId":"t-s"}"#))
            .await
            .unwrap();
        assert_eq!(store.by_task("t-s").await.unwrap(), Some(unreadable));
    }

    /// README: a failure delivered after a success for the same task (or idempotency key)
    /// never replaces it, and a success after a failure does (it carries the result). Before:
    /// the latest won, and a late failure turned a finished, paid job into `TaskFailed`.
    #[tokio::test]
    async fn a_failure_never_replaces_a_success_but_a_success_replaces_a_failure() {
        let store = MemoryStore::new();
        let ok = coded("p1", "t1", "k1", "200");
        assert_eq!(store.record(&ok).await.unwrap(), Recorded::Fresh);
        let late = coded("p2", "t1", "k1", "500");
        assert_eq!(store.record(&late).await.unwrap(), Recorded::Fresh);
        assert_eq!(store.by_task("t1").await.unwrap(), Some(ok.clone()));
        assert_eq!(store.by_idempotency_key("k1").await.unwrap(), Some(ok));
        // Another success is taken: it carries a result too.
        let again = coded("p3", "t1", "k1", r#""200""#);
        store.record(&again).await.unwrap();
        assert_eq!(store.by_task("t1").await.unwrap(), Some(again.clone()));
        assert_eq!(store.by_idempotency_key("k1").await.unwrap(), Some(again));

        let failed = coded("p4", "t2", "k2", "500");
        store.record(&failed).await.unwrap();
        assert_eq!(store.by_task("t2").await.unwrap(), Some(failed));
        let retried = coded("p5", "t2", "k2", "200");
        store.record(&retried).await.unwrap();
        assert_eq!(store.by_task("t2").await.unwrap(), Some(retried.clone()));
        assert_eq!(store.by_idempotency_key("k2").await.unwrap(), Some(retried));
    }

    #[tokio::test]
    async fn a_newer_event_for_a_task_survives_the_eviction_of_an_older_one() {
        let store = MemoryStore::new().keep_events(Duration::from_secs(3600), 2, usize::MAX);
        store.record(&event("p1", "t", None, 1)).await.unwrap();
        let newer = event("p2", "t", None, 2);
        store.record(&newer).await.unwrap();
        store.record(&event("p3", "u", None, 1)).await.unwrap();
        assert_eq!(store.by_task("t").await.unwrap().unwrap(), newer);
    }

    /// A captured delivery replayed after the system clock was stepped back: the verifier
    /// finds it fresh again (its timestamp is within the window of the clock as it now
    /// reads), and the store must still say it was handled. The store's marks aged by the
    /// monotonic clock alone: with the shortest dedupe TTL (600 s) and the clock stepped back
    /// an hour, the replay 3,500 s later was `Fresh`, its effects taken twice. A step forward
    /// ages no mark sooner.
    #[test]
    fn a_replay_after_the_clock_is_stepped_back_is_still_a_duplicate() {
        use crate::webhook::Verifier;
        use crate::webhook::dedupe::Moment;
        use hmac::{Hmac, Mac};
        const SECRET: &str = "whsec_clock";
        let sign = |ts: &str, body: &[u8]| {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
            mac.update(ts.as_bytes());
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        };
        let verifier = Verifier::new(crate::WebhookSecret::new(SECRET));
        let store = MemoryStore::new().dedupe(100, MIN_DEDUPE_TTL);
        let signed = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let ts = unix_millis(signed).to_string();
        let body = r#"{"code":200,"event":"openapi-tts","pipelineKey":"p-clock","data":{"taskId":"t-clock"}}"#;
        let sig = sign(&ts, body.as_bytes());
        let stored = StoredEvent {
            pipeline_key: "p-clock".into(),
            task_id: Some("t-clock".into()),
            idempotency_key: None,
            timestamp: ts.clone(),
            signature: sig.clone(),
            body: body.into(),
            received_at_ms: unix_millis(signed),
        };
        let t0 = Instant::now();
        // `real` seconds after the first delivery, the wall clock `back` seconds behind.
        let at = |real: u64, back: u64| Moment {
            mono: t0 + Duration::from_secs(real),
            wall: signed + Duration::from_secs(real) - Duration::from_secs(back),
        };
        let receive = |now: Moment| {
            verifier
                .verify_at(&ts, &sig, body.as_bytes(), now.wall)
                .ok()?;
            Some(store.record_at(&stored, &MarkToken::new(), None, now))
        };
        assert_eq!(receive(at(0, 0)), Some(Recorded::Fresh));
        // Stepped back an hour (100 s in): from 3,300 s to 3,900 s the delivery is fresh
        // again to the verifier, long after its mark's 600 s.
        for real in [3_300, 3_500, 3_899] {
            assert_eq!(
                receive(at(real, 3_600)),
                Some(Recorded::Duplicate),
                "{real} s"
            );
        }
        // Stale again on the wall clock: refused by the verifier; and forgotten only once
        // its timestamp is a whole TTL behind the wall clock.
        assert_eq!(receive(at(3_901, 3_600)), None);
        assert_eq!(
            store.dedupe.state_at("p-clock", at(4_199, 3_600)),
            MarkState::Confirmed
        );
        assert_eq!(
            store.dedupe.state_at("p-clock", at(4_200, 3_600)),
            MarkState::Absent
        );

        // A step forward (a year, 10 s in) ages no mark sooner: within its 600 s on the
        // monotonic clock, the mark holds whatever the wall clock says.
        let store = MemoryStore::new().dedupe(100, MIN_DEDUPE_TTL);
        let year = 365 * 86_400;
        let ahead = |real: u64| Moment {
            mono: t0 + Duration::from_secs(real),
            wall: signed + Duration::from_secs(real + year),
        };
        assert_eq!(
            store.record_at(&stored, &MarkToken::new(), None, at(0, 0)),
            Recorded::Fresh
        );
        assert_eq!(
            store.record_at(&stored, &MarkToken::new(), None, ahead(599)),
            Recorded::Duplicate
        );
    }
}
