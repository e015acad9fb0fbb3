//! Servers in a child process, so that the measured process holds only the client: its CPU
//! time, its instruction count under callgrind and its peak RSS are then the client's alone.
//!
//! A bench binary calls [`run_if_child`] first thing in `main`; [`ChildServer::spawn`] starts
//! the same executable again in the server role. The child prints `ready <base_url>
//! <api_key>`, then answers one line per command read from stdin, and exits when its stdin
//! closes (so it never outlives the parent).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use crate::server::FixedServer;

const ROLE_ENV: &str = "VOICECLONE_BENCH_CHILD";
const SIM_SPEED_ENV: &str = "VOICECLONE_BENCH_SIM_SPEED";
const SIM_SEED_ENV: &str = "VOICECLONE_BENCH_SIM_SEED";
const SIM_FAULTS_ENV: &str = "VOICECLONE_BENCH_SIM_FAULTS";
const SIM_CLONE_SECS_ENV: &str = "VOICECLONE_BENCH_SIM_CLONE_SECS";

/// Which server the child runs.
#[derive(Debug, Clone)]
pub enum Role {
    /// The fixed-body server ([`FixedServer`]). Commands: `connections`.
    Fixed,
    /// The simulator at a speed factor, with optional fault specs. Commands: `stats`
    /// (one JSON line: connections, requests and billable creates per operation, faults,
    /// duplicate logical calls).
    Sim {
        /// [`voiceclone_sim::SimConfig::speed`].
        speed: f64,
        /// [`voiceclone_sim::SimConfig::seed`].
        seed: u64,
        /// Fault specs (`all=0.2`), comma-separated; empty for none.
        faults: String,
        /// Simulated duration of a clone task, seconds (TTS tasks take half).
        clone_secs: f64,
    },
}

/// A server running in a child process; killed on drop.
#[derive(Debug)]
pub struct ChildServer {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// Base URL of the server, e.g. `http://127.0.0.1:40123`.
    pub base_url: String,
    /// The API key the server accepts.
    pub api_key: String,
}

fn io_err(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::other(msg.into())
}

impl ChildServer {
    /// Starts this executable again as a server and waits for its `ready` line.
    pub fn spawn(role: &Role) -> std::io::Result<Self> {
        let exe = std::env::current_exe()?;
        let mut cmd = Command::new(exe);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        match role {
            Role::Fixed => {
                cmd.env(ROLE_ENV, "fixed");
            }
            Role::Sim {
                speed,
                seed,
                faults,
                clone_secs,
            } => {
                cmd.env(ROLE_ENV, "sim")
                    .env(SIM_CLONE_SECS_ENV, clone_secs.to_string())
                    .env(SIM_SPEED_ENV, speed.to_string())
                    .env(SIM_SEED_ENV, seed.to_string())
                    .env(SIM_FAULTS_ENV, faults);
            }
        }
        let mut child = cmd.spawn()?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io_err("child has no stdout"))?;
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let mut parts = line.split_whitespace();
        match (parts.next(), parts.next(), parts.next()) {
            (Some("ready"), Some(base), Some(key)) => Ok(Self {
                base_url: base.to_string(),
                api_key: key.to_string(),
                child,
                stdin,
                stdout,
            }),
            _ => {
                let _ = child.kill();
                Err(io_err(format!("child server did not start: {line:?}")))
            }
        }
    }

    /// Sends one command line, returns the one-line answer.
    pub fn command(&mut self, command: &str) -> std::io::Result<String> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| io_err("child stdin closed"))?;
        writeln!(stdin, "{command}")?;
        stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        Ok(line.trim_end().to_string())
    }

    /// Connections the fixed server accepted so far.
    pub fn connections(&mut self) -> std::io::Result<u64> {
        self.command("connections")?
            .parse()
            .map_err(|_| io_err("bad connections answer"))
    }

    /// The simulator's counters, as JSON.
    pub fn sim_stats(&mut self) -> std::io::Result<serde_json::Value> {
        serde_json::from_str(&self.command("stats")?).map_err(io_err_from)
    }
}

fn io_err_from(e: impl std::fmt::Display) -> std::io::Error {
    io_err(e.to_string())
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// In a child started by [`ChildServer::spawn`]: runs the server until stdin closes, then
/// exits the process. Otherwise returns at once.
pub fn run_if_child() {
    let Ok(role) = std::env::var(ROLE_ENV) else {
        return;
    };
    let code = match serve(&role) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("bench child server ({role}): {e}");
            1
        }
    };
    std::process::exit(code);
}

fn serve(role: &str) -> std::io::Result<()> {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    match role {
        "fixed" => {
            let server = FixedServer::start()?;
            writeln!(out, "ready {} {}", server.base_url(), crate::KEY)?;
            out.flush()?;
            for line in stdin.lock().lines() {
                match line?.trim() {
                    "connections" => writeln!(out, "{}", server.connections())?,
                    other => writeln!(out, "unknown command {other:?}")?,
                }
                out.flush()?;
            }
            Ok(())
        }
        "sim" => {
            let env = |k: &str| std::env::var(k).unwrap_or_default();
            let speed: f64 = env(SIM_SPEED_ENV).parse().unwrap_or(1.0);
            let seed: u64 = env(SIM_SEED_ENV).parse().unwrap_or(0);
            let faults = env(SIM_FAULTS_ENV);
            let clone_secs: f64 = env(SIM_CLONE_SECS_ENV).parse().unwrap_or(2.0);
            let clone = std::time::Duration::from_secs_f64(clone_secs.max(0.0));
            let mut config = voiceclone_sim::SimConfig::default()
                .with_speed(speed)
                .with_seed(seed)
                .with_durations(clone, clone / 2);
            if !faults.trim().is_empty() {
                let specs: Vec<&str> = faults.split(',').collect();
                config = config.with_faults(
                    voiceclone_sim::FaultConfig::parse_many(specs).map_err(io_err_from)?,
                );
            }
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("bench-sim")
                .build()?;
            let sim = rt.block_on(voiceclone_sim::Simulator::start_with(config))?;
            writeln!(out, "ready {} {}", sim.base_url(), sim.api_key())?;
            out.flush()?;
            for line in stdin.lock().lines() {
                match line?.trim() {
                    "stats" => writeln!(out, "{}", stats_json(&sim.stats()))?,
                    other => writeln!(out, "unknown command {other:?}")?,
                }
                out.flush()?;
            }
            drop(sim);
            Ok(())
        }
        other => Err(io_err(format!("unknown role {other:?}"))),
    }
}

fn stats_json(s: &voiceclone_sim::Stats) -> serde_json::Value {
    serde_json::json!({
        "connections_accepted": s.connections_accepted,
        "requests_total": s.requests_total,
        "requests_by_operation": s.requests_by_operation,
        "responses_by_status": s.responses_by_status,
        "faults_by_kind": s.faults_by_kind,
        "billable_by_operation": s.billable_by_operation,
        "duplicate_logical_calls": s.duplicate_logical_calls().len(),
    })
}

/// A counter from a [`ChildServer::sim_stats`] answer (`section` `.` `name`), 0 if absent.
pub fn stat(stats: &serde_json::Value, section: &str, name: &str) -> u64 {
    stats
        .get(section)
        .and_then(|s| s.get(name))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0)
}
