//! Finding the task a lost submit left behind: what is known ([`ReconcileQuery`]), what was
//! found ([`Reconciled`]), and the answer to a resend of the same call ([`Resubmitted`]).

use std::fmt;
use std::time::{Duration, SystemTime};

use super::{Excerpt, JobId, JobKind, Provider, TaskSummary};
use crate::error::{Error, ErrorKind};

/// How far around the submit time a task's creation time may be to count as a candidate,
/// unless the caller says otherwise: covers the retries of one call and some clock skew.
pub const DEFAULT_RECONCILE_WINDOW: Duration = Duration::from_secs(120);

/// The narrowest window [`ReconcileQuery::window`] takes (10 s): a narrower one would miss a
/// task the vendor's clock dated a few seconds off, and answer "nothing was created" for it.
pub const MIN_RECONCILE_WINDOW: Duration = Duration::from_secs(10);

/// The widest window [`ReconcileQuery::window`] takes (7 days).
pub const MAX_RECONCILE_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long after a submit its VMEG idempotency key is still safe to resend with (23 h):
/// VMEG keeps a key 24 hours (api-facts A4), and a resend past that may create and bill a
/// second task. An hour is left for clocks and retries. `Client::resubmit_clone` and
/// `Client::resubmit_speech` refuse a resend older than this, with nothing sent; a caller
/// that stores its submits can use it to decide between a resend and
/// [`Client::reconcile`](crate::Client::reconcile) before calling either.
pub const KEY_RESEND_WINDOW: Duration = Duration::from_secs(23 * 60 * 60);

/// How far in the future a submit time may be (5 min of clock skew): a later one cannot be
/// a submit's, and a search around it would answer "nothing was created" for a real one.
/// It is also how far after its window `reconcile` looks before answering `None`: the
/// vendor's clock may be that far ahead.
pub(crate) const FUTURE_SKEW: Duration = Duration::from_secs(300);

/// Whether `at` is further ahead of `now` than [`FUTURE_SKEW`] allows a vendor's (or another
/// machine's) clock: a time no request was sent at yet.
pub(crate) fn beyond_skew(at: SystemTime, now: SystemTime) -> bool {
    at.duration_since(now)
        .is_ok_and(|ahead| ahead > FUTURE_SKEW)
}

/// The least time [`Reconciled::look_again_after`] is ahead of the moment it is asked.
pub const LOOK_AGAIN_PAUSE: Duration = Duration::from_secs(30);

/// The earliest submit time a query takes (2020-01-01T00:00:00Z, long before either vendor's
/// API): an earlier `submitted_at` or `last_attempt_at` is a zero or unset column, and a search
/// around it would answer "nothing was created" for a real submit.
pub(crate) const EARLIEST_SUBMIT: Duration = Duration::from_secs(1_577_836_800);

/// The longest [`ReconcileQuery::voice_name`] a search takes, in bytes of UTF-8 (4 KiB): the
/// name goes out in the body of every page of the cloned-voice list. Far above any name a
/// person gives a voice, and above the 200 characters an error's summary quotes; a longer
/// one is refused (`InvalidInput` naming `voice_name`, nothing sent): leave it unset to
/// search without the voice list.
pub const RECONCILE_VOICE_NAME_MAX_BYTES: usize = 4096;

/// `InvalidInput` naming `voice_name` for a name no search should send: blank, holding a
/// control character (the create path refuses both, so no clone carried it), or longer than
/// [`RECONCILE_VOICE_NAME_MAX_BYTES`].
pub(crate) fn usable_voice_name(name: &str) -> Result<(), Error> {
    crate::validate::non_blank("voice_name", name)?;
    if name.len() > RECONCILE_VOICE_NAME_MAX_BYTES {
        return Err(Error::invalid_input(
            "voice_name",
            format!(
                "is {} bytes long, more than the {RECONCILE_VOICE_NAME_MAX_BYTES} a search sends with every page of the voice list; leave it unset to search without it",
                name.len()
            ),
        ));
    }
    Ok(())
}

