//! JimmyAI Open API (SoundClone): status table, the task shape, and the calls into the
//! generated `jimmyai-client` (plus the multipart upload, the one call progenitor cannot
//! generate).

use std::path::Path;

use client_glue::Text;
use jimmyai_client::types;
use progenitor_client::{ClientInfo, OperationInfo, ResponseValue};

use std::time::Duration;

pub(crate) mod rules;

use super::{Backend, BoxFuture, Connect, Facts, WaitDefaults};
use crate::error::{Error, ErrorKind};
use crate::model::{
    CloneJob, CloneRequest, JIMMYAI_ACTIVATION_WINDOW, Job, JobId, Provider, Speech, SpeechJob,
    SpeechRequest, SubtitleMode, TaskStatus, Voice,
};
use crate::retry::OperationKind;
use crate::transport::{Call, Transport, envelopes};
use crate::validate;
use crate::wire::{parse_url, usable_id};

/// What the rest of the crate knows about JimmyAI.
pub(crate) const FACTS: Facts = Facts {
    name: "jimmyai",
    default_base_url: "https://www.jimmyai.cn",
    api_key_var: "JIMMYAI_API_KEY",
    base_url_var: "JIMMYAI_BASE_URL",
    success_code: 20000,
    kind_for_code,
    set_engine: |req, engine| Ok(req.sound_version(engine.parse()?)),
    codes_are_http_statuses: false,
    // The vendor says "poll every 5-10 s": 5 s growing by 1.25x to 10 s, 15 min deadline.
    wait: WaitDefaults {
        first_interval: Duration::from_secs(5),
        growth: 1.25,
        max_interval: Duration::from_secs(10),
        jitter: 0.1,
        deadline: Some(Duration::from_secs(15 * 60)),
        max_polls: Some(200),
    },
    connect,
};

/// Uploads of up to 100 MB get longer than the default timeout.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// JimmyAI business `code`. Only 20000 (success) is documented; 20001, 20002 and -1 come
/// from a third-party summary (UNCONFIRMED).
pub(crate) fn kind_for_code(code: i64) -> Option<ErrorKind> {
    Some(match code {
        20001 => ErrorKind::Unauthorized,
        20002 => ErrorKind::InvalidRequest,
        -1 => ErrorKind::Server,
        _ => return None,
    })
}

fn connect(c: &Connect) -> Result<Box<dyn Backend>, Error> {
    let config = c.config(&[("upload_file", UPLOAD_TIMEOUT)])?;
    Ok(Box::new(JimmyAi {
        client: jimmyai_client::Client::new_with_client(&c.base, c.http.clone(), config),
    }))
}

/// The JimmyAI backend: its generated client. JimmyAI has no voice list, so
/// `list_voices`, `rename_voice` and `delete_voice` are `Unsupported`.
#[derive(Debug)]
pub(crate) struct JimmyAi {
    client: jimmyai_client::Client,
}

impl Backend for JimmyAi {
    fn clone_voice<'a>(
        &'a self,
        t: &'a Transport,
        req: &'a CloneRequest,
        allow_private: bool,
    ) -> BoxFuture<'a, Result<CloneJob, Error>> {
        Box::pin(clone_voice(t, &self.client, req, allow_private))
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
        _t: &'a Transport,
        _id: &'a JobId,
        job: CloneJob,
    ) -> BoxFuture<'a, Result<Voice, Error>> {
        Box::pin(std::future::ready(job.voice.ok_or_else(|| {
            Error::new(ErrorKind::InvalidResponse)
                .with_message("the task completed without a modelId")
        })))
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

    fn upload_sample<'a>(
        &'a self,
        t: &'a Transport,
        path: &'a Path,
    ) -> BoxFuture<'a, Result<url::Url, Error>> {
        Box::pin(upload_sample(t, &self.client, path))
    }
}

/// Request fields holding the caller's free text: summarized, never quoted.
const FREE_TEXT: &[&str] = &["contentText"];

/// The multipart upload, written by hand (progenitor cannot generate multipart bodies); the
/// only vendor route in this crate. Its answer is the generated `UploadFileEnvelope`.
const UPLOAD: &str = "/api/open-api/v1/files/upload";
/// Documented upload limit.
pub(crate) const UPLOAD_MAX_BYTES: u64 = 100 * 1024 * 1024;

