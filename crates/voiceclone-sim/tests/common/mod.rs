//! What the simulator's test binaries share.

use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncReadExt;
use voiceclone_sim::{SimConfig, SimHandle, Stats};

/// A plain HTTP client for talking to the simulator as any client would, with a timeout so
/// that a simulator that stops answering fails a test instead of hanging it.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// POST `body` to the VMEG API under idempotency key `key`: the status, the JSON answer
/// (`Null` when it is none) and the headers; `Err` when the connection broke unanswered.
#[allow(dead_code)] // not every test binary posts
pub async fn vmeg_post(
    sim: &SimHandle,
    path: &str,
    key: &str,
    body: Value,
) -> Result<(u16, Value, reqwest::header::HeaderMap), reqwest::Error> {
    let r = client()
        .post(format!("{}{path}", sim.base_url()))
        .bearer_auth(sim.api_key())
        .header("X-Idempotency-Key", key)
        .json(&body)
        .send()
        .await?;
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    Ok((status, r.json().await.unwrap_or(Value::Null), headers))
}

/// GET `path` (with its query) from the API: the status and the JSON answer (`Null` when
/// it is none).
#[allow(dead_code)] // not every test binary gets
pub async fn get(sim: &SimHandle, path: &str) -> (u16, Value) {
    let r = client()
        .get(format!("{}{path}", sim.base_url()))
        .bearer_auth(sim.api_key())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// A token of this test alone (an API key, a webhook path or secret): a request from
/// another test's client that reached this test's port by port reuse does not carry it.
#[allow(dead_code)] // not every test binary needs one
pub fn token() -> String {
    format!("t-{}", uuid::Uuid::new_v4().simple())
}

/// `cfg` with an API key of the test's own, unless it names one: a request from another
/// test's client that reaches this test's simulator by port reuse is refused with 401,
/// and neither creates, bills nor changes anything there.
#[allow(dead_code)] // not every test binary starts simulators through it
pub fn keyed(cfg: SimConfig) -> SimConfig {
    if cfg.api_key == SimConfig::default().api_key {
        cfg.with_api_key(token())
    } else {
        cfg
    }
}

/// How many requests the simulator refused for their API key: with a per-test key, an
/// upper bound on the strays (requests from another test's client) counted in `st`.
#[allow(dead_code)] // not every test binary counts strays
pub fn strays(st: &Stats) -> u64 {
    st.responses_by_status.get(&401).copied().unwrap_or(0)
}

/// One HTTP/1.1 request read off `s`: its path, its headers (names lowercased) and its
/// body (by `content-length`); `None` when the connection ends or stalls for 10 s first.
#[allow(dead_code)] // not every test binary receives webhooks
pub async fn read_request(
    s: &mut tokio::net::TcpStream,
) -> Option<(String, Vec<(String, String)>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        read_more(s, &mut chunk, &mut buf).await?;
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf.split_off(end);
    while body.len() < len {
        read_more(s, &mut chunk, &mut body).await?;
    }
    Some((path, headers, body))
}

/// Appends one read of `s` to `out`; `None` when the connection ended or stalled for 10 s.
async fn read_more(
    s: &mut tokio::net::TcpStream,
    chunk: &mut [u8],
    out: &mut Vec<u8>,
) -> Option<()> {
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(chunk))
        .await
        .ok()?
        .ok()?;
    if n == 0 {
        return None;
    }
    out.extend_from_slice(chunk.get(..n)?);
    Some(())
}

/// Whether `headers` carry the simulator's webhook signature of `body` under `secret`.
#[allow(dead_code)] // not every test binary receives webhooks
pub fn signed(secret: &str, headers: &[(String, String)], body: &[u8]) -> bool {
    let h = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match (h("x-timestamp"), h("x-signature")) {
        (Some(ts), Some(sig)) => voiceclone_sim::sign(secret, ts, body) == sig,
        _ => false,
    }
}

/// A mono 16-bit 16 kHz WAV of `seconds` (header and silence).
#[allow(dead_code)] // not every test binary uploads a recording
pub fn wav(seconds: u32) -> Vec<u8> {
    let data_len = seconds * 16_000 * 2;
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&(36 + data_len).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&16_000u32.to_le_bytes());
    v.extend_from_slice(&32_000u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&16u16.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    v.resize(v.len() + data_len as usize, 0);
    v
}

/// Uploads `file` to the simulator's JimmyAI `files/upload` as `name` (multipart): the URL
/// it hands back.
#[allow(dead_code)] // not every test binary uploads
pub async fn jimmy_upload(base: &str, key: &str, name: &str, file: &[u8]) -> String {
    let boundary = "XsimBoundary123";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: audio/wav\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let v: Value = client()
        .post(format!("{base}/api/open-api/v1/files/upload"))
        .bearer_auth(key)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["code"], 20000, "{v}");
    v["data"]["url"].as_str().expect("an upload URL").to_owned()
}