/// What is known about a submit whose outcome is unknown: when it was sent, its kind, its
/// VMEG idempotency key, the voice name a clone asked for, and the task id when an answer
/// named one. [`ReconcileQuery::from_error`] reads all of it from an
/// [`ErrorKind::OutcomeUnknown`].
#[derive(Clone)]
#[non_exhaustive]
pub struct ReconcileQuery {
    /// When the call started (its first attempt was sent at or after this).
    pub submitted_at: SystemTime,
    /// When the call's last attempt ended, if it retried: a task it created may be this
    /// recent (`None`: `submitted_at`).
    pub last_attempt_at: Option<SystemTime>,
    /// Tasks created within this much before `submitted_at` or after `last_attempt_at` (and
    /// between them) are candidates.
    pub window: Duration,
    /// Clone or speech (`None`: either).
    pub kind: Option<JobKind>,
    /// The VMEG idempotency key of the submit (matched against webhook deliveries); one the
    /// create path would refuse is refused by `reconcile`, naming `idempotency_key`.
    pub idempotency_key: Option<String>,
    /// The voice name a clone asked for (matched against the cloned-voice list); blank, with
    /// a control character or past [`RECONCILE_VOICE_NAME_MAX_BYTES`], `reconcile` refuses it.
    pub voice_name: Option<String>,
    /// The task id an answer named, if one did.
    pub task_id: Option<JobId>,
    /// From `from_error`: the API key (as a salted tag) and base URL the submit went out
    /// under, which `reconcile` must search under. Not part of what the query says: left out
    /// of `==` and `Debug` (a query rebuilt from kept fields equals the error's).
    pub(crate) sent_under: Option<crate::sent_under::SentUnder>,
    /// Set by a resend VMEG answered 409 "key already used": when the attempts that may have
    /// used the key have settled (their span's end and its skew). Until then an empty search
    /// is no answer; after it, `None` means "the key was used, yet nothing is listed", which
    /// the resend reports as [`Reconciled::KeyUsedNothingListed`]. Not part of what the
    /// query says: left out of `==` and `Debug`, as `sent_under` is.
    pub(crate) key_used_settles: Option<SystemTime>,
}

impl fmt::Debug for ReconcileQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            submitted_at,
            last_attempt_at,
            window,
            kind,
            idempotency_key,
            voice_name,
            task_id,
            sent_under: _,
            key_used_settles: _,
        } = self;
        f.debug_struct("ReconcileQuery")
            .field("submitted_at", submitted_at)
            .field("last_attempt_at", last_attempt_at)
            .field("window", window)
            .field("kind", kind)
            .field("idempotency_key", idempotency_key)
            .field("voice_name", voice_name)
            .field("task_id", task_id)
            .finish()
    }
}

impl PartialEq for ReconcileQuery {
    fn eq(&self, other: &Self) -> bool {
        let Self {
            submitted_at,
            last_attempt_at,
            window,
            kind,
            idempotency_key,
            voice_name,
            task_id,
            sent_under: _,
            key_used_settles: _,
        } = self;
        *submitted_at == other.submitted_at
            && *last_attempt_at == other.last_attempt_at
            && *window == other.window
            && *kind == other.kind
            && *idempotency_key == other.idempotency_key
            && *voice_name == other.voice_name
            && *task_id == other.task_id
    }
}

impl Eq for ReconcileQuery {}

impl ReconcileQuery {
    /// A query for a submit sent at `submitted_at`, with the default window.
    pub fn new(submitted_at: SystemTime) -> Self {
        Self {
            submitted_at,
            last_attempt_at: None,
            window: DEFAULT_RECONCILE_WINDOW,
            kind: None,
            idempotency_key: None,
            voice_name: None,
            task_id: None,
            sent_under: None,
            key_used_settles: None,
        }
    }

