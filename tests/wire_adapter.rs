//! What production sends: every `voiceclone::Client` call, through the generated methods and
//! their hooks, captured on a loopback server (the key redacted; idempotency keys the adapter
//! and request ids the adapter makes up are shown as `[generated]`). A spec edit that changes what the adapter puts on the
//! wire fails one of these snapshots.

use serde_json::{Value, json};
use voiceclone::{
    Client, CloneRequest, JobId, OutputFormat, Provider, RecordingSleeper, SoundVersion,
    SpeechRequest, VmegEngine,
};
use workspace_tests::Capture;

async fn capture(provider: Provider, answer: Value) -> (Capture, Client) {
    let cap = Capture::start(200, answer).await;
    let client = Client::builder(provider)
        .api_key(cap.key())
        .base_url(cap.base_url())
        .sleeper(std::sync::Arc::new(RecordingSleeper::new()))
        .build()
        .unwrap();
    (cap, client)
}

/// The captured request with adapter-made idempotency keys (32 random hex digits) replaced.
fn wire(cap: &Capture) -> Value {
    let mut w = cap.wire();
    if let Some(headers) = w.get_mut("headers").and_then(Value::as_array_mut) {
        for h in headers {
            if let Some(s) = h.as_str()
                && let Some(v) = s.strip_prefix("x-idempotency-key: ")
                && random_hex(v)
            {
                *h = json!("x-idempotency-key: [generated]");
            }
        }
    }
    // VMEG's `req_id`: a fresh random id per attempt (32 hex digits).
    if let Some(query) = w.get_mut("query").and_then(Value::as_array_mut) {
        for q in query {
            if let Some(v) = q.as_str().and_then(|s| s.strip_prefix("req_id="))
                && random_hex(v)
            {
                *q = json!("req_id=[generated]");
            }
        }
    }
    w
}

fn random_hex(v: &str) -> bool {
    v.len() == 32 && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn vmeg_ok(data: Value) -> Value {
    json!({"code": 200, "message": "", "data": data})
}

fn jimmy_ok(data: Value) -> Value {
    json!({"code": 20000, "msg": "ok", "data": data})
}

fn vmeg_clone() -> CloneRequest {
    CloneRequest::new("https://cdn.example.com/voice.wav?X-Signature=abc")
        .name("Narrator")
        .language("en-US")
        .sample_text("Hello from the sample.")
        .vmeg_engine(VmegEngine::V2)
        .idempotency_key("key-clone-1")
}

#[tokio::test]
async fn vmeg_clone_async() {
    let (cap, c) = capture(Provider::Vmeg, vmeg_ok(json!({"taskId": "t-1"}))).await;
    c.clone_voice(&vmeg_clone()).await.unwrap();
    insta::assert_json_snapshot!(wire(&cap));
}

#[tokio::test]
async fn vmeg_clone_sync() {
    let (cap, c) = capture(
        Provider::Vmeg,
        vmeg_ok(json!({"taskId": "t-1", "voiceId": "cv_1"})),
    )
    .await;
    c.clone_voice(&vmeg_clone().synchronous(true))
        .await
        .unwrap();
    insta::assert_json_snapshot!(wire(&cap));
}

fn vmeg_speech() -> SpeechRequest {
    SpeechRequest::new("cv_1", "Hello there.")
        .language("en-US")
        .output_format(OutputFormat::Mp3)
        .idempotency_key("key-tts-1")
}

#[tokio::test]
async fn vmeg_tts_async() {
    let (cap, c) = capture(Provider::Vmeg, vmeg_ok(json!({"taskId": "t-2"}))).await;
    c.synthesize(&vmeg_speech()).await.unwrap();
    insta::assert_json_snapshot!(wire(&cap));
}

#[tokio::test]
async fn vmeg_tts_sync() {
    let (cap, c) = capture(
        Provider::Vmeg,
        vmeg_ok(json!({"taskId": "t-2", "results": [{"uri": "https://cdn.example.com/a.mp3"}]})),
    )
    .await;
    c.synthesize(&vmeg_speech().synchronous(true))
        .await
        .unwrap();
    insta::assert_json_snapshot!(wire(&cap));
}

#[tokio::test]
async fn vmeg_status() {
    let (cap, c) = capture(
        Provider::Vmeg,
        vmeg_ok(json!({"taskId": "t-1", "status": "running"})),
    )
    .await;
    c.clone_status(&JobId::new("t-1")).await.unwrap();
    insta::assert_json_snapshot!(wire(&cap));
}

#[tokio::test]
async fn vmeg_list_rename_delete() {
    let (cap, c) = capture(Provider::Vmeg, vmeg_ok(json!({"records": [], "total": 0}))).await;
    c.list_voices().await.unwrap();
    let list = wire(&cap);
    c.rename_voice("cv_1", "New name").await.unwrap();
    let rename = wire(&cap);
    c.delete_voice("cv_1").await.unwrap();
    let delete = wire(&cap);
    insta::assert_json_snapshot!(json!({"list": list, "rename": rename, "delete": delete}));
}

#[tokio::test]
async fn jimmyai_clone_speech_status() {
    let task = jimmy_ok(json!({"id": "audio_1", "status": "queued"}));
    let (cap, c) = capture(Provider::JimmyAi, task).await;
    c.clone_voice(
        &CloneRequest::new("https://cdn.example.com/voice.mp3")
            .sample_text("A short preview.")
            .language("en-US")
            .sound_version(SoundVersion::V2),
    )
    .await
    .unwrap();
    let clone = wire(&cap);
    c.synthesize(&SpeechRequest::new("model-1", "Hello <#0.5#> world").language("zh-CN"))
        .await
        .unwrap();
    let speech = wire(&cap);
    c.speech_status(&JobId::new("audio_1")).await.unwrap();
    let status = wire(&cap);
    insta::assert_json_snapshot!(json!({"clone": clone, "speech": speech, "status": status}));
}
