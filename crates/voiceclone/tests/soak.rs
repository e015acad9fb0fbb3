//! Fault soak: complete clone-then-speak flows per provider against the simulator with 20%
//! injected faults (`all=0.2`: 429 with Retry-After, 500, 502, 503, business errors inside
//! HTTP 200, connections dropped before and after processing, latency, unknown task
//! statuses, unknown extra fields; 2% each).
//!
//! Asserts: no flow is lost (each ends in success or a typed error whose kind says what to
//! do; `OutcomeUnknown` carries what is needed to reconcile), no logical call created two
//! billable tasks (the simulator groups creates by logical call: VMEG by `extraData`, which
//! holds the call's idempotency key; JimmyAI by `fileUrl` + `contentText`, unique per flow
//! here), no panic.
//!
//! Small by default (50 flows per provider, part of `cargo test`). The full run:
//!
//! ```text
//! VOICECLONE_SOAK_FLOWS=1000 cargo test -p voiceclone --release --test soak -- --nocapture
//! ```
//!
//! Time runs 1000x faster than the policies say: the simulator at speed 1000 and a sleeper
//! that divides every retry and poll wait by 1000, so the default `RetryPolicy` and
//! `WaitPolicy` are used unchanged. Other knobs: `VOICECLONE_SOAK_SEED` (default 7),
//! `VOICECLONE_SOAK_FAULTS` (default `all=0.2`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use voiceclone::sleep::BoxFuture;
use voiceclone::{
    Client, CloneRequest, ErrorKind, Provider, SoundVersion, SpeechRequest, VmegEngine, WaitPolicy,
};
use voiceclone_sim::{FaultConfig, SimConfig, Simulator};

const SPEED: f64 = 1000.0;

/// Sleeps `duration / factor` for real: the policies' schedules, compressed.
#[derive(Debug)]
struct ScaledSleeper(f64);

impl voiceclone::Sleeper for ScaledSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration.div_f64(self.0)))
    }
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How one flow ended.
#[derive(Debug)]
enum End {
    Succeeded,
    /// The step that failed, the error, and what the flow sent.
    Failed(&'static str, voiceclone::Error, Sent),
}

/// What a flow sent, to check an `OutcomeUnknown` against: when the flow started (no submit
/// time can be earlier) and the speech create's voice id (JimmyAI's `modelId`).
#[derive(Debug)]
struct Sent {
    started: SystemTime,
    voice: Option<String>,
}

/// Free text as a request summary gives it: its length and the first 8 hex digits of its
/// SHA-256, never the text.
fn fingerprint(text: &str) -> String {
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(text.as_bytes()));
    format!("<{} chars, sha256:{}>", text.chars().count(), &hash[..8])
}

fn clone_url(i: usize) -> String {
    format!("https://cdn.example.com/soak-{i}.wav")
}

fn speech_text(i: usize) -> String {
    format!("Soak flow {i} says hello.")
}

fn kind_name(kind: &ErrorKind) -> String {
    let debug = format!("{kind:?}");
    debug
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_string()
}

async fn flow(client: Client, provider: Provider, i: usize) -> End {
    let mut sent = Sent {
        started: SystemTime::now(),
        voice: None,
    };
    let wait = WaitPolicy::for_provider(provider);
    let clone = match provider {
        // VMEG: keys of our own, so that each task names its flow (`Stats::creates`).
        Provider::Vmeg => CloneRequest::new("https://cdn.example.com/soak.wav")
            .name(format!("soak voice {i}"))
            .language("en-US")
            .vmeg_engine(VmegEngine::V1)
            .idempotency_key(format!("soak-clone-{i}")),
        _ => CloneRequest::new(clone_url(i))
            .sample_text(format!("Soak flow {i} preview sentence."))
            .language("English")
            .sound_version(SoundVersion::V1),
    };
    let job = match client.clone_voice(&clone).await {
        Ok(j) => j,
        Err(e) => return End::Failed("clone_voice", e, sent),
    };
    let voice = match client.wait_for_clone(&job.id, &wait).await {
        Ok(v) => v,
        Err(e) => return End::Failed("wait_for_clone", e, sent),
    };
    sent.voice = Some(voice.id.as_str().to_owned());
    let mut speech = SpeechRequest::new(voice.id.clone(), speech_text(i));
    if provider == Provider::Vmeg {
        speech = speech.idempotency_key(format!("soak-tts-{i}"));
    }
    let job = match client.synthesize(&speech).await {
        Ok(j) => j,
        Err(e) => return End::Failed("synthesize", e, sent),
    };
    match client.wait_for_speech(&job.id, &wait).await {
        Ok(s) if !s.audio_urls.is_empty() => End::Succeeded,
        Ok(s) => panic!("flow {i}: speech without audio: {s:?}"),
        Err(e) => End::Failed("wait_for_speech", e, sent),
    }
}

