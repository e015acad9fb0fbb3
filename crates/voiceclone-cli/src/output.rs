//! What a command produced and how it is printed: one JSON object on stdout with `--json`,
//! else a short human summary on stdout and diagnostics on stderr.
//!
//! Every line printed passes through [`Printer::redact`], which removes the API key in case
//! something (a vendor message, an OS error) ever echoed it, and then through
//! [`terminal_safe`] (human lines, stderr) or [`json_safe`] (`--json`): server strings can carry
//! control characters (ESC sequences that retitle or clear a terminal, CR LF that forge a line)
//! and they are shown escaped, never raw.

use std::borrow::Cow;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use voiceclone::{CloneJob, ErrorKind, Job, Speech, SpeechJob, Voice};

use crate::exit::{Exit, for_kind, kind_name};

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
            exit: for_kind(kind),
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
        match kind {
            ErrorKind::InvalidInput { field, reason } => f
                .with("field", field.as_str())
                .with("reason", reason.as_str()),
            ErrorKind::TaskFailed { job_id, reason } => f
                .with("job_id", job_id.as_str())
                .with("reason", reason.as_str()),
            ErrorKind::WaitTimedOut {
                job_id,
                last_status,
                polls,
            } => f
                .with("job_id", job_id.as_str())
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

    /// The one JSON object.
    pub fn to_json(&self) -> Value {
        let mut m = self.fields.clone();
        m.insert("exit_code".into(), self.exit().code().into());
        if let Some(f) = &self.failure {
            m.insert("error".into(), f.to_json());
        }
        Value::Object(m)
    }
}

/// Prints outcomes and diagnostics, removing secrets.
#[derive(Debug, Clone, Default)]
pub struct Printer {
    /// `--json`
    pub json: bool,
    /// `--quiet`
    pub quiet: bool,
    secrets: Vec<String>,
}

impl Printer {
    /// A printer for these flags.
    pub fn new(json: bool, quiet: bool) -> Self {
        Self {
            json,
            quiet,
            secrets: Vec::new(),
        }
    }

    /// Never print `secret` (kept only when long enough to be a real secret).
    pub fn add_secret(&mut self, secret: &str) {
        let s = secret.trim();
        if s.len() >= 4 && !self.secrets.iter().any(|x| x == s) {
            self.secrets.push(s.to_owned());
        }
    }

    /// `text` with every secret replaced by `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "[redacted]");
            }
        }
        out
    }

    /// `line` as it may be printed on a terminal: secrets removed, control characters
    /// escaped (the line's own newline is added by the caller).
    pub fn safe(&self, line: &str) -> String {
        terminal_safe(&self.redact(line)).into_owned()
    }

    /// A progress line on stderr (not with `--json` or `--quiet`).
    pub fn progress(&self, line: &str) {
        if !self.json && !self.quiet {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{}", self.safe(line));
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
    pub fn finish(&self, outcome: &Outcome) -> Exit {
        let mut out = std::io::stdout().lock();
        let mut err = std::io::stderr().lock();
        if self.json {
            let text = serde_json::to_string(&outcome.to_json()).unwrap_or_else(|_| "{}".into());
            let _ = writeln!(out, "{}", json_safe(&self.redact(&text)));
            if let Some(f) = &outcome.failure {
                let _ = writeln!(
                    err,
                    "error ({}): {}",
                    self.safe(&f.kind),
                    self.safe(first_sentence(&f.message))
                );
            }
        } else {
            for line in &outcome.lines {
                let _ = writeln!(out, "{}", self.safe(line));
            }
            if let Some(f) = &outcome.failure {
                let _ = writeln!(err, "error: {}", self.safe(&f.message));
            }
        }
        let _ = out.flush();
        outcome.exit()
    }
}

/// Characters never printed raw: C0 controls (ESC, BEL, CR, LF, NUL, ...), DEL, C1 controls
/// (including the 8-bit CSI U+009B), the line and paragraph separators U+2028/U+2029 (a line
/// break to some terminals, log viewers and pre-2019 JavaScript), and every character that
/// displays as nothing or reorders the text around it: Unicode's default-ignorable code points
/// (bidi marks, embeddings, overrides and isolates; zero-width spaces and joiners, which can
/// hide or split a string such as an id or a key; the BOM; variation selectors; tag
/// characters, which carry invisible ASCII).
fn must_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{ad}'
                | '\u{34f}'
                | '\u{61c}'
                | '\u{115f}'..='\u{1160}'
                | '\u{17b4}'..='\u{17b5}'
                | '\u{180b}'..='\u{180f}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{3164}'
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{feff}'
                | '\u{ffa0}'
                | '\u{fff0}'..='\u{fffb}'
                | '\u{1bca0}'..='\u{1bca3}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{e0000}'..='\u{e0fff}'
        )
}

