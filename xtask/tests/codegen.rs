#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

//! Guards on the generated crates: the checked-in files are what the specs generate, their
//! public surface is snapshotted, generation is deterministic, and bad specs give one-line
//! errors naming the operation instead of progenitor panics.

use std::path::{Path, PathBuf};
use std::process::Command;
use xtask::codegen::{self, Mode};
use xtask::targets::TARGETS;

fn root() -> PathBuf {
    xtask::workspace_root()
}

#[test]
fn checked_in_generated_code_matches_the_specs() {
    let mut stale = Vec::new();
    for target in TARGETS {
        let client = codegen::generate_target(&root(), target).unwrap_or_else(|e| panic!("{e}"));
        let mocks = xtask::mock::generate_target(&root(), target).unwrap_or_else(|e| panic!("{e}"));
        for (output, fresh) in [(target.output, client.code), (target.mock_output, mocks)] {
            let on_disk = std::fs::read_to_string(root().join(output)).unwrap_or_default();
            if fresh == on_disk {
                continue;
            }
            let diff = similar::TextDiff::from_lines(&on_disk, &fresh);
            let shown: String = diff
                .unified_diff()
                .context_radius(2)
                .header("checked in", "generated from spec")
                .to_string()
                .lines()
                .take(80)
                .collect::<Vec<_>>()
                .join("\n");
            stale.push(format!("{output} is stale:\n{shown}"));
        }
    }
    assert!(
        stale.is_empty(),
        "run `cargo xtask codegen`, then review the snapshot changes\n{}",
        stale.join("\n\n")
    );
}

#[test]
fn public_surface_of_each_generated_crate() {
    for target in TARGETS {
        let code = std::fs::read_to_string(root().join(target.output)).unwrap_or_default();
        let surface = xtask::surface::describe(&code).unwrap_or_else(|e| panic!("{e}"));
        let name = target
            .output
            .split('/')
            .nth(1)
            .unwrap_or("unknown")
            .to_string();
        insta::assert_snapshot!(format!("surface_{name}"), surface);
    }
}

#[test]
fn generation_is_deterministic() {
    for target in TARGETS {
        let a = codegen::generate_target(&root(), target).unwrap_or_else(|e| panic!("{e}"));
        let b = codegen::generate_target(&root(), target).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.code, b.code, "{} differs between two runs", target.spec);
        let a = xtask::mock::generate_target(&root(), target).unwrap_or_else(|e| panic!("{e}"));
        let b = xtask::mock::generate_target(&root(), target).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a, b, "{}'s mocks differ between two runs", target.spec);
    }
}

#[test]
fn header_records_the_spec_hash_so_any_spec_edit_makes_the_file_stale() {
    let target = &TARGETS[0];
    let text = std::fs::read_to_string(root().join(target.spec)).unwrap_or_default();
    let before = codegen::generate(target.spec, &text).unwrap_or_else(|e| panic!("{e}"));
    // A change to a summary only: the generated code may not change, the header must.
    let edited = text.replacen("summary: Clone", "summary: Edited. Clone", 1);
    let after = codegen::generate(target.spec, &edited).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(before.code, after.code);
    assert!(before.code.contains("spec-sha256: "));
}

#[test]
fn upload_is_skipped_with_its_reason_and_nothing_else_is() {
    let target = TARGETS
        .iter()
        .find(|t| t.spec.ends_with("jimmyai.yaml"))
        .unwrap_or_else(|| panic!("no jimmyai target"));
    let g = codegen::generate_target(&root(), target).unwrap_or_else(|e| panic!("{e}"));
    let skipped: Vec<_> = g.skipped.iter().map(|s| s.operation.id.as_str()).collect();
    assert_eq!(skipped, ["uploadFile"]);
    assert!(g.skipped[0].reason.contains("multipart"));
    assert!(g.code.contains("Skipped operations: uploadFile"));
    let ids: Vec<_> = g.operations.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    // Its response type is still generated, for the hand-written upload to decode into.
    assert!(g.code.contains("pub struct UploadFileEnvelope"));
}

/// Review 30-d #3: what the generated code does not carry is said in its header, as skipped
/// operations are: the spec's callback operations (progenitor generates none) and the schema
/// bounds typify drops (`minimum`, `maximum`, `exclusiveMinimum`, `maxItems`; it keeps string
/// lengths). Before: "Skipped operations: none" and nothing more.
#[test]
fn the_header_lists_the_callbacks_and_bounds_it_does_not_generate() {
    let header = |spec: &str| {
        let text = std::fs::read_to_string(root().join(spec)).unwrap_or_default();
        let g = codegen::generate(spec, &text).unwrap_or_else(|e| panic!("{e}"));
        let end = g.code.find("\n\n").unwrap_or(g.code.len());
        g.code[..end].to_string()
    };
    let vmeg = header("specs/vmeg.yaml");
    for expected in [
        "Not generated: callback operations cloneVoiceTaskCompletedWebhook (POST https://{yourWebhookUrl}, callback `taskCompleted` of cloneVoiceCreateAsync), ttsTaskCompletedWebhook (",
        "TtsLine.emoWeight: minimum 0, maximum 1",
        "TtsCreateRequest.data: maxItems 50",
        "TtsCreateAsyncRequest.data: maxItems 50",
    ] {
        assert!(vmeg.contains(expected), "{expected:?} not in:\n{vmeg}");
    }
    let jimmyai = header("specs/jimmyai.yaml");
    for expected in [
        "Not generated: callback operations none",
        "CreateAudioRequest.speed: minimum 0.5, maximum 2",
        "CreateAudioRequest.vol: minimum 0, exclusiveMinimum true, maximum 10",
        "CreateAudioRequest.pitch: minimum -12, maximum 12",
    ] {
        assert!(
            jimmyai.contains(expected),
            "{expected:?} not in:\n{jimmyai}"
        );
    }
    // String lengths are checked by the generated newtypes: not listed as unchecked.
    assert!(!jimmyai.contains("maxLength"), "{jimmyai}");
}

#[test]
fn every_issue_listed_operation_is_in_the_specs() {
    let vmeg = [
        "cloneVoiceCreateSync",
        "cloneVoiceCreateAsync",
        "ttsCreateSync",
        "ttsCreateAsync",
        "tasksList",
        "tasksDetail",
        "tasksDelete",
        "voiceCloneList",
        "voiceCloneUpdate",
        "voiceCloneDelete",
        "voiceBasicList",
        // Issue 15: materials (uploads of local recordings).
        "materialGenUploadUrl",
        "materialUploadComplete",
        "materialMultipartInitiate",
        "materialMultipartPresign",
        "materialMultipartComplete",
        "materialMultipartAbort",
        "materialList",
        "materialDelete",
    ];
    let jimmy = ["createClone", "createAudio", "getAudioTask", "uploadFile"];
    for (spec, expected) in [
        ("specs/vmeg.yaml", &vmeg[..]),
        ("specs/jimmyai.yaml", &jimmy[..]),
    ] {
        let text = std::fs::read_to_string(root().join(spec)).unwrap_or_default();
        let loaded = xtask::spec::load(spec, &text).unwrap_or_else(|e| panic!("{e}"));
        assert!(text.starts_with("openapi: 3.0.3"), "{spec} is not 3.0.3");
        let mut ids: Vec<_> = loaded
            .operations
            .iter()
            .chain(loaded.skipped.iter().map(|s| &s.operation))
            .map(|o| o.id.as_str())
            .collect();
        ids.sort_unstable();
        let mut want = expected.to_vec();
        want.sort_unstable();
        assert_eq!(ids, want, "{spec}");
    }
}

