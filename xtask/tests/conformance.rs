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
/// `vendor()` on purpose in exactly three places: `taskType` query enum dropped, the
/// `pageSize` default moved into the description, and an optional `req_id` query parameter
/// they do not declare.
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

fn allow(op: &str, loc: &str, kind: &str, vendor: &str, ours: &str) -> AllowEntry {
    AllowEntry {
        operation: op.to_string(),
        location: loc.to_string(),
        kind: kind.to_string(),
        vendor: vendor.to_string(),
        ours: ours.to_string(),
        reason: "test".to_string(),
    }
}

/// The three differences of `ours()` from `vendor()`, with the values they have today.
fn all_listed() -> Vec<AllowEntry> {
    vec![
        allow(
            "tasksList",
            "query.taskType",
            "enum-widened",
            "enum [vt, tts]",
            "no enum",
        ),
        allow(
            "tasksList",
            "query.pageSize",
            "default-dropped",
            "20",
            "none",
        ),
        allow(
            "tasksList",
            "query.req_id",
            "parameter-added",
            "absent",
            "optional",
        ),
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
            key("tasksList", "query.req_id", "parameter-added"),
            key("tasksList", "query.taskType", "enum-widened"),
        ],
        "{diffs:#?}"
    );
}

#[test]
fn listed_differences_pass() {
    let report = conformance::check(conformance::compare(&ours(), &vendor()), &all_listed());
    assert!(report.passes(), "{}", report.render());
    assert_eq!(
        report.summary(),
        "3 differences, 3 listed, 0 unlisted, 0 stale allow-list entries"
    );
    assert!(report.render().contains("ok: listed"));
}

#[test]
fn an_unlisted_difference_fails() {
    let mut allow = all_listed();
    allow.truncate(2);
    let report = conformance::check(conformance::compare(&ours(), &vendor()), &allow);
    assert!(!report.passes());
    assert_eq!(report.unlisted(), 1);
    assert!(report.render().contains("DIFF"), "{}", report.render());
}

#[test]
fn a_stale_allow_list_entry_fails() {
    let mut allow = all_listed();
    allow.push(allow_entry_for_nothing());
    let report = conformance::check(conformance::compare(&ours(), &vendor()), &allow);
    assert!(!report.passes());
    assert_eq!(report.unlisted(), 0);
    assert_eq!(report.stale.len(), 1);
    assert!(
        report.render().contains(
            "STALE allow-list entry ttsCreate | body.text | type-mismatch: matches no difference"
        ),
        "{}",
        report.render()
    );
    assert!(report.summary().ends_with("1 stale allow-list entries"));
}

fn allow_entry_for_nothing() -> AllowEntry {
    allow(
        "ttsCreate",
        "body.text",
        "type-mismatch",
        "string",
        "integer",
    )
}

/// `vendor()` with one edit applied at a JSON pointer.
fn vendor_with(pointer: &str, value: Value) -> Value {
    let mut doc = vendor();
    assert!(
        doc.pointer(pointer).is_some(),
        "no {pointer} in the test vendor document"
    );
    if let Some(slot) = doc.pointer_mut(pointer) {
        *slot = value;
    }
    doc
}

