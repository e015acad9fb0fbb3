//! Issue 17 point 2: a caller's own service tested through `VoiceCloning` and the scripted
//! `FakeClient`, with no HTTP and no socket.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::fake::clone_refused_for_its_script;
use voiceclone::fake::{FakeCall, FakeClient, Script};
use voiceclone::{
    CloneRequest, ErrorKind, JobId, JobKind, Provider, SpeechRequest, TaskStatus, VoiceCloning,
    WaitPolicy,
};

/// What a user's service might look like: it only knows the trait.
struct Onboarding {
    api: Arc<dyn VoiceCloning>,
    policy: WaitPolicy,
}

#[derive(Debug, PartialEq)]
enum Outcome {
    /// The voice id (stored form) and the greeting's first audio URL.
    Ready(String, String),
    /// The submit may have landed: keep the key and look the job up later.
    Pending {
        key: Option<String>,
    },
    Refused(String),
}

impl Onboarding {
    async fn run(&self, sample: &str) -> Outcome {
        let mut req = CloneRequest::new(sample);
        if self.api.provider() == Provider::Vmeg {
            req = req.name("narrator");
        }
        let job = match self.api.clone_voice(&req).await {
            Ok(job) => job,
            Err(e) => {
                return match e.kind() {
                    ErrorKind::OutcomeUnknown {
                        idempotency_key, ..
                    } => Outcome::Pending {
                        key: idempotency_key.clone(),
                    },
                    k => Outcome::Refused(k.as_str().to_owned()),
                };
            }
        };
        let voice = match self.api.wait_for_clone(&job.id, &self.policy).await {
            Ok(v) => v,
            Err(e) => return Outcome::Refused(e.kind().as_str().to_owned()),
        };
        let speech_job = match self
            .api
            .synthesize(&SpeechRequest::new(&voice.id, "Welcome aboard."))
            .await
        {
            Ok(j) => j,
            Err(e) => return Outcome::Refused(e.kind().as_str().to_owned()),
        };
        match self.api.wait_for_speech(&speech_job.id, &self.policy).await {
            Ok(s) => Outcome::Ready(voice.id.to_string(), s.audio_urls[0].to_string()),
            Err(e) => Outcome::Refused(e.kind().as_str().to_owned()),
        }
    }
}

fn service(fake: &Arc<FakeClient>) -> Onboarding {
    let provider = VoiceCloning::provider(fake.as_ref());
    Onboarding {
        api: fake.clone(),
        policy: WaitPolicy::for_provider(provider),
    }
}

/// Open network (TCP or UDP, IPv4 or IPv6) sockets of this process (Linux): the fds that
/// link to `socket:[inode]` with that inode in `/proc/self/net/{tcp,tcp6,udp,udp6}`. Unix
/// socket pairs (a tokio runtime's signal driver, made by any test's runtime) are not
/// network sockets and are not counted.
fn sockets() -> usize {
    let mut network = std::collections::HashSet::new();
    for table in ["tcp", "tcp6", "udp", "udp6"] {
        let text = std::fs::read_to_string(format!("/proc/self/net/{table}")).unwrap_or_default();
        // Columns: sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
        network.extend(
            text.lines()
                .skip(1)
                .filter_map(|l| l.split_whitespace().nth(9).map(str::to_owned)),
        );
    }
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter_map(|t| {
                    let t = t.to_string_lossy().into_owned();
                    Some(t.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
                })
                .filter(|inode| network.contains(inode))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "current_thread")]
async fn the_happy_path_opens_no_socket_and_bills_two_jobs() {
    let before = sockets();
    {
        // The probe sees a socket when there is one (one of our own, on loopback).
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert_eq!(sockets(), before + 1, "the socket probe is blind");
        drop(probe);
    }
    for provider in [Provider::Vmeg, Provider::JimmyAi] {
        let fake = Arc::new(FakeClient::new(provider));
        fake.script_clone(Script::succeeds().with_voice_id("v-7"));
        let out = service(&fake).run("https://cdn.example.com/a.wav").await;
        let Outcome::Ready(voice, url) = out else {
            panic!("{provider}: {out:?}");
        };
        assert!(voice.ends_with(":v-7"), "{voice}");
        assert!(url.starts_with("https://fake.invalid/speech/"), "{url}");
        assert_eq!(fake.billable_submits(), 2, "{provider}");
        // Three reads of the clone (queued, running, succeeded), three of the speech.
        let reads = fake
            .calls()
            .iter()
            .filter(|c| matches!(c, FakeCall::CloneStatus(_) | FakeCall::SpeechStatus(_)))
            .count();
        assert_eq!(reads, 6, "{provider}: {:?}", fake.calls());
        // The waits slept on the fake's virtual clock, by the policy's schedule.
        assert!(fake.slept() > Duration::ZERO);
    }
    assert_eq!(sockets(), before, "the fake opened a socket");
}

