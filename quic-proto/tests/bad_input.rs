//! Hostile peers and bad input on the simulated network.
//!
//! An established client/server pair where one side (the attacker, usually
//! the client) sends frames a correct peer never would, through the
//! connection's `inject_raw_frames` test hook. Each protocol violation must
//! close the victim's connection with exactly the error code the RFC names,
//! seen from both ends: the victim's `error()` is the `TransportError`, and
//! the attacker receives it in CONNECTION_CLOSE. Floods of frames that are
//! legal one by one (gapped stream fragments, PATH_CHALLENGEs,
//! NEW_CONNECTION_IDs) must leave the victim's state bounded, checked after
//! every step of the network; garbage datagrams must neither panic an
//! endpoint nor harm an established connection.
#![allow(missing_debug_implementations)]

mod harness;
mod sim;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::Bytes;
use harness::apps::{Transfer, stream_data};
use harness::certs::{client_config, server_config};
use harness::{App, Conn, QuicHost, apps};
use quic_proto::config::{EndpointConfig, TransportConfig};
use quic_proto::connection::{Connection, ConnectionError, Event, StateSizes};
use quic_proto::frame::{
    AckEncoder, ConnectionClose, Crypto, Frame, FrameType, NewConnectionId, NewToken,
    PathChallenge, Stream,
};
use quic_proto::{ConnectionId, Dir, Side, SpaceId, StreamId, TransportErrorCode, VarInt};
use sim::{Datagram, EventKind, Network, SimRng, addr, ms, run_seeded, secs, seeds};

// ----- the pair -----

struct Pair {
    net: Network<QuicHost>,
    client: SocketAddr,
    server: SocketAddr,
}

/// How to build a pair.
struct Setup {
    client: TransportConfig,
    server: TransportConfig,
    client_app: fn() -> Box<dyn App>,
    server_app: fn() -> Box<dyn App>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            client: TransportConfig::default(),
            server: TransportConfig::default(),
            client_app: apps::idle,
            server_app: apps::idle,
        }
    }
}

fn sink() -> Box<dyn App> {
    Box::new(Transfer::sink())
}

/// A client and a server on a clean 10 ms link, the client's first Initial
/// not yet sent.
fn start(seed: u64, setup: Setup) -> Pair {
    let mut net = Network::new(seed);
    let start = net.start();
    let (client, server) = (addr(1), addr(2));
    let mut server_host = QuicHost::new(
        server,
        EndpointConfig::seeded(seed ^ 0x5e),
        Some(server_config(setup.server)),
        start,
    );
    let make = setup.server_app;
    server_host.server_app = Some(Box::new(make));
    net.add_host(server, server_host);
    net.add_host(
        client,
        QuicHost::new(client, EndpointConfig::seeded(seed ^ 0xc1), None, start),
    );
    let config = client_config(setup.client);
    net.host_mut(client)
        .connect(start, &config, server, (setup.client_app)());
    Pair {
        net,
        client,
        server,
    }
}

fn has_connected(net: &Network<QuicHost>, at: SocketAddr) -> bool {
    net.host(at)
        .conns
        .values()
        .any(|c| c.events.contains(&Event::Connected))
}

/// A pair with the handshake complete, then 300 ms (15 RTTs) later:
/// HANDSHAKE_DONE and the connection IDs both sides issue after the
/// handshake are delivered and acknowledged.
fn established(seed: u64, setup: Setup) -> Result<Pair, String> {
    let mut p = start(seed, setup);
    let (client, server) = (p.client, p.server);
    p.net.drive_until(
        |net| has_connected(net, client) && has_connected(net, server),
        secs(5),
    )?;
    p.net.run_for(ms(300))?;
    for at in [client, server] {
        let conn = &conn(&p.net, at).conn;
        if conn.is_handshaking() || conn.is_closed() {
            return Err(format!("{at} not established: {conn:?}"));
        }
    }
    Ok(p)
}

/// The first connection of the host at `at`, live or else drained.
fn try_conn(net: &Network<QuicHost>, at: SocketAddr) -> Option<&Conn> {
    let host = net.host(at);
    host.conns.values().next().or(host.finished.last())
}

fn conn(net: &Network<QuicHost>, at: SocketAddr) -> &Conn {
    try_conn(net, at).expect("a connection")
}

/// The first live connection of the host at `at` (garbage can make a
/// server start more, with later handles).
fn conn_mut(net: &mut Network<QuicHost>, at: SocketAddr) -> &mut Connection {
    let host = net.host_mut(at);
    &mut host
        .conns
        .values_mut()
        .next()
        .expect("a live connection")
        .conn
}

fn sizes(net: &Network<QuicHost>, at: SocketAddr) -> StateSizes {
    conn(net, at).conn.state_sizes()
}

fn encode(frames: &[Frame]) -> Bytes {
    let mut buf = Vec::new();
    for frame in frames {
        frame.encode(&mut buf);
    }
    Bytes::from(buf)
}

