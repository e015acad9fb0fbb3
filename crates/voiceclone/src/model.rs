//! The provider-neutral vocabulary: what callers send and what they get back.
//!
//! Requests are plain builders; nothing here checks values (that is [`crate::validate`], run
//! by the client before anything is sent). Results are `#[non_exhaustive]` so fields can be
//! added later; the `new` / `with_*` constructors let other crates (tests, simulators) build them.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use url::Url;

use crate::error::{Error, ErrorKind};

/// Why a string is not a value of one of this crate's enums ([`Provider`], [`VmegEngine`],
/// [`SoundVersion`], [`OutputFormat`], [`Emotion`]): what `FromStr` returns.
///
/// It converts into an [`Error`] of kind [`ErrorKind::InvalidInput`] (same field, same
/// reason), so `?` still works in functions returning [`Error`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{field}`: {reason}")]
pub struct ParseError {
    field: &'static str,
    reason: String,
}

impl ParseError {
    pub(crate) fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }

    /// The request field the value was meant for (`provider`, `vmeg_engine`, ...).
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// Why the value was refused (names the accepted values).
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Error::new(ErrorKind::InvalidInput {
            field: e.field.to_owned(),
            reason: e.reason,
        })
    }
}

/// Which vendor a [`crate::Client`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Provider {
    /// VMEG Open API (Standalone), `https://api.vmeg.ai/openapi/v1/`.
    Vmeg,
    /// JimmyAI Open API (SoundClone), `https://www.jimmyai.cn/api/open-api/v1/`.
    JimmyAi,
}

/// A vendor task id (VMEG `taskId`, JimmyAI task `id` such as `audio_<uuid>`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(String);

impl JobId {
    /// Wraps a vendor task id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as sent to and received from the vendor.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for JobId {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for JobId {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl AsRef<str> for JobId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The normalized state of a vendor task. See the crate docs for the vendor-value table.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskStatus {
    /// Accepted, not started.
    Queued,
    /// Being worked on.
    Running,
    /// Finished with a result.
    Succeeded,
    /// Finished without a result.
    Failed,
    /// A value neither vendor documents; kept verbatim, treated as not terminal.
    Unknown(String),
}

impl TaskStatus {
    /// `Succeeded` and `Failed` end a task; everything else (including `Unknown`) does not.
    pub fn is_terminal(&self) -> bool {
        matches!(self, TaskStatus::Succeeded | TaskStatus::Failed)
    }

    /// A short lowercase label (`Unknown` shows the raw vendor value).
    pub fn as_str(&self) -> &str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Running => "running",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::Unknown(raw) => raw,
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskStatus::Unknown(raw) => write!(f, "unknown({raw})"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// VMEG clone engine (`provider` field of clone create): `V1`..`V5`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VmegEngine {
    /// Basic, universal: short everyday lines.
    V1,
    /// Film/TV, emotional.
    V2,
    /// English-focused.
    V3,
    /// Enhanced emotional.
    V4,
    /// Multilingual, universal.
    V5,
}

impl VmegEngine {
    /// The wire value.
    pub const fn as_str(self) -> &'static str {
        match self {
            VmegEngine::V1 => "V1",
            VmegEngine::V2 => "V2",
            VmegEngine::V3 => "V3",
            VmegEngine::V4 => "V4",
            VmegEngine::V5 => "V5",
        }
    }
}

impl fmt::Display for VmegEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VmegEngine {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "V1" => Ok(VmegEngine::V1),
            "V2" => Ok(VmegEngine::V2),
            "V3" => Ok(VmegEngine::V3),
            "V4" => Ok(VmegEngine::V4),
            "V5" => Ok(VmegEngine::V5),
            _ => Err(ParseError::new(
                "vmeg_engine",
                format!("{s:?} is not one of V1..V5"),
            )),
        }
    }
}

/// JimmyAI `soundVersion`: v1 covers 24 languages, v2 covers 40.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SoundVersion {
    /// `v1` (JimmyAI's default for previews).
    V1,
    /// `v2`, needed for some languages.
    V2,
}

