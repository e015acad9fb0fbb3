//! What a command produced and how it is printed: one JSON object on stdout with `--json`,
//! else a short human summary on stdout and diagnostics on stderr.
//!
//! Every line printed passes through [`Printer::redact`], which removes the API key in case
//! something (a vendor message, an OS error) ever echoed it, and then through
//! [`terminal_safe`] (human lines, stderr) or [`json_safe`] (`--json`): server strings can carry
//! control characters (ESC sequences that retitle or clear a terminal, CR LF that forge a line)
//! and they are shown escaped, never raw.

mod escape;
mod render;

use std::io::{IsTerminal, Write};

use serde_json::{Map, Value};
use voiceclone::ErrorKind;

use crate::exit::{Exit, for_error, kind_name};

pub use escape::{SafeStderr, json_safe, shell_word, terminal_safe};
pub use render::{
    RenderJob, forget_status, put_job, put_success, raw_data_fields, rfc3339, time_json,
    try_rfc3339, unix_ms, voice_json,
};

/// A failure to report: its exit code, a `kind` name and the details for `--json`.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The exit code.
    pub exit: Exit,
    /// Snake-case kind (`usage`, `invalid_input`, `task_failed`, ...).
    pub kind: String,
    /// One human sentence (or a few).
    pub message: String,
    /// Extra fields of the `error` object.
    pub details: Map<String, Value>,
}

impl Failure {
    /// Bad usage: nothing was sent (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Usage,
            kind: "usage".into(),
            message: message.into(),
            details: Map::new(),
        }
    }

    /// A local I/O problem with something the user named (exit 2).
    pub fn io(what: &str, err: &std::io::Error) -> Self {
        Self {
            exit: Exit::Usage,
            kind: "io".into(),
            message: format!("{what}: {err}"),
            details: Map::new(),
        }
    }

    /// Anything else, with an explicit exit code.
    pub fn other(exit: Exit, kind: &str, message: impl Into<String>) -> Self {
        Self {
            exit,
            kind: kind.into(),
            message: message.into(),
            details: Map::new(),
        }
    }

    /// A task's failure read from `word`, a status word its vendor does not document (if
    /// any): the task may be alive, so exit 3 (check it), not 1 (which a script may
    /// resubmit), and `assumed_status` names the word.
    #[must_use]
    pub fn assumed_status(self, word: Option<&str>) -> Self {
        match word {
            Some(word) => Self {
                exit: Exit::Unreachable,
                ..self.with("assumed_status", word)
            },
            None => self,
        }
    }

    /// Adds a detail field.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.into(), value.into());
        self
    }

    /// An adapter error, with everything it carries.
    pub fn from_adapter(e: &voiceclone::Error) -> Self {
        let kind = e.kind();
        let mut f = Self {
            exit: for_error(e),
            kind: kind_name(kind).into(),
            message: e.to_string(),
            details: Map::new(),
        };
        if let Some(op) = e.operation() {
            f = f.with("operation", op);
        }
        if let Some(s) = e.http_status() {
            f = f.with("http_status", s);
        }
        if let Some(c) = e.vendor_code() {
            f = f.with("vendor_code", c);
        }
        if let Some(m) = e.message() {
            f = f.with("vendor_message", m);
        }
        if let Some(r) = e.retry_after() {
            f = f.with("retry_after_secs", r.as_secs_f64());
        }
        // The id of the request that failed, to quote to the vendor's support (VMEG).
        if let Some(r) = e.request_id() {
            f = f.with("request_id", r);
        }
        if let Some(step) = e.step() {
            f = f.with("step", step.name());
            if let voiceclone::UploadStep::PutPart(n) = step {
                f = f.with("part", n);
            }
            if !step.after_submit() {
                f = f.with("no_clone_submitted", true);
            }
        }
        if let Some(n) = e.note() {
            f = f.with("note", n);
        }
        // With `submitted_at`, the span a lost submit's task was created in (`reconcile
        // --last-attempt-at`).
        if let Some(t) = e.last_attempt_at() {
            f = f.with("last_attempt_at", rfc3339(t));
        }
        match kind {
            ErrorKind::InvalidInput { field, reason } => f
                .with("field", field.as_str())
                .with("reason", reason.as_str()),
            ErrorKind::TaskFailed { job_id, reason } => {
                let f = f
                    .with("job_id", job_id.to_string())
                    .with("vendor_id", job_id.as_str())
                    .with("reason", reason.as_str());
                f.assumed_status(e.assumed_status())
            }
            ErrorKind::WaitTimedOut {
                job_id,
                last_status,
                polls,
            } => f
                .with("job_id", job_id.to_string())
                .with("vendor_id", job_id.as_str())
                .with("last_status", last_status.as_str())
                .with("polls", *polls),
            ErrorKind::OutcomeUnknown {
                idempotency_key,
                task_id,
                submitted_at,
                request,
            } => {
                let key = idempotency_key.as_deref().map_or(Value::Null, Value::from);
                let task = task_id
                    .as_ref()
                    .map_or(Value::Null, |t| Value::from(t.as_str()));
                let fields: serde_json::Map<String, Value> = request
                    .fields
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect();
                f.with("idempotency_key", key)
                    .with("task_id", task)
                    .with("submitted_at", rfc3339(*submitted_at))
                    .with("submitted_at_unix_ms", unix_ms(*submitted_at))
                    .with(
                        "request",
                        serde_json::json!({
                            "method": request.method,
                            "route": request.route,
                            "fields": fields,
                        }),
                    )
            }
            ErrorKind::Unsupported {
                operation,
                provider,
            } => f
                .with("unsupported_operation", operation.as_str())
                .with("provider", provider.as_str()),
            ErrorKind::Webhook(failure) => f.with("reason", failure.to_string()),
            ErrorKind::Download(failure) => f.with("reason", failure.to_string()),
            _ => f,
        }
    }

    /// The `error` object of `--json`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), self.kind.clone().into());
        m.insert("message".into(), self.message.clone().into());
        for (k, v) in &self.details {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }
}

impl From<voiceclone::Error> for Failure {
    fn from(e: voiceclone::Error) -> Self {
        Failure::from_adapter(&e)
    }
}

/// What a command produced: fields for `--json`, lines for humans, maybe a failure.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Top-level JSON fields.
    pub fields: Map<String, Value>,
    /// Human summary lines (stdout).
    pub lines: Vec<String>,
    /// The failure, when the command did not succeed.
    pub failure: Option<Failure>,
}

impl Outcome {
    /// A failed outcome with no other fields.
    pub fn failed(f: Failure) -> Self {
        Self {
            failure: Some(f),
            ..Self::default()
        }
    }

    /// Sets a JSON field.
    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.fields.insert(key.into(), value.into());
    }

    /// Adds a human line.
    pub fn line(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }

    /// The exit code.
    pub fn exit(&self) -> Exit {
        self.failure.as_ref().map_or(Exit::Success, |f| f.exit)
    }

    /// True when the result names a job or the key that made one, anywhere in it (a long
    /// text's `parts[].job_id`, an error's `job_ids`, an unknown outcome's `task_id`): what a
    /// caller needs to find a (paid) job again. A failure whose outcome is unknown
    /// (`outcome_unknown`, `interrupted`) counts whatever it holds: its submit time is all a
    /// JimmyAI one (no key) may have. A listing's jobs (`tasks`, `voices`, `candidates`) do
    /// not count: listing again finds them, and `tasks | head` is no lost job.
    fn names_a_job(&self) -> bool {
        if self
            .failure
            .as_ref()
            .is_some_and(|f| matches!(f.kind.as_str(), "outcome_unknown" | "interrupted"))
        {
            return true;
        }
        fn names(v: &Value) -> bool {
            match v {
                Value::Object(m) => m.iter().any(|(k, v)| match k.as_str() {
                    // A submit time: a create of unknown outcome that keeps its own kind (a
                    // JimmyAI 503) may carry nothing else.
                    "job_id" | "job_ids" | "idempotency_key" | "task_id" | "submitted_at" => {
                        !v.is_null()
                    }
                    "tasks" | "voices" | "candidates" => false,
                    _ => names(v),
                }),
                Value::Array(items) => items.iter().any(names),
                _ => false,
            }
        }
        names(&self.to_json())
    }

    /// The one JSON object.
    pub fn to_json(&self) -> Value {
        self.to_json_exiting(self.exit().code())
    }

    /// The one JSON object, for a process that ends with `exit_code` rather than the work's
    /// own code: a result written to stderr because stdout did not take it (exit 3, or 130
    /// or 143 when a signal ended the write) says the code the process really exits with.
    /// Everything else stays as the work left it: it is what happened.
    fn to_json_exiting(&self, exit_code: u8) -> Value {
        let mut m = self.fields.clone();
        m.insert("exit_code".into(), exit_code.into());
        if let Some(f) = &self.failure {
            m.insert("error".into(), f.to_json());
        }
        Value::Object(m)
    }
}

