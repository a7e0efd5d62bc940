//! The network path (RFC 9000 §8, §9, §14): the peer's address, whether it
//! is validated, the anti-amplification ledger and path validation.

use std::net::SocketAddr;
use std::time::Instant;

/// The path a connection uses.
#[derive(Debug)]
pub(super) struct Path {
    pub(super) remote: SocketAddr,
    /// Whether the peer's address is validated (RFC 9000 §8.1). A client
    /// always considers the server's validated.
    pub(super) validated: bool,
    /// Bytes received from the peer on this path, for the
    /// anti-amplification limit.
    pub(super) received: u64,
    /// Bytes sent to the peer on this path.
    pub(super) sent: u64,
    /// The maximum datagram size in use (RFC 9000 §14).
    pub(super) mtu: u16,
    /// A PATH_CHALLENGE to answer: only the latest is kept, so a flood of
    /// challenges costs nothing (RFC 9000 §8.2.2 lets an endpoint respond to
    /// fewer).
    pub(super) pending_response: Option<[u8; 8]>,
    /// Our outstanding PATH_CHALLENGE and when validation gives up.
    pub(super) challenge: Option<([u8; 8], Instant)>,
}

impl Path {
    pub(super) fn new(remote: SocketAddr, validated: bool, mtu: u16) -> Self {
        Self {
            remote,
            validated,
            received: 0,
            sent: 0,
            mtu,
            pending_response: None,
            challenge: None,
        }
    }

    /// How many more bytes may be sent before the address is validated:
    /// three times what was received, minus what was sent (RFC 9000 §8.1).
    pub(super) fn anti_amplification_budget(&self) -> u64 {
        if self.validated {
            u64::MAX
        } else {
            (3 * self.received).saturating_sub(self.sent)
        }
    }

    /// Whether the server may send nothing more until it hears from the
    /// client.
    pub(super) fn at_anti_amplification_limit(&self) -> bool {
        !self.validated && self.anti_amplification_budget() < u64::from(self.mtu)
    }
}
