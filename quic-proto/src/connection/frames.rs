//! Processing the frames of an opened packet (RFC 9000 §12.4, §19): each is
//! checked against the packet type (Table 3) and handed to its component.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::Connection;
use super::events::{ConnectionError, Event};
use super::recovery::RecoveryContext;
use super::streams::StreamFrameOutcome;
use crate::cid::ConnectionId;
use crate::error::TransportError;
use crate::frame::{Ack, Frame, FrameType, Iter, PacketKind};
use crate::shared::SpaceId;

impl Connection {
    /// Processes every frame of a packet. Returns whether the packet was
    /// ack-eliciting, or `None` when it must be dropped unacknowledged
    /// because stream data could not be buffered.
    pub(super) fn process_frames(
        &mut self,
        now: Instant,
        space: SpaceId,
        kind: PacketKind,
        dst_cid: &ConnectionId,
        payload: Bytes,
    ) -> Result<Option<bool>, TransportError> {
        if payload.is_empty() {
            // RFC 9000 §12.4: a packet with no frames.
            return Err(TransportError::PROTOCOL_VIOLATION("packet without frames"));
        }
        let mut ack_eliciting = false;
        let mut crypto_received = false;
        for frame in Iter::new(payload) {
            let frame = frame?;
            let ty = frame.ty();
            if !frame.allowed_in(kind) {
                return Err(TransportError::PROTOCOL_VIOLATION(
                    "frame not allowed in this packet type",
                )
                .with_frame_type(ty.into_inner()));
            }
            ack_eliciting |= frame.is_ack_eliciting();
            match frame {
                Frame::Padding(_) | Frame::Ping => {}
                Frame::Ack(ack) => self.on_ack(now, space, &ack)?,
                Frame::Crypto(crypto) => {
                    let limit = self.config.crypto_buffer_size;
                    self.space_mut(space).crypto.on_frame(crypto, limit)?;
                    crypto_received = true;
                }
                Frame::ConnectionClose(close) => {
                    self.enter_draining(now, ConnectionError::ConnectionClosed(close));
                    return Ok(Some(ack_eliciting));
                }
                Frame::ApplicationClose(close) => {
                    self.enter_draining(now, ConnectionError::ApplicationClosed(close));
                    return Ok(Some(ack_eliciting));
                }
                Frame::Stream(stream) => {
                    if self.streams.received_stream(stream)? == StreamFrameOutcome::Refused {
                        return Ok(None);
                    }
                }
                other => self.process_data_frame(now, dst_cid, other)?,
            }
        }
        if crypto_received {
            self.process_crypto(now, space)?;
        }
        Ok(Some(ack_eliciting))
    }

    /// The frames that only 1-RTT packets carry (0-RTT is not accepted).
    fn process_data_frame(
        &mut self,
        now: Instant,
        dst_cid: &ConnectionId,
        frame: Frame,
    ) -> Result<(), TransportError> {
        let ty = frame.ty();
        match frame {
            Frame::ResetStream(f) => self.streams.received_reset_stream(f)?,
            Frame::StopSending(f) => self.streams.received_stop_sending(f)?,
            Frame::MaxData(f) => self.streams.received_max_data(f)?,
            Frame::MaxStreamData(f) => self.streams.received_max_stream_data(f)?,
            Frame::MaxStreams(f) => self.streams.received_max_streams(f)?,
            Frame::DataBlocked(f) => self.streams.received_data_blocked(f)?,
            Frame::StreamDataBlocked(f) => self.streams.received_stream_data_blocked(f)?,
            Frame::StreamsBlocked(f) => self.streams.received_streams_blocked(f)?,
            Frame::NewToken(_) => {
                // RFC 9000 §19.7: only servers send NEW_TOKEN.
                if self.side.is_server() {
                    return Err(server_received(ty));
                }
            }
            Frame::NewConnectionId(f) => {
                self.remote_cids.on_new_connection_id(&f)?;
            }
            Frame::RetireConnectionId(f) => {
                let retired = self
                    .local_cids
                    .on_retire(f.sequence.into_inner(), dst_cid)?;
                if let Some(id) = retired {
                    self.endpoint_events
                        .push_back(super::events::EndpointEvent::RetiredConnectionId { id });
                    self.issue_connection_ids();
                }
            }
            Frame::PathChallenge(f) => self.path.pending_response = Some(f.0),
            Frame::PathResponse(f) => self.on_path_response(f.0),
            Frame::HandshakeDone => {
                // RFC 9000 §19.20: only servers send HANDSHAKE_DONE.
                if self.side.is_server() {
                    return Err(server_received(ty));
                }
                self.on_handshake_confirmed(now);
            }
            Frame::Datagram(f) => {
                if self.datagrams.on_frame(f)? {
                    self.events.push_back(Event::DatagramReceived);
                }
            }
            Frame::Padding(_)
            | Frame::Ping
            | Frame::Ack(_)
            | Frame::Crypto(_)
            | Frame::Stream(_)
            | Frame::ConnectionClose(_)
            | Frame::ApplicationClose(_) => {}
        }
        Ok(())
    }

    /// An ACK frame (RFC 9000 §19.3, RFC 9002 §6): loss recovery learns what
    /// arrived and what was lost, and each component repairs or frees.
    fn on_ack(&mut self, now: Instant, space: SpaceId, ack: &Ack) -> Result<(), TransportError> {
        let exponent = self
            .peer_params
            .as_ref()
            .map_or(3, |p| p.ack_delay_exponent);
        let ack_delay = Duration::from_micros(ack.delay_micros(exponent));
        let ctx = self.recovery_context();
        let (recovery, mut sink) = self.recovery_and_sink();
        let summary = recovery.on_ack_received(now, space, ack, ack_delay, &ctx, &mut sink)?;
        // RFC 9000 §13.4.2.1: newly acknowledged ECT packets with no ECN
        // counts, or counts that do not add up, fail validation; marking
        // stops.
        let unvalidated = ack.ecn().is_none() && summary.newly_acked > 0;
        if self.ecn_marking && (unvalidated || self.recovery.ecn_failed()) {
            tracing::debug!(side = ?self.side, "ECN validation failed: marking stops");
            self.ecn_marking = false;
        }
        Ok(())
    }

    /// What loss recovery needs to know about the connection.
    pub(super) fn recovery_context(&self) -> RecoveryContext {
        RecoveryContext {
            handshake_confirmed: self.handshake.confirmed,
            has_handshake_keys: self.space(SpaceId::Handshake).keys.is_some(),
            at_anti_amplification_limit: self.side.is_server()
                && self.path.at_anti_amplification_limit(),
            max_ack_delay: self.peer_max_ack_delay(),
        }
    }

    fn on_path_response(&mut self, data: [u8; 8]) {
        if self.path.challenge.is_some_and(|(sent, _)| sent == data) {
            self.path.challenge = None;
            self.path.validated = true;
        }
    }
}

/// A frame only servers may send, received by a server
/// (RFC 9000 §19.7, §19.20).
fn server_received(ty: FrameType) -> TransportError {
    TransportError::PROTOCOL_VIOLATION("frame only a server may send")
        .with_frame_type(ty.into_inner())
}
