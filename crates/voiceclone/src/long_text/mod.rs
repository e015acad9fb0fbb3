//! Long texts: one [`SpeechRequest`] too long for one task, split into the requests a
//! provider takes ([`LongSpeechPlan`]), at paragraph and sentence boundaries where it can.
//!
//! - **JimmyAI**: one production task per part, at most [`JIMMYAI_PART_MAX_CHARS`] Unicode
//!   scalar values each *counting* `<#x#>` pause markers (what the generated request type
//!   enforces, one under the documented 10,000 as the Chinese page says "under 10,000").
//!   Every task also pays a per-task voice fee (its price is not published), so the plan has
//!   the fewest parts possible, and among the cuts that keep that number, the best
//!   boundaries (blank line, then sentence end, then word gap; a grapheme boundary only as
//!   the last resort, never inside a pause marker).
//! - **VMEG**: one TTS task per part of at most [`VMEG_MAX_LINES_PER_PART`] lines (its
//!   documented batch limit), each line at most [`VMEG_LINE_MAX_CHARS`] scalar values. VMEG
//!   documents no per-line limit (UNKNOWN); this one is this crate's choice, about a
//!   paragraph, and [`SplitLimits`] changes it. By default each line ends at the best
//!   boundary in reach (short paragraphs share a line), which reads best but may take a few
//!   more lines than needed. VMEG publishes "about 2 credits per 200 characters"; whether it
//!   rounds per line, per task or per account is UNKNOWN, so more lines may cost more.
//!   `fewest: true` in [`SplitLimits`] gives the fewest lines.
//!
//! Concatenating the parts' texts gives back the request's text exactly; every part has
//! something to speak (a pause marker, blanks or invisible characters stay with the speech
//! before them). A line (a JimmyAI part, a VMEG line) of punctuation only, such as a `* * *`
//! scene break, joins a neighbouring line or takes a letter or a digit from one. It is left
//! without one only when it fits beside neither neighbouring line and no allowed cut inside
//! a neighbour that leaves a letter or digit on both sides brings one within the limit: a
//! run with no letter or digit about a line long or longer (600 `=` between one-word
//! paragraphs at VMEG's 500-character lines). A JimmyAI part ends straight after a `<#x#>`
//! pause marker only when no other cut keeps the count: a sentence end, or else the cut past
//! the next word, is taken instead, so the marker keeps speech on both sides. A VMEG long
//! text is submitted asynchronously: `synchronous(true)` is refused.
//! Every part is checked by the provider's rules when the plan is made, so a text that would
//! be refused is refused before anything is sent.
//!
//! ```
//! use voiceclone::long_text::LongSpeechPlan;
//! use voiceclone::{Provider, SpeechRequest};
//!
//! let text = "A sentence of a long story. ".repeat(1000); // 28,000 characters
//! let plan = LongSpeechPlan::new(Provider::JimmyAi, &SpeechRequest::new("model_1", &text))?;
//! assert_eq!(plan.parts().len(), 3); // the fewest tasks of at most 9,999 characters
//! assert_eq!(plan.parts().iter().map(|p| p.text()).collect::<String>(), text);
//! let first = plan.request(0).expect("part 0"); // what `Client::synthesize` takes
//! assert_eq!(first.lines.len(), 1);
//! # Ok::<(), voiceclone::Error>(())
//! ```
//!
//! [`crate::Client::synthesize_long`] submits a plan with bounded concurrency and waits for
//! every part. A caller that must survive a crash (pay for no part twice) keeps its own
//! record: submit each [`LongSpeechPlan::request`] itself, store the part's VMEG idempotency
//! key and submit time *before* sending it, and the job id after; on a rerun, resend a VMEG
//! part whose answer never came with the same key ([`crate::Client::resend_speech`]); never
//! resend a JimmyAI one blindly. The CLI's `speak --text-file` does exactly that.

mod outcome;
mod split;

pub use outcome::PartOutcome;

use crate::error::{Error, ErrorKind};
use crate::estimate::Estimate;
use crate::model::{Provider, SpeechLine, SpeechRequest};
use crate::provider::{jimmyai, vmeg};

/// JimmyAI: the most Unicode scalar values of one part, pause markers counted.
pub const JIMMYAI_PART_MAX_CHARS: usize = 9_999;
/// VMEG: the most lines of one TTS task (documented).
pub const VMEG_MAX_LINES_PER_PART: usize = 50;
/// VMEG: the most Unicode scalar values of one line (VMEG documents none; this crate's
/// choice).
pub const VMEG_LINE_MAX_CHARS: usize = 500;