/// Has the connection at `at` send `frames` verbatim in its next packet of
/// `space`.
fn inject(net: &mut Network<QuicHost>, at: SocketAddr, space: SpaceId, frames: &[Frame]) {
    inject_raw(net, at, space, encode(frames));
}

fn inject_raw(net: &mut Network<QuicHost>, at: SocketAddr, space: SpaceId, bytes: Bytes) {
    conn_mut(net, at).inject_raw_frames(space, bytes);
}

fn stream(id: StreamId, offset: u64, data: &'static [u8], fin: bool) -> Frame {
    Frame::Stream(Stream {
        id,
        offset,
        fin,
        data: Bytes::from_static(data),
    })
}

fn client_bidi(index: u64) -> StreamId {
    StreamId::new(Side::Client, Dir::Bi, index)
}

fn lost_reason(conn: &Conn) -> Option<&ConnectionError> {
    conn.events.iter().find_map(|event| match event {
        Event::ConnectionLost { reason } => Some(reason),
        _ => None,
    })
}

/// Drives until the victim has closed and the attacker has heard of it;
/// checks the victim's error and the attacker's CONNECTION_CLOSE both carry
/// `code`, and returns that CONNECTION_CLOSE.
fn expect_close(
    p: &mut Pair,
    attacker: SocketAddr,
    victim: SocketAddr,
    code: TransportErrorCode,
) -> Result<ConnectionClose, String> {
    let driven = p.net.drive_until(
        |net| {
            let victim_closed = try_conn(net, victim).is_some_and(|c| c.conn.error().is_some());
            victim_closed && lost_reason(conn(net, attacker)).is_some()
        },
        secs(5),
    );
    let victim_error = try_conn(&p.net, victim).and_then(|c| c.conn.error());
    driven.map_err(|e| format!("{e}; victim's error: {victim_error:?}"))?;
    match victim_error {
        Some(ConnectionError::TransportError(e)) if e.code == code => {}
        other => return Err(format!("victim ended with {other:?}, expected {code}")),
    }
    match lost_reason(conn(&p.net, attacker)) {
        Some(ConnectionError::ConnectionClosed(close)) if close.error_code == code => {
            Ok(close.clone())
        }
        other => Err(format!("attacker saw {other:?}, expected {code}")),
    }
}

/// Over a few seeds: establishes a pair, lets the client `attack`, and
/// expects the server to close with `code`; `check` sees the
/// CONNECTION_CLOSE the client received.
fn client_attack(
    name: &str,
    setup: impl Fn() -> Setup,
    attack: impl Fn(&mut Pair),
    code: TransportErrorCode,
    check: impl Fn(&ConnectionClose),
) {
    run_seeded(name, seeds(3), |seed| {
        let mut p = established(seed, setup())?;
        attack(&mut p);
        let (client, server) = (p.client, p.server);
        let close = expect_close(&mut p, client, server, code)?;
        check(&close);
        Ok(())
    });
}

/// Client attack with the default setup and no check of the frame type.
fn simple_client_attack(name: &str, attack: impl Fn(&mut Pair), code: TransportErrorCode) {
    client_attack(name, Setup::default, attack, code, |_| {});
}

/// Moves the network to its next event (nothing left to happen is fine).
fn step(net: &mut Network<QuicHost>) -> Result<(), String> {
    net.step()?;
    Ok(())
}

// ----- frames not allowed in their packet type (RFC 9000 §12.4) -----

/// RFC 9000 §12.4, Table 3: a STREAM frame in an Initial packet is a
/// PROTOCOL_VIOLATION; injected in the client's very first Initial, the
/// server refuses the connection with it.
#[test]
fn rfc9000_12_4_stream_frame_in_initial_packet() {
    run_seeded(
        "rfc9000_12_4_stream_frame_in_initial_packet",
        seeds(3),
        |seed| {
            let mut p = start(seed, Setup::default());
            let (client, server) = (p.client, p.server);
            let frame = stream(client_bidi(0), 0, b"too early", false);
            inject(&mut p.net, client, SpaceId::Initial, &[frame]);
            let close = expect_close(
                &mut p,
                client,
                server,
                TransportErrorCode::PROTOCOL_VIOLATION,
            )?;
            assert!(close.frame_type.is_stream(), "{close:?}");
            Ok(())
        },
    );
}

/// RFC 9000 §12.4, Table 3: HANDSHAKE_DONE is only allowed in 1-RTT
/// packets; in a Handshake packet it is a PROTOCOL_VIOLATION.
#[test]
fn rfc9000_12_4_handshake_done_in_handshake_packet() {
    run_seeded(
        "rfc9000_12_4_handshake_done_in_handshake_packet",
        seeds(3),
        |seed| {
            let mut p = start(seed, Setup::default());
            let (client, server) = (p.client, p.server);
            // Sent with the client's first Handshake packet.
            inject(
                &mut p.net,
                client,
                SpaceId::Handshake,
                &[Frame::HandshakeDone],
            );
            let close = expect_close(
                &mut p,
                client,
                server,
                TransportErrorCode::PROTOCOL_VIOLATION,
            )?;
            assert_eq!(close.frame_type, FrameType::HANDSHAKE_DONE);
            Ok(())
        },
    );
}

