//! Storage URLs (presigned uploads, result downloads): the one HTTP client for them, and how
//! such a URL may be shown in logs and errors (its signature is in the query, so the query and
//! the fragment never appear).

use std::sync::{Arc, OnceLock};

use url::Url;

/// The HTTP client for storage URLs: no default headers, so never the API key whatever a
/// caller's own client carries; no redirects of its own (downloads check each hop; an upload
/// is never redirected); names resolved to public addresses only, and connected to directly
/// (no environment proxy), unless private URLs are allowed (`public_dns`); bodies as
/// served, never decompressed. Built on first use, since most clients never transfer a file.
#[derive(Clone, Debug)]
pub(crate) struct StorageClient {
    client: Arc<OnceLock<reqwest::Client>>,
    allow_private: bool,
}

impl Default for StorageClient {
    /// Public addresses only.
    fn default() -> Self {
        Self::new(false)
    }
}

impl StorageClient {
    /// `allow_private`: `ClientBuilder::allow_private_urls` (a local simulator).
    pub(crate) fn new(allow_private: bool) -> Self {
        Self {
            client: Arc::default(),
            allow_private,
        }
    }

    pub(crate) fn get(&self) -> Result<&reqwest::Client, reqwest::Error> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        crate::install_crypto_provider();
        // No automatic decompression, whatever reqwest features another dependency unifies in
        // (these are no-ops without them). Decompressing drops `Content-Length`, so a
        // compressed result (a CDN gzipping WAV) would be refused as having no length frame
        // (`DownloadFailure::UnknownLength`) on every try, and the size cap and content-type
        // checks would no longer see the bytes as served.
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(crate::transport::CONNECT_TIMEOUT)
            .no_gzip()
            .no_brotli()
            .no_deflate()
            .no_zstd();
        if !self.allow_private {
            // No proxy from the environment (`HTTPS_PROXY`, `ALL_PROXY`): a proxy resolves the
            // name itself, so a vendor URL naming a host that resolves to 169.254.169.254 or
            // 10.x would reach it past `PublicOnly`; and a proxy of its own on a private
            // address would be refused by it anyway.
            builder = builder
                .dns_resolver(crate::public_dns::PublicOnly)
                .no_proxy();
        }
        let built = builder.build()?;
        Ok(self.client.get_or_init(|| built))
    }
}

/// The kind of a storage refusal (a presigned PUT, a result download). 401, 402 and 403 are
/// the URL's (an expired or refused signature, a storage account's own billing), never the
/// API key or the account's credits that `Unauthorized` and `PaymentRequired` speak of: a
/// caller would rotate a good key or top up for nothing. 404 and 410 are the URL's too (a
/// bucket or object gone, an expired link on some storages), never the task or voice that
/// `NotFound` speaks of: a caller would give up on a job that exists. (Downloads tell 404
/// and 410 apart before this, as an expired result.)
pub(crate) fn storage_kind(status: u16) -> crate::ErrorKind {
    use crate::ErrorKind;
    match status {
        401..=404 | 410 => ErrorKind::InvalidRequest,
        s => ErrorKind::from_http_status(s).unwrap_or(ErrorKind::InvalidResponse),
    }
}

/// Scheme, host, port and path; a query is only said to have been removed.
pub(crate) fn shown_url(url: &Url) -> String {
    let mut s = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        s.push_str(&format!(":{port}"));
    }
    s.push_str(url.path());
    if url.query().is_some() {
        s.push_str("?[query removed]");
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{StorageClient, shown_url};
    use url::Url;

    /// No environment proxy carries a storage transfer unless private URLs are allowed: a
    /// proxy resolves names itself, past the public-address check. reqwest lists the
    /// environment's proxies in its `Debug` (whatever the environment holds) unless they are
    /// turned off.
    #[test]
    fn no_environment_proxy_unless_private_urls_are_allowed() {
        let public_only = format!("{:?}", StorageClient::new(false).get().unwrap());
        assert!(!public_only.contains("proxies"), "{public_only}");
        let private = format!("{:?}", StorageClient::new(true).get().unwrap());
        assert!(private.contains("proxies"), "{private}");
    }

    /// The storage client connects to a name only through its public addresses: `localhost`
    /// (loopback only, from the hosts file) is refused at resolution, before any connection,
    /// unless private URLs are allowed. The URL checks before it see only the text: a
    /// public-looking name resolving to a metadata or 10.x address would pass them.
    #[tokio::test]
    async fn names_resolve_to_public_addresses_only_unless_private_urls_are_allowed() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let url = format!("http://localhost:{port}/result.wav");
        let refused = StorageClient::new(false)
            .get()
            .unwrap()
            .get(&url)
            .send()
            .await
            .unwrap_err();
        let chain =
            std::iter::successors(Some(&refused as &(dyn std::error::Error + 'static)), |e| {
                e.source()
            })
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(": ");
        assert!(chain.contains("no public address"), "{chain}");
        let allowed = StorageClient::new(true)
            .get()
            .unwrap()
            .get(&url)
            .send()
            .await
            .unwrap();
        assert_eq!(allowed.status(), 200);
        server.abort();
    }

    #[test]
    fn drops_query_and_fragment_keeps_port() {
        let u = |s: &str| Url::parse(s).unwrap();
        let r = shown_url(&u(
            "https://s.example.com:8443/p/a.wav?X-Amz-Signature=secret#f",
        ));
        assert_eq!(r, "https://s.example.com:8443/p/a.wav?[query removed]");
        assert!(!r.contains("secret"));
        assert_eq!(
            shown_url(&u("https://s.example.com/a.wav#frag")),
            "https://s.example.com/a.wav"
        );
        // No user name or password either.
        assert_eq!(
            shown_url(&u("https://user:pw@s.example.com/a.wav")),
            "https://s.example.com/a.wav"
        );
    }
}
