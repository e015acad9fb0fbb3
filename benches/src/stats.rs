//! Medians, ratios and spread.

use std::time::Duration;

/// The median of `samples` (sorts them).
pub fn median(samples: &mut [Duration]) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// min, median and max of a set of ratios, as text: `1.031 (1.027-1.036)`.
pub fn spread(ratios: &[f64]) -> String {
    if ratios.is_empty() {
        return "n/a".to_string();
    }
    let mut r = ratios.to_vec();
    r.sort_by(f64::total_cmp);
    format!("{:.3} ({:.3}-{:.3})", r[r.len() / 2], r[0], r[r.len() - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread() {
        let mut s = [3, 1, 2].map(Duration::from_micros);
        assert_eq!(median(&mut s), Duration::from_micros(2));
        assert_eq!(spread(&[1.0, 1.2, 1.1]), "1.100 (1.000-1.200)");
    }
}
