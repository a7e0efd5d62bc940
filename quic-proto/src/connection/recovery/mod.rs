//! Loss detection (RFC 9002 §5, §6, Appendix A) and the glue between it and
//! congestion control (§7, Appendix B).
//!
//! One [`Recovery`] per connection keeps, for each packet number space, the
//! packets sent and not yet acknowledged or lost ([`SentPackets`], a ring
//! buffer indexed by packet number), the largest acknowledged packet number,
//! the time-threshold loss time and the time of the last ack-eliciting
//! packet; and, for the path, the [`RttEstimator`], the PTO backoff, the
//! congestion [`Controller`] and the ECN-CE counts reported by the peer.
//!
//! The functions carry the names of the Appendix A pseudocode so that they
//! can be read beside it: [`Recovery::on_packet_sent`] (A.5),
//! [`Recovery::on_ack_received`] (A.7), `detect_and_remove_lost_packets`
//! (A.10), [`Recovery::loss_detection_timer`] (`SetLossDetectionTimer`,
//! A.8), [`Recovery::get_pto_time_and_space`] (A.8),
//! [`Recovery::on_loss_detection_timeout`] (A.9) and
//! [`Recovery::discard_space`] (`OnPacketNumberSpaceDiscarded`, A.11).
//!
//! # What the connection does around it
//!
//! - Calls [`on_packet_sent`](Recovery::on_packet_sent) for every packet it
//!   sends, ACK-only ones included (their acknowledgment is how the
//!   connection learns that the peer saw its ACK frames, RFC 9000 §13.2.4).
//! - Hands every ACK frame to [`on_ack_received`](Recovery::on_ack_received)
//!   and repairs what the sink is told was lost (RFC 9000 §13.3).
//! - Asks [`loss_detection_timer`](Recovery::loss_detection_timer) for the
//!   deadline whenever it computes its next timeout (the value is a pure
//!   function of the state and the [`RecoveryContext`], so there is nothing to
//!   re-arm), and calls
//!   [`on_loss_detection_timeout`](Recovery::on_loss_detection_timeout) when
//!   it passes. A server that was at its anti-amplification limit and
//!   receives a datagram (Appendix A.6) just recomputes the deadline with the
//!   limit lifted; a deadline in the past fires at once.
//! - Sends the probes a PTO asks for, ack-eliciting and without regard to
//!   the congestion window (§7.5), and paces everything else (the pacer is
//!   the connection's).
//! - Calls [`discard_space`](Recovery::discard_space) when Initial or
//!   Handshake keys are discarded, or when 0-RTT is rejected.
//!
//! # Deviations from the pseudocode, on purpose
//!
//! - Acknowledged packets are reported to the controller while they are
//!   removed, after the RTT sample and before the packets that the same ACK
//!   shows to be lost; Appendix A.7 reports them after the losses. Doing so
//!   avoids keeping a list of the acknowledged packets (no allocation per
//!   ACK). With NewReno this only matters when one ACK both grows the window
//!   and starts a recovery period.
//! - Persistent congestion (§7.6.2) looks at the losses of one packet number
//!   space at a time, which §7.6.2 allows ("MAY use state for just the packet
//!   number space that was acknowledged").
//! - ECN validation is minimal (RFC 9000 §13.4.2 leaves the method open): an
//!   ACK that raises the largest acknowledged packet number but reports a
//!   smaller ECN count than an earlier ACK fails validation, after which ECN
//!   counts are ignored for the rest of the connection
//!   ([`Recovery::ecn_failed`] tells the connection to stop marking packets
//!   ECT). The checks that need to know which packets were sent with an ECT
//!   codepoint are the connection's.
//! - The "no ack-eliciting packets in flight" test of the anti-deadlock PTO
//!   (Appendix A.8, A.9) ignores Application Data packets until the handshake
//!   is confirmed, because those cannot arm a PTO then. Without this, a client
//!   whose only packets in flight are 0-RTT packets would arm no timer at all,
//!   against the MUST of §6.2.2.1.

use std::time::{Duration, Instant};

use crate::connection::congestion::Controller;
use crate::connection::rtt::RttEstimator;
use crate::error::TransportError;
use crate::frame::{Ack, EcnCounts};
use crate::shared::{Side, SpaceId};

mod loss;
mod sent;
mod timer;

pub use loss::{LossSummary, PACKET_THRESHOLD};
pub use sent::{MAX_SKIPPED_RANGES, PacketState, SentPacket, SentPackets};
pub use timer::{MAX_PTO_BACKOFF_EXPONENT, Probe, TimeoutOutcome};

