//! One error type for everything the adapter can report, and the tables that turn vendor
//! codes, HTTP statuses and transport failures into an [`ErrorKind`].
//!
//! Every message says what happened and what to do about it. Errors never hold a secret: the
//! API key only ever lives in a header, and vendor messages are cut to a bounded length.

mod display;
mod download;
mod kind;
mod step;
mod webhook;

use std::time::Duration;

pub use download::DownloadFailure;
pub(crate) use kind::BodyDigest;
pub use kind::{ErrorKind, RequestSummary};
pub use step::UploadStep;
pub use webhook::WebhookFailure;

use crate::model::Provider;

/// How far a failed request got: what tells whether it could have been processed.
///
/// Retrying a write the vendor cannot deduplicate is only safe when it provably was not
/// processed ([`Phase::NotSent`]); after [`Phase::Sent`] a write may have taken effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Nothing reached the provider: refused before sending (invalid input, unsupported
    /// operation) or the connection was never established.
    NotSent,
    /// Sent (maybe partly) but no complete answer came back (timeout, connection broken
    /// mid-request): the outcome is unknown. Every [`ErrorKind::OutcomeUnknown`] has this
    /// phase, whatever its call's last attempt met (a gateway's 502, a later refused connect).
    Sent,
    /// The provider (or a proxy in front of it) answered.
    Answered,
}

pub(crate) const MAX_MESSAGE_CHARS: usize = 500;

/// A server's text as it is shown and kept: each run of whitespace or control characters
/// one space (a newline would start a forged log line), at most `max` characters.
/// `text` cut to `max` characters (never inside one), `…` added when anything was cut.
pub(crate) fn cut(text: &str, max: usize) -> String {
    let mut kept: String = text.chars().take(max).collect();
    if kept.len() < text.len() {
        kept.push('…');
    }
    kept
}

pub(crate) fn folded(text: &str, max: usize) -> String {
    let mut out = String::new();
    let (mut shown, mut gap) = (0usize, false);
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            gap = !out.is_empty();
            continue;
        }
        let need = if gap { 2 } else { 1 };
        if shown.saturating_add(need) > max {
            break;
        }
        if std::mem::take(&mut gap) {
            out.push(' ');
        }
        out.push(c);
        shown = shown.saturating_add(need);
    }
    out
}

/// The adapter's error: a [`ErrorKind`] plus whatever the provider said.
///
/// `Display` is complete: provider and operation, what happened and what to do, the HTTP
/// status, vendor code and message, and last the lower-level failure's text (a network
/// error, say). [`std::error::Error::source`] therefore returns `None`: printing the chain
/// (as `anyhow` and most reporters do) shows every part exactly once.
pub struct Error(Box<Inner>);

// Not `Error: Clone` (public API): `Error::duplicate` for the crate's own use.
#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    provider: Option<Provider>,
    operation: Option<&'static str>,
    http_status: Option<u16>,
    vendor_code: Option<i64>,
    message: Option<String>,
    retry_after: Option<Duration>,
    phase: Phase,
    /// The HTTP status a vendor code stands for, for vendors whose codes mirror statuses
    /// (set by the provider module; see `effective_status`).
    code_status: Option<u16>,
    /// A task id the answer named (kept for an `OutcomeUnknown`).
    task_id: Option<String>,
    /// A task id the answer named that is no usable id (quoted as it came, cut): not one to
    /// look up by, but for a JimmyAI create, which no list finds again, maybe all there is.
    unusable_task_id: Option<String>,
    /// The body carried the success code although the status was not a 2xx.
    claimed_success: bool,
    /// The kind came from a vendor code table the vendor does not document (JimmyAI's).
    unconfirmed_code: bool,
    /// The answer was about another task than the one asked (a proxy's or cache's mix-up):
    /// a wait polls again rather than ending on it, a few times (`UNREADABLE_POLLS_TOLERATED`).
    misrouted: bool,
    /// The answer was no envelope at all (a proxy's page sent with a 2xx): it says nothing
    /// of the task, so a wait polls again, a few times (`UNREADABLE_POLLS_TOLERATED`).
    unreadable: bool,
    /// The answer was a success envelope holding no task (`data` null or absent; perhaps an
    /// id the vendor does not know yet): it says nothing final of the task either, so a wait
    /// polls again, in the same row as unreadable answers.
    without_task: bool,
    /// A speech task finished, none of its lines' audio could be read and none failed by
    /// the vendor's word: which lines, and why (see `Error::audio_unreadable`).
    audio_unreadable: Option<String>,
    /// The text of the lower-level failure (reqwest's), printed by `Display`.
    cause: Option<String>,
    /// Which step of a clone from a local recording failed.
    step: Option<UploadStep>,
    /// What this crate adds to explain the failure (an UNKNOWN vendor fact, say).
    note: Option<String>,
    /// The request id of the attempt that produced this error (VMEG `req_id`).
    request_id: Option<crate::transport::RequestId>,
    /// For an `OutcomeUnknown`: when the call's last attempt ended.
    last_attempt_at: Option<std::time::SystemTime>,
    /// The error came from a call about a task that exists or may exist (a wait on an
    /// accepted task, the lookup of a succeeded task's result, a resend or search for an
    /// unknown outcome, a long text with parts sent): whatever its kind, nothing is to be
    /// submitted again.
    task_may_exist: bool,
    /// For a `TaskFailed`: the vendor's status word it was read from, when the vendor does
    /// not document that word (the failure is an assumption).
    assumed_status: Option<String>,
    /// For a failed long text: where every part ended.
    #[cfg(feature = "long-text")]
    parts: Option<Vec<crate::long_text::PartOutcome>>,
    /// For a long text's part of unknown outcome: the task its answer named that another
    /// part's answer named too. Never the kind's `task_id`: `ReconcileQuery::from_error`
    /// would take it as this submit's own task and `reconcile` answer `Found` with it.
    #[cfg(feature = "long-text")]
    another_parts_task: Option<crate::model::JobId>,
    /// For an `OutcomeUnknown` the transport made: the client's API key (as a salted tag)
    /// and base URL, which a resend or search of it must be made under.
    sent_under: Option<crate::sent_under::SentUnder>,
}

