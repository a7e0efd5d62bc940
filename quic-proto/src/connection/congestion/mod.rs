//! Congestion control (RFC 9002 §7, Appendix B).
//!
//! A [`Controller`] owns a path's congestion window. The connection keeps one
//! per path as a `Box<dyn Controller>`, built by a [`ControllerFactory`] from
//! the transport configuration, and calls the hooks of RFC 9002 Appendix B as
//! packets are sent, acknowledged and lost. [`NewReno`] is the controller the
//! RFC specifies.
//!
//! # Who keeps what
//!
//! - **Bytes in flight** are counted by loss recovery, not by the controller:
//!   the same number decides whether a packet may be sent
//!   (`bytes_in_flight + size <= window()`, §7), is reduced when keys are
//!   discarded (Appendix B.9) and tells whether the sender is application
//!   limited (§7.8). Keeping one count avoids two that drift apart.
//!   [`Controller::on_packet_sent`] still reports every in-flight packet to
//!   controllers that want it.
//! - **Loss and persistent congestion** are established by the loss detector
//!   (§6.1, §7.6.2, with
//!   [`RttEstimator::persistent_congestion_duration`]); the controller is told
//!   the outcome through [`Controller::on_congestion_event`].
//! - **Application-limited** state is decided by the caller and passed with
//!   each acknowledgment (§7.8): the sender is application limited when bytes
//!   in flight were below the window and it was not held back by pacing.
//! - After entering recovery, a sender MAY send one packet beyond the window
//!   to speed up loss recovery (`MaybeSendOnePacket`, Appendix B.6); that is
//!   the send path's decision.

use std::fmt;
use std::time::Instant;

use super::rtt::RttEstimator;

mod new_reno;

pub use new_reno::{NewReno, NewRenoConfig};

/// The smallest maximum datagram size a QUIC path supports (RFC 9000 §14), and
/// the smallest that controllers accept.
pub const MIN_MAX_DATAGRAM_SIZE: u64 = 1200;

/// The byte limit on the initial window (RFC 9002 §7.2): 14,720 bytes,
/// following RFC 6928 with UDP's smaller overhead.
pub const INITIAL_WINDOW_LIMIT: u64 = 14_720;

/// The recommended initial congestion window (RFC 9002 §7.2, `kInitialWindow`):
/// `min(10 * max_datagram_size, max(14720, 2 * max_datagram_size))`.
pub fn initial_window(max_datagram_size: u64) -> u64 {
    let ten = max_datagram_size.saturating_mul(10);
    let two = max_datagram_size.saturating_mul(2);
    ten.min(INITIAL_WINDOW_LIMIT.max(two))
}

/// The minimum congestion window (RFC 9002 §7.2, `kMinimumWindow`):
/// `2 * max_datagram_size`, the smallest window loss, ECN-CE or persistent
/// congestion can bring it to.
pub fn minimum_window(max_datagram_size: u64) -> u64 {
    max_datagram_size.saturating_mul(2)
}

/// A congestion controller for one path (RFC 9002 §7), with the hooks of the
/// Appendix B pseudocode.
///
/// Every method that depends on time takes `now` from the caller. Sizes are
/// in bytes of QUIC packets (header and AEAD overhead included, UDP and IP
/// overhead excluded), and only in-flight packets (those carrying an
/// ack-eliciting or PADDING frame) are reported.
pub trait Controller: Send + Sync + fmt::Debug {
    /// An in-flight packet of `bytes` was sent (`OnPacketSentCC`, Appendix B.4).
    fn on_packet_sent(&mut self, now: Instant, bytes: u64);

    /// An in-flight packet of `bytes`, sent at `sent_time`, was newly
    /// acknowledged (`OnPacketAcked`, Appendix B.5). Called once per packet.
    ///
    /// `app_limited` is true when the sender did not use the window for want of
    /// data or flow control credit (§7.8); the window must not grow then.
    fn on_packet_acked(
        &mut self,
        now: Instant,
        sent_time: Instant,
        bytes: u64,
        app_limited: bool,
        rtt: &RttEstimator,
    );

    /// All packets newly acknowledged by one ACK frame have been reported
    /// through [`on_packet_acked`](Self::on_packet_acked). For controllers
    /// that work per ACK rather than per packet; does nothing by default.
    fn on_end_acks(&mut self, now: Instant, bytes_in_flight: u64, app_limited: bool) {
        let _ = (now, bytes_in_flight, app_limited);
    }

    /// A congestion signal (`OnCongestionEvent`, Appendix B.6): packets were
    /// declared lost, the newest of them (by send time) sent at `sent_time`,
    /// with `lost_bytes` in flight among them; or the peer reported an
    /// increased ECN-CE count.
    ///
    /// Enters a recovery period unless `sent_time` is inside the current one
    /// (§7.3.2). If `is_persistent_congestion`, the loss detector has
    /// established persistent congestion for these losses (§7.6.2), and the
    /// controller also reacts as in
    /// [`on_persistent_congestion`](Self::on_persistent_congestion).
    fn on_congestion_event(
        &mut self,
        now: Instant,
        sent_time: Instant,
        is_persistent_congestion: bool,
        lost_bytes: u64,
    );

    /// The peer's ECN-CE count increased in an ACK whose largest acknowledged
    /// packet was sent at `sent_time` (`ProcessECN`, Appendix B.7). By default
    /// this is the same congestion event as a loss (§7.1).
    fn on_ecn_ce(&mut self, now: Instant, sent_time: Instant) {
        self.on_congestion_event(now, sent_time, false, 0);
    }

    /// Persistent congestion was established (§7.6.2): the window drops to the
    /// minimum window and any recovery period ends (Appendix B.8).
    fn on_persistent_congestion(&mut self, now: Instant);

    /// The path's maximum datagram size changed, e.g. by PMTU discovery
    /// (§7.2). Values below [`MIN_MAX_DATAGRAM_SIZE`] are raised to it.
    fn on_mtu_update(&mut self, max_datagram_size: u64);

    /// The congestion window in bytes: bytes in flight must stay at or below
    /// it, except for probes and the one packet allowed on entering recovery.
    fn window(&self) -> u64;

    /// The window this controller started with (and the one it returns to,
    /// for the path's current datagram size).
    fn initial_window(&self) -> u64;

    /// The smallest window congestion signals can bring it to (§7.2).
    fn minimum_window(&self) -> u64;

    /// Whether a packet sent at `sent_time` belongs to the current recovery
    /// period (`InCongestionRecovery`, Appendix B.5): its loss does not reduce
    /// the window again, and its acknowledgment does not grow it.
    fn in_recovery(&self, sent_time: Instant) -> bool;

    /// A boxed copy of this controller, state included.
    fn clone_box(&self) -> Box<dyn Controller>;
}

impl Clone for Box<dyn Controller> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// Builds a fresh [`Controller`] for each new path; held by the transport
/// configuration and shared between connections.
pub trait ControllerFactory: Send + Sync + fmt::Debug {
    /// A controller for a path starting at `now` whose maximum datagram size
    /// is `max_datagram_size`.
    fn build(&self, now: Instant, max_datagram_size: u64) -> Box<dyn Controller>;
}