#[tokio::test(flavor = "current_thread")]
async fn a_failed_clone_and_a_refused_submit_reach_the_service_as_the_client_gives_them() {
    let fake = Arc::new(FakeClient::new(Provider::Vmeg));
    fake.script_clone(Script::fails("the sample is silent"));
    assert_eq!(
        service(&fake).run("https://cdn.example.com/a.wav").await,
        Outcome::Refused("task_failed".into())
    );
    fake.script_clone(Script::rejected(ErrorKind::PaymentRequired));
    assert_eq!(
        service(&fake).run("https://cdn.example.com/a.wav").await,
        Outcome::Refused("payment_required".into())
    );
    // The failed clone was created (billed if it had succeeded); the refused one was not.
    assert_eq!(fake.billable_submits(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn an_unknown_outcome_carries_the_key_and_the_job_exists() {
    let fake = Arc::new(FakeClient::new(Provider::Vmeg));
    fake.script_clone(Script::succeeds().outcome_unknown());
    let Outcome::Pending { key: Some(key) } =
        service(&fake).run("https://cdn.example.com/a.wav").await
    else {
        panic!("expected a pending outcome with a key");
    };
    assert!(
        key.len() == 32 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "a random idempotency key (32 hex digits): {key}"
    );
    assert_eq!(fake.billable_submits(), 1, "the lost submit created a job");
    // JimmyAI documents no idempotency key: an unknown outcome has none.
    let fake = Arc::new(FakeClient::new(Provider::JimmyAi));
    fake.script_clone(Script::succeeds().outcome_unknown());
    assert_eq!(
        service(&fake).run("https://cdn.example.com/a.wav").await,
        Outcome::Pending { key: None }
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_fake_refuses_what_the_client_refuses_and_creates_nothing() {
    // `name` is VMEG-only: a JimmyAI client refuses it before sending, and so does the fake.
    let fake = FakeClient::new(Provider::JimmyAi);
    let err = fake
        .clone_voice(&CloneRequest::new("https://cdn.example.com/a.wav").name("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::InvalidInput { field, .. } if field == "name"),
        "{err}"
    );
    // A loopback recording URL is refused unless private URLs are allowed, as in the client.
    let err = fake
        .clone_voice(&CloneRequest::new("http://127.0.0.1/a.wav"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::InvalidInput { .. }),
        "{err}"
    );
    assert_eq!(fake.billable_submits(), 0);
    assert_eq!(fake.calls().len(), 2, "refused calls are still recorded");

    // A speech job id given to a clone call: InvalidInput, as the client does.
    let vmeg = FakeClient::new(Provider::Vmeg);
    let err = vmeg
        .clone_status(&JobId::typed(Provider::Vmeg, JobKind::Speech, "t-1"))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::InvalidInput { .. }),
        "{err}"
    );
    // A bare id of a task of the other kind: refused from the "answer".
    let speech = vmeg
        .synthesize(&SpeechRequest::new("vmeg:voice:v-1", "hi"))
        .await
        .unwrap();
    let bare = JobId::new(speech.id.as_str());
    let err = vmeg.clone_status(&bare).await.unwrap_err();
    assert!(err.to_string().contains("is a speech task"), "{err}");
    // An id nobody created: NotFound.
    let err = vmeg.clone_status(&JobId::new("nope")).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::NotFound);
}

#[tokio::test(flavor = "current_thread")]
async fn waits_follow_the_policy_on_a_virtual_clock() {
    let fake = FakeClient::new(Provider::Vmeg);
    // Never finishes: a deadline of one simulated hour ends the wait at once, in real time.
    fake.script_clone(Script::new().then_status(TaskStatus::Running));
    let job = fake
        .clone_voice(&CloneRequest::new("https://cdn.example.com/a.wav"))
        .await
        .unwrap();
    let policy = WaitPolicy::for_provider(Provider::Vmeg)
        .with_deadline(Some(Duration::from_secs(3600)))
        .with_max_polls(None);
    let started = std::time::Instant::now();
    let err = fake.wait_for_clone(&job.id, &policy).await.unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::WaitTimedOut {
                last_status: TaskStatus::Running,
                ..
            }
        ),
        "{err}"
    );
    assert!(fake.slept() >= Duration::from_secs(3600) - Duration::from_secs(60));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the fake slept for real"
    );

    // A transient error on one poll is polled past; a permanent one ends the wait.
    let fake = FakeClient::new(Provider::Vmeg);
    fake.script_clone(
        Script::new()
            .then_status(TaskStatus::Queued)
            .then_error(ErrorKind::Server)
            .then_status(TaskStatus::Succeeded),
    );
    fake.script_clone(
        Script::new()
            .then_status(TaskStatus::Queued)
            .then_error(ErrorKind::Unauthorized),
    );
    let policy = WaitPolicy::for_provider(Provider::Vmeg);
    let req = CloneRequest::new("https://cdn.example.com/a.wav");
    let flaky = fake.clone_voice(&req).await.unwrap();
    let denied = fake.clone_voice(&req).await.unwrap();
    assert!(fake.wait_for_clone(&flaky.id, &policy).await.is_ok());
    let err = fake.wait_for_clone(&denied.id, &policy).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Unauthorized);
    // Only the succeeded clone is listed.
    let voices = fake.list_voices().await.unwrap();
    assert_eq!(voices.len(), 1);
    assert_eq!(voices[0].id.as_str(), "fake-voice-1");
}

