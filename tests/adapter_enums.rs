//! README, "Growing without breaking you": public enums that can gain variants are
//! `#[non_exhaustive]`, so a new variant is not a breaking change for callers who match them.

use crate::adapter_routes::sources;
use std::path::Path;

/// Public enums that are a closed answer and can never gain a variant, with the reason.
const CLOSED: &[(&str, &str)] = &[(
    "Recorded",
    "CompletionStore::record's yes/no: first seen or duplicate",
)];

#[test]
fn every_public_enum_of_the_adapter_is_non_exhaustive() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/voiceclone/src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 10, "read the adapter's sources");
    let mut enums = Vec::new();
    let mut open = Vec::new();
    for (file, text) in &files {
        let lines: Vec<&str> = text.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            let Some(rest) = line.trim_start().strip_prefix("pub enum ") else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            // The attributes above the enum, up to its doc comment.
            let attrs = lines[..n]
                .iter()
                .rev()
                .take_while(|l| l.trim_start().starts_with("#["));
            let marked = attrs.into_iter().any(|l| l.contains("non_exhaustive"));
            if !marked && !CLOSED.iter().any(|(closed, _)| *closed == name) {
                open.push(format!("{file}:{}: {name}", n + 1));
            }
            enums.push(name);
        }
    }
    for named in [
        "Provider",
        "TaskStatus",
        "ErrorKind",
        "Phase",
        "VmegEngine",
        "SoundVersion",
        "OutputFormat",
        "Emotion",
        "OperationKind",
        "WebhookEventKind",
        "WebhookFailure",
    ] {
        assert!(enums.iter().any(|e| e == named), "{named} not found");
    }
    assert!(
        open.is_empty(),
        "public enums without #[non_exhaustive]:\n{}",
        open.join("\n")
    );
}