fn jimmyai_spec() -> String {
    std::fs::read_to_string(root().join("specs/jimmyai.yaml")).unwrap_or_default()
}

fn generate_err(text: &str) -> String {
    match codegen::generate("bad.yaml", text) {
        Ok(_) => panic!("a malformed spec was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_operation_id_names_the_operation() {
    let text = jimmyai_spec().replacen("      operationId: createAudio\n", "", 1);
    let msg = generate_err(&text);
    assert!(
        msg.contains("bad.yaml") && msg.contains("POST /api/open-api/v1/soundCloning/audios"),
        "{msg}"
    );
    assert!(msg.contains("missing operationId"), "{msg}");
    assert!(!msg.contains('\n'), "not one line: {msg}");
}

#[test]
fn two_success_schemas_name_the_operation() {
    let text = jimmyai_spec().replacen(
        "        '4XX':\n          $ref: '#/components/responses/Error'",
        "        '201':\n          description: also created\n          content:\n            application/json:\n              schema:\n                $ref: '#/components/schemas/UploadFileEnvelope'\n        '4XX':\n          $ref: '#/components/responses/Error'",
        1,
    );
    let msg = generate_err(&text);
    assert!(msg.contains("createClone"), "{msg}");
    assert!(msg.contains("different schemas"), "{msg}");
}

/// An answer declared only under `default` would be dropped by the shaping (which keeps 2xx
/// responses) and never decoded: it is refused, naming the operation.
#[test]
fn a_default_response_is_refused_naming_the_operation() {
    let mut text = jimmyai_spec();
    let get = text
        .find("operationId: getAudioTask")
        .unwrap_or_else(|| panic!("no getAudioTask"));
    let at = text[get..]
        .find("        '200':")
        .map(|i| get + i)
        .unwrap_or_else(|| panic!("no 200 under getAudioTask"));
    text.replace_range(at..at + "        '200':".len(), "        default:");
    let msg = generate_err(&text);
    assert!(msg.contains("getAudioTask"), "{msg}");
    assert!(msg.contains("`default` response is not supported"), "{msg}");
    assert!(!msg.contains('\n'), "not one line: {msg}");
}

/// `x-voiceclone-timeout-seconds` gives one operation its own timeout in the generated
/// `OPERATION_TIMEOUTS`; anything but a whole number of seconds from 1 to 3600 is refused,
/// naming the operation (a zero or a string would otherwise become a call that times out at
/// once, or a timeout silently dropped).
#[test]
fn an_operation_timeout_is_generated_and_a_bad_one_is_refused_naming_the_operation() {
    let with = |value: &str| {
        jimmyai_spec().replacen(
            "      operationId: createAudio\n",
            &format!(
                "      operationId: createAudio\n      x-voiceclone-timeout-seconds: {value}\n"
            ),
            1,
        )
    };
    let good = codegen::generate("good.yaml", &with("240")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        good.code
            .contains("(\"create_audio\", std::time::Duration::from_secs(240))"),
        "no timeout entry for create_audio"
    );
    for bad in ["0", "3601", "'180'", "1.5", "-1", "null", "[180]"] {
        let msg = generate_err(&with(bad));
        assert!(msg.contains("createAudio"), "{bad}: {msg}");
        assert!(msg.contains("x-voiceclone-timeout-seconds"), "{bad}: {msg}");
        assert!(msg.contains("from 1 to 3600"), "{bad}: {msg}");
        assert!(!msg.contains('\n'), "{bad}: not one line: {msg}");
    }
}

#[test]
fn duplicate_operation_id_is_refused() {
    let text = jimmyai_spec().replacen("operationId: createAudio", "operationId: createClone", 1);
    let msg = generate_err(&text);
    assert!(msg.contains("`createClone` is also used by"), "{msg}");
}

/// The operation table names each method as heck's snake_case of its operationId, which is
/// progenitor's name for plain identifiers only: anything else, and two operationIds that
/// become one method, are refused naming the operation.
#[test]
fn operation_ids_that_are_not_plain_method_names_are_refused() {
    for (id, says) in [
        ("type", "becomes the Rust keyword `type`"),
        (
            "1bad",
            "not a plain lowerCamelCase or snake_case identifier",
        ),
        (
            "Create-Audio",
            "not a plain lowerCamelCase or snake_case identifier",
        ),
        (
            "create_Audio",
            "not a plain lowerCamelCase or snake_case identifier",
        ),
        (
            "create__audio",
            "not a plain lowerCamelCase or snake_case identifier",
        ),
        ("create_clone", "both become the method `create_clone`"),
    ] {
        let text = jimmyai_spec().replacen(
            "operationId: createAudio",
            &format!("operationId: '{id}'"),
            1,
        );
        let msg = generate_err(&text);
        assert!(msg.contains(says), "{id}: {msg}");
        assert!(msg.contains(&format!("`{id}`")), "{id}: {msg}");
        assert!(!msg.contains('\n'), "not one line: {msg}");
    }
    // Plain snake_case is a plain method name.
    let text = jimmyai_spec().replacen("operationId: createAudio", "operationId: create_audio", 1);
    let generated = codegen::generate("ok.yaml", &text);
    assert!(
        generated
            .as_ref()
            .is_ok_and(|g| g.code.contains("pub async fn create_audio<")),
        "{:?}",
        generated.err()
    );
}

/// A spec without `components` generates: the lenient types its answers refer to are added.
#[test]
fn a_spec_without_components_generates() {
    let text = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    get:\n      operationId: getX\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema:\n                type: object\n                properties:\n                  id: {type: string}\n                  n: {type: integer}\n";
    let generated = codegen::generate("bare.yaml", text);
    assert!(generated.is_ok(), "{:?}", generated.err());
    let code = generated.map(|g| g.code).unwrap_or_default();
    assert!(code.contains("::client_glue::Text"), "{code}");
}

/// A key given twice in one mapping is refused naming the file, never merged with the last
/// one winning (what a parse straight into `serde_json::Value` does): a repeated `required:`
/// would drop the first list, a repeated path the first path's operations, without a word.
#[test]
fn a_duplicate_key_is_refused_naming_the_file() {
    let required = "      required: [fileUrl]\n";
    let upload = "  /api/open-api/v1/files/upload:\n";
    let cases = [
        (
            "required",
            jimmyai_spec().replacen(
                required,
                &format!("{required}      required: [contentText]\n"),
                1,
            ),
        ),
        (
            "/api/open-api/v1/files/upload",
            jimmyai_spec().replacen(
                "components:\n",
                &format!(
                    "{upload}    get:\n      operationId: listUploads\n      responses:\n        \
                     '200':\n          description: ok\ncomponents:\n"
                ),
                1,
            ),
        ),
    ];
    for (key, text) in cases {
        let msg = generate_err(&text);
        assert!(msg.contains("bad.yaml"), "{key}: {msg}");
        assert!(msg.contains("duplicate"), "{key}: {msg}");
        assert!(msg.contains(key), "{key}: {msg}");
        assert!(!msg.contains('\n'), "{key}: not one line: {msg}");
    }
    // Two keys that become one JSON key.
    let msg = generate_err(&jimmyai_spec().replacen(
        "        '4XX':\n",
        "        200:\n          description: the same status, unquoted\n        '4XX':\n",
        1,
    ));
    assert!(
        msg.contains("bad.yaml") && msg.contains("duplicate"),
        "{msg}"
    );
    assert!(msg.contains("\"200\""), "{msg}");
    // Merge keys are applied, and what they bring in may be overridden (no duplicate).
    let merged = jimmyai_spec().replacen(
        "    CreateCloneRequest:\n      type: object\n",
        "    CreateCloneRequest:\n      <<: {type: string, description: merged}\n      type: object\n",
        1,
    );
    let loaded = xtask::spec::load("merged.yaml", &merged).unwrap_or_else(|e| panic!("{e}"));
    let schema = &loaded.json["components"]["schemas"]["CreateCloneRequest"];
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["description"], "merged");
    assert!(schema.get("<<").is_none(), "{schema}");
}

#[test]
fn openapi_3_1_is_refused_up_front() {
    let text = jimmyai_spec().replacen("openapi: 3.0.3", "openapi: 3.1.0", 1);
    assert!(generate_err(&text).contains("is not 3.0.x"));
}

#[test]
fn multipart_without_skip_marker_is_refused() {
    let text = jimmyai_spec().replacen("        skip: true\n", "        skip: false\n", 1);
    let msg = generate_err(&text);
    assert!(
        msg.contains("uploadFile") && msg.contains("multipart"),
        "{msg}"
    );
}

/// A malformed `x-voiceclone-codegen` marker is refused naming the operation, never read as
/// "not skipped" (a multipart operation would then fail elsewhere, a JSON one be generated
/// against the spec's stated wish): exactly `{skip: <bool>, reason: <non-blank string>}`.
#[test]
fn a_malformed_skip_marker_is_refused_naming_the_operation() {
    let marker = "      x-voiceclone-codegen:\n        skip: true\n        reason: progenitor 0.15 \
                  cannot generate multipart/form-data bodies; voiceclone writes this call by \
                  hand.\n";
    assert!(jimmyai_spec().contains(marker), "the marker moved");
    for bad in [
        "      x-voiceclone-codegen:\n        skip: 'true'\n        reason: by hand\n",
        "      x-voiceclone-codegen:\n        skipped: true\n        reason: by hand\n",
        "      x-voiceclone-codegen: skip\n",
        "      x-voiceclone-codegen:\n        skip: true\n",
        "      x-voiceclone-codegen:\n        skip: true\n        reason: '  '\n",
        "      x-voiceclone-codegen:\n        skip: true\n        reason: [by hand]\n",
        "      x-voiceclone-codegen:\n        skip: true\n        reason: by hand\n        \
         why: extra\n",
        "      x-voiceclone-codegen:\n        skip: false\n",
        "      x-voiceclone-codegen: null\n",
    ] {
        let msg = generate_err(&jimmyai_spec().replacen(marker, bad, 1));
        assert!(msg.contains("bad.yaml"), "{bad}: {msg}");
        assert!(
            msg.contains("uploadFile (POST /api/open-api/v1/files/upload)"),
            "{bad}: {msg}"
        );
        assert!(
            msg.contains("x-voiceclone-codegen") && msg.contains("{skip: <bool>, reason:"),
            "{bad}: {msg}"
        );
        assert!(!msg.contains('\n'), "{bad}: not one line: {msg}");
    }
    // A well-formed marker that does not skip: generated as any other operation.
    let kept = jimmyai_spec().replacen(
        "      operationId: createAudio\n",
        "      operationId: createAudio\n      x-voiceclone-codegen: {skip: false, reason: checked}\n",
        1,
    );
    let g = codegen::generate("kept.yaml", &kept).unwrap_or_else(|e| panic!("{e}"));
    assert!(g.operations.iter().any(|o| o.id == "createAudio"));
}

#[test]
fn a_ref_path_item_is_refused_naming_the_path() {
    // README: bad specs give one line naming the file and the operation, never a progenitor
    // panic, for "a `$ref` path item" too (it has no operation: the path is named).
    let path = "  /api/open-api/v1/soundCloning/audios:\n";
    let text = jimmyai_spec().replacen(path, &format!("{path}    $ref: '#/x-elsewhere'\n"), 1);
    let msg = generate_err(&text);
    assert!(
        msg.contains("bad.yaml") && msg.contains("/api/open-api/v1/soundCloning/audios"),
        "{msg}"
    );
    assert!(msg.contains("`$ref` path items are not supported"), "{msg}");
    assert!(!msg.contains('\n'), "not one line: {msg}");
}

#[test]
fn a_progenitor_panic_becomes_an_error_naming_the_operation() {
    // progenitor panics on a dangling $ref; we only learn which operation by narrowing.
    let text = jimmyai_spec().replacen(
        "$ref: '#/components/schemas/GetAudioTaskEnvelope'",
        "$ref: '#/components/schemas/NoSuchEnvelope'",
        1,
    );
    let msg = generate_err(&text);
    assert!(msg.contains("operation getAudioTask"), "{msg}");
    assert!(msg.contains("progenitor panicked"), "{msg}");
    // VMEG's components generate alone too, so the narrowing goes on to its operations.
    let text = vmeg_spec().replacen(
        "$ref: '#/components/schemas/VoidEnvelope'",
        "$ref: '#/components/schemas/NoSuchEnvelope'",
        1,
    );
    let msg = generate_err(&text);
    assert!(msg.contains("operation tasksDelete"), "{msg}");
    assert!(!msg.contains("component schema"), "{msg}");
}

#[test]
fn a_progenitor_panic_in_an_unused_component_names_the_component_on_one_bounded_line() {
    // typify panics with a pretty-printed (multi-line) schema on `not` of a typed schema. No
    // operation uses the component, so none may be blamed.
    let text = jimmyai_spec().replacen(
        "\n  schemas:\n",
        "\n  schemas:\n    NotBlank:\n      not: {type: string, pattern: '^\\s*$'}\n",
        1,
    );
    assert!(text.contains("NotBlank"));
    let msg = generate_err(&text);
    assert!(!msg.contains('\n'), "not one line: {msg}");
    assert!(msg.chars().count() <= 500, "unbounded: {msg}");
    assert!(msg.contains("progenitor panicked"), "{msg}");
    assert!(msg.contains("component schema NotBlank"), "{msg}");
    assert!(
        !msg.contains("getAudioTask") && !msg.contains(": operation "),
        "blames an operation: {msg}"
    );
    assert!(!msg.contains("  "), "whitespace not folded: {msg}");

    // A dangling `$ref` in an unused component is that component's fault too.
    let text = jimmyai_spec().replacen(
        "\n  schemas:\n",
        "\n  schemas:\n    Unused:\n      type: object\n      properties:\n        x:\n          $ref: '#/components/schemas/Nope'\n",
        1,
    );
    let msg = generate_err(&text);
    assert!(msg.contains("component schema Unused"), "{msg}");
    assert!(!msg.contains("getAudioTask"), "{msg}");

    // A broken component another one refers to is named too (review 28 pass 2-a #5: removing
    // it left the other's `$ref` dangling, and no single removal passed).
    let text = jimmyai_spec().replacen(
        "\n  schemas:\n",
        "\n  schemas:\n    Holder:\n      type: object\n      properties:\n        b:\n          $ref: '#/components/schemas/Broken'\n    Broken:\n      not: {type: string, pattern: '^x$'}\n",
        1,
    );
    let msg = generate_err(&text);
    assert!(msg.contains("component schema Broken"), "{msg}");
}

fn vmeg_spec() -> String {
    std::fs::read_to_string(root().join("specs/vmeg.yaml")).unwrap_or_default()
}

#[test]
fn a_structural_spec_error_names_where_it_is() {
    let text = vmeg_spec().replacen(
        "        '200':\n          description: Envelope; `data` is null.\n",
        "        '200':\n",
        1,
    );
    assert_ne!(text, vmeg_spec());
    let msg = generate_err(&text);
    assert!(!msg.contains('\n'), "not one line: {msg}");
    assert!(
        msg.contains("paths./openapi/v1/tasks/delete.post.responses.200"),
        "{msg}"
    );
    assert!(msg.contains("missing field `description`"), "{msg}");

    // A wrong type in a request body is placed too (the first `required: true` of the spec
    // is the first operation's body).
    let text = vmeg_spec().replacen("        required: true\n", "        required: 'true'\n", 1);
    assert_ne!(text, vmeg_spec());
    let msg = generate_err(&text);
    assert!(!msg.contains('\n'), "not one line: {msg}");
    assert!(msg.contains("expected a boolean"), "{msg}");
    assert!(msg.contains(".post.requestBody"), "{msg}");

    // An `x-` extension beside the responses is valid, and never blamed for the fault
    // (review 28 pass 2-a #6: it was read as a response without a description).
    let text = vmeg_spec()
        .replacen(
            "        '200':\n          description: Envelope; `data` is null.\n",
            "        '200':\n",
            1,
        )
        .replace(
            "\n      responses:\n",
            "\n      responses:\n        x-note: {owner: docs}\n",
        );
    let msg = generate_err(&text);
    assert!(
        msg.contains("paths./openapi/v1/tasks/delete.post.responses.200"),
        "{msg}"
    );
}

/// A scratch copy of the inputs and outputs of codegen, for running the real binary on it.
fn scratch_tree(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for target in TARGETS {
        for rel in [target.spec, target.output, target.mock_output] {
            let to = dir.join(rel);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
            }
            std::fs::copy(root().join(rel), &to).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    dir
}

fn run_xtask(tree: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("VOICECLONE_XTASK_ROOT", tree)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_fails_naming_the_file_after_a_description_edit_and_write_fixes_it() {
    let tree = scratch_tree("check");
    let (ok, _, _) = run_xtask(&tree, &["codegen", "--check"]);
    assert!(ok, "a fresh copy should be up to date");

    let spec = tree.join("specs/vmeg.yaml");
    let text = std::fs::read_to_string(&spec).unwrap_or_default();
    std::fs::write(&spec, text.replacen("summary:", "summary: Edited.", 1))
        .unwrap_or_else(|e| panic!("{e}"));
    let (ok, _, stderr) = run_xtask(&tree, &["codegen", "--check"]);
    assert!(!ok);
    // The spec's hash is in both headers: the client and its mocks are stale together.
    assert!(
        stderr.contains("crates/vmeg-client/src/generated.rs")
            && stderr.contains("crates/vmeg-client-mock/src/generated.rs")
            && !stderr.contains("jimmyai-client"),
        "{stderr}"
    );

    let (ok, stdout, _) = run_xtask(&tree, &["codegen"]);
    assert!(ok);
    assert!(
        stdout.contains("wrote crates/vmeg-client/src/generated.rs")
            && stdout.contains("wrote crates/vmeg-client-mock/src/generated.rs"),
        "{stdout}"
    );
    assert!(stdout.contains("skipped specs/jimmyai.yaml: uploadFile"));
    let (ok, _, _) = run_xtask(&tree, &["codegen", "--check"]);
    assert!(ok, "codegen then --check must pass");
    let _ = std::fs::remove_dir_all(&tree);
}

/// The generated files of a scratch tree, and whether a temporary file was left beside them.
fn generated_files(tree: &Path) -> (Vec<String>, bool) {
    let mut contents = Vec::new();
    let mut leftover = false;
    for target in TARGETS {
        for output in target.outputs() {
            let path = tree.join(output);
            contents.push(std::fs::read_to_string(&path).unwrap_or_default());
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            leftover |= std::fs::read_dir(&dir).is_ok_and(|entries| {
                entries
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with(".codegen-"))
            });
        }
    }
    (contents, leftover)
}

/// `codegen` writes all or nothing: a broken spec after an edited one, or an output that
/// cannot be written after one that can, leaves every generated file as it was.
#[test]
fn a_failed_codegen_writes_nothing() {
    let tree = scratch_tree("all-or-nothing");
    let (before, _) = generated_files(&tree);
    let vmeg = tree.join("specs/vmeg.yaml");
    let text = std::fs::read_to_string(&vmeg).unwrap_or_default();
    std::fs::write(&vmeg, text.replacen("summary:", "summary: Edited.", 1))
        .unwrap_or_else(|e| panic!("{e}"));
    let jimmyai = tree.join("specs/jimmyai.yaml");
    let good_jimmyai = std::fs::read_to_string(&jimmyai).unwrap_or_default();

    // VMEG's spec (first) is edited, JimmyAI's (second) does not parse.
    std::fs::write(&jimmyai, "openapi: 3.0.3\npaths: [").unwrap_or_else(|e| panic!("{e}"));
    let (ok, stdout, stderr) = run_xtask(&tree, &["codegen"]);
    assert!(!ok, "{stdout}");
    assert!(stderr.contains("specs/jimmyai.yaml"), "{stderr}");
    assert!(!stdout.contains("wrote"), "{stdout}");
    assert_eq!(generated_files(&tree), (before.clone(), false));

    // Both specs edited and fine, but the last output's directory is gone: staging it fails
    // after the others were staged, and none of them is renamed into place.
    std::fs::write(
        &jimmyai,
        good_jimmyai.replacen("summary:", "summary: Edited.", 1),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let last = TARGETS
        .last()
        .map(|t| tree.join(t.mock_output))
        .unwrap_or_else(|| panic!("no targets"));
    let last_dir = last.parent().map(Path::to_path_buf).unwrap_or_default();
    std::fs::remove_dir_all(&last_dir).unwrap_or_else(|e| panic!("{e}"));
    let (ok, stdout, stderr) = run_xtask(&tree, &["codegen"]);
    assert!(!ok, "{stdout}");
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert!(!stdout.contains("wrote"), "{stdout}");
    let (after, leftover) = generated_files(&tree);
    let n = after.len() - 1;
    assert_eq!(after[..n], before[..n]);
    assert!(!leftover, "a temporary file was left behind");

    // Put back, it writes all four.
    std::fs::create_dir_all(&last_dir).unwrap_or_else(|e| panic!("{e}"));
    let (ok, stdout, stderr) = run_xtask(&tree, &["codegen"]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.matches("wrote ").count(), 4, "{stdout}");
    let _ = std::fs::remove_dir_all(&tree);
}

/// A hand edit of a generated mock file is caught by `--check` (naming only that file) and
/// undone by `codegen`.
#[test]
fn check_fails_on_a_hand_edited_mock_file_and_write_restores_it() {
    let tree = scratch_tree("mock-edit");
    let target = TARGETS
        .iter()
        .find(|t| t.spec.ends_with("jimmyai.yaml"))
        .unwrap_or_else(|| panic!("no jimmyai target"));
    let mock = tree.join(target.mock_output);
    let original = std::fs::read_to_string(&mock).unwrap_or_default();
    let edited = original.replacen(".status(200u16)", ".status(201u16)", 1);
    assert_ne!(edited, original, "the test's premise: the mock answers 200");
    std::fs::write(&mock, &edited).unwrap_or_else(|e| panic!("{e}"));

    let (ok, _, stderr) = run_xtask(&tree, &["codegen", "--check"]);
    assert!(!ok);
    assert!(
        stderr.contains("stale generated file(s)")
            && stderr.contains(target.mock_output)
            && !stderr.contains(target.output),
        "{stderr}"
    );
    let (ok, stdout, _) = run_xtask(&tree, &["codegen"]);
    assert!(ok);
    assert!(
        stdout.contains(&format!("wrote {}", target.mock_output)),
        "{stdout}"
    );
    assert_eq!(std::fs::read_to_string(&mock).unwrap_or_default(), original);
    let _ = std::fs::remove_dir_all(&tree);
}

/// The mocks take the clients' own types, one `MockServerExt` method per generated client
/// method, and the xtask's rewrites of progenitor's output are applied: no regex built and
/// unwrapped, path parameters encoded as the client sends them and matched literally.
#[test]
fn mocks_cover_every_operation_with_the_clients_types() {
    for target in TARGETS {
        let client = codegen::generate_target(&root(), target).unwrap_or_else(|e| panic!("{e}"));
        let mocks = xtask::mock::generate_target(&root(), target).unwrap_or_else(|e| panic!("{e}"));
        let out = target.mock_output;
        assert!(mocks.starts_with("// @generated by `cargo xtask codegen`"));
        assert!(
            mocks.contains(&format!("use {}::*;", target.client_crate)),
            "{out}"
        );
        // The code, after the header (whose notes name what was rewritten).
        let code: String = mocks
            .lines()
            .skip_while(|l| l.starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            !code.contains("unwrap()") && !code.contains("regex::Regex"),
            "{out}"
        );
        for op in &client.operations {
            let name = codegen::rust_name(&op.id);
            assert!(
                mocks.contains(&format!("fn {name}<F>(&self, config_fn: F)")),
                "{name} in {out}"
            );
            assert!(
                mocks.contains(&format!("A mock of `{}` (`", op.id)),
                "{name}'s doc in {out}"
            );
            if op.path.contains('{') {
                // Inside `format!`, prettyplease prints the tokens with spaces.
                let squeezed: String = code.split_whitespace().collect();
                assert!(
                    squeezed.contains("::regex::escape(&::client_glue::hooks::encode_segment(&"),
                    "{name} in {out}"
                );
            }
        }
        // Every response type a mock answers with is one the client returns.
        for line in mocks
            .lines()
            .filter(|l| l.contains("pub fn ok(self, value: &types::"))
        {
            let ty = line
                .split("&types::")
                .nth(1)
                .and_then(|rest| rest.split(')').next())
                .unwrap_or_default();
            assert!(
                client.code.contains(&format!("ResponseValue<types::{ty}>")),
                "{ty} in {out}"
            );
        }
    }
}

/// A root taken from the environment is printed: a stray variable cannot make the command
/// check or rewrite another tree unnoticed.
#[test]
fn a_root_from_the_environment_is_printed() {
    let tree = scratch_tree("root-note");
    let (ok, stdout, stderr) = run_xtask(&tree, &["codegen", "--check"]);
    assert!(ok, "{stderr}");
    assert_eq!(
        stdout.lines().next(),
        Some(
            format!(
                "workspace root {} (from VOICECLONE_XTASK_ROOT)",
                tree.display()
            )
            .as_str()
        ),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&tree);
}

#[test]
fn malformed_spec_exits_non_zero_with_one_line_and_no_backtrace() {
    let tree = scratch_tree("malformed");
    let spec = tree.join("specs/jimmyai.yaml");
    let text = std::fs::read_to_string(&spec).unwrap_or_default();
    std::fs::write(
        &spec,
        text.replacen("      operationId: getAudioTask\n", "", 1),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (ok, _, stderr) = run_xtask(&tree, &["codegen"]);
    assert!(!ok);
    let lines: Vec<_> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("GET /api/open-api/v1/audios/{id}: missing operationId"));
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"));
    let _ = std::fs::remove_dir_all(&tree);
}

#[test]
fn mode_enum_is_what_main_uses() {
    // `run` in check mode on the real tree must pass: this is what `.ci/run` calls first.
    assert!(codegen::run(&root(), Mode::Check).is_ok());
}

/// Moving a path in a spec moves it in the generated client, which is the only place the
/// adapter's routes come from (`tests/adapter_routes.rs` checks that the adapter names none
/// but the multipart upload's): after `cargo xtask codegen`, the adapter follows with no
/// hand edit.
#[test]
fn a_moved_path_moves_the_generated_route_and_its_operation_entry() {
    let old = "/api/open-api/v1/audios/{id}";
    let new = "/api/open-api/v2/tasks/{id}";
    let spec = jimmyai_spec();
    assert!(
        spec.contains(old),
        "the test's premise: {old} is in the spec"
    );
    let moved = spec.replace(old, new);
    let code = codegen::generate("specs/jimmyai.yaml", &moved)
        .map(|g| g.code)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        code.contains(r#""/api/open-api/v2/tasks/{}""#),
        "the generated method builds the new path"
    );
    assert!(code.contains(r#"path: "/api/open-api/v2/tasks/{id}""#));
    assert!(
        !code.contains("/api/open-api/v1/audios/"),
        "the old path is gone"
    );
}

/// The shaping is listed in the header, and what it promises is in the code: no declared
/// failure response, lenient answer types, hooks from client-glue.
#[test]
fn shaping_is_listed_in_the_header_and_done() {
    for target in TARGETS {
        let g = codegen::generate_target(&root(), target).unwrap_or_else(|e| panic!("{e}"));
        let header: String = g.code.lines().take_while(|l| l.starts_with("//")).collect();
        assert!(
            header.contains("failure responses left undeclared"),
            "{header}"
        );
        assert!(header.contains("answers read leniently"), "{header}");
        assert!(
            !g.code.contains("Error::ErrorResponse"),
            "{}",
            target.output
        );
        assert!(g.code.contains("::client_glue::hooks::prepare"));
        assert!(g.code.contains("code: ::client_glue::Code"));
        // README: progenitor's panicking `Client::new` is removed; `connect` returns a
        // `Result`; the `OPERATIONS` table is written; no `api-version` header is sent.
        let code: String = g.code.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(!code.contains("pub fn new("), "{}", target.output);
        assert!(code.contains("pub fn connect("), "{}", target.output);
        assert!(code.contains("pub const OPERATIONS: &[Operation]"));
        assert!(!code.contains("\"api-version\""), "{}", target.output);
        // Every operation of the table is a method whose hooks see the same name.
        for op in &g.operations {
            let name = codegen::rust_name(&op.id);
            assert!(
                g.code.contains(&format!("operation_id: \"{name}\"")),
                "{name} in {}",
                target.output
            );
        }
    }
}

/// The per-call rewrites of progenitor's method bodies are applied everywhere they apply:
/// answers through `client_glue::hooks::decode`, URLs built from a parsed base (once, for a
/// path without parameters), required header parameters without a header map, and no empty
/// header map at all.
#[test]
fn per_call_rewrites_are_applied() {
    for target in TARGETS {
        let g = codegen::generate_target(&root(), target).unwrap_or_else(|e| panic!("{e}"));
        let code = &g.code;
        let out = target.output;
        assert!(!code.contains("ResponseValue::from_response("), "{out}");
        assert!(
            code.contains("::client_glue::hooks::decode(self.inner(), response)"),
            "{out}"
        );
        assert!(
            !code.contains("format!(\"{}"),
            "{out}: a URL still formatted whole"
        );
        for op in &g.operations {
            let name = codegen::rust_name(&op.id);
            let start = code
                .find(&format!("pub async fn {name}<"))
                .unwrap_or_else(|| panic!("{name} in {out}"));
            let body = &code[start..];
            let body = &body[..body.find("\n    }\n").unwrap_or(body.len())];
            let url = if op.path.contains('{') {
                "::client_glue::hooks::template_request_url("
            } else {
                "::client_glue::hooks::static_request_url("
            };
            assert!(body.contains(url), "{name} in {out}: {url}");
            // A header map only where a header parameter is optional.
            assert_eq!(
                body.contains("header_map"),
                body.contains("if let Some(value)"),
                "{name} in {out}"
            );
        }
    }
}

/// README ("Typed HTTP mocks"): the mocks are a dev-dependency; nothing a user builds for
/// production (`voiceclone`, `voiceclone-cli`, the clients) reaches httpmock or a mock crate
/// through normal (or build) dependencies.
#[test]
fn httpmock_is_never_a_normal_dependency_of_the_published_runtime_crates() {
    // Offline (tests never reach the network) and for this machine's platform only: a fresh
    // machine has downloaded the crates its own builds need, not other platforms' (without
    // the filter, `cargo metadata --offline` fails there on `anstyle-wincon` and the like).
    let host = Command::new("rustc")
        .args(["--print", "host-tuple"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let host = String::from_utf8_lossy(&host.stdout).trim().to_owned();
    assert!(!host.is_empty(), "rustc --print host-tuple said nothing");
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(["--filter-platform", &host])
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let nodes = meta["resolve"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let name_of = |id: &str| {
        meta["packages"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["id"] == id))
            .and_then(|p| p["name"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    // The ids reachable from `start` through dependencies that are not dev-only.
    let runtime_closure = |start: &str| {
        let start_id = nodes
            .iter()
            .map(|n| n["id"].as_str().unwrap_or_default())
            .find(|id| name_of(id) == start)
            .unwrap_or_else(|| panic!("{start} not in the workspace"))
            .to_string();
        let mut seen = std::collections::BTreeSet::from([start_id.clone()]);
        let mut todo = vec![start_id];
        while let Some(id) = todo.pop() {
            let node = nodes.iter().find(|n| n["id"] == id.as_str());
            for dep in node
                .and_then(|n| n["deps"].as_array())
                .into_iter()
                .flatten()
            {
                let runtime = dep["dep_kinds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|k| k["kind"] != "dev");
                let dep_id = dep["pkg"].as_str().unwrap_or_default().to_string();
                if runtime && seen.insert(dep_id.clone()) {
                    todo.push(dep_id);
                }
            }
        }
        seen.iter().map(|id| name_of(id)).collect::<Vec<_>>()
    };
    for krate in [
        "voiceclone",
        "voiceclone-cli",
        "vmeg-client",
        "jimmyai-client",
    ] {
        let names = runtime_closure(krate);
        assert!(names.len() > 10, "{krate}: {names:?}");
        let leaked: Vec<_> = names
            .iter()
            .filter(|n| *n == "httpmock" || n.ends_with("-client-mock"))
            .collect();
        assert!(leaked.is_empty(), "{krate} depends on {leaked:?}");
    }
    // And the mock crates do reach it: the walk above would see it.
    assert!(runtime_closure("vmeg-client-mock").contains(&"httpmock".to_string()));
}

/// Every `required` list of specs/jimmyai.yaml is one the API facts state: the request fields
/// B4/B5 mark required and the envelope's `code` (B2). B4 and B6 list a task's fields without
/// saying which are always present, so `AudioTask` requires nothing (a task without a usable
/// `id` is refused by the adapter, not by decoding).
/// specs/vmeg.yaml states no UNKNOWN of the API facts as a fact (README: nothing is
/// invented): which clone fields VMEG needs (A17.1: a guess, `provider` included), how long a
/// synchronous call takes (A7, A17.9) and the multipart part size (A6b; VMEG calls
/// `recommendedPartSize` suggested). Before, the spec said those fields "are expected" "in
/// practice", that the synchronous calls answer "tens of seconds later", and that the part size
/// "is the `recommendedPartSize`".
#[test]
fn vmeg_spec_states_its_unknowns_as_unknown() {
    let text = std::fs::read_to_string(root().join("specs/vmeg.yaml")).unwrap_or_default();
    let spec = xtask::spec::load("specs/vmeg.yaml", &text).unwrap_or_else(|e| panic!("{e}"));
    let flat = |v: &serde_json::Value| {
        v.as_str()
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };

    let clone = flat(&spec.json["components"]["schemas"]["CloneVoiceCreateRequest"]["description"]);
    assert!(!clone.contains("in practice"), "{clone}");
    assert!(
        clone.contains(
            "Which fields it needs is UNKNOWN: likely `refAudio`, `sampleLanguage`, \
                        `provider` and `voiceName`, not confirmed"
        ),
        "{clone}"
    );

    let materials = spec.json["tags"]
        .as_array()
        .and_then(|tags| tags.iter().find(|t| t["name"] == "Assets - Materials"))
        .map(|t| flat(&t["description"]))
        .unwrap_or_default();
    assert!(!materials.contains("part size is the"), "{materials}");
    assert!(
        materials.contains(
            "part size VMEG needs is UNKNOWN: it answers with a suggested \
                            `recommendedPartSize`"
        ),
        "{materials}"
    );

    // Each operation timeout's comment (the lines just above it) gives the latency as UNKNOWN.
    let lines: Vec<&str> = text.lines().collect();
    let mut timeouts = 0;
    for (i, line) in lines.iter().enumerate() {
        if !line
            .trim_start()
            .starts_with("x-voiceclone-timeout-seconds:")
        {
            continue;
        }
        timeouts += 1;
        let comment: Vec<&str> = lines[..i]
            .iter()
            .rev()
            .take_while(|l| l.trim_start().starts_with('#'))
            .map(|l| l.trim_start().trim_start_matches('#').trim())
            .collect();
        let comment = comment.into_iter().rev().collect::<Vec<_>>().join(" ");
        assert!(
            comment.contains("How long that takes is UNKNOWN"),
            "line {}: {comment}",
            i + 1
        );
        assert!(
            !comment.contains("seconds later"),
            "line {}: {comment}",
            i + 1
        );
    }
    assert_eq!(timeouts, 2, "the synchronous clone and TTS");
}

#[test]
fn jimmyai_requires_only_what_the_api_facts_state() {
    let spec: serde_json::Value =
        serde_norway::from_str(&jimmyai_spec()).unwrap_or_else(|e| panic!("{e}"));
    let schemas = spec
        .pointer("/components/schemas")
        .and_then(serde_json::Value::as_object)
        .unwrap_or_else(|| panic!("no components.schemas"));
    let required: Vec<(String, String)> = schemas
        .iter()
        .filter_map(|(name, schema)| Some((name, schema.get("required")?)))
        .map(|(name, list)| (name.clone(), list.to_string()))
        .collect();
    let code = r#"["code"]"#.to_string();
    let want: Vec<(String, String)> = [
        ("CreateAudioEnvelope", code.clone()),
        (
            "CreateAudioRequest",
            r#"["modelId","contentText"]"#.to_string(),
        ),
        ("CreateCloneEnvelope", code.clone()),
        ("CreateCloneRequest", r#"["fileUrl"]"#.to_string()),
        ("ErrorEnvelope", code.clone()),
        ("GetAudioTaskEnvelope", code.clone()),
        ("UploadFileEnvelope", code),
    ]
    .into_iter()
    .map(|(n, l)| (n.to_string(), l))
    .collect();
    let mut got = required;
    got.sort();
    assert_eq!(got, want);
}

#[test]
fn answer_arrays_become_lenient_lists_and_request_arrays_stay_vectors() {
    let answer_arrays = "    AudioTask:\n      type: object\n      description: |\n        A SoundClone task, as created and as queried. Fields other than `id` are optional: the\n        create answer carries fewer of them than the query.\n      required: [id]\n      properties:\n        tags:\n          type: array\n          items:\n            type: string\n        parts:\n          type: array\n          nullable: true\n          items:\n            type: object\n            properties:\n              url:\n                type: string\n        grid:\n          type: array\n          items:\n            type: array\n            items:\n              type: integer\n        files:\n          type: array\n          items:\n            $ref: '#/components/schemas/UploadedFile'\n";
    let text = jimmyai_spec()
        .replacen(
            "    AudioTask:\n      type: object\n      description: |\n        A SoundClone task, as created and as queried. Every field is optional: the create answer\n        carries fewer of them than the query, and the API facts (B4, B6) list the fields without\n        saying which are always present. A task without a usable `id` is refused by the adapter.\n      properties:\n",
            answer_arrays,
            1,
        )
        .replacen(
            "      required: [modelId, contentText]\n      properties:\n",
            "      required: [modelId, contentText]\n      properties:\n        words:\n          type: array\n          items:\n            type: string\n",
            1,
        );
    assert!(text.contains("        grid:\n") && text.contains("        words:\n"));
    let g = codegen::generate("arrays.yaml", &text).unwrap_or_else(|e| panic!("{e}"));
    let code = g.code.replace(char::is_whitespace, "");
    for want in [
        "pubtags:::client_glue::List<::client_glue::Text>",
        "pubgrid:::client_glue::List<::client_glue::List<::client_glue::Int>>",
        "pubfiles:::client_glue::List<UploadedFile>",
        // Requests keep what the spec says.
        "pubwords:::std::vec::Vec<::std::string::String>",
    ] {
        assert!(code.contains(want), "{want} not in:\n{}", g.code);
    }
    assert!(
        code.contains(
            r#"#[serde(default,skip_serializing_if="::client_glue::List::is_empty")]pubtags"#
        ),
        "{}",
        g.code
    );
    // An inline element is named as typify names a `Vec`'s, and is lenient too.
    assert!(
        code.contains("pubparts:::client_glue::List<AudioTaskPartsItem>"),
        "{}",
        g.code
    );
    assert!(
        code.contains("pubstructAudioTaskPartsItem{")
            && code.contains("puburl:::std::option::Option<::client_glue::Text>"),
        "{}",
        g.code
    );
    assert!(!code.contains("Option<::client_glue::List"), "{}", g.code);
}

/// Answers the shaping used to leave strict: a response-only composition component, a map
/// of enum values, and a 2xx answer given as `$ref: '#/components/responses/X'`.
const COMPOSED_ANSWERS: &str = r##"
openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /a:
    get:
      operationId: getA
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Composed'}
  /b:
    get:
      operationId: getB
      responses:
        '200': {$ref: '#/components/responses/Listing'}
components:
  responses:
    Listing:
      description: ok
      content:
        application/json:
          schema:
            type: object
            properties:
              label: {type: string, enum: [x, y]}
  schemas:
    Base:
      type: object
      properties:
        id: {type: string}
    Composed:
      allOf:
        - $ref: '#/components/schemas/Base'
        - type: object
          properties:
            status: {type: string, enum: [queued, done]}
            counts:
              type: object
              additionalProperties: {type: string, enum: [low, high]}
            either:
              oneOf:
                - {type: integer}
                - {type: object, properties: {why: {type: string}}}
"##;

#[test]
fn compositions_maps_and_referenced_answers_are_read_leniently() {
    let g = codegen::generate("composed.yaml", COMPOSED_ANSWERS).unwrap_or_else(|e| panic!("{e}"));
    let code = g.code.replace(char::is_whitespace, "");
    for want in [
        "pubstatus:::std::option::Option<::client_glue::Text>",
        "pubcounts:::std::collections::HashMap<::std::string::String,::client_glue::Text,>",
        "publabel:::std::option::Option<::client_glue::Text>",
        "why:::std::option::Option<::client_glue::Text>",
        "LenientInt(::client_glue::Int)",
    ] {
        assert!(code.contains(want), "{want} not in:\n{}", g.code);
    }
    for value in ["\"queued\"", "\"high\"", "\"y\""] {
        assert!(!code.contains(value), "a strict enum is left:\n{}", g.code);
    }
}

#[test]
fn an_answer_referring_to_a_missing_response_is_refused_naming_the_operation() {
    let text = COMPOSED_ANSWERS.replace(
        "'200': {$ref: '#/components/responses/Listing'}",
        "'200': {$ref: '#/components/responses/Gone'}",
    );
    let msg = generate_err(&text);
    assert!(
        msg.contains("getB") && msg.contains("#/components/responses/Gone"),
        "{msg}"
    );
}

#[test]
fn operation_ids_that_are_the_clients_own_methods_are_refused() {
    for id in [
        "inner",
        "client",
        "baseurl",
        "new",
        "newWithClient",
        "new_with_client",
        "apiVersion",
        "pre",
        "exec",
    ] {
        let text = jimmyai_spec().replacen(
            "operationId: createAudio",
            &format!("operationId: '{id}'"),
            1,
        );
        let msg = generate_err(&text);
        assert!(
            msg.contains(&format!("`{id}`")) && msg.contains("the generated Client already has"),
            "{id}: {msg}"
        );
        assert!(!msg.contains('\n'), "not one line: {msg}");
    }
}

#[test]
fn an_api_version_header_parameter_is_refused_naming_the_operation_and_parameter() {
    let text = jimmyai_spec().replacen(
        "      operationId: createAudio\n",
        "      operationId: createAudio\n      parameters:\n        - {name: Api-Version, in: header, schema: {type: string}}\n",
        1,
    );
    let msg = generate_err(&text);
    assert!(
        msg.contains("createAudio") && msg.contains("`Api-Version`"),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "not one line: {msg}");
}

/// A killed run can leave its temporary files beside the generated ones: `--check` fails
/// naming them, `codegen` removes them, and git ignores them.
#[test]
fn leftover_temporary_files_fail_the_check_naming_them() {
    let tree = scratch_tree("leftover");
    let dir = TARGETS
        .first()
        .and_then(|t| Path::new(t.output).parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| panic!("no targets"));
    let rel = dir.join(".codegen-AbC123.tmp");
    std::fs::write(tree.join(&rel), "half a file").unwrap_or_else(|e| panic!("{e}"));
    let (ok, stdout, stderr) = run_xtask(&tree, &["codegen", "--check"]);
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains(&rel.display().to_string()) && stderr.contains("leftover"),
        "{stderr}"
    );
    let (ok, stdout, stderr) = run_xtask(&tree, &["codegen"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("removed leftover"), "{stdout}");
    assert!(!tree.join(&rel).exists());
    let (ok, _, stderr) = run_xtask(&tree, &["codegen", "--check"]);
    assert!(ok, "{stderr}");
    let ignore = std::fs::read_to_string(root().join(".gitignore")).unwrap_or_default();
    assert!(
        ignore.lines().any(|l| l.trim() == ".codegen-*.tmp"),
        "{ignore}"
    );
    let _ = std::fs::remove_dir_all(&tree);
}

/// A rename that fails part way says which generated files were already replaced.
#[test]
fn a_rename_failing_part_way_names_the_files_already_replaced() {
    let tree = scratch_tree("rename");
    for spec in ["specs/vmeg.yaml", "specs/jimmyai.yaml"] {
        let path = tree.join(spec);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        std::fs::write(&path, text.replacen("summary:", "summary: Edited.", 1))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    // The last output is a non-empty directory: staging beside it works, renaming over it
    // does not.
    let last = TARGETS
        .last()
        .map(|t| t.mock_output)
        .unwrap_or_else(|| panic!("no targets"));
    std::fs::remove_file(tree.join(last)).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(tree.join(last).join("x")).unwrap_or_else(|e| panic!("{e}"));
    let (ok, stdout, stderr) = run_xtask(&tree, &["codegen"]);
    assert!(!ok, "{stdout}");
    let first = TARGETS
        .first()
        .map(|t| t.output)
        .unwrap_or_else(|| panic!("no targets"));
    assert!(
        stderr.contains(last) && stderr.contains("already replaced: ") && stderr.contains(first),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&tree);
}

/// The library never reads `VOICECLONE_XTASK_ROOT`: exported in a shell, it would make
/// `checked_in_generated_code_matches_the_specs` and the conformance tests check another
/// tree. Run again as a child process with the variable set to a tree that does not exist.
#[test]
fn the_library_ignores_the_root_variable() {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    if std::env::var_os(xtask::ROOT_VARIABLE).is_some() {
        assert_eq!(xtask::workspace_root(), checkout);
        return;
    }
    let me = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(me)
        .args(["--exact", "the_library_ignores_the_root_variable"])
        .env(xtask::ROOT_VARIABLE, "/nonexistent/xtask-root")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An empty `VOICECLONE_XTASK_ROOT` would mean the current directory: refused in one line.
#[test]
fn an_empty_root_variable_is_refused() {
    for value in ["", "  "] {
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["codegen", "--check"])
            .env(xtask::ROOT_VARIABLE, value)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{value:?} accepted");
        assert_eq!(
            stderr.trim_end(),
            "error: VOICECLONE_XTASK_ROOT is set but empty: unset it to work on this checkout, \
             or name a tree"
        );
    }
    assert_eq!(xtask::root_from(None).ok(), Some(xtask::workspace_root()));
}
