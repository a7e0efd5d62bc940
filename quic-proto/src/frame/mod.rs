//! QUIC frames: every frame of RFC 9000 §19 and RFC 9221's DATAGRAM, decoded
//! without copying from a decrypted packet payload and encoded into any
//! [`BufMut`].
//!
//! ```text
//! Packet Payload {
//!   Frame (8..) ...,
//! }
//!
//! Frame {
//!   Frame Type (i),
//!   Type-Dependent Fields (..),
//! }
//! ```
//!
//! - Decoding: [`Iter`] walks a payload and yields [`Frame`]s whose data
//!   fields are [`Bytes`] slices of that payload. A frame that cannot be
//!   decoded yields a [`FrameError`] carrying the transport error code and
//!   the frame type (RFC 9000 §12.4, §19); nothing is yielded after it.
//! - Encoding: each frame struct has `encode(&mut impl BufMut)` and
//!   `encoded_len()`. STREAM and DATAGRAM frames can leave out their Length
//!   field when they end the packet, and `header_len` / `max_data_that_fits`
//!   tell a packet builder how much data fits. ACK frames are written by
//!   [`AckEncoder`] from descending packet number ranges.
//! - Rules about frames: [`FrameType`] says whether a type is ack-eliciting,
//!   counts toward bytes in flight, or may appear in a given [`PacketKind`]
//!   (RFC 9000 §12.4 Table 3, §12.5).
//!
//! Checks that need connection state (stream limits and states, whether the
//! peer may send NEW_TOKEN or HANDSHAKE_DONE, whether DATAGRAM was
//! negotiated, an empty payload being a PROTOCOL_VIOLATION) belong to the
//! connection, not to this module.

use bytes::BufMut;
#[cfg(doc)]
use bytes::Bytes;

mod ack;
mod conn;
mod data;
mod error;
mod flow;
mod frame_type;
mod iter;

pub use ack::{Ack, AckEncoder, AckRanges, EcnCounts, InvalidAckRanges};
pub use conn::{
    ApplicationClose, ConnectionClose, NewConnectionId, NewToken, PathChallenge, PathResponse,
    RetireConnectionId,
};
pub use data::{Crypto, Datagram, Stream};
pub use error::{FrameError, FrameErrorKind};
pub use flow::{
    DataBlocked, MAX_STREAM_COUNT, MaxData, MaxStreamData, MaxStreams, ResetStream, StopSending,
    StreamDataBlocked, StreamsBlocked,
};
pub use frame_type::{FrameType, PacketKind};
pub use iter::Iter;

/// A run of PADDING frames (RFC 9000 §19.1): each is a single 0x00 byte, and
/// [`Iter`] reports consecutive ones as one `Padding`.
///
/// ```text
/// PADDING Frame {
///   Type (i) = 0x00,
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Padding {
    /// The number of PADDING frames (bytes) in the run.
    pub len: usize,
}

impl Padding {
    /// Appends `len` PADDING frames.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        out.put_bytes(0, self.len);
    }

    /// The number of bytes [`Padding::encode`] writes: `len`.
    pub fn encoded_len(&self) -> usize {
        self.len
    }
}

/// One decoded frame, or one to encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// PADDING frames, coalesced (RFC 9000 §19.1).
    Padding(Padding),
    /// PING (RFC 9000 §19.2).
    Ping,
    /// ACK (RFC 9000 §19.3).
    Ack(Ack),
    /// RESET_STREAM (RFC 9000 §19.4).
    ResetStream(ResetStream),
    /// STOP_SENDING (RFC 9000 §19.5).
    StopSending(StopSending),
    /// CRYPTO (RFC 9000 §19.6).
    Crypto(Crypto),
    /// NEW_TOKEN (RFC 9000 §19.7).
    NewToken(NewToken),
    /// STREAM (RFC 9000 §19.8).
    Stream(Stream),
    /// MAX_DATA (RFC 9000 §19.9).
    MaxData(MaxData),
    /// MAX_STREAM_DATA (RFC 9000 §19.10).
    MaxStreamData(MaxStreamData),
    /// MAX_STREAMS (RFC 9000 §19.11).
    MaxStreams(MaxStreams),
    /// DATA_BLOCKED (RFC 9000 §19.12).
    DataBlocked(DataBlocked),
    /// STREAM_DATA_BLOCKED (RFC 9000 §19.13).
    StreamDataBlocked(StreamDataBlocked),
    /// STREAMS_BLOCKED (RFC 9000 §19.14).
    StreamsBlocked(StreamsBlocked),
    /// NEW_CONNECTION_ID (RFC 9000 §19.15).
    NewConnectionId(NewConnectionId),
    /// RETIRE_CONNECTION_ID (RFC 9000 §19.16).
    RetireConnectionId(RetireConnectionId),
    /// PATH_CHALLENGE (RFC 9000 §19.17).
    PathChallenge(PathChallenge),
    /// PATH_RESPONSE (RFC 9000 §19.18).
    PathResponse(PathResponse),
    /// CONNECTION_CLOSE of type 0x1c (RFC 9000 §19.19).
    ConnectionClose(ConnectionClose),
    /// CONNECTION_CLOSE of type 0x1d (RFC 9000 §19.19).
    ApplicationClose(ApplicationClose),
    /// HANDSHAKE_DONE (RFC 9000 §19.20).
    HandshakeDone,
    /// DATAGRAM (RFC 9221 §4).
    Datagram(Datagram),
}

