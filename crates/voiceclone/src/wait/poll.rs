//! The one polling loop, for jobs of either kind.

use std::future::Future;

use futures_util::FutureExt;
use futures_util::future::Either;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use super::{LAST_POLL_GRACE, UNREADABLE_POLLS_TOLERATED, WaitPolicy};
use crate::error::{Error, ErrorKind, Phase};
use crate::model::{JobId, TaskStatus};
use crate::retry::{read_would_retry, with_sleep_budget};
use crate::scrub::{Scrubbed, Scrubber};
use crate::sleep::Sleeper;

/// How far a wait has got, shared by the phases of a wait that switches schedule (the
/// webhook fallback, then normal polling): the deadline, the poll bound and the last status
/// span both.
#[derive(Debug)]
pub(crate) struct Progress {
    /// tokio's clock, so that a paused test clock and the poll timeout agree.
    start: tokio::time::Instant,
    /// Nanoseconds slept, saturating; `u64::MAX` reads as `Duration::MAX`. (An atomic, not a
    /// `Mutex<Duration>`: every waiting job carries this.)
    slept: AtomicU64,
    polls: AtomicU32,
    /// `None` until a poll answers (read as `Unknown("not yet seen")`).
    last_status: Mutex<Option<TaskStatus>>,
}

impl Progress {
    pub(crate) fn new() -> Self {
        Self {
            start: tokio::time::Instant::now(),
            slept: AtomicU64::new(0),
            polls: AtomicU32::new(0),
            last_status: Mutex::new(None),
        }
    }

    /// Time spent: the clock, or the sleeps when a test sleeper returns at once.
    pub(crate) fn elapsed(&self) -> Duration {
        let slept = match self.slept.load(Ordering::Relaxed) {
            u64::MAX => Duration::MAX,
            nanos => Duration::from_nanos(nanos),
        };
        self.start.elapsed().max(slept)
    }

    #[cfg(feature = "webhook")]
    pub(crate) fn polls(&self) -> u32 {
        self.polls.load(Ordering::Relaxed)
    }

    /// When `policy`'s deadline falls on tokio's clock (`None`: no deadline, or one too far
    /// to name): what a sleep of this wait is cut at, whatever the sleeper does.
    pub(crate) fn real_deadline(&self, policy: &WaitPolicy) -> Option<tokio::time::Instant> {
        policy.deadline.and_then(|d| self.start.checked_add(d))
    }

    pub(crate) fn add_sleep(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        // Only this wait adds to it, one sleep at a time: no lost update to fear.
        let total = self.slept.load(Ordering::Relaxed).saturating_add(nanos);
        self.slept.store(total, Ordering::Relaxed);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a wait needs besides its schedule and its poll: borrowed from the caller, and how far
/// it has got. One struct, borrowed once, so that the futures of a wait (which every waiting
/// job carries while it sleeps) hold one pointer to it rather than a copy of each part.
pub(crate) struct Waiting<'a, J> {
    pub(crate) sleeper: &'a dyn Sleeper,
    /// The client's key scrubber: the wait's log lines print the id through it (a key pasted
    /// as the id is never logged).
    pub(crate) scrubber: &'a Scrubber,
    pub(crate) job_id: &'a JobId,
    pub(crate) status_of: fn(&J) -> &TaskStatus,
    pub(crate) progress: Progress,
}

impl<'a, J> Waiting<'a, J> {
    pub(crate) fn new(
        sleeper: &'a dyn Sleeper,
        scrubber: &'a Scrubber,
        job_id: &'a JobId,
        status_of: fn(&J) -> &TaskStatus,
    ) -> Self {
        Self {
            sleeper,
            scrubber,
            job_id,
            status_of,
            progress: Progress::new(),
        }
    }

    /// The id as the wait's log lines print it: scrubbed of the key.
    pub(crate) fn shown_id(&self) -> Scrubbed<'a, JobId> {
        Scrubbed(self.job_id, self.scrubber)
    }