/// How a long text is cut: the size of a line and how many lines make a part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SplitLimits {
    /// The most Unicode scalar values in one line (pause markers counted).
    pub max_line_chars: usize,
    /// The most lines in one part (one task).
    pub max_lines: usize,
    /// As few lines as possible rather than lines ending at the best boundary in reach:
    /// JimmyAI's default (each line a task, each task paid for); for VMEG, whose rounding
    /// per line or task is UNKNOWN, the choice that cannot cost more.
    pub fewest: bool,
}

impl SplitLimits {
    /// The limits this crate uses for `provider` (see the module docs).
    ///
    /// ```
    /// use voiceclone::long_text::{LongSpeechPlan, SplitLimits};
    /// use voiceclone::{Provider, SpeechRequest};
    ///
    /// assert_eq!(SplitLimits::for_provider(Provider::JimmyAi).max_lines, 1);
    ///
    /// // VMEG: lines end at the best boundary in reach, short paragraphs sharing one;
    /// // `fewest` never takes more lines (how VMEG rounds per line or task is UNKNOWN).
    /// let script = "A short line of dialogue.\n\n".repeat(100);
    /// let req = SpeechRequest::new("cv_1", &script);
    /// let lines = |limits| -> Result<usize, voiceclone::Error> {
    ///     let plan = LongSpeechPlan::with_limits(Provider::Vmeg, &req, limits)?;
    ///     Ok(plan.parts().iter().map(|p| p.lines.len()).sum())
    /// };
    /// let best_boundary = SplitLimits::for_provider(Provider::Vmeg);
    /// let mut fewest = best_boundary;
    /// fewest.fewest = true;
    /// assert!(lines(best_boundary)? < 100);
    /// assert!(lines(fewest)? <= lines(best_boundary)?);
    /// # Ok::<(), voiceclone::Error>(())
    /// ```
    pub const fn for_provider(provider: Provider) -> Self {
        match provider {
            Provider::JimmyAi => Self {
                max_line_chars: JIMMYAI_PART_MAX_CHARS,
                max_lines: 1,
                fewest: true,
            },
            Provider::Vmeg => Self {
                max_line_chars: VMEG_LINE_MAX_CHARS,
                max_lines: VMEG_MAX_LINES_PER_PART,
                fewest: false,
            },
        }
    }

    /// The same limits with lines of at most `chars` scalar values (at least 1).
    ///
    /// ```
    /// use voiceclone::long_text::SplitLimits;
    /// let l = SplitLimits::for_provider(voiceclone::Provider::Vmeg).with_max_line_chars(200);
    /// assert_eq!(l.max_line_chars, 200);
    /// ```
    #[must_use]
    pub const fn with_max_line_chars(mut self, chars: usize) -> Self {
        self.max_line_chars = if chars == 0 { 1 } else { chars };
        self
    }

    /// The same limits with at most `lines` lines per part (at least 1).
    #[must_use]
    pub const fn with_max_lines(mut self, lines: usize) -> Self {
        self.max_lines = if lines == 0 { 1 } else { lines };
        self
    }
}

/// One part of a plan: the lines of one task, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LongPart {
    /// Its position in the plan, from 0.
    pub index: usize,
    /// Its lines (JimmyAI: exactly one).
    pub lines: Vec<String>,
}

impl LongPart {
    /// Its text: the lines concatenated.
    pub fn text(&self) -> String {
        self.lines.concat()
    }

    /// Its length in Unicode scalar values, pause markers counted.
    pub fn chars(&self) -> usize {
        self.lines.iter().map(|l| l.chars().count()).sum()
    }

    /// Its length in Unicode scalar values without well-formed `<#x#>` pause markers
    /// (JimmyAI's billable characters).
    pub fn chars_without_pauses(&self) -> usize {
        self.lines
            .iter()
            .map(|l| jimmyai::rules::count_without_pauses(l).unwrap_or_else(|_| l.chars().count()))
            .sum()
    }

    /// SHA-256 of its text, lowercase hex: what a record of the part can check it by.
    pub fn text_sha256(&self) -> String {
        crate::digest::sha256_hex(self.lines.iter().map(|l| l.as_bytes()))
    }
}

