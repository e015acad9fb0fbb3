//! Every call goes through a generated client method; this is what the adapter adds around
//! it: retries (see [`crate::retry`]), the in-flight bound, the connection bookkeeping, the
//! envelope rule, and one mapping from `progenitor_client::Error` to [`Error`].
//!
//! The generated clients' hooks (from `client-glue`) already add the bearer header, the
//! operation's timeout and the response body limit. Their failure statuses are undeclared
//! (see `xtask/src/shape.rs`), so any non-2xx arrives as `UnexpectedResponse` with status,
//! headers and body, and is classified here exactly as a 200 carrying the same envelope.

mod admission;
mod dropped;
mod envelope;
mod request_id;
mod summary;

#[cfg(feature = "upload")]
pub(crate) use admission::slot_of;
pub(crate) use dropped::drawn_for_this_part;
#[cfg(feature = "long-text")]
pub(crate) use dropped::{LongPartTag, for_long_part};
#[cfg(feature = "fake")]
pub(crate) use dropped::{warn_unconfirmed_refusal, warn_unknown_outcome};
pub(crate) use envelope::{Dialect, EnvelopeKeys, error_for_code};
use envelope::{RawResponse, decode_data, decode_envelope, task_id_in_prefix};
pub(crate) use request_id::RequestId;
pub(crate) use summary::is_cut as summary_is_cut;
#[cfg(feature = "fake")]
pub(crate) use summary::summary_fields;
pub(crate) use summary::{body_digest, differing_part, scrubbed_fields};

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use client_glue::TextFilter;
use progenitor_client::{Error as GenError, ResponseValue};
use reqwest::header::CONNECTION;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use url::Url;

use summary::with_summary;

use crate::connection_limit::{ConnectionLimit, RequestGuard, in_request_task};
use crate::error::{Error, ErrorKind, Phase};
use crate::model::Provider;
use crate::retry::{CallInfo, OperationKind, Retries, RetryPolicy};
use crate::scrub::{Scrubber, decoding_with};
use crate::sleep::{BoxFuture, Sleeper};
use crate::wire::usable_id;

/// Default timeouts (overridden as a whole by `ClientBuilder::timeout`).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap on one response body (`ClientBuilder::max_response_bytes`).
pub(crate) const DEFAULT_MAX_RESPONSE_BYTES: usize = client_glue::DEFAULT_MAX_RESPONSE_BYTES;

/// A generated envelope: `{code, message|msg, data}`.
pub(crate) trait Envelope {
    /// The payload type.
    type Data: DeserializeOwned;
    /// The business code, when it was a number or a numeric string.
    fn code(&self) -> Option<i64>;
    /// The vendor's message (already scrubbed: it is a `client_glue::Text`).
    fn message(&self) -> Option<&str>;
    /// The payload.
    fn into_data(self) -> Option<Self::Data>;
}

/// Implements [`Envelope`] for generated envelope types: `type => Data, message field;`.
macro_rules! envelopes {
    ($($ty:ty => $data:ty, $msg:ident;)*) => {$(
        impl $crate::transport::Envelope for $ty {
            type Data = $data;
            fn code(&self) -> Option<i64> {
                self.code.value()
            }
            fn message(&self) -> Option<&str> {
                self.$msg.as_ref().and_then(|m| m.as_str())
            }
            fn into_data(self) -> Option<$data> {
                self.data
            }
        }
    )*};
}
pub(crate) use envelopes;

/// What one logical call is, for retries, errors and (only when its outcome is unknown) the
/// request summary.
pub(crate) struct Call<'a> {
    /// The client method (`clone_voice`, ...).
    pub(crate) operation: &'static str,
    /// The generated operation: method and path, for a request summary.
    pub(crate) route: (&'static str, &'static str),
    pub(crate) kind: OperationKind,
    /// The VMEG idempotency key, reused by every attempt.
    pub(crate) idempotency_key: Option<&'a str>,
    /// The JSON body, built only for an `OutcomeUnknown`'s summary.
    pub(crate) body: Option<&'a (dyn Fn() -> Option<serde_json::Value> + Sync)>,
    /// Body fields holding the caller's free text: summarized, never quoted.
    pub(crate) free_text: &'static [&'static str],
    /// The idempotency key was made by the client for this call (the caller gave none):
    /// nobody else can have used it, so a 409 "key already used" means one of this call's
    /// own requests landed, even on the first attempt (a gateway that retried the POST).
    pub(crate) fresh_key: bool,
    /// A VMEG synchronous create: it answers when its task ends, so an attempt cut short
    /// after it was sent is still running there (see `retry::CallInfo::synchronous`).
    pub(crate) synchronous: bool,
}