envelopes! {
    types::CreateCloneEnvelope => types::AudioTask, msg;
    types::CreateAudioEnvelope => types::AudioTask, msg;
    types::GetAudioTaskEnvelope => types::AudioTask, msg;
    types::UploadFileEnvelope => types::UploadedFile, msg;
}

/// Method and path of a generated operation, for a request summary.
fn route(rust_name: &str) -> (&'static str, &'static str) {
    jimmyai_client::operation(rust_name).map_or(("POST", "?"), |op| (op.method, op.path))
}

fn text(t: Option<&Text>) -> Option<&str> {
    t.and_then(Text::as_str)
}

/// JimmyAI status string -> [`TaskStatus`]; all four values are documented.
pub(crate) fn map_status(raw: &str) -> TaskStatus {
    match raw.trim().to_ascii_lowercase().as_str() {
        "queued" => TaskStatus::Queued,
        "processing" => TaskStatus::Running,
        "completed" => TaskStatus::Succeeded,
        "failed" => TaskStatus::Failed,
        _ => TaskStatus::Unknown(raw.to_owned()),
    }
}

fn status_of(task: &types::AudioTask) -> TaskStatus {
    match text(task.status.as_ref()) {
        Some(raw) => map_status(raw),
        None => TaskStatus::Unknown(String::new()),
    }
}

fn id_or(task: &types::AudioTask, fallback: Option<&JobId>) -> Option<JobId> {
    usable_id(task.id.as_str())
        .map(JobId::new)
        .or_else(|| fallback.cloned())
}

fn error_text(task: &types::AudioTask) -> Option<String> {
    text(task.error.as_ref())
        .filter(|e| !e.trim().is_empty())
        .map(str::to_owned)
}

fn created(task: &types::AudioTask) -> Option<std::time::SystemTime> {
    task.created
        .and_then(|c| c.value())
        .and_then(crate::time::from_unix_guess)
}

/// What every job read from a task has: id, status (and the raw word), creation time and
/// failure reason; the one mapping both kinds use.
fn job_of<J: Job>(task: &types::AudioTask, fallback_id: Option<&JobId>) -> Option<J> {
    let mut job = J::new(
        Provider::JimmyAi,
        id_or(task, fallback_id)?,
        status_of(task),
    );
    if let Some(raw) = text(task.status.as_ref()) {
        job.set_vendor_status(raw.to_owned());
    }
    if let Some(t) = created(task) {
        job.set_created_at(t);
    }
    if let Some(e) = error_text(task) {
        job.set_error(e);
    }
    Some(job)
}

/// The task as a clone (preview) job; the voice is set once `modelId` is known.
pub(crate) fn clone_job(task: &types::AudioTask, fallback_id: Option<&JobId>) -> Option<CloneJob> {
    let mut job: CloneJob = job_of(task, fallback_id)?;
    if let Some(model_id) = usable_id(text(task.model_id.as_ref())) {
        let mut voice = Voice::new(Provider::JimmyAi, model_id);
        if let Some(u) = parse_url("audioUrl", text(task.audio_url.as_ref())) {
            voice = voice.with_preview_url(u);
        }
        if let Some(t) = job.created_at {
            voice = voice.with_created_at(t);
            if let Some(deadline) = t.checked_add(JIMMYAI_ACTIVATION_WINDOW) {
                voice = voice.with_activate_by(deadline);
            }
        }
        job = job.with_voice(voice);
    }
    Some(job)
}

/// The task as a production-audio job.
pub(crate) fn speech_job(
    task: &types::AudioTask,
    fallback_id: Option<&JobId>,
) -> Option<SpeechJob> {
    let mut job: SpeechJob = job_of(task, fallback_id)?;
    if let Some(u) = parse_url("audioUrl", text(task.audio_url.as_ref())) {
        let mut speech = Speech::new(vec![u]);
        if let Some(s) = parse_url("subtitleFile", text(task.subtitle_file.as_ref())) {
            speech = speech.with_subtitle_url(s);
        }
        job = job.with_speech(speech);
    }
    Some(job)
}

fn task_id(task: &types::AudioTask) -> Option<&str> {
    task.id.as_str()
}

fn bad_answer(message: &str) -> Error {
    Error::new(ErrorKind::InvalidResponse)
        .with_provider(Provider::JimmyAi)
        .with_message(message)
}

