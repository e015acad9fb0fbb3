//! Lenient decoding helpers shared by the webhook and the provider modules: vendors disagree
//! with their own docs on whether numbers are numbers or strings.

use std::fmt;

use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

enum NumOrString {
    Int(i64),
    Float(f64),
    Str(String),
    // Anything else (bool, object, array) is read as absent rather than failing the whole body.
    Other,
}

// Hand-written rather than `#[serde(untagged)]`: an untagged enum buffers every value and
// builds (then drops) a formatted error for each variant that does not match, which cost
// about 9,000 instructions per response (BENCHMARKS.md, section 2).
impl<'de> Deserialize<'de> for NumOrString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumOrStringVisitor)
    }
}

struct NumOrStringVisitor;

impl<'de> Visitor<'de> for NumOrStringVisitor {
    type Value = NumOrString;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or a string")
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(NumOrString::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(v).map_or(NumOrString::Float(v as f64), NumOrString::Int))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(NumOrString::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(NumOrString::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(NumOrString::Str(v))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(NumOrString::Other)
    }

    fn visit_bytes<E>(self, _: &[u8]) -> Result<Self::Value, E> {
        Ok(NumOrString::Other)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(NumOrString::Other)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(NumOrString::Other)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(NumOrString::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(NumOrString::Other)
    }
}

/// An integer sent as a JSON number or a numeric string (`20000` or `"20000"`). A string is
/// read as the same number unquoted would be: `"20000.0"` and `"2e4"` are 20000, as `20000.0`
/// and `2e4` are (a success code spelled so must not pass for a failure).
pub(crate) fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<NumOrString>::deserialize(d)? {
        Some(NumOrString::Int(i)) => Some(i),
        Some(NumOrString::Float(f)) => integral(f),
        Some(NumOrString::Str(s)) => {
            let s = s.trim();
            s.parse()
                .ok()
                .or_else(|| client_glue::wire::parse_f64(s).and_then(integral))
        }
        _ => None,
    })
}

/// `f` as an exact integer, when it is one (and well inside the range where floats are exact).
fn integral(f: f64) -> Option<i64> {
    (f.fract() == 0.0 && f.abs() < 9e15).then_some(f as i64)
}

/// A string field that may also arrive as a number (ids) or be null; anything else (bool,
/// object, array) is absent.
///
/// A number keeps its exact text as sent (`123456789012345678901234567890` stays that, not a
/// float's rounding of it): it is read as a raw JSON value, never through `f64`. The result is
/// scrubbed of the API key (see [`crate::scrub`]).
pub(crate) fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let Some(raw) = Option::<Box<RawValue>>::deserialize(d)? else {
        return Ok(None);
    };
    let text = raw.get();
    let value = match text.as_bytes().first() {
        Some(b'"') => serde_json::from_slice::<String>(text.as_bytes()).ok(),
        Some(b'-' | b'0'..=b'9') => Some(text.to_owned()),
        _ => None,
    };
    Ok(value.map(crate::scrub::server_string))
}

/// `raw`, trimmed and ASCII-lowercased in `buf`, to match against a table of status words
/// (all ASCII) without allocating: what `raw.trim().to_ascii_lowercase()` would give, or `""`
/// when that is longer than `buf` (longer than any word a table lists, so it matches none).
pub(crate) fn status_word<'a>(raw: &str, buf: &'a mut [u8; 32]) -> &'a str {
    let word = raw.trim().as_bytes();
    let Some(out) = buf.get_mut(..word.len()) else {
        return "";
    };
    out.copy_from_slice(word);
    out.make_ascii_lowercase();
    std::str::from_utf8(out).unwrap_or_default()
}

/// The longest id this crate accepts from a server or a caller.
pub(crate) const MAX_ID_CHARS: usize = 256;

/// An id from a server that can name a job or a voice: one this crate accepts back from a
/// caller ([`crate::validate::id`]: not blank or invisible, no control characters, whitespace,
/// separators or dot segments in any encoding, at most 256 bytes, not in a stored id's form
/// `vmeg:...` / `jimmyai:...`, which every call refuses as a vendor id), and holding no piece
/// of the API key (a scrubbed id is no id). An id the client would refuse to poll is no job
/// id: the answer counts as unreadable.
pub(crate) fn usable_id(raw: Option<&str>) -> Option<&str> {
    let id = raw?.trim();
    let ok = id.chars().count() <= MAX_ID_CHARS
        && !(id.contains('[') && id.contains(crate::scrub::REDACTED))
        && crate::validate::stored_id_provider(id).is_none()
        && crate::validate::id("id", id).is_ok();
    ok.then_some(id)
}

