//! `cargo xtask conformance <vmeg-openapi.json>`: compare `specs/vmeg.yaml` with VMEG's own
//! published OpenAPI document.
//!
//! Every operation of ours is matched to VMEG's by `operationId`, then compared: method and
//! path, parameters (by `in` and name), request body, the documented responses and the
//! webhook callbacks. Schemas are compared after resolving `$ref` and `allOf` on both sides
//! (see [`normalize`]), so layout choices (a `$ref` here, an inline object there, a 3.0
//! `nullable` next to a 3.1 `type: [.., "null"]`) never count as differences.
//!
//! Direction matters:
//! - **Requests** (what we send): names, types, formats, enums, constraints, defaults and
//!   `required` must be the same. Anything else is a difference, in either direction.
//! - **Responses and webhook bodies** (what we decode): ours may be wider: a plain string
//!   where they have an enum, optional where they say required, nullable where they are not,
//!   any JSON where they say object, a wider integer format. Narrower is a difference.
//! - Additions of ours that cannot break a call are not differences: an optional parameter
//!   (`req_id`), `4XX`/`5XX` responses, an optional response property.
//!
//! Integer and number formats are ranked by width (`int32` < `int64` = no format; `float` <
//! `double` = no format), so an `int64` of ours where they give no format is the same type,
//! while an `int32` of ours is narrower (on a request: a tighter constraint) and is reported.
//!
//! Descriptions, examples, titles, tags, `x-*` extensions, `deprecated` and the names of
//! security schemes are ignored; the schemes themselves (type and HTTP scheme) are compared.
//!
//! Each [`Difference`] has a stable key (operation, location, kind). Every difference must be
//! listed, with a reason, in `specs/vmeg-conformance.yaml` ([`ALLOW_LIST`]); an entry that no
//! longer matches any difference is stale and also fails the run, so the list cannot rot.

use crate::{Error, Result, err};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// Our spec, relative to the workspace root.
pub const OUR_SPEC: &str = "specs/vmeg.yaml";
/// The allow-list of known differences, relative to the workspace root.
pub const ALLOW_LIST: &str = "specs/vmeg-conformance.yaml";

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// How deep `$ref`/`allOf`/properties may nest before a schema is taken to be recursive.
const MAX_DEPTH: usize = 48;

// ---------------------------------------------------------------------------------------------
// Public surface
// ---------------------------------------------------------------------------------------------

/// One difference between our spec and VMEG's, for one operation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Difference {
    /// Our `operationId`.
    pub operation: String,
    /// Where: `method`, `path`, `query.taskType`, `header.X-Idempotency-Key`,
    /// `body.data[].emoWeight`, `response.200.data.total`, `callback.taskCompleted.body.event`…
    pub location: String,
    /// What kind of difference: `enum-widened`, `default-dropped`, `minLength-tighter`…
    pub kind: String,
    /// VMEG's side, in a few words.
    pub vendor: String,
    /// Our side, in a few words.
    pub ours: String,
}

impl Difference {
    /// The key an allow-list entry matches.
    pub fn key(&self) -> (&str, &str, &str) {
        (&self.operation, &self.location, &self.kind)
    }
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {} (vendor: {}; ours: {})",
            self.operation, self.location, self.kind, self.vendor, self.ours
        )
    }
}

/// One entry of the allow-list: a difference we keep on purpose, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    pub operation: String,
    pub location: String,
    pub kind: String,
    pub reason: String,
}

impl AllowEntry {
    fn key(&self) -> (&str, &str, &str) {
        (&self.operation, &self.location, &self.kind)
    }
}

/// The outcome of checking differences against the allow-list.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every difference, with the allow-list reason when it is listed.
    pub rows: Vec<(Difference, Option<String>)>,
    /// Allow-list entries that match no difference.
    pub stale: Vec<AllowEntry>,
}

impl Report {
    pub fn differences(&self) -> usize {
        self.rows.len()
    }

    pub fn listed(&self) -> usize {
        self.rows.iter().filter(|(_, r)| r.is_some()).count()
    }

    pub fn unlisted(&self) -> usize {
        self.rows.iter().filter(|(_, r)| r.is_none()).count()
    }

    /// True when every difference is listed and no entry is stale.
    pub fn passes(&self) -> bool {
        self.unlisted() == 0 && self.stale.is_empty()
    }

    /// `N differences, N listed, N unlisted, N stale allow-list entries`.
    pub fn summary(&self) -> String {
        format!(
            "{} differences, {} listed, {} unlisted, {} stale allow-list entries",
            self.differences(),
            self.listed(),
            self.unlisted(),
            self.stale.len()
        )
    }

