//! Result audio that plays: mono 16-bit PCM WAV files of a soft tone whose
//! length follows the text, made when they are downloaded (nothing is stored
//! per task). The simulator cannot encode MP3 or AAC faithfully, so every
//! generated result is WAV (`audio/wav`, a `.wav` name) whatever format was
//! requested.

use std::time::Duration;

/// Sample rate of generated audio.
pub(crate) const SAMPLE_RATE: u32 = 8_000;
/// Duration per character of text.
pub(crate) const PER_CHAR: Duration = Duration::from_millis(60);
/// Shortest generated audio.
pub(crate) const MIN_DURATION: Duration = Duration::from_millis(500);
/// Longest generated audio.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(30);
const TONE_HZ: f64 = 220.0;
const AMPLITUDE: f64 = 0.2 * i16::MAX as f64;

/// How long the audio of `text` lasts: 60 ms per character, within
/// [0.5 s, 30 s].
pub(crate) fn duration_for(text: &str) -> Duration {
    let chars = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
    PER_CHAR
        .checked_mul(chars)
        .unwrap_or(MAX_DURATION)
        .clamp(MIN_DURATION, MAX_DURATION)
}

/// A WAV file (RIFF, PCM, mono, 16-bit, 8 kHz) of a 220 Hz tone lasting
/// [`duration_for`]`(text)`, with 20 ms fades so it does not click.
pub(crate) fn wav_for(text: &str) -> Vec<u8> {
    let d = duration_for(text);
    // At most 30 s * 8000 = 240,000 samples: no overflow anywhere below.
    let samples = (d.as_secs_f64() * f64::from(SAMPLE_RATE)).round() as u32;
    let data_len = samples * 2;
    let mut out = Vec::with_capacity(44 + data_len as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVE");
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&SAMPLE_RATE.to_le_bytes());
    out.extend_from_slice(&(SAMPLE_RATE * 2).to_le_bytes()); // byte rate
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    let fade = f64::from(SAMPLE_RATE) * 0.02;
    let n = f64::from(samples);
    for i in 0..samples {
        let t = f64::from(i);
        let env = (t / fade).min((n - t) / fade).clamp(0.0, 1.0);
        let v = (2.0 * std::f64::consts::PI * TONE_HZ * t / f64::from(SAMPLE_RATE)).sin();
        let s = (v * env * AMPLITUDE) as i16;
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// SubRip subtitles: the whole text as one cue spanning the audio.
pub(crate) fn srt_for(text: &str) -> String {
    let d = duration_for(text);
    let ms = d.as_millis();
    format!(
        "1\n00:00:00,000 --> {:02}:{:02}:{:02},{:03}\n{}\n",
        ms / 3_600_000,
        (ms / 60_000) % 60,
        (ms / 1000) % 60,
        ms % 1000,
        text.replace(['\r', '\n'], " ")
    )
}

/// Chunks [`wav_duration_ms`] reads before giving up: real WAVs put `fmt ` and
/// `data` among their first few (after `LIST`, `bext`, `JUNK` and the like).
pub(crate) const WAV_MAX_CHUNKS: usize = 64;

/// The duration of a RIFF/WAVE file in milliseconds, from its `fmt ` byte
/// rate and its `data` size (the simulator's own small reader): a VMEG
/// material's `duration`, and the length a JimmyAI clone of a stored upload checks.
pub(crate) fn wav_duration_ms(b: &[u8]) -> Option<u64> {
    if b.get(0..4)? != b"RIFF" || b.get(8..12)? != b"WAVE" {
        return None;
    }
    // Offsets come from the file: checked, so a chunk size near `usize::MAX`
    // (a 32-bit target) ends the scan rather than overflowing.
    let u32_at = |i: usize| -> Option<u32> {
        let end = i.checked_add(4)?;
        Some(u32::from_le_bytes(b.get(i..end)?.try_into().ok()?))
    };
    let mut at = 12usize;
    let mut byte_rate = None;
    // It runs under the material or the state lock: bounded, as a file of tiny
    // chunks would otherwise be walked whole.
    for _ in 0..WAV_MAX_CHUNKS {
        let id = b.get(at..at.checked_add(4)?)?;
        let size = usize::try_from(u32_at(at.checked_add(4)?)?).ok()?;
        let body = at.checked_add(8)?;
        if id == b"fmt " {
            byte_rate = Some(u32_at(body.checked_add(8)?)?);
        } else if id == b"data" {
            let rate = u64::from(byte_rate.filter(|r| *r > 0)?);
            let len = u64::try_from(size.min(b.len().saturating_sub(body))).ok()?;
            return Some(len.saturating_mul(1000) / rate);
        }
        at = body.checked_add(size)?.checked_add(size % 2)?;
    }
    tracing::debug!(
        chunks = WAV_MAX_CHUNKS,
        "no WAV data chunk early enough: duration left out"
    );
    None
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lengths_follow_the_text_within_bounds() {
        assert_eq!(duration_for(""), MIN_DURATION);
        assert_eq!(duration_for(&"a".repeat(20)), Duration::from_millis(1200));
        assert_eq!(duration_for(&"é".repeat(20)), Duration::from_millis(1200));
        assert_eq!(duration_for(&"a".repeat(10_000)), MAX_DURATION);
        let w = wav_for(&"a".repeat(20));
        assert_eq!(w.len(), 44 + 9_600 * 2);
        assert_eq!(&w[..4], b"RIFF");
        assert!(srt_for("hi\nthere").contains("00:00:00,500\nhi there\n"));
    }
}
