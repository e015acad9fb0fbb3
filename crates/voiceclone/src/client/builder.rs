//! [`ClientBuilder`]: checking a configuration and building a [`Client`] with its backend.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use url::Url;

use super::{CallOptions, Client, DEFAULT_MAX_IN_FLIGHT, Inner};
use crate::connection_limit::ConnectionLimit;
use crate::error::{Error, ErrorKind};
use crate::model::Provider;
#[cfg(feature = "upload")]
use crate::model::UploadProgress;
use crate::retry::RetryPolicy;
#[cfg(feature = "upload")]
use crate::sample::ProgressFn;
use crate::scrub::Scrubber;
use crate::secret::ApiKey;
use crate::sleep::{Sleeper, TokioSleeper};
#[cfg(feature = "upload")]
use crate::transfer::Uploads;
use crate::transport::{CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES, Transport};
use crate::validate;
#[cfg(feature = "webhook")]
use crate::webhook::CompletionHub;

/// The smallest response-body cap [`ClientBuilder::max_response_bytes`] accepts.
const MIN_RESPONSE_BYTES: usize = 1024;

/// Configures a [`Client`].
pub struct ClientBuilder {
    provider: Provider,
    api_key: Option<ApiKey>,
    base_url: Option<String>,
    timeout: Option<Duration>,
    retry: RetryPolicy,
    http: Option<reqwest::Client>,
    max_in_flight: usize,
    sleeper: Option<Arc<dyn Sleeper>>,
    max_response_bytes: usize,
    allow_private_urls: bool,
    #[cfg(feature = "webhook")]
    hub: Option<CompletionHub>,
    #[cfg(feature = "upload")]
    upload_progress: Option<ProgressFn>,
    #[cfg(feature = "upload")]
    multipart_threshold: Option<u64>,
    #[cfg(feature = "upload")]
    max_upload_bytes: u64,
    /// Download limits (setters in `client/download.rs`).
    #[cfg(feature = "download")]
    pub(super) downloads: crate::download::Downloads,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ClientBuilder");
        d.field("provider", &self.provider)
            .field("api_key", &self.api_key)
            // Not as given: a base URL may carry credentials or a token in its query (which
            // `build` refuses, but a builder is printable before that).
            .field(
                "base_url",
                &self.base_url.as_deref().map(client_glue::printable_url),
            )
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("custom_http_client", &self.http.is_some())
            .field("max_in_flight", &self.max_in_flight)
            .field("sleeper", &self.sleeper)
            .field("allow_private_urls", &self.allow_private_urls)
            .field("completion_hub", &self.has_hub());
        #[cfg(feature = "upload")]
        d.field("upload_progress", &self.upload_progress.is_some())
            .field("multipart_threshold", &self.multipart_threshold)
            .field("max_upload_bytes", &self.max_upload_bytes);
        d.finish()
    }
}

