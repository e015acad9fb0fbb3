//! VMEG webhook verification against vectors computed here, independently of the adapter:
//! HMAC-SHA256 keyed with the secret over the timestamp string followed by the raw body.

use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use voiceclone::ErrorKind;
use voiceclone::webhook::{
    Confirmation, DedupClaim, DedupFuture, Deduplicator, MemoryDeduplicator, Verifier,
    WebhookEventKind, WebhookFailure, WebhookPayload,
};

const SECRET: &str = "whsec-test-91b2-DO-NOT-PRINT";

fn sign(secret: &str, ts: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

const NOW_MS: u64 = 1_781_777_280_000;

fn clone_body(key: &str) -> Vec<u8> {
    json!({
        "code": 200, "version": "v1", "event": "openapi-clone-voice",
        "pipelineKey": "a1b2c3d4e5f6789012345678901234ab", "message": "",
        "extraData": {"voiceclone": {"idempotencyKey": key}, "orderId": 7},
        "data": {"taskId": "t-1", "voiceId": "cv_1", "createdAt": "2026-11-21T00:00:00Z"}
    })
    .to_string()
    .into_bytes()
}

fn verifier() -> Verifier {
    Verifier::new(SECRET.into())
}

fn failure(r: Result<voiceclone::webhook::WebhookEvent, voiceclone::Error>) -> WebhookFailure {
    match r.map(|_| ()).unwrap_err().kind() {
        ErrorKind::Webhook(f) => f.clone(),
        other => panic!("expected a webhook failure, got {other:?}"),
    }
}

#[test]
fn a_correctly_signed_clone_delivery_becomes_an_event() {
    let body = clone_body("key-1");
    let ts = NOW_MS.to_string();
    let sig = sign(SECRET, &ts, &body);
    let event = verifier().verify_at(&ts, &sig, &body, at(NOW_MS)).unwrap();
    assert_eq!(event.kind, WebhookEventKind::CloneVoice);
    assert_eq!(event.pipeline_key, "a1b2c3d4e5f6789012345678901234ab");
    assert_eq!(event.code, 200);
    assert_eq!(event.idempotency_key(), Some("key-1"));
    assert_eq!(event.extra_data.as_ref().unwrap()["orderId"], 7);
    match event.payload {
        WebhookPayload::Clone(job) => {
            assert_eq!(job.id.as_str(), "t-1");
            assert_eq!(job.voice.unwrap().id, "cv_1");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_tts_delivery_carries_its_audio() {
    let body = json!({"code": 200, "event": "openapi-tts", "pipelineKey": "p2",
        "data": {"taskId": "tts-1", "results": [{"uri": "https://cdn.example.com/a.m4a", "duration": 1.0}]}})
    .to_string();
    let ts = NOW_MS.to_string();
    let sig = sign(SECRET, &ts, body.as_bytes());
    let event = verifier()
        .verify_at(&ts, &sig, body.as_bytes(), at(NOW_MS))
        .unwrap();
    assert_eq!(event.kind, WebhookEventKind::Tts);
    match event.payload {
        WebhookPayload::Speech(job) => {
            assert_eq!(
                job.speech.unwrap().audio_urls[0].as_str(),
                "https://cdn.example.com/a.m4a"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unknown_event_kind_is_kept_not_refused() {
    let body =
        json!({"code": 200, "event": "openapi-new-thing", "pipelineKey": "p3", "data": {"x": 1}})
            .to_string();
    let ts = NOW_MS.to_string();
    let sig = sign(SECRET, &ts, body.as_bytes());
    let event = verifier()
        .verify_at(&ts, &sig, body.as_bytes(), at(NOW_MS))
        .unwrap();
    assert_eq!(
        event.kind,
        WebhookEventKind::Other("openapi-new-thing".into())
    );
}

#[test]
fn timestamps_outside_300_seconds_either_way_are_refused() {
    let body = clone_body("k");
    for (offset_ms, stale) in [(-301_000i64, true), (301_000, false)] {
        let ts = (NOW_MS as i64 + offset_ms).to_string();
        let sig = sign(SECRET, &ts, &body);
        let f = failure(verifier().verify_at(&ts, &sig, &body, at(NOW_MS)));
        if stale {
            assert!(matches!(f, WebhookFailure::StaleTimestamp { .. }), "{f:?}");
        } else {
            assert!(matches!(f, WebhookFailure::FutureTimestamp { .. }), "{f:?}");
        }
    }
    // Just inside the window passes.
    let ts = (NOW_MS - 299_000).to_string();
    let sig = sign(SECRET, &ts, &body);
    assert!(verifier().verify_at(&ts, &sig, &body, at(NOW_MS)).is_ok());
}

#[test]
fn tampering_with_body_timestamp_or_secret_is_refused() {
    let body = clone_body("k");
    let ts = NOW_MS.to_string();
    let sig = sign(SECRET, &ts, &body);
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    assert_eq!(
        failure(verifier().verify_at(&ts, &sig, &tampered, at(NOW_MS))),
        WebhookFailure::SignatureMismatch
    );
    let other_ts = (NOW_MS + 1).to_string();
    assert_eq!(
        failure(verifier().verify_at(&other_ts, &sig, &body, at(NOW_MS))),
        WebhookFailure::SignatureMismatch
    );
    let wrong = sign("another-secret", &ts, &body);
    assert_eq!(
        failure(verifier().verify_at(&ts, &wrong, &body, at(NOW_MS))),
        WebhookFailure::SignatureMismatch
    );
    // The guide says compare exactly: an uppercased signature is not the same signature.
    let upper = sig.to_uppercase();
    assert!(
        verifier()
            .verify_at(&ts, &upper, &body, at(NOW_MS))
            .is_err()
    );
}

#[test]
fn malformed_headers_and_oversized_bodies_have_their_own_failures() {
    let body = clone_body("k");
    let ts = NOW_MS.to_string();
    let sig = sign(SECRET, &ts, &body);
    assert!(matches!(
        failure(verifier().verify_at("", &sig, &body, at(NOW_MS))),
        WebhookFailure::MissingHeader { .. }
    ));
    assert!(matches!(
        failure(verifier().verify_at("yesterday", &sig, &body, at(NOW_MS))),
        WebhookFailure::MalformedTimestamp { .. }
    ));
    assert_eq!(
        failure(verifier().verify_at(&ts, "zz-not-hex", &body, at(NOW_MS))),
        WebhookFailure::MalformedSignature
    );
    assert!(matches!(
        failure(
            verifier()
                .max_body_bytes(16)
                .verify_at(&ts, &sig, &body, at(NOW_MS))
        ),
        WebhookFailure::BodyTooLarge { .. }
    ));
    let not_json = b"not json";
    let sig = sign(SECRET, &ts, not_json);
    assert!(matches!(
        failure(verifier().verify_at(&ts, &sig, not_json, at(NOW_MS))),
        WebhookFailure::InvalidJson { .. }
    ));
}

#[test]
fn a_delivery_signed_by_the_simulator_verifies() {
    let body = clone_body("k");
    let ts = NOW_MS.to_string();
    let sig = voiceclone_sim::sign(SECRET, &ts, &body);
    assert!(verifier().verify_at(&ts, &sig, &body, at(NOW_MS)).is_ok());
}

#[tokio::test]
async fn duplicate_pipeline_keys_are_seen_once() {
    let dedup = MemoryDeduplicator::new(2, Duration::from_secs(60));
    assert!(dedup.first_seen("p1").await);
    assert!(!dedup.first_seen("p1").await, "a redelivery is a duplicate");
    assert!(dedup.first_seen("p2").await);
    assert!(dedup.first_seen("p3").await);
    // Bounded: the oldest key was evicted to make room.
    assert!(dedup.len() <= 2);
    dedup.forget("p3").await;
    assert!(dedup.first_seen("p3").await);
}

/// The module docs' standalone pattern: a redelivery that arrives while the first delivery
/// is still being handled is `InProgress` (answered 503, so VMEG tries again), not a
/// duplicate answered 200; if the handling fails, `release` makes the next redelivery
/// `Claimed` again; once the work is committed, `confirm` makes it a `Duplicate`. Before:
/// only `first_seen_delivery`, false for the redelivery in progress, which the example
/// answered 200: if the handling then failed, VMEG never sent the event again.
#[tokio::test]
async fn a_redelivery_while_the_first_is_handled_is_in_progress_until_confirmed_or_released() {
    let body = clone_body("key-claim");
    let ts = NOW_MS.to_string();
    let sig = sign(SECRET, &ts, &body);
    let event = verifier().verify_at(&ts, &sig, &body, at(NOW_MS)).unwrap();
    let dedup = MemoryDeduplicator::with_capacity(100);
    let lease = Duration::from_secs(60);
    let first = match dedup.claim(&event, lease).await {
        DedupClaim::Claimed(token) => token,
        other => panic!("{other:?}"),
    };
    assert_eq!(dedup.claim(&event, lease).await, DedupClaim::InProgress);
    assert!(
        !dedup.first_seen_delivery(&event).await,
        "the key is marked"
    );
    assert!(dedup.release(&event.pipeline_key, &first).await);
    let second = match dedup.claim(&event, lease).await {
        DedupClaim::Claimed(token) => token,
        other => panic!("{other:?}"),
    };
    assert_ne!(first, second);
    // The first claim's token no longer owns the mark: its late release changes nothing.
    assert!(!dedup.release(&event.pipeline_key, &first).await);
    assert_eq!(dedup.claim(&event, lease).await, DedupClaim::InProgress);
    assert_eq!(
        dedup.confirm(&event.pipeline_key, &second).await,
        Confirmation::Confirmed
    );
    assert_eq!(dedup.claim(&event, lease).await, DedupClaim::Duplicate);
    assert!(!dedup.release(&event.pipeline_key, &first).await);
    assert_eq!(dedup.claim(&event, lease).await, DedupClaim::Duplicate);
}

/// A `Deduplicator` that implements `first_seen` and `forget` (a database-backed one written
/// before `claim`) keeps its behaviour: `claim` marks at once (no in-progress state),
/// `release` forgets the key. One implementing `first_seen` alone: `release` removes nothing
/// (its `forget` is the default), so the key stays a duplicate, as the trait's docs say.
#[tokio::test]
async fn a_deduplicator_without_claims_marks_at_once_and_releases_by_forgetting() {
    struct Keys(std::sync::Mutex<std::collections::HashSet<String>>);
    impl Deduplicator for Keys {
        fn first_seen<'a>(&'a self, key: &'a str) -> DedupFuture<'a, bool> {
            let fresh = self.0.lock().unwrap().insert(key.to_owned());
            Box::pin(async move { fresh })
        }
        fn forget<'a>(&'a self, key: &'a str) -> DedupFuture<'a, ()> {
            self.0.lock().unwrap().remove(key);
            Box::pin(async {})
        }
    }
    let body = clone_body("key-default");
    let ts = NOW_MS.to_string();
    let event = verifier()
        .verify_at(&ts, &sign(SECRET, &ts, &body), &body, at(NOW_MS))
        .unwrap();
    let dedup = Keys(Default::default());
    let lease = Duration::from_secs(60);
    let token = match dedup.claim(&event, lease).await {
        DedupClaim::Claimed(token) => token,
        other => panic!("{other:?}"),
    };
    assert_eq!(dedup.claim(&event, lease).await, DedupClaim::Duplicate);
    assert!(dedup.release(&event.pipeline_key, &token).await);
    assert!(matches!(
        dedup.claim(&event, lease).await,
        DedupClaim::Claimed(_)
    ));
    assert_eq!(
        dedup.confirm(&event.pipeline_key, &token).await,
        Confirmation::Confirmed
    );

    struct Seen(std::sync::Mutex<std::collections::HashSet<String>>);
    impl Deduplicator for Seen {
        fn first_seen<'a>(&'a self, key: &'a str) -> DedupFuture<'a, bool> {
            let fresh = self.0.lock().unwrap().insert(key.to_owned());
            Box::pin(async move { fresh })
        }
    }
    let dedup = Seen(Default::default());
    let token = match dedup.claim(&event, lease).await {
        DedupClaim::Claimed(token) => token,
        other => panic!("{other:?}"),
    };
    assert_eq!(dedup.claim(&event, lease).await, DedupClaim::Duplicate);
    dedup.release(&event.pipeline_key, &token).await;
    assert_eq!(dedup.claim(&event, lease).await, DedupClaim::Duplicate);
}

/// The module docs' wiring example (what callers copy) claims before handling, answers 503
/// for a delivery in progress, and confirms or releases after: the lossy `first_seen` pattern
/// (a redelivery in progress answered 200) is not taught again.
#[test]
fn the_module_example_answers_503_for_a_delivery_in_progress() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/voiceclone/src/webhook/mod.rs");
    let docs = std::fs::read_to_string(path).unwrap();
    for needed in [
        "dedup.claim(&event,",
        "DedupClaim::InProgress => return 503",
        "dedup.confirm(&event.pipeline_key, &token)",
        "dedup.release(&event.pipeline_key, &token)",
    ] {
        assert!(docs.contains(needed), "the example lacks {needed:?}");
    }
    assert!(
        !docs.contains("first_seen_delivery(&event).await {"),
        "{docs}"
    );
}
