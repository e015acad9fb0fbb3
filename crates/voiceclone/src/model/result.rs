//! What finished tasks make: a voice, or speech.

use std::time::{Duration, SystemTime};

use url::Url;

use super::{Provider, VoiceId};

/// A cloned voice, usable for speech.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Voice {
    /// Who holds it.
    pub provider: Provider,
    /// VMEG `voiceId` (`cv_*`) or JimmyAI `modelId`, typed with its provider (and, for
    /// JimmyAI, its activation state): store its string form, pass it to `SpeechRequest`.
    pub id: VoiceId,
    /// VMEG voice name; JimmyAI voices have none.
    pub name: Option<String>,
    /// Preview audio (JimmyAI preview `audioUrl`; VMEG when the list carries one).
    pub preview_url: Option<Url>,
    /// When the vendor created it, if said.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "super::serde_form::opt_time")
    )]
    pub created_at: Option<SystemTime>,
    /// JimmyAI: a `modelId` expires three days after its preview unless a successful
    /// production call (`synthesize`, the task completed) activates it first; this is that
    /// deadline, counted from the preview task's creation time: the earliest the window can
    /// end (JimmyAI may count from the preview's completion), so activate before it. Past it
    /// the id is still sent, with a warning, for a day, then refused locally (see
    /// [`crate::Activation::Unactivated`]). `None` for VMEG, for activated voices, and when
    /// the preview's creation time is unknown or before 2020 (a date JimmyAI got wrong
    /// would expire a `modelId` just made).
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "super::serde_form::opt_time")
    )]
    pub activate_by: Option<SystemTime>,
}

/// How long an unactivated JimmyAI `modelId` stays usable after its preview.
pub const JIMMYAI_ACTIVATION_WINDOW: Duration = Duration::from_secs(3 * 24 * 60 * 60);

impl Voice {
    /// A voice with only its id (typed with `provider`).
    pub fn new(provider: Provider, id: impl Into<String>) -> Self {
        Self {
            provider,
            id: VoiceId::typed(provider, id),
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

    /// Sets the activation deadline (and marks a JimmyAI id unactivated until then). A VMEG
    /// voice never expires: its id keeps no state (see [`VoiceId::with_activation`]), so
    /// the deadline is only recorded here, never enforced.
    #[must_use]
    pub fn with_activate_by(mut self, at: SystemTime) -> Self {
        // In whole seconds, as the id's stored form holds it: the two agree.
        let at = super::ids::whole_seconds(at);
        self.activate_by = Some(at);
        self.id = self
            .id
            .with_activation(super::Activation::Unactivated { activate_by: at });
        self
    }
}

/// One synthesized segment (VMEG returns one per line).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct SpeechSegment {
    /// The audio, when this line succeeded.
    pub url: Option<Url>,
    /// Its length, when said.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "super::serde_form::opt_secs")
    )]
    pub duration: Option<Duration>,
    /// The vendor's per-line error (VMEG's `errorMessage`, when not empty). Without a
    /// `url` the line failed, as the vendor says; beside a `url` it is a remark, and the
    /// audio is the line's.
    pub error: Option<String>,
    /// Why this crate could not read the line, when it has neither a `url` nor the vendor's
    /// `error`: its result is not an object, or its `uri` is missing, empty, relative or not
    /// http(s) (a VMEG `errorMessage` beside such a `uri` is quoted here as a remark, not
    /// kept as `error`). Not a failure the vendor stated: the task may hold the line's audio,
    /// so read the task again rather than submitting it again (a new task is billed again).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub unreadable: Option<String>,
}

impl SpeechSegment {
    /// A segment. One with neither `url` nor `error` is [`unreadable`](Self::unreadable),
    /// for a reason that says so; [`SpeechSegment::with_unreadable`] names a better one.
    pub fn new(url: Option<Url>, duration: Option<Duration>, error: Option<String>) -> Self {
        let unreadable = (url.is_none() && error.is_none())
            .then(|| "its result has no usable audio URL and no error".to_owned());
        Self {
            url,
            duration,
            error,
            unreadable,
        }
    }

    /// Sets why the line could not be read (only kept when it has neither `url` nor
    /// `error`: a line with either was read).
    #[must_use]
    pub fn with_unreadable(mut self, why: impl Into<String>) -> Self {
        if self.url.is_none() && self.error.is_none() {
            self.unreadable = Some(why.into());
        }
        self
    }

    /// Whether the vendor said this line failed: its `error`, and no audio.
    pub fn failed(&self) -> bool {
        self.url.is_none() && self.error.is_some()
    }
}

