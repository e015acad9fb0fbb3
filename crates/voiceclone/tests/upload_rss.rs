//! Uploads stream: a 90 MiB file goes up (JimmyAI `files/upload`; VMEG MD5, presigned PUT,
//! complete) without the client's memory growing by the file's size, measured as peak RSS
//! (`VmHWM`) of a process of its own. The parent test re-runs this binary with
//! `VOICECLONE_UPLOAD_RSS_CHILD=1`; the server it talks to reads and discards every body.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use support::rss::{measurable, report, run_child, status_kib};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use voiceclone::{AudioSource, Client, Provider, RecordingSleeper, RetryPolicy};

/// Under JimmyAI's 100 MB, read as 100,000,000 bytes (96 MiB is over it).
const FILE_MIB: u64 = 90;

/// A keep-alive HTTP/1.1 server that discards request bodies (by `Content-Length`) and
/// answers by path: JimmyAI's upload, VMEG's material calls, the presigned PUT.
async fn discarding_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let me = base.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let me = me.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut pending: Vec<u8> = Vec::new();
                loop {
                    let end = loop {
                        if let Some(i) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => pending.extend_from_slice(&buf[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&pending[..end]).to_string();
                    pending.drain(..end);
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    let mut left = len.saturating_sub(pending.len());
                    pending.clear();
                    while left > 0 {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => left = left.saturating_sub(n),
                        }
                    }
                    let body = if path.starts_with("/api/open-api/v1/files/upload") {
                        r#"{"code":20000,"msg":"ok","data":{"url":"https://cdn.example.com/u/a.wav"}}"#.to_owned()
                    } else if path.contains("gen-upload-url") {
                        format!(
                            r#"{{"code":200,"message":"","data":{{"uploadUrl":"{me}/put/a?sig=1","s3Uri":"s3://b/a","materialId":"m-1"}}}}"#
                        )
                    } else if path.contains("upload/complete") {
                        r#"{"code":200,"message":"","data":{"materialId":"m-1","addressUrl":"https://cdn.example.com/m-1/a.wav"}}"#.to_owned()
                    } else {
                        String::new()
                    };
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nETag: \"e\"\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    base
}

#[test]
fn upload_rss_child() {
    if std::env::var_os("VOICECLONE_UPLOAD_RSS_CHILD").is_none() {
        return; // Only runs as the parent's child process.
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.wav");
        // Sparse: no memory and (almost) no disk, but every byte is read and sent.
        std::fs::File::create(&path)
            .unwrap()
            .set_len(FILE_MIB * 1024 * 1024)
            .unwrap();
        let base = discarding_server().await;
        let before = status_kib("VmRSS:");
        for p in Provider::ALL {
            let client = Client::builder(p)
                .api_key("k")
                .base_url(&base)
                .allow_private_urls(true)
                // One PUT of the whole file (this server does not speak multipart).
                .multipart_upload_threshold(FILE_MIB * 2 * 1024 * 1024)
                .retry(RetryPolicy::none())
                .sleeper(Arc::new(RecordingSleeper::new()))
                .build()
                .unwrap();
            let url = client
                .upload(&AudioSource::File(path.clone()))
                .await
                .unwrap_or_else(|e| panic!("{p}: {e}"));
            assert!(url.as_str().starts_with("https://cdn.example.com/"));
        }
        report(before);
    });
}

#[test]
fn uploads_stream_without_holding_the_file_in_memory() {
    if !measurable() {
        return; // RSS is read from Linux's /proc.
    }
    let (before, peak) = run_child("upload_rss_child", "VOICECLONE_UPLOAD_RSS_CHILD");
    let grown_mib = peak.saturating_sub(before) / 1024;
    // A whole-file buffer would add at least the file's 90 MiB.
    assert!(
        grown_mib < FILE_MIB / 3,
        "peak RSS grew by {grown_mib} MiB uploading a {FILE_MIB} MiB file (before {before} KiB, peak {peak} KiB)"
    );
}
