//! [`Delivery`]: one recorded VMEG webhook attempt, and [`sign`], the
//! signature it carries.
//!
//! Signature: `X-Signature` = lowercase hex HMAC-SHA256(key = secret,
//! message = `X-Timestamp` string followed directly by the raw body bytes);
//! `X-Timestamp` = Unix milliseconds (real wall clock) as a string.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// One webhook delivery attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Task the delivery reports.
    pub task_id: String,
    /// `event` field (`openapi-clone-voice` or `openapi-tts`).
    pub event: String,
    /// `pipelineKey`, stable across retries of one completion.
    pub pipeline_key: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// `X-Timestamp` header value.
    pub timestamp: String,
    /// `X-Signature` header value.
    pub signature: String,
    /// Raw body sent.
    pub body: String,
    /// Receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Transport error, if it did not.
    pub error: Option<String>,
}

impl Delivery {
    /// Whether the receiver answered 2xx.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Lowercase hex HMAC-SHA256 over `timestamp` followed by `body`.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(timestamp.as_bytes());
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}
