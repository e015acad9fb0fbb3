//! Downloads stream: a 96 MiB result goes to a file and to a writer without the client's
//! memory growing by its size, measured as peak RSS (`VmHWM`) of a process of its own. The
//! parent test re-runs this binary with `VOICECLONE_DOWNLOAD_RSS_CHILD=1`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::rss::{measurable, report, run_child, status_kib};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use voiceclone::{Client, Provider, RetryPolicy};

const FILE_MIB: u64 = 96;

/// A loopback server answering every request with `FILE_MIB` MiB of `audio/wav`, written in
/// 64 KiB blocks.
async fn audio_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let len = FILE_MIB * 1024 * 1024;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
                );
                if stream.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
                let block = vec![0x55u8; 64 * 1024];
                for _ in 0..(len / block.len() as u64) {
                    if stream.write_all(&block).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    base
}

#[test]
fn download_rss_child() {
    if std::env::var_os("VOICECLONE_DOWNLOAD_RSS_CHILD").is_none() {
        return; // Only runs as the parent's child process.
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let base = audio_server().await;
        let url = url::Url::parse(&format!("{base}/long.wav")).unwrap();
        let client = Client::builder(Provider::JimmyAi)
            .api_key("k")
            .allow_private_urls(true)
            .retry(RetryPolicy::none())
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let before = status_kib("VmRSS:");
        let got = client
            .download_to_path(&url, &dir.path().join("long.wav"))
            .await
            .unwrap();
        assert_eq!(got.bytes, FILE_MIB * 1024 * 1024);
        let n = client
            .download_to_writer(&url, &mut tokio::io::sink())
            .await
            .unwrap();
        assert_eq!(n, FILE_MIB * 1024 * 1024);
        report(before);
    });
}

#[test]
fn downloads_stream_without_holding_the_body_in_memory() {
    if !measurable() {
        return; // RSS is read from Linux's /proc.
    }
    let (before, peak) = run_child("download_rss_child", "VOICECLONE_DOWNLOAD_RSS_CHILD");
    let grown_mib = peak.saturating_sub(before) / 1024;
    println!("download of {FILE_MIB} MiB: peak RSS grew by {grown_mib} MiB");
    // A whole-body buffer would add at least the body's 96 MiB.
    assert!(
        grown_mib < FILE_MIB / 3,
        "peak RSS grew by {grown_mib} MiB downloading {FILE_MIB} MiB (before {before} KiB, peak {peak} KiB)"
    );
}
