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
    // Trimmed as `tasks_detail` trims it: the id detail finds is the one delete finds.
    let id = id.trim();
    let mut st = sh.lock_state();
    match st.tasks.get(id) {
        Some(t) if is_vmeg(t) => {}
        _ => return Err((404, "Task not found".into())),
    }
    let removed = st.remove_task(id);
    drop(st);
    // Its sync create waits for it: woken, it finds the task gone and answers now rather
    // than at the old due time. (A webhook delivery waiting is aborted by `remove_task`.)
    // Only that waiter: a broadcast woke every waiting delivery and create, each taking
    // the state lock, for every delete.
    if let Some(t) = removed.filter(|t| t.readers > 0) {
        t.deleted.notify_one();
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

    /// Every `tasks/delete` of an awaited task woke every waiter (all webhook deliveries
    /// and sync creates waiting for any task), each of which took the state lock and armed
    /// its timer again: N deletes with N deliveries waiting cost N² lock round trips. Now a
    /// delete wakes only its own task's waiter. The looks are counted by the waiters' pause
    /// hook: one each before the deletes, none more after.
    #[tokio::test]
    async fn a_delete_wakes_only_the_waiter_of_its_own_task() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        const N: usize = 200;
        let sh = Arc::new(crate::shared::Shared::new(
            crate::SimConfig::default(),
            String::new(),
        ));
        for i in 0..N {
            let mut t = Task::new(
                format!("task_{i}"),
                TaskKind::VmegTts,
                sh.clock.now(),
                Duration::from_secs(3600),
            );
            // As an async create with a webhook: its delivery is its one reader.
            t.is_async = true;
            t.readers = 1;
            sh.lock_state().insert_task(t).unwrap();
        }
        let looks = Arc::new(AtomicUsize::new(0));
        let mut waiters = Vec::new();
        for i in 0..N {
            let (sh, looks) = (sh.clone(), looks.clone());
            waiters.push(tokio::spawn(async move {
                sh.wait_terminal_with(
                    &format!("task_{i}"),
                    |_| (),
                    || {
                        looks.fetch_add(1, Ordering::Relaxed);
                    },
                )
                .await
            }));
        }
        // Current-thread runtime: each yield lets every waiter ready to run take its turn.
        while looks.load(Ordering::Relaxed) < N {
            tokio::task::yield_now().await;
        }
        // Delete half of them; each deleted task's waiter ends, seeing it gone.
        for (i, w) in waiters.drain(..N / 2).enumerate() {
            let mut body = Map::new();
            body.insert("taskId".into(), json!(format!("task_{i}")));
            assert!(tasks_delete(&sh, &body).is_ok());
            assert_eq!(
                w.await.unwrap(),
                None,
                "a deleted task was read as terminal"
            );
        }
        // Any waiter woken is queued already: these turns let it look (and count).
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            looks.load(Ordering::Relaxed),
            N,
            "deletes woke waiters of other tasks"
        );
        for w in &waiters {
            assert!(!w.is_finished(), "a waiter of a task not deleted ended");
        }
        for w in waiters {
            w.abort();
        }
    }
}
