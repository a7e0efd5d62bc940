//! 1-RTT key phases and key updates (RFC 9001 §6).
//!
//! ```text
//!   phase 0 keys ──(we initiate, or a packet opens with the next keys)──► phase 1 keys
//!        ▲                                                                   │
//!        └───────────────────────── same, one phase later ◄─────────────────┘
//! ```
//!
//! Header protection keys never change (§6). The next phase's packet keys
//! are derived ahead of time so a packet with a flipped Key Phase bit can be
//! tried at once (§6.3), and the previous phase's receive key is kept for
//! reordered packets until the `KeyDiscard` timer (§6.5).

use bytes::BytesMut;

use crate::crypto::{HeaderKey, KeyPair, PacketKey, Session};

/// Why a 1-RTT packet did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// Authentication failed: drop the packet (RFC 9001 §5.5); it counts
    /// toward the integrity limit.
    Failed,
    /// An old key opened a packet numbered above one already received with
    /// newer keys: KEY_UPDATE_ERROR (RFC 9001 §6.4).
    KeyUpdateError,
}

/// How a 1-RTT packet opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// With the current keys.
    Current,
    /// With the previous phase's key: a reordered packet.
    Previous,
    /// With the next phase's keys: the peer updated keys, or answered our
    /// update. The caller arms the `KeyDiscard` timer.
    NewPhase,
}

/// The 1-RTT keys of a connection.
pub struct OneRttKeys {
    header: KeyPair<Box<dyn HeaderKey>>,
    current: KeyPair<Box<dyn PacketKey>>,
    next: KeyPair<Box<dyn PacketKey>>,
    previous_remote: Option<Box<dyn PacketKey>>,
    /// The Key Phase bit of the current keys.
    phase: bool,
    /// The first packet number we sent with the current keys.
    first_sent: Option<u64>,
    /// Whether a packet sent with the current keys has been acknowledged:
    /// only then may we update again (RFC 9001 §6.1).
    confirmed: bool,
    /// The lowest packet number received with the current keys.
    first_received: Option<u64>,
    /// Packets sealed with the current local key.
    sent_in_phase: u64,
    /// Packets that failed to open, under any 1-RTT key (RFC 9001 §6.6).
    failures: u64,
}

impl std::fmt::Debug for OneRttKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneRttKeys")
            .field("phase", &self.phase)
            .field("first_sent", &self.first_sent)
            .field("confirmed", &self.confirmed)
            .field("sent_in_phase", &self.sent_in_phase)
            .finish_non_exhaustive()
    }
}

impl OneRttKeys {
    /// Keys installed at the end of the handshake, in phase 0, with the next
    /// phase's keys taken from `session`.
    pub fn new(
        header: KeyPair<Box<dyn HeaderKey>>,
        packet: KeyPair<Box<dyn PacketKey>>,
        session: &mut dyn Session,
    ) -> Option<Self> {
        let next = session.next_1rtt_keys()?;
        Some(Self {
            header,
            current: packet,
            next,
            previous_remote: None,
            phase: false,
            first_sent: None,
            // No update happened yet, so nothing waits for confirmation.
            confirmed: true,
            first_received: None,
            sent_in_phase: 0,
            failures: 0,
        })
    }

    /// The header protection keys.
    pub fn header(&self) -> &KeyPair<Box<dyn HeaderKey>> {
        &self.header
    }

    /// The key to seal with and the Key Phase bit to send.
    pub fn local(&self) -> (&dyn PacketKey, bool) {
        (&*self.current.local, self.phase)
    }

    /// Records a packet sealed with the current key.
    pub fn on_packet_sent(&mut self, packet_number: u64) {
        self.first_sent.get_or_insert(packet_number);
        self.sent_in_phase += 1;
    }

    /// Records that the peer acknowledged `largest_acked`.
    pub fn on_ack(&mut self, largest_acked: u64) {
        if self.first_sent.is_some_and(|first| largest_acked >= first) {
            self.confirmed = true;
        }
    }

    /// Whether a new update may start (RFC 9001 §6.1): the last one was
    /// confirmed by an acknowledgment. The handshake must also be
    /// confirmed, which the caller checks.
    pub fn can_update(&self) -> bool {
        self.confirmed && self.previous_remote.is_none()
    }

