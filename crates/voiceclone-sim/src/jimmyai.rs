//! JimmyAI Open API "SoundClone" (`/api/open-api/v1/...`): preview clones,
//! production audio, task query, file upload, and the `modelId` lifecycle.
//! Envelope `{code, msg, data}`; success `code` 20000, `msg` "ok". No
//! idempotency: every accepted create is a new billable task.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Request, Response, header};
use serde_json::{Map, Value, json};

use crate::config::JimmyError;
use crate::faults::{FaultKind, FaultPlan};
use crate::respond::{bearer_ok, json_response};
use crate::shared::Shared;
use crate::state::{
    Phase, State, StoredFile, TASKS_FULL_RETRY_AFTER_SECS, Task, TaskKind, TasksFull, TtsLine,
    hex_id,
};
use crate::stats::Created;
use crate::wire::{BodyError, extension, is_http_url, opt_bool, opt_f64, opt_str, read_json};

const CLONE_FORMATS: [&str; 10] = [
    "mp3", "ogg", "wav", "m4a", "aac", "mp4", "avi", "mov", "mkv", "flv",
];
const UPLOAD_FORMATS: [&str; 20] = [
    "jpg", "jpeg", "png", "gif", "webp", "bmp", "svg", "mp4", "mov", "avi", "webm", "mkv", "m4v",
    "flv", "mp3", "wav", "aac", "m4a", "flac", "ogg",
];
const EMOTIONS: [&str; 7] = [
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgusted",
    "surprised",
    "neutral",
];
/// "100 MB" (api-facts B7), read as 100,000,000 bytes, as the client reads it: whether the
/// vendor means MiB is not documented.
const MAX_UPLOAD: usize = 100_000_000;
/// `contentText` of a production task: "at most 10,000" (English page), "under 10,000"
/// (Chinese page); the stricter reading, as the client's.
const MAX_AUDIO_CHARS: usize = 9_999;
/// A multipart upload's whole body: the file and 1 MiB for the rest.
const MAX_MULTIPART: usize = MAX_UPLOAD + 1024 * 1024;
/// A form field other than `file` (read and skipped).
const MAX_OTHER_FIELD: usize = 64 * 1024;
/// The headers of one multipart part.
const MAX_PART_HEADERS: usize = 16 * 1024;
const MAX_JSON: usize = 1024 * 1024;
/// The longest multipart boundary taken (RFC 2046: 1 to 70 characters).
const MAX_BOUNDARY: usize = 70;

fn code_value(sh: &Shared, code: i64) -> Value {
    if sh.config.jimmy_code_as_string {
        Value::String(code.to_string())
    } else {
        Value::from(code)
    }
}

/// Error envelope body.
pub(crate) fn envelope_err(sh: &Shared, code: i64, msg: &str) -> Value {
    json!({"code": code_value(sh, code), "msg": msg, "data": null})
}

fn ok(sh: &Shared, data: Value) -> Response<Body> {
    json_response(
        200,
        &json!({"code": code_value(sh, 20000), "msg": "ok", "data": data}),
    )
}

fn err(sh: &Shared, e: JimmyError, msg: &str) -> Response<Body> {
    json_response(e.http_status, &envelope_err(sh, e.code, msg))
}

