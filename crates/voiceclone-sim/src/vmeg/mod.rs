//! VMEG Open API (Standalone, `/openapi/v1/...`): auth, idempotency keys,
//! validation, clone/TTS creates (sync and async), task queries and the
//! voice library. Envelope `{code, message, data}`.
//!
//! Split along its seams: this module dispatches, checks auth and holds
//! idempotency keys; [`tasks`] answers task queries, [`voices`] the voice
//! library, [`create`] the clone and TTS creates.

mod create;
pub(crate) mod materials;
mod tasks;
mod voices;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, Response, header};
use serde_json::{Map, Value, json};

use crate::faults::FaultPlan;
use crate::respond::{bearer_ok, json_response};
use crate::shared::Shared;
use crate::wire::{BodyError, read_json};

use create::{Accepted, clone_create, sync_answer, tts_create};
use tasks::{tasks_delete, tasks_detail, tasks_list};
use voices::{basic_list, clone_delete, clone_list, clone_update};

const MAX_PAGE_SIZE: i64 = 100;

/// A request rejected before any state change: (code, message).
type Rejection = (u16, String);

fn bad(msg: impl Into<String>) -> Rejection {
    (400, msg.into())
}

/// Success envelope.
fn ok(data: Value) -> Response<Body> {
    json_response(200, &json!({"code": 200, "message": "", "data": data}))
}

