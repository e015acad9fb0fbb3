//! Running progenitor on a spec, and writing or checking the generated file.

use crate::shape;
use crate::spec::{self, Operation, Skipped, Spec};
use crate::targets::{TARGETS, Target};
use crate::{Result, err};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

/// The progenitor version whose output is checked in; it is recorded in every header.
pub const GENERATOR: &str = "progenitor 0.15.1";

/// Write the generated files, or only report the stale ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Write,
    Check,
}

/// One spec's generated code.
#[derive(Debug)]
pub struct Generated {
    pub code: String,
    pub operations: Vec<Operation>,
    pub skipped: Vec<Skipped>,
    /// The spec's callback operations, not generated ([`crate::spec::Spec::callbacks`]).
    pub callbacks: Vec<String>,
    /// The spec's bounds the generated types do not check
    /// ([`crate::spec::Spec::unchecked_bounds`]).
    pub unchecked_bounds: Vec<String>,
}

/// `cargo xtask codegen [--check]`.
///
/// Every file is generated before any is written, and the stale ones are written to temporary
/// files beside them before any is renamed over its file: a spec that fails to generate, or a
/// file that cannot be staged, leaves the whole tree as it was (not one vendor regenerated and
/// the other not, nor a client without its mocks). A rename that fails part way names the
/// files already replaced. Temporary files a killed run left (`.codegen-*.tmp`, ignored by
/// git) fail `--check`, naming them; a writing run removes them.
pub fn run(root: &Path, mode: Mode) -> Result<()> {
    // (output, code, what) for every generated file, in target order.
    let mut outputs: Vec<(&str, String, String)> = Vec::new();
    for target in TARGETS {
        let generated = generate_target(root, target)?;
        for s in &generated.skipped {
            println!(
                "skipped {}: {} (left out of generation: {})",
                target.spec, s.operation, s.reason
            );
        }
        // Printed as skipped operations are: nothing is left out silently.
        for c in &generated.callbacks {
            println!("not generated {}: callback {c}", target.spec);
        }
        for b in &generated.unchecked_bounds {
            println!("not checked by the generated types {}: {b}", target.spec);
        }
        let mocks = crate::mock::generate_target(root, target)?;
        let what = format!(
            "{} operations from {}",
            generated.operations.len(),
            target.spec
        );
        outputs.push((target.output, generated.code, what.clone()));
        outputs.push((target.mock_output, mocks, what));
    }
    let mut stale = Vec::new();
    for (output, code, what) in &outputs {
        let current = std::fs::read_to_string(root.join(output)).ok();
        if current.as_deref() == Some(code.as_str()) {
            println!("up to date {output} ({what})");
        } else {
            stale.push((*output, code.as_str(), what.as_str()));
        }
    }
    // Temporary files a killed run left beside the generated files.
    let leftover = leftover_temporaries(root);
    if mode == Mode::Check && !leftover.is_empty() {
        return err(format!(
            "leftover temporary file(s) of an interrupted `cargo xtask codegen`, delete them: {}",
            leftover.join(", ")
        ));
    }
    for rel in &leftover {
        // Write mode: they are this command's own, from an interrupted run.
        match std::fs::remove_file(root.join(rel)) {
            Ok(()) => println!("removed leftover {rel}"),
            Err(e) => {
                return err(format!(
                    "{rel}: cannot remove a leftover temporary file: {e}"
                ));
            }
        }
    }
    match mode {
        Mode::Check if stale.is_empty() => Ok(()),
        Mode::Check => err(format!(
            "stale generated file(s), run `cargo xtask codegen`: {}",
            stale
                .iter()
                .map(|(output, _, _)| *output)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Mode::Write => write_all(root, &stale),
    }
}

/// The prefix and suffix of the temporary files [`stage`] writes beside a generated file.
const TEMP_PREFIX: &str = ".codegen-";
const TEMP_SUFFIX: &str = ".tmp";

/// Temporary files of the staging step (`.codegen-*.tmp`) in the directories of the
/// generated files, relative to `root`, sorted: a run killed between staging and renaming
/// leaves them.
pub fn leftover_temporaries(root: &Path) -> Vec<String> {
    let mut dirs: Vec<&str> = TARGETS
        .iter()
        .flat_map(|t| t.outputs())
        .filter_map(|o| Path::new(o).parent().and_then(Path::to_str))
        .collect();
    dirs.sort_unstable();
    dirs.dedup();
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX) {
                out.push(format!("{dir}/{name}"));
            }
        }
    }
    out.sort();
    out
}

/// Writes every `(output, code, what)`: all staged first (a temporary file beside each, which
/// is removed again when staging another fails), then each renamed over its file.
fn write_all(root: &Path, files: &[(&str, &str, &str)]) -> Result<()> {
    let mut staged = Vec::new();
    for (output, code, what) in files {
        let out_path = root.join(output);
        match stage(&out_path, code) {
            Ok(tmp) => staged.push((tmp, out_path, *output, *what, code.len())),
            Err(e) => {
                return err(format!("{output}: cannot write: {e} (nothing was written)"));
            }
        }
    }
    let mut replaced: Vec<&str> = Vec::new();
    for (tmp, out_path, output, what, len) in staged {
        if let Err(e) = tmp.persist(&out_path) {
            // The temporary files not yet renamed are removed when dropped.
            return err(format!(
                "{output}: cannot write: {} (already replaced: {}; every other generated file is as it was: fix the cause and run `cargo xtask codegen` again)",
                e.error,
                if replaced.is_empty() {
                    "none".to_string()
                } else {
                    replaced.join(", ")
                }
            ));
        }
        replaced.push(output);
        println!("wrote {output} ({what}, {len} bytes)");
    }
    Ok(())
}

/// Writes `contents` to a temporary file in `path`'s directory, to be renamed over `path`
/// (`persist`): an interrupted run (Ctrl-C, a full disk) never leaves a half-written generated
/// file, which would not compile and would look like a hand edit to `--check`. The file gets
/// the permissions `path` has.
fn stage(path: &Path, contents: &str) -> std::io::Result<tempfile::NamedTempFile> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)?;
    tmp.write_all(contents.as_bytes())?;
    tmp.as_file().sync_all()?;
    match std::fs::metadata(path) {
        Ok(existing) => tmp.as_file().set_permissions(existing.permissions())?,
        // A new file gets what `std::fs::write` would have given it, not the temporary
        // file's owner-only mode.
        #[cfg(unix)]
        Err(_) => {
            use std::os::unix::fs::PermissionsExt as _;
            let readable = std::fs::Permissions::from_mode(0o644);
            tmp.as_file().set_permissions(readable)?
        }
        #[cfg(not(unix))]
        Err(_) => {}
    }
    Ok(tmp)
}

