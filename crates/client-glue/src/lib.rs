//! # client-glue
//!
//! The hand-written part of the generated clients (`vmeg-client`, `jimmyai-client`), written
//! once for both:
//!
//! - [`ClientConfig`]: the bearer credentials, the per-operation timeouts and the response
//!   body limit every call of a generated client gets, through its `ClientHooks` impl (which
//!   `cargo xtask codegen` writes and which calls [`hooks::prepare`] and [`hooks::execute`]),
//!   and an optional text filter every string of its answers passes through
//!   ([`hooks::decode`], which the generated methods read their answers with).
//! - [`wire`]: the lenient types the xtask substitutes for what vendors send loosely:
//!   [`Code`] (integer or numeric string), [`Text`] (string, or a number kept as its exact
//!   text, so big numeric ids never become floats), [`Int`], [`Number`], [`RawJson`]
//!   (a value of unknown shape, kept as text) and [`List`] (an array whose `null`, absence
//!   or wrong shape reads as empty, and whose undecodable elements are skipped).
//! - [`http_client`]: a `reqwest::Client` configured as the vendors need (no redirects, so the key
//!   never reaches another host).

pub mod config;
pub mod hooks;
pub mod redact;
pub mod wire;

pub use config::{
    ClientConfig, ConnectError, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, REDACTED,
    UnknownOperation,
};
pub use hooks::{BodyTooLarge, is_body_too_large};
pub use redact::{printable_url, redact_url, request_base};
pub use wire::{Code, Int, List, MAX_LIST_ELEMENTS, Number, RawJson, Text, TextFilter};

/// Installs the process-wide rustls crypto provider (ring) if none is installed yet.
///
/// This workspace builds reqwest without a default provider, to keep builds fast; reqwest
/// panics when it builds a client and finds none. [`http_client`] calls this for you. Call it
/// yourself before building your own `reqwest::Client`. Idempotent and never panics.
pub fn install_crypto_provider() {
    // Err means a provider is installed already, which is all we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A `reqwest::Client` as the generated clients need it: redirects not followed (the
/// `Authorization` header never reaches another host), a 10 s connect timeout. Per-call
/// timeouts come from [`ClientConfig`].
pub fn http_client() -> Result<reqwest::Client, ConnectError> {
    install_crypto_provider();
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()?)
}
