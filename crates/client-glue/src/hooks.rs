//! What the generated clients' `ClientHooks` impls do, written once.
//!
//! Hooks cannot return typed errors (progenitor's `pre`/`post` return `Error::Custom(String)`,
//! `exec` a `reqwest::Result`), so they only prepare and bound requests; classifying failures
//! is left to the caller (the `voiceclone` adapter).

use progenitor_client::{OperationInfo, ResponseValue};
use reqwest::header::AUTHORIZATION;
use serde::de::DeserializeOwned;

use crate::ClientConfig;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_urls_append_to_the_base_path() {
        let Ok(c) = ClientConfig::bearer("k") else {
            unreachable!("a plain key is valid")
        };
        for (base, path, want) in [
            ("http://127.0.0.1:8080", "/a/b", "http://127.0.0.1:8080/a/b"),
            (
                "https://x.example/prefix",
                "/a/x%2Fy",
                "https://x.example/prefix/a/x%2Fy",
            ),
            (
                "https://x.example/prefix/",
                "/a",
                "https://x.example/prefix/a",
            ),
        ] {
            let url = request_url::<()>(base, &c, path).map(String::from);
            assert_eq!(url.ok().as_deref(), Some(want), "{base} {path}");
        }
        assert!(request_url::<()>("not a url", &c, "/a").is_err());
        assert!(template_request_url::<()>("not a url", &c, "/a/{}", &["x"]).is_err());
        // The same URL reqwest would have parsed from `format!("{base}{path}")`.
        for (base, path) in [
            ("http://127.0.0.1:1", "/x/%2e%2e/y"),
            ("http://localhost:9/p", "/a%20b/c"),
            ("https://h.example", "/a/%E4%BD%A0"),
        ] {
            let ours = request_url::<()>(base, &c, path).map(String::from).ok();
            let parsed = reqwest::Url::parse(&format!("{base}{path}"))
                .map(String::from)
                .ok();
            assert_eq!(ours, parsed, "{base} {path}");
        }
    }

    /// A body whose escapes spell the key is cleaned where a JSON reader would see the key:
    /// inside a string its literal is rewritten (the rest kept), and where no literal can
    /// be (an escape outside any string) the body is replaced whole. A body whose escapes
    /// spell no key, or an escaped backslash before `u0073k…` (text, not an escape), is kept.
    #[test]
    fn escaped_echoes_of_the_key_are_removed_from_a_body() {
        const KEY: &str = "sk-0123456789";
        let clean = |body: &str| {
            let out = without_escaped_key(KEY, bytes::Bytes::from(body.to_owned()));
            String::from_utf8_lossy(&out).into_owned()
        };
        let got = clean(r#"{"a":1,"m":"x \u0073k-0123456789 y","n":"\n"}"#);
        assert_eq!(got, r#"{"a":1,"m":"x [redacted] y","n":"\n"}"#);
        let got = clean(r#"{"m":"\u0073\u006b\u002d0123456789"}"#);
        assert_eq!(got, r#"{"m":"[redacted]"}"#);
        assert_eq!(clean(r#"<p>\u0073k-0123456789</p>"#), ESCAPED_KEY_BODY);
        for kept in [r#"{"m":"\u0073k-012"}"#, r#"{"m":"\\u0073k-0123456789"}"#] {
            assert_eq!(clean(kept), kept);
        }
    }
}

#[cfg(test)]
mod key_tests {
    use super::*;
    use std::sync::Arc;

    /// Header values holding the key become `[redacted]` (each value of a repeated header on
    /// its own), a header whose name holds it is dropped, the others keep their order and
    /// values; a map without the key is not rebuilt.
    #[test]
    fn headers_echoing_the_key_lose_it() {
        use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
        let Ok(config) = ClientConfig::bearer("Sk-0123456789") else {
            unreachable!("a plain key is valid")
        };
        let mut headers = HeaderMap::new();
        let pairs = [
            ("x-echo", "Bearer Sk-0123456789"),
            ("set-cookie", "a=1"),
            ("set-cookie", "k=Sk-0123456789; Path=/"),
            ("x-sk-0123456789", "name holds it lower-cased"),
            ("content-type", "application/json"),
            ("x-encoded", "k=%53k%2D0123456789"),
        ];
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        without_key_in_headers(&mut headers, &config);
        let want = [
            ("x-echo", "[redacted]"),
            ("set-cookie", "a=1"),
            ("set-cookie", "[redacted]"),
            ("content-type", "application/json"),
            ("x-encoded", "[redacted]"),
        ];
        assert_eq!(shown(&headers), pairs_of(&want));
        let before = headers.clone();
        let Ok(other) = ClientConfig::bearer("absent-key") else {
            unreachable!("a plain key is valid")
        };
        without_key_in_headers(&mut headers, &other);
        assert_eq!(headers, before);
    }

    /// A header map of these (name, value) pairs, in order.
    fn headers_of(pairs: &[(String, String)]) -> reqwest::header::HeaderMap {
        use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) else {
                unreachable!("valid header names and values")
            };
            headers.append(name, value);
        }
        headers
    }

    fn shown(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
        headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("?").to_owned()))
            .collect()
    }

    fn pairs_of(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// An echo percent-encoded in a header name (`%` is a valid name character), or encoded
    /// twice in a value, is found as the plain one is; a caller's own `with_text_filter`
    /// (which may change any text) decides nothing about headers: ordinary ones stay.
    #[test]
    fn encoded_echoes_are_found_and_a_callers_filter_leaves_ordinary_headers() {
        let key = "Sk-0123456789";
        let once: String = key.bytes().map(|b| format!("%{b:02x}")).collect();
        let twice = once.replace('%', "%25");
        let lower: crate::TextFilter = Arc::new(|t: String| t.to_ascii_lowercase());
        let Ok(config) = ClientConfig::bearer(key) else {
            unreachable!("a plain key is valid")
        };
        let config = config.with_text_filter(lower);
        let mut headers = headers_of(&[
            (format!("x-{once}"), "named after the key".to_owned()),
            ("x-twice".to_owned(), format!("k={twice}")),
            (
                "content-type".to_owned(),
                "application/json; charset=UTF-8".to_owned(),
            ),
            ("retry-after".to_owned(), "2".to_owned()),
            ("x-request-id".to_owned(), "ABC-123".to_owned()),
        ]);
        without_key_in_headers(&mut headers, &config);
        let want = [
            ("x-twice", "[redacted]"),
            ("content-type", "application/json; charset=UTF-8"),
            ("retry-after", "2"),
            ("x-request-id", "ABC-123"),
        ];
        assert_eq!(shown(&headers), pairs_of(&want));
    }

    /// A header of megabytes leaves no buffer of that size to the thread.
    #[test]
    fn the_scratch_buffers_do_not_keep_a_huge_header() {
        let Ok(config) = ClientConfig::bearer("Sk-0123456789") else {
            unreachable!("a plain key is valid")
        };
        let big = "%41".repeat(1 << 20);
        assert!(!value_holds_key(&config, big.as_bytes()));
        let capacity = SCRATCH.with(|s| {
            let s = s.borrow();
            s.0.capacity().max(s.1.capacity())
        });
        assert!(capacity <= SCRATCH_KEEP, "{capacity}");
    }

    /// Headers are checked with the config's text filter, as strings of the body are: with a
    /// filter that removes every piece of the key in any case (the adapter's), an echo
    /// lower-cased, cut or percent-encoded goes too, value or name; the others stay as they
    /// were, and the filter's buffers are reused.
    #[test]
    fn headers_are_checked_with_the_configs_text_filter() {
        let key = "Sk-Live-0123456789abcdef";
        // Any run of 8+ characters of the key, compared ASCII case-insensitively.
        let lower = key.to_ascii_lowercase();
        let pieces: Vec<String> = lower
            .as_bytes()
            .windows(8)
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect();
        let filter: crate::TextFilter = Arc::new(move |text: String| {
            if pieces
                .iter()
                .any(|p| text.to_ascii_lowercase().contains(p.as_str()))
            {
                "[cut]".to_owned()
            } else {
                text
            }
        });
        let Ok(config) = ClientConfig::bearer_with_own_filter(key, filter) else {
            unreachable!("a plain key is valid")
        };
        let encoded: String = key.bytes().map(|b| format!("%{b:02X}")).collect();
        let mut headers = headers_of(&[
            ("x-lower".to_owned(), format!("Bearer {lower}")),
            ("x-upper".to_owned(), key.to_ascii_uppercase()),
            ("x-cut".to_owned(), "tail 89abcdef!".to_owned()),
            ("x-encoded".to_owned(), encoded),
            (
                "x-sk-live-01234".to_owned(),
                "the name holds a piece".to_owned(),
            ),
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-percent".to_owned(), "100% fine %zz".to_owned()),
        ]);
        without_key_in_headers(&mut headers, &config);
        let want = [
            ("x-lower", "[redacted]"),
            ("x-upper", "[redacted]"),
            ("x-cut", "[redacted]"),
            ("x-encoded", "[redacted]"),
            ("content-type", "application/json"),
            ("x-percent", "100% fine %zz"),
        ];
        assert_eq!(shown(&headers), pairs_of(&want));
        // Checked again (nothing of the key left): the map is not rebuilt, and the scratch
        // buffers are the thread's, kept for the next response.
        let before = headers.clone();
        without_key_in_headers(&mut headers, &config);
        assert_eq!(headers, before);
        let capacity = SCRATCH.with(|s| s.borrow().1.capacity());
        assert!(capacity >= "application/json".len(), "{capacity}");
    }

    /// The body and the serde message an undecodable answer keeps lose every whole copy of
    /// the key; without one they are kept as they were.
    #[test]
    fn an_undecodable_answer_keeps_no_key() {
        let key = "sk-0123456789";
        let body = format!(r#""{key} and {key}""#);
        let Err(e) = serde_json::from_str::<bool>(&body) else {
            unreachable!("a string is no bool")
        };
        assert!(e.to_string().contains(key));
        let (full, e) = without_key(key, bytes::Bytes::from(body), e);
        assert_eq!(&full[..], br#""[redacted] and [redacted]""#);
        assert!(!e.to_string().contains(key), "{e}");
        assert!(e.to_string().contains("line 1"), "{e}");
        let Err(e) = serde_json::from_str::<bool>("\"other\"") else {
            unreachable!("a string is no bool")
        };
        let before = e.to_string();
        let (full, e) = without_key(key, bytes::Bytes::from_static(b"\"other\""), e);
        assert_eq!((&full[..], e.to_string()), (&b"\"other\""[..], before));
    }
}

#[cfg(test)]
mod template_tests {
    use super::*;

    fn config() -> ClientConfig {
        let Ok(c) = ClientConfig::bearer("k") else {
            unreachable!("a plain key is valid")
        };
        c
    }

    /// Every template URL is the URL of the substituted path, fast path or not, and stays so
    /// once the prefix is cached; a segment that would come out empty, `.` or `..` is refused.
    #[test]
    fn template_urls_are_the_substituted_paths() {
        let segments = [
            "audio_1", "a.b", "A-Z~_", "0", "", ".", "..", "%2e", "%2E%2e", ".%2e", "a%2Fb",
            "a\\b", "a b", "a:b", "a;b=c", "x?y", "x#y", "%", "%zz", "\u{e9}", "%C3%A9", "a/b",
            "...", "a\tb", "~",
        ];
        let templates: [&'static str; 5] =
            ["/x/audios/{}", "/{}", "/a/{}/b", "/a/{}/b/{}", "/a/{}"];
        for base in [
            "http://127.0.0.1:8080",
            "https://h.example/prefix",
            "https://h.example/prefix/",
            "http://h.example/p?q=1",
        ] {
            let c = config();
            for _round in 0..2 {
                for template in templates {
                    for seg in segments {
                        let args: Vec<&str> = vec![seg; template.matches("{}").count()];
                        let path = template.replace("{}", seg);
                        let got =
                            template_request_url::<()>(base, &c, template, &args).map(String::from);
                        if matches!(seg, "" | "." | ".." | "%2e" | "%2E%2e" | ".%2e") {
                            assert!(
                                matches!(got, Err(progenitor_client::Error::InvalidRequest(_))),
                                "{base} {template} {seg:?}: {got:?}"
                            );
                            continue;
                        }
                        let want = request_url::<()>(base, &c, &path).map(String::from).ok();
                        assert_eq!(got.ok(), want, "{base} {template} {seg:?}");
                    }
                }
            }
        }
    }

    /// A path parameter, encoded, is exactly one path segment of the URL sent, holding what was
    /// encoded, whatever it contains (`\` included, which `http(s)` URLs read as `/`); an
    /// empty, `.` or `..` one is refused instead of being dropped or stepping up.
    #[test]
    fn an_encoded_parameter_stays_in_its_segment() {
        let c = config();
        for raw in [
            "x\\..\\audio_other",
            "\\..",
            "..\\",
            "\\",
            "a\\b",
            "../x",
            "..%2f",
            "%2e%2e",
            "%2E.",
            ".%2e",
            "./",
            "a/../b",
            "x?y#z",
            "\t..",
            "..\n",
            " ..",
            "\u{e9}",
            "...",
        ] {
            let encoded = encode_segment(raw);
            assert!(
                !encoded.contains(['\\', '/', '?', '#']),
                "{raw:?} -> {encoded}"
            );
            for base in ["http://127.0.0.1:8080", "https://h.example/prefix/"] {
                let url = template_request_url::<()>(base, &c, "/api/audios/{}", &[&encoded]);
                assert!(url.is_ok(), "{raw:?} was refused: {url:?}");
                let Ok(url) = url else { continue };
                let segments: Vec<&str> = url.path_segments().into_iter().flatten().collect();
                let prefix: &[&str] = if base.ends_with("prefix/") {
                    &["prefix", "api", "audios"]
                } else {
                    &["api", "audios"]
                };
                assert_eq!(segments.len(), prefix.len() + 1, "{raw:?}: {url}");
                assert_eq!(segments.get(..prefix.len()), Some(prefix), "{raw:?}: {url}");
                assert_eq!(segments.last().copied(), Some(&*encoded), "{raw:?}: {url}");
            }
        }
        assert_eq!(encode_segment("x\\..\\audio_other"), "x%5C..%5Caudio_other");
        for refused in ["", ".", ".."] {
            let encoded = encode_segment(refused);
            let url = template_request_url::<()>("http://h.example", &c, "/a/{}", &[&encoded]);
            assert!(
                matches!(url, Err(progenitor_client::Error::InvalidRequest(_))),
                "{refused:?}: {url:?}"
            );
            let url = template_request_url::<()>("http://h.example", &c, "/a/{}/b", &[&encoded]);
            assert!(url.is_err(), "{refused:?}: {url:?}");
        }
        // Only dots make a dot segment; a parameter inside a longer segment may be empty.
        let url = template_request_url::<()>("http://h.example", &c, "/a/v{}.json", &[""]);
        assert_eq!(
            url.map(String::from).ok().as_deref(),
            Some("http://h.example/a/v.json")
        );
        // `encode_path`, plus `\`.
        for seg in ["a b", "%", "x/y", "\u{e9}", "a\\b"] {
            assert_eq!(
                encode_segment(seg),
                progenitor_client::encode_path(seg).replace('\\', "%5C")
            );
        }
    }
}

tokio::task_local! {
    /// Set by [`with_request_timeout`]: the timeout of every request prepared inside it.
    static REQUEST_TIMEOUT: std::time::Duration;
    /// Set by [`keeping_cut_bodies`]: where [`decode`] leaves a 2xx answer whose body failed.
    static CUT_BODY: CutBodySlot;
}

/// What arrived of a 2xx answer whose body failed while [`decode`] read it (the connection
/// closed or reset mid-body, the request's timeout, the body limit): its status line, its
/// headers, and the bytes before the failure (no more than the body limit lets through).
/// progenitor's `ResponseBodyError` holds reqwest's error alone, and a caller may need what
/// came: the id of a task the answer's first bytes named, a header of the server's own.
pub struct CutBody {
    /// The answer's status.
    pub status: reqwest::StatusCode,
    /// The answer's headers, as [`execute`] left them (none holds the key).
    pub headers: reqwest::header::HeaderMap,
    /// The body's bytes that arrived before the failure, unfiltered: they may hold the key.
    pub prefix: bytes::Bytes,
}

/// Its `Debug` shows the prefix's length only: the bytes may hold the key.
impl std::fmt::Debug for CutBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CutBody")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("prefix_len", &self.prefix.len())
            .finish()
    }
}

/// Where [`decode`] leaves the [`CutBody`] of a 2xx whose body failed, for a caller that runs
/// the generated call inside [`keeping_cut_bodies`]; a clone shares the slot.
#[derive(Clone, Debug, Default)]
pub struct CutBodySlot(std::sync::Arc<std::sync::Mutex<Option<CutBody>>>);

impl CutBodySlot {
    /// The cut body left here, if any (it is taken out).
    pub fn take(&self) -> Option<CutBody> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    fn put(&self, cut: CutBody) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(cut);
    }
}

/// Runs `fut` so that a 2xx answer whose body fails while a generated call inside it reads it
/// is left in `slot` (see [`CutBody`]); the call still fails with `ResponseBodyError`.
///
/// ```
/// # async fn run() {
/// let slot = client_glue::hooks::CutBodySlot::default();
/// // Any generated method call goes where this block is.
/// let answer = client_glue::hooks::keeping_cut_bodies(slot.clone(), async { "the answer" }).await;
/// assert!(slot.take().is_none());
/// # let _ = answer;
/// # }
/// ```
pub async fn keeping_cut_bodies<F: std::future::Future>(slot: CutBodySlot, fut: F) -> F::Output {
    CUT_BODY.scope(slot, fut).await
}

/// Runs `fut` so that every request [`prepare`]d while it runs times out after `timeout`
/// instead of its operation's configured timeout (longer or shorter): how a caller gives one
/// call a timeout of its own without wrapping the call's future in a timer, which would drop
/// the request and with it what the failure says (a timed-out request still fails as a
/// request that timed out).
///
/// ```
/// # async fn run() {
/// // Any generated method call goes where this block is.
/// let answer = client_glue::hooks::with_request_timeout(
///     std::time::Duration::from_secs(5),
///     async { "the generated call's answer" },
/// )
/// .await;
/// # let _ = answer;
/// # }
/// ```
pub async fn with_request_timeout<F: std::future::Future>(
    timeout: std::time::Duration,
    fut: F,
) -> F::Output {
    REQUEST_TIMEOUT.scope(timeout, fut).await
}

/// Before sending: the bearer header and the operation's timeout (or the one
/// [`with_request_timeout`] set). (progenitor's `api-version` header is not generated: the
/// xtask leaves it out.)
pub fn prepare(config: &ClientConfig, request: &mut reqwest::Request, info: &OperationInfo) {
    request
        .headers_mut()
        .insert(AUTHORIZATION, config.authorization.clone());
    let timeout = REQUEST_TIMEOUT
        .try_with(|t| *t)
        .unwrap_or_else(|_| config.timeout_for(info.operation_id));
    *request.timeout_mut() = Some(timeout);
}

/// The URL of a request: the client's base URL (parsed once) with `path` appended, as
/// `format!("{baseurl}{path}")` would give, without parsing the whole URL again on every call
/// (the xtask makes the generated methods call this; `path` is already percent-encoded).
// The error type is progenitor's, so that the generated methods can use `?` on it.
#[allow(clippy::result_large_err)]
pub fn request_url<E>(
    baseurl: &str,
    config: &ClientConfig,
    path: &str,
) -> Result<reqwest::Url, progenitor_client::Error<E>> {
    let Some(mut url) = config.parsed_base(baseurl) else {
        return Err(progenitor_client::Error::InvalidRequest(
            "the client's base URL does not parse".to_owned(),
        ));
    };
    let base_path = url.path().trim_end_matches('/');
    if base_path.is_empty() {
        // The common base URL, without a path of its own: `path` is the whole path.
        url.set_path(path);
    } else {
        let joined = format!("{base_path}{path}");
        url.set_path(&joined);
    }
    Ok(url)
}

/// [`request_url`] for a path without parameters: the URL is built once per config and
/// cloned afterwards (the xtask makes the generated methods whose path has no parameter call
/// this).
// The error type is progenitor's, so that the generated methods can use `?` on it.
#[allow(clippy::result_large_err)]
pub fn static_request_url<E>(
    baseurl: &str,
    config: &ClientConfig,
    path: &'static str,
) -> Result<reqwest::Url, progenitor_client::Error<E>> {
    match config.static_url(baseurl, path, || {
        request_url::<()>(baseurl, config, path).ok()
    }) {
        Some(url) => Ok(url),
        None => request_url(baseurl, config, path),
    }
}

/// [`request_url`] for a path template whose placeholders (`{}`) are filled with `args`
/// (each already percent-encoded, as [`encode_segment`] does), with the same result:
/// `request_url(baseurl, config, &template_with_args_substituted)`, except that a path segment
/// holding a placeholder which comes out empty, `.` or `..` (also `%2e`, `.%2E`, ..., which the
/// URL parser reads as dots) is refused with `Error::InvalidRequest`: the URL parser would
/// drop it or step up a segment, and the request would go to another route. A template
/// `"<path>/{}"` whose argument is a plain segment (ASCII letters, digits, `-`, `.`, `_`, `~`;
/// not `.` or `..`) appends it to the URL of `<path>`, built once per config, instead of
/// parsing the whole path again (the xtask makes the generated methods call this).
// The error type is progenitor's, so that the generated methods can use `?` on it.
#[allow(clippy::result_large_err)]
pub fn template_request_url<E>(
    baseurl: &str,
    config: &ClientConfig,
    template: &'static str,
    args: &[&str],
) -> Result<reqwest::Url, progenitor_client::Error<E>> {
    if let ([segment], Some(prefix)) = (args, template.strip_suffix("/{}"))
        && !prefix.contains(['{', '}'])
        && is_plain_segment(segment)
        && let Some(mut url) = config.static_url(baseurl, prefix, || {
            request_url::<()>(baseurl, config, prefix).ok()
        })
    {
        // A plain segment is appended as it is, as parsing the whole path would leave it.
        let appended = url.path_segments_mut().map(|mut s| {
            s.push(segment);
        });
        if appended.is_ok() {
            return Ok(url);
        }
    }
    let mut path =
        String::with_capacity(template.len() + args.iter().map(|a| a.len()).sum::<usize>());
    let mut args = args.iter();
    for (i, piece) in template.split('/').enumerate() {
        if i > 0 {
            path.push('/');
        }
        if !piece.contains("{}") {
            path.push_str(piece);
            continue;
        }
        let start = path.len();
        let mut parts = piece.split("{}");
        if let Some(first) = parts.next() {
            path.push_str(first);
        }
        for part in parts {
            path.push_str(args.next().copied().unwrap_or_default());
            path.push_str(part);
        }
        if let Some(segment) = path.get(start..)
            && is_dot_or_empty_segment(segment)
        {
            return Err(progenitor_client::Error::InvalidRequest(format!(
                "a path parameter of `{template}` is empty, `.` or `..`, which would change \
                 the request's route"
            )));
        }
    }
    request_url(baseurl, config, &path)
}

/// A path segment the URL parser drops or reads as "up one segment": empty, `.` or `..`,
/// each dot possibly written `%2e` or `%2E`.
fn is_dot_or_empty_segment(segment: &str) -> bool {
    let mut rest = segment.as_bytes();
    let mut dots = 0;
    while !rest.is_empty() {
        if let [b'.', tail @ ..] = rest {
            rest = tail;
        } else if let [b'%', b'2', b'e' | b'E', tail @ ..] = rest {
            rest = tail;
        } else {
            return false;
        }
        dots += 1;
    }
    dots <= 2
}

/// A path parameter percent-encoded for one path segment: progenitor's `encode_path` (controls,
/// space, `"`, `#`, `<`, `>`, `?`, `` ` ``, `{`, `}`, `/`, `%`), and `\`, which the URL parser
/// reads as `/` in `http(s)` URLs; without a new string when there is nothing to encode. An
/// empty, `.` or `..` parameter stays as it is: [`template_request_url`] refuses it.
pub fn encode_segment(segment: &str) -> std::borrow::Cow<'_, str> {
    // A plain segment holds no character `encode_path` encodes.
    if is_plain_segment(segment) {
        return std::borrow::Cow::Borrowed(segment);
    }
    let encoded = progenitor_client::encode_path(segment);
    // `%` is encoded already, so the `%5C` written here is never read as anything else.
    if encoded.contains('\\') {
        std::borrow::Cow::Owned(encoded.replace('\\', "%5C"))
    } else {
        std::borrow::Cow::Owned(encoded)
    }
}

/// A path segment that parsing leaves as it is and that is no dot segment.
fn is_plain_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// A 2xx answer read as JSON into `T`, with the errors of progenitor's
/// `ResponseValue::from_response` (which the xtask replaces with this), but the headers moved
/// instead of copied, and the config's text filter (if any) applied to every string decoded.
/// A body that fails midway is `ResponseBodyError`, as there; inside [`keeping_cut_bodies`],
/// what arrived of it is left in the slot too.
pub async fn decode<T: DeserializeOwned, E>(
    config: &ClientConfig,
    mut response: reqwest::Response,
) -> Result<ResponseValue<T>, progenitor_client::Error<E>> {
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
    let full = match read_whole(&mut response).await {
        Ok(full) => full,
        Err((e, prefix)) => {
            // Outside `keeping_cut_bodies` there is no slot: the prefix is dropped.
            let _ = CUT_BODY.try_with(|slot| {
                slot.put(CutBody {
                    status,
                    headers,
                    prefix,
                })
            });
            return Err(progenitor_client::Error::ResponseBodyError(e));
        }
    };
    let decoded = match &config.text_filter {
        Some(filter) => {
            crate::wire::with_text_filter_sync(filter, || serde_json::from_slice::<T>(&full))
        }
        None => serde_json::from_slice::<T>(&full),
    };
    match decoded {
        Ok(inner) => Ok(ResponseValue::new(inner, status, headers)),
        Err(e) => {
            let (full, e) = without_key(&config.key, full, e);
            Err(progenitor_client::Error::InvalidResponsePayload(full, e))
        }
    }
}

/// The whole body of `response`, or the failure that ended it with the bytes that came
/// before. A body in one chunk is not copied.
async fn read_whole(
    response: &mut reqwest::Response,
) -> Result<bytes::Bytes, (reqwest::Error, bytes::Bytes)> {
    let mut first = bytes::Bytes::new();
    let mut joined: Option<bytes::BytesMut> = None;
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => {
                let prefix = joined.map_or(first, bytes::BytesMut::freeze);
                return Err((e, prefix));
            }
        };
        match &mut joined {
            Some(j) => j.extend_from_slice(&chunk),
            None if first.is_empty() => first = chunk,
            None => {
                let mut j = bytes::BytesMut::with_capacity(first.len().saturating_add(chunk.len()));
                j.extend_from_slice(&first);
                j.extend_from_slice(&chunk);
                joined = Some(j);
            }
        }
    }
    Ok(joined.map_or(first, bytes::BytesMut::freeze))
}