/// Generates one target's file content from its spec on disk.
pub fn generate_target(root: &Path, target: &Target) -> Result<Generated> {
    let text = match std::fs::read_to_string(root.join(target.spec)) {
        Ok(t) => t,
        Err(e) => return err(format!("{}: cannot read: {e}", target.spec)),
    };
    generate(target.spec, &text)
}

/// Generates the client code for a spec's text. `name` is used in messages and the header.
pub fn generate(name: &str, text: &str) -> Result<Generated> {
    let Prepared {
        spec,
        openapi,
        notes: shaping_notes,
    } = prepare(name, text)?;
    let tokens = match run_progenitor(&openapi) {
        Ok(t) => t,
        Err(msg) => return err(narrow_failure(&spec, &msg)),
    };
    let mut file: syn::File = match syn::parse2(tokens) {
        Ok(f) => f,
        Err(e) => return err(format!("{name}: progenitor produced unparsable code: {e}")),
    };
    apply_rewrites(&spec, &mut file)?;
    let plain = plain_lists(&mut file);
    let glue = match syn::parse_str::<syn::File>(&glue(&spec.operations)) {
        Ok(g) => g,
        Err(e) => return err(format!("{name}: the xtask's glue does not parse: {e}")),
    };
    file.items.extend(glue.items);
    let body = prettyplease::unparse(&file);
    let mut notes = vec![
        "the `Client` carries a `client_glue::ClientConfig`; its `ClientHooks` impl (below) adds the bearer header, sets each operation's timeout and bounds the response body".to_string(),
        "progenitor's panicking `Client::new` is removed; `connect` is the fallible constructor".to_string(),
        "progenitor's `api-version` header (neither vendor documents it) is not added".to_string(),
        "request URLs come from `client_glue::hooks::request_url` (the base URL parsed once, the operation's path appended; a path without parameters is built once, by `static_request_url`; a trailing plain path parameter is appended to a prefix built once, by `template_request_url`; path parameters are encoded by `client_glue::hooks::encode_segment`, progenitor's `encode_path` plus `\\` (which http(s) URLs read as `/`), without a new string when there is nothing to encode; a parameter that would make an empty, `.` or `..` segment is refused with `Error::InvalidRequest`) instead of a string reqwest parses on every call".to_string(),
        "header parameters are added with `RequestBuilder::header` instead of a header map merged into the request (when every one is required and none is a header the request already has), and operations without header parameters build no (empty) header map".to_string(),
        "2xx answers are read by `client_glue::hooks::decode` (progenitor's `ResponseValue::from_response` with the same errors, the headers moved instead of copied, the config's text filter applied)".to_string(),
        "`Client`'s `Debug` is the glue's, not derived: it prints the base URL without credentials, query or fragment (`client_glue::printable_url`)".to_string(),
    ];
    if plain > 0 {
        notes.push(format!(
            "optional `client_glue::List` fields ({plain}) are plain ones with `#[serde(default)]`: `null`, absence and a value that is not an array all read as an empty list, so there is no `None` to tell apart"
        ));
    }
    notes.extend(shaping_notes);
    let code = format!(
        "// @generated by `cargo xtask codegen` from {name}. Do not edit by hand:\n\
         // edit the spec (or xtask/) and run `cargo xtask codegen`.\n\
         // spec-sha256: {sha}\n\
         // generator: {GENERATOR}\n\
         // Skipped operations: {skipped}\n\
         // Not generated: callback operations {callbacks}\n\
         // Not checked by the generated types (typify drops these bounds; voiceclone's rules, crates/voiceclone/src/provider/*/rules.rs, check them, and serde_json sends a non-finite number as `null`): {bounds}\n\
         // What the xtask changed between the spec and progenitor (xtask/src/shape.rs, codegen.rs):\n\
         {notes}\n\n{body}",
        sha = spec.sha256,
        skipped = if spec.skipped.is_empty() {
            "none".to_string()
        } else {
            spec.skipped
                .iter()
                .map(|s| s.operation.id.clone())
                .collect::<Vec<_>>()
                .join(", ")
        },
        callbacks = if spec.callbacks.is_empty() {
            "none".to_string()
        } else {
            format!(
                "{} (requests the vendor sends; voiceclone's webhook module reads them)",
                spec.callbacks.join(", ")
            )
        },
        bounds = if spec.unchecked_bounds.is_empty() {
            "none".to_string()
        } else {
            spec.unchecked_bounds.join("; ")
        },
        notes = notes
            .iter()
            .map(|n| format!("// - {n}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    Ok(Generated {
        code,
        operations: spec.operations,
        skipped: spec.skipped,
        callbacks: spec.callbacks,
        unchecked_bounds: spec.unchecked_bounds,
    })
}

/// Applies the rewrites of progenitor's output, failing unless each changed as many places as
/// the operations of `spec` require.
fn apply_rewrites(spec: &Spec, file: &mut syn::File) -> Result<()> {
    let applied = Rewrites {
        constructors: remove_panicking_constructor(file),
        urls: prebuilt_urls(file),
        api_version_headers: drop_api_version_header(file),
        inlined_header_maps: inline_header_params(file),
        empty_header_maps: drop_empty_header_maps(file),
        decodes: glue_decoding(file),
        client_debug: underive_client_debug(file),
    };
    let expected = Rewrites::expected(spec);
    if applied != expected {
        return err(format!(
            "{}: the xtask's rewrites of progenitor's output did not apply as the operations \
             require (progenitor's output changed, or the spec has a layout the xtask does not \
             know): {}",
            spec.name,
            expected.mismatches(&applied)
        ));
    }
    Ok(())
}

/// How many places each rewrite of progenitor's output changed; [`Rewrites::expected`] is
/// how many the operations of a spec require, and `generate` fails when they differ, so a
/// rewrite that silently stops matching (a new progenitor, a new spec layout) is an error,
/// not a header note about something that did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewrites {
    /// Progenitor's panicking `Client::new` removed: one.
    pub constructors: usize,
    /// Request URLs built by `client_glue::hooks`: one per operation.
    pub urls: usize,
    /// `api-version` header appends removed: one per operation.
    pub api_version_headers: usize,
    /// Header maps replaced by `RequestBuilder::header`: one per operation whose header
    /// parameters are all required (at least one, none named `Accept` or `Content-Type`).
    pub inlined_header_maps: usize,
    /// Empty header maps removed: one per operation without header parameters.
    pub empty_header_maps: usize,
    /// Answers decoded by `client_glue::hooks::decode`: one per 2xx response with a JSON
    /// schema (failure responses are undeclared by the shaping, shape.rs).
    pub decodes: usize,
    /// `Debug` taken off the `Client`'s derive (the glue's own prints the base URL without
    /// credentials or query): one.
    pub client_debug: usize,
}