/// Entry point for every `/api/open-api/v1/...` request.
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
        return crate::respond::closing(
            whole,
            err(sh, sh.config.jimmy_auth_error, "Invalid or missing API key"),
        );
    }
    let bad = sh.config.jimmy_bad_request;
    match op {
        "jimmyai.getAudio" => {
            let id = parts
                .uri
                .path()
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_string();
            // A body sent with the GET is read and dropped: unread, the answer would be
            // lost to a connection reset.
            crate::wire::drain(&parts, body, sh.config.body_read_timeout).await;
            get_audio(sh, plan, &crate::wire::decode_path_segment(&id))
        }
        "jimmyai.uploadFile" => {
            let mut stream = body.into_data_stream();
            match upload(sh, &parts.headers, &mut stream).await {
                Ok(r) => {
                    // A refusal (no boundary, busy, an unsupported file, over 100 MB,
                    // a malformed body) comes before the body was read: read what the
                    // client is still sending, so the answer reaches it instead of a
                    // reset connection. After a success, at most the closing boundary.
                    crate::wire::drain_polled(Body::new(stream), sh.config.body_read_timeout).await;
                    r
                }
                // Not received in time: answered at once, the connection closed.
                Err(timed_out) => timed_out,
            }
        }
        "jimmyai.createClone" | "jimmyai.createAudio" => {
            // `_parsing`: the body's room in the parse budget, held as long as `m`.
            let (m, _parsing) = match read_json(
                body,
                MAX_JSON,
                false,
                sh.config.body_read_timeout,
                &sh.json_budget,
            )
            .await
            {
                Ok(m) => m,
                Err(BodyError::Busy) => {
                    return err(
                        sh,
                        sh.config.jimmy_server_error,
                        "server busy: too many large request bodies at once, try again later \
                         (simulated)",
                    );
                }
                Err(BodyError::TimedOut) => {
                    return crate::respond::body_timeout(envelope_err(
                        sh,
                        bad.code,
                        "request body not received in time",
                    ));
                }
                Err(BodyError::TooLarge) => return err(sh, bad, "request body too large"),
                Err(BodyError::Malformed(msg)) => return err(sh, bad, &msg),
                Err(BodyError::Incomplete(why)) => {
                    return err(
                        sh,
                        bad,
                        &format!("request body could not be read whole: {why}"),
                    );
                }
            };
            let r = if op == "jimmyai.createClone" {
                create_clone(sh, &m)
            } else {
                create_audio(sh, &m)
            };
            match r {
                Ok(v) => ok(sh, v),
                Err(CreateErr::Bad(msg)) => err(sh, bad, &msg),
                Err(CreateErr::Full(TasksFull)) => tasks_full(sh),
            }
        }
        _ => {
            crate::wire::drain(&parts, body, sh.config.body_read_timeout).await;
            err(sh, sh.config.jimmy_not_found, "Not Found")
        }
    }
}

/// Why a create was refused.
enum CreateErr {
    /// Bad parameters ([`crate::SimConfig::jimmy_bad_request`]).
    Bad(String),
    /// No room for the task (see [`TasksFull`]): nothing billed.
    Full(TasksFull),
}

impl From<String> for CreateErr {
    fn from(msg: String) -> Self {
        Self::Bad(msg)
    }
}

