//! [`Client::reconcile`]: the task a lost submit left behind; and
//! [`Client::resubmit_clone`] / [`Client::resubmit_speech`]: a resend the caller marks as
//! the same logical call, told apart from new work that reused a key.

use std::collections::HashSet;
use std::time::SystemTime;

use futures_util::TryStreamExt;

use super::Client;
use crate::error::{Error, ErrorKind};
use crate::estimate::PlannedRequest;
use crate::model::{
    AlreadyAccepted, CloneJob, CloneRequest, Evidence, FUTURE_SKEW, Job, JobId, JobKind,
    KEY_RESEND_WINDOW, NoCreationTime, Provider, ReconcileQuery, Reconciled, Resubmitted,
    SpeechJob, SpeechRequest, TaskDetail, TaskFilter, TaskSummary, kind_of_operation,
};
use crate::provider::paging::walk_unbounded_text;
use crate::retry::KEYED_CREATE_REPEAT_PAUSE;
use crate::transport::{body_digest, differing_part, scrubbed_fields};
#[cfg(feature = "webhook")]
use crate::webhook::{WebhookEvent, WebhookEventKind, WebhookPayload};
use tracing::Instrument as _;

/// How a long text's part of unknown outcome is resent: with its own request, never the
/// whole text's.
#[cfg(feature = "long-text")]
const LONG_TEXT_PART: &str = "this error is a long text's: resend only the part that long_text_parts() names as Unknown, with its own request, plan.request(i) (resubmit_speech(&err, &plan.request(i)?) for the part this error is, or resend_speech(&plan.request(i)?.idempotency_key(k), submitted_at) with each part's key and submit time; not one with named_another_parts_task: look that one up); the whole text's request would pay again for the parts already made";

/// The refusal of a resend or search of a submit sent through a client of another API key or
/// base URL.
const SENT_ELSEWHERE: &str = "the submit was sent under another API key or base URL than this client's: keys, tasks and task lists are per API key, so here the submit's key is new (a resend would bill a second task) and its task cannot be seen (a search could answer none); use a client with the API key and base URL the submit was sent with";

/// [`SENT_ELSEWHERE`] for JimmyAI, which has no idempotency key and whose key scoping is not
/// documented (api-facts B1), with what still works when that key is gone (revoked).
const SENT_ELSEWHERE_JIMMYAI: &str = "the submit was sent under another API key or base URL than this client's: whether JimmyAI's tasks are per API key is not documented, so a search here may not see its task; use a client with the API key and base URL it was sent with, or, with that key gone, look up a task id the answer named with clone_status / speech_status (or a ReconcileQuery built with ReconcileQuery::task_id)";

/// The refusal of a query or resend from a client of another scope, for `provider`.
fn sent_elsewhere(provider: Provider) -> &'static str {
    match provider {
        Provider::Vmeg => SENT_ELSEWHERE,
        _ => SENT_ELSEWHERE_JIMMYAI,
    }
}

/// What a provider without a task list (JimmyAI) can and cannot recover.
const NO_TASK_LIST: &str = "this provider documents no task list and no idempotency key, so a task created by a submit whose answer was lost cannot be found through its API. What can be recovered: a task id the answer named (OutcomeUnknown's task_id; pass it as ReconcileQuery::task_id, or check it with clone_status / speech_status). What cannot: a task whose id never reached you; it may still run and be billed, and only the vendor's console or support can find it (give them the submit time)";

/// What the completion hub says of a submit ([`Client::hub_answer`]).
#[cfg(feature = "webhook")]
enum HubAnswer {
    /// A delivery for its key names its task.
    Found(Reconciled),
    /// A delivery for its key names no usable task: the submit made one, which is not known.
    Unnamed,
    /// The hub's store could not be searched.
    Unsearched(Error),
    /// No hub, no key, or no delivery for it.
    Nothing,
}

/// One read of the task list by [`Client::reconcile`] (see `Client::walk_window`).
struct Walk {
    listed: Result<Vec<TaskSummary>, Error>,
    unread: crate::model::UnreadRecords,
    named_listed: Option<TaskSummary>,
}

impl Client {
    /// Finds the task a submit whose outcome is unknown left behind
    /// ([`ReconcileQuery::from_error`] reads what the `OutcomeUnknown` knows).
    ///
    /// VMEG: the tasks whose kind and creation time fit the submit (`tasks/list`, every page: its
    /// order is UNKNOWN), narrowed by what else is known: the task id an answer named (of the kind,
    /// not another product's, dated in the window by its detail or, without a time there, by the
    /// task list), the completion hub's delivery for the idempotency key (when the client has a
    /// hub), and for a clone the voice list's `taskId` of the voice with the asked-for name
    /// (evidence only for one task with it, dated with its UTC offset in the window, beside no
    /// unfinished or failed clone task, in searches of the task and voice lists that read every
    /// record, each voice of the name with its task; and before the window and the 5 minutes after
    /// it ended, not for a clone task listed alone: the submit's own may not be listed yet, and
    /// another job's clone may have the name). [`Reconciled::Found`] only when one of these ties a
    /// task to the submit; [`Reconciled::Candidates`] when tasks fit but nothing ties one of them
    /// (incomplete, with a time to look again, when the search began before the window and the 5
    /// minutes after it ended: the submit's own task may not be listed yet); a delivery naming a
    /// task whose lookup then fails is `Found` as the delivery tells it, and so is the delivery's
    /// task when the lookup of the task the answer named fails (a 5xx, a 401, a timeout: without a
    /// delivery, that error is the answer); [`Reconciled::None`] only once the window and the 5
    /// minutes after it have ended (before, a task may still be created or dated in it: an empty,
    /// incomplete [`Reconciled::Candidates`]), when every listed task of the kind has a creation
    /// time outside the window and the 5 minutes either side (the vendor's clock may be off), no
    /// task of the kind the answer named exists (one dated outside the window is a candidate), and
    /// the task list read once more without VMEG's `taskType` filter holds no task that may be of
    /// the kind either (VMEG's clone task vocabulary is UNKNOWN, and a server applying the filter
    /// literally would leave out a task typed `CloneVoice`; that read is made only then, so it
    /// costs nothing when tasks fit; it is read again when its pages disagree, as the filtered
    /// list is, and a record there that cannot be read stands in the way only when VMEG does
    /// not type it as another product or the other kind), and the completion hub, read once
    /// more after that read, holds no delivery for the key. A task list answering with neither
    /// a `records` array nor a `total` is no evidence of an empty account (`InvalidResponse`: not
    /// known), nor is one whose pages disagreed (a `total` that fell while it was read, distinct
    /// records short of the final `total`: a task may have shifted onto a page already read; the
    /// list is then read once more, and unless that read agrees with itself, an empty incomplete
    /// `Candidates`, search again,
    /// [`crate::UnreadRecords::inconsistent`]), and a submit or last attempt dated before 2020 (a
    /// zero column) is `InvalidInput`, nothing sent. A task without a readable creation time, or
    /// dated by the list or its detail before 2020 (an unset column) or after the answer giving the
    /// time was read, past the 5 minutes (a local time written with `Z`, a `9999-12-31` sentinel;
    /// without a UTC offset, 14 h more), read as no time, may be the one, so it is a candidate; one
    /// whose time came without a UTC offset (read as UTC) is placed [`crate::UNKNOWN_OFFSET_SPAN`]
    /// more loosely, since VMEG's zone is UNKNOWN. A task id or idempotency key holding a piece of
    /// the API key is `InvalidInput` naming it, nothing sent nor looked up in the hub; so is an
    /// idempotency key the create path refuses (blank, past 64 characters, not printable ASCII),
    /// and a voice name that is blank, holds a control character or is longer than
    /// [`crate::RECONCILE_VOICE_NAME_MAX_BYTES`] (4 KiB).
    ///
    /// Use a client with the API key and base URL the submit was sent with: tasks and lists
    /// are per API key. A query from [`ReconcileQuery::from_error`] of an error this crate made
    /// remembers them, and another client's search of it is `InvalidInput` naming `query`,
    /// nothing sent; a query built field by field is not checked.
    ///
    /// Past 10,000 pages of the task list (about 200,000 tasks of the kind at VMEG's 20 a
    /// page; for the read without the type filter, 200,000 tasks of every kind) there is no
    /// answer at all: the search ends in an error (`InvalidResponse`, "did not end after
    /// 10000 pages"), never `None`, however often it is run. On such an account, look the
    /// task up by the id an answer named ([`Client::task`]) or by the completion hub's
    /// webhook for the key (`Client::job_for_idempotency_key`, feature `webhook`).
    ///
    /// No overall time bound of its own: without [`Client::with_timeout`] (or a deadline in
    /// [`crate::CallOptions`]) a search may read the task list four times (twice filtered by type,
    /// twice not) and the cloned-voice list once, up to 10,000 pages each, every request with the
    /// client's own timeout and retries: against a server slow on every page, for days. A caller
    /// that needs an end sets one (`client.with_timeout(d).reconcile(&q)`); the search then ends in
    /// `Timeout`, never [`Error::may_resubmit`] (the task may exist). It is not a default here
    /// because a call's budget becomes each request's timeout: a default of minutes would let one
    /// hung page hold the search that long instead of retrying it after the client's own.
    ///
    /// JimmyAI has no task list and no idempotency key: with a task id the answer named,
    /// that task is found (dated outside the window, a candidate of an incomplete search);
    /// without one, the error is `Unsupported` and its note says what
    /// cannot be recovered.
    ///
    /// ```
    /// use voiceclone::{CloneRequest, ErrorKind, Evidence, ReconcileQuery, Reconciled};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_speed(1000.0)).await?;
    /// # let client = voiceclone::Client::builder(voiceclone::Provider::Vmeg).api_key(sim.api_key()).base_url(sim.base_url()).retry(voiceclone::RetryPolicy::none()).build()?;
    /// # let wait = voiceclone::WaitPolicy::for_provider(voiceclone::Provider::Vmeg).with_first_interval(std::time::Duration::from_millis(5));
    /// # let other = CloneRequest::new("https://cdn.example.com/other.wav").name("other");
    /// # client.clone_voice(&other).await?;
    /// # sim.fail_next("vmeg.cloneVoiceCreateAsync", voiceclone_sim::FaultKind::DropAfter, 1)?;
    /// let req = CloneRequest::new("https://cdn.example.com/sample.wav").name("narrator");
    /// // The task was created, but its answer was lost on the way back.
    /// let err = client.clone_voice(&req).await.unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::OutcomeUnknown { .. }), "{err}");
    /// # sim.complete_all_now();
    /// let found = client.reconcile(&ReconcileQuery::from_error(&err)?).await?;
    /// assert!(
    ///     matches!(&found, Reconciled::Found { evidence: Evidence::VoiceName(n), .. } if n == "narrator"),
    ///     "{found}"
    /// );
    /// # Ok(())
    /// # }
    /// ```
    pub async fn reconcile(&self, query: &ReconcileQuery) -> Result<Reconciled, Error> {
        // A search that fails says nothing of the task it looks for: whatever failed (a 401,
        // a refused query), the submit's outcome is still unknown, so never `may_resubmit`.
        traced!(self, "reconcile", self.reconcile_inner(query)).map_err(Error::task_may_exist)
    }

