//! Loading a spec, and the checks made before progenitor sees it.
//!
//! progenitor 0.15 panics on some layouts (two 2xx schemas, a `$ref` path item) and cannot
//! generate multipart bodies. Checking here turns each of those into a one-line error that
//! names the file and the operation, and lets a spec mark an operation it must not generate.

use crate::{Result, err};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The vendor extension that keeps an operation out of generation: exactly `{skip: <bool>,
/// reason: <non-blank string>}`, anything else refused. The reason is printed by `cargo xtask
/// codegen`: nothing is dropped silently.
pub const SKIP_EXTENSION: &str = "x-voiceclone-codegen";

/// The vendor extension giving an operation a timeout of its own, in whole seconds (1 to
/// 3600), instead of `client_glue::DEFAULT_TIMEOUT`: the generated `connect` applies it (a
/// synchronous create that takes tens of seconds, say).
pub const TIMEOUT_EXTENSION: &str = "x-voiceclone-timeout-seconds";

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// A spec ready for progenitor.
#[derive(Debug)]
pub struct Spec {
    /// How the spec is named in messages (its path relative to the workspace root).
    pub name: String,
    /// SHA-256 of the spec's bytes, recorded in the generated file's header.
    pub sha256: String,
    /// The document with skipped operations removed.
    pub openapi: openapiv3::OpenAPI,
    /// The same document as JSON, for narrowing a progenitor failure to one operation.
    pub json: Value,
    /// Operations kept for generation, in document order.
    pub operations: Vec<Operation>,
    /// Operations left out of generation, with the spec's reason.
    pub skipped: Vec<Skipped>,
    /// Callback operations (requests the vendor sends): progenitor generates none. Each as
    /// `id (METHOD url, callback `name` of parentId)`, in document order.
    pub callbacks: Vec<String>,
    /// Schema bounds the generated types do not check ([`UNCHECKED_BOUNDS`]), each as
    /// `Schema.field: keyword value, ...`, in document order.
    pub unchecked_bounds: Vec<String>,
}

/// Schema keywords typify (progenitor's type generator) drops: the generated types neither
/// check nor carry them. It keeps `minLength`, `maxLength` and `pattern` of a string (as
/// newtypes that check them), so those are not listed.
pub const UNCHECKED_BOUNDS: &[&str] = &[
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
];

/// One operation of a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub id: String,
    pub method: String,
    pub path: String,
    /// Its own timeout in seconds ([`TIMEOUT_EXTENSION`]), if the spec gives one.
    pub timeout_seconds: Option<u64>,
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} {})",
            self.id,
            self.method.to_uppercase(),
            self.path
        )
    }
}

/// An operation left out of generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub operation: Operation,
    pub reason: String,
}

/// Parses and checks a spec's text. `name` is used in every message.
pub fn load(name: &str, text: &str) -> Result<Spec> {
    let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
    let mut json = parse_yaml(name, text)?;
    check_version(name, &json)?;
    let (operations, skipped) = check_operations(name, &mut json)?;
    let openapi = match openapi_document(json.clone()) {
        Ok(v) => v,
        Err(e) => return err(format!("{name}: not a valid OpenAPI 3.0 document: {e}")),
    };
    let callbacks = callback_operations(&json);
    let mut unchecked_bounds = Vec::new();
    bounds_in("", &json, &mut unchecked_bounds);
    Ok(Spec {
        name: name.to_string(),
        sha256,
        openapi,
        json,
        operations,
        skipped,
        callbacks,
        unchecked_bounds,
    })
}

/// The callback operations of every operation kept (`paths.*.*.callbacks.*.*.*`).
fn callback_operations(json: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(paths) = json.get("paths").and_then(Value::as_object) else {
        return out;
    };
    for item in paths.values() {
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            let parent = op.get("operationId").and_then(Value::as_str).unwrap_or("?");
            let Some(callbacks) = op.get("callbacks").and_then(Value::as_object) else {
                continue;
            };
            for (name, callback) in callbacks {
                let Some(urls) = callback.as_object() else {
                    out.push(format!("`{name}` of {parent} (a reference, not read)"));
                    continue;
                };
                for (url, cb_item) in urls {
                    for cb_method in METHODS {
                        if let Some(cb_op) = cb_item.get(*cb_method) {
                            let id = cb_op
                                .get("operationId")
                                .and_then(Value::as_str)
                                .unwrap_or("(no operationId)");
                            out.push(format!(
                                "{id} ({} {url}, callback `{name}` of {parent})",
                                cb_method.to_uppercase()
                            ));
                        }
                    }
                }
            }
        }
    }
    out
}