// ----- undecodable frames (RFC 9000 §12.4) -----

/// RFC 9000 §12.4: an unknown frame type (0x21, one byte) is a
/// FRAME_ENCODING_ERROR.
#[test]
fn rfc9000_12_4_unknown_frame_type() {
    simple_client_attack(
        "rfc9000_12_4_unknown_frame_type",
        |p| {
            let raw = Bytes::from_static(&[0x21]);
            inject_raw(&mut p.net, p.client, SpaceId::Data, raw);
        },
        TransportErrorCode::FRAME_ENCODING_ERROR,
    );
}

/// RFC 9000 §12.4: an unknown frame type in its shortest two-byte form
/// (0x40 0x40, type 64) is a FRAME_ENCODING_ERROR.
#[test]
fn rfc9000_12_4_unknown_two_byte_frame_type() {
    simple_client_attack(
        "rfc9000_12_4_unknown_two_byte_frame_type",
        |p| {
            let raw = Bytes::from_static(&[0x40, 0x40, 0x00, 0x00]);
            inject_raw(&mut p.net, p.client, SpaceId::Data, raw);
        },
        TransportErrorCode::FRAME_ENCODING_ERROR,
    );
}

/// RFC 9000 §12.4: a frame type not in its shortest encoding (0x40 0x21 is
/// a two-byte 0x21) "MAY" be a PROTOCOL_VIOLATION, and is here.
#[test]
fn rfc9000_12_4_non_minimal_frame_type() {
    simple_client_attack(
        "rfc9000_12_4_non_minimal_frame_type",
        |p| {
            let raw = Bytes::from_static(&[0x40, 0x21]);
            inject_raw(&mut p.net, p.client, SpaceId::Data, raw);
        },
        TransportErrorCode::PROTOCOL_VIOLATION,
    );
}

// ----- streams (RFC 9000 §4, §19.8) -----

const SMALL_WINDOW: u64 = 10_000;

fn small_windows() -> Setup {
    let mut setup = Setup::default();
    setup.server.stream_receive_window = VarInt::from_u32(SMALL_WINDOW as u32);
    setup
}

/// RFC 9000 §4.1: a byte at the stream's flow control limit is a
/// FLOW_CONTROL_ERROR; the byte just below it is fine.
#[test]
fn rfc9000_4_1_stream_data_beyond_stream_flow_control() {
    client_attack(
        "rfc9000_4_1_stream_data_beyond_stream_flow_control",
        small_windows,
        |p| {
            let id = client_bidi(0);
            let frames = [
                stream(id, SMALL_WINDOW - 1, b"x", false),
                stream(id, SMALL_WINDOW, b"y", false),
            ];
            inject(&mut p.net, p.client, SpaceId::Data, &frames);
        },
        TransportErrorCode::FLOW_CONTROL_ERROR,
        |close| assert!(close.frame_type.is_stream(), "{close:?}"),
    );
}

/// RFC 9000 §4.1: the connection's limit counts the highest offset of every
/// stream; one byte past MAX_DATA, spread over two streams, is a
/// FLOW_CONTROL_ERROR.
#[test]
fn rfc9000_4_1_stream_data_beyond_connection_flow_control() {
    client_attack(
        "rfc9000_4_1_stream_data_beyond_connection_flow_control",
        || {
            let mut setup = Setup::default();
            setup.server.receive_window = VarInt::from_u32(SMALL_WINDOW as u32);
            setup
        },
        |p| {
            let half = SMALL_WINDOW / 2;
            let frames = [
                // Stream 0 counts half the window, stream 4 the other half.
                stream(client_bidi(0), half - 1, b"x", false),
                stream(client_bidi(1), half - 1, b"x", false),
                // One byte more.
                stream(client_bidi(1), half, b"y", false),
            ];
            inject(&mut p.net, p.client, SpaceId::Data, &frames);
        },
        TransportErrorCode::FLOW_CONTROL_ERROR,
        |_| {},
    );
}

/// RFC 9000 §4.6: a stream ID beyond the advertised MAX_STREAMS is a
/// STREAM_LIMIT_ERROR (the default allows 100 bidirectional streams:
/// indexes 0 to 99).
#[test]
fn rfc9000_4_6_stream_id_beyond_limit() {
    simple_client_attack(
        "rfc9000_4_6_stream_id_beyond_limit",
        |p| {
            let limit = TransportConfig::default()
                .max_concurrent_bidi_streams
                .into_inner();
            let frames = [stream(client_bidi(limit), 0, b"one too many", false)];
            inject(&mut p.net, p.client, SpaceId::Data, &frames);
        },
        TransportErrorCode::STREAM_LIMIT_ERROR,
    );
}