/// Everything the calls of every clone of a `Client` share (the generated client itself is
/// the backend's, in `crate::provider`).
pub(crate) struct Transport {
    pub(crate) provider: Provider,
    /// How the vendor's envelopes read.
    pub(crate) dialect: &'static Dialect,
    pub(crate) base: Url,
    pub(crate) in_flight: Arc<Semaphore>,
    /// Our connector layer, when we built the `reqwest::Client` (not for a caller's).
    pub(crate) connection_limit: Option<ConnectionLimit>,
    pub(crate) timeout_override: Option<Duration>,
    pub(crate) retry: RetryPolicy,
    pub(crate) sleeper: Arc<dyn Sleeper>,
    /// Removes the key from everything read from the server.
    pub(crate) scrubber: Arc<Scrubber>,
    /// The same, as a text filter, for the answers decoded here (failure statuses, unreadable
    /// 200s); the generated clients' configs carry their own (`provider::Connect::config`).
    pub(crate) text_filter: TextFilter,
    /// The largest response body read; a larger one is abandoned while streaming.
    pub(crate) max_response_bytes: usize,
    /// The API key (as a salted tag) and base URL: kept on an `OutcomeUnknown`.
    pub(crate) sent_under: crate::sent_under::SentUnder,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("provider", &self.provider)
            .field("base", &client_glue::printable_url(self.base.as_str()))
            .field("timeout_override", &self.timeout_override)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish_non_exhaustive()
    }
}

/// Reads the task id an answer's `data` names.
pub(crate) type TaskIdOf<D> = fn(&D) -> Option<&str>;

/// A generated call's result.
type GenResult<E> = Result<ResponseValue<E>, GenError<()>>;

