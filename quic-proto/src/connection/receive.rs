//! Receiving: a datagram is split into its coalesced packets (RFC 9000
//! §12.2), each is unprotected (RFC 9001 §5), checked for duplicates
//! (RFC 9000 §12.3) and its frames processed.

use std::net::SocketAddr;
use std::time::Instant;

use bytes::BytesMut;

use super::ack_tracker::EcnCodepoint;
use super::events::ConnectionError;
use super::key_update::{OpenError, Opened};
use super::timers::Timer;
use super::{Connection, State};
use crate::cid::ConnectionId;
use crate::crypto::HeaderKey;
use crate::error::TransportError;
use crate::frame::PacketKind;
use crate::packet::{Header, LongType, Packet, PartialDecode, ProtectedHeader};
use crate::shared::SpaceId;

/// What became of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Received {
    /// Opened and processed (or answered, while closing).
    Processed,
    /// Dropped before it could be authenticated.
    Dropped,
}

impl Connection {
    /// Takes one UDP datagram from `remote`, which may coalesce several
    /// packets.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        ecn: Option<EcnCodepoint>,
        data: BytesMut,
    ) {
        if matches!(self.state, State::Drained | State::Draining) {
            return;
        }
        self.stats.datagrams_received += 1;
        self.stats.bytes_received += data.len() as u64;
        if remote != self.path.remote {
            // Migration is not supported yet: a client only talks to the
            // address it connected to, and a server drops packets from
            // elsewhere rather than sending to an unvalidated address.
            self.stats.packets_dropped += 1;
            return;
        }
        self.path.received += data.len() as u64;
        let reset_candidate = data.len() >= crate::reset::MIN_STATELESS_RESET_LEN;
        let tail = reset_candidate.then(|| data.clone().freeze());
        let mut any_processed = false;
        let mut first_dst_cid: Option<ConnectionId> = None;
        let mut next = Some(data);
        while let Some(buf) = next.take() {
            let local_cid_len = self.issuer.generator.cid_len();
            let (partial, rest) = match PartialDecode::new(buf, local_cid_len, self.grease_quic_bit)
            {
                Ok(decoded) => decoded,
                Err(error) => {
                    tracing::trace!(?error, "undecodable packet");
                    self.stats.packets_dropped += 1;
                    break;
                }
            };
            next = rest;
            // RFC 9000 §12.2: packets coalesced behind one with another DCID
            // are dropped.
            match first_dst_cid {
                Some(first) if first != *partial.dst_cid() => {
                    self.stats.packets_dropped += 1;
                    continue;
                }
                _ => first_dst_cid = Some(*partial.dst_cid()),
            }
            if self.handle_packet(now, ecn, partial) == Received::Processed {
                any_processed = true;
            }
            if self.is_drained() {
                return;
            }
        }
        if !any_processed {
            if let Some(datagram) = tail {
                // RFC 9000 §10.3.1: a datagram that opens as nothing may be a
                // stateless reset.
                if self.remote_cids.is_stateless_reset(&datagram) {
                    self.drain_now(ConnectionError::Reset);
                    return;
                }
            }
        }
        self.update_timers(now);
    }

    fn handle_packet(
        &mut self,
        now: Instant,
        ecn: Option<EcnCodepoint>,
        partial: PartialDecode,
    ) -> Received {
        let unprotected = match partial.header() {
            ProtectedHeader::VersionNegotiation { .. } => true,
            ProtectedHeader::Long { ty, .. } => *ty == LongType::Retry,
            ProtectedHeader::Short { .. } => false,
        };
        if unprotected {
            return self.handle_unprotected(now, partial);
        }
        if partial.is_0rtt() {
            // 0-RTT is not offered, so there are no keys for it.
            self.stats.packets_dropped += 1;
            return Received::Dropped;
        }
        let Some(space) = partial.space() else {
            return Received::Dropped;
        };
        let Some(packet) = self.unprotect_header(space, partial) else {
            self.stats.packets_dropped += 1;
            return Received::Dropped;
        };
        let Some((pn, packet)) = self.decrypt(now, space, packet) else {
            self.stats.packets_dropped += 1;
            return Received::Dropped;
        };
        self.on_packet_opened(now, ecn, space, pn, packet)
    }

    /// Removes header protection with the space's keys, if we have them.
    fn unprotect_header(&mut self, space: SpaceId, partial: PartialDecode) -> Option<Packet> {
        if self.space(space).discarded {
            return None;
        }
        let version = partial.version();
        if let Some(version) = version {
            self.accept_version(space, version)?;
        }
        let key: &dyn HeaderKey = match space {
            SpaceId::Initial => &*self.initial_keys_for(version?)?.header.remote,
            SpaceId::Handshake => &*self.space(space).keys.as_ref()?.header.remote,
            SpaceId::Data => &*self.one_rtt.as_ref()?.header().remote,
        };
        partial.finish(Some(key)).ok()
    }

    /// Checks a long header's version against the connection's
    /// (RFC 9368 §2.3): a client follows the server to another of the
    /// versions it offered when the server's first Initial comes in it.
    fn accept_version(&mut self, space: SpaceId, version: crate::version::Version) -> Option<()> {
        if version == self.version {
            return Some(());
        }
        let switch = self.side.is_client()
            && space == SpaceId::Initial
            && !self.handshake.server_packet_seen
            && !self.handshake.vn_reacted
            && self.handshake.available_versions.contains(&version);
        if switch {
            self.switch_version(version).then_some(())
        } else if self.side.is_server()
            && space == SpaceId::Initial
            && version == self.handshake.initial_version
        {
            Some(())
        } else {
            None
        }
    }

    /// The Initial keys for packets of `version`.
    fn initial_keys_for(&self, version: crate::version::Version) -> Option<&crate::crypto::Keys> {
        if version == self.version {
            self.space(SpaceId::Initial).keys.as_ref()
        } else {
            self.handshake.prior_initial_keys.as_ref()
        }
    }

    /// Reconstructs the packet number and opens the payload (RFC 9001 §5.3,
    /// §6.3).
    fn decrypt(
        &mut self,
        now: Instant,
        space: SpaceId,
        mut packet: Packet,
    ) -> Option<(u64, Packet)> {
        let largest = self.space(space).received.largest_received();
        let pn = packet.header.number()?.expand(largest);
        match space {
            SpaceId::Initial | SpaceId::Handshake => {
                let keys = match (space, packet.header.version()) {
                    (SpaceId::Initial, Some(version)) => self.initial_keys_for(version)?,
                    _ => self.space(space).keys.as_ref()?,
                };
                keys.packet
                    .remote
                    .decrypt(pn, &packet.header_data, &mut packet.payload)
                    .ok()?;
            }
            SpaceId::Data => {
                let key_phase = packet.header.key_phase().unwrap_or(false);
                let keys = self.one_rtt.as_mut()?;
                match keys.open(
                    pn,
                    key_phase,
                    &packet.header_data,
                    &mut packet.payload,
                    &mut *self.session,
                ) {
                    Ok(Opened::NewPhase) => {
                        self.stats.key_updates += 1;
                        let pto = self.recovery.pto_period(self.peer_max_ack_delay());
                        self.timers.set(Timer::KeyDiscard, now + 3 * pto);
                    }
                    Ok(Opened::Current | Opened::Previous) => {}
                    Err(OpenError::KeyUpdateError) => {
                        self.close_with_error(
                            now,
                            TransportError::KEY_UPDATE_ERROR("old key after new"),
                        );
                        return None;
                    }
                    Err(OpenError::Failed) => {
                        if keys.integrity_limit_reached() {
                            self.close_with_error(
                                now,
                                TransportError::AEAD_LIMIT_REACHED("integrity limit"),
                            );
                        }
                        return None;
                    }
                }
            }
        }
        Some((pn, packet))
    }

    fn on_packet_opened(
        &mut self,
        now: Instant,
        ecn: Option<EcnCodepoint>,
        space: SpaceId,
        pn: u64,
        packet: Packet,
    ) -> Received {
        if self.space(space).received.is_duplicate(pn) {
            self.stats.packets_dropped += 1;
            return Received::Dropped;
        }
        if matches!(self.state, State::Closing(_)) {
            self.on_packet_while_closing();
            return Received::Processed;
        }
        // RFC 9000 §17.2, §17.3.1: reserved bits set once protection is off.
        if !packet.header.reserved_bits_valid() {
            self.close_with_error(now, TransportError::PROTOCOL_VIOLATION("reserved bits set"));
            return Received::Processed;
        }
        self.on_first_packets(now, space, &packet.header);
        let kind = match packet.header {
            Header::Short(_) => PacketKind::OneRtt,
            _ if space == SpaceId::Initial => PacketKind::Initial,
            _ => PacketKind::Handshake,
        };
        let dst_cid = *packet.header.dst_cid();
        let outcome = match self.process_frames(now, space, kind, &dst_cid, packet.payload.freeze())
        {
            Ok(outcome) => outcome,
            Err(error) => {
                self.close_with_error(now, error);
                return Received::Processed;
            }
        };
        let Some(ack_eliciting) = outcome else {
            // A STREAM frame could not be buffered: the packet is dropped
            // unacknowledged and the peer sends it again.
            return Received::Dropped;
        };
        self.stats.packets_received += 1;
        self.space_mut(space)
            .received
            .on_packet_received(now, pn, ack_eliciting, ecn);
        self.ack_eliciting_sent_since_receive = false;
        self.restart_idle_timer(now);
        Received::Processed
    }

    /// What the first packets of each kind change (RFC 9000 §7.2, §8.1;
    /// RFC 9001 §4.9.1).
    fn on_first_packets(&mut self, now: Instant, space: SpaceId, header: &Header) {
        if self.side.is_client() && !self.handshake.server_packet_seen {
            if let Some(src) = header.src_cid() {
                // The client switches to the server's chosen CID
                // (RFC 9000 §7.2).
                self.remote_cids.set_initial(*src);
                self.handshake.server_packet_seen = true;
            }
        }
        if self.side.is_server() && space == SpaceId::Handshake {
            // A Handshake packet proves the client saw our Initial:
            // the address is validated (RFC 9000 §8.1) and Initial keys
            // can go (RFC 9001 §4.9.1).
            self.path.validated = true;
            self.discard_space(now, SpaceId::Initial);
        }
    }

    /// Version Negotiation and Retry, which carry no packet protection.
    fn handle_unprotected(&mut self, now: Instant, partial: PartialDecode) -> Received {
        if self.side.is_server() || self.handshake.server_packet_seen {
            return Received::Dropped;
        }
        let Ok(packet) = partial.finish(None) else {
            return Received::Dropped;
        };
        match &packet.header {
            Header::VersionNegotiation(vn) => {
                // RFC 9000 §6.2: ignore one that does not echo our CIDs.
                // RFC 9368 §4: ignore one that lists our original version,
                // and any after we already reacted to one.
                if vn.versions.contains(self.handshake.initial_version)
                    || self.handshake.vn_reacted
                    || vn.dst_cid != self.handshake.local_initial_cid
                    || vn.src_cid != self.remote_cids.current()
                {
                    return Received::Dropped;
                }
                let choice = self
                    .handshake
                    .available_versions
                    .iter()
                    .copied()
                    .find(|&v| vn.versions.contains(v));
                match choice {
                    Some(version) => {
                        if let Err(error) = self.restart_with_version(now, version) {
                            self.close_with_error(now, error);
                        }
                    }
                    None => self.on_version_mismatch(),
                }
                Received::Processed
            }
            Header::Retry(_) => self.handle_retry(now, &packet),
            _ => Received::Dropped,
        }
    }

    /// A Retry (RFC 9000 §17.2.5.2): at most one, with a valid integrity tag
    /// and a non-empty token; the client starts over with the new CID and
    /// token.
    fn handle_retry(&mut self, now: Instant, packet: &Packet) -> Received {
        let Header::Retry(retry) = &packet.header else {
            return Received::Dropped;
        };
        if self.handshake.retry_src_cid.is_some() || retry.token.is_empty() {
            return Received::Dropped;
        }
        let mut whole = packet.header_data.to_vec();
        whole.extend_from_slice(&packet.payload);
        if !crate::crypto::is_valid_retry(self.version, &self.handshake.original_dst_cid, &whole) {
            return Received::Dropped;
        }
        self.restart_after_retry(now, retry.src_cid, retry.token.clone());
        Received::Processed
    }

    /// Starts over after a Retry: new Initial keys from the server's CID,
    /// the token in every Initial, everything sent so far resent
    /// (RFC 9000 §17.2.5.2, RFC 9002 §6.3).
    fn restart_after_retry(
        &mut self,
        now: Instant,
        retry_src_cid: ConnectionId,
        token: bytes::Bytes,
    ) {
        self.handshake.retry_src_cid = Some(retry_src_cid);
        self.handshake.initial_keys_cid = retry_src_cid;
        self.handshake.token = token;
        self.remote_cids.set_initial(retry_src_cid);
        if let Ok(keys) = crate::crypto::initial_keys(self.version, &retry_src_cid, self.side) {
            self.space_mut(SpaceId::Initial).keys = Some(keys);
        }
        // Our Initial packets are gone: resend their CRYPTO data under the
        // new keys with new packet numbers.
        self.recovery.discard_space(
            now,
            SpaceId::Initial,
            &mut RetryResend {
                crypto: &mut self.spaces[SpaceId::Initial as usize].crypto,
            },
        );
        self.update_timers(now);
    }
}

/// Puts the CRYPTO data of Initial packets sent before a Retry back in the
/// queue.
struct RetryResend<'a> {
    crypto: &'a mut super::crypto_stream::CryptoStream,
}

impl super::recovery::AckSink<super::sent_frames::SentFrames> for RetryResend<'_> {
    fn on_acked(&mut self, _: SpaceId, _: u64, _: super::sent_frames::SentFrames) {}
    fn on_lost(&mut self, _: SpaceId, _: u64, info: super::sent_frames::SentFrames) {
        self.on_discarded(SpaceId::Initial, 0, info);
    }
    fn on_discarded(&mut self, _: SpaceId, _: u64, info: super::sent_frames::SentFrames) {
        if let Some((offset, len)) = info.crypto {
            self.crypto.on_lost(offset, len);
        }
    }
}