    async fn reconcile_inner(&self, q: &ReconcileQuery) -> Result<Reconciled, Error> {
        // Whether the span has settled is judged by when the search began, before anything
        // is read: a page read before then may not list the submit's task, however long the
        // walk then runs (review 30 pass 2 #4).
        let started = SystemTime::now();
        q.check(self.provider(), started)?;
        if q.sent_under
            .as_ref()
            .is_some_and(|s| *s != self.t().sent_under)
        {
            return Err(Error::invalid_input(
                "query",
                sent_elsewhere(self.provider()),
            ));
        }
        // Without a kind, a stored id's own: JimmyAI looks a task up by its kind.
        let mut own = None;
        if q.kind.is_none()
            && let Some(kind) = q.task_id.as_ref().and_then(JobId::kind)
        {
            own = Some(q.clone().kind(kind));
        }
        let q = own.as_ref().unwrap_or(q);
        if let Some(id) = &q.task_id {
            self.refuse_api_key_in("task_id", id.as_str())?;
        }
        // Looked up in the completion hub's store by name (review 33-c #1).
        if let Some(key) = &q.idempotency_key {
            self.refuse_api_key_as_idempotency_key(key)?;
        }
        let (from, to) = q.bounds();
        // The answer named the task: nothing to search, once the task is of the kind asked
        // and could have been made in the window (a server that names another task, of
        // another kind or from long before, is not taken at its word: the search goes on).
        // A named task the vendor answered 404 for: the search goes on, but an empty search
        // then ends in this error, never in `None` (the task may just not be readable yet).
        let mut named_missing: Option<Error> = None;
        // The named task when it is of the kind but its detail gave no creation time (VMEG's
        // `result` shape is UNKNOWN; another product's detail has none): the listing, read
        // anyway, may date it; undated, it is a candidate, never `Found`.
        let mut named_undated: Option<TaskSummary> = None;
        // The named task when it is of the kind but dated outside the window (a clock apart
        // from the vendor's, a server naming an older task): the vendor just said it exists,
        // so it is a candidate, and the answer can never be `None`.
        let mut named_outside: Option<TaskSummary> = None;
        if let Some(id) = &q.task_id {
            // A task the vendor does not know (not readable yet, or a server that named one
            // that never existed) is no answer: the search goes on, never `None` from it.
            match self.summary_of(id, q.kind).await {
                Ok(task) => {
                    let of_kind = task.may_be_of_kind(q.kind);
                    if of_kind && task.created_at.is_none() {
                        named_undated = Some(task);
                    } else if of_kind && task.may_be_created_between(from, to) {
                        return Ok(Reconciled::Found {
                            task,
                            evidence: Evidence::AnswerNamedTask,
                        });
                    } else if of_kind {
                        tracing::warn!(task = %task.id, "the task the answer named is dated outside the window; a candidate, searching on");
                        named_outside = Some(task);
                    } else {
                        tracing::warn!(task = %task.id, "the task the answer named is of another kind; searching instead");
                    }
                }
                // A 404 by its HTTP status or by its code says "not found" whatever kind the
                // pair made (a code VMEG does not document is `Vendor`; a code 404 behind a
                // gateway's 500 is `Server`, retried): the search goes on. Not a 404 whose body
                // carries the success code (a gateway rewriting statuses): the vendor said the
                // task exists, so it is a lookup that failed, never "most likely never
                // stored" (review 35 pass 2b #1).
                Err(e)
                    if !e.claims_success()
                        && (*e.kind() == ErrorKind::NotFound
                            || e.http_status() == Some(404)
                            || e.code_status() == Some(404)) =>
                {
                    tracing::warn!(task = %crate::scrub::Scrubbed(id, &self.t().scrubber), "the task the answer named is not found; searching instead");
                    named_missing = Some(e);
                }
                // A lookup that fails (the outage that lost the answer, a 401 while a key is
                // rotated, a timeout) must not hide the hub's signed proof, local and at hand
                // (review 34-a #3); without it, the error is the answer: the task may exist.
                Err(e) => {
                    #[cfg(feature = "webhook")]
                    if let HubAnswer::Found(found) = self.hub_answer(q, from).await {
                        tracing::warn!(
                            error = e.kind().as_str(),
                            "the task the answer named could not be looked up; found by the submit's webhook"
                        );
                        return Ok(found);
                    }
                    return Err(e);
                }
            }
        }
        // Read before the task list (review 30-a #6): the hub is local, a delivery naming the
        // task needs no walk, and a list that fails must not hide it.
        // The webhook delivery for the key, when a hub saw it. A store that cannot be
        // searched takes that evidence away, and the search goes on by the task list; but
        // the webhook is what finds a task the list does not show (a list lagging behind, a
        // creation time outside the window), so the search is then incomplete: never
        // `None`, and its candidates say so.
        #[cfg(feature = "webhook")]
        let mut hub_unsearched: Option<Error> = None;
        #[cfg(not(feature = "webhook"))]
        let hub_unsearched: Option<Error> = None;
        // A delivery for the key that names no usable task still proves the submit made
        // one: it only cannot say which.
        #[cfg(feature = "webhook")]
        let mut delivered_unnamed = false;
        #[cfg(not(feature = "webhook"))]
        let delivered_unnamed = false;
        #[cfg(feature = "webhook")]
        match self.hub_answer(q, from).await {
            HubAnswer::Found(found) => return Ok(found),
            HubAnswer::Unnamed => delivered_unnamed = true,
            HubAnswer::Unsearched(e) => hub_unsearched = Some(e),
            HubAnswer::Nothing => {}
        }
        // FUTURE_SKEW either side of the window: the vendor's clock may be that far ahead of
        // this one or behind it, and a task it dates there may be the submit's.
        let skewed_from = from.checked_sub(FUTURE_SKEW).unwrap_or(from);
        let skewed_to = to.checked_add(FUTURE_SKEW).unwrap_or(to);
        let named_undated_id = named_undated.as_ref().map(|n| n.id.clone());
        let (walk, first) = self
            .walk_settled(
                q.kind,
                true,
                (skewed_from, skewed_to),
                named_undated_id.as_ref(),
            )
            .await;
        let (first_listed, first_unread, first_named) = match first {
            Some(w) => (
                w.listed.unwrap_or_default(),
                w.unread.count(),
                w.named_listed,
            ),
            None => (Vec::new(), 0, None),
        };
        let Walk {
            listed: walked,
            unread,
            named_listed,
        } = walk;
        let named_listed = named_listed.or(first_named);
        let listed: Vec<TaskSummary> = match walked {
            Ok(listed) => with_missed(listed, first_listed),
            Err(e) if matches!(e.kind(), ErrorKind::Unsupported { .. }) => {
                if let Some(task) = named_undated.or(named_outside) {
                    // No list to date it by, or dated outside the window: the vendor knows
                    // the task, so not `None` (nor `Unsupported` asking for the id the
                    // caller gave); but nothing places it in the window, so not `Found`.
                    return Ok(Reconciled::Candidates {
                        tasks: vec![task],
                        from,
                        to,
                        incomplete: true,
                    });
                }
                if let (Some(missing), Some(id)) = (named_missing, &q.task_id) {
                    return Err(missing.with_note(named_missing_note(id, skewed_to, false)));
                }
                return Err(e.with_operation("reconcile").with_note(NO_TASK_LIST));
            }
            Err(e) => return Err(e),
        };
        let mut listed = listed;
        if let Some(task) = named_undated {
            match named_listed.filter(|l| l.created_at.is_some()) {
                Some(l) if l.may_be_created_between(from, to) => {
                    let mut task = task;
                    task.created_at = l.created_at;
                    task.created_at_offset_unknown = l.created_at_offset_unknown;
                    return Ok(Reconciled::Found {
                        task,
                        evidence: Evidence::AnswerNamedTask,
                    });
                }
                Some(l) => {
                    tracing::warn!(task = %task.id, "the task the answer named is listed outside the window; a candidate, searching on");
                    let mut task = task;
                    task.created_at = l.created_at;
                    task.created_at_offset_unknown = l.created_at_offset_unknown;
                    named_outside = Some(task);
                }
                None => named_outside = Some(task),
            }
        }
        if let Some(task) = named_outside
            && !listed.iter().any(|s| s.id.as_str() == task.id.as_str())
        {
            listed.push(task);
        }
        // The list ended on a page without records or a total: empty, it proves nothing.
        let unlisted = unread.unlisted();
        // Its pages disagreed (a total that changed, a record on two pages): a task may have
        // shifted onto a page already read (review 27 #1).
        let inconsistent = unread.inconsistent();
        // (A record the first read could not read may be one the second did not meet.)
        let unread = unread.count().max(first_unread);
        // The walk may have taken minutes: a delivery that reached the hub meanwhile is the
        // best evidence there is, so the hub is read again before any answer from the list:
        // `None`, no candidate (review 30 pass 2 #3), or another job's task as the sole
        // candidate a long-text rerun takes after a 409 (review 30 pass 3 (b) #3).
        #[cfg(feature = "webhook")]
        if !delivered_unnamed && hub_unsearched.is_none() {
            match self.hub_answer(q, from).await {
                HubAnswer::Found(found) => return Ok(found),
                HubAnswer::Unnamed => delivered_unnamed = true,
                HubAnswer::Unsearched(e) => hub_unsearched = Some(e),
                HubAnswer::Nothing => {}
            }
        }
        // Run before the span and its skew ended, the search may not list the submit's task
        // yet: another job's task listed alone is no answer (review 30-a #3). Not after a
        // resend's 409: that search always reaches past the resend, and the CLI's long text
        // takes a sole candidate there, a documented trade-off.
        let early = q.key_used_settles.is_none() && started < skewed_to;
        // What the search could not see: any candidate list is then incomplete.
        let incomplete = unread > 0
            || unlisted
            || inconsistent
            || named_missing.is_some()
            || hub_unsearched.is_some()
            || delivered_unnamed
            || early;
        if listed.is_empty() {
            // What the search could not see comes first: a named task the vendor does not
            // find settles nothing while another task may hide there.
            if delivered_unnamed {
                return Err(self.delivered_unnamed());
            }
            if let Some(e) = hub_unsearched {
                return Err(hub_unsearched_error(e));
            }
            if unread > 0 {
                return Err(Error::new(ErrorKind::InvalidResponse)
                    .with_provider(self.provider())
                    .with_operation("reconcile")
                    .with_message(format!(
                        "the task list held {unread} records that could not be read (no usable id, or not a record): any of them may be the submit's task, so whether it created one is not known; do not submit it again yet"
                    )));
            }
            if unlisted {
                return Err(Error::new(ErrorKind::InvalidResponse)
                    .with_provider(self.provider())
                    .with_operation("reconcile")
                    .with_message(
                        "the task list answered with no records and no total (data null or empty), which says nothing of the submit's task: whether it created one is not known; do not submit it again yet",
                    ));
            }
            // A list whose pages disagreed may have skipped the task: no answer yet, but a
            // search now may read a list that holds still.
            if inconsistent {
                return Ok(Reconciled::Candidates {
                    tasks: Vec::new(),
                    from,
                    to,
                    incomplete: true,
                });
            }
            if let (Some(missing), Some(id)) = (named_missing, &q.task_id) {
                return Err(missing.with_note(named_missing_note(id, skewed_to, true)));
            }
            // Before the window and its skew end, a task may still be created or dated in it
            // (a request cut short here may still be processed by the vendor, up to 180 s on
            // a synchronous create): nothing seen yet is no answer, as its text says. After a
            // resend's 409, until the attempts that may have used the key have settled.
            if started < q.key_used_settles.unwrap_or(skewed_to) {
                return Ok(Reconciled::Candidates {
                    tasks: Vec::new(),
                    from,
                    to,
                    incomplete: true,
                });
            }
            // Nothing of the kind was listed: before the answer that invites a new submit, the
            // list once more without VMEG's type filter (review 34-a #2).
            if let Some(answer) = self
                .unfiltered_look(q.kind, (skewed_from, skewed_to), from, to)
                .await?
            {
                return Ok(answer);
            }
            // That read, of every product's tasks, may have taken minutes more: a delivery
            // that reached the hub meanwhile must not be answered `None`, the answer that
            // invites a new paid submit (review 34 pass 2 #4).
            #[cfg(feature = "webhook")]
            match self.hub_answer(q, from).await {
                HubAnswer::Found(found) => return Ok(found),
                HubAnswer::Unnamed => return Err(self.delivered_unnamed()),
                HubAnswer::Unsearched(e) => return Err(hub_unsearched_error(e)),
                HubAnswer::Nothing => {}
            }
            return Ok(Reconciled::None {
                kind: q.kind,
                from,
                to,
            });
        }
        // A clone's voice carries its task id and the name the submit asked for. A name is
        // not unique: the tie is evidence only for the one task with it, dated exactly (with
        // its UTC offset) in the window, beside no other task the submit's could be that has
        // not finished with a result (the submit's own may be still running, with no voice
        // yet, or failed, while an older clone of the same name finished), in a search that
        // read every record and met no other task named by an answer. Otherwise every
        // listed task is a candidate. (A search of a list that was not read whole cannot tie:
        // it is not made, so it spends none of a call's time on a search that ends in
        // candidates anyway, nor fails the call when that time runs out.)
        // (A hub that could not be searched takes no task from the list's view: the tie
        // stands, as it does when the hub holds no delivery.)
        let list_whole = unread == 0 && !unlisted && !inconsistent && named_missing.is_none();
        if q.kind != Some(JobKind::Speech)
            && list_whole
            && let Some(name) = &q.voice_name
        {
            // Only extra evidence: a voice search that fails (a 400 for the name, a voice list
            // past its bounds) ties nothing, and the candidates read stand (review 30-a #6).
            let (made, voices_whole) = match self.tasks_with_voice_named(name).await {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(error = %e, "the cloned-voice list could not be searched for the asked-for name; no voice-name tie, reporting candidates");
                    (HashSet::new(), false)
                }
            };
            // By text in a set, as the merge above (review 30-a #1): a `JobId`'s equality
            // also weighs its kind, which the voice list does not state.
            let made: HashSet<&str> = made.iter().map(JobId::as_str).collect();
            let tied: Vec<&TaskSummary> = listed
                .iter()
                .filter(|s| made.contains(s.id.as_str()))
                .collect();
            if let [one] = tied.as_slice() {
                let exact = one.created_at.is_some_and(|at| at >= from && at <= to)
                    && !one.created_at_offset_unknown;
                let others_resolved = listed.iter().all(|s| {
                    s.id.as_str() == one.id.as_str()
                        || !s.may_be_of_kind(Some(JobKind::Clone))
                        || s.status == crate::model::TaskStatus::Succeeded
                });
                let named_elsewhere = q
                    .task_id
                    .as_ref()
                    .is_some_and(|id| id.as_str() != one.id.as_str());
                // Before the span settled, the submit's own task may not be listed yet: a
                // tied clone task listed alone may be another job's of the same name (a
                // teammate's "narrator" of a minute before), so it stays a candidate of an
                // incomplete search (review 30 pass 2 #3).
                let early_alone = early
                    && !listed.iter().any(|s| {
                        s.id.as_str() != one.id.as_str() && s.may_be_of_kind(Some(JobKind::Clone))
                    });
                if exact && others_resolved && !named_elsewhere && voices_whole && !early_alone {
                    return Ok(Reconciled::Found {
                        task: (*one).clone(),
                        evidence: Evidence::VoiceName(name.clone()),
                    });
                }
                tracing::warn!(task = %one.id, "a task made a voice of the asked-for name, but its time is not known to be in the window or another task may be the submit's; reporting candidates");
            }
        }
        Ok(Reconciled::Candidates {
            tasks: listed,
            from,
            to,
            incomplete,
        })
    }

    /// The error of a search that found no task while a delivery for the submit's key says
    /// that its task ran, naming none.
    fn delivered_unnamed(&self) -> Error {
        Error::new(ErrorKind::InvalidResponse)
            .with_provider(self.provider())
            .with_operation("reconcile")
            .with_message(
                "a webhook delivery for the submit's idempotency key says its task ran, but names no task id, and no listed task fits: the submit made a task; do not submit it again, look for it in the task list later",
            )
    }

    /// The completion hub's word on the submit of `q`: the delivery for its key (under the API
    /// key's text filter, as `Client::job_for_idempotency_key` reads it: a delivery may echo
    /// the key, review 30-a #8), of its kind and sent since `from` by VMEG's clock, which may
    /// run as far behind this one as the hub's verifier accepts (at most [`FUTURE_SKEW`]).
    /// Local and cheap, so
    /// [`Client::reconcile`] reads it before the task list, again after the filtered walk
    /// before any answer from it, and once more after the read without the type filter
    /// before `None` (each walk may take minutes, and a delivery may land during it).
    #[cfg(feature = "webhook")]
    async fn hub_answer(&self, q: &ReconcileQuery, from: SystemTime) -> HubAnswer {
        let (Some(hub), Some(key)) = (&self.inner.hub, &q.idempotency_key) else {
            return HubAnswer::Nothing;
        };
        let event = match hub
            .job_for_idempotency_key_decoded_with(key, Some(&self.t().text_filter))
            .await
        {
            // `sent_at` is on VMEG's clock, which the hub's verifier lets run its `max_age`
            // behind this one: a delivery dated that far before the window may still be the
            // submit's, as a listed task is (review 35-b #1). No further than the task
            // list's own skew: a tolerance of hours would take the delivery of an earlier
            // use of a key reused after VMEG's 24 h for this submit's (pass 2 #4).
            Ok(event) => {
                let skew = hub.verifier().max_age().min(FUTURE_SKEW);
                let from = from.checked_sub(skew).unwrap_or(from);
                event.filter(|e| answers_for(e, q.kind, from))
            }
            Err(e) => {
                tracing::warn!(error = %e, "the completion hub's store cannot be searched for the submit's webhook; reconciling by the task list alone");
                return HubAnswer::Unsearched(e);
            }
        };
        let Some(event) = event else {
            return HubAnswer::Nothing;
        };
        // An id holding the API key, or what the filter left of one, is never sent in a URL
        // nor taken as the task: the delivery proves a task, but not which.
        let named = event.task_id().filter(|id| {
            !id.as_str().contains(crate::scrub::REDACTED)
                && self.refuse_api_key_in("task_id", id.as_str()).is_ok()
        });
        let Some(id) = named else {
            tracing::warn!(pipeline_key = ?event.pipeline_key, "the submit's webhook names no task id; reconciling by the task list, and the submit made a task");
            return HubAnswer::Unnamed;
        };
        // The signed delivery ties the task to the submit whatever its lookup meets (deleted
        // since, a 5xx): its id must not be lost with the lookup's error (review 30-a #5).
        let task = match self.summary_of(&id, q.kind).await {
            Ok(task) => task,
            Err(e) => {
                tracing::warn!(task = %id, error = e.kind().as_str(), "the task the submit's webhook names could not be looked up; found as the delivery tells it");
                event_summary(&event, &id, q.kind, self.provider())
            }
        };
        HubAnswer::Found(Reconciled::Found {
            task,
            evidence: Evidence::Webhook,
        })
    }

    /// The task list read without VMEG's `taskType` filter, for a search whose filtered read
    /// listed nothing of `kind` in the skewed window `skewed`: what it adds to that search,
    /// or `None` when it lists nothing of the kind either, every record that may be of the
    /// kind read (the answer stays `Reconciled::None`). VMEG documents only `cloneVoice` and
    /// `tts`, but may store a clone under another spelling (`CloneVoice`, api-facts A17), and
    /// a server applying the filter literally lists nothing for it: "none" from that alone
    /// would invite a second paid submit. Read only then (rare), never for every search: an
    /// account's other products may hold many more pages. A read that fails, or holds records
    /// it could not read that may be of the kind, answers nothing either way: an error, or an
    /// incomplete search. Its pages disagreeing, it is read once more, as the filtered list is
    /// (`Client::walk_settled`): every product's tasks make a busier list, and one read alone
    /// would then never let a search end in `None` (review 34 pass 2 #7).
    async fn unfiltered_look(
        &self,
        kind: Option<JobKind>,
        skewed: (SystemTime, SystemTime),
        from: SystemTime,
        to: SystemTime,
    ) -> Result<Option<Reconciled>, Error> {
        // Without a kind nothing was filtered: the read just made was the whole list.
        if kind.is_none() {
            return Ok(None);
        }
        let (walk, first) = self.walk_settled(kind, false, skewed, None).await;
        let tasks = walk.listed.map_err(|e| {
            e.with_operation("reconcile").with_note(
                "nothing of the kind was listed under VMEG's type filter, and the list read without it (VMEG may type the submit's task otherwise) failed: whether the submit created a task is not known; do not submit it again yet",
            )
        })?;
        // A record VMEG types as another product, or as the other kind, is not the
        // submit's task even unread: on an account busy with other products, counting those
        // would forbid `None` for good (review 34 pass 2 #7).
        let (first_tasks, first_unread) = first.map_or((Vec::new(), 0), |w| {
            (
                w.listed.unwrap_or_default(),
                w.unread.count_that_may_be_of(kind),
            )
        });
        let tasks = with_missed(tasks, first_tasks);
        let unread = walk.unread.count_that_may_be_of(kind).max(first_unread);
        let unlisted = walk.unread.unlisted();
        let inconsistent = walk.unread.inconsistent();
        if !tasks.is_empty() {
            tracing::warn!(
                count = tasks.len(),
                "the task list read without its type filter holds tasks that may be of the kind, which the filtered read did not list; reporting candidates"
            );
            return Ok(Some(Reconciled::Candidates {
                tasks,
                from,
                to,
                incomplete: unread > 0 || unlisted || inconsistent,
            }));
        }
        if unread > 0 || unlisted {
            return Err(Error::new(ErrorKind::InvalidResponse)
                .with_provider(self.provider())
                .with_operation("reconcile")
                .with_message(
                    "the task list read without its type filter (VMEG may type the submit's task otherwise) held records that could not be read, or no list at all: whether the submit created a task is not known; do not submit it again yet",
                ));
        }
        if inconsistent {
            return Ok(Some(Reconciled::Candidates {
                tasks: Vec::new(),
                from,
                to,
                incomplete: true,
            }));
        }
        Ok(None)
    }

    /// [`Client::walk_window`], read once more at once when its pages disagreed: the read that
    /// stands and, when a second read stood in for the first, the first. Pages that disagreed
    /// may have skipped the submit's task, and a list that grows while it is read (a busy
    /// account, a long text's own parts) disagrees for that alone: one more read may find it
    /// holding still. Only a read that agreed with itself stands in for the first, and only
    /// for its completeness: what the first read saw stays with the caller (a task deleted
    /// between the reads, or a second read from a replica behind the first, must not turn a
    /// candidate into `None`). Two reads stay the bound (listings are not billed, but a list
    /// that never holds still must not hold the search).
    async fn walk_settled(
        &self,
        kind: Option<JobKind>,
        filtered: bool,
        window: (SystemTime, SystemTime),
        named: Option<&JobId>,
    ) -> (Walk, Option<Walk>) {
        let walk = self.walk_window(kind, filtered, window, named).await;
        if walk.listed.is_err() || !walk.unread.inconsistent() {
            return (walk, None);
        }
        tracing::info!(
            filtered,
            "the task list's pages disagreed; reading it once more"
        );
        let again = self.walk_window(kind, filtered, window, named).await;
        if again.listed.is_ok() && !again.unread.inconsistent() {
            (again, Some(walk))
        } else {
            (walk, None)
        }
    }

    /// One read of the task list for [`Client::reconcile`]: its tasks of `kind` that may have
    /// been created between `from` and `to`, each once; what could not be read; and the
    /// listing's record of the undated named task `named`, wherever it is dated. `filtered`:
    /// the kind is sent as VMEG's `taskType` filter; otherwise every task is listed and those
    /// that may be of `kind` are kept here (VMEG's clone task vocabulary is UNKNOWN, and a
    /// server that applies the filter literally may leave the submit's task out).
    async fn walk_window(
        &self,
        kind: Option<JobKind>,
        filtered: bool,
        (from, to): (SystemTime, SystemTime),
        named: Option<&JobId>,
    ) -> Walk {
        let mut filter = TaskFilter::all();
        if filtered {
            filter.kind = kind;
        }
        let mut seen = HashSet::new();
        let mut named_listed: Option<TaskSummary> = None;
        // Records the list sent that could not be read (no usable id, not an object): any of
        // them may be the submit's task, so they forbid answering `None`.
        let unread = crate::model::UnreadRecords::new();
        // Times no task can have (before 2020, after the page was read), counted and logged
        // once per reason: a list of 500,000 of them must not become 500,000 log lines.
        let mut undated: [(usize, Option<JobId>); 2] = [(0, None), (0, None)];
        let listed = self
            .tasks_counting_unread(filter, &unread)
            .map_ok(|s| {
                // Each record judged by the time it was read, not the search's start: a task
                // made during a walk of minutes is dated after the start, and rightly so.
                let (s, dropped) = s.impossible_creation_time_dropped(SystemTime::now());
                if let Some(why) = dropped {
                    let slot = match why {
                        NoCreationTime::BeforeApis => &mut undated[0],
                        NoCreationTime::AfterTheAnswer => &mut undated[1],
                    };
                    slot.0 = slot.0.saturating_add(1);
                    if slot.1.is_none() {
                        slot.1 = Some(s.id.clone());
                    }
                }
                s
            })
            .try_filter(|s| {
                if named.is_some_and(|n| n.as_str() == s.id.as_str()) {
                    named_listed = Some(s.clone());
                }
                // (Filtered, the listing kept the kind already, as `tasks` does.)
                let fits =
                    s.may_be_created_between(from, to) && (filtered || s.may_be_of_kind(kind));
                std::future::ready(fits && seen.insert(s.id.clone()))
            })
            .try_collect::<Vec<TaskSummary>>()
            .await;
        for (why, (count, first)) in [NoCreationTime::BeforeApis, NoCreationTime::AfterTheAnswer]
            .into_iter()
            .zip(&undated)
        {
            if let Some(first) = first {
                tracing::warn!(count, first = %first, "{count} listed task(s) have a creation time {}; read as no time", why.as_str());
            }
        }
        Walk {
            listed,
            unread,
            named_listed,
        }
    }

    /// The tasks that made a cloned voice named exactly `name` (the list's `taskId`), and
    /// whether the search read every record: none unreadable (a voice without a usable id may
    /// be the submit's), no voice of the name without a task, no page without a list, no
    /// pages that disagreed (review 27 #3). Only a whole search's tie is evidence.
    async fn tasks_with_voice_named(&self, name: &str) -> Result<(HashSet<JobId>, bool), Error> {
        let unread = crate::model::UnreadRecords::new();
        let voices = walk_unbounded_text(
            "cloned-voice list",
            |page| self.b().voices_page(self.t(), false, Some(name), page),
            Some(unread.clone()),
        );
        let mut untied = 0usize;
        let made: HashSet<JobId> = voices
            .try_filter_map(|(v, task)| {
                let named = v.name.as_deref() == Some(name);
                if named && task.is_none() {
                    untied = untied.saturating_add(1);
                }
                std::future::ready(Ok(task.filter(|_| named)))
            })
            .try_collect()
            .await?;
        let whole = unread.is_complete() && untied == 0;
        if !whole {
            tracing::warn!(
                unreadable = unread.count(),
                unlisted = unread.unlisted(),
                inconsistent = unread.inconsistent(),
                without_task = untied,
                "the search of the cloned-voice list for the asked-for name did not read every record; a voice name is no evidence"
            );
        }
        Ok((made, whole))
    }

    /// A task by id as a summary: `tasks/detail` where the vendor has it, else the status
    /// call of the known kind; a creation time before 2020 is read as none, as the list's is.
    async fn summary_of(&self, id: &JobId, kind: Option<JobKind>) -> Result<TaskSummary, Error> {
        let detail = match self.b().task(self.t(), id).await {
            Ok(d) => d,
            Err(e) if matches!(e.kind(), ErrorKind::Unsupported { .. }) => match kind {
                Some(JobKind::Clone) => {
                    TaskDetail::Clone(self.b().clone_status(self.t(), id).await?)
                }
                Some(JobKind::Speech) => {
                    TaskDetail::Speech(self.b().speech_status(self.t(), id).await?)
                }
                _ => return Err(e.with_note("the task's kind is needed to look it up here")),
            },
            Err(e) => return Err(e),
        };
        let summary = match detail {
            TaskDetail::Clone(j) => job_summary(&j),
            TaskDetail::Speech(j) => job_summary(&j),
            TaskDetail::Other(s) => s,
            #[allow(unreachable_patterns)]
            _ => {
                return Err(Error::new(ErrorKind::InvalidResponse)
                    .with_message("a task of a shape this version does not know"));
            }
        };
        Ok(summary.with_impossible_creation_time_dropped(SystemTime::now()))
    }

    /// Resends a clone whose submit ended in `OutcomeUnknown` (`err`), with the same
    /// idempotency key: the caller says this is the same logical call, not new work. VMEG
    /// answers a used key with the same 409 whether or not the payload matches, so only the
    /// caller can say so. [`Resubmitted::Accepted`] when the first submit had created
    /// nothing; [`Resubmitted::AlreadyAccepted`] (key, submit time, [`Client::reconcile`]'s
    /// result) when VMEG says the key was used: a task exists unless the first attempt was
    /// refused and still used the key up, which VMEG does not document, so never
    /// [`Reconciled::None`]; once the span settled with nothing listed,
    /// [`Reconciled::KeyUsedNothingListed`] (check the console). `req` is the request first
    /// sent (its own key, if set, must be the error's; it must go to the route the first
    /// submit went to, so `synchronous` as
    /// then: VMEG's keys are per path, and a resend elsewhere would bill a second task). A
    /// request whose body is not the error's (the fields the error's [`crate::RequestSummary`]
    /// quotes: texts by length and hash, ids, URLs, names; and past them, the whole body's
    /// digest it keeps) is refused
    /// (`InvalidInput` naming `req`, nothing sent): under the first submit's key it would be
    /// billed as new work. A long text's error is one part's: resend that part's request. A
    /// provider without idempotency keys (JimmyAI) is `Unsupported`: a resend could create
    /// and bill a second task. One resend per key at a time in a client and its clones (this,
    /// `resubmit_speech`, `resend_speech`): another while one is in flight is refused
    /// (`InvalidInput` naming `idempotency_key`, nothing sent). A resend whose outcome is
    /// unknown again ends in an `OutcomeUnknown` dated from the first submit (its
    /// `submitted_at`; its [`Error::last_attempt_at`] is the resend's): resent in turn, it is
    /// refused 23 h after the first submit, and [`ReconcileQuery::from_error`] spans both.
    /// An error naming its task (`task_id`: VMEG's 502 with `data.taskId`) is never resent
    /// (`InvalidInput` naming `error`, nothing sent): whether that attempt used up the key is
    /// UNKNOWN (api-facts A4), so a resend may bill a second task; check that task with
    /// [`Client::reconcile`] or [`Client::task`].
    ///
    /// Use a client with the API key and base URL the submit was sent with: VMEG's keys are
    /// per API key, so under another the key is new and the resend would bill a second task.
    /// An error this crate made remembers them, and a resend through another client is
    /// `InvalidInput` naming `error`, nothing sent (an error built by hand is not checked).
    ///
    /// A synchronous create (`synchronous(true)`) is not resent within 180 s (its route's
    /// time) of [`Error::last_attempt_at`]: an attempt cut short here or by a gateway may still
    /// be running at VMEG, and how it treats a key still in flight is UNKNOWN (api-facts A4).
    /// Nor within 180 s of a synchronous resend under the same key in this client (and its
    /// clones) that was cut short after it went out (its future dropped, or ended in
    /// `OutcomeUnknown`), counted from its drop or end: that request may still be running
    /// too, and the error being resent may be the original one, dated before it. Then `err`
    /// itself comes back (its key and times), nothing sent, with a note saying when to resend
    /// and [`Error::retry_after`] the time left; this client's timeout does not change the
    /// 180 s. An async create is held the same way for [`crate::KEYED_CREATE_REPEAT_PAUSE`]
    /// (2 s), the pause the retry loop waits before a repeat under a key that may be in
    /// flight: from [`Error::last_attempt_at`], and from an async resend under the key in this
    /// client cut short after it went out. These waits are checked after the refusals that
    /// name something to fix in the request. Under
    /// [`Client::with_timeout`] the resend and the search after its 409 share the call's one
    /// deadline; without it, that search has no overall bound (see [`Client::reconcile`]).
    ///
    /// ```
    /// use voiceclone::{CloneRequest, ErrorKind, Resubmitted};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_speed(1000.0)).await?;
    /// # let client = voiceclone::Client::builder(voiceclone::Provider::Vmeg).api_key(sim.api_key()).base_url(sim.base_url()).retry(voiceclone::RetryPolicy::none()).build()?;
    /// # let wait = voiceclone::WaitPolicy::for_provider(voiceclone::Provider::Vmeg).with_first_interval(std::time::Duration::from_millis(5));
    /// # sim.fail_next("vmeg.cloneVoiceCreateAsync", voiceclone_sim::FaultKind::DropBefore, 1)?;
    /// let req = CloneRequest::new("https://cdn.example.com/sample.wav").name("narrator");
    /// // The connection broke: did the clone land? (here it did not)
    /// let err = client.clone_voice(&req).await.unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::OutcomeUnknown { .. }), "{err}");
    /// // Right after its last attempt VMEG may still be working on it: the resend is refused
    /// // for the pause before a repeat under its key (`err` again, `retry_after` the time left).
    /// let resent = match client.resubmit_clone(&err, &req).await {
    ///     Err(e) if matches!(e.kind(), ErrorKind::OutcomeUnknown { .. })
    ///         && e.retry_after().is_some() =>
    ///     {
    ///         tokio::time::sleep(e.retry_after().unwrap_or_default()).await;
    ///         client.resubmit_clone(&err, &req).await?
    ///     }
    ///     other => other?,
    /// };
    /// match resent {
    ///     Resubmitted::Accepted(job) => assert!(!job.status.is_terminal()), // first created nothing
    ///     other => panic!("expected accepted, got {other:?}"),
    /// }
    /// assert_eq!(sim.task_count(), 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Looking first, then resending:
    ///
    /// ```no_run
    /// use voiceclone::{Client, CloneRequest, ErrorKind, ReconcileQuery, Reconciled, Resubmitted};
    ///
    /// async fn clone_once(client: &Client, req: &CloneRequest) -> Result<(), voiceclone::Error> {
    ///     let err = match client.clone_voice(req).await {
    ///         Ok(job) => {
    ///             println!("submitted {}", job.id);
    ///             return Ok(());
    ///         }
    ///         Err(e) if matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }) => e,
    ///         Err(e) => return Err(e),
    ///     };
    ///     // Look first: found / candidates / none, each stated plainly. A look that fails leaves
    ///     // the submit unknown: keep `err` (its key and times), not the look's own error.
    ///     let looked = match client.reconcile(&ReconcileQuery::from_error(&err)?).await {
    ///         Ok(looked) => looked,
    ///         Err(e) => {
    ///             eprintln!("the look-up failed: {e}");
    ///             return Err(err);
    ///         }
    ///     };
    ///     match looked {
    ///         Reconciled::Found { task, evidence } => println!("it is {} ({evidence})", task.id),
    ///         other => {
    ///             println!("{other}");
    ///             // Or resend as the same logical call: VMEG's 409 then says the key was used.
    ///             // Not within 180 s of its last attempt for a synchronous create, 2 s for an
    ///             // async one (it may still be in flight): `err` itself comes back,
    ///             // `retry_after` the time left.
    ///             let resent = match client.resubmit_clone(&err, req).await {
    ///                 Err(e) if matches!(e.kind(), ErrorKind::OutcomeUnknown { .. })
    ///                     && e.retry_after().is_some() =>
    ///                 {
    ///                     tokio::time::sleep(e.retry_after().unwrap_or_default()).await;
    ///                     client.resubmit_clone(&e, req).await
    ///                 }
    ///                 other => other,
    ///             };
    ///             match resent {
    ///                 Ok(Resubmitted::Accepted(job)) => println!("submitted {}", job.id),
    ///                 Ok(Resubmitted::AlreadyAccepted(a)) => println!("{a}"),
    ///                 Ok(_) => {}
    ///                 // A resend that ended unknown itself: keep its error. It is dated from
    ///                 // the first submit and carries the resend's own later attempt, which a
    ///                 // synchronous create's next resend must wait 180 s after.
    ///                 Err(e) if matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }) => {
    ///                     return Err(e);
    ///                 }
    ///                 // Refused or failed with an answer: the first submit is still unknown,
    ///                 // keep `err` (its key and times).
    ///                 Err(e) => {
    ///                     eprintln!("the resend failed: {e}");
    ///                     return Err(err);
    ///                 }
    ///             }
    ///         }
    ///     }
    ///     Ok(())
    /// }
    /// # fn main() {}
    /// ```
    pub async fn resubmit_clone(
        &self,
        err: &Error,
        req: &CloneRequest,
    ) -> Result<Resubmitted<CloneJob>, Error> {
        let resent = async {
            let (key, mut query) =
                self.resubmission(err, req.idempotency_key.as_deref(), JobKind::Clone)?;
            // The path the resend would take: the plan's last request is the create.
            let planned = crate::provider::offline(self.provider()).plan_clone;
            // Planned under the key it goes out with (a nameless clone's name comes from it).
            let plan = planned(&req.clone().idempotency_key(key.clone()), true)
                .map_err(|e| self.resubmit_error(e))?;
            self.same_route(err, plan.last().map(|p| p.path.as_str()))?;
            if let Some(create) = plan.last() {
                self.same_body(err, create)?;
            }
            Self::not_too_soon(err, &query, req.synchronous)?;
            let mut one_at_a_time = self
                .inner
                .resends
                .take(&key, req.synchronous == Some(true), query.submitted_at)
                .map_err(|busy| self.busy_refusal(busy, err))?;
            // The request holds the whole name; the error's summary may hold only its start.
            // A name the search would refuse (past its bound) is left out, not refused: the
            // resend has gone out by the time the search runs.
            if let Some(name) = req
                .name
                .as_deref()
                .filter(|n| crate::model::usable_voice_name(n).is_ok())
            {
                query.voice_name = Some(name.to_owned());
            }
            let req = req.clone().idempotency_key(key.clone());
            let sent = one_at_a_time.send(self.clone_voice(&req)).await;
            self.after_resend(sent, key, query).await
        };
        // Whatever fails here (a refusal of the resend, a 402 or 401 on it, the search
        // after its 409), the first submit's outcome is still unknown: never resubmittable.
        // The local plan's refusals quote the request's values (a key pasted as the
        // language): through the key's scrubber, as every call's errors are. One call
        // under this handle's options: the resend and the search after its 409 share one
        // deadline, not one each.
        traced!(self, "resubmit_clone", async {
            resent.await.map_err(|e| e.task_may_exist())
        })
    }

    /// [`Client::resubmit_clone`] for speech.
    ///
    /// ```
    /// use voiceclone::{ErrorKind, Resubmitted, SpeechRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let sim = voiceclone_sim::Simulator::start_with(voiceclone_sim::SimConfig::default().with_speed(1000.0)).await?;
    /// # let client = voiceclone::Client::builder(voiceclone::Provider::Vmeg).api_key(sim.api_key()).base_url(sim.base_url()).retry(voiceclone::RetryPolicy::none()).build()?;
    /// # let wait = voiceclone::WaitPolicy::for_provider(voiceclone::Provider::Vmeg).with_first_interval(std::time::Duration::from_millis(5));
    /// # sim.fail_next("vmeg.ttsCreateAsync", voiceclone_sim::FaultKind::DropAfter, 1)?;
    /// let req = SpeechRequest::new("sv_en_us_female_01", "Hello there.");
    /// let err = client.synthesize(&req).await.unwrap_err(); // the answer was lost
    /// assert!(matches!(err.kind(), ErrorKind::OutcomeUnknown { .. }), "{err}");
    /// // Not within 2 s of its last attempt (it may still be in flight): wait what is left.
    /// let again = match client.resubmit_speech(&err, &req).await {
    ///     Err(e) if matches!(e.kind(), ErrorKind::OutcomeUnknown { .. })
    ///         && e.retry_after().is_some() =>
    ///     {
    ///         tokio::time::sleep(e.retry_after().unwrap_or_default()).await;
    ///         client.resubmit_speech(&err, &req).await?
    ///     }
    ///     other => other?,
    /// };
    /// // The first submit had landed: the resend creates nothing new.
    /// assert!(matches!(again, Resubmitted::AlreadyAccepted(_)), "{again:?}");
    /// assert_eq!(sim.stats().billable("vmeg.ttsCreateAsync"), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn resubmit_speech(
        &self,
        err: &Error,
        req: &SpeechRequest,
    ) -> Result<Resubmitted<SpeechJob>, Error> {
        let resent = async {
            let (key, query) =
                self.resubmission(err, req.idempotency_key.as_deref(), JobKind::Speech)?;
            let planned = crate::provider::offline(self.provider()).plan_speech;
            // Planned under the key it goes out with, as the error's summary was made.
            let plan = planned(&req.clone().idempotency_key(key.clone()))
                .map_err(|e| self.resubmit_error(e))?;
            self.same_route(err, Some(&plan.path))?;
            self.same_body(err, &plan)?;
            Self::not_too_soon(err, &query, req.synchronous)?;
            let mut one_at_a_time = self
                .inner
                .resends
                .take(&key, req.synchronous == Some(true), query.submitted_at)
                .map_err(|busy| self.busy_refusal(busy, err))?;
            let req = req.clone().idempotency_key(key.clone());
            let sent = one_at_a_time.send(self.synthesize(&req)).await;
            self.after_resend(sent, key, query).await
        };
        // As `resubmit_clone`: the first submit's outcome is still unknown; scrubbed; one
        // deadline for the whole call.
        traced!(self, "resubmit_speech", async {
            resent.await.map_err(|e| e.task_may_exist())
        })
    }

    fn resubmit_error(&self, e: Error) -> Error {
        e.with_provider(self.provider()).with_operation("resubmit")
    }

    /// The refusal of a resend of `err` whose key another resend holds (nothing sent): in
    /// flight now, or cut short while it may still run at VMEG (then `err` itself, as a
    /// resend too early after `err`'s own attempt is refused).
    fn busy_refusal(&self, busy: super::resends::Busy, err: &Error) -> Error {
        busy.refusal(
            |e| self.resubmit_error(e),
            |left| still_running(err.duplicate(), left),
        )
    }

    /// Refuses a resend whose `route` (the path the request would go to) is not the one the
    /// submit in `err` went to. A key is the provider's per path (VMEG: per API key and
    /// request path): sent to another route (the synchronous create instead of the
    /// asynchronous one), the same key is new there, and the resend would bill a second task.
    fn same_route(&self, err: &Error, route: Option<&str>) -> Result<(), Error> {
        match (err.kind(), route) {
            (ErrorKind::OutcomeUnknown { request, .. }, Some(route))
                if !request.route.is_empty() && request.route != route =>
            {
                Err(self.resubmit_error(Error::invalid_input(
                    "synchronous",
                    format!(
                        "the submit being resent went to {}, this request would go to \
                         {route}: set `synchronous` as it was, or the same key would be new \
                         there and bill a second task",
                        request.route
                    ),
                )))
            }
            _ => Ok(()),
        }
    }

    /// Refuses a resend of a body other than the one the submit in `err` sent: the error's
    /// request summary's fields (its first: texts by length and hash, voice ids, URLs, names),
    /// then the digest it keeps of the whole body (a batch's later lines). The resend goes
    /// out under that submit's key, and VMEG takes any body under a key it never processed:
    /// another request (a long text's whole request, another part's) would be accepted and
    /// billed as new work. An error without a summary (built by hand) is not checked.
    fn same_body(&self, err: &Error, create: &PlannedRequest) -> Result<(), Error> {
        let ErrorKind::OutcomeUnknown { request, .. } = err.kind() else {
            return Ok(());
        };
        let planned = self.planned_summary(create);
        let Some(part) = differing_part(request, &planned, self.free_text()) else {
            return Ok(());
        };
        let refusal = Error::invalid_input(
            "req",
            format!(
                "its {part} is not what the submit being resent sent (the error's request \
                 summary): the resend goes out under that submit's key, and VMEG would take \
                 another body under it as new work and bill it; pass the request first sent"
            ),
        );
        #[cfg(feature = "long-text")]
        let refusal = if err.long_text_parts().is_some() {
            refusal.with_note(LONG_TEXT_PART)
        } else {
            refusal
        };
        Err(self.resubmit_error(refusal))
    }

    /// The fields of a request's summary this provider leaves as text or summarizes.
    fn free_text(&self) -> &'static [&'static str] {
        match self.provider() {
            Provider::Vmeg => crate::provider::vmeg::FREE_TEXT,
            _ => crate::provider::jimmyai::FREE_TEXT,
        }
    }

    /// A planned request's summary, made as the transport makes a lost submit's (values
    /// scrubbed alike), for a resend's body to be compared with an error's.
    pub(super) fn planned_summary(&self, plan: &PlannedRequest) -> crate::error::RequestSummary {
        crate::error::RequestSummary {
            method: plan.method.to_owned(),
            route: plan.path.clone(),
            fields: scrubbed_fields(&plan.body, self.free_text(), &self.t().scrubber),
            body: body_digest(&plan.body, self.free_text()),
        }
    }

    /// The key to resend with, and what finds the first submit; refuses anything that is not
    /// the `OutcomeUnknown` of a submit of `kind` with a key.
    fn resubmission(
        &self,
        err: &Error,
        req_key: Option<&str>,
        kind: JobKind,
    ) -> Result<(String, ReconcileQuery), Error> {
        let refuse = |field: &str, reason: String| {
            Err(self.resubmit_error(Error::invalid_input(field, reason)))
        };
        let query = ReconcileQuery::from_error(err).map_err(|e| self.resubmit_error(e))?;
        if let Some(op_kind) = kind_of_operation(err.operation())
            && op_kind != kind
        {
            return refuse(
                "error",
                format!("the error is from a {op_kind} submit, not a {kind} submit"),
            );
        }
        let Some(key) = query.idempotency_key.clone() else {
            return Err(Error::unsupported("resubmit", self.provider()).with_note(
                "this provider has no idempotency key: a resend cannot be recognised as the same call and may create and bill a second task; use reconcile instead",
            ));
        };
        if err.sent_under().is_some_and(|s| *s != self.t().sent_under) {
            return refuse("error", sent_elsewhere(self.provider()).into());
        }
        // A long text's part answered with a task another part's answer named too: a server
        // that answered so once (a caching proxy) may answer a resend the same way, and the
        // key may be used up as for any answer naming a task (below).
        #[cfg(feature = "long-text")]
        if let Some(id) = err.named_another_parts_task() {
            return refuse(
                "error",
                format!(
                    "the answer named task {id}, which another part's answer named too: it is not known to hold this part's text, and a resend may be answered the same way or bill a second task; look this part's own task up with reconcile(&ReconcileQuery::from_error(&err)?)"
                ),
            );
        }
        // The retry loop does not repeat an answer naming its task under the key (whether a
        // failed attempt uses the key up is UNKNOWN, api-facts A4): nor does a resend.
        if let Some(id) = &query.task_id {
            return refuse(
                "error",
                format!(
                    "the answer named task {id}: check it with reconcile or Client::task; a resend may bill a second task"
                ),
            );
        }
        if let Some(refusal) = past_key_lifetime(query.submitted_at, "error") {
            return Err(self.resubmit_error(refusal));
        }
        if req_key.is_some_and(|k| k != key) {
            return refuse(
                "idempotency_key",
                "differs from the key of the submit being resent; leave it unset".into(),
            );
        }
        let query = query.kind(kind);
        // The reconcile after the resend must not be the one to refuse the query (a submit
        // time ahead of the clock): by then the resend went out, and `InvalidInput` says
        // nothing was sent.
        query
            .check(self.provider(), SystemTime::now())
            .map_err(|e| self.resubmit_error(e))?;
        Ok((key, query))
    }

    /// Refuses a resend of `err` (found by `query`) while a request under its key may still be
    /// in flight at VMEG ([`may_still_run`] from its last attempt): `err` itself, noting when
    /// to resend. Checked after the refusals that name something to fix in the request, so
    /// that a caller who waits is not then refused for the request.
    fn not_too_soon(
        err: &Error,
        query: &ReconcileQuery,
        synchronous: Option<bool>,
    ) -> Result<(), Error> {
        let last = query
            .last_attempt_at
            .map_or(query.submitted_at, |l| l.max(query.submitted_at));
        match may_still_run(last, synchronous) {
            Some(left) => Err(still_running(err.duplicate(), left)),
            None => Ok(()),
        }
    }

    pub(super) async fn after_resend<J: Job>(
        &self,
        sent: Result<J, Error>,
        key: String,
        query: ReconcileQuery,
    ) -> Result<Resubmitted<J>, Error> {
        match sent {
            Ok(job) => Ok(Resubmitted::Accepted(job)),
            Err(e) if key_was_used(&e) => {
                // The task may be the first submit's or one the resend's own first attempt
                // made before its retry met the 409: the search spans both, and a task the
                // resend's answers named is taken as named.
                let mut query = query;
                // A resend under the key this client cut short earlier may have used it, its
                // task not listed yet: it is one of the attempts the search waits for
                // (review 30 pass 2 #2). (A resend the caller was told of came in the query.)
                if let Some(cut) = self.inner.resends.cut_short_at(&key) {
                    let last = query.last_attempt_at.map_or(cut, |l| l.max(cut));
                    query.last_attempt_at = Some(last);
                }
                let (_, first_to) = query.bounds();
                query.last_attempt_at = Some(SystemTime::now());
                // When an empty search becomes an answer: the span of the attempts that may
                // have used the key, and its skew. A 409 on the resend's first attempt
                // (`Conflict`) means the resend made nothing, so the span of the first submit
                // and of earlier resends; after its own retry, the resend's too.
                let used_by = if *e.kind() == ErrorKind::Conflict {
                    first_to
                } else {
                    query.bounds().1
                };
                query.key_used_settles = Some(used_by.checked_add(FUTURE_SKEW).unwrap_or(used_by));
                if query.task_id.is_none()
                    && let ErrorKind::OutcomeUnknown { task_id, .. } = e.kind()
                {
                    query.task_id.clone_from(task_id);
                }
                let reconciled = match self.reconcile(&query).await.map_err(|r| {
                    r.with_note(
                        "VMEG says the key was already used (a task exists unless the first attempt was refused, which VMEG does not document), but looking its task up failed",
                    )
                })? {
                    // VMEG says the key was used: a task exists unless the first attempt was
                    // refused and still used the key up (undocumented, api-facts A4), so an
                    // empty search once the attempts settled is never "none" (a new submit
                    // would bill twice), but says it plainly: only the console can tell now.
                    Reconciled::None { kind, from, to } => {
                        Reconciled::KeyUsedNothingListed { kind, from, to }
                    }
                    other => other,
                };
                Ok(Resubmitted::AlreadyAccepted(Box::new(AlreadyAccepted {
                    idempotency_key: key,
                    submitted_at: query.submitted_at,
                    reconciled,
                })))
            }
            Err(e) => Err(dated_from_first_submit(e, &query)),
        }
    }
}

