//! VMEG webhooks: verify, decode, deduplicate.
//!
//! VMEG signs each delivery with `X-Timestamp` (Unix milliseconds, as a string) and
//! `X-Signature` (lowercase hex HMAC-SHA256, key = the webhook secret, message = the
//! timestamp string immediately followed by the raw body bytes). [`Verifier`] checks the
//! signature in constant time, refuses timestamps more than 300 s away (either way), bounds
//! the body size, and decodes the body into a [`WebhookEvent`]. Hash the body exactly as
//! received: never re-serialize it first.
//!
//! VMEG retries a delivery until it gets a 2xx, with the same `pipelineKey` each time:
//! answer 2xx quickly, and skip side effects for a `pipelineKey` already handled
//! ([`Deduplicator`]). VMEG signs each redelivery afresh and does not say how long it keeps
//! trying, so [`MemoryDeduplicator`] remembers keys for [`DEFAULT_DEDUPE_TTL`] (72 h) by
//! default, and never for less than the [`REPLAY_WINDOW`]. A `pipelineKey` longer than
//! [`MAX_PIPELINE_KEY_BYTES`] is refused ([`WebhookFailure::PipelineKeyTooLong`]).
//!
//! Framework-neutral: header values and bytes in, event out. Wiring into any HTTP server
//! looks like this:
//!
//! ```
//! use voiceclone::webhook::{Deduplicator, MemoryDeduplicator, Verifier, WebhookPayload};
//! use voiceclone::WebhookSecret;
//!
//! /// Returns the HTTP status to answer with.
//! async fn on_webhook(
//!     verifier: &Verifier,
//!     dedup: &dyn Deduplicator,
//!     timestamp: Option<&str>, // value of the X-Timestamp header
//!     signature: Option<&str>, // value of the X-Signature header
//!     body: &[u8],             // the raw request body
//! ) -> u16 {
//!     let event = match verifier.verify(timestamp.unwrap_or(""), signature.unwrap_or(""), body) {
//!         Ok(event) => event,
//!         Err(err) => {
//!             eprintln!("{err}");
//!             return match err.kind() {
//!                 voiceclone::ErrorKind::Webhook(f) => f.http_status(),
//!                 _ => 400,
//!             };
//!         }
//!     };
//!     if !dedup.first_seen(&event.pipeline_key).await {
//!         return 200; // a retry of a delivery already handled
//!     }
//!     match &event.payload {
//!         WebhookPayload::Clone(job) => println!("clone {} is {}", job.id, job.status),
//!         WebhookPayload::Speech(job) => println!("speech {} is {}", job.id, job.status),
//!         _ => {}
//!     }
//!     // Queue heavy work; if handling fails before its effects are committed, call
//!     // `dedup.forget(&event.pipeline_key)` so VMEG's retry is processed.
//!     200
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = Verifier::new(WebhookSecret::new("secret from API Configuration"));
//! let dedup = MemoryDeduplicator::with_capacity(10_000); // keys kept 72 h
//! let rt = tokio::runtime::Builder::new_current_thread().build()?;
//! let status = rt.block_on(on_webhook(&verifier, &dedup, Some("1700000000000"), Some("00"), b"{}"));
//! assert_eq!(status, 401);
//! # Ok(())
//! # }
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::error::{Error, ErrorKind};
use crate::model::{CloneJob, Provider, SpeechJob};
use crate::secret::WebhookSecret;
use crate::wire::lenient_i64;

/// The timestamp header VMEG sends.
pub const TIMESTAMP_HEADER: &str = "X-Timestamp";
/// The signature header VMEG sends.
pub const SIGNATURE_HEADER: &str = "X-Signature";
pub use crate::provider::vmeg::webhook::{EXTRA_DATA_IDEMPOTENCY_KEY, EXTRA_DATA_NAMESPACE};
/// How far a delivery's `X-Timestamp` may be from now, either way ([`Verifier::new`]'s
/// tolerance, as VMEG documents it).
pub const REPLAY_WINDOW: Duration = Duration::from_secs(300);
/// How long [`MemoryDeduplicator::with_capacity`] remembers a `pipelineKey`: VMEG redelivers
/// with a fresh timestamp each time and does not document for how long.
pub const DEFAULT_DEDUPE_TTL: Duration = Duration::from_secs(72 * 3600);
/// The longest `pipelineKey` accepted (VMEG's are 32 hex characters).
pub const MAX_PIPELINE_KEY_BYTES: usize = 256;

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
        /// The limit ([`MAX_PIPELINE_KEY_BYTES`]).
        limit: usize,
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
    /// oversized bodies, 400 for malformed ones.
    pub fn http_status(&self) -> u16 {
        match self {
            WebhookFailure::BodyTooLarge { .. } => 413,
            WebhookFailure::InvalidJson { .. } | WebhookFailure::PipelineKeyTooLong { .. } => 400,
            WebhookFailure::MissingSecret => 500,
            _ => 401,
        }
    }
}

