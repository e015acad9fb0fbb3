//! Waiting at scale: 10,000 clone jobs submitted and waited on concurrently through one
//! `Client` per provider, against the simulator (in a child process, so this process's
//! memory is the client's) at a high speed factor.
//!
//! Time is compressed consistently: the simulator runs `BENCH_SPEED` times faster than real
//! time, and the client's sleeper divides every wait by the same factor, so the default
//! `WaitPolicy` of each provider is used unchanged and its schedule lines up with the
//! simulated task duration (clone tasks take `BENCH_TASK_SECS` simulated seconds).
//!
//! Memory is reported twice, both as RSS: the peak growth over the process before the client
//! was built (`VmHWM` after the run minus `VmRSS` before it: client construction, the first
//! execution of its code, which pages in megabytes of the binary, and the connections all
//! count), and the peak growth over a warm client (`VmRSS` after `BENCH_WARMUP` jobs went
//! through it first, so its connections are open and its code paged in): what waiting jobs
//! add, divided by the number of jobs for the cost per waiting job.
//!
//! Targets: every job `Succeeded`; polls per job <= 1.1 x `WaitPolicy::polls_until(task
//! duration)`; connections opened <= the client's in-flight bound; peak RSS growth
//! <= 64 MiB; peak RSS growth over a warm client <= 2 KiB per job.
//!
//! A missed target is printed (`TARGET MISSED: ...`) and fails the run: exit 1.
//!
//! `cargo bench -p voiceclone-benches --bench wait_scale`
//! Environment: BENCH_JOBS (10000), BENCH_SPEED (20), BENCH_TASK_SECS (20), BENCH_REPS (3),
//! BENCH_WARMUP (32: the in-flight bound, so that every connection is opened).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use voiceclone::sleep::BoxFuture;
use voiceclone::{Client, CloneRequest, Provider, SoundVersion, VmegEngine, WaitPolicy};
use voiceclone_benches::child::{ChildServer, Role, run_if_child, stat};
use voiceclone_benches::proc;
use voiceclone_benches::variants::env_or;

/// Sleeps `duration / factor` for real.
#[derive(Debug)]
struct ScaledSleeper(f64);

impl voiceclone::Sleeper for ScaledSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration.div_f64(self.0)))
    }
}

struct Run {
    wall: Duration,
    succeeded: usize,
    creates: u64,
    polls: u64,
    requests: u64,
    connections: u64,
    rss_before: u64,
    /// RSS after the warm-up jobs.
    rss_warm: u64,
    peak: u64,
    job_future_bytes: usize,
}

fn request(provider: Provider, i: usize) -> CloneRequest {
    match provider {
        Provider::Vmeg => CloneRequest::new("https://cdn.example.com/sample.wav")
            .name(format!("scale voice {i}"))
            .language("en-US")
            .vmeg_engine(VmegEngine::V1),
        _ => CloneRequest::new("https://cdn.example.com/sample.wav")
            .sample_text(format!("Scale job {i} preview sentence."))
            .language("English")
            .sound_version(SoundVersion::V1),
    }
}

/// Spawns `jobs` jobs (`clone_voice` then `wait_for_clone`, numbered from `first`) and
/// waits for them all: (how many succeeded, the size of one job's future).
async fn jobs(
    client: &Client,
    provider: Provider,
    policy: &WaitPolicy,
    first: usize,
    jobs: usize,
) -> (usize, usize) {
    let mut handles = Vec::with_capacity(jobs);
    let mut job_future_bytes = 0;
    for i in first..first + jobs {
        let client = client.clone();
        let policy = policy.clone();
        let req = request(provider, i);
        let job = async move {
            let job = client.clone_voice(&req).await?;
            client.wait_for_clone(&job.id, &policy).await
        };
        job_future_bytes = std::mem::size_of_val(&job);
        handles.push(tokio::spawn(job));
    }
    let mut ok = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => eprintln!("job failed: {e}"),
        }
    }
    (ok, job_future_bytes)
}

