//! Packet number spaces (RFC 9000 §12.3): each has its own packet numbers,
//! keys (Initial and Handshake; 1-RTT keys live in [`OneRttKeys`]), CRYPTO
//! stream and received-packet tracking.
//!
//! [`OneRttKeys`]: super::key_update::OneRttKeys

use super::ack_tracker::{AckTrackerConfig, ReceivedPackets};
use super::crypto_stream::CryptoStream;
use crate::crypto::Keys;
use crate::shared::SpaceId;

/// One packet number space.
#[derive(Debug)]
pub(super) struct PacketSpace {
    /// Initial or Handshake keys; always `None` for the Data space.
    pub(super) keys: Option<Keys>,
    /// The next packet number to send.
    pub(super) next_pn: u64,
    /// Handshake bytes of this level.
    pub(super) crypto: CryptoStream,
    /// What we received, for ACKs and duplicate detection.
    pub(super) received: ReceivedPackets,
    /// Ack-eliciting packets to send as probes after a PTO (RFC 9002
    /// §6.2.4).
    pub(super) probes: u8,
    /// Send a PING in this space (probes with nothing else to send, or an
    /// explicit ping).
    pub(super) ping_pending: bool,
    /// The keys of this space were discarded: nothing more is sent or
    /// accepted in it (RFC 9001 §4.9).
    pub(super) discarded: bool,
}

impl PacketSpace {
    pub(super) fn new(space: SpaceId, config: AckTrackerConfig) -> Self {
        Self {
            keys: None,
            next_pn: 0,
            crypto: CryptoStream::default(),
            received: ReceivedPackets::new(space, config),
            probes: 0,
            ping_pending: false,
            discarded: false,
        }
    }

    /// Takes the next packet number.
    pub(super) fn take_pn(&mut self) -> u64 {
        let pn = self.next_pn;
        self.next_pn += 1;
        pn
    }
}
