//! Where each part of a long text ended when `Client::synthesize_long` fails: every part
//! whose task may exist is named with what finds it again, so a failure of several parts at
//! once loses none of them (`Error::long_text_parts`).

use std::time::SystemTime;

use crate::model::{JobId, Speech};

/// Where one part of a failed [`Client::synthesize_long`](crate::Client::synthesize_long)
/// or [`synthesize_plan`](crate::Client::synthesize_plan) ended, in plan order
/// ([`Error::long_text_parts`](crate::Error::long_text_parts)).
///
/// ```
/// use voiceclone::long_text::PartOutcome;
///
/// fn report(err: &voiceclone::Error) {
///     for (i, part) in err.long_text_parts().unwrap_or_default().iter().enumerate() {
///         match part {
///             PartOutcome::Finished { job_id, .. } => println!("part {}: done ({job_id})", i + 1),
///             PartOutcome::Accepted { job_id, .. } => println!("part {}: follow {job_id}", i + 1),
///             PartOutcome::Unknown { idempotency_key, submitted_at, .. } => {
///                 // Resend with the same key (`Client::resend_speech`), or reconcile.
///                 println!("part {}: unknown, key {idempotency_key:?} sent at {submitted_at:?}", i + 1)
///             }
///             _ => println!("part {}: never created", i + 1),
///         }
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum PartOutcome {
    /// Finished: its job and its audio.
    Finished {
        /// The part's job.
        job_id: JobId,
        /// Its audio.
        speech: Speech,
    },
    /// Accepted, but waiting for it failed (a timeout, a poll refused): it may still
    /// finish, and be billed. Follow it with `wait_for_speech`.
    Accepted {
        /// The part's job.
        job_id: JobId,
        /// Why the wait failed.
        error: String,
    },
    /// Accepted, and the task failed.
    Failed {
        /// The part's job.
        job_id: JobId,
        /// The vendor's reason (or a placeholder when it gave none).
        reason: String,
    },
    /// Whether its submit created a task is unknown: resend it with the same key
    /// (`Client::resend_speech`, VMEG) or look it up (`Client::reconcile`) before sending it
    /// again.
    Unknown {
        /// The key it was sent with (VMEG; JimmyAI takes none).
        idempotency_key: Option<String>,
        /// When it was sent.
        submitted_at: SystemTime,
        /// When its last attempt ended, when the retries say.
        last_attempt_at: Option<SystemTime>,
        /// A task id an answer named, if any.
        task_id: Option<JobId>,
    },
    /// Its submit was refused: it created nothing.
    Refused {
        /// Why.
        error: String,
    },
    /// Never submitted, because an earlier part failed first.
    NotSent,
}

impl PartOutcome {
    /// Scrubs the API key from what the outcome prints (its errors' text, a caller's key or
    /// id holding the key pasted into it); the last scrub of an error that carries parts.
    pub(crate) fn scrub(&mut self, scrubber: &crate::scrub::Scrubber) {
        let text = |t: &mut String| *t = scrubber.scrub_owned(std::mem::take(t));
        match self {
            PartOutcome::Finished { job_id, .. } => crate::error::scrub_job_id(job_id, scrubber),
            PartOutcome::Accepted { job_id, error: t }
            | PartOutcome::Failed { job_id, reason: t } => {
                crate::error::scrub_job_id(job_id, scrubber);
                text(t);
            }
            PartOutcome::Unknown { task_id, .. } => {
                // Its idempotency key is kept as sent: `resend_speech` must reuse it, and a
                // submit never sends one holding a piece of the API key.
                // A task id holding the key came from a server: it is no id.
                if task_id
                    .as_ref()
                    .is_some_and(|t| scrubber.finds_secret_in(t.as_str()))
                {
                    *task_id = None;
                }
            }
            PartOutcome::Refused { error } => text(error),
            PartOutcome::NotSent => {}
        }
    }
}
