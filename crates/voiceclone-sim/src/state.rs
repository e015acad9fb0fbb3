//! Simulated state: the offsettable clock, tasks and their state machine,
//! VMEG voices and idempotency keys, JimmyAI model ids and uploaded files.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

/// The simulator clock: real elapsed time plus an offset tests can advance.
#[derive(Debug)]
pub(crate) struct Clock {
    start: Instant,
    start_wall: SystemTime,
    offset: Mutex<Duration>,
}

impl Clock {
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            start_wall: SystemTime::now(),
            offset: Mutex::new(Duration::ZERO),
        }
    }

    fn offset(&self) -> Duration {
        match self.offset.lock() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        }
    }

    /// Simulated time since the simulator started.
    pub fn now(&self) -> Duration {
        self.start.elapsed().saturating_add(self.offset())
    }

    pub fn advance(&self, d: Duration) {
        let mut g = match self.offset.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = g.saturating_add(d);
    }

    /// Wall-clock time of simulated instant `t`.
    pub fn wall(&self, t: Duration) -> SystemTime {
        self.start_wall.checked_add(t).unwrap_or(self.start_wall)
    }

    pub fn unix_secs(&self, t: Duration) -> u64 {
        self.wall(t)
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    pub fn iso(&self, t: Duration) -> String {
        iso8601(self.wall(t))
    }
}

/// Format as ISO 8601 UTC with milliseconds, e.g. `2026-01-02T03:04:05.678Z`.
pub(crate) fn iso8601(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = d.as_secs();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = if month <= 2 { y + 1 } else { y };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Which product a task belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskKind {
    VmegClone,
    VmegTts,
    JimmyClone,
    JimmyAudio,
}

/// Lifecycle phase, computed from elapsed time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Queued,
    Processing,
    Completed,
    Failed,
}

impl Phase {
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

/// One TTS line as accepted.
#[derive(Debug, Clone)]
pub(crate) struct TtsLine {
    pub text: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Task {
    pub id: String,
    pub kind: TaskKind,
    pub created: Duration,
    /// Time spent queued.
    pub queued_for: Duration,
    /// Total time until terminal.
    pub total: Duration,
    pub will_fail: bool,
    pub is_async: bool,
    pub extra_data: Option<Value>,
    // VMEG clone
    pub voice_id: Option<String>,
    pub voice_name: String,
    pub provider: String,
    pub ref_audio: String,
    pub sample_language: Option<String>,
    pub sample_text: Option<String>,
    // VMEG TTS
    pub lines: Vec<TtsLine>,
    pub output_format: String,
    // JimmyAI
    pub model_id: Option<String>,
    pub subtitles: bool,
    /// Side effects of completion (voice / model registration) applied.
    pub settled: bool,
}

impl Task {
    pub fn new(id: String, kind: TaskKind, created: Duration, total: Duration) -> Self {
        Self {
            id,
            kind,
            created,
            queued_for: total / 4,
            total,
            will_fail: false,
            is_async: false,
            extra_data: None,
            voice_id: None,
            voice_name: String::new(),
            provider: String::new(),
            ref_audio: String::new(),
            sample_language: None,
            sample_text: None,
            lines: Vec::new(),
            output_format: String::new(),
            model_id: None,
            subtitles: false,
            settled: false,
        }
    }

    pub fn done_at(&self) -> Duration {
        self.created.saturating_add(self.total)
    }

    pub fn phase(&self, now: Duration) -> Phase {
        let elapsed = now.saturating_sub(self.created);
        if elapsed >= self.total {
            if self.will_fail {
                Phase::Failed
            } else {
                Phase::Completed
            }
        } else if elapsed >= self.queued_for {
            Phase::Processing
        } else {
            Phase::Queued
        }
    }

    /// Time of the last phase change at or before `now`.
    pub fn updated_at(&self, now: Duration) -> Duration {
        match self.phase(now) {
            Phase::Queued => self.created,
            Phase::Processing => self.created.saturating_add(self.queued_for),
            Phase::Completed | Phase::Failed => self.done_at(),
        }
    }

