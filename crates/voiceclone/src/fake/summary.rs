//! The request summary of a fake submit whose outcome was lost, made as the client makes it
//! (`transport::summary`): method, route and the body's fields in order, free text as its
//! length and a hash, URLs without credentials, query or fragment, values cut.
//!
//! The body is the dry run's plan of the same request (`crate::estimate`), with the values
//! the client makes when sending (the idempotency key, a nameless VMEG clone's name) put in.

use serde_json::Value;
use url::Url;

use crate::error::RequestSummary;
use crate::estimate::{GENERATED, PlannedRequest};
use crate::model::Provider;

/// As in the client: at most this many fields, each cut to this many characters.
const MAX_FIELDS: usize = 32;
const MAX_CHARS: usize = 200;

/// The summary of `planned` as sent under `key`, a VMEG clone named `name`.
pub(super) fn of(
    provider: Provider,
    planned: &PlannedRequest,
    key: Option<&str>,
    name: Option<&str>,
) -> RequestSummary {
    let mut body = planned.body.clone();
    if let Some(key) = key {
        fill_generated(&mut body, key);
    }
    if let (Some(name), Some(map)) = (name, body.as_object_mut())
        && map.contains_key("voiceName")
    {
        map.insert("voiceName".into(), Value::String(name.to_owned()));
    }
    let free_text = match provider {
        Provider::Vmeg => crate::provider::vmeg::FREE_TEXT,
        _ => crate::provider::jimmyai::FREE_TEXT,
    };
    let mut fields = Vec::new();
    flatten("", &body, free_text, &mut fields);
    fields.truncate(MAX_FIELDS);
    RequestSummary {
        method: planned.method.to_owned(),
        route: planned.path.clone(),
        fields,
    }
}

/// Puts the key where the plan says "made when sent" (VMEG's `extraData`).
fn fill_generated(value: &mut Value, key: &str) {
    match value {
        Value::String(s) if s == GENERATED => *s = key.to_owned(),
        Value::Object(map) => map.values_mut().for_each(|v| fill_generated(v, key)),
        Value::Array(items) => items.iter_mut().for_each(|v| fill_generated(v, key)),
        _ => {}
    }
}

fn flatten(path: &str, value: &Value, free_text: &[&str], out: &mut Vec<(String, String)>) {
    let leaf = path.rsplit(['.', ']']).next().unwrap_or(path);
    match value {
        Value::Null => {}
        Value::Object(map) => {
            for (k, v) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                flatten(&p, v, free_text, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{path}[{i}]"), v, free_text, out);
            }
        }
        Value::String(text) if free_text.contains(&leaf) => {
            out.push((path.to_owned(), fingerprint(text)));
        }
        Value::String(text) => out.push((path.to_owned(), quotable(text))),
        other => out.push((path.to_owned(), other.to_string())),
    }
}

fn fingerprint(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    let short: String = digest
        .as_ref()
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("<{} chars, sha256:{short}>", text.chars().count())
}

fn quotable(text: &str) -> String {
    if let Ok(mut url) = Url::parse(text)
        && url.has_host()
    {
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_query(None);
        url.set_fragment(None);
        return url.to_string();
    }
    let mut quoted: String = text.chars().take(MAX_CHARS).collect();
    if quoted.len() < text.len() {
        quoted.push('…');
    }
    quoted
}
