//! Sending: writing headers, then patching the Length and applying packet
//! and header protection once the payload is in place (RFC 9000 §17;
//! RFC 9001 §5.3, §5.4).

use std::fmt;

use bytes::BufMut;

use crate::coding::{BufMutExt, VarInt};
use crate::crypto::{HeaderKey, PacketKey};
use crate::version::Version;

use super::{
    FIXED_BIT, KEY_PHASE_BIT, LONG_FORM_BIT, LONG_RESERVED_BITS, LongHeader, LongKind, LongType,
    PacketNumber, RetryHeader, SHORT_RESERVED_BITS, SPIN_BIT, ShortHeader,
};

/// The Length field is always written as a 2-byte varint so it can be
/// patched in place; this is the largest value that form holds.
pub const MAX_LENGTH: usize = (1 << 14) - 1;

/// Why a packet could not be written. These are local errors: the caller
/// asked for something the format cannot express.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketEncodeError {
    /// Long header type bits are defined for QUIC v1 and v2 only.
    UnsupportedVersion(Version),
    /// The packet number, payload and tag exceed [`MAX_LENGTH`] bytes, or a
    /// token does not fit a varint.
    LengthTooLarge,
    /// The packet is too short to take the header protection sample
    /// (RFC 9001 §5.4.2); pad the payload to
    /// [`PartialEncode::min_payload_len`].
    TooShortForSample,
    /// The packet buffer is shorter than the header plus the AEAD tag.
    BufferTooShort,
    /// The full packet number given to [`PartialEncode::finish`] does not
    /// truncate to the one in the header.
    PacketNumberMismatch,
    /// A connection ID for Version Negotiation exceeds 255 bytes.
    ConnectionIdTooLong,
}

impl fmt::Display for PacketEncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedVersion(version) => write!(f, "cannot encode version {version:?}"),
            Self::LengthTooLarge => f.write_str("packet too long for a 2-byte Length"),
            Self::TooShortForSample => {
                f.write_str("packet too short for the header protection sample")
            }
            Self::BufferTooShort => f.write_str("buffer shorter than header and tag"),
            Self::PacketNumberMismatch => f.write_str("packet number does not match header"),
            Self::ConnectionIdTooLong => f.write_str("connection ID longer than 255 bytes"),
        }
    }
}

impl std::error::Error for PacketEncodeError {}

/// A header written into a packet being built: where its Length field and
/// packet number are, so that [`finish`](Self::finish) can complete the
/// packet once the payload follows.
///
/// Offsets are relative to the packet's first byte: pass `finish` the slice
/// that starts at the header and ends after the room left for the AEAD tag.
///
/// ```text
/// let start = buf.len();
/// let partial = header.encode(&mut buf)?;
/// buf.extend_from_slice(&frames);                      // plaintext
/// buf.resize(buf.len() + packet_key.tag_len(), 0);     // room for the tag
/// partial.finish(&mut buf[start..], pn, packet_key, header_key)?;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialEncode {
    pn_offset: usize,
    number: PacketNumber,
    /// Where the 2-byte Length of a long header sits.
    length_offset: Option<usize>,
}

impl PartialEncode {
    /// The offset of the packet number.
    pub fn pn_offset(&self) -> usize {
        self.pn_offset
    }

    /// The header's length: everything up to and including the packet
    /// number.
    pub fn header_len(&self) -> usize {
        self.pn_offset + self.number.encoded_len()
    }

    /// The truncated packet number written.
    pub fn number(&self) -> PacketNumber {
        self.number
    }

    /// The fewest plaintext bytes the payload needs so that the packet number
    /// and ciphertext hold 4 + `sample_size` bytes for the header protection
    /// sample (RFC 9001 §5.4.2). With a 16-byte tag and a 16-byte sample,
    /// that is 4 minus the packet number length.
    pub fn min_payload_len(&self, tag_len: usize, sample_size: usize) -> usize {
        (PacketNumber::MAX_LEN + sample_size).saturating_sub(self.number.encoded_len() + tag_len)
    }

