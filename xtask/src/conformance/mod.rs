//! `cargo xtask conformance <vmeg-openapi.json>`: compare `specs/vmeg.yaml` with VMEG's own
//! published OpenAPI document.
//!
//! Every operation of ours is matched to VMEG's by `operationId`, then compared: method and
//! path, servers (when either side overrides the document's), parameters (by `in` and name),
//! request body, the documented responses and the webhook callbacks. Every operation of
//! VMEG's that we do not model is a difference too (`operation-unmodelled`, under their
//! `operationId`), as is any difference in the document's `servers` (operation
//! [`DOCUMENT`]). Schemas are compared after resolving `$ref` and `allOf` on both sides
//! (see `schemas.rs`), so layout choices (a `$ref` here, an inline object there, a 3.0
//! `nullable` next to a 3.1 `type: [.., "null"]`) never count as differences.
//!
//! Direction matters:
//! - **Requests** (what we send): names, types, formats, enums, constraints, defaults and
//!   `required` must be the same. Anything else is a difference, in either direction.
//! - **Responses and webhook bodies** (what we decode): ours may be wider: a plain string
//!   where they have an enum, optional where they say required, nullable where they are not,
//!   any JSON where they say object, a wider integer format. Narrower is a difference.
//! - Every parameter of ours they do not document is a difference (`parameter-added`, or
//!   `parameter-added-required`), optional or not: an optional one (`req_id`) is still
//!   something we send that their document does not describe, so it is listed with the fact
//!   it rests on. Additions that cannot reach them are not differences: `4XX`/`5XX`
//!   responses, an optional response property. A response media type of ours they do not
//!   document for that status is (`media-type-added`): they may have dropped the body we
//!   decode.
//! - **What our webhook receiver answers** (a callback operation's `responses`) is something
//!   we send: every status they document must be one we answer, with the same body, and every
//!   status of ours (an error one too) must be one they document, exactly or by range.
//!
//! A keyword the comparison does not model is a difference of its own, on either side
//! (`keyword-unsupported`, naming each keyword with its value, `multipleOf=5`, or a short
//! hash of a long value, so that an entry goes stale when the value moves): `multipleOf`, `uniqueItems`, `not`,
//! `readOnly`/`writeOnly` and any other schema keyword outside the list in `schemas.rs`, a
//! `oneOf`/`anyOf` of several non-null variants, a parameter's `style`/`explode`/`content`, a
//! response's `headers`, a media type's `encoding`. So nothing the tool cannot compare is taken
//! to mean nothing.
//!
//! Parts of their document the comparison cannot read are differences too: an `operationId`
//! of ours they use on two operations (`operation-id-duplicate`), a path item or parameter
//! `$ref` that does not resolve locally (`schema-unresolved` at `paths.<path>` or
//! `parameter[i]`; a local path item `$ref` is followed), a callback or callback path item
//! `$ref` that does not (`schema-unresolved` at `callback.<name>`), and each 3.1 top-level webhook
//! (`webhook-unmodelled`, with a hash of its content). A key given twice in one object of
//! their document fails the run naming the key's JSON pointer, as one in ours does: read
//! into a `Value`, the last would win and the first would never be compared.
//!
//! Integer and number formats are ranked by width (`int32` < `int64` = no format; `float` <
//! `double` = no format), so an `int64` of ours where they give no format is the same type,
//! while an `int32` of ours is narrower (on a request: a tighter constraint) and is reported.
//!
//! Descriptions, examples, titles, tags, `x-*` extensions, `deprecated` and the names of
//! security schemes are ignored; the schemes themselves (type and HTTP scheme) are compared.
//!
//! Each [`Difference`] has a stable key (operation, location, kind) and the two sides' values
//! (the table's `vendor` and `ours` columns). Every difference must be listed in
//! `specs/vmeg-conformance.yaml` ([`ALLOW_LIST`]) with its key, the two values it was written
//! for and a reason. An entry is stale, and fails the run, when no difference has its key any
//! more, or when the difference with its key now has other values (VMEG changed a default the
//! entry's reason quotes, or our side moved): the message names the entry, the recorded value
//! and the new one. So a vendor change cannot hide behind an old entry, and the list cannot rot.

