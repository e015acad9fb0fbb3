//! Schemas: `$ref` and `allOf` resolved, normalized, compared by direction.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::*;

/// A numeric bound.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Bound {
    pub(super) value: f64,
    pub(super) exclusive: bool,
}

/// What an object accepts beyond its listed properties.
#[derive(Debug, Clone)]
pub(super) enum Additional {
    /// Absent or `true`.
    Open,
    /// `false`.
    Closed,
    /// A schema for the values.
    Schema(Box<Norm>),
}

impl Additional {
    pub(super) fn kind(&self) -> u8 {
        match self {
            Additional::Open => 0,
            Additional::Closed => 1,
            Additional::Schema(_) => 2,
        }
    }

    pub(super) fn admits_more_than(&self, other: &Additional) -> bool {
        matches!(
            (self, other),
            (Additional::Open, _) | (Additional::Schema(_), Additional::Closed)
        )
    }

    pub(super) fn words(&self) -> &'static str {
        match self {
            Additional::Open => "any",
            Additional::Closed => "none",
            Additional::Schema(_) => "schema",
        }
    }
}

/// A schema with `$ref` and `allOf` resolved: the facts the comparison looks at.
#[derive(Debug, Clone)]
pub(super) struct Norm {
    /// `None`: any type.
    pub(super) types: Option<BTreeSet<String>>,
    pub(super) nullable: bool,
    pub(super) format: Option<String>,
    pub(super) enumeration: Option<Vec<Value>>,
    pub(super) default: Option<Value>,
    pub(super) lower: Option<Bound>,
    pub(super) upper: Option<Bound>,
    pub(super) min_length: Option<u64>,
    pub(super) max_length: Option<u64>,
    pub(super) min_items: Option<u64>,
    pub(super) max_items: Option<u64>,
    pub(super) min_properties: Option<u64>,
    pub(super) max_properties: Option<u64>,
    pub(super) pattern: Option<String>,
    pub(super) properties: BTreeMap<String, Norm>,
    pub(super) required: BTreeSet<String>,
    pub(super) items: Option<Box<Norm>>,
    pub(super) additional: Additional,
    /// Why the schema could not be resolved (a dangling `$ref`, too deep, too large).
    pub(super) error: Option<String>,
    /// Set when this schema is a `$ref` to a schema being expanded further out (recursion):
    /// it was not expanded again.
    pub(super) recursive: Option<Recursion>,
    /// Keywords of this schema (not of its properties or items) the comparison does not
    /// model (`multipleOf`, `not`, `readOnly`, a union of several types...): each is reported
    /// as `keyword-unsupported` instead of being taken to mean nothing.
    pub(super) unsupported: BTreeSet<String>,
}

/// Schema keywords the comparison models.
const MODELLED: &[&str] = &[
    "$ref",
    "type",
    "nullable",
    "format",
    "enum",
    "const",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "pattern",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "allOf",
    "oneOf",
    "anyOf",
];

/// Keywords that say nothing about which values are valid (documentation), ignored as the
/// module documentation says; `x-*` extensions too.
pub(super) const DOCUMENTATION: &[&str] = &[
    "description",
    "title",
    "example",
    "examples",
    "deprecated",
    "externalDocs",
    "$comment",
];

/// The keys of `map` that are neither in `modelled` nor documentation nor `x-*`, each with its
/// value (`multipleOf=5`, `style="form"`, or a short hash of a long value, see
/// [`keyword_value`]): an allow-list entry written for one value goes stale when it moves.
pub(super) fn unmodelled(
    map: &serde_json::Map<String, Value>,
    modelled: &[&str],
) -> BTreeSet<String> {
    map.iter()
        .filter(|(k, _)| {
            !modelled.contains(&k.as_str())
                && !DOCUMENTATION.contains(&k.as_str())
                && !k.starts_with("x-")
        })
        .map(|(k, v)| keyword_value(k, v))
        .collect()
}

