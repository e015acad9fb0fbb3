//! What every call of a generated client carries without being told per call.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use reqwest::header::HeaderValue;

use crate::TextFilter;

/// The timeout of an operation without one of its own.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest response body read by default (4 MiB): far above any answer either API
/// documents, far below what hurts a service.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Why a client could not be built. Never contains the API key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The key cannot be sent in an HTTP header (it is blank, has blanks around it, or has
    /// control characters).
    #[error(
        "the API key is blank, has blanks around it, or has characters that cannot be sent in a header"
    )]
    InvalidApiKey,
    /// reqwest could not build its client (TLS or system configuration).
    #[error("could not build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// A timeout was given for an operation the client does not have (see
/// [`ClientConfig::try_with_operation_timeout`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the client has no operation named `{0}` (operations are named as their methods are)")]
pub struct UnknownOperation(pub String);

/// Credentials, timeouts, the body limit and the text filter of a generated client. Cheap to
/// clone; `Debug` never shows the key.
#[derive(Clone)]
pub struct ClientConfig {
    pub(crate) authorization: HeaderValue,
    default_timeout: Duration,
    /// Per-operation timeouts: a handful at most, so a list (a scan is cheaper than hashing
    /// the operation's name on every call).
    timeouts: Arc<Vec<(&'static str, Duration)>>,
    max_response_bytes: usize,
    /// The client's base URL, parsed once (see `hooks::request_url`).
    base: Arc<OnceLock<(String, reqwest::Url)>>,
    /// A base URL this config was used with has a query of its own (a token, maybe): the
    /// query of a request URL is then never printed (see `hooks::execute`).
    base_has_query: Arc<AtomicBool>,
    /// The URLs of operations without path parameters, each built once for the base URL
    /// above (see `hooks::static_request_url`).
    static_urls: Arc<Mutex<Vec<(&'static str, reqwest::Url)>>>,
    /// Applied to every `Text` of every answer this client decodes, and every string in its
    /// `RawJson` values (see `hooks::decode`): the caller's filter, if any, then the removal
    /// of the key.
    pub(crate) text_filter: Option<TextFilter>,
    /// What finds the key in a response header: the key's removal (`bearer`), or the own
    /// filter that replaces it (`bearer_with_own_filter`). Never a caller's
    /// [`with_text_filter`](Self::with_text_filter), which may change any text (a header it
    /// would change is not one that holds the key).
    pub(crate) header_filter: TextFilter,
    /// The API key, to remove it from what a server says (never shown by `Debug`).
    pub(crate) key: Arc<str>,
    /// Rebuilds an answer whose URL holds what must not be printed (a base URL's query,
    /// credentials or fragment: see `hooks::execute`). `None` only from
    /// [`ClientConfig::bearer_for_checked_base_url`], whose caller refuses such base URLs:
    /// the rebuild (some kilobytes of code) is then not linked at all.
    pub(crate) printable_url: Option<fn(reqwest::Response, bool) -> reqwest::Response>,
}

/// What the key is replaced with where a server echoes it.
pub const REDACTED: &str = "[redacted]";

/// The filter removing `key` from a string: one substring search, and a new string only
/// when the key is found.
fn key_filter(key: &Arc<str>) -> TextFilter {
    let key = Arc::clone(key);
    Arc::new(move |text: String| {
        if text.contains(&*key) {
            text.replace(&*key, REDACTED)
        } else {
            text
        }
    })
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("authorization", &"[redacted]")
            .field("default_timeout", &self.default_timeout)
            .field("timeouts", &DebugTimeouts(&self.timeouts))
            .field("max_response_bytes", &self.max_response_bytes)
            .field("text_filter", &self.text_filter.as_ref().map(|_| "set"))
            .finish()
    }
}

/// The per-operation timeouts, shown as a map.
struct DebugTimeouts<'a>(&'a [(&'static str, Duration)]);

impl std::fmt::Debug for DebugTimeouts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(op, t)| (op, t)))
            .finish()
    }
}

