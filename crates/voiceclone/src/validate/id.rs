//! Ids a caller or a server hands us, checked before they go into a path, a query or a body.

use super::invalid;
use crate::error::Error;
use crate::model::Provider;

/// Longest id accepted (bytes).
pub(crate) const ID_MAX_BYTES: usize = 256;

/// An id we put into a URL path segment, a query value or a body (job id, voice id). The
/// transport percent-encodes it as exactly one segment or value; this refuses what could still
/// change the request or be read differently by a server or proxy that decodes it once more:
/// dot segments (`.`, `..`) and their percent-encoded forms (`%2e%2e`, `.%2E`, ... at any
/// depth of encoding, also as IIS `%u002e`), also with a path parameter (`..;x`, which Tomcat
/// and Spring read as `..`; likewise an empty segment `;x`), `/` and `\` in any encoding
/// (`%2f`, `%5c`, `%252f`, `%u002f`), the fullwidth and compatibility forms a server folding
/// Unicode (NFKC, Windows best fit) reads as `.`, `..`, `/`, `\` or `%` (`．．`, `‥`, `a／b`,
/// `a¥b`, `％2e`, raw or encoded), forms that do not decode to UTF-8 (overlong `%c0%ae`,
/// `%c0%af`, stray `%ff`), control characters (also encoded, e.g. `%00`, `%0d%0a`),
/// whitespace, `?`, `#`, and characters that display as nothing (zero-width, bidi controls,
/// the BOM: see [`is_invisible`]), which would make an id look blank or other than it is.
pub(crate) fn id(field: &str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if value.len() > ID_MAX_BYTES {
        return Err(invalid(
            field,
            format!("must be at most {ID_MAX_BYTES} bytes, got {}", value.len()),
        ));
    }
    // The common id (`t-1`, `audio_<uuid>`, `cv_...`, digits): nothing to decode, nothing
    // that could split or climb a path; only a bare dot segment to refuse.
    if value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return if value == "." || value == ".." {
            Err(invalid(
                field,
                "must not be a dot segment ('.' or '..', also percent-encoded or followed by ';') or start with ';'",
            ))
        } else {
            Ok(())
        };
    }
    if value.chars().any(|c| {
        c.is_control()
            || c.is_whitespace()
            || is_invisible(c)
            || matches!(c, '/' | '\\' | '?' | '#')
            || is_separator_look_alike(c)
    }) {
        return Err(invalid(
            field,
            "must not contain whitespace, control or invisible characters, '/', '\\', '?' or '#', \
             nor a form of '/', '\\' or '%' a server may fold into one (U+FF0F, U+00A5, U+FF05...)",
        ));
    }
    // Every form a server could see after decoding percent-escapes once, twice, ...
    let mut form = value.as_bytes().to_vec();
    loop {
        // A path parameter (`;...`) is dropped by some servers before the segment is read.
        let segment = form.split(|b| *b == b';').next().unwrap_or_default();
        if segment.is_empty() || segment == b"." || segment == b".." {
            return Err(invalid(
                field,
                "must not be a dot segment ('.' or '..', also percent-encoded or followed by ';') or start with ';'",
            ));
        }
        let Ok(text) = std::str::from_utf8(&form) else {
            return Err(invalid(
                field,
                "must decode to UTF-8 (no overlong or stray percent-encoded bytes such as %c0%ae or %ff)",
            ));
        };
        // The same segment as a server that folds compatibility forms would read it.
        let folded = fold_dots(text);
        let segment = folded.split(';').next().unwrap_or_default();
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(invalid(
                field,
                "must not be a dot segment ('.' or '..', also percent-encoded, followed by ';' \
                 or as a fullwidth or compatibility form such as U+FF0E) or start with ';'",
            ));
        }
        if text.chars().any(|c| {
            c == '/' || c == '\\' || c.is_control() || is_invisible(c) || is_separator_look_alike(c)
        }) {
            return Err(invalid(
                field,
                "must not contain a percent-encoded '/', '\\', control or invisible character (%2f, %5c, %00...), \
                 nor a form of '/', '\\' or '%' a server may fold into one",
            ));
        }
        // `%２ｅ`: a server folding compatibility forms reads fullwidth (or other) digits as
        // hex, and then decodes an escape this loop never sees.
        if text
            .split('%')
            .skip(1)
            .any(|after| after.chars().next().is_some_and(|c| !c.is_ascii()))
        {
            return Err(invalid(
                field,
                "must not hold '%' followed by a non-ASCII character (a fullwidth digit such as \
                 U+FF12 that a server may fold into a hex digit of an escape)",
            ));
        }
        let decoded = percent_decode_once(&form);
        if decoded == form {
            return Ok(());
        }
        form = decoded;
    }
}

