//! JimmyAI's rules, checked before anything is sent: which request fields it understands,
//! its limits (lengths counted in Unicode scalar values, `<#x#>` pause markers included:
//! JimmyAI leaves them out of what it bills, but does not say whether its length limits
//! count them, so the limit is read the strict way, as the spec's `maxLength` reads it; the
//! markers must be well-formed), its audio-URL and language rules. The generic checks are
//! `crate::validate`.

#[cfg(feature = "upload")]
use std::time::Duration;

use url::Url;

use crate::error::Error;
use crate::language;
use crate::model::{CloneRequest, Excerpt, Provider, SoundVersion, SpeechRequest};
#[cfg(feature = "upload")]
use crate::sample::wav;
use crate::validate::{self, invalid, non_blank, reject_foreign};

/// JimmyAI preview script limit (`contentText` on clone create).
pub(crate) const JIMMYAI_PREVIEW_MAX_CHARS: usize = 270;
/// JimmyAI production text limit: the English page says at most 10,000 characters, the
/// Chinese page "under 10,000" (api-facts B5). The stricter reading is taken, as the long-text
/// parts already take it (`JIMMYAI_PART_MAX_CHARS`): a text of exactly 10,000 is refused
/// here rather than sent to a vendor that may refuse it after the request went out.
pub(crate) const JIMMYAI_AUDIO_MAX_CHARS: usize = 9_999;

/// The formats JimmyAI clones from (api-facts B4: audio mp3, ogg, wav, m4a, aac; video mp4,
/// avi, mov, mkv, flv).
const JIMMYAI_EXTENSIONS: &[&str] = &[
    "mp3", "ogg", "wav", "m4a", "aac", "mp4", "avi", "mov", "mkv", "flv",
];

/// Formats the docs name that JimmyAI does not clone from: `files/upload` takes them (B7)
/// but the clone's `fileUrl` list (B4) leaves them out. A URL whose path ends in one of
/// these is refused; any other extension, or none, is sent with a warning (B4 lists formats,
/// not URL suffixes: `https://cdn.example.com/audio/123?fmt=mp3` may well be an mp3).
const JIMMYAI_NOT_CLONED: &[&str] = &[
    "flac", "webm", "m4v", "jpg", "jpeg", "png", "gif", "webp", "bmp", "svg",
];

/// JimmyAI wants more than 15 s (and less than 60 s) of speech in a clone sample; only a
/// WAV whose whole length is 15 s or less is refused here (its header says; the speech in a
/// longer file, and other formats, are the vendor's to judge).
#[cfg(feature = "upload")]
pub(crate) const MIN_SAMPLE: Duration = Duration::from_secs(15);

/// Validates a clone request for JimmyAI and returns the parsed audio URL (see
/// `vmeg::rules::clone_request`).
pub(crate) fn clone_request(req: &CloneRequest, allow_private: bool) -> Result<Url, Error> {
    clone_fields(req)?;
    let url = match req.audio_url() {
        Some(u) => audio_url(u, allow_private)?,
        None => {
            return Err(invalid(
                "audio_url",
                "is not a URL (upload the recording first)",
            ));
        }
    };
    if let Some(lang) = &req.language {
        language_value("language", lang, req.sound_version)?;
    }
    Ok(url)
}

/// What an estimate can check of a clone without a client: every rule the call runs but
/// the one that depends on `allow_private_urls` (a private host passes here; the client
/// refuses it unless allowed).
pub(crate) fn clone_checks(req: &CloneRequest) -> Result<(), Error> {
    match req.audio_url() {
        Some(_) => clone_request(req, true).map(drop),
        None => {
            clone_fields(req)?;
            // A local recording: the format JimmyAI clones from, as the upload checks it.
            #[cfg(feature = "upload")]
            {
                let (_, ext) = crate::sample::named(&req.audio)?;
                clone_extension(Some(&ext))?;
            }
            Ok(())
        }
    }
}