impl ClientBuilder {
    /// The API key (required).
    #[must_use]
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Overrides the vendor's base URL (e.g. a simulator, a gateway): the scheme, host and any
    /// path the routes go under, without the API's own root (`/openapi/v1` for VMEG), which
    /// every route starts with and `build` refuses at the end of a base URL. Must be HTTPS
    /// unless its host is a loopback IP literal (`127.0.0.1`, `[::1]`) or exactly
    /// `localhost` (not `*.localhost`).
    /// A loopback base URL does not make private audio URLs acceptable: see
    /// [`allow_private_urls`](Self::allow_private_urls).
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// One timeout for every request, replacing the per-operation defaults (30 s for reads
    /// and async submits, 180 s for VMEG's synchronous clone and TTS, 300 s for uploads).
    /// A VMEG synchronous create it or a gateway cuts short (a 504, a 524) is still running
    /// there: it ends as [`ErrorKind::OutcomeUnknown`](crate::ErrorKind::OutcomeUnknown) with
    /// its key, never resent (an async create cut short is retried under its key, as VMEG
    /// advises).
    /// Any non-zero value (tokio treats timers beyond about 30 years as never firing);
    /// `Duration::ZERO` is refused by [`ClientBuilder::build`].
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The retry policy for each call.
    #[must_use]
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Uses a caller-built `reqwest::Client` (its redirect policy is the caller's; the
    /// `Authorization` header is added per request, never as a default header). PUTs to the
    /// presigned URLs a vendor hands out for uploads go through a client this crate builds
    /// (no default headers), so that nothing of the caller's, a default `Authorization`
    /// header say, ever reaches storage. Proxies are the caller's too: a client that reads
    /// `HTTP_PROXY` from the environment (reqwest's default) sends a plain-http base URL's
    /// requests, `Authorization` header and all, in clear to the proxy; with such a base
    /// URL build it with `no_proxy()` (the client this crate builds does so itself). Name
    /// resolution is the caller's as well: the client this crate builds resolves a plain-http
    /// `localhost` base to 127.0.0.1 and ::1 itself, never through the system's resolver;
    /// yours does what you built it to do, so with such a base give it
    /// `.resolve("localhost", ...)` or use a loopback literal (`http://127.0.0.1:8080`).
    #[must_use]
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Bounds the API requests in flight for this client and its clones (default 32), and
    /// with them the connections it opens (unless a caller's `reqwest::Client` is used).
    /// Downloads of results have a bound of their own beside this one
    /// (`ClientBuilder::max_downloads_in_flight`, by default as many), so a slow result
    /// host never holds a slot that polls and submits wait for. So do the PUTs of local
    /// recordings to the storage URLs a vendor hands out (VMEG's presigned uploads, each part
    /// of a multipart one): as many slots again, never these, as a PUT storage takes slowly
    /// lasts up to 300 s per attempt. JimmyAI's `files/upload` is an API call and takes one
    /// of these.
    /// `1..=tokio::sync::Semaphore::MAX_PERMITS` (`usize::MAX >> 3`); 0 and larger values are
    /// refused by [`ClientBuilder::build`].
    #[must_use]
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// Caps the size of one response body (default 4 MiB, at least 1 KiB: smaller values are
    /// raised to it). A larger answer is abandoned while it streams, so a broken or hostile
    /// server cannot exhaust memory: memory for bodies stays within this cap times
    /// [`ClientBuilder::max_in_flight`]. The call fails with `InvalidResponse`, or with
    /// `OutcomeUnknown` for a write (its answer could not be read).
    #[must_use]
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit.max(MIN_RESPONSE_BYTES);
        self
    }

    /// Accepts reference-audio URLs that point at loopback, private, link-local or other
    /// non-public addresses and names (default `false`: they are refused as `InvalidInput`
    /// naming `audio_url`, with nothing sent). The provider fetches the audio itself, so such a
    /// URL either fails at the provider or makes it fetch from a network it should not reach;
    /// turn this on only against a local simulator whose samples are served on loopback. A
    /// loopback base URL does not imply it.
    #[must_use]
    pub fn allow_private_urls(mut self, allow: bool) -> Self {
        self.allow_private_urls = allow;
        self
    }

    /// Calls `f` as a local recording goes up (cloning from a file, bytes or a reader, and
    /// [`Client::upload`]): bytes sent so far of the total, after every chunk. Keep it quick:
    /// it runs inside the upload. Requires the `upload` feature.
    #[cfg(feature = "upload")]
    #[must_use]
    pub fn on_upload_progress(
        mut self,
        f: impl Fn(UploadProgress) + Send + Sync + 'static,
    ) -> Self {
        self.upload_progress = Some(ProgressFn(Arc::new(f)));
        self
    }

    /// VMEG: local recordings larger than this many bytes go up as a multipart material
    /// upload (parts of VMEG's `recommendedPartSize`), smaller ones in one PUT. Default
    /// 64 MiB. JimmyAI uploads in one request whatever the size (at most 100 MB). Requires
    /// the `upload` feature.
    #[cfg(feature = "upload")]
    #[must_use]
    pub fn multipart_upload_threshold(mut self, bytes: u64) -> Self {
        self.multipart_threshold = Some(bytes);
        self
    }

