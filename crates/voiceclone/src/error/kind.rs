//! What went wrong ([`ErrorKind`]) and what identifies a request whose outcome is unknown
//! ([`RequestSummary`]).

use std::fmt;
use std::time::SystemTime;

use super::{DownloadFailure, WebhookFailure};
use crate::model::{JobId, Provider, TaskStatus};

/// What went wrong, in provider-neutral terms.
///
/// Unknown vendor codes: when they arrive with an HTTP error status, the kind follows the
/// HTTP status ([`ErrorKind::from_http_status`]); when they arrive inside an HTTP 200
/// envelope, the kind is [`ErrorKind::Vendor`]. Either way the number and the message are
/// kept on the [`Error`](super::Error) ([`Error::vendor_code`](super::Error::vendor_code),
/// [`Error::message`](super::Error::message)).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A value of the caller's was refused: before sending (then nothing was sent, see
    /// [`Error::phase`](super::Error::phase)), or by what a status answer says about it (an
    /// id of the wrong kind).
    #[error("invalid input `{field}` (your input): {reason}; fix the value and call again")]
    InvalidInput {
        /// The request field (builder method name) at fault.
        field: String,
        /// Why it was refused.
        reason: String,
    },
    /// The API key is missing, wrong, or lacks the needed plan.
    #[error(
        "the provider rejected the API key; check the key (VMEG_API_KEY / JIMMYAI_API_KEY) and the account's plan"
    )]
    Unauthorized,
    /// Not enough credits or balance.
    #[error("not enough credits or balance; top up the account, then submit again")]
    PaymentRequired,
    /// The provider refused the request as invalid.
    #[error(
        "the provider refused the request as invalid; fix the request (see the message) before sending it again"
    )]
    InvalidRequest,
    /// Unknown task, voice or other resource.
    #[error(
        "the provider does not know this resource; check the id and that it belongs to this provider and API key"
    )]
    NotFound,
    /// VMEG: the idempotency key was already used for this path (on the first attempt): a
    /// task was already accepted with it. Sending it again gets the same answer.
    #[error(
        "the idempotency key was already used on this path, so the provider already accepted a request with it; do not send it again: use a new key for new work, or find the earlier task (Client::reconcile; Client::resubmit_clone / resubmit_speech when this is a resend of a call whose outcome was unknown)"
    )]
    Conflict,
    /// The body or upload is over the provider's limit.
    #[error("the request body or upload is too large for the provider; send a smaller file")]
    PayloadTooLarge,
    /// The provider is throttling this account.
    #[error("the provider is rate limiting this account; wait (see retry_after) and try again")]
    RateLimited,
    /// The provider reported a fault on its side.
    #[error("the provider reported a server-side failure; try again later")]
    Server,
    /// No answer in time, on an operation that is safe to repeat.
    #[error("the request timed out; it is safe to try again later")]
    Timeout,
    /// The network failed (connection refused, reset, TLS, DNS), also after the answer began:
    /// a body that broke off before its end (on a read or an upload, a cut 4xx refusal other
    /// than 408 and 429 is that refusal instead: its status said so).
    #[error(
        "the connection to the provider failed (network, TLS or DNS failure, or an answer cut off); check connectivity and the base URL"
    )]
    Transport,
    /// The provider answered something this crate cannot read.
    #[error(
        "the provider's response could not be understood; the API may have changed, please report it"
    )]
    InvalidResponse,
    /// The task finished in the failed state.
    #[error("task {job_id} failed: {reason}; fix the input and submit a new task")]
    TaskFailed {
        /// The task.
        job_id: JobId,
        /// The vendor's reason (or a placeholder when it gave none).
        reason: String,
    },
    /// The wait policy ran out before the task finished.
    #[error(
        "stopped waiting for task {job_id} after {polls} polls (last status: {last_status}); the task may still finish, check it again later by its id"
    )]
    WaitTimedOut {
        /// The task.
        job_id: JobId,
        /// The last status seen.
        last_status: TaskStatus,
        /// How many status requests were made.
        polls: u32,
    },
    /// A write may or may not have taken effect: do not resend it. Everything needed to find
    /// the task is here: the VMEG idempotency key (also echoed in the webhook's `extraData`),
    /// the task id whenever the answer named one, the submit time and what identifies the
    /// request (never the caller's free text, never a URL's query string).
    ///
    /// Its text is worded by operation when the [`Error`](super::Error) names one: a delete or
    /// rename that may or may not have applied is checked with the list or a read, not looked
    /// up as a created task.
    #[error("{}", outcome_unknown_text(.idempotency_key.as_deref(), .task_id.as_ref(), *.submitted_at, .request, None, None))]
    OutcomeUnknown {
        /// The VMEG idempotency key the call used (JimmyAI has none).
        idempotency_key: Option<String>,
        /// The task the answer named, when it named one (usable with `clone_status` /
        /// `speech_status`).
        task_id: Option<JobId>,
        /// When the first attempt was sent; for the error of a resend (`resubmit_*`,
        /// `resend_speech`), when the key's first submit was (the resend's own attempts end
        /// at [`Error::last_attempt_at`](super::Error::last_attempt_at)).
        submitted_at: SystemTime,
        /// Method, route and the request's identifying fields.
        request: RequestSummary,
    },
    /// This provider has no such operation.
    #[error("{operation} is not supported by {provider}")]
    Unsupported {
        /// The client method.
        operation: String,
        /// The provider.
        provider: Provider,
    },
    /// A webhook delivery was refused.
    #[error("webhook rejected: {0}")]
    Webhook(WebhookFailure),
    /// A vendor error code this crate does not know, inside a successful HTTP response.
    #[error("the provider returned an undocumented error code; see the vendor code and message")]
    Vendor,
    /// A download of a result URL was refused or could not be written
    /// (`Client::download_to_path`, the `download` feature).
    #[error("download refused: {0}")]
    Download(DownloadFailure),
}

