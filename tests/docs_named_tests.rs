//! README.md and RELIABILITY.md promise behaviour and name the test that proves each
//! promise (`tests/adapter_vmeg.rs::retry_after_is_honoured`, `long_text::a_signal_...`,
//! `::another_in_the_same_file`). A test renamed, moved or deleted leaves a promise that
//! nothing proves any more: every test a row names must exist where it says.

use std::path::{Path, PathBuf};

/// The documents whose rows are claims proved by tests.
const DOCUMENTS: [&str; 2] = ["README.md", "RELIABILITY.md"];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Every `.rs` file of the workspace, as a path relative to its root with `/` separators.
fn sources(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if name == "target" || name.to_string_lossy().starts_with('.') {
                continue;
            }
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).unwrap();
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

/// The files a reference's head names: a path ending in `.rs` (matched as a suffix, so
/// `src/retry/run.rs` and `tests/e2e.rs` find their crate's file), or a module or test-file
/// name (`long_text`, `adapter_download`: its file or the files of its directory).
fn files_named<'a>(head: &str, sources: &'a [String]) -> Vec<&'a String> {
    if let Some(path) = head.strip_suffix(".rs") {
        let path = path.trim_start_matches("./");
        return sources
            .iter()
            .filter(|f| f.strip_suffix(".rs") == Some(path) || f.ends_with(&format!("/{path}.rs")))
            .collect();
    }
    sources
        .iter()
        .filter(|f| f.ends_with(&format!("/{head}.rs")) || f.contains(&format!("/{head}/")))
        .collect()
}

/// A test's name as the documents write them: snake case with at least two words (not a
/// module such as `download` or a type such as `CompletionHub`).
fn looks_like_a_test(name: &str) -> bool {
    name.contains('_')
        && !name.starts_with('_')
        && !name.ends_with('_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Whether `name` is a function defined in one of `files`.
fn defined_in(name: &str, files: &[&String], root: &Path) -> bool {
    files.iter().any(|f| {
        let text = std::fs::read_to_string(root.join(f)).unwrap_or_default();
        text.match_indices(&format!("fn {name}")).any(|(at, m)| {
            text[at + m.len()..]
                .chars()
                .next()
                .is_some_and(|c| c == '(' || c == '<')
        })
    })
}

/// The crates' names as paths write them (`voiceclone::KEY_RESEND_WINDOW`, `voiceclone_sim::...`):
/// a path into a crate's API, not to a test.
const CRATES: [&str; 8] = [
    "voiceclone",
    "voiceclone_cli",
    "voiceclone_sim",
    "client_glue",
    "vmeg_client",
    "jimmyai_client",
    "vmeg_client_mock",
    "jimmyai_client_mock",
];

/// Other crates' names that paths in the documents start with (`tokio::time::timeout`):
/// anything else a reference starts with must be a file or module of the workspace, so that
/// a test file renamed or deleted fails here instead of being skipped.
const EXTERNAL: [&str; 12] = [
    "std",
    "core",
    "alloc",
    "tokio",
    "axum",
    "reqwest",
    "serde",
    "serde_json",
    "url",
    "hyper",
    "progenitor",
    "tracing",
];

/// The references of one line: `(written as, files, test name)`. A `::name` continues the
/// file of the reference before it; `current` carries that file from line to line within a
/// paragraph (the caller resets it at a blank line and at each table row).
fn references<'a>(
    line: &str,
    sources: &'a [String],
    current: &mut Vec<&'a String>,
) -> Vec<(String, Vec<&'a String>, String)> {
    let mut found = Vec::new();
    // Code spans are the odd pieces between backticks.
    for span in line.split('`').skip(1).step_by(2) {
        let (head, rest) = match span.find("::") {
            Some(at) => (&span[..at], &span[at..]),
            None => (span, ""),
        };
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
        };
        if !head.is_empty() {
            // A plain word (`upload`, `serde`) is no reference: a file path, or a path
            // with at least one `::` segment, is.
            let bare_word = !head.ends_with(".rs") && rest.is_empty();
            if !plain(head) || bare_word || CRATES.contains(&head) {
                continue;
            }
            // `Client::with_timeout`, `WaitPolicy::deadline`: a type's member, not a test.
            if head.starts_with(|c: char| c.is_ascii_uppercase()) {
                continue;
            }
            let files = files_named(head, sources);
            if files.is_empty() && EXTERNAL.contains(&head) {
                // `tokio::...`, `std::...`: a path into another crate, not a test.
                continue;
            }
            *current = files;
        }
        let segments: Vec<&str> = rest.split("::").skip(1).collect();
        if segments.is_empty() {
            if head.ends_with(".rs") && current.is_empty() {
                found.push((span.to_owned(), Vec::new(), String::new()));
            }
            continue;
        }
        if head.is_empty() && current.is_empty() {
            found.push((span.to_owned(), Vec::new(), String::new()));
            continue;
        }
        if !segments.iter().all(|s| plain(s)) {
            continue;
        }
        // `Type::member` and `module::item` paths name no test.
        let name = segments.last().copied().unwrap_or_default();
        let typed = segments
            .iter()
            .any(|s| s.starts_with(|c: char| c.is_ascii_uppercase()));
        if typed || !looks_like_a_test(name) {
            continue;
        }
        found.push((span.to_owned(), current.clone(), name.to_owned()));
    }
    found
}

