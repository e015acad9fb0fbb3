//! `reconcile --submitted-at RFC3339 [--key K] [--last-attempt-at RFC3339] [--kind clone|speech] [--window SECS]`: prints
//! `{"result": "found" | "candidates" | "none", ...}`; exit 0 when found, 1 otherwise, 2
//! where the provider cannot reconcile (JimmyAI: the error says what cannot be recovered).

use std::time::{Duration, SystemTime};

use serde_json::json;
use voiceclone::{Client, JobId, ReconcileQuery, Reconciled};

use super::tasks::task_json;
use crate::cli::ReconcileArgs;
use crate::exit::Exit;
use crate::output::{Failure, Outcome, rfc3339};

/// Runs `reconcile`.
pub async fn run(client: &Client, args: &ReconcileArgs) -> Outcome {
    let submitted_at = match parse_rfc3339(&args.submitted_at) {
        Some(t) => t,
        None => {
            return Outcome::failed(
                Failure::usage(format!(
                    "--submitted-at: {:?} is not an RFC 3339 time such as 2026-12-01T10:00:00Z",
                    args.submitted_at
                ))
                .with("field", "submitted_at"),
            );
        }
    };
    let mut q = ReconcileQuery::new(submitted_at).window(Duration::from_secs(args.window));
    if let Some(k) = args.key.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        q = q.idempotency_key(k);
    }
    if let Some(raw) = &args.last_attempt_at {
        let Some(t) = parse_rfc3339(raw) else {
            return Outcome::failed(
                Failure::usage(format!(
                    "--last-attempt-at: {raw:?} is not an RFC 3339 time such as 2026-12-01T10:03:00Z"
                ))
                .with("field", "last_attempt_at"),
            );
        };
        q = q.last_attempt_at(t);
    }
    if let Some(k) = args.kind {
        q = q.kind(k.into());
    }
    if let Some(n) = &args.voice_name {
        q = q.voice_name(n);
    }
    if let Some(id) = &args.task_id {
        // The stored form (`vmeg:clone:t1`, as every command prints it) or a bare id.
        let id: JobId = match id.trim().parse() {
            Ok(id) => id,
            Err(e) => {
                let e: voiceclone::ParseError = e;
                return Outcome::failed(
                    Failure::usage(format!("--task-id: {}", e.reason())).with("field", "task_id"),
                );
            }
        };
        q = q.task_id(id);
    }
    let r = match client.reconcile(&q).await {
        Ok(r) => r,
        Err(e) => return Outcome::failed(Failure::from_adapter(&e)),
    };
    let mut o = Outcome::default();
    o.set("result", r.as_str());
    o.set("message", r.to_string());
    o.line(r.to_string());
    match &r {
        Reconciled::Found { task, evidence } => {
            o.set("task", task_json(task));
            o.set("evidence", evidence.to_string());
        }
        Reconciled::Candidates {
            tasks,
            from,
            to,
            incomplete,
        } => {
            o.set("incomplete", *incomplete);
            o.set(
                "candidates",
                tasks.iter().map(task_json).collect::<Vec<_>>(),
            );
            o.set(
                "searched",
                json!({"from": rfc3339(*from), "to": rfc3339(*to)}),
            );
            o.failure = Some(Failure::other(
                Exit::Failure,
                "reconcile_candidates",
                "no task is tied to the submit; check the candidates before submitting again",
            ));
        }
        Reconciled::None { from, to, .. } => {
            o.set(
                "searched",
                json!({"from": rfc3339(*from), "to": rfc3339(*to)}),
            );
            o.failure = Some(Failure::other(
                Exit::Failure,
                "reconcile_none",
                "no task fits the submit",
            ));
        }
        _ => {}
    }
    o
}

/// RFC 3339 (`2026-12-01T10:00:00Z`, `...T10:00:00.5+02:00`).
fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    // RFC 3339 needs an offset (`Z` or `±HH:MM`); jiff's timestamp parser requires one too.
    let at: jiff::Timestamp = s.trim().parse().ok()?;
    let nanos = at.as_nanosecond();
    let base = SystemTime::UNIX_EPOCH;
    if nanos >= 0 {
        base.checked_add(Duration::from_nanos(u64::try_from(nanos).ok()?))
    } else {
        base.checked_sub(Duration::from_nanos(u64::try_from(-nanos).ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_parse() {
        assert_eq!(
            parse_rfc3339("1970-01-01T00:00:01Z"),
            SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(1))
        );
        assert_eq!(
            parse_rfc3339("1970-01-01T01:00:01+01:00"),
            SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(1))
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
