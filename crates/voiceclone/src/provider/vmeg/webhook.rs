//! VMEG's webhook bodies: `data` of `openapi-clone-voice` and `openapi-tts` events as jobs,
//! and where the adapter's own data sits in `extraData`. Verification, events and
//! deduplication are `crate::webhook`.

#[cfg(feature = "webhook")]
use vmeg_client::types;

#[cfg(feature = "webhook")]
use crate::model::{CloneJob, Job, JobId, SpeechJob, TaskStatus};

/// Where the adapter puts its own data inside `extraData`.
pub const EXTRA_DATA_NAMESPACE: &str = "voiceclone";
/// The field (inside [`EXTRA_DATA_NAMESPACE`]) holding the submit's idempotency key.
pub const EXTRA_DATA_IDEMPOTENCY_KEY: &str = "idempotencyKey";

#[cfg(feature = "webhook")]
pub(crate) use super::results::speech_data_has_unfailed_line;

/// A normalized webhook `data` (`crate::webhook` wraps it as its public `WebhookPayload`).
#[cfg(feature = "webhook")]
pub(crate) enum Payload {
    Clone(CloneJob),
    Speech(SpeechJob),
}

/// The failure reason a webhook with `code` (not 200) and `message` gives its job and a
/// wait's `TaskFailed`: the message, a server's text, folded and cut as every other server
/// reason is where it is read (a newline would start a forged line in the wait's INFO line;
/// review 35-d #6), or the code when it says nothing. The one rule for the event's job and
/// the hub's failure (`wait::hub`); the event's own `message` stays as sent.
#[cfg(feature = "webhook")]
pub(crate) fn failure_reason(message: Option<&str>, code: i64) -> String {
    message
        .map(|m| crate::error::folded(m, crate::error::MAX_MESSAGE_CHARS))
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| format!("vendor code {code}"))
}

/// The event's `data` as a clone or speech job, for the products this crate knows (`None`
/// otherwise, or when `data` does not fit). VMEG webhooks carry no status: `code == 200` is
/// `Succeeded`, anything else `Failed` (with `message`, or the code, as the reason).
#[cfg(feature = "webhook")]
pub(crate) fn payload(
    event: &str,
    data: &str,
    code: i64,
    message: Option<&str>,
    idempotency_key: Option<&str>,
) -> Option<Payload> {
    let status = if code == 200 {
        TaskStatus::Succeeded
    } else {
        TaskStatus::Failed
    };
    let failure_reason = || failure_reason(message, code);
    // The one normalization both kinds get: failure reason and idempotency key.
    fn finish<J: Job>(
        mut job: J,
        code: i64,
        reason: impl FnOnce() -> String,
        key: Option<&str>,
    ) -> J {
        if code != 200 {
            job.set_error(reason());
        }
        if let Some(k) = key {
            job.set_idempotency_key(k.to_owned());
        }
        job
    }
    match event {
        "openapi-clone-voice" => serde_json::from_str::<types::CloneVoiceCreateData>(data)
            .ok()
            .and_then(|r| super::clone_job(&r, None::<&JobId>, status.clone()))
            .map(|job| Payload::Clone(finish(job, code, failure_reason, idempotency_key))),
        "openapi-tts" => serde_json::from_str::<types::TtsCreateData>(data)
            .ok()
            .and_then(|r| super::speech_job(&r, None, status.clone()))
            .map(|job| Payload::Speech(finish(job, code, failure_reason, idempotency_key))),
        _ => None,
    }
}
