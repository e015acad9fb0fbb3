//! VMEG's answers as normalized values: its status words, and clone and TTS results as jobs
//! (from a synchronous answer, a webhook's `data` or, assumed, `tasks/detail`).

use std::time::Duration;

use client_glue::Text;
use vmeg_client::types;

use crate::error::{Error, ErrorKind};
use crate::model::{
    CloneJob, JobId, JobKind, Provider, Speech, SpeechJob, SpeechSegment, TaskStatus, Voice,
};
use crate::wire::{parse_url, usable_id};

pub(super) fn text(t: Option<&Text>) -> Option<&str> {
    t.and_then(Text::as_str)
}

/// The status words VMEG documents (media translation and App-Synced, api-facts A10): the only
/// ones whose meaning is certain.
const DOCUMENTED_STATUSES: [&str; 3] = ["running", "finished", "failed"];

/// Whether `raw` is a status word VMEG does not document, so that what [`map_status`] reads
/// it as is an assumption. A guessed failure word (`timeout`, `expired`, ...) stays `Failed`,
/// but says so and never advises a new submit (`status::with_detail`, the wait's
/// [`crate::Error::assumed_status`]): the task may be alive, and a new one billed as well.
/// A guessed success word (`done`, `completed`, ...) stays `Succeeded`: a success is only
/// acted on with its result (the voice the answer or the clone list names for the task, the
/// audio URLs), and without one it is an error that says not to submit again; read as
/// `Unknown` instead, a finished task would be polled until the wait ran out.
pub(crate) fn status_is_assumed(raw: &str) -> bool {
    let mut buf = [0; 32];
    !DOCUMENTED_STATUSES.contains(&crate::wire::status_word(raw, &mut buf))
}

/// VMEG status string -> [`TaskStatus`]. Documented (media translation and App-Synced):
/// `running`, `finished`, `failed`. Everything else here is an assumption (see
/// [`status_is_assumed`]).
pub(crate) fn map_status(raw: &str) -> TaskStatus {
    let mut buf = [0; 32];
    match crate::wire::status_word(raw, &mut buf) {
        "running" => TaskStatus::Running,
        "finished" => TaskStatus::Succeeded,
        "failed" => TaskStatus::Failed,
        "queued" | "queue" | "pending" | "waiting" | "created" | "submitted" | "accepted" => {
            TaskStatus::Queued
        }
        "processing" | "in_progress" | "in-progress" | "inprogress" | "started" => {
            TaskStatus::Running
        }
        "success" | "succeeded" | "successful" | "completed" | "complete" | "done" => {
            TaskStatus::Succeeded
        }
        "error" | "fail" | "failure" | "cancelled" | "canceled" | "timeout" | "timed_out"
        | "expired" => TaskStatus::Failed,
        _ => TaskStatus::Unknown(crate::model::shown_word(raw)),
    }
}

/// What a VMEG `taskType` names (api-facts A10), read alike by every reader (the status
/// calls and waits, `Client::task`, task lists, reconcile): trimmed, in any case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaskType {
    /// `cloneVoice` or `tts`.
    Job(JobKind),
    /// `vt`, `at`, `textTranslation`: a task of another product (translation, dubbing).
    OtherProduct,
    /// A type VMEG does not document (it "may add types"), or none.
    Unknown,
}

pub(crate) fn task_type(raw: &str) -> TaskType {
    let raw = raw.trim();
    let is = |documented: &str| raw.eq_ignore_ascii_case(documented);
    if is("cloneVoice") {
        TaskType::Job(JobKind::Clone)
    } else if is("tts") {
        TaskType::Job(JobKind::Speech)
    } else if ["vt", "at", "textTranslation"].into_iter().any(is) {
        TaskType::OtherProduct
    } else {
        TaskType::Unknown
    }
}

pub(super) fn no_task_id() -> Error {
    Error::new(ErrorKind::InvalidResponse)
        .with_provider(Provider::Vmeg)
        .with_message("the answer has no taskId")
}

