//! URLs as they may be printed: a base URL may carry credentials (`https://user:secret@host`)
//! or a token in its query (`?token=...`), and `Debug`, errors and logs print URLs.

use reqwest::Url;

/// What a URL's query becomes when it is not printed.
pub const REDACTED_QUERY: &str = "[redacted]";

/// `url` (a base URL as given) as it may be printed: without user name and password, its
/// query replaced with `[redacted]` and its fragment removed (see [`redact_url`]). Text that
/// does not parse as a URL with a host (`user:secret@host` parses as a URL of the scheme
/// `user`, whose path holds the secret) is not printed at all: it reads `[not a URL]`.
///
/// ```
/// let shown = client_glue::printable_url("https://user:s3cret@api.example.com/v1?token=t0k");
/// assert_eq!(shown, "https://api.example.com/v1?[redacted]");
/// assert_eq!(client_glue::printable_url("user:s3cret@nowhere"), "[not a URL]");
/// ```
pub fn printable_url(url: &str) -> String {
    match Url::parse(url.trim()) {
        Ok(mut url) if url.has_host() => {
            redact_url(&mut url, true);
            url.into()
        }
        _ => "[not a URL]".to_owned(),
    }
}

/// The text requests to base URL `url` are built on: its trailing slashes trimmed, since
/// every route appended to it starts with its own `/`. Two base URLs with one request base
/// reach the same endpoints.
pub fn request_base(url: &Url) -> &str {
    url.as_str().trim_end_matches('/')
}

/// Removes from `url` what must never be printed: the user name and password, and the
/// fragment; with `query` also the query, replaced with `[redacted]`. Host, port and path stay.
pub fn redact_url(url: &mut Url, query: bool) {
    // Both fail only for URLs that cannot have credentials (no host): nothing to remove.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    if query && url.query().is_some() {
        url.set_query(Some(REDACTED_QUERY));
    }
}

/// Whether [`redact_url`]`(url, query)` would change `url` (a few comparisons, nothing
/// built: it runs on every response).
pub(crate) fn needs_redaction(url: &Url, query: bool) -> bool {
    !url.username().is_empty()
        || url.password().is_some()
        || url.fragment().is_some()
        || (query && url.query().is_some_and(|q| q != REDACTED_QUERY))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_query_and_fragment_are_never_printed() {
        for (raw, want) in [
            (
                "https://user:pa55word@api.example.com/v1",
                "https://api.example.com/v1",
            ),
            (
                "https://only-user@api.example.com",
                "https://api.example.com/",
            ),
            (
                "http://127.0.0.1:8080/p?token=abc&x=1#frag",
                "http://127.0.0.1:8080/p?[redacted]",
            ),
            (" https://h.example/ ", "https://h.example/"),
            ("https://:pw@h.example", "https://h.example/"),
        ] {
            assert_eq!(printable_url(raw), want, "{raw}");
        }
        assert_eq!(printable_url("pa55word"), "[not a URL]");
        assert_eq!(printable_url("user:pa55word@h.example"), "[not a URL]");
        let mut url = Url::parse("https://u:p@h.example/a?req_id=1")
            .unwrap_or_else(|_| unreachable!("a valid URL"));
        assert!(needs_redaction(&url, false));
        redact_url(&mut url, false);
        assert_eq!(url.as_str(), "https://h.example/a?req_id=1");
        assert!(!needs_redaction(&url, false));
        assert!(needs_redaction(&url, true));
        redact_url(&mut url, true);
        assert!(!needs_redaction(&url, true));
    }
}
