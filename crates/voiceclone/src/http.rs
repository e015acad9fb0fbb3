//! The one place requests leave the process: bearer auth per request, idempotency header,
//! per-operation timeout, the in-flight bound, and the envelope rule on the way back.
//!
//! Why not the generated clients' methods: progenitor turns a non-JSON error body (an HTML
//! 503 from a gateway, say) into `InvalidResponsePayload`, which drops the HTTP status and
//! `Retry-After` that the retry rules depend on, and its VMEG `Code` refuses a numeric string.
//! So requests are sent here, with bodies built from the generated request types (the spec's
//! wire shape) and answers decoded leniently by the provider modules.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONNECTION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use url::Url;

use crate::connection_limit::ConnectionLimit;
use crate::error::{Error, ErrorKind, Reach, RequestSummary};
use crate::model::Provider;
use crate::provider::{RawResponse, decode_response};
use crate::retry::{CallInfo, OperationKind, RetryPolicy, run_with_retry};
use crate::scrub::Scrubber;
use crate::secret::ApiKey;
use crate::sleep::{BoxFuture, Sleeper};
use crate::wire::usable_id;

/// Default timeouts per kind of call (overridden as a whole by `ClientBuilder::timeout`).
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(30);
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Synchronous VMEG clone and TTS can take tens of seconds (App-Synced suggests ~120 s).
pub(crate) const SYNC_TIMEOUT: Duration = Duration::from_secs(180);
pub(crate) const UPLOAD_TIMEOUT: Duration = Duration::from_secs(300);
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub(crate) enum Body {
    Json(bytes::Bytes),
    Raw {
        content_type: String,
        bytes: bytes::Bytes,
    },
}

/// Default cap on one response body (`ClientBuilder::max_response_bytes`): far above any
/// answer either API documents (a voice-list page, a task), far below what hurts a service.
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// One logical request, replayable for each attempt.
#[derive(Clone, Debug)]
pub(crate) struct HttpRequest {
    pub(crate) method: Method,
    pub(crate) path: String,
    /// Ids appended to `path`, each as exactly one percent-encoded segment.
    pub(crate) segments: Vec<String>,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Option<Body>,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) timeout: Duration,
    /// Body fields holding the caller's free text (TTS text, preview scripts): never quoted
    /// in a request summary, only their length and a short hash.
    pub(crate) free_text: &'static [&'static str],
}

impl HttpRequest {
    pub(crate) fn get(path: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            path: path.into(),
            segments: Vec::new(),
            query: Vec::new(),
            body: None,
            idempotency_key: None,
            timeout: READ_TIMEOUT,
            free_text: &[],
        }
    }

    pub(crate) fn post_json(
        path: impl Into<String>,
        body: &impl serde::Serialize,
    ) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            Error::invalid_input("request", format!("could not encode the body: {e}"))
        })?;
        Ok(Self {
            method: Method::POST,
            path: path.into(),
            segments: Vec::new(),
            query: Vec::new(),
            body: Some(Body::Json(bytes.into())),
            idempotency_key: None,
            timeout: WRITE_TIMEOUT,
            free_text: &[],
        })
    }

    /// Appends `value` (validated first with `validate::id`) as one path segment.
    pub(crate) fn segment(mut self, value: impl Into<String>) -> Self {
        self.segments.push(value.into());
        self
    }

    pub(crate) fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    pub(crate) fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    pub(crate) fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Names the body fields that hold the caller's free text.
    pub(crate) fn free_text(mut self, fields: &'static [&'static str]) -> Self {
        self.free_text = fields;
        self
    }

    /// What a person needs to find this request again (the idempotency key and the submit
    /// time travel beside it): method, path and the body's identifying fields, scrubbed.
    pub(crate) fn summary(&self, scrubber: &Scrubber) -> RequestSummary {
        let mut fields = Vec::new();
        match &self.body {
            Some(Body::Json(b)) => {
                if let Ok(value) = serde_json::from_slice::<serde_json::Value>(b) {
                    summarize_json("", &value, self.free_text, &mut fields);
                }
            }
            Some(Body::Raw {
                content_type,
                bytes,
            }) => {
                let kind = content_type.split(';').next().unwrap_or_default();
                fields.push((
                    "body".to_owned(),
                    format!("<{} bytes of {kind}>", bytes.len()),
                ));
            }
            None => {}
        }
        for (k, v) in &self.query {
            fields.push(((*k).to_owned(), v.clone()));
        }
        RequestSummary {
            method: self.method.to_string(),
            route: self.path.clone(),
            fields: fields
                .into_iter()
                .take(SUMMARY_MAX_FIELDS)
                .map(|(k, v)| (k, scrubber.scrub_owned(v)))
                .collect(),
        }
    }
}

