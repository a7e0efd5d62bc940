//! Closing a connection (RFC 9000 §10): the immediate close with
//! CONNECTION_CLOSE, the closing and draining periods, and the idle timeout.

use std::time::Instant;

use bytes::Bytes;

use super::events::{ConnectionError, EndpointEvent, Event};
use super::timers::Timer;
use super::{Connection, State};
use crate::coding::VarInt;
use crate::error::TransportError;
use crate::frame::{ApplicationClose, ConnectionClose, FrameType};

/// The CONNECTION_CLOSE frame a closing connection repeats.
#[derive(Debug, Clone)]
pub(super) enum CloseFrame {
    /// A transport error (frame type 0x1c).
    Transport(ConnectionClose),
    /// An application close (frame type 0x1d).
    Application(ApplicationClose),
}

/// The closing state (RFC 9000 §10.2.1).
#[derive(Debug)]
pub(super) struct CloseState {
    pub(super) frame: CloseFrame,
    /// Send the frame once more: set when we enter the state and each time a
    /// packet arrives (rate limited to one per received datagram).
    pub(super) send_pending: bool,
}

/// The longest reason phrase we send, so a CONNECTION_CLOSE always fits in
/// a packet.
const MAX_REASON_LEN: usize = 512;

impl Connection {
    /// Closes the connection with an application error code and reason
    /// (RFC 9000 §10.2): CONNECTION_CLOSE is sent and the connection enters
    /// the closing period. Streams stop at once.
    pub fn close(&mut self, now: Instant, error_code: VarInt, reason: Bytes) {
        if self.is_closed() {
            return;
        }
        let reason = reason.slice(..reason.len().min(MAX_REASON_LEN));
        let frame = CloseFrame::Application(ApplicationClose { error_code, reason });
        self.enter_closing(now, frame, ConnectionError::LocallyClosed);
    }

    /// Closes the connection because the peer broke the protocol.
    pub(super) fn close_with_error(&mut self, now: Instant, error: TransportError) {
        if self.is_closed() {
            return;
        }
        tracing::debug!(side = ?self.side, %error, "closing: transport error");
        let mut reason = Bytes::from(error.reason.to_string().into_bytes());
        reason.truncate(MAX_REASON_LEN);
        let frame = CloseFrame::Transport(ConnectionClose {
            error_code: error.code,
            frame_type: FrameType::from_var(VarInt::saturating_from_u64(
                error.frame_type.unwrap_or(0),
            )),
            reason,
        });
        self.enter_closing(now, frame, ConnectionError::TransportError(error));
    }

    fn enter_closing(&mut self, now: Instant, frame: CloseFrame, reason: ConnectionError) {
        // Before the handshake keys exist an application close would reveal
        // the application; RFC 9000 §10.2.3 sends it as a transport
        // APPLICATION_ERROR in Initial and Handshake packets, which the send
        // path does.
        self.state = State::Closing(CloseState {
            frame,
            send_pending: true,
        });
        self.lost(reason);
        self.start_close_timer(now);
    }

    /// The peer closed: enter the draining period (RFC 9000 §10.2.2).
    pub(super) fn enter_draining(&mut self, now: Instant, reason: ConnectionError) {
        if matches!(self.state, State::Draining | State::Drained) {
            return;
        }
        if !self.is_closed() {
            self.lost(reason);
        }
        self.state = State::Draining;
        self.start_close_timer(now);
    }

    /// Ends the connection at once, with no closing period: idle timeout
    /// (RFC 9000 §10.1) or stateless reset (§10.3).
    pub(super) fn drain_now(&mut self, reason: ConnectionError) {
        if !self.is_closed() {
            self.lost(reason);
        }
        self.finish_drain();
    }

    /// The closing or draining period lasts three PTOs (RFC 9000 §10.2).
    fn start_close_timer(&mut self, now: Instant) {
        let max_ack_delay = self.peer_max_ack_delay();
        let period = 3 * self.recovery.pto_period(max_ack_delay);
        self.timers.stop_all();
        self.timers.set(Timer::Close, now + period);
    }

    /// The `Close` timer fired.
    pub(super) fn finish_drain(&mut self) {
        if matches!(self.state, State::Drained) {
            return;
        }
        self.state = State::Drained;
        self.timers.stop_all();
        self.events.push_back(Event::Drained);
        self.endpoint_events.push_back(EndpointEvent::Drained);
    }

    fn lost(&mut self, reason: ConnectionError) {
        self.error = Some(reason.clone());
        self.events.push_back(Event::ConnectionLost { reason });
    }

    /// A packet arrived while closing: answer it with CONNECTION_CLOSE
    /// (RFC 9000 §10.2.1).
    pub(super) fn on_packet_while_closing(&mut self) {
        if let State::Closing(close) = &mut self.state {
            close.send_pending = true;
        }
    }
}
