//! Per-call latency, interleaved call by call: (a) hand-written reqwest, (b) the generated
//! client, (c) the voiceclone adapter, for "create clone" and "query task" on each provider.
//! Every variant shares one reqwest connection pool and one fixed-body loopback server.
//!
//! `cargo bench -p voiceclone-benches --bench latency`
//! Environment: BENCH_CALLS (per variant and repetition, default 20000), BENCH_REPS (3).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};
use voiceclone_benches::raw::Raw;
use voiceclone_benches::server::FixedServer;
use voiceclone_benches::{KEY, stats};

#[derive(Debug, Clone, Copy)]
enum Op {
    VmegCreate,
    VmegQuery,
    JimmyCreate,
    JimmyQuery,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::VmegCreate => "vmeg create clone",
            Op::VmegQuery => "vmeg query task",
            Op::JimmyCreate => "jimmyai create clone",
            Op::JimmyQuery => "jimmyai query task",
        }
    }
}

struct Clients {
    raw: Raw,
    vmeg: vmeg_client::Client,
    jimmy: jimmyai_client::Client,
    adapter_vmeg: voiceclone::Client,
    adapter_jimmy: voiceclone::Client,
}

const VARIANTS: usize = 3;

async fn call(c: &Clients, op: Op, variant: usize) {
    use jimmyai_client::types as jt;
    use vmeg_client::types as vt;
    match (op, variant) {
        (Op::VmegCreate, 0) => {
            c.raw.vmeg_clone().await.unwrap();
        }
        (Op::VmegCreate, 1) => {
            let key = uuid::Uuid::new_v4().to_string();
            let mut extra = serde_json::Map::new();
            extra.insert(
                "voiceclone".into(),
                serde_json::json!({"idempotencyKey": key}),
            );
            let body = vt::CloneVoiceCreateAsyncRequest {
                voice_name: Some("bench voice".into()),
                provider: Some(vt::CloneEngine::V1),
                ref_audio: Some("https://example.com/sample.mp3".into()),
                sample_language: Some("en-US".into()),
                sample_text: None,
                extra_data: Some(vt::ExtraData(extra)),
            };
            let key = vt::CloneVoiceCreateAsyncXIdempotencyKey::try_from(key).unwrap();
            let env = c
                .vmeg
                .clone_voice_create_async(None, &key, &body)
                .await
                .unwrap()
                .into_inner();
            assert_eq!(env.code.0, 200);
        }
        (Op::VmegCreate, _) => {
            let req = voiceclone::CloneRequest::new("https://example.com/sample.mp3")
                .name("bench voice")
                .language("en-US")
                .vmeg_engine(voiceclone::VmegEngine::V1);
            c.adapter_vmeg.clone_voice(&req).await.unwrap();
        }
        (Op::VmegQuery, 0) => {
            c.raw.vmeg_detail("task-1").await.unwrap();
        }
        (Op::VmegQuery, 1) => {
            let env = c
                .vmeg
                .tasks_detail(None, "task-1")
                .await
                .unwrap()
                .into_inner();
            assert_eq!(env.code.0, 200);
        }
        (Op::VmegQuery, _) => {
            c.adapter_vmeg
                .clone_status(&voiceclone::JobId::new("task-1"))
                .await
                .unwrap();
        }
        (Op::JimmyCreate, 0) => {
            c.raw.jimmy_clone().await.unwrap();
        }
        (Op::JimmyCreate, 1) => {
            let body = jt::CreateCloneRequest {
                file_url: "https://example.com/sample.mp3".into(),
                content_text: Some(
                    jt::CreateCloneRequestContentText::try_from(
                        "A short preview sentence.".to_string(),
                    )
                    .unwrap(),
                ),
                sound_version: Some(jt::SoundVersion::V1),
                language: Some(jt::Language("English".into())),
            };
            let env = c.jimmy.create_clone(&body).await.unwrap().into_inner();
            assert!(matches!(env.code, jt::Code::Int64(20000)));
        }
        (Op::JimmyCreate, _) => {
            let req = voiceclone::CloneRequest::new("https://example.com/sample.mp3")
                .sample_text("A short preview sentence.")
                .language("English")
                .sound_version(voiceclone::SoundVersion::V1);
            c.adapter_jimmy.clone_voice(&req).await.unwrap();
        }
        (Op::JimmyQuery, 0) => {
            c.raw.jimmy_task("audio_1").await.unwrap();
        }
        (Op::JimmyQuery, 1) => {
            let env = c
                .jimmy
                .get_audio_task("audio_1")
                .await
                .unwrap()
                .into_inner();
            assert!(matches!(env.code, jt::Code::Int64(20000)));
        }
        (Op::JimmyQuery, _) => {
            c.adapter_jimmy
                .clone_status(&voiceclone::JobId::new("audio_1"))
                .await
                .unwrap();
        }
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let calls = env_usize("BENCH_CALLS", 20_000);
    let reps = env_usize("BENCH_REPS", 3);
    let server = FixedServer::start().unwrap();
    let base = server.base_url();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        vmeg_client::install_crypto_provider();
        let http = reqwest::Client::builder().build().unwrap();
        let adapter = |p| {
            voiceclone::Client::builder(p)
                .api_key(KEY)
                .base_url(base.as_str())
                .http_client(http.clone())
                .build()
                .unwrap()
        };
        let clients = Clients {
            raw: Raw::new(http.clone(), &base, KEY),
            vmeg: vmeg_client::Client::new_with_client(
                &base,
                http.clone(),
                vmeg_client::Credentials::bearer(KEY).unwrap(),
            ),
            jimmy: jimmyai_client::Client::new_with_client(
                &base,
                http.clone(),
                jimmyai_client::Credentials::bearer(KEY).unwrap(),
            ),
            adapter_vmeg: adapter(voiceclone::Provider::Vmeg),
            adapter_jimmy: adapter(voiceclone::Provider::JimmyAi),
        };
        println!("calls per variant and repetition: {calls}, repetitions: {reps}");
        println!("| operation | median (a) raw | (b)/(a) median (min-max) | (c)/(a) median (min-max) |");
        println!("| --- | --- | --- | --- |");
        for op in [Op::VmegCreate, Op::VmegQuery, Op::JimmyCreate, Op::JimmyQuery] {
            let mut b_ratios = Vec::new();
            let mut c_ratios = Vec::new();
            let mut raw_medians = Vec::new();
            for _ in 0..reps {
                for i in 0..(calls / 10).max(100) {
                    call(&clients, op, i % VARIANTS).await;
                }
                let mut samples: [Vec<Duration>; VARIANTS] =
                    std::array::from_fn(|_| Vec::with_capacity(calls));
                for i in 0..calls {
                    // Rotate the order so no variant always runs first after a pause.
                    for k in 0..VARIANTS {
                        let v = (i + k) % VARIANTS;
                        let t = Instant::now();
                        call(&clients, op, v).await;
                        samples[v].push(t.elapsed());
                    }
                }
                let [a, b, c] = samples.map(|mut s| stats::median(&mut s));
                raw_medians.push(a);
                b_ratios.push(b.as_secs_f64() / a.as_secs_f64());
                c_ratios.push(c.as_secs_f64() / a.as_secs_f64());
            }
            let raw = stats::median(&mut raw_medians);
            println!(
                "| {} | {:.1} us | {} | {} |",
                op.name(),
                raw.as_secs_f64() * 1e6,
                stats::spread(&b_ratios),
                stats::spread(&c_ratios)
            );
        }
        println!("connections opened: {}", server.connections());
    });
}