#[test]
fn an_entry_written_for_another_vendor_value_is_stale() {
    // The entry says their pageSize default is 20 (as our description does). Before the
    // edit everything is listed; after VMEG moves the default to 100 the same key matches,
    // but the entry no longer describes the documents: it is stale, named with both values,
    // and the difference it used to cover is unlisted.
    let before = conformance::check(conformance::compare(&ours(), &vendor()), &all_listed());
    assert!(before.passes(), "{}", before.render());

    let vendor = vendor_with(
        "/paths/~1v1~1tasks~1list/get/parameters/1/schema/default",
        json!(100),
    );
    let report = conformance::check(conformance::compare(&ours(), &vendor), &all_listed());
    assert!(!report.passes(), "{}", report.render());
    assert_eq!(report.stale.len(), 1, "{}", report.render());
    assert_eq!(report.unlisted(), 1, "{}", report.render());
    let rendered = report.render();
    assert!(
        rendered.contains(
            "STALE allow-list entry tasksList | query.pageSize | default-dropped: \
             the values changed (vendor recorded 20, now 100)"
        ),
        "{rendered}"
    );
    assert!(rendered.contains("DIFF (entry stale)"), "{rendered}");

    // Our side is recorded too: an entry written for another value of ours is stale.
    let mut allow = all_listed();
    allow[0].ours = "enum [vt]".to_string();
    let report = conformance::check(conformance::compare(&ours(), &self::vendor()), &allow);
    assert!(!report.passes());
    assert!(
        report
            .render()
            .contains("ours recorded enum [vt], now no enum"),
        "{}",
        report.render()
    );
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
    // A response property of ours the vendor does not document (an invented field code
    // would wait on): reported, optional as it is. Before: only a required one was.
    let ours = ours_with(
        "/components/schemas/TaskListData/properties/records/items/properties",
        json!({"taskId": {"type": "string"}, "taskType": {"type": "string"},
               "result": {}, "voiceUrl": {"type": "string"}}),
    );
    let got = keys(&conformance::compare(&ours, &vendor()));
    assert!(
        got.contains(&key(
            "tasksList",
            "response.200.data.records[].voiceUrl",
            "property-added"
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
fn an_invented_optional_parameter_is_reported() {
    // `sortBy` is in neither document of VMEG's: optional or not, it is something we would
    // send that they never described, so it is a difference and must be listed.
    let mut ours = self::ours();
    let params = ours.pointer_mut("/paths/~1v1~1tasks~1list/get/parameters");
    assert!(params.is_some(), "no tasksList parameters");
    if let Some(Value::Array(params)) = params {
        params.push(json!({"name": "sortBy", "in": "query", "schema": {"type": "string"}}));
        params.push(json!({"name": "X-Trace", "in": "header", "required": false,
                           "schema": {"type": "string"}}));
    }
    let diffs = conformance::compare(&ours, &vendor());
    let got = keys(&diffs);
    for want in [
        key("tasksList", "query.sortBy", "parameter-added"),
        key("tasksList", "header.X-Trace", "parameter-added"),
    ] {
        assert!(got.contains(&want), "missing {want:?} in {got:#?}");
    }
    let report = conformance::check(diffs, &all_listed());
    assert!(!report.passes());
    assert_eq!(report.unlisted(), 2, "{}", report.render());
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
fn allow_list_entries_need_values_and_a_reason_and_may_not_repeat() {
    let ok = conformance::parse_allow_list(
        "differences:\n  - {operation: a, location: b, kind: c, vendor: 20, ours: none, reason: because}\n",
    );
    assert!(
        matches!(ok.as_deref(), Ok([e]) if e.reason == "because" && e.vendor == "20" && e.ours == "none"),
        "{ok:?}"
    );
    // A JSON string as the table prints it, and a boolean.
    let quoted = conformance::parse_allow_list(
        "- {operation: a, location: b, kind: c, vendor: '\"m4a\"', ours: false, reason: r}\n",
    );
    assert!(
        matches!(quoted.as_deref(), Ok([e]) if e.vendor == "\"m4a\"" && e.ours == "false"),
        "{quoted:?}"
    );
    let no_reason = conformance::parse_allow_list(
        "differences:\n  - {operation: a, location: b, kind: c, vendor: x, ours: y}\n",
    );
    assert!(no_reason.is_err());
    let no_values = conformance::parse_allow_list(
        "differences:\n  - {operation: a, location: b, kind: c, reason: because}\n",
    );
    assert!(
        no_values
            .as_ref()
            .is_err_and(|e| e.0.contains("has no `vendor`")),
        "{no_values:?}"
    );
    let no_ours = conformance::parse_allow_list(
        "- {operation: a, location: b, kind: c, vendor: x, reason: because}\n",
    );
    assert!(no_ours.is_err());
    let twice = conformance::parse_allow_list(
        "- {operation: a, location: b, kind: c, vendor: x, ours: y, reason: x}\n- {operation: a, location: b, kind: c, vendor: x, ours: y, reason: y}\n",
    );
    assert!(twice.is_err());
}

/// A key given twice in one mapping of our spec or of the allow-list is refused naming the
/// file, never merged with the last one winning (a second `reason:` would replace the first, a
/// repeated path in our spec would hide the first path's operations from the comparison).
#[test]
fn a_duplicate_key_in_our_spec_or_the_allow_list_is_refused_naming_the_file() {
    let allow = conformance::parse_allow_list(
        "- {operation: a, location: b, kind: c, vendor: x, ours: y, reason: x, reason: y}\n",
    );
    let e = allow.err().map(|e| e.0).unwrap_or_default();
    assert!(e.contains(conformance::ALLOW_LIST), "{e}");
    assert!(e.contains("duplicate") && e.contains("reason"), "{e}");

    let dir = tempfile::tempdir();
    assert!(dir.is_ok(), "{dir:?}");
    let Ok(dir) = dir else { return };
    let root = dir.path();
    assert!(std::fs::create_dir_all(root.join("specs")).is_ok());
    let vendor = root.join("vendor.json");
    assert!(std::fs::write(&vendor, r#"{"openapi": "3.1.0", "paths": {}}"#).is_ok());
    let ours = "openapi: 3.0.3\npaths:\n  /v1/a:\n    get: {operationId: a}\n  /v1/a:\n    \
                post: {operationId: b}\n";
    assert!(std::fs::write(root.join(conformance::OUR_SPEC), ours).is_ok());
    let e = conformance::report(root, &vendor)
        .err()
        .map(|e| e.0)
        .unwrap_or_default();
    assert!(e.contains(conformance::OUR_SPEC), "{e}");
    assert!(e.contains("duplicate") && e.contains("/v1/a"), "{e}");
    assert!(!e.contains('\n'), "not one line: {e}");
}

/// A key given twice in one object of VMEG's document is refused naming the file, the key and
/// its JSON pointer, as ours is: read into a `Value`, the last one would win and the first
/// (a `required` list, a whole path's operations) would never be compared. Keys that repeat
/// in different objects are no duplicates.
#[test]
fn a_duplicate_key_in_the_vendor_document_is_refused_naming_the_file_and_pointer() {
    let dir = tempfile::tempdir();
    assert!(dir.is_ok(), "{dir:?}");
    let Ok(dir) = dir else { return };
    let root = dir.path();
    assert!(std::fs::create_dir_all(root.join("specs")).is_ok());
    assert!(
        std::fs::write(
            root.join(conformance::OUR_SPEC),
            "openapi: 3.0.3\npaths: {}\n"
        )
        .is_ok()
    );
    let vendor = root.join("vmeg-openapi.json");
    let report = |text: &str| {
        assert!(std::fs::write(&vendor, text).is_ok());
        conformance::report(root, &vendor).err().map(|e| e.0)
    };
    let cases = [
        (
            r#"{"openapi": "3.1.0", "paths": {}, "components": {"schemas": {
                "CloneVoiceCreateRequest": {"type": "object",
                    "required": ["voiceName", "refAudio"], "properties": {}, "required": []}}}}"#,
            "/components/schemas/CloneVoiceCreateRequest/required",
        ),
        (
            r#"{"openapi": "3.1.0", "paths": {
                "/openapi/v1/task/tts/create": {"post": {"operationId": "a"}},
                "/openapi/v1/task/tts/create": {"post": {"operationId": "b"}}}}"#,
            "/paths/~1openapi~1v1~1task~1tts~1create",
        ),
        (
            r#"{"openapi": "3.1.0", "paths": {}, "x": [{"a": 1}, {"b": {"a~/": 1, "a~/": 2}}]}"#,
            "/x/1/b/a~0~1",
        ),
    ];
    for (text, pointer) in cases {
        let e = report(text).unwrap_or_default();
        assert!(e.contains(&vendor.display().to_string()), "{e}");
        assert!(
            e.contains("duplicate") && e.contains(pointer),
            "{pointer}: {e}"
        );
        assert!(!e.contains('\n'), "not one line: {e}");
    }
    // The same key in different objects, and in objects of a list, is read as before.
    let fine = r#"{"openapi": "3.1.0", "paths": {"/a": {"get": {"operationId": "a"}},
        "/b": {"get": {"operationId": "b"}}}, "x": [{"a": 1}, {"a": 2}]}"#;
    assert_eq!(report(fine), None);
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

// ---------------------------------------------------------------------------------------------
// The real documents, edited in a temporary copy (skipped when VMEG's document is not around)
// ---------------------------------------------------------------------------------------------

fn vendor_document() -> Option<Value> {
    let path = xtask::workspace_root().join("../shared/vendor/vmeg-openapi.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: {} not present", path.display());
        return None;
    };
    let doc = serde_json::from_str(&text);
    assert!(doc.is_ok(), "{}: {doc:?}", path.display());
    doc.ok()
}

