//! `sim`: the simulator in the foreground until Ctrl-C.

use std::io::Write;

use voiceclone_sim::{FaultConfig, SimConfig, Simulator, bounds};

use crate::cli::SimArgs;
use crate::output::{Failure, Outcome, Printer};

/// Runs `sim`. Prints the base URL and the (test) key it accepts at once, then serves until
/// Ctrl-C; the final outcome carries the request counters.
pub async fn run(args: &SimArgs, printer: &Printer) -> Outcome {
    let config = match config(args) {
        Ok(c) => c,
        Err(f) => return Outcome::failed(f),
    };
    let sim = match Simulator::start_with(config).await {
        Ok(s) => s,
        Err(e) => {
            return Outcome::failed(Failure::io(&format!("cannot listen on {}", args.addr), &e));
        }
    };
    let base = sim.base_url();
    let key = sim.api_key();
    let start = if printer.json {
        let start = serde_json::json!({"event": "listening", "base_url": base, "api_key": key});
        format!("{start}\n")
    } else {
        format!(
            "voiceclone simulator listening on {base}\nAPI key: {key}\ntry: VMEG_API_KEY={key} VMEG_BASE_URL={base} voiceclone --provider vmeg clone https://example.com/sample.wav --wait\n"
        )
    };
    // Without its base URL and key nobody can use the simulator: a stdout that cannot take
    // them (a full disk, a closed pipe) stops it at once, exit 2 (a local I/O problem with
    // what the user named, like an address it cannot listen on; nothing was sent).
    if let Err(e) = write_stdout(&start) {
        sim.shutdown().await;
        return Outcome::failed(Failure::io(
            "the simulator stopped: its base URL and API key cannot be printed on stdout",
            &e,
        ));
    }
    printer.progress("press Ctrl-C to stop");
    if let Err(e) = tokio::signal::ctrl_c().await {
        tracing::warn!(error = %e, "cannot listen for Ctrl-C; stopping");
    }
    let stats = sim.stats();
    sim.shutdown().await;
    // With --json the start line already was the one object; say goodbye on stderr only.
    printer.progress(&format!(
        "stopped after {} requests ({} billable tasks)",
        stats.requests_total,
        stats.billable_total()
    ));
    Outcome::default()
}

/// Writes `text` on stdout and flushes it (`println!` panics when stdout is full or closed).
fn write_stdout(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

fn config(args: &SimArgs) -> Result<SimConfig, Failure> {
    check_speed(args.speed)?;
    if !(args.failure_rate.is_finite() && (0.0..=1.0).contains(&args.failure_rate)) {
        return Err(Failure::usage(format!(
            "--failure-rate must be a number in [0,1] (got {:?})",
            args.failure_rate
        )));
    }
    let faults = FaultConfig::parse_many(args.fault.iter().map(String::as_str))
        .map_err(|e| Failure::usage(e.to_string()))?;
    let mut config = SimConfig::default()
        .with_bind(args.addr)
        .with_speed(args.speed)
        .with_seed(args.seed)
        .with_faults(faults)
        .with_task_failure_rate(args.failure_rate);
    if let (Some(url), Some(var)) = (&args.webhook_url, &args.webhook_secret_env) {
        let secret = std::env::var(var)
            .ok()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                Failure::usage(format!(
                    "the environment variable {var} (--webhook-secret-env) is not set or empty"
                ))
            })?;
        config = config.with_webhook(url.clone(), secret);
    }
    config
        .validate()
        .map_err(|e| Failure::usage(e.to_string()))?;
    Ok(config)
}

/// `--speed` within the simulator's bounds ([`bounds::SPEED`]), else a usage error (exit 2).
pub(crate) fn check_speed(speed: f64) -> Result<(), Failure> {
    if speed.is_finite() && bounds::SPEED.contains(&speed) {
        Ok(())
    } else {
        Err(Failure::usage(format!(
            "--speed must be a number in [{}, {}] (got {speed:?})",
            bounds::SPEED.start(),
            bounds::SPEED.end()
        )))
    }
}
