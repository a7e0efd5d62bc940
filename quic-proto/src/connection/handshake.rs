//! The handshake (RFC 9000 §7, RFC 9001 §4): building a connection, driving
//! TLS level by level, the transport parameters, handshake completion and
//! confirmation, and discarding keys (RFC 9001 §4.9).

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use super::ack_tracker::AckTrackerConfig;
use super::cids::{LocalCids, RemoteCids};
use super::datagrams::Datagrams;
use super::events::{ConnectionError, EndpointEvent, Event};
use super::key_update::OneRttKeys;
use super::pacing::Pacer;
use super::paths::Path;
use super::recovery::{AckSink, Recovery};
use super::rtt::RttEstimator;
use super::sent_frames::SentFrames;
use super::spaces::PacketSpace;
use super::stats::ConnectionStats;
use super::streams::{Streams, StreamsConfig};
use super::timers::{Timer, TimerTable};
use super::{Connection, ConnectionParams, CryptoSetup, State};
use crate::cid::ConnectionId;
use crate::config::TransportConfig;
use crate::crypto::Keys;
use crate::crypto::rustls::ClientConfig;
use crate::crypto::rustls::{NewSessionError, TlsSession};
use crate::crypto::{KeyChange, Session, initial_keys};
use crate::error::TransportError;
use crate::reset::ResetToken;
use crate::shared::{Side, SpaceId};
use crate::transport_params::{ExpectedConnectionIds, TransportParameters, VersionInformation};
use crate::version::Version;
use std::sync::Arc;

/// Handshake bookkeeping that outlives the `Handshake` state (the IDs are
/// checked against the peer's transport parameters, which may arrive late).
#[derive(Debug)]
pub(super) struct HandshakeState {
    /// The DCID of the client's first Initial (RFC 9000 §7.3).
    pub(super) original_dst_cid: ConnectionId,
    /// Our first SCID, which a Version Negotiation packet must echo.
    pub(super) local_initial_cid: ConnectionId,
    /// The SCID of the Retry, when there was one.
    pub(super) retry_src_cid: Option<ConnectionId>,
    /// Client: the token sent in Initials (from a Retry or NEW_TOKEN).
    pub(super) token: Bytes,
    /// Client: a packet from the server was processed, so Retry and Version
    /// Negotiation are no longer acceptable and the server's CID is fixed.
    pub(super) server_packet_seen: bool,
    /// The SCID of the peer's first Initial, to check against its
    /// `initial_source_connection_id`.
    pub(super) peer_initial_scid: Option<ConnectionId>,
    /// The handshake is confirmed (RFC 9001 §4.1.2).
    pub(super) confirmed: bool,
    /// Server: HANDSHAKE_DONE waits to be sent (again, if lost).
    pub(super) done_pending: bool,
    /// `HandshakeDataReady` was emitted.
    pub(super) data_ready_emitted: bool,
    /// The space the TLS stack writes into now.
    pub(super) write_space: SpaceId,
    /// The version of the client's first Initial packets (RFC 9368 calls
    /// it the original version on the client).
    pub(super) initial_version: Version,
    /// Our versions, preferred first, sent as Available Versions.
    pub(super) available_versions: Vec<Version>,
    /// Client: it restarted after a Version Negotiation packet.
    pub(super) vn_reacted: bool,
    /// Client: what a restart after Version Negotiation needs.
    pub(super) client_tls: Option<(Arc<ClientConfig>, String)>,
    /// The CID the Initial keys derive from (the client's first DCID, or
    /// the SCID of a Retry).
    pub(super) initial_keys_cid: ConnectionId,
    /// Server: Initial keys of `initial_version` while the client has not
    /// yet switched to the negotiated version.
    pub(super) prior_initial_keys: Option<Keys>,
}

/// Why a connection could not be created.
#[derive(Debug)]
pub enum ConnectError {
    /// The TLS configuration or the server name is unusable.
    Tls(NewSessionError),
    /// The transport configuration is invalid.
    Config(TransportError),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tls(e) => write!(f, "TLS setup failed: {e:?}"),
            Self::Config(e) => write!(f, "invalid transport configuration: {e}"),
        }
    }
}

