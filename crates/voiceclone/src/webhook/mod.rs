//! VMEG webhooks: verify, decode, deduplicate, and complete waits ([`CompletionHub`]).
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
//! default, and never for less than [`MIN_DEDUPE_TTL`] (twice the [`REPLAY_WINDOW`]). A `pipelineKey` longer than
//! [`MAX_PIPELINE_KEY_BYTES`] is refused ([`WebhookFailure::PipelineKeyTooLong`]).
//!
//! The replay window is judged by the system (wall) clock, as VMEG's timestamps are; marks
//! age by the monotonic clock, which no step of the system clock moves, so a step forward
//! forgets nothing sooner. A step back makes a delivery seen long ago fresh again to the
//! verifier: a mark that knows its delivery's timestamp ([`CompletionHub`]'s in-process
//! store, [`Deduplicator::first_seen_delivery`] on a [`MemoryDeduplicator`]) is therefore
//! also kept while the wall clock is before that timestamp plus the dedupe TTL, and a replay
//! needs the clock stepped back by more than the TTL less the tolerance after its mark has
//! gone (72 h less 5 min by default). `RedisStore` (feature `redis`) marks expire on the Redis
//! server's clock, after the TTL.
//!
//! To have deliveries end the client's waits, use a [`CompletionHub`]: it verifies,
//! deduplicates (through its [`CompletionStore`]: in process by default, shared between
//! instances with the Redis store of the `redis` feature) and fans out, and
//! [`ClientBuilder::completion_hub`](crate::ClientBuilder::completion_hub) makes the waits
//! listen; `webhook::axum::router` (feature `axum`) is the ready-made endpoint. The pieces below
//! stay usable alone.
//!
//! Framework-neutral: header values and bytes in, event out. Wiring the verifier and a
//! deduplicator into any HTTP server looks like this. The delivery is claimed before it is
//! handled and confirmed once its effects are committed: a redelivery that arrives
//! meanwhile (VMEG gives up on an answer after a few seconds) is answered 503, never 200,
//! so that VMEG still redelivers should the handling fail.
//!
//! ```
//! use std::time::Duration;
//! use voiceclone::webhook::{
//!     DedupClaim, Deduplicator, MemoryDeduplicator, Verifier, WebhookPayload,
//! };
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
//!     // A lease longer than the handling takes: should this process die, the next
//!     // redelivery after it is handled anew.
//!     let token = match dedup.claim(&event, Duration::from_secs(60)).await {
//!         DedupClaim::Claimed(token) => token,
//!         DedupClaim::Duplicate => return 200, // a retry of a delivery already handled
//!         DedupClaim::InProgress => return 503, // still being handled: VMEG tries again
//!         _ => return 503, // a state this version does not know: let VMEG try again
//!     };
//!     let handled: Result<(), String> = match &event.payload {
//!         // Do (or queue durably) the work here.
//!         WebhookPayload::Clone(job) => Ok(println!("clone {} is {}", job.id, job.status)),
//!         WebhookPayload::Speech(job) => Ok(println!("speech {} is {}", job.id, job.status)),
//!         _ => Ok(()),
//!     };
//!     if handled.is_ok() {
//!         dedup.confirm(&event.pipeline_key, &token).await;
//!         200
//!     } else {
//!         // Nothing committed: VMEG's redelivery is claimed and handled again.
//!         dedup.release(&event.pipeline_key, &token).await;
//!         503
//!     }
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
//!
//! [`CompletionHub::receive_pending`] does the same for a hub's store (shared between
//! instances with the Redis store).

#[cfg(feature = "axum")]
pub mod axum;
mod dedupe;
mod event;
mod hub;
mod redact;
#[cfg(feature = "redis")]
pub mod redis;
pub mod store;
mod verify;

use std::time::Duration;

#[cfg(feature = "redis")]
pub use self::redis::RedisStore;
pub use crate::error::WebhookFailure;
pub use dedupe::{DedupClaim, DedupFuture, Deduplicator, MemoryDeduplicator};
pub use event::{RawData, WebhookEvent, WebhookEventKind, WebhookPayload};
pub use hub::{Claim, CompletionHub, Delivery};
pub use store::{CompletionStore, Confirmation, MemoryStore, StoreError};
pub use verify::{MAX_BODY_LIMIT, Verifier};

/// The timestamp header VMEG sends.
pub const TIMESTAMP_HEADER: &str = "X-Timestamp";
/// The signature header VMEG sends.
pub const SIGNATURE_HEADER: &str = "X-Signature";
pub use crate::provider::vmeg::webhook::{EXTRA_DATA_IDEMPOTENCY_KEY, EXTRA_DATA_NAMESPACE};
/// How far a delivery's `X-Timestamp` may be from now, either way ([`Verifier::new`]'s
/// tolerance, as VMEG documents it).
pub const REPLAY_WINDOW: Duration = Duration::from_secs(300);
/// The shortest dedupe TTL a store or deduplicator takes (600 s, twice [`REPLAY_WINDOW`]):
/// the window runs either way around a delivery's timestamp, so a replay of a delivery
/// first seen with a timestamp `REPLAY_WINDOW` ahead is still fresh `2 x REPLAY_WINDOW`
/// later, and must still be remembered then.
pub const MIN_DEDUPE_TTL: Duration = Duration::from_secs(2 * REPLAY_WINDOW.as_secs());
/// How long [`MemoryDeduplicator::with_capacity`] remembers a `pipelineKey`: VMEG redelivers
/// with a fresh timestamp each time and does not document for how long.
pub const DEFAULT_DEDUPE_TTL: Duration = Duration::from_secs(72 * 3600);
/// The longest `pipelineKey` accepted (VMEG's are 32 hex characters).
pub const MAX_PIPELINE_KEY_BYTES: usize = 256;
