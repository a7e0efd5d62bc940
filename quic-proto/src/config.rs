//! Configuration with documented defaults.
//!
//! [`TransportConfig`] holds the per-connection transport settings: flow
//! control windows, stream limits, timers, congestion control and datagram
//! buffers. Its defaults suit a general-purpose connection on a path of up to
//! ~100 ms RTT and ~100 Mbit/s; raise the windows for faster paths (the
//! bandwidth-delay product bounds throughput: window / RTT).

use std::sync::Arc;
use std::time::Duration;

use crate::cid::{ConnectionIdGenerator, RandomConnectionIdGenerator};
use crate::coding::VarInt;
use crate::connection::congestion::{ControllerFactory, NewRenoConfig};
use crate::token::TokenKey;
use crate::version::Version;

/// Transport settings for one connection.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// The idle timeout we advertise (RFC 9000 §10.1); `None` disables ours.
    /// The connection uses the smaller of ours and the peer's.
    /// Default: 30 s.
    pub max_idle_timeout: Option<Duration>,
    /// Send a PING when nothing else was sent for this long, keeping the
    /// connection (and NAT bindings) alive (RFC 9000 §10.1.2). Default: off.
    pub keep_alive_interval: Option<Duration>,
    /// The RTT assumed before the first sample (RFC 9002 §6.2.2).
    /// Default: 333 ms.
    pub initial_rtt: Duration,
    /// The longest we delay an acknowledgment (RFC 9000 §13.2.1), advertised
    /// as `max_ack_delay`. Default: 25 ms.
    pub max_ack_delay: Duration,
    /// The exponent applied to the ACK Delay field (RFC 9000 §18.2).
    /// Default: 3.
    pub ack_delay_exponent: u8,
    /// How many bytes the peer may send on one stream beyond what the
    /// application has read. Default: 1 MiB.
    pub stream_receive_window: VarInt,
    /// How many bytes the peer may send on all streams together beyond what
    /// the application has read. Default: 8 MiB.
    pub receive_window: VarInt,
    /// How many bytes the application may have written and not yet had
    /// acknowledged on one stream. Default: 1 MiB.
    pub stream_send_buffer: u64,
    /// How many bidirectional streams the peer may have open at once.
    /// Default: 100.
    pub max_concurrent_bidi_streams: VarInt,
    /// How many unidirectional streams the peer may have open at once.
    /// Default: 100.
    pub max_concurrent_uni_streams: VarInt,
    /// How many out-of-order stream data fragments one connection buffers;
    /// a packet that would exceed it is dropped unacknowledged, so the peer
    /// retransmits it later. Bounds memory against gapped-fragment floods.
    /// Default: 4,096.
    pub max_out_of_order_chunks: usize,
    /// The most CRYPTO data buffered out of order at one encryption level
    /// before the connection fails with CRYPTO_BUFFER_EXCEEDED
    /// (RFC 9000 §7.5). Default: 64 KiB.
    pub crypto_buffer_size: u64,
    /// The largest DATAGRAM frame we accept, advertised as
    /// `max_datagram_frame_size` (RFC 9221 §3); `None` refuses datagrams.
    /// Default: 65,535.
    pub max_datagram_frame_size: Option<u16>,
    /// How many received datagrams are buffered for the application; the
    /// oldest is dropped when full (RFC 9221 §5). Default: 256.
    pub datagram_receive_queue: usize,
    /// How many datagrams wait to be sent; the oldest is dropped when full.
    /// Default: 256.
    pub datagram_send_queue: usize,
    /// The congestion controller (RFC 9002 §7). Default: NewReno.
    pub congestion_controller: Arc<dyn ControllerFactory>,
    /// The UDP payload size used before path MTU discovery, and the size of
    /// full datagrams (RFC 9000 §14). Default: 1,200, the minimum.
    pub initial_mtu: u16,
    /// The largest UDP payload we are willing to receive, advertised as
    /// `max_udp_payload_size` (RFC 9000 §18.2). Default: 65,527.
    pub max_udp_payload_size: VarInt,
    /// How many connection IDs we accept from the peer at once
    /// (`active_connection_id_limit`, RFC 9000 §5.1.1). Default: 4.
    pub active_connection_id_limit: VarInt,
    /// How many ACK ranges are tracked per packet number space; older ones
    /// are forgotten (RFC 9000 §13.2.3). Default: 64.
    pub max_ack_ranges: usize,
    /// Start a key update after this many packets sent under one key; `None`
    /// updates only before the AEAD confidentiality limit (RFC 9001 §6.6).
    /// Default: `None`.
    pub key_update_interval: Option<u64>,
    /// Pace sending (RFC 9002 §7.7). Default: on.
    pub pacing: bool,
    /// Mark packets ECT(0) and react to the peer's ECN-CE counts, as long as
    /// the path passes ECN validation (RFC 9000 §13.4). Default: on.
    pub ecn: bool,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            max_idle_timeout: Some(Duration::from_secs(30)),
            keep_alive_interval: None,
            initial_rtt: Duration::from_millis(333),
            max_ack_delay: Duration::from_millis(25),
            ack_delay_exponent: 3,
            stream_receive_window: VarInt::from_u32(1 << 20),
            receive_window: VarInt::from_u32(8 << 20),
            stream_send_buffer: 1 << 20,
            max_concurrent_bidi_streams: VarInt::from_u32(100),
            max_concurrent_uni_streams: VarInt::from_u32(100),
            max_out_of_order_chunks: 4096,
            crypto_buffer_size: 64 * 1024,
            max_datagram_frame_size: Some(u16::MAX),
            datagram_receive_queue: 256,
            datagram_send_queue: 256,
            congestion_controller: Arc::new(NewRenoConfig::default()),
            initial_mtu: 1200,
            max_udp_payload_size: VarInt::from_u32(65_527),
            active_connection_id_limit: VarInt::from_u32(4),
            max_ack_ranges: 64,
            key_update_interval: None,
            pacing: true,
            ecn: true,
        }
    }
}