/// What a suggested command starts with after `voiceclone`: the provider and the base URL
/// of this run (set once by [`set_suggested_target`]).
static SUGGESTED_TARGET: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The variable this run's key came from (`VMEG_API_KEY`, `JIMMYAI_API_KEY`), when it came
/// from the environment (set once by [`set_suggested_target`]).
static SUGGESTED_KEY_VAR: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// Records this run's provider, base URL and key file for [`suggested_command`] (see
/// [`suggested_target`]); without a key file, the key came from the provider's variable
/// ([`suggested_key_note`]).
pub fn set_suggested_target(
    provider: voiceclone::Provider,
    base_url: Option<&str>,
    key_file: Option<&std::path::Path>,
) {
    let _ = SUGGESTED_TARGET.set(suggested_target(provider, base_url, key_file));
    if key_file.is_none() {
        let _ = SUGGESTED_KEY_VAR.set(provider.api_key_var());
    }
}

/// What follows a suggested command in a sentence when this run's key came from the
/// environment: ` (run it with the same `VMEG_API_KEY` as this run)`; nothing for a key file,
/// which the command names. The command carries no key, so pasted into a shell that holds
/// another account's (`VMEG_API_KEY=$(pass show vmeg-prod) voiceclone ...` where the dev key
/// is exported), a `reconcile` answers `none`, read as "submit again", and a `wait` fails.
pub fn suggested_key_note() -> String {
    SUGGESTED_KEY_VAR
        .get()
        .map(|var| format!(" (run it with the same `{var}` as this run)"))
        .unwrap_or_default()
}

/// What a suggested command says for a key file that is no regular file (a pipe such as
/// `<(pass show vmeg)`, read once; a FIFO): a placeholder to replace, one shell word.
const SAME_KEY_SOURCE: &str = "<the same key source as this run>";

/// What a suggested command starts with: the provider; the base URL without credentials,
/// query or fragment; the key file, when one was given: by the path it resolves to when it
/// is a regular file (`/dev/stdin` redirected from a key file names that file: pasted in a
/// terminal, `/dev/stdin` would read the terminal; a relative path still works from another
/// directory), else [`SAME_KEY_SOURCE`]. Never left out: the command pasted without it
/// would run under whatever key the environment holds, maybe another account's, whose
/// `reconcile` answers `none` (read as "submit again"); with the placeholder as it is, it
/// is refused (no such file, exit 2) with nothing sent.
fn suggested_target(
    provider: voiceclone::Provider,
    base_url: Option<&str>,
    key_file: Option<&std::path::Path>,
) -> String {
    let mut target = format!("--provider {provider}");
    if let Some(url) = base_url {
        let url = client_glue::printable_url(url);
        target.push_str(&format!(" --base-url {}", shell_word(&url)));
    }
    if let Some(given) = key_file {
        let resolved = std::fs::canonicalize(given).ok().filter(|p| p.is_file());
        let shown = match &resolved {
            Some(path) => path.to_string_lossy(),
            None => SAME_KEY_SOURCE.into(),
        };
        target.push_str(&format!(" --api-key-file {}", shell_word(&shown)));
    }
    target
}

/// The line that suggests `command` as the next step, the command last so that the line's
/// end pastes as it is: `next: COMMAND`, or, when this run's key came from the environment,
/// `next (with the same `VMEG_API_KEY` as this run): COMMAND` ([`suggested_key_note`]).
pub fn next_step(command: &str) -> String {
    match SUGGESTED_KEY_VAR.get() {
        Some(var) => format!("next (with the same `{var}` as this run): {command}"),
        None => format!("next: {command}"),
    }
}

/// `voiceclone --provider P [--base-url URL] [--api-key-file PATH] ARGS`: a command to paste
/// that reaches what this run reached (before, `voiceclone wait ID` was refused, exit 2,
/// without `VOICECLONE_PROVIDER`, and went to the vendor's default base URL).
pub fn suggested_command(args: &str) -> String {
    match SUGGESTED_TARGET.get() {
        Some(target) => format!("voiceclone {target} {args}"),
        None => format!("voiceclone {args}"),
    }
}

/// How many diagnostic writes (progress lines, log events) may wait for a stderr that is not
/// being read; more are dropped, and their count said with the next one written.
const DIAGNOSTICS_QUEUE: usize = 1024;

/// How many frames of a progress display may wait for stderr at once; a frame drawn past
/// them takes the newest one's place ([`Diagnostics::frame`]), so that a stopped terminal
/// leaves the queue's room to log lines, and a display's backlog is a moment of it, not 100 s.
const FRAMES_QUEUED: usize = 8;

/// One frame of a progress display as indicatif draws it: what clears the display's previous
/// frame (cursor moves and line clears, as many as that frame had lines), then what draws
/// this one. Kept apart so that a frame may take the place of one never written: the erase of
/// the one replaced, which clears what is on the screen, then the draw of the newer.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Clears the previous frame (nothing for a display's first).
    pub erase: Vec<u8>,
    /// Draws this frame (nothing for the clearing frame of `finish_and_clear`).
    pub draw: Vec<u8>,
}

impl Frame {
    /// True when the frame writes nothing.
    pub fn is_empty(&self) -> bool {
        self.erase.is_empty() && self.draw.is_empty()
    }

    fn into_bytes(self) -> Vec<u8> {
        let mut bytes = self.erase;
        bytes.extend_from_slice(&self.draw);
        bytes
    }
}

/// A frame in the queue: until the writer takes it, a newer frame may take its place.
#[derive(Debug)]
struct QueuedFrame {
    /// The display epoch it was drawn in ([`Shared::epoch`]).
    epoch: u64,
    /// `None` once the writer has taken it.
    frame: std::sync::Mutex<Option<Frame>>,
}

impl QueuedFrame {
    /// `newer` takes this frame's place: this frame's erase (what is on the screen is the
    /// frame before it, which that erase clears) and `newer`'s draw, so that the display's
    /// latest frame is the one written and the line count indicatif keeps (the lines of the
    /// frame it drew last) stays true. `newer` back when the writer has taken this one.
    fn supersede(&self, newer: Frame) -> Result<(), Frame> {
        match lock(&self.frame).as_mut() {
            Some(queued) => {
                queued.draw = newer.draw;
                Ok(())
            }
            None => Err(newer),
        }
    }
}

/// `mutex` locked, a poisoned one as it is: a panic elsewhere must not stop the output.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the diagnostics writer thread is given: bytes to write, or a marker to acknowledge
/// once everything queued before it is written.
enum Diagnostic {
    Write(Vec<u8>),
    /// A progress display's frame ([`QueuedFrame`]).
    Frame(std::sync::Arc<QueuedFrame>),
    Drained(std::sync::mpsc::SyncSender<()>),
}

