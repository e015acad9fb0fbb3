//! Every example in both specs decodes into its generated type. The examples are found by
//! walking the YAML, so an example added to a spec is tested without touching this file; one
//! whose schema has no decoder below fails the test instead of being skipped. The
//! conformance allow-list's reasons for the idempotency key are held to what the schema
//! enforces.

use serde::de::DeserializeOwned;
use serde_json::Value;
use std::path::Path;

fn load(spec: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(spec);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_norway::from_str(&text).unwrap()
}

fn try_decode<T: DeserializeOwned>(v: &Value) -> Result<(), String> {
    serde_json::from_value::<T>(v.clone())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Decodes `example` into the generated type named `schema`; `None` if no decoder is listed.
fn decode_vmeg(schema: &str, example: &Value) -> Option<Result<(), String>> {
    use vmeg_client::types::*;
    Some(match schema {
        "Code" => try_decode::<vmeg_client::Code>(example),
        "CloneEngine" => try_decode::<CloneEngine>(example),
        "ErrorEnvelope" => try_decode::<ErrorEnvelope>(example),
        "CloneVoiceCreateRequest" => try_decode::<CloneVoiceCreateRequest>(example),
        "CloneVoiceCreateAsyncRequest" => try_decode::<CloneVoiceCreateAsyncRequest>(example),
        "CloneVoiceCreateSyncEnvelope" => try_decode::<CloneVoiceCreateSyncEnvelope>(example),
        "TaskAcceptedEnvelope" => try_decode::<TaskAcceptedEnvelope>(example),
        "TtsCreateRequest" => try_decode::<TtsCreateRequest>(example),
        "TtsCreateSyncEnvelope" => try_decode::<TtsCreateSyncEnvelope>(example),
        "CloneVoiceWebhook" => try_decode::<CloneVoiceWebhook>(example),
        "TtsWebhook" => try_decode::<TtsWebhook>(example),
        "MaterialFileRequest" => try_decode::<MaterialFileRequest>(example),
        "MaterialUploadCompleteRequest" => try_decode::<MaterialUploadCompleteRequest>(example),
        "MaterialUploadUrlEnvelope" => try_decode::<MaterialUploadUrlEnvelope>(example),
        "MaterialEnvelope" => try_decode::<MaterialEnvelope>(example),
        "MaterialMultipartInitiateEnvelope" => {
            try_decode::<MaterialMultipartInitiateEnvelope>(example)
        }
        "MaterialMultipartPresignEnvelope" => {
            try_decode::<MaterialMultipartPresignEnvelope>(example)
        }
        _ => return None,
    })
}

fn decode_jimmyai(schema: &str, example: &Value) -> Option<Result<(), String>> {
    use jimmyai_client::types::*;
    Some(match schema {
        "Code" => try_decode::<jimmyai_client::Code>(example),
        "Language" => try_decode::<Language>(example),
        "CreateCloneRequest" => try_decode::<CreateCloneRequest>(example),
        "CreateCloneEnvelope" => try_decode::<CreateCloneEnvelope>(example),
        "UploadFileEnvelope" => try_decode::<UploadFileEnvelope>(example),
        _ => return None,
    })
}

/// An example found in a spec: where it is, the schema it must fit, and the value.
#[derive(Debug)]
struct Found {
    at: String,
    schema: SchemaRef,
    example: Value,
}

#[derive(Debug)]
enum SchemaRef {
    /// A named component schema: decoded into its generated type.
    Named(String),
    /// An inline schema (a property's own): checked against its `type` and `enum`.
    Inline(Value),
}

fn ref_name(schema: &Value) -> Option<String> {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.rsplit('/').next())
        .map(str::to_string)
}

