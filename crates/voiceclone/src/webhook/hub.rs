//! The completion hub: verified deliveries in, finished waits out.
//!
//! A [`CompletionHub`] sits between a webhook endpoint and the code waiting for jobs. The
//! endpoint hands it each delivery ([`CompletionHub::receive`]): it is verified, recorded in
//! the hub's [`CompletionStore`] (deduplicated by `pipelineKey`) and fanned out to every hub
//! sharing that store. A [`Client`](crate::Client) built with
//! [`ClientBuilder::completion_hub`](crate::ClientBuilder::completion_hub) consults the hub
//! in `wait_for_clone` / `wait_for_speech`: a verified event for the task completes every
//! wait on it at once, whichever instance received it. A delivery that arrives before its
//! wait starts is found in the store (kept for a bounded time).
//!
//! Should VMEG send more than one event for a task (a late failure callback, a re-run on its
//! side), the store, and each wait's slot until the wait looks, keep one: the latest, except
//! that a failure never takes the place of a success that carries the task's result
//! ([`replaces`](super::store::replaces)). A wait that starts, or looks, after both ends on
//! the success, never `TaskFailed` for a finished, paid job, and a wait about to end on a
//! failure from its slot reads the store first (a store may publish what it keeps in
//! another order); a success after a failure is taken (it carries the result). A wait that
//! had already ended on the failure has returned `TaskFailed`: what was delivered then.
//! Polling continues as a fallback on a slower schedule
//! ([`WaitPolicy::webhook_poll_interval`](crate::WaitPolicy::webhook_poll_interval)), and on
//! the normal schedule when the store becomes unreachable.
//!
//! A receiver that acts on a delivery before answering VMEG (prints it, queues it) uses
//! [`CompletionHub::receive_pending`]: the delivery's mark stays pending under a lease until
//! the receiver [confirms](CompletionHub::confirm) it, and a redelivery meanwhile is answered
//! 503 on every hub sharing the store, so an event whose receiver fails or dies is
//! redelivered, never answered 200 elsewhere and lost (see the
//! [store's docs](super::store)).
//!
//! Every event read back from the store is verified again with the hub's own secret, so a
//! writer to a shared store cannot forge a completion.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::store::{
    CompletionStore, Confirmation, MarkToken, MemoryStore, Recorded, StoreError, StoreSignal,
    StoredEvent, Subscription, replaces, unix_millis,
};
use super::verify::Refusals;
use super::{Verifier, WebhookEvent, WebhookEventKind, WebhookPayload};

/// Events read back from the store that do not verify or do not match where they are filed.
static FORGED_IN_STORE: Refusals = Refusals::new();
use crate::error::{Error, ErrorKind, WebhookFailure};
use crate::model::{JobId, Provider};
use crate::secret::WebhookSecret;

/// Routes verified deliveries to the waits that need them. Cheap to clone (clones share
/// everything); see the module docs.
///
/// Shared by clients of several API keys (of one VMEG account), a hub hands each client the
/// deliveries with that client's key scrubbed, and only that one: a key another client's
/// task echoed (in a failure's `message`, say) reaches this client's waits'
/// `TaskFailed`, its `job_for_idempotency_key` and `reconcile` answers, and the lines it
/// logs. Share a hub only among clients of one key, or of keys their holders may all see.
/// A delivery says nothing of the API key its submit went out under, and VMEG scopes
/// idempotency keys per API key: on a hub shared by several API keys, an idempotency key you
/// choose must be unique across them (prefix it with the tenant, or let the client draw
/// it), or `reconcile` and `job_for_idempotency_key` may answer with another key's task.
#[derive(Clone)]
pub struct CompletionHub {
    inner: Arc<Inner>,
}

struct Inner {
    verifier: Verifier,
    store: Arc<dyn CompletionStore>,
    /// Local waits, by task id. A slot lives while at least one wait holds its receiver.
    slots: Mutex<HashMap<String, watch::Sender<Slot>>>,
    /// Made on first use (a store's subscription may need the tokio runtime), and again
    /// on a use after it ended by itself (its task died with the runtime it ran in).
    subscription: Mutex<Option<Subscription>>,
    /// The store's subscription is lost (since [`StoreSignal::Lost`], until
    /// [`StoreSignal::Restored`]): a wait that starts meanwhile falls back to polling at once,
    /// as the waits already running did. Written and read under `slots`' lock.
    lost: AtomicBool,
    /// How many times the subscription has come back ([`StoreSignal::Restored`]): a wait
    /// that fell back to polling listens again after the next one. Written under `slots`'
    /// lock.
    restores: AtomicU64,
    /// Since when the store reads waits make have been failing, and when that was last
    /// said: once when they start, again every [`STILL_FAILING_EVERY`] while they go on,
    /// once when they work again (see [`CompletionHub::noted`]).
    reads_failing: Mutex<Option<tokio::time::Instant>>,
}

/// How often a store whose reads keep failing is said to again: a lasting outage (an ACL
/// changed after start, `maxclients` reached) is not one line at its start only, while
/// every wait polls more often meanwhile (review 33 pass 2 (hook) #1).
const STILL_FAILING_EVERY: Duration = Duration::from_secs(5 * 60);

/// What a wait's store read tells the log, given when a failing spell was last said
/// (`last`, `None` while reads work) and the time now: `Some(true)` a failure to warn of
/// (the first of a spell, or the first after [`STILL_FAILING_EVERY`]), `Some(false)` the
/// first read that works again, `None` nothing new.
fn read_note(
    last: &mut Option<tokio::time::Instant>,
    now: tokio::time::Instant,
    ok: bool,
) -> Option<bool> {
    match (ok, *last) {
        (true, None) => None,
        (true, Some(_)) => {
            *last = None;
            Some(false)
        }
        (false, Some(said)) if now.saturating_duration_since(said) < STILL_FAILING_EVERY => None,
        (false, _) => {
            *last = Some(now);
            Some(true)
        }
    }
}

/// What a local wait learns through its slot.
#[derive(Clone, Debug, Default)]
struct Slot {
    event: Option<Arc<StoredEvent>>,
    /// Bumped on every [`StoreSignal::Restored`]: look in the store again.
    restored: u64,
    /// Set on [`StoreSignal::Lost`]: fall back to polling.
    lost: bool,
}

impl fmt::Debug for CompletionHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompletionHub")
            .field("verifier", &self.inner.verifier)
            .field("store", &self.inner.store)
            .field("waiting_tasks", &self.waiting_tasks())
            .finish()
    }
}

/// What became of one delivery handed to [`CompletionHub::receive`] (or
/// [`CompletionHub::receive_pending`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Delivery {
    /// Verified and first seen: recorded and fanned out.
    Fresh(Box<WebhookEvent>),
    /// Verified and first seen by [`CompletionHub::receive_pending`]: recorded and fanned
    /// out, its mark pending under the lease. Act on it, then
    /// [`CompletionHub::confirm`] the claim (or [`CompletionHub::release`] it if the action
    /// failed, and answer 503).
    Claimed(Box<WebhookEvent>, Claim),
    /// Verified, but its `pipelineKey` was already handled: a redelivery.
    Duplicate(Box<WebhookEvent>),
    /// Verified, but a receiver (on this hub or another sharing the store) is still acting
    /// on its first delivery, under a lease: answered 503 so that VMEG tries again (should
    /// that receiver fail, the event is still redelivered). Nothing changed.
    InProgress(Box<WebhookEvent>),
    /// Refused: bad signature, stale, too large, malformed. Nothing was recorded.
    Refused(Error),
    /// Verified, but the store could not record it. Nothing stays marked (a mark the store
    /// may have set before failing is removed, if it still holds this call's token; should
    /// that fail too, the mark is pending and runs out with its lease,
    /// [`CompletionHub::RECEIVE_LEASE`] for `receive`): VMEG's redelivery will be processed.
    Unavailable(Error),
}

impl Delivery {
    /// The HTTP status to answer VMEG with: 200 for fresh, claimed and duplicate deliveries,
    /// the failure's status (401 for authentication failures) when refused, 503 while
    /// another receiver's lease runs and when the store is unavailable (VMEG redelivers).
    pub fn http_status(&self) -> u16 {
        match self {
            Delivery::Fresh(_) | Delivery::Claimed(..) | Delivery::Duplicate(_) => 200,
            Delivery::Refused(e) => match e.kind() {
                ErrorKind::Webhook(f) => f.http_status(),
                _ => 400,
            },
            Delivery::InProgress(_) | Delivery::Unavailable(_) => 503,
        }
    }

    /// The event, when the delivery verified.
    pub fn event(&self) -> Option<&WebhookEvent> {
        match self {
            Delivery::Fresh(e)
            | Delivery::Claimed(e, _)
            | Delivery::Duplicate(e)
            | Delivery::InProgress(e) => Some(e),
            _ => None,
        }
    }
}

/// The pauses before each new attempt to remove the mark of a failed record (see
/// `CompletionHub::unmark`): 100 ms, 500 ms, 2 s. With the Redis store's 2 s timeout per
/// attempt, the last ends about 10 s after the record failed, well within
/// [`CompletionHub::RECEIVE_LEASE`].
const UNMARK_RETRY_PAUSES: [Duration; 3] = [
    Duration::from_millis(100),
    Duration::from_millis(500),
    Duration::from_secs(2),
];

/// A pending mark set by [`CompletionHub::receive_pending`]: the delivery's `pipelineKey`
/// and the token its mark holds. Hand it to [`CompletionHub::confirm`] once the delivery is
/// acted on, or to [`CompletionHub::release`] if that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pipeline_key: String,
    token: MarkToken,
}

impl Claim {
    /// The delivery's `pipelineKey`.
    pub fn pipeline_key(&self) -> &str {
        &self.pipeline_key
    }

    /// The token its mark holds.
    pub fn token(&self) -> &MarkToken {
        &self.token
    }
}

