//! Ids cannot change the request: a caller's job or voice id is percent-encoded as exactly one
//! path segment or query value, or refused as `InvalidInput` naming the field, with nothing
//! sent. The loopback server records the request target as received (hyper does not
//! normalize it).

use crate::adapter_support::{client, fast_wait};
use serde_json::{Value, json};
use voiceclone::{
    Client, CloneRequest, Error, ErrorKind, JobId, Provider, ReconcileQuery, SpeechRequest,
};
use voiceclone_sim::{SimConfig, SimHandle, Simulator};
use workspace_tests::scripted::{Scripted, Step};

/// Ids that must never reach the wire.
const HOSTILE: &[&str] = &[
    "",
    "   ",
    ".",
    "..",
    "%2e",
    "%2e%2e",
    "%2E.",
    ".%2E",
    "%2E%2e",
    "%252e%252e",
    "a/b",
    "../x",
    "/etc/passwd",
    "a%2fb",
    "a%2Fb",
    "a%5cb",
    "a%5Cb",
    "a%252fb",
    "a\\b",
    "..\\x",
    "\\",
    "a\0b",
    "%00",
    "a\u{1b}[31mb",
    "a\u{7}b",
    "a\rb",
    "a\nb",
    "a%0d%0aX-Injected: 1",
    "a\u{7f}b",
    "a\u{85}b",
    "a b",
    "a\tb",
    "a?b",
    "a#b",
];

/// Odd but harmless ids: sent, as exactly one encoded segment or query value.
const ODD: &[&str] = &[
    "task-1",
    "a%b",
    "100%",
    "a+b",
    "a&taskId=evil",
    "a=b",
    "é声",
    "a;b",
    "a:b",
    "x.y",
    "...",
    "~_-",
];

fn jimmyai_task(id: &str) -> Value {
    json!({"code": 20000, "msg": "ok", "data": {
        "id": id, "object": "audio", "created": 1781777280, "model": "soundCloningClone",
        "status": "completed", "modelId": "m-1",
        "audioUrl": "https://cdn.example.com/out.mp3", "error": null}})
}

fn vmeg_detail(id: &str) -> Value {
    json!({"code": 200, "message": "", "data": {
        "taskId": id, "taskType": "cloneVoice", "status": "finished",
        "result": {"taskId": id, "voiceId": "cv_1",
                   "results": [{"uri": "https://cdn.example.com/out.m4a"}]}}})
}

fn decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1..i + 3)) {
            (b'%', Some(hex)) if hex.iter().all(u8::is_ascii_hexdigit) => {
                let hex = std::str::from_utf8(hex).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Form decoding of a query string (`+` is a space).
fn query_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let d = |s: &str| String::from_utf8(decode(&s.replace('+', " "))).unwrap();
            (d(k), d(v))
        })
        .collect()
}

/// Every public call that takes an id, on `c`; each result reduced to `Result<(), Error>`.
async fn every_id_call(c: &Client, id: &str) -> Vec<(&'static str, Result<(), Error>)> {
    let job = JobId::new(id);
    let wait = fast_wait(c.provider());
    vec![
        ("clone_status", c.clone_status(&job).await.map(|_| ())),
        ("speech_status", c.speech_status(&job).await.map(|_| ())),
        (
            "wait_for_clone",
            c.wait_for_clone(&job, &wait).await.map(|_| ()),
        ),
        (
            "wait_for_speech",
            c.wait_for_speech(&job, &wait).await.map(|_| ()),
        ),
        ("rename_voice", c.rename_voice(id, "new name").await),
        ("delete_voice", c.delete_voice(id).await),
    ]
}