/// Settings shared by every connection of an endpoint.
#[derive(Clone)]
pub struct EndpointConfig {
    /// The seed of the endpoint's random generator (connection IDs, tokens,
    /// stateless resets, grease). `None` seeds it from the operating system;
    /// tests fix it so that a run replays exactly.
    pub rng_seed: Option<[u8; 32]>,
    /// The key stateless reset tokens are derived from (RFC 9000 §10.3.2).
    /// Keep it across restarts so that a restarted server can still reset
    /// its old connections. `None` draws one from the random generator.
    pub reset_key: Option<[u8; 32]>,
    /// Makes the generator of this endpoint's connection IDs.
    pub connection_id_generator: Arc<dyn Fn() -> Box<dyn ConnectionIdGenerator> + Send + Sync>,
    /// The versions this endpoint speaks, preferred first (RFC 9368).
    pub supported_versions: Vec<Version>,
    /// Advertise `grease_quic_bit` and accept packets whose fixed bit is 0
    /// (RFC 9287). Default: on.
    pub grease_quic_bit: bool,
    /// The most stateless resets sent per second, and in a burst.
    pub stateless_resets_per_second: (u32, u32),
}

impl std::fmt::Debug for EndpointConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointConfig")
            .field("seeded", &self.rng_seed.is_some())
            .field("supported_versions", &self.supported_versions)
            .field("grease_quic_bit", &self.grease_quic_bit)
            .finish_non_exhaustive()
    }
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            rng_seed: None,
            reset_key: None,
            connection_id_generator: Arc::new(|| Box::<RandomConnectionIdGenerator>::default()),
            supported_versions: Version::SUPPORTED.to_vec(),
            grease_quic_bit: true,
            stateless_resets_per_second: (100, 20),
        }
    }
}

impl EndpointConfig {
    /// The default configuration with a fixed random seed, for tests.
    pub fn seeded(seed: u64) -> Self {
        let mut bytes = [0; 32];
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        Self {
            rng_seed: Some(bytes),
            ..Self::default()
        }
    }
}

/// How a server answers new connections.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The TLS configuration: certificates, ALPN, client authentication.
    pub crypto: Arc<crate::crypto::rustls::ServerConfig>,
    /// Transport settings for accepted connections.
    pub transport: Arc<TransportConfig>,
    /// Seals and opens Retry and NEW_TOKEN tokens (RFC 9000 §8.1).
    pub token_key: TokenKey,
    /// How many connections may be handshaking at once; Initials beyond it
    /// are refused with CONNECTION_REFUSED. Default: 1,024.
    pub max_incoming: usize,
    /// Answer every new connection with a Retry to validate the client's
    /// address first (RFC 9000 §8.1.2). Default: off; the application can
    /// also decide per connection.
    pub retry_all: bool,
}

impl ServerConfig {
    /// A server with the given TLS configuration and token key.
    pub fn new(crypto: Arc<crate::crypto::rustls::ServerConfig>, token_key: TokenKey) -> Self {
        Self {
            crypto,
            transport: Arc::new(TransportConfig::default()),
            token_key,
            max_incoming: 1024,
            retry_all: false,
        }
    }
}

/// How a client connects.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The TLS configuration: trusted roots, ALPN, client certificates.
    pub crypto: Arc<crate::crypto::rustls::ClientConfig>,
    /// Transport settings for the connection.
    pub transport: Arc<TransportConfig>,
    /// The version of the first Initial (RFC 9000 §6). Default: v1.
    pub version: Version,
}

impl ClientConfig {
    /// A client with the given TLS configuration.
    pub fn new(crypto: Arc<crate::crypto::rustls::ClientConfig>) -> Self {
        Self {
            crypto,
            transport: Arc::new(TransportConfig::default()),
            version: Version::V1,
        }
    }
}
