//! Frames that carry a run of bytes: STREAM (RFC 9000 §19.8), CRYPTO
//! (RFC 9000 §19.6) and DATAGRAM (RFC 9221 §4), with the header arithmetic a
//! packet builder needs to decide how much data fits.

use bytes::{BufMut, Bytes};

use super::{FrameErrorKind, FrameType};
use crate::coding::{BufExt, BufMutExt, VarInt, size_of_varint};
use crate::shared::StreamId;

/// Takes `len` bytes of `buf` without copying.
pub(super) fn take_bytes(buf: &mut Bytes, len: u64) -> Result<Bytes, FrameErrorKind> {
    match usize::try_from(len) {
        Ok(len) if len <= buf.len() => Ok(buf.split_to(len)),
        _ => Err(FrameErrorKind::Truncated),
    }
}

/// Checks that `offset + len` stays within 2^62 - 1 (RFC 9000 §19.6, §19.8).
fn check_end(offset: u64, len: usize) -> Result<(), FrameErrorKind> {
    let end = u64::try_from(len)
        .ok()
        .and_then(|len| offset.checked_add(len));
    match end {
        Some(end) if end <= VarInt::MAX.into_inner() => Ok(()),
        _ => Err(FrameErrorKind::OffsetTooLarge),
    }
}

/// The size of a varint holding a length.
fn len_size(len: usize) -> usize {
    size_of_varint(len as u64)
}

fn put_len<B: BufMut + ?Sized>(out: &mut B, len: usize) {
    out.put_var(VarInt::saturating_from_u64(len as u64));
}

/// The largest `len` with `len + len_size(len) <= avail`: how much data fits
/// in `avail` bytes behind a Length field. `None` if not even an empty
/// Length field fits.
fn max_len_behind_length_field(avail: usize) -> Option<usize> {
    // For each varint size, the best length of that size; take the largest.
    [
        (1, 63u64),
        (2, (1 << 14) - 1),
        (4, (1 << 30) - 1),
        (8, (1 << 62) - 1),
    ]
    .into_iter()
    .filter_map(|(size, cap)| {
        let len = avail.checked_sub(size)?;
        Some(len.min(usize::try_from(cap).unwrap_or(usize::MAX)))
    })
    .max()
}

/// How much data fits in `space` bytes after a header of `header` bytes,
/// with or without a Length field.
fn data_that_fits(space: usize, header: usize, with_length: bool) -> Option<usize> {
    let avail = space.checked_sub(header)?;
    if with_length {
        max_len_behind_length_field(avail)
    } else {
        Some(avail)
    }
}

/// A STREAM frame (RFC 9000 §19.8).
///
/// ```text
/// STREAM Frame {
///   Type (i) = 0x08..0x0f,
///   Stream ID (i),
///   [Offset (i)],
///   [Length (i)],
///   Stream Data (..),
/// }
/// ```
///
/// The type's OFF (0x04), LEN (0x02) and FIN (0x01) bits say which fields are
/// present. Decoding checks that `offset + data.len()` is at most 2^62 - 1;
/// an encoder must keep to that too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// The stream the data belongs to.
    pub id: StreamId,
    /// The stream offset of the first byte of `data`.
    pub offset: u64,
    /// Whether this frame ends the stream: its final size is
    /// `offset + data.len()`.
    pub fin: bool,
    /// The stream data: a slice of the packet payload when decoded.
    pub data: Bytes,
}

impl Stream {
    pub(super) fn decode(ty: FrameType, buf: &mut Bytes) -> Result<Self, FrameErrorKind> {
        let bits = ty.into_inner();
        let id = StreamId::from_var(VarInt::decode(buf)?);
        let offset = if bits & FrameType::STREAM_OFF != 0 {
            buf.get_var()?
        } else {
            0
        };
        let data = if bits & FrameType::STREAM_LEN != 0 {
            let len = buf.get_var()?;
            take_bytes(buf, len)?
        } else {
            // No Length field: the data runs to the end of the packet.
            std::mem::take(buf)
        };
        check_end(offset, data.len())?;
        Ok(Self {
            id,
            offset,
            fin: bits & FrameType::STREAM_FIN != 0,
            data,
        })
    }

    /// The frame type this frame encodes with: OFF set when the offset is not
    /// zero, LEN when `with_length`, FIN when `fin`.
    pub fn frame_type(&self, with_length: bool) -> FrameType {
        let mut bits = FrameType::STREAM.into_inner();
        if self.offset != 0 {
            bits |= FrameType::STREAM_OFF;
        }
        if with_length {
            bits |= FrameType::STREAM_LEN;
        }
        if self.fin {
            bits |= FrameType::STREAM_FIN;
        }
        FrameType::from_var(VarInt::from_u32(bits as u32))
    }

