//! Tests of the streams component through its public API: the RFC's error
//! codes, flow control, stream limits, the send and receive paths.

use bytes::Bytes;

use super::*;
use crate::error::{TransportError, TransportErrorCode};
use crate::frame::{self, Frame, FrameType};

// ---------------------------------------------------------------------------
// Helpers shared with `transfer_tests`

/// Small limits that tests can reach: 4 streams of each kind, 1000-byte
/// stream windows, a 2500-byte connection window, no auto-growth.
pub(super) fn test_config() -> StreamsConfig {
    StreamsConfig {
        max_concurrent_bidi_streams: 4,
        max_concurrent_uni_streams: 4,
        stream_receive_window_bidi_local: 1000,
        stream_receive_window_bidi_remote: 1000,
        stream_receive_window_uni: 1000,
        connection_receive_window: 2500,
        auto_grow_windows: false,
        max_stream_receive_window: 1000,
        max_connection_receive_window: 2500,
        send_buffer_limit: 10_000,
        max_out_of_order_chunks: 64,
    }
}

/// A client and a server that exchanged transport parameters.
pub(super) fn pair_with(config: StreamsConfig) -> (Streams, Streams) {
    let mut client = Streams::new(Side::Client, config.clone());
    let mut server = Streams::new(Side::Server, config);
    let mut client_params = TransportParameters::default();
    let mut server_params = TransportParameters::default();
    client.write_local_limits(&mut client_params);
    server.write_local_limits(&mut server_params);
    client.set_peer_limits(&server_params);
    server.set_peer_limits(&client_params);
    (client, server)
}

pub(super) fn pair() -> (Streams, Streams) {
    pair_with(test_config())
}

/// Builds one packet payload: control frames first, then STREAM frames.
pub(super) fn transmit(from: &mut Streams, budget: usize) -> (Bytes, StreamsSent) {
    let mut out = Vec::new();
    let mut sent = StreamsSent::new();
    let control = from.write_control_frames(&mut out, budget, &mut sent);
    let data = from.write_stream_frames(&mut out, budget - control, &mut sent);
    assert_eq!(out.len(), control + data);
    assert!(
        out.len() <= budget,
        "{} bytes for a budget of {budget}",
        out.len()
    );
    (Bytes::from(out), sent)
}

/// Hands every frame of `payload` to `to`, as the connection would; stops at
/// a refused STREAM frame.
pub(super) fn deliver(
    to: &mut Streams,
    payload: Bytes,
) -> Result<StreamFrameOutcome, TransportError> {
    for frame in frame::Iter::new(payload) {
        match frame.expect("we only write valid frames") {
            Frame::Stream(f) => {
                if to.received_stream(f)? == StreamFrameOutcome::Refused {
                    return Ok(StreamFrameOutcome::Refused);
                }
            }
            Frame::ResetStream(f) => to.received_reset_stream(f)?,
            Frame::StopSending(f) => to.received_stop_sending(f)?,
            Frame::MaxData(f) => to.received_max_data(f)?,
            Frame::MaxStreamData(f) => to.received_max_stream_data(f)?,
            Frame::MaxStreams(f) => to.received_max_streams(f)?,
            Frame::DataBlocked(f) => to.received_data_blocked(f)?,
            Frame::StreamDataBlocked(f) => to.received_stream_data_blocked(f)?,
            Frame::StreamsBlocked(f) => to.received_streams_blocked(f)?,
            other => panic!("unexpected frame {other:?}"),
        }
    }
    Ok(StreamFrameOutcome::Accepted)
}

/// Hands a payload to `to`, which must accept all of it.
pub(super) fn deliver_all(to: &mut Streams, payload: Bytes) {
    assert_eq!(deliver(to, payload), Ok(StreamFrameOutcome::Accepted));
}

/// Sends one packet from `from` to `to` and acknowledges it. Returns whether
/// anything was sent.
pub(super) fn step(from: &mut Streams, to: &mut Streams) -> bool {
    if !from.wants_to_send() {
        return false;
    }
    let (payload, sent) = transmit(from, 1200);
    if payload.is_empty() {
        return false;
    }
    deliver_all(to, payload);
    from.on_packet_acked(sent);
    true
}

/// Exchanges packets until neither side has anything to send.
pub(super) fn drive(a: &mut Streams, b: &mut Streams) {
    for _ in 0..10_000 {
        let sent_a = step(a, b);
        let sent_b = step(b, a);
        if !sent_a && !sent_b && !a.wants_to_send() && !b.wants_to_send() {
            return;
        }
    }
    panic!("no quiescence");
}

/// The frames of a payload.
pub(super) fn frames(payload: &Bytes) -> Vec<Frame> {
    frame::Iter::new(payload.clone())
        .collect::<Result<_, _>>()
        .expect("valid frames")
}

fn id(side: Side, dir: Dir, index: u64) -> StreamId {
    StreamId::new(side, dir, index)
}

fn data_frame(id: StreamId, offset: u64, data: &[u8], fin: bool) -> frame::Stream {
    frame::Stream {
        id,
        offset,
        fin,
        data: Bytes::copy_from_slice(data),
    }
}

/// Hands `frame` to `to`, which must accept it.
fn accept(to: &mut Streams, frame: frame::Stream) {
    assert_eq!(to.received_stream(frame), Ok(StreamFrameOutcome::Accepted));
}

fn var(value: u64) -> VarInt {
    VarInt::from_u64(value).unwrap()
}

fn reset_frame(id: StreamId, code: u64, final_size: u64) -> frame::ResetStream {
    frame::ResetStream {
        id,
        error_code: var(code),
        final_size: var(final_size),
    }
}

fn code<T: std::fmt::Debug>(result: Result<T, TransportError>) -> TransportErrorCode {
    result.unwrap_err().code
}

fn events(streams: &mut Streams) -> Vec<StreamEvent> {
    std::iter::from_fn(|| streams.poll_event()).collect()
}

fn read_all(streams: &mut Streams, id: StreamId) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = streams.read(id, usize::MAX) {
        out.extend_from_slice(&chunk);
    }
    out
}

const CLIENT_BI_0: StreamId = StreamId::from_var(VarInt::from_u32(0));
const CLIENT_UNI_0: StreamId = StreamId::from_var(VarInt::from_u32(2));
const SERVER_UNI_0: StreamId = StreamId::from_var(VarInt::from_u32(3));

// ---------------------------------------------------------------------------
// Stream ID checks (RFC 9000 §19.4, §19.5, §19.8, §19.10, §19.13, §4.6)

