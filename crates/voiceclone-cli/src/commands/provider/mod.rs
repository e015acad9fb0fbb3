//! The commands that talk to one provider: `clone`, `status`, `wait`, `speak`, `voices`,
//! `upload`.
//!
//! `status` and `wait` take `--kind clone|speech` (default `clone`): a bare job id does not
//! say what it is. They call the adapter's `clone_status` / `wait_for_clone` or
//! `speech_status` / `wait_for_speech` accordingly. JimmyAI answers both from one endpoint
//! (`audios/{id}`), so the wrong kind still shows the status; VMEG's `tasks/detail` result
//! differs by task type, so use the kind the job was submitted as.
//!
//! `clone --wait` and `speak --wait` with `--webhook-listen ADDR --webhook-secret-env NAME`
//! (VMEG only) run a webhook receiver on ADDR for the length of the command and build the
//! client with its [`CompletionHub`]: the task's webhook ends the wait, and polling goes on
//! meanwhile on the slow fallback schedule ([`WaitPolicy::webhook_poll_interval`], 30 s).
//! Deliveries of other tasks (VMEG sends the whole account's to one URL) are answered 503,
//! so that VMEG delivers them again later rather than take them as handled.
//!
//! - `clone.rs`, `speak.rs`, `wait.rs` (`status` and `wait`), `manage.rs` (`voices`,
//!   `upload`): each command.
//! - `submit.rs`: sending a create (the command's own key, a signal meanwhile, an unknown
//!   outcome); `suggest.rs`: the `reconcile` / `wait` commands a result suggests.
//! - `job.rs`: a job the command holds (waiting, a signal during the wait, what its answer
//!   says); `policy.rs`: the wait flags as a `WaitPolicy`.
//! - `client.rs`: the client these commands build; `webhook_wait.rs`: `--webhook-listen`.

mod client;
mod clone;
mod job;
mod manage;
mod policy;
mod speak;
mod submit;
mod suggest;
mod wait;
mod webhook_wait;

pub(crate) use client::audio_source;
pub use client::build_client;
pub use clone::clone_request;
pub use policy::{needs_wait, policy};
pub use speak::speech_request;
pub use webhook_wait::Awaited;

use std::time::Duration;

use voiceclone::Provider;

use crate::cli::{Cli, Command};
use crate::context::target;
use crate::output::{Failure, Outcome, Printer};
use crate::spinner::UploadBar;
use client::{UploadSeen, build_client_with};
use clone::clone;
use manage::{upload, voices};
use speak::speak;
use wait::{job_id, status, wait};
use webhook_wait::{WaitReceiver, webhook_flags};

