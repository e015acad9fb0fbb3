//! Bounded under abuse, over loopback: slow and idle connections are closed, their number
//! is capped, evicted tasks answer as unknown ids.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::client;

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use voiceclone_sim::{SimConfig, SimHandle, Simulator};

/// Reads until the server closes; what it sent. Fails if it is still open after 10 s
/// (the timeouts under test are 200 ms: the margin is for a loaded machine).
async fn read_until_closed(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    match r {
        Ok(Ok(_)) => {}
        // A reset also means closed.
        Ok(Err(e)) => assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ),
            "{e}"
        ),
        Err(_) => panic!("the server kept the connection open"),
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn short_timeouts(max_connections: usize) -> SimHandle {
    Simulator::start_with(common::keyed(
        SimConfig::default()
            .with_speed(50.0)
            .with_connection_limits(
                max_connections,
                Duration::from_millis(200),
                Duration::from_millis(200),
            ),
    ))
    .await
    .unwrap()
}

#[tokio::test]
async fn header_drip_and_idle_keep_alive_connections_are_closed() {
    let sim = short_timeouts(64).await;
    // Half a request line, then nothing.
    let mut drip = TcpStream::connect(sim.addr()).await.unwrap();
    drip.write_all(b"GET /openapi/v1/tasks/li").await.unwrap();
    read_until_closed(&mut drip).await;
    // A connection that never sends a byte.
    let mut silent = TcpStream::connect(sim.addr()).await.unwrap();
    read_until_closed(&mut silent).await;
    // A keep-alive connection after one full answer.
    let mut idle = TcpStream::connect(sim.addr()).await.unwrap();
    idle.write_all(
        format!(
            "GET /openapi/v1/tasks/list HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
            sim.api_key()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let answer = read_until_closed(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    for _ in 0..500 {
        if sim.open_connections() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sim.open_connections(), 0);
}

#[tokio::test]
async fn body_drip_gets_408_and_is_closed() {
    let sim = short_timeouts(64).await;
    for (path, auth) in [
        ("/openapi/v1/task/clone-voice/create", true),
        ("/api/open-api/v1/soundCloning/clones", true),
    ] {
        let mut s = TcpStream::connect(sim.addr()).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nX-Idempotency-Key: drip\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"refAudio\"",
            if auth { sim.api_key() } else { "" }
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let answer = read_until_closed(&mut s).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
    }
    assert_eq!(sim.task_count(), 0);
    // The key of the dripping request was not used up.
    let v: Value = client()
        .post(format!(
            "{}/openapi/v1/task/clone-voice/create-async",
            sim.base_url()
        ))
        .bearer_auth(sim.api_key())
        .header("X-Idempotency-Key", "drip")
        .json(&json!({"refAudio": "https://example.com/a.wav"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["code"], 200, "{v}");
}

#[tokio::test]
async fn the_connection_cap_closes_idle_connections_and_keeps_answering() {
    // Long timeouts: only the cap can close these.
    let sim = Simulator::start_with(common::keyed(SimConfig::default().with_connection_limits(
        4,
        Duration::from_secs(600),
        Duration::from_secs(600),
    )))
    .await
    .unwrap();
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(TcpStream::connect(sim.addr()).await.unwrap());
    }
    for _ in 0..5 {
        let r = client()
            .get(format!("{}/openapi/v1/tasks/list", sim.base_url()))
            .bearer_auth(sim.api_key())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    // Let the accept loop catch up with the last connection's end (a generous deadline: a
    // loaded machine can take more than a second).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while sim.open_connections() > 4 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(sim.open_connections() <= 4, "{}", sim.open_connections());
    let st = sim.stats();
    assert!(st.connections_evicted >= 16, "{st:?}");
    assert_eq!(st.connections_refused, 0, "{st:?}");
    // The oldest idle connections were closed by the server.
    let mut first = idle.remove(0);
    read_until_closed(&mut first).await;
}

#[tokio::test]
async fn evicted_tasks_answer_as_unknown_ids() {
    let sim = Simulator::start_with(common::keyed(
        SimConfig::default()
            .with_speed(1000.0)
            .with_task_limits(2, Duration::from_secs(3600)),
    ))
    .await
    .unwrap();
    let http = client();
    let mut ids = Vec::new();
    for k in ["e1", "e2", "e3"] {
        let v: Value = http
            .post(format!(
                "{}/openapi/v1/task/clone-voice/create-async",
                sim.base_url()
            ))
            .bearer_auth(sim.api_key())
            .header("X-Idempotency-Key", k)
            .json(&json!({"refAudio": "https://example.com/a.wav"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(v["data"]["taskId"].as_str().unwrap().to_owned());
        sim.complete_all_now();
    }
    assert_eq!(sim.task_count(), 2);
    let detail = |id: &str| {
        http.get(format!(
            "{}/openapi/v1/tasks/detail?taskId={id}",
            sim.base_url()
        ))
        .bearer_auth(sim.api_key())
        .send()
    };
    let r = detail(&ids[0]).await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], 404, "{v}");
    assert_eq!(detail(&ids[2]).await.unwrap().status().as_u16(), 200);

    // By age: finished tasks older than task_retention go too.
    sim.advance_clock(Duration::from_secs(3601));
    assert_eq!(detail(&ids[2]).await.unwrap().status().as_u16(), 404);
    assert_eq!(sim.task_count(), 0);
    assert_eq!(sim.evicted().0, 3);
    // The voices the clones made stay in the library.
    let v: Value = http
        .post(format!(
            "{}/openapi/v1/assets/voice/clone/list",
            sim.base_url()
        ))
        .bearer_auth(sim.api_key())
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"]["total"], 3, "{v}");
}

#[tokio::test]
async fn webhooks_fire_at_each_task_due_time_and_on_clock_moves() {
    // A receiver that always answers 200.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    // Clone tasks of an hour at speed 1: nothing is due before the clock is moved, however
    // long a slow machine takes to create them (with the default 2 s, it could be).
    let sim = Simulator::start_with(common::keyed(
        SimConfig::default()
            .with_durations(Duration::from_secs(3600), Duration::from_secs(3600))
            .with_webhook(url, "secret"),
    ))
    .await
    .unwrap();
    let http = client();
    for k in 0..50 {
        let r = http
            .post(format!(
                "{}/openapi/v1/task/clone-voice/create-async",
                sim.base_url()
            ))
            .bearer_auth(sim.api_key())
            .header("X-Idempotency-Key", format!("w{k}"))
            .json(&json!({"refAudio": "https://example.com/a.wav"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    assert!(sim.webhook_deliveries().is_empty());
    // Moving the clock wakes every waiting delivery.
    sim.advance_clock(Duration::from_secs(3600 + 5));
    let d = sim.wait_for_deliveries(50, Duration::from_secs(20)).await;
    assert_eq!(d.len(), 50);
    assert!(d.iter().all(|d| d.status == Some(200)));
}

#[tokio::test]
async fn routes_wrong_methods_and_unknown_paths_get_each_vendor_s_not_found() {
    // A key of the test's own (as every simulator here): a request from another test's
    // client that reaches this port is refused with 401, and so known for a stray below.
    let sim = Simulator::start_with(common::keyed(SimConfig::default()))
        .await
        .unwrap();
    let http = client();
    let base = sim.base_url();
    let send = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{base}{path}"))
            .bearer_auth(sim.api_key())
            .send()
    };
    // A trailing slash is the same route.
    let r = send(reqwest::Method::GET, "/openapi/v1/tasks/list/")
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Wrong method, unknown path: the VMEG envelope with code 404.
    for (m, p) in [
        (reqwest::Method::POST, "/openapi/v1/tasks/list"),
        (reqwest::Method::GET, "/openapi/v1/no/such/thing"),
    ] {
        let r = send(m, p).await.unwrap();
        assert_eq!(r.status().as_u16(), 404, "{p}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["code"], 404, "{p}: {v}");
    }
    // JimmyAI: its not-found envelope (code 20002, HTTP 200 by default).
    let r = send(reqwest::Method::GET, "/api/open-api/v1/nothing")
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], 20002, "{v}");
    let r = send(reqwest::Method::GET, "/elsewhere").await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let st = sim.stats();
    // Each count may exceed this test's by the stray requests refused for their key.
    let strays = common::strays(&st);
    for (op, want) in [
        ("vmeg.tasksList", 1),
        ("vmeg.unknown", 2),
        ("jimmyai.unknown", 1),
        ("unknown", 1),
    ] {
        let got = st.requests(op);
        assert!(
            (want..=want + strays).contains(&got),
            "{op}: {got} requests, {want} expected ({strays} stray requests)"
        );
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_its_answer_is_disconnected() {
    // A generous body-read timeout, so that the 16 MB upload itself arrives on a loaded
    // machine; only the answer's write has a short one.
    let mut config = SimConfig::default()
        .with_speed(50.0)
        .with_connection_limits(64, Duration::from_millis(200), Duration::from_secs(60));
    config.response_write_timeout = Duration::from_millis(200);
    let sim = Simulator::start_with(common::keyed(config)).await.unwrap();
    // A 16 MB upload, then a download of it that is never read: the answer
    // outgrows the socket buffers and the server's writes stall.
    let path = upload_16_mib(&sim).await;
    let mut s = TcpStream::connect(sim.addr()).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    // Never read. The server gives up on the write and closes the connection.
    for _ in 0..1000 {
        if sim.open_connections() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        sim.open_connections(),
        0,
        "the stalled connection is still open"
    );
    drop(s);
}

/// Size of [`upload_16_mib`]'s file: larger than the socket buffers, so that its download
/// is written over many round trips.
const BIG: usize = 16 * 1024 * 1024;

/// Uploads a [`BIG`] file to JimmyAI; the path of its download URL.
async fn upload_16_mib(sim: &SimHandle) -> String {
    let file = vec![7u8; BIG];
    let url = common::jimmy_upload(&sim.base_url(), sim.api_key(), "big.wav", &file).await;
    url.trim_start_matches(&sim.base_url()).to_owned()
}

/// A download's handler returns before hyper writes its body; the connection counted as
/// idle meanwhile, and the cap closed it in the middle of the body to admit new ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_in_progress_is_not_evicted_as_idle() {
    let config = SimConfig::default().with_connection_limits(
        2,
        Duration::from_secs(30),
        Duration::from_secs(30),
    );
    let sim = Simulator::start_with(common::keyed(config)).await.unwrap();
    let path = upload_16_mib(&sim).await;
    let mut download = TcpStream::connect(sim.addr()).await.unwrap();
    download
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut got = vec![0u8; 64 * 1024];
    let n = download.read(&mut got).await.unwrap();
    let head = String::from_utf8_lossy(&got[..n]).to_ascii_lowercase();
    assert!(
        head.contains(&format!("content-length: {BIG}\r\n")),
        "the download lost its length: {head:.300}"
    );
    // The download is under way, read slowly: two more clients connect, each past the cap.
    let mut others = Vec::new();
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        others.push(TcpStream::connect(sim.addr()).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut rest = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(20), download.read_to_end(&mut rest)).await;
    let total = n + rest.len();
    assert!(
        total > BIG,
        "download cut off after {total} of {BIG} bytes ({r:?}); evicted {}",
        sim.stats().connections_evicted
    );
    // The cap was reached: an idle connection went instead.
    let st = sim.stats();
    assert!(st.connections_evicted >= 1, "{st:?}");
    assert_eq!(st.connections_refused, 0, "{st:?}");
}

/// Bound to `0.0.0.0`, the simulator handed out URLs naming `http://0.0.0.0:PORT` (TTS
/// `uri`, JimmyAI `url`, material `uploadUrl` and `addressUrl`), which a client on another
/// host or container resolves to its own machine. With `public_base_url` set, every URL
/// handed out names it, and the files are served at the same paths.
#[tokio::test]
async fn urls_handed_out_name_a_reachable_host() {
    let public = "http://sim.test:8080";
    let sim = Simulator::start_with(common::keyed(
        SimConfig::default()
            .with_bind("0.0.0.0:0".parse().unwrap())
            .with_public_base_url(format!("{public}/")),
    ))
    .await
    .unwrap();
    assert_eq!(sim.base_url(), public);
    let real = format!("http://127.0.0.1:{}", sim.addr().port());
    let mut body =
        b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n"
            .to_vec();
    body.extend_from_slice(b"RIFF....WAVEbytes");
    body.extend_from_slice(b"\r\n--B--\r\n");
    let r = client()
        .post(format!("{real}/api/open-api/v1/files/upload"))
        .bearer_auth(sim.api_key())
        .header("content-type", "multipart/form-data; boundary=B")
        .body(body)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    let url = v["data"]["url"].as_str().unwrap_or_default().to_owned();
    assert!(url.starts_with(&format!("{public}/sim/files/")), "{v}");
    let served = client()
        .get(url.replace(public, &real))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
    let r = client()
        .post(format!(
            "{real}/openapi/v1/assets/material/upload/gen-upload-url"
        ))
        .bearer_auth(sim.api_key())
        .header("X-Idempotency-Key", "public-1")
        .json(&json!({"fileHash": "0123456789abcdef0123456789abcdef", "fileName": "a.wav"}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    let upload = v["data"]["uploadUrl"].as_str().unwrap_or_default();
    assert!(upload.starts_with(&format!("{public}/sim/storage/")), "{v}");
    assert!(!upload.starts_with("http://0.0.0.0"));
    sim.shutdown().await;
}

/// A public base URL that is not an absolute http(s) URL without query or fragment is
/// refused at start.
#[test]
fn a_public_base_url_must_be_a_plain_http_url() {
    for bad in [
        "",
        "sim:8080",
        "ftp://sim",
        "http://",
        "http://sim/?a=1",
        "http://s m",
        // Review 26 pass 2 (sim) #4: a path prefix is not stripped (every call would be
        // answered 404), and credentials break presigned PUTs and are printed.
        "https://sim.example/prefix/",
        "http://sim:8080/api",
        "http://u:p@sim:8080",
    ] {
        assert!(
            SimConfig::default()
                .with_public_base_url(bad)
                .validate()
                .is_err(),
            "{bad:?} accepted"
        );
    }
    for good in [
        "http://sim:8080",
        "https://sim.example/",
        "http://[::1]:8080",
    ] {
        SimConfig::default()
            .with_public_base_url(good)
            .validate()
            .unwrap();
    }
}

/// Review 35-a #1: a request with a wrong or missing key, or to a path outside both vendor
/// roots, or a PUT to an unknown upload URL, dripping its body a byte at a time, is
/// answered and closed within about a second, and the slot it held serves a keyed client.
/// Before, each was drained for the whole `body_read_timeout` before its answer, counted
/// in flight all along, so that `max_connections` such strangers refused everyone else.
#[tokio::test]
async fn strangers_dripping_a_body_are_answered_and_closed_and_free_their_slots() {
    // Long timeouts: only the bound on a stranger's drain can end these.
    let sim = Simulator::start_with(common::keyed(SimConfig::default().with_connection_limits(
        4,
        Duration::from_secs(600),
        Duration::from_secs(600),
    )))
    .await
    .unwrap();
    strangers_drip_and_are_answered_and_closed(&sim).await;
    let r = client()
        .get(format!("{}/openapi/v1/tasks/list", sim.base_url()))
        .bearer_auth(sim.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

/// Review 35 pass 2c #3: with faults on, the strangers of the test above are still
/// answered as strangers and closed within about a second: a request no credential vouches
/// for draws no fault and takes no scripted one. Before, the fault came first: a 503 drained
/// the stranger's body for the whole `body_read_timeout`, a latency slept first, both
/// holding its slot, so that with `--fault 503=0.2` strangers pinned every slot again; and
/// strangers used up the faults a test scripted for its own calls.
#[tokio::test]
async fn strangers_dripping_a_body_take_no_fault_and_free_their_slots() {
    for faults in ["503=1", "latency=1:60s"] {
        let sim = Simulator::start_with(common::keyed(
            SimConfig::default()
                .with_faults(faults.parse().unwrap())
                .with_connection_limits(4, Duration::from_secs(600), Duration::from_secs(600)),
        ))
        .await
        .unwrap();
        sim.fail_next(
            "vmeg.cloneVoiceCreate",
            voiceclone_sim::FaultKind::Http503,
            1,
        )
        .unwrap();
        strangers_drip_and_are_answered_and_closed(&sim).await;
        assert_eq!(sim.scripted_pending("vmeg.cloneVoiceCreate"), 1, "{faults}");
        let st = sim.stats();
        assert!(
            st.faults_by_kind.is_empty(),
            "{faults}: {:?}",
            st.faults_by_kind
        );
        for _ in 0..500 {
            if sim.open_connections() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(sim.open_connections(), 0, "{faults}");
    }
    // A keyed request still gets the fault.
    let sim = Simulator::start_with(common::keyed(
        SimConfig::default().with_faults("503=1".parse().unwrap()),
    ))
    .await
    .unwrap();
    let r = client()
        .get(format!("{}/openapi/v1/tasks/list", sim.base_url()))
        .bearer_auth(sim.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
}

/// A request with a wrong or missing key, one to a path outside both vendor roots, and a
/// PUT to an unknown upload URL, each dripping its body a byte at a time: each is answered
/// as a stranger (not 2xx, `Connection: close`) and closed within 20 s.
async fn strangers_drip_and_are_answered_and_closed(sim: &SimHandle) {
    let cases = [
        ("/openapi/v1/task/clone-voice/create", "Bearer wrong", "401"),
        // JimmyAI's refusal is a 200 with its own code.
        ("/api/open-api/v1/soundCloning/clones", "", "200"),
        ("/v1/openapi/v1/task/clone-voice/create", "", "404"),
        ("/sim/storage/none?X-Sim-Signature=x", "", "403"),
    ];
    let mut drips = Vec::new();
    for (path, auth, want) in cases {
        let s = TcpStream::connect(sim.addr()).await.unwrap();
        let (mut rd, mut wr) = s.into_split();
        let method = if path.starts_with("/sim/storage") {
            "PUT"
        } else {
            "POST"
        };
        let auth = if auth.is_empty() {
            String::new()
        } else {
            format!("Authorization: {auth}\r\n")
        };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}X-Idempotency-Key: drip\r\nContent-Type: application/json\r\nContent-Length: 60000000\r\n\r\n{{"
        );
        wr.write_all(head.as_bytes()).await.unwrap();
        // One byte every 100 ms until the server closes.
        let dripper = tokio::spawn(async move {
            while wr.write_all(b" ").await.is_ok() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let reader = tokio::spawn(async move {
            let mut out = Vec::new();
            // A generous bound: the drain under test ends after about a second, where
            // before it ran for the 600 s body read timeout.
            let r = tokio::time::timeout(Duration::from_secs(20), rd.read_to_end(&mut out)).await;
            assert!(
                r.is_ok(),
                "{path}: the server kept the dripping stranger's connection"
            );
            (path, want, String::from_utf8_lossy(&out).into_owned())
        });
        drips.push((dripper, reader));
    }
    for (dripper, reader) in drips {
        let (path, want, answer) = reader.await.unwrap();
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {want}")),
            "{path}: {answer}"
        );
        assert!(!answer.contains("\"code\":20000"), "{path}: {answer}");
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{path}: {answer}"
        );
        dripper.abort();
    }
}

/// Review 35 pass 2c #2: keyed JSON bodies that stall once their room in the parse budget is
/// taken hold it only while they keep coming (1 MiB/s after a first second), then get 408
/// and the room goes back: a small create sent meanwhile is answered. Before, each held its
/// room for the whole `body_read_timeout`, so 8 stalled 1 MiB creates (the whole 8 MiB
/// budget) made every other JSON request wait that long, then answered it 503.
#[tokio::test]
async fn stalled_keyed_bodies_do_not_hold_the_parse_budget_from_others() {
    // Long timeouts: only the pace of a body holding room can end these.
    let sim = Simulator::start_with(common::keyed(SimConfig::default().with_connection_limits(
        64,
        Duration::from_secs(600),
        Duration::from_secs(600),
    )))
    .await
    .unwrap();
    let mut stalled = Vec::new();
    for i in 0..8 {
        let mut s = TcpStream::connect(sim.addr()).await.unwrap();
        let head = format!(
            "POST /openapi/v1/task/clone-voice/create HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nX-Idempotency-Key: stall-{i}\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n{{\"refAudio\"",
            sim.api_key()
        );
        s.write_all(head.as_bytes()).await.unwrap();
        stalled.push(s);
    }
    // Time for them to take their room: 8 x 1 MiB, the whole budget.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    // A generous bound: the room comes back after about a second, where before it was held
    // for the 600 s body read timeout.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let r = http
        .post(format!(
            "{}/openapi/v1/task/tts/create-async",
            sim.base_url()
        ))
        .bearer_auth(sim.api_key())
        .header("X-Idempotency-Key", "small")
        .json(&json!({"data": [{"text": "hi", "voiceId": "sv_en_us_male_01"}]}))
        .send()
        .await
        .expect("the small create was not answered while stalled bodies held the budget");
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], 200, "{v}");
    for mut s in stalled {
        let answer = read_until_closed(&mut s).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    }
    assert_eq!(sim.stats().billable("vmeg.cloneVoiceCreate"), 0);
}

/// Review 35-a #3: the simulator's file URLs (an upload's `url`, a result's) answer only
/// GET and HEAD; a PUT, POST or DELETE gets 405 with `Allow: GET, HEAD`, as a CDN or S3
/// refuses it, and the file stays as it was. Before, each was served as a GET: a PUT of a
/// recording to the download URL got 200 (the stored file echoed back), and a client that
/// uploaded to the wrong URL passed on the simulator.
#[tokio::test]
async fn file_urls_answer_only_get_and_head() {
    let sim = Simulator::start_with(common::keyed(SimConfig::default()))
        .await
        .unwrap();
    let file = vec![7u8; 1000];
    let url = common::jimmy_upload(&sim.base_url(), sim.api_key(), "a.wav", &file).await;
    let http = client();
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::POST,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        let r = http
            .request(method.clone(), &url)
            .body(vec![1u8; 500])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 405, "{method}");
        let allow = r.headers().get("allow").and_then(|v| v.to_str().ok());
        assert_eq!(allow, Some("GET, HEAD"), "{method}");
    }
    // An unknown file too: the method is wrong whatever the name.
    let r = http
        .put(format!("{}/sim/files/none.wav", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let r = http.head(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let got = http.get(&url).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(got.as_ref(), file.as_slice(), "the file changed");
}

/// A clone's voice, made at once: its `voiceId`.
async fn clone_voice(sim: &SimHandle, key: &str) -> String {
    let (s, v, _) = common::vmeg_post(
        sim,
        "/openapi/v1/task/clone-voice/create-async",
        key,
        json!({"refAudio": "https://example.com/a.wav"}),
    )
    .await
    .unwrap();
    assert_eq!(s, 200, "{v}");
    let task = v["data"]["taskId"].as_str().unwrap().to_owned();
    sim.complete_all_now();
    let d = common::get(sim, &format!("/openapi/v1/tasks/detail?taskId={task}"))
        .await
        .1;
    d["data"]["result"]["voiceId"].as_str().unwrap().to_owned()
}

/// Review 35-a #4: a deleted voice no longer holds a place under `max_voices` (nor the
/// voices' byte bound), so a live voice is never evicted to make room while a deleted one
/// stays. Before, a delete only marked the voice, eviction took the oldest whatever it
/// was, and a client's live, paid-for voice "disappeared" (TTS 400, "found in neither the
/// system nor the clone voice library") behind another client's clone-and-delete loop.
#[tokio::test]
async fn deleted_voices_make_room_before_any_live_one_is_evicted() {
    let sim = Simulator::start_with(common::keyed(SimConfig {
        max_voices: 2,
        ..SimConfig::default()
    }))
    .await
    .unwrap();
    let kept = clone_voice(&sim, "kept").await;
    for i in 0..3 {
        let gone = clone_voice(&sim, &format!("gone-{i}")).await;
        let (s, v, _) = common::vmeg_post(
            &sim,
            "/openapi/v1/assets/voice/clone/delete",
            &format!("delete-{i}"),
            json!({"voiceId": gone}),
        )
        .await
        .unwrap();
        assert_eq!(s, 200, "{v}");
    }
    let newest = clone_voice(&sim, "newest").await;
    for voice in [&kept, &newest] {
        let (s, v, _) = common::vmeg_post(
            &sim,
            "/openapi/v1/task/tts/create-async",
            &format!("tts-{voice}"),
            json!({"data": [{"text": "hi", "voiceId": voice}]}),
        )
        .await
        .unwrap();
        assert_eq!(s, 200, "{voice}: {v}");
    }
    let (s, l, _) = common::vmeg_post(
        &sim,
        "/openapi/v1/assets/voice/clone/list",
        "list",
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(s, 200, "{l}");
    assert_eq!(l["data"]["total"], 2, "{l}");
}
