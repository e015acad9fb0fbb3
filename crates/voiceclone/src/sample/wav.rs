//! The duration of a WAV file from its header alone: the `fmt ` chunk's byte rate and the
//! `data` chunk's size. Nothing past the header is read.

use std::time::Duration;

/// How many bytes of a file [`duration`] looks at: the header, with room for the metadata
/// chunks some tools write before `data`.
pub(crate) const HEADER_BYTES: usize = 64 * 1024;

/// The duration of a RIFF/WAVE recording whose first bytes are `head` and whose size is
/// `file_len`: the `data` chunk's size (cut to what the file holds) over the byte rate.
/// `None` when it cannot be told from the header: not RIFF/WAVE (RF64 included), no byte
/// rate, or no `data` chunk within `head`. A streaming writer's placeholder size (0 or
/// `u32::MAX`) counts as "to the end of the file".
pub(crate) fn duration(head: &[u8], file_len: u64) -> Option<Duration> {
    if head.get(0..4)? != b"RIFF" || head.get(8..12)? != b"WAVE" {
        return None;
    }
    let u16_at = |i: usize| -> Option<u16> {
        Some(u16::from_le_bytes(
            head.get(i..i.checked_add(2)?)?.try_into().ok()?,
        ))
    };
    let u32_at = |i: usize| -> Option<u32> {
        Some(u32::from_le_bytes(
            head.get(i..i.checked_add(4)?)?.try_into().ok()?,
        ))
    };
    let mut at = 12usize;
    let mut byte_rate: Option<u64> = None;
    loop {
        let id = head.get(at..at.checked_add(4)?)?;
        let size = u32_at(at + 4)?;
        let body = at.checked_add(8)?;
        if id == b"fmt " {
            let rate = u32_at(body + 8).map(u64::from).filter(|r| *r > 0);
            // A zero byte rate: sample rate times block align.
            let derived = u32_at(body + 4)
                .zip(u16_at(body + 12))
                .map(|(sr, align)| u64::from(sr) * u64::from(align))
                .filter(|r| *r > 0);
            byte_rate = rate.or(derived);
        } else if id == b"data" {
            let rate = byte_rate?;
            let available = file_len.saturating_sub(body as u64);
            let declared = match size {
                0 | u32::MAX => available,
                n => u64::from(n).min(available),
            };
            return Some(Duration::from_secs_f64(declared as f64 / rate as f64));
        }
        let padded = usize::try_from(size)
            .ok()?
            .checked_add(usize::try_from(size % 2).ok()?)?;
        at = body.checked_add(padded)?;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A PCM WAV header for `secs` seconds of 16 kHz mono 16-bit, with a LIST chunk first.
    fn header(secs: u32, list: bool) -> (Vec<u8>, u64) {
        let data_len = secs * 32_000;
        let mut v = Vec::new();
        v.extend_from_slice(b"RIFF\0\0\0\0WAVE");
        if list {
            v.extend_from_slice(b"LIST");
            v.extend_from_slice(&5u32.to_le_bytes());
            v.extend_from_slice(b"INFOx\0"); // odd size, padded
        }
        v.extend_from_slice(b"fmt ");
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes());
        v.extend_from_slice(&16_000u32.to_le_bytes());
        v.extend_from_slice(&32_000u32.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&16u16.to_le_bytes());
        v.extend_from_slice(b"data");
        v.extend_from_slice(&data_len.to_le_bytes());
        let total = v.len() as u64 + u64::from(data_len);
        (v, total)
    }

    #[test]
    fn reads_the_duration_from_the_header() {
        let (h, len) = header(20, false);
        assert_eq!(duration(&h, len), Some(Duration::from_secs(20)));
        let (h, len) = header(15, true);
        assert_eq!(duration(&h, len), Some(Duration::from_secs(15)));
        // A truncated file: only what it holds counts.
        let (h, len) = header(20, false);
        assert_eq!(
            duration(&h, len - 32_000 * 10),
            Some(Duration::from_secs(10))
        );
        // A streaming writer's placeholder size: to the end of the file.
        let (mut h, len) = header(3, false);
        let n = h.len();
        h[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(duration(&h, len), Some(Duration::from_secs(3)));
    }

    #[test]
    fn unknown_when_the_header_does_not_say() {
        assert_eq!(duration(b"ID3\x03 not a wav", 100), None);
        assert_eq!(duration(b"RIFF\0\0\0\0WAVE", 100), None);
        let (h, len) = header(20, false);
        assert_eq!(
            duration(&h[..30], len),
            None,
            "data chunk beyond the bytes read"
        );
        let mut zero = header(20, false).0;
        zero[28..32].copy_from_slice(&0u32.to_le_bytes()); // byte rate
        zero[24..28].copy_from_slice(&0u32.to_le_bytes()); // sample rate
        assert_eq!(duration(&zero, len), None);
    }
}
