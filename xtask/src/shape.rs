//! What the xtask changes between a spec and what progenitor sees, in one place.
//!
//! The spec stays the truth a reader checks; these changes only make the generated client
//! keep everything a caller needs when a vendor behaves loosely. Each change is listed in the
//! generated file's header ([`Shaped::notes`]).
//!
//! 1. **Failure responses are left undeclared.** progenitor decodes a declared JSON 4XX/5XX
//!    whole, and when it is not JSON (a gateway's HTML 502) reports `InvalidResponsePayload`
//!    without the status or headers. Undeclared, every non-2xx arrives as
//!    `Error::UnexpectedResponse(reqwest::Response)` with status, headers (`Retry-After`) and
//!    body intact.
//! 2. **Answers are read leniently.** In every schema that only ever arrives (responses,
//!    webhook bodies), plain strings and string enums become `client_glue::Text` (a number
//!    keeps its exact text: big numeric ids never become floats; a new status word never
//!    fails decoding), integers `client_glue::Int`, numbers `client_glue::Number`, values of
//!    unknown shape and booleans (`"true"`, `1`) `client_glue::RawJson`, arrays `client_glue::List` of their (lenient)
//!    items (`null`, absence or a value that is not an array reads as empty; an element that
//!    does not decode is skipped, not the answer failed); the `Code` schema becomes
//!    `client_glue::Code` (integer or numeric string). Schemas that requests use as well are left as the spec
//!    says, so what is sent keeps its types.
//!    Components that are compositions (`allOf`/`oneOf`/`anyOf`, their scalar members made
//!    lenient too) or maps (`additionalProperties`) are shaped like objects, and a 2xx answer
//!    written as `$ref: '#/components/responses/X'` is replaced by its own copy of `X` first.
//!    A scalar component only answers use is refused (a `$ref` to it is left alone, so it would
//!    be decoded strictly), as are a request's `Code` and a schema named like a lenient type.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

/// The keywords that give a schema a structure of its own (fields, items or parts), as
/// opposed to a scalar the shaping can replace by a lenient type.
const STRUCTURE_KEYWORDS: [&str; 5] = ["properties", "items", "allOf", "oneOf", "anyOf"];

/// Whether `schema` has a structure of its own (see [`STRUCTURE_KEYWORDS`]).
fn structured(schema: &Value) -> bool {
    STRUCTURE_KEYWORDS.iter().any(|k| schema.get(*k).is_some())
}

/// The replacement types, by the component name the xtask gives them.
pub const REPLACEMENTS: &[(&str, &str)] = &[
    ("Code", "::client_glue::Code"),
    ("LenientText", "::client_glue::Text"),
    ("LenientInt", "::client_glue::Int"),
    ("LenientNumber", "::client_glue::Number"),
    ("LenientJson", "::client_glue::RawJson"),
];

const TEXT: &str = "#/components/schemas/LenientText";
const INT: &str = "#/components/schemas/LenientInt";
const NUMBER: &str = "#/components/schemas/LenientNumber";
const RAW: &str = "#/components/schemas/LenientJson";
const SCHEMAS: &str = "#/components/schemas/";

/// The extension typify reads a Rust type (with type parameters) from.
const LIST_EXTENSION: &str = "x-rust-type";
/// The crate that holds the lenient list type, as named in `x-rust-type` (see
/// `codegen::settings`, which lets typify use its types).
pub const LIST_CRATE: &str = "client-glue";
/// The lenient list type; `codegen` turns an optional field of it into a plain one.
pub const LIST_PATH: &str = "client_glue::List";

/// The shaped document and what was changed.
#[derive(Debug)]
pub struct Shaped {
    pub json: Value,
    pub notes: Vec<String>,
}

