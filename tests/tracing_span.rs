//! The tracing span each adapter call opens: its fields, and never the key.
//!
//! A binary of its own, and every capture through one global subscriber
//! (`workspace_tests::captured`): tracing caches each callsite's interest process-wide, and a
//! per-thread `set_default` beside threads with no subscriber could make its events disappear.
//! The tests that set a subscriber of their own (a layer that reads the fake or the hub) install
//! the global one first, so that no callsite's interest is ever cached from theirs alone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "hub_support.rs"]
mod hub_support;
#[path = "parking.rs"]
mod parking;

use serde_json::json;
use std::sync::Arc;
use voiceclone::{Client, JobId, Provider, RecordingSleeper};
use workspace_tests::captured::Captured;
use workspace_tests::scripted::{Scripted, Step};

const SECRET_KEY: &str = "sk-test-7f3a9c-DO-NOT-PRINT";

fn running() -> Step {
    Step::ok(json!({"code": 200, "message": "", "data": {"taskId": "t", "status": "running"}}))
}

/// Everything logged at `level` or above on this thread, kept in memory, until the guard is
/// dropped.
fn capture(level: tracing::Level) -> (Captured, workspace_tests::captured::CaptureGuard) {
    workspace_tests::captured::capture(level)
}

/// The lines of a captured log at `level` (` INFO `, ` WARN `) that contain `needle`.
fn lines_with(text: &str, level: &str, needle: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains(level) && l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// A `tracing` writer that keeps everything in memory.
#[tokio::test]
async fn each_call_has_a_span_with_provider_operation_attempt_status_and_no_secret() {
    let (out, _guard) = workspace_tests::captured::capture_with_span_closes(tracing::Level::DEBUG);
    let server = Scripted::start(vec![Step::Raw(503, "busy"), running()]).await;
    let c = Client::builder(Provider::Vmeg)
        .api_key(SECRET_KEY)
        .base_url(server.base_url.as_str())
        .sleeper(Arc::new(RecordingSleeper::new()))
        .build()
        .unwrap();
    c.clone_status(&JobId::new("t")).await.unwrap();
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    for field in [
        "provider=vmeg",
        "operation=\"clone_status\"",
        "attempt=2",
        "http_status=200",
        "latency_ms=",
    ] {
        assert!(text.contains(field), "missing {field} in:\n{text}");
    }
    assert!(!text.contains(SECRET_KEY), "the key was logged:\n{text}");
    // The span carries the request id of the attempt that answered (VMEG `req_id`).
    let seen = server.seen();
    let rid = url::form_urlencoded::parse(seen[1].query.as_bytes())
        .find(|(k, _)| k == "req_id")
        .map(|(_, v)| v.into_owned())
        .expect("a req_id on the wire");
    assert!(
        text.contains(&format!("req_id=\"{rid}\"")) || text.contains(&format!("req_id={rid}")),
        "missing req_id {rid} in:\n{text}"
    );
}

/// An operator's log: one INFO line per logical call, none per poll, and error kinds by
/// their stable names.
#[tokio::test]
async fn a_clone_and_wait_logs_one_info_line_per_call_and_none_per_poll() {
    let (out, _guard) = capture(tracing::Level::INFO);
    // The clone finishes when the test says so (after several polls), not after a time a
    // slow machine could spend on one or two polls.
    let sim =
        voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_durations(
            std::time::Duration::from_secs(3600),
            std::time::Duration::from_secs(3600),
        ))
        .await
        .unwrap();
    let c = Client::builder(Provider::Vmeg)
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .build()
        .unwrap();
    let job = c
        .clone_voice(&voiceclone::CloneRequest::new("https://a.example/s.wav").name("log"))
        .await
        .unwrap();
    let policy = voiceclone::WaitPolicy::for_provider(Provider::Vmeg)
        .with_first_interval(std::time::Duration::from_millis(5))
        .with_max_interval(std::time::Duration::from_millis(5));
    let polled = |n: u64| sim.stats().requests("vmeg.tasksDetail") >= n;
    let finish_after_three_polls = async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !polled(3) && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        sim.complete_all_now();
    };
    let (waited, ()) = tokio::join!(c.wait_for_clone(&job.id, &policy), finish_after_three_polls);
    waited.unwrap();
    let polls = sim.stats().requests("vmeg.tasksDetail");
    assert!(polls >= 3, "{polls} polls: the test needs several");
    let err = c
        .clone_status(&JobId::new("no-such-task"))
        .await
        .unwrap_err();
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let info: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" INFO ") && l.contains("voiceclone::client"))
        .collect();
    assert_eq!(info.len(), 3, "one line per call, none per poll:\n{text}");
    assert!(
        text.contains(&format!("error_kind=\"{}\"", err.kind().as_str()))
            || text.contains(&format!("error_kind={}", err.kind().as_str())),
        "{text}"
    );
    assert!(!text.contains("Discriminant"), "{text}");
    // The polls' attempts are not piled onto the wait's span.
    let wait_line = info.iter().find(|l| l.contains("wait_for_clone")).unwrap();
    assert!(wait_line.matches("attempt=").count() <= 1, "{wait_line}");
}

/// README, downloads: "a signed URL's query string never appears in an error or log" (the
/// error half: `adapter_download::errors_never_show_the_signed_query`). Every level, through
/// a redirect whose target is signed too.
#[tokio::test]
async fn a_download_never_logs_the_signed_query() {
    let (out, _guard) = workspace_tests::captured::capture_with_span_closes(tracing::Level::TRACE);
    let moved = "/moved.wav?X-Amz-Signature=second-signature-42&X-Amz-Credential=AKIA2ND";
    let server = Scripted::start(vec![
        Step::Json(302, vec![("location", moved.to_owned())], json!({})),
        Step::Raw(404, "gone"),
    ])
    .await;
    let c = Client::builder(Provider::Vmeg)
        .api_key(SECRET_KEY)
        .base_url(server.base_url.as_str())
        .allow_private_urls(true)
        .build()
        .unwrap();
    let url = url::Url::parse(&format!(
        "{}/first.wav?X-Amz-Signature=first-signature-17&X-Amz-Credential=AKIA1ST",
        server.base_url
    ))
    .unwrap();
    let e = c
        .download_to_writer(&url, &mut Vec::new())
        .await
        .unwrap_err();
    assert_eq!(server.seen().len(), 2, "the redirect was followed");
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("/first.wav") && text.contains("/moved.wav"),
        "the download was logged:\n{text}"
    );
    for secret in ["signature-", "AKIA", SECRET_KEY] {
        assert!(!text.contains(secret), "{secret} logged:\n{text}");
        assert!(!format!("{e} {e:?}").contains(secret), "{secret} in {e:?}");
    }
}

/// A result host that puts the API key in a redirect's `Location` path: the download's
/// debug lines (each GET, the finish) show the URL with the key scrubbed.
#[tokio::test]
async fn a_download_never_logs_a_key_a_result_host_echoed() {
    let (out, _guard) = capture(tracing::Level::DEBUG);
    let server = Scripted::start(vec![
        Step::Json(
            302,
            vec![("Location", format!("/k/{SECRET_KEY}/a.wav"))],
            json!(null),
        ),
        Step::Raw(404, ""),
    ])
    .await;
    let c = Client::builder(Provider::Vmeg)
        .api_key(SECRET_KEY)
        .base_url("http://127.0.0.1:9")
        .retry(voiceclone::RetryPolicy::none())
        .allow_private_urls(true)
        .build()
        .unwrap();
    let url = url::Url::parse(&format!("{}/start.wav", server.base_url)).unwrap();
    assert!(c.download_to_writer(&url, &mut Vec::new()).await.is_err());
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("download GET"), "no download lines:\n{text}");
    assert!(!text.contains(SECRET_KEY), "the key was logged:\n{text}");
}