/// The pointer `ptr` names, after following `$ref`s.
fn resolved(doc: &Value, mut ptr: String) -> String {
    for _ in 0..16 {
        let target = doc
            .pointer(&ptr)
            .and_then(|v| v.get("$ref"))
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix('#'));
        match target {
            Some(t) => ptr = t.to_string(),
            None => break,
        }
    }
    ptr
}

/// The pointer of the operation with this `operationId`.
fn operation_pointer(doc: &Value, id: &str) -> Option<String> {
    let paths = doc.get("paths")?.as_object()?;
    paths.iter().find_map(|(path, item)| {
        item.as_object()?.iter().find_map(|(method, op)| {
            (op.get("operationId").and_then(Value::as_str) == Some(id)).then(|| {
                format!(
                    "/paths/{}/{method}",
                    path.replace('~', "~0").replace('/', "~1")
                )
            })
        })
    })
}

/// The pointer of an operation's parameter schema.
fn parameter_schema_pointer(doc: &Value, id: &str, name: &str) -> Option<String> {
    let op = operation_pointer(doc, id)?;
    let count = doc.pointer(&format!("{op}/parameters"))?.as_array()?.len();
    (0..count).find_map(|i| {
        let p = resolved(doc, format!("{op}/parameters/{i}"));
        (doc.pointer(&format!("{p}/name")).and_then(Value::as_str) == Some(name))
            .then(|| resolved(doc, format!("{p}/schema")))
    })
}

/// The pointer of a property of a JSON body schema, through `$ref`s and `allOf`.
fn property_pointer(doc: &Value, schema: String, name: &str) -> Option<String> {
    let schema = resolved(doc, schema);
    let direct = format!("{schema}/properties/{name}");
    if doc.pointer(&direct).is_some() {
        return Some(resolved(doc, direct));
    }
    let count = doc.pointer(&format!("{schema}/allOf"))?.as_array()?.len();
    (0..count).find_map(|i| property_pointer(doc, format!("{schema}/allOf/{i}"), name))
}

fn body_property_pointer(doc: &Value, id: &str, name: &str) -> Option<String> {
    let op = operation_pointer(doc, id)?;
    let body = resolved(doc, format!("{op}/requestBody"));
    property_pointer(
        doc,
        format!("{body}/content/application~1json/schema"),
        name,
    )
}

/// Sets `default` at a schema pointer, checking the value it replaces.
fn change_default(doc: &mut Value, schema: Option<String>, was: Value, now: Value) {
    assert!(schema.is_some(), "schema not found in the vendor document");
    let slot = schema.and_then(|p| doc.pointer_mut(&format!("{p}/default")));
    assert!(slot.is_some(), "no default there");
    if let Some(slot) = slot {
        assert_eq!(*slot, was, "VMEG's document changed: update this test");
        *slot = now;
    }
}

fn write_json(path: &std::path::Path, doc: &Value) {
    let text = serde_json::to_string_pretty(doc).unwrap_or_default();
    let written = std::fs::write(path, text);
    assert!(written.is_ok(), "{}: {written:?}", path.display());
}

