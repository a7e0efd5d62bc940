//! Receiving: the two-step decode around header protection removal
//! (RFC 9000 §12.2, §17; RFC 9001 §5.4; RFC 8999 §5).

use std::ops::Range;

use bytes::{Bytes, BytesMut};

use crate::cid::ConnectionId;
use crate::crypto::HeaderKey;
use crate::shared::SpaceId;
use crate::version::Version;

use super::parse::{Body, VERSION_LIST_LENGTH, parse_long, parse_short};
use super::{
    FIXED_BIT, Header, KEY_PHASE_BIT, LONG_FORM_BIT, LONG_RESERVED_BITS, LongHeader, LongKind,
    LongType, PN_LEN_BITS, Packet, PacketDecodeError, PacketNumber, RetryHeader,
    SHORT_RESERVED_BITS, ShortHeader, VersionList, VersionNegotiationHeader,
};

/// The header fields readable before header protection is removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtectedHeader {
    /// A QUIC v1 or v2 long header: Initial, 0-RTT, Handshake or Retry.
    Long {
        /// The packet type.
        ty: LongType,
        /// The version, v1 or v2.
        version: Version,
        /// The Destination Connection ID.
        dst_cid: ConnectionId,
        /// The Source Connection ID.
        src_cid: ConnectionId,
    },
    /// A short header (1-RTT packet).
    Short {
        /// The latency spin bit, which header protection does not cover.
        spin: bool,
        /// The Destination Connection ID, of the locally known length.
        dst_cid: ConnectionId,
    },
    /// A Version Negotiation packet.
    VersionNegotiation {
        /// The Destination Connection ID.
        dst_cid: ConnectionId,
        /// The Source Connection ID.
        src_cid: ConnectionId,
    },
}

/// One packet of a datagram, parsed up to what header protection hides.
///
/// See the [module documentation](super) for the two decoding steps.
#[derive(Debug)]
pub struct PartialDecode {
    header: ProtectedHeader,
    body: Body,
    /// The token of an Initial or Retry packet, as offsets into `buf`.
    token: Range<usize>,
    /// Exactly this packet's bytes.
    buf: BytesMut,
}

impl PartialDecode {
    /// Parses the first packet of `datagram` up to header protection and
    /// splits it from the packets coalesced after it (RFC 9000 §12.2).
    ///
    /// A long header packet with a Length field ends where the Length says,
    /// and the rest of the datagram, if any, is returned as the next packet;
    /// short header, Retry and Version Negotiation packets run to the end of
    /// the datagram. `local_cid_len` is the length of the connection IDs this
    /// endpoint issues, which short headers do not carry.
    /// `accept_zero_fixed_bit` is true when this endpoint advertised
    /// `grease_quic_bit` (RFC 9287 §3); otherwise a Fixed Bit of 0 drops the
    /// packet (RFC 9000 §17.2, §17.3.1).
    ///
    /// A long header with a version other than v1, v2 or 0 fails with
    /// [`PacketDecodeError::UnsupportedVersion`], which carries what a server
    /// needs to send Version Negotiation.
    pub fn new(
        mut datagram: BytesMut,
        local_cid_len: usize,
        accept_zero_fixed_bit: bool,
    ) -> Result<(Self, Option<BytesMut>), PacketDecodeError> {
        let first = *datagram.first().ok_or(PacketDecodeError::Truncated)?;
        let layout = if first & LONG_FORM_BIT != 0 {
            parse_long(&datagram, accept_zero_fixed_bit)?
        } else {
            parse_short(&datagram, local_cid_len, accept_zero_fixed_bit)?
        };
        let rest = (layout.end < datagram.len()).then(|| datagram.split_off(layout.end));
        let decode = Self {
            header: layout.header,
            body: layout.body,
            token: layout.token,
            buf: datagram,
        };
        Ok((decode, rest))
    }

    /// The fields read so far.
    pub fn header(&self) -> &ProtectedHeader {
        &self.header
    }

    /// The Destination Connection ID.
    pub fn dst_cid(&self) -> &ConnectionId {
        match &self.header {
            ProtectedHeader::Long { dst_cid, .. }
            | ProtectedHeader::Short { dst_cid, .. }
            | ProtectedHeader::VersionNegotiation { dst_cid, .. } => dst_cid,
        }
    }

