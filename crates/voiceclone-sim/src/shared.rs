//! [`Shared`]: what the accept loop, the vendor handlers and the background
//! tasks share (configuration, clock, state, counters, scripts, connections).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::config::SimConfig;
use crate::conns::ConnTable;
use crate::delivery::Delivery;
use crate::script::Scripts;
use crate::state::{Clock, Limits, State, Task};
use crate::stats::Recorder;

/// State shared by the accept loop, handlers and background tasks.
pub(crate) struct Shared {
    pub config: SimConfig,
    pub clock: Clock,
    pub state: Mutex<State>,
    /// Woken when the clock is moved or tasks are finished by hand (a deleted task
    /// wakes its own waiter only: [`crate::state::Task::deleted`]).
    pub clock_changed: Notify,
    /// Uploads being received (see `crate::bounds::MAX_CONCURRENT_UPLOADS`).
    pub upload_permits: tokio::sync::Semaphore,
    /// Bytes of JSON bodies being parsed, one permit a byte (see
    /// `crate::bounds::MAX_JSON_PARSE_BYTES` and `crate::wire::read_json`).
    pub json_budget: tokio::sync::Semaphore,
    /// Webhook attempts in flight (see `crate::bounds::MAX_CONCURRENT_WEBHOOKS`).
    pub webhook_slots: tokio::sync::Semaphore,
    /// Bytes of webhook bodies held by deliveries, one permit a byte: at most
    /// [`Shared::webhook_bytes_cap`] (`max_task_bytes`, capped as a semaphore needs).
    pub webhook_bytes: tokio::sync::Semaphore,
    webhook_bytes_cap: usize,
    pub conns: Mutex<ConnTable>,
    pub stats: Recorder,
    pub fault_rng: Mutex<fastrand::Rng>,
    pub task_rng: Mutex<fastrand::Rng>,
    /// The latest webhook attempts.
    pub deliveries: Mutex<DeliveryLog>,
    /// Woken each time a webhook attempt is recorded ([`Shared::wait_for_recorded`]).
    pub delivery_recorded: Notify,
    pub scripts: Mutex<Scripts>,
    /// VMEG material uploads and materials (lock before `state` when both are needed).
    pub materials: Mutex<crate::vmeg::materials::MaterialStore>,
    /// Webhook deliveries. `None` once the simulator stopped: taken (and its
    /// tasks aborted) by shutdown or drop, so that a request still in flight
    /// then cannot start a delivery nothing would ever stop.
    pub background: Mutex<Option<JoinSet<()>>>,
    /// The connection tasks (one per accepted connection). `None` once the
    /// simulator stopped: taken by shutdown, which aborts them and waits for them
    /// to end, or by drop, which aborts them.
    pub connections: Mutex<Option<JoinSet<()>>>,
    pub base_url: String,
    /// The webhook sender's HTTP client: one per simulator, so deliveries reuse connections
    /// (built on first use).
    pub webhook_http: std::sync::OnceLock<Option<reqwest::Client>>,
}

/// The webhook attempts kept for tests: the latest `max_records`, holding at
/// most `max_task_bytes` (the latest always kept).
#[derive(Debug, Default)]
pub(crate) struct DeliveryLog {
    /// Shared, so that a snapshot copies handles under the lock, and the bodies (up to
    /// `max_task_bytes` of them) after it: copied under it, every webhook attempt
    /// finishing meanwhile blocked a runtime worker on this lock.
    pub kept: VecDeque<std::sync::Arc<Delivery>>,
    /// [`delivery_bytes`] of `kept`.
    bytes: usize,
    /// Attempts recorded so far, kept or not.
    pub recorded: usize,
}

/// Bytes a kept attempt holds: its body (a copy per attempt, with the task's
/// `extraData` in it) and the strings beside it.
fn delivery_bytes(d: &Delivery) -> usize {
    [
        d.task_id.len(),
        d.event.len(),
        d.pipeline_key.len(),
        d.timestamp.len(),
        d.signature.len(),
        d.body.len(),
        d.error.as_ref().map_or(0, String::len),
    ]
    .into_iter()
    .fold(0, usize::saturating_add)
}

