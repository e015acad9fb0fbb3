//! VMEG's rules, checked before anything is sent: which request fields it understands,
//! its limits, its audio-URL and language rules. The generic checks are `crate::validate`.

use url::Url;

use crate::error::Error;
use crate::language;
use crate::model::{CloneRequest, Provider, SpeechRequest, SubtitleMode};
use crate::validate::{self, idempotency_key, invalid, non_blank, reject_foreign};

/// VMEG TTS batch limit.
pub(crate) const VMEG_MAX_LINES: usize = 50;

/// Validates a clone request for VMEG and returns the parsed audio URL: its serialization,
/// not the caller's string, is what the request body carries, so the URL sent is the URL
/// checked. `allow_private` is `ClientBuilder::allow_private_urls` (a local simulator's
/// samples).
pub(crate) fn clone_request(req: &CloneRequest, allow_private: bool) -> Result<Url, Error> {
    clone_fields(req)?;
    match req.audio_url() {
        Some(u) => audio_url(u, allow_private),
        None => Err(invalid(
            "audio_url",
            "is not a URL (upload the recording first)",
        )),
    }
}

/// What an estimate can check of a clone without a client: every rule the call runs but
/// the one that depends on `allow_private_urls` (a private host passes here; the client
/// refuses it unless allowed).
pub(crate) fn clone_checks(req: &CloneRequest) -> Result<(), Error> {
    match req.audio_url() {
        Some(_) => clone_request(req, true).map(drop),
        None => {
            clone_fields(req)?;
            // A local recording: its name, as the upload checks it.
            #[cfg(feature = "upload")]
            crate::sample::named(&req.audio)?;
            Ok(())
        }
    }
}

/// The checks of a clone request's fields other than its recording (run before a local
/// recording is uploaded, so that nothing is sent for a request that would be refused).
pub(crate) fn clone_fields(req: &CloneRequest) -> Result<(), Error> {
    reject_foreign(
        Provider::Vmeg,
        "JimmyAI",
        &[("sound_version", req.sound_version.is_some())],
    )?;
    if let Some(key) = &req.idempotency_key {
        idempotency_key(key)?;
    }
    if let Some(name) = &req.name {
        non_blank("name", name)?;
    }
    if let Some(text) = &req.sample_text {
        non_blank("sample_text", text)?;
    }
    if let Some(lang) = &req.language {
        language_value("language", lang)?;
    }
    Ok(())
}

/// Validates a speech request for VMEG.
pub(crate) fn speech_request(req: &SpeechRequest) -> Result<(), Error> {
    if req.lines.is_empty() {
        return Err(invalid("lines", "needs at least one line"));
    }
    reject_foreign(
        Provider::Vmeg,
        "JimmyAI",
        &[
            ("speed", req.speed.is_some()),
            ("volume", req.volume.is_some()),
            ("pitch", req.pitch.is_some()),
            ("emotion", req.emotion.is_some()),
            (
                "subtitles",
                req.subtitles.is_some_and(|s| s != SubtitleMode::Off),
            ),
            ("sound_version", req.sound_version.is_some()),
        ],
    )?;
    if req.lines.len() > VMEG_MAX_LINES {
        return Err(invalid(
            "lines",
            format!(
                "VMEG takes at most {VMEG_MAX_LINES} lines per call, got {}",
                req.lines.len()
            ),
        ));
    }
    // VMEG answers 400 to system (`sv_`) and cloned (`cv_`) voices in one call (api-facts
    // A11); an id of neither prefix may be either, so it is not held against the others.
    let mut prefix = None;
    for (i, line) in req.lines.iter().enumerate() {
        let field = format!("lines[{i}].voice_id");
        // The id as `rename_voice` / `delete_voice` check it: a stray newline or blank read
        // from a file is refused here, not sent for VMEG to answer "voice not found".
        validate::id(&field, line.voice_id.as_str())?;
        let id = line.voice_id.as_str();
        if let Some(p) = ["sv_", "cv_"].into_iter().find(|p| id.starts_with(p))
            && *prefix.get_or_insert(p) != p
        {
            return Err(invalid(&field, "mixes sv_ and cv_ voices in one call"));
        }
        validate::speakable(&format!("lines[{i}].text"), &line.text)?;
    }
    if let Some(w) = req.emotion_weight
        && !(w.is_finite() && (0.0..=1.0).contains(&w))
    {
        return Err(invalid(
            "emotion_weight",
            format!("must be between 0 and 1, got {w}"),
        ));
    }
    if let Some(p) = &req.emotion_prompt {
        non_blank("emotion_prompt", p)?;
    }
    if let Some(key) = &req.idempotency_key {
        idempotency_key(key)?;
    }

    if let Some(lang) = &req.language {
        language_value("language", lang)?;
    }
    Ok(())
}

