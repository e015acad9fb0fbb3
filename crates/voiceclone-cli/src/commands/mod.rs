//! One module per group of commands; [`run`] dispatches.

pub mod demo;
pub mod dry_run;
pub mod listen;
pub mod long;
pub mod out;
pub mod provider;
pub mod reconcile;
pub mod sim;
pub mod tasks;
pub mod webhook;

use crate::cli::{Cli, Command, WebhookCommand};
use crate::exit::Exit;
use crate::output::Printer;

/// Runs the parsed command line and prints its outcome; returns the exit code.
pub async fn run(cli: Cli) -> Exit {
    let mut printer = Printer::new(cli.json, cli.quiet);
    let outcome = match &cli.command {
        Command::Webhook(WebhookCommand::Verify(args)) => webhook::verify(&cli, args, &mut printer),
        Command::Webhook(WebhookCommand::Listen(args)) => {
            match listen::run(&cli, args, &mut printer).await {
                // It streamed: everything is printed already.
                Ok(exit) => return exit,
                Err(outcome) => outcome,
            }
        }
        Command::Sim(args) => {
            // `--api-key-env` often names VMEG_API_KEY (so that clients' variable just
            // works): that key is the user's real one, redacted as everywhere else.
            match crate::context::redact_api_keys(&cli, &mut printer) {
                Ok(()) => sim::run(args, &printer).await,
                Err(f) => crate::output::Outcome::failed(f),
            }
        }
        Command::Demo(args) => demo::run(args, &printer).await,
        _ => provider::run(&cli, &mut printer).await,
    };
    if matches!(cli.command, Command::Sim(_)) && cli.json && outcome.failure.is_none() {
        // `sim --json` already printed its one object when it started.
        return Exit::Success;
    }
    printer.finish(&outcome)
}