/// A summary quotes at most this many fields, each cut to this many characters.
const SUMMARY_MAX_FIELDS: usize = 32;
const SUMMARY_MAX_CHARS: usize = 200;

/// Flattens a JSON body into `(path, value)` pairs for a request summary.
fn summarize_json(
    path: &str,
    value: &serde_json::Value,
    free_text: &[&str],
    out: &mut Vec<(String, String)>,
) {
    use serde_json::Value;
    let leaf = path.rsplit(['.', ']']).next().unwrap_or(path);
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (k, v) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                summarize_json(&p, v, free_text, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                summarize_json(&format!("{path}[{i}]"), v, free_text, out);
            }
        }
        Value::String(text) if free_text.contains(&leaf) => {
            out.push((path.to_owned(), text_fingerprint(text)));
        }
        Value::String(text) => out.push((path.to_owned(), quotable(text))),
        other => out.push((path.to_owned(), other.to_string())),
    }
}

/// Free text as its length and the first 8 hex digits of its SHA-256: enough to match it
/// against the caller's own records, nothing of its content.
fn text_fingerprint(text: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    let short = hex::encode(digest.get(..4).unwrap_or_default());
    format!("<{} chars, sha256:{short}>", text.chars().count())
}

/// A value as it may be quoted: URLs without credentials, query or fragment; cut.
fn quotable(text: &str) -> String {
    if let Ok(mut url) = Url::parse(text)
        && url.has_host()
    {
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_query(None);
        url.set_fragment(None);
        return url.to_string();
    }
    text.chars().take(SUMMARY_MAX_CHARS).collect()
}

/// Shared by every clone of a `Client`.
#[derive(Debug)]
pub(crate) struct Transport {
    pub(crate) provider: Provider,
    pub(crate) http: reqwest::Client,
    pub(crate) base: Url,
    pub(crate) key: ApiKey,
    /// `Bearer <key>`, built once (marked sensitive so reqwest never prints it).
    pub(crate) auth: HeaderValue,
    pub(crate) in_flight: Arc<Semaphore>,
    /// Our connector layer, when we built the `reqwest::Client` (not for a caller's).
    pub(crate) connection_limit: Option<ConnectionLimit>,
    pub(crate) timeout_override: Option<Duration>,
    pub(crate) retry: RetryPolicy,
    pub(crate) sleeper: Arc<dyn Sleeper>,
    /// Removes the key from everything read from the server.
    pub(crate) scrubber: Arc<Scrubber>,
    /// The largest response body read; a larger one is abandoned while streaming.
    pub(crate) max_response_bytes: usize,
}

impl Transport {
    /// The base URL's path, then the operation's fixed path, then each id in `segments` as
    /// exactly one segment. Built with `path_segments_mut`, never by concatenation: it
    /// percent-encodes `/`, `%`, `?`, `#`, spaces and controls, so an id cannot add, remove or
    /// climb a segment (dot segments are refused earlier by `validate::id`).
    fn url(&self, req: &HttpRequest) -> Result<Url, Error> {
        let mut url = self.base.clone();
        url.set_fragment(None);
        {
            let mut path = url.path_segments_mut().map_err(|()| {
                Error::invalid_input("base_url", "cannot carry a path (not a hierarchical URL)")
            })?;
            path.pop_if_empty()
                .extend(req.path.split('/').filter(|s| !s.is_empty()))
                .extend(&req.segments);
        }
        Ok(url)
    }