/// HTTP 503 with the server-error code ([`crate::SimConfig::jimmy_server_error`]) and
/// `Retry-After`: the task table is full of tasks still awaited (see [`TasksFull`]).
fn tasks_full(sh: &Shared) -> Response<Body> {
    let mut r = json_response(
        503,
        &envelope_err(
            sh,
            sh.config.jimmy_server_error.code,
            "Service busy: too many tasks still in progress (simulated max_tasks / max_task_bytes); retry later",
        ),
    );
    if let Ok(v) = HeaderValue::from_str(&TASKS_FULL_RETRY_AFTER_SECS.to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// Validate `<#x#>` pause markers (0.01 <= x <= 99.99, at most 2 decimals).
fn check_pauses(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some((_, after)) = rest.split_once("<#") {
        let Some((inner, next)) = after.split_once("#>") else {
            return Err("malformed pause marker: `<#` without `#>`".into());
        };
        let valid_shape = {
            let (int, frac) = match inner.split_once('.') {
                Some((i, f)) => (i, Some(f)),
                None => (inner, None),
            };
            !int.is_empty()
                && int.len() <= 2
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.is_none_or(|f| {
                    !f.is_empty() && f.len() <= 2 && f.bytes().all(|b| b.is_ascii_digit())
                })
        };
        let v: f64 = inner.parse().unwrap_or(-1.0);
        if !valid_shape || !(0.01..=99.99).contains(&v) {
            return Err(format!(
                "malformed pause marker `<#{inner}#>`: x must be 0.01 to 99.99 with at most 2 decimals"
            ));
        }
        rest = next;
    }
    Ok(())
}

fn check_common(m: &Map<String, Value>) -> Result<(), String> {
    if let Some(v) = opt_str(m, "soundVersion")?
        && v != "v1"
        && v != "v2"
    {
        return Err("`soundVersion` must be v1 or v2".into());
    }
    opt_str(m, "language")?;
    Ok(())
}

fn new_task_id() -> String {
    format!("audio_{}", uuid::Uuid::new_v4())
}

/// What a preview clone "says" when the request gave no `contentText`.
const PREVIEW_TEXT: &str = "This is a preview of the cloned voice.";

fn created_data(sh: &Shared, t: &Task, model: &str) -> Value {
    json!({
        "id": t.id,
        "object": "audio",
        "created": sh.clock.unix_secs(t.created),
        "model": model,
        "status": "queued",
        "error": null,
    })
}

/// The longest `fileUrl` taken (bytes), as VMEG's `refAudio`: unbounded, up to the 1 MiB
/// body was kept by the task and its create record.
const MAX_FILE_URL_BYTES: usize = 8 * 1024;

fn create_clone(sh: &Shared, m: &Map<String, Value>) -> Result<Value, CreateErr> {
    let file_url = match opt_str(m, "fileUrl")? {
        Some(u) if !u.trim().is_empty() => u,
        _ => return Err(CreateErr::Bad("`fileUrl` is required".into())),
    };
    if file_url.len() > MAX_FILE_URL_BYTES {
        return Err(CreateErr::Bad(format!(
            "`fileUrl` must be at most {MAX_FILE_URL_BYTES} bytes; it has {}",
            file_url.len()
        )));
    }
    if !is_http_url(&file_url) || !file_url.is_ascii() {
        return Err(CreateErr::Bad(
            "`fileUrl` must be a public http(s) URL without non-ASCII characters".into(),
        ));
    }
    if let Some(ext) = extension(&file_url)
        && !CLONE_FORMATS.contains(&ext.as_str())
    {
        return Err(CreateErr::Bad(format!(
            "unsupported file format `{ext}`; expected one of {}",
            CLONE_FORMATS.join(", ")
        )));
    }
    let content = opt_str(m, "contentText")?;
    if let Some(c) = &content {
        if c.chars().count() > 270 {
            return Err(CreateErr::Bad(
                "`contentText` must be at most 270 characters".into(),
            ));
        }
        check_pauses(c)?;
    }
    check_common(m)?;
    let id = new_task_id();
    // Dated under the lock that inserts the task, and counted under it too: a reader of
    // the state never sees a task not billed yet (the recorder's locks are leaves).
    let (mut st, now) = sh.lock_state_now();
    let mut t = Task::new(
        id.clone(),
        TaskKind::JimmyClone,
        now,
        sh.config.scaled(sh.config.clone_duration),
    );
    // Drawn whatever the audio, so later draws stay those of the seed.
    t.will_fail = sh.draw_task_failure();
    if let Some(why) = stored_speech_out_of_range(sh, &st, &file_url) {
        t.will_fail = true;
        t.fail_reason = Some(why);
    }
    t.is_async = true;
    t.model_id = Some(format!("mdl_{}", hex_id()));
    t.ref_audio = file_url.clone();
    t.lines = vec![TtsLine {
        text: content.clone().unwrap_or_else(|| PREVIEW_TEXT.into()),
    }];
    let data = created_data(sh, &t, "soundCloningClone");
    st.insert_task(t).map_err(CreateErr::Full)?;
    sh.stats.create(Created {
        operation: "jimmyai.createClone".into(),
        task_id: id.clone(),
        idempotency_key: None,
        extra_data: None,
        content_text: content.map(Into::into),
        file_url: Some(file_url.into()),
        model_id: None,
        body_digest: None,
    });
    drop(st);
    tracing::debug!(task_id = %id, "jimmyai preview clone accepted");
    Ok(data)
}

/// The speech a preview clone needs, in milliseconds, bounds excluded: "more than 15 s and
/// less than 60 s" (api-facts B4, CONFIRMED).
const CLONE_SPEECH_MS: (u64, u64) = (15_000, 60_000);

/// Why a clone of `file_url` fails, when it names a WAV file the simulator holds (an
/// upload, or a VMEG material: `/sim/files/{name}` under its base URL) whose duration is
/// outside [`CLONE_SPEECH_MS`]. The whole file's duration stands for its speech. Any other
/// URL, an unreadable WAV or another format is not checked (the simulator fetches
/// nothing), nor are the results it generates.
///
/// Whether JimmyAI refuses such a file at the create or fails its task is UNKNOWN: the
/// task fails, as "must last" describes the audio the task processes (the crate docs'
/// table). Either way voiceclone's own check (`rules::clone_duration`) is what guards a caller.
fn stored_speech_out_of_range(sh: &Shared, st: &State, file_url: &str) -> Option<String> {
    let name = file_url
        .strip_prefix(sh.base_url.as_str())?
        .strip_prefix("/sim/files/")?
        .split(['?', '#'])
        .next()?;
    let ms = crate::audio::wav_duration_ms(&st.files.get(name)?.bytes)?;
    let (min, max) = CLONE_SPEECH_MS;
    if ms > min && ms < max {
        return None;
    }
    Some(format!(
        "speech must last more than 15 s and less than 60 s (simulated): the file lasts {}.{} s",
        ms / 1000,
        ms % 1000 / 100
    ))
}

fn create_audio(sh: &Shared, m: &Map<String, Value>) -> Result<Value, CreateErr> {
    let model_id = match opt_str(m, "modelId")? {
        Some(s) if !s.trim().is_empty() => s,
        _ => return Err(CreateErr::Bad("`modelId` is required".into())),
    };
    let content = match opt_str(m, "contentText")? {
        Some(s) if !s.trim().is_empty() => s,
        _ => return Err(CreateErr::Bad("`contentText` is required".into())),
    };
    if content.chars().count() > MAX_AUDIO_CHARS {
        return Err(CreateErr::Bad(
            "`contentText` must be under 10000 characters".into(),
        ));
    }
    check_pauses(&content)?;
    check_common(m)?;
    if let Some(e) = opt_str(m, "emotion")?
        && !EMOTIONS.contains(&e.as_str())
    {
        return Err(CreateErr::Bad(format!(
            "`emotion` must be one of {}",
            EMOTIONS.join(", ")
        )));
    }
    if let Some(s) = opt_f64(m, "speed")?
        && !(0.5..=2.0).contains(&s)
    {
        return Err(CreateErr::Bad("`speed` must be in [0.5, 2]".into()));
    }
    if let Some(v) = opt_f64(m, "vol")?
        && !(v > 0.0 && v <= 10.0)
    {
        return Err(CreateErr::Bad("`vol` must be in (0, 10]".into()));
    }
    match m.get("pitch") {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) => match n.as_i64() {
            Some(p) if (-12..=12).contains(&p) => {}
            _ => {
                return Err(CreateErr::Bad(
                    "`pitch` must be an integer in [-12, 12]".into(),
                ));
            }
        },
        Some(_) => {
            return Err(CreateErr::Bad(
                "`pitch` must be an integer in [-12, 12]".into(),
            ));
        }
    }
    let subtitles = opt_bool(m, "subtitleEnable")?.unwrap_or(false);
    if let Some(st) = opt_str(m, "subtitleType")?
        && st != "word"
    {
        return Err(CreateErr::Bad(
            "`subtitleType` must be `word` (omit it for sentence-level)".into(),
        ));
    }
    let id = new_task_id();
    // The expiry is checked, and the task dated and counted, at the time read under the
    // lock: read before it, a model that expired while this waited for the lock (the
    // clock moved by hand) was still accepted and billed.
    let (mut st, now) = sh.lock_state_now();
    let data = {
        let validity = sh.config.jimmy_model_validity;
        match st.models.get(&model_id) {
            Some(model) => {
                if !model.activated && now > model.ready_at.saturating_add(validity) {
                    return Err(CreateErr::Bad(format!(
                        "modelId {model_id} expired: it was not activated within its validity window"
                    )));
                }
            }
            None => {
                let pending = st.pending_models.contains(&model_id);
                return Err(CreateErr::Bad(if pending {
                    format!("modelId {model_id} is not ready: the preview task has not completed")
                } else {
                    format!("modelId {model_id} not found")
                }));
            }
        }
        let mut t = Task::new(
            id.clone(),
            TaskKind::JimmyAudio,
            now,
            sh.config.scaled(sh.config.tts_duration),
        );
        t.is_async = true;
        t.subtitles = subtitles;
        t.model_id = Some(model_id.clone());
        t.will_fail = sh.draw_task_failure();
        t.lines = vec![TtsLine {
            text: content.clone(),
        }];
        let data = created_data(sh, &t, "soundCloningAudio");
        // Not activated here: the task activates the model when it completes
        // (`State::settle`), as the first *successful* call does (api-facts B5); a failed
        // one never does (whether it does at JimmyAI is not documented).
        st.insert_task(t).map_err(CreateErr::Full)?;
        data
    };
    sh.stats.create(Created {
        operation: "jimmyai.createAudio".into(),
        task_id: id.clone(),
        idempotency_key: None,
        extra_data: None,
        content_text: Some(content.into()),
        file_url: None,
        model_id: Some(model_id),
        body_digest: None,
    });
    drop(st);
    tracing::debug!(task_id = %id, "jimmyai production audio accepted");
    Ok(data)
}

fn get_audio(sh: &Shared, plan: &FaultPlan, id: &str) -> Response<Body> {
    let now = sh.clock.now();
    let st = sh.lock_state();
    let Some(t) = st
        .tasks
        .get(id)
        .filter(|t| matches!(t.kind, TaskKind::JimmyClone | TaskKind::JimmyAudio))
    else {
        drop(st);
        return err(
            sh,
            sh.config.jimmy_not_found,
            &format!("task {id} not found"),
        );
    };
    let phase = t.phase(now);
    let status = if plan.unknown_status {
        sh.stats.fault(FaultKind::UnknownStatus.name());
        "warming_up"
    } else {
        match phase {
            Phase::Queued => "queued",
            Phase::Processing => "processing",
            Phase::Completed => "completed",
            Phase::Failed => "failed",
        }
    };
    let preview = t.kind == TaskKind::JimmyClone;
    let mut data = json!({
        "id": t.id,
        "object": "audio",
        "created": sh.clock.unix_secs(t.created),
        "model": if preview { "soundCloningClone" } else { "soundCloningAudio" },
        "status": status,
        "error": null,
    });
    if let Value::Object(d) = &mut data {
        match phase {
            Phase::Completed => {
                if preview && let Some(mid) = &t.model_id {
                    d.insert("modelId".into(), json!(mid));
                }
                d.insert(
                    "audioUrl".into(),
                    json!(format!("{}/sim/files/{}.wav", sh.base_url, t.id)),
                );
                if t.subtitles {
                    d.insert(
                        "subtitleFile".into(),
                        json!(format!("{}/sim/files/{}.srt", sh.base_url, t.id)),
                    );
                }
            }
            Phase::Failed => {
                let why = t
                    .fail_reason
                    .as_deref()
                    .unwrap_or("task failed (simulated)");
                d.insert("error".into(), json!(why));
            }
            Phase::Queued | Phase::Processing => {}
        }
    }
    drop(st);
    ok(sh, data)
}

fn mime_for(ext: &str) -> &'static str {
    match ext {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "svg" => "image/svg+xml",
        "mp4" | "m4v" => "video/mp4",
        "mov" => "video/quicktime",
        "avi" => "video/x-msvideo",
        "webm" => "video/webm",
        "mkv" => "video/x-matroska",
        "flv" => "video/x-flv",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "aac" => "audio/aac",
        "m4a" => "audio/mp4",
        "flac" => "audio/flac",
        "ogg" => "audio/ogg",
        _ => "application/octet-stream",
    }
}

