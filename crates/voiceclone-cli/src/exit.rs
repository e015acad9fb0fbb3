//! Exit codes and the mapping from adapter error kinds to them.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the provider or the task reported a failure, a download was refused or could not be written, a local recording changed while it was being uploaded (part of it was sent; no clone was submitted), or a webhook failed verification; for a `clone` / `speak` create, only a refusal that proves nothing was made (`may_resubmit()`) |
//! | 2 | bad usage, invalid input, unsupported by the provider (nothing was sent) |
//! | 3 | network failure, timeout (also `WaitTimedOut`), unknown outcome, also a `clone` / `speak` create's error that does not prove nothing was made (its kind kept); a reconcile that saw no candidate yet; a result naming a job that stdout could not take (written to stderr instead) |
//!
//! A wait (`wait`, `clone --wait`, `speak --wait`) that ends for any reason but the task's
//! own failure is 3 whatever its kind, a 401 included (`commands::provider`'s `wait` and
//! `after_submit`): the job may be running and billed, and 1 reads as "submit again".

use voiceclone::{ErrorKind, Phase};

/// The process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// 0
    Success,
    /// 1: the provider or the task said no; a webhook did not verify.
    Failure,
    /// 2: the command line or an input value is wrong; nothing was sent.
    Usage,
    /// 3: no answer, no answer in time, or an answer that may be lost.
    Unreachable,
}

impl Exit {
    /// The numeric status.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
            Exit::Unreachable => 3,
        }
    }
}

/// The exit code for an adapter error: its kind's, except that invalid input found only
/// after part of a request went out (a local recording that changed while it was being
/// uploaded) is not exit 2, which promises that nothing was sent.
pub fn for_error(e: &voiceclone::Error) -> Exit {
    in_phase(e.kind(), e.phase())
}

fn in_phase(kind: &ErrorKind, phase: Phase) -> Exit {
    match for_kind(kind) {
        Exit::Usage if phase != Phase::NotSent => Exit::Failure,
        exit => exit,
    }
}

/// The exit code for an adapter error kind.
pub fn for_kind(kind: &ErrorKind) -> Exit {
    match kind {
        ErrorKind::InvalidInput { .. } | ErrorKind::Unsupported { .. } => Exit::Usage,
        ErrorKind::Timeout
        | ErrorKind::Transport
        | ErrorKind::WaitTimedOut { .. }
        | ErrorKind::OutcomeUnknown { .. } => Exit::Unreachable,
        ErrorKind::Unauthorized
        | ErrorKind::PaymentRequired
        | ErrorKind::InvalidRequest
        | ErrorKind::NotFound
        | ErrorKind::Conflict
        | ErrorKind::PayloadTooLarge
        | ErrorKind::RateLimited
        | ErrorKind::Server
        | ErrorKind::InvalidResponse
        | ErrorKind::TaskFailed { .. }
        | ErrorKind::Webhook(_)
        | ErrorKind::Download(_)
        | ErrorKind::Vendor => Exit::Failure,
        // A kind added later: the provider answered something we did not expect.
        _ => Exit::Failure,
    }
}