/// An `OutcomeUnknown`'s text, for the client method that failed (`operation`, when known):
/// a create may have made a task; a delete or a rename may or may not have applied.
pub(super) fn outcome_unknown_text(
    key: Option<&str>,
    task_id: Option<&JobId>,
    submitted_at: SystemTime,
    request: &RequestSummary,
    operation: Option<&str>,
    last_attempt_at: Option<SystemTime>,
) -> String {
    let mut at = crate::time::format_rfc3339(submitted_at);
    // A query rebuilt from a logged error needs the last attempt's time to reach a task made
    // by a late retry; said only when it reads as another time.
    if let Some(last) = last_attempt_at.map(crate::time::format_rfc3339)
        && last != at
    {
        at = format!("{at}, last attempt at {last}");
    }
    let unapplied = match operation {
        Some("delete_task") => Some((
            "the task may or may not have been deleted",
            "check with Client::task (tasks/detail) or the task list whether it is still there",
        )),
        Some("delete_voice") => Some((
            "the voice may or may not have been deleted",
            "check the voice list (Client::voices) for it",
        )),
        Some("rename_voice") => Some((
            "the voice may or may not have been renamed",
            "check its name in the voice list (Client::voices)",
        )),
        _ => None,
    };
    if let Some((what, check)) = unapplied {
        return format!(
            "{what}; do not assume either: {check} before sending it again; sent at {at}; request: {request}"
        );
    }
    let task = match task_id {
        Some(id) => format!("the answer named task \"{id}\": check it by that id; "),
        None => String::new(),
    };
    match key {
        Some(key) => format!(
            "the request may have created a task; do not resend it with a new key. {task}Look it up (tasks/list, or the webhook whose extraData.voiceclone.idempotencyKey is {key:?}); submitted at {at}; request: {request}"
        ),
        // No key: JimmyAI (every VMEG write carries one), which lists no tasks.
        None => format!(
            "the request may have created a task and the provider has no idempotency support; do not resend it. {}submitted at {at}; request: {request}",
            if task.is_empty() {
                "Without its id it cannot be found through the API (the vendor's console may show it); "
            } else {
                task.as_str()
            }
        ),
    }
}

/// What identifies a request whose outcome is unknown: method, route and the request's
/// identifying fields. Nothing secret and none of the caller's free text: URLs lose their
/// query string and fragment (presigned URLs carry signatures), texts (TTS text, preview
/// scripts) are given as their length and a short SHA-256.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestSummary {
    /// `POST`, `GET`, ...
    pub method: String,
    /// The path the request was sent to.
    pub route: String,
    /// `(field, value)` pairs in body order; nested fields as `data[0].voiceId`.
    pub fields: Vec<(String, String)>,
    /// The whole body's digest, past the fields quoted above: what a resubmit's body is held
    /// to (a batch's later lines, its `outputFormat`). `None` for a summary made otherwise.
    pub(crate) body: Option<BodyDigest>,
}

/// A SHA-256 of every field of a request body, each whole (`transport::summary`). Shown by
/// its first 8 hex digits: only ever compared, never read back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyDigest(pub(crate) [u8; 32]);

