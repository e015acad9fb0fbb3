//! An in-memory stand-in for [`Client`](crate::Client), for your own unit tests (feature
//! `fake`): scripted outcomes, no HTTP, no sockets, no waiting.
//!
//! [`FakeClient`] implements [`VoiceCloning`], the trait [`Client`](crate::Client)
//! implements too, so code written against `&dyn VoiceCloning` runs unchanged on either.
//! It checks requests with the same rules the real client runs before sending (so a request
//! the real client would refuse is refused here, with the same `InvalidInput`; a local
//! recording is checked as the client checks it before sending: a file name with an
//! extension of a format the provider clones from, not empty, within the size limit, and a
//! reader is read once, so a second call with it is refused), hands
//! out typed ids of its provider, and waits with the client's own polling loop on a virtual
//! clock: a `WaitPolicy` deadline or poll bound ends a fake wait exactly as it would a real
//! one, instantly. Each poll counts as [`FAKE_POLL_TIME`] on that clock, so a policy that
//! polls back to back still reaches its deadline. Once a bounded wait's job repeats a step
//! the wait polls past (a status not terminal, a transient error) and one poll has read it,
//! the rest of the wait is computed rather than polled: it ends with the `WaitTimedOut`
//! (poll count, last status, last error) the loop would reach, in bounded real time even
//! for a deadline of `Duration::MAX` or `u32::MAX` polls, and the polls skipped count in
//! [`FakeClient::calls`] and [`FakeClient::slept`] as made. Its first 65,536 polls are
//! computed one by one, jitter drawn as the loop draws it (a seeded wait ends exactly where
//! the loop would); past those, a stretch of polls at one interval counts without jitter.
//! A [`WaitPolicy::on_status`](crate::WaitPolicy::on_status) callback is not called for
//! the polls skipped. A wait with neither a deadline nor a
//! poll bound on a job whose script never finishes never ends, as it would not with the
//! client; once one of its polls has read the repeating step (a job already read past its
//! steps is read once more, its observer told), it waits without polling, rather than
//! spin. It shares no code with the simulator (`voiceclone-sim`), which stays the
//! end-to-end option.
//!
//! **The virtual clock is the fake's own: Tokio's does not move during a fake wait**,
//! paused or not. A fake wait reaches its `WaitPolicy` deadline at once, so a
//! `tokio::time::timeout` (or a `select!` with a timer) around it never fires where it
//! would fire around the client's wait, `tokio::time::Instant` deltas around it are zero,
//! and another task's `sleep` ends after the wait rather than during it. Bound fake waits
//! with [`WaitPolicy`] (its deadline, its poll bound), not with Tokio time. To test code
//! that races a wait against Tokio time, give the fake Tokio's sleeper
//! ([`FakeClient::with_sleeper`] with [`TokioSleeper`](crate::TokioSleeper)) in a test
//! under `#[tokio::test(start_paused = true)]`: the wait's sleeps and polls then move
//! Tokio's paused clock as the client's do, every poll made
//! (`fake_seam.rs::a_tokio_timeout_around_a_fake_wait_fires_first_on_tokios_sleeper`).
//!
//! Its calls are futures to run on a Tokio runtime, as the client's are. A wait needs the
//! runtime's time driver: it is the client's polling loop, which bounds each poll by the
//! time left with `tokio::time::timeout` (on the virtual clock nothing sleeps, but the
//! timer is registered; without the driver, Tokio panics with "timers are disabled").
//! `#[tokio::test]` and `#[tokio::main]` enable it; a runtime built by hand needs
//! `tokio::runtime::Builder::enable_time` (or `enable_all`). A clone from a local recording
//! reads it with Tokio's file I/O, as the client does.
//!
//! Like VMEG, a VMEG fake refuses a second submit to the same route (the same kind, and
//! synchronous or not: a key is reserved per route) under an idempotency key already used
//! (`ErrorKind::Conflict`; nothing is created and no script is used). Unlike VMEG's, whose
//! reservation lasts 24 h, the fake's never expires until
//! [`FakeClient::expire_idempotency_keys`]; and a refused submit takes no key unless
//! scripted [`Script::using_up_its_key`] (whether VMEG's does is UNKNOWN). A
//! `synchronous(true)` VMEG submit comes back finished, as the real one does: its script is
//! played at once. Its one answer is its script's first step that is a terminal status or
//! an error. A success is the finished job. A failure is never `TaskFailed` from a submit,
//! as it is not from the client's: VMEG answers a failed synchronous task with a non-200
//! envelope (the simulator's HTTP 502), which the client reports as
//! `ErrorKind::OutcomeUnknown` (the idempotency key, the request summarized, never to be
//! resubmitted); the fake does the same, and the failed job exists and counts in
//! [`FakeClient::billable_submits`]. A refusal there (`then_error` of
//! `Unauthorized`, `PaymentRequired`, `RateLimited`, `InvalidRequest`, ...) is the call's
//! error and creates nothing, as VMEG's refusal does. Any other error (`Server`, `Timeout`,
//! `Transport`, ...), or a script that never finishes (the client's timeout on a request
//! it sent), is `ErrorKind::OutcomeUnknown` with the idempotency key and the request
//! summarized, as the client reports it; that job exists, counts in
//! [`FakeClient::billable_submits`], and moves on by itself as with
//! [`Script::outcome_unknown`]: one step per `list_voices` call, so a lost clone is listed
//! only once its script reaches its success, as VMEG lists a clone only once its task
//! finished. A synchronous answer that carries its result without a `taskId` is scripted
//! with [`Script::without_task_id`], and VMEG status words the client guesses at with
//! `TaskStatus::Unknown(word)` ([`Script::with_statuses`]).
//!
//! A finished speech job is shaped as the client reads the provider's answer: VMEG gives
//! one audio URL and one segment per line of the request, JimmyAI one audio URL, no
//! segments, and a subtitle file when the request asked for subtitles (see
//! [`Script::with_audio_urls`]; [`Script::with_failed_line`], [`Script::without_audio`],
//! [`Script::with_unreadable_line`] and [`Script::without_result_for_line`] script the
//! answers the client reads as a failed line, a success with no audio, a line it cannot
//! read, and an answer that lists fewer results than lines).
//!
//! What the client logs at WARN for a submit after which a task may exist (an unknown
//! outcome; JimmyAI's refusal by a code it does not document) the fake logs too, with the
//! same fields. Its errors carry no [`crate::Error::request_id`]: there is no vendor to have
//! given one, so do not read its absence as "nothing reached the vendor" in code under test.
//!
//! ```
//! use voiceclone::fake::{FakeCall, FakeClient, Script};
//! use voiceclone::{CloneRequest, ErrorKind, Provider, VoiceCloning, WaitPolicy};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), voiceclone::Error> {
//! let fake = FakeClient::new(Provider::Vmeg);
//! fake.script_clone(Script::succeeds().with_voice_id("v-1"));
//! fake.script_clone(Script::fails("the sample is silent"));
//!
//! let api: &dyn VoiceCloning = &fake;
//! let policy = WaitPolicy::for_provider(Provider::Vmeg);
//! let req = CloneRequest::new("https://cdn.example.com/a.wav").name("narrator");
//!
//! let job = api.clone_voice(&req).await?;
//! assert_eq!(api.wait_for_clone(&job.id, &policy).await?.id.as_str(), "v-1");
//!
//! let job = api.clone_voice(&req).await?;
//! let err = api.wait_for_clone(&job.id, &policy).await.unwrap_err();
//! assert!(matches!(err.kind(), ErrorKind::TaskFailed { .. }));
//!
//! assert_eq!(fake.billable_submits(), 2);
//! assert!(matches!(&fake.calls()[0], FakeCall::CloneVoice(r) if r.name.as_deref() == Some("narrator")));
//! # Ok(())
//! # }
//! ```

mod script;
mod summary;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use url::Url;

pub use script::Script;
use script::{Step, Submit, SyncAnswer};

use crate::error::{Error, ErrorKind, Phase};
use crate::estimate::PlannedRequest;
use crate::model::{
    CloneJob, CloneRequest, JIMMYAI_ACTIVATION_WINDOW, Job, JobId, JobKind, Provider, Speech,
    SpeechJob, SpeechRequest, SpeechSegment, SubtitleMode, TaskStatus, Voice, wrong_kind,
};
use crate::retry::OperationKind;
use crate::seam::VoiceCloning;
use crate::sleep::Sleeper;
use crate::wait::WaitPolicy;
use crate::wait::{Waiting, poll_from};

/// How much of the fake's virtual clock one poll takes: about a real round trip, so that a
/// wait with a zero interval still reaches its deadline (10 minutes by default: 6,000 polls)
/// instead of polling for that long in real time.
pub const FAKE_POLL_TIME: Duration = Duration::from_millis(100);

/// One call a [`FakeClient`] received, in order ([`FakeClient::calls`]). Every poll of a
/// wait is recorded as the status read it is.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum FakeCall {
    /// `clone_voice`, with the request as given.
    CloneVoice(CloneRequest),
    /// `clone_status`, or one poll of `wait_for_clone`.
    CloneStatus(JobId),
    /// `synthesize`, with the request as given.
    Synthesize(SpeechRequest),
    /// `speech_status`, or one poll of `wait_for_speech`.
    SpeechStatus(JobId),
    /// `list_voices`.
    ListVoices,
}

