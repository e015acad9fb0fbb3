//! VMEG Open API (Standalone): status table, results as jobs, and the calls into the
//! generated `vmeg-client`.

use std::time::Duration;

use client_glue::Text;
use serde::Deserialize;
use vmeg_client::types;

use std::collections::HashMap;
use std::sync::Mutex;

pub(crate) mod rules;
pub(crate) mod webhook;

use super::{Backend, BoxFuture, Connect, Facts, WaitDefaults};
use crate::error::{Error, ErrorKind};
use crate::model::{
    CloneJob, CloneRequest, Job, JobId, Provider, Speech, SpeechJob, SpeechRequest, SpeechSegment,
    TaskStatus, Voice,
};
use crate::retry::OperationKind;
use crate::transport::{Call, Transport, envelopes};
use crate::validate;
use crate::wire::{lenient_string, parse_url, usable_id};
use webhook::{EXTRA_DATA_IDEMPOTENCY_KEY, EXTRA_DATA_NAMESPACE};

/// What the rest of the crate knows about VMEG.
pub(crate) const FACTS: Facts = Facts {
    name: "vmeg",
    default_base_url: "https://api.vmeg.ai",
    api_key_var: "VMEG_API_KEY",
    base_url_var: "VMEG_BASE_URL",
    success_code: 200,
    kind_for_code,
    set_engine: |req, engine| Ok(req.vmeg_engine(engine.parse()?)),
    codes_are_http_statuses: true,
    // No vendor guidance: 2 s growing by 1.5x to 10 s, 10 min deadline (a clone or a short
    // TTS batch normally finishes well inside that).
    wait: WaitDefaults {
        first_interval: Duration::from_secs(2),
        growth: 1.5,
        max_interval: Duration::from_secs(10),
        jitter: 0.1,
        deadline: Some(Duration::from_secs(10 * 60)),
        max_polls: Some(200),
    },
    connect,
};

/// Synchronous clone and TTS can take tens of seconds (App-Synced suggests ~120 s).
const SYNC_TIMEOUT: Duration = Duration::from_secs(180);
/// How many submitted clone names a client remembers (to find a voice by name later).
const REMEMBERED_NAMES: usize = 10_000;

/// VMEG business `code` (documented table: 400, 401, 402, 404, 409, 413, 422, 500, 502).
/// 403 (App-Synced "no plan"), 429, 503 and 504 are assumed by analogy.
pub(crate) fn kind_for_code(code: i64) -> Option<ErrorKind> {
    Some(match code {
        400 | 422 => ErrorKind::InvalidRequest,
        401 | 403 => ErrorKind::Unauthorized,
        402 => ErrorKind::PaymentRequired,
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        413 => ErrorKind::PayloadTooLarge,
        429 => ErrorKind::RateLimited,
        500 | 502 | 503 | 504 => ErrorKind::Server,
        _ => return None,
    })
}

fn connect(c: &Connect) -> Result<Box<dyn Backend>, Error> {
    let config = c.config(&[
        ("clone_voice_create_sync", SYNC_TIMEOUT),
        ("tts_create_sync", SYNC_TIMEOUT),
    ])?;
    Ok(Box::new(Vmeg {
        client: vmeg_client::Client::new_with_client(&c.base, c.http.clone(), config),
        names: Mutex::new(HashMap::new()),
    }))
}

/// The VMEG backend: its generated client, and the names of the clones it submitted (a
/// finished clone task does not always name its voice; the voice list is searched by name).
#[derive(Debug)]
pub(crate) struct Vmeg {
    client: vmeg_client::Client,
    names: Mutex<HashMap<JobId, String>>,
}

impl Vmeg {
    fn remember_name(&self, job: &CloneJob) {
        if let Some(name) = &job.name {
            let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
            if names.len() >= REMEMBERED_NAMES {
                names.clear();
            }
            names.insert(job.id.clone(), name.clone());
        }
    }

    fn remembered_name(&self, id: &JobId) -> Option<String> {
        self.names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }
}

