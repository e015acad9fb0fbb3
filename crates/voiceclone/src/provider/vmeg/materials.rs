//! Cloning from a local recording with VMEG: the recording goes up as a *material*
//! (`assets/material/*`), and the material's `addressUrl` is the clone's `refAudio`.
//!
//! 1. The request's fields, and a caller's idempotency key (no piece of the API key), are
//!    checked before the recording is read. The recording is checked here (it has an
//!    extension; it is not empty) and its MD5 is computed while streaming it (nothing is
//!    read whole into memory).
//! 2. Up to the multipart threshold ([`MULTIPART_THRESHOLD`], or
//!    `ClientBuilder::multipart_upload_threshold`): `gen-upload-url` (MD5 and name) answers
//!    with a presigned PUT URL, or, when VMEG already holds a file with that MD5 ("instant
//!    upload"), with the material itself: no PUT then. Else the file is PUT (streamed, no
//!    `Authorization`, its MD5 checked again as it streams) and `upload/complete` registers
//!    it. Above the threshold: `multipart/initiate`, `presign-parts` (at most 100 parts per
//!    call, parts of VMEG's `recommendedPartSize`), one PUT per part (its `ETag` kept),
//!    `multipart/complete`; a failure after `initiate` aborts the upload (best effort,
//!    in a call with `CallOptions` time within `ABORT_BOUND` of its own, even when that time
//!    is up; a
//!    dropped future sends no abort, and whether VMEG expires the session is UNKNOWN).
//! 3. The clone is submitted with the material's `addressUrl` as `refAudio`.
//!
//! **An assumption**: VMEG documents materials for its translate-and-dub product. Whether a
//! Standalone clone accepts a material's `addressUrl` as `refAudio`, and how long that URL
//! stays fetchable, is UNKNOWN; when VMEG refuses the clone, the error says so
//! ([`UNKNOWN_NOTE`]).
//!
//! Retries: every material call carries its own `X-Idempotency-Key`, reused by its retries,
//! and is retried like a read ([`OperationKind::Upload`]: no material call is billable); a
//! PUT is retried by streaming its range again. A 409 on a retry means an earlier attempt
//! landed and its answer was lost (VMEG replays no answers): the call is made again under a
//! new key, and a completing call's lost answer is recovered with `gen-upload-url`, which
//! then finds the registered file by its MD5 (an instant upload). A failure at any step before the clone
//! leaves no clone submitted and says which step failed ([`Error::step`]); the clone itself
//! follows VMEG's create rules (one key, `OutcomeUnknown` when it may have landed).

use std::collections::BTreeMap;

use vmeg_client::types;

use super::calls::{
    check_caller_key, clone_voice, fresh_key_on_conflict, key_header, new_key, route,
};
use super::results::text;
use crate::error::{Error, ErrorKind, Phase, UploadStep};
use crate::model::{AudioSource, CloneJob, CloneRequest, Provider};
use crate::retry::OperationKind;
use crate::sample::{LocalSample, SizeLimit};
use crate::transfer::{self, Uploads};
use crate::transport::{Call, RequestId, Transport, envelopes};
use crate::wire::parse_url;

envelopes! {
    types::MaterialUploadUrlEnvelope => types::MaterialUploadUrlData, message;
    types::MaterialEnvelope => types::Material, message;
    types::MaterialMultipartInitiateEnvelope => types::MaterialMultipartInitiateData, message;
    types::MaterialMultipartPresignEnvelope => types::MaterialMultipartPresignData, message;
}

/// What the error of a refused clone adds (see the module docs).
pub(crate) const UNKNOWN_NOTE: &str = "the recording was uploaded as a VMEG material and its addressUrl sent as refAudio; \
whether VMEG's clone accepts its own material URLs, and for how long they stay fetchable, is not documented (UNKNOWN). \
If VMEG refuses it, host the recording at a public HTTPS URL and clone from that URL";