    /// The most bytes a local recording (a file, bytes, a reader) may hold; a larger one is
    /// refused with `InvalidInput` naming `audio_file`, nothing sent. Default 1 GiB. VMEG
    /// documents no size limit, so this bounds what a reader is spooled to a temporary file
    /// before its upload: a reader that never ends is refused at the limit, its file
    /// deleted. JimmyAI's own limit (100 MB) applies whatever this says. Must be more than 0
    /// ([`build`](Self::build) refuses 0). Requires the `upload` feature.
    ///
    /// The bound is per recording: calls running at once each spool their reader (files and
    /// bytes are never copied), so the temporary directory ([`std::env::temp_dir`],
    /// `TMPDIR`) may hold up to this many bytes for each reader in flight, before any of the
    /// client's slots is taken. On a tmpfs `/tmp` (some distributions, many containers) that
    /// is memory. A service taking readers from its own callers bounds that with its
    /// concurrency, points `TMPDIR` at a disk, or passes files.
    ///
    /// ```
    /// use voiceclone::{Client, Provider};
    ///
    /// let client = Client::builder(Provider::Vmeg)
    ///     .api_key("key")
    ///     .max_upload_bytes(50 * 1024 * 1024) // 50 MiB
    ///     .build()?;
    /// # let _ = client;
    /// # Ok::<(), voiceclone::Error>(())
    /// ```
    #[cfg(feature = "upload")]
    #[must_use]
    pub fn max_upload_bytes(mut self, bytes: u64) -> Self {
        self.max_upload_bytes = bytes;
        self
    }

