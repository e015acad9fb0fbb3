//! Command-line grammar (clap derive types). Nothing here talks to a provider.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use voiceclone::Provider;

/// The exit-code table, shown by `--help` (and copied into the README).
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the provider or the task reported a failure: the task failed (task_failed, also in a
     wait), or, outside a wait, a request refused (VMEG's 401 bad key, a rate limit, and
     outside a clone or speak create a server error after retries); a listing not read
     whole (incomplete_listing), a download (--out) refused or not written, a local
     recording that changed while it was being uploaded (part of it was sent, no clone
     was submitted), or a webhook failed verification
  2  bad usage, invalid input, or a command the provider does not support; nothing was sent
  3  network failure, timeout (including --timeout running out while waiting), or unknown
     outcome: a submit may or may not have created a task; do not resend it, look it up
     (the error carries the idempotency key and the submit time, without --json as a
     ready-to-paste reconcile command); this includes a clone or speak create answered
     with an error that does not prove nothing was made (a server error after retries, a
     404, a 409, an unreadable answer, a code the vendor's table lacks, JimmyAI's 20001
     or 20002), its kind kept; a reconcile that saw no candidate yet, or listed some before
     the submit's own task could be (reconcile_not_yet), or whose candidates are incomplete
     (reconcile_incomplete); a wait (wait, clone --wait, speak --wait) that ends for any
     reason but the task's own failure: a 401 (unauthorized: wait again with the key of
     the account that submitted the job), a server error it does not poll through (a
     rate limit or a passing one is polled through until the deadline), an answer it
     cannot read, --timeout, a signal; its kind kept, the job named: do not submit it
     again; also a result naming a job that stdout could not take: it is written to
     stderr instead
  130, 143  a second SIGINT (130) or SIGTERM (143) after the first: the process ends as
     soon as the first one's result is written, at most 2 s later (128 + the signal);
     also a first one once the work is done and its result is being written (a stdout
     nobody reads): a result naming a job that stdout did not take goes to stderr first
     (up to 1 s more); and a first one while the line `sim` or `webhook listen` prints as
     it starts is stuck on a stdout nobody reads, 2 s after the signal
  129  SIGHUP (a terminal closed, an SSH session dropped) in the cases of 143, for the
     commands that hold a job (clone, speak, wait, status): a first SIGHUP is handled
     as a first SIGTERM (during a wait: exit 3, the job named), and another within 1 s
     is the same hang-up (a terminal closed sends two); a process started with
     SIGHUP ignored (nohup) keeps ignoring it (Linux; elsewhere SIGHUP keeps its default
     action); sim and webhook listen handle SIGINT and SIGTERM only, and leave SIGHUP
     its default action

Environment:
  VOICECLONE_PROVIDER              default for --provider
  VMEG_API_KEY, JIMMYAI_API_KEY    the API key (or --api-key-file); never printed
  VMEG_BASE_URL, JIMMYAI_BASE_URL  default for --base-url
  RUST_LOG                         diagnostics on stderr (default: warn)";

const LONG_ABOUT: &str = "\
Clone voices and synthesize speech with VMEG or JimmyAI, from a shell.

Provider commands (clone, status, wait, speak, voices, upload) need --provider (or
VOICECLONE_PROVIDER) and the provider's API key in VMEG_API_KEY / JIMMYAI_API_KEY or in a
file named by --api-key-file. There is deliberately no --api-key flag: a key on the command
line ends up in shell history and process listings.

`demo`, `sim`, `webhook verify` and `webhook listen` need neither a provider nor a key:
`demo` runs the whole clone -> wait -> speak -> wait flow against an in-process simulator of
both APIs.

With --json, stdout carries exactly one JSON object (also on failure, with an `error`
member); diagnostics go to stderr. The one exception is `webhook listen`, whose stdout is a
stream of JSON lines (one object per line, with or without --json) until it is stopped.";

/// `voiceclone`: the command line.
#[derive(Debug, Parser)]
#[command(
    name = "voiceclone",
    version,
    about = "Clone voices and synthesize speech with VMEG or JimmyAI",
    long_about = LONG_ABOUT,
    after_help = EXIT_CODES,
    after_long_help = EXIT_CODES
)]
pub struct Cli {
    /// Provider to talk to [env: VOICECLONE_PROVIDER]
    // The variable is read by `try_parse_checked`, not by clap: clap would refuse every
    // command, `demo` and `sim` included, for an empty or misspelt variable they never use.
    #[arg(long, global = true, value_enum, ignore_case = true)]
    pub provider: Option<ProviderArg>,

    /// `VOICECLONE_PROVIDER` was set to something that is not a provider (and `--provider`
    /// was not given): a failure only for the commands that need a provider.
    #[arg(skip)]
    pub provider_env_invalid: bool,

