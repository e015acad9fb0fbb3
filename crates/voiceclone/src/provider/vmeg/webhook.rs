//! VMEG's webhook bodies: `data` of `openapi-clone-voice` and `openapi-tts` events as jobs,
//! and where the adapter's own data sits in `extraData`. Verification, events and
//! deduplication are `crate::webhook`.

use vmeg_client::types;

use crate::model::{JobId, TaskStatus};
use crate::webhook::{WebhookEventKind, WebhookPayload};

/// Where the adapter puts its own data inside `extraData`.
pub const EXTRA_DATA_NAMESPACE: &str = "voiceclone";
/// The field (inside [`EXTRA_DATA_NAMESPACE`]) holding the submit's idempotency key.
pub const EXTRA_DATA_IDEMPOTENCY_KEY: &str = "idempotencyKey";

/// The event's `data` as a clone or speech job, for the products this crate knows (`None`
/// otherwise, or when `data` does not fit). VMEG webhooks carry no status: `code == 200` is
/// `Succeeded`, anything else `Failed` (with `message`, or the code, as the reason).
pub(crate) fn payload(
    kind: &WebhookEventKind,
    data: &str,
    code: i64,
    message: Option<&str>,
    idempotency_key: Option<&str>,
) -> Option<WebhookPayload> {
    let status = if code == 200 {
        TaskStatus::Succeeded
    } else {
        TaskStatus::Failed
    };
    let failure_reason = || {
        message
            .map(str::to_owned)
            .unwrap_or_else(|| format!("vendor code {code}"))
    };
    match kind {
        WebhookEventKind::CloneVoice => serde_json::from_str::<types::CloneVoiceCreateData>(data)
            .ok()
            .and_then(|r| super::clone_job(&r, None::<&JobId>, status.clone()))
            .map(|mut job| {
                if code != 200 {
                    job = job.with_error(failure_reason());
                }
                if let Some(k) = idempotency_key {
                    job = job.with_idempotency_key(k);
                }
                WebhookPayload::Clone(job)
            }),
        WebhookEventKind::Tts => serde_json::from_str::<types::TtsCreateData>(data)
            .ok()
            .and_then(|r| super::speech_job(&r, None, status.clone()))
            .map(|mut job| {
                if code != 200 {
                    job = job.with_error(failure_reason());
                }
                if let Some(k) = idempotency_key {
                    job = job.with_idempotency_key(k);
                }
                WebhookPayload::Speech(job)
            }),
        _ => None,
    }
}