/// The task id a result names, else the one the caller asked about.
fn task_id_or(task_id: Option<&Text>, fallback: Option<&JobId>) -> Option<JobId> {
    usable_id(text(task_id))
        .map(JobId::new)
        .or_else(|| fallback.cloned())
}

pub(super) fn parsed_time(iso8601: Option<&Text>) -> Option<std::time::SystemTime> {
    text(iso8601).and_then(crate::time::parse_iso8601)
}

/// A clone result (sync answer, webhook `data`, and, assumed, `tasks/detail` `result`) as a
/// job in `status`, with the voice when the result names one.
pub(crate) fn clone_job(
    data: &types::CloneVoiceCreateData,
    fallback_id: Option<&JobId>,
    status: TaskStatus,
) -> Option<CloneJob> {
    let id = task_id_or(data.task_id.as_ref(), fallback_id)?;
    let mut job = CloneJob::new(Provider::Vmeg, id, status);
    let created = parsed_time(data.created_at.as_ref());
    if let Some(voice_id) = usable_id(text(data.voice_id.as_ref())) {
        let mut voice = Voice::new(Provider::Vmeg, voice_id);
        if let Some(t) = created {
            voice = voice.with_created_at(t);
        }
        job = job.with_voice(voice);
    }
    job.refused_result = crate::wire::refused_id("a voiceId", text(data.voice_id.as_ref()));
    if let Some(t) = created {
        job = job.with_created_at(t);
    }
    Some(job)
}

/// Whether a synchronous clone answer carries its result, a usable `voiceId`: then it
/// needs no `taskId` (VMEG's schema does not mark it required, and describes it as the
/// "Open API task ID (async clone)"; api-facts A7).
pub(super) fn sync_clone_has_result(data: &types::CloneVoiceCreateData) -> bool {
    usable_id(text(data.voice_id.as_ref())).is_some()
}

/// A synchronous clone answer as a finished job: under its `taskId`, or, when it names none
/// but carries the voice, under [`JobId::no_task`] (every later call with that id is
/// refused with nothing sent: there is no task to ask about). `None` when it carries
/// neither: an answer that cannot be turned into a job.
pub(super) fn sync_clone_job(data: &types::CloneVoiceCreateData) -> Option<CloneJob> {
    let no_task = JobId::no_task(Provider::Vmeg, JobKind::Clone);
    let fallback = sync_clone_has_result(data).then_some(&no_task);
    clone_job(data, fallback, TaskStatus::Succeeded)
}

/// Whether a synchronous TTS answer carries its result, at least one usable audio URL: then
/// it needs no `taskId` (not marked required, api-facts A13). Lines that all failed carry
/// nothing to use, and without a task id nothing to look up: still no job.
pub(super) fn sync_speech_has_result(data: &types::TtsCreateData) -> bool {
    data.results
        .iter()
        .take(super::rules::VMEG_MAX_LINES)
        .any(|r| usable_url(text(r.uri.as_ref())))
}