/// RFC 9000 §19.8: a STREAM frame for a send-only stream is a
/// STREAM_STATE_ERROR.
#[test]
fn rfc9000_19_8_stream_on_send_only_stream() {
    let (mut client, _) = pair();
    let uni = client.open(Dir::Uni).unwrap();
    assert_eq!(uni, CLIENT_UNI_0);
    let err = client
        .received_stream(data_frame(uni, 0, b"x", false))
        .unwrap_err();
    assert_eq!(err.code, TransportErrorCode::STREAM_STATE_ERROR);
    assert_eq!(err.frame_type, Some(0x0a));
}

/// RFC 9000 §19.4: RESET_STREAM for a send-only stream is a
/// STREAM_STATE_ERROR.
#[test]
fn rfc9000_19_4_reset_stream_on_send_only_stream() {
    let (mut client, _) = pair();
    let uni = client.open(Dir::Uni).unwrap();
    let err = client
        .received_reset_stream(reset_frame(uni, 1, 0))
        .unwrap_err();
    assert_eq!(err.code, TransportErrorCode::STREAM_STATE_ERROR);
    assert_eq!(err.frame_type, Some(FrameType::RESET_STREAM.into_inner()));
}

/// RFC 9000 §19.13: STREAM_DATA_BLOCKED for a send-only stream is a
/// STREAM_STATE_ERROR.
#[test]
fn rfc9000_19_13_stream_data_blocked_on_send_only_stream() {
    let (mut client, _) = pair();
    let uni = client.open(Dir::Uni).unwrap();
    let frame = frame::StreamDataBlocked {
        id: uni,
        limit: var(0),
    };
    assert_eq!(
        code(client.received_stream_data_blocked(frame)),
        TransportErrorCode::STREAM_STATE_ERROR
    );
}

/// RFC 9000 §19.5: STOP_SENDING for a receive-only stream is a
/// STREAM_STATE_ERROR.
#[test]
fn rfc9000_19_5_stop_sending_on_receive_only_stream() {
    let (mut client, _) = pair();
    let frame = frame::StopSending {
        id: SERVER_UNI_0,
        error_code: var(0),
    };
    let err = client.received_stop_sending(frame).unwrap_err();
    assert_eq!(err.code, TransportErrorCode::STREAM_STATE_ERROR);
    assert_eq!(err.frame_type, Some(FrameType::STOP_SENDING.into_inner()));
}

/// RFC 9000 §19.10: MAX_STREAM_DATA for a receive-only stream is a
/// STREAM_STATE_ERROR.
#[test]
fn rfc9000_19_10_max_stream_data_on_receive_only_stream() {
    let (mut client, _) = pair();
    let frame = frame::MaxStreamData {
        id: SERVER_UNI_0,
        max: var(10),
    };
    assert_eq!(
        code(client.received_max_stream_data(frame)),
        TransportErrorCode::STREAM_STATE_ERROR
    );
}

/// RFC 9000 §19.8, §19.5, §19.10: frames for a locally-initiated stream that
/// has not been opened yet are a STREAM_STATE_ERROR.
#[test]
fn rfc9000_19_8_frames_for_unopened_local_stream() {
    let (mut client, _) = pair();
    let state = TransportErrorCode::STREAM_STATE_ERROR;
    let stream = client.received_stream(data_frame(CLIENT_BI_0, 0, b"x", false));
    assert_eq!(code(stream), state);
    let stop = frame::StopSending {
        id: CLIENT_BI_0,
        error_code: var(0),
    };
    assert_eq!(code(client.received_stop_sending(stop)), state);
    let max = frame::MaxStreamData {
        id: CLIENT_BI_0,
        max: var(5),
    };
    assert_eq!(code(client.received_max_stream_data(max)), state);
    let reset = client.received_reset_stream(reset_frame(CLIENT_BI_0, 0, 0));
    assert_eq!(code(reset), state);
    // Once opened, the same frames are fine.
    assert_eq!(client.open(Dir::Bi), Some(CLIENT_BI_0));
    accept(&mut client, data_frame(CLIENT_BI_0, 0, b"x", false));
}

/// RFC 9000 §4.6, §19.11: a stream ID at or beyond the limit we advertised
/// is a STREAM_LIMIT_ERROR, for every frame that names a stream.
#[test]
fn rfc9000_4_6_stream_id_beyond_limit() {
    let (_, mut server) = pair();
    let limit = TransportErrorCode::STREAM_LIMIT_ERROR;
    let fifth = id(Side::Client, Dir::Bi, 4);
    let stream = server.received_stream(data_frame(fifth, 0, b"x", false));
    assert_eq!(code(stream), limit);
    let reset = server.received_reset_stream(reset_frame(fifth, 0, 0));
    assert_eq!(code(reset), limit);
    let stop = frame::StopSending {
        id: fifth,
        error_code: var(0),
    };
    assert_eq!(code(server.received_stop_sending(stop)), limit);
    let uni = id(Side::Client, Dir::Uni, 4);
    let blocked = frame::StreamDataBlocked {
        id: uni,
        limit: var(0),
    };
    assert_eq!(code(server.received_stream_data_blocked(blocked)), limit);
    // The fourth is within the limit and opens all lower ones (§3.2).
    let fourth = id(Side::Client, Dir::Bi, 3);
    accept(&mut server, data_frame(fourth, 0, b"x", false));
    assert_eq!(events(&mut server)[0], StreamEvent::Opened { dir: Dir::Bi });
    let accepted: Vec<_> = std::iter::from_fn(|| server.accept(Dir::Bi)).collect();
    let expected: Vec<_> = (0..4).map(|i| id(Side::Client, Dir::Bi, i)).collect();
    assert_eq!(accepted, expected);
}

/// RFC 9000 §3.2: MAX_STREAM_DATA and STOP_SENDING open a peer's
/// bidirectional stream, and so does STREAM_DATA_BLOCKED.
#[test]
fn rfc9000_3_2_control_frames_open_peer_streams() {
    let (_, mut server) = pair();
    let max = frame::MaxStreamData {
        id: id(Side::Client, Dir::Bi, 1),
        max: var(5000),
    };
    server.received_max_stream_data(max).unwrap();
    assert_eq!(server.accept(Dir::Bi), Some(CLIENT_BI_0));
    assert_eq!(server.accept(Dir::Bi), Some(id(Side::Client, Dir::Bi, 1)));
    let blocked = frame::StreamDataBlocked {
        id: CLIENT_UNI_0,
        limit: var(0),
    };
    server.received_stream_data_blocked(blocked).unwrap();
    assert_eq!(server.accept(Dir::Uni), Some(CLIENT_UNI_0));
    assert_eq!(server.recv_state(CLIENT_UNI_0), Some(RecvState::Recv));
}

