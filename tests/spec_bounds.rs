//! Review 30-d #3: the generated types drop the specs' numeric bounds (`minimum`, `maximum`,
//! `exclusiveMinimum`, `maxItems`), so the adapter's hand-written rules are what holds a
//! request to them. These tests read the bounds from `specs/*.yaml` and hold the rules to
//! each, at the spec's number and just past it, through `DryRun` (the rules, nothing sent): a
//! spec edit to a bound, or a rule edit, that makes them differ fails here. A bound added to
//! a spec that no test here ties to a rule fails too, naming it.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use voiceclone::estimate::DryRun;
use voiceclone::{CloneRequest, ErrorKind, Provider, SpeechRequest};

/// The keywords a request bound is written with: those typify drops (listed in the
/// generated header) and the string lengths it keeps.
const BOUND_KEYWORDS: &[&str] = &[
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minLength",
    "maxLength",
];

fn load(spec: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(spec);
    serde_norway::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Every `(place, keyword)` of a bound in `value`, the place a JSON pointer.
fn bounds(at: &str, value: &Value, out: &mut BTreeSet<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if BOUND_KEYWORDS.contains(&k.as_str()) && (v.is_number() || v.is_boolean()) {
                    out.insert((at.to_owned(), k.clone()));
                }
                let key = k.replace('~', "~0").replace('/', "~1");
                bounds(&format!("{at}/{key}"), v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                bounds(&format!("{at}/{i}"), v, out);
            }
        }
        _ => {}
    }
}

fn number(spec: &Value, pointer: &str, keyword: &str) -> f64 {
    spec.pointer(pointer)
        .and_then(|s| s.get(keyword))
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{pointer}: no numeric {keyword}"))
}

fn count(spec: &Value, pointer: &str, keyword: &str) -> usize {
    spec.pointer(pointer)
        .and_then(|s| s.get(keyword))
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or_else(|| panic!("{pointer}: no whole {keyword}"))
}

/// The field a refusal names, or `None` when the request passed the rules.
fn refused(r: Result<DryRun, voiceclone::Error>) -> Option<String> {
    match r {
        Ok(_) => None,
        Err(e) => match e.kind() {
            ErrorKind::InvalidInput { field, .. } => Some(field.clone()),
            other => panic!("not a refusal of the input: {other:?}: {e}"),
        },
    }
}

fn speech(provider: Provider, req: SpeechRequest) -> Option<String> {
    refused(DryRun::speech(provider, &[req]))
}

/// The bounds in both specs are exactly those the tests below tie to a rule.
#[test]
fn every_bound_in_the_specs_is_tied_to_a_rule() {
    let tied: [(&str, &[(&str, &str)]); 2] = [
        (
            "specs/vmeg.yaml",
            &[
                (
                    "/components/schemas/TtsLine/properties/emoWeight",
                    "minimum",
                ),
                (
                    "/components/schemas/TtsLine/properties/emoWeight",
                    "maximum",
                ),
                (
                    "/components/schemas/TtsCreateRequest/properties/data",
                    "maxItems",
                ),
                (
                    "/components/schemas/TtsCreateAsyncRequest/properties/data",
                    "maxItems",
                ),
                (
                    "/components/parameters/IdempotencyKeyRequired/schema",
                    "minLength",
                ),
                (
                    "/components/parameters/IdempotencyKeyRequired/schema",
                    "maxLength",
                ),
                (
                    "/components/parameters/IdempotencyKeyOptional/schema",
                    "minLength",
                ),
                (
                    "/components/parameters/IdempotencyKeyOptional/schema",
                    "maxLength",
                ),
            ],
        ),
        (
            "specs/jimmyai.yaml",
            &[
                (
                    "/components/schemas/CreateAudioRequest/properties/speed",
                    "minimum",
                ),
                (
                    "/components/schemas/CreateAudioRequest/properties/speed",
                    "maximum",
                ),
                (
                    "/components/schemas/CreateAudioRequest/properties/vol",
                    "minimum",
                ),
                (
                    "/components/schemas/CreateAudioRequest/properties/vol",
                    "exclusiveMinimum",
                ),
                (
                    "/components/schemas/CreateAudioRequest/properties/vol",
                    "maximum",
                ),
                (
                    "/components/schemas/CreateAudioRequest/properties/pitch",
                    "minimum",
                ),
                (
                    "/components/schemas/CreateAudioRequest/properties/pitch",
                    "maximum",
                ),
                (
                    "/components/schemas/CreateAudioRequest/properties/contentText",
                    "maxLength",
                ),
                (
                    "/components/schemas/CreateCloneRequest/properties/contentText",
                    "maxLength",
                ),
            ],
        ),
    ];
    for (spec, tied) in tied {
        let mut found = BTreeSet::new();
        bounds("", &load(spec), &mut found);
        let tied: BTreeSet<(String, String)> = tied
            .iter()
            .map(|(p, k)| ((*p).to_owned(), (*k).to_owned()))
            .collect();
        let untied: Vec<_> = found.difference(&tied).collect();
        let gone: Vec<_> = tied.difference(&found).collect();
        assert!(
            untied.is_empty() && gone.is_empty(),
            "{spec}: bounds no test ties to a rule (add a check below): {untied:?}; \
             tied bounds no longer in the spec: {gone:?}"
        );
    }
}

