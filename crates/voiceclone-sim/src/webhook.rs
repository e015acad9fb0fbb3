//! VMEG webhook delivery: signed POSTs on async completion, retried with
//! backoff while the receiver fails, every attempt recorded as a
//! [`Delivery`].
//!
//! Signature: `X-Signature` = lowercase hex HMAC-SHA256(key = secret,
//! message = `X-Timestamp` string followed directly by the raw body bytes);
//! `X-Timestamp` = Unix milliseconds (real wall clock) as a string.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::delivery::{Delivery, sign};
use crate::shared::{Reader, Shared};
use crate::state::{Phase, Task, TaskKind, hex_id};

/// Start delivering the completion of `task_id`, if a webhook is configured.
/// `reader` is the task's registration as a reader of its terminal state
/// (released once the delivery has read it, or at once without a webhook).
pub(crate) fn spawn_for(sh: &Arc<Shared>, task_id: &str, reader: Reader) {
    if sh.config.webhook.is_none() {
        return;
    }
    let sh2 = sh.clone();
    let id = task_id.to_string();
    let Some(handle) = sh.spawn_background(async move { deliver(sh2, id, reader).await }) else {
        // Shut down: nothing is delivered any more.
        return;
    };
    // Deleting or evicting the task aborts its delivery while it waits (for the
    // task to finish, or for room to send: `State::remove_task`). Registered only
    // while the delivery has not read the task yet (`Task::readers`, released in
    // the same lock that drops the entry), so an entry is never left behind and a
    // delivery already sending is never cut short.
    let mut st = sh.lock_state();
    if st.tasks.get(task_id).is_some_and(|t| t.readers > 0) {
        st.webhooks.insert(task_id.to_string(), handle);
    }
}

fn http_client(timeout: Duration) -> Option<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // No redirects: a receiver's 3xx is its answer (a failed attempt, retried), as a
    // webhook sender treats it; following it would POST the signed body to wherever
    // `Location` points (off loopback too) and record the other server's answer. No
    // proxy from the environment either: the configured URL is where it goes.
    match reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
    {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(error = %e, "cannot build webhook client");
            None
        }
    }
}

/// A JSON object from (key, value as JSON text) pairs.
fn object_of_json_texts(fields: &[(&str, String)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(k).unwrap_or_default());
        out.push(':');
        out.push_str(v);
    }
    out.push('}');
    out
}