/// The fake behaves like the client where a user's test would otherwise pass and production
/// fail (found by a hostile review): a reused VMEG key, a JimmyAI speech job's voice, ids the
/// client refuses, synchronous submits.
#[tokio::test(flavor = "current_thread")]
async fn the_fake_answers_as_the_client_does() {
    // A VMEG key is accepted once per route: a second clone under it is a Conflict and
    // creates nothing; a speech submit under the same key is another route.
    let vmeg = FakeClient::new(Provider::Vmeg);
    let req = CloneRequest::new("https://cdn.example.com/a.wav").idempotency_key("k-1");
    let first = vmeg.clone_voice(&req).await.unwrap();
    assert_eq!(first.idempotency_key.as_deref(), Some("k-1"));
    let err = vmeg.clone_voice(&req).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Conflict, "{err}");
    assert_eq!(vmeg.billable_submits(), 1);
    vmeg.synthesize(&SpeechRequest::new("cv_1", "hi").idempotency_key("k-1"))
        .await
        .unwrap();
    assert_eq!(vmeg.billable_submits(), 2);

    // A JimmyAI speech job names the model in its stored, typed form; it is activated only
    // once the task is seen completed (a successful production call activates it).
    let jimmyai = FakeClient::new(Provider::JimmyAi);
    let job = jimmyai
        .synthesize(&SpeechRequest::new("m-1", "hi"))
        .await
        .unwrap();
    assert_eq!(job.voice.clone().unwrap().to_string(), "jimmyai:voice:m-1");
    let speech = jimmyai
        .wait_for_speech(&job.id, &WaitPolicy::for_provider(Provider::JimmyAi))
        .await
        .unwrap();
    assert_eq!(
        job.completed_with(speech).voice.unwrap().to_string(),
        "jimmyai:voice;activated:m-1"
    );

    // An id the client refuses before sending is InvalidInput here too, not NotFound.
    let policy = WaitPolicy::for_provider(Provider::Vmeg);
    for bad in ["a/b", "..", "t 1"] {
        let id = JobId::new(bad);
        let err = vmeg.clone_status(&id).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::InvalidInput { field, .. } if field == "job_id"),
            "{bad}: {err}"
        );
        let err = vmeg.wait_for_clone(&id, &policy).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::InvalidInput { field, .. } if field == "job_id"),
            "{bad}: {err}"
        );
    }

    // A synchronous VMEG submit comes back finished, with its voice or audio.
    let vmeg = FakeClient::new(Provider::Vmeg);
    vmeg.script_clone(Script::succeeds().with_voice_id("v-9"));
    let job = vmeg
        .clone_voice(&CloneRequest::new("https://cdn.example.com/a.wav").synchronous(true))
        .await
        .unwrap();
    assert_eq!(job.status, TaskStatus::Succeeded);
    assert_eq!(job.voice.unwrap().id.as_str(), "v-9");
    // The synchronous answer is the submit's own: no status read is recorded.
    assert!(
        !vmeg
            .calls()
            .iter()
            .any(|c| matches!(c, FakeCall::CloneStatus(_))),
        "{:?}",
        vmeg.calls()
    );
    // VMEG scopes keys by route: the synchronous and the async clone routes are apart.
    let keyed = CloneRequest::new("https://cdn.example.com/a.wav").idempotency_key("k-route");
    vmeg.clone_voice(&keyed).await.unwrap();
    vmeg.clone_voice(&keyed.clone().synchronous(true))
        .await
        .unwrap();
    let err = vmeg.clone_voice(&keyed).await.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::Conflict);
    let job = vmeg
        .synthesize(&SpeechRequest::new("cv_1", "hi").synchronous(true))
        .await
        .unwrap();
    assert_eq!(job.status, TaskStatus::Succeeded);
    assert!(job.speech.is_some_and(|s| !s.audio_urls.is_empty()));
    // A failed synchronous task is VMEG's non-200 answer: the client's `OutcomeUnknown`.
    vmeg.script_clone(Script::fails("silent"));
    let err = vmeg
        .clone_voice(&CloneRequest::new("https://cdn.example.com/a.wav").synchronous(true))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::OutcomeUnknown { .. }),
        "{err}"
    );
    assert!(!err.may_resubmit());
}