/// Whether `raw` is an http(s) URL, without the warning [`parse_url`] logs for another one
/// (the answer is read again, with warnings, when the job is built).
fn usable_url(raw: Option<&str>) -> bool {
    raw.map(str::trim)
        .and_then(|r| url::Url::parse(r).ok())
        .is_some_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// Whether a TTS webhook `data` would be read as speech ([`speech_job`] under its own
/// `taskId`) with at least one line VMEG did not say failed: a line with usable audio, or one
/// without a non-blank `errorMessage` (an unreadable line is a finished line of a paid task,
/// to be read again, never synthesized again). Judged as [`speech`] judges each line, over the
/// same first [`VMEG_MAX_LINES`](super::rules::VMEG_MAX_LINES), but without decoding the rest
/// and without a log line: a store calls it under its lock (review 30 pass 3 #2), where a
/// tracing layer that reads the store would deadlock, and where every call would repeat the
/// warnings the delivery's own decode logged once.
#[cfg(feature = "webhook")]
pub(crate) fn speech_data_has_unfailed_line(data: &str) -> bool {
    use serde::Deserializer as _;
    use serde::de::{IgnoredAny, SeqAccess, Visitor};
    use serde_json::value::RawValue;

    #[derive(serde::Deserialize)]
    struct Data<'a> {
        #[serde(rename = "taskId", default)]
        task_id: Option<Text>,
        #[serde(default, borrow)]
        results: Option<&'a RawValue>,
    }
    struct FirstLines;
    impl<'de> Visitor<'de> for FirstLines {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an array of TTS results")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
            let mut unfailed = false;
            let mut read = 0usize;
            while read < super::rules::VMEG_MAX_LINES && !unfailed {
                let Some(element) = seq.next_element::<Option<&'de RawValue>>()? else {
                    return Ok(false);
                };
                read = read.saturating_add(1);
                unfailed = match element.map(|e| serde_json::from_str::<types::TtsResult>(e.get()))
                {
                    // As `speech` reads a line: failed only without audio, without a uri
                    // this crate refuses, and with a non-blank `errorMessage`.
                    Some(Ok(line)) => {
                        matches!(
                            crate::wire::checked_url(text(line.uri.as_ref())),
                            Ok(Some(_))
                        ) || uri_refused(line.uri.as_ref())
                            || !text(line.error_message.as_ref()).is_some_and(|m| {
                                m.chars().any(|c| !c.is_whitespace() && !c.is_control())
                            })
                    }
                    // Not an object: an unreadable line, which VMEG did not say failed.
                    Some(Err(_)) | None => true,
                };
            }
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(unfailed)
        }
    }

    let Ok(data) = serde_json::from_str::<Data<'_>>(data) else {
        return false;
    };
    if usable_id(text(data.task_id.as_ref())).is_none() {
        return false;
    }
    let Some(results) = data.results.filter(|r| r.get().starts_with('[')) else {
        return false;
    };
    (&mut serde_json::Deserializer::from_str(results.get()))
        .deserialize_seq(FirstLines)
        .unwrap_or(false)
}

/// A synchronous TTS answer as a finished job: under its `taskId`, or, when it names none
/// but carries audio, under [`JobId::no_task`] (see [`sync_clone_job`]).
pub(super) fn sync_speech_job(data: &types::TtsCreateData) -> Option<SpeechJob> {
    let no_task = JobId::no_task(Provider::Vmeg, JobKind::Speech);
    let fallback = sync_speech_has_result(data).then_some(&no_task);
    speech_job(data, fallback, TaskStatus::Succeeded)
}

/// Whether a TTS line gives a `uri` this crate refuses: a non-blank text that is no absolute
/// http(s) URL, or a value that is no text at all (an object). The vendor said where the
/// line's audio is; this crate could not read it.
fn uri_refused(uri: Option<&Text>) -> bool {
    uri.is_some_and(|u| {
        u.as_str()
            .is_none_or(|r| crate::wire::checked_url(Some(r)).is_err())
    })
}

/// The most characters of a line's `errorMessage` quoted as a remark in why the line could
/// not be read (several lines' reasons go into one error).
const REMARK_CHARS: usize = 200;

