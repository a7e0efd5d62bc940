//! Sending (RFC 9000 §12.2, §13, §14; RFC 9002 §7): datagrams of coalesced
//! packets, one per packet number space with something to say, in batches of
//! equal-sized datagrams for segmentation offload.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use super::ack_tracker::EcnCodepoint;
use super::close::CloseFrame;
use super::packet_builder::{BuilderHeader, PacketBuilder};
use super::recovery::SentPacket;
use super::sent_frames::SentFrames;
use super::{Connection, State};
use crate::coding::VarInt;
use crate::error::TransportErrorCode;
use crate::frame::{ConnectionClose, Frame, FrameType, PathResponse};
use crate::packet::{LongHeader, LongKind, PacketNumber, ShortHeader};
use crate::shared::SpaceId;

/// The smallest datagram that may carry an Initial packet (RFC 9000 §14.1).
const MIN_INITIAL_DATAGRAM: usize = 1200;
/// Every AEAD QUIC uses has a 16-byte tag.
const TAG_LEN: usize = 16;

/// Datagrams written into the caller's buffer by
/// [`Connection::poll_transmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Where to send them.
    pub destination: SocketAddr,
    /// The ECN codepoint to mark them with.
    pub ecn: Option<EcnCodepoint>,
    /// The bytes written: one datagram, or with `segment_size` several of
    /// that size back to back (the last may be shorter).
    pub size: usize,
    /// The size of each datagram when several were written (UDP GSO).
    pub segment_size: Option<usize>,
}

/// A packet being filled, with what it carries.
struct OpenPacket {
    builder: PacketBuilder,
    sent: SentFrames,
}

