//! The receive side of acknowledgments (RFC 9000 §13.2): which packets of a
//! packet number space arrived, whether one is a duplicate (§12.3), when an
//! ACK frame is due (§13.2.1, §13.2.2), writing it (§13.2.3, §13.2.5,
//! §19.3), the ECN counts it reports (§13.4.1), and forgetting what the peer
//! has seen (§13.2.4).
//!
//! # ACK-sending policy
//!
//! Only ack-eliciting packets make an ACK due; the others are acknowledged
//! when an ACK is sent anyway (§13.2.1: an endpoint MUST NOT send a
//! non-ack-eliciting packet in response to a non-ack-eliciting packet). An
//! ack-eliciting packet makes an ACK due:
//!
//! - at once in the Initial and Handshake spaces (§13.2.1);
//! - at once when it arrives out of order: below another ack-eliciting
//!   packet already received, or above the largest one with packets missing
//!   in between (§13.2.1);
//! - at once when it carries the ECN-CE codepoint (§13.2.1);
//! - at once when it is the second ack-eliciting packet since the last ACK
//!   frame (§13.2.2, [`AckTrackerConfig::ack_eliciting_threshold`]);
//! - otherwise `max_ack_delay` after the first ack-eliciting packet not yet
//!   acknowledged.
//!
//! "At once" means in the next packet the connection sends; it may process
//! the rest of a receive batch first (§13.2.2).

use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use crate::coding::VarInt;
use crate::frame::{AckEncoder, EcnCounts};
use crate::range_set::RangeSet;
use crate::shared::SpaceId;

/// The ECN codepoint of a received IP packet (RFC 3168 §5, RFC 9000 §13.4).
/// Not-ECT is given as `None` where an `Option<EcnCodepoint>` is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcnCodepoint {
    /// ECN-Capable Transport ECT(0), binary 10.
    Ect0,
    /// ECN-Capable Transport ECT(1), binary 01.
    Ect1,
    /// Congestion Experienced, binary 11.
    Ce,
}

impl EcnCodepoint {
    /// The codepoint in the two ECN bits of an IP header; `None` for Not-ECT.
    pub fn from_bits(bits: u8) -> Option<Self> {
        match bits & 0b11 {
            0b10 => Some(Self::Ect0),
            0b01 => Some(Self::Ect1),
            0b11 => Some(Self::Ce),
            _ => None,
        }
    }

    /// The two ECN bits of an IP header carrying this codepoint.
    pub fn bits(self) -> u8 {
        match self {
            Self::Ect0 => 0b10,
            Self::Ect1 => 0b01,
            Self::Ce => 0b11,
        }
    }
}

/// Limits and thresholds of a [`ReceivedPackets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckTrackerConfig {
    /// The most ranges of received packet numbers remembered (§13.2.3). When
    /// a new range would exceed it, the lowest range is forgotten and every
    /// packet number below its end is treated as a duplicate from then on.
    /// Values below 1 are treated as 1.
    pub max_ranges: usize,
    /// How many ack-eliciting packets make an ACK due at once (§13.2.2
    /// recommends 2). Values below 1 are treated as 1.
    pub ack_eliciting_threshold: u64,
}

impl Default for AckTrackerConfig {
    /// 64 ranges, an ACK every 2 ack-eliciting packets.
    fn default() -> Self {
        Self {
            max_ranges: 64,
            ack_eliciting_threshold: 2,
        }
    }
}

/// The packets received in one packet number space and the state of the
/// ACK frames acknowledging them (RFC 9000 §13.2).
#[derive(Debug, Clone)]
pub struct ReceivedPackets {
    space: SpaceId,
    config: AckTrackerConfig,
    /// Packet numbers received at or above `floor`, bounded by
    /// `config.max_ranges`. These are what ACK frames report.
    ranges: RangeSet,
    /// Packet numbers below this are duplicates or too old to accept: either
    /// their range was forgotten to respect the bound, or the peer saw an ACK
    /// frame for them (§13.2.3: a range may be dropped once it is certain
    /// that no packet in it will be accepted again).
    floor: u64,
    /// The largest packet number received and when (§13.2.5). Kept even when
    /// its range is pruned: packet number decoding needs it (§17.1).
    largest: Option<(u64, Instant)>,
    /// The largest ack-eliciting packet number received.
    largest_ack_eliciting: Option<u64>,
    /// Ack-eliciting packets received since the last ACK frame.
    ack_eliciting_since_ack: u64,
    /// When the first ack-eliciting packet not yet acknowledged arrived.
    first_unacked_ack_eliciting: Option<Instant>,
    /// When an ACK became due at once, if it did.
    immediate: Option<Instant>,
    /// Whether a packet arrived since the last ACK frame.
    unacked: bool,
    /// ECN counts of the packets received (§13.4.1).
    ecn: EcnCounts,
    /// Whether any packet carried an ECN codepoint; ACK frames then carry the
    /// counts (type 0x03).
    ecn_seen: bool,
}

