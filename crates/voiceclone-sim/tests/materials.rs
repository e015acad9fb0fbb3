//! VMEG materials on the simulator, over loopback HTTP with plain reqwest: the presigned
//! PUT to the simulator itself (never with the API key), MD5 instant upload, size limits,
//! multipart, and a material's `addressUrl` as clone audio.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::wav;

use std::time::Duration;

use md5::{Digest, Md5};
use serde_json::{Value, json};
use voiceclone_sim::{FaultKind, SimConfig, SimHandle, Simulator};

const GEN: &str = "/openapi/v1/assets/material/upload/gen-upload-url";
const COMPLETE: &str = "/openapi/v1/assets/material/upload/complete";
const INITIATE: &str = "/openapi/v1/assets/material/upload/multipart/initiate";
const PRESIGN: &str = "/openapi/v1/assets/material/upload/multipart/presign-parts";
const MP_COMPLETE: &str = "/openapi/v1/assets/material/upload/multipart/complete";
const ABORT: &str = "/openapi/v1/assets/material/upload/multipart/abort";
const CLONE: &str = "/openapi/v1/task/clone-voice/create-async";

struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    /// A simulator with a key of the test's own: a request from another test's client
    /// that reaches it by port reuse is refused, and neither stores nor bills anything.
    async fn start(cfg: SimConfig) -> (SimHandle, Api) {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let cfg = cfg.with_api_key(format!("t-{}", uuid::Uuid::new_v4().simple()));
        let sim = Simulator::start_with(cfg).await.unwrap();
        let api = Api {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            base: sim.base_url(),
            key: sim.api_key().to_owned(),
        };
        (sim, api)
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .header("X-Idempotency-Key", uuid())
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
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

    /// A presigned PUT, without the API key; (status, ETag).
    async fn put(&self, url: &str, bytes: Vec<u8>) -> (u16, Option<String>) {
        let r = self.http.put(url).body(bytes).send().await.unwrap();
        let etag = r
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (r.status().as_u16(), etag)
    }
}

fn uuid() -> String {
    format!("k-{}", fastrand_hex())
}

