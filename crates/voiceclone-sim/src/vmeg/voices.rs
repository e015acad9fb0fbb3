//! The VMEG voice library: clone voice list, update, delete; system voices.

use axum::body::Body;
use axum::http::Response;
use serde_json::{Map, Value, json};

use crate::shared::Shared;
use crate::state::SYSTEM_VOICES;
use crate::wire::{opt_str, req_str};

use super::{Rejection, bad, ok};

/// The longest texts a clone's voice keeps, in bytes (UTF-8); longer ones are refused
/// with 400 naming the field. VMEG's own limits are UNKNOWN (api-facts A7, A17.3): these
/// are tolerant (the material `fileName`'s 1024 is the precedent; a presigned URL can
/// pass 1 KiB, a transcript of minutes of speech several). Unbounded, a client could store
/// megabytes per voice, and every `clone/list` row and name search paid for them under
/// the state lock.
pub(super) const MAX_VOICE_NAME_BYTES: usize = 1024;
/// See [`MAX_VOICE_NAME_BYTES`].
pub(super) const MAX_SAMPLE_LANGUAGE_BYTES: usize = 1024;
/// See [`MAX_VOICE_NAME_BYTES`].
pub(super) const MAX_SAMPLE_TEXT_BYTES: usize = 16 * 1024;
/// See [`MAX_VOICE_NAME_BYTES`].
pub(super) const MAX_REF_AUDIO_BYTES: usize = 8 * 1024;

/// The 400 naming `field` when `value` is longer than `max` bytes.
pub(super) fn bounded(field: &str, value: &str, max: usize) -> Result<(), Rejection> {
    if value.len() > max {
        return Err(bad(format!(
            "`{field}` must be at most {max} bytes (UTF-8); it has {}",
            value.len()
        )));
    }
    Ok(())
}
use super::{page_of, paginate};

pub(super) fn voice_json(sh: &Shared, v: &crate::state::Voice) -> Value {
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

pub(super) fn clone_list(sh: &Shared, m: &Map<String, Value>) -> Result<Value, Rejection> {
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
    // A set: the list may hold a quarter of a million ids (1 MiB body), checked
    // against every voice under the state lock.
    let voice_ids: Option<std::collections::HashSet<&str>> = voice_ids
        .as_ref()
        .map(|xs| xs.iter().map(String::as_str).collect());
    let (page, size) = page_of(m)?;
    let st = sh.lock_state();
    // The matching voices by reference; only the page's rows are built (two dates each),
    // under the state lock: building every row first cost ~10 us a voice per request.
    let matching: Vec<_> = st
        .voice_order
        .iter()
        .rev()
        .filter_map(|id| st.voices.get(id))
        .filter(|v| {
            voice_id
                .as_ref()
                .is_none_or(|x| x.is_empty() || *x == v.voice_id)
        })
        .filter(|v| {
            voice_ids
                .as_ref()
                .is_none_or(|xs| xs.is_empty() || xs.contains(v.voice_id.as_str()))
        })
        .filter(|v| {
            search
                .as_ref()
                .is_none_or(|s| v.name_folded.contains(s.as_str()))
        })
        .collect();
    let records: Vec<Value> = paginate(&matching, page, size)
        .into_iter()
        .map(|v| voice_json(sh, v))
        .collect();
    Ok(json!({"records": records, "total": matching.len()}))
}

pub(super) fn basic_list(m: &Map<String, Value>) -> Result<Value, Rejection> {
    let (page, size) = page_of(m)?;
    let rows: Vec<Value> = SYSTEM_VOICES
        .iter()
        .map(|v| {
            json!({
                "voiceId": v.voice_id,
                "name": v.name,
                // The documented `BasicVoiceDto` fields (VMEG's published document).
                "displayName": v.name,
                "localName": v.name,
                "locale": v.language,
                "provider": v.provider,
                "language": v.language,
                "gender": v.gender,
            })
        })
        .collect();
    let total = rows.len();
    Ok(json!({"records": paginate(&rows, page, size), "total": total}))
}

pub(super) fn clone_update(
    sh: &Shared,
    m: &Map<String, Value>,
) -> Result<Response<Body>, Rejection> {
    let id = req_str(m, "voiceId").map_err(bad)?;
    let name = req_str(m, "voiceName").map_err(bad)?;
    bounded("voiceName", &name, MAX_VOICE_NAME_BYTES)?;
    let (mut st, now) = sh.lock_state_now();
    if st.rename_voice(&id, name, now) {
        Ok(ok(Value::Null))
    } else {
        Err((404, "Voice not found".into()))
    }
}

pub(super) fn clone_delete(
    sh: &Shared,
    m: &Map<String, Value>,
) -> Result<Response<Body>, Rejection> {
    let id = req_str(m, "voiceId").map_err(bad)?;
    if sh.lock_state().delete_voice(&id) {
        Ok(ok(Value::Null))
    } else {
        Err((404, "Voice not found".into()))
    }
}