/// RFC 9000 §19.8: STREAM on a send-only stream of the receiver (a
/// unidirectional stream it opened) is a STREAM_STATE_ERROR.
#[test]
fn rfc9000_19_8_stream_on_victims_send_only_stream() {
    simple_client_attack(
        "rfc9000_19_8_stream_on_victims_send_only_stream",
        |p| {
            let server = conn_mut(&mut p.net, p.server);
            let id = server.open(Dir::Uni).expect("a uni stream");
            assert_eq!(id, StreamId::new(Side::Server, Dir::Uni, 0));
            server
                .write(id, Bytes::from_static(b"ours"))
                .expect("write");
            inject(
                &mut p.net,
                p.client,
                SpaceId::Data,
                &[stream(id, 0, b"theirs", false)],
            );
        },
        TransportErrorCode::STREAM_STATE_ERROR,
    );
}

/// RFC 9000 §19.8: STREAM on a stream the receiver would initiate but has
/// not opened yet is a STREAM_STATE_ERROR.
#[test]
fn rfc9000_19_8_stream_on_victims_unopened_stream() {
    simple_client_attack(
        "rfc9000_19_8_stream_on_victims_unopened_stream",
        |p| {
            let id = StreamId::new(Side::Server, Dir::Bi, 0);
            inject(
                &mut p.net,
                p.client,
                SpaceId::Data,
                &[stream(id, 0, b"x", false)],
            );
        },
        TransportErrorCode::STREAM_STATE_ERROR,
    );
}

/// RFC 9000 §4.5: once a final size is known it cannot change; a second FIN
/// at another offset is a FINAL_SIZE_ERROR.
#[test]
fn rfc9000_4_5_changed_final_size() {
    simple_client_attack(
        "rfc9000_4_5_changed_final_size",
        |p| {
            let id = client_bidi(0);
            let frames = [stream(id, 0, b"hello", true), stream(id, 0, b"hi", true)];
            inject(&mut p.net, p.client, SpaceId::Data, &frames);
        },
        TransportErrorCode::FINAL_SIZE_ERROR,
    );
}

/// RFC 9000 §4.5: data beyond a known final size is a FINAL_SIZE_ERROR too.
#[test]
fn rfc9000_4_5_data_beyond_final_size() {
    simple_client_attack(
        "rfc9000_4_5_data_beyond_final_size",
        |p| {
            let id = client_bidi(0);
            let frames = [stream(id, 0, b"hello", true), stream(id, 5, b"!", false)];
            inject(&mut p.net, p.client, SpaceId::Data, &frames);
        },
        TransportErrorCode::FINAL_SIZE_ERROR,
    );
}

// ----- connection IDs (RFC 9000 §5.1) -----

/// A NEW_CONNECTION_ID frame with a made-up ID and reset token.
fn new_cid(sequence: u64, retire_prior_to: u64) -> Frame {
    let mut bytes = [0xc1; 8];
    bytes[..8].copy_from_slice(&sequence.to_be_bytes());
    bytes[0] = 0xee;
    let mut token = [0x5a; 16];
    token[..8].copy_from_slice(&sequence.to_be_bytes());
    Frame::NewConnectionId(NewConnectionId {
        sequence: VarInt::from_u64(sequence).expect("small"),
        retire_prior_to: VarInt::from_u64(retire_prior_to).expect("small"),
        id: ConnectionId::new(&bytes).expect("8 bytes"),
        reset_token: token,
    })
}

/// RFC 9000 §5.1.1: more connection IDs than the advertised
/// active_connection_id_limit is a CONNECTION_ID_LIMIT_ERROR. The server
/// already holds the client's handshake ID (and those the client issued);
/// `limit` more cannot fit.
#[test]
fn rfc9000_5_1_1_more_connection_ids_than_limit() {
    client_attack(
        "rfc9000_5_1_1_more_connection_ids_than_limit",
        Setup::default,
        |p| {
            let limit = TransportConfig::default()
                .active_connection_id_limit
                .into_inner();
            let frames: Vec<Frame> = (0..limit).map(|i| new_cid(1000 + i, 0)).collect();
            inject(&mut p.net, p.client, SpaceId::Data, &frames);
        },
        TransportErrorCode::CONNECTION_ID_LIMIT_ERROR,
        |close| assert_eq!(close.frame_type, FrameType::NEW_CONNECTION_ID),
    );
}

// ----- CRYPTO (RFC 9000 §7.5) -----

