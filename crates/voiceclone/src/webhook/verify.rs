//! Checking a delivery: signature, timestamp, size; then decoding it.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::event::{WebhookEvent, decode_event};
use super::{DEFAULT_DEDUPE_TTL, REPLAY_WINDOW, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// The largest body limit a [`Verifier`] takes (16 MiB): VMEG's deliveries are a few KB.
pub const MAX_BODY_LIMIT: usize = 16 * 1024 * 1024;
use crate::error::{Error, ErrorKind, WebhookFailure};
use crate::model::Provider;
use crate::secret::WebhookSecret;

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

/// The longest tolerance a verifier takes: half the default dedupe memory, so a replay up
/// to twice the tolerance after the first delivery is still remembered by a store kept at
/// [`DEFAULT_DEDUPE_TTL`].
const MAX_TOLERANCE: Duration = Duration::from_secs(DEFAULT_DEDUPE_TTL.as_secs() / 2);

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

    /// Sets the allowed clock difference, either way, at most half of
    /// [`DEFAULT_DEDUPE_TTL`] (36 h; longer values are read as that): the tolerance runs
    /// either way, so a replay can come up to twice the tolerance after the first delivery,
    /// and a delivery older than the deduplicator's memory would be fresh again when
    /// replayed. Keep a deduplicator's TTL at least twice this long:
    /// [`MemoryDeduplicator`](super::MemoryDeduplicator) only guarantees
    /// [`MIN_DEDUPE_TTL`](super::MIN_DEDUPE_TTL), twice the default tolerance. A
    /// [`CompletionHub`](super::CompletionHub) shortens it to half its store's dedupe TTL
    /// itself. Several receivers sharing one Redis store must use one dedupe TTL: a mark
    /// lives as long as the receiver that set it said.
    #[must_use]
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance.min(MAX_TOLERANCE);
        self
    }

    /// The allowed clock difference, either way.
    pub fn max_age(&self) -> Duration {
        self.tolerance
    }

    /// Sets the body size limit, at most [`MAX_BODY_LIMIT`] (16 MiB; larger values are read
    /// as that): the body of a delivery is read whole before its signature can be checked,
    /// so the limit bounds what an unauthenticated sender makes the receiver hold.
    #[must_use]
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit.min(MAX_BODY_LIMIT);
        self
    }

    /// True when the secret is not empty (an empty one refuses every delivery).
    pub(crate) fn has_secret(&self) -> bool {
        !self.secret.is_empty()
    }

    /// The body size limit in bytes.
    pub fn body_limit(&self) -> usize {
        self.max_body_bytes
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
                log_refusal(&failure);
                Error::new(ErrorKind::Webhook(failure))
                    .with_provider(Provider::Vmeg)
                    .with_operation("verify_webhook")
            })
    }

    /// Verifies a delivery read back from a [`CompletionStore`](super::CompletionStore):
    /// the signature and the size as for a fresh one, but not its age (it was checked
    /// against the replay window when it was received; it is read back later on purpose).
    pub(crate) fn verify_stored(
        &self,
        timestamp: &str,
        signature: &str,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookFailure> {
        let sent_at = self.authenticate(timestamp, signature, body)?;
        decode_event(body, sent_at)
    }

    fn check(
        &self,
        timestamp: &str,
        signature: &str,
        body: &[u8],
        now: SystemTime,
    ) -> Result<WebhookEvent, WebhookFailure> {
        let sent_at = self.authenticate(timestamp, signature, body)?;
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

    /// Size, headers and signature; returns when it was signed.
    fn authenticate(
        &self,
        timestamp: &str,
        signature: &str,
        body: &[u8],
    ) -> Result<SystemTime, WebhookFailure> {
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
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.secret.expose().as_bytes());
        // The signed message is the header string exactly as received, then the raw body:
        // fed to the MAC in two parts, so that checking a body never holds a second copy of
        // it (a sender need not know the secret to make every request pay for one).
        let mut mac = ring::hmac::Context::with_key(&key);
        mac.update(timestamp.as_bytes());
        mac.update(body);
        let computed = mac.sign();
        // ring compares tags in constant time only inside `verify`, which takes its message
        // in one slice. So the two tags are compared through their own HMACs under the same
        // key: equal exactly when the tags are (a collision of HMAC-SHA256 aside), compared
        // in constant time by `verify`, and what timing could show is about values nobody
        // without the secret can compute (the double-HMAC comparison).
        ring::hmac::verify(
            &key,
            computed.as_ref(),
            ring::hmac::sign(&key, &expected).as_ref(),
        )
        .map_err(|_| WebhookFailure::SignatureMismatch)?;

        UNIX_EPOCH
            .checked_add(Duration::from_millis(sent_ms))
            .ok_or_else(|| WebhookFailure::MalformedTimestamp {
                value: timestamp.chars().take(40).collect(),
            })
    }
}