#[tokio::test]
async fn hostile_ids_are_refused_naming_the_field_and_nothing_is_sent() {
    let mut wrong = Vec::new();
    for provider in Provider::ALL {
        let server = Scripted::start(Vec::new()).await;
        let (c, _) = client(provider, &server.base_url);
        let mut sent_before = 0;
        for id in HOSTILE {
            for (call, result) in every_id_call(&c, id).await {
                let want = if call.ends_with("_voice") {
                    "voice_id"
                } else {
                    "job_id"
                };
                match result.as_ref().map_err(Error::kind) {
                    Err(ErrorKind::InvalidInput { field, .. }) if field == want => {}
                    // JimmyAI has no voice management: refused before any id matters.
                    Err(ErrorKind::Unsupported { .. })
                        if provider == Provider::JimmyAi && call.ends_with("_voice") => {}
                    other => wrong.push(format!("{provider} {call} {id:?}: {other:?}")),
                }
            }
            let seen = server.seen();
            for s in seen.get(sent_before..).unwrap_or_default() {
                wrong.push(format!(
                    "{provider} sent {} {}?{} for id {id:?}",
                    s.method, s.path, s.query
                ));
            }
            sent_before = seen.len();
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn odd_ids_travel_as_exactly_one_encoded_path_segment_or_query_value() {
    for id in ODD {
        // JimmyAI: GET /api/open-api/v1/audios/{id}, the id one segment.
        let server =
            Scripted::start(vec![Step::ok(jimmyai_task(id)), Step::ok(jimmyai_task(id))]).await;
        let (c, _) = client(Provider::JimmyAi, &server.base_url);
        // Both answers are clone tasks (a speech_status would be refused as the wrong kind):
        // the route is the same for either kind.
        c.clone_status(&JobId::new(*id)).await.unwrap();
        c.clone_status(&JobId::new(*id)).await.unwrap();
        for seen in server.seen() {
            let prefix = "/api/open-api/v1/audios/";
            let segment = seen
                .path
                .strip_prefix(prefix)
                .unwrap_or_else(|| panic!("{id:?} -> {}", seen.path));
            assert!(
                segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~%+&=;:!$'()*,@".contains(&b)),
                "{id:?} -> {segment}"
            );
            assert_eq!(decode(segment), id.as_bytes(), "{id:?} -> {segment}");
            assert!(seen.query.is_empty(), "{id:?} -> ?{}", seen.query);
        }

        // VMEG: GET tasks/detail?taskId={id}, the id one query value.
        let server =
            Scripted::start(vec![Step::ok(vmeg_detail(id)), Step::ok(vmeg_detail(id))]).await;
        let (c, _) = client(Provider::Vmeg, &server.base_url);
        // Both answers are clone tasks (a speech_status would be refused as the wrong kind):
        // the route is the same for either kind.
        c.clone_status(&JobId::new(*id)).await.unwrap();
        c.clone_status(&JobId::new(*id)).await.unwrap();
        for seen in server.seen() {
            assert_eq!(seen.path, "/openapi/v1/tasks/detail", "{id:?}");
            // Beside the request id every VMEG call carries.
            let pairs: Vec<(String, String)> = query_pairs(&seen.query)
                .into_iter()
                .filter(|(k, _)| k != "req_id")
                .collect();
            assert_eq!(
                pairs,
                vec![("taskId".to_string(), (*id).to_string())],
                "{id:?} -> ?{}",
                seen.query
            );
        }
    }
}

#[tokio::test]
async fn a_base_url_with_a_path_keeps_it_and_the_id_stays_one_segment() {
    // The answer names the asked task: one naming another (even an id this crate would not
    // accept, such as `a b`) is refused as misrouted (review 29-d #2).
    let server = Scripted::start(vec![Step::ok(jimmyai_task("x.y"))]).await;
    let base = format!("{}/prefix/", server.base_url);
    let (c, _) = client(Provider::JimmyAi, &base);
    c.clone_status(&JobId::new("x.y")).await.unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/prefix/api/open-api/v1/audios/x.y");
}

/// Texts that look like a stored id but are no voice's stored form (another case, spaces
/// around it, a job's form): never sent whole, as a job id or as a voice id.
const STORED_LOOKING: &[&str] = &[
    "VMEG:clone:x",
    "Vmeg:speech:x",
    " vmeg:clone:x",
    "JIMMYAI:clone:a",
    "JimmyAI:speech:a",
    "VMEG:voice:cv_1",
    "vmeg:clone:t-1",
    "jimmyai:clone:a",
];

/// Voices' stored forms: as a bare job or voice id (`new`), never sent whole either.
const VOICE_FORMS: &[&str] = &["vmeg:voice:cv_1", "jimmyai:voice;activated:m-1"];

/// Before: a bare id whose text was a stored form (or one in another case, or with spaces)
/// went to the vendor whole, whose "not found" a caller may read as "no job" and submit
/// again. Now every id-taking call refuses it naming the field, and nothing is sent.
#[tokio::test]
async fn bare_ids_that_look_like_stored_ids_are_refused_on_every_id_call() {
    let mut wrong = Vec::new();
    for provider in Provider::ALL {
        let server = Scripted::start(Vec::new()).await;
        let (c, _) = client(provider, &server.base_url);
        for id in STORED_LOOKING {
            for (call, result) in every_id_call(&c, id).await {
                let want = if call.ends_with("_voice") {
                    "voice_id"
                } else {
                    "job_id"
                };
                match result.as_ref().map_err(Error::kind) {
                    Err(ErrorKind::InvalidInput { field, reason })
                        if field == want && reason.contains("looks like a stored id") => {}
                    // JimmyAI has no voice management: refused before any id matters.
                    Err(ErrorKind::Unsupported { .. })
                        if provider == Provider::JimmyAi && call.ends_with("_voice") => {}
                    other => wrong.push(format!("{provider} {call} {id:?}: {other:?}")),
                }
            }
        }
        for id in STORED_LOOKING.iter().chain(VOICE_FORMS) {
            for (call, result) in [
                ("task", c.task(&JobId::new(*id)).await.map(drop)),
                (
                    "clone_status",
                    c.clone_status(&JobId::new(*id)).await.map(drop),
                ),
                ("delete_task", c.delete_task(&JobId::new(*id)).await),
            ] {
                match result.as_ref().map_err(Error::kind) {
                    Err(ErrorKind::InvalidInput { field, reason })
                        if field == "job_id" && reason.contains("looks like a stored id") => {}
                    Err(ErrorKind::Unsupported { .. }) if provider == Provider::JimmyAi => {}
                    other => wrong.push(format!("{provider} {call} {id:?}: {other:?}")),
                }
            }
            let e = c
                .synthesize(&SpeechRequest::new(voiceclone::VoiceId::new(*id), "hi"))
                .await
                .unwrap_err();
            if !matches!(e.kind(), ErrorKind::InvalidInput { field, reason }
                if field == "voice_id" && reason.contains("looks like a stored id"))
            {
                wrong.push(format!("{provider} synthesize {id:?}: {e:?}"));
            }
            let q = ReconcileQuery::new(std::time::SystemTime::now()).task_id(JobId::new(*id));
            if c.reconcile(&q).await.is_ok() {
                wrong.push(format!("{provider} reconcile {id:?}: Ok"));
            }
        }
        for s in server.seen() {
            wrong.push(format!(
                "{provider} sent {} {}?{}",
                s.method, s.path, s.query
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A typed id whose vendor id is itself a stored id (a stored id stored again,
/// `vmeg:clone:vmeg:clone:abc`, or one given to `JobId::typed` / `VoiceId::typed`): refused
/// by every call naming the field, nothing sent. Before: its vendor id (`vmeg:clone:abc`) was
/// sent, and the vendor's "not found" reads as "no job", so a caller may submit again.
#[tokio::test]
async fn typed_ids_whose_vendor_id_is_a_stored_id_are_refused_and_nothing_is_sent() {
    use voiceclone::{JobKind, VoiceId};
    let wrong = std::cell::RefCell::new(Vec::new());
    let check = |what: String, want: &str, result: Result<(), Error>| match result
        .as_ref()
        .map_err(Error::kind)
    {
        Err(ErrorKind::InvalidInput { field, reason })
            if field == want && reason.contains("is itself a stored id") => {}
        other => wrong.borrow_mut().push(format!("{what}: {other:?}")),
    };
    for provider in Provider::ALL {
        let server = Scripted::start(Vec::new()).await;
        let (c, _) = client(provider, &server.base_url);
        let wait = fast_wait(provider);
        for inner in [
            "vmeg:clone:x",
            "jimmyai:speech:a",
            "VMEG:voice:cv_1",
            " vmeg:clone:x",
        ] {
            let clone = JobId::typed(provider, JobKind::Clone, inner);
            let speech = JobId::typed(provider, JobKind::Speech, inner);
            let stored: JobId = format!("{provider}:clone:{inner}").parse().unwrap();
            assert_eq!(stored, clone);
            let what = |call: &str| format!("{provider} {call} {inner:?}");
            check(
                what("clone_status"),
                "job_id",
                c.clone_status(&clone).await.map(drop),
            );
            check(
                what("speech_status"),
                "job_id",
                c.speech_status(&speech).await.map(drop),
            );
            check(
                what("wait_for_clone"),
                "job_id",
                c.wait_for_clone(&clone, &wait).await.map(drop),
            );
            if provider == Provider::Vmeg {
                check(what("task"), "job_id", c.task(&clone).await.map(drop));
                check(what("delete_task"), "job_id", c.delete_task(&clone).await);
            }
            let voice = VoiceId::typed(provider, inner);
            let speak = SpeechRequest::new(voice.clone(), "hi").language("en-US");
            check(
                what("synthesize"),
                "voice_id",
                c.synthesize(&speak).await.map(drop),
            );
            if provider == Provider::Vmeg {
                check(
                    what("delete_voice"),
                    "voice_id",
                    c.delete_voice(voice).await,
                );
            }
        }
        for s in server.seen() {
            wrong.borrow_mut().push(format!(
                "{provider} sent {} {}?{}",
                s.method, s.path, s.query
            ));
        }
    }
    let wrong = wrong.into_inner();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

async fn sim() -> SimHandle {
    Simulator::start_with(SimConfig::default().with_speed(1000.0))
        .await
        .unwrap()
}

fn sim_client(sim: &SimHandle, provider: Provider) -> Client {
    Client::builder(provider)
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .retry(voiceclone::RetryPolicy::none())
        .sleeper(std::sync::Arc::new(voiceclone::RecordingSleeper::new()))
        .build()
        .unwrap()
}

/// The error is `InvalidInput` on `field` whose reason contains `needle`.
fn assert_invalid(e: &Error, field: &str, needle: &str) {
    assert!(
        matches!(e.kind(), ErrorKind::InvalidInput { field: f, reason }
            if f == field && reason.contains(needle)),
        "want InvalidInput {field} containing {needle:?}, got {e:?}"
    );
}

/// Before: `From<String>` / `From<&str>` made a stored form a bare id, so a voice or job read
/// back from a database and passed as a string skipped the provider check and went to the
/// vendor whole. Now it is the typed id it was: another provider's is refused, nothing sent.
#[tokio::test]
async fn a_stored_id_of_the_other_provider_passed_as_a_string_is_refused_and_nothing_is_sent() {
    let sim = sim().await;
    let jimmy = sim_client(&sim, Provider::JimmyAi);
    let vmeg = sim_client(&sim, Provider::Vmeg);
    let before = sim.stats().requests_total;

    let e = jimmy
        .synthesize(&SpeechRequest::new(String::from("vmeg:voice:cv_1"), "hi"))
        .await
        .unwrap_err();
    assert_invalid(&e, "voice_id", "vmeg voice");
    let e = jimmy
        .synthesize(&SpeechRequest::new("vmeg:voice:cv_1", "hi"))
        .await
        .unwrap_err();
    assert_invalid(&e, "voice_id", "vmeg voice");

    let e = vmeg
        .clone_status(&"jimmyai:clone:a".into())
        .await
        .unwrap_err();
    assert_invalid(&e, "job_id", "jimmyai job");
    let e = vmeg
        .wait_for_clone(
            &String::from("jimmyai:clone:a").into(),
            &fast_wait(Provider::Vmeg),
        )
        .await
        .unwrap_err();
    assert_invalid(&e, "job_id", "jimmyai job");
    let e = vmeg
        .speech_status(&"jimmyai:speech:audio_1".into())
        .await
        .unwrap_err();
    assert_invalid(&e, "job_id", "jimmyai job");
    let e = vmeg
        .task(&"jimmyai:speech:audio_1".into())
        .await
        .unwrap_err();
    assert_invalid(&e, "job_id", "jimmyai job");
    let e = vmeg
        .delete_voice("jimmyai:voice;activated:m-1")
        .await
        .unwrap_err();
    assert_invalid(&e, "voice_id", "jimmyai voice");
    let e = vmeg
        .synthesize(&SpeechRequest::new("jimmyai:voice;activated:m-1", "hi").language("en-US"))
        .await
        .unwrap_err();
    assert_invalid(&e, "voice_id", "jimmyai voice");
    // Another case: not a stored form, and not sent as a bare id either.
    let e = vmeg.clone_status(&"VMEG:clone:x".into()).await.unwrap_err();
    assert_invalid(&e, "job_id", "looks like a stored id of vmeg");
    let e = jimmy
        .synthesize(&SpeechRequest::new(" jimmyai:voice:m-1", "hi"))
        .await
        .unwrap_err();
    assert_invalid(&e, "voice_id", "looks like a stored id of jimmyai");

    assert_eq!(sim.stats().requests_total, before, "nothing was sent");
}

/// A stored form passed as a string on the right provider works as the typed id: the clone
/// is waited for and the stored voice speaks, on both vendors.
#[tokio::test]
async fn a_stored_id_passed_as_a_string_on_its_provider_works_as_the_typed_id() {
    let sim = sim().await;
    for provider in Provider::ALL {
        let c = sim_client(&sim, provider);
        let mut clone = CloneRequest::new("https://a.example/s.wav");
        if provider == Provider::Vmeg {
            clone = clone.name("Narrator");
        }
        let job = c.clone_voice(&clone).await.unwrap();
        sim.complete_all_now();
        let stored_job = job.id.to_string();
        let voice = c
            .wait_for_clone(&stored_job.as_str().into(), &fast_wait(provider))
            .await
            .unwrap();
        let stored_voice = voice.id.to_string();
        assert!(
            stored_voice.starts_with(&format!("{provider}:voice")),
            "{stored_voice}"
        );
        let mut req = SpeechRequest::new(stored_voice.clone(), "hello");
        if provider == Provider::Vmeg {
            req = req.language("en-US");
        }
        let speech = c.synthesize(&req).await.unwrap();
        sim.complete_all_now();
        let stored_speech = speech.id.to_string();
        let again = c.speech_status(&stored_speech.into()).await.unwrap();
        assert_eq!(again.id, speech.id);
    }
}

/// The vendor gets the bare vendor id of a stored form passed as a string, never the whole.
#[tokio::test]
async fn the_vendor_gets_the_bare_vendor_id_of_a_stored_form_passed_as_a_string() {
    let server = Scripted::start(vec![Step::ok(jimmyai_task("a"))]).await;
    let (c, _) = client(Provider::JimmyAi, &server.base_url);
    let job = c.clone_status(&"jimmyai:clone:a".into()).await.unwrap();
    assert_eq!(job.id.as_str(), "a");
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/api/open-api/v1/audios/a");

    let server = Scripted::start(vec![Step::ok(vmeg_detail("t-1"))]).await;
    let (c, _) = client(Provider::Vmeg, &server.base_url);
    c.clone_status(&String::from("vmeg:clone:t-1").into())
        .await
        .unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let pairs: Vec<(String, String)> = query_pairs(&seen[0].query)
        .into_iter()
        .filter(|(k, _)| k != "req_id")
        .collect();
    assert_eq!(pairs, vec![("taskId".to_string(), "t-1".to_string())]);
}

/// Before: `vmeg:voice;activate_by=<past>:cv_1` parsed, and `Voice::with_activate_by` on a
/// VMEG voice made such an id, which was then refused as "never activated" though VMEG
/// voices never expire. Now a VMEG id keeps no state: the voice speaks, its stored form has
/// no state, and a stored form with one is refused (nothing sent).
#[tokio::test]
async fn a_vmeg_voice_is_never_refused_as_unactivated() {
    let sim = sim().await;
    let c = sim_client(&sim, Provider::Vmeg);
    let job = c
        .clone_voice(&CloneRequest::new("https://a.example/s.wav").name("Narrator"))
        .await
        .unwrap();
    sim.complete_all_now();
    let voice = c
        .wait_for_clone(&job.id, &fast_wait(Provider::Vmeg))
        .await
        .unwrap();
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let voice = voice.with_activate_by(past);
    assert_eq!(voice.id.activation(), voiceclone::Activation::Unknown);
    let stored = voice.id.to_string();
    assert_eq!(stored, format!("vmeg:voice:{}", voice.id.as_str()));
    c.synthesize(&SpeechRequest::new(&voice, "hello").language("en-US"))
        .await
        .unwrap();
    c.synthesize(&SpeechRequest::new(stored, "hello").language("en-US"))
        .await
        .unwrap();

    // A state an earlier version stored on a VMEG voice (long past its deadline) is read
    // and dropped: the voice still works, and is never refused as "never activated".
    let with_state = format!("vmeg:voice;activate_by=1:{}", voice.id.as_str());
    let parsed = with_state.parse::<voiceclone::VoiceId>().unwrap();
    assert_eq!(parsed, voice.id);
    c.synthesize(&SpeechRequest::new(with_state, "hello").language("en-US"))
        .await
        .unwrap();
}
