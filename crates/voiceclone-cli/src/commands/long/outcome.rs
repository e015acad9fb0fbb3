//! The run's result: the most serious failure, the budget's stop, an interruption, and the
//! summary printed at the end.

use std::time::Duration;

use serde_json::{Value, json};
use voiceclone::{Error, Provider};

use super::Run;
use super::manifest;
use super::manifest::ReportedKind;
use super::manifest::{PartRecord, PartState};
use super::resend::submit_found_by;
use super::resubmit::{DOWNLOADED_BEFORE, FINISHED_BEFORE, TASK_NOT_FOUND, UNRECORDED};
use crate::exit::Exit;
use crate::output::{Failure, Outcome, rfc3339};

/// Exit 2 promises nothing was sent: a part refused as invalid input after this run sent
/// others (a model's activation deadline passing mid-run) makes the run exit 1.
pub(super) fn not_usage_once_sent(f: &mut Failure, sent: bool) {
    if sent && f.exit == Exit::Usage {
        f.exit = Exit::Failure;
    }
}

/// The failure a run tells, and whose exit code is the run's: the most serious, a failed
/// manifest write after a submit (the manifest is out of date) first, then an unknown
/// outcome (exit 3: a wait that failed) over a refusal (1) over input refused before
/// sending (2); an interruption first among its equals, else the first in text order. It
/// says how many more parts failed (the parts of unknown outcome are one failure naming
/// each, counted as the parts it names).
pub(super) fn most_serious(failures: Vec<Failure>) -> Option<Failure> {
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

/// Whether part `p`, not downloaded, had its task read finished and then read failed: kept
/// `submitted` with that report, not a part waiting for its download.
fn finished_then_failed(p: &PartRecord) -> bool {
    p.state == PartState::Submitted
        && p.finished_seen_at_ms.is_some()
        && p.error_kind == Some(ReportedKind::DownloadedBeforeFailed)
}

/// What a run whose part's wait ran out of time adds to its message: which deadline it was,
/// `--timeout` (`given`) or the provider's default (`deadline`), which `--timeout` changes.
pub(super) fn timed_out_note(given: bool, deadline: Option<Duration>) -> String {
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

impl Run<'_> {
    /// The budget refused file `k` of part `i` (`e`, with `left` bytes of it left), or there
    /// was nothing left of it: no part is started or downloaded from now on.
    pub(super) fn budget_stop(&self, i: usize, k: usize, left: u64, e: Option<&Error>) -> Failure {
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
    pub(super) fn outcome(&self, failures: Vec<Failure>, unknown: Vec<String>) -> Outcome {
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
        // A `done` part is told by its files as they are now, not by the note an earlier run
        // left: a file restored since, in a run that stopped before reaching the part (which
        // would clear the note), is done (review 35-c #8).
        let intact = |p: &PartRecord| {
            !p.files.is_empty() && p.files.iter().all(|f| !missing.contains(f.name.as_str()))
        };
        // A `done` part whose file is gone and whose task now reads failed.
        let contradicted =
            |p: &PartRecord| p.state == PartState::Done && p.error.is_some() && !intact(p);
        // Each part's failure in this run, by the part it names, for `parts`.
        let failed_parts: std::collections::HashMap<u64, Value> = failures
            .iter()
            .filter_map(|f| {
                let part = f.details.get("part")?.as_u64()?;
                Some((part, json!({"kind": f.kind, "message": f.message})))
            })
            .collect();
        // A part's number, as failures name it (`part`).
        let number = |k: usize| -> Option<u64> { u64::try_from(k).ok()?.checked_add(1) };
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
                    if contradicted(p) {
                        m.insert(DOWNLOADED_BEFORE.into(), true.into());
                    }
                    // A part read finished before its download completed, now read failed.
                    if finished_then_failed(p) {
                        m.insert(FINISHED_BEFORE.into(), true.into());
                    }
                    if let Some(e) = number(p.index).and_then(|n| failed_parts.get(&n)) {
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
        // A `done` part whose file is gone or damaged is not counted.
        let done = m
            .parts
            .iter()
            .filter(|p| p.state == PartState::Done && intact(p))
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
        if self.unwritable.get()
            && let Some(f) = o.failure.as_mut()
        {
            f.message.push_str(
                "; after a part's audio could not be written to the --out directory no further part was started: make room there (or fix what is in the way) and rerun the same command to resume",
            );
        }
        if let Some(k) = self.unknown_create.get()
            && self.held_back.get() > 0
            && let Some(f) = o.failure.as_mut()
        {
            f.message.push_str(&format!(
                "; after {}'s submit ended with an unknown outcome no further part was submitted ({} part(s) held back, as they were): rerun the same command to resolve it first, and the rest is submitted then",
                self.name(k),
                self.held_back.get()
            ));
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
                (PartState::Submitted, Some(id)) if finished_then_failed(p) => o.line(format!(
                    "{name}: its task {id} was read finished before its download completed, and now reads failed: not submitted again (--resubmit-unknown submits it again, billed again)"
                )),
                (PartState::Submitted, Some(id))
                    if number(p.index).is_some_and(|n| not_found_now.contains(&n)) =>
                {
                    o.line(format!(
                        "{name}: its task {id} is not known to the vendor under this API key and base URL, and its outcome is not known: not submitted again (--resubmit-unknown submits it again, billed again)"
                    ));
                }
                (PartState::Submitted, Some(id)) => o.line(format!(
                    "{name}: submitted as job {id}, not downloaded (a rerun downloads it; `{}`{} follows it)",
                    crate::output::suggested_command(&format!(
                        "wait --kind speech {}",
                        crate::output::shell_word(id)
                    )),
                    crate::output::suggested_key_note()
                )),
                (PartState::Done, Some(id)) if contradicted(p) => o.line(format!(
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

    /// The result of a run stopped by `signal`: what the manifest records (every part and
    /// its job id) and every task accepted in this run, so that a task the manifest could
    /// not record (a failed write whose failure was still queued behind an earlier part) is
    /// printed, not lost.
    pub(super) fn interrupted(&self, signal: &str) -> Outcome {
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
    pub(super) fn name_unrecorded(&self, f: Failure) -> Failure {
        let ids = self.accepted_ids.borrow();
        let manifest = self.dir.join(manifest::FILE_NAME);
        let named = if ids.is_empty() {
            format!(
                "parts were submitted in this run, and their tasks may be paid for, but no task id came back; {} may not record them",
                manifest.display()
            )
        } else {
            format!(
                "the tasks this run submitted (paid for), which {} may not record: {}. Keep these ids (`{}`{} waits for one and shows its result); a rerun knows only what the manifest records",
                manifest.display(),
                ids.iter()
                    .map(|(i, id)| format!("{}: {id}", self.name(*i)))
                    .collect::<Vec<_>>()
                    .join(", "),
                crate::output::suggested_command("wait --kind speech ID"),
                crate::output::suggested_key_note(),
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