/// Shapes a spec (as JSON) for progenitor. Refuses (with a message naming the component) a
/// spec the shaping cannot make lenient as documented: a component named like a replacement
/// type the xtask adds, a `Code` component requests use (typify replaces every `Code` by
/// `client_glue::Code`), and a scalar component only answers use (a field refers to it by
/// `$ref`, which the shaping leaves alone, so it would be decoded strictly).
pub fn for_progenitor(spec: &Value) -> Result<Shaped, String> {
    let mut json = spec.clone();
    let mut notes = Vec::new();
    let removed = drop_failure_responses(&mut json);
    if removed > 0 {
        notes.push(format!(
            "failure responses left undeclared ({removed} removed): every non-2xx status arrives as `Error::UnexpectedResponse` with status, headers and body intact"
        ));
    }
    inline_answer_refs(&mut json)?;
    let requests = request_schemas(&json);
    check_components(&json, &requests)?;
    let mut lenient = 0usize;
    let names: Vec<String> = json
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let mut shaped_names = Vec::new();
    for name in &names {
        if requests.contains(name) || name == "Code" {
            continue;
        }
        if let Some(schema) = json
            .pointer_mut(&format!("/components/schemas/{}", escape(name)))
            .filter(|s| {
                structured(s) || s.get("additionalProperties").is_some_and(Value::is_object)
            })
        {
            let before = lenient;
            lenient += lenient_children(schema, name);
            if lenient > before {
                shaped_names.push(name.clone());
            }
        }
    }
    // Inline schemas of 2xx answers (component references are handled above).
    for op in operations_mut(&mut json) {
        // progenitor names an inline answer `<OperationId>Response`.
        let hint = format!(
            "{}Response",
            op.get("operationId")
                .and_then(Value::as_str)
                .map(pascal)
                .unwrap_or_default()
        );
        if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
            for response in responses.values_mut() {
                if let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) {
                    for media in content.values_mut() {
                        if let Some(schema) = media.get_mut("schema")
                            && schema.get("$ref").is_none()
                        {
                            lenient += lenient_children(schema, &hint);
                        }
                    }
                }
            }
        }
    }
    let has_code = json.pointer("/components/schemas/Code").is_some();
    if lenient > 0 || has_code {
        // The lenient types are components; a spec without `components.schemas` gets one.
        if let Some(doc) = json.as_object_mut() {
            let components = doc
                .entry("components")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(components) = components.as_object_mut() {
                components
                    .entry("schemas")
                    .or_insert_with(|| Value::Object(Map::new()));
            }
        }
        if let Some(schemas) = json
            .pointer_mut("/components/schemas")
            .and_then(Value::as_object_mut)
        {
            schemas.insert("LenientText".into(), json!({"type": "string"}));
            schemas.insert("LenientInt".into(), json!({"type": "integer"}));
            schemas.insert("LenientNumber".into(), json!({"type": "number"}));
            schemas.insert(
                "LenientJson".into(),
                json!({"description": "any JSON value"}),
            );
        }
        notes.push(format!(
            "answers read leniently ({lenient} fields of {}): strings and string enums as `client_glue::Text` (numbers keep their exact text), integers as `client_glue::Int`, numbers as `client_glue::Number`, values of unknown shape as `client_glue::RawJson`, arrays as `client_glue::List` (`null`, absent or not an array reads as empty; an element that does not decode is skipped){}",
            if shaped_names.is_empty() {
                "inline answers".to_string()
            } else {
                shaped_names.join(", ")
            },
            if has_code {
                "; `Code` as `client_glue::Code` (integer or numeric string)"
            } else {
                ""
            }
        ));
    }
    Ok(Shaped { json, notes })
}