    /// Writes the Length of a long header: the packet number, payload and
    /// tag, which is everything in `packet` after the Length field
    /// (RFC 9000 §17.2). Does nothing for short headers.
    pub fn set_length(&self, packet: &mut [u8]) -> Result<(), PacketEncodeError> {
        let Some(offset) = self.length_offset else {
            return Ok(());
        };
        let length = packet
            .len()
            .checked_sub(self.pn_offset)
            .ok_or(PacketEncodeError::BufferTooShort)?;
        if length > MAX_LENGTH {
            return Err(PacketEncodeError::LengthTooLarge);
        }
        let field = packet
            .get_mut(offset..offset + 2)
            .ok_or(PacketEncodeError::BufferTooShort)?;
        field.copy_from_slice(&(0x4000 | length as u16).to_be_bytes());
        Ok(())
    }

    /// Applies header protection to a packet whose payload is sealed
    /// (RFC 9001 §5.4.1).
    pub fn protect_header(
        &self,
        packet: &mut [u8],
        header_key: &dyn HeaderKey,
    ) -> Result<(), PacketEncodeError> {
        self.check_sample_room(packet.len(), header_key)?;
        header_key.encrypt(self.pn_offset, packet);
        Ok(())
    }

    /// Completes the packet in `packet` (header, plaintext, then
    /// `packet_key.tag_len()` bytes of room): patches the Length, seals the
    /// payload with the header as associated data (RFC 9001 §5.3), then
    /// applies header protection (RFC 9001 §5.4). Checks everything before
    /// changing anything.
    pub fn finish(
        self,
        packet: &mut [u8],
        packet_number: u64,
        packet_key: &dyn PacketKey,
        header_key: &dyn HeaderKey,
    ) -> Result<(), PacketEncodeError> {
        if PacketNumber::truncate(packet_number, self.number.encoded_len()) != self.number {
            return Err(PacketEncodeError::PacketNumberMismatch);
        }
        let header_len = self.header_len();
        if packet.len() < header_len.saturating_add(packet_key.tag_len()) {
            return Err(PacketEncodeError::BufferTooShort);
        }
        self.check_sample_room(packet.len(), header_key)?;
        self.set_length(packet)?;
        packet_key.encrypt(packet_number, packet, header_len);
        header_key.encrypt(self.pn_offset, packet);
        Ok(())
    }

    fn check_sample_room(
        &self,
        packet_len: usize,
        header_key: &dyn HeaderKey,
    ) -> Result<(), PacketEncodeError> {
        let needed = self
            .pn_offset
            .saturating_add(PacketNumber::MAX_LEN)
            .saturating_add(header_key.sample_size());
        if packet_len < needed {
            return Err(PacketEncodeError::TooShortForSample);
        }
        Ok(())
    }
}

impl LongHeader {
    /// Writes the header with a placeholder 2-byte Length, to be completed by
    /// [`PartialEncode::finish`].
    pub fn encode<B: BufMut>(&self, out: &mut B) -> Result<PartialEncode, PacketEncodeError> {
        let type_bits = self
            .kind
            .ty()
            .to_bits(self.version)
            .ok_or(PacketEncodeError::UnsupportedVersion(self.version))?;
        let token = match &self.kind {
            LongKind::Initial { token } => {
                let len =
                    VarInt::try_from(token.len()).map_err(|_| PacketEncodeError::LengthTooLarge)?;
                Some((len, token))
            }
            LongKind::ZeroRtt | LongKind::Handshake => None,
        };
        out.put_u8(
            LONG_FORM_BIT
                | fixed_bit(self.fixed_bit)
                | (type_bits << 4)
                | (self.reserved_bits & LONG_RESERVED_BITS)
                | self.number.len_bits(),
        );
        out.put_u32(self.version.0);
        self.dst_cid.encode_with_len(out);
        self.src_cid.encode_with_len(out);
        let mut length_offset = 1 + 4 + 1 + self.dst_cid.len() + 1 + self.src_cid.len();
        if let Some((len, token)) = token {
            out.put_var(len);
            out.put_slice(token);
            length_offset += len.size() + token.len();
        }
        // A 2-byte varint whose value `set_length` patches.
        out.put_u16(0x4000);
        self.number.encode(out);
        Ok(PartialEncode {
            pn_offset: length_offset + 2,
            number: self.number,
            length_offset: Some(length_offset),
        })
    }