    /// Replaces the sleeping between retries and between polls ([`TokioSleeper`] by
    /// default): a service can hold those waits during a shutdown, so that a call waiting to
    /// retry sends nothing more; a test can skip them (`RecordingSleeper`, `test-util`
    /// feature). A sleep the sleeper holds ends at the call's timeout or deadline
    /// ([`Client::with_timeout`]) or the wait's deadline, whichever bounds it: the attempt
    /// after it, out of time, sends nothing, and the call ends with its error (an
    /// `OutcomeUnknown`'s key and submit time among them); a wait makes its last poll (a
    /// read), as at any deadline, and ends `WaitTimedOut`. A call with neither bound is held
    /// until the sleeper lets it go or the call is dropped, which loses its error.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use voiceclone::sleep::BoxFuture;
    /// use voiceclone::{Client, Provider, Sleeper, TokioSleeper};
    ///
    /// /// Waits as usual, and says so.
    /// #[derive(Debug)]
    /// struct Told;
    ///
    /// impl Sleeper for Told {
    ///     fn sleep(&self, pause: Duration) -> BoxFuture<'static, ()> {
    ///         eprintln!("waiting {pause:?} before the next attempt or poll");
    ///         TokioSleeper.sleep(pause)
    ///     }
    /// }
    ///
    /// let client = Client::builder(Provider::Vmeg)
    ///     .api_key("key")
    ///     .sleeper(Arc::new(Told))
    ///     .build()?;
    /// # let _ = client;
    /// # Ok::<(), voiceclone::Error>(())
    /// ```
    #[must_use]
    pub fn sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = Some(sleeper);
        self
    }

    /// Completes waits by webhook (VMEG only; feature `webhook`): `wait_for_clone` and `wait_for_speech` end on
    /// the task's verified event in `hub` (a failure never replacing a success delivered
    /// before it: see [`CompletionHub`]), with polling as a slower fallback (see
    /// [`WaitPolicy::webhook_poll_interval`](crate::WaitPolicy::webhook_poll_interval)). Feed
    /// the hub from your webhook endpoint with [`CompletionHub::receive`]. [`build`](Self::build)
    /// refuses a hub that would refuse every delivery (an empty secret, a verifier tolerance
    /// under 1 s, a body limit under 1 KiB), naming `completion_hub`. What the client reads
    /// from the hub has this client's API key scrubbed, not another's: share a hub only among
    /// clients of one key, or of keys their holders may all see (see [`CompletionHub`]).
    ///
    /// ```
    /// use voiceclone::webhook::CompletionHub;
    /// use voiceclone::{Client, Provider, WebhookSecret};
    ///
    /// let hub = CompletionHub::in_memory(WebhookSecret::new("secret from API Configuration"));
    /// let client = Client::builder(Provider::Vmeg)
    ///     .api_key("key")
    ///     .completion_hub(hub.clone())
    ///     .build()?;
    /// // The webhook endpoint: `hub.receive(x_timestamp, x_signature, &body).await`.
    /// # let _ = client;
    /// # Ok::<(), voiceclone::Error>(())
    /// ```
    #[cfg(feature = "webhook")]
    #[must_use]
    pub fn completion_hub(mut self, hub: CompletionHub) -> Self {
        self.hub = Some(hub);
        self
    }

    fn has_hub(&self) -> bool {
        #[cfg(feature = "webhook")]
        return self.hub.is_some();
        #[cfg(not(feature = "webhook"))]
        return false;
    }

    /// Checks the configuration and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let provider = self.provider;
        if self.has_hub() && !crate::provider::facts(provider).webhooks {
            return Err(Error::invalid_input(
                "completion_hub",
                format!("{provider} sends no webhooks; only VMEG waits can use a completion hub"),
            )
            .with_provider(provider));
        }
        #[cfg(feature = "webhook")]
        if self
            .hub
            .as_ref()
            .is_some_and(|h| !h.verifier().has_secret())
        {
            return Err(Error::invalid_input(
                "completion_hub",
                "its webhook secret is empty: every delivery would be refused and every wait would only poll; give the secret from VMEG's API Configuration page",
            )
            .with_provider(provider));
        }
        // As with no secret: settings under which every delivery is refused (stale, too
        // large), and every wait would only poll, without a word.
        #[cfg(feature = "webhook")]
        if let Some(v) = self.hub.as_ref().map(|h| h.verifier()) {
            let refused_all = if v.max_age() < std::time::Duration::from_secs(1) {
                Some(
                    "its verifier's tolerance is under 1 s: every delivery would be refused as stale",
                )
            } else if v.body_limit() < 1024 {
                Some(
                    "its verifier's body limit is under 1 KiB: every delivery would be refused as too large",
                )
            } else {
                None
            };
            if let Some(why) = refused_all {
                return Err(Error::invalid_input(
                    "completion_hub",
                    format!(
                        "{why}, and every wait would only poll; keep the defaults (300 s, 1 MiB)"
                    ),
                )
                .with_provider(provider));
            }
        }
        if !(1..=Semaphore::MAX_PERMITS).contains(&self.max_in_flight) {
            return Err(Error::invalid_input(
                "max_in_flight",
                format!(
                    "must be between 1 and {}, got {}",
                    Semaphore::MAX_PERMITS,
                    self.max_in_flight
                ),
            )
            .with_provider(provider));
        }
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::invalid_input(
                "timeout",
                "must be more than zero (every request would time out)",
            )
            .with_provider(provider));
        }
        #[cfg(feature = "upload")]
        if self.max_upload_bytes == 0 {
            return Err(Error::invalid_input(
                "max_upload_bytes",
                "must be more than zero (every local recording would be refused)",
            )
            .with_provider(provider));
        }
        #[cfg(feature = "download")]
        self.downloads
            .check()
            .map_err(|e| e.with_provider(provider))?;
        let key = self.api_key.filter(|k| !k.is_empty()).ok_or_else(|| {
            Error::invalid_input("api_key", "is missing or empty").with_provider(provider)
        })?;
        if !key.expose().bytes().all(|b| (0x21..0x7f).contains(&b)) {
            return Err(
                Error::invalid_input("api_key", "must be printable ASCII without spaces")
                    .with_provider(provider),
            );
        }
        let raw_base = self
            .base_url
            .unwrap_or_else(|| provider.default_base_url().to_owned());
        let base = Url::parse(raw_base.trim()).map_err(|e| {
            Error::invalid_input("base_url", format!("is not a URL: {e}")).with_provider(provider)
        })?;
        let host = base.host().ok_or_else(|| {
            Error::invalid_input("base_url", "has no host").with_provider(provider)
        })?;
        let loopback = validate::is_loopback_host(&host);
        match base.scheme() {
            "https" => {}
            "http" if loopback => {}
            other => {
                return Err(Error::invalid_input(
                    "base_url",
                    format!(
                        "must be https (http only for a loopback IP or localhost), got {other}:"
                    ),
                )
                .with_provider(provider));
            }
        }
        // A fragment too: the generated calls set their path past it, but a URL written as
        // base + path (JimmyAI's upload) would put the path in the fragment and send the
        // recording to the base's root.
        if !base.username().is_empty()
            || base.password().is_some()
            || base.query().is_some()
            || base.fragment().is_some()
        {
            return Err(Error::invalid_input(
                "base_url",
                "must not carry credentials, a query or a fragment",
            )
            .with_provider(provider));
        }
        // The vendor's documented API root (`https://api.vmeg.ai/openapi/v1/`) given as the
        // base URL: every route already starts with that path, so every call would go to
        // `/openapi/v1/openapi/v1/...` and come back not found, which a status read reports
        // as a lost task.
        let root = crate::provider::facts(provider).route_root;
        if !root.is_empty() && base.path().trim_end_matches('/').ends_with(root) {
            return Err(Error::invalid_input(
                "base_url",
                format!(
                    "ends with `{root}`, which every route of the API already starts with: \
                     give the URL without it (the provider's own is {})",
                    provider.default_base_url()
                ),
            )
            .with_provider(provider));
        }
        let (http, connection_limit) = match self.http {
            Some(h) => (h, None),
            None => {
                let limit = ConnectionLimit::new(self.max_in_flight);
                // reqwest is built without a default TLS provider in this workspace.
                crate::install_crypto_provider();
                let mut http = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .connect_timeout(CONNECT_TIMEOUT)
                    // Idle connections beyond the in-flight bound could never all be used.
                    .pool_max_idle_per_host(self.max_in_flight)
                    .connector_layer(limit.clone());
                if base.scheme() == "http" {
                    // Plain http is accepted only to this machine (checked above), because the
                    // key then never crosses a network; an `HTTP_PROXY` from the environment
                    // would carry the request, `Authorization` header and all, in clear to
                    // the proxy host. (An https base goes through a proxy as a TLS tunnel.)
                    // For the same reason `localhost` is not left to the system's resolver.
                    http = http
                        .no_proxy()
                        .dns_resolver(crate::loopback_dns::LoopbackOnly);
                }
                let http = http.build().map_err(|e| {
                    Error::new(ErrorKind::Transport)
                        .with_provider(provider)
                        .with_source(e)
                })?;
                (http, Some(limit))
            }
        };
        let scrubber = Arc::new(Scrubber::new(key.expose()));
        // The generated clients append each path to this; a trailing slash would double it.
        let base_str = client_glue::request_base(&base).to_owned();
        let sent_under = crate::sent_under::SentUnder::new(key.expose(), &base_str);
        let backend = crate::provider::build_backend(
            provider,
            &crate::provider::Connect {
                base: base_str,
                http,
                provider,
                api_key: key.clone(),
                timeout_override: self.timeout,
                max_response_bytes: self.max_response_bytes,
                #[cfg(feature = "upload")]
                uploads: Uploads {
                    http: crate::storage::StorageClient::new(self.allow_private_urls),
                    progress: self.upload_progress,
                    multipart_threshold: self.multipart_threshold,
                    put_timeout: crate::transfer::PUT_TIMEOUT,
                    max_bytes: self.max_upload_bytes,
                    slots: Arc::new(Semaphore::new(self.max_in_flight)),
                },
            },
        )?;
        let transport = Transport {
            provider,
            dialect: &crate::provider::facts(provider).dialect,
            base,
            in_flight: Arc::new(Semaphore::new(self.max_in_flight)),
            connection_limit,
            timeout_override: self.timeout,
            retry: self.retry,
            sleeper: self.sleeper.unwrap_or_else(|| Arc::new(TokioSleeper)),
            text_filter: crate::scrub::text_filter(&scrubber),
            scrubber,
            max_response_bytes: self.max_response_bytes,
            sent_under,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                transport,
                backend,
                allow_private: self.allow_private_urls,
                #[cfg(feature = "webhook")]
                hub: self.hub,
                #[cfg(feature = "download")]
                downloads: crate::download::Downloads {
                    http: crate::storage::StorageClient::new(self.allow_private_urls),
                    ..self.downloads
                }
                .with_slots(self.max_in_flight),
                resends: Default::default(),
            }),
            options: CallOptions::default(),
        })
    }
}