impl Error {
    /// An error of this kind with no further detail.
    pub fn new(kind: ErrorKind) -> Self {
        let phase = match kind {
            ErrorKind::InvalidInput { .. } | ErrorKind::Unsupported { .. } => Phase::NotSent,
            _ => Phase::Answered,
        };
        Error(Box::new(Inner {
            kind,
            provider: None,
            operation: None,
            http_status: None,
            vendor_code: None,
            message: None,
            retry_after: None,
            phase,
            code_status: None,
            task_id: None,
            unusable_task_id: None,
            claimed_success: false,
            unconfirmed_code: false,
            misrouted: false,
            unreadable: false,
            without_task: false,
            audio_unreadable: None,
            cause: None,
            step: None,
            note: None,
            request_id: None,
            last_attempt_at: None,
            task_may_exist: false,
            assumed_status: None,
            #[cfg(feature = "long-text")]
            parts: None,
            #[cfg(feature = "long-text")]
            another_parts_task: None,
            sent_under: None,
        }))
    }

    pub(crate) fn invalid_input(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        })
    }

    pub(crate) fn unsupported(operation: &'static str, provider: Provider) -> Self {
        Error::new(ErrorKind::Unsupported {
            operation: operation.to_owned(),
            provider,
        })
        .with_provider(provider)
        .with_operation(operation)
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// The provider involved, when there was one.
    pub fn provider(&self) -> Option<Provider> {
        self.0.provider
    }

    /// The client method that failed (`clone_voice`, `wait_for_speech`, ...).
    pub fn operation(&self) -> Option<&'static str> {
        self.0.operation
    }

    /// The HTTP status of the response, when there was one.
    pub fn http_status(&self) -> Option<u16> {
        self.0.http_status
    }

    /// The vendor's business `code`, when the body carried one.
    pub fn vendor_code(&self) -> Option<i64> {
        self.0.vendor_code
    }

    /// The vendor's message (cut to 500 characters).
    pub fn message(&self) -> Option<&str> {
        self.0.message.as_deref()
    }

    /// The wait the provider asked for (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// May the write that failed be submitted again (a new call, new key) without risking a
    /// second billed task? `true` only when the provider certainly did not create one: the
    /// request was refused before sending, never reached the provider, or was answered with
    /// a refusal that proves it was not processed (invalid input or request, auth, payment,
    /// size, rate limit, unsupported), or with a server fault whose HTTP status says nothing
    /// was done (a 501, 505 or 511, a CDN's 521-523, 525 or 526, naming no task). `false` for
    /// everything else, above all `OutcomeUnknown`, `Conflict` (the key was already used: the
    /// earlier task exists), timeouts and the other server errors (a 500, a gateway's 502 or
    /// 504, any 503: the vendor's own "busy" envelope is a shape a gateway may copy, and
    /// JimmyAI's code `-1` is UNCONFIRMED), where the task may exist: look it up first. Always
    /// `false`, whatever the kind, for an error of a call about a task that exists or may
    /// exist: a status read, a task lookup or deletion, and a wait (an id refused before
    /// sending included: these create nothing, and the id may name a job that exists; a
    /// poll refused with 401 after a key rotation; a
    /// succeeded VMEG clone whose voice lookup failed), `resubmit_*`, `resend_speech` and
    /// `reconcile` (the first submit's outcome is still unknown; this includes refusing an
    /// error that was no `OutcomeUnknown`: the original error still says what it says), a
    /// long text some of whose parts were sent, and a create refused only by a code the
    /// vendor does not document (JimmyAI's 20001 or 20002 not behind an HTTP 4xx: the kind
    /// stays, [`Error::note`] says why).
    pub fn may_resubmit(&self) -> bool {
        if self.0.task_may_exist {
            return false;
        }
        match self.kind() {
            ErrorKind::InvalidInput { .. }
            | ErrorKind::Unauthorized
            | ErrorKind::PaymentRequired
            | ErrorKind::InvalidRequest
            | ErrorKind::PayloadTooLarge
            | ErrorKind::RateLimited
            | ErrorKind::Unsupported { .. } => true,
            ErrorKind::OutcomeUnknown { .. } | ErrorKind::Conflict => false,
            // A 5xx answer the retry table reads as "nothing was done" (a 501, a CDN's 525;
            // never a 503, see `retry::server_error_may_have_landed`): the caller may send it
            // again. Not a server code inside a 2xx, which no HTTP status backs.
            ErrorKind::Server => {
                self.phase() == Phase::NotSent
                    || (self.phase() == Phase::Answered
                        && self.named_task_id().is_none()
                        && self.http_status().is_some_and(|s| s >= 500)
                        && !crate::retry::server_error_may_have_landed(self))
            }
            _ => self.phase() == Phase::NotSent,
        }
    }

    /// How far the failed request got: not sent, sent with an unknown outcome, or
    /// answered. Errors that never involved a request (invalid input, a failed task, a
    /// wait that ran out) report [`Phase::NotSent`] or [`Phase::Answered`] as the last
    /// request did.
    pub fn phase(&self) -> Phase {
        self.0.phase
    }

    /// Which step of sending a local recording failed (clones and uploads from a file,
    /// bytes or a reader; `None` otherwise). Every step before
    /// [`UploadStep::SubmitClone`] leaves no clone submitted.
    pub fn step(&self) -> Option<UploadStep> {
        self.0.step
    }

    /// What this crate adds to explain the failure, e.g. that VMEG may not accept its own
    /// material URLs as clone audio (an undocumented fact).
    pub fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }

    /// For an [`ErrorKind::TaskFailed`] read from a status word the vendor does not document
    /// (VMEG's `timeout`, `expired`, `cancelled`, `error`, ...; it documents only `running`,
    /// `finished` and `failed`): that word. The failure is then an assumption: the task may
    /// still be alive, and a new submit may be billed as a second task, so check the task
    /// before submitting again. `Display` says so, without the advice to submit a new task.
    /// `None` for a failure the vendor stated in its own documented terms.
    pub fn assumed_status(&self) -> Option<&str> {
        self.0.assumed_status.as_deref()
    }

    /// Marks a `TaskFailed` as read from the undocumented status word `raw` (at most 64
    /// characters of it are kept).
    pub(crate) fn with_assumed_status(mut self, raw: &str) -> Self {
        self.0.assumed_status = Some(crate::model::shown_word(raw));
        self
    }

    /// The request id of the attempt that produced this error, to quote to the vendor's
    /// support: VMEG calls send one per attempt (`req_id`, a fresh random 32-hex-digit id for
    /// every attempt, retries included). `None` for JimmyAI (it takes none), and for errors
    /// no request of which can have reached the vendor (refused before sending, a failed
    /// connect) or that no single request produced (a wait that ran out, a failed task).
    /// For an [`ErrorKind::OutcomeUnknown`] it is the id of the last attempt that may have
    /// been processed (the one to ask support about), even when a later attempt was refused
    /// or never sent.
    ///
    /// ```
    /// # async fn run(client: voiceclone::Client, id: voiceclone::JobId) {
    /// if let Err(e) = client.clone_status(&id).await {
    ///     eprintln!("{e}; quote request id {:?} to support", e.request_id());
    /// }
    /// # }
    /// ```
    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_ref().map(|r| r.as_str())
    }

    pub(crate) fn with_request_id(mut self, id: crate::transport::RequestId) -> Self {
        self.0.request_id = Some(id);
        self
    }

    /// The request id as recorded (see [`Error::request_id`]).
    pub(crate) fn request_id_value(&self) -> Option<crate::transport::RequestId> {
        self.0.request_id
    }

    /// Sets or clears the request id (an unknown outcome's is its landed attempt's).
    pub(crate) fn replacing_request_id(mut self, id: Option<crate::transport::RequestId>) -> Self {
        self.0.request_id = id;
        self
    }

    /// For an [`ErrorKind::OutcomeUnknown`]: when the call's last attempt ended. A task the
    /// call created was created between its `submitted_at` and this time; with retries (and
    /// their pauses) it can be minutes after `submitted_at`.
    /// [`ReconcileQuery::from_error`](crate::ReconcileQuery::from_error) searches the whole
    /// span. `None` for other errors, and for outcomes not decided by the retry loop.
    pub fn last_attempt_at(&self) -> Option<std::time::SystemTime> {
        self.0.last_attempt_at
    }

    pub(crate) fn with_last_attempt_at(mut self, at: std::time::SystemTime) -> Self {
        self.0.last_attempt_at = Some(at);
        self
    }

    /// For a failed [`Client::synthesize_long`](crate::Client::synthesize_long) /
    /// [`synthesize_plan`](crate::Client::synthesize_plan): where every part ended, in plan
    /// order; the error itself is the first part's failure. Every part whose task may exist
    /// is here with what finds it (its job id, or its key and submit time), so none is lost
    /// when several fail at once. `None` for other errors.
    #[cfg(feature = "long-text")]
    pub fn long_text_parts(&self) -> Option<&[crate::long_text::PartOutcome]> {
        self.0.parts.as_deref()
    }

    /// For a long text's part of unknown outcome whose answer named a task another part's
    /// answer named too (a caching proxy, a broken server): that task, which is not known to
    /// hold this part's text. It is not the error's `task_id` (`ReconcileQuery::from_error`
    /// leaves it out, so `reconcile` never answers it as this submit's task), and
    /// `resubmit_speech` of the error is refused (a resend may be answered the same way).
    /// `None` for other errors.
    #[cfg(feature = "long-text")]
    pub fn named_another_parts_task(&self) -> Option<&crate::model::JobId> {
        self.0.another_parts_task.as_ref()
    }

    #[cfg(feature = "long-text")]
    pub(crate) fn with_named_another_parts_task(mut self, id: crate::model::JobId) -> Self {
        self.0.another_parts_task = Some(id);
        self
    }

    #[cfg(feature = "long-text")]
    pub(crate) fn with_long_text_parts(
        mut self,
        parts: Vec<crate::long_text::PartOutcome>,
    ) -> Self {
        self.0.parts = Some(parts);
        self
    }

    /// Records the failed step (the first one recorded is kept).
    #[cfg(feature = "upload")]
    pub(crate) fn with_step(mut self, step: UploadStep) -> Self {
        if self.0.step.is_none() {
            self.0.step = Some(step);
        }
        self
    }

    /// A copy, for a refusal that hands the caller's own error back (`resubmit_*`).
    pub(crate) fn duplicate(&self) -> Self {
        Error(self.0.clone())
    }

    pub(crate) fn with_note(mut self, note: impl Into<String>) -> Self {
        self.0.note = Some(note.into());
        self
    }

    /// The task id the answer named, if any (what an `OutcomeUnknown` reports).
    pub(crate) fn named_task_id(&self) -> Option<&str> {
        self.0.task_id.as_deref()
    }

    /// The text of a task id the answer named that is no usable id (see the field's docs).
    pub(crate) fn unusable_task_id(&self) -> Option<&str> {
        self.0.unusable_task_id.as_deref()
    }

    /// Keeps `text`, the unusable task id an answer named, already cut by its caller.
    pub(crate) fn with_unusable_task_id(mut self, text: String) -> Self {
        self.0.unusable_task_id = Some(text);
        self
    }

    /// True when the body carried the success code although the HTTP status was not a 2xx:
    /// a write may have taken effect.
    pub(crate) fn claims_success(&self) -> bool {
        self.0.claimed_success
    }

    /// True when the kind was read from a vendor code the vendor does not document (JimmyAI's
    /// 20001 and 20002, api-facts B2 UNCONFIRMED): a write's refusal on it is no proof that
    /// nothing was made.
    pub(crate) fn has_unconfirmed_code(&self) -> bool {
        self.0.unconfirmed_code
    }

    pub(crate) fn with_unconfirmed_code(mut self) -> Self {
        self.0.unconfirmed_code = true;
        self
    }

    /// True when the answer was about another task than the one asked.
    pub(crate) fn is_misrouted(&self) -> bool {
        self.0.misrouted
    }

    /// Marks an error of a call about a task that exists or may exist (see
    /// [`Error::may_resubmit`]).
    pub(crate) fn task_may_exist(mut self) -> Self {
        self.0.task_may_exist = true;
        self
    }

    pub(crate) fn misrouted(mut self) -> Self {
        self.0.misrouted = true;
        self
    }

    /// True when the answer was no envelope at all (see `Inner::unreadable`).
    pub(crate) fn is_unreadable_answer(&self) -> bool {
        self.0.unreadable
    }

    pub(crate) fn unreadable_answer(mut self) -> Self {
        self.0.unreadable = true;
        self
    }

    /// True when the answer was a success envelope holding no task (see
    /// `Inner::without_task`).
    pub(crate) fn is_answer_without_task(&self) -> bool {
        self.0.without_task
    }

    pub(crate) fn answer_without_task(mut self) -> Self {
        self.0.without_task = true;
        self
    }

    /// For the [`ErrorKind::InvalidResponse`] of a wait whose speech task finished but none
    /// of whose lines' audio could be read (an empty, relative or non-http(s) URL, a result
    /// that is not an object; a JimmyAI task's relative or non-http(s) `audioUrl` counts as
    /// its one line), none failed by the vendor's word: how many lines, and why each (e.g.
    /// `1 of its 1 lines could not be read (line 1: ...)`). The task may hold the audio: read
    /// it again rather than submitting again (a new task is billed again). `None` for any
    /// other error.
    pub fn audio_unreadable(&self) -> Option<&str> {
        self.0.audio_unreadable.as_deref()
    }

    pub(crate) fn with_audio_unreadable(mut self, lines: String) -> Self {
        self.0.audio_unreadable = Some(lines);
        self
    }

    pub(crate) fn with_task_id(mut self, id: impl Into<String>) -> Self {
        self.0.task_id = Some(id.into());
        self
    }

    /// Sets or clears the task the error names.
    pub(crate) fn replacing_task_id(mut self, id: Option<String>) -> Self {
        self.0.task_id = id;
        self
    }

    pub(crate) fn claiming_success(mut self, task_id: Option<String>) -> Self {
        self.0.claimed_success = true;
        if task_id.is_some() {
            self.0.task_id = task_id;
        }
        self
    }

    /// The status a fault stands for: the one its business code stands for when that is a
    /// 5xx (VMEG decides by code, even over an HTTP 4xx: an HTTP 400 whose code says 502 is
    /// that server fault), else the HTTP status if it is an error, else the code's (VMEG may
    /// put its error in an HTTP 200 envelope; its codes mirror HTTP statuses).
    pub(crate) fn effective_status(&self) -> Option<u16> {
        let code = self.0.code_status;
        code.filter(|c| *c >= 500)
            .or(self.0.http_status.filter(|s| *s >= 400))
            .or(code)
    }

    /// The HTTP status the vendor's body code stands for (VMEG), whatever the HTTP status.
    pub(crate) fn code_status(&self) -> Option<u16> {
        self.0.code_status
    }

    /// Records the HTTP status the vendor code stands for (see `effective_status`).
    pub(crate) fn with_code_status(mut self, status: u16) -> Self {
        self.0.code_status = Some(status);
        self
    }

    pub(crate) fn with_provider(mut self, provider: Provider) -> Self {
        self.0.provider = Some(provider);
        self
    }

    pub(crate) fn with_operation(mut self, operation: &'static str) -> Self {
        self.0.operation = Some(operation);
        self
    }

    pub(crate) fn with_operation_if_unset(mut self, operation: &'static str) -> Self {
        if self.0.operation.is_none() {
            self.0.operation = Some(operation);
        }
        self
    }

    pub(crate) fn with_http_status(mut self, status: u16) -> Self {
        self.0.http_status = Some(status);
        self
    }

    pub(crate) fn with_vendor_code(mut self, code: i64) -> Self {
        self.0.vendor_code = Some(code);
        self
    }

    pub(crate) fn with_message(mut self, message: impl AsRef<str>) -> Self {
        let message = message.as_ref().trim();
        if message.is_empty() {
            return self;
        }
        self.0.message = Some(cut(message, MAX_MESSAGE_CHARS));
        self
    }

    pub(crate) fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.0.retry_after = retry_after;
        self
    }

    pub(crate) fn with_phase(mut self, phase: Phase) -> Self {
        self.0.phase = phase;
        self
    }

    /// Records the lower-level failure's text, with every source below it (it becomes part
    /// of `Display`; see [`Error`]).
    pub(crate) fn with_source(mut self, source: impl std::error::Error) -> Self {
        self.0.cause = Some(chain_text(&source));
        self
    }

    /// The API key (as a salted tag) and base URL the submit of this `OutcomeUnknown` was sent
    /// under; `None` for an error the transport did not make (built by hand).
    pub(crate) fn sent_under(&self) -> Option<&crate::sent_under::SentUnder> {
        self.0.sent_under.as_ref()
    }

    pub(crate) fn with_sent_under(mut self, sent_under: crate::sent_under::SentUnder) -> Self {
        self.0.sent_under = Some(sent_under);
        self
    }

    /// Replaces the kind, keeping every detail.
    pub(crate) fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.0.kind = kind;
        self
    }

    /// Removes every piece of the API key from everything this error holds that came from a
    /// server (a server could echo the key back; nothing this crate prints may contain it),
    /// or from a caller (a key pasted into the wrong argument, a task id or a language, is
    /// quoted by its refusal's reason or the error's note, and the id by `TaskFailed` and
    /// `WaitTimedOut`: each piece of the key in it becomes `[redacted]`). Every kind's text
    /// and ids, and a failed long text's parts, pass through it. The decoders already scrub
    /// as they read; this is the last line.
    pub(crate) fn scrub(mut self, scrubber: &crate::scrub::Scrubber) -> Self {
        if let Some(m) = self.0.message.take() {
            self.0.message = Some(scrubber.scrub_owned(m));
        }
        if let Some(c) = self.0.cause.take() {
            self.0.cause = Some(scrubber.scrub_owned(c));
        }
        if let Some(n) = self.0.note.take() {
            self.0.note = Some(scrubber.scrub_owned(n));
        }
        if self
            .0
            .task_id
            .as_deref()
            .is_some_and(|t| scrubber.finds_secret_in(t))
        {
            self.0.task_id = None;
        }
        let text = |t: &mut String| *t = scrubber.scrub_owned(std::mem::take(t));
        // Every kind that carries text or an id is here (a `match` with no catch-all, so a new
        // kind must say what it carries): a caller's id (a key pasted as the task id of a wait
        // or a status read) is printed by `TaskFailed` and `WaitTimedOut`.
        match &mut self.0.kind {
            ErrorKind::InvalidInput { field, reason } => {
                text(field);
                text(reason);
            }
            ErrorKind::TaskFailed { job_id, reason } => {
                scrub_job_id(job_id, scrubber);
                text(reason);
            }
            ErrorKind::WaitTimedOut {
                job_id,
                last_status,
                ..
            } => {
                scrub_job_id(job_id, scrubber);
                if let crate::model::TaskStatus::Unknown(raw) = last_status {
                    text(raw);
                }
            }
            ErrorKind::OutcomeUnknown {
                idempotency_key,
                task_id,
                request,
                ..
            } => {
                // The task id came from a server: one holding the key is no id.
                if task_id
                    .as_ref()
                    .is_some_and(|t| scrubber.finds_secret_in(t.as_str()))
                {
                    *task_id = None;
                }
                // The idempotency key is what finds the job and what a resend must reuse: it
                // is never changed here (a submit refuses a key holding a piece of the API
                // key, and draws its own again: `provider::vmeg::calls::submit_key`).
                let _ = idempotency_key;
                text(&mut request.method);
                text(&mut request.route);
                for (k, v) in &mut request.fields {
                    text(k);
                    text(v);
                }
            }
            ErrorKind::Unsupported { operation, .. } => text(operation),
            ErrorKind::Webhook(failure) => failure.scrub(scrubber),
            ErrorKind::Download(failure) => failure.scrub(scrubber),
            ErrorKind::Unauthorized
            | ErrorKind::PaymentRequired
            | ErrorKind::InvalidRequest
            | ErrorKind::NotFound
            | ErrorKind::Conflict
            | ErrorKind::PayloadTooLarge
            | ErrorKind::RateLimited
            | ErrorKind::Server
            | ErrorKind::Timeout
            | ErrorKind::Transport
            | ErrorKind::InvalidResponse
            | ErrorKind::Vendor => {}
        }
        if let Some(s) = self.0.assumed_status.take() {
            self.0.assumed_status = Some(scrubber.scrub_owned(s));
        }
        if let Some(s) = self.0.unusable_task_id.take() {
            self.0.unusable_task_id = Some(scrubber.scrub_owned(s));
        }
        #[cfg(feature = "long-text")]
        if let Some(parts) = &mut self.0.parts {
            parts.iter_mut().for_each(|p| p.scrub(scrubber));
        }
        // Kept, scrubbed, as a part's outcome keeps it: it is what refuses a resend.
        #[cfg(feature = "long-text")]
        if let Some(other) = &mut self.0.another_parts_task {
            scrub_job_id(other, scrubber);
        }
        self
    }

    /// A transport failure from reqwest, classified by whether the request could have been
    /// processed.
    pub(crate) fn from_reqwest(err: reqwest::Error) -> Self {
        let (kind, phase) = if err.is_builder() {
            (
                ErrorKind::InvalidInput {
                    field: "request".into(),
                    reason: "the HTTP request could not be built".into(),
                },
                Phase::NotSent,
            )
        } else if err.is_connect() {
            // Connect timeouts land here too: nothing reached the server.
            (
                if err.is_timeout() {
                    ErrorKind::Timeout
                } else {
                    ErrorKind::Transport
                },
                Phase::NotSent,
            )
        } else if err.is_timeout() {
            (ErrorKind::Timeout, Phase::Sent)
        } else if err.is_decode() || err.is_redirect() {
            (ErrorKind::InvalidResponse, Phase::Answered)
        } else {
            (ErrorKind::Transport, Phase::Sent)
        };
        let status = err.status().map(|s| s.as_u16());
        let mut e = Error::new(kind).with_phase(phase);
        if let Some(s) = status {
            e = e.with_http_status(s);
        }
        // The URL carries no secret (the key is a header), but strip it anyway: it is noise.
        // Its sources stay: reqwest's own text ("error sending request") hides why (the TLS
        // certificate, the DNS answer, the refused connection).
        e.with_source(err.without_url())
    }
}