/// A [`SpeechRequest`] with one long line, split into the requests `provider` takes. See
/// the module docs.
#[derive(Clone, Debug, PartialEq)]
pub struct LongSpeechPlan {
    provider: Provider,
    // The request's settings without its line: each part's request is these plus the
    // part's lines, so making one costs the part, not the whole text again.
    settings: SpeechRequest,
    voice: crate::model::VoiceId,
    limits: SplitLimits,
    parts: Vec<LongPart>,
    text_sha256: String,
}

impl LongSpeechPlan {
    /// Splits `req`'s one line to `provider`'s limits ([`SplitLimits::for_provider`]) and
    /// checks every part by the provider's rules. `InvalidInput` naming the field when the
    /// request has other than one line, sets a VMEG idempotency key (one key cannot serve
    /// several tasks) or asks VMEG for `synchronous` answers (a part's audio would be lost),
    /// has a text that cannot be cut to the limits, or has a part the provider would refuse.
    pub fn new(provider: Provider, req: &SpeechRequest) -> Result<Self, Error> {
        Self::with_limits(provider, req, SplitLimits::for_provider(provider))
    }

    /// [`LongSpeechPlan::new`] with other limits (JimmyAI: one line per part whatever
    /// `limits.max_lines` says, at most [`JIMMYAI_PART_MAX_CHARS`]; VMEG: at most
    /// [`VMEG_MAX_LINES_PER_PART`] lines).
    pub fn with_limits(
        provider: Provider,
        req: &SpeechRequest,
        limits: SplitLimits,
    ) -> Result<Self, Error> {
        let limits = match provider {
            Provider::JimmyAi => SplitLimits {
                max_line_chars: limits.max_line_chars.min(JIMMYAI_PART_MAX_CHARS),
                max_lines: 1,
                ..limits
            },
            Provider::Vmeg => SplitLimits {
                max_lines: limits.max_lines.min(VMEG_MAX_LINES_PER_PART),
                ..limits
            },
        };
        let [line] = req.lines.as_slice() else {
            return Err(Error::invalid_input(
                "lines",
                format!(
                    "a long text is one line (its text is split into parts), got {} lines",
                    req.lines.len()
                ),
            )
            .with_provider(provider));
        };
        if req.idempotency_key.is_some() {
            return Err(Error::invalid_input(
                "idempotency_key",
                "one key cannot serve the several tasks of a long text; leave it unset (each part gets its own)",
            )
            .with_provider(provider));
        }
        if provider == Provider::Vmeg && req.synchronous == Some(true) {
            // A synchronous answer may carry a part's audio and no taskId: the run would
            // wait past that audio, and every such part would share one id naming no task,
            // so paid parts would be lost. The CLI refuses `--sync` with `--text-file` alike.
            return Err(Error::invalid_input(
                "synchronous",
                "a long text's parts are submitted asynchronously and waited for; leave it unset (or false)",
            )
            .with_provider(provider));
        }
        let text = line.text.as_str();
        let chosen = split::partition(
            text,
            provider == Provider::JimmyAi,
            limits.max_line_chars,
            limits.fewest,
        )
        .map_err(|at| {
            Error::invalid_input(
                "text",
                format!(
                    "cannot be cut into pieces of at most {} characters: the stretch from character {} has no place to cut (a run of whitespace, pause markers or invisible characters, or one grapheme cluster, longer than the limit: a part starts only where there is something to speak)",
                    limits.max_line_chars, at.at_char
                ),
            )
            .with_provider(provider)
        })?;
        let lines = split::pieces(text, &chosen);
        let parts: Vec<LongPart> = lines
            .chunks(limits.max_lines.max(1))
            .enumerate()
            .map(|(index, chunk)| LongPart {
                index,
                lines: chunk.iter().map(|l| (*l).to_owned()).collect(),
            })
            .collect();
        let plan = Self {
            provider,
            settings: req.settings_only(),
            voice: line.voice_id.clone(),
            limits,
            parts,
            text_sha256: crate::digest::sha256_hex([text.as_bytes()]),
        };
        if plan.parts.is_empty() {
            return Err(
                Error::invalid_input("text", "must not be empty or blank").with_provider(provider)
            );
        }
        for part in &plan.parts {
            let r = plan.part_request(part);
            let checked = match provider {
                Provider::Vmeg => vmeg::rules::speech_request(&r),
                Provider::JimmyAi => jimmyai::rules::speech_request(&r),
            };
            checked.map_err(|e| plan.locate(e, part))?;
        }
        Ok(plan)
    }

