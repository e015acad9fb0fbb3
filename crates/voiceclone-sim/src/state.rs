//! Simulated state: the offsettable clock, tasks and their state machine,
//! VMEG voices and idempotency keys, JimmyAI model ids and uploaded files.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How far the wall clock goes past the start: 10,000 years (representable on
/// every platform's `SystemTime`, and past year 9999 from any start).
const WALL_SPAN: Duration = Duration::from_secs(10_000 * 365 * 86_400);

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

    /// Wall-clock time of simulated instant `t`, saturating: past
    /// [`WALL_SPAN`] after the start (dates there already read as the last
    /// millisecond of 9999) the clock stands still. Before, an instant whose
    /// wall time overflowed fell back to the start time, so dates and Unix
    /// seconds went backwards at the end of the clock.
    pub fn wall(&self, t: Duration) -> SystemTime {
        self.start_wall
            .checked_add(t.min(WALL_SPAN))
            .unwrap_or(self.start_wall)
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

/// Format as ISO 8601 UTC with milliseconds, e.g. `2026-01-02T03:04:05.678Z`
/// (`jiff` does the calendar). Times beyond year 9999 (a clock advanced by centuries) are
/// shown as the last millisecond of 9999.
pub(crate) fn iso8601(t: SystemTime) -> String {
    const LAST: &str = "9999-12-31T23:59:59.999Z";
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    i64::try_from(since.as_millis())
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|at| at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| LAST.to_string())
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
    /// Why the task fails when it is due, if the simulator knows a reason of the vendor's
    /// (a JimmyAI clone of a stored WAV too short or too long); `None`: the generic
    /// simulated failure.
    pub fail_reason: Option<String>,
    pub is_async: bool,
    /// `extraData` of an async VMEG create, as compact JSON text (shared with its
    /// create record; see `crate::stats::Created`).
    pub extra_data: Option<std::sync::Arc<str>>,
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
    /// Creation order, set by [`State::insert_task`].
    pub seq: u64,
    /// Readers still to see the task's terminal state (its sync create's
    /// answer, its webhook delivery): while any are, neither age nor the
    /// bounds evict it (see `State::evict_aged`, `State::insert_task`). Set
    /// before [`State::insert_task`]; released by [`crate::shared::Reader`].
    pub readers: u32,
    /// Told (`notify_one`, so a permit waits for a waiter not yet asleep) when the task
    /// is deleted: only its own waiter wakes, never every task's (see
    /// [`crate::shared::Shared::wait_terminal`]).
    pub deleted: std::sync::Arc<tokio::sync::Notify>,
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
            fail_reason: None,
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
            seq: 0,
            readers: 0,
            deleted: std::sync::Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Bytes of client-supplied text the task keeps (what
    /// [`crate::SimConfig::max_task_bytes`] counts).
    pub fn payload_bytes(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        self.id.len()
            + self.extra_data.as_ref().map_or(0, |x| x.len())
            + opt(&self.voice_id)
            + self.voice_name.len()
            + self.provider.len()
            + self.ref_audio.len()
            + opt(&self.sample_language)
            + opt(&self.sample_text)
            + self.lines.iter().map(|l| l.text.len()).sum::<usize>()
            + self.output_format.len()
            + opt(&self.model_id)
    }

    pub fn done_at(&self) -> Duration {
        self.created.saturating_add(self.total)
    }

    /// The phase at `now`, read against the same saturated instants the
    /// timers wait for ([`Task::done_at`]): a task whose due time saturates
    /// at the clock's end (a clock advanced by `Duration::MAX`) is terminal
    /// once the clock is there too, never due and unfinished (which made
    /// every waiter on it spin without sleeping).
    pub fn phase(&self, now: Duration) -> Phase {
        if now >= self.done_at() {
            if self.will_fail {
                Phase::Failed
            } else {
                Phase::Completed
            }
        } else if now >= self.created.saturating_add(self.queued_for) {
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
    /// `name` lowercased, made when the name is set: a `searchName` filter reads it for
    /// every voice under the state lock, where lowercasing each name there allocated.
    pub name_folded: String,
    pub provider: String,
    pub language: Option<String>,
    pub content: Option<String>,
    pub audio: String,
    pub task_id: String,
    pub created: Duration,
    pub updated: Duration,
}

impl Voice {
    /// Bytes of text the voice keeps (what its byte bound counts).
    pub fn bytes(&self) -> usize {
        [
            self.voice_id.len(),
            self.name.len(),
            self.name_folded.len(),
            self.provider.len(),
            self.language.as_ref().map_or(0, String::len),
            self.content.as_ref().map_or(0, String::len),
            self.audio.len(),
            self.task_id.len(),
        ]
        .into_iter()
        .fold(0, usize::saturating_add)
    }
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
    /// A registered VMEG material's bytes: when the upload bounds evict them,
    /// the name goes to [`State::evicted_material_files`] so the material
    /// store forgets the material too (it lives behind another lock).
    pub material: bool,
    /// For a part of a pending multipart upload, the upload's material id: its parts
    /// count as one upload for `max_uploads`, and are evicted together (the parts of all
    /// pending uploads together are kept to `max_uploads` as well). Counted one
    /// each, an upload of more parts than the bound evicted every other upload, then
    /// its own first parts, and could never complete.
    pub group: Option<String>,
}

/// Bounds on what the state keeps (from [`crate::SimConfig`]).
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub max_tasks: usize,
    pub max_task_bytes: usize,
    pub task_retention: Duration,
    pub max_uploads: usize,
    pub max_upload_bytes: usize,
    pub upload_retention: Duration,
    pub max_idempotency_keys: usize,
    pub idempotency_ttl: Duration,
    pub max_voices: usize,
}

impl Limits {
    pub fn from_config(c: &crate::SimConfig) -> Self {
        Self {
            max_tasks: c.max_tasks,
            max_task_bytes: c.max_task_bytes,
            task_retention: c.task_retention,
            max_uploads: c.max_uploads,
            max_upload_bytes: c.max_upload_bytes,
            upload_retention: c.upload_retention,
            max_idempotency_keys: c.max_idempotency_keys,
            idempotency_ttl: c.idempotency_ttl,
            max_voices: c.max_voices,
        }
    }
}

/// A new task refused by [`State::insert_task`]: at [`Limits::max_tasks`] or
/// [`Limits::max_task_bytes`] with every stored task still to be read by its
/// sync create or webhook delivery, so none can be evicted to make room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TasksFull;

/// An upload refused by [`State::insert_upload`]: larger than
/// [`Limits::max_upload_bytes`] on its own, so storing it would evict every
/// other upload and then itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UploadTooLarge;

/// Seconds a create refused with [`TasksFull`] is told to wait (`Retry-After`).
pub(crate) const TASKS_FULL_RETRY_AFTER_SECS: u64 = 2;

/// One idempotency slot: (normalised path, key).
pub(crate) type Slot = (String, String);

/// All mutable simulator state, behind one mutex.
///
/// Every operation on it costs O(log n) in the number of tasks (amortised):
/// tasks become terminal lazily (their phase is computed from timestamps when
/// read), completion side effects run from a queue ordered by due time, and
/// evictions pop from queues ordered by age.
pub(crate) struct State {
    limits: Limits,
    pub tasks: BTreeMap<String, Task>,
    next_seq: u64,
    /// Every task by creation order (eviction of pending tasks at the cap).
    order: BTreeMap<u64, String>,
    /// Creation order ([`Task::seq`]) of the stored tasks that are finished
    /// (settled) and that no reader waits for (`readers == 0`): the only ones
    /// the bounds may evict.
    evictable: BTreeSet<u64>,
    /// [`Task::payload_bytes`] of the stored tasks the bounds may not evict
    /// (unfinished, or awaited by a reader).
    held_bytes: usize,
    /// VMEG tasks by creation order, for listing.
    pub vmeg_order: BTreeMap<u64, String>,
    /// Unsettled tasks by due time.
    due: BinaryHeap<Reverse<(Duration, String)>>,
    /// Terminal tasks in the order the simulator settled them: (settled at,
    /// id). Retention counts from there, not from the task's due time: a
    /// clock moved past `task_retention` in one step settled a task and
    /// evicted it in the same call, before its sync create or webhook had
    /// read it (a billed create answered 502, a webhook never sent).
    finished: VecDeque<(Duration, String)>,
    /// The voice library (deleted voices are removed at once: nothing reads them again,
    /// and kept they held places under `max_voices` that live voices were evicted for).
    pub voices: BTreeMap<String, Voice>,
    /// Voice ids, oldest first, for eviction; a deleted voice's entry stays until it is
    /// reached or the queue is compacted ([`State::delete_voice`]).
    pub voice_order: VecDeque<String>,
    /// [`Voice::bytes`] of the stored voices: bounded by
    /// [`Limits::max_task_bytes`] as the tasks are (the voices copy a clone's
    /// name, sample text and audio URL, and outlive its task).
    voice_bytes: usize,
    /// (path, key) -> time recorded.
    pub idempotency: HashMap<Slot, Duration>,
    key_order: VecDeque<(Duration, Slot)>,
    pub models: HashMap<String, JimmyModel>,
    /// `models`' ids, oldest first (each pushed once, when its preview
    /// completed): beyond `max_voices` the oldest not activated go first (an
    /// entry whose model was activated since, or is gone, is skipped), as VMEG's
    /// cloned voices do (a model id outlives its preview task).
    model_order: VecDeque<String>,
    /// Activated models' ids, in the order they were activated: evicted only
    /// when no model that is not activated is left. An activated model is
    /// permanent at the vendor (api-facts B5), and its client paid for it.
    activated_order: VecDeque<String>,
    /// Model ids of JimmyAI preview clones not finished yet.
    pub pending_models: HashSet<String>,
    pub files: HashMap<String, StoredFile>,
    /// Uploads by age: (stored at, stamp, name). An entry whose stamp is not the
    /// name's current one in `file_stamps` is stale (the file was removed, or
    /// stored again under the same name) and is skipped.
    file_order: VecDeque<(Duration, u64, String)>,
    /// The stamp of each stored file's latest `insert_upload`.
    file_stamps: HashMap<String, u64>,
    next_file_stamp: u64,
    file_bytes: usize,
    /// The stored parts of each pending multipart upload, by its material id.
    part_groups: HashMap<String, HashSet<String>>,
    /// How many stored files are parts (the sum of `part_groups`' sizes).
    part_files: usize,
    /// Names of material files evicted by the upload bounds, for the material
    /// store to forget their materials (drained on its next call).
    pub evicted_material_files: Vec<String>,
    /// Tasks and uploads evicted so far.
    pub evicted_tasks: u64,
    pub evicted_uploads: u64,
    /// The webhook delivery waiting for each unfinished task (aborted when the
    /// task is deleted or evicted: nothing is left to deliver).
    pub webhooks: HashMap<String, tokio::task::AbortHandle>,
    /// [`Task::payload_bytes`] of the stored tasks.
    task_bytes: usize,
}

impl std::fmt::Debug for State {
    // Written by hand: derived, it printed every task's text, every upload's bytes
    // and every idempotency key. Counts only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("tasks", &self.tasks.len())
            .field("task_bytes", &self.task_bytes)
            .field("voices", &self.voices.len())
            .field("model_ids", &self.models.len())
            .field("uploads", &self.files.len())
            .field("upload_bytes", &self.file_bytes)
            .field("idempotency_keys", &self.idempotency.len())
            .field("evicted_tasks", &self.evicted_tasks)
            .field("evicted_uploads", &self.evicted_uploads)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl State {
    /// Bytes of the stored uploads.
    pub fn upload_bytes(&self) -> usize {
        self.file_bytes
    }

    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            tasks: BTreeMap::new(),
            next_seq: 0,
            order: BTreeMap::new(),
            evictable: BTreeSet::new(),
            held_bytes: 0,
            vmeg_order: BTreeMap::new(),
            due: BinaryHeap::new(),
            finished: VecDeque::new(),
            voices: BTreeMap::new(),
            voice_order: VecDeque::new(),
            voice_bytes: 0,
            idempotency: HashMap::new(),
            key_order: VecDeque::new(),
            models: HashMap::new(),
            model_order: VecDeque::new(),
            activated_order: VecDeque::new(),
            pending_models: HashSet::new(),
            files: HashMap::new(),
            file_order: VecDeque::new(),
            file_stamps: HashMap::new(),
            next_file_stamp: 0,
            file_bytes: 0,
            part_groups: HashMap::new(),
            part_files: 0,
            evicted_material_files: Vec::new(),
            evicted_tasks: 0,
            evicted_uploads: 0,
            webhooks: HashMap::new(),
            task_bytes: 0,
        }
    }

    /// Store a new task, evicting beyond [`Limits::max_tasks`] and
    /// [`Limits::max_task_bytes`] the oldest finished tasks, but never an
    /// unfinished one (billed, and still polled: evicted, it answered "not
    /// found", and a client may submit again and pay twice) nor one a reader
    /// still waits for ([`Task::readers`]: a sync create to answer, a webhook
    /// to build). When those alone leave no room, the new task is refused
    /// ([`TasksFull`]) and nothing changes. Before, the oldest task went
    /// whatever it was: with nothing finished, a JimmyAI task or a VMEG async
    /// create without a webhook was evicted while its client still polled it.
    pub fn insert_task(&mut self, mut t: Task) -> Result<(), TasksFull> {
        // What would stay if every evictable task went: the held ones and the new
        // one (the byte bound spares a task alone, as below).
        let held = self.tasks.len().saturating_sub(self.evictable.len());
        let bytes = t.payload_bytes();
        if held.saturating_add(1) > self.limits.max_tasks.max(1)
            || (held > 0 && self.held_bytes.saturating_add(bytes) > self.limits.max_task_bytes)
        {
            return Err(TasksFull);
        }
        let now = t.created;
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        t.seq = seq;
        let id = t.id.clone();
        self.order.insert(seq, id.clone());
        if matches!(t.kind, TaskKind::VmegClone | TaskKind::VmegTts) {
            self.vmeg_order.insert(seq, id.clone());
        }
        if t.kind == TaskKind::JimmyClone
            && let Some(m) = &t.model_id
        {
            self.pending_models.insert(m.clone());
        }
        self.due.push(Reverse((t.done_at(), id.clone())));
        self.task_bytes = self.task_bytes.saturating_add(bytes);
        // Not settled yet: held until it is, and no reader waits for it.
        self.held_bytes = self.held_bytes.saturating_add(bytes);
        self.tasks.insert(id.clone(), t);
        // By count, then by bytes; only finished tasks no reader waits for
        // (finished ones still to be read go behind the others, aging from now,
        // as in `evict_aged`; each is passed over at most once per call).
        let mut passes = self.finished.len();
        while self.tasks.len() > self.limits.max_tasks.max(1)
            || (self.task_bytes > self.limits.max_task_bytes && self.tasks.len() > 1)
        {
            let mut victim = None;
            while passes > 0 {
                let Some((at, v)) = self.finished.pop_front() else {
                    break;
                };
                match self.tasks.get(&v) {
                    None => {}
                    Some(f) if !self.evictable.contains(&f.seq) || v == id => {
                        passes -= 1;
                        let at = at.max(now);
                        self.finished.push_back((at, v));
                    }
                    Some(_) => {
                        victim = Some(v);
                        break;
                    }
                }
            }
            let victim = match victim {
                Some(v) => v,
                None => match self.evictable.iter().find(|s| **s != seq) {
                    Some(s) => match self.order.get(s) {
                        Some(v) => v.clone(),
                        None => break,
                    },
                    // Not reached: the check above left room among the evictable tasks.
                    None => break,
                },
            };
            if self.remove_task(&victim).is_some() {
                self.evicted_tasks = self.evicted_tasks.saturating_add(1);
                tracing::debug!(task_id = %victim, "task evicted (max_tasks)");
            }
        }
        self.compact_queues();
        Ok(())
    }

    /// The stored task `id` may now be evicted by the bounds if it is settled
    /// and no reader waits for it.
    fn maybe_evictable(&mut self, id: &str) {
        if let Some(t) = self.tasks.get(id)
            && t.settled
            && t.readers == 0
            && self.evictable.insert(t.seq)
        {
            self.held_bytes = self.held_bytes.saturating_sub(t.payload_bytes());
        }
    }

    /// Drop the queue entries of tasks no longer stored (deleted or evicted
    /// before they were due or aged), once they outnumber the tasks: without
    /// it a client creating and deleting (or overflowing `max_tasks` with)
    /// long tasks grew `due` and `finished` by one entry per create for the
    /// whole duration. Amortised O(1) per insert.
    fn compact_queues(&mut self) {
        let bound = self.tasks.len().saturating_mul(2).saturating_add(1024);
        if self.due.len() > bound {
            let tasks = &self.tasks;
            self.due
                .retain(|Reverse((_, id))| tasks.get(id).is_some_and(|t| !t.settled));
        }
        if self.finished.len() > bound {
            let tasks = &self.tasks;
            self.finished.retain(|(_, id)| tasks.contains_key(id));
        }
    }

    /// Entries in the `due` and `finished` queues.
    #[cfg(test)]
    pub fn queued_entries(&self) -> usize {
        self.due.len() + self.finished.len()
    }

    /// Forget a task (deleted or evicted).
    pub fn remove_task(&mut self, id: &str) -> Option<Task> {
        let t = self.tasks.remove(id)?;
        self.task_bytes = self.task_bytes.saturating_sub(t.payload_bytes());
        if !self.evictable.remove(&t.seq) {
            self.held_bytes = self.held_bytes.saturating_sub(t.payload_bytes());
        }
        if let Some(w) = self.webhooks.remove(id) {
            w.abort();
        }
        self.order.remove(&t.seq);
        self.vmeg_order.remove(&t.seq);
        // A preview clone not finished yet takes its pending model id with it; a
        // production task names a model it does not own.
        if !t.settled
            && t.kind == TaskKind::JimmyClone
            && let Some(m) = &t.model_id
        {
            self.pending_models.remove(m);
        }
        Some(t)
    }

    /// One reader of task `id` (see [`Task::readers`]) has seen it terminal
    /// or gave up.
    pub fn release_reader(&mut self, id: &str) {
        if let Some(t) = self.tasks.get_mut(id)
            && t.readers > 0
        {
            t.readers -= 1;
            if t.readers == 0 {
                self.maybe_evictable(id);
            }
        }
    }

    /// Apply completion side effects of the tasks that became terminal by
    /// `now`, then evict what is past its age.
    pub fn settle(&mut self, now: Duration) {
        while let Some(Reverse((at, _))) = self.due.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, id))) = self.due.pop() else {
                break;
            };
            self.settle_one(&id, now);
        }
        self.evict_aged(now);
    }

    fn settle_one(&mut self, id: &str, now: Duration) {
        let Some(t) = self.tasks.get_mut(id) else {
            return;
        };
        if t.settled || !t.phase(now).is_terminal() {
            return;
        }
        t.settled = true;
        // Finished: the bounds may evict it once no reader waits for it.
        self.maybe_evictable(id);
        let Some(t) = self.tasks.get_mut(id) else {
            return;
        };
        let done = t.done_at();
        self.finished.push_back((now, t.id.clone()));
        if let Some(m) = &t.model_id
            && t.kind == TaskKind::JimmyClone
        {
            self.pending_models.remove(m);
        }
        if t.phase(now) != Phase::Completed {
            return;
        }
        match t.kind {
            TaskKind::VmegClone => {
                if let Some(vid) = &t.voice_id {
                    let v = Voice {
                        voice_id: vid.clone(),
                        name: t.voice_name.clone(),
                        name_folded: t.voice_name.to_lowercase(),
                        provider: t.provider.clone(),
                        language: t.sample_language.clone(),
                        content: t.sample_text.clone(),
                        audio: t.ref_audio.clone(),
                        task_id: t.id.clone(),
                        created: done,
                        updated: done,
                    };
                    self.voice_order.push_back(v.voice_id.clone());
                    self.voice_bytes = self.voice_bytes.saturating_add(v.bytes());
                    if let Some(old) = self.voices.insert(v.voice_id.clone(), v) {
                        self.voice_bytes = self.voice_bytes.saturating_sub(old.bytes());
                    }
                    self.evict_voices(None);
                }
            }
            TaskKind::JimmyClone => {
                if let Some(m) = t.model_id.clone() {
                    let fresh = self
                        .models
                        .insert(
                            m.clone(),
                            JimmyModel {
                                ready_at: done,
                                activated: false,
                            },
                        )
                        .is_none();
                    // Without a bound every preview clone ever made kept its id. The
                    // new one is queued after, so it is never the one evicted (as the
                    // newest voice is always kept).
                    self.evict_models();
                    // Once per id, so the queue never holds more than the map.
                    if fresh {
                        self.model_order.push_back(m);
                    }
                }
            }
            // A completed production task activates its model (api-facts B5: the first
            // successful call); a failed one returned above.
            TaskKind::JimmyAudio => {
                if let Some(m) = t.model_id.as_ref()
                    && let Some(model) = self.models.get_mut(m)
                    && !model.activated
                {
                    model.activated = true;
                    self.activated_order.push_back(m.clone());
                }
            }
            TaskKind::VmegTts => {}
        }
    }

    /// Evict model ids beyond [`Limits::max_voices`]: the oldest not activated
    /// (expired ones are the oldest of those), and only when none is left the
    /// oldest activated; never one not queued yet (the one just made). Before,
    /// the oldest went whatever it was: a permanent, paid-for model before a
    /// preview nobody had used.
    fn evict_models(&mut self) {
        while self.models.len() > self.limits.max_voices.max(1) {
            let mut victim = None;
            while let Some(m) = self.model_order.pop_front() {
                // Activated since it was queued, or gone: not this queue's any more.
                if self.models.get(&m).is_some_and(|x| !x.activated) {
                    victim = Some(m);
                    break;
                }
            }
            let Some(old) = victim.or_else(|| self.activated_order.pop_front()) else {
                break;
            };
            if self.models.remove(&old).is_some() {
                tracing::debug!(model_id = %old, "model id evicted (max_voices)");
            }
        }
    }

    /// Evict the oldest voices beyond [`Limits::max_voices`] or, by their
    /// [`Voice::bytes`], beyond [`Limits::max_task_bytes`] (the newest always
    /// kept; none from `keep` on, the voice just renamed, so a rename never
    /// evicts the voice it names).
    fn evict_voices(&mut self, keep: Option<&str>) {
        while self.voices.len() > self.limits.max_voices.max(1)
            || (self.voice_bytes > self.limits.max_task_bytes && self.voices.len() > 1)
        {
            if keep.is_some() && self.voice_order.front().map(String::as_str) == keep {
                break;
            }
            let Some(old) = self.voice_order.pop_front() else {
                break;
            };
            if let Some(v) = self.voices.remove(&old) {
                self.voice_bytes = self.voice_bytes.saturating_sub(v.bytes());
                tracing::debug!(voice_id = %old, "voice evicted (max_voices / max_task_bytes)");
            }
        }
    }

    /// Rename a stored voice (`false`: no such voice), evicting the
    /// oldest others if the new name takes the voices past their byte bound.
    pub fn rename_voice(&mut self, id: &str, name: String, now: Duration) -> bool {
        let Some(v) = self.voices.get_mut(id) else {
            return false;
        };
        let folded = name.to_lowercase();
        self.voice_bytes = self
            .voice_bytes
            .saturating_sub(v.name.len())
            .saturating_sub(v.name_folded.len())
            .saturating_add(name.len())
            .saturating_add(folded.len());
        v.name = name;
        v.name_folded = folded;
        v.updated = now;
        self.evict_voices(Some(id));
        true
    }

    /// Delete a stored voice (`false`: no such voice). Its place in `voice_order` is
    /// dropped once stale entries outnumber the voices, so a clone-and-delete loop does
    /// not grow the queue.
    pub fn delete_voice(&mut self, id: &str) -> bool {
        let Some(v) = self.voices.remove(id) else {
            return false;
        };
        self.voice_bytes = self.voice_bytes.saturating_sub(v.bytes());
        let bound = self.voices.len().saturating_mul(2).saturating_add(1024);
        if self.voice_order.len() > bound {
            let voices = &self.voices;
            self.voice_order.retain(|id| voices.contains_key(id));
        }
        true
    }

    /// Bytes the stored voices keep ([`Voice::bytes`]).
    #[cfg(test)]
    pub fn voice_bytes(&self) -> usize {
        self.voice_bytes
    }

    /// Evict the tasks settled longer than `task_retention` ago (except those
    /// a reader has still to see: they age again from `now`, and are queued
    /// behind every older entry, so the loop ends), and the aged uploads.
    fn evict_aged(&mut self, now: Duration) {
        let retention = self.limits.task_retention;
        while let Some((settled, _)) = self.finished.front() {
            if now.saturating_sub(*settled) <= retention {
                break;
            }
            let Some((_, id)) = self.finished.pop_front() else {
                break;
            };
            if self.tasks.get(&id).is_some_and(|t| t.readers > 0) {
                self.finished.push_back((now, id));
                continue;
            }
            if self.remove_task(&id).is_some() {
                self.evicted_tasks = self.evicted_tasks.saturating_add(1);
                tracing::debug!(task_id = %id, "task evicted (task_retention)");
            }
        }
        let keep = self.limits.upload_retention;
        while let Some((at, _, _)) = self.file_order.front() {
            if now.saturating_sub(*at) <= keep {
                break;
            }
            self.evict_oldest_upload("upload_retention");
        }
    }

    /// Pop the oldest entry of `file_order`, evicting its file unless the
    /// entry is stale. A multipart part takes the other parts of its upload
    /// with it: one part gone, the upload cannot complete.
    fn evict_oldest_upload(&mut self, why: &'static str) {
        let Some((_, stamp, name)) = self.file_order.pop_front() else {
            return;
        };
        // A stale entry must not evict the file stored again under its name.
        if self.file_stamps.get(&name) != Some(&stamp) {
            return;
        }
        let Some(f) = self.take_file(&name) else {
            return;
        };
        self.note_evicted(&name, &f, why);
        if let Some(group) = f.group
            && let Some(others) = self.part_groups.get(&group).cloned()
        {
            for other in others {
                if let Some(f) = self.take_file(&other) {
                    self.note_evicted(&other, &f, why);
                }
            }
        }
    }

    /// [`State::evict_oldest_upload`] of the oldest entry not of the multipart upload
    /// `keep` (stale entries are taken as they come: they evict nothing). False when only
    /// `keep`'s parts are left.
    fn evict_oldest_upload_except(&mut self, keep: Option<&str>, why: &'static str) -> bool {
        let Some(keep) = keep else {
            let before = self.file_order.len();
            self.evict_oldest_upload(why);
            return self.file_order.len() < before;
        };
        let pos = self.file_order.iter().position(|(_, stamp, name)| {
            self.file_stamps.get(name) != Some(stamp)
                || self.files.get(name).and_then(|f| f.group.as_deref()) != Some(keep)
        });
        let Some(entry) = pos.and_then(|p| self.file_order.remove(p)) else {
            return false;
        };
        self.file_order.push_front(entry);
        self.evict_oldest_upload(why);
        true
    }

    fn note_evicted(&mut self, name: &str, f: &StoredFile, why: &'static str) {
        self.evicted_uploads = self.evicted_uploads.saturating_add(1);
        if f.material {
            self.evicted_material_files.push(name.to_owned());
        }
        tracing::debug!(file = %name, why, "upload evicted");
    }

    /// Remove a stored file with everything that accounts for it (its entry in
    /// `file_order` goes stale: skipped when it comes up, dropped by the next
    /// compaction).
    fn take_file(&mut self, name: &str) -> Option<StoredFile> {
        self.file_stamps.remove(name);
        let f = self.files.remove(name)?;
        self.file_bytes = self.file_bytes.saturating_sub(f.bytes.len());
        self.forget_part(name, f.group.as_deref());
        Some(f)
    }

    fn forget_part(&mut self, name: &str, group: Option<&str>) {
        let Some(group) = group else {
            return;
        };
        if let Some(set) = self.part_groups.get_mut(group) {
            if set.remove(name) {
                self.part_files = self.part_files.saturating_sub(1);
            }
            if set.is_empty() {
                self.part_groups.remove(group);
            }
        }
    }

    /// Uploads as `max_uploads` counts them: a pending multipart upload's
    /// parts are one.
    fn counted_uploads(&self) -> usize {
        self.files
            .len()
            .saturating_sub(self.part_files)
            .saturating_add(self.part_groups.len())
    }

    /// Evict the oldest pending multipart upload (all its parts) other than
    /// `keep`'s; false if there is none.
    fn evict_oldest_part_group(&mut self, keep: Option<&str>) -> bool {
        let oldest = self.file_order.iter().find_map(|(_, stamp, name)| {
            if self.file_stamps.get(name) != Some(stamp) {
                return None;
            }
            let group = self.files.get(name)?.group.as_deref()?;
            (Some(group) != keep).then(|| group.to_owned())
        });
        let Some(group) = oldest else {
            return false;
        };
        for name in self.part_groups.get(&group).cloned().unwrap_or_default() {
            if let Some(f) = self.take_file(&name) {
                self.note_evicted(&name, &f, "max_uploads (multipart parts)");
            }
        }
        true
    }

    /// Store an upload, evicting the oldest ones beyond the count and byte
    /// bounds. An upload larger than [`Limits::max_upload_bytes`] alone is
    /// refused ([`UploadTooLarge`]) and nothing changes: before, it evicted every
    /// other upload (registered materials included), then itself, while its
    /// request was answered as stored.
    pub fn insert_upload(
        &mut self,
        name: String,
        f: StoredFile,
        now: Duration,
    ) -> Result<(), UploadTooLarge> {
        if f.bytes.len() > self.limits.max_upload_bytes {
            return Err(UploadTooLarge);
        }
        let group = f.group.clone();
        if let Some(old) = self.take_file(&name) {
            tracing::trace!(file = %name, len = old.bytes.len(), "upload replaced");
        }
        self.file_bytes = self.file_bytes.saturating_add(f.bytes.len());
        self.files.insert(name.clone(), f);
        if let Some(g) = &group
            && self
                .part_groups
                .entry(g.clone())
                .or_default()
                .insert(name.clone())
        {
            self.part_files = self.part_files.saturating_add(1);
        }
        // Stored again under the same name (a PUT repeated to one URL): the
        // file's age starts now, and its older entry becomes stale.
        let stamp = self.next_file_stamp;
        self.next_file_stamp = self.next_file_stamp.wrapping_add(1);
        self.file_stamps.insert(name.clone(), stamp);
        self.file_order.push_back((now, stamp, name));
        self.compact_file_order();
        // The upload being written is spared: a multipart upload is aged by its first part,
        // so it is often the oldest, and evicting it took the part just stored (answered 200)
        // with it. Its bytes fit on their own (the caller refuses a material over
        // `material_limit`, at most `max_upload_bytes`), so the loop ends.
        while self.counted_uploads() > self.limits.max_uploads
            || self.file_bytes > self.limits.max_upload_bytes
        {
            if !self.evict_oldest_upload_except(group.as_deref(), "max_uploads / max_upload_bytes")
            {
                break;
            }
        }
        // Parts count one per upload above, so their number is bounded here: the
        // oldest other multipart uploads go first (the caller refuses a single upload
        // of more parts than `max_uploads`).
        while self.part_files > self.limits.max_uploads
            && self.evict_oldest_part_group(group.as_deref())
        {}
        Ok(())
    }

    /// Drop the stale entries of `file_order` once they outnumber the files
    /// (as `compact_queues` does for tasks): without it a client PUTting to
    /// one URL, or uploading and deleting, in a loop grew it by one entry a
    /// call for the whole `upload_retention`. Amortised O(1) per insert.
    fn compact_file_order(&mut self) {
        let bound = self.files.len().saturating_mul(2).saturating_add(1024);
        if self.file_order.len() > bound {
            let stamps = &self.file_stamps;
            self.file_order
                .retain(|(_, stamp, name)| stamps.get(name) == Some(stamp));
        }
    }

    /// Remove an upload (a material deleted, a pending PUT replaced).
    pub fn remove_upload(&mut self, name: &str) {
        self.take_file(name);
    }

    /// Forget idempotency keys older than the TTL (and the oldest beyond the
    /// count bound). Amortised O(1): keys are queued in the order recorded.
    pub fn expire_keys(&mut self, now: Duration) {
        let ttl = self.limits.idempotency_ttl;
        let max = self.limits.max_idempotency_keys;
        while let Some((at, _)) = self.key_order.front() {
            if self.idempotency.len() <= max && now.saturating_sub(*at) < ttl {
                break;
            }
            let Some((at, slot)) = self.key_order.pop_front() else {
                break;
            };
            if self.is_current_key(&slot, at) {
                self.idempotency.remove(&slot);
            }
        }
        // Released keys (every rejected request's) leave stale queue entries.
        // Popping them from the front would also pop the live keys queued
        // among them, long before their TTL and with the map far below its
        // bound: drop only the stale ones. Past twice the bound, so each
        // compaction is paid for by as many records as it keeps.
        if self.key_order.len() > max.saturating_mul(2) {
            let queued = std::mem::take(&mut self.key_order);
            let mut kept = HashSet::with_capacity(self.idempotency.len());
            for (at, slot) in queued {
                // A key released and recorded again within one clock tick
                // queues twice with the same time: keep one entry for it.
                if self.is_current_key(&slot, at) && kept.insert(slot.clone()) {
                    self.key_order.push_back((at, slot));
                }
            }
        }
    }

    /// Whether the queue entry (`slot` recorded at `at`) is the key's record
    /// now, not one released (and maybe recorded again) since.
    fn is_current_key(&self, slot: &Slot, at: Duration) -> bool {
        self.idempotency.get(slot) == Some(&at)
    }

    /// Record a key (the caller checked it is free).
    pub fn record_key(&mut self, slot: Slot, now: Duration) {
        self.idempotency.insert(slot.clone(), now);
        self.key_order.push_back((now, slot));
        self.expire_keys(now);
    }

    /// Finish every task now: each unsettled task becomes terminal at `now`, or
    /// at its creation when that is later (a create that read the clock after
    /// the caller did), and is settled once due; only the `due` entries of the
    /// tasks settled here go. Before, a task created after `now` got a due time
    /// past `now`, was not settled, and lost its only `due` entry: it read
    /// "completed" but was never settled (no voice in the library, a JimmyAI
    /// `modelId` "not ready" for ever, its files 404, never evicted by age).
    pub fn finish_all(&mut self, now: Duration) {
        let mut ids = Vec::new();
        for t in self.tasks.values_mut() {
            if !t.settled {
                t.finish_now(now.max(t.created));
                ids.push(t.id.clone());
            }
        }
        for id in &ids {
            self.settle_one(id, now);
        }
        // Every unsettled task is in `ids`: those left get one entry at their new
        // due time; the other entries name settled or removed tasks.
        self.due.clear();
        for id in ids {
            if let Some(t) = self.tasks.get(&id).filter(|t| !t.settled) {
                self.due.push(Reverse((t.done_at(), id)));
            }
        }
        self.evict_aged(now);
    }

    /// Unsettled tasks still queued by due time.
    #[cfg(test)]
    pub fn due_len(&self) -> usize {
        self.due.len()
    }
}

