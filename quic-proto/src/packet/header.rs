//! Typed packet headers, as read after header protection is removed or as
//! written before it is applied (RFC 9000 §17.2, §17.3; RFC 9369 §3.2).

use bytes::Bytes;

use crate::cid::ConnectionId;
use crate::shared::SpaceId;
use crate::version::Version;

use super::PacketNumber;

/// The Long Packet Type field (RFC 9000 §17.2, Table 5).
///
/// The two type bits differ between versions: QUIC v1 numbers the types
/// Initial 0b00, 0-RTT 0b01, Handshake 0b10, Retry 0b11; QUIC v2 uses
/// Initial 0b01, 0-RTT 0b10, Handshake 0b11, Retry 0b00 (RFC 9369 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LongType {
    /// Initial (RFC 9000 §17.2.2).
    Initial,
    /// 0-RTT (RFC 9000 §17.2.3).
    ZeroRtt,
    /// Handshake (RFC 9000 §17.2.4).
    Handshake,
    /// Retry (RFC 9000 §17.2.5).
    Retry,
}

impl LongType {
    /// The type for the two type bits (`(first_byte >> 4) & 0b11`) of a long
    /// header of `version`, or `None` for a version we do not speak.
    pub fn from_bits(bits: u8, version: Version) -> Option<Self> {
        let v1_bits = match version {
            Version::V1 => bits & 0b11,
            // RFC 9369 §3.2: every type is the v1 type plus one, modulo 4.
            Version::V2 => (bits & 0b11).wrapping_sub(1) & 0b11,
            _ => return None,
        };
        Some(match v1_bits {
            0b00 => Self::Initial,
            0b01 => Self::ZeroRtt,
            0b10 => Self::Handshake,
            _ => Self::Retry,
        })
    }

    /// The two type bits for this type in `version`, or `None` for a version
    /// we do not speak.
    pub fn to_bits(self, version: Version) -> Option<u8> {
        let v1_bits = match self {
            Self::Initial => 0b00,
            Self::ZeroRtt => 0b01,
            Self::Handshake => 0b10,
            Self::Retry => 0b11,
        };
        match version {
            Version::V1 => Some(v1_bits),
            Version::V2 => Some((v1_bits + 1) & 0b11),
            _ => None,
        }
    }

    /// The packet number space of packets of this type; `None` for Retry,
    /// which has no packet number.
    pub fn space(self) -> Option<SpaceId> {
        match self {
            Self::Initial => Some(SpaceId::Initial),
            Self::ZeroRtt => Some(SpaceId::Data),
            Self::Handshake => Some(SpaceId::Handshake),
            Self::Retry => None,
        }
    }
}

/// A decoded packet header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Header {
    /// An Initial, 0-RTT or Handshake packet.
    Long(LongHeader),
    /// A 1-RTT packet.
    Short(ShortHeader),
    /// A Retry packet.
    Retry(RetryHeader),
    /// A Version Negotiation packet.
    VersionNegotiation(VersionNegotiationHeader),
}

impl Header {
    /// The Destination Connection ID.
    pub fn dst_cid(&self) -> &ConnectionId {
        match self {
            Self::Long(header) => &header.dst_cid,
            Self::Short(header) => &header.dst_cid,
            Self::Retry(header) => &header.dst_cid,
            Self::VersionNegotiation(header) => &header.dst_cid,
        }
    }

    /// The Source Connection ID; short headers have none.
    pub fn src_cid(&self) -> Option<&ConnectionId> {
        match self {
            Self::Long(header) => Some(&header.src_cid),
            Self::Short(_) => None,
            Self::Retry(header) => Some(&header.src_cid),
            Self::VersionNegotiation(header) => Some(&header.src_cid),
        }
    }

    /// The version of a long header (0 for Version Negotiation); short
    /// headers carry none.
    pub fn version(&self) -> Option<Version> {
        match self {
            Self::Long(header) => Some(header.version),
            Self::Short(_) => None,
            Self::Retry(header) => Some(header.version),
            Self::VersionNegotiation(_) => Some(Version::NEGOTIATION),
        }
    }

    /// The packet number space; `None` for Retry and Version Negotiation.
    pub fn space(&self) -> Option<SpaceId> {
        match self {
            Self::Long(header) => Some(header.kind.space()),
            Self::Short(_) => Some(SpaceId::Data),
            Self::Retry(_) | Self::VersionNegotiation(_) => None,
        }
    }

    /// The truncated packet number, for packets that carry one.
    pub fn number(&self) -> Option<PacketNumber> {
        match self {
            Self::Long(header) => Some(header.number),
            Self::Short(header) => Some(header.number),
            Self::Retry(_) | Self::VersionNegotiation(_) => None,
        }
    }