    /// A part's refusal in the caller's terms: VMEG's rules name a line of the part
    /// (`lines[11].text`), the caller passed one text (the field `text`, as for JimmyAI
    /// and the plan's own refusals); the note says which part and, for a control character,
    /// at which character of the caller's text it is.
    fn locate(&self, e: Error, part: &LongPart) -> Error {
        let mut start = self.chars_before(part.index);
        let mut lines = part.lines.as_slice();
        let mut control = false;
        let e = match e.kind() {
            ErrorKind::InvalidInput { field, reason } => {
                control = reason.contains("control character");
                let line = field
                    .strip_prefix("lines[")
                    .and_then(|f| f.strip_suffix("].text"))
                    .and_then(|k| k.parse::<usize>().ok());
                match line {
                    Some(k) => {
                        let before = part.lines.get(..k).unwrap_or_default();
                        start =
                            start.saturating_add(before.iter().map(|l| l.chars().count()).sum());
                        lines = part
                            .lines
                            .get(k..)
                            .and_then(|l| l.get(..1))
                            .unwrap_or_default();
                        Error::invalid_input("text", reason.clone())
                    }
                    None => e,
                }
            }
            _ => e,
        };
        let control = lines
            .iter()
            .filter(|_| control)
            .flat_map(|l| l.chars())
            .enumerate()
            .find(|&(_, c)| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            .map(|(at, c)| {
                format!(
                    "; the control character at character {} (U+{:04X})",
                    start.saturating_add(at),
                    u32::from(c)
                )
            });
        e.with_provider(self.provider).with_note(format!(
            "in part {} of {} (characters {}..){}",
            part.index.saturating_add(1),
            self.parts.len(),
            self.chars_before(part.index),
            control.unwrap_or_default()
        ))
    }

    fn chars_before(&self, index: usize) -> usize {
        self.parts.iter().take(index).map(LongPart::chars).sum()
    }

    fn part_request(&self, part: &LongPart) -> SpeechRequest {
        SpeechRequest {
            lines: part
                .lines
                .iter()
                .map(|t| SpeechLine::new(self.voice.clone(), t.as_str()))
                .collect(),
            ..self.settings.clone()
        }
    }

    /// The provider the plan is for.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The limits it was cut to.
    pub fn limits(&self) -> SplitLimits {
        self.limits
    }

    /// The parts, in order (never empty).
    pub fn parts(&self) -> &[LongPart] {
        &self.parts
    }

    /// The request of part `index`: the original request's settings with the part's lines
    /// (no idempotency key: set one per part, and keep it to resend that part). `None` past
    /// the last part.
    pub fn request(&self, index: usize) -> Option<SpeechRequest> {
        self.parts.get(index).map(|p| self.part_request(p))
    }

    /// Every part's request, in order (see [`LongSpeechPlan::request`]).
    pub fn requests(&self) -> Vec<SpeechRequest> {
        self.parts.iter().map(|p| self.part_request(p)).collect()
    }

    /// The billable units of the whole plan, one task per part, by the provider's
    /// published rules ([`Estimate::speech`] of [`LongSpeechPlan::requests`]); nothing is
    /// sent.
    ///
    /// ```
    /// use voiceclone::long_text::LongSpeechPlan;
    /// use voiceclone::{Provider, SpeechRequest};
    ///
    /// let text = "Word ".repeat(4_000); // 20,000 characters
    /// let plan = LongSpeechPlan::new(Provider::JimmyAi, &SpeechRequest::new("m1", &text))?;
    /// let e = plan.estimate()?;
    /// assert_eq!(e.tasks, 3); // three production tasks: three per-task voice fees
    /// # Ok::<(), voiceclone::Error>(())
    /// ```
    pub fn estimate(&self) -> Result<Estimate, Error> {
        Estimate::speech(self.provider, &self.requests())
    }

    /// SHA-256 of the whole text, lowercase hex: a stored plan's record can tell a changed
    /// text by it.
    pub fn text_sha256(&self) -> &str {
        &self.text_sha256
    }

    /// The number of lines across all parts.
    pub fn line_count(&self) -> usize {
        self.parts.iter().map(|p| p.lines.len()).sum()
    }

    /// The text's length in Unicode scalar values, pause markers counted.
    pub fn chars(&self) -> usize {
        self.parts.iter().map(LongPart::chars).sum()
    }
}

#[cfg(test)]
mod tests;
