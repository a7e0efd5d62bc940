//! Parsing what precedes header protection: the invariant fields, the
//! version-specific long header fields, short headers, and where each
//! coalesced packet ends (RFC 8999 §5; RFC 9000 §12.2, §17).

use std::ops::Range;

use bytes::{Buf, Bytes};

use crate::cid::ConnectionId;
use crate::coding::BufExt;
use crate::version::Version;

use super::decode::ProtectedHeader;
use super::{
    FIXED_BIT, LONG_FORM_BIT, LongType, PacketDecodeError, RETRY_INTEGRITY_TAG_LEN, SPIN_BIT,
};

/// The version-independent fields of a long header (RFC 8999 §5.1), read
/// without any version-specific rule: connection IDs may be up to 255 bytes.
///
/// ```text
/// Long Header Packet {
///   Header Form (1) = 1,
///   Version-Specific Bits (7),
///   Version (32),
///   Destination Connection ID Length (8),
///   Destination Connection ID (0..2040),
///   Source Connection ID Length (8),
///   Source Connection ID (0..2040),
///   Version-Specific Data (..),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongHeaderInvariants<'a> {
    /// The first byte, whose low seven bits are version-specific.
    pub first_byte: u8,
    /// The version.
    pub version: Version,
    /// The Destination Connection ID.
    pub dst_cid: &'a [u8],
    /// The Source Connection ID.
    pub src_cid: &'a [u8],
}

impl<'a> LongHeaderInvariants<'a> {
    /// Reads the invariant fields from the start of `packet`.
    pub fn decode(packet: &'a [u8]) -> Result<Self, PacketDecodeError> {
        let mut input = packet;
        let first_byte = input.read_u8()?;
        if first_byte & LONG_FORM_BIT == 0 {
            return Err(PacketDecodeError::InvalidHeader("not a long header"));
        }
        let version = Version(input.read_u32()?);
        let dst_cid = take_with_u8_len(&mut input)?;
        let src_cid = take_with_u8_len(&mut input)?;
        Ok(Self {
            first_byte,
            version,
            dst_cid,
            src_cid,
        })
    }

    /// The number of bytes the invariant fields take.
    pub fn encoded_len(&self) -> usize {
        1 + 4 + 1 + self.dst_cid.len() + 1 + self.src_cid.len()
    }
}

/// Reads a one-byte length and that many bytes.
fn take_with_u8_len<'a>(input: &mut &'a [u8]) -> Result<&'a [u8], PacketDecodeError> {
    let len = usize::from(input.read_u8()?);
    let bytes = input.get(..len).ok_or(PacketDecodeError::Truncated)?;
    input.advance(len);
    Ok(bytes)
}

/// What follows the fields read by `PartialDecode::new`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Body {
    /// A protected packet number at this offset, then the payload.
    Protected { pn_offset: usize },
    /// The Retry Integrity Tag at this offset.
    Retry { tag_offset: usize },
    /// The Supported Version list at this offset.
    VersionNegotiation { list_offset: usize },
}

pub(super) const VERSION_LIST_LENGTH: PacketDecodeError =
    PacketDecodeError::InvalidHeader("version list length is not a multiple of 4");

/// Where a packet's parts lie in the datagram.
pub(super) struct Layout {
    pub(super) header: ProtectedHeader,
    pub(super) body: Body,
    pub(super) token: Range<usize>,
    /// The offset just past this packet.
    pub(super) end: usize,
}

/// A read position in a datagram.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn var(&mut self) -> Result<u64, PacketDecodeError> {
        let mut input = self.data.get(self.pos..).unwrap_or_default();
        let value = input.get_var()?;
        self.pos = self.data.len() - input.len();
        Ok(value)
    }

    /// Skips `len` bytes and returns their range.
    fn take(&mut self, len: u64) -> Result<Range<usize>, PacketDecodeError> {
        let start = self.pos;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| start.checked_add(len))
            .filter(|&end| end <= self.data.len())
            .ok_or(PacketDecodeError::Truncated)?;
        self.pos = end;
        Ok(start..end)
    }
}