/// Every object under `value` holding one of [`UNCHECKED_BOUNDS`] as a number or boolean (a
/// schema's bound, never a property of that name, whose value is a schema), named by its
/// place (`components.schemas.` and `properties.` left out, array items as `[]`), its bounds
/// in [`UNCHECKED_BOUNDS`]' order.
fn bounds_in(at: &str, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let found: Vec<String> = UNCHECKED_BOUNDS
                .iter()
                .filter_map(|k| map.get(*k).map(|v| (k, v)))
                .filter(|(_, v)| v.is_number() || v.is_boolean())
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            if !found.is_empty() {
                out.push(format!("{at}: {}", found.join(", ")));
            }
            for (k, v) in map {
                let place = match k.as_str() {
                    "properties" => at.to_string(),
                    "items" => format!("{at}[]"),
                    _ if at.is_empty() => k.clone(),
                    _ => format!("{at}.{k}"),
                };
                let place = place
                    .strip_prefix("components.schemas.")
                    .map_or(place.clone(), str::to_string);
                bounds_in(&place, v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                bounds_in(&format!("{at}.{i}"), v, out);
            }
        }
        _ => {}
    }
}

/// `json` read as an OpenAPI document. The error names where it failed
/// (`paths./a.post.responses.200: missing field ...`): a `Value` carries no line numbers, and
/// a spec has dozens of responses and parameters to search.
pub(crate) fn openapi_document(json: Value) -> std::result::Result<openapiv3::OpenAPI, String> {
    match serde_path_to_error::deserialize::<_, openapiv3::OpenAPI>(json.clone()) {
        Ok(openapi) => Ok(openapi),
        // openapiv3 flattens extensions into most objects, and serde buffers a flattened
        // object, so the path stops at the first of them (often just `paths`): the parts
        // are read alone, below it, to find the deepest that fails.
        Err(whole) => {
            Err(locate(&json)
                .unwrap_or_else(|| placed("", &whole.path().to_string(), whole.inner())))
        }
    }
}

/// `msg` at `at` (a dotted path) and then `inner` (serde_path_to_error's path below it).
fn placed(at: &str, inner: &str, msg: &impl std::fmt::Display) -> String {
    let inner = if inner == "." { "" } else { inner };
    let path = match (at.is_empty(), inner.is_empty()) {
        (true, _) => inner.to_string(),
        (false, true) => at.to_string(),
        (false, false) => format!("{at}.{inner}"),
    };
    if path.is_empty() {
        msg.to_string()
    } else {
        format!("{path}: {msg}")
    }
}

/// The message when `value` at `at` is not a `T`.
fn fails_as<T: serde::de::DeserializeOwned>(value: &Value, at: &str) -> Option<String> {
    match serde_path_to_error::deserialize::<_, T>(value.clone()) {
        Ok(_) => None,
        Err(e) => Some(placed(at, &e.path().to_string(), e.inner())),
    }
}

/// The entries of the object at `key` in `value`, each with its dotted path under `at`.
fn entries<'a>(value: &'a Value, key: &str, at: &str) -> Vec<(String, &'a Value)> {
    // The Paths and Responses objects take `x-` extensions beside their entries: not a path
    // item or a response, so never blamed as one. (Header names may start with `x-`.)
    let extensible = matches!(key, "paths" | "responses");
    match value.get(key) {
        Some(Value::Object(map)) => map
            .iter()
            .filter(|(k, _)| !(extensible && k.starts_with("x-")))
            .map(|(k, v)| (format!("{at}.{key}.{k}"), v))
            .collect(),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("{at}.{key}.{i}"), v))
            .collect(),
        _ => Vec::new(),
    }
}

