//! Random ids: idempotency keys, request ids and webhook mark tokens.
//!
//! 128 bits from ring's system generator (the OS's), already linked for TLS, written as 32
//! lowercase hex digits by std's formatting: the shape VMEG gives the `req_id`s it makes
//! itself (api-facts A5), and within its 64-character idempotency key limit (A4). The ids
//! only have to be unique and unguessable, not UUIDs: a UUID crate would be one more crate in
//! every user's build (issue 17 counts them), and `uuid`'s own `v4` feature a second
//! `getrandom` beside ring's.

use ring::rand::{SecureRandom, SystemRandom};
use std::fmt;

/// A fresh random 128-bit id; `Display` writes it as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RandomId(u128);

impl RandomId {
    pub(crate) fn new() -> Self {
        let mut bytes = [0u8; 16];
        if SystemRandom::new().fill(&mut bytes).is_err() {
            // The OS generator failed (it does not in practice): std's per-process random
            // keys still give distinct ids, where a panic would lose the caller's call.
            tracing::warn!("the system random generator failed; ids drawn from std's RandomState");
            let mut j = crate::jitter::Jitter::new();
            let high = u128::from(j.up_to(u64::MAX));
            let low = u128::from(j.up_to(u64::MAX));
            return Self((high << 64) | low);
        }
        Self(u128::from_le_bytes(bytes))
    }

    /// A fresh id that holds no piece of the secret `scrubber` looks for. Ids sent for the
    /// client (idempotency keys, request ids) are printed in errors and log lines, where 8
    /// characters of the API key must never appear, and a key the scrubber would change is
    /// no longer the key that was sent. A random id meets such a piece about once in ten
    /// million draws.
    pub(crate) fn clear_of(scrubber: &crate::scrub::Scrubber) -> Self {
        first_clear(scrubber, Self::new)
    }

    /// The id as its 32 hex digits, without an allocation.
    pub(crate) fn hex(self) -> [u8; 32] {
        let mut buf = [b'0'; 32];
        // 32 hex digits fill the buffer exactly; should a write ever fall short, the rest
        // stays '0' (still hex).
        let _ = std::io::Write::write_fmt(&mut &mut buf[..], format_args!("{self}"));
        buf
    }
}

/// The first of `draw`'s ids in which `scrubber` finds nothing. Bounded, so that no secret can
/// make it spin: 64 misses in a row do not happen (the last is taken).
fn first_clear(scrubber: &crate::scrub::Scrubber, mut draw: impl FnMut() -> RandomId) -> RandomId {
    let mut id = draw();
    for _ in 1..64 {
        let hex = id.hex();
        if !scrubber.finds_secret_in(std::str::from_utf8(&hex).unwrap_or_default()) {
            break;
        }
        id = draw();
    }
    id
}

impl fmt::Display for RandomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for RandomId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::RandomId;

    #[test]
    fn ids_are_32_lowercase_hex_digits_random_at_every_position() {
        let ids: Vec<String> = (0..1000).map(|_| RandomId::new().to_string()).collect();
        for id in &ids {
            assert_eq!(id.len(), 32, "{id}");
            assert!(
                id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
                "{id}"
            );
        }
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        // Every digit varies (no fixed version nibble, no counter in a fixed frame), and
        // leading zeros are written (a short id would be another shape on the wire).
        let first = ids[0].as_bytes();
        let varied = (0..32)
            .filter(|&i| ids.iter().any(|id| id.as_bytes()[i] != first[i]))
            .count();
        assert_eq!(varied, 32);
        assert_eq!(format!("{}", super::RandomId(1)).len(), 32);
        assert_eq!(&super::RandomId(0xab).hex()[28..], b"00ab");
    }

    /// A drawn id holding 8 characters of the API key is drawn again (it would be scrubbed
    /// in errors and logs, and differ from the id sent); the draws are bounded.
    #[test]
    fn a_drawn_id_holding_a_piece_of_the_api_key_is_drawn_again() {
        let scrubber = crate::scrub::Scrubber::new("sk-0123456789abcdef");
        let mut draws = [0x0123_4567_89ab_ffff_ffff_ffff_ffff_ffff, 0].into_iter();
        let id = super::first_clear(&scrubber, || RandomId(draws.next().unwrap_or(7)));
        assert_eq!(id, RandomId(0));
        let mut n = 0;
        let id = super::first_clear(&scrubber, || {
            n += 1;
            RandomId(0x0123_4567_89ab_cdef)
        });
        assert_eq!((n, id), (64, RandomId(0x0123_4567_89ab_cdef)));
    }
}
