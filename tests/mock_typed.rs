//! The generated typed mocks (`vmeg-client-mock`, `jimmyai-client-mock`) are usable as a user
//! would use them: a mock set up with the clients' own types answers the generated client and
//! the `voiceclone` adapter, and matches only the request it describes.

// The mock crates' re-export, as the README advises (one type for both crates' mocks).
use jimmyai_client::types as jimmy;
use jimmyai_client_mock::MockServerExt as _;
use vmeg_client::types as vmeg;
use vmeg_client_mock::MockServerExt as _;
use vmeg_client_mock::httpmock::MockServer;
use voiceclone::{Client, CloneRequest, ErrorKind, JobId, Provider, SoundVersion, TaskStatus};

const KEY: &str = "mock-test-key";
const SAMPLE: &str = "https://cdn.example.com/sample.mp3";

fn adapter(provider: Provider, server: &MockServer) -> Client {
    Client::builder(provider)
        .api_key(KEY)
        .base_url(server.base_url())
        .build()
        .unwrap()
}

/// The body the adapter sends for a VMEG clone with this name, language and key.
fn vmeg_clone_body(idempotency_key: &str) -> vmeg::CloneVoiceCreateAsyncRequest {
    let mut marker = serde_json::Map::new();
    marker.insert(
        "voiceclone".into(),
        serde_json::json!({ "idempotencyKey": idempotency_key }),
    );
    vmeg::CloneVoiceCreateAsyncRequest {
        voice_name: Some("Narrator".into()),
        provider: None,
        ref_audio: Some(SAMPLE.into()),
        sample_language: Some("en-US".into()),
        sample_text: None,
        extra_data: Some(vmeg::ExtraData(marker)),
    }
}

#[tokio::test]
async fn vmeg_create_clone_mock_answers_the_generated_client_and_the_adapter() {
    let server = MockServer::start_async().await;
    let key = vmeg::CloneVoiceCreateAsyncXIdempotencyKey::try_from("job-42".to_string()).unwrap();
    let body = vmeg_clone_body("job-42");
    let accepted = vmeg::TaskAcceptedEnvelope {
        code: 200.into(),
        message: Some("ok".into()),
        data: Some(vmeg::TaskAcceptedData {
            task_id: "t-1".into(),
            created_at: Some("2026-06-01T10:00:00Z".into()),
        }),
    };
    let mock = server.clone_voice_create_async(|when, then| {
        when.x_idempotency_key(&key).body(&body).req_id(None);
        then.ok(&accepted);
    });

    // The generated client: the typed answer comes back as it was given.
    let generated = vmeg_client::connect(&server.base_url(), KEY).unwrap();
    let answer = generated
        .clone_voice_create_async(None, &key, &body)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.code.value(), Some(200));
    let data = answer.data.unwrap();
    assert_eq!(data.task_id.as_str(), Some("t-1"));
    assert_eq!(
        data.created_at.unwrap().as_str(),
        Some("2026-06-01T10:00:00Z")
    );

    assert_eq!(mock.calls_async().await, 1);

    // The adapter sends the same request, with a request id of its own on every attempt
    // (issue 14): the same typed `when`, with the id required instead of absent.
    let adapter_mock = server.clone_voice_create_async(|when, then| {
        when.x_idempotency_key(&key)
            .body(&body)
            .into_inner()
            .query_param_exists("req_id");
        then.ok(&accepted);
    });
    let client = adapter(Provider::Vmeg, &server);
    let job = client
        .clone_voice(
            &CloneRequest::new(SAMPLE)
                .name("Narrator")
                .language("en-US")
                .idempotency_key("job-42"),
        )
        .await
        .unwrap();
    assert_eq!(job.id.to_string(), "vmeg:clone:t-1");
    assert_eq!(job.status, TaskStatus::Queued);
    assert_eq!(adapter_mock.calls_async().await, 1);

    // Another key is another request: the typed mock does not match it, and the caller sees
    // httpmock's 404 as `NotFound` (README, "Typed HTTP mocks").
    let other = client
        .clone_voice(
            &CloneRequest::new(SAMPLE)
                .name("Narrator")
                .language("en-US")
                .idempotency_key("job-43"),
        )
        .await;
    assert_eq!(other.unwrap_err().kind(), &ErrorKind::NotFound);
    assert_eq!(adapter_mock.calls_async().await, 1);
    assert_eq!(mock.calls_async().await, 1);
}