/// Default multipart threshold: larger files go up in parts.
pub(crate) const MULTIPART_THRESHOLD: u64 = 64 * 1024 * 1024;
/// Part size when VMEG recommends none.
const DEFAULT_PART_SIZE: u64 = 8 * 1024 * 1024;
/// Part numbers VMEG accepts (documented: 1 to 10000).
const MAX_PARTS: u64 = 10_000;
/// The smallest part sent, whatever VMEG recommends (its limits are UNKNOWN; S3's smallest
/// part is 5 MiB): a recommendation of 1 byte would otherwise have a 64 MiB recording go up
/// in 10,000 PUTs, each kept with its ETag until `complete` (256 with this floor).
const MIN_PART_SIZE: u64 = 256 * 1024;
/// Parts presigned per `presign-parts` call (the URLs expire; the answer stays small).
const PRESIGN_BATCH: u64 = 100;

fn bad_answer(step: UploadStep, why: &str) -> Error {
    Error::new(ErrorKind::InvalidResponse)
        .with_provider(Provider::Vmeg)
        .with_phase(Phase::Answered)
        .with_message(why)
        .with_step(step)
}

/// A material call: one key for all its attempts, retried like a read.
fn call<'a>(rust_name: &str, key: &'a str) -> Call<'a> {
    Call {
        operation: "upload",
        route: route(rust_name),
        kind: OperationKind::Upload,
        idempotency_key: Some(key),
        body: None,
        free_text: &[],
        fresh_key: false,
        synchronous: false,
    }
}

/// The recording, checked and measured (VMEG documents no size or format limit for
/// materials: it needs a file name with an extension; an empty file is refused, and one
/// over the client's `max_upload_bytes`).
async fn prepare(source: &AudioSource, up: &Uploads) -> Result<LocalSample, Error> {
    measured(source, up.max_bytes).await
}

/// [`prepare`] within `max_bytes` (the client's `max_upload_bytes`): also the fake's and a
/// dry run's check, so that all three refuse the same recordings with the same words.
pub(crate) async fn measured(source: &AudioSource, max_bytes: u64) -> Result<LocalSample, Error> {
    LocalSample::prepare(source, SizeLimit::new(None, max_bytes)).await
}

/// Uploads a local recording as a material; returns its `addressUrl`.
pub(crate) async fn upload(
    t: &Transport,
    c: &vmeg_client::Client,
    up: &Uploads,
    source: &AudioSource,
    allow_private: bool,
) -> Result<url::Url, Error> {
    let sample = prepare(source, up).await?;
    send(t, c, up, &sample, allow_private).await
}

/// Clones from a local recording (see the module docs).
pub(crate) async fn clone_from_local(
    t: &Transport,
    c: &vmeg_client::Client,
    up: &Uploads,
    req: &CloneRequest,
    allow_private: bool,
) -> Result<CloneJob, Error> {
    super::rules::clone_fields(req)?;
    check_caller_key(t, req.idempotency_key.as_ref())?;
    let sample = prepare(&req.audio, up).await?;
    let url = send(t, c, up, &sample, allow_private).await?;
    drop(sample);
    clone_voice(t, c, &req.with_audio_url(&url), allow_private)
        .await
        .map_err(submit_after_upload_failed)
}

/// The clone submit after the upload failed: the step named, and a refusal noted (VMEG may
/// not take its own material URLs as `refAudio`, see [`UNKNOWN_NOTE`]).
pub(crate) fn submit_after_upload_failed(e: Error) -> Error {
    let refused = matches!(
        e.kind(),
        ErrorKind::InvalidRequest | ErrorKind::InvalidInput { .. } | ErrorKind::Vendor
    );
    let e = e.with_step(UploadStep::SubmitClone);
    if refused {
        e.with_note(UNKNOWN_NOTE)
    } else {
        e
    }
}

async fn send(
    t: &Transport,
    c: &vmeg_client::Client,
    up: &Uploads,
    sample: &LocalSample,
    allow_private: bool,
) -> Result<url::Url, Error> {
    let md5 = sample.md5_hex().await?;
    let material = if in_parts(sample.len, up.multipart_threshold) {
        multipart(t, c, up, sample, &md5, allow_private).await?
    } else {
        single(t, c, up, sample, &md5, allow_private).await?
    };
    Ok(material)
}