impl CompletionHub {
    /// The lease under which [`CompletionHub::receive`] records a first-seen delivery
    /// pending before it confirms it: 60 s.
    ///
    /// Long enough: the confirm follows the record's answer at once, one store round trip
    /// (the Redis store gives up on a command after 2 s by default), so a minute leaves a
    /// wide margin for a slower store or a stalled process; and a confirm that comes after
    /// the lease all the same is no error (the mark is set again, or another receiver's is
    /// left alone: acted on twice, never lost). Short enough: it bounds how long a mark left
    /// by a record whose outcome is unknown (its answer lost, and the background release of
    /// its mark failed too) answers VMEG's redeliveries 503 before one is processed again:
    /// about a minute, where a confirmed mark held them for the dedupe TTL (72 h), answered
    /// 200 as duplicates of an event acted on nowhere.
    pub const RECEIVE_LEASE: Duration = Duration::from_secs(60);

    /// A hub on an in-process [`MemoryStore`] with default bounds: nothing to install, for a
    /// service that runs as one process.
    pub fn in_memory(secret: WebhookSecret) -> Self {
        Self::with_store(Verifier::new(secret), Arc::new(MemoryStore::new()))
    }

    /// A hub on any store (for many instances, the Redis store of the `redis` feature).
    /// `verifier` checks deliveries and every event read back from the store. Its tolerance
    /// is shortened to half the store's [`CompletionStore::dedupe_ttl`] when it is longer
    /// (with a warning): the tolerance runs either way around a delivery's timestamp, so a
    /// replay can come up to twice the tolerance after the first delivery was seen, and one
    /// the store has forgotten by then would be acted on twice. (A store bounded in keys, as
    /// [`MemoryStore`] is, may forget sooner under a flood of distinct deliveries.)
    pub fn with_store(verifier: Verifier, store: Arc<dyn CompletionStore>) -> Self {
        let verifier = match store.dedupe_ttl().map(|ttl| (ttl, ttl / 2)) {
            Some((dedupe_ttl, ttl)) if verifier.max_age() > ttl => {
                tracing::warn!(
                    tolerance_secs = verifier.max_age().as_secs(),
                    dedupe_ttl_secs = dedupe_ttl.as_secs(),
                    "the verifier's tolerance, either way, is longer than the store remembers \
                     deliveries; shortened to half the store's dedupe TTL"
                );
                verifier.tolerance(ttl)
            }
            _ => verifier,
        };
        Self {
            inner: Arc::new(Inner {
                verifier,
                store,
                slots: Mutex::new(HashMap::new()),
                subscription: Mutex::new(None),
                lost: AtomicBool::new(false),
                restores: AtomicU64::new(0),
                reads_failing: Mutex::new(None),
            }),
        }
    }

