//! A QUIC v1 connection on the wire, built by hand from `quic::proto`'s parts.
//!
//! A client and a server in one process exchange real, protected datagrams:
//! the ClientHello in a padded Initial (RFC 9000 §14.1), the server's flight
//! in a coalesced Initial + Handshake datagram (RFC 9000 §12.2), the
//! client's Finished, HANDSHAKE_DONE, then 1-RTT data in STREAM frames and a
//! key update (RFC 9001 §6). Each datagram is printed as its receiver decoded
//! it: packets, packet numbers, sizes and frames. TLS is rustls behind
//! `quic::proto::crypto`; transport parameters are encoded, decoded and
//! checked against the connection IDs seen on the wire (RFC 9000 §7.3).
//!
//! There is no connection state machine here (no loss recovery, flow control
//! or timers): this example stands in as the README demo until the Tokio echo
//! demo on `quic-tokio` exists. Run it with
//! `cargo run --release --example wire_demo`; it exits non-zero if any step
//! fails, so it doubles as a smoke test.

use std::error::Error;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use quic::proto::crypto::rustls::{
    ClientConfig, ServerConfig, TlsSession, client_config_builder, server_config_builder,
};
use quic::proto::crypto::{KeyChange, Keys, PacketKey, Session, initial_keys};
use quic::proto::frame::{AckEncoder, Crypto, Frame, Iter, Stream};
use quic::proto::packet::{Header, LongHeader, LongKind, PacketNumber, PartialDecode, ShortHeader};
use quic::proto::transport_params::{ExpectedConnectionIds, TransportParameters};
use quic::proto::{ConnectionId, Dir, Side, SpaceId, StreamId, VarInt, Version};
use rustls::RootCertStore;
use rustls::pki_types::PrivatePkcs8KeyDer;

type Result<T = (), E = Box<dyn Error>> = std::result::Result<T, E>;

/// A client pads every datagram carrying an Initial to this size, a server
/// every one carrying an ack-eliciting Initial, as all of ours do
/// (RFC 9000 §14.1).
const MIN_INITIAL_DATAGRAM: usize = 1200;
const CID_LEN: usize = 8;

/// One packet number space (RFC 9000 §12.3) and its keys: just enough to
/// send CRYPTO data in order and acknowledge what arrived.
#[derive(Default)]
struct Space {
    keys: Option<Keys>,
    crypto_out: Vec<u8>,
    crypto_sent: u64,
    crypto_received: u64,
    next_pn: u64,
    /// Packets arrive in order and none is lost here, so one range.
    received: Option<RangeInclusive<u64>>,
    ack_pending: bool,
}

/// One end of the connection; `spaces` is indexed by `SpaceId as usize`.
struct Endpoint {
    name: &'static str,
    tls: TlsSession,
    local_cid: ConnectionId,
    remote_cid: ConnectionId,
    spaces: [Space; 3],
    /// The level TLS writes at (RFC 9001 §4.1.4).
    write_level: SpaceId,
    key_phase: bool,
    datagrams_sent: usize,
}

impl Endpoint {
    /// `cids` are the local, remote and original connection IDs: both sides
    /// derive the Initial keys from the client's first DCID (RFC 9001 §5.2).
    fn new(name: &'static str, tls: TlsSession, cids: [ConnectionId; 3]) -> Result<Self> {
        let [local_cid, remote_cid, odcid] = cids;
        let mut spaces: [Space; 3] = Default::default();
        spaces[0].keys = Some(initial_keys(Version::V1, &odcid, tls.side())?);
        let (write_level, key_phase, datagrams_sent) = (SpaceId::Initial, false, 0);
        let mut endpoint = Self {
            name,
            tls,
            local_cid,
            remote_cid,
            spaces,
            write_level,
            key_phase,
            datagrams_sent,
        };
        endpoint.poll_tls();
        Ok(endpoint)
    }

