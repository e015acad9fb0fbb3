//! The retry driver: one logical call, attempted until it succeeds or the table says stop,
//! sleeping between attempts within what an enclosing wait has left.

use std::future::Future;
use std::time::{Duration, SystemTime};

use super::{Decision, OperationKind, RetryPolicy, decide};
use crate::error::{Error, ErrorKind, Phase};
use crate::model::Provider;
#[cfg(any(feature = "upload", feature = "download", test))]
use crate::sleep::Sleeper;

tokio::task_local! {
    /// Set by a wait around each poll: how long the retries inside it may sleep in all.
    static SLEEP_BUDGET: SleepBudget;
}

#[derive(Clone, Copy, Debug)]
struct SleepBudget {
    started: tokio::time::Instant,
    limit: Duration,
}

/// Runs `fut` (one poll of a wait) so that its retries sleep at most `limit` in all, counted
/// from now; a retry that would sleep longer returns its error instead. (Not an `async fn`,
/// which would hold `fut` twice: before and inside the scope.)
pub(crate) fn with_sleep_budget<F: Future>(
    limit: Duration,
    fut: F,
) -> impl Future<Output = F::Output> {
    let budget = SleepBudget {
        started: tokio::time::Instant::now(),
        limit,
    };
    SLEEP_BUDGET.scope(budget, fut)
}

/// Whether a failed attempt of a write could have been processed by the server anyway.
/// Every server fault that does not say nothing was done counts: VMEG's own advice pairs an
/// "unclear 5xx" with a retry under the same key (api-facts A4), so the fault may have come
/// after the task was made.
fn maybe_processed(err: &Error) -> bool {
    if err.claims_success() {
        return true;
    }
    match err.kind() {
        ErrorKind::Timeout | ErrorKind::Transport => err.phase() != Phase::NotSent,
        ErrorKind::Server => super::server_error_may_have_landed(err),
        ErrorKind::InvalidResponse => {
            err.phase() == Phase::Sent
                || err
                    .http_status()
                    .is_some_and(super::unread_answer_may_have_landed)
        }
        // A business code nobody documented (JimmyAI's table is UNKNOWN): it does not say
        // that nothing was made.
        ErrorKind::Vendor => true,
        _ => false,
    }
}

/// The least of a call's time (`CallOptions`) a repeat of a write without a key (a JimmyAI
/// create) must have left after its pause, and still has when it is sent: enough to connect,
/// send and hear an ordinary answer. With less, the call ends with the error it has (review
/// 34-d #1). A write under a key (VMEG's) is repeated as before: a late repeat that lands
/// and is cut off is an unknown outcome its key finds, and VMEG advises the repeat.
pub(crate) const MIN_WRITE_RETRY_TIME: Duration = Duration::from_secs(5);

/// The least pause before a VMEG create that may have landed is sent again under its key,
/// counted from its last attempt: by the retry loop, and by a caller's own resend
/// (`Client::resubmit_speech`, `resubmit_clone`, `resend_speech`), which is refused until then
/// with [`crate::Error::retry_after`] the time left, nothing sent. How VMEG treats a key still
/// in flight is UNKNOWN (api-facts A4), and a repeat at once is the likeliest to meet it. This
/// client's own choice, borrowed from the 2 s VMEG sends with its 409 for a key already used.
pub const KEYED_CREATE_REPEAT_PAUSE: Duration = Duration::from_secs(2);

/// Whether an attempt's answer says it made nothing: a rate limit, or a server fault whose
/// statuses both say nothing was done (a 501, a CDN's 525; never a 503), naming no task. A call
/// dropped in the wait after it sent nothing that may run (and holds no resend's key).
pub(crate) fn answer_made_nothing(err: &Error) -> bool {
    err.phase() == Phase::Answered
        && matches!(err.kind(), ErrorKind::RateLimited | ErrorKind::Server)
        && err.named_task_id().is_none()
        && err.unusable_task_id().is_none()
        && !maybe_processed(err)
        && !unconfirmed_refusal(err)
}

/// Whether a refusal of a write was read from a code the vendor does not document (JimmyAI's
/// 20001 and 20002, api-facts B2 UNCONFIRMED) with no HTTP 4xx to back it: it does not prove
/// that nothing was made. Server faults keep their own rules.
fn unconfirmed_refusal(err: &Error) -> bool {
    err.has_unconfirmed_code()
        && *err.kind() != ErrorKind::Server
        && !err.http_status().is_some_and(|s| (400..500).contains(&s))
}

/// Whether the task an attempt's answer names can be the call's own: the attempt may have
/// made it (see [`maybe_processed`]), or the answer said it was made but could not be read,
/// or it is VMEG's 409 for the call's key, or the call creates tasks (see
/// [`names_a_created_task`]). On other writes, a 429 or a 400 that names a task names another.
fn names_own_task(err: &Error, creates: bool) -> bool {
    names_a_created_task(err, creates)
        || maybe_processed(err)
        || matches!(err.kind(), ErrorKind::InvalidResponse | ErrorKind::Conflict)
}

/// Whether a failed attempt of a call that creates a (paid) task was answered with a usable
/// task id in `data`: whatever its HTTP status and code (a 429, a 503, JimmyAI's 20002, a
/// VMEG 400 or 402 inside a 200), an answer that names a task does not say nothing was made.
/// JimmyAI's statuses and rate limits are UNKNOWN (api-facts B2, B10): such an answer is
/// taken as maybe processed, never resent, and its id kept. An id that cannot be used
/// (`audio/1`) names a task too: the answer is no refusal, and its text is kept for people.
fn names_a_created_task(err: &Error, creates: bool) -> bool {
    creates && (err.named_task_id().is_some() || err.unusable_task_id().is_some())
}

