//! VMEG Open API (Standalone): status table and wire shapes of results.

use std::time::Duration;

use serde::Deserialize;
use vmeg_client::types;

use crate::error::{Error, ErrorKind};
use crate::http::{HttpRequest, NamesTask, SYNC_TIMEOUT, Transport};
use crate::model::{
    CloneJob, CloneRequest, JobId, Provider, Speech, SpeechJob, SpeechRequest, SpeechSegment,
    TaskStatus, Voice,
};
use crate::retry::OperationKind;
use crate::validate;
use crate::webhook::{EXTRA_DATA_IDEMPOTENCY_KEY, EXTRA_DATA_NAMESPACE};
use crate::wire::{lenient_f64, lenient_string, parse_url, usable_id};

/// Request fields holding the caller's free text: summarized, never quoted.
const FREE_TEXT: &[&str] = &["sampleText", "text", "emoPrompt"];

const CLONE_ASYNC: &str = "/openapi/v1/task/clone-voice/create-async";
const CLONE_SYNC: &str = "/openapi/v1/task/clone-voice/create";
const TTS_ASYNC: &str = "/openapi/v1/task/tts/create-async";
const TTS_SYNC: &str = "/openapi/v1/task/tts/create";
const TASK_DETAIL: &str = "/openapi/v1/tasks/detail";
const VOICE_LIST: &str = "/openapi/v1/assets/voice/clone/list";
const VOICE_UPDATE: &str = "/openapi/v1/assets/voice/clone/update";
const VOICE_DELETE: &str = "/openapi/v1/assets/voice/clone/delete";
const LIST_PAGE_SIZE: i32 = 50;
const LIST_MAX_PAGES: i32 = 20;

/// VMEG status string -> [`TaskStatus`]. Documented (media translation and App-Synced):
/// `running`, `finished`, `failed`. Everything else here is an assumption.
pub(crate) fn map_status(raw: &str) -> TaskStatus {
    match raw.trim().to_ascii_lowercase().as_str() {
        "running" => TaskStatus::Running,
        "finished" => TaskStatus::Succeeded,
        "failed" => TaskStatus::Failed,
        "queued" | "queue" | "pending" | "waiting" | "created" | "submitted" | "accepted" => {
            TaskStatus::Queued
        }
        "processing" | "in_progress" | "in-progress" | "inprogress" | "started" => {
            TaskStatus::Running
        }
        "success" | "succeeded" | "successful" | "completed" | "complete" | "done" => {
            TaskStatus::Succeeded
        }
        "error" | "fail" | "failure" | "cancelled" | "canceled" | "timeout" | "timed_out"
        | "expired" => TaskStatus::Failed,
        _ => TaskStatus::Unknown(raw.to_owned()),
    }
}

/// Clone result: sync response `data`, webhook `data`, and (assumed) `tasks/detail` `result`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CloneResult {
    #[serde(default, deserialize_with = "lenient_string")]
    pub(crate) task_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(crate) voice_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(crate) voice_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(crate) created_at: Option<String>,
}

impl NamesTask for CloneResult {
    fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }
}

impl CloneResult {
    pub(crate) fn voice(&self) -> Option<Voice> {
        let id = usable_id(self.voice_id.as_deref())?;
        let mut voice = Voice::new(Provider::Vmeg, id);
        if let Some(name) = self.voice_name.as_deref().filter(|n| !n.is_empty()) {
            voice = voice.with_name(name);
        }
        if let Some(t) = self
            .created_at
            .as_deref()
            .and_then(crate::time::parse_iso8601)
        {
            voice = voice.with_created_at(t);
        }
        Some(voice)
    }

    /// A job in `status`, with the voice when the result names one.
    pub(crate) fn into_job(
        self,
        fallback_id: Option<&JobId>,
        status: TaskStatus,
    ) -> Option<CloneJob> {
        let id = task_id_or(self.task_id.as_deref(), fallback_id)?;
        let mut job = CloneJob::new(Provider::Vmeg, id, status);
        if let Some(v) = self.voice() {
            job = job.with_voice(v);
        }
        if let Some(t) = parsed_time(self.created_at.as_deref()) {
            job = job.with_created_at(t);
        }
        Some(job)
    }
}

