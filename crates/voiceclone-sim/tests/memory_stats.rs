//! What reading the counters costs when the kept creates carry large `extraData`, measured
//! as the test process's resident set (Linux `/proc/self/status`; skipped elsewhere). One
//! test per binary, so no other test allocates meanwhile.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use voiceclone_sim::{SimConfig, Simulator};

mod rss;
use rss::rss_mib;

/// 16 async creates, each with 1 MiB of `extraData` (an array of half a million zeros, within
/// `vmeg_max_body_bytes` and `max_task_bytes`), then one `stats()` held while measuring.
/// The snapshot shares the kept JSON text instead of parsing it: before the fix it parsed
/// every record's `extraData` into a `serde_json::Value` (~32 MiB each), under the lock the
/// create handlers take, and the resident set grew by some 500 MiB here (debug build).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_do_not_parse_every_kept_extra_data() {
    let Some(_) = rss_mib() else {
        return;
    };
    let sim = Simulator::start_with(SimConfig::default().with_speed(1000.0))
        .await
        .unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let zeros = "0,".repeat(500_000);
    let body = format!(
        r#"{{"refAudio":"https://example.com/a.wav","extraData":{{"tag":"x","a":[{zeros}0]}}}}"#
    );
    assert!(body.len() < 1024 * 1024);
    let send = |i: usize| {
        http.post(format!(
            "{}/openapi/v1/task/clone-voice/create-async",
            sim.base_url()
        ))
        .bearer_auth(sim.api_key())
        .header("X-Idempotency-Key", format!("big-{i}"))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
    };
    for i in 0..16 {
        assert_eq!(send(i).await.unwrap().status(), 200);
    }
    // One small snapshot first, so the allocator's arenas exist before measuring.
    drop(sim.stats());
    let before = rss_mib().unwrap();
    let stats = sim.stats();
    let grew = rss_mib().unwrap().saturating_sub(before);
    eprintln!("stats() with 16 creates of 1 MiB extraData: resident set +{grew} MiB");
    assert_eq!(stats.creates.len(), 16);
    assert!(
        grew < 64,
        "one stats() over 16 creates of 1 MiB extraData grew the resident set by {grew} MiB"
    );
    sim.shutdown().await;
}
