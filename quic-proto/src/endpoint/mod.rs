//! The endpoint (RFC 9000 §5.2, §6, §8, §10.3): one per UDP socket. It routes
//! datagrams to connections by destination connection ID, turns valid client
//! Initials into [`Incoming`] connections the application accepts, refuses,
//! retries or ignores, and answers what no connection owns with Version
//! Negotiation or a stateless reset.

mod client_hello;
mod incoming;
mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};

pub use self::incoming::{AcceptError, Incoming, RetryError};
use self::routes::Routes;
use crate::cid::{ConnectionId, ConnectionIdGenerator};
use crate::config::{ClientConfig, EndpointConfig, ServerConfig};
use crate::connection::handshake::ConnectError;
use crate::connection::{
    CidIssuer, Connection, ConnectionParams, CryptoSetup, EcnCodepoint, EndpointEvent, Transmit,
};
use crate::packet::{LongHeaderInvariants, encode_version_negotiation};
use crate::rand::Rng;
use crate::reset::{ResetKey, ResetRateLimiter, build_stateless_reset};
use crate::version::Version;

/// Names one connection of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionHandle(pub usize);

/// What became of a datagram handed to [`Endpoint::handle`].
#[derive(Debug)]
pub enum DatagramEvent {
    /// It belongs to an existing connection: pass it to
    /// [`Connection::handle_datagram`].
    ForConnection(ConnectionHandle, BytesMut),
    /// A client wants a new connection.
    NewConnection(Incoming),
    /// Send these bytes, written into the response buffer: Version
    /// Negotiation or a stateless reset.
    Response(Transmit),
}