impl SoundVersion {
    /// The wire value.
    pub const fn as_str(self) -> &'static str {
        match self {
            SoundVersion::V1 => "v1",
            SoundVersion::V2 => "v2",
        }
    }
}

impl fmt::Display for SoundVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SoundVersion {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "v1" => Ok(SoundVersion::V1),
            "v2" => Ok(SoundVersion::V2),
            _ => Err(ParseError::new(
                "sound_version",
                format!("{s:?} is not v1 or v2"),
            )),
        }
    }
}

/// VMEG TTS `outputFormat` (vendor default `m4a`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OutputFormat {
    /// `wav`
    Wav,
    /// `mp3`
    Mp3,
    /// `m4a`
    M4a,
}

impl OutputFormat {
    /// The wire value.
    pub const fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Wav => "wav",
            OutputFormat::Mp3 => "mp3",
            OutputFormat::M4a => "m4a",
        }
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OutputFormat {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "wav" => Ok(OutputFormat::Wav),
            "mp3" => Ok(OutputFormat::Mp3),
            "m4a" => Ok(OutputFormat::M4a),
            _ => Err(ParseError::new(
                "output_format",
                format!("{s:?} is not wav, mp3 or m4a"),
            )),
        }
    }
}

/// JimmyAI production `emotion` (vendor default `neutral`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
#[non_exhaustive]
pub enum Emotion {
    Happy,
    Sad,
    Angry,
    Fearful,
    Disgusted,
    Surprised,
    Neutral,
}

impl Emotion {
    /// The wire value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Emotion::Happy => "happy",
            Emotion::Sad => "sad",
            Emotion::Angry => "angry",
            Emotion::Fearful => "fearful",
            Emotion::Disgusted => "disgusted",
            Emotion::Surprised => "surprised",
            Emotion::Neutral => "neutral",
        }
    }
}

impl fmt::Display for Emotion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Emotion {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let all = [
            Emotion::Happy,
            Emotion::Sad,
            Emotion::Angry,
            Emotion::Fearful,
            Emotion::Disgusted,
            Emotion::Surprised,
            Emotion::Neutral,
        ];
        all.into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParseError::new("emotion", format!("{s:?} is not a JimmyAI emotion")))
    }
}

/// JimmyAI subtitles: sentence-level (`subtitleEnable`) or word-level (`subtitleType: word`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SubtitleMode {
    /// No subtitle file (the vendor default).
    Off,
    /// Sentence-level subtitles.
    Sentence,
    /// Word-level subtitles.
    Word,
}

/// Ask a provider to clone a voice from a reference recording.
///
/// Fields that only one provider understands are rejected with `InvalidInput` when sent to
/// the other one: a value the caller set is never silently dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CloneRequest {
    /// Reference audio. VMEG: HTTPS. JimmyAI: public http(s), ASCII, audio/video extension.
    pub audio_url: String,
    /// Voice name (VMEG `voiceName`; generated when absent). JimmyAI has no names.
    pub name: Option<String>,
    /// BCP-47 tag (VMEG `sampleLanguage`); for JimmyAI mapped to its language names,
    /// which are also accepted as given.
    pub language: Option<String>,
    /// VMEG: transcript of the sample (`sampleText`). JimmyAI: the preview line (`contentText`, <= 270).
    pub sample_text: Option<String>,
    /// VMEG only: the clone engine.
    pub vmeg_engine: Option<VmegEngine>,
    /// JimmyAI only: `soundVersion`.
    pub sound_version: Option<SoundVersion>,
    /// VMEG only: use the synchronous endpoint (the job comes back already finished).
    pub synchronous: Option<bool>,
    /// VMEG only: the `X-Idempotency-Key` (generated when absent). JimmyAI has no idempotency.
    pub idempotency_key: Option<String>,
}

impl CloneRequest {
    /// A request with only the reference audio set.
    pub fn new(audio_url: impl Into<String>) -> Self {
        Self {
            audio_url: audio_url.into(),
            name: None,
            language: None,
            sample_text: None,
            vmeg_engine: None,
            sound_version: None,
            synchronous: None,
            idempotency_key: None,
        }
    }