fn fastrand_hex() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{:x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn md5_hex(b: &[u8]) -> String {
    hex::encode(Md5::digest(b))
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

#[tokio::test]
async fn single_file_upload_instant_upload_clone_list_and_delete() {
    let (sim, api) = Api::start(SimConfig::default().with_speed(1000.0)).await;
    let file = wav(20);
    let hash = md5_hex(&file);
    let (st, gen_answer) = api
        .post(GEN, json!({"fileHash": hash, "fileName": "sample.wav"}))
        .await;
    assert_eq!(st, 200, "{gen_answer}");
    let d = &gen_answer["data"];
    let upload_url = s(&d["uploadUrl"]).to_owned();
    assert!(upload_url.starts_with(&sim.base_url()), "{d}");
    assert!(d["material"].is_null(), "{d}");

    // Completing before the PUT: refused.
    let complete_body = json!({"s3Uri": d["s3Uri"], "fileName": "sample.wav",
                               "materialId": d["materialId"], "fileHash": hash});
    let (st, v) = api.post(COMPLETE, complete_body.clone()).await;
    assert_eq!((st, v["code"].as_i64()), (400, Some(400)), "{v}");

    let (st, etag) = api.put(&upload_url, file.clone()).await;
    assert_eq!(st, 200);
    assert_eq!(etag.as_deref(), Some(format!("\"{hash}\"").as_str()));
    let (st, v) = api.post(COMPLETE, complete_body).await;
    assert_eq!(st, 200, "{v}");
    let material = &v["data"];
    assert_eq!(material["fileHash"], hash.as_str());
    assert_eq!(material["filesize"], file.len());
    assert_eq!(material["duration"], 20_000);
    assert_eq!(material["category"], "audio");
    let address = s(&material["addressUrl"]).to_owned();
    let served = api.http.get(&address).send().await.unwrap();
    assert_eq!(served.bytes().await.unwrap().as_ref(), file.as_slice());

    // The same MD5 again: instant upload, nothing to PUT.
    let (st, v) = api
        .post(GEN, json!({"fileHash": hash, "fileName": "again.wav"}))
        .await;
    assert_eq!(st, 200);
    assert_eq!(v["data"]["uploadUrl"], "");
    assert_eq!(v["data"]["material"]["materialId"], material["materialId"]);

    // The material's addressUrl is accepted as clone audio (the UNKNOWN's default).
    let (st, v) = api
        .post(
            CLONE,
            json!({"voiceName": "n", "refAudio": address, "sampleLanguage": "en-US"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(sim.stats().billable("vmeg.cloneVoiceCreateAsync"), 1);
    assert_eq!(
        sim.stats().billable_total(),
        1,
        "material calls are not billable"
    );

    let (st, v) = api.get("/openapi/v1/assets/material/list?pageSize=5").await;
    assert_eq!(st, 200);
    assert_eq!(v["data"]["total"], 1);
    assert_eq!(
        v["data"]["records"][0]["materialId"],
        material["materialId"]
    );

    let (st, _) = api
        .post(
            "/openapi/v1/assets/material/delete",
            json!({"materialId": material["materialId"]}),
        )
        .await;
    assert_eq!(st, 200);
    let (st, _) = api
        .post(
            "/openapi/v1/assets/material/delete",
            json!({"materialId": material["materialId"]}),
        )
        .await;
    assert_eq!(st, 404);
    assert_eq!(api.http.get(&address).send().await.unwrap().status(), 404);
    // A deleted material's URL is no clone audio any more (plain http, not a material).
    let (st, _) = api
        .post(CLONE, json!({"voiceName": "n", "refAudio": address}))
        .await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn presigned_put_refuses_the_api_key_bad_signatures_expiry_and_oversize() {
    let (sim, api) =
        Api::start(SimConfig::default().with_material_limits(1000, 8 * 1024 * 1024)).await;
    let file = b"0123456789".repeat(10);
    let hash = md5_hex(&file);
    let (_, v) = api
        .post(GEN, json!({"fileHash": hash, "fileName": "a.mp3"}))
        .await;
    let d = v["data"].clone();
    let url = s(&d["uploadUrl"]).to_owned();

    // With the API key: refused, and nothing is stored.
    let r = api
        .http
        .put(&url)
        .bearer_auth(&api.key)
        .body(file.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("Only one auth mechanism"));
    let complete_body = json!({"s3Uri": d["s3Uri"], "fileName": "a.mp3",
                               "materialId": d["materialId"], "fileHash": hash});
    let (st, v) = api.post(COMPLETE, complete_body.clone()).await;
    assert_eq!(st, 400, "{v}");

    // A tampered signature.
    let tampered = format!("{}0", url);
    assert_eq!(api.put(&tampered, file.clone()).await.0, 403);

    // Bytes other than the announced MD5: the PUT lands, complete refuses it.
    assert_eq!(api.put(&url, b"other bytes".to_vec()).await.0, 200);
    let (st, v) = api.post(COMPLETE, complete_body.clone()).await;
    assert_eq!(st, 400);
    assert!(s(&v["message"]).contains("does not match"), "{v}");
    // The right bytes, PUT again to the same URL, replace them.
    assert_eq!(api.put(&url, file.clone()).await.0, 200);
    assert_eq!(api.post(COMPLETE, complete_body).await.0, 200);

    // Over the material limit: 413.
    let big = vec![7u8; 1001];
    let (_, v) = api
        .post(GEN, json!({"fileHash": md5_hex(&big), "fileName": "b.wav"}))
        .await;
    assert_eq!(api.put(s(&v["data"]["uploadUrl"]), big).await.0, 413);

    // Expired after the presign validity (1 h by default, simulated).
    let (_, v) = api
        .post(
            GEN,
            json!({"fileHash": md5_hex(b"late"), "fileName": "c.wav"}),
        )
        .await;
    sim.advance_clock(Duration::from_secs(3601));
    assert_eq!(
        api.put(s(&v["data"]["uploadUrl"]), b"late".to_vec())
            .await
            .0,
        403
    );

    // The request rules: an MD5 and a name with an extension.
    let (st, _) = api
        .post(GEN, json!({"fileHash": "xyz", "fileName": "c.wav"}))
        .await;
    assert_eq!(st, 400);
    let (st, _) = api
        .post(GEN, json!({"fileHash": hash, "fileName": "noext"}))
        .await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn material_posts_need_an_idempotency_key_and_refuse_a_reused_one() {
    let (_sim, api) = Api::start(SimConfig::default()).await;
    let body = json!({"fileHash": md5_hex(b"x"), "fileName": "x.wav"});
    let r = api
        .http
        .post(format!("{}{GEN}", api.base))
        .bearer_auth(&api.key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let send = || {
        api.http
            .post(format!("{}{GEN}", api.base))
            .bearer_auth(&api.key)
            .header("X-Idempotency-Key", "same-key")
            .json(&body)
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 200);
    let again = send().await.unwrap();
    assert_eq!(again.status(), 409);
    assert_eq!(again.headers()["retry-after"], "2");
}

#[tokio::test]
async fn multipart_upload_with_etags_part_sizes_and_abort() {
    // Parts of 1 KiB are recommended (and the minimum for every part but the last).
    let (_sim, api) = Api::start(SimConfig::default().with_material_limits(1 << 20, 1024)).await;
    let file: Vec<u8> = (0..2500u32).map(|i| (i % 251) as u8).collect();
    let hash = md5_hex(&file);
    let (st, v) = api
        .post(INITIATE, json!({"fileHash": hash, "fileName": "long.wav"}))
        .await;
    assert_eq!(st, 200, "{v}");
    let d = v["data"].clone();
    assert_eq!(d["recommendedPartSize"], 1024);
    let (mid, uid) = (d["materialId"].clone(), d["uploadId"].clone());
    let ids = json!({"materialId": mid, "uploadId": uid, "fileHash": hash, "fileName": "long.wav"});
    let with = |extra: Value| {
        let mut b = ids.clone();
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let (st, _) = api.post(PRESIGN, with(json!({"partNumbers": [0]}))).await;
    assert_eq!(st, 400, "part numbers are 1-based");
    let (st, v) = api
        .post(PRESIGN, with(json!({"partNumbers": [1, 2, 3]})))
        .await;
    assert_eq!(st, 200, "{v}");
    let urls = v["data"]["urls"].as_array().unwrap().clone();
    assert_eq!(urls.len(), 3);
    let mut parts = Vec::new();
    for (i, chunk) in file.chunks(1024).enumerate() {
        let url = s(&urls[i]["url"]);
        let (st, etag) = api.put(url, chunk.to_vec()).await;
        assert_eq!(st, 200);
        parts.push(json!({"partNumber": i + 1, "eTag": etag.unwrap()}));
    }
    // A wrong eTag, and parts out of order: refused.
    let mut wrong = parts.clone();
    wrong[1]["eTag"] = json!("\"0000\"");
    assert_eq!(
        api.post(MP_COMPLETE, with(json!({"parts": wrong}))).await.0,
        400
    );
    let reversed: Vec<Value> = parts.iter().rev().cloned().collect();
    assert_eq!(
        api.post(MP_COMPLETE, with(json!({"parts": reversed})))
            .await
            .0,
        400
    );
    let (st, v) = api.post(MP_COMPLETE, with(json!({"parts": parts}))).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["data"]["fileHash"], hash.as_str());
    assert_eq!(v["data"]["filesize"], file.len());
    let served = api
        .http
        .get(s(&v["data"]["addressUrl"]))
        .send()
        .await
        .unwrap();
    assert_eq!(served.bytes().await.unwrap().as_ref(), file.as_slice());

    // A part below the minimum (not the last one): EntityTooSmall. Then abort.
    let other: Vec<u8> = vec![1u8; 1500];
    let (_, v) = api
        .post(
            INITIATE,
            json!({"fileHash": md5_hex(&other), "fileName": "x.wav"}),
        )
        .await;
    let d = v["data"].clone();
    let ids = json!({"materialId": d["materialId"], "uploadId": d["uploadId"]});
    let mut b = ids.clone();
    b["partNumbers"] = json!([1, 2]);
    let (_, v) = api.post(PRESIGN, b).await;
    let urls = v["data"]["urls"].as_array().unwrap().clone();
    let (_, e1) = api.put(s(&urls[0]["url"]), other[..500].to_vec()).await;
    let (_, e2) = api.put(s(&urls[1]["url"]), other[500..].to_vec()).await;
    let mut b = ids.clone();
    b["parts"] = json!([{"partNumber": 1, "eTag": e1}, {"partNumber": 2, "eTag": e2}]);
    let (st, v) = api.post(MP_COMPLETE, b.clone()).await;
    assert_eq!(st, 400);
    assert!(s(&v["message"]).contains("EntityTooSmall"), "{v}");
    assert_eq!(api.post(ABORT, ids.clone()).await.0, 200);
    assert_eq!(api.post(ABORT, ids).await.0, 404);
    assert_eq!(api.post(MP_COMPLETE, b).await.0, 404);
    assert_eq!(api.put(s(&urls[0]["url"]), vec![1]).await.0, 403);
}

#[tokio::test]
async fn material_urls_as_clone_audio_can_be_refused() {
    let (sim, api) =
        Api::start(SimConfig::default().with_vmeg_clone_accepts_material_urls(false)).await;
    let file = wav(16);
    let hash = md5_hex(&file);
    let (_, v) = api
        .post(GEN, json!({"fileHash": hash, "fileName": "s.wav"}))
        .await;
    let d = v["data"].clone();
    api.put(s(&d["uploadUrl"]), file).await;
    let (_, v) = api
        .post(
            COMPLETE,
            json!({"s3Uri": d["s3Uri"], "fileName": "s.wav",
                               "materialId": d["materialId"], "fileHash": hash}),
        )
        .await;
    let (st, v) = api
        .post(
            CLONE,
            json!({"voiceName": "n", "refAudio": v["data"]["addressUrl"]}),
        )
        .await;
    assert_eq!(st, 400);
    assert!(s(&v["message"]).contains("material"), "{v}");
    assert_eq!(sim.stats().billable_total(), 0);
}

#[tokio::test]
async fn a_put_cut_off_midway_stores_nothing() {
    let (sim, api) = Api::start(SimConfig::default()).await;
    let file = wav(20);
    let hash = md5_hex(&file);
    let (_, v) = api
        .post(GEN, json!({"fileHash": hash, "fileName": "s.wav"}))
        .await;
    let d = v["data"].clone();
    sim.fail_next("vmeg.materialPut", FaultKind::DropBefore, 1)
        .unwrap();
    let r = api
        .http
        .put(s(&d["uploadUrl"]))
        .body(file.clone())
        .send()
        .await;
    assert!(r.is_err(), "the connection was closed mid-upload: {r:?}");
    let complete_body = json!({"s3Uri": d["s3Uri"], "fileName": "s.wav",
                               "materialId": d["materialId"], "fileHash": hash});
    let (st, v) = api.post(COMPLETE, complete_body.clone()).await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(sim.stats().requests("vmeg.materialPut"), 1);
    // The same URL works again.
    assert_eq!(api.put(s(&d["uploadUrl"]), file).await.0, 200);
    assert_eq!(api.post(COMPLETE, complete_body).await.0, 200);
}

/// The request line and `Host` of a raw PUT to a presigned `url` (on the simulator).
fn raw_put_head(sim: &SimHandle, url: &str, content_length: usize) -> String {
    let target = url.trim_start_matches(&sim.base_url());
    format!("PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {content_length}\r\n\r\n")
}

/// A PUT whose body ends short of its `Content-Length` was answered 413 EntityTooLarge,
/// telling the client its file was too big. Now S3's 400 IncompleteBody, nothing stored.
#[tokio::test]
async fn a_put_cut_short_of_its_length_is_an_incomplete_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (sim, api) = Api::start(SimConfig::default()).await;
    let file = b"0123456789".to_vec();
    let (d, url) = upload_url(&api, &file, "short.wav").await;
    let mut c = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    c.write_all(raw_put_head(&sim, &url, 100).as_bytes())
        .await
        .unwrap();
    c.write_all(&file).await.unwrap();
    c.shutdown().await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut out)).await;
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("HTTP/1.1 400"), "{out:.300}");
    assert!(out.contains("IncompleteBody"), "{out:.300}");
    let complete_body = json!({"s3Uri": d["s3Uri"], "fileName": "short.wav",
                               "materialId": d["materialId"], "fileHash": md5_hex(&file)});
    assert_eq!(api.post(COMPLETE, complete_body).await.0, 400);
}

/// A `drop-before` fault on the PUT reads about half the declared body first. Each frame
/// had 5 s to arrive, with no bound on the whole: a client announcing 10 MB and trickling
/// a few bytes at a time kept the connection and the handler for ever. Now the reading
/// stops at `body_read_timeout`, as every other body read does.
#[tokio::test]
async fn a_cut_off_put_is_bounded_by_the_body_read_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let cfg = SimConfig::default().with_connection_limits(
        64,
        Duration::from_secs(30),
        Duration::from_millis(500),
    );
    let (sim, api) = Api::start(cfg).await;
    let (_, url) = upload_url(&api, b"trickled", "trickle.wav").await;
    sim.fail_next("vmeg.materialPut", FaultKind::DropBefore, 1)
        .unwrap();
    let c = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let (mut rd, mut wr) = c.into_split();
    wr.write_all(raw_put_head(&sim, &url, 10_000_000).as_bytes())
        .await
        .unwrap();
    let trickle = tokio::spawn(async move {
        while wr.write_all(&[7u8; 16]).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let started = std::time::Instant::now();
    let mut out = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(8), rd.read_to_end(&mut out)).await;
    trickle.abort();
    assert!(
        closed.is_ok(),
        "still reading the trickled body after {:?}",
        started.elapsed()
    );
    assert!(out.is_empty(), "the fault answers nothing");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "closed only after {:?}",
        started.elapsed()
    );
}

/// Another method on a presigned PUT URL (a client probing it with HEAD, a GET to check
/// the upload, a DELETE to clean up). Before: the storage handler took every method as a
/// PUT and stored the empty body over the upload, so `complete` then failed on the MD5.
/// Now each is refused with 403, as S3 does (the method is part of the signature), and
/// the upload is left as it was.
#[tokio::test]
async fn other_methods_on_a_presigned_url_leave_the_upload_alone() {
    let (sim, api) = Api::start(SimConfig::default()).await;
    let file = b"the real file bytes".to_vec();
    let hash = md5_hex(&file);
    let (d, url) = upload_url(&api, &file, "f.wav").await;
    assert_eq!(api.put(&url, file.clone()).await.0, 200);
    for m in [
        reqwest::Method::HEAD,
        reqwest::Method::GET,
        reqwest::Method::DELETE,
    ] {
        let r = api.http.request(m.clone(), &url).send().await.unwrap();
        assert!(r.status().as_u16() >= 400, "{m}: {}", r.status());
        assert!(r.headers().get("etag").is_none(), "{m} stored something");
    }
    let (st, v) = api
        .post(
            COMPLETE,
            json!({"s3Uri": d["s3Uri"], "fileName": "f.wav",
                   "materialId": d["materialId"], "fileHash": hash}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let served = api
        .http
        .get(s(&v["data"]["addressUrl"]))
        .send()
        .await
        .unwrap();
    assert_eq!(served.bytes().await.unwrap().as_ref(), file.as_slice());
    assert_eq!(sim.stats().requests("vmeg.materialPut"), 1);
}

/// `gen-upload-url` for `file` named `name`: the answer's `data` and its `uploadUrl`.
async fn upload_url(api: &Api, file: &[u8], name: &str) -> (Value, String) {
    let (st, v) = api
        .post(GEN, json!({"fileHash": md5_hex(file), "fileName": name}))
        .await;
    assert_eq!(st, 200, "{v}");
    let d = v["data"].clone();
    let url = s(&d["uploadUrl"]).to_owned();
    (d, url)
}

/// Uploads `file` as a material named `name` (gen-upload-url, PUT, complete), refusing
/// an instant upload; its `addressUrl`.
async fn upload_material(api: &Api, file: &[u8], name: &str) -> String {
    let hash = md5_hex(file);
    let (d, url) = upload_url(api, file, name).await;
    assert!(!url.is_empty(), "instant upload of a dead material: {d}");
    assert_eq!(api.put(&url, file.to_vec()).await.0, 200);
    let (st, v) = api
        .post(
            COMPLETE,
            json!({"s3Uri": d["s3Uri"], "fileName": name,
                   "materialId": d["materialId"], "fileHash": hash}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    s(&v["data"]["addressUrl"]).to_owned()
}

/// A material whose bytes the upload store evicted (by age or by its count and byte
/// bounds). Before: the material stayed, listed, and `gen-upload-url` with its MD5
/// answered "instant upload" (`uploadUrl: ""`) with an `addressUrl` answering 404, so a
/// client could never upload that file again. Now it is forgotten with its bytes: the
/// same MD5 gets a fresh upload URL.
#[tokio::test]
async fn a_material_whose_bytes_were_evicted_is_not_offered_again() {
    let (sim, api) = Api::start(SimConfig::default()).await;
    let file = b"RIFF....WAVEfixture bytes".to_vec();
    let first = upload_material(&api, &file, "f.wav").await;
    assert_eq!(api.http.get(&first).send().await.unwrap().status(), 200);
    // Past `upload_retention` (24 h): the bytes go.
    sim.advance_clock(Duration::from_secs(25 * 3600));
    assert_eq!(api.http.get(&first).send().await.unwrap().status(), 404);
    let (st, v) = api.get("/openapi/v1/assets/material/list").await;
    assert_eq!(st, 200);
    assert_eq!(v["data"]["total"], 0, "{v}");
    // The same file again: a real upload, and a material that is served.
    let second = upload_material(&api, &file, "f.wav").await;
    assert_ne!(second, first);
    let served = api.http.get(&second).send().await.unwrap();
    assert_eq!(served.bytes().await.unwrap().as_ref(), file.as_slice());
    let (_, v) = api.get("/openapi/v1/assets/material/list").await;
    assert_eq!(v["data"]["total"], 1, "{v}");

    // By the count bound: two files kept, and the third upload's PUT evicts the first
    // material's bytes.
    let (_sim, api) =
        Api::start(SimConfig::default().with_upload_limits(2, 1 << 20, Duration::from_secs(3600)))
            .await;
    upload_material(&api, b"one", "1.wav").await;
    upload_material(&api, b"two", "2.wav").await;
    upload_material(&api, b"three", "3.wav").await;
    let (_, v) = api.get("/openapi/v1/assets/material/list").await;
    assert_eq!(v["data"]["total"], 2, "{v}");
    upload_material(&api, b"one", "1.wav").await;
}

/// A `business` fault on the presigned PUT. The storage has no envelope, so a 200 means
/// "stored". Before: the fault answered HTTP 200 (with a VMEG envelope and no ETag)
/// while nothing was stored; a client took the upload as done. Now it is a 500.
#[tokio::test]
async fn a_business_fault_on_the_presigned_put_is_a_failure_status() {
    let (sim, api) = Api::start(SimConfig::default()).await;
    let file = b"abc".to_vec();
    let hash = md5_hex(&file);
    let (d, url) = upload_url(&api, &file, "f.wav").await;
    sim.fail_next("vmeg.materialPut", FaultKind::Business, 1)
        .unwrap();
    let (st, etag) = api.put(&url, file.clone()).await;
    assert_eq!((st, etag), (500, None));
    let complete_body = json!({"s3Uri": d["s3Uri"], "fileName": "f.wav",
                               "materialId": d["materialId"], "fileHash": hash});
    assert_eq!(api.post(COMPLETE, complete_body.clone()).await.0, 400);
    assert_eq!(api.put(&url, file).await.0, 200);
    assert_eq!(api.post(COMPLETE, complete_body).await.0, 200);
}

/// A material's `fileName` had no length limit: a pending upload and its material each
/// kept it (count-bounded only, 1000 each), so 1 MiB names held gigabytes outside
/// `max_task_bytes`. Now a name over 1024 bytes (S3's key limit) is refused with the
/// vendor's 400 naming `fileName`, by `gen-upload-url` and multipart `initiate` alike.
#[tokio::test]
async fn a_file_name_over_1024_bytes_is_refused() {
    let (_sim, api) = Api::start(SimConfig::default()).await;
    let file = wav(1);
    let long = format!("{}.wav", "é".repeat(511)); // 1026 bytes, 515 characters
    let huge = format!("{}.wav", "a".repeat((1 << 20) - 200)); // within the body limit
    for path in [GEN, INITIATE] {
        for name in [&long, &huge] {
            let (_, v) = api
                .post(path, json!({"fileHash": md5_hex(&file), "fileName": name}))
                .await;
            assert_eq!(v["code"], 400, "{path}: {v}");
            assert!(s(&v["message"]).contains("`fileName`"), "{path}: {v}");
            assert!(s(&v["message"]).contains("1024"), "{path}: {v}");
        }
    }
    let (_, v) = api.get("/openapi/v1/assets/material/list").await;
    assert_eq!(v["data"]["total"], 0, "{v}");
    // 1024 bytes is still a name.
    let at_limit = format!("{}.wav", "a".repeat(1020));
    let (d, url) = upload_url(&api, &file, &at_limit).await;
    assert!(!url.is_empty(), "{d}");
}

/// One upload larger than `max_upload_bytes` (the simulator's upload store) evicted every
/// other upload and registered material, then itself, and was still answered 200 (ETag;
/// JimmyAI code 20000). Now it is refused before anything is evicted: S3's 413
/// `EntityTooLarge` for the presigned PUT, JimmyAI's bad request for its upload; a
/// multipart upload adding up to more is refused 413 at `complete`.
#[tokio::test]
async fn an_upload_larger_than_the_store_is_refused_and_evicts_nothing() {
    let (sim, api) = Api::start(SimConfig::default().with_upload_limits(
        100,
        1 << 20,
        Duration::from_secs(3600),
    ))
    .await;
    let small = b"RIFF....WAVEsmall".to_vec();
    let first = upload_material(&api, &small, "small.wav").await;

    // The presigned PUT: declared (Content-Length) and streamed without a length.
    let big = vec![7u8; 2 << 20];
    let (d, url) = upload_url(&api, &big, "big.wav").await;
    let r = api.http.put(&url).body(big.clone()).send().await.unwrap();
    assert_eq!(r.status(), 413);
    assert!(r.text().await.unwrap().contains("EntityTooLarge"));
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let streamed = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let r = api.http.put(&url).body(streamed).send().await.unwrap();
    assert_eq!(r.status(), 413);
    let (st, v) = api
        .post(
            COMPLETE,
            json!({"s3Uri": d["s3Uri"], "fileName": "big.wav",
                   "materialId": d["materialId"], "fileHash": md5_hex(&big)}),
        )
        .await;
    assert_eq!(st, 400, "nothing was stored: {v}");

    // JimmyAI's upload (within its 100 MB): the vendor's bad request, naming the limit.
    let mut body =
        b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\n"
            .to_vec();
    body.extend_from_slice(&big);
    body.extend_from_slice(b"\r\n--B--\r\n");
    let r = api
        .http
        .post(format!("{}/api/open-api/v1/files/upload", api.base))
        .bearer_auth(&api.key)
        .header("content-type", "multipart/form-data; boundary=B")
        .body(body)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], 20002, "{v}");
    assert!(s(&v["msg"]).contains("max_upload_bytes"), "{v}");

    // The small material is still there, listed and served.
    let served = api.http.get(&first).send().await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.unwrap().as_ref(), small.as_slice());
    let (_, v) = api.get("/openapi/v1/assets/material/list").await;
    assert_eq!(v["data"]["total"], 1, "{v}");
    assert_eq!(sim.evicted().1, 0);

    // A multipart upload whose parts add up to more than the store: the part that takes it
    // past the limit is refused (413) before it is stored, so it evicts nothing (it evicted
    // every other upload, the registered material included, before `complete`'s 413).
    let (sim, api) = Api::start(
        SimConfig::default()
            .with_upload_limits(100, 1 << 20, Duration::from_secs(3600))
            .with_material_limits(200 << 20, 1024),
    )
    .await;
    let first = upload_material(&api, &small, "small.wav").await;
    let parts = [vec![1u8; 700 << 10], vec![2u8; 700 << 10], vec![3u8; 10]];
    let hash = md5_hex(&parts.concat());
    let (st, v) = api
        .post(INITIATE, json!({"fileHash": hash, "fileName": "parts.wav"}))
        .await;
    assert_eq!(st, 200, "{v}");
    let ids = json!({"materialId": v["data"]["materialId"], "uploadId": v["data"]["uploadId"],
                     "fileHash": hash, "fileName": "parts.wav"});
    let mut b = ids;
    b["partNumbers"] = json!([1, 2, 3]);
    let (_, v) = api.post(PRESIGN, b).await;
    let mut statuses = Vec::new();
    for (i, part) in parts.into_iter().enumerate() {
        let (st, _) = api.put(s(&v["data"]["urls"][i]["url"]), part).await;
        statuses.push(st);
    }
    assert_eq!(statuses, [200, 413, 200]);
    let served = api.http.get(&first).send().await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.unwrap().as_ref(), small.as_slice());
    assert_eq!(sim.evicted().1, 0);
}

/// The MD5 of a presigned PUT, and at `complete` the MD5 (and for a multipart upload the
/// join of the parts) of the whole material, ran inline on the runtime thread: on a
/// current-thread runtime (this test's, and `voiceclone sim`'s) nothing else was
/// answered meanwhile, a second or more per 32 MiB in a debug build (a ticker here
/// stalled 2.5 s). Now that work runs on the blocking pool: the ticker keeps ticking
/// while a 32 MiB single-file upload and a 32 MiB multipart upload are put and completed.
/// The bound is half of what hashing 32 MiB once takes here (measured before and after,
/// on this machine as loaded as it is, the longer of the two): inline, each upload
/// stalled the ticker for one such hash or more, however slow the machine, while the
/// work left on the runtime thread stalls it for a fifth of one or less.
#[tokio::test]
async fn a_large_upload_does_not_stall_other_requests() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    const SIZE: usize = 32 << 20;
    let (_sim, api) =
        Api::start(SimConfig::default().with_material_limits(64 << 20, 16 << 20)).await;
    let file: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    let hashing = std::time::Instant::now();
    let hash = md5_hex(&file);
    let one_hash = hashing.elapsed();
    let mut other = file.clone();
    other[0] ^= 1;
    let other_hash = md5_hex(&other);
    let (d, url) = upload_url(&api, &file, "big.wav").await;
    let (st, v) = api
        .post(
            INITIATE,
            json!({"fileHash": other_hash, "fileName": "parts.wav"}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let ids = json!({"materialId": v["data"]["materialId"], "uploadId": v["data"]["uploadId"]});
    let mut b = ids.clone();
    b["partNumbers"] = json!([1, 2]);
    let (st, v) = api.post(PRESIGN, b).await;
    assert_eq!(st, 200, "{v}");
    let part_urls: Vec<String> = v["data"]["urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| s(&u["url"]).to_owned())
        .collect();

    let stop = Arc::new(AtomicBool::new(false));
    let ticker = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut worst = Duration::ZERO;
            let mut last = std::time::Instant::now();
            while !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(10)).await;
                let now = std::time::Instant::now();
                worst = worst.max(now - last);
                last = now;
            }
            worst
        })
    };
    tokio::task::yield_now().await;

    assert_eq!(api.put(&url, file).await.0, 200);
    let (st, v) = api
        .post(
            COMPLETE,
            json!({"s3Uri": d["s3Uri"], "fileName": "big.wav",
                   "materialId": d["materialId"], "fileHash": hash}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["data"]["fileHash"], hash.as_str());
    let mut parts = Vec::new();
    for (i, chunk) in other.chunks(16 << 20).enumerate() {
        let (st, etag) = api.put(&part_urls[i], chunk.to_vec()).await;
        assert_eq!(st, 200);
        parts.push(json!({"partNumber": i + 1, "eTag": etag.unwrap()}));
    }
    let mut b = ids.clone();
    b["parts"] = json!(parts);
    let (st, v) = api.post(MP_COMPLETE, b).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["data"]["fileHash"], other_hash.as_str());
    assert_eq!(v["data"]["filesize"], SIZE);

    stop.store(true, Ordering::SeqCst);
    let worst = ticker.await.unwrap();
    let hashing = std::time::Instant::now();
    assert_eq!(md5_hex(&other), other_hash);
    let one_hash = one_hash.max(hashing.elapsed());
    // Four fifths of a hash: the fixed code stalls the ticker ~0.2 of one, hashing inline
    // (the bug) ~1.24; half a hash left too little slack on a loaded machine.
    let bound = one_hash * 4 / 5;
    assert!(
        worst < bound,
        "the runtime stalled for {worst:?} while uploads were hashed (hashing 32 MiB here \
         took {one_hash:?})"
    );
}