    /// Whether the current key is due for an update: `interval` packets
    /// sent, or close to the AEAD confidentiality limit (RFC 9001 §6.6).
    pub fn update_due(&self, interval: Option<u64>) -> bool {
        let limit = self.current.local.confidentiality_limit();
        let margin = (limit / 16).max(1);
        let limit = interval.map_or(limit - margin, |i| i.min(limit - margin));
        self.sent_in_phase >= limit
    }

    /// Starts a key update (RFC 9001 §6.1).
    pub fn initiate(&mut self, session: &mut dyn Session) -> bool {
        let Some(after_next) = session.next_1rtt_keys() else {
            return false;
        };
        self.rotate(after_next);
        true
    }

    fn rotate(&mut self, after_next: KeyPair<Box<dyn PacketKey>>) {
        let old = std::mem::replace(
            &mut self.current,
            std::mem::replace(&mut self.next, after_next),
        );
        self.previous_remote = Some(old.remote);
        self.phase = !self.phase;
        self.first_sent = None;
        self.first_received = None;
        self.confirmed = false;
        self.sent_in_phase = 0;
    }

    /// Opens a 1-RTT payload in place (RFC 9001 §6.3, §6.4).
    pub fn open(
        &mut self,
        packet_number: u64,
        key_phase: bool,
        header: &[u8],
        payload: &mut BytesMut,
        session: &mut dyn Session,
    ) -> Result<Opened, OpenError> {
        if key_phase == self.phase {
            return self.open_with_current(packet_number, header, payload);
        }
        let older = self
            .first_received
            .is_none_or(|first| packet_number < first);
        if older {
            if let Some(previous) = &self.previous_remote {
                return self.check(
                    previous.decrypt(packet_number, header, payload),
                    Opened::Previous,
                );
            }
        }
        let mut attempt = payload.clone();
        if self
            .next
            .remote
            .decrypt(packet_number, header, &mut attempt)
            .is_ok()
        {
            *payload = attempt;
            let after_next = session.next_1rtt_keys().ok_or(OpenError::Failed)?;
            // The peer started an update, or answered ours: either way both
            // directions move to the new phase (RFC 9001 §6.2).
            self.rotate(after_next);
            self.first_received = Some(packet_number);
            return Ok(Opened::NewPhase);
        }
        if let Some(previous) = &self.previous_remote {
            if previous.decrypt(packet_number, header, payload).is_ok() {
                return Err(OpenError::KeyUpdateError);
            }
        }
        self.failures += 1;
        Err(OpenError::Failed)
    }

    fn open_with_current(
        &mut self,
        packet_number: u64,
        header: &[u8],
        payload: &mut BytesMut,
    ) -> Result<Opened, OpenError> {
        let result = self.current.remote.decrypt(packet_number, header, payload);
        let opened = self.check(result, Opened::Current)?;
        let first = self.first_received.get_or_insert(packet_number);
        *first = (*first).min(packet_number);
        Ok(opened)
    }

    fn check(
        &mut self,
        result: Result<(), crate::crypto::CryptoError>,
        opened: Opened,
    ) -> Result<Opened, OpenError> {
        match result {
            Ok(()) => Ok(opened),
            Err(_) => {
                self.failures += 1;
                Err(OpenError::Failed)
            }
        }
    }

    /// Whether the previous phase's receive key is still kept although a
    /// packet protected with the current keys has arrived: it is due for
    /// discarding three PTOs later (RFC 9001 §6.5). On the side that
    /// initiated the update that packet opens with the current keys, so
    /// nothing else starts the countdown.
    pub fn previous_awaiting_discard(&self) -> bool {
        self.previous_remote.is_some() && self.first_received.is_some()
    }

    /// Forgets the previous phase's key (RFC 9001 §6.5), at the
    /// `KeyDiscard` deadline.
    pub fn discard_previous(&mut self) {
        self.previous_remote = None;
    }

    /// Whether more packets failed to open than the AEAD's integrity limit
    /// allows: the connection closes with AEAD_LIMIT_REACHED (RFC 9001 §6.6).
    pub fn integrity_limit_reached(&self) -> bool {
        self.failures > self.current.remote.integrity_limit()
    }

    /// The current Key Phase bit.
    pub fn phase(&self) -> bool {
        self.phase
    }
}