/// The body and decoding error of an answer that did not decode, with every whole occurrence
/// of `key` replaced (the error's `Display` and `Debug` print both): the body's bytes (also
/// where JSON escapes spell it, see [`without_escaped_key`]), and the error's message (serde
/// names an unexpected value, which may be the key), which then keeps its text (with its line
/// and column) but not its category.
fn without_key(
    key: &str,
    full: bytes::Bytes,
    e: serde_json::Error,
) -> (bytes::Bytes, serde_json::Error) {
    let full = without_escaped_key(key, without_raw_key(key.as_bytes(), full));
    let message = e.to_string();
    let e = if !key.is_empty() && message.contains(key) {
        <serde_json::Error as serde::de::Error>::custom(
            message.replace(key, crate::config::REDACTED),
        )
    } else {
        e
    };
    (full, e)
}

/// What a body becomes when JSON escapes in it spell the key in a way its string literals,
/// rewritten, do not remove (an escape outside any string, in text that is no JSON).
const ESCAPED_KEY_BODY: &str = "[redacted: the body spelled the API key with escapes]";

/// `full` with every copy of the key a JSON reader would see (`\u0073k-…`, `\/`) removed:
/// each string literal that decodes to text holding the key is written back with the key
/// replaced. A body in which escapes still spell the key after that (outside a string, where
/// no literal could be rewritten) is replaced whole with [`ESCAPED_KEY_BODY`]. Left as it is
/// (no copy) when it holds no `\` or its escapes spell no key.
fn without_escaped_key(key: &str, full: bytes::Bytes) -> bytes::Bytes {
    if key.is_empty() || !full.contains(&b'\\') || !unescaped_holds(&full, key.as_bytes()) {
        return full;
    }
    let text = String::from_utf8_lossy(&full);
    let filter = |s: String| {
        if s.contains(key) {
            s.replace(key, crate::config::REDACTED)
        } else {
            s
        }
    };
    match crate::wire::rewrite_json_text(&text, &filter, crate::wire::JsonRewrite::default()) {
        Some(rewritten) if !unescaped_holds(rewritten.as_bytes(), key.as_bytes()) => {
            bytes::Bytes::from(rewritten)
        }
        _ => bytes::Bytes::from_static(ESCAPED_KEY_BODY.as_bytes()),
    }
}

