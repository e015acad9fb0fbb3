//! [`Client::synthesize_long`]: a text too long for one task, split
//! ([`LongSpeechPlan`]), submitted with bounded concurrency, waited for, returned in order;
//! and [`Client::resend_speech`]: the resend after a crash of a VMEG part whose answer never
//! came, with the key it was sent with.

use std::time::SystemTime;

use futures_util::StreamExt;
use tracing::Instrument as _;

use super::Client;
use crate::error::{Error, ErrorKind};
use crate::long_text::{LongSpeechPlan, PartOutcome};
use crate::model::{JobId, JobKind, ReconcileQuery, Resubmitted, Speech, SpeechJob, SpeechRequest};
use crate::wait::WaitPolicy;

/// How many parts of a long text are in flight at once unless the caller says otherwise.
pub const DEFAULT_LONG_CONCURRENCY: usize = 4;

/// What a part's outcome says when its submit's answer named a task another part holds.
const ANOTHER_PARTS_TASK: &str = "the answer named another part's task";

/// What finds an accepted part's submit again, should its task turn out to be shared.
struct Sent {
    idempotency_key: Option<String>,
    submitted_at: SystemTime,
    answered_at: SystemTime,
}

/// Where one part of a plan ended.
enum PartEnd {
    Done(JobId, Speech, Sent),
    /// Submitted (job id known) but the wait failed.
    WaitFailed(JobId, Error, Sent),
    /// The submit failed; it was about to be sent at that time, under `key` (VMEG: the key
    /// drawn for it, kept whatever the error says). `named_another_parts`: its lost answer
    /// named a task another part's answer named too (no longer the error's `task_id`).
    SubmitFailed {
        error: Error,
        sent_at: SystemTime,
        key: Option<String>,
        named_another_parts: bool,
    },
    /// Accepted under a task id another part's answer named too (a caching proxy, a broken
    /// server): which part's text the task holds is unknown, and so is whether this part's
    /// submit made a task of its own. Answered at `Sent::answered_at`.
    Taken {
        named: JobId,
        sent: Sent,
    },
    /// Not sent: the call's deadline passed while it waited for its turn.
    Unsent(Error),
    /// Not submitted: an earlier part failed first.
    Skipped,
}

