//! `status` and `wait` for a job id from the command line, and a wait for the wrong kind.

use voiceclone::{Client, CloneJob, ErrorKind, JobId, Provider, SpeechJob, TaskStatus, WaitPolicy};

use super::job::{CliJob, Waited, finish_wait_with, interruptible, job_outcome};
use super::policy::policy;
use super::suggest::{sh_id, wait_command, with_which_key};
use crate::cli::{JobKind, PollArgs};
use crate::exit::Exit;
use crate::output::{Failure, Outcome, Printer, forget_status, put_success};

/// `JOB_ID` and `--kind`: a stored-form id says its kind (`--kind` must agree); a bare id
/// takes `--kind` (default clone), checked later against the vendor's answer.
pub(super) fn job_id(raw: &str, kind: Option<JobKind>) -> Result<(JobId, JobKind), Failure> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(Failure::usage("JOB_ID is empty"));
    }
    let id: JobId = raw
        .parse()
        .map_err(|e: voiceclone::ParseError| Failure::usage(format!("JOB_ID: {}", e.reason())))?;
    let said = match id.kind() {
        Some(voiceclone::JobKind::Speech) => Some(JobKind::Speech),
        Some(_) => Some(JobKind::Clone),
        None => None,
    };
    match (said, kind) {
        (Some(s), Some(k)) if s != k => Err(Failure::usage(format!(
            "JOB_ID {id} is a {} job, but --kind says {}",
            kind_name(s),
            kind_name(k)
        ))),
        (Some(s), _) => Ok((id, s)),
        (None, k) => Ok((id, k.unwrap_or_default())),
    }
}

pub(super) fn kind_name(k: JobKind) -> &'static str {
    match k {
        JobKind::Clone => "clone",
        JobKind::Speech => "speech",
    }
}

pub(super) async fn status(client: &Client, p: Provider, id: &JobId, kind: JobKind) -> Outcome {
    if id.as_str().is_empty() {
        return Outcome::failed(Failure::usage("JOB_ID is empty"));
    }
    async fn status_of<J: CliJob>(client: &Client, id: &JobId) -> Outcome {
        // A signal during the read still ends in one result (exit 3, the job named), not
        // a process killed with nothing printed.
        let mut signals = crate::signals::Signals::install().ok();
        let fetched = J::fetch(client, id);
        let fetched = match signals.as_mut() {
            Some(signals) => tokio::select! {
                biased;
                r = fetched => r,
                name = signals.next() => {
                    // The id in the error and at the top, as `wait` names its job.
                    let mut o = Outcome::failed(
                        Failure::other(
                            Exit::Unreachable,
                            "interrupted",
                            format!("{name}: stopped before the status of job {id} was read"),
                        )
                        .with("job_id", id.to_string()),
                    );
                    o.set("job_id", id.to_string());
                    o.set("vendor_id", id.as_str());
                    return o;
                }
            },
            None => fetched.await,
        };
        match fetched {
            Ok(job) => {
                let mut o = job_outcome(&job);
                put_success(&mut o, &job);
                o
            }
            Err(e) => Outcome::failed(e.into()),
        }
    }
    let mut o = match kind {
        JobKind::Clone => status_of::<CloneJob>(client, id).await,
        JobKind::Speech => status_of::<SpeechJob>(client, id).await,
    };
    add_kind_hint(&mut o, p, id, kind);
    o
}

/// A job id of the other kind reads as "not found" or an odd result: say so.
pub(super) fn add_kind_hint(o: &mut Outcome, p: Provider, id: &JobId, kind: JobKind) {
    let Some(f) = o.failure.take() else { return };
    let f = if matches!(
        f.kind.as_str(),
        "not_found" | "invalid_response" | "invalid_request"
    ) {
        let (this, other) = match kind {
            JobKind::Clone => ("clone", "speech"),
            JobKind::Speech => ("speech", "clone"),
        };
        let hint = format!(
            "if {id} is not a {this} job of this {p} account, check the id, or pass --kind {other}"
        );
        Failure {
            message: format!("{} (hint: {hint})", f.message),
            ..f
        }
        .with("hint", hint)
    } else {
        f
    };
    o.failure = Some(f);
}

