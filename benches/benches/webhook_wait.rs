//! Completion by webhook at scale: 1,000 VMEG clones submitted at once and waited on, the
//! simulator delivering signed webhooks to an axum receiver in this process, measured three
//! ways side by side: polling alone (no hub), an in-process hub, and a hub on Redis (when
//! `VOICECLONE_REDIS_URL` is set; skipped with a notice otherwise).
//!
//! Reported per mode: requests per job (the create plus every status poll; target <= 1.1
//! with a hub) and the delay from a delivery's arrival at the receiver to the return of the
//! wait it completes (median and p99; targets < 10 ms in-process, < 50 ms through Redis on
//! loopback). For polling alone the same delay says how much later than the webhook the
//! polls learned the result (negative: a poll saw it first).
//!
//! Time is compressed as in `wait_scale`: the simulator runs `BENCH_SPEED` times faster and
//! the client's sleeper divides every wait by the same factor, so each policy is unchanged.
//!
//! `cargo bench -p voiceclone-benches --bench webhook_wait`
//! Environment: BENCH_JOBS (1000), BENCH_SPEED (20), BENCH_TASK_SECS (20), BENCH_REPS (3),
//! VOICECLONE_REDIS_URL (the Redis mode).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use voiceclone::sleep::BoxFuture;
use voiceclone::webhook::{CompletionHub, WebhookPayload};
use voiceclone::{Client, CloneRequest, Provider, VmegEngine, WaitPolicy, WebhookSecret};
use voiceclone_benches::variants::env_or;
use voiceclone_sim::{SimConfig, Simulator, WebhookTarget};

const SECRET: &str = "bench-webhook-secret";

/// Sleeps `duration / factor` for real.
#[derive(Debug)]
struct ScaledSleeper(f64);

impl voiceclone::Sleeper for ScaledSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration.div_f64(self.0)))
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Polling,
    Memory,
    Redis,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Polling => "polling alone",
            Mode::Memory => "hub, in-process",
            Mode::Redis => "hub, Redis on loopback",
        }
    }
}

struct Run {
    succeeded: usize,
    requests: u64,
    polls: u64,
    delays_ms: Vec<f64>,
    wall: Duration,
}

/// A hub for `mode`, or `None` for polling alone.
async fn hub_for(mode: Mode) -> Option<CompletionHub> {
    let secret = WebhookSecret::new(SECRET);
    match mode {
        Mode::Polling => None,
        Mode::Memory => Some(CompletionHub::in_memory(secret)),
        Mode::Redis => redis_hub(secret).await,
    }
}

/// A hub on the Redis named by `VOICECLONE_REDIS_URL`, under a prefix of its own.
async fn redis_hub(secret: WebhookSecret) -> Option<CompletionHub> {
    let url = std::env::var("VOICECLONE_REDIS_URL").ok()?;
    let store = voiceclone::webhook::RedisStore::connect(&url)
        .await
        .unwrap()
        .prefix(format!("bench-{}", uuid::Uuid::new_v4()));
    Some(CompletionHub::with_store(
        voiceclone::webhook::Verifier::new(secret),
        Arc::new(store),
    ))
}

