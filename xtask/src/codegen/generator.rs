//! Running progenitor: its settings, its panics turned into one-line messages, and a failure
//! narrowed to the component schema or operation it is about.

use crate::shape;
use crate::spec::Spec;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError};

/// The progenitor version whose output is checked in; it is recorded in every header.
pub const GENERATOR: &str = "progenitor 0.15.1";

/// Runs progenitor, turning both its errors and its panics into a message.
pub(super) fn run_progenitor(
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
pub(super) fn narrow_failure(spec: &Spec, whole_msg: &str) -> String {
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
