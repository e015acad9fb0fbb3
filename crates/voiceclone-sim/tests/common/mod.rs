//! What the simulator's test binaries share.

use std::time::Duration;

/// A plain HTTP client for talking to the simulator as any client would, with a timeout so
/// that a simulator that stops answering fails a test instead of hanging it.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}