/// `auto` is in VMEG's source list only: a speech target of `auto` is sent (whether VMEG
/// takes it is UNKNOWN) with a warning naming the reason, and a documented target is not.
#[test]
fn a_vmeg_speech_target_documented_only_as_a_source_is_sent_with_a_warning() {
    let warned = |language: &str| {
        let (out, _guard) = capture(tracing::Level::WARN);
        let mut req = voiceclone::SpeechRequest::new("cv_1", "Hello there.");
        req.language = Some(language.to_owned());
        let run = voiceclone::estimate::DryRun::speech(Provider::Vmeg, &[req]).unwrap();
        let body = &run.requests[0].body;
        assert_eq!(body["language"]["target"], language, "{body}");
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text.contains("documents this language tag as a source only")
    };
    assert!(warned("auto"));
    assert!(warned("ur-PK"));
    assert!(!warned("en-US"));
    assert!(!warned("ur-IN"));
}

/// A sender refused over and over (anyone who reaches the route can be) writes a few
/// warnings that count the refusals, not one per request; the first is a warning at once
/// (a wrong secret shows).
#[test]
fn refused_webhook_deliveries_do_not_flood_the_warnings() {
    let (out, _guard) = capture(tracing::Level::WARN);
    let verifier = voiceclone::webhook::Verifier::new(voiceclone::WebhookSecret::new("whsec-x"));
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    for _ in 0..1000 {
        assert!(verifier.verify(&ts, "00", b"{}").is_err());
    }
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let warnings = text.matches("webhook delivery refused").count();
    assert!((1..=10).contains(&warnings), "{warnings} warnings:\n{text}");
    assert!(text.contains("refused_so_far=1\n"), "{text}");
}

/// A long text's accepted parts are logged at INFO with their job ids: a caller that drops
/// `synthesize_long` (a timer around it, a `select!`) loses the ids the future held, and
/// the log is where an operator finds the paid tasks again. Before: logged at DEBUG only.
#[tokio::test]
async fn a_dropped_long_texts_accepted_parts_are_found_in_the_info_log() {
    let (out, _guard) = capture(tracing::Level::INFO);
    // Tasks that do not finish while the test runs: the call is still waiting when dropped.
    let sim =
        voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_durations(
            std::time::Duration::from_secs(3600),
            std::time::Duration::from_secs(3600),
        ))
        .await
        .unwrap();
    let c = Client::builder(Provider::Vmeg)
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .build()
        .unwrap();
    // 60 paragraphs, a line each: two VMEG tasks of at most 50 lines.
    let text = format!("{}\n\n", "A sentence of the script. ".repeat(10)).repeat(60);
    let req = voiceclone::SpeechRequest::new("sv_en_us_female_01", &text);
    // Polls far apart: the wait must not give up before the log is read.
    let policy = voiceclone::WaitPolicy::for_provider(Provider::Vmeg)
        .with_first_interval(std::time::Duration::from_millis(50))
        .with_max_interval(std::time::Duration::from_millis(50));
    let logged = || String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let accepted_lines = |text: &str| lines_with(text, " INFO ", "long text part accepted");
    let both_accepted = async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while accepted_lines(&logged()).len() < 2 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    tokio::select! {
        r = c.synthesize_long(&req, &policy) => {
            panic!("the call ended before both parts were seen in the INFO log: {r:?}")
        }
        () = both_accepted => {} // the call's future is dropped here
    }
    assert_eq!(sim.stats().billable("vmeg.ttsCreateAsync"), 2);
    let lines = accepted_lines(&logged());
    assert_eq!(lines.len(), 2, "{}", logged());
    for line in &lines {
        assert!(line.contains("parts=2"), "{line}");
        let id = line
            .split("job_id=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no job id in {line}"))
            .trim_matches('"');
        // The id in the log (the stored form) finds the task.
        let id: JobId = id.parse().unwrap();
        c.speech_status(&id)
            .await
            .unwrap_or_else(|e| panic!("{id}: {e}"));
    }
}

/// A base URL carrying credentials or a token in its query is refused when the client is
/// built (nothing is sent to it), and its secrets show nowhere: not in the builder's
/// `Debug`, not in the refusal's `Display` or `Debug`, not in what is logged meanwhile. A
/// call through a client on the same host without them fails (nothing listens) without
/// printing them either.
#[tokio::test]
async fn a_secret_in_the_base_url_is_never_printed_by_the_adapter() {
    const PASSWORD: &str = "base-password-9Zk";
    const TOKEN: &str = "query-token-4Wm";
    let (out, _guard) = capture(tracing::Level::TRACE);
    let (_refusing, port) = workspace_tests::refusing_port();
    let mut shown = String::new();
    for provider in [Provider::Vmeg, Provider::JimmyAi] {
        for base in [
            format!("http://user:{PASSWORD}@127.0.0.1:{port}/v1"),
            format!("http://127.0.0.1:{port}/v1?token={TOKEN}"),
            format!("http://127.0.0.1:{port}/v1#{TOKEN}"),
        ] {
            let builder = Client::builder(provider)
                .api_key(SECRET_KEY)
                .base_url(base.as_str());
            shown.push_str(&format!("{builder:?}\n"));
            let err = builder.build().unwrap_err();
            shown.push_str(&format!("{err}\n{err:?}\n"));
        }
        let c = Client::builder(provider)
            .api_key(SECRET_KEY)
            .base_url(format!("http://127.0.0.1:{port}/v1"))
            .build()
            .unwrap();
        shown.push_str(&format!("{c:?}\n"));
        let err = c.clone_status(&JobId::new("t")).await.unwrap_err();
        shown.push_str(&format!("{err}\n{err:?}\n"));
    }
    let logged = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    for secret in [PASSWORD, TOKEN, SECRET_KEY] {
        assert!(!shown.contains(secret), "{secret} shown: {shown}");
        assert!(!logged.contains(secret), "{secret} logged: {logged}");
    }
    assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");
}

/// A long-text part answered with another part's task is logged at WARN with the idempotency
/// key the client made for it: a task its submit made under that key is found by it, also
/// when the caller drops the call and its error (review 24 pass 2b #3). Before: the job id
/// only, and the key was in no log.
#[tokio::test]
async fn a_long_text_part_answered_with_another_parts_task_logs_its_key() {
    let (out, _guard) = capture(tracing::Level::WARN);
    let ok = |data: serde_json::Value| Step::ok(json!({"code": 200, "message": "", "data": data}));
    let accepted = || ok(json!({"taskId": "t-same", "createdAt": "2026-11-21T00:00:00Z"}));
    let finished = ok(
        json!({"taskId": "t-same", "taskType": "tts", "status": "finished",
        "result": {"results": [{"uri": "https://cdn.example.com/a.m4a", "duration": 1.5}]}}),
    );
    let server = Scripted::start(vec![accepted(), finished, accepted()]).await;
    let c = Client::builder(Provider::Vmeg)
        .api_key("k-test-0123456789")
        .base_url(&server.base_url)
        .build()
        .unwrap();
    let para = format!("{}\n\n", "A sentence of the script. ".repeat(10));
    let plan = voiceclone::long_text::LongSpeechPlan::with_limits(
        Provider::Vmeg,
        &voiceclone::SpeechRequest::new("cv_1", para.repeat(2)),
        voiceclone::long_text::SplitLimits::for_provider(Provider::Vmeg)
            .with_max_lines(1)
            .with_max_line_chars(300),
    )
    .unwrap();
    let wait = voiceclone::WaitPolicy::for_provider(Provider::Vmeg).with_seed(1);
    assert!(c.synthesize_plan(&plan, &wait, 1).await.is_err());
    // The second create's key, as the server saw it.
    let key = server
        .seen()
        .iter()
        .filter_map(|s| s.header("x-idempotency-key").map(str::to_owned))
        .nth(1)
        .unwrap();
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("answered with another part's task"))
        .unwrap_or_else(|| panic!("no warning: {text}"));
    assert!(line.contains(&key), "{key} not in: {line}");
}

