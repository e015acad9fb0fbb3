//! Storage URLs (presigned uploads, result downloads): the one HTTP client for them, and how
//! such a URL may be shown in logs and errors (its signature is in the query, so the query and
//! the fragment never appear).

use std::sync::{Arc, OnceLock};

use url::Url;

/// The HTTP client for storage URLs: no default headers, so never the API key whatever a
/// caller's own client carries; no redirects of its own (downloads check each hop; an upload
/// is never redirected). Built on first use, since most clients never transfer a file.
#[derive(Clone, Debug, Default)]
pub(crate) struct StorageClient(Arc<OnceLock<reqwest::Client>>);

impl StorageClient {
    pub(crate) fn get(&self) -> Result<&reqwest::Client, reqwest::Error> {
        if let Some(c) = self.0.get() {
            return Ok(c);
        }
        crate::install_crypto_provider();
        let built = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(crate::transport::CONNECT_TIMEOUT)
            .build()?;
        Ok(self.0.get_or_init(|| built))
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
    use super::shown_url;
    use url::Url;

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
