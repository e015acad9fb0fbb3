//! Property: a random API key echoed by the server into every field of every response shape
//! never shows up, as any 8-character piece (ASCII case-insensitive), in an error's `Display`
//! or `Debug`, in a value a call returns, or in a log line captured at `trace`.
//!
//! A binary of its own: it installs a process-wide `tracing` subscriber at `trace`.
//! `PROPTEST_CASES` sets the number of cases (default 32; each runs every call of one
//! provider).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::{Value, json};
use voiceclone::{
    CallOptions, Client, CloneRequest, JobId, Provider, RecordingSleeper, RetryPolicy,
    SpeechRequest, WaitPolicy,
};
use workspace_tests::captured::Captured;
use workspace_tests::scripted::{Scripted, Step};

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
}

fn echo(key: &str, how: Echo) -> String {
    match how {
        Echo::Whole => key.to_owned(),
        Echo::Prefix => key.chars().take(9).collect(),
        Echo::Suffix => key.chars().skip(key.len().saturating_sub(9)).collect(),
        Echo::Upper => key.to_ascii_uppercase(),
        Echo::Embedded => format!("error: Bearer {key} is not valid"),
        Echo::InUrl => format!("https://cdn.example.com/{key}/a.mp3?token={key}"),
    }
}

/// Every field of every answer shape of `provider`, each holding the key.
fn echoing_body(provider: Provider, key: &str, how: Echo, code: Value) -> Value {
    let k = echo(key, how);
    match provider {
        Provider::Vmeg => json!({
            "code": code, "message": k,
            "data": {
                "taskId": k, "status": k, "voiceId": k, "voiceName": k, "createdAt": k,
                "results": [{"uri": k, "errorMessage": k, "duration": k}],
                "result": {"taskId": k, "voiceId": k, "voiceName": k, "errorMessage": k,
                    "error": k, "message": k, "reason": k, "results": [{"uri": k, "errorMessage": k}]},
                "records": [{"voiceId": k, "taskId": k, "name": k, "audio": k, "createTime": k}],
                "total": k
            }
        }),
        _ => json!({
            "code": code, "msg": k, "message": k,
            "data": {"id": k, "status": k, "modelId": k, "audioUrl": k, "subtitleFile": k,
                "error": k, "url": k, "created": k}
        }),
    }
}

fn pieces(key: &str) -> Vec<String> {
    let chars: Vec<char> = key.to_ascii_lowercase().chars().collect();
    chars.windows(8).map(|w| w.iter().collect()).collect()
}

fn leaked(text: &str, key: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    pieces(key).into_iter().find(|p| lower.contains(p.as_str()))
}