    /// API base URL [default: VMEG_BASE_URL / JIMMYAI_BASE_URL, else the vendor's]; an empty
    /// or blank one (flag or variable) is refused, exit 2, nothing sent
    #[arg(long, global = true, value_name = "URL")]
    pub base_url: Option<String>,

    /// Read the API key from this file (a trailing newline is ignored) instead of
    /// VMEG_API_KEY / JIMMYAI_API_KEY; a FIFO or pipe needs a writer within 10 s and the
    /// key within 120 s
    #[arg(long, global = true, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,

    /// Accept audio URLs on loopback, private or other non-public addresses (e.g. samples
    /// served by a local simulator), and download results (--out) from them over plain http;
    /// refused by default, and a loopback --base-url does not change that
    #[arg(long, global = true)]
    pub allow_private_urls: bool,

    /// Print exactly one JSON object on stdout
    #[arg(long, global = true)]
    pub json: bool,

    /// No spinner and no progress lines; stdout carries only the result
    #[arg(long, short, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// `--provider` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProviderArg {
    /// VMEG Open API
    Vmeg,
    /// JimmyAI Open API (SoundClone)
    Jimmyai,
}

impl From<ProviderArg> for Provider {
    fn from(p: ProviderArg) -> Self {
        match p {
            ProviderArg::Vmeg => Provider::Vmeg,
            ProviderArg::Jimmyai => Provider::JimmyAi,
        }
    }
}

impl Cli {
    /// Parses `args` as [`Parser::try_parse_from`] does, and refuses what clap lets through:
    /// a long-text flag (`--resubmit-unknown`, `--concurrency`) given with `--text`. clap's `requires = "text_file"` is not enforced there, because
    /// `--text-file` conflicts with the `--text` present, and clap excuses a missing
    /// argument that conflicts with one given; the run would then go on without the flag.
    pub fn try_parse_checked<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::parser::ValueSource;
        use clap::{CommandFactory, FromArgMatches};
        let mut cmd = Cli::command();
        let matches = cmd.try_get_matches_from_mut(args)?;
        let missing = |cmd: &mut clap::Command, message: String| {
            let mut speak = cmd
                .find_subcommand_mut("speak")
                .cloned()
                .unwrap_or_default();
            speak.error(clap::error::ErrorKind::MissingRequiredArgument, message)
        };
        if let Some(("speak", m)) = matches.subcommand()
            && m.value_source("text_file").is_none()
        {
            // `--max-total-bytes` bounds what `--out` writes; a long text takes it without
            // `--out` too (its dry run, the same flags as the real run).
            if m.value_source("max_total_bytes") == Some(ValueSource::CommandLine)
                && m.value_source("out").is_none()
            {
                return Err(missing(
                    &mut cmd,
                    "--max-total-bytes bounds what --out writes: it needs --out PATH".into(),
                ));
            }
            for id in ["resubmit_unknown", "concurrency"] {
                if m.value_source(id) == Some(ValueSource::CommandLine) {
                    let flag = format!("--{}", id.replace('_', "-"));
                    return Err(missing(
                        &mut cmd,
                        format!(
                            "{flag} applies only to a long text: it needs --text-file FILE --out DIR, not --text"
                        ),
                    ));
                }
            }
        }
        let mut cli = Cli::from_arg_matches(&matches)?;
        cli.provider_from_env(std::env::var_os(PROVIDER_VAR));
        Ok(cli)
    }

    /// Fills `provider` from the value of `VOICECLONE_PROVIDER` when `--provider` was not
    /// given: any case, surrounding blanks ignored, and an empty value is no value.
    fn provider_from_env(&mut self, value: Option<std::ffi::OsString>) {
        if self.provider.is_some() {
            return;
        }
        let Some(value) = value else { return };
        let value = value.to_string_lossy();
        let value = value.trim();
        if value.is_empty() {
            return;
        }
        match ProviderArg::from_str(value, true) {
            Ok(p) => self.provider = Some(p),
            Err(_) => self.provider_env_invalid = true,
        }
    }
}

