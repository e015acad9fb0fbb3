//! Property: a random API key echoed by the server into every field of every response shape
//! (as it is, or percent-encoded, base64 or hex) never shows up, as any 8-character piece
//! (ASCII case-insensitive) or as an encoding of 8 of its characters, in an error's
//! `Display` or `Debug`, in a value a call returns (its `Debug` and its JSON), or in a log
//! line captured at `trace`. Half the cases answer success with valid ids and the key
//! everywhere else, so that calls return values to check.
//!
//! A binary of its own: it installs a process-wide `tracing` subscriber at `trace`.
//! `PROPTEST_CASES` sets the number of cases (default 32; each runs every call of one
//! provider).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "hub_support.rs"]
mod hub_support;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hub_support::{hub_client, receive_signed};
use proptest::prelude::*;
use serde_json::{Value, json};
use voiceclone::{
    CallOptions, Client, CloneRequest, JobId, Provider, RecordingSleeper, RetryPolicy,
    SpeechRequest, TaskFilter, WaitPolicy,
};
use workspace_tests::captured::Captured;
use workspace_tests::scripted::{Scripted, Step};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};

fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        out
    })
}

/// Held by each case: the tests share the captured logs, and one taking them while the
/// other runs would see (or miss) the other's lines.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    })
}

/// How the key appears in a field.
#[derive(Clone, Copy, Debug)]
enum Echo {
    Whole,
    Prefix,
    Suffix,
    Upper,
    Embedded,
    InUrl,
    /// Every byte `%XX`.
    Percent,
    /// One byte in three `%XX` (no 8 literal characters left), in a URL's query.
    PercentPartlyInUrl,
    /// Standard base64 after this many other bytes (`u:` before the key, as in a Basic
    /// header's `user:key`, shifts how the key's bytes fall into groups of three).
    Base64(u8),
    /// URL-safe base64 without padding, in a URL's query.
    Base64UrlInUrl,
    /// Hex, upper-case.
    Hex,
}

/// `key`'s bytes, each `%XX` where `encode(i)` holds.
fn percent_encoded(key: &str, encode: impl Fn(usize) -> bool) -> String {
    key.bytes()
        .enumerate()
        .map(|(i, b)| {
            if encode(i) {
                format!("%{b:02X}")
            } else {
                char::from(b).to_string()
            }
        })
        .collect()
}

/// Every way of echoing the key.
fn every_echo() -> Vec<Echo> {
    vec![
        Echo::Whole,
        Echo::Prefix,
        Echo::Suffix,
        Echo::Upper,
        Echo::Embedded,
        Echo::InUrl,
        Echo::Percent,
        Echo::PercentPartlyInUrl,
        Echo::Base64(0),
        Echo::Base64(1),
        Echo::Base64(2),
        Echo::Base64UrlInUrl,
        Echo::Hex,
    ]
}

fn echo(key: &str, how: Echo) -> String {
    match how {
        Echo::Whole => key.to_owned(),
        Echo::Prefix => key.chars().take(9).collect(),
        Echo::Suffix => key.chars().skip(key.len().saturating_sub(9)).collect(),
        Echo::Upper => key.to_ascii_uppercase(),
        Echo::Embedded => format!("error: Bearer {key} is not valid"),
        Echo::InUrl => format!("https://cdn.example.com/{key}/a.mp3?token={key}"),
        Echo::Percent => format!("bad token {}", percent_encoded(key, |_| true)),
        Echo::PercentPartlyInUrl => format!(
            "https://cdn.example.com/a.mp3?sig={}",
            percent_encoded(key, |i| i % 3 == 0)
        ),
        Echo::Base64(shift) => {
            let data = format!("{}{key}", &"u:"[..usize::from(shift)]);
            format!("Basic {}", STANDARD.encode(data))
        }
        Echo::Base64UrlInUrl => format!(
            "https://cdn.example.com/a.mp3?token={}",
            URL_SAFE_NO_PAD.encode(key)
        ),
        Echo::Hex => format!("k={}", hex::encode_upper(key)),
    }
}

/// Every field of every answer shape of `provider`, each holding the key; with `keep_ids`,
/// every field but the ids (`t-1`, `cv_1`, `m-1`) and the status (`word`: 0 the success
/// word, 1 the failure word, else the echo). A scrubbed id is no id, so without `keep_ids`
/// no call can return a value: only those cases check the values a call returns.
fn echoing_body(
    provider: Provider,
    key: &str,
    how: Echo,
    code: Value,
    keep_ids: bool,
    word: u8,
) -> Value {
    let k = echo(key, how);
    let id = |valid: &str| {
        if keep_ids {
            valid.to_owned()
        } else {
            k.clone()
        }
    };
    let status = |done: &str, failed: &str| match (keep_ids, word) {
        (true, 0) => done.to_owned(),
        (true, 1) => failed.to_owned(),
        _ => k.clone(),
    };
    match provider {
        Provider::Vmeg => json!({
            "code": code, "message": k,
            "data": {
                "taskId": id("t-1"), "status": status("finished", "failed"),
                "voiceId": id("cv_1"), "voiceName": k, "createdAt": k,
                "results": [{"uri": k, "errorMessage": k, "duration": k}],
                "result": {"taskId": id("t-1"), "voiceId": id("cv_1"), "voiceName": k,
                    "errorMessage": k, "error": k, "message": k, "reason": k,
                    "results": [{"uri": k, "errorMessage": k}]},
                "records": [{"voiceId": id("cv_1"), "taskId": id("t-1"), "name": k,
                    "audio": k, "createTime": k, "status": status("finished", "failed")}],
                "total": k
            }
        }),
        _ => json!({
            "code": code, "msg": k, "message": k,
            "data": {"id": id("t-1"), "status": status("completed", "failed"),
                "modelId": id("m-1"), "audioUrl": k, "subtitleFile": k, "error": k, "url": k,
                "created": k}
        }),
    }
}