/// An in-memory [`VoiceCloning`] with scripted outcomes; see the [module docs](self).
///
/// Its job ids are `fake-<kind>-<instance>-<n>`, the instance part random: a job id one
/// fake handed out is unknown to another, which answers as the provider answers a task it
/// does not know (VMEG: `NotFound`; JimmyAI: `InvalidRequest`), as the client reports it.
///
/// A fake keeps every job it made for its life, as the provider keeps its tasks (any id it
/// handed out can be read again), and finds each by its id at once: thousands of submits
/// and reads cost no more per call than the first. Its memory grows with the jobs made,
/// so make one per test rather than one for a long-running process.
///
/// It is not `Clone` (a copy would not share the jobs and calls): to hand it to code that
/// needs `C: VoiceCloning + Clone` or `'static` (spawned tasks), give it an
/// `Arc<FakeClient>`, which implements [`VoiceCloning`] too, and keep a clone of the `Arc`
/// to inspect [`calls`](FakeClient::calls) afterwards.
#[derive(Debug)]
pub struct FakeClient {
    provider: Provider,
    /// This fake's part of its job ids: random, so that an id one fake handed out is
    /// unknown to another (as another account's task is to the provider), within a test
    /// run and across runs.
    instance: String,
    allow_private: bool,
    sleeper: VirtualSleeper,
    state: Mutex<State>,
    /// Held through a submit, which releases `state` while the retry table ends its failure
    /// (it logs, and a tracing layer may read the fake): no other submit numbers a job or
    /// takes a key in between.
    submits: Mutex<()>,
}

#[derive(Debug, Default)]
struct State {
    created: u64,
    clone_scripts: VecDeque<Script>,
    speech_scripts: VecDeque<Script>,
    /// Every job made, in the order made. Jobs are kept for the fake's life (as the provider
    /// keeps its tasks: any id it handed out can be read again), so a fake lives as long as
    /// one test, not a whole service.
    jobs: Vec<FakeJob>,
    /// Where each job's vendor id is in `jobs`: every read finds its job at once (a soak
    /// test of 100,000 submits and reads would be quadratic with a scan per call).
    by_id: HashMap<String, usize>,
    /// The (kind, synchronous route, key) of every VMEG job submitted under a key, for the
    /// conflict check.
    keys: HashSet<(JobKind, bool, String)>,
    calls: Vec<FakeCall>,
    /// Calls received after the log was full.
    unrecorded: u64,
    /// The log filled under the current lock: its WARN line is written once the lock is
    /// released ([`Locked`]); a tracing layer that reads the fake would deadlock on it.
    log_filled: bool,
}

impl State {
    fn job(&self, id: &str) -> Option<&FakeJob> {
        self.by_id.get(id).and_then(|&i| self.jobs.get(i))
    }

    fn job_mut(&mut self, id: &str) -> Option<&mut FakeJob> {
        self.by_id.get(id).and_then(|&i| self.jobs.get_mut(i))
    }

    /// Keeps a new job, found by its id and (VMEG) its key from now on.
    fn add(&mut self, job: FakeJob) {
        if let Some(key) = &job.idempotency_key {
            self.keys.insert((job.kind, job.sync, key.clone()));
        }
        self.by_id.insert(job.vendor_id.clone(), self.jobs.len());
        self.jobs.push(job);
    }

    /// Logs a call, up to [`FakeClient::MAX_RECORDED_CALLS`]; later ones are counted only.
    fn record(&mut self, call: FakeCall) {
        self.record_many(call, 1);
    }

    /// Logs `times` calls alike (the polls of a fast-forwarded wait), as many single ones:
    /// up to [`FakeClient::MAX_RECORDED_CALLS`] in the log, the rest counted.
    fn record_many(&mut self, call: FakeCall, times: u64) {
        let room = FakeClient::MAX_RECORDED_CALLS.saturating_sub(self.calls.len());
        let logged = usize::try_from(times).map_or(room, |t| t.min(room));
        self.calls.extend(std::iter::repeat_n(call, logged));
        let rest = times.saturating_sub(logged as u64);
        if rest == 0 {
            return;
        }
        if self.unrecorded == 0 {
            self.log_filled = true;
        }
        self.unrecorded = self.unrecorded.saturating_add(rest);
    }
}

/// The fake's state, locked. A WARN line noted under the lock is written once the lock is
/// released: the lock is not reentrant, and a tracing layer that reads the fake on the line
/// would hang.
struct Locked<'a>(Option<MutexGuard<'a, State>>);

impl std::ops::Deref for Locked<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        match &self.0 {
            Some(g) => g,
            // Taken only in `drop`, after which nothing can deref it.
            None => unreachable!("the fake's state guard is taken only when dropped"),
        }
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut State {
        match &mut self.0 {
            Some(g) => g,
            None => unreachable!("the fake's state guard is taken only when dropped"),
        }
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // The guard is released here, before the line is written.
        let filled = self
            .0
            .take()
            .is_some_and(|mut g| std::mem::take(&mut g.log_filled));
        if filled {
            tracing::warn!(
                max = FakeClient::MAX_RECORDED_CALLS,
                "the fake's call log is full; later calls are counted, not recorded"
            );
        }
    }
}

/// The fake's clock: a wait's sleeps add up here and return at once (after yielding to the
/// runtime, so that a wait lets other tasks run and can be cancelled between polls), or are
/// slept on the sleeper given ([`FakeClient::with_sleeper`]).
#[derive(Debug, Default)]
struct VirtualSleeper {
    /// Nanoseconds slept in all, saturating (`u64::MAX` reads as `Duration::MAX`).
    slept: std::sync::atomic::AtomicU64,
    /// The caller's sleeper: a wait's time passes on its clock (Tokio's, paused in a test).
    given: Option<Arc<dyn Sleeper>>,
}

impl VirtualSleeper {
    fn total(&self) -> Duration {
        match self.slept.load(std::sync::atomic::Ordering::Relaxed) {
            u64::MAX => Duration::MAX,
            n => Duration::from_nanos(n),
        }
    }
}

impl VirtualSleeper {
    /// Counts `nanos` slept (saturating), as that many nanoseconds of sleeps would.
    fn add(&self, nanos: u64) {
        // `fetch_update` never fails with a closure that always returns `Some`.
        let _ = self.slept.fetch_update(
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
            |n| Some(n.saturating_add(nanos)),
        );
    }
}

impl Sleeper for VirtualSleeper {
    fn sleep(&self, duration: Duration) -> crate::sleep::BoxFuture<'static, ()> {
        self.add(nanos(duration));
        match &self.given {
            Some(given) => given.sleep(duration),
            None => Box::pin(tokio::task::yield_now()),
        }
    }
}

/// A duration in nanoseconds, saturating at `u64::MAX` (as the wait's clock counts it).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[derive(Debug)]
struct FakeJob {
    kind: JobKind,
    vendor_id: String,
    number: u64,
    script: Script,
    reads: usize,
    created_at: SystemTime,
    idempotency_key: Option<String>,
    /// Made by a synchronous submit (VMEG's other route: its keys are apart).
    sync: bool,
    name: Option<String>,
    succeeded: bool,
    /// An asynchronous submit whose answer was lost: nobody holds its id to read it, so it
    /// moves on by itself, one step each time anybody looks (`list_voices`).
    unattended: bool,
    /// The scripted failure of a wait's voice lookup has been given (once).
    lookup_failed: bool,
    /// What a speech request asked for that shapes its result.
    asked: Asked,
}

impl FakeJob {
    /// One step of a job nobody reads, as time passes: the step a read would see is taken,
    /// and a success is kept (the clone is listed from now on). An error step is a read's
    /// failure, not the job's: it is passed like any other.
    fn step_alone(&mut self) {
        let step = self
            .script
            .steps
            .get(self.reads)
            .or(self.script.steps.last());
        if step.and_then(Step::status) == Some(&TaskStatus::Succeeded) {
            self.succeeded = true;
        }
        self.reads = self.reads.saturating_add(1);
    }
}

/// What a speech request asked for that shapes its result: how many lines (VMEG gives one
/// result per line) and whether subtitles (JimmyAI gives a subtitle file only then).
#[derive(Clone, Copy, Debug, Default)]
struct Asked {
    lines: usize,
    subtitles: bool,
}

impl Asked {
    fn of(req: &SpeechRequest) -> Self {
        Self {
            lines: req.lines.len(),
            subtitles: matches!(
                req.subtitles,
                Some(SubtitleMode::Sentence | SubtitleMode::Word)
            ),
        }
    }
}

/// How long each line of a fake VMEG speech result says it lasts.
const FAKE_LINE_DURATION: Duration = Duration::from_secs(1);

/// The business code of a scripted `Vendor` read: one neither vendor documents.
const UNDOCUMENTED_CODE: i64 = 7777;

