//! Checking a webhook's signature holds no copy of its body: the MAC is fed the timestamp and
//! the body in turn. Measured as peak RSS of a child process of its own (see
//! `support::rss`), on the largest body a verifier takes (`MAX_BODY_LIMIT`, 16 MiB), signed
//! with a signature that does not match: what any sender can make every request cost, the
//! secret unknown.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use support::rss::{measurable, report, run_child, status_kib};
use voiceclone::WebhookSecret;
use voiceclone::webhook::{MAX_BODY_LIMIT, Verifier, WebhookFailure};

#[test]
fn verify_rss_child() {
    if std::env::var_os("VOICECLONE_VERIFY_RSS_CHILD").is_none() {
        return; // Only runs as the parent's child process.
    }
    let verifier = Verifier::new(WebhookSecret::new("whsec-rss")).max_body_bytes(MAX_BODY_LIMIT);
    let body = vec![b'x'; MAX_BODY_LIMIT];
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    let signature = "0".repeat(64);
    // Warm up (the first refusal logs, and sets up what logging needs) before the baseline.
    let _ = verifier.verify(&ts, &signature, b"{}");
    let baseline = status_kib("VmRSS:");
    let err = verifier.verify(&ts, &signature, &body).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            voiceclone::ErrorKind::Webhook(WebhookFailure::SignatureMismatch)
        ),
        "{err}"
    );
    report(baseline);
    drop(body);
}

/// Review 30-b #4: the body was joined to the timestamp in a new buffer for ring's one-slice
/// HMAC, so every request cost its body twice (16 MiB more here), before any check a sender
/// without the secret could fail.
#[test]
fn checking_a_signature_holds_no_copy_of_the_body() {
    if !measurable() {
        eprintln!("notice: no /proc/self/status here; skipping the RSS measurement");
        return;
    }
    let (baseline, peak) = run_child("verify_rss_child", "VOICECLONE_VERIFY_RSS_CHILD");
    let grown = peak.saturating_sub(baseline);
    // A copy is 16,384 KiB; a quarter of it is slack for the allocator and the runtime.
    let allowed_kib = (MAX_BODY_LIMIT / 1024 / 4) as u64;
    println!("peak RSS grew by {grown} KiB (allowed {allowed_kib} KiB)");
    assert!(
        grown <= allowed_kib,
        "peak RSS grew by {grown} KiB while checking one signature, more than {allowed_kib} KiB"
    );
}
