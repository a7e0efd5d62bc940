//! Walking the frames of a decrypted packet payload (RFC 9000 §12.4).

use std::iter::FusedIterator;

use bytes::{Buf, Bytes};

use super::{
    Ack, ApplicationClose, ConnectionClose, Crypto, DataBlocked, Datagram, Frame, FrameError,
    FrameErrorKind, FrameType, MaxData, MaxStreamData, MaxStreams, NewConnectionId, NewToken,
    Padding, PathChallenge, PathResponse, ResetStream, RetireConnectionId, StopSending, Stream,
    StreamDataBlocked, StreamsBlocked,
};
use crate::coding::{VarInt, size_of_varint};
use crate::shared::Dir;

/// The frames of a decrypted packet payload, in order.
///
/// Data fields of the frames yielded ([`Stream::data`], [`Crypto::data`],
/// tokens, reasons, ACK ranges, ...) are slices of the payload: nothing is
/// copied and nothing is allocated. Consecutive PADDING bytes come out as one
/// [`Frame::Padding`]. After an error the iterator yields nothing more.
///
/// ```
/// # use bytes::Bytes;
/// # use quic_proto::frame::{Frame, Iter};
/// let payload = Bytes::from_static(&[0x01, 0x00, 0x00, 0x1e]);
/// let frames: Vec<_> = Iter::new(payload).collect::<Result<_, _>>().unwrap();
/// assert_eq!(frames.len(), 3);
/// assert_eq!(frames[0], Frame::Ping);
/// assert_eq!(frames[2], Frame::HandshakeDone);
/// ```
#[derive(Debug, Clone)]
pub struct Iter {
    /// The payload not yet decoded; emptied after an error.
    rest: Bytes,
}

impl Iter {
    /// Walks the frames of `payload`.
    pub fn new(payload: Bytes) -> Self {
        Self { rest: payload }
    }

    /// The bytes not yet decoded.
    pub fn remaining(&self) -> &Bytes {
        &self.rest
    }

    /// Reads a frame type, which RFC 9000 §12.4 requires in its shortest
    /// encoding.
    fn read_type(&mut self, first: u8) -> Result<FrameType, FrameError> {
        let encoded_len = 1usize << (first >> 6);
        let value = VarInt::decode(&mut self.rest).map_err(|_| FrameError {
            frame_type: FrameType::PADDING,
            kind: FrameErrorKind::Truncated,
        })?;
        let ty = FrameType::from_var(value);
        if size_of_varint(value.into_inner()) < encoded_len {
            return Err(FrameError {
                frame_type: ty,
                kind: FrameErrorKind::NonMinimalType,
            });
        }
        Ok(ty)
    }

    /// Consumes a run of PADDING bytes.
    fn padding(&mut self) -> Frame {
        let len = self.rest.iter().take_while(|&&byte| byte == 0).count();
        self.rest.advance(len);
        Frame::Padding(Padding { len })
    }

    /// Decodes the fields after the type.
    fn decode_body(&mut self, ty: FrameType) -> Result<Frame, FrameErrorKind> {
        let buf = &mut self.rest;
        Ok(match ty.into_inner() {
            0x01 => Frame::Ping,
            0x02 | 0x03 => Frame::Ack(Ack::decode(ty == FrameType::ACK_ECN, buf)?),
            0x04 => Frame::ResetStream(ResetStream::decode(buf)?),
            0x05 => Frame::StopSending(StopSending::decode(buf)?),
            0x06 => Frame::Crypto(Crypto::decode(buf)?),
            0x07 => Frame::NewToken(NewToken::decode(buf)?),
            0x08..=0x0f => Frame::Stream(Stream::decode(ty, buf)?),
            0x10 => Frame::MaxData(MaxData::decode(buf)?),
            0x11 => Frame::MaxStreamData(MaxStreamData::decode(buf)?),
            0x12 => Frame::MaxStreams(MaxStreams::decode(Dir::Bi, buf)?),
            0x13 => Frame::MaxStreams(MaxStreams::decode(Dir::Uni, buf)?),
            0x14 => Frame::DataBlocked(DataBlocked::decode(buf)?),
            0x15 => Frame::StreamDataBlocked(StreamDataBlocked::decode(buf)?),
            0x16 => Frame::StreamsBlocked(StreamsBlocked::decode(Dir::Bi, buf)?),
            0x17 => Frame::StreamsBlocked(StreamsBlocked::decode(Dir::Uni, buf)?),
            0x18 => Frame::NewConnectionId(NewConnectionId::decode(buf)?),
            0x19 => Frame::RetireConnectionId(RetireConnectionId::decode(buf)?),
            0x1a => Frame::PathChallenge(PathChallenge::decode(buf)?),
            0x1b => Frame::PathResponse(PathResponse::decode(buf)?),
            0x1c => Frame::ConnectionClose(ConnectionClose::decode(buf)?),
            0x1d => Frame::ApplicationClose(ApplicationClose::decode(buf)?),
            0x1e => Frame::HandshakeDone,
            0x30 | 0x31 => Frame::Datagram(Datagram::decode(ty, buf)?),
            // PADDING is handled before the type is read, so only a
            // non-minimal 0x00 could get here, and that is refused earlier.
            _ => return Err(FrameErrorKind::UnknownType),
        })
    }

    fn decode_next(&mut self, first: u8) -> Result<Frame, FrameError> {
        if first == 0 {
            return Ok(self.padding());
        }
        let ty = self.read_type(first)?;
        self.decode_body(ty).map_err(|kind| FrameError {
            frame_type: ty,
            kind,
        })
    }
}

impl Iterator for Iter {
    type Item = Result<Frame, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        let first = *self.rest.first()?;
        let result = self.decode_next(first);
        if result.is_err() {
            self.rest = Bytes::new();
        }
        Some(result)
    }
}

impl FusedIterator for Iter {}
