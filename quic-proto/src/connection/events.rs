//! What a connection tells its owner: application events, the reason it
//! ended, and what the endpoint must update.

use std::fmt;

use bytes::Bytes;

use crate::cid::ConnectionId;
use crate::coding::VarInt;
use crate::error::TransportError;
use crate::frame::{ApplicationClose, ConnectionClose};
use crate::shared::{Dir, StreamId};

/// An application-facing event, drained with `Connection::poll_event` after
/// a call returns (DESIGN.md rule 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The handshake has progressed far enough that the negotiated ALPN and
    /// the server name are known.
    HandshakeDataReady,
    /// The handshake completed.
    Connected,
    /// The connection ended; no more data flows. `Drained` follows once the
    /// closing or draining period is over.
    ConnectionLost {
        /// Why.
        reason: ConnectionError,
    },
    /// The peer opened a stream, or more of ours can be opened.
    StreamOpened {
        /// The direction of the streams that can be accepted.
        dir: Dir,
    },
    /// More streams of this direction may be opened.
    StreamAvailable {
        /// The direction.
        dir: Dir,
    },
    /// Data, a FIN or a reset is waiting to be read.
    StreamReadable {
        /// The stream.
        id: StreamId,
    },
    /// Buffer or flow control space opened for writing.
    StreamWritable {
        /// The stream.
        id: StreamId,
    },
    /// Everything written and the FIN were acknowledged by the peer.
    StreamFinished {
        /// The stream.
        id: StreamId,
    },
    /// The peer asked us to stop sending (STOP_SENDING, RFC 9000 §3.5).
    StreamStopped {
        /// The stream.
        id: StreamId,
        /// The application error code the peer gave.
        error_code: VarInt,
    },
    /// A datagram arrived (RFC 9221).
    DatagramReceived,
    /// The connection's state can be freed: nothing more will be sent or
    /// accepted (MsQuic's "shutdown complete").
    Drained,
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionError {
    /// The peer speaks none of our versions (RFC 9000 §6.2).
    VersionMismatch,
    /// The peer broke the protocol and we closed with this error.
    TransportError(TransportError),
    /// The peer closed with a transport error code (RFC 9000 §19.19).
    ConnectionClosed(ConnectionClose),
    /// The peer's application closed the connection (RFC 9000 §19.19).
    ApplicationClosed(ApplicationClose),
    /// The peer sent a stateless reset (RFC 9000 §10.3).
    Reset,
    /// Nothing arrived within the idle timeout (RFC 9000 §10.1).
    TimedOut,
    /// The local application closed the connection.
    LocallyClosed,
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::VersionMismatch => f.write_str("the peer speaks none of our QUIC versions"),
            Self::TransportError(e) => write!(f, "closed for a protocol error: {e}"),
            Self::ConnectionClosed(close) => write!(
                f,
                "the peer closed the connection: {} {}",
                close.error_code,
                String::from_utf8_lossy(&close.reason)
            ),
            Self::ApplicationClosed(close) => write!(
                f,
                "the peer's application closed the connection: code {} {}",
                close.error_code,
                String::from_utf8_lossy(&close.reason)
            ),
            Self::Reset => f.write_str("the peer reset the connection"),
            Self::TimedOut => f.write_str("the connection timed out"),
            Self::LocallyClosed => f.write_str("closed by the local application"),
        }
    }
}

impl std::error::Error for ConnectionError {}

/// Something the endpoint must learn from a connection, drained with
/// `Connection::poll_endpoint_event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointEvent {
    /// Route datagrams for this connection ID here too.
    NewConnectionId {
        /// The connection ID we issued.
        id: ConnectionId,
        /// Its sequence number.
        sequence: u64,
        /// The stateless reset token that goes with it.
        reset_token: [u8; 16],
    },
    /// The peer retired this connection ID: stop routing it here.
    RetiredConnectionId {
        /// The connection ID.
        id: ConnectionId,
    },
    /// The handshake completed: the connection no longer counts toward the
    /// endpoint's pending-handshake limit, and its initial connection ID no
    /// longer needs routing.
    HandshakeComplete,
    /// The connection is drained; forget it.
    Drained,
}

/// An application close waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// The error code.
    pub error_code: VarInt,
    /// The reason.
    pub reason: Bytes,
}

impl From<crate::connection::streams::StreamEvent> for Event {
    fn from(event: crate::connection::streams::StreamEvent) -> Self {
        use crate::connection::streams::StreamEvent as S;
        match event {
            S::Opened { dir } => Self::StreamOpened { dir },
            S::Readable { id } => Self::StreamReadable { id },
            S::Writable { id } => Self::StreamWritable { id },
            S::Finished { id } => Self::StreamFinished { id },
            S::Stopped { id, error_code } => Self::StreamStopped { id, error_code },
            S::Available { dir } => Self::StreamAvailable { dir },
        }
    }
}
