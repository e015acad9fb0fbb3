//! Waiting with a completion hub: the task's webhook, with polling as the fallback.

use std::any::Any;
use std::future::Future;

use super::WaitPolicy;
use super::poll::{Waiting, poll_from, sleep_first};
use crate::error::{Error, ErrorKind};
use crate::model::{Job, JobId, JobKind, Provider, TaskStatus};
use crate::scrub::Scrubber;
use crate::sleep::Sleeper;
use crate::webhook::{CompletionHub, WebhookEvent, WebhookEventKind, WebhookPayload};

/// Waits for `job_id` to end: its verified webhook event as the hub keeps it (a failure
/// never in place of a success delivered before it; through `hub`, decoded
/// under the client's `filter`, so a key it echoes is scrubbed as in a polled answer), or
/// polling.
///
/// While the hub is healthy, polling runs on the slow fallback schedule
/// ([`WaitPolicy::webhook_fallback`]); when the hub's store is or becomes unreachable (the
/// hub warns once, each wait says it at `debug`), polling continues on the normal schedule,
/// within the same deadline and poll bound, while the wait listens again each time the
/// store's subscription comes back or the task's event reaches the hub. Returns the terminal job (the caller turns
/// `Failed` into `TaskFailed`).
pub(crate) async fn wait_with_hub<J, F, Fut>(
    hub: &CompletionHub,
    filter: &client_glue::TextFilter,
    scrubber: &Scrubber,
    policy: &WaitPolicy,
    sleeper: &dyn Sleeper,
    job_id: &JobId,
    mut poll: F,
) -> Result<J, Error>
where
    J: Job,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<J, Error>>,
{
    let waiting = Waiting::new(sleeper, scrubber, job_id, J::status);
    let shown = waiting.shown_id();
    let progress = &waiting.progress;
    let fallback = policy.webhook_fallback();
    // Read before the hub is first asked: a `Restored` after this brings a wait that fell
    // back to polling back to the hub.
    let restores = hub.restores();
    {
        let polled = async {
            let mut jitter = match policy.seed {
                Some(seed) => crate::jitter::Jitter::with_seed(seed.rotate_left(17)),
                None => crate::jitter::Jitter::new(),
            };
            sleep_first(&waiting, &fallback, fallback.interval(1, &mut jitter)).await;
            poll_from(&waiting, &fallback, &mut poll).await
        };
        let heard = async {
            let event = hub.wait_for_decoded_with(job_id, Some(filter)).await?;
            match job_from_event::<J>(event, job_id) {
                Some(outcome) => Ok::<_, crate::webhook::StoreError>(outcome),
                None => {
                    tracing::warn!(job_id = %shown, "the task's webhook carries no usable result; waiting for polling");
                    std::future::pending().await
                }
            }
        };
        tokio::select! {
            biased;
            heard = heard => match heard {
                Ok(outcome) => {
                    tracing::debug!(job_id = %shown, polls = progress.polls(), "completed by webhook");
                    return outcome;
                }
                // The hub says it once for every wait (review 33-c #5).
                Err(e) => {
                    tracing::debug!(job_id = %shown, error = %e, "the completion hub is unavailable; polling on the normal schedule until its store's subscription is back");
                }
            },
            polled = polled => return polled,
        }
    }
    // Polling goes on, on the normal schedule, to the wait's deadline whatever the hub does
    // (one schedule, never restarted: a subscription that comes and goes cannot hold the
    // polls back). Meanwhile, each time the subscription comes back, or the task's event
    // reaches the hub (a store read failed while the subscription held), the wait listens
    // again, the store read first: a subscription dropped by one oversized message on the
    // Redis channel would otherwise leave every wait then running to polling for good.
    let listen_again = async {
        let mut seen = restores;
        loop {
            let held = hub.restored_since(job_id, seen).await;
            seen = hub.restores();
            tracing::debug!(job_id = %shown, "the completion store's subscription is back, or the task's webhook arrived; listening for it again");
            match hub
                .wait_again_decoded_with(job_id, Some(filter), held)
                .await
            {
                Ok(event) => match job_from_event::<J>(event, job_id) {
                    Some(outcome) => return outcome,
                    None => {
                        tracing::warn!(job_id = %shown, "the task's webhook carries no usable result; waiting for polling");
                        return std::future::pending().await;
                    }
                },
                Err(e) => {
                    tracing::debug!(job_id = %shown, error = %e, "the completion hub is unavailable again; polling goes on");
                }
            }
        }
    };
    tokio::select! {
        biased;
        heard = listen_again => {
            tracing::debug!(job_id = %shown, polls = progress.polls(), "completed by webhook, after polling while the hub was unavailable");
            heard
        }
        polled = poll_from(&waiting, policy, &mut poll) => polled,
    }
}

