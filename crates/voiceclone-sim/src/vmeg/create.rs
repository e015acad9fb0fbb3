//! VMEG clone and TTS creates, sync and async.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Response;
use serde_json::{Map, Value, json};

use crate::results::final_data;
use crate::shared::{Reader, Shared};
use crate::state::{Phase, SYSTEM_VOICES, Task, TaskKind, TtsLine, hex_id};
use crate::stats::{Created, body_digest};
use crate::webhook;
use crate::wire::{is_https_url, opt_bool, opt_f64, opt_str, req_str};

use super::voices::{
    MAX_REF_AUDIO_BYTES, MAX_SAMPLE_LANGUAGE_BYTES, MAX_SAMPLE_TEXT_BYTES, MAX_VOICE_NAME_BYTES,
    bounded,
};
use super::{KeyReservation, Rejection, bad, env_err, ok};

const PROVIDERS: [&str; 5] = ["V1", "V2", "V3", "V4", "V5"];
const OUTPUT_FORMATS: [&str; 3] = ["wav", "mp3", "m4a"];

pub(super) fn extra_data(m: &Map<String, Value>) -> Result<Option<Arc<str>>, Rejection> {
    match m.get("extraData") {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(compact(v)),
        Some(_) => Err(bad("`extraData` must be an object")),
    }
}

/// `extraData` as kept: compact JSON text, about its size on the wire (a parsed
/// `Value` costs up to 32 times that).
fn compact(v: &Value) -> Option<Arc<str>> {
    serde_json::to_string(v).ok().map(Arc::from)
}

/// `extraData` of a sync create: ignored by the endpoint, still recorded in stats.
fn sync_extra_data(m: &Map<String, Value>) -> Option<Arc<str>> {
    m.get("extraData")
        .filter(|v| v.is_object())
        .and_then(compact)
}

/// A create accepted: its answer, or (sync) the task to wait for. The wait
/// is left to the caller so that the request's parsed body, many times its
/// size on the wire, is dropped before it.
pub(super) enum Accepted {
    Answered(Response<Body>),
    Wait { id: String, reader: Reader },
}