/// The task id a result names, else the one the caller asked about.
fn task_id_or(task_id: Option<&str>, fallback: Option<&JobId>) -> Option<JobId> {
    usable_id(task_id)
        .map(JobId::new)
        .or_else(|| fallback.cloned())
}

fn parsed_time(iso8601: Option<&str>) -> Option<std::time::SystemTime> {
    iso8601.and_then(crate::time::parse_iso8601)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TtsLine {
    #[serde(default, deserialize_with = "lenient_string")]
    pub(crate) uri: Option<String>,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub(crate) duration: Option<f64>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(crate) error_message: Option<String>,
}

/// TTS result: sync response `data` and webhook `data` (`{taskId, results[], createdAt}`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TtsResult {
    #[serde(default, deserialize_with = "lenient_string")]
    pub(crate) task_id: Option<String>,
    #[serde(default)]
    pub(crate) results: Option<Vec<TtsLine>>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(crate) created_at: Option<String>,
}

impl NamesTask for TtsResult {
    fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }
}

impl TtsResult {
    pub(crate) fn speech(&self) -> Option<Speech> {
        let lines = self.results.as_ref()?;
        let segments: Vec<SpeechSegment> = lines
            .iter()
            .map(|l| {
                SpeechSegment::new(
                    parse_url("results[].uri", l.uri.as_deref()),
                    l.duration
                        .filter(|d| *d >= 0.0 && *d < 1e9)
                        .map(Duration::from_secs_f64),
                    l.error_message.clone().filter(|m| !m.trim().is_empty()),
                )
            })
            .collect();
        let urls = segments.iter().filter_map(|s| s.url.clone()).collect();
        Some(Speech::new(urls).with_segments(segments))
    }

    pub(crate) fn into_job(
        self,
        fallback_id: Option<&JobId>,
        status: TaskStatus,
    ) -> Option<SpeechJob> {
        let id = task_id_or(self.task_id.as_deref(), fallback_id)?;
        let mut job = SpeechJob::new(Provider::Vmeg, id, status);
        if let Some(s) = self.speech() {
            job = job.with_speech(s);
        }
        if let Some(t) = parsed_time(self.created_at.as_deref()) {
            job = job.with_created_at(t);
        }
        Some(job)
    }
}

fn new_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `{"voiceclone": {"idempotencyKey": key}}`: lets a webhook be matched to its submit.
fn extra_data(key: &str) -> types::ExtraData {
    let mut inner = serde_json::Map::new();
    inner.insert(
        EXTRA_DATA_IDEMPOTENCY_KEY.into(),
        serde_json::Value::String(key.to_owned()),
    );
    let mut outer = serde_json::Map::new();
    outer.insert(
        EXTRA_DATA_NAMESPACE.into(),
        serde_json::Value::Object(inner),
    );
    types::ExtraData(outer)
}

fn engine(e: crate::model::VmegEngine) -> types::CloneEngine {
    use crate::model::VmegEngine::*;
    match e {
        V1 => types::CloneEngine::V1,
        V2 => types::CloneEngine::V2,
        V3 => types::CloneEngine::V3,
        V4 => types::CloneEngine::V4,
        V5 => types::CloneEngine::V5,
    }
}