/// A 2xx answer written as `$ref: '#/components/responses/X'` is replaced by a copy of `X`, so
/// that its inline schemas are shaped like any inline answer's (the copy is the operation's
/// own: `X` itself, shared, is left alone). Refused, naming the operation, when the `$ref` does
/// not resolve in the spec.
fn inline_answer_refs(json: &mut Value) -> Result<(), String> {
    let doc = json.clone();
    for op in operations_mut(json) {
        let id = op
            .get("operationId")
            .and_then(Value::as_str)
            .unwrap_or("(no operationId)")
            .to_string();
        let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
            continue;
        };
        for (status, response) in responses.iter_mut() {
            for _ in 0..16 {
                let Some(r) = response.get("$ref").and_then(Value::as_str) else {
                    break;
                };
                let Some(target) = r.strip_prefix('#').and_then(|p| doc.pointer(p)) else {
                    return Err(format!(
                        "operation `{id}`: response {status} refers to `{r}`, which is not in the spec; its answer could not be read leniently"
                    ));
                };
                *response = target.clone();
            }
            if response.get("$ref").is_some() {
                return Err(format!(
                    "operation `{id}`: response {status} is a chain of more than 16 `$ref`s"
                ));
            }
        }
    }
    Ok(())
}

/// The refusals documented on [`for_progenitor`].
fn check_components(json: &Value, requests: &BTreeSet<String>) -> Result<(), String> {
    let Some(schemas) = json
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    else {
        return Ok(());
    };
    for (name, schema) in schemas {
        if let Some((_, path)) = REPLACEMENTS
            .iter()
            .find(|(reserved, _)| *reserved != "Code" && reserved == name)
        {
            return Err(format!(
                "component schema `{name}`: the name is reserved for the xtask's lenient type \
                 (`{path}`); rename the schema"
            ));
        }
        if name == "Code" {
            if requests.contains(name) {
                return Err(
                    "component schema `Code`: every `Code` becomes `client_glue::Code` (the \
                     envelope's answer code), but a request uses it; rename the schema"
                        .to_string(),
                );
            }
            continue;
        }
        if requests.contains(name) {
            continue;
        }
        let has_structure = structured(schema);
        let scalar = match schema.get("type").and_then(Value::as_str) {
            Some("string") => schema.get("format").and_then(Value::as_str) != Some("binary"),
            Some("integer" | "number" | "boolean") => true,
            Some(_) => false,
            None => schema.get("enum").is_some(),
        };
        if scalar && !has_structure {
            return Err(format!(
                "component schema `{name}`: a scalar only answers use; a field that refers to it \
                 by `$ref` would be decoded strictly (a new enum value or a number sent as text \
                 would fail the whole answer), since the shaping makes answer fields lenient but \
                 leaves references alone. Write it inline in the answer (it is then read as a \
                 lenient client_glue type)"
            ));
        }
    }
    Ok(())
}

fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

fn operations_mut(json: &mut Value) -> Vec<&mut Map<String, Value>> {
    let mut out = Vec::new();
    if let Some(paths) = json.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            if let Some(item) = item.as_object_mut() {
                for (k, op) in item.iter_mut() {
                    if is_method(k)
                        && let Some(op) = op.as_object_mut()
                    {
                        out.push(op);
                    }
                }
            }
        }
    }
    out
}

fn is_method(key: &str) -> bool {
    matches!(
        key,
        "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace"
    )
}

/// Removes every response that is not a 2xx; returns how many.
fn drop_failure_responses(json: &mut Value) -> usize {
    let mut removed = 0;
    for op in operations_mut(json) {
        if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
            let before = responses.len();
            responses.retain(|status, _| status.starts_with('2'));
            removed += before - responses.len();
        }
    }
    removed
}

/// Component schemas reachable from request bodies and parameters.
fn request_schemas(json: &Value) -> BTreeSet<String> {
    let mut roots = Vec::new();
    if let Some(paths) = json.get("paths").and_then(Value::as_object) {
        for item in paths.values() {
            let Some(item) = item.as_object() else {
                continue;
            };
            for (k, op) in item {
                if !is_method(k) {
                    if k == "parameters" {
                        roots.push(op.clone());
                    }
                    continue;
                }
                if let Some(body) = op.get("requestBody") {
                    roots.push(body.clone());
                }
                if let Some(params) = op.get("parameters") {
                    roots.push(params.clone());
                }
            }
        }
    }
    let mut refs = BTreeSet::new();
    let mut stack = roots;
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref")
                    && refs.insert(r.clone())
                    && let Some(target) = r.strip_prefix('#').and_then(|p| json.pointer(p))
                {
                    stack.push(target.clone());
                }
                stack.extend(map.into_iter().map(|(_, v)| v));
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    refs.iter()
        .filter_map(|r| r.strip_prefix(SCHEMAS))
        .map(str::to_owned)
        .collect()
}