    /// A server answering a client's first datagram, whose Initial names the
    /// connection IDs.
    fn accept(config: Arc<ServerConfig>, local: ConnectionId, datagram: &[u8]) -> Result<Self> {
        let (first, _) = PartialDecode::new(BytesMut::from(datagram), CID_LEN, false)?;
        if !first.is_initial() || datagram.len() < MIN_INITIAL_DATAGRAM {
            return Err("the first datagram must be a padded Initial (RFC 9000 §14.1)".into());
        }
        let (odcid, remote) = (*first.dst_cid(), *first.src_cid().ok_or("no source CID")?);
        let params = transport_parameters(local, Some(odcid));
        let tls = TlsSession::server(config, Version::V1, params)?;
        Self::new("server", tls, [local, remote, odcid])
    }

    fn keys(&self, space: SpaceId) -> Result<&Keys> {
        let keys = self.spaces[space as usize].keys.as_ref();
        keys.ok_or_else(|| format!("{}: no {space:?} keys", self.name).into())
    }

    /// Drops a space's keys and state once the handshake no longer needs
    /// them (RFC 9001 §4.9).
    fn discard(&mut self, space: SpaceId) {
        self.spaces[space as usize] = Space::default();
        println!("    {}: {space:?} keys discarded", self.name);
    }

    /// Queues what TLS has to send at the level it was written at, and
    /// installs new keys as they appear (RFC 9001 §4.1.4).
    fn poll_tls(&mut self) {
        loop {
            let mut bytes = Vec::new();
            let change = self.tls.write_handshake(&mut bytes);
            let wrote = !bytes.is_empty();
            let space = &mut self.spaces[self.write_level as usize];
            space.crypto_out.extend(bytes);
            let (level, keys) = match change {
                Some(KeyChange::Handshake { keys }) => (SpaceId::Handshake, keys),
                Some(KeyChange::OneRtt { keys }) => (SpaceId::Data, keys),
                None if wrote => continue,
                None => return,
            };
            self.spaces[level as usize].keys = Some(keys);
            self.write_level = level;
        }
    }

    /// Builds one datagram with a packet for each space that has an ACK,
    /// CRYPTO data or (in 1-RTT) `frame` to send, coalesced (RFC 9000 §12.2).
    /// A datagram holding an Initial is padded to 1200 bytes.
    fn send(&mut self, mut frame: Option<Frame>) -> Result<Vec<u8>> {
        let mut payloads = Vec::new();
        for space in SpaceId::ALL {
            let state = &mut self.spaces[space as usize];
            let mut payload = Vec::new();
            if std::mem::take(&mut state.ack_pending) {
                let ranges = state.received.clone().into_iter();
                AckEncoder::new(ranges, 0, None)?.encode(&mut payload);
            }
            if !state.crypto_out.is_empty() {
                let data = Bytes::from(std::mem::take(&mut state.crypto_out));
                let offset = state.crypto_sent;
                state.crypto_sent += data.len() as u64;
                Frame::Crypto(Crypto { offset, data }).encode(&mut payload);
            }
            if let Some(frame) = frame.take_if(|_| space == SpaceId::Data) {
                frame.encode(&mut payload);
            }
            if !payload.is_empty() {
                payloads.push((space, payload));
            }
        }
        let pad = payloads.iter().any(|(space, _)| *space == SpaceId::Initial);
        let (mut datagram, count) = (Vec::new(), payloads.len());
        for (index, (space, payload)) in payloads.into_iter().enumerate() {
            self.seal(space, payload, pad && index + 1 == count, &mut datagram)?;
        }
        self.datagrams_sent += 1;
        Ok(datagram)
    }

    /// Appends one protected packet (RFC 9001 §5), padded so header
    /// protection has its sample and, if `pad`, so the datagram reaches 1200
    /// bytes.
    fn seal(&mut self, space: SpaceId, payload: Vec<u8>, pad: bool, out: &mut Vec<u8>) -> Result {
        let pn = self.spaces[space as usize].next_pn;
        self.spaces[space as usize].next_pn += 1;
        let number = PacketNumber::new(pn, None);
        let (remote, local) = (self.remote_cid, self.local_cid);
        let long = |kind| LongHeader::new(kind, Version::V1, remote, local, number);
        let (start, token) = (out.len(), Bytes::new());
        let partial = match space {
            SpaceId::Initial => long(LongKind::Initial { token }).encode(out)?,
            SpaceId::Handshake => long(LongKind::Handshake).encode(out)?,
            SpaceId::Data => ShortHeader::new(false, self.key_phase, remote, number).encode(out),
        };
        let keys = self.keys(space)?;
        let tag_len = keys.packet.local.tag_len();
        let min_len = partial.min_payload_len(tag_len, keys.header.local.sample_size());
        let target = if pad { MIN_INITIAL_DATAGRAM } else { 0 };
        let fill = target.saturating_sub(out.len() + payload.len() + tag_len);
        let padding = fill.max(min_len.saturating_sub(payload.len()));
        out.extend_from_slice(&payload);
        out.resize(out.len() + padding + tag_len, 0); // PADDING, then room for the tag.
        let (packet_key, header_key) = (&*keys.packet.local, &*keys.header.local);
        Ok(partial.finish(&mut out[start..], pn, packet_key, header_key)?)
    }

