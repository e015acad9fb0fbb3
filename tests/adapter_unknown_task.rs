//! Issue 14 point 5: JimmyAI's answer to an unknown task id is UNKNOWN (api-facts B6), so a
//! refusal of a task lookup names the id and says "unknown id or invalid request"; the kind
//! is `NotFound` only where the vendor says not found (an HTTP 404).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use voiceclone::{
    Client, ErrorKind, JobId, JobKind, Provider, RecordingSleeper, RetryPolicy, WaitPolicy,
};
use voiceclone_sim::{SimConfig, Simulator};
use workspace_tests::scripted::{Scripted, Step};

fn client(base: &str, key: &str) -> Client {
    Client::builder(Provider::JimmyAi)
        .api_key(key)
        .base_url(base)
        .retry(RetryPolicy::none())
        .sleeper(Arc::new(RecordingSleeper::new()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_unknown_jimmyai_task_id_is_named_and_not_called_not_found() {
    let sim = Simulator::start_with(SimConfig::default().with_speed(1000.0))
        .await
        .unwrap();
    let c = client(&sim.base_url(), sim.api_key());
    let id = JobId::typed(Provider::JimmyAi, JobKind::Clone, "audio_no_such_task");
    let e = c.clone_status(&id).await.unwrap_err();
    // The simulator answers code 20002 (a third-party summary's "invalid request").
    assert_eq!(e.kind(), &ErrorKind::InvalidRequest, "{e}");
    let text = e.to_string();
    assert!(text.contains("\"audio_no_such_task\""), "{text}");
    assert!(text.contains("unknown id or invalid request"), "{text}");

    // A wait ends with the same error, not after its deadline.
    let speech = JobId::typed(Provider::JimmyAi, JobKind::Speech, "audio_gone");
    let e = c
        .wait_for_speech(
            &speech,
            &WaitPolicy::for_provider(Provider::JimmyAi)
                .with_first_interval(Duration::from_millis(1))
                .with_max_polls(Some(3)),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidRequest, "{e}");
    assert!(
        e.note().unwrap_or_default().contains("\"audio_gone\""),
        "{e}"
    );
}

#[tokio::test]
async fn not_found_only_when_the_vendor_says_so() {
    let server = Scripted::start(vec![Step::status(
        404,
        json!({"code": 404, "msg": "Not Found", "data": null}),
    )])
    .await;
    let c = client(&server.base_url, "k-123456");
    let e = c.clone_status(&JobId::new("audio_404")).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NotFound, "{e}");
    assert!(
        e.to_string().contains("unknown id or invalid request"),
        "{e}"
    );
    assert!(e.to_string().contains("\"audio_404\""), "{e}");

    // Other failures are not called an unknown id.
    let server = Scripted::start(vec![Step::Raw(503, "busy")]).await;
    let c = client(&server.base_url, "k-123456");
    let e = c.clone_status(&JobId::new("audio_1")).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Server, "{e}");
    assert!(e.note().is_none(), "{e}");
}
