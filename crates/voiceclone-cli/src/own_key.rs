//! The idempotency keys the CLI makes itself for VMEG submits (a signal or a lost answer can
//! then name what to look the job up by).
//!
//! A key holding 8 characters of a secret the printers redact (the API key) would be refused
//! by the library before sending (it would be scrubbed in errors and logs, and a resend under
//! the changed key billed again), and printed as `[redacted]` in the command to look it up
//! with. A uuid meets such a piece about once in ten million; it is then drawn again.

/// `prefix` then a new uuid's 32 hex digits, holding no secret any printer redacts.
pub fn new(prefix: &str) -> String {
    first_clear(|| format!("{prefix}{}", uuid::Uuid::new_v4().simple()))
}

/// The first of `draw`'s keys that holds no secret. Bounded, so that no secret can make it
/// spin: 64 misses in a row do not happen (the last is taken, and the library refuses it
/// by name with nothing sent).
fn first_clear(mut draw: impl FnMut() -> String) -> String {
    let mut key = draw();
    for _ in 1..64 {
        if !crate::output::holds_secret(&key) {
            break;
        }
        key = draw();
    }
    key
}

#[cfg(test)]
mod tests {
    use super::first_clear;

    /// A drawn key holding 8 characters of the API key is drawn again: the library would
    /// refuse it as the user's bad key (exit 2) though the user chose none. Before: the
    /// first draw was taken.
    #[test]
    fn a_drawn_key_holding_a_piece_of_a_secret_is_drawn_again() {
        crate::output::Printer::new(false, false).add_secret("sk-own-key-test-5e1f0c2a9d");
        let mut draws = ["vclong-ffff5e1f0c2a9dffffffff", "vclong-0000000000000000"].into_iter();
        let key = first_clear(|| draws.next().unwrap_or_default().to_owned());
        assert_eq!(key, "vclong-0000000000000000");
        let mut n = 0;
        let key = first_clear(|| {
            n += 1;
            "5e1f0c2a9d".to_owned()
        });
        assert_eq!((n, key.as_str()), (64, "5e1f0c2a9d"));
        assert!(!super::new("").is_empty());
    }
}
