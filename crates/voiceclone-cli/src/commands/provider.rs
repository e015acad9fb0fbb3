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

use std::net::SocketAddr;
use std::time::Duration;

use voiceclone::webhook::CompletionHub;
use voiceclone::{
    AudioSource, Client, CloneJob, CloneRequest, Error, ErrorKind, Job, JobId, Provider, Speech,
    SpeechJob, SpeechRequest, TaskStatus, UploadProgress, Voice, WaitPolicy,
};

use crate::cli::{Cli, CloneArgs, Command, JobKind, PollArgs, SpeakArgs};
use crate::context::{Target, target};
use crate::exit::Exit;
use crate::output::{
    Failure, Outcome, Printer, RenderJob, forget_status, put_job, put_success, voice_json,
};
use crate::receiver::{Receiver, secret_from_env};
use crate::spinner::{Spinner, UploadBar};

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

/// `--webhook-listen ADDR --webhook-secret-env NAME` of `clone` and `speak`, checked: both
/// or neither, only with `--wait`, not with `--sync`, VMEG only. `None` when not given.
fn webhook_flags(cli: &Cli) -> Result<Option<(SocketAddr, &str)>, Failure> {
    let (wait, sync, flags) = match &cli.command {
        Command::Clone(a) => (a.wait, a.sync, &a.webhook),
        Command::Speak(a) => (a.wait, a.sync, &a.webhook),
        _ => return Ok(None),
    };
    let (addr, var) = match (flags.webhook_listen, flags.webhook_secret_env.as_deref()) {
        (None, None) => return Ok(None),
        (Some(addr), Some(var)) => (addr, var),
        (Some(_), None) => {
            return Err(Failure::usage(
                "--webhook-listen needs --webhook-secret-env NAME (the environment variable holding the VMEG webhook secret)",
            ));
        }
        (None, Some(_)) => {
            return Err(Failure::usage(
                "--webhook-secret-env needs --webhook-listen ADDR (where to receive the webhook)",
            ));
        }
    };
    if !wait {
        return Err(Failure::usage(
            "--webhook-listen and --webhook-secret-env only apply with --wait",
        ));
    }
    if cli.provider.map(Provider::from) == Some(Provider::JimmyAi) {
        return Err(Failure::usage(
            "JimmyAI has no webhooks: --webhook-listen waits by VMEG webhook (VMEG only)",
        ));
    }
    if sync {
        return Err(Failure::usage(
            "--webhook-listen waits for an asynchronous task's webhook; with --sync the answer already carries the result",
        ));
    }
    Ok(Some((addr, var)))
}

/// The receiver of `--webhook-listen`, for the length of one command.
struct WaitReceiver {
    receiver: Receiver,
    hub: CompletionHub,
    /// The tasks the command waits on, which its route answers 200.
    awaited: Awaited,
}

impl WaitReceiver {
    /// Reads the secret, binds `addr` and serves VMEG deliveries on `/` into a new hub. The
    /// bound address goes to stderr whatever the flags: with port 0 it is the only place the
    /// port appears.
    async fn start(addr: SocketAddr, var: &str, printer: &mut Printer) -> Result<Self, Failure> {
        let secret = secret_from_env(var, "--webhook-secret-env", printer)?;
        let hub = CompletionHub::in_memory(voiceclone::WebhookSecret::new(secret));
        let awaited = Awaited::default();
        let listener = Receiver::bind(addr).await?;
        let app = wait_route(hub.clone(), awaited.clone());
        let receiver = Receiver::start(listener, app)?;
        crate::output::stderr_line(&printer.safe(&format!(
                "webhook receiver listening on http://{}/ (the task's VMEG webhook ends the wait; polling every {} s meanwhile as a fallback)",
                receiver.addr(),
                voiceclone::wait::DEFAULT_WEBHOOK_POLL_INTERVAL.as_secs()
            )));
        Ok(Self {
            receiver,
            hub,
            awaited,
        })
    }
}

/// The tasks (their vendor ids) a command with `--webhook-listen` waits on, each added
/// before its wait starts and kept until the command ends: the delivery that ends a wait
/// wakes it as it is recorded, and the wait may end (and leave the hub, so that
/// [`CompletionHub::is_waiting_for`] no longer knows it) before that delivery's answer is
/// chosen. Kept here, that delivery is still answered 200, not 503 (delivered again).
#[derive(Clone, Debug, Default)]
pub struct Awaited(std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>);

impl Awaited {
    /// The command waits on `id` from now on.
    pub fn add(&self, id: &JobId) {
        self.ids().insert(id.as_str().to_owned());
    }

    fn contains(&self, id: &JobId) -> bool {
        self.ids().contains(id.as_str())
    }

    fn ids(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// What the route of `--webhook-listen` holds.
#[derive(Clone)]
struct WaitRoute {
    hub: CompletionHub,
    awaited: Awaited,
}

/// The route of `--webhook-listen`: `POST /`, each delivery taken by the hub (verified,
/// recorded, fanned out) as by the adapter's route (`voiceclone::webhook::axum::router`),
/// and answered as it decides ([`voiceclone::webhook::Delivery::http_status`]: 401 for a
/// bad signature or a stale timestamp, 413, 400, ...), except that a delivery of a task the
/// command does not wait on is answered 503 ([`WaitRoute::answer`]). Each delivery is
/// verified once, by the hub: the task is read from the event it hands back. Before, a
/// middleware verified every delivery a first time to find its task, in front of the
/// adapter's route, which verified it again.
fn wait_route(hub: CompletionHub, awaited: Awaited) -> axum::Router {
    // One byte over the verifier's limit still reaches it (its 413 says why); anything
    // longer is cut by axum (also 413) without being read whole, as by the adapter's route.
    let limit = hub.verifier().body_limit().saturating_add(1);
    axum::Router::new()
        .route("/", axum::routing::post(receive_awaited))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .with_state(WaitRoute { hub, awaited })
}

async fn receive_awaited(
    axum::extract::State(route): axum::extract::State<WaitRoute>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    // Lossy, as the adapter's route reads them: a value with bytes beyond ASCII is there and
    // malformed (the verifier says so, naming the header), not absent.
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default()
    };
    let (ts, sig) = (
        header(voiceclone::webhook::TIMESTAMP_HEADER),
        header(voiceclone::webhook::SIGNATURE_HEADER),
    );
    // A task of its own, as in the adapter's route: a sender that hangs up makes the server
    // drop this handler, not the record and its confirmation.
    let status = match tokio::spawn(async move {
        let delivery = route.hub.receive(&ts, &sig, &body).await;
        route.answer(&delivery)
    })
    .await
    {
        Ok(status) => status,
        Err(e) => {
            tracing::warn!(error = %e, "a webhook delivery's task failed; answering 500");
            500
        }
    };
    axum::http::StatusCode::from_u16(status)
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR)
}

impl WaitRoute {
    /// The answer to a delivery the hub took: its own, except 503 for a verified one
    /// (recorded, or a duplicate) of a task the command does not wait on. VMEG sends every
    /// task of the account to its one webhook URL, so while this receiver stands in for it,
    /// a delivery of another task (the account's other work) is answered 503: VMEG delivers
    /// it again later, to the account's own receiver once that is back, where a 200 here
    /// would have told VMEG it was handled and thrown it away. It is recorded all the same:
    /// a delivery of this command's own task that comes before its wait has started (between
    /// the submit's answer and the wait) is then in the hub's store, where the wait finds it
    /// when it starts.
    fn answer(&self, delivery: &voiceclone::webhook::Delivery) -> u16 {
        let status = delivery.http_status();
        let Some(event) = delivery.event().filter(|_| (200..300).contains(&status)) else {
            return status;
        };
        let task = event.task_id();
        // `Awaited` is what counts (it outlives the wait); the hub's own waits too, should
        // one be there that was not added to it.
        if task.is_some_and(|t| self.awaited.contains(&t) || self.hub.is_waiting_for(&t)) {
            return status;
        }
        tracing::info!(pipeline_key = %event.pipeline_key, "a webhook delivery of a task this command does not wait on (yet): recorded, and answered 503 so that VMEG delivers it again later");
        503
    }
}

fn with_provider(mut o: Outcome, cli: &Cli) -> Outcome {
    if let Some(p) = cli.provider {
        o.set("provider", Provider::from(p).as_str());
    }
    o
}

