//! What callers send: a clone request and a speech request (plain builders; the provider's
//! rules check them before anything is sent).

#[cfg(feature = "upload")]
use std::path::PathBuf;

#[cfg(feature = "upload")]
use bytes::Bytes;
#[cfg(feature = "upload")]
use tokio::io::AsyncRead;

use super::{
    AudioSource, Emotion, OutputFormat, Provider, SoundVersion, SubtitleMode, VmegEngine, VoiceId,
};

/// Ask a provider to clone a voice from a reference recording: at a URL
/// ([`CloneRequest::new`]) or, with the `upload` feature, on this machine
/// (`CloneRequest::from_file`, `from_bytes`, `from_reader`: uploaded first, see
/// [`AudioSource`]).
///
/// Fields that only one provider understands are rejected with `InvalidInput` when sent to
/// the other one: a value the caller set is never silently dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CloneRequest {
    /// The reference recording. A URL: VMEG HTTPS; JimmyAI public http(s), ASCII,
    /// audio/video extension. A local recording is uploaded first.
    pub audio: AudioSource,
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
    /// A request with only the reference audio's URL set.
    pub fn new(audio_url: impl Into<String>) -> Self {
        Self::with_audio(AudioSource::Url(audio_url.into()))
    }

    /// A request to clone from a file on this machine (streamed to the provider's upload
    /// first; its extension says its format). Requires the `upload` feature.
    #[cfg(feature = "upload")]
    pub fn from_file(path: impl Into<PathBuf>) -> Self {
        Self::with_audio(AudioSource::File(path.into()))
    }

    /// A request to clone from a recording in memory named `file_name` (its extension says
    /// its format). Requires the `upload` feature.
    #[cfg(feature = "upload")]
    pub fn from_bytes(file_name: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        Self::with_audio(AudioSource::Bytes {
            file_name: file_name.into(),
            bytes: bytes.into(),
        })
    }

    /// A request to clone from a recording read once from `reader` (spooled to a temporary
    /// file in [`std::env::temp_dir`] as it is read, then uploaded: see
    /// [`AudioSource::reader`] for what that holds on a tmpfs); `file_name`'s extension says
    /// its format. Requires the `upload` feature.
    #[cfg(feature = "upload")]
    pub fn from_reader(
        file_name: impl Into<String>,
        reader: impl AsyncRead + Send + Unpin + 'static,
    ) -> Self {
        Self::with_audio(AudioSource::reader(file_name, reader))
    }

    /// A request with only the reference recording set.
    pub fn with_audio(audio: AudioSource) -> Self {
        Self {
            audio,
            name: None,
            language: None,
            sample_text: None,
            vmeg_engine: None,
            sound_version: None,
            synchronous: None,
            idempotency_key: None,
        }
    }

    /// The reference recording's URL, when the provider is to fetch it.
    pub fn audio_url(&self) -> Option<&str> {
        self.audio.url()
    }

    /// The same request with the recording replaced by `url` (what the client submits after
    /// uploading a local recording).
    #[cfg(feature = "upload")]
    pub(crate) fn with_audio_url(&self, url: &url::Url) -> Self {
        let mut r = self.clone();
        r.audio = AudioSource::Url(url.to_string());
        r
    }

    /// Sets the voice name (VMEG). Without one, the client names a VMEG voice
    /// `voiceclone-` and the first 12 hex digits of the SHA-256 of the submit's idempotency
    /// key, so that `reconcile` can find a lost clone's voice by its key.
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

    /// Uses VMEG's synchronous clone endpoint: the answer is the finished job with its voice.
    /// An answer carrying the voice but no `taskId` (not marked required there) is taken as
    /// the finished job under an id that names no task ([`crate::JobId::names_no_task`]):
    /// later calls with that id are refused with nothing sent.
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
    /// VMEG `voiceId` or JimmyAI `modelId`: a typed [`VoiceId`] (a [`Voice`](super::Voice)'s
    /// id, or parsed from its stored form) or a bare vendor id (`"cv_1"`).
    pub voice_id: VoiceId,
    /// The text to speak.
    pub text: String,
}

impl SpeechLine {
    /// A line.
    pub fn new(voice_id: impl Into<VoiceId>, text: impl Into<String>) -> Self {
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
    /// The request's settings with no lines: a long text's parts are these plus their own
    /// lines. Every field is named, so a new setting cannot be left out silently.
    #[cfg(feature = "long-text")]
    pub(crate) fn settings_only(&self) -> Self {
        let Self {
            lines: _,
            language,
            output_format,
            trim,
            emotion_weight,
            emotion_prompt,
            synchronous,
            idempotency_key,
            speed,
            volume,
            pitch,
            emotion,
            subtitles,
            sound_version,
        } = self;
        Self {
            lines: Vec::new(),
            language: language.clone(),
            output_format: *output_format,
            trim: *trim,
            emotion_weight: *emotion_weight,
            emotion_prompt: emotion_prompt.clone(),
            synchronous: *synchronous,
            idempotency_key: idempotency_key.clone(),
            speed: *speed,
            volume: *volume,
            pitch: *pitch,
            emotion: *emotion,
            subtitles: *subtitles,
            sound_version: *sound_version,
        }
    }

    /// Each line's voice id checked for `provider` as of `now` (its provider, and a JimmyAI
    /// `modelId` known to be unactivated past its deadline): the check `Client::synthesize`
    /// runs before sending. The field names the line when there are several.
    pub(crate) fn check_voice_ids(
        &self,
        provider: Provider,
        now: std::time::SystemTime,
    ) -> Result<(), crate::error::Error> {
        for (i, line) in self.lines.iter().enumerate() {
            let field = if self.lines.len() == 1 {
                "voice_id".to_owned()
            } else {
                format!("lines[{i}].voice_id")
            };
            line.voice_id.check(&field, provider, now)?;
        }
        Ok(())
    }

    /// A request for one line.
    pub fn new(voice_id: impl Into<VoiceId>, text: impl Into<String>) -> Self {
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
    pub fn add_line(mut self, voice_id: impl Into<VoiceId>, text: impl Into<String>) -> Self {
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

    /// VMEG synchronous endpoint: the answer is the finished job with its audio. An answer
    /// carrying audio but no `taskId` (not marked required there) is taken as the finished
    /// job under an id that names no task ([`crate::JobId::names_no_task`]).
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::model::Provider;

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
