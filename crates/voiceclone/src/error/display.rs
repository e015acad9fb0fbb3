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
        #[cfg(feature = "long-text")]
        if let Some(t) = &i.another_parts_task {
            d.field("named_another_parts_task", t);
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
            // A part's task the vendor says failed: that part, its input fixed, is what is
            // sent again (a rerun of the plan does so), never the whole text.
            ErrorKind::TaskFailed { job_id, reason } if whole_text_may_be_paid(i) => write!(
                f,
                "task {job_id} failed: {reason}; fix that part's input and submit that part again"
            )?,
            // The first failed part's advice ("top up, then submit again") read as the whole
            // text's would pay again for the parts already created (`may_resubmit` is false):
            // the text's own advice follows instead.
            kind => match without_resend_advice(kind).filter(|_| whole_text_may_be_paid(i)) {
                Some(what) => f.write_str(&what)?,
                // A wait or a status read of a task the caller holds: "does not know this
                // resource" or "top up, then submit again" read as "it is gone, send it
                // again", which `may_resubmit` says not to do (review 33-a #6). Not for a
                // create or a resend refused so: it has no task to speak of, and its own
                // advice (fix the request) and note stand (review 33 pass 2 #1).
                None => match about_a_held_task(i).then(|| with_task_kept(kind)).flatten() {
                    Some(text) => f.write_str(&text)?,
                    None => write!(f, "{kind}")?,
                },
            },
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
        if whole_text_may_be_paid(i) {
            write!(f, ". {WHOLE_TEXT_ADVICE}")?;
        }
        if let Some(n) = &i.note {
            write!(f, ". Note: {n}")?;
        }
        Ok(())
    }
}

/// What a failed long text advises instead of its first failed part's own advice, once some
/// part was or may have been created.
const WHOLE_TEXT_ADVICE: &str = "Long text: do not submit the whole text again: some of its parts were or may have been created, and would be paid for twice; send again only the parts refused, never sent, or whose task the vendor said failed (not one taken as failed by assumption, which may still run; see Error::long_text_parts)";

/// Whether the error is a long text's of more than one part, with a part that was or may
/// have been created. (Of one part, that part is the whole text: its own advice stands.)
fn whole_text_may_be_paid(i: &super::Inner) -> bool {
    #[cfg(feature = "long-text")]
    {
        i.task_may_exist && i.parts.as_ref().is_some_and(|p| p.len() > 1)
    }
    #[cfg(not(feature = "long-text"))]
    {
        let _ = i;
        false
    }
}

/// The calls that read or wait for a task by an id the caller holds.
const ABOUT_A_HELD_TASK: [&str; 5] = [
    "clone_status",
    "speech_status",
    "wait_for_clone",
    "wait_for_speech",
    "task",
];

/// Whether the error is a read's or a wait's of a task the caller holds, which exists or may
/// exist (`may_resubmit` is false).
fn about_a_held_task(i: &super::Inner) -> bool {
    i.task_may_exist && i.operation.is_some_and(|o| ABOUT_A_HELD_TASK.contains(&o))
}

/// The text of a kind whose own words read as "nothing is there, send it again", for a read
/// or a wait of a task the caller holds: what went wrong, then that it does not show the
/// task gone. Worded to stand beside a caller's own choice (the CLI's `--resubmit-unknown`)
/// and a note's advice. `None` for the kinds whose own text stands.
fn with_task_kept(kind: &ErrorKind) -> Option<String> {
    let what = match kind {
        ErrorKind::NotFound => "the provider does not know this resource (check the id, and that it belongs to this provider and API key)".to_owned(),
        ErrorKind::InvalidRequest | ErrorKind::PaymentRequired => without_resend_advice(kind)?,
        _ => return None,
    };
    Some(format!(
        "{what}; that does not show the task is gone (it may be just created and not yet readable): this error alone is no reason to submit it again"
    ))
}