    fn timed_out(&self, polls: u32) -> Error {
        Error::new(ErrorKind::WaitTimedOut {
            job_id: self.job_id.clone(),
            last_status: lock(&self.progress.last_status)
                .clone()
                .unwrap_or_else(|| TaskStatus::Unknown("not yet seen".into())),
            polls,
        })
    }
}

/// Polls until `status_of(job)` is terminal: [`poll_from`] with a fresh [`Waiting`] (what the
/// client does inline, to keep its wait's future small; the tests drive this). Returns the
/// terminal job (succeeded or failed; the caller turns a failure into `TaskFailed`).
///
/// With a deadline, each poll (queueing for an in-flight slot, the request, its retries) is
/// bounded by the time left, or [`LAST_POLL_GRACE`] when less is left: the wait returns
/// within `deadline + LAST_POLL_GRACE` whatever the server does. Without one, the retries
/// inside a poll sleep at most `max_interval` in all.
///
/// Not an `async fn`: an `async fn` keeps its arguments in its future beside everything made
/// from them; this future holds the one [`Waiting`] they are moved into.
#[cfg(test)]
pub(crate) fn poll_until_terminal<'a, J, F, Fut>(
    policy: &'a WaitPolicy,
    sleeper: &'a dyn Sleeper,
    job_id: &'a JobId,
    mut poll: F,
    status_of: fn(&J) -> &TaskStatus,
) -> impl Future<Output = Result<J, Error>> + 'a
where
    J: 'a,
    F: FnMut() -> Fut + 'a,
    Fut: Future<Output = Result<J, Error>> + 'a,
{
    let waiting = Waiting::new(sleeper, crate::scrub::no_secret(), job_id, status_of);
    async move { poll_from(&waiting, policy, &mut poll).await }
}

/// Sleeps `d` (cut at `policy`'s deadline) before a wait's first poll, counting it as the
/// wait's time.
#[cfg(feature = "webhook")]
pub(crate) async fn sleep_first<J>(w: &Waiting<'_, J>, policy: &WaitPolicy, d: Duration) {
    if d.is_zero() {
        return;
    }
    let first = match policy.deadline {
        Some(deadline) => d.min(deadline.saturating_sub(w.progress.elapsed())),
        None => d,
    };
    crate::sleep::within(w.sleeper, first, w.progress.real_deadline(policy)).await;
    w.progress.add_sleep(first);
}

