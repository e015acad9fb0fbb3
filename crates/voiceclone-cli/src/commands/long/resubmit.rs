//! `--resubmit-unknown`: what an earlier run reported of a part (the kinds noted in the
//! manifest), and the gate, pause and second read before a reported part is paid for again.

use std::time::Duration;

use voiceclone::{Error, ErrorKind, JobId, Phase, Provider};

use super::manifest::{PartRecord, PartState, ReportedKind};
use super::resend::submit_found_by;
use super::{Ready, Run};
use crate::exit::Exit;
use crate::output::Failure;

/// Why a `--resubmit-unknown` send that waited for [`Run::flag_gate`] sends nothing.
pub(super) enum Hold {
    /// This run's reads of its own tasks fail: why, as [`Run::held_back`] says it.
    Broken(String),
    /// The run stopped starting parts (or sending creates, see [`Run::creates_held`])
    /// meanwhile.
    Stopped,
}

/// Part `name` (`rec`, left `submitting`), not sent again by `--resubmit-unknown` because
/// this run's reads of its own tasks fail (`why`, [`Run::held_back`]).
pub(super) fn held_back_unknown(name: &str, rec: &PartRecord, why: &str) -> Ready {
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
pub(super) const RECHECK_PAUSE: Duration = Duration::from_secs(5);

/// The longest that pause is, whatever `--poll-interval` says: no deadline bounds it, and the
/// flag's other parts wait behind it.
pub(super) const MAX_RECHECK_PAUSE: Duration = Duration::from_secs(30);

/// Seconds given on the command line (`--timeout`, `--poll-interval`) as a duration, when
/// given and valid (`policy` has refused an invalid one).
pub(super) fn positive_secs(secs: Option<f64>) -> Option<Duration> {
    secs.filter(|t| t.is_finite() && *t > 0.0)
        .and_then(|t| Duration::try_from_secs_f64(t).ok())
}

/// The detail a failure to write the manifest (or read back a download) after a submit
/// carries: the manifest on disk is then out of date, which the run must say first.
pub(super) const UNRECORDED: &str = "manifest_out_of_date";

/// The detail of a failure read for a part whose audio was downloaded before (its task
/// succeeded once): the vendor's answer now contradicts that, and the part is not
/// resubmitted unless `--resubmit-unknown` asks for it.
pub(super) const DOWNLOADED_BEFORE: &str = "downloaded_before";

/// The detail of a failure read for a part not downloaded whose task an earlier read answered
/// finished with its audio ([`PartRecord::finished_seen_at_ms`]): the task succeeded, as for
/// [`DOWNLOADED_BEFORE`], and the part is not resubmitted unless `--resubmit-unknown` asks.
pub(super) const FINISHED_BEFORE: &str = "finished_before";

/// The detail of a part whose finished task has lines the client could not read (no audio,
/// and no error from the vendor): not a failure the vendor stated, so the part is kept and
/// read again, and only `--resubmit-unknown` sends it again, once a run has reported it.
pub(super) const ANSWER_UNREADABLE: &str = "answer_unreadable";

/// The detail of a part whose task is not found under the API key and base URL it was sent
/// with (deleted in the vendor's console, expired): it may have been made and billed, so the
/// part is kept, and only `--resubmit-unknown` sends it again, once a run has reported it.
pub(super) const TASK_NOT_FOUND: &str = "task_not_found";

/// The kind of report `f`, a failure read for a part's task, is: what an earlier run must
/// have noted for `--resubmit-unknown` to send the part again. A task not found first: it
/// may also carry [`DOWNLOADED_BEFORE`] (a `done` part), which is no report of a failure read.
pub(super) fn reported_kind(f: &Failure) -> Option<ReportedKind> {
    let has = |key: &str| f.details.contains_key(key);
    if has(TASK_NOT_FOUND) {
        Some(ReportedKind::TaskNotFound)
    } else if has(ANSWER_UNREADABLE) {
        Some(ReportedKind::AnswerUnreadable)
    } else if has(DOWNLOADED_BEFORE) || has(FINISHED_BEFORE) {
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
/// report (a version that drops the kind refuses a newer manifest by its number). The kind,
/// when it was reported.
pub(super) fn reported_before(
    rec: &PartRecord,
    f: &Failure,
    notes_have_kinds: bool,
) -> Option<ReportedKind> {
    let now = reported_kind(f)?;
    let reported = match rec.error_kind {
        Some(kind) => kind == now,
        None => {
            !notes_have_kinds
                && rec.error.is_some()
                && matches!(
                    now,
                    ReportedKind::AnswerUnreadable | ReportedKind::DownloadedBeforeFailed
                )
        }
    };
    reported.then_some(now)
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
pub(super) fn vendor_does_not_know(provider: Provider, e: &Error) -> bool {
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
pub(super) const RESUBMIT_REFUSED: &str = "; resubmit refused: ";

/// Part `b` as it was before its resubmit, which `refusal` refused: what an earlier run
/// reported of it (`error` and `error_kind`) still holds, the refusal told after it.
pub(super) fn refused(b: &PartRecord, refusal: &str) -> PartRecord {
    PartRecord {
        error: Some(with_refusal(b.error.as_deref(), refusal)),
        ..b.clone()
    }
}

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

/// The failure of part `i` (0-based) kept as task `job`, its outcome not known (exit 3):
/// `message`, with what is still reported of it: its audio downloaded before (`done`), and
/// the kind of report `kind` is.
pub(super) fn kept(
    i: usize,
    job: &str,
    message: String,
    done: bool,
    kind: Option<ReportedKind>,
) -> Failure {
    let f = Failure::other(Exit::Unreachable, "outcome_unknown", message)
        .with("part", i + 1)
        .with("job_id", job);
    // Not downloaded, but read finished before: what is still reported of it.
    let f = if !done && kind == Some(ReportedKind::DownloadedBeforeFailed) {
        f.with(FINISHED_BEFORE, true)
    } else {
        f
    };
    reported_detail(
        if done {
            f.with(DOWNLOADED_BEFORE, true)
        } else {
            f
        },
        kind,
    )
}

/// The error an earlier run noted for part `rec`, as a message tells it: ` (error)`, or
/// nothing.
pub(super) fn noted(rec: &PartRecord) -> String {
    rec.error
        .as_deref()
        .map(|w| format!(" ({w})"))
        .unwrap_or_default()
}

/// `f` with the detail that tells the kind of report `kind` is, as the failure that noted it
/// carried it: so that the run's result says what is still reported of the part.
pub(super) fn reported_detail(f: Failure, kind: Option<ReportedKind>) -> Failure {
    match kind {
        Some(ReportedKind::TaskNotFound) => f.with(TASK_NOT_FOUND, true),
        Some(ReportedKind::AnswerUnreadable) => f.with(ANSWER_UNREADABLE, true),
        _ => f,
    }
}

impl Run<'_> {
    /// `--resubmit-unknown` for part `i`, whose task `id` was read as `f`, the failure (of
    /// kind `kind`) an earlier run reported: sent again (billed again), unless this run's
    /// reads of its own tasks fail (then reported, see [`Run::reads_broken`]), the run
    /// stopped starting parts meanwhile, or, its task not found, a second read a moment
    /// later finds it.
    pub(super) async fn resubmit_reported(
        &self,
        i: usize,
        id: &str,
        f: Failure,
        kind: ReportedKind,
    ) -> Ready {
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
        let why = match kind {
            ReportedKind::TaskNotFound => {
                if let Some(r) = self.read_again(i, id).await {
                    return r;
                }
                // During the pause, the run may have stopped starting parts.
                if self.creates_held() {
                    return Ready::Failed(f);
                }
                format!(
                    "although its task {id} may have been made (and billed): it is still not known to the vendor under this API key and base URL"
                )
            }
            ReportedKind::AnswerUnreadable => {
                "although its task's answer could not be read (its task may hold the audio)"
                    .to_owned()
            }
            // `Unknown` is no kind a failure of this version is read as.
            ReportedKind::DownloadedBeforeFailed | ReportedKind::Unknown => match self.record(i) {
                Some(r) if r.state != PartState::Done => {
                    "although its task was read finished before".to_owned()
                }
                _ => "although its audio was downloaded before".to_owned(),
            },
        };
        // The slow start's wait may end with the run holding every create (another part's
        // create ended unknown): then nothing is resubmitted, and the part is told with the
        // failure read, never said to be resubmitted nor left to read as not yet downloaded
        // (review 35-c #9).
        if !self.may_create().await {
            return Ready::Failed(f);
        }
        self.printer.progress(&format!(
            "{}: resubmitting {why} (--resubmit-unknown; billed again)",
            self.name(i)
        ));
        match self.record(i) {
            Some(now) => self.submit(i, &now).await,
            None => Ready::Failed(f),
        }
    }

    /// What a `--resubmit-unknown` send waits for first: the [`Run::resubmit_gate`], while no
    /// read of a task made in this run has answered. Then, as the run may have changed while
    /// it waited, why it sends nothing after all: this run's reads of its own tasks fail
    /// ([`Run::held_back`]), or the run stopped starting parts.
    pub(super) async fn flag_gate(&self) -> Result<Option<tokio::sync::MutexGuard<'_, ()>>, Hold> {
        let gate = if self.reads_proven.get() {
            None
        } else {
            Some(self.resubmit_gate.lock().await)
        };
        if let Some(why) = self.held_back() {
            return Err(Hold::Broken(why));
        }
        if self.creates_held() {
            return Err(Hold::Stopped);
        }
        Ok(gate)
    }

    /// Why `--resubmit-unknown` sends nothing more in this run, if it does not.
    pub(super) fn held_back(&self) -> Option<String> {
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
    pub(super) async fn read_again(&self, i: usize, id: &str) -> Option<Ready> {
        let job: JobId = id.parse().ok()?;
        tokio::time::sleep(self.recheck_pause).await;
        let read = self.client.speech_status(&job).await;
        let what = match &read {
            Err(e) if vendor_does_not_know(self.plan.provider(), e) => return None,
            Ok(j) => format!("it answered (status {})", j.status),
            Err(e) => format!("it did not say so again ({e})"),
        };
        let kept_kind = read.is_err().then_some(ReportedKind::TaskNotFound);
        if kept_kind.is_none()
            && let Err(f) = self.update(i, PartRecord::forget_not_found)
        {
            return Some(Ready::Failed(self.recorded_or(i, f, Exit::Unreachable)));
        }
        let message = format!(
            "{}: its task {id} was not known to the vendor, but read again {:.1} s later {what}: not resubmitted; rerun the same command to wait for it again",
            self.name(i),
            self.recheck_pause.as_secs_f64()
        );
        let done =
            kept_kind.is_some() && self.record(i).is_some_and(|r| r.state == PartState::Done);
        Some(Ready::Failed(kept(i, id, message, done, kept_kind)))
    }
}