fn run(provider: Provider, jobs_n: usize, warmup: usize, speed: f64, task: Duration) -> Run {
    let mut sim = ChildServer::spawn(&Role::Sim {
        speed,
        seed: 1,
        faults: String::new(),
        clone_secs: task.as_secs_f64(),
    })
    .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let rss_before = proc::rss().unwrap_or(0);
    proc::reset_peak_rss();
    let policy = WaitPolicy::for_provider(provider);
    let client = rt.block_on(async {
        let client = Client::builder(provider)
            .api_key(sim.api_key.as_str())
            .base_url(sim.base_url.as_str())
            .sleeper(Arc::new(ScaledSleeper(speed)))
            .build()
            .unwrap();
        let (ok, _) = jobs(&client, provider, &policy, jobs_n, warmup).await;
        assert_eq!(ok, warmup, "warm-up jobs failed");
        client
    });
    let warm = sim.sim_stats().unwrap();
    let rss_warm = proc::rss().unwrap_or(0);
    let started = Instant::now();
    let (succeeded, job_future_bytes) = rt.block_on(jobs(&client, provider, &policy, 0, jobs_n));
    let wall = started.elapsed();
    let peak = proc::peak_rss().unwrap_or(0);
    drop(client);
    drop(rt);
    let stats = sim.sim_stats().unwrap();
    let (create_op, poll_op) = match provider {
        Provider::Vmeg => ("vmeg.cloneVoiceCreateAsync", "vmeg.tasksDetail"),
        _ => ("jimmyai.createClone", "jimmyai.getAudio"),
    };
    // The main run's requests: everything minus the warm-up's.
    let since_warm = |section: &str, name: &str| {
        stat(&stats, section, name).saturating_sub(stat(&warm, section, name))
    };
    let total = |v: &serde_json::Value, name: &str| {
        v.get(name).and_then(serde_json::Value::as_u64).unwrap_or(0)
    };
    Run {
        wall,
        succeeded,
        creates: since_warm("billable_by_operation", create_op),
        polls: since_warm("requests_by_operation", poll_op),
        requests: total(&stats, "requests_total").saturating_sub(total(&warm, "requests_total")),
        // All the connections the client opened, warm-up included: the bound is the client's.
        connections: total(&stats, "connections_accepted"),
        rss_before,
        rss_warm,
        peak,
        job_future_bytes,
    }
}

const ONE_ENV: &str = "VOICECLONE_BENCH_WAIT_ONE";

/// Runs one provider's measurement in a fresh process (so that memory the allocator kept
/// from an earlier run cannot hide this run's peak) and parses its result line.
fn run_in_fresh_process(
    provider: Provider,
    jobs: usize,
    warmup: usize,
    speed: f64,
    task: Duration,
) -> Run {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env(ONE_ENV, provider.as_str())
        .env("BENCH_JOBS", jobs.to_string())
        .env("BENCH_WARMUP", warmup.to_string())
        .env("BENCH_SPEED", speed.to_string())
        .env("BENCH_TASK_SECS", task.as_secs_f64().to_string())
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success(), "wait_scale run for {provider} failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("result "))
        .unwrap_or_else(|| panic!("no result line in {text:?}"));
    let v: Vec<f64> = line
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    Run {
        wall: Duration::from_secs_f64(v[0]),
        succeeded: v[1] as usize,
        creates: v[2] as u64,
        polls: v[3] as u64,
        requests: v[4] as u64,
        connections: v[5] as u64,
        rss_before: v[6] as u64,
        rss_warm: v[7] as u64,
        peak: v[8] as u64,
        job_future_bytes: v[9] as usize,
    }
}