/// Concurrent `multipart/complete` calls for one upload (each under its own key) take
/// turns: one builds the material and answers 200, each later one then finds the upload
/// completed (404, as a sequential second call does), and one material is listed. Before,
/// each built its own full copy of the material at once (no turns), with the same answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_completes_of_one_upload_take_turns() {
    let (_sim, api) = Api::start(SimConfig::default().with_material_limits(8 << 20, 1024)).await;
    let file: Vec<u8> = (0..(2 << 20) as u32).map(|i| (i % 253) as u8).collect();
    let hash = md5_hex(&file);
    let (st, v) = api
        .post(INITIATE, json!({"fileHash": hash, "fileName": "turns.wav"}))
        .await;
    assert_eq!(st, 200, "{v}");
    let ids = json!({"materialId": v["data"]["materialId"], "uploadId": v["data"]["uploadId"]});
    let mut b = ids.clone();
    b["partNumbers"] = json!([1, 2]);
    let (_, v) = api.post(PRESIGN, b).await;
    let urls = v["data"]["urls"].as_array().unwrap().clone();
    let mut parts = Vec::new();
    for (i, chunk) in file.chunks(1 << 20).enumerate() {
        let (st, etag) = api.put(s(&urls[i]["url"]), chunk.to_vec()).await;
        assert_eq!(st, 200);
        parts.push(json!({"partNumber": i + 1, "eTag": etag.unwrap()}));
    }
    let mut b = ids.clone();
    b["parts"] = json!(parts);
    let api = std::sync::Arc::new(api);
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let (api, b) = (api.clone(), b.clone());
            tokio::spawn(async move { api.post(MP_COMPLETE, b).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for c in calls {
        let (st, v) = c.await.unwrap();
        if st == 200 {
            assert_eq!(v["data"]["fileHash"], hash.as_str(), "{v}");
        }
        statuses.push(st);
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 404, 404, 404, 404, 404]);
    let (_, v) = api.get("/openapi/v1/assets/material/list").await;
    assert_eq!(v["data"]["total"], 1, "{v}");
}

