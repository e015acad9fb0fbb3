//! What a careless client's large requests cost the simulator's memory, measured as the
//! test process's resident set (Linux `/proc/self/status`; skipped elsewhere). One test
//! per binary, so no other test allocates meanwhile.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use voiceclone_sim::{SimConfig, Simulator};

mod rss;
use rss::rss_mib;

/// 24 async creates, each with 1 MiB of `extraData` (an array of half a million zeros,
/// within `vmeg_max_body_bytes`): kept about once each, not as a parsed `Value` (~32 MiB
/// each, twice: the task and the create record). Before the fix the resident set grew
/// by some 750 MiB here (debug build); the bound allows 24 MiB kept plus allocator slack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_extra_data_is_kept_at_about_its_size() {
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
    // One first, so the allocator's arenas and the connection exist before measuring.
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
    assert_eq!(send(0).await.unwrap().status(), 200);
    let before = rss_mib().unwrap();
    for i in 1..=24 {
        assert_eq!(send(i).await.unwrap().status(), 200);
    }
    let grew = rss_mib().unwrap().saturating_sub(before);
    eprintln!("24 creates with 1 MiB of extraData: resident set +{grew} MiB");
    assert!(
        grew < 256,
        "24 creates with 1 MiB of extraData grew the resident set by {grew} MiB"
    );
    // Still recorded, and read back whole.
    let stats = sim.stats();
    assert_eq!(stats.creates.len(), 25);
    let xd = stats.creates[24]
        .extra_data
        .as_ref()
        .unwrap()
        .value()
        .unwrap();
    assert_eq!(xd["tag"], "x");
    assert_eq!(xd["a"].as_array().map(Vec::len), Some(500_001));
    sim.shutdown().await;
}