use crate::{Error, Result, err};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

mod documents;
mod schemas;
mod strict_json;
mod wording;

use documents::*;
use schemas::*;
use wording::*;
/// Our spec, relative to the workspace root.
pub const OUR_SPEC: &str = "specs/vmeg.yaml";
/// The allow-list of known differences, relative to the workspace root.
pub const ALLOW_LIST: &str = "specs/vmeg-conformance.yaml";

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// How deep `$ref`/`allOf`/properties may nest (a recursive `$ref` is not expanded again, see
/// [`schemas::normalize`]); past it a schema is reported unresolved.
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

/// One entry of the allow-list: a difference we keep on purpose, the values it was written
/// for, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    pub operation: String,
    pub location: String,
    pub kind: String,
    /// VMEG's side when the entry was written, as the table prints it (`20`, `"m4a"`,
    /// `enum [vt, tts]`, `none`, `absent`).
    pub vendor: String,
    /// Our side when the entry was written, as the table prints it.
    pub ours: String,
    pub reason: String,
}

impl AllowEntry {
    fn key(&self) -> (&str, &str, &str) {
        (&self.operation, &self.location, &self.kind)
    }
}

/// An allow-list entry that no longer describes the documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleEntry {
    pub entry: AllowEntry,
    /// The (vendor, ours) values of the difference with the entry's key, when there is one
    /// (its values differ from the entry's); `None` when no difference has the key.
    pub now: Option<(String, String)>,
}

impl std::fmt::Display for StaleEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = &self.entry;
        write!(f, "{} | {} | {}: ", e.operation, e.location, e.kind)?;
        match &self.now {
            None => write!(
                f,
                "matches no difference (recorded vendor: {}; ours: {})",
                e.vendor, e.ours
            ),
            Some((vendor, ours)) => {
                let mut changes = Vec::new();
                if *vendor != e.vendor {
                    changes.push(format!("vendor recorded {}, now {vendor}", e.vendor));
                }
                if *ours != e.ours {
                    changes.push(format!("ours recorded {}, now {ours}", e.ours));
                }
                write!(f, "the values changed ({})", changes.join("; "))
            }
        }
    }
}

/// The outcome of checking differences against the allow-list.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every difference, with the allow-list reason when an entry with its key and values
    /// lists it.
    pub rows: Vec<(Difference, Option<String>)>,
    /// Allow-list entries that match no difference, or whose difference changed values.
    pub stale: Vec<StaleEntry>,
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
                    } else if self.stale.iter().any(|s| s.entry.key() == d.key()) {
                        "DIFF (entry stale)".to_string()
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
            let _ = writeln!(out, "STALE allow-list entry {s}");
        }
        let _ = writeln!(out, "{}", self.summary());
        out
    }
}

/// Runs the command: loads both documents and the allow-list, prints the table, and fails
/// when a difference is unlisted or an allow-list entry is stale.
pub fn run(root: &Path, vendor: &Path) -> Result<()> {
    let report = report(root, vendor)?;
    print!("{}", report.render());
    if report.passes() {
        Ok(())
    } else {
        err(format!(
            "{OUR_SPEC} differs from {}: {} unlisted differences, {} stale allow-list entries \
             (list each kept difference with its vendor and ours values and a reason in \
             {ALLOW_LIST}; a stale entry's values must be checked against the documents)",
            vendor.display(),
            report.unlisted(),
            report.stale.len()
        ))
    }
}

/// Loads `root`'s spec and allow-list and the vendor document, and checks them.
pub fn report(root: &Path, vendor: &Path) -> Result<Report> {
    let vendor_text = std::fs::read_to_string(vendor)
        .map_err(|e| Error(format!("cannot read {}: {e}", vendor.display())))?;
    // A repeated key is refused as in our spec: kept by `Value`, the last one would hide
    // the first from the comparison.
    let vendor_doc = strict_json::from_str(&vendor_text).map_err(|e| {
        Error(format!(
            "{} is not JSON, or gives a key twice in one object: {e}",
            vendor.display()
        ))
    })?;
    if !vendor_doc.get("paths").is_some_and(Value::is_object) {
        return err(format!(
            "{} is not an OpenAPI document (no `paths` object)",
            vendor.display()
        ));
    }

    let ours_path = root.join(OUR_SPEC);
    let ours_text = std::fs::read_to_string(&ours_path)
        .map_err(|e| Error(format!("cannot read {}: {e}", ours_path.display())))?;
    let ours = crate::spec::parse_yaml(OUR_SPEC, &ours_text)?;

    let allow_path = root.join(ALLOW_LIST);
    let allow = match std::fs::read_to_string(&allow_path) {
        Ok(text) => parse_allow_list(&text)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return err(format!("cannot read {}: {e}", allow_path.display())),
    };

    Ok(check(compare(&ours, &vendor_doc), &allow))
}