/// A recursive `$ref`, compared by where it points instead of by expanding it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Recursion {
    /// The ref's last segment (`Node` for `#/components/schemas/Node`).
    pub(super) target: String,
    /// How many data levels (properties, items, additional properties) up the schema it names
    /// starts: 1 for `Node.parent`, 2 for `Node.children[]`.
    pub(super) levels_up: usize,
    /// Whether the ref it names was, where it was entered, the whole schema of that level
    /// (the outermost ref there, or one reached from it by a plain `$ref` or a one-member
    /// `allOf`), rather than a part of it (`Base` in `Node = allOf[Base, {extra}]`). Only then
    /// was the schema it names the one compared at that level.
    pub(super) whole: bool,
}

impl Recursion {
    /// Two markers name the same schema when both point at the whole schema of the same level
    /// up (that schema was compared where it was expanded); a marker at a part of a level's
    /// schema names something never compared on its own, so it matches nothing.
    pub(super) fn matches(&self, other: &Recursion) -> bool {
        self.whole && other.whole && self.levels_up == other.levels_up
    }
}

impl std::fmt::Display for Recursion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "recursive ref {} ({} levels up{})",
            self.target,
            self.levels_up,
            if self.whole {
                ""
            } else {
                ", part of the schema there"
            }
        )
    }
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
            recursive: None,
            unsupported: BTreeSet::new(),
        }
    }
}

impl Norm {
    /// The types, inferring `object` from properties and `array` from items when no type
    /// is given. `None` means any JSON value.
    pub(super) fn effective_types(&self) -> Option<BTreeSet<String>> {
        match &self.types {
            Some(t) => Some(t.clone()),
            None if !self.properties.is_empty() || !self.required.is_empty() => {
                Some(BTreeSet::from(["object".to_string()]))
            }
            None if self.items.is_some() => Some(BTreeSet::from(["array".to_string()])),
            None => None,
        }
    }

    pub(super) fn is_any(&self) -> bool {
        self.recursive.is_none() && self.effective_types().is_none()
    }

    pub(super) fn type_words(&self) -> String {
        if let Some(r) = &self.recursive {
            return r.to_string();
        }
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
    pub(super) fn merge(&mut self, other: Norm) {
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
        self.recursive = self.recursive.take().or(other.recursive);
        self.unsupported.extend(other.unsupported);
    }
}

pub(super) fn intersect_types(a: &BTreeSet<String>, b: &BTreeSet<String>) -> BTreeSet<String> {
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
pub(super) fn types_cover(
    ours: &Option<BTreeSet<String>>,
    theirs: &Option<BTreeSet<String>>,
) -> bool {
    match (ours, theirs) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(o), Some(t)) => t
            .iter()
            .all(|ty| o.contains(ty) || (ty == "integer" && o.contains("number"))),
    }
}

/// Width rank of a numeric format; `None` for formats that are not numeric widths.
pub(super) fn format_width(types: &Option<BTreeSet<String>>, format: Option<&str>) -> Option<u8> {
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

pub(super) fn tighter_bound(a: Option<Bound>, b: Option<Bound>, lower: bool) -> Option<Bound> {
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

pub(super) fn max_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) | (None, x) => x,
    }
}

pub(super) fn min_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) | (None, x) => x,
    }
}

/// Resolves `$ref` (local) and `allOf` of a schema into a [`Norm`]. Handles both the 3.0
/// (`nullable`, boolean `exclusiveMinimum`) and the 3.1 (`type: [.., "null"]`, numeric
/// `exclusiveMinimum`) spellings. `oneOf`/`anyOf` are understood only as the "X or null"
/// idiom (or one variant); any other union, and every keyword not modelled, is listed in
/// [`Norm::unsupported`].
///
/// A `$ref` met again while it is being expanded (a recursive schema) is not expanded a second
/// time: it becomes a [`Recursion`] marker naming the ref and how many data levels up it
/// points (and whether the ref was the whole schema there), and markers are compared by that;
/// what is merged beside a marker is compared like any schema's keywords. So the work is bounded by the document, not
/// exponential in it; [`MAX_NODES`] bounds it absolutely.
pub(super) fn normalize(doc: &Value, schema: &Value) -> Norm {
    Walk::new(doc).normalize(schema)
}

