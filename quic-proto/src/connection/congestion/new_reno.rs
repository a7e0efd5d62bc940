//! NewReno, the congestion controller of RFC 9002 §7 and Appendix B.
//!
//! ```text
//!                  New path or      +------------+
//!             persistent congestion |   Slow     |
//!         (O)---------------------->|   Start    |
//!                                   +------------+
//!                                         |
//!                                 Loss or |
//!                         ECN-CE increase |
//!                                         v
//!  +------------+     Loss or       +------------+
//!  | Congestion |  ECN-CE increase  |  Recovery  |
//!  | Avoidance  |------------------>|   Period   |
//!  +------------+                   +------------+
//!            ^                            |
//!            |                            |
//!            +----------------------------+
//!               Acknowledgment of packet
//!                 sent during recovery
//! ```
//!
//! (RFC 9002 §7.3, Figure 1.) As in Appendix B, the states are not stored:
//! slow start is `window < ssthresh`, and the recovery period is the set of
//! packets sent no later than `congestion_recovery_start_time`; acknowledging
//! a packet sent after it ends the period.

use std::time::Instant;

use super::{Controller, MIN_MAX_DATAGRAM_SIZE, initial_window, minimum_window};
use crate::connection::rtt::RttEstimator;

/// Configuration of [`NewReno`]; also its [`ControllerFactory`](super::ControllerFactory).
#[derive(Debug, Clone, Default)]
pub struct NewRenoConfig {
    /// Overrides the initial window of RFC 9002 §7.2 when set.
    initial_window: Option<u64>,
}

impl NewRenoConfig {
    /// Starts every path with a window of `bytes` instead of the RFC 9002 §7.2
    /// value. The window is never below the minimum window
    /// (`2 * max_datagram_size`), whatever is set here.
    pub fn with_initial_window(mut self, bytes: u64) -> Self {
        self.initial_window = Some(bytes);
        self
    }

    /// The configured initial window override, if any.
    pub fn initial_window(&self) -> Option<u64> {
        self.initial_window
    }
}

impl super::ControllerFactory for NewRenoConfig {
    fn build(&self, _now: Instant, max_datagram_size: u64) -> Box<dyn Controller> {
        Box::new(NewReno::new(self.clone(), max_datagram_size))
    }
}

/// The NewReno congestion controller (RFC 9002 §7, Appendix B): slow start,
/// a recovery period that halves the window once per round trip, additive
/// increase of one datagram per window in congestion avoidance, and the
/// minimum window on persistent congestion.
#[derive(Debug, Clone)]
pub struct NewReno {
    /// Settings this controller was built with.
    config: NewRenoConfig,
    /// `max_datagram_size` (Appendix B.2), at least 1200.
    max_datagram_size: u64,
    /// `congestion_window` in bytes.
    window: u64,
    /// `ssthresh` in bytes; `u64::MAX` stands for infinite.
    ssthresh: u64,
    /// `congestion_recovery_start_time`; `None` stands for the pseudocode's 0,
    /// before any congestion event or after persistent congestion.
    recovery_start_time: Option<Instant>,
    /// Bytes acknowledged in congestion avoidance since the window last grew
    /// (RFC 3465 §2.1, as Appendix B.5 suggests for integer windows).
    bytes_acked: u64,
}

impl NewReno {
    /// A controller for a new path whose maximum datagram size is
    /// `max_datagram_size` (raised to 1200 if lower), in slow start with an
    /// infinite slow start threshold (Appendix B.3).
    pub fn new(config: NewRenoConfig, max_datagram_size: u64) -> Self {
        let mut controller = Self {
            config,
            max_datagram_size: max_datagram_size.max(MIN_MAX_DATAGRAM_SIZE),
            window: 0,
            ssthresh: u64::MAX,
            recovery_start_time: None,
            bytes_acked: 0,
        };
        controller.window = controller.initial_window();
        controller
    }

