//! One error type per operation (STYLE.md §7), each convertible to
//! [`io::Error`] for code that works in terms of `AsyncRead`/`AsyncWrite`.
//!
//! Peer behaviour (the peer closed, reset or stopped something) and local
//! misuse (a stream already finished, an endpoint already closed) are
//! separate variants, so a caller can match on what it cares about.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use quic_proto::coding::VarInt;
use quic_proto::crypto::rustls::NewSessionError;
use quic_proto::error::TransportError;
use quic_proto::frame::{ApplicationClose, ConnectionClose};

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The peer speaks none of our QUIC versions (RFC 9000 §6.2).
    VersionMismatch,
    /// The peer broke the protocol; we closed the connection with this
    /// transport error.
    TransportError(TransportError),
    /// The peer closed the connection with a transport error code
    /// (RFC 9000 §19.19).
    ConnectionClosed(ConnectionClose),
    /// The peer's application closed the connection, with its code and
    /// reason (RFC 9000 §19.19).
    ApplicationClosed(ApplicationClose),
    /// The peer sent a stateless reset (RFC 9000 §10.3).
    Reset,
    /// Nothing arrived within the idle timeout (RFC 9000 §10.1).
    TimedOut,
    /// This side closed the connection: [`Connection::close`], dropping
    /// every handle, or [`Endpoint::close`].
    ///
    /// [`Connection::close`]: crate::Connection::close
    /// [`Endpoint::close`]: crate::Endpoint::close
    LocallyClosed,
    /// The endpoint's driver stopped (its runtime shut down), so the
    /// connection can no longer send or receive.
    EndpointStopped,
}

impl From<quic_proto::connection::ConnectionError> for ConnectionError {
    fn from(error: quic_proto::connection::ConnectionError) -> Self {
        use quic_proto::connection::ConnectionError as E;
        match error {
            E::VersionMismatch => Self::VersionMismatch,
            E::TransportError(e) => Self::TransportError(e),
            E::ConnectionClosed(close) => Self::ConnectionClosed(close),
            E::ApplicationClosed(close) => Self::ApplicationClosed(close),
            E::Reset => Self::Reset,
            E::TimedOut => Self::TimedOut,
            E::LocallyClosed => Self::LocallyClosed,
        }
    }
}

impl ConnectionError {
    /// The protocol crate's error this one wraps; `None` for the driver's
    /// own `EndpointStopped`.
    fn to_proto(&self) -> Option<quic_proto::connection::ConnectionError> {
        use quic_proto::connection::ConnectionError as E;
        Some(match self {
            Self::VersionMismatch => E::VersionMismatch,
            Self::TransportError(e) => E::TransportError(e.clone()),
            Self::ConnectionClosed(close) => E::ConnectionClosed(close.clone()),
            Self::ApplicationClosed(close) => E::ApplicationClosed(close.clone()),
            Self::Reset => E::Reset,
            Self::TimedOut => E::TimedOut,
            Self::LocallyClosed => E::LocallyClosed,
            Self::EndpointStopped => return None,
        })
    }
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_proto() {
            Some(error) => error.fmt(f),
            None => f.write_str("the endpoint's driver stopped"),
        }
    }
}

impl std::error::Error for ConnectionError {}

impl From<ConnectionError> for io::Error {
    fn from(error: ConnectionError) -> Self {
        let kind = match &error {
            ConnectionError::TimedOut => io::ErrorKind::TimedOut,
            ConnectionError::Reset => io::ErrorKind::ConnectionReset,
            ConnectionError::ApplicationClosed(_) | ConnectionError::ConnectionClosed(_) => {
                io::ErrorKind::ConnectionAborted
            }
            ConnectionError::VersionMismatch => io::ErrorKind::ConnectionRefused,
            ConnectionError::LocallyClosed | ConnectionError::EndpointStopped => {
                io::ErrorKind::NotConnected
            }
            ConnectionError::TransportError(_) => io::ErrorKind::InvalidData,
        };
        Self::new(kind, error)
    }
}

/// Why [`Endpoint::connect`](crate::Endpoint::connect) could not start a
/// connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectError {
    /// The endpoint was closed, or its driver stopped.
    EndpointStopping,
    /// No client configuration: set one with
    /// [`Endpoint::set_default_client_config`](crate::Endpoint::set_default_client_config)
    /// or use [`Endpoint::connect_with`](crate::Endpoint::connect_with).
    NoDefaultClientConfig,
    /// The address has port 0 or an unspecified IP, or its family does not
    /// match the endpoint's socket.
    InvalidRemoteAddress(SocketAddr),
    /// The TLS configuration or the server name is unusable.
    Tls(NewSessionError),
    /// The transport configuration is invalid.
    InvalidTransportConfig(TransportError),
}

