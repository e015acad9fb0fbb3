//! What is safe to repeat, and how long to wait before repeating it.
//!
//! | error                                   | `Read` | `IdempotentWrite` (VMEG, same key) | `UnsafeWrite` (JimmyAI create) |
//! |-----------------------------------------|--------|------------------------------------|--------------------------------|
//! | connect failure (nothing sent)          | retry  | retry                              | retry                          |
//! | 429 / `RateLimited`                     | retry  | retry                              | retry                          |
//! | timeout, connection broken mid-request  | retry  | retry                              | `OutcomeUnknown`               |
//! | 500 (and JimmyAI `-1`)                  | retry  | fail                               | fail                           |
//! | 503                                     | retry  | retry                              | fail (unavailable: not processed) |
//! | 502, 504                                | retry  | retry                              | `OutcomeUnknown` (a gateway got no valid answer: the write may have landed) |
//! | 409 `Conflict`, first attempt           | fail   | fail (`Conflict`: the caller reused a key) | fail                   |
//! | 409 `Conflict`, later attempt           | fail   | `OutcomeUnknown` (our first attempt probably succeeded) | fail      |
//! | unreadable 2xx answer                   | fail   | `OutcomeUnknown`                   | `OutcomeUnknown`               |
//! | anything else                           | fail   | fail                               | fail                           |
//!
//! When a write runs out of attempts after one of them may have been processed (timeout,
//! broken connection, 502, 504), the result is `OutcomeUnknown` rather than the last error.
//! A `Retry-After` longer than [`RetryPolicy::max_retry_after`] is not slept through: the
//! error is returned with [`crate::Error::retry_after`] set, for the caller to decide.
//!
//! The wait before a retry is `max(backoff, Retry-After)`: a `Retry-After: 0` does not turn
//! the retries into a burst. Inside a wait ([`crate::WaitPolicy`]), a retry never sleeps
//! past what the wait has left (its deadline, or `max_interval` when it has none): the error
//! goes back to the wait instead, which sleeps within its own bounds and polls again.

use std::future::Future;
use std::time::{Duration, SystemTime};

use crate::error::{Error, ErrorKind, Phase};
use crate::model::Provider;
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
/// from now; a retry that would sleep longer returns its error instead.
pub(crate) async fn with_sleep_budget<F: Future>(limit: Duration, fut: F) -> F::Output {
    let budget = SleepBudget {
        started: tokio::time::Instant::now(),
        limit,
    };
    SLEEP_BUDGET.scope(budget, fut).await
}

/// How often and how patiently a single call is repeated.
///
/// Every value is accepted and none can make a call panic: delays saturate instead of
/// overflowing, and `max_attempts` 0 is read as 1 wherever it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, including the first, `1..=u32::MAX` (0 is read as 1).
    pub max_attempts: u32,
    /// Backoff ceiling for the first retry; doubles each retry (any value; the doubling
    /// saturates).
    pub base_delay: Duration,
    /// Upper bound of the backoff ceiling (any value).
    pub max_delay: Duration,
    /// The longest `Retry-After` this policy sleeps through (any value; `Duration::MAX`
    /// sleeps through any, though a wait still never sleeps past its own deadline).
    pub max_retry_after: Duration,
    /// Seed for the jitter (deterministic tests); random when `None`.
    pub seed: Option<u64>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(30),
            seed: None,
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets the number of attempts (clamped to at least 1).
    #[must_use]
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the first backoff ceiling (any value).
    #[must_use]
    pub fn with_base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// Sets the backoff cap (any value).
    #[must_use]
    pub fn with_max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Sets the longest honoured `Retry-After` (any value).
    #[must_use]
    pub fn with_max_retry_after(mut self, delay: Duration) -> Self {
        self.max_retry_after = delay;
        self
    }

    /// Fixes the jitter seed.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The upper bound of the wait before retry number `retry` (1 = the first retry):
    /// `min(max_delay, base_delay * 2^(retry-1))`.
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1).min(31));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The wait before retry number `retry`, with full jitter: uniform in `[0, ceiling]`
    /// (a ceiling beyond `u64::MAX` nanoseconds, 584 years, is cut to it), drawn from a
    /// generator seeded with `seed` (the same seed gives the same wait).
    pub fn backoff(&self, retry: u32, seed: u64) -> Duration {
        self.backoff_from(retry, &mut fastrand::Rng::with_seed(seed))
    }

    /// [`RetryPolicy::backoff`], drawing from a call's own generator (one per logical call,
    /// so that its retries follow one seeded schedule).
    pub(crate) fn backoff_from(&self, retry: u32, rng: &mut fastrand::Rng) -> Duration {
        let ceiling = u64::try_from(self.backoff_ceiling(retry).as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.u64(0..=ceiling))
    }

    pub(crate) fn rng(&self) -> fastrand::Rng {
        match self.seed {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        }
    }
}

