//! What is safe to repeat, and how long to wait before repeating it.
//!
//! | error                                   | `Read` | `IdempotentWrite` (VMEG, same key) | `UnsafeWrite` (JimmyAI create) |
//! |-----------------------------------------|--------|------------------------------------|--------------------------------|
//! | connect failure (nothing sent)          | retry  | retry                              | retry                          |
//! | 429 / `RateLimited`                     | retry  | retry                              | retry                          |
//! | timeout, connection broken mid-request or mid-answer (a body cut off) | retry | retry | `OutcomeUnknown` |
//! | 500 (and JimmyAI `-1`)                  | retry  | retry (may have landed: see below) | `OutcomeUnknown` (the fault may have come after the task was made) |
//! | 502, 504, a CDN's 520 and 524, 507      | retry  | retry                              | `OutcomeUnknown` (a gateway got no valid answer: the write may have landed) |
//! | 503 in the vendor's own envelope, a CDN's 521-523 | retry | retry | fail (never reached the service: not processed) |
//! | a bare 503 (no envelope of the vendor's: a proxy's page, a relay's JSON with a `code`) | retry | retry | `OutcomeUnknown` (the upstream may have made the task before it died) |
//! | a CDN's 525, 526 (TLS to the origin)    | fail   | retry                              | fail (never reached the service) |
//! | 501, 505, 511                           | fail   | fail                               | fail (refused before processing) |
//! | any other 5xx (530, ...)                | fail   | retry                              | `OutcomeUnknown`               |
//! | 409 `Conflict`, no earlier attempt may have landed | fail | fail (`Conflict`: the caller reused a key); `OutcomeUnknown` when the client made the key | fail |
//! | 409 `Conflict` after an attempt that may have landed | fail | `OutcomeUnknown` (that attempt probably succeeded) | fail |
//! | unreadable 2xx answer, a redirect other than 307/308, a status no class covers (600-999) | fail | `OutcomeUnknown` | `OutcomeUnknown` |
//! | an undocumented business code (`Vendor`) | fail  | `OutcomeUnknown` (it does not say nothing was made) | `OutcomeUnknown` |
//! | JimmyAI 20001 / 20002 (UNCONFIRMED) not behind an HTTP 4xx | fail | - | fail, not resubmittable |
//! | anything else                           | fail   | fail                               | fail                           |
//!
//! A VMEG synchronous create (`call.synchronous`) is no `IdempotentWrite` "retry" on a
//! timeout, a broken connection or a 5xx that may have landed: it may still be running (up to
//! 180 s), so it ends as `OutcomeUnknown` at once (`run.rs`), never resent.
//!
//! Above the table: on a create (a clone, a speech create), an answer whose `data` names a
//! usable task id counts as maybe processed, whatever its status and code (a 429, a 503,
//! JimmyAI's 20002, a VMEG 402 code inside a 200): it does not say nothing was made, and
//! JimmyAI's statuses and rate limits are UNKNOWN (api-facts B2, B10). The create ends there
//! as `OutcomeUnknown` carrying that id, never resent: a VMEG create not even under its key
//! where the table would repeat it (a 502 naming its task, say), since whether a failed
//! attempt uses up the key is UNKNOWN (api-facts A4) and the repeat may bill a second task;
//! VMEG's advice for a 502 is to poll `tasks/detail` with that id (A3).
//!
//! A server fault's status is the HTTP status and, for VMEG, the one its body code stands
//! for: a write is taken as not processed only when both say so (an HTTP 503 whose body says
//! 502 may have landed; a refusal code behind an HTTP 500, 502 or 504 is read as that
//! server fault by `transport::error_for_code`). The column above is chosen by the code's
//! status when it is a 5xx (an HTTP 400 whose code says 502 is retried as a 502), else by
//! the HTTP status (`Error::effective_status`). An HTTP 503 says nothing was done only in the
//! vendor's own envelope (VMEG's `message` and `data`, JimmyAI's `msg` and `data` with a code
//! of its own): a bare one is a proxy's page (Envoy's "upstream connect error or
//! disconnect/reset before headers") or a relay's JSON (`{"code":503,"message":...}`), which a
//! write takes as may have landed; so is a code 503 behind another HTTP status (a gateway's
//! "200 always").
//!
//! `Upload` (a JimmyAI `files/upload`, VMEG's material calls with their idempotency keys, a
//! PUT to a presigned storage URL) follows the `Read` column: a repeat creates nothing
//! billable (at worst an unused copy of the file), so it is retried like a read and never
//! reported as `OutcomeUnknown`. A clone submitted after an upload follows its own column.
//!
//! When a write runs out of attempts after one of them may have been processed (timeout,
//! broken connection, a 5xx that does not say nothing was done), the result is `OutcomeUnknown`
//! rather than the last error;
//! so is a later attempt's failure that the table would just report (a 500, a 4xx, a
//! business error): it does not say that the earlier attempt created nothing. Every
//! `OutcomeUnknown` is `Phase::Sent` with no `Retry-After`, and carries the request id of the
//! last attempt that may have landed; when the last attempt never reached the provider (a
//! refused connect), it stands on that earlier attempt (its status and message).
//! A `Retry-After` longer than [`RetryPolicy::max_retry_after`] is not slept through: the
//! error is returned with [`crate::Error::retry_after`] set, for the caller to decide.
//!
//! The wait before a retry is `max(backoff, Retry-After)`: a `Retry-After: 0` does not turn
//! the retries into a burst. A VMEG create after a fault that may have landed waits at least
//! 2 s more (VMEG's `Retry-After` for a key in use: how it treats a key still in flight is
//! UNKNOWN, and a repeat at once is the likeliest to meet it). Inside a wait ([`crate::WaitPolicy`]), a retry never sleeps
//! past what the wait has left (its deadline, or `max_interval` when it has none): the error
//! goes back to the wait instead, which sleeps within its own bounds and polls again.