fn sound_version(v: crate::model::SoundVersion) -> types::SoundVersion {
    match v {
        crate::model::SoundVersion::V1 => types::SoundVersion::V1,
        crate::model::SoundVersion::V2 => types::SoundVersion::V2,
    }
}

fn emotion(e: crate::model::Emotion) -> types::Emotion {
    use crate::model::Emotion::*;
    match e {
        Happy => types::Emotion::Happy,
        Sad => types::Emotion::Sad,
        Angry => types::Emotion::Angry,
        Fearful => types::Emotion::Fearful,
        Disgusted => types::Emotion::Disgusted,
        Surprised => types::Emotion::Surprised,
        Neutral => types::Emotion::Neutral,
    }
}

fn language(
    value: Option<&String>,
    version: Option<crate::model::SoundVersion>,
) -> Result<Option<types::Language>, Error> {
    value
        .map(|l| rules::language_value("language", l, version).map(types::Language))
        .transpose()
}

/// Creates a preview task. JimmyAI has no idempotency: this is never resent once it may
/// have arrived (see `crate::retry`).
pub(crate) async fn clone_voice(
    t: &Transport,
    c: &jimmyai_client::Client,
    req: &CloneRequest,
    allow_private: bool,
) -> Result<CloneJob, Error> {
    let audio_url = rules::clone_request(req, allow_private)?;
    let content_text = req
        .sample_text
        .clone()
        .map(types::CreateCloneRequestContentText::try_from)
        .transpose()
        .map_err(|e| Error::invalid_input("sample_text", e.to_string()))?;
    let body = types::CreateCloneRequest {
        content_text,
        file_url: audio_url.to_string(),
        language: language(req.language.as_ref(), req.sound_version)?,
        sound_version: req.sound_version.map(sound_version),
    };
    let summary = || serde_json::to_value(&body).ok();
    let call = Call {
        operation: "clone_voice",
        route: route("create_clone"),
        kind: OperationKind::UnsafeWrite,
        idempotency_key: None,
        body: Some(&summary),
        free_text: FREE_TEXT,
    };
    let task = t
        .send(call, Some(task_id), || c.create_clone(&body))
        .await?;
    task.as_ref()
        .and_then(|task| clone_job(task, None))
        .ok_or_else(|| bad_answer("the answer has no task id"))
}

pub(crate) async fn synthesize(
    t: &Transport,
    c: &jimmyai_client::Client,
    req: &SpeechRequest,
) -> Result<SpeechJob, Error> {
    rules::speech_request(req)?;
    let line = req
        .lines
        .first()
        .ok_or_else(|| Error::invalid_input("lines", "needs one line"))?;
    let content_text = types::CreateAudioRequestContentText::try_from(line.text.clone())
        .map_err(|e| Error::invalid_input("text", e.to_string()))?;
    let (subtitle_enable, subtitle_type) = match req.subtitles {
        None => (None, None),
        Some(SubtitleMode::Off) => (Some(false), None),
        Some(SubtitleMode::Sentence) => (Some(true), None),
        Some(SubtitleMode::Word) => (
            Some(true),
            Some(types::CreateAudioRequestSubtitleType::Word),
        ),
    };
    let body = types::CreateAudioRequest {
        content_text,
        emotion: req.emotion.map(emotion),
        language: language(req.language.as_ref(), req.sound_version)?,
        model_id: line.voice_id.trim().to_owned(),
        pitch: req.pitch,
        sound_version: req.sound_version.map(sound_version),
        speed: req.speed,
        subtitle_enable,
        subtitle_type,
        vol: req.volume,
    };
    let summary = || serde_json::to_value(&body).ok();
    let call = Call {
        operation: "synthesize",
        route: route("create_audio"),
        kind: OperationKind::UnsafeWrite,
        idempotency_key: None,
        body: Some(&summary),
        free_text: FREE_TEXT,
    };
    let task = t
        .send(call, Some(task_id), || c.create_audio(&body))
        .await?;
    task.as_ref()
        .and_then(|task| speech_job(task, None))
        .ok_or_else(|| bad_answer("the answer has no task id"))
}

