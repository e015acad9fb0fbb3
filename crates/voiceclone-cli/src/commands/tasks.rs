//! `tasks [--type clone|speech] [--status S]`, `tasks delete JOB_ID` and `voices --system`
//! (VMEG; JimmyAI has no task or voice list: exit 2).

use futures::TryStreamExt;
use serde_json::{Value, json};
use voiceclone::{Client, JobId, Provider, TaskFilter, TaskStatus, TaskSummary, UnreadRecords};

use std::time::Duration;

use crate::cli::{DEFAULT_LISTING_TIMEOUT, JobKind, TasksAction, TasksArgs};
use crate::output::{Failure, Outcome, rfc3339, time_json, voice_json};

/// Runs `tasks`.
pub async fn run(client: &Client, args: &TasksArgs) -> Outcome {
    if let Some(TasksAction::Delete { job_id }) = &args.action {
        // The stored form (`vmeg:clone:<id>`, checked against this client's provider) or a
        // bare vendor id.
        let id: JobId = match job_id.trim().parse() {
            Ok(id) => id,
            Err(e) => {
                let e: voiceclone::ParseError = e;
                return Outcome::failed(Failure::usage(format!("JOB_ID: {}", e.reason())));
            }
        };
        return match client.delete_task(&id).await {
            Ok(()) => {
                let mut o = Outcome::default();
                o.set("job_id", id.to_string());
                o.set("vendor_id", id.as_str());
                o.set("deleted", true);
                o.line(format!("deleted task {id}"));
                o
            }
            // An unknown outcome (or any failure) names the task, as a success does: a
            // script deleting many at once must know which one to check.
            Err(e) => Outcome::failed(
                Failure::from_adapter(&e)
                    .with("job_id", id.to_string())
                    .with("vendor_id", id.as_str()),
            ),
        };
    }
    let mut filter = TaskFilter::all();
    if let Some(kind) = args.kind {
        filter = filter.kind(kind.into());
    }
    if let Some(s) = &args.status {
        filter = filter.status(status_arg(s));
    }
    let unread = UnreadRecords::new();
    match collect_within(args.timeout, client.tasks_counting_unread(filter, &unread)).await {
        Ok(tasks) => {
            let mut o = Outcome::default();
            o.set("tasks", tasks.iter().map(task_json).collect::<Vec<_>>());
            o.set("count", tasks.len());
            if tasks.is_empty() && unread.is_complete() {
                o.line("no tasks match");
            }
            for t in &tasks {
                o.line(format!(
                    "{}  {}  {}  {}",
                    t.id,
                    t.kind_str(),
                    status_text(t),
                    t.created_at.map(rfc3339).unwrap_or_default()
                ));
            }
            note_unread(&mut o, &unread, "task");
            o
        }
        Err(f) => Outcome::failed(f),
    }
}

/// Every item of a listing, within `timeout` (default [`DEFAULT_LISTING_TIMEOUT`]) for the
/// whole of it: past that, exit 3 (`timeout`) with nothing listed.
pub async fn collect_within<T>(
    timeout: Option<Duration>,
    listing: futures::stream::BoxStream<'static, Result<T, voiceclone::Error>>,
) -> Result<Vec<T>, Failure> {
    let budget = timeout.unwrap_or(DEFAULT_LISTING_TIMEOUT);
    match tokio::time::timeout(budget, listing.try_collect::<Vec<_>>()).await {
        Ok(Ok(items)) => Ok(items),
        Ok(Err(e)) => Err(Failure::from_adapter(&e)),
        Err(_) => Err(Failure::other(
            crate::exit::Exit::Unreachable,
            "timeout",
            format!(
                "the listing did not end within {budget:?} (--timeout); nothing is listed: try again, or with a longer --timeout"
            ),
        )),
    }
}