fn pascal(name: &str) -> String {
    heck::ToUpperCamelCase::to_upper_camel_case(name)
}

/// Makes the properties and items of an object or array schema lenient; returns how many
/// fields changed. `hint` is the Rust name typify gives the schema: an inline element of a
/// list is named after it (`<hint><Property>Item`).
fn lenient_children(schema: &mut Value, hint: &str) -> usize {
    let mut changed = 0;
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for (name, prop) in props.iter_mut() {
            changed += lenient_field(prop, &format!("{hint}{}", pascal(name)));
        }
    }
    if let Some(items) = schema.get_mut("items") {
        changed += lenient_field(items, &format!("{hint}Item"));
    }
    // The values of a map (`additionalProperties: {enum: [..]}`) are fields too.
    if let Some(values) = schema
        .get_mut("additionalProperties")
        .filter(|v| v.is_object())
    {
        changed += lenient_field(values, &format!("{hint}Value"));
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(list) = schema.get_mut(key).and_then(Value::as_array_mut) {
            for member in list {
                if member.get("$ref").is_some() {
                    continue;
                }
                // A scalar member (`oneOf: [{type: integer}, {type: string}]`) becomes its
                // lenient type; any other member is walked (never replaced whole: a member
                // such as `{required: [..]}` constrains the rest).
                let scalar = matches!(
                    member.get("type").and_then(Value::as_str),
                    Some("string" | "integer" | "number" | "array")
                );
                changed += if scalar {
                    lenient_field(member, hint)
                } else {
                    lenient_children(member, hint)
                };
            }
        }
    }
    changed
}

/// One field's schema: a primitive becomes its lenient type; an inline object or array is
/// walked. References to components are left alone (each component is shaped on its own).
fn lenient_field(field: &mut Value, hint: &str) -> usize {
    let Some(map) = field.as_object() else {
        return 0;
    };
    if map.contains_key("$ref") {
        return 0;
    }
    let kind = map.get("type").and_then(Value::as_str);
    if kind == Some("array") {
        return lenient_list(field, hint);
    }
    let target = match kind {
        Some("string") if map.get("format").and_then(Value::as_str) != Some("binary") => Some(TEXT),
        Some("integer") => Some(INT),
        Some("number") => Some(NUMBER),
        // No lenient boolean type: a raw value, so `"true"` or `1` never fails the answer.
        Some("boolean") => Some(RAW),
        Some("object") => None,
        None if STRUCTURE_KEYWORDS.iter().all(|k| !map.contains_key(*k)) => Some(RAW),
        _ => None,
    };
    match target {
        Some(target) => {
            let mut replacement = Map::new();
            replacement.insert("allOf".into(), json!([{ "$ref": target }]));
            for keep in ["description", "nullable"] {
                if let Some(v) = map.get(keep) {
                    replacement.insert(keep.into(), v.clone());
                }
            }
            *field = Value::Object(replacement);
            1
        }
        None => lenient_children(field, hint),
    }
}