impl Client {
    /// Speaks a text too long for one task: splits `req`'s one line into the provider's
    /// parts ([`LongSpeechPlan::new`]: JimmyAI the fewest tasks of at most 9,999 characters,
    /// VMEG batches of at most 50 lines), submits at most [`DEFAULT_LONG_CONCURRENCY`] at a
    /// time, waits for all of them with `wait`, and returns each part's [`Speech`] in order.
    /// The first part's create goes out alone, the others waiting for its answer (or its
    /// failure), so a fault from the start (a gateway cutting create answers, a voice that
    /// fails every task) puts one part at stake, not one per slot.
    /// A VMEG task can finish with some of its lines failed: that part's
    /// [`Speech::segments`] name them (`error`, no `url`; or `unreadable` for a line this
    /// crate could not read, which the vendor did not say failed) and its `audio_urls` hold
    /// only the lines that have audio, so check the segments before joining the audio. Each
    /// part's [`Speech::lines_sent`] is its line count: [`Speech::is_complete`] is false, and
    /// a WARN is logged, when the answer lists another number of lines.
    ///
    /// A text that cannot be split, or a part the provider would refuse, is `InvalidInput`
    /// before anything is sent. When a part fails, no further part is submitted; the parts
    /// already submitted are waited for, and the first failure is returned with a note
    /// naming the parts that finished (and their job ids) and those never sent, after the
    /// part's own note. Once some part was or may have been made, its text advises
    /// resubmitting only the parts not made, never the kind's "submit again". A task id
    /// named for two parts (a caching proxy, a broken server) is no part's own, as which
    /// part's text it holds is unknown: each such part is [`PartOutcome::Unknown`] with its
    /// submit time, answer time and key, "the answer named another part's task", its
    /// `task_id` empty and the task in `named_another_parts_task` (none is `Finished` with
    /// it), and the task is waited for once. The error leaves it out of its `task_id` too
    /// ([`Error::named_another_parts_task`]): `reconcile` of
    /// [`ReconcileQuery::from_error`] never answers it as this part's task. For a run
    /// that must survive a crash without paying twice, drive the plan yourself and record
    /// each part (see [`crate::long_text`]).
    ///
    /// **Bound it with [`Client::with_timeout`], never by dropping the future.** The job ids
    /// of the parts already accepted (each one a task being paid for) live in this future
    /// until it returns: dropping it (`tokio::time::timeout`, a `select!` branch not taken,
    /// an aborted task) loses them, and those tasks run on with nobody holding their ids. A
    /// handle's timeout or deadline ([`Client::with_timeout`], [`Client::with_options`])
    /// ends the call from inside instead, with an error whose [`Error::long_text_parts`]
    /// holds every accepted part's job id. The log is what an operator can recover the parts
    /// from when a future was dropped anyway: each accepted part is logged at `info` (`long
    /// text part accepted`, fields `part`, `parts`, `job_id`), and a part whose submit may
    /// have made a task nobody holds the id of (its outcome unknown, or refused by a code
    /// JimmyAI does not document) at `warn` when its answer comes (`write outcome unknown` or
    /// `write refused by a code the vendor does not document`, fields `part`, `parts` and
    /// `part_sha256`, the first 8 hex digits of the part's
    /// [`LongPart::text_sha256`](crate::long_text::LongPart::text_sha256), which tells the
    /// part; `idempotency_key`, `task_id` when the answer named one, `submitted_at`, and
    /// `request`: the part's fields, each free text as its length and the first 8 hex digits
    /// of its own SHA-256: a VMEG part's each line's, not the part's).
    ///
    /// ```no_run
    /// # async fn run(client: voiceclone::Client, req: voiceclone::SpeechRequest, wait: voiceclone::WaitPolicy) {
    /// use std::time::Duration;
    /// // Not `tokio::time::timeout(d, client.synthesize_long(..))`: see above.
    /// match client.with_timeout(Duration::from_secs(3600)).synthesize_long(&req, &wait).await {
    ///     Ok(parts) => println!("{} parts", parts.len()),
    ///     Err(e) => println!("{e}; parts: {:?}", e.long_text_parts()), // the job ids are here
    /// }
    /// # }
    /// ```
    ///
    /// ```
    /// use std::time::Duration;
    /// use voiceclone::{Client, Provider, SpeechRequest, WaitPolicy};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sim = voiceclone_sim::Simulator::start_with(
    ///     voiceclone_sim::SimConfig::default().with_speed(1000.0),
    /// )
    /// .await?;
    /// let client = Client::builder(Provider::Vmeg)
    ///     .api_key(sim.api_key())
    ///     .base_url(sim.base_url())
    ///     .build()?;
    /// // 120 paragraphs of 262 characters: a line each (VMEG lines here are at most 500).
    /// let text = format!("{}\n\n", "A sentence of the script. ".repeat(10)).repeat(120);
    /// let wait = WaitPolicy::for_provider(Provider::Vmeg).with_first_interval(Duration::from_millis(5));
    /// let parts = client
    ///     .synthesize_long(&SpeechRequest::new("sv_en_us_female_01", &text), &wait)
    ///     .await?;
    /// assert_eq!(parts.len(), 3); // 120 lines, at most 50 per task
    /// assert_eq!(parts.iter().map(|s| s.audio_urls.len()).sum::<usize>(), 120);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn synthesize_long(
        &self,
        req: &SpeechRequest,
        wait: &WaitPolicy,
    ) -> Result<Vec<Speech>, Error> {
        // Planned inside the call's span: a refusal quoting the caller's value (a key pasted
        // as the language) leaves through the key's scrubber, and is logged as failed.
        traced!(self, wait "synthesize_long", async {
            let plan = LongSpeechPlan::new(self.provider(), req)
                .map_err(|e| e.with_operation("synthesize_long"))?;
            self.run_plan(&plan, wait, DEFAULT_LONG_CONCURRENCY).await
        })
    }

    /// [`Client::synthesize_long`] of a plan already made, with at most `concurrency` parts
    /// in flight (at least 1), the first part's create sent alone, as there. A plan for the
    /// other provider is `InvalidInput` (field `plan`). As there: bound it with
    /// [`Client::with_timeout`] (or [`Client::with_options`]), never by dropping the future,
    /// which loses the accepted
    /// parts' job ids (each is also logged at `info`, `long text part accepted`, and a part
    /// of unknown outcome at `warn`, as there).
    ///
    /// ```
    /// use voiceclone::long_text::LongSpeechPlan;
    /// use voiceclone::{Provider, SpeechRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_speed(1000.0)).await?;
    /// # let client = voiceclone::Client::builder(voiceclone::Provider::Vmeg).api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// # let wait = voiceclone::WaitPolicy::for_provider(voiceclone::Provider::Vmeg).with_first_interval(std::time::Duration::from_millis(5));
    /// // 60 paragraphs, a line each: two VMEG tasks of at most 50 lines.
    /// let text = format!("{}\n\n", "A sentence of the script. ".repeat(10)).repeat(60);
    /// let plan = LongSpeechPlan::new(Provider::Vmeg, &SpeechRequest::new("sv_en_us_female_01", &text))?;
    /// assert_eq!(plan.parts().len(), 2);
    /// let parts = client.synthesize_plan(&plan, &wait, 2).await?;
    /// assert_eq!(parts.len(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn synthesize_plan(
        &self,
        plan: &LongSpeechPlan,
        wait: &WaitPolicy,
        concurrency: usize,
    ) -> Result<Vec<Speech>, Error> {
        traced!(
            self,
            wait "synthesize_long",
            self.run_plan(plan, wait, concurrency)
        )
    }

    async fn run_plan(
        &self,
        plan: &LongSpeechPlan,
        wait: &WaitPolicy,
        concurrency: usize,
    ) -> Result<Vec<Speech>, Error> {
        if plan.provider() != self.provider() {
            return Err(Error::invalid_input(
                "plan",
                format!("was made for {}, not {}", plan.provider(), self.provider()),
            ));
        }
        // Every part is checked for the API key before the first is sent: refused only at
        // its own part, the parts before it would be paid for nothing (review 34 pass 2 #3).
        for i in 0..plan.parts().len() {
            if let Some(req) = plan.request(i) {
                self.refuse_api_key_in_speech(&req)
                    .map_err(|e| match e.kind() {
                        ErrorKind::InvalidInput { field, reason } => {
                            Error::invalid_input(format!("parts[{i}].{field}"), reason.clone())
                        }
                        _ => e,
                    })?;
            }
        }
        let failed = std::sync::atomic::AtomicBool::new(false);
        let failed = &failed;
        // Once a part was accepted, the JimmyAI model it used is being activated (its
        // task activates it when it completes, api-facts B5): a later part is not refused
        // locally because the model's deadline passed while the earlier parts ran;
        // JimmyAI decides (it refuses an expired, unactivated modelId itself).
        let accepted = std::sync::atomic::AtomicBool::new(false);
        let accepted = &accepted;
        // Every task id a part was answered with (accepted, or named by a lost answer):
        // the first part answered with an id waits for it, so no task is waited for twice.
        // An id named for a second part goes to `shared`: answer order does not say whose
        // text it holds, so neither part is reported with it as its own.
        let held = std::sync::Mutex::new(std::collections::HashSet::<String>::new());
        let held = &held;
        let shared = std::sync::Mutex::new(std::collections::HashSet::<String>::new());
        let shared_ref = &shared;
        let hold = |id: &JobId| {
            let first = held
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(id.as_str().to_owned());
            if !first {
                shared_ref
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(id.as_str().to_owned());
            }
            first
        };
        // The first part's create goes out alone, the others waiting for its answer (or its
        // failure): a fault from the start (a gateway cutting create answers, a voice that
        // fails every task) then puts one part at stake, not one per slot.
        let (opened, gate) = tokio::sync::watch::channel(false);
        let opened = &opened;
        let gate = &gate;
        let total = plan.parts().len();
        let mut ends: Vec<(usize, PartEnd)> = futures_util::stream::iter(0..total)
            .map(|i| async move {
                use std::sync::atomic::Ordering::Relaxed;
                // Opens the gate however part 0's submit ends (a return, an error).
                let _open = (i == 0).then(|| OpenOnDrop(opened));
                if i > 0 {
                    let mut gate = gate.clone();
                    // The sender lives as long as this stream: an error cannot come.
                    let _ = gate.wait_for(|open| *open).await;
                }
                if failed.load(Relaxed) {
                    return (i, PartEnd::Skipped);
                }
                // The client's in-flight slot is taken here, for the submit's first
                // request, and `failed` read again once it is: with fewer free slots than
                // parts in flight, a part can queue for one while another part fails, and
                // it must then not be sent.
                // Refused here, nothing was sent (the call's deadline passed in the queue).
                let admission = match self.t().admit().await {
                    Ok(a) => a,
                    Err(error) => {
                        failed.store(true, Relaxed);
                        return (i, PartEnd::Unsent(error));
                    }
                };
                if failed.load(Relaxed) {
                    return (i, PartEnd::Skipped);
                }
                let Some(mut req) = plan.request(i) else {
                    return (i, PartEnd::Skipped);
                };
                if accepted.load(Relaxed) {
                    for line in &mut req.lines {
                        line.voice_id = line.voice_id.clone().activated();
                    }
                }
                // A VMEG part's key is drawn here, not inside the submit: an error that does
                // not carry it (a 404 answered to the create) must still leave the part
                // with what finds its task apart from the other parts'.
                let mut drawn_key = None;
                if self.provider() == crate::Provider::Vmeg && req.idempotency_key.is_none() {
                    let drawn =
                        crate::random_id::RandomId::clear_of(&self.t().scrubber).to_string();
                    drawn_key = Some(drawn.clone());
                    req.idempotency_key = Some(drawn);
                }
                let key = req.idempotency_key.clone();
                // Noted before sending: a submit whose error does not prove nothing was
                // made is found again by this time (JimmyAI has no key).
                let submitted_at = SystemTime::now();
                let tag = crate::transport::LongPartTag {
                    part: i.saturating_add(1),
                    parts: total,
                    sha256: plan
                        .parts()
                        .get(i)
                        .map(|p| p.text_sha256().chars().take(8).collect())
                        .unwrap_or_default(),
                    drawn_key,
                };
                let submit = crate::transport::for_long_part(tag, self.synthesize(&req));
                let answer = admission.run(submit).await;
                let answered_at = SystemTime::now();
                drop(_open);
                let job = match answer {
                    Ok(job) => {
                        accepted.store(true, Relaxed);
                        job
                    }
                    Err(error) => {
                        failed.store(true, Relaxed);
                        let named_another_parts = match error.kind() {
                            ErrorKind::OutcomeUnknown {
                                task_id: Some(id), ..
                            } => !hold(id),
                            _ => false,
                        };
                        let error = if named_another_parts {
                            noting_named_task(error)
                        } else {
                            error
                        };
                        return (
                            i,
                            PartEnd::SubmitFailed {
                                error,
                                sent_at: submitted_at,
                                key,
                                named_another_parts,
                            },
                        );
                    }
                };
                let sent = Sent {
                    idempotency_key: job.idempotency_key.clone(),
                    submitted_at,
                    answered_at,
                };
                if !hold(&job.id) {
                    failed.store(true, Relaxed);
                    // With its key: the client made it, and a task this submit made
                    // under it is found by it, also when the caller drops the call.
                    tracing::warn!(
                        part = i.saturating_add(1),
                        parts = total,
                        job_id = %job.id,
                        idempotency_key = job.idempotency_key.as_deref().unwrap_or("none"),
                        "long text part answered with another part's task"
                    );
                    return (
                        i,
                        PartEnd::Taken {
                            named: job.id,
                            sent,
                        },
                    );
                }
                // At `info`: the job id lives only in this future until the call
                // returns; a caller that drops it (a timer around the call) can find
                // the paid task again only in the log.
                tracing::info!(
                    part = i.saturating_add(1),
                    parts = total,
                    job_id = %job.id,
                    "long text part accepted"
                );
                match self.wait_for_speech(&job.id, wait).await {
                    Ok(mut speech) => {
                        // The part's line count is at hand: an answer listing fewer lines
                        // than were sent is not complete.
                        self.note_lines_sent(&job.id, &mut speech, req.lines.len());
                        (i, PartEnd::Done(job.id, speech, sent))
                    }
                    Err(e) => {
                        failed.store(true, Relaxed);
                        (i, PartEnd::WaitFailed(job.id, e, sent))
                    }
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        ends.sort_by_key(|(i, _)| *i);
        let shared = shared
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let ends = ends
            .into_iter()
            .map(|(i, end)| (i, sharing(end, &shared)))
            .collect();
        summarize(ends, total, self.provider(), &self.t().sent_under)
    }

    /// Resends a speech submit whose answer never came (a crash, a lost connection) with
    /// the VMEG idempotency key it was first sent with (`req.idempotency_key`, required),
    /// e.g. one part of a long text recorded before it was sent. VMEG accepts a key once
    /// per 24 hours: [`Resubmitted::Accepted`] when the first send had created nothing;
    /// [`Resubmitted::AlreadyAccepted`] when VMEG says the key was used (nothing new is
    /// created; a task exists unless the first send was refused, which VMEG does not
    /// document), with what [`Client::reconcile`] found around `submitted_at`. Past VMEG's
    /// 24-hour key lifetime a resend could create a second task: more than 23 hours after
    /// `submitted_at` it is
    /// refused (`InvalidInput` naming `submitted_at`, nothing sent); use `reconcile`. An
    /// `OutcomeUnknown` of the resend carries `submitted_at` as its own (the first submit's
    /// time), so that guard and a search from it still cover the first submit. A synchronous
    /// create is not resent within 180 s of `submitted_at` (the first request may still be
    /// running), nor within 180 s of a resend under its key in this client cut short after it
    /// went out (dropped, or ended in `OutcomeUnknown`; counted from then, not from its
    /// start): an `OutcomeUnknown` with the key and
    /// `submitted_at` comes back, nothing sent, noting when to resend, [`Error::retry_after`]
    /// the time left. An async create is held the same way for
    /// [`crate::KEYED_CREATE_REPEAT_PAUSE`] (2 s), the pause the retry loop waits before a
    /// repeat under a key that may be in flight. Under [`Client::with_timeout`] the resend and
    /// the search after its 409 share the call's one deadline.
    ///
    /// Use a client with the API key and base URL the submit was sent with: under another API
    /// key the same idempotency key is new, and the resend bills a second task. Nothing here
    /// can tell (no error is given).
    ///
    /// `req` must be the request as first sent, `synchronous` included: VMEG's keys are per
    /// API key and request path, so the same key sent to the other create (synchronous
    /// instead of asynchronous) is new there and bills a second task. Nothing here can tell
    /// (only the key and the time are known); [`Client::resubmit_speech`], given the
    /// submit's error, refuses such a resend.
    ///
    /// JimmyAI has no idempotency key, so a resend cannot be told from new work:
    /// `Unsupported`.
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use voiceclone::{Resubmitted, SpeechRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_speed(1000.0)).await?;
    /// # let client = voiceclone::Client::builder(voiceclone::Provider::Vmeg).api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// # let wait = voiceclone::WaitPolicy::for_provider(voiceclone::Provider::Vmeg).with_first_interval(std::time::Duration::from_millis(5));
    /// // The key was recorded before sending; the process crashed before the answer came.
    /// let req = SpeechRequest::new("sv_en_us_female_01", "Hello there.").idempotency_key("part-1");
    /// let sent_at = SystemTime::now();
    /// # client.synthesize(&req).await?;
    /// // Not within 2 s of `sent_at` (the request may still be in flight): wait what is left.
    /// let again = match client.resend_speech(&req, sent_at).await {
    ///     Err(e) if e.retry_after().is_some() => {
    ///         tokio::time::sleep(e.retry_after().unwrap_or_default()).await;
    ///         client.resend_speech(&req, sent_at).await?
    ///     }
    ///     other => other?,
    /// };
    /// assert!(matches!(again, Resubmitted::AlreadyAccepted(_)), "{again:?}"); // nothing new
    /// assert_eq!(sim.stats().billable("vmeg.ttsCreateAsync"), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn resend_speech(
        &self,
        req: &SpeechRequest,
        submitted_at: SystemTime,
    ) -> Result<Resubmitted<SpeechJob>, Error> {
        // Whatever fails here (the resend refused, a 402 on it, the search after its 409),
        // the first submit's outcome is still unknown: never resubmittable.
        // Through the key's scrubber (`traced!`): the request's refusals quote its values.
        // One call under this handle's options: the resend and the search after its 409
        // share one deadline, not one each.
        traced!(self, "resend_speech", async {
            self.resend_speech_inner(req, submitted_at, None)
                .await
                .map_err(|e| e.task_may_exist())
        })
    }

    /// [`Client::resend_speech`] of a submit whose key was resent before, the latest such
    /// resend made at `last_resent_at` (by another process, or cut short: a resend this
    /// client cut short it remembers itself). That resend may have made the task: the search
    /// after a 409 reaches it, and an empty one is not
    /// [`Reconciled::KeyUsedNothingListed`](crate::Reconciled::KeyUsedNothingListed) until
    /// the resend's span has settled too (its task may not be listed yet). Give the latest
    /// attempt that resend may have made (its start
    /// is not enough when its retries went on later); a time before `submitted_at` counts as
    /// `submitted_at`, and one more than 5 minutes ahead of this machine's clock (the skew
    /// allowed any submit time) is refused (`InvalidInput` naming `last_resent_at`, nothing
    /// sent). A synchronous request resent less than 180 s ago may still be running at VMEG,
    /// an async one resent less than 2 s ago may still be in flight: that resend, not only the
    /// first submit, holds this one back (the lost submit's `OutcomeUnknown`, `retry_after`).
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use voiceclone::{Resubmitted, SpeechRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_speed(1000.0)).await?;
    /// # let client = voiceclone::Client::builder(voiceclone::Provider::Vmeg).api_key(sim.api_key()).base_url(sim.base_url()).build()?;
    /// let req = SpeechRequest::new("sv_en_us_female_01", "Hello.").idempotency_key("part-1");
    /// let sent_at = SystemTime::now();
    /// # client.synthesize(&req).await?;
    /// // An earlier run resent it a moment ago, and was stopped before its answer came.
    /// let resent_at = SystemTime::now();
    /// // Not within 2 s of that resend (it may still be in flight): wait what is left.
    /// let again = match client.resend_speech_with_last_resend(&req, sent_at, resent_at).await {
    ///     Err(e) if e.retry_after().is_some() => {
    ///         tokio::time::sleep(e.retry_after().unwrap_or_default()).await;
    ///         client.resend_speech_with_last_resend(&req, sent_at, resent_at).await?
    ///     }
    ///     other => other?,
    /// };
    /// assert!(matches!(again, Resubmitted::AlreadyAccepted(_)), "{again:?}");
    /// assert_eq!(sim.stats().billable("vmeg.ttsCreateAsync"), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn resend_speech_with_last_resend(
        &self,
        req: &SpeechRequest,
        submitted_at: SystemTime,
        last_resent_at: SystemTime,
    ) -> Result<Resubmitted<SpeechJob>, Error> {
        // As `resend_speech`.
        traced!(self, "resend_speech", async {
            self.resend_speech_inner(req, submitted_at, Some(last_resent_at))
                .await
                .map_err(|e| e.task_may_exist())
        })
    }

    async fn resend_speech_inner(
        &self,
        req: &SpeechRequest,
        submitted_at: SystemTime,
        last_resent_at: Option<SystemTime>,
    ) -> Result<Resubmitted<SpeechJob>, Error> {
        let Some(key) = req.idempotency_key.clone() else {
            return Err(Error::invalid_input(
                "idempotency_key",
                "a resend needs the key the first submit used",
            )
            .with_provider(self.provider())
            .with_operation("resend_speech"));
        };
        if self.provider() == crate::Provider::JimmyAi {
            return Err(
                Error::unsupported("resend_speech", self.provider()).with_note(
                    "JimmyAI has no idempotency key: a resend may create and bill a second task",
                ),
            );
        }
        if let Some(refusal) = super::reconcile::past_key_lifetime(submitted_at, "submitted_at") {
            return Err(refusal
                .with_provider(self.provider())
                .with_operation("resend_speech"));
        }
        // Refused under its own name before the query's check, which would name
        // `last_attempt_at` (a parameter the caller never gave) and speak of a submit.
        if let Some(at) = last_resent_at
            && crate::model::beyond_skew(at, std::time::SystemTime::now())
        {
            return Err(Error::invalid_input(
                "last_resent_at",
                "is in the future: no resend was made then, and the wait it sets for a 409 would run on until that time",
            )
            .with_provider(self.provider())
            .with_operation("resend_speech"));
        }
        let mut query = ReconcileQuery::new(submitted_at)
            .kind(JobKind::Speech)
            .idempotency_key(key.clone());
        // The latest request under the key: one sent then may still be in flight at VMEG (a
        // synchronous one running), whichever process sent it (as `not_too_soon` reads it).
        let mut latest = submitted_at;
        if let Some(at) = last_resent_at {
            latest = at.max(submitted_at);
            query = query.last_attempt_at(latest);
        }
        // Checked before the resend goes out (a submit time ahead of the clock): refused
        // afterwards, by the reconcile of a 409, the `InvalidInput` would claim nothing was
        // sent.
        query
            .check(self.provider(), std::time::SystemTime::now())
            .map_err(|e| {
                e.with_provider(self.provider())
                    .with_operation("resend_speech")
            })?;
        // A request this provider refuses is refused now, naming its field, before anything
        // is sent or a wait is advised; planned under the key it goes out with.
        let planned = crate::provider::offline(self.provider()).plan_speech;
        let plan = planned(&req.clone().idempotency_key(key.clone())).map_err(|e| {
            e.with_provider(self.provider())
                .with_operation("resend_speech")
        })?;
        // The refusal of a resend while a request under the key may still run at VMEG: the
        // request as it would go out, as a lost submit's summary holds it, so a later
        // `resubmit_speech` of this error is held to the same route and body (an empty
        // summary would let another route take the key as new, billed work).
        let still_running = |left| {
            let lost = Error::new(ErrorKind::OutcomeUnknown {
                idempotency_key: Some(key.clone()),
                task_id: None,
                submitted_at,
                request: self.planned_summary(&plan),
            });
            super::reconcile::still_running(
                lost.with_phase(crate::error::Phase::Sent)
                    .with_sent_under(self.t().sent_under.clone())
                    .with_provider(self.provider())
                    .with_operation("synthesize"),
                left,
            )
        };
        if let Some(left) = super::reconcile::may_still_run(latest, req.synchronous) {
            return Err(still_running(left));
        }
        let mut one_at_a_time = self
            .inner
            .resends
            .take(&key, req.synchronous == Some(true), query.submitted_at)
            .map_err(|busy| {
                busy.refusal(
                    |e| {
                        e.with_provider(self.provider())
                            .with_operation("resend_speech")
                    },
                    still_running,
                )
            })?;
        let sent = one_at_a_time.send(self.synthesize(req)).await;
        self.after_resend(sent, key, query).await
    }
}

