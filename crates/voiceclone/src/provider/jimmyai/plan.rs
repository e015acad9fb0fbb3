//! JimmyAI dry runs: the requests `calls` would send, built from the same generated types
//! and helpers (JimmyAI has no idempotency header).

use serde_json::Value;
#[cfg(feature = "upload")]
use serde_json::json;

use super::calls::{clone_body, route, speech_body};
use super::rules;
use crate::error::Error;
use crate::estimate::PlannedRequest;
use crate::model::{CloneRequest, SpeechRequest};

/// What a plan shows for the clone audio a local recording becomes (known only once sent).
pub(crate) const UPLOADED_URL: &str = "<url of the uploaded file>";

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
        // A local recording (only with the `upload` feature): its upload comes first.
        #[cfg(feature = "upload")]
        None => {
            rules::clone_fields(req)?;
            // The format JimmyAI clones from, as the upload checks it before sending (the
            // length of a WAV is read only when it is sent).
            let (_, ext) = crate::sample::name_of(&req.audio)?;
            rules::clone_extension(ext.as_deref())?;
            out.push(
                PlannedRequest::new(
                    "POST",
                    super::upload::UPLOAD,
                    json!({"file": "<the recording, multipart/form-data, at most 100 MB>"}),
                )
                .note("the local recording is uploaded first (files/upload); not billable"),
            );
            UPLOADED_URL.to_owned()
        }
        _ => rules::clone_request(req, allow_private)?.to_string(),
    };
    let body = clone_body(req, file_url)?;
    out.push(planned("create_clone", json_of(&body)?));
    Ok(out)
}

pub(crate) fn plan_speech(req: &SpeechRequest) -> Result<PlannedRequest, Error> {
    let body = speech_body(req)?;
    Ok(planned("create_audio", json_of(&body)?))
}
