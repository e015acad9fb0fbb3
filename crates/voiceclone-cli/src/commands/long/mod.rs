//! `speak --text-file F --out DIR`: a long text in parts, resumable.
//!
//! The text is split by the adapter ([`LongSpeechPlan`]: JimmyAI the fewest tasks of at
//! most 9,999 characters, VMEG batches of at most 50 lines). Each part goes through
//! submit -> wait with at most `--concurrency` parts in flight; the audio is downloaded in
//! text order (`DIR/001.wav`, or `DIR/001-01.wav`, `001-02.wav`, ... for a VMEG batch), with
//! a progress bar on a terminal.
//!
//! The manifest ([`manifest`]) records each part *before* its submit (state `submitting`,
//! its VMEG idempotency key and the time) and after each step, so a rerun after a crash or
//! Ctrl-C pays for no finished part again:
//! - a part whose files are there and match their recorded size and SHA-256 is skipped;
//! - a part with a known task is only waited for and downloaded; a `done` part (its audio
//!   downloaded before) whose task now reads failed stays `done` (exit 3), and is submitted
//!   again only with `--resubmit-unknown`; so is a part whose task the vendor's own answer
//!   says it does not know under the API key and base URL it was sent with (deleted,
//!   expired), read on a run after the one that made it: the flag acts, on a later run, only
//!   on the kind of failure a run reported (`error_kind`, manifest format 4);
//! - a VMEG part whose submit's answer never came is resent with the same key, under the
//!   API key and base URL it was sent with (VMEG accepts a key once per 24 hours and per API
//!   key, so a resend of a submit that landed creates nothing; under another API key or host
//!   it is not resent, see [`manifest::KeyScope`]); when VMEG
//!   says the key was used, the task is found by `reconcile` (or, failing evidence, as the
//!   only speech task created around the submit that no other part claims and that is
//!   not the part's own earlier task (a failed one it was resubmitted after), when its
//!   creation time is known with its UTC offset: an undated task fits any window); a resend
//!   that fails leaves the part unknown for the next rerun, never `planned`;
//! - a VMEG submit answered "key already used" on its first attempt was accepted (the key
//!   is this tool's own, new for that submit): the part stays unknown, for the rerun to
//!   resend with the same key;
//! - a task another part holds is never taken (a server naming one task for two submits):
//!   the part is left unknown;
//! - a JimmyAI part whose submit may have landed is never resent on its own (JimmyAI has no
//!   idempotency key, and a resend is a second paid task): the run ends with exit 3 naming
//!   it, and `--resubmit-unknown` sends it again at that risk.
//!
//! A manifest written for another text, provider, voice or language, or whose task ids cannot
//! be trusted (one task for two parts, a finished part without one), is refused (exit 2)
//! before anything is sent. A submit `--resubmit-unknown` replaces is kept in the part's
//! `past_submits`, with its key and time.
//!
//! One run downloads at most `--max-total-bytes` (default [`DEFAULT_MAX_TOTAL_BYTES`]) over
//! all its files: each download is capped at what is left of that budget, so a server that
//! hands out too many or too large results cannot fill the disk. A download the budget
//! refuses ends the downloading (exit 1, kind `download_budget`): no further part is
//! started, parts already sent are waited for and recorded, nothing is resubmitted, and a
//! rerun finishes the downloads from the job ids in the manifest.
//!
//! Once a part was sent in this run, a failure to write the manifest (or to read back a
//! file just downloaded) is exit 3, not 2: the message names every task this run submitted,
//! which the manifest on disk may not record.

pub mod manifest;

#[cfg(test)]
mod drive_tests;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use futures::stream::FuturesOrdered;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};
use voiceclone::long_text::LongSpeechPlan;
use voiceclone::{
    Client, Error, ErrorKind, JobId, Phase, Provider, Reconciled, Resubmitted, Speech,
    SpeechRequest, WaitPolicy,
};

use crate::cli::SpeakArgs;
use crate::commands::provider::Awaited;
use crate::exit::Exit;
use crate::output::{Failure, Outcome, Printer, rfc3339};
use manifest::{
    FileRecord, KeyScope, MAX_RESENDS_RECORDED, Manifest, PartRecord, PartState, PastSubmit,
    ReportedKind, file_sha256, files_intact, ms_time, unix_ms,
};

/// Whether a resend's error says the resend made nothing under this run's scope: the create's
/// own refusal, answered or never sent (a refused connect), not `may_resubmit()`, which a
/// resend's refusal never is (it says nothing of the first submit). An error of the task
/// search that follows VMEG's "key already used" (its 429, its 401) comes after a create that
/// did land, so it is no such answer. (After an attempt that may have landed, the retry driver
/// ends the create as `OutcomeUnknown`, never one of these kinds.)
fn made_nothing(e: &voiceclone::Error) -> bool {
    let refused = matches!(
        e.kind(),
        ErrorKind::InvalidInput { .. }
            | ErrorKind::Unauthorized
            | ErrorKind::PaymentRequired
            | ErrorKind::InvalidRequest
            | ErrorKind::PayloadTooLarge
            | ErrorKind::RateLimited
    ) && e.phase() != voiceclone::Phase::Sent;
    let unsent = matches!(e.kind(), ErrorKind::Transport | ErrorKind::Timeout)
        && e.phase() == voiceclone::Phase::NotSent;
    matches!(e.operation(), Some("synthesize" | "resend_speech")) && (refused || unsent)
}

/// How long after its recorded start an attempt of a part's submit may still make its task:
/// the client's retries of the create (4 attempts of up to 30 s each, `Retry-After` up to 30 s
/// between them: 3.5 min), a wait for a request slot, and a vendor clock running ahead, with
/// room to spare. A task dated farther from every attempt is no rival of one dated near an
/// attempt. Before an attempt only the reconcile window counts, as it does for the first
/// submit's own search: another job's task made minutes before it is no rival.
const ATTEMPT_REACH: Duration = Duration::from_secs(15 * 60);

/// The default `--max-total-bytes`: 1 GiB a run. The largest legitimate output of a long
/// text is its speech as uncompressed WAV, and 1 GiB is about 3 hours of 48 kHz 16-bit mono
/// (96,000 bytes a second) or 6 hours of 24 kHz, a text of about 160,000 to 320,000
/// characters at 15 characters a second: a long book chapter set, far more than the
/// 30,000-character texts this is made for. A compressed format (MP3) fits ten times more.
/// Without a total, the per-file cap (256 MiB) times up to 50 results of each VMEG batch let
/// one hostile or broken server write about 12.8 GB per part. A longer text is either run
/// with a larger `--max-total-bytes` or resumed by reruns, each downloading up to the budget.
pub const DEFAULT_MAX_TOTAL_BYTES: u64 = 1024 * 1024 * 1024;

/// The least time a resend (its create and its search of the task list, each request under
/// the client's own timeout) is given as a whole, whatever `--timeout` says: `--timeout`
/// bounds a part's wait, and a resend cut short leaves the part unknown on every rerun.
const MIN_RESEND_TIME: Duration = Duration::from_secs(5 * 60);

/// Test seam, in debug builds only: stop (as a signal would, through [`Run::interrupted`])
/// once this many parts were downloaded in this run, before the next part is started or downloaded.
const STOP_AFTER_ENV: &str = "VOICECLONE_TEST_STOP_AFTER_PARTS";

/// The [`STOP_AFTER_ENV`] seam's count from the variable's `value`, read in debug builds (the
/// tests') only: set by accident in a release run, it would stop every long run after that
/// many parts, dropping the other parts' submits mid-flight (JimmyAI's then unknown for good).
fn stop_after_parts(debug: bool, value: Option<&str>) -> Option<usize> {
    value.filter(|_| debug).and_then(|v| v.trim().parse().ok())
}

/// Runs `speak --text-file` (its `--dry-run` is answered by `dry_run.rs` from [`plan`]).
/// `api_key` is the client's: only its salted fingerprint is recorded (each submit's
/// [`KeyScope`]), never the key.
pub async fn run(
    client: &Client,
    api_key: &str,
    p: Provider,
    args: &SpeakArgs,
    file: &Path,
    printer: &Printer,
    awaited: Option<&Awaited>,
) -> Outcome {
    match plan(p, args, file) {
        Ok(plan) => match args.out.as_deref() {
            Some(dir) => resume(client, api_key, plan, args, dir, printer, awaited).await,
            None => Outcome::failed(Failure::usage(
                "--text-file needs --out DIR (where the audio and the manifest go), or --dry-run",
            )),
        },
        Err(f) => Outcome::failed(f),
    }
}

/// Reads the text, checks the flags, and splits it: nothing is sent.
pub fn plan(p: Provider, args: &SpeakArgs, file: &Path) -> Result<LongSpeechPlan, Failure> {
    if args.sync {
        return Err(Failure::usage(
            "--sync does not apply to --text-file (its parts are submitted asynchronously and waited for)",
        ));
    }
    let text_file = |e: &dyn std::fmt::Display| {
        Failure::usage(format!("--text-file {}: {e}", file.display())).with("field", "text_file")
    };
    // A regular file: the rerun that resumes the run reads it again and compares, and a
    // FIFO or a device would block the open or never end.
    match std::fs::metadata(file) {
        Ok(m) if !m.is_file() => return Err(text_file(&"not a regular file")),
        Ok(_) => {}
        Err(e) => return Err(text_file(&e)),
    }
    let text =
        crate::bounded_read::read_text_at_most(file, crate::bounded_read::MAX_TEXT_FILE_BYTES)
            .map_err(|e| text_file(&e))?;
    let voice: voiceclone::VoiceId = args
        .voice
        .trim()
        .parse()
        .map_err(|e: voiceclone::ParseError| Failure::usage(format!("--voice: {}", e.reason())))?;
    let mut req = SpeechRequest::new(voice, text);
    if let Some(l) = &args.language {
        req = req.language(l.as_str());
    }
    LongSpeechPlan::new(p, &req).map_err(|e| Failure::from_adapter(&e))
}

/// What stage one (submit, wait) made of a part.
enum Ready {
    /// Done in an earlier run, its files intact.
    AlreadyDone,
    /// Its audio, to download.
    Speech(Speech),
    /// Not finished: a failure to report.
    Failed(Failure),
    /// Its submit may have created a task that is not known: report, never resend.
    Unknown(String),
    /// Not started: the download budget ran out before its turn.
    Deferred,
}

/// One run over the manifest.
struct Run<'a> {
    client: &'a Client,
    /// `--webhook-listen`: the tasks its receiver answers 200 (each part's, before its wait).
    awaited: Option<&'a Awaited>,
    plan: LongSpeechPlan,
    dir: PathBuf,
    /// Only ever borrowed between awaits (one thread).
    manifest: RefCell<Manifest>,
    policy: WaitPolicy,
    resubmit_unknown: bool,
    /// Whether the manifest, as read, noted every report with its kind (format 4 or later,
    /// or a fresh one): else an error noted without its kind may be an older version's
    /// report (see [`reported_before`]).
    notes_have_kinds: bool,
    /// What a submit sent in this run has its key scoped to: this run's API key
    /// (fingerprinted) and base URL.
    scope: KeyScope,
    printer: &'a Printer,
    /// `--max-total-bytes`: the most this run downloads.
    budget: u64,
    /// The bytes this run downloaded so far.
    spent: Cell<u64>,
    /// The budget refused a download: no part is started or downloaded after that.
    over_budget: Cell<bool>,
    /// A part's wait ran out of its deadline (`--timeout`, else the provider's default): no
    /// part is started after that (the run would otherwise go on for the deadline per
    /// part, submitting paid parts after it was due).
    timed_out: Cell<bool>,
    /// Whether `--timeout` set the waits' deadline (else the provider's default did).
    timeout_given: bool,
    /// The bound on a resend as a whole, its search of the task list included: `--timeout`,
    /// else 30 min, and never less than [`MIN_RESEND_TIME`].
    search_timeout: Duration,
    /// A submit (or a resend) was sent in this run: a task may be paid for.
    sent: Cell<bool>,
    /// The tasks accepted in this run: part index, stored job id.
    accepted_ids: RefCell<Vec<(usize, String)>>,
    /// A task accepted in this run read "not known to the vendor" (which it, named): task
    /// reads under this API key and base URL are failing (a relay that answers every read
    /// with a 404 of its own, say), so `--resubmit-unknown` sends nothing more in this run: a
    /// new task could not be read either, and each would be paid for again by a later run.
    reads_broken: RefCell<Option<String>>,
    /// A task accepted in this run was read (its status answered): reads work, and the
    /// flag's resubmits no longer go one at a time through [`Run::resubmit_gate`].
    reads_proven: Cell<bool>,
    /// Held by a resubmit of `--resubmit-unknown` until it ends (its task read), while no
    /// read of a task made in this run has answered: so that, reads being broken, the first
    /// such resubmit sets [`Run::reads_broken`] before a second is paid for.
    resubmit_gate: tokio::sync::Mutex<()>,
    /// How long the flag waits before it reads a task not found once more, and pays only if
    /// that read says so too: `--poll-interval`, else [`RECHECK_PAUSE`].
    recheck_pause: Duration,
    /// A write of the manifest failed after something was sent in this run.
    unrecorded: Cell<bool>,
    /// The parts that failed so far, and those of unknown outcome (their messages): kept
    /// here, not in the loop, so an interruption tells them too.
    failures: RefCell<Vec<Failure>>,
    unknown: RefCell<Vec<String>>,
}