/// `text` with every character of [`must_escape`] written as `\n`, `\r`, `\t` or `\u{..}`,
/// so a server string cannot move the cursor, retitle or clear the terminal, ring its bell or
/// start a line of its own.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(must_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if must_escape(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Serialized JSON with the characters serde_json leaves raw (DEL, C1 controls, bidi
/// overrides, ...: it escapes only those below U+0020) written as `\uXXXX` escapes (a
/// surrogate pair beyond U+FFFF). Still the same JSON value: these characters can only occur
/// inside strings, where the escape means them.
pub fn json_safe(json: &str) -> Cow<'_, str> {
    if !json.chars().any(must_escape) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if must_escape(c) {
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Stderr for diagnostics (`tracing`): each event's text with control characters escaped
/// ([`terminal_safe`]) except the newline that ends it. Log fields carry server strings (an
/// undocumented task status, a vendor message). `tracing` writes an event with one
/// `write_all`, which this takes whole.
#[derive(Debug)]
pub struct SafeStderr;

impl Write for SafeStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let (body, end) = match text.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (text.as_ref(), ""),
        };
        let mut err = std::io::stderr().lock();
        err.write_all(terminal_safe(body).as_bytes())?;
        err.write_all(end.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn first_sentence(s: &str) -> &str {
    let cut = s.find("; ").unwrap_or(s.len()).min(200);
    s.get(..cut).unwrap_or(s)
}

/// Milliseconds since the Unix epoch (0 before it).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// RFC 3339 UTC with milliseconds, e.g. `2024-05-01T12:00:00.000Z` (times before the epoch
/// print as the epoch).
pub fn rfc3339(t: SystemTime) -> String {
    let ms = unix_ms(t);
    let at = i64::try_from(ms / 1000)
        .ok()
        .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok());
    match at {
        Some(at) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second(),
            ms % 1000
        ),
        // Past year 9999: no calendar date; the milliseconds themselves.
        None => format!("{ms}ms since the epoch"),
    }
}

fn opt_time(t: Option<SystemTime>) -> Value {
    t.map_or(Value::Null, |t| Value::from(rfc3339(t)))
}

/// JSON for a voice.
pub fn voice_json(v: &Voice) -> Value {
    json!({
        "voice_id": v.id,
        "name": v.name,
        "preview_url": v.preview_url.as_ref().map(|u| u.as_str()),
        "created_at": opt_time(v.created_at),
        "activate_by": opt_time(v.activate_by),
    })
}

/// How the CLI renders a job of one kind: the fields only that kind has, and its result.
/// Everything else about a job is rendered once, by [`put_job`].
pub trait RenderJob: Job {
    /// Fields of this kind, after the idempotency key (a clone's requested name).
    fn put_kind_fields(&self, o: &mut Outcome) {
        let _ = o;
    }
    /// The result of a finished task.
    fn put_output(o: &mut Outcome, output: &Self::Output);
}

impl RenderJob for CloneJob {
    fn put_kind_fields(&self, o: &mut Outcome) {
        if let Some(n) = &self.name {
            o.set("name", n.as_str());
        }
    }
    fn put_output(o: &mut Outcome, output: &Voice) {
        put_voice(o, output);
    }
}

impl RenderJob for SpeechJob {
    fn put_output(o: &mut Outcome, output: &Speech) {
        put_speech(o, output);
    }
}

/// Fills an outcome from a job of either kind.
pub fn put_job<J: RenderJob>(o: &mut Outcome, job: &J) {
    let kind = J::KIND.as_str();
    o.set("provider", job.provider().as_str());
    o.set("kind", kind);
    o.set("job_id", job.id().as_str());
    o.set("status", job.status().as_str());
    if let Some(s) = job.vendor_status() {
        o.set("vendor_status", s);
    }
    if let Some(k) = job.idempotency_key() {
        o.set("idempotency_key", k);
    }
    job.put_kind_fields(o);
    if job.created_at().is_some() {
        o.set("created_at", opt_time(job.created_at()));
    }
    o.line(format!(
        "{} {kind} job {}: {}",
        job.provider(),
        job.id(),
        job.status()
    ));
    if let Some(out) = job.output() {
        J::put_output(o, out);
    }
    if let Some(e) = job.error() {
        o.set("task_error", e);
        o.line(format!("task error: {e}"));
    }
}