impl ClientConfig {
    /// `Authorization: Bearer <api_key>` on every call (marked sensitive so reqwest never
    /// prints it), 30 s per call, bodies up to 4 MiB, and the key removed from every answer
    /// wherever it appears whole (replaced with [`REDACTED`]): from every string decoded (see
    /// [`with_text_filter`](Self::with_text_filter)) and from the body and message an
    /// `InvalidResponsePayload` error keeps (see [`crate::hooks::decode`]).
    pub fn bearer(api_key: &str) -> Result<Self, ConnectError> {
        Self::new(api_key, key_filter, Some(crate::hooks::with_printable_url))
    }

    /// [`bearer`](Self::bearer), with `filter` as the text filter *instead of* the key's
    /// removal: every string decoded passes through `filter` alone. For a caller whose filter
    /// already removes the key wherever it appears whole (the `voiceclone` adapter's removes
    /// every piece of it), so that the key is not searched for twice in every string. A filter
    /// that keeps the key lets an echoed key through to the generated types: otherwise use
    /// `bearer` and [`with_text_filter`](Self::with_text_filter). The body and message an
    /// `InvalidResponsePayload` keeps still lose the key (see [`crate::hooks::decode`]), and
    /// the headers of an answer are checked with `filter` (a header it would change holds
    /// the key) and for the key whole (see [`crate::hooks::execute`]).
    pub fn bearer_with_own_filter(api_key: &str, filter: TextFilter) -> Result<Self, ConnectError> {
        Self::new(api_key, |_| filter, Some(crate::hooks::with_printable_url))
    }

    /// [`bearer_with_own_filter`](Self::bearer_with_own_filter), for a caller that refuses
    /// every base URL with credentials, a query or a fragment before it connects (the
    /// `voiceclone` adapter does): an answer's URL is then its request's, which holds none of
    /// them, and is never rebuilt for printing. Given such a base URL anyway, an answer's URL
    /// keeps its query (a failed request's error URL is still redacted).
    pub fn bearer_for_checked_base_url(
        api_key: &str,
        filter: TextFilter,
    ) -> Result<Self, ConnectError> {
        Self::new(api_key, |_| filter, None)
    }

    /// The config for `api_key`, its text filter made by `filter` from the key.
    fn new(
        api_key: &str,
        filter: impl FnOnce(&Arc<str>) -> TextFilter,
        printable_url: Option<fn(reqwest::Response, bool) -> reqwest::Response>,
    ) -> Result<Self, ConnectError> {
        // Blanks around it are refused too: HTTP drops them from the header, so the server
        // takes the key without them, and an echo of it would never match the text every
        // redaction here searches for (review 34-g #2).
        if api_key.trim().is_empty() || api_key.trim() != api_key {
            return Err(ConnectError::InvalidApiKey);
        }
        let mut authorization = HeaderValue::from_str(&format!("Bearer {api_key}"))
            .map_err(|_| ConnectError::InvalidApiKey)?;
        authorization.set_sensitive(true);
        let key: Arc<str> = Arc::from(api_key);
        let header_filter = filter(&key);
        Ok(Self {
            authorization,
            default_timeout: DEFAULT_TIMEOUT,
            timeouts: Arc::new(Vec::new()),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            base: Arc::new(OnceLock::new()),
            base_has_query: Arc::new(AtomicBool::new(false)),
            static_urls: Arc::new(Mutex::new(Vec::new())),
            text_filter: Some(Arc::clone(&header_filter)),
            header_filter,
            key,
            printable_url,
        })
    }