/// Whether a file of `len` bytes goes up in parts: above the threshold set on the builder,
/// else above [`MULTIPART_THRESHOLD`].
fn in_parts(len: u64, threshold: Option<u64>) -> bool {
    len > threshold.unwrap_or(MULTIPART_THRESHOLD)
}

/// The `addressUrl` of a material answer that is this recording's. A `fileHash` other than
/// its MD5, or a `materialId` other than the one this upload was given, names another file
/// (a cache or a server answering with someone else's material): cloning from it would bill
/// a clone of another voice, so it is refused and nothing is cloned. (Both fields are
/// checked when the answer has them: VMEG's material shape is only partly documented.)
fn address(
    m: Option<&types::Material>,
    step: UploadStep,
    md5: &str,
    material_id: Option<&str>,
) -> Result<url::Url, Error> {
    if let Some(hash) = m
        .and_then(|m| text(m.file_hash.as_ref()))
        .map(str::trim)
        .filter(|h| !h.is_empty())
        && !hash.eq_ignore_ascii_case(md5)
    {
        return Err(bad_answer(
            step,
            "the material answered is another file's (its fileHash is not this recording's MD5); nothing was cloned",
        ));
    }
    if let (Some(want), Some(got)) = (material_id, m.and_then(|m| text(m.material_id.as_ref())))
        && got != want
    {
        return Err(bad_answer(
            step,
            "the material answered is not the one this upload made (another materialId); nothing was cloned",
        ));
    }
    parse_url("addressUrl", m.and_then(|m| text(m.address_url.as_ref())))
        .ok_or_else(|| bad_answer(step, "the material has no usable addressUrl"))
}

/// `gen-upload-url`: where to PUT the file, or the material VMEG already holds.
async fn gen_upload_url(
    t: &Transport,
    c: &vmeg_client::Client,
    sample: &LocalSample,
    md5: &str,
) -> Result<types::MaterialUploadUrlData, Error> {
    let step = UploadStep::RequestUploadUrl;
    let body = types::MaterialFileRequest {
        file_hash: md5.to_owned(),
        file_name: sample.file_name.clone(),
    };
    let body = &body;
    fresh_key_on_conflict(t, |key| async move {
        let header = key_header(&key)?;
        t.send(
            call("material_gen_upload_url", &key),
            None,
            |rid: RequestId| {
                let header = &header;
                async move {
                    c.material_gen_upload_url(Some(rid.as_str()), header, body)
                        .await
                }
            },
        )
        .await
    })
    .await
    .map_err(|e| e.with_step(step))?
    .ok_or_else(|| bad_answer(step, "the answer has no data"))
}

/// The material VMEG holds for this MD5 (an instant-upload answer), after a completing call
/// whose answer was lost: the file is registered, `gen-upload-url` finds it.
async fn registered(
    t: &Transport,
    c: &vmeg_client::Client,
    sample: &LocalSample,
    md5: &str,
    lost: Error,
) -> Result<url::Url, Error> {
    match gen_upload_url(t, c, sample, md5).await {
        Ok(d) if d.material.is_some() => {
            address(d.material.as_ref(), UploadStep::RequestUploadUrl, md5, None)
        }
        _ => Err(lost),
    }
}

