//! Issue 17, point 3: "every public method of `Client` has a runnable doc example". This
//! test reads the crate's `src/` (the `impl Client` blocks live in `src/client/`) and fails
//! for a `pub fn` / `pub async fn` in an `impl Client` block whose doc comment has no
//! example that rustdoc runs (a ```` ``` ```` block that is not `no_run`, `ignore`,
//! `compile_fail` or another language), that does not show the call on a visible line, or
//! that asserts nothing. `cargo test --doc` then runs the examples themselves (against the
//! simulator), so an example that stops being true fails there.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

/// One public method of `Client` and what its doc comment lacks (empty: nothing).
#[derive(Debug)]
struct Method {
    file: String,
    line: usize,
    name: String,
    problem: Option<&'static str>,
}

/// The public methods declared in `impl Client` blocks of one source file.
fn methods(file: &str, src: &str) -> Vec<Method> {
    let lines: Vec<&str> = src.lines().collect();
    let mut out = Vec::new();
    let mut in_client = false;
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("impl Client {") || line.starts_with("impl Client<") {
            in_client = true;
            continue;
        }
        if in_client && line.starts_with('}') {
            in_client = false;
            continue;
        }
        if !in_client {
            continue;
        }
        let Some(name) = pub_fn_name(line) else {
            continue;
        };
        // The doc comment: the `///` lines above, attributes between them skipped.
        let mut doc = Vec::new();
        for prev in lines[..i].iter().rev() {
            let t = prev.trim_start();
            if let Some(d) = t.strip_prefix("///") {
                doc.push(d.strip_prefix(' ').unwrap_or(d));
            } else if t.starts_with("#[") {
                continue;
            } else {
                break;
            }
        }
        doc.reverse();
        out.push(Method {
            file: file.to_owned(),
            line: i + 1,
            problem: check_doc(&name, &doc),
            name,
        });
    }
    out
}

/// `name` for a line `    pub fn name...` / `    pub async fn name...` (an item of the impl).
fn pub_fn_name(line: &str) -> Option<String> {
    let rest = line.strip_prefix("    pub ")?;
    let rest = rest.strip_prefix("async ").unwrap_or(rest);
    let rest = rest.strip_prefix("fn ")?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// Why the doc comment of method `name` fails the promise, if it does.
fn check_doc(name: &str, doc: &[&str]) -> Option<&'static str> {
    let mut problem = Some("no doc example");
    let mut block: Option<Vec<&str>> = None;
    let mut runnable = false;
    for line in doc {
        let t = line.trim_start();
        if let Some(info) = t.strip_prefix("```") {
            match block.take() {
                None => {
                    runnable = runs(info);
                    block = Some(Vec::new());
                }
                Some(body) => {
                    if !runnable {
                        if problem == Some("no doc example") {
                            problem = Some("its example does not run (no_run / ignore)");
                        }
                        continue;
                    }
                    // Hidden lines (`# ...`) set up; the call itself is shown.
                    let shown = body
                        .iter()
                        .filter(|l| !(l.trim_start() == "#" || l.trim_start().starts_with("# ")));
                    let call = format!("{name}(");
                    let calls = shown.clone().any(|l| l.contains(&call));
                    let asserts = body.iter().any(|l| l.contains("assert"));
                    match (calls, asserts) {
                        (true, true) => return None,
                        (false, _) => {
                            problem = Some("its runnable example hides or lacks the call")
                        }
                        (true, false) => problem = Some("its runnable example asserts nothing"),
                    }
                }
            }
        } else if let Some(body) = block.as_mut() {
            body.push(line);
        }
    }
    problem
}

/// Whether rustdoc runs a block with this info string (Rust, not `no_run` / `ignore` /
/// `compile_fail`, not another language).
fn runs(info: &str) -> bool {
    info.split([',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .all(|t| t == "rust" || t == "standalone_crate" || t.starts_with("edition"))
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_public_client_method_has_a_runnable_asserting_example() {
    // All of `src/`: an `impl Client` block added outside `src/client/` is held to it too.
    let src_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src_dir, &mut files);
    files.sort();
    let mut all = Vec::new();
    for path in files {
        let src = std::fs::read_to_string(&path).unwrap();
        let file = path
            .strip_prefix(&src_dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        all.extend(methods(&file, &src));
    }
    // The scan itself works: it sees methods from each file, feature-gated ones included.
    let names: Vec<&str> = all.iter().map(|m| m.name.as_str()).collect();
    for expected in [
        "builder",
        "from_env",
        "clone_voice",
        "tasks",
        "reconcile",
        "with_options",
        "download_to_path",
        "synthesize_long",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} not found in {names:?}"
        );
    }
    assert!(
        all.len() >= 33,
        "only {} methods found: {names:?}",
        all.len()
    );
    let missing: Vec<String> = all
        .iter()
        .filter_map(|m| {
            m.problem
                .map(|p| format!("{}:{} Client::{}: {p}", m.file, m.line, m.name))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "public Client methods without a runnable doc example:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_scan_tells_runnable_examples_from_the_rest() {
    let src = r#"
impl Client {
    /// Good.
    ///
    /// ```
    /// # let client = 1;
    /// let x = client.good();
    /// assert_eq!(x, 1);
    /// ```
    #[must_use]
    pub fn good(&self) -> u8 { 1 }

    /// Not run.
    ///
    /// ```no_run
    /// client.not_run();
    /// assert!(true);
    /// ```
    pub async fn not_run(&self) {}

    /// Hidden call.
    ///
    /// ```
    /// # client.hidden();
    /// assert!(true);
    /// ```
    pub fn hidden(&self) {}

    /// No assert.
    ///
    /// ```rust
    /// client.quiet();
    /// ```
    pub fn quiet(&self) {}

    /// None at all.
    pub fn bare(&self) {}

    fn private(&self) {}
}

impl ClientBuilder {
    pub fn not_client(&self) {}
}
"#;
    let got: Vec<(String, Option<&str>)> = methods("x.rs", src)
        .into_iter()
        .map(|m| (m.name, m.problem))
        .collect();
    let want: Vec<(String, Option<&str>)> = vec![
        ("good".into(), None),
        (
            "not_run".into(),
            Some("its example does not run (no_run / ignore)"),
        ),
        (
            "hidden".into(),
            Some("its runnable example hides or lacks the call"),
        ),
        ("quiet".into(), Some("its runnable example asserts nothing")),
        ("bare".into(), Some("no doc example")),
    ];
    assert_eq!(got, want);
}
