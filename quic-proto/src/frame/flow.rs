//! Stream management and flow control frames: RESET_STREAM, STOP_SENDING,
//! MAX_DATA, MAX_STREAM_DATA, MAX_STREAMS, DATA_BLOCKED, STREAM_DATA_BLOCKED
//! and STREAMS_BLOCKED (RFC 9000 §19.4, §19.5, §19.9 to §19.14).

use bytes::{Buf, BufMut};

use super::{FrameErrorKind, FrameType};
use crate::coding::{BufMutExt, VarInt, size_of_varint};
use crate::shared::{Dir, StreamId};

/// The largest stream count MAX_STREAMS and STREAMS_BLOCKED can carry:
/// 2^60, since no stream ID can reach 2^62 (RFC 9000 §19.11, §19.14).
pub const MAX_STREAM_COUNT: u64 = 1 << 60;

fn var<B: Buf>(buf: &mut B) -> Result<VarInt, FrameErrorKind> {
    Ok(VarInt::decode(buf)?)
}

fn stream_id<B: Buf>(buf: &mut B) -> Result<StreamId, FrameErrorKind> {
    Ok(StreamId::from_var(VarInt::decode(buf)?))
}

fn stream_count<B: Buf>(buf: &mut B) -> Result<u64, FrameErrorKind> {
    let count = var(buf)?.into_inner();
    if count > MAX_STREAM_COUNT {
        return Err(FrameErrorKind::StreamCountTooLarge);
    }
    Ok(count)
}

fn id_size(id: StreamId) -> usize {
    VarInt::from(id).size()
}

/// A RESET_STREAM frame (RFC 9000 §19.4).
///
/// ```text
/// RESET_STREAM Frame {
///   Type (i) = 0x04,
///   Stream ID (i),
///   Application Protocol Error Code (i),
///   Final Size (i),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetStream {
    /// The stream whose sending part ends.
    pub id: StreamId,
    /// Why, in the application protocol's error code space.
    pub error_code: VarInt,
    /// The stream's final size in bytes (RFC 9000 §4.5).
    pub final_size: VarInt,
}

impl ResetStream {
    pub(super) fn decode<B: Buf>(buf: &mut B) -> Result<Self, FrameErrorKind> {
        Ok(Self {
            id: stream_id(buf)?,
            error_code: var(buf)?,
            final_size: var(buf)?,
        })
    }

    /// Appends the frame.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        FrameType::RESET_STREAM.encode(out);
        out.put_var(self.id.into());
        out.put_var(self.error_code);
        out.put_var(self.final_size);
    }

    /// The number of bytes [`ResetStream::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        1 + id_size(self.id) + self.error_code.size() + self.final_size.size()
    }
}

/// A STOP_SENDING frame (RFC 9000 §19.5).
///
/// ```text
/// STOP_SENDING Frame {
///   Type (i) = 0x05,
///   Stream ID (i),
///   Application Protocol Error Code (i),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopSending {
    /// The stream whose incoming data is being discarded.
    pub id: StreamId,
    /// Why, in the application protocol's error code space.
    pub error_code: VarInt,
}

impl StopSending {
    pub(super) fn decode<B: Buf>(buf: &mut B) -> Result<Self, FrameErrorKind> {
        Ok(Self {
            id: stream_id(buf)?,
            error_code: var(buf)?,
        })
    }

    /// Appends the frame.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        FrameType::STOP_SENDING.encode(out);
        out.put_var(self.id.into());
        out.put_var(self.error_code);
    }

    /// The number of bytes [`StopSending::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        1 + id_size(self.id) + self.error_code.size()
    }
}

/// A MAX_DATA frame (RFC 9000 §19.9).
///
/// ```text
/// MAX_DATA Frame {
///   Type (i) = 0x10,
///   Maximum Data (i),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxData {
    /// The connection-wide data limit, in bytes.
    pub max: VarInt,
}

impl MaxData {
    pub(super) fn decode<B: Buf>(buf: &mut B) -> Result<Self, FrameErrorKind> {
        Ok(Self { max: var(buf)? })
    }

    /// Appends the frame.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        FrameType::MAX_DATA.encode(out);
        out.put_var(self.max);
    }

    /// The number of bytes [`MaxData::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        1 + self.max.size()
    }
}

/// A MAX_STREAM_DATA frame (RFC 9000 §19.10).
///
/// ```text
/// MAX_STREAM_DATA Frame {
///   Type (i) = 0x11,
///   Stream ID (i),
///   Maximum Stream Data (i),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxStreamData {
    /// The stream the limit applies to.
    pub id: StreamId,
    /// The stream's data limit, in bytes.
    pub max: VarInt,
}

impl MaxStreamData {
    pub(super) fn decode<B: Buf>(buf: &mut B) -> Result<Self, FrameErrorKind> {
        Ok(Self {
            id: stream_id(buf)?,
            max: var(buf)?,
        })
    }

