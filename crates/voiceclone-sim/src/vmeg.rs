//! VMEG Open API (Standalone, `/openapi/v1/...`): auth, idempotency keys,
//! validation, clone/TTS creates (sync and async), task queries and the
//! voice library. Envelope `{code, message, data}`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, Response, Uri, header};
use serde_json::{Map, Value, json};

use crate::faults::{FaultKind, FaultPlan};
use crate::server::{Shared, bearer_ok, json_response};
use crate::state::{Phase, SYSTEM_VOICES, Task, TaskKind, TtsLine, hex_id};
use crate::stats::CreateRecord;
use crate::webhook;
use crate::wire::{
    BodyError, is_https_url, opt_bool, opt_f64, opt_str, query_map, read_json, req_str,
};

const PROVIDERS: [&str; 5] = ["V1", "V2", "V3", "V4", "V5"];
const TASK_TYPES: [&str; 5] = ["vt", "at", "tts", "cloneVoice", "textTranslation"];
const OUTPUT_FORMATS: [&str; 3] = ["wav", "mp3", "m4a"];
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

/// Error envelope; HTTP status per [`crate::SimConfig::vmeg_business_errors_http_200`].
pub(crate) fn env_err(sh: &Shared, code: u16, msg: &str) -> Response<Body> {
    let status = if matches!(code, 401 | 409 | 413) || !sh.config.vmeg_business_errors_http_200 {
        code
    } else {
        200
    };
    let mut r = json_response(status, &json!({"code": code, "message": msg, "data": null}));
    if code == 409
        && let Ok(v) = HeaderValue::from_str("2")
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
        let now = sh.clock.now();
        let mut st = sh.lock_state();
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
        return env_err(sh, 401, "Invalid or missing API Key");
    }
    let limit = sh.config.vmeg_max_body_bytes;
    match op {
        "vmeg.tasksList" => return tasks_list(sh, plan, &parts.uri),
        "vmeg.tasksDetail" => return tasks_detail(sh, plan, &parts.uri),
        "vmeg.cloneVoiceList" | "vmeg.basicVoiceList" => {
            let m = match read_json(body, limit, true, sh.config.body_read_timeout).await {
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
        _ if !is_mutating(op) => return env_err(sh, 404, "Not Found"),
        _ => {}
    }
    let key = match idem_key(&parts.headers) {
        Ok(k) => k,
        Err(msg) => return env_err(sh, 400, &msg),
    };
    let m = match read_json(body, limit, false, sh.config.body_read_timeout).await {
        Ok(m) => m,
        Err(e) => return body_err(sh, e),
    };
    let slot = (norm_path(parts.uri.path()), key.clone());
    let reservation = {
        let now = sh.clock.now();
        let mut st = sh.lock_state();
        st.expire_keys(now);
        if st.idempotency.contains_key(&slot) {
            drop(st);
            tracing::debug!(op, "idempotency key reused");
            return env_err(
                sh,
                409,
                "Idempotency key already used for this request path; retry later or use a new key",
            );
        }
        st.record_key(slot.clone(), now);
        KeyReservation::new(sh.clone(), slot)
    };
    let result = match op {
        "vmeg.cloneVoiceCreate" | "vmeg.cloneVoiceCreateAsync" => {
            clone_create(sh, &m, &key, op, reservation).await
        }
        "vmeg.ttsCreate" | "vmeg.ttsCreateAsync" => tts_create(sh, &m, &key, op, reservation).await,
        "vmeg.tasksDelete" => tasks_delete(sh, &m).inspect(|_| reservation.commit()),
        "vmeg.cloneVoiceUpdate" => clone_update(sh, &m).inspect(|_| reservation.commit()),
        _ => clone_delete(sh, &m).inspect(|_| reservation.commit()),
    };
    match result {
        Ok(r) => r,
        // The reservation, dropped uncommitted, gave the key back (unless
        // `vmeg_rejection_consumes_idempotency_key`).
        Err((code, msg)) => env_err(sh, code, &msg),
    }
}

/// An idempotency key held while its request is handled. Dropped without
/// [`KeyReservation::commit`] (a rejection, a panic, a cancelled handler), it
/// releases the key, so a key is never used up without its task, unless
/// [`crate::SimConfig::vmeg_rejection_consumes_idempotency_key`] says a
/// rejection consumes it.
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
    pub(crate) fn commit(mut self) {
        self.slot = None;
    }
}

