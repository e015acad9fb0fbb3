//! The operation names each vendor's adapter passes as string literals, read from its
//! sources: the interim guard for the `("POST", "?")` fallback of each vendor's `route`
//! (a name not in the generated table would only show as a `?` path in a summary).

/// The string literals the adapter passes as operation names: the first argument of
/// `route`, `planned`, `call` and `with_operation_timeout`, the second of `create_call` and
/// `list_call` (their first is the caller-facing name), and the names of `(name, *_TIMEOUT)`
/// pairs given to `config`; by file, from the sources of this vendor's provider directory.
pub(super) fn operation_literals(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs"))
    {
        let whole = std::fs::read_to_string(file).unwrap_or_default();
        // Not the test modules (this one quotes names in its comments).
        let text = whole
            .split("\n#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or_default();
        let name = file.display().to_string();
        for (callee, arg) in [
            ("route", 0),
            ("planned", 0),
            ("call", 0),
            ("with_operation_timeout", 0),
            ("create_call", 1),
            ("list_call", 1),
        ] {
            let pattern = format!("{callee}(");
            for (at, _) in text.match_indices(&pattern) {
                // `create_call(` is not a `call(`; `x.call(` is a method of something else.
                let before = text[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                    continue;
                }
                if let Some(lit) = nth_literal(&text[at + pattern.len()..], arg) {
                    found.push((name.clone(), lit));
                }
            }
        }
        // `("tts_create_sync", SYNC_TIMEOUT)`: the per-operation timeouts of `config`.
        for (at, _) in text.match_indices("(\"") {
            let rest = &text[at + 1..];
            if let Some(lit) = nth_literal(rest, 0) {
                let after = rest[lit.len() + 2..].trim_start();
                let timeout = after
                    .strip_prefix(',')
                    .map(str::trim_start)
                    .is_some_and(|a| {
                        a.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                            .next()
                            .is_some_and(|id| id.ends_with("_TIMEOUT"))
                    });
                if timeout {
                    found.push((name.clone(), lit));
                }
            }
        }
    }
    found
}

/// The `n`th argument at the start of `args` when it and those before it are plain string
/// literals.
fn nth_literal(args: &str, n: usize) -> Option<String> {
    let mut rest = args;
    for i in 0..=n {
        let body = rest.trim_start().strip_prefix('"')?;
        let end = body.find('"')?;
        if i == n {
            return Some(body[..end].to_string());
        }
        rest = body[end + 1..].trim_start().strip_prefix(',')?;
    }
    None
}