/// The terminal job an event says the task reached; `None` when it cannot say (a success
/// whose `data` did not decode, or a speech success without audio: polling will tell).
fn job_from_event<J: Job>(event: WebhookEvent, job_id: &JobId) -> Option<Result<J, Error>> {
    let failed = || {
        let mut job = J::new(Provider::Vmeg, job_id.clone(), TaskStatus::Failed);
        job.set_error(crate::provider::vmeg::webhook::failure_reason(
            event.message.as_deref(),
            event.code,
        ));
        job
    };
    let (kind, job): (&str, Box<dyn Any>) = match event.payload {
        WebhookPayload::Clone(job) => ("clone", Box::new(job)),
        // A success without audio (no or empty `results`) cannot end a speech wait: the
        // task is paid for and polling returns its audio, where this would be an error.
        WebhookPayload::Speech(job)
            if job.status == TaskStatus::Succeeded
                && job.speech.as_ref().is_none_or(|s| s.audio_urls.is_empty()) =>
        {
            return None;
        }
        WebhookPayload::Speech(job) => ("speech", Box::new(job)),
        // Failure callbacks are not documented in shape: a non-200 code of this kind's
        // product is a failure whatever `data` holds.
        WebhookPayload::Other(_) if !event.succeeded() && event.kind == product_of(J::KIND) => {
            return Some(Ok(failed()));
        }
        // Another product's event for this id: the id names another kind of task (polling,
        // which reads the task's type, would say the same).
        WebhookPayload::Other(_)
            if !matches!(event.kind, WebhookEventKind::Other(_))
                && event.kind != product_of(J::KIND) =>
        {
            return Some(Err(wrong_kind(job_id, None, &event.kind, J::KIND)));
        }
        // An event this crate cannot read: polling will tell.
        WebhookPayload::Other(_) => return None,
    };
    match job.downcast::<J>() {
        Ok(job) => Some(Ok(*job)),
        Err(_) => Some(Err(wrong_kind(job_id, Some(kind), &event.kind, J::KIND))),
    }
}

/// The webhook `event` of `kind`'s product.
fn product_of(kind: JobKind) -> WebhookEventKind {
    match kind {
        JobKind::Clone => WebhookEventKind::CloneVoice,
        JobKind::Speech => WebhookEventKind::Tts,
    }
}