/// What a submit made.
struct Submitted {
    id: JobId,
    at: SystemTime,
    key: Option<String>,
    /// A VMEG clone's name: the caller's, or the one the client makes from the key.
    name: Option<String>,
    /// A synchronous answer without a `taskId` ([`Script::without_task_id`]).
    no_task_id: bool,
}

impl FakeClient {
    /// A fake of `provider`'s client with nothing scripted: every submit succeeds
    /// ([`Script::succeeds`]).
    pub fn new(provider: Provider) -> Self {
        // 64 of the 128 random bits: ids stay short, and two fakes of one test run share
        // them with odds of about n^2 / 2^65.
        let mut instance = crate::random_id::RandomId::new().to_string();
        instance.truncate(16);
        Self {
            provider,
            instance,
            allow_private: false,
            sleeper: VirtualSleeper::default(),
            state: Mutex::new(State::default()),
            submits: Mutex::new(()),
        }
    }

    /// Accepts loopback and private recording URLs, like
    /// [`ClientBuilder::allow_private_urls`](crate::ClientBuilder::allow_private_urls).
    #[must_use]
    pub fn allow_private_urls(mut self, allow: bool) -> Self {
        self.allow_private = allow;
        self
    }

    /// Runs the waits' sleeps, and each poll's [`FAKE_POLL_TIME`], on `sleeper` rather than
    /// on the fake's own clock, as [`ClientBuilder::sleeper`](crate::ClientBuilder::sleeper)
    /// does for the client. With [`TokioSleeper`](crate::TokioSleeper) in a test under
    /// `#[tokio::test(start_paused = true)]`, a fake wait moves Tokio's paused clock as a
    /// client's wait does: a `tokio::time::timeout` around it, a timer of another task,
    /// `tokio::time::Instant` deltas see the wait's time pass.
    ///
    /// Every poll is then made and slept, as the client makes it: no stretch of a wait is
    /// computed instead, so a wait lasts as long on `sleeper`'s clock as the client's would
    /// (without a paused clock, that is real time). [`FakeClient::slept`] still sums the
    /// sleeps between polls.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use voiceclone::fake::{FakeClient, Script};
    /// use voiceclone::{CloneRequest, Provider, TaskStatus, TokioSleeper};
    /// use voiceclone::{VoiceCloning, WaitPolicy};
    ///
    /// // In a test under `#[tokio::test(start_paused = true)]` (Tokio's `test-util` feature).
    /// # async fn run() {
    /// let fake = FakeClient::new(Provider::Vmeg).with_sleeper(Arc::new(TokioSleeper));
    /// fake.script_clone(Script::new().then_status(TaskStatus::Running));
    /// let req = CloneRequest::new("https://cdn.example.com/a.wav");
    /// let job = fake.clone_voice(&req).await.unwrap();
    /// let policy = WaitPolicy::for_provider(Provider::Vmeg); // a 10-minute deadline
    /// let wait = fake.wait_for_clone(&job.id, &policy);
    /// let waited = tokio::time::timeout(Duration::from_secs(30), wait).await;
    /// assert!(waited.is_err(), "the 30 s timeout fires first, as around the client's wait");
    /// # }
    /// # tokio::runtime::Builder::new_current_thread()
    /// #     .enable_time()
    /// #     .start_paused(true)
    /// #     .build()
    /// #     .unwrap()
    /// #     .block_on(run());
    /// ```
    #[must_use]
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper.given = Some(sleeper);
        self
    }

    /// Queues the script of the next clone submit (scripts are used in order).
    pub fn script_clone(&self, script: Script) -> &Self {
        self.lock().clone_scripts.push_back(script);
        self
    }

    /// Queues the script of the next speech submit (scripts are used in order).
    pub fn script_speech(&self, script: Script) -> &Self {
        self.lock().speech_scripts.push_back(script);
        self
    }

    /// The most calls [`FakeClient::calls`] keeps: later ones are counted in
    /// [`FakeClient::unrecorded_calls`], so that a long wait (every poll is a call) cannot
    /// grow the log without bound.
    pub const MAX_RECORDED_CALLS: usize = 10_000;

    /// Every call received so far, in order (the first
    /// [`MAX_RECORDED_CALLS`](FakeClient::MAX_RECORDED_CALLS)).
    pub fn calls(&self) -> Vec<FakeCall> {
        self.lock().calls.clone()
    }

    /// Forgets every idempotency key used so far, as VMEG does 24 h after a key's first use
    /// (it accepts a (route, key) pair once within a 24 h TTL, api-facts A4): a later submit
    /// under a used key is accepted as new work, and billed again. The fake's keys never
    /// expire by themselves; call this to stand for the day passing, in a test of code that
    /// resends a stored request under its key and reads `Conflict` as "already done".
    ///
    /// # Errors
    ///
    /// `Unsupported` on a JimmyAI fake: JimmyAI documents no idempotency key, so there is
    /// nothing to expire, and a test that calls this there tests nothing.
    pub fn expire_idempotency_keys(&self) -> Result<(), Error> {
        if self.provider != Provider::Vmeg {
            return Err(Error::unsupported(
                "FakeClient::expire_idempotency_keys",
                self.provider,
            ));
        }
        self.lock().keys.clear();
        Ok(())
    }

    /// Calls received after the log was full (not in [`FakeClient::calls`]).
    pub fn unrecorded_calls(&self) -> u64 {
        self.lock().unrecorded
    }

    /// Jobs created so far (what a real account would be billed for, were they all to
    /// succeed): accepted submits, and every submit that ended `OutcomeUnknown` (scripted
    /// with [`Script::outcome_unknown`], a [`Script::rejected`] kind after which the task may
    /// exist, a synchronous task that failed); not refusals or invalid requests.
    pub fn billable_submits(&self) -> u64 {
        self.lock().created
    }

    /// How long the waits would have slept between polls, in all (the fake's clock is
    /// virtual: nothing sleeps, unless a sleeper was given with
    /// [`FakeClient::with_sleeper`]).
    pub fn slept(&self) -> Duration {
        self.sleeper.total()
    }

    fn lock(&self) -> Locked<'_> {
        // A panic in a caller's closure cannot leave the state half-written: recover it.
        Locked(Some(self.state.lock().unwrap_or_else(|p| p.into_inner())))
    }

    fn error(&self, kind: ErrorKind, operation: &'static str) -> Error {
        Error::new(kind)
            .with_provider(self.provider)
            .with_operation(operation)
    }

    /// A scripted failure of a read, as the client reads the provider's answer for it (its
    /// HTTP status and code, JimmyAI's unconfirmed codes marked so); a kind no answer
    /// carries in the phase the client's has: a timeout came after sending (`Sent`), a
    /// transport failure is a connection that never opened (`NotSent`, as
    /// `Script::rejected(Transport)` reads it), and an `InvalidInput` is the client's
    /// reading of an answer about a task of the other kind (`Answered`).
    fn answered(&self, kind: ErrorKind, operation: &'static str) -> Error {
        // The client's `Vendor` is a code the vendor does not document, inside an HTTP 200
        // for both (the only one a wait polls past).
        let answer = match kind {
            ErrorKind::Vendor => Some((200, UNDOCUMENTED_CODE)),
            _ => crate::provider::answer_for(self.provider, &kind),
        };
        if let Some((status, code)) = answer {
            return crate::provider::error_for_code(
                self.provider,
                status,
                None,
                code,
                "failed by the script",
            )
            .with_operation(operation);
        }
        let phase = match kind {
            ErrorKind::Timeout => Some(Phase::Sent),
            ErrorKind::Transport => Some(Phase::NotSent),
            ErrorKind::InvalidInput { .. } => Some(Phase::Answered),
            _ => None,
        };
        let err = self.error(kind, operation);
        match phase {
            Some(p) => err.with_phase(p),
            None => err,
        }
    }

    /// A scripted submit failure of `kind` as the client reads the endpoint's answer for it
    /// (its HTTP status and code); a kind no answer carries as [`submit_failure`] makes it,
    /// a transport failure in phase `transport`.
    fn submit_answer(&self, kind: &ErrorKind, transport: Phase) -> Error {
        match crate::provider::answer_for(self.provider, kind) {
            Some((status, code)) => crate::provider::error_for_code(
                self.provider,
                status,
                None,
                code,
                "refused by the script",
            ),
            None => submit_failure(kind.clone(), transport),
        }
    }

    /// A submit: record, check, then create (or refuse) as the next script says. `planned`:
    /// the request as the client would send it (the dry run's plan), for the summary of an
    /// unknown outcome.
    #[allow(clippy::too_many_arguments)]
    fn submit(
        &self,
        kind: JobKind,
        call: FakeCall,
        name: Option<String>,
        key: Option<String>,
        sync: bool,
        operation: &'static str,
        planned: Option<&PlannedRequest>,
        asked: Asked,
    ) -> Result<Submitted, Error> {
        let _one_submit = self.submits.lock().unwrap_or_else(|p| p.into_inner());
        let mut state = self.lock();
        // VMEG accepts a (route, key) pair once in 24 h and answers 409 after (api-facts A4):
        // nothing is created, so no script is used.
        if self.provider == Provider::Vmeg
            && let Some(k) = &key
            && state.keys.contains(&(kind, sync, k.clone()))
        {
            state.record(call);
            drop(state);
            // As VMEG answers (HTTP 409, `Retry-After: 2`, code 409) and the client ends it.
            let answer = crate::provider::error_for_code(
                Provider::Vmeg,
                409,
                Some(Duration::from_secs(2)),
                409,
                "Idempotency key already used",
            );
            return Err(self
                .ended(answer, operation, key, false)
                .with_operation(operation));
        }
        let script = match kind {
            JobKind::Clone => state.clone_scripts.pop_front(),
            _ => state.speech_scripts.pop_front(),
        }
        .unwrap_or_default();
        state.record(call);
        // A script that says what the client never reports is the test's mistake, refused
        // where it is used (nothing created).
        let script = script
            .checked(self.provider)
            .and_then(|s| s.checked_for_submit(self.provider, kind, sync, asked.lines))
            .map_err(|e| e.with_provider(self.provider).with_operation(operation))?;
        let created_at = SystemTime::now();
        // VMEG writes carry an idempotency key (the caller's, or one made per call);
        // JimmyAI documents none.
        let fresh_key = key.is_none();
        let key = match self.provider {
            Provider::Vmeg => {
                Some(key.unwrap_or_else(|| crate::random_id::RandomId::new().to_string()))
            }
            _ => None,
        };
        // A synchronous submit's one answer is the job at its first terminal step: its next
        // read is made to see that step. A step error before it, or a script that never
        // ends, is that call's failure (below).
        let mut finished_at = None;
        // A scripted failure ends the call as the client's retry table would end it: a
        // refusal stays one (nothing created); a failure after which the task may exist
        // (a lost answer, a timeout, a server fault) is `OutcomeUnknown`, and the task
        // exists.
        let failure = match &script.submit {
            Submit::Accepted if sync => match script.sync_answer() {
                // VMEG's synchronous route answers a failed task with a non-200 envelope (no
                // finished job: the client builds one only from a code-200 answer), which the
                // retry table makes `OutcomeUnknown`; the task exists, failed.
                SyncAnswer::Finished(at)
                    if script.steps.get(at).and_then(Step::status)
                        == Some(&TaskStatus::Failed) =>
                {
                    let reason = script
                        .failure_reason
                        .clone()
                        .unwrap_or_else(|| "failed by the script".into());
                    Some(
                        Error::new(ErrorKind::Server)
                            .with_http_status(502)
                            .with_vendor_code(502)
                            .with_message(reason),
                    )
                }
                SyncAnswer::Finished(at) => {
                    finished_at = Some(at);
                    None
                }
                // As the endpoint answers it (its HTTP status and code), as a rejected one.
                SyncAnswer::Failed(k) => Some(self.submit_answer(&k, Phase::Sent)),
                // VMEG's synchronous endpoint holds the request until the task ends: one that
                // never ends is the client's timeout on a request sent.
                SyncAnswer::Unfinished => Some(
                    Error::new(ErrorKind::Timeout)
                        .with_phase(Phase::Sent)
                        .with_message("the fake's synchronous task never finishes: its script has no terminal status"),
                ),
            },
            Submit::Accepted => None,
            Submit::Lost | Submit::Rejected(ErrorKind::OutcomeUnknown { .. }) => {
                Some(Error::new(ErrorKind::Transport).with_phase(Phase::Sent))
            }
            Submit::Rejected(k) => Some(self.submit_answer(k, Phase::NotSent)),
            // As the vendor answers such a status: VMEG with it as its code, JimmyAI with its
            // catch-all code.
            Submit::Answered {
                status,
                retry_after,
            } => Some(crate::provider::error_for_code(
                self.provider,
                *status,
                *retry_after,
                match self.provider {
                    Provider::Vmeg => i64::from(*status),
                    _ => -1,
                },
                "refused by the script",
            )),
        }
        // The vendor id of the job this submit makes, should it make one.
        .map(|e| match script.names_task {
            true => e.with_task_id(vendor_id(&self.instance, kind, state.created)),
            false => e,
        });
        // The retry table logs (a DEBUG line when a retryable refusal ends the one attempt):
        // not under the lock, as a tracing layer may read the fake (review 30-f #7).
        drop(state);
        let failure = failure.map(|e| self.ended(e, operation, key.clone(), fresh_key));
        let lost = match failure {
            Some(e) if matches!(e.kind(), ErrorKind::OutcomeUnknown { .. }) => Some(e),
            Some(e) => {
                // A refusal that uses up its key, as VMEG may (api-facts A4: UNKNOWN).
                if script.uses_up_key
                    && self.provider == Provider::Vmeg
                    && let Some(k) = &key
                {
                    self.lock().keys.insert((kind, sync, k.clone()));
                }
                // A refusal that does not prove nothing was made (JimmyAI's undocumented
                // codes) is logged with what finds its task, as the client's transport logs
                // it (review 28-c #3).
                let call = self.call_info(operation, key.clone(), fresh_key);
                if crate::retry::task_may_exist_after(&call, &e) {
                    let request = planned
                        .map(|p| summary::of(self.provider, p, key.as_deref(), name.as_deref()))
                        .unwrap_or_default();
                    crate::transport::warn_unconfirmed_refusal(
                        self.provider,
                        operation,
                        key.as_deref(),
                        created_at,
                        &request,
                        &e,
                    );
                }
                return Err(e);
            }
            None => None,
        };
        let mut state = self.lock();
        let vendor_id = vendor_id(&self.instance, kind, state.created);
        state.created = state.created.saturating_add(1);
        let number = state.created;
        // The client names a nameless VMEG clone after its key (to find it again by name).
        let name = match (self.provider, kind, &key) {
            (Provider::Vmeg, JobKind::Clone, Some(k)) => {
                Some(name.unwrap_or_else(|| crate::provider::vmeg::default_name(k)))
            }
            _ => name,
        };
        // Nobody holds a lost job's id to poll it. A synchronous one ran while its request
        // was held: it is finished. An asynchronous one goes on by itself, one step each time
        // anybody looks (`list_voices`), as the provider lists a clone only once its task
        // finished: "not listed yet" is not "not created".
        // A lost answer that named its task handed its id out: it is read like any other.
        let task_named = lost.as_ref().is_some_and(|e| {
            matches!(
                e.kind(),
                ErrorKind::OutcomeUnknown {
                    task_id: Some(_),
                    ..
                }
            )
        });
        // A synchronous submit's failed task was over when its answer came (VMEG answers it
        // with a non-200 envelope); any other synchronous failure left the task running.
        let finished_failed = sync
            && matches!(script.sync_answer(), SyncAnswer::Finished(at)
                if script.steps.get(at).and_then(Step::status) == Some(&TaskStatus::Failed));
        let unattended = lost.is_some() && !finished_failed && !task_named;
        let no_task_id = script.no_task_id;
        // Only a synchronous job whose task failed is finished when its answer comes; any
        // other starts at its first step (a lost one nobody can read moves per look, a named
        // one when read).
        let (reads, succeeded) = match (&lost, finished_at) {
            (Some(_), _) if finished_failed => script.run_out(),
            (None, Some(at)) => (at, false),
            _ => (0, false),
        };
        state.add(FakeJob {
            kind,
            vendor_id: vendor_id.clone(),
            number,
            script,
            reads,
            created_at,
            idempotency_key: key.clone(),
            sync,
            name: name.clone(),
            succeeded,
            unattended,
            lookup_failed: false,
            asked,
        });
        drop(state);
        if let Some(e) = lost {
            // As the client reports a write whose answer was lost: the request summarized (a
            // VMEG clone's `voiceName` among its fields), as its transport does.
            let request = planned
                .map(|p| summary::of(self.provider, p, key.as_deref(), name.as_deref()))
                .unwrap_or_default();
            let task_id = match e.kind() {
                ErrorKind::OutcomeUnknown { task_id, .. } => task_id.clone(),
                _ => None,
            };
            let kind = ErrorKind::OutcomeUnknown {
                idempotency_key: key,
                task_id,
                submitted_at: created_at,
                request,
            };
            let e = e.with_kind(kind);
            crate::transport::warn_unknown_outcome(self.provider, operation, &e);
            return Err(e);
        }
        Ok(Submitted {
            id: JobId::typed(self.provider, kind, vendor_id),
            at: created_at,
            key,
            name,
            no_task_id,
        })
    }

    /// A submit as the client's retry table sees it.
    fn call_info(
        &self,
        operation: &'static str,
        key: Option<String>,
        fresh_key: bool,
    ) -> crate::retry::CallInfo {
        crate::retry::CallInfo {
            provider: self.provider,
            operation,
            kind: match self.provider {
                Provider::Vmeg => OperationKind::IdempotentWrite,
                _ => OperationKind::UnsafeWrite,
            },
            idempotency_key: key,
            fresh_key,
            synchronous: false,
        }
    }

    /// A submit's failure as the client's retry table ends it after one attempt (a retry
    /// would meet the same script): a refusal stays one, a failure after which the task may
    /// exist is `OutcomeUnknown`.
    fn ended(
        &self,
        e: Error,
        operation: &'static str,
        key: Option<String>,
        fresh_key: bool,
    ) -> Error {
        let call = self.call_info(operation, key, fresh_key);
        let once = crate::retry::RetryPolicy::none();
        match crate::retry::Retries::new(&once, &call).after_failure(e) {
            Err(e) => e,
            // Not reached with one attempt.
            Ok(_) => Error::new(ErrorKind::InvalidResponse).with_provider(self.provider),
        }
    }

    /// One status read of a job: the next step of its script.
    fn read<J: Job>(
        &self,
        id: &JobId,
        call: Option<FakeCall>,
        operation: &'static str,
    ) -> Result<J, Error> {
        let mut state = self.lock();
        if let Some(call) = call {
            state.record(call);
        }
        id.check(self.provider, J::KIND)
            .and_then(|()| crate::validate::id("job_id", id.as_str()))
            .map_err(|e| e.with_provider(self.provider).with_operation(operation))?;
        let provider = self.provider;
        let Some(job) = state.job_mut(id.as_str()) else {
            return Err(unknown_id_or_invalid(
                provider,
                id,
                match provider {
                    // JimmyAI documents no answer for a task it does not know; the client meets
                    // (in the simulator) its invalid-request code over HTTP 200.
                    Provider::JimmyAi => self
                        .error(ErrorKind::InvalidRequest, operation)
                        .with_http_status(200)
                        .with_vendor_code(20002)
                        .with_message(format!("task {} not found", id.as_str())),
                    // VMEG's `tasks/detail` refusal: HTTP 404, code 404.
                    _ => self
                        .answered(ErrorKind::NotFound, operation)
                        .with_message(format!("no task {}", id.as_str())),
                },
            ));
        };
        if job.kind != J::KIND {
            return Err(wrong_kind(id, J::KIND, job.kind.as_str())
                .with_provider(provider)
                .with_operation(operation));
        }
        let step = job
            .script
            .steps
            .get(job.reads)
            .or(job.script.steps.last())
            .cloned()
            .unwrap_or(Step::Status(TaskStatus::Queued));
        job.reads = job.reads.saturating_add(1);
        let (status, word) = match step {
            Step::Error(kind) => {
                drop(state);
                return Err(unknown_id_or_invalid(
                    provider,
                    id,
                    self.answered(kind, operation),
                ));
            }
            Step::Unreadable => {
                drop(state);
                return Err(self
                    .error(ErrorKind::InvalidResponse, operation)
                    .with_http_status(200)
                    .with_message("an answer that is no envelope (the script's unreadable answer)")
                    .unreadable_answer());
            }
            Step::Word { status, word } => (status, word),
            Step::Status(s) => {
                let word = vendor_word(provider, &s);
                (s, word)
            }
        };
        let mut out = J::new(
            provider,
            JobId::typed(provider, J::KIND, &job.vendor_id),
            status.clone(),
        );
        out.set_created_at(job.created_at);
        match status {
            TaskStatus::Succeeded => job.succeeded = true,
            TaskStatus::Failed => {
                let reason = job
                    .script
                    .failure_reason
                    .clone()
                    .unwrap_or_else(|| "failed by the script".into());
                // As the client words it: from a guessed word, an assumed failure.
                out.set_error(crate::provider::failure_reason(provider, &word, reason));
            }
            _ => {}
        }
        out.set_vendor_status(word);
        Ok(out)
    }

    fn voice_of(&self, job: &FakeJob) -> Voice {
        let id = job
            .script
            .voice_id
            .clone()
            .unwrap_or_else(|| format!("fake-voice-{}", job.number));
        let mut voice = Voice::new(self.provider, id).with_created_at(job.created_at);
        if let Some(name) = &job.name {
            voice = voice.with_name(name.clone());
        }
        if self.provider == Provider::JimmyAi {
            // JimmyAI's clone task is a preview: its audio is the voice's preview.
            let preview = job.script.preview_url.clone().or_else(|| {
                Url::parse(&format!("https://fake.invalid/preview/{}.mp3", job.number)).ok()
            });
            if let Some(url) = preview {
                voice = voice.with_preview_url(url);
            }
            // A new modelId must be activated by a production call within three days.
            if let Some(by) = job.created_at.checked_add(JIMMYAI_ACTIVATION_WINDOW) {
                voice = voice.with_activate_by(by);
            }
        }
        voice
    }

    /// A succeeded speech job's result, shaped as the client reads the provider's answer:
    /// VMEG's one result per line (each a segment; the audio URLs are the lines that have
    /// audio, in line order), JimmyAI's one `audioUrl` (no segments) and its `subtitleFile`
    /// when the request asked for subtitles. `None` when the answer carries no audio (VMEG
    /// without `results`, JimmyAI without `audioUrl`), as the client has none.
    fn speech_of(&self, job: &FakeJob) -> Option<Speech> {
        let script = &job.script;
        if script.no_audio {
            return None;
        }
        let n = job.number;
        match self.provider {
            Provider::Vmeg => {
                let segments: Vec<SpeechSegment> = (0..job.asked.lines)
                    .filter(|i| !script.dropped_lines.contains(i))
                    .map(|i| {
                        if let Some((_, reason)) =
                            script.failed_lines.iter().rev().find(|(l, _)| *l == i)
                        {
                            return SpeechSegment::new(None, None, Some(reason.clone()));
                        }
                        // As the client reads a result with no `uri` and no `errorMessage`.
                        if script.unreadable_lines.contains(&i) {
                            return SpeechSegment::new(None, Some(FAKE_LINE_DURATION), None)
                                .with_unreadable("it has no uri and no errorMessage");
                        }
                        let url = script.audio_urls.get(i).cloned().or_else(|| {
                            let line = i.saturating_add(1);
                            Url::parse(&format!("https://fake.invalid/speech/{n}-{line}.wav")).ok()
                        });
                        SpeechSegment::new(url, Some(FAKE_LINE_DURATION), None)
                    })
                    .collect();
                if segments.is_empty() {
                    return None;
                }
                let urls = segments.iter().filter_map(|s| s.url.clone()).collect();
                Some(Speech::new(urls).with_segments(segments))
            }
            _ => {
                let url =
                    script.audio_urls.first().cloned().or_else(|| {
                        Url::parse(&format!("https://fake.invalid/speech/{n}.wav")).ok()
                    })?;
                let mut speech = Speech::new(vec![url]);
                if job.asked.subtitles
                    && let Ok(srt) = Url::parse(&format!("https://fake.invalid/speech/{n}.srt"))
                {
                    speech = speech.with_subtitle_url(srt);
                }
                Some(speech)
            }
        }
    }

    /// A clone status read; `record`: as a call the caller made (not a synchronous
    /// submit's own answer).
    fn clone_read(&self, id: &JobId, record: bool) -> Result<CloneJob, Error> {
        let call = record.then(|| FakeCall::CloneStatus(id.clone()));
        let mut job: CloneJob = self.read(id, call, "clone_status")?;
        if job.status == TaskStatus::Succeeded {
            let state = self.lock();
            // A script with a failed lookup is a task whose answer names no voice (why the
            // client looks it up): its reads have none, as the client's have none.
            if let Some(j) = state
                .job(id.as_str())
                .filter(|j| j.script.failed_lookup.is_none() && !j.script.no_status_voice)
            {
                job.voice = Some(self.voice_of(j));
            }
        }
        Ok(job)
    }

    /// A succeeded clone's voice as the client's lookup finds it in the voice list.
    fn looked_up_voice(&self, id: &JobId) -> Option<Voice> {
        let state = self.lock();
        state.job(id.as_str()).map(|j| self.voice_of(j))
    }

    fn speech_read(&self, id: &JobId, record: bool) -> Result<SpeechJob, Error> {
        let call = record.then(|| FakeCall::SpeechStatus(id.clone()));
        let mut job: SpeechJob = self.read(id, call, "speech_status")?;
        if job.status == TaskStatus::Succeeded {
            let state = self.lock();
            if let Some(j) = state.job(id.as_str()) {
                job.speech = self.speech_of(j);
            }
        }
        Ok(job)
    }

    /// A synchronous submit's answer: the job at its success, which `submit` made its next
    /// read (VMEG's synchronous endpoints answer with the finished task). (A failed task, a
    /// step error or a script that never finishes was the submit's own failure, in
    /// `submit`.)
    fn finish_now<J: Job>(
        &self,
        id: &JobId,
        operation: &'static str,
        read: impl Fn(&JobId) -> Result<J, Error>,
    ) -> Result<J, Error> {
        // Every failure is the submit's own (its one answer), as in the client.
        let job = read(id).map_err(|e| e.with_operation(operation))?;
        match job.status() {
            TaskStatus::Succeeded => Ok(job),
            // Not reached: `submit` checked that the script succeeds and where.
            _ => Err(Error::new(ErrorKind::InvalidResponse)
                .with_provider(self.provider)
                .with_operation(operation)
                .with_message("the fake's synchronous answer has no result")),
        }
    }

    /// A local recording, checked as the client checks it before sending anything: a file
    /// name with an extension, not empty, within the size limit (the provider's, or the
    /// client's default), a reader not already taken (it is taken, and read, here as there);
    /// for JimmyAI, as its clone from a local recording checks it (`provider::jimmyai`'s
    /// upload): the size refusal naming JimmyAI's 100 MB, and a WAV of 15 s or less refused.
    #[cfg(feature = "upload")]
    async fn local_recording(&self, req: &CloneRequest) -> Result<(), Error> {
        if matches!(req.audio, crate::model::AudioSource::Url(_)) {
            return Ok(());
        }
        let client_limit = crate::transfer::DEFAULT_MAX_UPLOAD_BYTES;
        crate::provider::measure_clone_recording(self.provider, &req.audio, client_limit).await
    }

    /// A clone submit's failure: from a local recording, as the client reports a submit
    /// that failed after the upload (the step named); otherwise as it is.
    fn after_upload(&self, req: &CloneRequest, e: Error) -> Error {
        #[cfg(feature = "upload")]
        if !matches!(req.audio, crate::model::AudioSource::Url(_))
            && !matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "script")
        {
            return crate::provider::submit_after_upload_failed(self.provider, e);
        }
        #[cfg(not(feature = "upload"))]
        let _ = req;
        e
    }

    /// A trait method's future, its error marked with the provider and (unless a step said
    /// which call failed) the method, as the client marks its errors.
    async fn labelled<T>(
        &self,
        operation: &'static str,
        call: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        call.await.map_err(|e| {
            e.with_provider(self.provider)
                .with_operation_if_unset(operation)
        })
    }

    /// Whether every later read of job `id` sees the same step, one a wait polls past: a
    /// status not terminal, or a transient error (its last step, already read once).
    fn stuck(&self, id: &JobId, kind: JobKind) -> bool {
        let state = self.lock();
        // A job of the other kind is read (and refused) as the client's poll refuses it.
        let Some(job) = state.job(id.as_str()).filter(|j| j.kind == kind) else {
            return false;
        };
        if job.reads < job.script.steps.len().max(1) {
            return false;
        }
        match job.script.steps.last() {
            None => true,
            Some(Step::Error(k)) => crate::retry::read_would_retry(&Error::new(k.clone())),
            // Polled past a few times in a row only: the wait ends on it.
            Some(Step::Unreadable) => false,
            Some(step) => !step.status().is_some_and(TaskStatus::is_terminal),
        }
    }

    /// The client's own polling loop, on the fake's virtual clock.
    ///
    /// Once a bounded wait's job is stuck on a step it polls past (a status not terminal,
    /// or a transient error, repeating), and one poll has read that step, the rest of the
    /// wait is fast-forwarded: where the loop would end (its poll count and virtual time
    /// under the policy) is computed, not polled, and each poll skipped is counted as a
    /// status read all the same ([`FakeClient::calls`], [`FakeClient::slept`]); not on a
    /// sleeper given ([`FakeClient::with_sleeper`]), whose clock the caller watches. A wait
    /// with no bound at all waits without polling instead (it would never end), once one of
    /// its polls has read the repeating step.
    async fn wait<J: Job>(
        &self,
        id: &JobId,
        policy: &WaitPolicy,
        read: impl Fn(&JobId) -> Result<J, Error>,
    ) -> Result<J, Error> {
        // As the client's wait: an id refused here names a job that may exist, never "submit
        // it again".
        id.check(self.provider, J::KIND)
            .and_then(|()| crate::validate::id("job_id", id.as_str()))
            .map_err(|e| e.with_provider(self.provider).task_may_exist())?;
        // A fake has no API key to keep out of its log lines.
        let no_key = crate::scrub::no_secret();
        let waiting = Waiting::new(&self.sleeper, no_key, id, <J as Job>::status);
        let unbounded = policy.deadline.is_none() && policy.max_polls.is_none();
        // On a sleeper given, time passes on its clock: every poll is made and slept, as the
        // client's are, or a timer of the caller's would not see the wait's time pass.
        let given = self.sleeper.given.as_ref();
        let seen = Mutex::new(Seen::default());
        let (read, seen_ref) = (&read, &seen);
        let mut poll = || {
            waiting.progress.add_sleep(FAKE_POLL_TIME);
            let stuck = self.stuck(id, J::KIND);
            let (park, skip) = {
                let mut seen = lock_seen(seen_ref);
                seen.polls = seen.polls.saturating_add(1);
                let skip = stuck && !unbounded && seen.read_stuck && given.is_none();
                seen.fast_forward |= skip;
                // Only once this wait has read the job: one read past its steps by another
                // call is read once here first, as the client's wait reads it (its observer
                // told) before it would poll on (review 34-b #3). Nothing skips or times
                // out a poll of a wait with no bound, so each earlier poll read it.
                let park = stuck && unbounded && seen.polls > 1;
                seen.read_stuck |= stuck;
                (park, skip)
            };
            async move {
                // A wait with no deadline and no poll bound on a job whose script repeats a
                // step the wait polls past never ends, here as with the client: it waits
                // without polling (a real one would poll forever) rather than spin.
                if park {
                    tracing::warn!(job_id = %id, "a wait with no deadline and no poll bound on a fake job that never finishes: waiting forever");
                    std::future::pending::<()>().await;
                }
                // Every later poll would read the same step: the loop is left here (this
                // error, which it does not poll past, never reaches the caller) and its end
                // computed.
                if skip {
                    return Err(Error::invalid_input("fake", "fast-forward"));
                }
                // The poll's time on the sleeper given, as a request's round trip takes it.
                if let Some(sleeper) = given {
                    sleeper.sleep(FAKE_POLL_TIME).await;
                }
                let out = read(id);
                let mut seen = lock_seen(seen_ref);
                match &out {
                    Ok(job) => {
                        let status = <J as Job>::status(job);
                        // As the loop keeps it: the last status that did not end the wait.
                        if !status.is_terminal() {
                            seen.last_status = Some(status.clone());
                        }
                        seen.last_error = None;
                    }
                    Err(e) => seen.last_error = Some(e.to_string()),
                }
                out
            }
        };
        let polled = poll_from(&waiting, policy, &mut poll).await;
        let seen = seen.into_inner().unwrap_or_else(|p| p.into_inner());
        if seen.fast_forward {
            let elapsed = nanos(waiting.progress.elapsed());
            let timed_out = self.fast_forward(id, J::KIND, policy, elapsed, seen);
            return Err(timed_out.task_may_exist());
        }
        // As the client's wait: past the id check the job was accepted and exists, so no
        // error of the wait (a poll refused with 401 or 402, the task's failure) says "submit
        // it again" (`may_resubmit()` is false whatever the kind).
        let job = polled.map_err(Error::task_may_exist)?;
        if *job.status() == TaskStatus::Failed {
            return Err(crate::client::failed_task(id, &job).with_provider(self.provider));
        }
        Ok(job)
    }

    /// The end of a bounded wait left at poll `seen.polls` (`elapsed` nanoseconds on its
    /// clock), whose job repeats the step the poll before read: the loop's `WaitTimedOut`
    /// (its poll count, last status and last error), with every poll skipped counted as made
    /// (in the call log, the job's reads, the virtual clock).
    fn fast_forward(
        &self,
        id: &JobId,
        kind: JobKind,
        policy: &WaitPolicy,
        elapsed: u64,
        seen: Seen,
    ) -> Error {
        // The loop's jitter, drawn once per sleep so far (one after each poll before this).
        let mut rng = match policy.seed {
            Some(seed) => crate::jitter::Jitter::with_seed(seed),
            None => crate::jitter::Jitter::new(),
        };
        let mut made: u64 = 1;
        while made < seen.polls {
            let _ = policy.interval(poll_number(made), &mut rng);
            made = made.saturating_add(1);
        }
        let end = run_out_wait(policy, seen.polls, elapsed, &mut rng);
        self.sleeper.add(end.slept);
        let skipped = end.polls.saturating_sub(seen.polls).saturating_add(1);
        {
            let mut state = self.lock();
            let call = match kind {
                JobKind::Clone => FakeCall::CloneStatus(id.clone()),
                _ => FakeCall::SpeechStatus(id.clone()),
            };
            state.record_many(call, skipped);
            if let Some(job) = state.job_mut(id.as_str()) {
                let reads = usize::try_from(skipped).unwrap_or(usize::MAX);
                job.reads = job.reads.saturating_add(reads);
            }
        }
        let err = Error::new(ErrorKind::WaitTimedOut {
            job_id: id.clone(),
            last_status: seen
                .last_status
                .unwrap_or_else(|| TaskStatus::Unknown("not yet seen".into())),
            polls: poll_number(end.polls),
        });
        match seen.last_error {
            Some(m) => err.with_message(format!("last poll failed: {m}")),
            None => err,
        }
    }
}