/// Receives what loss recovery finds out about sent packets, with the
/// packet's `info` (see [`SentPacket::info`]). Each packet reaches exactly one
/// of these methods, exactly once.
pub trait AckSink<T> {
    /// Packet `pn` of `space` was acknowledged: its information arrived.
    fn on_acked(&mut self, space: SpaceId, pn: u64, info: T);

    /// Packet `pn` of `space` was declared lost: its information must be sent
    /// again as needed (RFC 9000 §13.3).
    fn on_lost(&mut self, space: SpaceId, pn: u64, info: T);

    /// Packet `pn` was still outstanding when the keys of `space` were
    /// discarded (RFC 9002 §6.4). Does nothing by default.
    fn on_discarded(&mut self, space: SpaceId, pn: u64, info: T) {
        let _ = (space, pn, info);
    }
}

/// Connection state that loss detection depends on but does not own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryContext {
    /// Whether the handshake is confirmed (RFC 9001 §4.1.2). Until then no
    /// PTO is armed for Application Data (RFC 9002 §6.2.1) and the peer's
    /// `max_ack_delay` does not cap ACK delays (§5.3).
    pub handshake_confirmed: bool,
    /// Whether Handshake keys are available; decides where an anti-deadlock
    /// probe goes (§6.2.2.1).
    pub has_handshake_keys: bool,
    /// Whether this endpoint is a server that has used up its
    /// anti-amplification allowance (RFC 9000 §8.1); its PTO is then not
    /// armed (RFC 9002 §6.2.2.1).
    pub at_anti_amplification_limit: bool,
    /// The peer's `max_ack_delay` transport parameter (RFC 9000 §18.2).
    pub max_ack_delay: Duration,
}

/// What one ACK frame did ([`Recovery::on_ack_received`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AckSummary {
    /// The largest packet number this ACK newly acknowledged.
    pub largest_newly_acked: Option<u64>,
    /// How many packets were newly acknowledged.
    pub newly_acked: u64,
    /// Bytes of in-flight packets newly acknowledged.
    pub bytes_acked: u64,
    /// Whether an ack-eliciting packet was newly acknowledged.
    pub ack_eliciting_acked: bool,
    /// Whether the ACK gave an RTT sample (RFC 9002 §5.1).
    pub rtt_sample: bool,
    /// Whether the ECN-CE count grew, which was a congestion event (§7.1).
    pub ecn_ce_increased: bool,
    /// The packets the ACK showed to be lost (§6.1).
    pub lost: LossSummary,
}

/// Loss detection state of one packet number space (Appendix A.3).
#[derive(Debug, Clone)]
struct Space<T> {
    /// `sent_packets[pn_space]`.
    sent: SentPackets<T>,
    /// `largest_acked_packet[pn_space]`; `None` is the pseudocode's infinite.
    largest_acked: Option<u64>,
    /// `loss_time[pn_space]`; `None` is the pseudocode's 0.
    loss_time: Option<Instant>,
    /// `time_of_last_ack_eliciting_packet[pn_space]`.
    time_of_last_ack_eliciting_packet: Option<Instant>,
    /// The ECN counts of the last ACK frame processed (`ecn_ce_counters`,
    /// Appendix B.2, with ECT(0) and ECT(1) for validation).
    ecn: EcnCounts,
}

impl<T> Space<T> {
    fn new() -> Self {
        Self {
            sent: SentPackets::new(),
            largest_acked: None,
            loss_time: None,
            time_of_last_ack_eliciting_packet: None,
            ecn: EcnCounts::default(),
        }
    }
}

/// Loss detection and congestion control state of a connection's path
/// (RFC 9002 Appendix A.3, B.2). See the [module documentation](self).
#[derive(Debug)]
pub struct Recovery<T> {
    /// Which end of the connection we are: a server has always completed the
    /// peer's address validation (Appendix A.8).
    side: Side,
    /// Indexed by [`SpaceId`].
    spaces: [Space<T>; 3],
    rtt: RttEstimator,
    /// When the first RTT sample was taken (`first_rtt_sample`).
    first_rtt_sample: Option<Instant>,
    /// Consecutive PTOs without an acknowledgment (`pto_count`).
    pto_count: u32,
    controller: Box<dyn Controller>,
    /// Whether the sender is application limited (§7.8), as last set by the
    /// connection.
    app_limited: bool,
    /// Whether ECN validation failed; ECN counts are then ignored.
    ecn_failed: bool,
    /// Whether an ACK frame arrived in a Handshake packet (the client's
    /// `PeerCompletedAddressValidation`, Appendix A.8).
    handshake_ack_received: bool,
    /// When the pseudocode's `SetLossDetectionTimer` would last have run (a
    /// packet in flight sent, an ACK processed, a timeout, keys discarded):
    /// the anti-deadlock PTO counts from there.
    timer_base: Option<Instant>,
}