// ---------------------------------------------------------------------------
// Flow control and final size (RFC 9000 §4.1, §4.5)

/// RFC 9000 §4.1, §19.10: data beyond the stream's limit is a
/// FLOW_CONTROL_ERROR.
#[test]
fn rfc9000_4_1_stream_flow_control_error() {
    let (_, mut server) = pair();
    accept(&mut server, data_frame(CLIENT_BI_0, 999, b"x", false));
    let err = server
        .received_stream(data_frame(CLIENT_BI_0, 999, b"xy", false))
        .unwrap_err();
    assert_eq!(err.code, TransportErrorCode::FLOW_CONTROL_ERROR);
    assert_eq!(err.frame_type, Some(0x0e));
    // A RESET_STREAM whose final size exceeds the limit, too.
    let other = id(Side::Client, Dir::Bi, 1);
    assert_eq!(
        code(server.received_reset_stream(reset_frame(other, 0, 1001))),
        TransportErrorCode::FLOW_CONTROL_ERROR
    );
}

/// RFC 9000 §4.1, §19.9: connection flow control counts the highest offset
/// of each stream, not retransmitted bytes; beyond MAX_DATA is a
/// FLOW_CONTROL_ERROR.
#[test]
fn rfc9000_4_1_connection_flow_control_counts_highest_offsets() {
    let (_, mut server) = pair();
    let streams: Vec<_> = (0..3).map(|i| id(Side::Client, Dir::Bi, i)).collect();
    let kb = vec![0u8; 1000];
    accept(&mut server, data_frame(streams[0], 0, &kb, false));
    // Retransmissions do not count again.
    accept(&mut server, data_frame(streams[0], 0, &kb, false));
    accept(&mut server, data_frame(streams[0], 500, &kb[..500], false));
    // A gap counts: the highest offset is what matters.
    accept(&mut server, data_frame(streams[1], 990, &kb[..10], false));
    accept(&mut server, data_frame(streams[2], 0, &kb[..500], false));
    assert_eq!(server.receive.received, 2500);
    let err = server
        .received_stream(data_frame(streams[2], 500, b"x", false))
        .unwrap_err();
    assert_eq!(err.code, TransportErrorCode::FLOW_CONTROL_ERROR);
    assert_eq!(server.receive.received, 2500, "the error changed nothing");
}

/// RFC 9000 §4.5: a RESET_STREAM's final size counts toward connection flow
/// control, including bytes never received.
#[test]
fn rfc9000_4_5_reset_final_size_counts_toward_connection_limit() {
    let (_, mut server) = pair();
    let streams: Vec<_> = (0..3).map(|i| id(Side::Client, Dir::Bi, i)).collect();
    accept(&mut server, data_frame(streams[0], 0, b"0123456789", false));
    server
        .received_reset_stream(reset_frame(streams[0], 7, 1000))
        .unwrap();
    accept(&mut server, data_frame(streams[1], 0, &[0; 1000], false));
    accept(&mut server, data_frame(streams[2], 0, &[0; 500], false));
    let err = server.received_stream(data_frame(streams[2], 500, b"x", false));
    assert_eq!(code(err), TransportErrorCode::FLOW_CONTROL_ERROR);
}

/// RFC 9000 §4.5: a changed final size, data beyond it, or a final size
/// below data already received is a FINAL_SIZE_ERROR.
#[test]
fn rfc9000_4_5_final_size_errors() {
    let (_, mut server) = pair();
    let final_size = TransportErrorCode::FINAL_SIZE_ERROR;
    let s0 = CLIENT_BI_0;
    accept(&mut server, data_frame(s0, 0, b"abc", true));
    let beyond = server.received_stream(data_frame(s0, 3, b"d", false));
    assert_eq!(code(beyond), final_size);
    let smaller = server.received_stream(data_frame(s0, 0, b"ab", true));
    assert_eq!(code(smaller), final_size);
    let reset = server.received_reset_stream(reset_frame(s0, 0, 4));
    assert_eq!(code(reset), final_size);
    // The same final size again is fine.
    accept(&mut server, data_frame(s0, 1, b"bc", true));
    assert!(server.received_reset_stream(reset_frame(s0, 0, 3)).is_ok());

    let s1 = id(Side::Client, Dir::Bi, 1);
    accept(&mut server, data_frame(s1, 0, b"abcdef", false));
    let below = server.received_stream(data_frame(s1, 0, b"abc", true));
    assert_eq!(code(below), final_size);
    let reset = server.received_reset_stream(reset_frame(s1, 0, 5));
    assert_eq!(code(reset), final_size);

    let s2 = id(Side::Client, Dir::Bi, 2);
    server
        .received_reset_stream(reset_frame(s2, 0, 10))
        .unwrap();
    let beyond = server.received_stream(data_frame(s2, 9, b"xy", false));
    assert_eq!(code(beyond), final_size);
    let changed = server.received_reset_stream(reset_frame(s2, 0, 11));
    assert_eq!(code(changed), final_size);
    accept(&mut server, data_frame(s2, 8, b"xy", true));
}

/// RFC 9000 §3.2, §4.4: frames for a stream that was closed and forgotten
/// are ignored.
#[test]
fn rfc9000_4_4_frames_for_forgotten_streams_are_ignored() {
    let (_, mut server) = pair();
    accept(&mut server, data_frame(CLIENT_UNI_0, 0, b"hi", true));
    assert_eq!(server.accept(Dir::Uni), Some(CLIENT_UNI_0));
    assert_eq!(read_all(&mut server, CLIENT_UNI_0), b"hi");
    assert_eq!(server.read(CLIENT_UNI_0, 10), Err(ReadError::ClosedStream));
    assert_eq!(server.recv_state(CLIENT_UNI_0), None);
    accept(&mut server, data_frame(CLIENT_UNI_0, 0, b"hi", true));
    let reset = server.received_reset_stream(reset_frame(CLIENT_UNI_0, 0, 2));
    assert!(reset.is_ok());
    assert_eq!(server.recv_state(CLIENT_UNI_0), None);
    assert_eq!(server.stream_count(), 0);
}

// ---------------------------------------------------------------------------
// The out-of-order chunk bound (DESIGN.md rule 5)

