//! The vendors' settings as enums (engines, formats, emotions, subtitles), and the error
//! their `FromStr` returns.

use std::fmt;
use std::str::FromStr;

use super::Excerpt;

/// Why a string is not a value of one of this crate's enums ([`Provider`](crate::Provider), [`VmegEngine`],
/// [`SoundVersion`], [`OutputFormat`], [`Emotion`]): what `FromStr` returns.
///
/// It converts into an [`Error`](crate::Error) of kind
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) (same field, same
/// reason), so `?` still works in functions returning [`Error`](crate::Error).
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
                format!("{:?} is not one of V1..V5", Excerpt::of(s)),
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
                format!("{:?} is not v1 or v2", Excerpt::of(s)),
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
                format!("{:?} is not wav, mp3 or m4a", Excerpt::of(s)),
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
            .ok_or_else(|| {
                ParseError::new(
                    "emotion",
                    format!("{:?} is not a JimmyAI emotion", Excerpt::of(s)),
                )
            })
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