/// The speeches in order, or the first failure with where every part ended: in its note
/// after the part's own (for people) and in [`Error::long_text_parts`] (for code: every part
/// whose task may exist, with its job id or its key and submit time).
fn summarize(
    ends: Vec<(usize, PartEnd)>,
    total: usize,
    provider: crate::Provider,
    sent_under: &crate::sent_under::SentUnder,
) -> Result<Vec<Speech>, Error> {
    let mut done = Vec::new();
    let mut first: Option<Error> = None;
    let mut skipped = Vec::new();
    let mut unfinished = Vec::new();
    let mut failed = Vec::new();
    let mut refused = Vec::new();
    let mut parts = Vec::with_capacity(total);
    // Whether some part's task exists or may exist: then the run's error is never
    // `may_resubmit` (running the text again would pay again for those parts), whatever the
    // first failure's own kind says (a 402 on part 2 while part 1 finished).
    let mut some_task_may_exist = false;
    for (i, end) in ends {
        let n = i.saturating_add(1);
        match end {
            PartEnd::Done(job_id, speech, _) => {
                some_task_may_exist = true;
                done.push(format!("{n} ({job_id})"));
                parts.push(PartOutcome::Finished { job_id, speech });
            }
            PartEnd::WaitFailed(job_id, e, _) => {
                some_task_may_exist = true;
                match e.kind() {
                    ErrorKind::TaskFailed { reason, .. } => {
                        // A failure read from an undocumented status word is an assumption:
                        // the task may still finish, and the part must not read as over.
                        let assumed_status = e.assumed_status().map(str::to_owned);
                        failed.push(match &assumed_status {
                            Some(word) => format!("{n} ({job_id}, assumed from status {word})"),
                            None => format!("{n} ({job_id})"),
                        });
                        parts.push(PartOutcome::Failed {
                            job_id,
                            reason: reason.clone(),
                            assumed_status,
                        });
                    }
                    _ => {
                        unfinished.push(format!("{n} ({job_id})"));
                        parts.push(PartOutcome::Accepted {
                            job_id,
                            error: e.to_string(),
                        });
                    }
                }
                first.get_or_insert(e);
            }
            PartEnd::Taken { named, sent } => {
                let Sent {
                    idempotency_key,
                    submitted_at,
                    answered_at,
                } = sent;
                some_task_may_exist = true;
                let key = idempotency_key
                    .as_deref()
                    .map(|k| format!(", key {k}"))
                    .unwrap_or_default();
                unfinished.push(format!(
                    "{n} (submit outcome unknown{key}: {ANOTHER_PARTS_TASK}, {named})"
                ));
                // Neither the error's `task_id` nor the outcome's names the task: it is not
                // known to hold this part's text, and `reconcile(from_error)` would answer
                // it as this submit's. The error keeps it apart, which refuses a resubmit.
                let e = Error::new(ErrorKind::OutcomeUnknown {
                    idempotency_key: idempotency_key.clone(),
                    task_id: None,
                    submitted_at,
                    request: crate::error::RequestSummary::default(),
                })
                .with_phase(crate::error::Phase::Sent)
                .with_provider(provider)
                .with_operation("synthesize")
                .with_sent_under(sent_under.clone())
                .with_last_attempt_at(answered_at)
                .with_named_another_parts_task(named.clone())
                .with_note(format!(
                    "{ANOTHER_PARTS_TASK} ({named}): which part's text it holds is unknown, \
                     and whether this submit made a task of its own"
                ));
                parts.push(PartOutcome::Unknown {
                    idempotency_key,
                    submitted_at,
                    last_attempt_at: Some(answered_at),
                    task_id: None,
                    named_another_parts_task: Some(named),
                    error: e.to_string(),
                });
                first.get_or_insert(e);
            }
            PartEnd::SubmitFailed {
                error: e,
                sent_at,
                key,
                named_another_parts,
            } => {
                some_task_may_exist |= !e.may_resubmit();
                let outcome = match e.kind() {
                    ErrorKind::OutcomeUnknown {
                        idempotency_key,
                        task_id,
                        submitted_at,
                        ..
                    } => {
                        let another = if named_another_parts {
                            format!(": {ANOTHER_PARTS_TASK}")
                        } else {
                            String::new()
                        };
                        unfinished.push(match idempotency_key {
                            Some(k) => format!("{n} (submit outcome unknown, key {k}{another})"),
                            None => format!("{n} (submit outcome unknown{another})"),
                        });
                        PartOutcome::Unknown {
                            idempotency_key: idempotency_key.clone().or(key),
                            submitted_at: *submitted_at,
                            last_attempt_at: e.last_attempt_at(),
                            // A task another part's answer named too is never this part's
                            // `task_id` (the error keeps it apart as well).
                            task_id: task_id.clone(),
                            named_another_parts_task: e.named_another_parts_task().cloned(),
                            error: e.to_string(),
                        }
                    }
                    // Refused, but not in a way that proves nothing was made (JimmyAI's
                    // undocumented 20002 in an HTTP 2xx, a server error): its task may exist.
                    _ if !e.may_resubmit() => {
                        unfinished.push(match &key {
                            Some(k) => format!(
                                "{n} (submit outcome unknown, key {k}: its refusal does not prove nothing was made)"
                            ),
                            None => format!(
                                "{n} (submit outcome unknown: its refusal does not prove nothing was made)"
                            ),
                        });
                        PartOutcome::Unknown {
                            idempotency_key: key,
                            submitted_at: sent_at,
                            last_attempt_at: e.last_attempt_at(),
                            task_id: None,
                            named_another_parts_task: None,
                            error: e.to_string(),
                        }
                    }
                    _ => {
                        refused.push(n.to_string());
                        PartOutcome::Refused {
                            error: e.to_string(),
                        }
                    }
                };
                parts.push(outcome);
                first.get_or_insert(e);
            }
            PartEnd::Unsent(e) => {
                skipped.push(n.to_string());
                parts.push(PartOutcome::NotSent);
                first.get_or_insert(e);
            }
            PartEnd::Skipped => {
                skipped.push(n.to_string());
                parts.push(PartOutcome::NotSent);
            }
        }
    }
    match first {
        None => Ok(parts
            .into_iter()
            .filter_map(|p| match p {
                PartOutcome::Finished { speech, .. } => Some(speech),
                _ => None,
            })
            .collect()),
        Some(e) => {
            let list = |v: &[String]| {
                if v.is_empty() {
                    "none".to_owned()
                } else {
                    v.join(", ")
                }
            };
            let summary = format!(
                "long text of {total} parts: finished {}; submitted but not finished {}; failed {}; refused {}; not submitted {}",
                list(&done),
                list(&unfinished),
                list(&failed),
                list(&refused),
                list(&skipped)
            );
            // After the part's own note, not in its place: that note may say what its
            // failure does not prove (JimmyAI's 20002) or which task its answer named.
            let note = match e.note() {
                Some(own) => format!("{own}; {summary}"),
                None => summary,
            };
            let e = e.with_note(note).with_long_text_parts(parts);
            Err(if some_task_may_exist {
                e.task_may_exist()
            } else {
                e
            })
        }
    }
}

