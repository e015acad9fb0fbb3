//! `demo`: clone -> wait -> speak -> wait for both providers against an in-process simulator,
//! then a VMEG clone completed by webhook. No key, no network: the simulator listens on a
//! loopback port and accepts its own test key, and signs its VMEG webhooks for a receiver on
//! another loopback port of this process.

use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde_json::{Map, Value, json};
use voiceclone::webhook::CompletionHub;
use voiceclone::{Client, CloneRequest, Provider, SpeechRequest, WaitPolicy, WebhookSecret};
use voiceclone_sim::{SimConfig, SimHandle, Simulator};

use crate::cli::DemoArgs;
use crate::context::Target;
use crate::output::{Failure, Outcome, Printer, voice_json};
use crate::receiver::Receiver;

const SAMPLE_URL: &str = "https://example.com/voiceclone-demo/sample.wav";
const LINE: &str = "Hello from the voiceclone demo.";
const WEBHOOK_PATH: &str = "/vmeg/webhook";
/// The simulator's operations a VMEG clone wait polls with.
const STATUS_OPERATIONS: [&str; 2] = ["vmeg.tasksDetail", "vmeg.cloneVoiceList"];

/// Runs `demo`.
pub async fn run(args: &DemoArgs, printer: &Printer) -> Outcome {
    if let Err(f) = super::sim::check_speed(args.speed) {
        return Outcome::failed(f);
    }
    // The webhook receiver first: the simulator is told where to deliver when it starts.
    let secret = demo_secret();
    let hub = CompletionHub::in_memory(WebhookSecret::new(secret.as_str()));
    let receiver = match Receiver::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await {
        Ok(listener) => {
            let app = match voiceclone::webhook::axum::router(WEBHOOK_PATH, hub.clone()) {
                Ok(app) => app,
                Err(e) => return Outcome::failed(e.into()),
            };
            match Receiver::start(listener, app) {
                Ok(r) => r,
                Err(f) => return Outcome::failed(f),
            }
        }
        Err(f) => return Outcome::failed(f),
    };
    let webhook_url = format!("http://{}{WEBHOOK_PATH}", receiver.addr());
    let config = SimConfig::default()
        .with_speed(args.speed)
        .with_webhook(webhook_url.as_str(), secret);
    let sim = match Simulator::start_with(config).await {
        Ok(s) => s,
        Err(e) => {
            return Outcome::failed(Failure::io(
                "cannot start the simulator on a loopback port",
                &e,
            ));
        }
    };
    let base = sim.base_url();
    printer.human(&format!(
        "simulator of both APIs listening on {base} (in-process, no network, no real key)"
    ));
    let mut o = Outcome::default();
    o.set("simulator", base.as_str());
    let mut results = Vec::new();
    for p in Provider::ALL {
        let target = Target {
            provider: p,
            api_key: sim.api_key().to_owned(),
            base_url: Some(base.clone()),
            // Everything the demo sends stays on loopback, in this process.
            allow_private_urls: true,
        };
        let mut r = Map::new();
        r.insert("provider".into(), p.as_str().into());
        let outcome = match super::provider::build_client(&target, None) {
            Ok(client) => flow(&client, p, printer, &mut r).await,
            Err(f) => Err(f),
        };
        results.push(Value::Object(r));
        if let Err(f) = outcome {
            o.set("providers", results);
            o.failure = Some(f.with("provider", p.as_str()));
            sim.shutdown().await;
            return o;
        }
    }
    o.set("providers", results);
    let mut w = Map::new();
    let outcome = webhook_flow(&sim, hub, &webhook_url, printer, &mut w).await;
    o.set("webhook", Value::Object(w));
    receiver.stop().await;
    if let Err(f) = outcome {
        o.failure = Some(f.with("provider", "vmeg"));
        sim.shutdown().await;
        return o;
    }
    let stats = sim.stats();
    o.set("requests_served", stats.requests_total);
    o.line(format!(
        "demo finished: {} requests served by the simulator",
        stats.requests_total
    ));
    sim.shutdown().await;
    o
}

fn fast_policy(p: Provider) -> WaitPolicy {
    WaitPolicy::for_provider(p)
        .with_first_interval(Duration::from_millis(10))
        .with_max_interval(Duration::from_millis(100))
        .with_deadline(Some(Duration::from_secs(30)))
}