/// Characters that a server folding Unicode compatibility forms (NFKC) or Windows' best-fit
/// mapping reads as `/`, `\` or `%`: fullwidth, small and division solidus forms; the yen
/// and won signs, which the Japanese (cp932) and Korean (cp949) code pages map to `\`, and
/// their fullwidth forms, which NFKC folds into them; fullwidth and small percent signs, after
/// which the server's own decoding would read `％2e％2e` as `..`. A small map, not a
/// normalisation crate: only these can turn an id into a path separator or an escape. None
/// occurs in a vendor-issued id (ASCII), so refusing them costs nothing.
fn is_separator_look_alike(c: char) -> bool {
    matches!(
        c,
        '\u{2215}'
            | '\u{fe68}'
            | '\u{ff0f}'
            | '\u{ff3c}'
            | '\u{a5}'
            | '\u{20a9}'
            | '\u{ffe5}'
            | '\u{ffe6}'
            | '\u{ff05}'
            | '\u{fe6a}'
    )
}

/// `text` with the characters that a server folding compatibility forms (NFKC) or Windows'
/// best-fit mapping reads as `.` or `..` replaced by those: the one and two dot leaders, the
/// vertical two dot leader, the small, fullwidth and halfwidth ideographic full stops. Only
/// for the dot-segment check: `．．` is `..` to such a server.
fn fold_dots(text: &str) -> std::borrow::Cow<'_, str> {
    let dots = |c: char| match c {
        '\u{2024}' | '\u{fe52}' | '\u{ff0e}' | '\u{ff61}' => Some("."),
        '\u{2025}' | '\u{fe30}' => Some(".."),
        _ => None,
    };
    if !text.chars().any(|c| dots(c).is_some()) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match dots(c) {
            Some(d) => out.push_str(d),
            None => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The provider whose stored-id prefix (`vmeg:`, `jimmyai:`) `value` starts with, read as a
/// person reads it: ASCII case ignored, after leading whitespace and invisible characters.
/// No vendor id starts so (VMEG and JimmyAI ids are `cv_...`, `audio_<uuid>`, uuids, digits):
/// a bare id that does is a stored id (the client's `Display` form) kept in the wrong type or
/// changed on its way (`VMEG:clone:x`, ` vmeg:clone:x`). Sent as a vendor id it would get
/// the vendor's "not found", which a caller may read as "no job" and submit again.
pub(crate) fn stored_id_provider(value: &str) -> Option<Provider> {
    let text = value.trim_start_matches(|c: char| c.is_whitespace() || is_invisible(c));
    Provider::ALL.into_iter().find(|p| {
        let name = p.as_str();
        // `get`, not indexing: the text may be shorter, or not cut at a char boundary there.
        text.get(..name.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(name))
            && text
                .get(name.len()..)
                .is_some_and(|rest| rest.starts_with(':'))
    })
}

/// Characters that display as nothing or change how the text around them displays: Unicode's
/// default-ignorable code points (soft hyphen, zero-width spaces and joiners, bidi marks,
/// embeddings, overrides and isolates, the BOM, variation selectors, Hangul fillers, tag
/// characters, ...) and the interlinear annotation controls.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{34f}'
            | '\u{61c}'
            | '\u{115f}'..='\u{1160}'
            | '\u{17b4}'..='\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff0}'..='\u{fffb}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0000}'..='\u{e0fff}'
    )
}