/// A single create whose future is dropped after its request was sent (a `select!`, a timer
/// around it, a web handler cancelled when its own client went away) is logged once at WARN
/// with what finds its task: the operation, the idempotency key (VMEG), the submit time and
/// the request's identifying fields (a URL without its query), never the key. A call dropped
/// before any request was sent logs nothing. Before: nothing at all was logged (review 25-a
/// #1), and a JimmyAI task made so could not be found.
#[tokio::test]
async fn a_create_dropped_mid_call_is_logged_with_what_finds_its_task() {
    let (out, _guard) = capture(tracing::Level::WARN);
    let logged = || String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    for provider in Provider::ALL {
        let server = Scripted::start(vec![Step::Hang(std::time::Duration::from_secs(60))]).await;
        let c = Client::builder(provider)
            .api_key(SECRET_KEY)
            .base_url(server.base_url.as_str())
            .build()
            .unwrap();
        let mut req = voiceclone::CloneRequest::new(
            "https://cdn.example.com/me.wav?X-Amz-Signature=secret-sig",
        )
        .sample_text("Hello there.");
        if provider == Provider::Vmeg {
            req = req.idempotency_key("k-drop-1");
        }
        let sent = async {
            while server.seen().is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        };
        tokio::select! {
            r = c.clone_voice(&req) => panic!("{provider}: the call ended: {r:?}"),
            () = sent => {} // the call's future is dropped here
        }
        let text = logged();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(" WARN ") && l.contains("dropped"))
            .filter(|l| l.contains(&format!("provider={provider}")))
            .collect();
        assert_eq!(lines.len(), 1, "{provider}: {text}");
        let line = lines[0];
        for needed in ["clone_voice", "submitted_at=", "cdn.example.com/me.wav"] {
            assert!(
                line.contains(needed),
                "{provider}: {needed:?} missing: {line}"
            );
        }
        if provider == Provider::Vmeg {
            assert!(line.contains("k-drop-1"), "{line}");
        }
        assert!(!line.contains("secret-sig"), "{line}");
        assert!(!text.contains(SECRET_KEY), "{text}");
    }
    // Dropped before anything reached the provider (its connects refused, dropped while it
    // waits to try again): nothing to look up, nothing logged (review 25 pass 2d #4).
    let before = logged().matches("dropped").count();
    // Bound but never listening, for the rest of the test: connects are refused, and no
    // other test's server can be given the port (a dropped listener's number could be reused,
    // and a connect then reached that server: a flake seen once in a loaded run).
    let refused = tokio::net::TcpSocket::new_v4().unwrap();
    refused.bind(([127, 0, 0, 1], 0).into()).unwrap();
    let base = format!("http://{}", refused.local_addr().unwrap());
    for provider in Provider::ALL {
        // Dropped in the wait after its first refused attempt, not at a time chosen by the
        // clock: a drop while an attempt is still connecting may have sent (the transport
        // cannot tell) and is logged, which a timed drop met under load (a flake).
        let parked = Arc::new(parking::ParkingSleeper::default());
        let c = Client::builder(provider)
            .api_key(SECRET_KEY)
            .base_url(base.as_str())
            .sleeper(parked.clone())
            .build()
            .unwrap();
        let req =
            voiceclone::CloneRequest::new("https://cdn.example.com/me.wav").sample_text("Hi.");
        tokio::select! {
            r = c.clone_voice(&req) => panic!("{provider}: the call ended: {r:?}"),
            () = parked.asleep.notified() => {}
        }
    }
    assert_eq!(logged().matches("dropped").count(), before, "{}", logged());
}

/// Free text as a request summary gives it (the length and the first 8 hex digits of its
/// SHA-256): what a WARN line about a write says of its text, worked out here from the body the
/// server saw.
fn fingerprint(text: &str) -> String {
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(text.as_bytes()));
    format!("<{} chars, sha256:{}>", text.chars().count(), &hash[..8])
}

/// JimmyAI's answer to a create it accepted, and to a read of that task.
fn jimmyai_queued(id: &str) -> serde_json::Value {
    json!({"code": 20000, "msg": "ok", "data": {"id": id, "object": "audio",
        "created": 1781777280, "model": "soundCloningAudio", "status": "queued", "error": null}})
}

/// A 500 to a JimmyAI create that names the task it made: `OutcomeUnknown` with `t-paid`.
fn jimmyai_500_naming_a_task() -> Step {
    Step::status(
        500,
        json!({"code": 500, "msg": "x", "data": {"id": "t-paid"}}),
    )
}

/// A long-text part whose create ended with its outcome unknown (answered 500 naming the task
/// `t-paid`) is logged at WARN when that answer comes, with what finds its task: the id the
/// answer named, the submit time and the part's fields (its `modelId`, its text as length and
/// a hash that `LongPart::text_sha256` begins with). A caller that then drops the call (a
/// deploy, a `select!` branch not taken) loses the error that held them, and JimmyAI has no
/// task list to find the paid task in. Before: one line with the provider, the operation and
/// an empty key (review 27-b #1).
#[tokio::test]
async fn a_dropped_long_texts_unknown_parts_are_found_in_the_warn_log() {
    let (out, _guard) = capture(tracing::Level::WARN);
    let logged = || String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    // The first create goes out alone and is accepted; then the second create and the first
    // part's first poll, in either order, are both answered 500 naming a task (a read's is
    // retried, a create's is of unknown outcome); then the accepted part's polls.
    let mut steps = vec![
        Step::ok(jimmyai_queued("t-1")),
        jimmyai_500_naming_a_task(),
        jimmyai_500_naming_a_task(),
    ];
    steps.extend((0..5).map(|_| Step::ok(jimmyai_queued("t-1"))));
    let server = Scripted::start(steps).await;
    let c = Client::builder(Provider::JimmyAi)
        .api_key(SECRET_KEY)
        .base_url(server.base_url.as_str())
        .build()
        .unwrap();
    // Numbered sentences: the two parts' texts differ, so their hashes tell them apart.
    let text: String = (0..600)
        .map(|i| format!("Sentence {i} of the script. "))
        .collect();
    let plan = voiceclone::long_text::LongSpeechPlan::new(
        Provider::JimmyAi,
        &voiceclone::SpeechRequest::new("model-1", &text),
    )
    .unwrap();
    assert_eq!(plan.parts().len(), 2);
    // No poll while the test runs: the accepted part is still waited on when the call is
    // dropped.
    let wait = voiceclone::WaitPolicy::for_provider(Provider::JimmyAi)
        .with_first_interval(std::time::Duration::from_secs(600))
        .with_max_interval(std::time::Duration::from_secs(600));
    let paid_lines = |text: &str| lines_with(text, " WARN ", "t-paid");
    let answered = async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while (server.seen().len() < 3 || paid_lines(&logged()).is_empty())
            && std::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    tokio::select! {
        r = c.synthesize_plan(&plan, &wait, 2) => panic!("the call ended: {r:?}"),
        () = answered => {} // the call's future is dropped here
    }
    let seen = server.seen();
    let posts: Vec<_> = seen.iter().filter(|s| s.method == "POST").collect();
    assert_eq!(posts.len(), 2, "{seen:?}");
    // The create the 500 answered: the second create the server saw.
    let body = posts[1].json();
    let part_text = body["contentText"].as_str().unwrap();
    // The part the line names, as a caller holding the plan tells it: by its text's hash.
    let part = plan.parts().iter().find(|p| p.text() == part_text).unwrap();
    let text = logged();
    let lines = paid_lines(&text);
    assert_eq!(lines.len(), 1, "{text}");
    let line = &lines[0];
    for needed in [
        "submitted_at=".to_owned(),
        "modelId=model-1".to_owned(),
        fingerprint(part_text),
        format!("sha256:{}", &part.text_sha256()[..8]),
        format!("part_sha256={}", &part.text_sha256()[..8]),
    ] {
        assert!(line.contains(&needed), "{needed:?} missing: {line}");
    }
    assert!(!line.contains("Sentence"), "the text was logged: {line}");
    assert!(!text.contains(SECRET_KEY), "{text}");
}