/// The checks of a clone request's fields other than its recording (run before a local
/// recording is uploaded, so that nothing is sent for a request that would be refused).
pub(crate) fn clone_fields(req: &CloneRequest) -> Result<(), Error> {
    reject_foreign(
        Provider::JimmyAi,
        "VMEG",
        &[
            ("name", req.name.is_some()),
            ("vmeg_engine", req.vmeg_engine.is_some()),
            ("synchronous", req.synchronous.is_some()),
            ("idempotency_key", req.idempotency_key.is_some()),
        ],
    )?;
    if let Some(text) = &req.sample_text {
        jimmyai_text("sample_text", text, JIMMYAI_PREVIEW_MAX_CHARS)?;
    }
    if let Some(lang) = &req.language {
        language_value("language", lang, req.sound_version)?;
    }
    Ok(())
}

/// A local clone sample's extension: one `fileUrl` takes (every one of them `files/upload`
/// accepts too; flac, webm and m4v upload but do not clone).
#[cfg(feature = "upload")]
pub(crate) fn clone_extension(ext: Option<&str>) -> Result<(), Error> {
    match ext {
        Some(e) if JIMMYAI_EXTENSIONS.contains(&e) => Ok(()),
        _ => Err(crate::sample::refuse(format!(
            "JimmyAI clones from {} files only",
            JIMMYAI_EXTENSIONS.join(", ")
        ))),
    }
}

/// A local clone sample's length: a WAV of 15 s or less is refused (see [`MIN_SAMPLE`]).
#[cfg(feature = "upload")]
pub(crate) async fn clone_duration(sample: &crate::sample::LocalSample) -> Result<(), Error> {
    if sample.extension != "wav" {
        return Ok(());
    }
    let head = sample.head(wav::HEADER_BYTES).await?;
    match wav::duration(&head, sample.len) {
        Some(d) if d <= MIN_SAMPLE => Err(crate::sample::refuse(format!(
            "{:?} lasts {:.1} s; JimmyAI needs more than 15 s (and less than 60 s) of speech",
            Excerpt::of(&sample.file_name),
            d.as_secs_f64()
        ))),
        Some(_) => Ok(()),
        None => {
            tracing::debug!("WAV header does not tell the duration; leaving it to JimmyAI");
            Ok(())
        }
    }
}

/// Validates a speech request for JimmyAI.
pub(crate) fn speech_request(req: &SpeechRequest) -> Result<(), Error> {
    if req.lines.is_empty() {
        return Err(invalid("lines", "needs at least one line"));
    }
    reject_foreign(
        Provider::JimmyAi,
        "VMEG",
        &[
            ("output_format", req.output_format.is_some()),
            ("trim", req.trim.is_some()),
            ("emotion_weight", req.emotion_weight.is_some()),
            ("emotion_prompt", req.emotion_prompt.is_some()),
            ("synchronous", req.synchronous.is_some()),
            ("idempotency_key", req.idempotency_key.is_some()),
        ],
    )?;
    if req.lines.len() != 1 {
        return Err(invalid(
            "lines",
            format!(
                "JimmyAI speaks one line per task, got {} (add_line is for VMEG batches)",
                req.lines.len()
            ),
        ));
    }
    for line in &req.lines {
        // As VMEG's are: a paste's zero-width space or a stray newline is never sent.
        validate::id("voice_id", line.voice_id.as_str())?;
        jimmyai_text("text", &line.text, JIMMYAI_AUDIO_MAX_CHARS)?;
    }
    if let Some(s) = req.speed
        && !(s.is_finite() && (0.5..=2.0).contains(&s))
    {
        return Err(invalid(
            "speed",
            format!("must be between 0.5 and 2, got {s}"),
        ));
    }
    if let Some(v) = req.volume
        && !(v.is_finite() && v > 0.0 && v <= 10.0)
    {
        return Err(invalid(
            "volume",
            format!("must be above 0 and at most 10, got {v}"),
        ));
    }
    if let Some(p) = req.pitch
        && !(-12..=12).contains(&p)
    {
        return Err(invalid(
            "pitch",
            format!("must be between -12 and 12, got {p}"),
        ));
    }

    if let Some(lang) = &req.language {
        language_value("language", lang, req.sound_version)?;
    }
    Ok(())
}

