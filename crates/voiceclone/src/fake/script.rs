//! What a fake job does: how its submit ends, the statuses its reads see, its result.

use url::Url;

use crate::error::{Error, ErrorKind};
use crate::model::{JobKind, Provider, TaskStatus, VoiceId};

/// How one submitted job behaves in a [`FakeClient`](super::FakeClient).
///
/// A script is queued with [`FakeClient::script_clone`](super::FakeClient::script_clone) or
/// [`script_speech`](super::FakeClient::script_speech) and used by the next submit of that
/// kind; a submit with no script queued behaves as [`Script::succeeds`].
///
/// Each status read (`clone_status`, `speech_status`, and every poll of a wait) takes the
/// next step; after the last step, the last one repeats. An asynchronous submit returns the
/// job as `Queued`; a synchronous one (VMEG) returns it finished, at its script's first
/// terminal step. A job nobody can read (a lost submit's) moves one step per
/// `list_voices` call; any other moves only when read.
///
/// ```
/// use voiceclone::ErrorKind;
/// use voiceclone::fake::Script;
/// use voiceclone::TaskStatus;
///
/// // Queued, a transient 503 on one poll, running, then done.
/// let flaky = Script::new()
///     .then_status(TaskStatus::Queued)
///     .then_error(ErrorKind::Server)
///     .then_status(TaskStatus::Running)
///     .then_status(TaskStatus::Succeeded)
///     .with_voice_id("v-42");
/// // The submit's answer is lost: `OutcomeUnknown`, though the job was created (and billed).
/// let lost = Script::succeeds().outcome_unknown();
/// // Refused at submit: nothing created.
/// let broke = Script::rejected(ErrorKind::PaymentRequired);
/// # let _ = (flaky, lost, broke);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub struct Script {
    pub(super) submit: Submit,
    pub(super) steps: Vec<Step>,
    pub(super) failure_reason: Option<String>,
    pub(super) voice_id: Option<String>,
    pub(super) audio_urls: Vec<Url>,
    pub(super) preview_url: Option<Url>,
    /// VMEG: lines (by index) that fail, with their reasons.
    pub(super) failed_lines: Vec<(usize, String)>,
    /// VMEG: lines (by index) whose result the client cannot read (no `uri`, no
    /// `errorMessage`).
    pub(super) unreadable_lines: Vec<usize>,
    /// VMEG: lines (by index) the answer does not list at all.
    pub(super) dropped_lines: Vec<usize>,
    /// The success carries no audio.
    pub(super) no_audio: bool,
    /// VMEG synchronous: the answer carries its result but no `taskId`.
    pub(super) no_task_id: bool,
    /// The submit's failure names the task it made.
    pub(super) names_task: bool,
    /// VMEG clone: the first wait's lookup of the voice fails with this.
    pub(super) failed_lookup: Option<ErrorKind>,
    /// VMEG clone: the task's answer names no voice (status reads have none).
    pub(super) no_status_voice: bool,
    /// VMEG: a refused submit still takes its idempotency key.
    pub(super) uses_up_key: bool,
}

/// How a submit ends.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Submit {
    /// The job is created and returned.
    Accepted,
    /// The submit fails with this kind; nothing is created.
    Rejected(ErrorKind),
    /// Every attempt is answered with this HTTP status (and `Retry-After`).
    Answered {
        status: u16,
        retry_after: Option<std::time::Duration>,
    },
    /// The job is created, but the caller gets `OutcomeUnknown`.
    Lost,
}

/// What a synchronous submit's one answer is, from its steps.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum SyncAnswer {
    /// The job at its first terminal status: the step at this index (from 0).
    Finished(usize),
    /// The first step error before any terminal status: the call's failure.
    Failed(ErrorKind),
    /// No terminal status and no error: the task never ends.
    Unfinished,
}

/// What one status read sees.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Step {
    Status(TaskStatus),
    /// A status word read as the client reads it (`status`, from the provider's table), the
    /// word kept as the vendor's status. VMEG: a word it does not document, from the table of
    /// guessed words: the job's `assumed_status`, and a wait's failure from it says it is
    /// assumed. JimmyAI: one of its documented words in another case or with spaces.
    Word {
        status: TaskStatus,
        word: String,
    },
    Error(ErrorKind),
    /// An answer that is no envelope at all (a proxy's page sent with status 200).
    Unreadable,
}

impl Step {
    /// The status this read sees, as the client reads it (none for an error).
    pub(super) fn status(&self) -> Option<&TaskStatus> {
        match self {
            Step::Status(s) | Step::Word { status: s, .. } => Some(s),
            Step::Error(_) | Step::Unreadable => None,
        }
    }
}

impl Default for Script {
    fn default() -> Self {
        Self::succeeds()
    }
}

impl Script {
    /// An accepted job with no steps yet (reads see `Queued` until a step is added).
    pub fn new() -> Self {
        Self {
            submit: Submit::Accepted,
            steps: Vec::new(),
            failure_reason: None,
            voice_id: None,
            audio_urls: Vec::new(),
            preview_url: None,
            failed_lines: Vec::new(),
            unreadable_lines: Vec::new(),
            dropped_lines: Vec::new(),
            no_audio: false,
            no_task_id: false,
            names_task: false,
            failed_lookup: None,
            no_status_voice: false,
            uses_up_key: false,
        }
    }

    /// Queued, running, then succeeded: three reads.
    pub fn succeeds() -> Self {
        Self::new().with_statuses([
            TaskStatus::Queued,
            TaskStatus::Running,
            TaskStatus::Succeeded,
        ])
    }

    /// Queued, running, then failed with `reason` (a wait ends with `TaskFailed`), read as
    /// the client reads one (see [`Script::with_failure_reason`]).
    pub fn fails(reason: impl Into<String>) -> Self {
        let mut s = Self::new().with_statuses([
            TaskStatus::Queued,
            TaskStatus::Running,
            TaskStatus::Failed,
        ]);
        s.failure_reason = Some(reason.into());
        s
    }