/// A flood of 1-byte gapped frames is refused once the connection holds
/// `max_out_of_order_chunks` chunks; refused frames change nothing (not even
/// opening a stream); a frame filling the gap at a read offset still gets in.
#[test]
fn chunk_flood_is_refused_at_the_bound() {
    let config = StreamsConfig {
        max_out_of_order_chunks: 16,
        stream_receive_window_bidi_remote: 100_000,
        connection_receive_window: 100_000,
        max_connection_receive_window: 100_000,
        ..test_config()
    };
    let (_, mut server) = pair_with(config);
    let mut refused = 0;
    for i in 0..100 {
        let outcome = server.received_stream(data_frame(CLIENT_BI_0, 2 * i + 1, b"x", false));
        if outcome.unwrap() == StreamFrameOutcome::Refused {
            refused += 1;
        }
        assert!(server.buffered_chunks() <= 16);
    }
    assert_eq!(refused, 100 - 16);
    assert_eq!(server.buffered_chunks(), 16);
    let received = server.receive.received;
    let refused_frame = data_frame(CLIENT_BI_0, 5000, b"x", true);
    let outcome = server.received_stream(refused_frame);
    assert_eq!(outcome, Ok(StreamFrameOutcome::Refused));
    assert_eq!(server.receive.received, received);
    assert_eq!(server.recv_state(CLIENT_BI_0), Some(RecvState::Recv));
    // Refused before opening anything.
    let new = id(Side::Client, Dir::Bi, 1);
    let outcome = server.received_stream(data_frame(new, 10, b"x", false));
    assert_eq!(outcome, Ok(StreamFrameOutcome::Refused));
    assert_eq!(server.recv_state(new), None);
    // Frames that buffer nothing are not refused.
    accept(&mut server, data_frame(new, 0, b"", false));
    // Filling the head gap makes progress and is let in.
    accept(&mut server, data_frame(CLIENT_BI_0, 0, b"y", false));
    assert_eq!(server.buffered_chunks(), 17);
    assert_eq!(server.read(CLIENT_BI_0, 10).unwrap().unwrap(), &b"y"[..]);
    assert_eq!(server.read(CLIENT_BI_0, 10).unwrap().unwrap(), &b"x"[..]);
    assert_eq!(server.buffered_chunks(), 15);
    accept(&mut server, data_frame(new, 0, b"a", false));
    // At the bound, with data readable, more is refused.
    let more = server.received_stream(data_frame(new, 0, b"ab", false));
    assert_eq!(more, Ok(StreamFrameOutcome::Refused));
    assert!(server.buffered_chunks() <= 32);
}

// ---------------------------------------------------------------------------
// Receiving

/// RFC 9000 §2.2 and DESIGN.md "no copies of payload": `read` returns a
/// slice of the `Bytes` the frame arrived in.
#[test]
fn read_returns_a_slice_of_the_received_bytes() {
    let (_, mut server) = pair();
    let datagram = Bytes::from(b"xxhello world".to_vec());
    let data = datagram.slice(2..);
    let frame = frame::Stream {
        id: CLIENT_BI_0,
        offset: 0,
        fin: true,
        data,
    };
    accept(&mut server, frame);
    let read = server.read(CLIENT_BI_0, 5).unwrap().unwrap();
    assert_eq!(&read[..], b"hello");
    assert_eq!(read.as_ptr(), datagram[2..].as_ptr());
    let rest = server.read(CLIENT_BI_0, 100).unwrap().unwrap();
    assert_eq!(rest.as_ptr(), datagram[7..].as_ptr());
    assert_eq!(server.read(CLIENT_BI_0, 0), Ok(Some(Bytes::new())));
    assert_eq!(server.read(CLIENT_BI_0, 100), Ok(None));
    assert_eq!(server.read(CLIENT_BI_0, 100), Err(ReadError::ClosedStream));
}

/// RFC 9000 §3.2: Recv → Size Known → Data Recvd → Data Read, with a
/// `Readable` event (deduplicated) and the end reported once.
#[test]
fn rfc9000_3_2_fin_and_readable_events() {
    let (_, mut server) = pair();
    accept(&mut server, data_frame(CLIENT_UNI_0, 3, b"def", true));
    assert_eq!(server.recv_state(CLIENT_UNI_0), Some(RecvState::SizeKnown));
    assert_eq!(server.read(CLIENT_UNI_0, 10), Err(ReadError::Blocked));
    assert_eq!(events(&mut server), [StreamEvent::Opened { dir: Dir::Uni }]);
    accept(&mut server, data_frame(CLIENT_UNI_0, 0, b"a", false));
    accept(&mut server, data_frame(CLIENT_UNI_0, 1, b"bc", false));
    assert_eq!(server.recv_state(CLIENT_UNI_0), Some(RecvState::DataRecvd));
    let readable = StreamEvent::Readable { id: CLIENT_UNI_0 };
    assert_eq!(events(&mut server), [readable]);
    assert_eq!(read_all(&mut server, CLIENT_UNI_0), b"abcdef");
    assert_eq!(server.read(CLIENT_UNI_0, 10), Err(ReadError::ClosedStream));
    // A FIN arriving alone after the data also makes the stream readable.
    let s = id(Side::Client, Dir::Uni, 1);
    accept(&mut server, data_frame(s, 0, b"xy", false));
    assert_eq!(read_all(&mut server, s), b"xy");
    events(&mut server);
    accept(&mut server, data_frame(s, 2, b"", true));
    assert_eq!(events(&mut server), [StreamEvent::Readable { id: s }]);
    assert_eq!(server.read(s, 10), Ok(None));
}

/// RFC 9000 §3.2, §4.5: a reset discards data, is reported once by `read`,
/// and gives the whole final size back to connection flow control.
#[test]
fn rfc9000_3_2_reset_is_read_once_and_credit_returns() {
    let (_, mut server) = pair();
    accept(&mut server, data_frame(CLIENT_UNI_0, 0, &[1; 900], false));
    server
        .received_reset_stream(reset_frame(CLIENT_UNI_0, 77, 1000))
        .unwrap();
    assert_eq!(server.recv_state(CLIENT_UNI_0), Some(RecvState::ResetRecvd));
    assert_eq!(server.buffered_chunks(), 0);
    let readable = StreamEvent::Readable { id: CLIENT_UNI_0 };
    assert!(events(&mut server).contains(&readable));
    assert_eq!(
        server.read(CLIENT_UNI_0, 10),
        Err(ReadError::Reset(var(77)))
    );
    assert_eq!(server.read(CLIENT_UNI_0, 10), Err(ReadError::ClosedStream));
    assert_eq!(server.receive.consumed, 1000, "the whole final size");
    assert!(!server.pending.max_data);
    let uni = Dir::Uni as usize;
    assert!(server.pending.max_streams[uni], "the stream is closed");
    // 300 more read: 1300 of 2500 consumed, so MAX_DATA moves to 3800.
    let other = id(Side::Client, Dir::Uni, 1);
    accept(&mut server, data_frame(other, 0, &[2; 300], false));
    assert_eq!(read_all(&mut server, other).len(), 300);
    let (payload, _) = transmit(&mut server, 1200);
    let max = frame::MaxData { max: var(3800) };
    assert!(frames(&payload).contains(&Frame::MaxData(max)));
}

