//! Where a download may go: the URL a vendor handed out and every redirect hop after it.

use url::Url;

use crate::scrub::Scrubber;
use crate::validate;

/// Why `url` may not be fetched, or `None` when it may: an absolute `https` URL without
/// credentials on a public host. Plain `http` and private hosts (loopback, private,
/// link-local, metadata addresses, `.internal` names, ...: the same rules as reference-audio
/// URLs) only with `allow_private` (`ClientBuilder::allow_private_urls`, a local simulator).
///
/// The same check runs on the first URL and on every redirect target, so a public URL
/// cannot bounce the client into the local network.
///
/// A URL holding `[redacted]` is refused too: the server put the API key in it and the
/// scrubber took it out, so what is left is not the URL the server meant, and fetching it
/// would fail as if it had expired (fetching the status again gives the same URL). So is one
/// holding a piece of the key itself (`key`, the client's scrubber: any case, percent-encoded
/// and the other forms it finds), which no decoder scrubbed: a caller's own URL, a redirect's
/// `Location`. Sent, the key would reach that host's access logs and every proxy's on the way.
pub(crate) fn refusal(url: &Url, allow_private: bool, key: &Scrubber) -> Option<String> {
    if url.as_str().contains(crate::scrub::REDACTED) {
        return Some(format!(
            "holds {}: the server put the API key in it, and it was redacted (the key is never \
             sent on), so the URL cannot be fetched; report it to the vendor",
            crate::scrub::REDACTED
        ));
    }
    if key.refuses_in_a_request(url.as_str()) {
        return Some(
            "holds the API key (or a piece of it, in some case or encoding), which is never sent \
             on, so the URL was not fetched; report it to the vendor"
                .to_owned(),
        );
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some("carries credentials (user:password@)".to_owned());
    }
    let Some(host) = url.host() else {
        return Some("has no host".to_owned());
    };
    let private = validate::is_private_host(&host);
    if private && !allow_private {
        return Some(
            "points at a loopback or private address (allowed only with allow_private_urls, for a local simulator)"
                .to_owned(),
        );
    }
    match url.scheme() {
        "https" => None,
        "http" if private && allow_private => None,
        "http" => Some(
            "is plain http; only https is fetched (http only from a loopback or private host with allow_private_urls)"
                .to_owned(),
        ),
        // A scheme is any run of letters, digits, `+`, `-` and `.`: a server's can be as long
        // as its header, and the reason is logged with every refusal.
        other => Some(format!(
            "uses {}:, not https",
            crate::error::cut(other, crate::wire::MAX_SCHEME_CHARS)
        )),
    }
}