/// Collects media-type examples (with the media type's schema) and schema examples.
fn collect(node: &Value, at: &str, out: &mut Vec<Found>) {
    match node {
        Value::Object(map) => {
            if let (Some(example), Some(schema)) = (map.get("example"), map.get("schema")) {
                let schema = match ref_name(schema) {
                    Some(n) => SchemaRef::Named(n),
                    None => SchemaRef::Inline(schema.clone()),
                };
                out.push(Found {
                    at: format!("{at}/example"),
                    schema,
                    example: example.clone(),
                });
            } else if let Some(example) = map.get("example") {
                // A schema's own example: named when it sits at components/schemas/<Name>.
                let named = at
                    .strip_prefix("/components/schemas/")
                    .filter(|rest| !rest.contains('/'));
                let schema = match named {
                    Some(n) => SchemaRef::Named(n.to_string()),
                    None => SchemaRef::Inline(node.clone()),
                };
                out.push(Found {
                    at: format!("{at}/example"),
                    schema,
                    example: example.clone(),
                });
            }
            for (k, v) in map {
                if k != "example" {
                    collect(v, &format!("{at}/{k}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn check_inline(schema: &Value, example: &Value) -> Result<(), String> {
    let ty = schema.get("type").and_then(Value::as_str);
    let fits = match ty {
        Some("string") => example.is_string(),
        Some("integer") => example.is_i64() || example.is_u64(),
        Some("number") => example.is_number(),
        Some("boolean") => example.is_boolean(),
        Some("object") => example.is_object(),
        Some("array") => example.is_array(),
        _ => true,
    };
    if !fits {
        return Err(format!("example {example} is not a {ty:?}"));
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.contains(example)
    {
        return Err(format!("example {example} is not one of {values:?}"));
    }
    Ok(())
}

fn check_spec(spec: &str, decode: fn(&str, &Value) -> Option<Result<(), String>>, minimum: usize) {
    let doc = load(spec);
    let mut found = Vec::new();
    collect(&doc, "", &mut found);
    assert!(
        found.len() >= minimum,
        "{spec}: only {} examples found, expected at least {minimum}",
        found.len()
    );
    let mut failures = Vec::new();
    for f in &found {
        let outcome = match &f.schema {
            SchemaRef::Named(name) => decode(name, &f.example)
                .unwrap_or_else(|| Err(format!("no decoder listed for schema {name}"))),
            SchemaRef::Inline(schema) => check_inline(schema, &f.example),
        };
        if let Err(e) = outcome {
            failures.push(format!("{spec}{}: {e}", f.at));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_vmeg_example_decodes() {
    check_spec("specs/vmeg.yaml", decode_vmeg, 26);
}

#[test]
fn every_jimmyai_example_decodes() {
    check_spec("specs/jimmyai.yaml", decode_jimmyai, 8);
}

#[test]
fn a_wrong_example_is_caught() {
    // The checker itself must be able to fail: `data` that is not an object (answers are read
    // leniently, so a code as a string, or a missing field, would pass).
    let bad = serde_json::json!({"code": 200, "data": "not an object"});
    assert!(decode_vmeg("TaskAcceptedEnvelope", &bad).unwrap().is_err());
    let bad_enum = serde_json::json!("V9");
    assert!(decode_vmeg("CloneEngine", &bad_enum).unwrap().is_err());
    assert!(
        check_inline(
            &serde_json::json!({"type": "integer"}),
            &serde_json::json!("x")
        )
        .is_err()
    );
}

/// The allow-list's reasons for the `X-Idempotency-Key` `minLength: 1` say what it enforces:
/// the schema refuses only an empty key (a generated header type takes `"   "`), and the
/// not-blank-after-trimming rule (api-facts A4) is voiceclone's own check, which refuses a
/// blank key with nothing sent. Before: the reasons said `minLength: 1` wrote that rule down.
#[tokio::test]
async fn the_idempotency_key_reasons_say_what_min_length_enforces() {
    let allow = load("specs/vmeg-conformance.yaml");
    let entries: Vec<&Value> = allow["differences"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["location"] == "header.X-Idempotency-Key" && e["kind"] == "minLength-tighter")
        .collect();
    assert!(entries.len() >= 10, "{}", entries.len());
    for e in entries {
        let reason = e["reason"].as_str().unwrap();
        assert!(
            !reason.contains("writes the documented rule down"),
            "{}: {reason}",
            e["operation"]
        );
        assert!(
            reason.contains("empty-key part only") && reason.contains("validate::idempotency_key"),
            "{}: {reason}",
            e["operation"]
        );
    }
    // What the reasons claim.
    use vmeg_client::types::CloneVoiceCreateAsyncXIdempotencyKey as Key;
    assert!(Key::try_from(String::new()).is_err());
    assert!(
        Key::try_from("   ".to_owned()).is_ok(),
        "the schema lets a blank key through"
    );
    let server = workspace_tests::scripted::Scripted::start(vec![]).await;
    let (c, _) = crate::adapter_support::client(voiceclone::Provider::Vmeg, &server.base_url);
    let e = c
        .clone_voice(
            &voiceclone::CloneRequest::new("https://cdn.example.com/a.wav")
                .name("n")
                .idempotency_key("   "),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e.kind(), voiceclone::ErrorKind::InvalidInput { field, .. } if field == "idempotency_key"),
        "{e}"
    );
    assert!(server.seen().is_empty());
}
