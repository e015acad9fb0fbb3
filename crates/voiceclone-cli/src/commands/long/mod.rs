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
//! A part's submit in this run that ends with an outcome not known (its answer lost) stops
//! the run from submitting further parts ([`Run::unknown_create`]), as `synthesize_long`
//! stops at its first failure.
//!
//! Once a part was sent in this run, a failure to write the manifest (or to read back a
//! file just downloaded) is exit 3, not 2: the message names every task this run submitted,
//! which the manifest on disk may not record.
//!
//! Here: the run, its resume of a manifest and the drive of every part. By step:
//! [`submit`] (send, take the task the answer names), [`resend`] (a VMEG part whose answer
//! never came), [`wait`], [`download`], [`resubmit`] (what `--resubmit-unknown` may pay
//! for), [`outcome`] (the run's result), [`names`] (file names), [`manifest`].

mod download;
pub mod manifest;
mod names;
mod outcome;
mod resend;
mod resubmit;
mod submit;
mod wait;

#[cfg(test)]
mod drive_tests;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use futures::stream::FuturesOrdered;
use indicatif::{ProgressBar, ProgressStyle};
use names::existing_part_file;
use resend::MIN_RESEND_TIME;
use resubmit::{MAX_RECHECK_PAUSE, RECHECK_PAUSE, UNRECORDED, positive_secs, reported_before};
use voiceclone::long_text::LongSpeechPlan;
use voiceclone::{Client, Provider, Speech, SpeechRequest, WaitPolicy};

use crate::cli::SpeakArgs;
use crate::commands::provider::Awaited;
use crate::exit::Exit;
use crate::output::{Failure, Outcome, Printer};
use manifest::{KeyScope, Manifest, PartRecord, PartState, files_intact};