/// Waits end on the virtual clock whatever the policy: `Duration::MAX` sleeps add up
/// without overflowing, and back-to-back polls still reach the deadline at once.
#[tokio::test(flavor = "current_thread")]
async fn extreme_wait_policies_end_on_the_virtual_clock() {
    let fake = FakeClient::new(Provider::Vmeg);
    fake.script_clone(Script::new().then_status(TaskStatus::Running));
    fake.script_clone(Script::new().then_status(TaskStatus::Running));
    let req = CloneRequest::new("https://cdn.example.com/a.wav");
    let job = fake.clone_voice(&req).await.unwrap();
    let longest = WaitPolicy::for_provider(Provider::Vmeg)
        .with_first_interval(Duration::MAX)
        .with_max_interval(Duration::MAX)
        .with_deadline(None)
        .with_max_polls(Some(3));
    let err = fake.wait_for_clone(&job.id, &longest).await.unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WaitTimedOut { polls: 3, .. }),
        "{err}"
    );
    assert_eq!(fake.slept(), Duration::MAX);

    let job = fake.clone_voice(&req).await.unwrap();
    let eager = WaitPolicy::for_provider(Provider::Vmeg)
        .with_first_interval(Duration::ZERO)
        .with_max_interval(Duration::ZERO)
        .with_max_polls(None)
        .with_deadline(Some(Duration::from_secs(60)));
    let started = std::time::Instant::now();
    let err = fake.wait_for_clone(&job.id, &eager).await.unwrap_err();
    let ErrorKind::WaitTimedOut { polls, .. } = err.kind() else {
        panic!("{err}");
    };
    // 60 s of 100 ms polls.
    assert!((590..=610).contains(polls), "{polls}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the fake waited for real"
    );
}

/// A local recording is checked as a dry run checks it: it must exist, and be of a format
/// the provider clones from.
#[cfg(feature = "upload")]
#[tokio::test(flavor = "current_thread")]
async fn the_fake_checks_a_local_recording_as_a_dry_run_does() {
    let dir = tempfile::tempdir().unwrap();
    let flac = dir.path().join("a.flac");
    std::fs::write(&flac, b"fLaC not really").unwrap();
    let fake = FakeClient::new(Provider::JimmyAi);
    for path in [dir.path().join("missing.mp3"), flac] {
        let err = fake
            .clone_voice(&CloneRequest::from_file(&path))
            .await
            .unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::InvalidInput { .. }),
            "{}: {err}",
            path.display()
        );
    }
    assert_eq!(fake.billable_submits(), 0);
}

/// Generic code that clones its client into spawned tasks takes an `Arc<FakeClient>`, and
/// the test still holds the fake to inspect it afterwards; `&T` and `Box<dyn VoiceCloning>`
/// are clients too. Before, only `FakeClient` and `Client` implemented the trait (and the
/// fake is not `Clone`), so this did not compile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_pointers_to_a_fake_are_clients_too() {
    /// Your code: one task per sample, each with its own handle to the client.
    async fn clone_all<C: VoiceCloning + Clone + 'static>(api: C, samples: &[&str]) -> usize {
        let mut tasks = Vec::new();
        for s in samples {
            let (api, req) = (api.clone(), CloneRequest::new(*s));
            tasks.push(tokio::spawn(async move {
                let job = api.clone_voice(&req).await?;
                let policy = WaitPolicy::for_provider(api.provider());
                api.wait_for_clone(&job.id, &policy).await
            }));
        }
        let mut done = 0;
        for t in tasks {
            if t.await.unwrap().is_ok() {
                done += 1;
            }
        }
        done
    }

    let fake = Arc::new(FakeClient::new(Provider::Vmeg));
    let samples = [
        "https://cdn.example.com/a.wav",
        "https://cdn.example.com/b.wav",
        "https://cdn.example.com/c.wav",
    ];
    assert_eq!(clone_all(Arc::clone(&fake), &samples).await, 3);
    let calls = fake.calls();
    let submits = calls
        .iter()
        .filter(|c| matches!(c, FakeCall::CloneVoice(_)))
        .count();
    assert_eq!(submits, 3, "{calls:?}");
    assert_eq!(fake.billable_submits(), 3);
    assert_eq!(fake.list_voices().await.unwrap().len(), 3);

    // A reference and a boxed trait object are clients as well.
    fn provider_of(api: impl VoiceCloning) -> Provider {
        api.provider()
    }
    assert_eq!(provider_of(&*fake), Provider::Vmeg);
    let boxed: Box<dyn VoiceCloning> = Box::new(FakeClient::new(Provider::JimmyAi));
    assert_eq!(provider_of(&boxed), Provider::JimmyAi);
    assert_eq!(provider_of(boxed), Provider::JimmyAi);
    let shared: Arc<dyn VoiceCloning> = fake.clone();
    assert_eq!(clone_all(shared, &samples[..1]).await, 1);
    assert_eq!(fake.billable_submits(), 4);
}

/// The seam's own example (`src/seam.rs`), as written there (the test below checks the module
/// docs still say the same).
macro_rules! seam_example {
    ($($code:tt)*) => {
        $($code)*
        const SEAM_EXAMPLE: &str = stringify!($($code)*);
    };
}

