//! `cargo xtask conformance`: the comparison of our spec with a vendor document, on a small
//! inline pair (a 3.1 vendor document with `$ref`/`allOf`, a 3.0 spec of ours), plus the real
//! `specs/vmeg.yaml` against its allow-list when VMEG's document is present.

use serde_json::{Value, json};
use xtask::conformance::{self, AllowEntry, Difference};

/// VMEG-like 3.1 document: envelope by `allOf`, parameters and schemas by `$ref`.
fn vendor() -> Value {
    json!({
        "openapi": "3.1.0",
        "security": [{"apiKeyAuth": []}],
        "paths": {
            "/v1/tasks/list": {"get": {
                "operationId": "tasksList",
                "parameters": [
                    {"name": "taskType", "in": "query",
                     "schema": {"$ref": "#/components/schemas/TaskType"}},
                    {"name": "pageSize", "in": "query",
                     "schema": {"type": "integer", "default": 20}}
                ],
                "responses": {"200": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/TaskListResponse"}}}}}
            }},
            "/v1/tts/create": {"post": {
                "operationId": "ttsCreate",
                "parameters": [{"$ref": "#/components/parameters/IdempotencyKeyRequired"}],
                "requestBody": {"required": true, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/TtsAsyncRequest"}}}},
                "responses": {"200": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/VoidResponse"}}}}},
                "callbacks": {"done": {"https://{url}": {"post": {
                    "requestBody": {"required": true, "content": {"application/json": {
                        "schema": {"allOf": [
                            {"$ref": "#/components/schemas/CallbackEnvelope"},
                            {"type": "object", "required": ["data"],
                             "properties": {"data": {"type": "object"}}}
                        ]}}}},
                    "responses": {"200": {}}
                }}}}
            }}
        },
        "components": {
            "securitySchemes": {"apiKeyAuth": {"type": "http", "scheme": "bearer"}},
            "parameters": {"IdempotencyKeyRequired": {
                "name": "X-Idempotency-Key", "in": "header", "required": true,
                "schema": {"type": "string", "maxLength": 64}}},
            "schemas": {
                "Base": {"type": "object", "required": ["code"], "properties": {
                    "code": {"type": "integer"}, "message": {"type": "string"}}},
                "TaskType": {"type": "string", "enum": ["vt", "tts"]},
                "TaskSummary": {"type": "object", "required": ["taskId"], "properties": {
                    "taskId": {"type": "string"},
                    "taskType": {"$ref": "#/components/schemas/TaskType"},
                    "result": {"type": "object", "additionalProperties": true}}},
                "TaskListResponse": {"allOf": [
                    {"$ref": "#/components/schemas/Base"},
                    {"type": "object", "properties": {"data": {"type": "object", "properties": {
                        "records": {"type": "array",
                                    "items": {"$ref": "#/components/schemas/TaskSummary"}},
                        "total": {"type": "integer", "format": "int64"}}}}}
                ]},
                "VoidResponse": {"allOf": [
                    {"$ref": "#/components/schemas/Base"},
                    {"type": "object", "properties": {"data": {"nullable": true}}}
                ]},
                "TtsRequest": {"type": "object", "required": ["text"], "properties": {
                    "text": {"type": "string"},
                    "format": {"type": "string", "enum": ["wav", "mp3"]},
                    "weight": {"type": "number", "exclusiveMinimum": 0, "maximum": 1}}},
                "TtsAsyncRequest": {"allOf": [
                    {"$ref": "#/components/schemas/TtsRequest"},
                    {"type": "object", "properties": {
                        "extraData": {"type": "object", "additionalProperties": true}}}
                ]},
                "CallbackEnvelope": {"type": "object", "properties": {
                    "event": {"type": "string", "enum": ["openapi-tts"]},
                    "pipelineKey": {"type": "string"}}}
            }
        }
    })
}

/// Our 3.0 spec: inline where they `$ref`, the `nullable` + `allOf` envelope idiom, a 3.0
/// boolean `exclusiveMinimum`, plain strings for vendor enums in responses. It differs from
/// `vendor()` on purpose in exactly two places: `taskType` query enum dropped, and the
/// `pageSize` default moved into the description.
const OURS: &str = r##"
openapi: 3.0.3
security:
  - bearerAuth: []
paths:
  /v1/tasks/list:
    get:
      operationId: tasksList
      parameters:
        - name: taskType
          in: query
          schema: {type: string}
        - name: pageSize
          in: query
          description: Server default 20.
          schema: {type: integer}
        - name: req_id
          in: query
          schema: {type: string}
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                type: object
                required: [code]
                properties:
                  code: {type: integer, format: int64}
                  message: {type: string}
                  data:
                    nullable: true
                    allOf:
                      - $ref: '#/components/schemas/TaskListData'
        '4XX':
          description: error
  /v1/tts/create:
    post:
      operationId: ttsCreate
      parameters:
        - name: X-Idempotency-Key
          in: header
          required: true
          schema: {type: string, maxLength: 64}
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [text]
              properties:
                text: {type: string}
                format: {type: string, enum: [wav, mp3]}
                weight: {type: number, minimum: 0, exclusiveMinimum: true, maximum: 1}
                extraData: {type: object, additionalProperties: true}
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Void'
        '5XX':
          description: error
      callbacks:
        done:
          'https://{url}':
            post:
              requestBody:
                required: true
                content:
                  application/json:
                    schema:
                      type: object
                      required: [data]
                      properties:
                        event: {type: string}
                        pipelineKey: {type: string}
                        data: {type: object, additionalProperties: true}
              responses:
                '200': {description: ok}
components:
  securitySchemes:
    bearerAuth: {type: http, scheme: bearer}
  schemas:
    Void:
      type: object
      required: [code]
      properties:
        code: {type: integer}
        message: {type: string}
        data: {nullable: true}
    TaskListData:
      type: object
      properties:
        records:
          type: array
          items:
            type: object
            properties:
              taskId: {type: string}
              taskType: {type: string}
              result: {nullable: true}
        total: {type: integer, format: int64}
"##;

fn ours() -> Value {
    let parsed = serde_norway::from_str(OURS);
    assert!(parsed.is_ok(), "test spec: {parsed:?}");
    parsed.unwrap_or_default()
}

/// `ours()` with one edit applied at a JSON pointer.
fn ours_with(pointer: &str, value: Value) -> Value {
    let mut doc = ours();
    assert!(
        doc.pointer(pointer).is_some(),
        "no {pointer} in the test spec"
    );
    if let Some(slot) = doc.pointer_mut(pointer) {
        *slot = value;
    }
    doc
}

fn keys(diffs: &[Difference]) -> Vec<(String, String, String)> {
    diffs
        .iter()
        .map(|d| (d.operation.clone(), d.location.clone(), d.kind.clone()))
        .collect()
}

fn key(op: &str, loc: &str, kind: &str) -> (String, String, String) {
    (op.to_string(), loc.to_string(), kind.to_string())
}

fn allow(op: &str, loc: &str, kind: &str) -> AllowEntry {
    AllowEntry {
        operation: op.to_string(),
        location: loc.to_string(),
        kind: kind.to_string(),
        reason: "test".to_string(),
    }
}

fn both_listed() -> Vec<AllowEntry> {
    vec![
        allow("tasksList", "query.taskType", "enum-widened"),
        allow("tasksList", "query.pageSize", "default-dropped"),
    ]
}

#[test]
fn resolves_ref_and_allof_on_both_sides_and_finds_only_the_real_differences() {
    // Their envelope is allOf[Base, {data}] with `$ref`s, ours is inline with
    // `nullable` + allOf; their async body is allOf[$ref, extraData]; the callback body is an
    // allOf too. None of that layout is a difference, and response widening (plain string
    // for their enum, optional where they require, nullable data, any JSON for `result`,
    // int64 for a format-less integer) is accepted.
    let diffs = conformance::compare(&ours(), &vendor());
    assert_eq!(
        keys(&diffs),
        vec![
            key("tasksList", "query.pageSize", "default-dropped"),
            key("tasksList", "query.taskType", "enum-widened"),
        ],
        "{diffs:#?}"
    );
}

#[test]
fn listed_differences_pass() {
    let report = conformance::check(conformance::compare(&ours(), &vendor()), &both_listed());
    assert!(report.passes(), "{}", report.render());
    assert_eq!(
        report.summary(),
        "2 differences, 2 listed, 0 unlisted, 0 stale allow-list entries"
    );
    assert!(report.render().contains("ok: listed"));
}

#[test]
fn an_unlisted_difference_fails() {
    let mut allow = both_listed();
    allow.truncate(1);
    let report = conformance::check(conformance::compare(&ours(), &vendor()), &allow);
    assert!(!report.passes());
    assert_eq!(report.unlisted(), 1);
    assert!(report.render().contains("DIFF"), "{}", report.render());
}

#[test]
fn a_stale_allow_list_entry_fails() {
    let mut allow = both_listed();
    allow.push(allow_entry_for_nothing());
    let report = conformance::check(conformance::compare(&ours(), &vendor()), &allow);
    assert!(!report.passes());
    assert_eq!(report.unlisted(), 0);
    assert_eq!(report.stale.len(), 1);
    assert!(report.render().contains("STALE"), "{}", report.render());
    assert!(report.summary().ends_with("1 stale allow-list entries"));
}

fn allow_entry_for_nothing() -> AllowEntry {
    allow("ttsCreate", "body.text", "type-mismatch")
}

#[test]
fn a_request_enum_mismatch_is_caught() {
    let ours = ours_with(
        "/paths/~1v1~1tts~1create/post/requestBody/content/application~1json/schema/properties/format/enum",
        json!(["wav", "ogg"]),
    );
    let diffs = conformance::compare(&ours, &vendor());
    assert!(
        keys(&diffs).contains(&key("ttsCreate", "body.format", "enum-mismatch")),
        "{diffs:#?}"
    );
}

#[test]
fn request_tightening_missing_properties_and_required_changes_are_caught() {
    let path = "/paths/~1v1~1tts~1create/post/requestBody/content/application~1json/schema";
    let mut ours = self::ours();
    assert!(ours.pointer(path).is_some(), "no body schema");
    if let Some(schema) = ours.pointer_mut(path) {
        schema["properties"]["weight"]["maximum"] = json!(0.5);
        schema["properties"]["text"]["maxLength"] = json!(100);
        schema["properties"]["format"]["default"] = json!("wav");
        schema["required"] = json!([]);
        if let Some(props) = schema["properties"].as_object_mut() {
            props.remove("extraData");
            props.insert("speed".to_string(), json!({"type": "number"}));
        }
    }
    let got = keys(&conformance::compare(&ours, &vendor()));
    for want in [
        key("ttsCreate", "body.weight", "maximum-tighter"),
        key("ttsCreate", "body.text", "maxLength-tighter"),
        key("ttsCreate", "body.text", "required-dropped"),
        key("ttsCreate", "body.format", "default-added"),
        key("ttsCreate", "body.extraData", "property-missing"),
        key("ttsCreate", "body.speed", "property-added"),
    ] {
        assert!(got.contains(&want), "missing {want:?} in {got:#?}");
    }
}

#[test]
fn response_narrowing_is_caught_but_widening_is_not() {
    // An enum of ours on a response field they leave open: narrower.
    let ours = ours_with(
        "/components/schemas/TaskListData/properties/records/items/properties/taskId",
        json!({"type": "string", "enum": ["a"]}),
    );
    let got = keys(&conformance::compare(&ours, &vendor()));
    assert!(
        got.contains(&key(
            "tasksList",
            "response.200.data.records[].taskId",
            "enum-narrowed"
        )),
        "{got:#?}"
    );
    // int32 where they give a format-less integer: narrower.
    let ours = ours_with(
        "/components/schemas/TaskListData/properties/total",
        json!({"type": "integer", "format": "int32"}),
    );
    let got = keys(&conformance::compare(&ours, &vendor()));
    assert!(
        got.contains(&key(
            "tasksList",
            "response.200.data.total",
            "format-narrowed"
        )),
        "{got:#?}"
    );
    // A vendor response property we lack.
    let ours = ours_with(
        "/components/schemas/TaskListData/properties/records/items/properties",
        json!({"taskId": {"type": "string"}, "result": {}}),
    );
    let got = keys(&conformance::compare(&ours, &vendor()));
    assert!(
        got.contains(&key(
            "tasksList",
            "response.200.data.records[].taskType",
            "property-missing"
        )),
        "{got:#?}"
    );
}

#[test]
fn webhook_bodies_and_operations_are_compared() {
    // The callback body is compared: dropping `pipelineKey` is a difference.
    let ours = ours_with(
        "/paths/~1v1~1tts~1create/post/callbacks/done/https:~1~1{url}/post/requestBody/content/application~1json/schema/properties/pipelineKey",
        json!({"type": "integer"}),
    );
    let got = keys(&conformance::compare(&ours, &vendor()));
    assert!(
        got.contains(&key(
            "ttsCreate",
            "callback.done.body.pipelineKey",
            "type-narrowed"
        )),
        "{got:#?}"
    );
    // An operation of ours they do not have; a different path for the same operationId.
    let mut ours = self::ours();
    if let Some(paths) = ours["paths"].as_object_mut() {
        paths.insert(
            "/v1/other".to_string(),
            json!({"get": {"operationId": "other", "responses": {}}}),
        );
        if let Some(item) = paths.remove("/v1/tasks/list") {
            paths.insert("/v1/tasks".to_string(), item);
        }
    }
    let got = keys(&conformance::compare(&ours, &vendor()));
    assert!(got.contains(&key("other", "operation", "operation-missing")));
    assert!(got.contains(&key("tasksList", "path", "path-mismatch")));
}

#[test]
fn required_parameters_of_ours_and_missing_vendor_parameters_are_caught() {
    let ours = ours_with(
        "/paths/~1v1~1tasks~1list/get/parameters",
        json!([
            {"name": "taskType", "in": "query", "schema": {"type": "string", "enum": ["vt", "tts"]}},
            {"name": "pageSize", "in": "query", "schema": {"type": "integer", "default": 20}},
            {"name": "projId", "in": "query", "required": true, "schema": {"type": "string"}}
        ]),
    );
    assert_eq!(
        keys(&conformance::compare(&ours, &vendor())),
        vec![key("tasksList", "query.projId", "parameter-added-required")]
    );
    let ours = ours_with("/paths/~1v1~1tasks~1list/get/parameters", json!([]));
    let got = keys(&conformance::compare(&ours, &vendor()));
    assert!(got.contains(&key("tasksList", "query.taskType", "parameter-missing")));
}

#[test]
fn allow_list_entries_need_a_reason_and_may_not_repeat() {
    let ok = conformance::parse_allow_list(
        "differences:\n  - {operation: a, location: b, kind: c, reason: because}\n",
    );
    assert!(matches!(ok.as_deref(), Ok([e]) if e.reason == "because"));
    let no_reason =
        conformance::parse_allow_list("differences:\n  - {operation: a, location: b, kind: c}\n");
    assert!(no_reason.is_err());
    let twice = conformance::parse_allow_list(
        "- {operation: a, location: b, kind: c, reason: x}\n- {operation: a, location: b, kind: c, reason: y}\n",
    );
    assert!(twice.is_err());
}

#[test]
fn a_missing_vendor_document_is_a_one_line_error_naming_it() {
    let path = std::path::Path::new("/nonexistent/vmeg-openapi.json");
    let result = conformance::run(&xtask::workspace_root(), path);
    assert!(result.is_err(), "a missing vendor document passed");
    let e = result.err().map(|e| e.0).unwrap_or_default();
    assert!(e.contains("/nonexistent/vmeg-openapi.json"), "{e}");
    assert!(!e.contains('\n'), "{e}");
}

/// The real spec against VMEG's document, when a copy is around (it is not in the repo).
#[test]
fn our_spec_conforms_to_the_vendor_document_when_present() {
    let vendor = xtask::workspace_root().join("../shared/vendor/vmeg-openapi.json");
    if !vendor.exists() {
        eprintln!("skipped: {} not present", vendor.display());
        return;
    }
    let result = conformance::run(&xtask::workspace_root(), &vendor);
    assert!(result.is_ok(), "{result:?}");
}