/// Whether `body`, with every JSON escape decoded wherever it stands (`\u00XX` as that byte,
/// `\n`, `\/`...; an escape of a character beyond ASCII, which no key holds, as a byte no key
/// holds either), holds `key`.
fn unescaped_holds(body: &[u8], key: &[u8]) -> bool {
    if key.is_empty() {
        return false;
    }
    let hex = |at: usize| body.get(at).and_then(|c| char::from(*c).to_digit(16));
    let mut decoded = Vec::with_capacity(body.len());
    let mut i = 0usize;
    while let Some(&b) = body.get(i) {
        let (byte, step) = match (b, body.get(i.saturating_add(1))) {
            (b'\\', Some(b'u')) => {
                let digits = [2usize, 3, 4, 5].map(|k| hex(i.saturating_add(k)));
                match digits {
                    [Some(h0), Some(h1), Some(h2), Some(h3)] => {
                        let unit = ((h0 * 16 + h1) * 16 + h2) * 16 + h3;
                        (
                            u8::try_from(unit).ok().filter(u8::is_ascii).unwrap_or(0xff),
                            6,
                        )
                    }
                    _ => (b, 1),
                }
            }
            (b'\\', Some(&c)) => match c {
                b'"' | b'\\' | b'/' => (c, 2),
                b'b' => (0x08, 2),
                b'f' => (0x0c, 2),
                b'n' => (b'\n', 2),
                b'r' => (b'\r', 2),
                b't' => (b'\t', 2),
                _ => (b, 1),
            },
            _ => (b, 1),
        };
        decoded.push(byte);
        i = i.saturating_add(step);
    }
    decoded.windows(key.len()).any(|w| w == key)
}