async fn flow(
    client: &Client,
    p: Provider,
    printer: &Printer,
    r: &mut Map<String, Value>,
) -> Result<(), Failure> {
    printer.human("");
    printer.human(&format!("== {p} =="));
    let mut req = CloneRequest::new(SAMPLE_URL).language("en-US");
    if p == Provider::Vmeg {
        req = req.name("voiceclone-demo");
    } else {
        req = req.sample_text(LINE);
    }
    printer.human(&format!("clone: submitting {SAMPLE_URL}"));
    let job = client.clone_voice(&req).await?;
    printer.human(&format!("clone: job {} is {}", job.id, job.status));
    r.insert("clone_job_id".into(), job.id.as_str().into());
    let policy = fast_policy(p);
    let voice = match job.voice.clone() {
        Some(v) if job.status.is_terminal() => v,
        _ => client.wait_for_clone(&job.id, &policy).await?,
    };
    printer.human(&format!("clone: done, voice {}", voice.id));
    if let Some(u) = &voice.preview_url {
        printer.human(&format!("clone: preview {u}"));
    }
    r.insert("voice".into(), voice_json(&voice));
    r.insert("voice_id".into(), voice.id.as_str().into());
    r.insert(
        "preview_url".into(),
        voice.preview_url.as_ref().map(|u| u.as_str()).into(),
    );

    let speech_req = SpeechRequest::new(voice.id.as_str(), LINE).language("en-US");
    printer.human(&format!("speak: {LINE:?} with voice {}", voice.id));
    let sjob = client.synthesize(&speech_req).await?;
    printer.human(&format!("speak: job {} is {}", sjob.id, sjob.status));
    r.insert("speech_job_id".into(), sjob.id.as_str().into());
    let speech = match sjob.speech.clone() {
        Some(s) if sjob.status.is_terminal() => s,
        _ => client.wait_for_speech(&sjob.id, &policy).await?,
    };
    for u in &speech.audio_urls {
        printer.human(&format!("speak: done, audio {u}"));
    }
    let urls: Vec<&str> = speech.audio_urls.iter().map(|u| u.as_str()).collect();
    r.insert("audio_url".into(), urls.first().copied().into());
    r.insert("audio_urls".into(), json!(urls));
    Ok(())
}

/// A VMEG clone whose wait ends on the simulator's webhook, and how many status polls it
/// took (0 unless the webhook was late: fallback polling starts 30 s into the wait).
async fn webhook_flow(
    sim: &SimHandle,
    hub: CompletionHub,
    url: &str,
    printer: &Printer,
    r: &mut Map<String, Value>,
) -> Result<(), Failure> {
    printer.human("");
    printer.human("== vmeg, completed by webhook ==");
    printer.human(&format!(
        "webhook: receiver on {url}; the simulator signs and delivers each VMEG result there"
    ));
    r.insert("provider".into(), "vmeg".into());
    r.insert("receiver".into(), url.into());
    let target = Target {
        provider: Provider::Vmeg,
        api_key: sim.api_key().to_owned(),
        base_url: Some(sim.base_url()),
        allow_private_urls: true,
    };
    let client = super::provider::build_client(&target, Some(hub.clone()))?;
    let req = CloneRequest::new(SAMPLE_URL)
        .language("en-US")
        .name("voiceclone-demo-webhook");
    printer.human(&format!("clone: submitting {SAMPLE_URL}"));
    let job = client.clone_voice(&req).await?;
    printer.human(&format!("clone: job {} is {}", job.id, job.status));
    r.insert("clone_job_id".into(), job.id.as_str().into());
    // Polling stays on its default fallback schedule: the webhook is what ends the wait.
    let policy = fast_policy(Provider::Vmeg);
    let polls_before = status_polls(sim);
    let voice = client.wait_for_clone(&job.id, &policy).await?;
    let polls = status_polls(sim).saturating_sub(polls_before);
    let by_webhook = matches!(hub.completion(&job.id).await, Ok(Some(_)));
    let by = if by_webhook { "webhook" } else { "polling" };
    printer.human(&format!("clone: done by {by}, voice {}", voice.id));
    printer.human(&format!(
        "clone: {polls} status polls during the wait (fallback polling every {} s)",
        policy.webhook_poll_interval.as_secs()
    ));
    r.insert("voice_id".into(), voice.id.as_str().into());
    r.insert("completed_by".into(), by.into());
    r.insert("status_polls".into(), polls.into());
    r.insert(
        "webhook_poll_interval_secs".into(),
        policy.webhook_poll_interval.as_secs().into(),
    );
    Ok(())
}

fn status_polls(sim: &SimHandle) -> u64 {
    let stats = sim.stats();
    STATUS_OPERATIONS.iter().map(|op| stats.requests(op)).sum()
}

/// A webhook secret for this run only (the receiver is on loopback, but other local users
/// still must not be able to forge a delivery): 128 bits from std's randomly keyed hasher.
fn demo_secret() -> String {
    let half = || {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    format!("demo-{:016x}{:016x}", half(), half())
}