/// A multipart upload with more parts than `max_uploads`. Before: each part was stored as
/// one upload, so under a bound of 4 the 4th part evicted the registered material, the 5th
/// part 1, and `complete` answered 400 "evicted … upload again" every time. Now a pending
/// multipart upload counts as one upload: 4 parts beside a material evict nothing and
/// complete, and a 5th part is refused before it is stored, naming `max_uploads`.
#[tokio::test]
async fn a_multipart_upload_with_more_parts_than_max_uploads_evicts_nothing() {
    let (sim, api) = Api::start(
        SimConfig::default()
            .with_upload_limits(4, 1 << 20, Duration::from_secs(3600))
            .with_material_limits(1 << 20, 1024),
    )
    .await;
    let small = b"RIFF....WAVEsmall".to_vec();
    let first = upload_material(&api, &small, "small.wav").await;
    // Parts of 1024 bytes: 4 of them make the file, and a 5th is refused.
    let file: Vec<u8> = (0..4096u32).map(|i| (i % 241) as u8).collect();
    let hash = md5_hex(&file);
    let (st, v) = api
        .post(INITIATE, json!({"fileHash": hash, "fileName": "five.wav"}))
        .await;
    assert_eq!(st, 200, "{v}");
    let ids = json!({"materialId": v["data"]["materialId"], "uploadId": v["data"]["uploadId"],
                     "fileHash": hash, "fileName": "five.wav"});
    let mut b = ids.clone();
    b["partNumbers"] = json!([1, 2, 3, 4, 5]);
    let (st, v) = api.post(PRESIGN, b).await;
    assert_eq!(st, 200, "{v}");
    let urls = v["data"]["urls"].clone();
    let mut parts = Vec::new();
    for (i, chunk) in file.chunks(1024).enumerate() {
        let (st, etag) = api.put(s(&urls[i]["url"]), chunk.to_vec()).await;
        assert_eq!(st, 200, "part {}", i + 1);
        parts.push(json!({"partNumber": i + 1, "eTag": etag.unwrap()}));
    }
    let r = api
        .http
        .put(s(&urls[4]["url"]))
        .body(vec![9u8; 10])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("max_uploads"));
    // Part 4 again (a retried PUT) replaces it: not a new part, not refused.
    let (st, etag) = api.put(s(&urls[3]["url"]), file[3072..4096].to_vec()).await;
    assert_eq!(st, 200);
    parts[3]["eTag"] = json!(etag.unwrap());
    let mut b = ids;
    b["parts"] = json!(parts);
    let (st, v) = api.post(MP_COMPLETE, b).await;
    assert_eq!(st, 200, "{v}");
    let served = api
        .http
        .get(s(&v["data"]["addressUrl"]))
        .send()
        .await
        .unwrap();
    assert_eq!(served.bytes().await.unwrap().as_ref(), file.as_slice());
    // The first material is still listed and served.
    let served = api.http.get(&first).send().await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.unwrap().as_ref(), small.as_slice());
    let (_, v) = api.get("/openapi/v1/assets/material/list").await;
    assert_eq!(v["data"]["total"], 2, "{v}");
    assert_eq!(sim.evicted().1, 0);
}

