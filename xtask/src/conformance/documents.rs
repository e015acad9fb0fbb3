//! Documents: operations, parameters, bodies, responses and callbacks compared.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

use super::*;

/// (path, method, operation) for every operation of a document, in document order. A path
/// item given as a local `$ref` is followed; one that does not resolve is left out (see
/// [`unresolved_path_items`]).
pub(super) fn operations(doc: &Value) -> Vec<(&str, String, &Value)> {
    let mut out = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            let item = deref(doc, item);
            for m in METHODS {
                if let Some(op) = item.get(*m).filter(|v| v.is_object()) {
                    out.push((path.as_str(), (*m).to_string(), op));
                }
            }
        }
    }
    out
}

/// (path, ref) of every path item that is a `$ref` no local pointer resolves (an external
/// file, a dangling name): its operations cannot be read.
pub(super) fn unresolved_path_items(doc: &Value) -> Vec<(&str, String)> {
    doc.get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(path, item)| {
            let r = str_of(deref(doc, item), "$ref")?;
            Some((path.as_str(), r.to_string()))
        })
        .collect()
}

/// A JSON pointer token for a key (`~` and `/` escaped).
pub(super) fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

pub(super) use crate::refs::deref;

pub(super) fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

pub(super) fn bool_of(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// Keys of a parameter object the comparison models (`$ref` is resolved before).
const PARAMETER_KEYS: &[&str] = &["name", "in", "required", "schema"];
/// Keys of a request body object the comparison models.
const BODY_KEYS: &[&str] = &["required", "content"];
/// Keys of a media type object the comparison models.
const MEDIA_KEYS: &[&str] = &["schema"];
/// Keys of a response object the comparison models.
const RESPONSE_KEYS: &[&str] = &["content"];

/// Which way data flows, which decides how strict the comparison is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dir {
    /// We send it (request): everything must match.
    Send,
    /// We decode it (response, webhook body): ours may be wider.
    Receive,
}

pub(super) struct Cx<'a> {
    pub(super) ours: &'a Value,
    pub(super) vendor: &'a Value,
    pub(super) diffs: Vec<Difference>,
    pub(super) op: String,
}