async fn single(
    t: &Transport,
    c: &vmeg_client::Client,
    up: &Uploads,
    sample: &LocalSample,
    md5: &str,
    allow_private: bool,
) -> Result<url::Url, Error> {
    let step = UploadStep::RequestUploadUrl;
    let data = gen_upload_url(t, c, sample, md5).await?;
    let upload_url = text(data.upload_url.as_ref()).filter(|u| !u.trim().is_empty());
    let Some(upload_url) = upload_url else {
        // Instant upload: VMEG already holds this file.
        tracing::debug!("VMEG already holds this file (instant upload); no PUT");
        return address(data.material.as_ref(), step, md5, None);
    };
    let url = transfer::presigned_url(upload_url, allow_private)
        .map_err(|e| e.with_provider(Provider::Vmeg).with_step(step))?;
    let (Some(s3_uri), Some(material_id)) =
        (text(data.s3_uri.as_ref()), text(data.material_id.as_ref()))
    else {
        return Err(bad_answer(step, "the answer has no s3Uri or materialId"));
    };
    transfer::put(t, up, &url, sample, (0, sample.len), Some(md5))
        .await
        .map_err(|e| e.with_step(UploadStep::Put))?;
    let step = UploadStep::CompleteUpload;
    let body = types::MaterialUploadCompleteRequest {
        file_hash: md5.to_owned(),
        file_name: sample.file_name.clone(),
        material_id: material_id.to_owned(),
        s3_uri: s3_uri.to_owned(),
    };
    let key = new_key(t);
    let header = key_header(&key)?;
    let completed = t
        .send(
            call("material_upload_complete", &key),
            None,
            |rid: RequestId| {
                let (header, body) = (&header, &body);
                async move {
                    c.material_upload_complete(Some(rid.as_str()), header, body)
                        .await
                }
            },
        )
        .await
        .map_err(|e| e.with_step(step));
    match completed {
        Ok(material) => address(material.as_ref(), step, md5, Some(material_id)),
        Err(e) if e.kind() == &ErrorKind::Conflict => registered(t, c, sample, md5, e).await,
        Err(e) => Err(e),
    }
}

/// The part size: VMEG's recommendation (or 8 MiB), at least [`MIN_PART_SIZE`], raised so
/// that at most 10000 parts cover the file.
fn part_size(recommended: Option<i64>, len: u64) -> u64 {
    let wanted = recommended
        .and_then(|r| u64::try_from(r).ok())
        .filter(|r| *r > 0)
        .unwrap_or(DEFAULT_PART_SIZE);
    wanted.max(MIN_PART_SIZE).max(len.div_ceil(MAX_PARTS))
}

/// The session of a multipart upload, for presign, complete and abort.
struct Session {
    material_id: String,
    upload_id: String,
    file_hash: String,
    file_name: String,
}

async fn multipart(
    t: &Transport,
    c: &vmeg_client::Client,
    up: &Uploads,
    sample: &LocalSample,
    md5: &str,
    allow_private: bool,
) -> Result<url::Url, Error> {
    let step = UploadStep::StartMultipart;
    let body = types::MaterialFileRequest {
        file_hash: md5.to_owned(),
        file_name: sample.file_name.clone(),
    };
    let body = &body;
    let data = fresh_key_on_conflict(t, |key| async move {
        let header = key_header(&key)?;
        t.send(
            call("material_multipart_initiate", &key),
            None,
            |rid: RequestId| {
                let header = &header;
                async move {
                    c.material_multipart_initiate(Some(rid.as_str()), header, body)
                        .await
                }
            },
        )
        .await
    })
    .await
    .map_err(|e| e.with_step(step))?
    .ok_or_else(|| bad_answer(step, "the answer has no data"))?;
    let (Some(material_id), Some(upload_id)) = (
        text(data.material_id.as_ref()),
        text(data.upload_id.as_ref()),
    ) else {
        return Err(bad_answer(step, "the answer has no materialId or uploadId"));
    };
    let session = Session {
        material_id: material_id.to_owned(),
        upload_id: upload_id.to_owned(),
        file_hash: md5.to_owned(),
        file_name: sample.file_name.clone(),
    };
    let size = part_size(
        data.recommended_part_size.as_ref().and_then(|r| r.value()),
        sample.len,
    );
    match parts(t, c, up, sample, &session, size, allow_private).await {
        Ok(url) => Ok(url),
        Err(e) => {
            // Outside the call's deadline: a part that failed because the call's time ran
            // out (a PUT gets the time left as its timeout) left none for the abort, which
            // was then never sent and VMEG kept the parts. Its own bound keeps the call from
            // waiting long on an abort VMEG does not answer.
            if crate::client::time_left().is_some() {
                crate::client::with_own_bound(ABORT_BOUND, abort(t, c, &session)).await;
            } else {
                // No time limit on the call: the abort has the client's own timeouts, retries
                // and slots, as every call does (review 27 pass 2-a #3).
                abort(t, c, &session).await;
            }
            Err(e)
        }
    }
}

