//! What sync creates waiting for their tasks cost the simulator's memory, measured as the
//! test process's resident set (Linux `/proc/self/status`; skipped elsewhere). One test
//! per binary, so no other test allocates meanwhile.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use voiceclone_sim::{SimConfig, Simulator};

mod rss;
use rss::rss_mib;

/// 24 sync clone creates of 1 MiB bodies (an unknown field holding half a million zeros,
/// within `vmeg_max_body_bytes`), all waiting 200 s for their tasks at speed 0.01 (so that none
/// is answered while a loaded machine is still parsing the others). The parsed
/// body (~17 times its size as a `serde_json::Value`) is dropped once the task is accepted.
/// Before the fix each waiting request held it: the resident set grew by some 410 MiB here
/// (debug build) against some 60 MiB for the same creates made async; the bound allows
/// that plus allocator slack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_sync_creates_do_not_hold_their_parsed_body() {
    let Some(_) = rss_mib() else {
        return;
    };
    let sim = Simulator::start_with(SimConfig::default().with_speed(0.01))
        .await
        .unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    let zeros = "0,".repeat(500_000);
    let body = format!(r#"{{"refAudio":"https://example.com/a.wav","junk":[{zeros}0]}}"#);
    assert!(body.len() < 1024 * 1024);
    let send = |i: usize, path: &str| {
        http.post(format!(
            "{}/openapi/v1/task/clone-voice/{path}",
            sim.base_url()
        ))
        .bearer_auth(sim.api_key())
        .header("X-Idempotency-Key", format!("sync-{i}"))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
    };
    // One first, so the allocator's arenas exist before measuring.
    assert_eq!(send(0, "create-async").await.unwrap().status(), 200);
    let before = rss_mib().unwrap();
    let mut waiting = Vec::new();
    for i in 1..=24 {
        let req = send(i, "create");
        waiting.push(tokio::spawn(async move {
            req.await.map(|r| r.status().as_u16())
        }));
    }
    // Every request accepted (and so parsed) and now waiting for its task. Parsing 24 MiB
    // of JSON in a debug build under CPU load took more than 15 s once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while sim.stats().creates.len() < 25 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of 25 creates accepted",
            sim.stats().creates.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        waiting.iter().all(|h| !h.is_finished()),
        "a sync create answered before its task could finish: nothing was measured"
    );
    let grew = rss_mib().unwrap().saturating_sub(before);
    eprintln!("24 sync creates of 1 MiB bodies waiting: resident set +{grew} MiB");
    assert!(
        grew < 200,
        "24 waiting sync creates of 1 MiB bodies grew the resident set by {grew} MiB"
    );
    sim.shutdown().await;
    for h in waiting {
        let _ = h.await;
    }
}
