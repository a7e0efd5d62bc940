//! Round-trip time estimation (RFC 9002 §5) and the timer periods derived
//! from it: the probe timeout base (§6.2.1), the time threshold of loss
//! detection (§6.1.2) and the persistent congestion duration (§7.6.1).
//!
//! The estimator only does arithmetic. The loss detector decides when an ACK
//! frame yields an RTT sample (§5.1: the largest acknowledged packet is newly
//! acknowledged and at least one newly acknowledged packet is ack-eliciting),
//! measures `ack_time - send_time_of_largest_acked` with the `now` it was
//! given, and passes the sample in.

use std::time::Duration;

/// The RTT assumed before any sample exists (RFC 9002 §6.2.2, `kInitialRtt`):
/// 333 ms, which gives a first probe timeout of about one second.
pub const DEFAULT_INITIAL_RTT: Duration = Duration::from_millis(333);

/// Timer granularity (RFC 9002 §6.1.2, `kGranularity`): 1 ms. No timer period
/// computed here is shorter.
pub const GRANULARITY: Duration = Duration::from_millis(1);

/// Numerator of the time threshold multiplier (RFC 9002 §6.1.2,
/// `kTimeThreshold` = 9/8).
pub const TIME_THRESHOLD_NUMERATOR: u32 = 9;

/// Denominator of the time threshold multiplier (RFC 9002 §6.1.2,
/// `kTimeThreshold` = 9/8).
pub const TIME_THRESHOLD_DENOMINATOR: u32 = 8;

/// How many probe timeout periods (including `max_ack_delay`) all packets must
/// have been lost for before congestion is persistent (RFC 9002 §7.6.1,
/// `kPersistentCongestionThreshold`).
pub const PERSISTENT_CONGESTION_THRESHOLD: u32 = 3;

/// The RTT state of one network path (RFC 9002 §5, Appendix A.3).
///
/// Before the first sample, `smoothed_rtt` is the initial RTT and `rttvar`
/// half of it (§5.3); `latest_rtt` and `min_rtt` are zero, as in the
/// pseudocode's initialization (Appendix A.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RttEstimator {
    /// The RTT used until the first sample arrives (and after a reset).
    initial_rtt: Duration,
    /// The most recent RTT sample, without adjustment for ACK delay.
    latest_rtt: Duration,
    /// The smallest sample seen, never adjusted for ACK delay (§5.2).
    min_rtt: Duration,
    /// The exponentially weighted moving average of adjusted samples (§5.3).
    smoothed_rtt: Duration,
    /// The mean deviation of the adjusted samples (§5.3).
    rttvar: Duration,
    /// Whether a sample has been taken since initialization or the last reset.
    has_sample: bool,
}

impl Default for RttEstimator {
    /// An estimator starting from [`DEFAULT_INITIAL_RTT`].
    fn default() -> Self {
        Self::new(DEFAULT_INITIAL_RTT)
    }
}

impl RttEstimator {
    /// An estimator for a new path (RFC 9002 §5.3): `smoothed_rtt =
    /// initial_rtt`, `rttvar = initial_rtt / 2`.
    ///
    /// `initial_rtt` comes from configuration, a previous connection's final
    /// smoothed RTT, or a PATH_CHALLENGE round trip (§6.2.2).
    pub fn new(initial_rtt: Duration) -> Self {
        Self {
            initial_rtt,
            latest_rtt: Duration::ZERO,
            min_rtt: Duration::ZERO,
            smoothed_rtt: initial_rtt,
            rttvar: initial_rtt / 2,
            has_sample: false,
        }
    }

    /// Forgets every sample and starts again from `initial_rtt`, as on
    /// connection migration to a new path (RFC 9002 §5.3, RFC 9000 §9.4).
    pub fn reset(&mut self, initial_rtt: Duration) {
        *self = Self::new(initial_rtt);
    }

    /// Takes one RTT sample (RFC 9002 §5.3, `UpdateRtt` in Appendix A.7).
    ///
    /// - `ack_delay`: the ACK Delay decoded from the ACK frame. Callers may pass
    ///   zero for ACKs of Initial packets, which the peer does not delay.
    /// - `rtt_sample`: `ack_time - send_time_of_largest_acked` (`latest_rtt`).
    /// - `handshake_confirmed`: once true, `ack_delay` is capped at
    ///   `max_ack_delay`; before, the peer's `max_ack_delay` is ignored.
    /// - `max_ack_delay`: the peer's `max_ack_delay` transport parameter.
    ///
    /// The first sample after initialization or [`reset`](Self::reset) sets
    /// `min_rtt` and `smoothed_rtt` to the sample and `rttvar` to half of it,
    /// ignoring `ack_delay`. Later samples update `min_rtt` without the ACK
    /// delay (§5.2), subtract the ACK delay only when that leaves at least
    /// `min_rtt`, then update `rttvar` (with the previous `smoothed_rtt`) and
    /// `smoothed_rtt`.
    ///
    /// The order of those last two steps follows Appendix A.7 and RFC 6298
    /// §2.3 (`rttvar` uses the `smoothed_rtt` from before this sample); the
    /// prose of §5.3 lists them the other way round.
    pub fn update(
        &mut self,
        ack_delay: Duration,
        rtt_sample: Duration,
        handshake_confirmed: bool,
        max_ack_delay: Duration,
    ) {
        self.latest_rtt = rtt_sample;
        if !self.has_sample {
            self.has_sample = true;
            self.min_rtt = rtt_sample;
            self.smoothed_rtt = rtt_sample;
            self.rttvar = rtt_sample / 2;
            return;
        }
        // §5.2: min_rtt ignores acknowledgment delay.
        self.min_rtt = self.min_rtt.min(rtt_sample);
        let ack_delay = if handshake_confirmed {
            ack_delay.min(max_ack_delay)
        } else {
            ack_delay
        };
        // Subtract the ACK delay only if the result stays at or above min_rtt.
        // `checked_add` fails only for absurd delays, which are not plausible.
        let adjusted_rtt = match self.min_rtt.checked_add(ack_delay) {
            Some(floor) if rtt_sample >= floor => rtt_sample - ack_delay,
            _ => rtt_sample,
        };
        let rttvar_sample = self.smoothed_rtt.abs_diff(adjusted_rtt);
        // rttvar = 3/4 * rttvar + 1/4 * rttvar_sample
        self.rttvar = weighted_mean(self.rttvar, 3, rttvar_sample, 1);
        // smoothed_rtt = 7/8 * smoothed_rtt + 1/8 * adjusted_rtt
        self.smoothed_rtt = weighted_mean(self.smoothed_rtt, 7, adjusted_rtt, 1);
    }