/// Builds an adapter client for a resolved target, waiting by webhook when given a hub.
pub fn build_client(t: &Target, hub: Option<CompletionHub>) -> Result<Client, Failure> {
    build_client_with(t, hub, &UploadBar::new(false), None)
}

/// [`build_client`], reporting uploads to `bar` and to `seen`.
fn build_client_with(
    t: &Target,
    hub: Option<CompletionHub>,
    bar: &UploadBar,
    seen: Option<&UploadSeen>,
) -> Result<Client, Failure> {
    let mut b = Client::builder(t.provider)
        .api_key(t.api_key.as_str())
        .allow_private_urls(t.allow_private_urls);
    if let Some(url) = &t.base_url {
        b = b.base_url(url.as_str());
    }
    if let Some(hub) = hub {
        b = b.completion_hub(hub);
    }
    let shown = bar.callback();
    match seen.cloned() {
        Some(seen) => {
            b = b.on_upload_progress(move |p| {
                seen.record(p);
                if let Some(show) = &shown {
                    show(p);
                }
            });
        }
        None => {
            if let Some(show) = shown {
                b = b.on_upload_progress(show);
            }
        }
    }
    b.build().map_err(Failure::from)
}

/// How far a clone's local recording has gone up, as the adapter reported it: what a signal
/// during the submit needs to tell "no create sent yet" from "not known". The last report,
/// and whether any report ever reached the total (a report of an earlier attempt, its body
/// still sent by the HTTP stack after its answer, can arrive after the final one's).
#[derive(Clone, Default)]
struct UploadSeen(std::sync::Arc<std::sync::Mutex<(Option<UploadProgress>, bool)>>);

impl UploadSeen {
    fn record(&self, p: UploadProgress) {
        // A poisoned lock only means a panic elsewhere; the value is still a plain copy.
        let mut seen = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.1 |= p.sent >= p.total;
        seen.0 = Some(p);
    }

    /// Whether the recording was seen part way up and never whole: the library sends the
    /// create only after the whole upload was read and answered (an answer before the last
    /// byte was read fails the upload), so a recording never reported whole proves no create
    /// was sent. No report at all proves nothing (VMEG's instant upload of a file it holds
    /// sends no bytes, and a URL clone none), nor does a report at the total (the upload's
    /// answer, VMEG's `complete`, or the create may be in flight).
    fn part_way(&self) -> bool {
        let seen = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        !seen.1 && seen.0.is_some_and(|p| p.sent < p.total)
    }
}

/// The clone's recording: an argument that parses as an http(s) URL is a URL, anything else
/// a local path.
fn audio_source(arg: &str) -> AudioSource {
    match url::Url::parse(arg.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => AudioSource::Url(arg.trim().to_owned()),
        _ => AudioSource::File(arg.into()),
    }
}

/// The wait policy: the provider's default, with `--timeout` as the deadline and
/// `--poll-interval` as the first interval.
pub fn policy(p: Provider, poll: &PollArgs) -> Result<WaitPolicy, Failure> {
    let mut policy = WaitPolicy::for_provider(p);
    if let Some(t) = poll.timeout {
        let d = secs(t, "--timeout")?;
        // No poll bound: the provider's 200 polls (about 32 min at its 10 s intervals) cut
        // an hour's `--timeout` short, whatever it said. The deadline bounds the wait, and
        // the intervals (10 s once grown, or `--poll-interval` if longer) bound its rate.
        policy = policy.with_deadline(Some(d)).with_max_polls(None);
    }
    if let Some(i) = poll.poll_interval {
        let d = secs(i, "--poll-interval")?;
        // 1e-300 is positive but a zero Duration: polls back to back, hammering the vendor.
        if d < MIN_POLL_INTERVAL {
            return Err(Failure::usage(format!(
                "--poll-interval must be at least {} s",
                MIN_POLL_INTERVAL.as_secs_f64()
            )));
        }
        let max = policy.max_interval.max(d);
        policy = policy.with_first_interval(d).with_max_interval(max);
    }
    if flat_polls(
        cfg!(debug_assertions),
        std::env::var(FLAT_POLLS_ENV).ok().as_deref(),
    ) {
        let first = policy.first_interval;
        policy = policy.with_max_interval(first);
    }
    Ok(policy)
}

/// Test seam, in debug builds only: `1` keeps every interval between polls at the first one
/// (`--poll-interval`), never growing to the provider's 10 s, so that a test makes hundreds
/// of polls in seconds.
const FLAT_POLLS_ENV: &str = "VOICECLONE_TEST_FLAT_POLLS";

/// Whether the [`FLAT_POLLS_ENV`] seam's `value` asks for flat polls, read in debug builds
/// (the tests') only: set by accident in a release run with a short `--poll-interval`, it
/// would poll the vendor that often for the whole wait.
fn flat_polls(debug: bool, value: Option<&str>) -> bool {
    debug && value.is_some_and(|v| v.trim() == "1")
}

/// `--timeout` or `--poll-interval` without `--wait`, or with `--sync`: a usage failure
/// (they would do nothing). With `--sync` the create's own answer carries the result, and
/// it may take up to VMEG's 180 s whatever `--timeout` says: a bound the command would not
/// keep is refused, as `--webhook-listen` is.
pub fn needs_wait(wait: bool, sync: bool, poll: &PollArgs) -> Option<Failure> {
    let given = poll.timeout.is_some() || poll.poll_interval.is_some();
    if given && sync {
        return Some(Failure::usage(
            "--timeout and --poll-interval bound waiting for an asynchronous task; with --sync the create's answer carries the result (VMEG gives it up to 180 s), so they would not apply",
        ));
    }
    (!wait && given).then(|| Failure::usage("--timeout and --poll-interval only apply with --wait"))
}

/// The shortest `--poll-interval` (10 ms).
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(10);

fn secs(v: f64, flag: &str) -> Result<Duration, Failure> {
    // One range for every flag of seconds (`crate::cli::seconds`).
    crate::cli::seconds(v).ok_or_else(|| {
        Failure::usage(format!(
            "{flag} must be a number of seconds from 0.001 to 1e9"
        ))
    })
}

fn task_failed(id: &JobId, reason: Option<&str>) -> Failure {
    let reason = reason.unwrap_or("the provider gave no reason");
    Failure::other(
        Exit::Failure,
        "task_failed",
        format!("task {id} failed: {reason}"),
    )
    .with("job_id", id.to_string())
    .with("vendor_id", id.as_str())
    .with("reason", reason)
}

async fn clone(
    client: &Client,
    p: Provider,
    args: &CloneArgs,
    printer: &Printer,
    bar: UploadBar,
    seen: &UploadSeen,
    awaited: Option<&Awaited>,
) -> Outcome {
    if let Some(f) = needs_wait(args.wait, args.sync, &args.poll) {
        return Outcome::failed(f);
    }
    let policy = match policy(p, &args.poll) {
        Ok(pol) => pol,
        Err(f) => return Outcome::failed(f),
    };
    let req = match clone_request(p, args) {
        Ok(req) => req,
        Err(f) => return Outcome::failed(f),
    };
    let mut signals = crate::signals::Signals::install().ok();
    let (req, key) = with_own_key(p, req, CloneRequest::idempotency_key);
    // Private URLs allowed: only the route and the body's names are taken from the plan,
    // and the client checks the URL itself.
    let request = create_summary(
        voiceclone::estimate::DryRun::clone_voice(p, &req, true),
        req.name.as_deref(),
    );
    let submitted = submit_or_signal(
        client.clone_voice(&req),
        &mut signals,
        key.as_deref(),
        JobKind::Clone,
        req.name.as_deref(),
        Some(seen),
        request,
    )
    .await;
    drop(bar);
    let job = match submitted {
        Ok(job) => job,
        Err(f) => return Outcome::failed(f),
    };
    // `--out` writes JimmyAI's preview: a create answered `completed` with the voice but not
    // its preview has not ended for it either (one poll gives the `audioUrl`), where writing
    // nothing was exit 1 `no_audio`, which a script reads as "failed" and clones again.
    let done = finished(&job)
        && (args.out.is_none()
            || job.status != TaskStatus::Succeeded
            || job.voice.as_ref().is_some_and(|v| v.preview_url.is_some()));
    let (mut o, job) = if args.wait && !done {
        printer.progress(&format!("submitted {p} clone job {}; waiting", job.id));
        let waited = finish_wait_with(client, job.clone(), &policy, printer, awaited);
        after_submit(interruptible(waited, job, &mut signals, Waited::Accepted).await)
    } else if args.sync {
        sync_result((job_outcome(&job), job))
    } else {
        (job_outcome(&job), job)
    };
    if !args.wait && o.failure.is_none() && !done {
        printer.progress(&crate::output::next_step(&wait_command(
            &job.id,
            voiceclone::JobKind::Clone,
        )));
    }
    o.fields.entry("waited").or_insert(false.into());
    if let Some(out) = &args.out
        && o.failure.is_none()
    {
        // JimmyAI's preview (VMEG was refused before sending).
        let urls: Vec<url::Url> = job
            .output()
            .and_then(|v| v.preview_url.clone())
            .into_iter()
            .collect();
        if urls.is_empty() && job.status == TaskStatus::Succeeded {
            // The wait succeeded with the voice but no usable preview (`audioUrl` missing or
            // not a URL): the clone is done and paid for, and its voice id is printed. Exit 1
            // (a failure) would have a script clone again and pay for a second preview; 3
            // says the outcome is unknown, which it is not. So 0, and the missing file said.
            no_preview(&job.id, printer, &mut o);
        } else {
            let budget = super::out::MAX_OUT_BYTES;
            super::out::write(
                client,
                &urls,
                out,
                budget,
                args.overwrite,
                printer,
                &mut o,
                &mut signals,
            )
            .await;
            // A preview that could not be fetched (refused, 404, not audio, too large) takes
            // nothing from a clone that succeeded: exit 1 would have a script clone again, as
            // for a missing preview. Exit 3 (transport, interrupted) stays: it stops a
            // resubmit already.
            if job.status == TaskStatus::Succeeded
                && o.failure.as_ref().is_some_and(|f| f.exit == Exit::Failure)
                && let Some(f) = o.failure.take()
            {
                preview_not_written(&job.id, &f, printer, &mut o);
            }
        }
    }
    o
}