/// `full` with every copy of `key`'s bytes replaced with `[redacted]`.
fn without_raw_key(key: &[u8], full: bytes::Bytes) -> bytes::Bytes {
    if !key.is_empty() && full.windows(key.len()).any(|w| w == key) {
        let mut out = Vec::with_capacity(full.len());
        let mut rest: &[u8] = &full;
        while let Some(at) = rest.windows(key.len()).position(|w| w == key) {
            out.extend_from_slice(rest.get(..at).unwrap_or_default());
            out.extend_from_slice(crate::config::REDACTED.as_bytes());
            rest = rest.get(at + key.len()..).unwrap_or_default();
        }
        out.extend_from_slice(rest);
        bytes::Bytes::from(out)
    } else {
        full
    }
}

/// Sends, and bounds the response body: reading more than the configured limit fails with a
/// body error whose source is [`BodyTooLarge`] (see [`is_body_too_large`]), so a hostile or
/// broken server cannot exhaust memory, on success and error statuses alike.
///
/// What progenitor's errors print (`Error::UnexpectedResponse` prints the whole response,
/// URL and headers; `Error::CommunicationError` reqwest's error, URL included), and what a
/// `ResponseValue` keeps, holds no secret:
/// - a response header is checked as a string of the body is: one whose value the config's
///   header filter (the key's removal, or [`ClientConfig::bearer_with_own_filter`]'s
///   filter; never a caller's [`ClientConfig::with_text_filter`]) would change, or which
///   holds the key whole in any case (also percent-decoded, up to three times, whatever the
///   filter), gets the value `[redacted]`; one whose name would be changed or holds the key
///   (also percent-decoded) is dropped. With the `voiceclone` adapter's filter, that is
///   every piece of 8 or more characters of the key, in any case, and every run encoding
///   one (percent-encoded, hex, base64: the same rule as for the strings of a body); with
///   [`ClientConfig::bearer`]'s, the key whole. Nothing is allocated for headers that hold
///   nothing of the key (the filter runs on a buffer reused by the thread).
/// - the URL of the response, and of a failed request's error, has no user name, password or
///   fragment, and no query when the client's base URL has one (it is then the caller's, and
///   may hold a token; it is printed as `[redacted]`). (reqwest already moves a base URL's
///   credentials into an `Authorization` header, which [`prepare`] replaces with the bearer
///   one: they are never sent either.) A config from
///   [`ClientConfig::bearer_for_checked_base_url`] leaves the response's URL as it is: its
///   caller refuses such base URLs.
pub async fn execute(
    client: &reqwest::Client,
    config: &ClientConfig,
    request: reqwest::Request,
) -> reqwest::Result<reqwest::Response> {
    let query = config.base_has_query();
    let mut response = client.execute(request).await.map_err(|mut e| {
        if let Some(url) = e.url_mut() {
            crate::redact::redact_url(url, query);
        }
        e
    })?;
    without_key_in_headers(response.headers_mut(), config);
    let response = match config.printable_url {
        Some(rebuild) if crate::redact::needs_redaction(response.url(), query) => {
            rebuild(response, query)
        }
        _ => response,
    };
    Ok(limit_body(response, config.max_response_bytes()))
}

