//! Flow control arithmetic (RFC 9000 §4.1, §4.2): the credit the peer gives
//! us for sending, and the windows we advertise for receiving.

use crate::coding::VarInt;
use crate::error::TransportError;

/// The largest flow control limit that can be expressed (2^62 - 1).
const MAX_LIMIT: u64 = VarInt::MAX.into_inner();

/// A receive window we advertise: a stream's MAX_STREAM_DATA or the
/// connection's MAX_DATA (RFC 9000 §4.2).
///
/// The limit moves to `consumed + window` once less than half the window is
/// left, so updates are neither too frequent nor too late. With auto-growth,
/// the window doubles (up to `max_window`) each time the peer reports being
/// blocked at our current limit: a DATA_BLOCKED or STREAM_DATA_BLOCKED frame
/// is the tuning input RFC 9000 §19.12 suggests, and needs no clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiveWindow {
    limit: u64,
    window: u64,
    max_window: u64,
}

impl ReceiveWindow {
    /// A window of `window` bytes from offset 0 that may grow to
    /// `max_window` (no growth if `max_window <= window`).
    pub fn new(window: u64, max_window: u64) -> Self {
        let window = window.min(MAX_LIMIT);
        Self {
            limit: window,
            window,
            max_window: max_window.clamp(window, MAX_LIMIT),
        }
    }

    /// The limit advertised: no byte at or beyond it may arrive.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The current window size.
    #[cfg(test)]
    pub fn window(&self) -> u64 {
        self.window
    }

    /// After the application consumed everything below `consumed`: raises
    /// the limit to `consumed + window` if less than half the window is left.
    /// Returns whether the limit moved (an update is to be sent).
    pub fn update(&mut self, consumed: u64) -> bool {
        let left = self.limit.saturating_sub(consumed);
        if left > self.window / 2 {
            return false;
        }
        let limit = consumed.saturating_add(self.window).min(MAX_LIMIT);
        if limit <= self.limit {
            return false;
        }
        self.limit = limit;
        true
    }

    /// The peer reports being blocked at `blocked_at`. If that is our
    /// current limit and the window may grow, doubles it and grants the new
    /// credit at once. Returns whether the limit moved.
    pub fn on_peer_blocked(&mut self, blocked_at: u64, consumed: u64) -> bool {
        if blocked_at != self.limit || self.window >= self.max_window {
            return false;
        }
        self.window = self.window.saturating_mul(2).min(self.max_window);
        let limit = consumed.saturating_add(self.window).min(MAX_LIMIT);
        if limit <= self.limit {
            return false;
        }
        self.limit = limit;
        true
    }
}

/// Connection-level receive accounting (RFC 9000 §4.1, §4.5): the sum over
/// all streams of the highest offset received (or the final size), checked
/// against the MAX_DATA we advertised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionReceive {
    /// The MAX_DATA window.
    pub window: ReceiveWindow,
    /// The sum of every stream's highest received offset or final size.
    pub received: u64,
    /// The bytes the application read or that were discarded (stopped or
    /// reset streams): the credit that may be given back.
    pub consumed: u64,
}

impl ConnectionReceive {
    /// Nothing received yet, with the given window.
    pub fn new(window: ReceiveWindow) -> Self {
        Self {
            window,
            received: 0,
            consumed: 0,
        }
    }

    /// Checks that `more` new bytes fit under MAX_DATA (RFC 9000 §4.1,
    /// §19.9).
    pub fn check(&self, more: u64) -> Result<(), TransportError> {
        match self.received.checked_add(more) {
            Some(total) if total <= self.window.limit() => Ok(()),
            _ => Err(TransportError::FLOW_CONTROL_ERROR(
                "connection flow control limit exceeded",
            )),
        }
    }

    /// Counts `more` new bytes (after [`check`](Self::check)).
    pub fn on_received(&mut self, more: u64) {
        self.received = self.received.saturating_add(more);
    }

