//! A delivery's free-form parts under a client's text filter.
//!
//! Decoding a stored delivery under the client's filter scrubs every field read by the
//! lenient decoders (`message`, ids, the normalized jobs), but two parts are kept as they
//! came: `extraData` (a [`serde_json::Value`]) and the `data` of an event this crate does
//! not normalize ([`RawData`], JSON text). A delivery can echo the API key in either, so an
//! event a [`Client`](crate::Client) returns has them scrubbed here too: every string,
//! object key and number whose text holds a piece of the key.

use client_glue::TextFilter;
use client_glue::wire::{JsonRewrite, rewrite_json_text};
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
    let how = JsonRewrite {
        numbers: true,
        normalize: false,
    };
    rewrite_json_text(text, &**filter, how)
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

    /// A string that does not decode may hold the key: it is replaced.
    #[test]
    fn an_undecodable_string_is_replaced() {
        let out = scrub_json_text(&format!(r#"["{KEY}\udfff"]"#), &filter()).unwrap();
        assert_eq!(out, format!("[{}]", client_glue::wire::UNDECODABLE));
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