seam_example! {
    async fn onboard(api: &dyn VoiceCloning, sample_url: &str) -> Result<String, voiceclone::Error> {
        let mut req = CloneRequest::new(sample_url);
        if api.provider() == Provider::Vmeg {
            req = req.name("narrator");
        }
        let job = api.clone_voice(&req).await?;
        let policy = WaitPolicy::for_provider(api.provider());
        let voice = api.wait_for_clone(&job.id, &policy).await?;
        Ok(voice.id.to_string())
    }
}

/// The seam's example is offered for either provider, so it runs on a fake of each. Before,
/// it named the voice, which JimmyAI (and so its fake) refuses before sending.
#[tokio::test(flavor = "current_thread")]
async fn the_seam_example_works_for_both_providers() {
    for provider in [Provider::Vmeg, Provider::JimmyAi] {
        let fake = FakeClient::new(provider);
        fake.script_clone(Script::succeeds().with_voice_id("v-3"));
        let voice = onboard(&fake, "https://cdn.example.com/a.wav")
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        assert!(voice.ends_with(":v-3"), "{provider}: {voice}");
        assert_eq!(fake.billable_submits(), 1, "{provider}");
    }

    let seam = include_str!("../src/seam.rs");
    let start = seam
        .find("async fn onboard")
        .expect("the example's function");
    let end = start
        + seam[start..]
            .find("//! # let _")
            .expect("the example's end");
    let code: String = seam[start..end]
        .lines()
        .map(|l| l.trim_start().trim_start_matches("//!"))
        // Comments are no tokens: `stringify!` drops them.
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect();
    let squeeze = |s: &str| s.split_whitespace().collect::<String>();
    assert_eq!(squeeze(&code), squeeze(SEAM_EXAMPLE));
}

/// A user's delivery step, as the crate's docs advise: synthesize again only the lines the
/// vendor said failed, keep the task to read again for lines that could not be read.
#[derive(Debug, Default, PartialEq)]
struct Delivery {
    /// Lines (from 1) with audio.
    delivered: Vec<usize>,
    /// Lines (from 1) sent again in a new task.
    resynthesized: Vec<usize>,
    /// Lines (from 1) to read again from the same task later.
    reread: Vec<usize>,
    /// The whole task is to be read again later (no line readable).
    reread_task: bool,
}

async fn deliver(api: &dyn VoiceCloning, lines: &[&str]) -> Delivery {
    let voice = "cv_1";
    let mut req = SpeechRequest::new(voice, lines[0]);
    for line in &lines[1..] {
        req = req.add_line(voice, *line);
    }
    let job = api.synthesize(&req).await.unwrap();
    let policy = WaitPolicy::for_provider(api.provider());
    let mut out = Delivery::default();
    let speech = match api.wait_for_speech(&job.id, &policy).await {
        Ok(speech) => speech,
        Err(e) if e.audio_unreadable().is_some() => {
            // Not a failure the vendor stated: keep the task, never submit it again.
            assert!(!e.may_resubmit());
            out.reread_task = true;
            return out;
        }
        Err(e) => panic!("{e}"),
    };
    assert_eq!(
        speech.segments.len(),
        lines.len(),
        "pairing needs one result per line"
    );
    let mut again: Vec<&str> = Vec::new();
    for (i, segment) in speech.segments.iter().enumerate() {
        if segment.url.is_some() {
            out.delivered.push(i + 1);
        } else if segment.failed() {
            again.push(lines[i]);
            out.resynthesized.push(i + 1);
        } else {
            out.reread.push(i + 1);
        }
    }
    if let Some((first, rest)) = again.split_first() {
        let mut req = SpeechRequest::new(voice, *first);
        for line in rest {
            req = req.add_line(voice, *line);
        }
        api.synthesize(&req).await.unwrap();
    }
    out
}

/// Review 30-f #1: the fake scripts a line the client cannot read (no `uri`, no
/// `errorMessage`), as VMEG may answer it: code following the docs reads it again and
/// pays for no second task for it; only the line VMEG said failed is synthesized again.
#[tokio::test(flavor = "current_thread")]
async fn an_unreadable_line_is_read_again_and_only_a_failed_line_is_synthesized_again() {
    let fake = FakeClient::new(Provider::Vmeg);
    fake.script_speech(
        Script::succeeds()
            .with_failed_line(1, "unsupported characters")
            .with_unreadable_line(2),
    );
    let got = deliver(&fake, &["One.", "Two.", "Three."]).await;
    assert_eq!(
        got,
        Delivery {
            delivered: vec![1],
            resynthesized: vec![2],
            reread: vec![3],
            reread_task: false,
        }
    );
    // The first task, and a second one with line 2 only: line 3 was not billed again.
    assert_eq!(fake.billable_submits(), 2);
    let Some(FakeCall::Synthesize(again)) = fake.calls().last().cloned() else {
        panic!("{:?}", fake.calls());
    };
    let texts: Vec<&str> = again.lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["Two."]);

    // No line readable: the wait's error says so (as the client's), and nothing is resent.
    fake.script_speech(
        Script::succeeds()
            .with_unreadable_line(0)
            .with_unreadable_line(1),
    );
    let got = deliver(&fake, &["One.", "Two."]).await;
    assert!(got.reread_task, "{got:?}");
    assert_eq!(fake.billable_submits(), 3);

    // The scripts that once were refused as "the client drops it" now point here.
    fake.script_speech(Script::succeeds().with_failed_line(0, " "));
    let err = fake
        .synthesize(&SpeechRequest::new("cv_1", "One."))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("with_unreadable_line"), "{err}");
}