    /// Counts `more` bytes as consumed. Returns whether MAX_DATA moved.
    pub fn on_consumed(&mut self, more: u64) -> bool {
        self.consumed = self.consumed.saturating_add(more);
        more > 0 && self.window.update(self.consumed)
    }
}

/// Connection-level send credit (RFC 9000 §4.1): the peer's MAX_DATA and
/// how much of it writes have reserved.
///
/// Credit is reserved when the application writes, not when data is sent,
/// so that everything in a send buffer can always be sent: the sum of the
/// stream data written (less what a reset discarded before sending it)
/// never exceeds the peer's MAX_DATA.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendCredit {
    /// The peer's MAX_DATA.
    pub max_data: u64,
    /// Bytes written by the application and not given back by a reset.
    pub reserved: u64,
    /// The sum of every stream's highest offset sent: what the peer counts.
    pub sent: u64,
    /// The MAX_DATA value at which we last queued DATA_BLOCKED.
    pub blocked_at: Option<u64>,
}

impl SendCredit {
    /// The bytes writes may still reserve.
    pub fn available(&self) -> u64 {
        self.max_data.saturating_sub(self.reserved)
    }

    /// The peer raised MAX_DATA to `max`. Returns whether it grew
    /// (RFC 9000 §4.1: frames that do not increase the limit are ignored).
    pub fn on_max_data(&mut self, max: u64) -> bool {
        if max <= self.max_data {
            return false;
        }
        self.max_data = max;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9000 §4.2: credit is given back once half the window is used,
    /// as `consumed + window`.
    #[test]
    fn rfc9000_4_2_window_moves_after_half_is_consumed() {
        let mut w = ReceiveWindow::new(100, 100);
        assert_eq!(w.limit(), 100);
        assert!(!w.update(49));
        assert_eq!(w.limit(), 100);
        assert!(w.update(50));
        assert_eq!(w.limit(), 150);
        assert!(!w.update(60));
        assert!(!w.on_peer_blocked(150, 60), "no growth without room");
    }

    #[test]
    fn window_grows_only_when_peer_is_blocked_at_our_limit() {
        let mut w = ReceiveWindow::new(100, 400);
        assert!(!w.on_peer_blocked(99, 0), "stale blocked frame");
        assert!(w.on_peer_blocked(100, 10));
        assert_eq!((w.window(), w.limit()), (200, 210));
        assert!(w.on_peer_blocked(210, 10));
        assert_eq!((w.window(), w.limit()), (400, 410));
        assert!(!w.on_peer_blocked(410, 10), "capped at max_window");
        assert_eq!(w.window(), 400);
    }

    #[test]
    fn limits_saturate_at_varint_max() {
        let mut w = ReceiveWindow::new(u64::MAX, u64::MAX);
        assert_eq!(w.limit(), MAX_LIMIT);
        assert!(!w.update(MAX_LIMIT));
        assert_eq!(w.limit(), MAX_LIMIT);
    }

    /// RFC 9000 §4.1: more than MAX_DATA in total is a FLOW_CONTROL_ERROR.
    #[test]
    fn rfc9000_4_1_connection_limit() {
        let mut c = ConnectionReceive::new(ReceiveWindow::new(10, 10));
        assert!(c.check(10).is_ok());
        c.on_received(7);
        assert_eq!(
            c.check(4).unwrap_err().code,
            crate::error::TransportErrorCode::FLOW_CONTROL_ERROR
        );
        assert!(c.check(u64::MAX).is_err());
        assert!(c.on_consumed(5));
        assert_eq!(c.window.limit(), 15);
        assert!(!c.on_consumed(0));
    }

    #[test]
    fn send_credit_ignores_smaller_limits() {
        let mut s = SendCredit::default();
        assert!(s.on_max_data(10));
        assert!(!s.on_max_data(5));
        s.reserved = 4;
        assert_eq!(s.available(), 6);
    }
}