pub(super) async fn wait(
    client: &Client,
    p: Provider,
    id: &JobId,
    kind: JobKind,
    poll: &PollArgs,
    printer: &Printer,
) -> Outcome {
    if id.as_str().is_empty() {
        return Outcome::failed(Failure::usage("JOB_ID is empty"));
    }
    let policy = match policy(p, poll) {
        Ok(pol) => pol,
        Err(f) => return Outcome::failed(f),
    };
    // SIGINT or SIGTERM (`docker stop`, a CI timeout) ends the wait with the job named and
    // exit 3, as `clone --wait` does: before, SIGTERM killed it with nothing printed.
    let mut signals = crate::signals::Signals::install().ok();
    /// The wait for a job known by its id alone (made `queued` only to be rendered).
    async fn wait_by_id<J: CliJob + Clone>(
        client: &Client,
        job: J,
        policy: &WaitPolicy,
        printer: &Printer,
        signals: &mut Option<crate::signals::Signals>,
    ) -> Outcome {
        let waited = finish_wait_with(client, job.clone(), policy, printer, None);
        let (mut o, job) = interruptible(waited, job, signals, Waited::ById).await;
        // Nothing is known about the task (interrupted, or a wait that failed for another
        // reason than the task's failure or the deadline): no status is claimed, in JSON
        // or in the human line.
        if o.failure
            .as_ref()
            .is_some_and(|f| f.kind != "task_failed" && f.kind != "wait_timed_out")
        {
            forget_status(&mut o, &job);
        }
        put_success(&mut o, &job);
        o
    }
    let mut o = match kind {
        JobKind::Clone => {
            let job = CloneJob::new(p, id.clone(), TaskStatus::Queued);
            wait_by_id(client, job, &policy, printer, &mut signals).await
        }
        JobKind::Speech => {
            let job = SpeechJob::new(p, id.clone(), TaskStatus::Queued);
            wait_by_id(client, job, &policy, printer, &mut signals).await
        }
    };
    if o.failure.as_ref().is_some_and(answered_wrong_kind) {
        return wrong_kind_wait(client, p, id, kind, o, &mut signals).await;
    }
    // The command a caller runs after an interrupted submit: a wait that failed for any
    // reason but the task's own failure (or input refused before sending) says nothing of
    // the job, which may exist and be billed: exit 3, as `clone --wait` does, never 1, which
    // a script would take as "failed, submit again".
    if let Some(f) = o.failure.as_mut()
        && f.kind != "task_failed"
        && f.exit == Exit::Failure
    {
        f.exit = Exit::Unreachable;
        let when = if f.kind == "unauthorized" {
            ""
        } else {
            " later"
        };
        f.message = format!(
            "waiting for job {id} failed ({}); its outcome is not known: do not submit it again, run `{}`{when}{}",
            f.message,
            wait_command(
                id,
                match kind {
                    JobKind::Clone => voiceclone::JobKind::Clone,
                    JobKind::Speech => voiceclone::JobKind::Speech,
                }
            ),
            with_which_key(&f.kind),
        );
    }
    o
}

/// Whether a wait failed because the vendor's answer says the task is of another kind than
/// the one waited for: the library's `InvalidInput` on `job_id` found in an answer (so not
/// exit 2, which says nothing was sent). Input refused before sending stays exit 2.
pub(super) fn answered_wrong_kind(f: &Failure) -> bool {
    f.kind == "invalid_input"
        && f.exit == Exit::Failure
        && f.details.get("field").and_then(|v| v.as_str()) == Some("job_id")
}