    /// The number of bytes [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        let token = match &self.kind {
            LongKind::Initial { token } => {
                VarInt::try_from(token.len()).map_or(8, VarInt::size) + token.len()
            }
            LongKind::ZeroRtt | LongKind::Handshake => 0,
        };
        1 + 4
            + 1
            + self.dst_cid.len()
            + 1
            + self.src_cid.len()
            + token
            + 2
            + self.number.encoded_len()
    }
}

impl ShortHeader {
    /// Writes the header, to be completed by [`PartialEncode::finish`].
    pub fn encode<B: BufMut>(&self, out: &mut B) -> PartialEncode {
        let mut first = fixed_bit(self.fixed_bit)
            | (self.reserved_bits & SHORT_RESERVED_BITS)
            | self.number.len_bits();
        if self.spin {
            first |= SPIN_BIT;
        }
        if self.key_phase {
            first |= KEY_PHASE_BIT;
        }
        out.put_u8(first);
        self.dst_cid.encode(out);
        self.number.encode(out);
        PartialEncode {
            pn_offset: 1 + self.dst_cid.len(),
            number: self.number,
            length_offset: None,
        }
    }

    /// The number of bytes [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        1 + self.dst_cid.len() + self.number.encoded_len()
    }
}

impl RetryHeader {
    /// Writes the Retry packet up to, not including, the Retry Integrity Tag,
    /// which the crypto module computes over these bytes prefixed with the
    /// original Destination Connection ID (RFC 9001 §5.8) and the caller
    /// appends.
    pub fn encode<B: BufMut>(&self, out: &mut B) -> Result<(), PacketEncodeError> {
        let type_bits = LongType::Retry
            .to_bits(self.version)
            .ok_or(PacketEncodeError::UnsupportedVersion(self.version))?;
        out.put_u8(
            LONG_FORM_BIT | fixed_bit(self.fixed_bit) | (type_bits << 4) | (self.unused & 0x0f),
        );
        out.put_u32(self.version.0);
        self.dst_cid.encode_with_len(out);
        self.src_cid.encode_with_len(out);
        out.put_slice(&self.token);
        Ok(())
    }

    /// The number of bytes [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        1 + 4 + 1 + self.dst_cid.len() + 1 + self.src_cid.len() + self.token.len()
    }
}

/// Writes a Version Negotiation packet (RFC 9000 §17.2.1) answering a packet
/// whose Destination and Source Connection IDs were `received_dst_cid` and
/// `received_src_cid` (of any length up to 255, RFC 8999 §6): they are echoed
/// swapped. `random` fills the Unused bits; the 0x40 bit is always set so the
/// packet looks like QUIC to multiplexing demultiplexers (RFC 9000 §17.2.1).
pub fn encode_version_negotiation<B: BufMut>(
    out: &mut B,
    received_dst_cid: &[u8],
    received_src_cid: &[u8],
    versions: &[Version],
    random: u8,
) -> Result<(), PacketEncodeError> {
    let dst_len =
        u8::try_from(received_src_cid.len()).map_err(|_| PacketEncodeError::ConnectionIdTooLong)?;
    let src_len =
        u8::try_from(received_dst_cid.len()).map_err(|_| PacketEncodeError::ConnectionIdTooLong)?;
    out.put_u8(LONG_FORM_BIT | FIXED_BIT | random);
    out.put_u32(Version::NEGOTIATION.0);
    out.put_u8(dst_len);
    out.put_slice(received_src_cid);
    out.put_u8(src_len);
    out.put_slice(received_dst_cid);
    for version in versions {
        out.put_u32(version.0);
    }
    Ok(())
}

fn fixed_bit(set: bool) -> u8 {
    if set { FIXED_BIT } else { 0 }
}