/// RFC 9000 §3.2: a reset that arrives after all data is suppressed; the
/// application reads the data.
#[test]
fn rfc9000_3_2_reset_after_all_data_is_suppressed() {
    let (_, mut server) = pair();
    accept(&mut server, data_frame(CLIENT_UNI_0, 0, b"all", true));
    server
        .received_reset_stream(reset_frame(CLIENT_UNI_0, 1, 3))
        .unwrap();
    assert_eq!(server.recv_state(CLIENT_UNI_0), Some(RecvState::DataRecvd));
    assert_eq!(read_all(&mut server, CLIENT_UNI_0), b"all");
}

/// RFC 9000 §4.2: reading half a window gives credit back with
/// MAX_STREAM_DATA; MAX_DATA waits for half the connection window.
#[test]
fn rfc9000_4_2_credit_returns_as_the_application_reads() {
    let (_, mut server) = pair();
    accept(&mut server, data_frame(CLIENT_UNI_0, 0, &[0; 1000], false));
    let read = server.read(CLIENT_UNI_0, 400).unwrap().unwrap();
    assert_eq!(read.len(), 400);
    assert!(!server.has_pending_control());
    let read = server.read(CLIENT_UNI_0, 200).unwrap().unwrap();
    assert_eq!(read.len(), 200);
    let (payload, sent) = transmit(&mut server, 1200);
    let expected = frame::MaxStreamData {
        id: CLIENT_UNI_0,
        max: var(1600),
    };
    assert_eq!(frames(&payload), [Frame::MaxStreamData(expected)]);
    let record = [SentFrame::MaxStreamData {
        id: CLIENT_UNI_0,
        max: 1600,
    }];
    assert_eq!(sent.iter().copied().collect::<Vec<_>>(), record);
    // Reading on to 1300 of the 2500-byte connection window: MAX_DATA too.
    let other = id(Side::Client, Dir::Uni, 1);
    accept(&mut server, data_frame(other, 0, &[0; 700], false));
    read_all(&mut server, other);
    let (payload, _) = transmit(&mut server, 1200);
    let max = frame::MaxData {
        max: var(700 + 600 + 2500),
    };
    let sent = frames(&payload);
    assert!(sent.contains(&Frame::MaxData(max)), "{sent:?}");
}

/// RFC 9000 §19.12, §19.13 (§4.2 autotuning): with auto-growth, a peer
/// blocked at our limit doubles the window.
#[test]
fn rfc9000_19_13_blocked_peer_grows_the_window() {
    let config = StreamsConfig {
        auto_grow_windows: true,
        max_stream_receive_window: 4000,
        max_connection_receive_window: 10_000,
        ..test_config()
    };
    let (_, mut server) = pair_with(config);
    let blocked = frame::StreamDataBlocked {
        id: CLIENT_UNI_0,
        limit: var(999),
    };
    server.received_stream_data_blocked(blocked).unwrap();
    assert!(!server.has_pending_control(), "not blocked at our limit");
    let blocked = frame::StreamDataBlocked {
        id: CLIENT_UNI_0,
        limit: var(1000),
    };
    server.received_stream_data_blocked(blocked).unwrap();
    let data_blocked = frame::DataBlocked { limit: var(2500) };
    server.received_data_blocked(data_blocked).unwrap();
    let (payload, _) = transmit(&mut server, 1200);
    let stream = frame::MaxStreamData {
        id: CLIENT_UNI_0,
        max: var(2000),
    };
    let connection = frame::MaxData { max: var(5000) };
    assert_eq!(
        frames(&payload),
        [Frame::MaxData(connection), Frame::MaxStreamData(stream)]
    );
}

/// RFC 9000 §3.5: stopping discards data, queues STOP_SENDING, and the peer
/// answers with RESET_STREAM carrying the same code.
#[test]
fn rfc9000_3_5_stop_sending_leads_to_reset() {
    let (mut client, mut server) = pair();
    let s = client.open(Dir::Bi).unwrap();
    client.write(s, Bytes::from_static(b"hello")).unwrap();
    drive(&mut client, &mut server);
    assert_eq!(server.accept(Dir::Bi), Some(s));
    server.stop(s, var(9)).unwrap();
    assert_eq!(server.read(s, 10), Err(ReadError::ClosedStream));
    let (payload, _) = transmit(&mut server, 1200);
    let stop = frame::StopSending {
        id: s,
        error_code: var(9),
    };
    assert_eq!(frames(&payload), [Frame::StopSending(stop)]);
    deliver_all(&mut client, payload);
    let stopped = StreamEvent::Stopped {
        id: s,
        error_code: var(9),
    };
    assert_eq!(events(&mut client), [stopped]);
    let write = client.write(s, Bytes::from_static(b"more"));
    assert_eq!(write, Err(WriteError::Stopped(var(9))));
    assert_eq!(client.finish(s), Err(FinishError::Stopped(var(9))));
    assert_eq!(client.send_state(s), Some(SendState::ResetSent));
    let (payload, sent) = transmit(&mut client, 1200);
    let reset = frame::ResetStream {
        id: s,
        error_code: var(9),
        final_size: var(5),
    };
    assert_eq!(frames(&payload), [Frame::ResetStream(reset)]);
    deliver_all(&mut server, payload);
    client.on_packet_acked(sent);
    assert_eq!(client.send_state(s), None, "Reset Recvd, forgotten");
    assert!(client.is_finished(s));
    // The stopped receiving part was forgotten once the final size was known.
    assert_eq!(server.recv_state(s), None);
}

// ---------------------------------------------------------------------------
// Sending