fn pieces(key: &str) -> Vec<String> {
    let chars: Vec<char> = key.to_ascii_lowercase().chars().collect();
    chars.windows(8).map(|w| w.iter().collect()).collect()
}

/// A piece of `key` in `text`: 8 of its characters (ASCII case-insensitive), also once
/// `text` is percent-decoded (up to three times), or 8 of its bytes in what a run of hex
/// digits or of base64 characters decodes to (at each alignment of the run).
fn leaked(text: &str, key: &str) -> Option<String> {
    let mut decoded = text.to_owned();
    for _ in 0..3 {
        decoded = percent_decoded(&decoded);
    }
    [text, decoded.as_str()].into_iter().find_map(|t| {
        let lower = t.to_ascii_lowercase();
        pieces(key)
            .into_iter()
            .find(|p| lower.contains(p.as_str()))
            .or_else(|| decoded_piece(t, key))
    })
}

/// `text` with every `%XX` decoded once (bytes that are not UTF-8 read lossily).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = bytes.get(i + 1..i + 3).and_then(|h| {
            std::str::from_utf8(h)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        });
        match (bytes[i], escape) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// 8 bytes of `key` in what a run of hex digits or base64 characters of `text` decodes to,
/// by the `hex` and `base64` crates, starting at each of the run's first 2 (hex) or 4
/// (base64) characters.
fn decoded_piece(text: &str, key: &str) -> Option<String> {
    let holds = |bytes: &[u8]| {
        key.as_bytes()
            .windows(8)
            .find(|w| bytes.windows(8).any(|b| b == *w))
            .map(|w| format!("decodes to {:?}", String::from_utf8_lossy(w)))
    };
    let runs = |keep: fn(char) -> bool| -> Vec<String> {
        text.split(|c: char| !keep(c))
            .filter(|r| r.len() >= 8)
            .map(str::to_owned)
            .collect()
    };
    for run in runs(|c| c.is_ascii_hexdigit()) {
        for at in 0..2 {
            let even = &run[at..at + (run.len() - at) / 2 * 2];
            if let Some(found) = hex::decode(even).ok().and_then(|b| holds(&b)) {
                return Some(found);
            }
        }
    }
    for run in runs(|c| c.is_ascii_alphanumeric() || "+/-_".contains(c)) {
        let run = run.replace('-', "+").replace('_', "/");
        for at in 0..4.min(run.len()) {
            let whole = &run[at..at + (run.len() - at) / 4 * 4];
            if let Some(found) = STANDARD_NO_PAD.decode(whole).ok().and_then(|b| holds(&b)) {
                return Some(found);
            }
        }
    }
    None
}

/// A returned value as a caller may show or store it: its `Debug` and its JSON.
fn shown<T: std::fmt::Debug + serde::Serialize>(v: &T) -> String {
    format!("{v:?} | {}", serde_json::to_string(v).unwrap())
}