/// Review 28-e #4, the VMEG twin of the test above: a VMEG part is a batch of lines, and its
/// `request` hashes each line apart (`data[0].text`, ...), none of them the part's own
/// `LongPart::text_sha256`. The WARN line of its unknown create names the part as the docs
/// say (`Client::synthesize_long`): `part`, `parts` and `part_sha256`, the first 8 hex digits
/// of the part's `text_sha256`, from the `long_text_part` span around its submit, so a
/// caller holding the plan tells which part the logged key belongs to after dropping the
/// call. Before: only the lines' own hashes, and the part could not be told.
#[tokio::test]
async fn a_dropped_vmeg_long_texts_unknown_part_is_found_in_the_warn_log_by_its_hash() {
    let (out, _guard) = capture(tracing::Level::WARN);
    let logged = || String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let ok = |data: serde_json::Value| Step::ok(json!({"code": 200, "message": "", "data": data}));
    // The first create goes out alone and is accepted; then the second create and the first
    // part's first poll, in either order, are both answered 500 naming a task; then the
    // accepted part's polls.
    let paid = || {
        Step::status(
            500,
            json!({"code": 500, "message": "x", "data": {"taskId": "t-paid"}}),
        )
    };
    let mut steps = vec![
        ok(json!({"taskId": "t-1", "createdAt": "2026-11-21T00:00:00Z"})),
        paid(),
        paid(),
    ];
    steps.extend((0..5).map(|_| ok(json!({"taskId": "t-1", "status": "running"}))));
    let server = Scripted::start(steps).await;
    let c = Client::builder(Provider::Vmeg)
        .api_key(SECRET_KEY)
        .base_url(server.base_url.as_str())
        .build()
        .unwrap();
    // Two parts of three lines (paragraphs) each, every line its own text.
    let text: String = (0..6)
        .map(|i| format!("Paragraph {i} of the script, spoken as one line.\n\n"))
        .collect();
    let plan = voiceclone::long_text::LongSpeechPlan::with_limits(
        Provider::Vmeg,
        &voiceclone::SpeechRequest::new("cv_1", &text),
        voiceclone::long_text::SplitLimits::for_provider(Provider::Vmeg)
            .with_max_lines(3)
            .with_max_line_chars(60),
    )
    .unwrap();
    assert_eq!(plan.parts().len(), 2);
    assert!(plan.parts().iter().all(|p| p.lines.len() == 3));
    let wait = voiceclone::WaitPolicy::for_provider(Provider::Vmeg)
        .with_first_interval(std::time::Duration::from_secs(600))
        .with_max_interval(std::time::Duration::from_secs(600));
    let paid_lines = |text: &str| lines_with(text, " WARN ", "t-paid");
    let answered = async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while (server.seen().len() < 2 || paid_lines(&logged()).is_empty())
            && std::time::Instant::now() < deadline
        {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    tokio::select! {
        r = c.synthesize_plan(&plan, &wait, 2) => panic!("the call ended: {r:?}"),
        () = answered => {} // the call's future is dropped here
    }
    let seen = server.seen();
    let posts: Vec<_> = seen.iter().filter(|s| s.method == "POST").collect();
    assert_eq!(posts.len(), 2, "{seen:?}");
    // The create the 500 answered: the second the server saw. Its part, as a caller holding
    // the plan tells it: by its first line (the test's way in; the log's is the hash).
    let body = posts[1].json();
    let first_line = body["data"][0]["text"].as_str().unwrap();
    let (n, part) = plan
        .parts()
        .iter()
        .enumerate()
        .find(|(_, p)| p.lines[0] == first_line)
        .unwrap();
    let text = logged();
    let lines = paid_lines(&text);
    assert_eq!(lines.len(), 1, "{text}");
    let line = &lines[0];
    // The rule the docs state: `part_sha256` is where `LongPart::text_sha256` begins.
    let found: Vec<&voiceclone::long_text::LongPart> = plan
        .parts()
        .iter()
        .filter(|p| line.contains(&format!("part_sha256={}", &p.text_sha256()[..8])))
        .collect();
    assert_eq!(found.len(), 1, "{line}");
    assert_eq!(found[0].index, part.index, "{line}");
    for needed in [
        format!("part={}", n + 1),
        "parts=2".to_owned(),
        "submitted_at=".to_owned(),
        fingerprint(first_line),
    ] {
        assert!(line.contains(&needed), "{needed:?} missing: {line}");
    }
    // Each line's own hash is not the part's: the docs' old rule found nothing.
    assert!(
        !line.contains(&format!("sha256:{}", &part.text_sha256()[..8])),
        "{line}"
    );
    assert!(!line.contains("Paragraph"), "the text was logged: {line}");
    assert!(!text.contains(SECRET_KEY), "{text}");
}

/// A single create whose outcome is unknown when its call ends (a 500 naming the task it
/// made, a timeout after sending, JimmyAI's refusal by a code it does not document) is logged
/// once at WARN with what finds its task: the key (VMEG), the task id the answer named, the
/// submit time and the request's identifying fields, never the API key or the text. Before: a
/// line with the key only, and none at all for the undocumented code (review 27-b #1).
#[tokio::test]
async fn a_create_of_unknown_outcome_is_logged_once_with_what_finds_its_task() {
    let (out, _guard) = capture(tracing::Level::WARN);
    let logged = || String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let vmeg_500 = Step::status(
        500,
        json!({"code": 500, "message": "x", "data": {"taskId": "t-paid"}}),
    );
    let undocumented = Step::ok(json!({"code": 20002, "msg": "nope", "data": null}));
    let hang = Step::Hang(std::time::Duration::from_secs(5));
    let cases = [
        (Provider::Vmeg, vmeg_500, Some("t-paid")),
        (
            Provider::JimmyAi,
            jimmyai_500_naming_a_task(),
            Some("t-paid"),
        ),
        (Provider::JimmyAi, undocumented, None),
        (Provider::JimmyAi, hang, None),
    ];
    for (provider, step, task) in cases {
        let what = format!("{provider} {step:?}");
        let server = Scripted::start(vec![step]).await;
        let c = Client::builder(provider)
            .api_key(SECRET_KEY)
            .base_url(server.base_url.as_str())
            .timeout(std::time::Duration::from_millis(500))
            .build()
            .unwrap();
        let voice = match provider {
            Provider::Vmeg => "cv_1",
            _ => "model-1",
        };
        let mut req = voiceclone::SpeechRequest::new(voice, "Hello there, my secret words.");
        if provider == Provider::Vmeg {
            req = req.idempotency_key("k-unk-1");
        }
        let before = logged().len();
        let err = c.synthesize(&req).await.unwrap_err();
        assert!(!err.may_resubmit(), "{what}: {err}");
        assert_eq!(server.seen().len(), 1, "{what}: resent");
        let text = logged();
        let new = &text[before..];
        let lines: Vec<&str> = new.lines().filter(|l| l.contains(" WARN ")).collect();
        assert_eq!(lines.len(), 1, "{what}: {new}");
        let line = lines[0];
        let sent = server.seen()[0].json();
        let sent_text = sent["contentText"]
            .as_str()
            .or_else(|| sent["data"][0]["text"].as_str())
            .unwrap_or_else(|| panic!("{what}: no text in {sent}"));
        for needed in [
            "submitted_at=".to_owned(),
            voice.to_owned(),
            fingerprint(sent_text),
        ] {
            assert!(line.contains(&needed), "{what}: {needed:?} missing: {line}");
        }
        if let Some(task) = task {
            assert!(line.contains(task), "{what}: {line}");
        }
        if provider == Provider::Vmeg {
            assert!(line.contains("k-unk-1"), "{what}: {line}");
        }
        assert!(!line.contains("secret words"), "{what}: {line}");
        assert!(!text.contains(SECRET_KEY), "{what}: {text}");
    }
}

/// Review 28-c #3: the fake logs what the client logs for a submit after which a task may
/// exist: a lost VMEG submit ("write outcome unknown", its key) and JimmyAI's refusal by a code
/// it does not document ("does not prove nothing was made"), once each, with the submit time.
/// Before, the fake logged no line for the refusal, so a service's test of its ops log could
/// not be written against the fake.
#[tokio::test]
async fn the_fake_logs_a_submit_after_which_a_task_may_exist_as_the_client_does() {
    use voiceclone::VoiceCloning;
    use voiceclone::fake::{FakeClient, Script};
    let (out, _guard) = capture(tracing::Level::WARN);
    let logged = || String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let cases = [
        (
            Provider::Vmeg,
            Script::succeeds().outcome_unknown(),
            "write outcome unknown",
        ),
        (
            Provider::JimmyAi,
            Script::rejected(voiceclone::ErrorKind::InvalidRequest),
            "does not prove nothing was made",
        ),
    ];
    for (provider, script, said) in cases {
        let fake = FakeClient::new(provider);
        fake.script_speech(script);
        let voice = match provider {
            Provider::Vmeg => "cv_1",
            _ => "model-1",
        };
        let mut req = voiceclone::SpeechRequest::new(voice, "Hello there, my secret words.");
        if provider == Provider::Vmeg {
            req = req.idempotency_key("k-fake");
        }
        let before = logged().len();
        let err = fake.synthesize(&req).await.unwrap_err();
        assert!(!err.may_resubmit(), "{provider}: {err}");
        let text = logged();
        let lines: Vec<&str> = text[before..]
            .lines()
            .filter(|l| l.contains(" WARN "))
            .collect();
        assert_eq!(lines.len(), 1, "{provider}: {text}");
        assert!(lines[0].contains(said), "{provider}: {}", lines[0]);
        assert!(
            lines[0].contains("submitted_at="),
            "{provider}: {}",
            lines[0]
        );
        assert!(lines[0].contains(voice), "{provider}: {}", lines[0]);
        if provider == Provider::Vmeg {
            assert!(lines[0].contains("k-fake"), "{}", lines[0]);
        }
        assert!(!lines[0].contains("secret words"), "{}", lines[0]);
    }
}

/// A tracing layer that reads the fake on every line it logs, at any level (a service's test
/// that checks its calls as they are logged).
struct ReadsTheFake(Arc<voiceclone::fake::FakeClient>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ReadsTheFake {
    fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let _ = self.0.calls();
    }
}

/// Counts DEBUG lines.
struct CountsDebugs(Arc<std::sync::atomic::AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountsDebugs {
    fn on_event(&self, e: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if *e.metadata().level() == tracing::Level::DEBUG {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// Review 30-f #7: a retryable refusal ends the fake's one attempt with the retry table's DEBUG
/// line ("retries exhausted"), which was written under the fake's state lock: a layer that
/// reads the fake on it hung the submit. Each provider, a clone and a speech submit.
#[test]
fn a_layer_that_reads_the_fake_on_its_debug_line_does_not_hang() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use voiceclone::VoiceCloning;
    use voiceclone::fake::{FakeClient, Script};
    // Before a subscriber of this test's own: see the head of this file.
    workspace_tests::captured::install();
    for provider in [Provider::Vmeg, Provider::JimmyAi] {
        let fake = Arc::new(FakeClient::new(provider));
        fake.script_clone(Script::rejected(voiceclone::ErrorKind::RateLimited));
        fake.script_speech(Script::rejected(voiceclone::ErrorKind::Server));
        let (done, finished) = std::sync::mpsc::channel();
        let in_thread = fake.clone();
        let debugs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = debugs.clone();
        // Its own thread: a deadlock there is seen here as a timeout, not a hung test binary.
        std::thread::spawn(move || {
            let subscriber = tracing_subscriber::registry()
                .with(ReadsTheFake(in_thread.clone()))
                .with(CountsDebugs(counted));
            let _guard = tracing::subscriber::set_default(subscriber);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let clone = rt.block_on(in_thread.clone_voice(&voiceclone::CloneRequest::new(
                "https://cdn.example.com/a.wav",
            )));
            let speech =
                rt.block_on(in_thread.synthesize(&voiceclone::SpeechRequest::new("v-1", "Hello.")));
            let _ = done.send((clone.unwrap_err(), speech.unwrap_err()));
        });
        let (clone, _speech) = finished
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the fake's submit hung while a layer read the fake on its DEBUG line");
        assert_eq!(
            clone.kind(),
            &voiceclone::ErrorKind::RateLimited,
            "{provider}"
        );
        assert!(
            debugs.load(std::sync::atomic::Ordering::SeqCst) > 0,
            "{provider}: no DEBUG line was logged, so nothing was tested"
        );
        assert_eq!(fake.calls().len(), 2, "{provider}");
    }
}

/// Review 28 pass 3: the fake's WARN line is written outside its state lock, so a layer that
/// reads the fake when it sees it does not deadlock (the lock is not reentrant).
#[test]
fn a_layer_that_reads_the_fake_on_its_warn_line_does_not_hang() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use voiceclone::VoiceCloning;
    use voiceclone::fake::{FakeClient, Script};
    // Before a subscriber of this test's own: see the head of this file.
    workspace_tests::captured::install();
    let fake = Arc::new(FakeClient::new(Provider::JimmyAi));
    fake.script_speech(Script::rejected(voiceclone::ErrorKind::InvalidRequest));
    let (done, finished) = std::sync::mpsc::channel();
    let in_thread = fake.clone();
    // Its own thread: a deadlock there is seen here as a timeout, not a hung test binary.
    std::thread::spawn(move || {
        let subscriber = tracing_subscriber::registry().with(ReadsTheFake(in_thread.clone()));
        let _guard = tracing::subscriber::set_default(subscriber);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let req = voiceclone::SpeechRequest::new("model-1", "Hello.");
        let r = rt.block_on(in_thread.synthesize(&req));
        let _ = done.send(r.is_err());
    });
    let failed = finished
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the fake's submit hung while a layer read the fake");
    assert!(failed);
}

/// Review 29 (closing 28's "left"): the fake's "call log is full" WARN line is written once its
/// state lock is released too; a layer that reads the fake on it hung the call that filled the
/// log.
#[test]
fn a_layer_that_reads_the_fake_when_its_call_log_fills_does_not_hang() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use voiceclone::VoiceCloning;
    use voiceclone::fake::FakeClient;
    // Before a subscriber of this test's own: see the head of this file.
    workspace_tests::captured::install();
    let fake = Arc::new(FakeClient::new(Provider::Vmeg));
    let (done, finished) = std::sync::mpsc::channel();
    let in_thread = fake.clone();
    let warns = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = warns.clone();
    std::thread::spawn(move || {
        let subscriber = tracing_subscriber::registry()
            .with(ReadsTheFake(in_thread.clone()))
            .with(CountsWarns(counted));
        let _guard = tracing::subscriber::set_default(subscriber);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for _ in 0..=FakeClient::MAX_RECORDED_CALLS {
            rt.block_on(in_thread.list_voices()).unwrap();
        }
        let _ = done.send(());
    });
    finished
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the call that filled the fake's log hung while a layer read the fake");
    // The log is full: the last call was counted, not recorded, and that was logged once.
    assert_eq!(fake.calls().len(), FakeClient::MAX_RECORDED_CALLS);
    assert_eq!(fake.unrecorded_calls(), 1);
    assert_eq!(warns.load(std::sync::atomic::Ordering::SeqCst), 1);
}

struct CountsWarns(Arc<std::sync::atomic::AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CountsWarns {
    fn on_event(&self, e: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if *e.metadata().level() == tracing::Level::WARN {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// Review 28-a #2 a, b: a resend whose outcome is unknown (out of the call's time) or that is
/// dropped mid-call is logged with the first submit's time as `submitted_at`, as its returned
/// error is dated (a search from the resend's own time misses the first submit's task), marked
/// `resend=true`, and with its last attempt's time (a query rebuilt from the line reaches a
/// task made by a late attempt, whatever the subscriber does with timestamps). Before: the
/// resend's own start only, and no last attempt.
#[tokio::test]
async fn a_resend_of_unknown_outcome_is_logged_from_the_first_submit_with_its_last_attempt() {
    let (out, _guard) = capture(tracing::Level::WARN);
    let logged = || String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 2 * 3600;
    let first = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    let first_text = humantime::format_rfc3339_millis(first).to_string();
    for dropped in [false, true] {
        let key = if dropped {
            "k-resend-drop"
        } else {
            "k-resend-unk"
        };
        let server = Scripted::start(vec![Step::Hang(std::time::Duration::from_secs(60))]).await;
        let c = Client::builder(Provider::Vmeg)
            .api_key(SECRET_KEY)
            .base_url(server.base_url.as_str())
            .build()
            .unwrap();
        let req = voiceclone::SpeechRequest::new("cv_1", "Hello there.").idempotency_key(key);
        let before = logged().len();
        let last = if dropped {
            let sent = async {
                while server.seen().is_empty() {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            };
            tokio::select! {
                r = c.resend_speech(&req, first) => panic!("the resend ended: {r:?}"),
                () = sent => {} // the call's future is dropped here
            }
            None
        } else {
            let err = c
                .with_timeout(std::time::Duration::from_millis(300))
                .resend_speech(&req, first)
                .await
                .unwrap_err();
            assert!(
                matches!(err.kind(), voiceclone::ErrorKind::OutcomeUnknown { submitted_at, .. }
                    if *submitted_at == first),
                "{err}"
            );
            Some(err.last_attempt_at().unwrap())
        };
        let text = logged();
        let lines = lines_with(&text[before..], " WARN ", key);
        assert_eq!(lines.len(), 1, "dropped {dropped}: {text}");
        let line = &lines[0];
        for needed in [
            format!("submitted_at={first_text}"),
            "resend=true".to_owned(),
            "last_attempt_at=".to_owned(),
        ] {
            assert!(
                line.contains(&needed),
                "dropped {dropped}: {needed:?} missing: {line}"
            );
        }
        if let Some(last) = last {
            let last = humantime::format_rfc3339_millis(last).to_string();
            assert!(line.contains(&format!("last_attempt_at={last}")), "{line}");
        }
    }
    assert!(!logged().contains(SECRET_KEY));
}

/// Review 28-a #2 c: a JimmyAI create answered with a task id that is no usable id
/// (`audio/42`) ends unknown, and JimmyAI has no task list to find the task in: the WARN line
/// quotes the id as it came (the key scrubbed from it, cut to a bounded length), as the
/// error's message does. Before: only the message had it, and a caller that dropped the error
/// (a long text's future dropped) was left with nothing.
#[tokio::test]
async fn an_unusable_task_id_an_answer_named_is_in_the_warn_line() {
    let (out, _guard) = capture(tracing::Level::WARN);
    let logged = || String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let long = format!("audio/{SECRET_KEY}{}", "x".repeat(5000));
    for (named, shown) in [
        ("audio/42", "\"audio/42\""),
        (long.as_str(), "\"audio/[redacted]x"),
    ] {
        let server = Scripted::start(vec![Step::ok(jimmyai_queued(named))]).await;
        let c = Client::builder(Provider::JimmyAi)
            .api_key(SECRET_KEY)
            .base_url(server.base_url.as_str())
            .build()
            .unwrap();
        let before = logged().len();
        let err = c
            .synthesize(&voiceclone::SpeechRequest::new("model-1", "Hello there."))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err.kind(),
                voiceclone::ErrorKind::OutcomeUnknown { task_id: None, .. }
            ),
            "{err}"
        );
        let text = logged();
        let new = &text[before..];
        let lines: Vec<&str> = new.lines().filter(|l| l.contains(" WARN ")).collect();
        assert_eq!(lines.len(), 1, "{new}");
        let line = lines[0];
        assert!(line.contains(&format!("named_task_id={shown}")), "{line}");
        assert!(!line.contains(&"x".repeat(200)), "not cut: {line}");
        assert!(!text.contains(SECRET_KEY), "{text}");
    }
}

/// Refusals of authentic deliveries (correctly signed, refused for their age or their shape:
/// a clock that drifted, an envelope VMEG changed) are throttled apart from the junk anyone
/// can send: after 2,100 junk refusals (no signature, a wrong one), a signed delivery
/// 10 minutes old and a signed one without `pipelineKey` still warn. Before: one counter for
/// every refusal, and both were logged at debug (no power of two between 2,101 and 3,102,
/// whatever the test beside this one adds).
#[test]
fn authentic_deliveries_refused_still_warn_after_a_flood_of_junk() {
    use hmac::{Hmac, Mac};
    const WEBHOOK_SECRET: &str = "whsec-authentic-refusals";
    let sign = |ts: &str, body: &[u8]| {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
        mac.update(ts.as_bytes());
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    };
    let verifier =
        voiceclone::webhook::Verifier::new(voiceclone::WebhookSecret::new(WEBHOOK_SECRET));
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let ts = now_ms.to_string();
    let (out, _guard) = capture(tracing::Level::WARN);
    let wrong = "0".repeat(64);
    for i in 0..2100 {
        let signature = if i % 2 == 0 { "" } else { wrong.as_str() };
        assert!(verifier.verify(&ts, signature, b"{}").is_err());
    }
    let junk_warnings = String::from_utf8(out.0.lock().unwrap().clone())
        .unwrap()
        .matches("webhook delivery refused")
        .count();
    assert!(
        (1..=30).contains(&junk_warnings),
        "{junk_warnings} warnings"
    );

    let stale_ts = (now_ms - 600_000).to_string();
    let body = json!({"code": 200, "event": "openapi-clone-voice", "pipelineKey": "pk-stale",
        "data": {"taskId": "t-stale", "voiceId": "cv_1"}})
    .to_string();
    let refused = verifier.verify(
        &stale_ts,
        &sign(&stale_ts, body.as_bytes()),
        body.as_bytes(),
    );
    assert!(refused.is_err());
    let body = json!({"code": 200, "event": "openapi-clone-voice",
        "data": {"taskId": "t-old-envelope", "voiceId": "cv_1"}})
    .to_string();
    let refused = verifier.verify(&ts, &sign(&ts, body.as_bytes()), body.as_bytes());
    assert!(refused.is_err());

    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let warned = |needle: &str| {
        text.lines().any(|l| {
            l.contains("WARN") && l.contains("webhook delivery refused") && l.contains(needle)
        })
    };
    // Only the stale refusal says "ago, beyond the" (the junk is unsigned or missing its
    // headers), and only a signed one says `signed=true`.
    assert!(
        text.lines().any(|l| l.contains("WARN")
            && l.contains("webhook delivery refused")
            && l.contains("ago, beyond the")
            && l.contains("signed=true")),
        "no warning for the stale delivery:\n{text}"
    );
    assert!(
        warned("pipelineKey"),
        "no warning for the envelope without pipelineKey:\n{text}"
    );
}

/// The WARN lines written while `run` reads the answers `steps`.
async fn warnings_while<F, Fut>(steps: Vec<Step>, run: F) -> Vec<String>
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (out, _guard) = capture(tracing::Level::WARN);
    let server = Scripted::start(steps).await;
    let c = Client::builder(Provider::Vmeg)
        .api_key(SECRET_KEY)
        .base_url(server.base_url.as_str())
        .sleeper(Arc::new(RecordingSleeper::new()))
        .build()
        .unwrap();
    run(c).await;
    let text = out.take();
    text.lines()
        .filter(|l| l.contains("WARN"))
        .map(str::to_owned)
        .collect()
}

/// One page of `records` (a `total` counting them), then the empty page past it.
fn one_page(records: Vec<serde_json::Value>) -> Vec<Step> {
    let total = records.len();
    vec![
        Step::ok(json!({"code": 200, "message": "", "data": {"records": records, "total": total}})),
        Step::ok(json!({"code": 200, "message": "", "data": {"records": [], "total": total}})),
    ]
}

/// Review 27 #6: a task list of 1,000 tasks dated 1970 (an unset column) and voice lists of
/// 1,000 voices whose preview URL is relative or not http(s) each log a few WARN lines,
/// counting the records, not one per record (a hostile server could send 500,000).
/// Before: 1,000 lines each.
#[tokio::test]
async fn listings_of_bad_records_log_a_few_warnings_not_one_per_record() {
    let tasks: Vec<_> = (0..1000)
        .map(|i| json!({"taskId": format!("t-{i}"), "taskType": "tts", "status": "finished", "createdAt": "1970-01-01T00:00:00Z"}))
        .collect();
    let warned = warnings_while(one_page(tasks), |c| async move {
        let q = voiceclone::ReconcileQuery::new(std::time::SystemTime::now())
            .kind(voiceclone::JobKind::Speech);
        let r = c.reconcile(&q).await.unwrap();
        // Undated, each may be the submit's: every one a candidate.
        assert!(
            matches!(&r, voiceclone::Reconciled::Candidates { tasks, .. } if tasks.len() == 1000),
            "{r}"
        );
    })
    .await;
    assert!(
        (1..=3).contains(&warned.len()),
        "{} warnings:\n{}",
        warned.len(),
        warned
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(warned.iter().any(|l| l.contains("1000")), "{warned:?}");

    let voices: Vec<_> = (0..1000)
        .map(|i| {
            let audio = if i % 2 == 0 { "/static/p.mp3" } else { "ftp://cdn.example.com/p.mp3" };
            json!({"voiceId": format!("cv_{i}"), "name": format!("v{i}"), "displayName": format!("v{i}"), "audio": audio})
        })
        .collect();
    for system in [false, true] {
        let warned = warnings_while(one_page(voices.clone()), |c| async move {
            let listed: Vec<_> = if system {
                use futures::TryStreamExt;
                c.system_voices().try_collect().await.unwrap()
            } else {
                c.list_voices().await.unwrap()
            };
            assert_eq!(listed.len(), 1000);
            assert!(listed.iter().all(|v| v.preview_url.is_none()));
        })
        .await;
        assert!(
            (1..=3).contains(&warned.len()),
            "system {system}: {} warnings:\n{}",
            warned.len(),
            warned
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(warned.iter().any(|l| l.contains("1000")), "{warned:?}");
    }
}

/// JimmyAI's `<#x#>` pause markers mean nothing to VMEG, which speaks them and bills them as
/// text: a VMEG speech with a well-formed marker is sent with one warning (and its estimate
/// says so), one without is not, and JimmyAI does not warn (review 30-c #5).
#[tokio::test]
async fn pause_markers_sent_to_vmeg_are_warned_about() {
    for (provider, text, warned) in [
        (Provider::Vmeg, "Hello <#0.5#> there.", true),
        (Provider::Vmeg, "Hello there. <# not one #>", false),
        (Provider::Vmeg, "Hello there.", false),
        (Provider::JimmyAi, "Hello <#0.5#> there.", false),
    ] {
        let voice = if provider == Provider::Vmeg {
            "cv_1"
        } else {
            "m-1"
        };
        let req = voiceclone::SpeechRequest::new(voice, text);
        let (out, guard) = capture(tracing::Level::WARN);
        voiceclone::estimate::DryRun::speech(provider, std::slice::from_ref(&req)).unwrap();
        let log = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        drop(guard);
        let said = lines_with(&log, " WARN ", "pause marker");
        assert_eq!(
            said.len(),
            usize::from(warned),
            "{provider} {text:?}: {log}"
        );
        let estimate =
            voiceclone::estimate::Estimate::speech(provider, std::slice::from_ref(&req)).unwrap();
        assert_eq!(
            estimate.notes.iter().any(|n| n.contains("pause marker")),
            warned,
            "{provider} {text:?}: {:?}",
            estimate.notes
        );
        if provider == Provider::Vmeg {
            let (out, _guard) = capture(tracing::Level::WARN);
            let server = Scripted::start(vec![running()]).await;
            let c = Client::builder(Provider::Vmeg)
                .api_key(SECRET_KEY)
                .base_url(server.base_url.as_str())
                .build()
                .unwrap();
            c.synthesize(&req).await.unwrap();
            let log = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
            let said = lines_with(&log, " WARN ", "pause marker");
            assert_eq!(said.len(), usize::from(warned), "{text:?}: {log}");
            assert!(
                said.iter().all(|l| !l.contains("Hello")),
                "the text was logged: {log}"
            );
        }
    }
}

/// A tracing layer that reads a completion hub and its in-process store on every WARN line,
/// and counts the WARN lines whose message holds `counting` (a service's metrics layer).
struct ReadsTheHub {
    hub: voiceclone::webhook::CompletionHub,
    store: Arc<voiceclone::webhook::MemoryStore>,
    counting: &'static str,
    counted: Arc<std::sync::atomic::AtomicUsize>,
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ReadsTheHub {
    fn on_event(&self, e: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if *e.metadata().level() != tracing::Level::WARN {
            return;
        }
        let _ = (self.hub.waiting_tasks(), self.store.len());
        struct Message(&'static str, bool);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                if f.name() == "message" && format!("{v:?}").contains(self.0) {
                    self.1 = true;
                }
            }
        }
        let mut message = Message(self.counting, false);
        e.record(&mut message);
        if message.1 {
            self.counted
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// Review 30 pass 3 #2: whether a stored delivery keeps a later failure out was judged by
/// decoding it in full, which logs a WARN for a result's `uri` that is not http(s), while the
/// in-process store held its state lock and the hub its slots lock: a layer that reads the
/// hub or the store on a WARN deadlocked the delivery (and every wait after it), and each
/// delivery logged the same WARN again per judgement. Two TTS deliveries for a task a wait
/// holds a slot for, each with a relative `uri`: each is received, and the URL is warned
/// about once per delivery (by its own decode).
#[test]
fn a_layer_that_reads_the_hub_on_a_warn_line_does_not_hang_a_delivery() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use voiceclone::webhook::{CompletionHub, Delivery, MemoryStore, Verifier};
    // Before a subscriber of this test's own: see the head of this file.
    workspace_tests::captured::install();
    const WEBHOOK_SECRET: &str = "whsec-reads-the-hub";
    let store = Arc::new(MemoryStore::new());
    let hub = CompletionHub::with_store(
        Verifier::new(voiceclone::WebhookSecret::new(WEBHOOK_SECRET)),
        store.clone(),
    );
    let url_warnings = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let layer = ReadsTheHub {
        hub: hub.clone(),
        store,
        counting: "vendor sent a URL",
        counted: url_warnings.clone(),
    };
    let (done, finished) = std::sync::mpsc::channel();
    // Its own thread: a deadlock there is seen here as a timeout, not a hung test binary.
    std::thread::spawn(move || {
        let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // A wait holding the task's slot. Its first poll is the webhook schedule's, 30 s
        // away: nothing is sent to the (closed) port before the test ends.
        let (_refusing, port) = workspace_tests::refusing_port();
        let client = Client::builder(Provider::Vmeg)
            .api_key(SECRET_KEY)
            .base_url(format!("http://127.0.0.1:{port}/").as_str())
            .completion_hub(hub.clone())
            .build()
            .unwrap();
        let waiting = rt.spawn(async move {
            let policy = voiceclone::WaitPolicy::for_provider(Provider::Vmeg)
                .with_deadline(Some(std::time::Duration::from_secs(600)));
            let _ = client
                .wait_for_speech(&JobId::new("t-hub-1"), &policy)
                .await;
        });
        let outcomes = rt.block_on(async {
            while hub.waiting_tasks() == 0 {
                tokio::task::yield_now().await;
            }
            let mut outcomes = Vec::new();
            for (pk, code) in [("pk-hub-1", 200), ("pk-hub-2", 500)] {
                let body = json!({"code": code, "event": "openapi-tts", "pipelineKey": pk,
                    "data": {"taskId": "t-hub-1", "results": [{"uri": "/a.wav"}]}})
                .to_string();
                let d = hub_support::receive_signed(&hub, WEBHOOK_SECRET, &body).await;
                outcomes.push(matches!(d, Delivery::Fresh(_)));
            }
            outcomes
        });
        waiting.abort();
        let _ = done.send(outcomes);
    });
    let outcomes = finished
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("a delivery hung while a layer read the hub and its store on a WARN line");
    assert_eq!(outcomes, [true, true]);
    assert_eq!(
        url_warnings.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "one WARN per delivery's relative uri"
    );
}

/// An in-process store whose subscription's signals a test can also send by hand (a Redis
/// store says `Lost` and `Restored` on a connection's drop and return).
struct Signalled {
    inner: Arc<voiceclone::webhook::MemoryStore>,
    listener: std::sync::Mutex<Option<voiceclone::webhook::store::Listener>>,
}

impl std::fmt::Debug for Signalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signalled")
    }
}

impl Signalled {
    fn signal(&self, s: voiceclone::webhook::store::StoreSignal) {
        let l = self.listener.lock().unwrap().clone().expect("subscribed");
        l(s);
    }
}

impl voiceclone::webhook::CompletionStore for Signalled {
    fn record<'a>(
        &'a self,
        e: &'a voiceclone::webhook::store::StoredEvent,
    ) -> voiceclone::sleep::BoxFuture<
        'a,
        Result<voiceclone::webhook::store::Recorded, voiceclone::webhook::StoreError>,
    > {
        self.inner.record(e)
    }
    fn by_task<'a>(
        &'a self,
        t: &'a str,
    ) -> voiceclone::sleep::BoxFuture<
        'a,
        Result<Option<voiceclone::webhook::store::StoredEvent>, voiceclone::webhook::StoreError>,
    > {
        self.inner.by_task(t)
    }
    fn by_idempotency_key<'a>(
        &'a self,
        k: &'a str,
    ) -> voiceclone::sleep::BoxFuture<
        'a,
        Result<Option<voiceclone::webhook::store::StoredEvent>, voiceclone::webhook::StoreError>,
    > {
        self.inner.by_idempotency_key(k)
    }
    fn subscribe(
        &self,
        l: voiceclone::webhook::store::Listener,
    ) -> voiceclone::webhook::store::Subscription {
        *self.listener.lock().unwrap() = Some(l.clone());
        self.inner.subscribe(l)
    }
}

/// Review 33-c #3: the hub logged its "subscription was lost" WARN while holding its slots
/// lock, so a layer that reads the hub on a WARN (`waiting_tasks`, as a metrics layer would)
/// deadlocked on the first Redis blip, and with it every wait and delivery. The store says
/// `Lost` while a wait holds a slot: the WARN is written once, the layer reads the hub, and
/// the hub still answers after (`Restored`, then a delivery the wait ends on).
#[test]
fn a_layer_that_reads_the_hub_on_a_warn_line_does_not_hang_a_lost_subscription() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use voiceclone::webhook::store::StoreSignal;
    use voiceclone::webhook::{CompletionHub, MemoryStore, Verifier};
    workspace_tests::captured::install();
    const WEBHOOK_SECRET: &str = "whsec-reads-the-hub-lost";
    let memory = Arc::new(MemoryStore::new());
    let store = Arc::new(Signalled {
        inner: memory.clone(),
        listener: std::sync::Mutex::new(None),
    });
    let hub = CompletionHub::with_store(
        Verifier::new(voiceclone::WebhookSecret::new(WEBHOOK_SECRET)),
        store.clone(),
    );
    let lost_warnings = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let layer = ReadsTheHub {
        hub: hub.clone(),
        store: memory,
        counting: "subscription was lost",
        counted: lost_warnings.clone(),
    };
    let (done, finished) = std::sync::mpsc::channel();
    // Its own thread: a deadlock there is seen here as a timeout, not a hung test binary.
    std::thread::spawn(move || {
        let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // Nothing answers the port: a poll fails to connect, and the wait goes on.
        let (_refusing, port) = workspace_tests::refusing_port();
        let client = Client::builder(Provider::Vmeg)
            .api_key(SECRET_KEY)
            .base_url(format!("http://127.0.0.1:{port}/").as_str())
            .retry(voiceclone::RetryPolicy::none())
            .completion_hub(hub.clone())
            .build()
            .unwrap();
        let waiting = rt.spawn(async move {
            let policy = voiceclone::WaitPolicy::for_provider(Provider::Vmeg)
                .with_deadline(Some(std::time::Duration::from_secs(600)));
            client
                .wait_for_clone(&JobId::new("t-lost-1"), &policy)
                .await
                .map(|v| v.id.as_str().to_owned())
        });
        let voice = rt.block_on(async {
            while hub.waiting_tasks() == 0 {
                tokio::task::yield_now().await;
            }
            store.signal(StoreSignal::Lost);
            store.signal(StoreSignal::Restored);
            let body = json!({"code": 200, "event": "openapi-clone-voice",
                "pipelineKey": "pk-lost-1", "data": {"taskId": "t-lost-1", "voiceId": "v-1"}})
            .to_string();
            hub_support::receive_signed(&hub, WEBHOOK_SECRET, &body).await;
            tokio::time::timeout(std::time::Duration::from_secs(10), waiting).await
        });
        let _ = done.send(voice.map(|v| v.unwrap().map_err(|e| e.to_string())));
    });
    let voice = finished
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the hub hung when a layer read it on the lost subscription's WARN line");
    assert_eq!(
        voice.expect("the wait did not end on the delivery"),
        Ok("v-1".to_owned())
    );
    // The line the layer read the hub on was logged (review 33 pass 2 (hook) #4: without it
    // this test would pass whatever the lock order).
    assert_eq!(lost_warnings.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// Review 33-c #5: a subscription lost and restored with many waits running logs one WARN
/// (the hub's, at the loss) and one INFO (the hub's, at the restore), not one per wait: each
/// wait says it at `debug`. Before: 20 waits logged 21 WARN lines and 20 INFO lines for one
/// Redis blip (20,000 of each at the scale the crate is meant for).
#[test]
fn a_lost_and_restored_subscription_logs_one_line_each_not_one_per_wait() {
    use voiceclone::webhook::store::StoreSignal;
    use voiceclone::webhook::{CompletionHub, MemoryStore, Verifier};
    const WAITS: usize = 20;
    let store = Arc::new(Signalled {
        inner: Arc::new(MemoryStore::new()),
        listener: std::sync::Mutex::new(None),
    });
    let hub = CompletionHub::with_store(
        Verifier::new(voiceclone::WebhookSecret::new("whsec-many-waits")),
        store.clone(),
    );
    let (logs, _guard) = capture(tracing::Level::INFO);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Nothing answers the port; each wait's polls fail and it goes on.
    let (_refusing, port) = workspace_tests::refusing_port();
    let client = Client::builder(Provider::Vmeg)
        .api_key(SECRET_KEY)
        .base_url(format!("http://127.0.0.1:{port}/").as_str())
        .retry(voiceclone::RetryPolicy::none())
        .completion_hub(hub.clone())
        .build()
        .unwrap();
    rt.block_on(async {
        let waits: Vec<_> = (0..WAITS)
            .map(|i| {
                let client = client.clone();
                tokio::spawn(async move {
                    let policy = voiceclone::WaitPolicy::for_provider(Provider::Vmeg)
                        .with_deadline(Some(std::time::Duration::from_secs(600)));
                    let _ = client
                        .wait_for_clone(&JobId::new(format!("t-many-{i}")), &policy)
                        .await;
                })
            })
            .collect();
        while hub.waiting_tasks() < WAITS {
            tokio::task::yield_now().await;
        }
        store.signal(StoreSignal::Lost);
        // Every wait falls back to polling and listens for the restore.
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        store.signal(StoreSignal::Restored);
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        for w in waits {
            w.abort();
        }
    });
    let log = logs.take();
    let said = |level: &str| {
        log.lines()
            .filter(|l| l.contains(level) && (l.contains("completion") || l.contains("listening")))
            .count()
    };
    assert_eq!(said(" WARN "), 1, "{log}");
    assert_eq!(said(" INFO "), 1, "{log}");
}

/// One callsite, reached from the test below on two threads.
fn probe(n: u32) {
    tracing::warn!(n, "review 31 #12 probe");
}

/// Review 31 #12: a callsite first reached on a thread with no capture is still captured on a
/// thread with one. Before (a `set_default` per capture): while that capture was the only
/// subscriber, tracing cached the callsite's interest from the bare thread ("never"), and the
/// capturing thread's event there was lost.
#[test]
fn an_event_at_a_callsite_first_reached_on_a_bare_thread_is_captured() {
    let (out, _guard) = capture(tracing::Level::WARN);
    std::thread::spawn(|| probe(1)).join().unwrap();
    probe(2);
    let text = out.take();
    assert!(
        text.contains("n=2"),
        "the capturing thread's event was lost:\n{text}"
    );
    assert!(
        !text.contains("n=1"),
        "another thread's event was captured:\n{text}"
    );
}

/// A signed delivery's `pipelineKey` is the vendor's text: logged escaped, so a newline in
/// it never starts a forged line in a text log (review 35-b #4).
#[tokio::test]
async fn a_pipeline_key_with_a_newline_never_starts_a_log_line() {
    let (out, _guard) = capture(tracing::Level::DEBUG);
    let hub = voiceclone::webhook::CompletionHub::in_memory(voiceclone::WebhookSecret::new(
        "whsec-pipeline",
    ));
    let body = json!({
        "code": 200, "event": "openapi-tts", "pipelineKey": "pk-1\nFORGED INFO voiceclone: all good",
        "data": {"taskId": "t-forged", "results": [{"uri": "https://cdn.example/a.m4a"}]},
    })
    .to_string();
    let delivery = hub_support::receive_signed(&hub, "whsec-pipeline", &body).await;
    assert!(
        matches!(delivery, voiceclone::webhook::Delivery::Fresh(_)),
        "{delivery:?}"
    );
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("webhook delivery recorded"), "{text}");
    assert!(
        !text.lines().any(|l| l.starts_with("FORGED")),
        "a forged line:\n{text}"
    );
}