    /// The timeout of every operation without one of its own.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.default_timeout = timeout;
        self
    }

    /// The timeout of one operation, by its `operationId` as the generated code names it: its
    /// method's name (`clone_voice_create_sync`, `get_audio_task`, ...). A name no operation
    /// has is kept, and never applies: prefer
    /// [`try_with_operation_timeout`](Self::try_with_operation_timeout), or the generated
    /// crate's `with_operation_timeout`, which refuse it.
    #[must_use]
    pub fn with_operation_timeout(mut self, operation_id: &'static str, timeout: Duration) -> Self {
        let timeouts = Arc::make_mut(&mut self.timeouts);
        match timeouts.iter_mut().find(|(op, _)| *op == operation_id) {
            Some((_, t)) => *t = timeout,
            None => timeouts.push((operation_id, timeout)),
        }
        self
    }

    /// [`with_operation_timeout`](Self::with_operation_timeout) for `operation_id` when it is
    /// one of `known` (a generated crate's operation names:
    /// `OPERATIONS.iter().map(|op| op.rust_name)`); otherwise [`UnknownOperation`], and the
    /// config is unchanged.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let config = client_glue::ClientConfig::bearer("key").map_err(|e| e.to_string())?;
    /// let known = ["tts_create_sync", "tasks_detail"];
    /// let config = config
    ///     .try_with_operation_timeout(known, "tts_create_sync", Duration::from_secs(240))
    ///     .map_err(|e| e.to_string())?;
    /// assert_eq!(config.timeout_for("tts_create_sync"), Duration::from_secs(240));
    /// let typo = config.try_with_operation_timeout(known, "tts_create", Duration::from_secs(9));
    /// assert!(typo.is_err());
    /// # Ok::<(), String>(())
    /// ```
    pub fn try_with_operation_timeout(
        self,
        known: impl IntoIterator<Item = &'static str>,
        operation_id: &str,
        timeout: Duration,
    ) -> Result<Self, UnknownOperation> {
        match known.into_iter().find(|op| *op == operation_id) {
            Some(op) => Ok(self.with_operation_timeout(op, timeout)),
            None => Err(UnknownOperation(operation_id.to_owned())),
        }
    }

    /// The largest response body read (at least 1 KiB); a larger one fails while it streams.
    #[must_use]
    pub fn with_max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit.max(1024);
        self
    }

    /// Every string of every answer this client decodes passes through `filter` as it is
    /// read, then has the key removed (as without a filter of one's own): each
    /// [`Text`](crate::Text) as it is decoded, and each string inside a
    /// [`RawJson`](crate::RawJson) (see [`crate::wire`]), as when each call is wrapped in
    /// [`with_text_filter`](crate::wire::with_text_filter). The headers of every answer are
    /// not passed through it (it may change any text): they are checked for the key as
    /// before (see [`crate::hooks::execute`]). Not
    /// filtered: values the generated types hold in other types than these (numbers,
    /// booleans, `List` lengths), and the body of an error status
    /// (`Error::UnexpectedResponse` keeps the response unread). A later call replaces
    /// `filter`.
    #[must_use]
    pub fn with_text_filter(mut self, filter: TextFilter) -> Self {
        let key = key_filter(&self.key);
        self.text_filter = Some(Arc::new(move |text: String| key(filter(text))));
        self
    }

    /// The timeout an operation gets.
    pub fn timeout_for(&self, operation_id: &str) -> Duration {
        self.timeouts
            .iter()
            .find(|(op, _)| *op == operation_id)
            .map_or(self.default_timeout, |(_, t)| *t)
    }

    /// The response body limit.
    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }

    /// `baseurl` parsed, once per config (again if a client uses another base URL).
    pub(crate) fn parsed_base(&self, baseurl: &str) -> Option<reqwest::Url> {
        if let Some((raw, url)) = self.base.get()
            && raw == baseurl
        {
            return Some(url.clone());
        }
        let url = reqwest::Url::parse(baseurl).ok()?;
        if url.query().is_some() {
            self.base_has_query.store(true, Ordering::Relaxed);
        }
        let _ = self.base.set((baseurl.to_owned(), url.clone()));
        Some(url)
    }

    /// Whether a base URL this config was used with has a query: the query of its request
    /// URLs is then the caller's (a token, maybe), and never printed.
    pub(crate) fn base_has_query(&self) -> bool {
        self.base_has_query.load(Ordering::Relaxed)
    }

    /// The URL of `path` (a path without parameters) under `baseurl`, built by `build` once
    /// per config; built every time for a base URL other than the one parsed first.
    pub(crate) fn static_url(
        &self,
        baseurl: &str,
        path: &'static str,
        build: impl FnOnce() -> Option<reqwest::Url>,
    ) -> Option<reqwest::Url> {
        let cacheable = self.base.get().is_some_and(|(raw, _)| raw == baseurl);
        if cacheable {
            let urls = self.static_urls.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, url)) = urls.iter().find(|(p, _)| *p == path) {
                return Some(url.clone());
            }
        }
        let url = build()?;
        // `build` parsed `baseurl` if nothing had been parsed yet.
        if cacheable || self.base.get().is_some_and(|(raw, _)| raw == baseurl) {
            let mut urls = self.static_urls.lock().unwrap_or_else(|p| p.into_inner());
            if !urls.iter().any(|(p, _)| *p == path) {
                urls.push((path, url.clone()));
            }
        }
        Some(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every constructor but the one for checked base URLs rebuilds an answer whose URL must
    /// not be printed; that one links no rebuild (a one-call program of the adapter is some
    /// kilobytes smaller).
    #[test]
    fn only_a_checked_base_url_config_leaves_answer_urls_as_they_are() {
        let filter: TextFilter = Arc::new(|s: String| s);
        let with = [
            ClientConfig::bearer("k-1"),
            ClientConfig::bearer_with_own_filter("k-1", Arc::clone(&filter)),
        ];
        for c in with {
            assert!(c.is_ok_and(|c| c.printable_url.is_some()));
        }
        let checked = ClientConfig::bearer_for_checked_base_url("k-1", filter);
        assert!(checked.is_ok_and(|c| c.printable_url.is_none()));
    }

    #[test]
    fn debug_never_shows_the_key_and_timeouts_resolve() {
        let Ok(c) = ClientConfig::bearer("sk-secret-123") else {
            unreachable!("a plain key is valid")
        };
        let c = c
            .with_timeout(Duration::from_secs(5))
            .with_operation_timeout("slow_op", Duration::from_secs(90));
        assert!(!format!("{c:?}").contains("sk-secret"));
        assert_eq!(c.timeout_for("slow_op"), Duration::from_secs(90));
        let c = c.with_operation_timeout("slow_op", Duration::from_secs(60));
        assert_eq!(c.timeout_for("slow_op"), Duration::from_secs(60));
        assert!(format!("{c:?}").contains(r#"timeouts: {"slow_op": 60s}"#));
        assert_eq!(c.timeout_for("other"), Duration::from_secs(5));
        assert!(matches!(
            ClientConfig::bearer("  "),
            Err(ConnectError::InvalidApiKey)
        ));
        // Review 34-g #2: blanks around a key are dropped by HTTP, so every redaction would
        // look for a text the server never saw.
        for padded in ["sk-live-abc ", " sk-live-abc", "sk-live-abc\t"] {
            assert!(
                matches!(
                    ClientConfig::bearer(padded),
                    Err(ConnectError::InvalidApiKey)
                ),
                "{padded:?}"
            );
        }
        assert!(matches!(
            ClientConfig::bearer("a\nb"),
            Err(ConnectError::InvalidApiKey)
        ));
    }

    /// Runs the config's text filter over `text` as a decode would.
    fn filtered(c: &ClientConfig, text: &str) -> String {
        match &c.text_filter {
            Some(f) => f(text.to_owned()),
            None => text.to_owned(),
        }
    }

    #[test]
    fn an_own_filter_replaces_the_key_filter_and_runs_once_per_string() {
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = Arc::clone(&calls);
        let own: TextFilter = Arc::new(move |t: String| {
            seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            t.replace("secret", "[mine]")
        });
        let Ok(c) = ClientConfig::bearer_with_own_filter("sk-secret-123", own) else {
            unreachable!("a plain key is valid")
        };
        // The caller's filter alone: it decides what happens to the key.
        assert_eq!(filtered(&c, "x sk-secret-123 y"), "x sk-[mine]-123 y");
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 1);
        // Blank keys are refused as by `bearer`.
        let own: TextFilter = Arc::new(|t: String| t);
        assert!(matches!(
            ClientConfig::bearer_with_own_filter(" ", own),
            Err(ConnectError::InvalidApiKey)
        ));
        // `bearer` and `with_text_filter` keep removing the key after the caller's filter.
        let Ok(c) = ClientConfig::bearer("sk-secret-123") else {
            unreachable!("a plain key is valid")
        };
        let c = c.with_text_filter(Arc::new(|t: String| t));
        assert_eq!(filtered(&c, "a sk-secret-123 b"), "a [redacted] b");
    }
}
