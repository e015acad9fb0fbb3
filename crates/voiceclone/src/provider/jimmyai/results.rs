//! JimmyAI's task (`AudioTask`, the one answer shape of every call) as normalized jobs.

use client_glue::Text;
use jimmyai_client::types;

use crate::error::{Error, ErrorKind};
use crate::model::{
    CloneJob, JIMMYAI_ACTIVATION_WINDOW, Job, JobId, Provider, Speech, SpeechJob, TaskStatus, Voice,
};
use crate::wire::{parse_url, usable_id};

pub(super) fn text(t: Option<&Text>) -> Option<&str> {
    t.and_then(Text::as_str)
}

/// JimmyAI status string -> [`TaskStatus`]; all four values are documented.
pub(crate) fn map_status(raw: &str) -> TaskStatus {
    let mut buf = [0; 32];
    match crate::wire::status_word(raw, &mut buf) {
        "queued" => TaskStatus::Queued,
        "processing" => TaskStatus::Running,
        "completed" => TaskStatus::Succeeded,
        "failed" => TaskStatus::Failed,
        _ => TaskStatus::Unknown(crate::model::shown_word(raw)),
    }
}

fn status_of(task: &types::AudioTask) -> TaskStatus {
    match text(task.status.as_ref()) {
        Some(raw) => map_status(raw),
        None => TaskStatus::Unknown(String::new()),
    }
}

fn id_or(task: &types::AudioTask, fallback: Option<&JobId>) -> Option<JobId> {
    usable_id(text(task.id.as_ref()))
        .map(JobId::new)
        .or_else(|| fallback.cloned())
}

fn error_text(task: &types::AudioTask) -> Option<String> {
    text(task.error.as_ref())
        .map(|e| crate::error::folded(e, crate::error::MAX_MESSAGE_CHARS))
        .filter(|e| !e.is_empty())
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

/// The task as a clone (preview) job; the voice is set once `modelId` is known. Its
/// activation deadline counts from the preview's `created`, unless that is before 2020
/// (`1000000000`, 2001: a date JimmyAI got wrong, which would expire a `modelId` just made,
/// refused locally with "clone the voice again", a second paid preview): then the deadline
/// is left unknown and JimmyAI decides. A plausible `created` is kept whenever the answer is
/// read: a preview polled two days after it was made still says when it expires, and one
/// read after its deadline is refused locally (a production create may charge the voice fee,
/// api-facts B5, and JimmyAI's answer to an expired id is UNKNOWN); the refusal says how to
/// send it anyway when its date is wrong.
pub(crate) fn clone_job(task: &types::AudioTask, fallback_id: Option<&JobId>) -> Option<CloneJob> {
    let mut job: CloneJob = job_of(task, fallback_id)?;
    if let Some(model_id) = usable_id(text(task.model_id.as_ref())) {
        let mut voice = Voice::new(Provider::JimmyAi, model_id);
        if let Some(u) = parse_url("audioUrl", text(task.audio_url.as_ref())) {
            voice = voice.with_preview_url(u);
        }
        if let Some(t) = job.created_at {
            voice = voice.with_created_at(t);
            let plausible = t >= std::time::UNIX_EPOCH + crate::model::EARLIEST_SUBMIT;
            if !plausible {
                tracing::warn!(
                    model_id = %voice.id,
                    "the preview's creation time is before 2020; its activation deadline is left unknown"
                );
            } else if let Some(deadline) = t.checked_add(JIMMYAI_ACTIVATION_WINDOW) {
                voice = voice.with_activate_by(deadline);
            }
        }
        job = job.with_voice(voice);
    }
    job.refused_result = crate::wire::refused_id("a modelId", text(task.model_id.as_ref()));
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
    job.refused_result = crate::wire::refused_url("an audioUrl", text(task.audio_url.as_ref()));
    Some(job)
}

pub(super) fn task_id(task: &types::AudioTask) -> Option<&str> {
    text(task.id.as_ref())
}

pub(super) fn bad_answer(message: &str) -> Error {
    Error::new(ErrorKind::InvalidResponse)
        .with_provider(Provider::JimmyAi)
        .with_message(message)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

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
        // Made an hour ago: a deadline passed when read is left unknown (below).
        let now = std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let made = now - 3600;
        let t: types::AudioTask = serde_json::from_value(serde_json::json!({
            "id": "audio_1", "object": "audio", "created": made, "model": "soundCloningClone",
            "status": "completed", "modelId": "m-1", "audioUrl": "https://cdn/p.mp3", "error": null, "newField": [1]
        }))
        .unwrap();
        let job = clone_job(&t, None).unwrap();
        assert_eq!(job.status, TaskStatus::Succeeded);
        let v = job.voice.unwrap();
        assert_eq!(v.id, "m-1");
        assert_eq!(
            v.activate_by,
            Some(UNIX_EPOCH + Duration::from_secs(made + 3 * 86_400))
        );
        assert_eq!(v.preview_url.unwrap().as_str(), "https://cdn/p.mp3");
        // A `created` before 2020 (a date JimmyAI got wrong, 2001): no deadline, rather than
        // one long passed on a `modelId` just made.
        let mut wrong = t.clone();
        wrong.created = serde_json::from_value(serde_json::json!(1_000_000_000)).unwrap();
        let v = clone_job(&wrong, None).unwrap().voice.unwrap();
        assert_eq!(v.activate_by, None);
        assert_eq!(v.id.activation(), crate::model::Activation::Unknown);
        // After 2020, the deadline is kept however long ago it passed (a preview read ten
        // days late): the id is then refused locally, with the way to send it anyway, rather
        // than sent to a create that may charge the voice fee.
        for age_h in [240, 30] {
            let created = now - age_h * 3600;
            wrong.created = serde_json::from_value(serde_json::json!(created)).unwrap();
            let v = clone_job(&wrong, None).unwrap().voice.unwrap();
            let deadline = UNIX_EPOCH + Duration::from_secs(created + 3 * 86_400);
            assert_eq!(v.activate_by, Some(deadline), "{age_h} h");
        }
    }

    /// The API facts (B4, B6) do not say `id` is always there, so a task without one decodes:
    /// a query's job takes the id that was asked about, a create answer (nothing asked) is
    /// refused by its caller (`None` here), as is a blank id.
    #[test]
    fn a_task_without_an_id_decodes_and_takes_the_asked_id() {
        for task in [
            serde_json::json!({"status": "completed", "modelId": "m-9"}),
            serde_json::json!({"id": " ", "status": "completed", "modelId": "m-9"}),
        ] {
            let t: types::AudioTask = serde_json::from_value(task).unwrap();
            assert!(clone_job(&t, None).is_none());
            assert!(speech_job(&t, None).is_none());
            let asked = JobId::new("audio_9");
            let job = clone_job(&t, Some(&asked)).unwrap();
            assert_eq!(
                (job.id.as_str(), &job.status),
                ("audio_9", &TaskStatus::Succeeded)
            );
        }
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
