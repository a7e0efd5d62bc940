//! The loss detection timer (RFC 9002 §6.1.2, §6.2, Appendix A.8, A.9).

use std::time::Instant;

use super::{AckSink, LossSummary, Recovery, RecoveryContext};
use crate::shared::SpaceId;

/// The PTO backoff doubles the period for each consecutive PTO (RFC 9002
/// §6.2.1) up to `2^MAX_PTO_BACKOFF_EXPONENT` times; `pto_count` itself keeps
/// counting. With a one-second PTO that is over 34 years, far beyond any
/// idle timeout, so the cap only keeps the arithmetic from overflowing.
pub const MAX_PTO_BACKOFF_EXPONENT: u32 = 30;

/// What the connection must do after
/// [`on_loss_detection_timeout`](Recovery::on_loss_detection_timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutOutcome {
    /// The timer was not due (or not armed): nothing happened.
    NotDue,
    /// Time-threshold loss detection ran in `space` (§6.1.2); the lost
    /// packets went to the sink.
    Lost {
        /// The space whose packets were declared lost.
        space: SpaceId,
        /// What was lost.
        summary: LossSummary,
    },
    /// A probe timeout (§6.2.4): send probe packets.
    Probe(Probe),
}

/// The probes a PTO asks for (RFC 9002 §6.2.4, Appendix A.9).
///
/// Every probe packet must be ack-eliciting, and probes are sent whatever
/// the congestion window (§7.5) but count as in flight. A probe SHOULD carry
/// new data if there is any, else data sent before, else a PING. The sender
/// SHOULD also send ack-eliciting packets in the other spaces with packets
/// in flight ([`Recovery::has_ack_eliciting_in_flight`]), coalesced if
/// possible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// The packet number space to probe in.
    pub space: SpaceId,
    /// How many ack-eliciting packets to send at most: two after a PTO with
    /// packets in flight (one is allowed), one for an anti-deadlock probe.
    pub packets: u8,
    /// An anti-deadlock probe of a client (§6.2.2.1): nothing is in flight,
    /// but the server may be blocked by its anti-amplification limit. In
    /// [`SpaceId::Initial`] the datagram must be padded to at least 1200
    /// bytes; in [`SpaceId::Handshake`] the packet proves address ownership.
    pub anti_deadlock: bool,
}

impl<T> Recovery<T> {
    /// `GetLossTimeAndSpace` (Appendix A.8): the earliest time-threshold loss
    /// time and its space.
    fn get_loss_time_and_space(&self) -> Option<(Instant, SpaceId)> {
        SpaceId::ALL
            .into_iter()
            .filter_map(|space| Some((self.spaces[space as usize].loss_time?, space)))
            .min_by_key(|&(time, _)| time)
    }

    /// The PTO backoff multiplier, `2^pto_count`, capped.
    fn pto_backoff(&self) -> u32 {
        1 << self.pto_count.min(MAX_PTO_BACKOFF_EXPONENT)
    }

    /// Whether an ack-eliciting packet is in flight in a space that can arm
    /// a PTO: Initial, Handshake, and Application Data once the handshake is
    /// confirmed (the module documentation explains this refinement of the
    /// pseudocode's "no ack-eliciting packets in flight").
    fn ack_eliciting_in_flight_for_pto(&self, ctx: &RecoveryContext) -> bool {
        SpaceId::ALL.into_iter().any(|space| {
            (space != SpaceId::Data || ctx.handshake_confirmed)
                && self.has_ack_eliciting_in_flight(space)
        })
    }

