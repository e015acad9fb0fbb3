//! `tasks/detail`: a task's status and result, for either kind.

use serde::Deserialize;
use vmeg_client::types;

use super::calls::route;
use super::results::{clone_job, map_status, speech_job, status_is_assumed, text};
use crate::error::{Error, ErrorKind};
use crate::model::{CloneJob, Job, JobId, JobKind, Provider, SpeechJob, TaskStatus, wrong_kind};
use crate::retry::OperationKind;
use crate::transport::{Call, RequestId, Transport};
use crate::validate;
use crate::wire::{lenient_string, same_result_task, same_task};

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
        .map(|s| crate::error::folded(s, crate::error::MAX_MESSAGE_CHARS))
        .find(|s| !s.is_empty())
    }
}

/// A task's status, its raw status word and its `result` read as `T` (its text is decoded
/// with the answer's scrubbing still applied).
struct Detail<T> {
    /// `taskType` (`cloneVoice`, `tts`, ...), when the answer says.
    task_type: Option<String>,
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
        fresh_key: false,
        synchronous: false,
    };
    let d = t
        .send(call, None, |rid: RequestId| async move {
            c.tasks_detail(Some(rid.as_str()), id.as_str()).await
        })
        .await?
        .ok_or_else(|| {
            Error::new(ErrorKind::InvalidResponse)
                .with_provider(Provider::Vmeg)
                .with_message("the answer has no task")
                .answer_without_task()
        })?;
    same_task(Provider::Vmeg, id, text(d.task_id.as_ref()))
        .map_err(|e| e.with_operation(operation))?;
    let task_type = text(d.task_type.as_ref())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let raw = text(d.status.as_ref()).map(str::to_owned);
    let status = raw
        .as_deref()
        .map_or(TaskStatus::Unknown(String::new()), map_status);
    let result_text = d.result.as_ref().map_or("null", |r| r.get()).trim();
    // Most polls carry no result yet: nothing to read (and no error to build).
    let (result, extras) = if result_text.starts_with('{') {
        crate::scrub::decoding_with(&t.text_filter, || {
            (
                serde_json::from_slice::<T>(result_text.as_bytes()).unwrap_or_default(),
                serde_json::from_slice::<ResultExtras>(result_text.as_bytes()).unwrap_or_default(),
            )
        })
    } else {
        (T::default(), ResultExtras::default())
    };
    Ok(Detail {
        task_type,
        status,
        raw,
        result,
        extras,
    })
}

/// `InvalidInput` when `tasks/detail` says the task is of another documented type than the
/// caller stated (a TTS task asked about as a clone, ...), in any case. An answer without
/// `taskType`, or with a spelling VMEG does not document ("may add types"), is taken as the
/// caller says: refusing it would fail every read and wait of a paid task as "your input".
fn check_type<T>(d: &Detail<T>, id: &JobId, kind: JobKind) -> Result<(), Error> {
    let Some(t) = d.task_type.as_deref() else {
        return Ok(());
    };
    match super::task_type(t) {
        super::TaskType::Job(said) if said != kind => Err(wrong_kind(id, kind, t)),
        super::TaskType::OtherProduct => Err(wrong_kind(id, kind, t)),
        super::TaskType::Job(_) | super::TaskType::Unknown => Ok(()),
    }
}

/// What `tasks/detail` says about any task beyond its result: the raw status word and,
/// when it failed, the reason; the one mapping both kinds use. A failure read from a word
/// VMEG does not document says that it is an assumption, and that the task is to be checked
/// before anything is submitted again (see [`status_is_assumed`]).
fn with_detail<J: Job, T>(mut job: J, d: Detail<T>) -> J {
    if let Some(reason) = failure_reason(&d.status, d.raw.as_deref(), || d.extras.reason()) {
        job.set_error(reason);
    }
    if let Some(raw) = d.raw {
        job.set_vendor_status(raw);
    }
    job
}

/// The failure reason of a task `tasks/detail` says is in `status`, read from the status word
/// `raw`, `vendor` giving the reason the answer's `result` names: none unless it failed; for
/// a word VMEG does not document, a reason saying the failure is an assumption, and that
/// the task is to be checked before anything is submitted again (see [`status_is_assumed`]).
/// For `clone_status`, `speech_status` and `task` alike.
pub(crate) fn failure_reason(
    status: &TaskStatus,
    raw: Option<&str>,
    vendor: impl FnOnce() -> Option<String>,
) -> Option<String> {
    if *status != TaskStatus::Failed {
        return None;
    }
    match raw.filter(|raw| status_is_assumed(raw)) {
        Some(raw) => Some(assumed_failure(raw, vendor().as_deref())),
        None => vendor(),
    }
}

/// The failure reason a `tasks/detail` `result` (its JSON text) names under any of the usual
/// names, scrubbed as the answer was (see [`ResultExtras`]).
pub(super) fn result_reason(t: &Transport, result_text: &str) -> Option<String> {
    if !result_text.starts_with('{') {
        return None;
    }
    crate::scrub::decoding_with(&t.text_filter, || {
        serde_json::from_slice::<ResultExtras>(result_text.as_bytes()).unwrap_or_default()
    })
    .reason()
}

/// The reason of a failure read from the undocumented status word `raw`.
fn assumed_failure(raw: &str, vendor: Option<&str>) -> String {
    let assumed = format!(
        "VMEG reported the status {:?}, which it does not document: read as failed by assumption; {}",
        crate::model::shown_word(raw),
        crate::model::MAY_STILL_BE_ALIVE
    );
    match vendor {
        Some(r) => format!("{r} ({assumed})"),
        None => assumed,
    }
}

pub(crate) async fn clone_status(
    t: &Transport,
    c: &vmeg_client::Client,
    id: &JobId,
) -> Result<CloneJob, Error> {
    let d = detail::<types::CloneVoiceCreateData>(t, c, "clone_status", id).await?;
    check_type(&d, id, JobKind::Clone)?;
    same_result_task(Provider::Vmeg, id, text(d.result.task_id.as_ref()))
        .map_err(|e| e.with_operation("clone_status"))?;
    let mut job = clone_job(&d.result, Some(id), d.status.clone())
        .unwrap_or_else(|| CloneJob::new(Provider::Vmeg, id.clone(), d.status.clone()));
    job.id = id.clone().with_kind(Provider::Vmeg, JobKind::Clone);
    if let Some(name) = d.extras.voice_name.as_deref().filter(|n| !n.is_empty()) {
        // What the vendor says the voice is called: narrows the clone-list search when the
        // result names no voice id.
        job.name = Some(name.to_owned());
        if let Some(v) = job.voice.take() {
            job = job.with_voice(v.with_name(name));
        }
    }
    Ok(with_detail(job, d))
}

pub(crate) async fn speech_status(
    t: &Transport,
    c: &vmeg_client::Client,
    id: &JobId,
) -> Result<SpeechJob, Error> {
    let d = detail::<types::TtsCreateData>(t, c, "speech_status", id).await?;
    check_type(&d, id, JobKind::Speech)?;
    same_result_task(Provider::Vmeg, id, text(d.result.task_id.as_ref()))
        .map_err(|e| e.with_operation("speech_status"))?;
    let mut job = speech_job(&d.result, Some(id), d.status.clone())
        .unwrap_or_else(|| SpeechJob::new(Provider::Vmeg, id.clone(), d.status.clone()));
    job.id = id.clone().with_kind(Provider::Vmeg, JobKind::Speech);
    Ok(with_detail(job, d))
}