impl ReceivedPackets {
    /// Tracking for `space`, which decides whether ACKs may be delayed.
    pub fn new(space: SpaceId, config: AckTrackerConfig) -> Self {
        Self {
            space,
            config,
            ranges: RangeSet::new(),
            floor: 0,
            largest: None,
            largest_ack_eliciting: None,
            ack_eliciting_since_ack: 0,
            first_unacked_ack_eliciting: None,
            immediate: None,
            unacked: false,
            ecn: EcnCounts::default(),
            ecn_seen: false,
        }
    }

    /// Whether packet `pn` must be discarded as a possible duplicate
    /// (RFC 9000 §12.3, §21.10): it was received before, or it is below the
    /// oldest packet number still tracked. Call this after removing header
    /// protection and decoding the packet number, before processing the
    /// frames.
    pub fn is_duplicate(&self, pn: u64) -> bool {
        pn < self.floor || self.ranges.contains(pn)
    }

    /// Records packet `pn`, once its frames are processed (§13.1), with the
    /// ECN codepoint of the IP packet it came in. Returns `false` (and
    /// changes nothing) for a duplicate, which is neither acknowledged again
    /// nor counted for ECN (§13.4.1).
    pub fn on_packet_received(
        &mut self,
        now: Instant,
        pn: u64,
        ack_eliciting: bool,
        ecn: Option<EcnCodepoint>,
    ) -> bool {
        if self.is_duplicate(pn) {
            return false;
        }
        let out_of_order = ack_eliciting && self.arrives_out_of_order(pn);
        self.ranges.insert_one(pn);
        if self.ranges.len() > self.config.max_ranges.max(1) {
            if let Some(dropped) = self.ranges.pop_min() {
                self.floor = self.floor.max(dropped.end);
            }
        }
        if self.largest.is_none_or(|(largest, _)| pn > largest) {
            self.largest = Some((pn, now));
        }
        self.count_ecn(ecn);
        self.unacked = true;
        if !ack_eliciting {
            return true;
        }
        if self
            .largest_ack_eliciting
            .is_none_or(|largest| pn > largest)
        {
            self.largest_ack_eliciting = Some(pn);
        }
        self.ack_eliciting_since_ack += 1;
        self.first_unacked_ack_eliciting.get_or_insert(now);
        let threshold = self.config.ack_eliciting_threshold.max(1);
        if self.space != SpaceId::Data
            || out_of_order
            || ecn == Some(EcnCodepoint::Ce)
            || self.ack_eliciting_since_ack >= threshold
        {
            self.immediate.get_or_insert(now);
        }
        true
    }

    /// §13.2.1: `pn` is below an ack-eliciting packet already received, or
    /// above the largest one with packet numbers missing in between (below
    /// the floor nothing counts as missing: those are given up on).
    fn arrives_out_of_order(&self, pn: u64) -> bool {
        let Some(largest) = self.largest_ack_eliciting else {
            return false;
        };
        if pn < largest {
            return true;
        }
        let after = largest.saturating_add(1).max(self.floor);
        after < pn && !self.ranges.contains_range(after..pn)
    }

    fn count_ecn(&mut self, ecn: Option<EcnCodepoint>) {
        let Some(codepoint) = ecn else {
            return;
        };
        let count = match codepoint {
            EcnCodepoint::Ect0 => &mut self.ecn.ect0,
            EcnCodepoint::Ect1 => &mut self.ecn.ect1,
            EcnCodepoint::Ce => &mut self.ecn.ce,
        };
        *count = count.saturating_add(1);
        self.ecn_seen = true;
    }

    /// The largest packet number received, for packet number decoding
    /// (RFC 9000 §17.1, Appendix A.3).
    pub fn largest_received(&self) -> Option<u64> {
        self.largest.map(|(pn, _)| pn)
    }

    /// The ECN counts reported in ACK frames.
    pub fn ecn_counts(&self) -> EcnCounts {
        self.ecn
    }

    /// The ranges an ACK frame would report now, ascending, half-open.
    pub fn ranges(&self) -> &RangeSet {
        &self.ranges
    }