/// An `OutcomeUnknown` whose answer named a task another part's answer named too, with a
/// note saying so. The task moves out of the kind's `task_id` (`ReconcileQuery::from_error`
/// would take it as this submit's, and `reconcile` answer `Found` with it) into
/// [`Error::named_another_parts_task`], which still refuses a `resubmit_speech` of this error
/// as any answer naming a task does (whether that attempt used the key up is UNKNOWN,
/// api-facts A4). The part's [`PartOutcome::Unknown`] names it there too: a caller waiting
/// on it would take another part's audio.
fn noting_named_task(e: Error) -> Error {
    let ErrorKind::OutcomeUnknown {
        idempotency_key,
        task_id: Some(named),
        submitted_at,
        request,
    } = e.kind()
    else {
        return e;
    };
    let named = named.clone();
    let kind = ErrorKind::OutcomeUnknown {
        idempotency_key: idempotency_key.clone(),
        task_id: None,
        submitted_at: *submitted_at,
        request: request.clone(),
    };
    let note = format!(
        "{ANOTHER_PARTS_TASK} ({named}): which part's text it holds is unknown, and whether \
         this submit made a task of its own"
    );
    let note = match e.note() {
        Some(before) => format!("{before}; {note}"),
        None => note,
    };
    e.with_kind(kind)
        .replacing_task_id(None)
        .with_named_another_parts_task(named)
        .with_note(note)
}