/// The deepest part of a document that openapiv3 refuses, with its message.
fn locate(doc: &Value) -> Option<String> {
    use openapiv3::ReferenceOr;
    for (at, item) in entries(doc, "paths", "") {
        let at = at.trim_start_matches('.');
        for method in [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ] {
            if let Some(op) = item.get(method)
                && let Some(msg) = locate_operation(op, &format!("{at}.{method}"))
            {
                return Some(msg);
            }
        }
        for (at, param) in entries(item, "parameters", at) {
            if let Some(msg) = fails_as::<ReferenceOr<openapiv3::Parameter>>(param, &at) {
                return Some(msg);
            }
        }
        if let Some(msg) = fails_as::<ReferenceOr<openapiv3::PathItem>>(item, at) {
            return Some(msg);
        }
    }
    let components = doc.get("components")?;
    let at = "components";
    for (at, v) in entries(components, "schemas", at) {
        if let Some(msg) = fails_as::<ReferenceOr<openapiv3::Schema>>(v, &at) {
            return Some(msg);
        }
    }
    for (at, v) in entries(components, "responses", at) {
        if let Some(msg) = locate_response(v, &at) {
            return Some(msg);
        }
    }
    for (at, v) in entries(components, "parameters", at) {
        if let Some(msg) = fails_as::<ReferenceOr<openapiv3::Parameter>>(v, &at) {
            return Some(msg);
        }
    }
    for (at, v) in entries(components, "requestBodies", at) {
        if let Some(msg) = locate_body(v, &at) {
            return Some(msg);
        }
    }
    fails_as::<openapiv3::Components>(components, at)
}

fn locate_operation(op: &Value, at: &str) -> Option<String> {
    use openapiv3::ReferenceOr;
    for (at, param) in entries(op, "parameters", at) {
        if let Some(msg) = fails_as::<ReferenceOr<openapiv3::Parameter>>(param, &at) {
            return Some(msg);
        }
    }
    if let Some(body) = op.get("requestBody")
        && let Some(msg) = locate_body(body, &format!("{at}.requestBody"))
    {
        return Some(msg);
    }
    for (at, response) in entries(op, "responses", at) {
        if let Some(msg) = locate_response(response, &at) {
            return Some(msg);
        }
    }
    fails_as::<openapiv3::Operation>(op, at)
}

/// The schemas of a request or response body's media types, then the body itself.
fn locate_body(body: &Value, at: &str) -> Option<String> {
    for (at, media) in entries(body, "content", at) {
        if let Some(schema) = media.get("schema") {
            let at = format!("{at}.schema");
            if let Some(msg) = fails_as::<openapiv3::ReferenceOr<openapiv3::Schema>>(schema, &at) {
                return Some(msg);
            }
        }
    }
    fails_as::<openapiv3::ReferenceOr<openapiv3::RequestBody>>(body, at)
}

fn locate_response(response: &Value, at: &str) -> Option<String> {
    for (at, media) in entries(response, "content", at) {
        if let Some(schema) = media.get("schema") {
            let at = format!("{at}.schema");
            if let Some(msg) = fails_as::<openapiv3::ReferenceOr<openapiv3::Schema>>(schema, &at) {
                return Some(msg);
            }
        }
    }
    for (at, header) in entries(response, "headers", at) {
        if let Some(msg) = fails_as::<openapiv3::ReferenceOr<openapiv3::Header>>(header, &at) {
            return Some(msg);
        }
    }
    fails_as::<openapiv3::ReferenceOr<openapiv3::Response>>(response, at)
}

/// Parses YAML text (a spec, the conformance allow-list) into JSON, refusing what a parse
/// straight into `serde_json::Value` would let through silently: a key given twice in one
/// mapping (serde_json's map keeps the last value; serde_norway's `Mapping` refuses it), and
/// two keys that become one JSON key (`200` and `'200'`). Merge keys (`<<`) are applied. `name`
/// is used in every message.
pub fn parse_yaml(name: &str, text: &str) -> Result<Value> {
    let mut yaml: serde_norway::Value = match serde_norway::from_str(text) {
        Ok(v) => v,
        Err(e) => return err(format!("{name}: not valid YAML: {e}")),
    };
    if let Err(e) = yaml.apply_merge() {
        return err(format!(
            "{name}: a YAML merge key (`<<`) cannot be applied: {e}"
        ));
    }
    yaml_to_json(yaml, "").map_err(|e| crate::Error(format!("{name}: {e}")))
}