/// A TTS result's lines as speech (failed lines kept as segments with their error). The
/// results are one per line, by position: a result that could not be read (`null`, not an
/// object) keeps its place as an [`unreadable`](SpeechSegment::unreadable) segment, so no
/// line takes another's audio. A line without usable audio and without the vendor's
/// `errorMessage` is unreadable too, never failed: VMEG did not say it failed. So is a line
/// whose `uri` this crate refuses, `errorMessage` or not (review 35-d #3): the vendor gave
/// its audio, and its words there are a remark, as beside a usable uri.
fn speech(data: &types::TtsCreateData) -> Speech {
    let segment = |l: &types::TtsResult| {
        // Quoted in a wait's `TaskFailed` reason: folded and cut like the task's own.
        let message = text(l.error_message.as_ref())
            .map(|m| crate::error::folded(m, crate::error::MAX_MESSAGE_CHARS))
            .filter(|m| !m.is_empty());
        let refused = uri_refused(l.uri.as_ref());
        // The uri quoted as JimmyAI's `audioUrl` is (review 35 pass 2b #6): without its query
        // or userinfo (credentials), cut. It is the only handle support has to audio billed.
        let uri = l
            .uri
            .as_ref()
            .and_then(|u| crate::wire::refused_url("a uri", u.as_str()))
            .map_or_else(
                || "its uri is not an absolute http(s) URL".to_owned(),
                |why| format!("it has {why}"),
            );
        let unreadable = match (refused, &message) {
            (true, Some(m)) => format!(
                "{uri} (its errorMessage: {})",
                crate::error::folded(m, REMARK_CHARS)
            ),
            (true, None) => format!("{uri}, and it has no errorMessage"),
            (false, _) => "it has no uri and no errorMessage".to_owned(),
        };
        SpeechSegment::new(
            parse_url("results[].uri", text(l.uri.as_ref())),
            l.duration
                .and_then(|d| d.value())
                .filter(|d| *d >= 0.0 && *d < 1e9)
                .map(Duration::from_secs_f64),
            message.filter(|_| !refused),
        )
        .with_unreadable(unreadable)
    };
    let skipped = data.results.skipped_at();
    let mut kept = data.results.iter();
    // One result per line, and a task holds at most 50 lines (api-facts): a longer list is
    // read to that bound only, so an answer of a million bad elements does not become a
    // million segments on every poll.
    let sent = data.results.sent();
    if sent > super::rules::VMEG_MAX_LINES {
        tracing::warn!(
            results = sent,
            "a TTS answer lists more results than a task has lines; the first {} are read",
            super::rules::VMEG_MAX_LINES
        );
    }
    let segments: Vec<SpeechSegment> = (0..sent.min(super::rules::VMEG_MAX_LINES))
        .filter_map(|i| {
            if skipped.binary_search(&i).is_ok() {
                Some(
                    SpeechSegment::new(None, None, None)
                        .with_unreadable("its result in the answer is not an object"),
                )
            } else {
                kept.next().map(segment)
            }
        })
        .collect();
    let urls = segments.iter().filter_map(|s| s.url.clone()).collect();
    Speech::new(urls).with_segments(segments)
}

