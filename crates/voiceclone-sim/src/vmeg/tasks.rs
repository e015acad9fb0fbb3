//! VMEG task queries: `tasks/list`, `tasks/detail`, `tasks/delete`.

use axum::body::Body;
use axum::http::{Response, Uri};
use serde_json::{Map, Value, json};

use crate::faults::{FaultKind, FaultPlan};
use crate::results::tts_results;
use crate::shared::Shared;
use crate::state::{Phase, Task, TaskKind};
use crate::wire::{query_map, req_str};

use super::{MAX_PAGE_SIZE, parse_page};
use super::{Rejection, bad, env_err, ok};

const TASK_TYPES: [&str; 5] = ["vt", "at", "tts", "cloneVoice", "textTranslation"];

pub(super) fn status_word(sh: &Shared, phase: Phase, unknown: bool) -> String {
    if unknown {
        return "warming_up".into();
    }
    let w = &sh.config.vmeg_status_words;
    match phase {
        Phase::Queued => w.queued.clone(),
        Phase::Processing => w.running.clone(),
        Phase::Completed => w.succeeded.clone(),
        Phase::Failed => w.failed.clone(),
    }
}

/// The configured word for `phase` (no unknown-status fault), borrowed.
fn status_word_ref(sh: &Shared, phase: Phase) -> &str {
    let w = &sh.config.vmeg_status_words;
    match phase {
        Phase::Queued => &w.queued,
        Phase::Processing => &w.running,
        Phase::Completed => &w.succeeded,
        Phase::Failed => &w.failed,
    }
}

pub(super) fn task_type(kind: TaskKind) -> &'static str {
    match kind {
        TaskKind::VmegTts => "tts",
        _ => "cloneVoice",
    }
}

pub(super) fn is_vmeg(t: &Task) -> bool {
    matches!(t.kind, TaskKind::VmegClone | TaskKind::VmegTts)
}

/// `result` of tasks/detail for a task in `phase`.
pub(super) fn task_result(sh: &Shared, t: &Task, phase: Phase) -> Value {
    match phase {
        Phase::Queued | Phase::Processing => json!({}),
        Phase::Failed => json!({"errorMessage": crate::results::FAILED}),
        Phase::Completed => match t.kind {
            TaskKind::VmegTts => json!({"results": tts_results(sh, t)}),
            _ => {
                if sh.config.vmeg_clone_result_has_voice_id {
                    json!({"voiceId": t.voice_id})
                } else {
                    json!({})
                }
            }
        },
    }
}

pub(super) fn tasks_list(sh: &Shared, plan: &FaultPlan, uri: &Uri) -> Response<Body> {
    let q = query_map(uri.query());
    let r = (|| -> Result<Value, Rejection> {
        let type_filter = q.get("taskType").filter(|s| !s.is_empty());
        if let Some(tt) = type_filter
            && !TASK_TYPES.contains(&tt.as_str())
        {
            return Err(bad(format!(
                "`taskType` must be one of {}",
                TASK_TYPES.join(", ")
            )));
        }
        let status = q.get("status").filter(|s| !s.is_empty());
        let page = parse_page(&q, "currentPage", 1)? as usize;
        let size = parse_page(&q, "pageSize", 20)?.min(MAX_PAGE_SIZE) as usize;
        let now = sh.clock.now();
        let st = sh.lock_state();
        // One pass under the lock: every task is filtered (cheap comparisons, no
        // allocation), only the page's rows are built.
        let first = page.saturating_sub(1).saturating_mul(size);
        let mut total = 0usize;
        let mut rows = Vec::new();
        for id in st.vmeg_order.values().rev() {
            let Some(t) = st.tasks.get(id) else { continue };
            if type_filter.is_some_and(|tt| tt != task_type_str(t)) {
                continue;
            }
            let phase = t.phase(now);
            if status.is_some_and(|s| s.as_str() != status_word_ref(sh, phase)) {
                continue;
            }
            total += 1;
            if total > first && rows.len() < size {
                rows.push(json!({
                    "taskId": t.id,
                    "taskType": task_type(t.kind),
                    "status": status_word(sh, phase, plan.unknown_status),
                    "createdAt": sh.clock.iso(t.created),
                    "updatedAt": sh.clock.iso(t.updated_at(now)),
                }));
            }
        }
        if plan.unknown_status && total > 0 {
            sh.stats.fault(FaultKind::UnknownStatus.name());
        }
        Ok(json!({"records": rows, "total": total}))
    })();
    match r {
        Ok(v) => ok(v),
        Err((c, m)) => env_err(sh, c, &m),
    }
}

pub(super) fn task_type_str(t: &Task) -> &'static str {
    task_type(t.kind)
}

pub(super) fn tasks_detail(sh: &Shared, plan: &FaultPlan, uri: &Uri) -> Response<Body> {
    let q = query_map(uri.query());
    let Some(id) = q.get("taskId").filter(|s| !s.trim().is_empty()) else {
        return env_err(sh, 400, "`taskId` is required");
    };
    let now = sh.clock.now();
    let st = sh.lock_state();
    let Some(t) = st.tasks.get(id.trim()).filter(|t| is_vmeg(t)) else {
        drop(st);
        return env_err(sh, 404, "Task not found");
    };
    let phase = t.phase(now);
    if plan.unknown_status {
        sh.stats.fault(FaultKind::UnknownStatus.name());
    }
    let data = json!({
        "taskId": t.id,
        "taskType": task_type(t.kind),
        "status": status_word(sh, phase, plan.unknown_status),
        "result": task_result(sh, t, phase),
    });
    drop(st);
    ok(data)
}

pub(super) fn tasks_delete(
    sh: &Shared,
    m: &Map<String, Value>,
) -> Result<Response<Body>, Rejection> {
    let id = req_str(m, "taskId").map_err(bad)?;
    let mut st = sh.lock_state();
    match st.tasks.get(&id) {
        Some(t) if is_vmeg(t) => {}
        _ => return Err((404, "Task not found".into())),
    }
    let awaited = st.remove_task(&id).is_some_and(|t| t.readers > 0);
    drop(st);
    // Its sync create waits for it: woken, it finds the task gone and answers now rather
    // than at the old due time. (A webhook delivery waiting is aborted by `remove_task`.)
    if awaited {
        sh.clock_changed.notify_waiters();
    }
    Ok(ok(Value::Null))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Deleting a task whose sync create waits for it: nothing woke the create, which
    /// answered "deleted while running" only at the task's old due time (an hour here).
    /// Now the delete wakes it at once, even when it comes between the create's look at
    /// the task and its wait.
    #[tokio::test]
    async fn deleting_a_task_wakes_its_waiting_sync_create() {
        let sh = crate::shared::tests::with_slow_task();
        let mut body = Map::new();
        body.insert("taskId".into(), json!("task_1"));
        let mut looks = 0;
        let waited = tokio::time::timeout(
            Duration::from_secs(5),
            sh.wait_terminal_with(
                "task_1",
                |_| (),
                || {
                    looks += 1;
                    if looks == 1 {
                        assert!(tasks_delete(&sh, &body).is_ok());
                    }
                },
            ),
        )
        .await;
        let seen = waited.expect("the sync create slept on after its task was deleted");
        assert_eq!(seen, None, "a deleted task was read as terminal");
    }
}
