//! `voiceclone`: clone voices and synthesize speech with VMEG or JimmyAI from a shell, plus
//! a local simulator of both APIs (`sim`, `demo`). See `voiceclone --help`.

mod bounded_read;
mod cli;
mod commands;
mod context;
mod env_name;
mod exit;
mod output;
mod own_key;
mod receiver;
mod retry_hold;
mod signals;
mod spinner;

use std::io::Write;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

use crate::cli::Cli;
use crate::exit::Exit;
use crate::output::{Failure, Outcome, Printer};

fn main() -> ExitCode {
    let cli = match Cli::try_parse_checked(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => return ExitCode::from(usage_error(&e)),
    };
    init_tracing(default_log_filter(&cli));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let printer = Printer::new(cli.json, cli.quiet);
            let f = Failure::other(
                Exit::Failure,
                "runtime",
                format!("cannot start the async runtime: {e}"),
            );
            return ExitCode::from(printer.finish(&Outcome::failed(f)).code());
        }
    };
    let code = runtime.block_on(commands::run(cli)).code();
    // The result is printed. Dropping the runtime would wait, without bound, for every task
    // of its blocking pool (a DNS lookup of a request given up, stuck in getaddrinfo for
    // as long as the resolver likes): the process would not end although it has nothing
    // more to say. What is left is given a moment, then abandoned with the process.
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
    // The diagnostics still queued (a stderr only slow gets them; one nobody reads, 1 s).
    output::drain_diagnostics(DRAIN_GRACE);
    ExitCode::from(code)
}

/// How long the diagnostics still queued when the process ends may take to be written.
const DRAIN_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// How long the runtime's leftover tasks (its blocking pool: DNS lookups) get once the
/// result is printed.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// A clap error: help and version go to stdout with status 0; real errors exit 2, as one
/// JSON object on stdout when `--json` is among the arguments.
///
/// clap quotes what it refused, and a key typed as an argument by mistake is refused: the
/// keys of the environment are redacted from its text, which is printed through the printer
/// in both modes (plain too, so without clap's colours). `--api-key-file` is not read here:
/// its value is one clap did not parse, and a pipe (`<(pass show vmeg)`) would be consumed
/// or a FIFO with no writer would hang a usage error.
fn usage_error(e: &clap::Error) -> u8 {
    use clap::error::ErrorKind as K;
    if matches!(e.kind(), K::DisplayHelp | K::DisplayVersion) {
        let _ = e.print();
        return 0;
    }
    let json = std::env::args_os().any(|a| a == "--json");
    let mut printer = Printer::new(json, false);
    context::redact_api_keys_from_env(&mut printer);
    // Plain text: `Display` leaves clap's styles out.
    let detail = e.to_string();
    if json {
        // The first line of clap's own text names the flag and what is wrong with it; the
        // kind's generic sentence ("a value is invalid") does not.
        let message = detail
            .lines()
            .map(|l| l.trim().trim_start_matches("error:").trim())
            .find(|l| !l.is_empty())
            .map_or_else(
                || e.kind().as_str().unwrap_or("invalid arguments").to_owned(),
                str::to_owned,
            );
        let f = Failure::usage(message).with("detail", detail.trim().to_owned());
        printer.finish(&Outcome::failed(f));
    } else {
        let text: String = detail
            .trim_end()
            .lines()
            .map(|l| format!("{}\n", printer.safe(l)))
            .collect();
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
    Exit::Usage.code()
}

/// The log filter when `RUST_LOG` is not set: warnings. `webhook listen` prints one line of
/// its own for every refused delivery, so the adapter's warning about the same delivery is
/// left out there (`RUST_LOG` brings it back).
fn default_log_filter(cli: &Cli) -> &'static str {
    match cli.command {
        cli::Command::Webhook(cli::WebhookCommand::Listen(_)) => {
            "warn,voiceclone::webhook::verify=error,voiceclone::webhook::hub=error"
        }
        _ => "warn",
    }
}

/// Diagnostics on stderr, with control characters from server strings escaped; so no ANSI
/// colours either (they would be escaped too).
fn init_tracing(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(output::SafeStderr::default)
        .with_ansi(false)
        .with_target(false)
        .try_init();
}