/// Error envelope; HTTP status per [`crate::SimConfig::vmeg_business_errors_http_200`]
/// (401, 409, 413 and 503 always as themselves; 409 and 503 with `Retry-After`).
pub(crate) fn env_err(sh: &Shared, code: u16, msg: &str) -> Response<Body> {
    let status =
        if matches!(code, 401 | 409 | 413 | 503) || !sh.config.vmeg_business_errors_http_200 {
            code
        } else {
            200
        };
    let mut r = json_response(status, &json!({"code": code, "message": msg, "data": null}));
    let retry_after = match code {
        409 => Some(2),
        503 => Some(crate::state::TASKS_FULL_RETRY_AFTER_SECS),
        _ => None,
    };
    if let Some(secs) = retry_after
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

fn is_mutating(op: &str) -> bool {
    matches!(
        op,
        "vmeg.cloneVoiceCreate"
            | "vmeg.cloneVoiceCreateAsync"
            | "vmeg.ttsCreate"
            | "vmeg.ttsCreateAsync"
            | "vmeg.tasksDelete"
            | "vmeg.cloneVoiceUpdate"
            | "vmeg.cloneVoiceDelete"
            | "vmeg.materialGenUploadUrl"
            | "vmeg.materialUploadComplete"
            | "vmeg.materialMultipartInitiate"
            | "vmeg.materialMultipartPresign"
            | "vmeg.materialMultipartComplete"
            | "vmeg.materialMultipartAbort"
            | "vmeg.materialDelete"
    )
}

/// The idempotency key, or the 400 message.
fn idem_key(headers: &HeaderMap) -> Result<String, String> {
    let raw = match headers.get("x-idempotency-key") {
        None => return Err("X-Idempotency-Key header is required".into()),
        Some(v) => v
            .to_str()
            .map_err(|_| "X-Idempotency-Key must be visible ASCII".to_string())?,
    };
    let key = raw.trim();
    if key.is_empty() {
        return Err("X-Idempotency-Key must not be empty".into());
    }
    if key.chars().count() > 64 {
        return Err("X-Idempotency-Key must be at most 64 characters".into());
    }
    Ok(key.to_string())
}

fn norm_path(path: &str) -> String {
    path.trim_end_matches('/').to_string()
}

/// Record the key of a request answered by an injected fault (only called
/// when `vmeg_fault_consumes_idempotency_key` is set).
pub(crate) fn consume_key_on_fault(sh: &Shared, op: &str, path: &str, headers: &HeaderMap) {
    if !is_mutating(op) || !bearer_ok(headers, &sh.config.api_key) {
        return;
    }
    if let Ok(key) = idem_key(headers) {
        // Dated under the lock, as `reserve` does.
        let (mut st, now) = sh.lock_state_now();
        st.expire_keys(now);
        let slot = (norm_path(path), key);
        if !st.idempotency.contains_key(&slot) {
            st.record_key(slot, now);
        }
    }
}

/// Entry point for every `/openapi/v1/...` request.
pub(crate) async fn handle(
    sh: &Arc<Shared>,
    op: &'static str,
    plan: &FaultPlan,
    req: Request<Body>,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    if !bearer_ok(&parts.headers, &sh.config.api_key) {
        // Read what the client is still sending, so the answer reaches it; but only as long
        // as it keeps coming: a stranger's slow body must not hold the connection slot.
        let whole = crate::wire::drain_stranger(&parts, body, sh.config.body_read_timeout).await;
        return crate::respond::closing(whole, env_err(sh, 401, "Invalid or missing API Key"));
    }
    let limit = sh.config.vmeg_max_body_bytes;
    if matches!(
        op,
        "vmeg.tasksList" | "vmeg.tasksDetail" | "vmeg.materialList"
    ) {
        // These read their query only: a body sent anyway is read and dropped, or the
        // answer would be lost to a connection reset.
        crate::wire::drain(&parts, body, sh.config.body_read_timeout).await;
        return match op {
            "vmeg.tasksList" => tasks_list(sh, plan, &parts.uri),
            "vmeg.tasksDetail" => tasks_detail(sh, plan, &parts.uri),
            _ => match materials::list(sh, &parts.uri) {
                Ok(v) => ok(v),
                Err((c, msg)) => env_err(sh, c, &msg),
            },
        };
    }
    match op {
        "vmeg.cloneVoiceList" | "vmeg.basicVoiceList" => {
            let (m, _parsing) = match read_json(
                body,
                limit,
                true,
                sh.config.body_read_timeout,
                &sh.json_budget,
            )
            .await
            {
                Ok(m) => m,
                Err(e) => return body_err(sh, e),
            };
            let r = if op == "vmeg.cloneVoiceList" {
                clone_list(sh, &m)
            } else {
                basic_list(&m)
            };
            return match r {
                Ok(v) => ok(v),
                Err((c, msg)) => env_err(sh, c, &msg),
            };
        }
        _ if !is_mutating(op) => {
            crate::wire::drain(&parts, body, sh.config.body_read_timeout).await;
            return env_err(sh, 404, "Not Found");
        }
        _ => {}
    }
    let key = match idem_key(&parts.headers) {
        Ok(k) => k,
        Err(msg) => {
            crate::wire::drain(&parts, body, sh.config.body_read_timeout).await;
            return env_err(sh, 400, &msg);
        }
    };
    // `parsing`: the body's room in the parse budget, held as long as `m`.
    let (mut m, mut parsing) = match read_json(
        body,
        limit,
        false,
        sh.config.body_read_timeout,
        &sh.json_budget,
    )
    .await
    {
        Ok(m) => m,
        Err(e) => return body_err(sh, e),
    };
    let slot = (norm_path(parts.uri.path()), key.clone());
    let Some(mut reservation) = reserve(sh, slot) else {
        tracing::debug!(op, "idempotency key reused");
        return env_err(
            sh,
            409,
            "Idempotency key already used for this request path; retry later or use a new key",
        );
    };
    let answered = |r: Result<Response<Body>, Rejection>| r.map(Accepted::Answered);
    let result = match op {
        "vmeg.cloneVoiceCreate" | "vmeg.cloneVoiceCreateAsync" => {
            clone_create(sh, &m, &key, op, &mut reservation)
        }
        "vmeg.ttsCreate" | "vmeg.ttsCreateAsync" => tts_create(sh, &m, &key, op, &mut reservation),
        "vmeg.tasksDelete" => answered(tasks_delete(sh, &m).inspect(|_| reservation.commit())),
        "vmeg.cloneVoiceUpdate" => answered(clone_update(sh, &m).inspect(|_| reservation.commit())),
        "vmeg.cloneVoiceDelete" => answered(clone_delete(sh, &m).inspect(|_| reservation.commit())),
        "vmeg.materialUploadComplete" | "vmeg.materialMultipartComplete" => {
            // These wait for their turn and for the hash (seconds for a large upload):
            // like a sync create, they must not wait holding the parsed body.
            let fields = materials::fields_read_by_complete(&m);
            m = Map::new();
            parsing = None;
            answered(
                material_call(sh, op, &fields)
                    .await
                    .inspect(|_| reservation.commit()),
            )
        }
        _ => answered(
            material_call(sh, op, &m)
                .await
                .inspect(|_| reservation.commit()),
        ),
    };
    // A sync create waits for its task, tens of seconds at low speed: the parsed
    // body (up to some 17 times `vmeg_max_body_bytes`) must not wait with it.
    drop(m);
    drop(parsing);
    match result {
        Ok(Accepted::Answered(r)) => r,
        Ok(Accepted::Wait { id, reader }) => sync_answer(sh, &id, reader).await,
        Err((code, msg)) => {
            // Gives the key back unless `vmeg_rejection_consumes_idempotency_key`.
            reservation.reject();
            env_err(sh, code, &msg)
        }
    }
}

/// Reserve (path, key) `slot` for a request, or `None` when it is held (HTTP 409). The
/// key's age counts from the time read under the lock that records it.
fn reserve(sh: &Arc<Shared>, slot: (String, String)) -> Option<KeyReservation> {
    let (mut st, now) = sh.lock_state_now();
    st.expire_keys(now);
    if st.idempotency.contains_key(&slot) {
        return None;
    }
    st.record_key(slot.clone(), now);
    Some(KeyReservation::new(sh.clone(), slot))
}

/// The material POSTs (see [`materials`]); not billable.
async fn material_call(
    sh: &Shared,
    op: &str,
    m: &Map<String, Value>,
) -> Result<Response<Body>, Rejection> {
    let data = match op {
        "vmeg.materialGenUploadUrl" => materials::start(sh, m, false),
        "vmeg.materialMultipartInitiate" => materials::start(sh, m, true),
        "vmeg.materialUploadComplete" => materials::complete(sh, m).await,
        "vmeg.materialMultipartPresign" => materials::presign(sh, m),
        "vmeg.materialMultipartComplete" => materials::multipart_complete(sh, m).await,
        "vmeg.materialMultipartAbort" => materials::abort(sh, m),
        "vmeg.materialDelete" => materials::delete(sh, m),
        _ => Err((404, "Not Found".to_string())),
    }?;
    Ok(ok(data))
}

/// An idempotency key held while its request is handled. A rejection goes
/// through [`KeyReservation::reject`], which gives the key back unless
/// [`crate::SimConfig::vmeg_rejection_consumes_idempotency_key`] says a
/// rejection consumes it. Dropped without an outcome (a panic, a cancelled
/// handler), it always gives the key back: a key is never used up without
/// its task.
pub(crate) struct KeyReservation {
    sh: Arc<Shared>,
    slot: Option<(String, String)>,
}

impl KeyReservation {
    fn new(sh: Arc<Shared>, slot: (String, String)) -> Self {
        Self {
            sh,
            slot: Some(slot),
        }
    }

    /// The request succeeded (its task, if any, exists): keep the key.
    pub(crate) fn commit(&mut self) {
        self.slot = None;
    }

    /// The simulator had no room for the task (not the vendor's rejection): give the key
    /// back even when [`crate::SimConfig::vmeg_rejection_consumes_idempotency_key`] is
    /// set, so a retry under it is served.
    pub(crate) fn release(&mut self) {
        if let Some(slot) = self.slot.take() {
            crate::shared::lock(&self.sh.state)
                .idempotency
                .remove(&slot);
        }
    }

    /// The request was rejected (the vendor's answer, not the simulator's lack of
    /// room): the key is kept only under
    /// [`crate::SimConfig::vmeg_rejection_consumes_idempotency_key`]. A no-op after
    /// [`KeyReservation::commit`] or [`KeyReservation::release`].
    pub(crate) fn reject(mut self) {
        if self.sh.config.vmeg_rejection_consumes_idempotency_key {
            self.slot = None;
        }
    }
}

impl Drop for KeyReservation {
    // Here only when the handler panicked or was cancelled (the client closed the
    // connection mid-call): nothing was decided, so the key goes back. Keeping it
    // under `vmeg_rejection_consumes_idempotency_key` made the client's retry under
    // the same key answer 409 with nothing registered.
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            crate::shared::lock(&self.sh.state)
                .idempotency
                .remove(&slot);
        }
    }
}