impl std::error::Error for ConnectError {}

/// Maps the transport configuration onto the stream component's limits.
pub(super) fn streams_config(config: &TransportConfig) -> StreamsConfig {
    let stream_window = config.stream_receive_window.into_inner();
    StreamsConfig {
        max_concurrent_bidi_streams: config.max_concurrent_bidi_streams.into_inner(),
        max_concurrent_uni_streams: config.max_concurrent_uni_streams.into_inner(),
        stream_receive_window_bidi_local: stream_window,
        stream_receive_window_bidi_remote: stream_window,
        stream_receive_window_uni: stream_window,
        connection_receive_window: config.receive_window.into_inner(),
        send_buffer_limit: config.stream_send_buffer,
        max_out_of_order_chunks: config.max_out_of_order_chunks,
        ..StreamsConfig::default()
    }
}

impl Connection {
    /// Builds a connection, its TLS session and its Initial keys; a client's
    /// ClientHello is queued at once.
    pub(crate) fn new(params: ConnectionParams, now: Instant) -> Result<Self, ConnectError> {
        let side = match params.crypto {
            CryptoSetup::Client { .. } => Side::Client,
            CryptoSetup::Server { .. } => Side::Server,
        };
        let config = params.config.clone();
        let streams = Streams::new(side, streams_config(&config));
        let local_reset_token = params.issuer.reset_key.token(&params.local_cid);
        let server_ids = match &params.crypto {
            CryptoSetup::Server {
                original_dst_cid,
                retry_src_cid,
                ..
            } => Some((*original_dst_cid, *retry_src_cid, local_reset_token)),
            CryptoSetup::Client { .. } => None,
        };
        let transport_params = transport_parameters(&LocalParams {
            config: &params.config,
            local_cid: params.local_cid,
            grease_quic_bit: params.grease_quic_bit,
            version: params.version,
            available_versions: &params.available_versions,
            server_ids,
            streams: &streams,
        });
        transport_params
            .validate(side)
            .map_err(|e| ConnectError::Config(e.into()))?;
        let mut encoded = Vec::new();
        transport_params.encode(&mut encoded);
        let mut client_tls = None;
        let (session, original_dst_cid, retry_src_cid): (Box<dyn Session>, _, _) =
            match params.crypto {
                CryptoSetup::Client {
                    config: tls,
                    server_name,
                } => {
                    let session =
                        TlsSession::client(tls.clone(), params.version, &server_name, encoded)
                            .map_err(ConnectError::Tls)?;
                    client_tls = Some((tls, server_name));
                    (Box::new(session), params.initial_dst_cid, None)
                }
                CryptoSetup::Server {
                    config: tls,
                    original_dst_cid,
                    retry_src_cid,
                } => {
                    let session = TlsSession::server(tls, params.version, encoded)
                        .map_err(ConnectError::Tls)?;
                    (Box::new(session), original_dst_cid, retry_src_cid)
                }
            };
        let keys = initial_keys(params.version, &params.initial_dst_cid, side)
            .map_err(|e| ConnectError::Tls(NewSessionError::UnsupportedVersion(e.0)))?;
        let prior_initial_keys = (params.initial_version != params.version)
            .then(|| initial_keys(params.initial_version, &params.initial_dst_cid, side).ok())
            .flatten();
        let ack_config = AckTrackerConfig {
            max_ranges: config.max_ack_ranges,
            ..AckTrackerConfig::default()
        };
        let mut spaces = SpaceId::ALL.map(|space| PacketSpace::new(space, ack_config));
        spaces[SpaceId::Initial as usize].keys = Some(keys);
        let mtu = config.initial_mtu.max(1200);
        let controller = config.congestion_controller.build(now, u64::from(mtu));
        let local_limit = config.active_connection_id_limit.into_inner();
        let mut conn = Self {
            side,
            version: params.version,
            state: State::Handshake,
            session,
            spaces,
            one_rtt: None,
            handshake: HandshakeState {
                original_dst_cid,
                local_initial_cid: params.local_cid,
                retry_src_cid,
                token: params.token,
                server_packet_seen: false,
                peer_initial_scid: side.is_server().then_some(params.remote_cid),
                confirmed: false,
                done_pending: false,
                data_ready_emitted: false,
                write_space: SpaceId::Initial,
                initial_version: params.initial_version,
                available_versions: params.available_versions,
                vn_reacted: false,
                client_tls,
                initial_keys_cid: params.initial_dst_cid,
                prior_initial_keys,
            },
            recovery: Recovery::new(side, RttEstimator::new(config.initial_rtt), controller),
            pacer: Pacer::new(),
            streams,
            datagrams: Datagrams::new(
                config.datagram_receive_queue,
                config.datagram_send_queue,
                config.max_datagram_frame_size.map(u64::from),
            ),
            local_cids: LocalCids::new(params.local_cid, local_reset_token, local_limit as usize),
            remote_cids: RemoteCids::new(params.remote_cid, local_limit),
            issuer: params.issuer,
            path: Path::new(
                params.remote,
                side.is_client() || params.address_validated,
                mtu,
            ),
            timers: TimerTable::default(),
            events: VecDeque::new(),
            endpoint_events: VecDeque::new(),
            rng: params.rng,
            stats: ConnectionStats::default(),
            grease_quic_bit: params.grease_quic_bit,
            peer_params: None,
            idle_timeout: config.max_idle_timeout,
            ack_eliciting_sent_since_receive: false,
            last_ack_eliciting_sent: None,
            error: None,
            key_update_requested: false,
            new_cids_pending: Vec::new(),
            injected: Default::default(),
            withhold_acks: false,
            config,
        };
        if side.is_client() {
            conn.write_tls(now).map_err(ConnectError::Config)?;
        }
        conn.restart_idle_timer(now);
        Ok(conn)
    }

