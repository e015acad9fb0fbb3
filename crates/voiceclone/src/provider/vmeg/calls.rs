//! The calls into the generated `vmeg-client`: submits, with one idempotency key per
//! logical call reused by every retry (`tasks/detail` is in `status`, the voice list in
//! `voices`).

use vmeg_client::types;

use super::results::{
    no_task_id, parsed_time, sync_clone_has_result, sync_clone_job, sync_speech_has_result,
    sync_speech_job, text,
};
use super::rules;
use super::webhook::{EXTRA_DATA_IDEMPOTENCY_KEY, EXTRA_DATA_NAMESPACE};
use crate::error::{Error, ErrorKind};
use crate::model::{CloneJob, CloneRequest, JobId, Provider, SpeechJob, SpeechRequest, TaskStatus};
use crate::retry::OperationKind;
use crate::transport::{Call, RequestId, Transport, envelopes};
use crate::wire::usable_id;

/// Request fields holding the caller's free text: summarized, never quoted.
pub(crate) const FREE_TEXT: &[&str] = &["sampleText", "text", "emoPrompt"];

/// The page size `tasks/list` documents as its default (api-facts A10). No `pageSize` is
/// sent: VMEG's largest is UNKNOWN (A10, A17), and a size it refuses would fail every list
/// read, so the server applies its own default. This is only what the pager takes for a
/// full page (a server whose default differs is read to its end all the same: a short page
/// ends nothing, see `provider::paging`).
pub(super) const TASKS_PAGE_SIZE: i64 = 20;

/// The page size the voice lists (`assets/voice/clone/list`, `.../basic/list`) document as
/// their default (VMEG's document). Not sent either: see [`TASKS_PAGE_SIZE`].
pub(super) const VOICES_PAGE_SIZE: i64 = 10;

envelopes! {
    types::CloneVoiceCreateSyncEnvelope => types::CloneVoiceCreateData, message;
    types::TaskAcceptedEnvelope => types::TaskAcceptedData, message;
    types::TtsCreateSyncEnvelope => types::TtsCreateData, message;
    types::TaskDetailEnvelope => types::TaskDetailData, message;
    types::CloneVoiceListEnvelope => types::CloneVoiceListData, message;
    types::VoidEnvelope => client_glue::RawJson, message;
}

/// Method and path of a generated operation, for a request summary.
pub(super) fn route(rust_name: &str) -> (&'static str, &'static str) {
    vmeg_client::operation(rust_name).map_or(("POST", "?"), |op| (op.method, op.path))
}

/// An idempotency key as the generated header type (1..=64 characters, checked earlier).
pub(super) fn key_header<T: TryFrom<String>>(key: &str) -> Result<T, Error> {
    T::try_from(key.to_owned())
        .map_err(|_| Error::invalid_input("idempotency_key", "must be 1 to 64 characters"))
}

/// The voice name sent when the caller gave none: `voiceclone-` and the first 12 hex digits
/// of the idempotency key's SHA-256, so that the voice can be found again by its key
/// (`reconcile` searches the voice list for it). The whole key is hashed: keys that share
/// a prefix (`tenant-7-clone-1`, `tenant-7-clone-2`) get different names, where a name cut
/// from the key gave them one, and reconcile then took one tenant's voice for another's
/// lost clone. 23 characters, as before: VMEG's limit on `voiceName` is UNKNOWN.
pub(crate) fn default_name(key: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
    let mut first = [0u8; 8];
    for (to, from) in first.iter_mut().zip(digest.as_ref()) {
        *to = *from;
    }
    // The first 6 bytes as 12 hex digits (std's integer formatting, as `RandomId`'s).
    format!("voiceclone-{:012x}", u64::from_be_bytes(first) >> 16)
}

/// A new idempotency key that holds no piece of the API key. Every key the client draws (a
/// create's, a rename's, a material step's) is sent as a header and kept in errors and log
/// lines (see [`submit_key`] and `RandomId::clear_of`).
pub(super) fn new_key(t: &Transport) -> String {
    crate::random_id::RandomId::clear_of(&t.scrubber).to_string()
}