    /// One attempt (the caller holds an in-flight permit): send, read the whole answer. No
    /// envelope logic here.
    async fn send_once(&self, req: &HttpRequest, attempt: u32) -> Result<RawResponse, Error> {
        let span = tracing::Span::current();
        span.record("attempt", attempt);
        let mut builder = self
            .http
            .request(req.method.clone(), self.url(req)?)
            .header(AUTHORIZATION, self.auth.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(self.timeout_override.unwrap_or(req.timeout));
        if !req.query.is_empty() {
            builder = builder.query(&req.query);
        }
        if let Some(key) = &req.idempotency_key {
            builder = builder.header("X-Idempotency-Key", key.as_str());
        }
        match &req.body {
            Some(Body::Json(b)) => {
                builder = builder
                    .header(CONTENT_TYPE, "application/json")
                    .body(b.clone())
            }
            Some(Body::Raw {
                content_type,
                bytes,
            }) => {
                builder = builder
                    .header(CONTENT_TYPE, content_type.as_str())
                    .body(bytes.clone())
            }
            None => {}
        }
        let started = Instant::now();
        // Boxed, and only once the permit is held: reqwest's request future is the largest
        // part of every call's state, and inline it would make every waiting or sleeping job
        // that size (10,000 jobs: 35 MiB; BENCHMARKS.md, section 4).
        let result = Box::pin(crate::connection_limit::in_request_task(async move {
            let resp = builder.send().await.map_err(Error::from_reqwest)?;
            let status = resp.status().as_u16();
            let closing = resp
                .headers()
                .get(CONNECTION)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
            let retry_after = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = read_body(resp, status, self.max_response_bytes).await?;
            if let Some(limit) = &self.connection_limit {
                limit.answer_received();
                if closing {
                    limit.connection_lost();
                }
            }
            Ok::<_, Error>(RawResponse::new(status, retry_after.as_deref(), body))
        }))
        .await;
        if let (Err(e), Some(limit)) = (&result, &self.connection_limit)
            && e.reach() != Reach::NotSent
        {
            // The connection this request was sent on is gone. (A failed connect was never
            // counted: the layer has already given its place back.)
            limit.connection_lost();
        }
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        span.record("latency_ms", latency_ms);
        match &result {
            Ok(r) => {
                span.record("http_status", r.status);
                tracing::debug!(attempt, http_status = r.status, latency_ms, "response");
            }
            Err(e) => tracing::debug!(attempt, latency_ms, error = %e.kind(), "request failed"),
        }
        result
    }

    /// Like [`Transport::call`], for a write whose answer must name the task it created: an
    /// answer without a usable id (missing, blank, not a string or number, or holding a piece
    /// of the key) cannot be turned into a job, so it ends as `OutcomeUnknown`, never as a
    /// resend.
    pub(crate) fn call_create<T: DeserializeOwned + NamesTask + Send + 'static>(
        &self,
        operation: &'static str,
        kind: OperationKind,
        req: HttpRequest,
    ) -> BoxFuture<'_, Result<T, Error>> {
        Box::pin(self.call_inner(operation, kind, req, true))
    }

    /// Sends with retries, applies the envelope rule, decodes `data`.
    ///
    /// Boxed so that the callers' futures (a wait that polls, a job that is queued or
    /// sleeping) hold a pointer, not the whole retry loop and request state.
    pub(crate) fn call<T: DeserializeOwned + Send + 'static>(
        &self,
        operation: &'static str,
        kind: OperationKind,
        req: HttpRequest,
    ) -> BoxFuture<'_, Result<T, Error>> {
        Box::pin(async move {
            self.call_inner::<Unchecked<T>>(operation, kind, req, false)
                .await
                .map(|u| u.0)
        })
    }

    async fn call_inner<T: DeserializeOwned + NamesTask>(
        &self,
        operation: &'static str,
        kind: OperationKind,
        req: HttpRequest,
        needs_task_id: bool,
    ) -> Result<T, Error> {
        let call = CallInfo {
            provider: self.provider,
            operation,
            kind,
            idempotency_key: req.idempotency_key.clone(),
        };
        let provider = self.provider;
        let scrubber = &self.scrubber;
        run_with_retry(&self.retry, &call, self.sleeper.as_ref(), |attempt| {
            let req = &req;
            async move {
                // Held until the answer is decoded, not just read: hyper hands the connection
                // back to its pool a moment after the body ends, and a queued request that got
                // the permit sooner would find no idle connection and dial a new one.
                let _permit = self.in_flight.acquire().await.map_err(|_| {
                    Error::new(ErrorKind::Transport)
                        .with_reach(Reach::NotSent)
                        .with_message("client is shutting down")
                })?;
                let raw = self.send_once(req, attempt).await?;
                let decoded = decode_response::<T>(provider, &raw, scrubber).inspect_err(|e| {
                    if let Some(code) = e.vendor_code() {
                        tracing::Span::current().record("vendor_code", code);
                    }
                })?;
                if needs_task_id && usable_id(decoded.task_id()).is_none() {
                    return Err(Error::new(ErrorKind::InvalidResponse)
                        .with_provider(provider)
                        .with_http_status(raw.status)
                        .with_message("the answer names no usable task id"));
                }
                Ok(decoded)
            }
        })
        .await
        .map_err(|e| {
            with_summary(e, &req, scrubber)
                .with_operation_if_unset(operation)
                .scrub(scrubber)
        })
    }
}

