//! The CRYPTO stream of one encryption level (RFC 9000 §7.5, §19.6): the
//! TLS handshake bytes sent and received at that level.
//!
//! Handshake data is a few kilobytes per level and lives only until the
//! level's keys are discarded, so the send side keeps everything it wrote in
//! one buffer and tracks lost and acknowledged ranges over it.

use bytes::{Bytes, BytesMut};

use super::streams::assembler::Assembler;
use crate::error::TransportError;
use crate::frame::Crypto;
use crate::range_set::RangeSet;

/// Handshake bytes of one level, both directions.
#[derive(Debug, Default)]
pub struct CryptoStream {
    /// Every byte written at this level, from offset 0.
    sent: BytesMut,
    /// Bytes below this offset have been sent at least once.
    sent_offset: u64,
    /// Ranges sent and declared lost, to send again.
    retransmit: RangeSet,
    /// Ranges acknowledged.
    acked: RangeSet,
    /// Received handshake bytes, reordered.
    received: Assembler,
}

impl CryptoStream {
    /// Queues handshake bytes produced by TLS.
    pub fn write(&mut self, data: &[u8]) {
        self.sent.extend_from_slice(data);
    }

    /// Whether anything is waiting to be sent.
    pub fn has_pending(&self) -> bool {
        !self.retransmit.is_empty() || self.sent_offset < self.sent.len() as u64
    }

    /// Whether everything written has been acknowledged.
    pub fn is_all_acked(&self) -> bool {
        self.sent.is_empty() || self.acked.contains_range(0..self.sent.len() as u64)
    }

    /// Takes the next CRYPTO frame that fits in `budget` bytes: lost data
    /// first, then new data.
    pub fn next_frame(&mut self, budget: usize) -> Option<Crypto> {
        let (start, end) = if let Some(lost) = self.retransmit.iter().next() {
            (lost.start, lost.end)
        } else if self.sent_offset < self.sent.len() as u64 {
            (self.sent_offset, self.sent.len() as u64)
        } else {
            return None;
        };
        let fits = Crypto::max_data_that_fits(start, budget)?;
        let end = end.min(start + fits as u64);
        if end <= start {
            return None;
        }
        self.retransmit.remove(start..end);
        self.sent_offset = self.sent_offset.max(end);
        let data = Bytes::copy_from_slice(&self.sent[start as usize..end as usize]);
        Some(Crypto {
            offset: start,
            data,
        })
    }

    /// A packet carrying `offset..offset + len` was acknowledged.
    pub fn on_acked(&mut self, offset: u64, len: u64) {
        self.acked.insert(offset..offset + len);
        self.retransmit.remove(offset..offset + len);
    }

    /// A packet carrying `offset..offset + len` was lost: queue what of it is
    /// not acknowledged (RFC 9000 §13.3).
    pub fn on_lost(&mut self, offset: u64, len: u64) {
        let mut start = offset;
        let end = offset + len;
        for acked in self.acked.iter() {
            if acked.end <= start {
                continue;
            }
            if acked.start >= end {
                break;
            }
            if acked.start > start {
                self.retransmit.insert(start..acked.start);
            }
            start = start.max(acked.end);
        }
        if start < end {
            self.retransmit.insert(start..end);
        }
    }

    /// Takes a received CRYPTO frame. Data more than `buffer_limit` bytes
    /// beyond what TLS has consumed is CRYPTO_BUFFER_EXCEEDED (RFC 9000
    /// §7.5); nothing is allocated for it.
    pub fn on_frame(&mut self, frame: Crypto, buffer_limit: u64) -> Result<(), TransportError> {
        let end = frame.offset + frame.data.len() as u64;
        if end > self.received.read_offset() + buffer_limit {
            return Err(TransportError::CRYPTO_BUFFER_EXCEEDED(
                "CRYPTO data beyond the buffer",
            ));
        }
        self.received.insert(frame.offset, frame.data);
        Ok(())
    }

    /// Takes received handshake bytes in order.
    pub fn read(&mut self) -> Option<Bytes> {
        self.received.read(usize::MAX)
    }

    /// Whether received bytes wait beyond what TLS has consumed, as when
    /// keys are discarded with a handshake message unfinished.
    pub fn has_unread(&self) -> bool {
        self.received.buffered() > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_data_is_resent_before_new_data_and_acked_parts_are_not() {
        let mut stream = CryptoStream::default();
        stream.write(&[7; 1000]);
        let first = stream.next_frame(300).unwrap();
        assert_eq!(first.offset, 0);
        let len = first.data.len() as u64;
        let second = stream.next_frame(300).unwrap();
        assert_eq!(second.offset, len);
        // Half of the first frame was acknowledged by another packet.
        stream.on_acked(0, len / 2);
        stream.on_lost(0, len);
        let again = stream.next_frame(2000).unwrap();
        assert_eq!(again.offset, len / 2);
        assert_eq!(again.data.len() as u64, len - len / 2);
        let rest = stream.next_frame(2000).unwrap();
        assert_eq!(rest.offset, second.offset + second.data.len() as u64);
        assert!(!stream.has_pending());
        stream.on_acked(0, 1000);
        assert!(stream.is_all_acked());
    }

    /// RFC 9000 §7.5: CRYPTO data far beyond the read offset is
    /// CRYPTO_BUFFER_EXCEEDED, without buffering it.
    #[test]
    fn crypto_buffer_exceeded() {
        let mut stream = CryptoStream::default();
        let far = Crypto {
            offset: 1 << 40,
            data: Bytes::from_static(b"x"),
        };
        let err = stream.on_frame(far, 65536).unwrap_err();
        assert_eq!(
            err.code,
            crate::error::TransportErrorCode::CRYPTO_BUFFER_EXCEEDED
        );
        assert!(!stream.has_unread());
        let near = Crypto {
            offset: 0,
            data: Bytes::from_static(b"hello"),
        };
        stream.on_frame(near, 65536).unwrap();
        assert_eq!(&stream.read().unwrap()[..], b"hello");
    }
}
