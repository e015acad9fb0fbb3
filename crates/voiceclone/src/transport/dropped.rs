//! A write whose task may exist while nobody may hold what finds it is logged once at WARN with
//! that: its key, the task id an answer named (or the text of one that is no usable id), its
//! submit time (a resend's: its key's first submit, as its returned error is dated) and its
//! last attempt's, its request id and its request's identifying fields. Two ways lead there:
//! - its call is dropped after a request of it may have reached the provider (a `select!`, a
//!   timer around it, a web handler cancelled when its own client went away): no error will
//!   ever carry them;
//! - it ends with its outcome unknown (or refused by a code the vendor does not document): the
//!   error carries them, but the caller may drop it unread. A long text's part error lives in
//!   its future until every part has ended, and JimmyAI has no task list to find one in.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use super::{Call, Transport};
use crate::error::{Error, ErrorKind, RequestSummary};
use crate::model::{JobId, Provider};

/// The long text's part a write is sent for, named in its WARN line: a VMEG part's `request`
/// hashes each of its lines apart, none of them the part's own text, so without this its line
/// could not be told from another part's.
#[derive(Clone, Debug)]
pub(crate) struct LongPartTag {
    /// From 1.
    pub(crate) part: usize,
    pub(crate) parts: usize,
    /// The first 8 hex digits of the part's `LongPart::text_sha256`.
    pub(crate) sha256: String,
    /// The idempotency key the long text drew for this part (not the caller's): a 409 on it
    /// says an attempt of this very submit landed, as for a key the submit drew itself.
    pub(crate) drawn_key: Option<String>,
}

tokio::task_local! {
    // A task-local, not a span: a subscriber at WARN has no INFO span to show, and the line
    // of a dropped call is written while the future is dropped (still in scope: tokio drops
    // a scoped future with its value set).
    static LONG_PART: LongPartTag;
}

/// Whether `key` is the one the long text drew for the part being submitted (see
/// [`LongPartTag::drawn_key`]).
pub(crate) fn drawn_for_this_part(key: &str) -> bool {
    LONG_PART
        .try_with(|t| t.drawn_key.as_deref() == Some(key))
        .unwrap_or(false)
}

/// Runs `fut`, a long text's part submit, with `tag` named in any WARN line of its write.
#[cfg(feature = "long-text")]
pub(crate) fn for_long_part<F: std::future::Future>(
    tag: LongPartTag,
    fut: F,
) -> impl Future<Output = F::Output> {
    LONG_PART.scope(tag, fut)
}

/// Armed for a write with consequences once an attempt holds its slot (a call dropped while
/// queued sent nothing), and again unarmed when that attempt reached nothing (a refused
/// connect) and none before it had; disarmed when the call ends, however it ends.
pub(super) struct DroppedWrite<'a> {
    transport: &'a Transport,
    call: &'a Call<'a>,
    submitted_at: SystemTime,
    sent: AtomicBool,
    watching: bool,
}

impl<'a> DroppedWrite<'a> {
    pub(super) fn new(transport: &'a Transport, call: &'a Call<'a>) -> Self {
        Self {
            transport,
            call,
            submitted_at: SystemTime::now(),
            sent: AtomicBool::new(false),
            watching: call.kind.has_consequences(),
        }
    }

    /// An attempt may now put its request on the wire. Whether one had before.
    pub(super) fn sending(&self) -> bool {
        if self.call.kind.has_consequences() {
            // A resend of a create holds its key while this may be in flight at VMEG.
            crate::client::resend_sending(true);
        }
        self.sent.swap(true, Ordering::Relaxed)
    }

    /// The attempt that was sending reached nothing, and none before it had.
    pub(super) fn not_sent(&self) {
        if self.call.kind.has_consequences() {
            crate::client::resend_sending(false);
        }
        self.sent.store(false, Ordering::Relaxed);
    }

    /// The call ended: its error (or result) tells what happened. `task_may_exist`, its error
    /// when a task may exist after it (`retry::task_may_exist_after`), summary added and
    /// scrubbed, is logged now.
    pub(super) fn ended(mut self, task_may_exist: Option<&Error>) {
        self.watching = false;
        let Some(err) = task_may_exist else {
            return;
        };
        if let ErrorKind::OutcomeUnknown { .. } = err.kind() {
            warn_unknown_outcome(self.transport.provider, self.call.operation, err);
            return;
        }
        // A refusal that does not prove nothing was made: the error has no summary or submit
        // time of its own.
        let request = self.call.summary(&self.transport.scrubber);
        FindsTask {
            request_id: err.request_id(),
            ..self.finds(&request)
        }
        .warn(UNCONFIRMED_REFUSAL, Some(err.kind().as_str()));
    }

