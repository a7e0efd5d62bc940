//! The connection state machine (RFC 9000, RFC 9001, RFC 9002).
//!
//! A [`Connection`] is a plain value driven by its owner through the sans-IO
//! calls of DESIGN.md: [`handle_datagram`](Connection::handle_datagram) and
//! [`handle_timeout`](Connection::handle_timeout) feed it,
//! [`poll_transmit`](Connection::poll_transmit),
//! [`poll_timeout`](Connection::poll_timeout),
//! [`poll_event`](Connection::poll_event) and
//! [`poll_endpoint_event`](Connection::poll_endpoint_event) drain it. After any
//! call that feeds it or changes it through the application API, the owner
//! drains transmits, then events, then re-reads the timeout.
//!
//! The pieces, one module each: packet number spaces with their CRYPTO
//! streams and ACK tracking (`spaces`, [`crypto_stream`], [`ack_tracker`]),
//! the handshake ([`handshake`]) and version negotiation (`negotiation`),
//! receiving (`receive`, `frames`), sending (`send`, [`packet_builder`],
//! `sent_frames`), loss recovery ([`recovery`], [`rtt`], [`congestion`],
//! [`pacing`]), streams ([`streams`]), datagrams ([`datagrams`]), connection
//! IDs ([`cids`]), key updates ([`key_update`]), the path (`paths`), closing
//! (`close`) and the timer table ([`timers`], fired in `timeouts`).

pub mod ack_tracker;
pub mod cids;
mod close;
pub mod congestion;
pub mod crypto_stream;
pub mod datagrams;
pub mod events;
mod frames;
pub mod handshake;
pub mod key_update;
mod negotiation;
pub mod pacing;
pub mod packet_builder;
mod paths;
mod receive;
pub mod recovery;
pub mod rtt;
mod send;
mod sent_frames;
mod spaces;
mod stats;
pub mod streams;
mod timeouts;
pub mod timers;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

pub use self::ack_tracker::EcnCodepoint;
pub use self::datagrams::SendDatagramError;
pub use self::events::{ConnectionError, EndpointEvent, Event};
pub use self::handshake::ConnectError;
pub use self::send::Transmit;
pub use self::stats::ConnectionStats;
pub use self::streams::{ClosedStream, FinishError, ReadError, WriteError};

use self::cids::{LocalCids, RemoteCids};
use self::close::CloseState;
use self::datagrams::Datagrams;
use self::handshake::HandshakeState;
use self::key_update::OneRttKeys;
use self::pacing::Pacer;
use self::paths::Path;
use self::recovery::Recovery;
use self::rtt::RttEstimator;
use self::sent_frames::SentFrames;
use self::spaces::PacketSpace;
use self::streams::Streams;
use self::timers::TimerTable;
use crate::cid::{ConnectionId, ConnectionIdGenerator};
use crate::coding::VarInt;
use crate::config::TransportConfig;
use crate::crypto::Session;
use crate::rand::Rng;
use crate::reset::ResetKey;
use crate::shared::{Dir, Side, SpaceId, StreamId};
use crate::transport_params::TransportParameters;
use crate::version::Version;

/// Where a connection is in its life (RFC 9000 §10).
#[derive(Debug)]
enum State {
    /// Keys are being negotiated.
    Handshake,
    /// The handshake completed; application data flows.
    Established,
    /// We closed: only CONNECTION_CLOSE is sent, in answer to incoming
    /// packets, until the `Close` timer (RFC 9000 §10.2.1).
    Closing(CloseState),
    /// The peer closed: nothing is sent until the `Close` timer
    /// (RFC 9000 §10.2.2).
    Draining,
    /// Over. The owner may free the connection.
    Drained,
}

/// What a connection needs from its endpoint to issue connection IDs.
pub(crate) struct CidIssuer {
    pub(crate) generator: Box<dyn ConnectionIdGenerator>,
    pub(crate) reset_key: ResetKey,
}