    /// The slow start threshold, `None` while it is infinite (before the
    /// first congestion event).
    pub fn ssthresh(&self) -> Option<u64> {
        (self.ssthresh != u64::MAX).then_some(self.ssthresh)
    }

    /// Whether the controller is in slow start (§7.3.1): the window is below
    /// the slow start threshold.
    pub fn in_slow_start(&self) -> bool {
        self.window < self.ssthresh
    }

    /// The maximum datagram size the windows are computed from.
    pub fn max_datagram_size(&self) -> u64 {
        self.max_datagram_size
    }
}

impl Controller for NewReno {
    /// Bytes in flight are kept by loss recovery (see the module docs), so
    /// sending a packet changes nothing here.
    fn on_packet_sent(&mut self, _now: Instant, _bytes: u64) {}

    fn on_packet_acked(
        &mut self,
        _now: Instant,
        sent_time: Instant,
        bytes: u64,
        app_limited: bool,
        _rtt: &RttEstimator,
    ) {
        // §7.8: no growth while the window is underused.
        if app_limited {
            return;
        }
        // §7.3.2: no growth in a recovery period.
        if self.in_recovery(sent_time) {
            return;
        }
        if self.in_slow_start() {
            // §7.3.1: grow by the bytes acknowledged.
            self.window = self.window.saturating_add(bytes);
        } else {
            // §7.3.3: at most one datagram per window acknowledged, counted
            // in whole windows (RFC 3465 §2.1).
            self.bytes_acked = self.bytes_acked.saturating_add(bytes);
            if self.bytes_acked >= self.window {
                self.bytes_acked -= self.window;
                self.window = self.window.saturating_add(self.max_datagram_size);
            }
        }
    }

    /// NewReno reduces by a factor whatever was lost, so `lost_bytes` is not
    /// used.
    fn on_congestion_event(
        &mut self,
        now: Instant,
        sent_time: Instant,
        is_persistent_congestion: bool,
        _lost_bytes: u64,
    ) {
        // §7.3.2: one reduction per recovery period.
        if !self.in_recovery(sent_time) {
            self.recovery_start_time = Some(now);
            // kLossReductionFactor = 0.5
            self.ssthresh = self.window / 2;
            self.window = self.ssthresh.max(self.minimum_window());
            self.bytes_acked = 0;
        }
        if is_persistent_congestion {
            self.on_persistent_congestion(now);
        }
    }

    fn on_persistent_congestion(&mut self, _now: Instant) {
        // §7.6.2 and Appendix B.8. ssthresh stays where the congestion event
        // put it, so the sender slow starts back up to it (§7.3.1).
        self.window = self.minimum_window();
        self.recovery_start_time = None;
        self.bytes_acked = 0;
    }

    /// The initial window is recalculated for the new size (§7.2). A window
    /// still at the old initial value moves to the new one (which is what
    /// §7.2 asks for when the size shrinks during the handshake); any other
    /// window is kept, but never below the new minimum window.
    fn on_mtu_update(&mut self, max_datagram_size: u64) {
        let old_initial_window = self.initial_window();
        self.max_datagram_size = max_datagram_size.max(MIN_MAX_DATAGRAM_SIZE);
        if self.window == old_initial_window {
            self.window = self.initial_window();
        }
        self.window = self.window.max(self.minimum_window());
    }

    fn window(&self) -> u64 {
        self.window
    }

    fn initial_window(&self) -> u64 {
        let window = match self.config.initial_window {
            Some(bytes) => bytes,
            None => initial_window(self.max_datagram_size),
        };
        window.max(self.minimum_window())
    }

    fn minimum_window(&self) -> u64 {
        minimum_window(self.max_datagram_size)
    }

    fn in_recovery(&self, sent_time: Instant) -> bool {
        self.recovery_start_time
            .is_some_and(|start| sent_time <= start)
    }

    fn clone_box(&self) -> Box<dyn Controller> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests;