impl Drop for KeyReservation {
    fn drop(&mut self) {
        let Some(slot) = self.slot.take() else {
            return;
        };
        if self.sh.config.vmeg_rejection_consumes_idempotency_key && !std::thread::panicking() {
            return;
        }
        crate::server::lock(&self.sh.state)
            .idempotency
            .remove(&slot);
    }
}

fn body_err(sh: &Shared, e: BodyError) -> Response<Body> {
    match e {
        BodyError::TooLarge => env_err(sh, 413, "Request body too large"),
        BodyError::Malformed(m) => env_err(sh, 400, &m),
        BodyError::TimedOut => crate::server::body_timeout(
            json!({"code": 408, "message": "Request body not received in time", "data": null}),
        ),
    }
}

fn status_word(sh: &Shared, phase: Phase, unknown: bool) -> String {
    if unknown {
        return "warming_up".into();
    }
    let w = &sh.config.vmeg_status_words;
    match phase {
        Phase::Queued => w.queued.clone(),
        Phase::Processing => w.running.clone(),
        Phase::Completed => w.succeeded.clone(),
        Phase::Failed => w.failed.clone(),
    }
}

fn task_type(kind: TaskKind) -> &'static str {
    match kind {
        TaskKind::VmegTts => "tts",
        _ => "cloneVoice",
    }
}

fn is_vmeg(t: &Task) -> bool {
    matches!(t.kind, TaskKind::VmegClone | TaskKind::VmegTts)
}

fn tts_results(sh: &Shared, t: &Task) -> Value {
    let items: Vec<Value> = t
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let secs = (crate::audio::duration_for(&l.text).as_secs_f64() * 100.0).round() / 100.0;
            // WAV whatever `outputFormat` asked for: see `audio.rs`.
            json!({
                "uri": format!("{}/sim/files/tts_{}_{}.wav", sh.base_url, t.id, i),
                "duration": secs,
                "errorMessage": "",
            })
        })
        .collect();
    Value::Array(items)
}

/// `result` of tasks/detail for a task in `phase`.
fn task_result(sh: &Shared, t: &Task, phase: Phase) -> Value {
    match phase {
        Phase::Queued | Phase::Processing => json!({}),
        Phase::Failed => json!({"errorMessage": "task failed (simulated)"}),
        Phase::Completed => match t.kind {
            TaskKind::VmegTts => json!({"results": tts_results(sh, t)}),
            _ => {
                if sh.config.vmeg_clone_result_has_voice_id {
                    json!({"voiceId": t.voice_id})
                } else {
                    json!({})
                }
            }
        },
    }
}