/// Validates and accepts a clone create; never waits for its task.
pub(super) fn clone_create(
    sh: &Arc<Shared>,
    m: &Map<String, Value>,
    key: &str,
    op: &'static str,
    reservation: &mut KeyReservation,
) -> Result<Accepted, Rejection> {
    let is_async = op.ends_with("Async");
    let ref_audio = req_str(m, "refAudio").map_err(bad)?;
    bounded("refAudio", &ref_audio, MAX_REF_AUDIO_BYTES)?;
    // UNKNOWN (A6b) whether a clone takes a material's `addressUrl`: by
    // default the simulator's own (plain-http) material URLs are accepted.
    let material = super::materials::is_material_url(sh, &ref_audio);
    if material && !sh.config.vmeg_clone_accepts_material_urls {
        return Err(bad(
            "`refAudio` cannot be a material URL: materials are not accepted as clone audio (simulated)",
        ));
    }
    if !material && !is_https_url(&ref_audio) {
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
    for (field, value, max) in [
        ("voiceName", &voice_name, MAX_VOICE_NAME_BYTES),
        (
            "sampleLanguage",
            &sample_language,
            MAX_SAMPLE_LANGUAGE_BYTES,
        ),
        ("sampleText", &sample_text, MAX_SAMPLE_TEXT_BYTES),
    ] {
        if let Some(v) = value {
            bounded(field, v, max)?;
        }
    }
    // Sync endpoints ignore extraData (CONFIRMED); it is still recorded in stats.
    let xd = if is_async {
        extra_data(m)?
    } else {
        sync_extra_data(m)
    };
    let digest = body_digest(&json!([
        "clone",
        ref_audio,
        voice_name,
        provider,
        sample_language,
        sample_text
    ]));
    // Dated under the lock that inserts the task, and counted under it too: a reader of
    // the state never sees a task not billed yet (the recorder's locks are leaves).
    let (mut st, now) = sh.lock_state_now();
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
    t.readers = readers(sh, is_async);
    let created = sh.clock.iso(now);
    if st.insert_task(t).is_err() {
        drop(st);
        // Nothing billed: the key goes back, whatever rejections do with keys.
        reservation.release();
        return Err(tasks_full());
    }
    let reader = Reader::new(sh.clone(), id.clone());
    reservation.commit();
    sh.stats.create(Created {
        operation: op.to_string(),
        task_id: id.clone(),
        idempotency_key: Some(key.to_string()),
        extra_data: xd,
        content_text: None,
        file_url: None,
        model_id: None,
        body_digest: digest,
    });
    drop(st);
    tracing::debug!(op, task_id = %id, "clone task accepted");
    if is_async {
        webhook::spawn_for(sh, &id, reader);
        return Ok(Accepted::Answered(ok(
            json!({"taskId": id, "createdAt": created}),
        )));
    }
    Ok(Accepted::Wait { id, reader })
}

/// The refusal of a create that found no room (see [`crate::state::TasksFull`]): HTTP 503
/// with `Retry-After` ([`super::env_err`]).
fn tasks_full() -> Rejection {
    (
        503,
        "Service busy: too many tasks still in progress (simulated max_tasks / max_task_bytes); retry later"
            .to_string(),
    )
}

/// Readers of a new task's terminal state: its sync answer, or its webhook
/// delivery when one is configured (see [`Task::readers`]).
fn readers(sh: &Shared, is_async: bool) -> u32 {
    u32::from(!is_async || sh.config.webhook.is_some())
}

pub(super) async fn sync_answer(sh: &Shared, id: &str, reader: Reader) -> Response<Body> {
    let task = sh.wait_terminal(id, Task::clone).await;
    drop(reader);
    let mut resp = match task {
        Some(t) if t.phase(sh.clock.now()) == Phase::Completed => ok(final_data(sh, &t)),
        Some(_) => env_err(sh, 502, &format!("Task {id} failed upstream (simulated)")),
        None => env_err(sh, 502, &format!("Task {id} was deleted while running")),
    };
    // A failure's `data` is null: the task made travels beside the answer, for a fault
    // injected after processing to name it whatever the answer says.
    resp.extensions_mut()
        .insert(crate::server::MadeTask(id.to_owned()));
    resp
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum VoiceClass {
    System,
    Clone,
}

/// Validates and accepts a TTS create; never waits for its task.
pub(super) fn tts_create(
    sh: &Arc<Shared>,
    m: &Map<String, Value>,
    key: &str,
    op: &'static str,
    reservation: &mut KeyReservation,
) -> Result<Accepted, Rejection> {
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
        sync_extra_data(m)
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
                    } else if let Some(cv) = st.voices.get(v) {
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
    let canonical: Vec<Value> = items
        .iter()
        .map(|it| json!([it.get("text"), it.get("voiceId"), it.get("timbreRefAudio")]))
        .collect();
    let digest = body_digest(&json!(["tts", output_format, canonical]));
    // Dated under the lock that inserts the task, and counted under it too: a reader of
    // the state never sees a task not billed yet (the recorder's locks are leaves).
    let (mut st, now) = sh.lock_state_now();
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
    t.readers = readers(sh, is_async);
    let created = sh.clock.iso(now);
    if st.insert_task(t).is_err() {
        drop(st);
        // Nothing billed: the key goes back, whatever rejections do with keys.
        reservation.release();
        return Err(tasks_full());
    }
    let reader = Reader::new(sh.clone(), id.clone());
    reservation.commit();
    sh.stats.create(Created {
        operation: op.to_string(),
        task_id: id.clone(),
        idempotency_key: Some(key.to_string()),
        extra_data: xd,
        content_text: None,
        file_url: None,
        model_id: None,
        body_digest: digest,
    });
    drop(st);
    tracing::debug!(op, task_id = %id, lines = n, "tts task accepted");
    if is_async {
        webhook::spawn_for(sh, &id, reader);
        return Ok(Accepted::Answered(ok(
            json!({"taskId": id, "createdAt": created}),
        )));
    }
    Ok(Accepted::Wait { id, reader })
}
