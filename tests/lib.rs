//! Helpers shared by the workspace-level tests.
// Test support only: a failure to bind a loopback port should fail the test loudly.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use httpmock::MockServer;
use httpmock::prelude::HttpMockRequest;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// Headers that say nothing about what our code chose to send (the transport adds them).
const TRANSPORT_HEADERS: &[&str] = &["host", "content-length", "connection", "accept-encoding"];

/// A loopback server that answers every request carrying its key with `response`, and
/// remembers the last one.
///
/// Only requests with `Authorization: Bearer` and this capture's own key ([`Capture::key`])
/// are answered and recorded; any other gets httpmock's 404 and is not. httpmock hands a
/// dropped server, still listening, to the next test that starts one (review 31 #14): a
/// request a finished test left behind would otherwise be answered there, and overwrite the
/// request that test's snapshot reads.
pub struct Capture {
    pub server: MockServer,
    key: String,
    last: Arc<Mutex<Option<HttpMockRequest>>>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("base_url", &self.server.base_url())
            .finish()
    }
}

/// `prefix` followed by a number no other call in this process gets (and the process id):
/// an API key no other test's client sends.
pub fn unique_key(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

impl Capture {
    /// Starts a server answering `status` with the JSON `response` to any request with the
    /// capture's own key ([`Capture::key`], made here), which the test's client must use,
    /// or with no credentials at all.
    pub async fn start(status: u16, response: Value) -> Self {
        Self::start_keyed(unique_key("test-key"), status, response).await
    }

    /// As [`Capture::start`], for a key the test made (to put it in `response`): use
    /// [`unique_key`].
    pub async fn start_keyed(key: String, status: u16, response: Value) -> Self {
        let server = MockServer::start_async().await;
        let last: Arc<Mutex<Option<HttpMockRequest>>> = Arc::new(Mutex::new(None));
        let seen = Arc::clone(&last);
        let bearer = format!("Bearer {key}");
        server
            .mock_async(move |when, then| {
                when.is_true(move |req| {
                    // Ours: this capture's key, or no credentials at all (a request sent
                    // without them must still be seen by a "nothing was sent" check). A
                    // stray from another test always carries that test's own key.
                    let auth: Vec<String> = req
                        .headers_vec()
                        .iter()
                        .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                        .map(|(_, v)| v.clone())
                        .collect();
                    let ours = auth.is_empty() || auth.contains(&bearer);
                    if ours && let Ok(mut slot) = seen.lock() {
                        *slot = Some(req.clone());
                    }
                    ours
                });
                then.status(status)
                    .header("content-type", "application/json")
                    .body(response.to_string());
            })
            .await;
        Self { server, key, last }
    }

    /// The API key the test's client must send for its requests to be answered and recorded.
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// What went on the wire: method, path, sorted query, headers (secrets redacted, transport
    /// headers left out) and the JSON body, as one JSON value for an insta snapshot.
    pub fn wire(&self) -> Value {
        let req = self.last.lock().ok().and_then(|slot| slot.clone());
        let Some(req) = req else {
            return json!("no request was received");
        };
        let mut query = req.query_params();
        query.sort();
        let mut headers: Vec<(String, String)> = req
            .headers_vec()
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .filter(|(k, _)| !TRANSPORT_HEADERS.contains(&k.as_str()))
            .map(|(k, v)| {
                let v = if k == "authorization" {
                    redact_bearer(&v)
                } else {
                    v
                };
                (k, v)
            })
            .collect();
        headers.sort();
        let body = if req.body_ref().is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(req.body_ref())
                .unwrap_or_else(|_| Value::String(req.body_string()))
        };
        json!({
            "method": req.method().to_string(),
            "path": req.uri().path(),
            "query": query.into_iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
            "headers": headers.into_iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>(),
            "body": body,
        })
    }
}

/// Keeps the scheme and shows the key only as redacted, so a snapshot proves the header is
/// sent without ever holding a secret.
fn redact_bearer(value: &str) -> String {
    match value.split_once(' ') {
        Some((scheme, _)) => format!("{scheme} [redacted]"),
        None => "[redacted]".to_string(),
    }
}

#[path = "captured.rs"]
pub mod captured;
#[path = "scripted.rs"]
pub mod scripted;

/// A loopback port nothing answers on, for as long as the returned socket lives: bound but
/// never listening, so a connection to it is refused, and no other test's server can be
/// given the same port meanwhile (as it could if a listener bound to port 0 were dropped
/// and its number reused).
pub fn refusing_port() -> (tokio::net::TcpSocket, u16) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
    let port = socket.local_addr().unwrap().port();
    (socket, port)
}

/// The Redis server the Redis tests run against: `VOICECLONE_REDIS_URL` (`.ci/run` starts a
/// `redis-server` on a free loopback port and sets it). When it is unset, a test calling this
/// fails if `CI` is set (the Redis tests must run in CI), and otherwise prints a notice to
/// stderr and gets `None`: it returns early, skipped.
pub fn redis_url() -> Option<String> {
    match std::env::var("VOICECLONE_REDIS_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_owned()),
        _ if ci() => panic!(
            "VOICECLONE_REDIS_URL is not set, and CI is: the Redis tests must run in CI \
             (.ci/run starts a redis-server and sets VOICECLONE_REDIS_URL)"
        ),
        _ => {
            // Once per run, and straight to the process's stderr: the test harness captures
            // `eprintln!` of passing tests, and the notice must be seen.
            static NOTICE: std::sync::Once = std::sync::Once::new();
            NOTICE.call_once(|| {
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "notice: VOICECLONE_REDIS_URL is not set: the Redis tests are skipped \
                     (start a redis-server and set e.g. VOICECLONE_REDIS_URL=redis://127.0.0.1:6379/)"
                );
            });
            None
        }
    }
}

/// True when running in CI (`CI` set, and not to `false` or `0`).
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}
