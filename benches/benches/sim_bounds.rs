//! The simulator under load and abuse (issue 10), with the simulator in a child process so
//! that its CPU time and memory are read from `/proc/<pid>` alone.
//!
//! 1. `create`: create latency as the task count grows to `BENCH_TASKS` (20,000): median of
//!    the first 100 creates against the last 100, one keep-alive connection, sequential.
//! 2. `idle`: CPU of the simulator process while `BENCH_PENDING` (1,000) async tasks wait
//!    with a webhook configured, over `BENCH_IDLE_SECS` (10 s) of nothing else happening;
//!    then the latency of creates with those tasks pending.
//! 3. `conns`: `BENCH_CONNS` (10,000) idle TCP connections opened to the simulator: its
//!    RSS before and after, connections it holds, and whether (and how fast) it still
//!    answers; once with the default open-file limit, once with `ulimit -n 256`.
//!
//! 4. `uploads`: `BENCH_UPLOADS` (5) JimmyAI uploads of `BENCH_UPLOAD_MB` (100) MB each: the
//!    simulator's RSS after each and its peak.
//!
//! Knobs: `BENCH_ONLY=create|idle|uploads|conns`, `BENCH_REPS` (3), the counts above.
//! Run: `cargo bench -p voiceclone-benches --bench sim_bounds`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "SIM_BOUNDS_CHILD";
const SPEED_ENV: &str = "SIM_BOUNDS_SPEED";
const WEBHOOK_ENV: &str = "SIM_BOUNDS_WEBHOOK";

fn env_or<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

// ---------------------------------------------------------------- child

fn child() {
    let speed: f64 = env_or(SPEED_ENV, 1.0);
    let mut config = voiceclone_sim::SimConfig::default().with_speed(speed);
    if let Ok(url) = std::env::var(WEBHOOK_ENV) {
        config = config.with_webhook(url, "bench-secret");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sim = rt
        .block_on(voiceclone_sim::Simulator::start_with(config))
        .unwrap();
    let mut out = std::io::stdout();
    writeln!(out, "ready {} {}", sim.base_url(), sim.api_key()).unwrap();
    out.flush().unwrap();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim() == "stats" {
            let s = sim.stats();
            writeln!(
                out,
                "{}",
                serde_json::json!({
                    "open": sim.open_connections(),
                    "accepted": s.connections_accepted,
                    "evicted": s.connections_evicted,
                    "refused": s.connections_refused,
                    "tasks": sim.task_count(),
                    "webhook_attempts": s.webhook_attempts,
                })
            )
            .unwrap();
            out.flush().unwrap();
        }
    }
    drop(sim);
}

struct Sim {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    base: String,
    key: String,
}

impl Sim {
    fn spawn(speed: f64, webhook: Option<&str>, nofile: Option<u32>) -> Sim {
        let exe = std::env::current_exe().unwrap();
        let mut cmd = match nofile {
            // `ulimit` is a shell builtin; `exec` keeps the pid.
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\""))
                    .arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        cmd.env(CHILD_ENV, "1")
            .env(SPEED_ENV, speed.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(w) = webhook {
            cmd.env(WEBHOOK_ENV, w);
        }
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let mut it = line.split_whitespace();
        assert_eq!(it.next(), Some("ready"), "{line}");
        let base = it.next().unwrap().to_owned();
        let key = it.next().unwrap().to_owned();
        Sim {
            child,
            stdin,
            stdout,
            base,
            key,
        }
    }

