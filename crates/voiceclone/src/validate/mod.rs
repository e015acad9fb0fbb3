//! The generic checks, run before anything is sent: ids, texts, idempotency keys and the
//! vendor-neutral part of a reference-audio URL (see [`host`] for which hosts are private).
//! Each vendor's own rules (lengths, ranges, which fields it understands) live in its
//! `provider` module and use these. Every refusal is an `InvalidInput` naming the request
//! field (its builder method name).

mod host;
mod id;

pub(crate) use host::{is_loopback_host, is_private_host};
pub(crate) use id::{id, stored_id_provider};

use url::Url;

use crate::error::Error;
use crate::model::Provider;

/// Idempotency key limit (VMEG's `X-Idempotency-Key`).
pub(crate) const IDEMPOTENCY_KEY_MAX_CHARS: usize = 64;

pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::invalid_input(field, reason)
}

/// Refuses the first field in `set` that is `true` (i.e. was set by the caller) as one that
/// applies to `other` only: a value the caller set is never silently dropped.
pub(crate) fn reject_foreign(
    provider: Provider,
    other: &str,
    set: &[(&str, bool)],
) -> Result<(), Error> {
    match set.iter().find(|(_, present)| *present) {
        Some((field, _)) => Err(invalid(
            *field,
            format!(
                "applies to {other} only and {provider} has no such setting; remove it (it is never silently dropped)"
            ),
        )),
        None => Ok(()),
    }
}

pub(crate) fn non_blank(field: &str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty or blank"));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// Whether `text` holds something to speak: a character that is neither whitespace, a
/// control character, an invisible one (zero-width spaces and joiners, BOMs, bidi
/// marks...) nor a combining mark of the general combining blocks (an accent with no letter
/// under it says nothing, and a JimmyAI task for it costs its voice fee).
pub(crate) fn has_speakable(text: &str) -> bool {
    text.chars().any(|c| {
        !c.is_whitespace() && !c.is_control() && !id::is_invisible(c) && !is_combining_mark(c)
    })
}

/// The blocks of combining marks that belong to no script: diacritical marks (and their
/// extended and supplement blocks), those for symbols, and half marks.
fn is_combining_mark(c: char) -> bool {
    matches!(
        c,
        '\u{0300}'..='\u{036F}'
            | '\u{1AB0}'..='\u{1AFF}'
            | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}'
            | '\u{FE20}'..='\u{FE2F}'
    )
}

/// A text to be spoken: not blank, no control characters, and something to speak.
pub(crate) fn speakable(field: &str, text: &str) -> Result<(), Error> {
    non_blank(field, text)?;
    if !has_speakable(text) {
        return Err(invalid(
            field,
            "holds nothing to speak (only blanks or invisible characters)",
        ));
    }
    Ok(())
}

/// VMEG `X-Idempotency-Key`: 1..=64 characters, not blank, printable ASCII (it is a header).
pub(crate) fn idempotency_key(key: &str) -> Result<(), Error> {
    let field = "idempotency_key";
    if key.trim().is_empty() {
        return Err(invalid(field, "must not be empty or blank"));
    }
    if key.trim() != key {
        // HTTP drops the blanks around a header value: VMEG would hold `k` while the job,
        // its `extraData` and an `OutcomeUnknown` say `k `.
        return Err(invalid(
            field,
            "must not start or end with a blank (HTTP drops it, so VMEG would see another key)",
        ));
    }
    let n = key.chars().count();
    if n > IDEMPOTENCY_KEY_MAX_CHARS {
        return Err(invalid(
            field,
            format!("must be at most {IDEMPOTENCY_KEY_MAX_CHARS} characters, got {n}"),
        ));
    }
    if !key.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(invalid(
            field,
            "must be printable ASCII (it travels in an HTTP header)",
        ));
    }
    Ok(())
}

/// The vendor-neutral checks on a reference-audio URL, in order: not empty, `before_parse`
/// (the vendor's checks on the text itself), an absolute URL, no credentials, a host, and a
/// public host unless `allow_private`. Returns the parsed URL (its serialization is what a
/// request carries, so the URL sent is the URL checked) and whether its host is private, for
/// the vendor's own scheme and path rules.
pub(crate) fn audio_url(
    raw: &str,
    allow_private: bool,
    before_parse: fn(&str) -> Result<(), Error>,
) -> Result<(Url, bool), Error> {
    let field = "audio_url";
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    before_parse(trimmed)?;
    let url = Url::parse(trimmed).map_err(|e| {
        invalid(
            field,
            format!("is not an absolute URL ({e}); local files go through upload_sample first"),
        )
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            field,
            "must not carry credentials (user:password@); they would be handed to the provider",
        ));
    }
    let host = url.host().ok_or_else(|| invalid(field, "has no host"))?;
    let private = is_private_host(&host);
    if private && !allow_private {
        return Err(invalid(
            field,
            "points at a loopback or private address the provider cannot reach; use a public URL",
        ));
    }
    Ok((url, private))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::error::ErrorKind;

    fn field_of(r: Result<impl std::fmt::Debug, Error>) -> String {
        match r.unwrap_err().kind() {
            ErrorKind::InvalidInput { field, .. } => field.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn idempotency_keys() {
        assert!(idempotency_key("k").is_ok());
        assert!(idempotency_key(&"k".repeat(64)).is_ok());
        for bad in [
            "",
            "   ",
            &"k".repeat(65),
            "ключ",
            "a\nb",
            "k ",
            " k",
            "k\t",
        ] {
            assert_eq!(field_of(idempotency_key(bad)), "idempotency_key", "{bad:?}");
        }
    }

    /// Accents with no letter under them (alone, after blanks or invisible characters) are
    /// nothing to speak; with a letter, the text is speakable.
    #[test]
    fn combining_marks_alone_are_nothing_to_speak() {
        for silent in [
            "\u{301}\u{301}",
            " \u{20DD} ",
            "\u{200B}\u{1DC0}\u{FE20}",
            "\u{1AB0}",
        ] {
            assert_eq!(field_of(speakable("text", silent)), "text", "{silent:?}");
        }
        for spoken in ["e\u{301}", "\u{301}a", "…", "日本"] {
            assert!(speakable("text", spoken).is_ok(), "{spoken:?}");
        }
    }
}