/// `response` with its URL redacted (see [`crate::redact::redact_url`]): reqwest keeps a
/// response's URL in an extension of the `http::Response` it converts from.
pub(crate) fn with_printable_url(response: reqwest::Response, query: bool) -> reqwest::Response {
    use reqwest::ResponseBuilderExt as _;
    let mut url = response.url().clone();
    crate::redact::redact_url(&mut url, query);
    let http: http::Response<reqwest::Body> = response.into();
    let (mut parts, body) = http.into_parts();
    if let Ok(marker) = http::Response::builder().url(url).body(()) {
        parts.extensions.extend(marker.into_parts().0.extensions);
    }
    // Without the extension (never: the builder above has nothing to refuse), reqwest names
    // a placeholder URL: still nothing of the original.
    reqwest::Response::from(http::Response::from_parts(parts, body))
}

thread_local! {
    /// The buffers [`text_holds_key`] runs the text filter on: the text to check, and the
    /// one handed to the filter (and given back by it), reused for every header of every
    /// response on the thread.
    static SCRATCH: std::cell::RefCell<(String, String)> =
        const { std::cell::RefCell::new((String::new(), String::new())) };
}

/// The most a [`SCRATCH`] buffer keeps between headers: one hostile header of megabytes
/// must not hold that much per thread for the life of the process.
const SCRATCH_KEEP: usize = 16 * 1024;