/// An array field of an answer becomes `client_glue::List` of its (lenient) items: `null`,
/// absence or a value that is not an array reads as empty, and an element that does not
/// decode is skipped instead of failing the answer. typify's `x-rust-type` extension names
/// the generic type; its parameter is the items' schema. The field keeps `type: array` and
/// `items` for a reader of the shaped document; typify goes by the extension. typify cannot
/// name an inline type parameter by itself (it panics), so an inline element schema gets a
/// `title`: `<hint>Item`, the name typify gives the element of a `Vec`.
fn lenient_list(field: &mut Value, hint: &str) -> usize {
    let Some(map) = field.as_object_mut() else {
        return 0;
    };
    let mut items = map.remove("items").unwrap_or_else(|| json!({}));
    let item_hint = format!("{hint}Item");
    lenient_field(&mut items, &item_hint);
    if let Some(item) = items.as_object_mut()
        && needs_a_name(item)
    {
        item.insert("title".into(), json!(item_hint));
    }
    let mut replacement = Map::new();
    replacement.insert("type".into(), json!("array"));
    replacement.insert("items".into(), items.clone());
    if let Some(v) = map.get("description") {
        replacement.insert("description".into(), v.clone());
    }
    replacement.insert(
        LIST_EXTENSION.into(),
        json!({
            "crate": LIST_CRATE,
            "version": "*",
            "path": LIST_PATH,
            "parameters": [items],
        }),
    );
    *field = Value::Object(replacement);
    1
}