impl Backend for Vmeg {
    fn clone_voice<'a>(
        &'a self,
        t: &'a Transport,
        req: &'a CloneRequest,
        allow_private: bool,
    ) -> BoxFuture<'a, Result<CloneJob, Error>> {
        Box::pin(async move {
            let job = clone_voice(t, &self.client, req, allow_private).await?;
            self.remember_name(&job);
            Ok(job)
        })
    }

    fn clone_status<'a>(
        &'a self,
        t: &'a Transport,
        id: &'a JobId,
    ) -> BoxFuture<'a, Result<CloneJob, Error>> {
        Box::pin(clone_status(t, &self.client, id))
    }

    fn cloned_voice<'a>(
        &'a self,
        t: &'a Transport,
        id: &'a JobId,
        job: CloneJob,
    ) -> BoxFuture<'a, Result<Voice, Error>> {
        Box::pin(async move {
            let remembered = self.remembered_name(id);
            match job.voice {
                Some(v) if v.name.is_none() => Ok(match remembered {
                    Some(name) => v.with_name(name),
                    None => v,
                }),
                Some(v) => Ok(v),
                None => voice_for_task(t, &self.client, id, remembered.as_deref()).await,
            }
        })
    }

    fn synthesize<'a>(
        &'a self,
        t: &'a Transport,
        req: &'a SpeechRequest,
    ) -> BoxFuture<'a, Result<SpeechJob, Error>> {
        Box::pin(synthesize(t, &self.client, req))
    }

    fn speech_status<'a>(
        &'a self,
        t: &'a Transport,
        id: &'a JobId,
    ) -> BoxFuture<'a, Result<SpeechJob, Error>> {
        Box::pin(speech_status(t, &self.client, id))
    }

    fn list_voices<'a>(&'a self, t: &'a Transport) -> BoxFuture<'a, Result<Vec<Voice>, Error>> {
        Box::pin(list_voices(t, &self.client))
    }

    fn rename_voice<'a>(
        &'a self,
        t: &'a Transport,
        voice_id: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(rename_voice(t, &self.client, voice_id, name))
    }

    fn delete_voice<'a>(
        &'a self,
        t: &'a Transport,
        voice_id: &'a str,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(delete_voice(t, &self.client, voice_id))
    }
}

/// Request fields holding the caller's free text: summarized, never quoted.
const FREE_TEXT: &[&str] = &["sampleText", "text", "emoPrompt"];

const LIST_PAGE_SIZE: i64 = 50;
const LIST_MAX_PAGES: i64 = 20;

envelopes! {
    types::CloneVoiceCreateSyncEnvelope => types::CloneVoiceCreateData, message;
    types::TaskAcceptedEnvelope => types::TaskAcceptedData, message;
    types::TtsCreateSyncEnvelope => types::TtsCreateData, message;
    types::TaskDetailEnvelope => types::TaskDetailData, message;
    types::CloneVoiceListEnvelope => types::CloneVoiceListData, message;
    types::VoidEnvelope => client_glue::RawJson, message;
}

/// Method and path of a generated operation, for a request summary.
fn route(rust_name: &str) -> (&'static str, &'static str) {
    vmeg_client::operation(rust_name).map_or(("POST", "?"), |op| (op.method, op.path))
}

fn text(t: Option<&Text>) -> Option<&str> {
    t.and_then(Text::as_str)
}

/// An idempotency key as the generated header type (1..=64 characters, checked earlier).
fn key_header<T: TryFrom<String>>(key: &str) -> Result<T, Error> {
    T::try_from(key.to_owned())
        .map_err(|_| Error::invalid_input("idempotency_key", "must be 1 to 64 characters"))
}

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

fn no_task_id() -> Error {
    Error::new(ErrorKind::InvalidResponse)
        .with_provider(Provider::Vmeg)
        .with_message("the answer has no taskId")
}

/// The task id a result names, else the one the caller asked about.
fn task_id_or(task_id: Option<&Text>, fallback: Option<&JobId>) -> Option<JobId> {
    usable_id(text(task_id))
        .map(JobId::new)
        .or_else(|| fallback.cloned())
}

fn parsed_time(iso8601: Option<&Text>) -> Option<std::time::SystemTime> {
    text(iso8601).and_then(crate::time::parse_iso8601)
}