/// What the listing could not read, in `o`: `unreadable_records`, `complete`, and for an
/// incomplete list (records skipped, an answer holding no list at all: `data: null`, or pages
/// that disagreed) a line saying so and a failure (exit 1, `incomplete_listing`): an absence
/// in an incomplete list proves nothing, and a script must not take it for "no such task"
/// and submit again.
pub fn note_unread(o: &mut Outcome, unread: &UnreadRecords, what: &str) {
    let n = unread.count();
    o.set("unreadable_records", n);
    o.set("complete", unread.is_complete());
    let message = if n > 0 {
        format!(
            "the provider listed {n} {what} record(s) that could not be read (no usable id, or not a record): this list is incomplete; to learn whether a submit created a task, use `reconcile`"
        )
    } else if unread.unlisted() {
        format!(
            "the provider's {what} list answer held no records and no total (`data` null or empty): this list is incomplete, not empty; to learn whether a submit created a task, use `reconcile`"
        )
    } else if unread.inconsistent() {
        format!(
            "the provider's {what} list changed while it was read (its total changed between pages, or a record came on two pages): a record may have been skipped, so this list may be incomplete; list again, and to learn whether a submit created a task, use `reconcile`"
        )
    } else {
        return;
    };
    o.line(format!("warning: {message}"));
    o.failure = Some(Failure::other(
        crate::exit::Exit::Failure,
        "incomplete_listing",
        message,
    ));
}

/// A status word from the command line: the four normalized names, else a vendor word, which
/// the library reads as the provider's own (VMEG `finished` is `succeeded`).
fn status_arg(s: &str) -> TaskStatus {
    match s.trim().to_ascii_lowercase().as_str() {
        "queued" => TaskStatus::Queued,
        "running" => TaskStatus::Running,
        "succeeded" => TaskStatus::Succeeded,
        "failed" => TaskStatus::Failed,
        _ => TaskStatus::Unknown(s.trim().to_owned()),
    }
}

/// A task's status on its text line: a status read from a word the vendor does not document
/// says so, since a failure that is only assumed may belong to a task still alive, and a
/// script resubmitting failed tasks would bill it twice.
fn status_text(t: &TaskSummary) -> String {
    match t.assumed_status() {
        Some(word) => format!("{} (assumed from {word:?})", t.status),
        None => t.status.to_string(),
    }
}

/// One task in `--json`: the fields issue 14 names, `job_id` in the stored form (typed when
/// the vendor's `taskType` says clone or speech) and the vendor's own id beside it, and
/// `assumed_status` (the vendor's word, or null) as the library's serde form has it, for the
/// same reason as [`status_text`].
pub fn task_json(t: &TaskSummary) -> Value {
    json!({
        "job_id": t.id.to_string(),
        "vendor_id": t.id.as_str(),
        "kind": t.kind_str(),
        "vendor_type": t.vendor_type,
        "status": t.status.as_str(),
        "vendor_status": t.vendor_status,
        "assumed_status": t.assumed_status(),
        "created_at": t.created_at.map_or(Value::Null, time_json),
        "created_at_offset_unknown": t.created_at_offset_unknown,
        "updated_at": t.updated_at.map_or(Value::Null, time_json),
    })
}

/// `voices --system`.
pub async fn system_voices(client: &Client, p: Provider, timeout: Option<Duration>) -> Outcome {
    let unread = UnreadRecords::new();
    match collect_within(timeout, client.voices_counting_unread(true, &unread)).await {
        Ok(voices) => {
            let mut o = Outcome::default();
            o.set("voices", voices.iter().map(voice_json).collect::<Vec<_>>());
            o.set("system", true);
            if voices.is_empty() && unread.is_complete() {
                o.line(format!("no system voices listed by {p}"));
            }
            for v in &voices {
                o.line(match &v.name {
                    Some(n) => format!("{}  {n}", v.id),
                    None => v.id.to_string(),
                });
            }
            note_unread(&mut o, &unread, "voice");
            o
        }
        Err(f) => Outcome::failed(f),
    }
}

impl From<JobKind> for voiceclone::JobKind {
    fn from(k: JobKind) -> Self {
        match k {
            JobKind::Clone => voiceclone::JobKind::Clone,
            JobKind::Speech => voiceclone::JobKind::Speech,
        }
    }
}