/// What each call printed: a returned value (`true`) or an error (`false`).
async fn every_call(c: &Client) -> Vec<(bool, String)> {
    use futures::TryStreamExt as _;
    let wait = WaitPolicy::for_provider(c.provider())
        .with_max_polls(Some(2))
        .with_jitter(0.0);
    let id = JobId::new("t-1");
    let clone = match c.provider() {
        Provider::Vmeg => CloneRequest::new("https://cdn.example.com/a.wav").name("n"),
        // JimmyAI (Provider is non_exhaustive: a new vendor needs its own arm here).
        _ => CloneRequest::new("https://cdn.example.com/a.mp3"),
    };
    let mut out = Vec::new();
    let mut keep = |r: Result<String, voiceclone::Error>| {
        out.push(match r {
            Ok(v) => (true, v),
            Err(e) => (false, format!("{e} | {e:?} | {:?}", e.kind())),
        })
    };
    keep(c.clone_voice(&clone).await.map(|v| shown(&v)));
    keep(c.clone_status(&id).await.map(|v| shown(&v)));
    keep(c.wait_for_clone(&id, &wait).await.map(|v| shown(&v)));
    keep(
        c.synthesize(&SpeechRequest::new("voice-1", "Hello there."))
            .await
            .map(|v| shown(&v)),
    );
    keep(c.speech_status(&id).await.map(|v| shown(&v)));
    keep(c.wait_for_speech(&id, &wait).await.map(|v| shown(&v)));
    keep(c.task(&id).await.map(|v| shown(&v)));
    keep(
        c.tasks(TaskFilter::all())
            .try_collect::<Vec<_>>()
            .await
            .map(|v| shown(&v)),
    );
    keep(c.voices().try_collect::<Vec<_>>().await.map(|v| shown(&v)));
    keep(
        c.system_voices()
            .try_collect::<Vec<_>>()
            .await
            .map(|v| shown(&v)),
    );
    if c.provider() == Provider::Vmeg {
        keep(c.list_voices().await.map(|v| shown(&v)));
        keep(c.delete_voice("voice-1").await.map(|v| shown(&v)));
    }
    out
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(32),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_key_echoed_into_every_field_never_shows_up(
        key in "sk-[A-Za-z0-9_-]{13,45}",
        provider in prop::sample::select(Provider::ALL.to_vec()),
        how in prop::sample::select(every_echo()),
        status in prop::sample::select(vec![200u16, 200, 200, 400, 429, 500, 502]),
        code_kind in 0u8..3,
        html in prop::bool::weighted(0.15),
        keep_ids in any::<bool>(),
        word in 0u8..3,
    ) {
        let _serial = serial();
        let logs = logs();
        // A case that failed before taking its lines (proptest shrinking) leaves them behind.
        let _ = logs.take();
        let success = match provider {
            Provider::Vmeg => json!(200),
            _ => json!("20000"),
        };
        let code = match code_kind {
            _ if keep_ids => success,
            0 => success,
            1 => json!(400),
            _ => json!(echo(&key, how)),
        };
        // With valid ids, a success answer (HTTP 200, the success code): calls return values.
        let step = if keep_ids {
            Step::Json(200, Vec::new(), echoing_body(provider, &key, how, code, true, word))
        } else if html {
            let page = format!("<html><body>{}</body></html>", echo(&key, how));
            Step::Raw(status, Box::leak(page.into_boxed_str()))
        } else {
            Step::Json(status, vec![("Retry-After", "0".into())], echoing_body(provider, &key, how, code, false, word))
        };
        let printed = runtime().block_on(async {
            let server = Scripted::start(vec![step; 64]).await;
            let c = Client::builder(provider)
                .api_key(key.as_str())
                .base_url(server.base_url.as_str())
                .timeout(Duration::from_secs(5))
                .retry(RetryPolicy::default().with_max_attempts(2))
                .sleeper(Arc::new(RecordingSleeper::new()))
                .build()
                .unwrap();
            every_call(&c).await
        });
        // Valid ids in a success answer: the calls return values, which this case checks
        // (were every call to fail, the values' half of the property would check nothing).
        if keep_ids {
            prop_assert!(
                printed.iter().any(|(ok, _)| *ok),
                "{provider} {how:?}: no call returned a value: {printed:#?}"
            );
        }
        for (_, text) in &printed {
            prop_assert!(leaked(text, &key).is_none(), "{provider} {how:?}: piece {:?} in {text}", leaked(text, &key));
        }
        let captured = logs.take();
        prop_assert!(!captured.is_empty(), "no log line was captured at all");
        prop_assert!(
            leaked(&captured, &key).is_none(),
            "{provider} {how:?}: piece {:?} in the logs",
            leaked(&captured, &key)
        );
    }
}

