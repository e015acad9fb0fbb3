//! Wording: how values are printed in a difference.

use serde_json::Value;
use std::collections::BTreeSet;

use super::*;

pub(super) fn fmt_opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "none".to_string())
}

pub(super) fn fmt_json(v: &Option<Value>) -> String {
    v.as_ref()
        .map_or_else(|| "none".to_string(), |x| x.to_string())
}

pub(super) fn fmt_enum(v: &Option<Vec<Value>>) -> String {
    match v {
        None => "no enum".to_string(),
        Some(vals) => {
            let words: Vec<String> = vals
                .iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), String::from))
                .collect();
            format!("enum [{}]", words.join(", "))
        }
    }
}

pub(super) fn fmt_bound(b: &Option<Bound>) -> String {
    match b {
        None => "none".to_string(),
        Some(b) if b.exclusive => format!("{} (exclusive)", b.value),
        Some(b) => b.value.to_string(),
    }
}

pub(super) fn fmt_set(s: &BTreeSet<String>) -> String {
    if s.is_empty() {
        "none".to_string()
    } else {
        s.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// A JSON value as compact text with object keys sorted, so that key order never matters.
pub(super) fn canonical(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| {
                    let value = map.get(k).map_or_else(String::new, canonical);
                    format!("{}:{value}", Value::String(k.clone()))
                })
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

/// Values longer than this are shown as a hash.
const KEYWORD_VALUE_MAX: usize = 40;

/// A keyword with its value for the table: `multipleOf=5`, `style="form"`, or, for a value
/// whose canonical text is long (`headers`, `not`, a `oneOf`), `headers=#` and the first 12
/// hex digits of the text's SHA-256.
pub(super) fn keyword_value(key: &str, v: &Value) -> String {
    use sha2::Digest as _;
    let text = canonical(v);
    if text.chars().count() <= KEYWORD_VALUE_MAX {
        format!("{key}={text}")
    } else {
        let digest = hex::encode(sha2::Sha256::digest(text.as_bytes()));
        format!("{key}=#{}", digest.get(..12).unwrap_or(&digest))
    }
}
