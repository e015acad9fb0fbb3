//! Every example in both specs decodes into its generated type, and keeps every key when
//! written back (the generated types ignore unknown keys, so decoding alone let a misspelled
//! field through); a request example's values are also what the type sends. The examples are
//! found by walking the YAML, so an example added to a spec is tested without touching this
//! file; one whose schema has no decoder below fails the test instead of being skipped. The
//! conformance allow-list's reasons for the idempotency key are held to what the schema
//! enforces.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::path::Path;

fn load(spec: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(spec);
    let text = std::fs::read_to_string(&path).unwrap();
    serde_norway::from_str(&text).unwrap()
}

/// Decodes an answer's `example` into `T`, writes it back, and requires every key of the
/// example (recursively, in objects within arrays too) to be in what `T` writes: the generated
/// types ignore unknown keys, so an example with a misspelled field decoded.
fn try_decode<T: DeserializeOwned + Serialize>(v: &Value) -> Result<(), String> {
    Kept::new(v, &round_trip::<T>, false).check()
}

/// As [`try_decode`], for a request type: the values written back must also be the
/// example's (what the generated client would send for it).
fn try_request<T: DeserializeOwned + Serialize>(v: &Value) -> Result<(), String> {
    Kept::new(v, &round_trip::<T>, true).check()
}

fn round_trip<T: DeserializeOwned + Serialize>(v: &Value) -> Result<Value, String> {
    let decoded = serde_json::from_value::<T>(v.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(&decoded).map_err(|e| format!("written back: {e}"))
}

/// A request example's keys and values kept in `back` (what the type wrote for `example`):
/// for the checker's own test, without a type.
fn values_kept(example: &Value, back: &Value, at: &str) -> Result<(), String> {
    let same = |_: &Value| Ok(back.clone());
    Kept::new(example, &same, true).compare(example, back, at)
}

/// Whether an example survives a round trip through its generated type.
struct Kept<'a> {
    example: &'a Value,
    round_trip: &'a dyn Fn(&Value) -> Result<Value, String>,
    values: bool,
}

impl<'a> Kept<'a> {
    fn new(
        example: &'a Value,
        round_trip: &'a dyn Fn(&Value) -> Result<Value, String>,
        values: bool,
    ) -> Self {
        Kept {
            example,
            round_trip,
            values,
        }
    }

    fn check(&self) -> Result<(), String> {
        let back = (self.round_trip)(self.example)?;
        self.compare(self.example, &back, "")
    }

    /// Every key (and array element) of `example` is in `back`; with `values`, every value is
    /// equal too (numbers by value: `1` and `1.0` are one). `at` is the JSON pointer of
    /// `example` in the whole example, for the message and the probe.
    fn compare(&self, example: &Value, back: &Value, at: &str) -> Result<(), String> {
        let at_or_root = if at.is_empty() { "/" } else { at };
        match (example, back) {
            (Value::Object(e), Value::Object(b)) => {
                for (k, ev) in e {
                    let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                    match b.get(k) {
                        Some(bv) => self.compare(ev, bv, &here)?,
                        // A field left out when it is `None`: known if a value there is kept.
                        None if ev.is_null() && !self.values && self.known(&here) => {}
                        None => {
                            return Err(format!(
                                "{here}: the generated type has no such field (misspelled, or \
                                 not in the schema?): it was dropped on decoding"
                            ));
                        }
                    }
                }
                Ok(())
            }
            (Value::Array(e), Value::Array(b)) => {
                for (i, ev) in e.iter().enumerate() {
                    let here = format!("{at}/{i}");
                    let Some(bv) = b.get(i) else {
                        return Err(format!("{here}: dropped on decoding"));
                    };
                    self.compare(ev, bv, &here)?;
                }
                Ok(())
            }
            (Value::Object(_) | Value::Array(_), _) => Err(format!(
                "{at_or_root}: {example} was written back as {back}"
            )),
            (Value::Number(e), Value::Number(b)) if self.values && e.as_f64() == b.as_f64() => {
                Ok(())
            }
            _ if self.values && example != back => {
                Err(format!("{at_or_root}: {example} is sent as {back}"))
            }
            _ => Ok(()),
        }
    }