/// A reference-audio URL for JimmyAI: ASCII only, http(s), and not a file of a format the
/// docs say JimmyAI does not clone from ([`JIMMYAI_NOT_CLONED`]). A path without an extension
/// of a listed format is sent with a warning: the docs list formats, not URL suffixes.
pub(crate) fn audio_url(raw: &str, allow_private: bool) -> Result<Url, Error> {
    let url = url_shape(raw, allow_private)?;
    match extension(&url) {
        Some(ext) if JIMMYAI_EXTENSIONS.contains(&ext.as_str()) => {}
        Some(ext) if JIMMYAI_NOT_CLONED.contains(&ext.as_str()) => {
            return Err(invalid(
                "audio_url",
                format!(
                    "names a .{ext} file; JimmyAI clones from {} files only (query string ignored)",
                    JIMMYAI_EXTENSIONS.join(", ")
                ),
            ));
        }
        _ => tracing::warn!(
            "the audio URL's path does not end in a format JimmyAI lists ({}); sending it: JimmyAI judges the file it fetches",
            JIMMYAI_EXTENSIONS.join(", ")
        ),
    }
    Ok(url)
}

/// The extension of a URL's last path segment, lowercased (`None` without a `.`); the query
/// string is not looked at.
fn extension(url: &Url) -> Option<String> {
    let last = url.path_segments().and_then(|mut s| s.next_back())?;
    last.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| !e.is_empty())
}

/// What every JimmyAI `fileUrl` the caller gives must be: a URL (see
/// `validate::audio_url`), ASCII only, http(s).
fn url_shape(raw: &str, allow_private: bool) -> Result<Url, Error> {
    let field = "audio_url";
    let (url, _private) = validate::audio_url(raw, allow_private, |trimmed| {
        if trimmed.is_ascii() {
            Ok(())
        } else {
            Err(invalid(
                "audio_url",
                "JimmyAI refuses URLs with non-ASCII (e.g. Chinese) characters; percent-encode the path or upload the file with upload_sample",
            ))
        }
    })?;
    match url.scheme() {
        "https" | "http" => {}
        scheme => {
            return Err(invalid(
                field,
                format!("JimmyAI needs an http(s) URL, got {scheme}:"),
            ));
        }
    }
    Ok(url)
}

/// Checks a language value and returns what goes on the wire: the JimmyAI language name
/// (BCP-47 tags are mapped, JimmyAI's own names accepted as given; unknown well-formed
/// names pass with a warning, the lists being incomplete).
pub(crate) fn language_value(
    field: &str,
    value: &str,
    version: Option<SoundVersion>,
) -> Result<String, Error> {
    let v = value.trim();
    let choice = language::for_jimmyai(v).map_err(|reason| invalid(field, reason))?;
    if !choice.known {
        tracing::warn!(
            language = v,
            "not a JimmyAI language name this crate knows; sending it as given"
        );
    }
    if choice.v2_only && version != Some(SoundVersion::V2) {
        tracing::warn!(
            language = %choice.wire,
            "this language is listed (UNCONFIRMED) as needing soundVersion v2; consider .sound_version(SoundVersion::V2)"
        );
    }
    Ok(choice.wire)
}

/// JimmyAI text: not blank, well-formed pause markers, at most `max` characters with the
/// markers counted. Whether JimmyAI's limit counts them is not documented (api-facts B4/B5
/// only leave them out of the bill); counting them can refuse a text JimmyAI would take, but
/// never sends one it refuses, and it is the count the generated request types check, so an
/// estimate, a dry run and the call agree.
pub(crate) fn jimmyai_text(field: &str, text: &str, max: usize) -> Result<(), Error> {
    non_blank(field, text)?;
    // Something to speak outside the markers: only pauses or invisible characters would
    // still bill the task's voice fee for silence.
    let mut speakable = false;
    outside_pauses(text, |piece| speakable |= validate::has_speakable(piece))
        .map_err(|reason| invalid(field, reason))?;
    if !speakable {
        return Err(invalid(
            field,
            "holds nothing to speak (only pause markers, blanks or invisible characters)",
        ));
    }
    let counted = text.chars().count();
    if counted > max {
        return Err(invalid(
            field,
            format!("must be at most {max} characters (pause markers counted), got {counted}"),
        ));
    }
    Ok(())
}

