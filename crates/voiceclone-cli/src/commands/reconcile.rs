//! `reconcile --submitted-at RFC3339 [--key K] [--last-attempt-at RFC3339] [--kind clone|speech] [--window SECS]`: prints
//! `{"result": "found" | "candidates" | "none", ...}`; exit 0 when found, 1 for `none` or
//! candidates of a search that saw everything, 2 where the provider cannot reconcile
//! (JimmyAI: the error says what cannot be recovered) or the query could only mislead
//! (nothing sent), 3 when the search ended in no answer, saw no candidate yet while one may
//! still appear, or listed candidates while the submit's own task may not be among them yet
//! (kind `reconcile_not_yet`, with `look_again_after`), or whatever it listed is incomplete
//! (`reconcile_incomplete`).

use std::time::{Duration, SystemTime};

use serde_json::json;
use voiceclone::{
    Client, JobId, MAX_RECONCILE_WINDOW, MIN_RECONCILE_WINDOW, ReconcileQuery, Reconciled,
};

use super::tasks::task_json;
use crate::cli::{DEFAULT_LISTING_TIMEOUT, ReconcileArgs};
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
    let window = Duration::from_secs(args.window);
    if !(MIN_RECONCILE_WINDOW..=MAX_RECONCILE_WINDOW).contains(&window) {
        return Outcome::failed(
            Failure::usage(format!(
                "--window: {} s is outside {}..={} s (narrower misses a task dated a few seconds off and answers \"nothing was created\"; wider is not a submit's)",
                args.window,
                MIN_RECONCILE_WINDOW.as_secs(),
                MAX_RECONCILE_WINDOW.as_secs()
            ))
            .with("field", "window"),
        );
    }
    let mut q = ReconcileQuery::new(submitted_at).window(window);
    let key = args.key.as_deref().map(str::trim).filter(|k| !k.is_empty());
    if let Some(k) = key {
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
    let budget = args.timeout.unwrap_or(DEFAULT_LISTING_TIMEOUT);
    let r = match tokio::time::timeout(budget, client.reconcile(&q)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Outcome::failed(search_failed(Failure::from_adapter(&e))),
        Err(_) => {
            return Outcome::failed(search_failed(Failure::other(
                Exit::Unreachable,
                "timeout",
                format!("the search did not end within {budget:?} (--timeout)"),
            )));
        }
    };
    let mut o = Outcome::default();
    if let Some(k) = key {
        o.set("idempotency_key", k);
    }
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
            o.failure = Some(match r.look_again_after() {
                Some(again) if tasks.is_empty() => not_yet(again),
                // Review 30-a #3: candidates of a search run before the span settled, or that
                // could not see everything, may all be other jobs'. Exit 1 would read as
                // "check these, else nothing was made" to a script: a second bill when the
                // submit's own task shows up later.
                Some(again) => Failure::other(
                    Exit::Unreachable,
                    "reconcile_not_yet",
                    format!(
                        "the search ran before the submit's own task could be listed, so it may be none of the candidates: whether the submit created a task is still unknown; do not submit it again, run reconcile again after {}",
                        rfc3339(again)
                    ),
                )
                .with("look_again_after", crate::output::time_json(again)),
                None if *incomplete => Failure::other(
                    Exit::Unreachable,
                    "reconcile_incomplete",
                    "the search could not see everything (records it could not read, a list that changed while it was read, or a named task not found), so the submit's task may be none of the candidates: whether it created a task is still unknown; check them, and do not submit it again unless you are sure none is its task",
                ),
                None => Failure::other(
                    Exit::Failure,
                    "reconcile_candidates",
                    "no task is tied to the submit; check the candidates before submitting again",
                ),
            });
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

/// No candidate seen yet, and the search cannot rule one out (it ran before the span
/// searched, `..to`, and its skew ended): the submit's outcome is still unknown (exit 3),
/// with when to look again. Exit 1 is the code of `none` and of a listing to check, and a
/// script reads it as "nothing was made".
fn not_yet(again: SystemTime) -> Failure {
    Failure::other(
        Exit::Unreachable,
        "reconcile_not_yet",
        format!(
            "no task is seen yet, but one may still appear: whether the submit created a task is still unknown; do not submit it again, run reconcile again after {}",
            rfc3339(again)
        ),
    )
    .with("look_again_after", crate::output::time_json(again))
}

/// A search that did not end in an answer (the vendor failed, the list could not be read, a
/// named task not readable yet, the time ran out): whether the submit created a task is
/// still unknown (exit 3), never exit 1, which also says "none" or "candidates". Input
/// refused before sending keeps its exit 2.
fn search_failed(mut f: Failure) -> Failure {
    if f.exit == Exit::Failure || f.exit == Exit::Unreachable {
        f.exit = Exit::Unreachable;
        f.message = format!(
            "the search did not end in an answer ({}): whether the submit created a task is still unknown; do not submit it again, run reconcile later",
            f.message
        );
    }
    f
}

/// Whether `s` ends in an RFC 3339 offset: `Z`/`z`, or `±HH:MM` with HH 00-23, MM 00-59.
fn rfc3339_offset(s: &str) -> bool {
    if s.ends_with(['Z', 'z']) {
        return true;
    }
    let Some(o) = s.len().checked_sub(6).and_then(|at| s.get(at..)) else {
        return false;
    };
    let b = o.as_bytes();
    let two = |at: usize| {
        o.get(at..at + 2)
            .filter(|d| d.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|d| d.parse::<u8>().ok())
    };
    matches!(b.first(), Some(b'+' | b'-'))
        && b.get(3) == Some(&b':')
        && two(1).is_some_and(|h| h <= 23)
        && two(4).is_some_and(|m| m <= 59)
}

/// RFC 3339 (`2026-12-01T10:00:00Z`, `...T10:00:00.5+02:00`).
fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    // RFC 3339 ends in `Z` or `±HH:MM` with hours 00-23. jiff takes more (`+25`, `+2500`,
    // `+25:00:00`, a `[UTC]` annotation), each of which would move the search a day off:
    // anything but RFC 3339's own offset is refused.
    if !rfc3339_offset(s) {
        return None;
    }
    let at: jiff::Timestamp = s.parse().ok()?;
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
        // Offsets past 23:59, or not in RFC 3339's `±HH:MM` form, are refused (jiff takes
        // up to 25:59, seconds, `+25`, `+2500` and annotations).
        for bad in [
            "2026-12-01T10:00:00+24:00",
            "2026-12-01T10:00:00-25:59",
            "2026-12-01T10:00:00+25",
            "2026-12-01T10:00:00+2500",
            "2026-12-01T10:00:00+25:00:00",
            "2026-12-01T10:00:00+05:00[UTC]",
            "2026-12-01T10:00:00+05:60",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
        for good in [
            "2026-12-01T10:00:00+23:59",
            "2026-12-01T10:00:00.123456+05:30",
            "2026-12-01T10:00:00z",
            "2026-12-01T10:00:00-00:00",
        ] {
            assert!(parse_rfc3339(good).is_some(), "{good}");
        }
    }
}