/// Which product the event is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WebhookEventKind {
    /// `openapi-clone-voice`
    CloneVoice,
    /// `openapi-tts`
    Tts,
    /// `openapi-translate`
    Translate,
    /// `openapi-media-translation`
    MediaTranslation,
    /// Anything else, verbatim.
    Other(String),
}

impl WebhookEventKind {
    /// The wire value (`openapi-clone-voice`, ...; `Other` verbatim).
    pub fn as_str(&self) -> &str {
        match self {
            Self::CloneVoice => "openapi-clone-voice",
            Self::Tts => "openapi-tts",
            Self::Translate => "openapi-translate",
            Self::MediaTranslation => "openapi-media-translation",
            Self::Other(raw) => raw,
        }
    }

    fn parse(raw: &str) -> Self {
        match raw {
            "openapi-clone-voice" => Self::CloneVoice,
            "openapi-tts" => Self::Tts,
            "openapi-translate" => Self::Translate,
            "openapi-media-translation" => Self::MediaTranslation,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// The event's `data`, normalized where this crate knows the product.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum WebhookPayload {
    /// A clone task finished (succeeded when `code` is 200).
    Clone(CloneJob),
    /// A TTS task finished.
    Speech(SpeechJob),
    /// Another product, or a shape this crate could not normalize: the raw `data`.
    Other(RawData),
}

/// A webhook's `data` as it was sent, kept as JSON text so that every number keeps its
/// exact digits (a `serde_json::Value` would turn an id beyond `u64` into a float).
#[derive(Clone, Debug)]
pub struct RawData(Box<serde_json::value::RawValue>);

impl RawData {
    /// The JSON text of `data`.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// `data` read as `T`.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.0.get())
    }

    /// `data.taskId` (or `data.id`), a string or a number kept as its exact text.
    pub fn task_id(&self) -> Option<String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Named {
            #[serde(default, deserialize_with = "crate::wire::lenient_string")]
            task_id: Option<String>,
            #[serde(default, deserialize_with = "crate::wire::lenient_string")]
            id: Option<String>,
        }
        let named: Named = self.parse().ok()?;
        named.task_id.or(named.id)
    }
}

impl PartialEq for RawData {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

/// A verified delivery.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct WebhookEvent {
    /// `event`.
    pub kind: WebhookEventKind,
    /// `version` (e.g. `v1`).
    pub version: Option<String>,
    /// `pipelineKey`: the same on every retry of this delivery; deduplicate on it.
    pub pipeline_key: String,
    /// `code`: 200 means the task succeeded.
    pub code: i64,
    /// `message`, when the task did not succeed.
    pub message: Option<String>,
    /// The echoed `extraData`.
    pub extra_data: Option<serde_json::Value>,
    /// `data`, normalized.
    pub payload: WebhookPayload,
    /// When VMEG signed it.
    pub sent_at: SystemTime,
}

impl WebhookEvent {
    /// The idempotency key of the submit that caused this event (the adapter stores it in
    /// `extraData.voiceclone.idempotencyKey`).
    pub fn idempotency_key(&self) -> Option<&str> {
        idempotency_key_of(self.extra_data.as_ref())
    }

    /// True when `code` is 200.
    pub fn succeeded(&self) -> bool {
        self.code == 200
    }
}