    /// Everything an `OutcomeUnknown` says about its submit (its key, submit time, the task
    /// id the answer named, the kind from the operation, a clone's `voiceName`).
    /// `InvalidInput` (field `error`) for any other error.
    pub fn from_error(err: &Error) -> Result<Self, Error> {
        let ErrorKind::OutcomeUnknown {
            idempotency_key,
            task_id,
            submitted_at,
            request,
        } = err.kind()
        else {
            return Err(Error::invalid_input(
                "error",
                format!(
                    "only an outcome_unknown error describes a submit to look up; this one is {}",
                    err.kind().as_str()
                ),
            ));
        };
        let mut q = ReconcileQuery::new(*submitted_at);
        q.last_attempt_at = err.last_attempt_at();
        q.idempotency_key = idempotency_key.clone();
        q.task_id = task_id.clone();
        q.kind = kind_of_operation(err.operation());
        q.sent_under = err.sent_under().cloned();
        // A name cut for the summary would tie no voice: left unset (resubmits, which hold
        // the request, give the whole name).
        // Nor is a name no search takes (`check`): it is only extra evidence, and refused it
        // would refuse the whole search.
        q.voice_name = request
            .field("voiceName")
            .filter(|n| !crate::transport::summary_is_cut(n) && usable_voice_name(n).is_ok())
            .map(str::to_owned);
        Ok(q)
    }

    /// Sets when the call's last attempt ended.
    #[must_use]
    pub fn last_attempt_at(mut self, at: SystemTime) -> Self {
        self.last_attempt_at = Some(at);
        self
    }