/// One YAML value as JSON; `at` is its JSON pointer, for the message. Keys are strings, or
/// numbers and booleans written as their text (what a direct parse makes of them).
fn yaml_to_json(yaml: serde_norway::Value, at: &str) -> std::result::Result<Value, String> {
    use serde_norway::Value as Yaml;
    let at_or_root = |at: &str| {
        if at.is_empty() {
            "/".to_string()
        } else {
            at.to_string()
        }
    };
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::from(u)
            } else if let Some(i) = n.as_i64() {
                Value::from(i)
            } else {
                match n.as_f64().and_then(serde_json::Number::from_f64) {
                    Some(f) => Value::Number(f),
                    None => {
                        return Err(format!(
                            "{}: the number {n} has no JSON form",
                            at_or_root(at)
                        ));
                    }
                }
            }
        }
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| yaml_to_json(v, &format!("{at}/{i}")))
                .collect::<std::result::Result<_, _>>()?,
        ),
        Yaml::Mapping(mapping) => {
            let mut object = serde_json::Map::new();
            for (key, value) in mapping {
                let key = match key {
                    Yaml::String(s) => s,
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    _ => {
                        return Err(format!(
                            "{}: a mapping key that is not a string, number or boolean",
                            at_or_root(at)
                        ));
                    }
                };
                let inner = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                let value = yaml_to_json(value, &inner)?;
                if object.insert(key.clone(), value).is_some() {
                    return Err(format!(
                        "{}: duplicate entry with key {key:?} (two keys that read as the same \
                         text)",
                        at_or_root(at)
                    ));
                }
            }
            Value::Object(object)
        }
        Yaml::Tagged(tagged) => {
            return Err(format!(
                "{}: YAML tags are not supported (`{}`)",
                at_or_root(at),
                tagged.tag
            ));
        }
    })
}

fn check_version(name: &str, json: &Value) -> Result<()> {
    match json.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.0.") => Ok(()),
        Some(v) => err(format!(
            "{name}: `openapi: {v}` is not 3.0.x (progenitor 0.15 refuses other versions)"
        )),
        None => err(format!("{name}: no `openapi` version field")),
    }
}

/// Walks every operation: operationId present and unique, a 2xx response and no `default`,
/// one 2xx schema, multipart only when skipped. Removes skipped operations from `json`.
fn check_operations(name: &str, json: &mut Value) -> Result<(Vec<Operation>, Vec<Skipped>)> {
    // The document's components alone, for following `#/components/...` references while
    // the paths are borrowed mutably.
    let refs = serde_json::json!({
        "components": json.get("components").cloned().unwrap_or(Value::Null),
    });
    let Some(paths) = json.get_mut("paths").and_then(Value::as_object_mut) else {
        return err(format!("{name}: no `paths` object"));
    };
    let mut operations: Vec<Operation> = Vec::new();
    let mut skipped = Vec::new();
    // Each generated method's name, with the operation that has it.
    let mut method_names: std::collections::HashMap<String, Operation> =
        std::collections::HashMap::new();
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            return err(format!("{name}: path {path}: not an object"));
        };
        if item.contains_key("$ref") {
            return err(format!(
                "{name}: path {path}: `$ref` path items are not supported (progenitor panics on them)"
            ));
        }
        let mut to_remove = Vec::new();
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            let where_ = format!("{} {path}", method.to_uppercase());
            let Some(id) = op.get("operationId").and_then(Value::as_str) else {
                return err(format!("{name}: operation {where_}: missing operationId"));
            };
            if id.trim().is_empty() {
                return err(format!("{name}: operation {where_}: empty operationId"));
            }
            let mut operation = Operation {
                id: id.to_string(),
                method: method.to_string(),
                path: path.clone(),
                timeout_seconds: None,
            };
            operation.timeout_seconds = timeout_seconds(name, &operation, op)?;
            if let Some(other) = operations
                .iter()
                .chain(skipped.iter().map(|s: &Skipped| &s.operation))
                .find(|o| o.id == id)
            {
                return err(format!(
                    "{name}: operation {operation}: operationId `{id}` is also used by {} {}",
                    other.method.to_uppercase(),
                    other.path
                ));
            }
            check_method_name(name, &operation)?;
            let method_name = crate::codegen::rust_name(id);
            if let Some(other) = method_names.get(&method_name) {
                return err(format!(
                    "{name}: operation {operation}: operationId `{id}` and `{}` ({} {}) both \
                     become the method `{method_name}`",
                    other.id,
                    other.method.to_uppercase(),
                    other.path
                ));
            }
            method_names.insert(method_name, operation.clone());
            if let Some(reason) = skip_reason(name, &operation, op)? {
                skipped.push(Skipped { operation, reason });
                to_remove.push(*method);
                continue;
            }
            check_success_schemas(name, &operation, op, &refs)?;
            check_body(name, &operation, op)?;
            check_header_parameters(name, &operation, item.get("parameters"), op, &refs)?;
            operations.push(operation);
        }
        for method in to_remove {
            item.remove(method);
        }
    }
    Ok((operations, skipped))
}