/// The environment variable naming the default provider.
pub const PROVIDER_VAR: &str = "VOICECLONE_PROVIDER";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Submit a voice clone from a reference recording: a URL, or a local file (uploaded
    /// first)
    #[command(after_help = EXIT_CODES)]
    Clone(CloneArgs),
    /// Show the status of a task (one request, no waiting)
    #[command(after_help = EXIT_CODES)]
    Status(StatusArgs),
    /// Wait until a task finishes; print the voice or the audio
    #[command(after_help = EXIT_CODES)]
    Wait(WaitArgs),
    /// Synthesize speech with a (cloned) voice
    #[command(after_help = EXIT_CODES)]
    Speak(SpeakArgs),
    /// List the account's cloned voices, every page, or with --system the vendor's preset
    /// voices (usable with `speak --voice`) (VMEG only)
    #[command(after_help = EXIT_CODES)]
    Voices(VoicesArgs),
    /// List the account's tasks, every page (VMEG only), or `tasks delete JOB_ID`
    #[command(after_help = EXIT_CODES, args_conflicts_with_subcommands = true)]
    Tasks(TasksArgs),
    /// Find the task a submit whose outcome is unknown left behind (VMEG: by type, creation
    /// time, webhook and voice name; JimmyAI cannot: exit 2). Exit 0 when found, 1 when
    /// there are only candidates or none, 3 when the search ended in no answer, saw no
    /// candidate yet or listed some before its span (and 5 min of clock skew) ended, or on a
    /// task list whose pages disagreed twice (`reconcile_not_yet`: look again after the time
    /// it gives), or when its candidates are incomplete (`reconcile_incomplete`)
    #[command(after_help = EXIT_CODES)]
    Reconcile(ReconcileArgs),
    /// Upload a local audio file and print its URL, usable with `clone` (JimmyAI: files/upload;
    /// VMEG: a material's addressUrl)
    #[command(after_help = EXIT_CODES)]
    Upload(UploadArgs),
    /// VMEG webhook tools
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Run the local simulator of both APIs in the foreground until Ctrl-C or SIGTERM (exit
    /// 0); SIGHUP keeps its default action
    #[command(after_help = EXIT_CODES)]
    Sim(SimArgs),
    /// Run clone -> wait -> speak -> wait for both providers against an in-process
    /// simulator (no key, no network)
    #[command(after_help = EXIT_CODES)]
    Demo(DemoArgs),
}

/// Which kind of task a job id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum JobKind {
    /// A voice clone task
    #[default]
    Clone,
    /// A speech (TTS / production audio) task
    Speech,
}

/// Polling options shared by everything that waits.
#[derive(Debug, Clone, Args)]
pub struct PollArgs {
    /// Give up waiting after this many seconds, however many polls that takes (exit 3; the
    /// task may still finish) [default: the provider's: VMEG 10 min, JimmyAI 15 min]
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,

    /// First interval between status polls, in seconds [default: the provider's: VMEG 2,
    /// JimmyAI 5]
    #[arg(long, value_name = "SECS")]
    pub poll_interval: Option<f64>,
}

/// Waiting by VMEG webhook (`clone --wait`, `speak --wait`): both flags or neither.
#[derive(Debug, Clone, Args)]
pub struct WebhookWaitArgs {
    /// VMEG only, with --wait and --webhook-secret-env: receive the task's webhook on this
    /// address (HOST:PORT, path /; port 0 picks a free one, printed on stderr) and end the
    /// wait when it arrives; polling continues every 30 s as a fallback
    #[arg(long, value_name = "ADDR")]
    pub webhook_listen: Option<SocketAddr>,

    /// Name of the environment variable holding the VMEG webhook secret (with
    /// --webhook-listen)
    #[arg(long, value_name = "NAME")]
    pub webhook_secret_env: Option<String>,
}

/// `clone`
#[derive(Debug, Args)]
pub struct CloneArgs {
    /// Reference recording: an http(s) URL (VMEG: HTTPS; JimmyAI: public, with an audio or
    /// video extension), or else a local file, uploaded first (JimmyAI: at most 100 MB and,
    /// for a WAV, more than 15 s). A missing file is exit 2 with nothing sent
    #[arg(value_name = "AUDIO_URL_OR_FILE")]
    pub audio: String,

    /// Voice name (VMEG)
    #[arg(long)]
    pub name: Option<String>,

    /// Sample language, BCP-47 (e.g. en-US, zh-CN)
    #[arg(long)]
    pub language: Option<String>,

    /// VMEG: transcript of the sample; JimmyAI: the preview line (at most 270 characters)
    #[arg(long)]
    pub text: Option<String>,

    /// Engine: V1..V5 for VMEG, v1 or v2 (sound version) for JimmyAI
    #[arg(long)]
    pub engine: Option<String>,

    /// VMEG only: use the synchronous endpoint (the answer carries the finished voice)
    #[arg(long)]
    pub sync: bool,

    /// Wait until the clone finishes and print the voice
    #[arg(long)]
    pub wait: bool,

    /// With --wait: write JimmyAI's preview audio to PATH (an existing directory gets
    /// `01.<ext>`); VMEG clones have no preview (exit 2, nothing sent). The file appears
    /// only when complete. A file the run may write that already exists is refused before
    /// anything is sent (exit 2), unless --overwrite. A clone that succeeds without a
    /// preview URL writes nothing: exit 0, with a warning
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,

    /// With --out: replace the files the run writes when they already exist (without it,
    /// an existing one is refused before anything is sent)
    #[arg(long, requires = "out")]
    pub overwrite: bool,