impl std::fmt::Debug for CidIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CidIssuer")
            .field("generator", &self.generator)
            .finish_non_exhaustive()
    }
}

/// The TLS side of a new connection.
pub(crate) enum CryptoSetup {
    /// A client connecting to `server_name`.
    Client {
        config: Arc<crate::crypto::rustls::ClientConfig>,
        server_name: String,
    },
    /// A server answering a client's first Initial.
    Server {
        config: Arc<crate::crypto::rustls::ServerConfig>,
        /// The DCID of the client's very first Initial (before any Retry).
        original_dst_cid: ConnectionId,
        /// The SCID of our Retry, if the client came back after one.
        retry_src_cid: Option<ConnectionId>,
    },
}

/// Everything a new connection starts from, gathered by the endpoint.
pub(crate) struct ConnectionParams {
    /// The version the connection uses.
    pub(crate) version: Version,
    /// The version of the client's first Initial packets: on a server that
    /// negotiated another version (RFC 9368), Initials of this version still
    /// arrive until the client switches.
    pub(crate) initial_version: Version,
    /// The versions this endpoint speaks, preferred first.
    pub(crate) available_versions: Vec<Version>,
    pub(crate) config: Arc<TransportConfig>,
    pub(crate) crypto: CryptoSetup,
    pub(crate) remote: SocketAddr,
    /// The CID we chose: our SCID.
    pub(crate) local_cid: ConnectionId,
    /// The DCID the Initial keys derive from: a client's random first DCID,
    /// or on a server the DCID of the Initial being answered.
    pub(crate) initial_dst_cid: ConnectionId,
    /// The peer's CID, our first DCID: on a client the same as
    /// `initial_dst_cid`; on a server the client's SCID.
    pub(crate) remote_cid: ConnectionId,
    pub(crate) issuer: CidIssuer,
    pub(crate) rng: Rng,
    pub(crate) grease_quic_bit: bool,
    /// Server: whether the client's address is already validated (Retry or
    /// NEW_TOKEN).
    pub(crate) address_validated: bool,
    /// Client: the token for its Initials.
    pub(crate) token: Bytes,
}

/// One QUIC connection: the state machine of RFC 9000, RFC 9001 and
/// RFC 9002, without I/O or clocks.
pub struct Connection {
    side: Side,
    version: Version,
    state: State,
    config: Arc<TransportConfig>,
    session: Box<dyn Session>,
    spaces: [PacketSpace; 3],
    one_rtt: Option<OneRttKeys>,
    handshake: HandshakeState,
    recovery: Recovery<SentFrames>,
    pacer: Pacer,
    streams: Streams,
    datagrams: Datagrams,
    local_cids: LocalCids,
    remote_cids: RemoteCids,
    issuer: CidIssuer,
    path: Path,
    timers: TimerTable,
    events: VecDeque<Event>,
    endpoint_events: VecDeque<EndpointEvent>,
    rng: Rng,
    stats: ConnectionStats,
    grease_quic_bit: bool,
    /// The peer's transport parameters, once received and validated.
    peer_params: Option<TransportParameters>,
    /// The idle timeout in force: the smaller of both sides' (RFC 9000
    /// §10.1).
    idle_timeout: Option<Duration>,
    /// Whether an ack-eliciting packet was sent since the last packet was
    /// received: the idle timer restarts only on the first (RFC 9000 §10.1).
    ack_eliciting_sent_since_receive: bool,
    /// When we last sent anything ack-eliciting, for keep-alives.
    last_ack_eliciting_sent: Option<Instant>,
    /// Why the connection ended, once it has.
    error: Option<ConnectionError>,
    /// Whether the application asked for a key update.
    key_update_requested: bool,
    /// Sequence numbers of NEW_CONNECTION_ID frames to send (again).
    new_cids_pending: Vec<u64>,
    /// Testing: raw frames to send as they are, per space.
    injected: [Vec<Bytes>; 3],
    /// Testing: send no ACK frames, as a hostile peer might.
    withhold_acks: bool,
    /// Whether packets go out marked ECT(0): on until ECN validation fails
    /// (RFC 9000 §13.4.2).
    ecn_marking: bool,
}

