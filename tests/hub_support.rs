//! A completion hub fed by hand, and a client behind it: shared by the test binaries that
//! deliver to an in-memory hub themselves (`key_echo`, `tracing_span`), each of which says
//! `#[path = "hub_support.rs"] mod hub_support;`.

#![allow(dead_code)] // each test binary uses its own part

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use voiceclone::webhook::{CompletionHub, Delivery};
use voiceclone::{Client, Provider, RecordingSleeper, RetryPolicy};
use workspace_tests::scripted::Scripted;

/// `hub`'s answer to `body` delivered as VMEG does, signed with `secret` and stamped now.
pub async fn receive_signed(hub: &CompletionHub, secret: &str, body: &str) -> Delivery {
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    let sig = voiceclone_sim::sign(secret, &ts, body.as_bytes());
    hub.receive(&ts, &sig, body.as_bytes()).await
}

/// A VMEG client using `key` against `server`, behind `hub`: one attempt a call, a 5 s
/// timeout, and a sleeper that only records.
pub fn hub_client(key: &str, server: &Scripted, hub: CompletionHub) -> Client {
    Client::builder(Provider::Vmeg)
        .api_key(key)
        .base_url(server.base_url.as_str())
        .timeout(Duration::from_secs(5))
        .retry(RetryPolicy::default().with_max_attempts(1))
        .sleeper(Arc::new(RecordingSleeper::new()))
        .completion_hub(hub)
        .build()
        .unwrap()
}