/// Whether `call` creates a task the caller pays for (a clone, a speech create): not a
/// delete, a rename or an upload.
fn creates_task(call: &CallInfo) -> bool {
    call.kind.has_consequences() && crate::model::kind_of_operation(Some(call.operation)).is_some()
}

/// Who is calling, for the retry driver's errors and logs.
#[derive(Clone, Debug)]
pub(crate) struct CallInfo {
    pub(crate) provider: Provider,
    pub(crate) operation: &'static str,
    pub(crate) kind: OperationKind,
    pub(crate) idempotency_key: Option<String>,
    /// The key was made by the client for this call (see `transport::Call::fresh_key`).
    pub(crate) fresh_key: bool,
    /// A create that answers only when its task ends (VMEG's synchronous clone and TTS): an
    /// attempt cut short after it was sent (here or by a gateway's 504) is still running, so
    /// it is never repeated, not even under its key (how VMEG treats a key still in flight
    /// is UNKNOWN, api-facts A4).
    pub(crate) synchronous: bool,
}

/// Whether `err`, the error a call of `call` ended with, leaves a task that may exist: an
/// unknown outcome, or a write refused by a code the vendor does not document (see
/// [`unconfirmed_refusal`]). The transport logs such an error with what finds its task.
pub(crate) fn task_may_exist_after(call: &CallInfo, err: &Error) -> bool {
    matches!(err.kind(), ErrorKind::OutcomeUnknown { .. })
        || (call.kind.has_consequences() && unconfirmed_refusal(err) && !err.may_resubmit())
}

fn outcome_unknown(err: Error, call: &CallInfo, submitted_at: SystemTime) -> Error {
    // Not logged here but by the transport, once it has filled in the request summary (it
    // holds the request; the summary costs more than the rest of a call's bookkeeping and is
    // built only for an error that needs it): a line without it finds no task
    // (`transport::dropped`).
    // Typed like an accepted submit's id (`vmeg:speech:t1`), so that stored ids have one
    // form and an id the server shaped like a typed one is not re-read as another.
    let task_id =
        err.named_task_id().map(
            |id| match crate::model::kind_of_operation(Some(call.operation)) {
                Some(kind) => crate::model::JobId::typed(call.provider, kind, id),
                None => crate::model::JobId::new(id),
            },
        );
    // Decided right after the last attempt ended: a task it created is no younger. Always
    // `Sent`: some attempt may have reached the provider, whatever the last one met (a refused
    // connect is `NotSent`, which says nothing reached it). No `Retry-After`: the write is
    // not to be sent again, so the wait a refusal asked for is no advice.
    err.with_phase(Phase::Sent)
        .with_retry_after(None)
        .with_kind(ErrorKind::OutcomeUnknown {
            idempotency_key: call.idempotency_key.clone(),
            task_id,
            submitted_at,
            request: crate::error::RequestSummary::default(),
        })
        .with_last_attempt_at(SystemTime::now())
}

/// Runs `attempt(n)` for n = 1, 2, ... until it succeeds or the policy and the table above
/// say stop. Works for any provider: all it needs is a classified [`Error`].
///
/// Only this loop is generic (one copy per attempt type); what to do after a failure is
/// decided once, in [`Retries::after_failure`], so that the logging and the decisions are
/// not compiled again for every operation.
#[cfg(any(feature = "upload", feature = "download", test))]
pub(crate) async fn run_with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    call: &CallInfo,
    sleeper: &dyn Sleeper,
    mut attempt: F,
) -> Result<T, Error>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    let mut retries = Retries::new(policy, call);
    loop {
        let err = match attempt(retries.attempt()).await {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        let delay = retries.after_failure(err)?;
        crate::sleep::within(sleeper, delay, crate::client::call_deadline()).await;
    }
}

/// One logical call's retry state: which attempt is running, and what the failures so far
/// leave to spend. [`run_with_retry`] is the loop around it; the transport, whose attempts
/// are not generic, runs the same loop itself.
pub(crate) struct Retries<'a> {
    policy: &'a RetryPolicy,
    call: &'a CallInfo,
    submitted_at: SystemTime,
    max_attempts: u32,
    rng: crate::jitter::Jitter,
    /// Whether a failed attempt may have been processed anyway.
    any_maybe_processed: bool,
    /// The last failed attempt that may have been processed and was retried: an unknown
    /// outcome quotes its request id, and stands on it when the call's last attempt never
    /// reached the provider (a refused connect, a call out of time before sending).
    landed: Option<Error>,
    /// The task the answers of attempts that may have made one named (a failure that still
    /// says which task it made): an unknown outcome carries it even when a later attempt's
    /// answer names none. `Err(())` once two answers named different tasks: then none.
    named_task: Result<Option<String>, ()>,
    budget: Option<SleepBudget>,
    slept: Duration,
    /// The running attempt, from 1.
    attempt: u32,
}

impl<'a> Retries<'a> {
    pub(crate) fn new(policy: &'a RetryPolicy, call: &'a CallInfo) -> Self {
        Self {
            policy,
            call,
            submitted_at: SystemTime::now(),
            max_attempts: policy.max_attempts.max(1),
            rng: policy.rng(),
            any_maybe_processed: false,
            landed: None,
            named_task: Ok(None),
            budget: SLEEP_BUDGET.try_with(|b| *b).ok(),
            slept: Duration::ZERO,
            attempt: 1,
        }
    }

