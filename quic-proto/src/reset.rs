//! Stateless reset (RFC 9000 §10.3): tokens derived from a static key, the
//! reset packet itself, its detection, and a rate limiter.
//!
//! ```text
//! Stateless Reset {
//!   Fixed Bits (2) = 1,
//!   Unpredictable Bits (38..),
//!   Stateless Reset Token (128),
//! }
//! ```

use std::fmt;
use std::hint::black_box;
use std::time::{Duration, Instant};

use ring::hmac;

use crate::cid::ConnectionId;
use crate::rand::Rng;

/// The length of a stateless reset token.
pub const RESET_TOKEN_LEN: usize = 16;

/// The smallest Stateless Reset: 5 bytes that look like a short header (two
/// fixed bits and 38 unpredictable ones) and the 16-byte token (RFC 9000
/// §10.3). Short-header packets below this size are never valid.
pub const MIN_STATELESS_RESET_LEN: usize = 5 + RESET_TOKEN_LEN;

/// Resets shorter than this might be identifiable as resets by an observer
/// (RFC 9000 §10.3.3); triggers up to this size are answered one byte
/// shorter, as §10.3 recommends for packets of 43 bytes or less.
const INDISTINGUISHABLE_LEN: usize = 42;

/// A stateless reset token (RFC 9000 §10.3): 16 bytes that let the holder of
/// a connection ID's token end the connection.
///
/// Equality is constant time (§10.3.1), and `Debug` does not print the value:
/// whoever learns it can reset the connection.
#[derive(Clone, Copy, Eq)]
pub struct ResetToken([u8; RESET_TOKEN_LEN]);

impl ResetToken {
    /// The token's bytes, for a NEW_CONNECTION_ID frame or the
    /// `stateless_reset_token` transport parameter.
    pub fn as_bytes(&self) -> &[u8; RESET_TOKEN_LEN] {
        &self.0
    }

    /// The token's bytes, by value.
    pub fn into_bytes(self) -> [u8; RESET_TOKEN_LEN] {
        self.0
    }
}

impl From<[u8; RESET_TOKEN_LEN]> for ResetToken {
    fn from(bytes: [u8; RESET_TOKEN_LEN]) -> Self {
        Self(bytes)
    }
}

impl PartialEq for ResetToken {
    /// Compares without leaking where the tokens differ (RFC 9000 §10.3.1).
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for ResetToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResetToken(..)")
    }
}

/// Compares two tokens touching every byte, whatever the contents.
fn constant_time_eq(a: &[u8; RESET_TOKEN_LEN], b: &[u8; RESET_TOKEN_LEN]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= black_box(x ^ y);
    }
    black_box(diff) == 0
}

/// The static key that stateless reset tokens are derived from (RFC 9000
/// §10.3.2): `token = HMAC-SHA256(key, connection ID)[..16]`.
///
/// An endpoint that restarts with the same key (or a cluster whose members
/// share it) still produces the right token for a connection it lost. The
/// flip side, also §10.3.2: a connection ID must never be reused for another
/// connection by nodes sharing the key, and zero-length IDs get no token.
#[derive(Clone)]
pub struct ResetKey(hmac::Key);

impl ResetKey {
    /// A key from 32 secret bytes (from configuration, to survive restarts).
    pub fn new(key: &[u8; 32]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, key))
    }

    /// A fresh key from `rng`; tokens then change when the process restarts.
    pub fn from_rng(rng: &mut Rng) -> Self {
        Self::new(&rng.gen_bytes())
    }

    /// The stateless reset token for `cid`.
    pub fn token(&self, cid: &ConnectionId) -> ResetToken {
        let tag = hmac::sign(&self.0, cid);
        let mut token = [0; RESET_TOKEN_LEN];
        token.copy_from_slice(&tag.as_ref()[..RESET_TOKEN_LEN]);
        ResetToken(token)
    }
}

impl fmt::Debug for ResetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResetKey(..)")
    }
}

