//! Jobs, voices and speech as outcome fields and human lines (one renderer for both job
//! kinds), and times as RFC 3339.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use voiceclone::{CloneJob, Job, Speech, SpeechJob, Voice};

use super::Outcome;

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
    let at = i64::try_from(ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok());
    match at {
        Some(at) => at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
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
        "voice_id": v.id.to_string(),
        "vendor_id": v.id.as_str(),
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
    // The stored form (`vmeg:clone:<id>`: what `status` / `wait` take without --kind) and
    // the vendor's own id (what its console and support know).
    o.set("job_id", job.id().to_string());
    o.set("vendor_id", job.id().as_str());
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
    // The stored form (for JimmyAI with its activation deadline: what `speak --voice`
    // checks locally) and the vendor's own id.
    o.set("voice_id", v.id.to_string());
    o.set("voice_vendor_id", v.id.as_str());
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
}