/// What a fake wait's polls have seen, for a fast-forward.
#[derive(Debug, Default)]
struct Seen {
    /// Polls made (the loop's count, before it wraps).
    polls: u64,
    /// A poll has read the job while it was stuck on its repeating step.
    read_stuck: bool,
    /// The loop was left to be fast-forwarded.
    fast_forward: bool,
    /// The last status that did not end the wait (the loop's `last_status`).
    last_status: Option<TaskStatus>,
    /// The last poll's error, when it failed.
    last_error: Option<String>,
}

fn lock_seen(seen: &Mutex<Seen>) -> MutexGuard<'_, Seen> {
    seen.lock().unwrap_or_else(|p| p.into_inner())
}

/// How many polls of a fast-forward are computed one by one, as the loop makes them (its
/// jitter drawn in the same order, so a seeded wait ends exactly where the loop would).
/// Past these, a stretch of polls at one interval is counted at once, without jitter: a
/// wait of more than 65,536 polls is billions in the worst case (a deadline of
/// `Duration::MAX`, `max_polls` of `u32::MAX`), and its exact count a matter of chance
/// with the client too.
const EXACT_POLLS: u32 = 1 << 16;

/// The first stretch of polls counted at one interval while the interval still grows (past
/// [`EXACT_POLLS`]: a growth so close to 1 it grows for billions of polls); each next one is
/// twice as long, so any wait ends in a few hundred stretches.
const FIRST_STRETCH: u64 = 1 << 12;