fn body_err(sh: &Shared, e: BodyError) -> Response<Body> {
    match e {
        BodyError::TooLarge => env_err(sh, 413, "Request body too large"),
        BodyError::Malformed(m) => env_err(sh, 400, &m),
        BodyError::Incomplete(why) => env_err(
            sh,
            400,
            &format!("Request body could not be read whole: {why}"),
        ),
        BodyError::TimedOut => crate::respond::body_timeout(
            json!({"code": 408, "message": "Request body not received in time", "data": null}),
        ),
        BodyError::Busy => env_err(
            sh,
            503,
            "Service busy: too many large request bodies at once (simulated); retry later",
        ),
    }
}

fn parse_page(
    q: &std::collections::HashMap<String, String>,
    k: &str,
    default: i64,
) -> Result<i64, Rejection> {
    match q.get(k) {
        None => Ok(default),
        Some(s) if s.trim().is_empty() => Ok(default),
        Some(s) => s
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| bad(format!("`{k}` must be a positive integer"))),
    }
}

/// `currentPage` and `pageSize` of a voice-list body (defaults 1 and 10).
fn page_of(m: &Map<String, Value>) -> Result<(usize, usize), Rejection> {
    let get = |k: &str, d: i64| -> Result<i64, Rejection> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(d),
            Some(Value::Number(n)) => n
                .as_i64()
                .filter(|n| *n >= 1)
                .ok_or_else(|| bad(format!("`{k}` must be a positive integer"))),
            Some(Value::String(s)) => s
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| bad(format!("`{k}` must be a positive integer"))),
            Some(_) => Err(bad(format!("`{k}` must be a positive integer"))),
        }
    };
    let page = get("currentPage", 1)?;
    // The voice lists' documented default (VMEG's document: 10; `tasks/list`'s is 20).
    let size = get("pageSize", 10)?.min(MAX_PAGE_SIZE);
    Ok((page as usize, size as usize))
}