/// How safe an operation is to repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OperationKind {
    /// No side effects: status, detail, lists (VMEG's list POSTs included).
    Read,
    /// A VMEG write carrying `X-Idempotency-Key`; every retry reuses the key.
    IdempotentWrite,
    /// A write the vendor cannot deduplicate (JimmyAI creates and uploads).
    UnsafeWrite,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    Retry,
    Fail,
    OutcomeUnknown,
}

/// The retry table above, for one failed attempt (`attempt` counts from 1).
pub(crate) fn decide(kind: OperationKind, err: &Error, attempt: u32) -> Decision {
    use OperationKind::*;
    let status = err.effective_status();
    // The body said "done" with a non-2xx status (even a 429): a write may have created a
    // task, so it is never resent and never reported as plainly failed.
    if kind != Read && err.claims_success() {
        return Decision::OutcomeUnknown;
    }
    match err.kind() {
        ErrorKind::Conflict if kind == IdempotentWrite && attempt >= 2 => Decision::OutcomeUnknown,
        ErrorKind::Transport | ErrorKind::Timeout if err.phase() == Phase::NotSent => {
            Decision::Retry
        }
        ErrorKind::RateLimited => Decision::Retry,
        ErrorKind::Timeout | ErrorKind::Transport => match kind {
            Read | IdempotentWrite => Decision::Retry,
            UnsafeWrite => Decision::OutcomeUnknown,
        },
        ErrorKind::Server => match (kind, status) {
            (Read, None | Some(500 | 502 | 503 | 504)) => Decision::Retry,
            (IdempotentWrite, Some(502..=504)) => Decision::Retry,
            // A gateway that got no (or no valid) answer upstream: the write may have landed.
            (UnsafeWrite, Some(502 | 504)) => Decision::OutcomeUnknown,
            _ => Decision::Fail,
        },
        // An answer that could not be read (a 2xx we cannot turn into a job, or a body cut
        // off at the size limit, whatever its status): a write may have landed.
        ErrorKind::InvalidResponse
            if kind != Read
                && (err.phase() == Phase::Sent
                    || err.http_status().is_none_or(|s| (200..300).contains(&s))) =>
        {
            Decision::OutcomeUnknown
        }
        _ => Decision::Fail,
    }
}

/// Whether a failed attempt could have been processed by the server anyway.
fn maybe_processed(err: &Error) -> bool {
    if err.claims_success() {
        return true;
    }
    match err.kind() {
        ErrorKind::Timeout | ErrorKind::Transport => err.phase() != Phase::NotSent,
        ErrorKind::Server => matches!(err.effective_status(), Some(502 | 504)),
        ErrorKind::InvalidResponse => err.phase() == Phase::Sent,
        _ => false,
    }
}

impl Error {
    /// True when repeating the same read later could succeed (network trouble, throttling,
    /// server faults, timeouts). Writes follow stricter rules, see [`crate::retry`].
    pub fn is_transient(&self) -> bool {
        read_would_retry(self)
    }
}

/// The classification a read would get; used for polling and [`Error::is_transient`].
pub(crate) fn read_would_retry(err: &Error) -> bool {
    decide(OperationKind::Read, err, 1) == Decision::Retry
}

/// Who is calling, for the retry driver's errors and logs.
#[derive(Clone, Debug)]
pub(crate) struct CallInfo {
    pub(crate) provider: Provider,
    pub(crate) operation: &'static str,
    pub(crate) kind: OperationKind,
    pub(crate) idempotency_key: Option<String>,
}