async fn resume(
    client: &Client,
    api_key: &str,
    plan: LongSpeechPlan,
    args: &SpeakArgs,
    dir: &Path,
    printer: &Printer,
    awaited: Option<&Awaited>,
) -> Outcome {
    let policy = match super::provider::policy(plan.provider(), &args.poll) {
        Ok(p) => p,
        Err(f) => return Outcome::failed(f),
    };
    if let Err(e) = std::fs::create_dir_all(dir) {
        return Outcome::failed(Failure::io(&format!("creating {}", dir.display()), &e));
    }
    // Held until this run ends.
    let _lock = match manifest::lock(dir) {
        Ok(Ok(l)) => Some(l),
        // A warning: on stderr with --json and --quiet too (not a progress line).
        Ok(Err(why)) => {
            crate::output::stderr_line(&printer.safe(&format!(
                "warning: {why}; going on without the directory's lock: do not start another run on it meanwhile"
            )));
            None
        }
        Err(f) => return Outcome::failed(f),
    };
    let fresh = Manifest::new(&plan, args.voice.trim(), args.language.as_deref());
    let (mut manifest, resumed) = match Manifest::load(dir) {
        Err(f) => return Outcome::failed(f),
        Ok(Some(old)) => match old.mismatch(&fresh) {
            Some(why) => {
                let path = dir.join(manifest::FILE_NAME);
                return Outcome::failed(
                    Failure::other(
                        Exit::Usage,
                        "manifest_mismatch",
                        format!(
                            "refusing to resume {}: {why}; nothing was sent. Rerun with the original text and settings, or restore the manifest; another --out directory starts over and pays again for every part already made",
                            path.display()
                        ),
                    )
                    .with("manifest", path.display().to_string()),
                );
            }
            None => (old, true),
        },
        Ok(None) => {
            // A fresh run writes `001.<ext>`, `001-01.<ext>`, ... over whatever is there.
            if let Some(existing) = existing_part_file(dir) {
                return Outcome::failed(
                    Failure::usage(format!(
                        "--out {}: {} already exists and a new run (there is no manifest in the directory to resume) would replace it: nothing was sent. Move it away, or choose another --out directory",
                        dir.display(),
                        existing.display()
                    ))
                    .with("field", "out"),
                );
            }
            (fresh, false)
        }
    };
    let notes_have_kinds = manifest.notes_have_kinds();
    manifest.upgrade();
    let scope = KeyScope::new(
        manifest.key_salt.as_deref().unwrap_or_default(),
        api_key,
        client.base_url().as_str(),
    );
    if let Err(f) = manifest.save(dir) {
        return Outcome::failed(f);
    }
    let run = Run {
        client,
        awaited,
        plan,
        dir: dir.to_path_buf(),
        manifest: RefCell::new(manifest),
        policy,
        resubmit_unknown: args.resubmit_unknown,
        notes_have_kinds,
        scope,
        printer,
        budget: args.max_total_bytes,
        spent: Cell::new(0),
        over_budget: Cell::new(false),
        timed_out: Cell::new(false),
        timeout_given: args.poll.timeout.is_some(),
        search_timeout: positive_secs(args.poll.timeout)
            .unwrap_or(crate::cli::DEFAULT_LISTING_TIMEOUT)
            .max(MIN_RESEND_TIME),
        sent: Cell::new(false),
        accepted_ids: RefCell::new(Vec::new()),
        reads_broken: RefCell::new(None),
        reads_proven: Cell::new(false),
        resubmit_gate: tokio::sync::Mutex::new(()),
        recheck_pause: positive_secs(args.poll.poll_interval)
            .unwrap_or(RECHECK_PAUSE)
            .min(MAX_RECHECK_PAUSE),
        unrecorded: Cell::new(false),
        failures: RefCell::new(Vec::new()),
        unknown: RefCell::new(Vec::new()),
    };
    if resumed {
        printer.progress(&format!(
            "resuming {} (parts done: {} of {})",
            dir.join(manifest::FILE_NAME).display(),
            run.count(PartState::Done),
            run.plan.parts().len()
        ));
    }
    let concurrency = args.concurrency.max(1);
    // SIGINT and SIGTERM (`docker stop`, a CI timeout) alike; without handlers (they could
    // not be installed) a signal ends the process as it would anyway.
    let mut signals = crate::signals::Signals::install().ok();
    let signalled = async {
        match signals.as_mut() {
            Some(s) => s.next().await,
            None => std::future::pending().await,
        }
    };
    // A run that ended with the signal is reported as it ended (biased: the work first).
    crate::signals::unless(run.all(concurrency), signalled)
        .await
        .unwrap_or_else(|name| run.interrupted(name))
}

/// The first entry of `dir` (any kind: a symlink would be renamed over too) named as a part's
/// audio may be: digits, `-` between digit groups (`001.wav`, `001-01.mp3`), then an
/// extension a download may take ([`voiceclone::download::EXTENSIONS`], any case). A
/// directory that cannot be read is no refusal: the run reports its own errors.
fn existing_part_file(dir: &Path) -> Option<PathBuf> {
    let is_part_name = |name: &str| {
        let Some((stem, ext)) = name.split_once('.') else {
            return false;
        };
        !stem.is_empty()
            && stem
                .split('-')
                .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()))
            && voiceclone::download::EXTENSIONS
                .iter()
                .any(|e| e.eq_ignore_ascii_case(ext))
    };
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .find(|e| e.file_name().to_str().is_some_and(is_part_name))
        .map(|e| e.path())
}

/// The stem of part `i`'s file `k` (of `total` parts; `several` files for the part, a VMEG
/// batch's lines, at most 50): the part's number padded to the width of the part count, at
/// least 3, so that a glob or `ls` sorts the files in text order (`1000` after `0999`, not
/// after `100`), and a line's number in 2 digits.
fn part_stem(i: usize, total: usize, k: usize, several: bool) -> String {
    let width = total.to_string().len().max(3);
    let part = i.saturating_add(1);
    if several {
        format!("{part:0width$}-{:02}", k.saturating_add(1))
    } else {
        format!("{part:0width$}")
    }
}

/// The stem of file `k` recorded for `rec`, when it names the same part and line as `stem`
/// with another padding (a manifest an earlier version wrote, padding to 3 digits only).
fn recorded_stem(rec: &PartRecord, k: usize, stem: &str) -> Option<String> {
    let numbers =
        |s: &str| -> Option<Vec<u64>> { s.split('-').map(|g| g.parse::<u64>().ok()).collect() };
    let (recorded, _ext) = rec.files.get(k)?.name.rsplit_once('.')?;
    (recorded != stem && numbers(recorded)? == numbers(stem)?).then(|| recorded.to_owned())
}

/// Why a `--resubmit-unknown` send that waited for [`Run::flag_gate`] sends nothing.
enum Hold {
    /// This run's reads of its own tasks fail: why, as [`Run::held_back`] says it.
    Broken(String),
    /// The run stopped starting parts meanwhile.
    Stopped,
}

/// Part `name` (`rec`, left `submitting`), not sent again by `--resubmit-unknown` because
/// this run's reads of its own tasks fail (`why`, [`Run::held_back`]).
fn held_back_unknown(name: &str, rec: &PartRecord, why: &str) -> Ready {
    Ready::Unknown(format!(
        "{name}: its submit{} may have created a task that was never recorded; {why}",
        submit_found_by(
            rec.submitted_at(),
            rec.idempotency_key.as_deref(),
            rec.last_resent_at()
        ),
    ))
}

/// The default pause before `--resubmit-unknown` reads a task not found once more: about a
/// poll of either vendor (VMEG's 2 s, JimmyAI's documented 5-10 s), so that a read that
/// flapped (a lag, a throttle answered as a refusal) is not paid for.
const RECHECK_PAUSE: Duration = Duration::from_secs(5);

/// The longest that pause is, whatever `--poll-interval` says: no deadline bounds it, and the
/// flag's other parts wait behind it.
const MAX_RECHECK_PAUSE: Duration = Duration::from_secs(30);

/// Seconds given on the command line (`--timeout`, `--poll-interval`) as a duration, when
/// given and valid (`policy` has refused an invalid one).
fn positive_secs(secs: Option<f64>) -> Option<Duration> {
    secs.filter(|t| t.is_finite() && *t > 0.0)
        .and_then(|t| Duration::try_from_secs_f64(t).ok())
}

/// The detail a failure to write the manifest (or read back a download) after a submit
/// carries: the manifest on disk is then out of date, which the run must say first.
const UNRECORDED: &str = "manifest_out_of_date";

/// The detail of a failure read for a part whose audio was downloaded before (its task
/// succeeded once): the vendor's answer now contradicts that, and the part is not
/// resubmitted unless `--resubmit-unknown` asks for it.
const DOWNLOADED_BEFORE: &str = "downloaded_before";

/// The detail of a part whose finished task has lines the client could not read (no audio,
/// and no error from the vendor): not a failure the vendor stated, so the part is kept and
/// read again, and only `--resubmit-unknown` sends it again, once a run has reported it.
const ANSWER_UNREADABLE: &str = "answer_unreadable";

/// The detail of a part whose task is not found under the API key and base URL it was sent
/// with (deleted in the vendor's console, expired): it may have been made and billed, so the
/// part is kept, and only `--resubmit-unknown` sends it again, once a run has reported it.
const TASK_NOT_FOUND: &str = "task_not_found";

/// The kind of report `f`, a failure read for a part's task, is: what an earlier run must
/// have noted for `--resubmit-unknown` to send the part again. A task not found first: it
/// may also carry [`DOWNLOADED_BEFORE`] (a `done` part), which is no report of a failure read.
fn reported_kind(f: &Failure) -> Option<ReportedKind> {
    let has = |key: &str| f.details.contains_key(key);
    if has(TASK_NOT_FOUND) {
        Some(ReportedKind::TaskNotFound)
    } else if has(ANSWER_UNREADABLE) {
        Some(ReportedKind::AnswerUnreadable)
    } else if has(DOWNLOADED_BEFORE) {
        Some(ReportedKind::DownloadedBeforeFailed)
    } else {
        None
    }
}

/// Whether an earlier run reported `f`, the failure read for part `rec`'s task in this run:
/// the kind noted with its error is `f`'s. An error noted for one reason never lets the flag
/// pay for another that no run has shown. In a manifest read as format 3 or older
/// (`notes_have_kinds` false), an error noted without its kind is taken as it was then, for
/// the two reports the versions that noted no kinds made only; in a newer one it is no
/// report (a version that drops the kind refuses a newer manifest by its number).
fn reported_before(rec: &PartRecord, f: &Failure, notes_have_kinds: bool) -> bool {
    let Some(now) = reported_kind(f) else {
        return false;
    };
    match rec.error_kind {
        Some(kind) => kind == now,
        None => {
            !notes_have_kinds
                && rec.error.is_some()
                && matches!(
                    now,
                    ReportedKind::AnswerUnreadable | ReportedKind::DownloadedBeforeFailed
                )
        }
    }
}

/// Whether `e`, what ended the wait for a task of `provider`, is the vendor's own answer that
/// it does not know the task: its envelope (a vendor code), answered, never a page a proxy, a
/// gateway or a web server gave instead (a 404 with no envelope, which may pass on the next
/// read). VMEG: code 404, its "not found", behind HTTP 404 or 200 (whether VMEG mirrors the
/// code in the status is UNKNOWN, api-facts A3; any other status, a gateway's 503 say, is no
/// such answer). Whether the body had VMEG's `message` and `data` keys (a relay's
/// `{"code":404,"msg":...}` has not) the error does not tell, so such a page still passes
/// here: [`Run::reads_broken`] bounds what it costs. JimmyAI does not document its answer to
/// an unknown task id (api-facts B6): a refusal in its envelope, `InvalidRequest` (code
/// 20002, as the simulator and the fake answer an unknown id) or an HTTP 404.
fn vendor_does_not_know(provider: Provider, e: &Error) -> bool {
    if e.phase() != Phase::Answered || e.vendor_code().is_none() {
        return false;
    }
    match provider {
        Provider::Vmeg => {
            *e.kind() == ErrorKind::NotFound
                && e.vendor_code() == Some(404)
                && matches!(e.http_status(), Some(200 | 404))
        }
        Provider::JimmyAi => matches!(e.kind(), ErrorKind::NotFound | ErrorKind::InvalidRequest),
        _ => false,
    }
}

/// How a refused resubmit is noted after `earlier`, the error an earlier run noted for the
/// part: after it, and once (a refusal a run before this one added is replaced).
const RESUBMIT_REFUSED: &str = "; resubmit refused: ";

/// The error noted for a part whose resubmit was refused with `refusal`: the error noted
/// before (`earlier`), which still says what was reported, then the refusal.
fn with_refusal(earlier: Option<&str>, refusal: &str) -> String {
    match earlier {
        Some(before) => {
            let before = before
                .split_once(RESUBMIT_REFUSED)
                .map_or(before, |(b, _)| b);
            format!("{before}{RESUBMIT_REFUSED}{refusal}")
        }
        None => refusal.to_owned(),
    }
}

/// `f` with the detail that tells the kind of report `kind` is, as the failure that noted it
/// carried it: so that the run's result says what is still reported of the part.
fn reported_detail(f: Failure, kind: Option<ReportedKind>) -> Failure {
    match kind {
        Some(ReportedKind::TaskNotFound) => f.with(TASK_NOT_FOUND, true),
        Some(ReportedKind::AnswerUnreadable) => f.with(ANSWER_UNREADABLE, true),
        _ => f,
    }
}

/// What a finished part's lines lack.
enum LinesMissing {
    /// The vendor said these lines failed (an error, no audio): `why`.
    Failed(String),
    /// No line failed by the vendor's word, but these have no audio the client can read.
    Unreadable(String),
}

/// The failure a run tells, and whose exit code is the run's: the most serious, a failed
/// manifest write after a submit (the manifest is out of date) first, then an unknown
/// outcome (exit 3: a wait that failed) over a refusal (1) over input refused before
/// sending (2); an interruption first among its equals, else the first in text order. It
/// says how many more parts failed (the parts of unknown outcome are one failure naming
/// each, counted as the parts it names).
/// Exit 2 promises nothing was sent: a part refused as invalid input after this run sent
/// others (a model's activation deadline passing mid-run) makes the run exit 1.
fn not_usage_once_sent(f: &mut Failure, sent: bool) {
    if sent && f.exit == Exit::Usage {
        f.exit = Exit::Failure;
    }
}

fn most_serious(failures: Vec<Failure>) -> Option<Failure> {
    // An interruption is no part's failure.
    let parts_of = |f: &Failure| {
        if f.kind == "interrupted" {
            return 0;
        }
        f.details
            .get("unknown_parts")
            .and_then(Value::as_array)
            .map_or(1, |parts| parts.len().max(1))
    };
    let rank = |f: &Failure| {
        let exit = match f.exit {
            Exit::Unreachable => 3,
            Exit::Failure => 2,
            Exit::Usage => 1,
            Exit::Success => 0,
        };
        // An interruption is told before the parts' own failures of its rank: the run did
        // not end by itself, and its message says how the rerun resumes.
        (
            f.details.contains_key(UNRECORDED),
            exit,
            f.kind == "interrupted",
        )
    };
    let shown = failures
        .iter()
        .enumerate()
        .max_by_key(|(k, f)| (rank(f), std::cmp::Reverse(*k)))
        .map(|(k, _)| k)?;
    let all: usize = failures.iter().map(parts_of).sum();
    let f = failures.into_iter().nth(shown)?;
    let others = all.saturating_sub(parts_of(&f));
    Some(match others {
        0 => f,
        n => {
            let message = format!(
                "{}; and {n} more part(s) failed (every part is listed: on stdout, or in `parts` with --json)",
                f.message
            );
            Failure { message, ..f }
        }
    })
}

/// What a run whose part's wait ran out of time adds to its message: which deadline it was,
/// `--timeout` (`given`) or the provider's default (`deadline`), which `--timeout` changes.
fn timed_out_note(given: bool, deadline: Option<Duration>) -> String {
    let which = match (given, deadline) {
        (true, _) => "--timeout".to_owned(),
        (false, Some(d)) => format!(
            "the provider's default wait deadline ({} s; --timeout sets another)",
            d.as_secs()
        ),
        (false, None) => "its deadline".to_owned(),
    };
    format!(
        "; after a part's wait ran out of {which} no further part was started: rerun the same command to resume"
    )
}

