//! A job this command holds: waiting for it, reporting it when a signal stops the wait, and
//! what its answer says about how it ended.

use voiceclone::{
    Client, CloneJob, Error, ErrorKind, Job, JobId, Speech, SpeechJob, TaskStatus, Voice,
    WaitPolicy,
};

use super::suggest::{wait_command, with_which_key};
use super::webhook_wait::Awaited;
use crate::exit::Exit;
use crate::output::{Failure, Outcome, Printer, RenderJob, forget_status, put_job};
use crate::spinner::Spinner;

pub(super) fn task_failed(id: &JobId, reason: Option<&str>) -> Failure {
    let reason = reason.unwrap_or("the provider gave no reason");
    Failure::other(
        Exit::Failure,
        "task_failed",
        format!("task {id} failed: {reason}"),
    )
    .with("job_id", id.to_string())
    .with("vendor_id", id.as_str())
    .with("reason", reason)
}

/// Whether a submit's answer says how the job ended: failed, or succeeded with its voice or
/// audio. A create answered `completed` without its result (a caching proxy, a server bug)
/// has not ended for `--wait`, which was asked for that result: the wait reads the task (one
/// poll), where exit 0 with nothing to use would have been the answer.
pub(super) fn finished<J: CliJob>(job: &J) -> bool {
    match job.status() {
        TaskStatus::Succeeded => job.has_result(),
        status => status.is_terminal(),
    }
}

/// A job of either kind as an outcome (a failed task is a failure).
pub(super) fn job_outcome<J: RenderJob>(job: &J) -> Outcome {
    let mut o = Outcome::default();
    put_job(&mut o, job);
    if *job.status() == TaskStatus::Failed {
        // As a wait's failure: a status word the vendor does not document is exit 3.
        o.failure = Some(task_failed(job.id(), job.error()).assumed_status(job.assumed_status()));
    }
    o
}

/// What the CLI needs to poll and wait for a job of one kind.
pub(super) trait CliJob: RenderJob {
    /// Whether a succeeded job carries what it was for: a voice, or at least one audio URL.
    fn has_result(&self) -> bool;
    /// This job, succeeded with what its wait returned.
    fn completed(self, output: Self::Output) -> Self;
    fn fetch<'a>(client: &'a Client, id: &'a JobId) -> LocalFuture<'a, Result<Self, Error>>;
    fn wait<'a>(
        client: &'a Client,
        id: &'a JobId,
        policy: &'a WaitPolicy,
    ) -> LocalFuture<'a, Result<Self::Output, Error>>;
}

pub(super) type LocalFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>>;

impl CliJob for CloneJob {
    fn has_result(&self) -> bool {
        self.voice.is_some()
    }
    fn completed(mut self, output: Voice) -> Self {
        self.set_status(TaskStatus::Succeeded);
        // The create's word (`queued`) no longer describes the task.
        self.vendor_status = None;
        self.set_output(output);
        self
    }
    fn fetch<'a>(client: &'a Client, id: &'a JobId) -> LocalFuture<'a, Result<Self, Error>> {
        Box::pin(client.clone_status(id))
    }
    fn wait<'a>(
        client: &'a Client,
        id: &'a JobId,
        policy: &'a WaitPolicy,
    ) -> LocalFuture<'a, Result<Voice, Error>> {
        Box::pin(client.wait_for_clone(id, policy))
    }
}

impl CliJob for SpeechJob {
    fn has_result(&self) -> bool {
        self.speech
            .as_ref()
            .is_some_and(|s| !s.audio_urls.is_empty())
    }
    /// The library's own: a completed JimmyAI task activated the `modelId` it used, and the
    /// job's voice says so (what `speak --wait` then prints to store).
    fn completed(self, output: Speech) -> Self {
        self.completed_with(output)
    }
    fn fetch<'a>(client: &'a Client, id: &'a JobId) -> LocalFuture<'a, Result<Self, Error>> {
        Box::pin(client.speech_status(id))
    }
    fn wait<'a>(
        client: &'a Client,
        id: &'a JobId,
        policy: &'a WaitPolicy,
    ) -> LocalFuture<'a, Result<Speech, Error>> {
        Box::pin(client.wait_for_speech(id, policy))
    }
}

/// Waits for a job of either kind, with a spinner, and renders where it ended; also hands
/// back the job (with its result when it succeeded). The job is added to `awaited` (the
/// tasks `--webhook-listen` answers 200) before the wait starts.
pub(super) async fn finish_wait_with<J: CliJob>(
    client: &Client,
    mut job: J,
    policy: &WaitPolicy,
    printer: &Printer,
    awaited: Option<&Awaited>,
) -> (Outcome, J) {
    let kind = J::KIND;
    let spinner = Spinner::start(
        printer,
        format!(
            "waiting for {} {kind} job {} (status: {})",
            job.provider(),
            job.id(),
            job.status()
        ),
    );
    let policy = spinner.follow(
        policy,
        format!("waiting for {} {kind} job {}", job.provider(), job.id()),
    );
    let id = job.id().clone();
    if let Some(awaited) = awaited {
        awaited.add(&id);
    }
    let result = J::wait(client, &id, &policy).await;
    drop(spinner);
    let failure = match result {
        Ok(output) => {
            job = job.completed(output);
            None
        }
        Err(e) => {
            apply_wait_error(&mut job, &e);
            Some(Failure::from_adapter(&e))
        }
    };
    let mut o = job_outcome(&job);
    if failure.is_some() {
        o.failure = failure;
    }
    o.set("waited", true);
    (o, job)
}