/// RFC 9000 §4.1, §19.13: a write beyond the stream credit is partial, then
/// blocked; STREAM_DATA_BLOCKED is queued once; MAX_STREAM_DATA makes the
/// stream writable.
#[test]
fn rfc9000_19_13_stream_credit_blocks_writes() {
    let (mut client, mut server) = pair();
    let s = client.open(Dir::Uni).unwrap();
    assert_eq!(client.write(s, Bytes::from(vec![1; 1500])), Ok(1000));
    let write = client.write(s, Bytes::from_static(b"x"));
    assert_eq!(write, Err(WriteError::Blocked));
    let (payload, _) = transmit(&mut client, 1200);
    let blocked = frame::StreamDataBlocked {
        id: s,
        limit: var(1000),
    };
    assert_eq!(frames(&payload)[0], Frame::StreamDataBlocked(blocked));
    deliver_all(&mut server, payload);
    drive(&mut client, &mut server);
    assert!(events(&mut client).is_empty());
    assert_eq!(read_all(&mut server, s).len(), 1000);
    drive(&mut server, &mut client);
    assert_eq!(events(&mut client), [StreamEvent::Writable { id: s }]);
    assert_eq!(client.write(s, Bytes::from(vec![1; 1500])), Ok(1000));
}

/// RFC 9000 §4.1, §19.12: writes share the connection credit; DATA_BLOCKED
/// is queued and MAX_DATA wakes the blocked writers.
#[test]
fn rfc9000_19_12_connection_credit_blocks_writes() {
    let (mut client, mut server) = pair();
    let ids: Vec<_> = (0..3).map(|_| client.open(Dir::Uni).unwrap()).collect();
    let kb = Bytes::from(vec![0; 1000]);
    assert_eq!(client.write(ids[0], kb.clone()), Ok(1000));
    assert_eq!(client.write(ids[1], kb.clone()), Ok(1000));
    assert_eq!(client.write(ids[2], kb.clone()), Ok(500));
    assert_eq!(client.write(ids[0], kb), Err(WriteError::Blocked));
    let (payload, _) = transmit(&mut client, 100);
    let blocked = frame::DataBlocked { limit: var(2500) };
    assert_eq!(frames(&payload)[0], Frame::DataBlocked(blocked));
    deliver_all(&mut server, payload);
    drive(&mut client, &mut server);
    for &s in &ids {
        read_all(&mut server, s);
    }
    drive(&mut server, &mut client);
    let woken = events(&mut client);
    assert!(
        woken.contains(&StreamEvent::Writable { id: ids[2] }),
        "{woken:?}"
    );
    assert!(client.peer_max_data() > 2500);
}

/// RFC 9000 §3.1: FIN handling: a FIN alone after the data, its loss and
/// retransmission, and Data Recvd with a `Finished` event once everything is
/// acknowledged.
#[test]
fn rfc9000_3_1_fin_lost_and_acknowledged() {
    let (mut client, mut server) = pair();
    let s = client.open(Dir::Uni).unwrap();
    client.write(s, Bytes::from_static(b"0123456789")).unwrap();
    let (first, first_sent) = transmit(&mut client, 1200);
    assert_eq!(client.send_state(s), Some(SendState::Send));
    client.finish(s).unwrap();
    let write = client.write(s, Bytes::from_static(b"x"));
    assert_eq!(write, Err(WriteError::ClosedStream));
    let (fin, fin_sent) = transmit(&mut client, 1200);
    let expected = frame::Stream {
        id: s,
        offset: 10,
        fin: true,
        data: Bytes::new(),
    };
    assert_eq!(frames(&fin), [Frame::Stream(expected.clone())]);
    assert_eq!(client.send_state(s), Some(SendState::DataSent));
    deliver_all(&mut server, first);
    client.on_packet_acked(first_sent);
    client.on_packet_lost(fin_sent);
    assert!(client.wants_to_send());
    let (again, again_sent) = transmit(&mut client, 1200);
    assert_eq!(frames(&again), [Frame::Stream(expected)]);
    assert!(events(&mut client).is_empty());
    deliver_all(&mut server, again);
    client.on_packet_acked(again_sent);
    assert_eq!(events(&mut client), [StreamEvent::Finished { id: s }]);
    assert!(client.is_finished(s));
    assert_eq!(client.send_state(s), None);
    assert_eq!(read_all(&mut server, s), b"0123456789");
    assert_eq!(server.read(s, 1), Err(ReadError::ClosedStream));
}

/// RFC 9000 §13.3: lost ranges are sent again before new data, less what was
/// acknowledged since; nothing is retransmitted on a reset stream.
#[test]
fn rfc9000_13_3_lost_ranges_are_retransmitted_first() {
    let (mut client, _) = pair();
    let s = client.open(Dir::Uni).unwrap();
    let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    client.write(s, Bytes::from(data)).unwrap();
    let (_, p1) = transmit(&mut client, 300);
    let (_, p2) = transmit(&mut client, 300);
    let (_, p3) = transmit(&mut client, 300);
    let p2_range = match p2.iter().next() {
        Some(&SentFrame::Stream { offset, len, .. }) => offset..offset + u64::from(len),
        other => panic!("{other:?}"),
    };
    client.on_packet_acked(p1.clone());
    client.on_packet_lost(p2);
    let (payload, _) = transmit(&mut client, 1200);
    match &frames(&payload)[..] {
        [Frame::Stream(retransmission), Frame::Stream(new)] => {
            assert_eq!(retransmission.offset, p2_range.start);
            let len = retransmission.data.len() as u64;
            assert_eq!(len, p2_range.end - p2_range.start);
            assert_eq!(retransmission.data[0], p2_range.start as u8);
            assert!(new.offset > p2_range.end);
        }
        other => panic!("{other:?}"),
    }
    // A late acknowledgment of a packet declared lost cancels the resend.
    client.on_packet_lost(p3.clone());
    client.on_packet_acked(p3);
    assert!(!client.wants_to_send());
    // Lost after a reset: nothing comes back but the RESET_STREAM.
    client.on_packet_lost(p1);
    client.reset(s, var(3)).unwrap();
    let (payload, _) = transmit(&mut client, 1200);
    let reset = frame::ResetStream {
        id: s,
        error_code: var(3),
        final_size: var(1000),
    };
    assert_eq!(frames(&payload), [Frame::ResetStream(reset)]);
}