/// A submit as it may be found again: ` sent at T with idempotency key K`.
/// Whether part `rec`'s submit is young enough for VMEG to dedupe a resend under its key:
/// younger than [`voiceclone::KEY_RESEND_WINDOW`], or ahead of the clock (moved back since:
/// the key is no older than the clock says). An unknown submit time is not.
fn key_fresh(rec: &PartRecord) -> bool {
    rec.submitted_at().is_some_and(|t| {
        SystemTime::now()
            .duration_since(t)
            .map_or(true, |age| age < voiceclone::KEY_RESEND_WINDOW)
    })
}

fn submit_found_by(
    at: Option<SystemTime>,
    key: Option<&str>,
    resent: Option<SystemTime>,
) -> String {
    format!(
        " sent {}{}{}",
        at.map_or_else(
            || "at an unknown time".to_owned(),
            |t| format!("at {}", rfc3339(t))
        ),
        key.map(|k| format!(" with idempotency key {k}"))
            .unwrap_or_default(),
        // A resend's task is dated around it, not around the first submit.
        resent
            .map(|t| format!(" (last resent with it at {})", rfc3339(t)))
            .unwrap_or_default()
    )
}

/// Whether `task` was created between `from` and `to` by a time the vendor gave with its
/// UTC offset. A missing time, or one read as UTC for want of an offset, could be any time
/// within hours: such a task is never adopted on its time alone.
fn created_within(task: &voiceclone::TaskSummary, from: SystemTime, to: SystemTime) -> bool {
    !task.created_at_offset_unknown && task.created_at.is_some_and(|at| from <= at && at <= to)
}

/// The unclaimed candidates that compete for a part after VMEG's 409. The search also lists
/// tasks dated up to `FUTURE_SKEW` outside `[from, to]` (clock skew, so it never says `None`
/// for a real task), and, between a first submit and a resend hours later, tasks of other
/// jobs; once one `fits` (is dated inside the spans the part's attempts give), those dated
/// with their offset outside them are no rivals, or another job's task made minutes before
/// would keep the part unknown on every rerun. Undated or offset-less tasks may lie anywhere:
/// they stay rivals.
fn rivals<'a>(
    free: impl Iterator<Item = &'a voiceclone::TaskSummary>,
    fits: &dyn Fn(&voiceclone::TaskSummary) -> bool,
) -> Vec<&'a voiceclone::TaskSummary> {
    let free: Vec<_> = free.collect();
    if !free.iter().any(|t| fits(t)) {
        return free;
    }
    free.into_iter()
        .filter(|t| t.created_at_offset_unknown || t.created_at.is_none() || fits(t))
        .collect()
}

/// A candidate task for a message: its id and what is known of its creation time.
fn candidate(task: &voiceclone::TaskSummary) -> String {
    match task.created_at {
        None => format!("{} (no creation time)", task.id),
        Some(at) if task.created_at_offset_unknown => {
            format!(
                "{} (created {} if that was UTC: no offset given)",
                task.id,
                rfc3339(at)
            )
        }
        Some(at) => format!("{} (created {})", task.id, rfc3339(at)),
    }
}

/// The parts' progress bar on stderr (a terminal only, not with --json or --quiet).
fn parts_bar(enabled: bool, total: usize, done: usize) -> Option<ProgressBar> {
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "speaking {bar:30} {pos}/{len} parts [{elapsed_precise}] {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_position(done as u64);
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}

/// Runs `work` (a part's download) while driving the parts in flight: a future makes
/// progress only while it is polled, and a submit whose answer is not read within the
/// client's request timeout fails as a timeout although the answer came (for JimmyAI, which
/// has no idempotency key, an unknown outcome: its paid task's id lost, and
/// `--resubmit-unknown` would pay for it twice). The parts that end meanwhile wait in
/// `waiting`, in text order. The download is polled first: it is never held up by them.
async fn driving<T, F>(
    work: impl std::future::Future<Output = T>,
    in_flight: &mut FuturesOrdered<F>,
    waiting: &mut VecDeque<Ready>,
) -> T
where
    F: std::future::Future<Output = Ready>,
{
    let mut work = std::pin::pin!(work);
    loop {
        if in_flight.is_empty() {
            return work.await;
        }
        tokio::select! {
            biased;
            out = &mut work => return out,
            Some(r) = in_flight.next() => waiting.push_back(r),
        }
    }
}