impl fmt::Debug for BodyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sha256:")?;
        for b in self.0.iter().take(4) {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl RequestSummary {
    /// The value of `field`, if the summary has it.
    pub fn field(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == field)
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Display for RequestSummary {
    /// One line: a caller's value holding a line break (a voice name an end user chose) is
    /// shown escaped (`\n`), so that it cannot start a forged line in a log that prints the
    /// summary. The fields themselves keep the value as sent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.route)?;
        for (k, v) in &self.fields {
            f.write_str(" ")?;
            write_one_line(f, k)?;
            f.write_str("=")?;
            write_one_line(f, v)?;
        }
        Ok(())
    }
}

/// `text` with control characters and Unicode line and paragraph separators escaped as
/// Rust writes them (`\n`, `\u{2028}`); everything else as it is.
fn write_one_line(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    let breaks = |c: char| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}');
    let mut rest = text;
    while let Some(at) = rest.find(breaks) {
        let (plain, from) = rest.split_at(at);
        f.write_str(plain)?;
        let mut chars = from.chars();
        if let Some(c) = chars.next() {
            write!(f, "{}", c.escape_default())?;
        }
        rest = chars.as_str();
    }
    f.write_str(rest)
}

impl ErrorKind {
    /// A stable snake_case name for the kind, for logs, metrics and `--json` output (the
    /// `Display` text is for people and may be reworded; these names are not).
    pub fn as_str(&self) -> &'static str {
        match self {
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
        }
    }

    /// The kind for an HTTP error status when the body carries no usable vendor code.
    pub fn from_http_status(status: u16) -> Option<ErrorKind> {
        Some(match status {
            200..=399 => return None,
            401 | 403 => ErrorKind::Unauthorized,
            402 => ErrorKind::PaymentRequired,
            404 | 410 => ErrorKind::NotFound,
            408 => ErrorKind::Timeout,
            409 => ErrorKind::Conflict,
            413 => ErrorKind::PayloadTooLarge,
            429 => ErrorKind::RateLimited,
            400..=499 => ErrorKind::InvalidRequest,
            500..=599 => ErrorKind::Server,
            _ => ErrorKind::InvalidResponse,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_are_stable_and_distinct() {
        let kinds = [
            ErrorKind::InvalidInput {
                field: "f".into(),
                reason: "r".into(),
            },
            ErrorKind::Unauthorized,
            ErrorKind::PaymentRequired,
            ErrorKind::InvalidRequest,
            ErrorKind::NotFound,
            ErrorKind::Conflict,
            ErrorKind::PayloadTooLarge,
            ErrorKind::RateLimited,
            ErrorKind::Server,
            ErrorKind::Timeout,
            ErrorKind::Transport,
            ErrorKind::InvalidResponse,
            ErrorKind::Vendor,
            ErrorKind::Webhook(WebhookFailure::SignatureMismatch),
            ErrorKind::Download(DownloadFailure::TooLarge { limit: 1 }),
        ];
        let names: std::collections::BTreeSet<_> = kinds.iter().map(ErrorKind::as_str).collect();
        assert_eq!(names.len(), kinds.len());
        assert_eq!(ErrorKind::RateLimited.as_str(), "rate_limited");
        assert!(
            names
                .iter()
                .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
    }

    /// Without a key (JimmyAI, which lists no tasks) and without a task id the answer named,
    /// the task cannot be found through the API: the text must not send the caller to look
    /// for it there (it said "Check the account's tasks"). With the id, it is checked by it.
    #[test]
    fn an_unknown_outcome_without_key_or_task_id_promises_no_lookup_through_the_api() {
        let unknown = |task_id: Option<JobId>| ErrorKind::OutcomeUnknown {
            idempotency_key: None,
            task_id,
            submitted_at: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_781_777_280),
            request: RequestSummary::default(),
        };
        let text = unknown(None).to_string();
        assert!(!text.contains("account's tasks"), "{text}");
        assert!(text.contains("cannot be found through the API"), "{text}");
        assert!(text.contains("do not resend it"), "{text}");
        let named = unknown(Some(JobId::new("audio_1"))).to_string();
        assert!(named.contains("check it by that id"), "{named}");
        assert!(!named.contains("cannot be found"), "{named}");
    }

    #[test]
    fn http_status_table() {
        assert_eq!(ErrorKind::from_http_status(200), None);
        assert_eq!(
            ErrorKind::from_http_status(429),
            Some(ErrorKind::RateLimited)
        );
        assert_eq!(
            ErrorKind::from_http_status(418),
            Some(ErrorKind::InvalidRequest)
        );
        assert_eq!(ErrorKind::from_http_status(503), Some(ErrorKind::Server));
        assert_eq!(
            ErrorKind::from_http_status(403),
            Some(ErrorKind::Unauthorized)
        );
    }
}
