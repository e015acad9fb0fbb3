//! [`SimConfig`]: everything the simulator can be told, including the choices
//! it has to make for facts the vendor docs leave UNKNOWN.

use std::net::SocketAddr;
use std::time::Duration;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    /// Receiver URL (plain `http://` on loopback is fine for tests).
    pub url: String,
    /// Webhook secret, the HMAC-SHA256 key. Never logged.
    pub secret: String,
}

/// Simulator configuration. Build it with [`SimConfig::default`] and the
/// `with_*` methods.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to bind. Default `127.0.0.1:0` (a free loopback port).
    pub bind: SocketAddr,
    /// The only API key accepted by both APIs. Default `"sim-key"`.
    pub api_key: String,
    /// Task durations and webhook retry delays are divided by this. Default
    /// `1.0`; `1000.0` turns seconds into milliseconds.
    pub speed: f64,
    /// Base duration of a clone task (VMEG clone, JimmyAI preview clone),
    /// before dividing by `speed`. The first quarter is `queued`, the rest
    /// `processing`. Default 2 s. UNKNOWN real latency: configurable guess.
    pub clone_duration: Duration,
    /// Base duration of a TTS / production audio task. Default 1 s.
    pub tts_duration: Duration,
    /// Seed for every random choice (faults, task failures). Default `0`.
    pub seed: u64,
    /// Injected faults. Default: none.
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
    /// Whether a VMEG mutating request rejected by validation (400/404)
    /// consumes its idempotency key. Default `false`. UNKNOWN (A4).
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
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
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
        }
    }
}

impl SimConfig {
    /// Set [`SimConfig::bind`].
    pub fn with_bind(mut self, bind: SocketAddr) -> Self {
        self.bind = bind;
        self
    }
    /// Set [`SimConfig::api_key`].
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = key.into();
        self
    }
    /// Set [`SimConfig::speed`] (values `<= 0` or non-finite are treated as 1).
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

    /// `speed` sanitised to a positive finite number.
    pub(crate) fn effective_speed(&self) -> f64 {
        if self.speed.is_finite() && self.speed > 0.0 {
            self.speed
        } else {
            1.0
        }
    }

    /// `d` divided by the speed factor.
    pub(crate) fn scaled(&self, d: Duration) -> Duration {
        Duration::from_secs_f64(d.as_secs_f64() / self.effective_speed())
    }
}