/// RFC 9000 §3.1, §4.5: a reset gives back the connection credit of the data
/// never sent, and the RESET_STREAM carries what was sent as final size;
/// a lost RESET_STREAM is sent again until acknowledged.
#[test]
fn rfc9000_4_5_reset_releases_unsent_credit() {
    let (mut client, mut server) = pair();
    let s = client.open(Dir::Uni).unwrap();
    client.write(s, Bytes::from(vec![5; 1000])).unwrap();
    let (payload, sent) = transmit(&mut client, 400);
    deliver_all(&mut server, payload);
    client.on_packet_acked(sent);
    assert_eq!(client.send_credit.available(), 1500);
    client.reset(s, var(1)).unwrap();
    let final_size = client.data_sent();
    assert!(final_size < 400);
    assert_eq!(client.send_credit.available(), 2500 - final_size);
    assert_eq!(client.reset(s, var(2)), Ok(()), "already reset");
    let write = client.write(s, Bytes::from_static(b"x"));
    assert_eq!(write, Err(WriteError::ClosedStream));
    let (_, lost) = transmit(&mut client, 1200);
    client.on_packet_lost(lost);
    let (payload, sent) = transmit(&mut client, 1200);
    let reset = frame::ResetStream {
        id: s,
        error_code: var(1),
        final_size: var(final_size),
    };
    assert_eq!(frames(&payload), [Frame::ResetStream(reset)]);
    deliver_all(&mut server, payload);
    client.on_packet_acked(sent);
    assert_eq!(client.send_state(s), None);
    assert_eq!(server.read(s, 10), Err(ReadError::Reset(var(1))));
}

/// RFC 9000 §2.3: the higher priority goes first; equal priorities take
/// turns so that neither is starved.
#[test]
fn rfc9000_2_3_priority_and_round_robin() {
    let config = StreamsConfig {
        stream_receive_window_uni: 100_000,
        connection_receive_window: 100_000,
        ..test_config()
    };
    let (mut client, _) = pair_with(config);
    let [a, b, c] = [0; 3].map(|_| client.open(Dir::Uni).unwrap());
    for s in [b, c, a] {
        client.write(s, Bytes::from(vec![0; 3000])).unwrap();
    }
    client.set_priority(a, 1).unwrap();
    assert_eq!(client.priority(a), Ok(1));
    let mut order = Vec::new();
    let mut sent_bytes = std::collections::HashMap::new();
    while client.wants_to_send() {
        let (_, sent) = transmit(&mut client, 200);
        for frame in sent.iter() {
            if let &SentFrame::Stream { id, len, .. } = frame {
                order.push(id);
                *sent_bytes.entry(id).or_insert(0u64) += u64::from(len);
            }
        }
        let b_sent = sent_bytes.get(&b).copied().unwrap_or(0);
        let c_sent = sent_bytes.get(&c).copied().unwrap_or(0);
        if b_sent < 3000 && c_sent < 3000 {
            assert!(b_sent.abs_diff(c_sent) <= 200, "{b_sent} vs {c_sent}");
        }
    }
    let last_a = order.iter().rposition(|&s| s == a).unwrap();
    let first_other = order.iter().position(|&s| s != a).unwrap();
    assert!(last_a < first_other, "{order:?}");
    assert_eq!(order[first_other], b, "b wrote first");
    assert_eq!(order[first_other + 1], c);
    assert_eq!(order[first_other + 2], b);
}

/// RFC 9000 §4.6, §19.14: `open` beyond the peer's limit queues
/// STREAMS_BLOCKED; MAX_STREAMS, sent as the peer's streams close, makes it
/// available again.
#[test]
fn rfc9000_4_6_streams_blocked_and_max_streams() {
    let (mut client, mut server) = pair();
    let ids: Vec<_> = (0..4).map(|_| client.open(Dir::Bi).unwrap()).collect();
    assert_eq!(client.open(Dir::Bi), None);
    let (payload, _) = transmit(&mut client, 1200);
    let blocked = frame::StreamsBlocked {
        dir: Dir::Bi,
        limit: 4,
    };
    assert_eq!(frames(&payload), [Frame::StreamsBlocked(blocked)]);
    // Refused again at the same limit: STREAMS_BLOCKED is not sent again.
    assert_eq!(client.open(Dir::Bi), None);
    assert!(
        !client.has_pending_control(),
        "one STREAMS_BLOCKED per limit"
    );
    deliver_all(&mut server, payload);
    client.write(ids[0], Bytes::from_static(b"q")).unwrap();
    client.finish(ids[0]).unwrap();
    drive(&mut client, &mut server);
    assert_eq!(server.accept(Dir::Bi), Some(ids[0]));
    assert_eq!(read_all(&mut server, ids[0]), b"q");
    assert!(
        !server.has_pending_control(),
        "the server's sending part is open"
    );
    server.write(ids[0], Bytes::from_static(b"a")).unwrap();
    server.finish(ids[0]).unwrap();
    drive(&mut server, &mut client);
    assert_eq!(server.stream_count(), 0);
    assert_eq!(server.limits.local_max(Dir::Bi), 5);
    let available = StreamEvent::Available { dir: Dir::Bi };
    assert!(events(&mut client).contains(&available));
    assert_eq!(client.open(Dir::Bi), Some(id(Side::Client, Dir::Bi, 4)));
}

/// RFC 9000 §13.3: a lost MAX_DATA is sent again only if it is still the
/// latest value.
#[test]
fn rfc9000_13_3_lost_control_frames_carry_current_values() {
    let (_, mut server) = pair();
    let receive_and_read = |server: &mut Streams, i| {
        let s = id(Side::Client, Dir::Uni, i);
        accept(server, data_frame(s, 0, &[0; 1000], false));
        read_all(server, s);
    };
    receive_and_read(&mut server, 0);
    receive_and_read(&mut server, 1);
    let (_, first) = transmit(&mut server, 1200);
    let max_data = |sent: &StreamsSent, max| {
        sent.iter()
            .any(|f| matches!(f, &SentFrame::MaxData { max: m } if m == max))
    };
    assert!(max_data(&first, 4500));
    receive_and_read(&mut server, 2);
    receive_and_read(&mut server, 3);
    let (_, second) = transmit(&mut server, 1200);
    assert!(max_data(&second, 6500));
    assert!(!server.has_pending_control());
    server.on_packet_lost(first);
    assert!(!server.pending.max_data, "4500 is stale");
    server.on_packet_lost(second);
    assert!(server.pending.max_data);
    let (payload, _) = transmit(&mut server, 1200);
    let sent = frames(&payload);
    assert!(sent.contains(&Frame::MaxData(frame::MaxData { max: var(6500) })));
    assert!(!sent.contains(&Frame::MaxData(frame::MaxData { max: var(4500) })));
    // Per-stream limits that are still current go out again too.
    let current = frame::MaxStreamData {
        id: id(Side::Client, Dir::Uni, 0),
        max: var(2000),
    };
    assert!(sent.contains(&Frame::MaxStreamData(current)), "{sent:?}");
}

