//! `demo`: clone -> wait -> speak -> wait for both providers against an in-process simulator.
//! No key, no network: the simulator listens on a loopback port and accepts its own test key.

use std::time::Duration;

use serde_json::{Map, Value, json};
use voiceclone::{Client, CloneRequest, Provider, SpeechRequest, WaitPolicy};
use voiceclone_sim::{SimConfig, Simulator};

use crate::cli::DemoArgs;
use crate::context::Target;
use crate::output::{Failure, Outcome, Printer, voice_json};

const SAMPLE_URL: &str = "https://example.com/voiceclone-demo/sample.wav";
const LINE: &str = "Hello from the voiceclone demo.";

/// Runs `demo`.
pub async fn run(args: &DemoArgs, printer: &Printer) -> Outcome {
    if let Err(f) = super::sim::check_speed(args.speed) {
        return Outcome::failed(f);
    }
    let sim = match Simulator::start_with(SimConfig::default().with_speed(args.speed)).await {
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
    let stats = sim.stats();
    o.set("providers", results);
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