/// What a wait is for: a job this command submitted and saw accepted, or an id given on the
/// command line (`wait JOB_ID`), of which nothing is known.
#[derive(Clone, Copy)]
pub(super) enum Waited {
    Accepted,
    ById,
}

/// `waited` (the wait for an accepted job), unless SIGINT or SIGTERM comes first: then the
/// job, accepted and running (it may be billed), is reported with its id and exit 3, so
/// that stopping the command never loses it. Before, the process died by the signal with
/// nothing printed (in `--json` or `--quiet`, the job id was nowhere).
pub(super) async fn interruptible<J: CliJob>(
    waited: impl std::future::Future<Output = (Outcome, J)>,
    job: J,
    signals: &mut Option<crate::signals::Signals>,
    waited_for: Waited,
) -> (Outcome, J) {
    let Some(signals) = signals.as_mut() else {
        return waited.await;
    };
    // A wait that ended with the signal is reported as it ended (biased: the wait first).
    match crate::signals::unless(waited, signals.next()).await {
        Ok(done) => done,
        Err(name) => {
            let mut o = job_outcome(&job);
            // A job still waited on that says `succeeded` has it from its create's answer
            // alone, which came without the result: not a status to print as the provider's.
            if *job.status() == TaskStatus::Succeeded {
                forget_status(&mut o, &job);
            }
            let message = match waited_for {
                Waited::Accepted => format!(
                    "{name}: stopped waiting; job {} was accepted and goes on (it may be billed): `{}`{} follows it",
                    job.id(),
                    wait_command(job.id(), J::KIND),
                    crate::output::suggested_key_note()
                ),
                // An id from the command line: nothing is known of it yet.
                Waited::ById => format!(
                    "{name}: stopped waiting for job {}; nothing is known of how it ended: `{}`{} follows it",
                    job.id(),
                    wait_command(job.id(), J::KIND),
                    crate::output::suggested_key_note()
                ),
            };
            // The id at the top (as every job result has it) and in the error (as `status`
            // and the long run name theirs): a script reading either finds it.
            o.failure = Some(
                Failure::other(Exit::Unreachable, "interrupted", message)
                    .with("job_id", job.id().to_string()),
            );
            o.set("waited", false);
            (o, job)
        }
    }
}

/// A wait that failed after the job was accepted, for a reason other than the task's own
/// failure (a poll answered 404 before the task was readable, a proxy's HTML page): the job
/// exists and may be billed, so its outcome is unknown (exit 3, the job id kept, no status
/// claimed), never a failure a script would submit again (exit 1).
pub(super) fn after_submit<J: CliJob>((mut o, job): (Outcome, J)) -> (Outcome, J) {
    if let Some(f) = o.failure.as_mut()
        && f.kind != "task_failed"
        && f.exit != Exit::Unreachable
    {
        f.exit = Exit::Unreachable;
        f.message = format!(
            "job {} was accepted, but waiting for it failed ({}); its outcome is not known: do not submit it again, check it with `{}`{}",
            job.id(),
            f.message,
            wait_command(job.id(), J::KIND),
            with_which_key(&f.kind),
        );
        forget_status(&mut o, &job);
    }
    (o, job)
}

/// A `--sync` answer: the job comes back finished, so a success without its voice or audio
/// is a paid job whose result did not come with it: exit 3 with the job id (look it up, do
/// not submit again), never exit 0 with nothing to use.
pub(super) fn sync_result<J: CliJob>((mut o, job): (Outcome, J)) -> (Outcome, J) {
    if o.failure.is_none() && *job.status() == TaskStatus::Succeeded && !job.has_result() {
        let what = match J::KIND {
            voiceclone::JobKind::Clone => "voice",
            _ => "audio URL",
        };
        o.failure = Some(
            Failure::other(
                Exit::Unreachable,
                "invalid_response",
                format!(
                    "job {} succeeded, but the synchronous answer carries no {what}: do not submit it again, fetch the result with `{}`{}",
                    job.id(),
                    wait_command(job.id(), J::KIND),
                    crate::output::suggested_key_note()
                ),
            )
            .with("job_id", job.id().to_string()),
        );
    }
    (o, job)
}

/// What a failed wait says about the task's status.
pub(super) fn apply_wait_error<J: Job>(job: &mut J, e: &voiceclone::Error) {
    match e.kind() {
        ErrorKind::TaskFailed { reason, .. } => {
            job.set_status(TaskStatus::Failed);
            job.set_error(reason.clone());
        }
        ErrorKind::WaitTimedOut { last_status, .. } => job.set_status(last_status.clone()),
        _ => {}
    }
}
