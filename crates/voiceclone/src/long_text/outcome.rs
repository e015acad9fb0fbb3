//! Where each part of a long text ended when `Client::synthesize_long` fails: every part
//! whose task may exist is named with what finds it again, so a failure of several parts at
//! once loses none of them (`Error::long_text_parts`).

use std::time::SystemTime;

use crate::model::{JobId, Speech};

/// Where one part of a failed [`Client::synthesize_long`](crate::Client::synthesize_long)
/// or [`synthesize_plan`](crate::Client::synthesize_plan) ended, in plan order
/// ([`Error::long_text_parts`](crate::Error::long_text_parts)).
///
/// Only [`PartOutcome::Refused`] and [`PartOutcome::NotSent`] say that a part made no task;
/// a variant added later may not, so a catch-all arm must not read as "never created". Each
/// variant's fields may grow too (`#[non_exhaustive]`): match them with `..`.
///
/// ```
/// use voiceclone::long_text::PartOutcome;
///
/// fn report(err: &voiceclone::Error) {
///     for (i, part) in err.long_text_parts().unwrap_or_default().iter().enumerate() {
///         let n = i + 1;
///         match part {
///             PartOutcome::Finished { job_id, .. } => println!("{n}: done ({job_id})"),
///             PartOutcome::Accepted { job_id, .. } => println!("{n}: follow {job_id}"),
///             PartOutcome::Failed { job_id, assumed_status: Some(word), .. } => {
///                 // Read as failed from a status word the vendor does not document.
///                 println!("{n}: {job_id} said {word:?}, may still finish: check it")
///             }
///             PartOutcome::Failed { job_id, .. } => println!("{n}: {job_id} failed"),
///             PartOutcome::Unknown { named_another_parts_task: Some(other), .. } => {
///                 // Never resent: a server that named another part's task may do so again.
///                 println!("{n}: unknown, answered with {other}: look it up, do not resend")
///             }
///             PartOutcome::Unknown { idempotency_key, submitted_at, .. } => {
///                 // Resend with the same key (`Client::resend_speech`), or look it up.
///                 println!("{n}: unknown, key {idempotency_key:?} sent {submitted_at:?}")
///             }
///             PartOutcome::Refused { .. } | PartOutcome::NotSent => {
///                 println!("{n}: never created")
///             }
///             _ => println!("{n}: may exist: check before sending it again"),
///         }
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum PartOutcome {
    /// Finished: its job and its audio.
    #[non_exhaustive]
    Finished {
        /// The part's job.
        job_id: JobId,
        /// Its audio.
        speech: Speech,
    },
    /// Accepted, but waiting for it failed (a timeout, a poll refused): it may still
    /// finish, and be billed. Follow it with `wait_for_speech`.
    #[non_exhaustive]
    Accepted {
        /// The part's job.
        job_id: JobId,
        /// Why the wait failed.
        error: String,
    },
    /// Accepted, and the task failed; or, with `assumed_status`, was read as failed from a
    /// status word the vendor does not document: then the task may still be alive (and
    /// finish, and be billed), so check it before sending the part again.
    #[non_exhaustive]
    Failed {
        /// The part's job.
        job_id: JobId,
        /// The vendor's reason (or a placeholder when it gave none).
        reason: String,
        /// The undocumented status word the failure was read from
        /// ([`Error::assumed_status`](crate::Error::assumed_status)); `None` when the vendor
        /// stated the failure in its documented terms.
        assumed_status: Option<String>,
    },
    /// Whether its submit created a task is unknown: its answer was lost, or it failed in a
    /// way that does not prove nothing was made ([`Error::may_resubmit`] false, e.g.
    /// JimmyAI's undocumented 20002 in an HTTP 2xx, or a server error), or it named a task
    /// another part's answer named too ("the answer named another part's task": which part's
    /// text that task holds is unknown, so it is never in `task_id` here, but in
    /// `named_another_parts_task`). Resend it with the same key (`Client::resend_speech`,
    /// VMEG, when the key is known) or look it up (`Client::reconcile`, or the vendor's
    /// console for JimmyAI) before sending it again; but not a part with
    /// `named_another_parts_task`: a server that answered so once (a caching proxy) may
    /// answer a resend the same way, and that task is not known to be this part's. Its error
    /// names the task in `Error::named_another_parts_task` (not as its `task_id`), so
    /// `Client::resubmit_speech` of it is refused, as for any answer naming a task, and
    /// `reconcile` of `ReconcileQuery::from_error` never answers it as this part's task.
    ///
    /// [`Error::may_resubmit`]: crate::Error::may_resubmit
    #[non_exhaustive]
    Unknown {
        /// The key it was sent with (VMEG: every part's, whatever its error; JimmyAI takes
        /// none).
        idempotency_key: Option<String>,
        /// When it was sent (when it was about to be: noted before the submit).
        submitted_at: SystemTime,
        /// When its last attempt ended, when the retries say, or when its answer came.
        last_attempt_at: Option<SystemTime>,
        /// A task id an answer named, if any.
        task_id: Option<JobId>,
        /// The task its answer named when another part's answer named it too (a server
        /// naming one task for two submits): not known to be this part's, and a resend may
        /// be answered the same way, so such a part is looked up, not resent. `None` when no
        /// answer named one, or no other part's did.
        named_another_parts_task: Option<JobId>,
        /// What its submit met (the error's text).
        error: String,
    },
    /// Its submit was refused in a way that proves it created nothing
    /// ([`Error::may_resubmit`](crate::Error::may_resubmit) true).
    #[non_exhaustive]
    Refused {
        /// Why.
        error: String,
    },
    /// Never submitted, because an earlier part failed first or the call's deadline passed
    /// before its turn.
    NotSent,
}

impl PartOutcome {
    /// Scrubs the API key from what the outcome prints (its errors' text, a caller's key or
    /// id holding the key pasted into it); the last scrub of an error that carries parts.
    pub(crate) fn scrub(&mut self, scrubber: &crate::scrub::Scrubber) {
        let text = |t: &mut String| *t = scrubber.scrub_owned(std::mem::take(t));
        match self {
            PartOutcome::Finished { job_id, .. } => crate::error::scrub_job_id(job_id, scrubber),
            PartOutcome::Accepted { job_id, error: t } => {
                crate::error::scrub_job_id(job_id, scrubber);
                text(t);
            }
            PartOutcome::Failed {
                job_id,
                reason,
                assumed_status,
            } => {
                crate::error::scrub_job_id(job_id, scrubber);
                text(reason);
                if let Some(word) = assumed_status {
                    text(word);
                }
            }
            PartOutcome::Unknown {
                task_id,
                named_another_parts_task,
                error,
                ..
            } => {
                text(error);
                // Kept, scrubbed, even if it held the key: it is what says not to resend.
                if let Some(other) = named_another_parts_task {
                    crate::error::scrub_job_id(other, scrubber);
                }
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