    /// The Source Connection ID of a long header.
    pub fn src_cid(&self) -> Option<&ConnectionId> {
        match &self.header {
            ProtectedHeader::Long { src_cid, .. }
            | ProtectedHeader::VersionNegotiation { src_cid, .. } => Some(src_cid),
            ProtectedHeader::Short { .. } => None,
        }
    }

    /// The version of a long header (0 for Version Negotiation).
    pub fn version(&self) -> Option<Version> {
        match self.header {
            ProtectedHeader::Long { version, .. } => Some(version),
            ProtectedHeader::VersionNegotiation { .. } => Some(Version::NEGOTIATION),
            ProtectedHeader::Short { .. } => None,
        }
    }

    /// The long packet type, for long headers other than Version
    /// Negotiation.
    pub fn long_type(&self) -> Option<LongType> {
        match self.header {
            ProtectedHeader::Long { ty, .. } => Some(ty),
            _ => None,
        }
    }

    /// Whether this is an Initial packet.
    pub fn is_initial(&self) -> bool {
        self.long_type() == Some(LongType::Initial)
    }

    /// Whether this is a 0-RTT packet.
    pub fn is_0rtt(&self) -> bool {
        self.long_type() == Some(LongType::ZeroRtt)
    }

    /// Whether the packet has a long header (Version Negotiation included).
    pub fn has_long_header(&self) -> bool {
        !matches!(self.header, ProtectedHeader::Short { .. })
    }

    /// The packet number space, whose header key [`finish`](Self::finish)
    /// needs; `None` for Retry and Version Negotiation, which are not
    /// protected.
    pub fn space(&self) -> Option<SpaceId> {
        match self.header {
            ProtectedHeader::Long { ty, .. } => ty.space(),
            ProtectedHeader::Short { .. } => Some(SpaceId::Data),
            ProtectedHeader::VersionNegotiation { .. } => None,
        }
    }

    /// Whether [`finish`](Self::finish) needs a header key.
    pub fn is_protected(&self) -> bool {
        matches!(self.body, Body::Protected { .. })
    }

    /// The token of an Initial packet (empty if none) or a Retry packet.
    pub fn token(&self) -> Option<&[u8]> {
        match self.long_type() {
            Some(LongType::Initial | LongType::Retry) => self.buf.get(self.token.clone()),
            _ => None,
        }
    }

    /// The packet's length in bytes, header included.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether the packet is empty; never true, as every packet has at
    /// least its first byte.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The packet's bytes as received, header protection still applied.
    /// A short header packet's last 16 bytes are where a Stateless Reset
    /// Token would be (RFC 9000 §10.3.1).
    pub fn data(&self) -> &[u8] {
        &self.buf
    }

    /// Removes header protection with the key of [`space`](Self::space)
    /// (ignored for Retry and Version Negotiation), reads the packet number
    /// and splits the header from the payload without copying it.
    ///
    /// Fails, and the packet is dropped, if the packet is too short to take
    /// the header protection sample: the packet number offset plus 4 plus the
    /// sample size (RFC 9001 §5.4.2).
    pub fn finish(self, header_key: Option<&dyn HeaderKey>) -> Result<Packet, PacketDecodeError> {
        match self.body {
            Body::Protected { pn_offset } => {
                let key = header_key.ok_or(PacketDecodeError::MissingHeaderKey)?;
                self.finish_protected(pn_offset, key)
            }
            Body::Retry { tag_offset } => self.finish_retry(tag_offset),
            Body::VersionNegotiation { list_offset } => {
                self.finish_version_negotiation(list_offset)
            }
        }
    }

    fn finish_protected(
        self,
        pn_offset: usize,
        key: &dyn HeaderKey,
    ) -> Result<Packet, PacketDecodeError> {
        let Self {
            header,
            token,
            mut buf,
            ..
        } = self;
        let sample_end = pn_offset
            .checked_add(PacketNumber::MAX_LEN)
            .and_then(|offset| offset.checked_add(key.sample_size()))
            .ok_or(PacketDecodeError::TOO_SHORT_FOR_SAMPLE)?;
        if buf.len() < sample_end {
            return Err(PacketDecodeError::TOO_SHORT_FOR_SAMPLE);
        }
        key.decrypt(pn_offset, &mut buf);
        let first = *buf.first().ok_or(PacketDecodeError::Truncated)?;
        let pn_len = usize::from(first & PN_LEN_BITS) + 1;
        let mut pn_bytes = buf.get(pn_offset..).ok_or(PacketDecodeError::Truncated)?;
        let number = PacketNumber::decode(pn_len, &mut pn_bytes)?;
        let header_data = buf.split_to(pn_offset + pn_len).freeze();
        let token = match header {
            ProtectedHeader::Long {
                ty: LongType::Initial,
                ..
            } => slice(&header_data, token)?,
            _ => Bytes::new(),
        };
        let header = unprotected_header(header, first, number, token)?;
        Ok(Packet {
            header,
            header_data,
            payload: buf,
        })
    }