/// The number the loop gives its `made`-th poll: its counter is a `u32` that wraps
/// (`fetch_add`), each number saturating at `u32::MAX` (`poll_from`).
fn poll_number(made: u64) -> u32 {
    let low = made.saturating_sub(1) % (1u64 << 32);
    u32::try_from(low).unwrap_or(u32::MAX).saturating_add(1)
}

/// Where a wait ends.
#[derive(Debug, PartialEq)]
struct WaitEnd {
    /// Polls made in all (the loop's count, before it wraps).
    polls: u64,
    /// Nanoseconds slept from the start of the fast-forward (saturating).
    slept: u64,
}

/// Where `policy`'s loop ends, its poll number `made` just made (every poll from here on
/// sees the same step, one it polls past) at `elapsed` nanoseconds on its clock (this poll's
/// [`FAKE_POLL_TIME`] counted), `rng` its jitter as drawn so far: the loop's own arithmetic
/// (`wait::poll_from`): after each poll, end on the poll bound or the deadline, else sleep
/// the interval (cut at the deadline) and poll again, the clock saturating at `u64::MAX`
/// nanoseconds (read as `Duration::MAX`). Only for a wait with a deadline or a poll bound.
fn run_out_wait(
    policy: &WaitPolicy,
    made: u64,
    elapsed: u64,
    rng: &mut crate::jitter::Jitter,
) -> WaitEnd {
    let poll_time = u128::from(nanos(FAKE_POLL_TIME));
    // The clock passes a deadline once it reaches its nanoseconds, or saturates.
    let limit = policy.deadline.map(nanos);
    // A deadline within the clock's range cuts the last sleep; past it, the clock saturates.
    let cut = policy
        .deadline
        .is_some_and(|d| d.as_nanos() <= u128::from(u64::MAX));
    let jittered = policy.jitter.is_finite() && policy.jitter.clamp(0.0, 1.0) != 0.0;
    let steady_base = policy.interval_without_jitter(u32::MAX);
    let (mut made, mut elapsed, mut slept) = (made, elapsed, 0u64);
    let (mut exact_left, mut stretch) = (EXACT_POLLS, FIRST_STRETCH);
    loop {
        let number = poll_number(made);
        let out_of_polls = policy.max_polls.is_some_and(|m| number >= m);
        let out_of_time = limit.is_some_and(|l| elapsed >= l);
        if out_of_polls || out_of_time {
            return WaitEnd { polls: made, slept };
        }
        let base = policy.interval_without_jitter(number);
        let steady = base == steady_base;
        if number == u32::MAX || (exact_left > 0 && (jittered || !steady)) {
            // One poll, as the loop makes it.
            exact_left = exact_left.saturating_sub(1);
            let mut next = policy.interval(number, rng);
            if let Some(deadline) = policy.deadline {
                let clock = match elapsed {
                    u64::MAX => Duration::MAX,
                    n => Duration::from_nanos(n),
                };
                next = next.min(deadline.saturating_sub(clock));
            }
            let next = nanos(next);
            slept = slept.saturating_add(next);
            elapsed = elapsed
                .saturating_add(next)
                .saturating_add(nanos(FAKE_POLL_TIME));
            made = made.saturating_add(1);
            continue;
        }
        // A stretch of polls at one interval, up to the poll numbered `u32::MAX` (where the
        // count wraps and the schedule starts again), the poll bound or the deadline.
        let each = u128::from(nanos(base));
        let step = each.saturating_add(poll_time);
        let mut polls = u64::from(u32::MAX.saturating_sub(number));
        if !steady {
            polls = polls.min(stretch);
            stretch = stretch.saturating_mul(2);
        }
        let mut ends = false;
        if let Some(m) = policy.max_polls {
            let to_bound = u64::from(m.saturating_sub(number));
            if to_bound <= polls {
                (polls, ends) = (to_bound, true);
            }
        }
        // The first poll at or past the deadline ends the wait; the sleep before it is cut
        // to end at the deadline.
        let mut last_cut = None;
        if let Some(l) = limit {
            let left = u128::from(l.saturating_sub(elapsed));
            let to_deadline = u64::try_from(left.div_ceil(step.max(1))).unwrap_or(u64::MAX);
            if to_deadline <= polls {
                (polls, ends) = (to_deadline, true);
                let before = u128::from(elapsed)
                    .saturating_add(step.saturating_mul(u128::from(to_deadline.saturating_sub(1))));
                let room = u128::from(l).saturating_sub(before);
                last_cut = Some(if cut { each.min(room) } else { each });
            }
        }
        let sleeps = match last_cut {
            Some(last) => each
                .saturating_mul(u128::from(polls.saturating_sub(1)))
                .saturating_add(last),
            None => each.saturating_mul(u128::from(polls)),
        };
        slept = slept.saturating_add(u64::try_from(sleeps).unwrap_or(u64::MAX));
        made = made.saturating_add(polls);
        if ends {
            return WaitEnd { polls: made, slept };
        }
        let moved = step.saturating_mul(u128::from(polls));
        elapsed = u64::try_from(u128::from(elapsed).saturating_add(moved)).unwrap_or(u64::MAX);
    }
}