impl From<quic_proto::connection::ConnectError> for ConnectError {
    fn from(error: quic_proto::connection::ConnectError) -> Self {
        match error {
            quic_proto::connection::ConnectError::Tls(e) => Self::Tls(e),
            quic_proto::connection::ConnectError::Config(e) => Self::InvalidTransportConfig(e),
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EndpointStopping => f.write_str("the endpoint is closed"),
            Self::NoDefaultClientConfig => f.write_str("no default client configuration"),
            Self::InvalidRemoteAddress(addr) => write!(f, "invalid remote address {addr}"),
            Self::Tls(e) => write!(f, "TLS setup failed: {e}"),
            Self::InvalidTransportConfig(e) => write!(f, "invalid transport configuration: {e}"),
        }
    }
}

impl std::error::Error for ConnectError {}

impl From<ConnectError> for io::Error {
    fn from(error: ConnectError) -> Self {
        let kind = match error {
            ConnectError::EndpointStopping => io::ErrorKind::NotConnected,
            ConnectError::InvalidRemoteAddress(_) => io::ErrorKind::AddrNotAvailable,
            _ => io::ErrorKind::InvalidInput,
        };
        Self::new(kind, error)
    }
}

/// Why [`Incoming::accept`](crate::Incoming::accept) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcceptError {
    /// The endpoint was closed, or no longer has a server configuration.
    EndpointStopping,
    /// The server's TLS configuration could not start a session.
    Tls(NewSessionError),
    /// The transport configuration is invalid.
    InvalidTransportConfig(TransportError),
}

impl From<quic_proto::endpoint::AcceptError> for AcceptError {
    fn from(error: quic_proto::endpoint::AcceptError) -> Self {
        match error {
            quic_proto::endpoint::AcceptError::NotAServer => Self::EndpointStopping,
            quic_proto::endpoint::AcceptError::Connect(e) => match ConnectError::from(e) {
                ConnectError::Tls(e) => Self::Tls(e),
                ConnectError::InvalidTransportConfig(e) => Self::InvalidTransportConfig(e),
                _ => Self::EndpointStopping,
            },
        }
    }
}

impl fmt::Display for AcceptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EndpointStopping => f.write_str("the endpoint is closed or not a server"),
            Self::Tls(e) => write!(f, "TLS setup failed: {e}"),
            Self::InvalidTransportConfig(e) => write!(f, "invalid transport configuration: {e}"),
        }
    }
}

impl std::error::Error for AcceptError {}

impl From<AcceptError> for io::Error {
    fn from(error: AcceptError) -> Self {
        Self::new(io::ErrorKind::InvalidInput, error)
    }
}

/// The stream was already finished, reset or stopped, or is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosedStream;

impl fmt::Display for ClosedStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("closed stream")
    }
}

impl std::error::Error for ClosedStream {}

impl From<ClosedStream> for io::Error {
    fn from(error: ClosedStream) -> Self {
        Self::new(io::ErrorKind::NotConnected, error)
    }
}

/// Why a write to a [`SendStream`](crate::SendStream) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// The peer asked us to stop sending with this application error code
    /// (STOP_SENDING, RFC 9000 §3.5); the stream was reset with it.
    Stopped(VarInt),
    /// The connection ended.
    ConnectionLost(ConnectionError),
    /// The stream was already finished or reset.
    ClosedStream,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stopped(code) => write!(f, "the peer stopped the stream with code {code}"),
            Self::ConnectionLost(e) => write!(f, "connection lost: {e}"),
            Self::ClosedStream => ClosedStream.fmt(f),
        }
    }
}

impl std::error::Error for WriteError {}

impl From<WriteError> for io::Error {
    fn from(error: WriteError) -> Self {
        let kind = match &error {
            WriteError::Stopped(_) => io::ErrorKind::ConnectionReset,
            WriteError::ConnectionLost(e) => io::Error::from(e.clone()).kind(),
            WriteError::ClosedStream => io::ErrorKind::NotConnected,
        };
        Self::new(kind, error)
    }
}

/// Why [`SendStream::stopped`](crate::SendStream::stopped) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoppedError {
    /// The connection ended first.
    ConnectionLost(ConnectionError),
    /// The stream was reset by this side, so it will never be
    /// acknowledged.
    ClosedStream,
}

impl fmt::Display for StoppedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ConnectionLost(e) => write!(f, "connection lost: {e}"),
            Self::ClosedStream => ClosedStream.fmt(f),
        }
    }
}

impl std::error::Error for StoppedError {}

impl From<StoppedError> for io::Error {
    fn from(error: StoppedError) -> Self {
        let kind = match &error {
            StoppedError::ConnectionLost(e) => io::Error::from(e.clone()).kind(),
            StoppedError::ClosedStream => io::ErrorKind::NotConnected,
        };
        Self::new(kind, error)
    }
}