fn idempotency_key_of(extra: Option<&serde_json::Value>) -> Option<&str> {
    extra?
        .get(EXTRA_DATA_NAMESPACE)?
        .get(EXTRA_DATA_IDEMPOTENCY_KEY)?
        .as_str()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvent {
    #[serde(default, deserialize_with = "lenient_i64")]
    code: Option<i64>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    event: Option<String>,
    #[serde(default, deserialize_with = "crate::wire::lenient_string")]
    pipeline_key: Option<String>,
    #[serde(default, deserialize_with = "crate::wire::lenient_string")]
    message: Option<String>,
    #[serde(default)]
    extra_data: Option<serde_json::Value>,
    /// Kept as text: ids in it must not pass through `f64` (see `crate::wire`).
    #[serde(default)]
    data: Option<Box<serde_json::value::RawValue>>,
}

/// Checks and decodes VMEG webhook deliveries.
#[derive(Clone)]
pub struct Verifier {
    secret: WebhookSecret,
    tolerance: Duration,
    max_body_bytes: usize,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("secret", &self.secret)
            .field("tolerance", &self.tolerance)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

impl Verifier {
    /// A verifier with the documented 300 s tolerance ([`REPLAY_WINDOW`]) and a 1 MiB body
    /// limit.
    pub fn new(secret: WebhookSecret) -> Self {
        Self {
            secret,
            tolerance: REPLAY_WINDOW,
            max_body_bytes: 1024 * 1024,
        }
    }

    /// Sets the allowed clock difference, either way (any value). Keep a deduplicator's TTL
    /// at least this long: [`MemoryDeduplicator`] only guarantees [`REPLAY_WINDOW`].
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// Sets the body size limit (any value).
    #[must_use]
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Verifies a delivery against the current time. Pass `""` for an absent header.
    pub fn verify(
        &self,
        timestamp_header: &str,
        signature_header: &str,
        body: &[u8],
    ) -> Result<WebhookEvent, Error> {
        self.verify_at(timestamp_header, signature_header, body, SystemTime::now())
    }

    /// Verifies a delivery against an explicit `now` (for tests and replays of stored deliveries).
    pub fn verify_at(
        &self,
        timestamp_header: &str,
        signature_header: &str,
        body: &[u8],
        now: SystemTime,
    ) -> Result<WebhookEvent, Error> {
        self.check(timestamp_header, signature_header, body, now)
            .map_err(|failure| {
                tracing::warn!(failure = %failure, "webhook delivery refused");
                Error::new(ErrorKind::Webhook(failure))
                    .with_provider(Provider::Vmeg)
                    .with_operation("verify_webhook")
            })
    }

    fn check(
        &self,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: SystemTime,
    ) -> Result<WebhookEvent, WebhookFailure> {
        if body.len() > self.max_body_bytes {
            return Err(WebhookFailure::BodyTooLarge {
                size: body.len(),
                limit: self.max_body_bytes,
            });
        }
        if self.secret.is_empty() {
            return Err(WebhookFailure::MissingSecret);
        }
        if timestamp.trim().is_empty() {
            return Err(WebhookFailure::MissingHeader {
                header: TIMESTAMP_HEADER,
            });
        }
        if signature.trim().is_empty() {
            return Err(WebhookFailure::MissingHeader {
                header: SIGNATURE_HEADER,
            });
        }
        let sent_ms =
            parse_millis(timestamp).ok_or_else(|| WebhookFailure::MalformedTimestamp {
                value: timestamp.chars().take(40).collect(),
            })?;
        let signature = signature.trim();
        let well_formed = signature.len() == 64
            && signature
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !well_formed {
            return Err(WebhookFailure::MalformedSignature);
        }
        let expected = hex::decode(signature).map_err(|_| WebhookFailure::MalformedSignature)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose().as_bytes())
            .map_err(|_| WebhookFailure::SignatureMismatch)?;
        // The signed message is the header string exactly as received, then the raw body.
        mac.update(timestamp.as_bytes());
        mac.update(body);
        mac.verify_slice(&expected)
            .map_err(|_| WebhookFailure::SignatureMismatch)?;

        let sent_at = UNIX_EPOCH
            .checked_add(Duration::from_millis(sent_ms))
            .ok_or_else(|| WebhookFailure::MalformedTimestamp {
                value: timestamp.chars().take(40).collect(),
            })?;
        match now.duration_since(sent_at) {
            Ok(age) if age > self.tolerance => {
                return Err(WebhookFailure::StaleTimestamp {
                    age,
                    tolerance: self.tolerance,
                });
            }
            Err(e) if e.duration() > self.tolerance => {
                return Err(WebhookFailure::FutureTimestamp {
                    ahead: e.duration(),
                    tolerance: self.tolerance,
                });
            }
            _ => {}
        }
        decode_event(body, sent_at)
    }
}

fn parse_millis(raw: &str) -> Option<u64> {
    if raw.is_empty() || raw.len() > 16 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

fn decode_event(body: &[u8], sent_at: SystemTime) -> Result<WebhookEvent, WebhookFailure> {
    let raw: RawEvent = serde_json::from_slice(body).map_err(|e| WebhookFailure::InvalidJson {
        reason: e.to_string(),
    })?;
    let pipeline_key = raw
        .pipeline_key
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| WebhookFailure::InvalidJson {
            reason: "missing pipelineKey".into(),
        })?;
    if pipeline_key.len() > MAX_PIPELINE_KEY_BYTES {
        return Err(WebhookFailure::PipelineKeyTooLong {
            len: pipeline_key.len(),
            limit: MAX_PIPELINE_KEY_BYTES,
        });
    }
    let code = raw.code.ok_or_else(|| WebhookFailure::InvalidJson {
        reason: "missing or non-numeric code".into(),
    })?;
    let kind = WebhookEventKind::parse(raw.event.as_deref().unwrap_or_default());
    let message = raw.message.filter(|m| !m.trim().is_empty());
    let key = idempotency_key_of(raw.extra_data.as_ref()).map(str::to_owned);
    let data = raw
        .data
        .as_deref()
        .map_or("null", serde_json::value::RawValue::get);

    let payload = crate::provider::vmeg::webhook::payload(
        &kind,
        data,
        code,
        message.as_deref(),
        key.as_deref(),
    )
    .unwrap_or_else(|| {
        let raw = serde_json::value::RawValue::from_string(data.to_owned())
            .unwrap_or_else(|_| serde_json::value::RawValue::NULL.to_owned());
        WebhookPayload::Other(RawData(raw))
    });

    Ok(WebhookEvent {
        kind,
        version: raw.version,
        pipeline_key,
        code,
        message,
        extra_data: raw.extra_data,
        payload,
        sent_at,
    })
}

/// The boxed future a [`Deduplicator`] returns (`Box::pin(async move { ... })`).
pub type DedupFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Remembers which deliveries were handled, keyed by `pipelineKey`. Usable behind
/// `Arc<dyn Deduplicator>`; back it with a database to share it between processes.
pub trait Deduplicator: Send + Sync {
    /// True the first time a key is seen (within the store's memory), false afterwards.
    fn first_seen<'a>(&'a self, key: &'a str) -> DedupFuture<'a, bool>;

    /// Forgets a key, so that the next delivery with it is handled again (call it when
    /// handling failed before its effects were committed). The default does nothing.
    fn forget<'a>(&'a self, key: &'a str) -> DedupFuture<'a, ()> {
        let _ = key;
        Box::pin(async {})
    }
}

/// An in-process [`Deduplicator`]: at most `capacity` keys, each remembered for `ttl`.
/// When full, the oldest key is forgotten first. Memory grows with the keys seen, never with
/// `capacity` up front; a key longer than [`MAX_PIPELINE_KEY_BYTES`] is remembered by its
/// SHA-256, so each entry stays small whatever the caller passes in.
pub struct MemoryDeduplicator {
    capacity: usize,
    ttl: Duration,
    state: Mutex<DedupState>,
}

#[derive(Default)]
struct DedupState {
    seen: HashMap<String, Instant>,
    order: VecDeque<(String, Instant)>,
}

impl fmt::Debug for MemoryDeduplicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryDeduplicator")
            .field("capacity", &self.capacity)
            .field("ttl", &self.ttl)
            .field("len", &self.len())
            .finish()
    }
}

