//! The commands a result suggests (`reconcile`, `wait`), ready to paste, every value
//! shell-quoted.

use voiceclone::JobId;

use super::wait::kind_name;
use crate::cli::JobKind;

/// What to do about a submit whose outcome is unknown, made at `at` and last attempted at
/// `last`: with a key or a task the answer named, the reconcile command ready to paste;
/// without either (JimmyAI), the span of time to check the account's jobs in.
pub(super) fn look_up(
    kind: JobKind,
    key: Option<&str>,
    task: Option<&JobId>,
    voice_name: Option<&str>,
    at: std::time::SystemTime,
    last: std::time::SystemTime,
) -> String {
    let (at, last) = (crate::output::rfc3339(at), crate::output::rfc3339(last));
    if key.is_none() && task.is_none() {
        return format!(
            "JimmyAI cannot look a job up by key: check the account for a job submitted at {at}, last attempt at {last}, before submitting again"
        );
    }
    format!(
        "look it up with `{}`{} before submitting again",
        reconcile_command(kind, &at, &last, key, task, voice_name),
        crate::output::suggested_key_note()
    )
}

/// `voiceclone --provider vmeg [--base-url URL] reconcile ...` for a submit of `kind` made at
/// `submitted_at` whose last attempt ended at `last_attempt_at`, with its key, the task its
/// answer named and a clone's voice name when known, every value shell-quoted
/// ([`crate::output::suggested_command`]).
pub(super) fn reconcile_command(
    kind: JobKind,
    submitted_at: &str,
    last_attempt_at: &str,
    key: Option<&str>,
    task: Option<&JobId>,
    voice_name: Option<&str>,
) -> String {
    use crate::output::shell_word as sh;
    let mut args = format!(
        "reconcile --kind {} --submitted-at {} --last-attempt-at {}",
        kind_name(kind),
        sh(submitted_at),
        sh(last_attempt_at),
    );
    if let Some(key) = key {
        args = format!("{args} --key {}", sh(key));
    }
    if let Some(id) = task {
        args = format!("{args} --task-id {}", sh_id(id));
    }
    // After `=`: a name starting with `-` would be read as an option. A NUL cannot be
    // passed in an argument (the shell ends the word there): that name is left out, not cut.
    if let Some(name) = voice_name.filter(|n| !n.contains('\0')) {
        args = format!("{args} --voice-name={}", sh(name));
    }
    crate::output::suggested_command(&args)
}

/// `id` in its stored form as one shell word, for a suggested `voiceclone wait ID`: a
/// server chooses the id, and `$(...)` or `;` in it must paste as text.
pub(super) fn sh_id(id: &JobId) -> String {
    // The stored form (`vmeg:speech:t1`), which says its kind to `wait`; not `as_ref`,
    // which is the bare vendor id.
    let stored = id.to_string();
    crate::output::shell_word(&stored).into_owned()
}

/// `voiceclone --provider P [--base-url URL] wait [--kind speech] ID` for `id`, a job of
/// `kind`, ready to paste ([`crate::output::suggested_command`]). `--kind speech` also for
/// a stored-form id, which says it: an id given bare to `wait` does not.
pub(super) fn wait_command(id: &JobId, kind: voiceclone::JobKind) -> String {
    let flag = match kind {
        voiceclone::JobKind::Speech => "--kind speech ",
        _ => "",
    };
    crate::output::suggested_command(&format!("wait {flag}{}", sh_id(id)))
}

/// What a wait that ended on a refused key adds to the command it suggests: a bad key says
/// nothing of the job (exit 3, not 1), but the same command under the same key fails the
/// same way, so "later" alone would loop for ever.
pub(super) fn with_which_key(kind: &str) -> String {
    if kind == "unauthorized" {
        " with the key of the account that submitted it: the API key was refused, which says nothing of the job".to_owned()
    } else {
        crate::output::suggested_key_note()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Review 34-e #4: a voice name holding a CR (a `--name "$(cat name.txt)"` of a CRLF file),
    /// a tab or an invisible character is written as `$'...'`, which the terminal escaping
    /// leaves as it is, so the pasted command passes the name itself (the reconcile search
    /// matches names exactly). A NUL cannot be passed: that name is left out.
    #[test]
    fn the_suggested_reconcile_passes_a_voice_name_the_terminal_escaping_would_change() {
        let command = |name: &str| {
            let c = reconcile_command(
                JobKind::Clone,
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:00:01Z",
                Some("k-1"),
                None,
                Some(name),
            );
            assert_eq!(crate::output::terminal_safe(&c), c, "{name:?}");
            c
        };
        assert!(command("narrator\r").ends_with(r"--voice-name=$'narrator\r'"));
        assert!(command("a\tb's\u{200b}").ends_with(r"--voice-name=$'a\tb\'s\u200b'"));
        assert!(command("plain name").ends_with("--voice-name='plain name'"));
        assert!(!command("a\0b").contains("--voice-name"));
    }
}