    /// Feeds the CRYPTO data received in `space` to TLS and takes what it
    /// writes back (RFC 9001 §4.1.3).
    pub(super) fn process_crypto(
        &mut self,
        now: Instant,
        space: SpaceId,
    ) -> Result<(), TransportError> {
        while let Some(data) = self.space_mut(space).crypto.read() {
            self.session.read_handshake(&data)?;
        }
        if !self.handshake.data_ready_emitted && self.session.alpn_protocol().is_some()
            || !self.handshake.data_ready_emitted
                && self.session.server_name().is_some()
                && self.side.is_server()
        {
            self.handshake.data_ready_emitted = true;
            self.events.push_back(Event::HandshakeDataReady);
        }
        // A client resuming a TLS session is shown the parameters remembered
        // with its ticket until the server's EncryptedExtensions replace them;
        // those are for 0-RTT only (RFC 9000 §7.4.1), which is not offered.
        // The server's arrive before its Finished, so a client takes them
        // once TLS has finished the handshake.
        let final_params = self.side.is_server() || !self.session.is_handshaking();
        if self.peer_params.is_none() && final_params {
            if let Some(raw) = self.session.peer_transport_parameters() {
                let raw = raw.to_vec();
                self.apply_peer_params(now, &raw)?;
            }
        }
        self.write_tls(now)?;
        if matches!(self.state, State::Handshake) && !self.session.is_handshaking() {
            self.on_handshake_complete(now)?;
        }
        Ok(())
    }

    /// Takes TLS output: handshake bytes at the current level, and key
    /// changes that move to the next one.
    pub(super) fn write_tls(&mut self, _now: Instant) -> Result<(), TransportError> {
        loop {
            let mut data = Vec::new();
            let change = self.session.write_handshake(&mut data);
            if !data.is_empty() {
                let space = self.handshake.write_space;
                self.space_mut(space).crypto.write(&data);
            }
            match change {
                Some(KeyChange::Handshake { keys }) => {
                    self.space_mut(SpaceId::Handshake).keys = Some(keys);
                    self.handshake.write_space = SpaceId::Handshake;
                }
                Some(KeyChange::OneRtt { keys }) => {
                    let one_rtt = OneRttKeys::new(keys.header, keys.packet, &mut *self.session)
                        .ok_or_else(|| TransportError::INTERNAL_ERROR("no next 1-RTT keys"))?;
                    self.one_rtt = Some(one_rtt);
                    self.handshake.write_space = SpaceId::Data;
                }
                None if data.is_empty() => return Ok(()),
                None => {}
            }
        }
    }