/// The diagnostics writer: a thread of its own that writes progress lines and log events to
/// stderr, so that a stderr nobody reads (a pipe already full: `2>&1 | stalled-reader`)
/// blocks that thread, never the runtime's only one. Blocked there, the runtime could not act
/// on a SIGINT or SIGTERM (its handlers swallow them): a paid wait then ignored every signal
/// until SIGKILL, its job reported nowhere.
struct Diagnostics {
    tx: std::sync::mpsc::SyncSender<Diagnostic>,
    shared: std::sync::Arc<Shared>,
}

/// What the queue's senders and its writer thread share.
#[derive(Debug, Default)]
struct Shared {
    /// Bytes dropped for want of room since the last write, said with the next one.
    dropped: std::sync::atomic::AtomicU64,
    /// Frames queued and not yet taken by the writer ([`FRAMES_QUEUED`] at most).
    frames: std::sync::atomic::AtomicUsize,
    /// The display epoch: moved on when a settle gives up ([`Diagnostics::settle`]); a frame
    /// of an earlier epoch is dropped by the writer, never written after the result.
    epoch: std::sync::atomic::AtomicU64,
    /// The frames' side of the queue, which [`Diagnostics::frame`] works on under its lock.
    tail: std::sync::Mutex<FrameTail>,
    /// Set when a display may be left drawn where the cursor is (a settle gave up, a frame
    /// was dropped): the result's first line would continue the display's row
    /// ([`display_left_drawn`]).
    left_drawn: std::sync::atomic::AtomicBool,
}

/// The newest frame queued and what a dropped frame left to do.
#[derive(Debug, Default)]
struct FrameTail {
    /// The newest frame queued (maybe taken by the writer since).
    newest: Option<std::sync::Arc<QueuedFrame>>,
    /// The erase of a frame dropped for want of room, in its epoch: the next frame queued
    /// clears with it, since the screen still shows what that erase clears.
    unerased: Option<(u64, Vec<u8>)>,
}

impl Shared {
    /// What the writer thread does with `item`: its bytes written to `out()` (taken only
    /// when there is something to write), a drain marker acknowledged.
    fn handle<W: Write>(&self, item: Diagnostic, out: impl FnOnce() -> W) {
        use std::sync::atomic::Ordering;
        match item {
            Diagnostic::Write(bytes) => self.write(&mut out(), &bytes),
            Diagnostic::Frame(queued) => {
                self.frames.fetch_sub(1, Ordering::AcqRel);
                let frame = lock(&queued.frame).take();
                if let Some(frame) = frame
                    && queued.epoch == self.epoch.load(Ordering::Acquire)
                {
                    self.write(&mut out(), &frame.into_bytes());
                }
            }
            Diagnostic::Drained(done) => {
                let _ = done.send(());
            }
        }
    }

    fn write(&self, out: &mut impl Write, bytes: &[u8]) {
        let lost = self.dropped.swap(0, std::sync::atomic::Ordering::Relaxed);
        if lost > 0 {
            let _ = writeln!(
                out,
                "({lost} diagnostic lines dropped: stderr was not being read)"
            );
        }
        let _ = out.write_all(bytes);
        let _ = out.flush();
    }
}

/// The writer, started by the first diagnostic; `None` when its thread could not start (the
/// writes are then made in place, as before).
static DIAGNOSTICS: std::sync::OnceLock<Option<Diagnostics>> = std::sync::OnceLock::new();

fn diagnostics() -> Option<&'static Diagnostics> {
    DIAGNOSTICS
        .get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Diagnostic>(DIAGNOSTICS_QUEUE);
            let shared = std::sync::Arc::new(Shared::default());
            let writer = shared.clone();
            std::thread::Builder::new()
                .name("stderr".into())
                .spawn(move || {
                    for item in rx {
                        writer.handle(item, || std::io::stderr().lock());
                    }
                })
                .ok()
                .map(|_| Diagnostics { tx, shared })
        })
        .as_ref()
}

/// Writes `bytes` to stderr from the diagnostics thread ([`Diagnostics`]), without waiting;
/// dropped (and counted) when too many wait already. In place when that thread could not
/// start.
pub fn diagnostic(bytes: Vec<u8>) {
    match diagnostics() {
        Some(d) => diagnostic_to(d, bytes),
        None => {
            let _ = std::io::stderr().lock().write_all(&bytes);
        }
    }
}

/// Queues one frame of a progress display (the spinner, an upload or parts bar) for stderr
/// as [`diagnostic`] does, without waiting. A frame that finds [`FRAMES_QUEUED`] frames
/// waiting, or the queue full, takes the newest one's place: the latest frame, a display's
/// last (its clear) too, is the one written. In place when the diagnostics thread could not
/// start.
pub fn progress_frame(frame: Frame) {
    PROGRESS_SHOWN.store(true, std::sync::atomic::Ordering::Release);
    match diagnostics() {
        Some(d) => d.frame(frame),
        None => {
            let _ = std::io::stderr().lock().write_all(&frame.into_bytes());
        }
    }
}

/// Whether a progress display may be left drawn where the cursor is, since this was last
/// asked: a settle gave up (the frame being written when it did is not the display's clear)
/// or a frame was dropped (its display's clear, maybe). Answered once.
fn display_left_drawn() -> bool {
    DIAGNOSTICS
        .get()
        .and_then(Option::as_ref)
        .is_some_and(|d| d.shared.take_left_drawn())
}

/// Set once a progress display queued a frame ([`progress_frame`]).
static PROGRESS_SHOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Once a progress display was shown: waits, 1 s at most, until its frames queued so far
/// are written, so that a line written on stdout next (on the same terminal, as a rule)
/// comes after the display's last frame, which clears it, rather than being cleared by it.
/// Those still queued after that are dropped ([`Diagnostics::settle`]). Nothing without a
/// display, so a stderr nobody reads holds nothing up here.
pub fn settle_progress() {
    if PROGRESS_SHOWN.load(std::sync::atomic::Ordering::Acquire)
        && let Some(d) = DIAGNOSTICS.get().and_then(Option::as_ref)
    {
        d.settle(ORDER_PATIENCE);
    }
}

/// [`diagnostic`] on the writer `d`.
fn diagnostic_to(d: &Diagnostics, bytes: Vec<u8>) {
    d.send(Diagnostic::Write(bytes), std::time::Duration::ZERO);
}

/// Queues `bytes` for the diagnostics thread as [`diagnostic`] does, but waits, `patience` at
/// most, for room in a full queue rather than dropping them: for the one line that must not
/// be lost to a burst of log events (the result's error line). Written in place when that
/// thread could not start.
fn diagnostic_within(bytes: Vec<u8>, patience: std::time::Duration) {
    match diagnostics() {
        Some(d) => send_within(d, bytes, patience),
        None => {
            let _ = std::io::stderr().lock().write_all(&bytes);
        }
    }
}

/// [`diagnostic_within`] on the writer `d`.
fn send_within(d: &Diagnostics, bytes: Vec<u8>, patience: std::time::Duration) {
    d.send(Diagnostic::Write(bytes), patience);
}

impl Shared {
    /// [`display_left_drawn`] for this writer.
    fn take_left_drawn(&self) -> bool {
        self.left_drawn
            .swap(false, std::sync::atomic::Ordering::AcqRel)
    }
}