/// A submit's idempotency key: the caller's, or a new one. It is sent, kept in the job and
/// in the error that finds a lost submit (`ReconcileQuery::from_error`, `resubmit_*`), so it
/// must hold no piece of the API key: every error leaves through the key's scrubber, which
/// would change it there, and a resend under the changed key is billed as a second task. A
/// caller's such key is refused before anything is sent (without quoting it); a new one is
/// drawn again (a random 32-digit key meets an 8-character piece of the API key about once
/// in ten million submits).
fn submit_key(t: &Transport, given: Option<&String>) -> Result<String, Error> {
    check_caller_key(t, given)?;
    match given {
        Some(key) => Ok(key.clone()),
        None => Ok(new_key(t)),
    }
}

/// Refuses a caller's idempotency key holding a piece of the API key (see [`submit_key`]),
/// without quoting it. A clone from a local recording runs this before the upload, so that
/// such a key costs no upload and leaves a caller's reader unread.
pub(super) fn check_caller_key(t: &Transport, given: Option<&String>) -> Result<(), Error> {
    match given {
        Some(key) if t.scrubber.finds_secret_in(key) => Err(Error::invalid_input(
            "idempotency_key",
            "holds a piece of the API key: it would be sent as a header and kept in errors \
             and logs; choose a key that shares nothing with the API key",
        )),
        _ => Ok(()),
    }
}

/// Runs a call that is not a create (a material step, a list read) under a new key; a 409
/// means one of its own attempts landed without its answer reaching us (VMEG does not
/// replay answers, and refuses a key twice), so the call is made once more under another
/// new key. Safe only where a second request creates nothing billable.
pub(super) async fn fresh_key_on_conflict<T, F, Fut>(t: &Transport, f: F) -> Result<T, Error>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    match f(new_key(t)).await {
        Err(e) if e.kind() == &ErrorKind::Conflict => {
            tracing::debug!(
                "a call's answer was lost after it landed; asking again under a new key"
            );
            f(new_key(t)).await
        }
        other => other,
    }
}