    /// Decodes, validates and applies the peer's transport parameters
    /// (RFC 9000 §7.3, §7.4, §18).
    fn apply_peer_params(&mut self, now: Instant, raw: &[u8]) -> Result<(), TransportError> {
        let params = TransportParameters::decode(!self.side, raw)?;
        let expected = match self.side {
            Side::Client => ExpectedConnectionIds::Server {
                initial_source: self.remote_cids.current(),
                original_destination: self.handshake.original_dst_cid,
                retry_source: self.handshake.retry_src_cid,
            },
            Side::Server => ExpectedConnectionIds::Client {
                initial_source: self
                    .handshake
                    .peer_initial_scid
                    .unwrap_or(ConnectionId::EMPTY),
            },
        };
        params.validate_connection_ids(&expected)?;
        self.check_version_information(&params)?;
        self.streams.set_peer_limits(&params);
        self.datagrams
            .set_peer_max_frame(params.max_datagram_frame_size.into_inner());
        self.local_cids
            .set_peer_limit(params.active_connection_id_limit.into_inner());
        if let Some(token) = params.stateless_reset_token {
            self.remote_cids
                .set_initial_reset_token(ResetToken::from(token));
        }
        let peer_idle = (!params.max_idle_timeout.is_zero()).then_some(params.max_idle_timeout);
        self.idle_timeout = match (self.config.max_idle_timeout, peer_idle) {
            (Some(ours), Some(theirs)) => Some(ours.min(theirs)),
            (ours, theirs) => ours.or(theirs),
        };
        let peer_max_udp = params
            .max_udp_payload_size
            .into_inner()
            .min(u64::from(u16::MAX)) as u16;
        self.path.mtu = self.path.mtu.min(peer_max_udp.max(1200));
        self.peer_params = Some(params);
        self.restart_idle_timer(now);
        Ok(())
    }

    /// Our transport parameters for the connection as it is now.
    pub(super) fn local_transport_parameters(&self) -> TransportParameters {
        let server_ids = self.side.is_server().then(|| {
            (
                self.handshake.original_dst_cid,
                self.handshake.retry_src_cid,
                self.local_cids_reset_token(),
            )
        });
        transport_parameters(&LocalParams {
            config: &self.config,
            local_cid: self.handshake.local_initial_cid,
            grease_quic_bit: self.grease_quic_bit,
            version: self.version,
            available_versions: &self.handshake.available_versions,
            server_ids,
            streams: &self.streams,
        })
    }

    fn local_cids_reset_token(&self) -> ResetToken {
        self.issuer
            .reset_key
            .token(&self.handshake.local_initial_cid)
    }

    /// TLS finished its handshake (RFC 9001 §4.1.1).
    fn on_handshake_complete(&mut self, now: Instant) -> Result<(), TransportError> {
        if self.peer_params.is_none() {
            return Err(TransportError::TRANSPORT_PARAMETER_ERROR(
                "no transport parameters",
            ));
        }
        self.state = State::Established;
        self.events.push_back(Event::Connected);
        self.endpoint_events
            .push_back(EndpointEvent::HandshakeComplete);
        if self.side.is_server() {
            // The server's handshake is confirmed once complete; it tells the
            // client with HANDSHAKE_DONE (RFC 9001 §4.1.2).
            self.handshake.done_pending = true;
            self.on_handshake_confirmed(now);
        }
        self.issue_connection_ids();
        Ok(())
    }

    /// The handshake is confirmed: Handshake keys go (RFC 9001 §4.9.2).
    pub(super) fn on_handshake_confirmed(&mut self, now: Instant) {
        if self.handshake.confirmed {
            return;
        }
        self.handshake.confirmed = true;
        self.discard_space(now, SpaceId::Handshake);
    }

    /// Issues connection IDs until the peer's limit is met (RFC 9000 §5.1.1).
    pub(super) fn issue_connection_ids(&mut self) {
        while self.local_cids.wanted() > 0 {
            let Some(frame) = self.local_cids.issue(
                &mut *self.issuer.generator,
                &mut self.rng,
                &self.issuer.reset_key,
            ) else {
                break;
            };
            self.endpoint_events
                .push_back(EndpointEvent::NewConnectionId {
                    id: frame.id,
                    sequence: frame.sequence.into_inner(),
                    reset_token: frame.reset_token,
                });
            self.new_cids_pending.push(frame.sequence.into_inner());
        }
    }