    /// Force the task to be terminal at `now`.
    pub fn finish_now(&mut self, now: Duration) {
        let elapsed = now.saturating_sub(self.created);
        if elapsed < self.total {
            self.total = elapsed;
            self.queued_for = self.queued_for.min(elapsed);
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Voice {
    pub voice_id: String,
    pub name: String,
    pub provider: String,
    pub language: Option<String>,
    pub content: Option<String>,
    pub audio: String,
    pub task_id: String,
    pub created: Duration,
    pub updated: Duration,
    pub deleted: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct SystemVoice {
    pub voice_id: &'static str,
    pub name: &'static str,
    pub provider: &'static str,
    pub language: &'static str,
    pub gender: &'static str,
}

pub(crate) const SYSTEM_VOICES: &[SystemVoice] = &[
    SystemVoice {
        voice_id: "sv_en_us_female_01",
        name: "Ava",
        provider: "S1",
        language: "en-US",
        gender: "female",
    },
    SystemVoice {
        voice_id: "sv_en_us_male_01",
        name: "Noah",
        provider: "S1",
        language: "en-US",
        gender: "male",
    },
    SystemVoice {
        voice_id: "sv_zh_cn_female_01",
        name: "Xiaomei",
        provider: "S2",
        language: "zh-CN",
        gender: "female",
    },
    SystemVoice {
        voice_id: "sv_ja_jp_male_01",
        name: "Haruto",
        provider: "S3",
        language: "ja-JP",
        gender: "male",
    },
];

#[derive(Debug, Clone)]
pub(crate) struct JimmyModel {
    pub ready_at: Duration,
    pub activated: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct StoredFile {
    pub bytes: axum::body::Bytes,
    pub mime: String,
}

/// All mutable simulator state, behind one mutex.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub tasks: BTreeMap<String, Task>,
    /// VMEG tasks in creation order (ids), for listing.
    pub vmeg_order: Vec<String>,
    pub voices: BTreeMap<String, Voice>,
    pub voice_order: Vec<String>,
    /// (path, key) -> time recorded.
    pub idempotency: HashMap<(String, String), Duration>,
    pub models: HashMap<String, JimmyModel>,
    pub files: HashMap<String, StoredFile>,
}

impl State {
    /// Apply completion side effects of every task that became terminal.
    pub fn settle(&mut self, now: Duration) {
        let mut new_voices = Vec::new();
        for t in self.tasks.values_mut() {
            if t.settled || t.phase(now) != Phase::Completed {
                if !t.settled && t.phase(now) == Phase::Failed {
                    t.settled = true;
                }
                continue;
            }
            t.settled = true;
            match t.kind {
                TaskKind::VmegClone => {
                    if let Some(vid) = &t.voice_id {
                        new_voices.push(Voice {
                            voice_id: vid.clone(),
                            name: t.voice_name.clone(),
                            provider: t.provider.clone(),
                            language: t.sample_language.clone(),
                            content: t.sample_text.clone(),
                            audio: t.ref_audio.clone(),
                            task_id: t.id.clone(),
                            created: t.done_at(),
                            updated: t.done_at(),
                            deleted: false,
                        });
                    }
                }
                TaskKind::JimmyClone => {
                    if let Some(m) = &t.model_id {
                        self.models.insert(
                            m.clone(),
                            JimmyModel {
                                ready_at: t.done_at(),
                                activated: false,
                            },
                        );
                    }
                }
                TaskKind::VmegTts | TaskKind::JimmyAudio => {}
            }
        }
        for v in new_voices {
            self.voice_order.push(v.voice_id.clone());
            self.voices.insert(v.voice_id.clone(), v);
        }
    }

    /// Forget idempotency keys older than `ttl`.
    pub fn expire_keys(&mut self, now: Duration, ttl: Duration) {
        self.idempotency
            .retain(|_, at| now.saturating_sub(*at) < ttl);
    }

    /// Finish every task now.
    pub fn finish_all(&mut self, now: Duration) {
        for t in self.tasks.values_mut() {
            t.finish_now(now);
        }
        self.settle(now);
    }
}

/// A fresh id of 32 lowercase hex characters.
pub(crate) fn hex_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_iso() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(iso8601(t), "2023-11-14T22:13:20.123Z");
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn phases() {
        let t = Task::new(
            "t".into(),
            TaskKind::VmegTts,
            Duration::ZERO,
            Duration::from_secs(4),
        );
        assert_eq!(t.phase(Duration::ZERO), Phase::Queued);
        assert_eq!(t.phase(Duration::from_secs(2)), Phase::Processing);
        assert_eq!(t.phase(Duration::from_secs(4)), Phase::Completed);
    }
}