/// The target of a redirect: `location` resolved against the URL that answered with it,
/// checked like the first URL. `Err` says why it may not be followed.
pub(crate) fn redirect_target(
    from: &Url,
    location: Option<&str>,
    allow_private: bool,
    key: &Scrubber,
) -> Result<Url, String> {
    let location = location
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| "is missing (a redirect without a Location header)".to_owned())?;
    let next = from.join(location).map_err(|_| "is not a URL".to_owned())?;
    match refusal(&next, allow_private, key) {
        Some(why) => Err(why),
        None => Ok(next),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const KEY: &str = "sk-target-test-0123456789";

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn key() -> Scrubber {
        Scrubber::new(KEY)
    }

    #[test]
    fn first_urls() {
        assert_eq!(
            refusal(&u("https://cdn.example.com/a.wav?sig=1"), false, &key()),
            None
        );
        for bad in [
            "http://cdn.example.com/a.wav",
            "ftp://cdn.example.com/a.wav",
            "https://u:p@cdn.example.com/a.wav",
            "https://127.0.0.1/a.wav",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/a.wav",
            "https://metadata.google.internal/a",
            "https://10.0.0.7/a.wav",
            "http://127.0.0.1:8080/a.wav",
        ] {
            assert!(refusal(&u(bad), false, &key()).is_some(), "{bad}");
        }
        // The opt-in: loopback and plain http from a private host.
        assert_eq!(
            refusal(&u("http://127.0.0.1:8080/a.wav"), true, &key()),
            None
        );
        assert_eq!(refusal(&u("https://[::1]/a.wav"), true, &key()), None);
        // Plain http from a public host stays refused, opt-in or not.
        assert!(refusal(&u("http://cdn.example.com/a.wav"), true, &key()).is_some());
        assert!(refusal(&u("https://u:p@127.0.0.1/a"), true, &key()).is_some());
        // The key redacted from it, in the query or the path.
        for bad in [
            "https://cdn.example.com/a.mp3?sig=[redacted]&e=1",
            "http://127.0.0.1:8080/k/[redacted]/a.mp3",
        ] {
            let why = refusal(&u(bad), true, &key()).unwrap();
            assert!(why.contains("API key"), "{bad}: {why}");
        }
    }

    /// Every hop is checked: a public URL redirecting into the local network, to plain
    /// http or to credentials is refused; relative locations resolve against the hop.
    #[test]
    fn redirect_hops() {
        let from = u("https://cdn.example.com/a/b.wav?sig=1");
        assert_eq!(
            redirect_target(&from, Some("/c/d.wav"), false, &key())
                .unwrap()
                .as_str(),
            "https://cdn.example.com/c/d.wav"
        );
        assert_eq!(
            redirect_target(&from, Some("e.wav"), false, &key())
                .unwrap()
                .as_str(),
            "https://cdn.example.com/a/e.wav"
        );
        assert!(
            redirect_target(
                &from,
                Some("https://other.example.net/x.wav"),
                false,
                &key()
            )
            .is_ok()
        );
        for bad in [
            "http://127.0.0.1/x.wav",
            "https://127.0.0.1/x.wav",
            "https://169.254.169.254/latest/meta-data/iam",
            "https://[::ffff:10.0.0.1]/x",
            "https://intranet/x.wav",
            "http://cdn.example.com/x.wav",
            "https://u:p@cdn.example.com/x.wav",
            "file:///etc/passwd",
        ] {
            assert!(
                redirect_target(&from, Some(bad), false, &key()).is_err(),
                "{bad}"
            );
        }
        assert!(redirect_target(&from, None, false, &key()).is_err());
        assert!(redirect_target(&from, Some("  "), false, &key()).is_err());
        // With the opt-in, a loopback hop is followed (a local simulator).
        assert!(redirect_target(&from, Some("http://127.0.0.1:9/x.wav"), true, &key()).is_ok());
    }

    /// A URL holding the key itself (no decoder scrubbed it: a caller's URL, a redirect's
    /// `Location`), in any case or percent-encoded, is refused without quoting it (review
    /// 34-c #1); a scheme of 100 KB is quoted cut (review 34-c #3).
    #[test]
    fn the_key_in_a_url_is_refused_and_a_long_scheme_cut() {
        let encoded: String = KEY.bytes().map(|b| format!("%{b:02x}")).collect();
        let from = u("https://cdn.example.com/a.wav");
        for bad in [
            format!("https://cdn.example.com/a.wav?token={KEY}"),
            format!("https://cdn.example.com/k/{}/a.wav", KEY.to_uppercase()),
            format!("https://cdn.example.com/a.wav?t={encoded}"),
            format!("/k/{}/a.wav", &KEY[3..]),
        ] {
            if let Ok(url) = Url::parse(&bad) {
                let why = refusal(&url, false, &key()).unwrap();
                assert!(why.contains("API key"), "{bad}: {why}");
                assert!(!key().finds_secret_in(&why), "{bad}: {why}");
            }
            let why = redirect_target(&from, Some(&bad), false, &key()).unwrap_err();
            assert!(why.contains("API key"), "{bad}: {why}");
        }
        let long = format!("{}://cdn.example.com/a.wav", "a".repeat(100_000));
        let why = refusal(&u(&long), false, &key()).unwrap();
        assert!(why.starts_with("uses aaaa") && why.len() < 100, "{why}");
    }
}
