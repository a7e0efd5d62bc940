//! Connection-level frames: NEW_TOKEN, NEW_CONNECTION_ID,
//! RETIRE_CONNECTION_ID, PATH_CHALLENGE, PATH_RESPONSE and CONNECTION_CLOSE
//! (RFC 9000 §19.7, §19.15 to §19.19).

use std::borrow::Cow;

use bytes::{BufMut, Bytes};

use super::data::take_bytes;
use super::{FrameErrorKind, FrameType};
use crate::cid::ConnectionId;
use crate::coding::{BufExt, BufMutExt, VarInt, size_of_varint};
use crate::error::{TransportError, TransportErrorCode};

fn var(buf: &mut Bytes) -> Result<VarInt, FrameErrorKind> {
    Ok(VarInt::decode(buf)?)
}

fn put_len<B: BufMut + ?Sized>(out: &mut B, len: usize) {
    out.put_var(VarInt::saturating_from_u64(len as u64));
}

fn len_size(len: usize) -> usize {
    size_of_varint(len as u64)
}

/// A NEW_TOKEN frame (RFC 9000 §19.7).
///
/// ```text
/// NEW_TOKEN Frame {
///   Type (i) = 0x07,
///   Token Length (i),
///   Token (..),
/// }
/// ```
///
/// Decoding refuses an empty token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// The token for a future Initial packet; never empty.
    pub token: Bytes,
}

impl NewToken {
    pub(super) fn decode(buf: &mut Bytes) -> Result<Self, FrameErrorKind> {
        let len = buf.get_var()?;
        let token = take_bytes(buf, len)?;
        if token.is_empty() {
            return Err(FrameErrorKind::EmptyToken);
        }
        Ok(Self { token })
    }

    /// Appends the frame.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        debug_assert!(!self.token.is_empty());
        FrameType::NEW_TOKEN.encode(out);
        put_len(out, self.token.len());
        out.put_slice(&self.token);
    }

    /// The number of bytes [`NewToken::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        1 + len_size(self.token.len()) + self.token.len()
    }
}

/// A NEW_CONNECTION_ID frame (RFC 9000 §19.15).
///
/// ```text
/// NEW_CONNECTION_ID Frame {
///   Type (i) = 0x18,
///   Sequence Number (i),
///   Retire Prior To (i),
///   Length (8),
///   Connection ID (8..160),
///   Stateless Reset Token (128),
/// }
/// ```
///
/// Decoding refuses a connection ID of length 0 or above 20, and a Retire
/// Prior To above the Sequence Number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewConnectionId {
    /// The sequence number the sender gave this connection ID.
    pub sequence: VarInt,
    /// Connection IDs with lower sequence numbers are to be retired.
    pub retire_prior_to: VarInt,
    /// The new connection ID, 1 to 20 bytes.
    pub id: ConnectionId,
    /// The stateless reset token for `id` (RFC 9000 §10.3).
    pub reset_token: [u8; 16],
}

impl NewConnectionId {
    pub(super) fn decode(buf: &mut Bytes) -> Result<Self, FrameErrorKind> {
        let sequence = var(buf)?;
        let retire_prior_to = var(buf)?;
        if retire_prior_to > sequence {
            return Err(FrameErrorKind::RetirePriorToTooLarge);
        }
        let len = usize::from(buf.read_u8()?);
        if !(1..=ConnectionId::MAX_LEN).contains(&len) {
            return Err(FrameErrorKind::InvalidConnectionIdLength);
        }
        let id = ConnectionId::decode(buf, len).map_err(|_| FrameErrorKind::Truncated)?;
        let mut reset_token = [0; 16];
        buf.read_to_slice(&mut reset_token)?;
        Ok(Self {
            sequence,
            retire_prior_to,
            id,
            reset_token,
        })
    }

    /// Appends the frame.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        debug_assert!(!self.id.is_empty() && self.retire_prior_to <= self.sequence);
        FrameType::NEW_CONNECTION_ID.encode(out);
        out.put_var(self.sequence);
        out.put_var(self.retire_prior_to);
        // A ConnectionId holds at most 20 bytes, so its length fits a u8.
        out.put_u8(self.id.len() as u8);
        out.put_slice(&self.id);
        out.put_slice(&self.reset_token);
    }

    /// The number of bytes [`NewConnectionId::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        1 + self.sequence.size() + self.retire_prior_to.size() + 1 + self.id.len() + 16
    }
}

/// A RETIRE_CONNECTION_ID frame (RFC 9000 §19.16).
///
/// ```text
/// RETIRE_CONNECTION_ID Frame {
///   Type (i) = 0x19,
///   Sequence Number (i),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetireConnectionId {
    /// The sequence number of the connection ID being retired.
    pub sequence: VarInt,
}

impl RetireConnectionId {
    pub(super) fn decode(buf: &mut Bytes) -> Result<Self, FrameErrorKind> {
        Ok(Self {
            sequence: var(buf)?,
        })
    }

    /// Appends the frame.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        FrameType::RETIRE_CONNECTION_ID.encode(out);
        out.put_var(self.sequence);
    }

    /// The number of bytes [`RetireConnectionId::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        1 + self.sequence.size()
    }
}

