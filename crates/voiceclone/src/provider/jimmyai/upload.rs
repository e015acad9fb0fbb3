//! `files/upload`: the multipart upload, the one call progenitor cannot generate, written by
//! hand and sent through the generated client's own hooks.

use std::path::Path;

use jimmyai_client::types;
use progenitor_client::{ClientInfo, OperationInfo, ResponseValue};

use super::results::{bad_answer, text};
use crate::error::Error;
use crate::retry::OperationKind;
use crate::transport::{Call, Transport};
use crate::wire::parse_url;

/// The multipart upload, written by hand (progenitor cannot generate multipart bodies); the
/// only vendor route in this crate. Its answer is the generated `UploadFileEnvelope`.
const UPLOAD: &str = "/api/open-api/v1/files/upload";
/// Documented upload limit.
pub(crate) const UPLOAD_MAX_BYTES: u64 = 100 * 1024 * 1024;

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
        // Decoded as the generated methods decode (the config's filter scrubs the answer).
        client_glue::hooks::decode(client.inner(), response).await
    } else {
        Err(progenitor_client::Error::UnexpectedResponse(response))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
}