impl Rewrites {
    /// What the operations of `spec` (shaped) require.
    pub fn expected(spec: &Spec) -> Rewrites {
        let mut expected = Rewrites {
            constructors: 1,
            urls: spec.operations.len(),
            api_version_headers: spec.operations.len(),
            inlined_header_maps: 0,
            empty_header_maps: 0,
            decodes: 0,
            client_debug: 1,
        };
        for op in &spec.operations {
            let item = spec
                .json
                .get("paths")
                .and_then(|p| p.get(&op.path))
                .unwrap_or(&serde_json::Value::Null);
            let operation = item.get(&op.method).unwrap_or(&serde_json::Value::Null);
            let headers =
                crate::refs::header_parameters(&spec.json, item.get("parameters"), operation);
            if headers.is_empty() {
                expected.empty_header_maps += 1;
            } else if headers.iter().all(|(name, required)| {
                *required
                    && !name.eq_ignore_ascii_case("accept")
                    && !name.eq_ignore_ascii_case("content-type")
            }) {
                expected.inlined_header_maps += 1;
            }
            let responses = operation.get("responses").and_then(|r| r.as_object());
            for (status, response) in responses.into_iter().flatten() {
                let response = crate::refs::deref(&spec.json, response);
                let json_schema = response
                    .pointer("/content/application~1json/schema")
                    .is_some();
                if status.starts_with('2') && json_schema {
                    expected.decodes += 1;
                }
            }
        }
        expected
    }

    /// `name: applied N, required M` for each count that differs.
    fn mismatches(&self, applied: &Rewrites) -> String {
        let rows = [
            (
                "panicking constructor removed",
                self.constructors,
                applied.constructors,
            ),
            ("request URLs prebuilt", self.urls, applied.urls),
            (
                "api-version headers dropped",
                self.api_version_headers,
                applied.api_version_headers,
            ),
            (
                "header maps inlined",
                self.inlined_header_maps,
                applied.inlined_header_maps,
            ),
            (
                "empty header maps dropped",
                self.empty_header_maps,
                applied.empty_header_maps,
            ),
            (
                "answers decoded by client_glue",
                self.decodes,
                applied.decodes,
            ),
            (
                "derived Client Debug replaced",
                self.client_debug,
                applied.client_debug,
            ),
        ];
        rows.iter()
            .filter(|(_, want, got)| want != got)
            .map(|(what, want, got)| format!("{what}: applied {got}, required {want}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A spec loaded, checked and shaped: what progenitor is given, for the client and its mocks.
#[derive(Debug)]
pub struct Prepared {
    /// The checked spec, its JSON shaped (skipped operations removed).
    pub spec: Spec,
    /// The shaped document, as progenitor reads it.
    pub openapi: openapiv3::OpenAPI,
    /// What the shaping changed, one line each, for the generated file's header.
    pub notes: Vec<String>,
}

/// Loads, checks and shapes a spec's text. `name` is used in messages.
pub fn prepare(name: &str, text: &str) -> Result<Prepared> {
    let mut spec = spec::load(name, text)?;
    let shaped = match shape::for_progenitor(&spec.json) {
        Ok(shaped) => shaped,
        Err(msg) => return err(format!("{name}: {msg}")),
    };
    spec.json = shaped.json;
    let openapi = match spec::openapi_document(spec.json.clone()) {
        Ok(v) => v,
        Err(e) => return err(format!("{name}: shaping made an invalid document: {e}")),
    };
    Ok(Prepared {
        spec,
        openapi,
        notes: shaped.notes,
    })
}

/// The leading path segments every operation shares, before its own last segment and any
/// `{parameter}`, as `/a/b` (empty when they share none).
fn route_root(operations: &[Operation]) -> String {
    let mut common: Option<Vec<&str>> = None;
    for op in operations {
        let mut segments: Vec<&str> = op.path.split('/').filter(|s| !s.is_empty()).collect();
        segments.pop();
        let fixed = segments.into_iter().take_while(|s| !s.contains('{'));
        common = Some(match common {
            None => fixed.collect(),
            Some(so_far) => so_far
                .into_iter()
                .zip(fixed)
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a)
                .collect(),
        });
    }
    common
        .unwrap_or_default()
        .iter()
        .map(|s| format!("/{s}"))
        .collect()
}

/// The name progenitor gives an operation's method (and its `OperationInfo::operation_id`).
pub fn rust_name(operation_id: &str) -> String {
    heck::ToSnakeCase::to_snake_case(operation_id)
}

/// The hand-written part every generated client gets, written once here: the hooks, the
/// operation table and the fallible constructor.
fn glue(operations: &[Operation]) -> String {
    let rows: String = operations
        .iter()
        .map(|op| {
            format!(
                "    Operation {{ id: {:?}, rust_name: {:?}, method: {:?}, path: {:?} }},\n",
                op.id,
                rust_name(&op.id),
                op.method.to_uppercase(),
                op.path
            )
        })
        .collect();
    let timeouts: String = operations
        .iter()
        .filter_map(|op| {
            op.timeout_seconds.map(|secs| {
                format!(
                    "    ({:?}, std::time::Duration::from_secs({secs})),\n",
                    rust_name(&op.id)
                )
            })
        })
        .collect();
    let root = route_root(operations);
    format!(
        r#"
impl ClientHooks<::client_glue::ClientConfig> for Client {{
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        info: &OperationInfo,
    ) -> std::result::Result<(), Error<E>> {{
        ::client_glue::hooks::prepare(self.inner(), request, info);
        Ok(())
    }}

    async fn exec(
        &self,
        request: reqwest::Request,
        _info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {{
        ::client_glue::hooks::execute(self.client(), self.inner(), request).await
    }}
}}

/// The base URL without credentials or query (`client_glue::printable_url`): it may carry a
/// password or a token.
impl std::fmt::Debug for Client {{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {{
        f.debug_struct("Client")
            .field("baseurl", &::client_glue::printable_url(&self.baseurl))
            .field("client", &self.client)
            .field("inner", &self.inner)
            .finish()
    }}
}}

/// One operation of the spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {{
    /// The spec's `operationId`.
    pub id: &'static str,
    /// The generated method's name, also `OperationInfo::operation_id` in hooks.
    pub rust_name: &'static str,
    /// The HTTP method.
    pub method: &'static str,
    /// The path template.
    pub path: &'static str,
}}

/// The path every operation's route starts with (its leading segments in common): a base
/// URL goes before it and must not end with it.
pub const ROUTE_ROOT: &str = {root:?};

/// Every generated operation, in spec order.
pub const OPERATIONS: &[Operation] = &[
{rows}];

/// The operation whose method (or `OperationInfo::operation_id`) is `rust_name`.
pub fn operation(rust_name: &str) -> Option<&'static Operation> {{
    OPERATIONS.iter().find(|op| op.rust_name == rust_name)
}}

/// The operations (by method name) whose timeout is their own rather than
/// `client_glue::DEFAULT_TIMEOUT` (the spec's `x-voiceclone-timeout-seconds`); [`connect`] and
/// [`config`] give it them.
pub const OPERATION_TIMEOUTS: &[(&str, std::time::Duration)] = &[
{timeouts}];

/// The configuration [`connect`] uses: `client_glue::ClientConfig::bearer(api_key)` (the key
/// sent as `Authorization: Bearer`, and removed from every answer), 30 s per call except the
/// operations of [`OPERATION_TIMEOUTS`], bodies up to 4 MiB. Change it and pass it to
/// `Client::new_with_client`.
pub fn config(api_key: &str) -> std::result::Result<::client_glue::ClientConfig, ::client_glue::ConnectError> {{
    let mut config = ::client_glue::ClientConfig::bearer(api_key)?;
    for &(operation, timeout) in OPERATION_TIMEOUTS {{
        config = config.with_operation_timeout(operation, timeout);
    }}
    Ok(config)
}}

/// `config` with `timeout` for the operation whose method is `rust_name`, or
/// `client_glue::UnknownOperation` when this client has no such operation (a timeout kept
/// under a name no call uses would never apply).
pub fn with_operation_timeout(
    config: ::client_glue::ClientConfig,
    rust_name: &str,
    timeout: std::time::Duration,
) -> std::result::Result<::client_glue::ClientConfig, ::client_glue::UnknownOperation> {{
    config.try_with_operation_timeout(OPERATIONS.iter().map(|op| op.rust_name), rust_name, timeout)
}}

/// A client for `base_url` with [`config`]`(api_key)` (the key sent as
/// `Authorization: Bearer` and removed from every answer; 30 s per call except the
/// operations of [`OPERATION_TIMEOUTS`]; bodies up to 4 MiB) and `client_glue::http_client`
/// (no redirects). For other settings, change [`config`]'s result and use
/// `Client::new_with_client`.
pub fn connect(base_url: &str, api_key: &str) -> std::result::Result<Client, ::client_glue::ConnectError> {{
    Ok(Client::new_with_client(base_url, ::client_glue::http_client()?, config(api_key)?))
}}
"#
    )
}