    /// Discards the keys and state of `space` (RFC 9001 §4.9, RFC 9002
    /// §6.4): its packets in flight no longer count, nothing more is sent or
    /// accepted in it.
    pub(super) fn discard_space(&mut self, now: Instant, space: SpaceId) {
        let state = self.space_mut(space);
        if state.discarded {
            return;
        }
        state.discarded = true;
        state.keys = None;
        state.probes = 0;
        state.ping_pending = false;
        self.recovery.discard_space(now, space, &mut Discard);
        tracing::trace!(side = ?self.side, ?space, "keys discarded");
    }

    /// The peer's `max_ack_delay`, or the default before its parameters
    /// arrive.
    pub(super) fn peer_max_ack_delay(&self) -> std::time::Duration {
        self.peer_params
            .as_ref()
            .map_or(std::time::Duration::from_millis(25), |p| p.max_ack_delay)
    }

    /// Restarts the idle timer (RFC 9000 §10.1): on receiving a packet, and on
    /// sending the first ack-eliciting packet after receiving one.
    pub(super) fn restart_idle_timer(&mut self, now: Instant) {
        let Some(timeout) = self.idle_timeout else {
            self.timers.stop(Timer::Idle);
            return;
        };
        // At least three PTOs, so that a lossy path does not time out while
        // probes are still under way (RFC 9000 §10.1).
        let pto = self.recovery.pto_period(self.peer_max_ack_delay());
        self.timers.set(Timer::Idle, now + timeout.max(3 * pto));
    }

    /// A Version Negotiation packet listed none of our versions
    /// (RFC 9000 §6.2).
    pub(super) fn on_version_mismatch(&mut self) {
        self.drain_now(ConnectionError::VersionMismatch);
    }
}

/// Outstanding packets of a discarded space are forgotten: their frames need
/// no repair (RFC 9002 §6.4).
pub(super) struct Discard;

impl AckSink<SentFrames> for Discard {
    fn on_acked(&mut self, _: SpaceId, _: u64, _: SentFrames) {}
    fn on_lost(&mut self, _: SpaceId, _: u64, _: SentFrames) {}
}

/// What our transport parameters are made of.
struct LocalParams<'a> {
    config: &'a TransportConfig,
    local_cid: ConnectionId,
    grease_quic_bit: bool,
    version: Version,
    available_versions: &'a [Version],
    /// Server: the original DCID, the Retry's SCID, and our reset token.
    server_ids: Option<(ConnectionId, Option<ConnectionId>, ResetToken)>,
    streams: &'a Streams,
}

/// Our transport parameters (RFC 9000 §18.2, RFC 9368 §3).
fn transport_parameters(local: &LocalParams<'_>) -> TransportParameters {
    let config = local.config;
    let mut tp = TransportParameters {
        max_idle_timeout: config.max_idle_timeout.unwrap_or_default(),
        max_udp_payload_size: config.max_udp_payload_size,
        ack_delay_exponent: config.ack_delay_exponent,
        max_ack_delay: config.max_ack_delay,
        active_connection_id_limit: config.active_connection_id_limit,
        initial_source_connection_id: Some(local.local_cid),
        max_datagram_frame_size: config
            .max_datagram_frame_size
            .map_or(crate::coding::VarInt::ZERO, |size| size.into()),
        grease_quic_bit: local.grease_quic_bit,
        version_information: Some(VersionInformation::new(
            local.version,
            local.available_versions,
        )),
        ..TransportParameters::default()
    };
    local.streams.write_local_limits(&mut tp);
    if let Some((original_dst_cid, retry_src_cid, reset_token)) = local.server_ids {
        tp.original_destination_connection_id = Some(original_dst_cid);
        tp.retry_source_connection_id = retry_src_cid;
        tp.stateless_reset_token = Some(reset_token.into_bytes());
    }
    tp
}