/// `clone --wait --out` whose clone succeeded but whose preview could not be downloaded
/// (exit 1 from [`super::out::write`]): `files` as written, the download's failure as
/// `preview_error` (kind and message), a warning on stderr, and the run a success.
fn preview_not_written(id: &JobId, f: &Failure, printer: &Printer, o: &mut Outcome) {
    warn_voice_kept(id, printer, |status| {
        format!(
            "its preview could not be downloaded to --out ({}: {}); its URL is printed, and {status} shows it again",
            f.kind, f.message
        )
    });
    o.set(
        "preview_error",
        serde_json::json!({"kind": f.kind, "message": f.message}),
    );
}

/// `clone --wait --out` whose clone succeeded without a usable preview URL: nothing written
/// (`files` empty, `no_preview` true), a warning on stderr, and the run a success.
fn no_preview(id: &JobId, printer: &Printer, o: &mut Outcome) {
    warn_voice_kept(id, printer, |status| {
        format!(
            "the task gave no usable preview URL: nothing was written to --out; {status} shows the preview if JimmyAI gives one later"
        )
    });
    o.set("files", Vec::<serde_json::Value>::new());
    o.set("no_preview", true);
}

/// The warning, on stderr, of a clone `id` that succeeded without its preview written: what
/// went wrong (`why`, given the `status` command that shows the clone again), and that
/// running clone again bills a new one.
fn warn_voice_kept(id: &JobId, printer: &Printer, why: impl FnOnce(&str) -> String) {
    let status = format!(
        "`{}`{}",
        crate::output::suggested_command(&format!("status {}", sh_id(id))),
        crate::output::suggested_key_note()
    );
    crate::output::stderr_line(&printer.safe(&format!(
        "warning: the clone succeeded and its voice is usable, but {} (running clone again bills a new clone)",
        why(&status)
    )));
}

/// The clone request the flags describe (checked by the adapter when sent).
pub fn clone_request(p: Provider, args: &CloneArgs) -> Result<CloneRequest, Failure> {
    let mut req = CloneRequest::with_audio(audio_source(&args.audio));
    if let Some(n) = &args.name {
        req = req.name(n.as_str());
    }
    if let Some(l) = &args.language {
        req = req.language(l.as_str());
    }
    if let Some(t) = &args.text {
        req = req.sample_text(t.as_str());
    }
    if let Some(e) = &args.engine {
        req = req
            .engine(p, e)
            .map_err(|err| Failure::from(voiceclone::Error::from(err)))?;
    }
    if args.sync {
        req = req.synchronous(true);
    }
    Ok(req)
}

/// The speech request the flags describe (checked by the adapter when sent).
pub fn speech_request(args: &SpeakArgs) -> Result<SpeechRequest, Failure> {
    // The stored form (`jimmyai:voice;activated:<id>`) or a bare vendor voice id.
    let voice: voiceclone::VoiceId = args
        .voice
        .trim()
        .parse()
        .map_err(|e: voiceclone::ParseError| Failure::usage(format!("--voice: {}", e.reason())))?;
    let text = args
        .text
        .as_deref()
        .ok_or_else(|| Failure::usage("--text or --text-file is required"))?;
    let mut req = SpeechRequest::new(voice, text);
    if let Some(l) = &args.language {
        req = req.language(l.as_str());
    }
    if args.sync {
        req = req.synchronous(true);
    }
    Ok(req)
}

/// Whether a submit's answer says how the job ended: failed, or succeeded with its voice or
/// audio. A create answered `completed` without its result (a caching proxy, a server bug)
/// has not ended for `--wait`, which was asked for that result: the wait reads the task (one
/// poll), where exit 0 with nothing to use would have been the answer.
fn finished<J: CliJob>(job: &J) -> bool {
    match job.status() {
        TaskStatus::Succeeded => job.has_result(),
        status => status.is_terminal(),
    }
}

/// A job of either kind as an outcome (a failed task is a failure).
fn job_outcome<J: RenderJob>(job: &J) -> Outcome {
    let mut o = Outcome::default();
    put_job(&mut o, job);
    if *job.status() == TaskStatus::Failed {
        // As a wait's failure: a status word the vendor does not document is exit 3.
        o.failure = Some(task_failed(job.id(), job.error()).assumed_status(job.assumed_status()));
    }
    o
}

/// What the CLI needs to poll and wait for a job of one kind.
trait CliJob: RenderJob {
    /// Whether a succeeded job carries what it was for: a voice, or at least one audio URL.
    fn has_result(&self) -> bool;
    /// This job, succeeded with what its wait returned.
    fn completed(self, output: Self::Output) -> Self;
    fn fetch<'a>(client: &'a Client, id: &'a JobId) -> LocalFuture<'a, Result<Self, Error>>;
    fn wait<'a>(
        client: &'a Client,
        id: &'a JobId,
        policy: &'a WaitPolicy,
    ) -> LocalFuture<'a, Result<Self::Output, Error>>;
}

type LocalFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>>;

impl CliJob for CloneJob {
    fn has_result(&self) -> bool {
        self.voice.is_some()
    }
    fn completed(mut self, output: Voice) -> Self {
        self.set_status(TaskStatus::Succeeded);
        // The create's word (`queued`) no longer describes the task.
        self.vendor_status = None;
        self.set_output(output);
        self
    }
    fn fetch<'a>(client: &'a Client, id: &'a JobId) -> LocalFuture<'a, Result<Self, Error>> {
        Box::pin(client.clone_status(id))
    }
    fn wait<'a>(
        client: &'a Client,
        id: &'a JobId,
        policy: &'a WaitPolicy,
    ) -> LocalFuture<'a, Result<Voice, Error>> {
        Box::pin(client.wait_for_clone(id, policy))
    }
}

impl CliJob for SpeechJob {
    fn has_result(&self) -> bool {
        self.speech
            .as_ref()
            .is_some_and(|s| !s.audio_urls.is_empty())
    }
    /// The library's own: a completed JimmyAI task activated the `modelId` it used, and the
    /// job's voice says so (what `speak --wait` then prints to store).
    fn completed(self, output: Speech) -> Self {
        self.completed_with(output)
    }
    fn fetch<'a>(client: &'a Client, id: &'a JobId) -> LocalFuture<'a, Result<Self, Error>> {
        Box::pin(client.speech_status(id))
    }
    fn wait<'a>(
        client: &'a Client,
        id: &'a JobId,
        policy: &'a WaitPolicy,
    ) -> LocalFuture<'a, Result<Speech, Error>> {
        Box::pin(client.wait_for_speech(id, policy))
    }
}