impl MemoryDeduplicator {
    /// A store for up to `capacity` keys, `1..=usize::MAX` (0 is read as 1; nothing is
    /// allocated up front), each kept for `ttl`, at least [`REPLAY_WINDOW`] (shorter values,
    /// zero included, are raised to it: a replay inside the window must still be caught);
    /// `Duration::MAX` keeps keys until capacity pushes them out.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            capacity: capacity.max(1),
            ttl: ttl.max(REPLAY_WINDOW),
            state: Mutex::new(DedupState::default()),
        }
    }

    /// A store for up to `capacity` keys kept for [`DEFAULT_DEDUPE_TTL`] (72 h).
    pub fn with_capacity(capacity: usize) -> Self {
        Self::new(capacity, DEFAULT_DEDUPE_TTL)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DedupState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.lock().seen.len()
    }

    /// True when no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`Deduplicator::first_seen`] at an explicit instant (for tests).
    pub fn first_seen_at(&self, key: &str, now: Instant) -> bool {
        let key = bounded_key(key);
        let key = key.as_ref();
        let mut st = self.lock();
        // Entries are appended in time order, so expired ones sit at the front.
        while let Some((k, at)) = st.order.front().cloned() {
            let expired = now.saturating_duration_since(at) >= self.ttl;
            let over = st.seen.len() > self.capacity
                || st.order.len() > self.capacity.saturating_mul(2).saturating_add(1);
            if !(expired || over) {
                break;
            }
            st.order.pop_front();
            if st.seen.get(&k) == Some(&at) {
                st.seen.remove(&k);
            }
        }
        if let Some(at) = st.seen.get(key)
            && now.saturating_duration_since(*at) < self.ttl
        {
            return false;
        }
        st.seen.insert(key.to_owned(), now);
        st.order.push_back((key.to_owned(), now));
        while st.seen.len() > self.capacity {
            let Some((k, at)) = st.order.pop_front() else {
                break;
            };
            if st.seen.get(&k) == Some(&at) {
                st.seen.remove(&k);
            }
        }
        true
    }

    fn forget_now(&self, key: &str) {
        self.lock().seen.remove(bounded_key(key).as_ref());
    }
}

