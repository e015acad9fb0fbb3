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
