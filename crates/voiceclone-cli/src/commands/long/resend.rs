//! Resending a VMEG part whose submit's answer never came: with the same idempotency key,
//! under the scope it was sent with, and finding its task when VMEG says the key was used.

use std::time::{Duration, SystemTime};

use voiceclone::sleep::Sleeper as _;
use voiceclone::{ErrorKind, JobId, Provider, Reconciled, Resubmitted};

use super::manifest::{KeyScope, MAX_RESENDS_RECORDED, PartRecord, PastSubmit, ms_time, unix_ms};
use super::submit::made_nothing;
use super::{Ready, Run};
use crate::exit::Exit;
use crate::output::{Failure, rfc3339};

/// How long after its recorded start an attempt of a part's submit may still make its task:
/// the client's retries of the create (4 attempts of up to 30 s each, `Retry-After` up to 30 s
/// between them: 3.5 min), a wait for a request slot, and a vendor clock running ahead, with
/// room to spare. A task dated farther from every attempt is no rival of one dated near an
/// attempt. Before an attempt only the reconcile window counts, as it does for the first
/// submit's own search: another job's task made minutes before it is no rival.
pub(super) const ATTEMPT_REACH: Duration = Duration::from_secs(15 * 60);

/// How many times a resend refused for the pause before a repeat under its key is waited out
/// and sent again: once is enough unless the clock moved meanwhile.
const PAUSE_WAITS: usize = 2;

/// The time left, if `resent` is a refusal (nothing sent) of a resend while a request under
/// its key may still be in flight at VMEG, and at most [`voiceclone::KEYED_CREATE_REPEAT_PAUSE`]:
/// a longer one comes of a submit time ahead of this machine's clock, which is reported.
fn pause_left<T>(resent: &Result<T, voiceclone::Error>) -> Option<Duration> {
    let e = resent.as_ref().err()?;
    if !matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }) {
        return None;
    }
    e.retry_after()
        .filter(|left| *left <= voiceclone::KEYED_CREATE_REPEAT_PAUSE)
}

/// The least time a resend (its create and its search of the task list, each request under
/// the client's own timeout) is given as a whole, whatever `--timeout` says: `--timeout`
/// bounds a part's wait, and a resend cut short leaves the part unknown on every rerun.
pub(super) const MIN_RESEND_TIME: Duration = Duration::from_secs(5 * 60);

/// How far ahead of this machine's clock a recorded submit time may be and still be read as
/// fresh: the skew the library allows any submit time (5 min), two clocks' usual drift.
pub(super) const AHEAD_SKEW: Duration = Duration::from_secs(5 * 60);

/// Whether part `rec`'s submit is young enough for VMEG to dedupe a resend under its key:
/// younger than [`voiceclone::KEY_RESEND_WINDOW`], or at most [`AHEAD_SKEW`] ahead of the
/// clock. Further ahead its age is not known ([`ahead_of_clock`]). An unknown submit time is
/// not.
pub(super) fn key_fresh(rec: &PartRecord) -> bool {
    rec.submitted_at().is_some_and(|t| {
        SystemTime::now().duration_since(t).map_or_else(
            |e| e.duration() <= AHEAD_SKEW,
            |age| age < voiceclone::KEY_RESEND_WINDOW,
        )
    })
}

/// How far part `rec`'s submit time is ahead of this machine's clock, past [`AHEAD_SKEW`]: its
/// key's age is then not known. Either this clock is behind now (the key is no older than it
/// says), or the clock was ahead when the key was sent and was set right since (the key may
/// be older than VMEG keeps it, and a resend then new, paid work, told as "created nothing"):
/// so it is not resent unasked, and both readings are told.
pub(super) fn ahead_of_clock(rec: &PartRecord) -> Option<Duration> {
    let at = rec.submitted_at()?;
    at.duration_since(SystemTime::now())
        .ok()
        .filter(|ahead| *ahead > AHEAD_SKEW)
}