/// Polls on `policy`'s schedule until `(w.status_of)(job)` is terminal, continuing from
/// `w.progress` (a wait that switches schedule calls this once per schedule). The deadline
/// bounds each poll as described on `poll_until_terminal`.
///
/// Not an `async fn`, which would keep a second copy of its arguments.
// Not an `async fn` on purpose (see above): clippy's rewrite would make the future larger.
#[allow(clippy::manual_async_fn)]
pub(crate) fn poll_from<'a, J, F, Fut>(
    w: &'a Waiting<'a, J>,
    policy: &'a WaitPolicy,
    poll: &'a mut F,
) -> impl Future<Output = Result<J, Error>> + 'a
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<J, Error>> + 'a,
{
    async move {
        let mut rng = match policy.seed {
            Some(seed) => crate::jitter::Jitter::with_seed(seed),
            None => crate::jitter::Jitter::new(),
        };
        let mut unreadable = SaidNothing::default();
        loop {
            let polls = w
                .progress
                .polls
                .fetch_add(1, Ordering::Relaxed)
                .saturating_add(1);
            // The poll, its answer and what is made from them live in this block only, which
            // ends before the sleep: a wait asleep between polls (what almost every wait is at
            // any moment) holds none of it.
            let (min_wait, elapsed) = {
                // Boxed: the poll's state (its deadline timer, its queueing for a slot, the
                // request) is on the heap only while it runs. No `async` block around it: one
                // would keep its own copy of what it borrows.
                let left = policy.deadline.map(|deadline| {
                    deadline
                        .saturating_sub(w.progress.elapsed())
                        .max(LAST_POLL_GRACE)
                });
                // Within a per-call budget (`CallOptions`) the grace does not apply: the call
                // ends within its timeout, the poll it cut short included (the poll runs
                // outside the call's deadline, below, so this is what bounds it).
                let left = match crate::client::time_left() {
                    Some(call_left) => Some(left.map_or(call_left, |l| l.min(call_left))),
                    None => left,
                };
                // A call out of time sends nothing: `timeout` polls its future before its
                // timer, so a poll given no time at all could still put its request on the
                // wire before being dropped.
                if left.is_some_and(|l| l.is_zero()) {
                    tracing::debug!(job_id = %w.shown_id(), polls, "no time left for a poll");
                    return Err(w
                        .timed_out(polls.saturating_sub(1))
                        .with_message("the call had no time left for a poll; none was sent"));
                }
                // Each poll with the client's own request timeouts, not a `CallOptions`
                // budget's time left (see `outside_call_deadline`): the wait's deadline,
                // already cut to that budget, bounds it here.
                let polled = crate::client::outside_call_deadline(poll());
                let step = Box::pin(match left {
                    Some(left) => {
                        Either::Left(tokio::time::timeout(left, with_sleep_budget(left, polled)))
                    }
                    None => Either::Right(with_sleep_budget(policy.max_interval, polled).map(Ok)),
                });
                let (min_wait, last_error) = match step.await {
                    Err(_) => {
                        let deadline = policy.deadline.unwrap_or_default();
                        let left = left.unwrap_or_default();
                        tracing::debug!(job_id = %w.shown_id(), polls, "the deadline passed during a poll");
                        return Err(w.timed_out(polls).with_message(format!(
                        "the last poll did not finish in time (deadline {deadline:?}; it was allowed {left:?})"
                    )));
                    }
                    Ok(Ok(job)) => {
                        unreadable = SaidNothing::default();
                        let status = (w.status_of)(&job);
                        tracing::debug!(job_id = %w.shown_id(), polls, status = %status, "polled");
                        if let Some(observer) = &policy.observer {
                            (observer.0)(status);
                        }
                        if status.is_terminal() {
                            return Ok(job);
                        }
                        let previous = lock(&w.progress.last_status).replace(status.clone());
                        // Once each time it appears, not on every poll: a wait without a poll
                        // bound (the CLI's `--timeout`) would log it every 10 s for as long.
                        if let TaskStatus::Unknown(raw) = &status {
                            if previous.as_ref() == Some(status) {
                                tracing::debug!(job_id = %w.shown_id(), status = %raw, "undocumented task status again");
                            } else {
                                tracing::warn!(job_id = %w.shown_id(), status = %raw, "undocumented task status; treating it as not finished");
                            }
                        }
                        (Duration::ZERO, None)
                    }
                    // A misrouted answer is not about this task, an unreadable one (or one
                    // with no task, or an undocumented code) says nothing final of it: the
                    // next poll may well read it, a few times in a row.
                    Ok(Err(e))
                        if read_would_retry(&e) || one_more_unreadable(&e, &mut unreadable) =>
                    {
                        // Any other answer between two such answers breaks their row
                        // (not the count of undocumented codes and task-less answers).
                        if !says_nothing_of_the_task(&e) {
                            unreadable.in_a_row = 0;
                        }
                        tracing::debug!(job_id = %w.shown_id(), polls, error = %e, "transient error while polling; will poll again");
                        (
                            e.retry_after().unwrap_or(Duration::ZERO),
                            Some(e.to_string()),
                        )
                    }
                    Ok(Err(e)) => return Err(e),
                };
                let elapsed = w.progress.elapsed();
                let out_of_polls = policy.max_polls.is_some_and(|m| polls >= m);
                let out_of_time = policy.deadline.is_some_and(|d| elapsed >= d);
                if out_of_polls || out_of_time {
                    let mut err = w.timed_out(polls);
                    if let Some(m) = last_error {
                        err = err.with_message(format!("last poll failed: {m}"));
                    }
                    return Err(err);
                }
                (min_wait, elapsed)
            };
            let mut next = policy.interval(polls, &mut rng);
            match policy.deadline {
                // A Retry-After is honoured up to the deadline; the last poll happens right at
                // the deadline rather than overshooting it.
                Some(deadline) => next = next.max(min_wait).min(deadline.saturating_sub(elapsed)),
                // Without a deadline, never longer than max_interval.
                None => next = next.max(min_wait.min(policy.max_interval)),
            }
            crate::sleep::within(w.sleeper, next, w.progress.real_deadline(policy)).await;
            w.progress.add_sleep(next);
        }
    }
}