    /// What finds the task as this call knows it, its last attempt ending now (it ended or
    /// was dropped).
    fn finds<'b>(&'b self, request: &'b RequestSummary) -> FindsTask<'b> {
        FindsTask {
            provider: self.transport.provider,
            operation: self.call.operation,
            idempotency_key: self.call.idempotency_key,
            task_id: None,
            unusable_task_id: None,
            submitted_at: self.submitted_at,
            last_attempt_at: Some(SystemTime::now()),
            request_id: None,
            request,
        }
    }
}

impl Drop for DroppedWrite<'_> {
    fn drop(&mut self) {
        if !self.watching || !self.sent.load(Ordering::Relaxed) {
            return;
        }
        // Built only here: scrubbed, free text as its length and a hash, URLs without their
        // query (a presigned URL's signature).
        let request = self.call.summary(&self.transport.scrubber);
        self.finds(&request).warn(
            "write dropped mid-call; its outcome is unknown: look its task up before sending it again",
            None,
        );
    }
}

/// The line of a write refused by a code that does not prove nothing was made.
const UNCONFIRMED_REFUSAL: &str = "write refused by a code the vendor does not document, which does not prove nothing was made: look its task up before sending it again";

/// Logs `err`, a refusal after which a task may exist (`retry::task_may_exist_after`), as the
/// transport logs one: the fake's, which has no transport.
#[cfg(feature = "fake")]
pub(crate) fn warn_unconfirmed_refusal(
    provider: Provider,
    operation: &str,
    idempotency_key: Option<&str>,
    submitted_at: SystemTime,
    request: &RequestSummary,
    err: &Error,
) {
    FindsTask {
        provider,
        operation,
        idempotency_key,
        task_id: None,
        unusable_task_id: None,
        submitted_at,
        last_attempt_at: Some(SystemTime::now()),
        request_id: err.request_id(),
        request,
    }
    .warn(UNCONFIRMED_REFUSAL, Some(err.kind().as_str()));
}

/// Logs `err`, an `OutcomeUnknown` with its request summary, once at WARN with what finds its
/// task (see the module docs). Anything else is not logged here.
pub(crate) fn warn_unknown_outcome(provider: Provider, operation: &str, err: &Error) {
    if let ErrorKind::OutcomeUnknown {
        idempotency_key,
        task_id,
        submitted_at,
        request,
    } = err.kind()
    {
        FindsTask {
            provider,
            operation,
            idempotency_key: idempotency_key.as_deref(),
            task_id: task_id.as_ref(),
            unusable_task_id: err.unusable_task_id(),
            submitted_at: *submitted_at,
            last_attempt_at: err.last_attempt_at(),
            request_id: err.request_id(),
            request,
        }
        .warn(
            "write outcome unknown; not resending: look its task up before sending it again",
            None,
        );
    }
}

/// What finds the task of one write, as its WARN line gives it.
struct FindsTask<'a> {
    provider: Provider,
    operation: &'a str,
    idempotency_key: Option<&'a str>,
    /// The task an answer named (typed, as a job id is stored).
    task_id: Option<&'a JobId>,
    /// A task id an answer named that is no usable id: scrubbed and cut where it was read.
    unusable_task_id: Option<&'a str>,
    /// This call's start; a resend's line gives its key's first submit instead.
    submitted_at: SystemTime,
    /// When the last attempt ended: a task a late attempt made is no younger.
    last_attempt_at: Option<SystemTime>,
    request_id: Option<&'a str>,
    /// Scrubbed: free text as its length and a hash, URLs without their query.
    request: &'a RequestSummary,
}

impl FindsTask<'_> {
    fn warn(&self, why: &str, error_kind: Option<&str>) {
        let tag = LONG_PART.try_with(LongPartTag::clone).ok();
        // Dated as a resend's returned error is (`dated_from_first_submit`): a search from the
        // resend's own start would miss the first submit's task.
        let first = crate::client::resent_first_submitted_at();
        let submitted_at = first.map_or(self.submitted_at, |f| f.min(self.submitted_at));
        tracing::warn!(
            provider = %self.provider,
            operation = self.operation,
            part = tag.as_ref().map(|t| t.part),
            parts = tag.as_ref().map(|t| t.parts),
            part_sha256 = tag.as_ref().map(|t| tracing::field::display(&t.sha256)),
            idempotency_key = self.idempotency_key,
            task_id = self.task_id.map(tracing::field::display),
            named_task_id = self.unusable_task_id.map(tracing::field::debug),
            submitted_at = %crate::time::format_rfc3339(submitted_at),
            resend = first.is_some().then_some(true),
            last_attempt_at = self
                .last_attempt_at
                .map(|t| tracing::field::display(crate::time::format_rfc3339(t))),
            request_id = self.request_id,
            request = %self.request,
            error_kind,
            "{why}"
        );
    }
}