    /// Check the request and print what would be sent (never the key) and its billable
    /// units; send nothing (no API key needed)
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub poll: PollArgs,

    #[command(flatten)]
    pub webhook: WebhookWaitArgs,
}

/// `status`
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The job id printed by `clone` or `speak`: its stored form (`vmeg:clone:<id>`), which
    /// says its kind, or a bare vendor task id
    #[arg(value_name = "JOB_ID")]
    pub job_id: String,

    /// What a bare task id is (default clone): a bare id alone does not say (JimmyAI shares
    /// one query endpoint; VMEG's tasks/detail result differs by task type). The vendor's
    /// answer is checked against it. With a stored-form id, it must agree with the id
    #[arg(long, value_enum)]
    pub kind: Option<JobKind>,
}

/// `wait`
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The job id printed by `clone` or `speak` (see `status --help`)
    #[arg(value_name = "JOB_ID")]
    pub job_id: String,

    /// What a bare task id is (see `status --help`)
    #[arg(long, value_enum)]
    pub kind: Option<JobKind>,

    #[command(flatten)]
    pub poll: PollArgs,
}

/// `speak`
#[derive(Debug, Args)]
pub struct SpeakArgs {
    /// Voice id (VMEG voiceId, JimmyAI modelId)
    #[arg(long, value_name = "ID")]
    pub voice: String,

    /// The text to speak
    #[arg(
        long,
        required_unless_present = "text_file",
        conflicts_with = "text_file"
    )]
    pub text: Option<String>,

    /// Speak a long text from this UTF-8 file: split at paragraph and sentence boundaries
    /// to the provider's limits, submitted in parts, waited for, and downloaded in order to
    /// --out DIR, with a manifest there that lets a rerun resume without paying twice for a
    /// finished part (see the README's "Long texts")
    #[arg(long, value_name = "FILE")]
    pub text_file: Option<PathBuf>,

    /// With --text-file: resubmit a part whose earlier submit may have created a task that
    /// was never recorded (a crash or Ctrl-C during its submit), or, once an earlier run
    /// reported it and this run reads the same again, a part whose task's answer cannot be
    /// read, whose task the vendor says it does not know (deleted, expired), or that was
    /// downloaded before and whose file is gone and task now reads failed; it may be billed
    /// twice
    #[arg(long, requires = "text_file")]
    pub resubmit_unknown: bool,

    /// With --text-file: parts submitted and waited for at once, 1 to 32 (another number is
    /// refused, exit 2, nothing sent). Once a part's submit ends with an unknown outcome (its
    /// answer lost), no further part is submitted in that run
    #[arg(
        long,
        value_name = "N",
        default_value_t = voiceclone::DEFAULT_LONG_CONCURRENCY,
        value_parser = concurrency,
        requires = "text_file"
    )]
    pub concurrency: usize,

    /// With --out: the most bytes of audio one run writes, over all its files (and, with
    /// --text-file, all its parts); default 1 GiB, 1073741824. A download that would go past
    /// it is refused before its bytes reach the disk and the run exits 1 (kind
    /// `download_budget`) with the job id and the URLs not written; with --text-file no
    /// further part is started or downloaded, and a rerun (with a larger budget) finishes
    /// downloading without paying again
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = crate::commands::long::DEFAULT_MAX_TOTAL_BYTES,
        value_parser = positive_bytes
    )]
    pub max_total_bytes: u64,

    /// Target language, BCP-47 (e.g. en-US)
    #[arg(long)]
    pub language: Option<String>,

    /// VMEG only: use the synchronous endpoint
    #[arg(long)]
    pub sync: bool,

    /// Wait until the audio is ready and print its URL(s)
    #[arg(long)]
    pub wait: bool,

    /// With --wait: write the audio to PATH. A PATH that is a directory or ends with `/`
    /// (created if needed) gets numbered files `01.<ext>`, `02.<ext>`, ...; a PATH naming a
    /// file (`out.wav`) gets the one segment, or several as its siblings `out-01.<ext>`,
    /// `out-02.<ext>`, ... (the extension from the Content-Type or the URL). Each file
    /// appears only when complete. A file the run may write that already exists is refused
    /// before anything is sent (exit 2), unless --overwrite. With --text-file (no --wait
    /// needed): the directory (created if needed) for the parts' audio, `001.<ext>` or
    /// `001-01.<ext>`, ..., and the manifest that lets a rerun resume; a directory without a
    /// manifest that already holds such a file is refused before anything is sent (exit 2;
    /// --overwrite does not apply)
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,

    /// With --out (not --text-file, whose reruns resume into the same directory): replace
    /// the files the run writes when they already exist (without it, an existing one is
    /// refused before anything is sent)
    #[arg(long, requires = "out")]
    pub overwrite: bool,

    /// Check the request and print what would be sent (never the key) and its billable
    /// units; send nothing (no API key needed). With --text-file: every part's request
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub poll: PollArgs,

    #[command(flatten)]
    pub webhook: WebhookWaitArgs,
}