    /// Sets the voice name (VMEG).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the sample language (BCP-47, or a JimmyAI language name for JimmyAI).
    #[must_use]
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// Sets the sample transcript (VMEG) or preview line (JimmyAI).
    #[must_use]
    pub fn sample_text(mut self, text: impl Into<String>) -> Self {
        self.sample_text = Some(text.into());
        self
    }

    /// Picks the VMEG clone engine.
    #[must_use]
    pub fn vmeg_engine(mut self, engine: VmegEngine) -> Self {
        self.vmeg_engine = Some(engine);
        self
    }

    /// Picks the JimmyAI sound version.
    #[must_use]
    pub fn sound_version(mut self, version: SoundVersion) -> Self {
        self.sound_version = Some(version);
        self
    }

    /// Uses VMEG's synchronous clone endpoint.
    #[must_use]
    pub fn synchronous(mut self, synchronous: bool) -> Self {
        self.synchronous = Some(synchronous);
        self
    }

    /// Supplies the VMEG idempotency key instead of a generated one.
    #[must_use]
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }
}

/// One line of speech: which voice says what.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpeechLine {
    /// VMEG `voiceId` or JimmyAI `modelId`.
    pub voice_id: String,
    /// The text to speak.
    pub text: String,
}

impl SpeechLine {
    /// A line.
    pub fn new(voice_id: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            voice_id: voice_id.into(),
            text: text.into(),
        }
    }
}

/// Ask a provider to speak text with a (cloned) voice.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SpeechRequest {
    /// The lines; JimmyAI takes exactly one, VMEG 1..=50.
    pub lines: Vec<SpeechLine>,
    /// BCP-47 target language (VMEG `language.target`; mapped for JimmyAI).
    pub language: Option<String>,
    /// VMEG only.
    pub output_format: Option<OutputFormat>,
    /// VMEG only: cut leading and trailing silence.
    pub trim: Option<bool>,
    /// VMEG only: `emoWeight` (0..=1), applied to every line.
    pub emotion_weight: Option<f64>,
    /// VMEG only: `emoPrompt`, applied to every line.
    pub emotion_prompt: Option<String>,
    /// VMEG only: use the synchronous TTS endpoint.
    pub synchronous: Option<bool>,
    /// VMEG only: the `X-Idempotency-Key` (generated when absent).
    pub idempotency_key: Option<String>,
    /// JimmyAI only: speed in [0.5, 2].
    pub speed: Option<f64>,
    /// JimmyAI only: `vol` in (0, 10].
    pub volume: Option<f64>,
    /// JimmyAI only: pitch in -12..=12.
    pub pitch: Option<i32>,
    /// JimmyAI only.
    pub emotion: Option<Emotion>,
    /// JimmyAI only.
    pub subtitles: Option<SubtitleMode>,
    /// JimmyAI only.
    pub sound_version: Option<SoundVersion>,
}

