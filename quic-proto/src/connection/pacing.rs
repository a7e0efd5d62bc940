//! Pacing (RFC 9002 §7.7): spreading in-flight packets over the round trip
//! instead of sending a whole congestion window at once.
//!
//! [`Pacer`] is a token bucket. It fills at
//! `rate = N * congestion_window / smoothed_rtt` with `N = 1.25` (§7.7), and
//! holds at most a *burst capacity* of bytes:
//!
//! ```text
//! capacity = max(min(cwnd, max(max_burst, initial_window)), max_datagram_size)
//! ```
//!
//! where `initial_window` is RFC 9002 §7.2's `min(10 * mds, max(14720, 2 *
//! mds))` and `max_burst` defaults to [`DEFAULT_MAX_BURST`], 64 KiB. So a
//! connection starts with the initial window as its burst, as §7.7
//! recommends, and once its window has grown it may release one whole UDP GSO
//! batch (up to 64 KiB) back to back, which §7.7 allows a sender to choose
//! ("MAY use a higher limit"); the kernel sends such a batch as one burst
//! anyway. The capacity never exceeds the window, which limits bursts by
//! itself, and always holds at least one datagram.
//! [`Pacer::with_max_burst`] lowers or raises the limit.
//!
//! The bucket is refilled from the time elapsed since the last refill, in
//! integer arithmetic that keeps fractions of a byte, so polling often loses
//! nothing and the instants returned are exact to the nanosecond.
//!
//! Packets containing only ACK frames SHOULD NOT be paced (§7.7); the send
//! path neither asks the pacer about them nor reports them with
//! [`Pacer::on_sent`]. A sender held back only by pacing is not application
//! limited (§7.8).

use std::time::{Duration, Instant};

use super::congestion::initial_window;
use super::rtt::from_nanos_saturating;

/// The default largest burst once the window allows it: 64 KiB, the most one
/// UDP GSO send carries.
pub const DEFAULT_MAX_BURST: u64 = 64 * 1024;

/// Numerator of the pacing gain `N` = 5/4 = 1.25 (RFC 9002 §7.7).
pub const PACING_GAIN_NUMERATOR: u64 = 5;

/// Denominator of the pacing gain `N` = 5/4 = 1.25 (RFC 9002 §7.7).
pub const PACING_GAIN_DENOMINATOR: u64 = 4;

/// A token-bucket pacer for one path (RFC 9002 §7.7).
///
/// Call [`delay`](Self::delay) (or [`budget`](Self::budget)) with the current
/// congestion window and smoothed RTT before sending, and
/// [`on_sent`](Self::on_sent) after sending. The first call finds the bucket
/// full.
#[derive(Debug, Clone)]
pub struct Pacer {
    /// The configured upper bound on the burst capacity.
    max_burst: u64,
    /// Whole bytes that may be sent now.
    tokens: u64,
    /// A fraction of a byte, in units of `1 / rate.per_nanos` bytes, refilled
    /// but not yet worth a whole byte. Always below `rate.per_nanos`.
    carry: u128,
    /// When `tokens` and `carry` were last brought up to date.
    last_refill: Option<Instant>,
    /// The rate of the last refill, to notice changes.
    rate: Rate,
}

/// A refill rate: `bytes` per `per_nanos` nanoseconds, or no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rate {
    /// No usable window or RTT: the bucket is always full.
    Unlimited,
    /// `bytes / per_nanos` bytes per nanosecond; both are non-zero.
    Limited { bytes: u128, per_nanos: u128 },
}

impl Rate {
    /// `1.25 * cwnd / smoothed_rtt`, or unlimited if either is zero.
    fn new(cwnd: u64, smoothed_rtt: Duration) -> Self {
        let per_nanos = smoothed_rtt.as_nanos() * u128::from(PACING_GAIN_DENOMINATOR);
        let bytes = u128::from(cwnd) * u128::from(PACING_GAIN_NUMERATOR);
        if bytes == 0 || per_nanos == 0 {
            Self::Unlimited
        } else {
            Self::Limited { bytes, per_nanos }
        }
    }
}

impl Default for Pacer {
    fn default() -> Self {
        Self::new()
    }
}

impl Pacer {
    /// A pacer with the default burst limit, [`DEFAULT_MAX_BURST`].
    pub fn new() -> Self {
        Self::with_max_burst(DEFAULT_MAX_BURST)
    }

