//! Acknowledgment-based loss detection (RFC 9002 §6.1, Appendix A.10), the
//! congestion signals it produces (§7.1, §7.6, Appendix B.7, B.8).

use std::time::{Duration, Instant};

use super::{AckSink, PacketState, Recovery};
use crate::frame::EcnCounts;
use crate::shared::SpaceId;

/// The packet reordering threshold (RFC 9002 §6.1.1, `kPacketThreshold`): a
/// packet is lost once a packet sent this many packet numbers after it is
/// acknowledged.
pub const PACKET_THRESHOLD: u64 = 3;

/// The packets one loss detection pass declared lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LossSummary {
    /// How many packets were declared lost, in flight or not.
    pub packets: u64,
    /// The bytes of the lost in-flight packets, removed from bytes in flight.
    pub bytes: u64,
    /// The send time of the newest lost in-flight packet, if any: the
    /// congestion event's time (Appendix B.8).
    pub largest_sent_time: Option<Instant>,
    /// Whether these losses establish persistent congestion (§7.6.2).
    pub persistent_congestion: bool,
}

/// Follows the lost ack-eliciting packets of one pass, for persistent
/// congestion (§7.6.2): a run is broken by a packet acknowledged between two
/// lost ones, and only packets sent after the first RTT sample count.
#[derive(Debug)]
struct CongestionPeriod {
    first_rtt_sample: Option<Instant>,
    duration: Duration,
    /// The send time of the oldest lost ack-eliciting packet of the run.
    start: Option<Instant>,
    established: bool,
}

impl CongestionPeriod {
    fn on_acked(&mut self) {
        self.start = None;
    }

    fn on_lost(&mut self, time_sent: Instant, ack_eliciting: bool) {
        let after_sample = self.first_rtt_sample.is_some_and(|t| time_sent > t);
        if !ack_eliciting || !after_sample {
            return;
        }
        match self.start {
            None => self.start = Some(time_sent),
            Some(start) => {
                if time_sent.saturating_duration_since(start) > self.duration {
                    self.established = true;
                }
            }
        }
    }
}

impl<T> Recovery<T> {
    /// `DetectAndRemoveLostPackets` (Appendix A.10): declares lost the
    /// outstanding packets of `space`, not above the largest acknowledged,
    /// sent `kPacketThreshold` packet numbers before it (§6.1.1) or more than
    /// the loss delay ago (§6.1.2), passes them to [`AckSink::on_lost`], and
    /// sets `loss_time` for the oldest packet that is not lost yet.
    ///
    /// Packet numbers and send times both grow, so the lost packets are the
    /// oldest outstanding ones: the walk starts at the oldest and stops at
    /// the first packet that is not lost, touching only the lost packets and
    /// the holes between them.
    pub(super) fn detect_and_remove_lost_packets(
        &mut self,
        now: Instant,
        space: SpaceId,
        max_ack_delay: Duration,
        out: &mut impl AckSink<T>,
    ) -> LossSummary {
        let loss_delay = self.rtt.loss_delay();
        let mut period = CongestionPeriod {
            first_rtt_sample: self.first_rtt_sample,
            duration: self.rtt.persistent_congestion_duration(max_ack_delay),
            start: None,
            established: false,
        };
        let state = &mut self.spaces[space as usize];
        state.loss_time = None;
        let mut summary = LossSummary::default();
        let Some(largest_acked) = state.largest_acked else {
            return summary;
        };
        // Packets sent at or before this time are lost.
        let lost_send_time = now.checked_sub(loss_delay);
        let end = state
            .sent
            .largest_sent()
            .map_or(0, |l| l.min(largest_acked));
        for pn in state.sent.lowest()..=end {
            let time_sent = match state.sent.state(pn) {
                PacketState::Acked => {
                    period.on_acked();
                    continue;
                }
                PacketState::Removed => continue,
                PacketState::Outstanding(packet) => packet.time_sent,
            };
            let by_time = lost_send_time.is_some_and(|t| time_sent <= t);
            let by_number = largest_acked >= pn.saturating_add(PACKET_THRESHOLD);
            if !by_time && !by_number {
                state.loss_time = time_sent.checked_add(loss_delay);
                break;
            }
            let Some(packet) = state.sent.remove(pn, false) else {
                continue;
            };
            summary.packets += 1;
            if packet.in_flight {
                summary.bytes += u64::from(packet.size);
                summary.largest_sent_time = Some(packet.time_sent);
            }
            period.on_lost(packet.time_sent, packet.ack_eliciting);
            out.on_lost(space, pn, packet.info);
        }
        state.sent.reclaim();
        summary.persistent_congestion = period.established;
        summary
    }

    /// `OnPacketsLost` (Appendix B.8): one congestion event for the newest
    /// lost in-flight packet, persistent if established; after persistent
    /// congestion `min_rtt` restarts from the latest sample (§5.2). Bytes in
    /// flight already went down as the packets were removed.
    pub(super) fn on_packets_lost(&mut self, now: Instant, lost: &LossSummary) {
        let Some(sent_time) = lost.largest_sent_time else {
            return;
        };
        self.controller
            .on_congestion_event(now, sent_time, lost.persistent_congestion, lost.bytes);
        if lost.persistent_congestion {
            self.rtt.reset_min_rtt();
        }
    }

    /// `ProcessECN` (Appendix B.7) with the minimal validation described in
    /// the module documentation. `sent_time` is the send time of the largest
    /// newly acknowledged packet. Returns whether the ECN-CE count grew (and
    /// the controller was told).
    pub(super) fn process_ecn(
        &mut self,
        now: Instant,
        space: SpaceId,
        counts: EcnCounts,
        largest_increased: bool,
        sent_time: Instant,
    ) -> bool {
        if self.ecn_failed {
            return false;
        }
        let previous = &mut self.spaces[space as usize].ecn;
        let decreased =
            counts.ect0 < previous.ect0 || counts.ect1 < previous.ect1 || counts.ce < previous.ce;
        if decreased {
            // RFC 9000 §13.4.2.1: an ACK that does not raise the largest
            // acknowledged may be reordered and must not fail validation.
            if largest_increased {
                self.ecn_failed = true;
            }
            return false;
        }
        let ce_increased = counts.ce > previous.ce;
        *previous = counts;
        if ce_increased {
            self.controller.on_ecn_ce(now, sent_time);
        }
        ce_increased
    }
}