/// `POST files/upload`, reading from `body` within the body read timeout (`Err`: the
/// 408 when it was not received in time); what it leaves unread the caller drains.
async fn upload(
    sh: &Shared,
    headers: &HeaderMap,
    body: &mut axum::body::BodyDataStream,
) -> Result<Response<Body>, Response<Body>> {
    let bad = sh.config.jimmy_bad_request;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = match multer::parse_boundary(ct) {
        Ok(b) => b,
        Err(_) => return Ok(err(sh, bad, "expected multipart/form-data with a boundary")),
    };
    // multer takes a boundary of any length, and searching every frame for it costs work
    // in proportion: refused here, before an upload slot is taken.
    if boundary.len() > MAX_BOUNDARY {
        return Ok(err(
            sh,
            bad,
            &format!(
                "multipart boundary must be 1 to {MAX_BOUNDARY} characters (RFC 2046); it has {}",
                boundary.len()
            ),
        ));
    }
    // At most crate::bounds::MAX_CONCURRENT_UPLOADS bodies are buffered at once (each up to
    // 100 MB); the others wait here, within the body read timeout, and past it get the
    // vendor's server error ("busy"): slow uploads holding both slots made every other
    // upload wait behind all of them, far beyond its own timeout.
    let started = tokio::time::Instant::now();
    let wait = sh.config.body_read_timeout;
    let _permit = match tokio::time::timeout(wait, sh.upload_permits.acquire()).await {
        Ok(Ok(p)) => p,
        Ok(Err(_)) => return Ok(err(sh, sh.config.jimmy_server_error, "shutting down")),
        Err(_) => {
            return Ok(err(
                sh,
                sh.config.jimmy_server_error,
                "server busy: too many uploads at once, try again later (simulated)",
            ));
        }
    };
    let left = wait.saturating_sub(started.elapsed());
    tokio::time::timeout(left, receive(sh, body, boundary))
        .await
        .map_err(|_| {
            crate::respond::body_timeout(envelope_err(sh, bad.code, "upload not received in time"))
        })
}