/// A part whose task another part's answer named too (`shared`) is no part's own: which
/// text the task holds is unknown, so the part that was answered with it first (and maybe
/// waited for it) ends as the later ones do, not `Finished` with audio that may speak
/// another part's text.
fn sharing(end: PartEnd, shared: &std::collections::HashSet<String>) -> PartEnd {
    match end {
        PartEnd::Done(id, _, sent) | PartEnd::WaitFailed(id, _, sent)
            if shared.contains(id.as_str()) =>
        {
            PartEnd::Taken { named: id, sent }
        }
        PartEnd::SubmitFailed {
            error,
            sent_at,
            key,
            named_another_parts: false,
        } => {
            let named = match error.kind() {
                ErrorKind::OutcomeUnknown {
                    task_id: Some(id), ..
                } => shared.contains(id.as_str()),
                _ => false,
            };
            PartEnd::SubmitFailed {
                error: if named {
                    noting_named_task(error)
                } else {
                    error
                },
                sent_at,
                key,
                named_another_parts: named,
            }
        }
        other => other,
    }
}

/// Opens the gate the later parts wait at once the first part's submit ended, however.
struct OpenOnDrop<'a>(&'a tokio::sync::watch::Sender<bool>);

impl Drop for OpenOnDrop<'_> {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}
