//! What the generated JimmyAI client puts on the wire, one snapshot per generated operation.
//! (`uploadFile` is hand-written in the adapter; its wire test lives with the adapter tests.)

use jimmyai_client::types;
use serde_json::json;
use workspace_tests::Capture;

async fn capture() -> (Capture, jimmyai_client::Client) {
    let cap = Capture::start(
        200,
        json!({"code": 20000, "msg": "ok", "data": {"id": "audio_1", "status": "queued"}}),
    )
    .await;
    let client = jimmyai_client::connect(&cap.base_url(), cap.key()).unwrap();
    (cap, client)
}

#[tokio::test]
async fn create_clone() {
    let (cap, c) = capture().await;
    let body = types::CreateCloneRequest {
        file_url: "https://example.com/source-audio.mp3".into(),
        content_text: Some(
            types::CreateCloneRequestContentText::try_from("A short preview.".to_string()).unwrap(),
        ),
        sound_version: Some(types::SoundVersion::V2),
        language: Some(types::Language("English".into())),
    };
    c.create_clone(&body).await.unwrap();
    insta::assert_json_snapshot!(cap.wire());
}

#[tokio::test]
async fn create_audio() {
    let (cap, c) = capture().await;
    let body = types::CreateAudioRequest {
        model_id: "model-1".into(),
        content_text: types::CreateAudioRequestContentText::try_from(
            "Hello <#0.5#> world".to_string(),
        )
        .unwrap(),
        sound_version: Some(types::SoundVersion::V1),
        language: Some(types::Language("Chinese,Yue".into())),
        emotion: Some(types::Emotion::Happy),
        speed: Some(1.25),
        vol: Some(2.0),
        pitch: Some(-3),
        subtitle_enable: Some(true),
        subtitle_type: Some(types::CreateAudioRequestSubtitleType::Word),
    };
    c.create_audio(&body).await.unwrap();
    insta::assert_json_snapshot!(cap.wire());
}

#[tokio::test]
async fn get_audio_task() {
    let (cap, c) = capture().await;
    c.get_audio_task("audio_16b635ba").await.unwrap();
    insta::assert_json_snapshot!(cap.wire());
}

#[tokio::test]
async fn only_the_fields_the_caller_chose_are_sent() {
    let (cap, c) = capture().await;
    let body = types::CreateCloneRequest {
        file_url: "https://example.com/a.mp3".into(),
        content_text: None,
        sound_version: None,
        language: None,
    };
    c.create_clone(&body).await.unwrap();
    // No server default (soundVersion v1, language auto) may be filled in by the client.
    assert_eq!(
        cap.wire()["body"],
        json!({"fileUrl": "https://example.com/a.mp3"})
    );
}

#[test]
fn preview_text_limit_is_counted_in_characters() {
    let ok = "語".repeat(270);
    let too_long = "語".repeat(271);
    assert!(types::CreateCloneRequestContentText::try_from(ok).is_ok());
    assert!(types::CreateCloneRequestContentText::try_from(too_long).is_err());
}
