//! VMEG dry runs: the requests `calls` would send, built from the same generated types and
//! helpers, with `<generated when sent>` where a value is made at send time.

use serde_json::Value;
#[cfg(feature = "upload")]
use serde_json::json;
use vmeg_client::types;

use super::calls::{default_name, engine, extra_data, output_format, route};
use super::rules;
use crate::error::Error;
use crate::estimate::{GENERATED, PlannedRequest};
use crate::model::{CloneRequest, SpeechRequest};

/// What a plan shows for the clone audio a local recording becomes (known only once sent).
pub(crate) const UPLOADED_URL: &str = "<addressUrl of the uploaded material>";

const IDEMPOTENCY_HEADER: &str = "X-Idempotency-Key";

fn json_of<T: serde::Serialize>(body: &T) -> Result<Value, Error> {
    serde_json::to_value(body).map_err(|e| Error::invalid_input("request", e.to_string()))
}

fn planned(rust_name: &str, body: Value, key: &str) -> PlannedRequest {
    let (method, path) = route(rust_name);
    PlannedRequest::new(method, path, body).header(IDEMPOTENCY_HEADER, key)
}

pub(crate) fn plan_clone(
    req: &CloneRequest,
    allow_private: bool,
) -> Result<Vec<PlannedRequest>, Error> {
    let mut out = Vec::new();
    let audio_url = match req.audio_url() {
        // A local recording (only with the `upload` feature): its upload comes first.
        #[cfg(feature = "upload")]
        None => {
            rules::clone_fields(req)?;
            let (method, path) = route("material_gen_upload_url");
            out.push(
                PlannedRequest::new(
                    method,
                    path,
                    json!({"fileHash": "<MD5 of the recording>", "fileName": "<the recording's file name>"}),
                )
                .header(IDEMPOTENCY_HEADER, GENERATED)
                .note("the local recording is uploaded first as a VMEG material (gen-upload-url, PUT to the presigned URL, upload/complete; in parts above the multipart threshold); not billable"),
            );
            UPLOADED_URL.to_owned()
        }
        _ => rules::clone_request(req, allow_private)?.to_string(),
    };
    let key = req
        .idempotency_key
        .clone()
        .unwrap_or_else(|| GENERATED.to_owned());
    let name = match (&req.name, &req.idempotency_key) {
        (Some(n), _) => n.clone(),
        (None, Some(k)) => default_name(k),
        (None, None) => format!("voiceclone-{GENERATED}"),
    };
    let language = req
        .language
        .as_ref()
        .map(|l| rules::language_value("language", l))
        .transpose()?;
    if req.synchronous == Some(true) {
        let body = types::CloneVoiceCreateRequest {
            provider: req.vmeg_engine.map(engine),
            ref_audio: Some(audio_url),
            sample_language: language,
            sample_text: req.sample_text.clone(),
            voice_name: Some(name),
        };
        out.push(planned("clone_voice_create_sync", json_of(&body)?, &key));
    } else {
        let body = types::CloneVoiceCreateAsyncRequest {
            extra_data: Some(extra_data(&key)),
            provider: req.vmeg_engine.map(engine),
            ref_audio: Some(audio_url),
            sample_language: language,
            sample_text: req.sample_text.clone(),
            voice_name: Some(name),
        };
        out.push(planned("clone_voice_create_async", json_of(&body)?, &key));
    }
    Ok(out)
}

pub(crate) fn plan_speech(req: &SpeechRequest) -> Result<PlannedRequest, Error> {
    rules::speech_request(req)?;
    rules::warn_pause_markers(req);
    let key = req
        .idempotency_key
        .clone()
        .unwrap_or_else(|| GENERATED.to_owned());
    let language = match &req.language {
        Some(l) => Some(types::TtsLanguage {
            target: Some(rules::target_language_value("language", l)?),
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
            voice_id: Some(l.voice_id.as_str().to_owned()),
        })
        .collect();
    if req.synchronous == Some(true) {
        let body = types::TtsCreateRequest {
            data: lines,
            language,
            output_format: req.output_format.map(output_format),
            provider: None,
            trim: req.trim,
        };
        Ok(planned("tts_create_sync", json_of(&body)?, &key))
    } else {
        let body = types::TtsCreateAsyncRequest {
            data: lines,
            extra_data: Some(extra_data(&key)),
            language,
            output_format: req.output_format.map(output_format),
            provider: None,
            trim: req.trim,
        };
        Ok(planned("tts_create_async", json_of(&body)?, &key))
    }
}