fn run(mode: Mode, jobs: usize, speed: f64, task: Duration) -> Option<Run> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // The simulator on its own runtime thread, so its work is not queued behind the client's.
    let sim_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sim_on = sim_rt.handle().clone();
    let run = rt.block_on(async move {
        let hub = hub_for(mode).await;
        if mode != Mode::Polling && hub.is_none() {
            return None;
        }
        // The receiver: verification and recording through the hub (a hub-less one for
        // polling alone, so the simulator's deliveries are timed the same way).
        let receiving = hub
            .clone()
            .unwrap_or_else(|| CompletionHub::in_memory(WebhookSecret::new(SECRET)));
        let arrivals: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
        let seen = arrivals.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (hub, seen) = (receiving.clone(), seen.clone());
                async move {
                    let arrived = Instant::now();
                    let h = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned()
                    };
                    let d = hub
                        .receive(&h("X-Timestamp"), &h("X-Signature"), &body)
                        .await;
                    if let Some(WebhookPayload::Clone(job)) = d.event().map(|e| &e.payload) {
                        seen.lock()
                            .unwrap()
                            .entry(job.id.as_str().to_owned())
                            .or_insert(arrived);
                    }
                    StatusCode::from_u16(d.http_status()).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hook = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let sim = sim_on
            .spawn(Simulator::start_with(SimConfig {
                speed,
                clone_duration: task,
                max_connections: 4096,
                webhook: Some(WebhookTarget {
                    url: hook,
                    secret: SECRET.into(),
                }),
                ..SimConfig::default()
            }))
            .await
            .unwrap()
            .unwrap();
        let mut builder = Client::builder(Provider::Vmeg)
            .api_key(sim.api_key())
            .base_url(sim.base_url())
            .sleeper(Arc::new(ScaledSleeper(speed)));
        if let Some(hub) = &hub {
            builder = builder.completion_hub(hub.clone());
        }
        let client = builder.build().unwrap();
        let policy = WaitPolicy::for_provider(Provider::Vmeg);
        let started = Instant::now();
        let handles: Vec<_> = (0..jobs)
            .map(|i| {
                let (client, policy) = (client.clone(), policy.clone());
                tokio::spawn(async move {
                    let req = CloneRequest::new("https://cdn.example.com/sample.wav")
                        .name(format!("webhook voice {i}"))
                        .language("en-US")
                        .vmeg_engine(VmegEngine::V1);
                    let job = client.clone_voice(&req).await?;
                    client.wait_for_clone(&job.id, &policy).await?;
                    Ok::<_, voiceclone::Error>((job.id.as_str().to_owned(), Instant::now()))
                })
            })
            .collect();
        let mut returns = Vec::with_capacity(jobs);
        for h in handles {
            match h.await.unwrap() {
                Ok(r) => returns.push(r),
                Err(e) => eprintln!("job failed: {e}"),
            }
        }
        let wall = started.elapsed();
        let stats = sim.stats();
        let arrivals = arrivals.lock().unwrap();
        let delays_ms = returns
            .iter()
            .filter_map(|(id, back)| {
                let arrived = *arrivals.get(id)?;
                Some(if *back >= arrived {
                    back.duration_since(arrived).as_secs_f64() * 1e3
                } else {
                    -(arrived.duration_since(*back).as_secs_f64() * 1e3)
                })
            })
            .collect();
        Some(Run {
            succeeded: returns.len(),
            requests: stats.requests_total,
            polls: stats.requests("vmeg.tasksDetail"),
            delays_ms,
            wall,
        })
    });
    drop(rt);
    drop(sim_rt);
    run
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn main() {
    let jobs: usize = env_or("BENCH_JOBS", 1_000);
    let speed: f64 = env_or("BENCH_SPEED", 20.0);
    let task = Duration::from_secs_f64(env_or("BENCH_TASK_SECS", 20.0));
    let reps: usize = env_or("BENCH_REPS", 3);
    println!(
        "{jobs} VMEG clones at once, simulator speed x{speed}, clone task {:.0} s simulated ({:.2} s real), webhooks on",
        task.as_secs_f64(),
        task.as_secs_f64() / speed
    );
    println!(
        "| mode | rep | wall s | succeeded | requests/job | polls | delivery -> return median ms | p99 ms |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut missed = Vec::new();
    for mode in [Mode::Polling, Mode::Memory, Mode::Redis] {
        for rep in 1..=reps {
            let Some(r) = run(mode, jobs, speed, task) else {
                println!(
                    "| {} | - | skipped: set VOICECLONE_REDIS_URL to a Redis on loopback | | | | | |",
                    mode.name()
                );
                break;
            };
            let mut d = r.delays_ms.clone();
            d.sort_by(f64::total_cmp);
            let (median, p99) = (percentile(&d, 0.5), percentile(&d, 0.99));
            let per_job = r.requests as f64 / jobs as f64;
            println!(
                "| {} | {rep} | {:.2} | {}/{jobs} | {per_job:.3} | {} | {median:.2} | {p99:.2} |",
                mode.name(),
                r.wall.as_secs_f64(),
                r.succeeded,
                r.polls,
            );
            if r.succeeded != jobs {
                missed.push(format!(
                    "{}: {} of {jobs} succeeded",
                    mode.name(),
                    r.succeeded
                ));
            }
            let (limit_ms, name) = match mode {
                Mode::Polling => continue,
                Mode::Memory => (10.0, "in-process"),
                Mode::Redis => (50.0, "Redis"),
            };
            if per_job > 1.1 {
                missed.push(format!("{name}: {per_job:.3} requests per job > 1.1"));
            }
            if !(median < limit_ms && p99 < limit_ms) {
                missed.push(format!(
                    "{name}: delivery -> return median {median:.2} ms / p99 {p99:.2} ms, target < {limit_ms} ms"
                ));
            }
        }
    }
    for m in &missed {
        println!("TARGET MISSED: {m}");
    }
}