fn output_format(f: crate::model::OutputFormat) -> types::OutputFormat {
    use crate::model::OutputFormat::*;
    match f {
        Wav => types::OutputFormat::Wav,
        Mp3 => types::OutputFormat::Mp3,
        M4a => types::OutputFormat::M4a,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Accepted {
    #[serde(default, deserialize_with = "lenient_string")]
    task_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    created_at: Option<String>,
}

impl NamesTask for Accepted {
    fn task_id(&self) -> Option<&str> {
        self.task_id.as_deref()
    }
}

/// The id of an accepted task (`call_create` has already refused an answer without one).
fn accepted_id(a: &Accepted) -> Result<JobId, Error> {
    usable_id(a.task_id.as_deref())
        .map(JobId::new)
        .ok_or_else(|| {
            Error::new(ErrorKind::InvalidResponse)
                .with_provider(Provider::Vmeg)
                .with_message("the answer has no taskId")
        })
}

/// Submits a clone (async by default, sync on request). Returns the job and the voice name used.
pub(crate) async fn clone_voice(
    t: &Transport,
    req: &CloneRequest,
    allow_private: bool,
) -> Result<CloneJob, Error> {
    let audio_url = validate::clone_request(req, Provider::Vmeg, allow_private)?;
    let key = req.idempotency_key.clone().unwrap_or_else(new_key);
    // VMEG's required fields are undocumented; a name is needed to find the voice later.
    let name = req.name.clone().unwrap_or_else(|| {
        format!(
            "voiceclone-{}",
            key.chars()
                .filter(char::is_ascii_alphanumeric)
                .take(12)
                .collect::<String>()
        )
    });
    let language = match &req.language {
        Some(l) => Some(validate::language_value(
            "language",
            l,
            Provider::Vmeg,
            None,
        )?),
        None => None,
    };
    let sync = req.synchronous == Some(true);
    let job = if sync {
        let body = types::CloneVoiceCreateRequest {
            provider: req.vmeg_engine.map(engine),
            ref_audio: Some(audio_url.to_string()),
            sample_language: language,
            sample_text: req.sample_text.clone(),
            voice_name: Some(name.clone()),
        };
        let http = HttpRequest::post_json(CLONE_SYNC, &body)?
            .idempotency_key(key.clone())
            .free_text(FREE_TEXT)
            .timeout(SYNC_TIMEOUT);
        let result: CloneResult = t
            .call_create("clone_voice", OperationKind::IdempotentWrite, http)
            .await?;
        let mut job = result
            .into_job(None, TaskStatus::Succeeded)
            .ok_or_else(|| {
                Error::new(ErrorKind::InvalidResponse)
                    .with_provider(Provider::Vmeg)
                    .with_message("the answer has no taskId")
            })?;
        if let Some(v) = job.voice.take() {
            job = job.with_voice(v.with_name(name.clone()));
        }
        job
    } else {
        let body = types::CloneVoiceCreateAsyncRequest {
            extra_data: Some(extra_data(&key)),
            provider: req.vmeg_engine.map(engine),
            ref_audio: Some(audio_url.to_string()),
            sample_language: language,
            sample_text: req.sample_text.clone(),
            voice_name: Some(name.clone()),
        };
        let http = HttpRequest::post_json(CLONE_ASYNC, &body)?
            .idempotency_key(key.clone())
            .free_text(FREE_TEXT);
        let accepted: Accepted = t
            .call_create("clone_voice", OperationKind::IdempotentWrite, http)
            .await?;
        let mut job = CloneJob::new(Provider::Vmeg, accepted_id(&accepted)?, TaskStatus::Queued);
        if let Some(at) = accepted
            .created_at
            .as_deref()
            .and_then(crate::time::parse_iso8601)
        {
            job = job.with_created_at(at);
        }
        job
    };
    Ok(job.with_name(name).with_idempotency_key(key))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    #[serde(default, deserialize_with = "lenient_string")]
    status: Option<String>,
    /// Free-form (UNKNOWN shape), decoded with `Detail` itself (not through a
    /// `serde_json::Value`, which would turn big numeric ids into floats).
    #[serde(default, deserialize_with = "crate::wire::lenient_struct")]
    result: Option<DetailResult>,
}

/// `tasks/detail` `result`: the fields either job kind may carry, and a failure reason under
/// any of the usual names (assumed).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DetailResult {
    #[serde(default, deserialize_with = "lenient_string")]
    task_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    voice_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    voice_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    created_at: Option<String>,
    #[serde(default)]
    results: Option<Vec<TtsLine>>,
    #[serde(default, deserialize_with = "lenient_string")]
    error_message: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    error: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    message: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    reason: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    error_msg: Option<String>,
}

impl DetailResult {
    fn reason(&self) -> Option<String> {
        [
            &self.error_message,
            &self.error,
            &self.message,
            &self.reason,
            &self.error_msg,
        ]
        .into_iter()
        .flatten()
        .find(|s| !s.trim().is_empty())
        .cloned()
    }

    fn into_clone(self) -> CloneResult {
        CloneResult {
            task_id: self.task_id,
            voice_id: self.voice_id,
            voice_name: self.voice_name,
            created_at: self.created_at,
        }
    }

    fn into_tts(self) -> TtsResult {
        TtsResult {
            task_id: self.task_id,
            results: self.results,
            created_at: self.created_at,
        }
    }
}

async fn detail(
    t: &Transport,
    operation: &'static str,
    id: &JobId,
) -> Result<(TaskStatus, Option<String>, DetailResult), Error> {
    validate::id("job_id", id.as_str())?;
    let http = HttpRequest::get(TASK_DETAIL).query("taskId", id.as_str());
    let d: Detail = t.call(operation, OperationKind::Read, http).await?;
    let status = match d.status.as_deref() {
        Some(raw) => map_status(raw),
        None => TaskStatus::Unknown(String::new()),
    };
    Ok((status, d.status, d.result.unwrap_or_default()))
}

pub(crate) async fn clone_status(t: &Transport, id: &JobId) -> Result<CloneJob, Error> {
    let (status, raw, result) = detail(t, "clone_status", id).await?;
    let reason = result.reason();
    let parsed = result.into_clone();
    let mut job = parsed
        .into_job(Some(id), status.clone())
        .unwrap_or_else(|| CloneJob::new(Provider::Vmeg, id.clone(), status.clone()));
    job.id = id.clone();
    if let Some(raw) = raw {
        job = job.with_vendor_status(raw);
    }
    if status == TaskStatus::Failed
        && let Some(r) = reason
    {
        job = job.with_error(r);
    }
    Ok(job)
}

pub(crate) async fn speech_status(t: &Transport, id: &JobId) -> Result<SpeechJob, Error> {
    let (status, raw, result) = detail(t, "speech_status", id).await?;
    let reason = result.reason();
    let parsed = result.into_tts();
    let mut job = parsed
        .into_job(Some(id), status.clone())
        .unwrap_or_else(|| SpeechJob::new(Provider::Vmeg, id.clone(), status.clone()));
    job.id = id.clone();
    if let Some(raw) = raw {
        job = job.with_vendor_status(raw);
    }
    if status == TaskStatus::Failed
        && let Some(r) = reason
    {
        job = job.with_error(r);
    }
    Ok(job)
}

pub(crate) async fn synthesize(t: &Transport, req: &SpeechRequest) -> Result<SpeechJob, Error> {
    validate::speech_request(req, Provider::Vmeg)?;
    let key = req.idempotency_key.clone().unwrap_or_else(new_key);
    let language = match &req.language {
        Some(l) => Some(types::TtsLanguage {
            target: Some(validate::language_value(
                "language",
                l,
                Provider::Vmeg,
                None,
            )?),
        }),
        None => None,
    };
    let lines: Vec<types::TtsLine> = req
        .lines
        .iter()
        .map(|l| types::TtsLine {
            duration: None,
            emo_prompt: req.emotion_prompt.clone(),
            emo_ref_audio: None,
            emo_weight: req.emotion_weight,
            text: l.text.clone(),
            timbre_ref_audio: None,
            voice_id: Some(l.voice_id.clone()),
        })
        .collect();
    let job = if req.synchronous == Some(true) {
        let body = types::TtsCreateRequest {
            data: lines,
            language,
            output_format: req.output_format.map(output_format),
            provider: None,
            trim: req.trim,
        };
        let http = HttpRequest::post_json(TTS_SYNC, &body)?
            .idempotency_key(key.clone())
            .free_text(FREE_TEXT)
            .timeout(SYNC_TIMEOUT);
        let result: TtsResult = t
            .call_create("synthesize", OperationKind::IdempotentWrite, http)
            .await?;
        result
            .into_job(None, TaskStatus::Succeeded)
            .ok_or_else(|| {
                Error::new(ErrorKind::InvalidResponse)
                    .with_provider(Provider::Vmeg)
                    .with_message("the answer has no taskId")
            })?
    } else {
        let body = types::TtsCreateAsyncRequest {
            data: lines,
            extra_data: Some(extra_data(&key)),
            language,
            output_format: req.output_format.map(output_format),
            provider: None,
            trim: req.trim,
        };
        let http = HttpRequest::post_json(TTS_ASYNC, &body)?
            .idempotency_key(key.clone())
            .free_text(FREE_TEXT);
        let accepted: Accepted = t
            .call_create("synthesize", OperationKind::IdempotentWrite, http)
            .await?;
        let mut job = SpeechJob::new(Provider::Vmeg, accepted_id(&accepted)?, TaskStatus::Queued);
        if let Some(at) = accepted
            .created_at
            .as_deref()
            .and_then(crate::time::parse_iso8601)
        {
            job = job.with_created_at(at);
        }
        job
    };
    Ok(job.with_idempotency_key(key))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListedVoice {
    #[serde(default, deserialize_with = "lenient_string")]
    voice_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    task_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    audio: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    create_time: Option<String>,
}

impl ListedVoice {
    fn voice(&self) -> Option<Voice> {
        let id = usable_id(self.voice_id.as_deref())?;
        let mut v = Voice::new(Provider::Vmeg, id);
        if let Some(n) = self.name.as_deref().filter(|n| !n.is_empty()) {
            v = v.with_name(n);
        }
        if let Some(u) = parse_url("audio", self.audio.as_deref()) {
            v = v.with_preview_url(u);
        }
        if let Some(at) = self
            .create_time
            .as_deref()
            .and_then(crate::time::parse_iso8601)
        {
            v = v.with_created_at(at);
        }
        Some(v)
    }
}

#[derive(Debug, Default, Deserialize)]
struct ListPage {
    #[serde(default)]
    records: Option<Vec<ListedVoice>>,
    #[serde(default, deserialize_with = "crate::wire::lenient_i64")]
    total: Option<i64>,
}

/// Walks the cloned-voice list (a read: a fresh idempotency key per request), calling `stop`
/// on each record until it returns true or the pages run out.
async fn walk_voices(
    t: &Transport,
    operation: &'static str,
    search_name: Option<&str>,
    mut stop: impl FnMut(&ListedVoice) -> bool,
) -> Result<(), Error> {
    let mut seen: i64 = 0;
    for page in 1..=LIST_MAX_PAGES {
        let body = types::CloneVoiceListRequest {
            current_page: Some(page.into()),
            page_size: Some(LIST_PAGE_SIZE.into()),
            search_name: search_name.map(str::to_owned),
            ..Default::default()
        };
        let http = HttpRequest::post_json(VOICE_LIST, &body)?
            .idempotency_key(new_key())
            .timeout(crate::http::READ_TIMEOUT);
        let data: ListPage = t.call(operation, OperationKind::Read, http).await?;
        let records = data.records.unwrap_or_default();
        if records.is_empty() {
            return Ok(());
        }
        seen += i64::try_from(records.len()).unwrap_or(i64::MAX);
        for r in &records {
            if stop(r) {
                return Ok(());
            }
        }
        if data.total.is_some_and(|total| seen >= total)
            || records.len() < usize::try_from(LIST_PAGE_SIZE).unwrap_or(usize::MAX)
        {
            return Ok(());
        }
    }
    Ok(())
}

pub(crate) async fn list_voices(t: &Transport) -> Result<Vec<Voice>, Error> {
    let mut out = Vec::new();
    walk_voices(t, "list_voices", None, |r| {
        if let Some(v) = r.voice() {
            out.push(v);
        }
        false
    })
    .await?;
    Ok(out)
}

/// The voice a finished clone task made, from the voice list entry whose `taskId` matches.
pub(crate) async fn voice_for_task(
    t: &Transport,
    id: &JobId,
    name: Option<&str>,
) -> Result<Voice, Error> {
    let mut found = None;
    walk_voices(t, "wait_for_clone", name, |r| {
        if r.task_id.as_deref() == Some(id.as_str()) {
            found = r.voice();
        }
        found.is_some()
    })
    .await?;
    found.ok_or_else(|| {
        Error::new(ErrorKind::NotFound)
            .with_provider(Provider::Vmeg)
            .with_operation("wait_for_clone")
            .with_message(format!("task {id} finished but no voice in the clone list carries its taskId; check list_voices()"))
    })
}

pub(crate) async fn rename_voice(t: &Transport, voice_id: &str, name: &str) -> Result<(), Error> {
    validate::id("voice_id", voice_id)?;
    validate::non_blank("name", name)?;
    let body = types::CloneVoiceUpdateRequest {
        voice_id: Some(voice_id.to_owned()),
        voice_name: Some(name.to_owned()),
    };
    let http = HttpRequest::post_json(VOICE_UPDATE, &body)?.idempotency_key(new_key());
    let _: serde_json::Value = t
        .call("rename_voice", OperationKind::IdempotentWrite, http)
        .await?;
    Ok(())
}

pub(crate) async fn delete_voice(t: &Transport, voice_id: &str) -> Result<(), Error> {
    validate::id("voice_id", voice_id)?;
    let body = types::CloneVoiceDeleteRequest {
        voice_id: Some(voice_id.to_owned()),
    };
    let http = HttpRequest::post_json(VOICE_DELETE, &body)?.idempotency_key(new_key());
    let _: serde_json::Value = t
        .call("delete_voice", OperationKind::IdempotentWrite, http)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn status_table() {
        for (raw, want) in [
            ("running", TaskStatus::Running),
            ("finished", TaskStatus::Succeeded),
            ("failed", TaskStatus::Failed),
            ("FINISHED", TaskStatus::Succeeded),
            ("queued", TaskStatus::Queued),
            ("pending", TaskStatus::Queued),
            ("processing", TaskStatus::Running),
            ("success", TaskStatus::Succeeded),
            ("succeeded", TaskStatus::Succeeded),
            ("completed", TaskStatus::Succeeded),
            ("error", TaskStatus::Failed),
            ("cancelled", TaskStatus::Failed),
            ("archived", TaskStatus::Unknown("archived".into())),
        ] {
            assert_eq!(map_status(raw), want, "{raw}");
        }
    }

    #[test]
    fn tts_result_keeps_failed_lines() {
        let r: TtsResult = serde_json::from_value(serde_json::json!({
            "taskId": "t1", "createdAt": "2025-01-01T00:00:00Z", "extra": true,
            "results": [{"uri": "https://cdn/a.m4a", "duration": "1.5"}, {"errorMessage": "bad voice", "duration": null}]
        }))
        .unwrap();
        let job = r.into_job(None, TaskStatus::Succeeded).unwrap();
        let speech = job.speech.unwrap();
        assert_eq!(speech.audio_urls.len(), 1);
        assert_eq!(speech.segments.len(), 2);
        assert_eq!(
            speech.segments[0].duration,
            Some(Duration::from_millis(1500))
        );
        assert_eq!(speech.segments[1].error.as_deref(), Some("bad voice"));
        assert!(job.created_at.is_some());
    }

    #[test]
    fn clone_result_voice() {
        let r: CloneResult =
            serde_json::from_value(serde_json::json!({"taskId": 12, "voiceId": "cv_1"})).unwrap();
        let job = r.into_job(None, TaskStatus::Succeeded).unwrap();
        assert_eq!(job.id.as_str(), "12");
        assert_eq!(job.voice.unwrap().id, "cv_1");
        let r = CloneResult::default();
        assert!(r.into_job(None, TaskStatus::Failed).is_none());
    }
}