impl<T> Recovery<T> {
    /// Loss recovery for a new connection (Appendix A.4, B.3): nothing sent,
    /// `pto_count` 0, the RTT estimator and controller as given.
    pub fn new(side: Side, rtt: RttEstimator, controller: Box<dyn Controller>) -> Self {
        Self {
            side,
            spaces: [Space::new(), Space::new(), Space::new()],
            rtt,
            first_rtt_sample: None,
            pto_count: 0,
            controller,
            app_limited: false,
            ecn_failed: false,
            handshake_ack_received: false,
            timer_base: None,
        }
    }

    fn space(&self, space: SpaceId) -> &Space<T> {
        &self.spaces[space as usize]
    }

    /// A packet was sent (`OnPacketSent`, Appendix A.5); `packet.time_sent` is
    /// the current time. Packets in flight count toward bytes in flight and
    /// are reported to the controller (`OnPacketSentCC`, B.4).
    ///
    /// Packet numbers must increase within a space; numbers left out are taken
    /// as skipped on purpose, and an acknowledgment of one is a
    /// PROTOCOL_VIOLATION. A packet number that does not increase is a bug in
    /// the caller: the packet is not recorded (and debug builds panic).
    pub fn on_packet_sent(&mut self, space: SpaceId, pn: u64, packet: SentPacket<T>) {
        let time_sent = packet.time_sent;
        let size = u64::from(packet.size);
        let ack_eliciting = packet.ack_eliciting;
        let in_flight = packet.in_flight || ack_eliciting;
        let state = &mut self.spaces[space as usize];
        if state.sent.insert(pn, packet).is_err() {
            debug_assert!(
                false,
                "packet number {pn} reused or out of range in {space:?}"
            );
            return;
        }
        if in_flight {
            if ack_eliciting {
                state.time_of_last_ack_eliciting_packet = Some(time_sent);
            }
            self.controller.on_packet_sent(time_sent, size);
            self.timer_base = Some(time_sent);
        }
    }

    /// An ACK frame arrived in a packet of `space` (`OnAckReceived`,
    /// Appendix A.7). `ack_delay` is its ACK Delay decoded with the peer's
    /// `ack_delay_exponent`; it is used for Application Data only, since the
    /// peer does not delay Initial and Handshake acknowledgments (RFC 9000
    /// §13.2.1).
    ///
    /// Newly acknowledged packets go to [`AckSink::on_acked`] (largest first
    /// within each range), then lost ones to [`AckSink::on_lost`] (oldest
    /// first). An RTT sample is taken if the largest acknowledged packet is
    /// newly acknowledged and an ack-eliciting packet is among the newly
    /// acknowledged (§5.1); an increase of the ECN-CE count is a congestion
    /// event (§7.1); the losses are one congestion event, persistent or not
    /// (§7.6). The PTO backoff is reset unless this is a client that cannot
    /// yet know that the server validated its address (§6.2.1).
    ///
    /// Fails with PROTOCOL_VIOLATION, before changing anything, if the frame
    /// acknowledges a packet number never sent in `space` (RFC 9000 §13.1).
    pub fn on_ack_received(
        &mut self,
        now: Instant,
        space: SpaceId,
        ack: &Ack,
        ack_delay: Duration,
        ctx: &RecoveryContext,
        out: &mut impl AckSink<T>,
    ) -> Result<AckSummary, TransportError> {
        let index = space as usize;
        if self.spaces[index].sent.includes_unsent(ack.ranges()) {
            return Err(
                TransportError::PROTOCOL_VIOLATION("ACK of a packet never sent")
                    .with_frame_type(ack.frame_type().into()),
            );
        }
        if space == SpaceId::Handshake {
            self.handshake_ack_received = true;
        }
        let largest_increased = self.spaces[index]
            .largest_acked
            .is_none_or(|largest| ack.largest() > largest);
        if largest_increased {
            self.spaces[index].largest_acked = Some(ack.largest());
        }
        let mut summary = AckSummary::default();
        let Some(newest) = self.find_newly_acked(space, ack) else {
            // Nothing newly acknowledged: nothing else to do (A.7).
            return Ok(summary);
        };
        if newest.pn == ack.largest() && newest.includes_ack_eliciting {
            let ack_delay = match space {
                SpaceId::Data => ack_delay,
                SpaceId::Initial | SpaceId::Handshake => Duration::ZERO,
            };
            self.update_rtt(now, newest.time_sent, ack_delay, ctx);
            summary.rtt_sample = true;
        }
        if let Some(counts) = ack.ecn() {
            summary.ecn_ce_increased =
                self.process_ecn(now, space, counts, largest_increased, newest.time_sent);
        }
        self.detect_and_remove_acked_packets(now, space, ack, &mut summary, out);
        summary.lost = self.detect_and_remove_lost_packets(now, space, ctx.max_ack_delay, out);
        self.on_packets_lost(now, &summary.lost);
        let bytes_in_flight = self.bytes_in_flight();
        self.controller
            .on_end_acks(now, bytes_in_flight, self.app_limited);
        if self.peer_completed_address_validation(ctx) {
            self.pto_count = 0;
        }
        self.timer_base = Some(now);
        Ok(summary)
    }