    /// Sets the window, read as within [`MIN_RECONCILE_WINDOW`] (10 s) and
    /// [`MAX_RECONCILE_WINDOW`] (7 days).
    #[must_use]
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window.clamp(MIN_RECONCILE_WINDOW, MAX_RECONCILE_WINDOW);
        self
    }

    /// `InvalidInput` naming the field for a query that could only mislead: a submit or
    /// last-attempt time more than 5 minutes after `now` or before 2020 (a zero column read
    /// as 1970), a task id of another provider than `provider`, one whose kind is not the
    /// query's, or a bare one that looks like a stored id (it would be looked up whole, and
    /// the vendor's "not found" is no answer); a voice name that is blank, holds a control
    /// character or is longer than [`RECONCILE_VOICE_NAME_MAX_BYTES`] (no clone could carry
    /// the first two, and every page of the voice list would carry the name); an
    /// idempotency key the create path refuses (blank, blanks around it, past 64 characters,
    /// not printable ASCII: no submit went out under it, and the hub's store would be asked
    /// for it by name).
    pub(crate) fn check(&self, provider: Provider, now: SystemTime) -> Result<(), Error> {
        if let Some(name) = &self.voice_name {
            usable_voice_name(name)?;
        }
        if let Some(key) = &self.idempotency_key {
            crate::validate::idempotency_key(key)?;
        }
        let floor = std::time::UNIX_EPOCH + EARLIEST_SUBMIT;
        for (field, at) in [
            ("submitted_at", Some(self.submitted_at)),
            ("last_attempt_at", self.last_attempt_at),
        ] {
            let Some(at) = at else { continue };
            if at < floor {
                return Err(Error::invalid_input(
                    field,
                    "is before 2020-01-01, before either vendor's API: a zero or unset time, not a submit's; a search around it would find nothing for a real one",
                ));
            }
            if beyond_skew(at, now) {
                return Err(Error::invalid_input(
                    field,
                    "is in the future: no submit was sent then, and a search around it would find nothing for a real one",
                ));
            }
        }
        if let Some(id) = &self.task_id {
            id.check_bare_text("task_id")?;
            // The lookup's own check would name `job_id`, a field the query does not have.
            crate::validate::id("task_id", id.as_str())?;
            let (given_provider, given_kind) = (id.provider(), id.kind());
            // The caller's id, quoted by its start only: its length is not checked yet.
            let stored = id.to_string();
            let id = Excerpt::of(&stored);
            if let Some(p) = given_provider
                && p != provider
            {
                return Err(Error::invalid_input(
                    "task_id",
                    format!("{id} is a {p} job, but this client talks to {provider}"),
                ));
            }
            if let (Some(want), Some(is)) = (self.kind, given_kind)
                && want != is
            {
                return Err(Error::invalid_input(
                    "task_id",
                    format!(
                        "{id} is a {} job, but the query is for a {} submit",
                        is.as_str(),
                        want.as_str()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Sets the kind.
    #[must_use]
    pub fn kind(mut self, kind: JobKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Sets the idempotency key.
    #[must_use]
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Sets the voice name a clone asked for: not blank, no control characters, at most
    /// [`RECONCILE_VOICE_NAME_MAX_BYTES`] (else `reconcile` refuses the query, naming
    /// `voice_name`, nothing sent).
    #[must_use]
    pub fn voice_name(mut self, name: impl Into<String>) -> Self {
        self.voice_name = Some(name.into());
        self
    }

    /// Sets the task id an answer named.
    #[must_use]
    pub fn task_id(mut self, id: impl Into<JobId>) -> Self {
        self.task_id = Some(id.into());
        self
    }

    /// The earliest and latest creation times a candidate may have: the window before
    /// `submitted_at` to the window after `last_attempt_at` (a task made by a retry that
    /// went out minutes after the first attempt is in it).
    pub fn bounds(&self) -> (SystemTime, SystemTime) {
        // The field is public: read through the setter's clamp, as the setter stores it.
        let window = self
            .window
            .clamp(MIN_RECONCILE_WINDOW, MAX_RECONCILE_WINDOW);
        let from = self
            .submitted_at
            .checked_sub(window)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let last = self
            .last_attempt_at
            .map_or(self.submitted_at, |l| l.max(self.submitted_at));
        let to = last.checked_add(window).unwrap_or(last);
        (from, to)
    }
}

/// The kind of task a client operation submits.
pub(crate) fn kind_of_operation(operation: Option<&str>) -> Option<JobKind> {
    match operation? {
        "clone_voice" => Some(JobKind::Clone),
        "synthesize" => Some(JobKind::Speech),
        _ => None,
    }
}

/// What ties a found task to the submit.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Evidence {
    /// The submit's answer named the task id.
    AnswerNamedTask,
    /// A verified webhook delivery for the task carried the submit's idempotency key.
    Webhook,
    /// The only candidate whose cloned voice has the name the clone asked for, dated with its
    /// UTC offset inside the window, beside no other clone task that is unfinished or failed
    /// (and, in a search begun before the window and its skew ended, not listed alone).
    VoiceName(String),
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Evidence::AnswerNamedTask => f.write_str("the task id the submit's answer named"),
            Evidence::Webhook => {
                f.write_str("the webhook delivery carrying the submit's idempotency key")
            }
            Evidence::VoiceName(n) => write!(
                f,
                "its cloned voice, named {n:?} as the submit asked (the only candidate with it)"
            ),
        }
    }
}

/// What a reconcile found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reconciled {
    /// The task the submit created, and what ties it to the submit.
    Found {
        /// The task.
        task: TaskSummary,
        /// Why it is this one.
        evidence: Evidence,
    },
    /// Tasks whose kind and creation time fit the submit, none tied to it by anything else:
    /// one of them may be it, or none (another caller's work). A task whose creation time is
    /// missing, unreadable or without a UTC offset is here whenever it could fit; so is one
    /// dated up to 5 minutes before `from` or after `to` (the vendor's clock may be off), and
    /// the task an answer named when it exists but is dated outside the window. Empty (and
    /// `incomplete`) when no task was seen but one may still appear: the search ran before 5
    /// minutes after the window's end (`to`; a request cut short may still be processed by
    /// the vendor, and its clock may be ahead; after a resend met VMEG's 409, the span of the
    /// attempts that may have used the key), or the task list's pages disagreed while it was
    /// read (a task may have shifted onto a page already read: search again).
    Candidates {
        /// The tasks that fit.
        tasks: Vec<TaskSummary>,
        /// The creation times searched.
        from: SystemTime,
        /// The creation times searched.
        to: SystemTime,
        /// The search could not see everything: it ran before the span and the 5 minutes
        /// after it ended (the submit's own task may not be listed yet; not set for this
        /// alone after a resend's 409, whose search always reaches past the resend), the
        /// listing held records it could not read or whose pages disagreed, the task an
        /// answer named was not found, there is no task list (JimmyAI) to place a named task
        /// by, or a resend met a 409 and no task was seen. The submit's task may then be none
        /// of `tasks`, so not even a sole candidate should be taken.
        incomplete: bool,
    },
    /// No task of the kind was created in the window or the 5 minutes either side (the
    /// vendor's clock may be off), asked once the window and the 5 minutes after it ended:
    /// every listed one has a creation time (with its UTC offset, or
    /// [`crate::UNKNOWN_OFFSET_SPAN`] away without one) outside that, and no task of the kind
    /// an answer named exists.
    None {
        /// The kind looked for.
        kind: Option<JobKind>,
        /// The creation times searched.
        from: SystemTime,
        /// The creation times searched.
        to: SystemTime,
    },
    /// Only in a [`Resubmitted::AlreadyAccepted`]: VMEG answered the resend with 409 "key
    /// already used", but once the span of the attempts that may have used the key and the 5
    /// minutes after it had ended, no task of the kind created between `from` and `to` (or
    /// the 5 minutes either side) is listed. VMEG says the key was used, so a task exists
    /// unless the first attempt was refused and still used the key up, which VMEG does not
    /// document (api-facts A4; nor how it treats a duplicate still in flight); or the list
    /// lags, or a clock is far off. Never [`Reconciled::None`]: a new submit bills a second
    /// task if one exists. Searching again tells no more
    /// ([`look_again_after`](Reconciled::look_again_after) is `None`): check the vendor's
    /// console (or support) for a task created then before sending it under a new key.
    KeyUsedNothingListed {
        /// The kind looked for.
        kind: Option<JobKind>,
        /// The creation times searched.
        from: SystemTime,
        /// The creation times searched.
        to: SystemTime,
    },
}

impl Reconciled {
    /// `found`, `candidates`, `none` or `key_used_nothing_listed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Reconciled::Found { .. } => "found",
            Reconciled::Candidates { .. } => "candidates",
            Reconciled::None { .. } => "none",
            Reconciled::KeyUsedNothingListed { .. } => "key_used_nothing_listed",
        }
    }

    /// The task, when one was found.
    pub fn found(&self) -> Option<&TaskSummary> {
        match self {
            Reconciled::Found { task, .. } => Some(task),
            _ => None,
        }
    }

    /// When to search again, for `Candidates` with no task seen yet: the end of the span
    /// searched and 5 minutes of the vendor's clock running ahead, after which a search that
    /// still sees nothing can answer [`Reconciled::None`]; never sooner than
    /// [`LOOK_AGAIN_PAUSE`] from now (a search that could not rule a task out long after the
    /// span, say a list that changed while it was read, is paced, not repeated at once). Until
    /// then the submit's outcome is still unknown: do not submit it again. For incomplete
    /// `Candidates` with tasks, the same time while it is still ahead (a search run before the
    /// span settled: the submit's own task may not be listed yet), else `None`: check them.
    /// `None` for every other answer.
    ///
    /// For the `Candidates` of [`Resubmitted::AlreadyAccepted`](crate::Resubmitted) too, but
    /// look again by resending the same call (`resubmit_*` with the same error and request,
    /// or `resend_speech`): VMEG answers 409 again while the key is used, billing nothing, and
    /// once the span settled with nothing listed the answer is
    /// [`Reconciled::KeyUsedNothingListed`]. A bare `reconcile` would answer `None` there,
    /// which knows nothing of the 409.
    ///
    /// ```
    /// # async fn f(client: &voiceclone::Client, query: &voiceclone::ReconcileQuery)
    /// # -> Result<(), voiceclone::Error> {
    /// if let Some(at) = client.reconcile(query).await?.look_again_after() {
    ///     let wait = at.duration_since(std::time::SystemTime::now()).unwrap_or_default();
    ///     tokio::time::sleep(wait).await;
    ///     // ... and reconcile again.
    /// }
    /// # Ok(()) }
    /// ```
    pub fn look_again_after(&self) -> Option<SystemTime> {
        self.look_again_after_at(SystemTime::now())
    }

    /// [`Reconciled::look_again_after`], asked at `now`.
    fn look_again_after_at(&self, now: SystemTime) -> Option<SystemTime> {
        let Reconciled::Candidates {
            tasks,
            to,
            incomplete,
            ..
        } = self
        else {
            return None;
        };
        let after_span = to.checked_add(FUTURE_SKEW).unwrap_or(*to);
        // Tasks an incomplete search listed after the span settled (records it could not
        // read, a named task not found): searching again soon tells no more, check them.
        let unsettled = *incomplete && after_span > now;
        if !tasks.is_empty() && !unsettled {
            return None;
        }
        // Never a time already past (a list that changed while read, a key the vendor says
        // was used, long after the span ended): a loop that sleeps until it would search
        // again at once, for ever.
        let soonest = now.checked_add(LOOK_AGAIN_PAUSE).unwrap_or(now);
        Some(after_span.max(soonest))
    }
}