/// RFC 9000 §7.5: CRYPTO data beyond the buffer the receiver keeps is a
/// CRYPTO_BUFFER_EXCEEDED (here in a 1-RTT packet, where TLS post-handshake
/// messages go).
#[test]
fn rfc9000_7_5_crypto_beyond_buffer() {
    simple_client_attack(
        "rfc9000_7_5_crypto_beyond_buffer",
        |p| {
            let limit = TransportConfig::default().crypto_buffer_size;
            let frame = Frame::Crypto(Crypto {
                offset: limit,
                data: Bytes::from_static(b"x"),
            });
            inject(&mut p.net, p.client, SpaceId::Data, &[frame]);
        },
        TransportErrorCode::CRYPTO_BUFFER_EXCEEDED,
    );
}

// ----- ACK (RFC 9000 §13.1) -----

/// RFC 9000 §13.1: acknowledging a packet never sent is a
/// PROTOCOL_VIOLATION.
#[test]
fn rfc9000_13_1_ack_of_packet_never_sent() {
    client_attack(
        "rfc9000_13_1_ack_of_packet_never_sent",
        Setup::default,
        |p| {
            let mut raw = Vec::new();
            let far = 1_000_000u64;
            AckEncoder::new([far..=far], 0, None)
                .expect("valid ranges")
                .encode(&mut raw);
            inject_raw(&mut p.net, p.client, SpaceId::Data, Bytes::from(raw));
        },
        TransportErrorCode::PROTOCOL_VIOLATION,
        |close| assert_eq!(close.frame_type, FrameType::ACK),
    );
}

// ----- frames only a server sends (RFC 9000 §19.7, §19.20) -----

/// RFC 9000 §19.20: a server receiving HANDSHAKE_DONE treats it as a
/// PROTOCOL_VIOLATION.
#[test]
fn rfc9000_19_20_handshake_done_received_by_server() {
    client_attack(
        "rfc9000_19_20_handshake_done_received_by_server",
        Setup::default,
        |p| inject(&mut p.net, p.client, SpaceId::Data, &[Frame::HandshakeDone]),
        TransportErrorCode::PROTOCOL_VIOLATION,
        |close| assert_eq!(close.frame_type, FrameType::HANDSHAKE_DONE),
    );
}

/// RFC 9000 §19.7: a server receiving NEW_TOKEN treats it as a
/// PROTOCOL_VIOLATION.
#[test]
fn rfc9000_19_7_new_token_received_by_server() {
    client_attack(
        "rfc9000_19_7_new_token_received_by_server",
        Setup::default,
        |p| {
            let frame = Frame::NewToken(NewToken {
                token: Bytes::from_static(b"not yours to give"),
            });
            inject(&mut p.net, p.client, SpaceId::Data, &[frame]);
        },
        TransportErrorCode::PROTOCOL_VIOLATION,
        |close| assert_eq!(close.frame_type, FrameType::NEW_TOKEN),
    );
}

// ----- memory bounds -----

/// Nothing of the peer's influence is held: no stream, chunk, queued
/// connection ID or datagram.
fn assert_tiny(sizes: StateSizes) {
    assert_eq!(sizes.stream_chunks, 0, "{sizes:?}");
    assert_eq!(sizes.streams, 0, "{sizes:?}");
    assert!(sizes.new_cids_pending <= 4, "{sizes:?}");
    assert!(sizes.remote_cids_retiring <= 4, "{sizes:?}");
    assert_eq!(sizes.datagrams_queued, 0, "{sizes:?}");
}

/// RFC 9000 §7.5: a CRYPTO frame at an offset near 2^62 in one small packet
/// fails the buffer check before anything is allocated for it
/// (CRYPTO_BUFFER_EXCEEDED), and the victim's state stays tiny.
#[test]
fn rfc9000_7_5_huge_crypto_offset_allocates_nothing() {
    simple_client_attack(
        "rfc9000_7_5_huge_crypto_offset_allocates_nothing",
        |p| {
            let frame = Frame::Crypto(Crypto {
                offset: (1 << 62) - 2,
                data: Bytes::from_static(b"x"),
            });
            inject(&mut p.net, p.client, SpaceId::Data, &[frame]);
            for _ in 0..20 {
                step(&mut p.net).expect("step");
                assert_tiny(sizes(&p.net, p.server));
            }
        },
        TransportErrorCode::CRYPTO_BUFFER_EXCEEDED,
    );
}

/// RFC 9000 §4.1: a STREAM frame at an offset near 2^62 is a
/// FLOW_CONTROL_ERROR found before the stream is even opened: no stream, no
/// chunk, nothing allocated for the offset.
#[test]
fn rfc9000_4_1_huge_stream_offset_allocates_nothing() {
    simple_client_attack(
        "rfc9000_4_1_huge_stream_offset_allocates_nothing",
        |p| {
            let frames = [stream(client_bidi(0), (1 << 62) - 2, b"x", false)];
            inject(&mut p.net, p.client, SpaceId::Data, &frames);
            for _ in 0..20 {
                step(&mut p.net).expect("step");
                assert_tiny(sizes(&p.net, p.server));
            }
        },
        TransportErrorCode::FLOW_CONTROL_ERROR,
    );
}