/// The key as stored: itself, or `sha256:<hex>` when longer than [`MAX_PIPELINE_KEY_BYTES`].
fn bounded_key(key: &str) -> std::borrow::Cow<'_, str> {
    use sha2::Digest;
    if key.len() <= MAX_PIPELINE_KEY_BYTES {
        std::borrow::Cow::Borrowed(key)
    } else {
        std::borrow::Cow::Owned(format!("sha256:{}", hex::encode(Sha256::digest(key))))
    }
}

impl Deduplicator for MemoryDeduplicator {
    fn first_seen<'a>(&'a self, key: &'a str) -> DedupFuture<'a, bool> {
        let fresh = self.first_seen_at(key, Instant::now());
        Box::pin(async move { fresh })
    }

    fn forget<'a>(&'a self, key: &'a str) -> DedupFuture<'a, ()> {
        self.forget_now(key);
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::model::TaskStatus;
    use std::sync::Arc;

    const SECRET: &str = "whsec_test_123";

    // Computed independently of the code under test: the hmac crate directly.
    fn sign(ts: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(ts.as_bytes());
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    fn verifier() -> Verifier {
        Verifier::new(WebhookSecret::new(SECRET))
    }

    const TS: &str = "1700000000000";
    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_700_000_000_000)
    }

    fn failure(r: Result<WebhookEvent, Error>) -> WebhookFailure {
        match r.unwrap_err().kind() {
            ErrorKind::Webhook(f) => f.clone(),
            other => panic!("{other:?}"),
        }
    }

    const CLONE_BODY: &str = r#"{"code":200,"version":"v1","event":"openapi-clone-voice","pipelineKey":"0123456789abcdef0123456789abcdef","message":"","extraData":{"voiceclone":{"idempotencyKey":"k-42"},"mine":1},"data":{"taskId":"t-1","voiceId":"cv_9","createdAt":"2025-05-01T10:00:00Z"},"unknown":true}"#;