impl Diagnostics {
    /// [`progress_frame`] on this writer, never waiting: queued, unless [`FRAMES_QUEUED`]
    /// frames wait already or the queue is full; then it takes the place of the newest frame
    /// queued ([`QueuedFrame::supersede`]), so the frames held stay [`FRAMES_QUEUED`] (one
    /// more past each settle given up, its frames stale). Before, such a frame was dropped:
    /// the display's clear among them, and the result was printed on the spinner's row; one
    /// of another height, and indicatif's next clear moved up by the wrong count of lines.
    /// Dropped only with no frame of its display waiting and the queue full of log lines:
    /// the next frame then clears with its erase.
    fn frame(&self, frame: Frame) {
        use std::sync::atomic::Ordering;
        let epoch = self.shared.epoch.load(Ordering::Acquire);
        let mut tail = lock(&self.shared.tail);
        let mut frame = frame;
        // A dropped frame's erase this one carries (review 33 pass 2 #5): once it is queued,
        // what the drop left drawn is cleared again, and the result needs no row of its own.
        let mut carries_erase = false;
        if let Some((dropped_in, erase)) = tail.unerased.take()
            && dropped_in == epoch
        {
            frame.erase = erase;
            carries_erase = true;
        }
        let cleared = || {
            if carries_erase {
                self.shared.left_drawn.store(false, Ordering::Release);
            }
        };
        // A stale newest frame (an earlier epoch) is never written: this one is queued.
        let newest = tail.newest.clone().filter(|q| q.epoch == epoch);
        if let Some(newest) = &newest
            && self.shared.frames.load(Ordering::Acquire) >= FRAMES_QUEUED
        {
            match newest.supersede(frame) {
                Ok(()) => return cleared(),
                Err(again) => frame = again,
            }
        }
        let queued = std::sync::Arc::new(QueuedFrame {
            epoch,
            frame: std::sync::Mutex::new(Some(frame)),
        });
        self.shared.frames.fetch_add(1, Ordering::AcqRel);
        if self.tx.try_send(Diagnostic::Frame(queued.clone())).is_ok() {
            tail.newest = Some(queued);
            return cleared();
        }
        self.shared.frames.fetch_sub(1, Ordering::AcqRel);
        let Some(mut frame) = lock(&queued.frame).take() else {
            return;
        };
        if let Some(newest) = &newest {
            match newest.supersede(frame) {
                Ok(()) => return cleared(),
                Err(again) => frame = again,
            }
        }
        tail.unerased = Some((epoch, frame.erase));
        self.shared.left_drawn.store(true, Ordering::Release);
    }

    /// [`settle_progress`] on this writer: when the frames queued so far are not written
    /// within `patience`, they never are (the writer drops them): the result written next
    /// must not be followed by a frame, whose cursor moves and clears would wipe it. The
    /// frame being written then is not the display's clear, so the result starts on a row
    /// of its own ([`display_left_drawn`]).
    fn settle(&self, patience: std::time::Duration) {
        use std::sync::atomic::Ordering;
        if !self.drain(patience) {
            self.shared.epoch.fetch_add(1, Ordering::AcqRel);
            self.shared.left_drawn.store(true, Ordering::Release);
        }
    }

    /// [`drain_diagnostics`] on this writer: whether everything queued before was written
    /// within `patience`.
    fn drain(&self, patience: std::time::Duration) -> bool {
        let (done, drained) = std::sync::mpsc::sync_channel(1);
        let deadline = std::time::Instant::now() + patience;
        // The queue may be full: the marker waits for room until the deadline.
        self.send(Diagnostic::Drained(done), patience)
            && drained
                .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
                .is_ok()
    }

    /// Queues `item`, waiting `patience` at most for room in a full queue; whether it was
    /// queued. Bytes that find no room are dropped and counted; bytes whose writer thread has
    /// gone are written in place.
    fn send(&self, item: Diagnostic, patience: std::time::Duration) -> bool {
        use std::sync::mpsc::TrySendError;
        let deadline = std::time::Instant::now() + patience;
        let mut item = item;
        loop {
            match self.tx.try_send(item) {
                Ok(()) => return true,
                Err(TrySendError::Full(again)) if std::time::Instant::now() < deadline => {
                    item = again;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(TrySendError::Full(Diagnostic::Write(_))) => {
                    self.shared
                        .dropped
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return false;
                }
                Err(TrySendError::Disconnected(Diagnostic::Write(bytes))) => {
                    let _ = std::io::stderr().lock().write_all(&bytes);
                    return false;
                }
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => return false,
            }
        }
    }
}

/// Waits, `patience` at most, until every diagnostic queued so far is written: before a line
/// written in place (so the order holds), and before the process ends (so none is lost to a
/// stderr that is only slow).
pub fn drain_diagnostics(patience: std::time::Duration) {
    if let Some(d) = DIAGNOSTICS.get().and_then(Option::as_ref) {
        d.drain(patience);
    }
}

/// How long the result's error line may wait for stderr when no signal came: a stderr that is
/// only slow still gets it.
const RESULT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// How long a line written in place waits for the diagnostics queued before it.
const ORDER_PATIENCE: std::time::Duration = std::time::Duration::from_secs(1);

/// How long the result's error line may wait for stderr once a signal came: without `--json`
/// it is the only place an interrupted submit's key, times and lookup are printed, so a
/// stderr read slowly gets it; one nobody reads holds the command this long at most.
const SIGNALLED_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// Writes `line` and a newline to stderr, ignoring a failed write: `eprintln!` panics when
/// stderr is a pipe nobody reads any more, and a diagnostic must never end a command that
/// holds a paid job. Queued behind the diagnostics queued before it, so it comes after them,
/// and never written in place: a stderr nobody reads (a full pipe, a terminal stopped by
/// Ctrl-S) blocked that write on the runtime's only thread, after a paid wait, with SIGINT
/// and SIGTERM swallowed. It waits 1 s at most for room in a full queue, then is dropped
/// and counted as a log event is.
pub fn stderr_line(line: &str) {
    diagnostic_within(format!("{line}\n").into_bytes(), ORDER_PATIENCE);
}

/// Writes `text` to stderr in place, after the diagnostics queued before it (1 s at most):
/// for the result itself, once it could not go to stdout (the second-signal listener is
/// armed by then, so a stderr nobody reads holds no signal up), whose text is never dropped.
fn stderr_in_place(text: &str) {
    drain_diagnostics(ORDER_PATIENCE);
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// The secrets to redact and how: each exact form (as it is, as it reads inside a JSON
/// string) and, for random text, a scrubber of its pieces.
#[derive(Debug, Clone, Default)]
struct Secrets {
    exact: Vec<String>,
    /// One per secret: any run of 8 or more of its characters, in any case, as the library
    /// scrubs the API key out of server strings (a server may echo a secret cut or
    /// upper-cased, and the webhook secret is not the library's to scrub).
    scrubbers: Vec<voiceclone::scrub::Scrubber>,
    /// Which of `scrubbers` belong to a secret of 8 characters or more: only those are looked
    /// for in what a user asks to send (a shorter one is found in ordinary words).
    long: Vec<bool>,
}

impl Secrets {
    const fn new() -> Self {
        Self {
            exact: Vec::new(),
            scrubbers: Vec::new(),
            long: Vec::new(),
        }
    }

    fn add(&mut self, secret: &str, pieces: bool) {
        let s = secret.trim();
        if s.len() < 4 {
            return;
        }
        let escaped = serde_json::to_string(s)
            .ok()
            .and_then(|q| q.get(1..q.len().saturating_sub(1)).map(str::to_owned));
        for form in std::iter::once(s.to_owned()).chain(escaped) {
            if !self.exact.contains(&form) {
                if pieces {
                    self.scrubbers.push(voiceclone::scrub::Scrubber::new(&form));
                    self.long.push(form.chars().count() >= 8);
                }
                self.exact.push(form);
            }
        }
    }

    fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in &self.exact {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "[redacted]");
            }
        }
        for s in &self.scrubbers {
            if let std::borrow::Cow::Owned(scrubbed) = s.scrub(&out) {
                out = scrubbed;
            }
        }
        out
    }
}

