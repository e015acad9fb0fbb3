//! What the simulator's test binaries share.

use std::time::Duration;

use serde_json::Value;
use voiceclone_sim::SimHandle;

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