/// Runs a provider command.
pub async fn run(cli: &Cli, printer: &mut Printer) -> Outcome {
    // The webhook flags are checked before anything else: a usage error sends nothing.
    // (Their messages quote no argument.)
    let webhook = match webhook_flags(cli) {
        Ok(w) => w,
        Err(f) => return with_provider(Outcome::failed(f), cli),
    };
    // The keys (the environment's, and the one in `--api-key-file`, read once: a pipe
    // such as `<(pass show vmeg)` reads once) are registered before anything quotes an
    // argument: a key pasted as one (`clone "$VMEG_API_KEY"`, `--voice`, `--name`,
    // `--text`, `--out`) was printed whole by a dry run ("no such file", the request body).
    let from_file = match crate::context::key_from_file(cli, printer) {
        Ok(k) => k,
        Err(f) => return with_provider(Outcome::failed(f), cli),
    };
    // `--out` is checked, and a dry run answered, before the key is used: nothing is sent.
    if let Err(f) = super::out::check(cli) {
        return with_provider(Outcome::failed(f), cli);
    }
    let secret_env = webhook.map(|(_, var)| var);
    if let Some(o) = super::dry_run::run(cli, printer, secret_env).await {
        return with_provider(o, cli);
    }
    let target = match target(cli, printer, from_file) {
        Ok(t) => t,
        Err(f) => return with_provider(Outcome::failed(f), cli),
    };
    crate::output::set_suggested_target(
        target.provider,
        target.base_url.as_deref(),
        cli.api_key_file.as_deref(),
    );
    let receiver = match webhook {
        Some((addr, var)) => match WaitReceiver::start(addr, var, printer).await {
            Ok(r) => Some(r),
            Err(f) => return with_provider(Outcome::failed(f), cli),
        },
        None => None,
    };
    let hub = receiver.as_ref().map(|r| r.hub.clone());
    let awaited = receiver.as_ref().map(|r| &r.awaited);
    // A local recording goes up first: a progress bar on a terminal (stderr only).
    let bar = UploadBar::new(
        !printer.json
            && !printer.quiet
            && matches!(cli.command, Command::Clone(_) | Command::Upload(_)),
    );
    let seen = UploadSeen::default();
    let watched = matches!(cli.command, Command::Clone(_)).then_some(&seen);
    let client = match build_client_with(&target, hub, &bar, watched) {
        Ok(c) => c,
        Err(f) => return with_provider(Outcome::failed(f), cli),
    };
    let p = target.provider;
    let mut o = match &cli.command {
        Command::Clone(args) => clone(&client, p, args, printer, bar, &seen, awaited).await,
        Command::Status(args) => match job_id(&args.job_id, args.kind) {
            Ok((id, kind)) => status(&client, p, &id, kind).await,
            Err(f) => Outcome::failed(f),
        },
        Command::Wait(args) => match job_id(&args.job_id, args.kind) {
            Ok((id, kind)) => wait(&client, p, &id, kind, &args.poll, printer).await,
            Err(f) => Outcome::failed(f),
        },
        Command::Speak(args) => speak(&client, &target.api_key, p, args, printer, awaited).await,
        Command::Voices(args) if args.system => {
            super::tasks::system_voices(&client, p, args.timeout).await
        }
        Command::Voices(args) => voices(&client, p, args.timeout).await,
        Command::Tasks(args) => super::tasks::run(&client, args).await,
        Command::Reconcile(args) => super::reconcile::run(&client, args).await,
        Command::Upload(args) => upload(&client, p, &args.file, bar).await,
        _ => Outcome::failed(Failure::usage("not a provider command")),
    };
    o.fields
        .entry("provider")
        .or_insert_with(|| p.as_str().into());
    if let Some(r) = receiver {
        o.set("webhook_listen", r.receiver.addr().to_string());
        // The result before the stop, which a sender in the middle of a request holds up to
        // its 5 s grace: a second signal meanwhile writes it on stderr rather than end the
        // process with the job printed nowhere. After a signal the stop is not waited on
        // (a second one ends the process 2 s after the first), so the result reaches stdout.
        printer.hold(&o);
        let grace = if crate::signals::signal_seen() {
            STOP_GRACE_AFTER_SIGNAL
        } else {
            crate::receiver::STOP_GRACE
        };
        r.receiver.stop_within(grace).await;
    }
    o
}

/// How long `--webhook-listen`'s receiver is given for requests in flight once a signal
/// stopped the command: well within the 2 s a second signal leaves the first one's result.
const STOP_GRACE_AFTER_SIGNAL: Duration = Duration::from_millis(300);

fn with_provider(mut o: Outcome, cli: &Cli) -> Outcome {
    if let Some(p) = cli.provider {
        o.set("provider", Provider::from(p).as_str());
    }
    o
}

/// A usage error (exit 2, nothing sent) when `value` holds a secret this run was given, or a
/// piece of it (a variable pasted into the wrong flag): the library refuses a request holding
/// the API key when it is sent, and a dry run must not print it as one that would be. The
/// value is not quoted.
pub(crate) fn refuse_the_key_in(flag: &str, value: Option<&str>) -> Result<(), Failure> {
    refused_if(flag, value.is_some_and(crate::output::holds_a_long_secret))
}

/// [`refuse_the_key_in`] for an id (`--voice`): a secret of any length, as the library refuses
/// an id holding the API key whatever its length (review 34 pass 4 #1).
pub(crate) fn refuse_the_key_in_id(flag: &str, value: &str) -> Result<(), Failure> {
    refused_if(flag, crate::output::holds_secret(value))
}

fn refused_if(flag: &str, holds: bool) -> Result<(), Failure> {
    if holds {
        return Err(Failure::usage(format!(
            "{flag} holds a secret this run was given (an API key, the webhook secret, ...) or a piece of it, which is never sent in a request: nothing was sent"
        )));
    }
    Ok(())
}