    /// Whether the reserved bits are zero (RFC 9000 §17.2, §17.3.1); always
    /// true for Retry and Version Negotiation, which have none.
    ///
    /// Only meaningful once header protection is removed, and only to be
    /// acted on once packet protection is removed too: a non-zero value in a
    /// packet that authenticated is a connection error of type
    /// PROTOCOL_VIOLATION, while dropping it before the AEAD has opened
    /// would expose the endpoint to attacks (RFC 9001 §9.5).
    pub fn reserved_bits_valid(&self) -> bool {
        match self {
            Self::Long(header) => header.reserved_bits == 0,
            Self::Short(header) => header.reserved_bits == 0,
            Self::Retry(_) | Self::VersionNegotiation(_) => true,
        }
    }

    /// The key phase bit of a 1-RTT packet (RFC 9001 §6); `None` for long
    /// headers.
    pub fn key_phase(&self) -> Option<bool> {
        match self {
            Self::Short(header) => Some(header.key_phase),
            _ => None,
        }
    }
}

/// What distinguishes the three long header packet types that carry a packet
/// number and a protected payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LongKind {
    /// An Initial packet (RFC 9000 §17.2.2), with its token; empty when the
    /// Token Length is 0, as it must be in every server Initial.
    Initial {
        /// The address validation token from a Retry or NEW_TOKEN frame.
        token: Bytes,
    },
    /// A 0-RTT packet (RFC 9000 §17.2.3).
    ZeroRtt,
    /// A Handshake packet (RFC 9000 §17.2.4).
    Handshake,
}

impl LongKind {
    /// The Long Packet Type.
    pub fn ty(&self) -> LongType {
        match self {
            Self::Initial { .. } => LongType::Initial,
            Self::ZeroRtt => LongType::ZeroRtt,
            Self::Handshake => LongType::Handshake,
        }
    }

    /// The packet number space (RFC 9000 §12.3).
    pub fn space(&self) -> SpaceId {
        match self {
            Self::Initial { .. } => SpaceId::Initial,
            Self::ZeroRtt => SpaceId::Data,
            Self::Handshake => SpaceId::Handshake,
        }
    }
}

/// An Initial, 0-RTT or Handshake packet header (RFC 9000 §17.2.2-§17.2.4).
///
/// ```text
/// Long Header Packet {
///   Header Form (1) = 1,
///   Fixed Bit (1) = 1,
///   Long Packet Type (2),
///   Reserved Bits (2),
///   Packet Number Length (2),
///   Version (32),
///   Destination Connection ID Length (8),
///   Destination Connection ID (0..160),
///   Source Connection ID Length (8),
///   Source Connection ID (0..160),
///   [Token Length (i), Token (..),]   (Initial only)
///   Length (i),
///   Packet Number (8..32),
///   Packet Payload (8..),
/// }
/// ```
///
/// The Length field is not kept here: the decoder uses it to delimit the
/// packet, and the encoder writes it when the payload is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongHeader {
    /// The packet type, with the Initial token.
    pub kind: LongKind,
    /// The QUIC version (v1 or v2: it decides the type bits).
    pub version: Version,
    /// The Destination Connection ID.
    pub dst_cid: ConnectionId,
    /// The Source Connection ID.
    pub src_cid: ConnectionId,
    /// The truncated packet number.
    pub number: PacketNumber,
    /// The Reserved Bits as they sit in the first byte (mask 0x0c). Senders
    /// set 0; see [`Header::reserved_bits_valid`] for receivers.
    pub reserved_bits: u8,
    /// The Fixed Bit (0x40), also called the QUIC Bit. Always set, except
    /// when greasing it after the peer advertised `grease_quic_bit`
    /// (RFC 9287 §3.1).
    pub fixed_bit: bool,
}

impl LongHeader {
    /// A header with the fixed bit set and the reserved bits clear, as
    /// senders write by default.
    pub fn new(
        kind: LongKind,
        version: Version,
        dst_cid: ConnectionId,
        src_cid: ConnectionId,
        number: PacketNumber,
    ) -> Self {
        Self {
            kind,
            version,
            dst_cid,
            src_cid,
            number,
            reserved_bits: 0,
            fixed_bit: true,
        }
    }
}