/// Builds a Stateless Reset in answer to a packet of `trigger_len` bytes
/// (RFC 9000 §10.3), at most `max_len` bytes long, or `None` if no reset may
/// be sent:
///
/// - It is strictly shorter than the trigger (§10.3.3, so two endpoints
///   cannot loop), hence triggers of [`MIN_STATELESS_RESET_LEN`] bytes or
///   fewer get no answer.
/// - It is at least [`MIN_STATELESS_RESET_LEN`] bytes (§10.3).
/// - Triggers of 43 bytes or less get a reset one byte shorter (§10.3);
///   longer triggers get a random length from 42 bytes up to one less than
///   the trigger (or `max_len`), so the length gives nothing away.
/// - The first byte looks like a short header: `0b01` then random bits; the
///   rest up to the token is unpredictable.
///
/// The caller decides whether to send one at all: only in answer to a packet
/// it cannot attribute to a connection, under a rate limit
/// ([`ResetRateLimiter`]), and with the token for the packet's Destination
/// Connection ID.
pub fn build_stateless_reset(
    rng: &mut Rng,
    token: &ResetToken,
    trigger_len: usize,
    max_len: usize,
) -> Option<Vec<u8>> {
    let longest = trigger_len.checked_sub(1)?.min(max_len);
    if longest < MIN_STATELESS_RESET_LEN {
        return None;
    }
    let len = if longest <= INDISTINGUISHABLE_LEN {
        longest
    } else {
        // Both bounds are small usizes; the u64 round trip cannot truncate.
        rng.gen_range(INDISTINGUISHABLE_LEN as u64..=longest as u64) as usize
    };
    let mut packet = vec![0; len];
    let (unpredictable, token_bytes) = packet.split_at_mut(len - RESET_TOKEN_LEN);
    rng.fill(unpredictable);
    if let Some(first) = unpredictable.first_mut() {
        *first = 0b0100_0000 | (*first & 0b0011_1111);
    }
    token_bytes.copy_from_slice(token.as_bytes());
    Some(packet)
}

/// Whether `datagram` ends in one of `tokens` (RFC 9000 §10.3.1).
///
/// Call it for a datagram whose first packet could not be attributed to a
/// connection or not decrypted, with the tokens of the peer's connection IDs
/// that this endpoint has used and not retired (never tokens of unused or
/// retired IDs). Every token is compared in full, in constant time, so timing
/// reveals neither token contents nor which one matched. Datagrams shorter
/// than [`MIN_STATELESS_RESET_LEN`] are never resets.
pub fn is_stateless_reset<'a>(
    datagram: &[u8],
    tokens: impl IntoIterator<Item = &'a ResetToken>,
) -> bool {
    if datagram.len() < MIN_STATELESS_RESET_LEN {
        return false;
    }
    let Some(tail) = datagram
        .get(datagram.len() - RESET_TOKEN_LEN..)
        .and_then(|tail| <[u8; RESET_TOKEN_LEN]>::try_from(tail).ok())
    else {
        return false;
    };
    let tail = ResetToken(tail);
    let mut found = false;
    for token in tokens {
        found |= *token == tail;
    }
    found
}

/// A token bucket limiting how many Stateless Resets an endpoint sends
/// (RFC 9000 §10.3.3: "stop generating new Stateless Resets once a limit is
/// reached"). Resets answer unauthenticated packets, so without a limit an
/// attacker could make the endpoint send one per spoofed datagram.
///
/// One limiter per endpoint bounds the total; §10.3.3 suggests separate
/// limits per remote address as well, which the endpoint can build from
/// several limiters if it wants to.
#[derive(Debug, Clone)]
pub struct ResetRateLimiter {
    /// Tokens added per second.
    rate: u64,
    /// The bucket's capacity, in whole tokens.
    burst: u64,
    /// The fill level in billionths of a token, so refills are exact.
    nano_tokens: u128,
    last: Option<Instant>,
}

impl ResetRateLimiter {
    const NANOS_PER_TOKEN: u128 = 1_000_000_000;

    /// Allows `per_second` resets per second on average and bursts of up to
    /// `burst`. The bucket starts full.
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            rate: u64::from(per_second),
            burst: u64::from(burst),
            nano_tokens: u128::from(burst) * Self::NANOS_PER_TOKEN,
            last: None,
        }
    }

    /// Whether a reset may be sent at `now`; if so, it is counted. A `now`
    /// earlier than a previous one adds nothing.
    pub fn allow(&mut self, now: Instant) -> bool {
        let elapsed = match self.last {
            Some(last) => now.saturating_duration_since(last),
            None => Duration::ZERO,
        };
        if self.last.is_none_or(|last| now > last) {
            self.last = Some(now);
        }
        let capacity = u128::from(self.burst) * Self::NANOS_PER_TOKEN;
        let refill = elapsed.as_nanos().saturating_mul(u128::from(self.rate));
        self.nano_tokens = self.nano_tokens.saturating_add(refill).min(capacity);
        if self.nano_tokens < Self::NANOS_PER_TOKEN {
            return false;
        }
        self.nano_tokens -= Self::NANOS_PER_TOKEN;
        true
    }
}

impl Default for ResetRateLimiter {
    /// 100 resets per second, bursts of 20.
    fn default() -> Self {
        Self::new(100, 20)
    }
}

#[cfg(test)]
mod tests;
