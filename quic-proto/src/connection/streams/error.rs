//! The errors of the application-facing stream operations (STYLE.md §7): one
//! type per operation, apart from the transport errors a peer causes.

use std::fmt;

use crate::coding::VarInt;

/// The stream does not exist for this operation: never opened, already
/// closed and forgotten, or of the wrong direction (writing to a
/// receive-only stream, reading from a send-only one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosedStream;

impl fmt::Display for ClosedStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("closed or unknown stream")
    }
}

impl std::error::Error for ClosedStream {}

/// Why [`Streams::write`](super::Streams::write) accepted nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteError {
    /// The send buffer is full or the peer's flow control credit is used up;
    /// a [`StreamEvent::Writable`](super::StreamEvent::Writable) follows
    /// when more can be written.
    Blocked,
    /// The peer sent STOP_SENDING with this application error code; the
    /// stream was reset with the same code (RFC 9000 §3.5).
    Stopped(VarInt),
    /// No sending part to write to, or it was finished or reset.
    ClosedStream,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Blocked => f.write_str("stream blocked by flow control or its send buffer"),
            Self::Stopped(code) => write!(f, "peer stopped the stream with code {code}"),
            Self::ClosedStream => ClosedStream.fmt(f),
        }
    }
}

impl std::error::Error for WriteError {}

/// Why [`Streams::finish`](super::Streams::finish) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishError {
    /// The peer sent STOP_SENDING with this code; the stream was reset.
    Stopped(VarInt),
    /// No sending part, or it was already finished or reset.
    ClosedStream,
}

impl fmt::Display for FinishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stopped(code) => write!(f, "peer stopped the stream with code {code}"),
            Self::ClosedStream => ClosedStream.fmt(f),
        }
    }
}

impl std::error::Error for FinishError {}

/// Why [`Streams::read`](super::Streams::read) returned no data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadError {
    /// Nothing to read yet; a
    /// [`StreamEvent::Readable`](super::StreamEvent::Readable) follows when
    /// there is.
    Blocked,
    /// The peer reset the stream with this application error code
    /// (RFC 9000 §3.2 "App Read Reset"). Reported once; the stream is then
    /// closed.
    Reset(VarInt),
    /// No receiving part to read from: unknown, send-only, already read to
    /// the end or reset and reported, or stopped by the application.
    ClosedStream,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Blocked => f.write_str("no stream data available yet"),
            Self::Reset(code) => write!(f, "peer reset the stream with code {code}"),
            Self::ClosedStream => ClosedStream.fmt(f),
        }
    }
}

impl std::error::Error for ReadError {}

/// What became of a STREAM frame given to
/// [`Streams::received_stream`](super::Streams::received_stream) that broke
/// no rule of the peer's.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFrameOutcome {
    /// The frame was processed.
    Accepted,
    /// Buffering the frame would exceed
    /// [`StreamsConfig::max_out_of_order_chunks`](super::StreamsConfig::max_out_of_order_chunks).
    /// Nothing changed. The connection must drop the whole packet without
    /// acknowledging it (and stop processing its frames), so that the peer
    /// retransmits the data once the application has read some.
    Refused,
}