    /// Every attempt of the submit fails with `kind`, and the call ends as the client's
    /// [retry table](crate::retry) ends it for that provider's submits (VMEG's carry an
    /// idempotency key, JimmyAI's do not):
    ///
    /// - a refusal (`RateLimited`, `PaymentRequired`, `Unauthorized`, `InvalidRequest`, ...)
    ///   is that error: nothing is created, nothing billed;
    /// - `Transport` is read as a connection that never opened: phase `NotSent`, nothing
    ///   created, [`may_resubmit`](crate::Error::may_resubmit) true;
    /// - a failure after which the task may exist (`Server`, without a status, is a 500 or a
    ///   gateway's 502; `Timeout`, read as sent; `InvalidResponse`; an undocumented
    ///   `Vendor` code; VMEG's `Conflict` on a key the client made) is
    ///   `ErrorKind::OutcomeUnknown`, and the job exists, as with
    ///   [`Script::outcome_unknown`]: nobody holds its id, so it moves on by itself, one
    ///   step each time anybody looks, and a succeeded clone is listed once it is read as
    ///   succeeded.
    ///
    /// For an answer of your choosing (a 501 that says nothing was done, a 429 with its
    /// `Retry-After`), see [`Script::rejected_with_status`].
    ///
    /// Only what a submit of the client can fail with: a submit that uses a script rejected
    /// with `TaskFailed`, `WaitTimedOut`, `Download`, `Webhook` (no submit ends so) or
    /// `Unsupported` of the other provider is refused with
    /// `InvalidInput { field: "script", .. }`, naming this method.
    ///
    /// The steps are [`Script::succeeds`]'s (queued, running, succeeded), as a task that
    /// was made goes on to finish; replace them with [`Script::with_statuses`] (a step
    /// added with `then_status` comes after the success, which ends the job first).
    pub fn rejected(kind: ErrorKind) -> Self {
        let mut s = Self::succeeds();
        s.submit = Submit::Rejected(kind);
        s
    }

    /// Every attempt of the submit is answered with HTTP `status` (400 to 599), carrying
    /// `Retry-After` when `retry_after` is given, and the vendor's code for it (VMEG the
    /// status, JimmyAI its catch-all `-1`): the call ends as the client's does against such a
    /// server, through the same [retry table](crate::retry). What [`Script::rejected`] cannot
    /// say:
    ///
    /// - a 5xx whose status says nothing was done (501, 505, 511, a CDN's 521-523, 525,
    ///   526) is a plain `Server`, nothing created, [`may_resubmit`](crate::Error::may_resubmit);
    ///   a 503 is not (the vendor's "busy" envelope is a shape a gateway may copy): like a
    ///   500, the task may exist;
    /// - a 429 whose `Retry-After` is longer than the client waits is `RateLimited` with that
    ///   [`retry_after`](crate::Error::retry_after);
    /// - a status after which the task may exist (a 500, 502 or 503) is `OutcomeUnknown`,
    ///   and the job exists, as with [`Script::rejected`].
    ///
    /// A submit that uses a status outside 400 to 599 is refused with
    /// `InvalidInput { field: "script", .. }`, naming this method.
    ///
    /// ```
    /// use std::time::Duration;
    /// use voiceclone::fake::{FakeClient, Script};
    /// use voiceclone::{CloneRequest, ErrorKind, Provider, VoiceCloning};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let fake = FakeClient::new(Provider::JimmyAi);
    /// fake.script_clone(Script::rejected_with_status(501, None));
    /// fake.script_clone(Script::rejected_with_status(429, Some(Duration::from_secs(60))));
    /// let req = CloneRequest::new("https://cdn.example.com/a.wav");
    /// let not_here = fake.clone_voice(&req).await.unwrap_err();
    /// assert!(matches!(not_here.kind(), ErrorKind::Server) && not_here.may_resubmit());
    /// let slow_down = fake.clone_voice(&req).await.unwrap_err();
    /// assert_eq!(slow_down.retry_after(), Some(Duration::from_secs(60)));
    /// assert_eq!(fake.billable_submits(), 0);
    /// # }
    /// ```
    pub fn rejected_with_status(status: u16, retry_after: Option<std::time::Duration>) -> Self {
        let mut s = Self::succeeds();
        s.submit = Submit::Answered {
            status,
            retry_after,
        };
        s
    }

    /// The job is created as scripted, but the submit's answer is lost: the caller gets
    /// `ErrorKind::OutcomeUnknown` (with the idempotency key for VMEG), as the real client
    /// does when a write may have landed: phase `Sent`, `last_attempt_at` set, and the
    /// request summarized as the client summarizes it (a VMEG clone's `voiceName` among its
    /// fields), so [`ReconcileQuery::from_error`](crate::ReconcileQuery::from_error) gives
    /// what it gives on the client's. The job still counts in
    /// [`FakeClient::billable_submits`](super::FakeClient::billable_submits). Nobody holds
    /// its id to poll it, so it moves on by itself: each
    /// [`list_voices`](crate::VoiceCloning::list_voices) call is one step of its script
    /// (as time passes while you look), and a clone is listed from the call that reads its
    /// success on, not at once: VMEG lists a clone only once its task finished, so "not
    /// listed yet" never means "not created" (with [`Script::succeeds`]'s three steps, the
    /// third look lists it; `with_statuses([TaskStatus::Succeeded])` the first). Code that
    /// resubmits because one look did not list the clone bills twice; the client's
    /// [`reconcile`](crate::Client::reconcile) says when a search is complete.
    pub fn outcome_unknown(mut self) -> Self {
        self.submit = Submit::Lost;
        self
    }

    /// The submit's failure answer names the task it made, as VMEG's 502 does when it says
    /// to poll `tasks/detail` with the `taskId` (api-facts A3), or a JimmyAI error answer
    /// that carries a task id: the client never resends such a submit, and its
    /// `OutcomeUnknown` carries that task's id (`task_id`), typed like an accepted submit's,
    /// so your code can wait on it instead of searching. The job exists, counts in
    /// [`FakeClient::billable_submits`](super::FakeClient::billable_submits), and moves
    /// when read (with its id), as an accepted one does (a synchronous one whose task failed
    /// is finished when its error comes).
    ///
    /// For a submit that fails: with [`Script::outcome_unknown`] or [`Script::rejected`]
    /// (a refusal that names a task is not read as "nothing made" either: it ends
    /// `OutcomeUnknown` too, as with the client), or a synchronous one whose script fails or
    /// never finishes. A submit that uses it on an accepted asynchronous script, or on a
    /// synchronous one that succeeds, is refused with `InvalidInput { field: "script", .. }`,
    /// naming this method.
    ///
    /// ```
    /// use voiceclone::fake::{FakeClient, Script};
    /// use voiceclone::{CloneRequest, ErrorKind, Provider, VoiceCloning, WaitPolicy};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), voiceclone::Error> {
    /// let fake = FakeClient::new(Provider::Vmeg);
    /// fake.script_clone(Script::rejected(ErrorKind::Server).naming_its_task().with_voice_id("v-1"));
    /// let err = fake.clone_voice(&CloneRequest::new("https://cdn.example.com/a.wav")).await.unwrap_err();
    /// let ErrorKind::OutcomeUnknown { task_id: Some(task), .. } = err.kind() else { panic!("{err}") };
    /// let voice = fake.wait_for_clone(task, &WaitPolicy::for_provider(Provider::Vmeg)).await?;
    /// assert_eq!(voice.id.as_str(), "v-1");
    /// # Ok(())
    /// # }
    /// ```
    pub fn naming_its_task(mut self) -> Self {
        self.names_task = true;
        self
    }