/// The most parts `--concurrency` takes. Every part in flight is a paid task: an
/// interruption leaves each one whose submit was not answered of unknown outcome, and a
/// larger number is not faster against a vendor's own rate limit.
pub const MAX_CONCURRENCY: usize = 32;

/// `--concurrency`: 1 to [`MAX_CONCURRENCY`]. Before, 0 ran as 1 and any number started
/// that many paid parts at once.
fn concurrency(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n @ 1..=MAX_CONCURRENCY) => Ok(n),
        Ok(n) => Err(format!(
            "{n} is not from 1 to {MAX_CONCURRENCY} (parts submitted and waited for at once)"
        )),
        Err(e) => Err(format!("not a whole number of parts ({e})")),
    }
}

/// A byte count of at least 1 (`--max-total-bytes`).
fn positive_bytes(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(0) => Err("must be at least 1 byte (with 0 nothing could be downloaded)".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("not a whole number of bytes ({e})")),
    }
}

/// `upload`
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Local audio file (streamed; a progress bar on a terminal)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// `webhook ...`
#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    #[command(after_help = EXIT_CODES)]
    /// Verify a VMEG webhook delivery (HMAC-SHA256 over X-Timestamp + body) and print
    /// the event; exit 1 when it does not verify
    Verify(VerifyArgs),
    /// Receive VMEG webhook deliveries until Ctrl-C or SIGTERM (SIGHUP keeps its default
    /// action); stdout is a stream of JSON lines, one per verified, first-seen event
    #[command(long_about = LISTEN_ABOUT, after_help = EXIT_CODES)]
    Listen(ListenArgs),
}

const LISTEN_ABOUT: &str = "\
Receive VMEG webhook deliveries over HTTP and print each verified, first-seen event.