/// An oversize PUT that expects `100 Continue` (curl sends `Expect: 100-continue` for large
/// bodies): the 413 decided from `Content-Length` is the first and final answer, so the
/// client never sends the body. Before, draining the unread body made the server send
/// `100 Continue` first, inviting the client to send what was then thrown away (64 MiB)
/// before the 413, and the connection was often reset mid-upload. A wrong key on a VMEG
/// create answers its 401 the same way.
#[tokio::test]
async fn an_oversize_put_that_expects_100_continue_gets_413_before_sending() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (sim, api) = Api::start(SimConfig::default()).await;
    let (_, url) = upload_url(&api, b"x", "big.wav").await;
    let target = url.trim_start_matches(&sim.base_url()).to_owned();
    let create = "/openapi/v1/task/clone-voice/create".to_owned();
    for (head, want) in [
        (
            format!("PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 300000000\r\n"),
            "HTTP/1.1 413",
        ),
        (
            format!(
                "POST {create} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n\
                 Content-Type: application/json\r\nContent-Length: 300000\r\n"
            ),
            "HTTP/1.1 401",
        ),
    ] {
        let mut c = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
        c.write_all(format!("{head}Expect: 100-continue\r\n\r\n").as_bytes())
            .await
            .unwrap();
        // No body sent: the first status line comes within the timeout or not at all.
        let mut out = vec![0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut out))
            .await
            .expect("no answer before the body was sent")
            .unwrap();
        let out = String::from_utf8_lossy(&out[..n]);
        assert!(out.starts_with(want), "{head}: {out}");
    }
}