/// Checks that an error tells the caller what to do, and returns its kind name.
fn check_error(
    provider: Provider,
    i: usize,
    step: &str,
    e: &voiceclone::Error,
    sent: &Sent,
) -> String {
    let text = e.to_string();
    assert!(!text.contains("sim-key"), "the API key leaked: {text}");
    assert_eq!(e.provider(), Some(provider), "{text}");
    assert!(e.operation().is_some(), "no operation on {text}");
    match e.kind() {
        ErrorKind::OutcomeUnknown {
            idempotency_key,
            submitted_at,
            request,
            ..
        } => {
            // Only writes can have an unknown outcome.
            assert!(
                matches!(step, "clone_voice" | "synthesize"),
                "flow {i}: OutcomeUnknown on {step}: {text}"
            );
            assert!(
                *submitted_at >= sent.started && *submitted_at <= SystemTime::now(),
                "flow {i}: submit time {submitted_at:?} not between the flow's start {:?} and now",
                sent.started
            );
            match provider {
                // VMEG: the key finds the task (tasks/list, or the webhook's extraData).
                Provider::Vmeg => assert!(
                    idempotency_key.as_deref().is_some_and(|k| !k.is_empty()),
                    "flow {i}: VMEG OutcomeUnknown without its idempotency key: {text}"
                ),
                // JimmyAI: no key; the request's identifying fields must be there to
                // reconcile by hand (the clone's sample URL; the speech's voice and its
                // text), and the caller's free text only as length and hash.
                _ => {
                    assert!(
                        idempotency_key.is_none()
                            && request.route.contains("/soundCloning/")
                            && !text.contains("Soak flow"),
                        "flow {i}: JimmyAI OutcomeUnknown without the request's fields: {text}"
                    );
                    if step == "clone_voice" {
                        assert_eq!(
                            request.field("fileUrl"),
                            Some(clone_url(i).as_str()),
                            "flow {i}: {text}"
                        );
                    } else {
                        assert_eq!(
                            request.field("modelId"),
                            sent.voice.as_deref(),
                            "flow {i}: {text}"
                        );
                        assert_eq!(
                            request.field("contentText"),
                            Some(fingerprint(&speech_text(i)).as_str()),
                            "flow {i}: {text}"
                        );
                    }
                }
            }
            assert!(text.contains("do not resend"), "{text}");
        }
        // A create's server fault is a plain `Server` only when its status alone says nothing
        // was done (none the soak injects): any other, a 503 too, may have come after the
        // task was made (review 34-d #2).
        ErrorKind::Server if matches!(step, "clone_voice" | "synthesize") => assert!(
            matches!(
                e.http_status(),
                Some(501 | 505 | 511 | 521..=523 | 525 | 526)
            ),
            "flow {i}: a create's server fault that may have landed reads as `Server`: {text}"
        ),
        // Faults that outlast the retry budget: the message says to try again later.
        ErrorKind::Server | ErrorKind::RateLimited | ErrorKind::Transport | ErrorKind::Timeout => {}
        // The wait gave up (it should not at these rates): the task id is in the error.
        ErrorKind::WaitTimedOut { .. } => {}
        other => panic!("flow {i} ({step}): an injected fault produced {other:?}: {text}"),
    }
    kind_name(e.kind())
}