/// The status word the provider sends for `status`, as the client reports it in
/// `vendor_status`: JimmyAI's four; VMEG's documented `running`, `finished`, `failed`, and
/// for a scripted `Queued` the word the client reads `Queued` from, `queued`, which VMEG
/// does not document (so the job's `assumed_status` says so, as the client's would; VMEG
/// itself may well say `running` for a queued task, read as `Running`).
fn vendor_word(provider: Provider, status: &TaskStatus) -> String {
    match (provider, status) {
        (_, TaskStatus::Unknown(raw)) => raw.clone(),
        (Provider::JimmyAi, TaskStatus::Queued) => "queued".into(),
        (Provider::JimmyAi, TaskStatus::Running) => "processing".into(),
        (Provider::JimmyAi, TaskStatus::Succeeded) => "completed".into(),
        // VMEG documents no queued word: the client reads `Queued` only from one it guesses.
        (_, TaskStatus::Queued) => "queued".into(),
        (_, TaskStatus::Running) => "running".into(),
        (_, TaskStatus::Succeeded) => "finished".into(),
        (_, TaskStatus::Failed) => "failed".into(),
    }
}

/// The vendor id of the job made after `created` others: `fake-<kind>-<instance>-<n>`.
fn vendor_id(instance: &str, kind: JobKind, created: u64) -> String {
    format!("fake-{kind}-{instance}-{}", created.saturating_add(1))
}