    /// The table, the stale entries and the summary line, as printed by the command.
    pub fn render(&self) -> String {
        let header = ["operation", "location", "kind", "vendor", "ours", "status"];
        let body: Vec<[String; 6]> = self
            .rows
            .iter()
            .map(|(d, reason)| {
                [
                    d.operation.clone(),
                    d.location.clone(),
                    d.kind.clone(),
                    d.vendor.clone(),
                    d.ours.clone(),
                    if reason.is_some() {
                        "ok: listed".to_string()
                    } else {
                        "DIFF".to_string()
                    },
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &body {
            for (w, cell) in widths.iter_mut().zip(row.iter()) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(widths.iter())
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            let _ = writeln!(out, "{}", padded.join(" | ").trim_end());
        };
        line(&mut out, &header.map(String::from));
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        let _ = writeln!(out, "{}", rule.join("-|-"));
        for row in &body {
            line(&mut out, row);
        }
        for s in &self.stale {
            let _ = writeln!(
                out,
                "STALE allow-list entry (matches no difference): {} | {} | {}",
                s.operation, s.location, s.kind
            );
        }
        let _ = writeln!(out, "{}", self.summary());
        out
    }
}

/// Runs the command: loads both documents and the allow-list, prints the table, and fails
/// when a difference is unlisted or an allow-list entry is stale.
pub fn run(root: &Path, vendor: &Path) -> Result<()> {
    let vendor_text = std::fs::read_to_string(vendor)
        .map_err(|e| Error(format!("cannot read {}: {e}", vendor.display())))?;
    let vendor_doc: Value = serde_json::from_str(&vendor_text)
        .map_err(|e| Error(format!("{} is not JSON: {e}", vendor.display())))?;
    if !vendor_doc.get("paths").is_some_and(Value::is_object) {
        return err(format!(
            "{} is not an OpenAPI document (no `paths` object)",
            vendor.display()
        ));
    }

    let ours_path = root.join(OUR_SPEC);
    let ours_text = std::fs::read_to_string(&ours_path)
        .map_err(|e| Error(format!("cannot read {}: {e}", ours_path.display())))?;
    let ours: Value = serde_norway::from_str(&ours_text)
        .map_err(|e| Error(format!("{OUR_SPEC} is not valid YAML: {e}")))?;

    let allow_path = root.join(ALLOW_LIST);
    let allow = match std::fs::read_to_string(&allow_path) {
        Ok(text) => parse_allow_list(&text)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return err(format!("cannot read {}: {e}", allow_path.display())),
    };

    let report = check(compare(&ours, &vendor_doc), &allow);
    print!("{}", report.render());
    if report.passes() {
        Ok(())
    } else {
        err(format!(
            "{OUR_SPEC} differs from {}: {} unlisted differences, {} stale allow-list entries \
             (list each kept difference with a reason in {ALLOW_LIST})",
            vendor.display(),
            report.unlisted(),
            report.stale.len()
        ))
    }
}

/// Parses the allow-list: either a YAML list of `{operation, location, kind, reason}` or a
/// mapping with such a list under `differences`. Every entry needs a non-blank reason, and
/// no key may appear twice.
pub fn parse_allow_list(text: &str) -> Result<Vec<AllowEntry>> {
    let doc: Value = serde_norway::from_str(text)
        .map_err(|e| Error(format!("{ALLOW_LIST} is not valid YAML: {e}")))?;
    let list = match &doc {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items.as_slice(),
        Value::Object(map) => match map.get("differences") {
            Some(Value::Array(items)) => items.as_slice(),
            Some(Value::Null) | None => &[],
            Some(_) => return err(format!("{ALLOW_LIST}: `differences` must be a list")),
        },
        _ => {
            return err(format!(
                "{ALLOW_LIST}: expected a list of {{operation, location, kind, reason}}"
            ));
        }
    };
    let mut entries: Vec<AllowEntry> = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let field = |name: &str| -> Result<String> {
            match item.get(name).and_then(Value::as_str).map(str::trim) {
                Some(s) if !s.is_empty() => Ok(s.to_string()),
                _ => err(format!(
                    "{ALLOW_LIST}: entry {} has no `{name}` (each entry needs operation, \
                     location, kind and a reason)",
                    i + 1
                )),
            }
        };
        let entry = AllowEntry {
            operation: field("operation")?,
            location: field("location")?,
            kind: field("kind")?,
            reason: field("reason")?,
        };
        if entries.iter().any(|e| e.key() == entry.key()) {
            return err(format!(
                "{ALLOW_LIST}: entry {} repeats {} | {} | {}",
                i + 1,
                entry.operation,
                entry.location,
                entry.kind
            ));
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// Matches differences with allow-list entries on (operation, location, kind).
pub fn check(diffs: Vec<Difference>, allow: &[AllowEntry]) -> Report {
    let mut used = vec![false; allow.len()];
    let rows = diffs
        .into_iter()
        .map(|d| {
            let found = allow.iter().position(|a| a.key() == d.key());
            let reason = found.and_then(|i| {
                used[i] = true;
                allow.get(i).map(|a| a.reason.clone())
            });
            (d, reason)
        })
        .collect();
    let stale = allow
        .iter()
        .zip(used)
        .filter(|(_, u)| !u)
        .map(|(a, _)| a.clone())
        .collect();
    Report { rows, stale }
}

/// Every difference between `ours` and `vendor` (both OpenAPI documents as JSON values) for
/// the operations `ours` describes, sorted by operation and location.
pub fn compare(ours: &Value, vendor: &Value) -> Vec<Difference> {
    let mut cx = Cx {
        ours,
        vendor,
        diffs: Vec::new(),
        op: String::new(),
    };
    let vendor_ops = operations(vendor);
    for (o_path, o_method, o_op) in operations(ours) {
        let Some(id) = o_op.get("operationId").and_then(Value::as_str) else {
            cx.op = format!("{} {o_path}", o_method.to_uppercase());
            cx.diff("operation", "operation-id-missing", "-", "no operationId");
            continue;
        };
        cx.op = id.to_string();
        let Some((v_path, v_method, v_op)) = vendor_ops
            .iter()
            .find(|(_, _, op)| op.get("operationId").and_then(Value::as_str) == Some(id))
        else {
            cx.diff(
                "operation",
                "operation-missing",
                "absent",
                &format!("{} {o_path}", o_method.to_uppercase()),
            );
            continue;
        };
        if *v_method != o_method {
            cx.diff(
                "method",
                "method-mismatch",
                &v_method.to_uppercase(),
                &o_method.to_uppercase(),
            );
        }
        if *v_path != o_path {
            cx.diff("path", "path-mismatch", v_path, o_path);
        }
        let v_item = vendor.pointer(&format!("/paths/{}", escape(v_path)));
        let o_item = ours.pointer(&format!("/paths/{}", escape(o_path)));
        cx.compare_security(v_op, o_op);
        cx.compare_parameters("", v_item, v_op, o_item, o_op, Dir::Send);
        cx.compare_body("body", v_op, o_op, Dir::Send);
        cx.compare_responses(v_op, o_op);
        cx.compare_callbacks(v_op, o_op);
    }
    let mut diffs = cx.diffs;
    diffs.sort();
    diffs.dedup();
    diffs
}

// ---------------------------------------------------------------------------------------------
// Documents
// ---------------------------------------------------------------------------------------------

/// (path, method, operation) for every operation of a document, in document order.
fn operations(doc: &Value) -> Vec<(&str, String, &Value)> {
    let mut out = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for m in METHODS {
                if let Some(op) = item.get(*m).filter(|v| v.is_object()) {
                    out.push((path.as_str(), (*m).to_string(), op));
                }
            }
        }
    }
    out
}

/// A JSON pointer token for a key (`~` and `/` escaped).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Follows `$ref` chains (local refs only) to the object they name.
fn deref<'a>(doc: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..MAX_DEPTH {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => match r.strip_prefix('#').and_then(|p| doc.pointer(p)) {
                Some(target) => v = target,
                None => return v,
            },
            None => return v,
        }
    }
    v
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn bool_of(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// Which way data flows, which decides how strict the comparison is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// We send it (request): everything must match.
    Send,
    /// We decode it (response, webhook body): ours may be wider.
    Receive,
}

