//! Scripted faults (`SimHandle::fail_next`): exactly the next N calls of one operation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{client, get, vmeg_post};

use std::time::Duration;

use serde_json::{Value, json};
use voiceclone_sim::{Fault, FaultKind, ScriptError, SimConfig, SimHandle, Simulator};

const CLONE_ASYNC: &str = "/openapi/v1/task/clone-voice/create-async";

async fn sim() -> SimHandle {
    Simulator::start_with(SimConfig::default().with_speed(50.0))
        .await
        .unwrap()
}

fn clone_body() -> Value {
    json!({"refAudio": "https://example.com/a.wav", "voiceName": "Scripted"})
}

#[tokio::test]
async fn next_two_async_clone_creates_answer_502_then_all_is_normal() {
    let sim = sim().await;
    sim.fail_next("vmeg.cloneVoiceCreateAsync", FaultKind::Http502, 2)
        .unwrap();
    assert_eq!(sim.scripted_pending("vmeg.cloneVoiceCreateAsync"), 2);
    // Another operation is not affected.
    let (s, v, _) = vmeg_post(&sim, "/openapi/v1/assets/voice/basic/list", "l", json!({}))
        .await
        .unwrap();
    assert_eq!((s, &v["code"]), (200, &json!(200)));
    for key in ["a", "a"] {
        let (s, v, _) = vmeg_post(&sim, CLONE_ASYNC, key, clone_body())
            .await
            .unwrap();
        assert_eq!((s, &v["code"]), (502, &json!(502)), "{v}");
    }
    assert_eq!(
        sim.task_count(),
        0,
        "a 502 before processing creates nothing"
    );
    // The key was not used up by the faults: the third call with it succeeds.
    let (s, v, _) = vmeg_post(&sim, CLONE_ASYNC, "a", clone_body())
        .await
        .unwrap();
    assert_eq!((s, &v["code"]), (200, &json!(200)), "{v}");
    assert_eq!(sim.task_count(), 1);
    assert_eq!(sim.scripted_pending("vmeg.cloneVoiceCreateAsync"), 0);
    let st = sim.stats();
    assert_eq!(st.faults_by_kind.get("502"), Some(&2));
    assert_eq!(st.billable("vmeg.cloneVoiceCreateAsync"), 1);
}

#[tokio::test]
async fn drop_the_connection_after_processing_the_next_create() {
    let sim = sim().await;
    sim.fail_next("vmeg.cloneVoiceCreateAsync", FaultKind::DropAfter, 1)
        .unwrap();
    let r = vmeg_post(&sim, CLONE_ASYNC, "k", clone_body()).await;
    assert!(r.is_err(), "expected no answer, got {r:?}");
    // The task exists and is billed; the key is used: a retry with it is 409.
    assert_eq!(sim.task_count(), 1);
    assert_eq!(sim.stats().billable("vmeg.cloneVoiceCreateAsync"), 1);
    let (s, v, h) = vmeg_post(&sim, CLONE_ASYNC, "k", clone_body())
        .await
        .unwrap();
    assert_eq!((s, &v["code"]), (409, &json!(409)));
    assert_eq!(h.get("retry-after").unwrap(), "2");
    // The lost task can be found again in tasks/list.
    let (_, v) = get(&sim, "/openapi/v1/tasks/list").await;
    assert_eq!(v["data"]["total"], 1, "{v}");
}

#[tokio::test]
async fn drop_before_and_429_with_its_retry_after_and_latency() {
    let sim = sim().await;
    sim.fail_next("vmeg.ttsCreate", FaultKind::DropBefore, 1)
        .unwrap();
    sim.fail_next(
        "vmeg.ttsCreate",
        Fault::too_many_requests(Duration::from_secs(7)),
        1,
    )
    .unwrap();
    sim.fail_next(
        "vmeg.ttsCreate",
        "latency:30ms".parse::<Fault>().unwrap(),
        1,
    )
    .unwrap();
    let body = json!({"data": [{"text": "hi", "voiceId": "sv_en_us_female_01"}]});
    let path = "/openapi/v1/task/tts/create";
    assert!(vmeg_post(&sim, path, "t", body.clone()).await.is_err());
    let (s, _, h) = vmeg_post(&sim, path, "t", body.clone()).await.unwrap();
    assert_eq!(s, 429);
    assert_eq!(h.get("retry-after").unwrap(), "7");
    assert_eq!(sim.task_count(), 0);
    let (s, v, _) = vmeg_post(&sim, path, "t", body).await.unwrap();
    assert_eq!((s, &v["code"]), (200, &json!(200)), "{v}");
    let st = sim.stats();
    for k in ["drop-before", "429", "latency"] {
        assert_eq!(st.faults_by_kind.get(k), Some(&1), "{k}: {st:?}");
    }
}

