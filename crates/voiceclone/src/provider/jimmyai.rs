//! JimmyAI Open API (SoundClone): status table and the task shape of `GET audios/{id}`.

use std::path::Path;

use jimmyai_client::types;
use serde::Deserialize;

use crate::error::{Error, ErrorKind};
use crate::http::{Body, HttpRequest, NamesTask, Transport, UPLOAD_TIMEOUT};
use crate::model::{
    CloneJob, CloneRequest, JIMMYAI_ACTIVATION_WINDOW, JobId, Provider, Speech, SpeechJob,
    SpeechRequest, SubtitleMode, TaskStatus, Voice,
};
use crate::retry::OperationKind;
use crate::validate;
use crate::wire::{lenient_i64, lenient_string, parse_url, usable_id};

/// Request fields holding the caller's free text: summarized, never quoted.
const FREE_TEXT: &[&str] = &["contentText"];

const CLONES: &str = "/api/open-api/v1/soundCloning/clones";
const AUDIOS: &str = "/api/open-api/v1/soundCloning/audios";
const TASK: &str = "/api/open-api/v1/audios/";
const UPLOAD: &str = "/api/open-api/v1/files/upload";
/// Documented upload limit.
pub(crate) const UPLOAD_MAX_BYTES: u64 = 100 * 1024 * 1024;

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

/// A SoundClone task (create responses and `GET audios/{id}`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Task {
    #[serde(default, deserialize_with = "lenient_string")]
    pub(crate) id: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub(crate) created: Option<i64>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(crate) status: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(crate) model_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(crate) audio_url: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(crate) subtitle_file: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(crate) error: Option<String>,
}

impl NamesTask for Task {
    fn task_id(&self) -> Option<&str> {
        self.id.as_deref()
    }
}

impl Task {
    fn id_or(&self, fallback: Option<&JobId>) -> Option<JobId> {
        usable_id(self.id.as_deref())
            .map(JobId::new)
            .or_else(|| fallback.cloned())
    }

    fn status(&self) -> TaskStatus {
        match self.status.as_deref() {
            Some(raw) => map_status(raw),
            None => TaskStatus::Unknown(String::new()),
        }
    }

    fn error_text(&self) -> Option<String> {
        self.error.clone().filter(|e| !e.trim().is_empty())
    }

