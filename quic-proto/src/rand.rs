//! The crate's one source of randomness: a seedable, cryptographically strong
//! generator (DESIGN.md rule 1).
//!
//! Connection IDs, address validation tokens, stateless resets and the like
//! must be unpredictable to observers (RFC 9000 §5.1, §8.1.4, §10.3), so the
//! generator is a PRF in counter mode: block `i` of the stream is
//! `HMAC-SHA256(seed, "quic-proto rng" || i)`, handed out 32 bytes at a time.
//! Knowing any amount of output reveals neither the seed nor other blocks.
//!
//! The same seed gives the same stream, which makes seeded tests replay
//! exactly. In production the endpoint seeds one generator from the operating
//! system with [`Rng::from_os`] and [`fork`](Rng::fork)s children from it.

use std::fmt;
use std::ops::{Bound, RangeBounds};

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// Domain separation for the counter blocks.
const LABEL: &[u8] = b"quic-proto rng";
/// The size of one HMAC-SHA256 output block.
const BLOCK_LEN: usize = 32;

/// A deterministic, cryptographically strong random generator.
///
/// It deliberately does not implement `Clone`: two copies would hand out the
/// same bytes twice. Use [`Rng::fork`] for an independent child.
pub struct Rng {
    key: hmac::Key,
    /// The index of the next block to compute.
    counter: u64,
    block: [u8; BLOCK_LEN],
    /// How many bytes of `block` have been handed out.
    used: usize,
}

/// The operating system's random source failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OsRandomUnavailable;

impl fmt::Display for OsRandomUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the operating system's random source is unavailable")
    }
}

impl std::error::Error for OsRandomUnavailable {}

impl Rng {
    /// A generator whose whole stream is determined by `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &seed),
            counter: 0,
            block: [0; BLOCK_LEN],
            used: BLOCK_LEN,
        }
    }

    /// A generator seeded from a small integer, for tests and simulations.
    ///
    /// Only 64 bits of seed: never use this where observers must not predict
    /// the output.
    pub fn seed_from_u64(seed: u64) -> Self {
        let mut bytes = [0; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        bytes[8..24].copy_from_slice(b"seed_from_u64\0\0\0");
        Self::from_seed(bytes)
    }

    /// A generator seeded with 32 bytes from the operating system (through
    /// ring's `SystemRandom`). This is the only place the crate touches OS
    /// randomness; the endpoint calls it once, or the caller passes a seed.
    pub fn from_os() -> Result<Self, OsRandomUnavailable> {
        let mut seed = [0; 32];
        SystemRandom::new()
            .fill(&mut seed)
            .map_err(|_| OsRandomUnavailable)?;
        Ok(Self::from_seed(seed))
    }

    /// Derives an independent child generator: its seed is the next 32 bytes
    /// of this stream, so it is deterministic given the parent's seed, and
    /// its output cannot be predicted from the parent's later output (or the
    /// reverse) without breaking HMAC.
    pub fn fork(&mut self) -> Self {
        let mut seed = [0; 32];
        self.fill(&mut seed);
        Self::from_seed(seed)
    }

    fn refill(&mut self) {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(LABEL);
        ctx.update(&self.counter.to_be_bytes());
        self.block.copy_from_slice(ctx.sign().as_ref());
        // 2^64 blocks is 2^69 bytes: the counter cannot wrap in practice, and
        // wrapping would repeat the stream rather than fail.
        self.counter = self.counter.wrapping_add(1);
        self.used = 0;
    }

    /// Fills `out` with random bytes.
    pub fn fill(&mut self, out: &mut [u8]) {
        let mut filled = 0;
        while filled < out.len() {
            if self.used == BLOCK_LEN {
                self.refill();
            }
            let take = (out.len() - filled).min(BLOCK_LEN - self.used);
            out[filled..filled + take].copy_from_slice(&self.block[self.used..self.used + take]);
            // Never hand the same bytes out twice.
            self.block[self.used..self.used + take].fill(0);
            self.used += take;
            filled += take;
        }
    }

    /// A random array of `N` bytes.
    pub fn gen_bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        self.fill(&mut out);
        out
    }

    /// A uniformly random `u64`.
    pub fn next_u64(&mut self) -> u64 {
        u64::from_le_bytes(self.gen_bytes())
    }

    /// A uniformly random `u32`.
    pub fn next_u32(&mut self) -> u32 {
        u32::from_le_bytes(self.gen_bytes())
    }

    /// A uniformly random value in `range`, without modulo bias (values in
    /// the incomplete last interval of `u64` are rejected and redrawn).
    ///
    /// # Panics
    ///
    /// If `range` is empty: that is a bug in the caller, never peer input.
    pub fn gen_range(&mut self, range: impl RangeBounds<u64>) -> u64 {
        let low = match range.start_bound() {
            Bound::Included(&x) => Some(x),
            Bound::Excluded(&x) => x.checked_add(1),
            Bound::Unbounded => Some(0),
        };
        let high = match range.end_bound() {
            Bound::Included(&x) => Some(x),
            Bound::Excluded(&x) => x.checked_sub(1),
            Bound::Unbounded => Some(u64::MAX),
        };
        let (low, high) = match (low, high) {
            (Some(low), Some(high)) if low <= high => (low, high),
            _ => panic!("Rng::gen_range called with an empty range"),
        };
        // The number of values, where 0 stands for all 2^64 of them.
        let span = (high - low).wrapping_add(1);
        if span == 0 {
            return self.next_u64();
        }
        // 2^64 mod span: draws below this would make the low values likelier.
        let reject_below = span.wrapping_neg() % span;
        loop {
            let x = self.next_u64();
            if x >= reject_below {
                return low + x % span;
            }
        }
    }

    /// `true` with probability `numerator / denominator` (exactly, without
    /// bias). `denominator` must not be zero.
    pub fn gen_ratio(&mut self, numerator: u64, denominator: u64) -> bool {
        self.gen_range(0..denominator) < numerator
    }
}

impl fmt::Debug for Rng {
    /// Shows neither the seed nor the buffered output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rng")
            .field("blocks_drawn", &self.counter)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