/// `id` with every piece of the key in its text replaced by `[redacted]` (provider and kind
/// kept): the caller's id, printed by the error, never the key pasted into it.
pub(crate) fn scrub_job_id(id: &mut crate::model::JobId, scrubber: &crate::scrub::Scrubber) {
    if let std::borrow::Cow::Owned(text) = scrubber.scrub(id.as_str()) {
        *id = match (id.provider(), id.kind()) {
            (Some(p), Some(k)) => crate::model::JobId::typed(p, k, text),
            _ => crate::model::JobId::new(text),
        };
    }
}

/// The most sources of one error put into its text: a chain is a handful deep; the bound
/// only keeps a broken `source()` from making the text grow without end.
const MAX_SOURCES: usize = 16;

/// `err`'s text and every source's below it, joined with ": ". A source whose text the one
/// above already holds is left out (some errors print their source themselves). A reqwest
/// error inside the chain shows its URL without the query (a signed URL's signature is
/// there), as the top one, stripped of its URL, would not.
fn chain_text(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut next = err.source();
    for _ in 0..MAX_SOURCES {
        let Some(e) = next else { break };
        let mut text = e.to_string();
        if let Some(url) = e
            .downcast_ref::<reqwest::Error>()
            .and_then(reqwest::Error::url)
        {
            text = text.replace(url.as_str(), &without_query(url));
        }
        if !parts.last().is_some_and(|above| above.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// Scheme, host, port and path of `url`: no credentials, query or fragment.
fn without_query(url: &url::Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown.push_str(url.path());
    if url.query().is_some() {
        shown.push_str("?[query removed]");
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server's text never carries a line break or escape code into a log line, and a
    /// megabyte of it is cut without being copied.
    #[test]
    fn folded_text_has_no_control_characters_and_a_bound() {
        assert_eq!(folded(" a\n\r\tb\u{1b}[2J c\u{0}d  ", 64), "a b [2J c d");
        assert_eq!(folded("abc def", 5), "abc d");
        assert_eq!(folded("abc def", 4), "abc");
        assert_eq!(folded("\n\t ", 9), "");
        let big = format!("w\n{}", "é".repeat(1 << 20));
        assert_eq!(folded(&big, 64).chars().count(), 64);
    }

    #[test]
    fn may_resubmit_only_when_nothing_can_have_been_created() {
        let yes = [
            Error::invalid_input("text", "empty"),
            Error::new(ErrorKind::RateLimited).with_phase(Phase::Answered),
            Error::new(ErrorKind::PaymentRequired).with_phase(Phase::Answered),
            Error::new(ErrorKind::Transport).with_phase(Phase::NotSent),
            // Server faults whose HTTP status says nothing was done.
            Error::new(ErrorKind::Server).with_http_status(501),
            Error::new(ErrorKind::Server).with_http_status(525),
            crate::provider::error_for_code(Provider::JimmyAi, 501, None, -1, "no"),
        ];
        for e in &yes {
            assert!(e.may_resubmit(), "{e}");
        }
        let no = [
            Error::new(ErrorKind::Conflict).with_phase(Phase::Answered),
            Error::new(ErrorKind::Transport).with_phase(Phase::Sent),
            Error::new(ErrorKind::Timeout).with_phase(Phase::Sent),
            Error::new(ErrorKind::Server).with_phase(Phase::Answered),
            // Server faults that may come after the task was made, a proxy's bare 503, and
            // one that names a task.
            Error::new(ErrorKind::Server).with_http_status(500),
            Error::new(ErrorKind::Server).with_http_status(503),
            // The vendor's own 503 "busy": its reading rests on the body's shape (review 34-d
            // #2: a gateway may answer in it; JimmyAI's `-1` is UNCONFIRMED).
            crate::provider::error_for_code(Provider::JimmyAi, 503, None, -1, "busy"),
            crate::provider::error_for_code(Provider::Vmeg, 503, None, 503, "busy"),
            crate::provider::error_for_code(Provider::Vmeg, 503, None, 502, ""),
            crate::provider::error_for_code(Provider::Vmeg, 200, None, 503, ""),
            crate::provider::error_for_code(Provider::JimmyAi, 503, None, -1, "busy")
                .replacing_task_id(Some("audio_1".to_owned())),
            Error::new(ErrorKind::Server)
                .with_http_status(501)
                .task_may_exist(),
            Error::new(ErrorKind::InvalidResponse).with_phase(Phase::Answered),
            Error::new(ErrorKind::OutcomeUnknown {
                idempotency_key: None,
                task_id: None,
                submitted_at: std::time::SystemTime::UNIX_EPOCH,
                request: RequestSummary::default(),
            })
            .with_phase(Phase::NotSent),
        ];
        for e in &no {
            assert!(!e.may_resubmit(), "{e}");
        }
    }

    /// The task an `OutcomeUnknown` names came from a server: one that holds the key is
    /// dropped by the last scrub too, not only the error's own copy.
    #[test]
    fn an_unknown_outcomes_task_id_holding_the_key_is_scrubbed() {
        let scrubber = crate::scrub::Scrubber::new("sk-1234567890");
        let e = Error::new(ErrorKind::OutcomeUnknown {
            idempotency_key: None,
            task_id: Some(crate::model::JobId::new("task-sk-1234567890")),
            submitted_at: std::time::SystemTime::UNIX_EPOCH,
            request: RequestSummary::default(),
        })
        .scrub(&scrubber);
        assert!(
            matches!(e.kind(), ErrorKind::OutcomeUnknown { task_id: None, .. }),
            "{e:?}"
        );
        assert!(!format!("{e}{e:?}").contains("sk-12345"));
    }

    /// Every kind carrying a caller's id or text is scrubbed by the last line: a key pasted
    /// as a task id was printed by `TaskFailed` and `WaitTimedOut` (Display and Debug), an
    /// idempotency key or a webhook header's value holding it by theirs.
    #[test]
    fn every_kind_carrying_an_id_or_text_is_scrubbed() {
        use crate::model::{JobId, JobKind, TaskStatus};
        const KEY: &str = "sk-1234567890";
        let scrubber = crate::scrub::Scrubber::new(KEY);
        let typed = JobId::typed(Provider::Vmeg, JobKind::Clone, KEY);
        let kinds = [
            ErrorKind::TaskFailed {
                job_id: JobId::new(KEY),
                reason: "failed".into(),
            },
            ErrorKind::WaitTimedOut {
                job_id: typed.clone(),
                last_status: TaskStatus::Unknown(KEY.into()),
                polls: 0,
            },
            ErrorKind::OutcomeUnknown {
                idempotency_key: None,
                task_id: None,
                submitted_at: std::time::SystemTime::UNIX_EPOCH,
                request: RequestSummary {
                    method: "POST".into(),
                    route: "/x".into(),
                    fields: vec![("voiceId".into(), KEY.into())],
                    body: None,
                },
            },
            ErrorKind::Webhook(WebhookFailure::MalformedTimestamp { value: KEY.into() }),
            ErrorKind::InvalidInput {
                field: KEY.into(),
                reason: KEY.into(),
            },
        ];
        for kind in kinds {
            let e = Error::new(kind).with_assumed_status(KEY).scrub(&scrubber);
            let shown = format!("{e} {e:?} {:?}", e.kind());
            assert!(!shown.contains("sk-12345"), "{shown}");
            assert!(shown.contains(crate::scrub::REDACTED), "{shown}");
            assert!(!e.assumed_status().unwrap_or_default().contains("sk-12345"));
            // A typed id keeps its provider and kind.
            if let ErrorKind::WaitTimedOut { job_id, .. } = e.kind() {
                assert_eq!(
                    (job_id.provider(), job_id.kind()),
                    (typed.provider(), typed.kind())
                );
            }
        }
    }

    /// A failed long text's parts name their jobs and errors: scrubbed as the error is.
    #[cfg(feature = "long-text")]
    #[test]
    fn a_long_texts_parts_are_scrubbed() {
        use crate::long_text::PartOutcome;
        use crate::model::JobId;
        const KEY: &str = "sk-1234567890";
        let parts = vec![
            PartOutcome::Accepted {
                job_id: JobId::new(KEY),
                error: KEY.into(),
            },
            PartOutcome::Failed {
                job_id: JobId::new("t-1"),
                reason: KEY.into(),
                assumed_status: Some(KEY.into()),
            },
            PartOutcome::Unknown {
                idempotency_key: None,
                submitted_at: std::time::SystemTime::UNIX_EPOCH,
                last_attempt_at: None,
                task_id: Some(JobId::new(KEY)),
                named_another_parts_task: Some(JobId::new(KEY)),
                error: KEY.into(),
            },
            PartOutcome::Refused { error: KEY.into() },
        ];
        let e = Error::new(ErrorKind::Server)
            .with_long_text_parts(parts)
            .scrub(&crate::scrub::Scrubber::new(KEY));
        let shown = format!("{:?}", e.long_text_parts());
        assert!(!shown.contains("sk-12345"), "{shown}");
        assert!(shown.contains("t-1"), "{shown}");
    }

    /// The idempotency key of a lost submit is what finds it and what a resend reuses: the
    /// scrub leaves it as it was sent, in the error and in a long text's parts (a submit
    /// never sends one holding a piece of the API key). Before: a key sharing 8 characters
    /// with the API key was changed to `[redacted]`, and `resubmit_*` resent under it: a new
    /// key, a second bill.
    #[test]
    fn a_lost_submits_idempotency_key_is_kept_as_sent() {
        const KEY: &str = "sk-1234567890";
        let sent = "idem-sk-1234567890";
        let e = Error::new(ErrorKind::OutcomeUnknown {
            idempotency_key: Some(sent.into()),
            task_id: None,
            submitted_at: std::time::SystemTime::UNIX_EPOCH,
            request: RequestSummary {
                method: "POST".into(),
                route: "/x".into(),
                fields: Vec::new(),
                body: None,
            },
        })
        .scrub(&crate::scrub::Scrubber::new(KEY));
        assert!(
            matches!(e.kind(), ErrorKind::OutcomeUnknown { idempotency_key: Some(k), .. } if k == sent),
            "{e:?}"
        );
    }

    #[test]
    fn messages_are_bounded_and_scrubbed() {
        let long = "x".repeat(10_000);
        let e = Error::new(ErrorKind::Server).with_message(&long);
        assert!(e.message().map(|m| m.chars().count()).unwrap_or(0) <= MAX_MESSAGE_CHARS + 1);
        let scrubber = crate::scrub::Scrubber::new("sk-1234567890");
        let e = Error::new(ErrorKind::Unauthorized)
            .with_message("bad key sk-1234567890")
            .scrub(&scrubber);
        assert_eq!(e.message(), Some("bad key [redacted]"));
        assert!(!format!("{e}{e:?}").contains("sk-12345"));
        // A key cut by the length limit leaves a piece of 8+ characters: still found.
        let e = Error::new(ErrorKind::Server)
            .with_message(format!(
                "{}sk-1234567890",
                "x".repeat(MAX_MESSAGE_CHARS - 9)
            ))
            .scrub(&scrubber);
        assert!(!e.message().unwrap_or_default().contains("sk-12345"), "{e}");
    }

    /// The cause is the whole chain: reqwest's own text ("error sending request") says
    /// nothing of why; the connection's refusal (or a TLS or DNS failure) is below it. The
    /// URL and its query stay out.
    #[tokio::test]
    #[allow(clippy::unwrap_used)]
    async fn a_transport_cause_shows_its_whole_chain_without_the_url() {
        // A port nothing listens on: bound and never listening for the whole test, so no
        // other test's server can be given it meanwhile (as a dropped listener's could).
        let refusing = tokio::net::TcpSocket::new_v4().unwrap();
        refusing.bind(([127, 0, 0, 1], 0).into()).unwrap();
        let port = refusing.local_addr().unwrap().port();
        crate::install_crypto_provider();
        let err = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/a.wav?sig=supersecret"))
            .send()
            .await
            .unwrap_err();
        let e = Error::from_reqwest(err);
        let shown = format!("{e} {e:?}");
        assert!(shown.to_lowercase().contains("refused"), "{shown}");
        assert!(
            !shown.contains("supersecret") && !shown.contains("a.wav"),
            "{shown}"
        );
        // Each source once, joined with ": ".
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let e = Error::new(ErrorKind::Transport)
            .with_source(Outer(std::io::Error::other("inner sk-1234567890")));
        assert!(
            e.to_string().ends_with(": outer: inner sk-1234567890"),
            "{e}"
        );
        let e = e.scrub(&crate::scrub::Scrubber::new("sk-1234567890"));
        assert!(!format!("{e}{e:?}").contains("sk-12345"), "{e}");
    }

    #[test]
    fn effective_status_uses_vmeg_code_inside_http_200() {
        use crate::provider::error_for_code;
        let e = error_for_code(Provider::Vmeg, 200, None, 502, "");
        assert_eq!(e.effective_status(), Some(502));
        let e = error_for_code(Provider::JimmyAi, 200, None, -1, "");
        assert_eq!(e.effective_status(), None);
        let e = Error::new(ErrorKind::Server).with_http_status(503);
        assert_eq!(e.effective_status(), Some(503));
        // A server code decides over an HTTP 4xx; a refusal code does not over a 5xx.
        let e = error_for_code(Provider::Vmeg, 400, None, 502, "");
        assert_eq!(e.effective_status(), Some(502));
        let e = error_for_code(Provider::Vmeg, 500, None, 400, "");
        assert_eq!(e.effective_status(), Some(500));
    }
}