    /// The largest packet an ACK newly acknowledges and whether an
    /// ack-eliciting one is among those it newly acknowledges, without
    /// removing anything. Usually stops at the first packet looked at.
    fn find_newly_acked(&self, space: SpaceId, ack: &Ack) -> Option<NewestAcked> {
        let sent = &self.space(space).sent;
        let mut newest: Option<NewestAcked> = None;
        for range in ack.ranges() {
            if *range.end() < sent.lowest() {
                break;
            }
            let Some(range) = sent.clip(range) else {
                continue;
            };
            for pn in range.rev() {
                let Some(packet) = sent.get(pn) else {
                    continue;
                };
                let newest = newest.get_or_insert(NewestAcked {
                    pn,
                    time_sent: packet.time_sent,
                    includes_ack_eliciting: false,
                });
                if packet.ack_eliciting {
                    newest.includes_ack_eliciting = true;
                    return Some(*newest);
                }
            }
        }
        newest
    }

    /// `UpdateRtt` (Appendix A.7) with the sample `now - time_sent`.
    fn update_rtt(
        &mut self,
        now: Instant,
        time_sent: Instant,
        ack_delay: Duration,
        ctx: &RecoveryContext,
    ) {
        let latest_rtt = now.saturating_duration_since(time_sent);
        self.rtt.update(
            ack_delay,
            latest_rtt,
            ctx.handshake_confirmed,
            ctx.max_ack_delay,
        );
        self.first_rtt_sample.get_or_insert(now);
    }

    /// Removes the packets `ack` newly acknowledges, reporting in-flight
    /// ones to the controller (`OnPacketAcked`, B.5) and every one to the
    /// sink. Touches only the packet numbers the ring holds.
    fn detect_and_remove_acked_packets(
        &mut self,
        now: Instant,
        space: SpaceId,
        ack: &Ack,
        summary: &mut AckSummary,
        out: &mut impl AckSink<T>,
    ) {
        let sent = &mut self.spaces[space as usize].sent;
        for range in ack.ranges() {
            if *range.end() < sent.lowest() {
                break;
            }
            let Some(range) = sent.clip(range) else {
                continue;
            };
            for pn in range.rev() {
                let Some(packet) = sent.remove(pn, true) else {
                    continue;
                };
                summary.largest_newly_acked.get_or_insert(pn);
                summary.newly_acked += 1;
                summary.ack_eliciting_acked |= packet.ack_eliciting;
                if packet.in_flight {
                    let bytes = u64::from(packet.size);
                    summary.bytes_acked += bytes;
                    self.controller.on_packet_acked(
                        now,
                        packet.time_sent,
                        bytes,
                        self.app_limited,
                        &self.rtt,
                    );
                }
                out.on_acked(space, pn, packet.info);
            }
        }
        sent.reclaim();
    }

    /// The keys of `space` were discarded (`OnPacketNumberSpaceDiscarded`,
    /// Appendix A.11; §6.4): its outstanding packets leave bytes in flight
    /// without any congestion signal (B.9) and go to
    /// [`AckSink::on_discarded`]; its loss and PTO state is reset, and so is
    /// the PTO backoff. Also used for Application Data when 0-RTT is rejected
    /// (§6.4).
    pub fn discard_space(&mut self, now: Instant, space: SpaceId, out: &mut impl AckSink<T>) {
        let state = &mut self.spaces[space as usize];
        for (pn, packet) in state.sent.drain() {
            out.on_discarded(space, pn, packet.info);
        }
        state.loss_time = None;
        state.time_of_last_ack_eliciting_packet = None;
        self.pto_count = 0;
        self.timer_base = Some(now);
    }