This is the one command whose output is a stream of JSON lines rather than one JSON object
(with or without --json): the first stdout line is {\"listening\":\"HOST:PORT\"}, then one
object per line for every verified delivery whose pipelineKey was not seen before, with
pipeline_key, event, kind, code, succeeded, message, task_id, status, voice_id (clone events)
or audio_urls (TTS events), idempotency_key, sent_at and received_at (RFC 3339). Each line
is flushed as it is written.

Every delivery is answered at once: 200 for first-seen and duplicate deliveries (a duplicate
is not printed again; a line on stderr says so), 401 for a bad signature or a timestamp more
than 300 s away, 413 for a body over 1 MiB, 400 for a malformed body, 503 when the store is
unreachable (VMEG redelivers). Every refused delivery is one line on stderr. Server strings
are printed with control characters escaped.

VMEG only: JimmyAI sends no webhooks (--provider jimmyai exits 2). Ctrl-C or SIGTERM stops
it (exit 0; 130 or 143 when its first line is stuck on a stdout nobody reads, 2 s after the
signal: nothing was served). SIGHUP is not handled: it keeps its default action (it ends the
process; as a container's PID 1 it is ignored), so a HUP meant for a reload never stops a
receiver with exit 0. If stdout is closed (the reader went away), it stops with exit 3: the event
being written may not have been read, although VMEG was answered 200.

The webhook secret comes from the environment variable named by --secret-env. With
--redis-url-env, deduplication and completions are shared with other instances through
Redis; the URL, which can hold a password, is read from the variable it names, never from
the command line (a build without Redis support exits 2). Neither the secret nor the URL is
ever printed.";

/// `webhook verify`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Name of the environment variable holding the webhook secret
    #[arg(long, value_name = "NAME")]
    pub secret_env: String,

    /// The X-Timestamp header (Unix milliseconds)
    #[arg(long, value_name = "MS")]
    pub timestamp: String,

    /// The X-Signature header (lowercase hex)
    #[arg(long, value_name = "HEX")]
    pub signature: String,

    /// File holding the raw body, or `-` (the default) for stdin (a pipe, not a terminal:
    /// the whole body within 30 s; a FIFO needs a writer within 10 s)
    #[arg(value_name = "BODY_FILE")]
    pub body: Option<PathBuf>,
}

/// `webhook listen`
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Address to listen on, HOST:PORT (port 0 picks a free one; the first stdout line says
    /// which)
    #[arg(long, value_name = "ADDR")]
    pub addr: SocketAddr,

    /// Name of the environment variable holding the webhook secret
    #[arg(long, value_name = "NAME")]
    pub secret_env: String,

    /// The path VMEG posts to (letters, digits, `-._~` and `/`, starting with `/`)
    #[arg(long, value_name = "PATH", default_value = "/")]
    pub path: String,

    /// Name of the environment variable holding a Redis URL: share deduplication and
    /// completions with other instances through Redis (the URL is never read from the
    /// command line and never printed)
    #[arg(long, value_name = "NAME")]
    pub redis_url_env: Option<String>,
}

/// `sim`
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Address to listen on (loopback recommended; port 0 picks a free one)
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: SocketAddr,

    /// Base URL clients reach the simulator by (e.g. http://sim:8080 in a container
    /// network): printed at start, and the start of every URL it hands out (audio, uploads).
    /// Default: http:// and the address it listens on
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,

    /// Speed factor: task durations and webhook retry delays are divided by it
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,

    /// Send VMEG webhooks for async tasks to this URL
    #[arg(long, value_name = "URL", requires = "webhook_secret_env")]
    pub webhook_url: Option<String>,

    /// Name of the environment variable holding the webhook signing secret
    #[arg(long, value_name = "NAME", requires = "webhook_url")]
    pub webhook_secret_env: Option<String>,

    /// Fault injection, KIND=RATE[:ARG] (e.g. 429=0.05:2s, 503=0.02, 500=0.02:after,
    /// latency=0.1:50ms, drop-after=0.01, business=0.01, unknown-status=0.1, extra-fields=1,
    /// all=0.1);
    /// repeatable, or comma-separated
    #[arg(long, value_name = "SPEC")]
    pub fault: Vec<String>,

    /// Fraction of tasks (0..=1) that end failed
    #[arg(long, default_value_t = 0.0, value_name = "RATE")]
    pub failure_rate: f64,

    /// Seed for faults and task failures (same seed + same request order = same faults)
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Name of the environment variable holding the API key the simulator accepts (default:
    /// `sim-key` on loopback, a random key printed at start elsewhere)
    #[arg(long, value_name = "NAME")]
    pub api_key_env: Option<String>,
}

/// `demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Simulator speed factor
    #[arg(long, default_value_t = 200.0, hide = true)]
    pub speed: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    /// `speak --out`'s help says what `commands::out` does: several segments for a PATH
    /// naming a file are its siblings (it said they went into PATH as a directory), and an
    /// existing file is refused unless `--overwrite`.
    #[test]
    fn speak_out_help_says_what_out_writes() {
        let mut cmd = Cli::command();
        let help = cmd
            .find_subcommand_mut("speak")
            .map(|s| s.render_long_help().to_string())
            .unwrap_or_default();
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(help.contains("as its siblings `out-01.<ext>`"), "{help}");
        assert!(!help.contains("go into PATH as a directory"), "{help}");
        assert!(help.contains("--overwrite"), "{help}");
    }

    /// A listing's `--timeout` takes what every other `--timeout` takes, 0.001 to 1e9 s:
    /// 1e-300 and 1e-4 are positive but (nearly) a zero `Duration`, a listing that fails
    /// before its first page. Before, anything above 0 was accepted.
    #[test]
    fn a_listing_timeout_is_a_millisecond_at_least() {
        for bad in [
            "1e-300", "1e-4", "0.0009", "0", "-1", "1e9", "inf", "NaN", "x",
        ] {
            assert!(listing_secs(bad).is_err(), "{bad}");
            for cmd in ["tasks", "voices"] {
                let parsed = Cli::try_parse_checked(["voiceclone", cmd, "--timeout", bad]);
                assert!(parsed.is_err(), "{cmd} --timeout {bad}");
            }
        }
        assert_eq!(
            listing_secs("0.001"),
            Ok(std::time::Duration::from_millis(1))
        );
        assert!(Cli::try_parse_checked(["voiceclone", "tasks", "--timeout", "0.001"]).is_ok());
        assert_eq!(listing_secs(" 30 "), Ok(std::time::Duration::from_secs(30)));
    }

    #[test]
    fn long_text_concurrency_defaults_to_4() {
        // README, "Long texts": "at most `--concurrency` parts (default 4)".
        let cli = Cli::try_parse_from([
            "voiceclone",
            "speak",
            "--voice",
            "v",
            "--text-file",
            "t.txt",
            "--out",
            "d",
        ])
        .map(|c| c.command);
        assert!(
            matches!(&cli, Ok(Command::Speak(args)) if args.concurrency == 4),
            "{cli:?}"
        );
    }

    /// The long-text flags mean nothing with `--text`: given there, the command is refused
    /// by name rather than run without them.
    #[test]
    fn long_text_flags_need_a_text_file() {
        for extra in [&["--resubmit-unknown"][..], &["--concurrency", "2"]] {
            let mut argv = vec!["voiceclone", "speak", "--voice", "v", "--text", "hi"];
            argv.extend_from_slice(extra);
            let e = Cli::try_parse_checked(&argv).map(|c| c.command).err();
            let text = e.as_ref().map(ToString::to_string).unwrap_or_default();
            assert!(text.contains("--text-file"), "{extra:?}: {e:?}");
            assert!(text.contains(extra[0]), "{extra:?}: {text}");
        }
    }

    /// `--max-total-bytes` bounds what `--out` writes, for a long text or not; without
    /// `--out` it means nothing and is refused by name.
    #[test]
    fn the_byte_budget_needs_out() {
        let base = ["voiceclone", "speak", "--voice", "v", "--text", "hi"];
        let mut argv = base.to_vec();
        argv.extend(["--max-total-bytes", "1000"]);
        let e = Cli::try_parse_checked(&argv).map(|c| c.command).err();
        let text = e.as_ref().map(ToString::to_string).unwrap_or_default();
        assert!(text.contains("--out"), "{e:?}");
        // A long text's dry run takes the flags of the real run, --out or not.
        let argv = [
            "voiceclone",
            "speak",
            "--voice",
            "v",
            "--text-file",
            "t.txt",
            "--dry-run",
            "--max-total-bytes",
            "5000",
        ];
        let cli = Cli::try_parse_checked(argv).map(|c| c.command);
        assert!(
            matches!(&cli, Ok(Command::Speak(a)) if a.max_total_bytes == 5000),
            "{cli:?}"
        );
        let mut argv = base.to_vec();
        argv.extend(["--wait", "--out", "a.wav", "--max-total-bytes", "1000"]);
        let cli = Cli::try_parse_checked(&argv).map(|c| c.command);
        assert!(
            matches!(&cli, Ok(Command::Speak(a)) if a.max_total_bytes == 1000),
            "{cli:?}"
        );
        let cli = Cli::try_parse_checked(base).map(|c| c.command);
        assert!(
            matches!(&cli, Ok(Command::Speak(a)) if a.max_total_bytes == 1 << 30),
            "{cli:?}"
        );
    }

    /// Every command and flag of the README's usage block ("The `voiceclone` command")
    /// exists, on the command the README puts it; and every visible flag of every command
    /// (hidden ones aside) is in the block, on that command's lines.
    #[test]
    fn the_readme_usage_block_names_real_commands_and_flags() {
        let readme = include_str!("../../../README.md");
        let start = readme.find("## The `voiceclone` command").unwrap_or(0);
        let block = readme[start..]
            .split("```text\n")
            .nth(1)
            .and_then(|b| b.split("\n```").next())
            .unwrap_or_default();
        let root = Cli::command();
        let mut path: Vec<String> = Vec::new();
        let mut checked = 0;
        // The flags the block gives each command (by its path; the root's is empty).
        let mut documented: std::collections::HashMap<Vec<String>, Vec<String>> =
            std::collections::HashMap::new();
        for line in block.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if line.starts_with("voiceclone ") {
                path.clear();
            } else if line.starts_with("  ") && !line.starts_with("   ") {
                // A command line: its name, and a subcommand when the next word is one.
                path = vec![words[0].to_owned()];
                let parent = root.find_subcommand(words[0]);
                assert!(parent.is_some(), "no command {:?}", words[0]);
                if let Some(sub) = words.get(1)
                    && parent.and_then(|c| c.find_subcommand(sub)).is_some()
                {
                    path.push((*sub).to_owned());
                }
            }
            let mut cmd = &root;
            for name in &path {
                cmd = cmd.find_subcommand(name).unwrap_or(cmd);
            }
            // Only the usage part of a line: its comment (two spaces or more) is prose.
            let usage = line.trim_start().split("   ").next().unwrap_or_default();
            for flag in usage.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
                let Some(long) = flag.strip_prefix("--") else {
                    continue;
                };
                let known = cmd
                    .get_arguments()
                    .chain(root.get_arguments())
                    .any(|a| a.get_long() == Some(long));
                assert!(known, "`voiceclone {}` has no --{long}", path.join(" "));
                documented
                    .entry(path.clone())
                    .or_default()
                    .push(long.to_owned());
                checked += 1;
            }
        }
        assert!(checked > 40, "read the usage block: {checked} flags");
        // The other way: what the CLI takes, the block shows.
        let mut missing = Vec::new();
        let mut stack = vec![(Vec::<String>::new(), &root)];
        while let Some((at, cmd)) = stack.pop() {
            for a in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
                let Some(long) = a.get_long() else { continue };
                if matches!(long, "help" | "version") {
                    continue;
                }
                let shown = documented
                    .get(&at)
                    .is_some_and(|flags| flags.iter().any(|f| f == long));
                if !shown {
                    missing.push(format!("voiceclone {} --{long}", at.join(" ")));
                }
            }
            for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
                let mut next = at.clone();
                next.push(sub.get_name().to_owned());
                stack.push((next, sub));
            }
        }
        missing.sort();
        assert!(
            missing.is_empty(),
            "flags missing from README's usage block: {missing:?}"
        );
    }

    #[test]
    fn help_documents_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        for line in [
            "0  success",
            "1  the provider",
            "2  bad usage",
            "3  network failure",
            "130, 143  a second SIGINT (130) or SIGTERM (143)",
            "129  SIGHUP",
        ] {
            assert!(help.contains(line), "{line} missing from --help");
        }
        // The README's table lists the same codes, the second signal's too.
        let readme = include_str!("../../../README.md");
        for row in [
            "| 0 |", "| 1 |", "| 2 |", "| 3 |", "| 129 |", "| 130 |", "| 143 |",
        ] {
            assert!(
                readme.contains(row),
                "{row} missing from README's exit codes"
            );
        }
    }
}