/// Webhook / sync `data` for a terminal task.
pub(crate) fn final_data(sh: &Shared, t: &Task) -> Value {
    let created = sh.clock.iso(t.created);
    match t.kind {
        TaskKind::VmegTts => {
            json!({"taskId": t.id, "results": tts_results(sh, t), "createdAt": created})
        }
        _ => {
            if t.phase(Duration::MAX) == Phase::Completed {
                json!({"taskId": t.id, "voiceId": t.voice_id, "createdAt": created})
            } else {
                json!({"taskId": t.id, "createdAt": created})
            }
        }
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
    let size = get("pageSize", 20)?.min(MAX_PAGE_SIZE);
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

fn tasks_list(sh: &Shared, plan: &FaultPlan, uri: &Uri) -> Response<Body> {
    let q = query_map(uri.query());
    let r = (|| -> Result<Value, Rejection> {
        let type_filter = q.get("taskType").filter(|s| !s.is_empty());
        if let Some(tt) = type_filter
            && !TASK_TYPES.contains(&tt.as_str())
        {
            return Err(bad(format!(
                "`taskType` must be one of {}",
                TASK_TYPES.join(", ")
            )));
        }
        let status = q.get("status").filter(|s| !s.is_empty());
        let page = parse_page(&q, "currentPage", 1)? as usize;
        let size = parse_page(&q, "pageSize", 20)?.min(MAX_PAGE_SIZE) as usize;
        let now = sh.clock.now();
        let st = sh.lock_state();
        let mut rows = Vec::new();
        for id in st.vmeg_order.values().rev() {
            let Some(t) = st.tasks.get(id) else { continue };
            let phase = t.phase(now);
            let word = status_word(sh, phase, false);
            if type_filter.is_some_and(|tt| tt != task_type_str(t)) {
                continue;
            }
            if status.is_some_and(|s| *s != word) {
                continue;
            }
            rows.push(json!({
                "taskId": t.id,
                "taskType": task_type(t.kind),
                "status": status_word(sh, phase, plan.unknown_status),
                "createdAt": sh.clock.iso(t.created),
                "updatedAt": sh.clock.iso(t.updated_at(now)),
            }));
        }
        if plan.unknown_status && !rows.is_empty() {
            sh.stats.fault(FaultKind::UnknownStatus.name());
        }
        let total = rows.len();
        Ok(json!({"records": paginate(&rows, page, size), "total": total}))
    })();
    match r {
        Ok(v) => ok(v),
        Err((c, m)) => env_err(sh, c, &m),
    }
}

fn task_type_str(t: &Task) -> &'static str {
    task_type(t.kind)
}

fn tasks_detail(sh: &Shared, plan: &FaultPlan, uri: &Uri) -> Response<Body> {
    let q = query_map(uri.query());
    let Some(id) = q.get("taskId").filter(|s| !s.trim().is_empty()) else {
        return env_err(sh, 400, "`taskId` is required");
    };
    let now = sh.clock.now();
    let st = sh.lock_state();
    let Some(t) = st.tasks.get(id.trim()).filter(|t| is_vmeg(t)) else {
        drop(st);
        return env_err(sh, 404, "Task not found");
    };
    let phase = t.phase(now);
    if plan.unknown_status {
        sh.stats.fault(FaultKind::UnknownStatus.name());
    }
    let data = json!({
        "taskId": t.id,
        "taskType": task_type(t.kind),
        "status": status_word(sh, phase, plan.unknown_status),
        "result": task_result(sh, t, phase),
    });
    drop(st);
    ok(data)
}

fn tasks_delete(sh: &Shared, m: &Map<String, Value>) -> Result<Response<Body>, Rejection> {
    let id = req_str(m, "taskId").map_err(bad)?;
    let mut st = sh.lock_state();
    match st.tasks.get(&id) {
        Some(t) if is_vmeg(t) => {}
        _ => return Err((404, "Task not found".into())),
    }
    st.remove_task(&id);
    Ok(ok(Value::Null))
}

fn voice_json(sh: &Shared, v: &crate::state::Voice) -> Value {
    json!({
        "voiceId": v.voice_id,
        "name": v.name,
        "provider": v.provider,
        "exampleLanguage": v.language,
        "content": v.content,
        "audio": v.audio,
        "taskId": v.task_id,
        "createTime": sh.clock.iso(v.created),
        "updateTime": sh.clock.iso(v.updated),
    })
}

fn clone_list(sh: &Shared, m: &Map<String, Value>) -> Result<Value, Rejection> {
    let voice_id = opt_str(m, "voiceId").map_err(bad)?;
    let voice_ids: Option<Vec<String>> = match m.get("voiceIds") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|x| x.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("`voiceIds` must be an array of strings"))?,
        ),
        Some(_) => return Err(bad("`voiceIds` must be an array of strings")),
    };
    let search = opt_str(m, "searchName")
        .map_err(bad)?
        .map(|s| s.to_lowercase());
    let (page, size) = page_of(m)?;
    let st = sh.lock_state();
    let rows: Vec<Value> = st
        .voice_order
        .iter()
        .rev()
        .filter_map(|id| st.voices.get(id))
        .filter(|v| !v.deleted)
        .filter(|v| {
            voice_id
                .as_ref()
                .is_none_or(|x| x.is_empty() || *x == v.voice_id)
        })
        .filter(|v| {
            voice_ids
                .as_ref()
                .is_none_or(|xs| xs.is_empty() || xs.contains(&v.voice_id))
        })
        .filter(|v| {
            search
                .as_ref()
                .is_none_or(|s| v.name.to_lowercase().contains(s.as_str()))
        })
        .map(|v| voice_json(sh, v))
        .collect();
    let total = rows.len();
    Ok(json!({"records": paginate(&rows, page, size), "total": total}))
}