#[test]
fn every_test_the_documents_name_exists_where_they_say() {
    let root = workspace_root();
    let sources = sources(&root);
    let mut checked = 0;
    let mut missing = Vec::new();
    for doc in DOCUMENTS {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        let mut current = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('|') {
                current.clear();
            }
            for (written, files, name) in references(line, &sources, &mut current) {
                if files.is_empty() && name.is_empty() && written.starts_with("::") {
                    missing.push(format!(
                        "{doc}:{}: `{written}`: no file named before it",
                        n + 1
                    ));
                } else if files.is_empty() {
                    missing.push(format!("{doc}:{}: `{written}`: no such file", n + 1));
                } else if !defined_in(&name, &files, &root) {
                    missing.push(format!(
                        "{doc}:{}: `{written}`: no `fn {name}` in {}",
                        n + 1,
                        files
                            .iter()
                            .map(|f| f.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                } else {
                    checked += 1;
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "tests the documents name but the code does not have:\n{}",
        missing.join("\n")
    );
    // The documents name hundreds of tests: a parser that stopped seeing them would pass.
    assert!(checked > 400, "only {checked} named tests found");
}

#[test]
fn references_are_read_as_the_documents_write_them() {
    let sources: Vec<String> = [
        "tests/adapter_vmeg.rs",
        "crates/voiceclone/src/retry/run.rs",
        "crates/voiceclone/src/long_text/tests.rs",
        "crates/voiceclone-cli/tests/e2e.rs",
    ]
    .map(str::to_owned)
    .to_vec();
    let line = "| x | `tests/adapter_vmeg.rs::a_b`, `::c_d`; `src/retry/run.rs::e_f`; \
                `long_text::tests::g_h`; `voiceclone::KEY`; `Client::wait_for_clone`; \
                `e2e::i_j`; `gone.rs::k_l`; `gone_module::m_n`; `tokio::time::timeout` |";
    let got: Vec<(String, Vec<String>, String)> = references(line, &sources, &mut Vec::new())
        .into_iter()
        .map(|(w, f, n)| (w, f.into_iter().cloned().collect(), n))
        .collect();
    let expect = |w: &str, f: &[&str], n: &str| {
        (
            w.to_owned(),
            f.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
            n.to_owned(),
        )
    };
    assert_eq!(
        got,
        vec![
            expect(
                "tests/adapter_vmeg.rs::a_b",
                &["tests/adapter_vmeg.rs"],
                "a_b"
            ),
            expect("::c_d", &["tests/adapter_vmeg.rs"], "c_d"),
            expect(
                "src/retry/run.rs::e_f",
                &["crates/voiceclone/src/retry/run.rs"],
                "e_f"
            ),
            expect(
                "long_text::tests::g_h",
                &["crates/voiceclone/src/long_text/tests.rs"],
                "g_h"
            ),
            expect("e2e::i_j", &["crates/voiceclone-cli/tests/e2e.rs"], "i_j"),
            expect("gone.rs::k_l", &[], "k_l"),
            // A test file renamed or deleted: reported, not skipped as another crate's path.
            expect("gone_module::m_n", &[], "m_n"),
        ]
    );
}

/// The test functions of a file with whether each builds a real client (`Client::builder`,
/// or the files' helpers `real_client` / `real` that wrap it) to compare the fake with.
fn tests_and_whether_they_run_the_client(text: &str) -> Vec<(String, bool)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut at = 0;
    while at < lines.len() {
        if !(lines[at].starts_with("#[tokio::test") || lines[at].starts_with("#[test]")) {
            at += 1;
            continue;
        }
        let head = at
            + lines[at..]
                .iter()
                .position(|l| l.starts_with("fn ") || l.starts_with("async fn "))
                .unwrap();
        let end = head + lines[head..].iter().position(|l| *l == "}").unwrap();
        let name = lines[head]
            .split("fn ")
            .nth(1)
            .unwrap()
            .split('(')
            .next()
            .unwrap()
            .to_owned();
        let body = lines[head + 1..end].join("\n");
        let runs = ["Client::builder", "real_client(", "real("]
            .iter()
            .any(|c| body.contains(c));
        out.push((name, runs));
        at = end + 1;
    }
    out
}

/// RELIABILITY's row on the fake says which of its parity tests run the real client beside
/// the fake and which pin the fake's documented behaviour with expectations written by hand.
/// Before, it said every case ran the client, which several it named do not.
#[test]
fn the_fake_parity_row_says_which_tests_run_no_client() {
    let root = workspace_root();
    let reliability = std::fs::read_to_string(root.join("RELIABILITY.md")).unwrap();
    let row = reliability
        .lines()
        .find(|l| l.starts_with("| the fake a user's tests run against behaves as the client"))
        .expect("the fake's row");
    const PINNED: &str = "run no client and pin the fake's documented behaviour";
    let (compared, pinned) = row
        .split_once(PINNED)
        .expect("the row names the pinned tests");
    let named = |text: &str| -> Vec<String> {
        text.split('`')
            .skip(1)
            .step_by(2)
            .filter_map(|s| s.rsplit_once("::").map(|(_, n)| n.to_owned()))
            .filter(|n| looks_like_a_test(n))
            .collect()
    };
    let (compared, pinned) = (named(compared), named(pinned));
    let mut tests = Vec::new();
    for file in ["fake_parity.rs", "fake_parity_answers.rs"] {
        let text =
            std::fs::read_to_string(root.join("crates/voiceclone/tests").join(file)).unwrap();
        tests.extend(tests_and_whether_they_run_the_client(&text));
    }
    assert!(tests.len() > 30, "only {} tests read", tests.len());
    let mut without: Vec<&String> = tests.iter().filter(|(_, r)| !r).map(|(n, _)| n).collect();
    without.sort();
    let mut listed: Vec<&String> = pinned.iter().collect();
    listed.sort();
    assert_eq!(listed, without, "the tests the row says run no client");
    for name in &compared {
        if let Some((_, runs)) = tests.iter().find(|(n, _)| n == name) {
            assert!(
                runs,
                "the row says `{name}` compares with the client; it runs none"
            );
        }
    }
}

/// Review 28-e #5: README's long-text table says of VMEG's billing what the module doc
/// (`long_text/mod.rs`) says, that how it rounds is UNKNOWN and `fewest: true` in `SplitLimits`
/// gives the fewest lines, not that it "bills characters, not tasks" (a fact nobody
/// published: more lines may cost more).
#[test]
fn the_readme_long_text_table_states_vmeg_billing_as_the_module_doc_does() {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let module =
        std::fs::read_to_string(root.join("crates/voiceclone/src/long_text/mod.rs")).unwrap();
    assert!(
        module.contains("is UNKNOWN, so more lines may cost more"),
        "the module doc changed: say the same in README"
    );
    let row = readme
        .lines()
        .find(|l| l.starts_with("| VMEG | one TTS task"))
        .expect("README's long-text table has a VMEG row");
    assert!(!row.contains("bills characters, not tasks"), "{row}");
    for needed in [
        "UNKNOWN",
        "more lines may cost more",
        "`fewest: true`",
        "SplitLimits",
    ] {
        assert!(row.contains(needed), "{needed:?} missing: {row}");
    }
}
