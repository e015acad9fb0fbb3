//! A verified delivery, decoded: its kind, its normalized payload, the raw `data`.

use std::time::SystemTime;

use serde::Deserialize;

use super::{EXTRA_DATA_IDEMPOTENCY_KEY, EXTRA_DATA_NAMESPACE, MAX_PIPELINE_KEY_BYTES};
use crate::error::WebhookFailure;
use crate::model::{CloneJob, JobId, SpeechJob};
use crate::wire::lenient_i64;

/// Which product the event is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WebhookEventKind {
    /// `openapi-clone-voice`
    CloneVoice,
    /// `openapi-tts`
    Tts,
    /// `openapi-translate`
    Translate,
    /// `openapi-media-translation`
    MediaTranslation,
    /// Anything else, verbatim.
    Other(String),
}

impl WebhookEventKind {
    /// The wire value (`openapi-clone-voice`, ...; `Other` verbatim).
    pub fn as_str(&self) -> &str {
        match self {
            Self::CloneVoice => "openapi-clone-voice",
            Self::Tts => "openapi-tts",
            Self::Translate => "openapi-translate",
            Self::MediaTranslation => "openapi-media-translation",
            Self::Other(raw) => raw,
        }
    }

    fn parse(raw: &str) -> Self {
        match raw {
            "openapi-clone-voice" => Self::CloneVoice,
            "openapi-tts" => Self::Tts,
            "openapi-translate" => Self::Translate,
            "openapi-media-translation" => Self::MediaTranslation,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// The event's `data`, normalized where this crate knows the product.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum WebhookPayload {
    /// A clone task finished (succeeded when `code` is 200).
    Clone(CloneJob),
    /// A TTS task finished.
    Speech(SpeechJob),
    /// Another product, or a shape this crate could not normalize: the raw `data`.
    Other(RawData),
}

/// A webhook's `data` as it was sent, kept as JSON text so that every number keeps its
/// exact digits (a `serde_json::Value` would turn an id beyond `u64` into a float).
#[derive(Clone, Debug)]
pub struct RawData(pub(crate) Box<serde_json::value::RawValue>);

impl RawData {
    /// The JSON text of `data`.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// `data` with every string (object keys included) written as serde_json writes strings,
    /// escaping only what JSON requires, and numbers and layout as they came: for text shown
    /// to people or logs, where a secret spelled with `\u` escapes (`"\u0073k-..."`) would
    /// pass a search for it. A string that does not decode (a lone surrogate escape) becomes
    /// `"[undecodable string]"`.
    #[must_use]
    pub fn normalized(&self) -> RawData {
        let how = client_glue::wire::JsonRewrite {
            numbers: false,
            normalize: true,
        };
        match client_glue::wire::rewrite_json_text(self.as_str(), &|s| s, how)
            .and_then(|text| serde_json::value::RawValue::from_string(text).ok())
        {
            Some(raw) => RawData(raw),
            None => self.clone(),
        }
    }

    /// `data` read as `T`.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.0.get())
    }

    /// `data.taskId` (or `data.id`), a string or a number kept as its exact text.
    pub fn task_id(&self) -> Option<String> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Named {
            #[serde(default, deserialize_with = "crate::wire::lenient_string")]
            task_id: Option<String>,
            #[serde(default, deserialize_with = "crate::wire::lenient_string")]
            id: Option<String>,
        }
        let named: Named = self.parse().ok()?;
        named.task_id.or(named.id)
    }
}

impl PartialEq for RawData {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

/// A verified delivery.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct WebhookEvent {
    /// `event`.
    pub kind: WebhookEventKind,
    /// `version` (e.g. `v1`).
    pub version: Option<String>,
    /// `pipelineKey`: the same on every retry of this delivery; deduplicate on it.
    pub pipeline_key: String,
    /// `code`: 200 means the task succeeded.
    pub code: i64,
    /// `message`, when the task did not succeed, as sent (a server's text: fold it before
    /// logging it). The payload job's `error` and a wait's `TaskFailed` reason hold it folded
    /// and cut to 500 characters.
    pub message: Option<String>,
    /// The echoed `extraData`.
    pub extra_data: Option<serde_json::Value>,
    /// `data`, normalized.
    pub payload: WebhookPayload,
    /// When VMEG signed it.
    pub sent_at: SystemTime,
}

impl WebhookEvent {
    /// The idempotency key of the submit that caused this event (the adapter stores it in
    /// `extraData.voiceclone.idempotencyKey`).
    pub fn idempotency_key(&self) -> Option<&str> {
        idempotency_key_of(self.extra_data.as_ref())
    }

    /// True when `code` is 200.
    pub fn succeeded(&self) -> bool {
        self.code == 200
    }

