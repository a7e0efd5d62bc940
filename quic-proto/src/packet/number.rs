//! Packet number truncation and reconstruction (RFC 9000 §17.1, App. A.2,
//! App. A.3).

use bytes::{Buf, BufMut};

use crate::coding::UnexpectedEnd;

/// The largest packet number QUIC allows, 2^62 - 1 (RFC 9000 §12.3).
const MAX_PACKET_NUMBER: u64 = (1 << 62) - 1;

/// A packet number as it appears in a header: its 1 to 4 least significant
/// bytes (RFC 9000 §17.1).
///
/// Senders build one from the full number with [`PacketNumber::new`];
/// receivers read one from the header and recover the full number with
/// [`PacketNumber::expand`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PacketNumber {
    /// The truncated value; always below `1 << (8 * len)`.
    truncated: u32,
    /// The encoded length in bytes, 1..=4.
    len: u8,
}

impl PacketNumber {
    /// The longest encoding, in bytes.
    pub const MAX_LEN: usize = 4;

    /// Truncates `full` for sending, given the largest packet number the peer
    /// has acknowledged in this packet number space (RFC 9000 App. A.2).
    ///
    /// With no acknowledgment yet, the whole range from 0 counts as
    /// unacknowledged, so small packet numbers are sent in full (RFC 9000
    /// §17.1: "prior to receiving an acknowledgment ... the full packet
    /// number MUST be included"), up to the 4-byte maximum.
    pub fn new(full: u64, largest_acked: Option<u64>) -> Self {
        Self::truncate(full, Self::len_for(full, largest_acked))
    }

    /// The encoded length RFC 9000 §17.1 requires for sending `full`: the
    /// fewest bytes whose range is more than twice the number of
    /// unacknowledged packet numbers, including `full` itself; at least 1 and
    /// at most 4. A distance too large for 4 bytes still gets 4: the peer can
    /// then misread the number, which fails packet authentication.
    pub fn len_for(full: u64, largest_acked: Option<u64>) -> usize {
        let unacked = match largest_acked {
            None => full.saturating_add(1),
            Some(largest) => full.saturating_sub(largest),
        };
        // "More than twice the range": 2 * unacked + 1 values must fit.
        let range = unacked.saturating_mul(2).saturating_add(1);
        (1..Self::MAX_LEN)
            .find(|&len| range <= 1u64 << (8 * len))
            .unwrap_or(Self::MAX_LEN)
    }

    /// Keeps the `len` least significant bytes of `full`; `len` is clamped to
    /// 1..=4.
    pub fn truncate(full: u64, len: usize) -> Self {
        let len = len.clamp(1, Self::MAX_LEN);
        let mask = (1u64 << (8 * len)) - 1;
        Self {
            truncated: (full & mask) as u32,
            len: len as u8,
        }
    }

    /// A packet number with the given wire value and length, or `None` if
    /// `len` is not 1..=4 or `truncated` does not fit in `len` bytes.
    pub fn from_truncated(truncated: u32, len: usize) -> Option<Self> {
        if !(1..=Self::MAX_LEN).contains(&len) || u64::from(truncated) >> (8 * len) != 0 {
            return None;
        }
        Some(Self {
            truncated,
            len: len as u8,
        })
    }

    /// The value carried on the wire.
    pub fn truncated(self) -> u32 {
        self.truncated
    }

    /// The number of bytes the packet number takes on the wire, 1..=4.
    pub fn encoded_len(self) -> usize {
        usize::from(self.len)
    }

    /// The Packet Number Length bits of the first byte: the length minus one
    /// (RFC 9000 §17.2).
    pub(crate) fn len_bits(self) -> u8 {
        self.len - 1
    }

    /// Appends the truncated value, big-endian, in `encoded_len()` bytes.
    pub fn encode<B: BufMut + ?Sized>(self, out: &mut B) {
        let bytes = self.truncated.to_be_bytes();
        out.put_slice(&bytes[Self::MAX_LEN - self.encoded_len()..]);
    }

    /// Reads a packet number of `len` bytes (1..=4).
    pub fn decode<B: Buf + ?Sized>(len: usize, input: &mut B) -> Result<Self, UnexpectedEnd> {
        if !(1..=Self::MAX_LEN).contains(&len) || input.remaining() < len {
            return Err(UnexpectedEnd);
        }
        let mut bytes = [0u8; Self::MAX_LEN];
        input.copy_to_slice(&mut bytes[Self::MAX_LEN - len..]);
        Ok(Self {
            truncated: u32::from_be_bytes(bytes),
            len: len as u8,
        })
    }

    /// Recovers the full packet number: the one closest to the next expected
    /// packet number (RFC 9000 §17.1, App. A.3). `largest_received` is the
    /// largest packet number successfully processed in this packet number
    /// space, `None` before the first.
    ///
    /// Follows the appendix's pseudo-code, with its guards against leaving
    /// 0..2^62 at either end and arithmetic that cannot overflow.
    pub fn expand(self, largest_received: Option<u64>) -> u64 {
        let expected = largest_received.map_or(0, |largest| {
            largest.min(MAX_PACKET_NUMBER).saturating_add(1)
        });
        let window = 1u64 << (8 * self.encoded_len());
        let half_window = window / 2;
        let mask = window - 1;
        let candidate = (expected & !mask) | u64::from(self.truncated);
        // `candidate <= expected - half_window`, without underflow.
        let full = if candidate.saturating_add(half_window) <= expected
            && candidate < (MAX_PACKET_NUMBER + 1) - window
        {
            candidate + window
        } else if candidate > expected + half_window && candidate >= window {
            candidate - window
        } else {
            candidate
        };
        // Only when 2^62 - 1 was already received can the closest candidate
        // be 2^62 or more; no valid number follows, so stay in range.
        if full > MAX_PACKET_NUMBER {
            full - window
        } else {
            full
        }
    }
}

#[cfg(test)]
mod tests;