/// A reference-audio URL for VMEG: https (plain http only for a private host, i.e. a local
/// simulator, when private URLs are allowed).
pub(crate) fn audio_url(raw: &str, allow_private: bool) -> Result<Url, Error> {
    let (url, private) = validate::audio_url(raw, allow_private, |_| Ok(()))?;
    match url.scheme() {
        "https" => Ok(url),
        // Only a loopback simulator serves samples over plain http to VMEG.
        "http" if private && allow_private => Ok(url),
        scheme => Err(invalid(
            "audio_url",
            format!("VMEG needs an https URL, got {scheme}:"),
        )),
    }
}

/// Checks a language value and returns what goes on the wire: the BCP-47 tag, spelled as
/// VMEG's documented lists spell it when it is there (`ZH-cn` goes as `zh-CN`: BCP-47 tags
/// are case-insensitive, whether VMEG compares them so is UNKNOWN). Well-formed tags
/// missing from the lists pass as given, with a warning (the lists are incomplete).
pub(crate) fn language_value(field: &str, value: &str) -> Result<String, Error> {
    let v = value.trim();
    language::check_bcp47(v).map_err(|reason| {
        invalid(
            field,
            format!("{reason}; VMEG takes BCP-47 tags such as zh-CN or en-US"),
        )
    })?;
    match language::vmeg_spelling(v) {
        Some(spelled) => Ok(spelled.to_owned()),
        None => {
            tracing::warn!(
                language = v,
                "language tag not in VMEG's documented lists; sending it anyway"
            );
            Ok(v.to_owned())
        }
    }
}

/// How many JimmyAI `<#x#>` pause markers the lines of `req` hold: VMEG has none, so it
/// speaks them and bills them as text (a script written for JimmyAI, sent to VMEG).
pub(crate) fn pause_markers(req: &SpeechRequest) -> usize {
    req.lines
        .iter()
        .map(|l| crate::provider::jimmyai::rules::pause_markers(&l.text))
        .fold(0, usize::saturating_add)
}

/// One warning for a speech about to be sent (or planned) with [`pause_markers`]; the
/// text itself is not logged.
pub(crate) fn warn_pause_markers(req: &SpeechRequest) {
    let markers = pause_markers(req);
    if markers > 0 {
        tracing::warn!(
            markers,
            "VMEG has no pause markers: the text's `<#x#>` pause markers (JimmyAI's syntax) are spoken and billed as text"
        );
    }
}

/// [`language_value`] for a TTS `language.target`: a tag VMEG documents only as a source
/// (`auto`, `ar-IL`, ...) passes with a warning too. Whether VMEG takes it as a target is
/// UNKNOWN, so it is not refused.
pub(crate) fn target_language_value(field: &str, value: &str) -> Result<String, Error> {
    let v = language_value(field, value)?;
    if language::vmeg_documented(&v) && !language::vmeg_documented_target(&v) {
        tracing::warn!(
            language = v.as_str(),
            "VMEG documents this language tag as a source only, not a speech target; sending it anyway"
        );
    }
    Ok(v)
}
