//! The bounds [`crate::SimConfig::validate`] enforces, and the error naming
//! the setting outside them.

use std::ops::RangeInclusive;
use std::time::Duration;

/// [`crate::SimConfig::speed`].
pub const SPEED: RangeInclusive<f64> = 0.001..=1_000_000.0;
/// [`crate::SimConfig::api_key`] length in bytes.
pub const MAX_API_KEY_LEN: usize = 4096;
/// The longest [`crate::SimConfig::public_base_url`], in bytes.
pub const MAX_PUBLIC_BASE_URL_LEN: usize = 2048;

/// The largest request head (request line and headers) a connection may send, in bytes;
/// a larger one gets HTTP 431. Set on hyper explicitly: its own limit (~400 KiB) is
/// checked only while the head is incomplete, so a larger head read whole in one go was
/// served (a 500 KB header was answered 200 under load, 431 otherwise).
pub const MAX_REQUEST_HEAD_BYTES: usize = 64 * 1024;

/// Why `url` cannot be a [`crate::SimConfig::public_base_url`]: every URL handed out
/// starts with it, so it must be an absolute http(s) URL that a path can follow.
pub(crate) fn check_public_base_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| "must start with http:// or https://".to_string())?;
    if url.len() > MAX_PUBLIC_BASE_URL_LEN {
        return Err(format!("must be at most {MAX_PUBLIC_BASE_URL_LEN} bytes"));
    }
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.is_empty() {
        return Err("must name a host".into());
    }
    // The APIs are served at the root, and a prefix is not stripped: every URL handed out
    // and every call through it would be answered 404.
    if !path.is_empty() {
        return Err("must have no path (the simulator serves its APIs at the root)".into());
    }
    // Credentials would go out as `Authorization: Basic` (refused by the presigned PUT) and
    // be printed with the base URL.
    if authority.contains('@') {
        return Err("must carry no credentials (user:password@)".into());
    }
    if url.contains(['?', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must have no query, fragment, whitespace or control character".into());
    }
    Ok(())
}
/// Base task durations.
pub const MAX_TASK_DURATION: Duration = Duration::from_secs(30 * 86_400);
/// Any duration after dividing by `speed` is capped here (30 days / 0.001).
pub const MAX_SCALED: Duration = Duration::from_secs(30 * 86_400 * 1000);
/// `idempotency_ttl`, `jimmy_model_validity`, retention ages.
pub const MAX_RETENTION: Duration = Duration::from_secs(365 * 86_400);
/// `vmeg_max_body_bytes`.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Number of webhook retries.
pub const MAX_WEBHOOK_RETRIES: usize = 16;
/// One webhook retry delay.
pub const MAX_WEBHOOK_DELAY: Duration = Duration::from_secs(86_400);
/// `webhook_timeout`.
pub const WEBHOOK_TIMEOUT: RangeInclusive<Duration> =
    Duration::from_millis(1)..=Duration::from_secs(3600);
/// Fault `Retry-After` (`429=RATE:ARG`).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);
/// Fault latency (`latency=RATE:ARG`).
pub const MAX_LATENCY: Duration = Duration::from_secs(600);
/// `max_connections`.
pub const MAX_CONNECTIONS: usize = 100_000;
/// `header_read_timeout`, `body_read_timeout`.
pub const READ_TIMEOUT: RangeInclusive<Duration> =
    Duration::from_millis(10)..=Duration::from_secs(3600);
/// `max_tasks`.
pub const MAX_TASKS: usize = 10_000_000;
/// `n` bytes as a `usize`, or `usize::MAX` where `n` does not fit (a 32-bit target, where
/// the bounds above 4 GiB mean "whatever the address space holds"). Written as `usize`
/// products, 16 GiB overflowed at compile time there and the crate did not build.
const fn bytes(n: u64) -> usize {
    if n > usize::MAX as u64 {
        usize::MAX
    } else {
        n as usize
    }
}

/// `max_task_bytes` (16 GiB; `usize::MAX` on a 32-bit target).
pub const MAX_TASK_BYTES: usize = bytes(16 << 30);
/// `max_uploads`.
pub const MAX_UPLOADS: usize = 1_000_000;
/// `max_upload_bytes` (16 GiB; `usize::MAX` on a 32-bit target).
pub const MAX_UPLOAD_BYTES: usize = bytes(16 << 30);
/// `vmeg_material_part_size`, the usual object-store maximum part (5 GiB; `usize::MAX`
/// on a 32-bit target).
pub const MAX_PART_BYTES: usize = bytes(5 << 30);
/// `vmeg_presign_validity`.
pub const PRESIGN_VALIDITY: RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(365 * 86_400);
/// `max_idempotency_keys`.
pub const MAX_IDEMPOTENCY_KEYS: usize = 10_000_000;

/// JimmyAI uploads received at the same time, at most (each is buffered whole,
/// up to the vendor's 100 MB).
pub const MAX_CONCURRENT_UPLOADS: usize = 2;

/// Bytes of JSON request bodies (both vendors) being read, parsed and checked at once, at
/// most; a body larger takes the whole budget alone. Each parses to some 17 to 32 times
/// its size, so this holds the parsed bodies to some 256 MiB; bodies beyond wait their
/// turn, unread, within the body read timeout, then get a 503, busy.
pub const MAX_JSON_PARSE_BYTES: usize = 8 * 1024 * 1024;

/// VMEG webhook attempts in flight at once, at most (each a connection to the
/// receiver); the bodies of deliveries under way hold at most
/// `max_task_bytes` besides. Deliveries beyond either wait their turn.
pub const MAX_CONCURRENT_WEBHOOKS: usize = 64;

/// `1.5s`-style rendering for error messages.
pub(crate) fn fmt_dur(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

/// A setting outside its bounds; [`crate::SimConfig::validate`] says which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A number or duration outside its range.
    #[error("setting `{setting}` must be {bounds} (got {got})")]
    OutOfBounds {
        /// The setting's field name.
        setting: &'static str,
        /// The accepted range, in words.
        bounds: &'static str,
        /// The value given.
        got: String,
    },
    /// A value of the wrong shape.
    #[error("setting `{setting}` {reason}")]
    Invalid {
        /// The setting's field name.
        setting: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl ConfigError {
    pub(crate) fn out_of_bounds(
        setting: &'static str,
        bounds: &'static str,
        got: impl std::fmt::Display,
    ) -> Self {
        Self::OutOfBounds {
            setting,
            bounds,
            got: got.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    /// On 64-bit targets the byte bounds are the sizes the docs give.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn byte_bounds_are_their_sizes_on_64_bit() {
        let gib = 1024 * 1024 * 1024;
        assert_eq!(super::MAX_TASK_BYTES, 16 * gib);
        assert_eq!(super::MAX_UPLOAD_BYTES, 16 * gib);
        assert_eq!(super::MAX_PART_BYTES, 5 * gib);
    }
}