/// Why a read from a [`RecvStream`](crate::RecvStream) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The peer abandoned the stream with this application error code
    /// (RESET_STREAM, RFC 9000 §3.2).
    Reset(VarInt),
    /// The connection ended.
    ConnectionLost(ConnectionError),
    /// The stream was stopped by this side, or already reported its reset.
    ClosedStream,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Reset(code) => write!(f, "the peer reset the stream with code {code}"),
            Self::ConnectionLost(e) => write!(f, "connection lost: {e}"),
            Self::ClosedStream => ClosedStream.fmt(f),
        }
    }
}

impl std::error::Error for ReadError {}

impl From<ReadError> for io::Error {
    fn from(error: ReadError) -> Self {
        let kind = match &error {
            ReadError::Reset(_) => io::ErrorKind::ConnectionReset,
            ReadError::ConnectionLost(e) => io::Error::from(e.clone()).kind(),
            ReadError::ClosedStream => io::ErrorKind::NotConnected,
        };
        Self::new(kind, error)
    }
}

/// Why [`RecvStream::read_exact`](crate::RecvStream::read_exact) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadExactError {
    /// The stream ended after this many bytes, before the buffer was full.
    FinishedEarly(usize),
    /// A read failed.
    ReadError(ReadError),
}

impl fmt::Display for ReadExactError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FinishedEarly(n) => write!(f, "the stream ended early, after {n} bytes"),
            Self::ReadError(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ReadExactError {}

impl From<ReadExactError> for io::Error {
    fn from(error: ReadExactError) -> Self {
        match error {
            ReadExactError::FinishedEarly(_) => Self::new(io::ErrorKind::UnexpectedEof, error),
            ReadExactError::ReadError(e) => e.into(),
        }
    }
}

/// Why [`RecvStream::read_to_end`](crate::RecvStream::read_to_end) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadToEndError {
    /// The stream is longer than the limit given.
    TooLong,
    /// A read failed.
    ReadError(ReadError),
}

impl fmt::Display for ReadToEndError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong => f.write_str("the stream is longer than the limit"),
            Self::ReadError(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ReadToEndError {}

impl From<ReadToEndError> for io::Error {
    fn from(error: ReadToEndError) -> Self {
        match error {
            ReadToEndError::TooLong => Self::new(io::ErrorKind::InvalidData, error),
            ReadToEndError::ReadError(e) => e.into(),
        }
    }
}

/// Why [`Connection::send_datagram`](crate::Connection::send_datagram)
/// failed (RFC 9221).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendDatagramError {
    /// The peer does not accept datagrams (it did not advertise
    /// `max_datagram_frame_size`, RFC 9221 §3).
    UnsupportedByPeer,
    /// The datagram is larger than the peer accepts or than fits in one
    /// packet; see
    /// [`Connection::max_datagram_size`](crate::Connection::max_datagram_size).
    TooLarge,
    /// The connection ended.
    ConnectionLost(ConnectionError),
}

impl From<quic_proto::connection::SendDatagramError> for SendDatagramError {
    fn from(error: quic_proto::connection::SendDatagramError) -> Self {
        match error {
            quic_proto::connection::SendDatagramError::UnsupportedByPeer => Self::UnsupportedByPeer,
            quic_proto::connection::SendDatagramError::TooLarge => Self::TooLarge,
        }
    }
}

impl fmt::Display for SendDatagramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedByPeer => f.write_str("the peer does not accept datagrams"),
            Self::TooLarge => f.write_str("datagram too large"),
            Self::ConnectionLost(e) => write!(f, "connection lost: {e}"),
        }
    }
}

impl std::error::Error for SendDatagramError {}

impl From<SendDatagramError> for io::Error {
    fn from(error: SendDatagramError) -> Self {
        let kind = match &error {
            SendDatagramError::UnsupportedByPeer => io::ErrorKind::Unsupported,
            SendDatagramError::TooLarge => io::ErrorKind::InvalidInput,
            SendDatagramError::ConnectionLost(e) => io::Error::from(e.clone()).kind(),
        };
        Self::new(kind, error)
    }
}

/// Why a configuration could not be built.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConfigError {
    /// rustls rejected the certificate chain or the key.
    Tls(rustls::Error),
    /// The rustls configuration cannot run QUIC (RFC 9001 §4.2: TLS 1.3
    /// only; no 0-RTT size other than 0 or `u32::MAX`).
    Unsuitable(NewSessionError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tls(e) => write!(f, "TLS configuration rejected: {e}"),
            Self::Unsuitable(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<rustls::Error> for ConfigError {
    fn from(error: rustls::Error) -> Self {
        Self::Tls(error)
    }
}

impl From<ConfigError> for io::Error {
    fn from(error: ConfigError) -> Self {
        Self::new(io::ErrorKind::InvalidInput, error)
    }
}
