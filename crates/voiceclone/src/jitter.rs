//! Draws for jitter (retry backoff, poll intervals, reconnects).
//!
//! Jitter only has to spread clients apart and, under a seed, repeat itself in tests; it needs
//! no statistical strength. So the draws are std's SipHash (`DefaultHasher`) of a seed and a
//! counter, and an unseeded generator takes its seed from std's per-process random
//! `RandomState`: no random-number crate in every user's build (issue 17 counts them).
//! A seeded schedule repeats within one build; std does not promise the same hash across Rust
//! releases, so it is not a format to store.

use std::hash::{BuildHasher, DefaultHasher, Hasher, RandomState};

/// A seeded stream of draws: the same seed gives the same draws.
#[derive(Clone, Debug)]
pub(crate) struct Jitter {
    seed: u64,
    drawn: u64,
}

impl Jitter {
    /// Draws that repeat for the same `seed`.
    pub(crate) fn with_seed(seed: u64) -> Self {
        Self { seed, drawn: 0 }
    }

    /// Draws that differ between generators and processes.
    pub(crate) fn new() -> Self {
        // Each `RandomState` has fresh keys (random per process, then advanced per
        // instance), so two generators made in the same instant still differ.
        Self::with_seed(RandomState::new().build_hasher().finish())
    }

    fn next_u64(&mut self) -> u64 {
        let mut h = DefaultHasher::new();
        h.write_u64(self.seed);
        h.write_u64(self.drawn);
        self.drawn = self.drawn.wrapping_add(1);
        h.finish()
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn f64(&mut self) -> f64 {
        // The top 53 bits: every value is exact in an f64 and below 1.
        const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
        (self.next_u64() >> 11) as f64 * SCALE
    }

    /// Uniform in `[0, max]` (multiply-shift: the bias is below 2^-64 per value).
    pub(crate) fn up_to(&mut self, max: u64) -> u64 {
        let span = u128::from(max) + 1;
        let wide = (u128::from(self.next_u64()) * span) >> 64;
        u64::try_from(wide).unwrap_or(max)
    }
}

#[cfg(test)]
mod tests {
    use super::Jitter;

    #[test]
    fn a_seed_repeats_and_different_seeds_differ() {
        let draws = |seed| {
            let mut j = Jitter::with_seed(seed);
            (0..64).map(|_| j.up_to(u64::MAX)).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));
        let a: Vec<u64> = (0..8).map(|_| Jitter::new().up_to(u64::MAX)).collect();
        let distinct: std::collections::HashSet<_> = a.iter().collect();
        assert_eq!(distinct.len(), a.len(), "unseeded generators differ: {a:?}");
    }

    #[test]
    fn draws_stay_in_range_and_cover_it() {
        let mut j = Jitter::with_seed(1);
        let mut buckets = [0u32; 10];
        for _ in 0..10_000 {
            let x = j.f64();
            assert!((0.0..1.0).contains(&x), "{x}");
            buckets[(x * 10.0) as usize] += 1;
        }
        // Uniform: each tenth holds about 1,000 of 10,000 (binomial sd ~30).
        assert!(
            buckets.iter().all(|&n| (850..1150).contains(&n)),
            "{buckets:?}"
        );
        for max in [0, 1, 2, 9, 1_000_000_007, u64::MAX] {
            let mut seen_max = false;
            for _ in 0..2_000 {
                let v = j.up_to(max);
                assert!(v <= max);
                seen_max |= v == max;
            }
            if max < 10 {
                assert!(seen_max, "{max} is reachable");
            }
        }
        assert_eq!(j.up_to(0), 0);
    }
}