/// Review 30-f #3: a fake VMEG answer may list fewer results than lines, as VMEG may; read
/// by id `lines_sent` is unknown (the caller compares), and a synchronous answer carries it
/// as the client's does, so `is_complete` is false.
#[tokio::test(flavor = "current_thread")]
async fn a_fake_answer_may_list_fewer_results_than_lines_and_a_sync_answer_knows_lines_sent() {
    let fake = FakeClient::new(Provider::Vmeg);
    let req = SpeechRequest::new("cv_1", "One.")
        .add_line("cv_1", "Two.")
        .add_line("cv_1", "Three.");
    fake.script_speech(Script::succeeds().without_result_for_line(1));
    let job = fake.synthesize(&req).await.unwrap();
    let policy = WaitPolicy::for_provider(Provider::Vmeg);
    let speech = fake.wait_for_speech(&job.id, &policy).await.unwrap();
    // Every listed line has audio and the count is unknown by id: "complete" says only that.
    assert_eq!((speech.segments.len(), speech.lines_sent), (2, None));
    assert!(speech.is_complete());
    assert_ne!(
        speech.segments.len(),
        req.lines.len(),
        "the caller's own check"
    );
    // Line 3's audio is the second result: pairing by index would give it to line 2.
    assert!(
        speech.segments[1]
            .url
            .as_ref()
            .unwrap()
            .as_str()
            .ends_with("-3.wav")
    );

    // A synchronous answer: the lines sent are known, and the short list is not complete.
    let sync = req.clone().synchronous(true);
    fake.script_speech(Script::succeeds().without_result_for_line(0));
    let job = fake.synthesize(&sync).await.unwrap();
    let speech = job.speech.unwrap();
    assert_eq!((speech.segments.len(), speech.lines_sent), (2, Some(3)));
    assert!(!speech.is_complete());
    // And with every line listed, as the client's: `Some(3)` and complete.
    fake.script_speech(Script::succeeds());
    let speech = fake.synthesize(&sync).await.unwrap().speech.unwrap();
    assert_eq!(speech.lines_sent, Some(3));
    assert!(speech.is_complete());
}

/// A user's job queue that resends a stored request under its key and reads `Conflict` as
/// "already done".
async fn resend(api: &dyn VoiceCloning, req: &CloneRequest) -> &'static str {
    match api.clone_voice(req).await {
        Ok(_) => "made",
        Err(e) if e.kind() == &ErrorKind::Conflict => "already done",
        Err(e) => e.kind().as_str(),
    }
}

/// Review 30-f #4: VMEG's key lasts 24 h, and a refusal may use it up (UNKNOWN); both are
/// scriptable, so a test shows the queue billing twice after a day and losing a job after a
/// refusal that took its key.
#[tokio::test(flavor = "current_thread")]
async fn a_key_reused_after_a_day_or_after_a_refusal_that_used_it_is_scripted() {
    let fake = FakeClient::new(Provider::Vmeg);
    let req = CloneRequest::new("https://cdn.example.com/a.wav").idempotency_key("job-1");
    assert_eq!(resend(&fake, &req).await, "made");
    assert_eq!(resend(&fake, &req).await, "already done");
    assert_eq!(fake.billable_submits(), 1);
    // A day later, VMEG takes the key as new work: billed twice.
    fake.expire_idempotency_keys().unwrap();
    assert_eq!(resend(&fake, &req).await, "made");
    assert_eq!(fake.billable_submits(), 2);

    // A refusal that used up its key: the resend is "already done", and nothing exists.
    let req = CloneRequest::new("https://cdn.example.com/b.wav").idempotency_key("job-2");
    fake.script_clone(Script::rejected(ErrorKind::RateLimited).using_up_its_key());
    assert_eq!(resend(&fake, &req).await, "rate_limited");
    assert_eq!(resend(&fake, &req).await, "already done");
    assert_eq!(fake.billable_submits(), 2, "job-2 was never made");
    // Without the setter a refusal leaves the key free, as before.
    let req = CloneRequest::new("https://cdn.example.com/c.wav").idempotency_key("job-3");
    fake.script_clone(Script::rejected(ErrorKind::RateLimited));
    assert_eq!(resend(&fake, &req).await, "rate_limited");
    assert_eq!(resend(&fake, &req).await, "made");
}