impl SpeechRequest {
    /// A request for one line.
    pub fn new(voice_id: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            lines: vec![SpeechLine::new(voice_id, text)],
            language: None,
            output_format: None,
            trim: None,
            emotion_weight: None,
            emotion_prompt: None,
            synchronous: None,
            idempotency_key: None,
            speed: None,
            volume: None,
            pitch: None,
            emotion: None,
            subtitles: None,
            sound_version: None,
        }
    }

    /// Adds another line (VMEG batches, at most 50 lines in all).
    #[must_use]
    pub fn add_line(mut self, voice_id: impl Into<String>, text: impl Into<String>) -> Self {
        self.lines.push(SpeechLine::new(voice_id, text));
        self
    }

    /// Sets the language.
    #[must_use]
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// VMEG output format.
    #[must_use]
    pub fn output_format(mut self, format: OutputFormat) -> Self {
        self.output_format = Some(format);
        self
    }

    /// VMEG silence trimming.
    #[must_use]
    pub fn trim(mut self, trim: bool) -> Self {
        self.trim = Some(trim);
        self
    }

    /// VMEG emotion strength, 0..=1.
    #[must_use]
    pub fn emotion_weight(mut self, weight: f64) -> Self {
        self.emotion_weight = Some(weight);
        self
    }

    /// VMEG emotion/style hint.
    #[must_use]
    pub fn emotion_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.emotion_prompt = Some(prompt.into());
        self
    }

    /// VMEG synchronous endpoint.
    #[must_use]
    pub fn synchronous(mut self, synchronous: bool) -> Self {
        self.synchronous = Some(synchronous);
        self
    }

    /// VMEG idempotency key.
    #[must_use]
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// JimmyAI speed.
    #[must_use]
    pub fn speed(mut self, speed: f64) -> Self {
        self.speed = Some(speed);
        self
    }

    /// JimmyAI volume.
    #[must_use]
    pub fn volume(mut self, volume: f64) -> Self {
        self.volume = Some(volume);
        self
    }

    /// JimmyAI pitch.
    #[must_use]
    pub fn pitch(mut self, pitch: i32) -> Self {
        self.pitch = Some(pitch);
        self
    }

    /// JimmyAI emotion.
    #[must_use]
    pub fn emotion(mut self, emotion: Emotion) -> Self {
        self.emotion = Some(emotion);
        self
    }

    /// JimmyAI subtitles.
    #[must_use]
    pub fn subtitles(mut self, mode: SubtitleMode) -> Self {
        self.subtitles = Some(mode);
        self
    }

    /// JimmyAI sound version.
    #[must_use]
    pub fn sound_version(mut self, version: SoundVersion) -> Self {
        self.sound_version = Some(version);
        self
    }
}

/// A cloned voice, usable for speech.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Voice {
    /// Who holds it.
    pub provider: Provider,
    /// VMEG `voiceId` (`cv_*`) or JimmyAI `modelId`.
    pub id: String,
    /// VMEG voice name; JimmyAI voices have none.
    pub name: Option<String>,
    /// Preview audio (JimmyAI preview `audioUrl`; VMEG when the list carries one).
    pub preview_url: Option<Url>,
    /// When the vendor created it, if said.
    pub created_at: Option<SystemTime>,
    /// JimmyAI: a `modelId` expires three days after its preview unless a production call
    /// (`synthesize`) activates it first; this is that deadline, computed from the preview
    /// task's creation time. `None` for VMEG and for activated voices.
    pub activate_by: Option<SystemTime>,
}

/// How long an unactivated JimmyAI `modelId` stays usable after its preview.
pub const JIMMYAI_ACTIVATION_WINDOW: Duration = Duration::from_secs(3 * 24 * 60 * 60);

impl Voice {
    /// A voice with only its id.
    pub fn new(provider: Provider, id: impl Into<String>) -> Self {
        Self {
            provider,
            id: id.into(),
            name: None,
            preview_url: None,
            created_at: None,
            activate_by: None,
        }
    }

    /// Sets the name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the preview URL.
    #[must_use]
    pub fn with_preview_url(mut self, url: Url) -> Self {
        self.preview_url = Some(url);
        self
    }

    /// Sets the creation time.
    #[must_use]
    pub fn with_created_at(mut self, at: SystemTime) -> Self {
        self.created_at = Some(at);
        self
    }

    /// Sets the activation deadline.
    #[must_use]
    pub fn with_activate_by(mut self, at: SystemTime) -> Self {
        self.activate_by = Some(at);
        self
    }
}

/// One synthesized segment (VMEG returns one per line).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SpeechSegment {
    /// The audio, when this line succeeded.
    pub url: Option<Url>,
    /// Its length, when said.
    pub duration: Option<Duration>,
    /// The vendor's per-line error, when this line failed.
    pub error: Option<String>,
}

impl SpeechSegment {
    /// A segment.
    pub fn new(url: Option<Url>, duration: Option<Duration>, error: Option<String>) -> Self {
        Self {
            url,
            duration,
            error,
        }
    }
}