/// `{"voiceclone": {"idempotencyKey": key}}`: lets a webhook be matched to its submit.
pub(super) fn extra_data(key: &str) -> types::ExtraData {
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

pub(super) fn engine(e: crate::model::VmegEngine) -> types::CloneEngine {
    use crate::model::VmegEngine::*;
    match e {
        V1 => types::CloneEngine::V1,
        V2 => types::CloneEngine::V2,
        V3 => types::CloneEngine::V3,
        V4 => types::CloneEngine::V4,
        V5 => types::CloneEngine::V5,
    }
}

pub(super) fn output_format(f: crate::model::OutputFormat) -> types::OutputFormat {
    use crate::model::OutputFormat::*;
    match f {
        Wav => types::OutputFormat::Wav,
        Mp3 => types::OutputFormat::Mp3,
        M4a => types::OutputFormat::M4a,
    }
}

/// A VMEG create: one idempotency key for every attempt; the body is summarized (free text
/// as length and hash) only for an `OutcomeUnknown`.
fn create_call<'a>(
    operation: &'static str,
    rust_name: &str,
    key: &'a str,
    fresh_key: bool,
    summary: &'a (dyn Fn() -> Option<serde_json::Value> + Sync),
) -> Call<'a> {
    Call {
        operation,
        route: route(rust_name),
        kind: OperationKind::IdempotentWrite,
        idempotency_key: Some(key),
        body: Some(summary),
        free_text: FREE_TEXT,
        fresh_key,
        synchronous: rust_name.ends_with("_sync"),
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
    let fresh = req.idempotency_key.is_none();
    let key = submit_key(t, req.idempotency_key.as_ref())?;
    // VMEG's required fields are undocumented; a name is needed to find the voice later.
    let name = req.name.clone().unwrap_or_else(|| default_name(&key));
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
        let call = create_call(
            "clone_voice",
            "clone_voice_create_sync",
            &key,
            fresh,
            &summary,
        );
        // The answer's voice is its result: accepted without a `taskId` (not marked required;
        // the job then names no task, see `JobId::names_no_task`).
        let result = t
            .send_with_result(
                call,
                Some(clone_task_id),
                Some(sync_clone_has_result),
                |rid: RequestId| {
                    let (header, body) = (&header, &body);
                    async move {
                        c.clone_voice_create_sync(Some(rid.as_str()), header, body)
                            .await
                    }
                },
            )
            .await?;
        let mut job = result
            .as_ref()
            .and_then(sync_clone_job)
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
        let call = create_call(
            "clone_voice",
            "clone_voice_create_async",
            &key,
            fresh,
            &summary,
        );
        let accepted = t
            .send(call, Some(accepted_task_id), |rid: RequestId| {
                let (header, body) = (&header, &body);
                async move {
                    c.clone_voice_create_async(Some(rid.as_str()), header, body)
                        .await
                }
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

pub(crate) async fn synthesize(
    t: &Transport,
    c: &vmeg_client::Client,
    req: &SpeechRequest,
) -> Result<SpeechJob, Error> {
    rules::speech_request(req)?;
    rules::warn_pause_markers(req);
    // A key a long text drew for its part is as fresh as one drawn here (review 34 pass 3 #2):
    // a 409 on it is this submit's own attempt that landed.
    let fresh = req
        .idempotency_key
        .as_deref()
        .is_none_or(crate::transport::drawn_for_this_part);
    let key = submit_key(t, req.idempotency_key.as_ref())?;
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
        let call = create_call("synthesize", "tts_create_sync", &key, fresh, &summary);
        // The answer's audio is its result: accepted without a `taskId` (see above).
        let result = t
            .send_with_result(
                call,
                Some(tts_task_id),
                Some(sync_speech_has_result),
                |rid: RequestId| {
                    let (header, body) = (&header, &body);
                    async move { c.tts_create_sync(Some(rid.as_str()), header, body).await }
                },
            )
            .await?;
        result
            .as_ref()
            .and_then(sync_speech_job)
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
        let call = create_call("synthesize", "tts_create_async", &key, fresh, &summary);
        let accepted = t
            .send(call, Some(accepted_task_id), |rid: RequestId| {
                let (header, body) = (&header, &body);
                async move { c.tts_create_async(Some(rid.as_str()), header, body).await }
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

#[cfg(test)]
mod name_tests {
    use super::default_name;

    #[test]
    fn a_default_name_is_the_keys_sha256_and_keys_sharing_a_prefix_get_different_ones() {
        // SHA-256("abc") starts ba7816bf8f01 (FIPS 180-2, appendix B.1).
        assert_eq!(default_name("abc"), "voiceclone-ba7816bf8f01");
        let a = default_name("tenant-000123-clone-1");
        let b = default_name("tenant-000123-clone-2");
        assert_ne!(a, b);
        assert_ne!(default_name("a-b"), default_name("ab"));
        for key in ["----", "k", &"x".repeat(64)] {
            let name = default_name(key);
            assert_eq!(name.len(), 23, "{name}");
            assert!(name.starts_with("voiceclone-"), "{name}");
        }
    }
}

#[cfg(test)]
mod tests {
    //! Interim guard for the `("POST", "?")` fallback of [`route`]: an operation name that
    //! is not in the generated table would only show as a `?` path in a summary.

    use crate::provider::operation_names::operation_literals;

    #[test]
    fn every_operation_name_the_adapter_passes_is_a_generated_operation() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/provider/vmeg");
        let names = operation_literals(&dir);
        let unknown: Vec<&(String, String)> = names
            .iter()
            .filter(|(_, name)| vmeg_client::operation(name).is_none())
            .collect();
        assert!(
            unknown.is_empty(),
            "not in vmeg_client::OPERATIONS: {unknown:?}"
        );
        // The scan found the calls it is meant to (it would pass vacuously otherwise).
        for want in [
            "tts_create_sync",
            "clone_voice_create_async",
            "tasks_detail",
        ] {
            assert!(
                names.iter().any(|(_, n)| n == want),
                "{want} not found: {names:?}"
            );
        }
        assert!(names.len() >= 20, "{names:?}");
    }
}