fn main() {
    run_if_child();
    if let Ok(p) = std::env::var(ONE_ENV) {
        let provider: Provider = p.parse().unwrap();
        let r = run(
            provider,
            env_or("BENCH_JOBS", 10_000),
            env_or("BENCH_WARMUP", voiceclone::DEFAULT_MAX_IN_FLIGHT),
            env_or("BENCH_SPEED", 20.0),
            Duration::from_secs_f64(env_or("BENCH_TASK_SECS", 20.0)),
        );
        println!(
            "result {} {} {} {} {} {} {} {} {} {}",
            r.wall.as_secs_f64(),
            r.succeeded,
            r.creates,
            r.polls,
            r.requests,
            r.connections,
            r.rss_before,
            r.rss_warm,
            r.peak,
            r.job_future_bytes
        );
        return;
    }
    let jobs: usize = env_or("BENCH_JOBS", 10_000);
    let speed: f64 = env_or("BENCH_SPEED", 20.0);
    let task = Duration::from_secs_f64(env_or("BENCH_TASK_SECS", 20.0));
    let reps: usize = env_or("BENCH_REPS", 3);
    let warmup: usize = env_or("BENCH_WARMUP", voiceclone::DEFAULT_MAX_IN_FLIGHT);
    let bound = voiceclone::DEFAULT_MAX_IN_FLIGHT as u64;
    println!(
        "{jobs} clone jobs per provider, simulator speed x{speed}, clone task {:.0} s simulated ({:.2} s real), in-flight bound {bound}",
        task.as_secs_f64(),
        task.as_secs_f64() / speed
    );
    println!(
        "| provider | rep | wall s | succeeded | requests | polls/job | policy polls (x1.1) | connections | RSS before | peak growth | peak growth over a warm client ({warmup} jobs) | per job | job future |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut missed = Vec::new();
    for provider in Provider::ALL {
        let need = WaitPolicy::for_provider(provider)
            .with_jitter(0.0)
            .polls_until(task);
        for rep in 1..=reps {
            let r = run_in_fresh_process(provider, jobs, warmup, speed, task);
            let per_job = r.polls as f64 / jobs as f64;
            let growth = r.peak.saturating_sub(r.rss_before);
            let warm_growth = r.peak.saturating_sub(r.rss_warm);
            let kib_per_job = warm_growth as f64 / 1024.0 / jobs as f64;
            println!(
                "| {provider} | {rep} | {:.2} | {}/{jobs} | {} | {per_job:.3} | {need} ({:.1}) | {} | {} | {} | {} | {kib_per_job:.2} KiB | {} B |",
                r.wall.as_secs_f64(),
                r.succeeded,
                r.requests,
                need as f64 * 1.1,
                r.connections,
                proc::mib(r.rss_before),
                proc::mib(growth),
                proc::mib(warm_growth),
                r.job_future_bytes,
            );
            if kib_per_job > 2.0 {
                missed.push(format!(
                    "{provider}: peak RSS growth over a warm client {kib_per_job:.2} KiB per job > 2 KiB"
                ));
            }
            if r.succeeded != jobs || r.creates != jobs as u64 {
                missed.push(format!(
                    "{provider}: {} of {jobs} succeeded, {} creates",
                    r.succeeded, r.creates
                ));
            }
            if per_job > 1.1 * need as f64 {
                missed.push(format!(
                    "{provider}: {per_job:.2} polls per job > 1.1 x {need}"
                ));
            }
            if r.connections > bound {
                missed.push(format!(
                    "{provider}: {} connections > bound {bound}",
                    r.connections
                ));
            }
            if growth > 64 * 1024 * 1024 {
                missed.push(format!(
                    "{provider}: peak RSS growth {} > 64 MiB",
                    proc::mib(growth)
                ));
            }
        }
    }
    for m in &missed {
        println!("TARGET MISSED: {m}");
    }
    // A missed target fails the run (exit 1), so a regression fails the BENCHMARKS.md run
    // and any script running it, not only a line in its output.
    if !missed.is_empty() {
        std::process::exit(1);
    }
}