/// How many times a header is percent-decoded at most: an echo encoded twice (`%2573`) is
/// found too.
const DECODE_ROUNDS: usize = 3;

/// Whether `text` holds the key for `config`: `text` (with `decode`, percent-decoded up to
/// [`DECODE_ROUNDS`] times) holds the key whole, in any case; or the config's header filter
/// (the key's removal, or the own filter replacing it) would change it (percent-decoded
/// with `decode`). The filter runs as on a string of the body, on buffers the thread reuses,
/// so no string is made for text that holds nothing the filter removes (with the filters of
/// this crate and the adapter, which give their input back untouched then).
fn text_holds_key(config: &ClientConfig, text: &str, decode: bool) -> bool {
    // Taken out for the call: a filter that checks a header itself finds empty buffers,
    // never a borrowed one.
    let (mut input, mut work) = SCRATCH.with(|s| std::mem::take(&mut *s.borrow_mut()));
    input.clear();
    let checked: &str = if decode {
        percent_decode_into(text, &mut input);
        for _ in 1..DECODE_ROUNDS {
            if !input.contains('%') {
                break;
            }
            work.clear();
            percent_decode_into(&input, &mut work);
            if work == input {
                break;
            }
            std::mem::swap(&mut input, &mut work);
        }
        &input
    } else {
        text
    };
    let key = config.key.as_bytes();
    // Whatever `decode` is: with `connect`'s filter (the key as sent), an echo of the key in
    // another case would otherwise be kept.
    let mut found = !key.is_empty()
        && checked
            .as_bytes()
            .windows(key.len())
            .any(|w| w.eq_ignore_ascii_case(key));
    if !found {
        work.clear();
        work.push_str(checked);
        work = (config.header_filter)(work);
        found = work != checked;
    }
    for buffer in [&mut input, &mut work] {
        if buffer.capacity() > SCRATCH_KEEP {
            *buffer = String::new();
        }
    }
    SCRATCH.with(|s| *s.borrow_mut() = (input, work));
    found
}

