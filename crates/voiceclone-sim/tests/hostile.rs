//! A hostile or careless client against the real simulator over loopback: each test
//! here failed before the fix it names (RELIABILITY.md, "The simulator under abuse").
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::{client, get};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use voiceclone_sim::{FaultKind, SimConfig, SimHandle, Simulator};

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

/// [`common::vmeg_post`], which must be answered.
async fn vmeg_post(sim: &SimHandle, path: &str, key: &str, body: Value) -> (u16, Value) {
    let (status, v, _) = common::vmeg_post(sim, path, key, body)
        .await
        .expect("answered");
    (status, v)
}

/// The clock pushed to its end (`advance_clock(Duration::MAX)`, documented as fine): a
/// task created there has a due time that saturates. Before the fix its phase was read
/// from `now - created >= total` (never true once `now` saturates) while its timer waited
/// for the saturated due time (already reached): a sync create looped without sleeping,
/// hanging a current-thread runtime for ever, and the task was never settled.
#[test]
fn tasks_created_at_the_end_of_the_clock_finish_and_nothing_spins() {
    within(Duration::from_secs(30), || async {
        let sim = Simulator::start_with(common::keyed(SimConfig::default().with_speed(1000.0)))
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
        let r = get(&sim, &format!("/openapi/v1/tasks/detail?taskId={id}"))
            .await
            .1;
        assert_eq!(r["data"]["status"], "finished", "{r}");
        sim.shutdown().await;
    });
}

const INITIATE: &str = "/openapi/v1/assets/material/upload/multipart/initiate";
const PRESIGN: &str = "/openapi/v1/assets/material/upload/multipart/presign-parts";