fn paginate<T: Clone>(items: &[T], page: usize, size: usize) -> Vec<T> {
    items
        .iter()
        .skip(page.saturating_sub(1).saturating_mul(size))
        .take(size)
        .cloned()
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::SimConfig;
    use crate::shared::lock;

    fn reserved(sh: &Arc<Shared>, key: &str) -> KeyReservation {
        let slot = ("/openapi/v1/task/tts/create".to_string(), key.to_string());
        lock(&sh.state)
            .idempotency
            .insert(slot.clone(), Duration::ZERO);
        KeyReservation::new(sh.clone(), slot)
    }

    fn held(sh: &Shared, key: &str) -> bool {
        lock(&sh.state)
            .idempotency
            .contains_key(&("/openapi/v1/task/tts/create".to_string(), key.to_string()))
    }

    /// A create reserving key K read the clock, then waited for the state lock while
    /// another test moved the clock a day and more: K was recorded as used before the
    /// advance, so a retry under K a moment later found it expired and made (and billed)
    /// a second task. Now the time is read under the lock that records K.
    #[test]
    fn a_key_reserved_across_a_clock_advance_is_dated_after_it() {
        let sh = Arc::new(Shared::new(SimConfig::default(), String::new()));
        let slot = || ("/openapi/v1/task/tts/create".to_string(), "K".to_string());
        let held = lock(&sh.state);
        let sh2 = sh.clone();
        let first = std::thread::spawn(move || reserve(&sh2, slot()).map(|mut r| r.commit()));
        // Let the first reservation reach the lock.
        std::thread::sleep(Duration::from_millis(300));
        sh.clock.advance(Duration::from_secs(25 * 3600));
        drop(held);
        assert!(
            first.join().unwrap().is_some(),
            "the first use of K refused"
        );
        assert!(
            reserve(&sh, slot()).is_none(),
            "a retry under K, just used, was granted: K was dated before the clock advance"
        );
    }

    #[test]
    fn a_key_is_kept_only_when_its_request_succeeded() {
        let sh = Arc::new(Shared::new(SimConfig::default(), String::new()));
        reserved(&sh, "committed").commit();
        assert!(held(&sh, "committed"));
        reserved(&sh, "rejected").reject();
        assert!(!held(&sh, "rejected"));
        drop(reserved(&sh, "cancelled"));
        assert!(!held(&sh, "cancelled"));
        let r = reserved(&sh, "panicked");
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _r = r;
            panic!("handler bug");
        }));
        assert!(unwound.is_err());
        assert!(
            !held(&sh, "panicked"),
            "a panicking handler used up its key"
        );

        // Rejections may consume the key when configured; a panic never does, nor a
        // cancelled handler (a client that timed out and retries under the same key,
        // as VMEG advises: before, the retry answered 409 with nothing registered).
        let sh = Arc::new(Shared::new(
            SimConfig::default().with_vmeg_rejection_consumes_idempotency_key(true),
            String::new(),
        ));
        reserved(&sh, "rejected").reject();
        assert!(held(&sh, "rejected"));
        drop(reserved(&sh, "cancelled"));
        assert!(
            !held(&sh, "cancelled"),
            "a cancelled handler used up its key"
        );
        let r = reserved(&sh, "panicked");
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _r = r;
            panic!("handler bug");
        }));
        assert!(!held(&sh, "panicked"));
    }

    /// JSON bodies were parsed with no bound but the worker threads (some 17 to 32 times
    /// their size each). Now a body waits for room in the parse budget within the body
    /// read timeout, and past it is told busy (503, `Retry-After`), nothing created; once
    /// there is room again it is served.
    #[tokio::test]
    async fn a_body_with_no_room_to_be_parsed_is_told_busy() {
        let cfg = SimConfig {
            body_read_timeout: Duration::from_millis(100),
            ..SimConfig::default()
        };
        let sh = Arc::new(Shared::new(cfg, String::new()));
        let create = |key: &str| {
            Request::post("/openapi/v1/task/clone-voice/create-async")
                .header("authorization", format!("Bearer {}", sh.config.api_key))
                .header("x-idempotency-key", key)
                .body(Body::from(r#"{"refAudio":"https://example.com/a.wav"}"#))
                .unwrap()
        };
        let all = u32::try_from(crate::bounds::MAX_JSON_PARSE_BYTES).unwrap();
        let held = sh.json_budget.acquire_many(all).await.unwrap();
        let plan = FaultPlan::default();
        let resp = tokio::time::timeout(
            Duration::from_secs(5),
            handle(&sh, "vmeg.cloneVoiceCreateAsync", &plan, create("busy")),
        )
        .await
        .expect("answered within the body read timeout");
        assert_eq!(resp.status().as_u16(), 503);
        assert!(resp.headers().contains_key(header::RETRY_AFTER));
        let bytes = axum::body::to_bytes(resp.into_body(), 4096).await.unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["code"], 503, "{v}");
        assert!(v["message"].as_str().unwrap().contains("busy"), "{v}");
        assert_eq!(lock(&sh.state).tasks.len(), 0);
        assert!(!held_key(&sh, "busy"), "a busy answer used the key up");
        drop(held);
        let resp = handle(&sh, "vmeg.cloneVoiceCreateAsync", &plan, create("busy")).await;
        assert_eq!(resp.status().as_u16(), 200);
        assert_eq!(
            sh.json_budget.available_permits(),
            crate::bounds::MAX_JSON_PARSE_BYTES
        );
    }

    fn held_key(sh: &Shared, key: &str) -> bool {
        lock(&sh.state).idempotency.contains_key(&(
            "/openapi/v1/task/clone-voice/create-async".to_string(),
            key.to_string(),
        ))
    }
}