/// How long the abort of a failed multipart upload may take in a call with a `CallOptions`
/// timeout or deadline, whatever its time left: such a call may end this much past it.
const ABORT_BOUND: std::time::Duration = std::time::Duration::from_secs(5);

async fn parts(
    t: &Transport,
    c: &vmeg_client::Client,
    up: &Uploads,
    sample: &LocalSample,
    s: &Session,
    size: u64,
    allow_private: bool,
) -> Result<url::Url, Error> {
    let count = sample.len.div_ceil(size);
    let mut done: Vec<types::MaterialMultipartPart> = Vec::new();
    let mut first = 1u64;
    while first <= count {
        let last = (first + PRESIGN_BATCH - 1).min(count);
        let urls = presign(t, c, s, first, last).await?;
        for n in first..=last {
            let step = UploadStep::PutPart(u32::try_from(n).unwrap_or(u32::MAX));
            let raw = urls
                .get(&n)
                .ok_or_else(|| bad_answer(UploadStep::PresignParts, "a part has no URL"))?;
            let url = transfer::presigned_url(raw, allow_private).map_err(|e| {
                e.with_provider(Provider::Vmeg)
                    .with_step(UploadStep::PresignParts)
            })?;
            let offset = (n - 1) * size;
            let len = size.min(sample.len - offset);
            let etag = transfer::put(t, up, &url, sample, (offset, len), None)
                .await
                .map_err(|e| e.with_step(step))?
                .ok_or_else(|| bad_answer(step, "storage answered the part without an ETag"))?;
            done.push(types::MaterialMultipartPart {
                e_tag: Some(etag),
                part_number: i64::try_from(n).ok(),
            });
        }
        first = last + 1;
    }
    // Parts go up without an MD5 each (only the whole has one): the recording is hashed
    // again before it is registered under that MD5, so one rewritten in place while its
    // parts went up (same length, same file) is refused, not registered as a mix of old and
    // new bytes under the old hash (which VMEG's instant upload would match for good).
    let now = sample
        .md5_hex_after_sending()
        .await
        .map_err(|e| e.with_step(UploadStep::CompleteMultipart))?;
    if !now.eq_ignore_ascii_case(&s.file_hash) {
        return Err(crate::sample::failed_while_sent(
            "the recording changed while it was being sent (its MD5 differs)".into(),
        )
        .with_step(UploadStep::CompleteMultipart));
    }
    let step = UploadStep::CompleteMultipart;
    let key = new_key(t);
    let header = key_header(&key)?;
    let body = types::MaterialMultipartCompleteRequest {
        file_hash: Some(s.file_hash.clone()),
        file_name: Some(s.file_name.clone()),
        material_id: Some(s.material_id.clone()),
        parts: done,
        upload_id: Some(s.upload_id.clone()),
    };
    let completed = t
        .send(
            call("material_multipart_complete", &key),
            None,
            |rid: RequestId| {
                let (header, body) = (&header, &body);
                async move {
                    c.material_multipart_complete(Some(rid.as_str()), header, body)
                        .await
                }
            },
        )
        .await
        .map_err(|e| e.with_step(step));
    match completed {
        Ok(material) => address(material.as_ref(), step, &s.file_hash, Some(&s.material_id)),
        Err(e) if e.kind() == &ErrorKind::Conflict => {
            registered(t, c, sample, &s.file_hash, e).await
        }
        Err(e) => Err(e),
    }
}