#[test]
fn a_vendor_document_copy_with_changed_defaults_fails_naming_the_stale_entries() {
    let Some(mut doc) = vendor_document() else {
        return;
    };
    let dir = tempfile::tempdir();
    assert!(dir.is_ok(), "{dir:?}");
    let Ok(dir) = dir else { return };
    let copy = dir.path().join("vmeg-openapi.json");
    let root = xtask::workspace_root();

    // The unedited copy passes: every entry's values are the documents' values.
    write_json(&copy, &doc);
    let before = conformance::report(&root, &copy);
    assert!(
        before.as_ref().is_ok_and(conformance::Report::passes),
        "{}",
        before.map(|r| r.render()).unwrap_or_else(|e| e.0)
    );

    // VMEG moves two defaults that our descriptions and the entries' reasons quote.
    let page_size = parameter_schema_pointer(&doc, "tasksList", "pageSize");
    change_default(&mut doc, page_size, json!(20), json!(100));
    let output_format = body_property_pointer(&doc, "ttsCreateSync", "outputFormat");
    change_default(&mut doc, output_format, json!("m4a"), json!("mp3"));
    write_json(&copy, &doc);

    let after = conformance::report(&root, &copy);
    assert!(after.is_ok(), "{after:?}");
    let Ok(after) = after else { return };
    let rendered = after.render();
    assert!(!after.passes(), "{rendered}");
    for line in [
        "STALE allow-list entry tasksList | query.pageSize | default-dropped: \
         the values changed (vendor recorded 20, now 100)",
        "STALE allow-list entry ttsCreateSync | body.outputFormat | default-dropped: \
         the values changed (vendor recorded \"m4a\", now \"mp3\")",
        "STALE allow-list entry ttsCreateAsync | body.outputFormat | default-dropped: \
         the values changed (vendor recorded \"m4a\", now \"mp3\")",
    ] {
        assert!(rendered.contains(line), "missing {line:?} in\n{rendered}");
    }
    assert_eq!(after.stale.len(), 3, "{rendered}");
    let run = conformance::run(&root, &copy);
    assert!(
        run.as_ref()
            .is_err_and(|e| e.0.contains("3 stale allow-list entries")),
        "{run:?}"
    );
}

#[test]
fn an_invented_optional_parameter_in_a_copy_of_our_spec_is_reported() {
    if vendor_document().is_none() {
        return;
    }
    let vendor = xtask::workspace_root().join("../shared/vendor/vmeg-openapi.json");
    let real = xtask::workspace_root();
    let spec = std::fs::read_to_string(real.join(conformance::OUR_SPEC)).unwrap_or_default();
    let allow = std::fs::read_to_string(real.join(conformance::ALLOW_LIST)).unwrap_or_default();
    let spec: Result<Value, _> = serde_norway::from_str(&spec);
    assert!(spec.is_ok(), "{spec:?}");
    let Ok(mut spec) = spec else { return };

    let dir = tempfile::tempdir();
    assert!(dir.is_ok(), "{dir:?}");
    let Ok(dir) = dir else { return };
    let root = dir.path();
    assert!(std::fs::create_dir_all(root.join("specs")).is_ok());
    assert!(std::fs::write(root.join(conformance::ALLOW_LIST), &allow).is_ok());

    // The copy as it is passes.
    write_json(&root.join(conformance::OUR_SPEC), &spec);
    let before = conformance::report(root, &vendor);
    assert!(
        before.as_ref().is_ok_and(conformance::Report::passes),
        "{}",
        before.map(|r| r.render()).unwrap_or_else(|e| e.0)
    );

    // An optional query parameter VMEG never documented.
    let op = operation_pointer(&spec, "tasksList");
    let params = op.and_then(|op| spec.pointer_mut(&format!("{op}/parameters")));
    assert!(params.is_some(), "no tasksList parameters in our spec");
    if let Some(Value::Array(params)) = params {
        params.push(json!({"name": "sortBy", "in": "query", "required": false,
                           "schema": {"type": "string"}}));
    }
    write_json(&root.join(conformance::OUR_SPEC), &spec);
    let after = conformance::report(root, &vendor);
    assert!(after.is_ok(), "{after:?}");
    let Ok(after) = after else { return };
    assert!(!after.passes(), "{}", after.render());
    let unlisted: Vec<String> = after
        .rows
        .iter()
        .filter(|(_, reason)| reason.is_none())
        .map(|(d, _)| d.to_string())
        .collect();
    assert_eq!(
        unlisted,
        vec!["tasksList query.sortBy: parameter-added (vendor: absent; ours: optional)"],
        "{}",
        after.render()
    );
}

/// A document whose one operation answers a recursive schema under `name`.
fn recursive_answer(name: &str, schemas: Value) -> Value {
    json!({
        "openapi": "3.1.0",
        "paths": {"/v1/tree": {"get": {
            "operationId": "tree",
            "responses": {"200": {"content": {"application/json": {
                "schema": {"$ref": format!("#/components/schemas/{name}")}}}}}
        }}},
        "components": {"schemas": schemas}
    })
}

#[test]
fn recursive_schemas_are_compared_by_where_they_point() {
    // Theirs: a node with three references to itself (the walk that expanded every `$ref`
    // never ended on this); ours: the same tree under another name.
    let node = |name: &str| {
        let r = json!({"$ref": format!("#/components/schemas/{name}")});
        json!({name: {"type": "object", "properties": {
            "a": r, "b": r, "children": {"type": "array", "items": r}}}})
    };
    let vendor = recursive_answer("Node", node("Node"));
    let ours = recursive_answer("TreeNode", node("TreeNode"));
    assert_eq!(keys(&conformance::compare(&ours, &vendor)), vec![]);

    // Ours with `children` pointing at the node's parent level instead: a difference.
    let mut other = node("TreeNode");
    if let Some(slot) = other.pointer_mut("/TreeNode/properties/children/items") {
        *slot = json!({"type": "object", "properties": {
            "up": {"$ref": "#/components/schemas/TreeNode"}}});
    }
    let mut vendor_other = node("Node");
    if let Some(slot) = vendor_other.pointer_mut("/Node/properties/children/items") {
        *slot = json!({"type": "object", "properties": {
            "up": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}}});
    }
    let diffs = conformance::compare(
        &recursive_answer("TreeNode", other),
        &recursive_answer("Node", vendor_other),
    );
    assert_eq!(
        diffs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec![
            "tree response.200.children[].up: recursion-mismatch (vendor: array; ours: recursive \
             ref TreeNode (3 levels up))"
        ],
        "{diffs:#?}"
    );
}