impl fmt::Display for Reconciled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::time::format_rfc3339 as at;
        match self {
            Reconciled::Found { task, evidence } => {
                write!(f, "found: {task}, tied to the submit by {evidence}")
            }
            Reconciled::Candidates {
                tasks,
                from,
                to,
                incomplete,
            } => {
                if tasks.is_empty() {
                    return write!(
                        f,
                        "candidates: none seen yet, but a task may still appear: no task created between {} and {} was listed, and the search cannot rule one out (it ran before that span ended, while the submit may still be processed; or the vendor said the key was used; or a list lags behind, changed while it was read, or a clock is far apart); do not submit it again: look again after {}",
                        at(*from),
                        at(*to),
                        at(self.look_again_after().unwrap_or(*to))
                    );
                }
                write!(
                    f,
                    "candidates: {} task(s) created between {} and {} fit the submit, but nothing ties one of them to it: ",
                    tasks.len(),
                    at(*from),
                    at(*to)
                )?;
                if *incomplete {
                    write!(
                        f,
                        "(the search was incomplete: it ran before that span and the 5 minutes after it ended, so the submit's own task may not be listed yet; or the list held records that could not be read, or changed while it was read; or the task an answer named was not found: the submit's task may be none of these) "
                    )?;
                }
                let loose = tasks
                    .iter()
                    .filter(|t| t.created_at.is_none() || t.created_at_offset_unknown)
                    .count();
                if loose > 0 {
                    write!(
                        f,
                        "({loose} of them with no creation time, or one without a UTC offset, so they cannot be ruled out) "
                    )?;
                }
                let outside = tasks
                    .iter()
                    .filter(|t| {
                        !t.created_at_offset_unknown
                            && t.created_at.is_some_and(|c| c < *from || c > *to)
                    })
                    .count();
                if outside > 0 {
                    write!(
                        f,
                        "({outside} of them dated outside that span: within the 5 minutes the vendor's clock may be off, or named by the submit's answer) "
                    )?;
                }
                let list: Vec<String> = tasks.iter().map(ToString::to_string).collect();
                match self.look_again_after() {
                    Some(again) => write!(
                        f,
                        "{}; the submit's own task may not be listed yet: do not submit it again, look again after {}",
                        list.join("; "),
                        at(again)
                    ),
                    None => write!(f, "{}; check them before submitting again", list.join("; ")),
                }
            }
            Reconciled::None { kind, from, to } => write!(
                f,
                "none: no {}task was created between {} and {}; the submit most likely created nothing (a task deleted since, or created outside the window, would not be seen)",
                kind.map(|k| format!("{k} ")).unwrap_or_default(),
                at(*from),
                at(*to)
            ),
            Reconciled::KeyUsedNothingListed { kind, from, to } => write!(
                f,
                "key used, nothing listed: VMEG says the submit's idempotency key was used, but no {}task created between {} and {} (or the 5 minutes either side) is listed now that that span has ended. A task exists unless the first attempt was refused and still used the key up, which VMEG does not document (nor how it handles a duplicate still in flight); or the task list lags, or a clock is far off. Searching again tells no more: check the vendor's console (or support) for a task created then before sending it under a new key, which bills a second task if one exists",
                kind.map(|k| format!("{k} ")).unwrap_or_default(),
                at(*from),
                at(*to)
            ),
        }
    }
}