/// Review 27 sim #1: an upload of a file the simulator already holds as another material
/// (two tests of a suite uploading one fixture at once; a multipart upload, which has no
/// instant upload, of a file uploaded before) completes as its own material, under the
/// `materialId` it was started with. Before, `complete` answered the other material, whose
/// id the client refuses ("another materialId; nothing was cloned"), and the upload's own
/// id answered 404 from then on. What VMEG does here is UNKNOWN; the simulator's choice is
/// in its table of UNKNOWN choices.
#[tokio::test]
async fn a_second_upload_of_a_known_file_completes_as_its_own_material() {
    let (_sim, api) = Api::start(SimConfig::default().with_material_limits(1 << 20, 1024)).await;
    let file = wav(3);
    let hash = md5_hex(&file);
    // Two single uploads of one file, both started before either completes.
    let (a, url_a) = upload_url(&api, &file, "a.wav").await;
    let (b, url_b) = upload_url(&api, &file, "b.wav").await;
    assert!(!url_a.is_empty() && !url_b.is_empty(), "{a} {b}");
    assert_ne!(a["materialId"], b["materialId"]);
    for (d, url, name) in [(&a, &url_a, "a.wav"), (&b, &url_b, "b.wav")] {
        assert_eq!(api.put(url, file.clone()).await.0, 200);
        let (st, v) = api
            .post(
                COMPLETE,
                json!({"s3Uri": d["s3Uri"], "fileName": name,
                       "materialId": d["materialId"], "fileHash": hash}),
            )
            .await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["data"]["materialId"], d["materialId"], "{v}");
        let served = api
            .http
            .get(s(&v["data"]["addressUrl"]))
            .send()
            .await
            .unwrap();
        assert_eq!(served.bytes().await.unwrap().as_ref(), file.as_slice());
    }

    // A multipart upload of the same file.
    let (st, v) = api
        .post(INITIATE, json!({"fileHash": hash, "fileName": "c.wav"}))
        .await;
    assert_eq!(st, 200, "{v}");
    let d = v["data"].clone();
    let ids = json!({"materialId": d["materialId"], "uploadId": d["uploadId"],
                     "fileHash": hash, "fileName": "c.wav"});
    let chunks: Vec<&[u8]> = file.chunks(file.len().div_ceil(2).max(1024)).collect();
    let numbers: Vec<usize> = (1..=chunks.len()).collect();
    let mut body = ids.clone();
    body["partNumbers"] = json!(numbers);
    let (st, v) = api.post(PRESIGN, body).await;
    assert_eq!(st, 200, "{v}");
    let urls = v["data"]["urls"].as_array().unwrap().clone();
    let mut parts = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let (st, etag) = api.put(s(&urls[i]["url"]), chunk.to_vec()).await;
        assert_eq!(st, 200);
        parts.push(json!({"partNumber": i + 1, "eTag": etag.unwrap()}));
    }
    let mut body = ids;
    body["parts"] = json!(parts);
    let (st, v) = api.post(MP_COMPLETE, body).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["data"]["materialId"], d["materialId"], "{v}");
}