/// Review 32-a #3: the key echoed percent-encoded (every byte in either case, or one byte in
/// three), in base64 (standard after 0, 1 or 2 other bytes; URL-safe) or in hex (either
/// case): in a VMEG refusal's `message`, in a VMEG task's status word (which a wait logs at
/// WARN as undocumented) and in a JimmyAI `audioUrl`'s query. The errors' `Display` and
/// `Debug`, the log lines, and the returned job (its `Debug`, its JSON, its URL) hold no
/// encoding of 8 of its characters; the URL is still the CDN's, with `[redacted]` where the
/// key was. Before, only literal runs of 8 were scrubbed: each of these came back whole.
#[test]
fn a_key_echoed_percent_encoded_in_base64_or_in_hex_never_shows_up() {
    const KEY: &str = "sk-live-Encoded0Echo1Of2The3Key";
    let _serial = serial();
    let logs = logs();
    let _ = logs.take();
    let forms = [
        percent_encoded(KEY, |_| true),
        percent_encoded(KEY, |_| true).to_ascii_lowercase(),
        percent_encoded(KEY, |i| i % 3 == 0),
        STANDARD.encode(KEY),
        STANDARD.encode(format!("u{KEY}")),
        STANDARD.encode(format!("u:{KEY}")),
        URL_SAFE_NO_PAD.encode(KEY),
        hex::encode(KEY),
        hex::encode_upper(KEY),
    ];
    let client = |provider: Provider, server: &Scripted| {
        Client::builder(provider)
            .api_key(KEY)
            .base_url(server.base_url.as_str())
            .timeout(Duration::from_secs(5))
            .retry(RetryPolicy::default().with_max_attempts(1))
            .sleeper(Arc::new(RecordingSleeper::new()))
            .build()
            .unwrap()
    };
    let (printed, urls, captured) = runtime().block_on(async {
        let (mut printed, mut urls) = (Vec::new(), Vec::new());
        for (n, form) in forms.iter().enumerate() {
            let refusal =
                json!({"code": 400, "message": format!("bad token {form}"), "data": null});
            let status = json!({"code": 200, "message": "",
                "data": {"taskId": "t-1", "status": format!("queued {form}")}});
            let audio = format!("https://cdn.example.com/a.mp3?sig={form}&e=1");
            let done = json!({"code": 20000, "data": {"id": "t-1", "status": "completed",
                "audioUrl": audio}});
            let vmeg = Scripted::start(vec![Step::ok(refusal), Step::ok(status)]).await;
            let c = client(Provider::Vmeg, &vmeg);
            let id = JobId::new("t-1");
            let e = c.speech_status(&id).await.unwrap_err();
            printed.push(format!("form {n}: {e} | {e:?}"));
            let wait = WaitPolicy::for_provider(Provider::Vmeg)
                .with_max_polls(Some(1))
                .with_jitter(0.0);
            let e = c.wait_for_speech(&id, &wait).await.unwrap_err();
            printed.push(format!("form {n}: {e} | {e:?}"));
            let jimmy = Scripted::start(vec![Step::ok(done)]).await;
            let job = client(Provider::JimmyAi, &jimmy)
                .speech_status(&id)
                .await
                .unwrap();
            printed.push(format!("form {n}: {}", shown(&job)));
            let speech = job.speech.expect("a completed job has its speech");
            urls.extend(speech.audio_urls.iter().map(|u| u.to_string()));
        }
        (printed, urls, logs.take())
    });
    for text in &printed {
        assert!(
            leaked(text, KEY).is_none(),
            "{:?} in {text}",
            leaked(text, KEY)
        );
    }
    assert!(
        printed[0].contains("bad token [redacted]"),
        "{}",
        printed[0]
    );
    // Around `[redacted]`, base64 may keep characters that also hold bits of the bytes
    // beside the key (`u:`, padding): no piece of it.
    assert_eq!(urls.len(), forms.len());
    for url in &urls {
        assert!(
            url.starts_with("https://cdn.example.com/a.mp3?sig=")
                && url.contains("[redacted]")
                && url.ends_with("&e=1"),
            "{url}"
        );
    }
    assert!(
        captured.contains("undocumented task status"),
        "the status word was not logged: {captured}"
    );
    let bad: Vec<&str> = captured
        .lines()
        .filter(|l| leaked(l, KEY).is_some())
        .collect();
    assert!(
        bad.is_empty(),
        "encoded pieces of the key in the logs: {bad:#?}"
    );
}

/// A webhook delivery echoing the key, in every field of each shape the hub reads (a clone,
/// a TTS, another product's kept raw), for `Client::job_for_idempotency_key`.
fn echoing_delivery(event: &str, key: &str, how: Echo, code: i64) -> Value {
    let k = echo(key, how);
    let data = match event {
        "openapi-clone-voice" => json!({"taskId": "t-1", "voiceId": k, "voiceName": k,
            "errorMessage": k, "status": k}),
        "openapi-tts" => json!({"taskId": "t-1", "status": k,
            "results": [{"uri": k, "errorMessage": k, "duration": k}]}),
        _ => json!({"taskId": "t-1", k.as_str(): [k, {"nested": k}], "n": 1}),
    };
    json!({
        "code": code, "event": event, "version": k, "pipelineKey": "pk-echo", "message": k,
        "extraData": {"voiceclone": {"idempotencyKey": "idem-1", "note": k},
            k.as_str(): {"x": [k]}},
        "data": data,
    })
}

proptest! {
    #![proptest_config(config())]

    /// Waits already decode a delivery under the client's filter; the lookup by idempotency
    /// key returned it unscrubbed (`message`, the job's error, `extraData`, a raw `data`).
    #[test]
    fn a_key_echoed_by_a_webhook_never_shows_up_in_the_idempotency_lookup(
        key in "sk-[A-Za-z0-9_-]{13,45}",
        event in prop::sample::select(vec!["openapi-clone-voice", "openapi-tts", "openapi-translate"]),
        how in prop::sample::select(every_echo()),
        code in prop::sample::select(vec![200i64, 401, 500]),
    ) {
        const SECRET: &str = "whsec-key-echo";
        let _serial = serial();
        let logs = logs();
        let printed = runtime().block_on(async {
            let hub = voiceclone::webhook::CompletionHub::in_memory(voiceclone::WebhookSecret::new(SECRET));
            let body = echoing_delivery(event, &key, how, code).to_string();
            let d = receive_signed(&hub, SECRET, &body).await;
            assert_eq!(d.http_status(), 200, "{d:?}");
            let c = Client::builder(Provider::Vmeg)
                .api_key(key.as_str())
                .base_url("http://127.0.0.1:9/")
                .completion_hub(hub)
                .build()
                .unwrap();
            let found = c.job_for_idempotency_key("idem-1").await.unwrap();
            let found = found.expect("the delivery is found by its idempotency key");
            assert_eq!(found.idempotency_key(), Some("idem-1"));
            format!("{found:?}")
        });
        prop_assert!(leaked(&printed, &key).is_none(), "{event} {how:?}: piece {:?} in {printed}", leaked(&printed, &key));
        let captured = logs.take();
        prop_assert!(
            leaked(&captured, &key).is_none(),
            "{event} {how:?}: piece {:?} in the logs",
            leaked(&captured, &key)
        );
    }
}

