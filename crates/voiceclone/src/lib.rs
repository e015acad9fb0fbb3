//! # voiceclone
//!
//! One typed, reliable client over two commercial voice-cloning APIs:
//! **VMEG Open API** (Standalone, routes under `https://api.vmeg.ai/openapi/v1/`) and
//! **JimmyAI Open API** (SoundClone, routes under `https://www.jimmyai.cn/api/open-api/v1/`).
//! A base URL, when you give one, is the host without that path (the routes add it).
//!
//! The whole call: clone a voice, wait for it, speak with it. This example runs against
//! `voiceclone-sim`, the local simulator of both APIs; against the real service, use
//! `Client::from_env(Provider::Vmeg)` (reads `VMEG_API_KEY`) and the same calls.
//!
//! ```
//! use std::time::Duration;
//! use voiceclone::{Client, CloneRequest, Provider, SpeechRequest, TaskStatus, WaitPolicy};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = voiceclone_sim::Simulator::start_with(
//!     voiceclone_sim::SimConfig::default().with_speed(1000.0),
//! )
//! .await?;
//! let client = Client::builder(Provider::Vmeg)
//!     .api_key(sim.api_key())
//!     .base_url(sim.base_url())
//!     .build()?;
//!
//! // Submits and returns at once; the idempotency key is made for you and reused on retries.
//! let job = client
//!     .clone_voice(&CloneRequest::new("https://cdn.example.com/sample.wav").name("narrator").language("en-US"))
//!     .await?;
//! assert!(!job.status.is_terminal());
//!
//! let wait = WaitPolicy::for_provider(Provider::Vmeg).with_first_interval(Duration::from_millis(5));
//! let voice = client.wait_for_clone(&job.id, &wait).await?;
//!
//! let speech_job = client.synthesize(&SpeechRequest::new(&voice.id, "Hello there.")).await?;
//! let speech = client.wait_for_speech(&speech_job.id, &wait).await?;
//! assert!(!speech.audio_urls.is_empty());
//! assert_eq!(client.speech_status(&speech_job.id).await?.status, TaskStatus::Succeeded);
//! # Ok(())
//! # }
//! ```
//!
//! ## Contents
//! - [`Client`] / [`ClientBuilder`]: every call, for either provider (`clone_voice`,
//!   `clone_status`, `wait_for_clone`, `synthesize`, `speech_status`, `wait_for_speech`,
//!   `list_voices`, `rename_voice`, `delete_voice`, `upload`, `upload_sample` (feature
//!   `upload`); task and voice management: `tasks` and `voices` / `system_voices` as
//!   `Stream`s over every page, `task`, `delete_task`; `reconcile` ([`ReconcileQuery`] -> [`Reconciled`]) and
//!   `resubmit_clone` / `resubmit_speech` ([`Resubmitted`]) for an `OutcomeUnknown`;
//!   `with_timeout` / `with_options` ([`CallOptions`]): a handle whose calls have a timeout
//!   or deadline of their own, bounded from inside so a write out of time stays an
//!   `OutcomeUnknown`).
//! - [`model`]: [`Provider`], [`CloneRequest`] (from a URL or, with the `upload` feature, a
//!   local recording: [`AudioSource`]), [`SpeechRequest`], [`CloneJob`], [`SpeechJob`]
//!   (both [`Job`]s),
//!   [`Voice`], [`Speech`], [`TaskStatus`], [`JobId`].
//! - `download` (feature `download`): results to a file or writer
//!   (`Client::download_to_path`, `download_to_dir`, `download_to_writer` -> `Downloaded`):
//!   https only, checked redirects, never the key, a size cap, audio types only, all or
//!   nothing on disk.
//! - Local recordings (feature `upload`): `AudioSource::File` / `Bytes` / `Reader`,
//!   `CloneRequest::from_file` / `from_bytes` / `from_reader`, `Client::upload`,
//!   `ClientBuilder::on_upload_progress` (`UploadProgress`): checked here, streamed to the
//!   provider's upload (never read whole), then cloned from the URL it hands back. Without
//!   it a clone takes a URL the provider fetches, and the build leaves out MD5, temporary
//!   files and multipart bodies.
//! - [`estimate`]: billable units before sending ([`estimate::Estimate`]) and dry runs
//!   ([`estimate::DryRun`]: the requests a call would send, never the key).
//! - `long_text` (feature `long-text`): a text too long for one task split to each
//!   provider's limits (`long_text::LongSpeechPlan`: JimmyAI the fewest tasks of at most 9,999 characters,
//!   VMEG batches of at most 50 lines), spoken by `Client::synthesize_long` /
//!   `synthesize_plan`; `Client::resend_speech` resends a lost VMEG submit with its key.
//! - [`error`]: [`Error`], [`ErrorKind`], [`Phase`] and [`UploadStep`]; how vendor codes and
//!   HTTP statuses map; [`Error::request_id`], the VMEG `req_id` of the failed request.
//! - [`retry`]: [`RetryPolicy`] and what is safe to repeat ([`OperationKind`]).
//! - [`wait`]: [`WaitPolicy`], the one polling loop for jobs of either kind.
//! - `webhook` (feature `webhook`; `axum` and `redis` imply it): VMEG webhooks verified
//!   (`webhook::Verifier`), deduplicated (`webhook::Deduplicator`), and ending waits
//!   (`webhook::CompletionHub`, `ClientBuilder::completion_hub`).
//! - [`language`]: BCP-47 tags and JimmyAI language names.
//! - [`sleep`]: the waits between retries and between polls, injectable ([`Sleeper`],
//!   `ClientBuilder::sleeper`): hold them during a shutdown, or (`RecordingSleeper`, with
//!   the `test-util` feature) skip them in tests.
//! - [`ApiKey`], [`WebhookSecret`]: redacted secrets.
//! - [`scrub`]: [`scrub::Scrubber`], which takes every piece of the key out of what servers
//!   say; yours to use on your own output.
//! - [`VoiceCloning`]: a job's lifecycle as a trait ([`Client`] implements it), the seam for
//!   your own tests; with the `fake` feature, `fake::FakeClient` scripts its outcomes with
//!   no HTTP.
//!
//! ## Normalization
//!
//! **Envelope.** VMEG succeeds iff `code == 200`, JimmyAI iff `code == 20000` (integer or
//! numeric string), whatever the HTTP status. Anything else is an [`Error`].
//!
//! **Error codes.** VMEG: 400/422 -> `InvalidRequest`, 401 -> `Unauthorized`, 402 ->
//! `PaymentRequired`, 404 -> `NotFound`, 409 -> `Conflict`, 413 -> `PayloadTooLarge`, 500/502 ->
//! `Server` (documented); 403, 429, 503, 504 by analogy (assumed). JimmyAI: 20001 ->
//! `Unauthorized`, 20002 -> `InvalidRequest`, -1 -> `Server` (UNCONFIRMED: third-party summary).
//! Unknown codes keep their number and message. A VMEG code in 400..=599 that is not in
//! VMEG's table is read as that HTTP status, whatever the HTTP status it came with (a CDN's
//! 524 inside an HTTP 200 or 400 is `Server`; VMEG: "decided by code"); any other unknown
//! code is [`ErrorKind::Vendor`] inside an HTTP 200 and, for VMEG, behind an HTTP 4xx
//! refusal (it does not say nothing was done), else takes the kind of the HTTP status. A
//! VMEG refusal code behind an HTTP 5xx that may follow a processed write (500, 502, 504,
//! ...; not VMEG's own 503, but a relay's: a `code` without VMEG's `message` and `data`) is
//! `Server`: a write counts as refused only when both statuses say so;
//! behind a status that does not say nothing was done (a 1xx, a redirect other than 307 and
//! 308, or 600-999) it is [`ErrorKind::Vendor`].
//! An HTTP 429 is `RateLimited` whatever the code.
//!
//! **Task status.**
//!
//! | vendor  | value                                                     | `TaskStatus`  | source     |
//! |---------|-----------------------------------------------------------|---------------|------------|
//! | JimmyAI | `queued`                                                  | `Queued`      | documented |
//! | JimmyAI | `processing`                                              | `Running`     | documented |
//! | JimmyAI | `completed`                                               | `Succeeded`   | documented |
//! | JimmyAI | `failed`                                                  | `Failed`      | documented |
//! | VMEG    | `running`                                                 | `Running`     | documented (media translation, App-Synced) |
//! | VMEG    | `finished`                                                | `Succeeded`   | documented (media translation, App-Synced) |
//! | VMEG    | `failed`                                                  | `Failed`      | documented (media translation, App-Synced) |
//! | VMEG    | `queued`, `queue`, `pending`, `waiting`, `created`, `submitted`, `accepted` | `Queued` | assumed |
//! | VMEG    | `processing`, `in_progress`, `in-progress`, `inprogress`, `started` | `Running` | assumed |
//! | VMEG    | `success`, `succeeded`, `successful`, `completed`, `complete`, `done` | `Succeeded` | assumed |
//! | VMEG    | `error`, `fail`, `failure`, `cancelled`, `canceled`, `timeout`, `timed_out`, `expired` | `Failed` | assumed |
//! | either  | anything else                                             | `Unknown(raw)`: not terminal, logged with `warn` | - |
//!
//! VMEG values are compared case-insensitively. VMEG webhooks carry no status: `code == 200`
//! is `Succeeded`, anything else `Failed`.
//!
//! **Voices.** [`Voice`] holds the VMEG `voiceId` or the JimmyAI `modelId`. A JimmyAI
//! `modelId` expires three days after its preview unless a successful production call
//! activates it: [`Voice::activate_by`] is that deadline. A production task activates it once
//! it completes, not when it is accepted ([`SpeechJob::voice`]).
//!
//! **Language.** Requests take BCP-47 tags for both providers; for JimmyAI they are mapped to
//! its English names (`zh-CN` -> `Chinese`, `yue` -> `Chinese,Yue`, `en-*` -> `English`, ...)
//! and JimmyAI's own names are accepted as given. See [`language`].
//!
//! ## Reliability
//! See [`retry`] for the retry table (reads, VMEG writes with one idempotency key per
//! logical call, JimmyAI writes that are never resent once they may have arrived, uploads
//! retried like reads) and [`wait`] for polling. A clone from a local recording
//! (`CloneRequest::from_file`, feature `upload`) is checked, uploaded, then submitted; a
//! failure before the submit leaves no clone and names its step ([`Error::step`]). VMEG's clone from its own
//! material URL is an undocumented assumption (see the README).

