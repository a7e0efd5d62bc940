//! New connections (RFC 9000 §7, §8.1, §14.1): a client's first Initial
//! becomes an [`Incoming`] that the application accepts, refuses, answers
//! with a Retry, or ignores.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::client_hello::client_transport_parameters;
use super::{ConnectionHandle, DatagramEvent, Endpoint};
use crate::cid::ConnectionId;
use crate::connection::handshake::ConnectError;
use crate::connection::{Connection, ConnectionParams, CryptoSetup, EcnCodepoint, Transmit};
use crate::crypto::{initial_keys, retry_integrity_tag};
use crate::error::TransportErrorCode;
use crate::frame::{ConnectionClose, Frame, FrameType};
use crate::packet::{LongHeader, LongKind, PacketNumber, PartialDecode, RetryHeader};
use crate::shared::Side;
use crate::token::{RetryToken, Token};
use crate::transport_params::TransportParameters;
use crate::version::Version;

/// A client's first Initial, waiting for the application's decision.
#[derive(Debug)]
pub struct Incoming {
    received_at: Instant,
    remote: SocketAddr,
    /// The ECN codepoint of the first datagram.
    ecn: Option<EcnCodepoint>,
    data: BytesMut,
    /// The version of the client's Initial packets.
    initial_version: Version,
    /// The version the connection will use (RFC 9368 compatible
    /// negotiation may pick another than `initial_version`).
    version: Version,
    dst_cid: ConnectionId,
    src_cid: ConnectionId,
    /// The DCID of the client's very first Initial (from a Retry token).
    original_dst_cid: ConnectionId,
    retry_src_cid: Option<ConnectionId>,
    address_validated: bool,
}

impl Incoming {
    /// The client's address.
    pub fn remote_address(&self) -> SocketAddr {
        self.remote
    }

    /// Whether the client proved its address with a token (RFC 9000 §8.1).
    pub fn remote_address_validated(&self) -> bool {
        self.address_validated
    }

    /// Whether [`Endpoint::retry`] may answer it: not after a Retry already.
    pub fn may_retry(&self) -> bool {
        self.retry_src_cid.is_none()
    }

    /// The Destination Connection ID of the client's Initial. The client
    /// repeats it in every Initial until it hears from the server (RFC 9000
    /// §7.2), so a host that queues `Incoming`s for the application can tell
    /// a retransmitted Initial from a new connection.
    pub fn dst_cid(&self) -> ConnectionId {
        self.dst_cid
    }
}

/// Why an [`Incoming`] could not be accepted.
#[derive(Debug)]
pub enum AcceptError {
    /// The endpoint has no server configuration.
    NotAServer,
    /// The connection could not be built.
    Connect(ConnectError),
}

impl std::fmt::Display for AcceptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotAServer => f.write_str("the endpoint does not accept connections"),
            Self::Connect(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AcceptError {}

/// Why a Retry could not be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryError {
    /// The client already came back from a Retry (RFC 9000 §17.2.5.1: one
    /// per connection).
    AlreadyRetried,
    /// The endpoint has no server configuration.
    NotAServer,
}

impl std::fmt::Display for RetryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AlreadyRetried => f.write_str("the client was already sent a Retry"),
            Self::NotAServer => f.write_str("the endpoint does not accept connections"),
        }
    }
}

impl std::error::Error for RetryError {}

impl Endpoint {
    /// A datagram that routes nowhere but starts with a long header of a
    /// version we speak: a new connection if it is a well-formed Initial in
    /// a datagram of at least 1,200 bytes (RFC 9000 §14.1); dropped
    /// otherwise.
    pub(super) fn new_connection(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        ecn: Option<EcnCodepoint>,
        data: BytesMut,
        response: &mut Vec<u8>,
    ) -> Option<DatagramEvent> {
        let server = self.server.clone()?;
        if data.len() < 1200 {
            return None;
        }
        let (partial, _) = PartialDecode::new(data.clone(), 0, self.config.grease_quic_bit).ok()?;
        if !partial.is_initial() {
            return None;
        }
        let version = partial.version()?;
        let dst_cid = *partial.dst_cid();
        let src_cid = *partial.src_cid()?;
        if dst_cid.len() < 8 {
            // RFC 9000 §7.2: a client's first DCID is at least 8 bytes.
            return None;
        }
        let client_params = client_transport_parameters(&data, version, &dst_cid).ok()?;
        let negotiated = self.negotiate_version(version, client_params.as_ref());
        let mut incoming = Incoming {
            received_at: now,
            remote,
            ecn,
            data,
            initial_version: version,
            version: negotiated,
            dst_cid,
            src_cid,
            original_dst_cid: dst_cid,
            retry_src_cid: None,
            address_validated: false,
        };
        let token = partial.token().unwrap_or_default();
        if !token.is_empty() {
            match server.token_key.open(token, remote, self.wall_clock(now)) {
                Ok(Token::Retry(retry)) if retry.retry_src_cid == dst_cid => {
                    incoming.original_dst_cid = retry.original_dst_cid;
                    incoming.retry_src_cid = Some(dst_cid);
                    incoming.address_validated = true;
                }
                Ok(Token::NewToken(_)) => incoming.address_validated = true,
                // RFC 9000 §8.1.3: an invalid token is ignored; the client is
                // treated as unvalidated.
                _ => {}
            }
        }
        if self.handshaking >= server.max_incoming {
            // Too many handshakes at once: refuse rather than grow.
            return self.refuse(incoming, response).map(DatagramEvent::Response);
        }
        if server.retry_all && !incoming.address_validated {
            return self
                .retry(incoming, response)
                .ok()
                .map(DatagramEvent::Response);
        }
        Some(DatagramEvent::NewConnection(incoming))
    }