/// The multipart body of an upload: the `file` part stored.
async fn receive(
    sh: &Shared,
    body: &mut axum::body::BodyDataStream,
    boundary: String,
) -> Response<Body> {
    let bad = sh.config.jimmy_bad_request;
    let delimiter = format!("\r\n--{boundary}").into_bytes();
    let parts = http_body_util::BodyDataStream::new(PartHeaderLimit::new(body, delimiter));
    // Without limits multer buffered a body of any size, and a part's headers without
    // end (rescanned as they grew: quadratic CPU) until the body read timeout.
    let limits = multer::SizeLimit::new()
        .whole_stream(MAX_MULTIPART as u64)
        .per_field(MAX_OTHER_FIELD as u64)
        .for_field("file", MAX_UPLOAD as u64);
    let mut mp = multer::Multipart::with_constraints(
        parts,
        boundary,
        multer::Constraints::new().size_limit(limits),
    );
    let too_large = |e: &multer::Error| {
        matches!(
            e,
            multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. }
        )
    };
    loop {
        let mut field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => return err(sh, bad, "form field `file` is required"),
            Err(e) if too_large(&e) => return err(sh, bad, "request body too large"),
            Err(e) => return err(sh, bad, &malformed(&e)),
        };
        if field.name() != Some("file") {
            continue;
        }
        let filename = field.file_name().unwrap_or("").to_string();
        let Some(ext) = extension(&filename).filter(|e| UPLOAD_FORMATS.contains(&e.as_str()))
        else {
            return err(
                sh,
                bad,
                &format!(
                    "unsupported file type; accepted: .{}",
                    UPLOAD_FORMATS.join(" .")
                ),
            );
        };
        // The vendor's 100 MB, or less when the simulator's upload store is smaller:
        // a file it cannot keep is refused before anything is evicted for it.
        let over_store = || {
            let msg = if sh.config.max_upload_bytes < MAX_UPLOAD {
                format!(
                    "file exceeds the simulator's upload store (max_upload_bytes: {} bytes)",
                    sh.config.max_upload_bytes
                )
            } else {
                "file exceeds the 100 MB limit".to_string()
            };
            err(sh, bad, &msg)
        };
        let limit = MAX_UPLOAD.min(sh.config.max_upload_bytes);
        let mut buf: Vec<u8> = Vec::new();
        loop {
            match field.chunk().await {
                Ok(Some(c)) => {
                    if buf.len().saturating_add(c.len()) > limit {
                        return over_store();
                    }
                    buf.extend_from_slice(&c);
                }
                Ok(None) => break,
                Err(e) if too_large(&e) => {
                    return err(sh, bad, "file exceeds the 100 MB limit");
                }
                Err(e) => return err(sh, bad, &malformed(&e)),
            }
        }
        let size = buf.len();
        let stored = format!("{}.{ext}", hex_id());
        let mime = mime_for(&ext);
        // Aged from the time read under the lock that stores it.
        let (mut st, now) = sh.lock_state_now();
        let kept = st.insert_upload(
            stored.clone(),
            StoredFile {
                bytes: Bytes::from(crate::wire::exact(buf)),
                mime: mime.into(),
                material: false,
                group: None,
            },
            now,
        );
        drop(st);
        if kept.is_err() {
            return over_store();
        }
        tracing::debug!(size, "file uploaded");
        return ok(
            sh,
            json!({
                "url": format!("{}/sim/files/{stored}", sh.base_url),
                "filename": filename,
                "size": size,
                "mime_type": mime,
            }),
        );
    }
}