/// Parses the allow-list: either a YAML list of `{operation, location, kind, vendor, ours,
/// reason}` or a mapping with such a list under `differences`. Every entry needs both values
/// (a number or `true`/`false` is read as its JSON text) and a non-blank reason, no two entries
/// may have one key (operation, location, kind), and no mapping may give a key twice.
pub fn parse_allow_list(text: &str) -> Result<Vec<AllowEntry>> {
    let doc = crate::spec::parse_yaml(ALLOW_LIST, text)?;
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
                "{ALLOW_LIST}: expected a list of {{operation, location, kind, vendor, ours, reason}}"
            ));
        }
    };
    let mut entries: Vec<AllowEntry> = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let field = |name: &str| -> Result<String> {
            let text = match item.get(name) {
                Some(Value::String(s)) => Some(s.trim().to_string()),
                // A value written as a YAML number or boolean (`vendor: 20`) reads as the
                // table prints it.
                Some(v @ (Value::Number(_) | Value::Bool(_)))
                    if name == "vendor" || name == "ours" =>
                {
                    Some(v.to_string())
                }
                _ => None,
            };
            match text {
                Some(s) if !s.is_empty() => Ok(s),
                _ => err(format!(
                    "{ALLOW_LIST}: entry {} has no `{name}` (each entry needs operation, \
                     location, kind, the vendor and ours values it was written for, and a \
                     reason)",
                    i + 1
                )),
            }
        };
        let entry = AllowEntry {
            operation: field("operation")?,
            location: field("location")?,
            kind: field("kind")?,
            vendor: field("vendor")?,
            ours: field("ours")?,
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

/// Matches differences with allow-list entries: an entry lists a difference with its key
/// (operation, location, kind) and its two values. An entry whose key matches a difference
/// with other values is stale (and that difference unlisted), as is one whose key matches
/// nothing.
pub fn check(diffs: Vec<Difference>, allow: &[AllowEntry]) -> Report {
    // For each entry: `None` = no difference has its key; `Some(None)` = listed;
    // `Some(Some(values))` = its difference now has these other values.
    let mut seen: Vec<Option<Option<(String, String)>>> = vec![None; allow.len()];
    let rows = diffs
        .into_iter()
        .map(|d| {
            let found = allow.iter().position(|a| a.key() == d.key());
            let reason = found.and_then(|i| {
                let a = allow.get(i)?;
                if a.vendor == d.vendor && a.ours == d.ours {
                    seen[i] = Some(None);
                    Some(a.reason.clone())
                } else {
                    // Another difference with the same key may still match the values.
                    if seen[i].is_none() {
                        seen[i] = Some(Some((d.vendor.clone(), d.ours.clone())));
                    }
                    None
                }
            });
            (d, reason)
        })
        .collect();
    let stale = allow
        .iter()
        .zip(seen)
        .filter_map(|(a, seen)| match seen {
            Some(None) => None,
            Some(Some(now)) => Some(StaleEntry {
                entry: a.clone(),
                now: Some(now),
            }),
            None => Some(StaleEntry {
                entry: a.clone(),
                now: None,
            }),
        })
        .collect();
    Report { rows, stale }
}

/// The operation name of differences that concern the whole document (`servers`).
pub const DOCUMENT: &str = "(document)";

/// Every difference between `ours` and `vendor` (both OpenAPI documents as JSON values),
/// sorted by operation and location: the document's `servers`, each operation of ours
/// compared with theirs, and each operation of theirs we do not model
/// (`operation-unmodelled`, under their `operationId`).
pub fn compare(ours: &Value, vendor: &Value) -> Vec<Difference> {
    let mut cx = Cx {
        ours,
        vendor,
        diffs: Vec::new(),
        op: DOCUMENT.to_string(),
    };
    let (v_servers, o_servers) = (servers(vendor, &[]), servers(ours, &[]));
    if v_servers != o_servers {
        cx.diff(
            "servers",
            "servers-mismatch",
            &fmt_set(&v_servers),
            &fmt_set(&o_servers),
        );
    }
    // Path items that are a `$ref` we cannot follow: their operations are unread.
    for (doc, side) in [(vendor, "vendor"), (ours, "ours")] {
        for (path, r) in unresolved_path_items(doc) {
            let why = format!("unresolved $ref {r}");
            let (v, o) = if side == "vendor" {
                (why.as_str(), "none")
            } else {
                ("none", why.as_str())
            };
            cx.diff(&format!("paths.{path}"), "schema-unresolved", v, o);
        }
    }
    // OpenAPI 3.1 top-level webhooks: not modelled (ours are callbacks), so each is reported
    // with a hash of its content, which makes a listed entry go stale when it changes.
    if let Some(hooks) = vendor.get("webhooks").and_then(Value::as_object) {
        for (name, item) in hooks {
            cx.diff(
                &format!("webhooks.{name}"),
                "webhook-unmodelled",
                &keyword_value(name, item),
                "absent",
            );
        }
    }
    let vendor_ops = operations(vendor);
    let our_ids: BTreeSet<&str> = operations(ours)
        .into_iter()
        .filter_map(|(_, _, op)| op.get("operationId").and_then(Value::as_str))
        .collect();
    for (v_path, v_method, v_op) in &vendor_ops {
        let id = v_op.get("operationId").and_then(Value::as_str);
        if id.is_some_and(|id| our_ids.contains(id)) {
            continue;
        }
        let route = format!("{} {v_path}", v_method.to_uppercase());
        cx.op = id.map_or_else(|| route.clone(), String::from);
        cx.diff("operation", "operation-unmodelled", &route, "absent");
    }
    for (o_path, o_method, o_op) in operations(ours) {
        let Some(id) = o_op.get("operationId").and_then(Value::as_str) else {
            cx.op = format!("{} {o_path}", o_method.to_uppercase());
            cx.diff("operation", "operation-id-missing", "-", "no operationId");
            continue;
        };
        cx.op = id.to_string();
        // Their operationId used twice: only the first would be compared, the other never read.
        let same_id: Vec<String> = vendor_ops
            .iter()
            .filter(|(_, _, op)| op.get("operationId").and_then(Value::as_str) == Some(id))
            .map(|(path, method, _)| format!("{} {path}", method.to_uppercase()))
            .collect();
        if same_id.len() > 1 {
            cx.diff(
                "operation",
                "operation-id-duplicate",
                &same_id.join(", "),
                &format!("{} {o_path}", o_method.to_uppercase()),
            );
        }
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
        let v_item = vendor
            .pointer(&format!("/paths/{}", escape(v_path)))
            .map(|i| deref(vendor, i));
        let o_item = ours
            .pointer(&format!("/paths/{}", escape(o_path)))
            .map(|i| deref(ours, i));
        // Servers of a path item or operation override the document's; compared when either
        // side overrides them (the document's own are compared above).
        let v_own = servers(vendor, &[v_item, Some(*v_op)]);
        let o_own = servers(ours, &[o_item, Some(o_op)]);
        if v_own != o_own && (v_own != v_servers || o_own != o_servers) {
            cx.diff(
                "servers",
                "servers-mismatch",
                &fmt_set(&v_own),
                &fmt_set(&o_own),
            );
        }
        cx.compare_security(v_op, o_op);
        cx.compare_parameters("", v_item, v_op, o_item, o_op, Dir::Send);
        cx.compare_body("body", v_op, o_op, Dir::Send);
        cx.compare_responses("", v_op, o_op, Dir::Receive);
        cx.compare_callbacks(v_op, o_op);
    }
    let mut diffs = cx.diffs;
    diffs.sort();
    diffs.dedup();
    diffs
}