/// Waits for a job of either kind, with a spinner, and renders where it ended; also hands
/// back the job (with its result when it succeeded). The job is added to `awaited` (the
/// tasks `--webhook-listen` answers 200) before the wait starts.
async fn finish_wait_with<J: CliJob>(
    client: &Client,
    mut job: J,
    policy: &WaitPolicy,
    printer: &Printer,
    awaited: Option<&Awaited>,
) -> (Outcome, J) {
    let kind = J::KIND;
    let spinner = Spinner::start(
        printer,
        format!(
            "waiting for {} {kind} job {} (status: {})",
            job.provider(),
            job.id(),
            job.status()
        ),
    );
    let policy = spinner.follow(
        policy,
        format!("waiting for {} {kind} job {}", job.provider(), job.id()),
    );
    let id = job.id().clone();
    if let Some(awaited) = awaited {
        awaited.add(&id);
    }
    let result = J::wait(client, &id, &policy).await;
    drop(spinner);
    let failure = match result {
        Ok(output) => {
            job = job.completed(output);
            None
        }
        Err(e) => {
            apply_wait_error(&mut job, &e);
            Some(Failure::from_adapter(&e))
        }
    };
    let mut o = job_outcome(&job);
    if failure.is_some() {
        o.failure = failure;
    }
    o.set("waited", true);
    (o, job)
}

/// What a wait is for: a job this command submitted and saw accepted, or an id given on the
/// command line (`wait JOB_ID`), of which nothing is known.
#[derive(Clone, Copy)]
enum Waited {
    Accepted,
    ById,
}

/// `waited` (the wait for an accepted job), unless SIGINT or SIGTERM comes first: then the
/// job, accepted and running (it may be billed), is reported with its id and exit 3, so
/// that stopping the command never loses it. Before, the process died by the signal with
/// nothing printed (in `--json` or `--quiet`, the job id was nowhere).
async fn interruptible<J: CliJob>(
    waited: impl std::future::Future<Output = (Outcome, J)>,
    job: J,
    signals: &mut Option<crate::signals::Signals>,
    waited_for: Waited,
) -> (Outcome, J) {
    let Some(signals) = signals.as_mut() else {
        return waited.await;
    };
    // A wait that ended with the signal is reported as it ended (biased: the wait first).
    match crate::signals::unless(waited, signals.next()).await {
        Ok(done) => done,
        Err(name) => {
            let mut o = job_outcome(&job);
            // A job still waited on that says `succeeded` has it from its create's answer
            // alone, which came without the result: not a status to print as the provider's.
            if *job.status() == TaskStatus::Succeeded {
                forget_status(&mut o, &job);
            }
            let message = match waited_for {
                Waited::Accepted => format!(
                    "{name}: stopped waiting; job {} was accepted and goes on (it may be billed): `{}`{} follows it",
                    job.id(),
                    wait_command(job.id(), J::KIND),
                    crate::output::suggested_key_note()
                ),
                // An id from the command line: nothing is known of it yet.
                Waited::ById => format!(
                    "{name}: stopped waiting for job {}; nothing is known of how it ended: `{}`{} follows it",
                    job.id(),
                    wait_command(job.id(), J::KIND),
                    crate::output::suggested_key_note()
                ),
            };
            // The id at the top (as every job result has it) and in the error (as `status`
            // and the long run name theirs): a script reading either finds it.
            o.failure = Some(
                Failure::other(Exit::Unreachable, "interrupted", message)
                    .with("job_id", job.id().to_string()),
            );
            o.set("waited", false);
            (o, job)
        }
    }
}

/// A VMEG submit's idempotency key, made here (a new uuid clear of the API key,
/// [`crate::own_key`]): the command then knows it while the submit is in flight, so a signal
/// or a lost answer can name what to look the job up by. JimmyAI takes no key.
fn with_own_key<R>(p: Provider, req: R, set: fn(R, String) -> R) -> (R, Option<String>) {
    if p != Provider::Vmeg {
        return (req, None);
    }
    let key = crate::own_key::new("");
    (set(req, key.clone()), Some(key))
}

/// The submit, unless SIGINT or SIGTERM comes first. A signal during the submit stops it
/// where it is: whether the provider created (and will bill) a job is not known, so the
/// command says so with the key and submit time to look it up by (exit 3), instead of dying
/// with nothing printed. A 409 "key already used" on the command's own key means one of
/// its own requests landed: unknown too, never a failure a script would resubmit. A clone's
/// `voice_name` goes into the suggested reconcile, as the adapter's own unknown outcomes
/// carry it: for a synchronous clone the only tie the search has. A signal while a clone's
/// local recording is seen part way up (`upload`) comes before any create: no clone was
/// submitted, and nothing is to be looked up. `request` is the create's summary
/// ([`create_summary`]), which such an error carries as the adapter's own unknown outcome
/// does.
async fn submit_or_signal<J>(
    submit: impl std::future::Future<Output = Result<J, voiceclone::Error>>,
    signals: &mut Option<crate::signals::Signals>,
    own_key: Option<&str>,
    kind: JobKind,
    voice_name: Option<&str>,
    upload: Option<&UploadSeen>,
    request: voiceclone::RequestSummary,
) -> Result<J, Failure> {
    // Whole and not blank, as `ReconcileQuery::from_error` takes it.
    let voice_name = voice_name.filter(|n| !n.trim().is_empty());
    let at = std::time::SystemTime::now();
    // The submit (with a local recording's upload, and retries) may have run for minutes:
    // the task can have been made any time up to now, so the span to search ends now.
    let unknown = |what: &str, message: String| {
        let e = voiceclone::Error::new(ErrorKind::OutcomeUnknown {
            idempotency_key: own_key.map(str::to_owned),
            task_id: None,
            submitted_at: at,
            request: request.clone(),
        });
        let last = std::time::SystemTime::now();
        let mut f = Failure::from_adapter(&e)
            .with("operation", operation(kind))
            .with("last_attempt_at", crate::output::rfc3339(last));
        f.kind = what.to_owned();
        f.message = format!(
            "{message}: {}",
            look_up(kind, own_key, None, voice_name, at, last)
        );
        f
    };
    let result = match signals.as_mut() {
        Some(signals) => tokio::select! {
            // An answer that came with the signal wins: its job is known.
            biased;
            r = submit => r,
            name = signals.next() => {
                if upload.is_some_and(UploadSeen::part_way) {
                    return Err(Failure::other(
                        Exit::Unreachable,
                        "interrupted",
                        format!("{name}: stopped while the recording was still uploading; no clone was submitted (the create is sent only after the upload), so running the command again is safe"),
                    )
                    .with("no_clone_submitted", true));
                }
                return Err(unknown("interrupted", format!(
                    "{name}: stopped during the submit; whether a job was created (and billed) is not known"
                )));
            }
        },
        None => submit.await,
    };
    result.map_err(|e| {
        if own_key.is_some() && *e.kind() == ErrorKind::Conflict {
            unknown("outcome_unknown", "VMEG answered \"idempotency key already used\" for this command's own new key: one of its own requests landed, so a job may exist".to_owned())
        } else {
            let submit = Submit {
                kind,
                own_key,
                voice_name,
                at,
            };
            unknown_from_adapter(&e, &submit)
        }
    })
}

/// The adapter's name of a create of `kind`, as its errors give it (`operation`).
fn operation(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Clone => "clone_voice",
        JobKind::Speech => "synthesize",
    }
}

/// The summary of a create this command sends, for the unknown outcome of a signal or of a
/// 409 on its own key, filled as the adapter fills its own (method, route and the body's
/// identifying fields): the method and route of the library's plan of the same request
/// (what `--dry-run` prints; its last step, after a local recording's upload), and the
/// voice name, when one was given, as the provider's body has it (`voiceName`, VMEG). The
/// body's other fields are left out: summarizing free text (as a length and a hash) is
/// the library's own. An empty summary when the plan refuses the request, which the
/// client then refuses too, before sending.
fn create_summary(
    planned: Result<voiceclone::estimate::DryRun, voiceclone::Error>,
    voice_name: Option<&str>,
) -> voiceclone::RequestSummary {
    let mut summary = voiceclone::RequestSummary::default();
    let Some(create) = planned.ok().and_then(|run| run.requests.last().cloned()) else {
        return summary;
    };
    summary.method = create.method.to_owned();
    summary.route = create.path;
    // The name as the body sends it; a nameless clone's is made only when it is sent.
    let sent = create
        .body
        .get("voiceName")
        .and_then(serde_json::Value::as_str);
    if let Some(name) = sent.filter(|_| voice_name.is_some_and(|n| !n.trim().is_empty())) {
        summary
            .fields
            .push(("voiceName".to_owned(), name.to_owned()));
    }
    summary
}

