//! Seeds: one `--seed` drives every random choice; each component derives its own stream
//! from it by name, so adding a component does not shift the others.

use rand::rngs::StdRng;
use rand::SeedableRng;

/// SplitMix64 finaliser: spreads the bits of `x`.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The seed of the stream called `label` (and `index`, for per-worker streams).
pub fn derive(seed: u64, label: &str, index: u64) -> u64 {
    let mut h = mix(seed);
    for b in label.bytes() {
        h = mix(h ^ u64::from(b));
    }
    mix(h ^ index)
}

/// A seeded generator for the stream `label`/`index`.
pub fn rng(seed: u64, label: &str, index: u64) -> StdRng {
    StdRng::seed_from_u64(derive(seed, label, index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: u64 = rng(7, "router", 0).random();
        let b: u64 = rng(7, "router", 0).random();
        let c: u64 = rng(7, "worker", 0).random();
        let d: u64 = rng(7, "worker", 1).random();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(c, d);
    }
}