/// Rust keywords (strict and reserved, edition 2024): progenitor appends `_` to a method named
/// like one.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Methods the generated `Client` has of its own (constructors, `ClientInfo`, and the
/// `ClientHooks` methods its operations call as `self.pre(..)`): an operation method of the
/// same name would clash, or shadow the hook, and break compilation far from the spec.
const CLIENT_METHODS: &[&str] = &[
    "new",
    "new_with_client",
    "api_version",
    "baseurl",
    "client",
    "inner",
    "pre",
    "post",
    "exec",
    "assert_client_hooks",
];

/// The operation table (`codegen::rust_name`) names each method as heck's snake_case of its
/// operationId; progenitor agrees for plain identifiers only (it prefixes `_` to a leading
/// digit, appends `_` to a keyword, and drops or replaces other characters). So an
/// operationId must be lowerCamelCase (`createClone`) or snake_case (`create_clone`): ASCII
/// letters and digits (and single inner underscores in snake_case), starting with a lowercase
/// letter, and its method name no Rust keyword.
fn check_method_name(name: &str, operation: &Operation) -> Result<()> {
    let id = operation.id.as_str();
    let starts_lower = id.starts_with(|c: char| c.is_ascii_lowercase());
    let chars_ok = id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let camel = !id.contains('_');
    let snake =
        !id.chars().any(|c| c.is_ascii_uppercase()) && !id.contains("__") && !id.ends_with('_');
    if !(starts_lower && chars_ok && (camel || snake)) {
        return err(format!(
            "{name}: operation {operation}: operationId `{id}` is not a plain lowerCamelCase or \
             snake_case identifier (ASCII letters and digits, starting with a lowercase letter); \
             progenitor would name its method differently from the operation table"
        ));
    }
    let method = crate::codegen::rust_name(id);
    if CLIENT_METHODS.contains(&method.as_str()) {
        return err(format!(
            "{name}: operation {operation}: operationId `{id}` becomes the method `{method}`, which the generated Client already has (its own methods: {}); rename the operationId",
            CLIENT_METHODS.join(", ")
        ));
    }
    if KEYWORDS.contains(&method.as_str()) {
        return err(format!(
            "{name}: operation {operation}: operationId `{id}` becomes the Rust keyword \
             `{method}` (progenitor would name the method `{method}_`, the operation table \
             `{method}`)"
        ));
    }
    Ok(())
}

/// The operation's [`TIMEOUT_EXTENSION`]: a whole number of seconds from 1 to 3600, or an
/// error naming the operation.
fn timeout_seconds(name: &str, operation: &Operation, op: &Value) -> Result<Option<u64>> {
    let Some(ext) = op.get(TIMEOUT_EXTENSION) else {
        return Ok(None);
    };
    match ext.as_u64() {
        Some(secs @ 1..=3600) => Ok(Some(secs)),
        _ => err(format!(
            "{name}: operation {operation}: `{TIMEOUT_EXTENSION}: {ext}` is not a whole number \
             of seconds from 1 to 3600"
        )),
    }
}