/// A VMEG client using `key` behind a new in-memory hub that has answered 200 to `body`,
/// signed with `secret`; and its server, answering up to four requests with an empty task
/// list. What the hub logged on receiving is dropped: the hub alone has no API key to scrub
/// with, so those lines are not the client's.
async fn client_after_delivery(key: &str, secret: &str, body: &str) -> (Client, Scripted) {
    let hub = voiceclone::webhook::CompletionHub::in_memory(voiceclone::WebhookSecret::new(secret));
    let d = receive_signed(&hub, secret, body).await;
    assert_eq!(d.http_status(), 200, "{d:?}");
    let _ = logs().take();
    let empty = json!({"code": 200, "message": "", "data": {"records": [], "total": 0}});
    let server = Scripted::start(vec![Step::ok(empty); 4]).await;
    (hub_client(key, &server, hub), server)
}

/// Review 30-a #8: `reconcile` reads the completion hub for the submit's key as
/// `Client::job_for_idempotency_key` does, under the API key's text filter, and never sends a
/// task id holding the key. A delivery for the key that echoes the API key (whole, a piece, or
/// upper-cased) as its `pipelineKey` and its `data.taskId`: no request carries a piece of the
/// key (a task id goes in the `tasks/detail` URL, which reaches access logs), neither the
/// answer nor the log shows one, and no task is made up from the scrubbed id; but the delivery
/// still proves a task was made: an error saying so, never `None` (review 30 pass 2 #1).
/// Before: the event was decoded unfiltered, its `pipelineKey` logged at WARN and its task id
/// looked up in the URL; then, decoded under the filter, its scrubbed ids no longer matched
/// the stored ones, the delivery was dropped, and the answer was `None`.
#[test]
fn reconcile_reads_the_hubs_delivery_under_the_keys_filter_and_never_sends_the_key() {
    const KEY: &str = "sk-Echoed0By1The2Webhook3Delivery";
    const SECRET: &str = "whsec-key-echo-reconcile";
    let _serial = serial();
    let logs = logs();
    let (printed, seen, captured) = runtime().block_on(async {
        let mut printed = Vec::new();
        let mut seen = Vec::new();
        let mut captured = String::new();
        for (n, how) in [Echo::Whole, Echo::Prefix, Echo::Upper]
            .into_iter()
            .enumerate()
        {
            let k = echo(KEY, how);
            let idem = format!("idem-reconcile-{n}");
            let body = json!({
                "code": 200, "event": "openapi-tts", "pipelineKey": k,
                "extraData": {"voiceclone": {"idempotencyKey": idem}},
                "data": {"taskId": k, "results": [{"uri": "https://cdn.example.com/a.m4a"}]},
            })
            .to_string();
            let (c, server) = client_after_delivery(KEY, SECRET, &body).await;
            let mut q = voiceclone::ReconcileQuery::new(
                std::time::SystemTime::now() - Duration::from_secs(3600),
            );
            q.kind = Some(voiceclone::JobKind::Speech);
            q.idempotency_key = Some(idem);
            // Never `None` (review 30 pass 2 #1): the signed delivery proves the submit made
            // a task, and "nothing was made" would have the caller pay for it again. Nor
            // `Found` or candidates: with nothing listed, the answer is the error saying a
            // task was made, unnamed.
            let answer = match c.reconcile(&q).await {
                Ok(r) => panic!("{how:?}: the delivery's task was lost: {r:?}"),
                Err(e) => {
                    assert!(e.to_string().contains("made a task"), "{how:?}: {e}");
                    format!("{e} | {e:?}")
                }
            };
            printed.push(answer);
            captured.push_str(&logs.take());
            for r in server.seen() {
                seen.push(format!(
                    "{} {}?{} {}",
                    r.method,
                    r.path,
                    r.query,
                    String::from_utf8_lossy(&r.body)
                ));
            }
        }
        (printed, seen, captured)
    });
    for text in &seen {
        assert!(
            leaked(text, KEY).is_none(),
            "a request carried piece {:?}: {text}",
            leaked(text, KEY)
        );
    }
    for text in &printed {
        assert!(
            leaked(text, KEY).is_none(),
            "piece {:?} in {text}",
            leaked(text, KEY)
        );
    }
    assert!(
        captured.contains("reconcile"),
        "nothing of reconcile was logged: {captured}"
    );
    let bad: Vec<&str> = captured
        .lines()
        .filter(|l| leaked(l, KEY).is_some())
        .collect();
    assert!(bad.is_empty(), "pieces of the key in the logs: {bad:#?}");
}