/// A wire struct that names the task an answer is about.
pub(crate) trait NamesTask {
    /// The task id as the answer gave it (checked with [`usable_id`] by the transport).
    fn task_id(&self) -> Option<&str>;
}

/// Any answer, for calls that need no task id.
struct Unchecked<T>(T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Unchecked<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Unchecked)
    }
}

impl<T> NamesTask for Unchecked<T> {
    fn task_id(&self) -> Option<&str> {
        None
    }
}

/// Reads a response body up to `limit` bytes. A larger body (announced or streamed) is
/// abandoned at once: the request was answered, but with nothing this crate can read, so a
/// write ends as `OutcomeUnknown` (reach `Maybe`).
async fn read_body(
    mut resp: reqwest::Response,
    status: u16,
    limit: usize,
) -> Result<bytes::Bytes, Error> {
    let too_large = || {
        Error::new(ErrorKind::InvalidResponse)
            .with_http_status(status)
            .with_reach(Reach::Maybe)
            .with_message(format!(
                "the response body is larger than {limit} bytes (ClientBuilder::max_response_bytes); it was not read further"
            ))
    };
    let announced = resp.content_length();
    if announced.is_some_and(|n| n > u64::try_from(limit).unwrap_or(u64::MAX)) {
        return Err(too_large());
    }
    let capacity = announced
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
        .min(limit);
    let mut body = bytes::BytesMut::with_capacity(capacity);
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Error::from_reqwest(e).with_http_status(status))?
    {
        if chunk.len() > limit.saturating_sub(body.len()) {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Gives an `OutcomeUnknown` the request's summary, so a person can find the task again.
fn with_summary(err: Error, req: &HttpRequest, scrubber: &Scrubber) -> Error {
    match err.kind() {
        ErrorKind::OutcomeUnknown {
            idempotency_key,
            task_id,
            submitted_at,
            ..
        } => {
            let kind = ErrorKind::OutcomeUnknown {
                idempotency_key: idempotency_key.clone(),
                task_id: task_id.clone(),
                submitted_at: *submitted_at,
                request: req.summary(scrubber),
            };
            err.with_kind(kind)
        }
        _ => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_names_the_request_without_secrets_or_free_text() {
        let scrubber = Scrubber::new("sk-secret-0123456789");
        let req = HttpRequest::post_json(
            "/x",
            &serde_json::json!({
                "fileUrl": "https://u:p@cdn.example.com/a/b.wav?X-Amz-Signature=abc#frag",
                "contentText": "Hello, my card is 4111 1111 1111 1111",
                "data": [{"voiceId": "v-1", "text": "private words"}],
                "voiceName": "named sk-secret-0123456789",
                "speed": 1.5
            }),
        )
        .map(|r| r.idempotency_key("k1").free_text(&["contentText", "text"]))
        .map(|r| r.summary(&scrubber));
        let Ok(s) = req else {
            unreachable!("the body encodes")
        };
        let text = s.to_string();
        assert_eq!(s.method, "POST");
        assert_eq!(s.route, "/x");
        assert_eq!(
            s.field("fileUrl"),
            Some("https://cdn.example.com/a/b.wav"),
            "{text}"
        );
        assert_eq!(s.field("data[0].voiceId"), Some("v-1"));
        assert_eq!(s.field("speed"), Some("1.5"));
        assert_eq!(s.field("voiceName"), Some("named [redacted]"));
        let fp = s.field("contentText").unwrap_or_default();
        assert!(
            fp.starts_with("<37 chars, sha256:") && fp.len() == 27,
            "{fp}"
        );
        for secret in ["4111", "private", "Signature", "u:p", "frag", "sk-secret"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
}