/// A PATH_CHALLENGE frame (RFC 9000 §19.17): 8 bytes of entropy the peer
/// must echo in a PATH_RESPONSE.
///
/// ```text
/// PATH_CHALLENGE Frame {
///   Type (i) = 0x1a,
///   Data (64),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathChallenge(pub [u8; 8]);

/// A PATH_RESPONSE frame (RFC 9000 §19.18), echoing a PATH_CHALLENGE's data.
///
/// ```text
/// PATH_RESPONSE Frame {
///   Type (i) = 0x1b,
///   Data (64),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathResponse(pub [u8; 8]);

fn decode_path_data(buf: &mut Bytes) -> Result<[u8; 8], FrameErrorKind> {
    let mut data = [0; 8];
    buf.read_to_slice(&mut data)?;
    Ok(data)
}

impl PathChallenge {
    pub(super) fn decode(buf: &mut Bytes) -> Result<Self, FrameErrorKind> {
        decode_path_data(buf).map(Self)
    }

    /// Appends the frame.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        FrameType::PATH_CHALLENGE.encode(out);
        out.put_slice(&self.0);
    }

    /// The number of bytes [`PathChallenge::encode`] writes: 9.
    pub fn encoded_len(&self) -> usize {
        9
    }
}

impl PathResponse {
    pub(super) fn decode(buf: &mut Bytes) -> Result<Self, FrameErrorKind> {
        decode_path_data(buf).map(Self)
    }

    /// Appends the frame.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        FrameType::PATH_RESPONSE.encode(out);
        out.put_slice(&self.0);
    }

    /// The number of bytes [`PathResponse::encode`] writes: 9.
    pub fn encoded_len(&self) -> usize {
        9
    }
}

/// A CONNECTION_CLOSE frame of type 0x1c, signalling a transport error or
/// NO_ERROR (RFC 9000 §19.19).
///
/// ```text
/// CONNECTION_CLOSE Frame {
///   Type (i) = 0x1c..0x1d,
///   Error Code (i),
///   [Frame Type (i)],
///   Reason Phrase Length (i),
///   Reason Phrase (..),
/// }
/// ```
///
/// The Frame Type field is present only in type 0x1c; see [`ApplicationClose`]
/// for type 0x1d. The reason phrase is not checked for UTF-8 (the RFC says
/// only that it SHOULD be).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionClose {
    /// The transport error code (RFC 9000 §20.1).
    pub error_code: TransportErrorCode,
    /// The type of the frame that caused the error; 0 when unknown.
    pub frame_type: FrameType,
    /// Diagnostic text: a slice of the packet payload when decoded.
    pub reason: Bytes,
}

impl ConnectionClose {
    pub(super) fn decode(buf: &mut Bytes) -> Result<Self, FrameErrorKind> {
        let error_code = TransportErrorCode::from_u64(buf.get_var()?);
        let frame_type = FrameType::from_var(var(buf)?);
        let len = buf.get_var()?;
        let reason = take_bytes(buf, len)?;
        Ok(Self {
            error_code,
            frame_type,
            reason,
        })
    }

    /// Appends the frame.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        FrameType::CONNECTION_CLOSE.encode(out);
        out.put_var(VarInt::saturating_from_u64(self.error_code.into_inner()));
        self.frame_type.encode(out);
        put_len(out, self.reason.len());
        out.put_slice(&self.reason);
    }

    /// The number of bytes [`ConnectionClose::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        1 + size_of_varint(self.error_code.into_inner())
            + self.frame_type.encoded_len()
            + len_size(self.reason.len())
            + self.reason.len()
    }
}

impl From<TransportError> for ConnectionClose {
    /// The frame that reports `err` to the peer. A `'static` reason is not
    /// copied.
    fn from(err: TransportError) -> Self {
        let reason = match err.reason {
            Cow::Borrowed(text) => Bytes::from_static(text.as_bytes()),
            Cow::Owned(text) => Bytes::from(text.into_bytes()),
        };
        let frame_type = err.frame_type.unwrap_or(0);
        Self {
            error_code: err.code,
            frame_type: FrameType::from_var(VarInt::saturating_from_u64(frame_type)),
            reason,
        }
    }
}

/// A CONNECTION_CLOSE frame of type 0x1d, signalling an application error
/// (RFC 9000 §19.19). Only 0-RTT and 1-RTT packets may carry it (§12.5); during
/// the handshake send a [`ConnectionClose`] with APPLICATION_ERROR instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationClose {
    /// The application protocol's error code (RFC 9000 §20.2).
    pub error_code: VarInt,
    /// Diagnostic text: a slice of the packet payload when decoded.
    pub reason: Bytes,
}

impl ApplicationClose {
    pub(super) fn decode(buf: &mut Bytes) -> Result<Self, FrameErrorKind> {
        let error_code = var(buf)?;
        let len = buf.get_var()?;
        let reason = take_bytes(buf, len)?;
        Ok(Self { error_code, reason })
    }

    /// Appends the frame.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        FrameType::APPLICATION_CLOSE.encode(out);
        out.put_var(self.error_code);
        put_len(out, self.reason.len());
        out.put_slice(&self.reason);
    }

    /// The number of bytes [`ApplicationClose::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        1 + self.error_code.size() + len_size(self.reason.len()) + self.reason.len()
    }
}
