//! JimmyAI dry runs: the requests `calls` would send, built from the same generated types
//! and helpers (JimmyAI has no idempotency header).

use jimmyai_client::types;
use serde_json::{Value, json};

use super::calls::{emotion, language, route, sound_version};
use super::rules;
use crate::error::Error;
use crate::estimate::PlannedRequest;
use crate::model::{CloneRequest, SpeechRequest, SubtitleMode};

fn json_of<T: serde::Serialize>(body: &T) -> Result<Value, Error> {
    serde_json::to_value(body).map_err(|e| Error::invalid_input("request", e.to_string()))
}

fn planned(rust_name: &str, body: Value) -> PlannedRequest {
    let (method, path) = route(rust_name);
    PlannedRequest::new(method, path, body)
}

pub(crate) fn plan_clone(
    req: &CloneRequest,
    allow_private: bool,
) -> Result<Vec<PlannedRequest>, Error> {
    let mut out = Vec::new();
    let file_url = match req.audio_url() {
        Some(_) => rules::clone_request(req, allow_private)?.to_string(),
        None => {
            rules::clone_fields(req)?;
            out.push(
                PlannedRequest::new(
                    "POST",
                    super::upload::UPLOAD,
                    json!({"file": "<the recording, multipart/form-data, at most 100 MB>"}),
                )
                .note("the local recording is uploaded first (files/upload); not billable"),
            );
            "<url of the uploaded file>".to_owned()
        }
    };
    let content_text = req
        .sample_text
        .clone()
        .map(types::CreateCloneRequestContentText::try_from)
        .transpose()
        .map_err(|e| Error::invalid_input("sample_text", e.to_string()))?;
    let body = types::CreateCloneRequest {
        content_text,
        file_url,
        language: language(req.language.as_ref(), req.sound_version)?,
        sound_version: req.sound_version.map(sound_version),
    };
    out.push(planned("create_clone", json_of(&body)?));
    Ok(out)
}

pub(crate) fn plan_speech(req: &SpeechRequest) -> Result<PlannedRequest, Error> {
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
        model_id: line.voice_id.as_str().trim().to_owned(),
        pitch: req.pitch,
        sound_version: req.sound_version.map(sound_version),
        speed: req.speed,
        subtitle_enable,
        subtitle_type,
        vol: req.volume,
    };
    Ok(planned("create_audio", json_of(&body)?))
}