    fn stats(&mut self) -> serde_json::Value {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "stats").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap()
    }

    fn proc_file(&self, name: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/{name}", self.child.id())).unwrap()
    }

    /// User + system CPU ticks (10 ms each) of the simulator process.
    fn cpu_ticks(&self) -> u64 {
        let stat = self.proc_file("stat");
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        f[14 - 3].parse::<u64>().unwrap() + f[15 - 3].parse::<u64>().unwrap()
    }

    fn rss_kib(&self) -> u64 {
        self.proc_file("status")
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- client side

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn create(http: &reqwest::Client, sim_base: &str, key: &str, idem: &str) -> Duration {
    let t = Instant::now();
    let r = http
        .post(format!("{sim_base}/openapi/v1/task/tts/create-async"))
        .bearer_auth(key)
        .header("X-Idempotency-Key", idem)
        .json(&serde_json::json!({"data": [{"text": "Benchmark line.", "voiceId": "sv_en_us_female_01"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let _ = r.bytes().await.unwrap();
    t.elapsed()
}

async fn clone_async(http: &reqwest::Client, sim: &Sim, idem: &str) {
    let r = http
        .post(format!(
            "{}/openapi/v1/task/clone-voice/create-async",
            sim.base
        ))
        .bearer_auth(&sim.key)
        .header("X-Idempotency-Key", idem)
        .json(&serde_json::json!({"refAudio": "https://example.com/a.wav"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let _ = r.bytes().await.unwrap();
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn p99(v: &mut [Duration]) -> Duration {
    v.sort();
    v[(v.len() * 99 / 100).min(v.len() - 1)]
}

fn us(d: Duration) -> String {
    format!("{:.0} us", d.as_secs_f64() * 1e6)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

// ---------------------------------------------------------------- 1. create latency

fn bench_create(reps: usize) {
    let n: usize = env_or("BENCH_TASKS", 20_000);
    println!("## create latency vs task count ({n} tasks, speed 1: TTS tasks finish after 1 s)");
    for rep in 0..reps {
        let sim = Sim::spawn(1.0, None, None);
        let rt = rt();
        let lat: Vec<Duration> = rt.block_on(async {
            let http = http();
            let mut lat = Vec::with_capacity(n);
            for i in 0..n {
                lat.push(create(&http, &sim.base, &sim.key, &format!("c{rep}-{i}")).await);
            }
            lat
        });
        let mut first = lat[..100].to_vec();
        let mut last = lat[n - 100..].to_vec();
        let at4k = 4_000.min(n - 100);
        let mut mid = lat[at4k..at4k + 100].to_vec();
        let (mf, ml, mm) = (median(&mut first), median(&mut last), median(&mut mid));
        println!(
            "rep {rep}: median first 100 {}, creates {at4k}-{} {}, last 100 {} (p99 {} / {}); last/first {:.2}",
            us(mf),
            at4k + 100,
            us(mm),
            us(ml),
            us(p99(&mut first)),
            us(p99(&mut last)),
            ml.as_secs_f64() / mf.as_secs_f64()
        );
    }
}

// ---------------------------------------------------------------- 2. idle CPU

fn bench_idle(reps: usize) {
    let pending: usize = env_or("BENCH_PENDING", 1_000);
    let secs: u64 = env_or("BENCH_IDLE_SECS", 10);
    println!(
        "## idle CPU with {pending} pending async tasks and a webhook (speed 0.001: clone tasks take 2000 s)"
    );
    // A webhook receiver that would answer 200 (nothing is due during the measurement).
    let receiver = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = format!("http://{}/hook", receiver.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in receiver.incoming() {
            let Ok(mut s) = s else { continue };
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        }
    });
    for rep in 0..reps {
        let mut sim = Sim::spawn(0.001, Some(&hook), None);
        let rt = rt();
        let http = http();
        rt.block_on(async {
            for i in 0..pending {
                clone_async(&http, &sim, &format!("p{rep}-{i}")).await;
            }
        });
        std::thread::sleep(Duration::from_secs(1));
        let t0 = sim.cpu_ticks();
        let w0 = Instant::now();
        std::thread::sleep(Duration::from_secs(secs));
        let ticks = sim.cpu_ticks() - t0;
        let wall = w0.elapsed().as_secs_f64();
        let cpu_pct = ticks as f64 * 0.01 / wall * 100.0;
        let mut lat: Vec<Duration> = rt.block_on(async {
            let mut v = Vec::new();
            for i in 0..100 {
                v.push(create(&http, &sim.base, &sim.key, &format!("q{rep}-{i}")).await);
            }
            v
        });
        let st = sim.stats();
        println!(
            "rep {rep}: {ticks} ticks in {wall:.1} s = {cpu_pct:.2}% of a core; create median {} with {} tasks pending; webhook attempts so far {}",
            us(median(&mut lat)),
            st["tasks"],
            st["webhook_attempts"]
        );
    }
}

// ---------------------------------------------------------------- 3. idle connections

fn bench_conns(nofile: Option<u32>) {
    let n: usize = env_or("BENCH_CONNS", 10_000);
    let label = nofile.map_or("default open-file limit".to_string(), |n| {
        format!("ulimit -n {n}")
    });
    println!("## {n} idle connections ({label} in the simulator process)");
    let mut sim = Sim::spawn(1.0, None, nofile);
    let rt = rt();
    let http = http();
    // Warm: one request so the runtime and allocator are in their steady state.
    rt.block_on(create(&http, &sim.base, &sim.key, "warm"));
    let rss0 = sim.rss_kib();
    let addr = sim.base.trim_start_matches("http://").to_owned();
    let t = Instant::now();
    let mut held = Vec::with_capacity(n);
    let mut failed = 0usize;
    for _ in 0..n {
        match std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(5)) {
            Ok(s) => held.push(s),
            Err(_) => failed += 1,
        }
    }
    let opened = t.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let rss1 = sim.rss_kib();
    let fds = sim.fds();
    // Still answering? A fresh client (new connection) each time.
    let mut lat = Vec::new();
    let mut errors = 0;
    for i in 0..20 {
        let fresh = http_fresh();
        let t = Instant::now();
        let ok = rt.block_on(async {
            fresh
                .post(format!("{}/openapi/v1/task/tts/create-async", sim.base))
                .bearer_auth(&sim.key)
                .header("X-Idempotency-Key", format!("alive-{i}"))
                .json(&serde_json::json!({"data": [{"text": "Still here?", "voiceId": "sv_en_us_female_01"}]}))
                .send()
                .await
                .map(|r| r.status().as_u16() == 200)
                .unwrap_or(false)
        });
        if ok {
            lat.push(t.elapsed());
        } else {
            errors += 1;
        }
    }
    let st = sim.stats();
    println!(
        "opened {} connections in {:.1} s ({failed} failed to connect); simulator RSS {:.1} -> {:.1} MiB (+{:.1} MiB), {fds} fds open, holds {} connections, evicted {}, refused {}",
        held.len(),
        opened.as_secs_f64(),
        rss0 as f64 / 1024.0,
        rss1 as f64 / 1024.0,
        (rss1.saturating_sub(rss0)) as f64 / 1024.0,
        st["open"],
        st["evicted"],
        st["refused"],
    );
    println!(
        "then 20 creates on fresh connections: {} answered, {errors} failed, median {}",
        lat.len(),
        if lat.is_empty() {
            "-".to_string()
        } else {
            us(median(&mut lat))
        }
    );
    drop(held);
}

// ---------------------------------------------------------------- 4. uploads

fn bench_uploads() {
    let count: usize = env_or("BENCH_UPLOADS", 5);
    let mb: usize = env_or("BENCH_UPLOAD_MB", 100);
    println!("## {count} uploads of {mb} MB (JimmyAI files/upload), default bounds");
    let sim = Sim::spawn(1.0, None, None);
    let rt = rt();
    let http = http();
    let rss0 = sim.rss_kib();
    let payload = vec![0x55u8; mb * 1000 * 1000];
    for i in 0..count {
        let boundary = "simboundsboundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big{i}.wav\"\r\nContent-Type: audio/wav\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(&payload);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let status = rt.block_on(async {
            http.post(format!("{}/api/open-api/v1/files/upload", sim.base))
                .bearer_auth(&sim.key)
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(body)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        });
        println!(
            "upload {}: HTTP {status}; simulator RSS {:.1} MiB",
            i + 1,
            sim.rss_kib() as f64 / 1024.0
        );
    }
    let hwm = sim
        .proc_file("status")
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    println!(
        "RSS before {:.1} MiB, after {:.1} MiB, peak {:.1} MiB",
        rss0 as f64 / 1024.0,
        sim.rss_kib() as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
}

fn http_fresh() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

fn main() {
    if std::env::var_os(CHILD_ENV).is_some() {
        child();
        return;
    }
    // `cargo bench` passes `--bench`; ignore arguments.
    let reps: usize = env_or("BENCH_REPS", 3);
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "create" {
        bench_create(reps);
    }
    if only.is_empty() || only == "idle" {
        bench_idle(reps);
    }
    if only.is_empty() || only == "uploads" {
        bench_uploads();
    }
    if only.is_empty() || only == "conns" {
        bench_conns(None);
        bench_conns(Some(256));
    }
}