fn basic_list(m: &Map<String, Value>) -> Result<Value, Rejection> {
    let (page, size) = page_of(m)?;
    let rows: Vec<Value> = SYSTEM_VOICES
        .iter()
        .map(|v| {
            json!({
                "voiceId": v.voice_id,
                "name": v.name,
                "provider": v.provider,
                "language": v.language,
                "gender": v.gender,
            })
        })
        .collect();
    let total = rows.len();
    Ok(json!({"records": paginate(&rows, page, size), "total": total}))
}

fn clone_update(sh: &Shared, m: &Map<String, Value>) -> Result<Response<Body>, Rejection> {
    let id = req_str(m, "voiceId").map_err(bad)?;
    let name = req_str(m, "voiceName").map_err(bad)?;
    let now = sh.clock.now();
    let mut st = sh.lock_state();
    match st.voices.get_mut(&id).filter(|v| !v.deleted) {
        Some(v) => {
            v.name = name;
            v.updated = now;
            Ok(ok(Value::Null))
        }
        None => Err((404, "Voice not found".into())),
    }
}

fn clone_delete(sh: &Shared, m: &Map<String, Value>) -> Result<Response<Body>, Rejection> {
    let id = req_str(m, "voiceId").map_err(bad)?;
    let now = sh.clock.now();
    let mut st = sh.lock_state();
    match st.voices.get_mut(&id).filter(|v| !v.deleted) {
        Some(v) => {
            v.deleted = true;
            v.updated = now;
            Ok(ok(Value::Null))
        }
        None => Err((404, "Voice not found".into())),
    }
}

fn extra_data(m: &Map<String, Value>) -> Result<Option<Value>, Rejection> {
    match m.get("extraData") {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
        Some(_) => Err(bad("`extraData` must be an object")),
    }
}

/// Wait until the task is terminal: a timer for its due time, woken early
/// when the clock is moved by hand. `None` if it was deleted or evicted.
async fn wait_terminal(sh: &Shared, id: &str) -> Option<Task> {
    loop {
        let task = sh.lock_state().tasks.get(id)?.clone();
        if task.phase(sh.clock.now()).is_terminal() {
            return Some(task);
        }
        sh.sleep_until_sim(task.done_at()).await;
    }
}

async fn clone_create(
    sh: &Arc<Shared>,
    m: &Map<String, Value>,
    key: &str,
    op: &'static str,
    reservation: KeyReservation,
) -> Result<Response<Body>, Rejection> {
    let is_async = op.ends_with("Async");
    let ref_audio = req_str(m, "refAudio").map_err(bad)?;
    if !is_https_url(&ref_audio) {
        return Err(bad("`refAudio` must be an HTTPS URL"));
    }
    let provider = opt_str(m, "provider")
        .map_err(bad)?
        .unwrap_or_else(|| "V1".into());
    if !PROVIDERS.contains(&provider.as_str()) {
        return Err(bad("`provider` must be one of V1, V2, V3, V4, V5"));
    }
    let voice_name = opt_str(m, "voiceName").map_err(bad)?;
    let sample_language = opt_str(m, "sampleLanguage").map_err(bad)?;
    let sample_text = opt_str(m, "sampleText").map_err(bad)?;
    // Sync endpoints ignore extraData (CONFIRMED); it is still recorded in stats.
    let xd = if is_async {
        extra_data(m)?
    } else {
        m.get("extraData").filter(|v| v.is_object()).cloned()
    };
    let now = sh.clock.now();
    let id = format!("task_{}", hex_id());
    let voice_id = format!("cv_{}", hex_id());
    let mut t = Task::new(
        id.clone(),
        TaskKind::VmegClone,
        now,
        sh.config.scaled(sh.config.clone_duration),
    );
    t.will_fail = sh.draw_task_failure();
    t.is_async = is_async;
    t.extra_data = if is_async { xd.clone() } else { None };
    t.voice_id = Some(voice_id);
    t.voice_name = voice_name.unwrap_or_else(|| format!("Voice {}", id.get(5..13).unwrap_or(&id)));
    t.provider = provider;
    t.ref_audio = ref_audio;
    t.sample_language = sample_language;
    t.sample_text = sample_text;
    let created = sh.clock.iso(now);
    {
        let mut st = sh.lock_state();
        st.insert_task(t);
    }
    reservation.commit();
    sh.stats.create(CreateRecord {
        operation: op.to_string(),
        task_id: id.clone(),
        idempotency_key: Some(key.to_string()),
        extra_data: xd,
        content_text: None,
        file_url: None,
        model_id: None,
    });
    tracing::debug!(op, task_id = %id, "clone task accepted");
    if is_async {
        webhook::spawn_for(sh, &id);
        return Ok(ok(json!({"taskId": id, "createdAt": created})));
    }
    Ok(sync_answer(sh, &id).await)
}