/// Every secret any printer was given, for the log lines, which no printer writes
/// ([`SafeStderr`]): the library scrubs its own client's key from what it logs, but not
/// the other provider's key, the environment's key beside `--api-key-file`, nor the
/// webhook secret, all of which a server may echo into a logged value (a status word).
static LOG_SECRETS: std::sync::RwLock<Secrets> = std::sync::RwLock::new(Secrets::new());

/// `text` with every secret registered with any printer replaced by `[redacted]`: what a
/// log line is redacted with.
fn redact_logged(text: &str) -> String {
    LOG_SECRETS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .redact(text)
}

/// True when the redaction of any printer's secrets would change `text`: a key the command
/// makes itself must not be, or it is printed other than as it was sent ([`crate::own_key`]).
pub fn holds_secret(text: &str) -> bool {
    redact_logged(text) != text
}

/// True when `text`, something a user asks to send, holds a piece of a secret of 8 characters
/// or more this run was given (an API key, the webhook secret, a Redis password): as the
/// library refuses a request holding the API key, and not for a shorter secret, which
/// ordinary words hold.
pub fn holds_a_long_secret(text: &str) -> bool {
    let s = LOG_SECRETS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    s.scrubbers
        .iter()
        .zip(&s.long)
        .any(|(scrubber, long)| *long && scrubber.finds_secret_in(text))
}

/// Prints outcomes and diagnostics, removing secrets.
#[derive(Debug, Clone, Default)]
pub struct Printer {
    /// `--json`
    pub json: bool,
    /// `--quiet`
    pub quiet: bool,
    secrets: Secrets,
}

impl Printer {
    /// A printer for these flags.
    pub fn new(json: bool, quiet: bool) -> Self {
        Self {
            json,
            quiet,
            secrets: Secrets::new(),
        }
    }

    /// Never print `secret` (kept only when long enough to be a real secret), as it is or
    /// as it reads inside a JSON string: `--json` output is redacted after it is serialized,
    /// where a key holding `"` or `\` appears escaped. Nor log it: the log lines on stderr
    /// are redacted with every printer's secrets.
    pub fn add_secret(&mut self, secret: &str) {
        self.add(secret, true);
    }

    /// [`Printer::add_secret`] for a secret that is not random text (a Redis URL): only its
    /// exact forms are redacted, not its pieces, which ordinary text shares (`://127.0`,
    /// `.amazonaws.com`) and which would cut up every URL printed. Register the random part
    /// in it (the password) with [`Printer::add_secret`].
    pub fn add_secret_exact(&mut self, secret: &str) {
        self.add(secret, false);
    }

    fn add(&mut self, secret: &str, pieces: bool) {
        self.secrets.add(secret, pieces);
        LOG_SECRETS
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .add(secret, pieces);
    }

    /// `text` with every secret replaced by `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        self.secrets.redact(text)
    }

    /// `value` with every secret removed from its strings and object keys ([`Printer::redact`]
    /// on each), and a number that is a secret (it becomes the redacted string); booleans,
    /// nulls and other numbers as they are. What `--json` prints is this,
    /// serialized: redacting the serialized text instead cut through the JSON syntax (a key
    /// `1234` turned `"bytes":512345` into `"bytes":5[redacted]5`, a key `null` broke every
    /// `null`), and the output no longer parsed.
    pub fn redact_json(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.redact(s)),
            // A number that is a secret (a numeric key) becomes the redacted string; one that
            // merely holds a short secret's digits (a byte count) stays a number.
            Value::Number(n) => {
                let digits = n.to_string();
                let redacted = self.redact(&digits);
                if redacted != digits && !redacted.chars().any(|c| c.is_ascii_digit()) {
                    Value::String(redacted)
                } else {
                    value.clone()
                }
            }
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.redact_json(v)).collect())
            }
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (self.redact(k), self.redact_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// `value` as one line of `--json` output (no newline): secrets removed from its strings
    /// ([`Printer::redact_json`]), then serialized, characters serde_json leaves raw escaped
    /// ([`json_safe`]).
    pub fn json_line(&self, value: &Value) -> String {
        let text = serde_json::to_string(&self.redact_json(value)).unwrap_or_else(|_| "{}".into());
        json_safe(&text).into_owned()
    }

    /// `line` as it may be printed on a terminal: secrets removed, control characters
    /// escaped (the line's own newline is added by the caller).
    pub fn safe(&self, line: &str) -> String {
        terminal_safe(&self.redact(line)).into_owned()
    }

    /// A progress line on stderr (not with `--json` or `--quiet`), from the diagnostics
    /// thread ([`diagnostic`]): a stderr nobody reads must not block the runtime.
    pub fn progress(&self, line: &str) {
        if !self.json && !self.quiet {
            diagnostic(format!("{}\n", self.safe(line)).into_bytes());
        }
    }

    /// A line on stdout for humans (not with `--json`).
    pub fn human(&self, line: &str) {
        if !self.json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", self.safe(line));
            let _ = out.flush();
        }
    }

    /// Prints the outcome and returns its exit code.
    ///
    /// A result that cannot be written to stdout (a full disk, a closed pipe) is not lost in
    /// silence: it goes to stderr, and when it names a job (a paid one, say) the exit code
    /// is 3 ("an answer that may be lost"), so a script does not read the missing output
    /// as success and pay again. A closed pipe after a result naming no job (`voices |
    /// head -1`) keeps the command's own exit code.
    ///
    /// A signal while the result is being written ends the process (exit 130 or 143), the
    /// result, when it names a job, on stderr if stdout did not take it, its `exit_code`
    /// the 130 or 143 ([`crate::signals::writing_result`]).
    pub fn finish(&self, outcome: &Outcome) -> Exit {
        let text = self.stdout_text(outcome);
        let error_line = outcome.failure.as_ref().map(|f| self.error_line(f));
        crate::signals::writing_result(self.pending(outcome));
        settle_progress();
        let text = self.own_row(text, display_left_drawn(), std::io::stdout().is_terminal());
        let written = {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush())
        };
        if let Some(line) = &error_line {
            // Behind the diagnostics, from their thread: a stderr nobody reads holds this
            // command 5 s at most once a signal came (without `--json` this line is all an
            // interrupted submit prints of its key and times: a slow stderr must get it),
            // else until a signal comes (the listener armed above then ends the process).
            let patience = if crate::signals::signal_seen() {
                SIGNALLED_PATIENCE
            } else {
                RESULT_PATIENCE
            };
            // Never dropped for a queue full of log events: it waits for room as for the rest.
            let started = std::time::Instant::now();
            diagnostic_within(format!("{line}\n").into_bytes(), patience);
            drain_diagnostics(patience.saturating_sub(started.elapsed()));
        }
        let exit = match written {
            Ok(()) => outcome.exit(),
            Err(e) => self.unwritten(outcome, &e),
        };
        // A second signal waits for this (it would otherwise cut the result naming the job).
        crate::signals::result_written();
        exit
    }

    /// `outcome`, when it names a job, as a second signal writes it to stderr if it ends the
    /// process before the result is written, with the code it ends with (130 or 143).
    fn pending(&self, outcome: &Outcome) -> Option<crate::signals::PendingResult> {
        outcome.names_a_job().then(|| {
            let error_line = outcome.failure.as_ref().map(|f| self.error_line(f));
            let (printer, outcome) = (self.clone(), outcome.clone());
            let pending: crate::signals::PendingResult = Box::new(move |code| {
                let text = printer.stdout_text_exiting(&outcome, code);
                match &error_line {
                    Some(line) => format!("{text}{line}\n"),
                    None => text,
                }
            });
            pending
        })
    }

    /// `outcome` is the command's result, but some cleanup comes before [`Printer::finish`]
    /// writes it (a webhook receiver's stop): a second signal meanwhile writes it to stderr
    /// before ending the process, rather than end it with the job printed nowhere
    /// ([`crate::signals::result_pending`]).
    pub fn hold(&self, outcome: &Outcome) {
        crate::signals::result_pending(self.pending(outcome));
    }

    /// The failure's line on stderr: with `--json`, its kind and first sentence.
    fn error_line(&self, f: &Failure) -> String {
        if self.json {
            // Redacted whole, then cut: a secret straddling the cut is never half printed.
            let message = self.safe(&f.message);
            format!(
                "error ({}): {}",
                self.safe(&f.kind),
                first_sentence(&message)
            )
        } else {
            format!("error: {}", self.safe(&f.message))
        }
    }

    /// What [`Printer::finish`] writes on stdout: the JSON object, or the human lines.
    fn stdout_text(&self, outcome: &Outcome) -> String {
        self.stdout_text_exiting(outcome, outcome.exit().code())
    }

    /// [`Printer::stdout_text`] for a process that exits with `exit_code` (the JSON object's
    /// `exit_code`; the human lines name no code).
    fn stdout_text_exiting(&self, outcome: &Outcome, exit_code: u8) -> String {
        if self.json {
            format!("{}\n", self.json_line(&outcome.to_json_exiting(exit_code)))
        } else {
            outcome
                .lines
                .iter()
                .map(|l| format!("{}\n", self.safe(l)))
                .collect()
        }
    }

    /// `text`, the human result, started on a row of its own (a newline first) when a
    /// progress display may be left drawn where the cursor is and stdout is a terminal
    /// (that one, as a rule): else its first line continued the display's row, the job id
    /// to copy after the spinner's text. Neither `--json` (no display is shown with it) nor
    /// a stdout that is no terminal gets the newline.
    fn own_row(&self, text: String, display_left_drawn: bool, stdout_is_terminal: bool) -> String {
        // Nothing to print (a failure, told on stderr): no lone newline on stdout.
        if display_left_drawn && stdout_is_terminal && !self.json && !text.is_empty() {
            format!("\n{text}")
        } else {
            text
        }
    }

    /// The outcome could not be written to stdout: it goes to stderr instead (see
    /// [`Printer::finish`]), with the exit code the process exits with (a `--json` result
    /// that said `"exit_code":0` on stderr while the process exited 3 was misread as
    /// success by whoever parsed it).
    fn unwritten(&self, outcome: &Outcome, e: &std::io::Error) -> Exit {
        let names_job = outcome.names_a_job();
        if e.kind() == std::io::ErrorKind::BrokenPipe && !names_job {
            return outcome.exit();
        }
        let why = if names_job {
            "; it names a job, here on stderr: keep its id to find the job again"
        } else {
            "; here it is on stderr"
        };
        let floor = if names_job {
            Exit::Unreachable
        } else {
            Exit::Failure
        };
        let exit = outcome.exit().max(floor);
        let line = self.safe(&format!(
            "error (stdout): the result could not be written to stdout ({e}){why}"
        ));
        let text = self.stdout_text_exiting(outcome, exit.code());
        stderr_in_place(&format!("{line}\n{text}"));
        exit
    }
}