async fn every_call(c: &Client) -> Vec<String> {
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
            Ok(v) => v,
            Err(e) => format!("{e} | {e:?} | {:?}", e.kind()),
        })
    };
    keep(c.clone_voice(&clone).await.map(|v| format!("{v:?}")));
    keep(c.clone_status(&id).await.map(|v| format!("{v:?}")));
    keep(c.wait_for_clone(&id, &wait).await.map(|v| format!("{v:?}")));
    keep(
        c.synthesize(&SpeechRequest::new("voice-1", "Hello there."))
            .await
            .map(|v| format!("{v:?}")),
    );
    keep(c.speech_status(&id).await.map(|v| format!("{v:?}")));
    keep(
        c.wait_for_speech(&id, &wait)
            .await
            .map(|v| format!("{v:?}")),
    );
    if c.provider() == Provider::Vmeg {
        keep(c.list_voices().await.map(|v| format!("{v:?}")));
        keep(c.delete_voice("voice-1").await.map(|v| format!("{v:?}")));
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
        how in prop::sample::select(vec![
            Echo::Whole, Echo::Prefix, Echo::Suffix, Echo::Upper, Echo::Embedded, Echo::InUrl,
        ]),
        status in prop::sample::select(vec![200u16, 200, 200, 400, 429, 500, 502]),
        code_kind in 0u8..3,
        html in prop::bool::weighted(0.15),
    ) {
        let _serial = serial();
        let logs = logs();
        let success = match provider {
            Provider::Vmeg => json!(200),
            _ => json!("20000"),
        };
        let code = match code_kind {
            0 => success,
            1 => json!(400),
            _ => json!(echo(&key, how)),
        };
        let step = if html {
            let page = format!("<html><body>{}</body></html>", echo(&key, how));
            Step::Raw(status, Box::leak(page.into_boxed_str()))
        } else {
            Step::Json(status, vec![("Retry-After", "0".into())], echoing_body(provider, &key, how, code))
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
        for text in &printed {
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
        how in prop::sample::select(vec![
            Echo::Whole, Echo::Prefix, Echo::Suffix, Echo::Upper, Echo::Embedded, Echo::InUrl,
        ]),
        code in prop::sample::select(vec![200i64, 401, 500]),
    ) {
        const SECRET: &str = "whsec-key-echo";
        let _serial = serial();
        let logs = logs();
        let printed = runtime().block_on(async {
            let hub = voiceclone::webhook::CompletionHub::in_memory(voiceclone::WebhookSecret::new(SECRET));
            let body = echoing_delivery(event, &key, how, code).to_string();
            let ts = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis()
                .to_string();
            let sig = voiceclone_sim::sign(SECRET, &ts, body.as_bytes());
            let d = hub.receive(&ts, &sig, body.as_bytes()).await;
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

/// A key pasted into the wrong argument: a task id (a status read, a wait: a JimmyAI "unknown
/// id" note quotes it, `TaskFailed` and `WaitTimedOut` print it, the wait's log lines name
/// it) and a language (the refusal quotes the tag), given to a client whose key is that text.
/// Every error leaves through the key's scrubber, its reason, note and ids too, and the
/// wait's log lines print the id through it: neither the error (`Display`, `Debug`) nor the
/// log shows the key. Before: the reason and the note kept it; then a wait's `WaitTimedOut`
/// (a call deadline already past, polls answered 503) and its debug lines still did.
#[test]
fn a_key_given_as_a_task_id_or_a_language_never_shows_up() {
    const KEY: &str = "sk-Pasted0Into1The2Wrong3Argument";
    let _serial = serial();
    let logs = logs();
    let printed = runtime().block_on(async {
        // The hub's own record of the delivery names its task: what the vendor sent, to a hub
        // that knows only the webhook secret (a vendor never names a task by the caller's
        // key; this delivery is made up to end a wait on such an id). Not what is checked.
        let hub = hub_told_task_failed(KEY).await;
        let _ = logs.take();
        let not_found = Step::status(404, json!({"code": "40400", "msg": "task not found"}));
        let server = Scripted::start(vec![not_found; 64]).await;
        // Polls answered "unavailable": transient, so the wait polls on (logging each) until
        // its poll bound ends it with `WaitTimedOut`.
        let unavailable = Step::status(503, json!({"code": "50300", "msg": "busy"}));
        let busy = Scripted::start(vec![unavailable; 64]).await;
        let mut out = Vec::new();
        for provider in Provider::ALL {
            let client = |base: &str| {
                Client::builder(provider)
                    .api_key(KEY)
                    .base_url(base)
                    .timeout(Duration::from_secs(5))
                    .retry(RetryPolicy::default().with_max_attempts(1))
                    .sleeper(Arc::new(RecordingSleeper::new()))
                    .build()
                    .unwrap()
            };
            let c = client(server.base_url.as_str());
            let id = JobId::new(KEY);
            let wait = WaitPolicy::for_provider(provider)
                .with_max_polls(Some(3))
                .with_jitter(0.0);
            let mut errors = Vec::new();
            let e = c.clone_status(&id).await.unwrap_err();
            if provider == Provider::JimmyAi {
                assert!(
                    e.note().is_some(),
                    "the unknown-id note is what is checked: {e}"
                );
            }
            errors.push(e);
            errors.push(c.speech_status(&id).await.unwrap_err());
            errors.push(c.wait_for_clone(&id, &wait).await.unwrap_err());
            errors.push(c.wait_for_speech(&id, &wait).await.unwrap_err());
            // A call deadline already past: the waits end before polling, naming the task.
            let late = c.with_options(CallOptions::new().deadline(Instant::now()));
            let e = late.wait_for_clone(&id, &wait).await.unwrap_err();
            assert_eq!(e.kind().as_str(), "wait_timed_out", "{e}");
            errors.push(e);
            let e = late.wait_for_speech(&id, &wait).await.unwrap_err();
            assert_eq!(e.kind().as_str(), "wait_timed_out", "{e}");
            errors.push(e);
            // Polls that fail transiently: each is logged, the wait ends on its poll bound.
            let b = client(busy.base_url.as_str());
            let e = b.wait_for_clone(&id, &wait).await.unwrap_err();
            assert_eq!(e.kind().as_str(), "wait_timed_out", "{e}");
            errors.push(e);
            let e = b.wait_for_speech(&id, &wait).await.unwrap_err();
            assert_eq!(e.kind().as_str(), "wait_timed_out", "{e}");
            errors.push(e);
            if provider == Provider::Vmeg {
                // The task's webhook (a failure) ends the wait: `TaskFailed` names the task, as
                // the hub's log line does.
                errors.push(failed_by_webhook(KEY, server.base_url.as_str(), hub.clone()).await);
                // A reconcile told the key as the task an answer named: the vendor does not
                // find it, and the line saying so names it.
                let mut q = voiceclone::ReconcileQuery::new(
                    std::time::SystemTime::now() - Duration::from_secs(60),
                );
                q.kind = Some(voiceclone::JobKind::Clone);
                q.task_id = Some(JobId::new(KEY));
                if let Err(e) = c.reconcile(&q).await {
                    errors.push(e);
                }
            }
            let clone = match provider {
                Provider::Vmeg => CloneRequest::new("https://cdn.example.com/a.wav").name("n"),
                _ => CloneRequest::new("https://cdn.example.com/a.mp3"),
            };
            errors.push(c.clone_voice(&clone.language(KEY)).await.unwrap_err());
            let speech = SpeechRequest::new("voice-1", "Hello there.").language(KEY);
            errors.push(c.synthesize(&speech).await.unwrap_err());
            for e in errors {
                out.push(format!("{e} | {e:?} | {:?}", e.kind()));
            }
        }
        out
    });
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
    // The wait's lines naming the task are among those checked.
    for line in [
        "no time left for a poll",
        "transient error while polling",
        "completed by webhook",
        "the task the answer named is not found",
    ] {
        assert!(
            captured.contains(line),
            "no {line:?} was logged: {captured}"
        );
    }
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

/// A completion hub holding the verified failure webhook of task `key`.
async fn hub_told_task_failed(key: &str) -> voiceclone::webhook::CompletionHub {
    const SECRET: &str = "whsec-key-as-id";
    let hub = voiceclone::webhook::CompletionHub::in_memory(voiceclone::WebhookSecret::new(SECRET));
    let body = json!({
        "code": 500, "event": "openapi-clone-voice", "pipelineKey": "pk-key-as-id",
        "message": "the sample was too short", "data": {"taskId": key},
    })
    .to_string();
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    let sig = voiceclone_sim::sign(SECRET, &ts, body.as_bytes());
    let d = hub.receive(&ts, &sig, body.as_bytes()).await;
    assert_eq!(d.http_status(), 200, "{d:?}");
    hub
}

/// A VMEG wait on task `key` (the client's key pasted as the id) that its failure webhook,
/// in `hub`, ends: the error (`TaskFailed`).
async fn failed_by_webhook(
    key: &str,
    base_url: &str,
    hub: voiceclone::webhook::CompletionHub,
) -> voiceclone::Error {
    let c = Client::builder(Provider::Vmeg)
        .api_key(key)
        .base_url(base_url)
        .sleeper(Arc::new(RecordingSleeper::new()))
        .completion_hub(hub)
        .build()
        .unwrap();
    let e = c
        .wait_for_clone(&JobId::new(key), &WaitPolicy::for_provider(Provider::Vmeg))
        .await
        .unwrap_err();
    assert_eq!(e.kind().as_str(), "task_failed", "{e}");
    e
}