/// The default `--max-total-bytes`: 1 GiB a run. The largest legitimate output of a long
/// text is its speech as uncompressed WAV, and 1 GiB is about 3 hours of 48 kHz 16-bit mono
/// (96,000 bytes a second) or 6 hours of 24 kHz, a text of about 160,000 to 320,000
/// characters at 15 characters a second: a long book chapter set, far more than the
/// 30,000-character texts this is made for. A compressed format (MP3) fits ten times more.
/// Without a total, the per-file cap (256 MiB) times up to 50 results of each VMEG batch let
/// one hostile or broken server write about 12.8 GB per part. A longer text is either run
/// with a larger `--max-total-bytes` or resumed by reruns, each downloading up to the budget.
pub const DEFAULT_MAX_TOTAL_BYTES: u64 = 1024 * 1024 * 1024;

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
    // The library refuses a part holding the API key when that part is sent, after the
    // parts before it were paid: the whole text is checked before anything is (review 34
    // pass 2 #3). Not quoted.
    if crate::output::holds_a_long_secret(&text) {
        return Err(Failure::usage(
            "--text-file holds a secret this run was given (an API key, ...) or a piece of it, which is never sent as text: nothing was sent",
        ));
    }
    // As `speak` without a file checks them (review 34 pass 3 #1: a key given as --voice was
    // written to the manifest before anything was sent).
    crate::commands::provider::refuse_the_key_in_id("--voice", &args.voice)?;
    crate::commands::provider::refuse_the_key_in("--language", args.language.as_deref())?;
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
    /// A part's audio could not be written to `DIR` (a disk that filled, a path taken): no
    /// part is started after that, since each would be paid for with nowhere to keep its
    /// audio (review 35-c #3).
    unwritable: Cell<bool>,
    /// Whether `--timeout` set the waits' deadline (else the provider's default did).
    timeout_given: bool,
    /// The first part whose create, sent in this run, ended with an outcome not known (its
    /// answer lost, a refusal that does not prove nothing was made, a task another part
    /// holds): no part is submitted after that, as the library's `synthesize_long` stops at
    /// its first failure. What lost that answer (a gateway cutting create answers, a relay
    /// naming one task for every submit) may lose every later one too, and each such part is
    /// a task that may be paid for and not known: JimmyAI's found by no rerun, VMEG's keys
    /// sent together ambiguous with each other on the rerun's search. Parts with a known task
    /// are still waited for and downloaded; a resend under a part's own key goes on (it makes
    /// no second task). A refusal that proves nothing was made does not set it.
    unknown_create: Cell<Option<usize>>,
    /// How many parts [`Run::unknown_create`] kept from being submitted.
    held_back: Cell<usize>,
    /// The first SIGINT or SIGTERM came (its name): no part is started or downloaded after
    /// it, and the run ends once the creates on their way have answered ([`Run::creating`]).
    signalled: Cell<Option<&'static str>>,
    /// The creates on their way ([`InFlight`]), and their answers' wake-up.
    creating: Cell<usize>,
    create_done: tokio::sync::Notify,
    /// A create of this run was answered (accepted, or refused in a way that proves nothing
    /// was made): until then a fresh submit waits while any create is on its way, so that
    /// [`Run::unknown_create`] can stop the run after one create of unknown outcome, not one
    /// per `--concurrency` slot (all of them on the wire before the first answer).
    create_answered: Cell<bool>,
    /// The bound on a resend as a whole, its search of the task list included: `--timeout`,
    /// else 30 min, and never less than [`MIN_RESEND_TIME`].
    search_timeout: Duration,
    /// A submit (or a resend) was sent in this run: a task may be paid for.
    /// When this run began, holding the directory's lock: every request of an earlier run
    /// had ended by then (its process had), which bounds when a part's last attempt under
    /// its key may have ended.
    began: SystemTime,
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
        Ok((lock, warning)) => {
            // A warning: on stderr with --json and --quiet too (not a progress line).
            if let Some(why) = warning {
                crate::output::stderr_line(&printer.safe(&format!("warning: {why}")));
            }
            lock
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
    let notes_have_kinds = manifest.upgrade();
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
        unwritable: Cell::new(false),
        unknown_create: Cell::new(None),
        held_back: Cell::new(0),
        signalled: Cell::new(None),
        creating: Cell::new(0),
        create_done: tokio::sync::Notify::new(),
        create_answered: Cell::new(false),
        timeout_given: args.poll.timeout.is_some(),
        search_timeout: positive_secs(args.poll.timeout)
            .unwrap_or(crate::cli::DEFAULT_LISTING_TIMEOUT)
            .max(MIN_RESEND_TIME),
        sent: Cell::new(false),
        began: SystemTime::now(),
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
    let mut work = Box::pin(run.all(concurrency));
    // A run that ended with the signal is reported as it ended (biased: the work first).
    let first = match crate::signals::unless(&mut work, next_signal(signals.as_mut())).await {
        Ok(out) => return out,
        Err(name) => name,
    };
    // No part is started from now on; a submit on its way is let answer, a few seconds at
    // most, so that its task is recorded: dropped, it is a task that may be paid for and
    // not known (JimmyAI's for good; VMEG keys sent together are each other's rivals on the
    // rerun's search). The waits are not waited for: their tasks are known.
    run.signalled.set(Some(first));
    // An attempt already sent is let answer; none is sent after this (a create sleeping
    // before its retry would send a new one inside the grace: for JimmyAI a new paid task).
    crate::retry_hold::hold();
    let on_their_way = run.creating.get();
    if on_their_way > 0 {
        printer.progress(&format!(
            "{first}: stopping; waiting up to {} s for the answers to {on_their_way} submit(s) on their way, so that their tasks are recorded (another signal stops at once)",
            IN_FLIGHT_GRACE.as_secs()
        ));
        tokio::select! {
            biased;
            out = &mut work => return out,
            () = run.creates_answered() => {}
            () = tokio::time::sleep(IN_FLIGHT_GRACE) => {}
            _ = next_signal(signals.as_mut()) => {}
        }
    }
    drop(work);
    run.interrupted(first)
}

/// How long a first signal lets the submits on their way answer before the run stops: an
/// answer is typically under a second off, and the result must still be written well within
/// the 10 s `docker stop` (and most CI runners) give before SIGKILL.
const IN_FLIGHT_GRACE: Duration = Duration::from_secs(5);

/// The next signal from `signals`; never, without handlers.
async fn next_signal(signals: Option<&mut crate::signals::Signals>) -> &'static str {
    match signals {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// A create (a part's submit or resend) on its way, counted in [`Run::creating`] while it
/// lives (dropped with its answer, or with the run).
struct InFlight<'r> {
    count: &'r Cell<usize>,
    done: &'r tokio::sync::Notify,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.count.set(self.count.get().saturating_sub(1));
        // Every submit held by the slow start ([`Run::create_answered`]) looks again, and a
        // waiter not yet registered (the grace's) still finds a permit.
        self.done.notify_waiters();
        self.done.notify_one();
    }
}

/// The parts' progress bar's template (see [`crate::spinner::one_row_style`]).
pub(crate) const PARTS_BAR: &str =
    "speaking {bar:30} {pos}/{len} parts [{elapsed_precise}] {wide_msg}";