const MAX_CHUNKS: usize = 64;

/// A flood of 1-byte STREAM fragments with gaps between them, all within
/// flow control, from a client that never acknowledges anything: the
/// server buffers at most `max_out_of_order_chunks` of them (DESIGN.md rule
/// 5), refuses the packets beyond that unacknowledged, and the connection
/// survives.
#[test]
fn gapped_stream_fragment_flood_is_bounded() {
    run_seeded(
        "gapped_stream_fragment_flood_is_bounded",
        seeds(2),
        |seed| {
            let mut setup = Setup::default();
            setup.server.max_out_of_order_chunks = MAX_CHUNKS;
            let mut p = established(seed, setup)?;
            let (client, server) = (p.client, p.server);
            conn_mut(&mut p.net, client).withhold_acks(true);
            let before = conn(&p.net, server).conn.stats();
            let (rounds, per_packet) = (200u64, 16u64);
            let mut most = 0;
            for round in 0..rounds {
                // Odd offsets only: offset 0 never arrives, nothing is readable.
                let frames: Vec<Frame> = (0..per_packet)
                    .map(|i| {
                        stream(
                            client_bidi(0),
                            2 * (round * per_packet + i) + 1,
                            b"x",
                            false,
                        )
                    })
                    .collect();
                inject(&mut p.net, client, SpaceId::Data, &frames);
                step(&mut p.net)?;
                let chunks = sizes(&p.net, server).stream_chunks;
                assert!(chunks <= MAX_CHUNKS, "round {round}: {chunks} chunks");
                most = most.max(chunks);
                assert!(!conn(&p.net, server).conn.is_closed(), "round {round}");
            }
            p.net.run_for(ms(500))?;
            let after = conn(&p.net, server).conn.stats();
            assert_eq!(most, MAX_CHUNKS, "the flood reaches the bound");
            assert_eq!(sizes(&p.net, server).stream_chunks, MAX_CHUNKS);
            // Refused packets arrive but are not counted as received, hence
            // never acknowledged.
            let arrived = after.datagrams_received - before.datagrams_received;
            let accepted = after.packets_received - before.packets_received;
            assert!(
                arrived >= accepted + rounds / 2,
                "arrived {arrived}, accepted {accepted}"
            );
            for at in [client, server] {
                assert!(!conn(&p.net, at).conn.is_closed(), "{at} closed");
            }
            Ok(())
        },
    );
}

/// RFC 9000 §8.2.2: a flood of PATH_CHALLENGEs (a hundred per packet) gets
/// answered without the answers piling up: the victim keeps one response
/// pending, sends far fewer bytes than it receives, its state stays small
/// and the connection lives on.
#[test]
fn rfc9000_8_2_2_path_challenge_flood_is_bounded() {
    run_seeded(
        "rfc9000_8_2_2_path_challenge_flood_is_bounded",
        seeds(2),
        |seed| {
            let mut p = established(seed, Setup::default())?;
            let (client, server) = (p.client, p.server);
            let sent_before = p.net.traffic().pair(client, server).sent_bytes;
            let answered_before = p.net.traffic().pair(server, client).sent_bytes;
            let mut rng = SimRng::from_seed(seed);
            for round in 0..100 {
                let frames: Vec<Frame> = (0..100)
                    .map(|_| Frame::PathChallenge(PathChallenge(rng.next_u64().to_be_bytes())))
                    .collect();
                inject(&mut p.net, client, SpaceId::Data, &frames);
                step(&mut p.net)?;
                let s = sizes(&p.net, server);
                assert!(s.sent_packets <= 64, "round {round}: {s:?}");
                assert_eq!((s.streams, s.stream_chunks), (0, 0), "round {round}: {s:?}");
                assert!(!conn(&p.net, server).conn.is_closed(), "round {round}");
            }
            p.net.run_for(ms(500))?;
            let sent = p.net.traffic().pair(client, server).sent_bytes - sent_before;
            let answered = p.net.traffic().pair(server, client).sent_bytes - answered_before;
            assert!(
                answered * 4 <= sent,
                "answered {answered} bytes to {sent} bytes of challenges"
            );
            for at in [client, server] {
                assert!(!conn(&p.net, at).conn.is_closed(), "{at} closed");
            }
            Ok(())
        },
    );
}