async fn deliver(sh: Arc<Shared>, task_id: String, reader: Reader) {
    let Some(target) = sh.config.webhook.clone() else {
        return;
    };
    // Wait until the task is terminal: one timer at its due time, woken early
    // when the clock is moved by hand (no polling).
    let Some(payload) = sh.wait_terminal(&task_id, Task::payload_bytes).await else {
        tracing::debug!(%task_id, "task deleted or evicted before completion; no webhook");
        return;
    };
    // Room for the body (counted against `max_task_bytes`, with the other bodies
    // being delivered), before it is made: a silent receiver made every delivery
    // hold its body (and a connection) at once, without bound.
    let Ok(_bytes) = sh
        .webhook_bytes
        .acquire_many(sh.webhook_body_permits(payload))
        .await
    else {
        return;
    };
    let task = {
        let mut st = sh.lock_state();
        let Some(task) = st.tasks.get(&task_id).cloned() else {
            tracing::debug!(%task_id, "task deleted or evicted before its webhook was sent");
            return;
        };
        // From here on the delivery runs its course even if the task goes, and
        // age may evict the task.
        st.webhooks.remove(&task_id);
        reader.release_locked(&mut st);
        task
    };
    let ok = task.phase(sh.clock.now()) == Phase::Completed;
    let event = match task.kind {
        TaskKind::VmegTts => "openapi-tts",
        _ => "openapi-clone-voice",
    };
    let pipeline_key = hex_id();
    let data = crate::results::final_data(&sh, &task);
    let text = |v: Value| serde_json::to_string(&v).unwrap_or_else(|_| "null".into());
    // Written by hand, keys in the order serde_json writes a `Map`, so that the
    // kept `extraData` text goes in as it is (never parsed back into a `Value`).
    let body = object_of_json_texts(&[
        ("code", text(json!(if ok { 200 } else { 500 }))),
        ("data", text(data)),
        ("event", text(json!(event))),
        (
            "extraData",
            task.extra_data.as_deref().unwrap_or("{}").to_string(),
        ),
        (
            "message",
            text(json!(if ok { "" } else { crate::results::FAILED })),
        ),
        ("pipelineKey", text(json!(pipeline_key))),
        ("version", text(json!("v1"))),
    ]);
    drop(task);
    // Shared by every attempt (and the reqwest request), never copied.
    let body = axum::body::Bytes::from(body);
    let Some(client) = sh
        .webhook_http
        .get_or_init(|| http_client(sh.config.webhook_timeout))
        .clone()
    else {
        return;
    };
    let attempts = sh.config.webhook_retry_delays.len() + 1;
    for attempt in 0..attempts {
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
            .to_string();
        let sig = sign(&target.secret, &ts, &body);
        // At most `MAX_CONCURRENT_WEBHOOKS` attempts in flight (connections to the
        // receiver); the slot is not held while waiting to retry.
        let Ok(slot) = sh.webhook_slots.acquire().await else {
            return;
        };
        sh.stats
            .webhook_attempts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let res = client
            .post(&target.url)
            .header("content-type", "application/json")
            .header("X-Timestamp", &ts)
            .header("X-Signature", &sig)
            .body(body.clone())
            .send()
            .await;
        let (status, error) = match res {
            Ok(r) => (Some(r.status().as_u16()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        drop(slot);
        let d = Delivery {
            task_id: task_id.clone(),
            event: event.to_string(),
            pipeline_key: pipeline_key.clone(),
            attempt: attempt as u32 + 1,
            timestamp: ts,
            signature: sig,
            body: String::from_utf8_lossy(&body).into_owned(),
            status,
            error,
        };
        let done = d.succeeded();
        tracing::debug!(%task_id, attempt = d.attempt, ?status, "webhook attempt");
        sh.record_delivery(d);
        if done {
            return;
        }
        if let Some(delay) = sh.config.webhook_retry_delays.get(attempt) {
            tokio::time::sleep(sh.config.scaled(*delay)).await;
        }
    }
    tracing::info!(%task_id, "webhook gave up after {attempts} attempts");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::state::{Task, TaskKind};

    /// Async creates of long tasks overflowing `max_tasks`, webhook configured: each
    /// create's delivery waited for its task's due time even after the task was evicted
    /// (one background future per create, for the whole duration). Now deleting a task
    /// aborts its delivery, and such tasks are no longer evicted: beyond the cap the
    /// create is refused and starts no delivery.
    #[tokio::test]
    async fn deliveries_of_evicted_tasks_are_dropped() {
        let mut cfg = crate::SimConfig::default().with_webhook("http://127.0.0.1:9/", "s");
        cfg.max_tasks = 5;
        let sh = Arc::new(Shared::new(cfg, String::new()));
        for i in 0..200 {
            let id = format!("task_{i}");
            let now = sh.clock.now();
            let mut t = Task::new(
                id.clone(),
                TaskKind::VmegTts,
                now,
                Duration::from_secs(3600),
            );
            // As an async create with a webhook makes it: its delivery to read it.
            t.readers = 1;
            // Beyond the cap the create is refused (a task whose delivery is still to be
            // built is never evicted): no delivery for it.
            if sh.lock_state().insert_task(t).is_err() {
                assert!(i >= 5, "create {i} refused under the cap");
                continue;
            }
            spawn_for(&sh, &id, Reader::new(sh.clone(), id.clone()));
            // Let the delivery start waiting before the next create evicts its task.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Aborted tasks end when the runtime next gets to them.
        let waiting = || async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mut guard = crate::shared::lock(&sh.background);
            let set = guard.as_mut().unwrap();
            while set.try_join_next().is_some() {}
            set.len()
        };
        let n = waiting().await;
        assert!(n <= 5, "{n} deliveries wait for 5 stored tasks");
        assert_eq!(sh.lock_state().webhooks.len(), 5);
        // Deleting one drops its delivery too.
        let gone = sh.lock_state().tasks.keys().next().cloned().unwrap();
        sh.lock_state().remove_task(&gone);
        assert!(waiting().await <= 4);
        sh.stop_background();
    }

    #[test]
    fn a_hand_written_body_is_what_serde_json_writes() {
        let v = json!({"code": 200, "data": {"b": [1, "x\"y"], "a": null}, "extraData": {"k": 1}});
        let by_hand = object_of_json_texts(&[
            ("code", "200".into()),
            ("data", serde_json::to_string(&v["data"]).unwrap()),
            ("extraData", r#"{"k":1}"#.into()),
        ]);
        assert_eq!(by_hand, serde_json::to_string(&v).unwrap());
    }
}