#[tokio::test]
async fn answer_the_next_status_poll_with_an_unknown_status() {
    let sim = sim().await;
    let (_, v, _) = vmeg_post(&sim, CLONE_ASYNC, "u", clone_body())
        .await
        .unwrap();
    let id = v["data"]["taskId"].as_str().unwrap().to_owned();
    sim.fail_next("vmeg.tasksDetail", FaultKind::UnknownStatus, 1)
        .unwrap();
    let path = format!("/openapi/v1/tasks/detail?taskId={id}");
    let (_, v) = get(&sim, &path).await;
    assert_eq!(v["data"]["status"], "warming_up", "{v}");
    let (_, v) = get(&sim, &path).await;
    let status = v["data"]["status"].as_str().unwrap();
    assert!(["running", "finished"].contains(&status), "{v}");

    // JimmyAI: the same on audios/{id}; business error on the next create.
    let http = client();
    let jimmy = |path: &str, body: Value| {
        http.post(format!("{}/api/open-api/v1/{path}", sim.base_url()))
            .bearer_auth(sim.api_key())
            .json(&body)
            .send()
    };
    sim.fail_next("jimmyai.createClone", FaultKind::Business, 1)
        .unwrap();
    let clone = json!({"fileUrl": "https://x.y/a.wav"});
    let v: Value = jimmy("soundCloning/clones", clone.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["code"], -1, "{v}");
    let v: Value = jimmy("soundCloning/clones", clone)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = v["data"]["id"].as_str().unwrap().to_owned();
    sim.fail_next("jimmyai.getAudio", FaultKind::UnknownStatus, 1)
        .unwrap();
    let (_, v) = get(&sim, &format!("/api/open-api/v1/audios/{id}")).await;
    assert_eq!(v["data"]["status"], "warming_up", "{v}");
    let (_, v) = get(&sim, &format!("/api/open-api/v1/audios/{id}")).await;
    assert_ne!(v["data"]["status"], "warming_up", "{v}");
}

#[tokio::test]
async fn extra_fields_on_the_next_list_only() {
    let sim = sim().await;
    sim.fail_next("vmeg.basicVoiceList", FaultKind::ExtraFields, 1)
        .unwrap();
    let path = "/openapi/v1/assets/voice/basic/list";
    let (_, v, _) = vmeg_post(&sim, path, "x", json!({})).await.unwrap();
    assert!(v["simUnknownField"].is_object(), "{v}");
    let (_, v, _) = vmeg_post(&sim, path, "x", json!({})).await.unwrap();
    assert!(v.get("simUnknownField").is_none(), "{v}");
}

#[tokio::test]
async fn scripting_refuses_unknown_operations_and_misplaced_faults() {
    let sim = sim().await;
    assert!(matches!(
        sim.fail_next("vmeg.cloneVoice", FaultKind::Http502, 1),
        Err(ScriptError::UnknownOperation(_))
    ));
    let e = sim
        .fail_next("jimmyai.createAudio", FaultKind::UnknownStatus, 1)
        .unwrap_err();
    assert!(e.to_string().contains("jimmyai.getAudio"), "{e}");
    sim.fail_next("vmeg.tasksList", FaultKind::Http500, 3)
        .unwrap();
    sim.clear_scripted_faults();
    assert_eq!(sim.scripted_pending("vmeg.tasksList"), 0);
    let (s, _) = get(&sim, "/openapi/v1/tasks/list").await;
    assert_eq!(s, 200);
}
