//! End-to-end tests of the simulator over loopback HTTP with plain reqwest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::client;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use voiceclone_sim::{FaultConfig, SimConfig, SimHandle, Simulator};

fn fast() -> SimConfig {
    // clone 2 s -> 40 ms, tts 1 s -> 20 ms
    SimConfig::default().with_speed(50.0)
}

struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    fn new(sim: &SimHandle) -> Self {
        Self {
            http: client(),
            base: sim.base_url(),
            key: sim.api_key().to_string(),
        }
    }
    async fn post(
        &self,
        path: &str,
        idem: Option<&str>,
        body: Value,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut rb = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(&body);
        if let Some(k) = idem {
            rb = rb.header("X-Idempotency-Key", k);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, r.json().await.unwrap(), headers)
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }
}

fn clone_body() -> Value {
    json!({"voiceName": "Narrator", "provider": "V2", "refAudio": "https://example.com/a.wav",
           "sampleLanguage": "en-US", "sampleText": "hello", "someUnknownField": 1})
}

/// A deadline for polling loops: generous, since a loaded machine is slow.
fn poll_deadline() -> std::time::Instant {
    std::time::Instant::now() + Duration::from_secs(20)
}

async fn wait_vmeg_status(api: &Api, task: &str, want: &str) -> Value {
    let deadline = poll_deadline();
    while std::time::Instant::now() < deadline {
        let (_, v) = api
            .get(&format!("/openapi/v1/tasks/detail?taskId={task}"))
            .await;
        if v["data"]["status"] == want {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("task {task} never reached {want}");
}

#[tokio::test]
async fn vmeg_async_clone_state_machine_and_voice_list() {
    let sim = Simulator::start_with(common::keyed(SimConfig::default().with_speed(20.0)))
        .await
        .unwrap();
    let api = Api::new(&sim);
    let (s, v, _) = api
        .post(
            "/openapi/v1/task/clone-voice/create-async",
            Some("k1"),
            clone_body(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["code"], 200);
    let task = v["data"]["taskId"].as_str().unwrap().to_string();
    assert!(v["data"]["createdAt"].as_str().unwrap().ends_with('Z'));
    let (_, d) = api
        .get(&format!("/openapi/v1/tasks/detail?taskId={task}"))
        .await;
    assert_eq!(d["data"]["status"], "running");
    assert_eq!(d["data"]["taskType"], "cloneVoice");
    // not yet in the voice list
    let (_, l, _) = api
        .post("/openapi/v1/assets/voice/clone/list", None, json!({}))
        .await;
    assert_eq!(l["data"]["total"], 0);
    let d = wait_vmeg_status(&api, &task, "finished").await;
    let voice = d["data"]["result"]["voiceId"].as_str().unwrap().to_string();
    assert!(voice.starts_with("cv_"));
    let (_, l, _) = api
        .post(
            "/openapi/v1/assets/voice/clone/list",
            None,
            json!({"searchName": "narr"}),
        )
        .await;
    assert_eq!(l["data"]["total"], 1);
    let rec = &l["data"]["records"][0];
    assert_eq!(rec["voiceId"], voice.as_str());
    assert_eq!(rec["taskId"], task.as_str());
    assert_eq!(rec["name"], "Narrator");
    assert_eq!(rec["provider"], "V2");
    let (_, tl) = api
        .get("/openapi/v1/tasks/list?taskType=cloneVoice&status=finished")
        .await;
    assert_eq!(tl["data"]["total"], 1);
    assert_eq!(tl["data"]["records"][0]["taskId"], task.as_str());
    // rename, then delete
    let (s, _, _) = api
        .post(
            "/openapi/v1/assets/voice/clone/update",
            Some("u1"),
            json!({"voiceId": voice, "voiceName": "Renamed"}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, l, _) = api
        .post(
            "/openapi/v1/assets/voice/clone/list",
            None,
            json!({"voiceIds": [voice]}),
        )
        .await;
    assert_eq!(l["data"]["records"][0]["name"], "Renamed");
    let (s, _, _) = api
        .post(
            "/openapi/v1/assets/voice/clone/delete",
            Some("d1"),
            json!({"voiceId": voice}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, v, _) = api
        .post(
            "/openapi/v1/assets/voice/clone/delete",
            Some("d2"),
            json!({"voiceId": voice}),
        )
        .await;
    assert_eq!((s, v["code"].as_i64()), (404, Some(404)));
    // task delete
    let (s, _, _) = api
        .post(
            "/openapi/v1/tasks/delete",
            Some("t1"),
            json!({"taskId": task}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = api
        .get(&format!("/openapi/v1/tasks/detail?taskId={task}"))
        .await;
    assert_eq!(s, 404);
}

/// A `taskId` with spaces around it names the same task for `tasks/detail` and
/// `tasks/delete`. Before: detail trimmed it and found the task, delete did not and
/// answered "Task not found".
#[tokio::test]
async fn a_task_id_with_spaces_around_it_is_found_by_detail_and_delete_alike() {
    let sim = Simulator::start_with(common::keyed(fast())).await.unwrap();
    let api = Api::new(&sim);
    let (s, v, _) = api
        .post(
            "/openapi/v1/task/clone-voice/create-async",
            Some("spaced"),
            clone_body(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let task = v["data"]["taskId"].as_str().unwrap().to_string();
    let (s, v) = api
        .get(&format!("/openapi/v1/tasks/detail?taskId=%20{task}%20"))
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v, _) = api
        .post(
            "/openapi/v1/tasks/delete",
            Some("spaced-delete"),
            json!({"taskId": format!(" {task} ")}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, _) = api
        .get(&format!("/openapi/v1/tasks/detail?taskId={task}"))
        .await;
    assert_eq!(s, 404, "deleted");
}

#[tokio::test]
async fn vmeg_sync_clone_then_tts_and_clone_result_without_voice_id() {
    let sim = Simulator::start_with(common::keyed(
        fast().with_vmeg_clone_result_has_voice_id(false),
    ))
    .await
    .unwrap();
    let api = Api::new(&sim);
    let (s, v, _) = api
        .post(
            "/openapi/v1/task/clone-voice/create",
            Some("c"),
            clone_body(),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let voice = v["data"]["voiceId"].as_str().unwrap().to_string();
    let task = v["data"]["taskId"].as_str().unwrap().to_string();
    let (_, d) = api
        .get(&format!("/openapi/v1/tasks/detail?taskId={task}"))
        .await;
    assert_eq!(d["data"]["status"], "finished");
    assert!(d["data"]["result"].get("voiceId").is_none());
    let (s, v, _) = api
        .post(
            "/openapi/v1/task/tts/create",
            Some("t"),
            json!({"data": [{"text": "Hello there", "voiceId": voice, "emoWeight": 0.5}], "outputFormat": "mp3"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let uri = v["data"]["results"][0]["uri"].as_str().unwrap();
    // WAV whatever format was asked for (no faithful MP3 encoder; see the crate docs).
    assert!(uri.ends_with(".wav"), "{uri}");
    let audio = api.http.get(uri).send().await.unwrap();
    assert_eq!(audio.status(), 200);
    // Served with its length: a client refuses a body that ends only at the close, since a
    // cut could not be told from the end.
    let declared = audio.headers().get("content-length").cloned();
    let body = audio.bytes().await.unwrap();
    assert!(!body.is_empty());
    assert_eq!(
        declared.as_ref().and_then(|v| v.to_str().ok()),
        Some(body.len().to_string().as_str()),
        "result audio without a Content-Length"
    );
    // system voice list
    let (_, b, _) = api
        .post("/openapi/v1/assets/voice/basic/list", None, json!({}))
        .await;
    assert!(
        b["data"]["records"][0]["voiceId"]
            .as_str()
            .unwrap()
            .starts_with("sv_")
    );
}

/// Every rejected create releases its key and leaves a stale entry in the key queue.
/// Past twice `max_idempotency_keys` entries the queue was cut from the front, live keys
/// with it: a retry under a live key was accepted (and billed) again instead of 409.
#[tokio::test]
async fn rejected_creates_do_not_push_a_live_idempotency_key_out() {
    let mut config = fast();
    config.max_idempotency_keys = 3;
    let sim = Simulator::start_with(common::keyed(config)).await.unwrap();
    let api = Api::new(&sim);
    let p = "/openapi/v1/task/tts/create-async";
    let good = json!({"data": [{"text": "hi", "voiceId": "sv_en_us_female_01"}]});
    let (s, _, _) = api.post(p, Some("live"), good.clone()).await;
    assert_eq!(s, 200);
    for i in 0..7 {
        let (s, _, _) = api
            .post(p, Some(&format!("bad-{i}")), json!({"data": []}))
            .await;
        assert_eq!(s, 400);
    }
    let (s, v, _) = api.post(p, Some("live"), good).await;
    assert_eq!(s, 409, "a live key was forgotten: {v}");
    assert_eq!(sim.stats().billable_total(), 1);
}

/// `vmeg_rejection_consumes_idempotency_key` covers requests rejected once their JSON
/// body was read (validation 400, unknown id 404). A body that is malformed or over
/// `vmeg_max_body_bytes` is refused before the key is reserved: it never consumes it.
/// Pinned because the setting's doc said "rejected by validation (400/404)" without
/// saying which refusals come first.
#[tokio::test]
async fn with_rejections_consuming_keys_only_a_read_body_uses_one() {
    let sim = Simulator::start_with(common::keyed(
        fast().with_vmeg_rejection_consumes_idempotency_key(true),
    ))
    .await
    .unwrap();
    let api = Api::new(&sim);
    let p = "/openapi/v1/task/tts/create-async";
    let good = json!({"data": [{"text": "hi", "voiceId": "sv_en_us_female_01"}]});
    let raw = |key: &str, body: Vec<u8>| {
        api.http
            .post(format!("{}{p}", api.base))
            .bearer_auth(&api.key)
            .header("X-Idempotency-Key", key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let r = raw("malformed", b"{\"data\": [".to_vec()).await.unwrap();
    assert_eq!(r.status(), 400);
    let r = raw("oversized", vec![b' '; 1024 * 1024 + 1]).await.unwrap();
    assert_eq!(r.status(), 413);
    for key in ["malformed", "oversized"] {
        let (s, v, _) = api.post(p, Some(key), good.clone()).await;
        assert_eq!(s, 200, "{key}: {v}");
    }
    let (s, _, _) = api.post(p, Some("invalid"), json!({"data": []})).await;
    assert_eq!(s, 400);
    let (s, _, _) = api
        .post(
            "/openapi/v1/tasks/delete",
            Some("unknown"),
            json!({"taskId": "task_nope"}),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _, _) = api.post(p, Some("invalid"), good).await;
    assert_eq!(s, 409);
    let (s, _, _) = api
        .post(
            "/openapi/v1/tasks/delete",
            Some("unknown"),
            json!({"taskId": "task_nope"}),
        )
        .await;
    assert_eq!(s, 409);
}

#[tokio::test]
async fn vmeg_idempotency_conflict() {
    let sim = Simulator::start_with(common::keyed(fast())).await.unwrap();
    let api = Api::new(&sim);
    let p = "/openapi/v1/task/clone-voice/create-async";
    let (s, _, _) = api.post(p, Some("same"), clone_body()).await;
    assert_eq!(s, 200);
    let mut other = clone_body();
    other["voiceName"] = json!("Different");
    for body in [clone_body(), other] {
        let (s, v, h) = api.post(p, Some("same"), body).await;
        assert_eq!(s, 409);
        assert_eq!(v["code"], 409);
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("Idempotency key already used")
        );
        assert_eq!(h.get("retry-after").unwrap(), "2");
    }
    // same key on another path is fine
    let (s, _, _) = api
        .post(
            "/openapi/v1/task/tts/create-async",
            Some("same"),
            json!({"data": [{"text": "x", "voiceId": "sv_en_us_male_01"}]}),
        )
        .await;
    assert_eq!(s, 200);
    // missing, blank, too long
    let (s, v, _) = api.post(p, None, clone_body()).await;
    assert_eq!((s, v["code"].as_i64()), (400, Some(400)));
    let (s, _, _) = api.post(p, Some("   "), clone_body()).await;
    assert_eq!(s, 400);
    let (s, _, _) = api.post(p, Some(&"k".repeat(65)), clone_body()).await;
    assert_eq!(s, 400);
    let (s, _, _) = api.post(p, Some(&"k".repeat(64)), clone_body()).await;
    assert_eq!(s, 200);
    // list POSTs need no key
    let (s, _, _) = api
        .post("/openapi/v1/assets/voice/clone/list", None, json!({}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(sim.stats().billable("vmeg.cloneVoiceCreateAsync"), 2);
    // the key expires after the TTL
    sim.advance_clock(Duration::from_secs(24 * 3600 + 1));
    let (s, _, _) = api.post(p, Some("same"), clone_body()).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn auth_failures_on_both_apis() {
    let sim = Simulator::start_with(common::keyed(fast())).await.unwrap();
    let http = client();
    let base = sim.base_url();
    let r = http
        .get(format!("{base}/openapi/v1/tasks/list"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"code": 401, "message": "Invalid or missing API Key", "data": null})
    );
    let r = http
        .get(format!("{base}/openapi/v1/tasks/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(format!("{base}/api/open-api/v1/soundCloning/clones"))
        .bearer_auth("wrong")
        .json(&json!({"fileUrl": "https://x.y/a.wav"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], 20001);
    assert_eq!(sim.stats().billable_total(), 0);
}

#[tokio::test]
async fn vmeg_validation_errors() {
    let sim = Simulator::start_with(common::keyed(fast())).await.unwrap();
    let api = Api::new(&sim);
    let clone = "/openapi/v1/task/clone-voice/create-async";
    let tts = "/openapi/v1/task/tts/create-async";
    let line = |extra: Value| {
        let mut l = json!({"text": "hi", "voiceId": "sv_en_us_male_01"});
        for (k, v) in extra.as_object().unwrap() {
            l[k] = v.clone();
        }
        l
    };
    let cases: Vec<(&str, Value)> = vec![
        (clone, json!({"refAudio": "http://insecure/a.wav"})),
        (
            clone,
            json!({"refAudio": "https://x.y/a.wav", "provider": "V9"}),
        ),
        (clone, json!({"voiceName": "no audio"})),
        (
            clone,
            json!({"refAudio": "https://x.y/a.wav", "extraData": "not-an-object"}),
        ),
        (tts, json!({})),
        (tts, json!({"data": []})),
        (tts, json!({"data": vec![line(json!({})); 51]})),
        (tts, json!({"data": [{"text": "hi"}]})),
        (tts, json!({"data": [{"voiceId": "sv_en_us_male_01"}]})),
        (tts, json!({"data": [line(json!({"voiceId": "cv_nope"}))]})),
        (tts, json!({"data": [line(json!({"emoWeight": 1.5}))]})),
        (
            tts,
            json!({"data": [line(json!({}))], "outputFormat": "ogg"}),
        ),
        (
            tts,
            json!({"data": [line(json!({"timbreRefAudio": "https://x.y/t.wav"}))]}),
        ),
        (
            tts,
            json!({"data": [line(json!({})), line(json!({"voiceId": "sv_zh_cn_female_01"}))]}),
        ),
    ];
    for (i, (path, body)) in cases.into_iter().enumerate() {
        let (s, v, _) = api
            .post(path, Some("reused-after-rejection"), body.clone())
            .await;
        assert_eq!(
            (s, v["code"].as_i64()),
            (400, Some(400)),
            "case {i}: {body} -> {v}"
        );
        assert!(v["data"].is_null());
    }
    // malformed JSON
    let r = api
        .http
        .post(format!("{}{clone}", api.base))
        .bearer_auth(&api.key)
        .header("X-Idempotency-Key", "m")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // rejections did not consume the key
    let (s, _, _) = api
        .post(clone, Some("reused-after-rejection"), clone_body())
        .await;
    assert_eq!(s, 200);
    // business errors with HTTP 200 when configured
    let sim2 = Simulator::start_with(common::keyed(
        fast().with_vmeg_business_errors_http_200(true),
    ))
    .await
    .unwrap();
    let api2 = Api::new(&sim2);
    let (s, v, _) = api2
        .post(clone, Some("x"), json!({"refAudio": "ftp://x"}))
        .await;
    assert_eq!((s, v["code"].as_i64()), (200, Some(400)));
    // too large -> 413
    let big = "a".repeat(2 * 1024 * 1024);
    let (s, v, _) = api
        .post(
            clone,
            Some("big"),
            json!({"refAudio": "https://x.y/a.wav", "sampleText": big}),
        )
        .await;
    assert_eq!((s, v["code"].as_i64()), (413, Some(413)));
    assert_eq!(sim.stats().billable_total(), 1);
}

/// A loopback webhook receiver: answers 500 to the first `fail_first`
/// requests, then 200. Records (headers, body) of every request.
type Seen = Arc<Mutex<Vec<(Vec<(String, String)>, Vec<u8>)>>>;

/// A webhook receiver on a path of this test's own: it records (and answers 500 the first
/// `fail_first` of) the requests there whose signature verifies with `secret`; anything
/// else (a stray request from another test's client, its port reused) gets 404 and is not
/// recorded.
async fn receiver(fail_first: usize, secret: &str) -> (String, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let path = format!("/{}/hook", common::token());
    let url = format!("http://{}{path}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let seen2 = seen.clone();
    let secret = secret.to_owned();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let Some((at, headers, body)) = common::read_request(&mut sock).await else {
                continue;
            };
            let status = if at != path || !common::signed(&secret, &headers, &body) {
                "404 Not Found"
            } else {
                let n = {
                    let mut s = seen2.lock().unwrap();
                    s.push((headers, body));
                    s.len()
                };
                if n <= fail_first {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                }
            };
            let resp =
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    (url, seen)
}

#[tokio::test]
async fn webhook_is_signed_and_redelivered_until_2xx() {
    let secret = "whsec_test_secret";
    let (url, seen) = receiver(2, secret).await;
    let cfg = fast()
        .with_webhook(url, secret)
        .with_webhook_retry_delays(vec![Duration::from_millis(500); 3]); // 10 ms at speed 50
    let sim = Simulator::start_with(common::keyed(cfg)).await.unwrap();
    let api = Api::new(&sim);
    let (s, v, _) = api
        .post("/openapi/v1/task/clone-voice/create-async", Some("wh"), {
            let mut b = clone_body();
            b["extraData"] = json!({"jobId": 42});
            b
        })
        .await;
    assert_eq!(s, 200);
    let task = v["data"]["taskId"].as_str().unwrap().to_string();
    let deliveries = sim.wait_for_deliveries(3, Duration::from_secs(5)).await;
    assert_eq!(deliveries.len(), 3, "{deliveries:?}");
    assert_eq!(deliveries[0].status, Some(500));
    assert_eq!(deliveries[1].status, Some(500));
    assert!(deliveries[2].succeeded());
    assert!(
        deliveries
            .iter()
            .all(|d| d.pipeline_key == deliveries[0].pipeline_key)
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "no more attempts after a 2xx");
    for (headers, body) in &seen {
        let h = |k: &str| {
            headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let ts = h("x-timestamp");
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        assert!(now_ms.abs_diff(ts.parse::<u128>().unwrap()) < 300_000);
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(ts.as_bytes());
        mac.update(body);
        assert_eq!(h("x-signature"), hex::encode(mac.finalize().into_bytes()));
        let v: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["code"], 200);
        assert_eq!(v["version"], "v1");
        assert_eq!(v["event"], "openapi-clone-voice");
        assert_eq!(v["extraData"], json!({"jobId": 42}));
        assert_eq!(v["data"]["taskId"], task.as_str());
        assert!(v["data"]["voiceId"].as_str().unwrap().starts_with("cv_"));
        let pk = v["pipelineKey"].as_str().unwrap();
        assert_eq!(pk.len(), 32);
        assert!(
            pk.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
    assert_eq!(sim.stats().webhook_attempts, 3);
}

async fn status_sequence(seed: u64) -> Vec<u16> {
    let faults = FaultConfig::parse_many(["500=0.2", "429=0.2:3s", "business=0.1"]).unwrap();
    let sim = Simulator::start_with(common::keyed(fast().with_seed(seed).with_faults(faults)))
        .await
        .unwrap();
    let api = Api::new(&sim);
    let mut out = Vec::new();
    for _ in 0..40 {
        let r = api
            .http
            .get(format!("{}/openapi/v1/tasks/list", api.base))
            .bearer_auth(&api.key)
            .send()
            .await
            .unwrap();
        let s = r.status().as_u16();
        if s == 429 {
            assert_eq!(r.headers().get("retry-after").unwrap(), "3");
        }
        let v: Value = r.json().await.unwrap();
        // business errors: HTTP 200 with code 500
        out.push(if s == 200 {
            v["code"].as_u64().unwrap() as u16 + 1000
        } else {
            s
        });
    }
    let st = sim.stats();
    assert_eq!(st.requests("vmeg.tasksList"), 40);
    let faults: u64 = st.faults_by_kind.values().sum();
    assert_eq!(faults, out.iter().filter(|s| **s != 1200).count() as u64);
    out
}

#[tokio::test]
async fn faults_are_deterministic_per_seed() {
    let a = status_sequence(7).await;
    let b = status_sequence(7).await;
    let c = status_sequence(8).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.contains(&500) && a.contains(&429) && a.contains(&1200));
}

#[tokio::test]
async fn injected_errors_before_processing_create_nothing() {
    let faults: FaultConfig = "503=1".parse().unwrap();
    let sim = Simulator::start_with(common::keyed(fast().with_faults(faults)))
        .await
        .unwrap();
    let api = Api::new(&sim);
    let (s, v, _) = api
        .post(
            "/openapi/v1/task/clone-voice/create-async",
            Some("f"),
            clone_body(),
        )
        .await;
    assert_eq!((s, v["code"].as_i64()), (503, Some(503)));
    assert_eq!(sim.stats().billable_total(), 0);
    assert_eq!(sim.task_count(), 0);
}

#[tokio::test]
async fn dropped_connections_before_and_after_processing() {
    let before = Simulator::start_with(common::keyed(
        fast().with_faults("drop-before=1".parse().unwrap()),
    ))
    .await
    .unwrap();
    let api = Api::new(&before);
    let r = api
        .http
        .post(format!(
            "{}/openapi/v1/task/clone-voice/create-async",
            api.base
        ))
        .bearer_auth(&api.key)
        .header("X-Idempotency-Key", "d")
        .json(&clone_body())
        .send()
        .await;
    assert!(r.is_err(), "expected a broken connection, got {r:?}");
    assert_eq!(before.stats().billable_total(), 0);

    let after = Simulator::start_with(common::keyed(
        fast().with_faults("drop-after=1".parse().unwrap()),
    ))
    .await
    .unwrap();
    let api = Api::new(&after);
    let r = api
        .http
        .post(format!("{}/api/open-api/v1/soundCloning/clones", api.base))
        .bearer_auth(&api.key)
        .json(&json!({"fileUrl": "https://x.y/a.wav", "contentText": "hi"}))
        .send()
        .await;
    assert!(r.is_err(), "expected a broken connection, got {r:?}");
    let st = after.stats();
    assert_eq!(st.billable("jimmyai.createClone"), 1);
    assert_eq!(st.faults_by_kind.get("drop-after"), Some(&1));
    assert_eq!(after.task_count(), 1);
}

/// A JimmyAI clone create's HTTP status.
async fn jimmy_clone_status(api: &Api) -> u16 {
    jimmy_clone(api).await.0
}

async fn jimmy_clone(api: &Api) -> (u16, Value) {
    let resp = api
        .http
        .post(format!("{}/api/open-api/v1/soundCloning/clones", api.base))
        .bearer_auth(&api.key)
        .json(&json!({"fileUrl": "https://x.y/a.wav", "contentText": "hi"}))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// The task id the simulator recorded for `op`'s only billable create, as JSON.
fn only_task(sim: &SimHandle, op: &str) -> Value {
    let made: Vec<_> = sim
        .stats()
        .creates
        .into_iter()
        .filter(|c| c.operation == op)
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    Value::from(made[0].task_id.clone())
}

/// `500=RATE:after`: the request is processed (the task made and billed, VMEG's key used),
/// then answered with a 500 naming the task it made: what a client must read as an unknown
/// outcome, keeping the id. Plain `500` comes before processing and makes nothing.
#[tokio::test]
async fn a_500_after_processing_makes_the_task_and_uses_the_key() {
    for (spec, made) in [("500=1", 0u64), ("500=1:after", 1)] {
        let sim = Simulator::start_with(common::keyed(fast().with_faults(spec.parse().unwrap())))
            .await
            .unwrap();
        let api = Api::new(&sim);
        let (status, body) = jimmy_clone(&api).await;
        assert_eq!(status, 500, "{spec}");
        assert_eq!(sim.stats().billable("jimmyai.createClone"), made, "{spec}");
        assert_eq!(sim.stats().faults_by_kind.get("500"), Some(&1), "{spec}");
        // The failure after processing names the task it made (data.id); before, none.
        let named = match made {
            0 => Value::Null,
            _ => json!({"id": only_task(&sim, "jimmyai.createClone")}),
        };
        assert_eq!(body["data"], named, "{spec}: {body}");
        // VMEG the same: the task is made before the 500 only with `:after`.
        let post = || {
            api.http
                .post(format!(
                    "{}/openapi/v1/task/clone-voice/create-async",
                    api.base
                ))
                .bearer_auth(&api.key)
                .header("X-Idempotency-Key", "k-500")
                .json(&clone_body())
                .send()
        };
        let resp = post().await.unwrap();
        assert_eq!(resp.status().as_u16(), 500, "{spec}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            sim.stats().billable("vmeg.cloneVoiceCreateAsync"),
            made,
            "{spec}"
        );
        // A VMEG failure's `data` is null (api-facts A3); the task made is named in the
        // message, as the sync 502 names it. Before, `data` was `{"taskId": ...}`.
        assert_eq!(body["data"], Value::Null, "{spec}: {body}");
        assert_eq!(body["code"], 500, "{spec}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.starts_with("Internal server error"), "{body}");
        match made {
            0 => assert!(!message.contains("task_"), "{spec}: {body}"),
            _ => {
                let id = only_task(&sim, "vmeg.cloneVoiceCreateAsync");
                assert!(message.contains(id.as_str().unwrap()), "{spec}: {body}");
            }
        }
    }
    // Scripted: `500:after` makes the task whatever the random faults say; a plain scripted
    // 500 makes none, even when the random 500s come after processing.
    for (config, fault, made) in [
        ("latency=0", "500:after", 1u64),
        ("500=0.0001:after", "500", 0),
    ] {
        let sim = Simulator::start_with(common::keyed(fast().with_faults(config.parse().unwrap())))
            .await
            .unwrap();
        let fault: voiceclone_sim::Fault = fault.parse().unwrap();
        sim.fail_next("jimmyai.createClone", fault, 1).unwrap();
        let api = Api::new(&sim);
        assert_eq!(jimmy_clone_status(&api).await, 500, "{fault}");
        assert_eq!(
            sim.stats().billable("jimmyai.createClone"),
            made,
            "{config} {fault}"
        );
    }
    // A VMEG synchronous create whose task fails answers a 502 with `data: null`: the
    // 500 injected after it still names the task made (review 24-c #3; before, it named
    // none, though the task was made and billed).
    let sim = Simulator::start_with(common::keyed(fast().with_task_failure_rate(1.0)))
        .await
        .unwrap();
    sim.fail_next(
        "vmeg.cloneVoiceCreate",
        voiceclone_sim::Fault::http500_after(),
        1,
    )
    .unwrap();
    let api = Api::new(&sim);
    let resp = api
        .http
        .post(format!("{}/openapi/v1/task/clone-voice/create", api.base))
        .bearer_auth(&api.key)
        .header("X-Idempotency-Key", "k-500-sync")
        .json(&clone_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 500);
    let body: Value = resp.json().await.unwrap();
    let id = only_task(&sim, "vmeg.cloneVoiceCreate");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(id.as_str().unwrap()), "{body}");
    assert_eq!(
        voiceclone_sim::Fault::http500_after().to_string(),
        "500:after"
    );
    assert!("500=1:before".parse::<FaultConfig>().is_err());
    let c: FaultConfig = "all=0.2,500=0.02:after".parse().unwrap();
    assert!(c.http500_after && (c.rate_502 - 0.02).abs() < 1e-12);
    // Later specs override earlier ones: `all` after it puts the 500s back before.
    let c: FaultConfig = "500=0.02:after,all=0.2".parse().unwrap();
    assert!(!c.http500_after);
}

async fn jimmy_post(api: &Api, path: &str, body: Value) -> Value {
    api.post(&format!("/api/open-api/v1/{path}"), None, body)
        .await
        .1
}

async fn jimmy_wait(api: &Api, id: &str) -> Value {
    let deadline = poll_deadline();
    while std::time::Instant::now() < deadline {
        let (_, v) = api.get(&format!("/api/open-api/v1/audios/{id}")).await;
        if v["data"]["status"] == "completed" || v["data"]["status"] == "failed" {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("jimmy task {id} never finished");
}

#[tokio::test]
async fn jimmyai_clone_audio_and_model_expiry() {
    let sim = Simulator::start_with(common::keyed(fast())).await.unwrap();
    let api = Api::new(&sim);
    let v = jimmy_post(&api, "soundCloning/clones", json!({"fileUrl": "https://x.y/a.mp3", "contentText": "hi <#0.5#> there", "soundVersion": "v2"})).await;
    assert_eq!(v["code"], 20000, "{v}");
    assert_eq!(v["msg"], "ok");
    let id = v["data"]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("audio_"));
    assert_eq!(v["data"]["status"], "queued");
    assert_eq!(v["data"]["model"], "soundCloningClone");
    assert!(v["data"]["error"].is_null());
    let done = jimmy_wait(&api, &id).await;
    assert_eq!(done["data"]["status"], "completed");
    let model = done["data"]["modelId"].as_str().unwrap().to_string();
    assert!(done["data"]["audioUrl"].as_str().is_some());
    // activate it
    let v = jimmy_post(&api, "soundCloning/audios", json!({"modelId": model, "contentText": "Hello", "subtitleEnable": true, "subtitleType": "word", "pitch": -3, "vol": 10, "speed": 0.5, "emotion": "happy"})).await;
    assert_eq!(v["code"], 20000, "{v}");
    let audio = jimmy_wait(&api, v["data"]["id"].as_str().unwrap()).await;
    assert_eq!(audio["data"]["model"], "soundCloningAudio");
    assert!(audio["data"]["subtitleFile"].as_str().is_some());
    // a second preview that is never activated
    let v = jimmy_post(
        &api,
        "soundCloning/clones",
        json!({"fileUrl": "https://x.y/b.wav"}),
    )
    .await;
    let second = jimmy_wait(&api, v["data"]["id"].as_str().unwrap()).await;
    let model2 = second["data"]["modelId"].as_str().unwrap().to_string();
    sim.advance_clock(Duration::from_secs(3 * 24 * 3600 + 60));
    let v = jimmy_post(
        &api,
        "soundCloning/audios",
        json!({"modelId": model2, "contentText": "late"}),
    )
    .await;
    assert_eq!(v["code"], 20002, "{v}");
    assert!(v["msg"].as_str().unwrap().contains("expired"));
    let v = jimmy_post(
        &api,
        "soundCloning/audios",
        json!({"modelId": model, "contentText": "still fine"}),
    )
    .await;
    assert_eq!(v["code"], 20000, "activated model id stays valid: {v}");
    // no idempotency: the same logical call twice is billed twice
    let v2 = jimmy_post(
        &api,
        "soundCloning/audios",
        json!({"modelId": model, "contentText": "still fine"}),
    )
    .await;
    assert_eq!(v2["code"], 20000);
    let st = sim.stats();
    assert_eq!(st.billable("jimmyai.createAudio"), 3);
    assert_eq!(st.duplicate_logical_calls().len(), 1);
}

/// A production task activates its `modelId` when it completes (api-facts B5: the first
/// *successful* call), not when it is accepted: with the task still running when the
/// model's three days end, the model has expired. Before, acceptance activated it.
#[tokio::test]
async fn jimmyai_an_accepted_production_task_does_not_activate_its_model() {
    let sim = Simulator::start_with(common::keyed(SimConfig::default().with_durations(
        Duration::from_millis(20),
        Duration::from_secs(5 * 24 * 3600),
    )))
    .await
    .unwrap();
    let api = Api::new(&sim);
    let v = jimmy_post(
        &api,
        "soundCloning/clones",
        json!({"fileUrl": "https://x.y/a.mp3"}),
    )
    .await;
    let preview = jimmy_wait(&api, v["data"]["id"].as_str().unwrap()).await;
    let model = preview["data"]["modelId"].as_str().unwrap().to_string();
    let v = jimmy_post(
        &api,
        "soundCloning/audios",
        json!({"modelId": model, "contentText": "Hello"}),
    )
    .await;
    assert_eq!(v["code"], 20000, "{v}");
    let running = v["data"]["id"].as_str().unwrap().to_string();
    sim.advance_clock(Duration::from_secs(3 * 24 * 3600 + 60));
    let (_, v) = api.get(&format!("/api/open-api/v1/audios/{running}")).await;
    assert_eq!(v["data"]["status"], "processing", "{v}");
    let v = jimmy_post(
        &api,
        "soundCloning/audios",
        json!({"modelId": model, "contentText": "again"}),
    )
    .await;
    assert_eq!(v["code"], 20002, "{v}");
    assert!(v["msg"].as_str().unwrap().contains("expired"), "{v}");
}

#[tokio::test]
async fn jimmyai_validation_unknown_id_and_string_codes() {
    let sim = Simulator::start_with(common::keyed(fast())).await.unwrap();
    let api = Api::new(&sim);
    let bad = [
        ("soundCloning/clones", json!({})),
        (
            "soundCloning/clones",
            json!({"fileUrl": "https://x.y/a.txt"}),
        ),
        (
            "soundCloning/clones",
            json!({"fileUrl": "https://x.y/a.wav", "contentText": "x".repeat(271)}),
        ),
        (
            "soundCloning/clones",
            json!({"fileUrl": "https://x.y/a.wav", "soundVersion": "v3"}),
        ),
        ("soundCloning/audios", json!({"contentText": "hi"})),
        (
            "soundCloning/audios",
            json!({"modelId": "mdl_unknown", "contentText": "hi"}),
        ),
    ];
    for (path, body) in bad {
        let v = jimmy_post(&api, path, body.clone()).await;
        assert_eq!(v["code"], 20002, "{body} -> {v}");
        assert!(v["data"].is_null());
    }
    // a real model id, then bad production params
    let v = jimmy_post(
        &api,
        "soundCloning/clones",
        json!({"fileUrl": "https://x.y/a.wav"}),
    )
    .await;
    let model =
        jimmy_wait(&api, v["data"]["id"].as_str().unwrap()).await["data"]["modelId"].clone();
    for extra in [
        json!({"emotion": "bored"}),
        json!({"speed": 2.5}),
        json!({"vol": 0}),
        json!({"pitch": 1.5}),
        json!({"pitch": 13}),
        json!({"subtitleType": "sentence"}),
        json!({"contentText": "a <#0#> b"}),
        json!({"contentText": "a <#1.234#> b"}),
        json!({"contentText": "x".repeat(10_001)}),
    ] {
        let mut body = json!({"modelId": model, "contentText": "ok"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let v = jimmy_post(&api, "soundCloning/audios", body.clone()).await;
        assert_eq!(v["code"], 20002, "{body} -> {v}");
    }
    let (s, v) = api.get("/api/open-api/v1/audios/audio_nope").await;
    assert_eq!((s, v["code"].as_i64()), (200, Some(20002)));

    let sim2 = Simulator::start_with(common::keyed(fast().with_jimmy_code_as_string(true)))
        .await
        .unwrap();
    let api2 = Api::new(&sim2);
    let v = jimmy_post(
        &api2,
        "soundCloning/clones",
        json!({"fileUrl": "https://x.y/a.wav"}),
    )
    .await;
    assert_eq!(v["code"], "20000");
}

#[tokio::test]
async fn jimmyai_upload_multipart() {
    let sim = Simulator::start_with(common::keyed(fast())).await.unwrap();
    let api = Api::new(&sim);
    let boundary = "XsimBoundary123";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"voice.wav\"\r\nContent-Type: audio/wav\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(b"RIFF....WAVEfake");
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = api
        .http
        .post(format!("{}/api/open-api/v1/files/upload", api.base))
        .bearer_auth(&api.key)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], 20000, "{v}");
    assert_eq!(v["data"]["filename"], "voice.wav");
    assert_eq!(v["data"]["size"], 16);
    assert_eq!(v["data"]["mime_type"], "audio/wav");
    let url = v["data"]["url"].as_str().unwrap();
    let got = api
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&got[..], b"RIFF....WAVEfake");
    // the uploaded URL is accepted as fileUrl (http on loopback)
    let v = jimmy_post(&api, "soundCloning/clones", json!({"fileUrl": url})).await;
    assert_eq!(v["code"], 20000, "{v}");
    // not multipart
    let v = jimmy_post(&api, "files/upload", json!({})).await;
    assert_eq!(v["code"], 20002);
}

/// A JimmyAI clone from a WAV the simulator holds (its own upload) whose speech does not
/// last more than 15 s and less than 60 s (api-facts B4, CONFIRMED) fails, saying why,
/// with no `modelId`. Before: the simulator never looked at the audio, and the preview of
/// a 10 s recording (the documented upload-then-clone flow) completed with a `modelId`.
/// Accepted and then failed, not refused: which JimmyAI does is UNKNOWN.
#[tokio::test]
async fn jimmyai_a_clone_of_its_own_upload_too_short_or_too_long_fails() {
    let sim = Simulator::start_with(common::keyed(fast())).await.unwrap();
    let api = Api::new(&sim);
    for (seconds, ok) in [
        (10, false),
        (15, false),
        (16, true),
        (59, true),
        (60, false),
    ] {
        let url =
            common::jimmy_upload(&api.base, &api.key, "voice.wav", &common::wav(seconds)).await;
        let v = jimmy_post(&api, "soundCloning/clones", json!({"fileUrl": url})).await;
        assert_eq!(v["code"], 20000, "{seconds} s: accepted, billed: {v}");
        let done = jimmy_wait(&api, v["data"]["id"].as_str().unwrap()).await;
        if ok {
            assert_eq!(done["data"]["status"], "completed", "{seconds} s: {done}");
            assert!(done["data"]["modelId"].is_string(), "{done}");
        } else {
            assert_eq!(done["data"]["status"], "failed", "{seconds} s: {done}");
            assert!(done["data"]["modelId"].is_null(), "{done}");
            let why = done["data"]["error"].as_str().unwrap();
            assert!(
                why.contains("more than 15 s and less than 60 s") && why.contains("(simulated)"),
                "{why}"
            );
        }
    }
    assert_eq!(sim.billable("jimmyai.createClone"), 5);
}

#[tokio::test]
async fn counters_connections_and_response_faults() {
    let faults = FaultConfig::parse_many(["extra-fields=1", "unknown-status=1"]).unwrap();
    let sim = Simulator::start_with(common::keyed(fast().with_faults(faults)))
        .await
        .unwrap();
    let api = Api::new(&sim);
    let (s, v, _) = api
        .post(
            "/openapi/v1/task/tts/create-async",
            Some("a"),
            json!({"data": [{"text": "x", "voiceId": "sv_en_us_male_01"}], "extraData": {"n": 1}}),
        )
        .await;
    assert_eq!(s, 200);
    assert!(v.get("simUnknownField").is_some());
    assert!(v["data"].get("simUnknownField").is_some());
    let task = v["data"]["taskId"].as_str().unwrap();
    let (_, d) = api
        .get(&format!("/openapi/v1/tasks/detail?taskId={task}"))
        .await;
    assert_eq!(d["data"]["status"], "warming_up");
    sim.complete_all_now();
    let (s, _, _) = api
        .post(
            "/openapi/v1/task/tts/create-async",
            Some("b"),
            json!({"data": [{"text": "x", "voiceId": "sv_en_us_male_01"}], "extraData": {"n": 1}}),
        )
        .await;
    assert_eq!(s, 200);
    let st = sim.stats();
    // A stray request (another test's client, its port reused) is refused for its key
    // and answered 401 on a connection of its own: the counts it can add to may exceed
    // this test's by at most that many.
    let strays = common::strays(&st);
    let about = |got: u64, want: u64, what: &str| {
        assert!(
            (want..=want + strays).contains(&got),
            "{what}: {got}, {want} expected ({strays} stray requests)"
        )
    };
    about(st.connections_accepted, 1, "one keep-alive connection");
    about(st.requests("vmeg.ttsCreateAsync"), 2, "creates");
    about(st.requests("vmeg.tasksDetail"), 1, "polls");
    assert_eq!(st.responses_by_status.get(&200), Some(&3));
    let faults = |kind: &str| st.faults_by_kind.get(kind).copied().unwrap_or(0);
    about(faults("extra-fields"), 3, "extra-fields");
    assert_eq!(faults("unknown-status"), 1);
    assert_eq!(st.billable("vmeg.ttsCreateAsync"), 2);
    assert_eq!(st.creates[0].idempotency_key.as_deref(), Some("a"));
    // the same request under two keys: one logical call billed twice (by its body; a
    // constant `extraData` alone names no call)
    assert_eq!(st.duplicate_logical_calls().len(), 1);
    // Dropping the handle stops the server, including kept-alive connections: one that
    // has been answered reads its end...
    let addr = sim.addr();
    let mut kept = tokio::net::TcpStream::connect(addr).await.unwrap();
    kept.write_all(
        format!(
            "GET /openapi/v1/tasks/list HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\r\n",
            sim.api_key()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(10), async {
        while !String::from_utf8_lossy(&answer).contains("\r\n\r\n") {
            let n = kept.read(&mut buf).await.unwrap();
            assert!(n > 0, "the connection closed unanswered");
            answer.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .expect("the kept-alive request was answered within 10 s");
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
    drop(sim);
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match kept.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {} // the rest of the answer's body
            }
        }
    })
    .await;
    assert!(
        end.is_ok(),
        "a kept-alive connection stayed open after drop"
    );
    // ...and nothing listens on the port any more: a socket of this test binds to it
    // (it could not next to a listener) and keeps it, so that no other test's server
    // gets it while the old address is tried.
    let held = tokio::net::TcpSocket::new_v4().unwrap();
    held.set_reuseaddr(true).unwrap();
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while let Err(e) = held.bind(addr) {
        assert!(
            std::time::Instant::now() < until,
            "the port is still taken after drop: {e}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let r = api
        .http
        .get(format!("http://{addr}/openapi/v1/tasks/list"))
        .send()
        .await;
    assert!(r.is_err(), "server still answering after drop: {r:?}");
    drop(held);
}

#[tokio::test]
async fn task_failure_rate_fails_tasks() {
    let sim = Simulator::start_with(common::keyed(fast().with_task_failure_rate(1.0)))
        .await
        .unwrap();
    let api = Api::new(&sim);
    let (s, v, _) = api
        .post(
            "/openapi/v1/task/clone-voice/create",
            Some("f"),
            clone_body(),
        )
        .await;
    assert_eq!((s, v["code"].as_i64()), (502, Some(502)), "{v}");
    let (_, l) = api.get("/openapi/v1/tasks/list?status=failed").await;
    assert_eq!(l["data"]["total"], 1);
    let (_, l, _) = api
        .post("/openapi/v1/assets/voice/clone/list", None, json!({}))
        .await;
    assert_eq!(l["data"]["total"], 0, "a failed clone adds no voice");
    let v = jimmy_post(
        &api,
        "soundCloning/clones",
        json!({"fileUrl": "https://x.y/a.wav"}),
    )
    .await;
    let done = jimmy_wait(&api, v["data"]["id"].as_str().unwrap()).await;
    assert_eq!(done["data"]["status"], "failed");
    assert!(done["data"]["error"].as_str().is_some());
    assert!(done["data"].get("modelId").is_none());
}