fn audio_task(id: &str, status: &str) -> jimmy::AudioTask {
    jimmy::AudioTask {
        id: Some(id.into()),
        object: Some("audio".into()),
        created: Some(1_781_777_280.into()),
        model: Some("soundCloningClone".into()),
        status: Some(status.into()),
        model_id: Some("m-1".into()),
        audio_url: None,
        error: None,
        subtitle_file: None,
    }
}

#[tokio::test]
async fn jimmyai_create_clone_mock_answers_the_generated_client_and_the_adapter() {
    let server = MockServer::start_async().await;
    let body = jimmy::CreateCloneRequest {
        file_url: SAMPLE.into(),
        content_text: Some(
            jimmy::CreateCloneRequestContentText::try_from("A short preview.".to_string()).unwrap(),
        ),
        language: Some(jimmy::Language("Chinese".into())),
        sound_version: Some(jimmy::SoundVersion::V1),
    };
    let mock = server.create_clone(|when, then| {
        when.body(&body);
        then.ok(&jimmy::CreateCloneEnvelope {
            code: 20000.into(),
            msg: Some("ok".into()),
            data: Some(audio_task("audio_1", "queued")),
        });
    });

    let generated = jimmyai_client::connect(&server.base_url(), KEY).unwrap();
    let answer = generated.create_clone(&body).await.unwrap().into_inner();
    assert_eq!(answer.code.value(), Some(20000));
    assert_eq!(
        answer.data.unwrap().id.as_ref().and_then(|t| t.as_str()),
        Some("audio_1")
    );

    let client = adapter(Provider::JimmyAi, &server);
    let job = client
        .clone_voice(
            &CloneRequest::new(SAMPLE)
                .sample_text("A short preview.")
                .language("zh-CN")
                .sound_version(SoundVersion::V1),
        )
        .await
        .unwrap();
    assert_eq!(job.id.to_string(), "jimmyai:clone:audio_1");
    assert_eq!(mock.calls_async().await, 2);
}

/// A path parameter is matched literally, as the client encodes it: a mock for `audio.1`
/// answers `audio.1` (through the adapter, too) and not `audioX1`, which a bare regex would
/// match.
#[tokio::test]
async fn jimmyai_task_mock_matches_its_id_literally() {
    let server = MockServer::start_async().await;
    let mock = server.get_audio_task(|when, then| {
        when.id("audio.1");
        then.ok(&jimmy::GetAudioTaskEnvelope {
            code: 20000.into(),
            msg: Some("ok".into()),
            data: Some(audio_task("audio.1", "completed")),
        });
    });

    let generated = jimmyai_client::connect(&server.base_url(), KEY).unwrap();
    let task = generated
        .get_audio_task("audio.1")
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        task.data.unwrap().status.unwrap().as_str(),
        Some("completed")
    );
    let miss = generated.get_audio_task("audioX1").await;
    assert_eq!(
        miss.map(|_| ()).unwrap_err().status().map(|s| s.as_u16()),
        Some(404),
        "httpmock answers 404 to what no mock matches"
    );

    let client = adapter(Provider::JimmyAi, &server);
    let id: JobId = "jimmyai:clone:audio.1".parse().unwrap();
    let job = client.clone_status(&id).await.unwrap();
    assert_eq!(job.status, TaskStatus::Succeeded);
    assert_eq!(mock.calls_async().await, 2);
}