mod run;

use crate::jitter::Jitter;
use std::time::Duration;

use crate::error::{Error, ErrorKind, Phase};

pub use run::KEYED_CREATE_REPEAT_PAUSE;
// The generic driver is for transfers (uploads, downloads); API calls go through `Retries`.
#[cfg(any(feature = "upload", feature = "download"))]
pub(crate) use run::run_with_retry;
pub(crate) use run::{
    CallInfo, MIN_WRITE_RETRY_TIME, Retries, answer_made_nothing, task_may_exist_after,
    with_sleep_budget,
};

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
    /// Upper bound of the backoff ceiling (any value). A VMEG create that may have landed
    /// is repeated under its key no sooner than 2 s whatever this says (see
    /// [`crate::retry`]).
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
        self.backoff_from(retry, &mut Jitter::with_seed(seed))
    }

    /// [`RetryPolicy::backoff`], drawing from a call's own generator (one per logical call,
    /// so that its retries follow one seeded schedule).
    pub(crate) fn backoff_from(&self, retry: u32, rng: &mut Jitter) -> Duration {
        let ceiling = u64::try_from(self.backoff_ceiling(retry).as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rng.up_to(ceiling))
    }

    pub(crate) fn rng(&self) -> Jitter {
        match self.seed {
            Some(seed) => Jitter::with_seed(seed),
            None => Jitter::new(),
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
    /// A write the vendor cannot deduplicate (JimmyAI creates).
    UnsafeWrite,
    /// A write whose repeat creates nothing billable: an upload (JimmyAI `files/upload`,
    /// VMEG's material calls, a PUT to a presigned URL). Retried as a [`OperationKind::Read`]
    /// is; a repeat at worst leaves an unused copy of the file.
    Upload,
}

impl OperationKind {
    /// Whether a repeat may have effects the caller pays for or must reconcile (every
    /// write but an upload).
    pub(crate) fn has_consequences(self) -> bool {
        !matches!(self, OperationKind::Read | OperationKind::Upload)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    Retry,
    Fail,
    OutcomeUnknown,
}

/// The retry table above, for one failed attempt. What earlier attempts may have done is
/// the driver's to weigh (`Retries::after_failure`): a failure this table fails after an
/// attempt that may have landed (a 409 on a retry among them) ends as `OutcomeUnknown`.
pub(crate) fn decide(kind: OperationKind, err: &Error) -> Decision {
    use OperationKind::*;
    // An upload's repeat costs nothing: it is classified as a read.
    let kind = if kind == Upload { Read } else { kind };
    let status = err.effective_status();
    // The body said "done" with a non-2xx status (even a 429): a write may have created a
    // task, so it is never resent and never reported as plainly failed.
    if kind != Read && err.claims_success() {
        return Decision::OutcomeUnknown;
    }
    match err.kind() {
        ErrorKind::Transport | ErrorKind::Timeout if err.phase() == Phase::NotSent => {
            Decision::Retry
        }
        ErrorKind::RateLimited => Decision::Retry,
        ErrorKind::Timeout | ErrorKind::Transport => match kind {
            Read | IdempotentWrite | Upload => Decision::Retry,
            UnsafeWrite => Decision::OutcomeUnknown,
        },
        ErrorKind::Server => match kind {
            // The faults that pass: a server's or gateway's, a CDN's that could not reach or
            // hear from the origin for a moment. Others (501, 505, 511, a CDN's certificate
            // errors 525 and 526, unknown 5xx) would fail every poll until a wait's deadline.
            Read | Upload => match status {
                None | Some(500 | 502 | 503 | 504 | 507 | 520..=524) => Decision::Retry,
                Some(_) => Decision::Fail,
            },
            // VMEG: "reuse [the key] only when retrying the same intent after a timeout or
            // unclear 5xx" (api-facts A4). Under the same key a repeat cannot bill twice: if
            // the fault came after the task was made, the repeat meets 409 (`OutcomeUnknown`).
            IdempotentWrite if status.is_some_and(never_works) => Decision::Fail,
            IdempotentWrite => Decision::Retry,
            // No key to repeat under: a server that says it did nothing may be asked again
            // later by the caller; any other fault may have come after the task was made.
            UnsafeWrite if server_error_may_have_landed(err) => Decision::OutcomeUnknown,
            UnsafeWrite => Decision::Fail,
        },
        // An answer that could not be read (a 2xx we cannot turn into a job, or a body cut
        // off at the size limit, whatever its status), a redirect that may follow a
        // processed request, or a status no class covers: a write may have landed.
        ErrorKind::InvalidResponse
            if kind != Read
                && (err.phase() == Phase::Sent
                    || err.http_status().is_none_or(unread_answer_may_have_landed)) =>
        {
            Decision::OutcomeUnknown
        }
        _ => Decision::Fail,
    }
}

/// 5xx statuses that say the request was not acted on: 501 (not implemented), 503
/// (unavailable; a refusal code behind the vendor's own 503 stands, but a server fault that
/// is a 503 does not say so: see [`server_error_may_have_landed`]), 505 (HTTP version), 511
/// (a captive portal's login), and a CDN's 521-523, 525 and 526 (it never reached the
/// origin).
fn says_nothing_was_done(status: u16) -> bool {
    matches!(status, 501 | 503 | 505 | 511 | 521..=523 | 525 | 526)
}

/// Whether an HTTP 5xx may follow a processed write: every one that does not say nothing was
/// done (a 500, a gateway's 502 or 504, a CDN's 520 or 524, ...).
pub(crate) fn server_status_may_have_landed(status: u16) -> bool {
    (500..600).contains(&status) && !says_nothing_was_done(status)
}

/// Whether an answer with `status` that could not be read may follow a processed write. Only
/// a 4xx, a 5xx (read by their own rules) or a 307/308 ("send this request there instead")
/// say it was not acted on. A 2xx, another redirect (a 303 is how POST/redirect/GET answers
/// a request it carried out; 301 and 302 say nothing either way), and statuses no HTTP class
/// covers (a final 1xx, 600-999, which hyper reads) do not. (Redirects are never followed:
/// the API key stays with the configured host.)
pub(crate) fn unread_answer_may_have_landed(status: u16) -> bool {
    !(400..600).contains(&status) && !matches!(status, 307 | 308)
}

/// 5xx statuses a repeat cannot cure: 501, 505, 511.
fn never_works(status: u16) -> bool {
    matches!(status, 501 | 505 | 511)
}

/// Whether a write that met a server fault (`ErrorKind::Server`) may have been carried out
/// before the fault. Both statuses count, the HTTP one and the one a vendor's body code
/// stands for (VMEG's HTTP 503 whose body says 502: "an upstream step failed"): the write is
/// taken as not done only when every status it carries says so. A 500, a gateway's 502 or
/// 504, a CDN's 520 or 524, JimmyAI's `-1` (no status) may all come after the task was made.
///
/// A 503 (HTTP status or body code) may follow a processed write, whoever sent it: a bare
/// 503 page is a proxy's, such as Envoy's "upstream connect error or disconnect/reset before
/// headers" when the upstream closed the connection after the request was forwarded; and
/// the vendor's own "busy" envelope is a shape a gateway may copy, whose codes api-facts
/// does not confirm (JimmyAI's `-1`; VMEG documents no 503). So a write that met one is
/// retried only under its key, and ends `OutcomeUnknown` (review 34-d #2, pass 2 #1). A
/// CDN's 521-523, 525 and 526 keep their meaning: it never reached the origin.
pub(crate) fn server_error_may_have_landed(err: &Error) -> bool {
    let http = err.http_status().filter(|s| *s >= 400);
    let code = err.code_status();
    if http.is_none() && code.is_none() {
        return true;
    }
    if http == Some(503) || code == Some(503) {
        return true;
    }
    !(http.is_none_or(says_nothing_was_done) && code.is_none_or(says_nothing_was_done))
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
    decide(OperationKind::Read, err) == Decision::Retry
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::model::Provider;

    pub(super) fn http(kind: ErrorKind, status: u16) -> Error {
        Error::new(kind).with_http_status(status)
    }

    pub(super) fn connect_failure() -> Error {
        Error::new(ErrorKind::Transport).with_phase(Phase::NotSent)
    }

    pub(super) fn mid_request() -> Error {
        Error::new(ErrorKind::Transport).with_phase(Phase::Sent)
    }

    pub(super) fn timeout() -> Error {
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
            (http(ErrorKind::Server, 500), [Retry, Retry, OutcomeUnknown]),
            (http(ErrorKind::Server, 501), [Fail, Fail, Fail]),
            (http(ErrorKind::Server, 502), [Retry, Retry, OutcomeUnknown]),
            // A 503 may have landed, a proxy's bare page or the vendor's own "busy" envelope
            // (VMEG's code 503, JimmyAI's -1: a shape a gateway may copy, review 34-d #2).
            (http(ErrorKind::Server, 503), [Retry, Retry, OutcomeUnknown]),
            (
                crate::provider::error_for_code(Provider::JimmyAi, 503, None, -1, ""),
                [Retry, Retry, OutcomeUnknown],
            ),
            (http(ErrorKind::Server, 504), [Retry, Retry, OutcomeUnknown]),
            (http(ErrorKind::Server, 505), [Fail, Fail, Fail]),
            (http(ErrorKind::Server, 507), [Retry, Retry, OutcomeUnknown]),
            (http(ErrorKind::Server, 511), [Fail, Fail, Fail]),
            (http(ErrorKind::Server, 520), [Retry, Retry, OutcomeUnknown]),
            (http(ErrorKind::Server, 522), [Retry, Retry, Fail]),
            (http(ErrorKind::Server, 524), [Retry, Retry, OutcomeUnknown]),
            (http(ErrorKind::Server, 526), [Fail, Retry, Fail]),
            (http(ErrorKind::Server, 530), [Fail, Retry, OutcomeUnknown]),
            // VMEG: an HTTP 503 may have landed, whether its body says 502 ("an upstream
            // step failed") or 503.
            (
                crate::provider::error_for_code(Provider::Vmeg, 503, None, 502, ""),
                [Retry, Retry, OutcomeUnknown],
            ),
            (
                crate::provider::error_for_code(Provider::Vmeg, 503, None, 503, ""),
                [Retry, Retry, OutcomeUnknown],
            ),
            (
                crate::provider::error_for_code(Provider::Vmeg, 500, None, 503, ""),
                [Retry, Retry, OutcomeUnknown],
            ),
            // A refusal code behind a 5xx that may have landed: the HTTP status does not say
            // nothing was done, so the write is no refusal (retried under its key).
            (
                crate::provider::error_for_code(Provider::Vmeg, 500, None, 400, ""),
                [Retry, Retry, OutcomeUnknown],
            ),
            (
                crate::provider::error_for_code(Provider::Vmeg, 502, None, 402, ""),
                [Retry, Retry, OutcomeUnknown],
            ),
            (
                crate::provider::error_for_code(Provider::Vmeg, 504, None, 404, ""),
                [Retry, Retry, OutcomeUnknown],
            ),
            // Both say nothing was done: the refusal stands.
            (
                crate::provider::error_for_code(Provider::Vmeg, 503, None, 400, ""),
                [Fail, Fail, Fail],
            ),
            // A server code behind an HTTP 4xx: "decided by code", a read is retried.
            (
                crate::provider::error_for_code(Provider::Vmeg, 400, None, 502, ""),
                [Retry, Retry, OutcomeUnknown],
            ),
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
                crate::provider::error_for_code(Provider::Vmeg, 200, None, 500, ""),
                [Retry, Retry, OutcomeUnknown],
            ),
            (
                crate::provider::error_for_code(Provider::JimmyAi, 200, None, -1, ""),
                [Retry, Retry, OutcomeUnknown],
            ),
        ];
        for (err, expected) in rows {
            for (kind, want) in [Read, IdempotentWrite, UnsafeWrite]
                .into_iter()
                .zip(expected)
            {
                assert_eq!(decide(kind, &err), want, "{kind:?} {err:?}");
            }
        }
        // A refusal code behind a status that does not say nothing was done (a 303 follows a
        // POST carried out; 301, 302 and 600-999 say nothing): never a refusal to resubmit. A
        // write's retry loop takes it as maybe processed (`OutcomeUnknown`, `retry::run`).
        // Behind a 307 or 308, or inside a 2xx ("decided by code"), the refusal stands.
        for (status, code, resubmit) in [
            (303, 402, false),
            (302, 400, false),
            (600, 413, false),
            (307, 402, true),
            (200, 402, true),
        ] {
            let err = crate::provider::error_for_code(Provider::Vmeg, status, None, code, "");
            assert_eq!(err.may_resubmit(), resubmit, "{status} {code}: {err:?}");
        }
        // An upload is classified as a read, whatever happened.
        for (err, [read, ..]) in [
            (timeout(), [Retry]),
            (http(ErrorKind::Server, 500), [Retry]),
            (http(ErrorKind::Server, 502), [Retry]),
            (http(ErrorKind::InvalidResponse, 200), [Fail]),
            (http(ErrorKind::Conflict, 409), [Fail]),
            (http(ErrorKind::PayloadTooLarge, 413), [Fail]),
        ] {
            assert_eq!(decide(Upload, &err), read, "{err:?}");
        }
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
}