/// Finished speech.
#[derive(Clone, Debug, PartialEq, Default)]
#[non_exhaustive]
pub struct Speech {
    /// Every audio URL, in line order.
    pub audio_urls: Vec<Url>,
    /// JimmyAI subtitle file, when asked for.
    pub subtitle_url: Option<Url>,
    /// Per-line detail (VMEG), including lines that failed.
    pub segments: Vec<SpeechSegment>,
}

impl Speech {
    /// Speech from a list of audio URLs.
    pub fn new(audio_urls: Vec<Url>) -> Self {
        Self {
            audio_urls,
            subtitle_url: None,
            segments: Vec::new(),
        }
    }

    /// Sets the subtitle URL.
    #[must_use]
    pub fn with_subtitle_url(mut self, url: Url) -> Self {
        self.subtitle_url = Some(url);
        self
    }

    /// Sets the per-line segments.
    #[must_use]
    pub fn with_segments(mut self, segments: Vec<SpeechSegment>) -> Self {
        self.segments = segments;
        self
    }
}

/// Clone or speech: which kind of task a job id names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JobKind {
    /// A clone task: its result is a [`Voice`].
    Clone,
    /// A speech task: its result is [`Speech`].
    Speech,
}

impl JobKind {
    /// `clone` or `speech`.
    pub const fn as_str(self) -> &'static str {
        match self {
            JobKind::Clone => "clone",
            JobKind::Speech => "speech",
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

mod sealed {
    pub trait Sealed {}
}

/// What every submitted task is, whatever it makes: [`CloneJob`] (a [`Voice`]) and
/// [`SpeechJob`] ([`Speech`]). Status mapping, waiting, webhook normalization and rendering
/// are written once against this trait. Sealed: only this crate's jobs implement it, so it
/// can grow.
pub trait Job: Clone + fmt::Debug + Send + Sync + sealed::Sealed + 'static {
    /// What the finished task yields.
    type Output: Clone + fmt::Debug + Send + Sync + 'static;
    /// Which kind of task this is.
    const KIND: JobKind;

    /// A job with an id and a status.
    fn new(provider: Provider, id: JobId, status: TaskStatus) -> Self;
    /// Who runs it.
    fn provider(&self) -> Provider;
    /// The vendor task id.
    fn id(&self) -> &JobId;
    /// Normalized status.
    fn status(&self) -> &TaskStatus;
    /// The vendor's own status string, when it gave one.
    fn vendor_status(&self) -> Option<&str>;
    /// The result, once the task succeeded and the vendor said what it is.
    fn output(&self) -> Option<&Self::Output>;
    /// The vendor's failure reason.
    fn error(&self) -> Option<&str>;
    /// When the vendor created the task.
    fn created_at(&self) -> Option<SystemTime>;
    /// VMEG: the idempotency key the submit used (also echoed in webhooks).
    fn idempotency_key(&self) -> Option<&str>;
    /// Replaces the status.
    fn set_status(&mut self, status: TaskStatus);
    /// Sets the result.
    fn set_output(&mut self, output: Self::Output);
    /// Sets the failure reason.
    fn set_error(&mut self, error: String);
    /// Sets the vendor status string.
    fn set_vendor_status(&mut self, raw: String);
    /// Sets the creation time.
    fn set_created_at(&mut self, at: SystemTime);
    /// Sets the idempotency key.
    fn set_idempotency_key(&mut self, key: String);
}

/// Declares one job struct: the fields every job has, the fields of its kind, its
/// constructor and builders, and its [`Job`] implementation; written once for both kinds.
macro_rules! job_struct {
    (
        $(#[$meta:meta])*
        $name:ident, $kind:ident, $output:ty, $out_field:ident, $with_out:ident,
        { $($(#[$fmeta:meta])* $field:ident: $fty:ty,)* }
    ) => {
        $(#[$meta])*
        #[non_exhaustive]
        pub struct $name {
            /// Who runs it.
            pub provider: Provider,
            /// The vendor task id.
            pub id: JobId,
            /// Normalized status.
            pub status: TaskStatus,
            /// The vendor's own status string, when it gave one.
            pub vendor_status: Option<String>,
            /// The result, once the task succeeded and the vendor said what it is.
            pub $out_field: Option<$output>,
            /// The vendor's failure reason.
            pub error: Option<String>,
            /// When the vendor created the task.
            pub created_at: Option<SystemTime>,
            /// VMEG: the idempotency key the submit used (also echoed in webhooks).
            pub idempotency_key: Option<String>,
            $($(#[$fmeta])* pub $field: $fty,)*
        }

        impl $name {
            /// A job with an id and a status.
            pub fn new(provider: Provider, id: impl Into<JobId>, status: TaskStatus) -> Self {
                Self {
                    provider,
                    id: id.into(),
                    status,
                    vendor_status: None,
                    $out_field: None,
                    error: None,
                    created_at: None,
                    idempotency_key: None,
                    $($field: None,)*
                }
            }

            /// Sets the vendor status string.
            #[must_use]
            pub fn with_vendor_status(mut self, raw: impl Into<String>) -> Self {
                self.vendor_status = Some(raw.into());
                self
            }

            /// Sets the result.
            #[must_use]
            pub fn $with_out(mut self, output: $output) -> Self {
                self.$out_field = Some(output);
                self
            }

            /// Sets the failure reason.
            #[must_use]
            pub fn with_error(mut self, error: impl Into<String>) -> Self {
                self.error = Some(error.into());
                self
            }

            /// Sets the creation time.
            #[must_use]
            pub fn with_created_at(mut self, at: SystemTime) -> Self {
                self.created_at = Some(at);
                self
            }

            /// Sets the idempotency key.
            #[must_use]
            pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
                self.idempotency_key = Some(key.into());
                self
            }
        }

        impl sealed::Sealed for $name {}

        impl Job for $name {
            type Output = $output;
            const KIND: JobKind = JobKind::$kind;

            fn new(provider: Provider, id: JobId, status: TaskStatus) -> Self {
                $name::new(provider, id, status)
            }
            fn provider(&self) -> Provider {
                self.provider
            }
            fn id(&self) -> &JobId {
                &self.id
            }
            fn status(&self) -> &TaskStatus {
                &self.status
            }
            fn vendor_status(&self) -> Option<&str> {
                self.vendor_status.as_deref()
            }
            fn output(&self) -> Option<&$output> {
                self.$out_field.as_ref()
            }
            fn error(&self) -> Option<&str> {
                self.error.as_deref()
            }
            fn created_at(&self) -> Option<SystemTime> {
                self.created_at
            }
            fn idempotency_key(&self) -> Option<&str> {
                self.idempotency_key.as_deref()
            }
            fn set_status(&mut self, status: TaskStatus) {
                self.status = status;
            }
            fn set_output(&mut self, output: $output) {
                self.$out_field = Some(output);
            }
            fn set_error(&mut self, error: String) {
                self.error = Some(error);
            }
            fn set_vendor_status(&mut self, raw: String) {
                self.vendor_status = Some(raw);
            }
            fn set_created_at(&mut self, at: SystemTime) {
                self.created_at = Some(at);
            }
            fn set_idempotency_key(&mut self, key: String) {
                self.idempotency_key = Some(key);
            }
        }
    };
}

job_struct! {
    /// A submitted clone task.
    #[derive(Clone, Debug, PartialEq, Eq)]
    CloneJob, Clone, Voice, voice, with_voice,
    {
        /// VMEG: the name given to the voice (used to find it in the voice list).
        name: Option<String>,
    }
}

impl CloneJob {
    /// Sets the requested voice name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

job_struct! {
    /// A submitted speech task.
    #[derive(Clone, Debug, PartialEq)]
    SpeechJob, Speech, Speech, speech, with_speech,
    {}
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn provider_parses_and_prints() {
        assert_eq!("VMEG".parse::<Provider>().unwrap(), Provider::Vmeg);
        assert_eq!(" JimmyAI ".parse::<Provider>().unwrap(), Provider::JimmyAi);
        let e = "jimmy".parse::<Provider>().unwrap_err();
        assert_eq!(e.field(), "provider");
        assert!(e.reason().contains("\"vmeg\" or \"jimmyai\""), "{e}");
        let e = Error::from(e);
        assert!(matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "provider"));
        assert_eq!(Provider::Vmeg.api_key_var(), "VMEG_API_KEY");
        assert_eq!(Provider::JimmyAi.base_url_var(), "JIMMYAI_BASE_URL");
        assert_eq!(Provider::JimmyAi.to_string(), "jimmyai");
        assert_eq!(
            serde_json::to_string(&Provider::JimmyAi).unwrap(),
            "\"jimmyai\""
        );
        assert_eq!(
            serde_json::from_str::<Provider>("\"vmeg\"").unwrap(),
            Provider::Vmeg
        );
    }

    #[test]
    fn both_job_kinds_share_one_interface() {
        fn fail<J: Job>(id: &str) -> J {
            let mut job = J::new(Provider::Vmeg, JobId::new(id), TaskStatus::Running);
            job.set_status(TaskStatus::Failed);
            job.set_error("boom".into());
            job.set_idempotency_key("k".into());
            job
        }
        let c: CloneJob = fail("c1");
        let s: SpeechJob = fail("s1");
        assert_eq!(
            (CloneJob::KIND, SpeechJob::KIND),
            (JobKind::Clone, JobKind::Speech)
        );
        assert_eq!(JobKind::Speech.to_string(), "speech");
        assert_eq!(
            (
                c.status.clone(),
                c.error.as_deref(),
                c.idempotency_key.as_deref()
            ),
            (TaskStatus::Failed, Some("boom"), Some("k"))
        );
        assert_eq!((s.id.as_str(), s.error()), ("s1", Some("boom")));
        let mut c = c;
        c.set_output(Voice::new(Provider::Vmeg, "cv_1"));
        assert_eq!(c.voice.as_ref().map(|v| v.id.as_str()), Some("cv_1"));
    }

    #[test]
    fn terminal_statuses() {
        assert!(TaskStatus::Succeeded.is_terminal());
        assert!(TaskStatus::Failed.is_terminal());
        assert!(!TaskStatus::Queued.is_terminal());
        assert!(!TaskStatus::Running.is_terminal());
        assert!(!TaskStatus::Unknown("archived".into()).is_terminal());
        assert_eq!(TaskStatus::Unknown("x".into()).to_string(), "unknown(x)");
    }

    #[test]
    fn builders_set_fields() {
        let r = CloneRequest::new("https://a/b.wav")
            .name("n")
            .vmeg_engine(VmegEngine::V5)
            .synchronous(true);
        assert_eq!(r.name.as_deref(), Some("n"));
        assert_eq!(r.vmeg_engine, Some(VmegEngine::V5));
        let s = SpeechRequest::new("v", "hi")
            .add_line("v", "there")
            .pitch(3);
        assert_eq!(s.lines.len(), 2);
        assert_eq!(s.pitch, Some(3));
        assert_eq!("Happy".parse::<Emotion>().unwrap(), Emotion::Happy);
        assert_eq!("v5".parse::<VmegEngine>().unwrap(), VmegEngine::V5);
        let r = CloneRequest::new("u").engine(Provider::Vmeg, "V2").unwrap();
        assert_eq!(r.vmeg_engine, Some(VmegEngine::V2));
        let r = CloneRequest::new("u")
            .engine(Provider::JimmyAi, "v2")
            .unwrap();
        assert_eq!(r.sound_version, Some(SoundVersion::V2));
        let e = CloneRequest::new("u")
            .engine(Provider::JimmyAi, "V5")
            .unwrap_err();
        assert_eq!(
            (e.field(), e.reason()),
            ("sound_version", "\"V5\" is not v1 or v2")
        );
    }
}
