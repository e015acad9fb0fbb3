//! The baseline: the same four calls written by hand with reqwest and serde_json.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug)]
pub struct RawError(pub String);

impl<E: std::fmt::Display> From<E> for RawError {
    fn from(e: E) -> Self {
        Self(e.to_string())
    }
}

/// A hand-written client: one reqwest client, bearer header per request.
#[derive(Debug, Clone)]
pub struct Raw {
    http: reqwest::Client,
    base: String,
    auth: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VmegClone<'a> {
    voice_name: &'a str,
    provider: &'a str,
    ref_audio: &'a str,
    sample_language: &'a str,
    extra_data: Value,
}

#[derive(Deserialize)]
struct VmegEnvelope<T> {
    code: i64,
    #[serde(default)]
    message: Option<String>,
    data: Option<T>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VmegAccepted {
    pub task_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VmegDetail {
    pub task_id: Option<String>,
    pub status: Option<String>,
    pub result: Option<Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JimmyClone<'a> {
    file_url: &'a str,
    content_text: &'a str,
    sound_version: &'a str,
    language: &'a str,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum JimmyCode {
    Int(i64),
    Str(String),
}

#[derive(Deserialize)]
struct JimmyEnvelope<T> {
    code: JimmyCode,
    #[serde(default)]
    msg: Option<String>,
    data: Option<T>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JimmyTask {
    pub id: String,
    pub status: Option<String>,
}

fn vmeg_ok<T>(env: VmegEnvelope<T>) -> Result<T, RawError> {
    match (env.code, env.data) {
        (200, Some(d)) => Ok(d),
        (code, _) => Err(RawError(format!("code {code}: {:?}", env.message))),
    }
}

fn jimmy_ok<T>(env: JimmyEnvelope<T>) -> Result<T, RawError> {
    let ok = match &env.code {
        JimmyCode::Int(c) => *c == 20000,
        JimmyCode::Str(s) => s == "20000",
    };
    match (ok, env.data) {
        (true, Some(d)) => Ok(d),
        _ => Err(RawError(format!("error: {:?}", env.msg))),
    }
}

impl Raw {
    pub fn new(http: reqwest::Client, base: &str, key: &str) -> Self {
        Self {
            http,
            base: base.to_string(),
            auth: format!("Bearer {key}"),
        }
    }

    /// VMEG create-async with a fresh idempotency key, also echoed in `extraData`.
    pub async fn vmeg_clone(&self) -> Result<VmegAccepted, RawError> {
        let key = uuid::Uuid::new_v4().to_string();
        let body = VmegClone {
            voice_name: "bench voice",
            provider: "V1",
            ref_audio: "https://example.com/sample.mp3",
            sample_language: "en-US",
            extra_data: serde_json::json!({"voiceclone": {"idempotencyKey": key}}),
        };
        let resp = self
            .http
            .post(format!(
                "{}/openapi/v1/task/clone-voice/create-async",
                self.base
            ))
            .header("authorization", &self.auth)
            .header("x-idempotency-key", &key)
            .json(&body)
            .send()
            .await?;
        let bytes = resp.bytes().await?;
        vmeg_ok(serde_json::from_slice(&bytes)?)
    }

    pub async fn vmeg_detail(&self, task_id: &str) -> Result<VmegDetail, RawError> {
        let resp = self
            .http
            .get(format!("{}/openapi/v1/tasks/detail", self.base))
            .query(&[("taskId", task_id)])
            .header("authorization", &self.auth)
            .send()
            .await?;
        let bytes = resp.bytes().await?;
        vmeg_ok(serde_json::from_slice(&bytes)?)
    }

    pub async fn jimmy_clone(&self) -> Result<JimmyTask, RawError> {
        let body = JimmyClone {
            file_url: "https://example.com/sample.mp3",
            content_text: "A short preview sentence.",
            sound_version: "v1",
            language: "English",
        };
        let resp = self
            .http
            .post(format!("{}/api/open-api/v1/soundCloning/clones", self.base))
            .header("authorization", &self.auth)
            .json(&body)
            .send()
            .await?;
        let bytes = resp.bytes().await?;
        jimmy_ok(serde_json::from_slice(&bytes)?)
    }

    pub async fn jimmy_task(&self, id: &str) -> Result<JimmyTask, RawError> {
        let resp = self
            .http
            .get(format!("{}/api/open-api/v1/audios/{id}", self.base))
            .header("authorization", &self.auth)
            .send()
            .await?;
        let bytes = resp.bytes().await?;
        jimmy_ok(serde_json::from_slice(&bytes)?)
    }
}