/// RFC 9000 §5.1.2: a peer that keeps raising Retire Prior To with every
/// NEW_CONNECTION_ID while never acknowledging the victim's
/// RETIRE_CONNECTION_IDs cannot make the victim's retirement queue grow:
/// it stays within twice `active_connection_id_limit` at every step, and
/// the victim ends the connection with CONNECTION_ID_LIMIT_ERROR (which
/// §5.1.2 allows) rather than grow.
///
/// Once the victim retires the client's real IDs it sends to the made-up
/// ones, which the client's endpoint does not route: the attacker hears
/// nothing more, so only the victim's side is checked.
#[test]
fn rfc9000_5_1_2_retire_prior_to_flood_is_bounded() {
    run_seeded(
        "rfc9000_5_1_2_retire_prior_to_flood_is_bounded",
        seeds(2),
        |seed| {
            let mut p = established(seed, Setup::default())?;
            let (client, server) = (p.client, p.server);
            let limit = TransportConfig::default()
                .active_connection_id_limit
                .into_inner() as usize;
            conn_mut(&mut p.net, client).withhold_acks(true);
            let mut most = 0;
            for round in 0..50u64 {
                if conn(&p.net, server).conn.is_closed() {
                    break;
                }
                let sequence = 1000 + round;
                inject(
                    &mut p.net,
                    client,
                    SpaceId::Data,
                    &[new_cid(sequence, sequence)],
                );
                for _ in 0..3 {
                    step(&mut p.net)?;
                    let retiring = sizes(&p.net, server).remote_cids_retiring;
                    assert!(retiring <= 2 * limit, "round {round}: {retiring} retiring");
                    most = most.max(retiring);
                }
            }
            assert!(most > limit, "the flood never built a queue: {most}");
            match conn(&p.net, server).conn.error() {
                Some(ConnectionError::TransportError(e)) => {
                    assert_eq!(e.code, TransportErrorCode::CONNECTION_ID_LIMIT_ERROR, "{e}");
                }
                other => panic!("victim ended with {other:?}"),
            }
            Ok(())
        },
    );
}

// ----- garbage datagrams -----

/// Real datagrams seen on the wire, per direction, to mutate and replay.
type Captured = Rc<RefCell<Vec<Datagram>>>;

fn capture(net: &mut Network<QuicHost>) -> Captured {
    let seen: Captured = Rc::default();
    let store = seen.clone();
    net.observe(move |event, _| {
        let mut store = store.borrow_mut();
        if event.kind == EventKind::Sent && store.len() < 256 {
            store.push(event.datagram.clone());
        }
        Ok(())
    });
    seen
}

fn is_short_header(d: &Datagram) -> bool {
    d.payload.first().is_some_and(|b| b & 0x80 == 0)
}

fn pick<'a>(rng: &mut SimRng, from: &[&'a Datagram]) -> Option<&'a Datagram> {
    (!from.is_empty()).then(|| from[rng.gen_range(0..from.len() as u64) as usize])
}

/// One garbage datagram for `to`, as if from `from`: random bytes, random
/// bytes behind a real short header's connection ID or a long header, or a
/// real datagram replayed (1-RTT only: a replayed Initial is a new
/// connection attempt), truncated or with bytes flipped.
fn garbage(rng: &mut SimRng, real: &[Datagram], from: SocketAddr, to: SocketAddr) -> Datagram {
    let ours: Vec<&Datagram> = real
        .iter()
        .filter(|d| d.src == from && d.dst == to)
        .collect();
    let short: Vec<&Datagram> = ours
        .iter()
        .copied()
        .filter(|d| is_short_header(d))
        .collect();
    let mut payload = vec![0u8; rng.gen_range(1..1400) as usize];
    rng.fill_bytes(&mut payload);
    match rng.gen_range(0..6) {
        1 => {
            // A short header with a real destination connection ID.
            payload[0] = 0x40 | (payload[0] & 0x3f);
            if let Some(model) = pick(rng, &short) {
                let cid = model.payload.get(1..9).unwrap_or_default();
                let end = (1 + cid.len()).min(payload.len());
                payload[1..end].copy_from_slice(&cid[..end - 1]);
            }
        }
        2 => {
            // A long header, version 1 or not, an 8-byte DCID length.
            payload.resize(payload.len().max(1200), 0);
            payload[0] = 0xc0 | (payload[0] & 0x3f);
            if rng.gen_bool(0.7) {
                payload[1..5].copy_from_slice(&1u32.to_be_bytes());
            }
            payload[5] = 8;
        }
        3 => {
            if let Some(model) = pick(rng, &short) {
                payload = model.payload.to_vec();
            }
        }
        4 => {
            if let Some(model) = pick(rng, &ours) {
                payload = model.payload.to_vec();
                let keep = rng.gen_range(1..payload.len() as u64) as usize;
                payload.truncate(keep);
            }
        }
        5 => {
            if let Some(model) = pick(rng, &ours) {
                payload = model.payload.to_vec();
                for _ in 0..rng.gen_range_inclusive(1..=3) {
                    let at = rng.gen_range(0..payload.len() as u64) as usize;
                    payload[at] ^= rng.gen_range_inclusive(1..=255) as u8;
                }
            }
        }
        _ => {}
    }
    // Now and then from a stranger's address.
    let src = if rng.gen_bool(0.1) { addr(3) } else { from };
    Datagram::new(src, to, payload)
}