/// What a submit's failure names to look its job up by: the kind, this command's own key
/// (VMEG), a clone's voice name, and when it was sent.
struct Submit<'a> {
    kind: JobKind,
    own_key: Option<&'a str>,
    voice_name: Option<&'a str>,
    at: std::time::SystemTime,
}

/// The adapter's error for a submit, with, for an unknown outcome, the lookup in its message:
/// the reconcile command with the key and both times (VMEG), or the span of time to check
/// the account in (JimmyAI). The last attempt matters: with retries (4 attempts, a 180 s
/// sync create) the task can have been made minutes after the submit time, outside the
/// span a search around that time alone covers. Without `--json` the message is the only
/// place these are printed.
fn unknown_from_adapter(e: &voiceclone::Error, submit: &Submit<'_>) -> Failure {
    let kind = submit.kind;
    let mut f = Failure::from_adapter(e);
    if let ErrorKind::OutcomeUnknown {
        idempotency_key,
        task_id,
        submitted_at,
        ..
    } = e.kind()
    {
        // No time from the adapter: the answer was lost by now at the latest.
        let last = e
            .last_attempt_at()
            .unwrap_or_else(std::time::SystemTime::now);
        f.details
            .entry("last_attempt_at")
            .or_insert_with(|| crate::output::rfc3339(last).into());
        // The voice name as the library's own query takes it (whole, not blank): for a
        // synchronous clone the only tie the search has.
        let voice_name = voiceclone::ReconcileQuery::from_error(e)
            .ok()
            .and_then(|q| q.voice_name);
        let look_up = look_up(
            kind,
            idempotency_key.as_deref(),
            task_id.as_ref(),
            voice_name.as_deref(),
            *submitted_at,
            last,
        );
        f.message = format!("{}: {look_up}", f.message);
    } else if !e.may_resubmit() && f.exit != Exit::Unreachable && create_may_have_been_sent(e) {
        // An answer to the create that the library does not count as proof that nothing was
        // made (a 5xx, a 404, an unreadable answer, JimmyAI's undocumented 20002 in an HTTP
        // 200): exit 3 with the times and where to look, as `speak --text-file` keeps such a
        // part unknown. Exit 1 reads as "refused, submit again", a second paid task; the kind
        // stays what the answer said.
        let last = e
            .last_attempt_at()
            .unwrap_or_else(std::time::SystemTime::now);
        f.exit = Exit::Unreachable;
        if let Some(key) = submit.own_key {
            f.details.insert("idempotency_key".into(), key.into());
        }
        f.details.insert(
            "submitted_at".into(),
            crate::output::rfc3339(submit.at).into(),
        );
        f.details.insert(
            "submitted_at_unix_ms".into(),
            crate::output::unix_ms(submit.at).into(),
        );
        f.details
            .entry("last_attempt_at")
            .or_insert_with(|| crate::output::rfc3339(last).into());
        let look_up = look_up(
            kind,
            submit.own_key,
            None,
            submit.voice_name,
            submit.at,
            last,
        );
        f.message = format!(
            "{}; this answer to the create is not one that proves nothing was made (`may_resubmit()` is false), so its outcome is not known: {look_up}",
            f.message
        );
    }
    f
}

/// Whether a submit's error may come from its create (or a step after it): not when it comes
/// from a step of sending a local recording that precedes the create (`gen-upload-url`,
/// `files/upload`, a PUT: `no_clone_submitted`, safe to call again), nor from an upload
/// call. Those keep their own exit code (1 for a refusal): nothing is there to look up.
fn create_may_have_been_sent(e: &Error) -> bool {
    if e.step().is_some_and(|s| !s.after_submit()) {
        return false;
    }
    e.operation() != Some("upload")
}

/// What to do about a submit whose outcome is unknown, made at `at` and last attempted at
/// `last`: with a key or a task the answer named, the reconcile command ready to paste;
/// without either (JimmyAI), the span of time to check the account's jobs in.
fn look_up(
    kind: JobKind,
    key: Option<&str>,
    task: Option<&JobId>,
    voice_name: Option<&str>,
    at: std::time::SystemTime,
    last: std::time::SystemTime,
) -> String {
    let (at, last) = (crate::output::rfc3339(at), crate::output::rfc3339(last));
    if key.is_none() && task.is_none() {
        return format!(
            "JimmyAI cannot look a job up by key: check the account for a job submitted at {at}, last attempt at {last}, before submitting again"
        );
    }
    format!(
        "look it up with `{}`{} before submitting again",
        reconcile_command(kind, &at, &last, key, task, voice_name),
        crate::output::suggested_key_note()
    )
}

/// `voiceclone --provider vmeg [--base-url URL] reconcile ...` for a submit of `kind` made at
/// `submitted_at` whose last attempt ended at `last_attempt_at`, with its key, the task its
/// answer named and a clone's voice name when known, every value shell-quoted
/// ([`crate::output::suggested_command`]).
fn reconcile_command(
    kind: JobKind,
    submitted_at: &str,
    last_attempt_at: &str,
    key: Option<&str>,
    task: Option<&JobId>,
    voice_name: Option<&str>,
) -> String {
    use crate::output::shell_word as sh;
    let mut args = format!(
        "reconcile --kind {} --submitted-at {} --last-attempt-at {}",
        kind_name(kind),
        sh(submitted_at),
        sh(last_attempt_at),
    );
    if let Some(key) = key {
        args = format!("{args} --key {}", sh(key));
    }
    if let Some(id) = task {
        args = format!("{args} --task-id {}", sh_id(id));
    }
    // After `=`: a name starting with `-` would be read as an option.
    if let Some(name) = voice_name {
        args = format!("{args} --voice-name={}", sh(name));
    }
    crate::output::suggested_command(&args)
}

/// `id` in its stored form as one shell word, for a suggested `voiceclone wait ID`: a
/// server chooses the id, and `$(...)` or `;` in it must paste as text.
fn sh_id(id: &JobId) -> String {
    // The stored form (`vmeg:speech:t1`), which says its kind to `wait`; not `as_ref`,
    // which is the bare vendor id.
    let stored = id.to_string();
    crate::output::shell_word(&stored).into_owned()
}

/// `voiceclone --provider P [--base-url URL] wait [--kind speech] ID` for `id`, a job of
/// `kind`, ready to paste ([`crate::output::suggested_command`]). `--kind speech` also for
/// a stored-form id, which says it: an id given bare to `wait` does not.
fn wait_command(id: &JobId, kind: voiceclone::JobKind) -> String {
    let flag = match kind {
        voiceclone::JobKind::Speech => "--kind speech ",
        _ => "",
    };
    crate::output::suggested_command(&format!("wait {flag}{}", sh_id(id)))
}

/// A wait that failed after the job was accepted, for a reason other than the task's own
/// failure (a poll answered 404 before the task was readable, a proxy's HTML page): the job
/// exists and may be billed, so its outcome is unknown (exit 3, the job id kept, no status
/// claimed), never a failure a script would submit again (exit 1).
fn after_submit<J: CliJob>((mut o, job): (Outcome, J)) -> (Outcome, J) {
    if let Some(f) = o.failure.as_mut()
        && f.kind != "task_failed"
        && f.exit != Exit::Unreachable
    {
        f.exit = Exit::Unreachable;
        f.message = format!(
            "job {} was accepted, but waiting for it failed ({}); its outcome is not known: do not submit it again, check it with `{}`{}",
            job.id(),
            f.message,
            wait_command(job.id(), J::KIND),
            with_which_key(&f.kind),
        );
        forget_status(&mut o, &job);
    }
    (o, job)
}

/// What a wait that ended on a refused key adds to the command it suggests: a bad key says
/// nothing of the job (exit 3, not 1), but the same command under the same key fails the
/// same way, so "later" alone would loop for ever.
fn with_which_key(kind: &str) -> String {
    if kind == "unauthorized" {
        " with the key of the account that submitted it: the API key was refused, which says nothing of the job".to_owned()
    } else {
        crate::output::suggested_key_note()
    }
}