    /// Splits a datagram into its packets, opens each, hands CRYPTO data to
    /// TLS, prints the trace and returns the STREAM frames.
    fn receive(&mut self, datagram: &[u8]) -> Result<Vec<Stream>> {
        let (name, key_phase) = (self.name, self.key_phase);
        let (mut trace, mut streams) = (Vec::new(), Vec::new());
        let mut rest = Some(BytesMut::from(datagram));
        while let Some(bytes) = rest.take() {
            let (partial, next) = PartialDecode::new(bytes, CID_LEN, false)?;
            rest = next;
            let size = partial.len();
            let (header, pn, frames) = self.open(partial)?;
            trace.push(describe_packet(&header, pn, size, &frames));
            for frame in frames {
                match frame {
                    Frame::Crypto(crypto) => self.on_crypto(header.space(), &crypto)?,
                    Frame::Stream(stream) => streams.push(stream),
                    _ => {} // ACK, PADDING, HANDSHAKE_DONE: nothing to do here.
                }
            }
        }
        let peer = if name == "server" { "client" } else { "server" };
        let trace = trace.join(&format!("\n{:27}+ ", "")); // Coalesced packets.
        println!("{peer} → {name} {:>5} bytes: {trace}", datagram.len());
        if self.key_phase != key_phase {
            println!("    {name}: new key phase; the old key failed, the next one opened it");
        }
        Ok(streams)
    }

    /// Removes header protection, then packet protection (RFC 9001 §5), and
    /// parses the frames.
    fn open(&mut self, partial: PartialDecode) -> Result<(Header, u64, Vec<Frame>)> {
        let space = partial.space().ok_or("a packet without a number space")?;
        let mut packet = partial.finish(Some(&*self.keys(space)?.header.remote))?;
        let received = &self.spaces[space as usize].received;
        let number = packet.header.number().ok_or("no packet number")?;
        let pn = number.expand(received.as_ref().map(|range| *range.end()));
        let (header, payload) = (&packet.header_data, &mut packet.payload);
        if packet.header.key_phase() == Some(!self.key_phase) {
            self.follow_key_update(pn, header, payload)?;
        }
        let key = &self.keys(space)?.packet.remote;
        let opened = key.decrypt(pn, header, payload);
        opened.map_err(|err| format!("{}: {space:?} pn={pn}: {err}", self.name))?;
        if let (Header::Long(long), "client") = (&packet.header, self.name) {
            self.remote_cid = long.src_cid; // The server's choice (RFC 9000 §7.2).
        }
        let frames: Vec<Frame> = Iter::new(packet.payload.freeze()).collect::<Result<_, _>>()?;
        let state = &mut self.spaces[space as usize];
        state.received = Some(state.received.take().map_or(pn, |r| *r.start())..=pn);
        state.ack_pending |= frames.iter().any(Frame::is_ack_eliciting);
        Ok((packet.header, pn, frames))
    }

    /// Hands CRYPTO data to TLS, in order: this demo does not reassemble.
    fn on_crypto(&mut self, space: Option<SpaceId>, crypto: &Crypto) -> Result {
        let state = &mut self.spaces[space.ok_or("CRYPTO outside a space")? as usize];
        if crypto.offset != state.crypto_received {
            return Err(format!("{}: out-of-order CRYPTO at {}", self.name, crypto.offset).into());
        }
        state.crypto_received += crypto.data.len() as u64;
        self.tls.read_handshake(&crypto.data)?;
        self.poll_tls(); // New keys may open the next coalesced packet.
        Ok(())
    }

