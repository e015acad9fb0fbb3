//! Bounded memory per response, measured as a person would: peak RSS of a process of its own
//! while a server streams an endless chunked body at every call.
//!
//! The parent test re-runs this test binary with `VOICECLONE_RSS_CHILD=1`, so the child's
//! peak (`VmHWM`) holds nothing of the other tests. The server stops after
//! `VOICECLONE_RSS_STREAM_MIB` MiB per connection (default 256: enough to show a missing
//! limit as hundreds of MiB, small enough not to hurt the machine if the limit breaks; raise
//! it for a multi-GiB run).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::rss::{report, run_child, status_kib};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use voiceclone::{Client, CloneRequest, JobId, Provider, RecordingSleeper, RetryPolicy};

const LIMIT: usize = 1024 * 1024;
const IN_FLIGHT: usize = 4;
const CALLS: usize = 16;

/// Answers every request with a chunked 200 whose body never ends (up to the cap).
async fn endless_server(cap_mib: u64) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .await;
                let chunk = vec![b' '; 64 * 1024];
                let framed = [
                    format!("{:x}\r\n", chunk.len()).into_bytes(),
                    chunk,
                    b"\r\n".to_vec(),
                ]
                .concat();
                for _ in 0..cap_mib * 16 {
                    if stream.write_all(&framed).await.is_err() {
                        return;
                    }
                }
                // Out of budget: hold the connection open without sending more.
                tokio::time::sleep(Duration::from_secs(60)).await;
            });
        }
    });
    format!("http://{addr}")
}

#[test]
fn rss_child() {
    if std::env::var_os("VOICECLONE_RSS_CHILD").is_none() {
        return; // Only runs as the parent's child process.
    }
    let cap: u64 = std::env::var("VOICECLONE_RSS_STREAM_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let base = endless_server(cap).await;
        let mk = |provider| {
            Client::builder(provider)
                .api_key("sk-rss-test-key-000000")
                .base_url(base.as_str())
                .max_response_bytes(LIMIT)
                .max_in_flight(IN_FLIGHT)
                .timeout(Duration::from_secs(20))
                .retry(RetryPolicy::none())
                .sleeper(Arc::new(RecordingSleeper::new()))
                .build()
                .unwrap()
        };
        let (vmeg, jimmy) = (mk(Provider::Vmeg), mk(Provider::JimmyAi));
        // Warm up allocator, runtime and TLS-free connection setup before the baseline.
        let _ = vmeg.clone_status(&JobId::new("warm")).await;
        let baseline = status_kib("VmRSS:");
        let mut tasks = Vec::new();
        for i in 0..CALLS {
            let (v, j) = (vmeg.clone(), jimmy.clone());
            tasks.push(tokio::spawn(async move {
                let e = match i % 3 {
                    0 => v.clone_status(&JobId::new("t-1")).await.map(drop),
                    1 => j.speech_status(&JobId::new("t-1")).await.map(drop),
                    _ => v
                        .clone_voice(&CloneRequest::new("https://cdn.example.com/a.wav").name("x"))
                        .await
                        .map(drop),
                };
                e.err().map(|e| e.to_string()).unwrap_or_default()
            }));
        }
        let mut abandoned = 0;
        for t in tasks {
            if t.await.unwrap().contains("larger than") {
                abandoned += 1;
            }
        }
        // Checked here: a failing child fails the parent with its output.
        assert_eq!(abandoned, CALLS, "every call is cut off at the limit");
        report(baseline);
    });
}

#[test]
fn an_endless_body_costs_at_most_the_limit_per_request_in_flight() {
    let (baseline, peak) = run_child("rss_child", "VOICECLONE_RSS_CHILD");
    // Bodies: at most the limit per request in flight; the rest is slack for the runtime,
    // sockets and allocator (a missing limit shows as hundreds of MiB).
    let allowed_kib = (LIMIT * IN_FLIGHT / 1024) as u64 + 16 * 1024;
    let grown = peak.saturating_sub(baseline);
    println!("peak RSS grew by {grown} KiB (allowed {allowed_kib} KiB)");
    assert!(
        grown <= allowed_kib,
        "peak RSS grew by {grown} KiB, more than {allowed_kib} KiB"
    );
}