async fn sync_answer(sh: &Shared, id: &str) -> Response<Body> {
    match wait_terminal(sh, id).await {
        Some(t) if t.phase(sh.clock.now()) == Phase::Completed => ok(final_data(sh, &t)),
        Some(_) => env_err(sh, 502, &format!("Task {id} failed upstream (simulated)")),
        None => env_err(sh, 502, &format!("Task {id} was deleted while running")),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum VoiceClass {
    System,
    Clone,
}

async fn tts_create(
    sh: &Arc<Shared>,
    m: &Map<String, Value>,
    key: &str,
    op: &'static str,
    reservation: KeyReservation,
) -> Result<Response<Body>, Rejection> {
    let is_async = op.ends_with("Async");
    let items = match m.get("data") {
        Some(Value::Array(a)) => a,
        None | Some(Value::Null) => return Err(bad("`data` is required")),
        Some(_) => return Err(bad("`data` must be an array")),
    };
    if items.is_empty() || items.len() > 50 {
        return Err(bad("`data` must have 1 to 50 items"));
    }
    let output_format = opt_str(m, "outputFormat")
        .map_err(bad)?
        .unwrap_or_else(|| "m4a".into());
    if !OUTPUT_FORMATS.contains(&output_format.as_str()) {
        return Err(bad("`outputFormat` must be one of wav, mp3, m4a"));
    }
    opt_bool(m, "trim").map_err(bad)?;
    match m.get("language") {
        None | Some(Value::Null) => {}
        Some(Value::Object(l)) => {
            opt_str(l, "target").map_err(|e| bad(format!("language: {e}")))?;
        }
        Some(_) => return Err(bad("`language` must be an object")),
    }
    let xd = if is_async {
        extra_data(m)?
    } else {
        m.get("extraData").filter(|v| v.is_object()).cloned()
    };
    let mut lines = Vec::new();
    let mut classes: Vec<(String, VoiceClass, Option<String>)> = Vec::new();
    {
        let st = sh.lock_state();
        for (i, item) in items.iter().enumerate() {
            let Value::Object(it) = item else {
                return Err(bad(format!("data[{i}] must be an object")));
            };
            let e = |msg: String| bad(format!("data[{i}]: {msg}"));
            let text = req_str(it, "text").map_err(e)?;
            let voice_id = opt_str(it, "voiceId").map_err(e)?.filter(|s| !s.is_empty());
            let timbre = opt_str(it, "timbreRefAudio")
                .map_err(e)?
                .filter(|s| !s.is_empty());
            if let Some(t) = &timbre
                && !is_https_url(t)
            {
                return Err(e("`timbreRefAudio` must be an HTTPS URL".into()));
            }
            if let Some(u) = opt_str(it, "emoRefAudio").map_err(e)?
                && !is_https_url(&u)
            {
                return Err(e("`emoRefAudio` must be an HTTPS URL".into()));
            }
            if let Some(w) = opt_f64(it, "emoWeight").map_err(e)?
                && !(0.0..=1.0).contains(&w)
            {
                return Err(e("`emoWeight` must be between 0 and 1".into()));
            }
            if let Some(d) = opt_f64(it, "duration").map_err(e)?
                && d <= 0.0
            {
                return Err(e("`duration` must be positive".into()));
            }
            opt_str(it, "emoPrompt").map_err(e)?;
            match (&voice_id, &timbre) {
                (None, None) => return Err(e("`voiceId` or `timbreRefAudio` is required".into())),
                (Some(v), _) => {
                    if let Some(sv) = SYSTEM_VOICES.iter().find(|s| s.voice_id == v) {
                        if timbre.is_some() {
                            return Err(e(format!(
                                "`timbreRefAudio` cannot be combined with system voice {v}"
                            )));
                        }
                        classes.push((v.clone(), VoiceClass::System, Some(sv.provider.into())));
                    } else if let Some(cv) = st.voices.get(v).filter(|x| !x.deleted) {
                        classes.push((v.clone(), VoiceClass::Clone, Some(cv.provider.clone())));
                    } else {
                        return Err(e(format!(
                            "voiceId {v} was found in neither the system nor the clone voice library"
                        )));
                    }
                }
                (None, Some(_)) => classes.push((String::new(), VoiceClass::Clone, None)),
            }
            lines.push(TtsLine { text });
        }
    }
    let has_sys = classes.iter().any(|c| c.1 == VoiceClass::System);
    let has_clone = classes.iter().any(|c| c.1 == VoiceClass::Clone);
    if has_sys && has_clone {
        return Err(bad(
            "System and cloned voices cannot be mixed in one request",
        ));
    }
    let mut providers: Vec<&(String, VoiceClass, Option<String>)> =
        classes.iter().filter(|c| c.2.is_some()).collect();
    providers.dedup_by(|a, b| a.2 == b.2);
    let distinct: std::collections::BTreeSet<&str> =
        providers.iter().filter_map(|c| c.2.as_deref()).collect();
    if distinct.len() > 1 {
        let mapping: Vec<String> = classes
            .iter()
            .filter(|c| !c.0.is_empty())
            .map(|c| format!("{}={}", c.0, c.2.as_deref().unwrap_or("")))
            .collect();
        return Err(bad(format!(
            "All voiceIds in one request must resolve to the same provider: {}",
            mapping.join(", ")
        )));
    }
    let now = sh.clock.now();
    let id = format!("task_{}", hex_id());
    let mut t = Task::new(
        id.clone(),
        TaskKind::VmegTts,
        now,
        sh.config.scaled(sh.config.tts_duration),
    );
    t.will_fail = sh.draw_task_failure();
    t.is_async = is_async;
    t.extra_data = if is_async { xd.clone() } else { None };
    t.output_format = output_format.clone();
    let n = lines.len();
    t.lines = lines;
    let created = sh.clock.iso(now);
    {
        let mut st = sh.lock_state();
        st.insert_task(t);
    }
    reservation.commit();
    sh.stats.create(CreateRecord {
        operation: op.to_string(),
        task_id: id.clone(),
        idempotency_key: Some(key.to_string()),
        extra_data: xd,
        content_text: None,
        file_url: None,
        model_id: None,
    });
    tracing::debug!(op, task_id = %id, lines = n, "tts task accepted");
    if is_async {
        webhook::spawn_for(sh, &id);
        return Ok(ok(json!({"taskId": id, "createdAt": created})));
    }
    Ok(sync_answer(sh, &id).await)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::config::SimConfig;
    use crate::server::lock;

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

    #[test]
    fn a_key_is_kept_only_when_its_request_succeeded() {
        let sh = Arc::new(Shared::new(SimConfig::default(), String::new()));
        reserved(&sh, "committed").commit();
        assert!(held(&sh, "committed"));
        drop(reserved(&sh, "rejected"));
        assert!(!held(&sh, "rejected"));
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

        // Rejections may consume the key when configured; a panic never does.
        let sh = Arc::new(Shared::new(
            SimConfig::default().with_vmeg_rejection_consumes_idempotency_key(true),
            String::new(),
        ));
        drop(reserved(&sh, "rejected"));
        assert!(held(&sh, "rejected"));
        let r = reserved(&sh, "panicked");
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _r = r;
            panic!("handler bug");
        }));
        assert!(!held(&sh, "panicked"));
    }
}