/// A key pasted into the wrong argument: a task id (a status read, a wait, a task lookup or
/// deletion, reconcile's task id), a voice id (speech, deletion) and a language, given to a
/// client whose key is that text. Every id-taking call refuses such an id before sending
/// (`InvalidInput` naming the field, the value not quoted): sent, it would reach the
/// vendor's, a CDN's or a proxy's access logs in the URL. The language's refusal leaves
/// through the scrubber. Neither the errors (`Display`, `Debug`) nor the log show the key.
/// Before: the ids were sent (`tasks/detail?taskId=...`, JimmyAI's path), and the errors'
/// reasons and notes, then the waits' `WaitTimedOut` and their log lines, printed them.
#[test]
fn a_key_given_as_a_task_id_or_a_language_never_shows_up() {
    const KEY: &str = "sk-Pasted0Into1The2Wrong3Argument";
    let _serial = serial();
    let logs = logs();
    let (printed, sent) = runtime().block_on(async {
        let server = Scripted::start(Vec::new()).await;
        let mut out = Vec::new();
        for provider in Provider::ALL {
            let c = Client::builder(provider)
                .api_key(KEY)
                .base_url(server.base_url.as_str())
                .timeout(Duration::from_secs(5))
                .retry(RetryPolicy::default().with_max_attempts(1))
                .sleeper(Arc::new(RecordingSleeper::new()))
                .build()
                .unwrap();
            let id = JobId::new(KEY);
            let wait = WaitPolicy::for_provider(provider)
                .with_max_polls(Some(3))
                .with_jitter(0.0);
            let late = c.with_options(CallOptions::new().deadline(Instant::now()));
            let mut q = voiceclone::ReconcileQuery::new(
                std::time::SystemTime::now() - Duration::from_secs(60),
            );
            q.kind = Some(voiceclone::JobKind::Clone);
            q.task_id = Some(JobId::new(KEY));
            let refused = [
                ("job_id", c.clone_status(&id).await.unwrap_err()),
                ("job_id", c.speech_status(&id).await.unwrap_err()),
                ("job_id", c.wait_for_clone(&id, &wait).await.unwrap_err()),
                ("job_id", c.wait_for_speech(&id, &wait).await.unwrap_err()),
                ("job_id", late.wait_for_clone(&id, &wait).await.unwrap_err()),
                ("job_id", c.task(&id).await.unwrap_err()),
                ("job_id", c.delete_task(&id).await.unwrap_err()),
                ("task_id", c.reconcile(&q).await.unwrap_err()),
                (
                    "voice_id",
                    c.synthesize(&SpeechRequest::new(KEY, "Hello there."))
                        .await
                        .unwrap_err(),
                ),
            ];
            for (field, e) in &refused {
                assert!(
                    matches!(e.kind(), voiceclone::ErrorKind::InvalidInput { field: f, .. } if f == field),
                    "{provider} {field}: {e}"
                );
            }
            let mut errors: Vec<voiceclone::Error> = refused.into_iter().map(|(_, e)| e).collect();
            if provider == Provider::Vmeg {
                errors.push(c.delete_voice(KEY).await.unwrap_err());
            }
            let clone = match provider {
                Provider::Vmeg => CloneRequest::new("https://cdn.example.com/a.wav").name("n"),
                _ => CloneRequest::new("https://cdn.example.com/a.mp3"),
            };
            errors.push(c.clone_voice(&clone.language(KEY)).await.unwrap_err());
            let speech = SpeechRequest::new("voice-1", "Hello there.").language(KEY);
            errors.push(c.synthesize(&speech).await.unwrap_err());
            // The long text plans every part before sending, and a resubmit plans the
            // request it is given: both refusals quote the language, and both must leave
            // through the scrubber as `synthesize`'s does.
            let wait = WaitPolicy::for_provider(provider).with_max_polls(Some(1));
            errors.push(c.synthesize_long(&speech, &wait).await.unwrap_err());
            let lost = voiceclone::Error::new(voiceclone::ErrorKind::OutcomeUnknown {
                idempotency_key: Some("k-lost-1".into()),
                task_id: None,
                submitted_at: std::time::SystemTime::now() - Duration::from_secs(60),
                request: voiceclone::RequestSummary::default(),
            });
            errors.push(c.resubmit_speech(&lost, &speech).await.unwrap_err());
            for e in errors {
                out.push(format!("{e} | {e:?} | {:?}", e.kind()));
            }
        }
        (out, server.seen().len())
    });
    assert_eq!(sent, 0, "a request carrying the pasted key was sent");
    for text in &printed {
        assert!(
            leaked(text, KEY).is_none(),
            "piece {:?} in {text}",
            leaked(text, KEY)
        );
    }
    let captured = logs.take();
    assert!(
        captured.contains("failed"),
        "no failure was logged: {captured}"
    );
    let bad: Vec<&str> = captured
        .lines()
        .filter(|l| leaked(l, KEY).is_some())
        .collect();
    assert!(
        leaked(&captured, KEY).is_none(),
        "piece {:?} in the logs: {bad:#?}",
        leaked(&captured, KEY)
    );
}