/// Sizes of a connection's peer-influenced state, for tests that check
/// memory stays bounded.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateSizes {
    /// Stream data chunks buffered.
    pub stream_chunks: usize,
    /// Streams tracked.
    pub streams: usize,
    /// Sent packets awaiting acknowledgment, all spaces.
    pub sent_packets: usize,
    /// NEW_CONNECTION_ID frames waiting to be sent.
    pub new_cids_pending: usize,
    /// Connection IDs from the peer awaiting retirement.
    pub remote_cids_retiring: usize,
    /// Received datagrams queued.
    pub datagrams_queued: usize,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("side", &self.side)
            .field("version", &self.version)
            .field("state", &self.state)
            .field("remote", &self.path.remote)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// The side of this endpoint.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The QUIC version in use.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The peer's address.
    pub fn remote_address(&self) -> SocketAddr {
        self.path.remote
    }

    /// Whether the handshake is still under way.
    pub fn is_handshaking(&self) -> bool {
        matches!(self.state, State::Handshake)
    }

    /// Whether the connection has ended (closing, draining or drained).
    pub fn is_closed(&self) -> bool {
        matches!(
            self.state,
            State::Closing(_) | State::Draining | State::Drained
        )
    }

    /// Whether the connection is over and may be freed.
    pub fn is_drained(&self) -> bool {
        matches!(self.state, State::Drained)
    }

    /// Why the connection ended, once it has.
    pub fn error(&self) -> Option<&ConnectionError> {
        self.error.as_ref()
    }

    /// The negotiated application protocol (ALPN).
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.session.alpn_protocol()
    }

    /// The server name: the SNI a server received, or the name a client
    /// connected to.
    pub fn server_name(&self) -> Option<&str> {
        self.session.server_name()
    }

    /// The peer's certificate chain (DER, end-entity first).
    pub fn peer_certificates(&self) -> Option<Vec<&[u8]>> {
        self.session.peer_certificates()
    }

    /// The current RTT estimate.
    pub fn rtt(&self) -> &RttEstimator {
        self.recovery.rtt()
    }

    /// Counters about what the connection sent and received.
    pub fn stats(&self) -> ConnectionStats {
        let mut stats = self.stats.clone();
        stats.congestion_window = self.recovery.congestion_window();
        stats.bytes_in_flight = self.recovery.bytes_in_flight();
        stats.rtt = self.recovery.rtt().smoothed_rtt();
        stats.datagrams_dropped = self.datagrams.dropped;
        stats.ecn_marking = self.ecn_marking;
        stats
    }

    /// The next application event.
    pub fn poll_event(&mut self) -> Option<Event> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        self.streams.poll_event().map(Event::from)
    }

    /// The next thing the endpoint must learn.
    pub fn poll_endpoint_event(&mut self) -> Option<EndpointEvent> {
        self.endpoint_events.pop_front()
    }

    /// The one deadline at which [`handle_timeout`](Self::handle_timeout)
    /// must be called (DESIGN.md rule 2).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_timeout()
    }

    // --- streams ---

    /// Opens a stream, or returns `None` when the peer's stream limit is
    /// reached (a `StreamAvailable` event follows when it rises).
    pub fn open(&mut self, dir: Dir) -> Option<StreamId> {
        if !self.can_send_application_data() {
            return None;
        }
        self.streams.open(dir)
    }

    /// Takes the next stream the peer opened.
    pub fn accept(&mut self, dir: Dir) -> Option<StreamId> {
        self.streams.accept(dir)
    }

    /// Writes as much of `data` as buffers and flow control allow, without
    /// copying it. Returns the number of bytes taken.
    pub fn write(&mut self, id: StreamId, data: Bytes) -> Result<usize, WriteError> {
        if self.is_closed() {
            return Err(WriteError::ClosedStream);
        }
        self.streams.write(id, data)
    }

    /// Finishes a stream: the FIN follows the data written.
    pub fn finish(&mut self, id: StreamId) -> Result<(), FinishError> {
        self.streams.finish(id)
    }

    /// Abandons sending on a stream with RESET_STREAM (RFC 9000 §3.1).
    pub fn reset(&mut self, id: StreamId, error_code: VarInt) -> Result<(), ClosedStream> {
        self.streams.reset(id, error_code)
    }

    /// Reads up to `max` bytes of in-order data; `Ok(None)` at the end of
    /// the stream.
    pub fn read(&mut self, id: StreamId, max: usize) -> Result<Option<Bytes>, ReadError> {
        self.streams.read(id, max)
    }

    /// Asks the peer to stop sending with STOP_SENDING (RFC 9000 §3.5).
    pub fn stop(&mut self, id: StreamId, error_code: VarInt) -> Result<(), ClosedStream> {
        self.streams.stop(id, error_code)
    }

    /// Sets a stream's send priority: higher goes first; equal priorities
    /// share round-robin.
    pub fn set_priority(&mut self, id: StreamId, priority: i32) -> Result<(), ClosedStream> {
        self.streams.set_priority(id, priority)
    }

    // --- datagrams ---

    /// Queues an unreliable datagram (RFC 9221).
    pub fn send_datagram(&mut self, data: Bytes) -> Result<(), SendDatagramError> {
        let room = self.max_datagram_payload();
        self.datagrams.send(data, room)
    }

    /// Takes the oldest received datagram.
    pub fn recv_datagram(&mut self) -> Option<Bytes> {
        self.datagrams.recv()
    }

    /// The largest datagram payload that can be sent now, if the peer
    /// accepts datagrams.
    pub fn max_datagram_size(&self) -> Option<usize> {
        self.datagrams.max_size(self.max_datagram_payload())
    }

    /// Room for a DATAGRAM frame in a full 1-RTT packet.
    fn max_datagram_payload(&self) -> usize {
        let short_header = 1 + self.remote_cids.current().len() + 4;
        usize::from(self.path.mtu).saturating_sub(short_header + 16)
    }

    // --- keys ---

    /// Starts a key update (RFC 9001 §6) as soon as one is allowed.
    pub fn force_key_update(&mut self) {
        self.key_update_requested = true;
    }

    /// The current 1-RTT key phase bit.
    pub fn key_phase(&self) -> Option<bool> {
        self.one_rtt.as_ref().map(OneRttKeys::phase)
    }

    /// Testing hook: sends `frames` verbatim in the next packet of `space`,
    /// as a hostile or broken peer would. Not for applications.
    #[doc(hidden)]
    pub fn inject_raw_frames(&mut self, space: SpaceId, frames: Bytes) {
        self.injected[space as usize].push(frames);
    }

    /// Testing hook: stop sending ACK frames, as a hostile peer might.
    #[doc(hidden)]
    pub fn withhold_acks(&mut self, withhold: bool) {
        self.withhold_acks = withhold;
    }

    /// Testing: the sizes of state a peer can influence.
    #[doc(hidden)]
    pub fn state_sizes(&self) -> StateSizes {
        StateSizes {
            stream_chunks: self.streams.buffered_chunks(),
            streams: self.streams.stream_count(),
            sent_packets: SpaceId::ALL
                .iter()
                .map(|&s| self.recovery.sent_packets(s).len())
                .sum(),
            new_cids_pending: self.new_cids_pending.len(),
            remote_cids_retiring: self.remote_cids.retiring_count(),
            datagrams_queued: self.datagrams.queued(),
        }
    }

    fn can_send_application_data(&self) -> bool {
        !self.is_closed() && self.one_rtt.is_some()
    }

    fn space(&self, id: SpaceId) -> &PacketSpace {
        &self.spaces[id as usize]
    }

    fn space_mut(&mut self, id: SpaceId) -> &mut PacketSpace {
        &mut self.spaces[id as usize]
    }
}