    /// Appends the frame with its Length field.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        self.encode_with(true, out);
    }

    /// Appends the frame, without the Length field unless `with_length`. Only
    /// the last frame of a packet may omit it: its data then runs to the end
    /// of the packet. The Offset field is omitted when the offset is zero.
    pub fn encode_with<B: BufMut + ?Sized>(&self, with_length: bool, out: &mut B) {
        debug_assert!(check_end(self.offset, self.data.len()).is_ok());
        self.frame_type(with_length).encode(out);
        out.put_var(VarInt::from(self.id));
        if self.offset != 0 {
            out.put_var(VarInt::saturating_from_u64(self.offset));
        }
        if with_length {
            put_len(out, self.data.len());
        }
        out.put_slice(&self.data);
    }

    /// The number of bytes [`Stream::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        self.encoded_len_with(true)
    }

    /// The number of bytes [`Stream::encode_with`] writes.
    pub fn encoded_len_with(&self, with_length: bool) -> usize {
        Self::header_len(self.id, self.offset, self.data.len(), with_length) + self.data.len()
    }

    /// The bytes a STREAM frame takes before its data.
    pub fn header_len(id: StreamId, offset: u64, data_len: usize, with_length: bool) -> usize {
        1 + VarInt::from(id).size()
            + if offset != 0 {
                size_of_varint(offset)
            } else {
                0
            }
            + if with_length { len_size(data_len) } else { 0 }
    }

    /// The most stream data a STREAM frame for `id` at `offset` can carry in
    /// `space` bytes, header included. `None` if not even an empty frame (as
    /// a FIN-only frame would be) fits.
    pub fn max_data_that_fits(
        id: StreamId,
        offset: u64,
        space: usize,
        with_length: bool,
    ) -> Option<usize> {
        data_that_fits(space, Self::header_len(id, offset, 0, false), with_length)
    }
}

/// A CRYPTO frame (RFC 9000 §19.6).
///
/// ```text
/// CRYPTO Frame {
///   Type (i) = 0x06,
///   Offset (i),
///   Length (i),
///   Crypto Data (..),
/// }
/// ```
///
/// Decoding checks that `offset + data.len()` is at most 2^62 - 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    /// The offset of `data` in this encryption level's crypto stream.
    pub offset: u64,
    /// The handshake bytes: a slice of the packet payload when decoded.
    pub data: Bytes,
}

impl Crypto {
    pub(super) fn decode(buf: &mut Bytes) -> Result<Self, FrameErrorKind> {
        let offset = buf.get_var()?;
        let len = buf.get_var()?;
        let data = take_bytes(buf, len)?;
        check_end(offset, data.len())?;
        Ok(Self { offset, data })
    }

    /// Appends the frame.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        debug_assert!(check_end(self.offset, self.data.len()).is_ok());
        FrameType::CRYPTO.encode(out);
        out.put_var(VarInt::saturating_from_u64(self.offset));
        put_len(out, self.data.len());
        out.put_slice(&self.data);
    }

    /// The number of bytes [`Crypto::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        Self::header_len(self.offset, self.data.len()) + self.data.len()
    }

    /// The bytes a CRYPTO frame takes before its data.
    pub fn header_len(offset: u64, data_len: usize) -> usize {
        1 + size_of_varint(offset) + len_size(data_len)
    }

    /// The most data a CRYPTO frame at `offset` can carry in `space` bytes,
    /// header included; `None` if not even an empty frame fits.
    pub fn max_data_that_fits(offset: u64, space: usize) -> Option<usize> {
        data_that_fits(space, 1 + size_of_varint(offset), true)
    }
}

/// A DATAGRAM frame (RFC 9221 §4).
///
/// ```text
/// DATAGRAM Frame {
///   Type (i) = 0x30..0x31,
///   [Length (i)],
///   Datagram Data (..),
/// }
/// ```
///
/// Type 0x31 has a Length field; with 0x30 the data runs to the end of the
/// packet. Empty datagrams are allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// The application's datagram: a slice of the packet payload when
    /// decoded.
    pub data: Bytes,
}

impl Datagram {
    pub(super) fn decode(ty: FrameType, buf: &mut Bytes) -> Result<Self, FrameErrorKind> {
        let data = if ty == FrameType::DATAGRAM_LEN {
            let len = buf.get_var()?;
            take_bytes(buf, len)?
        } else {
            std::mem::take(buf)
        };
        Ok(Self { data })
    }

    /// Appends the frame with its Length field (type 0x31).
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        self.encode_with(true, out);
    }

    /// Appends the frame; without the Length field (type 0x30) unless
    /// `with_length`, which only the last frame of a packet may do.
    pub fn encode_with<B: BufMut + ?Sized>(&self, with_length: bool, out: &mut B) {
        if with_length {
            FrameType::DATAGRAM_LEN.encode(out);
            put_len(out, self.data.len());
        } else {
            FrameType::DATAGRAM.encode(out);
        }
        out.put_slice(&self.data);
    }

    /// The number of bytes [`Datagram::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        self.encoded_len_with(true)
    }

    /// The number of bytes [`Datagram::encode_with`] writes.
    pub fn encoded_len_with(&self, with_length: bool) -> usize {
        Self::header_len(self.data.len(), with_length) + self.data.len()
    }

    /// The bytes a DATAGRAM frame takes before its data.
    pub fn header_len(data_len: usize, with_length: bool) -> usize {
        1 + if with_length { len_size(data_len) } else { 0 }
    }

    /// The largest datagram that fits in `space` bytes, header included;
    /// `None` if not even an empty one fits.
    pub fn max_data_that_fits(space: usize, with_length: bool) -> Option<usize> {
        data_that_fits(space, 1, with_length)
    }
}