/// Review 34-e #1: the key pasted as a request's text, name or URL (a wrong variable in a
/// script: `speak --text "$API_KEY"`, `clone --name "$API_KEY"`, a recording URL with the key
/// in its query) is refused before sending, `InvalidInput` naming the field, the value not
/// quoted: sent, the vendor would keep it as a voice's name, speak it into a file on its CDN,
/// or hand the URL to whichever host serves the recording. The long text and a resubmit are
/// refused the same way, a long text before its first part is sent. Before: sent (only the
/// CLI's printed copy was redacted).
#[test]
fn a_key_given_as_a_requests_text_name_or_url_is_never_sent() {
    const KEY: &str = "sk-Pasted0Into1The2Wrong3Argument";
    let _serial = serial();
    let _logs = logs();
    let (printed, sent) = runtime().block_on(async {
        let server = Scripted::start(Vec::new()).await;
        let mut out = Vec::new();
        for provider in Provider::ALL {
            let c = Client::builder(provider)
                .api_key(KEY)
                .base_url(server.base_url.as_str())
                .retry(RetryPolicy::default().with_max_attempts(1))
                .sleeper(Arc::new(RecordingSleeper::new()))
                .build()
                .unwrap();
            let url = match provider {
                Provider::Vmeg => "https://cdn.example.com/a.wav",
                _ => "https://cdn.example.com/a.mp3",
            };
            let clone = || CloneRequest::new(url).name("n");
            let mut refused = vec![
                ("name", c.clone_voice(&clone().name(KEY)).await.unwrap_err()),
                (
                    "sample_text",
                    c.clone_voice(&clone().sample_text(format!("Say {KEY} now.")))
                        .await
                        .unwrap_err(),
                ),
                (
                    "audio",
                    c.clone_voice(&CloneRequest::new(format!("{url}?token={KEY}")).name("n"))
                        .await
                        .unwrap_err(),
                ),
                (
                    "lines[0].text",
                    c.synthesize(&SpeechRequest::new("voice-1", KEY))
                        .await
                        .unwrap_err(),
                ),
            ];
            let wait = WaitPolicy::for_provider(provider).with_max_polls(Some(1));
            let long = SpeechRequest::new("voice-1", format!("Hello. {KEY}. Bye."));
            refused.push(("lines[0].text", c.synthesize(&long).await.unwrap_err()));
            let long_err = c.synthesize_long(&long, &wait).await.unwrap_err();
            // The key in a later part of a long text: refused before the first part is sent
            // (review 34 pass 2 #3: refused at its own part, the earlier ones were paid).
            let mut text = format!("{}\n\n", "A sentence of the script. ".repeat(10)).repeat(119);
            text.push_str(&format!("The end {KEY}."));
            let later = SpeechRequest::new("voice-1", text);
            let later_err = c.synthesize_long(&later, &wait).await.unwrap_err();
            assert!(
                matches!(later_err.kind(), voiceclone::ErrorKind::InvalidInput { field, .. } if field.starts_with("parts[") && !field.starts_with("parts[0]")),
                "{provider}: {later_err}"
            );
            out.push(format!("{later_err} | {later_err:?}"));
            // A local recording's file name is sent too (a multipart name, a material's).
            let named = CloneRequest::from_bytes(format!("{KEY}.wav"), vec![1_u8; 64]).name("n");
            refused.push(("audio", c.clone_voice(&named).await.unwrap_err()));
            refused.push(("audio", c.upload(&named.audio).await.unwrap_err()));
            if provider == Provider::Vmeg {
                refused.push(("name", c.rename_voice("cv_1", KEY).await.unwrap_err()));
                refused.push((
                    "emotion_prompt",
                    c.synthesize(&SpeechRequest::new("voice-1", "Hi.").emotion_prompt(KEY))
                        .await
                        .unwrap_err(),
                ));
            }
            for (field, e) in &refused {
                assert!(
                    matches!(e.kind(), voiceclone::ErrorKind::InvalidInput { field: f, .. } if f == field),
                    "{provider} {field}: {e}"
                );
                assert!(e.may_resubmit(), "{provider} {field}: {e}");
            }
            out.extend(refused.iter().map(|(_, e)| format!("{e} | {e:?}")));
            out.push(format!("{long_err} | {long_err:?}"));
        }
        (out, server.seen().len())
    });
    assert_eq!(sent, 0, "a request carrying the pasted key was sent");
    for text in &printed {
        assert!(leaked(text, KEY).is_none(), "{text}");
    }
}

/// Review 34 pass 2 #9: a key shorter than 8 characters (a test's `"key"`) is not looked for
/// in a request's text, name or URL: it would be found in ordinary words (`monkey`) and refuse
/// every such request. The text is sent.
#[test]
fn a_short_key_does_not_refuse_ordinary_words() {
    let _serial = serial();
    let sent = runtime().block_on(async {
        let accepted = json!({"code": 200, "message": "", "data": {"taskId": "t-1"}});
        let server = Scripted::start(vec![Step::ok(accepted)]).await;
        let c = Client::builder(Provider::Vmeg)
            .api_key("key")
            .base_url(server.base_url.as_str())
            .sleeper(Arc::new(RecordingSleeper::new()))
            .build()
            .unwrap();
        c.synthesize(&SpeechRequest::new("voice-1", "Monkey business."))
            .await
            .unwrap();
        server.seen().len()
    });
    assert_eq!(sent, 1);
}