/// `text` with every `%XX` decoded, into `out`. A decoded byte beyond ASCII reads as U+FFFD:
/// the key is ASCII (it is sent in a header), so its pieces read the same.
fn percent_decode_into(text: &str, out: &mut String) {
    let bytes = text.as_bytes();
    let hex = |at: usize| bytes.get(at).and_then(|c| char::from(*c).to_digit(16));
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let (byte, step) = match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => (u8::try_from(hi * 16 + lo).unwrap_or(0xff), 3),
            _ => (b, 1),
        };
        out.push(if byte.is_ascii() {
            char::from(byte)
        } else {
            char::REPLACEMENT_CHARACTER
        });
        i += step;
    }
}

/// Whether a header value holds the key for `config`: the key whole (in any case, as sent
/// and percent-decoded), or anything the config's text filter would change (the value as
/// text, and percent-decoded when it holds a `%`).
fn value_holds_key(config: &ClientConfig, value: &[u8]) -> bool {
    let key = config.key.as_bytes();
    if !key.is_empty() && value.windows(key.len()).any(|w| w == key) {
        return true;
    }
    let text = match std::str::from_utf8(value) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        // Bytes beyond ASCII that are no UTF-8 (obsolete header text): rare, checked lossily.
        Err(_) => String::from_utf8_lossy(value),
    };
    text_holds_key(config, &text, false)
        || (text.contains('%') && text_holds_key(config, &text, true))
}