#[test]
fn vendor_operations_we_do_not_model_and_server_changes_are_reported() {
    let mut vendor = vendor();
    if let Some(op) = vendor
        .pointer_mut("/paths/~1v1~1tts~1create/post")
        .and_then(Value::as_object_mut)
    {
        op.insert(
            "servers".to_string(),
            json!([{"url": "https://upload.example.com/"}]),
        );
    }
    if let Some(paths) = vendor.pointer_mut("/paths").and_then(Value::as_object_mut) {
        paths.insert(
            "/v1/clone/create-v2".to_string(),
            json!({"post": {"operationId": "cloneCreateV2",
                            "responses": {"200": {"description": "ok"}}}}),
        );
        paths.insert(
            "/v1/anonymous".to_string(),
            json!({"get": {"responses": {"200": {"description": "ok"}}}}),
        );
    }
    if let Some(doc) = vendor.as_object_mut() {
        doc.insert(
            "servers".to_string(),
            json!([{"url": "https://api2.example.com", "description": "Production"}]),
        );
    }
    let mut ours = ours();
    if let Some(doc) = ours.as_object_mut() {
        doc.insert(
            "servers".to_string(),
            json!([{"url": "https://api.example.com/"}]),
        );
    }
    let diffs = conformance::compare(&ours, &vendor);
    let rendered: Vec<String> = diffs.iter().map(ToString::to_string).collect();
    assert_eq!(
        rendered,
        vec![
            "(document) servers: servers-mismatch (vendor: https://api2.example.com; ours: \
             https://api.example.com)",
            "GET /v1/anonymous operation: operation-unmodelled (vendor: GET /v1/anonymous; ours: \
             absent)",
            "cloneCreateV2 operation: operation-unmodelled (vendor: POST /v1/clone/create-v2; \
             ours: absent)",
            "tasksList query.pageSize: default-dropped (vendor: 20; ours: none)",
            "tasksList query.req_id: parameter-added (vendor: absent; ours: optional)",
            "tasksList query.taskType: enum-widened (vendor: enum [vt, tts]; ours: no enum)",
            "ttsCreate servers: servers-mismatch (vendor: https://upload.example.com; ours: \
             https://api.example.com)",
        ],
        "{diffs:#?}"
    );
}

#[test]
fn a_new_vendor_operation_and_server_in_a_copy_of_their_document_are_unlisted() {
    let Some(mut doc) = vendor_document() else {
        return;
    };
    let dir = tempfile::tempdir();
    assert!(dir.is_ok(), "{dir:?}");
    let Ok(dir) = dir else { return };
    let copy = dir.path().join("vmeg-openapi.json");
    if let Some(paths) = doc.pointer_mut("/paths").and_then(Value::as_object_mut) {
        paths.insert(
            "/openapi/v1/task/clone-voice/create-v2".to_string(),
            json!({"post": {"operationId": "cloneVoiceCreateV2",
                            "responses": {"200": {"description": "ok"}}}}),
        );
    }
    let server = doc.pointer_mut("/servers/0/url");
    assert!(
        server.is_some(),
        "VMEG's document has no servers: update this test"
    );
    if let Some(url) = server {
        *url = json!("https://api2.vmeg.ai");
    }
    write_json(&copy, &doc);
    let report = conformance::report(&xtask::workspace_root(), &copy);
    assert!(report.is_ok(), "{report:?}");
    let Ok(report) = report else { return };
    let unlisted: Vec<String> = report
        .rows
        .iter()
        .filter(|(_, reason)| reason.is_none())
        .map(|(d, _)| d.to_string())
        .collect();
    assert_eq!(
        unlisted,
        vec![
            "(document) servers: servers-mismatch (vendor: https://api2.vmeg.ai; ours: \
             https://api.vmeg.ai)",
            "cloneVoiceCreateV2 operation: operation-unmodelled (vendor: POST \
             /openapi/v1/task/clone-voice/create-v2; ours: absent)",
        ],
        "{}",
        report.render()
    );
}

/// Sets `value` at `pointer` of `doc`, creating nothing: the parent object must exist.
fn set(doc: &mut Value, pointer: &str, key: &str, value: Value) {
    let parent = doc.pointer_mut(pointer).and_then(Value::as_object_mut);
    assert!(parent.is_some(), "no object at {pointer}");
    if let Some(parent) = parent {
        parent.insert(key.to_string(), value);
    }
}