    /// Bytes in flight (`bytes_in_flight`, Appendix B.2): the sizes of the
    /// in-flight packets of every space, neither acknowledged, lost nor
    /// discarded.
    pub fn bytes_in_flight(&self) -> u64 {
        self.spaces.iter().map(|s| s.sent.bytes_in_flight()).sum()
    }

    /// The congestion window in bytes.
    pub fn congestion_window(&self) -> u64 {
        self.controller.window()
    }

    /// Whether a packet of `bytes` in flight may be sent now without
    /// exceeding the congestion window (§7). PTO probes are exempt (§7.5), and
    /// so is the one packet a sender may send on entering recovery (§7.3.2).
    pub fn can_send(&self, bytes: u64) -> bool {
        self.bytes_in_flight().saturating_add(bytes) <= self.congestion_window()
    }

    /// The path's RTT estimator.
    pub fn rtt(&self) -> &RttEstimator {
        &self.rtt
    }

    /// The RTT estimator, to reset it on migration (RFC 9000 §9.4).
    pub fn rtt_mut(&mut self) -> &mut RttEstimator {
        &mut self.rtt
    }

    /// The congestion controller.
    pub fn controller(&self) -> &dyn Controller {
        &*self.controller
    }

    /// The congestion controller, to replace its state on migration.
    pub fn controller_mut(&mut self) -> &mut Box<dyn Controller> {
        &mut self.controller
    }

    /// The path's maximum datagram size changed (RFC 9002 §7.2).
    pub fn on_mtu_update(&mut self, max_datagram_size: u64) {
        self.controller.on_mtu_update(max_datagram_size);
    }

    /// Sets whether the sender is application limited (§7.8): bytes in flight
    /// are below the congestion window for want of data or flow control
    /// credit, not because of pacing. Acknowledgments then do not grow the
    /// window. The connection updates this when it stops sending.
    pub fn set_app_limited(&mut self, app_limited: bool) {
        self.app_limited = app_limited;
    }

    /// Whether the sender is marked application limited.
    pub fn app_limited(&self) -> bool {
        self.app_limited
    }

    /// The number of consecutive PTOs without an acknowledgment.
    pub fn pto_count(&self) -> u32 {
        self.pto_count
    }

    /// When the first RTT sample was taken.
    pub fn first_rtt_sample(&self) -> Option<Instant> {
        self.first_rtt_sample
    }

    /// The largest packet number acknowledged in `space`.
    pub fn largest_acked(&self, space: SpaceId) -> Option<u64> {
        self.space(space).largest_acked
    }

    /// The time-threshold loss time of `space` (§6.1.2), if a packet there
    /// is waiting to be declared lost.
    pub fn loss_time(&self, space: SpaceId) -> Option<Instant> {
        self.space(space).loss_time
    }

    /// The sent packets of `space`.
    pub fn sent_packets(&self, space: SpaceId) -> &SentPackets<T> {
        &self.space(space).sent
    }

    /// Whether ack-eliciting packets of `space` are in flight; a PTO probe
    /// SHOULD also carry data for those spaces (§6.2.4).
    pub fn has_ack_eliciting_in_flight(&self, space: SpaceId) -> bool {
        self.space(space).sent.ack_eliciting_in_flight() > 0
    }

    /// Whether ECN validation failed, so that the connection must stop
    /// setting ECT codepoints (RFC 9000 §13.4.2.2).
    pub fn ecn_failed(&self) -> bool {
        self.ecn_failed
    }

    /// The current PTO period for Application Data, without backoff:
    /// `smoothed_rtt + max(4 * rttvar, kGranularity) + max_ack_delay`
    /// (§6.2.1). The closing and draining periods are three times this
    /// (RFC 9000 §10.2), and so is the least idle timeout (§10.1).
    pub fn pto_period(&self, max_ack_delay: Duration) -> Duration {
        self.rtt.pto_base().saturating_add(max_ack_delay)
    }

    /// `PeerCompletedAddressValidation` (Appendix A.8): servers assume it;
    /// a client knows it once an ACK arrives in a Handshake packet or the
    /// handshake is confirmed.
    fn peer_completed_address_validation(&self, ctx: &RecoveryContext) -> bool {
        self.side == Side::Server || self.handshake_ack_received || ctx.handshake_confirmed
    }
}

/// The largest newly acknowledged packet of an ACK frame.
#[derive(Debug, Clone, Copy)]
struct NewestAcked {
    pn: u64,
    time_sent: Instant,
    /// Whether any newly acknowledged packet is ack-eliciting.
    includes_ack_eliciting: bool,
}

#[cfg(test)]
mod tests;