    /// Whether an ACK frame must go out in the next packet sent.
    pub fn wants_ack_now(&self) -> bool {
        self.immediate.is_some() && !self.ranges.is_empty()
    }

    /// Whether a packet arrived that no ACK frame has reported yet. The
    /// connection SHOULD add an ACK frame to packets it sends anyway when
    /// this is true (§13.2).
    pub fn has_unacked(&self) -> bool {
        self.unacked && !self.ranges.is_empty()
    }

    /// When an ACK frame is due, for the connection's ACK timer: at once (the
    /// time it became due) or `max_ack_delay` after the first ack-eliciting
    /// packet not yet acknowledged; `None` if no ack-eliciting packet waits.
    /// `max_ack_delay` is our own transport parameter (§18.2).
    pub fn ack_deadline(&self, max_ack_delay: Duration) -> Option<Instant> {
        if self.ranges.is_empty() {
            // Everything was pruned: there is nothing left to acknowledge.
            return None;
        }
        let delayed = self
            .first_unacked_ack_eliciting
            .and_then(|first| first.checked_add(max_ack_delay));
        match (self.immediate, delayed) {
            (Some(now), Some(delayed)) => Some(now.min(delayed)),
            (now, delayed) => now.or(delayed),
        }
    }

    /// Whether an ACK frame must be sent at `now`.
    pub fn should_send_ack(&self, now: Instant, max_ack_delay: Duration) -> bool {
        self.ack_deadline(max_ack_delay)
            .is_some_and(|deadline| deadline <= now)
    }

    /// The ACK Delay field for an ACK sent at `now` (§13.2.5, §19.3): the
    /// microseconds since the largest packet arrived, divided by
    /// `2^ack_delay_exponent`. Zero when nothing was received.
    pub fn ack_delay_field(&self, now: Instant, ack_delay_exponent: u8) -> u64 {
        let Some((_, received)) = self.largest else {
            return 0;
        };
        let micros = now.saturating_duration_since(received).as_micros();
        let scaled = micros
            .checked_shr(u32::from(ack_delay_exponent))
            .unwrap_or(0);
        u64::try_from(scaled)
            .unwrap_or(u64::MAX)
            .min(VarInt::MAX.into_inner())
    }

    /// Appends an ACK frame reporting the packets received, newest ranges
    /// first, dropping the oldest ranges so that it fits in `budget` bytes
    /// (§13.2.3), with the ECN counts once any packet carried an ECN
    /// codepoint. Returns its Largest Acknowledged, which the connection
    /// keeps with the sent packet for
    /// [`on_ack_of_ack`](Self::on_ack_of_ack); `None`, writing nothing, if
    /// there is nothing to acknowledge or the frame cannot fit.
    ///
    /// Writing an ACK frame settles the packets received so far: no ACK is
    /// due until more arrive.
    pub fn write_ack(
        &mut self,
        now: Instant,
        ack_delay_exponent: u8,
        budget: usize,
        out: &mut Vec<u8>,
    ) -> Option<u64> {
        let largest = self.ranges.max()?;
        let delay = self.ack_delay_field(now, ack_delay_exponent);
        let ecn = self.ecn_seen.then_some(self.ecn);
        let encoder = AckEncoder::new(descending(&self.ranges), delay, ecn).ok()?;
        encoder.fit(budget)?.encode(out);
        self.settle();
        Some(largest)
    }

    /// A packet carrying our ACK frame with Largest Acknowledged
    /// `largest_acked` was acknowledged: the peer knows about every packet up
    /// to it, so stop reporting them (§13.2.4). They are from then on
    /// treated as duplicates.
    pub fn on_ack_of_ack(&mut self, largest_acked: u64) {
        let new_floor = largest_acked.saturating_add(1);
        if new_floor <= self.floor {
            return;
        }
        self.floor = new_floor;
        self.ranges.remove_below(new_floor);
        if self.ranges.is_empty() {
            self.settle();
        }
    }

    /// Nothing received is waiting for an ACK frame any more.
    fn settle(&mut self) {
        self.ack_eliciting_since_ack = 0;
        self.first_unacked_ack_eliciting = None;
        self.immediate = None;
        self.unacked = false;
    }
}

/// The ranges of `set` as inclusive ranges, largest first, in an iterator
/// that can be cloned (as [`AckEncoder`] needs) without allocating.
fn descending(set: &RangeSet) -> impl Iterator<Item = RangeInclusive<u64>> + Clone + '_ {
    (0..set.len())
        .rev()
        .filter_map(move |index| set.iter().nth(index))
        .map(|range| range.start..=range.end.saturating_sub(1))
}

#[cfg(test)]
mod tests;