/// `voices`
#[derive(Debug, Args)]
pub struct VoicesArgs {
    /// The vendor's system (preset) voices instead of the account's cloned voices
    #[arg(long)]
    pub system: bool,

    /// The most time the whole listing may take, every page (default 1800 s); past it,
    /// exit 3 with nothing listed
    #[arg(long, value_name = "SECS", value_parser = listing_secs)]
    pub timeout: Option<std::time::Duration>,
}

/// `tasks`
#[derive(Debug, Args)]
pub struct TasksArgs {
    /// `delete JOB_ID`; without it, the task list
    #[command(subcommand)]
    pub action: Option<TasksAction>,

    /// Only tasks of this kind (filtered by the vendor)
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub kind: Option<JobKind>,

    /// Only tasks in this normalized status (queued, running, succeeded, failed, or a
    /// vendor word: `finished` is succeeded; an unknown word matches in any case), filtered
    /// here across all pages
    #[arg(long, value_name = "S")]
    pub status: Option<String>,

    /// The most time the whole listing may take, every page (default 1800 s); past it,
    /// exit 3 with nothing listed
    #[arg(long, value_name = "SECS", value_parser = listing_secs)]
    pub timeout: Option<std::time::Duration>,
}

/// How long a whole listing may take when `--timeout` is not given: every request has its
/// own timeout, but a server that answers each of 10,000 pages slowly would keep a listing
/// going for days.
pub const DEFAULT_LISTING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1800);