/// A fresh id of 32 lowercase hex characters.
pub(crate) fn hex_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn formats_iso() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(iso8601(t), "2023-11-14T22:13:20.123Z");
        assert_eq!(iso8601(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_millis(951_782_400_007);
        assert_eq!(iso8601(leap), "2000-02-29T00:00:00.007Z");
        let far = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert_eq!(iso8601(far), "9999-12-31T23:59:59.999Z");
    }

    /// At the end of the clock (`advance_clock(Duration::MAX)`), a wall time that
    /// overflowed fell back to the start: dates and Unix seconds went backwards.
    #[test]
    fn wall_time_saturates_and_never_goes_back() {
        let c = Clock::new();
        let at = [
            Duration::ZERO,
            Duration::from_secs(86_400),
            WALL_SPAN,
            Duration::from_secs(u64::MAX / 4),
            Duration::MAX,
        ];
        for pair in at.windows(2) {
            assert!(c.wall(pair[0]) <= c.wall(pair[1]), "{pair:?}");
            assert!(c.unix_secs(pair[0]) <= c.unix_secs(pair[1]), "{pair:?}");
        }
        assert!(c.unix_secs(Duration::MAX) > c.unix_secs(Duration::ZERO));
        assert_eq!(c.iso(Duration::MAX), "9999-12-31T23:59:59.999Z");
    }

    fn limits() -> Limits {
        Limits::from_config(&crate::SimConfig::default())
    }

    fn task(id: &str, at: u64, total: u64) -> Task {
        Task::new(
            id.into(),
            TaskKind::VmegTts,
            Duration::from_secs(at),
            Duration::from_secs(total),
        )
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn queues_hold_no_more_than_the_tasks_they_order() {
        // Long tasks created and deleted in a loop next to a full table: each create
        // pushed a `due` entry that stayed for the task's whole duration.
        let mut st = State::new(Limits {
            max_tasks: 10,
            ..limits()
        });
        for i in 0..9 {
            st.insert_task(task(&format!("kept{i}"), 0, 1_000_000))
                .unwrap();
        }
        for i in 0..20_000 {
            let id = format!("long{i}");
            st.insert_task(task(&id, 0, 1_000_000)).unwrap();
            st.remove_task(&id);
        }
        st.insert_task(task("last", 0, 1_000_000)).unwrap();
        assert_eq!(st.tasks.len(), 10);
        assert!(
            st.queued_entries() <= 2 * 10 + 1024 + 1,
            "{}",
            st.queued_entries()
        );
        // Created, finished and deleted by the client, in a loop: `finished` kept them.
        let mut st = State::new(limits());
        for i in 0..20_000u64 {
            let id = format!("short{i}");
            st.insert_task(task(&id, i, 1)).unwrap();
            st.settle(secs(i + 1));
            st.remove_task(&id);
        }
        assert!(st.tasks.is_empty());
        assert!(st.queued_entries() <= 1024 + 1, "{}", st.queued_entries());
        // What is still stored keeps its entries, in order.
        st.insert_task(task("kept", 20_000, 1)).unwrap();
        st.settle(secs(20_002));
        st.insert_task(task("pending", 20_002, 1000)).unwrap();
        assert!(st.finished.iter().any(|(_, id)| id == "kept"));
        assert!(st.due.iter().any(|Reverse((_, id))| id == "pending"));
    }

    #[test]
    fn finished_tasks_are_evicted_by_count_then_age_and_pending_last() {
        let mut st = State::new(Limits {
            max_tasks: 3,
            task_retention: secs(10),
            ..limits()
        });
        st.insert_task(task("pending", 0, 1000)).unwrap();
        for (i, id) in ["a", "b"].into_iter().enumerate() {
            st.insert_task(task(id, i as u64, 1)).unwrap();
        }
        st.settle(secs(5));
        assert_eq!(st.tasks.len(), 3);
        // At the cap, the oldest finished task goes, not the older pending one.
        st.insert_task(task("c", 5, 1)).unwrap();
        assert!(!st.tasks.contains_key("a") && st.tasks.contains_key("pending"));
        assert_eq!(st.vmeg_order.len(), 3);
        // "b" settled at 5 s: gone after 15 s; "c" (due at 6 s) settled at
        // 7 s stays until 17 s.
        st.settle(secs(7));
        st.settle(secs(16));
        assert!(!st.tasks.contains_key("b") && st.tasks.contains_key("c"));
        assert_eq!(st.evicted_tasks, 2);
    }

    /// At `max_tasks` with nothing finished, the oldest task went whatever it was: one
    /// whose sync create still waited (answered 502 "deleted while running", though
    /// billed) or whose webhook was not built yet. Now a task a reader waits for is never
    /// evicted by the bounds; when nothing else can go, the new task is refused and
    /// nothing changes.
    #[test]
    fn tasks_still_awaited_are_never_evicted_and_a_full_table_refuses() {
        let keys = |st: &State| st.tasks.keys().cloned().collect::<Vec<_>>();
        let mut st = State::new(Limits {
            max_tasks: 2,
            ..limits()
        });
        let mut sync = task("sync", 0, 1000);
        sync.readers = 1;
        st.insert_task(sync).unwrap();
        st.insert_task(task("a1", 1, 1)).unwrap();
        st.settle(secs(2));
        st.insert_task(task("a2", 2, 1)).unwrap();
        assert_eq!(keys(&st), ["a2", "sync"]);
        st.settle(secs(3));
        let mut hook = task("hook", 3, 1000);
        hook.readers = 1;
        st.insert_task(hook).unwrap();
        assert_eq!(keys(&st), ["hook", "sync"]);
        let evicted = st.evicted_tasks;
        assert_eq!(st.insert_task(task("x", 4, 1000)), Err(TasksFull));
        assert_eq!(keys(&st), ["hook", "sync"]);
        assert_eq!((st.evicted_tasks, st.order.len()), (evicted, 2));
        // Finished but not read yet: still kept.
        st.settle(secs(1000));
        assert_eq!(st.insert_task(task("y", 1000, 1)), Err(TasksFull));
        st.release_reader("sync");
        st.insert_task(task("z", 1000, 1)).unwrap();
        assert_eq!(keys(&st), ["hook", "z"]);

        // By bytes: the awaited task's text and the new one's must fit.
        let mut st = State::new(Limits {
            max_task_bytes: 100,
            ..limits()
        });
        let mut sync = task("s", 0, 1000);
        sync.readers = 1;
        sync.lines = vec![TtsLine {
            text: "x".repeat(60),
        }];
        st.insert_task(sync).unwrap();
        let mut big = task("big", 1000, 1000);
        big.lines = vec![TtsLine {
            text: "y".repeat(50),
        }];
        assert_eq!(st.insert_task(big.clone()), Err(TasksFull));
        let mut small = task("small", 1, 1000);
        small.lines = vec![TtsLine {
            text: "y".repeat(20),
        }];
        st.insert_task(small).unwrap();
        st.release_reader("s");
        assert_eq!(st.insert_task(big.clone()), Err(TasksFull), "not finished");
        // Finished and read: now it may go, and the big one fits.
        st.settle(secs(1000));
        st.insert_task(big).unwrap();
        assert_eq!(keys(&st), ["big", "small"]);
    }

    /// JimmyAI tasks and VMEG async creates without a webhook have no reader: at the
    /// bounds with nothing finished, the oldest of them was evicted while its client still
    /// polled it (billed, then "not found": a client may submit again and pay twice). Now
    /// an unfinished task is never evicted by the bounds: the new task is refused.
    #[test]
    fn unfinished_tasks_are_never_evicted_by_the_bounds() {
        let keys = |st: &State| st.tasks.keys().cloned().collect::<Vec<_>>();
        let mut st = State::new(Limits {
            max_tasks: 2,
            ..limits()
        });
        st.insert_task(task("x", 0, 1000)).unwrap();
        st.insert_task(task("y", 1, 1000)).unwrap();
        assert_eq!(st.insert_task(task("z", 2, 1000)), Err(TasksFull));
        assert_eq!(keys(&st), ["x", "y"]);
        assert_eq!(st.evicted_tasks, 0);
        // Once one is finished, it makes room.
        st.settle(secs(1000));
        st.insert_task(task("z", 1000, 1000)).unwrap();
        assert_eq!(keys(&st), ["y", "z"]);
        assert_eq!(st.evicted_tasks, 1);

        // By bytes likewise.
        let mut st = State::new(Limits {
            max_task_bytes: 100,
            ..limits()
        });
        let mut a = task("a", 0, 1000);
        a.lines = vec![TtsLine {
            text: "x".repeat(60),
        }];
        st.insert_task(a).unwrap();
        let mut b = task("b", 1, 1000);
        b.lines = vec![TtsLine {
            text: "y".repeat(50),
        }];
        assert_eq!(st.insert_task(b), Err(TasksFull));
        assert_eq!(keys(&st), ["a"]);
    }

    /// Removing a task took its `model_id` out of the pending preview models whatever its
    /// kind: a production task naming a preview's model made that preview's `modelId`
    /// read "not found" instead of "not ready" until it finished.
    #[test]
    fn removing_a_production_task_leaves_a_pending_model_pending() {
        let mut st = State::new(limits());
        let mut preview = Task::new("audio_p".into(), TaskKind::JimmyClone, secs(0), secs(100));
        preview.model_id = Some("mdl_1".into());
        st.insert_task(preview).unwrap();
        let mut audio = Task::new("audio_a".into(), TaskKind::JimmyAudio, secs(1), secs(100));
        audio.model_id = Some("mdl_1".into());
        st.insert_task(audio).unwrap();
        st.remove_task("audio_a");
        assert!(st.pending_models.contains("mdl_1"));
        st.remove_task("audio_p");
        assert!(st.pending_models.is_empty());
    }

    /// `complete_all_now` read the clock, then waited for the lock; a task created
    /// meanwhile (later than that reading) got a due time past it, was not settled, and
    /// lost its only `due` entry: it read "completed" but never settled (no voice listed,
    /// a JimmyAI `modelId` "not ready" for ever, its files 404, never evicted by age).
    #[test]
    fn finishing_all_settles_a_task_created_after_the_clock_was_read() {
        let mut st = State::new(limits());
        let mut t = Task::new("late".into(), TaskKind::VmegClone, secs(10), secs(100));
        t.voice_id = Some("cv_late".into());
        st.insert_task(t).unwrap();
        st.insert_task(task("early", 0, 100)).unwrap();
        st.finish_all(secs(5));
        assert!(st.tasks["early"].settled);
        assert_eq!(st.tasks["late"].phase(secs(10)), Phase::Completed);
        st.settle(secs(1000));
        assert!(st.tasks["late"].settled, "never settled");
        assert!(st.voices.contains_key("cv_late"), "voice not listed");
        assert_eq!(st.due_len(), 0);
    }

    #[test]
    fn age_counts_from_settling_and_spares_unread_tasks() {
        let mut st = State::new(Limits {
            task_retention: Duration::ZERO,
            ..limits()
        });
        let mut t = task("read", 0, 1);
        t.readers = 1;
        st.insert_task(t).unwrap();
        st.insert_task(task("unread", 0, 1)).unwrap();
        // Due at 1 s, settled two days later: not evicted by the same call.
        let late = secs(2 * 86_400);
        st.settle(late);
        assert!(st.tasks.contains_key("read") && st.tasks.contains_key("unread"));
        // Later, the task with no reader goes; the one still to be read stays.
        st.settle(late + secs(1));
        assert!(!st.tasks.contains_key("unread"));
        assert!(st.tasks.contains_key("read"));
        st.settle(late + secs(2));
        assert!(st.tasks.contains_key("read"));
        st.release_reader("read");
        st.settle(late + secs(3));
        assert!(st.tasks.is_empty());
        assert_eq!(st.evicted_tasks, 2);
    }

    /// Voices copied a clone's text (name, sample text, audio URL) bounded only by
    /// their count (100,000 of up to 1 MiB each), and a rename could set a 1 MiB name.
    /// Now their bytes are bounded by `max_task_bytes`, oldest evicted first.
    #[test]
    fn voices_are_bounded_in_bytes_oldest_first() {
        let mut st = State::new(Limits {
            max_task_bytes: 10_000,
            ..limits()
        });
        for i in 0..10 {
            let mut t = Task::new(format!("c{i}"), TaskKind::VmegClone, secs(i), secs(1));
            t.voice_id = Some(format!("cv_{i}"));
            t.sample_text = Some("s".repeat(3_000));
            st.insert_task(t).unwrap();
            st.settle(secs(i + 1));
        }
        assert!(st.voice_bytes() <= 10_000, "{}", st.voice_bytes());
        assert_eq!(st.voices.len(), 3);
        assert!(st.voices.contains_key("cv_9") && !st.voices.contains_key("cv_6"));
        assert_eq!(st.voice_order.len(), 3);
        // A long new name evicts the oldest others, never the voice renamed (a name counts
        // twice: it is kept case-folded as well).
        assert!(st.rename_voice("cv_8", "n".repeat(1_250), secs(20)));
        assert!(st.voice_bytes() <= 10_000, "{}", st.voice_bytes());
        assert!(!st.voices.contains_key("cv_7"));
        assert!(st.voices.contains_key("cv_8") && st.voices.contains_key("cv_9"));
        assert!(st.rename_voice("cv_8", "N".repeat(20_000), secs(21)));
        assert!(st.voices.contains_key("cv_8"), "the renamed voice stays");
        assert_eq!(st.voices["cv_8"].name_folded, "n".repeat(20_000));
        assert_eq!(
            st.voice_bytes(),
            st.voices.values().map(Voice::bytes).sum::<usize>()
        );
        assert!(!st.rename_voice("cv_0", "x".into(), secs(22)));
    }

    /// Review 35-a #4: a deleted voice leaves the library, its bytes and, in a
    /// clone-and-delete loop, its place in the eviction queue.
    #[test]
    fn deleted_voices_leave_no_trace() {
        let mut st = State::new(limits());
        for i in 0..3_000 {
            let mut t = Task::new(format!("c{i}"), TaskKind::VmegClone, secs(i), secs(1));
            t.voice_id = Some(format!("cv_{i}"));
            st.insert_task(t).unwrap();
            st.settle(secs(i + 1));
            assert!(st.delete_voice(&format!("cv_{i}")));
            assert!(!st.delete_voice(&format!("cv_{i}")), "deleted twice");
        }
        assert!(st.voices.is_empty());
        assert_eq!(st.voice_bytes(), 0);
        assert!(st.voice_order.len() <= 1024 + 1, "{}", st.voice_order.len());
    }

    #[test]
    fn voices_are_bounded_oldest_first() {
        let mut st = State::new(Limits {
            max_voices: 2,
            ..limits()
        });
        for id in ["c1", "c2", "c3"] {
            let mut t = Task::new(id.into(), TaskKind::VmegClone, secs(0), secs(1));
            t.voice_id = Some(format!("cv_{id}"));
            st.insert_task(t).unwrap();
        }
        st.settle(secs(2));
        assert_eq!(st.voices.len(), 2);
        assert!(!st.voices.contains_key("cv_c1"));
        assert_eq!(st.voice_order.len(), 2);
    }

    #[test]
    fn settling_touches_only_due_tasks() {
        let mut st = State::new(limits());
        for i in 0..10_000 {
            st.insert_task(task(&format!("t{i}"), 0, 1000 + i)).unwrap();
        }
        st.insert_task(task("soon", 0, 1)).unwrap();
        st.settle(secs(2));
        assert_eq!(st.due_len(), 10_000, "only the due task was popped");
        assert!(st.tasks["soon"].settled);
        st.finish_all(secs(3));
        assert_eq!(st.due_len(), 0);
        assert!(st.tasks.values().all(|t| t.settled));
    }

    #[test]
    fn uploads_are_evicted_by_count_bytes_and_age() {
        let mut st = State::new(Limits {
            max_uploads: 2,
            max_upload_bytes: 10,
            upload_retention: secs(60),
            ..limits()
        });
        let f = |n: usize| StoredFile {
            bytes: axum::body::Bytes::from(vec![0u8; n]),
            mime: "audio/wav".into(),
            material: false,
            group: None,
        };
        st.insert_upload("a".into(), f(4), secs(0)).unwrap();
        st.insert_upload("b".into(), f(4), secs(1)).unwrap();
        st.insert_upload("c".into(), f(4), secs(2)).unwrap();
        assert!(!st.files.contains_key("a"), "count bound");
        st.insert_upload("d".into(), f(8), secs(3)).unwrap();
        assert_eq!(st.files.len(), 1, "byte bound keeps only d");
        st.insert_upload("e".into(), f(1), secs(5)).unwrap();
        st.settle(secs(66));
        assert!(st.files.is_empty(), "age bound");
        assert_eq!(st.evicted_uploads, 5);
    }

    /// At `max_voices`, the oldest model id went whatever it was: an activated one
    /// (permanent at the vendor, paid for) before newer ones nobody had used. Now the
    /// oldest not activated goes first, the activated ones only when none is left, and
    /// never the one just made.
    #[test]
    fn activated_models_are_evicted_last() {
        let mut st = State::new(Limits {
            max_voices: 2,
            ..limits()
        });
        let preview = |st: &mut State, n: u64| {
            let mut t = Task::new(format!("p{n}"), TaskKind::JimmyClone, secs(n), secs(1));
            t.model_id = Some(format!("mdl_{n}"));
            st.insert_task(t).unwrap();
            st.settle(secs(n + 1));
        };
        let activate = |st: &mut State, n: u64, at: u64| {
            let mut t = Task::new(format!("a{n}"), TaskKind::JimmyAudio, secs(at), secs(1));
            t.model_id = Some(format!("mdl_{n}"));
            st.insert_task(t).unwrap();
            st.settle(secs(at + 1));
        };
        let kept = |st: &State| {
            let mut k: Vec<_> = st.models.keys().cloned().collect();
            k.sort();
            k
        };
        preview(&mut st, 1);
        activate(&mut st, 1, 1);
        assert_eq!(st.models.get("mdl_1").map(|m| m.activated), Some(true));
        preview(&mut st, 2);
        preview(&mut st, 3);
        assert_eq!(kept(&st), ["mdl_1", "mdl_3"], "the unused one goes first");
        // Only activated ones besides the new one: the oldest activated goes.
        activate(&mut st, 3, 4);
        preview(&mut st, 6);
        assert_eq!(kept(&st), ["mdl_3", "mdl_6"]);
        assert!(st.model_order.len() + st.activated_order.len() <= 2 * 2);
    }

    #[test]
    fn model_ids_are_bounded_like_voices() {
        // JimmyAI preview clones overflowing `max_tasks`: every model id stayed
        // (100,000 clones with `max_tasks` 10 kept 100,000 ids).
        let mut st = State::new(Limits {
            max_tasks: 10,
            max_voices: 10,
            ..limits()
        });
        for i in 0..20_000u64 {
            let mut t = Task::new(format!("audio_{i}"), TaskKind::JimmyClone, secs(i), secs(1));
            t.model_id = Some(format!("mdl_{i}"));
            st.insert_task(t).unwrap();
            st.settle(secs(i + 1));
        }
        assert_eq!(st.tasks.len(), 10);
        assert!(st.models.len() <= 10, "{} model ids kept", st.models.len());
        assert!(st.model_order.len() <= 2 * 10, "{}", st.model_order.len());
        assert!(st.pending_models.is_empty());
        // The latest stay, whatever became of their preview tasks.
        assert!(st.models.contains_key("mdl_19999"));
        assert!(!st.models.contains_key("mdl_0"));
    }

    /// The first *successful* production call activates a `modelId` (api-facts B5): a
    /// production task activates its model when it completes, not when it is accepted, and
    /// a failed one never does. Before, the create activated it on acceptance.
    #[test]
    fn a_model_is_activated_by_a_completed_production_task_only() {
        let mut st = State::new(limits());
        let mut preview = Task::new("audio_p".into(), TaskKind::JimmyClone, secs(0), secs(1));
        preview.model_id = Some("mdl_1".into());
        st.insert_task(preview).unwrap();
        st.settle(secs(1));
        let activated = |st: &State| st.models.get("mdl_1").map(|m| m.activated);
        assert_eq!(activated(&st), Some(false));
        let audio = |id: &str, at: u64, will_fail: bool| {
            let mut t = Task::new(id.into(), TaskKind::JimmyAudio, secs(at), secs(1));
            t.model_id = Some("mdl_1".into());
            t.will_fail = will_fail;
            t
        };
        st.insert_task(audio("audio_f", 2, true)).unwrap();
        st.settle(secs(2));
        assert_eq!(activated(&st), Some(false), "accepted is not activated");
        st.settle(secs(3));
        assert_eq!(
            activated(&st),
            Some(false),
            "a failed task does not activate"
        );
        st.insert_task(audio("audio_ok", 4, false)).unwrap();
        st.settle(secs(4));
        assert_eq!(activated(&st), Some(false), "still running");
        st.settle(secs(5));
        assert_eq!(activated(&st), Some(true), "completed");
    }

    /// An upload larger than `max_upload_bytes` on its own evicted every other upload
    /// (registered materials included), then itself. Now it is refused and nothing
    /// changes.
    #[test]
    fn an_upload_larger_than_the_store_is_refused_and_evicts_nothing() {
        let mut st = State::new(Limits {
            max_upload_bytes: 10,
            ..limits()
        });
        let f = |n: usize, material| StoredFile {
            bytes: axum::body::Bytes::from(vec![0u8; n]),
            mime: "audio/wav".into(),
            material,
            group: None,
        };
        st.insert_upload("mat.wav".into(), f(4, true), secs(0))
            .unwrap();
        st.insert_upload("b".into(), f(4, false), secs(1)).unwrap();
        assert_eq!(
            st.insert_upload("huge".into(), f(11, false), secs(2)),
            Err(UploadTooLarge)
        );
        assert!(st.files.contains_key("mat.wav") && st.files.contains_key("b"));
        assert!(!st.files.contains_key("huge"));
        assert_eq!((st.evicted_uploads, st.upload_bytes()), (0, 8));
        assert!(st.evicted_material_files.is_empty());
        // At the bound exactly: stored, the others evicted to make room.
        st.insert_upload("full".into(), f(10, false), secs(3))
            .unwrap();
        assert_eq!(st.files.len(), 1);
    }

    #[test]
    fn upload_order_holds_no_more_than_the_files_it_orders() {
        let f = || StoredFile {
            bytes: axum::body::Bytes::from_static(b"x"),
            mime: "x".into(),
            material: false,
            group: None,
        };
        // A PUT repeated to one URL: each pushed another entry, none ever left.
        let mut st = State::new(Limits {
            max_uploads: 10,
            ..limits()
        });
        for i in 0..20_000u64 {
            st.insert_upload("put_same".into(), f(), secs(i / 10))
                .unwrap();
        }
        assert_eq!(st.files.len(), 1);
        assert!(
            st.file_order.len() <= 2 * 10 + 1024 + 1,
            "{} entries for 1 file",
            st.file_order.len()
        );
        // Uploaded and deleted in a loop: the entries stayed.
        for i in 0..20_000u64 {
            let name = format!("f{i}");
            st.insert_upload(name.clone(), f(), secs(2_000)).unwrap();
            st.remove_upload(&name);
        }
        assert!(
            st.file_order.len() <= 2 * 10 + 1024 + 1,
            "{}",
            st.file_order.len()
        );
        assert_eq!(st.file_stamps.len(), st.files.len());
        // A file stored again is as old as its latest store: its first entry
        // must not evict it in place of an older file.
        let mut st = State::new(Limits {
            max_uploads: 2,
            ..limits()
        });
        st.insert_upload("a".into(), f(), secs(0)).unwrap();
        st.insert_upload("b".into(), f(), secs(1)).unwrap();
        st.insert_upload("a".into(), f(), secs(2)).unwrap();
        st.insert_upload("c".into(), f(), secs(3)).unwrap();
        assert!(st.files.contains_key("a") && st.files.contains_key("c"));
        assert!(!st.files.contains_key("b"));
    }

    #[test]
    fn a_multipart_uploads_parts_count_as_one_and_go_together() {
        let mut st = State::new(Limits {
            max_uploads: 3,
            ..limits()
        });
        let f = |group: Option<&str>| StoredFile {
            bytes: axum::body::Bytes::from_static(b"x"),
            mime: "x".into(),
            material: false,
            group: group.map(str::to_owned),
        };
        st.insert_upload("a".into(), f(None), secs(0)).unwrap();
        for i in 0..3 {
            st.insert_upload(format!("m1_{i}"), f(Some("m1")), secs(1))
                .unwrap();
        }
        assert_eq!((st.files.len(), st.evicted_uploads), (4, 0));
        // A second multipart upload: its parts take the store past 3 parts, so the
        // older upload's parts go, all of them, and nothing else.
        st.insert_upload("m2_0".into(), f(Some("m2")), secs(2))
            .unwrap();
        assert!(st.files.contains_key("a") && st.files.contains_key("m2_0"));
        assert_eq!((st.files.len(), st.evicted_uploads), (2, 3));
        // Past the count bound, the oldest goes first; a part takes its upload's
        // other parts with it.
        st.insert_upload("m2_1".into(), f(Some("m2")), secs(3))
            .unwrap();
        st.insert_upload("b".into(), f(None), secs(4)).unwrap();
        st.insert_upload("c".into(), f(None), secs(5)).unwrap();
        assert!(!st.files.contains_key("a"));
        assert!(st.files.contains_key("m2_0") && st.files.contains_key("m2_1"));
        st.insert_upload("d".into(), f(None), secs(6)).unwrap();
        assert!(!st.files.contains_key("m2_0") && !st.files.contains_key("m2_1"));
        assert_eq!(st.files.len(), 3);
        assert_eq!((st.part_files, st.part_groups.len()), (0, 0));
        st.remove_upload("b");
        assert_eq!(st.counted_uploads(), 2);
    }

    /// Review 26 pass 2 (sim) #3: the byte bound never evicts the multipart upload being
    /// written (aged by its first part, it is often the oldest): another upload goes, and the
    /// part just stored (answered 200) stays.
    #[test]
    fn the_byte_bound_spares_the_multipart_upload_being_written() {
        let mut st = State::new(Limits {
            max_uploads: 10,
            max_upload_bytes: 4,
            ..limits()
        });
        let f = |group: Option<&str>, bytes: &'static [u8]| StoredFile {
            bytes: axum::body::Bytes::from_static(bytes),
            mime: "x".into(),
            material: false,
            group: group.map(str::to_owned),
        };
        st.insert_upload("g_1".into(), f(Some("g"), b"1"), secs(0))
            .unwrap();
        st.insert_upload("m".into(), f(None, b"mm"), secs(1))
            .unwrap();
        st.insert_upload("g_2".into(), f(Some("g"), b"2"), secs(2))
            .unwrap();
        st.insert_upload("g_3".into(), f(Some("g"), b"3"), secs(3))
            .unwrap();
        assert!(!st.files.contains_key("m"), "the other upload goes");
        for part in ["g_1", "g_2", "g_3"] {
            assert!(st.files.contains_key(part), "{part} was evicted");
        }
        assert_eq!(st.evicted_uploads, 1);
    }

    #[test]
    fn evicted_material_files_are_reported() {
        let mut st = State::new(Limits {
            max_uploads: 1,
            upload_retention: secs(60),
            ..limits()
        });
        let f = |material| StoredFile {
            bytes: axum::body::Bytes::from_static(b"x"),
            mime: "x".into(),
            material,
            group: None,
        };
        st.insert_upload("mat_1.wav".into(), f(true), secs(0))
            .unwrap();
        st.insert_upload("other".into(), f(false), secs(1)).unwrap();
        assert_eq!(st.evicted_material_files, ["mat_1.wav"], "count bound");
        st.insert_upload("mat_2.wav".into(), f(true), secs(2))
            .unwrap();
        st.settle(secs(100));
        assert_eq!(st.evicted_material_files, ["mat_1.wav", "mat_2.wav"], "age");
        // Removed on purpose (a material deleted): nothing to report.
        st.insert_upload("mat_3.wav".into(), f(true), secs(100))
            .unwrap();
        st.remove_upload("mat_3.wav");
        st.settle(secs(1000));
        assert_eq!(st.evicted_material_files.len(), 2);
    }

    #[test]
    fn keys_expire_in_order_and_are_bounded() {
        let mut st = State::new(Limits {
            max_idempotency_keys: 3,
            idempotency_ttl: secs(10),
            ..limits()
        });
        let slot = |k: &str| ("/p".to_string(), k.to_string());
        for (i, k) in ["a", "b", "c", "d"].into_iter().enumerate() {
            st.record_key(slot(k), secs(i as u64));
        }
        assert!(!st.idempotency.contains_key(&slot("a")), "count bound");
        // A released key leaves a stale queue entry that must not remove a newer record.
        st.idempotency.remove(&slot("b"));
        st.record_key(slot("b"), secs(8));
        st.expire_keys(secs(12));
        assert!(!st.idempotency.contains_key(&slot("c")));
        assert!(
            st.idempotency.contains_key(&slot("b")),
            "re-recorded at 8 s"
        );
        st.expire_keys(secs(30));
        assert!(st.idempotency.is_empty());
    }

    /// Released keys (rejected requests) leave stale queue entries; once those passed twice
    /// the bound, the queue was cut from the front and a live key went with it.
    #[test]
    fn released_keys_do_not_push_live_keys_out() {
        let mut st = State::new(Limits {
            max_idempotency_keys: 3,
            idempotency_ttl: secs(10),
            ..limits()
        });
        let slot = |k: &str| ("/p".to_string(), k.to_string());
        st.record_key(slot("live"), secs(0));
        for i in 0..100 {
            let s = slot(&format!("rejected-{i}"));
            st.record_key(s.clone(), secs(1));
            st.idempotency.remove(&s);
        }
        // Released and recorded again at the same time: queued twice, kept once.
        for _ in 0..10 {
            st.record_key(slot("again"), secs(2));
            st.idempotency.remove(&slot("again"));
        }
        st.record_key(slot("again"), secs(2));
        st.expire_keys(secs(3));
        assert!(st.idempotency.contains_key(&slot("live")));
        assert!(st.idempotency.contains_key(&slot("again")));
        assert!(st.key_order.len() <= 6, "{} queued", st.key_order.len());
        assert_eq!(
            st.key_order
                .iter()
                .filter(|(_, s)| *s == slot("again"))
                .count(),
            1
        );
        // The TTL still applies to the keys kept.
        st.expire_keys(secs(11));
        assert!(!st.idempotency.contains_key(&slot("live")));
        assert!(st.idempotency.contains_key(&slot("again")));
        st.expire_keys(secs(13));
        assert!(st.idempotency.is_empty());
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
        // Created near the clock's end: its due time saturates, and it is
        // terminal once the clock saturates too (as its timer says).
        let late = Task::new(
            "late".into(),
            TaskKind::VmegTts,
            Duration::MAX - Duration::from_secs(1),
            Duration::from_secs(4),
        );
        assert_eq!(late.done_at(), Duration::MAX);
        assert_eq!(
            late.phase(Duration::MAX - Duration::from_secs(1)),
            Phase::Queued
        );
        assert_eq!(late.phase(Duration::MAX), Phase::Completed);
    }
}