    fn finish_retry(self, tag_offset: usize) -> Result<Packet, PacketDecodeError> {
        let Self {
            header,
            token,
            mut buf,
            ..
        } = self;
        let ProtectedHeader::Long {
            ty: LongType::Retry,
            version,
            dst_cid,
            src_cid,
        } = header
        else {
            return Err(PacketDecodeError::InvalidHeader("not a Retry packet"));
        };
        if tag_offset > buf.len() {
            return Err(PacketDecodeError::Truncated);
        }
        let tag = buf.split_off(tag_offset);
        let header_data = buf.freeze();
        let first = header_data.first().copied().unwrap_or_default();
        let header = Header::Retry(RetryHeader {
            version,
            dst_cid,
            src_cid,
            token: slice(&header_data, token)?,
            unused: first & 0x0f,
            fixed_bit: first & FIXED_BIT != 0,
        });
        Ok(Packet {
            header,
            header_data,
            payload: tag,
        })
    }

    fn finish_version_negotiation(self, list_offset: usize) -> Result<Packet, PacketDecodeError> {
        let Self {
            header, mut buf, ..
        } = self;
        let ProtectedHeader::VersionNegotiation { dst_cid, src_cid } = header else {
            return Err(PacketDecodeError::InvalidHeader(
                "not a Version Negotiation packet",
            ));
        };
        if list_offset > buf.len() {
            return Err(PacketDecodeError::Truncated);
        }
        let list = buf.split_off(list_offset).freeze();
        let versions = VersionList::from_bytes(list).ok_or(VERSION_LIST_LENGTH)?;
        let header_data = buf.freeze();
        let first = header_data.first().copied().unwrap_or_default();
        let header = Header::VersionNegotiation(VersionNegotiationHeader {
            dst_cid,
            src_cid,
            unused: first & !LONG_FORM_BIT,
            versions,
        });
        Ok(Packet {
            header,
            header_data,
            payload: BytesMut::new(),
        })
    }
}

/// The typed header, once header protection no longer hides the first
/// byte's low bits and the packet number.
fn unprotected_header(
    header: ProtectedHeader,
    first: u8,
    number: PacketNumber,
    token: Bytes,
) -> Result<Header, PacketDecodeError> {
    let fixed_bit = first & FIXED_BIT != 0;
    Ok(match header {
        ProtectedHeader::Long {
            ty,
            version,
            dst_cid,
            src_cid,
        } => {
            let kind = match ty {
                LongType::Initial => LongKind::Initial { token },
                LongType::ZeroRtt => LongKind::ZeroRtt,
                LongType::Handshake => LongKind::Handshake,
                LongType::Retry => {
                    return Err(PacketDecodeError::InvalidHeader("Retry is not protected"));
                }
            };
            Header::Long(LongHeader {
                kind,
                version,
                dst_cid,
                src_cid,
                number,
                reserved_bits: first & LONG_RESERVED_BITS,
                fixed_bit,
            })
        }
        ProtectedHeader::Short { spin, dst_cid } => Header::Short(ShortHeader {
            spin,
            key_phase: first & KEY_PHASE_BIT != 0,
            dst_cid,
            number,
            reserved_bits: first & SHORT_RESERVED_BITS,
            fixed_bit,
        }),
        ProtectedHeader::VersionNegotiation { .. } => {
            return Err(PacketDecodeError::InvalidHeader(
                "Version Negotiation is not protected",
            ));
        }
    })
}

/// `bytes[range]`, or an error instead of a panic.
fn slice(bytes: &Bytes, range: Range<usize>) -> Result<Bytes, PacketDecodeError> {
    if range.start > range.end || range.end > bytes.len() {
        return Err(PacketDecodeError::Truncated);
    }
    Ok(bytes.slice(range))
}