/// Parses a long header packet at the start of `data` (RFC 9000 §17.2).
pub(super) fn parse_long(
    data: &[u8],
    accept_zero_fixed_bit: bool,
) -> Result<Layout, PacketDecodeError> {
    let invariants = LongHeaderInvariants::decode(data)?;
    let version = invariants.version;
    if version == Version::NEGOTIATION {
        return parse_version_negotiation(data, &invariants);
    }
    if !version.is_supported() {
        return Err(PacketDecodeError::UnsupportedVersion {
            version,
            dst_cid: Bytes::copy_from_slice(invariants.dst_cid),
            src_cid: Bytes::copy_from_slice(invariants.src_cid),
        });
    }
    let first = invariants.first_byte;
    if first & FIXED_BIT == 0 && !accept_zero_fixed_bit {
        return Err(PacketDecodeError::FIXED_BIT_ZERO);
    }
    let ty = LongType::from_bits(first >> 4, version)
        .ok_or(PacketDecodeError::InvalidHeader("unsupported version"))?;
    // RFC 9000 §17.2: a v1 connection ID over 20 bytes drops the packet;
    // RFC 9369 keeps the rule for v2.
    let dst_cid =
        ConnectionId::new(invariants.dst_cid).map_err(|_| PacketDecodeError::CID_TOO_LONG)?;
    let src_cid =
        ConnectionId::new(invariants.src_cid).map_err(|_| PacketDecodeError::CID_TOO_LONG)?;
    let header = ProtectedHeader::Long {
        ty,
        version,
        dst_cid,
        src_cid,
    };
    parse_long_body(data, header, ty, invariants.encoded_len())
}

/// Parses what follows the connection IDs of a v1 or v2 long header, from
/// `body_offset`: the Retry token and tag (RFC 9000 §17.2.5), or the Initial
/// token (§17.2.2) and the Length that ends the packet (§17.2).
fn parse_long_body(
    data: &[u8],
    header: ProtectedHeader,
    ty: LongType,
    body_offset: usize,
) -> Result<Layout, PacketDecodeError> {
    let mut cursor = Cursor {
        data,
        pos: body_offset,
    };
    let token = match ty {
        LongType::Retry => {
            // RFC 9000 §17.2.5: the token is everything up to the 16-byte tag.
            let tag_offset = data
                .len()
                .checked_sub(RETRY_INTEGRITY_TAG_LEN)
                .filter(|&offset| offset >= cursor.pos)
                .ok_or(PacketDecodeError::Truncated)?;
            return Ok(Layout {
                header,
                body: Body::Retry { tag_offset },
                token: cursor.pos..tag_offset,
                end: data.len(),
            });
        }
        LongType::Initial => {
            let token_len = cursor.var()?;
            cursor.take(token_len)?
        }
        LongType::ZeroRtt | LongType::Handshake => cursor.pos..cursor.pos,
    };
    let length = cursor.var()?;
    let pn_offset = cursor.pos;
    // RFC 9000 §12.2: the Length field delimits a coalesced packet; one that
    // runs past the datagram is invalid.
    let end = cursor.take(length)?.end;
    Ok(Layout {
        header,
        body: Body::Protected { pn_offset },
        token,
        end,
    })
}

/// Parses a Version Negotiation packet (RFC 9000 §17.2.1): the first byte's
/// low seven bits are ignored, and the packet runs to the end of the
/// datagram.
fn parse_version_negotiation(
    data: &[u8],
    invariants: &LongHeaderInvariants<'_>,
) -> Result<Layout, PacketDecodeError> {
    let dst_cid =
        ConnectionId::new(invariants.dst_cid).map_err(|_| PacketDecodeError::CID_TOO_LONG)?;
    let src_cid =
        ConnectionId::new(invariants.src_cid).map_err(|_| PacketDecodeError::CID_TOO_LONG)?;
    let list_offset = invariants.encoded_len();
    let list_len = data
        .len()
        .checked_sub(list_offset)
        .ok_or(PacketDecodeError::Truncated)?;
    if list_len % 4 != 0 {
        return Err(VERSION_LIST_LENGTH);
    }
    Ok(Layout {
        header: ProtectedHeader::VersionNegotiation { dst_cid, src_cid },
        body: Body::VersionNegotiation { list_offset },
        token: list_offset..list_offset,
        end: data.len(),
    })
}

/// Parses a short header packet (RFC 9000 §17.3.1), which runs to the end of
/// the datagram.
pub(super) fn parse_short(
    data: &[u8],
    local_cid_len: usize,
    accept_zero_fixed_bit: bool,
) -> Result<Layout, PacketDecodeError> {
    let mut input = data;
    let first = input.read_u8()?;
    if first & FIXED_BIT == 0 && !accept_zero_fixed_bit {
        return Err(PacketDecodeError::FIXED_BIT_ZERO);
    }
    if local_cid_len > ConnectionId::MAX_LEN {
        return Err(PacketDecodeError::InvalidHeader(
            "local connection ID length exceeds 20 bytes",
        ));
    }
    let dst_cid = ConnectionId::decode(&mut input, local_cid_len)
        .map_err(|_| PacketDecodeError::Truncated)?;
    let pn_offset = 1 + local_cid_len;
    Ok(Layout {
        header: ProtectedHeader::Short {
            spin: first & SPIN_BIT != 0,
            dst_cid,
        },
        body: Body::Protected { pn_offset },
        token: pn_offset..pn_offset,
        end: data.len(),
    })
}
