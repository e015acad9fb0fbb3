//! Why a webhook delivery was refused (in `error`, so that `webhook` depends on `error` and
//! not the other way round; re-exported as `crate::webhook::WebhookFailure`).

use std::time::Duration;

/// Why a delivery was refused. [`WebhookFailure::http_status`] suggests the answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookFailure {
    /// A required header is absent or empty.
    #[error("the {header} header is missing or empty")]
    MissingHeader {
        /// The header name.
        header: &'static str,
    },
    /// The verifier was given an empty secret; nothing can be authenticated.
    #[error("the webhook secret is empty; copy it from VMEG's API Configuration page")]
    MissingSecret,
    /// `X-Timestamp` is not Unix milliseconds.
    #[error("the X-Timestamp header {value:?} is not a Unix time in milliseconds")]
    MalformedTimestamp {
        /// The value received (cut to 40 characters).
        value: String,
    },
    /// Signed too long ago: a replay, or a delivery stuck in a queue.
    #[error(
        "the delivery was signed {age:?} ago, beyond the {tolerance:?} tolerance (replayed or delayed); check the server clock if this repeats"
    )]
    StaleTimestamp {
        /// How old.
        age: Duration,
        /// The allowed skew.
        tolerance: Duration,
    },
    /// Signed in the future: a clock problem on one side.
    #[error(
        "the delivery is timestamped {ahead:?} in the future, beyond the {tolerance:?} tolerance; check the server clock"
    )]
    FutureTimestamp {
        /// How far ahead.
        ahead: Duration,
        /// The allowed skew.
        tolerance: Duration,
    },
    /// `X-Signature` is not 64 lowercase hex characters.
    #[error("the X-Signature header is not a lowercase hex HMAC-SHA256")]
    MalformedSignature,
    /// The signature does not match the body and timestamp under this secret.
    #[error(
        "the signature does not match: wrong webhook secret, or the body was altered (hash the raw bytes, do not re-serialize)"
    )]
    SignatureMismatch,
    /// The body is over the verifier's limit.
    #[error("the body is {size} bytes, over the {limit}-byte limit")]
    BodyTooLarge {
        /// The body size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Authentic, but its `pipelineKey` is too long to remember.
    #[error("the pipelineKey is {len} bytes, over the {limit}-byte limit")]
    PipelineKeyTooLong {
        /// The key's length in bytes.
        len: usize,
        /// The limit (`webhook::MAX_PIPELINE_KEY_BYTES`).
        limit: usize,
    },
    /// Authentic, but the completion store could not record it (nothing was marked, so
    /// the redelivery is processed).
    #[error("the completion store is unavailable: {reason}")]
    StoreUnavailable {
        /// What failed (never a connection URL).
        reason: String,
    },
    /// Authentic, but not the documented JSON envelope.
    #[error("the body is not a valid webhook envelope: {reason}")]
    InvalidJson {
        /// What was wrong.
        reason: String,
    },
}

impl WebhookFailure {
    /// The HTTP status to answer the delivery with: 401 for authentication failures, 413 for
    /// oversized bodies, 400 for malformed ones, 503 when the store is unavailable (VMEG
    /// redelivers).
    pub fn http_status(&self) -> u16 {
        match self {
            WebhookFailure::BodyTooLarge { .. } => 413,
            WebhookFailure::InvalidJson { .. } | WebhookFailure::PipelineKeyTooLong { .. } => 400,
            WebhookFailure::MissingSecret => 500,
            WebhookFailure::StoreUnavailable { .. } => 503,
            _ => 401,
        }
    }

    /// Scrubs the API key from the text it carries (a header's value, a store's reason, a
    /// body's fault).
    pub(crate) fn scrub(&mut self, scrubber: &crate::scrub::Scrubber) {
        match self {
            Self::MalformedTimestamp { value: text }
            | Self::StoreUnavailable { reason: text }
            | Self::InvalidJson { reason: text } => {
                *text = scrubber.scrub_owned(std::mem::take(text));
            }
            Self::MissingHeader { .. }
            | Self::MissingSecret
            | Self::StaleTimestamp { .. }
            | Self::FutureTimestamp { .. }
            | Self::MalformedSignature
            | Self::SignatureMismatch
            | Self::BodyTooLarge { .. }
            | Self::PipelineKeyTooLong { .. } => {}
        }
    }
}
