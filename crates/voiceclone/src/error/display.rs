//! How an [`Error`] prints: `Display` complete (the cause's text last), `Debug` without
//! secrets, and `source()` always `None`.

use std::fmt;

use super::{Error, ErrorKind};

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.0;
        let mut d = f.debug_struct("Error");
        d.field("kind", &i.kind);
        if let Some(p) = i.provider {
            d.field("provider", &p);
        }
        if let Some(o) = i.operation {
            d.field("operation", &o);
        }
        if let Some(s) = i.http_status {
            d.field("http_status", &s);
        }
        if let Some(c) = i.vendor_code {
            d.field("vendor_code", &c);
        }
        if let Some(m) = &i.message {
            d.field("message", m);
        }
        if let Some(r) = i.retry_after {
            d.field("retry_after", &r);
        }
        if let Some(s) = &i.cause {
            d.field("source", s);
        }
        if let Some(s) = i.step {
            d.field("step", &s);
        }
        if let Some(n) = &i.note {
            d.field("note", n);
        }
        if let Some(r) = &i.request_id {
            d.field("request_id", &r.as_str());
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.0;
        match (i.provider, i.operation) {
            (Some(p), Some(o)) => write!(f, "{p} {o}: ")?,
            (Some(p), None) => write!(f, "{p}: ")?,
            (None, Some(o)) => write!(f, "{o}: ")?,
            (None, None) => {}
        }
        if let Some(step) = i.step {
            if step.after_submit() {
                write!(f, "{step} failed after the recording was uploaded: ")?;
            } else {
                write!(f, "{step} failed, no clone was submitted: ")?;
            }
        }
        match &i.kind {
            // Worded by operation: a delete is not a create.
            ErrorKind::OutcomeUnknown {
                idempotency_key,
                task_id,
                submitted_at,
                request,
            } => f.write_str(&super::kind::outcome_unknown_text(
                idempotency_key.as_deref(),
                task_id.as_ref(),
                *submitted_at,
                request,
                i.operation,
                i.last_attempt_at,
            ))?,
            // A failure read from a status word the vendor does not document: the reason says
            // so (VMEG's, `provider::vmeg::status`), and no new task is advised, since the task
            // may be alive and a new one billed as well.
            ErrorKind::TaskFailed { job_id, reason } if i.assumed_status.is_some() => write!(
                f,
                "task {job_id} is taken as failed, by assumption: {reason}"
            )?,
            kind => write!(f, "{kind}")?,
        }
        let mut details = Vec::new();
        if let Some(s) = i.http_status {
            details.push(format!("HTTP {s}"));
        }
        if let Some(c) = i.vendor_code {
            details.push(format!("vendor code {c}"));
        }
        if let Some(m) = &i.message {
            details.push(format!("message {m:?}"));
        }
        // A used idempotency key stays used: VMEG's `Retry-After: 2` on its 409 is no advice
        // to send the same key again (still readable as `Error::retry_after`); an unknown
        // outcome's wait is for a resend under its key, which its note words.
        if let Some(r) = i.retry_after.filter(|_| {
            !matches!(
                i.kind,
                ErrorKind::Conflict | ErrorKind::OutcomeUnknown { .. }
            )
        }) {
            details.push(format!("retry after {:.1}s", r.as_secs_f64()));
        }
        if let Some(r) = &i.request_id {
            // An unknown outcome's id is its landed attempt's, not always the last one's.
            if matches!(i.kind, ErrorKind::OutcomeUnknown { .. }) {
                details.push(format!(
                    "request id {r} (of the attempt that may have landed)"
                ));
            } else {
                details.push(format!("request id {r}"));
            }
        }
        if !details.is_empty() {
            write!(f, " ({})", details.join(", "))?;
        }
        if let Some(s) = &i.cause {
            write!(f, ": {s}")?;
        }
        if let Some(n) = &i.note {
            write!(f, ". Note: {n}")?;
        }
        Ok(())
    }
}

/// `source()` is always `None`: the lower-level failure's text is already the end of
/// `Display`, so a reporter that walks the chain prints it once, and no transport crate's
/// error type becomes part of this crate's API.
impl std::error::Error for Error {}