#[test]
fn keywords_the_comparison_does_not_model_are_reported_not_ignored() {
    let mut vendor = vendor();
    let tts = "/components/schemas/TtsRequest/properties";
    set(
        &mut vendor,
        &format!("{tts}/weight"),
        "multipleOf",
        json!(0.1),
    );
    set(
        &mut vendor,
        &format!("{tts}/text"),
        "not",
        json!({"pattern": "^$"}),
    );
    set(
        &mut vendor,
        &format!("{tts}/format"),
        "readOnly",
        json!(true),
    );
    let list = "/paths/~1v1~1tasks~1list/get";
    set(
        &mut vendor,
        &format!("{list}/parameters/1"),
        "style",
        json!("form"),
    );
    set(
        &mut vendor,
        &format!("{list}/parameters/1"),
        "explode",
        json!(false),
    );
    set(
        &mut vendor,
        &format!("{list}/responses/200"),
        "headers",
        json!({"X-Request-Id": {"schema": {"type": "string"}}}),
    );
    set(
        &mut vendor,
        "/components/schemas/TaskSummary/properties/result",
        "oneOf",
        json!([{"type": "object"}, {"type": "string"}]),
    );
    let mut ours = ours();
    let our_tts = "/paths/~1v1~1tts~1create/post/requestBody/content/application~1json/schema";
    set(
        &mut ours,
        &format!("{our_tts}/properties/extraData"),
        "writeOnly",
        json!(true),
    );
    set(
        &mut ours,
        &format!("{our_tts}/properties"),
        "tags",
        json!({"type": "array", "uniqueItems": true, "items": {"type": "string"}}),
    );

    let diffs = conformance::compare(&ours, &vendor);
    let unsupported: Vec<String> = diffs
        .iter()
        .filter(|d| d.kind == "keyword-unsupported")
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        unsupported,
        vec![
            "tasksList query.pageSize: keyword-unsupported (vendor: explode=false, \
             style=\"form\"; ours: none)",
            "tasksList response.200: keyword-unsupported (vendor: headers=#1d06176f9345; ours: \
             none)",
            "tasksList response.200.data.records[].result: keyword-unsupported (vendor: \
             oneOf=[{\"type\":\"object\"},{\"type\":\"string\"}] (2 non-null variants); \
             ours: none)",
            "ttsCreate body.extraData: keyword-unsupported (vendor: none; ours: writeOnly=true)",
            "ttsCreate body.format: keyword-unsupported (vendor: readOnly=true; ours: none)",
            "ttsCreate body.text: keyword-unsupported (vendor: not={\"pattern\":\"^$\"}; ours: \
             none)",
            "ttsCreate body.weight: keyword-unsupported (vendor: multipleOf=0.1; ours: none)",
        ],
        "{diffs:#?}"
    );
    // `tags` is ours alone: a difference already (property-added); its `uniqueItems` is not
    // compared with anything, but it is still there to see when it is.
    assert!(
        diffs
            .iter()
            .any(|d| d.location == "body.tags" && d.kind == "property-added"),
        "{diffs:#?}"
    );
}

#[test]
fn a_response_body_the_vendor_no_longer_documents_is_a_difference() {
    // Their 200 of tasksList keeps only a description: the JSON body we decode is gone.
    let vendor = vendor_with(
        "/paths/~1v1~1tasks~1list/get/responses/200",
        json!({"description": "ok"}),
    );
    let diffs = conformance::compare(&ours(), &vendor);
    let added: Vec<String> = diffs
        .iter()
        .filter(|d| d.location.starts_with("response."))
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        added,
        vec!["tasksList response.200: media-type-added (vendor: absent; ours: application/json)"],
        "{diffs:#?}"
    );
    // Another media type of theirs for the same status does not cover ours either.
    let vendor = vendor_with(
        "/paths/~1v1~1tasks~1list/get/responses/200",
        json!({"content": {"text/plain": {"schema": {"type": "string"}}}}),
    );
    let diffs = conformance::compare(&ours(), &vendor);
    assert!(
        diffs.iter().any(|d| d.location == "response.200"
            && d.kind == "media-type-added"
            && d.ours == "application/json"),
        "{diffs:#?}"
    );
}

#[test]
fn a_recursive_ref_to_a_part_of_a_schema_does_not_match_one_to_the_whole() {
    // Theirs: Node = allOf[Base, {extra required}], and Base.child is a Base (no `extra`).
    // Ours: Node.child is a Node (requires `extra`). Both markers are one level up, but they
    // name different schemas.
    let vendor = recursive_answer(
        "Node",
        json!({
            "Node": {"allOf": [
                {"$ref": "#/components/schemas/Base"},
                {"type": "object", "required": ["extra"],
                 "properties": {"extra": {"type": "string"}}}]},
            "Base": {"type": "object", "properties": {
                "name": {"type": "string"},
                "child": {"$ref": "#/components/schemas/Base"}}}
        }),
    );
    let ours = recursive_answer(
        "Node",
        json!({"Node": {"type": "object", "required": ["extra"], "properties": {
            "name": {"type": "string"},
            "extra": {"type": "string"},
            "child": {"$ref": "#/components/schemas/Node"}}}}),
    );
    let diffs = conformance::compare(&ours, &vendor);
    assert_eq!(
        diffs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec![
            "tree response.200.child: recursion-mismatch (vendor: recursive ref Base (1 levels \
             up, part of the schema there); ours: recursive ref Node (1 levels up))"
        ],
        "{diffs:#?}"
    );
    // A plain `$ref` alias and a one-member `allOf` still name the whole schema.
    let aliased = recursive_answer(
        "Tree",
        json!({
            "Tree": {"$ref": "#/components/schemas/Node"},
            "Node": {"allOf": [{"$ref": "#/components/schemas/Inner"}]},
            "Inner": {"type": "object", "required": ["extra"], "properties": {
                "name": {"type": "string"},
                "extra": {"type": "string"},
                "child": {"$ref": "#/components/schemas/Inner"}}}
        }),
    );
    assert_eq!(keys(&conformance::compare(&ours, &aliased)), vec![]);
}

