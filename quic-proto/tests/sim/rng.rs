//! [`SimRng`]: the simulator's only source of randomness.

use std::ops::{Range, RangeInclusive};
use std::time::Duration;

/// Domain tags so that `fork()` and `derive(key)` never hand out the same stream.
const TAG_FORK: u64 = 0x666f_726b_5f5f_5f5f; // "fork____"
const TAG_DERIVE: u64 = 0x6465_7269_7665_5f5f; // "derive__"

/// A small deterministic PRNG: xoshiro256** (Blackman and Vigna), its state
/// filled from the seed through splitmix64.
///
/// Children are derived without touching the parent's output stream:
/// [`fork`](Self::fork) numbers its children in order, and
/// [`derive`](Self::derive) names them by key. So drawing numbers from a
/// parent never changes its children, adding a node to the end of a link never
/// changes the nodes before it, and adding a link between two hosts never
/// changes the randomness of another pair's link (the network derives a link's
/// stream from its address pair).
#[derive(Debug, Clone)]
pub struct SimRng {
    s: [u64; 4],
    /// The seed this stream was created from; children are derived from it.
    origin: u64,
    forks: u64,
}

impl SimRng {
    /// A stream fully determined by `seed`.
    pub fn from_seed(seed: u64) -> Self {
        let mut sm = seed;
        let mut s = [0; 4];
        for word in &mut s {
            *word = splitmix64(&mut sm);
        }
        // splitmix64 is a bijection of a counter, so four consecutive outputs
        // are never all zero, the one state xoshiro must avoid.
        Self {
            s,
            origin: seed,
            forks: 0,
        }
    }

    /// A stream from a raw xoshiro256** state (for reference vectors). The
    /// state must not be all zero.
    pub fn from_state(s: [u64; 4]) -> Self {
        assert!(s != [0; 4], "xoshiro256** state must not be all zero");
        Self {
            s,
            origin: s[0],
            forks: 0,
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let [s0, s1, s2, s3] = &mut self.s;
        let result = s1.wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = *s1 << 17;
        *s2 ^= *s0;
        *s3 ^= *s1;
        *s1 ^= *s2;
        *s0 ^= *s3;
        *s2 ^= t;
        *s3 = s3.rotate_left(45);
        result
    }

    /// A uniform value in `range` (Lemire's multiply-and-reject, unbiased).
    ///
    /// # Panics
    /// If the range is empty: that is a bug in the test, not a random event.
    pub fn gen_range(&mut self, range: Range<u64>) -> u64 {
        assert!(
            range.start < range.end,
            "gen_range on empty range {range:?}"
        );
        let span = range.end - range.start;
        let mut m = u128::from(self.next_u64()) * u128::from(span);
        if (m as u64) < span {
            let threshold = span.wrapping_neg() % span;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(span);
            }
        }
        range.start + (m >> 64) as u64
    }

    /// A uniform value in the inclusive `range`.
    pub fn gen_range_inclusive(&mut self, range: RangeInclusive<u64>) -> u64 {
        let (lo, hi) = range.into_inner();
        assert!(lo <= hi, "gen_range_inclusive on empty range {lo}..={hi}");
        match hi.checked_add(1) {
            Some(end) => self.gen_range(lo..end),
            None if lo == 0 => self.next_u64(),
            None => self.gen_range(lo - 1..hi) + 1,
        }
    }

    /// A uniform duration in the inclusive `range`, to the nanosecond.
    pub fn gen_duration(&mut self, range: RangeInclusive<Duration>) -> Duration {
        let (lo, hi) = range.into_inner();
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).expect("duration fits 584 years");
        Duration::from_nanos(self.gen_range_inclusive(nanos(lo)..=nanos(hi)))
    }

    /// `true` with probability `p` (clamped to `0.0..=1.0`; `0.0` never, `1.0`
    /// always, and neither draws a number).
    pub fn gen_bool(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        // 53 random bits give a uniform f64 in [0, 1).
        let unit = (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        unit < p
    }

    /// Fills `dest` with random bytes.
    pub fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }

    /// The next child stream: the `n`th call returns the same stream for the
    /// same seed, whatever else was drawn from `self` in between.
    pub fn fork(&mut self) -> SimRng {
        self.forks += 1;
        SimRng::from_seed(mix(self.origin, TAG_FORK, self.forks))
    }

    /// The child stream named `key`: the same `(seed, key)` always gives the
    /// same stream, independent of forks, draws and other keys.
    pub fn derive(&self, key: u64) -> SimRng {
        SimRng::from_seed(mix(self.origin, TAG_DERIVE, key))
    }

    /// The seed this stream was created from.
    pub fn seed(&self) -> u64 {
        self.origin
    }
}

/// One step of splitmix64 (Steele, Lea and Flood): advances `state` by the
/// golden-ratio increment and returns the mixed value.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A child seed from a parent seed, a domain tag and a key.
fn mix(origin: u64, tag: u64, key: u64) -> u64 {
    let mut state = origin ^ tag;
    let a = splitmix64(&mut state);
    let mut state = a ^ key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    splitmix64(&mut state)
}

/// A 64-bit FNV-1a hash, used for stable keys and the delivery digest (stable
/// across Rust releases, unlike `DefaultHasher`).
#[derive(Debug, Clone, Copy)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    /// Mixes `bytes` into the hash.
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// The hash so far.
    pub fn finish(&self) -> u64 {
        self.0
    }
}