/// Whether typify would need a name for this schema as a type parameter: anything but a
/// reference (also as the one member of an `allOf`, how lenient scalars are written), a list
/// (named by its extension) or a schema with a title already.
fn needs_a_name(schema: &Map<String, Value>) -> bool {
    let one_ref = |v: &Value| {
        v.as_array()
            .is_some_and(|a| a.len() == 1 && a[0].get("$ref").is_some())
    };
    !(schema.contains_key("$ref")
        || schema.contains_key("title")
        || schema.contains_key(LIST_EXTENSION)
        || schema.get("allOf").is_some_and(one_ref))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn failures_go_and_answers_become_lenient_but_requests_do_not() {
        let spec = json!({
            "openapi": "3.0.3",
            "paths": {"/x": {"post": {
                "operationId": "x",
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Req"}}}},
                "responses": {
                    "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ans"}}}},
                    "4XX": {"description": "e"},
                    "500": {"description": "e"}
                }
            }}},
            "components": {"schemas": {
                "Code": {"type": "integer"},
                "Req": {"type": "object", "properties": {"name": {"type": "string"}, "n": {"type": "integer"}, "ids": {"type": "array", "items": {"type": "string"}}}},
                "Ans": {"type": "object", "properties": {
                    "code": {"$ref": "#/components/schemas/Code"},
                    "id": {"type": "string", "description": "d"},
                    "status": {"type": "string", "enum": ["a"]},
                    "n": {"type": "integer", "nullable": true},
                    "f": {"type": "number"},
                    "any": {"nullable": true},
                    "flag": {"type": "boolean"},
                    "list": {"type": "array", "items": {"type": "object", "properties": {"uri": {"type": "string"}}}}
                }}
            }}
        });
        let shaped = for_progenitor(&spec).unwrap();
        let j = &shaped.json;
        let responses = j
            .pointer("/paths/~1x/post/responses")
            .and_then(Value::as_object);
        assert_eq!(responses.map(|r| r.len()), Some(1));
        let ans = |f: &str| {
            j.pointer(&format!(
                "/components/schemas/Ans/properties/{f}/allOf/0/$ref"
            ))
            .cloned()
        };
        assert_eq!(ans("id"), Some(json!(TEXT)));
        assert_eq!(ans("status"), Some(json!(TEXT)));
        assert_eq!(ans("n"), Some(json!(INT)));
        assert_eq!(ans("f"), Some(json!(NUMBER)));
        assert_eq!(ans("any"), Some(json!(RAW)));
        assert_eq!(ans("flag"), Some(json!(RAW)));
        assert_eq!(
            j.pointer("/components/schemas/Ans/properties/list/items/properties/uri/allOf/0/$ref"),
            Some(&json!(TEXT))
        );
        // An answer's array is a lenient list of its lenient items, named when inline.
        assert_eq!(
            j.pointer("/components/schemas/Ans/properties/list/x-rust-type/path"),
            Some(&json!(LIST_PATH))
        );
        assert_eq!(
            j.pointer("/components/schemas/Ans/properties/list/x-rust-type/parameters/0/title"),
            Some(&json!("AnsListItem"))
        );
        assert_eq!(
            j.pointer("/components/schemas/Ans/properties/list/x-rust-type/parameters/0/properties/uri/allOf/0/$ref"),
            Some(&json!(TEXT))
        );
        assert_eq!(
            j.pointer("/components/schemas/Ans/properties/n/nullable"),
            Some(&json!(true))
        );
        // Requests keep their types.
        assert_eq!(
            j.pointer("/components/schemas/Req/properties/name"),
            Some(&json!({"type": "string"}))
        );
        assert_eq!(
            j.pointer("/components/schemas/Req/properties/ids"),
            Some(&json!({"type": "array", "items": {"type": "string"}}))
        );
        assert_eq!(shaped.notes.len(), 2, "{:?}", shaped.notes);
    }

    /// One operation answering `answer`, with `schemas` as its components (none if `Null`).
    fn answering(answer: Value, schemas: Value) -> Value {
        let mut spec = json!({
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": {"/x": {"post": {
                "operationId": "x",
                "requestBody": {"content": {"application/json": {"schema": {
                    "type": "object", "properties": {"code": {"$ref": "#/components/schemas/Code"}}
                }}}},
                "responses": {"200": {"description": "ok", "content": {"application/json": {
                    "schema": answer}}}}
            }}}
        });
        if !schemas.is_null() {
            spec["components"] = json!({ "schemas": schemas });
        }
        spec
    }

    #[test]
    fn components_the_shaping_cannot_make_lenient_are_refused() {
        let answer = json!({"type": "object", "properties": {
            "status": {"$ref": "#/components/schemas/Status"}}});
        // A response-only enum, referred to by `$ref`: it would be decoded strictly.
        let spec = answering(
            answer.clone(),
            json!({"Status": {"type": "string", "enum": ["a", "b"]}}),
        );
        let msg = for_progenitor(&spec).unwrap_err();
        assert!(
            msg.contains("component schema `Status`: a scalar only answers use"),
            "{msg}"
        );
        // A request's `Code` would be replaced by `client_glue::Code`.
        let spec = answering(
            answer.clone(),
            json!({"Code": {"type": "string"}, "Status": {"type": "object"}}),
        );
        let msg = for_progenitor(&spec).unwrap_err();
        assert!(
            msg.contains("`Code`") && msg.contains("a request uses it"),
            "{msg}"
        );
        // A schema of the spec named like a lenient type would be overwritten.
        let spec = answering(
            answer,
            json!({"Status": {"type": "object"}, "LenientText": {"type": "object"}}),
        );
        let msg = for_progenitor(&spec).unwrap_err();
        assert!(
            msg.contains("`LenientText`") && msg.contains("::client_glue::Text"),
            "{msg}"
        );
    }

    /// A spec without `components.schemas` gets one for the lenient types its answers refer
    /// to, instead of dangling references.
    #[test]
    fn a_spec_without_components_gets_the_lenient_types() {
        let mut spec = answering(
            json!({"type": "object", "properties": {"id": {"type": "string"}}}),
            Value::Null,
        );
        spec["paths"]["/x"]["post"]
            .as_object_mut()
            .unwrap()
            .remove("requestBody");
        let shaped = for_progenitor(&spec).unwrap();
        assert_eq!(
            shaped
                .json
                .pointer("/paths/~1x/post/responses/200/content/application~1json/schema/properties/id/allOf/0/$ref"),
            Some(&json!(TEXT))
        );
        assert_eq!(
            shaped.json.pointer("/components/schemas/LenientText"),
            Some(&json!({"type": "string"}))
        );
    }
}