/// The key pasted into an id only in part (a 9-character piece of it, `t-` before it, as a
/// paste cut short or glued to a prefix leaves it), or upper-cased, is refused as the whole
/// key is: `InvalidInput` naming the field, for every id call, and nothing sent (in the
/// URL, it would reach the vendor's, a CDN's or a proxy's access logs, which no scrubbing of
/// errors or logs here reaches). Before: pinned with the whole key only, so a check by
/// `value.contains(key)` passed every test (review 27-a #4).
#[test]
fn an_id_holding_a_piece_of_the_key_or_the_key_upper_cased_is_never_sent() {
    const KEY: &str = "sk-Pasted0Into1The2Wrong3Argument";
    let _serial = serial();
    let _logs = logs();
    let piece = format!("t-{}", KEY.get(5..14).unwrap());
    let upper = KEY.to_ascii_uppercase();
    let sent = runtime().block_on(async {
        let server = Scripted::start(Vec::new()).await;
        for provider in Provider::ALL {
            let c = Client::builder(provider)
                .api_key(KEY)
                .base_url(server.base_url.as_str())
                .timeout(Duration::from_secs(5))
                .retry(RetryPolicy::default().with_max_attempts(1))
                .sleeper(Arc::new(RecordingSleeper::new()))
                .build()
                .unwrap();
            for value in [piece.as_str(), upper.as_str()] {
                let id = JobId::new(value);
                let wait = WaitPolicy::for_provider(provider)
                    .with_max_polls(Some(3))
                    .with_jitter(0.0);
                let mut q = voiceclone::ReconcileQuery::new(
                    std::time::SystemTime::now() - Duration::from_secs(60),
                );
                q.kind = Some(voiceclone::JobKind::Clone);
                q.task_id = Some(JobId::new(value));
                let mut refused = vec![
                    ("job_id", c.clone_status(&id).await.unwrap_err()),
                    ("job_id", c.speech_status(&id).await.unwrap_err()),
                    ("job_id", c.wait_for_clone(&id, &wait).await.unwrap_err()),
                    ("job_id", c.wait_for_speech(&id, &wait).await.unwrap_err()),
                    ("job_id", c.task(&id).await.unwrap_err()),
                    ("job_id", c.delete_task(&id).await.unwrap_err()),
                    ("task_id", c.reconcile(&q).await.unwrap_err()),
                    (
                        "voice_id",
                        c.synthesize(&SpeechRequest::new(value, "Hello there."))
                            .await
                            .unwrap_err(),
                    ),
                ];
                if provider == Provider::Vmeg {
                    refused.push(("voice_id", c.delete_voice(value).await.unwrap_err()));
                    refused.push((
                        "voice_id",
                        c.rename_voice(value, "narrator").await.unwrap_err(),
                    ));
                }
                for (field, e) in &refused {
                    assert!(
                        matches!(e.kind(), voiceclone::ErrorKind::InvalidInput { field: f, .. } if f == field),
                        "{provider} {field} {value:?}: {e}"
                    );
                    assert!(leaked(&format!("{e} | {e:?}"), KEY).is_none(), "{e:?}");
                }
            }
        }
        server.seen().len()
    });
    assert_eq!(sent, 0, "a request carrying a piece of the key was sent");
}

/// Review 30 pass 3 (b) #1: a signed delivery whose `event` holds the key, and whose
/// `pipelineKey` (255 bytes, holding an 8-character piece of the key) grows past its
/// 256-byte limit under the key's filter, so its filtered decode fails and the hub keeps
/// the genuine delivery without its data. Neither `Client::job_for_idempotency_key` nor
/// `reconcile` (which logs an event of another kind) shows a piece of the key.
/// Before: the kept event's `kind` was the raw `event` text, the whole key.
#[test]
fn a_delivery_failing_its_filtered_decode_never_shows_the_key_in_its_kind() {
    const KEY: &str = "sk-Kind0Echo1Past2The3Filter4Limit";
    const SECRET: &str = "whsec-key-echo-kind";
    let _serial = serial();
    let logs = logs();
    let (printed, captured) = runtime().block_on(async {
        let piece: String = KEY.chars().skip(3).take(8).collect();
        let pad = "p".repeat(255 - 3 - piece.len());
        let pipeline_key = format!("pk-{pad}{piece}");
        assert_eq!(pipeline_key.len(), 255);
        let body = json!({
            "code": 200, "event": format!("openapi-tts-{KEY}"), "pipelineKey": pipeline_key,
            "extraData": {"voiceclone": {"idempotencyKey": "idem-kind"}},
            "data": {"taskId": "t-kind", "results": [{"uri": "https://cdn.example.com/a.m4a"}]},
        })
        .to_string();
        let (c, _server) = client_after_delivery(KEY, SECRET, &body).await;
        let found = c.job_for_idempotency_key("idem-kind").await.unwrap();
        let found = found.expect("the genuine delivery is kept");
        let mut printed = vec![format!("{found:?}")];
        let mut q = voiceclone::ReconcileQuery::new(
            std::time::SystemTime::now() - Duration::from_secs(3600),
        );
        q.kind = Some(voiceclone::JobKind::Speech);
        q.idempotency_key = Some("idem-kind".to_owned());
        printed.push(match c.reconcile(&q).await {
            Ok(r) => format!("{r:?}"),
            Err(e) => format!("{e} | {e:?}"),
        });
        (printed, logs.take())
    });
    for text in &printed {
        assert!(
            leaked(text, KEY).is_none(),
            "piece {:?} in {text}",
            leaked(text, KEY)
        );
    }
    let bad: Vec<&str> = captured
        .lines()
        .filter(|l| leaked(l, KEY).is_some())
        .collect();
    assert!(bad.is_empty(), "pieces of the key in the logs: {bad:#?}");
}