/// Review 30-f #5: a succeeded VMEG clone whose task answer names no voice, as VMEG's may:
/// a service polling `clone_status` itself must not read it as a failure and clone again.
#[tokio::test(flavor = "current_thread")]
async fn a_succeeded_clone_status_without_its_voice_is_scripted_and_the_wait_finds_it() {
    let fake = FakeClient::new(Provider::Vmeg);
    fake.script_clone(Script::succeeds().without_voice_in_status());
    let job = fake
        .clone_voice(&CloneRequest::new("https://cdn.example.com/a.wav").name("narrator"))
        .await
        .unwrap();
    let mut read = fake.clone_status(&job.id).await.unwrap();
    while read.status != TaskStatus::Succeeded {
        read = fake.clone_status(&job.id).await.unwrap();
    }
    assert_eq!(read.voice, None);
    let policy = WaitPolicy::for_provider(Provider::Vmeg);
    let voice = fake.wait_for_clone(&job.id, &policy).await.unwrap();
    assert!(
        fake.list_voices()
            .await
            .unwrap()
            .iter()
            .any(|v| v.id == voice.id)
    );
    assert_eq!(fake.billable_submits(), 1);
    // Only a VMEG clone's answer may lack its voice: a JimmyAI script saying so is refused.
    let jimmy = FakeClient::new(Provider::JimmyAi);
    jimmy.script_clone(Script::succeeds().without_voice_in_status());
    let err = jimmy
        .clone_voice(&CloneRequest::new("https://cdn.example.com/a.wav"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("without_voice_in_status"), "{err}");
}

/// Review 30 pass 3 #5: a line setter or `using_up_its_key` that would be ignored (an index
/// past the request's lines, one line given to two setters, a VMEG-only setter on JimmyAI or
/// on a clone, a key used up by an accepted or lost submit) is refused where the script is
/// used, naming the setter, with nothing created: a test built on it would pass without
/// exercising anything. Before: each was silently ignored. `expire_idempotency_keys` on
/// JimmyAI (which documents no key) is `Unsupported`. Review 34-b #5: so are a speech
/// result's setters on a clone (`without_audio`, `with_audio_urls`), a clone's on speech
/// (`with_voice_id`, `with_preview_url`) and JimmyAI's preview on a VMEG clone.
#[tokio::test(flavor = "current_thread")]
async fn a_line_or_key_setter_that_would_be_ignored_is_refused_when_used() {
    let url = |s: &str| url::Url::parse(s).unwrap();
    let three = SpeechRequest::new("cv_1", "One.")
        .add_line("cv_1", "Two.")
        .add_line("cv_1", "Three.");
    let speech_cases = [
        (
            Provider::Vmeg,
            Script::succeeds().with_unreadable_line(3),
            "Script::with_unreadable_line(3)",
        ),
        (
            Provider::Vmeg,
            Script::succeeds().without_result_for_line(5),
            "Script::without_result_for_line(5)",
        ),
        (
            Provider::Vmeg,
            Script::succeeds().with_failed_line(3, "bad"),
            "Script::with_failed_line(3)",
        ),
        (
            Provider::Vmeg,
            Script::succeeds()
                .with_failed_line(1, "bad")
                .with_unreadable_line(1),
            "Script::with_failed_line(1) and Script::with_unreadable_line(1)",
        ),
        (
            Provider::Vmeg,
            Script::succeeds()
                .with_unreadable_line(0)
                .without_result_for_line(0),
            "Script::with_unreadable_line(0) and Script::without_result_for_line(0)",
        ),
        (
            Provider::JimmyAi,
            Script::succeeds().with_unreadable_line(0),
            "Script::with_unreadable_line(0)",
        ),
        (
            Provider::JimmyAi,
            Script::succeeds().without_result_for_line(0),
            "Script::without_result_for_line(0)",
        ),
        (
            Provider::JimmyAi,
            Script::succeeds().with_failed_line(0, "bad"),
            "Script::with_failed_line(0)",
        ),
        (
            Provider::Vmeg,
            Script::succeeds().using_up_its_key(),
            "Script::using_up_its_key()",
        ),
        (
            Provider::Vmeg,
            Script::succeeds().outcome_unknown().using_up_its_key(),
            "Script::using_up_its_key()",
        ),
        (
            Provider::JimmyAi,
            Script::rejected(ErrorKind::RateLimited).using_up_its_key(),
            "Script::using_up_its_key()",
        ),
        // A clone's setters on speech (review 34-b #5).
        (
            Provider::Vmeg,
            Script::succeeds().with_voice_id("v-1"),
            "Script::with_voice_id(",
        ),
        (
            Provider::JimmyAi,
            Script::succeeds().with_preview_url(url("https://cdn.example.com/p.mp3")),
            "Script::with_preview_url(",
        ),
    ];
    for (provider, script, names) in speech_cases {
        let fake = FakeClient::new(provider);
        fake.script_speech(script);
        let voice = if provider == Provider::Vmeg {
            "cv_1"
        } else {
            "m-1"
        };
        let req = if provider == Provider::Vmeg {
            three.clone()
        } else {
            SpeechRequest::new(voice, "One.")
        };
        let err = fake.synthesize(&req).await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::InvalidInput { field, .. } if field == "script"),
            "{provider} {names}: {err}"
        );
        assert!(err.to_string().contains(names), "{provider} {names}: {err}");
        assert_eq!(fake.billable_submits(), 0, "{provider} {names}");
    }
    // On a clone, which has no lines, and no audio of its own but JimmyAI's preview.
    for script in [
        Script::succeeds().with_unreadable_line(0),
        Script::succeeds().without_result_for_line(0),
    ] {
        let fake = FakeClient::new(Provider::Vmeg);
        fake.script_clone(script);
        clone_refused_for_its_script(&fake).await;
    }
    // Review 34-b #5: a speech setter on a clone, a JimmyAI preview on VMEG.
    for provider in [Provider::Vmeg, Provider::JimmyAi] {
        for (script, names) in [
            (
                Script::succeeds().without_audio(),
                "Script::without_audio()",
            ),
            (
                Script::succeeds().with_audio_urls([url("https://cdn.example.com/1.wav")]),
                "Script::with_audio_urls(",
            ),
        ] {
            let fake = FakeClient::new(provider);
            fake.script_clone(script);
            let err = clone_refused_for_its_script(&fake).await;
            assert!(err.to_string().contains(names), "{provider} {names}: {err}");
            assert_eq!(fake.billable_submits(), 0, "{provider} {names}");
        }
    }
    let fake = FakeClient::new(Provider::Vmeg);
    fake.script_clone(Script::succeeds().with_preview_url(url("https://cdn.example.com/p.mp3")));
    let err = clone_refused_for_its_script(&fake).await;
    assert!(
        err.to_string().contains("Script::with_preview_url("),
        "{err}"
    );
    // What is meant still works: the last line, and a refusal using up its key.
    let fake = FakeClient::new(Provider::Vmeg);
    fake.script_speech(
        Script::succeeds()
            .with_unreadable_line(2)
            .with_failed_line(1, "bad"),
    );
    fake.synthesize(&three).await.unwrap();
    fake.script_speech(Script::rejected_with_status(503, None).using_up_its_key());
    assert!(fake.synthesize(&three).await.is_err());
    fake.expire_idempotency_keys().unwrap();

    let err = FakeClient::new(Provider::JimmyAi)
        .expire_idempotency_keys()
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Unsupported { .. }), "{err}");
}