struct Cx<'a> {
    ours: &'a Value,
    vendor: &'a Value,
    diffs: Vec<Difference>,
    op: String,
}

impl Cx<'_> {
    fn diff(&mut self, location: &str, kind: &str, vendor: &str, ours: &str) {
        self.diffs.push(Difference {
            operation: self.op.clone(),
            location: location.to_string(),
            kind: kind.to_string(),
            vendor: vendor.to_string(),
            ours: ours.to_string(),
        });
    }

    fn compare_security(&mut self, v_op: &Value, o_op: &Value) {
        let v = security(self.vendor, v_op);
        let o = security(self.ours, o_op);
        if v != o {
            self.diff("security", "security-mismatch", &fmt_set(&v), &fmt_set(&o));
        }
    }

    /// Parameters of a path item and an operation (the operation's override the item's),
    /// keyed by (in, name); header names compare case-insensitively.
    fn params<'v>(
        doc: &'v Value,
        item: Option<&'v Value>,
        op: &'v Value,
    ) -> BTreeMap<(String, String), (String, &'v Value)> {
        let mut out = BTreeMap::new();
        for list in [item.and_then(|i| i.get("parameters")), op.get("parameters")]
            .into_iter()
            .flatten()
        {
            for p in list.as_array().into_iter().flatten() {
                let p = deref(doc, p);
                let (Some(loc), Some(name)) = (str_of(p, "in"), str_of(p, "name")) else {
                    continue;
                };
                let key_name = if loc == "header" {
                    name.to_ascii_lowercase()
                } else {
                    name.to_string()
                };
                out.insert((loc.to_string(), key_name), (name.to_string(), p));
            }
        }
        out
    }

    fn compare_parameters(
        &mut self,
        prefix: &str,
        v_item: Option<&Value>,
        v_op: &Value,
        o_item: Option<&Value>,
        o_op: &Value,
        dir: Dir,
    ) {
        let v_params = Self::params(self.vendor, v_item, v_op);
        let o_params = Self::params(self.ours, o_item, o_op);
        for ((loc, key), (name, vp)) in &v_params {
            let location = format!("{prefix}{loc}.{name}");
            let v_req = bool_of(vp, "required") || loc == "path";
            let Some((_, op)) = o_params.get(&(loc.clone(), key.clone())) else {
                self.diff(
                    &location,
                    "parameter-missing",
                    if v_req { "required" } else { "optional" },
                    "absent",
                );
                continue;
            };
            let o_req = bool_of(op, "required") || loc == "path";
            if v_req != o_req {
                let kind = if o_req {
                    "required-added"
                } else {
                    "required-dropped"
                };
                let words = |r: bool| if r { "required" } else { "optional" };
                self.diff(&location, kind, words(v_req), words(o_req));
            }
            let vs = normalize(self.vendor, vp.get("schema").unwrap_or(&Value::Null));
            let os = normalize(self.ours, op.get("schema").unwrap_or(&Value::Null));
            self.compare_norm(&location, &vs, &os, dir);
        }
        for ((loc, key), (name, op)) in &o_params {
            if !v_params.contains_key(&(loc.clone(), key.clone()))
                && (bool_of(op, "required") || loc == "path")
            {
                self.diff(
                    &format!("{prefix}{loc}.{name}"),
                    "parameter-added-required",
                    "absent",
                    "required",
                );
            }
        }
    }

    /// Request body of an operation (or of a callback): presence, required-ness, media
    /// types and schema.
    fn compare_body(&mut self, location: &str, v_op: &Value, o_op: &Value, dir: Dir) {
        let vb = v_op.get("requestBody").map(|b| deref(self.vendor, b));
        let ob = o_op.get("requestBody").map(|b| deref(self.ours, b));
        match (vb, ob) {
            (None, None) => {}
            (Some(_), None) => self.diff(location, "body-missing", "body", "absent"),
            (None, Some(_)) => self.diff(location, "body-added", "absent", "body"),
            (Some(vb), Some(ob)) => {
                let (vr, or) = (bool_of(vb, "required"), bool_of(ob, "required"));
                if vr != or {
                    let words = |r: bool| if r { "required" } else { "optional" };
                    self.diff(location, "body-required-mismatch", words(vr), words(or));
                }
                self.compare_content(location, vb, ob, dir, true);
            }
        }
    }

    /// Media types and schemas of a body or a response.
    fn compare_content(&mut self, location: &str, v: &Value, o: &Value, dir: Dir, body: bool) {
        let empty = serde_json::Map::new();
        let vc = v
            .get("content")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let oc = o
            .get("content")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for (mt, vm) in vc {
            let loc = if mt == "application/json" {
                location.to_string()
            } else {
                format!("{location}[{mt}]")
            };
            let Some(om) = oc.get(mt) else {
                self.diff(&loc, "media-type-missing", mt, "absent");
                continue;
            };
            let vs = normalize(self.vendor, vm.get("schema").unwrap_or(&Value::Null));
            let os = normalize(self.ours, om.get("schema").unwrap_or(&Value::Null));
            self.compare_norm(&loc, &vs, &os, dir);
        }
        // An extra media type of ours in a response is harmless; in a request body we could
        // send something they do not document.
        if body && dir == Dir::Send {
            for mt in oc.keys().filter(|mt| !vc.contains_key(*mt)) {
                self.diff(location, "media-type-added", "absent", mt);
            }
        }
    }

    fn compare_responses(&mut self, v_op: &Value, o_op: &Value) {
        let empty = serde_json::Map::new();
        let vr = v_op
            .get("responses")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let or = o_op
            .get("responses")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for (status, v) in vr {
            let location = format!("response.{status}");
            // Exact status first, then our range (`4XX`) covering theirs (`404`).
            let range = status
                .chars()
                .next()
                .map(|c| format!("{c}XX"))
                .unwrap_or_default();
            let o = or
                .get(status)
                .or_else(|| or.get(&range))
                .or_else(|| or.get(&range.to_lowercase()));
            let Some(o) = o else {
                self.diff(&location, "response-missing", status, "absent");
                continue;
            };
            let v = deref(self.vendor, v);
            let o = deref(self.ours, o);
            self.compare_content(&location, v, o, Dir::Receive, false);
        }
        for status in or.keys() {
            let is_error =
                status.starts_with('4') || status.starts_with('5') || status == "default";
            if !vr.contains_key(status) && !is_error {
                self.diff(
                    &format!("response.{status}"),
                    "response-added",
                    "absent",
                    status,
                );
            }
        }
    }

    /// Webhooks: matched by callback name and URL expression; parameters and the body we
    /// receive (compared as something we decode).
    fn compare_callbacks(&mut self, v_op: &Value, o_op: &Value) {
        let empty = serde_json::Map::new();
        let vcb = v_op
            .get("callbacks")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let ocb = o_op
            .get("callbacks")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for (name, v) in vcb {
            let location = format!("callback.{name}");
            let Some(o) = ocb.get(name) else {
                self.diff(&location, "callback-missing", name, "absent");
                continue;
            };
            let v = deref(self.vendor, v);
            let o = deref(self.ours, o);
            let (Some(vm), Some(om)) = (v.as_object(), o.as_object()) else {
                continue;
            };
            for (expr, v_item) in vm {
                let Some(o_item) = om.get(expr) else {
                    let ours: Vec<&str> = om.keys().map(String::as_str).collect();
                    self.diff(&location, "callback-url-mismatch", expr, &ours.join(", "));
                    continue;
                };
                let v_item = deref(self.vendor, v_item);
                let o_item = deref(self.ours, o_item);
                for m in METHODS {
                    let (Some(vo), oo) = (v_item.get(*m), o_item.get(*m)) else {
                        continue;
                    };
                    let Some(oo) = oo else {
                        self.diff(
                            &location,
                            "callback-method-missing",
                            &m.to_uppercase(),
                            "absent",
                        );
                        continue;
                    };
                    self.compare_parameters(
                        &format!("{location}."),
                        Some(v_item),
                        vo,
                        Some(o_item),
                        oo,
                        Dir::Receive,
                    );
                    self.compare_body(&format!("{location}.body"), vo, oo, Dir::Receive);
                }
            }
        }
        for name in ocb.keys().filter(|n| !vcb.contains_key(*n)) {
            self.diff(
                &format!("callback.{name}"),
                "callback-added",
                "absent",
                name,
            );
        }
    }

    /// Compares two normalized schemas at `loc`, recursing into properties and items.
    fn compare_norm(&mut self, loc: &str, v: &Norm, o: &Norm, dir: Dir) {
        if v.error.is_some() || o.error.is_some() {
            self.diff(
                loc,
                "schema-unresolved",
                &fmt_opt(&v.error),
                &fmt_opt(&o.error),
            );
            return;
        }
        // Types.
        let v_any = v.is_any();
        let o_any = o.is_any();
        match dir {
            Dir::Send => {
                if v.effective_types() != o.effective_types() {
                    self.diff(loc, "type-mismatch", &v.type_words(), &o.type_words());
                    return;
                }
            }
            Dir::Receive => {
                if o_any {
                    // Any JSON value of ours (null included) accepts whatever they send.
                    return;
                }
                if v_any || !types_cover(&o.effective_types(), &v.effective_types()) {
                    self.diff(loc, "type-narrowed", &v.type_words(), &o.type_words());
                    return;
                }
            }
        }
        // Nullability.
        if v.nullable != o.nullable {
            match (dir, o.nullable) {
                (Dir::Send, true) => self.diff(loc, "nullable-widened", "not nullable", "nullable"),
                (_, false) => self.diff(loc, "nullable-narrowed", "nullable", "not nullable"),
                (Dir::Receive, true) => {}
            }
        }
        // Formats.
        let types = v.effective_types();
        if v.format != o.format {
            let width = |f: &Option<String>| format_width(&types, f.as_deref());
            let (vw, ow) = (width(&v.format), width(&o.format));
            let kind = match (vw, ow) {
                (Some(a), Some(b)) if b < a => Some("format-narrowed"),
                (Some(a), Some(b)) if b > a => (dir == Dir::Send).then_some("format-widened"),
                (Some(_), Some(_)) => None,
                _ => match dir {
                    Dir::Send => Some("format-mismatch"),
                    // Decoding: a format of theirs we leave out accepts more; one we add
                    // (e.g. date-time) could refuse what they send.
                    Dir::Receive => o.format.is_some().then_some("format-narrowed"),
                },
            };
            if let Some(kind) = kind {
                self.diff(loc, kind, &fmt_opt(&v.format), &fmt_opt(&o.format));
            }
        }
        // Enums.
        self.compare_enum(loc, v, o, dir);
        // Defaults matter only on what we send: their default is what the server assumes.
        if dir == Dir::Send && v.default != o.default {
            let kind = match (&v.default, &o.default) {
                (Some(_), None) => "default-dropped",
                (None, Some(_)) => "default-added",
                _ => "default-mismatch",
            };
            self.diff(loc, kind, &fmt_json(&v.default), &fmt_json(&o.default));
        }
        // Constraints.
        self.compare_lower("minimum", loc, &v.lower, &o.lower, dir);
        self.compare_upper("maximum", loc, &v.upper, &o.upper, dir);
        self.compare_count("minLength", loc, v.min_length, o.min_length, true, dir);
        self.compare_count("maxLength", loc, v.max_length, o.max_length, false, dir);
        self.compare_count("minItems", loc, v.min_items, o.min_items, true, dir);
        self.compare_count("maxItems", loc, v.max_items, o.max_items, false, dir);
        self.compare_count(
            "minProperties",
            loc,
            v.min_properties,
            o.min_properties,
            true,
            dir,
        );
        self.compare_count(
            "maxProperties",
            loc,
            v.max_properties,
            o.max_properties,
            false,
            dir,
        );
        if v.pattern != o.pattern && (dir == Dir::Send || o.pattern.is_some()) {
            let kind = match (&v.pattern, &o.pattern) {
                (Some(_), None) => "pattern-dropped",
                (None, Some(_)) => "pattern-added",
                _ => "pattern-mismatch",
            };
            self.diff(loc, kind, &fmt_opt(&v.pattern), &fmt_opt(&o.pattern));
        }
        // Arrays.
        match (&v.items, &o.items) {
            (Some(vi), Some(oi)) => self.compare_norm(&format!("{loc}[]"), vi, oi, dir),
            // Ours without `items` accepts any element: fine to decode, not to send.
            (Some(vi), None) => {
                if dir == Dir::Send && !vi.is_any() {
                    self.diff(
                        &format!("{loc}[]"),
                        "items-missing",
                        &vi.type_words(),
                        "any",
                    );
                }
            }
            (None, Some(oi)) => {
                if !oi.is_any() {
                    self.diff(&format!("{loc}[]"), "items-added", "absent", "items");
                }
            }
            (None, None) => {}
        }
        // Objects.
        self.compare_object(loc, v, o, dir);
    }

    fn compare_enum(&mut self, loc: &str, v: &Norm, o: &Norm, dir: Dir) {
        let set = |e: &Option<Vec<Value>>| -> Option<BTreeSet<String>> {
            e.as_ref()
                .map(|vals| vals.iter().map(|x| x.to_string()).collect())
        };
        let (vs, os) = (set(&v.enumeration), set(&o.enumeration));
        if vs == os {
            return;
        }
        let kind = match (&vs, &os) {
            (Some(_), None) => "enum-widened",
            (None, Some(_)) => "enum-narrowed",
            (Some(a), Some(b)) if b.is_superset(a) => "enum-widened",
            (Some(a), Some(b)) if b.is_subset(a) => "enum-narrowed",
            _ => "enum-mismatch",
        };
        if dir == Dir::Receive && kind == "enum-widened" {
            return;
        }
        self.diff(
            loc,
            kind,
            &fmt_enum(&v.enumeration),
            &fmt_enum(&o.enumeration),
        );
    }

    fn compare_lower(
        &mut self,
        name: &str,
        loc: &str,
        v: &Option<Bound>,
        o: &Option<Bound>,
        dir: Dir,
    ) {
        if v == o {
            return;
        }
        // Ours is tighter when it admits fewer values.
        let tighter = match (v, o) {
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => b.value > a.value || (b.value == a.value && b.exclusive),
            (None, None) => return,
        };
        self.bound_diff(name, loc, v, o, tighter, dir);
    }

    fn compare_upper(
        &mut self,
        name: &str,
        loc: &str,
        v: &Option<Bound>,
        o: &Option<Bound>,
        dir: Dir,
    ) {
        if v == o {
            return;
        }
        let tighter = match (v, o) {
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (Some(a), Some(b)) => b.value < a.value || (b.value == a.value && b.exclusive),
            (None, None) => return,
        };
        self.bound_diff(name, loc, v, o, tighter, dir);
    }

    fn bound_diff(
        &mut self,
        name: &str,
        loc: &str,
        v: &Option<Bound>,
        o: &Option<Bound>,
        tighter: bool,
        dir: Dir,
    ) {
        if dir == Dir::Receive && !tighter {
            return;
        }
        let kind = format!("{name}-{}", if tighter { "tighter" } else { "looser" });
        self.diff(loc, &kind, &fmt_bound(v), &fmt_bound(o));
    }

    /// A count constraint (`minLength`, `maxItems`…); `is_min` says which way is tighter.
    fn compare_count(
        &mut self,
        name: &str,
        loc: &str,
        v: Option<u64>,
        o: Option<u64>,
        is_min: bool,
        dir: Dir,
    ) {
        // An absent minimum is 0; an absent maximum is unbounded.
        let norm = |x: Option<u64>| {
            if is_min { Some(x.unwrap_or(0)) } else { x }
        };
        let (nv, no) = (norm(v), norm(o));
        if nv == no {
            return;
        }
        let tighter = match (nv, no) {
            (Some(a), Some(b)) => {
                if is_min {
                    b > a
                } else {
                    b < a
                }
            }
            (None, Some(_)) => true,
            _ => false,
        };
        if dir == Dir::Receive && !tighter {
            return;
        }
        let kind = format!("{name}-{}", if tighter { "tighter" } else { "looser" });
        let words = |x: Option<u64>| x.map_or_else(|| "none".to_string(), |n| n.to_string());
        self.diff(loc, &kind, &words(v), &words(o));
    }

    fn compare_object(&mut self, loc: &str, v: &Norm, o: &Norm, dir: Dir) {
        let join = |name: &str| {
            if loc.is_empty() {
                name.to_string()
            } else {
                format!("{loc}.{name}")
            }
        };
        for (name, vp) in &v.properties {
            let ploc = join(name);
            match o.properties.get(name) {
                None => {
                    // A closed schema of ours cannot take it; an open one would on a
                    // response, but undocumented is still a difference: it must be listed.
                    self.diff(&ploc, "property-missing", &vp.type_words(), "absent");
                }
                Some(op) => {
                    let (vr, or) = (v.required.contains(name), o.required.contains(name));
                    if vr != or {
                        let words = |r: bool| if r { "required" } else { "optional" };
                        match (dir, or) {
                            (Dir::Send, false) => {
                                self.diff(&ploc, "required-dropped", words(vr), words(or))
                            }
                            (_, true) => self.diff(&ploc, "required-added", words(vr), words(or)),
                            (Dir::Receive, false) => {}
                        }
                    }
                    self.compare_norm(&ploc, vp, op, dir);
                }
            }
        }
        for (name, op) in &o.properties {
            if v.properties.contains_key(name) {
                continue;
            }
            let ploc = join(name);
            match dir {
                Dir::Send => self.diff(&ploc, "property-added", "absent", &op.type_words()),
                Dir::Receive if o.required.contains(name) => {
                    self.diff(&ploc, "property-added-required", "absent", "required")
                }
                Dir::Receive => {}
            }
        }
        // Required names without a property schema.
        for name in v.required.difference(&o.required) {
            if !v.properties.contains_key(name) && dir == Dir::Send {
                self.diff(&join(name), "required-dropped", "required", "optional");
            }
        }
        for name in o.required.difference(&v.required) {
            if !o.properties.contains_key(name) {
                self.diff(&join(name), "required-added", "optional", "required");
            }
        }
        // Additional properties.
        match (&v.additional, &o.additional) {
            (Additional::Schema(vs), Additional::Schema(os)) => {
                self.compare_norm(&join("*"), vs, os, dir)
            }
            (a, b) if a.kind() == b.kind() => {}
            (a, b) => {
                let widened = b.admits_more_than(a);
                if dir == Dir::Send || !widened {
                    let kind = if widened {
                        "additionalProperties-widened"
                    } else {
                        "additionalProperties-narrowed"
                    };
                    self.diff(&join("*"), kind, a.words(), b.words());
                }
            }
        }
    }
}