/// The refusal of a multipart body multer could not read, naming why (multer's own
/// message for a failed read does not).
fn malformed(e: &multer::Error) -> String {
    match e {
        multer::Error::StreamReadFailed(why) => format!("malformed multipart body: {why}"),
        _ => format!("malformed multipart body: {e}"),
    }
}

/// An upload's body as multer reads it, refused (an error frame) once one part's headers
/// pass [`MAX_PART_HEADERS`]: multer has no such limit, and buffered headers without end,
/// searching the whole buffer again for their end at every chunk. Headers start after
/// each `delimiter` (`CRLF--boundary`; the body's start counts as following a CRLF) and
/// end at the first blank line; every byte is looked at once.
struct PartHeaderLimit<'a> {
    inner: &'a mut axum::body::BodyDataStream,
    delimiter: Vec<u8>,
    /// The last bytes of what was read not yet matched (shorter than the delimiter), so
    /// that a delimiter or a blank line split between chunks is found.
    tail: Vec<u8>,
    /// Stream offset of `tail`'s first byte (the body's first byte is at 2).
    tail_at: u64,
    /// Stream offset where the current part's headers began, while they are read.
    headers_from: Option<u64>,
}

impl<'a> PartHeaderLimit<'a> {
    fn new(inner: &'a mut axum::body::BodyDataStream, delimiter: Vec<u8>) -> Self {
        Self {
            inner,
            delimiter,
            tail: b"\r\n".to_vec(),
            tail_at: 0,
            headers_from: None,
        }
    }

