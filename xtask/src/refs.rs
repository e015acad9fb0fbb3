//! Following local `$ref`s and collecting an operation's header parameters: one reading of
//! a document for the checks (spec.rs), the codegen's rewrite counts (codegen/rewrites.rs) and the
//! conformance comparison, so that they cannot disagree about what a document says.

use serde_json::Value;

/// How many `$ref` hops are followed before giving up (a chain longer than any real
/// document's, short enough that a cycle costs nothing).
const MAX_REF_HOPS: usize = 48;

/// A local `$ref` followed to its target (hop by hop, at most `MAX_REF_HOPS`, 48), or the
/// value itself when it is no reference or the reference does not resolve.
pub fn deref<'a>(doc: &'a Value, mut v: &'a Value) -> &'a Value {
    for _ in 0..MAX_REF_HOPS {
        match v
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'))
            .and_then(|p| doc.pointer(p))
        {
            Some(target) => v = target,
            None => return v,
        }
    }
    v
}

/// The header parameters of an operation (its path item's `parameters`, then its own, the
/// operation's overriding the path item's by name, case-insensitively), each with whether
/// it is required.
pub fn header_parameters(
    doc: &Value,
    item_parameters: Option<&Value>,
    op: &Value,
) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    for list in [item_parameters, op.get("parameters")]
        .into_iter()
        .flatten()
    {
        for p in list.as_array().into_iter().flatten() {
            let p = deref(doc, p);
            if p.get("in").and_then(Value::as_str) != Some("header") {
                continue;
            }
            let Some(name) = p.get("name").and_then(Value::as_str) else {
                continue;
            };
            let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
            out.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            out.push((name.to_string(), required));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_are_followed_hop_by_hop_and_cycles_end() {
        let doc = json!({"components": {"parameters": {
            "a": {"$ref": "#/components/parameters/b"},
            "b": {"name": "X-Key", "in": "header", "required": true},
            "loop": {"$ref": "#/components/parameters/loop"},
        }}});
        let a = json!({"$ref": "#/components/parameters/a"});
        assert_eq!(deref(&doc, &a)["name"], "X-Key");
        let missing = json!({"$ref": "#/components/parameters/none"});
        assert_eq!(deref(&doc, &missing), &missing);
        let cycle = json!({"$ref": "#/components/parameters/loop"});
        assert!(deref(&doc, &cycle).get("$ref").is_some());
    }

    #[test]
    fn an_operations_header_overrides_its_path_items_by_name() {
        let doc = json!({"components": {"parameters": {
            "key": {"name": "x-key", "in": "header"},
        }}});
        let item = json!([
            {"$ref": "#/components/parameters/key"},
            {"name": "page", "in": "query", "required": true},
        ]);
        let op = json!({"parameters": [{"name": "X-Key", "in": "header", "required": true}]});
        assert_eq!(
            header_parameters(&doc, Some(&item), &op),
            vec![("X-Key".to_string(), true)]
        );
        assert_eq!(
            header_parameters(&doc, Some(&item), &json!({})),
            vec![("x-key".to_string(), false)]
        );
    }
}
