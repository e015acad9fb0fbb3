//! `files/upload`: the multipart upload, the one call progenitor cannot generate, written by
//! hand (reqwest's multipart with a stream body: the file is never read whole into memory)
//! and sent through the generated client's own hooks; and the clone from a local recording
//! that uses it.
//!
//! Retries: the upload creates no billable task (a repeat leaves at most an unused copy of
//! the file), so it is retried like a read ([`OperationKind::Upload`]), the file streamed again
//! for every attempt. The clone submitted after it follows JimmyAI's create rules (never
//! resent once it may have arrived).

use jimmyai_client::types;
use progenitor_client::{ClientInfo, OperationInfo, ResponseValue};

use super::calls::clone_uploaded;
use super::results::{bad_answer, text};
use super::rules;
use crate::error::{Error, ErrorKind, UploadStep};
use crate::model::{AudioSource, CloneJob, CloneRequest};
use crate::retry::OperationKind;
use crate::sample::{LocalSample, ProgressFn, SizeLimit};
use crate::transfer::Uploads;
use crate::transport::{Call, Transport};
use crate::wire::parse_url;

/// The multipart upload, written by hand (progenitor cannot generate multipart bodies); the
/// only vendor route in this crate. Its answer is the generated `UploadFileEnvelope`. What it
/// sends is held to the skipped `uploadFile` of `specs/jimmyai.yaml` by
/// `tests/adapter_routes.rs`.
pub(super) const UPLOAD: &str = "/api/open-api/v1/files/upload";
/// Documented upload limit, "100 MB" (api-facts B7), read as 100,000,000 bytes: whether
/// JimmyAI means MB or MiB (104,857,600) is not documented, and the larger reading let a file
/// of 100,000,001 to 104,857,600 bytes go up whole only to be refused by the vendor, if it
/// counts in MB. The smaller reading refuses at most 4.6 MiB JimmyAI might take, never sends
/// what it refuses.
pub(crate) const UPLOAD_MAX_BYTES: u64 = 100_000_000;

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

fn mime_for(ext: &str) -> Option<&'static str> {
    SAMPLE_TYPES
        .iter()
        .find(|(e, _)| *e == ext)
        .map(|(_, m)| *m)
}

/// Measures and checks a local recording for `files/upload` (and, `for_clone`, for a clone:
/// its format and, for a WAV, its length). Nothing is sent before this passes.
async fn prepare(
    source: &AudioSource,
    up: &Uploads,
    for_clone: bool,
) -> Result<LocalSample, Error> {
    let (_, ext) = crate::sample::name_of(source)?;
    if for_clone {
        rules::clone_extension(ext.as_deref())?;
    } else if ext.as_deref().and_then(mime_for).is_none() {
        let list: Vec<&str> = SAMPLE_TYPES.iter().map(|(e, _)| *e).collect();
        return Err(crate::sample::refuse(format!(
            "JimmyAI's upload takes {} files",
            list.join(", ")
        )));
    }
    measured(source, up.max_bytes, for_clone).await
}

/// The recording measured within JimmyAI's 100 MB and the client's `max_bytes` (the refusal
/// naming JimmyAI's limit), and, `for_clone`, long enough for a clone. Also the fake's
/// check, so that both refuse the same recordings with the same words.
pub(crate) async fn measured(
    source: &AudioSource,
    max_bytes: u64,
    for_clone: bool,
) -> Result<LocalSample, Error> {
    let limit = SizeLimit::new(Some(UPLOAD_MAX_BYTES), max_bytes);
    let sample = LocalSample::prepare(source, limit)
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidInput { reason, .. }
                if reason.contains("the provider accepts at most") =>
            {
                crate::sample::refuse(format!("{reason} (JimmyAI accepts at most 100 MB)"))
            }
            _ => e,
        })?;
    if for_clone {
        rules::clone_duration(&sample).await?;
    }
    Ok(sample)
}

/// Uploads a local recording (`files/upload`) and returns its URL.
pub(crate) async fn upload(
    t: &Transport,
    c: &jimmyai_client::Client,
    source: &AudioSource,
    up: &Uploads,
) -> Result<url::Url, Error> {
    let sample = prepare(source, up, false).await?;
    send(t, c, &sample, up.progress.as_ref()).await
}

/// Clones from a local recording: checks everything first (the request's fields, the file's
/// format, size and, for a WAV, length), uploads it, then submits the clone with its URL.
/// A failure says which step failed; only the last one can have created a task. The URL the
/// upload returned is JimmyAI's own: no URL rule (extension, private host) applies to it.
pub(crate) async fn clone_from_local(
    t: &Transport,
    c: &jimmyai_client::Client,
    req: &CloneRequest,
    up: &Uploads,
) -> Result<CloneJob, Error> {
    rules::clone_fields(req)?;
    let sample = prepare(&req.audio, up, true).await?;
    let url = send(t, c, &sample, up.progress.as_ref()).await?;
    drop(sample);
    // The URL JimmyAI's own upload returned: sent as it is (its shape is not documented).
    clone_uploaded(t, c, req, &url)
        .await
        .map_err(|e| e.with_step(UploadStep::SubmitClone))
}

