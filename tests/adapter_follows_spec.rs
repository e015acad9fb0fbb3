//! The adapter sends its requests itself (see crates/voiceclone/src/http.rs for why), with
//! bodies built from the generated types. This test keeps its routes tied to the specs: every
//! adapter call must use the method and path the spec gives its operationId.

use crate::adapter_support::client;
use serde_json::{Value, json};
use std::path::Path;
use voiceclone::{CloneRequest, JobId, Provider, SpeechRequest};
use workspace_tests::scripted::{Scripted, Step};

/// (method, path template) of `operation_id` in `spec`.
fn route(spec: &str, operation_id: &str) -> (String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(spec);
    let doc: Value = serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for (p, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op["operationId"] == operation_id {
                return (method.to_uppercase(), p.clone());
            }
        }
    }
    panic!("{operation_id} not in {spec}");
}

fn matches_template(template: &str, path: &str) -> bool {
    let (t, p): (Vec<_>, Vec<_>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}')) || t == p)
}

async fn check(
    provider: Provider,
    spec: &str,
    ops: &[&str],
    answer: Value,
    call: impl AsyncFnOnce(&voiceclone::Client),
) {
    let server = Scripted::start(vec![Step::ok(answer); ops.len()]).await;
    let (c, _) = client(provider, &server.base_url);
    call(&c).await;
    let seen = server.seen();
    assert_eq!(seen.len(), ops.len(), "{ops:?}: {seen:?}");
    for (op, req) in ops.iter().zip(&seen) {
        let (method, template) = route(spec, op);
        assert_eq!(req.method, method, "{op}");
        assert!(
            matches_template(&template, &req.path),
            "{op}: sent {} but the spec says {template}",
            req.path
        );
    }
}

#[tokio::test]
async fn vmeg_calls_use_the_spec_routes() {
    let spec = "specs/vmeg.yaml";
    let ok = |data: Value| json!({"code": 200, "message": "", "data": data});
    let accepted = ok(json!({"taskId": "t-1", "voiceId": "cv_1", "results": []}));
    let clone = CloneRequest::new("https://cdn.example.com/a.wav");
    check(
        Provider::Vmeg,
        spec,
        &["cloneVoiceCreateAsync"],
        accepted.clone(),
        async |c| {
            c.clone_voice(&clone).await.unwrap();
        },
    )
    .await;
    check(
        Provider::Vmeg,
        spec,
        &["cloneVoiceCreateSync"],
        accepted.clone(),
        async |c| {
            c.clone_voice(&clone.clone().synchronous(true))
                .await
                .unwrap();
        },
    )
    .await;
    let speech = SpeechRequest::new("cv_1", "hi");
    check(
        Provider::Vmeg,
        spec,
        &["ttsCreateAsync"],
        accepted.clone(),
        async |c| {
            c.synthesize(&speech).await.unwrap();
        },
    )
    .await;
    check(
        Provider::Vmeg,
        spec,
        &["ttsCreateSync"],
        accepted.clone(),
        async |c| {
            c.synthesize(&speech.clone().synchronous(true))
                .await
                .unwrap();
        },
    )
    .await;
    let detail = ok(json!({"taskId": "t-1", "status": "running"}));
    check(
        Provider::Vmeg,
        spec,
        &["tasksDetail"],
        detail.clone(),
        async |c| {
            c.clone_status(&JobId::new("t-1")).await.unwrap();
        },
    )
    .await;
    check(Provider::Vmeg, spec, &["tasksDetail"], detail, async |c| {
        c.speech_status(&JobId::new("t-1")).await.unwrap();
    })
    .await;
    let list = ok(json!({"records": [], "total": 0}));
    check(Provider::Vmeg, spec, &["voiceCloneList"], list, async |c| {
        c.list_voices().await.unwrap();
    })
    .await;
    check(
        Provider::Vmeg,
        spec,
        &["voiceCloneUpdate"],
        ok(Value::Null),
        async |c| {
            c.rename_voice("cv_1", "n").await.unwrap();
        },
    )
    .await;
    check(
        Provider::Vmeg,
        spec,
        &["voiceCloneDelete"],
        ok(Value::Null),
        async |c| {
            c.delete_voice("cv_1").await.unwrap();
        },
    )
    .await;
}

#[tokio::test]
async fn jimmyai_calls_use_the_spec_routes() {
    let spec = "specs/jimmyai.yaml";
    let task = json!({"code": 20000, "msg": "ok", "data": {"id": "audio_1", "status": "queued"}});
    check(
        Provider::JimmyAi,
        spec,
        &["createClone"],
        task.clone(),
        async |c| {
            c.clone_voice(&CloneRequest::new("https://cdn.example.com/a.mp3"))
                .await
                .unwrap();
        },
    )
    .await;
    check(
        Provider::JimmyAi,
        spec,
        &["createAudio"],
        task.clone(),
        async |c| {
            c.synthesize(&SpeechRequest::new("m-1", "hi"))
                .await
                .unwrap();
        },
    )
    .await;
    check(
        Provider::JimmyAi,
        spec,
        &["getAudioTask"],
        task.clone(),
        async |c| {
            c.clone_status(&JobId::new("audio_1")).await.unwrap();
        },
    )
    .await;
    let uploaded =
        json!({"code": 20000, "msg": "ok", "data": {"url": "https://cdn.example.com/u.mp3"}});
    let file = std::env::temp_dir().join(format!("vc-route-{}.mp3", std::process::id()));
    std::fs::write(&file, b"ID3").unwrap();
    check(
        Provider::JimmyAi,
        spec,
        &["uploadFile"],
        uploaded,
        async |c| {
            c.upload_sample(&file).await.unwrap();
        },
    )
    .await;
    let _ = std::fs::remove_file(&file);
}