/// VMEG answered a call resent with the same idempotency key
/// ([`crate::Client::resubmit_clone`], [`crate::Client::resubmit_speech`],
/// `Client::resend_speech` with the `long-text` feature) with 409 "key already used": nothing
/// new was created. VMEG
/// says the key was used; a task exists unless the first attempt was refused and still used
/// the key up, which VMEG does not document (api-facts A4). Here is what the search for it saw.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AlreadyAccepted {
    /// The idempotency key both submits used.
    pub idempotency_key: String,
    /// When the first submit was sent.
    pub submitted_at: SystemTime,
    /// What a reconcile found for the first submit: never [`Reconciled::None`]; once the span
    /// settled with nothing listed, [`Reconciled::KeyUsedNothingListed`].
    pub reconciled: Reconciled,
}

impl fmt::Display for AlreadyAccepted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "already accepted: VMEG says the key was used: idempotency key {:?} (first sent {}) was already used, so the resend created nothing new; a task exists unless the first attempt was refused, which VMEG does not document (whether a refused attempt uses up its key); {}",
            self.idempotency_key,
            crate::time::format_rfc3339(self.submitted_at),
            self.reconciled
        )
    }
}

/// The outcome of resending a call whose outcome was unknown, with the same key.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Resubmitted<J> {
    /// The resend was accepted: the first submit had created nothing.
    Accepted(J),
    /// VMEG said the key was already used: nothing new was created. A task exists unless the
    /// first attempt was refused and still used the key up, which VMEG does not document;
    /// see [`AlreadyAccepted::reconciled`].
    AlreadyAccepted(Box<AlreadyAccepted>),
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Only `Candidates` with no task seen, or of an incomplete search while the span has
    /// not settled, says when to look again: 5 minutes after the span searched, the time its
    /// message gives (the CLI's `look_again_after` is this).
    #[test]
    fn only_an_empty_or_unsettled_candidates_answer_says_when_to_look_again() {
        // A span ahead of the clock (as a search right after a submit sees it), whenever the test
        // runs: the span's end and skew win over the pause from now.
        let from = SystemTime::now() + Duration::from_secs(86_400);
        let to = from + Duration::from_secs(240);
        let empty = Reconciled::Candidates {
            tasks: vec![],
            from,
            to,
            incomplete: true,
        };
        // Asked during the span: its end and the skew (a fixed `now`: the test never ages).
        let again = empty.look_again_after_at(from).unwrap();
        assert_eq!(again, to + Duration::from_secs(300));
        let text = empty.to_string();
        assert!(
            text.ends_with(&format!(
                "look again after {}",
                crate::time::format_rfc3339(empty.look_again_after().unwrap())
            )),
            "{text}"
        );
        let task = TaskSummary::new(
            Provider::Vmeg,
            "t-1",
            Some(JobKind::Speech),
            "tts",
            crate::model::TaskStatus::Succeeded,
        );
        let some = Reconciled::Candidates {
            tasks: vec![task],
            from,
            to,
            incomplete: false,
        };
        assert_eq!(some.look_again_after(), None);
        // The same task from a search that ran before the span settled (review 30-a #3):
        // look again once it has, and the message says so; after it, check them.
        let Reconciled::Candidates { tasks, .. } = &some else {
            unreachable!()
        };
        let early = Reconciled::Candidates {
            tasks: tasks.clone(),
            from,
            to,
            incomplete: true,
        };
        assert_eq!(
            early.look_again_after_at(from),
            Some(to + Duration::from_secs(300))
        );
        let text = early.to_string();
        assert!(text.contains("may not be listed yet"), "{text}");
        assert!(
            text.ends_with(&format!(
                "look again after {}",
                crate::time::format_rfc3339(early.look_again_after().unwrap())
            )),
            "{text}"
        );
        assert_eq!(
            early.look_again_after_at(to + Duration::from_secs(301)),
            None
        );
        let key_used = Reconciled::KeyUsedNothingListed {
            kind: None,
            from,
            to,
        };
        assert_eq!(key_used.look_again_after_at(from), None);
        let none = Reconciled::None {
            kind: None,
            from,
            to,
        };
        assert_eq!(none.look_again_after(), None);
        // Near the end of what the clock can hold: no overflow, the span's own end.
        let end = SystemTime::UNIX_EPOCH + Duration::from_secs(i64::MAX.unsigned_abs() - 100);
        let last = Reconciled::Candidates {
            tasks: vec![],
            from,
            to: end,
            incomplete: true,
        };
        assert_eq!(last.look_again_after_at(from), Some(end));
        // A span long past (an answer that could not rule a task out, an hour later): paced,
        // never a time already gone (review 27 pass 2-b #3).
        let past = SystemTime::now() - Duration::from_secs(3600);
        let late = Reconciled::Candidates {
            tasks: vec![],
            from: past - Duration::from_secs(240),
            to: past,
            incomplete: true,
        };
        let asked = SystemTime::now();
        assert_eq!(
            late.look_again_after_at(asked),
            Some(asked + LOOK_AGAIN_PAUSE)
        );
        let again = late.look_again_after().unwrap();
        assert!(again >= asked + LOOK_AGAIN_PAUSE, "{again:?}");
    }

    #[test]
    fn bounds_reach_from_the_window_before_the_start_to_the_window_after_the_last_attempt() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let w = DEFAULT_RECONCILE_WINDOW;
        let q = ReconcileQuery::new(t0);
        assert_eq!(q.bounds(), (t0 - w, t0 + w));
        let late = t0 + Duration::from_secs(180);
        assert_eq!(q.clone().last_attempt_at(late).bounds(), (t0 - w, late + w));
        // A last attempt "before" the start (a clock stepped back) never narrows it.
        let early = t0 - Duration::from_secs(60);
        assert_eq!(q.last_attempt_at(early).bounds(), (t0 - w, t0 + w));
    }

    /// A task id of the other provider or kind is refused quoting its start only: the check
    /// runs before any length check, and a megabyte id was quoted whole.
    #[test]
    fn a_huge_task_id_of_the_wrong_provider_or_kind_is_quoted_by_its_start() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let huge = "x".repeat(1 << 20);
        for (provider, kind) in [
            (Provider::JimmyAi, JobKind::Clone),
            (Provider::Vmeg, JobKind::Speech),
        ] {
            let mut q = ReconcileQuery::new(t0);
            q.kind = Some(JobKind::Clone);
            q.task_id = Some(JobId::typed(provider, kind, huge.as_str()));
            let e = q.check(Provider::Vmeg, t0).unwrap_err();
            let text = e.to_string();
            assert!(
                matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "task_id"),
                "{}",
                text.get(..200).unwrap_or(&text)
            );
            assert!(text.len() < 600, "{} bytes", text.len());
        }
    }
}