    /// The verifier deliveries go through.
    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }

    /// How many distinct tasks have a wait on this hub right now.
    pub fn waiting_tasks(&self) -> usize {
        self.slots().len()
    }

    /// True while a wait on this hub is waiting for `task_id`'s event: what a receiver that
    /// serves only its own waits (a command-line tool's, say) checks before taking a
    /// delivery, so that another task's delivery is answered 503 and VMEG delivers it again
    /// later, to whichever receiver then serves the account.
    ///
    /// ```
    /// use voiceclone::JobId;
    /// use voiceclone::WebhookSecret;
    /// use voiceclone::webhook::CompletionHub;
    ///
    /// let hub = CompletionHub::in_memory(WebhookSecret::new("whsec"));
    /// assert!(!hub.is_waiting_for(&JobId::new("t1"))); // no wait on it (yet)
    /// ```
    pub fn is_waiting_for(&self, task_id: &JobId) -> bool {
        self.slots().contains_key(task_id.as_str())
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<Slot>>> {
        self.inner.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn ensure_subscribed(&self) {
        let mut current = self
            .inner
            .subscription
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match current.as_ref() {
            Some(s) if !s.has_ended() => return,
            Some(_) => {
                tracing::info!(
                    "the completion store's subscription had ended (the tokio runtime it ran in shut down?); subscribing again"
                );
                // A fresh start, as on first use: the ended one's `Lost` is not this one's
                // (which says `Lost` itself if it cannot subscribe, and `Restored` once it
                // has, when waits look in the store again).
                let _slots = lock(&self.inner);
                self.inner.lost.store(false, Ordering::Relaxed);
            }
            None => {}
        }
        drop(current.take());
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        *current = Some(self.inner.store.subscribe(Arc::new(move |signal| {
            if let Some(inner) = weak.upgrade() {
                dispatch(&inner, signal);
            }
        })));
    }

    /// Handles one delivery: verify (signature, replay window, size), record (deduplicated
    /// by `pipelineKey`), fan out, mark handled. Answer VMEG with [`Delivery::http_status`];
    /// this returns as soon as the store has recorded the delivery and confirmed its mark
    /// (two round trips for a first-seen delivery, one for a duplicate), so the 2xx goes out
    /// quickly. A receiver that acts on a delivery before answering uses
    /// [`CompletionHub::receive_pending`] instead.
    ///
    /// The hub knows no API key (one hub may serve clients of several): the events it
    /// returns (here, [`completion`](Self::completion), [`job_for_idempotency_key`](Self::job_for_idempotency_key),
    /// a router's `on_delivery`) hold what VMEG sent, a key it echoed included. Read them
    /// through the [`Client`](crate::Client) (its waits, `Client::job_for_idempotency_key`)
    /// to have the client's key removed, or never log them whole. A client removes its own
    /// key only, not another key's sharing the hub (see [`CompletionHub`]).
    ///
    /// A first-seen delivery is marked **pending** under [`CompletionHub::RECEIVE_LEASE`],
    /// then confirmed (the mark becomes the dedupe mark) before [`Delivery::Fresh`] comes
    /// back. A record whose outcome is unknown (its answer lost or late: answered 503) may
    /// have left a mark; the hub releases it in the background, and should that fail too,
    /// the mark is only pending and runs out with the lease, so a redelivery is processed
    /// again instead of being taken for a duplicate of an event acted on nowhere. A
    /// confirm that fails changes nothing for this call (the delivery is recorded and fanned
    /// out: still `Fresh`); its mark runs out with the lease, and a later redelivery is
    /// processed again (acted on twice, never lost). A store without leases (one that keeps
    /// [`CompletionStore::record_marked`]'s default) marks handled at once, as before.
    ///
    /// Between the record and the confirm, a redelivery of the same event reaching a hub
    /// sharing the store finds the pending mark: it is [`Delivery::InProgress`], answered
    /// 503, and VMEG tries again (a duplicate, answered 200, once the confirm is in). A
    /// `receive` dropped between the two (its request cancelled) leaves the mark pending:
    /// it runs out with the lease.
    pub async fn receive(&self, timestamp: &str, signature: &str, body: &[u8]) -> Delivery {
        self.receive_at(timestamp, signature, body, SystemTime::now())
            .await
    }

    /// [`CompletionHub::receive`] against an explicit `now` (for tests).
    pub async fn receive_at(
        &self,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: SystemTime,
    ) -> Delivery {
        self.receive_marked(timestamp, signature, body, now, None)
            .await
    }

    /// Handles one delivery for a receiver that acts on it before answering (prints it,
    /// queues it): as [`CompletionHub::receive`], but a first-seen delivery is marked
    /// **pending** for `lease` and comes back as [`Delivery::Claimed`]. While the lease runs,
    /// a redelivery reaching any hub sharing the store is [`Delivery::InProgress`] (503), so
    /// VMEG keeps trying. Once the action is done, [`CompletionHub::confirm`] the claim: its
    /// mark becomes the ordinary dedupe mark. If the action fails,
    /// [`CompletionHub::release`] it and answer 503. If the receiver dies, the lease runs
    /// out and the next redelivery is fresh on any hub. Choose `lease` longer than the
    /// action can take, confirmation included; a store without leases (a third-party one
    /// that keeps [`CompletionStore::record_marked`]'s default) marks handled at once.
    ///
    /// The event is stored and fanned out at once, as by `receive`: waits end on it even if
    /// the action then fails (the job did complete).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), voiceclone::Error> {
    /// use std::time::{Duration, SystemTime, UNIX_EPOCH};
    /// use voiceclone::WebhookSecret;
    /// use voiceclone::webhook::store::Confirmation;
    /// use voiceclone::webhook::{CompletionHub, Delivery};
    ///
    /// let hub = CompletionHub::in_memory(WebhookSecret::new("whsec"));
    /// let body = r#"{"code":200,"event":"openapi-clone-voice","pipelineKey":"pk-1","data":{"taskId":"t1","voiceId":"v1"}}"#;
    /// let ts = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis().to_string();
    /// let sig = voiceclone_sim::sign("whsec", &ts, body.as_bytes()); // what VMEG sends
    ///
    /// let lease = Duration::from_secs(60);
    /// let Delivery::Claimed(event, claim) = hub.receive_pending(&ts, &sig, body.as_bytes(), lease).await
    /// else {
    ///     panic!("first seen");
    /// };
    /// // While it is pending, a redelivery is answered 503, on every hub sharing the store.
    /// let again = hub.receive_pending(&ts, &sig, body.as_bytes(), lease).await;
    /// assert!(matches!(again, Delivery::InProgress(_)));
    /// assert_eq!(again.http_status(), 503);
    ///
    /// println!("{}", event.pipeline_key); // the action; then:
    /// assert_eq!(hub.confirm(&claim).await?, Confirmation::Confirmed);
    /// // Handled: a redelivery is a duplicate (200).
    /// let again = hub.receive(&ts, &sig, body.as_bytes()).await;
    /// assert!(matches!(again, Delivery::Duplicate(_)));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn receive_pending(
        &self,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        lease: Duration,
    ) -> Delivery {
        self.receive_marked(timestamp, signature, body, SystemTime::now(), Some(lease))
            .await
    }

    async fn receive_marked(
        &self,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: SystemTime,
        lease: Option<Duration>,
    ) -> Delivery {
        self.ensure_subscribed();
        let event = match self
            .inner
            .verifier
            .verify_at(timestamp, signature, body, now)
        {
            Ok(e) => e,
            Err(e) => return Delivery::Refused(e),
        };
        let Ok(text) = std::str::from_utf8(body) else {
            return Delivery::Refused(webhook_error(WebhookFailure::InvalidJson {
                reason: "the body is not UTF-8".into(),
            }));
        };
        let stored = StoredEvent {
            pipeline_key: event.pipeline_key.clone(),
            task_id: task_id_of(&event),
            idempotency_key: event.idempotency_key().map(str::to_owned),
            timestamp: timestamp.to_owned(),
            signature: signature.to_owned(),
            body: text.to_owned(),
            received_at_ms: unix_millis(now),
        };
        let token = MarkToken::new();
        // Pending even without a caller's lease: a record whose answer is lost may have set
        // the mark, and should its release fail too, a confirmed mark would make every
        // redelivery a duplicate for the dedupe TTL; a pending one runs out with the lease.
        let mark_lease = lease.unwrap_or(Self::RECEIVE_LEASE);
        match self
            .inner
            .store
            .record_marked(&stored, &token, Some(mark_lease))
            .await
        {
            Ok(Recorded::Fresh) => {
                tracing::debug!(pipeline_key = ?event.pipeline_key, task_id = ?stored.task_id, claimed = lease.is_some(), "webhook delivery recorded");
                match lease {
                    Some(_) => Delivery::Claimed(
                        Box::new(event),
                        Claim {
                            pipeline_key: stored.pipeline_key,
                            token,
                        },
                    ),
                    None => {
                        self.confirm_received(&stored.pipeline_key, &token).await;
                        Delivery::Fresh(Box::new(event))
                    }
                }
            }
            Ok(Recorded::Pending) => {
                tracing::debug!(pipeline_key = ?event.pipeline_key, "webhook redelivery while a receiver is acting on it; answering 503");
                Delivery::InProgress(Box::new(event))
            }
            Ok(Recorded::Duplicate) => {
                tracing::debug!(pipeline_key = ?event.pipeline_key, "webhook redelivery skipped");
                Delivery::Duplicate(Box::new(event))
            }
            Err(e) => {
                tracing::warn!(error = %e, pipeline_key = ?event.pipeline_key, "webhook delivery not recorded; answering 503 so that VMEG redelivers");
                self.unmark(event.pipeline_key.clone(), token);
                Delivery::Unavailable(unavailable(e))
            }
        }
    }

    /// Makes the pending mark [`CompletionHub::receive`] recorded the dedupe mark. Whatever
    /// it finds, the delivery stays `Fresh`: it is recorded and fanned out, and a mark left
    /// pending runs out with the lease (a later redelivery is then processed again).
    async fn confirm_received(&self, pipeline_key: &str, token: &MarkToken) {
        match self.inner.store.confirm(pipeline_key, token).await {
            Ok(Confirmation::Confirmed) => {}
            Ok(Confirmation::Reclaimed) => {
                tracing::warn!(pipeline_key = ?pipeline_key, lease_secs = Self::RECEIVE_LEASE.as_secs(), "the store confirmed a webhook delivery's mark after its lease ran out (marked again); a redelivery in between, if any, was processed again");
            }
            Ok(Confirmation::Taken) => {
                tracing::warn!(pipeline_key = ?pipeline_key, lease_secs = Self::RECEIVE_LEASE.as_secs(), "a webhook delivery's lease ran out before its mark was confirmed, and another receiver took a redelivery: the event is acted on by both");
            }
            Err(e) => {
                tracing::warn!(error = %e, pipeline_key = ?pipeline_key, lease_secs = Self::RECEIVE_LEASE.as_secs(), "could not confirm a recorded webhook delivery's mark; it stays pending until its lease runs out (redeliveries answered 503 until then, processed again after)");
            }
        }
    }

    /// After a failed record: the store may have marked the delivery all the same (its
    /// answer came too late, or was lost), and a mark left there would make VMEG's
    /// redelivery a duplicate of a delivery answered 503, acted on nowhere. So the mark is
    /// released, in the background (the 503 goes out now; a redelivery comes later), if it
    /// still holds this call's token: a mark another instance set (it acted on the
    /// delivery) stays. A release that fails is tried again after each of
    /// [`UNMARK_RETRY_PAUSES`] (a store slow enough for the record to time out is often slow
    /// for the release too, for a moment; removing a mark with this call's token is safe
    /// at any time). Should every attempt fail, the mark is pending (every record call asks
    /// for a lease) and runs out with it; only a store without leases leaves a confirmed one.
    fn unmark(&self, pipeline_key: String, token: MarkToken) {
        let store = self.inner.store.clone();
        let unmark = async move {
            let mut pauses = UNMARK_RETRY_PAUSES.iter();
            loop {
                match store.release(&pipeline_key, &token).await {
                    Ok(true) => {
                        tracing::debug!(pipeline_key = ?pipeline_key, "removed the mark a failed record had set");
                        return;
                    }
                    Ok(false) => {
                        tracing::debug!(pipeline_key = ?pipeline_key, "no mark of a failed record to remove (none, or another record call's, which stays)");
                        return;
                    }
                    Err(e) => match pauses.next() {
                        Some(pause) => {
                            tracing::debug!(error = %e, pipeline_key = ?pipeline_key, retry_in_ms = pause.as_millis(), "could not remove a mark the failed record may have set; trying again");
                            tokio::time::sleep(*pause).await;
                        }
                        None => {
                            tracing::warn!(error = %e, pipeline_key = ?pipeline_key, "could not remove a mark the failed record may have set; if it did, the redelivery is answered 503 until its lease runs out (a store without leases takes it for a duplicate)");
                            return;
                        }
                    },
                }
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn(unmark)),
            Err(_) => tracing::warn!(
                "not in a tokio runtime: a mark the failed record may have set stays"
            ),
        }
    }

    /// Confirms a [`Delivery::Claimed`] delivery once it was acted on: its pending mark
    /// becomes the ordinary dedupe mark (kept for the dedupe TTL), so redeliveries are
    /// [`Delivery::Duplicate`] on every hub sharing the store. After the lease ran out it
    /// is no error: [`Confirmation::Reclaimed`] (nobody had taken the key: marked now) or
    /// [`Confirmation::Taken`] (another receiver's mark holds it and stays; the delivery is
    /// acted on twice, never lost). `Err` only when the store cannot be reached: the mark
    /// then stays pending until its lease runs out.
    pub async fn confirm(&self, claim: &Claim) -> Result<Confirmation, Error> {
        self.inner
            .store
            .confirm(&claim.pipeline_key, &claim.token)
            .await
            .map_err(unavailable)
    }

    /// Releases a [`Delivery::Claimed`] delivery whose action failed, so that VMEG's next
    /// delivery of it is fresh on any hub sharing the store; answer that delivery 503.
    /// `Ok(true)` when the claim's mark was removed; `Ok(false)` when it no longer held it
    /// (the lease ran out and another receiver took the key: its mark stays).
    pub async fn release(&self, claim: &Claim) -> Result<bool, Error> {
        self.inner
            .store
            .release(&claim.pipeline_key, &claim.token)
            .await
            .map_err(unavailable)
    }

    /// Forgets that `pipeline_key` was delivered, whoever marked it, so that VMEG's next
    /// delivery of it is [`Delivery::Fresh`] again, here or on any hub sharing the store.
    /// A receiver that could not act on a fresh delivery should rather record it with
    /// [`CompletionHub::receive_pending`] and [`CompletionHub::release`] its claim (a mark
    /// another instance set meanwhile stays). Answer that delivery with a 5xx, not
    /// [`Delivery::http_status`], so that VMEG sends it again.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), voiceclone::Error> {
    /// use voiceclone::WebhookSecret;
    /// use voiceclone::webhook::CompletionHub;
    ///
    /// let hub = CompletionHub::in_memory(WebhookSecret::new("whsec"));
    /// hub.forget("pk-1").await?; // unknown keys are fine
    /// # Ok(())
    /// # }
    /// ```
    pub async fn forget(&self, pipeline_key: &str) -> Result<(), Error> {
        self.inner
            .store
            .forget(pipeline_key)
            .await
            .map_err(unavailable)
    }

    /// The delivery recorded for a task, if the store still keeps it (the latest, but a
    /// failure never in place of a success: see the module docs): as VMEG sent it, an echoed
    /// API key included (see [`receive`](Self::receive)).
    pub async fn completion(&self, task_id: &JobId) -> Result<Option<WebhookEvent>, Error> {
        let found = self
            .inner
            .store
            .by_task(task_id.as_str())
            .await
            .map_err(unavailable)?;
        Ok(found
            .filter(|e| e.task_id.as_deref() == Some(task_id.as_str()))
            .and_then(|e| self.reverify(&e)))
    }

    /// The delivery for the task an idempotency key created: how an `OutcomeUnknown` whose
    /// submit did land is resolved (the adapter puts the key in `extraData`, which VMEG
    /// echoes). `None` when no such delivery was seen (or it is no longer kept). As VMEG sent
    /// it, an echoed API key included: `Client::job_for_idempotency_key` removes the key.
    pub async fn job_for_idempotency_key(&self, key: &str) -> Result<Option<WebhookEvent>, Error> {
        self.job_for_idempotency_key_decoded_with(key, None).await
    }

    /// [`job_for_idempotency_key`](Self::job_for_idempotency_key), with the event decoded
    /// and scrubbed under `filter`: what a [`Client`](crate::Client) returns, its API key's
    /// text filter passed, so that a key the delivery echoes never reaches the caller.
    pub(crate) async fn job_for_idempotency_key_decoded_with(
        &self,
        key: &str,
        filter: Option<&client_glue::TextFilter>,
    ) -> Result<Option<WebhookEvent>, Error> {
        let found = self
            .inner
            .store
            .by_idempotency_key(key)
            .await
            .map_err(unavailable)?;
        Ok(found
            .filter(|e| e.idempotency_key.as_deref() == Some(key))
            .and_then(|e| self.reverify_decoded_with(&e, filter)))
    }

    /// Verifies an event read back from the store; a forged or damaged one is dropped with a
    /// warning. The ids it is filed and routed under (pipelineKey, task id, idempotency key)
    /// are not covered by the signature, so they must be the signed body's own: a genuine
    /// delivery filed under another task (a replay across tasks by whoever can write to a
    /// shared store) completes nothing.
    fn reverify(&self, stored: &StoredEvent) -> Option<WebhookEvent> {
        self.reverify_decoded_with(stored, None)
    }

    /// [`reverify`](Self::reverify), decoding the body under `filter` when given (and
    /// scrubbing the parts kept as they came, `extraData` and a raw `data`). The ids are
    /// checked on the body as it came: they are filed as they came, and an id echoing the API
    /// key reads scrubbed under the filter, so a genuine delivery would be dropped as
    /// mismatched, and reconcile would answer `None` for a task it proves (review 30 pass 2
    /// #1). What is returned is decoded under the filter: an id left unusable by it is gone.
    fn reverify_decoded_with(
        &self,
        stored: &StoredEvent,
        filter: Option<&client_glue::TextFilter>,
    ) -> Option<WebhookEvent> {
        let verify = || {
            self.inner.verifier.verify_stored(
                &stored.timestamp,
                &stored.signature,
                stored.body.as_bytes(),
            )
        };
        let event = match verify() {
            Ok(event)
                if event.pipeline_key == stored.pipeline_key
                    && task_id_of(&event) == stored.task_id
                    && event.idempotency_key() == stored.idempotency_key.as_deref() =>
            {
                event
            }
            // Whoever may write to the store may do so as often as they like: warned as
            // refused deliveries are (review 35-b #5).
            Ok(_) => {
                match FORGED_IN_STORE.warns() {
                    Some(n) => tracing::warn!(
                        ignored_so_far = n,
                        "an event in the completion store does not match the ids it is filed under; ignored"
                    ),
                    None => tracing::debug!(
                        "an event in the completion store does not match the ids it is filed under; ignored"
                    ),
                }
                return None;
            }
            Err(failure) => {
                match FORGED_IN_STORE.warns() {
                    Some(n) => {
                        tracing::warn!(%failure, ignored_so_far = n, "an event in the completion store does not verify; ignored")
                    }
                    None => {
                        tracing::debug!(%failure, "an event in the completion store does not verify; ignored")
                    }
                }
                return None;
            }
        };
        let Some(f) = filter else {
            return Some(event);
        };
        match crate::scrub::decoding_with(f, verify) {
            Ok(scrubbed) => Some(super::redact::scrub_event(scrubbed, f)),
            Err(failure) => {
                // The same bytes verified a moment ago; only what the filter made of a string
                // can fail here. The delivery is genuine, so it is kept, but naming no task
                // and holding no data: the event as it came may hold the key.
                tracing::warn!(%failure, "an event in the completion store does not decode under the API key's filter; kept without its data");
                Some(without_data(event, f))
            }
        }
    }

    /// Resolves with a verified event for `task_id`: the one stored (see the module docs
    /// for which is kept), or the next one fanned out. Fails when the store is, or becomes,
    /// unavailable (the caller polls).
    #[cfg(test)]
    pub(crate) async fn wait_for(&self, task_id: &JobId) -> Result<WebhookEvent, StoreError> {
        self.wait_for_decoded_with(task_id, None).await
    }

    /// [`wait_for`](Self::wait_for), with the event decoded under `filter`: a client passes
    /// its API key's text filter, so a key a delivery echoes (in `message`, a URL, an id)
    /// never reaches the job or error made from it, as with a polled answer.
    pub(crate) async fn wait_for_decoded_with(
        &self,
        task_id: &JobId,
        filter: Option<&client_glue::TextFilter>,
    ) -> Result<WebhookEvent, StoreError> {
        self.ensure_subscribed();
        let waiter = self.register(task_id.as_str());
        self.listen_decoded_with(task_id, filter, waiter).await
    }

    /// [`wait_for_decoded_with`](Self::wait_for_decoded_with) on the slot
    /// [`restored_since`](Self::restored_since) held: an event that reached it (what ended
    /// that call) is still there to be taken, should the store's read fail.
    pub(crate) async fn wait_again_decoded_with(
        &self,
        task_id: &JobId,
        filter: Option<&client_glue::TextFilter>,
        held: HeldSlot,
    ) -> Result<WebhookEvent, StoreError> {
        self.ensure_subscribed();
        self.listen_decoded_with(task_id, filter, held.0).await
    }

    async fn listen_decoded_with(
        &self,
        task_id: &JobId,
        filter: Option<&client_glue::TextFilter>,
        mut waiter: Waiter,
    ) -> Result<WebhookEvent, StoreError> {
        let mut restored_seen = waiter.rx.borrow().restored;
        loop {
            // Registered before looking, so an event published meanwhile reaches the slot.
            match self.noted(self.inner.store.by_task(task_id.as_str()).await) {
                Ok(Some(stored))
                    if stored.task_id.as_deref() == Some(task_id.as_str())
                        && let Some(event) = self.reverify_decoded_with(&stored, filter) =>
                {
                    return Ok(event);
                }
                Ok(_) => {}
                // A success in the slot needs no read (the store keeps no failure over it):
                // reads that keep failing while the subscription holds must not leave the
                // wait to polling with the task's result at hand (review 33-c #4). A
                // failure there does need the read (`kept_over`), so the error stands.
                Err(e) => {
                    let state = waiter.rx.borrow_and_update().clone();
                    return match state.event {
                        Some(stored) if stored.carries_result() => {
                            self.reverify_decoded_with(&stored, filter).ok_or(e)
                        }
                        _ => Err(e),
                    };
                }
            }
            loop {
                let state = waiter.rx.borrow_and_update().clone();
                if let Some(stored) = state.event {
                    if let Some(event) = self.reverify_decoded_with(&stored, filter) {
                        if stored.carries_result() {
                            return Ok(event);
                        }
                        // A store may keep and publish in two steps (the in-process one
                        // does): a success kept just before this failure can be published
                        // after it, too late for the slot. Ending on the failure would be
                        // `TaskFailed` for a finished, paid job: the store has the last word.
                        return Ok(self
                            .kept_over(task_id, &stored, filter)
                            .await?
                            .unwrap_or(event));
                    }
                    waiter.clear_event(&stored);
                    // The slot holds only the last event published: a forged one sent right
                    // after a genuine one took its place, and the genuine one is in the
                    // store alone. Waiting for the next change would leave it to the
                    // fallback poll. (The store read covers a restore seen meanwhile too.)
                    restored_seen = state.restored;
                    break;
                }
                if state.lost {
                    return Err(StoreError::new("the store's subscription was lost"));
                }
                if state.restored != restored_seen {
                    restored_seen = state.restored;
                    break; // look in the store again: events may have been missed
                }
                if waiter.rx.changed().await.is_err() {
                    return Err(StoreError::new("the hub was dropped"));
                }
            }
        }
    }

    /// The verified event the store keeps for `task_id` in place of `slot` (an event
    /// without its task's result, taken from a wait's slot), when it keeps one.
    async fn kept_over(
        &self,
        task_id: &JobId,
        slot: &StoredEvent,
        filter: Option<&client_glue::TextFilter>,
    ) -> Result<Option<WebhookEvent>, StoreError> {
        Ok(self
            .noted(self.inner.store.by_task(task_id.as_str()).await)?
            .filter(|kept| {
                kept.task_id.as_deref() == Some(task_id.as_str()) && !replaces(kept, slot)
            })
            .and_then(|kept| self.reverify_decoded_with(&kept, filter)))
    }

    /// `read`, a wait's store read, once the hub has logged a change it makes: a WARN when
    /// reads start failing, an INFO when they work again. Each wait then says it at `debug`
    /// only: a store down with 10,000 waits running is two lines, not 20,000 (review 33-c
    /// #5).
    fn noted<T>(&self, read: Result<T, StoreError>) -> Result<T, StoreError> {
        let note = {
            let mut last = self
                .inner
                .reads_failing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            read_note(&mut last, tokio::time::Instant::now(), read.is_ok())
        };
        // Logged with the lock released: a tracing layer may read the hub (review 30 pass 3
        // #2).
        match (note, &read) {
            (Some(false), _) => tracing::info!("the completion store can be read again"),
            (Some(true), Err(e)) => {
                tracing::warn!(error = %e, "the completion store cannot be read; waits poll on the normal schedule until it can");
            }
            _ => {}
        }
        read
    }

    /// How many times the store's subscription has come back so far; see
    /// [`restored_since`](Self::restored_since).
    pub(crate) fn restores(&self) -> u64 {
        let _slots = self.slots();
        self.inner.restores.load(Ordering::Relaxed)
    }

    /// Resolves once the store's subscription has come back since `seen` (a count from
    /// [`restores`](Self::restores)) and is not lost again, or once an event for `task_id`
    /// reaches the slot this holds: a wait that fell back to polling listens again then.
    /// The second covers a store whose subscription held while one of its reads failed (a
    /// command timing out in a stall shorter than the subscription's health check): it
    /// never says `Restored`, yet delivers the task's event. Holds a slot for `task_id`
    /// meanwhile: the task is still awaited here. An event already in the slot when this
    /// is called does not count (the caller has looked at it), so a store that keeps failing
    /// is not read in a loop. The slot stays held until the [`HeldSlot`] returned is dropped
    /// or handed to [`wait_again_decoded_with`](Self::wait_again_decoded_with): freed, it
    /// would take the delivered event with it.
    pub(crate) async fn restored_since(&self, task_id: &JobId, seen: u64) -> HeldSlot {
        self.ensure_subscribed();
        let mut waiter = self.register(task_id.as_str());
        let held = waiter.rx.borrow_and_update().event.clone();
        loop {
            // Registered first: a `Restored` or an event after this check wakes the slot.
            let back = {
                let _slots = self.slots();
                self.inner.restores.load(Ordering::Relaxed) != seen
                    && !self.inner.lost.load(Ordering::Relaxed)
            };
            let delivered = waiter
                .rx
                .borrow_and_update()
                .event
                .as_ref()
                .is_some_and(|e| held.as_ref().is_none_or(|h| !Arc::ptr_eq(e, h)));
            if back || delivered {
                return HeldSlot(waiter);
            }
            if waiter.rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    fn register(&self, task_id: &str) -> Waiter {
        let mut slots = self.slots();
        let rx = match slots.get(task_id) {
            Some(tx) => tx.subscribe(),
            None => {
                let (tx, rx) = watch::channel(Slot {
                    lost: self.inner.lost.load(Ordering::Relaxed),
                    ..Slot::default()
                });
                slots.insert(task_id.to_owned(), tx);
                rx
            }
        };
        Waiter {
            hub: Arc::downgrade(&self.inner),
            task_id: task_id.to_owned(),
            rx,
        }
    }
}

/// A task's slot kept by [`CompletionHub::restored_since`] for the wait's next look.
pub(crate) struct HeldSlot(Waiter);

/// A local wait's registration; dropping the last one for a task frees the slot.
struct Waiter {
    hub: Weak<Inner>,
    task_id: String,
    rx: watch::Receiver<Slot>,
}

impl Waiter {
    /// Forgets `refused`, an event that did not verify, unless another event has taken its
    /// place meanwhile (that one is still to be looked at).
    fn clear_event(&mut self, refused: &Arc<StoredEvent>) {
        if let Some(inner) = self.hub.upgrade()
            && let Some(tx) = lock(&inner).get(&self.task_id)
        {
            tx.send_if_modified(|s| match &s.event {
                Some(e) if Arc::ptr_eq(e, refused) => {
                    s.event = None;
                    true
                }
                _ => false,
            });
        }
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let Some(inner) = self.hub.upgrade() else {
            return;
        };
        let mut slots = lock(&inner);
        // Our receiver goes under the lock, before the count: left to the field's own drop
        // (after this body), two waits dropped at once on two threads could each count the
        // other and both keep the slot, which then stayed for the hub's lifetime.
        drop(std::mem::replace(
            &mut self.rx,
            watch::channel(Slot::default()).1,
        ));
        if slots
            .get(&self.task_id)
            .is_some_and(|tx| tx.receiver_count() == 0)
        {
            slots.remove(&self.task_id);
        }
    }
}

fn lock(inner: &Inner) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<Slot>>> {
    inner.slots.lock().unwrap_or_else(|p| p.into_inner())
}

fn dispatch(inner: &Inner, signal: StoreSignal) {
    // Logged after the lock: a tracing layer that reads the hub on a WARN (`waiting_tasks`,
    // a `Debug` of it) would lock the slots again and hang every wait (review 33-c #3). Once
    // per change, for the hub: each wait says it at `debug` only, so one Redis blip is not a
    // line per wait (review 33-c #5).
    match dispatch_locked(inner, signal) {
        Some(true) => tracing::warn!(
            "the completion store's subscription was lost; waits fall back to polling"
        ),
        Some(false) => tracing::info!(
            "the completion store's subscription is back; waits listen for their webhooks again"
        ),
        None => {}
    }
}

/// [`dispatch`]'s work under the slots lock, which logs nothing. `Some(lost)` when the
/// subscription was lost or came back (a change: a `Lost` said again, or the first
/// `Restored`, is none).
fn dispatch_locked(inner: &Inner, signal: StoreSignal) -> Option<bool> {
    let slots = lock(inner);
    match signal {
        StoreSignal::Event(event) => {
            if let Some(tx) = event.task_id.as_deref().and_then(|t| slots.get(t)) {
                // The store's rule: a failure never takes a success's place (a wait that has
                // not looked yet would end `TaskFailed` on a finished, paid job). A success
                // kept here that does not verify is refused by the wait, which then reads
                // the store, where a genuine failure was kept.
                tx.send_if_modified(|s| match &s.event {
                    Some(old) if !replaces(old, &event) => false,
                    _ => {
                        s.event = Some(event.clone());
                        true
                    }
                });
            }
            None
        }
        StoreSignal::Lost => {
            let was_lost = inner.lost.swap(true, Ordering::Relaxed);
            for tx in slots.values() {
                tx.send_modify(|s| s.lost = true);
            }
            (!was_lost).then_some(true)
        }
        StoreSignal::Restored => {
            let was_lost = inner.lost.swap(false, Ordering::Relaxed);
            inner.restores.fetch_add(1, Ordering::Relaxed);
            for tx in slots.values() {
                tx.send_modify(|s| {
                    s.restored = s.restored.wrapping_add(1);
                    s.lost = false;
                });
            }
            was_lost.then_some(false)
        }
    }
}

/// `event` with every text filtered and its `data` dropped: a genuine delivery that names no
/// task, for when its filtered decode fails. Taken apart field by field so that a field
/// added later must be decided on here: whatever is kept came unfiltered and may hold the key
/// (review 30 pass 3 (b) #1: `kind` was kept as it came).
fn without_data(event: WebhookEvent, filter: &client_glue::TextFilter) -> WebhookEvent {
    let WebhookEvent {
        kind,
        version,
        pipeline_key,
        code,
        message,
        extra_data,
        payload: _,
        sent_at,
    } = event;
    let kind = match kind {
        WebhookEventKind::Other(text) => WebhookEventKind::Other(filter(text)),
        known => known,
    };
    let event = WebhookEvent {
        kind,
        version: version.map(|v| filter(v)),
        pipeline_key: filter(pipeline_key),
        code,
        message: message.map(|m| filter(m)),
        extra_data,
        payload: WebhookPayload::Other(super::event::RawData(
            serde_json::value::RawValue::NULL.to_owned(),
        )),
        sent_at,
    };
    // `extra_data` is filtered key by key and value by value there.
    super::redact::scrub_event(event, filter)
}

/// The task id a delivery is about: the normalized job's, else `data.taskId` / `data.id`.
fn task_id_of(event: &WebhookEvent) -> Option<String> {
    event.task_id().map(|id| id.as_str().to_owned())
}

fn webhook_error(failure: WebhookFailure) -> Error {
    Error::new(ErrorKind::Webhook(failure))
        .with_provider(Provider::Vmeg)
        .with_operation("receive_webhook")
}

fn unavailable(e: StoreError) -> Error {
    webhook_error(WebhookFailure::StoreUnavailable {
        reason: e.reason().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::sleep::BoxFuture;
    use crate::webhook::store::Confirmation;
    use crate::webhook::store::Listener;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    const SECRET: &str = "hub-unit-secret";

    /// Review 33 pass 2 (hook) #1: store reads that keep failing are said at their start
    /// and again every `STILL_FAILING_EVERY`, not once for ever; a read that works ends the
    /// spell, and the next failure starts a new one (said at once).
    #[test]
    fn failing_store_reads_are_said_again_while_they_go_on() {
        let t0 = tokio::time::Instant::now();
        let mut last = None;
        assert_eq!(read_note(&mut last, t0, true), None);
        assert_eq!(read_note(&mut last, t0, false), Some(true));
        let soon = t0 + Duration::from_secs(1);
        assert_eq!(read_note(&mut last, soon, false), None);
        let later = t0 + STILL_FAILING_EVERY;
        assert_eq!(read_note(&mut last, later, false), Some(true));
        assert_eq!(read_note(&mut last, later, false), None);
        assert_eq!(read_note(&mut last, later, true), Some(false));
        assert_eq!(read_note(&mut last, later, true), None);
        assert_eq!(read_note(&mut last, later, false), Some(true));
    }

    /// A memory store that can be made to fail, and whose subscription signals are sent by
    /// hand.
    #[derive(Default)]
    struct Flaky {
        inner: MemoryStore,
        failing: AtomicBool,
        /// Records run, but their answer is lost (an error comes back instead).
        answer_lost: AtomicBool,
        /// Releases fail (Redis unreachable by then); the rest works.
        release_fails: AtomicBool,
        /// The next this many releases fail (Redis slow for a moment); the rest works.
        release_failures: AtomicUsize,
        /// Confirms fail; the rest works.
        confirm_fails: AtomicBool,
        /// How many releases were asked for (failed ones included).
        releases: AtomicUsize,
        /// How far ahead of the real clock the marks are read and set: a lease runs out
        /// without the test sleeping through it.
        ahead: Mutex<Duration>,
        listener: Mutex<Option<Listener>>,
    }

    impl fmt::Debug for Flaky {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Flaky")
        }
    }

    impl Flaky {
        fn signal(&self, s: StoreSignal) {
            let l = self.listener.lock().unwrap().clone().unwrap();
            l(s);
        }
        fn check(&self) -> Result<(), StoreError> {
            if self.failing.load(Ordering::SeqCst) {
                Err(StoreError::new("down"))
            } else {
                Ok(())
            }
        }
        /// Now, `advance`d on both clocks (time passing, no clock stepped).
        fn now(&self) -> crate::webhook::dedupe::Moment {
            let ahead = *self.ahead.lock().unwrap();
            crate::webhook::dedupe::Moment {
                mono: std::time::Instant::now() + ahead,
                wall: SystemTime::now() + ahead,
            }
        }
        fn advance(&self, by: Duration) {
            *self.ahead.lock().unwrap() += by;
        }
    }

    impl CompletionStore for Flaky {
        fn record<'a>(
            &'a self,
            event: &'a StoredEvent,
        ) -> BoxFuture<'a, Result<Recorded, StoreError>> {
            Box::pin(async move {
                self.check()?;
                self.inner.record(event).await
            })
        }
        fn record_marked<'a>(
            &'a self,
            event: &'a StoredEvent,
            token: &'a MarkToken,
            lease: Option<Duration>,
        ) -> BoxFuture<'a, Result<Recorded, StoreError>> {
            Box::pin(async move {
                self.check()?;
                let recorded = self.inner.record_at(event, token, lease, self.now());
                if self.answer_lost.load(Ordering::SeqCst) {
                    return Err(StoreError::new("the answer was lost"));
                }
                Ok(recorded)
            })
        }
        fn confirm<'a>(
            &'a self,
            pipeline_key: &'a str,
            token: &'a MarkToken,
        ) -> BoxFuture<'a, Result<Confirmation, StoreError>> {
            Box::pin(async move {
                self.check()?;
                if self.confirm_fails.load(Ordering::SeqCst) {
                    return Err(StoreError::new("the confirm timed out"));
                }
                Ok(self.inner.confirm_at(pipeline_key, token, self.now()))
            })
        }
        fn release<'a>(
            &'a self,
            pipeline_key: &'a str,
            token: &'a MarkToken,
        ) -> BoxFuture<'a, Result<bool, StoreError>> {
            Box::pin(async move {
                let released = match self.check() {
                    Ok(()) if self.release_fails.load(Ordering::SeqCst) => {
                        Err(StoreError::new("unreachable"))
                    }
                    Ok(())
                        if self
                            .release_failures
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok() =>
                    {
                        Err(StoreError::new("timed out"))
                    }
                    Ok(()) => self.inner.release(pipeline_key, token).await,
                    Err(e) => Err(e),
                };
                self.releases.fetch_add(1, Ordering::SeqCst);
                released
            })
        }
        fn by_task<'a>(
            &'a self,
            task_id: &'a str,
        ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
            Box::pin(async move {
                self.check()?;
                self.inner.by_task(task_id).await
            })
        }
        fn by_idempotency_key<'a>(
            &'a self,
            key: &'a str,
        ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
            Box::pin(async move {
                self.check()?;
                self.inner.by_idempotency_key(key).await
            })
        }
        fn forget<'a>(&'a self, pipeline_key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
            Box::pin(async move {
                self.check()?;
                self.inner.forget(pipeline_key).await
            })
        }
        fn subscribe(&self, listener: Listener) -> Subscription {
            *self.listener.lock().unwrap() = Some(listener.clone());
            self.inner.subscribe(listener)
        }
    }

    fn signed(task: &str, pk: &str) -> (String, String, String) {
        signed_at(task, pk, SystemTime::now())
    }

    fn signed_at(task: &str, pk: &str, at: SystemTime) -> (String, String, String) {
        signed_coded(task, pk, 200, at)
    }

    fn signed_coded(task: &str, pk: &str, code: i64, at: SystemTime) -> (String, String, String) {
        let ts = unix_millis(at).to_string();
        let body = format!(
            r#"{{"code":{code},"event":"openapi-clone-voice","pipelineKey":"{pk}","data":{{"taskId":"{task}","voiceId":"v-{task}"}}}}"#
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(ts.as_bytes());
        mac.update(body.as_bytes());
        let sig = hex::encode(mac.finalize().into_bytes());
        (ts, sig, body)
    }

    fn hub() -> (CompletionHub, Arc<Flaky>) {
        let store = Arc::new(Flaky::default());
        let hub = CompletionHub::with_store(Verifier::new(SECRET.into()), store.clone());
        (hub, store)
    }

    /// A verifier tolerance longer than the store remembers deliveries would take a
    /// delivery the store has forgotten as fresh when replayed: the hub shortens it.
    #[tokio::test]
    async fn the_tolerance_is_never_longer_than_the_store_remembers() {
        let hour = Duration::from_secs(3600);
        let store = MemoryStore::new().dedupe(10, Duration::from_secs(600));
        let hub = CompletionHub::with_store(
            Verifier::new(SECRET.into()).tolerance(hour),
            Arc::new(store),
        );
        assert_eq!(hub.verifier().max_age(), Duration::from_secs(300));
        // Half an hour old: within the tolerance asked for, past the store's memory.
        let (ts, sig, body) = signed_at("t9", "p9", SystemTime::now() - hour / 2);
        let d = hub.receive(&ts, &sig, body.as_bytes()).await;
        assert!(matches!(d, Delivery::Refused(_)), "{d:?}");
        // Seven minutes old: within half the store's 10 minutes either way would let a
        // delivery stamped 5 minutes ahead be replayed 10 minutes after it was seen.
        let (ts, sig, body) = signed_at("t9", "p9", SystemTime::now() - hour * 7 / 60);
        let d = hub.receive(&ts, &sig, body.as_bytes()).await;
        assert!(matches!(d, Delivery::Refused(_)), "{d:?}");
        let (ts, sig, body) = signed_at("t9", "p9", SystemTime::now() - hour / 20);
        let d = hub.receive(&ts, &sig, body.as_bytes()).await;
        assert!(matches!(d, Delivery::Fresh(_)), "{d:?}");
        // A store that does not say keeps the tolerance asked for.
        let hub = CompletionHub::with_store(
            Verifier::new(SECRET.into()).tolerance(hour),
            Arc::new(Flaky::default()),
        );
        assert_eq!(hub.verifier().max_age(), hour);
    }

    #[tokio::test]
    async fn an_unavailable_store_answers_503_and_marks_nothing() {
        let (hub, store) = hub();
        let (ts, sig, body) = signed("t1", "p1");
        store.failing.store(true, Ordering::SeqCst);
        let d = hub.receive(&ts, &sig, body.as_bytes()).await;
        assert_eq!(d.http_status(), 503);
        assert!(matches!(d, Delivery::Unavailable(_)));
        assert!(hub.wait_for(&JobId::new("t1")).await.is_err());
        store.failing.store(false, Ordering::SeqCst);
        // The redelivery is processed: nothing was marked.
        let d = hub.receive(&ts, &sig, body.as_bytes()).await;
        assert!(matches!(d, Delivery::Fresh(_)), "{d:?}");
        let e = hub.wait_for(&JobId::new("t1")).await.unwrap();
        assert_eq!(e.pipeline_key, "p1");
    }

    #[tokio::test]
    async fn a_forgotten_delivery_is_fresh_when_redelivered() {
        let (hub, store) = hub();
        let (ts, sig, body) = signed("t3", "p3");
        let d = hub.receive(&ts, &sig, body.as_bytes()).await;
        assert!(matches!(d, Delivery::Fresh(_)), "{d:?}");
        let d = hub.receive(&ts, &sig, body.as_bytes()).await;
        assert!(matches!(d, Delivery::Duplicate(_)), "{d:?}");
        hub.forget("p3").await.unwrap();
        let d = hub.receive(&ts, &sig, body.as_bytes()).await;
        assert!(matches!(d, Delivery::Fresh(_)), "{d:?}");
        // A store that cannot forget now: the caller is told, as an unavailable store.
        store.failing.store(true, Ordering::SeqCst);
        let err = hub.forget("p3").await.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::Webhook(WebhookFailure::StoreUnavailable { reason }) if reason == "down"
            ),
            "{err}"
        );
    }

    /// Waits (10 s at most) until the store was asked for `n` releases in all.
    async fn until_released(store: &Flaky, n: usize) {
        let end = std::time::Instant::now() + Duration::from_secs(10);
        while store.releases.load(Ordering::SeqCst) < n {
            assert!(std::time::Instant::now() < end, "no release within 10 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Hub B recorded a delivery (and acted on it); the same delivery's record on hub A
    /// lost its answer (A answers 503 and removes its mark in the background). A removes
    /// only a mark holding its own token: B's stays, the redelivery is a duplicate. Before
    /// tokens, A deleted B's mark and the redelivery was processed twice.
    #[tokio::test]
    async fn a_failed_record_removes_its_own_mark_never_another_hubs() {
        let (b, store) = hub();
        let a = CompletionHub::with_store(Verifier::new(SECRET.into()), store.clone());
        let (ts, sig, body) = signed("t5", "p5");
        assert!(matches!(
            b.receive(&ts, &sig, body.as_bytes()).await,
            Delivery::Fresh(_)
        ));
        store.answer_lost.store(true, Ordering::SeqCst);
        let d = a.receive(&ts, &sig, body.as_bytes()).await;
        assert!(matches!(d, Delivery::Unavailable(_)), "{d:?}");
        until_released(&store, 1).await;
        store.answer_lost.store(false, Ordering::SeqCst);
        let d = b.receive(&ts, &sig, body.as_bytes()).await;
        assert!(matches!(d, Delivery::Duplicate(_)), "{d:?}");
        // A mark A's lost record did set is removed: the redelivery is processed.
        let (ts, sig, body) = signed("t6", "p6");
        store.answer_lost.store(true, Ordering::SeqCst);
        let d = a
            .receive_pending(&ts, &sig, body.as_bytes(), Duration::from_secs(60))
            .await;
        assert!(matches!(d, Delivery::Unavailable(_)), "{d:?}");
        until_released(&store, 2).await;
        store.answer_lost.store(false, Ordering::SeqCst);
        let d = b.receive(&ts, &sig, body.as_bytes()).await;
        assert!(matches!(d, Delivery::Fresh(_)), "{d:?}");
    }

    /// A record that ran (it marked the delivery) but whose answer was lost, a Redis
    /// timeout say: `receive` answers 503 and releases the mark in the background, and that
    /// release fails too (Redis unreachable by then). The mark left behind is pending, under
    /// `RECEIVE_LEASE`: VMEG's redelivery is 503 while it runs and fresh once it has run
    /// out, on any hub. Before, `receive` marked confirmed at once, and every redelivery
    /// was a duplicate (200) for the 72 h dedupe TTL: the event was acted on nowhere.
    #[tokio::test]
    async fn a_lost_record_answer_whose_release_fails_too_leaves_the_redelivery_fresh_after_the_lease()
     {
        let (a, store) = hub();
        let b = CompletionHub::with_store(Verifier::new(SECRET.into()), store.clone());
        let (ts, sig, body) = signed("t10", "p10");
        store.answer_lost.store(true, Ordering::SeqCst);
        store.release_fails.store(true, Ordering::SeqCst);
        let d = a.receive(&ts, &sig, body.as_bytes()).await;
        assert!(matches!(d, Delivery::Unavailable(_)), "{d:?}");
        assert_eq!(d.http_status(), 503);
        // Every attempt fails (the first and each retry).
        until_released(&store, 1 + UNMARK_RETRY_PAUSES.len()).await;
        store.answer_lost.store(false, Ordering::SeqCst);
        store.release_fails.store(false, Ordering::SeqCst);
        // While the lease runs: 503 (never a 200 duplicate), on either hub.
        for hub in [&a, &b] {
            let d = hub.receive(&ts, &sig, body.as_bytes()).await;
            assert!(matches!(d, Delivery::InProgress(_)), "{d:?}");
        }
        // Once it has run out (VMEG redelivers with a fresh timestamp; this one is still
        // inside the replay window), the redelivery is processed, and then confirmed.
        let skip = CompletionHub::RECEIVE_LEASE + Duration::from_secs(1);
        store.advance(skip);
        let later = SystemTime::now() + skip;
        let d = b.receive_at(&ts, &sig, body.as_bytes(), later).await;
        assert!(matches!(d, Delivery::Fresh(_)), "{d:?}");
        store.advance(Duration::from_secs(3600));
        let later = later + Duration::from_secs(3600);
        let (ts, sig, body) = signed_at("t10", "p10", later);
        let d = a.receive_at(&ts, &sig, body.as_bytes(), later).await;
        assert!(matches!(d, Delivery::Duplicate(_)), "{d:?}");
    }

    /// A record whose answer was lost (a Redis slow for a moment: the record timed out)
    /// and whose first release fails too (the same slow Redis): the hub tries the release
    /// again, the mark goes, and VMEG's redelivery is fresh at once, not answered 503 until
    /// the lease runs out. Before, a failed release was not tried again: the redelivery was
    /// `InProgress` for the 60 s lease.
    #[tokio::test]
    async fn a_lost_record_answer_whose_first_release_fails_is_released_by_a_retry() {
        let (a, store) = hub();
        let b = CompletionHub::with_store(Verifier::new(SECRET.into()), store.clone());
        let (ts, sig, body) = signed("t13", "p13");
        store.answer_lost.store(true, Ordering::SeqCst);
        store.release_failures.store(1, Ordering::SeqCst);
        let d = a.receive(&ts, &sig, body.as_bytes()).await;
        assert!(matches!(d, Delivery::Unavailable(_)), "{d:?}");
        store.answer_lost.store(false, Ordering::SeqCst);
        until_released(&store, 2).await;
        let d = b.receive(&ts, &sig, body.as_bytes()).await;
        assert!(matches!(d, Delivery::Fresh(_)), "{d:?}");
    }

    /// `receive` recorded a delivery (pending) but its confirm failed: it is still `Fresh`
    /// (recorded and fanned out: a wait ends on it), and its mark runs out with the lease.
    #[tokio::test]
    async fn a_fresh_delivery_whose_confirm_fails_is_still_fresh_and_its_mark_runs_out() {
        let (hub, store) = hub();
        let (ts, sig, body) = signed("t11", "p11");
        store.confirm_fails.store(true, Ordering::SeqCst);
        let d = hub.receive(&ts, &sig, body.as_bytes()).await;
        assert!(matches!(d, Delivery::Fresh(_)), "{d:?}");
        assert_eq!(d.http_status(), 200);
        let e = hub.wait_for(&JobId::new("t11")).await.unwrap();
        assert_eq!(e.pipeline_key, "p11");
        store.confirm_fails.store(false, Ordering::SeqCst);
        let d = hub.receive(&ts, &sig, body.as_bytes()).await;
        assert!(matches!(d, Delivery::InProgress(_)), "{d:?}");
        let skip = CompletionHub::RECEIVE_LEASE + Duration::from_secs(1);
        store.advance(skip);
        let later = SystemTime::now() + skip;
        let d = hub.receive_at(&ts, &sig, body.as_bytes(), later).await;
        assert!(matches!(d, Delivery::Fresh(_)), "{d:?}");
        let d = hub.receive_at(&ts, &sig, body.as_bytes(), later).await;
        assert!(matches!(d, Delivery::Duplicate(_)), "{d:?}");
    }

    /// A third-party store written before leases (the trait's defaults for
    /// `record_marked`, `confirm` and `release`): `receive` is `Fresh`, then `Duplicate`,
    /// as before.
    #[tokio::test]
    async fn a_store_without_leases_still_receives_fresh_then_duplicate() {
        let hub = CompletionHub::with_store(
            Verifier::new(SECRET.into()),
            Arc::new(crate::webhook::store::PreLease::default()),
        );
        let (ts, sig, body) = signed("t12", "p12");
        let d = hub.receive(&ts, &sig, body.as_bytes()).await;
        assert!(matches!(d, Delivery::Fresh(_)), "{d:?}");
        let d = hub.receive(&ts, &sig, body.as_bytes()).await;
        assert!(matches!(d, Delivery::Duplicate(_)), "{d:?}");
    }

    /// A delivery claimed on hub A is answered 503 on hub B (same store) until A confirms
    /// it (then 200, a duplicate) or releases it (then fresh on B).
    #[tokio::test]
    async fn a_claimed_delivery_is_503_on_every_hub_until_confirmed_or_released() {
        let (a, store) = hub();
        let b = CompletionHub::with_store(Verifier::new(SECRET.into()), store.clone());
        let lease = Duration::from_secs(60);
        for (task, pk, confirm) in [("t7", "p7", true), ("t8", "p8", false)] {
            let (ts, sig, body) = signed(task, pk);
            let Delivery::Claimed(_, claim) =
                a.receive_pending(&ts, &sig, body.as_bytes(), lease).await
            else {
                panic!("not claimed");
            };
            assert_eq!(claim.pipeline_key(), pk);
            // The event is out already: a wait on B ends on it.
            let e = b.wait_for(&JobId::new(task)).await.unwrap();
            assert_eq!(e.pipeline_key, pk);
            for hub in [&a, &b] {
                let d = hub.receive(&ts, &sig, body.as_bytes()).await;
                assert!(matches!(d, Delivery::InProgress(_)), "{d:?}");
                assert_eq!(d.http_status(), 503);
            }
            if confirm {
                assert_eq!(a.confirm(&claim).await.unwrap(), Confirmation::Confirmed);
                let d = b.receive(&ts, &sig, body.as_bytes()).await;
                assert!(matches!(d, Delivery::Duplicate(_)), "{d:?}");
            } else {
                assert!(a.release(&claim).await.unwrap());
                let d = b.receive(&ts, &sig, body.as_bytes()).await;
                assert!(matches!(d, Delivery::Fresh(_)), "{d:?}");
                // A's claim is gone: releasing it again leaves B's mark alone.
                assert!(!a.release(&claim).await.unwrap());
                let d = b.receive(&ts, &sig, body.as_bytes()).await;
                assert!(matches!(d, Delivery::Duplicate(_)), "{d:?}");
            }
        }
    }

    #[tokio::test]
    async fn a_lost_subscription_ends_the_wait_so_that_it_polls() {
        let (hub, store) = hub();
        let id = JobId::new("t2");
        let h = hub.clone();
        let waiting = tokio::spawn(async move { h.wait_for(&id).await });
        while hub.waiting_tasks() == 0 {
            tokio::task::yield_now().await;
        }
        store.signal(StoreSignal::Lost);
        let r = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap();
        assert!(r.is_err());
        assert_eq!(hub.waiting_tasks(), 0);
    }

    #[tokio::test]
    async fn on_restore_a_wait_looks_in_the_store_again() {
        let (hub, store) = hub();
        let id = JobId::new("t3");
        let h = hub.clone();
        let waiting = tokio::spawn(async move { h.wait_for(&id).await });
        while hub.waiting_tasks() == 0 {
            tokio::task::yield_now().await;
        }
        tokio::task::yield_now().await;
        // Stored by another hub while this one's subscription was down: no Event signal.
        let (ts, sig, body) = signed("t3", "p3");
        let stored = StoredEvent {
            pipeline_key: "p3".into(),
            task_id: Some("t3".into()),
            idempotency_key: None,
            timestamp: ts,
            signature: sig,
            body,
            received_at_ms: 0,
        };
        store
            .inner
            .store(Arc::new(stored), std::time::Instant::now());
        store.signal(StoreSignal::Restored);
        let e = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(e.pipeline_key, "p3");
    }

    #[tokio::test]
    async fn a_forged_event_in_the_store_is_ignored() {
        let (hub, store) = hub();
        let (ts, _, body) = signed("t4", "p4");
        let forged = Arc::new(StoredEvent {
            pipeline_key: "p4".into(),
            task_id: Some("t4".into()),
            idempotency_key: Some("k4".into()),
            timestamp: ts,
            signature: "0".repeat(64),
            body,
            received_at_ms: 0,
        });
        store.inner.store(forged.clone(), std::time::Instant::now());
        assert!(hub.completion(&JobId::new("t4")).await.unwrap().is_none());
        assert!(hub.job_for_idempotency_key("k4").await.unwrap().is_none());
        // Published to a waiting hub: still ignored, the wait goes on.
        let h = hub.clone();
        let waiting = tokio::spawn(async move { h.wait_for(&JobId::new("t4")).await });
        while hub.waiting_tasks() == 0 {
            tokio::task::yield_now().await;
        }
        store.signal(StoreSignal::Event(forged));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        // A genuine delivery for the same task then ends it.
        let (ts, sig, body) = signed("t4", "p4-real");
        assert!(matches!(
            hub.receive(&ts, &sig, body.as_bytes()).await,
            Delivery::Fresh(_)
        ));
        let e = waiting.await.unwrap().unwrap();
        assert_eq!(e.pipeline_key, "p4-real");
    }

    /// A store whose subscription is a task in the runtime it was made in (as Redis's is),
    /// counting subscriptions.
    #[derive(Debug, Default)]
    struct TaskSubscribed {
        inner: MemoryStore,
        subscriptions: AtomicUsize,
    }

    impl CompletionStore for TaskSubscribed {
        fn record<'a>(
            &'a self,
            event: &'a StoredEvent,
        ) -> BoxFuture<'a, Result<Recorded, StoreError>> {
            self.inner.record(event)
        }
        fn by_task<'a>(
            &'a self,
            task_id: &'a str,
        ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
            self.inner.by_task(task_id)
        }
        fn by_idempotency_key<'a>(
            &'a self,
            key: &'a str,
        ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
            self.inner.by_idempotency_key(key)
        }
        fn subscribe(&self, listener: Listener) -> Subscription {
            self.subscriptions.fetch_add(1, Ordering::SeqCst);
            let memory = self.inner.subscribe(listener.clone());
            // Dies with its runtime, saying so, as the Redis subscriber does.
            struct LostOnDrop {
                listener: Listener,
                _memory: Subscription,
            }
            impl Drop for LostOnDrop {
                fn drop(&mut self) {
                    (self.listener)(StoreSignal::Lost);
                }
            }
            let guard = LostOnDrop {
                listener,
                _memory: memory,
            };
            let task = tokio::spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await
            });
            Subscription::of_task(task.abort_handle(), ())
        }
    }

    /// A hub first used in a runtime since shut down: its subscription's task died with
    /// it. The next use, in another runtime, subscribes again, and a wait there ends on its
    /// webhook (the ended subscription's `Lost` does not send it to polling). Before: the
    /// subscription was made once, and the hub never heard a delivery again.
    #[test]
    fn a_subscription_ended_with_its_runtime_is_made_again_on_the_next_use() {
        let store = Arc::new(TaskSubscribed::default());
        let hub = CompletionHub::with_store(Verifier::new(SECRET.into()), store.clone());
        let runtime = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        };
        runtime().block_on(async {
            let (ts, sig, body) = signed("t-first", "p-first");
            assert!(matches!(
                hub.receive(&ts, &sig, body.as_bytes()).await,
                Delivery::Fresh(_)
            ));
        });
        assert_eq!(store.subscriptions.load(Ordering::SeqCst), 1);
        assert!(
            hub.inner.lost.load(Ordering::SeqCst),
            "the dead task said Lost"
        );
        runtime().block_on(async {
            let h = hub.clone();
            let waiting = tokio::spawn(async move { h.wait_for(&JobId::new("t-next")).await });
            while hub.waiting_tasks() == 0 {
                assert!(
                    !waiting.is_finished(),
                    "the wait ended at once (sent to polling), without its webhook"
                );
                tokio::task::yield_now().await;
            }
            assert_eq!(store.subscriptions.load(Ordering::SeqCst), 2);
            let (ts, sig, body) = signed("t-next", "p-next");
            assert!(matches!(
                hub.receive(&ts, &sig, body.as_bytes()).await,
                Delivery::Fresh(_)
            ));
            let e = tokio::time::timeout(Duration::from_secs(5), waiting)
                .await
                .unwrap_or_else(|_| panic!("the wait did not end on its webhook within 5 s"))
                .unwrap()
                .unwrap();
            assert_eq!(e.pipeline_key, "p-next");
            // Still alive: not made again.
            let _ = hub.completion(&JobId::new("t-next")).await;
            let (ts, sig, body) = signed("t-other", "p-other");
            let _ = hub.receive(&ts, &sig, body.as_bytes()).await;
            assert_eq!(store.subscriptions.load(Ordering::SeqCst), 2);
        });
    }

    /// A wait that refuses a forged event forgets that one only: a genuine event that took
    /// its place in the slot meanwhile stays, to be looked at next. Before: any event in the
    /// slot was cleared, and the waits on the task missed the genuine one.
    #[test]
    fn clearing_a_refused_event_keeps_one_that_arrived_since() {
        let (hub, _) = hub();
        let mut waiter = hub.register("t5");
        let event = |pk: &str| {
            let (ts, sig, body) = signed("t5", pk);
            Arc::new(StoredEvent {
                pipeline_key: pk.into(),
                task_id: Some("t5".into()),
                idempotency_key: None,
                timestamp: ts,
                signature: sig,
                body,
                received_at_ms: 0,
            })
        };
        let (forged, genuine) = (event("p5-forged"), event("p5"));
        dispatch(&hub.inner, StoreSignal::Event(forged.clone()));
        dispatch(&hub.inner, StoreSignal::Event(genuine.clone()));
        waiter.clear_event(&forged);
        let kept = waiter.rx.borrow_and_update().event.clone();
        assert!(kept.is_some_and(|e| Arc::ptr_eq(&e, &genuine)));
        waiter.clear_event(&genuine);
        assert!(waiter.rx.borrow_and_update().event.is_none());
    }

    /// README: a failure published after a success for the same task never takes its place
    /// in a wait's slot (a wait that had not looked yet ended `TaskFailed` on a finished,
    /// paid job); a success takes the place of a failure, or of an earlier success.
    #[test]
    fn a_failure_never_replaces_a_success_in_a_waits_slot() {
        let (hub, _) = hub();
        let event = |task: &str, pk: &str, code: i64| {
            let (ts, sig, body) = signed_coded(task, pk, code, SystemTime::now());
            Arc::new(StoredEvent {
                pipeline_key: pk.into(),
                task_id: Some(task.into()),
                idempotency_key: None,
                timestamp: ts,
                signature: sig,
                body,
                received_at_ms: 0,
            })
        };
        let slot = |waiter: &mut Waiter| waiter.rx.borrow_and_update().event.clone().unwrap();
        let mut waiter = hub.register("t13");
        let (ok, late, again) = (
            event("t13", "p13-ok", 200),
            event("t13", "p13-late", 500),
            event("t13", "p13-again", 200),
        );
        dispatch(&hub.inner, StoreSignal::Event(ok.clone()));
        dispatch(&hub.inner, StoreSignal::Event(late));
        assert!(
            Arc::ptr_eq(&slot(&mut waiter), &ok),
            "the failure replaced the success"
        );
        dispatch(&hub.inner, StoreSignal::Event(again.clone()));
        assert!(Arc::ptr_eq(&slot(&mut waiter), &again));

        let mut waiter = hub.register("t14");
        let (failed, retried) = (event("t14", "p14-failed", 500), event("t14", "p14-ok", 200));
        dispatch(&hub.inner, StoreSignal::Event(failed));
        dispatch(&hub.inner, StoreSignal::Event(retried.clone()));
        assert!(Arc::ptr_eq(&slot(&mut waiter), &retried));
    }

    /// A forged event published right after the genuine one for the same task (before the
    /// wait ran) takes its place in the slot: the wait refuses it and reads the store again,
    /// where the genuine one is, and ends on it with no further signal. Before: the wait
    /// cleared the slot and waited for a change that never came (until the fallback poll).
    #[tokio::test]
    async fn a_forged_event_right_after_the_genuine_one_does_not_hide_it() {
        let (hub, store) = hub();
        let h = hub.clone();
        let waiting = tokio::spawn(async move { h.wait_for(&JobId::new("t6")).await });
        while hub.waiting_tasks() == 0 {
            tokio::task::yield_now().await;
        }
        // The wait has looked in the (empty) store and waits for its slot.
        tokio::task::yield_now().await;
        let (ts, sig, body) = signed("t6", "p6");
        let genuine = Arc::new(StoredEvent {
            pipeline_key: "p6".into(),
            task_id: Some("t6".into()),
            idempotency_key: None,
            timestamp: ts.clone(),
            signature: sig,
            body: body.clone(),
            received_at_ms: 0,
        });
        let forged = Arc::new(StoredEvent {
            signature: "0".repeat(64),
            ..(*genuine).clone()
        });
        store
            .inner
            .store(genuine.clone(), std::time::Instant::now());
        dispatch(&hub.inner, StoreSignal::Event(genuine));
        dispatch(&hub.inner, StoreSignal::Event(forged));
        let e = tokio::time::timeout(Duration::from_secs(1), waiting)
            .await
            .unwrap_or_else(|_| panic!("the genuine event was hidden by the forged one"))
            .unwrap()
            .unwrap();
        assert_eq!(e.pipeline_key, "p6");
    }

    /// Review 30 pass 2-b #2: the in-process store keeps a delivery and publishes it in two
    /// steps, so a success and a failure received at the same moment can be kept in that
    /// order (the success stays) and published in the other (the failure reaches the slot
    /// first, the success later, too late). The wait reads the store before it ends on a
    /// failure, and ends on the success. Here the interleaving is made by hand. Before: the
    /// wait returned the failure (`TaskFailed` for a finished, paid job) while the store
    /// kept the success.
    #[tokio::test]
    async fn a_failure_published_before_the_success_kept_before_it_ends_the_wait_on_the_success() {
        let (hub, store) = hub();
        let h = hub.clone();
        let waiting = tokio::spawn(async move { h.wait_for(&JobId::new("t20")).await });
        while hub.waiting_tasks() == 0 {
            tokio::task::yield_now().await;
        }
        tokio::task::yield_now().await;
        let event = |pk: &str, code: i64| {
            let (ts, sig, body) = signed_coded("t20", pk, code, SystemTime::now());
            Arc::new(StoredEvent {
                pipeline_key: pk.into(),
                task_id: Some("t20".into()),
                idempotency_key: None,
                timestamp: ts,
                signature: sig,
                body,
                received_at_ms: 0,
            })
        };
        let (ok, failed) = (event("p20-ok", 200), event("p20-failed", 500));
        let now = std::time::Instant::now();
        store.inner.store(ok.clone(), now);
        store.inner.store(failed.clone(), now);
        dispatch(&hub.inner, StoreSignal::Event(failed));
        let e = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap_or_else(|_| panic!("the wait did not end"))
            .unwrap()
            .unwrap();
        assert!(e.succeeded(), "{e:?}");
        assert_eq!(e.pipeline_key, "p20-ok");
    }

    /// Waits on one task dropped at the same moment on two threads (a wait's caller gave
    /// up, its twin ended): the slot goes with the last one, never left behind (a slot per
    /// task id would pile up for the hub's lifetime).
    #[test]
    fn waits_dropped_at_once_on_two_threads_leave_no_slot() {
        let (hub, _) = hub();
        for round in 0..20_000 {
            let task = format!("t{}", round % 7);
            let (a, b) = (hub.register(&task), hub.register(&task));
            let go = std::sync::Barrier::new(2);
            std::thread::scope(|s| {
                s.spawn(|| {
                    go.wait();
                    drop(a);
                });
                go.wait();
                drop(b);
            });
            assert_eq!(hub.waiting_tasks(), 0, "round {round}");
        }
    }
}
