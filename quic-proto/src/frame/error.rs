//! Why a frame could not be decoded.

use std::fmt;

use crate::coding::UnexpectedEnd;
use crate::error::{TransportError, TransportErrorCode};

use super::FrameType;

/// A frame the peer sent could not be decoded: the connection closes with
/// [`FrameError::code`], naming [`FrameError::frame_type`] (RFC 9000 §19.19).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameError {
    /// The type of the offending frame. When the type itself could not be
    /// read (the payload ends inside it), this is 0, the value RFC 9000
    /// §19.19 uses for an unknown frame type.
    pub frame_type: FrameType,
    /// What was wrong with it.
    pub kind: FrameErrorKind,
}

/// What was wrong with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameErrorKind {
    /// The payload ends before the frame's fields do, or a length field
    /// points past the end of the payload (RFC 9000 §12.4).
    Truncated,
    /// The frame type is not one this crate knows (RFC 9000 §12.4).
    UnknownType,
    /// The frame type is not in its shortest encoding; RFC 9000 §12.4 allows
    /// treating this as a PROTOCOL_VIOLATION.
    NonMinimalType,
    /// A STREAM or CRYPTO frame's offset plus length exceeds 2^62 - 1
    /// (RFC 9000 §19.6, §19.8).
    OffsetTooLarge,
    /// A MAX_STREAMS or STREAMS_BLOCKED count exceeds 2^60
    /// (RFC 9000 §19.11, §19.14).
    StreamCountTooLarge,
    /// An ACK range would go below packet number zero (RFC 9000 §19.3.1).
    AckRangeUnderflow,
    /// A NEW_CONNECTION_ID length is 0 or above 20 (RFC 9000 §19.15).
    InvalidConnectionIdLength,
    /// A NEW_CONNECTION_ID's Retire Prior To exceeds its Sequence Number
    /// (RFC 9000 §19.15).
    RetirePriorToTooLarge,
    /// A NEW_TOKEN frame carries an empty token (RFC 9000 §19.7).
    EmptyToken,
}

impl FrameErrorKind {
    /// The transport error code RFC 9000 assigns to this failure.
    pub fn code(self) -> TransportErrorCode {
        match self {
            Self::NonMinimalType => TransportErrorCode::PROTOCOL_VIOLATION,
            Self::Truncated
            | Self::UnknownType
            | Self::OffsetTooLarge
            | Self::StreamCountTooLarge
            | Self::AckRangeUnderflow
            | Self::InvalidConnectionIdLength
            | Self::RetirePriorToTooLarge
            | Self::EmptyToken => TransportErrorCode::FRAME_ENCODING_ERROR,
        }
    }

    /// A short description, sent to the peer as the reason phrase.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Truncated => "frame truncated",
            Self::UnknownType => "unknown frame type",
            Self::NonMinimalType => "frame type not minimally encoded",
            Self::OffsetTooLarge => "offset plus length exceeds 2^62-1",
            Self::StreamCountTooLarge => "stream count exceeds 2^60",
            Self::AckRangeUnderflow => "ACK range below packet number zero",
            Self::InvalidConnectionIdLength => "connection ID length not in 1..=20",
            Self::RetirePriorToTooLarge => "Retire Prior To exceeds Sequence Number",
            Self::EmptyToken => "empty NEW_TOKEN token",
        }
    }
}

impl From<UnexpectedEnd> for FrameErrorKind {
    fn from(_: UnexpectedEnd) -> Self {
        Self::Truncated
    }
}

impl FrameError {
    /// The transport error code to close the connection with.
    pub fn code(&self) -> TransportErrorCode {
        self.kind.code()
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} in frame {:#x}: {}",
            self.code(),
            self.frame_type.into_inner(),
            self.kind.reason()
        )
    }
}

impl std::error::Error for FrameError {}

impl From<FrameError> for TransportError {
    fn from(err: FrameError) -> Self {
        TransportError::new(err.code(), err.kind.reason())
            .with_frame_type(err.frame_type.into_inner())
    }
}