/// The most characters of a refused result an error quotes.
const QUOTED_CHARS: usize = 80;

/// Why a non-blank id a server gave as a task's result is refused, quoting it escaped and cut
/// (`a modelId this crate cannot use: "m/1"`); `None` when it is usable, blank or absent.
/// `what` names the field with its article (`a modelId`).
pub(crate) fn refused_id(what: &str, raw: Option<&str>) -> Option<String> {
    let raw = raw.map(str::trim).filter(|r| !r.is_empty())?;
    usable_id(Some(raw)).is_none().then(|| {
        let shown = crate::model::Excerpt::at_most(raw, QUOTED_CHARS);
        format!("{what} this crate cannot use: {shown:?}")
    })
}

/// Why a non-blank URL a server gave as a task's result is refused, quoting it escaped and
/// cut, without its query and fragment (a signed URL's credential) nor its userinfo
/// (`user:pass@`, a storage credential: review 35 pass 2b #7) (`an audioUrl that is not an
/// absolute http(s) URL: "/files/a.mp3"`); `None` when it is usable, blank or absent.
pub(crate) fn refused_url(what: &str, raw: Option<&str>) -> Option<String> {
    let raw = raw.map(str::trim).filter(|r| !r.is_empty())?;
    checked_url(Some(raw)).is_err().then(|| {
        let head = raw.split(['?', '#']).next().unwrap_or_default();
        let head = without_userinfo(head);
        let shown = crate::model::Excerpt::at_most(&head, QUOTED_CHARS);
        format!("{what} that is not an absolute http(s) URL: {shown:?}")
    })
}

/// `url` without the userinfo of its authority: what comes before the last `@` ahead of the
/// first `/` or `\` after `scheme://` or a leading `//` (or, with neither, from the start:
/// `user:pass@host/a` is read as an authority too, the cautious reading). A refused URL is
/// no parsed one, so this goes by the text; `\` counts as `/`, as URL parsers read it.
fn without_userinfo(url: &str) -> std::borrow::Cow<'_, str> {
    let slash = |c: char| c == '/' || c == '\\';
    // The authority starts after the first `//` (or `\\`) when no path came before it.
    let start = url
        .char_indices()
        .zip(url.chars().skip(1))
        .find(|((_, a), b)| slash(*a) && slash(*b))
        .map(|((i, _), _)| i)
        .filter(|&i| url.get(..i).is_some_and(|lead| !lead.contains(slash)))
        .map_or(0, |i| i.saturating_add(2));
    let (lead, rest) = url.split_at_checked(start).unwrap_or(("", url));
    let authority = rest.split(slash).next().unwrap_or_default();
    match authority.rfind('@') {
        Some(at) => {
            let kept = rest.get(at.saturating_add(1)..).unwrap_or_default();
            std::borrow::Cow::Owned(format!("{lead}{kept}"))
        }
        None => std::borrow::Cow::Borrowed(url),
    }
}

/// `InvalidResponse` when an answer about task `asked` names another task id: a misrouted
/// answer (a proxy's or cache's mix-up) whose result belongs to another job, never to be
/// handed back as the asked job's. A wait polls again after it (the next answer may be the
/// right one), a few times in a row. An answer naming no id (none, or a blank one) is taken
/// as about `asked`.
pub(crate) fn same_task(
    provider: crate::model::Provider,
    asked: &crate::model::JobId,
    named: Option<&str>,
) -> Result<(), crate::error::Error> {
    same_result_task(provider, asked, named).map_err(crate::error::Error::misrouted)
}

/// [`same_task`] for the id inside an answer's result, when the answer itself is about the
/// asked task: a task whose own record names another task is inconsistent, not misrouted,
/// and asking again would get the same answer, so a wait ends on it.
///
/// The named id is compared as it came (trimmed), not only when it is one this crate
/// accepts ([`usable_id`]): the asked id always passes the id check, so any other non-blank
/// id (a trailing NUL, an inner space, a `/`, more than 256 characters) can only name
/// another task. Such an id is quoted escaped and cut; a usable one in full.
pub(crate) fn same_result_task(
    provider: crate::model::Provider,
    asked: &crate::model::JobId,
    named: Option<&str>,
) -> Result<(), crate::error::Error> {
    let Some(other) = named.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(());
    };
    if other == asked.as_str() {
        return Ok(());
    }
    let shown = match usable_id(Some(other)) {
        Some(id) => format!("{id:?}"),
        None => format!(
            "{:?} (not an id this crate accepts)",
            crate::model::Excerpt::of(other)
        ),
    };
    Err(
        crate::error::Error::new(crate::error::ErrorKind::InvalidResponse)
            .with_provider(provider)
            .with_message(format!(
                "the answer is about task {shown}, not the task asked about ({:?}); its result was not used",
                asked.as_str()
            )),
    )
}