/// `X-Timestamp`'s Unix milliseconds: 1 to 16 ASCII digits.
pub(super) fn parse_millis(raw: &str) -> Option<u64> {
    if raw.is_empty() || raw.len() > 16 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}

/// A kind last warned about this long ago warns again at its next refusal, whatever its
/// count: after one flood (a gateway stripping headers for an hour, a secret rotated on one
/// side) the powers of two grow too far apart, and the kind would stay at `debug` for the
/// rest of the process's life.
const REWARN_AFTER: Duration = Duration::from_secs(600);

/// Refused deliveries of one kind in this process, for [`log_refusal`]; also what the Redis
/// store and the hub ignore from a party that may write or publish as often as it likes.
pub(crate) struct Refusals {
    count: std::sync::atomic::AtomicU64,
    /// When the kind last warned, in milliseconds since [`log_clock`]'s start, plus one (0:
    /// never).
    last_warned: std::sync::atomic::AtomicU64,
}

static REFUSED: [Refusals; 11] = [const { Refusals::new() }; 11];

impl Refusals {
    pub(crate) const fn new() -> Self {
        Self {
            count: std::sync::atomic::AtomicU64::new(0),
            last_warned: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Counts one now: `Some(its number)` when it warns (the 1st, 2nd, 4th, ..., or the first
    /// after [`REWARN_AFTER`]), `None` when it is logged at `debug` only.
    pub(crate) fn warns(&self) -> Option<u64> {
        match self.count_one(log_clock()) {
            (n, true) => Some(n),
            (_, false) => None,
        }
    }

    /// Counts one refusal at `now_ms` on [`log_clock`]: its number, and whether it warns.
    fn count_one(&self, now_ms: u64) -> (u64, bool) {
        use std::sync::atomic::Ordering;
        let n = self.count.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        let stamp = now_ms.saturating_add(1);
        if n.is_power_of_two() {
            self.last_warned.store(stamp, Ordering::Relaxed);
            return (n, true);
        }
        let last = self.last_warned.load(Ordering::Relaxed);
        // One warning when many refusals of the kind pass the time at once.
        let warn = warns_again(last, now_ms)
            && self
                .last_warned
                .compare_exchange(last, stamp, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        (n, warn)
    }
}

/// Monotonic milliseconds since the first refusal logged in this process.
fn log_clock() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = *START.get_or_init(std::time::Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The counts of `failure`'s kind, and whether the delivery's signature verified (so it came
/// from VMEG, or is a replay of what VMEG sent).
fn refusals_of(failure: &WebhookFailure) -> (&'static Refusals, bool) {
    match failure {
        WebhookFailure::MissingHeader { .. } => (&REFUSED[0], false),
        WebhookFailure::MissingSecret => (&REFUSED[1], false),
        WebhookFailure::MalformedTimestamp { .. } => (&REFUSED[2], false),
        WebhookFailure::MalformedSignature => (&REFUSED[3], false),
        WebhookFailure::SignatureMismatch => (&REFUSED[4], false),
        WebhookFailure::BodyTooLarge { .. } => (&REFUSED[5], false),
        WebhookFailure::StaleTimestamp { .. } => (&REFUSED[6], true),
        WebhookFailure::FutureTimestamp { .. } => (&REFUSED[7], true),
        WebhookFailure::PipelineKeyTooLong { .. } => (&REFUSED[8], true),
        WebhookFailure::InvalidJson { .. } => (&REFUSED[9], true),
        WebhookFailure::StoreUnavailable { .. } => (&REFUSED[10], true),
    }
}

/// Whether a refusal of a kind that is not its 1st, 2nd, 4th, ... warns at `now_ms` on
/// [`log_clock`], when the kind last warned at `last_warned` (as stored: 0 never, else
/// milliseconds plus one).
fn warns_again(last_warned: u64, now_ms: u64) -> bool {
    let rewarn = u64::try_from(REWARN_AFTER.as_millis()).unwrap_or(u64::MAX);
    last_warned == 0 || now_ms.saturating_sub(last_warned.saturating_sub(1)) >= rewarn
}

/// Logs a refused delivery: at `warn` for the 1st, 2nd, 4th, 8th, ... refusal of its kind
/// in this process, and for the first after [`REWARN_AFTER`] without a warning of its kind;
/// at `debug` otherwise. Anyone who reaches the route can be refused, as often as they like:
/// one warning per request would let them fill the logs. Counting each kind apart keeps
/// scanners' junk (no headers, a bad signature) from silencing the refusals only VMEG's own
/// deliveries can cause (a drifted clock, a changed envelope): each kind shows at its first
/// refusal, a flood in a few lines that count it, and a kind still refused later shows again
/// within [`REWARN_AFTER`]. A kind junk shares (a wrong secret reads as a bad signature)
/// shows once per [`REWARN_AFTER`] while the junk lasts.
fn log_refusal(failure: &WebhookFailure) {
    let (kind, signed) = refusals_of(failure);
    let (n, warn) = kind.count_one(log_clock());
    if warn {
        tracing::warn!(failure = %failure, signed, refused_so_far = n, "webhook delivery refused");
    } else {
        tracing::debug!(failure = %failure, signed, refused_so_far = n, "webhook delivery refused");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::model::TaskStatus;
    use crate::webhook::{MAX_PIPELINE_KEY_BYTES, RawData, WebhookEventKind, WebhookPayload};

    const SECRET: &str = "whsec_test_123";

    // Computed independently of the code under test (ring): the RustCrypto hmac crate.
    fn sign(ts: &str, body: &[u8]) -> String {
        use hmac::{Hmac, Mac};
        use sha2::Sha256;
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(ts.as_bytes());
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    fn verifier() -> Verifier {
        Verifier::new(WebhookSecret::new(SECRET))
    }

    /// A replay window longer than the dedupe TTL would make a captured delivery fresh again
    /// once its mark expired; a body limit of `usize::MAX` would let any sender make the
    /// receiver hold its body whole before the signature is checked.
    #[test]
    fn the_tolerance_and_the_body_limit_are_bounded() {
        let v = verifier()
            .tolerance(Duration::MAX)
            .max_body_bytes(usize::MAX);
        assert_eq!(v.body_limit(), MAX_BODY_LIMIT);
        let body = CLONE_BODY.as_bytes();
        let sig = sign(TS, body);
        // At most half the 72 h dedupe memory: a replay can come twice the tolerance after
        // the first delivery.
        let hours = |h: u64| Duration::from_secs(h * 3600);
        assert_eq!(v.max_age(), hours(36));
        assert!(v.verify_at(TS, &sig, body, now() + hours(35)).is_ok());
        assert!(matches!(
            failure(v.verify_at(TS, &sig, body, now() + hours(37))),
            WebhookFailure::StaleTimestamp { .. }
        ));
        assert_eq!(verifier().max_body_bytes(64).body_limit(), 64);
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

    /// `version` and `event` are read leniently: an authentic delivery with a number there
    /// is not refused (it was `InvalidJson`, and VMEG's retries were refused too).
    #[test]
    fn a_number_for_version_or_event_does_not_refuse_a_delivery() {
        for (body, kind) in [
            (
                CLONE_BODY.replace(r#""version":"v1""#, r#""version":1"#),
                WebhookEventKind::CloneVoice,
            ),
            (
                CLONE_BODY.replace(r#""event":"openapi-clone-voice""#, r#""event":7"#),
                WebhookEventKind::Other("7".into()),
            ),
        ] {
            let body = body.as_bytes();
            let ev = verifier()
                .verify_at(TS, &sign(TS, body), body, now())
                .unwrap();
            assert_eq!(ev.kind, kind);
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

    /// After a flood, the powers of two grow too far apart to show a kind still refused: the
    /// next refusal 10 minutes after the kind's last warning warns again, and not before.
    #[test]
    fn a_kind_warns_again_once_ten_minutes_passed_since_its_last_warning() {
        let minute = 60_000;
        assert!(warns_again(0, 0), "a kind never warned about");
        let warned_at = 5 * minute;
        let stored = warned_at + 1;
        assert!(!warns_again(stored, warned_at));
        assert!(!warns_again(stored, warned_at + 10 * minute - 1));
        assert!(warns_again(stored, warned_at + 10 * minute));
        assert!(warns_again(stored, u64::MAX));
        // A clock read before the stored stamp (another thread's later store) never warns.
        assert!(!warns_again(stored, 0));

        // A flood of one kind, then the same kind every minute: warnings at the powers of
        // two, then at most once per 10 minutes, each counting what came between.
        let kind = Refusals::new();
        let warned: Vec<u64> = (0..3000)
            .filter_map(|i| {
                let (n, warn) = kind.count_one(i);
                warn.then_some(n)
            })
            .collect();
        assert_eq!(warned, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048]);
        let later: Vec<u64> = (1..=25)
            .filter(|m| kind.count_one(3000 + m * minute).1)
            .collect();
        assert_eq!(later, [10, 20], "minutes after the flood that warned");
    }

    #[test]
    fn errors_never_show_the_secret() {
        let v = verifier();
        let err = v.verify_at(TS, "00", b"{}", now()).unwrap_err();
        assert!(!format!("{err} {err:?} {v:?}").contains(SECRET));
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
}