/// VMEG: `TtsLine.emoWeight` (0..1), the `data` array's `maxItems` (50, sync and async
/// alike), and the idempotency key's length (1..64).
#[test]
fn vmeg_rules_hold_the_specs_bounds() {
    let spec = load("specs/vmeg.yaml");
    let req = || SpeechRequest::new("sv_en_us_female_01", "Hello.");
    let w = "/components/schemas/TtsLine/properties/emoWeight";
    let (min, max) = (number(&spec, w, "minimum"), number(&spec, w, "maximum"));
    for ok in [min, max] {
        assert_eq!(
            speech(Provider::Vmeg, req().emotion_weight(ok)),
            None,
            "{ok}"
        );
    }
    for past in [min.next_down(), max.next_up()] {
        assert_eq!(
            speech(Provider::Vmeg, req().emotion_weight(past)).as_deref(),
            Some("emotion_weight"),
            "{past}"
        );
    }

    let sync = count(
        &spec,
        "/components/schemas/TtsCreateRequest/properties/data",
        "maxItems",
    );
    let asynch = count(
        &spec,
        "/components/schemas/TtsCreateAsyncRequest/properties/data",
        "maxItems",
    );
    assert_eq!(sync, asynch, "one limit for both routes");
    let lines = |n: usize| {
        (1..n).fold(req(), |r, i| {
            r.add_line("sv_en_us_female_01", format!("Line {i}."))
        })
    };
    for synchronous in [false, true] {
        let at = lines(sync).synchronous(synchronous);
        assert_eq!(at.lines.len(), sync);
        assert_eq!(speech(Provider::Vmeg, at), None, "{sync} lines");
        let past = lines(sync + 1).synchronous(synchronous);
        assert_eq!(
            speech(Provider::Vmeg, past).as_deref(),
            Some("lines"),
            "{} lines",
            sync + 1
        );
    }

    for param in ["IdempotencyKeyRequired", "IdempotencyKeyOptional"] {
        let p = format!("/components/parameters/{param}/schema");
        let (min, max) = (count(&spec, &p, "minLength"), count(&spec, &p, "maxLength"));
        for ok in [min, max] {
            let key = "k".repeat(ok);
            assert_eq!(
                speech(Provider::Vmeg, req().idempotency_key(key)),
                None,
                "{ok}"
            );
        }
        for past in [min.saturating_sub(1), max + 1] {
            let key = "k".repeat(past);
            assert_eq!(
                speech(Provider::Vmeg, req().idempotency_key(key)).as_deref(),
                Some("idempotency_key"),
                "{past}"
            );
        }
    }
}

/// JimmyAI: `speed` (0.5..2), `vol` (above 0, at most 10), `pitch` (-12..12), and the texts'
/// `maxLength` (9,999 for speech, 270 for a clone's preview).
#[test]
fn jimmyai_rules_hold_the_specs_bounds() {
    let spec = load("specs/jimmyai.yaml");
    let req = || SpeechRequest::new("model-1", "Hello.");
    let audio = "/components/schemas/CreateAudioRequest/properties";

    let s = format!("{audio}/speed");
    let (min, max) = (number(&spec, &s, "minimum"), number(&spec, &s, "maximum"));
    for ok in [min, max] {
        assert_eq!(speech(Provider::JimmyAi, req().speed(ok)), None, "{ok}");
    }
    for past in [min.next_down(), max.next_up()] {
        assert_eq!(
            speech(Provider::JimmyAi, req().speed(past)).as_deref(),
            Some("speed"),
            "{past}"
        );
    }

    let v = format!("{audio}/vol");
    let (min, max) = (number(&spec, &v, "minimum"), number(&spec, &v, "maximum"));
    let exclusive = spec
        .pointer(&v)
        .and_then(|s| s.get("exclusiveMinimum"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let lowest = if exclusive { min.next_up() } else { min };
    for ok in [lowest, max] {
        assert_eq!(speech(Provider::JimmyAi, req().volume(ok)), None, "{ok}");
    }
    for past in [lowest.next_down(), max.next_up()] {
        assert_eq!(
            speech(Provider::JimmyAi, req().volume(past)).as_deref(),
            Some("volume"),
            "{past}"
        );
    }

    let p = format!("{audio}/pitch");
    let whole = |k: &str| {
        spec.pointer(&p)
            .and_then(|s| s.get(k))
            .and_then(Value::as_i64)
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or_else(|| panic!("{p}: no whole {k}"))
    };
    let (min, max) = (whole("minimum"), whole("maximum"));
    for ok in [min, max] {
        assert_eq!(speech(Provider::JimmyAi, req().pitch(ok)), None, "{ok}");
    }
    for past in [min - 1, max + 1] {
        assert_eq!(
            speech(Provider::JimmyAi, req().pitch(past)).as_deref(),
            Some("pitch"),
            "{past}"
        );
    }

    // Characters, not bytes: `é` is two bytes.
    let max = count(&spec, &format!("{audio}/contentText"), "maxLength");
    let text = |n: usize| "é".repeat(n);
    assert_eq!(
        speech(Provider::JimmyAi, SpeechRequest::new("model-1", text(max))),
        None
    );
    assert_eq!(
        speech(
            Provider::JimmyAi,
            SpeechRequest::new("model-1", text(max + 1))
        )
        .as_deref(),
        Some("text")
    );
    let max = count(
        &spec,
        "/components/schemas/CreateCloneRequest/properties/contentText",
        "maxLength",
    );
    let clone = |n: usize| {
        refused(DryRun::clone_voice(
            Provider::JimmyAi,
            &CloneRequest::new("https://cdn.example.com/sample.mp3").sample_text(text(n)),
            false,
        ))
    };
    assert_eq!(clone(max), None);
    assert_eq!(clone(max + 1).as_deref(), Some("sample_text"));
}