    /// Whether the field at `pointer` (null in the example, absent when written back) is one
    /// the type knows: some non-null value there decodes and is written back.
    fn known(&self, pointer: &str) -> bool {
        let probes = [
            serde_json::json!("x"),
            serde_json::json!(1),
            serde_json::json!(true),
            serde_json::json!({}),
            serde_json::json!([]),
        ];
        probes.into_iter().any(|probe| {
            let mut probed = self.example.clone();
            let Some(slot) = probed.pointer_mut(pointer) else {
                return false;
            };
            *slot = probe;
            (self.round_trip)(&probed).is_ok_and(|back| back.pointer(pointer).is_some())
        })
    }
}

/// Decodes `example` into the generated type named `schema`; `None` if no decoder is listed.
fn decode_vmeg(schema: &str, example: &Value) -> Option<Result<(), String>> {
    use vmeg_client::types::*;
    Some(match schema {
        "Code" => try_decode::<vmeg_client::Code>(example),
        "CloneEngine" => try_decode::<CloneEngine>(example),
        "ErrorEnvelope" => try_decode::<ErrorEnvelope>(example),
        "CloneVoiceCreateRequest" => try_request::<CloneVoiceCreateRequest>(example),
        "CloneVoiceCreateAsyncRequest" => try_request::<CloneVoiceCreateAsyncRequest>(example),
        "CloneVoiceCreateSyncEnvelope" => try_decode::<CloneVoiceCreateSyncEnvelope>(example),
        "TaskAcceptedEnvelope" => try_decode::<TaskAcceptedEnvelope>(example),
        "TtsCreateRequest" => try_request::<TtsCreateRequest>(example),
        "TtsCreateSyncEnvelope" => try_decode::<TtsCreateSyncEnvelope>(example),
        "CloneVoiceWebhook" => try_decode::<CloneVoiceWebhook>(example),
        "TtsWebhook" => try_decode::<TtsWebhook>(example),
        "MaterialFileRequest" => try_request::<MaterialFileRequest>(example),
        "MaterialUploadCompleteRequest" => try_request::<MaterialUploadCompleteRequest>(example),
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
        "CreateCloneRequest" => try_request::<CreateCloneRequest>(example),
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
    // A misspelled (unknown) key: the generated types ignore it when decoding, so decoding
    // alone passed such an example. Top level, in a nested object, and in an object within an
    // array, of a request and of an answer.
    let misspelled = serde_json::json!({
        "refAudio": "https://cdn.example.com/a.wav",
        "sampleLangauge": "en",
        "voiceName": "n"
    });
    let e = decode_vmeg("CloneVoiceCreateRequest", &misspelled)
        .unwrap()
        .unwrap_err();
    assert!(e.contains("/sampleLangauge"), "{e}");
    let nested = serde_json::json!({"code": 200, "data": {"taskId": "t-1", "taskIdd": "t-1"}});
    let e = decode_vmeg("TaskAcceptedEnvelope", &nested)
        .unwrap()
        .unwrap_err();
    assert!(e.contains("/data/taskIdd"), "{e}");
    let in_array = serde_json::json!({
        "code": 200,
        "data": {"urls": [{"partNumber": 1, "url": "https://s.example.com/1", "urll": "x"}]}
    });
    let e = decode_vmeg("MaterialMultipartPresignEnvelope", &in_array)
        .unwrap()
        .unwrap_err();
    assert!(e.contains("/data/urls/0/urll"), "{e}");
    // A null is left out when written back: a field the type knows passes, an unknown one not.
    let known_null = serde_json::json!({"code": 401, "message": "m", "data": null});
    assert_eq!(decode_vmeg("ErrorEnvelope", &known_null), Some(Ok(())));
    let unknown_null = serde_json::json!({"code": 401, "mesage": null});
    let e = decode_vmeg("ErrorEnvelope", &unknown_null)
        .unwrap()
        .unwrap_err();
    assert!(e.contains("/mesage"), "{e}");
    // A request example's values are what the generated type sends.
    assert!(
        values_kept(
            &serde_json::json!({"a": [1, {"b": "x"}]}),
            &serde_json::json!({"a": [1, {"b": "y"}]}),
            ""
        )
        .is_err_and(|e| e.contains("/a/1/b"))
    );
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