/// The security schemes an operation needs, as `type/scheme` (names ignored).
fn security(doc: &Value, op: &Value) -> BTreeSet<String> {
    let reqs = op.get("security").or_else(|| doc.get("security"));
    let mut out = BTreeSet::new();
    for req in reqs.and_then(Value::as_array).into_iter().flatten() {
        let names: Vec<&String> = req
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        if names.is_empty() {
            out.insert("none".to_string());
        }
        for name in names {
            let scheme = doc
                .pointer(&format!("/components/securitySchemes/{}", escape(name)))
                .map(|s| deref(doc, s));
            let words = match scheme {
                Some(s) => {
                    let t = str_of(s, "type").unwrap_or("?");
                    match (str_of(s, "scheme"), str_of(s, "in"), str_of(s, "name")) {
                        (Some(sch), _, _) => format!("{t}/{}", sch.to_ascii_lowercase()),
                        (None, Some(i), Some(n)) => format!("{t}/{i}:{n}"),
                        _ => t.to_string(),
                    }
                }
                None => format!("undefined scheme {name}"),
            };
            out.insert(words);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------

/// A numeric bound.
#[derive(Debug, Clone, PartialEq)]
struct Bound {
    value: f64,
    exclusive: bool,
}

/// What an object accepts beyond its listed properties.
#[derive(Debug, Clone)]
enum Additional {
    /// Absent or `true`.
    Open,
    /// `false`.
    Closed,
    /// A schema for the values.
    Schema(Box<Norm>),
}

impl Additional {
    fn kind(&self) -> u8 {
        match self {
            Additional::Open => 0,
            Additional::Closed => 1,
            Additional::Schema(_) => 2,
        }
    }

    fn admits_more_than(&self, other: &Additional) -> bool {
        matches!(
            (self, other),
            (Additional::Open, _) | (Additional::Schema(_), Additional::Closed)
        )
    }

    fn words(&self) -> &'static str {
        match self {
            Additional::Open => "any",
            Additional::Closed => "none",
            Additional::Schema(_) => "schema",
        }
    }
}

/// A schema with `$ref` and `allOf` resolved: the facts the comparison looks at.
#[derive(Debug, Clone)]
struct Norm {
    /// `None`: any type.
    types: Option<BTreeSet<String>>,
    nullable: bool,
    format: Option<String>,
    enumeration: Option<Vec<Value>>,
    default: Option<Value>,
    lower: Option<Bound>,
    upper: Option<Bound>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    min_properties: Option<u64>,
    max_properties: Option<u64>,
    pattern: Option<String>,
    properties: BTreeMap<String, Norm>,
    required: BTreeSet<String>,
    items: Option<Box<Norm>>,
    additional: Additional,
    /// Why the schema could not be resolved (a dangling `$ref`, recursion).
    error: Option<String>,
}

impl Default for Norm {
    fn default() -> Self {
        Norm {
            types: None,
            nullable: false,
            format: None,
            enumeration: None,
            default: None,
            lower: None,
            upper: None,
            min_length: None,
            max_length: None,
            min_items: None,
            max_items: None,
            min_properties: None,
            max_properties: None,
            pattern: None,
            properties: BTreeMap::new(),
            required: BTreeSet::new(),
            items: None,
            additional: Additional::Open,
            error: None,
        }
    }
}

impl Norm {
    /// The types, inferring `object` from properties and `array` from items when no type
    /// is given. `None` means any JSON value.
    fn effective_types(&self) -> Option<BTreeSet<String>> {
        match &self.types {
            Some(t) => Some(t.clone()),
            None if !self.properties.is_empty() || !self.required.is_empty() => {
                Some(BTreeSet::from(["object".to_string()]))
            }
            None if self.items.is_some() => Some(BTreeSet::from(["array".to_string()])),
            None => None,
        }
    }

    fn is_any(&self) -> bool {
        self.effective_types().is_none()
    }

    fn type_words(&self) -> String {
        let mut s = match self.effective_types() {
            None => "any".to_string(),
            Some(t) if t.is_empty() => "null".to_string(),
            Some(t) => t.into_iter().collect::<Vec<_>>().join("|"),
        };
        if let Some(f) = &self.format {
            let _ = write!(s, " ({f})");
        }
        if let Some(e) = &self.enumeration {
            let _ = write!(s, " {}", fmt_enum(&Some(e.clone())));
        }
        if self.nullable {
            s.push_str(", nullable");
        }
        s
    }

    /// Intersection of two schemas (`allOf`): the tighter of each constraint.
    fn merge(&mut self, other: Norm) {
        self.types = match (self.types.take(), other.types) {
            (None, t) | (t, None) => t,
            (Some(a), Some(b)) => Some(intersect_types(&a, &b)),
        };
        // The 3.0 idiom `{nullable: true, allOf: [$ref]}` means "nullable", so a nullable
        // anywhere in the composition makes the result nullable.
        self.nullable |= other.nullable;
        self.format = self.format.take().or(other.format);
        self.enumeration = match (self.enumeration.take(), other.enumeration) {
            (None, e) | (e, None) => e,
            (Some(a), Some(b)) => Some(a.into_iter().filter(|x| b.contains(x)).collect()),
        };
        self.default = self.default.take().or(other.default);
        self.lower = tighter_bound(self.lower.take(), other.lower, true);
        self.upper = tighter_bound(self.upper.take(), other.upper, false);
        self.min_length = max_opt(self.min_length, other.min_length);
        self.max_length = min_opt(self.max_length, other.max_length);
        self.min_items = max_opt(self.min_items, other.min_items);
        self.max_items = min_opt(self.max_items, other.max_items);
        self.min_properties = max_opt(self.min_properties, other.min_properties);
        self.max_properties = min_opt(self.max_properties, other.max_properties);
        self.pattern = self.pattern.take().or(other.pattern);
        for (name, p) in other.properties {
            match self.properties.get_mut(&name) {
                Some(existing) => existing.merge(p),
                None => {
                    self.properties.insert(name, p);
                }
            }
        }
        self.required.extend(other.required);
        self.items = match (self.items.take(), other.items) {
            (None, i) | (i, None) => i,
            (Some(mut a), Some(b)) => {
                a.merge(*b);
                Some(a)
            }
        };
        self.additional = match (
            std::mem::replace(&mut self.additional, Additional::Open),
            other.additional,
        ) {
            (Additional::Closed, _) | (_, Additional::Closed) => Additional::Closed,
            (Additional::Open, a) | (a, Additional::Open) => a,
            (Additional::Schema(mut a), Additional::Schema(b)) => {
                a.merge(*b);
                Additional::Schema(a)
            }
        };
        self.error = self.error.take().or(other.error);
    }
}

fn intersect_types(a: &BTreeSet<String>, b: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = a.intersection(b).cloned().collect();
    // integer is a subset of number.
    if (a.contains("integer") && b.contains("number"))
        || (a.contains("number") && b.contains("integer"))
    {
        out.insert("integer".to_string());
    }
    out
}

/// Whether the types `ours` accept everything `theirs` allow (`None` = any).
fn types_cover(ours: &Option<BTreeSet<String>>, theirs: &Option<BTreeSet<String>>) -> bool {
    match (ours, theirs) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(o), Some(t)) => t
            .iter()
            .all(|ty| o.contains(ty) || (ty == "integer" && o.contains("number"))),
    }
}

