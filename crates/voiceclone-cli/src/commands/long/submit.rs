//! A part's submit: sending it, taking the task the answer names (never one another part
//! holds), and what a failed or unknown submit leaves in the manifest.

use std::collections::HashSet;
use std::time::SystemTime;

use voiceclone::{Error, ErrorKind, JobId, Phase, Provider};

use super::manifest::{MAX_PAST_RECORDED, PartRecord, PartState, PastSubmit, unix_ms};
use super::resend::{key_fresh, submit_found_by};
use super::resubmit::{Hold, held_back_unknown, kept, noted, refused};
use super::{Ready, Run};
use crate::exit::Exit;
use crate::output::Failure;

/// Whether a resend's error says the resend made nothing under this run's scope: the create's
/// own refusal, answered or never sent (a refused connect), not `may_resubmit()`, which a
/// resend's refusal never is (it says nothing of the first submit). An error of the task
/// search that follows VMEG's "key already used" (its 429, its 401) comes after a create that
/// did land, so it is no such answer. (After an attempt that may have landed, the retry driver
/// ends the create as `OutcomeUnknown`, never one of these kinds.)
pub(super) fn made_nothing(e: &voiceclone::Error) -> bool {
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

impl Run<'_> {
    /// A fresh submit: recorded first, then sent.
    pub(super) async fn submit(&self, i: usize, rec: &PartRecord) -> Ready {
        // One create at a time until one is answered: what loses the first answer may lose
        // every one, and each create sent before it ended is a task that may be paid for.
        // Checked here, right before the create, as well as when the part is started: a part
        // started beside the one whose create ended unknown may reach this point after it.
        if !self.may_create().await {
            return self.held_create(i, rec);
        }
        if let Some(r) = self.past_full(i, rec) {
            return r;
        }
        let Some(mut req) = self.plan.request(i) else {
            return Ready::Failed(Failure::other(Exit::Failure, "manifest", "part missing"));
        };
        let key = (self.plan.provider() == Provider::Vmeg).then(|| crate::own_key::new("vclong-"));
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
            p.finished_seen_at_ms = None;
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
        let answer = {
            // Until its answer is read: the record that follows it comes in the same poll.
            let _on_its_way = self.in_flight();
            self.client.synthesize(&req).await
        };
        // Set before the slow start's waiters run (they run at this future's next `.await`);
        // an answer of unknown outcome sets `unknown_create` before then too.
        if answer
            .as_ref()
            .is_ok_and(|j| self.not_ours(i, &j.id).is_none())
            || answer.as_ref().is_err_and(Error::may_resubmit)
        {
            self.create_answered.set(true);
        }
        match answer {
            Ok(job) => self.accepted(i, &job.id).await,
            Err(e) => self.submit_failed(i, &e, Some(rec)).await,
        }
    }

    /// Waits for the slow start ([`Run::first_answer`]), then says whether a create may be
    /// sent ([`Run::creates_held`]). No `.await` follows it before a create that it allows.
    pub(super) async fn may_create(&self) -> bool {
        self.first_answer().await;
        !self.creates_held()
    }

    /// Part `i` (`rec`), whose create [`Run::may_create`] held back: of unknown outcome when
    /// left `submitting` ([`Run::not_resolved`]), else not started.
    fn held_create(&self, i: usize, rec: &PartRecord) -> Ready {
        if self.unknown_create.get().is_some() {
            self.held_back.set(self.held_back.get().saturating_add(1));
        }
        if rec.state == PartState::Submitting {
            return self.not_resolved(i, rec);
        }
        Ready::Deferred
    }

    /// Part `i` not submitted again because the manifest could not record it: its past
    /// submits or tasks at [`MAX_PAST_RECORDED`], which a later run's load refuses to go past
    /// (as "edited by hand?"). What the part is stays reported as it is.
    fn past_full(&self, i: usize, rec: &PartRecord) -> Option<Ready> {
        let over =
            |len: usize, adds: bool| len.saturating_add(usize::from(adds)) > MAX_PAST_RECORDED;
        // A part with a task whose resubmit is refused without proof keeps that create in
        // `past_submits` too (`kept_as_it_was`).
        if !over(
            rec.past_submits.len(),
            rec.state == PartState::Submitting || rec.job_id.is_some(),
        ) && !over(rec.past_job_ids.len(), rec.job_id.is_some())
        {
            return None;
        }
        let why = format!(
            "it was submitted {MAX_PAST_RECORDED} times before, the most the manifest records, so it is not submitted again (each submit is paid): look into why it fails (its tasks are in the manifest) before starting over in another --out directory"
        );
        let name = self.name(i);
        Some(match (rec.state, rec.job_id.as_deref()) {
            (PartState::Submitting, _) => held_back_unknown(&name, rec, &why),
            (PartState::Done | PartState::Submitted, Some(job)) => Ready::Failed(kept(
                i,
                job,
                format!(
                    "{name}: its task {job} is kept as it was: {why}{}",
                    noted(rec)
                ),
                rec.state == PartState::Done,
                rec.error_kind,
            )),
            _ => Ready::Failed(
                Failure::other(Exit::Failure, "resubmit_limit", format!("{name}: {why}"))
                    .with("part", i + 1),
            ),
        })
    }

    /// Whether part `i` was accepted as task `stored` in this run.
    pub(super) fn accepted_here(&self, i: usize, stored: &str) -> bool {
        self.accepted_ids
            .borrow()
            .iter()
            .any(|(k, id)| *k == i && id == stored)
    }

    /// The part other than `i` that holds task `id` (now or before a resubmit), if one does.
    pub(super) fn holder_of(&self, i: usize, id: &JobId) -> Option<usize> {
        self.manifest
            .borrow()
            .parts
            .iter()
            .filter(|p| p.index != i)
            .find(|p| p.task_ids().any(|c| c.as_str() == id.as_str()))
            .map(|p| p.index)
    }

    /// Whether task `id` is one part `i` had before its latest submit (its `past_job_ids`,
    /// or a `job_id` that submit has not cleared). Every submit of a part gets a new key
    /// after its earlier task was known, so such a task is provably an earlier submit's,
    /// never the latest one's: taken as the latest, a failed task is read failed again and
    /// the next rerun pays a third time, and the latest submit's task is lost.
    pub(super) fn earlier_own(&self, i: usize, id: &JobId) -> bool {
        self.manifest
            .borrow()
            .parts
            .get(i)
            .is_some_and(|p| p.task_ids().any(|c| c.as_str() == id.as_str()))
    }

    /// Every task id [`Run::not_ours`] would name for part `i`, as text: the tasks of the other
    /// parts and part `i`'s own earlier ones ([`PartRecord::task_ids`], as `holder_of` and
    /// `earlier_own` read them). Built once per answer: asking `not_ours` of each candidate read every part for
    /// each, with no `.await` (a hostile list of 10^6 tasks against 670 parts held the
    /// current-thread runtime, `--timeout` and signals included, for minutes).
    pub(super) fn claimed_ids(&self, i: usize) -> HashSet<String> {
        let manifest = self.manifest.borrow();
        let others = manifest.parts.iter().filter(|p| p.index != i);
        others
            .chain(manifest.parts.get(i))
            .flat_map(PartRecord::task_ids)
            .map(|c| c.as_str().to_owned())
            .collect()
    }

    /// Why part `i` does not take task `id` after its submit, if it does not: another part
    /// holds it, or it is this part's own earlier task.
    pub(super) fn not_ours(&self, i: usize, id: &JobId) -> Option<String> {
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
    pub(super) async fn submit_failed(
        &self,
        i: usize,
        e: &Error,
        before: Option<&PartRecord>,
    ) -> Ready {
        if let ErrorKind::OutcomeUnknown {
            task_id: Some(id), ..
        } = e.kind()
        {
            // The answer named the task before it was lost: it exists, nothing is unknown;
            // unless another part holds it (a server naming one task for two submits), or it
            // is this part's own earlier task, when this part's own task is unknown.
            if let Some(why) = self.not_ours(i, id) {
                return self.create_unknown(i, format!(
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
            return self.create_unknown(i, format!(
                "{}: VMEG answered its submit with \"idempotency key already used\" ({e}); the key is this tool's own, made for this submit, so the submit was accepted and its task is not known yet. Rerun the same command: it resends the part with the same key (nothing new is created) and looks its task up",
                self.name(i)
            ));
        }
        let lost = matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }) || e.phase() == Phase::Sent;
        if lost {
            return self.create_unknown(i, format!(
                "{}: the answer to its submit was lost ({e}); rerun the same command to resolve it",
                self.name(i)
            ));
        }
        // A refusal that does not prove nothing was made (JimmyAI's undocumented 20002 in an
        // HTTP 2xx, a server error that may come after the task was made): the part stays `submitting`, so that the rerun resolves
        // it (a VMEG resend under the same key) and never sends it as new work. Unless it had
        // a task to read (see `kept_as_it_was`).
        if !e.may_resubmit() {
            if let Some(r) = self.kept_as_it_was(i, e, before) {
                // Its create may have made a task no rerun finds (JimmyAI's).
                if self.unknown_create.get().is_none() {
                    self.unknown_create.set(Some(i));
                }
                return r;
            }
            let earlier = before
                .and_then(|b| b.job_id.as_deref())
                .map(|j| format!(" (its earlier task, {j}, is kept in past_job_ids)"))
                .unwrap_or_default();
            return self.create_unknown(i, format!(
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
            Some(b) => *p = refused(b, &msg),
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
            let message = format!(
                "{}: its resubmit was refused ({e}), so this submit created nothing; the part stays `done`, its audio downloaded before from task {job}: restore the file, or rerun with --resubmit-unknown",
                self.name(i),
            );
            return Ready::Failed(kept(i, job, message, true, b.error_kind));
        }
        // Back to `submitted` (its task not found, or its answer unreadable, as an earlier
        // run reported): that task may have been made and billed, and how it ended is still
        // not known. Exit 3 naming it, never 1, which reads as "failed, nothing paid".
        if let Some(b) = restored.filter(|b| b.state == PartState::Submitted) {
            let job = b.job_id.as_deref().unwrap_or("?");
            let message = format!(
                "{}: its resubmit was refused ({e}), so this submit created nothing; the part stays `submitted` as task {job}, whose outcome is not known{}: it is not submitted again unasked. Rerun the same command to read it again, or rerun with --resubmit-unknown to submit it again (billed again)",
                self.name(i),
                noted(b),
            );
            return Ready::Failed(kept(i, job, message, false, b.error_kind));
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
    pub(super) fn kept_as_it_was(
        &self,
        i: usize,
        e: &Error,
        before: Option<&PartRecord>,
    ) -> Option<Ready> {
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
            *p = refused(b, &msg);
            p.past_submits.push(past);
        }) {
            return Some(Ready::Failed(f));
        }
        let state = if b.state == PartState::Done {
            "done"
        } else {
            "submitted"
        };
        let message = format!(
            "{}: its resubmit was refused, but not in a way that proves no task was made ({e}); that submit{} is listed in past_submits, as one that may have created a task that was never recorded (check the vendor's console), and the part stays `{state}` as task {job}{}: it is not submitted again unasked. Rerun the same command to read task {job} again",
            self.name(i),
            submit_found_by(now.submitted_at(), None, None),
            noted(b),
        );
        let done = b.state == PartState::Done;
        Some(Ready::Failed(kept(i, &job, message, done, b.error_kind)))
    }

    /// The vendor accepted part `i` as task `id`: recorded, then waited for. A task another
    /// part holds is not taken: every path that gives a part its task comes through here.
    pub(super) async fn accepted(&self, i: usize, id: &JobId) -> Ready {
        // Two submits of different texts are two tasks: a server answering both with one
        // id (a caching proxy) would have this part's audio be the other part's. This
        // part's own task, if its submit made one, is unknown: it stays `submitting`, so
        // that the rerun resolves it by its key, never under a new one.
        if let Some(why) = self.not_ours(i, id) {
            return self.create_unknown(i, format!(
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
                "{} was accepted as task {stored} (paid for), but the manifest could not record it: {}. Keep this id (`{}`{} waits for it and shows its result); a rerun does not know it",
                self.name(i),
                f.message,
                crate::output::suggested_command(&format!(
                    "wait --kind speech {}",
                    crate::output::shell_word(&stored)
                )),
                crate::output::suggested_key_note()
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
    pub(super) async fn unknown(&self, i: usize, rec: &PartRecord) -> Ready {
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
                // The submit under the recorded scope goes into `past_submits`.
                if let Some(r) = self.past_full(i, rec) {
                    return r;
                }
                let _gate = match self.flag_gate().await {
                    Ok(gate) => gate,
                    Err(Hold::Broken(why)) => return held_back_unknown(&self.name(i), rec, &why),
                    Err(Hold::Stopped) => return self.not_resolved(i, rec),
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
                    Err(Hold::Stopped) => return self.not_resolved(i, rec),
                };
                // Held back after the slow start, nothing is resubmitted: not said to be.
                if !self.may_create().await {
                    return self.held_create(i, rec);
                }
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
}