#[test]
fn what_is_merged_onto_a_recursive_ref_is_compared() {
    // A request body: their `parent` is a plain recursive ref, ours adds `nullable` (the 3.0
    // idiom), and a second marker carries an enum and a bound merged beside it.
    let doc = |parent: Value| {
        json!({
            "openapi": "3.0.3",
            "paths": {"/n": {"post": {
                "operationId": "putNode",
                "requestBody": {"required": true, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Node"}}}},
                "responses": {"200": {"description": "ok"}}
            }}},
            "components": {"schemas": {"Node": {"type": "object", "properties": {
                "name": {"type": "string"},
                "parent": parent}}}}
        })
    };
    let vendor = doc(json!({"$ref": "#/components/schemas/Node"}));
    let ours = doc(json!({"nullable": true, "allOf": [{"$ref": "#/components/schemas/Node"}]}));
    let diffs = conformance::compare(&ours, &vendor);
    assert_eq!(
        diffs.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec!["putNode body.parent: nullable-widened (vendor: not nullable; ours: nullable)"],
        "{diffs:#?}"
    );
    let ours = doc(json!({"minProperties": 1, "allOf": [{"$ref": "#/components/schemas/Node"}]}));
    let diffs = conformance::compare(&ours, &vendor);
    assert_eq!(
        keys(&diffs),
        vec![key("putNode", "body.parent", "minProperties-tighter")],
        "{diffs:#?}"
    );
}

#[test]
fn an_allow_list_entry_for_a_keyword_goes_stale_when_its_value_moves() {
    let weight = "/components/schemas/TtsRequest/properties/weight";
    let page_size = "/paths/~1v1~1tasks~1list/get/parameters/1";
    let vendor_at = |multiple_of: Value, style: &str| {
        let mut doc = vendor();
        set(&mut doc, weight, "multipleOf", multiple_of);
        set(&mut doc, page_size, "style", json!(style));
        doc
    };
    let mut listed = all_listed();
    listed.push(allow(
        "ttsCreate",
        "body.weight",
        "keyword-unsupported",
        "multipleOf=5",
        "none",
    ));
    listed.push(allow(
        "tasksList",
        "query.pageSize",
        "keyword-unsupported",
        "style=\"form\"",
        "none",
    ));
    let before = conformance::check(
        conformance::compare(&ours(), &vendor_at(json!(5), "form")),
        &listed,
    );
    assert!(before.passes(), "{}", before.render());

    let after = conformance::check(
        conformance::compare(&ours(), &vendor_at(json!(10), "pipeDelimited")),
        &listed,
    );
    let stale: Vec<String> = after.stale.iter().map(ToString::to_string).collect();
    assert_eq!(
        stale,
        vec![
            "ttsCreate | body.weight | keyword-unsupported: the values changed (vendor recorded \
             multipleOf=5, now multipleOf=10)",
            "tasksList | query.pageSize | keyword-unsupported: the values changed (vendor \
             recorded style=\"form\", now style=\"pipeDelimited\")",
        ],
        "{}",
        after.render()
    );
    assert_eq!(after.unlisted(), 2, "{}", after.render());
}

#[test]
fn a_missing_property_says_whether_they_require_it() {
    // Their TtsRequest requires `text`; ours drops the property: the difference says
    // "required", so an entry written for an optional property goes stale when it becomes
    // required.
    let ours = ours_with(
        "/paths/~1v1~1tts~1create/post/requestBody/content/application~1json/schema/properties",
        json!({"format": {"type": "string", "enum": ["wav", "mp3"]},
               "weight": {"type": "number", "minimum": 0, "exclusiveMinimum": true,
                          "maximum": 1},
               "extraData": {"type": "object", "additionalProperties": true}}),
    );
    let diffs = conformance::compare(&ours, &vendor());
    let missing: Vec<String> = diffs
        .iter()
        .filter(|d| d.kind == "property-missing")
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        missing,
        vec!["ttsCreate body.text: property-missing (vendor: string, required; ours: absent)"],
        "{diffs:#?}"
    );
}

#[test]
fn parts_of_their_document_that_cannot_be_compared_are_reported() {
    let mut vendor = vendor();
    if let Some(paths) = vendor.pointer_mut("/paths").and_then(Value::as_object_mut) {
        // A second operation reusing our operationId.
        paths.insert(
            "/v2/tasks/list".to_string(),
            json!({"get": {"operationId": "tasksList",
                           "responses": {"200": {"description": "ok"}}}}),
        );
        // A path item by local `$ref` (followed) and one by external `$ref` (unreadable).
        paths.insert(
            "/v1/new".to_string(),
            json!({"$ref": "#/components/pathItems/New"}),
        );
        paths.insert(
            "/v1/elsewhere".to_string(),
            json!({"$ref": "common.json#/paths/elsewhere"}),
        );
    }
    set(
        &mut vendor,
        "/components",
        "pathItems",
        json!({"New": {"post": {"operationId": "brandNew",
                                "responses": {"200": {"description": "ok"}}}}}),
    );
    // A parameter by external `$ref`.
    if let Some(params) = vendor
        .pointer_mut("/paths/~1v1~1tasks~1list/get/parameters")
        .and_then(Value::as_array_mut)
    {
        params.push(json!({"$ref": "common.json#/components/parameters/Region"}));
    }
    // 3.1 webhooks.
    set(
        &mut vendor,
        "",
        "webhooks",
        json!({"taskDone": {"post": {"requestBody": {"content": {"application/json": {
            "schema": {"type": "object"}}}}, "responses": {"200": {"description": "ok"}}}}}),
    );
    let diffs = conformance::compare(&ours(), &vendor);
    let rendered: Vec<String> = diffs
        .iter()
        .filter(|d| !all_listed().iter().any(|a| a.location == d.location))
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        rendered,
        vec![
            "(document) paths./v1/elsewhere: schema-unresolved (vendor: unresolved $ref \
             common.json#/paths/elsewhere; ours: none)",
            "(document) webhooks.taskDone: webhook-unmodelled (vendor: taskDone=#\
             59d15fb4ddb3; ours: absent)",
            "brandNew operation: operation-unmodelled (vendor: POST /v1/new; ours: absent)",
            "tasksList operation: operation-id-duplicate (vendor: GET /v1/tasks/list, GET \
             /v2/tasks/list; ours: GET /v1/tasks/list)",
            "tasksList parameter[2]: schema-unresolved (vendor: unresolved $ref \
             common.json#/components/parameters/Region; ours: none)",
        ],
        "{diffs:#?}"
    );
    // Empty webhooks are nothing to compare.
    let mut plain = self::vendor();
    set(&mut plain, "", "webhooks", json!({}));
    assert_eq!(conformance::compare(&ours(), &plain).len(), 3);
}