/// A budget too small for a control frame keeps it queued.
#[test]
fn control_frames_respect_the_budget() {
    let (mut client, _) = pair();
    let s = client.open(Dir::Uni).unwrap();
    client.reset(s, var(1_000_000)).unwrap();
    let mut out = Vec::new();
    let mut sent = StreamsSent::new();
    assert_eq!(client.write_control_frames(&mut out, 6, &mut sent), 0);
    assert!(sent.is_empty() && client.has_pending_control());
    assert_eq!(client.write_control_frames(&mut out, 7, &mut sent), 7);
    assert_eq!(sent.len(), 1);
    assert!(!client.has_pending_control());
}

#[test]
fn api_misuse_returns_typed_errors() {
    let (mut client, _) = pair();
    let unknown = id(Side::Client, Dir::Bi, 9);
    let closed = Err(WriteError::ClosedStream);
    assert_eq!(client.write(unknown, Bytes::new()), closed);
    assert_eq!(client.write(SERVER_UNI_0, Bytes::new()), closed);
    assert_eq!(client.finish(unknown), Err(FinishError::ClosedStream));
    assert_eq!(client.reset(unknown, var(0)), Err(ClosedStream));
    assert_eq!(client.read(unknown, 1), Err(ReadError::ClosedStream));
    assert_eq!(client.stop(unknown, var(0)), Err(ClosedStream));
    assert_eq!(client.set_priority(unknown, 1), Err(ClosedStream));
    let uni = client.open(Dir::Uni).unwrap();
    assert_eq!(client.read(uni, 1), Err(ReadError::ClosedStream));
    assert_eq!(client.write(uni, Bytes::new()), Ok(0));
    client.finish(uni).unwrap();
    assert_eq!(client.finish(uni), Err(FinishError::ClosedStream));
    assert!(!client.is_finished(uni));
    let stopped = WriteError::Stopped(var(3)).to_string();
    assert_eq!(stopped, "peer stopped the stream with code 3");
}

/// RFC 9000 §18.2: the peer's bidi_local is its window on the streams it
/// opens, bidi_remote on the streams we open.
#[test]
fn rfc9000_18_2_peer_limits_from_the_senders_point_of_view() {
    let mut client = Streams::new(Side::Client, test_config());
    let server_params = TransportParameters {
        initial_max_data: var(100_000),
        initial_max_stream_data_bidi_local: var(100),
        initial_max_stream_data_bidi_remote: var(200),
        initial_max_stream_data_uni: var(300),
        initial_max_streams_bidi: var(1),
        initial_max_streams_uni: var(1),
        ..TransportParameters::default()
    };
    assert_eq!(client.open(Dir::Bi), None);
    client.set_peer_limits(&server_params);
    assert_eq!(
        events(&mut client),
        [StreamEvent::Available { dir: Dir::Bi }]
    );
    let bi = client.open(Dir::Bi).unwrap();
    let uni = client.open(Dir::Uni).unwrap();
    assert_eq!(client.write(bi, Bytes::from(vec![0; 1000])), Ok(200));
    assert_eq!(client.write(uni, Bytes::from(vec![0; 1000])), Ok(300));
    let server_bi = id(Side::Server, Dir::Bi, 0);
    accept(&mut client, data_frame(server_bi, 0, b"", false));
    assert_eq!(client.write(server_bi, Bytes::from(vec![0; 1000])), Ok(100));

    let mut ours = TransportParameters::default();
    client.write_local_limits(&mut ours);
    assert_eq!(ours.initial_max_data, var(2500));
    assert_eq!(ours.initial_max_stream_data_bidi_local, var(1000));
    assert_eq!(ours.initial_max_streams_bidi, var(4));
    assert_eq!(ours.initial_max_streams_uni, var(4));
}

/// DESIGN.md "no copies of payload": the send buffer keeps the
/// application's `Bytes`, and a partial write keeps a slice of them.
#[test]
fn write_keeps_the_applications_bytes() {
    let (mut client, _) = pair();
    let s = client.open(Dir::Uni).unwrap();
    let data = Bytes::from(vec![9; 1500]);
    assert_eq!(client.write(s, data.clone()), Ok(1000));
    let chunks = &client.send[&s].buffer;
    let mut out = Vec::new();
    chunks.copy_range(0..1000, &mut out);
    assert_eq!(out, data[..1000]);
    assert_eq!(chunks.first_chunk_ptr(), Some(data.as_ptr()));
}

/// `Opened` is reported once for several new streams, and again for streams
/// opened after it was polled.
#[test]
fn opened_events_are_deduplicated() {
    let (_, mut server) = pair();
    accept(&mut server, data_frame(CLIENT_UNI_0, 0, b"", false));
    accept(
        &mut server,
        data_frame(id(Side::Client, Dir::Uni, 2), 0, b"", false),
    );
    let opened = StreamEvent::Opened { dir: Dir::Uni };
    assert_eq!(events(&mut server), [opened]);
    accept(
        &mut server,
        data_frame(id(Side::Client, Dir::Uni, 3), 0, b"", false),
    );
    assert_eq!(events(&mut server), [opened]);
    assert_eq!(server.pending_events(), 0);
    let accepted: Vec<_> = std::iter::from_fn(|| server.accept(Dir::Uni)).collect();
    assert_eq!(accepted.len(), 4);
}

/// RFC 9002 §6.2.4: a PTO probe resends unacknowledged data without the
/// packet being declared lost; the later acknowledgment settles everything.
#[test]
fn probe_retransmission_is_idempotent() {
    let (mut client, mut server) = pair();
    let s = client.open(Dir::Uni).unwrap();
    client.write(s, Bytes::from_static(b"probe me")).unwrap();
    client.finish(s).unwrap();
    let (first, sent) = transmit(&mut client, 1200);
    client.retransmit(&sent);
    let (probe, probe_sent) = transmit(&mut client, 1200);
    assert_eq!(frames(&first), frames(&probe));
    deliver_all(&mut server, first);
    deliver_all(&mut server, probe);
    client.on_packet_acked(sent);
    client.on_packet_lost(probe_sent);
    assert!(!client.wants_to_send());
    assert_eq!(events(&mut client), [StreamEvent::Finished { id: s }]);
    assert_eq!(read_all(&mut server, s), b"probe me");
}