/// The parts' progress bar on stderr (a terminal only, not with --json or --quiet).
fn parts_bar(enabled: bool, total: usize, done: usize) -> Option<ProgressBar> {
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(total as u64), crate::spinner::stderr_target());
    bar.set_style(crate::spinner::one_row_style(
        PARTS_BAR,
        ProgressStyle::default_bar,
    ));
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
                // Sent before the budget ran out (or a signal came): recorded as submitted,
                // for the rerun.
                Ready::Speech(_) if self.over_budget.get() || self.signalled.get().is_some() => {}
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
        if let Some(signal) = self.signalled.get() {
            return self.interrupted(signal);
        }
        self.outcome(self.failures.take(), self.unknown.take())
    }

    /// Stage one for part `i`: from wherever the manifest says it is to its speech.
    async fn ready(&self, i: usize) -> Ready {
        let Some(rec) = self.record(i) else {
            return Ready::Failed(Failure::other(Exit::Failure, "manifest", "part missing"));
        };
        if self.stopped() {
            // A part left `submitting` may be a paid task: still of unknown outcome (exit 3,
            // in `unknown_parts`), not merely not started. After a signal the interruption
            // names it (its own wording, with how the rerun resolves it).
            if rec.state == PartState::Submitting && self.signalled.get().is_none() {
                return self.not_resolved(i, &rec);
            }
            return Ready::Deferred;
        }
        match rec.state {
            PartState::Done if files_intact(&self.dir, &rec) => {
                // Its files are back: whatever a read of its task said since is moot.
                if (rec.error.is_some() || rec.error_kind.is_some())
                    && let Err(f) = self.update(i, PartRecord::clear_error)
                {
                    return Ready::Failed(self.recorded_or(i, f, Exit::Failure));
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
                    Ready::Failed(f) if self.resubmit_unknown && !self.creates_held() => {
                        match reported_before(&rec, &f, self.notes_have_kinds) {
                            Some(kind) => self.resubmit_reported(i, id, f, kind).await,
                            None => Ready::Failed(f),
                        }
                    }
                    r => r,
                },
                None => self.submit(i, &rec).await,
            },
            PartState::Submitting => self.unknown(i, &rec).await,
            PartState::Planned | PartState::Failed => self.submit(i, &rec).await,
        }
    }

    /// Whether the run has stopped starting parts (its download budget spent, `--timeout`,
    /// audio that could not be written, a signal).
    fn stopped(&self) -> bool {
        self.over_budget.get()
            || self.timed_out.get()
            || self.unwritable.get()
            || self.signalled.get().is_some()
    }

    /// A create on its way, until the returned value is dropped.
    fn in_flight(&self) -> InFlight<'_> {
        self.creating.set(self.creating.get().saturating_add(1));
        InFlight {
            count: &self.creating,
            done: &self.create_done,
        }
    }

    /// Until no create is on its way.
    async fn creates_answered(&self) {
        while self.creating.get() > 0 {
            self.create_done.notified().await;
        }
    }

    /// Until a create of this run has been answered, or none is on its way (the slow start,
    /// see [`Run::create_answered`]).
    async fn first_answer(&self) {
        while !self.create_answered.get() && self.creating.get() > 0 {
            self.create_done.notified().await;
        }
    }

    /// Whether the run sends no new create: it stopped starting parts, or a create of this
    /// run ended with an outcome not known ([`Run::unknown_create`]).
    fn creates_held(&self) -> bool {
        self.stopped() || self.unknown_create.get().is_some()
    }

    /// Part `i` (`rec`, left `submitting` by an earlier run) not resolved in this run,
    /// because the run stopped starting parts or sends no more creates: still of unknown
    /// outcome (exit 3, in `unknown_parts`), not a part merely not started.
    fn not_resolved(&self, i: usize, rec: &PartRecord) -> Ready {
        let why = if self.over_budget.get() {
            "this run's download budget was spent first, and no part is started after that"
                .to_owned()
        } else if self.timed_out.get() {
            "a part's wait ran out of its deadline first, and no part is started after that"
                .to_owned()
        } else if self.unwritable.get() {
            "a part's audio could not be written first, and no part is started after that"
                .to_owned()
        } else if let Some(k) = self.unknown_create.get() {
            format!(
                "{}'s submit in this run ended with an unknown outcome first, and no part is submitted after that",
                self.name(k)
            )
        } else {
            "the run stopped first".to_owned()
        };
        resubmit::held_back_unknown(
            &self.name(i),
            rec,
            &format!(
                "it was not looked at in this run: {why}; rerun the same command to resolve it"
            ),
        )
    }

    /// Part `i`'s create (one of this run's, or of the flag's) ended with an outcome not
    /// known (`msg`): no further part is submitted in this run.
    fn create_unknown(&self, i: usize, msg: String) -> Ready {
        if self.unknown_create.get().is_none() {
            self.unknown_create.set(Some(i));
        }
        Ready::Unknown(msg)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::manifest::FileRecord;
    use super::names::{part_stem, recorded_stem};
    use super::outcome::{most_serious, not_usage_once_sent, timed_out_note};
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
            finished_seen_at_ms: None,
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