    /// The task this event is about: the normalized job's id, or `taskId` (else `id`) of a
    /// raw `data`. `None` when `data` names none, or one the client would refuse to poll
    /// (blank, a separator or dot segment, a stored id's form, over 256 bytes: see the ids
    /// this crate accepts from a server), which no read of a task could look up (a delivery
    /// is signed by VMEG, but its `data` is not checked against any task).
    ///
    /// ```
    /// # fn show(event: &voiceclone::webhook::WebhookEvent) {
    /// match event.task_id() {
    ///     Some(task) => println!("{} finished: task {task}", event.kind.as_str()),
    ///     None => println!("{} names no task", event.kind.as_str()),
    /// }
    /// # }
    /// ```
    pub fn task_id(&self) -> Option<JobId> {
        match &self.payload {
            WebhookPayload::Clone(job) => Some(job.id.clone()),
            WebhookPayload::Speech(job) => Some(job.id.clone()),
            WebhookPayload::Other(raw) => raw.task_id().map(JobId::new),
        }
        .and_then(|id| crate::wire::usable_id(Some(id.as_str())).map(JobId::new))
    }
}

fn idempotency_key_of(extra: Option<&serde_json::Value>) -> Option<&str> {
    extra?
        .get(EXTRA_DATA_NAMESPACE)?
        .get(EXTRA_DATA_IDEMPOTENCY_KEY)?
        .as_str()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvent {
    #[serde(default, deserialize_with = "lenient_i64")]
    code: Option<i64>,
    // Read leniently, as the other fields: `"version": 1` in an authentic delivery is no
    // reason to refuse it.
    #[serde(default, deserialize_with = "crate::wire::lenient_string")]
    version: Option<String>,
    #[serde(default, deserialize_with = "crate::wire::lenient_string")]
    event: Option<String>,
    #[serde(default, deserialize_with = "crate::wire::lenient_string")]
    pipeline_key: Option<String>,
    #[serde(default, deserialize_with = "crate::wire::lenient_string")]
    message: Option<String>,
    #[serde(default)]
    extra_data: Option<serde_json::Value>,
    /// Kept as text: ids in it must not pass through `f64` (see `crate::wire`).
    #[serde(default)]
    data: Option<Box<serde_json::value::RawValue>>,
}

pub(super) fn decode_event(
    body: &[u8],
    sent_at: SystemTime,
) -> Result<WebhookEvent, WebhookFailure> {
    let raw: RawEvent = serde_json::from_slice(body).map_err(|e| WebhookFailure::InvalidJson {
        reason: e.to_string(),
    })?;
    let pipeline_key = raw
        .pipeline_key
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| WebhookFailure::InvalidJson {
            reason: "missing pipelineKey".into(),
        })?;
    if pipeline_key.len() > MAX_PIPELINE_KEY_BYTES {
        return Err(WebhookFailure::PipelineKeyTooLong {
            len: pipeline_key.len(),
            limit: MAX_PIPELINE_KEY_BYTES,
        });
    }
    let code = raw.code.ok_or_else(|| WebhookFailure::InvalidJson {
        reason: "missing or non-numeric code".into(),
    })?;
    let kind = WebhookEventKind::parse(raw.event.as_deref().unwrap_or_default());
    let message = raw.message.filter(|m| !m.trim().is_empty());
    let key = idempotency_key_of(raw.extra_data.as_ref()).map(str::to_owned);
    let data = raw
        .data
        .as_deref()
        .map_or("null", serde_json::value::RawValue::get);

    use crate::provider::vmeg::webhook::{Payload, payload};
    let payload = payload(
        kind.as_str(),
        data,
        code,
        message.as_deref(),
        key.as_deref(),
    )
    .map(|p| match p {
        Payload::Clone(job) => WebhookPayload::Clone(job),
        Payload::Speech(job) => WebhookPayload::Speech(job),
    })
    .unwrap_or_else(|| {
        let raw = serde_json::value::RawValue::from_string(data.to_owned())
            .unwrap_or_else(|_| serde_json::value::RawValue::NULL.to_owned());
        WebhookPayload::Other(RawData(raw))
    });

    Ok(WebhookEvent {
        kind,
        version: raw.version,
        pipeline_key,
        code,
        message,
        extra_data: raw.extra_data,
        payload,
        sent_at,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn event(kind: &str, data: &str) -> WebhookEvent {
        let body = format!(r#"{{"code":200,"event":"{kind}","pipelineKey":"p","data":{data}}}"#);
        decode_event(body.as_bytes(), SystemTime::UNIX_EPOCH).unwrap()
    }

    #[test]
    fn the_task_id_is_read_from_every_payload_and_a_blank_one_is_none() {
        let id = |kind, data| event(kind, data).task_id().map(|j| j.as_str().to_owned());
        assert_eq!(
            id("openapi-tts", r#"{"taskId":"t-1"}"#).as_deref(),
            Some("t-1")
        );
        assert_eq!(
            id("openapi-x", r#"{"taskId":12345678901234567890123}"#).as_deref(),
            Some("12345678901234567890123")
        );
        assert_eq!(id("openapi-x", r#"{"id":"t-2"}"#).as_deref(), Some("t-2"));
        for data in [
            r#"{"taskId":" "}"#,
            r#"{"taskId":""}"#,
            "{}",
            "null",
            r#"{"taskId":"vmeg:1"}"#,
            r#"{"taskId":"t 1"}"#,
            r#"{"taskId":"a/b"}"#,
        ] {
            for kind in ["openapi-tts", "openapi-clone-voice", "openapi-x"] {
                assert_eq!(id(kind, data), None, "{kind} {data}");
            }
        }
    }
}