/// A `--sync` answer: the job comes back finished, so a success without its voice or audio
/// is a paid job whose result did not come with it: exit 3 with the job id (look it up, do
/// not submit again), never exit 0 with nothing to use.
fn sync_result<J: CliJob>((mut o, job): (Outcome, J)) -> (Outcome, J) {
    if o.failure.is_none() && *job.status() == TaskStatus::Succeeded && !job.has_result() {
        let what = match J::KIND {
            voiceclone::JobKind::Clone => "voice",
            _ => "audio URL",
        };
        o.failure = Some(
            Failure::other(
                Exit::Unreachable,
                "invalid_response",
                format!(
                    "job {} succeeded, but the synchronous answer carries no {what}: do not submit it again, fetch the result with `{}`{}",
                    job.id(),
                    wait_command(job.id(), J::KIND),
                    crate::output::suggested_key_note()
                ),
            )
            .with("job_id", job.id().to_string()),
        );
    }
    (o, job)
}

/// What a failed wait says about the task's status.
fn apply_wait_error<J: Job>(job: &mut J, e: &voiceclone::Error) {
    match e.kind() {
        ErrorKind::TaskFailed { reason, .. } => {
            job.set_status(TaskStatus::Failed);
            job.set_error(reason.clone());
        }
        ErrorKind::WaitTimedOut { last_status, .. } => job.set_status(last_status.clone()),
        _ => {}
    }
}

/// `JOB_ID` and `--kind`: a stored-form id says its kind (`--kind` must agree); a bare id
/// takes `--kind` (default clone), checked later against the vendor's answer.
fn job_id(raw: &str, kind: Option<JobKind>) -> Result<(JobId, JobKind), Failure> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Failure::usage("JOB_ID is empty"));
    }
    let id: JobId = raw
        .parse()
        .map_err(|e: voiceclone::ParseError| Failure::usage(format!("JOB_ID: {}", e.reason())))?;
    let said = match id.kind() {
        Some(voiceclone::JobKind::Speech) => Some(JobKind::Speech),
        Some(_) => Some(JobKind::Clone),
        None => None,
    };
    match (said, kind) {
        (Some(s), Some(k)) if s != k => Err(Failure::usage(format!(
            "JOB_ID {id} is a {} job, but --kind says {}",
            kind_name(s),
            kind_name(k)
        ))),
        (Some(s), _) => Ok((id, s)),
        (None, k) => Ok((id, k.unwrap_or_default())),
    }
}

fn kind_name(k: JobKind) -> &'static str {
    match k {
        JobKind::Clone => "clone",
        JobKind::Speech => "speech",
    }
}

async fn status(client: &Client, p: Provider, id: &JobId, kind: JobKind) -> Outcome {
    if id.as_str().is_empty() {
        return Outcome::failed(Failure::usage("JOB_ID is empty"));
    }
    async fn status_of<J: CliJob>(client: &Client, id: &JobId) -> Outcome {
        // A signal during the read still ends in one result (exit 3, the job named), not
        // a process killed with nothing printed.
        let mut signals = crate::signals::Signals::install().ok();
        let fetched = J::fetch(client, id);
        let fetched = match signals.as_mut() {
            Some(signals) => tokio::select! {
                biased;
                r = fetched => r,
                name = signals.next() => {
                    // The id in the error and at the top, as `wait` names its job.
                    let mut o = Outcome::failed(
                        Failure::other(
                            Exit::Unreachable,
                            "interrupted",
                            format!("{name}: stopped before the status of job {id} was read"),
                        )
                        .with("job_id", id.to_string()),
                    );
                    o.set("job_id", id.to_string());
                    o.set("vendor_id", id.as_str());
                    return o;
                }
            },
            None => fetched.await,
        };
        match fetched {
            Ok(job) => {
                let mut o = job_outcome(&job);
                put_success(&mut o, &job);
                o
            }
            Err(e) => Outcome::failed(e.into()),
        }
    }
    let mut o = match kind {
        JobKind::Clone => status_of::<CloneJob>(client, id).await,
        JobKind::Speech => status_of::<SpeechJob>(client, id).await,
    };
    add_kind_hint(&mut o, p, id, kind);
    o
}

/// A job id of the other kind reads as "not found" or an odd result: say so.
fn add_kind_hint(o: &mut Outcome, p: Provider, id: &JobId, kind: JobKind) {
    let Some(f) = o.failure.take() else { return };
    let f = if matches!(
        f.kind.as_str(),
        "not_found" | "invalid_response" | "invalid_request"
    ) {
        let (this, other) = match kind {
            JobKind::Clone => ("clone", "speech"),
            JobKind::Speech => ("speech", "clone"),
        };
        let hint = format!(
            "if {id} is not a {this} job of this {p} account, check the id, or pass --kind {other}"
        );
        Failure {
            message: format!("{} (hint: {hint})", f.message),
            ..f
        }
        .with("hint", hint)
    } else {
        f
    };
    o.failure = Some(f);
}

async fn wait(
    client: &Client,
    p: Provider,
    id: &JobId,
    kind: JobKind,
    poll: &PollArgs,
    printer: &Printer,
) -> Outcome {
    if id.as_str().is_empty() {
        return Outcome::failed(Failure::usage("JOB_ID is empty"));
    }
    let policy = match policy(p, poll) {
        Ok(pol) => pol,
        Err(f) => return Outcome::failed(f),
    };
    // SIGINT or SIGTERM (`docker stop`, a CI timeout) ends the wait with the job named and
    // exit 3, as `clone --wait` does: before, SIGTERM killed it with nothing printed.
    let mut signals = crate::signals::Signals::install().ok();
    /// The wait for a job known by its id alone (made `queued` only to be rendered).
    async fn wait_by_id<J: CliJob + Clone>(
        client: &Client,
        job: J,
        policy: &WaitPolicy,
        printer: &Printer,
        signals: &mut Option<crate::signals::Signals>,
    ) -> Outcome {
        let waited = finish_wait_with(client, job.clone(), policy, printer, None);
        let (mut o, job) = interruptible(waited, job, signals, Waited::ById).await;
        // Nothing is known about the task (interrupted, or a wait that failed for another
        // reason than the task's failure or the deadline): no status is claimed, in JSON
        // or in the human line.
        if o.failure
            .as_ref()
            .is_some_and(|f| f.kind != "task_failed" && f.kind != "wait_timed_out")
        {
            forget_status(&mut o, &job);
        }
        put_success(&mut o, &job);
        o
    }
    let mut o = match kind {
        JobKind::Clone => {
            let job = CloneJob::new(p, id.clone(), TaskStatus::Queued);
            wait_by_id(client, job, &policy, printer, &mut signals).await
        }
        JobKind::Speech => {
            let job = SpeechJob::new(p, id.clone(), TaskStatus::Queued);
            wait_by_id(client, job, &policy, printer, &mut signals).await
        }
    };
    if o.failure.as_ref().is_some_and(answered_wrong_kind) {
        return wrong_kind_wait(client, p, id, kind, o, &mut signals).await;
    }
    // The command a caller runs after an interrupted submit: a wait that failed for any
    // reason but the task's own failure (or input refused before sending) says nothing of
    // the job, which may exist and be billed: exit 3, as `clone --wait` does, never 1, which
    // a script would take as "failed, submit again".
    if let Some(f) = o.failure.as_mut()
        && f.kind != "task_failed"
        && f.exit == Exit::Failure
    {
        f.exit = Exit::Unreachable;
        let when = if f.kind == "unauthorized" {
            ""
        } else {
            " later"
        };
        f.message = format!(
            "waiting for job {id} failed ({}); its outcome is not known: do not submit it again, run `{}`{when}{}",
            f.message,
            wait_command(
                id,
                match kind {
                    JobKind::Clone => voiceclone::JobKind::Clone,
                    JobKind::Speech => voiceclone::JobKind::Speech,
                }
            ),
            with_which_key(&f.kind),
        );
    }
    o
}

/// Whether a wait failed because the vendor's answer says the task is of another kind than
/// the one waited for: the library's `InvalidInput` on `job_id` found in an answer (so not
/// exit 2, which says nothing was sent). Input refused before sending stays exit 2.
fn answered_wrong_kind(f: &Failure) -> bool {
    f.kind == "invalid_input"
        && f.exit == Exit::Failure
        && f.details.get("field").and_then(|v| v.as_str()) == Some("job_id")
}