/// Parses a vendor URL, logging (not failing on) one that does not parse or is not `http`
/// or `https`: results, previews and upload targets are fetched over HTTP, and a
/// `javascript:` or `file:` URL handed on (to a page that links a voice's preview, say)
/// would be the server's script or a local file, not audio.
pub(crate) fn parse_url(field: &str, raw: Option<&str>) -> Option<url::Url> {
    match checked_url(raw) {
        Ok(u) => u,
        Err(UrlRefused::Scheme(scheme)) => {
            tracing::warn!(
                field,
                scheme,
                "vendor sent a URL that is not http(s); ignoring it"
            );
            None
        }
        Err(UrlRefused::Unparsed(e)) => {
            tracing::warn!(field, error = %e, "vendor sent a URL that does not parse; ignoring it");
            None
        }
    }
}

/// The most characters of a refused URL's scheme kept (and logged): a scheme is any run of
/// letters, digits, `+`, `-` and `.`, so a server's can be megabytes.
pub(crate) const MAX_SCHEME_CHARS: usize = 32;

/// Why [`checked_url`] refused a URL.
#[derive(Clone, Debug)]
pub(crate) enum UrlRefused {
    /// It parses, with this scheme (cut to [`MAX_SCHEME_CHARS`], `…` added), which is not
    /// `http` or `https`.
    Scheme(String),
    /// It does not parse (a relative path, say).
    Unparsed(url::ParseError),
}

impl std::fmt::Display for UrlRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UrlRefused::Scheme(s) => write!(f, "scheme {s}, not http(s)"),
            UrlRefused::Unparsed(e) => write!(f, "does not parse: {e}"),
        }
    }
}

