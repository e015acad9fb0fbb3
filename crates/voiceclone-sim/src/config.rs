//! [`SimConfig`]: everything the simulator can be told, including the choices
//! it has to make for facts the vendor docs leave UNKNOWN.

use std::net::SocketAddr;
use std::time::Duration;

use crate::bounds::{self, ConfigError, fmt_dur};
use crate::faults::FaultConfig;

/// Words the VMEG simulator reports as task `status` in `tasks/detail` and
/// `tasks/list`.
///
/// UNKNOWN fact (api-facts A10): the vocabulary for clone and TTS tasks is not
/// documented. The default is the only documented set (`running`, `finished`,
/// `failed`, used by media translation and App-Synced), with a queued task
/// reported as `running` too. This is a configurable guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmegStatusWords {
    /// Reported while the task waits in the queue. Default `running`.
    pub queued: String,
    /// Reported while the task runs. Default `running`.
    pub running: String,
    /// Reported when the task succeeded. Default `finished`.
    pub succeeded: String,
    /// Reported when the task failed. Default `failed`.
    pub failed: String,
}

impl Default for VmegStatusWords {
    fn default() -> Self {
        Self {
            queued: "running".into(),
            running: "running".into(),
            succeeded: "finished".into(),
            failed: "failed".into(),
        }
    }
}

/// One JimmyAI error answer: the envelope `code` and the HTTP status it comes
/// with. UNKNOWN / UNCONFIRMED fact (api-facts B2): configurable guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JimmyError {
    /// Envelope `code`.
    pub code: i64,
    /// HTTP status of the response.
    pub http_status: u16,
}

impl JimmyError {
    /// A new error choice.
    pub const fn new(code: i64, http_status: u16) -> Self {
        Self { code, http_status }
    }
}

/// Where and how to send VMEG webhooks.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    /// Receiver URL (plain `http://` on loopback is fine for tests).
    pub url: String,
    /// Webhook secret, the HMAC-SHA256 key. Never logged, nor shown by `Debug`.
    pub secret: String,
}