    /// After the running attempt failed with `err`: how long to sleep before the next one
    /// (counted as slept, and the next attempt made the running one), or the call's error.
    #[inline(never)]
    pub(crate) fn after_failure(&mut self, err: Error) -> Result<Duration, Error> {
        let call = self.call;
        let n = self.attempt;
        let err = err
            .with_provider(call.provider)
            .with_operation_if_unset(call.operation);
        let creates = creates_task(call);
        let names_created = names_a_created_task(&err, creates);
        let may_have_landed =
            call.kind.has_consequences() && (names_created || maybe_processed(&err));
        self.any_maybe_processed |= may_have_landed;
        if let (Some(id), true) = (err.named_task_id(), names_own_task(&err, creates)) {
            self.named_task = match std::mem::replace(&mut self.named_task, Ok(None)) {
                Ok(None) => Ok(Some(id.to_owned())),
                Ok(Some(same)) if same == id => Ok(Some(same)),
                Ok(Some(other)) => {
                    tracing::warn!(
                        operation = call.operation,
                        first = %other,
                        then = %id,
                        "two answers of one call named different tasks; naming neither"
                    );
                    Err(())
                }
                Err(()) => Err(()),
            };
        }
        // A key only this call has used, already used: one of its own requests landed.
        if call.fresh_key
            && call.kind == OperationKind::IdempotentWrite
            && *err.kind() == ErrorKind::Conflict
        {
            return Err(self.unknown(err));
        }
        // An answer to a create that names its task: never resent, whatever it says, and not
        // even under a VMEG key: whether a failed attempt uses up the key is UNKNOWN
        // (api-facts A4), so the repeat may be taken as new work and bill a second task. VMEG
        // advises polling `tasks/detail` with that id (A3): `OutcomeUnknown` carrying it.
        if names_created {
            return Err(self.unknown(err));
        }
        // A synchronous create that may have landed (timed out or cut off after it was sent,
        // or a 500, a gateway's 502/504 or a CDN's 524 naming no task): likely still running at
        // VMEG, since this side or a hop in between gave up waiting on it, so a repeat would
        // overlap it. Only answers saying nothing was done (429, the vendor's own 503, ...) are
        // retried.
        if call.synchronous && may_have_landed {
            return Err(self.unknown(err));
        }
        match decide(call.kind, &err) {
            // An earlier attempt may have landed: a later refusal (a 500, a 400, a business
            // error) does not say it did not, so the caller must not resend under a new key.
            Decision::Fail if self.any_maybe_processed => {
                return Err(self.unknown(err));
            }
            // The kind stands (a wrong key is told as one), but nothing invites a resend.
            Decision::Fail if call.kind.has_consequences() && unconfirmed_refusal(&err) => {
                let code = err.vendor_code().unwrap_or_default();
                let err = err.task_may_exist();
                return Err(if err.note().is_some() {
                    err
                } else {
                    err.with_note(format!(
                        "{} does not document code {code} (it is UNCONFIRMED), so it does not prove that nothing was created: check for a task before submitting again",
                        call.provider
                    ))
                });
            }
            Decision::Fail => return Err(err),
            Decision::OutcomeUnknown => {
                return Err(self.unknown(err));
            }
            Decision::Retry => {}
        }
        if n >= self.max_attempts {
            tracing::debug!(
                operation = call.operation,
                attempts = n,
                "retries exhausted"
            );
            return Err(self.give_up(err));
        }
        let backoff = self.policy.backoff_from(n, &mut self.rng);
        let delay = match err.retry_after() {
            Some(ra) if ra > self.policy.max_retry_after => {
                tracing::debug!(
                    operation = call.operation,
                    retry_after_s = ra.as_secs_f64(),
                    "Retry-After beyond the cap; giving up"
                );
                return Err(self.give_up(err));
            }
            Some(ra) => backoff.max(ra),
            None => backoff,
        };
        // A keyed create that may have landed (our timeout, a gateway's 504, a 500) is repeated
        // no sooner than VMEG paces a key in use (`Retry-After: 2` on its 409, api-facts A4):
        // how it treats a key still in flight is UNKNOWN, and a repeat at once is the one most
        // likely to meet the first attempt still running (review 34-d #4).
        let delay = if may_have_landed && call.kind == OperationKind::IdempotentWrite && creates {
            delay.max(KEYED_CREATE_REPEAT_PAUSE)
        } else {
            delay
        };
        if let Some(b) = self.budget {
            let left = b.limit.saturating_sub(b.started.elapsed().max(self.slept));
            if delay > left {
                tracing::debug!(
                    operation = call.operation,
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    left_ms = u64::try_from(left.as_millis()).unwrap_or(u64::MAX),
                    "the wait has no time for this retry; handing the error back to it"
                );
                return Err(self.give_up(err));
            }
        }
        // A per-call timeout or deadline (`CallOptions`): no retry after it, and no repeat of
        // a keyless write with less than `MIN_WRITE_RETRY_TIME` left after the pause: sent so
        // late, it may be carried out and cut off before its answer, turning a refusal that
        // made nothing into an unknown outcome (a JimmyAI task no list finds).
        let floor = if call.kind == OperationKind::UnsafeWrite {
            MIN_WRITE_RETRY_TIME
        } else {
            Duration::ZERO
        };
        if let Some(left) = crate::client::time_left()
            && (delay >= left || left.saturating_sub(delay) < floor)
        {
            tracing::debug!(
                operation = call.operation,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                left_ms = u64::try_from(left.as_millis()).unwrap_or(u64::MAX),
                "the call's timeout leaves no time for this retry"
            );
            return Err(self.give_up(err));
        }
        tracing::info!(
            provider = %call.provider,
            operation = call.operation,
            attempt = n,
            http_status = err.http_status(),
            vendor_code = err.vendor_code(),
            request_id = err.request_id(),
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "retrying after a transient failure: {}",
            err.kind()
        );
        // The budget counts the sleep about to start; the next failure sees it.
        self.slept = self.slept.saturating_add(delay);
        self.attempt = n.saturating_add(1);
        if may_have_landed {
            self.landed = Some(err);
        }
        Ok(delay)
    }