/// A clone result (sync answer, webhook `data`, and, assumed, `tasks/detail` `result`) as a
/// job in `status`, with the voice when the result names one.
pub(crate) fn clone_job(
    data: &types::CloneVoiceCreateData,
    fallback_id: Option<&JobId>,
    status: TaskStatus,
) -> Option<CloneJob> {
    let id = task_id_or(data.task_id.as_ref(), fallback_id)?;
    let mut job = CloneJob::new(Provider::Vmeg, id, status);
    let created = parsed_time(data.created_at.as_ref());
    if let Some(voice_id) = usable_id(text(data.voice_id.as_ref())) {
        let mut voice = Voice::new(Provider::Vmeg, voice_id);
        if let Some(t) = created {
            voice = voice.with_created_at(t);
        }
        job = job.with_voice(voice);
    }
    if let Some(t) = created {
        job = job.with_created_at(t);
    }
    Some(job)
}

/// A TTS result's lines as speech (failed lines kept as segments with their error).
fn speech(data: &types::TtsCreateData) -> Speech {
    let segments: Vec<SpeechSegment> = data
        .results
        .iter()
        .map(|l| {
            SpeechSegment::new(
                parse_url("results[].uri", text(l.uri.as_ref())),
                l.duration
                    .and_then(|d| d.value())
                    .filter(|d| *d >= 0.0 && *d < 1e9)
                    .map(Duration::from_secs_f64),
                text(l.error_message.as_ref())
                    .filter(|m| !m.trim().is_empty())
                    .map(str::to_owned),
            )
        })
        .collect();
    let urls = segments.iter().filter_map(|s| s.url.clone()).collect();
    Speech::new(urls).with_segments(segments)
}

/// A TTS result (sync answer, webhook `data`, and, assumed, `tasks/detail` `result`) as a job.
pub(crate) fn speech_job(
    data: &types::TtsCreateData,
    fallback_id: Option<&JobId>,
    status: TaskStatus,
) -> Option<SpeechJob> {
    let id = task_id_or(data.task_id.as_ref(), fallback_id)?;
    let mut job = SpeechJob::new(Provider::Vmeg, id, status);
    if !data.results.is_empty() {
        job = job.with_speech(speech(data));
    }
    if let Some(t) = parsed_time(data.created_at.as_ref()) {
        job = job.with_created_at(t);
    }
    Some(job)
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

fn accepted_task_id(a: &types::TaskAcceptedData) -> Option<&str> {
    a.task_id.as_str()
}

fn clone_task_id(d: &types::CloneVoiceCreateData) -> Option<&str> {
    text(d.task_id.as_ref())
}

fn tts_task_id(d: &types::TtsCreateData) -> Option<&str> {
    text(d.task_id.as_ref())
}

/// The id of an accepted task (`send` has already refused an answer without one).
fn accepted_id(a: Option<&types::TaskAcceptedData>) -> Result<JobId, Error> {
    a.and_then(|a| usable_id(a.task_id.as_str()))
        .map(JobId::new)
        .ok_or_else(no_task_id)
}

pub(crate) async fn clone_voice(
    t: &Transport,
    c: &vmeg_client::Client,
    req: &CloneRequest,
    allow_private: bool,
) -> Result<CloneJob, Error> {
    let audio_url = rules::clone_request(req, allow_private)?;
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
        Some(l) => Some(rules::language_value("language", l)?),
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
        let header = key_header(&key)?;
        let summary = || serde_json::to_value(&body).ok();
        let call = Call {
            operation: "clone_voice",
            route: route("clone_voice_create_sync"),
            kind: OperationKind::IdempotentWrite,
            idempotency_key: Some(&key),
            body: Some(&summary),
            free_text: FREE_TEXT,
        };
        let result = t
            .send(call, Some(clone_task_id), || {
                c.clone_voice_create_sync(None, &header, &body)
            })
            .await?;
        let mut job = result
            .as_ref()
            .and_then(|r| clone_job(r, None, TaskStatus::Succeeded))
            .ok_or_else(no_task_id)?;
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
        let header = key_header(&key)?;
        let summary = || serde_json::to_value(&body).ok();
        let call = Call {
            operation: "clone_voice",
            route: route("clone_voice_create_async"),
            kind: OperationKind::IdempotentWrite,
            idempotency_key: Some(&key),
            body: Some(&summary),
            free_text: FREE_TEXT,
        };
        let accepted = t
            .send(call, Some(accepted_task_id), || {
                c.clone_voice_create_async(None, &header, &body)
            })
            .await?;
        let mut job = CloneJob::new(
            Provider::Vmeg,
            accepted_id(accepted.as_ref())?,
            TaskStatus::Queued,
        );
        if let Some(at) = accepted
            .as_ref()
            .and_then(|a| parsed_time(a.created_at.as_ref()))
        {
            job = job.with_created_at(at);
        }
        job
    };
    Ok(job.with_name(name).with_idempotency_key(key))
}