/// [`parse_url`] without its log line, saying why a URL was refused: a listing counts the
/// records whose URL was, and logs once per list, not once per record.
pub(crate) fn checked_url(raw: Option<&str>) -> Result<Option<url::Url>, UrlRefused> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    match url::Url::parse(raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(Some(u)),
        Ok(u) => Err(UrlRefused::Scheme(crate::error::cut(
            u.scheme(),
            MAX_SCHEME_CHARS,
        ))),
        Err(e) => Err(UrlRefused::Unparsed(e)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Review 35 pass 2b #7: a refused URL is quoted without its userinfo (`user:pass@`), a
    /// storage credential as much as a signed query is, nor its query and fragment; the
    /// rest (scheme, host, path) is what support can go by. Before: the userinfo was quoted.
    #[test]
    fn a_refused_url_is_quoted_without_its_userinfo_or_query() {
        for (raw, shown) in [
            (
                "ftp://user:p4ss@files.example/a.mp3",
                "\"ftp://files.example/a.mp3\"",
            ),
            ("s3://AKIA:p4ss@bucket/a.mp3?x=1", "\"s3://bucket/a.mp3\""),
            ("//user:p4ss@host/a.mp3", "\"//host/a.mp3\""),
            (r"\\user:p4ss@host\a.mp3", r#""\\\\host\\a.mp3""#),
            ("ftp://a@b:p4ss@files.example", "\"ftp://files.example\""),
            ("user:p4ss@host/a.mp3", "\"host/a.mp3\""),
            ("/files/a.mp3?sig=p4ss#t", "\"/files/a.mp3\""),
            ("/files/a@2x.mp3", "\"/files/a@2x.mp3\""),
            ("s3://bucket/a@2x.mp3", "\"s3://bucket/a@2x.mp3\""),
        ] {
            let why = refused_url("an audioUrl", Some(raw)).unwrap();
            assert!(why.ends_with(shown), "{raw}: {why}");
            assert!(!why.contains("p4ss"), "{raw}: {why}");
        }
        assert_eq!(
            refused_url("an audioUrl", Some("https://u:p@cdn.example/a")),
            None
        );
    }

    /// Review 28-a #5: a URL whose scheme is megabytes long (any run of letters, digits, `+`,
    /// `-`, `.` before a `:` parses) is refused with its scheme cut, so neither the per-call
    /// WARN line nor a listing's per-walk one carries it whole. A short scheme is kept.
    #[test]
    fn a_refused_scheme_is_cut_to_a_bounded_length() {
        let raw = format!("{}:x", "a".repeat(1 << 20));
        let why = checked_url(Some(&raw)).unwrap_err();
        let shown = why.to_string();
        assert!(shown.chars().count() < 100, "{} chars", shown.len());
        assert!(shown.starts_with("scheme aaaa"), "{shown}");
        let why = checked_url(Some("javascript:alert(1)")).unwrap_err();
        assert_eq!(why.to_string(), "scheme javascript, not http(s)");
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Probe {
        #[serde(default, deserialize_with = "lenient_i64")]
        i: Option<i64>,
        #[serde(default, deserialize_with = "lenient_string")]
        s: Option<String>,
        #[serde(default)]
        after: Option<String>,
    }

    #[test]
    fn status_words_are_trimmed_and_lowercased_in_place() {
        let mut buf = [0u8; 32];
        for raw in ["Running", "  FINISHED\n", "in-Progress", "", "é", "Ünknown"] {
            assert_eq!(
                status_word(raw, &mut buf),
                raw.trim().to_ascii_lowercase(),
                "{raw}"
            );
        }
        assert_eq!(status_word(&"x".repeat(33), &mut buf), "");
    }

    fn probe(json: &str) -> Probe {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn numbers_and_numeric_strings_are_both_read() {
        let p = probe(r#"{"i":"20000","s":42,"after":"x"}"#);
        assert_eq!(
            (p.i, p.s.as_deref(), p.after.as_deref()),
            (Some(20000), Some("42"), Some("x"))
        );
        // A numeric string in any spelling a JSON number may take is that number.
        for spelled in [
            r#""20000.0""#,
            r#""2e4""#,
            r#"" 2.0E4 ""#,
            "2e4",
            "20000.00",
        ] {
            let json = format!(r#"{{"i":{spelled}}}"#);
            assert_eq!(probe(&json).i, Some(20000), "{json}");
        }
        for not_integral in [r#""20000.5""#, r#""inf""#, r#""NaN""#, r#""1e300""#] {
            let json = format!(r#"{{"i":{not_integral}}}"#);
            assert_eq!(probe(&json).i, None, "{json}");
        }
        let p = probe(r#"{"i":20000.0,"s":"id-1"}"#);
        assert_eq!((p.i, p.s.as_deref()), (Some(20000), Some("id-1")));
        // Beyond i64: not an exact i64 code; as an id, the exact text.
        let p = probe(r#"{"i":18446744073709551615,"s":18446744073709551615}"#);
        assert_eq!(p.i, None);
        assert_eq!(p.s.as_deref(), Some("18446744073709551615"));
    }

    #[test]
    fn other_shapes_are_absent_and_the_rest_of_the_body_still_decodes() {
        for other in [
            "true",
            "null",
            "[1,[2,{}]]",
            r#"{"a":{"b":[1]}}"#,
            r#""not a number""#,
        ] {
            let json = format!(r#"{{"i":{other},"after":"kept"}}"#);
            let p = probe(&json);
            assert_eq!((p.i, p.after.as_deref()), (None, Some("kept")), "{json}");
        }
    }

    #[test]
    fn ids_of_any_size_keep_their_exact_text() {
        for n in [
            "9007199254740993",
            "18446744073709551616",
            "123456789012345678901234567890123456789",
            "-170141183460469231731687303715884105729",
            "1.0",
            "1e400",
        ] {
            let json = format!(r#"{{"s":{n}}}"#);
            assert_eq!(probe(&json).s.as_deref(), Some(n), "{json}");
        }
        assert_eq!(
            probe(r#"{"s":"\u0041b"}"#).s.as_deref(),
            Some("Ab"),
            "escapes in strings are decoded"
        );
    }

    #[test]
    fn usable_ids() {
        assert_eq!(usable_id(Some(" t-1 ")), Some("t-1"));
        for bad in [
            "",
            "   ",
            "a\u{0}b",
            "x[redacted]y",
            // What `validate::id` refuses from a caller is no id from a server either.
            "..",
            "%2e%2e",
            "a/b",
            "a b",
            "..;",
            "\u{200b}",
            &"é".repeat(200),
            "vmeg:clone:1",
            "JimmyAI:x",
        ] {
            assert_eq!(usable_id(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(usable_id(Some("a\u{7}b")), None);
        assert_eq!(usable_id(Some(&"x".repeat(MAX_ID_CHARS + 1))), None);
        assert_eq!(usable_id(None), None);
    }
}
