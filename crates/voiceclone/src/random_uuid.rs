//! Random (v4) UUIDs for idempotency keys and request ids.
//!
//! The bytes come from ring's system generator (the OS's, as `uuid`'s own `v4` feature would
//! use), already linked for TLS; `uuid` then only lays them out. `uuid`'s `v4` feature would
//! bring a second `getrandom` into every user's build (issue 17 counts crates).

use ring::rand::{SecureRandom, SystemRandom};
use uuid::Uuid;

/// A fresh random UUID (version 4, RFC 9562 variant).
pub(crate) fn new_v4() -> Uuid {
    let mut bytes = [0u8; 16];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        // The OS generator failed (it does not in practice): std's per-process random keys
        // still give distinct ids, where `Uuid::new_v4` would have panicked.
        tracing::warn!("the system random generator failed; ids drawn from std's RandomState");
        let mut j = crate::jitter::Jitter::new();
        for chunk in bytes.chunks_mut(8) {
            let draw = j.up_to(u64::MAX).to_le_bytes();
            chunk.copy_from_slice(draw.get(..chunk.len()).unwrap_or(&draw));
        }
    }
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::new_v4;

    #[test]
    fn ids_are_version_4_and_distinct() {
        let ids: Vec<uuid::Uuid> = (0..1000).map(|_| new_v4()).collect();
        for id in &ids {
            assert_eq!(id.get_version_num(), 4, "{id}");
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122, "{id}");
        }
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        // Random bits vary at every position (not a counter in a fixed frame).
        let first = ids[0].as_bytes();
        let varied = (0..16)
            .filter(|&i| ids.iter().any(|id| id.as_bytes()[i] != first[i]))
            .count();
        assert_eq!(varied, 16);
    }
}