/// `GET audios/{id}`. The id is checked first: the generated client percent-encodes it as
/// one segment but leaves `.` and `\` as they are.
async fn task(
    t: &Transport,
    c: &jimmyai_client::Client,
    operation: &'static str,
    id: &JobId,
) -> Result<types::AudioTask, Error> {
    validate::id("job_id", id.as_str())?;
    let call = Call {
        operation,
        route: route("get_audio_task"),
        kind: OperationKind::Read,
        idempotency_key: None,
        body: None,
        free_text: &[],
    };
    t.send(call, None, || c.get_audio_task(id.as_str()))
        .await?
        .ok_or_else(|| bad_answer("the answer has no task"))
}

pub(crate) async fn clone_status(
    t: &Transport,
    c: &jimmyai_client::Client,
    id: &JobId,
) -> Result<CloneJob, Error> {
    let task = task(t, c, "clone_status", id).await?;
    clone_job(&task, Some(id)).ok_or_else(|| bad_answer("the answer has no task id"))
}

pub(crate) async fn speech_status(
    t: &Transport,
    c: &jimmyai_client::Client,
    id: &JobId,
) -> Result<SpeechJob, Error> {
    let task = task(t, c, "speech_status", id).await?;
    speech_job(&task, Some(id)).ok_or_else(|| bad_answer("the answer has no task id"))
}

/// Extensions `files/upload` accepts that make sense for a voice sample (audio and video).
const SAMPLE_TYPES: &[(&str, &str)] = &[
    ("mp3", "audio/mpeg"),
    ("wav", "audio/wav"),
    ("aac", "audio/aac"),
    ("m4a", "audio/mp4"),
    ("flac", "audio/flac"),
    ("ogg", "audio/ogg"),
    ("mp4", "video/mp4"),
    ("mov", "video/quicktime"),
    ("avi", "video/x-msvideo"),
    ("webm", "video/webm"),
    ("mkv", "video/x-matroska"),
    ("m4v", "video/x-m4v"),
    ("flv", "video/x-flv"),
];

/// A filename safe inside a quoted `Content-Disposition` parameter: ASCII, no quotes, no
/// backslashes, no control characters (JimmyAI refuses non-ASCII in URLs it hands back).
pub(crate) fn safe_filename(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.trim_matches(|c| c == '_' || c == '.').is_empty() {
        "sample".to_owned()
    } else {
        cleaned
    }
}

/// `multipart/form-data` with one part, `file`, written by hand (reqwest's `multipart`
/// feature is not enabled in this workspace). Returns the content type and the body.
pub(crate) fn multipart_body(
    boundary: &str,
    filename: &str,
    content_type: &str,
    file: &[u8],
) -> (String, bytes::Bytes) {
    let mut body = Vec::with_capacity(file.len() + 256);
    body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    body.extend_from_slice(
        format!("Content-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(format!("Content-Type: {content_type}\r\n\r\n").as_bytes());
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into(),
    )
}

pub(crate) async fn upload_sample(
    t: &Transport,
    c: &jimmyai_client::Client,
    path: &Path,
) -> Result<url::Url, Error> {
    let field = "path";
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let Some((_, mime)) = SAMPLE_TYPES.iter().find(|(e, _)| *e == ext) else {
        let list: Vec<&str> = SAMPLE_TYPES.iter().map(|(e, _)| *e).collect();
        return Err(Error::invalid_input(
            field,
            format!("must end in one of {}", list.join(", ")),
        ));
    };
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| Error::invalid_input(field, format!("cannot read {}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(Error::invalid_input(
            field,
            format!("{} is not a file", path.display()),
        ));
    }
    if meta.len() > UPLOAD_MAX_BYTES {
        return Err(Error::invalid_input(
            field,
            format!("is {} bytes; JimmyAI accepts at most 100 MB", meta.len()),
        ));
    }
    let file = tokio::fs::read(path)
        .await
        .map_err(|e| Error::invalid_input(field, format!("cannot read {}: {e}", path.display())))?;
    let boundary = format!("voiceclone-{}", uuid::Uuid::new_v4().simple());
    let (content_type, bytes) = multipart_body(&boundary, &safe_filename(name), mime, &file);
    let call = Call {
        operation: "upload_sample",
        route: ("POST", UPLOAD),
        kind: OperationKind::UnsafeWrite,
        idempotency_key: None,
        body: None,
        free_text: &[],
    };
    // An upload that may have arrived only leaves an orphan file, but it is still not
    // resent blindly: the caller decides (OutcomeUnknown says what happened).
    let up = t
        .send(call, None, || upload_once(c, &content_type, &bytes))
        .await?;
    let url = up.as_ref().and_then(|u| text(u.url.as_ref()));
    parse_url("url", url).ok_or_else(|| bad_answer("the upload answer has no usable url"))
}