/// A number of seconds every `--timeout` and `--poll-interval` takes: 0.001 to 1e9. At
/// least a millisecond: 1e-300 is positive but a zero `Duration`, which would send no
/// request at all (a listing, a poll, a long text's resend) and fail at once.
pub fn seconds(v: f64) -> Option<std::time::Duration> {
    (0.001..1.0e9)
        .contains(&v)
        .then(|| std::time::Duration::from_secs_f64(v))
}

/// A listing's `--timeout`: [`seconds`].
fn listing_secs(v: &str) -> Result<std::time::Duration, String> {
    v.trim()
        .parse::<f64>()
        .ok()
        .and_then(seconds)
        .ok_or_else(|| format!("{v:?} is not a number of seconds from 0.001 to 1e9"))
}

/// `tasks delete`
#[derive(Debug, Subcommand)]
pub enum TasksAction {
    /// Delete a task record
    Delete {
        /// The task id
        #[arg(value_name = "JOB_ID")]
        job_id: String,
    },
}

/// `reconcile`
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The idempotency key of the lost submit (from the OutcomeUnknown error). VMEG lists
    /// tasks without their keys: the key ties a task to the submit only through a webhook
    /// delivery a receiver kept, which this command has none of, so the search here is by
    /// kind, time, voice name and task id (the key is shown back, for your records)
    #[arg(long, value_name = "K")]
    pub key: Option<String>,

    /// When the submit was sent, RFC 3339 (e.g. 2026-12-01T10:00:00Z)
    #[arg(long, value_name = "RFC3339")]
    pub submitted_at: String,

    /// What the submit was
    #[arg(long, value_enum)]
    pub kind: Option<JobKind>,

    /// When the submit's last attempt ended, RFC 3339 (`last_attempt_at` in the error), if
    /// it retried: tasks created up to --window after it are candidates too
    #[arg(long, value_name = "RFC3339")]
    pub last_attempt_at: Option<String>,

    /// Tasks created within this many seconds of --submitted-at (before) or
    /// --last-attempt-at (after) are candidates (10 to 604800)
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    pub window: u64,

    /// The voice name a clone asked for (narrows clone candidates by the voice list)
    #[arg(long, value_name = "NAME")]
    pub voice_name: Option<String>,

    /// The task id the submit's answer named, if any
    #[arg(long, value_name = "JOB_ID")]
    pub task_id: Option<String>,

    /// The most time the whole search may take (default 1800 s); past it, exit 3 (whether
    /// the submit created a task is still unknown)
    #[arg(long, value_name = "SECS", value_parser = listing_secs)]
    pub timeout: Option<std::time::Duration>,
}