/// What `tasks/detail` `result` may carry beyond the clone and TTS result shapes: a voice
/// name and a failure reason under any of the usual names. The shape of `result` for clone
/// and TTS tasks is UNKNOWN (VMEG says "object"); these names are assumptions.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResultExtras {
    #[serde(default, deserialize_with = "lenient_string")]
    voice_name: Option<String>,
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

impl ResultExtras {
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
}

/// A task's status, its raw status word and its `result` read as `T` (its text is decoded
/// with the answer's scrubbing still applied).
struct Detail<T> {
    status: TaskStatus,
    raw: Option<String>,
    result: T,
    extras: ResultExtras,
}

async fn detail<T: serde::de::DeserializeOwned + Default>(
    t: &Transport,
    c: &vmeg_client::Client,
    operation: &'static str,
    id: &JobId,
) -> Result<Detail<T>, Error> {
    validate::id("job_id", id.as_str())?;
    let call = Call {
        operation,
        route: route("tasks_detail"),
        kind: OperationKind::Read,
        idempotency_key: None,
        body: None,
        free_text: &[],
    };
    let d = t
        .send(call, None, || c.tasks_detail(None, id.as_str()))
        .await?
        .ok_or_else(|| {
            Error::new(ErrorKind::InvalidResponse)
                .with_provider(Provider::Vmeg)
                .with_message("the answer has no task")
        })?;
    let raw = text(d.status.as_ref()).map(str::to_owned);
    let status = raw
        .as_deref()
        .map_or(TaskStatus::Unknown(String::new()), map_status);
    let result_text = d.result.as_ref().map_or("null", |r| r.get());
    let (result, extras) = crate::scrub::decoding_with(&t.text_filter, || {
        (
            serde_json::from_str::<T>(result_text).unwrap_or_default(),
            serde_json::from_str::<ResultExtras>(result_text).unwrap_or_default(),
        )
    });
    Ok(Detail {
        status,
        raw,
        result,
        extras,
    })
}

/// What `tasks/detail` says about any task beyond its result: the raw status word and,
/// when it failed, the reason; the one mapping both kinds use.
fn with_detail<J: Job, T>(mut job: J, d: Detail<T>) -> J {
    if let Some(raw) = d.raw {
        job.set_vendor_status(raw);
    }
    if d.status == TaskStatus::Failed
        && let Some(r) = d.extras.reason()
    {
        job.set_error(r);
    }
    job
}

pub(crate) async fn clone_status(
    t: &Transport,
    c: &vmeg_client::Client,
    id: &JobId,
) -> Result<CloneJob, Error> {
    let d = detail::<types::CloneVoiceCreateData>(t, c, "clone_status", id).await?;
    let mut job = clone_job(&d.result, Some(id), d.status.clone())
        .unwrap_or_else(|| CloneJob::new(Provider::Vmeg, id.clone(), d.status.clone()));
    job.id = id.clone();
    if let Some(name) = d.extras.voice_name.as_deref().filter(|n| !n.is_empty())
        && let Some(v) = job.voice.take()
    {
        job = job.with_voice(v.with_name(name));
    }
    Ok(with_detail(job, d))
}

pub(crate) async fn speech_status(
    t: &Transport,
    c: &vmeg_client::Client,
    id: &JobId,
) -> Result<SpeechJob, Error> {
    let d = detail::<types::TtsCreateData>(t, c, "speech_status", id).await?;
    let mut job = speech_job(&d.result, Some(id), d.status.clone())
        .unwrap_or_else(|| SpeechJob::new(Provider::Vmeg, id.clone(), d.status.clone()));
    job.id = id.clone();
    Ok(with_detail(job, d))
}