async fn send(
    t: &Transport,
    c: &jimmyai_client::Client,
    sample: &LocalSample,
    progress: Option<&ProgressFn>,
) -> Result<url::Url, Error> {
    let call = Call {
        operation: "upload",
        route: ("POST", UPLOAD),
        kind: OperationKind::Upload,
        idempotency_key: None,
        body: None,
        free_text: &[],
        fresh_key: false,
        synchronous: false,
    };
    // Every attempt's bytes are checked against this MD5 as they go, so a recording
    // rewritten in place (same length) fails its attempt instead of going up changed.
    let md5 = sample.md5_hex().await?;
    let md5 = md5.as_str();
    let attempts = std::sync::atomic::AtomicU32::new(0);
    let up = t
        .send(call, None, |_| {
            let retried = attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed) > 0;
            upload_once(c, sample, md5, retried, progress.cloned())
        })
        .await
        .map_err(|e| local_failure(e).with_step(UploadStep::UploadFile))?;
    let url = up.as_ref().and_then(|u| text(u.url.as_ref()));
    parse_url("url", url).ok_or_else(|| {
        bad_answer("the upload answer has no usable url").with_step(UploadStep::UploadFile)
    })
}

/// A failure of the local side before an attempt sent anything (the file could not be
/// opened again) arrives as the generated client's `InvalidRequest`: name the recording.
/// One mid-send (the file changed) arrives as `Custom`, which the transport names itself
/// (`sample::failed_while_sent`, phase `Sent`).
fn local_failure(e: Error) -> Error {
    match e.kind() {
        ErrorKind::InvalidInput { field, reason } if field == "request" => {
            let reason = reason.clone();
            e.with_kind(ErrorKind::InvalidInput {
                field: crate::sample::FIELD.into(),
                reason,
            })
        }
        _ => e,
    }
}

/// One upload attempt, streaming the file again, through the generated client's own hooks
/// (auth, timeout, body limit) and answered as a generated call would be.
async fn upload_once(
    c: &jimmyai_client::Client,
    sample: &LocalSample,
    md5: &str,
    retried: bool,
    progress: Option<ProgressFn>,
) -> Result<ResponseValue<types::UploadFileEnvelope>, progenitor_client::Error<()>> {
    let (stream, failure) = sample
        .stream(0, sample.len, Some(md5.to_owned()), progress)
        .await
        .map_err(|e| {
            // After an earlier attempt sent some of it: `Custom`, like a failure mid-send.
            if retried {
                progenitor_client::Error::Custom(local_reason(&e))
            } else {
                progenitor_client::Error::InvalidRequest(local_reason(&e))
            }
        })?;
    let mime = mime_for(&sample.extension).unwrap_or("application/octet-stream");
    let part = reqwest::multipart::Part::stream_with_length(
        reqwest::Body::wrap_stream(stream),
        sample.len,
    )
    .file_name(safe_filename(&sample.file_name))
    .mime_str(mime)?;
    let form = reqwest::multipart::Form::new().part("file", part);
    let url = format!("{}{UPLOAD}", c.baseurl());
    let mut request = c
        .client()
        .post(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .multipart(form)
        .build()?;
    let info = OperationInfo {
        operation_id: "upload_file",
    };
    client_glue::hooks::prepare(c.inner(), &mut request, &info);
    let response = match client_glue::hooks::execute(c.client(), c.inner(), request).await {
        Ok(r) => r,
        Err(e) => {
            // The local side failed mid-send: `Custom` tells the transport it was not the
            // network, and that part of the body went out (`sample::failed_while_sent`).
            return Err(match failure.take() {
                Some(why) => progenitor_client::Error::Custom(why),
                None => e.into(),
            });
        }
    };
    if response.status().as_u16() == 200 {
        if !failure.read_whole() {
            // Answered on the request's head or a part of it: nothing says the recording
            // arrived (see `StreamFailure::read_whole`), so its URL is not used. A fault of
            // the host's, retried as VMEG's PUT is (an upload bills nothing): the transport
            // reads `ErrorResponse`, which no generated call makes, as this answer.
            return Err(progenitor_client::Error::ErrorResponse(
                progenitor_client::ResponseValue::new(
                    (),
                    response.status(),
                    response.headers().clone(),
                ),
            ));
        }
        // Decoded as the generated methods decode (the config's filter scrubs the answer).
        client_glue::hooks::decode(c.inner(), response).await
    } else {
        Err(progenitor_client::Error::UnexpectedResponse(response))
    }
}

fn local_reason(e: &Error) -> String {
    match e.kind() {
        ErrorKind::InvalidInput { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_are_made_safe() {
        assert_eq!(safe_filename("声音 \"x\".wav"), "____x_.wav");
        assert_eq!(safe_filename("..."), "sample");
        assert_eq!(mime_for("wav"), Some("audio/wav"));
        assert_eq!(mime_for("exe"), None);
    }

    #[test]
    fn the_size_limit_is_100_mb() {
        // README: "at most 100 MB (read as 100,000,000 bytes, the safe side of MB or MiB)";
        // the adapter test refuses one byte more, `LocalSample::prepare`'s test passes the
        // limit itself.
        assert_eq!(UPLOAD_MAX_BYTES, 100_000_000);
    }
}