/// A client that presigns again and again (a retry loop under fresh keys, a list that
/// repeats part numbers). Before: every entry of every call made a new presigned URL,
/// kept until the upload ended: 50,000 entries gave 50,000 URLs, and repeated calls grew
/// the grant table without bound. Now one URL per distinct part per call, and an upload
/// keeps its latest 20,000 URLs (every part twice): older ones answer 403 as expired ones
/// do, the latest still work.
#[tokio::test]
async fn presigning_again_and_again_keeps_a_bounded_number_of_urls() {
    let sim = Simulator::start_with(common::keyed(SimConfig::default()))
        .await
        .unwrap();
    let hash = "d41d8cd98f00b204e9800998ecf8427e";
    let (st, v) = vmeg_post(
        &sim,
        INITIATE,
        "init",
        json!({"fileHash": hash, "fileName": "long.wav"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let ids = json!({
        "materialId": v["data"]["materialId"],
        "uploadId": v["data"]["uploadId"],
    });
    let presign = |key: &'static str, numbers: Vec<u32>| {
        let mut body = ids.clone();
        body["partNumbers"] = json!(numbers);
        let sim = &sim;
        async move {
            let (st, v) = vmeg_post(sim, PRESIGN, key, body).await;
            assert_eq!(st, 200, "{v}");
            v["data"]["urls"].as_array().unwrap().clone()
        }
    };
    let first = presign("p0", vec![1]).await;
    let first_url = first[0]["url"].as_str().unwrap().to_string();
    // Every part five times over in one call: one URL per part.
    let all: Vec<u32> = (1..=10_000).collect();
    let repeated: Vec<u32> = all.iter().cycle().take(50_000).copied().collect();
    let urls = presign("p1", repeated).await;
    assert_eq!(urls.len(), 10_000);
    let last = presign("p2", all.clone()).await;
    // 1 + 10,000 + 10,000 URLs handed out so far: the first one is past the bound now.
    let put = |url: String| async move {
        client()
            .put(url)
            .body(vec![0u8; 16])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(put(first_url).await, 403, "the oldest URL is dropped");
    assert_eq!(put(last[0]["url"].as_str().unwrap().to_string()).await, 200);
    sim.shutdown().await;
}

/// `req_id` is recorded for every VMEG request that carries one ([`Stats::request_ids`],
/// the latest `max_records`, 100,000 by default). A request line may hold 64 KiB of it (10,000 `é` here, 60 KB encoded):
/// before, each was kept whole (6 GiB at the default bound); now the first 256 bytes,
/// marked `…`, and a short one is kept as sent.
///
/// [`Stats::request_ids`]: voiceclone_sim::Stats::request_ids
#[tokio::test]
async fn a_huge_req_id_is_recorded_cut() {
    let sim = Simulator::start_with(common::keyed(SimConfig::default()))
        .await
        .unwrap();
    let http = client();
    let long = "é".repeat(10_000);
    for id in [long.as_str(), "short-id"] {
        let r = http
            .get(format!("{}/openapi/v1/tasks/list", sim.base_url()))
            .query(&[("req_id", id)])
            .bearer_auth(sim.api_key())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let ids = sim.stats().request_ids;
    assert_eq!(ids.len(), 2);
    let (op, kept) = &ids[0];
    assert_eq!(op, "vmeg.tasksList");
    assert!(
        kept.len() <= 256 + '…'.len_utf8(),
        "kept {} bytes",
        kept.len()
    );
    assert!(kept.starts_with("éé") && kept.ends_with('…'), "{kept}");
    assert_eq!(ids[1].1, "short-id");
    sim.shutdown().await;
}

/// A loopback listener answering every request with `answer`; counts the requests whose
/// path starts with `/{token}/` and, when `secret` is given, whose webhook signature
/// verifies with it: a stray request from another test's client (its port reused) is
/// answered but not counted.
async fn canned_server(
    answer: String,
    token: &str,
    secret: Option<&str>,
) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let count = hits.clone();
    let prefix = format!("/{token}/");
    let secret = secret.map(str::to_owned);
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (answer, count, prefix, secret) = (
                answer.clone(),
                count.clone(),
                prefix.clone(),
                secret.clone(),
            );
            tokio::spawn(async move {
                if let Some((path, headers, body)) = common::read_request(&mut s).await
                    && path.starts_with(&prefix)
                    && secret
                        .as_deref()
                        .is_none_or(|k| common::signed(k, &headers, &body))
                {
                    count.fetch_add(1, Ordering::SeqCst);
                }
                let _ = s.write_all(answer.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    (addr, hits)
}

/// A webhook receiver that answers with a redirect. Before: the simulator followed it,
/// POSTing the signed body to wherever `Location` pointed (here another loopback server;
/// it could be anywhere) and recording that server's 200 as a delivered webhook. Now the
/// 3xx is the receiver's answer: a failed attempt, and nothing reaches the other server.
#[tokio::test]
async fn a_webhook_redirect_is_not_followed() {
    let (token, secret) = (common::token(), common::token());
    let ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string();
    // Any request on the redirect's path counts, signed or not.
    let (elsewhere, elsewhere_hits) = canned_server(ok, &token, None).await;
    let redirect = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://{elsewhere}/{token}/stolen\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    let (receiver, receiver_hits) = canned_server(redirect, &token, Some(&secret)).await;
    let sim = Simulator::start_with(common::keyed(
        SimConfig::default()
            .with_speed(1000.0)
            .with_webhook(format!("http://{receiver}/{token}/hook"), secret.as_str())
            .with_webhook_retry_delays(Vec::new()),
    ))
    .await
    .unwrap();
    let (st, v) = vmeg_post(
        &sim,
        "/openapi/v1/task/tts/create-async",
        "redirected",
        json!({"data": [{"text": "hi", "voiceId": "sv_en_us_female_01"}]}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    sim.complete_all_now();
    let d = sim.wait_for_deliveries(1, Duration::from_secs(10)).await;
    assert_eq!(d.len(), 1, "one attempt, no retries configured");
    assert_eq!(d[0].status, Some(307), "{:?}", d[0].error);
    assert!(!d[0].succeeded());
    assert_eq!(receiver_hits.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        elsewhere_hits.load(Ordering::SeqCst),
        0,
        "the redirect was followed"
    );
    sim.shutdown().await;
}

/// `clone/list` filtered by `voiceIds`: a 1 MiB body holds a quarter of a million ids,
/// and the filter ran under the state lock. Before, each voice was looked up in the list
/// by a linear scan: with 3,000 voices, 750 million comparisons (some 3.5 s in a debug
/// build, every other client's request waiting; at the default `max_voices` of 100,000,
/// minutes). Now the ids are a set, and the filtered list costs about what reading the
/// body costs. That cost, measured here on the same simulator (the same body with a
/// `voiceId` that matches nothing, so that no voice reaches the id filter), is the
/// baseline: a bound relative to it holds however slow a loaded machine makes both, and
/// the best of three runs of each leaves out a stall that hits one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_voice_id_filter_does_not_hold_the_simulator() {
    let sim = Simulator::start_with(common::keyed(SimConfig::default().with_speed(1000.0)))
        .await
        .unwrap();
    let http = client();
    let mut last = String::new();
    for i in 0..3_000 {
        let v: Value = http
            .post(format!(
                "{}/openapi/v1/task/clone-voice/create-async",
                sim.base_url()
            ))
            .bearer_auth(sim.api_key())
            .header("X-Idempotency-Key", format!("voice-{i}"))
            .json(&json!({"refAudio": "https://example.com/a.wav"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        last = v["data"]["taskId"].as_str().unwrap().to_string();
    }
    sim.complete_all_now();
    // The last clone's voice id, to see that the filter still finds it.
    let detail = get(&sim, &format!("/openapi/v1/tasks/detail?taskId={last}"))
        .await
        .1;
    let voice = detail["data"]["result"]["voiceId"]
        .as_str()
        .unwrap()
        .to_string();
    let mut ids = vec!["a".to_string(); 250_000];
    ids.push(voice.clone());
    let filtered = serde_json::to_vec(&json!({"voiceIds": ids})).unwrap();
    let baseline = serde_json::to_vec(&json!({"voiceIdsUnused": ids})).unwrap();
    assert!(filtered.len() < 1024 * 1024 && baseline.len() < 1024 * 1024);
    let list = |body: Vec<u8>| {
        let request = http
            .post(format!(
                "{}/openapi/v1/assets/voice/clone/list",
                sim.base_url()
            ))
            .bearer_auth(sim.api_key())
            .header("content-type", "application/json")
            .body(body);
        async move {
            let started = std::time::Instant::now();
            let r = request.send().await.unwrap();
            let v: Value = r.json().await.unwrap();
            (started.elapsed(), v)
        }
    };
    let (mut best, mut best_baseline) = (Duration::MAX, Duration::MAX);
    for _ in 0..3 {
        let (took, v) = list(baseline.clone()).await;
        // The same bytes under a key the simulator ignores: parsed alike, no voice reaches
        // the id filter, whatever order the filters run in.
        assert!(v["data"]["total"].as_u64() > Some(1), "{v}");
        best_baseline = best_baseline.min(took);
        let (took, v) = list(filtered.clone()).await;
        assert_eq!(v["data"]["total"], 1, "{v}");
        assert_eq!(v["data"]["records"][0]["voiceId"], voice.as_str());
        best = best.min(took);
    }
    // Fixed, the two are about equal (3,000 set lookups more); the linear scan adds
    // seconds to every run of the filtered list.
    assert!(
        best < best_baseline * 2 + Duration::from_millis(500),
        "the filtered list took {best:?} at best, the same ids under an ignored key \
         {best_baseline:?}"
    );
    sim.shutdown().await;
}

/// `tasks/list` paging at any size and offset: newest first, pages in order, the total
/// of every match whatever the page, a page past the end (even at `i64::MAX`, where the
/// offset overflows) empty, and zero, negative or out-of-range sizes refused with 400.
#[tokio::test]
async fn tasks_list_pages_at_any_size_and_offset() {
    let sim = Simulator::start_with(common::keyed(
        SimConfig::default().with_durations(Duration::from_secs(3600), Duration::from_secs(3600)),
    ))
    .await
    .unwrap();
    let mut made = Vec::new();
    for i in 0..5 {
        let (st, v) = vmeg_post(
            &sim,
            "/openapi/v1/task/tts/create-async",
            &format!("page-{i}"),
            json!({"data": [{"text": "hi", "voiceId": "sv_en_us_female_01"}]}),
        )
        .await;
        assert_eq!(st, 200, "{v}");
        made.push(v["data"]["taskId"].as_str().unwrap().to_string());
    }
    made.reverse();
    let list = |q: String| {
        let url = format!("{}/openapi/v1/tasks/list?{q}", sim.base_url());
        let key = sim.api_key().to_string();
        async move {
            let r = client().get(url).bearer_auth(key).send().await.unwrap();
            let st = r.status().as_u16();
            let v: Value = r.json().await.unwrap();
            let ids: Vec<String> = v["data"]["records"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|t| t["taskId"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            (st, v["data"]["total"].as_u64(), ids)
        }
    };
    for (page, want) in [(1, &made[0..2]), (2, &made[2..4]), (3, &made[4..5])] {
        let (st, total, ids) = list(format!("pageSize=2&currentPage={page}")).await;
        assert_eq!((st, total), (200, Some(5)));
        assert_eq!(ids, want, "page {page}");
    }
    let max = i64::MAX;
    let (st, total, ids) = list(format!("pageSize={max}&currentPage={max}")).await;
    assert_eq!((st, total, ids.len()), (200, Some(5), 0));
    let (_, _, ids) = list(format!("pageSize={max}")).await;
    assert_eq!(ids, made, "a huge page size is clamped, newest first");
    for bad in ["0", "-1", "9223372036854775808", "1e3", "x"] {
        let (st, _, _) = list(format!("pageSize={bad}")).await;
        assert_eq!(st, 400, "pageSize={bad}");
        let (st, _, _) = list(format!("currentPage={bad}")).await;
        assert_eq!(st, 400, "currentPage={bad}");
    }
    let (_, total, _) = list("status=running".into()).await;
    assert_eq!(total, Some(5));
    sim.complete_all_now();
    let (_, total, _) = list("status=running".into()).await;
    assert_eq!(total, Some(0));
    let (_, total, ids) = list("status=finished&pageSize=1&currentPage=5".into()).await;
    assert_eq!((total, ids), (Some(5), vec![made[4].clone()]));
    sim.shutdown().await;
}

/// Sends `req` on a fresh connection and reads until the server closes (or 10 s).
async fn raw_exchange(addr: std::net::SocketAddr, req: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(req).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// What held when tried (no fix needed), pinned: malformed bodies, numbers out of range,
/// oversized or duplicated headers, encoded paths and bad sizes each get an answer in the
/// vendor's own envelope (or hyper's 4xx for HTTP-level abuse), never a dropped
/// connection or a panic, and the simulator goes on serving afterwards.
#[tokio::test]
async fn malformed_requests_get_answers_and_the_simulator_keeps_serving() {
    let sim = Simulator::start_with(common::keyed(SimConfig::default().with_speed(1000.0)))
        .await
        .unwrap();
    let key = sim.api_key().to_string();
    let post = |path: &str, headers: &str, body: &[u8]| {
        let mut v = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n",
            body.len()
        )
        .into_bytes();
        v.extend_from_slice(body);
        v
    };
    let get = |target: &str, headers: &str| {
        format!(
            "GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n{headers}\r\n"
        )
        .into_bytes()
    };
    const CLONE: &str = "/openapi/v1/task/clone-voice/create-async";
    const TTS: &str = "/openapi/v1/task/tts/create-async";
    let deep = format!(
        r#"{{"refAudio":"https://e.com/a.wav","extraData":{{"a":{}{}}}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let many_headers: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        // (name, request, status line, a piece of the body)
        ("nesting 100,000 deep", post(CLONE, "X-Idempotency-Key: a\r\n", deep.as_bytes()), "400", "recursion limit"),
        ("nesting, JimmyAI", post("/api/open-api/v1/soundCloning/clones", "", deep.as_bytes()), "200", "20002"),
        ("invalid UTF-8", post(CLONE, "X-Idempotency-Key: b\r\n", b"{\"refAudio\":\"https://e/\xff\xfe.wav\"}"), "400", "\"code\":400"),
        ("1e400", post(TTS, "X-Idempotency-Key: c\r\n", br#"{"data":[{"text":"x","voiceId":"sv_en_us_female_01","emoWeight":1e400}]}"#), "400", "out of range"),
        ("-0 duration", post(TTS, "X-Idempotency-Key: d\r\n", br#"{"data":[{"text":"x","voiceId":"sv_en_us_female_01","duration":-0}]}"#), "400", "positive"),
        ("u64::MAX + 1 page", post("/openapi/v1/assets/voice/clone/list", "", br#"{"currentPage":18446744073709551616}"#), "400", "currentPage"),
        ("10 KB idempotency key", post(CLONE, &format!("X-Idempotency-Key: {}\r\n", "k".repeat(10_000)), b"{}"), "400", "at most 64"),
        ("a chunk of 2^72 bytes", format!("POST {CLONE} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nX-Idempotency-Key: e\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nffffffffffffffffff\r\n").into_bytes(), "400", "could not be read whole"),
        ("a 500 KB header", get("/openapi/v1/tasks/list", &format!("X-Big: {}\r\n", "a".repeat(500_000))), "431", ""),
        // Within hyper's own buffer limit, so refused only by the head limit set on it (a
        // larger head, read whole in one go under load, was served 200).
        ("a 100 KB header", get("/openapi/v1/tasks/list", &format!("X-Big: {}\r\n", "a".repeat(100_000))), "431", ""),
        ("200 headers", get("/openapi/v1/tasks/list", &many_headers), "431", ""),
        ("two Content-Lengths", get("/openapi/v1/tasks/list", "Content-Length: 5\r\nContent-Length: 6\r\n"), "400", ""),
        ("encoded dots and NUL in an id", get("/api/open-api/v1/audios/..%2f..%2f%00", ""), "200", "20002"),
        ("encoded dots in a file name", get("/sim/files/..%2f..%2fx%00.wav", ""), "404", ""),
        ("duplicate taskId", get("/openapi/v1/tasks/detail?taskId=a&taskId=", ""), "400", "taskId"),
    ];
    for (name, req, status, piece) in cases {
        let out = raw_exchange(sim.addr(), &req).await;
        let first = out.lines().next().unwrap_or("<closed without an answer>");
        assert!(
            first.starts_with(&format!("HTTP/1.1 {status}")),
            "{name}: {first}"
        );
        assert!(out.contains(piece), "{name}: {out:.300}");
    }
    // Still serving, and nothing left open.
    let out = raw_exchange(sim.addr(), &get("/openapi/v1/tasks/list", "")).await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out:.300}");
    for _ in 0..100 {
        if sim.open_connections() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sim.open_connections(), 0);
    sim.shutdown().await;
}

/// Sends `head` and `body` on a fresh connection, closes its sending side (the body may
/// announce more than it holds), and reads the answer until the server closes (or 10 s).
async fn raw_send_then_close(addr: std::net::SocketAddr, req: &[u8]) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(req).await;
    let _ = s.shutdown().await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// A body that breaks off (cut short of its `Content-Length`, or bad chunked encoding)
/// was answered 413 "Request body too large": the client was told to send less, when its
/// request was malformed. Now 400, saying the body could not be read whole.
#[tokio::test]
async fn a_body_that_breaks_off_is_a_bad_request_not_too_large() {
    let sim = Simulator::start_with(common::keyed(SimConfig::default().with_speed(1000.0)))
        .await
        .unwrap();
    let key = sim.api_key().to_string();
    let head = |path: &str, framing: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nX-Idempotency-Key: k\r\nContent-Type: application/json\r\n{framing}\r\n"
        )
    };
    const TTS: &str = "/openapi/v1/task/tts/create-async";
    const JIMMY: &str = "/api/open-api/v1/soundCloning/clones";
    let cases = [
        (
            "VMEG, cut short",
            format!("{}{{\"data\":", head(TTS, "Content-Length: 100\r\n")),
            "HTTP/1.1 400",
            "\"code\":400",
            "end of file",
        ),
        (
            "VMEG, bad chunk size",
            format!(
                "{}5\r\n{{\"a\":\r\nzz\r\n",
                head(TTS, "Transfer-Encoding: chunked\r\n")
            ),
            "HTTP/1.1 400",
            "\"code\":400",
            "chunk size",
        ),
        (
            "JimmyAI, cut short",
            format!("{}{{\"a\":", head(JIMMY, "Content-Length: 100\r\n")),
            "HTTP/1.1 200",
            "20002",
            "end of file",
        ),
        (
            "JimmyAI, bad chunk size",
            format!(
                "{}5\r\n{{\"a\":\r\nzz\r\n",
                head(JIMMY, "Transfer-Encoding: chunked\r\n")
            ),
            "HTTP/1.1 200",
            "20002",
            "chunk size",
        ),
    ];
    for (name, req, status, code, reason) in cases {
        let out = raw_send_then_close(sim.addr(), req.as_bytes()).await;
        assert!(out.starts_with(status), "{name}: {out:.300}");
        assert!(out.contains(code), "{name}: {out:.300}");
        let said = out.to_ascii_lowercase();
        assert!(
            said.contains("could not be read whole") && said.contains(reason),
            "{name}: {out:.300}"
        );
    }
    // Refused before any state change: the key is still free.
    let (status, v) = vmeg_post(
        &sim,
        TTS,
        "k",
        json!({"data": [{"text": "x", "voiceId": "sv_en_us_female_01"}]}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    sim.shutdown().await;
}

/// Large requests within every count cap: TTS creates carrying ~900 KB of text each.
/// Before, tasks and create records were bounded by count only (100,000 each by default),
/// so their text could reach ~100 GB; now `max_task_bytes` bounds both: the oldest tasks
/// are evicted (answering as unknown ids), the records keep the latest, the newest task
/// is always kept and served.
#[tokio::test]
async fn the_text_kept_by_tasks_and_records_is_bounded_in_bytes() {
    let sim = Simulator::start_with(common::keyed(
        SimConfig::default()
            .with_speed(1000.0)
            .with_max_task_bytes(4 * 1024 * 1024),
    ))
    .await
    .unwrap();
    // Half in the TTS text (kept by the task), half in `extraData` (kept by the task and
    // by its create record).
    let text = "a".repeat(450_000);
    let mut ids = Vec::new();
    for i in 0..12 {
        let (st, v) = vmeg_post(
            &sim,
            "/openapi/v1/task/tts/create-async",
            &format!("big-text-{i}"),
            json!({"data": [{"text": text, "voiceId": "sv_en_us_female_01"}], "extraData": {"pad": text, "i": i}}),
        )
        .await;
        assert_eq!(st, 200, "{v}");
        ids.push(v["data"]["taskId"].as_str().unwrap().to_string());
    }
    assert!(sim.task_count() <= 5, "{} tasks kept", sim.task_count());
    assert!(sim.evicted().0 >= 7);
    let creates = sim.stats().creates;
    assert!(creates.len() <= 9, "{} records kept", creates.len());
    assert_eq!(creates.last().unwrap().task_id, ids[11]);
    assert_eq!(
        sim.stats().billable("vmeg.ttsCreateAsync"),
        12,
        "counters stay exact"
    );
    let detail = |id: String| {
        let url = format!("{}/openapi/v1/tasks/detail?taskId={id}", sim.base_url());
        let key = sim.api_key().to_string();
        async move {
            client()
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(detail(ids[11].clone()).await, 200);
    assert_eq!(detail(ids[0].clone()).await, 404, "the oldest was evicted");
    // One task larger than the whole budget is still created and kept.
    let sim = Simulator::start_with(common::keyed(SimConfig::default().with_max_task_bytes(1)))
        .await
        .unwrap();
    let (st, v) = vmeg_post(
        &sim,
        "/openapi/v1/task/tts/create-async",
        "alone",
        json!({"data": [{"text": "hello", "voiceId": "sv_en_us_female_01"}]}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(sim.task_count(), 1);
    assert_eq!(sim.stats().creates.len(), 1);
}

/// `wait_for_deliveries` with a timeout of "forever". Before: `Instant::now() + timeout`
/// panicked ("overflow when adding duration to instant") whatever the deliveries; now a
/// timeout too large for the clock is no deadline: the wait ends when the deliveries come.
#[tokio::test]
async fn waiting_for_deliveries_for_ever_does_not_panic() {
    let ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string();
    let (receiver, _) = canned_server(ok, "uncounted", None).await;
    let sim = Simulator::start_with(common::keyed(
        SimConfig::default()
            .with_speed(1000.0)
            .with_webhook(format!("http://{receiver}/hook"), "secret"),
    ))
    .await
    .unwrap();
    assert!(sim.wait_for_deliveries(0, Duration::MAX).await.is_empty());
    let (st, v) = vmeg_post(
        &sim,
        "/openapi/v1/task/tts/create-async",
        "for-ever",
        json!({"data": [{"text": "hi", "voiceId": "sv_en_us_female_01"}]}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    sim.complete_all_now();
    let d = tokio::time::timeout(
        Duration::from_secs(10),
        sim.wait_for_deliveries(1, Duration::MAX),
    )
    .await
    .expect("the delivery came");
    assert_eq!(d.len(), 1);
    assert!(d[0].succeeded(), "{:?}", d[0]);
    sim.shutdown().await;
}

/// A test whose clock is paused (`start_paused`), the simulator on a runtime of its own as
/// the crate docs advise, waits for a webhook that comes after some real time. Before: the
/// wait's deadline and its 5 ms polling sleeps were on the caller's paused clock, which
/// tokio moves on whenever the test idles: the 30 s passed in milliseconds of real time and
/// the wait returned nothing while the delivery was still to come. Now the deadline is
/// real time and the wait wakes when a delivery is recorded.
#[tokio::test(start_paused = true)]
async fn a_test_with_a_paused_clock_waits_real_time_for_a_delivery() {
    let started = std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let token = common::token();
        let ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string();
        let (receiver, _) = rt.block_on(canned_server(ok, &token, None));
        // Real time: the TTS task takes 1 s, its webhook comes after it.
        let sim = rt
            .block_on(Simulator::start_with(common::keyed(
                SimConfig::default()
                    .with_speed(1.0)
                    .with_webhook(format!("http://{receiver}/{token}/hook"), "secret"),
            )))
            .unwrap();
        let (st, v) = rt.block_on(vmeg_post(
            &sim,
            "/openapi/v1/task/tts/create-async",
            "paused-wait",
            json!({"data": [{"text": "hi", "voiceId": "sv_en_us_female_01"}]}),
        ));
        assert_eq!(st, 200, "{v}");
        (rt, sim)
    });
    let (rt, sim) = started.join().unwrap();
    let d = sim.wait_for_deliveries(1, Duration::from_secs(30)).await;
    assert_eq!(d.len(), 1, "the wait ended before the delivery came: {d:?}");
    assert!(d[0].succeeded(), "{:?}", d[0]);
    // A runtime is not dropped from inside another one.
    std::thread::spawn(move || {
        drop(sim);
        drop(rt);
    })
    .join()
    .unwrap();
}

/// Review 35-a #6: the simulator on a runtime that nothing drives any more (a
/// current-thread runtime kept beside the handle after `block_on`): `wait_for_deliveries`
/// still ends at its timeout. Before, the wait ran only as a task on that runtime, which
/// never ran it, and the caller waited forever whatever its timeout.
#[tokio::test]
async fn a_delivery_wait_ends_at_its_timeout_when_the_simulator_s_runtime_is_idle() {
    let (rt, sim) = std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let sim = rt
            .block_on(Simulator::start_with(common::keyed(SimConfig::default())))
            .unwrap();
        (rt, sim)
    })
    .join()
    .unwrap();
    // A guard far beyond the wait's own timeout, so that a hang fails the test.
    let d = tokio::time::timeout(
        Duration::from_secs(20),
        sim.wait_for_deliveries(1, Duration::from_millis(200)),
    )
    .await
    .expect("the wait ignored its 200 ms timeout");
    assert!(d.is_empty(), "{d:?}");
    // A runtime is not dropped from inside another one.
    std::thread::spawn(move || {
        drop(sim);
        drop(rt);
    })
    .join()
    .unwrap();
}

/// Shutting down while async creates are in flight, webhook configured. Before: shutdown
/// aborted the deliveries first and stopped accepting after, and nothing stopped a
/// delivery spawned in between (a create still being handled): it was delivered some
/// 300 ms after `shutdown` had returned, to a receiver the test had moved on from. Now
/// serving stops first and a stopped simulator starts no delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_is_delivered_after_shutdown_returns() {
    let ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string();
    let (token, secret) = (common::token(), common::token());
    let (receiver, hits) = canned_server(ok, &token, Some(&secret)).await;
    for run in 0..12 {
        // A key of this run's own: the port is free once `shutdown` returns, and another
        // test's simulator that gets it must refuse a create still on its way (the same
        // default key made it store a task: a create refused 503 there under a 1-byte
        // budget, in CI).
        let sim = Simulator::start_with(common::keyed(
            SimConfig::default()
                .with_api_key(format!("shutdown-run-{run}"))
                .with_durations(Duration::from_millis(300), Duration::from_millis(300))
                .with_webhook(format!("http://{receiver}/{token}/hook"), secret.as_str()),
        ))
        .await
        .unwrap();
        let (base, key) = (sim.base_url(), sim.api_key().to_string());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut creators = Vec::new();
        for w in 0..16 {
            let (base, key, stop) = (base.clone(), key.clone(), stop.clone());
            creators.push(tokio::spawn(async move {
                let http = client();
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    // Refused or cut off once the simulator is gone: that is the point.
                    let _ = http
                        .post(format!("{base}/openapi/v1/task/tts/create-async"))
                        .bearer_auth(&key)
                        .header("X-Idempotency-Key", format!("r{run}w{w}i{i}"))
                        .json(&json!({"data": [{"text": "hi", "voiceId": "sv_en_us_female_01"}]}))
                        .send()
                        .await;
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        sim.shutdown().await;
        // Creators stop at once: the freed port may be handed to another test's server
        // (a receiver there counted them as its connections: 80 where 64 were expected).
        stop.store(true, Ordering::SeqCst);
        // Aborted, not awaited: a request that reached another server on the freed port
        // (a silent receiver never answers) would hold the join for its 10 s timeout,
        // past the tasks' due time, and a late delivery would be counted in `before`.
        for c in creators {
            c.abort();
            let _ = c.await;
        }
        // A request written just before `shutdown` returned may still be on its way.
        tokio::time::sleep(Duration::from_millis(30)).await;
        let before = hits.load(Ordering::SeqCst);
        // Past the tasks' 300 ms: any delivery still alive would have come by now.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let after = hits.load(Ordering::SeqCst);
        assert_eq!(
            after,
            before,
            "run {run}: {} webhook(s) delivered after shutdown returned",
            after - before
        );
    }
}

/// Webhook attempts to a receiver that keeps failing, each body carrying ~900 KB of
/// `extraData`. Before: the attempt records were bounded by count only (100,000 by
/// default) and each holds its own copy of the body, so they escaped `max_task_bytes`
/// (here 24 attempts kept ~21 MB under a 4 MiB budget); now they are bounded by it as
/// `Stats::creates` is: the oldest go, the latest is always kept, the counter stays exact.
#[tokio::test]
async fn webhook_attempt_records_are_bounded_in_bytes() {
    let fail =
        "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            .to_string();
    let (receiver, _) = canned_server(fail, "uncounted", None).await;
    let budget = 4 * 1024 * 1024;
    let sim = Simulator::start_with(common::keyed(
        SimConfig::default()
            .with_speed(1000.0)
            .with_max_task_bytes(budget)
            .with_webhook(format!("http://{receiver}/hook"), "secret")
            .with_webhook_retry_delays(vec![Duration::ZERO; 2]),
    ))
    .await
    .unwrap();
    let pad = "a".repeat(900_000);
    for i in 0..8 {
        let (st, v) = vmeg_post(
            &sim,
            "/openapi/v1/task/tts/create-async",
            &format!("fat-webhook-{i}"),
            json!({"data": [{"text": "hi", "voiceId": "sv_en_us_female_01"}], "extraData": {"pad": pad, "i": i}}),
        )
        .await;
        assert_eq!(st, 200, "{v}");
        sim.complete_all_now();
        // Its three attempts, before the next create may evict the task.
        sim.wait_for_deliveries(3 * (i + 1), Duration::from_secs(30))
            .await;
    }
    assert_eq!(sim.stats().webhook_attempts, 24, "every attempt was made");
    let kept = sim.webhook_deliveries();
    let bytes: usize = kept.iter().map(|d| d.body.len()).sum();
    assert!(!kept.is_empty());
    assert!(
        bytes <= budget,
        "{} attempts kept {bytes} bytes of body under a {budget}-byte budget",
        kept.len()
    );
    let last = kept.last().unwrap();
    assert!(
        last.body.contains(r#""i":7"#) && last.attempt == 3,
        "the latest is kept"
    );
    sim.shutdown().await;
}

/// Early answers reach the client whatever it is still sending: a 20 MiB body over VMEG's
/// body limit gets its 413, and with a wrong key its 401, each on a fresh connection of a
/// multi-thread runtime. The simulator reads (and drops) the rest of the body before
/// answering; answering first and closing with the body unread reset the connection, and
/// the client saw a broken pipe instead (at the first request at 20 MiB; one in six at 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_answers_arrive_while_the_client_is_still_sending() {
    let sim = Simulator::start_with(common::keyed(SimConfig::default()))
        .await
        .unwrap();
    let url = format!("{}/openapi/v1/task/clone-voice/create", sim.base_url());
    let text = |kib: usize| {
        json!({"refAudio": "https://e.com/a.wav", "sampleText": "a".repeat(kib * 1024)}).to_string()
    };
    let big = text(20 * 1024);
    for i in 0..20 {
        for (key, want) in [(sim.api_key(), 413), ("wrong", 401)] {
            let r = client()
                .post(&url)
                .bearer_auth(key)
                .header("X-Idempotency-Key", format!("early-{i}"))
                .header("content-type", "application/json")
                .body(big.clone())
                .send()
                .await;
            match r {
                Ok(r) => assert_eq!(r.status().as_u16(), want, "request {i}"),
                Err(e) => panic!("request {i} ({want} expected): no answer: {e:?}"),
            }
        }
    }
}

/// The simulator's own 404 (a path outside both vendor roots: a base URL with an extra
/// prefix), its 405 (a PUT to a file URL) and the GET routes carrying a body answer only
/// once the body is read, like the other early answers. Before, they answered and closed
/// with the body unread, and a client sending 20 MiB saw a broken pipe or a reset instead
/// of the 404 (or the list).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_answers_outside_the_vendor_roots_and_on_get_routes_arrive() {
    let sim = Simulator::start_with(common::keyed(SimConfig::default()))
        .await
        .unwrap();
    let big = vec![b'a'; 20 << 20];
    let base = sim.base_url();
    let cases = [
        (
            reqwest::Method::POST,
            format!("{base}/v1/api/open-api/v1/files/upload"),
            404,
        ),
        (
            reqwest::Method::PUT,
            format!("{base}/sim/files/none.wav"),
            405,
        ),
        (
            reqwest::Method::GET,
            format!("{base}/openapi/v1/tasks/list"),
            200,
        ),
        (
            reqwest::Method::GET,
            format!("{base}/openapi/v1/assets/material/list"),
            200,
        ),
        (
            reqwest::Method::GET,
            format!("{base}/api/open-api/v1/audios/none"),
            0,
        ),
    ];
    for i in 0..10 {
        for (method, url, want) in &cases {
            let r = client()
                .request(method.clone(), url)
                .bearer_auth(sim.api_key())
                .body(big.clone())
                .send()
                .await;
            match r {
                Ok(r) if *want != 0 => {
                    assert_eq!(r.status().as_u16(), *want, "{method} {url}, request {i}");
                }
                Ok(_) => {}
                Err(e) => panic!("{method} {url}, request {i}: no answer: {e:?}"),
            }
        }
    }
}

/// A fault injected before processing (a scripted 503 or 429) reaches the client as that
/// status whatever it is still sending: the simulator reads (and drops) the body first, as
/// it does for its own early answers. Before, it answered and closed with the body unread,
/// and a client sending 20 MiB saw a connection reset instead of the injected status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_arrive_while_the_client_is_still_sending() {
    let sim = Simulator::start_with(common::keyed(SimConfig::default()))
        .await
        .unwrap();
    let url = format!("{}/openapi/v1/task/clone-voice/create", sim.base_url());
    let big =
        json!({"refAudio": "https://e.com/a.wav", "sampleText": "a".repeat(20 << 20)}).to_string();
    for (fault, want) in [(FaultKind::Http503, 503), (FaultKind::TooManyRequests, 429)] {
        sim.fail_next("vmeg.cloneVoiceCreate", fault, 10).unwrap();
        for i in 0..10 {
            let r = client()
                .post(&url)
                .bearer_auth(sim.api_key())
                .header("X-Idempotency-Key", format!("fault-{want}-{i}"))
                .header("content-type", "application/json")
                .body(big.clone())
                .send()
                .await;
            match r {
                Ok(r) => assert_eq!(r.status().as_u16(), want, "request {i}"),
                Err(e) => panic!("request {i} ({want} injected): no answer: {e:?}"),
            }
        }
    }
    assert_eq!(sim.stats().billable("vmeg.cloneVoiceCreate"), 0);
}

/// The clock moved past `task_retention` while a sync create and an async create's
/// webhook waited. Before: the waiter woke, and its own lock settled the task and evicted
/// it in the same call (its due time was already two days in the past), so the billed
/// sync create answered 502 "deleted while running" and the webhook was never sent. Now
/// retention counts from when the simulator settled the task, and a task is not evicted
/// by age before its sync answer or webhook has read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moving_the_clock_past_retention_keeps_answers_and_webhooks() {
    let ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string();
    let (receiver, _) = canned_server(ok, "uncounted", None).await;
    let sim = Arc::new(
        Simulator::start_with(common::keyed(
            SimConfig::default().with_webhook(format!("http://{receiver}/hook"), "secret"),
        ))
        .await
        .unwrap(),
    );
    let clone = json!({"refAudio": "https://example.com/a.wav"});
    let (st, v) = vmeg_post(
        &sim,
        "/openapi/v1/task/clone-voice/create-async",
        "async-1",
        clone.clone(),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let s2 = sim.clone();
    let sync = tokio::spawn(async move {
        vmeg_post(&s2, "/openapi/v1/task/clone-voice/create", "sync-1", clone).await
    });
    // The sync create accepted (its task made, its answer awaited) before the clock
    // moves: a fixed sleep let a slow machine make the task after the move, and the test
    // passed without the case it names (review 35-a #7).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while sim.billable("vmeg.cloneVoiceCreate") < 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        sim.billable("vmeg.cloneVoiceCreate"),
        1,
        "sync create accepted"
    );
    sim.advance_clock(Duration::from_secs(2 * 86_400));
    let (st, v) = sync.await.unwrap();
    assert_eq!(st, 200, "{v}");
    assert!(
        v["data"]["voiceId"].as_str().unwrap().starts_with("cv_"),
        "{v}"
    );
    let d = sim.wait_for_deliveries(1, Duration::from_secs(5)).await;
    assert_eq!(d.len(), 1, "the async clone's webhook");
    assert!(d[0].succeeded(), "{d:?}");
    assert!(d[0].body.contains(r#""code":200"#), "{}", d[0].body);
    drop(sim);
}

/// `task_retention` of zero: every sync create answered 502 "deleted while running"
/// (settled and evicted by the same lock), and no webhook was ever sent.
#[tokio::test]
async fn zero_retention_still_answers_sync_creates_and_sends_webhooks() {
    let ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string();
    let (receiver, _) = canned_server(ok, "uncounted", None).await;
    let sim = Simulator::start_with(common::keyed(
        SimConfig::default()
            .with_speed(1000.0)
            .with_task_limits(100, Duration::ZERO)
            .with_webhook(format!("http://{receiver}/hook"), "secret"),
    ))
    .await
    .unwrap();
    let tts = json!({"data": [{"text": "hi", "voiceId": "sv_en_us_female_01"}]});
    for i in 0..3 {
        let (st, v) = vmeg_post(
            &sim,
            "/openapi/v1/task/tts/create",
            &format!("z{i}"),
            tts.clone(),
        )
        .await;
        assert_eq!(st, 200, "{v}");
        assert!(v["data"]["results"].is_array(), "{v}");
    }
    let (st, v) = vmeg_post(&sim, "/openapi/v1/task/tts/create-async", "za", tts).await;
    assert_eq!(st, 200, "{v}");
    let d = sim.wait_for_deliveries(1, Duration::from_secs(5)).await;
    assert_eq!(d.len(), 1);
    assert!(d[0].succeeded(), "{d:?}");
    sim.shutdown().await;
}

/// A JimmyAI upload of `len` bytes of file content in one `file` part named `name`, under
/// `content_type` (`None`: multipart with the body's boundary): the HTTP status and JSON
/// answer, or `Err` when the connection broke unanswered.
async fn jimmy_upload(
    sim: &SimHandle,
    name: &str,
    len: usize,
    content_type: Option<&str>,
) -> Result<(u16, Value), String> {
    let boundary = "XXBOUNDARY";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.resize(body.len() + len, b'a');
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    let ct = content_type
        .map(str::to_owned)
        .unwrap_or_else(|| format!("multipart/form-data; boundary={boundary}"));
    let r = client()
        .post(format!("{}/api/open-api/v1/files/upload", sim.base_url()))
        .bearer_auth(sim.api_key())
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

/// JimmyAI uploads refused before their body was read (an unsupported extension, no
/// multipart boundary, a body whose first line is not the boundary) answered at once and
/// closed the connection with the body unread: the client, still sending, saw a broken
/// pipe instead of the error envelope (14 runs in 50 with a 20 MiB `x.exe`). Now the rest
/// is drained first, as the VMEG early answers do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_jimmyai_upload_refusals_arrive_while_the_client_is_still_sending() {
    let sim = Simulator::start_with(common::keyed(SimConfig::default()))
        .await
        .unwrap();
    let big = 8 << 20;
    for i in 0..3 {
        for (name, ct) in [
            ("x.exe", None),
            ("x.wav", Some("multipart/form-data")),
            ("x.wav", Some("multipart/form-data; boundary=OTHER")),
        ] {
            match jimmy_upload(&sim, name, big, ct).await {
                Ok((status, v)) => {
                    assert_eq!(status, 200, "{name} {ct:?} #{i}: {v}");
                    assert_eq!(v["code"], 20002, "{name} {ct:?} #{i}: {v}");
                }
                Err(e) => panic!("{name} {ct:?} #{i}: no answer: {e}"),
            }
        }
    }
    sim.shutdown().await;
}

/// Six slow presigned PUTs (each sends one byte of 1000) queue for the two upload slots,
/// then two slow JimmyAI uploads hold them. Before, a 16-byte PUT waited behind every slow
/// PUT in turn, each holding its slot for a whole body read timeout (5.9 s with a 2 s
/// timeout), and a small JimmyAI upload waiting for a slot got a 408 blaming it for
/// slowness. Now the wait for a slot counts against the body read timeout: both are
/// answered within it (served once the slot holders' own timeouts free a slot, or else
/// refused as busy; the refusals themselves are unit-tested in `materials.rs` and
/// `jimmyai.rs`). The timeout is 2 s, so that the bound of twice that leaves seconds
/// for a loaded machine while the old wait (three timeouts) still passes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_an_upload_slot_is_bounded_by_the_body_timeout() {
    let timeout = Duration::from_secs(2);
    let cfg = SimConfig {
        body_read_timeout: timeout,
        ..SimConfig::default()
    };
    let sim = Simulator::start_with(common::keyed(cfg)).await.unwrap();
    let mut urls = Vec::new();
    for i in 0..7 {
        let (st, v) = vmeg_post(
            &sim,
            "/openapi/v1/assets/material/upload/gen-upload-url",
            &format!("slot-{i}"),
            json!({"fileHash": format!("{:032x}", i + 1), "fileName": "x.wav"}),
        )
        .await;
        assert_eq!(st, 200, "{v}");
        urls.push(v["data"]["uploadUrl"].as_str().unwrap().to_string());
    }
    let addr = sim.addr();
    let mut slow = Vec::new();
    for u in &urls[..6] {
        let path = u.split_once(&addr.to_string()).unwrap().1.to_string();
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("PUT {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\na").as_bytes(),
        )
        .await
        .unwrap();
        slow.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The client is made before the clock starts: building one is not what is measured.
    let http = client();
    let started = std::time::Instant::now();
    let r = http.put(&urls[6]).body(vec![0u8; 16]).send().await.unwrap();
    let waited = started.elapsed();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert!(
        status == 200 || (status == 503 && text.contains("SlowDown")),
        "{status} {text}"
    );
    assert!(waited < timeout * 2, "answered after {waited:?}");
    // JimmyAI likewise, behind two slow uploads of its own.
    for _ in 0..2 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!(
                "POST /api/open-api/v1/files/upload HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: multipart/form-data; boundary=B\r\ncontent-length: 1000\r\n\r\n--B",
                sim.api_key()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        slow.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let body = b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.wav\"\r\n\r\naaaaaaaaaaaaaaaa\r\n--B--\r\n".to_vec();
    let upload = http
        .post(format!("{}/api/open-api/v1/files/upload", sim.base_url()))
        .bearer_auth(sim.api_key())
        .header("content-type", "multipart/form-data; boundary=B")
        .body(body);
    let started = std::time::Instant::now();
    let r = upload.send().await.unwrap();
    let waited = started.elapsed();
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "after {waited:?}: {v}");
    assert!(
        v["code"] == 20000 || (v["code"] == -1 && v["msg"].as_str().unwrap().contains("busy")),
        "{v}"
    );
    assert!(waited < timeout * 2, "answered after {waited:?}");
    drop(slow);
    sim.shutdown().await;
}

/// POSTs `body` to JimmyAI's upload as multipart with boundary `B`: status and answer.
async fn jimmy_upload_raw(sim: &SimHandle, body: Vec<u8>) -> (u16, Value) {
    let r = client()
        .post(format!("{}/api/open-api/v1/files/upload", sim.base_url()))
        .bearer_auth(sim.api_key())
        .header("content-type", "multipart/form-data; boundary=B")
        .body(body)
        .send()
        .await
        .expect("answered");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The JimmyAI multipart parser ran without limits: a part's headers without end were
/// buffered whole (+99 MiB) and searched again for their end at every chunk (quadratic
/// CPU, an upload slot held until the body read timeout), and a form field other than
/// `file` of any size was read through. Now a part's headers are refused past 16 KiB,
/// another field past 64 KiB, the whole body past 1 MiB more than the file's 100 MB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_multipart_parser_has_limits() {
    let sim = Simulator::start_with(common::keyed(SimConfig::default()))
        .await
        .unwrap();
    let mut endless =
        b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\nX-Pad: "
            .to_vec();
    endless.resize(endless.len() + (4 << 20), b'a');
    let (status, v) = jimmy_upload_raw(&sim, endless).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["code"], 20002, "{v}");
    assert!(v["msg"].as_str().unwrap().contains("headers exceed"), "{v}");
    let mut other = b"--B\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n".to_vec();
    other.resize(other.len() + 100 * 1024, b'n');
    other.extend_from_slice(
        b"\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nRIFF\r\n--B--\r\n",
    );
    let (status, v) = jimmy_upload_raw(&sim, other).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["code"], 20002, "{v}");
    assert!(v["msg"].as_str().unwrap().contains("too large"), "{v}");
    // Within the limits, the same upload is stored.
    let fine = b"--B\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nRIFF\r\n--B--\r\n".to_vec();
    let (status, v) = jimmy_upload_raw(&sim, fine).await;
    assert_eq!((status, &v["code"]), (200, &json!(20000)), "{v}");
    assert_eq!(v["data"]["size"], 4, "{v}");
    sim.shutdown().await;
}

/// A webhook receiver that reads each request and never answers: how many requests came
/// whole on a path under `/{token}/` with a signature that verifies with `secret` (a
/// stray request from another test's client is not counted).
async fn silent_receiver(token: &str, secret: &str) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let count = hits.clone();
    let (prefix, secret) = (format!("/{token}/"), secret.to_owned());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (count, prefix, secret) = (count.clone(), prefix.clone(), secret.clone());
            tokio::spawn(async move {
                if let Some((path, headers, body)) = common::read_request(&mut s).await
                    && path.starts_with(&prefix)
                    && common::signed(&secret, &headers, &body)
                {
                    count.fetch_add(1, Ordering::SeqCst);
                }
                // Held open, unanswered, until the simulator gives up or goes.
                let _ = s.read(&mut [0u8; 1]).await;
            });
        }
    });
    (addr, hits)
}

/// Waits (at most 30 s) until `hits` reaches `n`.
async fn until_hits(hits: &AtomicUsize, n: usize) {
    let until = std::time::Instant::now() + Duration::from_secs(30);
    while hits.load(Ordering::SeqCst) < n && std::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Webhook deliveries to a receiver that never answers. Before, every delivery sent at
/// once, each holding its own copy of the body and a connection: 300 creates with 900 KB
/// of `extraData` made +846 MiB and +600 file descriptors. Now at most 64 attempts are in
/// flight, and the bodies of deliveries under way hold at most `max_task_bytes`; the
/// others wait their turn. The test waits for the attempts it expects to arrive, then
/// gives any more 500 ms to show up (before the fix, all of them were sent at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_deliveries_in_flight_are_bounded() {
    let create = |sim: &SimHandle, i: usize, pad: &str| {
        let body = json!({
            "data": [{"text": "hi", "voiceId": "sv_en_us_female_01"}],
            "extraData": {"pad": pad, "i": i},
        });
        let key = format!("w{i}");
        let sim_url = sim.base_url().to_string();
        let api_key = sim.api_key().to_string();
        async move {
            let r = client()
                .post(format!("{sim_url}/openapi/v1/task/tts/create-async"))
                .bearer_auth(api_key)
                .header("X-Idempotency-Key", key)
                .json(&body)
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        }
    };
    // By count: 100 small deliveries, 64 connections.
    let (token, secret) = (common::token(), common::token());
    let (receiver, hits) = silent_receiver(&token, &secret).await;
    let mut cfg = SimConfig::default()
        .with_speed(1000.0)
        .with_webhook(format!("http://{receiver}/{token}/hook"), secret.as_str());
    cfg.webhook_timeout = Duration::from_secs(60);
    let sim = Simulator::start_with(common::keyed(cfg)).await.unwrap();
    for i in 0..100 {
        assert_eq!(create(&sim, i, "").await, 200);
    }
    sim.complete_all_now();
    until_hits(&hits, 64).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let n = hits.load(Ordering::SeqCst);
    assert_eq!(n, 64, "requests at the receiver");
    assert_eq!(sim.stats().webhook_attempts, 64);
    sim.shutdown().await;
    // By bytes: 900 KB bodies and a 4 MiB budget, 4 at a time.
    let (token, secret) = (common::token(), common::token());
    let (receiver, hits) = silent_receiver(&token, &secret).await;
    let mut cfg = SimConfig::default()
        .with_speed(1000.0)
        .with_max_task_bytes(4 << 20)
        .with_webhook(format!("http://{receiver}/{token}/hook"), secret.as_str());
    cfg.webhook_timeout = Duration::from_secs(60);
    let sim = Simulator::start_with(common::keyed(cfg)).await.unwrap();
    let pad = "a".repeat(900_000);
    let mut created = 0;
    for i in 0..12 {
        // Tasks whose delivery waits for room keep their text (they are not evicted):
        // once they fill the same budget, a create is refused with 503.
        let status = create(&sim, i, &pad).await;
        assert!(
            status == 200 || (i >= 4 && status == 503),
            "create {i}: {status}"
        );
        created += usize::from(status == 200);
    }
    sim.complete_all_now();
    until_hits(&hits, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let n = hits.load(Ordering::SeqCst);
    assert!(
        (1..=4).contains(&n),
        "{n} bodies of 900 KB in flight ({created} created)"
    );
    sim.shutdown().await;
}

/// A failed TTS task's webhook reported a result as if it had succeeded: code 500, but
/// `results` of one `{"errorMessage": "", "uri": ...}` per line, each URI answering 404,
/// while `tasks/detail` said `errorMessage` "task failed (simulated)". Now the webhook's
/// `data` carries the same `errorMessage` as `tasks/detail`, and no results.
#[tokio::test]
async fn a_failed_tasks_webhook_says_what_tasks_detail_says() {
    let ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string();
    let (receiver, _) = canned_server(ok, "uncounted", None).await;
    let sim = Simulator::start_with(common::keyed(
        SimConfig::default()
            .with_speed(1000.0)
            .with_task_failure_rate(1.0)
            .with_webhook(format!("http://{receiver}/hook"), "secret"),
    ))
    .await
    .unwrap();
    let (st, v) = vmeg_post(
        &sim,
        "/openapi/v1/task/tts/create-async",
        "failing",
        json!({"data": [{"text": "hi", "voiceId": "sv_en_us_female_01"}]}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let id = v["data"]["taskId"].as_str().unwrap().to_string();
    sim.complete_all_now();
    let d = sim.wait_for_deliveries(1, Duration::from_secs(5)).await;
    assert_eq!(d.len(), 1);
    let hook: Value = serde_json::from_str(&d[0].body).unwrap();
    let (st, detail) = get(&sim, &format!("/openapi/v1/tasks/detail?taskId={id}")).await;
    assert_eq!(st, 200, "{detail}");
    assert_eq!(hook["code"], 500, "{hook}");
    assert_eq!(hook["data"]["taskId"], json!(id), "{hook}");
    assert!(hook["data"].get("results").is_none(), "{hook}");
    assert_eq!(
        hook["data"]["errorMessage"], detail["data"]["result"]["errorMessage"],
        "{hook} vs {detail}"
    );
    assert!(
        hook["data"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("failed")
    );
    sim.shutdown().await;
}

/// The classic double bill: one clone sent again under a new idempotency key (a client
/// retrying with a fresh key, its `extraData` naming the key). Before, the stat keyed on
/// `extraData` or the key alone: billable 2, `duplicate_logical_calls` empty. Now VMEG
/// creates with the same canonical body are one logical call too (sync or async alike);
/// a group already reported by `extraData` is not reported twice.
#[tokio::test]
async fn the_same_body_under_two_keys_is_a_duplicate_logical_call() {
    let sim = Simulator::start_with(common::keyed(SimConfig::default().with_speed(1000.0)))
        .await
        .unwrap();
    let clone = |key: &str| {
        json!({"refAudio": "https://example.com/a.wav", "voiceName": "Narrator",
               "extraData": {"voiceclone": {"idempotencyKey": key}}})
    };
    let path = "/openapi/v1/task/clone-voice/create-async";
    for key in ["k1", "k2"] {
        assert_eq!(vmeg_post(&sim, path, key, clone(key)).await.0, 200);
    }
    // A different voice name is another call; a sync create of the same body is not.
    let other = json!({"refAudio": "https://example.com/a.wav", "voiceName": "Other"});
    assert_eq!(vmeg_post(&sim, path, "k3", other).await.0, 200);
    let st = sim.stats();
    assert_eq!(st.billable_total(), 3);
    let d = st.duplicate_logical_calls();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].1, 2, "{d:?}");
    assert!(d[0].0.starts_with("vmeg.cloneVoiceCreate|body="), "{d:?}");
    let (s, v) = vmeg_post(
        &sim,
        "/openapi/v1/task/clone-voice/create",
        "k4",
        json!({"refAudio": "https://example.com/a.wav", "voiceName": "Narrator"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(sim.stats().duplicate_logical_calls()[0].1, 3);
    // TTS: the same lines under two keys, and the same voiceclone key in `extraData`
    // under two keys (reported once, not once per kind).
    let tts = |n: u32| {
        json!({"data": [{"text": "hello", "voiceId": "sv_en_us_female_01"}],
               "extraData": {"voiceclone": {"idempotencyKey": format!("tk-{n}")}}})
    };
    let path = "/openapi/v1/task/tts/create-async";
    for (key, n) in [("t1", 1), ("t2", 1), ("t3", 2)] {
        assert_eq!(vmeg_post(&sim, path, key, tts(n)).await.0, 200);
    }
    let d = sim.stats().duplicate_logical_calls();
    let tts_groups: Vec<_> = d
        .iter()
        .filter(|(k, _)| k.starts_with("vmeg.ttsCreate"))
        .collect();
    assert_eq!(tts_groups.len(), 1 + 1, "{d:?}");
    assert!(
        tts_groups
            .iter()
            .any(|(k, n)| k.contains("extra.voiceclone.idempotencyKey=tk-1") && *n == 2)
    );
    assert!(
        tts_groups
            .iter()
            .any(|(k, n)| k.contains("body=") && *n == 3)
    );
    sim.shutdown().await;
}

/// Paths under a vendor's root but outside its versioned prefix (`/openapi/task/...`,
/// `/openapi/v1` without its slash, `/api/open-api/v1`) answered the simulator's own
/// `{"error": "not found"}` instead of the vendor's envelope.
#[tokio::test]
async fn unknown_paths_under_a_vendor_root_get_its_envelope() {
    let sim = Simulator::start_with(common::keyed(SimConfig::default()))
        .await
        .unwrap();
    for path in ["/openapi/task/tts/create", "/openapi/v1", "/openapi"] {
        let (status, v) = get(&sim, path).await;
        assert_eq!(status, 404, "{path}: {v}");
        assert_eq!(v["code"], 404, "{path}: {v}");
        assert!(
            v.get("message").is_some() && v["data"].is_null(),
            "{path}: {v}"
        );
    }
    for path in ["/api/open-api/v1", "/api/open-api/audios/x"] {
        let (_, v) = get(&sim, path).await;
        assert_eq!(v["code"], 20002, "{path}: {v}");
        assert!(v.get("msg").is_some(), "{path}: {v}");
    }
    // Elsewhere, the simulator's own answer.
    let (status, v) = get(&sim, "/openapix/v1/tasks/list").await;
    assert_eq!((status, &v["error"]), (404, &json!("not found")), "{v}");
    sim.shutdown().await;
}

/// `max_tasks = 2`, a sync clone create waiting for its task, then async creates: with
/// nothing finished, the oldest task went whatever it was, so the sync create answered 502
/// "deleted while running" though it was billed. Now no task still awaited or unfinished
/// is evicted: when only such tasks are left a new create is refused with 503 and
/// `Retry-After`, not billed, its key released so a retry under it is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_still_awaited_are_not_evicted_and_a_full_table_refuses_new_creates() {
    let sim = Arc::new(
        Simulator::start_with(common::keyed(
            SimConfig::default()
                .with_durations(Duration::from_secs(4), Duration::from_secs(1))
                .with_task_limits(2, Duration::from_secs(3600)),
        ))
        .await
        .unwrap(),
    );
    let clone = json!({"refAudio": "https://example.com/a.wav"});
    let first = {
        let (sim, clone) = (sim.clone(), clone.clone());
        tokio::spawn(async move {
            vmeg_post(&sim, "/openapi/v1/task/clone-voice/create", "sync-1", clone).await
        })
    };
    for _ in 0..200 {
        if sim.billable("vmeg.cloneVoiceCreate") >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        sim.billable("vmeg.cloneVoiceCreate"),
        1,
        "sync create accepted"
    );
    let async_path = "/openapi/v1/task/clone-voice/create-async";
    let (st, v) = vmeg_post(&sim, async_path, "async-1", clone.clone()).await;
    assert_eq!(st, 200, "{v}");
    // One task awaited by its sync create, one unfinished: no room.
    let (st, v, headers) = common::vmeg_post(&sim, async_path, "third", clone.clone())
        .await
        .unwrap();
    assert_eq!(st, 503, "{v}");
    assert_eq!(v["code"], 503, "{v}");
    assert!(headers.get("retry-after").is_some(), "{headers:?}");
    assert_eq!(
        sim.billable("vmeg.cloneVoiceCreateAsync"),
        1,
        "the refusal billed"
    );
    // JimmyAI's creates too, in its envelope.
    let r = client()
        .post(format!(
            "{}/api/open-api/v1/soundCloning/clones",
            sim.base_url()
        ))
        .bearer_auth(sim.api_key())
        .json(&json!({"fileUrl": "https://example.com/a.wav"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert!(r.headers().get("retry-after").is_some());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], -1, "{v}");
    assert_eq!(sim.billable("jimmyai.createClone"), 0);
    // Both finish, and the sync create reads its task: there is room again, and the
    // refused key is served.
    sim.complete_all_now();
    let (st, v) = first.await.unwrap();
    assert_eq!(st, 200, "sync create: {v}");
    assert!(
        v["data"]["voiceId"].as_str().unwrap().starts_with("cv_"),
        "{v}"
    );
    let (st, v) = vmeg_post(&sim, async_path, "third", clone).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(sim.billable("vmeg.cloneVoiceCreateAsync"), 2);
    assert_eq!(sim.billable_total(), 3);
}

/// POSTs a JimmyAI preview clone create: status, answer, and whether `Retry-After` came.
async fn jimmy_clone(sim: &SimHandle) -> (u16, Value, bool) {
    let r = client()
        .post(format!(
            "{}/api/open-api/v1/soundCloning/clones",
            sim.base_url()
        ))
        .bearer_auth(sim.api_key())
        .json(&json!({"fileUrl": "https://example.com/a.wav"}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let retry_after = r.headers().contains_key("retry-after");
    (status, r.json().await.unwrap_or(Value::Null), retry_after)
}

/// JimmyAI tasks (and VMEG async creates without a webhook) have nobody the simulator
/// knows of waiting for them: at `max_tasks` with nothing finished, the oldest of them was
/// evicted while its client still polled it. The third create was billed and the first
/// answered "not found": a client may submit again and pay twice. Now an unfinished task
/// is never evicted by the bounds: the third create is refused (503, `Retry-After`, not
/// billed) and the first still answers `queued`.
#[tokio::test]
async fn unfinished_tasks_are_not_evicted_and_a_full_table_refuses_new_creates() {
    let sim = Simulator::start_with(common::keyed(
        SimConfig::default()
            .with_durations(Duration::from_secs(3600), Duration::from_secs(3600))
            .with_task_limits(2, Duration::from_secs(3600)),
    ))
    .await
    .unwrap();
    let (st, first, _) = jimmy_clone(&sim).await;
    assert_eq!((st, &first["code"]), (200, &json!(20000)), "{first}");
    let (st, v, _) = jimmy_clone(&sim).await;
    assert_eq!(st, 200, "{v}");
    let (st, v, retry_after) = jimmy_clone(&sim).await;
    assert_eq!(st, 503, "{v}");
    assert_eq!(v["code"], -1, "{v}");
    assert!(retry_after);
    assert_eq!(sim.billable("jimmyai.createClone"), 2);
    assert_eq!(sim.evicted().0, 0);
    let id = first["data"]["id"].as_str().unwrap();
    let (st, v) = get(&sim, &format!("/api/open-api/v1/audios/{id}")).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["data"]["status"], "queued", "{v}");
    // VMEG async creates without a webhook likewise.
    let sim = Simulator::start_with(common::keyed(
        SimConfig::default()
            .with_durations(Duration::from_secs(3600), Duration::from_secs(3600))
            .with_task_limits(2, Duration::from_secs(3600)),
    ))
    .await
    .unwrap();
    let clone = json!({"refAudio": "https://example.com/a.wav"});
    let path = "/openapi/v1/task/clone-voice/create-async";
    let (st, first) = vmeg_post(&sim, path, "u1", clone.clone()).await;
    assert_eq!(st, 200, "{first}");
    assert_eq!(vmeg_post(&sim, path, "u2", clone.clone()).await.0, 200);
    assert_eq!(vmeg_post(&sim, path, "u3", clone).await.0, 503);
    assert_eq!(sim.billable("vmeg.cloneVoiceCreateAsync"), 2);
    let id = first["data"]["taskId"].as_str().unwrap();
    let (st, v) = get(&sim, &format!("/openapi/v1/tasks/detail?taskId={id}")).await;
    assert_eq!(st, 200, "{v}");
}

/// The `Debug` of `SimHandle` and `SimConfig` was derived: it printed every task's text,
/// every uploaded file's bytes (megabytes), webhook bodies and the API key and webhook
/// secret unredacted, into any failing test's output. Now it shows the base URL, counts and
/// the settings, with the key and the secret `[redacted]`.
#[tokio::test]
async fn debug_output_is_small_and_holds_no_secret() {
    let key = "sim-debug-key-0123456789";
    let secret = "whsec-debug-secret-9876543210";
    let cfg = SimConfig::default()
        .with_speed(1000.0)
        .with_api_key(key)
        .with_webhook("http://127.0.0.1:9/hook", secret);
    for shown in [format!("{cfg:?}"), format!("{cfg:#?}")] {
        assert!(!shown.contains(key) && !shown.contains(secret), "{shown}");
        assert!(
            shown.contains("[redacted]") && shown.len() < 4096,
            "{shown}"
        );
    }
    let sim = Simulator::start_with(common::keyed(cfg)).await.unwrap();
    let (st, v) = jimmy_upload(&sim, "big.wav", 1 << 20, None).await.unwrap();
    assert_eq!((st, &v["code"]), (200, &json!(20000)), "{v}");
    let text = "t".repeat(100_000);
    let (st, v) = vmeg_post(
        &sim,
        "/openapi/v1/task/tts/create-async",
        "dbg",
        json!({"data": [{"text": text, "voiceId": "sv_en_us_female_01"}]}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    for shown in [
        format!("{sim:?}"),
        format!("{sim:#?}"),
        format!("{:?}", sim.config()),
    ] {
        assert!(shown.len() < 4096, "{} bytes", shown.len());
        assert!(!shown.contains(key), "the API key is shown: {shown}");
        assert!(
            !shown.contains(secret),
            "the webhook secret is shown: {shown}"
        );
        assert!(
            !shown.contains("ttttttttttttttttttttt"),
            "a task's text is shown"
        );
    }
    let shown = format!("{sim:?}");
    assert!(
        shown.contains(&sim.base_url()) && shown.contains("uploads: 1"),
        "{shown}"
    );
    sim.shutdown().await;
}

/// A sync create waiting for its (long) task when `shutdown` is called: the client gets
/// no answer, its connection closed, and the port can be bound again at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_at_shutdown_is_cut_off_and_the_port_freed() {
    let sim = Simulator::start_with(common::keyed(
        SimConfig::default().with_durations(Duration::from_secs(3600), Duration::from_secs(1)),
    ))
    .await
    .unwrap();
    let addr = sim.addr();
    let (url, key) = (
        format!("{}/openapi/v1/task/clone-voice/create", sim.base_url()),
        sim.api_key().to_string(),
    );
    let waiting = tokio::spawn(async move {
        client()
            .post(url)
            .bearer_auth(key)
            .header("X-Idempotency-Key", "slow")
            .json(&json!({"refAudio": "https://example.com/a.wav"}))
            .send()
            .await
    });
    for _ in 0..200 {
        if sim.billable("vmeg.cloneVoiceCreate") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sim.billable("vmeg.cloneVoiceCreate"), 1);
    sim.shutdown().await;
    drop(std::net::TcpListener::bind(addr).expect("the port is free after shutdown"));
    let r = waiting.await.unwrap();
    assert!(r.is_err(), "answered after shutdown: {r:?}");
}

/// A JimmyAI upload of a small WAV in one `file` part, under multipart boundary `b`.
async fn jimmy_upload_with_boundary(sim: &SimHandle, b: &str) -> (u16, Value) {
    let body = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nRIFF\r\n--{b}--\r\n"
    );
    let r = client()
        .post(format!("{}/api/open-api/v1/files/upload", sim.base_url()))
        .bearer_auth(sim.api_key())
        .header("content-type", format!("multipart/form-data; boundary={b}"))
        .body(body)
        .send()
        .await
        .expect("answered");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The multipart boundary had no length limit (multer takes any): a 16 KiB boundary made
/// the parser search every frame for it, work proportional to its length, while holding
/// one of the two upload slots. Now a boundary over 70 characters (RFC 2046) is refused
/// with the vendor's bad request before a slot is taken; 70 still works.
#[tokio::test]
async fn a_multipart_boundary_over_70_characters_is_refused() {
    let sim = Simulator::start_with(common::keyed(SimConfig::default()))
        .await
        .unwrap();
    for len in [71, 16 * 1024] {
        let (status, v) = jimmy_upload_with_boundary(&sim, &"b".repeat(len)).await;
        assert_eq!(status, 200, "{len}: {v}");
        assert_eq!(v["code"], 20002, "{len}: {v}");
        assert!(
            v["msg"].as_str().unwrap().contains("boundary"),
            "{len}: {v}"
        );
    }
    let (status, v) = jimmy_upload_with_boundary(&sim, &"b".repeat(70)).await;
    assert_eq!((status, &v["code"]), (200, &json!(20000)), "{v}");
    sim.shutdown().await;
}

const CLONE_ASYNC: &str = "/openapi/v1/task/clone-voice/create-async";
const CLONE_LIST: &str = "/openapi/v1/assets/voice/clone/list";

/// `clone/list` with `searchName` lowercased every stored voice's name under the state
/// lock, and a name was bounded only by the 1 MiB body: 64 voices named with a megabyte
/// each made one search take a second (debug build), and every other request (a
/// `tasks/detail` poll here) waited for it: with two clients searching, the median poll
/// took 1.2 to 2.7 s. Now a voice's text is bounded per field (the names here are
/// refused) and the search reads a case-folded copy made when the name is set, allocating
/// nothing per voice; whatever the hostile client managed to store, polls keep being
/// answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_search_does_not_hold_the_simulator() {
    let sim = Simulator::start_with(common::keyed(SimConfig::default().with_speed(1000.0)))
        .await
        .unwrap();
    let huge = "A".repeat(1_000_000);
    let mut polled = String::new();
    for i in 0..64 {
        let (s, v) = vmeg_post(
            &sim,
            CLONE_ASYNC,
            &format!("huge-{i}"),
            json!({"refAudio": "https://example.com/a.wav", "voiceName": huge}),
        )
        .await;
        assert!(matches!(s, 200 | 400), "{s} {v}");
    }
    let (s, v) = vmeg_post(
        &sim,
        CLONE_ASYNC,
        "polled",
        json!({"refAudio": "https://example.com/a.wav", "voiceName": "polled"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    polled.push_str(v["data"]["taskId"].as_str().unwrap());
    sim.complete_all_now();
    // The baseline: the same polls while the same two clients list the same voices
    // without a name search (a search is all the fix changed), on this machine as loaded
    // as it is now.
    let (base, _) = polls_beside(&sim, &polled, json!({"pageSize": 1})).await;
    let (polls, searches) =
        polls_beside(&sim, &polled, json!({"searchName": "zz", "pageSize": 1})).await;
    assert!(searches > 0);
    // The median, not the slowest: on a loaded machine any one poll may wait, while
    // searches holding the lock made (nearly) every poll wait, each for a search (a
    // second).
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (slowest, n) = (polls.iter().max().copied(), polls.len());
    let (median, baseline) = (median(polls), median(base));
    assert!(
        median < baseline * 5 + Duration::from_millis(100),
        "the median poll took {median:?} ({n} polls, the slowest {slowest:?}) behind \
         {searches} name searches, {baseline:?} behind plain lists"
    );
}

/// Polls task `polled` for 1.5 s, every 20 ms, while two clients post `search` to
/// `clone/list` again and again: how long each poll took, and how many lists were
/// answered.
async fn polls_beside(sim: &SimHandle, polled: &str, search: Value) -> (Vec<Duration>, u32) {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // One client each, made before the clock starts: a new client per request costs
    // more (a debug build, a loaded machine) than the requests measured.
    let searchers: Vec<_> = (0..2)
        .map(|who| {
            let (url, key, stop, search) = (
                format!("{}{CLONE_LIST}", sim.base_url()),
                sim.api_key().to_owned(),
                stop.clone(),
                search.clone(),
            );
            let http = client();
            tokio::spawn(async move {
                let mut n = 0u32;
                while !stop.load(Ordering::SeqCst) {
                    let r = http
                        .post(&url)
                        .bearer_auth(&key)
                        .header("X-Idempotency-Key", format!("search-{who}-{n}"))
                        .json(&search)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200);
                    r.bytes().await.unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let http = client();
    let detail = format!("{}/openapi/v1/tasks/detail?taskId={polled}", sim.base_url());
    let mut polls = Vec::new();
    let until = std::time::Instant::now() + Duration::from_millis(1_500);
    while std::time::Instant::now() < until {
        let started = std::time::Instant::now();
        let r = http
            .get(&detail)
            .bearer_auth(sim.api_key())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
        polls.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let mut searches = 0;
    for s in searchers {
        searches += s.await.unwrap();
    }
    (polls, searches)
}

/// A clone's voice keeps its `voiceName`, `sampleText`, `sampleLanguage` and `refAudio`,
/// each bounded only by the 1 MiB body before (VMEG's own limits are UNKNOWN, api-facts
/// A17.3). Now each has a tolerant bound, and a longer one is refused with 400 naming
/// the field and its bound, on create and on `clone/update`, with nothing made or
/// billed; a value at the bound is still taken.
#[tokio::test]
async fn a_voice_text_over_its_bound_is_refused() {
    let sim = Simulator::start_with(common::keyed(SimConfig::default().with_speed(1000.0)))
        .await
        .unwrap();
    let url = |n: usize| format!("https://example.com/{}.wav", "a".repeat(n - 24));
    assert_eq!(url(8192).len(), 8192);
    // (field, bound, a value one byte over (multi-byte characters where it can be), one at it)
    let cases: Vec<(&str, usize, String, String)> = vec![
        ("voiceName", 1024, "é".repeat(512) + "a", "é".repeat(512)),
        ("sampleLanguage", 1024, "x".repeat(1025), "x".repeat(1024)),
        (
            "sampleText",
            16_384,
            "字".repeat(5_461) + "ab",
            "字".repeat(5_461) + "a",
        ),
        ("refAudio", 8192, url(8193), url(8192)),
    ];
    for (i, (field, bound, over, at)) in cases.iter().enumerate() {
        assert_eq!(over.len(), bound + 1, "{field}");
        assert_eq!(at.len(), *bound, "{field}");
        for path in ["/openapi/v1/task/clone-voice/create", CLONE_ASYNC] {
            let mut body = json!({"refAudio": "https://example.com/a.wav"});
            body[*field] = json!(over);
            let (s, v) = vmeg_post(&sim, path, &format!("over-{i}"), body).await;
            assert_eq!(
                (s, v["code"].as_i64()),
                (400, Some(400)),
                "{field} {path}: {v}"
            );
            let msg = v["message"].as_str().unwrap();
            assert!(msg.contains(&format!("`{field}`")), "{msg}");
            assert!(msg.contains(&bound.to_string()), "{msg}");
        }
        let mut body = json!({"refAudio": "https://example.com/a.wav"});
        body[*field] = json!(at);
        let (s, v) = vmeg_post(&sim, CLONE_ASYNC, &format!("at-{i}"), body).await;
        assert_eq!(s, 200, "{field} at its bound: {v}");
    }
    assert_eq!(
        sim.stats().billable_total(),
        4,
        "refused creates are not billed"
    );
    sim.complete_all_now();
    let (_, v) = vmeg_post(&sim, CLONE_LIST, "list", json!({"pageSize": 10})).await;
    assert_eq!(v["data"]["total"], 4, "{v}");
    let voice = v["data"]["records"][0]["voiceId"]
        .as_str()
        .unwrap()
        .to_string();
    let rename = "/openapi/v1/assets/voice/clone/update";
    let over = "n".repeat(1025);
    let (s, v) = vmeg_post(
        &sim,
        rename,
        "rename-over",
        json!({"voiceId": voice, "voiceName": over}),
    )
    .await;
    assert_eq!((s, v["code"].as_i64()), (400, Some(400)), "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("`voiceName`"),
        "{v}"
    );
    let at = "Ö".repeat(512);
    let (s, v) = vmeg_post(
        &sim,
        rename,
        "rename-at",
        json!({"voiceId": voice, "voiceName": at}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    // The search still folds case, on the renamed name too.
    let (_, v) = vmeg_post(&sim, CLONE_LIST, "search", json!({"searchName": "öÖ"})).await;
    assert_eq!(v["data"]["total"], 1, "{v}");
    assert_eq!(v["data"]["records"][0]["voiceId"], voice.as_str());
    assert_eq!(v["data"]["records"][0]["name"], at.as_str());
    sim.shutdown().await;
}

/// `tasks/delete` of a task whose sync create is still waiting (tasks of an hour): nothing
/// woke the create, which answered only at the task's old due time (the client's timeout
/// first). Now the delete wakes it: it answers at once, 502 "deleted while running", and
/// the create stays billed (the crate's UNKNOWN table).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_task_answers_its_waiting_sync_create_at_once() {
    let sim = Arc::new(
        Simulator::start_with(common::keyed(
            SimConfig::default()
                .with_durations(Duration::from_secs(3600), Duration::from_secs(3600)),
        ))
        .await
        .unwrap(),
    );
    let s2 = sim.clone();
    let sync = tokio::spawn(async move {
        let tts = json!({"data": [{"text": "hi", "voiceId": "sv_en_us_female_01"}]});
        vmeg_post(&s2, "/openapi/v1/task/tts/create", "sync-del", tts).await
    });
    let mut id = None;
    for _ in 0..500 {
        let (st, v) = get(&sim, "/openapi/v1/tasks/list").await;
        assert_eq!(st, 200, "{v}");
        if let Some(t) = v["data"]["records"][0]["taskId"].as_str() {
            id = Some(t.to_owned());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let id = id.expect("the sync create made its task");
    let (st, v) = vmeg_post(
        &sim,
        "/openapi/v1/tasks/delete",
        "del-1",
        json!({"taskId": id}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = tokio::time::timeout(Duration::from_secs(10), sync)
        .await
        .expect("the sync create still waited for its deleted task")
        .unwrap();
    assert_eq!(st, 502, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("deleted while running"),
        "{v}"
    );
    assert_eq!(sim.billable("vmeg.ttsCreate"), 1);
}

/// A client that sends its request and then shuts its sending side (`shutdown(SHUT_WR)`,
/// `nc -N`, Go's `CloseWrite`) was answered by a closed connection: hyper, not allowed
/// half-closed connections, read the end of the stream before it ran the handler and
/// dropped the request; a sync create cut off that way was billed with no answer. Now
/// both a `tasks/list` and a sync create are answered.
#[tokio::test]
async fn a_client_that_half_closes_after_its_request_is_answered() {
    let sim = Simulator::start_with(common::keyed(
        SimConfig::default().with_durations(Duration::from_millis(200), Duration::from_millis(200)),
    ))
    .await
    .unwrap();
    let key = sim.api_key().to_string();
    let list = format!(
        "GET /openapi/v1/tasks/list HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n"
    );
    let out = raw_send_then_close(sim.addr(), list.as_bytes()).await;
    assert!(out.starts_with("HTTP/1.1 200"), "tasks/list: {out:.300}");
    let body = json!({"data": [{"text": "hi", "voiceId": "sv_en_us_female_01"}]}).to_string();
    let create = format!(
        "POST /openapi/v1/task/tts/create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
         X-Idempotency-Key: half-closed\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let out = raw_send_then_close(sim.addr(), create.as_bytes()).await;
    assert!(out.starts_with("HTTP/1.1 200"), "sync create: {out:.300}");
    assert!(out.contains("\"taskId\""), "{out:.300}");
    assert_eq!(sim.billable("vmeg.ttsCreate"), 1);
    sim.shutdown().await;
}

/// The cost of answering half-closed clients, bounded: a client gone (both sides closed)
/// while its sync create waits is not seen until the answer is written, so its connection
/// stays open (in flight, never evicted) until the task is due; moving the clock past the
/// due time, as `tasks/delete` or `complete_all_now` would, ends it.
#[tokio::test]
async fn a_client_gone_during_a_sync_create_holds_its_connection_only_until_the_task_is_due() {
    let hour = Duration::from_secs(3600);
    let sim = Simulator::start_with(common::keyed(
        SimConfig::default().with_durations(hour, hour),
    ))
    .await
    .unwrap();
    let key = sim.api_key().to_string();
    let body = json!({"data": [{"text": "hi", "voiceId": "sv_en_us_female_01"}]}).to_string();
    let create = format!(
        "POST /openapi/v1/task/tts/create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\
         X-Idempotency-Key: gone\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    s.write_all(create.as_bytes()).await.unwrap();
    for _ in 0..500 {
        if sim.billable("vmeg.ttsCreate") == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sim.billable("vmeg.ttsCreate"), 1, "the create was not made");
    drop(s);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(sim.open_connections(), 1, "the waiting create's connection");
    sim.advance_clock(2 * hour);
    for _ in 0..500 {
        if sim.open_connections() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sim.open_connections(), 0, "held past the task's due time");
    sim.shutdown().await;
}

/// A JimmyAI `fileUrl` was checked for its scheme and extension only: up to the 1 MiB
/// body, kept by the task and by its create record, and copied by every `stats()` under
/// the lock each create takes. Now it is bounded as VMEG's `refAudio` is, 8 KiB: one byte
/// over gets the vendor's bad request naming the field and its bound, nothing made or
/// billed; a URL at the bound is still taken.
#[tokio::test]
async fn a_jimmyai_file_url_over_8_kib_is_refused() {
    let sim = Simulator::start_with(common::keyed(SimConfig::default().with_speed(1000.0)))
        .await
        .unwrap();
    let url = |n: usize| format!("https://example.com/{}.wav", "a".repeat(n - 24));
    let clone = |file_url: String| {
        let sim = &sim;
        async move {
            let r = client()
                .post(format!(
                    "{}/api/open-api/v1/soundCloning/clones",
                    sim.base_url()
                ))
                .bearer_auth(sim.api_key())
                .json(&json!({"fileUrl": file_url}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(url(8193).len(), 8193);
    let (status, v) = clone(url(8193)).await;
    assert_eq!((status, &v["code"]), (200, &json!(20002)), "{v}");
    let msg = v["msg"].as_str().unwrap();
    assert!(msg.contains("`fileUrl`") && msg.contains("8192"), "{msg}");
    assert_eq!(sim.billable("jimmyai.createClone"), 0);
    let (status, v) = clone(url(8192)).await;
    assert_eq!((status, &v["code"]), (200, &json!(20000)), "{v}");
    assert_eq!(sim.billable("jimmyai.createClone"), 1);
    sim.shutdown().await;
}

/// `duplicate_logical_calls` keyed on `extraData` whole whenever it was sent: a client
/// sending a constant one (`{}`, `{"tenant":"acme"}`) had every two different creates
/// reported as one call billed twice. Now `extraData` names the call only through
/// voiceclone's `extraData.voiceclone.idempotencyKey`; otherwise the creates are grouped
/// by body and key as without it.
#[tokio::test]
async fn a_constant_extra_data_does_not_make_different_creates_a_duplicate() {
    let sim = Simulator::start_with(common::keyed(SimConfig::default().with_speed(1000.0)))
        .await
        .unwrap();
    let tts = |text: &str, extra: Value| json!({"data": [{"text": text, "voiceId": "sv_en_us_female_01"}], "extraData": extra});
    let path = "/openapi/v1/task/tts/create-async";
    for (key, text) in [("c1", "one"), ("c2", "two")] {
        assert_eq!(
            vmeg_post(&sim, path, key, tts(text, json!({}))).await.0,
            200
        );
    }
    let clone = |name: &str| {
        json!({"refAudio": "https://example.com/a.wav", "voiceName": name,
               "extraData": {"tenant": "acme"}})
    };
    let clone_path = "/openapi/v1/task/clone-voice/create-async";
    for (key, name) in [("n1", "One"), ("n2", "Two")] {
        assert_eq!(vmeg_post(&sim, clone_path, key, clone(name)).await.0, 200);
    }
    let d = sim.stats().duplicate_logical_calls();
    assert!(d.is_empty(), "different creates reported as one: {d:?}");
    // voiceclone's own key in `extraData` still names the call, whatever the body.
    let mine = json!({"voiceclone": {"idempotencyKey": "vk-1"}, "tenant": "acme"});
    for (key, text) in [("v1", "three"), ("v2", "four")] {
        assert_eq!(
            vmeg_post(&sim, path, key, tts(text, mine.clone())).await.0,
            200
        );
    }
    let d = sim.stats().duplicate_logical_calls();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].1, 2, "{d:?}");
    assert!(d[0].0.contains("vk-1"), "{d:?}");
    sim.shutdown().await;
}