    /// Sets `min_rtt` to the latest sample, as endpoints SHOULD after
    /// persistent congestion is established (RFC 9002 §5.2), so that a path
    /// whose RTT grew does not declare persistent congestion again and again.
    /// Does nothing before the first sample.
    pub fn reset_min_rtt(&mut self) {
        if self.has_sample {
            self.min_rtt = self.latest_rtt;
        }
    }

    /// Whether a sample has been taken since initialization or the last
    /// [`reset`](Self::reset). The loss detector records the time of the first
    /// one (`first_rtt_sample`, Appendix A.3) for persistent congestion
    /// (§7.6.2).
    pub fn has_sample(&self) -> bool {
        self.has_sample
    }

    /// The RTT this estimator started from.
    pub fn initial_rtt(&self) -> Duration {
        self.initial_rtt
    }

    /// The most recent sample (`latest_rtt`), zero before the first.
    pub fn latest_rtt(&self) -> Duration {
        self.latest_rtt
    }

    /// The smallest sample (`min_rtt`, RFC 9002 §5.2), zero before the first.
    pub fn min_rtt(&self) -> Duration {
        self.min_rtt
    }

    /// The smoothed RTT (`smoothed_rtt`, RFC 9002 §5.3).
    pub fn smoothed_rtt(&self) -> Duration {
        self.smoothed_rtt
    }

    /// The RTT variation (`rttvar`, RFC 9002 §5.3).
    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }

    /// The probe timeout period without `max_ack_delay` and backoff
    /// (RFC 9002 §6.2.1): `smoothed_rtt + max(4 * rttvar, kGranularity)`.
    ///
    /// The loss detector adds `max_ack_delay` for the Application Data space
    /// only, and doubles the result for each consecutive PTO.
    pub fn pto_base(&self) -> Duration {
        let variation = self.rttvar.saturating_mul(4).max(GRANULARITY);
        self.smoothed_rtt.saturating_add(variation)
    }

    /// The time threshold of loss detection (RFC 9002 §6.1.2):
    /// `max(kTimeThreshold * max(smoothed_rtt, latest_rtt), kGranularity)`.
    /// A packet sent this long before a later acknowledged packet is lost.
    pub fn loss_delay(&self) -> Duration {
        let rtt = self.smoothed_rtt.max(self.latest_rtt);
        let threshold = scale(rtt, TIME_THRESHOLD_NUMERATOR, TIME_THRESHOLD_DENOMINATOR);
        threshold.max(GRANULARITY)
    }

    /// The persistent congestion duration (RFC 9002 §7.6.1):
    /// `(smoothed_rtt + max(4 * rttvar, kGranularity) + max_ack_delay) *
    /// kPersistentCongestionThreshold`.
    ///
    /// Unlike the PTO, this includes `max_ack_delay` whatever the packet
    /// number space of the lost packets. The loss detector declares persistent
    /// congestion when two ack-eliciting packets sent after the first RTT
    /// sample are lost, no packet sent between them was acknowledged, and
    /// their send times are further apart than this (§7.6.2).
    pub fn persistent_congestion_duration(&self, max_ack_delay: Duration) -> Duration {
        self.pto_base()
            .saturating_add(max_ack_delay)
            .saturating_mul(PERSISTENT_CONGESTION_THRESHOLD)
    }
}

/// `(a * weight_a + b * weight_b) / (weight_a + weight_b)`, computed on whole
/// nanoseconds with one rounding down, without overflow.
fn weighted_mean(a: Duration, weight_a: u32, b: Duration, weight_b: u32) -> Duration {
    let sum = a.as_nanos() * u128::from(weight_a) + b.as_nanos() * u128::from(weight_b);
    from_nanos_saturating(sum / u128::from(weight_a + weight_b))
}

/// `d * numerator / denominator` on whole nanoseconds, saturating at
/// [`Duration::MAX`]. `denominator` must not be zero.
fn scale(d: Duration, numerator: u32, denominator: u32) -> Duration {
    from_nanos_saturating(d.as_nanos() * u128::from(numerator) / u128::from(denominator))
}

/// A `Duration` of `nanos` nanoseconds, or [`Duration::MAX`] if that is longer.
pub(crate) fn from_nanos_saturating(nanos: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    match u64::try_from(nanos / NANOS_PER_SEC) {
        // The remainder is below 10^9 and always fits.
        Ok(secs) => Duration::new(secs, (nanos % NANOS_PER_SEC) as u32),
        Err(_) => Duration::MAX,
    }
}

#[cfg(test)]
mod tests;