pub(crate) async fn synthesize(
    t: &Transport,
    c: &vmeg_client::Client,
    req: &SpeechRequest,
) -> Result<SpeechJob, Error> {
    rules::speech_request(req)?;
    let key = req.idempotency_key.clone().unwrap_or_else(new_key);
    let language = match &req.language {
        Some(l) => Some(types::TtsLanguage {
            target: Some(rules::language_value("language", l)?),
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
        let header = key_header(&key)?;
        let summary = || serde_json::to_value(&body).ok();
        let call = Call {
            operation: "synthesize",
            route: route("tts_create_sync"),
            kind: OperationKind::IdempotentWrite,
            idempotency_key: Some(&key),
            body: Some(&summary),
            free_text: FREE_TEXT,
        };
        let result = t
            .send(call, Some(tts_task_id), || {
                c.tts_create_sync(None, &header, &body)
            })
            .await?;
        result
            .as_ref()
            .and_then(|r| speech_job(r, None, TaskStatus::Succeeded))
            .ok_or_else(no_task_id)?
    } else {
        let body = types::TtsCreateAsyncRequest {
            data: lines,
            extra_data: Some(extra_data(&key)),
            language,
            output_format: req.output_format.map(output_format),
            provider: None,
            trim: req.trim,
        };
        let header = key_header(&key)?;
        let summary = || serde_json::to_value(&body).ok();
        let call = Call {
            operation: "synthesize",
            route: route("tts_create_async"),
            kind: OperationKind::IdempotentWrite,
            idempotency_key: Some(&key),
            body: Some(&summary),
            free_text: FREE_TEXT,
        };
        let accepted = t
            .send(call, Some(accepted_task_id), || {
                c.tts_create_async(None, &header, &body)
            })
            .await?;
        let mut job = SpeechJob::new(
            Provider::Vmeg,
            accepted_id(accepted.as_ref())?,
            TaskStatus::Queued,
        );
        if let Some(at) = accepted
            .as_ref()
            .and_then(|a| parsed_time(a.created_at.as_ref()))
        {
            job = job.with_created_at(at);
        }
        job
    };
    Ok(job.with_idempotency_key(key))
}

fn listed_voice(r: &types::CloneVoice) -> Option<Voice> {
    let id = usable_id(text(r.voice_id.as_ref()))?;
    let mut v = Voice::new(Provider::Vmeg, id);
    if let Some(n) = text(r.name.as_ref()).filter(|n| !n.is_empty()) {
        v = v.with_name(n);
    }
    if let Some(u) = parse_url("audio", text(r.audio.as_ref())) {
        v = v.with_preview_url(u);
    }
    if let Some(at) = parsed_time(r.create_time.as_ref()) {
        v = v.with_created_at(at);
    }
    Some(v)
}

/// Walks the cloned-voice list (a read: a fresh idempotency key per request), calling `stop`
/// on each record until it returns true or the pages run out.
async fn walk_voices(
    t: &Transport,
    c: &vmeg_client::Client,
    operation: &'static str,
    search_name: Option<&str>,
    mut stop: impl FnMut(&types::CloneVoice) -> bool,
) -> Result<(), Error> {
    let mut seen: i64 = 0;
    for page in 1..=LIST_MAX_PAGES {
        let body = types::CloneVoiceListRequest {
            current_page: Some(page),
            page_size: Some(LIST_PAGE_SIZE),
            search_name: search_name.map(str::to_owned),
            ..Default::default()
        };
        let key = new_key();
        let header = key_header(&key)?;
        let call = Call {
            operation,
            route: route("voice_clone_list"),
            kind: OperationKind::Read,
            idempotency_key: Some(&key),
            body: None,
            free_text: &[],
        };
        let data = t
            .send(call, None, || {
                c.voice_clone_list(None, Some(&header), &body)
            })
            .await?
            .unwrap_or_default();
        let records = data.records;
        if records.is_empty() {
            return Ok(());
        }
        seen = seen.saturating_add(i64::try_from(records.len()).unwrap_or(i64::MAX));
        for r in &records {
            if stop(r) {
                return Ok(());
            }
        }
        if data
            .total
            .and_then(|t| t.value())
            .is_some_and(|total| seen >= total)
            || records.len() < usize::try_from(LIST_PAGE_SIZE).unwrap_or(usize::MAX)
        {
            return Ok(());
        }
    }
    Ok(())
}

pub(crate) async fn list_voices(
    t: &Transport,
    c: &vmeg_client::Client,
) -> Result<Vec<Voice>, Error> {
    let mut out = Vec::new();
    walk_voices(t, c, "list_voices", None, |r| {
        if let Some(v) = listed_voice(r) {
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
    c: &vmeg_client::Client,
    id: &JobId,
    name: Option<&str>,
) -> Result<Voice, Error> {
    let mut found = None;
    walk_voices(t, c, "wait_for_clone", name, |r| {
        if text(r.task_id.as_ref()) == Some(id.as_str()) {
            found = listed_voice(r);
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

pub(crate) async fn rename_voice(
    t: &Transport,
    c: &vmeg_client::Client,
    voice_id: &str,
    name: &str,
) -> Result<(), Error> {
    validate::id("voice_id", voice_id)?;
    validate::non_blank("name", name)?;
    let body = types::CloneVoiceUpdateRequest {
        voice_id: Some(voice_id.to_owned()),
        voice_name: Some(name.to_owned()),
    };
    let key = new_key();
    let header = key_header(&key)?;
    let call = Call {
        operation: "rename_voice",
        route: route("voice_clone_update"),
        kind: OperationKind::IdempotentWrite,
        idempotency_key: Some(&key),
        body: None,
        free_text: &[],
    };
    t.send(call, None, || c.voice_clone_update(None, &header, &body))
        .await?;
    Ok(())
}

pub(crate) async fn delete_voice(
    t: &Transport,
    c: &vmeg_client::Client,
    voice_id: &str,
) -> Result<(), Error> {
    validate::id("voice_id", voice_id)?;
    let body = types::CloneVoiceDeleteRequest {
        voice_id: Some(voice_id.to_owned()),
    };
    let key = new_key();
    let header = key_header(&key)?;
    let call = Call {
        operation: "delete_voice",
        route: route("voice_clone_delete"),
        kind: OperationKind::IdempotentWrite,
        idempotency_key: Some(&key),
        body: None,
        free_text: &[],
    };
    t.send(call, None, || c.voice_clone_delete(None, &header, &body))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn code_table() {
        let cases = [
            (400, ErrorKind::InvalidRequest),
            (401, ErrorKind::Unauthorized),
            (402, ErrorKind::PaymentRequired),
            (404, ErrorKind::NotFound),
            (409, ErrorKind::Conflict),
            (413, ErrorKind::PayloadTooLarge),
            (422, ErrorKind::InvalidRequest),
            (500, ErrorKind::Server),
            (502, ErrorKind::Server),
        ];
        for (code, kind) in cases {
            assert_eq!(kind_for_code(code), Some(kind), "{code}");
        }
        assert_eq!(kind_for_code(418), None);
    }

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
        let r: types::TtsCreateData = serde_json::from_value(serde_json::json!({
            "taskId": "t1", "createdAt": "2025-01-01T00:00:00Z", "extra": true,
            "results": [{"uri": "https://cdn/a.m4a", "duration": "1.5"}, {"errorMessage": "bad voice", "duration": null}]
        }))
        .unwrap();
        let job = speech_job(&r, None, TaskStatus::Succeeded).unwrap();
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
        let r: types::CloneVoiceCreateData =
            serde_json::from_value(serde_json::json!({"taskId": 12, "voiceId": "cv_1"})).unwrap();
        let job = clone_job(&r, None, TaskStatus::Succeeded).unwrap();
        assert_eq!(job.id.as_str(), "12");
        assert_eq!(job.voice.unwrap().id, "cv_1");
        let r = types::CloneVoiceCreateData::default();
        assert!(clone_job(&r, None, TaskStatus::Failed).is_none());
    }
}
