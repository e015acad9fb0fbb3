//! A hostile or careless client against the real simulator over loopback: each test
//! here failed before the fix it names (RELIABILITY.md, "The simulator under abuse").
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::{Value, json};
use voiceclone_sim::{SimConfig, SimHandle, Simulator};

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Runs `scenario` on its own current-thread runtime (what `#[tokio::test]` gives a
/// downstream test) in a thread, and fails if it has not finished after `limit`: a
/// simulator task that spins without yielding hangs such a runtime, and no timer in it
/// can fire.
fn within<F, Fut>(limit: Duration, scenario: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(scenario());
        let _ = tx.send(());
    });
    match rx.recv_timeout(limit) {
        Ok(()) => {}
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("the scenario did not finish within {limit:?}: the simulator hung")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            panic!("the scenario panicked (see above)")
        }
    }
}

async fn vmeg_post(sim: &SimHandle, path: &str, key: &str, body: Value) -> (u16, Value) {
    let r = client()
        .post(format!("{}{path}", sim.base_url()))
        .bearer_auth(sim.api_key())
        .header("X-Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .expect("answered");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The clock pushed to its end (`advance_clock(Duration::MAX)`, documented as fine): a
/// task created there has a due time that saturates. Before the fix its phase was read
/// from `now - created >= total` (never true once `now` saturates) while its timer waited
/// for the saturated due time (already reached): a sync create looped without sleeping,
/// hanging a current-thread runtime for ever, and the task was never settled.
#[test]
fn tasks_created_at_the_end_of_the_clock_finish_and_nothing_spins() {
    within(Duration::from_secs(30), || async {
        let sim = Simulator::start_with(SimConfig::default().with_speed(1000.0))
            .await
            .unwrap();
        sim.advance_clock(Duration::MAX);
        let (status, v) = vmeg_post(
            &sim,
            "/openapi/v1/task/clone-voice/create",
            "end-of-time",
            json!({"refAudio": "https://example.com/a.wav", "voiceName": "Late"}),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        let voice = v["data"]["voiceId"].as_str().unwrap().to_string();
        // The clone was settled: its voice is in the library.
        let (status, list) = vmeg_post(
            &sim,
            "/openapi/v1/assets/voice/clone/list",
            "unused",
            json!({"pageSize": 100}),
        )
        .await;
        assert_eq!(status, 200, "{list}");
        assert!(list.to_string().contains(&voice), "{list}");
        // An async one reads as finished on the next poll.
        let (status, v) = vmeg_post(
            &sim,
            "/openapi/v1/task/tts/create-async",
            "end-of-time-2",
            json!({"data": [{"text": "hi", "voiceId": "sv_en_us_female_01"}]}),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        let id = v["data"]["taskId"].as_str().unwrap();
        let r: Value = client()
            .get(format!(
                "{}/openapi/v1/tasks/detail?taskId={id}",
                sim.base_url()
            ))
            .bearer_auth(sim.api_key())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["data"]["status"], "finished", "{r}");
        sim.shutdown().await;
    });
}