impl Transport {
    /// Runs `call` (one generated method call per attempt, given that attempt's own
    /// [`RequestId`] to send where the vendor takes one) with retries, applies the envelope
    /// rule and returns `data`. With `task_id`, an answer that names no usable task id (a
    /// write we cannot turn into a job) fails as unreadable, which the retry table makes an
    /// `OutcomeUnknown`, never a resend.
    ///
    /// Boxed so that the callers' futures (a wait that polls, a job that is queued or
    /// sleeping) hold a pointer, not the whole retry loop and request state.
    ///
    /// Only the typed ends of a call are compiled for each operation (see [`Operation`]):
    /// the retries, the slot, the request id, the error mapping and the logging are
    /// [`Transport::run`], compiled once.
    pub(crate) fn send<'a, E, F, Fut>(
        &'a self,
        call: Call<'a>,
        task_id: Option<TaskIdOf<E::Data>>,
        send: F,
    ) -> BoxFuture<'a, Result<Option<E::Data>, Error>>
    where
        E: Envelope + Send + 'a,
        E::Data: Send + 'a,
        F: Fn(RequestId) -> Fut + Send + Sync + 'a,
        Fut: Future<Output = GenResult<E>> + Send + 'a,
    {
        self.send_with_result(call, task_id, None, send)
    }

    /// [`Transport::send`] for a create whose answer may carry its finished result instead
    /// of a task id (VMEG's synchronous creates: `taskId` is not marked required there,
    /// api-facts A7, A13): an answer for which `has_result` holds is accepted without a
    /// usable task id. A failure answer still names the task `task_id` reads.
    pub(crate) fn send_with_result<'a, E, F, Fut>(
        &'a self,
        call: Call<'a>,
        task_id: Option<TaskIdOf<E::Data>>,
        has_result: Option<fn(&E::Data) -> bool>,
        send: F,
    ) -> BoxFuture<'a, Result<Option<E::Data>, Error>>
    where
        E: Envelope + Send + 'a,
        E::Data: Send + 'a,
        F: Fn(RequestId) -> Fut + Send + Sync + 'a,
        Fut: Future<Output = GenResult<E>> + Send + 'a,
    {
        Box::pin(async move {
            let mut op = Typed::<E, F, Fut> {
                send,
                task_id,
                has_result,
                data: None,
                _generated: PhantomData,
            };
            self.run(&call, &mut op).await?;
            // Set by the attempt that succeeded (`Operation::start` or `decode`).
            Ok(op.data.flatten())
        })
    }

    /// The retry loop around [`Transport::attempt`], for any operation.
    async fn run(&self, call: &Call<'_>, op: &mut dyn Operation) -> Result<(), Error> {
        let info = CallInfo {
            provider: self.provider,
            operation: call.operation,
            kind: call.kind,
            idempotency_key: call.idempotency_key.map(str::to_owned),
            fresh_key: call.fresh_key,
            synchronous: call.synchronous,
        };
        let mut retries = Retries::new(&self.retry, &info);
        let dropped = dropped::DroppedWrite::new(self, call);
        let outcome = loop {
            let err = match self
                .attempt(retries.attempt(), call.kind, &mut *op, &dropped)
                .await
            {
                Ok(()) => break Ok(()),
                Err(e) => e,
            };
            match retries.after_failure(err) {
                Ok(delay) => {
                    crate::sleep::within(&*self.sleeper, delay, crate::client::call_deadline())
                        .await;
                }
                Err(e) => break Err(e),
            }
        };
        let outcome = outcome.map_err(|e| {
            with_summary(e, call, &self.scrubber, &self.sent_under)
                .with_operation_if_unset(call.operation)
                .scrub(&self.scrubber)
        });
        // Logged here, the one place every write's error passes with its summary.
        let task_may_exist = outcome
            .as_ref()
            .err()
            .filter(|e| crate::retry::task_may_exist_after(&info, e));
        dropped.ended(task_may_exist);
        outcome
    }

    /// One attempt: a slot, a request id, the generated call within what the call's budget
    /// has left, the envelope rule, and the task-id check.
    async fn attempt(
        &self,
        attempt: u32,
        kind: OperationKind,
        op: &mut dyn Operation,
        dropped: &dropped::DroppedWrite<'_>,
    ) -> Result<(), Error> {
        // Held until the answer is decoded, not just read: hyper hands the connection
        // back to its pool a moment after the body ends, and a queued request that
        // got the permit sooner would find no idle connection and dial a new one.
        // (The slot its call was admitted with, for the first request of an
        // admitted call: see `admission`.)
        let _slot = self.slot().await?;
        let sent_before = dropped.sending();
        let req_id = RequestId::new(&self.scrubber);
        // Within a per-call budget (`CallOptions`), the request gets the time
        // left as its timeout: it fails as a timed-out request (for a write,
        // `OutcomeUnknown` with its key), never dropped by an outer timer.
        // The whole exchange runs in the request's task scope, so that the connection
        // limit's guard in it is dropped within the scope too (`connection_limit`).
        let done = match crate::client::time_left() {
            None => in_request_task(self.exchange(attempt, kind, req_id, None, op)).await,
            Some(left) if left.is_zero() => Err(crate::client::out_of_time()),
            // A keyless write's repeat is not sent with less than the floor left, whatever held
            // it after the retry driver let it go (a sleeper's hold, a starved runtime).
            Some(left)
                if attempt > 1
                    && kind == OperationKind::UnsafeWrite
                    && left < crate::retry::MIN_WRITE_RETRY_TIME =>
            {
                Err(crate::client::out_of_time())
            }
            Some(left) => in_request_task(self.exchange(attempt, kind, req_id, Some(left), op))
                .await
                .map_err(crate::client::note_if_out_of_time),
        };
        if let Err(e) = done {
            // Nothing of this attempt reached the provider (a refused connect), or its answer
            // says it made nothing (a 429, a 503 that says nothing was done): a call dropped
            // now, in the wait before its next attempt, left nothing running unless an earlier
            // attempt did.
            if !sent_before
                && (e.phase() == Phase::NotSent || crate::retry::answer_made_nothing(&e))
            {
                dropped.not_sent();
            }
            return Err(self.with_request_id(e, req_id));
        }
        if !op.names_task() {
            // The id as it came (cut, quoted with escapes; the key already scrubbed from it):
            // for a JimmyAI create, which no list finds again, it may be all there is.
            let named = op.named_text();
            let message = match &named {
                Some(raw) => format!("the answer names no usable task id (it named {raw:?})"),
                None => "the answer names no usable task id".to_owned(),
            };
            let mut e = Error::new(ErrorKind::InvalidResponse)
                .with_provider(self.provider)
                .with_http_status(200)
                .with_message(message);
            // Kept apart from the message too: the WARN line of an unknown outcome logs it.
            if let Some(raw) = named {
                e = e.with_unusable_task_id(raw);
            }
            return Err(self.with_request_id(e, req_id));
        }
        Ok(())
    }

    /// The attempt's request id on its error, when this vendor was sent one and the request
    /// may have reached it (an id the vendor never saw is no use to its support).
    fn with_request_id(&self, e: Error, req_id: RequestId) -> Error {
        if self.dialect.request_ids && e.phase() != Phase::NotSent {
            e.with_request_id(req_id)
        } else {
            e
        }
    }

    /// One request (the caller holds an in-flight slot): the generated call, with `timeout`
    /// instead of the operation's own when the call's budget sets one, then the envelope
    /// rule. `kind` says how an answer whose body failed is read (see [`refused_though_cut`]).
    async fn exchange(
        &self,
        attempt: u32,
        kind: OperationKind,
        req_id: RequestId,
        timeout: Option<Duration>,
        op: &mut dyn Operation,
    ) -> Result<(), Error> {
        let span = tracing::Span::current();
        span.record("attempt", attempt);
        if self.dialect.request_ids {
            span.record("req_id", req_id.as_str());
        }
        let started = Instant::now();
        let mut in_flight = RequestGuard::new(self.connection_limit.as_ref());
        // The generated client scrubs every string of the answer as it decodes it: its
        // config carries the key's text filter (`provider::Connect::config`). A 2xx whose
        // body fails leaves what arrived of it in `cut` (`ResponseBodyError` holds no more).
        let cut = client_glue::hooks::CutBodySlot::default();
        let generated =
            client_glue::hooks::keeping_cut_bodies(cut.clone(), op.start(self.dialect, req_id));
        let sent = match timeout {
            None => generated.await,
            Some(left) => client_glue::hooks::with_request_timeout(left, generated).await,
        };
        let (status, closing, outcome) = match sent {
            Sent::Typed {
                status,
                closing,
                outcome,
            } => (Some(status), closing, outcome),
            Sent::Failed(GenError::UnexpectedResponse(resp)) => {
                let status = resp.status().as_u16();
                let closing = closes(resp.headers());
                let retry_after = crate::time::retry_after_of(resp.headers());
                let outcome = match read_body(resp, self.max_response_bytes).await {
                    Ok(body) => {
                        let raw = RawResponse::with_retry_after(status, retry_after, body);
                        op.decode(self, &raw)
                    }
                    Err(failed) => Err(self.body_error(failed, Some(status), retry_after)),
                };
                (Some(status), closing, outcome)
            }
            // A 200 whose body did not fit the generated type: read it as any other answer
            // (most often an unreadable 200: `OutcomeUnknown` for a write).
            Sent::Failed(GenError::InvalidResponsePayload(body, _)) => {
                let raw = RawResponse::new(200, None, body);
                (Some(200), false, op.decode(self, &raw))
            }
            // The slot holds only 2xx answers, whose `Retry-After` a cut does not keep (see
            // `body_error`).
            Sent::Failed(GenError::ResponseBodyError(e)) => {
                let (status, prefix) = match cut.take() {
                    Some(c) => (Some(c.status.as_u16()), c.prefix),
                    None => (None, bytes::Bytes::new()),
                };
                let failed = BodyFailed::Read(e, prefix);
                (status, false, Err(self.body_error(failed, status, None)))
            }
            Sent::Failed(GenError::CommunicationError(e)) => {
                (None, false, Err(Error::from_reqwest(e)))
            }
            Sent::Failed(GenError::InvalidRequest(reason)) => (
                None,
                false,
                Err(Error::invalid_input("request", reason).with_phase(Phase::NotSent)),
            ),
            // Only the hand-written JimmyAI upload makes this: its recording failed mid-send.
            #[cfg(feature = "upload")]
            Sent::Failed(GenError::Custom(why)) => {
                (None, false, Err(crate::sample::failed_while_sent(why)))
            }
            // Only the hand-written JimmyAI upload makes this (the generated calls declare no
            // error bodies): a 200 answered before the whole recording was sent. Nothing says
            // it arrived; a fault of the host's, retried (an upload bills nothing). The
            // connection, its request unfinished, is not reused.
            #[cfg(feature = "upload")]
            Sent::Failed(GenError::ErrorResponse(early)) => {
                let status = early.status().as_u16();
                (
                    Some(status),
                    true,
                    Err(Error::new(ErrorKind::Server)
                        .with_phase(Phase::Answered)
                        .with_http_status(status)
                        .with_message(format!(
                            "answered HTTP {status} before the whole recording was sent"
                        ))),
                )
            }
            // Not produced by these clients (no declared error bodies, no upgrades, hooks
            // that never fail); progenitor's `Display` would print bodies, so say only this.
            Sent::Failed(_) => (
                None,
                false,
                Err(Error::new(ErrorKind::InvalidResponse)
                    .with_phase(Phase::Sent)
                    .with_message("the generated client reported an unexpected failure")),
            ),
        };
        let outcome = outcome.map_err(|e| {
            if let Some(code) = e.vendor_code() {
                span.record("vendor_code", code);
            }
            e.with_provider(self.provider)
        });
        in_flight.disarm();
        if let Some(limit) = &self.connection_limit {
            match &outcome {
                // The connection this request was sent on is gone (it failed, timed out or
                // was dropped mid-body), unless it never was: a failed connect (`NotSent`),
                // or a timeout that fired while the connect waited in the gate (`Sent` to
                // reqwest), whose reservation has given the place back already.
                Err(e) if e.phase() == Phase::Sent => limit.request_lost(),
                _ if status.is_some() => {
                    limit.answer_received();
                    if closing {
                        limit.request_lost();
                    }
                }
                _ => {}
            }
        }
        // After the bookkeeping above: the connection of a body that failed is lost, whatever
        // its status says.
        let outcome = match (outcome, status) {
            (Err(e), Some(s)) => Err(contradicted_read(refused_though_cut(e, s, kind), s, kind)),
            (outcome, _) => outcome,
        };
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        span.record("latency_ms", latency_ms);
        match (&outcome, status) {
            (_, Some(s)) => {
                span.record("http_status", s);
                tracing::debug!(attempt, http_status = s, latency_ms, "response");
            }
            (Err(e), None) => {
                tracing::debug!(attempt, latency_ms, error = %e.kind(), "request failed")
            }
            (Ok(_), None) => {}
        }
        outcome
    }
}

