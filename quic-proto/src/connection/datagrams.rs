//! Unreliable datagrams (RFC 9221): bounded queues in both directions.
//!
//! Datagrams are never retransmitted (§5); when a queue is full the oldest
//! entry is dropped, so a peer or an application that outpaces the other side
//! costs a bounded amount of memory.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::error::TransportError;
use crate::frame::Datagram;

/// Why a datagram could not be queued for sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendDatagramError {
    /// The peer did not advertise `max_datagram_frame_size` (RFC 9221 §3).
    UnsupportedByPeer,
    /// The datagram does not fit in the peer's limit or in one packet.
    TooLarge,
}

impl std::fmt::Display for SendDatagramError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnsupportedByPeer => f.write_str("the peer does not accept datagrams"),
            Self::TooLarge => f.write_str("datagram too large"),
        }
    }
}

impl std::error::Error for SendDatagramError {}

/// Both datagram queues of a connection.
#[derive(Debug)]
pub struct Datagrams {
    incoming: VecDeque<Bytes>,
    outgoing: VecDeque<Bytes>,
    receive_limit: usize,
    send_limit: usize,
    /// The largest DATAGRAM frame we accept; `None` when we refuse them.
    local_max_frame: Option<u64>,
    /// The largest DATAGRAM frame the peer accepts.
    peer_max_frame: Option<u64>,
    /// Datagrams dropped because a queue was full.
    pub dropped: u64,
}

impl Datagrams {
    /// Queues of the given lengths; `local_max_frame` is what we advertise.
    pub fn new(receive_limit: usize, send_limit: usize, local_max_frame: Option<u64>) -> Self {
        Self {
            incoming: VecDeque::new(),
            outgoing: VecDeque::new(),
            receive_limit: receive_limit.max(1),
            send_limit: send_limit.max(1),
            local_max_frame,
            peer_max_frame: None,
            dropped: 0,
        }
    }

    /// Applies the peer's `max_datagram_frame_size` (0 means none).
    pub fn set_peer_max_frame(&mut self, size: u64) {
        self.peer_max_frame = (size > 0).then_some(size);
    }

    /// The largest payload a DATAGRAM frame may carry to the peer given the
    /// room left in a full packet.
    pub fn max_size(&self, packet_room: usize) -> Option<usize> {
        let frame_limit = self.peer_max_frame? as usize;
        let limit = frame_limit.min(packet_room);
        // Type byte and a length varint of up to 2 bytes.
        Some(limit.saturating_sub(3))
    }

    /// Queues a datagram to send, dropping the oldest queued one if full.
    pub fn send(&mut self, data: Bytes, packet_room: usize) -> Result<(), SendDatagramError> {
        let max = self
            .max_size(packet_room)
            .ok_or(SendDatagramError::UnsupportedByPeer)?;
        if data.len() > max {
            return Err(SendDatagramError::TooLarge);
        }
        if self.outgoing.len() == self.send_limit {
            self.outgoing.pop_front();
            self.dropped += 1;
        }
        self.outgoing.push_back(data);
        Ok(())
    }

    /// A DATAGRAM frame arrived. One larger than we advertised, or any when
    /// we advertised none, is PROTOCOL_VIOLATION (RFC 9221 §3). Returns
    /// whether the application should be told.
    pub fn on_frame(&mut self, frame: Datagram) -> Result<bool, TransportError> {
        let Some(max) = self.local_max_frame else {
            return Err(TransportError::PROTOCOL_VIOLATION(
                "DATAGRAM frames were not offered",
            ));
        };
        if frame.encoded_len() as u64 > max {
            return Err(TransportError::PROTOCOL_VIOLATION(
                "DATAGRAM frame too large",
            ));
        }
        let was_empty = self.incoming.is_empty();
        if self.incoming.len() == self.receive_limit {
            self.incoming.pop_front();
            self.dropped += 1;
        }
        self.incoming.push_back(frame.data);
        Ok(was_empty)
    }

    /// How many received datagrams wait.
    pub fn queued(&self) -> usize {
        self.incoming.len()
    }

    /// Takes the oldest received datagram.
    pub fn recv(&mut self) -> Option<Bytes> {
        self.incoming.pop_front()
    }

    /// Whether a datagram waits to be sent.
    pub fn has_pending(&self) -> bool {
        !self.outgoing.is_empty()
    }

    /// Writes queued datagrams that fit in `budget` bytes; a datagram that
    /// does not fit waits for the next packet. Returns whether any was
    /// written.
    pub fn write(&mut self, out: &mut Vec<u8>, budget: usize) -> bool {
        let start = out.len();
        while let Some(data) = self.outgoing.front() {
            let frame_len = Datagram::header_len(data.len(), true) + data.len();
            if out.len() - start + frame_len > budget {
                break;
            }
            let data = self.outgoing.pop_front().expect("front exists");
            Datagram { data }.encode(out);
        }
        out.len() > start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TransportErrorCode;

    #[test]
    fn queues_are_bounded_and_drop_the_oldest() {
        let mut datagrams = Datagrams::new(2, 2, Some(1200));
        datagrams.set_peer_max_frame(1200);
        for i in 0..3u8 {
            datagrams.send(Bytes::from(vec![i; 10]), 1200).unwrap();
            datagrams
                .on_frame(Datagram {
                    data: Bytes::from(vec![i; 10]),
                })
                .unwrap();
        }
        assert_eq!(datagrams.dropped, 2);
        assert_eq!(datagrams.recv().unwrap()[0], 1);
        assert_eq!(datagrams.recv().unwrap()[0], 2);
        assert!(datagrams.recv().is_none());
        let mut out = Vec::new();
        assert!(datagrams.write(&mut out, 1200));
        assert!(!datagrams.has_pending());
    }

    /// RFC 9221 §3: DATAGRAM frames when none were offered, or larger than
    /// offered, are PROTOCOL_VIOLATION; sending needs the peer's offer.
    #[test]
    fn limits() {
        let mut refusing = Datagrams::new(4, 4, None);
        let err = refusing
            .on_frame(Datagram {
                data: Bytes::from_static(b"x"),
            })
            .unwrap_err();
        assert_eq!(err.code, TransportErrorCode::PROTOCOL_VIOLATION);
        assert_eq!(
            refusing.send(Bytes::from_static(b"x"), 1200),
            Err(SendDatagramError::UnsupportedByPeer)
        );

        let mut small = Datagrams::new(4, 4, Some(10));
        let err = small
            .on_frame(Datagram {
                data: Bytes::from(vec![0; 20]),
            })
            .unwrap_err();
        assert_eq!(err.code, TransportErrorCode::PROTOCOL_VIOLATION);
        small.set_peer_max_frame(10);
        assert_eq!(
            small.send(Bytes::from(vec![0; 20]), 1200),
            Err(SendDatagramError::TooLarge)
        );
        assert!(small.send(Bytes::from(vec![0; 7]), 1200).is_ok());
    }
}
