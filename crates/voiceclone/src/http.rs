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
use crate::error::{Error, ErrorKind, Reach};
use crate::model::Provider;
use crate::provider::{RawResponse, decode_response};
use crate::retry::{CallInfo, OperationKind, RetryPolicy, run_with_retry};
use crate::secret::ApiKey;
use crate::sleep::{BoxFuture, Sleeper};

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

    /// What a person needs to find this request again: method, path, key, body (cut).
    pub(crate) fn summary(&self) -> String {
        let mut s = format!("{} {}", self.method, self.path);
        if let Some(k) = &self.idempotency_key {
            s.push_str(&format!(" X-Idempotency-Key={k}"));
        }
        match &self.body {
            Some(Body::Json(b)) => {
                let text = String::from_utf8_lossy(b);
                let cut: String = text.chars().take(1000).collect();
                s.push_str(&format!(" body={cut}"));
            }
            Some(Body::Raw {
                content_type,
                bytes,
            }) => {
                s.push_str(&format!(
                    " body=<{} bytes of {}>",
                    bytes.len(),
                    content_type.split(';').next().unwrap_or_default()
                ));
            }
            None => {}
        }
        s
    }
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
            let body = resp
                .bytes()
                .await
                .map_err(|e| Error::from_reqwest(e).with_http_status(status))?;
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
        Box::pin(self.call_inner(operation, kind, req))
    }

    async fn call_inner<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        kind: OperationKind,
        req: HttpRequest,
    ) -> Result<T, Error> {
        let call = CallInfo {
            provider: self.provider,
            operation,
            kind,
            idempotency_key: req.idempotency_key.clone(),
            // Filled in below only when the outcome is unknown: it costs more than the rest
            // of the call's bookkeeping and is read by nobody otherwise.
            request_summary: String::new(),
        };
        let provider = self.provider;
        let secret = self.key.expose();
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
                decode_response::<T>(provider, &raw).inspect_err(|e| {
                    if let Some(code) = e.vendor_code() {
                        tracing::Span::current().record("vendor_code", code);
                    }
                })
            }
        })
        .await
        .map_err(|e| {
            with_summary(e, &req)
                .with_operation_if_unset(operation)
                .scrub(secret)
        })
    }
}

/// Gives an `OutcomeUnknown` the request's summary, so a person can find the task again.
fn with_summary(err: Error, req: &HttpRequest) -> Error {
    match err.kind() {
        ErrorKind::OutcomeUnknown {
            idempotency_key,
            submitted_at,
            ..
        } => {
            let kind = ErrorKind::OutcomeUnknown {
                idempotency_key: idempotency_key.clone(),
                submitted_at: *submitted_at,
                request_summary: req.summary(),
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
    fn summary_names_the_request_without_secrets() {
        let req = HttpRequest::post_json("/x", &serde_json::json!({"fileUrl": "https://a/b.wav"}))
            .map(|r| r.idempotency_key("k1"))
            .map(|r| r.summary())
            .unwrap_or_default();
        assert_eq!(
            req,
            r#"POST /x X-Idempotency-Key=k1 body={"fileUrl":"https://a/b.wav"}"#
        );
    }
}