/// `bytes` with each `%XX` (two hex digits) replaced by its byte and each IIS-style `%uXXXX`
/// (four hex digits) by the UTF-8 of that character; anything else kept.
fn percent_decode_once(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%'
            && let [b'u' | b'U', a, b, c, d, after @ ..] = tail
            && let (Some(a), Some(b), Some(c), Some(d)) = (hex(*a), hex(*b), hex(*c), hex(*d))
        {
            let unit = u32::from(a) << 12 | u32::from(b) << 8 | u32::from(c) << 4 | u32::from(d);
            // A lone surrogate is no character: kept as a byte that is not UTF-8.
            match char::from_u32(unit) {
                Some(ch) => out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes()),
                None => out.push(0xff),
            }
            rest = after;
            continue;
        }
        if b == b'%'
            && let [h, l, after @ ..] = tail
            && let (Some(h), Some(l)) = (hex(*h), hex(*l))
        {
            out.push(h * 16 + l);
            rest = after;
            continue;
        }
        out.push(b);
        rest = tail;
    }
    out
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
    fn stored_id_prefixes_are_seen_in_any_case_and_after_blanks() {
        for (text, p) in [
            ("vmeg:clone:x", Provider::Vmeg),
            ("VMEG:clone:x", Provider::Vmeg),
            (" vmeg:clone:x", Provider::Vmeg),
            ("\u{200b}Vmeg:voice:cv_1", Provider::Vmeg),
            ("vmeg:", Provider::Vmeg),
            ("jimmyai:voice;activated:m-1", Provider::JimmyAi),
            ("\tJimmyAI:clone:a", Provider::JimmyAi),
        ] {
            assert_eq!(stored_id_provider(text), Some(p), "{text:?}");
        }
        for text in [
            "",
            "t-1",
            "vmeg",
            "vmegx:clone:x",
            "jimmy:clone:x",
            "x vmeg:clone:x",
            "声:",
            "cv_1",
            "a:b",
        ] {
            assert_eq!(stored_id_provider(text), None, "{text:?}");
        }
    }

    #[test]
    fn ids_refuse_dot_segments_separators_and_controls_in_any_encoding() {
        for ok in [
            "t1",
            "task-1",
            "a%b",
            "100%",
            "a+b",
            "a&b=c",
            "é声",
            "x.y",
            "...",
            "%41",
            "a%2",
            "a;b",
            "..x;",
            "%u",
            "%u12",
            "%u0041",
            "%c3%a9",
            "\u{ff0e}x",
            "x\u{2025}",
            "a\u{3002}",
            "\u{ff0e}\u{ff0e}\u{ff0e}",
            "%uff0ex",
            "\u{ff21}",
        ] {
            assert!(id("job_id", ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            " ",
            ".",
            "..",
            "%2e",
            "%2E%2e",
            ".%2e",
            "%2e.",
            "%252e%252e",
            "a/b",
            "a%2fb",
            "a%2Fb",
            "a%252Fb",
            "a\\b",
            "a%5cb",
            "a%5C",
            "a\0b",
            "%00",
            "a%0d%0ab",
            "a\u{1b}b",
            "a\u{7f}",
            "a\u{85}",
            "%c2%85",
            "a b",
            "a?b",
            "a#b",
            // Path parameters (Tomcat, Spring), IIS %u, overlong and stray UTF-8 bytes.
            "..;",
            "..;jsessionid=1",
            ".;x",
            ";x",
            "%2e%2e;",
            "%3b",
            "%u002e%u002e",
            "%U002E.",
            "a%u002fb",
            "a%u005cb",
            "%u0000",
            "%ud800",
            "%c0%ae%c0%ae",
            "%c0%af",
            "%e0%80%ae",
            "a%ffb",
            // Invisible: an id that looks blank, or other than it is.
            "\u{200b}",
            "a\u{200d}b",
            "t-1\u{202e}",
            "\u{feff}t",
            "a%e2%80%8bb",
            "t\u{e0041}",
            // Fullwidth and compatibility forms of '.', '/' and '\\' (NFKC, Windows best fit),
            // raw, percent- or %u-encoded, alone or mixed with the ASCII ones.
            "\u{ff0e}\u{ff0e}",
            "\u{ff0e}",
            "\u{2024}",
            "\u{2025}",
            "\u{fe30}",
            "\u{fe52}.",
            "\u{ff61}\u{ff61}",
            "\u{ff0e};x",
            "%uff0e%uff0e",
            "%EF%BC%8E.",
            "%25EF%25BC%258E%25EF%25BC%258E",
            "%e2%80%a5",
            "a\u{ff0f}b",
            "a%uff0fb",
            "a%ef%bc%8fb",
            "a\u{2215}b",
            "a\u{ff3c}b",
            "a\u{fe68}b",
            "a%uff3cb",
            // Best fit reads yen (cp932) and won (cp949) signs as '\\', NFKC folds their
            // fullwidth forms into them; fullwidth and small percent signs fold to '%', so
            // `％2e％2e` would be `%2e%2e`, then `..`, to a server that folds, then decodes.
            "a\u{a5}..\u{a5}b",
            "a\u{20a9}b",
            "a\u{ffe5}b",
            "a\u{ffe6}b",
            "a%c2%a5b",
            "a%u20a9b",
            "\u{ff05}2e\u{ff05}2e",
            "a\u{ff05}2fb",
            // An ASCII '%' before fullwidth or mathematical digits: `%２ｅ%２ｅ` folds to
            // `%2e%2e` (review 24 pass 2b #4), also when the '%' itself is an escape.
            "%\u{ff12}\u{ff45}%\u{ff12}\u{ff45}",
            "a%\u{1d7d0}fb",
            "%%ef%bc%92e%%ef%bc%92e",
            "a\u{fe6a}2fb",
            "%ef%bc%852e%ef%bc%852e",
            "%uff052e",
        ] {
            assert_eq!(field_of(id("job_id", bad)), "job_id", "{bad:?}");
        }
        assert!(id("voice_id", &"a".repeat(ID_MAX_BYTES)).is_ok());
        assert_eq!(
            field_of(id("voice_id", &"a".repeat(ID_MAX_BYTES + 1))),
            "voice_id"
        );
    }
}