fn outcome_unknown(err: Error, call: &CallInfo, submitted_at: SystemTime) -> Error {
    tracing::warn!(
        provider = %call.provider,
        operation = call.operation,
        idempotency_key = call.idempotency_key.as_deref().unwrap_or(""),
        "write outcome unknown; not resending"
    );
    // The request summary is filled in by the transport, which holds the request; it costs
    // more than the rest of a call's bookkeeping and is built only here, when it is needed.
    let task_id = err.named_task_id().map(crate::model::JobId::new);
    err.with_kind(ErrorKind::OutcomeUnknown {
        idempotency_key: call.idempotency_key.clone(),
        task_id,
        submitted_at,
        request: crate::error::RequestSummary::default(),
    })
}

/// Runs `attempt(n)` for n = 1, 2, ... until it succeeds or the policy and the table above
/// say stop. Works for any provider: all it needs is a classified [`Error`].
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
    let submitted_at = SystemTime::now();
    let max_attempts = policy.max_attempts.max(1);
    let mut rng = policy.rng();
    let mut any_maybe_processed = false;
    let budget = SLEEP_BUDGET.try_with(|b| *b).ok();
    let mut slept = Duration::ZERO;
    let mut n: u32 = 1;
    loop {
        let err = match attempt(n).await {
            Ok(value) => return Ok(value),
            Err(e) => e
                .with_provider(call.provider)
                .with_operation_if_unset(call.operation),
        };
        any_maybe_processed |= call.kind != OperationKind::Read && maybe_processed(&err);
        let give_up = |err: Error| {
            if any_maybe_processed {
                outcome_unknown(err, call, submitted_at)
            } else {
                err
            }
        };
        match decide(call.kind, &err, n) {
            Decision::Fail => return Err(err),
            Decision::OutcomeUnknown => return Err(outcome_unknown(err, call, submitted_at)),
            Decision::Retry => {
                if n >= max_attempts {
                    tracing::debug!(
                        operation = call.operation,
                        attempts = n,
                        "retries exhausted"
                    );
                    return Err(give_up(err));
                }
                let backoff = policy.backoff_from(n, &mut rng);
                let delay = match err.retry_after() {
                    Some(ra) if ra > policy.max_retry_after => {
                        tracing::debug!(
                            operation = call.operation,
                            retry_after_s = ra.as_secs_f64(),
                            "Retry-After beyond the cap; giving up"
                        );
                        return Err(give_up(err));
                    }
                    Some(ra) => backoff.max(ra),
                    None => backoff,
                };
                if let Some(b) = budget {
                    let left = b.limit.saturating_sub(b.started.elapsed().max(slept));
                    if delay > left {
                        tracing::debug!(
                            operation = call.operation,
                            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                            left_ms = u64::try_from(left.as_millis()).unwrap_or(u64::MAX),
                            "the wait has no time for this retry; handing the error back to it"
                        );
                        return Err(give_up(err));
                    }
                }
                tracing::info!(
                    provider = %call.provider,
                    operation = call.operation,
                    attempt = n,
                    http_status = err.http_status(),
                    vendor_code = err.vendor_code(),
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    "retrying after a transient failure: {}",
                    err.kind()
                );
                sleeper.sleep(delay).await;
                slept = slept.saturating_add(delay);
                n = n.saturating_add(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::sleep::RecordingSleeper;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn http(kind: ErrorKind, status: u16) -> Error {
        Error::new(kind).with_http_status(status)
    }

    fn connect_failure() -> Error {
        Error::new(ErrorKind::Transport).with_phase(Phase::NotSent)
    }

    fn mid_request() -> Error {
        Error::new(ErrorKind::Transport).with_phase(Phase::Sent)
    }

    fn timeout() -> Error {
        Error::new(ErrorKind::Timeout).with_phase(Phase::Sent)
    }

    #[test]
    fn classification_table() {
        use Decision::*;
        use OperationKind::*;
        let rows: Vec<(Error, [Decision; 3])> = vec![
            (connect_failure(), [Retry, Retry, Retry]),
            (http(ErrorKind::RateLimited, 429), [Retry, Retry, Retry]),
            (timeout(), [Retry, Retry, OutcomeUnknown]),
            (mid_request(), [Retry, Retry, OutcomeUnknown]),
            (http(ErrorKind::Server, 500), [Retry, Fail, Fail]),
            (http(ErrorKind::Server, 502), [Retry, Retry, OutcomeUnknown]),
            (http(ErrorKind::Server, 503), [Retry, Retry, Fail]),
            (http(ErrorKind::Server, 504), [Retry, Retry, OutcomeUnknown]),
            (http(ErrorKind::InvalidRequest, 400), [Fail, Fail, Fail]),
            (http(ErrorKind::Unauthorized, 401), [Fail, Fail, Fail]),
            (http(ErrorKind::PaymentRequired, 402), [Fail, Fail, Fail]),
            (http(ErrorKind::Conflict, 409), [Fail, Fail, Fail]),
            (
                http(ErrorKind::InvalidResponse, 200),
                [Fail, OutcomeUnknown, OutcomeUnknown],
            ),
            (
                crate::provider::error_for_code(Provider::Vmeg, 200, None, 502, ""),
                [Retry, Retry, OutcomeUnknown],
            ),
            (
                crate::provider::error_for_code(Provider::JimmyAi, 200, None, -1, ""),
                [Retry, Fail, Fail],
            ),
        ];
        for (err, expected) in rows {
            for (kind, want) in [Read, IdempotentWrite, UnsafeWrite]
                .into_iter()
                .zip(expected)
            {
                assert_eq!(decide(kind, &err, 1), want, "{kind:?} {err:?}");
            }
        }
        let conflict = http(ErrorKind::Conflict, 409);
        assert_eq!(decide(IdempotentWrite, &conflict, 2), OutcomeUnknown);
    }

    #[test]
    fn backoff_is_full_jitter_under_an_exponential_ceiling() {
        let p = RetryPolicy::default().with_seed(7);
        assert_eq!(p.backoff_ceiling(1), Duration::from_millis(200));
        assert_eq!(p.backoff_ceiling(2), Duration::from_millis(400));
        assert_eq!(p.backoff_ceiling(6), Duration::from_millis(6400));
        assert_eq!(p.backoff_ceiling(7), Duration::from_secs(10));
        assert_eq!(p.backoff_ceiling(100), Duration::from_secs(10));
        let mut rng = p.rng();
        let mut again = p.rng();
        let mut distinct = std::collections::HashSet::new();
        for retry in 1..50 {
            let d = p.backoff_from(retry, &mut rng);
            assert!(d <= p.backoff_ceiling(retry));
            assert_eq!(
                d,
                p.backoff_from(retry, &mut again),
                "same seed, same schedule"
            );
            distinct.insert(d);
        }
        assert!(distinct.len() > 40, "jitter spreads the waits");
    }

    fn call(kind: OperationKind) -> CallInfo {
        CallInfo {
            provider: Provider::Vmeg,
            operation: "test_op",
            kind,
            idempotency_key: Some("key-1".into()),
        }
    }

    async fn drive(
        kind: OperationKind,
        policy: RetryPolicy,
        errors: Vec<Error>,
    ) -> (Result<u32, Error>, u32, RecordingSleeper) {
        let sleeper = RecordingSleeper::new();
        let calls = AtomicU32::new(0);
        let errors = std::sync::Mutex::new(errors.into_iter());
        let result = run_with_retry(&policy, &call(kind), &sleeper, |n| {
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

        let errs = vec![
            http(ErrorKind::RateLimited, 429).with_retry_after(Some(Duration::from_secs(3600))),
        ];
        let (res, calls, sleeper) = drive(OperationKind::Read, RetryPolicy::default(), errs).await;
        let err = res.unwrap_err();
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
        assert_eq!((calls, sleeper.sleeps().len()), (1, 0));

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
        assert_eq!(res.unwrap_err().kind(), &ErrorKind::Server);
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

        let (res, calls, _) = drive(
            OperationKind::IdempotentWrite,
            RetryPolicy::default(),
            vec![http(ErrorKind::Server, 500)],
        )
        .await;
        assert_eq!(res.unwrap_err().kind(), &ErrorKind::Server);
        assert_eq!(calls, 1);
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