    /// Compatible version negotiation (RFC 9368 §2.3, RFC 9369 §4): the
    /// first of our versions, in our order of preference, that the client
    /// listed as available and that is compatible with its Initial's
    /// version. v1 and v2 are compatible both ways.
    fn negotiate_version(&self, initial: Version, params: Option<&TransportParameters>) -> Version {
        let Some(info) = params.and_then(|p| p.version_information.as_ref()) else {
            return initial;
        };
        let compatible = |v: Version| v == initial || (v.is_supported() && initial.is_supported());
        self.config
            .supported_versions
            .iter()
            .copied()
            .find(|&v| compatible(v) && (v == initial || info.available_versions().any(|a| a == v)))
            .unwrap_or(initial)
    }

    /// Accepts a new connection and gives it its first datagram.
    pub fn accept(
        &mut self,
        incoming: Incoming,
        now: Instant,
    ) -> Result<(ConnectionHandle, Connection), AcceptError> {
        let server = self.server.clone().ok_or(AcceptError::NotAServer)?;
        let local_cid = self.new_local_cid();
        let params = ConnectionParams {
            version: incoming.version,
            initial_version: incoming.initial_version,
            available_versions: self.config.supported_versions.clone(),
            config: server.transport.clone(),
            crypto: CryptoSetup::Server {
                config: server.crypto.clone(),
                original_dst_cid: incoming.original_dst_cid,
                retry_src_cid: incoming.retry_src_cid,
            },
            remote: incoming.remote,
            local_cid,
            initial_dst_cid: incoming.dst_cid,
            remote_cid: incoming.src_cid,
            issuer: self.issuer(),
            rng: self.rng.fork(),
            grease_quic_bit: self.config.grease_quic_bit,
            address_validated: incoming.address_validated,
            token: Bytes::new(),
        };
        let mut connection = Connection::new(params, now).map_err(AcceptError::Connect)?;
        let handle = self
            .routes
            .insert(local_cid, Some(incoming.dst_cid), incoming.remote);
        self.handshaking += 1;
        connection.handle_datagram(
            now.max(incoming.received_at),
            incoming.remote,
            incoming.ecn,
            incoming.data,
        );
        Ok((handle, connection))
    }

    /// Refuses a new connection with CONNECTION_REFUSED in an Initial
    /// (RFC 9000 §5.2.2). Returns what to send, written into `response`.
    pub fn refuse(&mut self, incoming: Incoming, response: &mut Vec<u8>) -> Option<Transmit> {
        let keys = initial_keys(incoming.initial_version, &incoming.dst_cid, Side::Server).ok()?;
        let local_cid = self.new_local_cid();
        let header = LongHeader::new(
            LongKind::Initial {
                token: Bytes::new(),
            },
            incoming.version,
            incoming.src_cid,
            local_cid,
            PacketNumber::new(0, None),
        );
        response.clear();
        let partial = header.encode(response).ok()?;
        Frame::ConnectionClose(ConnectionClose {
            error_code: TransportErrorCode::CONNECTION_REFUSED,
            frame_type: FrameType::from_var(crate::coding::VarInt::ZERO),
            reason: Bytes::new(),
        })
        .encode(response);
        // Room for the header protection sample, then the tag.
        response.resize(response.len() + 4 + keys.packet.local.tag_len(), 0);
        partial
            .finish(response, 0, &*keys.packet.local, &*keys.header.local)
            .ok()?;
        Some(Transmit {
            destination: incoming.remote,
            ecn: None,
            size: response.len(),
            segment_size: None,
        })
    }

    /// Answers a new connection with a Retry carrying an address-validation
    /// token (RFC 9000 §8.1.2, §17.2.5). The client comes back with it.
    pub fn retry(
        &mut self,
        incoming: Incoming,
        response: &mut Vec<u8>,
    ) -> Result<Transmit, RetryError> {
        let server = self.server.clone().ok_or(RetryError::NotAServer)?;
        if !incoming.may_retry() {
            return Err(RetryError::AlreadyRetried);
        }
        let retry_src_cid = self.new_local_cid();
        let issued = self.wall_clock(incoming.received_at);
        let token = server.token_key.seal_retry(
            &mut self.rng,
            &RetryToken {
                original_dst_cid: incoming.dst_cid,
                retry_src_cid,
                client_address: incoming.remote,
                issued,
            },
        );
        let header = RetryHeader {
            version: incoming.initial_version,
            dst_cid: incoming.src_cid,
            src_cid: retry_src_cid,
            token: Bytes::from(token),
            unused: (self.rng.next_u32() & 0x0f) as u8,
            fixed_bit: true,
        };
        response.clear();
        header
            .encode(response)
            .map_err(|_| RetryError::NotAServer)?;
        let tag = retry_integrity_tag(incoming.initial_version, &incoming.dst_cid, response)
            .map_err(|_| RetryError::NotAServer)?;
        response.extend_from_slice(&tag);
        Ok(Transmit {
            destination: incoming.remote,
            ecn: None,
            size: response.len(),
            segment_size: None,
        })
    }

    /// Drops a new connection without an answer.
    pub fn ignore(&mut self, incoming: Incoming) {
        drop(incoming);
    }
}