impl Connection {
    /// Writes up to `max_datagrams` datagrams into `buf` (cleared first) and
    /// says where they go. Call until it returns `None` after every input.
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        max_datagrams: usize,
        buf: &mut Vec<u8>,
    ) -> Option<Transmit> {
        buf.clear();
        match self.state {
            State::Draining | State::Drained => return None,
            State::Closing(_) => return self.transmit_close(buf),
            State::Handshake | State::Established => {}
        }
        self.maybe_update_keys();
        let mtu = usize::from(self.path.mtu);
        let mut segment_size = None;
        let mut count = 0;
        while count < max_datagrams.max(1) {
            let start = buf.len();
            let budget = self.path.anti_amplification_budget();
            let limit = segment_size
                .unwrap_or(mtu)
                .min(usize::try_from(budget).unwrap_or(usize::MAX));
            if limit < 48 {
                break;
            }
            let allow_data = self.congestion_allows(now, mtu);
            if !self.write_datagram(now, buf, start, start + limit, allow_data) {
                break;
            }
            let size = buf.len() - start;
            self.path.sent += size as u64;
            self.stats.datagrams_sent += 1;
            self.stats.bytes_sent += size as u64;
            count += 1;
            match segment_size {
                None => segment_size = Some(size),
                Some(segment) if size < segment => break,
                Some(_) => {}
            }
            if size < mtu {
                // Only full datagrams may be followed by more in one batch.
                break;
            }
        }
        self.update_timers(now);
        let ecn = self.ecn_marking.then_some(EcnCodepoint::Ect0);
        (count > 0).then(|| Transmit {
            destination: self.path.remote,
            ecn,
            size: buf.len(),
            segment_size: (count > 1).then_some(segment_size.unwrap_or(mtu)),
        })
    }

    /// Whether congestion control and pacing let an ack-eliciting datagram go
    /// now (RFC 9002 §7, §7.7). Probes go regardless (§7.5).
    fn congestion_allows(&mut self, now: Instant, mtu: usize) -> bool {
        if self.spaces.iter().any(|s| s.probes > 0) {
            return true;
        }
        if !self.recovery.can_send(mtu as u64) {
            return false;
        }
        if !self.config.pacing {
            return true;
        }
        let window = self.recovery.congestion_window();
        let srtt = self.recovery.rtt().smoothed_rtt();
        match self.pacer.delay(now, mtu as u64, window, srtt, mtu as u64) {
            Some(at) if at > now => {
                self.timers.set(super::timers::Timer::Pacing, at);
                false
            }
            _ => true,
        }
    }

    /// Builds one datagram of coalesced packets between `start` and `end`.
    fn write_datagram(
        &mut self,
        now: Instant,
        buf: &mut Vec<u8>,
        start: usize,
        end: usize,
        allow_data: bool,
    ) -> bool {
        let mut open: Option<OpenPacket> = None;
        let mut pad = false;
        for space in SpaceId::ALL {
            if !self.space_wants_to_send(now, space, allow_data) {
                continue;
            }
            if let Some(previous) = open.take() {
                self.finish_packet(now, buf, previous);
            }
            let Some(mut packet) = self.begin_packet(buf, space, end) else {
                break;
            };
            self.write_frames(now, space, buf, &mut packet, allow_data);
            if packet.builder.is_empty(buf) {
                // Nothing fitted after all; the header is rolled back.
                buf.truncate(packet.builder.start());
                self.space_mut(space).next_pn -= 1;
                continue;
            }
            // RFC 9000 §14.1: a client pads every datagram with an Initial, a
            // server those with an ack-eliciting Initial.
            pad |= space == SpaceId::Initial
                && (self.side.is_client() || packet.builder.ack_eliciting);
            open = Some(packet);
        }
        let Some(mut last) = open else {
            return buf.len() > start;
        };
        if pad {
            last.builder
                .pad_datagram_to(buf, start, MIN_INITIAL_DATAGRAM);
        }
        self.finish_packet(now, buf, last);
        true
    }

    /// Whether `space` has keys and something to send.
    fn space_wants_to_send(&self, now: Instant, space: SpaceId, allow_data: bool) -> bool {
        let state = self.space(space);
        let has_keys = match space {
            SpaceId::Initial | SpaceId::Handshake => state.keys.is_some() && !state.discarded,
            SpaceId::Data => self.one_rtt.is_some(),
        };
        if !has_keys {
            return false;
        }
        let max_ack_delay = self.config.max_ack_delay;
        let ack_due =
            state.received.wants_ack_now() || state.received.should_send_ack(now, max_ack_delay);
        if ack_due || state.probes > 0 || state.ping_pending {
            return true;
        }
        // Testing: injected frames go out whatever else is pending.
        if !self.injected[space as usize].is_empty() {
            return true;
        }
        if !allow_data {
            return false;
        }
        if state.crypto.has_pending() {
            return true;
        }
        space == SpaceId::Data && self.data_wants_to_send()
    }

    /// Whether the application space has frames waiting.
    fn data_wants_to_send(&self) -> bool {
        self.handshake.done_pending
            || self.path.pending_response.is_some()
            || !self.new_cids_pending.is_empty()
            || self.remote_cids.has_pending_retire()
            || self.datagrams.has_pending()
            || self.streams.wants_to_send()
    }

    /// Writes the header of a packet in `space`.
    fn begin_packet(
        &mut self,
        buf: &mut Vec<u8>,
        space: SpaceId,
        end: usize,
    ) -> Option<OpenPacket> {
        let pn = self.space(space).next_pn;
        let number = PacketNumber::new(pn, self.recovery.largest_acked(space));
        let dst_cid = self.remote_cids.current();
        let src_cid = self.handshake.local_initial_cid;
        let header = match space {
            SpaceId::Initial => {
                let token = if self.side.is_client() {
                    self.handshake.token.clone()
                } else {
                    Bytes::new()
                };
                BuilderHeader::Long(LongHeader::new(
                    LongKind::Initial { token },
                    self.version,
                    dst_cid,
                    src_cid,
                    number,
                ))
            }
            SpaceId::Handshake => BuilderHeader::Long(LongHeader::new(
                LongKind::Handshake,
                self.version,
                dst_cid,
                src_cid,
                number,
            )),
            SpaceId::Data => {
                let key_phase = self.one_rtt.as_ref().is_some_and(|k| k.phase());
                BuilderHeader::Short(ShortHeader::new(false, key_phase, dst_cid, number))
            }
        };
        let builder = PacketBuilder::begin(buf, header, space, pn, end, TAG_LEN)?;
        self.space_mut(space).take_pn();
        Some(OpenPacket {
            builder,
            sent: SentFrames::default(),
        })
    }

    /// Fills a packet: ACK first, then the frames of each component in
    /// priority order, then a PING if it must elicit an ACK.
    fn write_frames(
        &mut self,
        now: Instant,
        space: SpaceId,
        buf: &mut Vec<u8>,
        packet: &mut OpenPacket,
        allow_data: bool,
    ) {
        let exponent = self.config.ack_delay_exponent;
        let state = &mut self.spaces[space as usize];
        if state.received.has_unacked() && !self.withhold_acks {
            let room = packet.builder.remaining(buf);
            packet.sent.largest_acked_in_ack = state.received.write_ack(now, exponent, room, buf);
        }
        let before = buf.len();
        for frames in std::mem::take(&mut self.injected[space as usize]) {
            if frames.len() <= packet.builder.remaining(buf) {
                buf.extend_from_slice(&frames);
            }
        }
        let state = &mut self.spaces[space as usize];
        let probing = state.probes > 0 || state.ping_pending;
        if allow_data || probing {
            let room = packet.builder.remaining(buf);
            if let Some(frame) = state.crypto.next_frame(room) {
                packet.sent.crypto = Some((frame.offset, frame.data.len() as u64));
                Frame::Crypto(frame).encode(buf);
            }
            if space == SpaceId::Data {
                self.write_data_frames(buf, packet);
            }
        }
        let state = &mut self.spaces[space as usize];
        if buf.len() == before && probing {
            Frame::Ping.encode(buf);
        }
        if buf.len() > before {
            packet.builder.ack_eliciting = true;
            state.ping_pending = false;
        }
    }

    /// The frames only 1-RTT packets carry, in priority order.
    fn write_data_frames(&mut self, buf: &mut Vec<u8>, packet: &mut OpenPacket) {
        let room = |buf: &Vec<u8>, packet: &OpenPacket| packet.builder.remaining(buf);
        if let Some(data) = self.path.pending_response {
            if room(buf, packet) >= 9 {
                Frame::PathResponse(PathResponse(data)).encode(buf);
                self.path.pending_response = None;
            }
        }
        if self.handshake.done_pending && room(buf, packet) >= 1 {
            Frame::HandshakeDone.encode(buf);
            self.handshake.done_pending = false;
            packet.sent.handshake_done = true;
        }
        while let Some(&sequence) = self.new_cids_pending.last() {
            match self.local_cids.new_connection_id_frame(sequence) {
                Some(frame) if frame.encoded_len() <= room(buf, packet) => {
                    frame.encode(buf);
                    packet.sent.new_cids.push(sequence);
                    self.new_cids_pending.pop();
                }
                Some(_) => break,
                None => {
                    self.new_cids_pending.pop();
                }
            }
        }
        while self.remote_cids.has_pending_retire() && room(buf, packet) >= 9 {
            let Some(frame) = self.remote_cids.poll_retire() else {
                break;
            };
            packet.sent.retire_cids.push(frame.sequence.into_inner());
            frame.encode(buf);
        }
        let budget = room(buf, packet);
        self.streams
            .write_control_frames(buf, budget, &mut packet.sent.streams);
        let budget = room(buf, packet);
        self.datagrams.write(buf, budget);
        let budget = room(buf, packet);
        self.streams
            .write_stream_frames(buf, budget, &mut packet.sent.streams);
    }

    /// Seals a packet and records it with loss recovery.
    fn finish_packet(&mut self, now: Instant, buf: &mut Vec<u8>, packet: OpenPacket) {
        let OpenPacket { builder, sent } = packet;
        let space = builder.space();
        let pn = builder.packet_number();
        let ack_eliciting = builder.ack_eliciting;
        let in_flight = ack_eliciting || builder.in_flight;
        let size = match space {
            SpaceId::Initial | SpaceId::Handshake => {
                let keys = self.spaces[space as usize]
                    .keys
                    .as_ref()
                    .expect("checked before building");
                builder.finish(buf, &*keys.packet.local, &*keys.header.local)
            }
            SpaceId::Data => {
                let keys = self.one_rtt.as_mut().expect("checked before building");
                let size = builder.finish(buf, keys.local().0, &*keys.header().local);
                keys.on_packet_sent(pn);
                size
            }
        };
        let record = SentPacket {
            time_sent: now,
            size: size as u16,
            ack_eliciting,
            in_flight,
            info: sent,
        };
        self.recovery.on_packet_sent(space, pn, record);
        self.stats.packets_sent += 1;
        if in_flight && self.config.pacing {
            self.pacer.on_sent(size as u64);
        }
        if ack_eliciting {
            let state = self.space_mut(space);
            state.probes = state.probes.saturating_sub(1);
            self.last_ack_eliciting_sent = Some(now);
            if !self.ack_eliciting_sent_since_receive {
                self.ack_eliciting_sent_since_receive = true;
                self.restart_idle_timer(now);
            }
        }
        if self.side.is_client() && space == SpaceId::Handshake {
            // RFC 9001 §4.9.1: a client discards Initial keys when it first
            // sends a Handshake packet.
            self.discard_space(now, SpaceId::Initial);
        }
    }

    /// Starts a key update when asked or due (RFC 9001 §6.1, §6.6), once the
    /// handshake is confirmed and the last update was acknowledged.
    fn maybe_update_keys(&mut self) {
        let Some(keys) = self.one_rtt.as_mut() else {
            return;
        };
        if !self.handshake.confirmed || !keys.can_update() {
            return;
        }
        if self.key_update_requested || keys.update_due(self.config.key_update_interval) {
            if keys.initiate(&mut *self.session) {
                self.stats.key_updates += 1;
            }
            self.key_update_requested = false;
        }
    }

    /// While closing, one datagram with CONNECTION_CLOSE in every space we
    /// have keys for (RFC 9000 §10.2.1, §10.2.3).
    fn transmit_close(&mut self, buf: &mut Vec<u8>) -> Option<Transmit> {
        let State::Closing(close) = &mut self.state else {
            return None;
        };
        if !close.send_pending {
            return None;
        }
        close.send_pending = false;
        let frame = close.frame.clone();
        let end = usize::from(self.path.mtu)
            .min(usize::try_from(self.path.anti_amplification_budget()).unwrap_or(usize::MAX));
        let mut open: Option<OpenPacket> = None;
        let mut has_initial = false;
        for space in SpaceId::ALL {
            let has_keys = match space {
                SpaceId::Initial | SpaceId::Handshake => self.space(space).keys.is_some(),
                SpaceId::Data => self.one_rtt.is_some(),
            };
            if !has_keys {
                continue;
            }
            if let Some(previous) = open.take() {
                self.seal_unrecorded(buf, previous);
            }
            let Some(packet) = self.begin_packet(buf, space, end) else {
                break;
            };
            write_close_frame(&frame, space, buf, packet.builder.remaining(buf));
            has_initial |= space == SpaceId::Initial;
            open = Some(packet);
        }
        if let Some(mut last) = open {
            // RFC 9000 §14.1: a client pads every datagram carrying an
            // Initial packet, a closing one included.
            if has_initial && self.side.is_client() {
                last.builder.pad_datagram_to(buf, 0, MIN_INITIAL_DATAGRAM);
            }
            self.seal_unrecorded(buf, last);
        }
        let size = buf.len();
        if size == 0 {
            return None;
        }
        self.path.sent += size as u64;
        Some(Transmit {
            destination: self.path.remote,
            ecn: None,
            size,
            segment_size: None,
        })
    }

    /// Seals a packet that loss recovery does not track (closing).
    fn seal_unrecorded(&mut self, buf: &mut Vec<u8>, packet: OpenPacket) {
        let space = packet.builder.space();
        match space {
            SpaceId::Initial | SpaceId::Handshake => {
                let keys = self.spaces[space as usize].keys.as_ref().expect("checked");
                packet
                    .builder
                    .finish(buf, &*keys.packet.local, &*keys.header.local);
            }
            SpaceId::Data => {
                let keys = self.one_rtt.as_ref().expect("checked");
                packet
                    .builder
                    .finish(buf, keys.local().0, &*keys.header().local);
            }
        }
    }
}

