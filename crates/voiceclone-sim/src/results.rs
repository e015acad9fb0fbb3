//! VMEG result payloads, shared by the answers (`tasks/detail`, sync
//! creates) and the webhooks.

use std::time::Duration;

use serde_json::{Value, json};

use crate::shared::Shared;
use crate::state::{Phase, Task, TaskKind};

/// `results` of a finished TTS task: one WAV per line (see `audio.rs`).
pub(crate) fn tts_results(sh: &Shared, t: &Task) -> Value {
    let items: Vec<Value> = t
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let secs = (crate::audio::duration_for(&l.text).as_secs_f64() * 100.0).round() / 100.0;
            // WAV whatever `outputFormat` asked for: see `audio.rs`.
            json!({
                "uri": format!("{}/sim/files/tts_{}_{}.wav", sh.base_url, t.id, i),
                "duration": secs,
                "errorMessage": "",
            })
        })
        .collect();
    Value::Array(items)
}

/// Why a failed task failed, as `tasks/detail` and its webhook say.
pub(crate) const FAILED: &str = "task failed (simulated)";

/// Webhook / sync `data` for a terminal task. A failed task's is `tasks/detail`'s
/// failure result (`errorMessage`) with its id: no result, nor `results` of audio
/// that was never made (a failed TTS webhook listed one URL per line, each 404).
pub(crate) fn final_data(sh: &Shared, t: &Task) -> Value {
    let created = sh.clock.iso(t.created);
    if t.phase(Duration::MAX) == Phase::Failed {
        return json!({"taskId": t.id, "errorMessage": FAILED, "createdAt": created});
    }
    match t.kind {
        TaskKind::VmegTts => {
            json!({"taskId": t.id, "results": tts_results(sh, t), "createdAt": created})
        }
        _ => json!({"taskId": t.id, "voiceId": t.voice_id, "createdAt": created}),
    }
}