/// One upload attempt, through the generated client's own hooks (auth, timeout, body limit)
/// and answered as a generated call would be.
async fn upload_once(
    c: &jimmyai_client::Client,
    content_type: &str,
    bytes: &bytes::Bytes,
) -> Result<ResponseValue<types::UploadFileEnvelope>, progenitor_client::Error<()>> {
    let client = c;
    let url = format!("{}{UPLOAD}", client.baseurl());
    let mut request = client
        .client()
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .header(reqwest::header::ACCEPT, "application/json")
        .body(bytes.clone())
        .build()?;
    let info = OperationInfo {
        operation_id: "upload_file",
    };
    client_glue::hooks::prepare(client.inner(), &mut request, &info);
    let response = client_glue::hooks::execute(client.client(), client.inner(), request).await?;
    if response.status().as_u16() == 200 {
        ResponseValue::from_response(response).await
    } else {
        Err(progenitor_client::Error::UnexpectedResponse(response))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn multipart_wire_shape() {
        let (ct, body) = multipart_body("B", "a.wav", "audio/wav", b"RIFF");
        assert_eq!(ct, "multipart/form-data; boundary=B");
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFF\r\n--B--\r\n"
        );
        assert_eq!(safe_filename("声音 \"x\".wav"), "____x_.wav");
        assert_eq!(safe_filename("..."), "sample");
    }

    #[test]
    fn code_table() {
        assert_eq!(kind_for_code(20001), Some(ErrorKind::Unauthorized));
        assert_eq!(kind_for_code(20002), Some(ErrorKind::InvalidRequest));
        assert_eq!(kind_for_code(-1), Some(ErrorKind::Server));
        assert_eq!(kind_for_code(20000), None);
        assert_eq!(kind_for_code(12345), None);
    }

    #[test]
    fn status_table() {
        assert_eq!(map_status("queued"), TaskStatus::Queued);
        assert_eq!(map_status("processing"), TaskStatus::Running);
        assert_eq!(map_status("completed"), TaskStatus::Succeeded);
        assert_eq!(map_status("failed"), TaskStatus::Failed);
        assert_eq!(
            map_status("finished"),
            TaskStatus::Unknown("finished".into())
        );
    }

    #[test]
    fn preview_task_carries_activation_deadline() {
        let t: types::AudioTask = serde_json::from_value(serde_json::json!({
            "id": "audio_1", "object": "audio", "created": 1781777280, "model": "soundCloningClone",
            "status": "completed", "modelId": "m-1", "audioUrl": "https://cdn/p.mp3", "error": null, "newField": [1]
        }))
        .unwrap();
        let job = clone_job(&t, None).unwrap();
        assert_eq!(job.status, TaskStatus::Succeeded);
        let v = job.voice.unwrap();
        assert_eq!(v.id, "m-1");
        assert_eq!(
            v.activate_by,
            Some(UNIX_EPOCH + Duration::from_secs(1_781_777_280 + 3 * 86_400))
        );
        assert_eq!(v.preview_url.unwrap().as_str(), "https://cdn/p.mp3");
    }

    #[test]
    fn production_task_speech_and_failure() {
        let t: types::AudioTask = serde_json::from_value(serde_json::json!({
            "id": "audio_2", "status": "completed", "audioUrl": "https://cdn/a.mp3", "subtitleFile": "https://cdn/a.srt"
        }))
        .unwrap();
        let s = speech_job(&t, None).unwrap().speech.unwrap();
        assert_eq!(s.subtitle_url.unwrap().as_str(), "https://cdn/a.srt");
        let t: types::AudioTask = serde_json::from_value(
            serde_json::json!({"id": "audio_3", "status": "failed", "error": "too short"}),
        )
        .unwrap();
        let j = speech_job(&t, None).unwrap();
        assert_eq!(
            (j.status, j.error.as_deref()),
            (TaskStatus::Failed, Some("too short"))
        );
    }
}
