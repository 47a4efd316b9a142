//! Stable 64-bit mixing for reproducible choices (event ids, payload variants, routing, the
//! sim's fault draws): SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
//! generators", OOPSLA 2014), written once. Its outputs are part of what a seed means — the
//! same seed gives the same events — so they must never change.

/// SplitMix64's increment, the odd integer nearest 2^64 / φ.
pub const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's finalizer: a bijection of 64-bit values whose every output bit depends on
/// every input bit.
pub fn finalize(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One SplitMix64 step from state `z`.
pub fn splitmix64(z: u64) -> u64 {
    finalize(z.wrapping_add(GOLDEN_GAMMA))
}

/// `a` and `b` mixed into one well-spread value (`b` spread by the golden gamma first).
pub fn mix(a: u64, b: u64) -> u64 {
    finalize(a ^ b.wrapping_mul(GOLDEN_GAMMA))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_those_of_splitmix64() {
        // The reference SplitMix64 (Vigna's `splitmix64.c`, and Java's SplittableRandom)
        // seeded with 1234567 gives these first: state += gamma, then the finalizer.
        let mut state = 1_234_567u64;
        let mut next = || {
            let out = splitmix64(state);
            state = state.wrapping_add(GOLDEN_GAMMA);
            out
        };
        assert_eq!(next(), 6_457_827_717_110_365_317);
        assert_eq!(next(), 3_203_168_211_198_807_973);
        assert_eq!(next(), 9_817_491_932_198_370_423);
    }

    #[test]
    fn mix_spreads_neighbours_apart() {
        assert_ne!(mix(1, 2), mix(2, 1));
        assert_eq!(mix(7, 0), finalize(7));
        let a = mix(42, 1);
        let b = mix(42, 2);
        assert!((a ^ b).count_ones() > 16, "{a:x} {b:x}");
    }
}