    /// Steps to the next 1-RTT packet keys (RFC 9001 §6); header protection
    /// keys stay. Returns the previous key for the peer's packets.
    fn update_keys(&mut self) -> Result<Box<dyn PacketKey>> {
        let next = self.tls.next_1rtt_keys().ok_or("no 1-RTT secrets")?;
        let keys = self.spaces[SpaceId::Data as usize].keys.as_mut();
        let keys = keys.ok_or("no 1-RTT keys")?;
        self.key_phase = !self.key_phase;
        Ok(std::mem::replace(&mut keys.packet, next).remote)
    }

    /// The peer flipped the Key Phase bit (RFC 9001 §6.2): step to the next
    /// keys too, after checking that the old key cannot open the packet.
    fn follow_key_update(&mut self, pn: u64, header: &[u8], payload: &BytesMut) -> Result {
        let old = self.update_keys()?;
        if old.decrypt(pn, header, &mut payload.clone()).is_ok() {
            return Err("the old 1-RTT key opened a packet of the new key phase".into());
        }
        Ok(())
    }

    /// Checks that the handshake completed with ALPN "echo", and returns the
    /// peer's transport parameters, now authenticated, checked against the
    /// connection IDs in the packets (RFC 9000 §7.3).
    fn handshake_result(&self, expected: ExpectedConnectionIds) -> Result<TransportParameters> {
        let alpn = self.tls.alpn_protocol().map(String::from_utf8_lossy);
        if self.tls.is_handshaking() || alpn.as_deref() != Some("echo") {
            return Err(format!("{}: handshake incomplete, ALPN {alpn:?}", self.name).into());
        }
        let bytes = self.tls.peer_transport_parameters();
        let params = TransportParameters::decode(!self.tls.side(), bytes.ok_or("no parameters")?)?;
        params.validate_connection_ids(&expected)?;
        let (name, sni) = (self.name, self.tls.server_name().unwrap_or_default());
        println!("    {name}: handshake complete, ALPN \"echo\", SNI {sni:?}");
        Ok(params)
    }
}

/// The limits both sides offer; a server also echoes the client's first DCID.
fn transport_parameters(local_cid: ConnectionId, odcid: Option<ConnectionId>) -> Vec<u8> {
    let params = TransportParameters {
        original_destination_connection_id: odcid,
        initial_source_connection_id: Some(local_cid),
        max_idle_timeout: Duration::from_secs(30),
        initial_max_data: VarInt::from_u32(1 << 20),
        initial_max_stream_data_bidi_remote: VarInt::from_u32(1 << 16),
        initial_max_streams_bidi: VarInt::from_u32(16),
        ..TransportParameters::default()
    };
    let mut out = Vec::new();
    params.encode(&mut out);
    out
}

fn describe_packet(header: &Header, pn: u64, size: usize, frames: &[Frame]) -> String {
    let kind = match header {
        Header::Long(long) if long.kind.space() == SpaceId::Initial => "Initial",
        Header::Long(_) => "Handshake",
        Header::Short(short) if short.key_phase => "1-RTT(key phase 1)",
        _ => "1-RTT",
    };
    let frames: Vec<String> = frames.iter().map(describe_frame).collect();
    format!("{kind} pn={pn} size={size} [{}]", frames.join(", "))
}

fn describe_frame(frame: &Frame) -> String {
    match frame {
        Frame::Padding(padding) => format!("PADDING×{}", padding.len),
        Frame::Ack(ack) => format!("ACK {:?}", ack.ranges().collect::<Vec<_>>()),
        Frame::Crypto(c) => format!("CRYPTO off={} len={}", c.offset, c.data.len()),
        Frame::Stream(s) => format!("STREAM id={} len={} fin={}", s.id, s.data.len(), s.fin),
        other => other.ty().to_string(),
    }
}

