//! QUIC packet headers: long and short headers, Version Negotiation and
//! Retry packets, packet numbers and coalesced packets (RFC 9000 §12.2, §17;
//! RFC 9369 §3.2; RFC 8999; RFC 9287).
//!
//! # Receiving
//!
//! Header protection hides the packet number and some first-byte bits, and
//! removing it needs the key of the packet's encryption level, which the
//! header itself names. Decoding therefore takes two steps:
//!
//! 1. [`PartialDecode::new`] reads what is readable before header protection
//!    removal (form, version, connection IDs, type, token, Length) and splits
//!    off the rest of a datagram holding coalesced packets.
//! 2. [`PartialDecode::finish`] removes header protection with the
//!    [`HeaderKey`](crate::crypto::HeaderKey) of that level and returns a
//!    [`Packet`]: the typed [`Header`] with the truncated [`PacketNumber`],
//!    the unprotected header bytes (the AEAD's associated data) and the
//!    protected payload, ready for
//!    [`PacketKey::decrypt`](crate::crypto::PacketKey::decrypt).
//!
//! ```text
//! datagram ──PartialDecode::new──▶ PartialDecode ──finish(hp key)──▶ Packet
//!                    └──▶ rest of the datagram (next coalesced packet)
//! ```
//!
//! # Sending
//!
//! [`LongHeader::encode`] and [`ShortHeader::encode`] write a header with a
//! placeholder Length and return a [`PartialEncode`]; once the payload and
//! room for the AEAD tag follow, [`PartialEncode::finish`] patches the
//! Length, seals the payload and applies header protection.
//! [`RetryHeader::encode`] and [`encode_version_negotiation`] write the two
//! unprotected packet types.
//!
//! # What this module does not decide
//!
//! Everything that needs connection state stays with the caller: dropping
//! coalesced packets whose Destination Connection ID differs from the first
//! one (RFC 9000 §12.2), the 1200-byte minimum for Initial datagrams (§14.1),
//! rejecting non-empty tokens in server Initials (§17.2.2), empty Retry
//! tokens (§17.2.5.2), Stateless Reset detection (§10.3.1), and acting on
//! non-zero reserved bits after the AEAD has opened (§17.2).

use std::fmt;

use bytes::{Bytes, BytesMut};

use crate::coding::UnexpectedEnd;
use crate::version::Version;

mod decode;
mod encode;
mod header;
mod number;
mod parse;

pub use decode::{PartialDecode, ProtectedHeader};
pub use encode::{MAX_LENGTH, PacketEncodeError, PartialEncode, encode_version_negotiation};
pub use header::{
    Header, LongHeader, LongKind, LongType, RetryHeader, ShortHeader, VersionList,
    VersionNegotiationHeader,
};
pub use number::PacketNumber;
pub use parse::LongHeaderInvariants;

/// Header Form bit: set for long headers (RFC 9000 §17.2).
const LONG_FORM_BIT: u8 = 0x80;
/// The Fixed Bit, or QUIC Bit (RFC 9000 §17.2, §17.3.1; RFC 9287).
const FIXED_BIT: u8 = 0x40;
/// The Reserved Bits of a long header (RFC 9000 §17.2).
const LONG_RESERVED_BITS: u8 = 0x0c;
/// The Reserved Bits of a short header (RFC 9000 §17.3.1).
const SHORT_RESERVED_BITS: u8 = 0x18;
/// The latency spin bit of a short header (RFC 9000 §17.3.1).
const SPIN_BIT: u8 = 0x20;
/// The Key Phase bit of a short header (RFC 9000 §17.3.1).
const KEY_PHASE_BIT: u8 = 0x04;
/// The Packet Number Length bits (RFC 9000 §17.2, §17.3.1).
const PN_LEN_BITS: u8 = 0x03;

/// The length of the Retry Integrity Tag (RFC 9001 §5.8).
pub const RETRY_INTEGRITY_TAG_LEN: usize = 16;

/// A packet whose header protection has been removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The decoded header, with the truncated packet number.
    pub header: Header,
    /// The unprotected header bytes, from the first byte through the packet
    /// number: the associated data for packet protection (RFC 9001 §5.3).
    ///
    /// For Retry, every byte before the Retry Integrity Tag (the Retry
    /// Pseudo-Packet without its Original Destination Connection ID,
    /// RFC 9001 §5.8); for Version Negotiation, the bytes before the version
    /// list.
    pub header_data: Bytes,
    /// The protected payload: ciphertext followed by the AEAD tag. For Retry,
    /// the 16-byte Retry Integrity Tag; empty for Version Negotiation.
    pub payload: BytesMut,
}

impl Packet {
    /// The Retry Integrity Tag of a Retry packet.
    pub fn retry_integrity_tag(&self) -> Option<[u8; RETRY_INTEGRITY_TAG_LEN]> {
        match self.header {
            Header::Retry(_) => <[u8; RETRY_INTEGRITY_TAG_LEN]>::try_from(&self.payload[..]).ok(),
            _ => None,
        }
    }
}

/// Why a received packet cannot be decoded. Every case means "drop the
/// packet" (RFC 9000 §5.2), except [`UnsupportedVersion`], which a server may
/// answer with Version Negotiation (RFC 9000 §6.1).
///
/// [`UnsupportedVersion`]: PacketDecodeError::UnsupportedVersion
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacketDecodeError {
    /// A long header names a version we do not speak. The invariant fields
    /// (RFC 8999 §5.1) are kept so that a server can send Version
    /// Negotiation, with the connection IDs swapped (RFC 9000 §17.2.1);
    /// they can be up to 255 bytes long.
    UnsupportedVersion {
        /// The version the packet names.
        version: Version,
        /// The Destination Connection ID, as received.
        dst_cid: Bytes,
        /// The Source Connection ID, as received.
        src_cid: Bytes,
    },
    /// The packet ends before a field it announces, such as a Length beyond
    /// the end of the datagram.
    Truncated,
    /// A field holds a value the packet format does not allow.
    InvalidHeader(&'static str),
    /// The packet is header-protected but no header key was given.
    MissingHeaderKey,
}

impl PacketDecodeError {
    /// A Fixed Bit of 0 without `grease_quic_bit` (RFC 9000 §17.2, §17.3.1).
    pub const FIXED_BIT_ZERO: Self = Self::InvalidHeader("fixed bit is zero");
    /// A v1 or v2 connection ID longer than 20 bytes (RFC 9000 §17.2).
    pub const CID_TOO_LONG: Self = Self::InvalidHeader("connection ID longer than 20 bytes");
    /// Too few bytes after the packet number offset to take the header
    /// protection sample (RFC 9001 §5.4.2).
    pub const TOO_SHORT_FOR_SAMPLE: Self =
        Self::InvalidHeader("packet too short for the header protection sample");
}

impl fmt::Display for PacketDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedVersion { version, .. } => {
                write!(f, "unsupported version {version:?}")
            }
            Self::Truncated => f.write_str("packet truncated"),
            Self::InvalidHeader(reason) => write!(f, "invalid header: {reason}"),
            Self::MissingHeaderKey => f.write_str("no header protection key"),
        }
    }
}

impl std::error::Error for PacketDecodeError {}

impl From<UnexpectedEnd> for PacketDecodeError {
    fn from(_: UnexpectedEnd) -> Self {
        Self::Truncated
    }
}

#[cfg(test)]
mod tests;