impl std::fmt::Debug for WebhookTarget {
    // A failing test prints its `SimConfig` or `SimHandle`: the secret stays out of it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("url", &self.url)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// Simulator configuration. Build it with [`SimConfig::default`] and the
/// `with_*` methods. Its `Debug` shows every setting but the API key (and the
/// webhook secret), printed `[redacted]`.
#[derive(Clone)]
pub struct SimConfig {
    /// Address to bind. Default `127.0.0.1:0` (a free loopback port).
    pub bind: SocketAddr,
    /// The base URL clients reach the simulator by, for the URLs it hands out (TTS `uri`,
    /// JimmyAI `url`, `audioUrl` and `subtitleFile`, material `uploadUrl`, `addressUrl`
    /// and `audioUrl`) and for [`crate::SimHandle::base_url`]: `http://sim:8080` in a
    /// container network. Default `None`: `http://` and the bound address, which bound to
    /// `0.0.0.0` or `[::]` names the client's own machine (a warning is logged at start).
    /// An absolute `http` or `https` URL with a host, no path (the APIs are served at the
    /// root), credentials, query, fragment or whitespace, at most 2048 bytes; a trailing `/`
    /// is dropped.
    pub public_base_url: Option<String>,
    /// The only API key accepted by both APIs. Default `"sim-key"`; 1 to
    /// 4096 bytes of visible ASCII, spaces allowed only between them.
    pub api_key: String,
    /// Task durations and webhook retry delays are divided by this. Default
    /// `1.0`; `1000.0` turns seconds into milliseconds. Bounds
    /// [0.001, 1000000] ([`bounds::SPEED`]).
    pub speed: f64,
    /// Base duration of a clone task (VMEG clone, JimmyAI preview clone),
    /// before dividing by `speed`. The first quarter is `queued`, the rest
    /// `processing`. Default 2 s. UNKNOWN real latency: configurable guess.
    pub clone_duration: Duration,
    /// Base duration of a TTS / production audio task. Default 1 s.
    pub tts_duration: Duration,
    /// Seed for every random choice (faults, task failures). Default `0`.
    pub seed: u64,
    /// Injected faults. Default: none. Drawn only for a request a credential vouches
    /// for (the API key, a presigned URL's signature): one without is refused as it is
    /// without faults.
    pub faults: FaultConfig,
    /// Fraction in `[0,1]` of tasks that end `failed` (seeded). Default `0`.
    pub task_failure_rate: f64,
    /// VMEG webhook receiver. Default `None` (async tasks still run and can be
    /// polled with `tasks/detail`).
    pub webhook: Option<WebhookTarget>,
    /// VMEG idempotency-key lifetime. Default 24 h (CONFIRMED).
    pub idempotency_ttl: Duration,
    /// VMEG status vocabulary. UNKNOWN; see [`VmegStatusWords`].
    pub vmeg_status_words: VmegStatusWords,
    /// Whether VMEG `tasks/detail` `result` of a finished clone task carries
    /// `voiceId`. Default `true`. UNKNOWN (api-facts A17.4); with `false`,
    /// clients must find the voice in `assets/voice/clone/list` by `taskId`.
    pub vmeg_clone_result_has_voice_id: bool,
    /// Whether VMEG business errors (400/402/404/422/500/502) are sent with
    /// HTTP 200 instead of the matching HTTP status. Default `false` (matching
    /// status). UNKNOWN (A3). 401, 409 and 413 always use their own status
    /// (CONFIRMED).
    pub vmeg_business_errors_http_200: bool,
    /// Whether a VMEG mutating request that got an injected 429/5xx/dropped
    /// connection *before processing* still consumes its idempotency key.
    /// Default `false`. UNKNOWN (A4).
    pub vmeg_fault_consumes_idempotency_key: bool,
    /// Whether a VMEG mutating request rejected after its body was read as a
    /// JSON object (a field that fails validation, 400; an unknown id, 404; a
    /// material over the size limit at `complete`, 413) consumes its
    /// idempotency key. Refused before that, a request never consumes it,
    /// whatever this says: bad API key (401), missing or invalid
    /// `X-Idempotency-Key` (400), a body too large (413), not a JSON object,
    /// malformed or broken off (400), or not received in time (408). A
    /// request whose handler was cancelled (its client closed the connection,
    /// say during a material `complete`) gives its key back too. Default
    /// `false`. UNKNOWN (A4: whether a failed first attempt uses up the key).
    pub vmeg_rejection_consumes_idempotency_key: bool,
    /// Maximum VMEG JSON body size; larger bodies get HTTP 413 (CONFIRMED
    /// status, UNKNOWN limit). Default 1 MiB.
    pub vmeg_max_body_bytes: usize,
    /// Webhook retry delays after the first failed attempt, each divided by
    /// `speed`. Default `[1 s, 2 s, 4 s]` (3 retries). UNKNOWN (A9).
    pub webhook_retry_delays: Vec<Duration>,
    /// Per-attempt webhook timeout (not scaled). Default 5 s.
    pub webhook_timeout: Duration,
    /// JimmyAI envelope `code` as a numeric string (`"20000"`) instead of an
    /// integer. Default `false` (integer). CONFLICT (B2).
    pub jimmy_code_as_string: bool,
    /// JimmyAI answer to a missing/wrong API key. Default code `20001`, HTTP
    /// 200. UNCONFIRMED code, UNKNOWN status.
    pub jimmy_auth_error: JimmyError,
    /// JimmyAI answer to bad parameters. Default code `20002`, HTTP 200.
    /// UNCONFIRMED code, UNKNOWN status.
    pub jimmy_bad_request: JimmyError,
    /// JimmyAI answer to `GET audios/{id}` with an unknown id. Default code
    /// `20002`, HTTP 200. UNKNOWN (B6).
    pub jimmy_not_found: JimmyError,
    /// JimmyAI server error (also used for injected business errors). Default
    /// code `-1`, HTTP 200. UNCONFIRMED code, UNKNOWN status.
    pub jimmy_server_error: JimmyError,
    /// JimmyAI `modelId` validity after the preview completes, unless
    /// activated. Default 3 days (CONFIRMED). Not scaled by `speed`; use
    /// `SimHandle::advance_clock` to expire one.
    pub jimmy_model_validity: Duration,
    /// Open connections at most. At the cap, a new connection closes the
    /// connection that has waited longest for a request (idle keep-alive or
    /// still sending its headers), or is closed itself when every connection
    /// has a request in flight. A connection whose request has started is never
    /// closed by the cap; a request arriving as its connection is closed is
    /// dropped unanswered, with nothing done. Lowered at start to the soft
    /// open-file limit minus 64 when that is smaller (Linux). Default 1024;
    /// bounds 1 to 100,000.
    pub max_connections: usize,
    /// Time a connection may take to send a request's headers, which is also
    /// how long an idle keep-alive connection is kept. Default 30 s; bounds
    /// 10 ms to 1 hour.
    pub header_read_timeout: Duration,
    /// Time a request may take to send its body; then HTTP 408 and the
    /// connection is closed. Default 30 s; bounds 10 ms to 1 hour. A request
    /// refused before any credential was checked (a wrong key, an unknown path)
    /// has its body read only while it comes at 1 MiB/s after a first second.
    /// So has a JSON body (either vendor), which holds room in the simulator's
    /// parse budget while it is read: falling behind, it gets the 408 at once.
    pub body_read_timeout: Duration,
    /// Time a write of an answer may make no progress (the client stopped
    /// reading); then the connection is closed. Default 30 s; bounds 10 ms
    /// to 1 hour.
    pub response_write_timeout: Duration,
    /// Tasks kept (both APIs). Beyond it the oldest finished task is evicted,
    /// never an unfinished one (billed, and still polled) nor one whose sync
    /// create has not answered or whose webhook has not been built: when only
    /// such tasks are left, a new create is refused with HTTP 503 and
    /// `Retry-After`, not billed (a VMEG key is released). Evicted ids answer as
    /// unknown ids do. Default 100,000; bounds 1 to 10,000,000.
    pub max_tasks: usize,
    /// How long (simulated time) a finished task is kept, counted from when
    /// the simulator saw it finish (after [`crate::SimHandle::advance_clock`],
    /// from the clock's new time), and never less than until its sync create
    /// has answered and its webhook has been built. Default 24 h; bounds 0
    /// to 365 days.
    pub task_retention: Duration,
    /// Total bytes of client-supplied text the stored tasks keep (`extraData`,
    /// TTS and JimmyAI text, voice names, audio URLs, ...): beyond it tasks are
    /// evicted as beyond [`SimConfig::max_tasks`] (the oldest finished first,
    /// never the one just created, an unfinished one nor one still awaited;
    /// else the create is refused with 503), and the create records of
    /// [`crate::Stats::creates`] and the webhook attempts of
    /// [`crate::SimHandle::webhook_deliveries`] keep at most as many bytes each
    /// (oldest dropped first, the latest always kept). Default 256 MiB; bounds
    /// 1 byte to 16 GiB.
    pub max_task_bytes: usize,
    /// Uploads kept (JimmyAI uploads, VMEG presigned PUTs and materials; the
    /// parts of a pending multipart upload count as one). One multipart upload
    /// keeps at most this many parts: a new part past it is refused. Default
    /// 1000; bounds 1 to 1,000,000.
    pub max_uploads: usize,
    /// Total bytes of uploads kept: JimmyAI uploads, VMEG presigned PUTs and
    /// materials (oldest evicted first). One upload larger than this on its
    /// own is refused before anything is evicted for it (S3's 413
    /// `EntityTooLarge` for a PUT, [`SimConfig::jimmy_bad_request`] for a
    /// JimmyAI upload). Default 256 MiB; bounds 0 to 16 GiB. Besides, at most
    /// 2 uploads (each up to the vendor's 100 MB) are received at the same time.
    pub max_upload_bytes: usize,
    /// How long (simulated time) an upload is kept. Default 24 h; bounds 0
    /// to 365 days.
    pub upload_retention: Duration,
    /// VMEG idempotency keys remembered at most (oldest forgotten first, even
    /// within their TTL). Default 200,000; bounds 1 to 10,000,000.
    pub max_idempotency_keys: usize,
    /// VMEG cloned voices kept (oldest evicted first; an evicted voice id
    /// answers as an unknown one; a deleted voice is not counted; their text is bounded by
    /// [`SimConfig::max_task_bytes`] too), and as many JimmyAI model ids (likewise:
    /// an evicted `modelId` answers "not found"). Default 100,000; bounds 1
    /// to 10,000,000.
    pub max_voices: usize,
    /// Largest VMEG material: one presigned PUT, or all parts of a multipart
    /// upload, above it gets HTTP 413 (CONFIRMED status, UNKNOWN limit).
    /// Default 200 MiB; bounds 1 byte to 16 GiB. The bytes count toward
    /// [`SimConfig::max_upload_bytes`], which is the limit when it is smaller
    /// (the store could not keep a larger material).
    pub vmeg_max_material_bytes: usize,
    /// `recommendedPartSize` of a multipart material upload; every part but
    /// the last must have at least min(5 MiB, this). Default 8 MiB; bounds
    /// 1 byte to 5 GiB. UNKNOWN (A6b).
    pub vmeg_material_part_size: usize,
    /// How long a presigned material URL stays valid (simulated time; then
    /// HTTP 403). Default 1 h; bounds 1 s to 365 days. UNKNOWN.
    pub vmeg_presign_validity: Duration,
    /// Whether a VMEG clone accepts a material's `addressUrl` (served by the
    /// simulator over plain http) as `refAudio`. Default `true`. UNKNOWN
    /// (A6b); with `false` such a clone is refused with 400.
    pub vmeg_clone_accepts_material_urls: bool,
    /// Records kept for tests: [`crate::Stats::creates`] and
    /// [`crate::SimHandle::webhook_deliveries`] keep the latest this many (the
    /// counters stay exact). Default 100,000; bounds 1 to 10,000,000.
    pub max_records: usize,
}

impl std::fmt::Debug for SimConfig {
    // Written by hand: a failing test prints its `SimConfig` (or `SimHandle`), and the
    // derived one printed the API key. Every field is named, so a new one is not missed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            bind,
            public_base_url,
            api_key: _,
            speed,
            clone_duration,
            tts_duration,
            seed,
            faults,
            task_failure_rate,
            webhook,
            idempotency_ttl,
            vmeg_status_words,
            vmeg_clone_result_has_voice_id,
            vmeg_business_errors_http_200,
            vmeg_fault_consumes_idempotency_key,
            vmeg_rejection_consumes_idempotency_key,
            vmeg_max_body_bytes,
            webhook_retry_delays,
            webhook_timeout,
            jimmy_code_as_string,
            jimmy_auth_error,
            jimmy_bad_request,
            jimmy_not_found,
            jimmy_server_error,
            jimmy_model_validity,
            max_connections,
            header_read_timeout,
            body_read_timeout,
            response_write_timeout,
            max_tasks,
            task_retention,
            max_task_bytes,
            max_uploads,
            max_upload_bytes,
            upload_retention,
            max_idempotency_keys,
            max_voices,
            vmeg_max_material_bytes,
            vmeg_material_part_size,
            vmeg_presign_validity,
            vmeg_clone_accepts_material_urls,
            max_records,
        } = self;
        f.debug_struct("SimConfig")
            .field("bind", bind)
            .field("public_base_url", public_base_url)
            .field("api_key", &"[redacted]")
            .field("speed", speed)
            .field("clone_duration", clone_duration)
            .field("tts_duration", tts_duration)
            .field("seed", seed)
            .field("faults", faults)
            .field("task_failure_rate", task_failure_rate)
            .field("webhook", webhook)
            .field("idempotency_ttl", idempotency_ttl)
            .field("vmeg_status_words", vmeg_status_words)
            .field(
                "vmeg_clone_result_has_voice_id",
                vmeg_clone_result_has_voice_id,
            )
            .field(
                "vmeg_business_errors_http_200",
                vmeg_business_errors_http_200,
            )
            .field(
                "vmeg_fault_consumes_idempotency_key",
                vmeg_fault_consumes_idempotency_key,
            )
            .field(
                "vmeg_rejection_consumes_idempotency_key",
                vmeg_rejection_consumes_idempotency_key,
            )
            .field("vmeg_max_body_bytes", vmeg_max_body_bytes)
            .field("webhook_retry_delays", webhook_retry_delays)
            .field("webhook_timeout", webhook_timeout)
            .field("jimmy_code_as_string", jimmy_code_as_string)
            .field("jimmy_auth_error", jimmy_auth_error)
            .field("jimmy_bad_request", jimmy_bad_request)
            .field("jimmy_not_found", jimmy_not_found)
            .field("jimmy_server_error", jimmy_server_error)
            .field("jimmy_model_validity", jimmy_model_validity)
            .field("max_connections", max_connections)
            .field("header_read_timeout", header_read_timeout)
            .field("body_read_timeout", body_read_timeout)
            .field("response_write_timeout", response_write_timeout)
            .field("max_tasks", max_tasks)
            .field("task_retention", task_retention)
            .field("max_task_bytes", max_task_bytes)
            .field("max_uploads", max_uploads)
            .field("max_upload_bytes", max_upload_bytes)
            .field("upload_retention", upload_retention)
            .field("max_idempotency_keys", max_idempotency_keys)
            .field("max_voices", max_voices)
            .field("vmeg_max_material_bytes", vmeg_max_material_bytes)
            .field("vmeg_material_part_size", vmeg_material_part_size)
            .field("vmeg_presign_validity", vmeg_presign_validity)
            .field(
                "vmeg_clone_accepts_material_urls",
                vmeg_clone_accepts_material_urls,
            )
            .field("max_records", max_records)
            .finish()
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_base_url: None,
            api_key: "sim-key".into(),
            speed: 1.0,
            clone_duration: Duration::from_secs(2),
            tts_duration: Duration::from_secs(1),
            seed: 0,
            faults: FaultConfig::default(),
            task_failure_rate: 0.0,
            webhook: None,
            idempotency_ttl: Duration::from_secs(24 * 3600),
            vmeg_status_words: VmegStatusWords::default(),
            vmeg_clone_result_has_voice_id: true,
            vmeg_business_errors_http_200: false,
            vmeg_fault_consumes_idempotency_key: false,
            vmeg_rejection_consumes_idempotency_key: false,
            vmeg_max_body_bytes: 1024 * 1024,
            webhook_retry_delays: vec![
                Duration::from_secs(1),
                Duration::from_secs(2),
                Duration::from_secs(4),
            ],
            webhook_timeout: Duration::from_secs(5),
            jimmy_code_as_string: false,
            jimmy_auth_error: JimmyError::new(20001, 200),
            jimmy_bad_request: JimmyError::new(20002, 200),
            jimmy_not_found: JimmyError::new(20002, 200),
            jimmy_server_error: JimmyError::new(-1, 200),
            jimmy_model_validity: Duration::from_secs(3 * 24 * 3600),
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
            response_write_timeout: Duration::from_secs(30),
            max_tasks: 100_000,
            task_retention: Duration::from_secs(24 * 3600),
            max_uploads: 1000,
            max_upload_bytes: 256 * 1024 * 1024,
            max_task_bytes: 256 * 1024 * 1024,
            upload_retention: Duration::from_secs(24 * 3600),
            max_idempotency_keys: 200_000,
            max_voices: 100_000,
            max_records: 100_000,
            vmeg_max_material_bytes: 200 * 1024 * 1024,
            vmeg_material_part_size: 8 * 1024 * 1024,
            vmeg_presign_validity: Duration::from_secs(3600),
            vmeg_clone_accepts_material_urls: true,
        }
    }
}