/// Presigned URLs of parts `first..=last`, by part number.
async fn presign(
    t: &Transport,
    c: &vmeg_client::Client,
    s: &Session,
    first: u64,
    last: u64,
) -> Result<BTreeMap<u64, String>, Error> {
    let step = UploadStep::PresignParts;
    let body = types::MaterialMultipartPresignRequest {
        file_hash: Some(s.file_hash.clone()),
        file_name: Some(s.file_name.clone()),
        material_id: Some(s.material_id.clone()),
        part_numbers: (first..=last)
            .filter_map(|n| i64::try_from(n).ok())
            .collect(),
        upload_id: Some(s.upload_id.clone()),
    };
    let body = &body;
    let data = fresh_key_on_conflict(t, |key| async move {
        let header = key_header(&key)?;
        t.send(
            call("material_multipart_presign", &key),
            None,
            |rid: RequestId| {
                let header = &header;
                async move {
                    c.material_multipart_presign(Some(rid.as_str()), header, body)
                        .await
                }
            },
        )
        .await
    })
    .await
    .map_err(|e| e.with_step(step))?
    .ok_or_else(|| bad_answer(step, "the answer has no data"))?;
    Ok(data
        .urls
        .iter()
        .filter_map(|u| {
            let n = u
                .part_number
                .as_ref()?
                .value()
                .and_then(|n| u64::try_from(n).ok())?;
            Some((n, text(u.url.as_ref())?.to_owned()))
        })
        .collect())
}

/// Cancels a multipart upload after a failed step (best effort: its own failure is logged,
/// the step's error is what the caller gets).
async fn abort(t: &Transport, c: &vmeg_client::Client, s: &Session) {
    let key = new_key(t);
    let Ok(header) = key_header(&key) else {
        return;
    };
    let body = types::MaterialMultipartAbortRequest {
        file_hash: Some(s.file_hash.clone()),
        file_name: Some(s.file_name.clone()),
        material_id: Some(s.material_id.clone()),
        upload_id: Some(s.upload_id.clone()),
    };
    let aborted = t
        .send(
            call("material_multipart_abort", &key),
            None,
            |rid: RequestId| {
                let (header, body) = (&header, &body);
                async move {
                    c.material_multipart_abort(Some(rid.as_str()), header, body)
                        .await
                }
            },
        )
        .await;
    if let Err(e) = aborted {
        tracing::warn!(error = %e.kind(), "could not abort the multipart upload; VMEG may keep its parts");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_sizes_follow_vmeg_within_ten_thousand_parts() {
        assert_eq!(part_size(Some(5 << 20), 100 << 20), 5 << 20);
        assert_eq!(part_size(None, 100 << 20), DEFAULT_PART_SIZE);
        assert_eq!(part_size(Some(0), 10), DEFAULT_PART_SIZE);
        assert_eq!(part_size(Some(-5), 10), DEFAULT_PART_SIZE);
        let huge = 200_000u64 << 20;
        assert!(huge.div_ceil(part_size(Some(1 << 20), huge)) <= MAX_PARTS);
        // A recommendation below the floor (a hostile or broken 1 byte) is raised to it.
        assert_eq!(part_size(Some(1), 65 << 20), MIN_PART_SIZE);
        assert_eq!(part_size(Some(1000), 10), MIN_PART_SIZE);
    }

    /// A completing answer about another upload's material (another `materialId`) or
    /// another file (another `fileHash`, in any case) is refused; fields it leaves out are not
    /// held against it.
    #[test]
    fn a_material_of_another_upload_or_file_is_refused() {
        const MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";
        let material = |id: Option<&str>, hash: Option<&str>| types::Material {
            material_id: id.map(Into::into),
            file_hash: hash.map(Into::into),
            address_url: Some("https://cdn.example.com/m.wav".into()),
            ..Default::default()
        };
        let step = UploadStep::CompleteUpload;
        let ok = |m: types::Material| address(Some(&m), step, MD5, Some("m-1")).is_ok();
        assert!(ok(material(Some("m-1"), Some(MD5))));
        assert!(ok(material(Some("m-1"), Some(&MD5.to_uppercase()))));
        assert!(ok(material(None, None)));
        assert!(!ok(material(Some("m-2"), Some(MD5))));
        assert!(!ok(material(Some("m-1"), Some("0"))));
    }

    #[test]
    fn files_above_64_mib_go_up_in_parts() {
        // README: "Files above 64 MiB (`ClientBuilder::multipart_upload_threshold`) go up in
        // parts". The adapter tests prove the multipart path with a small threshold.
        assert!(!in_parts(64 << 20, None));
        assert!(in_parts((64 << 20) + 1, None));
        assert!(!in_parts(1000, Some(1000)));
        assert!(in_parts(1001, Some(1000)));
    }
}