    /// `GetPtoTimeAndSpace` (Appendix A.8): when the PTO expires and for
    /// which space; `None` stands for the pseudocode's infinite.
    ///
    /// The period is `(smoothed_rtt + max(4 * rttvar, kGranularity)) *
    /// 2^pto_count`, plus `max_ack_delay * 2^pto_count` for Application Data
    /// (§6.2.1), counted from the last ack-eliciting packet of each space; the
    /// earliest space wins. Application Data is not considered until the
    /// handshake is confirmed. With nothing in flight, a client that must keep
    /// the server from deadlocking (§6.2.2.1) counts from the last time the
    /// timer was set, for Handshake if its keys are available, else Initial;
    /// anyone else has no PTO.
    pub fn get_pto_time_and_space(&self, ctx: &RecoveryContext) -> Option<(Instant, SpaceId)> {
        let backoff = self.pto_backoff();
        let mut duration = self.rtt.pto_base().saturating_mul(backoff);
        if !self.ack_eliciting_in_flight_for_pto(ctx) {
            // The pseudocode asserts that the peer has not validated our
            // address here; when it has, there is nothing to probe for.
            if self.peer_completed_address_validation(ctx) {
                return None;
            }
            let space = if ctx.has_handshake_keys {
                SpaceId::Handshake
            } else {
                SpaceId::Initial
            };
            return Some((self.timer_base?.checked_add(duration)?, space));
        }
        let mut pto: Option<(Instant, SpaceId)> = None;
        for space in SpaceId::ALL {
            if !self.has_ack_eliciting_in_flight(space) {
                continue;
            }
            if space == SpaceId::Data {
                if !ctx.handshake_confirmed {
                    return pto;
                }
                duration = duration.saturating_add(ctx.max_ack_delay.saturating_mul(backoff));
            }
            let last = self.spaces[space as usize].time_of_last_ack_eliciting_packet;
            let Some(time) = last.and_then(|t| t.checked_add(duration)) else {
                continue;
            };
            if pto.is_none_or(|(earliest, _)| time < earliest) {
                pto = Some((time, space));
            }
        }
        pto
    }

    /// The loss detection timer's deadline (`SetLossDetectionTimer`,
    /// Appendix A.8), or `None` when it is not armed.
    ///
    /// A time-threshold loss time comes first (the PTO is not armed while one
    /// is set, §6.2.1). Otherwise: no timer for a server at its
    /// anti-amplification limit (§6.2.2.1); no timer when nothing
    /// ack-eliciting is in flight and the peer has validated our address;
    /// else the PTO of [`get_pto_time_and_space`](Self::get_pto_time_and_space).
    /// The deadline may be in the past; it is then due at once.
    pub fn loss_detection_timer(&self, ctx: &RecoveryContext) -> Option<Instant> {
        if let Some((time, _)) = self.get_loss_time_and_space() {
            return Some(time);
        }
        if ctx.at_anti_amplification_limit {
            return None;
        }
        if !self.ack_eliciting_in_flight_for_pto(ctx) && self.peer_completed_address_validation(ctx)
        {
            return None;
        }
        self.get_pto_time_and_space(ctx).map(|(time, _)| time)
    }

    /// The loss detection timer expired (`OnLossDetectionTimeout`,
    /// Appendix A.9). Does nothing, returning [`TimeoutOutcome::NotDue`],
    /// unless [`loss_detection_timer`](Self::loss_detection_timer) is at or
    /// before `now`.
    ///
    /// A time-threshold loss time declares the packets it waited for lost
    /// (through the sink, with the congestion event they cause). Otherwise
    /// this is a PTO: `pto_count` grows, doubling the next period, and the
    /// outcome says where to send probes. A PTO never declares packets lost
    /// (§6.2).
    pub fn on_loss_detection_timeout(
        &mut self,
        now: Instant,
        ctx: &RecoveryContext,
        out: &mut impl AckSink<T>,
    ) -> TimeoutOutcome {
        if self
            .loss_detection_timer(ctx)
            .is_none_or(|deadline| deadline > now)
        {
            return TimeoutOutcome::NotDue;
        }
        if let Some((_, space)) = self.get_loss_time_and_space() {
            let summary = self.detect_and_remove_lost_packets(now, space, ctx.max_ack_delay, out);
            self.on_packets_lost(now, &summary);
            self.timer_base = Some(now);
            return TimeoutOutcome::Lost { space, summary };
        }
        let anti_deadlock = !self.ack_eliciting_in_flight_for_pto(ctx);
        let Some((_, space)) = self.get_pto_time_and_space(ctx) else {
            return TimeoutOutcome::NotDue;
        };
        self.pto_count = self.pto_count.saturating_add(1);
        self.timer_base = Some(now);
        TimeoutOutcome::Probe(Probe {
            space,
            packets: if anti_deadlock { 1 } else { 2 },
            anti_deadlock,
        })
    }
}
