//! `sim`: the simulator in the foreground until SIGINT (Ctrl-C) or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;

use voiceclone_sim::{FaultConfig, SimConfig, Simulator, bounds};

use crate::cli::SimArgs;
use crate::output::{Failure, Outcome, Printer, stderr_line};

/// Runs `sim`. Prints the base URL and the (test) key it accepts at once, then serves until
/// SIGINT or SIGTERM (`docker stop`: as a container's PID 1 an unhandled SIGTERM is
/// ignored, and the container is killed only after its grace period); the final outcome
/// carries the request counters. Off loopback the key is a random one and stderr warns
/// that anyone who can reach the address can use it.
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
    let bound = sim.addr();
    // With --public-url the base URL names another host and port than the one listened on:
    // both are printed, or a listener on a random loopback port is found nowhere.
    let listening = if args.public_url.is_some() {
        format!("{bound}, reached as {base}")
    } else {
        base.to_string()
    };
    // A key from --api-key-env may be a real one (VMEG_API_KEY, so that clients' variable
    // just works): its variable is named, never its value.
    let (key, shell_key) = match &args.api_key_env {
        Some(var) => (format!("the value of {var}"), format!("\"${var}\"")),
        None => (sim.api_key().to_owned(), sim.api_key().to_owned()),
    };
    let start = if printer.json {
        let start = match &args.api_key_env {
            Some(var) => {
                serde_json::json!({"event": "listening", "base_url": base, "addr": bound.to_string(), "api_key_env": var})
            }
            None => {
                serde_json::json!({"event": "listening", "base_url": base, "addr": bound.to_string(), "api_key": key})
            }
        };
        format!("{start}\n")
    } else {
        format!(
            "voiceclone simulator listening on {listening}\nAPI key: {key}\ntry: VMEG_API_KEY={shell_key} VMEG_BASE_URL={base} voiceclone --provider vmeg clone https://example.com/sample.wav --wait\n"
        )
    };
    // Before the start line: whoever read it may signal at once.
    let mut signals = crate::signals::Signals::install_keeping_hangup();
    // Without its base URL and key nobody can use the simulator: a stdout that cannot take
    // them (a full disk, a closed pipe) stops it at once, exit 2 (a local I/O problem with
    // what the user named, like an address it cannot listen on; nothing was sent). Raced
    // against the signals: a stdout nobody reads must not make them go unheard (a signal
    // then ends the process, 130 or 143).
    let written = match signals.as_mut() {
        Ok(signals) => crate::signals::write_stdout(signals, start).await,
        Err(_) => write_stdout(&start).map(|()| None),
    };
    let signalled = match written {
        Ok(signalled) => signalled,
        Err(e) => {
            sim.shutdown().await;
            return Outcome::failed(Failure::io(
                "the simulator stopped: its base URL and API key cannot be printed on stdout",
                &e,
            ));
        }
    };
    if !is_loopback(bound) {
        // Not muted by --quiet or --json: it is about who else can use the simulator.
        stderr_line(&format!(
            "warning: the simulator listens on {bound}, which is not a loopback address: anyone who can reach this address can use it with the printed API key ({}); --addr 127.0.0.1:PORT keeps it to this machine",
            if args.api_key_env.is_some() {
                "the one --api-key-env names"
            } else {
                "a random one for this run"
            }
        ));
    }
    if bound.ip().is_unspecified() && args.public_url.is_none() {
        // The URLs handed out (audio, presigned uploads) would name 0.0.0.0 or [::]:
        // elsewhere that is the client's own machine.
        stderr_line(&format!(
            "warning: the URLs the simulator hands out (audio, uploads) name {bound}, which clients on other machines cannot reach; --public-url http://HOST:{} names the host they reach it by",
            bound.port()
        ));
    }
    if is_loopback(bound)
        && args
            .public_url
            .as_deref()
            .is_some_and(|u| !names_loopback(u))
    {
        // A forgotten --addr: the default listens on this machine's loopback only.
        stderr_line(&format!(
            "warning: the simulator listens on {bound}, a loopback address, which clients that reach it as {base} cannot reach from another machine or container; --addr 0.0.0.0:PORT listens on every address"
        ));
    }
    match (signalled, signals.as_mut()) {
        // It came while the start line was being written.
        (Some(name), _) => tracing::debug!(signal = name, "stopping the simulator"),
        (None, Ok(signals)) => {
            printer.progress("press Ctrl-C to stop");
            let name = signals.next().await;
            tracing::debug!(signal = name, "stopping the simulator");
        }
        (None, Err(f)) => {
            printer.progress("press Ctrl-C to stop");
            tracing::warn!(error = %f.message, "cannot listen for signals; stopping");
        }
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
    if let Some(url) = &args.public_url {
        config = config.with_public_base_url(url.clone());
    }
    if let Some(var) = &args.api_key_env {
        // A key the caller chose (a container's clients know it in advance).
        let key = crate::env_name::read(var, "--api-key-env", "the API key to accept")?
            .trim()
            .to_owned();
        config = config.with_api_key(key);
    } else if !is_loopback(args.addr) {
        // The default key, `sim-key`, is public: a simulator others can reach gets a random
        // one (printed at start, like the default).
        config = config.with_api_key(format!("sim-{}", uuid::Uuid::new_v4().simple()));
    }
    if let (Some(url), Some(var)) = (&args.webhook_url, &args.webhook_secret_env) {
        let secret = crate::env_name::read(var, "--webhook-secret-env", "the webhook secret")?;
        config = config.with_webhook(url.clone(), secret);
    }
    config
        .validate()
        .map_err(|e| Failure::usage(e.to_string()))?;
    Ok(config)
}

/// Whether `addr` is reachable from this machine only (`127.0.0.0/8`, `::1`, and `::1`'s
/// IPv4-mapped forms); `0.0.0.0` and `::` listen on every interface.
fn is_loopback(addr: SocketAddr) -> bool {
    addr.ip().to_canonical().is_loopback()
}

/// Whether the URL's host is this machine's loopback (`localhost`, `127.0.0.1`, `[::1]`).
fn names_loopback(url: &str) -> bool {
    match url::Url::parse(url).ok().as_ref().and_then(url::Url::host) {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.to_canonical().is_loopback(),
        None => false,
    }
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