/// One registered reader of a task's terminal state ([`crate::state::Task::readers`],
/// counted when the task was created): released when dropped, so a sync
/// create cancelled by its client, or a delivery aborted, never leaves the
/// task unevictable by age.
#[derive(Debug)]
pub(crate) struct Reader {
    sh: std::sync::Arc<Shared>,
    id: String,
}

impl Reader {
    /// For a task created with `readers` counting this one.
    pub fn new(sh: std::sync::Arc<Shared>, id: String) -> Self {
        Self { sh, id }
    }
}

impl Reader {
    /// Release now, under the caller's lock of the state.
    pub fn release_locked(mut self, st: &mut State) {
        st.release_reader(&self.id);
        self.id.clear();
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        // Cleared: already released.
        if !self.id.is_empty() {
            lock(&self.sh.state).release_reader(&self.id);
        }
    }
}

/// Lock a mutex, ignoring poisoning (state stays usable after a panic).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Shared {
    pub fn new(config: SimConfig, base_url: String) -> Self {
        let seed = config.seed;
        let webhook_bytes_cap = config
            .max_task_bytes
            .clamp(1, tokio::sync::Semaphore::MAX_PERMITS)
            .min(u32::MAX as usize);
        Self {
            clock: Clock::new(),
            state: Mutex::new(State::new(Limits::from_config(&config))),
            clock_changed: Notify::new(),
            upload_permits: tokio::sync::Semaphore::new(crate::bounds::MAX_CONCURRENT_UPLOADS),
            json_budget: tokio::sync::Semaphore::new(crate::bounds::MAX_JSON_PARSE_BYTES),
            webhook_slots: tokio::sync::Semaphore::new(crate::bounds::MAX_CONCURRENT_WEBHOOKS),
            webhook_bytes: tokio::sync::Semaphore::new(webhook_bytes_cap),
            webhook_bytes_cap,
            conns: Mutex::new(ConnTable::default()),
            stats: Recorder::new(config.max_records, config.max_task_bytes),
            fault_rng: Mutex::new(fastrand::Rng::with_seed(seed)),
            task_rng: Mutex::new(fastrand::Rng::with_seed(seed ^ 0x5eed_7a5c_0000_0001)),
            deliveries: Mutex::new(DeliveryLog::default()),
            delivery_recorded: Notify::new(),
            scripts: Mutex::new(Scripts::default()),
            materials: Mutex::new(Default::default()),
            background: Mutex::new(Some(JoinSet::new())),
            connections: Mutex::new(Some(JoinSet::new())),
            base_url,
            webhook_http: std::sync::OnceLock::new(),
            config,
        }
    }

    /// Permits of [`Shared::webhook_bytes`] a webhook body takes for a task
    /// keeping `payload` bytes ([`crate::state::Task::payload_bytes`], an upper
    /// bound of what the body copies from it) plus room for the rest of the
    /// body; never more than the whole budget, so one body alone always fits.
    pub fn webhook_body_permits(&self, payload: usize) -> u32 {
        let n = payload
            .saturating_add(16 * 1024)
            .min(self.webhook_bytes_cap);
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Lock the state with completion side effects applied up to now.
    pub fn lock_state(&self) -> MutexGuard<'_, State> {
        self.lock_state_now().0
    }

    /// [`Shared::lock_state`], with the simulated time read under the lock (the time
    /// it was settled to). A handler dates what it records with this `now`: read before
    /// the lock, an [`crate::SimHandle::advance_clock`] made while it waited for the
    /// lock dated a key, an upload or a model check before the advance, and the next
    /// request, under the lock, then saw them a whole advance old.
    pub fn lock_state_now(&self) -> (MutexGuard<'_, State>, Duration) {
        let mut g = lock(&self.state);
        let now = self.clock.now();
        g.settle(now);
        (g, now)
    }

    /// Make every existing task terminal now, and wake what waits for one
    /// ([`crate::SimHandle::complete_all_now`]).
    pub fn complete_all_now(&self) {
        let (mut st, now) = self.lock_state_now();
        st.finish_all(now);
        drop(st);
        self.clock_changed.notify_waiters();
    }

    /// Wait until task `id` is terminal, then `read` it under the lock: a timer for its
    /// due time, woken early when the clock is moved, the tasks are finished by hand or
    /// this one is deleted. `None` if the task was deleted or evicted.
    pub async fn wait_terminal<T>(&self, id: &str, read: impl FnMut(&Task) -> T) -> Option<T> {
        self.wait_terminal_with(id, read, || {}).await
    }

    /// [`Shared::wait_terminal`], calling `between` after each look at the task and
    /// before the wait (a test's pause point).
    pub(crate) async fn wait_terminal_with<T>(
        &self,
        id: &str,
        mut read: impl FnMut(&Task) -> T,
        mut between: impl FnMut(),
    ) -> Option<T> {
        loop {
            // Registered before the look: a `complete_all_now` or a delete between the
            // look and the wait wakes only waiters already registered (`notify_waiters`
            // stores no permit), and a waiter registered after it slept to the old due time.
            let notified = self.clock_changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // Only the due time crosses the sleep: a copy of the task held by
            // every waiting sync create would cost its lines or texts once more each.
            // Its delete signal is a permit (`notify_one`), so a delete between the
            // look and the wait is not missed.
            let (due, deleted) = {
                let (st, now) = self.lock_state_now();
                let task = st.tasks.get(id)?;
                if task.phase(now).is_terminal() {
                    return Some(read(task));
                }
                (task.done_at(), task.deleted.clone())
            };
            between();
            tokio::select! {
                () = self.sleep_until_sim(due, notified) => {}
                () = deleted.notified() => {}
            }
        }
    }

    /// Draw whether a new task will fail.
    pub fn draw_task_failure(&self) -> bool {
        let rate = self.config.task_failure_rate;
        let u = lock(&self.task_rng).f64();
        u < rate
    }

    /// Sleep until simulated time `at`, or until `notified` (of
    /// [`Shared::clock_changed`], enabled before the caller read `at`) fires: the clock
    /// moved or tasks finished by hand (then the caller looks again). No polling: one
    /// timer per waiter.
    async fn sleep_until_sim(
        &self,
        at: Duration,
        notified: std::pin::Pin<&mut tokio::sync::futures::Notified<'_>>,
    ) {
        let now = self.clock.now();
        if at <= now {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(at.saturating_sub(now)) => {}
            () = notified => {}
        }
    }

    /// Record a webhook attempt, keeping the latest `max_records` and at most
    /// `max_task_bytes` of them, as `Stats::creates` does. Bounded by count
    /// alone, the records escaped the byte budget: each attempt copies a body
    /// that may carry 1 MiB of `extraData`, so a failing receiver with retries
    /// made them gigabytes well under the count.
    pub fn record_delivery(&self, d: Delivery) {
        let mut log = lock(&self.deliveries);
        log.recorded = log.recorded.saturating_add(1);
        log.bytes = log.bytes.saturating_add(delivery_bytes(&d));
        log.kept.push_back(std::sync::Arc::new(d));
        // By count, then by bytes; the latest is always kept.
        while log.kept.len() > self.config.max_records.max(1)
            || (log.bytes > self.config.max_task_bytes && log.kept.len() > 1)
        {
            match log.kept.pop_front() {
                Some(old) => log.bytes = log.bytes.saturating_sub(delivery_bytes(&old)),
                None => break,
            }
        }
        drop(log);
        self.delivery_recorded.notify_waiters();
    }

    /// Wait until at least `n` webhook attempts were recorded (counted, not the records
    /// kept: those stop growing at their bounds) or the real-time `deadline` passed
    /// (`None`: no deadline). Woken by each recorded attempt; one timer, no polling.
    pub async fn wait_for_recorded(&self, n: usize, deadline: Option<std::time::Instant>) {
        loop {
            // Registered before the look, so an attempt recorded in between wakes it.
            let notified = self.delivery_recorded.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if lock(&self.deliveries).recorded >= n {
                return;
            }
            match deadline {
                None => notified.await,
                Some(at) => {
                    let left = at.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        return;
                    }
                    // On the simulator's runtime, whose clock is real (its docs say never
                    // to pause it); the deadline is read again from the real clock.
                    tokio::select! {
                        () = tokio::time::sleep(left) => {}
                        () = notified => {}
                    }
                }
            }
        }
    }

    /// Run `fut` in the background; aborted on shutdown. `None` (and `fut`
    /// dropped) once the simulator stopped.
    pub fn spawn_background<F>(&self, fut: F) -> Option<tokio::task::AbortHandle>
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let mut guard = lock(&self.background);
        let set = guard.as_mut()?;
        while set.try_join_next().is_some() {}
        Some(set.spawn(fut))
    }

    /// Stop the background tasks for good: later [`Shared::spawn_background`]
    /// calls start nothing. The tasks are aborted; the set is returned so that
    /// an async caller can wait for them to end.
    pub fn stop_background(&self) -> Option<JoinSet<()>> {
        let mut set = lock(&self.background).take()?;
        set.abort_all();
        Some(set)
    }

    /// Stop serving for good: the connection tasks are aborted (and no new one
    /// is started); the set is returned so that an async caller can wait for
    /// them to end. Taking it also breaks the cycle between the set and the
    /// tasks, which hold this `Shared`.
    pub fn stop_connections(&self) -> Option<JoinSet<()>> {
        let mut set = lock(&self.connections).take()?;
        set.abort_all();
        Some(set)
    }
}