    /// VMEG: the clone succeeds, but the first wait's lookup of its voice fails with `kind`
    /// (the client finds a finished clone's voice in the voice list when the task's answer
    /// does not name it, so a 429, a 5xx, a refused connection or a timeout can come after the
    /// success): that wait ends with `kind`, noting that the task succeeded and must not be
    /// submitted again, and `may_resubmit()` false, as the client's does, with the HTTP status
    /// and vendor code of the voice list's answer (`429` for `RateLimited`) where one carries
    /// the kind; waiting again finds the voice. Code that reads `RateLimited` or `Server` as
    /// "start over" bills twice there. As the task's answer names no voice, a status read
    /// (`clone_status`) of such a job has `voice: None`, as the client's has: only a wait
    /// (or `list_voices`) finds the voice.
    ///
    /// Only what a lookup can fail with (the kinds [`Script::then_error`] takes), on a VMEG
    /// clone (JimmyAI's answer carries its voice): a submit that uses it otherwise is refused
    /// with `InvalidInput { field: "script", .. }`, naming this method.
    ///
    /// ```
    /// use voiceclone::fake::{FakeClient, Script};
    /// use voiceclone::{CloneRequest, ErrorKind, Provider, VoiceCloning, WaitPolicy};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), voiceclone::Error> {
    /// let fake = FakeClient::new(Provider::Vmeg);
    /// fake.script_clone(Script::succeeds().with_failed_lookup(ErrorKind::RateLimited));
    /// let job = fake.clone_voice(&CloneRequest::new("https://cdn.example.com/a.wav")).await?;
    /// let policy = WaitPolicy::for_provider(Provider::Vmeg);
    /// let err = fake.wait_for_clone(&job.id, &policy).await.unwrap_err();
    /// assert_eq!(err.kind(), &ErrorKind::RateLimited);
    /// assert!(!err.may_resubmit());
    /// assert!(fake.wait_for_clone(&job.id, &policy).await.is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_failed_lookup(mut self, kind: ErrorKind) -> Self {
        self.failed_lookup = Some(kind);
        self
    }

    /// VMEG clone: the task's answer names no voice, which VMEG may do (the shape of a clone
    /// task's `result` is UNKNOWN, which is why the client's wait looks the voice up in the
    /// clone list): a status read ([`clone_status`](crate::VoiceCloning::clone_status)) of
    /// the succeeded job has `voice: None`, and a wait (or `list_voices`) finds the voice.
    /// Code that polls `clone_status` itself and reads "succeeded without a voice" as a
    /// failure clones again and pays twice. Only on a VMEG clone (JimmyAI's answer carries its
    /// voice): a submit that uses it otherwise is refused with
    /// `InvalidInput { field: "script", .. }`, naming this method.
    ///
    /// ```
    /// use voiceclone::fake::{FakeClient, Script};
    /// use voiceclone::{CloneRequest, Provider, TaskStatus, VoiceCloning, WaitPolicy};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), voiceclone::Error> {
    /// let fake = FakeClient::new(Provider::Vmeg);
    /// fake.script_clone(Script::succeeds().without_voice_in_status());
    /// let job = fake.clone_voice(&CloneRequest::new("https://cdn.example.com/a.wav")).await?;
    /// let policy = WaitPolicy::for_provider(Provider::Vmeg);
    /// // The wait looks the voice up, as the client's does.
    /// assert!(fake.wait_for_clone(&job.id, &policy).await.is_ok());
    /// let read = fake.clone_status(&job.id).await?;
    /// assert_eq!((read.status, read.voice), (TaskStatus::Succeeded, None));
    /// # Ok(())
    /// # }
    /// ```
    pub fn without_voice_in_status(mut self) -> Self {
        self.no_status_voice = true;
        self
    }

    /// VMEG: a refused submit (one that creates nothing: [`Script::rejected`] with a refusal,
    /// [`Script::rejected_with_status`] with a status that says nothing was done) still uses
    /// up its idempotency key, as VMEG may: whether a refused first attempt takes the key is
    /// UNKNOWN (api-facts A4). A later submit under that key is then answered `Conflict`,
    /// although nothing was ever made: code that resends a refused request under its key and
    /// reads `Conflict` as "it exists" loses the job. Without this, a refusal leaves the key
    /// free. A submit that uses it on an accepted or lost script, or on JimmyAI (which
    /// documents no key), is refused with `InvalidInput { field: "script", .. }`.
    ///
    /// ```
    /// use voiceclone::fake::{FakeClient, Script};
    /// use voiceclone::{CloneRequest, ErrorKind, Provider, VoiceCloning};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), voiceclone::Error> {
    /// let fake = FakeClient::new(Provider::Vmeg);
    /// fake.script_clone(Script::rejected(ErrorKind::RateLimited).using_up_its_key());
    /// let req = CloneRequest::new("https://cdn.example.com/a.wav").idempotency_key("job-7");
    /// let err = fake.clone_voice(&req).await.unwrap_err();
    /// assert_eq!(err.kind(), &ErrorKind::RateLimited);
    /// let again = fake.clone_voice(&req).await.unwrap_err();
    /// assert_eq!(again.kind(), &ErrorKind::Conflict);
    /// assert_eq!(fake.billable_submits(), 0, "nothing was ever made");
    /// # Ok(())
    /// # }
    /// ```
    pub fn using_up_its_key(mut self) -> Self {
        self.uses_up_key = true;
        self
    }

    /// Replaces the steps with these statuses.
    ///
    /// A VMEG status word the vendor does not document, given as
    /// `TaskStatus::Unknown(word)`, is read as the client reads it: a word it guesses
    /// (`timeout`, `expired`, `cancelled`, `error`, `done`, ...) as that status, the job
    /// keeping the word ([`Job::assumed_status`](crate::Job::assumed_status)), and a wait
    /// that ends on a guessed failure says it is assumed and never advises a new submit
    /// ([`Error::assumed_status`](crate::Error::assumed_status)); any other word stays
    /// `Unknown` and is polled past. Steps may follow a guessed word (the guess may be
    /// wrong), not a documented terminal status. A JimmyAI word is read through JimmyAI's
    /// table as the client reads it (`Completed`, ` PROCESSING ` in any case, trimmed, as
    /// that status, the word kept as the vendor's status; never an assumption); any other
    /// word stays `Unknown`.
    pub fn with_statuses(mut self, statuses: impl IntoIterator<Item = TaskStatus>) -> Self {
        self.steps = statuses.into_iter().map(Step::Status).collect();
        self
    }

    /// Adds a read that sees `status`.
    pub fn then_status(mut self, status: TaskStatus) -> Self {
        self.steps.push(Step::Status(status));
        self
    }

    /// Adds a read that fails with `kind`. A wait treats it as the client does: a transient
    /// kind (`Server`, `RateLimited`, `Timeout`, `Transport`) is polled past; `Vendor` (a
    /// business code the vendor does not document, in an HTTP 200) is polled past up to
    /// [`crate::wait::UNREADABLE_POLLS_TOLERATED`] in a row, counted with unreadable answers
    /// (and since the last status, transient errors between them included);
    /// any other ends the wait with that error. It carries what the client's does: the HTTP
    /// status and code of the provider's answer for it, and its
    /// [`phase`](crate::Error::phase) (a `Timeout` came after sending, `Sent`; a `Transport`
    /// failure is a connection that never opened, `NotSent`; `InvalidInput` is read from an
    /// answer, `Answered`).
    ///
    /// Only what a status read of the client can fail with: `InvalidInput` (an answer about
    /// a task of the other kind), `Unauthorized`, `PaymentRequired`, `InvalidRequest`,
    /// `NotFound`, `PayloadTooLarge`, `RateLimited`, `Server`, `Timeout`, `Transport`,
    /// `InvalidResponse`, `Vendor`. A submit that uses a script with another kind here
    /// (`Conflict`, `OutcomeUnknown`, `TaskFailed`, ...) is refused with
    /// `InvalidInput { field: "script", .. }`, naming this method: a test must not pass on
    /// an error the client never gives.
    pub fn then_error(mut self, kind: ErrorKind) -> Self {
        self.steps.push(Step::Error(kind));
        self
    }

    /// Adds a read answered with no envelope at all (a proxy's HTML page sent with status
    /// 200): `InvalidResponse`, which a wait polls past as the client does, up to
    /// [`crate::wait::UNREADABLE_POLLS_TOLERATED`] in a row (while `then_error` with
    /// `InvalidResponse`, an answer that reads but is wrong, ends a wait at once). A
    /// synchronous submit reads no status and skips it.
    ///
    /// ```
    /// use voiceclone::fake::{FakeClient, Script};
    /// use voiceclone::{CloneRequest, ErrorKind, Provider, TaskStatus, VoiceCloning, WaitPolicy};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), voiceclone::Error> {
    /// let fake = FakeClient::new(Provider::Vmeg);
    /// let queued = || Script::new().with_statuses([TaskStatus::Queued]);
    /// // Two in a row, then the task's status: the wait reads on.
    /// fake.script_clone(
    ///     queued().then_unreadable_answer().then_unreadable_answer().then_status(TaskStatus::Succeeded),
    /// );
    /// // Three in a row: the wait ends on the last, and the task may exist.
    /// fake.script_clone(
    ///     queued().then_unreadable_answer().then_unreadable_answer().then_unreadable_answer(),
    /// );
    /// let policy = WaitPolicy::for_provider(Provider::Vmeg);
    /// let request = CloneRequest::new("https://cdn.example.com/a.wav");
    /// let read_on = fake.clone_voice(&request).await?;
    /// assert!(fake.wait_for_clone(&read_on.id, &policy).await.is_ok());
    /// let ended = fake.clone_voice(&request).await?;
    /// let err = fake.wait_for_clone(&ended.id, &policy).await.unwrap_err();
    /// assert_eq!(err.kind(), &ErrorKind::InvalidResponse);
    /// assert!(!err.may_resubmit());
    /// # Ok(())
    /// # }
    /// ```
    pub fn then_unreadable_answer(mut self) -> Self {
        self.steps.push(Step::Unreadable);
        self
    }

    /// The reason a `Failed` status carries (default: "failed by the script"), read as the
    /// client reads the provider's: each run of whitespace or control characters becomes one
    /// space, and at most 500 characters are kept. `"too short\nretry"` is
    /// `"too short retry"` in the job's [`error`](crate::Job::error) and the wait's
    /// `TaskFailed` reason, as in production; a newline never reaches your log lines.
    ///
    /// The client keeps no blank reason from the provider: a submit that uses a script whose
    /// reason is blank or only control characters (here or in [`Script::fails`]) is refused
    /// with `InvalidInput { field: "script", .. }`, naming this method.
    pub fn with_failure_reason(mut self, reason: impl Into<String>) -> Self {
        self.failure_reason = Some(reason.into());
        self
    }

    /// The vendor voice id a succeeded clone gives (default: `fake-voice-<n>`): the bare id,
    /// as the provider sends it (`v-1`, not the stored form `vmeg:voice:v-1`).
    ///
    /// It is read as the client reads the provider's: surrounding whitespace is trimmed
    /// (`" v-1 "` gives `v-1`). A submit that uses a script whose id the client would not
    /// take (blank, with `/`, whitespace or control characters inside, longer than 256
    /// bytes: see the ids the client accepts) or a stored form, or a speech submit that uses
    /// it (a speech job names no voice), is refused with
    /// `InvalidInput { field: "script", .. }`, naming this method.
    pub fn with_voice_id(mut self, id: impl Into<String>) -> Self {
        self.voice_id = Some(id.into());
        self
    }

    /// The script as a submit of `provider`'s fake uses it: `InvalidInput` (field `script`,
    /// naming the method) for what the client never reports, the voice id read as the
    /// client reads one from the provider.
    pub(super) fn checked(mut self, provider: Provider) -> Result<Self, Error> {
        let refuse = |reason: String| Error::invalid_input("script", reason);
        for step in &self.steps {
            if let Step::Error(kind) = step
                && let Some(name) = never_read(kind)
            {
                return Err(refuse(format!(
                    "Script::then_error({name}): a status read of the client never fails with {name} (see Script::then_error for the kinds it does)"
                )));
            }
        }
        // A status word is read through the provider's table as the client reads it, and
        // stays the vendor's word: VMEG's undocumented words as its guess (the job's
        // `assumed_status`), JimmyAI's documented four in any case, trimmed. Any other word
        // stays `Unknown`, as the client keeps it.
        for step in &mut self.steps {
            if let Step::Status(TaskStatus::Unknown(raw)) = step {
                let status = match provider {
                    Provider::Vmeg => crate::provider::vmeg::map_status(raw),
                    Provider::JimmyAi => crate::provider::jimmyai::map_status(raw),
                };
                if !matches!(status, TaskStatus::Unknown(_)) {
                    let word = std::mem::take(raw);
                    *step = Step::Word { status, word };
                }
            }
        }
        // A step after the first terminal status is never read (a finished task stays
        // finished): `rejected(Server).then_status(Failed)` would silently end Succeeded,
        // `rejected` starting from `succeeds()`'s steps. A guessed VMEG word is no such end:
        // the guess may be wrong, and a later read see the task go on. JimmyAI's words are
        // all documented.
        let documented = |s: &Step| match s {
            Step::Status(t) => t.is_terminal(),
            Step::Word { status, .. } => provider == Provider::JimmyAi && status.is_terminal(),
            _ => false,
        };
        let documented_end = self.steps.iter().position(documented);
        if let Some(end) = documented_end
            && let Some(status) = self.steps.get(end).and_then(Step::status)
            && end < self.steps.len().saturating_sub(1)
        {
            return Err(refuse(format!(
                "a step after the terminal status {status} (step {} of {}) is never read: a finished task stays finished (Script::rejected and Script::succeeds start with their own steps up to Succeeded; use Script::with_statuses to give all of them)",
                end.saturating_add(1),
                self.steps.len()
            )));
        }
        if let Submit::Answered { status, .. } = self.submit
            && !(400..=599).contains(&status)
        {
            return Err(refuse(format!(
                "Script::rejected_with_status({status}): a refusal's HTTP status is 400 to 599"
            )));
        }
        if let Submit::Rejected(kind) = &self.submit {
            if let Some(name) = never_submitted(kind) {
                return Err(refuse(format!(
                    "Script::rejected({name}): a submit of the client never fails with {name}"
                )));
            }
            if let ErrorKind::Unsupported { provider: p, .. } = kind
                && *p != provider
            {
                return Err(refuse(format!(
                    "Script::rejected(Unsupported {{ provider: {p} }}): this fake is a {provider} client, and a client reports only its own provider's"
                )));
            }
        }
        // What the client reads from the provider: http(s) URLs only (`wire::parse_url`
        // drops any other), and a reason folded to one line of at most 500 characters, none
        // that folds to nothing (it keeps none).
        let not_http = |u: &Url| !matches!(u.scheme(), "http" | "https");
        if let Some(url) = self.preview_url.as_ref().filter(|u| not_http(u)) {
            return Err(refuse(format!(
                "Script::with_preview_url({:?}): the client drops a preview URL that is not http or https",
                url.as_str()
            )));
        }
        if let Some(url) = self.audio_urls.iter().find(|u| not_http(u)) {
            return Err(refuse(format!(
                "Script::with_audio_urls([.., {:?}, ..]): the client takes no audio URL that is not http or https; a line whose URL it cannot read is Script::with_unreadable_line",
                url.as_str()
            )));
        }
        let fold = |r: &str| crate::error::folded(r, crate::error::MAX_MESSAGE_CHARS);
        if let Some((line, reason)) = self.failed_lines.iter().find(|(_, r)| fold(r).is_empty()) {
            return Err(refuse(format!(
                "Script::with_failed_line({line}, {reason:?}): the client keeps no blank reason; give the reason, or script a line with neither audio nor reason (one the client cannot read, which VMEG did not say failed) with Script::with_unreadable_line"
            )));
        }
        if let Some(reason) = self.failure_reason.as_ref().filter(|r| fold(r).is_empty()) {
            return Err(refuse(format!(
                "Script::with_failure_reason({reason:?}) (or Script::fails): the client keeps no blank reason; give the reason"
            )));
        }
        for (_, reason) in &mut self.failed_lines {
            *reason = fold(reason);
        }
        if let Some(reason) = &mut self.failure_reason {
            *reason = fold(reason);
        }
        if let Some(raw) = &self.voice_id {
            let Some(id) = crate::wire::usable_id(Some(raw)) else {
                return Err(refuse(format!(
                    "Script::with_voice_id({raw:?}): the client takes no such voice id from the provider (blank, or with '/', whitespace or control characters, or too long)"
                )));
            };
            if let Ok(stored) = id.parse::<VoiceId>()
                && stored.provider().is_some()
            {
                return Err(refuse(format!(
                    "Script::with_voice_id({raw:?}): give the provider's bare id ({:?}), not a stored form",
                    stored.as_str()
                )));
            }
            let id = id.to_owned();
            self.voice_id = Some(id);
        }
        Ok(self)
    }

    /// The script as a `kind` submit (`synchronous` or not, of a request of `lines` lines)
    /// of `provider`'s fake uses it: `InvalidInput` (field `script`) for an answer the
    /// client never meets there.
    pub(super) fn checked_for_submit(
        self,
        provider: Provider,
        kind: JobKind,
        sync: bool,
        lines: usize,
    ) -> Result<Self, Error> {
        let refuse = |reason: &str| Err(Error::invalid_input("script", reason));
        if self.no_task_id && !(provider == Provider::Vmeg && sync) {
            return refuse(
                "Script::without_task_id(): only a VMEG synchronous(true) submit's answer can carry its result without a taskId (an asynchronous answer without one is Script::rejected(ErrorKind::InvalidResponse))",
            );
        }
        self.checked_lines(provider, kind, lines)?;
        self.checked_results(provider, kind)?;
        if self.uses_up_key
            && !(provider == Provider::Vmeg
                && matches!(self.submit, Submit::Rejected(_) | Submit::Answered { .. }))
        {
            return refuse(
                "Script::using_up_its_key(): only a VMEG refusal (Script::rejected, Script::rejected_with_status) can use up its key; an accepted or lost submit makes a task under it anyway, and JimmyAI documents no key",
            );
        }
        let every_line_failed = lines > 0
            && (0..lines).all(|i| {
                self.failed_lines.iter().any(|(l, _)| *l == i)
                    || self.unreadable_lines.contains(&i)
                    || self.dropped_lines.contains(&i)
            });
        if self.no_task_id && (self.no_audio || every_line_failed) {
            return refuse(
                "Script::without_task_id() with no audio: an answer that names no task and carries no result is one the client cannot use, and ends OutcomeUnknown (script that with Script::rejected(ErrorKind::InvalidResponse))",
            );
        }
        if let Some(lookup) = &self.failed_lookup
            && (provider != Provider::Vmeg
                || kind != JobKind::Clone
                || never_read(lookup).is_some())
        {
            return refuse(
                "Script::with_failed_lookup(..): only a VMEG clone's wait looks its voice up, and a lookup fails only with the kinds a read fails with (see Script::then_error)",
            );
        }
        if self.no_status_voice && (provider != Provider::Vmeg || kind != JobKind::Clone) {
            return refuse(
                "Script::without_voice_in_status(): only a VMEG clone's answer may name no voice (JimmyAI's carries its voice)",
            );
        }
        let succeeds_at_once = sync
            && matches!(self.sync_answer(), SyncAnswer::Finished(at)
                if self.steps.get(at).and_then(Step::status) == Some(&TaskStatus::Succeeded));
        if self.names_task && self.submit == Submit::Accepted && (!sync || succeeds_at_once) {
            return refuse(
                "Script::naming_its_task(): only a submit that fails names its task in its error (use Script::outcome_unknown or Script::rejected)",
            );
        }
        Ok(self)
    }

    /// The setters of one kind's or one provider's result checked against a `kind` submit:
    /// as with the line setters, one silently ignored would let a test pass without
    /// exercising what it scripts (review 34-b #5).
    fn checked_results(&self, provider: Provider, kind: JobKind) -> Result<(), Error> {
        let refuse = |reason: &str| Err(Error::invalid_input("script", reason));
        let clone = kind == JobKind::Clone;
        if clone && self.no_audio {
            return refuse(
                "Script::without_audio(): only a speech job's answer carries audio; a clone's result is its voice",
            );
        }
        if clone && !self.audio_urls.is_empty() {
            return refuse(
                "Script::with_audio_urls(..): only a speech job's answer carries audio URLs; a JimmyAI clone's preview is Script::with_preview_url",
            );
        }
        if !clone && self.voice_id.is_some() {
            return refuse(
                "Script::with_voice_id(..): only a clone's answer names a voice; a speech job's result is its audio",
            );
        }
        if self.preview_url.is_some() && (provider != Provider::JimmyAi || !clone) {
            return refuse(
                "Script::with_preview_url(..): only a JimmyAI clone's voice has a preview (VMEG's voices have none, and a speech job's result is its audio)",
            );
        }
        Ok(())
    }

    /// The per-line setters checked against a `kind` submit of `lines` lines: a test whose
    /// line setter is silently ignored would pass without exercising what it scripts (review
    /// 30 pass 3 #5).
    fn checked_lines(&self, provider: Provider, kind: JobKind, lines: usize) -> Result<(), Error> {
        let refuse = |reason: String| Err(Error::invalid_input("script", reason));
        let setters: [(&str, Vec<usize>); 3] = [
            (
                "Script::with_failed_line",
                self.failed_lines.iter().map(|(l, _)| *l).collect(),
            ),
            (
                "Script::with_unreadable_line",
                self.unreadable_lines.clone(),
            ),
            (
                "Script::without_result_for_line",
                self.dropped_lines.clone(),
            ),
        ];
        for (setter, indexes) in &setters {
            let Some(first) = indexes.first() else {
                continue;
            };
            if provider != Provider::Vmeg || kind != JobKind::Speech {
                return refuse(format!(
                    "{setter}({first}): only a VMEG speech answer has a result per line (JimmyAI reports no line apart, and a clone has no lines)"
                ));
            }
            if let Some(past) = indexes.iter().find(|i| **i >= lines) {
                return refuse(format!(
                    "{setter}({past}): the request has {lines} line(s), indexed from 0, so no line {past}"
                ));
            }
        }
        for (at, (setter, indexes)) in setters.iter().enumerate() {
            for (other, other_indexes) in setters.iter().skip(at.saturating_add(1)) {
                if let Some(both) = indexes.iter().find(|i| other_indexes.contains(i)) {
                    return refuse(format!(
                        "{setter}({both}) and {other}({both}): a line comes back one way; script each line with one of them"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The index of the first step that is a terminal status, as the client reads it (a
    /// guessed VMEG word among them).
    fn first_terminal(&self) -> Option<usize> {
        self.steps
            .iter()
            .position(|s| s.status().is_some_and(TaskStatus::is_terminal))
    }

    /// Where a job nobody polls ends up: how many reads it has taken (the next read sees its
    /// first terminal status; every step when it has none) and whether it succeeded.
    pub(super) fn run_out(&self) -> (usize, bool) {
        match self.first_terminal() {
            Some(i) => (
                i,
                self.steps.get(i).and_then(Step::status) == Some(&TaskStatus::Succeeded),
            ),
            None => (self.steps.len(), false),
        }
    }

    /// A synchronous submit's answer: the first step that is a terminal status or an error.
    pub(super) fn sync_answer(&self) -> SyncAnswer {
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                Step::Error(k) => return SyncAnswer::Failed(k.clone()),
                s if s.status().is_some_and(TaskStatus::is_terminal) => {
                    return SyncAnswer::Finished(i);
                }
                _ => {}
            }
        }
        SyncAnswer::Unfinished
    }

    /// JimmyAI: the preview URL a succeeded clone's voice gives (default:
    /// `https://fake.invalid/preview/<n>.mp3`; VMEG voices have none).
    ///
    /// The client takes only `http` and `https` URLs from the provider (it drops others,
    /// such as `file:` or `javascript:`): a submit that uses a script with another scheme
    /// here, or this setter where it would be ignored (a VMEG clone, a speech job), is
    /// refused with `InvalidInput { field: "script", .. }`, naming this method.
    pub fn with_preview_url(mut self, url: Url) -> Self {
        self.preview_url = Some(url);
        self
    }

    /// The audio URLs a succeeded speech job gives, in line order.
    ///
    /// The result is shaped as the client reads the provider's answer. VMEG answers one
    /// result per line of the request: line `i` (from 0) has the `i`-th URL (default
    /// `https://fake.invalid/speech/<n>-<i + 1>.wav`) and a segment of its own, which says
    /// it lasts one second; URLs past the request's lines are not used. JimmyAI speaks one
    /// line per task: its one `audioUrl` is the first URL (default
    /// `https://fake.invalid/speech/<n>.wav`), with no segments, and a subtitle file
    /// (`https://fake.invalid/speech/<n>.srt`) when the request asked for subtitles.
    ///
    /// The client takes only `http` and `https` URLs from the provider: a submit that uses a
    /// script with a URL of another scheme here (`file:`, `data:`, ...), or this setter on a
    /// clone (whose result is its voice), is refused with
    /// `InvalidInput { field: "script", .. }`, naming this method.
    pub fn with_audio_urls(mut self, urls: impl IntoIterator<Item = Url>) -> Self {
        self.audio_urls = urls.into_iter().collect();
        self
    }

    /// VMEG: line `index` (from 0, in the request's order) of a succeeded speech job fails
    /// with `reason`, as VMEG reports a line it could not speak within a finished task: its
    /// segment has no URL and carries the reason (folded and cut as
    /// [`Script::with_failure_reason`]'s is), and it is left out of
    /// [`Speech::audio_urls`](crate::Speech::audio_urls). When every line fails, the task
    /// has no audio and a wait for it ends as the client's does, with `TaskFailed` quoting
    /// the lines' reasons, never [`may_resubmit`](crate::Error::may_resubmit) (the task
    /// exists; waiting again reads the same).
    /// JimmyAI speaks one line per task and reports no line apart: script its failure with
    /// [`Script::fails`]. A submit that uses a script with a blank reason here (or one of
    /// control characters only), an index past the request's lines, a line also given to
    /// another line setter, or this setter on JimmyAI or a clone, is refused with
    /// `InvalidInput { field: "script", .. }`, naming this method.
    ///
    /// ```
    /// use voiceclone::fake::{FakeClient, Script};
    /// use voiceclone::{ErrorKind, Provider, SpeechRequest, VoiceCloning, WaitPolicy};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), voiceclone::Error> {
    /// let fake = FakeClient::new(Provider::Vmeg);
    /// fake.script_speech(Script::succeeds().with_failed_line(1, "unsupported characters"));
    /// let req = SpeechRequest::new("cv_1", "One.")
    ///     .add_line("cv_1", "Two.")
    ///     .add_line("cv_1", "Three.");
    /// let job = fake.synthesize(&req).await?;
    /// let speech = fake
    ///     .wait_for_speech(&job.id, &WaitPolicy::for_provider(Provider::Vmeg))
    ///     .await?;
    /// assert_eq!(speech.audio_urls.len(), 2);
    /// assert_eq!(speech.segments.len(), 3);
    /// assert!(speech.segments[1].url.is_none());
    /// assert_eq!(speech.segments[1].error.as_deref(), Some("unsupported characters"));
    ///
    /// // Every line failed: no audio at all.
    /// fake.script_speech(Script::succeeds().with_failed_line(0, "unsupported characters"));
    /// let job = fake.synthesize(&SpeechRequest::new("cv_1", "One.")).await?;
    /// let err = fake
    ///     .wait_for_speech(&job.id, &WaitPolicy::for_provider(Provider::Vmeg))
    ///     .await
    ///     .unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::TaskFailed { .. }), "{err}");
    /// assert!(!err.may_resubmit());
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_failed_line(mut self, index: usize, reason: impl Into<String>) -> Self {
        self.failed_lines.push((index, reason.into()));
        self
    }

    /// VMEG: line `index` (from 0) of a succeeded speech job comes back as the client reads
    /// a result it cannot use: no `uri` (or one that is relative or not http(s)) and no
    /// `errorMessage`. Its segment has no URL, no [`error`](crate::SpeechSegment::error) and
    /// the [`unreadable`](crate::SpeechSegment::unreadable) reason, and
    /// [`SpeechSegment::failed`](crate::SpeechSegment::failed) is false: VMEG did not say the
    /// line failed, and the task may hold its audio, so such a line is to be read again, not
    /// synthesized again (that bills it twice). When no line has audio and none failed by
    /// the vendor's word, a wait ends as the client's does: `InvalidResponse`, with
    /// [`Error::audio_unreadable`](crate::Error::audio_unreadable) naming the lines, never
    /// [`may_resubmit`](crate::Error::may_resubmit). A submit that uses a script with an index
    /// past the request's lines, a line also given to another line setter, or this setter on
    /// JimmyAI (which reports no line apart) or a clone, is refused with
    /// `InvalidInput { field: "script", .. }`, naming this method.
    ///
    /// ```
    /// use voiceclone::fake::{FakeClient, Script};
    /// use voiceclone::{ErrorKind, Provider, SpeechRequest, VoiceCloning, WaitPolicy};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), voiceclone::Error> {
    /// let fake = FakeClient::new(Provider::Vmeg);
    /// let policy = WaitPolicy::for_provider(Provider::Vmeg);
    /// fake.script_speech(Script::succeeds().with_unreadable_line(1));
    /// let req = SpeechRequest::new("cv_1", "One.").add_line("cv_1", "Two.");
    /// let job = fake.synthesize(&req).await?;
    /// let speech = fake.wait_for_speech(&job.id, &policy).await?;
    /// assert!(!speech.is_complete());
    /// let line = &speech.segments[1];
    /// assert!(line.url.is_none() && !line.failed() && line.unreadable.is_some());
    ///
    /// // No line readable: the client's `InvalidResponse`, marked `audio_unreadable`.
    /// fake.script_speech(Script::succeeds().with_unreadable_line(0));
    /// let job = fake.synthesize(&SpeechRequest::new("cv_1", "One.")).await?;
    /// let err = fake.wait_for_speech(&job.id, &policy).await.unwrap_err();
    /// assert_eq!(err.kind(), &ErrorKind::InvalidResponse);
    /// assert!(err.audio_unreadable().is_some());
    /// assert!(!err.may_resubmit());
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_unreadable_line(mut self, index: usize) -> Self {
        self.unreadable_lines.push(index);
        self
    }

    /// VMEG: the answer of a succeeded speech job lists no result for line `index` (from
    /// 0), as VMEG may (one result per line is not documented): its
    /// [`segments`](crate::Speech::segments) are one fewer than the lines sent, so
    /// `segments[i]` need not be line `i`. Read by a task id,
    /// [`lines_sent`](crate::Speech::lines_sent) is `None` and
    /// [`Speech::is_complete`](crate::Speech::is_complete) can be true: compare
    /// `segments.len()` with the lines you sent. A synchronous answer has `lines_sent`, as the
    /// client's does, and is not complete. A submit that uses a script with an index past the
    /// request's lines, a line also given to another line setter, or this setter on JimmyAI
    /// (which reports no line apart) or a clone, is refused with
    /// `InvalidInput { field: "script", .. }`, naming this method.
    ///
    /// ```
    /// use voiceclone::fake::{FakeClient, Script};
    /// use voiceclone::{Provider, SpeechRequest, VoiceCloning, WaitPolicy};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), voiceclone::Error> {
    /// let fake = FakeClient::new(Provider::Vmeg);
    /// fake.script_speech(Script::succeeds().without_result_for_line(1));
    /// let req = SpeechRequest::new("cv_1", "One.")
    ///     .add_line("cv_1", "Two.")
    ///     .add_line("cv_1", "Three.");
    /// let job = fake.synthesize(&req).await?;
    /// let speech = fake
    ///     .wait_for_speech(&job.id, &WaitPolicy::for_provider(Provider::Vmeg))
    ///     .await?;
    /// assert_eq!((speech.segments.len(), speech.lines_sent), (2, None));
    /// assert_ne!(speech.segments.len(), req.lines.len());
    /// # Ok(())
    /// # }
    /// ```
    pub fn without_result_for_line(mut self, index: usize) -> Self {
        self.dropped_lines.push(index);
        self
    }

    /// The job succeeds, but the answer carries no audio (VMEG: no `results`; JimmyAI: no
    /// `audioUrl`). A status read says `Succeeded` with no
    /// [`speech`](crate::SpeechJob::speech), and a wait for it fails with
    /// `InvalidResponse`, as the client's does with such an answer. A clone submit that uses
    /// it (a clone's result is its voice) is refused with
    /// `InvalidInput { field: "script", .. }`, naming this method.
    ///
    /// ```
    /// use voiceclone::fake::{FakeClient, Script};
    /// use voiceclone::{ErrorKind, Provider, SpeechRequest, TaskStatus, VoiceCloning, WaitPolicy};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), voiceclone::Error> {
    /// let fake = FakeClient::new(Provider::JimmyAi);
    /// fake.script_speech(Script::succeeds().without_audio());
    /// let job = fake.synthesize(&SpeechRequest::new("m-1", "Hello.")).await?;
    /// let policy = WaitPolicy::for_provider(Provider::JimmyAi);
    /// let err = fake.wait_for_speech(&job.id, &policy).await.unwrap_err();
    /// assert_eq!(err.kind(), &ErrorKind::InvalidResponse);
    /// let read = fake.speech_status(&job.id).await?;
    /// assert_eq!((read.status, read.speech), (TaskStatus::Succeeded, None));
    /// # Ok(())
    /// # }
    /// ```
    pub fn without_audio(mut self) -> Self {
        self.no_audio = true;
        self
    }

    /// VMEG, a `synchronous(true)` submit: the answer carries its result but no `taskId`
    /// (VMEG's schema does not mark it required there), so the finished job comes back
    /// under an id that names no task ([`JobId::names_no_task`](crate::JobId::names_no_task),
    /// `vmeg:<kind>:#no-task-id`), as the client returns it: the job holds its result, and
    /// every call given that id (status, wait) is refused as `InvalidInput` (field `job_id`)
    /// with nothing asked. Code that stores a job's id to look at it later must handle it.
    ///
    /// A submit that uses it on another provider, or on an asynchronous submit (whose answer
    /// without a `taskId` the client cannot use: script that with
    /// `Script::rejected(ErrorKind::InvalidResponse)`), is refused with
    /// `InvalidInput { field: "script", .. }`, naming this method.
    ///
    /// ```
    /// use voiceclone::fake::{FakeClient, Script};
    /// use voiceclone::{CloneRequest, ErrorKind, Provider, VoiceCloning};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), voiceclone::Error> {
    /// let fake = FakeClient::new(Provider::Vmeg);
    /// fake.script_clone(Script::succeeds().with_voice_id("v-9").without_task_id());
    /// let req = CloneRequest::new("https://cdn.example.com/a.wav").synchronous(true);
    /// let job = fake.clone_voice(&req).await?;
    /// assert!(job.id.names_no_task());
    /// assert_eq!(job.voice.as_ref().map(|v| v.id.as_str()), Some("v-9"));
    /// let err = fake.clone_status(&job.id).await.unwrap_err();
    /// assert!(matches!(err.kind(), ErrorKind::InvalidInput { field, .. } if field == "job_id"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn without_task_id(mut self) -> Self {
        self.no_task_id = true;
        self
    }
}

/// The name of a kind no status read of the client fails with.
fn never_read(kind: &ErrorKind) -> Option<&'static str> {
    Some(match kind {
        // VMEG's 409 answers a write under a used key, never a read.
        ErrorKind::Conflict => "Conflict",
        ErrorKind::OutcomeUnknown { .. } => "OutcomeUnknown",
        // A read that sees a failed task answers with its status; the wait makes TaskFailed.
        ErrorKind::TaskFailed { .. } => "TaskFailed",
        ErrorKind::WaitTimedOut { .. } => "WaitTimedOut",
        ErrorKind::Unsupported { .. } => "Unsupported",
        ErrorKind::Webhook(_) => "Webhook",
        ErrorKind::Download(_) => "Download",
        _ => return None,
    })
}

/// The name of a kind no submit of the client fails with.
fn never_submitted(kind: &ErrorKind) -> Option<&'static str> {
    Some(match kind {
        ErrorKind::TaskFailed { .. } => "TaskFailed",
        ErrorKind::WaitTimedOut { .. } => "WaitTimedOut",
        ErrorKind::Webhook(_) => "Webhook",
        ErrorKind::Download(_) => "Download",
        _ => return None,
    })
}