/// Width rank of a numeric format; `None` for formats that are not numeric widths.
fn format_width(types: &Option<BTreeSet<String>>, format: Option<&str>) -> Option<u8> {
    let t = types.as_ref()?;
    if t.contains("integer") && !t.contains("number") {
        match format {
            Some("int32") => Some(1),
            Some("int64") | None => Some(2),
            _ => None,
        }
    } else if t.contains("number") {
        match format {
            Some("float") => Some(1),
            Some("double") | None => Some(2),
            _ => None,
        }
    } else {
        None
    }
}

fn tighter_bound(a: Option<Bound>, b: Option<Bound>, lower: bool) -> Option<Bound> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(a), Some(b)) => {
            let a_tighter = if lower {
                a.value > b.value || (a.value == b.value && a.exclusive)
            } else {
                a.value < b.value || (a.value == b.value && a.exclusive)
            };
            Some(if a_tighter { a } else { b })
        }
    }
}

fn max_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) | (None, x) => x,
    }
}

fn min_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) | (None, x) => x,
    }
}

/// Resolves `$ref` (local) and `allOf` of a schema into a [`Norm`]. Handles both the 3.0
/// (`nullable`, boolean `exclusiveMinimum`) and the 3.1 (`type: [.., "null"]`, numeric
/// `exclusiveMinimum`) spellings. `oneOf`/`anyOf` are understood only as the "X or null"
/// idiom; any other union is taken to be any value.
fn normalize(doc: &Value, schema: &Value) -> Norm {
    normalize_at(doc, schema, 0)
}