/// How many characters of a malformed pause marker's inside its refusal quotes (a good one
/// has at most five: `99.99`).
const MARKER_SHOWN_CHARS: usize = 16;

/// Counts Unicode scalar values outside `<#x#>` markers; refuses malformed markers
/// (x in seconds, 0.01..=99.99, at most two decimals).
pub(crate) fn count_without_pauses(text: &str) -> Result<usize, String> {
    let mut count = 0usize;
    outside_pauses(text, |piece| count += piece.chars().count())?;
    Ok(count)
}

/// Calls `f` with each stretch of `text` outside its `<#x#>` markers, in order; refuses
/// malformed markers.
fn outside_pauses(text: &str, mut f: impl FnMut(&str)) -> Result<(), String> {
    let mut rest = text;
    while let Some(start) = rest.find("<#") {
        f(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + 2..).unwrap_or_default();
        let Some(end) = after.find("#>") else {
            return Err("has a pause marker \"<#\" without its closing \"#>\"".into());
        };
        let inner = after.get(..end).unwrap_or_default();
        pause_value(inner).map_err(|why| {
            // Its start only: a script with `<#` and the next `#>` megabytes on would make
            // an error (and a log line) of megabytes.
            let shown = Excerpt::at_most(inner, MARKER_SHOWN_CHARS);
            format!("has a malformed pause marker <#{shown}#>: {why}")
        })?;
        rest = after.get(end + 2..).unwrap_or_default();
    }
    f(rest);
    Ok(())
}

/// How many well-formed `<#x#>` pause markers `text` holds (a malformed one is not one).
pub(crate) fn pause_markers(text: &str) -> usize {
    let mut n = 0usize;
    let mut rest = text;
    while let Some(start) = rest.find("<#") {
        let after = rest.get(start.saturating_add(2)..).unwrap_or_default();
        // A marker's value is at most 5 bytes: only those are searched for its end, so a
        // text of unclosed `<#` stays linear.
        let head = after
            .as_bytes()
            .get(..after.len().min(8))
            .unwrap_or_default();
        let end = head.windows(2).position(|w| w == b"#>");
        match end.and_then(|e| Some((e, after.get(..e)?))) {
            Some((e, inner)) if pause_value(inner).is_ok() => {
                n = n.saturating_add(1);
                rest = after.get(e.saturating_add(2)..).unwrap_or_default();
            }
            _ => rest = after,
        }
    }
    n
}