/// A TTS result (sync answer, webhook `data`, and, assumed, `tasks/detail` `result`) as a job.
pub(crate) fn speech_job(
    data: &types::TtsCreateData,
    fallback_id: Option<&JobId>,
    status: TaskStatus,
) -> Option<SpeechJob> {
    let id = task_id_or(data.task_id.as_ref(), fallback_id)?;
    let mut job = SpeechJob::new(Provider::Vmeg, id, status);
    if data.results.sent() > 0 {
        job = job.with_speech(speech(data));
    }
    if let Some(t) = parsed_time(data.created_at.as_ref()) {
        job = job.with_created_at(t);
    }
    Some(job)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn status_table() {
        for (raw, want) in [
            ("running", TaskStatus::Running),
            ("finished", TaskStatus::Succeeded),
            ("failed", TaskStatus::Failed),
            ("FINISHED", TaskStatus::Succeeded),
            ("queued", TaskStatus::Queued),
            ("pending", TaskStatus::Queued),
            ("processing", TaskStatus::Running),
            ("success", TaskStatus::Succeeded),
            ("succeeded", TaskStatus::Succeeded),
            ("completed", TaskStatus::Succeeded),
            ("error", TaskStatus::Failed),
            ("cancelled", TaskStatus::Failed),
            ("archived", TaskStatus::Unknown("archived".into())),
        ] {
            assert_eq!(map_status(raw), want, "{raw}");
        }
    }

    #[test]
    fn every_word_of_the_readme_status_table_maps_as_listed() {
        // README, "Task status mapping": the VMEG rows, word for word.
        let rows: [(&[&str], TaskStatus); 7] = [
            (&["running"], TaskStatus::Running),
            (&["finished"], TaskStatus::Succeeded),
            (&["failed"], TaskStatus::Failed),
            (
                &[
                    "queued",
                    "pending",
                    "waiting",
                    "created",
                    "submitted",
                    "accepted",
                ],
                TaskStatus::Queued,
            ),
            (
                &["processing", "in_progress", "started"],
                TaskStatus::Running,
            ),
            (
                &["success", "succeeded", "completed", "done"],
                TaskStatus::Succeeded,
            ),
            (
                &["error", "failure", "cancelled", "timeout", "expired"],
                TaskStatus::Failed,
            ),
        ];
        for (words, want) in rows {
            for raw in words {
                assert_eq!(map_status(raw), want, "{raw}");
            }
        }
        // "anything else: `Unknown(raw)`: not terminal".
        let other = map_status("warming_up");
        assert_eq!(other, TaskStatus::Unknown("warming_up".into()));
        assert!(!other.is_terminal());
    }

    #[test]
    fn only_the_documented_words_are_certain() {
        for raw in ["running", "finished", "failed", " FAILED "] {
            assert!(!status_is_assumed(raw), "{raw}");
        }
        for raw in [
            "timeout",
            "expired",
            "cancelled",
            "error",
            "done",
            "complete",
            "success",
            "queued",
            "warming_up",
            "",
        ] {
            assert!(status_is_assumed(raw), "{raw}");
        }
    }

    #[test]
    fn tts_result_keeps_failed_lines() {
        let r: types::TtsCreateData = serde_json::from_value(serde_json::json!({
            "taskId": "t1", "createdAt": "2025-01-01T00:00:00Z", "extra": true,
            "results": [{"uri": "https://cdn/a.m4a", "duration": "1.5"}, {"errorMessage": "bad voice", "duration": null}]
        }))
        .unwrap();
        let job = speech_job(&r, None, TaskStatus::Succeeded).unwrap();
        let speech = job.speech.unwrap();
        assert_eq!(speech.audio_urls.len(), 1);
        assert_eq!(speech.segments.len(), 2);
        assert_eq!(
            speech.segments[0].duration,
            Some(Duration::from_millis(1500))
        );
        assert_eq!(speech.segments[1].error.as_deref(), Some("bad voice"));
        assert!(job.created_at.is_some());
    }

    /// Review 28-e #1: a line without usable audio and without the vendor's `errorMessage`
    /// is one the client could not read, typed apart from a line the vendor said failed; a
    /// line with audio and an `errorMessage` keeps its audio.
    #[test]
    fn lines_the_client_cannot_read_are_not_failed_lines() {
        let r: types::TtsCreateData = serde_json::from_value(serde_json::json!({
            "taskId": "t1",
            "results": [
                {"uri": "", "errorMessage": ""},
                {"uri": "/files/t1/1.wav"},
                {"uri": "s3://bucket/2.wav", "errorMessage": "  "},
                null,
                {"uri": "", "errorMessage": "bad voice"},
                {"uri": "https://cdn/5.wav", "errorMessage": "approximated"},
            ]
        }))
        .unwrap();
        let speech = speech_job(&r, None, TaskStatus::Succeeded)
            .unwrap()
            .speech
            .unwrap();
        assert_eq!(speech.segments.len(), 6);
        for (i, seg) in speech.segments.iter().enumerate().take(4) {
            assert!(seg.unreadable.is_some(), "{i}: {seg:?}");
            assert!(seg.error.is_none() && !seg.failed(), "{i}: {seg:?}");
        }
        let vendor = &speech.segments[4];
        assert!(vendor.failed() && vendor.unreadable.is_none(), "{vendor:?}");
        let remark = &speech.segments[5];
        assert!(remark.url.is_some() && !remark.failed(), "{remark:?}");
        assert!(remark.unreadable.is_none(), "{remark:?}");
        assert_eq!(speech.audio_urls.len(), 1);
    }

    /// Review 35-d #3: a line whose `uri` this crate refuses (relative, another scheme, not
    /// a string) is one it could not read, even beside an `errorMessage`: the vendor said
    /// where the audio is, and its words are a remark in the reason. Without a `uri` (or with
    /// a blank one) the `errorMessage` is still the vendor's failure.
    #[test]
    fn a_line_with_a_refused_uri_and_an_error_message_is_unreadable_not_failed() {
        let r: types::TtsCreateData = serde_json::from_value(serde_json::json!({
            "taskId": "t1",
            "results": [
                {"uri": "/files/t1/2.wav", "errorMessage": "duration adjusted"},
                {"uri": "s3://bucket/2.wav", "errorMessage": "duration\nadjusted"},
                {"uri": {"k": 1}, "errorMessage": "duration adjusted"},
                {"uri": null, "errorMessage": "bad voice"},
                {"uri": " ", "errorMessage": "bad voice"},
            ]
        }))
        .unwrap();
        let speech = speech_job(&r, None, TaskStatus::Succeeded)
            .unwrap()
            .speech
            .unwrap();
        for (i, seg) in speech.segments.iter().enumerate().take(3) {
            assert!(!seg.failed() && seg.error.is_none(), "{i}: {seg:?}");
            let why = seg.unreadable.as_deref().unwrap();
            assert!(why.contains("not an absolute http(s) URL"), "{i}: {why}");
            assert!(why.contains("duration adjusted"), "{i}: {why}");
        }
        for seg in speech.segments.get(3..).unwrap() {
            assert!(seg.failed() && seg.unreadable.is_none(), "{seg:?}");
        }
    }

    #[test]
    fn clone_result_voice() {
        let r: types::CloneVoiceCreateData =
            serde_json::from_value(serde_json::json!({"taskId": 12, "voiceId": "cv_1"})).unwrap();
        let job = clone_job(&r, None, TaskStatus::Succeeded).unwrap();
        assert_eq!(job.id.as_str(), "12");
        assert_eq!(job.voice.unwrap().id, "cv_1");
        let r = types::CloneVoiceCreateData::default();
        assert!(clone_job(&r, None, TaskStatus::Failed).is_none());
    }

    /// Review 30 pass 3 #2: the quiet check a store makes under its lock says what the full
    /// read says (a speech job with a line VMEG did not say failed), for every shape of
    /// `results` and line, so the two cannot drift apart.
    #[cfg(feature = "webhook")]
    #[test]
    fn the_quiet_line_check_agrees_with_the_full_read() {
        let lines = [
            r#"{"uri":"https://cdn.example/a.mp3"}"#,
            r#"{"uri":"https://cdn.example/a.mp3","errorMessage":"x"}"#,
            r#"{"uri":"/a.wav"}"#,
            r#"{"uri":"ftp://x/a","errorMessage":"bad"}"#,
            r#"{"uri":"/a.wav","errorMessage":"bad"}"#,
            r#"{"uri":{},"errorMessage":"bad"}"#,
            r#"{"uri":null,"errorMessage":"bad"}"#,
            r#"{"errorMessage":"bad"}"#,
            r#"{"errorMessage":" \u0007 "}"#,
            r#"{"errorMessage":7}"#,
            r#"{"uri":7}"#,
            "{}",
            "null",
            "7",
            "[]",
            r#""s""#,
        ];
        let mut datas = vec![
            r#"{"taskId":"t"}"#.to_owned(),
            r#"{"taskId":"t","results":null}"#.to_owned(),
            r#"{"taskId":"t","results":{}}"#.to_owned(),
            r#"{"taskId":"t","results":[]}"#.to_owned(),
            r#"{"results":[{"uri":"https://cdn.example/a.mp3"}]}"#.to_owned(),
            r#"{"taskId":" ","results":[{}]}"#.to_owned(),
            "null".to_owned(),
        ];
        for a in lines {
            for b in lines {
                datas.push(format!(r#"{{"taskId":"t","results":[{a},{b}]}}"#));
            }
        }
        // Past the 50 lines a task holds: only the first 50 count.
        let failed = r#"{"errorMessage":"bad"}"#;
        let mut long = vec![failed; 50];
        long.push("{}");
        datas.push(format!(
            r#"{{"taskId":"t","results":[{}]}}"#,
            long.join(",")
        ));
        for data in &datas {
            let full = serde_json::from_str::<types::TtsCreateData>(data)
                .ok()
                .and_then(|d| speech_job(&d, None, TaskStatus::Succeeded))
                .and_then(|j| j.speech)
                .is_some_and(|s| s.segments.iter().any(|g| !g.failed()));
            assert_eq!(speech_data_has_unfailed_line(data), full, "{data}");
        }
    }
}
