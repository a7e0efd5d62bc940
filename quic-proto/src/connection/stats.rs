//! Counters about a connection.

use std::time::Duration;

/// What a connection sent and received, and its path estimates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// UDP datagrams sent.
    pub datagrams_sent: u64,
    /// UDP payload bytes sent.
    pub bytes_sent: u64,
    /// UDP datagrams received.
    pub datagrams_received: u64,
    /// UDP payload bytes received.
    pub bytes_received: u64,
    /// QUIC packets sent.
    pub packets_sent: u64,
    /// QUIC packets received and opened.
    pub packets_received: u64,
    /// Packets declared lost.
    pub packets_lost: u64,
    /// Packets dropped: undecryptable, duplicate, or for a discarded space.
    pub packets_dropped: u64,
    /// Probe timeouts.
    pub ptos: u64,
    /// 1-RTT key updates, ours and the peer's.
    pub key_updates: u64,
    /// Datagrams (RFC 9221) dropped because a queue was full.
    pub datagrams_dropped: u64,
    /// The congestion window.
    pub congestion_window: u64,
    /// Bytes in flight.
    pub bytes_in_flight: u64,
    /// The smoothed RTT.
    pub rtt: Duration,
    /// Whether packets are still sent marked ECT(0): false once ECN
    /// validation failed (RFC 9000 §13.4.2).
    pub ecn_marking: bool,
}