/// Runs progenitor, turning both its errors and its panics into a message.
fn run_progenitor(
    openapi: &openapiv3::OpenAPI,
) -> std::result::Result<proc_macro2::TokenStream, String> {
    let settings = settings();
    let mut generator = progenitor::Generator::new(&settings);
    catching_panics(|| generator.generate_tokens(openapi))
}

/// progenitor's settings for this workspace's clients. The mocks are generated with the same
/// settings, so that their types are the clients' types.
pub(crate) fn settings() -> progenitor::GenerationSettings {
    let mut settings = progenitor::GenerationSettings::new();
    // The generated `Client` carries a `client_glue::ClientConfig`, and the glue below
    // implements `ClientHooks` to add the bearer header per request: auth then works with any
    // `reqwest::Client` a caller passes in, and the key is never a default header.
    settings
        .with_interface(progenitor::InterfaceStyle::Positional)
        .with_tag(progenitor::TagStyle::Merged)
        .with_inner_type(quote::quote!(::client_glue::ClientConfig))
        .with_hooks(progenitor::HooksMode::Expected);
    // Answers' arrays name `client_glue::List<T>` through typify's `x-rust-type` extension
    // (shape.rs); typify uses a named crate's types instead of generating them.
    settings.with_crate(shape::LIST_CRATE, progenitor::CrateVers::Any, None);
    for (name, path) in shape::REPLACEMENTS {
        let impls = [progenitor::TypeImpl::Default];
        settings.with_replacement(name, path, impls.into_iter());
    }
    settings
}

/// The panic hook in force, shared with the quiet hook that stands in for it meanwhile.
type SharedHook = Arc<Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Send + Sync + 'static>>;

/// Held while [`catching_panics`] has swapped the process-wide panic hook: callers on
/// several threads (tests run in parallel) take turns, so one never takes another's quiet
/// hook for the original and puts it back for good.
static HOOK_SWAP: Mutex<()> = Mutex::new(());

/// Runs one progenitor generation, turning both its errors and its panics into a message.
pub(crate) fn catching_panics(
    generate: impl FnOnce() -> std::result::Result<proc_macro2::TokenStream, progenitor::Error>,
) -> std::result::Result<proc_macro2::TokenStream, String> {
    // progenitor reports some spec problems by panicking; keep its message, drop the trace.
    // The hook is process-wide: only this thread's panics are kept quiet, another thread's
    // still reach the hook that was there.
    let outcome = {
        let _turn = HOOK_SWAP.lock().unwrap_or_else(PoisonError::into_inner);
        let previous: SharedHook = Arc::new(std::panic::take_hook());
        let others = Arc::clone(&previous);
        let quiet_on = std::thread::current().id();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current().id() != quiet_on {
                others(info);
            }
        }));
        let outcome = catch_unwind(AssertUnwindSafe(generate));
        // Dropping the quiet hook drops its share of the previous one, which then goes back
        // as it was.
        drop(std::panic::take_hook());
        match Arc::try_unwrap(previous) {
            Ok(hook) => std::panic::set_hook(hook),
            Err(shared) => std::panic::set_hook(Box::new(move |info| shared(info))),
        }
        outcome
    };
    match outcome {
        Ok(Ok(tokens)) => Ok(tokens),
        Ok(Err(e)) => Err(one_line(&e.to_string())),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(format!("progenitor panicked: {}", one_line(&msg)))
        }
    }
}

/// The most of a progenitor message kept, in characters.
const MESSAGE_CHARS: usize = 300;