    /// The running attempt, from 1.
    pub(crate) fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The error a retryable failure ends the call with when it may not be retried:
    /// `OutcomeUnknown` once an attempt may have been processed.
    fn give_up(&mut self, err: Error) -> Error {
        if self.any_maybe_processed {
            self.unknown(err)
        } else {
            err
        }
    }

    /// `err` as this call's `OutcomeUnknown`, naming the task the answers that may have made
    /// it named (never one a refusal named, nor one of two different ones), with the request
    /// id of the last attempt that may have landed. When `err` never reached the provider,
    /// the outcome stands on that earlier attempt instead (its status, message and request
    /// id): "not sent" is not what happened to the write.
    fn unknown(&mut self, err: Error) -> Error {
        let named = self.named_task.as_ref().ok().and_then(Option::clone);
        let err_may_have_landed = self.call.kind.has_consequences()
            && (names_a_created_task(&err, creates_task(self.call)) || maybe_processed(&err));
        let base = match self.landed.take() {
            Some(earlier) if err.phase() == Phase::NotSent => match err.note() {
                Some(note) if earlier.note().is_none() => {
                    let note = note.to_owned();
                    earlier.with_note(note)
                }
                _ => earlier,
            },
            Some(earlier) if !err_may_have_landed => {
                err.replacing_request_id(earlier.request_id_value())
            }
            _ => err,
        };
        outcome_unknown(base.replacing_task_id(named), self.call, self.submitted_at)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::retry::tests::{connect_failure, http, timeout};
    use crate::sleep::RecordingSleeper;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn call(kind: OperationKind) -> CallInfo {
        CallInfo {
            provider: Provider::Vmeg,
            operation: "test_op",
            kind,
            idempotency_key: Some("key-1".into()),
            fresh_key: false,
            synchronous: false,
        }
    }

    /// The vendor's own 503 (its envelope, code 503): nothing was done.
    fn unavailable() -> Error {
        crate::provider::error_for_code(Provider::Vmeg, 503, None, 503, "busy")
    }

    async fn drive(
        kind: OperationKind,
        policy: RetryPolicy,
        errors: Vec<Error>,
    ) -> (Result<u32, Error>, u32, RecordingSleeper) {
        drive_call(&call(kind), policy, errors).await
    }

    async fn drive_call(
        call: &CallInfo,
        policy: RetryPolicy,
        errors: Vec<Error>,
    ) -> (Result<u32, Error>, u32, RecordingSleeper) {
        let sleeper = RecordingSleeper::new();
        let calls = AtomicU32::new(0);
        let errors = std::sync::Mutex::new(errors.into_iter());
        let result = run_with_retry(&policy, call, &sleeper, |n| {
            calls.fetch_add(1, Ordering::SeqCst);
            let next = errors.lock().unwrap().next();
            async move {
                match next {
                    Some(e) => Err(e),
                    None => Ok(n),
                }
            }
        })
        .await;
        (result, calls.load(Ordering::SeqCst), sleeper)
    }

    /// Review 34-d #4: a keyed create that may have landed (a 500, a timeout after sending) is
    /// repeated under its key no sooner than VMEG's own pause for a key in use (2 s); a
    /// rate-limited create, a keyed delete and a read keep their backoff.
    #[tokio::test]
    async fn a_keyed_create_that_may_have_landed_is_repeated_after_vmegs_pause() {
        let policy = RetryPolicy::default().with_seed(3);
        let create = CallInfo {
            operation: "clone_voice",
            ..call(OperationKind::IdempotentWrite)
        };
        let (res, calls, sleeper) = drive_call(
            &create,
            policy.clone(),
            vec![http(ErrorKind::Server, 500), timeout()],
        )
        .await;
        assert_eq!(res.unwrap(), 3);
        assert_eq!(calls, 3);
        assert!(
            sleeper
                .sleeps()
                .iter()
                .all(|d| *d >= KEYED_CREATE_REPEAT_PAUSE),
            "{:?}",
            sleeper.sleeps()
        );
        for (call, errors) in [
            (create.clone(), vec![http(ErrorKind::RateLimited, 429)]),
            (
                CallInfo {
                    operation: "delete_task",
                    ..call(OperationKind::IdempotentWrite)
                },
                vec![http(ErrorKind::Server, 500)],
            ),
            (
                call(OperationKind::Read),
                vec![http(ErrorKind::Server, 500)],
            ),
        ] {
            let (res, _, sleeper) = drive_call(&call, policy.clone(), errors).await;
            assert!(res.is_ok());
            assert!(
                sleeper
                    .sleeps()
                    .iter()
                    .all(|d| *d < KEYED_CREATE_REPEAT_PAUSE),
                "{}: {:?}",
                call.operation,
                sleeper.sleeps()
            );
        }
    }

    #[tokio::test]
    async fn retries_until_success_and_honours_retry_after() {
        let errs = vec![
            http(ErrorKind::RateLimited, 429).with_retry_after(Some(Duration::from_secs(2))),
            http(ErrorKind::Server, 503),
        ];
        let (res, calls, sleeper) = drive(
            OperationKind::Read,
            RetryPolicy::default().with_seed(1),
            errs,
        )
        .await;
        assert_eq!(res.unwrap(), 3);
        assert_eq!(calls, 3);
        let sleeps = sleeper.sleeps();
        assert_eq!(sleeps[0], Duration::from_secs(2));
        assert!(sleeps[1] <= Duration::from_millis(400));
    }

    #[tokio::test]
    async fn delay_is_the_larger_of_backoff_and_retry_after() {
        // Retry-After: 0 repeated must not make a burst of immediate retries: the backoff
        // still applies (RELIABILITY.md: max(backoff, Retry-After)).
        let policy = RetryPolicy::default().with_seed(11);
        let zero = || http(ErrorKind::RateLimited, 429).with_retry_after(Some(Duration::ZERO));
        let (res, calls, sleeper) = drive(
            OperationKind::Read,
            policy.clone(),
            vec![zero(), zero(), zero()],
        )
        .await;
        assert_eq!(res.unwrap(), 4);
        assert_eq!(calls, 4);
        let mut rng = policy.rng();
        let expected: Vec<Duration> = (1..=3).map(|n| policy.backoff_from(n, &mut rng)).collect();
        assert_eq!(sleeper.sleeps(), expected);
        assert!(
            sleeper.sleeps().iter().any(|d| !d.is_zero()),
            "{:?}",
            sleeper.sleeps()
        );

        // A Retry-After shorter than the backoff is raised to it; a longer one wins.
        let policy = RetryPolicy::default()
            .with_seed(5)
            .with_base_delay(Duration::from_secs(8))
            .with_max_delay(Duration::from_secs(8));
        let after =
            |s| http(ErrorKind::RateLimited, 429).with_retry_after(Some(Duration::from_secs(s)));
        let (res, _, sleeper) = drive(
            OperationKind::Read,
            policy.clone(),
            vec![after(1), after(20)],
        )
        .await;
        assert!(res.is_ok());
        let mut rng = policy.rng();
        let first = policy.backoff_from(1, &mut rng);
        let second = policy.backoff_from(2, &mut rng);
        assert_eq!(
            sleeper.sleeps(),
            vec![
                first.max(Duration::from_secs(1)),
                second.max(Duration::from_secs(20))
            ]
        );
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts_and_on_long_retry_after() {
        let errs = (0..10).map(|_| http(ErrorKind::Server, 503)).collect();
        let (res, calls, _) = drive(OperationKind::Read, RetryPolicy::default(), errs).await;
        assert_eq!(res.unwrap_err().kind(), &ErrorKind::Server);
        assert_eq!(calls, 4);

        // Any kind of call (review 30-e #5: a read only before).
        for kind in [
            OperationKind::Read,
            OperationKind::IdempotentWrite,
            OperationKind::UnsafeWrite,
            OperationKind::Upload,
        ] {
            let errs = vec![
                http(ErrorKind::RateLimited, 429).with_retry_after(Some(Duration::from_secs(3600))),
            ];
            let (res, calls, sleeper) = drive(kind, RetryPolicy::default(), errs).await;
            let err = res.unwrap_err();
            assert_eq!(
                err.retry_after(),
                Some(Duration::from_secs(3600)),
                "{kind:?}"
            );
            assert_eq!((calls, sleeper.sleeps().len()), (1, 0), "{kind:?}");
        }

        let (res, calls, _) = drive(
            OperationKind::Read,
            RetryPolicy::none(),
            vec![connect_failure()],
        )
        .await;
        assert!(res.is_err());
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn the_default_policy_sleeps_through_a_retry_after_of_30_s_and_no_longer() {
        // README: "default 4 attempts, ... `Retry-After` honoured up to 30 s".
        let after = |secs| {
            vec![
                http(ErrorKind::RateLimited, 429).with_retry_after(Some(Duration::from_secs(secs))),
            ]
        };
        let (res, calls, sleeper) =
            drive(OperationKind::Read, RetryPolicy::default(), after(30)).await;
        assert_eq!((res.unwrap(), calls), (2, 2));
        assert_eq!(sleeper.sleeps(), vec![Duration::from_secs(30)]);

        let (res, calls, sleeper) =
            drive(OperationKind::Read, RetryPolicy::default(), after(31)).await;
        assert_eq!(
            res.unwrap_err().retry_after(),
            Some(Duration::from_secs(31))
        );
        assert_eq!((calls, sleeper.sleeps().len()), (1, 0));
    }

    #[tokio::test]
    async fn unsafe_write_never_resends_after_a_timeout() {
        let (res, calls, _) = drive(
            OperationKind::UnsafeWrite,
            RetryPolicy::default(),
            vec![timeout()],
        )
        .await;
        let err = res.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::OutcomeUnknown { idempotency_key: Some(k), .. } if k == "key-1")
        );
        assert_eq!(calls, 1);
        let (res, calls, _) = drive(
            OperationKind::UnsafeWrite,
            RetryPolicy::default(),
            vec![connect_failure(), http(ErrorKind::RateLimited, 429)],
        )
        .await;
        assert!(res.is_ok());
        assert_eq!(calls, 3);
        let (res, calls, _) = drive(
            OperationKind::UnsafeWrite,
            RetryPolicy::default(),
            vec![http(ErrorKind::Server, 500)],
        )
        .await;
        // No key: the 500 may have come after the task was made, and is not resent.
        assert!(matches!(
            res.unwrap_err().kind(),
            ErrorKind::OutcomeUnknown { .. }
        ));
        assert_eq!(calls, 1);
        // The vendor's own 503 "busy" is no proof either (a gateway may copy its shape,
        // review 34-d #2): sent once, of unknown outcome.
        let (res, calls, _) = drive(
            OperationKind::UnsafeWrite,
            RetryPolicy::default(),
            vec![unavailable()],
        )
        .await;
        assert!(matches!(
            res.unwrap_err().kind(),
            ErrorKind::OutcomeUnknown { .. }
        ));
        assert_eq!(calls, 1);
        // A bare 503 (a proxy's page, no envelope) does not: the write may have landed.
        let (res, calls, _) = drive(
            OperationKind::UnsafeWrite,
            RetryPolicy::default(),
            vec![http(ErrorKind::Server, 503)],
        )
        .await;
        assert!(matches!(
            res.unwrap_err().kind(),
            ErrorKind::OutcomeUnknown { .. }
        ));
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn idempotent_write_conflict_after_retry_is_outcome_unknown() {
        let (res, calls, _) = drive(
            OperationKind::IdempotentWrite,
            RetryPolicy::default(),
            vec![http(ErrorKind::Server, 502), http(ErrorKind::Conflict, 409)],
        )
        .await;
        let err = res.unwrap_err();
        match err.kind() {
            ErrorKind::OutcomeUnknown {
                idempotency_key, ..
            } => assert_eq!(idempotency_key.as_deref(), Some("key-1")),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(err.http_status(), Some(409));
        assert_eq!(calls, 2);

        let (res, calls, _) = drive(
            OperationKind::IdempotentWrite,
            RetryPolicy::default(),
            vec![http(ErrorKind::Conflict, 409)],
        )
        .await;
        assert_eq!(res.unwrap_err().kind(), &ErrorKind::Conflict);
        assert_eq!(calls, 1);

        // A 500 is an "unclear 5xx" for a VMEG write: repeated under the same key, and when
        // the attempts run out, its outcome is unknown (the fault may have come after the
        // task was made), never a `Server` a caller would repeat under a new key.
        let (res, calls, _) = drive(
            OperationKind::IdempotentWrite,
            RetryPolicy::default(),
            vec![http(ErrorKind::Server, 500)],
        )
        .await;
        assert_eq!(res.unwrap(), 2);
        assert_eq!(calls, 2);
        let (res, calls, _) = drive(
            OperationKind::IdempotentWrite,
            RetryPolicy::none(),
            vec![http(ErrorKind::Server, 500)],
        )
        .await;
        let err = res.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::OutcomeUnknown { idempotency_key: Some(k), .. } if k == "key-1"),
            "{err:?}"
        );
        assert_eq!(calls, 1);
        // The vendor's 503 retried under the same key and still refused: it may have landed,
        // so the call is unknown with its key. So is one whose repeat then met a fault that
        // says nothing was done itself, a rate limit, or a refused connect (pass 2 #1: each
        // ended as that later error, `may_resubmit()`, a second bill under a new key).
        for later in [
            vec![unavailable()],
            vec![http(ErrorKind::Server, 501)],
            vec![http(ErrorKind::RateLimited, 429)],
            vec![connect_failure()],
        ] {
            let mut errors = vec![unavailable()];
            errors.extend(later);
            let (res, calls, _) = drive(
                OperationKind::IdempotentWrite,
                RetryPolicy::default().with_max_attempts(2),
                errors,
            )
            .await;
            let err = res.unwrap_err();
            assert!(
                matches!(err.kind(), ErrorKind::OutcomeUnknown { idempotency_key: Some(k), .. } if k == "key-1"),
                "{err:?}"
            );
            assert!(!err.may_resubmit(), "{err:?}");
            assert_eq!(calls, 2);
        }
        // A proxy's bare 503 each time: retried under the key, then unknown (it may have landed).
        let (res, calls, _) = drive(
            OperationKind::IdempotentWrite,
            RetryPolicy::default().with_max_attempts(2),
            vec![http(ErrorKind::Server, 503), http(ErrorKind::Server, 503)],
        )
        .await;
        assert!(
            matches!(res.unwrap_err().kind(), ErrorKind::OutcomeUnknown { idempotency_key: Some(k), .. } if k == "key-1")
        );
        assert_eq!(calls, 2);
    }

    /// A 409 on a retry is `OutcomeUnknown` only when an earlier attempt may have landed: after
    /// a refused connect (nothing sent) or a 429 (a refusal), the caller's key was used by
    /// earlier work of the caller's, so it is `Conflict`, as on a first attempt.
    #[tokio::test]
    async fn a_conflict_on_a_retry_is_unknown_only_after_an_attempt_that_may_have_landed() {
        let conflict = || http(ErrorKind::Conflict, 409);
        for first in [connect_failure(), http(ErrorKind::RateLimited, 429)] {
            let what = format!("{first:?}");
            let (res, calls, _) = drive(
                OperationKind::IdempotentWrite,
                RetryPolicy::default(),
                vec![first, conflict()],
            )
            .await;
            assert_eq!(res.unwrap_err().kind(), &ErrorKind::Conflict, "{what}");
            assert_eq!(calls, 2, "{what}");
        }
        let (res, _, _) = drive(
            OperationKind::IdempotentWrite,
            RetryPolicy::default(),
            vec![http(ErrorKind::Server, 502), conflict()],
        )
        .await;
        assert!(matches!(
            res.unwrap_err().kind(),
            ErrorKind::OutcomeUnknown { .. }
        ));
    }

    /// On a create, an answer whose `data` names a task is maybe processed whatever its status
    /// and code (a VMEG 402 or 400 code inside a 200, a JimmyAI 429): `OutcomeUnknown` carrying
    /// that id, never resent. Not even a VMEG create under its key (a 429 or a 502 naming a
    /// task): whether a failed attempt uses up the key is UNKNOWN (api-facts A4), so a repeat
    /// may bill a second task. On a write that creates nothing (a delete) a 429 is retried as
    /// before.
    #[tokio::test]
    async fn an_answer_naming_a_task_on_a_create_is_never_a_refusal() {
        let create = |kind| CallInfo {
            operation: "clone_voice",
            ..call(kind)
        };
        let cases = [
            (
                OperationKind::IdempotentWrite,
                crate::provider::error_for_code(Provider::Vmeg, 200, None, 402, "no credits"),
            ),
            (
                OperationKind::IdempotentWrite,
                crate::provider::error_for_code(Provider::Vmeg, 200, None, 400, "bad"),
            ),
            (
                OperationKind::UnsafeWrite,
                http(ErrorKind::RateLimited, 429).with_retry_after(Some(Duration::from_secs(1))),
            ),
        ];
        for (kind, err) in cases {
            let what = format!("{kind:?} {err:?}");
            let (res, calls, _) = drive_call(
                &create(kind),
                RetryPolicy::default(),
                vec![err.with_task_id("t-1")],
            )
            .await;
            let err = res.unwrap_err();
            match err.kind() {
                ErrorKind::OutcomeUnknown {
                    task_id: Some(id), ..
                } => assert_eq!(id.as_str(), "t-1", "{what}"),
                other => panic!("{what}: {other:?}"),
            }
            assert!(!err.may_resubmit(), "{what}");
            assert_eq!(calls, 1, "{what}: resent");
        }
        // A VMEG create: the answers the table repeats (a 429, a 502, a 500) are not repeated
        // once they name a task; the next answer (another task's acceptance) is never asked for.
        for first in [
            http(ErrorKind::RateLimited, 429),
            http(ErrorKind::Server, 502),
            http(ErrorKind::Server, 500),
        ] {
            let what = format!("{first:?}");
            let (res, calls, _) = drive_call(
                &create(OperationKind::IdempotentWrite),
                RetryPolicy::default(),
                vec![first.with_task_id("t-1"), http(ErrorKind::Conflict, 409)],
            )
            .await;
            let err = res.unwrap_err();
            assert!(
                matches!(err.kind(), ErrorKind::OutcomeUnknown { task_id: Some(id), .. } if id.as_str() == "t-1"),
                "{what}: {err:?}"
            );
            assert_eq!(calls, 1, "{what}: resent");
        }
        let delete = CallInfo {
            operation: "delete_task",
            ..call(OperationKind::IdempotentWrite)
        };
        let (res, calls, _) = drive_call(
            &delete,
            RetryPolicy::default(),
            vec![http(ErrorKind::RateLimited, 429).with_task_id("t-1")],
        )
        .await;
        assert_eq!((res.unwrap(), calls), (2, 2));
    }

    /// The task an `OutcomeUnknown` names comes from an answer of an attempt that may have
    /// made it: never from a refusal (a 429, a 400), never one of two different ones. (For a
    /// write that creates nothing: on a create, an answer naming a task is itself maybe
    /// processed and ends the call, see `an_answer_naming_a_task_on_a_create_is_never_a_refusal`;
    /// the create cases below show it.)
    #[tokio::test]
    async fn an_unknown_outcome_names_only_a_task_its_own_attempts_may_have_made() {
        let named = |e: Error, id: &str| e.with_task_id(id);
        let task_of = |res: Result<u32, Error>| match res.unwrap_err().kind() {
            ErrorKind::OutcomeUnknown { task_id, .. } => {
                task_id.as_ref().map(|t| t.as_str().to_owned())
            }
            other => panic!("not OutcomeUnknown: {other:?}"),
        };
        let cases: Vec<(OperationKind, Vec<Error>, Option<&str>)> = vec![
            // A 429 naming some task, then a 500 naming none: not the 429's task.
            (
                OperationKind::UnsafeWrite,
                vec![
                    named(http(ErrorKind::RateLimited, 429), "other"),
                    http(ErrorKind::Server, 500),
                ],
                None,
            ),
            // A 502 naming A, then a 400 naming B: A.
            (
                OperationKind::IdempotentWrite,
                vec![
                    named(http(ErrorKind::Server, 502), "A"),
                    named(http(ErrorKind::InvalidRequest, 400), "B"),
                ],
                Some("A"),
            ),
            // A 502 naming A, then a 409 naming none: A.
            (
                OperationKind::IdempotentWrite,
                vec![
                    named(http(ErrorKind::Server, 502), "A"),
                    http(ErrorKind::Conflict, 409),
                ],
                Some("A"),
            ),
            // Two 502s naming different tasks: neither.
            (
                OperationKind::IdempotentWrite,
                vec![
                    named(http(ErrorKind::Server, 502), "A"),
                    named(http(ErrorKind::Server, 502), "B"),
                    http(ErrorKind::Conflict, 409),
                ],
                None,
            ),
            // The same task twice: that task.
            (
                OperationKind::IdempotentWrite,
                vec![
                    named(http(ErrorKind::Server, 502), "A"),
                    named(http(ErrorKind::Server, 502), "A"),
                    http(ErrorKind::Conflict, 409),
                ],
                Some("A"),
            ),
        ];
        for (kind, errors, want) in cases {
            let what = format!("{kind:?} {errors:?}");
            let (res, _, _) = drive(kind, RetryPolicy::default(), errors).await;
            assert_eq!(task_of(res).as_deref(), want, "{what}");
        }
        // On a create, the first answer naming a task ends the call with it: two 502s naming
        // different tasks cannot happen, as the second is never asked for.
        let create = CallInfo {
            operation: "clone_voice",
            ..call(OperationKind::IdempotentWrite)
        };
        let (res, calls, _) = drive_call(
            &create,
            RetryPolicy::default(),
            vec![
                named(http(ErrorKind::Server, 502), "A"),
                named(http(ErrorKind::Server, 502), "B"),
            ],
        )
        .await;
        assert_eq!(task_of(res).as_deref(), Some("A"));
        assert_eq!(calls, 1);
    }

    /// An undocumented business code on a write does not say nothing was made: unknown, not
    /// a plain `Vendor` a caller would resend.
    #[tokio::test]
    async fn an_undocumented_code_on_a_write_is_an_unknown_outcome() {
        for kind in [OperationKind::UnsafeWrite, OperationKind::IdempotentWrite] {
            let vendor = Error::new(ErrorKind::Vendor).with_http_status(200);
            let (res, calls, _) = drive(kind, RetryPolicy::default(), vec![vendor]).await;
            assert!(
                matches!(res.unwrap_err().kind(), ErrorKind::OutcomeUnknown { .. }),
                "{kind:?}"
            );
            assert_eq!(calls, 1, "{kind:?}: not resent");
        }
        let vendor = Error::new(ErrorKind::Vendor).with_http_status(200);
        let (res, _, _) = drive(OperationKind::Read, RetryPolicy::default(), vec![vendor]).await;
        assert_eq!(res.unwrap_err().kind(), &ErrorKind::Vendor);
    }

    /// An unknown outcome stands on the attempt that may have landed, not on the last one: a
    /// 502, then refused connects (or a call out of time before sending, or a 429 asking for a
    /// pause) is `Sent` with the 502's request id and no `Retry-After`, never `NotSent` ("nothing
    /// reached the provider"), which would let a caller gating resends on `phase()` pay twice.
    #[tokio::test]
    async fn an_unknown_outcome_is_sent_with_the_request_id_of_the_attempt_that_may_have_landed() {
        let rid = crate::transport::RequestId::new(&crate::scrub::Scrubber::new("sk-test-key"));
        let gateway = || {
            http(ErrorKind::Server, 502)
                .with_message("upstream timed out")
                .with_request_id(rid)
        };
        let out_of_time = Error::new(ErrorKind::Timeout)
            .with_phase(Phase::NotSent)
            .with_message("the call's timeout had passed; this request was not sent");
        let refused_pause = || {
            http(ErrorKind::RateLimited, 429)
                .with_retry_after(Some(Duration::from_secs(30)))
                .with_request_id(crate::transport::RequestId::new(
                    &crate::scrub::Scrubber::new("sk-test-key"),
                ))
        };
        // (The call out of time ends at its second attempt, as `CallOptions` ends it.)
        let cases: Vec<(u32, Vec<Error>)> = vec![
            (
                4,
                vec![
                    gateway(),
                    connect_failure(),
                    connect_failure(),
                    connect_failure(),
                ],
            ),
            (2, vec![gateway(), out_of_time]),
            (
                4,
                vec![gateway(), refused_pause(), refused_pause(), refused_pause()],
            ),
        ];
        for (attempts, errors) in cases {
            let what = format!("{errors:?}");
            let policy = RetryPolicy::default().with_max_attempts(attempts);
            let (res, _, _) = drive(OperationKind::IdempotentWrite, policy, errors).await;
            let err = res.unwrap_err();
            assert!(
                matches!(err.kind(), ErrorKind::OutcomeUnknown { .. }),
                "{what}: {err}"
            );
            assert_eq!(err.phase(), Phase::Sent, "{what}: {err}");
            assert_eq!(err.request_id(), Some(rid.as_str()), "{what}: {err}");
            assert_eq!(err.retry_after(), None, "{what}: {err}");
            let text = err.to_string();
            assert!(
                !text.contains("retry after") && !text.contains("not sent"),
                "{what}: {text}"
            );
            assert!(!err.may_resubmit(), "{what}");
        }
    }

    #[tokio::test]
    async fn idempotent_write_exhausted_after_a_possible_success_is_outcome_unknown() {
        let (res, calls, _) = drive(
            OperationKind::IdempotentWrite,
            RetryPolicy::default().with_max_attempts(2),
            vec![timeout(), http(ErrorKind::Server, 503)],
        )
        .await;
        assert!(matches!(
            res.unwrap_err().kind(),
            ErrorKind::OutcomeUnknown { .. }
        ));
        assert_eq!(calls, 2);
        let (res, _, _) = drive(
            OperationKind::IdempotentWrite,
            RetryPolicy::default().with_max_attempts(2),
            vec![connect_failure(), connect_failure()],
        )
        .await;
        assert_eq!(res.unwrap_err().kind(), &ErrorKind::Transport);
    }
}