/// Garbage datagrams (bounded: 300 each way per seed) of every kind, sent
/// to both endpoints of an established connection, never panic either and
/// do not hurt the connection: afterwards streams still go both ways intact.
#[test]
fn garbage_datagrams_do_not_hurt_an_established_connection() {
    run_seeded(
        "garbage_datagrams_do_not_hurt_an_established_connection",
        seeds(4),
        |seed| {
            let setup = Setup {
                client_app: sink,
                server_app: sink,
                ..Setup::default()
            };
            let mut p = start(seed, setup);
            let real = capture(&mut p.net);
            let (client, server) = (p.client, p.server);
            p.net.drive_until(
                |net| has_connected(net, client) && has_connected(net, server),
                secs(5),
            )?;
            p.net.run_for(ms(300))?;
            let real = real.borrow().clone();
            let dropped_before =
                [client, server].map(|at| conn(&p.net, at).conn.stats().packets_dropped);
            let mut rng = SimRng::from_seed(seed ^ 0x6a7b);
            for _ in 0..30 {
                for _ in 0..10 {
                    p.net.inject(garbage(&mut rng, &real, client, server))?;
                    p.net.inject(garbage(&mut rng, &real, server, client))?;
                }
                p.net.run_for(ms(5))?;
                for at in [client, server] {
                    let c = &conn(&p.net, at).conn;
                    assert!(!c.is_closed(), "{at}: {:?}", c.error());
                }
            }
            // Much of the garbage got past the endpoints into the
            // connections, which dropped it.
            for (at, before) in [client, server].into_iter().zip(dropped_before) {
                let dropped = conn(&p.net, at).conn.stats().packets_dropped - before;
                assert!(dropped >= 50, "{at} dropped only {dropped}");
            }
            transfer_both_ways(&mut p, seed)
        },
    );
}

fn transfer(net: &Network<QuicHost>, at: SocketAddr) -> &Transfer {
    conn(net, at)
        .app
        .as_any()
        .downcast_ref::<Transfer>()
        .expect("a Transfer app")
}

/// Each side sends a stream to the other; both must arrive whole.
fn transfer_both_ways(p: &mut Pair, seed: u64) -> Result<(), String> {
    let (client, server) = (p.client, p.server);
    let mut sent = Vec::new();
    for (index, (from, to)) in [(client, server), (server, client)].into_iter().enumerate() {
        let data = stream_data(seed, index as u64, 20_000);
        let c = conn_mut(&mut p.net, from);
        let id = c.open(Dir::Uni).ok_or("no stream credit")?;
        let written = c.write(id, data.clone()).map_err(|e| format!("{e:?}"))?;
        assert_eq!(written, data.len());
        c.finish(id).map_err(|e| format!("{e:?}"))?;
        sent.push((to, id, data.len() as u64));
    }
    let arrived = |net: &Network<QuicHost>| {
        sent.iter()
            .all(|(to, id, _)| transfer(net, *to).received.contains_key(id))
    };
    p.net.drive_until(arrived, secs(10))?;
    for (index, (to, id, len)) in sent.iter().enumerate() {
        let got = &transfer(&p.net, *to).received[id];
        let data = stream_data(seed, index as u64, *len as usize);
        let digest = ring::digest::digest(&ring::digest::SHA256, &data);
        assert_eq!(got.len, *len);
        assert_eq!(got.sha256, digest.as_ref());
    }
    Ok(())
}

/// A datagram that looks like a client's first Initial (1,200 bytes,
/// version 1, an 8-byte DCID) but whose payload is garbage should start no
/// server connection (RFC 9001 §5.2: Initial packets are protected; one that
/// fails to open is discarded). The endpoint opens a first Initial before it
/// creates anything, so such garbage cannot fill the handshake slots
/// counted by `ServerConfig::max_incoming`.
#[test]
fn undecryptable_initial_starts_no_connection() {
    run_seeded(
        "undecryptable_initial_starts_no_connection",
        seeds(2),
        |seed| {
            let p = start(seed, Setup::default());
            let (mut net, server) = (p.net, p.server);
            let mut rng = SimRng::from_seed(seed);
            let mut payload = vec![0xc3, 0, 0, 0, 1, 8];
            let mut cids = [0u8; 17];
            rng.fill_bytes(&mut cids);
            cids[8] = 8;
            payload.extend_from_slice(&cids);
            // No token; a Length of 1,232 (a two-byte varint).
            payload.extend_from_slice(&[0x00, 0x44, 0xd0]);
            let mut body = vec![0u8; 1232];
            rng.fill_bytes(&mut body);
            payload.extend_from_slice(&body);
            net.inject(Datagram::new(addr(3), server, payload))?;
            net.run_for(ms(100))?;
            let host = net.host(server);
            let strangers = host
                .conns
                .values()
                .chain(&host.finished)
                .filter(|c| c.conn.remote_address() == addr(3))
                .count();
            assert_eq!(strangers, 0, "connections started by garbage");
            Ok(())
        },
    );
}