/// At most this many schema nodes are visited for one top-level schema; past it the schema is
/// reported unresolved instead of comparing forever.
pub(super) const MAX_NODES: usize = 200_000;

/// A schema walk: the refs being expanded and the work done.
pub(super) struct Walk<'a> {
    doc: &'a Value,
    /// The refs being expanded, outermost first, each with the data depth (properties, items,
    /// additional properties) at which it was entered and whether it was the whole schema of
    /// that level (see [`Recursion::whole`]).
    stack: Vec<(String, usize, bool)>,
    /// Schema nodes visited so far.
    pub(super) nodes: usize,
}

impl<'a> Walk<'a> {
    pub(super) fn new(doc: &'a Value) -> Self {
        Walk {
            doc,
            stack: Vec::new(),
            nodes: 0,
        }
    }

    pub(super) fn normalize(&mut self, schema: &Value) -> Norm {
        self.normalize_at(schema, 0, 0, true)
    }

    /// `depth` counts every nesting step (the guard against runaway nesting); `data` counts
    /// only the steps into the data (properties, items, additional properties), which is what
    /// a recursion marker measures, so that layout (`$ref`, `allOf`) never matters. `whole`
    /// says whether `schema` is all of the schema at its data level (not a member of a
    /// composition with other parts, nor a `$ref` with modelled siblings).
    fn normalize_at(&mut self, schema: &Value, depth: usize, data: usize, whole: bool) -> Norm {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Norm {
                error: Some(format!(
                    "schema too large to compare (over {MAX_NODES} nodes)"
                )),
                ..Norm::default()
            };
        }
        if depth > MAX_DEPTH {
            return Norm {
                error: Some("schema nests too deep".to_string()),
                ..Norm::default()
            };
        }
        let Some(map) = schema.as_object() else {
            // `true`, absent: any value; `false`: nothing (treated as any, it never occurs).
            return Norm::default();
        };
        let mut norm = Norm::default();
        // The keywords beside the one a member hangs under: a member is the whole schema only
        // when nothing else constrains it.
        let alone = |key: &str| {
            map.keys()
                .all(|k| k == key || DOCUMENTATION.contains(&k.as_str()) || k.starts_with("x-"))
        };
        if let Some(r) = map.get("$ref").and_then(Value::as_str) {
            if let Some((_, entered, entered_whole)) =
                self.stack.iter().find(|(name, _, _)| name == r)
            {
                return Norm {
                    recursive: Some(Recursion {
                        target: r.rsplit('/').next().unwrap_or(r).to_string(),
                        levels_up: data.saturating_sub(*entered),
                        whole: *entered_whole,
                    }),
                    ..Norm::default()
                };
            }
            match r.strip_prefix('#').and_then(|p| self.doc.pointer(p)) {
                Some(target) => {
                    let target_whole = whole && alone("$ref");
                    self.stack.push((r.to_string(), data, target_whole));
                    norm = self.normalize_at(target, depth + 1, data, target_whole);
                    self.stack.pop();
                }
                None => {
                    return Norm {
                        error: Some(format!("unresolved $ref {r}")),
                        ..Norm::default()
                    };
                }
            }
        }
        let mut own = Norm {
            unsupported: unmodelled(map, MODELLED),
            ..Norm::default()
        };
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
                own.properties.insert(
                    name.clone(),
                    self.normalize_at(p, depth + 1, data + 1, true),
                );
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
            own.items = Some(Box::new(self.normalize_at(
                items,
                depth + 1,
                data + 1,
                true,
            )));
        }
        own.additional = match map.get("additionalProperties") {
            None | Some(Value::Bool(true)) => Additional::Open,
            Some(Value::Bool(false)) => Additional::Closed,
            Some(s) => {
                Additional::Schema(Box::new(self.normalize_at(s, depth + 1, data + 1, true)))
            }
        };
        norm.merge(own);
        if let Some(all) = map.get("allOf").and_then(Value::as_array) {
            let member_whole = whole && all.len() == 1 && alone("allOf");
            for member in all {
                norm.merge(self.normalize_at(member, depth + 1, data, member_whole));
            }
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(variants) = map.get(key).and_then(Value::as_array) {
                let mut non_null = Vec::new();
                for v in variants {
                    let n = self.normalize_at(v, depth + 1, data, false);
                    if n.types.as_ref().is_some_and(BTreeSet::is_empty) && n.nullable {
                        norm.nullable = true;
                    } else {
                        non_null.push(n);
                    }
                }
                match (non_null.len(), non_null.pop()) {
                    (1, Some(only)) => norm.merge(only),
                    (0, _) => {}
                    // Which of several variants a value must match is not compared: say so
                    // instead of taking the union for any value.
                    (n, _) => {
                        norm.unsupported.insert(format!(
                            "{} ({n} non-null variants)",
                            keyword_value(key, map.get(key).unwrap_or(&Value::Null))
                        ));
                    }
                }
            }
        }
        norm
    }
}