async fn soak(provider: Provider, flows: usize) {
    let seed: u64 = env("VOICECLONE_SOAK_SEED", 7);
    let faults: String = env("VOICECLONE_SOAK_FAULTS", SOAK_FAULTS.to_string());
    let sim = Simulator::start_with(
        SimConfig::default()
            .with_speed(SPEED)
            .with_seed(seed ^ provider as u64)
            .with_faults(FaultConfig::parse_many(faults.split(',')).unwrap()),
    )
    .await
    .unwrap();
    let client = Client::builder(provider)
        .api_key(sim.api_key())
        .base_url(sim.base_url())
        .sleeper(Arc::new(ScaledSleeper(SPEED)))
        .build()
        .unwrap();

    let started = Instant::now();
    let handles: Vec<_> = (0..flows)
        .map(|i| tokio::spawn(flow(client.clone(), provider, i)))
        .collect();
    let mut by_outcome: BTreeMap<String, usize> = BTreeMap::new();
    let mut succeeded = 0usize;
    // Flows whose create ended in a plain failure (anything but `OutcomeUnknown`): the
    // caller is told nothing was made, so no billable task may exist for them.
    let mut plainly_failed: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    // Flows that never reached a step's create (an earlier step failed).
    let mut not_reached_speech = 0usize;
    // The task an `OutcomeUnknown` named, by step and flow: it must be the flow's own.
    let mut named: BTreeMap<(&str, usize), String> = BTreeMap::new();
    for (i, h) in handles.into_iter().enumerate() {
        // A panic inside a flow surfaces here as a JoinError.
        let end = h.await.unwrap_or_else(|e| panic!("flow {i} panicked: {e}"));
        let label = match end {
            End::Succeeded => {
                succeeded += 1;
                "succeeded".to_string()
            }
            End::Failed(step, e, sent) => {
                if std::env::var_os("VOICECLONE_SOAK_VERBOSE").is_some() {
                    println!("  flow {i} {step}: {e}");
                }
                let kind = check_error(provider, i, step, &e, &sent);
                if matches!(step, "clone_voice" | "wait_for_clone") {
                    not_reached_speech += 1;
                }
                if matches!(step, "clone_voice" | "synthesize")
                    && !matches!(e.kind(), ErrorKind::OutcomeUnknown { .. })
                {
                    plainly_failed.entry(step).or_default().insert(i);
                }
                if let ErrorKind::OutcomeUnknown {
                    task_id: Some(id), ..
                } = e.kind()
                {
                    named.insert((step, i), id.as_str().to_owned());
                }
                match e.http_status() {
                    Some(status) => format!("{step}: {kind} (HTTP {status})"),
                    None => format!("{step}: {kind}"),
                }
            }
        };
        *by_outcome.entry(label).or_default() += 1;
    }
    let wall = started.elapsed();
    let named_total = named.len();

    let stats = sim.stats();
    let duplicates = stats.duplicate_logical_calls();
    let (clone_op, speech_op) = match provider {
        Provider::Vmeg => ("vmeg.cloneVoiceCreateAsync", "vmeg.ttsCreateAsync"),
        _ => ("jimmyai.createClone", "jimmyai.createAudio"),
    };
    let injected: u64 = stats
        .faults_by_kind
        .iter()
        .filter(|(k, _)| k.as_str() != "extra-fields")
        .map(|(_, v)| v)
        .sum();
    println!(
        "soak {provider}: {flows} flows in {:.2} s, seed {seed}, faults {faults}",
        wall.as_secs_f64()
    );
    println!("  outcomes: {by_outcome:?}");
    println!(
        "  requests: {} ({} by operation: {:?})",
        stats.requests_total,
        stats.requests_by_operation.len(),
        stats.requests_by_operation
    );
    println!(
        "  faults injected: {:?} (requests with a fault other than extra fields: {injected})",
        stats.faults_by_kind
    );
    println!(
        "  billable: {clone_op} {}, {speech_op} {}; duplicate logical calls: {}",
        stats.billable(clone_op),
        stats.billable(speech_op),
        duplicates.len()
    );

    assert!(
        duplicates.is_empty(),
        "logical calls billed twice: {duplicates:?}"
    );
    // No job lost: with no logical call billed twice, each billable task belongs to its own
    // flow, and only flows whose create succeeded or ended `OutcomeUnknown` may own one. A
    // create that made a task and then reported a plain failure ("try again later") would
    // push the count past that.
    let plain = |step| plainly_failed.get(step).map_or(0, BTreeSet::len);
    assert!(
        stats.billable(clone_op) as usize <= flows - plain("clone_voice"),
        "a clone task exists for a flow told its create failed: {} billable, {} flows, {} plain failures",
        stats.billable(clone_op),
        flows,
        plain("clone_voice")
    );
    assert!(
        stats.billable(speech_op) as usize <= flows - not_reached_speech - plain("synthesize"),
        "a speech task exists for a flow told its create failed: {} billable, {} flows reached it, {} plain failures",
        stats.billable(speech_op),
        flows - not_reached_speech,
        plain("synthesize")
    );
    assert!(
        stats.billable(clone_op) as usize <= flows && stats.billable(speech_op) as usize <= flows,
        "more billable creates than flows"
    );
    assert!(
        stats.billable(speech_op) as usize >= succeeded,
        "a success without a billable speech task"
    );
    // Every task names its flow (JimmyAI: `fileUrl` for a clone, `contentText` for speech;
    // VMEG: the idempotency key): no task may belong to a flow whose create was reported as
    // a plain failure.
    let flow_of = |text: Option<&str>, prefix: &str, suffix: &str| {
        text.and_then(|t| {
            t.strip_prefix(prefix)?
                .strip_suffix(suffix)?
                .parse::<usize>()
                .ok()
        })
    };
    // Every billable task has its record (none dropped by the simulator's bounds), so the
    // loop below sees them all.
    assert_eq!(
        stats.creates.len() as u64,
        stats.billable_total(),
        "records missing"
    );
    for rec in stats.creates_by_logical_call().values().flatten() {
        let (step, flow) = match rec.operation.as_str() {
            "jimmyai.createClone" => (
                "clone_voice",
                flow_of(
                    rec.file_url.as_deref(),
                    "https://cdn.example.com/soak-",
                    ".wav",
                ),
            ),
            "jimmyai.createAudio" => (
                "synthesize",
                flow_of(rec.content_text.as_deref(), "Soak flow ", " says hello."),
            ),
            "vmeg.cloneVoiceCreateAsync" => (
                "clone_voice",
                flow_of(rec.idempotency_key.as_deref(), "soak-clone-", ""),
            ),
            "vmeg.ttsCreateAsync" => (
                "synthesize",
                flow_of(rec.idempotency_key.as_deref(), "soak-tts-", ""),
            ),
            other => panic!("a billable create the soak does not make: {other}"),
        };
        let flow = flow.unwrap_or_else(|| panic!("a task of no flow: {rec:?}"));
        if let Some(id) = named.remove(&(step, flow)) {
            assert_eq!(
                id, rec.task_id,
                "flow {flow}: its {step}'s unknown outcome names another task than it made"
            );
        }
        assert!(
            !plainly_failed.get(step).is_some_and(|f| f.contains(&flow)),
            "flow {flow}: its {step} made task {} but reported a plain failure: a lost job",
            rec.task_id
        );
    }
    // A named task that no flow's create made: the id came from somewhere else.
    assert!(
        named.is_empty(),
        "unknown outcomes name tasks their flows did not make: {named:?}"
    );
    println!("  unknown outcomes naming their task: {named_total}");
    assert!(
        !stats.faults_by_kind.is_empty(),
        "no fault was injected: the soak tested nothing"
    );
    // With 2% per fault kind, most flows must still get through.
    assert!(
        succeeded * 2 >= flows,
        "only {succeeded} of {flows} flows succeeded"
    );
    sim.shutdown().await;
}

/// 2% of each fault kind; the 500s come after the request was processed (the task made and
/// billed): the case a client must not read as "nothing was made".
const SOAK_FAULTS: &str = "all=0.2,500=0.02:after";

fn flows() -> usize {
    env("VOICECLONE_SOAK_FLOWS", 50)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_vmeg_clone_then_speak_with_faults() {
    soak(Provider::Vmeg, flows()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_jimmyai_clone_then_speak_with_faults() {
    soak(Provider::JimmyAi, flows()).await;
}
