//! What many large JSON bodies parsed at once cost the simulator's memory, measured as the
//! test process's peak resident set (Linux `/proc/self/status`; skipped elsewhere). One
//! test per binary, so no other test allocates meanwhile.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use voiceclone_sim::{SimConfig, SimHandle, Simulator};

mod rss;
use rss::{peak_mib, rss_mib};

/// The simulator on a runtime of 48 worker threads, as a downstream test on a large CI
/// runner has (a multi-thread `#[tokio::test]` gets one per core), with the runtime.
fn start_wide() -> (tokio::runtime::Runtime, SimHandle) {
    std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(48)
            .enable_all()
            .build()
            .unwrap();
        let sim = rt
            .block_on(Simulator::start_with(
                SimConfig::default().with_speed(1000.0),
            ))
            .unwrap();
        (rt, sim)
    })
    .join()
    .unwrap()
}

/// 64 async creates sent at once, each with 1 MiB of `extraData` (half a million zeros,
/// within `vmeg_max_body_bytes`), each parsed into a `serde_json::Value` some 17 times its
/// size. Before the fix nothing bounded how many were parsed at once but the server's
/// worker threads: here the peak resident set grew by some GiB (debug build), as many
/// bodies being parsed at once as threads. Now a budget of body bytes being parsed
/// (`bounds::MAX_JSON_PARSE_BYTES`, 8 MiB) makes the others wait their turn; the bound
/// allows that budget parsed, every body read, and allocator slack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_parsed_at_once_are_bounded() {
    let Some(_) = peak_mib() else {
        return;
    };
    let (rt, sim) = start_wide();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let zeros = "0,".repeat(500_000);
    // Leaked, so that every request sends this one buffer, never a copy of it.
    let body: &'static [u8] =
        format!(r#"{{"refAudio":"https://example.com/a.wav","extraData":{{"a":[{zeros}0]}}}}"#)
            .into_bytes()
            .leak();
    assert!(body.len() < 1024 * 1024);
    let send = |i: usize| {
        http.post(format!(
            "{}/openapi/v1/task/clone-voice/create-async",
            sim.base_url()
        ))
        .bearer_auth(sim.api_key())
        .header("X-Idempotency-Key", format!("wide-{i}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
    };
    // One first, so the allocator's arenas and a connection exist before measuring.
    assert_eq!(send(0).await.unwrap().status(), 200);
    let before = rss_mib().unwrap();
    let answers = futures_util::future::join_all((1..=64).map(send)).await;
    let peak = peak_mib().unwrap().saturating_sub(before);
    eprintln!("64 creates of 1 MiB at once: peak resident set +{peak} MiB");
    for a in answers {
        assert_eq!(a.unwrap().status(), 200);
    }
    assert!(
        peak < 600,
        "64 creates of 1 MiB parsed at once grew the peak resident set by {peak} MiB"
    );
    // A runtime is not dropped from inside another one.
    std::thread::spawn(move || {
        drop(sim);
        drop(rt);
    })
    .join()
    .unwrap();
}