/// What the kind says went wrong without its advice, for kinds that advise sending the
/// request again (each is the start of the kind's own text, up to its `;`).
fn without_resend_advice(kind: &ErrorKind) -> Option<String> {
    Some(match kind {
        ErrorKind::InvalidInput { field, reason } => {
            format!("invalid input `{field}` (your input): {reason}")
        }
        ErrorKind::PaymentRequired => "not enough credits or balance".to_owned(),
        ErrorKind::InvalidRequest => "the provider refused the request as invalid".to_owned(),
        ErrorKind::PayloadTooLarge => {
            "the request body or upload is too large for the provider".to_owned()
        }
        ErrorKind::RateLimited => "the provider is rate limiting this account".to_owned(),
        ErrorKind::Server => "the provider reported a server-side failure".to_owned(),
        ErrorKind::Timeout => "the request timed out".to_owned(),
        // `TaskFailed` has its own long-text wording (the part to send again), above.
        _ => return None,
    })
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

    /// The text a failed long text prints in place of a kind's own is that kind's, cut
    /// before its advice: rewording a kind must not leave the two apart.
    #[test]
    fn a_kind_without_its_advice_is_the_start_of_its_own_text() {
        let kinds = [
            ErrorKind::InvalidInput {
                field: "text".into(),
                reason: "empty; or blank".into(),
            },
            ErrorKind::PaymentRequired,
            ErrorKind::InvalidRequest,
            ErrorKind::PayloadTooLarge,
            ErrorKind::RateLimited,
            ErrorKind::Server,
            ErrorKind::Timeout,
        ];
        for kind in kinds {
            let what = without_resend_advice(&kind).unwrap_or_default();
            let own = kind.to_string();
            assert!(
                !what.is_empty() && own.starts_with(&format!("{what}; ")),
                "{own} / {what}"
            );
        }
        assert_eq!(without_resend_advice(&ErrorKind::Conflict), None);
    }

    /// Only a long text some part of which may exist drops the kind's advice to send again.
    #[cfg(feature = "long-text")]
    #[test]
    fn a_long_text_with_a_part_made_never_advises_sending_it_again() {
        let parts = || {
            vec![
                crate::long_text::PartOutcome::NotSent,
                crate::long_text::PartOutcome::NotSent,
            ]
        };
        let made = Error::new(ErrorKind::Timeout)
            .with_long_text_parts(parts())
            .task_may_exist()
            .to_string();
        assert!(!made.contains("try again"), "{made}");
        assert!(made.contains(WHOLE_TEXT_ADVICE), "{made}");
        let nothing_made = Error::new(ErrorKind::Timeout)
            .with_long_text_parts(parts())
            .to_string();
        assert!(nothing_made.contains("safe to try again"), "{nothing_made}");
        let one_call = Error::new(ErrorKind::Timeout).task_may_exist().to_string();
        assert!(one_call.contains("safe to try again"), "{one_call}");
        // Review 26 pass 2 #2: a part whose task failed is the part to send again, its input
        // fixed; the whole-text advice names such parts among those to send.
        let failed = Error::new(ErrorKind::TaskFailed {
            job_id: crate::JobId::new("t2"),
            reason: "unsupported characters".into(),
        })
        .with_long_text_parts(parts())
        .task_may_exist()
        .to_string();
        assert!(
            failed.contains("fix that part's input and submit that part again"),
            "{failed}"
        );
        assert!(
            failed.contains("whose task the vendor said failed"),
            "{failed}"
        );
        assert!(failed.contains("by assumption"), "{failed}");
        assert!(!failed.contains("submit a new task"), "{failed}");
        // Review 26 pass 3 #1: a text of one part is that part: its own advice stands, and
        // no "do not submit the whole text again" beside it.
        let one_part = Error::new(ErrorKind::TaskFailed {
            job_id: crate::JobId::new("t1"),
            reason: "unsupported characters".into(),
        })
        .with_long_text_parts(vec![crate::long_text::PartOutcome::NotSent])
        .task_may_exist()
        .to_string();
        assert!(one_part.contains("submit a new task"), "{one_part}");
        assert!(!one_part.contains("whole text"), "{one_part}");
    }

    /// Review 33-a #6: a wait or status read refused as not found, invalid or unpaid is about
    /// a task that may exist (`may_resubmit` is false); its text says so instead of reading as
    /// "gone, send it again". The same kinds of a call that made nothing keep their words.
    #[test]
    fn a_refusal_about_a_task_that_may_exist_never_reads_as_gone() {
        for kind in [
            ErrorKind::NotFound,
            ErrorKind::InvalidRequest,
            ErrorKind::PaymentRequired,
        ] {
            let plain = Error::new(kind.clone()).to_string();
            assert_eq!(plain, kind.to_string());
            for op in ABOUT_A_HELD_TASK {
                let kept = Error::new(kind.clone()).with_operation(op).task_may_exist();
                assert!(!kept.may_resubmit());
                let text = kept.to_string();
                assert!(
                    text.contains("does not show the task is gone")
                        && text.contains("no reason to submit it again"),
                    "{text}"
                );
                assert!(
                    !text.contains("submit again") && !text.contains("sending it again"),
                    "{text}"
                );
            }
            // Review 33 pass 2 #1: a create (or resend) refused so has no task to speak of;
            // its own advice stands beside the note that says what to check.
            for op in [
                "clone_voice",
                "synthesize",
                "resend_speech",
                "resubmit_clone",
            ] {
                let create = Error::new(kind.clone()).with_operation(op).task_may_exist();
                assert!(!create.to_string().contains("task is gone"), "{create}");
            }
        }
        let not_found = Error::new(ErrorKind::NotFound)
            .with_operation("wait_for_clone")
            .task_may_exist()
            .to_string();
        assert!(not_found.contains("check the id"), "{not_found}");
        // Kinds whose own words invite no resend keep them.
        let key = Error::new(ErrorKind::Unauthorized)
            .with_operation("wait_for_clone")
            .task_may_exist()
            .to_string();
        assert!(key.ends_with(&ErrorKind::Unauthorized.to_string()), "{key}");
    }

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
                body: None,
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