/// `wait ID` answered "a task of the other kind" (a bare id takes `--kind clone` by default,
/// a speech task's vendor id kept by a script): the same command fails the same way for ever,
/// so the wait suggested is of the other kind, once one read of the task as that kind shows
/// that it is one (VMEG has task types of neither kind). The job is not printed in the stored
/// form of the kind it is not. Exit 3, as any wait that ends without the task's outcome: the
/// task exists (it may be billed), and exit 1 reads as "failed, submit again". The read is
/// raced against SIGINT and SIGTERM, as `status` reads: a signal ends it at once (exit 3,
/// `interrupted`), never swallowed until a read that may take minutes (retries) ends.
pub(super) async fn wrong_kind_wait(
    client: &Client,
    p: Provider,
    id: &JobId,
    kind: JobKind,
    mut o: Outcome,
    signals: &mut Option<crate::signals::Signals>,
) -> Outcome {
    let Some(f) = o.failure.take() else {
        return o;
    };
    let other = match kind {
        JobKind::Clone => JobKind::Speech,
        JobKind::Speech => JobKind::Clone,
    };
    let other_kind = match other {
        JobKind::Clone => voiceclone::JobKind::Clone,
        JobKind::Speech => voiceclone::JobKind::Speech,
    };
    // The vendor's own id, read as the other kind (a stored id of this kind would be refused
    // by the call before sending).
    let bare = JobId::new(id.as_str());
    let read = async {
        match other {
            JobKind::Clone => client.clone_status(&bare).await.map(drop),
            JobKind::Speech => client.speech_status(&bare).await.map(drop),
        }
    };
    let read = match signals.as_mut() {
        Some(signals) => crate::signals::unless(read, signals.next()).await,
        None => Ok(read.await),
    };
    // The wrong kind's stored form (`vmeg:clone:<id>` for a speech task) and the status line
    // that names it are taken back: stored, or pasted, it fails the same way.
    o.fields.remove("job_id");
    o.fields.remove("kind");
    o.fields.remove("status");
    o.lines.clear();
    let (this, that) = (kind_name(kind), kind_name(other));
    let read = match read {
        Ok(read) => read,
        Err(name) => {
            let hint = format!(
                "if {} is a {that} job, wait for it with --kind {that}",
                id.as_str()
            );
            o.failure = Some(
                Failure::other(
                    Exit::Unreachable,
                    "interrupted",
                    format!(
                        "{name}: stopped while reading job {} as a {that} job; it is not a {this} job ({}); its outcome is not known: do not submit it again ({hint})",
                        id.as_str(),
                        f.message
                    ),
                )
                .with("vendor_id", id.as_str())
                .with("hint", hint),
            );
            return o;
        }
    };
    let f = if let Err(e) = &read
        && !matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "job_id")
    {
        // The read failed for another reason than "not that kind either" (a timeout, a
        // 5xx): whether it is one is not known, which the message says rather than "check
        // the id".
        Failure {
            exit: Exit::Unreachable,
            message: format!(
                "job {} is not a {this} job ({}), and reading it as a {that} job failed ({e}): whether it is one is not known; do not submit it again",
                id.as_str(),
                f.message
            ),
            ..f
        }
        .with(
            "hint",
            format!(
                "if {} is a {that} job, wait for it with --kind {that}",
                id.as_str()
            ),
        )
    } else if read.is_ok() {
        let typed = JobId::typed(p, other_kind, id.as_str());
        let command =
            crate::output::suggested_command(&format!("wait --kind {that} {}", sh_id(&typed)));
        o.set("job_id", typed.to_string());
        o.set("kind", that);
        Failure {
            exit: Exit::Unreachable,
            message: format!(
                "job {} is a {that} job, not a {this} job ({}); its outcome is not known: do not submit it again, wait for it with `{command}`{}",
                id.as_str(),
                f.message,
                crate::output::suggested_key_note()
            ),
            ..f
        }
        .with("job_id", typed.to_string())
        .with("hint", format!("pass --kind {that}: `{command}`"))
    } else {
        Failure {
            exit: Exit::Unreachable,
            message: format!(
                "job {} is not a {this} job ({}), and its answer read as a {that} job says it is not one either: check the id (it may be a task of another kind of work)",
                id.as_str(),
                f.message
            ),
            ..f
        }
        .with(
            "hint",
            format!(
                "if {} is not a {this} job of this {p} account, check the id, or pass --kind {that}",
                id.as_str()
            ),
        )
    };
    o.failure = Some(f);
    o
}