    /// Appends the frame.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        FrameType::MAX_STREAM_DATA.encode(out);
        out.put_var(self.id.into());
        out.put_var(self.max);
    }

    /// The number of bytes [`MaxStreamData::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        1 + id_size(self.id) + self.max.size()
    }
}

/// A MAX_STREAMS frame (RFC 9000 §19.11).
///
/// ```text
/// MAX_STREAMS Frame {
///   Type (i) = 0x12..0x13,
///   Maximum Streams (i),
/// }
/// ```
///
/// Type 0x12 is for bidirectional streams, 0x13 for unidirectional ones.
/// Decoding refuses counts above [`MAX_STREAM_COUNT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxStreams {
    /// The direction of the streams counted.
    pub dir: Dir,
    /// The cumulative number of streams the peer may open, at most
    /// [`MAX_STREAM_COUNT`].
    pub count: u64,
}

impl MaxStreams {
    pub(super) fn decode<B: Buf>(dir: Dir, buf: &mut B) -> Result<Self, FrameErrorKind> {
        Ok(Self {
            dir,
            count: stream_count(buf)?,
        })
    }

    /// The frame type for `dir`.
    pub fn frame_type(&self) -> FrameType {
        match self.dir {
            Dir::Bi => FrameType::MAX_STREAMS_BIDI,
            Dir::Uni => FrameType::MAX_STREAMS_UNI,
        }
    }

    /// Appends the frame.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        debug_assert!(self.count <= MAX_STREAM_COUNT);
        self.frame_type().encode(out);
        out.put_var(VarInt::saturating_from_u64(self.count));
    }

    /// The number of bytes [`MaxStreams::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        1 + size_of_varint(self.count)
    }
}

/// A DATA_BLOCKED frame (RFC 9000 §19.12).
///
/// ```text
/// DATA_BLOCKED Frame {
///   Type (i) = 0x14,
///   Maximum Data (i),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataBlocked {
    /// The connection-wide limit at which the sender was blocked.
    pub limit: VarInt,
}

impl DataBlocked {
    pub(super) fn decode<B: Buf>(buf: &mut B) -> Result<Self, FrameErrorKind> {
        Ok(Self { limit: var(buf)? })
    }

    /// Appends the frame.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        FrameType::DATA_BLOCKED.encode(out);
        out.put_var(self.limit);
    }

    /// The number of bytes [`DataBlocked::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        1 + self.limit.size()
    }
}

/// A STREAM_DATA_BLOCKED frame (RFC 9000 §19.13).
///
/// ```text
/// STREAM_DATA_BLOCKED Frame {
///   Type (i) = 0x15,
///   Stream ID (i),
///   Maximum Stream Data (i),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamDataBlocked {
    /// The blocked stream.
    pub id: StreamId,
    /// The stream offset at which the sender was blocked.
    pub limit: VarInt,
}

impl StreamDataBlocked {
    pub(super) fn decode<B: Buf>(buf: &mut B) -> Result<Self, FrameErrorKind> {
        Ok(Self {
            id: stream_id(buf)?,
            limit: var(buf)?,
        })
    }

    /// Appends the frame.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        FrameType::STREAM_DATA_BLOCKED.encode(out);
        out.put_var(self.id.into());
        out.put_var(self.limit);
    }

    /// The number of bytes [`StreamDataBlocked::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        1 + id_size(self.id) + self.limit.size()
    }
}

/// A STREAMS_BLOCKED frame (RFC 9000 §19.14).
///
/// ```text
/// STREAMS_BLOCKED Frame {
///   Type (i) = 0x16..0x17,
///   Maximum Streams (i),
/// }
/// ```
///
/// Type 0x16 is for bidirectional streams, 0x17 for unidirectional ones.
/// Decoding refuses limits above [`MAX_STREAM_COUNT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamsBlocked {
    /// The direction of the streams the sender could not open.
    pub dir: Dir,
    /// The stream limit at which the sender was blocked, at most
    /// [`MAX_STREAM_COUNT`].
    pub limit: u64,
}

impl StreamsBlocked {
    pub(super) fn decode<B: Buf>(dir: Dir, buf: &mut B) -> Result<Self, FrameErrorKind> {
        Ok(Self {
            dir,
            limit: stream_count(buf)?,
        })
    }

    /// The frame type for `dir`.
    pub fn frame_type(&self) -> FrameType {
        match self.dir {
            Dir::Bi => FrameType::STREAMS_BLOCKED_BIDI,
            Dir::Uni => FrameType::STREAMS_BLOCKED_UNI,
        }
    }

    /// Appends the frame.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        debug_assert!(self.limit <= MAX_STREAM_COUNT);
        self.frame_type().encode(out);
        out.put_var(VarInt::saturating_from_u64(self.limit));
    }

    /// The number of bytes [`StreamsBlocked::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        1 + size_of_varint(self.limit)
    }
}