impl Frame {
    /// The frame's type as [`Frame::encode`] writes it. STREAM and DATAGRAM
    /// frames report the variant with a Length field, whatever the wire form
    /// they were decoded from.
    pub fn ty(&self) -> FrameType {
        match self {
            Self::Padding(_) => FrameType::PADDING,
            Self::Ping => FrameType::PING,
            Self::Ack(ack) => ack.frame_type(),
            Self::ResetStream(_) => FrameType::RESET_STREAM,
            Self::StopSending(_) => FrameType::STOP_SENDING,
            Self::Crypto(_) => FrameType::CRYPTO,
            Self::NewToken(_) => FrameType::NEW_TOKEN,
            Self::Stream(stream) => stream.frame_type(true),
            Self::MaxData(_) => FrameType::MAX_DATA,
            Self::MaxStreamData(_) => FrameType::MAX_STREAM_DATA,
            Self::MaxStreams(frame) => frame.frame_type(),
            Self::DataBlocked(_) => FrameType::DATA_BLOCKED,
            Self::StreamDataBlocked(_) => FrameType::STREAM_DATA_BLOCKED,
            Self::StreamsBlocked(frame) => frame.frame_type(),
            Self::NewConnectionId(_) => FrameType::NEW_CONNECTION_ID,
            Self::RetireConnectionId(_) => FrameType::RETIRE_CONNECTION_ID,
            Self::PathChallenge(_) => FrameType::PATH_CHALLENGE,
            Self::PathResponse(_) => FrameType::PATH_RESPONSE,
            Self::ConnectionClose(_) => FrameType::CONNECTION_CLOSE,
            Self::ApplicationClose(_) => FrameType::APPLICATION_CLOSE,
            Self::HandshakeDone => FrameType::HANDSHAKE_DONE,
            Self::Datagram(_) => FrameType::DATAGRAM_LEN,
        }
    }

    /// See [`FrameType::is_ack_eliciting`].
    pub fn is_ack_eliciting(&self) -> bool {
        self.ty().is_ack_eliciting()
    }

    /// See [`FrameType::counts_in_flight`].
    pub fn counts_in_flight(&self) -> bool {
        self.ty().counts_in_flight()
    }

    /// See [`FrameType::allowed_in`].
    pub fn allowed_in(&self, kind: PacketKind) -> bool {
        self.ty().allowed_in(kind)
    }

    /// Appends the frame; STREAM and DATAGRAM frames get their Length field.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        match self {
            Self::Padding(frame) => frame.encode(out),
            Self::Ping | Self::HandshakeDone => self.ty().encode(out),
            Self::Ack(frame) => frame.encode(out),
            Self::ResetStream(frame) => frame.encode(out),
            Self::StopSending(frame) => frame.encode(out),
            Self::Crypto(frame) => frame.encode(out),
            Self::NewToken(frame) => frame.encode(out),
            Self::Stream(frame) => frame.encode(out),
            Self::MaxData(frame) => frame.encode(out),
            Self::MaxStreamData(frame) => frame.encode(out),
            Self::MaxStreams(frame) => frame.encode(out),
            Self::DataBlocked(frame) => frame.encode(out),
            Self::StreamDataBlocked(frame) => frame.encode(out),
            Self::StreamsBlocked(frame) => frame.encode(out),
            Self::NewConnectionId(frame) => frame.encode(out),
            Self::RetireConnectionId(frame) => frame.encode(out),
            Self::PathChallenge(frame) => frame.encode(out),
            Self::PathResponse(frame) => frame.encode(out),
            Self::ConnectionClose(frame) => frame.encode(out),
            Self::ApplicationClose(frame) => frame.encode(out),
            Self::Datagram(frame) => frame.encode(out),
        }
    }

    /// The number of bytes [`Frame::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Padding(frame) => frame.encoded_len(),
            Self::Ping | Self::HandshakeDone => 1,
            Self::Ack(frame) => frame.encoded_len(),
            Self::ResetStream(frame) => frame.encoded_len(),
            Self::StopSending(frame) => frame.encoded_len(),
            Self::Crypto(frame) => frame.encoded_len(),
            Self::NewToken(frame) => frame.encoded_len(),
            Self::Stream(frame) => frame.encoded_len(),
            Self::MaxData(frame) => frame.encoded_len(),
            Self::MaxStreamData(frame) => frame.encoded_len(),
            Self::MaxStreams(frame) => frame.encoded_len(),
            Self::DataBlocked(frame) => frame.encoded_len(),
            Self::StreamDataBlocked(frame) => frame.encoded_len(),
            Self::StreamsBlocked(frame) => frame.encoded_len(),
            Self::NewConnectionId(frame) => frame.encoded_len(),
            Self::RetireConnectionId(frame) => frame.encoded_len(),
            Self::PathChallenge(frame) => frame.encoded_len(),
            Self::PathResponse(frame) => frame.encoded_len(),
            Self::ConnectionClose(frame) => frame.encoded_len(),
            Self::ApplicationClose(frame) => frame.encoded_len(),
            Self::Datagram(frame) => frame.encoded_len(),
        }
    }
}

#[cfg(test)]
mod tests;