impl std::fmt::Debug for Shared {
    // Written by hand: derived, it printed every task's text, every upload's bytes
    // (megabytes) and the API key. The settings, redacted, and the base URL.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("base_url", &self.base_url)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::state::{Phase, TaskKind};

    /// A shared simulator state holding one task of an hour, `task_1`, awaited by one reader.
    pub(crate) fn with_slow_task() -> Arc<Shared> {
        let sh = Arc::new(Shared::new(SimConfig::default(), String::new()));
        let mut t = Task::new(
            "task_1".into(),
            TaskKind::VmegTts,
            sh.clock.now(),
            Duration::from_secs(3600),
        );
        t.readers = 1;
        sh.lock_state().insert_task(t).unwrap();
        sh
    }

    /// `complete_all_now` made between a waiter's look at the task (due in an hour) and its
    /// wait: the wake-up was sent before the waiter registered for it, so a sync create or a
    /// webhook delivery waited the whole hour. Now the waiter registers before it looks.
    #[tokio::test]
    async fn tasks_finished_by_hand_between_the_look_and_the_wait_wake_the_waiter() {
        let sh = with_slow_task();
        let mut looks = 0;
        let waited = tokio::time::timeout(
            Duration::from_secs(5),
            sh.wait_terminal_with(
                "task_1",
                |t| t.phase(sh.clock.now()),
                || {
                    looks += 1;
                    if looks == 1 {
                        sh.complete_all_now();
                    }
                },
            ),
        )
        .await;
        let phase = waited.expect("the waiter missed complete_all_now and slept on");
        assert_eq!(phase, Some(Phase::Completed));
    }