    /// Looks at the next chunk: `Err` when a part's headers are too long.
    fn check(&mut self, chunk: &[u8]) -> Result<(), axum::Error> {
        let mut window = std::mem::take(&mut self.tail);
        window.extend_from_slice(chunk);
        let at = self.tail_at;
        let mut pos = 0;
        loop {
            let rest = window.get(pos..).unwrap_or_default();
            match self.headers_from {
                None => match find(rest, &self.delimiter) {
                    Some(i) => {
                        pos = pos.saturating_add(i).saturating_add(self.delimiter.len());
                        self.headers_from = Some(at.saturating_add(pos as u64));
                    }
                    None => break,
                },
                Some(from) => {
                    let found = find(rest, b"\r\n\r\n");
                    // Where the headers end, or how far they go in this chunk.
                    let end = found.map_or(window.len(), |i| pos.saturating_add(i));
                    if at.saturating_add(end as u64).saturating_sub(from) > MAX_PART_HEADERS as u64
                    {
                        return Err(axum::Error::new(format!(
                            "a part's headers exceed {MAX_PART_HEADERS} bytes"
                        )));
                    }
                    match found {
                        Some(_) => {
                            pos = end.saturating_add(4);
                            self.headers_from = None;
                        }
                        None => break,
                    }
                }
            }
        }
        // Keep what a match split between chunks may start with, never bytes already
        // matched.
        let keep = self.delimiter.len().saturating_sub(1);
        let from = window.len().saturating_sub(keep).max(pos);
        self.tail = window.get(from..).unwrap_or_default().to_vec();
        self.tail_at = at.saturating_add(from as u64);
        Ok(())
    }
}

/// Where `needle` first occurs in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(i) = hay.get(from..)?.iter().position(|&b| b == first) {
        let start = from.saturating_add(i);
        let after = start.saturating_add(1);
        // Cut off by the end: no later occurrence fits either.
        if hay.get(after..after.saturating_add(rest.len()))? == rest {
            return Some(start);
        }
        from = after;
    }
    None
}