/// A scripted submit failure as the client meets it: a `Timeout` came after sending (phase
/// `Sent`: the task may exist); a `Transport` failure happened before sending for an
/// asynchronous submit (a connection that never opened), after it for a synchronous one
/// (the request was held while the task ran: `transport` says which); a refusal (401, 402,
/// 429, 400, ...) is the endpoint's answer before it made anything.
fn submit_failure(kind: ErrorKind, transport: Phase) -> Error {
    let phase = match kind {
        ErrorKind::Transport => Some(transport),
        ErrorKind::Timeout => Some(Phase::Sent),
        _ => None,
    };
    let err = Error::new(kind);
    match phase {
        Some(p) => err.with_phase(p),
        None => err,
    }
}

impl VoiceCloning for FakeClient {
    fn provider(&self) -> Provider {
        self.provider
    }

    fn clone_voice<'a>(&'a self, req: &'a CloneRequest) -> BoxFuture<'a, Result<CloneJob, Error>> {
        Box::pin(self.labelled("clone_voice", async move {
            let plan = match crate::estimate::DryRun::clone_voice(
                self.provider,
                req,
                self.allow_private,
            ) {
                Ok(plan) => plan,
                Err(e) => {
                    self.lock().record(FakeCall::CloneVoice(req.clone()));
                    return Err(e.with_operation("clone_voice"));
                }
            };
            #[cfg(feature = "upload")]
            if let Err(e) = self.local_recording(req).await {
                self.lock().record(FakeCall::CloneVoice(req.clone()));
                return Err(e);
            }
            let made = self
                .submit(
                    JobKind::Clone,
                    FakeCall::CloneVoice(req.clone()),
                    req.name.clone(),
                    req.idempotency_key.clone(),
                    req.synchronous == Some(true),
                    "clone_voice",
                    plan.requests.last(),
                    Asked::default(),
                )
                .map_err(|e| self.after_upload(req, e))?;
            if req.synchronous == Some(true) {
                let mut job =
                    self.finish_now(&made.id, "clone_voice", |id| self.clone_read(id, false))?;
                // VMEG's synchronous answer carries the voice (the client needs it there).
                if job.voice.is_none() {
                    job.voice = self.looked_up_voice(&made.id);
                }
                if let Some(name) = made.name {
                    job = job.with_name(name);
                }
                if let Some(key) = made.key {
                    job = job.with_idempotency_key(key);
                }
                if made.no_task_id {
                    job.id = JobId::no_task(self.provider, JobKind::Clone);
                }
                // VMEG's synchronous answer carries the result, not a status word.
                job.vendor_status = None;
                return Ok(job);
            }
            let mut job =
                CloneJob::new(self.provider, made.id, TaskStatus::Queued).with_created_at(made.at);
            // JimmyAI's create answer is the task, `queued`; VMEG's names only its id.
            if self.provider == Provider::JimmyAi {
                job = job.with_vendor_status("queued");
            }
            if let Some(key) = made.key {
                job = job.with_idempotency_key(key);
            }
            if let Some(name) = made.name {
                job = job.with_name(name);
            }
            Ok(job)
        }))
    }