fn normalize_at(doc: &Value, schema: &Value, depth: usize) -> Norm {
    if depth > MAX_DEPTH {
        return Norm {
            error: Some("schema nests too deep (recursive?)".to_string()),
            ..Norm::default()
        };
    }
    let Some(map) = schema.as_object() else {
        // `true`, absent: any value; `false`: nothing (treated as any, it never occurs).
        return Norm::default();
    };
    let mut norm = Norm::default();
    if let Some(r) = map.get("$ref").and_then(Value::as_str) {
        match r.strip_prefix('#').and_then(|p| doc.pointer(p)) {
            Some(target) => norm = normalize_at(doc, target, depth + 1),
            None => {
                return Norm {
                    error: Some(format!("unresolved $ref {r}")),
                    ..Norm::default()
                };
            }
        }
    }
    let mut own = Norm::default();
    match map.get("type") {
        Some(Value::String(t)) if t == "null" => {
            own.types = Some(BTreeSet::new());
            own.nullable = true;
        }
        Some(Value::String(t)) => own.types = Some(BTreeSet::from([t.clone()])),
        Some(Value::Array(ts)) => {
            let mut set = BTreeSet::new();
            for t in ts.iter().filter_map(Value::as_str) {
                if t == "null" {
                    own.nullable = true;
                } else {
                    set.insert(t.to_string());
                }
            }
            own.types = Some(set);
        }
        _ => {}
    }
    own.nullable |= map
        .get("nullable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    own.format = map.get("format").and_then(Value::as_str).map(String::from);
    own.enumeration = map.get("enum").and_then(Value::as_array).map(|vals| {
        vals.iter()
            .filter(|x| {
                if x.is_null() {
                    own.nullable = true;
                    false
                } else {
                    true
                }
            })
            .cloned()
            .collect()
    });
    if let Some(c) = map.get("const") {
        own.enumeration = Some(vec![c.clone()]);
    }
    own.default = map.get("default").cloned();
    own.lower = bound(map, "minimum", "exclusiveMinimum");
    own.upper = bound(map, "maximum", "exclusiveMaximum");
    let count = |k: &str| map.get(k).and_then(Value::as_u64);
    own.min_length = count("minLength");
    own.max_length = count("maxLength");
    own.min_items = count("minItems");
    own.max_items = count("maxItems");
    own.min_properties = count("minProperties");
    own.max_properties = count("maxProperties");
    own.pattern = map.get("pattern").and_then(Value::as_str).map(String::from);
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        for (name, p) in props {
            own.properties
                .insert(name.clone(), normalize_at(doc, p, depth + 1));
        }
    }
    if let Some(req) = map.get("required").and_then(Value::as_array) {
        own.required = req
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect();
    }
    if let Some(items) = map.get("items") {
        own.items = Some(Box::new(normalize_at(doc, items, depth + 1)));
    }
    own.additional = match map.get("additionalProperties") {
        None | Some(Value::Bool(true)) => Additional::Open,
        Some(Value::Bool(false)) => Additional::Closed,
        Some(s) => Additional::Schema(Box::new(normalize_at(doc, s, depth + 1))),
    };
    norm.merge(own);
    if let Some(all) = map.get("allOf").and_then(Value::as_array) {
        for member in all {
            norm.merge(normalize_at(doc, member, depth + 1));
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(variants) = map.get(key).and_then(Value::as_array) {
            let mut non_null = Vec::new();
            for v in variants {
                let n = normalize_at(doc, v, depth + 1);
                if n.types.as_ref().is_some_and(BTreeSet::is_empty) && n.nullable {
                    norm.nullable = true;
                } else {
                    non_null.push(n);
                }
            }
            if let (1, Some(only)) = (non_null.len(), non_null.pop()) {
                norm.merge(only);
            }
        }
    }
    norm
}

/// A 3.0 (`exclusiveMinimum: true` next to `minimum`) or 3.1 (`exclusiveMinimum: 3`) bound.
fn bound(map: &serde_json::Map<String, Value>, plain: &str, exclusive: &str) -> Option<Bound> {
    let inclusive = map.get(plain).and_then(Value::as_f64);
    match map.get(exclusive) {
        Some(Value::Bool(true)) => inclusive.map(|value| Bound {
            value,
            exclusive: true,
        }),
        Some(Value::Number(n)) => {
            let ex = n.as_f64().map(|value| Bound {
                value,
                exclusive: true,
            });
            // Both given (3.1): the tighter one applies.
            let inc = inclusive.map(|value| Bound {
                value,
                exclusive: false,
            });
            tighter_bound(ex, inc, plain == "minimum")
        }
        _ => inclusive.map(|value| Bound {
            value,
            exclusive: false,
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Wording
// ---------------------------------------------------------------------------------------------

fn fmt_opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "none".to_string())
}

fn fmt_json(v: &Option<Value>) -> String {
    v.as_ref()
        .map_or_else(|| "none".to_string(), |x| x.to_string())
}

fn fmt_enum(v: &Option<Vec<Value>>) -> String {
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

fn fmt_bound(b: &Option<Bound>) -> String {
    match b {
        None => "none".to_string(),
        Some(b) if b.exclusive => format!("{} (exclusive)", b.value),
        Some(b) => b.value.to_string(),
    }
}

fn fmt_set(s: &BTreeSet<String>) -> String {
    if s.is_empty() {
        "none".to_string()
    } else {
        s.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}