/// `msg` as one line of at most [`MESSAGE_CHARS`] characters (then `…`): typify pretty-prints
/// the schema it fails on with `{:#?}`, dozens of lines, and an error is one line per problem.
fn one_line(msg: &str) -> String {
    let mut line = msg.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some((end, _)) = line.char_indices().nth(MESSAGE_CHARS) {
        line.truncate(end);
        line.push('…');
    }
    line
}

/// Reruns progenitor to name what it fails on: first on the components alone (progenitor
/// converts every component schema, used or not, so blaming an operation for one would send
/// the reader to the wrong place), then one operation at a time.
fn narrow_failure(spec: &Spec, whole_msg: &str) -> String {
    if let Some(msg) = component_failure(spec) {
        return msg;
    }
    for op in &spec.operations {
        let mut single = spec.json.clone();
        if let Some(paths) = single.get_mut("paths").and_then(|p| p.as_object_mut()) {
            for (path, item) in paths.iter_mut() {
                if let Some(item) = item.as_object_mut() {
                    item.retain(|k, _| *path == op.path && *k == op.method || !is_method(k));
                }
            }
        }
        let Ok(openapi) = serde_json::from_value::<openapiv3::OpenAPI>(single) else {
            continue;
        };
        if let Err(msg) = run_progenitor(&openapi) {
            return format!("{}: operation {op}: {msg}", spec.name);
        }
    }
    format!("{}: {whole_msg}", spec.name)
}

/// progenitor's message on the spec with no operations, naming the component schema whose
/// replacement by `{}` (any value) lets it pass (or "a component schema" when no single one
/// does), or `None` when the components alone generate. Replaced, not removed: a schema
/// another one refers to would leave that `$ref` dangling, and the fault unnamed.
fn component_failure(spec: &Spec) -> Option<String> {
    let mut bare = spec.json.clone();
    if let Some(paths) = bare.get_mut("paths") {
        *paths = serde_json::Value::Object(serde_json::Map::new());
    }
    let msg = match progenitor_on(bare.clone()) {
        Ok(()) => return None,
        // A document that only fails to deserialize without its operations says nothing
        // about the components.
        Err(None) => return None,
        Err(Some(msg)) => msg,
    };
    let names: Vec<String> = bare
        .pointer("/components/schemas")
        .and_then(|s| s.as_object())
        .map(|s| s.keys().cloned().collect())
        .unwrap_or_default();
    for name in names {
        let mut without = bare.clone();
        if let Some(schemas) = without
            .pointer_mut("/components/schemas")
            .and_then(|s| s.as_object_mut())
        {
            schemas.insert(name.clone(), serde_json::json!({}));
        }
        if progenitor_on(without).is_ok() {
            return Some(format!("{}: component schema {name}: {msg}", spec.name));
        }
    }
    Some(format!("{}: a component schema: {msg}", spec.name))
}

/// Runs progenitor on a JSON document: `Err(None)` when it is not an OpenAPI document,
/// `Err(Some(message))` when progenitor fails on it.
fn progenitor_on(json: serde_json::Value) -> std::result::Result<(), Option<String>> {
    let Ok(openapi) = serde_json::from_value::<openapiv3::OpenAPI>(json) else {
        return Err(None);
    };
    run_progenitor(&openapi).map(drop).map_err(Some)
}

fn is_method(key: &str) -> bool {
    matches!(
        key,
        "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace"
    )
}

/// progenitor's `Client::new` unwraps `reqwest::ClientBuilder::build()`, which panics when no
/// TLS crypto provider is installed (we build reqwest with ring and no default provider). The
/// generated crates offer a fallible constructor instead, so the panicking one is removed.
fn remove_panicking_constructor(file: &mut syn::File) -> usize {
    let mut removed = 0;
    for item in &mut file.items {
        let syn::Item::Impl(imp) = item else { continue };
        if imp.trait_.is_some() {
            continue;
        }
        let is_client = matches!(&*imp.self_ty, syn::Type::Path(p) if p.path.is_ident("Client"));
        if !is_client {
            continue;
        }
        let before = imp.items.len();
        imp.items
            .retain(|i| !matches!(i, syn::ImplItem::Fn(f) if f.sig.ident == "new"));
        removed += before - imp.items.len();
    }
    removed
}

