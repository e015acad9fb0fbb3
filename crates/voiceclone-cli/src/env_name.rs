//! Reading a secret from the environment variable a flag names (`--secret-env NAME`,
//! `--webhook-secret-env`, `--redis-url-env`, `sim --api-key-env`), and naming that variable
//! in messages without ever quoting the secret: the commonest mistake with such a flag is
//! to give the value (`--secret-env "$SECRET"`), and a message that quoted the "name" would
//! print the secret itself.

use crate::output::Failure;

/// The longest name shown in a message. Real variable names are short; a longer "name" is
/// more likely a key or a token.
const MAX_SHOWN_NAME: usize = 64;

/// The longest name without a `_` that is shown (`SECRET`, `TOKEN`, `HOME`): an
/// uppercase secret (an AWS-style `AKIA...` id, uppercase hex or base32) is longer, and has
/// no `_`.
const MAX_SHOWN_WORD: usize = 12;

/// Whether `name` is shaped like the usual environment variable name (`[A-Z_][A-Z0-9_]*`,
/// at most [`MAX_SHOWN_NAME`] bytes, and with a `_` unless it is a short word): only such a
/// name is ever shown. Lowercase letters are left out on purpose: most secrets have them
/// (`whsec_...`, base64), names rarely do, and a lowercase name left out of a message costs
/// the user nothing they did not type.
pub fn is_shown(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_uppercase() || b == b'_')
        && name.len() <= MAX_SHOWN_NAME
        && (name.contains('_') || name.len() <= MAX_SHOWN_WORD)
        && bytes.all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// How a message refers to the variable `name` given to `flag`: by its name when it looks
/// like one, else without it.
pub fn describe(name: &str, flag: &str) -> String {
    if is_shown(name) {
        format!("the environment variable {name} ({flag})")
    } else {
        format!("the variable named by {flag} (the name is not shown: it may be the secret itself)")
    }
}

/// The value of the variable `name` given to `flag`, trimmed; `what` says what it must
/// hold ("the webhook secret"). Unset, empty or not UTF-8: a usage failure (exit 2) that
/// never quotes the value, nor a name that may be the value given by mistake.
pub fn read(name: &str, flag: &str, what: &str) -> Result<String, Failure> {
    let var = describe(name, flag);
    match std::env::var(name) {
        Ok(s) if !s.trim().is_empty() => Ok(s),
        Ok(_) => Err(Failure::usage(format!(
            "{var} is empty; it must hold {what}"
        ))),
        Err(std::env::VarError::NotUnicode(_)) => Err(Failure::usage(format!(
            "{var} is set but not valid UTF-8; it must hold {what}"
        ))),
        // A value given in place of the name lands here (an `=` or a NUL in it included:
        // std does not look such a name up).
        Err(std::env::VarError::NotPresent) => Err(Failure::usage(format!(
            "{var} is not set; it must hold {what} (give the variable's name, not its value)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_shaped_like_variables_are_shown() {
        for name in [
            "VMEG_API_KEY",
            "_X",
            "A1",
            "SECRET",
            &format!("A_{}", "B".repeat(62)),
        ] {
            assert!(is_shown(name), "{name}");
        }
        for secret in [
            "",
            "1ABC",
            "whsec_abcdef0123456789",
            "sk-live-0123456789",
            "redis://:pw@host:6379",
            "whsec TOP",
            "KEY=value",
            // Uppercase secrets: an AWS-style key id, uppercase hex, base32.
            "AKIAIOSFODNN7EXAMPLE",
            "0123456789ABCDEF0123456789ABCDEF",
            "A1B2C3D4E5F6A7B8C9D0",
            "JBSWY3DPEHPK3PXP",
            &"A".repeat(65),
            "ÉTÉ",
        ] {
            assert!(!is_shown(secret), "{secret}");
            assert!(!describe(secret, "--secret-env").contains(secret) || secret.is_empty());
        }
    }
}
