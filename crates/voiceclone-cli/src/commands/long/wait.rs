//! Waiting for a part's task, and what a failed, unreadable or vanished task's read makes
//! of the part.

use std::time::SystemTime;

use voiceclone::{Error, ErrorKind, JobId};

use super::download::LinesMissing;
use super::manifest::{PartRecord, PartState, ReportedKind, unix_ms};
use super::resubmit::{
    ANSWER_UNREADABLE, DOWNLOADED_BEFORE, FINISHED_BEFORE, TASK_NOT_FOUND, vendor_does_not_know,
};
use super::{Ready, Run};
use crate::exit::Exit;
use crate::output::Failure;

impl Run<'_> {
    /// Waits for part `i`'s task.
    pub(super) async fn wait(&self, i: usize, stored: &str) -> Ready {
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
        // now contradicts that, and is no reason to pay for it again unasked. So had one whose
        // task an earlier read answered finished, though its download did not complete.
        let before = self.record(i);
        let done_before = before.as_ref().is_some_and(|r| r.state == PartState::Done);
        let succeeded_before = before.as_ref().is_some_and(PartRecord::succeeded_before);
        let waited = self.client.wait_for_speech(&id, &self.policy).await;
        let here = self.accepted_here(i, stored);
        // A task made in this run whose status was read: reads work (see `reads_proven`).
        if here
            && match &waited {
                Ok(_) => true,
                Err(e) => matches!(e.kind(), ErrorKind::TaskFailed { .. }),
            }
        {
            self.reads_proven.set(true);
        }
        match waited {
            Ok(speech) => match self.lines_missing(i, &speech) {
                Some(LinesMissing::Failed(why)) if succeeded_before => {
                    let f = Failure::other(Exit::Failure, "task_failed", why.clone());
                    Ready::Failed(self.contradicted(i, stored, why, f, done_before))
                }
                Some(LinesMissing::Failed(why)) => Ready::Failed(self.failed_lines(i, why)),
                Some(LinesMissing::Unreadable(why)) => {
                    Ready::Failed(self.unreadable(i, stored, why, done_before))
                }
                None => {
                    // Seen finished, before its download: a later read failed no longer
                    // makes the part one to pay for again (one write a part). Not written
                    // (a full disk), it is told as a failed download is: its task is paid,
                    // never exit 2 ("nothing was sent") on a rerun that only waits.
                    if !succeeded_before
                        && let Err(f) = self.update(i, |p| {
                            p.finished_seen_at_ms = Some(unix_ms(SystemTime::now()));
                        })
                    {
                        return Ready::Failed(self.download_failed(i, f, false));
                    }
                    Ready::Speech(speech)
                }
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
                    if succeeded_before {
                        return Ready::Failed(self.contradicted(
                            i,
                            stored,
                            reason,
                            Failure::from_adapter(&e),
                            done_before,
                        ));
                    }
                    if let Err(f) = self.update(i, |p| {
                        p.state = PartState::Failed;
                        p.note(reason, None);
                    }) {
                        return Ready::Failed(self.recorded_or(i, f, Exit::Failure));
                    }
                    return Ready::Failed(Failure::from_adapter(&e).with("part", i + 1));
                }
                // Not known to the vendor (its own answer) under the API key and base URL it
                // was sent with, no rerun of the same command finds it: reported, for
                // `--resubmit-unknown` to apply after. Not for a task accepted in this run: a
                // read lagging its create says nothing of a task gone, and a task no read can
                // reach would be paid for again on every run with the flag. Under another API
                // key or base URL, the advice below (that key and base URL) stands.
                let rec = self.record(i);
                let scope_note = rec.as_ref().and_then(|r| self.task_scope_note(r));
                if vendor_does_not_know(self.plan.provider(), &e) && scope_note.is_none() {
                    if here {
                        // Reads fail even for a task made seconds ago: the flag stops here.
                        self.reads_broken
                            .borrow_mut()
                            .get_or_insert_with(|| format!("task {stored} of {}", self.name(i)));
                    } else if let Some(rec) = &rec {
                        return Ready::Failed(self.not_found(i, stored, &e, rec, done_before));
                    }
                }
                let timed_out = matches!(e.kind(), ErrorKind::WaitTimedOut { .. });
                // Only a part accepted in this run stops the parts after it: a task an earlier
                // run left running that never finishes would otherwise stop every rerun at
                // it, and the text could never be finished (review 35-c #1). A slow vendor
                // still stops the run at the first part it accepted here.
                if timed_out && here {
                    self.timed_out.set(true);
                }
                // A task not found noted before is no longer what the latest read says: the
                // wait ran out (whether any poll was answered, the error does not tell: only
                // holding payment back rides on it), or it was read under another API key or
                // base URL, where "not found" says nothing. The flag then waits for a run to
                // report it not found again.
                if (timed_out || scope_note.is_some())
                    && rec
                        .as_ref()
                        .is_some_and(|r| r.error_kind == Some(ReportedKind::TaskNotFound))
                    && let Err(f) = self.update(i, PartRecord::forget_not_found)
                {
                    return Ready::Failed(self.recorded_or(i, f, Exit::Unreachable));
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

    /// Part `i`, whose task `stored` succeeded before, read as failed now (`why`; `f` the
    /// failure as read): its audio was downloaded in an earlier run (`downloaded`, the part
    /// `done`, its file now missing or damaged), or a read answered it finished with its
    /// audio and the download did not complete (the part `submitted`). It stays as it is,
    /// the error noted: a rerun reads it again, and only `--resubmit-unknown` submits it
    /// again. Exit 3: the vendor's answer contradicts what the part has shown.
    pub(super) fn contradicted(
        &self,
        i: usize,
        stored: &str,
        why: String,
        f: Failure,
        downloaded: bool,
    ) -> Failure {
        if let Err(f) = self.update(i, |p| {
            p.note(why.clone(), Some(ReportedKind::DownloadedBeforeFailed));
        }) {
            return self.recorded_or(i, f, Exit::Unreachable);
        }
        let message = if downloaded {
            format!(
                "{}: its audio was downloaded before from task {stored}, but its file is missing or damaged, and the vendor now reports that task failed ({why}); it stays `done` and is not submitted again (a new task is billed again): restore the file, or rerun with --resubmit-unknown to submit it again",
                self.name(i)
            )
        } else {
            format!(
                "{}: its task {stored} was read finished, with its audio, before its download completed, and the vendor now reports that task failed ({why}: its results may have expired); the task succeeded and was billed, so the part stays `submitted` and is not submitted again (a new task is billed again): rerun the same command to read it again, or rerun with --resubmit-unknown to submit it again",
                self.name(i)
            )
        };
        let f = Failure {
            exit: Exit::Unreachable,
            message,
            ..f
        }
        .with("part", i + 1)
        .with("job_id", stored);
        if downloaded {
            f.with(DOWNLOADED_BEFORE, true)
        } else {
            f.with(FINISHED_BEFORE, true)
        }
    }

    /// Part `i`, whose task `stored` finished with lines the client could not read (`why`),
    /// none failed by the vendor's word: its task may hold their audio, so the part stays
    /// as it was (`submitted`, or `done` when downloaded before), the error noted. Exit 3: a
    /// rerun reads it again, and only `--resubmit-unknown`, once a run has reported it,
    /// submits it again (billed again).
    pub(super) fn unreadable(
        &self,
        i: usize,
        stored: &str,
        why: String,
        done_before: bool,
    ) -> Failure {
        if let Err(f) = self.update(i, |p| {
            p.note(why.clone(), Some(ReportedKind::AnswerUnreadable));
        }) {
            return self.recorded_or(i, f, Exit::Unreachable);
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
    pub(super) fn not_found(
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
            return self.recorded_or(i, w, Exit::Unreachable);
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
}