impl SimConfig {
    /// Set [`SimConfig::bind`].
    pub fn with_bind(mut self, bind: SocketAddr) -> Self {
        self.bind = bind;
        self
    }
    /// Set [`SimConfig::public_base_url`].
    pub fn with_public_base_url(mut self, url: impl Into<String>) -> Self {
        self.public_base_url = Some(url.into());
        self
    }
    /// Set [`SimConfig::api_key`].
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = key.into();
        self
    }
    /// Set [`SimConfig::speed`] (must be in [`bounds::SPEED`]; checked at start).
    pub fn with_speed(mut self, speed: f64) -> Self {
        self.speed = speed;
        self
    }
    /// Set [`SimConfig::clone_duration`] and [`SimConfig::tts_duration`].
    pub fn with_durations(mut self, clone: Duration, tts: Duration) -> Self {
        self.clone_duration = clone;
        self.tts_duration = tts;
        self
    }
    /// Set [`SimConfig::seed`].
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Set [`SimConfig::faults`].
    pub fn with_faults(mut self, faults: FaultConfig) -> Self {
        self.faults = faults;
        self
    }
    /// Set [`SimConfig::task_failure_rate`].
    pub fn with_task_failure_rate(mut self, rate: f64) -> Self {
        self.task_failure_rate = rate;
        self
    }
    /// Set [`SimConfig::webhook`].
    pub fn with_webhook(mut self, url: impl Into<String>, secret: impl Into<String>) -> Self {
        self.webhook = Some(WebhookTarget {
            url: url.into(),
            secret: secret.into(),
        });
        self
    }
    /// Set [`SimConfig::idempotency_ttl`].
    pub fn with_idempotency_ttl(mut self, ttl: Duration) -> Self {
        self.idempotency_ttl = ttl;
        self
    }
    /// Set [`SimConfig::vmeg_status_words`].
    pub fn with_vmeg_status_words(mut self, words: VmegStatusWords) -> Self {
        self.vmeg_status_words = words;
        self
    }
    /// Set [`SimConfig::vmeg_clone_result_has_voice_id`].
    pub fn with_vmeg_clone_result_has_voice_id(mut self, yes: bool) -> Self {
        self.vmeg_clone_result_has_voice_id = yes;
        self
    }
    /// Set [`SimConfig::vmeg_business_errors_http_200`].
    pub fn with_vmeg_business_errors_http_200(mut self, yes: bool) -> Self {
        self.vmeg_business_errors_http_200 = yes;
        self
    }
    /// Set [`SimConfig::vmeg_fault_consumes_idempotency_key`].
    pub fn with_vmeg_fault_consumes_idempotency_key(mut self, yes: bool) -> Self {
        self.vmeg_fault_consumes_idempotency_key = yes;
        self
    }
    /// Set [`SimConfig::vmeg_rejection_consumes_idempotency_key`].
    pub fn with_vmeg_rejection_consumes_idempotency_key(mut self, yes: bool) -> Self {
        self.vmeg_rejection_consumes_idempotency_key = yes;
        self
    }
    /// Set [`SimConfig::webhook_retry_delays`].
    pub fn with_webhook_retry_delays(mut self, delays: Vec<Duration>) -> Self {
        self.webhook_retry_delays = delays;
        self
    }
    /// Set [`SimConfig::jimmy_code_as_string`].
    pub fn with_jimmy_code_as_string(mut self, yes: bool) -> Self {
        self.jimmy_code_as_string = yes;
        self
    }
    /// Set [`SimConfig::max_connections`], [`SimConfig::header_read_timeout`]
    /// and [`SimConfig::body_read_timeout`] (also used as
    /// [`SimConfig::response_write_timeout`]).
    pub fn with_connection_limits(
        mut self,
        max_connections: usize,
        header_read_timeout: Duration,
        body_read_timeout: Duration,
    ) -> Self {
        self.max_connections = max_connections;
        self.header_read_timeout = header_read_timeout;
        self.body_read_timeout = body_read_timeout;
        self.response_write_timeout = body_read_timeout;
        self
    }
    /// Set [`SimConfig::max_tasks`] and [`SimConfig::task_retention`].
    pub fn with_task_limits(mut self, max_tasks: usize, retention: Duration) -> Self {
        self.max_tasks = max_tasks;
        self.task_retention = retention;
        self
    }
    /// Set [`SimConfig::max_task_bytes`].
    pub fn with_max_task_bytes(mut self, max_bytes: usize) -> Self {
        self.max_task_bytes = max_bytes;
        self
    }
    /// Set [`SimConfig::max_uploads`], [`SimConfig::max_upload_bytes`] and
    /// [`SimConfig::upload_retention`].
    pub fn with_upload_limits(
        mut self,
        max_uploads: usize,
        max_bytes: usize,
        retention: Duration,
    ) -> Self {
        self.max_uploads = max_uploads;
        self.max_upload_bytes = max_bytes;
        self.upload_retention = retention;
        self
    }
    /// Set [`SimConfig::vmeg_max_material_bytes`] and
    /// [`SimConfig::vmeg_material_part_size`].
    pub fn with_material_limits(mut self, max_bytes: usize, part_size: usize) -> Self {
        self.vmeg_max_material_bytes = max_bytes;
        self.vmeg_material_part_size = part_size;
        self
    }
    /// Set [`SimConfig::vmeg_presign_validity`].
    pub fn with_presign_validity(mut self, validity: Duration) -> Self {
        self.vmeg_presign_validity = validity;
        self
    }
    /// Set [`SimConfig::vmeg_clone_accepts_material_urls`].
    pub fn with_vmeg_clone_accepts_material_urls(mut self, yes: bool) -> Self {
        self.vmeg_clone_accepts_material_urls = yes;
        self
    }
    /// Set the JimmyAI error choices (auth, bad request, not found, server).
    pub fn with_jimmy_errors(
        mut self,
        auth: JimmyError,
        bad_request: JimmyError,
        not_found: JimmyError,
        server: JimmyError,
    ) -> Self {
        self.jimmy_auth_error = auth;
        self.jimmy_bad_request = bad_request;
        self.jimmy_not_found = not_found;
        self.jimmy_server_error = server;
        self
    }

    /// `speed` sanitised to a number within [`bounds::SPEED`] (1 when not
    /// finite or not positive). [`SimConfig::validate`] refuses such values
    /// before the simulator starts; this is the belt to its braces.
    pub(crate) fn effective_speed(&self) -> f64 {
        if self.speed.is_finite() && self.speed > 0.0 {
            self.speed
                .clamp(*bounds::SPEED.start(), *bounds::SPEED.end())
        } else {
            1.0
        }
    }

    /// `d` divided by the speed factor, saturating at [`bounds::MAX_SCALED`].
    pub(crate) fn scaled(&self, d: Duration) -> Duration {
        let secs = d.as_secs_f64() / self.effective_speed();
        Duration::try_from_secs_f64(secs)
            .unwrap_or(bounds::MAX_SCALED)
            .min(bounds::MAX_SCALED)
    }

    /// Check every setting against its bounds (see the table in the crate
    /// docs). [`crate::Simulator::start_with`] calls this and refuses to
    /// start on the first error.
    pub fn validate(&self) -> Result<(), ConfigError> {
        use bounds as b;
        if let Some(url) = &self.public_base_url
            && let Err(reason) = b::check_public_base_url(url)
        {
            return Err(ConfigError::Invalid {
                setting: "public_base_url",
                reason,
            });
        }
        if !(self.speed.is_finite() && b::SPEED.contains(&self.speed)) {
            return Err(ConfigError::out_of_bounds(
                "speed",
                "a number in [0.001, 1000000]",
                format!("{:?}", self.speed),
            ));
        }
        if self.api_key.trim().is_empty() || self.api_key.len() > b::MAX_API_KEY_LEN {
            return Err(ConfigError::Invalid {
                setting: "api_key",
                reason: format!("must be non-empty and at most {} bytes", b::MAX_API_KEY_LEN),
            });
        }
        // The key is matched against the trimmed token of a header value, which
        // only visible ASCII passes: any other key started a simulator that
        // answered 401 to every request, with nothing saying why.
        let visible = |c: char| c.is_ascii_graphic() || c == ' ';
        if self.api_key.trim() != self.api_key || !self.api_key.chars().all(visible) {
            return Err(ConfigError::Invalid {
                setting: "api_key",
                reason: "must be visible ASCII characters, spaces only between them: \
                         no other key can be matched in an `Authorization: Bearer` header"
                    .into(),
            });
        }
        for (name, d) in [
            ("clone_duration", self.clone_duration),
            ("tts_duration", self.tts_duration),
        ] {
            if d > b::MAX_TASK_DURATION {
                return Err(ConfigError::out_of_bounds(
                    name,
                    "at most 30 days",
                    fmt_dur(d),
                ));
            }
        }
        if !(self.task_failure_rate.is_finite() && (0.0..=1.0).contains(&self.task_failure_rate)) {
            return Err(ConfigError::out_of_bounds(
                "task_failure_rate",
                "a number in [0, 1]",
                format!("{:?}", self.task_failure_rate),
            ));
        }
        self.faults.validate()?;
        if let Some(w) = &self.webhook {
            let ok = reqwest::Url::parse(&w.url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !ok {
                return Err(ConfigError::Invalid {
                    setting: "webhook.url",
                    reason: "must be an absolute http:// or https:// URL".into(),
                });
            }
        }
        for (name, d) in [
            ("idempotency_ttl", self.idempotency_ttl),
            ("jimmy_model_validity", self.jimmy_model_validity),
        ] {
            if d > b::MAX_RETENTION {
                return Err(ConfigError::out_of_bounds(
                    name,
                    "at most 365 days",
                    fmt_dur(d),
                ));
            }
        }
        if self.vmeg_max_body_bytes > b::MAX_BODY_BYTES {
            return Err(ConfigError::out_of_bounds(
                "vmeg_max_body_bytes",
                "at most 64 MiB",
                self.vmeg_max_body_bytes,
            ));
        }
        if self.webhook_retry_delays.len() > b::MAX_WEBHOOK_RETRIES {
            return Err(ConfigError::out_of_bounds(
                "webhook_retry_delays",
                "at most 16 delays",
                self.webhook_retry_delays.len(),
            ));
        }
        if let Some(d) = self
            .webhook_retry_delays
            .iter()
            .find(|d| **d > b::MAX_WEBHOOK_DELAY)
        {
            return Err(ConfigError::out_of_bounds(
                "webhook_retry_delays",
                "each at most 1 day",
                fmt_dur(*d),
            ));
        }
        if !b::WEBHOOK_TIMEOUT.contains(&self.webhook_timeout) {
            return Err(ConfigError::out_of_bounds(
                "webhook_timeout",
                "between 1 ms and 1 hour",
                fmt_dur(self.webhook_timeout),
            ));
        }
        for (name, e) in [
            ("jimmy_auth_error", self.jimmy_auth_error),
            ("jimmy_bad_request", self.jimmy_bad_request),
            ("jimmy_not_found", self.jimmy_not_found),
            ("jimmy_server_error", self.jimmy_server_error),
        ] {
            if !(200..=599).contains(&e.http_status) {
                return Err(ConfigError::out_of_bounds(
                    name,
                    "an HTTP status in [200, 599]",
                    e.http_status,
                ));
            }
        }
        for (name, v, lo, hi, words) in [
            (
                "max_connections",
                self.max_connections,
                1,
                b::MAX_CONNECTIONS,
                "between 1 and 100000",
            ),
            (
                "max_tasks",
                self.max_tasks,
                1,
                b::MAX_TASKS,
                "between 1 and 10000000",
            ),
            (
                "max_uploads",
                self.max_uploads,
                1,
                b::MAX_UPLOADS,
                "between 1 and 1000000",
            ),
            (
                "max_upload_bytes",
                self.max_upload_bytes,
                0,
                b::MAX_UPLOAD_BYTES,
                "at most 16 GiB",
            ),
            (
                "max_task_bytes",
                self.max_task_bytes,
                1,
                b::MAX_TASK_BYTES,
                "between 1 byte and 16 GiB",
            ),
            (
                "max_voices",
                self.max_voices,
                1,
                b::MAX_TASKS,
                "between 1 and 10000000",
            ),
            (
                "max_records",
                self.max_records,
                1,
                b::MAX_TASKS,
                "between 1 and 10000000",
            ),
            (
                "vmeg_max_material_bytes",
                self.vmeg_max_material_bytes,
                1,
                b::MAX_UPLOAD_BYTES,
                "between 1 byte and 16 GiB",
            ),
            (
                "vmeg_material_part_size",
                self.vmeg_material_part_size,
                1,
                b::MAX_PART_BYTES,
                "between 1 byte and 5 GiB",
            ),
            (
                "max_idempotency_keys",
                self.max_idempotency_keys,
                1,
                b::MAX_IDEMPOTENCY_KEYS,
                "between 1 and 10000000",
            ),
        ] {
            if !(lo..=hi).contains(&v) {
                return Err(ConfigError::out_of_bounds(name, words, v));
            }
        }
        for (name, d) in [
            ("header_read_timeout", self.header_read_timeout),
            ("body_read_timeout", self.body_read_timeout),
            ("response_write_timeout", self.response_write_timeout),
        ] {
            if !b::READ_TIMEOUT.contains(&d) {
                return Err(ConfigError::out_of_bounds(
                    name,
                    "between 10 ms and 1 hour",
                    fmt_dur(d),
                ));
            }
        }
        for (name, d) in [
            ("task_retention", self.task_retention),
            ("upload_retention", self.upload_retention),
        ] {
            if d > b::MAX_RETENTION {
                return Err(ConfigError::out_of_bounds(
                    name,
                    "at most 365 days",
                    fmt_dur(d),
                ));
            }
        }
        if !(b::PRESIGN_VALIDITY).contains(&self.vmeg_presign_validity) {
            return Err(ConfigError::out_of_bounds(
                "vmeg_presign_validity",
                "between 1 s and 365 days",
                fmt_dur(self.vmeg_presign_validity),
            ));
        }
        let w = &self.vmeg_status_words;
        for (name, word) in [
            ("vmeg_status_words.queued", &w.queued),
            ("vmeg_status_words.running", &w.running),
            ("vmeg_status_words.succeeded", &w.succeeded),
            ("vmeg_status_words.failed", &w.failed),
        ] {
            if word.trim().is_empty() || word.len() > 64 {
                return Err(ConfigError::Invalid {
                    setting: name,
                    reason: "must be a non-empty word of at most 64 bytes".into(),
                });
            }
        }
        Ok(())
    }
}