/// An answer that says nothing final of the task asked: no envelope at all, one about
/// another task (a proxy's or cache's mix-up), or an answer the vendor may give a task it is
/// busy with ([`busy_or_without_task`]). A documented refusal (`InvalidRequest`,
/// `NotFound`, ...) is not one: asking again gets the same.
fn says_nothing_of_the_task(e: &Error) -> bool {
    e.is_unreadable_answer() || e.is_misrouted() || busy_or_without_task(e)
}

/// A success envelope holding no task (perhaps an id the vendor does not know yet), or a
/// business code the vendor does not document inside an HTTP 2xx (`Vendor`: JimmyAI
/// documents only its success code, and its busy and rate-limit answers are UNKNOWN). The
/// same unknown code behind an HTTP 401, 403 or 404 (a gateway's code for a revoked key,
/// VMEG's own "not found" code), or behind a 3xx, is the refusal its status says: asking
/// again gets the same.
fn busy_or_without_task(e: &Error) -> bool {
    e.is_answer_without_task()
        || (e.kind() == &ErrorKind::Vendor
            && e.phase() == Phase::Answered
            && e.http_status().is_some_and(|s| (200..300).contains(&s)))
}

/// The answers a wait polled past that said nothing of the task, to bound them.
#[derive(Debug, Default)]
struct SaidNothing {
    /// Such answers in a row, with no other poll outcome between them.
    in_a_row: u32,
    /// [`busy_or_without_task`] answers since the last answer about the task, whatever came
    /// between: a server error between them (a 502, a 429) says nothing of the task either,
    /// so an alternation of the two does not hold a wait until its deadline.
    since_task: u32,
}