/// A 3.0 (`exclusiveMinimum: true` next to `minimum`) or 3.1 (`exclusiveMinimum: 3`) bound.
pub(super) fn bound(
    map: &serde_json::Map<String, Value>,
    plain: &str,
    exclusive: &str,
) -> Option<Bound> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A node with three references to itself and a pair of mutually recursive schemas: each
    /// `$ref` expanded on every branch (the old walk) is 3^48 nodes; with recursive refs
    /// compared by name it is a few dozen.
    fn recursive_doc() -> Value {
        json!({"components": {"schemas": {
            "Node": {"type": "object", "properties": {
                "a": {"$ref": "#/components/schemas/Node"},
                "b": {"$ref": "#/components/schemas/Node"},
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                "other": {"$ref": "#/components/schemas/Ping"}}},
            "Ping": {"type": "object", "properties": {
                "pong": {"$ref": "#/components/schemas/Pong"},
                "node": {"$ref": "#/components/schemas/Node"}}},
            "Pong": {"type": "object", "properties": {
                "ping": {"$ref": "#/components/schemas/Ping"},
                "node": {"$ref": "#/components/schemas/Node"}}}
        }}})
    }

    #[test]
    fn a_recursive_schema_is_normalized_in_bounded_work() {
        let doc = recursive_doc();
        let mut walk = Walk::new(&doc);
        let norm = walk.normalize(&json!({"$ref": "#/components/schemas/Node"}));
        assert!(walk.nodes < 100, "visited {} nodes", walk.nodes);
        assert_eq!(norm.error, None);
        let marker = |n: Option<&Norm>| n.and_then(|n| n.recursive.clone());
        let node = |levels_up| {
            Some(Recursion {
                target: "Node".to_string(),
                levels_up,
                whole: true,
            })
        };
        assert_eq!(marker(norm.properties.get("a")), node(1));
        assert_eq!(marker(norm.items_of("children")), node(2));
        let pong = norm
            .properties
            .get("other")
            .and_then(|p| p.properties.get("pong"));
        assert_eq!(
            marker(pong.and_then(|p| p.properties.get("ping"))),
            Some(Recursion {
                target: "Ping".to_string(),
                levels_up: 2,
                whole: true,
            })
        );
        assert_eq!(marker(pong.and_then(|p| p.properties.get("node"))), node(3));
    }

    impl Norm {
        fn items_of(&self, name: &str) -> Option<&Norm> {
            self.properties.get(name)?.items.as_deref()
        }
    }
}