    fn clone_status<'a>(&'a self, id: &'a JobId) -> BoxFuture<'a, Result<CloneJob, Error>> {
        // As the client's: a read about a task never says "submit it again".
        Box::pin(self.labelled("clone_status", async move {
            self.clone_read(id, true).map_err(Error::task_may_exist)
        }))
    }

    fn wait_for_clone<'a>(
        &'a self,
        id: &'a JobId,
        policy: &'a WaitPolicy,
    ) -> BoxFuture<'a, Result<Voice, Error>> {
        Box::pin(self.labelled("wait_for_clone", async move {
            let job = self
                .wait(id, policy, |id| self.clone_read(id, true))
                .await?;
            // The lookup of the voice after the success, failing once if scripted so.
            let failed = {
                let mut state = self.lock();
                state.job_mut(id.as_str()).and_then(|j| {
                    let kind = j
                        .script
                        .failed_lookup
                        .clone()
                        .filter(|_| !j.lookup_failed)?;
                    j.lookup_failed = true;
                    Some(kind)
                })
            };
            if let Some(kind) = failed {
                // As the client's lookup reads the clone list's answer: its HTTP status and
                // code, under the operation its voice-list read names ("voices").
                let e = self.answered(kind, "voices");
                return Err(crate::client::lookup_failed(id, e));
            }
            // After the task succeeded, as the client's lookup of its result: the task is
            // done and billed, never to be submitted again.
            job.voice
                .or_else(|| self.looked_up_voice(id))
                .ok_or_else(|| {
                    Error::new(ErrorKind::InvalidResponse)
                        .with_message("the fake clone has no voice")
                        .task_may_exist()
                })
        }))
    }

    fn synthesize<'a>(&'a self, req: &'a SpeechRequest) -> BoxFuture<'a, Result<SpeechJob, Error>> {
        Box::pin(self.labelled("synthesize", async move {
            // In the client's order (`Client::synthesize`): the voice ids as it checks them,
            // then the dry run's planning, which runs the provider's request rules (what the
            // client checks before sending).
            let checked = req
                .check_voice_ids(self.provider, SystemTime::now())
                .and_then(|()| (crate::provider::offline(self.provider).plan_speech)(req));
            let planned = match checked {
                Ok(planned) => planned,
                Err(e) => {
                    self.lock().record(FakeCall::Synthesize(req.clone()));
                    return Err(e.with_provider(self.provider).with_operation("synthesize"));
                }
            };
            let made = self.submit(
                JobKind::Speech,
                FakeCall::Synthesize(req.clone()),
                None,
                req.idempotency_key.clone(),
                req.synchronous == Some(true),
                "synthesize",
                Some(&planned),
                Asked::of(req),
            )?;
            if req.synchronous == Some(true) {
                let mut job =
                    self.finish_now(&made.id, "synthesize", |id| self.speech_read(id, false))?;
                if let Some(key) = made.key {
                    job = job.with_idempotency_key(key);
                }
                if made.no_task_id {
                    job.id = JobId::no_task(self.provider, JobKind::Speech);
                }
                job.vendor_status = None;
                // As the client notes it on a synchronous answer: the lines sent are known.
                if job.status == TaskStatus::Succeeded
                    && let Some(speech) = job.speech.as_mut()
                {
                    speech.lines_sent = Some(req.lines.len());
                }
                return Ok(job);
            }
            let mut job =
                SpeechJob::new(self.provider, made.id, TaskStatus::Queued).with_created_at(made.at);
            if self.provider == Provider::JimmyAi {
                job = job.with_vendor_status("queued");
            }
            if let Some(key) = made.key {
                job = job.with_idempotency_key(key);
            }
            // A JimmyAI production job names the modelId it used, as the client reports it:
            // the trimmed id, typed with the provider, in the state it was sent with
            // (activation is pending until the task is seen completed).
            if self.provider == Provider::JimmyAi
                && let Some(line) = req.lines.first()
            {
                let model =
                    crate::model::VoiceId::typed(Provider::JimmyAi, line.voice_id.as_str().trim())
                        .with_activation(line.voice_id.activation());
                job = job.with_voice(model);
            }
            Ok(job)
        }))
    }

    fn speech_status<'a>(&'a self, id: &'a JobId) -> BoxFuture<'a, Result<SpeechJob, Error>> {
        // As the client's: a read about a task never says "submit it again".
        Box::pin(self.labelled("speech_status", async move {
            self.speech_read(id, true).map_err(Error::task_may_exist)
        }))
    }

    fn wait_for_speech<'a>(
        &'a self,
        id: &'a JobId,
        policy: &'a WaitPolicy,
    ) -> BoxFuture<'a, Result<Speech, Error>> {
        Box::pin(self.labelled("wait_for_speech", async move {
            let job = self
                .wait(id, policy, |id| self.speech_read(id, true))
                .await?;
            // As the client: every line failed is a failed task, no audio at all no result.
            crate::client::speech_result(id, job)
        }))
    }

    fn list_voices(&self) -> BoxFuture<'_, Result<Vec<Voice>, Error>> {
        Box::pin(self.labelled("list_voices", async move {
            let mut state = self.lock();
            state.record(FakeCall::ListVoices);
            if self.provider != Provider::Vmeg {
                return Err(Error::unsupported("list_voices", self.provider));
            }
            // Each look is a step of time for the clones nobody can poll (lost submits).
            for job in state
                .jobs
                .iter_mut()
                .filter(|j| j.unattended && !j.succeeded)
            {
                job.step_alone();
            }
            Ok(state
                .jobs
                .iter()
                .filter(|j| j.kind == JobKind::Clone && j.succeeded)
                .map(|j| self.voice_of(j))
                .collect())
        }))
    }
}

/// A refused JimmyAI status read, noted as the client notes it: JimmyAI does not document its
/// answer to an unknown task id.
fn unknown_id_or_invalid(provider: Provider, id: &JobId, e: Error) -> Error {
    match provider {
        Provider::JimmyAi => crate::provider::jimmyai::unknown_id_or_invalid(e, id),
        Provider::Vmeg => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loop's counter is a `u32` that wraps, each number saturating at `u32::MAX`: a
    /// fast-forward past four billion polls numbers them as the loop does.
    #[test]
    fn fast_forwarded_polls_are_numbered_as_the_loop_numbers_them() {
        assert_eq!(poll_number(1), 1);
        assert_eq!(poll_number(u64::from(u32::MAX)), u32::MAX);
        assert_eq!(poll_number(1 << 32), u32::MAX);
        assert_eq!(poll_number((1 << 32) + 1), 1);
    }

    /// With no deadline, no interval and the bound past the wrap point of the loop's count
    /// never reached, a fast-forward still ends (on the bound) at once.
    #[test]
    fn a_fast_forward_ends_on_the_poll_bound_or_the_saturated_clock() {
        let zero = WaitPolicy::for_provider(Provider::Vmeg)
            .with_first_interval(Duration::ZERO)
            .with_max_interval(Duration::ZERO)
            .with_deadline(None)
            .with_max_polls(Some(u32::MAX));
        let mut rng = crate::jitter::Jitter::with_seed(1);
        let end = run_out_wait(&zero, 2, 200_000_000, &mut rng);
        assert_eq!(
            end,
            WaitEnd {
                polls: u64::from(u32::MAX),
                slept: 0
            }
        );
        // A deadline past the clock's range: the clock saturates (Duration::MAX), which is
        // past it, after u64::MAX / 100 ms polls, the count wrapping on the way.
        let forever = zero.with_max_polls(None).with_deadline(Some(Duration::MAX));
        let end = run_out_wait(&forever, 2, 200_000_000, &mut rng);
        assert_eq!(end.polls, u64::MAX / 100_000_000 + 1);
        assert_eq!(end.slept, 0);
    }
}