/// Fills an outcome from a finished voice.
pub fn put_voice(o: &mut Outcome, v: &Voice) {
    o.set("voice_id", v.id.as_str());
    o.line(format!("voice: {}", v.id));
    if let Some(n) = &v.name {
        o.set("voice_name", n.as_str());
    }
    if let Some(u) = &v.preview_url {
        o.set("preview_url", u.as_str());
        o.line(format!("preview: {u}"));
    }
    if let Some(t) = v.activate_by {
        o.set("activate_by", rfc3339(t));
        o.line(format!(
            "use it before {} or it expires (JimmyAI model ids need a first speech within 3 days)",
            rfc3339(t)
        ));
    }
}

/// Fills an outcome from finished speech.
pub fn put_speech(o: &mut Outcome, s: &Speech) {
    let urls: Vec<&str> = s.audio_urls.iter().map(|u| u.as_str()).collect();
    o.set(
        "audio_url",
        urls.first().map_or(Value::Null, |u| Value::from(*u)),
    );
    o.set("audio_urls", urls.clone());
    for u in &urls {
        o.line(format!("audio: {u}"));
    }
    if let Some(u) = &s.subtitle_url {
        o.set("subtitle_url", u.as_str());
        o.line(format!("subtitles: {u}"));
    }
    let failed: Vec<Value> = s
        .segments
        .iter()
        .enumerate()
        .filter_map(|(i, seg)| {
            seg.error
                .as_ref()
                .map(|e| json!({"line": i + 1, "error": e}))
        })
        .collect();
    if !failed.is_empty() {
        for f in &failed {
            o.line(format!(
                "line {} failed: {}",
                f["line"],
                f["error"].as_str().unwrap_or("")
            ));
        }
        o.set("failed_lines", failed);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;

    #[test]
    fn rfc3339_formats() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
        assert_eq!(rfc3339(t), "2024-02-29T12:34:56.789Z");
    }

    #[test]
    fn control_characters_are_escaped_for_terminals_and_json() {
        let nasty = "a\u{1b}]0;x\u{7}\u{1b}[2J\r\nforged\u{7f}\u{9b}1m\u{0}\u{85}\u{202e}\tz é";
        let t = terminal_safe(nasty);
        assert_eq!(
            t,
            "a\\u{1b}]0;x\\u{7}\\u{1b}[2J\\r\\nforged\\u{7f}\\u{9b}1m\\u{0}\\u{85}\\u{202e}\\tz é"
        );
        assert!(!t.chars().any(must_escape));
        assert!(matches!(terminal_safe("plain é 声"), Cow::Borrowed(_)));
        // Invisible or line-breaking characters: a zero-width space splitting a key or an
        // id, bidi marks, the line separator, the BOM, tag characters (invisible ASCII).
        let hidden = "sk-te\u{200b}st\u{200e}\u{2028}x\u{feff}\u{e0041}\u{2069}";
        let t = terminal_safe(hidden);
        assert_eq!(
            t,
            "sk-te\\u{200b}st\\u{200e}\\u{2028}x\\u{feff}\\u{e0041}\\u{2069}"
        );
        let text = serde_json::to_string(&json!({ "m": hidden })).unwrap();
        let safe = json_safe(&text);
        assert!(!safe.chars().any(must_escape), "{safe}");
        assert!(safe.contains("\\udb40\\udc41"), "{safe}");
        let back: Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["m"], hidden);
        let text = serde_json::to_string(&json!({ "m": nasty })).unwrap();
        let safe = json_safe(&text);
        assert!(!safe.chars().any(must_escape), "{safe}");
        let back: Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["m"], nasty);
    }

    #[test]
    fn redacts_secrets() {
        let mut p = Printer::new(true, false);
        p.add_secret("sk-secret-1234\n");
        p.add_secret("ab");
        assert_eq!(p.redact("key sk-secret-1234 ab"), "key [redacted] ab");
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