/// A stable snake_case name for an error kind (the `error.kind` field of `--json`).
pub fn kind_name(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidInput { .. } => "invalid_input",
        ErrorKind::Unauthorized => "unauthorized",
        ErrorKind::PaymentRequired => "payment_required",
        ErrorKind::InvalidRequest => "invalid_request",
        ErrorKind::NotFound => "not_found",
        ErrorKind::Conflict => "conflict",
        ErrorKind::PayloadTooLarge => "payload_too_large",
        ErrorKind::RateLimited => "rate_limited",
        ErrorKind::Server => "server",
        ErrorKind::Timeout => "timeout",
        ErrorKind::Transport => "transport",
        ErrorKind::InvalidResponse => "invalid_response",
        ErrorKind::TaskFailed { .. } => "task_failed",
        ErrorKind::WaitTimedOut { .. } => "wait_timed_out",
        ErrorKind::OutcomeUnknown { .. } => "outcome_unknown",
        ErrorKind::Unsupported { .. } => "unsupported",
        ErrorKind::Webhook(_) => "webhook",
        ErrorKind::Vendor => "vendor",
        ErrorKind::Download(_) => "download",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use voiceclone::webhook::WebhookFailure;
    use voiceclone::{JobId, Provider, TaskStatus};

    use super::*;

    #[test]
    fn numeric_codes() {
        assert_eq!(Exit::Success.code(), 0);
        assert_eq!(Exit::Failure.code(), 1);
        assert_eq!(Exit::Usage.code(), 2);
        assert_eq!(Exit::Unreachable.code(), 3);
    }

    #[test]
    fn every_kind_maps() {
        let job = JobId::new("t1");
        let cases = [
            (
                ErrorKind::InvalidInput {
                    field: "audio_url".into(),
                    reason: "x".into(),
                },
                Exit::Usage,
                "invalid_input",
            ),
            (
                ErrorKind::Unsupported {
                    operation: "list_voices".into(),
                    provider: Provider::JimmyAi,
                },
                Exit::Usage,
                "unsupported",
            ),
            (ErrorKind::Unauthorized, Exit::Failure, "unauthorized"),
            (
                ErrorKind::PaymentRequired,
                Exit::Failure,
                "payment_required",
            ),
            (ErrorKind::InvalidRequest, Exit::Failure, "invalid_request"),
            (ErrorKind::NotFound, Exit::Failure, "not_found"),
            (ErrorKind::Conflict, Exit::Failure, "conflict"),
            (
                ErrorKind::PayloadTooLarge,
                Exit::Failure,
                "payload_too_large",
            ),
            (ErrorKind::RateLimited, Exit::Failure, "rate_limited"),
            (ErrorKind::Server, Exit::Failure, "server"),
            (
                ErrorKind::InvalidResponse,
                Exit::Failure,
                "invalid_response",
            ),
            (ErrorKind::Vendor, Exit::Failure, "vendor"),
            (
                ErrorKind::TaskFailed {
                    job_id: job.clone(),
                    reason: "bad audio".into(),
                },
                Exit::Failure,
                "task_failed",
            ),
            (
                ErrorKind::Webhook(WebhookFailure::SignatureMismatch),
                Exit::Failure,
                "webhook",
            ),
            (
                ErrorKind::Download(voiceclone::download::DownloadFailure::TooLarge { limit: 1 }),
                Exit::Failure,
                "download",
            ),
            (ErrorKind::Timeout, Exit::Unreachable, "timeout"),
            (ErrorKind::Transport, Exit::Unreachable, "transport"),
            (
                ErrorKind::WaitTimedOut {
                    job_id: job,
                    last_status: TaskStatus::Running,
                    polls: 3,
                },
                Exit::Unreachable,
                "wait_timed_out",
            ),
            (
                ErrorKind::OutcomeUnknown {
                    idempotency_key: Some("k".into()),
                    task_id: None,
                    submitted_at: UNIX_EPOCH,
                    request: voiceclone::RequestSummary::default(),
                },
                Exit::Unreachable,
                "outcome_unknown",
            ),
        ];
        for (kind, exit, name) in cases {
            assert_eq!(for_kind(&kind), exit, "{kind:?}");
            assert_eq!(in_phase(&kind, Phase::NotSent), exit, "{kind:?}");
            assert_eq!(kind_name(&kind), name, "{kind:?}");
        }
    }

    /// Exit 2 promises that nothing was sent: invalid input found after part of a request
    /// went out (a recording that changed mid-upload, `Phase::Sent`) is a failure instead.
    #[test]
    fn invalid_input_after_sending_is_not_a_usage_error() {
        let changed = ErrorKind::InvalidInput {
            field: "audio_file".into(),
            reason: "the recording changed while it was being sent".into(),
        };
        assert_eq!(in_phase(&changed, Phase::NotSent), Exit::Usage);
        assert_eq!(in_phase(&changed, Phase::Sent), Exit::Failure);
        assert_eq!(
            in_phase(&ErrorKind::Timeout, Phase::Sent),
            Exit::Unreachable
        );
        assert_eq!(in_phase(&ErrorKind::Server, Phase::Answered), Exit::Failure);
    }
}