/// `wait ID` answered "a task of the other kind" (a bare id takes `--kind clone` by default,
/// a speech task's vendor id kept by a script): the same command fails the same way for ever,
/// so the wait suggested is of the other kind, once one read of the task as that kind shows
/// that it is one (VMEG has task types of neither kind). The job is not printed in the stored
/// form of the kind it is not. Exit 3, as any wait that ends without the task's outcome: the
/// task exists (it may be billed), and exit 1 reads as "failed, submit again". The read is
/// raced against SIGINT and SIGTERM, as `status` reads: a signal ends it at once (exit 3,
/// `interrupted`), never swallowed until a read that may take minutes (retries) ends.
async fn wrong_kind_wait(
    client: &Client,
    p: Provider,
    id: &JobId,
    kind: JobKind,
    mut o: Outcome,
    signals: &mut Option<crate::signals::Signals>,
) -> Outcome {
    let Some(f) = o.failure.take() else {
        return o;
    };
    let other = match kind {
        JobKind::Clone => JobKind::Speech,
        JobKind::Speech => JobKind::Clone,
    };
    let other_kind = match other {
        JobKind::Clone => voiceclone::JobKind::Clone,
        JobKind::Speech => voiceclone::JobKind::Speech,
    };
    // The vendor's own id, read as the other kind (a stored id of this kind would be refused
    // by the call before sending).
    let bare = JobId::new(id.as_str());
    let read = async {
        match other {
            JobKind::Clone => client.clone_status(&bare).await.map(drop),
            JobKind::Speech => client.speech_status(&bare).await.map(drop),
        }
    };
    let read = match signals.as_mut() {
        Some(signals) => crate::signals::unless(read, signals.next()).await,
        None => Ok(read.await),
    };
    // The wrong kind's stored form (`vmeg:clone:<id>` for a speech task) and the status line
    // that names it are taken back: stored, or pasted, it fails the same way.
    o.fields.remove("job_id");
    o.fields.remove("kind");
    o.fields.remove("status");
    o.lines.clear();
    let (this, that) = (kind_name(kind), kind_name(other));
    let read = match read {
        Ok(read) => read,
        Err(name) => {
            let hint = format!(
                "if {} is a {that} job, wait for it with --kind {that}",
                id.as_str()
            );
            o.failure = Some(
                Failure::other(
                    Exit::Unreachable,
                    "interrupted",
                    format!(
                        "{name}: stopped while reading job {} as a {that} job; it is not a {this} job ({}); its outcome is not known: do not submit it again ({hint})",
                        id.as_str(),
                        f.message
                    ),
                )
                .with("vendor_id", id.as_str())
                .with("hint", hint),
            );
            return o;
        }
    };
    let f = if let Err(e) = &read
        && !matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "job_id")
    {
        // The read failed for another reason than "not that kind either" (a timeout, a
        // 5xx): whether it is one is not known, which the message says rather than "check
        // the id".
        Failure {
            exit: Exit::Unreachable,
            message: format!(
                "job {} is not a {this} job ({}), and reading it as a {that} job failed ({e}): whether it is one is not known; do not submit it again",
                id.as_str(),
                f.message
            ),
            ..f
        }
        .with(
            "hint",
            format!(
                "if {} is a {that} job, wait for it with --kind {that}",
                id.as_str()
            ),
        )
    } else if read.is_ok() {
        let typed = JobId::typed(p, other_kind, id.as_str());
        let command =
            crate::output::suggested_command(&format!("wait --kind {that} {}", sh_id(&typed)));
        o.set("job_id", typed.to_string());
        o.set("kind", that);
        Failure {
            exit: Exit::Unreachable,
            message: format!(
                "job {} is a {that} job, not a {this} job ({}); its outcome is not known: do not submit it again, wait for it with `{command}`{}",
                id.as_str(),
                f.message,
                crate::output::suggested_key_note()
            ),
            ..f
        }
        .with("job_id", typed.to_string())
        .with("hint", format!("pass --kind {that}: `{command}`"))
    } else {
        Failure {
            exit: Exit::Unreachable,
            message: format!(
                "job {} is not a {this} job ({}), and its answer read as a {that} job says it is not one either: check the id (it may be a task of another kind of work)",
                id.as_str(),
                f.message
            ),
            ..f
        }
        .with(
            "hint",
            format!(
                "if {} is not a {this} job of this {p} account, check the id, or pass --kind {that}",
                id.as_str()
            ),
        )
    };
    o.failure = Some(f);
    o
}

async fn speak(
    client: &Client,
    api_key: &str,
    p: Provider,
    args: &SpeakArgs,
    printer: &Printer,
    awaited: Option<&Awaited>,
) -> Outcome {
    if let Some(file) = &args.text_file {
        return super::long::run(client, api_key, p, args, file, printer, awaited).await;
    }
    if let Some(f) = needs_wait(args.wait, args.sync, &args.poll) {
        return Outcome::failed(f);
    }
    let policy = match policy(p, &args.poll) {
        Ok(pol) => pol,
        Err(f) => return Outcome::failed(f),
    };
    let req = match speech_request(args) {
        Ok(req) => req,
        Err(f) => return Outcome::failed(f),
    };
    let mut signals = crate::signals::Signals::install().ok();
    let (req, key) = with_own_key(p, req, SpeechRequest::idempotency_key);
    let request = create_summary(
        voiceclone::estimate::DryRun::speech(p, std::slice::from_ref(&req)),
        None,
    );
    let job = match submit_or_signal(
        client.synthesize(&req),
        &mut signals,
        key.as_deref(),
        JobKind::Speech,
        None,
        None,
        request,
    )
    .await
    {
        Ok(job) => job,
        Err(f) => return Outcome::failed(f),
    };
    // Only a wait sees the task succeed: the create's answer alone never says the voice
    // became permanent.
    let waits = args.wait && !finished(&job);
    let (mut o, job) = if waits {
        printer.progress(&format!("submitted {p} speech job {}; waiting", job.id));
        let waited = finish_wait_with(client, job.clone(), &policy, printer, awaited);
        after_submit(interruptible(waited, job, &mut signals, Waited::Accepted).await)
    } else if args.sync {
        sync_result((job_outcome(&job), job))
    } else {
        (job_outcome(&job), job)
    };
    if !args.wait && o.failure.is_none() && !finished(&job) {
        printer.progress(&crate::output::next_step(&wait_command(
            &job.id,
            voiceclone::JobKind::Speech,
        )));
    }
    o.fields.entry("waited").or_insert(false.into());
    // Before the download: the wait saw the speech succeed with its audio, so its voice is
    // activated whatever becomes of the file (a download failing after must not hide the
    // activated id the user has to store).
    if waits {
        put_success(&mut o, &job);
    }
    if let Some(out) = &args.out
        && o.failure.is_none()
    {
        let urls = job
            .output()
            .map(|s| s.audio_urls.clone())
            .unwrap_or_default();
        let budget = args.max_total_bytes;
        super::out::write(
            client,
            &urls,
            out,
            budget,
            args.overwrite,
            printer,
            &mut o,
            &mut signals,
        )
        .await;
    }
    o
}

async fn voices(client: &Client, p: Provider, timeout: Option<Duration>) -> Outcome {
    let unread = voiceclone::UnreadRecords::new();
    let listing = client.voices_counting_unread(false, &unread);
    match super::tasks::collect_within(timeout, listing).await {
        Ok(voices) => {
            let mut o = Outcome::default();
            o.set("provider", p.as_str());
            o.set("voices", voices.iter().map(voice_json).collect::<Vec<_>>());
            if voices.is_empty() && unread.is_complete() {
                o.line(format!("no cloned voices on this {p} account"));
            }
            for v in &voices {
                let mut line = v.id.as_str().to_owned();
                if let Some(n) = &v.name {
                    line.push_str(&format!("  {n}"));
                }
                if let Some(u) = &v.preview_url {
                    line.push_str(&format!("  {u}"));
                }
                o.line(line);
            }
            super::tasks::note_unread(&mut o, &unread, "voice");
            o
        }
        Err(f) => Outcome::failed(f),
    }
}

