//! A delivery's free-form parts under a client's text filter.
//!
//! Decoding a stored delivery under the client's filter scrubs every field read by the
//! lenient decoders (`message`, ids, the normalized jobs), but two parts are kept as they
//! came: `extraData` (a [`serde_json::Value`]) and the `data` of an event this crate does
//! not normalize ([`RawData`], JSON text). A delivery can echo the API key in either, so an
//! event a [`Client`](crate::Client) returns has them scrubbed here too: every string,
//! object key and number whose text holds a piece of the key.

use client_glue::TextFilter;
use serde_json::Value;

use super::{RawData, WebhookEvent, WebhookPayload};

/// `event` with `extraData` and a raw `data` passed through `filter`.
pub(super) fn scrub_event(mut event: WebhookEvent, filter: &TextFilter) -> WebhookEvent {
    if let Some(extra) = event.extra_data.as_mut() {
        scrub_value(extra, filter);
    }
    if let WebhookPayload::Other(raw) = &mut event.payload
        && let Some(text) = scrub_json_text(raw.as_str(), filter)
    {
        // Text made of the original's tokens and re-encoded strings is JSON; should it not
        // be all the same, nothing of the original is kept.
        let value = serde_json::value::RawValue::from_string(text)
            .unwrap_or_else(|_| serde_json::value::RawValue::NULL.to_owned());
        *raw = RawData(value);
    }
    event
}

/// Filters every string and object key of `value`; a number whose text the filter changes
/// becomes that text as a string.
fn scrub_value(value: &mut Value, filter: &TextFilter) {
    match value {
        Value::String(s) => *s = filter(std::mem::take(s)),
        Value::Number(n) => {
            let text = n.to_string();
            let filtered = filter(text.clone());
            if filtered != text {
                *value = Value::String(filtered);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_value(v, filter)),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut v) in entries {
                scrub_value(&mut v, filter);
                map.insert(filter(key), v);
            }
        }
        Value::Null | Value::Bool(_) => {}
    }
}

/// `text` (valid JSON) with every string literal (object keys included) and every number
/// the filter changes replaced by the filtered text, re-encoded as a JSON string; `None`
/// when nothing changes. Token by token rather than through a [`Value`], so that the rest
/// keeps its exact text (an id beyond `u64` keeps its digits).
fn scrub_json_text(text: &str, filter: &TextFilter) -> Option<String> {
    rewrite_json_text(text, &**filter, false)
}

/// What a string literal that does not decode (a lone surrogate escape, which JSON text
/// may hold) becomes: it cannot be searched, and may hold the key.
const UNDECODABLE: &str = "\"[undecodable string]\"";

/// [`scrub_json_text`] with any `filter`; with `normalize`, every string literal is also
/// written back as serde_json writes strings (escaping only what JSON requires) where its
/// text differs, so that a text search finds what `\u` escapes spelled. A literal that does
/// not decode becomes [`UNDECODABLE`].
pub(super) fn rewrite_json_text(
    text: &str,
    filter: &dyn Fn(String) -> String,
    normalize: bool,
) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    let (mut copied, mut i, mut changed) = (0usize, 0usize, false);
    while let Some(&b) = bytes.get(i) {
        let start = i;
        let token = if b == b'"' {
            i = end_of_string(bytes, i);
            let literal = text.get(start..i).unwrap_or_default();
            let Ok(decoded) = serde_json::from_str::<String>(literal) else {
                out.push_str(text.get(copied..start).unwrap_or_default());
                out.push_str(UNDECODABLE);
                copied = i;
                changed = true;
                continue;
            };
            if normalize {
                let filtered = filter(decoded);
                let written = serde_json::to_string(&filtered).unwrap_or_else(|_| "null".into());
                if written != literal {
                    out.push_str(text.get(copied..start).unwrap_or_default());
                    out.push_str(&written);
                    copied = i;
                    changed = true;
                }
                continue;
            }
            Some(decoded)
        } else if b == b'-' || b.is_ascii_digit() {
            while bytes.get(i).is_some_and(|c| {
                c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E')
            }) {
                i = i.saturating_add(1);
            }
            text.get(start..i).map(str::to_owned)
        } else {
            i = i.saturating_add(1);
            continue;
        };
        let Some(token) = token else { continue };
        let filtered = filter(token.clone());
        if filtered != token {
            out.push_str(text.get(copied..start).unwrap_or_default());
            out.push_str(&serde_json::to_string(&filtered).unwrap_or_else(|_| "null".into()));
            copied = i;
            changed = true;
        }
    }
    if !changed {
        return None;
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    Some(out)
}