impl From<crate::model::ParseError> for Error {
    fn from(e: crate::model::ParseError) -> Self {
        Error::new(ErrorKind::InvalidInput {
            field: e.field().to_owned(),
            reason: e.reason().to_owned(),
        })
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Phase, RequestSummary};
    use crate::model::JobId;
    use crate::model::Provider;
    use std::time::Duration;

    #[test]
    fn display_says_what_and_what_next() {
        let e = Error::new(ErrorKind::OutcomeUnknown {
            idempotency_key: Some("k-1".into()),
            task_id: Some(JobId::new("t-9")),
            submitted_at: std::time::UNIX_EPOCH,
            request: RequestSummary {
                method: "POST".into(),
                route: "/clone".into(),
                fields: vec![("voiceName".into(), "x".into())],
            },
        })
        .with_provider(Provider::Vmeg)
        .with_operation("clone_voice");
        let s = e.to_string();
        assert!(
            s.starts_with("vmeg clone_voice: the request may have created a task"),
            "{s}"
        );
        assert!(
            s.contains("do not resend")
                && s.contains("\"k-1\"")
                && s.contains("task \"t-9\"")
                && s.contains("request: POST /clone voiceName=x")
                && s.contains("1970-01-01T00:00:00.000Z"),
            "{s}"
        );

        let e = Error::new(ErrorKind::PaymentRequired)
            .with_http_status(402)
            .with_vendor_code(402)
            .with_message("Insufficient credits")
            .with_retry_after(Some(Duration::from_secs(2)));
        let s = e.to_string();
        assert!(
            s.contains("top up")
                && s.contains("HTTP 402")
                && s.contains("vendor code 402")
                && s.contains("retry after 2.0s"),
            "{s}"
        );
    }

    /// The last attempt's time is what a query rebuilt from a logged error needs to reach a
    /// task made by a late retry: said beside the submit time when it is another time.
    #[test]
    fn an_unknown_outcome_names_its_last_attempt_when_it_is_not_the_submit() {
        let submitted = std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let unknown = |operation: &'static str| {
            Error::new(ErrorKind::OutcomeUnknown {
                idempotency_key: (operation != "delete_task").then(|| "k-1".into()),
                task_id: None,
                submitted_at: submitted,
                request: RequestSummary::default(),
            })
            .with_provider(Provider::Vmeg)
            .with_operation(operation)
        };
        let at = crate::time::format_rfc3339;
        for operation in ["clone_voice", "delete_task"] {
            let late = submitted + Duration::from_millis(95_250);
            let s = unknown(operation).with_last_attempt_at(late).to_string();
            assert!(s.contains(&at(submitted)), "{s}");
            assert!(s.contains(&format!("last attempt at {}", at(late))), "{s}");
            // Within the same millisecond, or not decided by the retry loop: one time.
            for e in [
                unknown(operation).with_last_attempt_at(submitted + Duration::from_micros(300)),
                unknown(operation),
            ] {
                let s = e.to_string();
                assert!(!s.contains("last attempt"), "{s}");
                assert_eq!(s.matches(&at(submitted)).count(), 1, "{s}");
            }
        }
    }

    #[test]
    fn display_holds_the_cause_and_source_is_none() {
        let io = std::io::Error::other("connection reset by peer");
        let e = Error::new(ErrorKind::Transport)
            .with_phase(Phase::Sent)
            .with_source(io);
        let s = e.to_string();
        assert!(s.ends_with(": connection reset by peer"), "{s}");
        assert_eq!(s.matches("connection reset by peer").count(), 1, "{s}");
        assert!(std::error::Error::source(&e).is_none());
        assert_eq!(e.phase(), Phase::Sent);
        assert_eq!(
            Error::new(ErrorKind::InvalidInput {
                field: "f".into(),
                reason: "r".into()
            })
            .phase(),
            Phase::NotSent
        );
        assert_eq!(Error::new(ErrorKind::Server).phase(), Phase::Answered);
    }
}