/// Whether a header name holds the key for `config`: the key whole in any case (a name is
/// lower-case ASCII, compared without a lower-cased copy), also percent-decoded when it
/// holds a `%` (a valid name character), or anything the config's header filter would
/// change.
fn name_holds_key(config: &ClientConfig, name: &str) -> bool {
    text_holds_key(config, name, false)
        || (name.contains('%') && text_holds_key(config, name, true))
}

/// Every header of `headers` whose value holds the key (see [`value_holds_key`]) gets the
/// value `[redacted]`, and one whose name holds it is dropped; the map is left as it is when
/// no header holds the key.
fn without_key_in_headers(headers: &mut reqwest::header::HeaderMap, config: &ClientConfig) {
    if !headers.iter().any(|(name, value)| {
        value_holds_key(config, value.as_bytes()) || name_holds_key(config, name.as_str())
    }) {
        return;
    }
    let old = std::mem::take(headers);
    let mut last: Option<(reqwest::header::HeaderName, bool)> = None;
    for (name, value) in old {
        // `None` continues the previous header's values (the map's iteration order).
        if let Some(name) = name {
            let dropped = name_holds_key(config, name.as_str());
            last = Some((name, dropped));
        }
        let Some((name, false)) = last.as_ref() else {
            continue;
        };
        let value = if value_holds_key(config, value.as_bytes()) {
            reqwest::header::HeaderValue::from_static(crate::config::REDACTED)
        } else {
            value
        };
        headers.append(name.clone(), value);
    }
}

/// The body of `response`, failing once more than `limit` bytes arrive.
pub fn limit_body(response: reqwest::Response, limit: usize) -> reqwest::Response {
    let limit_u64 = u64::try_from(limit).unwrap_or(u64::MAX);
    // A body with a `Content-Length` within the limit cannot grow past it (hyper ends the
    // body at the announced length): nothing to wrap.
    if response.content_length().is_some_and(|n| n <= limit_u64) {
        return response;
    }
    let announced_too_large = response.content_length().is_some_and(|n| n > limit_u64);
    let http: http::Response<reqwest::Body> = response.into();
    let (parts, body) = http.into_parts();
    let limit = if announced_too_large { 0 } else { limit };
    let limited = http_body_util::BodyExt::map_err(
        http_body_util::Limited::new(body, limit),
        |e| -> Box<dyn std::error::Error + Send + Sync> {
            if e.is::<http_body_util::LengthLimitError>() {
                Box::new(BodyTooLarge)
            } else {
                e
            }
        },
    );
    reqwest::Response::from(http::Response::from_parts(
        parts,
        reqwest::Body::wrap(limited),
    ))
}

/// The response body was larger than the client's limit; it was not read further.
#[derive(Debug, thiserror::Error)]
#[error("the response body is larger than the client's limit; it was not read further")]
pub struct BodyTooLarge;

/// True when `err` (or its sources) is a [`BodyTooLarge`].
pub fn is_body_too_large(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.is::<BodyTooLarge>() {
            return true;
        }
        cur = e.source();
    }
    false
}