impl Client {
    /// Starts configuring a client for `provider`.
    ///
    /// ```
    /// use voiceclone::{Client, ErrorKind, Provider};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_speed(1000.0)).await?;
    /// let client = Client::builder(Provider::Vmeg)
    ///     .api_key(sim.api_key())
    ///     .base_url(sim.base_url()) // leave out for the vendor's own URL
    ///     .build()?;
    /// assert_eq!(client.provider(), Provider::Vmeg);
    /// assert!(client.list_voices().await?.is_empty()); // a fresh account
    /// // Without a key, `build` refuses, naming the field; nothing is sent.
    /// let err = Client::builder(Provider::Vmeg).build().unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::InvalidInput { field, .. } if field == "api_key"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder(provider: Provider) -> ClientBuilder {
        ClientBuilder {
            provider,
            api_key: None,
            base_url: None,
            timeout: None,
            retry: RetryPolicy::default(),
            http: None,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            sleeper: None,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            allow_private_urls: false,
            #[cfg(feature = "webhook")]
            hub: None,
            #[cfg(feature = "upload")]
            upload_progress: None,
            #[cfg(feature = "upload")]
            multipart_threshold: None,
            #[cfg(feature = "upload")]
            max_upload_bytes: crate::transfer::DEFAULT_MAX_UPLOAD_BYTES,
            #[cfg(feature = "download")]
            downloads: Default::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn base_url_rules() {
        let b = |u: &str| {
            Client::builder(Provider::Vmeg)
                .api_key("k")
                .base_url(u)
                .build()
        };
        assert!(b("https://api.vmeg.ai").is_ok());
        assert!(b("http://127.0.0.1:8080").is_ok());
        assert!(b("http://localhost:1").is_ok());
        assert!(b("http://api.vmeg.ai").is_err());
        // The API root as the base URL would double every route's path.
        for root in [
            "https://api.vmeg.ai/openapi/v1",
            "https://api.vmeg.ai/openapi/v1/",
            "http://127.0.0.1:1/gateway/openapi/v1//",
        ] {
            let e = b(root).unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::InvalidInput { field, reason }
                    if field == "base_url" && reason.contains("`/openapi/v1`")
                        && reason.contains("https://api.vmeg.ai")),
                "{root}: {e}"
            );
        }
        for fine in [
            "https://gateway.example/vmeg/",
            "https://gateway.example/openapi",
            "https://gateway.example/myopenapi/v1",
        ] {
            assert!(b(fine).is_ok(), "{fine}");
        }
        let jimmy = |u: &str| {
            Client::builder(Provider::JimmyAi)
                .api_key("k")
                .base_url(u)
                .build()
        };
        assert!(jimmy("https://www.jimmyai.cn/api/open-api/v1/").is_err());
        assert!(jimmy("https://www.jimmyai.cn/openapi/v1/").is_ok());
        assert!(b("ftp://api.vmeg.ai").is_err());
        assert!(Client::builder(Provider::Vmeg).build().is_err());
        assert!(
            Client::builder(Provider::Vmeg)
                .api_key("bad key")
                .build()
                .is_err()
        );
    }

    #[test]
    fn debug_never_shows_the_key() {
        let c = Client::builder(Provider::JimmyAi)
            .api_key("sk-secret-123")
            .build()
            .unwrap();
        assert!(!format!("{c:?}").contains("sk-secret-123"));
        let b = Client::builder(Provider::JimmyAi).api_key("sk-secret-123");
        assert!(!format!("{b:?}").contains("sk-secret-123"));
    }
}
