//! The generated VMEG webhook body types (`vmeg_client::types::CloneVoiceWebhook`,
//! `TtsWebhook`) decode a failure delivery: `data` is null on failures (api-facts A3), and
//! what a failed clone's delivery holds is UNKNOWN (A8), so `data` may also be absent.
//! Before, `data` was required and both deliveries failed to decode.

use serde_json::{Value, json};
use vmeg_client::types::{CloneVoiceWebhook, TtsWebhook};

fn failures(event: &str) -> [Value; 2] {
    [
        json!({"code": 500, "event": event, "pipelineKey": "k", "data": null}),
        json!({"code": 500, "event": event, "pipelineKey": "k"}),
    ]
}

#[test]
fn a_clone_webhook_without_data_decodes() {
    for body in failures("openapi-clone-voice") {
        let w: CloneVoiceWebhook = serde_json::from_value(body.clone()).unwrap();
        assert!(w.data.is_none(), "{body}");
        assert_eq!(w.code.and_then(|c| c.value()), Some(500), "{body}");
        assert_eq!(
            w.pipeline_key.and_then(|k| k.into_string()).as_deref(),
            Some("k")
        );
    }
    // A success still carries its data.
    let w: CloneVoiceWebhook = serde_json::from_value(json!({
        "code": 200, "event": "openapi-clone-voice", "pipelineKey": "k",
        "data": {"taskId": "t-1", "voiceId": "cv_1"}
    }))
    .unwrap();
    let data = w.data.unwrap();
    assert_eq!(
        data.voice_id.and_then(|v| v.into_string()).as_deref(),
        Some("cv_1")
    );
}

#[test]
fn a_tts_webhook_without_data_decodes() {
    for body in failures("openapi-tts") {
        let w: TtsWebhook = serde_json::from_str(&body.to_string()).unwrap();
        assert!(w.data.is_none(), "{body}");
        assert_eq!(w.code.and_then(|c| c.value()), Some(500), "{body}");
    }
}