impl Run<'_> {
    fn count(&self, state: PartState) -> usize {
        self.manifest
            .borrow()
            .parts
            .iter()
            .filter(|p| p.state == state)
            .count()
    }

    fn record(&self, i: usize) -> Option<PartRecord> {
        self.manifest.borrow().parts.get(i).cloned()
    }

    /// Changes part `i` and writes the manifest at once. A failed write after something
    /// was sent in this run is exit 3 (see [`Run::unrecorded`]).
    fn update(&self, i: usize, change: impl FnOnce(&mut PartRecord)) -> Result<(), Failure> {
        let mut m = self.manifest.borrow_mut();
        if let Some(p) = m.parts.get_mut(i) {
            change(p);
        }
        m.save(&self.dir).map_err(|f| self.unrecorded(f))
    }

    /// A local write (or read back) that failed. Before anything was sent in this run it is
    /// what it says (exit 2: nothing sent, the manifest on disk as the last run left it).
    /// After a submit went out it is exit 3: paid tasks exist that the manifest may not
    /// record, and [`Run::outcome`] names them all.
    fn unrecorded(&self, f: Failure) -> Failure {
        if !self.sent.get() {
            return f;
        }
        self.unrecorded.set(true);
        Failure {
            exit: Exit::Unreachable,
            ..f
        }
        .with(UNRECORDED, true)
    }

    /// Whether part `rec`, left `submitting`, is resent with its key: a VMEG part whose key
    /// is younger than [`voiceclone::KEY_RESEND_WINDOW`], the library's own resend window
    /// (VMEG then creates nothing new if the first submit landed), or whose submit time is
    /// ahead of the clock (the clock was moved back since: the key is no older than the
    /// clock says, and a new key, `--resubmit-unknown`, could pay twice). Any other is
    /// reported, and sent again only with --resubmit-unknown.
    fn resendable(&self, rec: &PartRecord) -> bool {
        self.plan.provider() == Provider::Vmeg
            && rec.idempotency_key.is_some()
            && key_fresh(rec)
            && self.scope_change(rec).is_none()
    }

    /// Why part `rec`'s key may mean nothing to this run's VMEG, if it may: VMEG keeps an
    /// idempotency key per API key (api-facts A4 CONFIRMED), so resent under another API key
    /// (a rotated key, a teammate's) it is a new key there, and a landed first submit is paid
    /// again; another base URL is another host, whose key store may not be the first's
    /// (UNKNOWN). A manifest of version 1 did not record the scope: not knowing it, the
    /// part is never resent (a resend could bill twice; a rerun never resends unasked).
    fn scope_change(&self, rec: &PartRecord) -> Option<String> {
        let Some(was) = &rec.key_scope else {
            return Some(
                "it was recorded by an earlier version of this tool, which did not note the API key and base URL it was sent under, so it is not resent under its key unasked: VMEG keeps a key per API key, and under another a resend would be new, paid work".to_owned(),
            );
        };
        let (api_key, base) = was.differs_from(&self.scope);
        let what = match (api_key, base) {
            (false, false) => return None,
            (true, false) => "another API key".to_owned(),
            (false, true) => format!("another base URL ({})", was.base_url),
            (true, true) => format!("another API key and another base URL ({})", was.base_url),
        };
        Some(format!(
            "it was sent under {what} than this run's, and VMEG keeps an idempotency key per API key (and host): resent under this run's, it would be new, paid work"
        ))
    }

    /// How to wait again for part `i`'s task (`rec`, its record), when its submit was sent
    /// under another API key or base URL than this run's: tasks are read under the API key
    /// (and from the host) they were made with, so a plain rerun would read the same.
    fn task_scope_note(&self, rec: &PartRecord) -> Option<String> {
        let was = rec.key_scope.as_ref()?;
        let what = match was.differs_from(&self.scope) {
            (false, false) => return None,
            (true, false) => "another API key than this run's".to_owned(),
            (false, true) => format!("another base URL ({}) than this run's", was.base_url),
            (true, true) => format!(
                "another API key and another base URL ({}) than this run's",
                was.base_url
            ),
        };
        Some(format!(
            "its submit was sent under {what}, and a task is read under the API key it was made with: rerun with that API key and base URL to wait for it again (a rerun under this run's reads the same)"
        ))
    }

    /// Where a past submit's task is to be looked up, when not under this run's API key and
    /// base URL: tasks are listed per API key (api-facts A1), so `reconcile` under this run's
    /// key would answer "none" for a task made under another.
    fn past_scope_note(&self, scope: Option<&KeyScope>) -> String {
        let Some(was) = scope else {
            return " (the API key and base URL it was sent under were not recorded: look it up under the key it was sent with)".to_owned();
        };
        match was.differs_from(&self.scope) {
            (false, false) => String::new(),
            (true, false) => {
                " (sent under another API key than this run's: look it up under that key)"
                    .to_owned()
            }
            (false, true) => format!(" (sent to {}: look it up there)", was.base_url),
            (true, true) => format!(
                " (sent to {} under another API key than this run's: look it up there, under that key)",
                was.base_url
            ),
        }
    }

    /// The spans a task made by part `i`'s latest key is dated in: from each recorded attempt
    /// (its first submit, each resend) less the reconcile window, to [`ATTEMPT_REACH`] and the
    /// window after it (the attempt's own retries and a wait for a slot, unrecorded); the
    /// running resend from `started` to `now`, give or take the window.
    /// `None` when not every resend of the key is recorded (a manifest of an older format,
    /// more than [`MAX_RESENDS_RECORDED`]): such a task may be dated at any time since the
    /// first submit, so the whole span counts.
    fn attempt_windows(
        &self,
        i: usize,
        started: SystemTime,
        now: SystemTime,
    ) -> Option<Vec<(SystemTime, SystemTime)>> {
        let rec = self.record(i)?;
        if !rec.resends_recorded {
            return None;
        }
        let w = voiceclone::DEFAULT_RECONCILE_WINDOW;
        let around =
            |from: SystemTime, to: SystemTime| Some((from.checked_sub(w)?, to.checked_add(w)?));
        let first = rec.submitted_at()?;
        let mut spans = vec![around(first, first.checked_add(ATTEMPT_REACH)?)?];
        for ms in &rec.resent_at_ms {
            // An unreadable one is refused when the manifest is read; never dropped here.
            let at = ms_time(*ms)?;
            spans.push(around(at, at.checked_add(ATTEMPT_REACH)?)?);
        }
        spans.push(around(started.min(now), now.max(started))?);
        Some(spans)
    }

    /// Why part `rec`, left `submitting`, is not resent under its key by this run (see
    /// [`Run::resendable`]).
    fn not_resent_why(&self, rec: &PartRecord) -> String {
        if self.plan.provider() != Provider::Vmeg {
            return "JimmyAI has no idempotency key: a resend would be a second paid task"
                .to_owned();
        }
        // The age first: past VMEG's window no rerun, under any API key, dedupes a resend,
        // so a scope reason alone would promise a free rerun that cannot be had.
        if !key_fresh(rec) {
            let age = if rec.submitted_at().is_some() {
                "its VMEG idempotency key is too old to dedupe a resend"
            } else {
                "its submit time is not recorded, so its VMEG idempotency key cannot be trusted to dedupe a resend"
            };
            return match self.scope_change(rec) {
                Some(why) => format!("{age}; besides, {why}"),
                None => age.to_owned(),
            };
        }
        self.scope_change(rec)
            .unwrap_or_else(|| "its VMEG idempotency key cannot dedupe a resend".to_owned())
    }

    /// What can resolve part `rec`, left `submitting` and not resent by this run, without
    /// paying twice, if anything can: a rerun under the scope it was sent under when that
    /// is recorded and its key is still inside VMEG's window; for a part of a version-1
    /// manifest, which no rerun resends, only a search under the API key it was sent with.
    fn free_way(&self, rec: &PartRecord) -> String {
        let (Some(key), Some(at)) = (rec.idempotency_key.as_deref(), rec.submitted_at()) else {
            return String::new();
        };
        if self.plan.provider() != Provider::Vmeg || !key_fresh(rec) {
            return String::new();
        }
        if rec.key_scope.is_none() {
            return format!(
                "No rerun resends it: look for its task with `{}` under the API key it was sent with. ",
                crate::output::suggested_command(&format!(
                    "reconcile --key {} --submitted-at {}{}",
                    crate::output::shell_word(key),
                    rfc3339(at),
                    rec.last_resent_at()
                        .map(|t| format!(" --last-attempt-at {}", rfc3339(t)))
                        .unwrap_or_default()
                ))
            );
        }
        if self.scope_change(rec).is_some() {
            return format!(
                "Rerun with the API key and base URL it was sent under to resend it under its key (nothing new is created if it landed), or look for its task with `reconcile --key` and `--submitted-at`{} under that API key. ",
                rec.last_resent_at()
                    .map(|t| format!(" (and `--last-attempt-at {}`, its last resend)", rfc3339(t)))
                    .unwrap_or_default()
            );
        }
        String::new()
    }

    fn name(&self, i: usize) -> String {
        format!("part {} of {}", i + 1, self.plan.parts().len())
    }

    /// Every part: stage one with bounded concurrency, downloads in text order.
    async fn all(&self, concurrency: usize) -> Outcome {
        let total = self.plan.parts().len();
        let stop_after = stop_after_parts(
            cfg!(debug_assertions),
            std::env::var(STOP_AFTER_ENV).ok().as_deref(),
        );
        let bar = parts_bar(
            !self.printer.json && !self.printer.quiet,
            total,
            self.count(PartState::Done),
        );
        let mut downloaded = 0usize;
        // Stage one of at most `concurrency` parts at once, their results taken in text
        // order. A part is started only here, never during a download: the download budget
        // running out, a `--timeout`, a manifest that can no longer be written or a signal
        // then finds as few parts sent as before.
        let mut in_flight = FuturesOrdered::new();
        let mut started = 0usize;
        // Parts whose stage one ended while an earlier part was downloading, in text order.
        let mut waiting: VecDeque<Ready> = VecDeque::new();
        let mut i = 0usize;
        loop {
            while started < total && in_flight.len() + waiting.len() < concurrency {
                in_flight.push_back(self.ready(started));
                started += 1;
            }
            let r = match waiting.pop_front() {
                Some(r) => r,
                None => match in_flight.next().await {
                    Some(r) => r,
                    None => break,
                },
            };
            match r {
                Ready::AlreadyDone | Ready::Deferred => {}
                // Sent before the budget ran out: recorded as submitted, for the rerun.
                Ready::Speech(_) if self.over_budget.get() => {}
                Ready::Speech(speech) => {
                    let download = self.download(i, &speech);
                    match driving(download, &mut in_flight, &mut waiting).await {
                        Ok(names) => {
                            downloaded += 1;
                            let line = format!("{} done: {}", self.name(i), names.join(", "));
                            match &bar {
                                Some(b) => b.set_message(self.printer.safe(&line)),
                                None => self.printer.progress(&line),
                            }
                            if let Some(b) = &bar {
                                b.inc(1);
                            }
                        }
                        Err(f) => self.failures.borrow_mut().push(f),
                    }
                }
                Ready::Failed(f) => self.failures.borrow_mut().push(f),
                Ready::Unknown(msg) => self.unknown.borrow_mut().push(msg),
            }
            i += 1;
            if stop_after.is_some_and(|n| downloaded >= n) && i < total {
                if let Some(b) = &bar {
                    b.finish_and_clear();
                }
                // As a signal would stop it: every part, the tasks accepted in this run.
                let mut o = self.interrupted(STOP_AFTER_ENV);
                if let Some(f) = o.failure.as_mut() {
                    f.details.insert("test_seam".into(), STOP_AFTER_ENV.into());
                }
                return o;
            }
        }
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        self.outcome(self.failures.take(), self.unknown.take())
    }

    /// Stage one for part `i`: from wherever the manifest says it is to its speech.
    async fn ready(&self, i: usize) -> Ready {
        if self.stopped() {
            return Ready::Deferred;
        }
        let Some(rec) = self.record(i) else {
            return Ready::Failed(Failure::other(Exit::Failure, "manifest", "part missing"));
        };
        match rec.state {
            PartState::Done if files_intact(&self.dir, &rec) => {
                // Its files are back: whatever a read of its task said since is moot.
                if (rec.error.is_some() || rec.error_kind.is_some())
                    && let Err(f) = self.update(i, PartRecord::clear_error)
                {
                    return Ready::Failed(f);
                }
                Ready::AlreadyDone
            }
            PartState::Done | PartState::Submitted => match rec.job_id.as_deref() {
                Some(id) => match self.wait(i, id).await {
                    // Asked for: a part whose task now reads failed, though its audio was
                    // downloaded before, is sent again (billed again); only once an earlier
                    // run reported that very failure (its kind noted with the error), so that
                    // a flag given for another part's unknown submit, or after another
                    // failure of this part, does not pay for this one unseen. The wait may
                    // have ended after the run stopped starting parts (a spent download
                    // budget, a `--timeout`): then it is left for the rerun, as a new part is.
                    // The same for a part whose answer could not be read (no line failed by the
                    // vendor's word), or whose task is not found (read again first, here):
                    // its task may hold the audio, or have been paid, so only when asked.
                    Ready::Failed(f)
                        if self.resubmit_unknown
                            && reported_before(&rec, &f, self.notes_have_kinds)
                            && !self.stopped() =>
                    {
                        self.resubmit_reported(i, id, f).await
                    }
                    r => r,
                },
                None => self.submit(i, &rec).await,
            },
            PartState::Submitting => self.unknown(i, &rec).await,
            PartState::Planned | PartState::Failed => self.submit(i, &rec).await,
        }
    }

    /// `--resubmit-unknown` for part `i`, whose task `id` was read as `f`, the failure an
    /// earlier run reported: sent again (billed again), unless this run's reads of its own
    /// tasks fail (then reported, see [`Run::reads_broken`]), the run stopped starting parts
    /// meanwhile, or, its task not found, a second read a moment later finds it.
    async fn resubmit_reported(&self, i: usize, id: &str, f: Failure) -> Ready {
        let _gate = match self.flag_gate().await {
            Ok(gate) => gate,
            Err(Hold::Broken(why)) => {
                return Ready::Failed(Failure {
                    message: format!("{}; {why}", f.message),
                    ..f
                });
            }
            Err(Hold::Stopped) => return Ready::Failed(f),
        };
        let why = match reported_kind(&f) {
            Some(ReportedKind::TaskNotFound) => {
                if let Some(r) = self.read_again(i, id).await {
                    return r;
                }
                // During the pause, the run may have stopped starting parts.
                if self.stopped() {
                    return Ready::Failed(f);
                }
                format!(
                    "although its task {id} may have been made (and billed): it is still not known to the vendor under this API key and base URL"
                )
            }
            Some(ReportedKind::AnswerUnreadable) => {
                "although its task's answer could not be read (its task may hold the audio)"
                    .to_owned()
            }
            _ => "although its audio was downloaded before".to_owned(),
        };
        self.printer.progress(&format!(
            "{}: resubmitting {why} (--resubmit-unknown; billed again)",
            self.name(i)
        ));
        match self.record(i) {
            Some(now) => self.submit(i, &now).await,
            None => Ready::Failed(f),
        }
    }

    /// Whether the run has stopped starting parts (its download budget spent, `--timeout`).
    fn stopped(&self) -> bool {
        self.over_budget.get() || self.timed_out.get()
    }

    /// What a `--resubmit-unknown` send waits for first: the [`Run::resubmit_gate`], while no
    /// read of a task made in this run has answered. Then, as the run may have changed while
    /// it waited, why it sends nothing after all: this run's reads of its own tasks fail
    /// ([`Run::held_back`]), or the run stopped starting parts.
    async fn flag_gate(&self) -> Result<Option<tokio::sync::MutexGuard<'_, ()>>, Hold> {
        let gate = if self.reads_proven.get() {
            None
        } else {
            Some(self.resubmit_gate.lock().await)
        };
        if let Some(why) = self.held_back() {
            return Err(Hold::Broken(why));
        }
        if self.stopped() {
            return Err(Hold::Stopped);
        }
        Ok(gate)
    }

    /// Why `--resubmit-unknown` sends nothing more in this run, if it does not.
    fn held_back(&self) -> Option<String> {
        let broken = self.reads_broken.borrow();
        let what = broken.as_deref()?;
        Some(format!(
            "not resubmitted: {what}, made in this run, was not known to the vendor when read right after it was made, so task reads under this API key and base URL are failing (a proxy or relay in between, a base URL that is not the API's) and a new task could not be read either: --resubmit-unknown sends nothing more in this run. Fix what answers the reads, then rerun the same command"
        ))
    }

    /// Part `i`'s task `id`, read not found (and reported so before), read once more after
    /// [`Run::recheck_pause`]: `None` when that read says not found too (the flag may pay);
    /// else the part's failure, not resubmitted. A read that answers the task clears the
    /// note (the latest read knows it); one that fails otherwise keeps it.
    async fn read_again(&self, i: usize, id: &str) -> Option<Ready> {
        let job: JobId = id.parse().ok()?;
        tokio::time::sleep(self.recheck_pause).await;
        let read = self.client.speech_status(&job).await;
        let what = match &read {
            Err(e) if vendor_does_not_know(self.plan.provider(), e) => return None,
            Ok(j) => format!("it answered (status {})", j.status),
            Err(e) => format!("it did not say so again ({e})"),
        };
        let kept = read.is_err().then_some(ReportedKind::TaskNotFound);
        if kept.is_none()
            && let Err(f) = self.update(i, PartRecord::forget_not_found)
        {
            return Some(Ready::Failed(f));
        }
        let message = format!(
            "{}: its task {id} was not known to the vendor, but read again {:.1} s later {what}: not resubmitted; rerun the same command to wait for it again",
            self.name(i),
            self.recheck_pause.as_secs_f64()
        );
        let mut f = Failure::other(Exit::Unreachable, "outcome_unknown", message)
            .with("part", i + 1)
            .with("job_id", id);
        if kept.is_some() && self.record(i).is_some_and(|r| r.state == PartState::Done) {
            f = f.with(DOWNLOADED_BEFORE, true);
        }
        Some(Ready::Failed(reported_detail(f, kept)))
    }

    /// A fresh submit: recorded first, then sent.
    async fn submit(&self, i: usize, rec: &PartRecord) -> Ready {
        let Some(mut req) = self.plan.request(i) else {
            return Ready::Failed(Failure::other(Exit::Failure, "manifest", "part missing"));
        };
        let key = (self.plan.provider() == Provider::Vmeg)
            .then(|| format!("vclong-{}", uuid::Uuid::new_v4().simple()));
        if let Some(k) = &key {
            req = req.idempotency_key(k.as_str());
        }
        // A part accepted earlier (in this run or one before) and not known to have failed
        // activates the JimmyAI model when it completes (api-facts B5): the later parts are
        // not refused locally for its activation deadline (JimmyAI decides). A failed task is
        // not counted (whether it activates is UNCONFIRMED).
        let activated = self.manifest.borrow().parts.iter().any(|p| {
            p.job_id.is_some() && matches!(p.state, PartState::Done | PartState::Submitted)
        });
        if activated {
            for line in &mut req.lines {
                line.voice_id = line.voice_id.clone().activated();
            }
        }
        let now = SystemTime::now();
        let old_job = rec.job_id.clone();
        // A submit of unknown outcome this one replaces (`--resubmit-unknown`) may have made a
        // paid task: its key and time are what find it, so they are kept, never overwritten.
        let displaced = (rec.state == PartState::Submitting).then(|| PastSubmit {
            idempotency_key: rec.idempotency_key.clone(),
            submitted_at_ms: rec.submitted_at_ms,
            key_scope: rec.key_scope.clone(),
            resent_at_ms: rec.resent_at_ms.clone(),
        });
        if let Err(f) = self.update(i, |p| {
            p.state = PartState::Submitting;
            p.idempotency_key = key.clone();
            p.submitted_at_ms = Some(unix_ms(now));
            p.key_scope = Some(self.scope.clone());
            // A new key: none of its resends yet, and each will be recorded before it is sent.
            p.resent_at_ms.clear();
            p.resends_recorded = true;
            p.past_submits.extend(displaced);
            p.past_job_ids.extend(old_job);
            p.job_id = None;
            p.files.clear();
            p.clear_error();
        }) {
            // Not sent: the part is as it was.
            if let Some(p) = self.manifest.borrow_mut().parts.get_mut(i) {
                *p = rec.clone();
            }
            return Ready::Failed(f);
        }
        self.sent.set(true);
        match self.client.synthesize(&req).await {
            Ok(job) => self.accepted(i, &job.id).await,
            Err(e) => self.submit_failed(i, &e, Some(rec)).await,
        }
    }

    /// Whether part `i` was accepted as task `stored` in this run.
    fn accepted_here(&self, i: usize, stored: &str) -> bool {
        self.accepted_ids
            .borrow()
            .iter()
            .any(|(k, id)| *k == i && id == stored)
    }

    /// The part other than `i` that holds task `id` (now or before a resubmit), if one does.
    fn holder_of(&self, i: usize, id: &JobId) -> Option<usize> {
        self.manifest
            .borrow()
            .parts
            .iter()
            .filter(|p| p.index != i)
            .find(|p| {
                p.job_id
                    .iter()
                    .chain(p.past_job_ids.iter())
                    .any(|c| c.parse::<JobId>().is_ok_and(|c| c.as_str() == id.as_str()))
            })
            .map(|p| p.index)
    }

    /// Whether task `id` is one part `i` had before its latest submit (its `past_job_ids`,
    /// or a `job_id` that submit has not cleared). Every submit of a part gets a new key
    /// after its earlier task was known, so such a task is provably an earlier submit's,
    /// never the latest one's: taken as the latest, a failed task is read failed again and
    /// the next rerun pays a third time, and the latest submit's task is lost.
    fn earlier_own(&self, i: usize, id: &JobId) -> bool {
        self.manifest.borrow().parts.get(i).is_some_and(|p| {
            p.job_id
                .iter()
                .chain(p.past_job_ids.iter())
                .any(|c| c.parse::<JobId>().is_ok_and(|c| c.as_str() == id.as_str()))
        })
    }

    /// Why part `i` does not take task `id` after its submit, if it does not: another part
    /// holds it, or it is this part's own earlier task.
    fn not_ours(&self, i: usize, id: &JobId) -> Option<String> {
        if let Some(k) = self.holder_of(i, id) {
            return Some(format!(
                "another part ({}) holds that task (a server naming one task for two submits)",
                self.name(k)
            ));
        }
        self.earlier_own(i, id).then(|| {
            "it is this part's own earlier task, from a submit before its latest one (the latest submit's task is another)".to_owned()
        })
    }

    /// A submit that did not come back accepted. `before`: the part as it was before this
    /// submit (a fresh one's; `None` for a resend).
    async fn submit_failed(&self, i: usize, e: &Error, before: Option<&PartRecord>) -> Ready {
        if let ErrorKind::OutcomeUnknown {
            task_id: Some(id), ..
        } = e.kind()
        {
            // The answer named the task before it was lost: it exists, nothing is unknown;
            // unless another part holds it (a server naming one task for two submits), or it
            // is this part's own earlier task, when this part's own task is unknown.
            if let Some(why) = self.not_ours(i, id) {
                return Ready::Unknown(format!(
                    "{}: the answer to its submit was lost ({e}), and the task it named, {id}, is not this submit's: {why}; check the account's tasks",
                    self.name(i)
                ));
            }
            return self.accepted(i, id).await;
        }
        // Every key this tool sends is its own: made for this part's submit (a new uuid,
        // never sent before) and reused only by this part's resend. So a 409 "key already
        // used" on it can only be this part's own submit (a copy a proxy replayed; how VMEG
        // answers a duplicate still in flight is UNKNOWN): a task exists. The library says
        // `Conflict` rather than `OutcomeUnknown` because a caller's key may have been used
        // by other work; this one was not, and reading it as "nothing created" would send
        // the part under a new key on the rerun: a second paid task.
        let own_key = self.record(i).is_some_and(|r| r.idempotency_key.is_some());
        if own_key && *e.kind() == ErrorKind::Conflict {
            return Ready::Unknown(format!(
                "{}: VMEG answered its submit with \"idempotency key already used\" ({e}); the key is this tool's own, made for this submit, so the submit was accepted and its task is not known yet. Rerun the same command: it resends the part with the same key (nothing new is created) and looks its task up",
                self.name(i)
            ));
        }
        let lost = matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }) || e.phase() == Phase::Sent;
        if lost {
            return Ready::Unknown(format!(
                "{}: the answer to its submit was lost ({e}); rerun the same command to resolve it",
                self.name(i)
            ));
        }
        // A refusal that does not prove nothing was made (JimmyAI's undocumented 20002 in an
        // HTTP 2xx, a server error): the part stays `submitting`, so that the rerun resolves
        // it (a VMEG resend under the same key) and never sends it as new work. Unless it had
        // a task to read (see `kept_as_it_was`).
        if !e.may_resubmit() {
            if let Some(r) = self.kept_as_it_was(i, e, before) {
                return r;
            }
            let earlier = before
                .and_then(|b| b.job_id.as_deref())
                .map(|j| format!(" (its earlier task, {j}, is kept in past_job_ids)"))
                .unwrap_or_default();
            return Ready::Unknown(format!(
                "{}: its submit was refused, but not in a way that proves no task was made ({e}); it is not sent again as new work{earlier}: rerun the same command to resolve it",
                self.name(i)
            ));
        }
        // The vendor refused it (or nothing was sent): this submit created no task. A part
        // that was of unknown outcome before it (`--resubmit-unknown`), or whose task had
        // failed, is put back as it was: `planned` would say nothing was ever made for it,
        // and its earlier submit (or failed task) is the record of what may be paid for.
        let msg = e.to_string();
        let restored = before.filter(|b| {
            matches!(
                b.state,
                PartState::Submitting | PartState::Submitted | PartState::Failed | PartState::Done
            )
        });
        if let Err(f) = self.update(i, |p| match restored {
            // What an earlier run reported of it (`error` and `error_kind`) still holds: this
            // submit made nothing, and the flag may send it again on a later run as it did on
            // this one. The refusal is told after it, never in its place.
            Some(b) => {
                *p = PartRecord {
                    error: Some(with_refusal(b.error.as_deref(), &msg)),
                    ..b.clone()
                };
            }
            None => {
                p.state = PartState::Planned;
                p.note(msg, None);
            }
        }) {
            return Ready::Failed(f);
        }
        // Back to `submitting`, the part is what the manifest says: of unknown outcome (exit
        // 3, in `unknown_parts`), not a plain failure a script would read as "nothing paid".
        if let Some(b) = restored.filter(|b| b.state == PartState::Submitting) {
            return Ready::Unknown(format!(
                "{}: its resubmit was refused ({e}), so this submit created nothing, but its earlier submit{} may have: the part stays of unknown outcome",
                self.name(i),
                submit_found_by(
                    b.submitted_at(),
                    b.idempotency_key.as_deref(),
                    b.last_resent_at()
                )
            ));
        }
        // Back to `done` (its audio downloaded before, its task now read failed or not
        // found): still the contradiction an earlier run reported, exit 3, resolved by
        // restoring the file.
        if let Some(b) = restored.filter(|b| b.state == PartState::Done) {
            let job = b.job_id.as_deref().unwrap_or("?");
            return Ready::Failed(reported_detail(
                Failure::other(
                    Exit::Unreachable,
                    "outcome_unknown",
                    format!(
                        "{}: its resubmit was refused ({e}), so this submit created nothing; the part stays `done`, its audio downloaded before from task {job}: restore the file, or rerun with --resubmit-unknown",
                        self.name(i),
                    ),
                )
                .with("part", i + 1)
                .with("job_id", job)
                .with(DOWNLOADED_BEFORE, true),
                b.error_kind,
            ));
        }
        // Back to `submitted` (its task not found, or its answer unreadable, as an earlier
        // run reported): that task may have been made and billed, and how it ended is still
        // not known. Exit 3 naming it, never 1, which reads as "failed, nothing paid".
        if let Some(b) = restored.filter(|b| b.state == PartState::Submitted) {
            let job = b.job_id.as_deref().unwrap_or("?");
            let noted = b
                .error
                .as_deref()
                .map(|w| format!(" ({w})"))
                .unwrap_or_default();
            return Ready::Failed(reported_detail(
                Failure::other(
                    Exit::Unreachable,
                    "outcome_unknown",
                    format!(
                        "{}: its resubmit was refused ({e}), so this submit created nothing; the part stays `submitted` as task {job}, whose outcome is not known{noted}: it is not submitted again unasked. Rerun the same command to read it again, or rerun with --resubmit-unknown to submit it again (billed again)",
                        self.name(i),
                    ),
                )
                .with("part", i + 1)
                .with("job_id", job),
                b.error_kind,
            ));
        }
        Ready::Failed(Failure::from_adapter(e).with("part", i + 1))
    }

    /// Part `i`, `submitted` or `done` as a task (`before`) until its resubmit (the flag) was
    /// refused by `e` in a way that does not prove nothing was made, and sent with no
    /// idempotency key (JimmyAI's): no rerun could resolve that create, and left `submitting`
    /// the next run with the flag would pay at once while the old task went unread. So the
    /// part is put back as it was (its task read again by the rerun, what was reported of it
    /// kept, the refusal told after it), and the create is listed in `past_submits`, as a
    /// submit that may have made a task. Exit 3 naming both. `None` for any other part: a
    /// VMEG create keeps its key, which the rerun resends (nothing new if it landed).
    fn kept_as_it_was(&self, i: usize, e: &Error, before: Option<&PartRecord>) -> Option<Ready> {
        let b = before.filter(|b| matches!(b.state, PartState::Submitted | PartState::Done))?;
        let job = b.job_id.clone()?;
        let now = self.record(i)?;
        if now.idempotency_key.is_some() {
            return None;
        }
        let past = PastSubmit {
            idempotency_key: None,
            submitted_at_ms: now.submitted_at_ms,
            key_scope: now.key_scope.clone(),
            resent_at_ms: Vec::new(),
        };
        let msg = e.to_string();
        if let Err(f) = self.update(i, |p| {
            let mut past_submits = b.past_submits.clone();
            past_submits.push(past);
            *p = PartRecord {
                error: Some(with_refusal(b.error.as_deref(), &msg)),
                past_submits,
                ..b.clone()
            };
        }) {
            return Some(Ready::Failed(f));
        }
        let state = if b.state == PartState::Done {
            "done"
        } else {
            "submitted"
        };
        let noted = b
            .error
            .as_deref()
            .map(|w| format!(" ({w})"))
            .unwrap_or_default();
        let mut f = Failure::other(
            Exit::Unreachable,
            "outcome_unknown",
            format!(
                "{}: its resubmit was refused, but not in a way that proves no task was made ({e}); that submit{} is listed in past_submits, as one that may have created a task that was never recorded (check the vendor's console), and the part stays `{state}` as task {job}{noted}: it is not submitted again unasked. Rerun the same command to read task {job} again",
                self.name(i),
                submit_found_by(now.submitted_at(), None, None),
            ),
        )
        .with("part", i + 1)
        .with("job_id", job.as_str());
        if b.state == PartState::Done {
            f = f.with(DOWNLOADED_BEFORE, true);
        }
        Some(Ready::Failed(reported_detail(f, b.error_kind)))
    }

    /// The vendor accepted part `i` as task `id`: recorded, then waited for. A task another
    /// part holds is not taken: every path that gives a part its task comes through here.
    async fn accepted(&self, i: usize, id: &JobId) -> Ready {
        // Two submits of different texts are two tasks: a server answering both with one
        // id (a caching proxy) would have this part's audio be the other part's. This
        // part's own task, if its submit made one, is unknown: it stays `submitting`, so
        // that the rerun resolves it by its key, never under a new one.
        if let Some(why) = self.not_ours(i, id) {
            return Ready::Unknown(format!(
                "{}: its submit was answered with task {id}, but {why}; it is not taken, and this part's own task is unknown. Check the account's tasks; rerun the same command to resolve it",
                self.name(i)
            ));
        }
        let stored = id.to_string();
        self.accepted_ids.borrow_mut().push((i, stored.clone()));
        if let Err(f) = self.update(i, |p| {
            p.state = PartState::Submitted;
            p.job_id = Some(stored.clone());
        }) {
            // The task is paid for and the manifest does not know it (JimmyAI has no task
            // list: this id is the only way to it). Say so, whatever the output mode.
            let message = format!(
                "{} was accepted as task {stored} (paid for), but the manifest could not record it: {}. Keep this id (`{}` waits for it and shows its result); a rerun does not know it",
                self.name(i),
                f.message,
                crate::output::suggested_command(&format!(
                    "wait --kind speech {}",
                    crate::output::shell_word(&stored)
                ))
            );
            return Ready::Failed(
                Failure {
                    exit: Exit::Unreachable,
                    message,
                    ..f
                }
                .with("part", i + 1)
                .with("job_id", stored),
            );
        }
        self.wait(i, &stored).await
    }

    /// A part recorded as `submitting`: its submit may have created a task.
    async fn unknown(&self, i: usize, rec: &PartRecord) -> Ready {
        let at = rec.submitted_at();
        match (&rec.idempotency_key, at) {
            (Some(key), Some(at)) if self.resendable(rec) => self.resend(i, key, at, None).await,
            // Asked to send it again, a VMEG part held back only by its key's scope is resent
            // under its own key, not a new one: under another API key its key is as new as a
            // new one would be (the same paid work), and if the scope is in fact this run's
            // (a manifest that did not record it, a base URL spelt another way) VMEG
            // deduplicates it. The submit under the recorded scope is kept in `past_submits`.
            (Some(key), Some(at))
                if self.resubmit_unknown
                    && self.plan.provider() == Provider::Vmeg
                    && key_fresh(rec) =>
            {
                let _gate = match self.flag_gate().await {
                    Ok(gate) => gate,
                    Err(Hold::Broken(why)) => return held_back_unknown(&self.name(i), rec, &why),
                    Err(Hold::Stopped) => return Ready::Deferred,
                };
                self.printer.progress(&format!(
                    "{}: resending its submit{} under this run's API key and base URL, with the same key (--resubmit-unknown; the manifest keeps the earlier submit in past_submits)",
                    self.name(i),
                    submit_found_by(Some(at), Some(key), rec.last_resent_at())
                ));
                let past = PastSubmit {
                    idempotency_key: Some(key.clone()),
                    submitted_at_ms: rec.submitted_at_ms,
                    key_scope: rec.key_scope.clone(),
                    resent_at_ms: rec.resent_at_ms.clone(),
                };
                self.resend(i, key, at, Some(past)).await
            }
            _ if self.resubmit_unknown => {
                let _gate = match self.flag_gate().await {
                    Ok(gate) => gate,
                    Err(Hold::Broken(why)) => return held_back_unknown(&self.name(i), rec, &why),
                    Err(Hold::Stopped) => return Ready::Deferred,
                };
                self.printer.progress(&format!(
                    "{}: resubmitting although its earlier submit{} may have created a task (--resubmit-unknown; the manifest keeps that submit in past_submits)",
                    self.name(i),
                    submit_found_by(at, rec.idempotency_key.as_deref(), rec.last_resent_at())
                ));
                self.submit(i, rec).await
            }
            _ => Ready::Unknown(format!(
                "{}: its submit{} may have created a task that was never recorded; it was not resubmitted ({}). {}Check the vendor's console; to send it again at the risk of paying twice, rerun with --resubmit-unknown",
                self.name(i),
                submit_found_by(at, rec.idempotency_key.as_deref(), rec.last_resent_at()),
                self.not_resent_why(rec),
                self.free_way(rec)
            )),
        }
    }

    /// VMEG: resends part `i` with the key it was sent with; under this run's scope, keeping
    /// the submit under the recorded one in `past_submits`, when `rescope` is given (asked by
    /// `--resubmit-unknown`). The rescope is recorded with the resend, in one write, and undone
    /// when the resend was refused (it made nothing): a later rerun must not resend the key
    /// unasked under a scope it was never accepted in.
    async fn resend(
        &self,
        i: usize,
        key: &str,
        at: SystemTime,
        rescope: Option<PastSubmit>,
    ) -> Ready {
        let Some(req) = self.plan.request(i) else {
            return Ready::Failed(Failure::other(Exit::Failure, "manifest", "part missing"));
        };
        let req = req.idempotency_key(key);
        // Recorded before it is sent, as a first submit is: a task this resend makes, its
        // answer lost, is dated around this time, which the next rerun's search then covers.
        let started = SystemTime::now();
        let before = self.record(i);
        let rescoped = rescope.is_some();
        if let Err(f) = self.update(i, |p| {
            if let Some(past) = rescope {
                p.past_submits.push(past);
                p.key_scope = Some(self.scope.clone());
            }
            if p.resent_at_ms.len() < MAX_RESENDS_RECORDED {
                p.resent_at_ms.push(unix_ms(started));
            } else {
                // The latest is kept for people; not every resend is recorded now.
                if let Some(last) = p.resent_at_ms.last_mut() {
                    *last = unix_ms(started);
                }
                p.resends_recorded = false;
            }
        }) {
            // Not sent: the part is as it was.
            if let (Some(b), Some(p)) = (before, self.manifest.borrow_mut().parts.get_mut(i)) {
                *p = b;
            }
            return Ready::Failed(f);
        }
        self.sent.set(true);
        // Each request of it keeps the client's own timeout (30 s), and the whole of it (its
        // search of the task list included) is bounded as `reconcile` bounds a search: a
        // server slow on each of 10,000 pages would otherwise hold the run for days. Not by
        // `Client::with_timeout`, which would cut every request to `--timeout` (10 ms with
        // `--timeout 0.01`: the resend failed on every rerun) or let one request take 30 min.
        // Dropping the resend when the bound runs out loses nothing: the key and the submit
        // time are in the manifest, and the part stays `submitting` for the next rerun.
        let resent =
            tokio::time::timeout(self.search_timeout, self.client.resend_speech(&req, at)).await;
        let Ok(resent) = resent else {
            return Ready::Unknown(format!(
                "{}: its earlier submit may have created a task, and resending it with the same key (its search of the task list included) did not end within {} s; rerun the same command to try again (nothing is sent under a new key)",
                self.name(i),
                self.search_timeout.as_secs()
            ));
        };
        let answer = match resent {
            Ok(a) => a,
            // An answer that named its task: taken as a lost submit's would be.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::OutcomeUnknown {
                        task_id: Some(_),
                        ..
                    }
                ) =>
            {
                return self.submit_failed(i, &e, None).await;
            }
            // Whatever the resend met (a refusal, a lost answer, or the key used but the
            // lookup of its task failed), it says nothing of whether the first submit made
            // a task: the part stays `submitting`, for the next rerun to resend with the
            // same key, never `planned` (a new key, maybe a second paid task).
            Err(e) => {
                // Refused under this run's scope (401, 402, 400): it made nothing there, so the
                // part goes back to the scope it was sent under.
                if rescoped
                    && made_nothing(&e)
                    && let Some(b) = before.clone()
                    && let Err(f) = self.update(i, |p| *p = b)
                {
                    return Ready::Failed(f);
                }
                // A submit time ahead of the clock (moved back since) is refused by the
                // resend: the rerun succeeds once the clock has passed it, never by a new key.
                let clock = match at.duration_since(SystemTime::now()) {
                    Ok(ahead) if !ahead.is_zero() => format!(
                        "; this machine's clock is behind the submit time recorded, {} (by {} s: was the clock moved back?), and the key is still the one to resend with: rerun once the clock is right",
                        rfc3339(at),
                        ahead.as_secs()
                    ),
                    _ => String::new(),
                };
                return Ready::Unknown(format!(
                    "{}: its earlier submit may have created a task, and resending it with the same key failed ({e}){clock}; rerun the same command to try again (nothing is sent under a new key)",
                    self.name(i)
                ));
            }
        };
        let already = match answer {
            Resubmitted::Accepted(job) => {
                self.printer.progress(&format!(
                    "{}: its earlier submit had created nothing; resent with the same key",
                    self.name(i)
                ));
                return self.accepted(i, &job.id).await;
            }
            Resubmitted::AlreadyAccepted(a) => a,
            _ => {
                return Ready::Unknown(format!(
                    "{}: an answer to its resend this tool does not know",
                    self.name(i)
                ));
            }
        };
        // Another part's task, or this part's own earlier one, is no candidate.
        let is_claimed = |id: &JobId| self.not_ours(i, id).is_some();
        match &already.reconciled {
            Reconciled::Found { task, .. } if is_claimed(&task.id) => Ready::Unknown(format!(
                "{}: the provider named {} as its task, but {}; check the account's tasks",
                self.name(i),
                task.id,
                self.not_ours(i, &task.id).unwrap_or_default()
            )),
            Reconciled::Found { task, evidence } => {
                self.printer.progress(&format!(
                    "{}: its earlier submit was accepted as {} ({evidence})",
                    self.name(i),
                    task.id
                ));
                self.accepted(i, &task.id).await
            }
            Reconciled::Candidates {
                tasks,
                from,
                to,
                incomplete,
            } => {
                let windows = self.attempt_windows(i, started, SystemTime::now());
                let fits = |t: &voiceclone::TaskSummary| match &windows {
                    Some(w) => w.iter().any(|(a, b)| created_within(t, *a, *b)),
                    None => created_within(t, *from, *to),
                };
                let free = rivals(tasks.iter().filter(|t| !is_claimed(&t.id)), &fits);
                match free.as_slice() {
                    // A sole candidate of an incomplete search (records it could not read, a
                    // named task not found) may be another job's: never taken.
                    [one] if !*incomplete && fits(one) => {
                        self.printer.progress(&format!(
                            "{}: its earlier submit was accepted (VMEG said its key was used); {} is the only speech task created around it that no other part claims",
                            self.name(i),
                            one.id
                        ));
                        let id = one.id.clone();
                        self.accepted(i, &id).await
                    }
                    [one] if *incomplete => Ready::Unknown(format!(
                        "{}: VMEG says its submit was accepted, and one unclaimed task fits, {}, but the search was incomplete (the task list held records that could not be read, or the task an answer named was not found), so its task may be another: it was not taken. Rerun to look again; --resubmit-unknown does not apply while the key is fresh",
                        self.name(i),
                        candidate(one)
                    )),
                    // A task with no creation time, or one without a UTC offset, fits any
                    // window: being the only one says nothing (another job's, from any day).
                    // Dated with its offset, but far from every attempt of this part.
                    [one] if one.created_at.is_some() && !one.created_at_offset_unknown => {
                        Ready::Unknown(format!(
                            "{}: VMEG says its submit was accepted, and one unclaimed task is listed, {}, but it was created far from every time this part was sent (its submit and each resend recorded, give or take their retries and the vendor's clock), so nothing ties it to this submit (it may be another job's): it was not taken. Check it; --resubmit-unknown does not apply while the key is fresh",
                            self.name(i),
                            candidate(one),
                        ))
                    }
                    [one] => Ready::Unknown(format!(
                        "{}: VMEG says its submit was accepted, and one unclaimed task fits, {}, but its creation time is not known (with a UTC offset) to be between {} and {}, so nothing ties it to this submit (it may be another job's): it was not taken. Check it; --resubmit-unknown does not apply while the key is fresh",
                        self.name(i),
                        candidate(one),
                        rfc3339(*from),
                        rfc3339(*to)
                    )),
                    // No task listed, or every one listed is another part's or this part's
                    // earlier one (`rivals` keeps every unclaimed task when none is dated
                    // inside the window): its own may not be listed yet.
                    [] => Ready::Unknown(format!(
                        "{}: VMEG says its submit was accepted, but no unclaimed speech task created around it is listed ({}; the list may lag); rerun the same command to look again (nothing is sent under a new key)",
                        self.name(i),
                        if tasks.is_empty() {
                            "no readable task was listed"
                        } else {
                            "the tasks listed are other parts' or this part's earlier ones"
                        },
                    )),
                    _ => Ready::Unknown(format!(
                        "{}: VMEG says its submit was accepted, but {} unclaimed tasks fit and nothing ties one to it: {}. Check them; --resubmit-unknown does not apply while the key is fresh",
                        self.name(i),
                        free.len(),
                        free.iter()
                            .map(|t| candidate(t))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                }
            }
            other => Ready::Unknown(format!("{}: {other}", self.name(i))),
        }
    }

    /// Waits for part `i`'s task.
    async fn wait(&self, i: usize, stored: &str) -> Ready {
        let id: JobId = match stored.parse() {
            Ok(id) => id,
            Err(e) => {
                let e: voiceclone::ParseError = e;
                return Ready::Failed(Failure::other(
                    Exit::Failure,
                    "manifest",
                    format!("{}: job id {stored:?}: {}", self.name(i), e.reason()),
                ));
            }
        };
        if let Some(awaited) = self.awaited {
            awaited.add(&id);
        }
        // A part recorded `done` had its audio downloaded (its task succeeded): a failure read
        // now contradicts that, and is no reason to pay for it again unasked.
        let done_before = self.record(i).is_some_and(|r| r.state == PartState::Done);
        let waited = self.client.wait_for_speech(&id, &self.policy).await;
        // A task made in this run whose status was read: reads work (see `reads_proven`).
        if self.accepted_here(i, stored)
            && match &waited {
                Ok(_) => true,
                Err(e) => matches!(e.kind(), ErrorKind::TaskFailed { .. }),
            }
        {
            self.reads_proven.set(true);
        }
        match waited {
            Ok(speech) => match self.lines_missing(i, &speech) {
                Some(LinesMissing::Failed(why)) if done_before => {
                    let f = Failure::other(Exit::Failure, "task_failed", why.clone());
                    Ready::Failed(self.contradicted(i, stored, why, f))
                }
                Some(LinesMissing::Failed(why)) => Ready::Failed(self.failed_lines(i, why)),
                Some(LinesMissing::Unreadable(why)) => {
                    Ready::Failed(self.unreadable(i, stored, why, done_before))
                }
                None => Ready::Speech(speech),
            },
            // No line of its finished task could be read (none failed by the vendor's word):
            // the same as when some could not, or the part would be left without its error
            // noted, and `--resubmit-unknown` could never apply.
            Err(e) if e.audio_unreadable().is_some() => {
                let why = e.audio_unreadable().unwrap_or_default().to_owned();
                Ready::Failed(self.unreadable(i, stored, why, done_before))
            }
            Err(e) => {
                // A failure read from a status word the vendor does not document is an
                // assumption (`Error::assumed_status`): the task may be alive, so the part is
                // not marked failed (a rerun would submit and pay for it again); it is an
                // unknown outcome below, and a rerun waits for it again.
                if let (ErrorKind::TaskFailed { reason, .. }, None) = (e.kind(), e.assumed_status())
                {
                    let reason = reason.clone();
                    if done_before {
                        return Ready::Failed(self.contradicted(
                            i,
                            stored,
                            reason,
                            Failure::from_adapter(&e),
                        ));
                    }
                    if let Err(f) = self.update(i, |p| {
                        p.state = PartState::Failed;
                        p.note(reason, None);
                    }) {
                        return Ready::Failed(f);
                    }
                    return Ready::Failed(Failure::from_adapter(&e).with("part", i + 1));
                }
                // Not known to the vendor (its own answer) under the API key and base URL it
                // was sent with, no rerun of the same command finds it: reported, for
                // `--resubmit-unknown` to apply after. Not for a task accepted in this run: a
                // read lagging its create says nothing of a task gone, and a task no read can
                // reach would be paid for again on every run with the flag. Under another API
                // key or base URL, the advice below (that key and base URL) stands.
                let scope_note = self.record(i).and_then(|r| self.task_scope_note(&r));
                let unknown_here = vendor_does_not_know(self.plan.provider(), &e);
                if unknown_here && scope_note.is_none() && self.accepted_here(i, stored) {
                    // Reads fail even for a task made seconds ago: the flag stops here.
                    self.reads_broken
                        .borrow_mut()
                        .get_or_insert_with(|| format!("task {stored} of {}", self.name(i)));
                }
                if unknown_here
                    && !self.accepted_here(i, stored)
                    && scope_note.is_none()
                    && let Some(rec) = self.record(i)
                {
                    return Ready::Failed(self.not_found(i, stored, &e, &rec, done_before));
                }
                let timed_out = matches!(e.kind(), ErrorKind::WaitTimedOut { .. });
                if timed_out {
                    self.timed_out.set(true);
                }
                // A task not found noted before is no longer what the latest read says: the
                // wait ran out (whether any poll was answered, the error does not tell: only
                // holding payment back rides on it), or it was read under another API key or
                // base URL, where "not found" says nothing. The flag then waits for a run to
                // report it not found again.
                if (timed_out || scope_note.is_some())
                    && self
                        .record(i)
                        .is_some_and(|r| r.error_kind == Some(ReportedKind::TaskNotFound))
                    && let Err(f) = self.update(i, PartRecord::forget_not_found)
                {
                    return Ready::Failed(f);
                }
                // The task was accepted (it may be billed) and the wait says nothing of how
                // it ended (a poll answered 404 or an HTML page, `--timeout`): exit 3, as
                // a single `speak --wait` says, never 1, which reads as "failed".
                let f = Failure::from_adapter(&e);
                // A task made under another API key (or base URL) than this run's may not be
                // found under this one (tasks are kept per API key, api-facts A1): the same
                // command would read the same, so the rerun to advise is under that key.
                let rerun = scope_note
                    .unwrap_or_else(|| "rerun the same command to wait for it again".to_owned());
                Ready::Failed(
                    Failure {
                        exit: Exit::Unreachable,
                        message: format!(
                            "{} was accepted as task {stored}, but waiting for it failed ({}); its outcome is not known: do not submit it again; {rerun}",
                            self.name(i),
                            f.message
                        ),
                        ..f
                    }
                    .with("part", i + 1)
                    .with("job_id", stored),
                )
            }
        }
    }

    /// Part `i`, whose audio was downloaded in an earlier run from task `stored` and whose
    /// file is now missing or damaged, read as failed (`why`; `f` the failure as read). It
    /// stays `done`, the error noted: a rerun reads it again, and only `--resubmit-unknown`
    /// submits it again. Exit 3: the vendor's answer contradicts what the part has shown.
    fn contradicted(&self, i: usize, stored: &str, why: String, f: Failure) -> Failure {
        if let Err(f) = self.update(i, |p| {
            p.note(why.clone(), Some(ReportedKind::DownloadedBeforeFailed));
        }) {
            return f;
        }
        let message = format!(
            "{}: its audio was downloaded before from task {stored}, but its file is missing or damaged, and the vendor now reports that task failed ({why}); it stays `done` and is not submitted again (a new task is billed again): restore the file, or rerun with --resubmit-unknown to submit it again",
            self.name(i)
        );
        Failure {
            exit: Exit::Unreachable,
            message,
            ..f
        }
        .with("part", i + 1)
        .with("job_id", stored)
        .with(DOWNLOADED_BEFORE, true)
    }

    /// Part `i`, whose task `stored` finished with lines the client could not read (`why`),
    /// none failed by the vendor's word: its task may hold their audio, so the part stays
    /// as it was (`submitted`, or `done` when downloaded before), the error noted. Exit 3: a
    /// rerun reads it again, and only `--resubmit-unknown`, once a run has reported it,
    /// submits it again (billed again).
    fn unreadable(&self, i: usize, stored: &str, why: String, done_before: bool) -> Failure {
        if let Err(f) = self.update(i, |p| {
            p.note(why.clone(), Some(ReportedKind::AnswerUnreadable));
        }) {
            return f;
        }
        let (state, before) = if done_before {
            (
                "done",
                format!(
                    " its audio was downloaded before from task {stored}, and its file is missing or damaged;"
                ),
            )
        } else {
            ("submitted", String::new())
        };
        let message = format!(
            "{}:{before} its task {stored} finished, but {why}; nothing of it was downloaded. The vendor did not say those lines failed, so its task may hold their audio: the part stays `{state}` and is not submitted again (a new task is billed again). Rerun the same command to read it again, or, now that this was reported, rerun with --resubmit-unknown to submit it again",
            self.name(i)
        );
        let mut f = Failure::other(Exit::Unreachable, "invalid_response", message)
            .with("part", i + 1)
            .with("job_id", stored)
            .with(ANSWER_UNREADABLE, true);
        if done_before {
            f = f.with(DOWNLOADED_BEFORE, true);
        }
        f
    }

    /// Part `i`, whose task `stored` the vendor says it does not know (`e`) under the API key
    /// and base URL its part `rec` was sent with: deleted, expired, or asked of another host
    /// than it was made at. It may have been made and billed (and, `done_before`, its audio
    /// was downloaded), so the part stays as it was (`submitted`, or `done`), the error noted
    /// as a task not found. Exit 3: a rerun reads it again, and only `--resubmit-unknown`,
    /// once a run has reported it, submits it again (billed again); a `done` part's restored
    /// file ends it.
    fn not_found(
        &self,
        i: usize,
        stored: &str,
        e: &Error,
        rec: &PartRecord,
        done_before: bool,
    ) -> Failure {
        let f = Failure::from_adapter(e);
        if let Err(w) = self.update(i, |p| {
            p.note(f.message.clone(), Some(ReportedKind::TaskNotFound));
        }) {
            return w;
        }
        // A version-1 manifest did not record the scope: it may have been another one's.
        let unscoped = if rec.key_scope.is_none() {
            " (the API key and base URL its submit was sent under were not recorded, by an earlier version of this tool: if they were others, rerun with those first)"
        } else {
            ""
        };
        // The vendor's reasons are not known (JimmyAI documents none): what may cause it.
        let causes = "it may have been deleted or expired, or the base URL may not be the one it was made at";
        let message = if done_before {
            // Its audio was downloaded, so the task was made and succeeded: what is not known
            // is only whether it still holds the audio.
            format!(
                "{}: its audio was downloaded before from task {stored}, but its file is missing or damaged, and that task is not known to the vendor under this API key and base URL ({}){unscoped}: {causes}. It stays `done` and is not submitted again (a new task is billed again): restore the file, or rerun with --resubmit-unknown to submit it again",
                self.name(i),
                f.message
            )
        } else {
            format!(
                "{}: its task {stored} is not known to the vendor under this API key and base URL ({}){unscoped}: {causes}. Its outcome is not known (it may have been made and billed), so it is not submitted again unasked, and the part stays `submitted`. Now that this was reported, rerun with --resubmit-unknown to submit it again (billed again)",
                self.name(i),
                f.message
            )
        };
        let mut f = Failure {
            exit: Exit::Unreachable,
            message,
            ..f
        }
        .with("part", i + 1)
        .with("job_id", stored)
        .with(TASK_NOT_FOUND, true);
        if done_before {
            f = f.with(DOWNLOADED_BEFORE, true);
        }
        f
    }

    /// Downloads part `i`'s audio in order and records the files (its lines were checked by
    /// [`Run::wait`]).
    async fn download(&self, i: usize, speech: &Speech) -> Result<Vec<String>, Failure> {
        let several = speech.audio_urls.len() > 1;
        let mut files = Vec::with_capacity(speech.audio_urls.len());
        let total = self.plan.parts().len();
        let rec = self.record(i);
        for (k, url) in speech.audio_urls.iter().enumerate() {
            let stem = part_stem(i, total, k, several);
            // A file recorded under the same part and line, padded otherwise by an earlier
            // version, is downloaded again under its recorded name.
            let stem = rec
                .as_ref()
                .and_then(|r| recorded_stem(r, k, &stem))
                .unwrap_or(stem);
            let left = self.budget.saturating_sub(self.spent.get());
            if left == 0 {
                return Err(self.budget_stop(i, k, left, None));
            }
            self.clear_stand_ins(i, &stem)
                .map_err(|f| self.download_failed(i, f, false))?;
            let got = match self
                .client
                .download_to_dir_within(url, &self.dir, &stem, left)
                .await
            {
                Ok(got) => got,
                // The cap in force was what is left of the budget, not the client's own.
                Err(e) if crate::commands::out::refused_by_budget(&e, left, self.client) => {
                    return Err(self.budget_stop(i, k, left, Some(&e)));
                }
                Err(e) => {
                    return Err(self.download_failed(i, Failure::from_adapter(&e), false));
                }
            };
            self.spent.set(self.spent.get().saturating_add(got.bytes));
            let (bytes, sha256) = file_sha256(&got.path).map_err(|e| {
                let f =
                    self.unrecorded(Failure::io(&format!("reading {}", got.path.display()), &e));
                self.download_failed(i, f, true)
            })?;
            let name = got
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or(stem);
            files.push(FileRecord {
                name,
                bytes,
                sha256,
            });
        }
        let names = files.iter().map(|f| f.name.clone()).collect();
        self.update(i, |p| {
            p.state = PartState::Done;
            p.files = files;
            p.clear_error();
        })
        .map_err(|f| self.download_failed(i, f, true))?;
        Ok(names)
    }

    /// A failure of part `i`'s download (`written`: its files were written, and reading
    /// them back or recording them failed). The part's task was paid, in this run or an
    /// earlier one: never exit 2, which promises that nothing was sent (a local write that
    /// failed is exit 1, as a download that could not be written is), and the message names
    /// the part, as `part` does with `--json`.
    /// Removes what stands in place of a file part `i` recorded in an earlier run under
    /// `stem` (`stem.ext`, an extension a download may take): a FIFO, socket, device or
    /// symlink, not a regular file or a directory. The library refuses to rename a download
    /// over one (a reader waiting on a FIFO would never get a byte), but this is the run's
    /// own output, judged not intact ([`files_intact`]), and is downloaded again in its
    /// place, as the rename used to do. Only the recorded names built from `stem` are
    /// touched, never a path the manifest could point elsewhere.
    fn clear_stand_ins(&self, i: usize, stem: &str) -> Result<(), Failure> {
        let Some(rec) = self.record(i) else {
            return Ok(());
        };
        for f in &rec.files {
            let ours = f
                .name
                .strip_prefix(stem)
                .and_then(|rest| rest.strip_prefix('.'))
                .is_some_and(|ext| voiceclone::download::EXTENSIONS.contains(&ext));
            if !ours {
                continue;
            }
            let path = self.dir.join(&f.name);
            let stand_in = std::fs::symlink_metadata(&path)
                .is_ok_and(|m| !m.file_type().is_file() && !m.file_type().is_dir());
            if stand_in {
                match std::fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(Failure::io(
                            &format!("removing {} to download it again", path.display()),
                            &e,
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn download_failed(&self, i: usize, mut f: Failure, written: bool) -> Failure {
        if f.exit == Exit::Usage {
            f.exit = Exit::Failure;
        }
        let what = if written {
            "its audio was downloaded but not recorded as done"
        } else {
            "its audio was not downloaded"
        };
        f.message.push_str(&format!(
            "; {}: {what} (its task is paid: rerun the same command to download it again)",
            self.name(i)
        ));
        f.with("part", i + 1)
    }

    /// Why part `i`'s finished task lacks the audio of some of its lines, if it does. VMEG
    /// answers each line of a task (one result per line, by position), and a line can fail
    /// while the task succeeds: its audio is missing, and the files, named by position,
    /// would give the later lines' audio the wrong names. JimmyAI parts are one line with
    /// no per-line answer. Fewer results than lines, none failed, are only logged: that
    /// VMEG answers exactly one result per line is not documented (api-facts A13). A line
    /// the vendor said failed (its error, no audio) makes the part failed; a line with no
    /// audio and no error from the vendor is one the client could not read, and only makes
    /// the part unreadable when no line failed (a failed line sends the part again anyway).
    /// A line with audio and an error keeps its audio: the error is a remark.
    fn lines_missing(&self, i: usize, speech: &Speech) -> Option<LinesMissing> {
        if speech.segments.is_empty() {
            return None;
        }
        let lines = self.plan.parts().get(i).map_or(0, |p| p.lines.len());
        let answered = speech.segments.len();
        if answered != lines {
            tracing::warn!(
                part = i + 1,
                lines,
                results = answered,
                "VMEG answered another number of results than the part has lines"
            );
        }
        let listed = |reasons: Vec<String>| -> (usize, String) {
            let shown = reasons.len().min(3);
            let mut listed = reasons.get(..shown).unwrap_or_default().join("; ");
            if reasons.len() > shown {
                listed.push_str(&format!("; and {} more", reasons.len() - shown));
            }
            (reasons.len(), listed)
        };
        // A vendor's message (or the client's reason), shown up to 200 characters.
        let line = |k: usize, why: &str| {
            let why: String = why.chars().take(200).collect();
            format!("line {}: {why}", k + 1)
        };
        let failed: Vec<String> = speech
            .segments
            .iter()
            .enumerate()
            .filter(|(_, s)| s.failed())
            .map(|(k, s)| line(k, s.error.as_deref().unwrap_or_default()))
            .collect();
        if !failed.is_empty() {
            let (n, listed) = listed(failed);
            return Some(LinesMissing::Failed(format!(
                "{n} of its {answered} lines failed ({listed})"
            )));
        }
        let unread: Vec<String> = speech
            .segments
            .iter()
            .enumerate()
            .filter(|(_, s)| s.url.is_none())
            .map(|(k, s)| {
                line(
                    k,
                    s.unreadable
                        .as_deref()
                        .unwrap_or("no audio URL and no error"),
                )
            })
            .collect();
        if unread.is_empty() {
            return None;
        }
        let (n, listed) = listed(unread);
        Some(LinesMissing::Unreadable(format!(
            "{n} of its {answered} lines could not be read ({listed})"
        )))
    }

    /// Part `i` finished without the audio of every line (`why`): recorded as failed (a
    /// rerun submits it again), nothing of it downloaded.
    fn failed_lines(&self, i: usize, why: String) -> Failure {
        let job = self
            .manifest
            .borrow()
            .parts
            .get(i)
            .and_then(|p| p.job_id.clone());
        if let Err(f) = self.update(i, |p| {
            p.state = PartState::Failed;
            p.note(why.clone(), None);
        }) {
            return f;
        }
        let mut f = Failure::other(
            Exit::Failure,
            "task_failed",
            format!(
                "{}: its task finished, but {why}; nothing of it was downloaded (its files would miss lines); a rerun submits it again, and it is billed again",
                self.name(i)
            ),
        )
        .with("part", i + 1);
        if let Some(id) = job {
            f = f.with("job_id", id);
        }
        f
    }

    /// The budget refused file `k` of part `i` (`e`, with `left` bytes of it left), or there
    /// was nothing left of it: no part is started or downloaded from now on.
    fn budget_stop(&self, i: usize, k: usize, left: u64, e: Option<&Error>) -> Failure {
        self.over_budget.set(true);
        let spent = self.spent.get();
        let why = match e.and_then(Error::message) {
            Some(m) => format!(" ({left} bytes were left; {m})"),
            None => format!(" ({left} bytes were left)"),
        };
        Failure::other(
            Exit::Failure,
            "download_budget",
            format!(
                "stopped downloading: file {} of {} would go past this run's download budget of {} bytes (--max-total-bytes){why}; {spent} bytes were downloaded and are kept in {} (a part cut short stays `submitted` and the rerun downloads it whole). No further part was started and none was submitted again: the job ids of the parts sent are in the manifest {}, so a rerun of the same command (with a larger --max-total-bytes if this much audio is expected) finishes downloading without paying again",
                k + 1,
                self.name(i),
                self.budget,
                self.dir.display(),
                self.dir.join(manifest::FILE_NAME).display()
            ),
        )
        .with("part", i + 1)
        .with("max_total_bytes", self.budget)
        .with("downloaded_bytes", spent)
    }

    /// The result: every file in order, or what is left to do.
    fn outcome(&self, failures: Vec<Failure>, unknown: Vec<String>) -> Outcome {
        let m = self.manifest.borrow();
        let mut o = Outcome::default();
        o.set("provider", self.plan.provider().as_str());
        o.set(
            "manifest",
            self.dir.join(manifest::FILE_NAME).display().to_string(),
        );
        // What is on disk now, as recorded (size and SHA-256): a recorded file removed or
        // changed since (or never fetched again, the run having stopped) is not given to a
        // script as there.
        // Each file hashed once, for both `files` and `missing_files`.
        let missing: std::collections::HashSet<&str> = m
            .parts
            .iter()
            .flat_map(|p| p.files.iter())
            .filter(|f| !manifest::file_intact(&self.dir, f))
            .map(|f| f.name.as_str())
            .collect();
        let files: Vec<String> = m
            .parts
            .iter()
            .flat_map(|p| p.files.iter())
            .filter(|f| !missing.contains(f.name.as_str()))
            .map(|f| self.dir.join(&f.name).display().to_string())
            .collect();
        // Each part's failure in this run, by the part it names, for `parts`.
        let failed_parts: std::collections::HashMap<u64, Value> = failures
            .iter()
            .filter_map(|f| {
                let part = f.details.get("part")?.as_u64()?;
                Some((part, json!({"kind": f.kind, "message": f.message})))
            })
            .collect();
        // The parts this run read not found: an earlier run's note is no reading of this run
        // (a part deferred, or read under another API key, or read alive until the wait ran
        // out) and is not told as one.
        let not_found_now: std::collections::HashSet<u64> = failures
            .iter()
            .filter(|f| f.details.contains_key(TASK_NOT_FOUND))
            .filter_map(|f| f.details.get("part")?.as_u64())
            .collect();
        let parts: Vec<Value> = m
            .parts
            .iter()
            .map(|p| {
                let mut part = json!({
                    "part": p.index + 1,
                    "state": p.state,
                    "job_id": p.job_id,
                    "characters": p.chars,
                    "files": p.files.iter().map(|f| f.name.clone()).collect::<Vec<_>>(),
                });
                if let Some(m) = part.as_object_mut() {
                    let gone: Vec<&str> = p
                        .files
                        .iter()
                        .map(|f| f.name.as_str())
                        .filter(|name| missing.contains(name))
                        .collect();
                    if !gone.is_empty() {
                        m.insert("missing_files".into(), gone.into());
                    }
                    // A `done` part whose file is gone and whose task now reads failed.
                    if p.state == PartState::Done && p.error.is_some() {
                        m.insert(DOWNLOADED_BEFORE.into(), true.into());
                    }
                    let index = u64::try_from(p.index).ok().and_then(|i| i.checked_add(1));
                    if let Some(e) = index.and_then(|i| failed_parts.get(&i)) {
                        m.insert("error".into(), e.clone());
                    }
                }
                // A part left `submitting` may be a paid task nobody knows the id of: what
                // it may be found by (`reconcile --key --submitted-at`), as plain output
                // prints it.
                if p.state == PartState::Submitting
                    && let Some(m) = part.as_object_mut()
                {
                    m.insert("idempotency_key".into(), p.idempotency_key.clone().into());
                    m.insert("submitted_at".into(), p.submitted_at().map(rfc3339).into());
                    if let Some(t) = p.last_resent_at() {
                        m.insert("last_resent_at".into(), rfc3339(t).into());
                    }
                }
                // Earlier submits of unknown outcome (replaced by `--resubmit-unknown`): each
                // may be a paid task, found by its key and time.
                if !p.past_submits.is_empty()
                    && let Some(m) = part.as_object_mut()
                {
                    let past: Vec<Value> = p
                        .past_submits
                        .iter()
                        .map(|s| {
                            // Where to look it up: never the fingerprint, never the key.
                            json!({
                                "idempotency_key": s.idempotency_key,
                                "submitted_at": s.submitted_at().map(rfc3339),
                                "last_resent_at": s.last_resent_at().map(rfc3339),
                                "base_url": s.key_scope.as_ref().map(|k| k.base_url.clone()),
                                "this_api_key": s
                                    .key_scope
                                    .as_ref()
                                    .map(|k| !k.differs_from(&self.scope).0),
                            })
                        })
                        .collect();
                    m.insert("past_submits".into(), past.into());
                }
                part
            })
            .collect();
        o.set("parts", parts);
        o.set("files", files.clone());
        // A `done` part whose file is gone and whose task now reads failed is not counted.
        let done = m
            .parts
            .iter()
            .filter(|p| p.state == PartState::Done && p.error.is_none())
            .count();
        // The parts of unknown outcome are told with the other failures, not instead of
        // them: first among equals (exit 3), after a manifest out of date, which is told
        // first whatever else failed (its write failure is what the manifest on disk
        // lacks). Before, any unknown part discarded every other failure.
        let told_unknown = (!unknown.is_empty()).then(|| {
            Failure::other(Exit::Unreachable, "outcome_unknown", unknown.join("; "))
                .with("unknown_parts", unknown.clone())
        });
        o.failure = most_serious(told_unknown.into_iter().chain(failures).collect());
        if let Some(f) = o.failure.as_mut() {
            not_usage_once_sent(f, self.sent.get());
        }
        if !unknown.is_empty()
            && let Some(f) = o.failure.as_mut()
            && !f.details.contains_key("unknown_parts")
        {
            f.message.push_str(&format!(
                "; parts of unknown outcome: {}",
                unknown.join("; ")
            ));
            f.details
                .insert("unknown_parts".into(), unknown.clone().into());
        }
        if self.timed_out.get()
            && let Some(f) = o.failure.as_mut()
        {
            f.message
                .push_str(&timed_out_note(self.timeout_given, self.policy.deadline));
        }
        if self.unrecorded.get() {
            let f = o.failure.take().unwrap_or_else(|| {
                Failure::other(Exit::Unreachable, "io", "the manifest could not be written")
            });
            o.failure = Some(self.name_unrecorded(f));
        }
        if o.failure.is_none() {
            for f in &files {
                o.line(f.clone());
            }
        }
        // Plain output names every part sent and not done with its job id (or, left
        // `submitting`, what it may be found by), as `parts` does with --json: a run that
        // stopped must not leave a paid task's id in the manifest only.
        for p in &m.parts {
            let name = self.name(p.index);
            match (p.state, &p.job_id) {
                (PartState::Submitted, Some(id))
                    if u64::try_from(p.index)
                        .ok()
                        .and_then(|k| k.checked_add(1))
                        .is_some_and(|n| not_found_now.contains(&n)) =>
                {
                    o.line(format!(
                        "{name}: its task {id} is not known to the vendor under this API key and base URL, and its outcome is not known: not submitted again (--resubmit-unknown submits it again, billed again)"
                    ));
                }
                (PartState::Submitted, Some(id)) => o.line(format!(
                    "{name}: submitted as job {id}, not downloaded (a rerun downloads it; `{}` follows it)",
                    crate::output::suggested_command(&format!(
                        "wait --kind speech {}",
                        crate::output::shell_word(id)
                    ))
                )),
                (PartState::Done, Some(id)) if p.error.is_some() => o.line(format!(
                    "{name}: its audio was downloaded before, but its file is missing or damaged and its task {id} now reads failed or cannot be read: not submitted again (--resubmit-unknown submits it again, billed again)"
                )),
                (PartState::Failed, Some(id)) => o.line(format!(
                    "{name}: its task {id} failed (a rerun submits it again)"
                )),
                (PartState::Submitting, _) => o.line(format!(
                    "{name}: its submit was sent{}{}{}; whether it created a task is not known",
                    p.submitted_at()
                        .map(|t| format!(" at {}", rfc3339(t)))
                        .unwrap_or_default(),
                    p.idempotency_key
                        .as_deref()
                        .map(|k| format!(" with idempotency key {k}"))
                        .unwrap_or_default(),
                    p.last_resent_at()
                        .map(|t| format!(" (last resent with it at {})", rfc3339(t)))
                        .unwrap_or_default()
                )),
                _ => {}
            }
            for past in &p.past_submits {
                o.line(format!(
                    "{name}: an earlier submit{} may have created a task that was never recorded (it was submitted again since){}",
                    submit_found_by(
                        past.submitted_at(),
                        past.idempotency_key.as_deref(),
                        past.last_resent_at()
                    ),
                    self.past_scope_note(past.key_scope.as_ref())
                ));
            }
        }
        o.line(format!(
            "{done} of {} parts done; {} file(s) in {}",
            m.parts.len(),
            files.len(),
            self.dir.display()
        ));
        // A JimmyAI part whose task completed activated the `modelId` (api-facts B5), as a
        // single `speak --wait` says: the id to store from now on, printed in this run's
        // result rather than kept to itself (the clone's `activate_by` form is refused
        // locally a day past its deadline, with "clone the voice again").
        if self.plan.provider() == Provider::JimmyAi && done > 0 {
            let sent = self
                .plan
                .request(0)
                .and_then(|r| r.lines.first().map(|l| l.voice_id.as_str().to_owned()));
            if let Some(sent) = sent {
                let activated = voiceclone::VoiceId::typed(Provider::JimmyAi, sent).activated();
                o.set("voice_id", activated.to_string());
                o.set("voice_vendor_id", activated.as_str());
                o.line(format!(
                    "voice {} is now permanent: store {activated}",
                    activated.as_str()
                ));
            }
        }
        o
    }
}

impl Run<'_> {
    /// The result of a run stopped by `signal`: what the manifest records (every part and
    /// its job id) and every task accepted in this run, so that a task the manifest could
    /// not record (a failed write whose failure was still queued behind an earlier part) is
    /// printed, not lost.
    fn interrupted(&self, signal: &str) -> Outcome {
        let manifest = self.dir.join(manifest::FILE_NAME);
        let mut message = if self.unrecorded.get() {
            format!("{signal}: interrupted")
        } else {
            format!(
                "{signal}: interrupted; {} records every part sent so far: rerun the same command to resume",
                manifest.display()
            )
        };
        // A submit the signal cut short (or whose answer was lost) may have made a task.
        // The rerun resends it with its key only while VMEG still keeps the key (23 h).
        let (by_key, reported): (Vec<PartRecord>, Vec<PartRecord>) = self
            .manifest
            .borrow()
            .parts
            .iter()
            .filter(|p| p.state == PartState::Submitting)
            .cloned()
            .partition(|p| self.resendable(p));
        let names = |parts: &[PartRecord]| {
            parts
                .iter()
                .map(|p| self.name(p.index))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !by_key.is_empty() {
            message.push_str(&format!(
                "; whether the submit of {} created a task (and was billed) is not known: the rerun resolves it by its idempotency key",
                names(&by_key)
            ));
        }
        if !reported.is_empty() {
            let mut why: Vec<String> = Vec::new();
            for p in &reported {
                let w = self.not_resent_why(p);
                if !why.contains(&w) {
                    why.push(w);
                }
            }
            message.push_str(&format!(
                "; whether the submit of {} created a task (and was billed) is not known, and the rerun cannot resolve it ({}): it is reported, and sent again only with --resubmit-unknown, at the risk of paying twice",
                names(&reported),
                why.join("; ")
            ));
        }
        let ids: Vec<String> = self
            .accepted_ids
            .borrow()
            .iter()
            .map(|(_, id)| id.clone())
            .collect();
        let f = Failure::other(Exit::Unreachable, "interrupted", message).with("job_ids", ids);
        // The parts that failed before the signal are told too (counted, and in `parts`).
        // Not a failed manifest write: `outcome` tells that one by wrapping this
        // interruption (`name_unrecorded`), which must stay the failure told, its notes on
        // the parts left `submitting` included.
        let failures = std::iter::once(f)
            .chain(
                self.failures
                    .take()
                    .into_iter()
                    .filter(|earlier| !earlier.details.contains_key(UNRECORDED)),
            )
            .collect();
        self.outcome(failures, self.unknown.take())
    }

    /// `f` (a run in which a manifest write failed after a part was sent) as exit 3, naming
    /// every task this run submitted: the manifest on disk may record none of them.
    fn name_unrecorded(&self, f: Failure) -> Failure {
        let ids = self.accepted_ids.borrow();
        let manifest = self.dir.join(manifest::FILE_NAME);
        let named = if ids.is_empty() {
            format!(
                "parts were submitted in this run, and their tasks may be paid for, but no task id came back; {} may not record them",
                manifest.display()
            )
        } else {
            format!(
                "the tasks this run submitted (paid for), which {} may not record: {}. Keep these ids (`{}` waits for one and shows its result); a rerun knows only what the manifest records",
                manifest.display(),
                crate::output::suggested_command("wait --kind speech ID"),
                ids.iter()
                    .map(|(i, id)| format!("{}: {id}", self.name(*i)))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let job_ids: Vec<String> = ids.iter().map(|(_, id)| id.clone()).collect();
        Failure {
            exit: Exit::Unreachable,
            message: format!("{}; {named}", f.message),
            ..f
        }
        .with("job_ids", job_ids)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Review 28-e #3: the stems of 1,500 parts (one file each, or VMEG batches of several)
    /// sort in text order, as a glob or `ls` joins them; below 1,000 parts they are as
    /// before (3 digits).
    #[test]
    fn part_stems_sort_in_text_order_past_999_parts() {
        for several in [false, true] {
            let total = 1500;
            let stems: Vec<String> = (0..total)
                .flat_map(|i| {
                    let files = if several { 2 } else { 1 };
                    (0..files).map(move |k| part_stem(i, total, k, several))
                })
                .collect();
            let mut sorted = stems.clone();
            sorted.sort();
            assert_eq!(sorted, stems, "several: {several}");
        }
        assert_eq!(part_stem(0, 999, 0, false), "001");
        assert_eq!(part_stem(998, 999, 1, true), "999-02");
        assert_eq!(part_stem(0, 1000, 0, false), "0001");
        assert_eq!(part_stem(41, 12_345, 2, true), "00042-03");
    }

    /// A file recorded under another padding of the same part and line (a manifest of an
    /// earlier version) keeps its recorded name; another part's or line's name is not taken.
    #[test]
    fn a_recorded_name_of_the_same_part_and_line_is_kept() {
        let rec = |names: &[&str]| PartRecord {
            files: names
                .iter()
                .map(|n| FileRecord {
                    name: (*n).to_owned(),
                    bytes: 1,
                    sha256: String::new(),
                })
                .collect(),
            index: 0,
            text_sha256: String::new(),
            lines: 1,
            chars: 1,
            state: PartState::Done,
            idempotency_key: None,
            submitted_at_ms: None,
            job_id: None,
            past_job_ids: Vec::new(),
            error: None,
            error_kind: None,
            key_scope: None,
            past_submits: Vec::new(),
            resent_at_ms: Vec::new(),
            resends_recorded: false,
        };
        let r = rec(&["001.wav"]);
        assert_eq!(recorded_stem(&r, 0, "0001").as_deref(), Some("001"));
        assert_eq!(recorded_stem(&r, 0, "001"), None);
        assert_eq!(recorded_stem(&r, 0, "0002"), None);
        assert_eq!(recorded_stem(&r, 1, "0001"), None);
        let r = rec(&["007-01.mp3", "007-02.mp3"]);
        assert_eq!(recorded_stem(&r, 1, "0007-02").as_deref(), Some("007-02"));
        assert_eq!(recorded_stem(&r, 1, "0007-01"), None);
    }

    /// A run that sent something never exits 2 ("nothing was sent"), even when its most
    /// serious failure is a part's invalid input; one that sent nothing keeps exit 2.
    #[test]
    fn a_run_that_sent_something_is_never_a_usage_failure() {
        let mut f = Failure::other(Exit::Usage, "invalid_input", "x");
        not_usage_once_sent(&mut f, false);
        assert_eq!(f.exit, Exit::Usage);
        not_usage_once_sent(&mut f, true);
        assert_eq!(f.exit, Exit::Failure);
        let mut f = Failure::other(Exit::Unreachable, "outcome_unknown", "x");
        not_usage_once_sent(&mut f, true);
        assert_eq!(f.exit, Exit::Unreachable);
    }

    /// The run's exit code is its most serious failure's, not its first part's: a part whose
    /// outcome is unknown (exit 3) after a part that failed (1) is exit 3.
    #[test]
    fn the_most_serious_failure_is_told() {
        let f = |exit, kind: &str| Failure::other(exit, kind, kind);
        let told = most_serious(vec![
            f(Exit::Failure, "task_failed"),
            f(Exit::Unreachable, "wait_timed_out"),
            f(Exit::Unreachable, "server"),
            f(Exit::Usage, "invalid_input"),
        ])
        .unwrap();
        assert_eq!(
            (told.exit, told.kind.as_str()),
            (Exit::Unreachable, "wait_timed_out")
        );
        assert!(told.message.ends_with(
            "and 3 more part(s) failed (every part is listed: on stdout, or in `parts` with --json)"
        ));
        // A manifest out of date is told first, whatever failed before it in text order.
        let told = most_serious(vec![
            f(Exit::Unreachable, "not_found"),
            f(Exit::Unreachable, "io").with(UNRECORDED, true),
        ])
        .unwrap();
        assert_eq!(told.kind, "io");
        // The parts of unknown outcome are one failure naming each: counted as parts.
        let unknown =
            |n: usize| f(Exit::Unreachable, "outcome_unknown").with("unknown_parts", vec!["p"; n]);
        let told = most_serious(vec![f(Exit::Failure, "task_failed"), unknown(3)]).unwrap();
        assert_eq!(told.kind, "outcome_unknown");
        assert!(
            told.message.contains("and 1 more part(s) failed"),
            "{}",
            told.message
        );
        let told = most_serious(vec![
            unknown(2),
            f(Exit::Unreachable, "io").with(UNRECORDED, true),
        ])
        .unwrap();
        assert!(
            told.message.contains("and 2 more part(s) failed"),
            "{}",
            told.message
        );
        // An interruption is no part: never counted among the parts that failed.
        let told = most_serious(vec![
            f(Exit::Unreachable, "io").with(UNRECORDED, true),
            f(Exit::Unreachable, "interrupted"),
        ])
        .unwrap();
        assert_eq!((told.kind.as_str(), told.message.as_str()), ("io", "io"));
        let told = most_serious(vec![
            f(Exit::Failure, "task_failed"),
            f(Exit::Unreachable, "interrupted"),
        ])
        .unwrap();
        assert_eq!(told.kind, "interrupted");
        assert!(
            told.message.contains("and 1 more part(s) failed"),
            "{}",
            told.message
        );
        let told = most_serious(vec![f(Exit::Usage, "a"), f(Exit::Failure, "b")]).unwrap();
        assert_eq!(told.kind, "b");
        assert_eq!(
            most_serious(vec![f(Exit::Failure, "c")]).unwrap().message,
            "c"
        );
        assert!(most_serious(Vec::new()).is_none());
    }

    /// The note names the deadline that ran out: `--timeout` only when it was given.
    /// Before, it blamed `--timeout` also when the provider's default deadline ran out.
    #[test]
    fn a_wait_out_of_time_names_the_deadline_that_ran_out() {
        let note = timed_out_note(true, Some(Duration::from_secs(5)));
        assert!(note.contains("ran out of --timeout"), "{note}");
        let d = WaitPolicy::for_provider(Provider::Vmeg).deadline;
        let note = timed_out_note(false, d);
        assert!(
            note.contains("the provider's default wait deadline") && !note.contains("of --timeout"),
            "{note}"
        );
        assert!(note.contains(" s; --timeout sets another"), "{note}");
    }

    #[test]
    fn the_parts_bar_is_only_for_a_terminal() {
        assert!(parts_bar(false, 3, 0).is_none());
        // Under the test harness stderr is captured, not a terminal.
        if !std::io::stderr().is_terminal() {
            assert!(parts_bar(true, 3, 0).is_none());
        }
    }

    /// The stop-after seam is read in debug builds (the tests') only: set by accident in a
    /// release run, it would stop every long run after one part.
    #[test]
    fn the_stop_after_seam_is_for_debug_builds_only() {
        assert_eq!(stop_after_parts(false, Some(" 1 ")), None);
        assert_eq!(stop_after_parts(true, Some(" 1 ")), Some(1));
        assert_eq!(stop_after_parts(true, Some("x")), None);
        assert_eq!(stop_after_parts(true, None), None);
    }
}