/// progenitor derives `Debug` for `Client`, which prints `baseurl` as given: a base URL may
/// carry credentials (`https://user:secret@host`) or a token in its query. The derive loses
/// `Debug`; the glue implements it, printing `client_glue::printable_url(&self.baseurl)`.
fn underive_client_debug(file: &mut syn::File) -> usize {
    let mut changed = 0;
    for item in &mut file.items {
        let syn::Item::Struct(st) = item else {
            continue;
        };
        if st.ident != "Client" {
            continue;
        }
        for attr in &mut st.attrs {
            if !attr.path().is_ident("derive") {
                continue;
            }
            let Ok(paths) = attr.parse_args_with(
                syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
            ) else {
                continue;
            };
            let kept: Vec<&syn::Path> = paths.iter().filter(|p| !p.is_ident("Debug")).collect();
            if kept.len() == paths.len() {
                continue;
            }
            *attr = syn::parse_quote!(#[derive(#(#kept),*)]);
            changed += 1;
        }
    }
    changed
}

/// `let url = format!("{}/path/{}", self.baseurl, args..)` becomes
/// `let url = ::client_glue::hooks::request_url(&self.baseurl, self.inner(), &format!("/path/{}", args..))?`:
/// the same URL, without reqwest parsing the whole of it again on every call (about 12,000
/// instructions per call, BENCHMARKS.md). A path without parameters becomes
/// `::client_glue::hooks::static_request_url(&self.baseurl, self.inner(), "/path")?`, built
/// once per client (about 2,500 more); one with parameters
/// `::client_glue::hooks::template_request_url(&self.baseurl, self.inner(), "/path/{}", &[args..])?`
/// (a trailing plain segment is appended to the URL of `/path`, built once per client), its
/// arguments encoded by `client_glue::hooks::encode_segment` (progenitor's `encode_path` plus
/// `\`, without a new string when there is nothing to encode); an argument that would make an
/// empty, `.` or `..` segment is refused there.
fn prebuilt_urls(file: &mut syn::File) -> usize {
    use syn::punctuated::Punctuated;
    use syn::visit_mut::VisitMut;
    use syn::{Expr, Token};

    /// `encode_path(x)` becomes `::client_glue::hooks::encode_segment(x)`: the same text with
    /// `\` encoded too, without a new string when there is nothing to encode.
    fn glue_encoding(arg: Expr) -> Expr {
        if let Expr::Call(call) = &arg
            && let Expr::Path(func) = &*call.func
            && func.path.is_ident("encode_path")
            && call.args.len() == 1
        {
            let inner = &call.args[0];
            return syn::parse_quote!(::client_glue::hooks::encode_segment(#inner));
        }
        arg
    }

    struct Rewrite(usize);
    impl VisitMut for Rewrite {
        fn visit_local_mut(&mut self, local: &mut syn::Local) {
            let is_url = matches!(&local.pat, syn::Pat::Ident(p) if p.ident == "url");
            if is_url
                && let Some(init) = &mut local.init
                && let Expr::Macro(m) = &*init.expr
                && m.mac.path.is_ident("format")
                && let Ok(args) = m
                    .mac
                    .parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated)
            {
                let mut args = args.into_iter();
                if let (Some(Expr::Lit(lit)), Some(base)) = (args.next(), args.next())
                    && let syn::Lit::Str(fmt) = &lit.lit
                    && let Some(rest) = fmt.value().strip_prefix("{}")
                    && quote::quote!(#base).to_string() == "self . baseurl"
                {
                    let rest_args: Vec<Expr> = args.map(glue_encoding).collect();
                    // Only plain `{}` placeholders, one per argument (no escaped braces).
                    let placeholders = rest.matches("{}").count();
                    let plain = rest.matches(['{', '}']).count() == 2 * placeholders
                        && placeholders == rest_args.len();
                    let rest = syn::LitStr::new(rest, fmt.span());
                    self.0 += 1;
                    *init.expr = if rest_args.is_empty() && plain {
                        // No parameter: the URL is built once per client.
                        syn::parse_quote!(::client_glue::hooks::static_request_url(
                            &self.baseurl,
                            self.inner(),
                            #rest,
                        )?)
                    } else if plain {
                        // The template and its (encoded) arguments: a trailing plain segment
                        // is appended to a URL built once per client.
                        syn::parse_quote!(::client_glue::hooks::template_request_url(
                            &self.baseurl,
                            self.inner(),
                            #rest,
                            &[#(&*(#rest_args)),*],
                        )?)
                    } else {
                        syn::parse_quote!(::client_glue::hooks::request_url(
                            &self.baseurl,
                            self.inner(),
                            &format!(#rest, #(#rest_args),*),
                        )?)
                    };
                }
            }
            syn::visit_mut::visit_local_mut(self, local);
        }
    }
    let mut rewrite = Rewrite(0);
    rewrite.visit_file_mut(file);
    rewrite.0
}

/// Removes the statements that append progenitor's `api-version` header: neither vendor
/// documents it, and adding it to remove it in a hook costs every call.
fn drop_api_version_header(file: &mut syn::File) -> usize {
    use syn::visit_mut::VisitMut;

    struct Drop(usize);
    impl VisitMut for Drop {
        fn visit_block_mut(&mut self, block: &mut syn::Block) {
            let before = block.stmts.len();
            block.stmts.retain(|stmt| {
                let text = quote::quote!(#stmt).to_string();
                !(text.starts_with("header_map . append") && text.contains("\"api-version\""))
            });
            self.0 += before - block.stmts.len();
            syn::visit_mut::visit_block_mut(self, block);
        }
    }
    let mut drop = Drop(0);
    drop.visit_file_mut(file);
    drop.0
}

/// In a method whose header map stays empty (no header parameter; the `api-version` header is
/// already gone), `let mut header_map = HeaderMap::with_capacity(..);` and
/// `.headers(header_map)` are removed: an empty map allocated, merged and dropped on every
/// call.
fn drop_empty_header_maps(file: &mut syn::File) -> usize {
    use syn::visit_mut::VisitMut;

    fn is_header_map_local(stmt: &syn::Stmt) -> bool {
        matches!(stmt, syn::Stmt::Local(l)
            if matches!(&l.pat, syn::Pat::Ident(p) if p.ident == "header_map"))
    }

    struct Unmerge;
    impl VisitMut for Unmerge {
        fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
            if let syn::Expr::MethodCall(call) = expr
                && call.method == "headers"
                && call.args.len() == 1
                && matches!(call.args.first(), Some(syn::Expr::Path(p)) if p.path.is_ident("header_map"))
            {
                let receiver = (*call.receiver).clone();
                *expr = receiver;
                self.visit_expr_mut(expr);
                return;
            }
            syn::visit_mut::visit_expr_mut(self, expr);
        }
    }

    struct Drop(usize);
    impl VisitMut for Drop {
        fn visit_block_mut(&mut self, block: &mut syn::Block) {
            if block.stmts.iter().any(is_header_map_local) {
                let uses = block
                    .stmts
                    .iter()
                    .filter(|stmt| !is_header_map_local(stmt))
                    .map(|stmt| quote::quote!(#stmt).to_string())
                    .filter(|text| text.contains("header_map"))
                    .collect::<Vec<_>>();
                // Only `.headers(header_map)` may use it: no append, no other use.
                let only_merged = uses.len() == 1
                    && uses[0].matches("header_map").count() == 1
                    && uses[0].contains(". headers (header_map)");
                if only_merged {
                    self.0 += 1;
                    block.stmts.retain(|stmt| !is_header_map_local(stmt));
                    for stmt in &mut block.stmts {
                        Unmerge.visit_stmt_mut(stmt);
                    }
                }
            }
            syn::visit_mut::visit_block_mut(self, block);
        }
    }
    let mut drop = Drop(0);
    drop.visit_file_mut(file);
    drop.0
}

/// `ResponseValue::from_response(response).await` becomes
/// `::client_glue::hooks::decode(self.inner(), response).await`: the same value and errors,
/// without copying the headers, with the client's text filter applied.
fn glue_decoding(file: &mut syn::File) -> usize {
    use syn::visit_mut::VisitMut;

    struct Rewrite(usize);
    impl VisitMut for Rewrite {
        fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
            if let syn::Expr::Await(awaited) = expr
                && let syn::Expr::Call(call) = &*awaited.base
                && let syn::Expr::Path(func) = &*call.func
                && quote::quote!(#func).to_string() == "ResponseValue :: from_response"
                && call.args.len() == 1
            {
                let response = &call.args[0];
                self.0 += 1;
                *expr =
                    syn::parse_quote!(::client_glue::hooks::decode(self.inner(), #response).await);
                return;
            }
            syn::visit_mut::visit_expr_mut(self, expr);
        }
    }
    let mut rewrite = Rewrite(0);
    rewrite.visit_file_mut(file);
    rewrite.0
}

/// In a method whose header parameters are all required,
/// `let mut header_map = ..; header_map.append("Name", value.try_into()?); .. .headers(header_map)`
/// becomes `.header("Name", HeaderValue::try_from(value)?)` where `.headers(header_map)` was:
/// the same headers in the same order, without a map allocated, merged and dropped on every
/// call. `.headers` replaces headers of the same name, `.header` appends, so a block where a
/// parameter is named like a header the request already has (`Accept`, `Content-Type`) is
/// left as it is, as is one with an optional header (appended under an `if`).
fn inline_header_params(file: &mut syn::File) -> usize {
    use syn::visit_mut::VisitMut;
    use syn::{Expr, Stmt};

    fn is_header_map_local(stmt: &Stmt) -> bool {
        matches!(stmt, Stmt::Local(l)
            if matches!(&l.pat, syn::Pat::Ident(p) if p.ident == "header_map"))
    }

    /// `header_map.append("Name", <value>.try_into()?);` as the name and `<value>`.
    fn append(stmt: &Stmt) -> Option<(syn::LitStr, Expr)> {
        let Stmt::Expr(Expr::MethodCall(call), Some(_)) = stmt else {
            return None;
        };
        let Expr::Path(receiver) = &*call.receiver else {
            return None;
        };
        if !receiver.path.is_ident("header_map") || call.method != "append" || call.args.len() != 2
        {
            return None;
        }
        let Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(name),
            ..
        }) = &call.args[0]
        else {
            return None;
        };
        let Expr::Try(tried) = &call.args[1] else {
            return None;
        };
        let Expr::MethodCall(into) = &*tried.expr else {
            return None;
        };
        if into.method != "try_into" || !into.args.is_empty() {
            return None;
        }
        Some((name.clone(), (*into.receiver).clone()))
    }

    struct Inline(Vec<(syn::LitStr, Expr)>);
    impl VisitMut for Inline {
        fn visit_expr_mut(&mut self, expr: &mut Expr) {
            if let Expr::MethodCall(call) = expr
                && call.method == "headers"
                && call.args.len() == 1
                && matches!(call.args.first(), Some(Expr::Path(p)) if p.path.is_ident("header_map"))
            {
                let mut chain = (*call.receiver).clone();
                self.visit_expr_mut(&mut chain);
                for (name, value) in &self.0 {
                    chain = syn::parse_quote!(#chain.header(
                        #name,
                        ::reqwest::header::HeaderValue::try_from(#value)?
                    ));
                }
                *expr = chain;
                return;
            }
            syn::visit_mut::visit_expr_mut(self, expr);
        }
    }

    struct Rewrite(usize);
    impl VisitMut for Rewrite {
        fn visit_block_mut(&mut self, block: &mut syn::Block) {
            if block.stmts.iter().any(is_header_map_local) {
                let appends: Vec<(syn::LitStr, Expr)> =
                    block.stmts.iter().filter_map(append).collect();
                let others: Vec<String> = block
                    .stmts
                    .iter()
                    .filter(|stmt| !is_header_map_local(stmt) && append(stmt).is_none())
                    .map(|stmt| quote::quote!(#stmt).to_string())
                    .filter(|text| text.contains("header_map"))
                    .collect();
                let merged_once = others.len() == 1
                    && others[0].matches("header_map").count() == 1
                    && others[0].contains(". headers (header_map)");
                let distinct = appends.iter().all(|(name, _)| {
                    let name = name.value();
                    !name.eq_ignore_ascii_case("accept")
                        && !name.eq_ignore_ascii_case("content-type")
                });
                if !appends.is_empty() && merged_once && distinct {
                    self.0 += 1;
                    block
                        .stmts
                        .retain(|stmt| !is_header_map_local(stmt) && append(stmt).is_none());
                    let mut inline = Inline(appends);
                    for stmt in &mut block.stmts {
                        inline.visit_stmt_mut(stmt);
                    }
                }
            }
            syn::visit_mut::visit_block_mut(self, block);
        }
    }
    let mut rewrite = Rewrite(0);
    rewrite.visit_file_mut(file);
    rewrite.0
}

/// A field `Option<::client_glue::List<T>>` (what typify makes of an optional answer array,
/// shape.rs) becomes `::client_glue::List<T>` with `#[serde(default)]`, skipped when empty
/// on output: the list reads `null`, absence and a value that is not an array as empty
/// already, so a `None` would only be a second way to say so.
fn plain_lists(file: &mut syn::File) -> usize {
    use syn::visit_mut::VisitMut;

    /// `T` of `::std::option::Option<T>` when `T` is `::client_glue::List<..>`.
    fn optional_list(ty: &syn::Type) -> Option<syn::Type> {
        let syn::Type::Path(p) = ty else { return None };
        let names: Vec<String> = p
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        if p.path.leading_colon.is_none() || names != ["std", "option", "Option"] {
            return None;
        }
        let syn::PathArguments::AngleBracketed(args) = &p.path.segments.last()?.arguments else {
            return None;
        };
        let [syn::GenericArgument::Type(inner)] = args.args.iter().collect::<Vec<_>>()[..] else {
            return None;
        };
        let syn::Type::Path(list) = inner else {
            return None;
        };
        let names: Vec<String> = list
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        (list.path.leading_colon.is_some() && names == ["client_glue", "List"])
            .then(|| inner.clone())
    }

    struct Rewrite(usize);
    impl VisitMut for Rewrite {
        fn visit_field_mut(&mut self, field: &mut syn::Field) {
            let Some(list) = optional_list(&field.ty) else {
                return;
            };
            self.0 += 1;
            for attr in &mut field.attrs {
                if !attr.path().is_ident("serde") {
                    continue;
                }
                let Ok(args) = attr.parse_args_with(
                    syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
                ) else {
                    continue;
                };
                let kept = args.into_iter().filter(|m| {
                    !m.path().is_ident("skip_serializing_if") && !m.path().is_ident("default")
                });
                *attr = syn::parse_quote!(#[serde(
                    #(#kept,)*
                    default,
                    skip_serializing_if = "::client_glue::List::is_empty"
                )]);
            }
            if !field.attrs.iter().any(|a| a.path().is_ident("serde")) {
                field.attrs.push(syn::parse_quote!(#[serde(
                    default,
                    skip_serializing_if = "::client_glue::List::is_empty"
                )]));
            }
            field.ty = list;
        }
    }
    let mut rewrite = Rewrite(0);
    rewrite.visit_file_mut(file);
    rewrite.0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use std::sync::Mutex;

    /// The generator every header names is the progenitor that `Cargo.lock` resolves: a
    /// `cargo update` that moves progenitor (the workspace pins it with `=`, so only an edit
    /// of that pin can) fails here until the headers say the new version.
    #[test]
    fn the_header_names_the_progenitor_in_the_lock_file() {
        let lock = std::fs::read_to_string(crate::workspace_root().join("Cargo.lock")).unwrap();
        let mut lines = lock.lines();
        let mut found = None;
        while let Some(line) = lines.next() {
            if line == "name = \"progenitor\"" {
                found = lines
                    .next()
                    .and_then(|v| v.strip_prefix("version = \""))
                    .and_then(|v| v.strip_suffix('"'))
                    .map(str::to_owned);
            }
        }
        let version = found.unwrap_or_else(|| panic!("Cargo.lock resolves no progenitor"));
        assert_eq!(GENERATOR, format!("progenitor {version}"));
    }

    /// The route root is the leading segments every operation shares, before its last one
    /// and any parameter; the workspace's specs each have one (the adapter refuses a base URL
    /// ending in it: an empty root would switch that check off).
    #[test]
    fn the_route_root_is_what_every_route_starts_with() {
        let op = |path: &str| crate::spec::Operation {
            id: "x".into(),
            method: "get".into(),
            path: path.into(),
            timeout_seconds: None,
        };
        let root = |paths: &[&str]| route_root(&paths.iter().map(|p| op(p)).collect::<Vec<_>>());
        assert_eq!(root(&["/a/v1/x", "/a/v1/y/z"]), "/a/v1");
        assert_eq!(root(&["/a/v1/x", "/a/v2/y"]), "/a");
        assert_eq!(root(&["/a/{id}/x", "/a/{id}/y"]), "/a");
        assert_eq!(root(&["/x", "/a/y"]), "");
        assert_eq!(root(&[]), "");
        for (spec, want) in [
            ("specs/vmeg.yaml", "/openapi/v1"),
            ("specs/jimmyai.yaml", "/api/open-api/v1"),
        ] {
            let (parsed, _) = unrewritten(spec);
            assert_eq!(route_root(&parsed.operations), want, "{spec}");
        }
    }

    /// progenitor's output for a spec of the workspace, before the rewrites.
    fn unrewritten(spec: &str) -> (Spec, String) {
        let root = crate::workspace_root();
        let text = std::fs::read_to_string(root.join(spec)).unwrap();
        let prepared = prepare(spec, &text).unwrap();
        // Not `run_progenitor`: its panic-hook swap would race with the hook test below.
        let tokens = progenitor::Generator::new(&settings())
            .generate_tokens(&prepared.openapi)
            .unwrap();
        (prepared.spec, tokens.to_string())
    }

    /// A rewrite that stops matching progenitor's output (here: the decoding call renamed, as
    /// a new progenitor might) fails the generation, naming the rewrite and both counts,
    /// instead of leaving the header to claim what did not happen.
    #[test]
    fn a_rewrite_that_does_not_apply_fails_the_generation() {
        for spec in ["specs/jimmyai.yaml", "specs/vmeg.yaml"] {
            let (spec, code) = unrewritten(spec);
            let mut file: syn::File = syn::parse_str(&code).unwrap();
            assert_eq!(apply_rewrites(&spec, &mut file).map_err(|e| e.0), Ok(()));

            let required = Rewrites::expected(&spec);
            assert!(required.decodes > 0 && required.urls > 0, "{required:?}");
            let renamed = code.replace("from_response", "from_response_v2");
            let mut file: syn::File = syn::parse_str(&renamed).unwrap();
            let msg = apply_rewrites(&spec, &mut file).unwrap_err().0;
            assert!(
                msg.contains(&format!(
                    "answers decoded by client_glue: applied 0, required {}",
                    required.decodes
                )),
                "{msg}"
            );

            let renamed = code.replace("\"api-version\"", "\"x-api-version\"");
            let mut file: syn::File = syn::parse_str(&renamed).unwrap();
            let msg = apply_rewrites(&spec, &mut file).unwrap_err().0;
            assert!(
                msg.contains("api-version headers dropped: applied 0"),
                "{msg}"
            );
        }
    }

    /// typify's `{:#?}` panics become one line, whitespace runs folded, cut on a character
    /// boundary.
    #[test]
    fn a_progenitor_message_is_folded_to_one_bounded_line() {
        let long = format!("first\n    second\t\r\n{}", "é".repeat(2000));
        let line = one_line(&long);
        assert!(line.starts_with("first second éé"), "{line}");
        assert!(!line.contains(['\n', '\t', '\r']), "{line}");
        assert_eq!(line.chars().count(), MESSAGE_CHARS + 1, "{line}");
        assert!(line.ends_with('…'), "{line}");
        let short = "a  b\n c";
        assert_eq!(one_line(short), "a b c");
        let exact = "x".repeat(MESSAGE_CHARS);
        assert_eq!(one_line(&exact), exact);
    }

    fn message(payload: &(dyn std::any::Any + Send)) -> String {
        payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default()
    }

    /// Callers on several threads at once (tests run in parallel) leave the panic hook as it
    /// was: a panic afterwards still reaches it. Before, each caller swapped the
    /// process-wide hook for a silent one and put back what it had taken, so interleaved
    /// restores could leave a silent hook installed for good: later panics printed nothing.
    #[test]
    fn concurrent_callers_leave_the_previous_panic_hook_in_place() {
        static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
        std::panic::set_hook(Box::new(|info| {
            let msg = message(info.payload());
            SEEN.lock().unwrap_or_else(|e| e.into_inner()).push(msg);
        }));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    for i in 0..40 {
                        let out = catching_panics(|| {
                            std::thread::sleep(std::time::Duration::from_micros(200));
                            panic!("inside {t}/{i}")
                        });
                        assert_eq!(
                            out.unwrap_err(),
                            format!("progenitor panicked: inside {t}/{i}")
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let outside = std::panic::catch_unwind(|| panic!("outside"));
        // Back to the default hook before asserting (a failure should print).
        drop(std::panic::take_hook());
        assert_eq!(message(&*outside.unwrap_err()), "outside");
        let seen = SEEN.lock().unwrap_or_else(|e| e.into_inner()).clone();
        assert!(
            seen.iter().any(|m| m == "outside"),
            "the panic after the calls was not reported: {seen:?}"
        );
        // Progenitor's panics are still kept quiet.
        assert!(!seen.iter().any(|m| m.starts_with("inside")), "{seen:?}");
    }
}