/// Writes the close frame; an application close outside 1-RTT packets
/// becomes a transport APPLICATION_ERROR without the reason, so nothing of
/// the application leaks before the handshake protects it (RFC 9000 §10.2.3).
fn write_close_frame(frame: &CloseFrame, space: SpaceId, buf: &mut Vec<u8>, room: usize) {
    let frame = match (frame, space) {
        (CloseFrame::Application(close), SpaceId::Data) => Frame::ApplicationClose(close.clone()),
        (CloseFrame::Application(_), _) => Frame::ConnectionClose(ConnectionClose {
            error_code: TransportErrorCode::APPLICATION_ERROR,
            frame_type: FrameType::from_var(VarInt::ZERO),
            reason: Bytes::new(),
        }),
        (CloseFrame::Transport(close), _) => Frame::ConnectionClose(close.clone()),
    };
    if frame.encoded_len() <= room {
        frame.encode(buf);
    } else {
        // The reason is cut to fit.
        let mut fitted = frame;
        if let Frame::ConnectionClose(c) = &mut fitted {
            c.reason.truncate(room.saturating_sub(16));
        } else if let Frame::ApplicationClose(c) = &mut fitted {
            c.reason.truncate(room.saturating_sub(16));
        }
        fitted.encode(buf);
    }
}
