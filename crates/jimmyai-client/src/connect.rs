//! Hand-written: credentials, the per-request auth hook, and the fallible constructor.
//! Kept apart from the generated code, which refers to [`Credentials`] by name.

use crate::Client;
use progenitor_client::{ClientHooks, ClientInfo, Error, OperationInfo};
use reqwest::header::{AUTHORIZATION, HeaderValue};
use std::time::Duration;

/// Why a client could not be built. Never contains the API key.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The key cannot be sent in an HTTP header (it is blank or has control characters).
    #[error("the API key is blank or has characters that cannot be sent in a header")]
    InvalidApiKey,
    /// reqwest could not build its client (TLS or system configuration).
    #[error("could not build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// The bearer credentials every request carries. `Debug` never shows the key.
#[derive(Clone)]
pub struct Credentials {
    authorization: HeaderValue,
}

impl Credentials {
    /// `Authorization: Bearer <api_key>`, marked sensitive so reqwest never prints it.
    pub fn bearer(api_key: &str) -> Result<Self, ConnectError> {
        if api_key.trim().is_empty() {
            return Err(ConnectError::InvalidApiKey);
        }
        let mut authorization = HeaderValue::from_str(&format!("Bearer {api_key}"))
            .map_err(|_| ConnectError::InvalidApiKey)?;
        authorization.set_sensitive(true);
        Ok(Self { authorization })
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials([redacted])")
    }
}

impl ClientHooks<Credentials> for Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), Error<E>> {
        request
            .headers_mut()
            .insert(AUTHORIZATION, self.inner().authorization.clone());
        Ok(())
    }
}

/// Installs the process-wide rustls crypto provider (ring) if none is installed yet.
///
/// This workspace builds reqwest without a default provider, to keep builds fast; reqwest
/// panics when it builds a client and finds none. [`connect`] calls this for you. Call it
/// yourself before building your own `reqwest::Client` for `Client::new_with_client`.
/// Idempotent and never panics.
pub fn install_crypto_provider() {
    // Err means a provider is installed already, which is all we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Builds a client for `base_url` that sends `Authorization: Bearer <api_key>` on every call.
///
/// Redirects are not followed (the key never reaches another host), and calls time out after
/// 120 s (synchronous clone and TTS calls can take tens of seconds).
pub fn connect(base_url: &str, api_key: &str) -> Result<Client, ConnectError> {
    let credentials = Credentials::bearer(api_key)?;
    install_crypto_provider();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .build()?;
    Ok(Client::new_with_client(base_url, http, credentials))
}