/// The error of a resend, dated from the first submit of its key: an `OutcomeUnknown`
/// carries the earliest submit time the key is known by (`query.submitted_at`, itself the
/// first submit's when the query came from an earlier resend's error) and the resend's last
/// attempt. Dated by the resend instead, a resend of it would pass the key-lifetime guard
/// after VMEG dropped the key (24 h from the first submit) and bill twice, and a search
/// from it would look only around the resend, missing the first submit's task.
fn dated_from_first_submit(e: Error, query: &ReconcileQuery) -> Error {
    let ErrorKind::OutcomeUnknown {
        idempotency_key,
        task_id,
        submitted_at,
        request,
    } = e.kind()
    else {
        return e;
    };
    let first = (*submitted_at).min(query.submitted_at);
    // The resend's last attempt (its own start when the retry loop did not date it), never
    // earlier than the first submit's last attempt.
    let last = [
        e.last_attempt_at(),
        Some(*submitted_at),
        query.last_attempt_at,
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(first);
    let kind = ErrorKind::OutcomeUnknown {
        idempotency_key: idempotency_key.clone(),
        // The task an answer to the first submit named, unless the resend's answers named
        // one: a caller keeping only the latest error keeps the link to the job.
        task_id: task_id.clone().or_else(|| query.task_id.clone()),
        submitted_at: first,
        request: request.clone(),
    };
    e.with_kind(kind).with_last_attempt_at(last)
}

/// `listed` with the tasks of an earlier read of the list that it does not hold.
fn with_missed(mut listed: Vec<TaskSummary>, earlier: Vec<TaskSummary>) -> Vec<TaskSummary> {
    // By a set: a scan of `listed` per task is quadratic, and with no `.await` in it, 500,000
    // tasks a read would hold the thread past any timeout (review 30-a #1). Each read holds
    // each id once already.
    let known: HashSet<&str> = listed.iter().map(|s| s.id.as_str()).collect();
    let missed: Vec<TaskSummary> = earlier
        .into_iter()
        .filter(|t| !known.contains(t.id.as_str()))
        .collect();
    listed.extend(missed);
    listed
}

/// The error of a search that found no task while the hub's store, which may hold the
/// submit's webhook, could not be searched (`e`).
fn hub_unsearched_error(e: Error) -> Error {
    e.with_operation("reconcile").with_note(
        "no listed task fits the submit, and the completion hub's store, which may hold its webhook, could not be searched: whether it created a task is not known; do not submit it again yet",
    )
}

/// The note of a search whose named task `id` the vendor does not find, with nothing else in
/// its place: no listed task (`listed`: the whole list was read, with nothing unreadable, no
/// empty page, no unsearched store), or no list at all (JimmyAI). Until `settled` (the window
/// and its skew ended) the task may not be readable yet: look again. After, the vendor has had
/// every chance to show it, and "look again" would be a dead end (a resend under the key stays
/// refused, since the answer named a task): the note says what is left, and that only the
/// caller can weigh it.
fn named_missing_note(id: &JobId, settled: SystemTime, listed: bool) -> String {
    let besides = if listed {
        "and no listed task fits the submit"
    } else {
        "and this provider has no task list to search"
    };
    if SystemTime::now() < settled {
        return format!(
            "the answer named task {id}, which the vendor does not find yet, {besides}: whether it created a task is still unknown (the task may not be readable yet); do not submit it again: look again after {}",
            crate::time::format_rfc3339(settled)
        );
    }
    format!(
        "the answer named task {id}, which the vendor still does not find after the search window ended, {besides}: the task was most likely never stored (or is no longer kept: how long tasks are kept is not documented), and looking again will not tell more. A resend under the same key stays refused, since the answer named a task; a new submit (a new key) bills a second task if {id} exists after all. Whether to risk that is your call: the vendor's support can check task {id} first"
    )
}

/// How long a VMEG synchronous create may run at the vendor: its route's 180 s (the spec's
/// `x-voiceclone-timeout-seconds`), whatever this client's own timeout.
pub(super) const SYNC_RUNS: std::time::Duration = std::time::Duration::from_secs(180);

/// Before a resend, the time left while a request under the key, last sent at `last`, may
/// still be in flight at VMEG, whose handling of a key in flight is UNKNOWN (api-facts A4):
/// a synchronous create's whole run (it answers when its task ends; a request cut short
/// here or by a gateway runs on there), an async create's pause before a repeat under its
/// key ([`KEYED_CREATE_REPEAT_PAUSE`], as the retry loop waits: a resend at once is the
/// repeat likeliest to meet the first request still running). `None` once that has passed.
/// Saturating: a time past any clock waits, never goes out.
pub(super) fn may_still_run(
    last: SystemTime,
    synchronous: Option<bool>,
) -> Option<std::time::Duration> {
    let runs = if synchronous == Some(true) {
        SYNC_RUNS
    } else {
        KEYED_CREATE_REPEAT_PAUSE
    };
    let left = match SystemTime::now().duration_since(last) {
        Ok(since) => runs.saturating_sub(since),
        // `last` ahead of this clock (`check` lets 5 min pass): the whole wait is ahead too.
        Err(ahead) => runs.saturating_add(ahead.duration()),
    };
    (!left.is_zero()).then_some(left)
}

const STILL_RUNNING: &str = "the first request may still be running at VMEG: resend after ";

/// `err`, the first submit's `OutcomeUnknown`, as the refusal of a resend `left` too early:
/// its key and times kept, a note saying when to resend, and `retry_after` the time left.
pub(super) fn still_running(err: Error, left: std::time::Duration) -> Error {
    let at = SystemTime::now().checked_add(left).map_or_else(
        || format!("{} s", left.as_secs()),
        crate::time::format_rfc3339,
    );
    // A refusal refused again keeps one note of it.
    let kept = err
        .note()
        .and_then(|n| n.split(STILL_RUNNING).next())
        .map(|n| n.trim_end_matches("; "))
        .filter(|n| !n.is_empty());
    let note = match kept {
        Some(n) => format!("{n}; {STILL_RUNNING}{at}"),
        None => format!("{STILL_RUNNING}{at}"),
    };
    err.with_note(note).with_retry_after(Some(left))
}

/// The refusal (`InvalidInput` naming `field`) of a resend of a submit made at
/// `submitted_at`, when that is past [`KEY_RESEND_WINDOW`].
pub(super) fn past_key_lifetime(submitted_at: SystemTime, field: &str) -> Option<Error> {
    let age = SystemTime::now().duration_since(submitted_at).ok()?;
    (age > KEY_RESEND_WINDOW).then(|| {
        Error::invalid_input(
            field,
            format!(
                "the submit was sent {} h ago; VMEG keeps an idempotency key 24 h, so a resend now may create and bill a second task: use reconcile to find the first one",
                age.as_secs() / 3600
            ),
        )
    })
}

/// A 409 "key already used": on the resend's first attempt (`Conflict`), or after its own
/// retry (`OutcomeUnknown` carrying the 409).
fn key_was_used(e: &Error) -> bool {
    match e.kind() {
        ErrorKind::Conflict => true,
        ErrorKind::OutcomeUnknown { .. } => {
            e.vendor_code() == Some(409) || e.http_status() == Some(409)
        }
        _ => false,
    }
}

fn job_summary<J: Job>(j: &J) -> TaskSummary {
    let mut s = TaskSummary::new(
        j.provider(),
        j.id().clone(),
        Some(J::KIND),
        "",
        j.status().clone(),
    );
    if let Some(raw) = j.vendor_status() {
        s = s.with_vendor_status(raw);
    }
    if let Some(at) = j.created_at() {
        s = s.with_created_at(at);
    }
    s
}

/// The task a verified delivery names, as the delivery tells it: for a task whose lookup
/// failed, so that the signed evidence of it is not lost with the lookup's error.
#[cfg(feature = "webhook")]
fn event_summary(
    event: &WebhookEvent,
    id: &JobId,
    kind: Option<JobKind>,
    provider: Provider,
) -> TaskSummary {
    match &event.payload {
        WebhookPayload::Clone(j) => job_summary(j),
        WebhookPayload::Speech(j) => job_summary(j),
        // VMEG delivers when a task ends: `code` 200 is its success.
        _ => {
            let status = if event.succeeded() {
                crate::model::TaskStatus::Succeeded
            } else {
                crate::model::TaskStatus::Failed
            };
            TaskSummary::new(provider, id.clone(), kind, event.kind.as_str(), status)
        }
    }
}

/// Whether a delivery carrying the query's key answers for it: an event of the kind asked
/// for (VMEG scopes keys per route, so a speech submit may share a clone's key) signed no
/// earlier than the first task the query could be (an older delivery is of an older submit
/// that reused the key after VMEG let it go).
#[cfg(feature = "webhook")]
fn answers_for(e: &WebhookEvent, kind: Option<JobKind>, from: SystemTime) -> bool {
    let of_kind = matches!(
        (kind, &e.kind),
        (None, _)
            | (Some(JobKind::Clone), WebhookEventKind::CloneVoice)
            | (Some(JobKind::Speech), WebhookEventKind::Tts)
    );
    if !of_kind {
        tracing::warn!(
            event = e.kind.as_str(),
            "the webhook for the idempotency key is of another kind of task; not taken as the lost submit"
        );
    }
    of_kind && e.sent_at >= from
}