/// A submit as it may be found again: ` sent at T with idempotency key K`.
pub(super) fn submit_found_by(
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
pub(super) fn created_within(
    task: &voiceclone::TaskSummary,
    from: SystemTime,
    to: SystemTime,
) -> bool {
    !task.created_at_offset_unknown && task.created_at.is_some_and(|at| from <= at && at <= to)
}

/// The unclaimed candidates that compete for a part after VMEG's 409. The search also lists
/// tasks dated up to `FUTURE_SKEW` outside `[from, to]` (clock skew, so it never says `None`
/// for a real task), and, between a first submit and a resend hours later, tasks of other
/// jobs; once one `fits` (is dated inside the spans the part's attempts give), those dated
/// with their offset outside them are no rivals, or another job's task made minutes before
/// would keep the part unknown on every rerun. Undated or offset-less tasks may lie anywhere:
/// they stay rivals.
pub(super) fn rivals<'a>(
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
pub(super) fn candidate(task: &voiceclone::TaskSummary) -> String {
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

impl Run<'_> {
    /// Whether part `rec`, left `submitting`, is resent with its key: a VMEG part whose key
    /// is younger than [`voiceclone::KEY_RESEND_WINDOW`], the library's own resend window
    /// (VMEG then creates nothing new if the first submit landed), or whose submit time is
    /// at most [`AHEAD_SKEW`] ahead of the clock. Any other (one further ahead is of unknown
    /// age, [`ahead_of_clock`]) is reported, and sent again only with --resubmit-unknown.
    pub(super) fn resendable(&self, rec: &PartRecord) -> bool {
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
    pub(super) fn scope_change(&self, rec: &PartRecord) -> Option<String> {
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
    pub(super) fn task_scope_note(&self, rec: &PartRecord) -> Option<String> {
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
    pub(super) fn past_scope_note(&self, scope: Option<&KeyScope>) -> String {
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
    pub(super) fn attempt_windows(
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
    pub(super) fn not_resent_why(&self, rec: &PartRecord) -> String {
        if self.plan.provider() != Provider::Vmeg {
            return "JimmyAI has no idempotency key: a resend would be a second paid task"
                .to_owned();
        }
        // The age first: past VMEG's window no rerun, under any API key, dedupes a resend,
        // so a scope reason alone would promise a free rerun that cannot be had.
        if !key_fresh(rec) {
            let age = match (rec.submitted_at(), ahead_of_clock(rec)) {
                (Some(at), Some(ahead)) => format!(
                    "its submit time, {}, is {} s ahead of this machine's clock, so its key's age is not known: if this clock is behind now, the key is no older than it says, and a rerun once the clock is right resends it with its key; if the clock was ahead when it was sent and was set right since, the key may be older than VMEG keeps it, and a resend could be new, paid work",
                    rfc3339(at),
                    ahead.as_secs()
                ),
                (Some(_), None) => {
                    "its VMEG idempotency key is too old to dedupe a resend".to_owned()
                }
                (None, _) => "its submit time is not recorded, so its VMEG idempotency key cannot be trusted to dedupe a resend".to_owned(),
            };
            return match self.scope_change(rec) {
                Some(why) => format!("{age}; besides, {why}"),
                None => age,
            };
        }
        self.scope_change(rec)
            .unwrap_or_else(|| "its VMEG idempotency key cannot dedupe a resend".to_owned())
    }

    /// What can resolve part `rec`, left `submitting` and not resent by this run, without
    /// paying twice, if anything can: a rerun under the scope it was sent under when that
    /// is recorded and its key is still inside VMEG's window; for a part of a version-1
    /// manifest, which no rerun resends, only a search under the API key it was sent with.
    pub(super) fn free_way(&self, rec: &PartRecord) -> String {
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

    /// Waits out `left` of the pause before a repeat under part `i`'s key (review 34 pass 5
    /// #1), saying so, through the hold a signal sets: `false` when the run sends no more
    /// creates (it stopped before or during the wait), and nothing may be sent.
    async fn waited_out_pause(&self, i: usize, left: Duration) -> bool {
        if self.creates_held() {
            return false;
        }
        self.printer.progress(&format!(
            "{}: its last request under its key may still be in flight at VMEG; resending it in {:.1} s",
            self.name(i),
            left.as_secs_f64()
        ));
        crate::retry_hold::HoldableSleeper.sleep(left).await;
        !self.creates_held()
    }

    /// VMEG: resends part `i` with the key it was sent with; under this run's scope, keeping
    /// the submit under the recorded one in `past_submits`, when `rescope` is given (asked by
    /// `--resubmit-unknown`). The rescope is recorded with the resend, in one write, after the
    /// pause before a repeat under the key, and undone when the resend was refused (it made
    /// nothing, or the submit time is ahead of the clock): a later rerun must not resend the
    /// key unasked under a scope it was never accepted in.
    pub(super) async fn resend(
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
        let before = self.record(i);
        // The latest earlier request under the key (an earlier run's resend cut short by its
        // bound or a Ctrl-C, else the first submit) may have made the task, not listed yet:
        // an empty search after a 409 must not settle before its attempts have (review 30
        // pass 2 #2), and a repeat under the key waits the pause after its last attempt
        // (review 35 pass 2 #1: a first submit cut and retried for a minute was resent at
        // once). It is recorded at its start; its retries may have gone on for
        // ATTEMPT_REACH, never past this run's start (an earlier run's requests ended with
        // its process): so the pause ends 2 s into the run for every part, and is not waited
        // again for each (pass 3 #5).
        let bound = self.began;
        let earlier = before
            .as_ref()
            .and_then(|r| r.last_resent_at().or_else(|| r.submitted_at()))
            .and_then(|t| t.checked_add(ATTEMPT_REACH))
            .map(|t| t.min(bound));
        // That pause is waited out before anything of this resend is recorded: a stop
        // meanwhile (a signal, another part's stop) leaves the part as it was, its scope
        // and resends unchanged, since nothing was sent (review 35 pass 2 #6).
        if let Some(last) = earlier {
            let since = SystemTime::now().duration_since(last).unwrap_or_default();
            let left = voiceclone::KEYED_CREATE_REPEAT_PAUSE.saturating_sub(since);
            if !left.is_zero()
                && !self.waited_out_pause(i, left).await
                && let Some(b) = &before
            {
                return self.not_resolved(i, b);
            }
        }
        // Recorded before it is sent, as a first submit is: a task this resend makes, its
        // answer lost, is dated around this time, which the next rerun's search then covers.
        let started = SystemTime::now();
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
        let send = || async {
            let _on_its_way = self.in_flight();
            match earlier {
                Some(last) => {
                    self.client
                        .resend_speech_with_last_resend(&req, at, last)
                        .await
                }
                None => self.client.resend_speech(&req, at).await,
            }
        };
        let resent = tokio::time::timeout(self.search_timeout, async {
            let mut resent = send().await;
            // Refused, nothing sent, while a request under the key may still be in flight at
            // VMEG (the pause before a repeat under a key, from the submit or the latest
            // resend recorded; review 34 pass 5 #1): waited out, then sent. Not as a create on
            // its way, and through the hold a signal sets: a signal meanwhile sends nothing.
            for _ in 0..PAUSE_WAITS {
                let Some(left) = pause_left(&resent) else {
                    break;
                };
                if !self.waited_out_pause(i, left).await {
                    break;
                }
                resent = send().await;
            }
            resent
        })
        .await;
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
                // With the submit time still ahead of the clock the library refused before
                // sending (it holds a resend until the clock has passed that time): nothing
                // of this resend happened, so its record, and a rescope, go too (review 35
                // pass 3 #4: a later plain rerun under the new key resent it unasked).
                let ahead_of_clock = at > SystemTime::now();
                if (ahead_of_clock || (rescoped && made_nothing(&e)))
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
        // Another part's task, or this part's own earlier one, is no candidate. One set for
        // every candidate (review 30 pass 2 #1); `not_ours` only words the message.
        let claimed = self.claimed_ids(i);
        let is_claimed = |id: &JobId| claimed.contains(id.as_str());
        // When a search that may still see the task is worth running (its span, or an
        // earlier resend's, not settled): a rerun sooner sees no more (review 30 reread).
        let when = already
            .reconciled
            .look_again_after()
            .map(|t| format!(" after {}", rfc3339(t)))
            .unwrap_or_default();
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
                            "{}: VMEG said its key was used; {} is the only speech task created around it that no other part claims",
                            self.name(i),
                            one.id
                        ));
                        let id = one.id.clone();
                        self.accepted(i, &id).await
                    }
                    [one] if *incomplete => Ready::Unknown(format!(
                        "{}: VMEG says its key was used, and one unclaimed task fits, {}, but the search was incomplete (the task list held records that could not be read, or changed while it was read, or the task an answer named was not found, or its own task may not be listed yet), so its task may be another: it was not taken. Rerun{when} to look again; --resubmit-unknown does not apply while the key is fresh",
                        self.name(i),
                        candidate(one)
                    )),
                    // A task with no creation time, or one without a UTC offset, fits any
                    // window: being the only one says nothing (another job's, from any day).
                    // Dated with its offset, but far from every attempt of this part.
                    [one] if one.created_at.is_some() && !one.created_at_offset_unknown => {
                        Ready::Unknown(format!(
                            "{}: VMEG says its key was used, and one unclaimed task is listed, {}, but it was created far from every time this part was sent (its submit and each resend recorded, give or take their retries and the vendor's clock), so nothing ties it to this submit (it may be another job's): it was not taken. Check it; --resubmit-unknown does not apply while the key is fresh",
                            self.name(i),
                            candidate(one),
                        ))
                    }
                    [one] => Ready::Unknown(format!(
                        "{}: VMEG says its key was used, and one unclaimed task fits, {}, but its creation time is not known (with a UTC offset) to be between {} and {}, so nothing ties it to this submit (it may be another job's): it was not taken. Check it; --resubmit-unknown does not apply while the key is fresh",
                        self.name(i),
                        candidate(one),
                        rfc3339(*from),
                        rfc3339(*to)
                    )),
                    // No task listed, or every one listed is another part's or this part's
                    // earlier one (`rivals` keeps every unclaimed task when none is dated
                    // inside the window): its own may not be listed yet.
                    [] => Ready::Unknown(format!(
                        "{}: VMEG says its key was used, but no unclaimed speech task created around it is listed ({}; the list may lag); rerun the same command{when} to look again (nothing is sent under a new key)",
                        self.name(i),
                        if tasks.is_empty() {
                            "no readable task was listed"
                        } else {
                            "the tasks listed are other parts' or this part's earlier ones"
                        },
                    )),
                    _ => Ready::Unknown(format!(
                        "{}: VMEG says its key was used, but {} unclaimed tasks fit and nothing ties one to it: {}. Check them; --resubmit-unknown does not apply while the key is fresh",
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
}