impl Cx<'_> {
    pub(super) fn diff(&mut self, location: &str, kind: &str, vendor: &str, ours: &str) {
        self.diffs.push(Difference {
            operation: self.op.clone(),
            location: location.to_string(),
            kind: kind.to_string(),
            vendor: vendor.to_string(),
            ours: ours.to_string(),
        });
    }

    pub(super) fn compare_security(&mut self, v_op: &Value, o_op: &Value) {
        let v = security(self.vendor, v_op);
        let o = security(self.ours, o_op);
        if v != o {
            self.diff("security", "security-mismatch", &fmt_set(&v), &fmt_set(&o));
        }
    }

    /// Parameters of a path item and an operation (the operation's override the item's),
    /// keyed by (in, name); header names compare case-insensitively. Second: each parameter
    /// that cannot be read (a `$ref` that does not resolve locally, no `in` or `name`), as
    /// (location, why): `parameter[i]` of the operation, `path.parameter[i]` of the item.
    #[allow(clippy::type_complexity)]
    pub(super) fn params<'v>(
        doc: &'v Value,
        item: Option<&'v Value>,
        op: &'v Value,
    ) -> (
        BTreeMap<(String, String), (String, &'v Value)>,
        Vec<(String, String)>,
    ) {
        let mut out = BTreeMap::new();
        let mut unread = Vec::new();
        for (level, list) in [
            ("path.", item.and_then(|i| i.get("parameters"))),
            ("", op.get("parameters")),
        ] {
            let Some(list) = list else { continue };
            for (i, p) in list.as_array().into_iter().flatten().enumerate() {
                let p = deref(doc, p);
                let (Some(loc), Some(name)) = (str_of(p, "in"), str_of(p, "name")) else {
                    let why = match str_of(p, "$ref") {
                        Some(r) => format!("unresolved $ref {r}"),
                        None => "no `in` or `name`".to_string(),
                    };
                    unread.push((format!("{level}parameter[{i}]"), why));
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
        (out, unread)
    }

    pub(super) fn compare_parameters(
        &mut self,
        prefix: &str,
        v_item: Option<&Value>,
        v_op: &Value,
        o_item: Option<&Value>,
        o_op: &Value,
        dir: Dir,
    ) {
        let (v_params, v_unread) = Self::params(self.vendor, v_item, v_op);
        let (o_params, o_unread) = Self::params(self.ours, o_item, o_op);
        // A parameter that cannot be read is not taken to be absent.
        for (at, why) in &v_unread {
            self.diff(&format!("{prefix}{at}"), "schema-unresolved", why, "none");
        }
        for (at, why) in &o_unread {
            self.diff(&format!("{prefix}{at}"), "schema-unresolved", "none", why);
        }
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
            self.unsupported_keys(&location, vp, op, PARAMETER_KEYS);
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
        // Every parameter of ours they do not document is a difference, optional or not: an
        // optional one is still something we may send (or expect) that they never described.
        for ((loc, key), (name, op)) in &o_params {
            if v_params.contains_key(&(loc.clone(), key.clone())) {
                continue;
            }
            let (kind, ours) = if bool_of(op, "required") || loc == "path" {
                ("parameter-added-required", "required")
            } else {
                ("parameter-added", "optional")
            };
            self.diff(&format!("{prefix}{loc}.{name}"), kind, "absent", ours);
        }
    }

    /// Request body of an operation (or of a callback): presence, required-ness, media
    /// types and schema.
    pub(super) fn compare_body(&mut self, location: &str, v_op: &Value, o_op: &Value, dir: Dir) {
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
                self.unsupported_keys(location, vb, ob, BODY_KEYS);
                self.compare_content(location, vb, ob, dir, true);
            }
        }
    }

    /// Media types and schemas of a body or a response.
    pub(super) fn compare_content(
        &mut self,
        location: &str,
        v: &Value,
        o: &Value,
        dir: Dir,
        body: bool,
    ) {
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
            self.unsupported_keys(&loc, vm, om, MEDIA_KEYS);
            let vs = normalize(self.vendor, vm.get("schema").unwrap_or(&Value::Null));
            let os = normalize(self.ours, om.get("schema").unwrap_or(&Value::Null));
            self.compare_norm(&loc, &vs, &os, dir);
        }
        // An extra media type of ours in a request body is something we could send that they
        // do not document; in a response it is a body we expect to decode that they no longer
        // document for that status (they may have dropped it: we would then fail on what they
        // send). Only in a webhook body we receive is an extra one harmless.
        if !body || dir == Dir::Send {
            for mt in oc.keys().filter(|mt| !vc.contains_key(*mt)) {
                self.diff(location, "media-type-added", "absent", mt);
            }
        }
    }

    /// Responses by status. `dir` is the way their bodies flow: `Receive` for an operation's
    /// answers (ours may be wider; our error statuses are not differences), `Send` for what our
    /// webhook receiver answers (every status of ours they do not document is a difference).
    pub(super) fn compare_responses(&mut self, prefix: &str, v_op: &Value, o_op: &Value, dir: Dir) {
        let empty = serde_json::Map::new();
        let vr = v_op
            .get("responses")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let or = o_op
            .get("responses")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        // What we send may be anything their range (`2XX`) or `default` takes: a status of
        // ours in it answers theirs.
        let in_their_range = |status: &str| -> Option<&Value> {
            let mut c = status.chars();
            let first = c.next()?;
            if !c.as_str().eq_ignore_ascii_case("xx") {
                return None;
            }
            or.iter()
                .find(|(s, _)| s.starts_with(first) && !s.eq_ignore_ascii_case(status))
                .map(|(_, o)| o)
        };
        for (status, v) in vr {
            if dir == Dir::Send && status == "default" {
                // Not a status we must send: what any other one looks like (below).
                continue;
            }
            let location = format!("{prefix}response.{status}");
            // Exact status first, then our range (`4XX`) covering theirs (`404`); what we
            // send, also a status of ours in their range.
            let range = status
                .chars()
                .next()
                .map(|c| format!("{c}XX"))
                .unwrap_or_default();
            let o = or
                .get(status)
                .or_else(|| or.get(&range))
                .or_else(|| or.get(&range.to_lowercase()))
                .or_else(|| (dir == Dir::Send).then(|| in_their_range(status)).flatten());
            let Some(o) = o else {
                self.diff(&location, "response-missing", status, "absent");
                continue;
            };
            let v = deref(self.vendor, v);
            let o = deref(self.ours, o);
            self.unsupported_keys(&location, v, o, RESPONSE_KEYS);
            self.compare_content(&location, v, o, dir, false);
        }
        for (status, o) in or {
            let is_error =
                status.starts_with('4') || status.starts_with('5') || status == "default";
            // What we answer is covered by their exact status or by their range (`2XX`).
            let covered = vr.contains_key(status)
                || (dir == Dir::Send
                    && status.chars().next().is_some_and(|c| {
                        vr.contains_key(&format!("{c}XX")) || vr.contains_key(&format!("{c}xx"))
                    }));
            // Their `default` takes what we send at any other status: compared with it.
            if !covered
                && dir == Dir::Send
                && let Some(v) = vr.get("default")
            {
                let location = format!("{prefix}response.{status}");
                let v = deref(self.vendor, v);
                let o = deref(self.ours, o);
                self.unsupported_keys(&location, v, o, RESPONSE_KEYS);
                self.compare_content(&location, v, o, dir, false);
                continue;
            }
            if !covered && (dir == Dir::Send || !is_error) {
                self.diff(
                    &format!("{prefix}response.{status}"),
                    "response-added",
                    "absent",
                    status,
                );
            }
        }
    }

    /// Webhooks: matched by callback name and URL expression; parameters and the body we
    /// receive (compared as something we decode), and the responses our receiver answers
    /// (compared as something we send). A callback or callback path item that is a `$ref` no
    /// local pointer resolves is reported, never taken to hold nothing.
    pub(super) fn compare_callbacks(&mut self, v_op: &Value, o_op: &Value) {
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
            if self.unresolved(&location, v, o) {
                continue;
            }
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
                if self.unresolved(&location, v_item, o_item) {
                    continue;
                }
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
                    self.compare_responses(&format!("{location}."), vo, oo, Dir::Send);
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

    /// Reports `v` (theirs) or `o` (ours) when it is a `$ref` left unresolved (external, or
    /// dangling) as `schema-unresolved` at `location`; true when either is.
    fn unresolved(&mut self, location: &str, v: &Value, o: &Value) -> bool {
        let why = |x: &Value| str_of(x, "$ref").map(|r| format!("unresolved $ref {r}"));
        let (vw, ow) = (why(v), why(o));
        if vw.is_none() && ow.is_none() {
            return false;
        }
        let none = || "none".to_string();
        self.diff(
            location,
            "schema-unresolved",
            &vw.unwrap_or_else(none),
            &ow.unwrap_or_else(none),
        );
        true
    }

    /// Reports the keys of a parameter, body, media type or response object (either side)
    /// that the comparison does not model (`style`, `explode`, `content` of a parameter; a
    /// response's `headers`...) as `keyword-unsupported`.
    pub(super) fn unsupported_keys(&mut self, loc: &str, v: &Value, o: &Value, modelled: &[&str]) {
        let keys = |x: &Value| {
            x.as_object()
                .map(|m| unmodelled(m, modelled))
                .unwrap_or_default()
        };
        let (vk, ok) = (keys(v), keys(o));
        if !vk.is_empty() || !ok.is_empty() {
            self.diff(loc, "keyword-unsupported", &fmt_set(&vk), &fmt_set(&ok));
        }
    }

    /// Compares two normalized schemas at `loc`, recursing into properties and items.
    pub(super) fn compare_norm(&mut self, loc: &str, v: &Norm, o: &Norm, dir: Dir) {
        if v.error.is_some() || o.error.is_some() {
            self.diff(
                loc,
                "schema-unresolved",
                &fmt_opt(&v.error),
                &fmt_opt(&o.error),
            );
            return;
        }
        // Keywords the comparison does not model: reported, never taken to mean nothing.
        if !v.unsupported.is_empty() || !o.unsupported.is_empty() {
            self.diff(
                loc,
                "keyword-unsupported",
                &fmt_set(&v.unsupported),
                &fmt_set(&o.unsupported),
            );
        }
        // Recursion: a recursive `$ref` was not expanded again; it matches one pointing at the
        // whole schema of the same level up (that schema was compared where it was expanded).
        // What is merged onto a marker (`nullable`, a format, an enum, bounds) is compared
        // below like any schema's; only the types, which the marker stands for, are not.
        let markers = match (&v.recursive, &o.recursive) {
            (None, None) => false,
            (Some(vr), Some(or)) => {
                if !vr.matches(or) {
                    self.diff(loc, "recursion-mismatch", &vr.to_string(), &or.to_string());
                    return;
                }
                true
            }
            // Any JSON value of ours accepts whatever they send.
            (Some(_), None) if dir == Dir::Receive && o.is_any() => return,
            _ => {
                self.diff(loc, "recursion-mismatch", &v.type_words(), &o.type_words());
                return;
            }
        };
        // Types.
        let v_any = v.is_any();
        let o_any = o.is_any();
        match dir {
            _ if markers => {}
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

    pub(super) fn compare_enum(&mut self, loc: &str, v: &Norm, o: &Norm, dir: Dir) {
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

    pub(super) fn compare_lower(
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

    pub(super) fn compare_upper(
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

    pub(super) fn bound_diff(
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
    pub(super) fn compare_count(
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

    pub(super) fn compare_object(&mut self, loc: &str, v: &Norm, o: &Norm, dir: Dir) {
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
                    let required = if v.required.contains(name) {
                        "required"
                    } else {
                        "optional"
                    };
                    self.diff(
                        &ploc,
                        "property-missing",
                        &format!("{}, {required}", vp.type_words()),
                        "absent",
                    );
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
                // A field of an answer VMEG's document does not have: perhaps invented, and
                // code reading it would wait on nothing. Listed with a reason, or removed.
                Dir::Receive => self.diff(&ploc, "property-added", "absent", &op.type_words()),
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
pub(super) fn security(doc: &Value, op: &Value) -> BTreeSet<String> {
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

/// The server URLs that apply: those of the innermost of `levels` (operation last) that has a
/// `servers` list, else the document's. A trailing `/` is ignored.
pub(super) fn servers(doc: &Value, levels: &[Option<&Value>]) -> BTreeSet<String> {
    let list = levels
        .iter()
        .rev()
        .flatten()
        .find_map(|v| v.get("servers"))
        .or_else(|| doc.get("servers"));
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|s| {
            str_of(s, "url").map_or_else(
                || "(no url)".to_string(),
                |u| u.trim_end_matches('/').to_string(),
            )
        })
        .collect()
}