impl axum::body::HttpBody for PartHeaderLimit<'_> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, axum::Error>>> {
        use std::task::Poll;
        let this = self.get_mut();
        let polled = std::pin::Pin::new(&mut *this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
            && let Err(e) = this.check(data)
        {
            return Poll::Ready(Some(Err(e)));
        }
        polled
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::state::JimmyModel;
    use std::time::Duration;

    /// A production create checked its `modelId`'s expiry against the time it read before
    /// waiting for the state lock: a model that expired while it waited (the clock moved
    /// by another test) was still accepted, billed, and would be activated.
    #[test]
    fn a_model_that_expired_while_the_create_waited_for_the_lock_is_refused() {
        let sh = Arc::new(Shared::new(crate::SimConfig::default(), String::new()));
        let validity = sh.config.jimmy_model_validity;
        let ready_at = sh.clock.now();
        sh.lock_state().models.insert(
            "mdl_1".into(),
            JimmyModel {
                ready_at,
                activated: false,
            },
        );
        sh.clock
            .advance(validity.saturating_sub(Duration::from_secs(60)));
        let mut m = Map::new();
        m.insert("modelId".into(), json!("mdl_1"));
        m.insert("contentText".into(), json!("hello"));
        let held = crate::shared::lock(&sh.state);
        let sh2 = sh.clone();
        let create = std::thread::spawn(move || create_audio(&sh2, &m).err());
        // Let the create reach the lock.
        std::thread::sleep(Duration::from_millis(300));
        sh.clock.advance(Duration::from_secs(120));
        drop(held);
        match create.join().unwrap() {
            Some(CreateErr::Bad(msg)) => assert!(msg.contains("expired"), "{msg}"),
            Some(CreateErr::Full(_)) => panic!("refused for room"),
            None => panic!("a create for a model expired before its lock was accepted"),
        }
        assert_eq!(sh.stats.billable_total(), 0);
    }

    /// A create inserted its task, released the state lock, then counted it: a reader
    /// under the lock (`tasks/list`, `task_count`) saw a task not billed yet. Now the
    /// create is counted under the lock that inserts its task.
    #[test]
    fn a_task_is_never_seen_before_its_create_is_billed() {
        let mut cfg = crate::SimConfig::default()
            .with_durations(Duration::from_secs(3600), Duration::from_secs(3600));
        cfg.max_tasks = 100_000;
        let sh = Arc::new(Shared::new(cfg, String::new()));
        const N: usize = 5_000;
        let sh2 = sh.clone();
        let creator = std::thread::spawn(move || {
            let mut m = Map::new();
            m.insert("fileUrl".into(), json!("https://example.com/a.wav"));
            for _ in 0..N {
                assert!(create_clone(&sh2, &m).is_ok());
            }
        });
        let mut torn = 0usize;
        loop {
            let st = crate::shared::lock(&sh.state);
            let tasks = st.tasks.len() as u64;
            let billed = sh.stats.billable_total();
            drop(st);
            if tasks != billed {
                torn += 1;
            }
            if tasks as usize == N || creator.is_finished() {
                break;
            }
        }
        creator.join().unwrap();
        assert_eq!(torn, 0, "{torn} looks saw a task not billed yet");
    }

    /// Feeds `body` to a [`PartHeaderLimit`] in chunks of `size`: `Err` at the chunk
    /// refused.
    fn scan(body: &[u8], size: usize) -> Result<(), axum::Error> {
        let mut stream = Body::empty().into_data_stream();
        let mut limit = PartHeaderLimit::new(&mut stream, b"\r\n--B".to_vec());
        body.chunks(size).try_for_each(|c| limit.check(c))
    }

    #[test]
    fn part_headers_are_limited_wherever_the_chunks_split() {
        let part = |headers: &str, data: &[u8]| {
            let mut p = format!(
                "Content-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n{headers}\r\n"
            )
            .into_bytes();
            p.extend_from_slice(data);
            p
        };
        let body = |parts: &[Vec<u8>]| {
            let mut b = Vec::new();
            for p in parts {
                b.extend_from_slice(b"--B\r\n");
                b.extend_from_slice(p);
                b.extend_from_slice(b"\r\n");
            }
            b.extend_from_slice(b"--B--\r\n");
            b
        };
        // Data that looks like the end of headers and half a delimiter, headers just
        // within the limit, and a small part after: accepted at any split.
        let pad = "X-Pad: ".to_string() + &"p".repeat(MAX_PART_HEADERS - 200);
        let data = [b"--B\r\n\r\nx".repeat(3000), vec![b'\r'; 5000]].concat();
        let fine = body(&[part(&pad, &data), part("", b"second")]);
        for size in [1, 2, 3, 5, 7, 64, 4096, fine.len()] {
            scan(&fine, size).unwrap_or_else(|e| panic!("chunks of {size}: {e}"));
        }
        // Headers without end, in the first part or a later one: refused, whatever the
        // chunks, once past the limit (not at the end of the body).
        let endless = "X-Pad: ".to_string() + &"p".repeat(MAX_PART_HEADERS * 4);
        for parts in [
            vec![part(&endless, b"")],
            vec![part("", b"first"), part(&endless, b"")],
        ] {
            let b = body(&parts);
            for size in [1, 3, 1000, b.len()] {
                let e = scan(&b, size).expect_err("refused");
                assert!(e.to_string().contains("headers exceed"), "{e}");
            }
            // The refusal comes within the limit (plus a chunk) of the headers' start.
            let head = b.get(..MAX_PART_HEADERS + 400).unwrap();
            assert!(scan(head, 100).is_err());
        }
    }

    /// Both upload slots taken for longer than the body read timeout: an upload waited
    /// for one until the outer timeout answered 408, blaming the client. Now it gets the
    /// vendor's server error, saying the simulator is busy.
    #[tokio::test]
    async fn an_upload_waiting_too_long_for_a_slot_is_told_busy() {
        let cfg = crate::SimConfig {
            body_read_timeout: std::time::Duration::from_millis(100),
            ..crate::SimConfig::default()
        };
        let sh = Shared::new(cfg, String::new());
        let _held = sh.upload_permits.acquire_many(2).await.unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "multipart/form-data; boundary=B".parse().unwrap(),
        );
        let mut body = Body::from("--B\r\n").into_data_stream();
        let resp = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            upload(&sh, &headers, &mut body),
        )
        .await
        .expect("answered within the body read timeout")
        .expect("not a 408");
        let bytes = axum::body::to_bytes(resp.into_body(), 4096).await.unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["code"], sh.config.jimmy_server_error.code, "{v}");
        assert!(v["msg"].as_str().unwrap().contains("busy"), "{v}");
    }

    /// The documented limits, read the strict way, as the client reads them: 100 MB as
    /// 100,000,000 bytes, "under 10,000" characters as 9,999 at most.
    #[test]
    fn limits_are_read_the_strict_way() {
        assert_eq!(MAX_UPLOAD, 100_000_000);
        assert_eq!(MAX_AUDIO_CHARS, 9_999);
    }

    #[test]
    fn pauses() {
        assert!(check_pauses("a <#0.5#> b <#99.99#> c <#1#>").is_ok());
        assert!(check_pauses("a <#0#> b").is_err());
        assert!(check_pauses("a <#100#> b").is_err());
        assert!(check_pauses("a <#0.001#> b").is_err());
        assert!(check_pauses("a <#x#> b").is_err());
        assert!(check_pauses("a <#1.5 b").is_err());
    }
}