/// The index just past the string literal opening at `open` (a `"`), or the text's end.
fn end_of_string(bytes: &[u8], open: usize) -> usize {
    let mut i = open.saturating_add(1);
    loop {
        match bytes.get(i) {
            Some(b'\\') => i = i.saturating_add(2),
            Some(b'"') => return i.saturating_add(1),
            Some(_) => i = i.saturating_add(1),
            None => return bytes.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::Arc;

    const KEY: &str = "sk-live-0123456789abcdef";

    fn filter() -> TextFilter {
        let s = Arc::new(crate::scrub::Scrubber::new(KEY));
        crate::scrub::text_filter(&s)
    }

    /// Normalizing writes escaped strings plainly (so a search finds what `\u` escapes
    /// spelled), keeps numbers, layout and plain strings exactly, and replaces a string that
    /// does not decode; scrubbing replaces one too.
    #[test]
    fn normalizing_unescapes_strings_and_replaces_undecodable_ones() {
        let text = r#"{"k": "\u0073k-\u006cive", "id": 98765432109876543210, "p": "a \"b\" é", "bad": "x\ud800"}"#;
        let out = rewrite_json_text(text, &|s| s, true).unwrap();
        assert_eq!(
            out,
            format!(
                r#"{{"k": "sk-live", "id": 98765432109876543210, "p": "a \"b\" é", "bad": {UNDECODABLE}}}"#
            )
        );
        assert!(serde_json::from_str::<Value>(&out).is_ok());
        assert_eq!(rewrite_json_text(r#"{"a": [1, "b"]}"#, &|s| s, true), None);
        let out = scrub_json_text(&format!(r#"["{KEY}\udfff"]"#), &filter()).unwrap();
        assert_eq!(out, format!("[{UNDECODABLE}]"));
    }

    #[test]
    fn strings_keys_and_numbers_holding_the_key_are_scrubbed_the_rest_kept_exactly() {
        let f = filter();
        let text = format!(
            r#"{{"id": 987654321098765432109876543210, "{KEY}": ["a {KEY} b", "\u0073k-live-0123456789abcdef", 1.5e3, true, null], "n": "plain \"quoted\" \\ é"}}"#
        );
        let out = scrub_json_text(&text, &f).unwrap();
        assert!(!out.contains("0123456789ab"), "{out}");
        let value: Value = serde_json::from_str(&out).unwrap();
        assert!(!value.to_string().contains("0123456789ab"), "{value}");
        assert!(out.contains("987654321098765432109876543210"), "{out}");
        assert!(out.contains(r#""n": "plain \"quoted\" \\ é""#), "{out}");
        assert!(out.contains("1.5e3, true, null"), "{out}");
        assert_eq!(scrub_json_text(r#"{"a": [1, "b"]}"#, &f), None);
        // A key made of digits, echoed as a number.
        let digits =
            crate::scrub::text_filter(&Arc::new(crate::scrub::Scrubber::new("98765432109876")));
        let out = scrub_json_text(r#"{"n": 98765432109876}"#, &digits).unwrap();
        assert_eq!(out, r#"{"n": "[redacted]"}"#);
    }

    #[test]
    fn values_are_scrubbed_everywhere() {
        let mut v = serde_json::json!({KEY: {"x": [format!("key {KEY}"), 1]}, "k": KEY});
        scrub_value(&mut v, &filter());
        assert!(!v.to_string().contains("0123456789ab"), "{v}");
        assert_eq!(v["k"], "[redacted]");
    }

    #[test]
    fn damaged_text_never_panics() {
        let f = filter();
        for text in [r#"""#, r#""\"#, "-", r#"{"a":"\u00"#, "é\"", KEY] {
            let _ = scrub_json_text(text, &f);
        }
    }
}