fn first_sentence(s: &str) -> &str {
    let cut = s.find("; ").unwrap_or(s.len()).min(200);
    s.get(..cut).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    /// A frame that clears with `erase` and draws `draw`.
    fn frame(erase: &str, draw: &str) -> Frame {
        Frame {
            erase: erase.into(),
            draw: draw.into(),
        }
    }

    /// A key file given as `/dev/stdin` (or `/proc/self/fd/N`) redirected from a file is
    /// suggested by the file's own path; a relative path by its absolute one.
    #[cfg(unix)]
    #[test]
    fn a_suggested_key_file_is_the_file_it_resolves_to() {
        use std::os::fd::AsRawFd;
        let dir = std::env::temp_dir().join(format!("vc-keyfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("key");
        std::fs::write(&key, "k").unwrap();
        let real = std::fs::canonicalize(&key).unwrap();
        let open = std::fs::File::open(&key).unwrap();
        let via_fd = std::path::PathBuf::from(format!("/proc/self/fd/{}", open.as_raw_fd()));
        for given in [key.clone(), via_fd] {
            let t = suggested_target(voiceclone::Provider::Vmeg, None, Some(&given));
            assert_eq!(
                t,
                format!(
                    "--provider vmeg --api-key-file {}",
                    shell_word(&real.to_string_lossy())
                ),
                "{given:?}"
            );
        }
        // Not a regular file (a directory here; a pipe alike): a placeholder, never left out
        // (the environment's key would take its place).
        let t = suggested_target(voiceclone::Provider::Vmeg, None, Some(&dir));
        assert_eq!(
            t,
            "--provider vmeg --api-key-file '<the same key source as this run>'"
        );
        assert_eq!(
            suggested_target(voiceclone::Provider::Vmeg, None, None),
            "--provider vmeg"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The result's error line behind a queue full of log events (a stderr read slowly while
    /// `RUST_LOG=trace` floods it) waits for room; a log event there is dropped and counted.
    #[test]
    fn the_error_line_waits_for_room_where_a_log_event_is_dropped() {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let d = Diagnostics {
            tx,
            shared: Default::default(),
        };
        d.tx.try_send(Diagnostic::Write(b"event\n".to_vec()))
            .unwrap();
        diagnostic_to(&d, b"another event\n".to_vec());
        assert_eq!(
            d.shared.dropped.load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        std::thread::scope(|scope| {
            let sent =
                scope.spawn(|| send_within(&d, b"error\n".to_vec(), Duration::from_secs(30)));
            std::thread::sleep(Duration::from_millis(50));
            // The reader gets to the queue: the first event, then the error line.
            let mut read = Vec::new();
            for _ in 0..2 {
                if let Ok(Diagnostic::Write(b)) = rx.recv_timeout(Duration::from_secs(30)) {
                    read.push(String::from_utf8(b).unwrap());
                }
            }
            sent.join().unwrap();
            assert_eq!(read, ["event\n", "error\n"]);
        });
        assert_eq!(
            d.shared.dropped.load(std::sync::atomic::Ordering::Relaxed),
            1
        );
    }

    /// Review 32-b pass 2 F1: frames of a progress display still queued when the wait for
    /// them gives up (a terminal stopped as the wait ends) are dropped, never written after
    /// the result that goes to stdout next: each one moves the cursor up and clears, which
    /// from below the result wiped its last line. Log lines queued among them are kept, and a
    /// later display's frames are written.
    #[test]
    fn frames_still_queued_when_the_settle_gives_up_are_never_written() {
        let (tx, rx) = std::sync::mpsc::sync_channel(DIAGNOSTICS_QUEUE);
        let d = Diagnostics {
            tx,
            shared: Default::default(),
        };
        d.frame(frame("", "spinner"));
        diagnostic_to(&d, b"log line\n".to_vec());
        d.frame(frame("\r\x1b[2K", ""));
        // Nothing is written meanwhile (the terminal stopped): the settle gives up.
        d.settle(Duration::from_millis(50));
        d.frame(frame("", "a later display"));
        let mut written = Vec::new();
        for item in rx.try_iter() {
            d.shared.handle(item, || &mut written);
        }
        assert_eq!(
            String::from_utf8(written).unwrap(),
            "log line\na later display"
        );
    }

    /// Review 32-b pass 2 F1: a stopped terminal lets only a few frames wait (a ticker queues
    /// one every 100 ms whatever the terminal takes); a log line behind them still has room.
    #[test]
    fn only_a_few_frames_wait_and_log_lines_keep_their_room() {
        let (tx, rx) = std::sync::mpsc::sync_channel(DIAGNOSTICS_QUEUE);
        let d = Diagnostics {
            tx,
            shared: Default::default(),
        };
        for k in 0..DIAGNOSTICS_QUEUE {
            d.frame(frame("", &format!("frame {k}")));
        }
        diagnostic_to(&d, b"log line\n".to_vec());
        assert_eq!(
            d.shared.dropped.load(std::sync::atomic::Ordering::Relaxed),
            0
        );
        let mut written = Vec::new();
        let items: Vec<_> = rx.try_iter().collect();
        assert_eq!(items.len(), FRAMES_QUEUED + 1);
        for item in items {
            d.shared.handle(item, || &mut written);
        }
        let written = String::from_utf8(written).unwrap();
        assert!(
            written.starts_with("frame 0") && written.ends_with("frame 1023log line\n"),
            "{written}"
        );
        // Written, the frames make room for as many again.
        for k in 0..DIAGNOSTICS_QUEUE {
            d.frame(frame("", &format!("frame {k}")));
        }
        assert_eq!(rx.try_iter().count(), FRAMES_QUEUED);
    }

    /// Review 32 pass 3 #1: a display's clearing frame that finds the frame queue full (a
    /// terminal stopped for 0.8 s as the wait ends) is the frame written last, never dropped:
    /// dropped, the spinner stayed drawn and the result was printed on its row. It clears
    /// what is on the screen: it takes the 8th frame's place, so it clears with that one's
    /// erase (the 7 lines of the 7th, the last written), not its own (the 23 lines of a
    /// frame never written), and the line count indicatif keeps holds.
    #[test]
    fn a_clearing_frame_behind_a_full_frame_queue_is_written_last() {
        let (tx, rx) = std::sync::mpsc::sync_channel(DIAGNOSTICS_QUEUE);
        let d = Diagnostics {
            tx,
            shared: Default::default(),
        };
        // Frame k erases the k-1 lines of frame k-1 ("E{k-1}") and draws k lines.
        let mut expected = String::new();
        for k in 1..3 * FRAMES_QUEUED {
            let f = frame(&format!("E{}|", k - 1), &format!("{k} lines|"));
            if k < FRAMES_QUEUED {
                expected.push_str(&format!("E{}|{k} lines|", k - 1));
            }
            d.frame(f);
        }
        d.frame(frame(&format!("E{}|", 3 * FRAMES_QUEUED - 1), ""));
        expected.push_str(&format!("E{}|", FRAMES_QUEUED - 1));
        let mut written = Vec::new();
        for item in rx.try_iter() {
            d.shared.handle(item, || &mut written);
        }
        assert_eq!(String::from_utf8(written).unwrap(), expected);
        assert!(!d.shared.take_left_drawn());
    }

    /// Review 32 pass 3 #1: a frame that finds the queue full of log lines and no frame of
    /// its display waiting is dropped, and the next frame queued clears with its erase (the
    /// screen still shows what that erase clears); the result is then started on a row of
    /// its own, as after a settle that gave up.
    #[test]
    fn a_frame_dropped_for_want_of_room_leaves_its_erase_to_the_next() {
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        let d = Diagnostics {
            tx,
            shared: Default::default(),
        };
        let mut written = Vec::new();
        d.frame(frame("", "A"));
        diagnostic_to(&d, b"log 1\n".to_vec());
        d.shared.handle(rx.try_recv().unwrap(), || &mut written);
        diagnostic_to(&d, b"log 2\n".to_vec());
        d.frame(frame("E(A)", "B"));
        assert!(d.shared.take_left_drawn());
        for item in rx.try_iter() {
            d.shared.handle(item, || &mut written);
        }
        // Dropped again, and left drawn again; the next frame queued carries the drop's
        // erase, so nothing is left drawn (review 33 pass 2 #5: the result started with a
        // blank line).
        d.shared
            .left_drawn
            .store(true, std::sync::atomic::Ordering::Release);
        d.frame(frame("E(B)", "C"));
        assert!(!d.shared.take_left_drawn());
        for item in rx.try_iter() {
            d.shared.handle(item, || &mut written);
        }
        assert_eq!(String::from_utf8(written).unwrap(), "Alog 1\nlog 2\nE(A)C");
    }

    /// Review 32 pass 3 #1: once a settle gave up (the frame the writer is in, not the
    /// display's clear, completes before the result) the human result starts with a newline
    /// on a terminal, so that its first line (the job id to copy) never continues the
    /// spinner's row; said once. Not on a pipe, not with `--json`, not after a clean settle.
    #[test]
    fn a_result_after_a_display_left_drawn_starts_on_a_row_of_its_own() {
        let (tx, rx) = std::sync::mpsc::sync_channel(DIAGNOSTICS_QUEUE);
        let d = Diagnostics {
            tx,
            shared: Default::default(),
        };
        d.frame(frame("", "spinner"));
        d.frame(frame("\r\x1b[2K", ""));
        // Written meanwhile (the two frames, then the settle's marker): the settle ends clean.
        let (written, _reader) = std::thread::scope(|scope| {
            let writer = scope.spawn(|| {
                let mut written = Vec::new();
                for item in rx.iter().take(3) {
                    d.shared.handle(item, || &mut written);
                }
                (written, rx)
            });
            d.settle(Duration::from_secs(30));
            writer.join().unwrap()
        });
        assert_eq!(written, b"spinner\r\x1b[2K");
        assert!(!d.shared.take_left_drawn());
        // The terminal stops: the settle gives up.
        d.frame(frame("", "spinner"));
        d.settle(Duration::from_millis(50));
        assert!(d.shared.take_left_drawn());
        assert!(!d.shared.take_left_drawn());

        let human = Printer::new(false, false);
        let text = "submitted job vmeg:clone:t1\n".to_owned();
        assert_eq!(human.own_row(text.clone(), true, true), format!("\n{text}"));
        assert_eq!(human.own_row(text.clone(), true, false), text);
        assert_eq!(human.own_row(text.clone(), false, true), text);
        assert_eq!(human.own_row(String::new(), true, true), "");
        let json = Printer::new(true, false);
        assert_eq!(json.own_row("{}\n".into(), true, true), "{}\n");
    }

    #[test]
    fn a_secret_across_the_cut_of_the_json_error_line_is_redacted_whole() {
        let key = "sk-straddles-the-cut-0123456789";
        let mut p = Printer::new(true, false);
        p.add_secret(key);
        for pad in 180..200 {
            let f = Failure::other(
                Exit::Failure,
                "vendor",
                format!("{} {key} rejected", "x".repeat(pad)),
            );
            let line = p.error_line(&f);
            for piece in key.as_bytes().windows(8) {
                let piece = std::str::from_utf8(piece).unwrap();
                assert!(!line.contains(piece), "{pad}: {line}");
            }
        }
    }

    /// A long text's job ids sit in `parts[]` or in the error's `job_ids`: a result holding
    /// them names jobs, as one with a top-level `job_id` does.
    #[test]
    fn a_result_names_a_job_wherever_its_id_is() {
        let mut o = Outcome::default();
        assert!(!o.names_a_job());
        o.set(
            "parts",
            serde_json::json!([{"part": 1, "job_id": "vmeg:speech:t1"}]),
        );
        assert!(o.names_a_job());
        let f = Failure::other(Exit::Unreachable, "io", "the manifest could not be written")
            .with("job_ids", vec!["vmeg:speech:t1".to_owned()]);
        assert!(Outcome::failed(f).names_a_job());
        let mut o = Outcome::default();
        o.set("job_id", Value::Null);
        o.set("voices", serde_json::json!([{"id": "cv_1"}]));
        o.set("tasks", serde_json::json!([{"job_id": "vmeg:clone:t1"}]));
        assert!(!o.names_a_job());
    }

    /// A JimmyAI unknown outcome has no key: its `task_id` (maybe the only handle on the
    /// paid task), or the unknown outcome itself, names a job. Before, only `job_id`,
    /// `job_ids` and `idempotency_key` counted, and a closed stdout dropped it in silence.
    #[test]
    fn an_unknown_outcome_names_a_job_by_its_task_id_or_by_being_unknown() {
        for (kind, task) in [("outcome_unknown", Some("a-1")), ("outcome_unknown", None)] {
            let e = voiceclone::Error::new(ErrorKind::OutcomeUnknown {
                idempotency_key: None,
                task_id: task.map(voiceclone::JobId::new),
                submitted_at: UNIX_EPOCH + Duration::from_secs(1),
                request: voiceclone::RequestSummary::default(),
            });
            let f = Failure::from_adapter(&e);
            assert_eq!(f.kind, kind);
            assert!(Outcome::failed(f).names_a_job(), "{task:?}");
        }
        let f = Failure::other(Exit::Unreachable, "interrupted", "stopped");
        assert!(Outcome::failed(f).names_a_job());
        let f = Failure::other(Exit::Failure, "vendor", "no").with("task_id", "a-2");
        assert!(Outcome::failed(f).names_a_job());
        let f = Failure::other(Exit::Failure, "vendor", "no").with("task_id", Value::Null);
        assert!(!Outcome::failed(f).names_a_job());
    }

    /// A Redis URL is redacted whole, never in pieces: `redis://127.0.0.1:6379/0` shares
    /// `://127.0` with every loopback URL an event line carries.
    #[test]
    fn a_secret_registered_exactly_leaves_text_sharing_its_pieces_alone() {
        let mut p = Printer::new(true, false);
        p.add_secret_exact("redis://127.0.0.1:6379/0");
        p.add_secret("pw0rd-9f8e7d6c");
        let uri = "http://127.0.0.1:40123/files/a.wav";
        assert_eq!(p.redact(uri), uri);
        assert_eq!(
            p.redact("store redis://127.0.0.1:6379/0 down"),
            "store [redacted] down"
        );
        assert_eq!(
            p.redact("auth PW0RD-9F8E7D6C refused"),
            "auth [redacted] refused"
        );
    }

    /// A secret a server echoes cut or upper-cased (the webhook secret, which the library
    /// does not scrub) is redacted too, as the library redacts the API key.
    #[test]
    fn pieces_of_a_secret_in_any_case_are_redacted() {
        let mut p = Printer::new(false, false);
        p.add_secret("whsec-qwertyuiopzxcvbnm");
        for echoed in [
            "WHSEC-QWERTYUIOPZXCVBNM",
            "whsec-QWERT|YuiopZXCVbnm",
            "yuiopzxcv",
        ] {
            let out = p.redact(&format!("webhook secret {echoed} rejected"));
            assert!(out.contains("[redacted]"), "{echoed}: {out}");
            for piece in "whsec-qwertyuiopzxcvbnm".as_bytes().windows(8) {
                let piece = std::str::from_utf8(piece).unwrap();
                assert!(!out.to_ascii_lowercase().contains(piece), "{echoed}: {out}");
            }
        }
        // Encoded, in the library's rule: percent-encoded, hex (of the secret upper-cased
        // too), base64 (only characters its neighbours decide may stay).
        let secret = "whsec-qwertyuiopzxcvbnm";
        let pct: String = secret.bytes().map(|b| format!("%{b:02X}")).collect();
        let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        let upper_hex: String = secret
            .bytes()
            .map(|b| format!("{:02x}", b.to_ascii_uppercase()))
            .collect();
        for encoded in [pct, hex, upper_hex] {
            assert_eq!(
                p.redact(&format!("x {encoded} y")),
                "x [redacted] y",
                "{encoded}"
            );
        }
        // base64 of "Bearer whsec-qwertyuiopzxcvbnm": the key's bytes start at a group's 2nd.
        let out = p.redact("QmVhcmVyIHdoc2VjLXF3ZXJ0eXVpb3B6eGN2Ym5t");
        assert!(
            out.starts_with("QmVhcmVyI") && out.contains("[redacted]"),
            "{out}"
        );
        assert!(
            out.len() <= "QmVhcmVyI".len() + 1 + "[redacted]".len() + 4,
            "{out}"
        );
    }

    #[test]
    fn redacts_secrets() {
        let mut p = Printer::new(true, false);
        p.add_secret("sk-secret-1234\n");
        p.add_secret("ab");
        assert_eq!(p.redact("key sk-secret-1234 ab"), "key [redacted] ab");
    }

    #[test]
    fn a_secret_is_redacted_inside_serialized_json_too() {
        let key = r#"sk-a"c-0123"#;
        let mut p = Printer::new(true, false);
        p.add_secret(key);
        let text = serde_json::json!({"message": format!("key {key} rejected")}).to_string();
        let out = p.redact(&text);
        assert!(
            !out.contains(r#"sk-a\b"c-0123"#) && !out.contains("0123"),
            "{out}"
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&out).unwrap()["message"],
            "key [redacted] rejected"
        );
    }

    /// A secret that spells JSON syntax (a number's digits, `null`, `true`) is redacted from
    /// strings and keys only: the output still parses. Before, the serialized text was
    /// redacted: `"bytes":512345` became `"bytes":5[redacted]5`, `null` `[redacted]`.
    #[test]
    fn json_output_stays_json_whatever_the_secret() {
        for secret in ["1234", "null", "true", "exit", "\":1}"] {
            let mut p = Printer::new(true, false);
            p.add_secret(secret);
            let mut o = Outcome::default();
            o.set("bytes", 512_345);
            o.set("job_id", Value::Null);
            o.set("waited", true);
            o.set("path", format!("/tmp/take-{secret}.wav"));
            o.set(secret, "a key named by the secret");
            let text = p.stdout_text(&o);
            let v = serde_json::from_str::<Value>(&text);
            assert!(v.is_ok(), "{secret:?}: not JSON ({v:?}): {text}");
            let v = v.unwrap_or_default();
            assert_eq!(v["bytes"], 512_345, "{text}");
            assert!(v["job_id"].is_null(), "{text}");
            assert_eq!(v["waited"], true, "{text}");
            assert_eq!(v["path"], "/tmp/take-[redacted].wav", "{text}");
            assert_eq!(v["[redacted]"], "a key named by the secret", "{text}");
            assert!(v.get(secret).is_none(), "{text}");
        }
        // A numeric secret printed as a number is removed too, and the output still parses.
        let mut p = Printer::new(true, false);
        p.add_secret("512345");
        let mut o = Outcome::default();
        o.set("bytes", 512_345);
        let text = p.stdout_text(&o);
        assert!(!text.contains("512345"), "{text}");
        assert!(serde_json::from_str::<Value>(&text).is_ok(), "{text}");
    }

    #[test]
    fn json_has_error_and_exit_code() {
        let mut o = Outcome::failed(Failure::usage("no provider").with("hint", "pass --provider"));
        o.set("provider", "vmeg");
        let v = o.to_json();
        assert_eq!(v["exit_code"], 2);
        assert_eq!(v["error"]["kind"], "usage");
        assert_eq!(v["error"]["hint"], "pass --provider");
        assert_eq!(v["provider"], "vmeg");
    }

    #[test]
    fn outcome_unknown_carries_reconciliation_fields() {
        let e = voiceclone::Error::new(ErrorKind::OutcomeUnknown {
            idempotency_key: Some("key-1".into()),
            task_id: Some(voiceclone::JobId::new("t-1")),
            submitted_at: UNIX_EPOCH + Duration::from_secs(1),
            request: voiceclone::RequestSummary::default(),
        });
        let f = Failure::from_adapter(&e);
        assert_eq!(f.exit, Exit::Unreachable);
        let j = f.to_json();
        assert_eq!(j["kind"], "outcome_unknown");
        assert_eq!(j["idempotency_key"], "key-1");
        assert_eq!(j["submitted_at"], "1970-01-01T00:00:01.000Z");
        assert_eq!(j["submitted_at_unix_ms"], 1000);
    }
}