    /// The task as a clone (preview) job; the voice is set once `modelId` is known.
    pub(crate) fn into_clone_job(self, fallback_id: Option<&JobId>) -> Option<CloneJob> {
        let status = self.status();
        let mut job = CloneJob::new(Provider::JimmyAi, self.id_or(fallback_id)?, status);
        if let Some(raw) = self.status.as_deref() {
            job = job.with_vendor_status(raw);
        }
        let created = self.created.and_then(crate::time::from_unix_guess);
        if let Some(t) = created {
            job = job.with_created_at(t);
        }
        if let Some(e) = self.error_text() {
            job = job.with_error(e);
        }
        if let Some(model_id) = usable_id(self.model_id.as_deref()) {
            let mut voice = Voice::new(Provider::JimmyAi, model_id);
            if let Some(u) = parse_url("audioUrl", self.audio_url.as_deref()) {
                voice = voice.with_preview_url(u);
            }
            if let Some(t) = created {
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
    pub(crate) fn into_speech_job(self, fallback_id: Option<&JobId>) -> Option<SpeechJob> {
        let status = self.status();
        let mut job = SpeechJob::new(Provider::JimmyAi, self.id_or(fallback_id)?, status);
        if let Some(raw) = self.status.as_deref() {
            job = job.with_vendor_status(raw);
        }
        if let Some(t) = self.created.and_then(crate::time::from_unix_guess) {
            job = job.with_created_at(t);
        }
        if let Some(e) = self.error_text() {
            job = job.with_error(e);
        }
        if let Some(u) = parse_url("audioUrl", self.audio_url.as_deref()) {
            let mut speech = Speech::new(vec![u]);
            if let Some(s) = parse_url("subtitleFile", self.subtitle_file.as_deref()) {
                speech = speech.with_subtitle_url(s);
            }
            job = job.with_speech(speech);
        }
        Some(job)
    }
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
        .map(|l| {
            validate::language_value("language", l, Provider::JimmyAi, version).map(types::Language)
        })
        .transpose()
}

/// Creates a preview task. JimmyAI has no idempotency: this is never resent once it may
/// have arrived (see `crate::retry`).
pub(crate) async fn clone_voice(
    t: &Transport,
    req: &CloneRequest,
    allow_private: bool,
) -> Result<CloneJob, Error> {
    let audio_url = validate::clone_request(req, Provider::JimmyAi, allow_private)?;
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
    let http = HttpRequest::post_json(CLONES, &body)?.free_text(FREE_TEXT);
    let task: Task = t
        .call_create("clone_voice", OperationKind::UnsafeWrite, http)
        .await?;
    task.into_clone_job(None)
        .ok_or_else(|| bad_answer("the answer has no task id"))
}

pub(crate) async fn synthesize(t: &Transport, req: &SpeechRequest) -> Result<SpeechJob, Error> {
    validate::speech_request(req, Provider::JimmyAi)?;
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
    let http = HttpRequest::post_json(AUDIOS, &body)?.free_text(FREE_TEXT);
    let task: Task = t
        .call_create("synthesize", OperationKind::UnsafeWrite, http)
        .await?;
    task.into_speech_job(None)
        .ok_or_else(|| bad_answer("the answer has no task id"))
}

async fn task(t: &Transport, operation: &'static str, id: &JobId) -> Result<Task, Error> {
    validate::id("job_id", id.as_str())?;
    let http = HttpRequest::get(TASK).segment(id.as_str());
    t.call(operation, OperationKind::Read, http).await
}

pub(crate) async fn clone_status(t: &Transport, id: &JobId) -> Result<CloneJob, Error> {
    let task = task(t, "clone_status", id).await?;
    task.into_clone_job(Some(id))
        .ok_or_else(|| bad_answer("the answer has no task id"))
}

pub(crate) async fn speech_status(t: &Transport, id: &JobId) -> Result<SpeechJob, Error> {
    let task = task(t, "speech_status", id).await?;
    task.into_speech_job(Some(id))
        .ok_or_else(|| bad_answer("the answer has no task id"))
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

#[derive(Debug, Default, Deserialize)]
struct Uploaded {
    #[serde(default, deserialize_with = "lenient_string")]
    url: Option<String>,
}

pub(crate) async fn upload_sample(t: &Transport, path: &Path) -> Result<url::Url, Error> {
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
    let http = HttpRequest {
        method: reqwest::Method::POST,
        path: UPLOAD.to_owned(),
        segments: Vec::new(),
        query: Vec::new(),
        body: Some(Body::Raw {
            content_type,
            bytes,
        }),
        idempotency_key: None,
        timeout: UPLOAD_TIMEOUT,
        free_text: &[],
    };
    // An upload that may have arrived only leaves an orphan file, but it is still not
    // resent blindly: the caller decides (OutcomeUnknown says what happened).
    let up: Uploaded = t
        .call("upload_sample", OperationKind::UnsafeWrite, http)
        .await?;
    parse_url("url", up.url.as_deref())
        .ok_or_else(|| bad_answer("the upload answer has no usable url"))
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
        let t: Task = serde_json::from_value(serde_json::json!({
            "id": "audio_1", "object": "audio", "created": 1781777280, "model": "soundCloningClone",
            "status": "completed", "modelId": "m-1", "audioUrl": "https://cdn/p.mp3", "error": null, "newField": [1]
        }))
        .unwrap();
        let job = t.into_clone_job(None).unwrap();
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
        let t: Task = serde_json::from_value(serde_json::json!({
            "id": "audio_2", "status": "completed", "audioUrl": "https://cdn/a.mp3", "subtitleFile": "https://cdn/a.srt"
        }))
        .unwrap();
        let s = t.into_speech_job(None).unwrap().speech.unwrap();
        assert_eq!(s.subtitle_url.unwrap().as_str(), "https://cdn/a.srt");
        let t: Task = serde_json::from_value(
            serde_json::json!({"id": "audio_3", "status": "failed", "error": "too short"}),
        )
        .unwrap();
        let j = t.into_speech_job(None).unwrap();
        assert_eq!(
            (j.status, j.error.as_deref()),
            (TaskStatus::Failed, Some("too short"))
        );
    }
}