/// A 1-RTT packet header (RFC 9000 §17.3.1).
///
/// ```text
/// 1-RTT Packet {
///   Header Form (1) = 0,
///   Fixed Bit (1) = 1,
///   Spin Bit (1),
///   Reserved Bits (2),
///   Key Phase (1),
///   Packet Number Length (2),
///   Destination Connection ID (0..160),
///   Packet Number (8..32),
///   Packet Payload (8..),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShortHeader {
    /// The latency spin bit (RFC 9000 §17.4).
    pub spin: bool,
    /// The key phase bit (RFC 9001 §6).
    pub key_phase: bool,
    /// The Destination Connection ID; its length is known only to the
    /// receiver, which chose it.
    pub dst_cid: ConnectionId,
    /// The truncated packet number.
    pub number: PacketNumber,
    /// The Reserved Bits as they sit in the first byte (mask 0x18). Senders
    /// set 0; see [`Header::reserved_bits_valid`] for receivers.
    pub reserved_bits: u8,
    /// The Fixed Bit (0x40); see [`LongHeader::fixed_bit`].
    pub fixed_bit: bool,
}

impl ShortHeader {
    /// A header with the fixed bit set and the reserved bits clear.
    pub fn new(spin: bool, key_phase: bool, dst_cid: ConnectionId, number: PacketNumber) -> Self {
        Self {
            spin,
            key_phase,
            dst_cid,
            number,
            reserved_bits: 0,
            fixed_bit: true,
        }
    }
}

/// A Retry packet, without its integrity tag (RFC 9000 §17.2.5).
///
/// ```text
/// Retry Packet {
///   Header Form (1) = 1,
///   Fixed Bit (1) = 1,
///   Long Packet Type (2) = 3,
///   Unused (4),
///   Version (32),
///   Destination Connection ID Length (8),
///   Destination Connection ID (0..160),
///   Source Connection ID Length (8),
///   Source Connection ID (0..160),
///   Retry Token (..),
///   Retry Integrity Tag (128),
/// }
/// ```
///
/// The Retry Integrity Tag (RFC 9001 §5.8) is computed by the crypto module
/// over the Retry Pseudo-Packet: the original Destination Connection ID
/// followed by everything this struct encodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryHeader {
    /// The QUIC version.
    pub version: Version,
    /// The Destination Connection ID (the client's Source Connection ID).
    pub dst_cid: ConnectionId,
    /// The Source Connection ID the server chose.
    pub src_cid: ConnectionId,
    /// The Retry Token. A client discards a Retry whose token is empty
    /// (RFC 9000 §17.2.5.2); the codec accepts it so the caller decides.
    pub token: Bytes,
    /// The four Unused bits (mask 0x0f), arbitrary; clients ignore them.
    pub unused: u8,
    /// The Fixed Bit (0x40); see [`LongHeader::fixed_bit`].
    pub fixed_bit: bool,
}

/// A Version Negotiation packet (RFC 9000 §17.2.1, RFC 8999 §6).
///
/// ```text
/// Version Negotiation Packet {
///   Header Form (1) = 1,
///   Unused (7),
///   Version (32) = 0,
///   Destination Connection ID Length (8),
///   Destination Connection ID (0..2040),
///   Source Connection ID Length (8),
///   Source Connection ID (0..2040),
///   Supported Version (32) ...,
/// }
/// ```
///
/// The decoder reads connection IDs of up to 20 bytes only: a client receives
/// this packet, and it echoes the IDs the client chose in its v1 or v2 first
/// packet, so a longer one cannot match and the packet is dropped. Servers
/// write one with [`encode_version_negotiation`](super::encode_version_negotiation),
/// which takes IDs of any length up to 255 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionNegotiationHeader {
    /// The Destination Connection ID (the client's Source Connection ID).
    pub dst_cid: ConnectionId,
    /// The Source Connection ID (the client's Destination Connection ID).
    pub src_cid: ConnectionId,
    /// The seven Unused bits of the first byte (mask 0x7f), which clients
    /// ignore.
    pub unused: u8,
    /// The versions the server supports.
    pub versions: VersionList,
}

/// The Supported Version list of a Version Negotiation packet: a sequence of
/// 32-bit versions, kept as the received bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersionList(Bytes);

impl VersionList {
    /// Wraps the bytes of a version list; `None` unless the length is a
    /// multiple of 4.
    pub fn from_bytes(bytes: Bytes) -> Option<Self> {
        (bytes.len() % 4 == 0).then_some(Self(bytes))
    }

    /// The list of `versions`.
    pub fn new(versions: &[Version]) -> Self {
        Self(versions.iter().flat_map(|v| v.0.to_be_bytes()).collect())
    }

    /// The versions, in the order listed.
    pub fn iter(&self) -> impl Iterator<Item = Version> + '_ {
        self.0
            .chunks_exact(4)
            .map(|chunk| Version(u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]])))
    }

    /// Whether `version` is listed.
    pub fn contains(&self, version: Version) -> bool {
        self.iter().any(|listed| listed == version)
    }

    /// The number of versions listed.
    pub fn len(&self) -> usize {
        self.0.len() / 4
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The encoded list.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}