    /// A pacer whose burst capacity is at most `max_burst` bytes once the
    /// window exceeds the initial window. The capacity is never below
    /// `min(cwnd, initial_window)` nor below one datagram, so `0` gives
    /// RFC 9002 §7.7's strict recommendation of bursts no larger than the
    /// initial window.
    pub fn with_max_burst(max_burst: u64) -> Self {
        Self {
            max_burst,
            tokens: 0,
            carry: 0,
            last_refill: None,
            rate: Rate::Unlimited,
        }
    }

    /// The burst capacity for a window of `cwnd` bytes and datagrams of
    /// `max_datagram_size` bytes (see the module docs).
    pub fn capacity(&self, cwnd: u64, max_datagram_size: u64) -> u64 {
        let limit = self.max_burst.max(initial_window(max_datagram_size));
        cwnd.min(limit).max(max_datagram_size)
    }

    /// When a datagram of `bytes` may be sent: `None` if it may be sent now,
    /// otherwise the exact instant from which it may (always after `now`).
    ///
    /// `cwnd` and `smoothed_rtt` set the rate; a zero window or RTT means no
    /// pacing. A request larger than the burst capacity waits for a full
    /// bucket. If the instant is too far away to be represented, pacing gives
    /// way and `None` is returned; the congestion window still applies.
    pub fn delay(
        &mut self,
        now: Instant,
        bytes: u64,
        cwnd: u64,
        smoothed_rtt: Duration,
        max_datagram_size: u64,
    ) -> Option<Instant> {
        let capacity = self.capacity(cwnd, max_datagram_size);
        self.refill(now, Rate::new(cwnd, smoothed_rtt), capacity);
        let needed = bytes.min(capacity);
        let deficit = needed.checked_sub(self.tokens).filter(|&d| d > 0)?;
        let Rate::Limited {
            bytes: rate_bytes,
            per_nanos,
        } = self.rate
        else {
            return None;
        };
        // Units of 1/per_nanos bytes still missing; `carry < per_nanos` and
        // `deficit >= 1`, so this is positive.
        let missing = u128::from(deficit)
            .checked_mul(per_nanos)
            .map(|units| units - self.carry);
        let wait_nanos = missing.map_or(u128::MAX, |units| units.div_ceil(rate_bytes));
        // The refill brought the bucket up to `last_refill`, which is `now`
        // unless the caller went back in time.
        let base = self.last_refill.map_or(now, |last| last.max(now));
        base.checked_add(from_nanos_saturating(wait_nanos))
    }

    /// How many bytes may be sent back to back at `now`: the tokens in the
    /// bucket after refilling. A GSO batch built at `now` should not exceed it.
    pub fn budget(
        &mut self,
        now: Instant,
        cwnd: u64,
        smoothed_rtt: Duration,
        max_datagram_size: u64,
    ) -> u64 {
        let capacity = self.capacity(cwnd, max_datagram_size);
        self.refill(now, Rate::new(cwnd, smoothed_rtt), capacity);
        self.tokens
    }

    /// A paced datagram of `bytes` was sent: its bytes leave the bucket. A
    /// datagram sent without waiting (a probe, or one larger than the
    /// capacity) empties it.
    pub fn on_sent(&mut self, bytes: u64) {
        self.tokens = self.tokens.saturating_sub(bytes);
    }

    /// Brings the bucket up to `now` at `rate`, never beyond `capacity`.
    fn refill(&mut self, now: Instant, rate: Rate, capacity: u64) {
        if rate != self.rate {
            // The carried fraction was in the old rate's units: drop it
            // (less than one byte).
            self.carry = 0;
            self.rate = rate;
        }
        self.tokens = self.tokens.min(capacity);
        let Some(last) = self.last_refill.filter(|&last| now >= last) else {
            // First use: start full. A `now` before the last refill (which a
            // caller should not pass) adds nothing.
            if self.last_refill.is_none() {
                self.fill(now, capacity);
            }
            return;
        };
        let room = capacity - self.tokens;
        let Rate::Limited { bytes, per_nanos } = rate else {
            self.fill(now, capacity);
            return;
        };
        let units = (now - last)
            .as_nanos()
            .checked_mul(bytes)
            .and_then(|units| units.checked_add(self.carry));
        match units {
            Some(units) if units / per_nanos < u128::from(room) => {
                // Below `room`, so it fits in a u64.
                self.tokens += (units / per_nanos) as u64;
                self.carry = units % per_nanos;
                self.last_refill = Some(now);
            }
            _ => self.fill(now, capacity),
        }
    }

    /// Fills the bucket to `capacity` as of `now`.
    fn fill(&mut self, now: Instant, capacity: u64) {
        self.tokens = capacity;
        self.carry = 0;
        self.last_refill = Some(now);
    }
}

#[cfg(test)]
mod tests;