    /// The clock moved between the look and the wait (as `advance_clock` does) was already
    /// caught: the waiter reads the clock again once registered.
    #[tokio::test]
    async fn a_clock_moved_between_the_look_and_the_wait_wakes_the_waiter() {
        let sh = with_slow_task();
        let mut looks = 0;
        let waited = tokio::time::timeout(
            Duration::from_secs(5),
            sh.wait_terminal_with(
                "task_1",
                |t| t.phase(sh.clock.now()),
                || {
                    looks += 1;
                    if looks == 1 {
                        sh.clock.advance(Duration::from_secs(7200));
                        sh.clock_changed.notify_waiters();
                    }
                },
            ),
        )
        .await;
        assert_eq!(waited.unwrap(), Some(Phase::Completed));
    }

    /// The time a handler dates its records with is read under the state lock: an
    /// `advance_clock` made while it waited for the lock is in it.
    #[test]
    fn the_time_of_a_locked_state_is_read_under_the_lock() {
        let sh = Arc::new(Shared::new(SimConfig::default(), String::new()));
        let held = lock(&sh.state);
        let before = sh.clock.now();
        let sh2 = sh.clone();
        let waiter = std::thread::spawn(move || sh2.lock_state_now().1);
        // Let the waiter reach the lock (it reads the clock before it, unfixed).
        std::thread::sleep(Duration::from_millis(300));
        sh.clock.advance(Duration::from_secs(25 * 3600));
        drop(held);
        let now = waiter.join().unwrap();
        assert!(
            now >= before + Duration::from_secs(25 * 3600),
            "the time was read before the lock: {now:?}, the clock was moved past {before:?} + 25 h"
        );
    }
}