/// One UDP socket's worth of QUIC.
pub struct Endpoint {
    config: Arc<EndpointConfig>,
    server: Option<Arc<ServerConfig>>,
    rng: Rng,
    reset_key: ResetKey,
    cid_generator: Box<dyn ConnectionIdGenerator>,
    routes: Routes,
    reset_limiter: ResetRateLimiter,
    /// Maps `Instant`s to wall-clock time for tokens, which must outlive the
    /// process (set by the driver; until then a fixed origin).
    clock: (Instant, SystemTime),
    /// Connections still handshaking, bounded by `max_incoming`.
    handshaking: usize,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("server", &self.server.is_some())
            .field("connections", &self.routes.len())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// An endpoint; with a server configuration it accepts connections.
    /// `now` anchors the wall clock used for tokens until
    /// [`set_wall_clock`](Self::set_wall_clock) is called.
    pub fn new(
        config: Arc<EndpointConfig>,
        server: Option<Arc<ServerConfig>>,
        now: Instant,
    ) -> Self {
        let mut rng = match config.rng_seed {
            Some(seed) => Rng::from_seed(seed),
            None => Rng::from_os().unwrap_or_else(|_| Rng::seed_from_u64(0)),
        };
        let reset_key = match config.reset_key {
            Some(key) => ResetKey::new(&key),
            None => ResetKey::from_rng(&mut rng),
        };
        let (per_second, burst) = config.stateless_resets_per_second;
        Self {
            cid_generator: (config.connection_id_generator)(),
            rng,
            reset_key,
            routes: Routes::default(),
            reset_limiter: ResetRateLimiter::new(per_second, burst),
            clock: (now, SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 30)),
            handshaking: 0,
            server,
            config,
        }
    }

    /// Tells the endpoint that `now` is `wall` in wall-clock time; tokens
    /// carry wall-clock times so that they survive restarts.
    pub fn set_wall_clock(&mut self, now: Instant, wall: SystemTime) {
        self.clock = (now, wall);
    }

    /// Replaces the server configuration (`None` stops accepting).
    pub fn set_server_config(&mut self, server: Option<Arc<ServerConfig>>) {
        self.server = server;
    }

    /// How many connections the endpoint routes to.
    pub fn connection_count(&self) -> usize {
        self.routes.len()
    }

    fn wall_clock(&self, now: Instant) -> SystemTime {
        let (base, wall) = self.clock;
        match now.checked_duration_since(base) {
            Some(elapsed) => wall + elapsed,
            None => wall - base.duration_since(now),
        }
    }

    /// Takes one received datagram. `response` receives the bytes of a
    /// [`DatagramEvent::Response`].
    pub fn handle(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        ecn: Option<EcnCodepoint>,
        data: BytesMut,
        response: &mut Vec<u8>,
    ) -> Option<DatagramEvent> {
        let first = *data.first()?;
        if first & 0x80 == 0 {
            return self.handle_short(now, remote, data, response);
        }
        let invariants = LongHeaderInvariants::decode(&data).ok()?;
        let version = invariants.version;
        let dst_cid = ConnectionId::new(invariants.dst_cid).ok();
        if let Some(handle) = dst_cid.and_then(|cid| self.routes.get(&cid, remote)) {
            return Some(DatagramEvent::ForConnection(handle, data));
        }
        if version == Version::NEGOTIATION {
            return None;
        }
        if !self.config.supported_versions.contains(&version) {
            return self.version_negotiation(remote, &data, response);
        }
        self.new_connection(now, remote, ecn, data, response)
    }

    /// A short header: route by the CID of our length, or by address for
    /// zero-length CIDs; otherwise maybe a stateless reset (RFC 9000
    /// §10.3).
    fn handle_short(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        data: BytesMut,
        response: &mut Vec<u8>,
    ) -> Option<DatagramEvent> {
        let len = self.cid_generator.cid_len();
        let cid = ConnectionId::new(data.get(1..1 + len)?).ok()?;
        if let Some(handle) = self.routes.get(&cid, remote) {
            return Some(DatagramEvent::ForConnection(handle, data));
        }
        // RFC 9000 §10.3.1: a stateless reset carries a random DCID; the
        // connection with that peer checks the token.
        if data.len() >= crate::reset::MIN_STATELESS_RESET_LEN {
            if let Some(handle) = self.routes.by_address(remote) {
                return Some(DatagramEvent::ForConnection(handle, data));
            }
        }
        if cid.is_empty() || !self.reset_limiter.allow(now) {
            return None;
        }
        let token = self.reset_key.token(&cid);
        let reset =
            build_stateless_reset(&mut self.rng, &token, data.len(), usize::from(u16::MAX))?;
        response.clear();
        response.extend_from_slice(&reset);
        Some(DatagramEvent::Response(Transmit {
            destination: remote,
            ecn: None,
            size: reset.len(),
            segment_size: None,
        }))
    }

    /// RFC 9000 §6.1: a server answers an unknown version in a datagram big
    /// enough to be an Initial with the versions it speaks.
    fn version_negotiation(
        &mut self,
        remote: SocketAddr,
        data: &[u8],
        response: &mut Vec<u8>,
    ) -> Option<DatagramEvent> {
        if self.server.is_none() || data.len() < 1200 {
            return None;
        }
        let invariants = LongHeaderInvariants::decode(data).ok()?;
        response.clear();
        let random = (self.rng.next_u32() & 0x7f) as u8;
        encode_version_negotiation(
            response,
            invariants.dst_cid,
            invariants.src_cid,
            &self.config.supported_versions,
            random,
        )
        .ok()?;
        Some(DatagramEvent::Response(Transmit {
            destination: remote,
            ecn: None,
            size: response.len(),
            segment_size: None,
        }))
    }

    /// Starts a client connection to `remote`, naming the server
    /// `server_name` for SNI and certificate checks.
    pub fn connect(
        &mut self,
        now: Instant,
        config: &ClientConfig,
        remote: SocketAddr,
        server_name: &str,
    ) -> Result<(ConnectionHandle, Connection), ConnectError> {
        let mut initial_dst = [0u8; 16];
        self.rng.fill(&mut initial_dst);
        let initial_dst_cid = ConnectionId::new(&initial_dst).expect("16 bytes fit");
        let local_cid = self.new_local_cid();
        let params = ConnectionParams {
            version: config.version,
            initial_version: config.version,
            available_versions: self.config.supported_versions.clone(),
            config: config.transport.clone(),
            crypto: CryptoSetup::Client {
                config: config.crypto.clone(),
                server_name: server_name.to_owned(),
            },
            remote,
            local_cid,
            initial_dst_cid,
            remote_cid: initial_dst_cid,
            issuer: self.issuer(),
            rng: self.rng.fork(),
            grease_quic_bit: self.config.grease_quic_bit,
            address_validated: true,
            token: Bytes::new(),
        };
        let connection = Connection::new(params, now)?;
        let handle = self.routes.insert(local_cid, None, remote);
        Ok((handle, connection))
    }

    /// Applies what a connection told its endpoint.
    pub fn handle_event(&mut self, handle: ConnectionHandle, event: EndpointEvent) {
        match event {
            EndpointEvent::NewConnectionId { id, .. } => self.routes.add_cid(handle, id),
            EndpointEvent::RetiredConnectionId { id } => self.routes.remove_cid(handle, &id),
            EndpointEvent::HandshakeComplete => {
                if self.routes.complete_handshake(handle) {
                    self.handshaking = self.handshaking.saturating_sub(1);
                }
            }
            EndpointEvent::Drained => {
                if self.routes.remove(handle) {
                    self.handshaking = self.handshaking.saturating_sub(1);
                }
            }
        }
    }

    /// A fresh local CID that routes to no other connection.
    fn new_local_cid(&mut self) -> ConnectionId {
        loop {
            let cid = self.cid_generator.generate(&mut self.rng);
            if cid.is_empty() || !self.routes.contains(&cid) {
                return cid;
            }
        }
    }

    fn issuer(&self) -> CidIssuer {
        CidIssuer {
            generator: (self.config.connection_id_generator)(),
            reset_key: self.reset_key.clone(),
        }
    }
}