/// The pointer of the test vendor document's (or spec's) callback path item.
const CALLBACK_ITEM: &str = "/paths/~1v1~1tts~1create/post/callbacks/done/https:~1~1{url}";

#[test]
fn a_callbacks_responses_are_compared_as_what_our_receiver_sends() {
    // They now want 204, or a 200 with a body: our receiver answers neither.
    let vendor = vendor_with(
        &format!("{CALLBACK_ITEM}/post/responses"),
        json!({"204": {"description": "ack"},
               "200": {"description": "ok", "content": {"application/json": {"schema": {
                   "type": "object", "required": ["received"],
                   "properties": {"received": {"type": "boolean"}}}}}}}),
    );
    let got = keys(&conformance::compare(&ours(), &vendor));
    assert!(
        got.contains(&key(
            "ttsCreate",
            "callback.done.response.204",
            "response-missing"
        )),
        "{got:#?}"
    );
    assert!(
        got.contains(&key(
            "ttsCreate",
            "callback.done.response.200",
            "media-type-missing"
        )),
        "{got:#?}"
    );
    // A status we may answer that they do not document, even one that is not a success.
    let ours = ours_with(
        &format!("{CALLBACK_ITEM}/post/responses"),
        json!({"200": {"description": "ok"}, "202": {"description": "queued"},
               "401": {"description": "bad signature"}}),
    );
    let got = keys(&conformance::compare(&ours, &self::vendor()));
    for status in ["202", "401"] {
        let at = format!("callback.done.response.{status}");
        assert!(
            got.contains(&key("ttsCreate", &at, "response-added")),
            "{status}: {got:#?}"
        );
    }
    // Their range or `default` takes our 200: nothing missing (review 28 pass 2-a #4: `2XX`
    // was `response-missing`). A body their `default` asks for is compared with our 200.
    for responses in [
        json!({"2XX": {"description": "any success"}}),
        json!({"default": {"description": "anything"}}),
    ] {
        let vendor = vendor_with(
            &format!("{CALLBACK_ITEM}/post/responses"),
            responses.clone(),
        );
        let got = keys(&conformance::compare(&self::ours(), &vendor));
        let callback: Vec<_> = got
            .iter()
            .filter(|k| format!("{k:?}").contains("callback.done.response"))
            .collect();
        assert!(callback.is_empty(), "{responses}: {callback:#?}");
    }
    let vendor = vendor_with(
        &format!("{CALLBACK_ITEM}/post/responses"),
        json!({"default": {"description": "ack", "content": {"application/json": {"schema": {
            "type": "object", "required": ["received"],
            "properties": {"received": {"type": "boolean"}}}}}}}),
    );
    let got = keys(&conformance::compare(&self::ours(), &vendor));
    assert!(
        got.contains(&key(
            "ttsCreate",
            "callback.done.response.200",
            "media-type-missing"
        )),
        "{got:#?}"
    );
    // Unchanged callbacks add nothing to the three listed differences.
    assert_eq!(
        conformance::compare(&self::ours(), &self::vendor()).len(),
        3
    );
}

#[test]
fn a_callback_path_item_or_callback_that_does_not_resolve_is_reported() {
    for (pointer, reference) in [
        (CALLBACK_ITEM.to_string(), "./hooks.json#/clone"),
        (CALLBACK_ITEM.to_string(), "#/components/pathItems/Nope"),
        (
            "/paths/~1v1~1tts~1create/post/callbacks/done".to_string(),
            "#/components/callbacks/Nope",
        ),
    ] {
        let vendor = vendor_with(&pointer, json!({"$ref": reference}));
        let diffs = conformance::compare(&ours(), &vendor);
        let callback: Vec<String> = diffs
            .iter()
            .filter(|d| d.location.starts_with("callback."))
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            callback,
            vec![format!(
                "ttsCreate callback.done: schema-unresolved (vendor: unresolved $ref \
                 {reference}; ours: none)"
            )],
            "{diffs:#?}"
        );
        // The same on our side.
        let ours = ours_with(&pointer, json!({"$ref": reference}));
        let diffs = conformance::compare(&ours, &self::vendor());
        let callback: Vec<String> = diffs
            .iter()
            .filter(|d| d.location.starts_with("callback."))
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            callback,
            vec![format!(
                "ttsCreate callback.done: schema-unresolved (vendor: none; ours: unresolved \
                 $ref {reference})"
            )],
            "{diffs:#?}"
        );
    }
}