    #[test]
    fn accepts_a_good_clone_delivery() {
        let body = CLONE_BODY.as_bytes();
        let ev = verifier()
            .verify_at(TS, &sign(TS, body), body, now())
            .unwrap();
        assert_eq!(ev.kind, WebhookEventKind::CloneVoice);
        assert_eq!(ev.pipeline_key, "0123456789abcdef0123456789abcdef");
        assert_eq!(ev.idempotency_key(), Some("k-42"));
        assert!(ev.succeeded());
        match ev.payload {
            WebhookPayload::Clone(job) => {
                assert_eq!(job.id.as_str(), "t-1");
                assert_eq!(job.status, TaskStatus::Succeeded);
                assert_eq!(job.voice.unwrap().id, "cv_9");
                assert_eq!(job.idempotency_key.as_deref(), Some("k-42"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn failed_tts_and_other_events() {
        let body = br#"{"code":502,"event":"openapi-tts","pipelineKey":"p2","message":"upstream failed","data":{"taskId":"t-2"}}"#;
        let ev = verifier()
            .verify_at(TS, &sign(TS, body), body, now())
            .unwrap();
        match ev.payload {
            WebhookPayload::Speech(job) => {
                assert_eq!(job.status, TaskStatus::Failed);
                assert_eq!(job.error.as_deref(), Some("upstream failed"));
            }
            other => panic!("{other:?}"),
        }
        let body =
            br#"{"code":"200","event":"openapi-something-new","pipelineKey":"p3","data":{"x":1}}"#;
        let ev = verifier()
            .verify_at(TS, &sign(TS, body), body, now())
            .unwrap();
        assert_eq!(
            ev.kind,
            WebhookEventKind::Other("openapi-something-new".into())
        );
        assert_eq!(
            ev.payload,
            WebhookPayload::Other(RawData(
                serde_json::value::RawValue::from_string(r#"{"x":1}"#.to_owned()).unwrap()
            ))
        );
    }

    #[test]
    fn each_failure_is_distinct() {
        let body = CLONE_BODY.as_bytes();
        let good = sign(TS, body);
        let v = verifier();
        assert_eq!(
            failure(v.verify_at("", &good, body, now())),
            WebhookFailure::MissingHeader {
                header: TIMESTAMP_HEADER
            }
        );
        assert_eq!(
            failure(v.verify_at(TS, "", body, now())),
            WebhookFailure::MissingHeader {
                header: SIGNATURE_HEADER
            }
        );
        assert!(matches!(
            failure(v.verify_at("17e11", &good, body, now())),
            WebhookFailure::MalformedTimestamp { .. }
        ));
        assert_eq!(
            failure(v.verify_at(TS, &good.to_uppercase(), body, now())),
            WebhookFailure::MalformedSignature
        );
        assert_eq!(
            failure(v.verify_at(TS, "abc", body, now())),
            WebhookFailure::MalformedSignature
        );
        let mut tampered = body.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            failure(v.verify_at(TS, &good, &tampered, now())),
            WebhookFailure::SignatureMismatch
        );
        assert_eq!(
            failure(v.verify_at("1700000000001", &good, body, now())),
            WebhookFailure::SignatureMismatch
        );
        let wrong = Verifier::new(WebhookSecret::new("other"));
        assert_eq!(
            failure(wrong.verify_at(TS, &good, body, now())),
            WebhookFailure::SignatureMismatch
        );
        let late = now() + Duration::from_secs(301);
        assert!(matches!(
            failure(v.verify_at(TS, &good, body, late)),
            WebhookFailure::StaleTimestamp { .. }
        ));
        assert!(
            v.verify_at(TS, &good, body, now() + Duration::from_secs(299))
                .is_ok()
        );
        let early = now() - Duration::from_secs(301);
        assert!(matches!(
            failure(v.verify_at(TS, &good, body, early)),
            WebhookFailure::FutureTimestamp { .. }
        ));
        assert!(
            v.verify_at(TS, &good, body, now() - Duration::from_secs(299))
                .is_ok()
        );
        let small = verifier().max_body_bytes(10);
        assert_eq!(
            failure(small.verify_at(TS, &good, body, now())),
            WebhookFailure::BodyTooLarge {
                size: body.len(),
                limit: 10
            }
        );
        let not_json = b"hello";
        assert!(matches!(
            failure(v.verify_at(TS, &sign(TS, not_json), not_json, now())),
            WebhookFailure::InvalidJson { .. }
        ));
        let no_key = br#"{"code":200,"event":"openapi-tts","data":{}}"#;
        assert!(matches!(
            failure(v.verify_at(TS, &sign(TS, no_key), no_key, now())),
            WebhookFailure::InvalidJson { .. }
        ));
        let empty = Verifier::new(WebhookSecret::new(""));
        assert_eq!(
            failure(empty.verify_at(TS, &good, body, now())),
            WebhookFailure::MissingSecret
        );
    }

    #[test]
    fn errors_never_show_the_secret() {
        let v = verifier();
        let err = v.verify_at(TS, "00", b"{}", now()).unwrap_err();
        assert!(!format!("{err} {err:?} {v:?}").contains(SECRET));
    }

    #[tokio::test]
    async fn dedup_by_pipeline_key_with_capacity_and_ttl() {
        let d: Arc<dyn Deduplicator> =
            Arc::new(MemoryDeduplicator::new(2, Duration::from_secs(60)));
        assert!(d.first_seen("a").await);
        assert!(!d.first_seen("a").await);
        d.forget("a").await;
        assert!(d.first_seen("a").await);

        let m = MemoryDeduplicator::new(2, Duration::from_secs(600));
        let t0 = Instant::now();
        assert!(m.first_seen_at("a", t0));
        assert!(m.first_seen_at("b", t0));
        assert!(m.first_seen_at("c", t0));
        assert_eq!(m.len(), 2);
        assert!(m.first_seen_at("a", t0), "oldest evicted at capacity");
        assert!(!m.first_seen_at("c", t0 + Duration::from_secs(599)));
        assert!(
            m.first_seen_at("c", t0 + Duration::from_secs(601)),
            "expired after ttl"
        );

        let hour = Duration::from_secs(3600);
        let m = MemoryDeduplicator::with_capacity(10);
        assert!(m.first_seen_at("p", t0));
        assert!(
            !m.first_seen_at("p", t0 + 71 * hour),
            "kept 72 h by default"
        );
        assert!(m.first_seen_at("p", t0 + 73 * hour));
    }

    #[test]
    fn an_overlong_pipeline_key_is_refused() {
        let key = "k".repeat(300);
        let body =
            format!(r#"{{"code":200,"event":"openapi-tts","pipelineKey":"{key}","data":{{}}}}"#);
        let body = body.as_bytes();
        let f = failure(verifier().verify_at(TS, &sign(TS, body), body, now()));
        assert_eq!(
            f,
            WebhookFailure::PipelineKeyTooLong {
                len: 300,
                limit: MAX_PIPELINE_KEY_BYTES
            }
        );
        assert_eq!(f.http_status(), 400, "{f}");
        assert!(f.to_string().contains("pipelineKey"), "{f}");
        let key = "k".repeat(256);
        let body =
            format!(r#"{{"code":200,"event":"openapi-tts","pipelineKey":"{key}","data":{{}}}}"#);
        let body = body.as_bytes();
        assert!(
            verifier()
                .verify_at(TS, &sign(TS, body), body, now())
                .is_ok()
        );
    }

    #[test]
    fn dedup_ttl_is_never_below_the_replay_window_and_capacity_never_overflows() {
        for ttl in [
            Duration::ZERO,
            Duration::from_secs(1),
            Duration::from_secs(299),
        ] {
            let m = MemoryDeduplicator::new(10, ttl);
            let t0 = Instant::now();
            assert!(m.first_seen_at("a", t0));
            assert!(
                !m.first_seen_at("a", t0 + Duration::from_secs(299)),
                "ttl {ttl:?}: a redelivery within the replay window is a duplicate"
            );
        }
        let m = MemoryDeduplicator::new(usize::MAX, Duration::MAX);
        let t0 = Instant::now();
        for k in ["a", "b", "a", "c"] {
            let _ = m.first_seen_at(k, t0);
        }
        assert_eq!(m.len(), 3);
        assert!(!m.first_seen_at("a", t0 + Duration::from_secs(86_400 * 365)));
        // Keys are bounded in memory whatever a caller passes in.
        let long = "x".repeat(100_000);
        assert!(m.first_seen_at(&long, t0));
        assert!(!m.first_seen_at(&long, t0));
        assert!(m.lock().seen.keys().all(|k| k.len() <= 256));
        assert!(m.lock().order.iter().all(|(k, _)| k.len() <= 256));
    }
}