/// Review 34-b #1: the fake's clock is its own, and Tokio's does not move during a fake
/// wait, so a `tokio::time::timeout` around it never fires (the wait reaches its
/// `WaitPolicy` deadline first, at Tokio's time zero). Given Tokio's sleeper
/// (`FakeClient::with_sleeper`), a test under `start_paused` runs the wait's sleeps and
/// per-poll time on Tokio's auto-advancing clock, and the 30 s timeout fires first, as it
/// would around the client's wait.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_tokio_timeout_around_a_fake_wait_fires_first_on_tokios_sleeper() {
    let policy = WaitPolicy::for_provider(Provider::Vmeg);
    let req = CloneRequest::new("https://cdn.example.com/a.wav");
    let running = || Script::new().then_status(TaskStatus::Running);

    // The fake's own clock: the 10-minute deadline passes while Tokio's clock stands still.
    let fake = FakeClient::new(Provider::Vmeg);
    fake.script_clone(running());
    let job = fake.clone_voice(&req).await.unwrap();
    let start = tokio::time::Instant::now();
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        fake.wait_for_clone(&job.id, &policy),
    )
    .await;
    let err = out
        .expect("the fake's wait ends before Tokio's timer")
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::WaitTimedOut { .. }),
        "{err}"
    );
    assert_eq!(start.elapsed(), Duration::ZERO);

    // On Tokio's clock: the timeout fires first, the wait polling until then.
    let fake = FakeClient::new(Provider::Vmeg).with_sleeper(Arc::new(voiceclone::TokioSleeper));
    fake.script_clone(running());
    let job = fake.clone_voice(&req).await.unwrap();
    let start = tokio::time::Instant::now();
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        fake.wait_for_clone(&job.id, &policy),
    )
    .await;
    assert!(out.is_err(), "the wait ended first: {out:?}");
    assert!(start.elapsed() >= Duration::from_secs(30));
    let polls = fake.calls().len() - 1;
    assert!(polls > 1, "{polls} polls in 30 s");
    assert!(fake.slept() > Duration::ZERO, "{:?}", fake.slept());

    // A task that sleeps 5 s on Tokio's clock reads the job while the wait goes on.
    let fake =
        Arc::new(FakeClient::new(Provider::Vmeg).with_sleeper(Arc::new(voiceclone::TokioSleeper)));
    fake.script_clone(running());
    let job = fake.clone_voice(&req).await.unwrap();
    let waiter = tokio::spawn({
        let (fake, id, policy) = (fake.clone(), job.id.clone(), policy.clone());
        async move { fake.wait_for_clone(&id, &policy).await }
    });
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        fake.clone_status(&job.id).await.unwrap().status,
        TaskStatus::Running
    );
    assert!(!waiter.is_finished());
    waiter.abort();
}