/// The id names a task of another kind (`is`, when the event says which) than `want`.
fn wrong_kind(job_id: &JobId, is: Option<&str>, event: &WebhookEventKind, want: JobKind) -> Error {
    let is = is.map_or_else(|| "another product's".to_owned(), |k| format!("a {k}"));
    Error::new(ErrorKind::InvalidInput {
        field: "job_id".into(),
        reason: format!(
            "task {} is {is} task (its webhook is {}), not a {want} task",
            job_id.as_str(),
            event.as_str(),
        ),
    })
    // Found in what the vendor sent (a verified delivery): the job exists.
    .with_phase(crate::error::Phase::Answered)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::model::CloneJob;
    use crate::sleep::{BoxFuture, RecordingSleeper};
    use crate::webhook::store::{Listener, Recorded, StoredEvent, Subscription};
    use crate::webhook::{CompletionStore, StoreError, Verifier};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    /// A store that is never reachable.
    #[derive(Debug)]
    struct Down;

    impl CompletionStore for Down {
        fn record<'a>(&'a self, _: &'a StoredEvent) -> BoxFuture<'a, Result<Recorded, StoreError>> {
            Box::pin(async { Err(StoreError::new("down")) })
        }
        fn by_task<'a>(
            &'a self,
            _: &'a str,
        ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
            Box::pin(async { Err(StoreError::new("down")) })
        }
        fn by_idempotency_key<'a>(
            &'a self,
            _: &'a str,
        ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
            Box::pin(async { Err(StoreError::new("down")) })
        }
        fn subscribe(&self, listener: Listener) -> Subscription {
            Subscription::new(listener)
        }
    }

    async fn wait(hub: &CompletionHub, statuses: Vec<TaskStatus>) -> (Vec<Duration>, usize) {
        let sleeper = RecordingSleeper::new();
        let queue = Mutex::new(statuses.into_iter());
        let count = Mutex::new(0usize);
        let policy = WaitPolicy::for_provider(Provider::Vmeg).with_jitter(0.0);
        let filter: client_glue::TextFilter = Arc::new(|t| t);
        let job: CloneJob = wait_with_hub(
            hub,
            &filter,
            crate::scrub::no_secret(),
            &policy,
            &sleeper,
            &JobId::new("t1"),
            || {
                *count.lock().unwrap() += 1;
                let s = queue.lock().unwrap().next().unwrap_or(TaskStatus::Running);
                async move { Ok(CloneJob::new(Provider::Vmeg, "t1", s)) }
            },
        )
        .await
        .unwrap();
        assert_eq!(job.status, TaskStatus::Succeeded);
        let n = *count.lock().unwrap();
        (sleeper.sleeps(), n)
    }

    #[tokio::test]
    async fn a_healthy_hub_without_events_polls_on_the_slow_schedule() {
        let hub = CompletionHub::in_memory("s".into());
        let seq = vec![TaskStatus::Running, TaskStatus::Succeeded];
        let (sleeps, polls) = wait(&hub, seq).await;
        assert_eq!(polls, 2);
        assert_eq!(
            sleeps,
            vec![Duration::from_secs(30); 2],
            "first poll 30 s in"
        );
    }

    /// The fallback schedule keeps the policy's jitter, both ways around the interval, first
    /// sleep included: waits started together do not poll in lockstep. Before: every sleep
    /// exactly 30 s whatever the jitter (the interval was both bounds of the clamp).
    #[tokio::test]
    async fn the_fallback_polls_are_jittered_around_the_interval() {
        let hub = CompletionHub::in_memory("s".into());
        let sleeper = RecordingSleeper::new();
        let queue = Mutex::new(
            (0..40)
                .map(|_| TaskStatus::Running)
                .chain([TaskStatus::Succeeded]),
        );
        let policy = WaitPolicy::for_provider(Provider::Vmeg)
            .with_jitter(0.5)
            .with_seed(5)
            .with_deadline(None)
            .with_max_polls(None);
        let filter: client_glue::TextFilter = Arc::new(|t| t);
        let job: CloneJob = wait_with_hub(
            &hub,
            &filter,
            crate::scrub::no_secret(),
            &policy,
            &sleeper,
            &JobId::new("t1"),
            || {
                let s = queue.lock().unwrap().next().unwrap_or(TaskStatus::Running);
                async move { Ok(CloneJob::new(Provider::Vmeg, "t1", s)) }
            },
        )
        .await
        .unwrap();
        assert_eq!(job.status, TaskStatus::Succeeded);
        let sleeps = sleeper.sleeps();
        assert_eq!(sleeps.len(), 41);
        let (lo, hi) = (Duration::from_secs(15), Duration::from_secs(45));
        assert!(sleeps.iter().all(|d| (lo..=hi).contains(d)), "{sleeps:?}");
        let thirty = Duration::from_secs(30);
        assert!(sleeps.iter().any(|d| *d < thirty), "{sleeps:?}");
        assert!(sleeps.iter().any(|d| *d > thirty), "{sleeps:?}");
        assert_ne!(sleeps[0], thirty, "the first sleep is jittered too");
    }

    /// A store whose subscription is lost as soon as it is made (a Redis whose pub/sub
    /// connection dropped): a wait that starts after that polls on the normal schedule, as
    /// the waits running at the time of the loss do. Before: the slow one (30 s).
    #[derive(Debug, Default)]
    struct LostFromStart(crate::webhook::MemoryStore);

    impl CompletionStore for LostFromStart {
        fn record<'a>(&'a self, e: &'a StoredEvent) -> BoxFuture<'a, Result<Recorded, StoreError>> {
            self.0.record(e)
        }
        fn by_task<'a>(
            &'a self,
            t: &'a str,
        ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
            self.0.by_task(t)
        }
        fn by_idempotency_key<'a>(
            &'a self,
            k: &'a str,
        ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
            self.0.by_idempotency_key(k)
        }
        fn subscribe(&self, listener: Listener) -> Subscription {
            listener(crate::webhook::store::StoreSignal::Lost);
            Subscription::new(listener)
        }
    }

    #[tokio::test]
    async fn a_wait_that_starts_after_the_subscription_was_lost_polls_on_the_normal_schedule() {
        let hub = CompletionHub::with_store(
            Verifier::new("s".into()),
            Arc::new(LostFromStart::default()),
        );
        for _ in 0..2 {
            let seq = vec![TaskStatus::Running, TaskStatus::Succeeded];
            let (sleeps, polls) = wait(&hub, seq).await;
            assert_eq!(polls, 2);
            let secs: Vec<f64> = sleeps.iter().map(Duration::as_secs_f64).collect();
            assert_eq!(secs, vec![2.0], "the VMEG schedule, first poll at once");
        }
    }

    /// A memory store whose subscription signals are sent by hand.
    #[derive(Default)]
    struct Signalled {
        inner: crate::webhook::MemoryStore,
        listener: Mutex<Option<Listener>>,
    }

    impl std::fmt::Debug for Signalled {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Signalled")
        }
    }

    impl Signalled {
        fn signal(&self, s: crate::webhook::store::StoreSignal) {
            let l = self.listener.lock().unwrap().clone().unwrap();
            l(s);
        }
    }

    impl CompletionStore for Signalled {
        fn record<'a>(&'a self, e: &'a StoredEvent) -> BoxFuture<'a, Result<Recorded, StoreError>> {
            self.inner.record(e)
        }
        fn by_task<'a>(
            &'a self,
            t: &'a str,
        ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
            self.inner.by_task(t)
        }
        fn by_idempotency_key<'a>(
            &'a self,
            k: &'a str,
        ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
            self.inner.by_idempotency_key(k)
        }
        fn subscribe(&self, listener: Listener) -> Subscription {
            let memory = self.inner.subscribe(listener.clone());
            *self.listener.lock().unwrap() = Some(listener);
            memory
        }
    }

    /// Review 30-b #2: a wait whose hub lost its store's subscription (one oversized PUBLISH
    /// on the Redis channel does it to every instance) polls on the normal schedule, and
    /// listens again once the subscription is back: the webhook recorded meanwhile ends it
    /// (the store is read again). Here no poll ever answers, so only the webhook can end the
    /// wait. Before: after the loss the wait only polled, for the rest of its wait.
    #[tokio::test]
    async fn a_wait_listens_again_once_a_lost_subscription_is_restored() {
        use crate::webhook::store::StoreSignal;
        const SECRET: &str = "whsec-restored";
        let store = Arc::new(Signalled::default());
        let hub = CompletionHub::with_store(Verifier::new(SECRET.into()), store.clone());
        let h = hub.clone();
        let waiting = tokio::spawn(async move {
            let sleeper = RecordingSleeper::new();
            let policy = WaitPolicy::for_provider(Provider::Vmeg)
                .with_deadline(None)
                .with_max_polls(None);
            let filter: client_glue::TextFilter = Arc::new(|t| t);
            wait_with_hub::<CloneJob, _, _>(
                &h,
                &filter,
                crate::scrub::no_secret(),
                &policy,
                &sleeper,
                &JobId::new("t-back"),
                std::future::pending,
            )
            .await
        });
        while hub.waiting_tasks() == 0 {
            tokio::task::yield_now().await;
        }
        store.signal(StoreSignal::Lost);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            .to_string();
        let body = r#"{"code":200,"event":"openapi-clone-voice","pipelineKey":"p-back","data":{"taskId":"t-back","voiceId":"v-back"}}"#;
        let sig = voiceclone_sim::sign(SECRET, &ts, body.as_bytes());
        assert!(matches!(
            hub.receive(&ts, &sig, body.as_bytes()).await,
            crate::webhook::Delivery::Fresh(_)
        ));
        store.signal(StoreSignal::Restored);
        let job = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap_or_else(|_| panic!("the wait did not listen again once restored"))
            .unwrap()
            .unwrap();
        assert_eq!(job.status, TaskStatus::Succeeded);
        assert_eq!(job.voice.unwrap().id.as_str(), "v-back");
    }

    /// A memory store whose next `failures` task reads fail (a Redis stall that times out
    /// a command while its subscription holds: no `Lost`, no `Restored`).
    #[derive(Debug, Default)]
    struct ReadsFail {
        inner: crate::webhook::MemoryStore,
        failures: std::sync::atomic::AtomicUsize,
        /// Task reads asked for, failed ones included.
        reads: std::sync::atomic::AtomicUsize,
    }

    impl CompletionStore for ReadsFail {
        fn record<'a>(&'a self, e: &'a StoredEvent) -> BoxFuture<'a, Result<Recorded, StoreError>> {
            self.inner.record(e)
        }
        fn by_task<'a>(
            &'a self,
            t: &'a str,
        ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
            use std::sync::atomic::Ordering;
            self.reads.fetch_add(1, Ordering::SeqCst);
            if self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return Box::pin(async { Err(StoreError::new("timed out")) });
            }
            self.inner.by_task(t)
        }
        fn by_idempotency_key<'a>(
            &'a self,
            k: &'a str,
        ) -> BoxFuture<'a, Result<Option<StoredEvent>, StoreError>> {
            self.inner.by_idempotency_key(k)
        }
        fn subscribe(&self, listener: Listener) -> Subscription {
            self.inner.subscribe(listener)
        }
    }

    /// Review 30 pass 2-b #3: a wait that fell back to polling because one store read
    /// failed (its subscription held: nothing is lost, nothing restored) listens again when
    /// its task's webhook reaches its slot, and ends on it. No poll ever answers here, so
    /// only the webhook can end the wait. Before: only a `Restored` brought it back, and it
    /// waited for polling whatever was delivered.
    #[tokio::test]
    async fn a_wait_whose_store_read_failed_ends_on_its_webhook_without_a_restore() {
        const SECRET: &str = "whsec-read-failed";
        let store = Arc::new(ReadsFail {
            failures: 1.into(),
            ..ReadsFail::default()
        });
        let hub = CompletionHub::with_store(Verifier::new(SECRET.into()), store.clone());
        let waiting = spawn_clone_wait(&hub, "t-read");
        // The failed read is spent: the wait is in its second phase.
        while store.failures.load(std::sync::atomic::Ordering::SeqCst) > 0
            || hub.waiting_tasks() == 0
        {
            tokio::task::yield_now().await;
        }
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        let job =
            deliver_clone_success(&hub, SECRET, waiting, ("t-read", "p-read", "v-read")).await;
        assert_eq!(
            job.voice.unwrap().id.as_str(),
            "v-read",
            "the wait ignored the webhook in its slot"
        );
    }

    /// A VMEG clone wait for `task` through `hub`, spawned: no deadline, no poll bound, and
    /// no poll that answers (only the hub can end it).
    fn spawn_clone_wait(
        hub: &CompletionHub,
        task: &'static str,
    ) -> tokio::task::JoinHandle<Result<CloneJob, Error>> {
        let h = hub.clone();
        tokio::spawn(async move {
            let sleeper = RecordingSleeper::new();
            let policy = WaitPolicy::for_provider(Provider::Vmeg)
                .with_deadline(None)
                .with_max_polls(None);
            let filter: client_glue::TextFilter = Arc::new(|t| t);
            wait_with_hub::<CloneJob, _, _>(
                &h,
                &filter,
                crate::scrub::no_secret(),
                &policy,
                &sleeper,
                &JobId::new(task),
                std::future::pending,
            )
            .await
        })
    }

    /// Delivers `(task, pipeline key, voice)`'s signed success to `hub` (a fresh delivery)
    /// and returns the succeeded job `waiting` ends with, within 5 s.
    async fn deliver_clone_success(
        hub: &CompletionHub,
        secret: &str,
        waiting: tokio::task::JoinHandle<Result<CloneJob, Error>>,
        (task, pipeline_key, voice): (&str, &str, &str),
    ) -> CloneJob {
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            .to_string();
        let body = serde_json::json!({"code": 200, "event": "openapi-clone-voice",
            "pipelineKey": pipeline_key, "data": {"taskId": task, "voiceId": voice}})
        .to_string();
        let sig = voiceclone_sim::sign(secret, &ts, body.as_bytes());
        assert!(matches!(
            hub.receive(&ts, &sig, body.as_bytes()).await,
            crate::webhook::Delivery::Fresh(_)
        ));
        let job = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap_or_else(|_| panic!("the wait for {task} ignored the webhook in its slot"))
            .unwrap()
            .unwrap();
        assert_eq!(job.status, TaskStatus::Succeeded);
        job
    }

    /// Review 33-c #4: the store's reads keep failing (its command connection cannot
    /// reconnect: a rotated password, `maxclients`) while its subscription holds, and the
    /// task's success reaches the wait's slot: the wait listens again, its store read fails,
    /// and it still ends on the success in its slot, which carries the result and needs no
    /// read. No poll ever answers. Before: the read's error returned before the slot was
    /// looked at, and the slot went with it; the wait was left to polling.
    #[tokio::test]
    async fn a_wait_whose_store_reads_keep_failing_still_ends_on_the_success_in_its_slot() {
        const SECRET: &str = "whsec-reads-keep-failing";
        let store = Arc::new(ReadsFail {
            failures: usize::MAX.into(),
            ..ReadsFail::default()
        });
        let hub = CompletionHub::with_store(Verifier::new(SECRET.into()), store.clone());
        let waiting = spawn_clone_wait(&hub, "t-failing");
        // The first read failed: the wait polls, and listens for its slot.
        while store.reads.load(std::sync::atomic::Ordering::SeqCst) == 0 || hub.waiting_tasks() == 0
        {
            tokio::task::yield_now().await;
        }
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        let job = deliver_clone_success(
            &hub,
            SECRET,
            waiting,
            ("t-failing", "p-failing", "v-failing"),
        )
        .await;
        assert_eq!(
            job.voice.unwrap().id.as_str(),
            "v-failing",
            "the wait dropped the success in its slot"
        );
        assert!(store.reads.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    }

    #[tokio::test]
    async fn an_unreachable_store_switches_to_the_normal_schedule_at_once() {
        let hub = CompletionHub::with_store(Verifier::new("s".into()), Arc::new(Down));
        let seq = vec![
            TaskStatus::Running,
            TaskStatus::Running,
            TaskStatus::Succeeded,
        ];
        let (sleeps, polls) = wait(&hub, seq).await;
        assert_eq!(polls, 3);
        let secs: Vec<f64> = sleeps.iter().map(Duration::as_secs_f64).collect();
        assert_eq!(
            secs,
            vec![2.0, 3.0],
            "the VMEG schedule, first poll at once"
        );
    }
}