#![warn(missing_docs)]

// The public rooms.
#[cfg(feature = "download")]
pub mod download; // results to a file or writer: rules, limits, Downloaded
pub mod error; // Error, ErrorKind, Phase; WebhookFailure
pub mod estimate; // billable units before sending, by each vendor's published rule
#[cfg(feature = "fake")]
pub mod fake; // FakeClient: scripted outcomes for your own tests, no HTTP
pub mod language; // BCP-47 tags, JimmyAI names, VMEG's documented tags
#[cfg(feature = "long-text")]
pub mod long_text; // a text too long for one task, split to each provider's limits
pub mod model; // Provider, ids, requests, Voice/Speech, Job (CloneJob, SpeechJob), TaskStatus
pub mod retry; // RetryPolicy, OperationKind: what is safe to repeat
pub mod secret; // ApiKey, WebhookSecret
pub mod sleep; // Sleeper (the waits between retries and polls); RecordingSleeper with test-util
pub mod wait; // WaitPolicy and the one polling loop
#[cfg(feature = "webhook")]
pub mod webhook; // VMEG webhooks: verify, event, dedupe, CompletionHub

// The machinery behind them.
mod client; // Client (one Backend, no vendor match) and ClientBuilder
mod connection_limit; // the in-flight bound on connections
#[cfg(any(feature = "webhook", feature = "long-text"))]
mod digest; // SHA-256 as hex (ring): long keys, text fingerprints
mod jitter; // seeded draws for retry, poll and reconnect jitter (std's SipHash)
mod loopback_dns; // a plain-http base's `localhost` is this machine, never the system's answer
mod provider; // the vendor table and one Backend per vendor (vmeg/, jimmyai/)
#[cfg(any(feature = "upload", feature = "download"))]
mod public_dns; // storage hosts resolve to public addresses only (no SSRF by DNS)
mod random_id; // 128-bit random ids from ring's system generator: idempotency keys, request ids
#[cfg(feature = "upload")]
mod sample; // local recordings: measured, checked, streamed (never read whole)
pub mod scrub; // Scrubber: the API key never comes back out of a server string
mod seam; // VoiceCloning: the trait Client (and the fake) implement
mod sent_under; // the API key (as a salted tag) and base URL a submit went out under
#[cfg(any(feature = "upload", feature = "download"))]
mod storage; // storage URLs: their HTTP client (never the key), shown without the query
mod time; // vendor timestamps, Retry-After dates, RFC 3339 for people
#[cfg(feature = "upload")]
mod transfer; // PUTs to presigned URLs a vendor hands out (never with the key)
mod transport; // around every generated call: retries, permits, envelope, error mapping
mod validate; // generic input checks (ids, texts, hosts); vendor rules are in provider/
mod wire; // lenient readers for vendor answers

