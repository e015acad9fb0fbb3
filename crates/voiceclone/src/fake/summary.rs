//! The request summary of a fake submit whose outcome was lost, made by the client's own
//! `transport::summary_fields`: method, route and the body's fields in order, free text as
//! its length and a hash, URLs without credentials, query or fragment, values cut.
//!
//! The body is the dry run's plan of the same request (`crate::estimate`), with the values
//! the client makes when sending (the idempotency key, a nameless VMEG clone's name) put in.

use serde_json::Value;

use crate::error::RequestSummary;
use crate::estimate::{GENERATED, PlannedRequest};
use crate::model::Provider;

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
    RequestSummary {
        method: planned.method.to_owned(),
        route: planned.path.clone(),
        fields: crate::transport::summary_fields(&body, free_text),
        body: crate::transport::body_digest(&body, free_text),
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