/// The operation's [`SKIP_EXTENSION`]: when present it must be exactly `{skip: <bool>, reason:
/// <non-blank string>}`; anything else (`skip: "true"`, `skipped: true`, a bare string, no
/// reason, another key) is an error naming the operation, never read as "not skipped".
fn skip_reason(name: &str, operation: &Operation, op: &Value) -> Result<Option<String>> {
    let Some(ext) = op.get(SKIP_EXTENSION) else {
        return Ok(None);
    };
    let malformed = |why: &str| {
        err(format!(
            "{name}: operation {operation}: `{SKIP_EXTENSION}: {ext}` {why}; it must be exactly \
             `{{skip: <bool>, reason: <non-blank string>}}`"
        ))
    };
    let Some(marker) = ext.as_object() else {
        return malformed("is not a mapping");
    };
    if let Some(other) = marker.keys().find(|k| *k != "skip" && *k != "reason") {
        return malformed(&format!("has the unknown key `{other}`"));
    }
    let Some(skip) = marker.get("skip").and_then(Value::as_bool) else {
        return malformed("has no boolean `skip`");
    };
    let reason = match marker.get("reason").and_then(Value::as_str) {
        Some(r) if !r.trim().is_empty() => r.trim().to_string(),
        _ => return malformed("has no non-blank `reason`"),
    };
    Ok(skip.then_some(reason))
}

/// Every operation declares its answer as a 2xx response, and no `default` response: the
/// shaping (shape.rs) keeps only 2xx responses, so an answer declared under `default` would be
/// dropped without a word and never decoded. progenitor panics when two 2xx responses have
/// different schemas: refuse that here too, naming the operation.
fn check_success_schemas(
    name: &str,
    operation: &Operation,
    op: &Value,
    refs: &Value,
) -> Result<()> {
    let Some(responses) = op.get("responses").and_then(Value::as_object) else {
        return err(format!("{name}: operation {operation}: no `responses`"));
    };
    if responses.contains_key("default") {
        return err(format!(
            "{name}: operation {operation}: a `default` response is not supported (the \
             generated client reads 2xx answers only): declare the answer under its 2xx status \
             and failures under 4XX/5XX"
        ));
    }
    if !responses.keys().any(|code| code.starts_with('2')) {
        return err(format!(
            "{name}: operation {operation}: no 2xx response (the generated client would have no \
             answer to decode)"
        ));
    }
    let mut seen: Option<(String, Value)> = None;
    for (code, response) in responses {
        if !code.starts_with('2') {
            continue;
        }
        let response = crate::refs::deref(refs, response);
        let schema = response
            .get("content")
            .and_then(|c| c.get("application/json"))
            .and_then(|m| m.get("schema"))
            .cloned()
            .unwrap_or(Value::Null);
        match &seen {
            Some((first, s)) if *s != schema => {
                return err(format!(
                    "{name}: operation {operation}: responses {first} and {code} have different \
                     schemas; progenitor needs one success schema (it would panic)"
                ));
            }
            Some(_) => {}
            None => seen = Some((code.clone(), schema)),
        }
    }
    Ok(())
}

/// A header parameter named `api-version` (any case): progenitor sends its own `api-version`
/// header on every request, which the xtask removes by a counted rewrite; a parameter of that
/// name would make the count fail naming no operation, so it is refused here naming both.
fn check_header_parameters(
    name: &str,
    operation: &Operation,
    item_parameters: Option<&Value>,
    op: &Value,
    refs: &Value,
) -> Result<()> {
    let headers = crate::refs::header_parameters(refs, item_parameters, op);
    match headers
        .iter()
        .find(|(param, _)| param.eq_ignore_ascii_case("api-version"))
    {
        Some((param, _)) => err(format!(
            "{name}: operation {operation}: header parameter `{param}` is progenitor's own `api-version` header, which the xtask removes from every request; rename the parameter"
        )),
        None => Ok(()),
    }
}

fn check_body(name: &str, operation: &Operation, op: &Value) -> Result<()> {
    let content = op.get("requestBody").and_then(|b| b.get("content"));
    if let Some(content) = content.and_then(Value::as_object)
        && content.keys().any(|k| k.starts_with("multipart/"))
    {
        return err(format!(
            "{name}: operation {operation}: progenitor cannot generate multipart bodies; mark it \
             `{SKIP_EXTENSION}: {{skip: true, reason: ...}}` and write it by hand"
        ));
    }
    Ok(())
}
