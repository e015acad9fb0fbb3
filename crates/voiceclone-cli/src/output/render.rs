//! Jobs, voices and speech as outcome fields and human lines (one renderer for both job
//! kinds), and times as RFC 3339.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use voiceclone::{CloneJob, Job, Provider, Speech, SpeechJob, TaskStatus, Voice, VoiceId};

use super::Outcome;

/// The `data` and `data_json` fields of a webhook event of no known kind: its `data` as
/// JSON (`null` when it does not parse) and its text, since an integer beyond 64 bits (an
/// id) becomes a float in serde_json's `Value` and loses digits. The text has its strings
/// written without needless `\u` escapes ([`voiceclone::webhook::RawData::normalized`]): the
/// printer finds a secret by its text, and `"\u0073k-..."` spelled one it would not find.
pub fn raw_data_fields(data: &voiceclone::webhook::RawData) -> [(&'static str, Value); 2] {
    [
        ("data", data.parse::<Value>().unwrap_or(Value::Null)),
        ("data_json", data.normalized().as_str().into()),
    ]
}

/// Milliseconds since the Unix epoch (0 before it).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// RFC 3339 UTC with milliseconds, e.g. `2024-05-01T12:00:00.000Z`, or `unknown` for a
/// time RFC 3339 cannot write (see [`try_rfc3339`]): for human lines and messages; a JSON
/// field takes [`time_json`], which is `null` then.
pub fn rfc3339(t: SystemTime) -> String {
    try_rfc3339(t).unwrap_or_else(|| "unknown".to_owned())
}

/// RFC 3339 UTC with milliseconds (truncated), when RFC 3339 can write `t`: its four-digit
/// years run from 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999...Z (the civil range, not
/// `jiff::Timestamp`'s, which ends a day earlier). `None` outside it, never another format.
pub fn try_rfc3339(t: SystemTime) -> Option<String> {
    let since = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => jiff::SignedDuration::try_from(d).ok()?,
        Err(e) => jiff::SignedDuration::try_from(e.duration())
            .ok()?
            .checked_neg()?,
    };
    let epoch = jiff::civil::DateTime::constant(1970, 1, 1, 0, 0, 0, 0);
    // Fails past 9999-12-31T23:59:59.999999999, the civil range's end.
    let at = epoch.checked_add(since).ok()?;
    if at.year() < 0 {
        return None;
    }
    Some(at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

/// A time as a JSON value: its RFC 3339 string, or `null` when RFC 3339 cannot write it.
pub fn time_json(t: SystemTime) -> Value {
    try_rfc3339(t).map_or(Value::Null, Value::from)
}

fn opt_time(t: Option<SystemTime>) -> Value {
    t.map_or(Value::Null, time_json)
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
    /// What a job seen succeeded says once the command's own outcome is success (a speech
    /// job's activated voice): see [`put_success`].
    fn put_after_success(&self, o: &mut Outcome) {
        let _ = o;
    }
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
    /// A JimmyAI speech task seen succeeded made its `modelId` permanent (api-facts B5): the
    /// id to store from now on is the activated form. The clone printed the `activate_by`
    /// form, which the library refuses locally a day past its deadline, so without this the
    /// user was told to clone again (a second paid preview) for a voice that never expires.
    /// Only with its audio: a `completed` without it is a claim the task did not back up.
    fn put_after_success(&self, o: &mut Outcome) {
        let has_audio = self
            .speech
            .as_ref()
            .is_some_and(|s| !s.audio_urls.is_empty());
        if self.provider != Provider::JimmyAi || self.status != TaskStatus::Succeeded || !has_audio
        {
            return;
        }
        match &self.voice {
            Some(sent) => {
                // As `SpeechJob::updated` marks it once the task is seen completed.
                let activated = VoiceId::typed(Provider::JimmyAi, sent.as_str()).activated();
                o.set("voice_id", activated.to_string());
                o.set("voice_vendor_id", activated.as_str());
                o.line(format!(
                    "voice {} is now permanent: store {activated}",
                    activated.as_str()
                ));
            }
            // A job read by its id alone: JimmyAI's answer does not name the voice it used.
            None => o.line(
                "the voice this task used is now permanent: store it as jimmyai:voice;activated:<modelId>",
            ),
        }
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
    o.line(status_line(job, &job.status().to_string()));
    if let Some(out) = job.output() {
        J::put_output(o, out);
    }
    if let Some(e) = job.error() {
        o.set("task_error", e);
        o.line(format!("task error: {e}"));
    }
}

/// What `job` says once it is known to have succeeded (a JimmyAI speech's voice, now
/// permanent), added to `o` only when the command's outcome is success so far: callers call
/// it as soon as the wait or read ends, before any download of the result, whose failure
/// does not take the activation back. Not part of
/// [`put_job`]: a job rendered from its create's answer alone (a `completed` no poll or wait
/// confirmed), or next to a wait that failed or was interrupted, would claim an activation
/// nothing showed, and a stored activated id turns off the library's local expiry check.
/// The caller calls it only for a job a wait or a status read saw succeed.
pub fn put_success<J: RenderJob>(o: &mut Outcome, job: &J) {
    if o.failure.is_none() && *job.status() == TaskStatus::Succeeded {
        job.put_after_success(o);
    }
}

/// The human line [`put_job`] writes of `job`, saying `status`.
fn status_line<J: RenderJob>(job: &J, status: &str) -> String {
    format!(
        "{} {} job {}: {status}",
        job.provider(),
        J::KIND.as_str(),
        job.id()
    )
}

/// Takes back what [`put_job`] said of `job`'s status, the `status` field and its human
/// line alike: for a job of which nothing is known beyond its id (a wait by id that was
/// interrupted or failed). The line then says so, instead of the `queued` the job was made
/// with, which a reader would take for the provider's word.
pub fn forget_status<J: RenderJob>(o: &mut Outcome, job: &J) {
    o.fields.remove("status");
    let said = status_line(job, &job.status().to_string());
    let unknown = status_line(job, "status not known");
    for line in o.lines.iter_mut().filter(|l| **l == said) {
        line.clone_from(&unknown);
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
        o.set("activate_by", time_json(t));
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
    // Three kinds of line apart: failed by the vendor's word, unreadable to the client (the
    // task may hold its audio: no reason to submit again), and audio with a vendor remark.
    let mut failed = Vec::new();
    let mut unreadable = Vec::new();
    for (i, seg) in s.segments.iter().enumerate() {
        let line = i + 1;
        if let Some(why) = &seg.unreadable {
            o.line(format!("line {line} could not be read: {why}"));
            unreadable.push(json!({"line": line, "reason": why}));
        } else if let Some(e) = &seg.error {
            if seg.failed() {
                o.line(format!("line {line} failed: {e}"));
                failed.push(json!({"line": line, "error": e}));
            } else {
                o.line(format!("line {line}: the vendor says: {e}"));
            }
        }
    }
    if !failed.is_empty() {
        o.set("failed_lines", failed);
    }
    if !unreadable.is_empty() {
        o.set("unreadable_lines", unreadable);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;

    /// Review 25-c #1: a JimmyAI speech job seen succeeded names its voice in the activated
    /// stored form (what to store from now on); one still running claims no activation, and
    /// a VMEG job (whose voices never expire) renders no voice. Review 25 pass 2b #1: only
    /// through [`put_success`] (never [`put_job`], which renders a create's answer alone too),
    /// only with its audio, and never next to a failure (a wait whose outcome is unknown).
    #[test]
    fn a_succeeded_jimmyai_speech_job_names_its_voice_activated_only_with_its_audio() {
        let sent = VoiceId::typed(Provider::JimmyAi, "m-1").with_activation(
            voiceclone::Activation::Unactivated {
                activate_by: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            },
        );
        let audio = Speech::new(vec![
            url::Url::parse("https://cdn.example.com/a.mp3").unwrap(),
        ]);
        let with_audio = |mut j: SpeechJob| {
            j.set_output(audio.clone());
            j
        };
        let job = |p: Provider, status: TaskStatus| {
            with_audio(SpeechJob::new(p, "audio_1", status).with_voice(sent.clone()))
        };
        let rendered = |j: &SpeechJob| {
            let mut o = Outcome::default();
            put_job(&mut o, j);
            put_success(&mut o, j);
            o
        };
        let o = rendered(&job(Provider::JimmyAi, TaskStatus::Succeeded));
        assert_eq!(o.fields["voice_id"], "jimmyai:voice;activated:m-1");
        assert_eq!(o.fields["voice_vendor_id"], "m-1");
        assert!(
            o.lines
                .iter()
                .any(|l| l.ends_with("store jimmyai:voice;activated:m-1")),
            "{:?}",
            o.lines
        );
        let says_nothing = |o: &Outcome| {
            assert!(!o.fields.contains_key("voice_id"), "{:?}", o.fields);
            assert!(
                !o.lines.iter().any(|l| l.contains("permanent")),
                "{:?}",
                o.lines
            );
        };
        for j in [
            job(Provider::JimmyAi, TaskStatus::Running),
            job(Provider::JimmyAi, TaskStatus::Failed),
            job(Provider::Vmeg, TaskStatus::Succeeded),
            // `completed` without its audio: the claim of an answer, not a seen result.
            SpeechJob::new(Provider::JimmyAi, "audio_1", TaskStatus::Succeeded)
                .with_voice(sent.clone()),
        ] {
            says_nothing(&rendered(&j));
        }
        // `put_job` alone (a create's answer) and a failed outcome say nothing of it.
        let succeeded = job(Provider::JimmyAi, TaskStatus::Succeeded);
        let mut o = Outcome::default();
        put_job(&mut o, &succeeded);
        says_nothing(&o);
        o.failure = Some(crate::output::Failure::other(
            crate::exit::Exit::Unreachable,
            "invalid_response",
            "waiting failed",
        ));
        put_success(&mut o, &succeeded);
        says_nothing(&o);
        // Read by its id alone (`wait`, `status`): the answer names no voice; the line says
        // what to store all the same.
        let o = rendered(&with_audio(SpeechJob::new(
            Provider::JimmyAi,
            "audio_1",
            TaskStatus::Succeeded,
        )));
        assert!(!o.fields.contains_key("voice_id"), "{:?}", o.fields);
        assert!(
            o.lines
                .iter()
                .any(|l| l.contains("jimmyai:voice;activated:<modelId>")),
            "{:?}",
            o.lines
        );
    }

    #[test]
    fn rfc3339_formats() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
        assert_eq!(rfc3339(t), "2024-02-29T12:34:56.789Z");
    }

    /// RFC 3339 writes years 0000 to 9999: the last instant of 9999 is written (its
    /// milliseconds truncated), one nanosecond later is `null` in JSON and `unknown` for
    /// humans, never another format (it was "253402300799000ms since the epoch" for
    /// 9999-12-31T23:59:59Z, past `jiff::Timestamp`'s range). The same at the start of
    /// year 0000, and a time before 1970 is itself, not the epoch.
    #[test]
    fn rfc3339_writes_exactly_the_years_0000_to_9999_and_null_outside() {
        // 10000-01-01T00:00:00Z and 0000-01-01T00:00:00Z, in seconds from the epoch.
        let end = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
        let start = UNIX_EPOCH
            .checked_sub(Duration::from_secs(62_167_219_200))
            .unwrap();
        let nano = Duration::from_nanos(1);
        let cases = [
            (end - nano, Some("9999-12-31T23:59:59.999Z")),
            (
                end - Duration::from_secs(1),
                Some("9999-12-31T23:59:59.000Z"),
            ),
            (end, None),
            (end + Duration::from_secs(86_400 * 366 * 10_000), None),
            (start, Some("0000-01-01T00:00:00.000Z")),
            (start - nano, None),
            (
                UNIX_EPOCH
                    .checked_sub(Duration::from_secs(1 << 40))
                    .unwrap(),
                None,
            ),
            (
                UNIX_EPOCH - Duration::from_millis(1),
                Some("1969-12-31T23:59:59.999Z"),
            ),
            (
                UNIX_EPOCH - Duration::from_secs(86_400 * 365),
                Some("1969-01-01T00:00:00.000Z"),
            ),
        ];
        for (t, want) in cases {
            assert_eq!(try_rfc3339(t).as_deref(), want, "{t:?}");
            assert_eq!(rfc3339(t), want.unwrap_or("unknown"), "{t:?}");
            assert_eq!(time_json(t), want.map_or(Value::Null, Value::from), "{t:?}");
        }
        let voice = Voice::new(voiceclone::Provider::JimmyAi, "m1")
            .with_created_at(end)
            .with_activate_by(end - nano);
        let v = voice_json(&voice);
        assert_eq!(v["created_at"], Value::Null, "{v}");
        // The last second of year 9999 (a voice keeps its deadline in whole seconds).
        assert_eq!(v["activate_by"], "9999-12-31T23:59:59.000Z", "{v}");
        let mut o = Outcome::default();
        put_voice(&mut o, &voice.with_activate_by(end));
        assert_eq!(o.fields["activate_by"], Value::Null, "{:?}", o.fields);
    }
}
