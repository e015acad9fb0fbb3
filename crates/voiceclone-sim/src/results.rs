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

/// Webhook / sync `data` for a terminal task.
pub(crate) fn final_data(sh: &Shared, t: &Task) -> Value {
    let created = sh.clock.iso(t.created);
    match t.kind {
        TaskKind::VmegTts => {
            json!({"taskId": t.id, "results": tts_results(sh, t), "createdAt": created})
        }
        _ => {
            if t.phase(Duration::MAX) == Phase::Completed {
                json!({"taskId": t.id, "voiceId": t.voice_id, "createdAt": created})
            } else {
                json!({"taskId": t.id, "createdAt": created})
            }
        }
    }
}