/// Finished speech.
#[derive(Clone, Debug, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Speech {
    /// The URLs of the lines that have audio, in line order. Not one per line when a line
    /// failed or could not be read (VMEG: a task `finished` with some lines' audio): then
    /// `audio_urls[i]` need not be line `i`'s, and [`segments`](Self::segments) is what to
    /// read (one per result the answer lists); [`Speech::is_complete`] says whether every
    /// line the answer lists has audio, and, where [`lines_sent`](Self::lines_sent) is
    /// known, whether the answer lists every line sent.
    pub audio_urls: Vec<Url>,
    /// JimmyAI subtitle file, when asked for.
    pub subtitle_url: Option<Url>,
    /// Per-line detail (VMEG), one per result the answer lists, in line order, including
    /// lines that failed or could not be read: `segments[i]` is line `i` when the answer
    /// lists every line sent, which VMEG does not document (see
    /// [`lines_sent`](Self::lines_sent)). Empty for JimmyAI (one audio per task).
    pub segments: Vec<SpeechSegment>,
    /// How many lines the request sent, when this crate has it at hand: the answer to a
    /// synchronous [`Client::synthesize`](crate::Client::synthesize), and each part of
    /// `Client::synthesize_long` (feature `long-text`). `None` for speech read
    /// by a task id ([`Client::wait_for_speech`](crate::Client::wait_for_speech),
    /// [`Client::speech_status`](crate::Client::speech_status)): compare `segments.len()`
    /// with the number of lines you sent yourself.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub lines_sent: Option<usize>,
}

impl Speech {
    /// Speech from a list of audio URLs.
    pub fn new(audio_urls: Vec<Url>) -> Self {
        Self {
            audio_urls,
            subtitle_url: None,
            segments: Vec::new(),
            lines_sent: None,
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

    /// Sets how many lines the request sent ([`lines_sent`](Self::lines_sent)).
    #[must_use]
    pub fn with_lines_sent(mut self, lines: usize) -> Self {
        self.lines_sent = Some(lines);
        self
    }

    /// Whether every line the answer lists has audio: each of [`segments`](Self::segments)
    /// has a URL (or, with no segments, as from JimmyAI, there is an audio URL), and, when
    /// [`lines_sent`](Self::lines_sent) is known, the answer lists exactly that many lines
    /// (one result per line is not documented: a shorter list may have dropped a failed
    /// line, so `segments[i]` need not be line `i`). When not, [`audio_urls`](Self::audio_urls)
    /// is not to be paired with the lines: read `segments` (`segments[i]` is line `i` when
    /// the answer lists every line) to find which lines have audio. Synthesize again only
    /// the lines the vendor said failed ([`SpeechSegment::failed`]). A line with neither
    /// audio nor the vendor's error ([`SpeechSegment::unreadable`]) may have audio at the
    /// vendor: read the task again (or later) rather than synthesizing it again, which bills
    /// it twice. Read by a task id, `lines_sent` is not known: compare `segments.len()` with
    /// the number of lines you sent.
    ///
    /// ```
    /// use voiceclone::{Speech, SpeechSegment};
    ///
    /// # fn main() -> Result<(), url::ParseError> {
    /// let a: url::Url = "https://cdn.example.com/a.m4a".parse()?;
    /// let c: url::Url = "https://cdn.example.com/c.m4a".parse()?;
    /// let speech = Speech::new(vec![a.clone(), c.clone()]).with_segments(vec![
    ///     SpeechSegment::new(Some(a.clone()), None, None),
    ///     SpeechSegment::new(None, None, Some("bad text".into())),
    ///     SpeechSegment::new(Some(c.clone()), None, None),
    ///     SpeechSegment::new(None, None, None).with_unreadable("its uri is relative"),
    /// ]);
    /// assert!(!speech.is_complete());
    /// // Line 3's audio is `audio_urls[1]`: go by `segments`.
    /// assert_eq!(speech.segments[2].url.as_ref(), Some(&c));
    /// let lines = |keep: fn(&SpeechSegment) -> bool| -> Vec<usize> {
    ///     let segments = speech.segments.iter().enumerate();
    ///     segments.filter(|(_, s)| keep(s)).map(|(i, _)| i + 1).collect()
    /// };
    /// // The vendor said line 2 failed: synthesize it again.
    /// assert_eq!(lines(SpeechSegment::failed), [2]);
    /// // Line 4 could not be read, and the vendor may have made its audio: read the task
    /// // again later, do not synthesize it again (that bills it twice).
    /// assert_eq!(lines(|s| s.unreadable.is_some()), [4]);
    /// // Two results, both with audio, for three lines sent: not complete either.
    /// let short = Speech::new(vec![a.clone(), c.clone()])
    ///     .with_segments(vec![
    ///         SpeechSegment::new(Some(a), None, None),
    ///         SpeechSegment::new(Some(c), None, None),
    ///     ])
    ///     .with_lines_sent(3);
    /// assert!(!short.is_complete());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_complete(&self) -> bool {
        if self.segments.is_empty() {
            return !self.audio_urls.is_empty();
        }
        self.lines_sent.is_none_or(|n| n == self.segments.len())
            && self.segments.iter().all(|s| s.url.is_some())
    }

    /// Whether the answer lists another number of lines than were sent (when known).
    pub(crate) fn lists_other_than_sent(&self) -> bool {
        !self.segments.is_empty() && self.lines_sent.is_some_and(|n| n != self.segments.len())
    }
}