/// How one attempt's generated call ended, its typed answer (if any) kept by the operation.
enum Sent {
    /// A 2xx the generated client decoded: its status, whether the server closes the
    /// connection, and what the envelope rule made of it.
    Typed {
        status: u16,
        closing: bool,
        outcome: Result<(), Error>,
    },
    /// Anything else; a failure status arrives as `UnexpectedResponse` (module docs).
    Failed(GenError<()>),
}

/// The typed ends of one logical call, the only code compiled for each operation: starting
/// its generated call, and decoding an answer into its `data`, which it keeps.
trait Operation: Send {
    /// One attempt's generated call, ending in the envelope rule for a decoded 2xx. Boxed
    /// where it is made: the generated call's future (over a kilobyte) is then moved as a
    /// pointer, not copied from future to future.
    fn start(&mut self, dialect: &'static Dialect, req_id: RequestId) -> BoxFuture<'_, Sent>;
    /// The envelope rule for an answer read as bytes (a failure status, an unreadable 2xx).
    fn decode(&mut self, t: &Transport, raw: &RawResponse) -> Result<(), Error>;
    /// Whether the kept `data` names a usable task id, when the call needs one (or carries
    /// its result, where that is enough: see [`Transport::send_with_result`]).
    fn names_task(&self) -> bool;
    /// The task id the kept `data` names, usable or not, cut to [`NAMED_TEXT_CHARS`].
    fn named_text(&self) -> Option<String>;
}

/// The most characters of an unusable task id an error quotes.
const NAMED_TEXT_CHARS: usize = 80;

/// An [`Operation`] over a generated method returning the envelope `E`.
struct Typed<E: Envelope, F, Fut> {
    send: F,
    task_id: Option<TaskIdOf<E::Data>>,
    /// Whether an answer carries its result, so that it needs no task id (see
    /// [`Transport::send_with_result`]).
    has_result: Option<fn(&E::Data) -> bool>,
    /// The last attempt's `data`, once its envelope said success.
    data: Option<Option<E::Data>>,
    /// The generated call's future lives as long as this (a boxed attempt holds both).
    _generated: PhantomData<fn() -> Fut>,
}

impl<E, F, Fut> Operation for Typed<E, F, Fut>
where
    E: Envelope + Send,
    E::Data: Send,
    F: Fn(RequestId) -> Fut + Send,
    Fut: Future<Output = GenResult<E>> + Send,
{
    fn start(&mut self, dialect: &'static Dialect, req_id: RequestId) -> BoxFuture<'_, Sent> {
        self.data = None;
        let generated = (self.send)(req_id);
        let task_id = self.task_id;
        let data = &mut self.data;
        Box::pin(async move {
            match generated.await {
                Ok(value) => {
                    let status = value.status().as_u16();
                    let closing = closes(value.headers());
                    // A failure code inside a 200 (a VMEG 429 "decided by code") is paced by
                    // its `Retry-After` as the same failure under its own status is.
                    let retry_after = crate::time::retry_after_of(value.headers());
                    let outcome =
                        typed_outcome(dialect, status, retry_after, value.into_inner(), task_id)
                            .map(|d| *data = Some(d));
                    Sent::Typed {
                        status,
                        closing,
                        outcome,
                    }
                }
                Err(e) => Sent::Failed(e),
            }
        })
    }

    fn decode(&mut self, t: &Transport, raw: &RawResponse) -> Result<(), Error> {
        let data = bytes_outcome(t.dialect, raw, &t.scrubber, &t.text_filter)?;
        self.data = Some(data);
        Ok(())
    }

    fn names_task(&self) -> bool {
        let Some(id_of) = self.task_id else {
            return true;
        };
        let data = self.data.as_ref().and_then(Option::as_ref);
        if let (Some(has_result), Some(data)) = (self.has_result, data)
            && has_result(data)
        {
            return true;
        }
        data.and_then(id_of)
            .and_then(|id| usable_id(Some(id)))
            .is_some()
    }

    fn named_text(&self) -> Option<String> {
        let id = self.data.as_ref()?.as_ref().and_then(self.task_id?)?;
        // Marked when cut (review 35 pass 2b #3): not taken for the whole id.
        Some(crate::error::cut(id, NAMED_TEXT_CHARS))
    }
}

/// The envelope rule for a decoded 200: success iff `code` is the provider's success code;
/// otherwise an error of the kind the code (or the status) says, naming the task its `data`
/// names, if any (see `envelope::decode_envelope`).
pub(crate) fn typed_outcome<E: Envelope>(
    d: &Dialect,
    status: u16,
    retry_after: Option<Duration>,
    envelope: E,
    task_id: Option<TaskIdOf<E::Data>>,
) -> Result<Option<E::Data>, Error> {
    let err = match envelope.code() {
        Some(code) if code == d.success_code => return Ok(envelope.into_data()),
        Some(code) => {
            let message = envelope.message().unwrap_or_default().to_owned();
            error_for_code(d, status, retry_after, code, &message)
        }
        // Unreadable as a missing `code` is on the bytes path (`decode_envelope`), so that a
        // wait polls past either alike.
        None => Error::new(ErrorKind::InvalidResponse)
            .with_provider(d.provider)
            .with_http_status(status)
            .with_phase(Phase::Answered)
            .with_message("the answer has no readable `code`")
            .unreadable_answer(),
    };
    // A failure, or an answer without a readable code, that names a task: the task may be
    // made (and billed), so its id (or, unusable, its text) rides on the error, as on the
    // bytes path (review 35-d #1).
    let data = envelope.into_data();
    let named = task_id
        .zip(data.as_ref())
        .and_then(|(id_of, data)| id_of(data));
    Err(envelope::named_in_typed(named).on(err))
}

/// The envelope rule for an answer read as bytes (any status), then `data` into `T`.
pub(crate) fn bytes_outcome<T: DeserializeOwned>(
    d: &Dialect,
    raw: &RawResponse,
    scrubber: &Scrubber,
    filter: &TextFilter,
) -> Result<Option<T>, Error> {
    decoding_with(filter, || {
        let data = decode_envelope(d, raw, scrubber)?;
        decode_data(d.provider, raw.status, data.as_deref())
    })
}

fn closes(headers: &reqwest::header::HeaderMap) -> bool {
    headers
        .get(CONNECTION)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"))
}

/// How reading an answer's body failed, with the bytes that arrived before.
enum BodyFailed {
    /// reqwest's error (the hook's size limit among them).
    Read(reqwest::Error, bytes::Bytes),
    /// Over the size limit, found while reading.
    TooLarge(bytes::Bytes),
}

impl Transport {
    /// [`body_error`] for `failed`, carrying the task id that arrived whole in the body's first
    /// bytes (see [`task_id_in_prefix`]), read with the key's text filter: for a create that
    /// may have been made, and (JimmyAI) no list finds again, it may be all there is. The
    /// answer's `Retry-After` is kept unless its status is a 2xx: a 429 or a 503 asked for
    /// that pause, cut or not, but a 2xx's (a 202's polling hint) asks none of a repeat, and
    /// the code that would say it failed was lost. A whole 2xx with the success code is not
    /// paced by it either; obeyed, one past `max_retry_after` gave the attempt up at once.
    fn body_error(
        &self,
        failed: BodyFailed,
        status: Option<u16>,
        retry_after: Option<Duration>,
    ) -> Error {
        let retry_after = retry_after.filter(|_| !status.is_some_and(|s| (200..300).contains(&s)));
        let (err, prefix) = match failed {
            BodyFailed::Read(e, prefix) => (body_error(e, status, self.max_response_bytes), prefix),
            BodyFailed::TooLarge(prefix) => {
                let err = too_large(self.max_response_bytes);
                let err = match status {
                    Some(s) => err.with_http_status(s),
                    None => err,
                };
                (err, prefix)
            }
        };
        let named = decoding_with(&self.text_filter, || {
            task_id_in_prefix(self.provider, &prefix)
        });
        named.on(err.with_retry_after(retry_after))
    }
}

/// `err`, the failure of an answer with `status` whose body failed (broke off, or did not
/// arrive in time), read by that status where the status decides: on a read, a wait's poll
/// or an upload, a 4xx refusal (not 408 or 429) is that refusal (a 401 ends a wait at once
/// rather than being polled through to its deadline), its status line being all the answer
/// said that arrived. A write keeps `Transport` or `Timeout`: its refusal is the vendor's
/// code (VMEG: "decided by code"), which was in the lost body, so it may have been made.
/// Any other error is returned as it is.
fn refused_though_cut(err: Error, status: u16, kind: OperationKind) -> Error {
    let body_failed = matches!(err.kind(), ErrorKind::Transport | ErrorKind::Timeout)
        && err.phase() == Phase::Sent;
    if !body_failed || kind.has_consequences() || !envelope::refusal_status(status) {
        return err;
    }
    let Some(refusal) = ErrorKind::from_http_status(status) else {
        return err;
    };
    err.with_kind(refusal)
        .with_phase(Phase::Answered)
        .with_message(format!(
            "HTTP {status}; the answer's body did not arrive whole, so it is read by its status"
        ))
}

/// `err`, the failure of a read answered with the vendor's success code behind `status`, a
/// refusal (a gateway rewriting statuses, a server bug): the answer contradicts itself, so it
/// is neither that refusal nor a success, but an answer that could not be read, which a wait
/// polls past a few times. Read as the refusal, an HTTP 404 ended a wait `NotFound` on a task
/// the body said had finished, and the CLI took a JimmyAI task for one the vendor does not
/// know (review 35-d #4). A write keeps the refusal its status says, marked as claiming
/// success (it may have made a task: see `retry`). Any other error is returned as it is.
fn contradicted_read(err: Error, status: u16, kind: OperationKind) -> Error {
    if kind != OperationKind::Read || !err.claims_success() || !envelope::refusal_status(status) {
        return err;
    }
    err.with_kind(ErrorKind::InvalidResponse)
        .unreadable_answer()
        .with_note(format!(
            "HTTP {status} carries the success code in its body: the answer contradicts \
             itself, so it is read as neither"
        ))
}

/// A failure while reading the body of an answer with `status` (`None`: a 2xx the generated
/// client was decoding, its status lost): over the size limit (`InvalidResponse`, reach
/// `Maybe`: answered with something unreadable), the request's timeout (`Timeout`), or the
/// body breaking off (`Transport`; on a read, a refusal status decides: [`refused_though_cut`]).
fn body_error(e: reqwest::Error, status: Option<u16>, limit: usize) -> Error {
    if client_glue::is_body_too_large(&e) {
        let mut err = too_large(limit);
        if let Some(s) = status {
            err = err.with_http_status(s);
        }
        return err;
    }
    if e.is_timeout() {
        let err = Error::from_reqwest(e);
        return match status {
            Some(s) => err.with_http_status(s),
            None => err,
        };
    }
    // reqwest reports any other failure while reading a body (the connection reset or closed
    // before `Content-Length`, a broken chunked encoding, an h2 stream reset) as a body it
    // could not decode. No decompression is enabled, so that is always the connection: a
    // failure after sending, as a download's cut body is (`download::fetch`), never an answer
    // the API changed. A body that arrived whole but is not JSON is read elsewhere
    // (`InvalidResponsePayload`, `decode_envelope`).
    let status = status.unwrap_or(200);
    Error::from_reqwest(e)
        .with_kind(ErrorKind::Transport)
        .with_phase(Phase::Sent)
        .with_http_status(status)
        .with_message(format!(
            "the body of the HTTP {status} answer broke off before its end (the connection closed or failed)"
        ))
}

/// The answer was larger than the client's limit; it was not read further.
fn too_large(limit: usize) -> Error {
    Error::new(ErrorKind::InvalidResponse)
        .with_phase(Phase::Sent)
        .with_message(format!(
            "the response body is larger than {limit} bytes (ClientBuilder::max_response_bytes); it was not read further"
        ))
}

/// Reads a (non-2xx) response body; the generated client's hook already bounds it. On a
/// failure, what arrived before it is kept (at most `limit` bytes).
async fn read_body(mut resp: reqwest::Response, limit: usize) -> Result<bytes::Bytes, BodyFailed> {
    let mut body = bytes::BytesMut::new();
    loop {
        let chunk = match resp.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => return Ok(body.freeze()),
            Err(e) => return Err(BodyFailed::Read(e, body.freeze())),
        };
        if chunk.len() > limit.saturating_sub(body.len()) {
            return Err(BodyFailed::TooLarge(body.freeze()));
        }
        body.extend_from_slice(&chunk);
    }
}
