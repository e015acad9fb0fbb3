//! `sim`: the simulator in the foreground until Ctrl-C.

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
    if printer.json {
        let start =
            serde_json::json!({"event": "listening", "base_url": base, "api_key": sim.api_key()});
        println!("{start}");
    } else {
        println!("voiceclone simulator listening on {base}");
        println!("API key: {}", sim.api_key());
        println!(
            "try: VMEG_API_KEY={} VMEG_BASE_URL={base} voiceclone --provider vmeg clone https://example.com/sample.wav --wait",
            sim.api_key()
        );
        printer.progress("press Ctrl-C to stop");
    }
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