/// Whether a poll's error is an answer that says nothing of the task (unreadable, or about
/// another task) the wait may still poll past, counting it in `count`:
/// [`UNREADABLE_POLLS_TOLERATED`] in a row, or of [`busy_or_without_task`] since the last
/// answer about the task, end the wait, so a server that always answers about another task
/// does not hold a wait until its deadline. Not generic, so the wait's two instances share
/// it.
fn one_more_unreadable(e: &Error, count: &mut SaidNothing) -> bool {
    if !says_nothing_of_the_task(e) {
        return false;
    }
    let in_a_row = count.in_a_row.saturating_add(1);
    let since_task = if busy_or_without_task(e) {
        count.since_task.saturating_add(1)
    } else {
        count.since_task
    };
    if in_a_row >= UNREADABLE_POLLS_TOLERATED || since_task >= UNREADABLE_POLLS_TOLERATED {
        return false;
    }
    *count = SaidNothing {
        in_a_row,
        since_task,
    };
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::model::Provider;
    use crate::sleep::RecordingSleeper;
    use std::sync::Mutex;

    fn policy() -> WaitPolicy {
        WaitPolicy::for_provider(Provider::Vmeg).with_jitter(0.0)
    }

    async fn run(
        statuses: Vec<Result<TaskStatus, Error>>,
        p: WaitPolicy,
    ) -> (Result<TaskStatus, Error>, usize, RecordingSleeper) {
        let sleeper = RecordingSleeper::new();
        let queue = Mutex::new(statuses.into_iter());
        let count = Mutex::new(0usize);
        let id = JobId::new("t1");
        let res = poll_until_terminal(
            &p,
            &sleeper,
            &id,
            || {
                *count.lock().unwrap() += 1;
                let next = queue
                    .lock()
                    .unwrap()
                    .next()
                    .unwrap_or(Ok(TaskStatus::Running));
                async move { next }
            },
            |s: &TaskStatus| s,
        )
        .await;
        let n = *count.lock().unwrap();
        (res, n, sleeper)
    }

    #[tokio::test]
    async fn waits_through_statuses_and_transient_errors() {
        let transient = Error::new(ErrorKind::Transport).with_phase(Phase::NotSent);
        let seq = vec![
            Ok(TaskStatus::Queued),
            Err(transient),
            Ok(TaskStatus::Unknown("warming".into())),
            Ok(TaskStatus::Running),
            Ok(TaskStatus::Succeeded),
        ];
        let (res, polls, sleeper) = run(seq, policy()).await;
        assert_eq!(res.unwrap(), TaskStatus::Succeeded);
        assert_eq!(polls, 5);
        let secs: Vec<f64> = sleeper.sleeps().iter().map(|d| d.as_secs_f64()).collect();
        assert_eq!(secs, vec![2.0, 3.0, 4.5, 6.75]);
    }

    /// An answer a poll could not read (a proxy's page sent with status 200).
    fn unreadable() -> Error {
        Error::new(ErrorKind::InvalidResponse)
            .with_http_status(200)
            .unreadable_answer()
    }

    #[tokio::test]
    async fn unreadable_answers_end_a_wait_only_when_they_come_too_many_in_a_row() {
        let n = UNREADABLE_POLLS_TOLERATED as usize;
        // One fewer than the bound in a row, twice, a readable answer between: read through.
        let mut seq = vec![Ok(TaskStatus::Queued)];
        seq.extend((1..n).map(|_| Err(unreadable())));
        seq.push(Ok(TaskStatus::Running));
        seq.extend((1..n).map(|_| Err(unreadable())));
        seq.push(Ok(TaskStatus::Succeeded));
        let expected_polls = seq.len();
        let (res, polls, _) = run(seq, policy()).await;
        assert_eq!(res.unwrap(), TaskStatus::Succeeded);
        assert_eq!(polls, expected_polls);
        // A transient error between them breaks the row too.
        let transient = || Error::new(ErrorKind::Server).with_http_status(503);
        let mut seq = vec![Ok(TaskStatus::Queued)];
        for _ in 0..n {
            seq.extend((1..n).map(|_| Err(unreadable())));
            seq.push(Err(transient()));
        }
        seq.push(Ok(TaskStatus::Succeeded));
        let (res, _, _) = run(seq, policy()).await;
        assert_eq!(res.unwrap(), TaskStatus::Succeeded);
        // The bound reached in a row: the wait ends with the unreadable answer's error.
        let mut seq = vec![Ok(TaskStatus::Queued)];
        seq.extend((0..n).map(|_| Err(unreadable())));
        seq.push(Ok(TaskStatus::Succeeded));
        let (res, polls, _) = run(seq, policy()).await;
        assert_eq!(res.unwrap_err().kind(), &ErrorKind::InvalidResponse);
        assert_eq!(polls, 1 + n);
        // An answer read but wrong (an envelope whose task contradicts itself): asking again
        // gets the same, so it ends the wait at once, as before.
        let wrong = Error::new(ErrorKind::InvalidResponse).with_http_status(200);
        let (res, polls, _) = run(vec![Err(wrong)], policy()).await;
        assert!(res.is_err());
        assert_eq!(polls, 1);
    }

    /// Review 29-d #3: an answer with a business code the vendor does not document (a busy
    /// answer of its own, HTTP 200), or a success envelope holding no task, says nothing
    /// final about the task: polled past as an unreadable one is, in the same row. A
    /// refusal (`InvalidRequest`, JimmyAI's 20002; an HTTP 404) still ends the wait at once.
    #[tokio::test]
    async fn undocumented_codes_and_task_less_answers_are_polled_past_a_few_in_a_row() {
        let n = UNREADABLE_POLLS_TOLERATED as usize;
        let vendor = || {
            Error::new(ErrorKind::Vendor)
                .with_http_status(200)
                .with_vendor_code(50000)
        };
        let no_task = || Error::new(ErrorKind::InvalidResponse).answer_without_task();
        for (what, answer) in [
            ("vendor", &vendor as &dyn Fn() -> Error),
            ("no task", &no_task),
        ] {
            let mut seq = vec![Ok(TaskStatus::Queued)];
            seq.extend((1..n).map(|_| Err(answer())));
            seq.push(Ok(TaskStatus::Succeeded));
            let expected = seq.len();
            let (res, polls, _) = run(seq, policy()).await;
            assert_eq!(res.unwrap(), TaskStatus::Succeeded, "{what}");
            assert_eq!(polls, expected, "{what}");
            // Counted with unreadable answers: mixed, the bound still ends the row.
            let mut seq = vec![Ok(TaskStatus::Queued)];
            seq.extend((1..n).map(|_| Err(unreadable())));
            seq.extend((0..2).map(|_| Err(answer())));
            let (res, polls, _) = run(seq, policy()).await;
            assert_eq!(res.unwrap_err().kind(), answer().kind(), "{what}");
            assert_eq!(polls, 1 + n, "{what}");
            let mut seq = vec![Ok(TaskStatus::Queued)];
            seq.extend((0..=n).map(|_| Err(answer())));
            let (res, polls, _) = run(seq, policy()).await;
            assert_eq!(res.unwrap_err().kind(), answer().kind(), "{what}");
            assert_eq!(polls, 1 + n, "{what}");
        }
        for refusal in [
            Error::new(ErrorKind::InvalidRequest)
                .with_http_status(200)
                .with_vendor_code(20002),
            Error::new(ErrorKind::NotFound).with_http_status(404),
        ] {
            let kind = refusal.kind().clone();
            let (res, polls, _) = run(vec![Err(refusal)], policy()).await;
            assert_eq!(res.unwrap_err().kind(), &kind);
            assert_eq!(polls, 1);
        }
    }

    /// Review 29 pass 2-c #4: an undocumented code is polled past only inside an HTTP 2xx (a
    /// busy answer of the vendor's own). Behind an HTTP 401, 403 or 404 (a gateway's code
    /// for a revoked key, VMEG's own "task not found" code) or a 3xx it ends the wait at
    /// once, as before 166fef5. Before: polled twice more.
    #[tokio::test]
    async fn an_undocumented_code_outside_a_2xx_ends_the_wait_at_once() {
        for status in [401, 403, 404, 302] {
            let refusal = Error::new(ErrorKind::Vendor)
                .with_http_status(status)
                .with_vendor_code(40401);
            let (res, polls, _) = run(vec![Ok(TaskStatus::Queued), Err(refusal)], policy()).await;
            assert_eq!(res.unwrap_err().kind(), &ErrorKind::Vendor, "{status}");
            assert_eq!(polls, 2, "{status}");
        }
    }

    /// Review 29 pass 2-c #4: server errors (5xx, 429) between undocumented codes or
    /// task-less answers do not reset their count; only an answer about the task does. A
    /// Vendor/503 alternation ends on the bound's Vendor answer, not at the deadline. An
    /// unreadable page between 503s is still read past (its row is broken by them).
    #[tokio::test]
    async fn server_errors_between_undocumented_codes_do_not_reset_their_count() {
        let n = UNREADABLE_POLLS_TOLERATED as usize;
        let vendor = || {
            Error::new(ErrorKind::Vendor)
                .with_http_status(200)
                .with_vendor_code(50000)
        };
        let no_task = || Error::new(ErrorKind::InvalidResponse).answer_without_task();
        let busy = || Error::new(ErrorKind::Server).with_http_status(503);
        let limited = || Error::new(ErrorKind::RateLimited).with_http_status(429);
        for (what, answer) in [
            ("vendor", &vendor as &dyn Fn() -> Error),
            ("no task", &no_task),
        ] {
            let mut seq = vec![Ok(TaskStatus::Queued)];
            for i in 0..4 * n {
                seq.push(Err(answer()));
                seq.push(Err(if i % 2 == 0 { busy() } else { limited() }));
            }
            let p = policy().with_max_polls(Some(10 * n as u32));
            let (res, polls, _) = run(seq, p).await;
            assert_eq!(res.unwrap_err().kind(), answer().kind(), "{what}");
            assert_eq!(polls, 1 + 2 * (n - 1) + 1, "{what}");
            // An answer about the task between them starts the count again.
            let mut seq = vec![Ok(TaskStatus::Queued)];
            for _ in 0..2 {
                for _ in 1..n {
                    seq.push(Err(answer()));
                    seq.push(Err(busy()));
                }
                seq.push(Ok(TaskStatus::Running));
            }
            seq.push(Ok(TaskStatus::Succeeded));
            let (res, _, _) = run(seq, policy()).await;
            assert_eq!(res.unwrap(), TaskStatus::Succeeded, "{what}");
        }
    }

    #[tokio::test]
    async fn failed_is_terminal_and_fatal_errors_stop() {
        let (res, polls, _) = run(
            vec![Ok(TaskStatus::Queued), Ok(TaskStatus::Failed)],
            policy(),
        )
        .await;
        assert_eq!(res.unwrap(), TaskStatus::Failed);
        assert_eq!(polls, 2);
        let (res, polls, _) = run(
            vec![Err(Error::new(ErrorKind::NotFound).with_http_status(404))],
            policy(),
        )
        .await;
        assert_eq!(res.unwrap_err().kind(), &ErrorKind::NotFound);
        assert_eq!(polls, 1);
    }

    #[tokio::test]
    async fn times_out_with_the_last_status() {
        let p = policy().with_deadline(Some(Duration::from_secs(30)));
        let (res, polls, sleeper) = run(vec![Ok(TaskStatus::Queued)], p.clone()).await;
        let err = res.unwrap_err();
        match err.kind() {
            ErrorKind::WaitTimedOut {
                last_status,
                polls: n,
                job_id,
            } => {
                assert_eq!(last_status, &TaskStatus::Running);
                assert_eq!(*n as usize, polls);
                assert_eq!(job_id.as_str(), "t1");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(sleeper.total(), Duration::from_secs(30));
        assert_eq!(polls as u32, p.polls_until(Duration::MAX));
        let (res, polls, _) = run(vec![], policy().with_max_polls(Some(4))).await;
        assert!(matches!(
            res.unwrap_err().kind(),
            ErrorKind::WaitTimedOut { polls: 4, .. }
        ));
        assert_eq!(polls, 4);
    }

    fn timed_out_parts(err: &Error) -> (TaskStatus, u32) {
        match err.kind() {
            ErrorKind::WaitTimedOut {
                last_status, polls, ..
            } => (last_status.clone(), *polls),
            other => panic!("expected WaitTimedOut, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_poll_that_never_ends_is_cut_at_the_deadline() {
        // The first poll answers, the second hangs for an hour (a server that never answers,
        // a request queued behind busy in-flight slots, retries inside the poll).
        let deadline = Duration::from_secs(5);
        let p = policy().with_deadline(Some(deadline));
        let started = tokio::time::Instant::now();
        let count = Mutex::new(0u32);
        let res = poll_until_terminal(
            &p,
            &crate::sleep::TokioSleeper,
            &JobId::new("t1"),
            || {
                let n = {
                    let mut c = count.lock().unwrap();
                    *c += 1;
                    *c
                };
                async move {
                    if n > 1 {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    Ok::<_, Error>(TaskStatus::Queued)
                }
            },
            |s: &TaskStatus| s,
        )
        .await;
        let took = started.elapsed();
        let err = res.unwrap_err();
        assert_eq!(timed_out_parts(&err), (TaskStatus::Queued, 2));
        assert!(
            err.message().unwrap_or_default().contains("did not finish"),
            "{err}"
        );
        assert_eq!(
            took, deadline,
            "ends at the deadline exactly (paused clock)"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_deadline_still_allows_one_short_poll() {
        let p = policy().with_deadline(Some(Duration::ZERO));
        let started = tokio::time::Instant::now();
        let res = poll_until_terminal(
            &p,
            &crate::sleep::TokioSleeper,
            &JobId::new("t1"),
            || async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                Ok::<_, Error>(TaskStatus::Succeeded)
            },
            |s: &TaskStatus| s,
        )
        .await;
        assert_eq!(res.unwrap(), TaskStatus::Succeeded);
        assert!(started.elapsed() <= LAST_POLL_GRACE);
    }

    #[tokio::test]
    async fn retry_after_never_sleeps_past_the_deadline_or_max_interval() {
        let limited = || {
            Err(Error::new(ErrorKind::RateLimited)
                .with_http_status(429)
                .with_retry_after(Some(Duration::from_secs(3600))))
        };
        // No deadline: each sleep is at most max_interval.
        let p = policy()
            .with_deadline(None)
            .with_max_interval(Duration::from_secs(1))
            .with_max_polls(Some(3));
        let (res, polls, sleeper) = run(vec![limited(), limited(), limited()], p).await;
        assert!(matches!(
            res.unwrap_err().kind(),
            ErrorKind::WaitTimedOut { .. }
        ));
        assert_eq!(polls, 3);
        assert_eq!(sleeper.sleeps(), vec![Duration::from_secs(1); 2]);
        // A deadline: the Retry-After is honoured up to it, not past it.
        let p = policy().with_deadline(Some(Duration::from_secs(2)));
        let (res, _, sleeper) = run(vec![limited(), limited(), limited()], p).await;
        assert!(matches!(
            res.unwrap_err().kind(),
            ErrorKind::WaitTimedOut { .. }
        ));
        assert_eq!(sleeper.total(), Duration::from_secs(2));
    }

    #[test]
    fn the_poll_loop_with_any_knobs_never_panics_on_a_paused_clock() {
        use proptest::prelude::*;
        let durations = prop_oneof![
            Just(Duration::ZERO),
            Just(Duration::MAX),
            Just(Duration::from_secs(u64::MAX)),
            (0u64..10_000).prop_map(Duration::from_millis),
            any::<u64>().prop_map(Duration::from_nanos),
            any::<u64>().prop_map(Duration::from_secs),
        ];
        let floats = prop_oneof![
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-1.0),
            Just(f64::MAX),
            0.0..3.0f64,
            any::<f64>(),
        ];
        let strategy = (
            durations.clone(),
            floats.clone(),
            durations.clone(),
            floats,
            proptest::option::of(durations),
            0u32..6,
            any::<u64>(),
            any::<bool>(),
        );
        let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
            cases: 64,
            failure_persistence: None,
            ..Default::default()
        });
        runner
            .run(
                &strategy,
                |(first, growth, max, jitter, deadline, polls, seed, recorded)| {
                    let mut p = policy();
                    p.first_interval = first;
                    p.growth = growth;
                    p.max_interval = max;
                    p.jitter = jitter;
                    p.deadline = deadline;
                    p.max_polls = Some(polls);
                    p.seed = Some(seed);
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_time()
                        .start_paused(true)
                        .build()
                        .unwrap();
                    let recording = RecordingSleeper::new();
                    let tokio_sleeper = crate::sleep::TokioSleeper;
                    let sleeper: &dyn Sleeper = if recorded { &recording } else { &tokio_sleeper };
                    let res = rt.block_on(poll_until_terminal(
                        &p,
                        sleeper,
                        &JobId::new("t1"),
                        || async { Ok::<_, Error>(TaskStatus::Running) },
                        |s: &TaskStatus| s,
                    ));
                    let err = res.unwrap_err();
                    prop_assert!(
                        matches!(err.kind(), ErrorKind::WaitTimedOut { .. }),
                        "{err}"
                    );
                    Ok(())
                },
            )
            .unwrap();
    }
}
