//! Issue 17 point 3: result types serialize (feature `serde`) as a service would store or
//! return them: stored-form ids, status words, RFC 3339 times, seconds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;
use voiceclone::fake::{FakeClient, Script};
use voiceclone::{
    CloneRequest, Provider, Speech, SpeechSegment, TaskStatus, VoiceCloning, WaitPolicy,
};

#[tokio::test(flavor = "current_thread")]
async fn a_finished_clone_job_serializes_with_its_voice() {
    let fake = FakeClient::new(Provider::JimmyAi);
    fake.script_clone(Script::succeeds().with_voice_id("m-1"));
    let job = fake
        .clone_voice(&CloneRequest::new("https://cdn.example.com/a.wav"))
        .await
        .unwrap();
    let policy = WaitPolicy::for_provider(Provider::JimmyAi);
    fake.wait_for_clone(&job.id, &policy).await.unwrap();
    let done = fake.clone_status(&job.id).await.unwrap();
    let v = serde_json::to_value(&done).unwrap();
    assert_eq!(v["provider"], "jimmyai");
    // The stored form of the job's id (the fake's ids carry a random part per fake).
    assert_eq!(v["id"], job.id.to_string());
    assert!(
        v["id"]
            .as_str()
            .unwrap()
            .starts_with("jimmyai:clone:fake-clone-"),
        "{v}"
    );
    assert_eq!(v["status"], "succeeded");
    // Unactivated (no production call yet): the stored form carries the deadline.
    let voice_id = v["voice"]["id"].as_str().unwrap();
    assert!(
        voice_id.starts_with("jimmyai:voice;activate_by=") && voice_id.ends_with(":m-1"),
        "{voice_id}"
    );
    // Times are RFC 3339 strings, not serde's {secs_since_epoch, nanos_since_epoch}.
    let created = v["created_at"].as_str().expect("created_at is a string");
    assert!(created.ends_with('Z') && created.len() == 24, "{created}");
    let by = v["voice"]["activate_by"].as_str().unwrap();
    assert!(by > created, "{by} after {created}");
    // The stored id parses back equal, and its deadline is the one beside it (review 28-c #4:
    // the fake dates jobs to the nanosecond, and the stored form holds whole seconds).
    let voice = done.voice.as_ref().unwrap();
    let back: voiceclone::VoiceId = serde_json::from_value(v["voice"]["id"].clone()).unwrap();
    assert_eq!(back, voice.id);
    assert_eq!(voice_id.parse::<voiceclone::VoiceId>().unwrap(), voice.id);
    let voiceclone::Activation::Unactivated { activate_by } = back.activation() else {
        panic!("{back}");
    };
    assert_eq!(Some(activate_by), voice.activate_by);
}

#[test]
fn statuses_durations_and_times_have_their_documented_forms() {
    assert_eq!(serde_json::to_value(TaskStatus::Queued).unwrap(), "queued");
    // An unmapped vendor word never reads as a known status.
    assert_eq!(
        serde_json::to_value(TaskStatus::Unknown("succeeded".into())).unwrap(),
        "unknown(succeeded)"
    );
    let seg = SpeechSegment::new(
        Some("https://cdn.example.com/1.wav".parse().unwrap()),
        Some(Duration::from_millis(1500)),
        None,
    );
    let speech = Speech::new(vec!["https://cdn.example.com/1.wav".parse().unwrap()])
        .with_segments(vec![seg]);
    assert_eq!(
        serde_json::to_value(&speech).unwrap(),
        json!({
            "audio_urls": ["https://cdn.example.com/1.wav"],
            "subtitle_url": null,
            "segments": [{"url": "https://cdn.example.com/1.wav", "duration": 1.5, "error": null}],
        })
    );
    let voice = voiceclone::Voice::new(Provider::Vmeg, "v-1")
        .with_created_at(UNIX_EPOCH + Duration::from_millis(1_709_210_096_789));
    let v = serde_json::to_value(&voice).unwrap();
    assert_eq!(v["created_at"], "2024-02-29T12:34:56.789Z");
    assert_eq!(v["activate_by"], serde_json::Value::Null);
}

/// A status read from a word the vendor does not document is serialized with that word as
/// `assumed_status` beside `status` (null for a documented word), for task summaries, a task
/// of another product and jobs: a service that stores listings as JSON and resubmits rows
/// whose status is `failed` can tell a failure VMEG said from one this crate assumed (the
/// task may still be alive). Before, the JSON said `"status":"failed"` and nothing else.
#[test]
fn an_assumed_status_is_serialized_beside_the_status() {
    use voiceclone::{CloneJob, JobKind, SpeechJob, TaskDetail, TaskSummary};
    let summary = |word: &str| {
        TaskSummary::new(
            Provider::Vmeg,
            "t-1",
            Some(JobKind::Clone),
            "cloneVoice",
            TaskStatus::Failed,
        )
        .with_vendor_status(word)
    };
    let v = serde_json::to_value(summary("timeout")).unwrap();
    assert_eq!(v["status"], "failed");
    assert_eq!(v["assumed_status"], "timeout", "{v}");
    assert_eq!(v["vendor_status"], "timeout", "{v}");
    // Every other field is kept as it was.
    assert_eq!(v["id"], "vmeg:clone:t-1", "{v}");
    assert_eq!(v["created_at"], serde_json::Value::Null, "{v}");
    let v = serde_json::to_value(summary("failed")).unwrap();
    assert_eq!(v["assumed_status"], serde_json::Value::Null, "{v}");
    assert!(v.as_object().unwrap().contains_key("assumed_status"), "{v}");
    // JimmyAI documents its words: never assumed.
    let jimmy = TaskSummary::new(Provider::JimmyAi, "a-1", None, "x", TaskStatus::Failed)
        .with_vendor_status("failed");
    let v = serde_json::to_value(jimmy).unwrap();
    assert_eq!(v["assumed_status"], serde_json::Value::Null, "{v}");

    let other = TaskDetail::Other(
        TaskSummary::new(Provider::Vmeg, "t-2", None, "vt", TaskStatus::Failed)
            .with_vendor_status("expired"),
    );
    let v = serde_json::to_value(&other).unwrap();
    assert_eq!(v["task"]["assumed_status"], "expired", "{v}");

    let clone = CloneJob::new(Provider::Vmeg, "t-3", TaskStatus::Failed)
        .with_vendor_status("timeout")
        .with_created_at(UNIX_EPOCH + Duration::from_secs(1_709_210_096));
    let v = serde_json::to_value(&clone).unwrap();
    assert_eq!(v["assumed_status"], "timeout", "{v}");
    assert_eq!(v["created_at"], "2024-02-29T12:34:56.000Z", "{v}");
    assert_eq!(v["name"], serde_json::Value::Null, "{v}");
    let v = serde_json::to_value(TaskDetail::Clone(clone)).unwrap();
    assert_eq!(v["task"]["assumed_status"], "timeout", "{v}");
    let speech =
        SpeechJob::new(Provider::Vmeg, "t-4", TaskStatus::Running).with_vendor_status("running");
    let v = serde_json::to_value(&speech).unwrap();
    assert_eq!(v["assumed_status"], serde_json::Value::Null, "{v}");
    assert!(v.as_object().unwrap().contains_key("assumed_status"), "{v}");
    assert_eq!(v["voice"], serde_json::Value::Null, "{v}");
}