/// A self-signed certificate for "localhost"; both sides speak ALPN "echo".
fn tls_configs() -> Result<(Arc<ClientConfig>, Arc<ServerConfig>)> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
    let cert = certified.cert.der().clone();
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    let server = server_config_builder().with_no_client_auth();
    let mut server = server.with_single_cert(vec![cert.clone()], key.into())?;
    server.alpn_protocols = vec![b"echo".to_vec()];
    server.send_tls13_tickets = 0; // Keep the trace short: no NewSessionTicket.
    let mut roots = RootCertStore::empty();
    roots.add(cert)?;
    let client = client_config_builder().with_root_certificates(roots);
    let mut client = client.with_no_client_auth();
    client.alpn_protocols = vec![b"echo".to_vec()];
    Ok((Arc::new(client), Arc::new(server)))
}

/// The client sends `text` on its `index`th bidirectional stream in one
/// STREAM frame with FIN; the server must receive exactly that.
fn send_stream(client: &mut Endpoint, server: &mut Endpoint, index: u64, text: &str) -> Result {
    let id = StreamId::new(Side::Client, Dir::Bi, index);
    let (offset, fin, data) = (0, true, Bytes::copy_from_slice(text.as_bytes()));
    let sent = Stream {
        id,
        offset,
        fin,
        data,
    };
    let received = server.receive(&client.send(Some(Frame::Stream(sent.clone())))?)?;
    if received != [sent] {
        return Err(format!("server: expected {text:?} on stream {id}, got {received:?}").into());
    }
    println!("    server: stream {id} delivered {text:?} and its FIN");
    Ok(())
}

fn main() -> Result {
    let (client_config, server_config) = tls_configs()?;
    let odcid = ConnectionId::new(&[0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08])?;
    let client_cid = ConnectionId::new(b"client-1")?;
    let server_cid = ConnectionId::new(b"server-1")?;
    println!("client: first DCID {odcid}, SCID {client_cid}; server SCID {server_cid}");

    // The ClientHello, then the server's flight.
    let params = transport_parameters(client_cid, None);
    let tls = TlsSession::client(client_config, Version::V1, "localhost", params)?;
    let mut client = Endpoint::new("client", tls, [client_cid, odcid, odcid])?;
    let datagram = client.send(None)?;
    let mut server = Endpoint::accept(server_config, server_cid, &datagram)?;
    server.receive(&datagram)?;
    client.receive(&server.send(None)?)?;

    // The client's Finished completes the handshake on both sides; each
    // checks the other's transport parameters, now authenticated.
    server.receive(&client.send(None)?)?;
    let (initial_source, original_destination) = (client.remote_cid, odcid);
    let expected = ExpectedConnectionIds::Server {
        initial_source,
        original_destination,
        retry_source: None,
    };
    let params = client.handshake_result(expected)?;
    let streams = params.initial_max_streams_bidi;
    println!("    client: server parameters ok, original DCID {odcid}, {streams} streams");
    client.discard(SpaceId::Initial); // It sent a Handshake packet (RFC 9001 §4.9.1).
    let initial_source = client_cid;
    let params = server.handshake_result(ExpectedConnectionIds::Client { initial_source })?;
    let max_data = params.initial_max_data;
    println!("    server: client parameters ok, initial_max_data {max_data}");
    server.discard(SpaceId::Initial); // It opened a Handshake packet (RFC 9001 §4.9.1).
    server.discard(SpaceId::Handshake); // Its handshake is confirmed (RFC 9001 §4.9.2).
    client.receive(&server.send(Some(Frame::HandshakeDone))?)?;
    client.discard(SpaceId::Handshake); // HANDSHAKE_DONE confirms it (RFC 9001 §4.1.2).

    // 1-RTT data, then a key update, which the client may start now that the
    // handshake is confirmed (RFC 9001 §6.1).
    send_stream(&mut client, &mut server, 0, "hello over QUIC")?;
    client.update_keys()?;
    println!("    client: key update (RFC 9001 §6), now sending in key phase 1");
    send_stream(&mut client, &mut server, 1, "hello again, under new keys")?;
    if !server.key_phase {
        return Err("server: did not follow the key update".into());
    }
    let datagrams = client.datagrams_sent + server.datagrams_sent;
    println!("wire demo ok: {datagrams} datagrams, 1-RTT data exchanged, key update done");
    Ok(())
}