async fn upload(client: &Client, p: Provider, file: &std::path::Path, bar: UploadBar) -> Outcome {
    let uploaded = client.upload_sample(file).await;
    drop(bar);
    match uploaded {
        Ok(url) => {
            let mut o = Outcome::default();
            o.set("provider", p.as_str());
            o.set("file_url", url.as_str());
            o.line(format!("uploaded: {url}"));
            o
        }
        Err(e) => Outcome::failed(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Review 26 pass 2 (files) #1: a recording once reported whole is never "part way" again,
    /// even when a report short of the total comes after it (an earlier attempt's body, still
    /// sent by the HTTP stack after its answer): the create may be in flight, so a signal then
    /// is an unknown outcome, not "no clone was submitted". No report at all is not part way.
    #[test]
    fn a_recording_once_reported_whole_is_never_part_way_again() {
        let seen = UploadSeen::default();
        assert!(!seen.part_way(), "no report proves nothing");
        seen.record(UploadProgress::new(10, 100));
        assert!(seen.part_way());
        seen.record(UploadProgress::new(100, 100));
        assert!(!seen.part_way());
        seen.record(UploadProgress::new(40, 100));
        assert!(!seen.part_way(), "a late report of an earlier attempt");
    }

    /// Review 32-b #1: `--timeout` alone bounds the wait (no 200-poll cut, about 32 min in);
    /// without it the provider's default keeps its deadline and its poll bound. The flat-polls
    /// seam is read in debug builds only, and only as `1`.
    #[test]
    #[allow(clippy::unwrap_used)]
    fn a_timeout_lifts_the_poll_bound_and_the_seam_is_debug_only() {
        for p in [Provider::Vmeg, Provider::JimmyAi] {
            let given = PollArgs {
                timeout: Some(3600.0),
                poll_interval: None,
            };
            let with = policy(p, &given).unwrap();
            assert_eq!(with.max_polls, None, "{p:?}");
            assert_eq!(with.deadline, Some(Duration::from_secs(3600)), "{p:?}");
            let without = PollArgs {
                timeout: None,
                poll_interval: None,
            };
            assert_eq!(
                policy(p, &without).unwrap(),
                WaitPolicy::for_provider(p),
                "{p:?}"
            );
        }
        assert!(flat_polls(true, Some(" 1\n")));
        assert!(!flat_polls(false, Some("1")));
        assert!(!flat_polls(true, Some("0")) && !flat_polls(true, None));
    }

    /// The suggested `reconcile` carries the task the answer named: without it the search
    /// can answer `none` for a task dated outside the window (VMEG), and JimmyAI, with no
    /// key, got no command at all.
    #[test]
    fn the_suggested_reconcile_names_the_task_the_answer_named() {
        let at = std::time::SystemTime::now();
        let id = JobId::typed(Provider::Vmeg, voiceclone::JobKind::Clone, "A");
        let text = look_up(JobKind::Clone, Some("k-1"), Some(&id), None, at, at);
        assert!(
            text.contains("--task-id vmeg:clone:A") && text.contains("--key k-1"),
            "{text}"
        );
        let id = JobId::typed(Provider::JimmyAi, voiceclone::JobKind::Speech, "audio_1");
        let text = look_up(JobKind::Speech, None, Some(&id), None, at, at);
        assert!(text.contains("reconcile --kind speech"), "{text}");
        assert!(text.contains("--task-id jimmyai:speech:audio_1"), "{text}");
        assert!(!text.contains("--key"), "{text}");
    }

    /// Review 23 pass 2 #9: an unknown clone's error whose request summary holds the voice
    /// name suggests a reconcile with `--voice-name`, as `ReconcileQuery::from_error` uses
    /// it (the only tie for a synchronous clone), shell-quoted and after `=` so a name
    /// starting with `-` is not read as an option. A blank name or one cut for the summary
    /// ties nothing and is left out.
    #[test]
    fn the_suggested_reconcile_carries_the_voice_name_the_request_held() {
        let at = std::time::SystemTime::now();
        let unknown = |name: &str| {
            let mut request = voiceclone::RequestSummary::default();
            request
                .fields
                .push(("voiceName".to_owned(), name.to_owned()));
            let e = voiceclone::Error::new(ErrorKind::OutcomeUnknown {
                idempotency_key: Some("k-1".to_owned()),
                task_id: None,
                submitted_at: at,
                request,
            });
            let submit = Submit {
                kind: JobKind::Clone,
                own_key: None,
                voice_name: None,
                at,
            };
            unknown_from_adapter(&e, &submit).message
        };
        let text = unknown("narrator");
        assert!(text.contains("--key k-1 --voice-name=narrator"), "{text}");
        let text = unknown("-it's $(x)");
        assert!(text.contains(r"--voice-name='-it'\''s $(x)'"), "{text}");
        let long = "n".repeat(10_000);
        for name in ["  ", long.as_str()] {
            let text = unknown(name);
            assert!(
                text.contains("--key k-1") && !text.contains("--voice-name"),
                "{text}"
            );
        }
    }

    /// `body` signed with `secret` now, as VMEG signs (computed here with the RustCrypto
    /// hmac crate): `(timestamp, signature)`.
    #[allow(clippy::unwrap_used)]
    fn signed(secret: &str, body: &str) -> (String, String) {
        use hmac::Mac as _;
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            .to_string();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(ts.as_bytes());
        mac.update(body.as_bytes());
        (ts, hex::encode(mac.finalize().into_bytes()))
    }

    /// The delivery that ends a wait is answered 200 even when the wait ends (and leaves the
    /// hub) before its answer is chosen, the order a multi-thread runtime may take: the
    /// command's tasks are kept in `Awaited`, which outlives the wait. Another task's
    /// delivery, verified and recorded, is answered 503 (VMEG delivers it again later).
    #[tokio::test]
    #[allow(clippy::unwrap_used)]
    async fn the_delivery_that_ends_a_wait_is_answered_200_whatever_ends_first() {
        const SECRET: &str = "whsec-race";
        let hub = CompletionHub::in_memory(voiceclone::WebhookSecret::new(SECRET));
        let client = Client::builder(Provider::Vmeg)
            .api_key("sk-race")
            .base_url("http://127.0.0.1:9/")
            .retry(voiceclone::RetryPolicy::none())
            .completion_hub(hub.clone())
            .build()
            .unwrap();
        let task = JobId::new("t-race");
        let route = WaitRoute {
            hub: hub.clone(),
            awaited: Awaited::default(),
        };
        // As `finish_wait_with` does, before the wait starts.
        route.awaited.add(&task);
        let waiter = tokio::spawn({
            let task = task.clone();
            async move {
                let policy = voiceclone::WaitPolicy::for_provider(Provider::Vmeg)
                    .with_deadline(Some(std::time::Duration::from_secs(20)));
                client.wait_for_clone(&task, &policy).await
            }
        });
        for _ in 0..2000 {
            if hub.is_waiting_for(&task) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        assert!(hub.is_waiting_for(&task), "the wait never started");
        let body = serde_json::json!({
            "code": 500, "event": "openapi-clone-voice", "pipelineKey": "pk-race",
            "message": "boom", "data": {"taskId": "t-race"},
        })
        .to_string();
        let (ts, sig) = signed(SECRET, &body);
        let delivery = hub.receive(&ts, &sig, body.as_bytes()).await;
        // The wait ends on it (failed: code 500) before the answer is chosen.
        let ended = waiter.await.unwrap();
        assert!(ended.is_err(), "a failure delivery ends the wait failed");
        assert!(!hub.is_waiting_for(&task), "the wait has ended");
        assert_eq!(route.answer(&delivery), 200);
        // Another task's delivery: verified and recorded, answered 503.
        let other = serde_json::json!({
            "code": 200, "event": "openapi-clone-voice", "pipelineKey": "pk-other",
            "data": {"taskId": "t-other", "voiceId": "cv_1"},
        })
        .to_string();
        let (ts, sig) = signed(SECRET, &other);
        let delivery = hub.receive(&ts, &sig, other.as_bytes()).await;
        assert_eq!(delivery.http_status(), 200, "{delivery:?}");
        assert_eq!(route.answer(&delivery), 503);
        // A refused one keeps its own answer.
        let refused = hub.receive(&ts, &"0".repeat(64), other.as_bytes()).await;
        assert_eq!(route.answer(&refused), 401);
    }

    #[test]
    fn an_http_url_is_a_url_and_anything_else_a_path() {
        // README: "An argument that parses as an `http(s)` URL is a URL; anything else is a
        // local path."
        for url in [
            "https://cdn.example.com/a.wav",
            " http://127.0.0.1:9/a.wav ",
        ] {
            assert!(
                audio_source(url) == AudioSource::Url(url.trim().to_owned()),
                "{url}"
            );
        }
        for path in [
            "./sample.wav",
            "sample.wav",
            "ftp://host/a.wav",
            "C:\\a.wav",
            "/tmp/a b.wav",
        ] {
            assert!(
                audio_source(path) == AudioSource::File(path.into()),
                "{path}"
            );
        }
    }
}