#[cfg(feature = "long-text")]
pub use client::DEFAULT_LONG_CONCURRENCY;
pub use client::{CallOptions, Client, ClientBuilder, DEFAULT_MAX_IN_FLIGHT};
#[cfg(feature = "download")]
pub use download::Downloaded;
pub use error::{Error, ErrorKind, Phase, RequestSummary, UploadStep};
pub use model::{
    Activation, AudioSource, CloneJob, CloneRequest, Emotion, JIMMYAI_ACTIVATION_WINDOW, Job,
    JobId, JobKind, OutputFormat, ParseError, Provider, SoundVersion, Speech, SpeechJob,
    SpeechLine, SpeechRequest, SpeechSegment, SubtitleMode, TaskStatus, VmegEngine, Voice, VoiceId,
};
pub use model::{
    AlreadyAccepted, DEFAULT_RECONCILE_WINDOW, Evidence, KEY_RESEND_WINDOW, LOOK_AGAIN_PAUSE,
    MAX_RECONCILE_WINDOW, MIN_RECONCILE_WINDOW, RECONCILE_VOICE_NAME_MAX_BYTES, ReconcileQuery,
    Reconciled, Resubmitted, TaskDetail, TaskFilter, TaskSummary, UNKNOWN_OFFSET_SPAN,
    UnreadRecords,
};
#[cfg(feature = "upload")]
pub use model::{AudioReader, UploadProgress};
pub use retry::{KEYED_CREATE_REPEAT_PAUSE, OperationKind, RetryPolicy};
#[cfg(feature = "upload")]
pub use sample::{READER_IDLE_TIMEOUT, READER_SPOOL_RATE, READER_SPOOL_TIME, READER_SPOOL_WINDOW};
pub use seam::VoiceCloning;
pub use secret::{ApiKey, WebhookSecret};
#[cfg(feature = "test-util")]
pub use sleep::RecordingSleeper;
pub use sleep::{Sleeper, TokioSleeper};
pub use wait::WaitPolicy;

/// Installs the process-wide rustls crypto provider (ring) if none is installed yet.
///
/// reqwest is built here without a default TLS provider (see the README's TLS section) and
/// panics when it builds a client and finds none. Every constructor of this crate calls this
/// first; call it yourself only before building your own `reqwest::Client` to pass to
/// [`ClientBuilder::http_client`]. Idempotent and never panics.
///
/// ```
/// voiceclone::install_crypto_provider();
/// let http = reqwest::Client::builder().build()?;
/// let client = voiceclone::Client::builder(voiceclone::Provider::Vmeg)
///     .api_key("sk-example")
///     .http_client(http)
///     .build()?;
/// # let _ = client;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn install_crypto_provider() {
    client_glue::install_crypto_provider();
}

// README's Rust blocks are compiled (and run, unless `no_run`) as doctests of this crate, so
// the README cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