fn pause_value(inner: &str) -> Result<(), &'static str> {
    let (int, frac) = match inner.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (inner, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || int.len() > 2 {
        return Err("expected seconds such as 0.5 or 1.25");
    }
    if let Some(f) = frac
        && (!digits(f) || f.len() > 2)
    {
        return Err("at most two decimals");
    }
    let hundredths: u32 = format!("{int}{:0<2}", frac.unwrap_or(""))
        .parse()
        .map_err(|_| "not a number")?;
    if !(1..=9999).contains(&hundredths) {
        return Err("must be between 0.01 and 99.99 seconds");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn only_well_formed_pause_markers_are_counted() {
        assert_eq!(super::pause_markers("a <#0.5#> b<#12.25#>c"), 2);
        assert_eq!(
            super::pause_markers("<#<#1#> <#0#> <#abc#> <#1.234#> <#"),
            1
        );
        assert_eq!(super::pause_markers("no markers, a < # and a #>"), 0);
        // Linear for a run of unclosed markers.
        assert_eq!(super::pause_markers(&"<#".repeat(200_000)), 0);
    }

    /// The spec's `maxLength` (which the generated request types enforce) and the rules here
    /// are one limit: a text the rules let through is never refused by the generated type
    /// after checks that promised "nothing sent", and the spec says what the rules say.
    #[test]
    fn the_generated_text_limits_are_the_rules_limits() {
        use jimmyai_client::types::{CreateAudioRequestContentText, CreateCloneRequestContentText};
        let text = |n: usize| "é".repeat(n);
        assert!(CreateAudioRequestContentText::try_from(text(JIMMYAI_AUDIO_MAX_CHARS)).is_ok());
        assert!(
            CreateAudioRequestContentText::try_from(text(JIMMYAI_AUDIO_MAX_CHARS + 1)).is_err()
        );
        assert!(CreateCloneRequestContentText::try_from(text(JIMMYAI_PREVIEW_MAX_CHARS)).is_ok());
        assert!(
            CreateCloneRequestContentText::try_from(text(JIMMYAI_PREVIEW_MAX_CHARS + 1)).is_err()
        );
    }
    use crate::error::ErrorKind;

    fn field_of(r: Result<impl std::fmt::Debug, Error>) -> String {
        match r.unwrap_err().kind() {
            ErrorKind::InvalidInput { field, .. } => field.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pause_markers() {
        assert_eq!(count_without_pauses("ab<#0.5#>cd").unwrap(), 4);
        assert_eq!(
            count_without_pauses("你好<#1.25#>世界<#99.99#><#0.01#>").unwrap(),
            4
        );
        assert_eq!(count_without_pauses("no markers é").unwrap(), 12);
        for bad in [
            "a<#0#>b",
            "a<#100#>",
            "a<#1.234#>",
            "a<#.5#>",
            "a<#x#>",
            "a<#1.#>",
            "a<#0.5",
            "<##>",
            "<#-1#>",
            "<#0.00#>",
        ] {
            assert!(count_without_pauses(bad).is_err(), "{bad}");
        }
    }

    /// A malformed marker is quoted by its start only: a 5 MB script with `<#` and no `#>`
    /// for megabytes made an error (and an info log line) of megabytes. Cut at a character
    /// boundary. Before: everything between `<#` and the next `#>` was quoted.
    #[test]
    fn a_malformed_pause_marker_is_quoted_by_its_start_only() {
        let huge = format!("a<#{}#>", "x".repeat(1_000_000));
        let why = count_without_pauses(&huge).unwrap_err();
        assert!(why.len() < 300, "{} bytes", why.len());
        assert!(why.contains("<#xxxxxxxxxxxxxxxx…#>"), "{why}");
        let wide = format!("a<#{}#>", "声".repeat(100));
        let why = count_without_pauses(&wide).unwrap_err();
        assert!(why.len() < 300, "{} bytes", why.len());
        assert!(why.contains(&format!("<#{}…#>", "声".repeat(16))), "{why}");
        // A short one is quoted whole.
        let why = count_without_pauses("a<#1.234#>").unwrap_err();
        assert!(why.contains("<#1.234#>"), "{why}");
    }

    #[test]
    fn jimmyai_text_limits_count_scalar_values() {
        assert!(jimmyai_text("t", &"字".repeat(270), 270).is_ok());
        assert!(jimmyai_text("t", &format!("{}<#1#>", "字".repeat(265)), 270).is_ok());
        // Markers count toward the limit (the generated request type counts them too).
        assert_eq!(
            field_of(jimmyai_text(
                "sample_text",
                &format!("{}<#1#>", "字".repeat(270)),
                270
            )),
            "sample_text"
        );
        assert_eq!(
            field_of(jimmyai_text("sample_text", &"字".repeat(271), 270)),
            "sample_text"
        );
        assert!(jimmyai_text("t", "  ", 270).is_err());
        for silent in [
            "<#1#>",
            "\u{200B}\u{200B}",
            "\u{FEFF}",
            " <#0.5#> \u{2060} ",
        ] {
            assert_eq!(
                field_of(jimmyai_text("text", silent, 270)),
                "text",
                "{silent:?}"
            );
        }
        assert!(jimmyai_text("t", "<#1#>a", 270).is_ok());
    }
}
