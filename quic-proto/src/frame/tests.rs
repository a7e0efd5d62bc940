use std::ops::RangeInclusive;

use crate::crypto::vectors::hex;
use bytes::{BufMut, Bytes};
use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::cid::ConnectionId;
use crate::coding::VarInt;
use crate::error::{TransportError, TransportErrorCode};
use crate::shared::{Dir, StreamId};

const VARINT_MAX: u64 = (1 << 62) - 1;

// ---------------------------------------------------------------------------
// Helpers

fn decode(bytes: &[u8]) -> Vec<Result<Frame, FrameError>> {
    Iter::new(Bytes::copy_from_slice(bytes)).collect()
}

/// Decodes a payload that must hold exactly one frame or one error.
fn decode_one(bytes: &[u8]) -> Result<Frame, FrameError> {
    let mut items = decode(bytes);
    assert_eq!(
        items.len(),
        1,
        "expected one item from {bytes:02x?}: {items:?}"
    );
    items.remove(0)
}

/// Decodes a payload that must fail, returning the error.
fn decode_err(bytes: &[u8]) -> FrameError {
    match decode(bytes).pop() {
        Some(Err(err)) => err,
        other => panic!("expected an error from {bytes:02x?}, got {other:?}"),
    }
}

fn encode(frame: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    frame.encode(&mut out);
    assert_eq!(out.len(), frame.encoded_len(), "encoded_len of {frame:?}");
    out
}

fn var(value: u64) -> VarInt {
    VarInt::from_u64(value).unwrap()
}

fn put_var(out: &mut Vec<u8>, value: u64) {
    var(value).encode(out);
}

/// Makes an `Ack` the only way there is: encoding ranges and decoding them.
fn ack_from(ranges: &[RangeInclusive<u64>], delay: u64, ecn: Option<EcnCounts>) -> Ack {
    let encoder = AckEncoder::new(ranges.iter().cloned(), delay, ecn).unwrap();
    let mut out = Vec::new();
    encoder.encode(&mut out);
    assert_eq!(out.len(), encoder.encoded_len());
    match decode_one(&out) {
        Ok(Frame::Ack(ack)) => ack,
        other => panic!("not an ACK: {other:?}"),
    }
}

fn ack_bytes(fields: &[u64]) -> Vec<u8> {
    let mut out = vec![0x02];
    for &field in fields {
        put_var(&mut out, field);
    }
    out
}

/// Merges adjacent PADDING runs, as the decoder reports them.
fn coalesce_padding(frames: Vec<Frame>) -> Vec<Frame> {
    let mut merged: Vec<Frame> = Vec::new();
    for frame in frames {
        if let (Some(Frame::Padding(last)), Frame::Padding(next)) = (merged.last_mut(), &frame) {
            last.len += next.len;
            continue;
        }
        merged.push(frame);
    }
    merged
}

// ---------------------------------------------------------------------------
// Strategies

/// Values spread over all four varint lengths, boundaries included.
fn varint_value() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..64,
        64u64..(1 << 14),
        (1u64 << 14)..(1 << 30),
        (1u64 << 30)..=VARINT_MAX,
        prop::sample::select(vec![
            0,
            63,
            64,
            16383,
            16384,
            (1 << 30) - 1,
            1 << 30,
            VARINT_MAX
        ]),
    ]
}

fn varint() -> impl Strategy<Value = VarInt> {
    varint_value().prop_map(var)
}

fn stream_id() -> impl Strategy<Value = StreamId> {
    varint().prop_map(StreamId::from_var)
}

fn bytes(max: usize) -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..max).prop_map(Bytes::from)
}

fn dir() -> impl Strategy<Value = Dir> {
    prop_oneof![Just(Dir::Bi), Just(Dir::Uni)]
}

fn stream_count() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..1000, Just(MAX_STREAM_COUNT), 0..=MAX_STREAM_COUNT]
}

fn ecn() -> impl Strategy<Value = Option<EcnCounts>> {
    prop::option::of(
        (varint_value(), varint_value(), varint_value()).prop_map(|(ect0, ect1, ce)| EcnCounts {
            ect0,
            ect1,
            ce,
        }),
    )
}

/// Descending, non-adjacent ranges, from a largest packet number and
/// (gap, length) pairs; pairs that would go below zero are dropped.
fn ack_ranges() -> impl Strategy<Value = Vec<RangeInclusive<u64>>> {
    let small = prop_oneof![0u64..4, 0u64..100, varint_value()];
    (
        varint_value(),
        small.clone(),
        vec((small.clone(), small), 0..24),
    )
        .prop_map(|(largest, first, pairs)| {
            let mut ranges = vec![largest.saturating_sub(first)..=largest];
            for (gap, len) in pairs {
                let prev_smallest = *ranges.last().unwrap().start();
                let Some(end) = prev_smallest
                    .checked_sub(gap)
                    .and_then(|x| x.checked_sub(2))
                else {
                    break;
                };
                ranges.push(end.saturating_sub(len)..=end);
            }
            ranges
        })
}

fn stream_frame() -> impl Strategy<Value = Stream> {
    (stream_id(), varint_value(), any::<bool>(), bytes(64)).prop_map(|(id, offset, fin, data)| {
        Stream {
            id,
            // Keep offset + len within 2^62 - 1, as RFC 9000 §19.8 requires.
            offset: offset.min(VARINT_MAX - data.len() as u64),
            fin,
            data,
        }
    })
}

fn crypto_frame() -> impl Strategy<Value = Crypto> {
    (varint_value(), bytes(64)).prop_map(|(offset, data)| Crypto {
        offset: offset.min(VARINT_MAX - data.len() as u64),
        data,
    })
}

fn connection_id() -> impl Strategy<Value = ConnectionId> {
    vec(any::<u8>(), 1..=20).prop_map(|id| ConnectionId::new(&id).unwrap())
}

fn new_connection_id() -> impl Strategy<Value = NewConnectionId> {
    (
        varint_value(),
        varint_value(),
        connection_id(),
        any::<[u8; 16]>(),
    )
        .prop_map(|(a, b, id, reset_token)| NewConnectionId {
            sequence: var(a.max(b)),
            retire_prior_to: var(a.min(b)),
            id,
            reset_token,
        })
}

fn connection_close() -> impl Strategy<Value = ConnectionClose> {
    (varint_value(), varint(), bytes(40)).prop_map(|(code, ty, reason)| ConnectionClose {
        error_code: TransportErrorCode::from_u64(code),
        frame_type: FrameType::from_var(ty),
        reason,
    })
}

/// Any valid frame of any type.
fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        (1usize..40).prop_map(|len| Frame::Padding(Padding { len })),
        Just(Frame::Ping),
        (ack_ranges(), varint_value(), ecn())
            .prop_map(|(ranges, delay, ecn)| Frame::Ack(ack_from(&ranges, delay, ecn))),
        (stream_id(), varint(), varint()).prop_map(|(id, error_code, final_size)| {
            Frame::ResetStream(ResetStream {
                id,
                error_code,
                final_size,
            })
        }),
        (stream_id(), varint())
            .prop_map(|(id, error_code)| Frame::StopSending(StopSending { id, error_code })),
        crypto_frame().prop_map(Frame::Crypto),
        bytes(64)
            .prop_filter("non-empty token", |token| !token.is_empty())
            .prop_map(|token| Frame::NewToken(NewToken { token })),
        stream_frame().prop_map(Frame::Stream),
        varint().prop_map(|max| Frame::MaxData(MaxData { max })),
        (stream_id(), varint())
            .prop_map(|(id, max)| Frame::MaxStreamData(MaxStreamData { id, max })),
        (dir(), stream_count())
            .prop_map(|(dir, count)| Frame::MaxStreams(MaxStreams { dir, count })),
        varint().prop_map(|limit| Frame::DataBlocked(DataBlocked { limit })),
        (stream_id(), varint())
            .prop_map(|(id, limit)| { Frame::StreamDataBlocked(StreamDataBlocked { id, limit }) }),
        (dir(), stream_count())
            .prop_map(|(dir, limit)| Frame::StreamsBlocked(StreamsBlocked { dir, limit })),
        new_connection_id().prop_map(Frame::NewConnectionId),
        varint().prop_map(|sequence| Frame::RetireConnectionId(RetireConnectionId { sequence })),
        any::<[u8; 8]>().prop_map(|data| Frame::PathChallenge(PathChallenge(data))),
        any::<[u8; 8]>().prop_map(|data| Frame::PathResponse(PathResponse(data))),
        connection_close().prop_map(Frame::ConnectionClose),
        (varint(), bytes(40)).prop_map(|(error_code, reason)| {
            Frame::ApplicationClose(ApplicationClose { error_code, reason })
        }),
        Just(Frame::HandshakeDone),
        bytes(64).prop_map(|data| Frame::Datagram(Datagram { data })),
    ]
}

// ---------------------------------------------------------------------------
// Round trips

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Every frame type survives encode then decode, and `encoded_len` and
    /// `ty` agree with the bytes written.
    #[test]
    fn every_frame_round_trips(frame in frame()) {
        let bytes = encode(&frame);
        prop_assert_eq!(FrameType::from_var(var(u64::from(bytes[0]))), frame.ty());
        let decoded = decode_one(&bytes).unwrap();
        prop_assert_eq!(&decoded, &frame);
        // A decoded frame re-encodes to the same bytes.
        prop_assert_eq!(encode(&decoded), bytes);
    }
}

proptest! {
    /// Several frames in one payload come back in order (PADDING runs merge).
    #[test]
    fn frame_sequences_round_trip(frames in vec(frame(), 1..10)) {
        let mut payload = Vec::new();
        for frame in &frames {
            frame.encode(&mut payload);
        }
        let decoded: Vec<Frame> = decode(&payload).into_iter().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(decoded, coalesce_padding(frames));
    }

    /// RFC 9000 §19.8, RFC 9221 §4: the last frame of a packet may leave out
    /// its Length field and its data then runs to the end of the packet.
    #[test]
    fn last_frame_without_length_round_trips(
        frames in vec(frame(), 0..4),
        stream in stream_frame(),
        datagram in bytes(64),
        use_stream in any::<bool>(),
    ) {
        let mut payload = Vec::new();
        for frame in &frames {
            frame.encode(&mut payload);
        }
        let last = if use_stream {
            prop_assert_eq!(stream.encoded_len_with(false), stream.encoded_len() - VarInt::try_from(stream.data.len()).unwrap().size());
            let before = payload.len();
            stream.encode_with(false, &mut payload);
            prop_assert_eq!(payload.len() - before, stream.encoded_len_with(false));
            prop_assert_eq!(payload[before] & 0x02, 0, "LEN bit must be clear");
            Frame::Stream(stream)
        } else {
            let datagram = Datagram { data: datagram };
            let before = payload.len();
            datagram.encode_with(false, &mut payload);
            prop_assert_eq!(payload.len() - before, datagram.encoded_len_with(false));
            prop_assert_eq!(payload[before], 0x30);
            Frame::Datagram(datagram)
        };
        let mut expected = coalesce_padding(frames);
        expected.push(last);
        let decoded: Vec<Frame> = decode(&payload).into_iter().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(decoded, expected);
    }

    /// Any strict prefix of a frame is a truncated frame: FRAME_ENCODING_ERROR
    /// naming the frame's type (RFC 9000 §12.4).
    #[test]
    fn truncated_frames_are_frame_encoding_errors(frame in frame(), cut in any::<prop::sample::Index>()) {
        prop_assume!(!matches!(frame, Frame::Padding(_) | Frame::Ping | Frame::HandshakeDone));
        let bytes = encode(&frame);
        let len = 1 + cut.index(bytes.len() - 1);
        let err = decode_err(&bytes[..len]);
        prop_assert_eq!(err.kind, FrameErrorKind::Truncated);
        prop_assert_eq!(err.code(), TransportErrorCode::FRAME_ENCODING_ERROR);
        prop_assert_eq!(err.frame_type, frame.ty());
    }
}

#[test]
fn frames_borrow_the_payload() {
    let mut payload = Vec::new();
    Stream {
        id: StreamId::from_var(var(4)),
        offset: 7,
        fin: true,
        data: Bytes::from_static(b"hello"),
    }
    .encode(&mut payload);
    Datagram {
        data: Bytes::from_static(b"world"),
    }
    .encode_with(false, &mut payload);
    let payload = Bytes::from(payload);
    let range = payload.as_ptr_range();
    for frame in Iter::new(payload.clone()) {
        let data = match frame.unwrap() {
            Frame::Stream(stream) => stream.data,
            Frame::Datagram(datagram) => datagram.data,
            other => panic!("unexpected {other:?}"),
        };
        assert!(range.contains(&data.as_ptr()), "data was copied");
    }
}

#[test]
fn padding_runs_are_coalesced() {
    let items = decode(&[0, 0, 0, 0x01, 0, 0x1e, 0, 0]);
    let frames: Vec<Frame> = items.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        frames,
        [
            Frame::Padding(Padding { len: 3 }),
            Frame::Ping,
            Frame::Padding(Padding { len: 1 }),
            Frame::HandshakeDone,
            Frame::Padding(Padding { len: 2 }),
        ]
    );
    assert!(decode(&[]).is_empty());
}

/// RFC 9001 §A.2: the client Initial's payload is one CRYPTO frame of 241
/// bytes at offset 0 followed by PADDING up to 1162 bytes.
#[test]
fn rfc9001_client_initial_payload() {
    let mut payload = hex("060040f1");
    payload.extend_from_slice(&[0xab; 241]);
    payload.resize(1162, 0);
    let frames: Vec<Frame> = decode(&payload).into_iter().map(Result::unwrap).collect();
    let [Frame::Crypto(crypto), Frame::Padding(padding)] = &frames[..] else {
        panic!("unexpected frames {frames:?}");
    };
    assert_eq!((crypto.offset, crypto.data.len()), (0, 241));
    assert_eq!(padding.len, 1162 - 245);
    // We encode the length in its shortest form, as the RFC's client did.
    assert_eq!(encode(&Frame::Crypto(crypto.clone()))[..4], hex("060040f1"));
}

/// RFC 9001 §A.3: the server Initial's payload is an ACK of packet 0 and a
/// CRYPTO frame holding the ServerHello.
#[test]
fn rfc9001_server_initial_payload() {
    let payload = hex(
        "02000000000600405a020000560303ee fce7f7b37ba1d1632e96677825ddf739
         88cfc79825df566dc5430b9a045a1200 130100002e00330024001d00209d3c94
         0d89690b84d08a60993c144eca684d10 81287c834d5311bcf32bb9da1a002b00
         020304",
    );
    let frames: Vec<Frame> = decode(&payload).into_iter().map(Result::unwrap).collect();
    let [Frame::Ack(ack), Frame::Crypto(crypto)] = &frames[..] else {
        panic!("unexpected frames {frames:?}");
    };
    assert_eq!(ack.ranges().collect::<Vec<_>>(), [0..=0]);
    assert_eq!((ack.delay(), ack.ecn()), (0, None));
    assert_eq!((crypto.offset, crypto.data.len()), (0, 90));
    assert_eq!(crypto.data[..4], [0x02, 0x00, 0x00, 0x56]); // ServerHello, 86 bytes
    let mut out = Vec::new();
    for frame in &frames {
        frame.encode(&mut out);
    }
    assert_eq!(out, payload);
}

// ---------------------------------------------------------------------------
// STREAM, CRYPTO and DATAGRAM details

/// RFC 9000 §19.8: the OFF bit is set only for a non-zero offset, LEN only
/// when asked for, FIN for the end of the stream.
#[test]
fn stream_type_bits() {
    let mut stream = Stream {
        id: StreamId::from_var(var(1)),
        offset: 0,
        fin: false,
        data: Bytes::from_static(b"ab"),
    };
    assert_eq!(stream.frame_type(false).into_inner(), 0x08);
    assert_eq!(stream.frame_type(true).into_inner(), 0x0a);
    let mut out = Vec::new();
    stream.encode(&mut out);
    assert_eq!(out, [0x0a, 0x01, 0x02, b'a', b'b']);
    stream.offset = 100;
    stream.fin = true;
    out.clear();
    stream.encode_with(false, &mut out);
    assert_eq!(out, [0x0d, 0x01, 0x40, 100, b'a', b'b']);
    // An explicit zero offset decodes like an absent one.
    let decoded = decode_one(&[0x0f, 0x01, 0x00, 0x00]).unwrap();
    assert_eq!(
        decoded,
        Frame::Stream(Stream {
            id: StreamId::from_var(var(1)),
            offset: 0,
            fin: true,
            data: Bytes::new(),
        })
    );
}

/// RFC 9221 §4: type 0x30 runs to the end of the packet, 0x31 has a Length,
/// and empty datagrams are allowed.
#[test]
fn datagram_forms() {
    let frames: Vec<Frame> = decode(&[0x31, 0x00, 0x31, 0x01, 7, 0x30, 1, 2, 3])
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let data: Vec<&[u8]> = frames
        .iter()
        .map(|frame| match frame {
            Frame::Datagram(datagram) => &datagram.data[..],
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(data, [&[][..], &[7], &[1, 2, 3]]);
}

/// The length of a frame carrying `n` data bytes.
type FrameLen<'a> = dyn Fn(usize) -> usize + 'a;

proptest! {
    /// `max_data_that_fits` gives the most data whose frame fits in `space`.
    #[test]
    fn max_data_that_fits_is_tight(
        id in stream_id(),
        offset in varint_value(),
        space in prop_oneof![0usize..80, 0usize..20_000, 0usize..(1 << 31)],
        with_length in any::<bool>(),
    ) {
        let stream_len = |n: usize| Stream::header_len(id, offset, n, with_length) + n;
        let crypto_len = |n: usize| Crypto::header_len(offset, n) + n;
        let datagram_len = |n: usize| Datagram::header_len(n, with_length) + n;
        let cases: [(Option<usize>, &FrameLen<'_>); 3] = [
            (Stream::max_data_that_fits(id, offset, space, with_length), &stream_len),
            (Crypto::max_data_that_fits(offset, space), &crypto_len),
            (Datagram::max_data_that_fits(space, with_length), &datagram_len),
        ];
        for (fits, frame_len) in cases {
            match fits {
                Some(n) => {
                    prop_assert!(frame_len(n) <= space);
                    prop_assert!(frame_len(n + 1) > space);
                }
                None => prop_assert!(frame_len(0) > space),
            }
        }
    }
}

#[test]
fn max_data_that_fits_around_length_field_boundaries() {
    let id = StreamId::from_var(var(0));
    // Header without Length: type + id = 2 bytes.
    assert_eq!(Stream::max_data_that_fits(id, 0, 1, false), None);
    assert_eq!(Stream::max_data_that_fits(id, 0, 2, false), Some(0));
    assert_eq!(Stream::max_data_that_fits(id, 0, 2, true), None);
    assert_eq!(Stream::max_data_that_fits(id, 0, 3, true), Some(0));
    assert_eq!(Stream::max_data_that_fits(id, 0, 2 + 64, true), Some(63));
    // 65 data bytes need a 2-byte Length, so 67 bytes hold no more than 66.
    assert_eq!(Stream::max_data_that_fits(id, 0, 2 + 65, true), Some(63));
    assert_eq!(Stream::max_data_that_fits(id, 0, 2 + 66, true), Some(64));
    assert_eq!(Datagram::max_data_that_fits(1200, true), Some(1197));
    assert_eq!(Datagram::max_data_that_fits(1200, false), Some(1199));
    assert_eq!(Crypto::max_data_that_fits(0, 1200), Some(1196));
}

// ---------------------------------------------------------------------------
// ACK frames

/// RFC 9000 §19.3.1: Gap and ACK Range Length arithmetic, by hand.
#[test]
fn ack_range_arithmetic() {
    let mut out = Vec::new();
    let encoder = AckEncoder::new([10..=12, 5..=7, 0..=1], 3, None).unwrap();
    encoder.encode(&mut out);
    // largest 12, delay 3, 2 more ranges, first range 12-10 = 2,
    // gap 10-7-2 = 1, length 7-5 = 2, gap 5-1-2 = 2, length 1-0 = 1.
    assert_eq!(out, [0x02, 12, 3, 2, 2, 1, 2, 2, 1]);
    assert_eq!(encoder.range_count(), 3);
    let Ok(Frame::Ack(ack)) = decode_one(&out) else {
        panic!()
    };
    assert_eq!(ack.ranges().collect::<Vec<_>>(), [10..=12, 5..=7, 0..=1]);
    assert_eq!(
        (ack.largest(), ack.smallest(), ack.range_count()),
        (12, 0, 3)
    );
    // The smallest possible gap: one missing packet between ranges.
    let ack = ack_from(&[4..=4, 2..=2, 0..=0], 0, None);
    assert_eq!(ack.ranges().collect::<Vec<_>>(), [4..=4, 2..=2, 0..=0]);
}

/// RFC 9000 §19.3.1: "If any computed packet number is negative, an endpoint
/// MUST generate a connection error of type FRAME_ENCODING_ERROR."
#[test]
fn ack_range_underflow_is_frame_encoding_error() {
    let underflows: [&[u64]; 5] = [
        // largest, delay, range count, first range, (gap, length)...
        &[5, 0, 0, 6],                         // first range below zero
        &[5, 0, 1, 0, 4, 0],                   // gap: 5 - 4 - 2 = -1
        &[5, 0, 1, 0, 3, 1],                   // length: 0 - 1 = -1
        &[3, 0, 2, 0, 0, 0, 0, 0],             // second gap: 1 - 0 - 2 = -1
        &[VARINT_MAX, 0, 1, VARINT_MAX, 0, 0], // gap below zero from 0
    ];
    for fields in underflows {
        let err = decode_err(&ack_bytes(fields));
        assert_eq!(err.kind, FrameErrorKind::AckRangeUnderflow, "{fields:?}");
        assert_eq!(err.code(), TransportErrorCode::FRAME_ENCODING_ERROR);
        assert_eq!(err.frame_type, FrameType::ACK);
    }
    // Exactly reaching zero is fine.
    let edges: [(&[u64], Vec<RangeInclusive<u64>>); 3] = [
        (&[5, 0, 0, 5], vec![0..=5]),
        (&[5, 0, 1, 0, 3, 0], vec![5..=5, 0..=0]),
        (&[5, 0, 1, 0, 0, 3], vec![5..=5, 0..=3]),
    ];
    for (fields, ranges) in edges {
        let Ok(Frame::Ack(ack)) = decode_one(&ack_bytes(fields)) else {
            panic!("{fields:?}")
        };
        assert_eq!(ack.ranges().collect::<Vec<_>>(), ranges);
        assert_eq!(ack.smallest(), 0);
    }
}

/// The ACK Range Count comes from the wire: a huge one over a short payload
/// is a truncated frame, found without allocating or looping by the count.
#[test]
fn huge_ack_range_count_is_truncated() {
    let err = decode_err(&ack_bytes(&[1000, 0, VARINT_MAX, 0, 0, 0, 0, 0]));
    assert_eq!(err.kind, FrameErrorKind::Truncated);
    assert_eq!(err.code(), TransportErrorCode::FRAME_ENCODING_ERROR);
}

/// RFC 9000 §19.3.2: type 0x03 carries three ECN counts.
#[test]
fn ack_with_ecn_counts() {
    let ecn = EcnCounts {
        ect0: 1,
        ect1: 300,
        ce: VARINT_MAX,
    };
    let ack = ack_from(&[7..=9], 64, Some(ecn));
    assert_eq!(ack.frame_type(), FrameType::ACK_ECN);
    assert_eq!(ack.ecn(), Some(ecn));
    assert_eq!(ack.delay_micros(3), 512);
    assert_eq!(ack.delay_micros(255), u64::MAX);
    let truncated = &encode(&Frame::Ack(ack))[..];
    let err = decode_err(&truncated[..truncated.len() - 1]);
    assert_eq!(
        (err.kind, err.frame_type),
        (FrameErrorKind::Truncated, FrameType::ACK_ECN)
    );
}

#[test]
fn ack_encoder_refuses_invalid_ranges() {
    let invalid: [&[RangeInclusive<u64>]; 7] = [
        &[],
        &[5..=6, 3..=4], // adjacent: no gap to encode
        &[5..=6, 4..=5], // overlapping
        &[1..=2, 5..=6], // ascending
        &[
            #[allow(clippy::reversed_empty_ranges)]
            (3..=2),
        ],
        &[0..=(1 << 62)],
        &[10..=10, 8..=9],
    ];
    for ranges in invalid {
        let result = AckEncoder::new(ranges.iter().cloned(), 0, None);
        assert_eq!(result.err(), Some(InvalidAckRanges), "{ranges:?}");
    }
    assert!(AckEncoder::new([0..=0], 1 << 62, None).is_err());
    let ecn = EcnCounts {
        ect0: 1 << 62,
        ..EcnCounts::default()
    };
    assert!(AckEncoder::new([0..=0], 0, Some(ecn)).is_err());
    assert!(AckEncoder::new([0..=VARINT_MAX], VARINT_MAX, None).is_ok());
}

proptest! {
    /// Any descending ranges encode and decode back to themselves.
    #[test]
    fn ack_ranges_round_trip(ranges in ack_ranges(), delay in varint_value(), ecn in ecn()) {
        let ack = ack_from(&ranges, delay, ecn);
        prop_assert_eq!(ack.ranges().collect::<Vec<_>>(), ranges.clone());
        prop_assert_eq!(ack.largest(), *ranges[0].end());
        prop_assert_eq!(ack.smallest(), *ranges.last().unwrap().start());
        prop_assert_eq!(ack.range_count(), ranges.len() as u64);
        prop_assert_eq!((ack.delay(), ack.ecn()), (delay, ecn));
    }

    /// `fit` keeps the largest ranges that fit the budget, and no more.
    #[test]
    fn ack_fit_respects_budget(ranges in ack_ranges(), ecn in ecn(), budget in 0usize..120) {
        let full = AckEncoder::new(ranges.iter().cloned(), 25, ecn).unwrap();
        let full_len = full.encoded_len();
        match full.fit(budget) {
            None => {
                let first = AckEncoder::new(ranges[..1].iter().cloned(), 25, ecn).unwrap();
                prop_assert!(first.encoded_len() > budget);
            }
            Some(fitted) => {
                let count = fitted.range_count();
                prop_assert!(fitted.encoded_len() <= budget || full_len <= budget);
                let mut out = Vec::new();
                fitted.encode(&mut out);
                prop_assert_eq!(out.len(), fitted.encoded_len());
                let Ok(Frame::Ack(ack)) = decode_one(&out) else { panic!() };
                prop_assert_eq!(ack.ranges().collect::<Vec<_>>(), &ranges[..count]);
                if count < ranges.len() {
                    let more = AckEncoder::new(ranges[..=count].iter().cloned(), 25, ecn).unwrap();
                    prop_assert!(more.encoded_len() > budget);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Error cases

fn assert_error(bytes: &[u8], kind: FrameErrorKind, code: TransportErrorCode, ty: u64) {
    let err = decode_err(bytes);
    assert_eq!(err.kind, kind, "{bytes:02x?}");
    assert_eq!(err.code(), code, "{bytes:02x?}");
    assert_eq!(err.frame_type.into_inner(), ty, "{bytes:02x?}");
    let transport = TransportError::from(err);
    assert_eq!(transport.code, code);
    assert_eq!(transport.frame_type, Some(ty));
}

/// RFC 9000 §12.4: "An endpoint MUST treat the receipt of a frame of unknown
/// type as a connection error of type FRAME_ENCODING_ERROR."
#[test]
fn unknown_types_are_frame_encoding_errors() {
    for ty in [
        0x1fu64, 0x20, 0x2f, 0x32, 0x3f, 0x40, 0x3fff, 0x4000, VARINT_MAX,
    ] {
        let mut bytes = Vec::new();
        put_var(&mut bytes, ty);
        bytes.extend_from_slice(&[0; 8]);
        assert_error(
            &bytes,
            FrameErrorKind::UnknownType,
            TransportErrorCode::FRAME_ENCODING_ERROR,
            ty,
        );
    }
}

/// RFC 9000 §12.4: a frame type "MUST use the shortest possible encoding";
/// an endpoint MAY treat a longer one as a PROTOCOL_VIOLATION.
#[test]
fn non_minimal_types_are_protocol_violations() {
    let cases: [(&[u8], u64); 4] = [
        (&[0x40, 0x01], 0x01),
        (&[0x40, 0x00], 0x00),
        (&[0x80, 0, 0, 0x1e], 0x1e),
        (&[0xc0, 0, 0, 0, 0, 0, 0x40, 0x00], 0x4000),
    ];
    for (bytes, ty) in cases {
        assert_error(
            bytes,
            FrameErrorKind::NonMinimalType,
            TransportErrorCode::PROTOCOL_VIOLATION,
            ty,
        );
    }
    // A type cut short is truncated; its type is unknown, reported as 0.
    assert_error(
        &[0x40],
        FrameErrorKind::Truncated,
        TransportErrorCode::FRAME_ENCODING_ERROR,
        0,
    );
}

/// RFC 9000 §19.8 and §19.6: offset plus length may not exceed 2^62 - 1.
#[test]
fn offsets_past_2_62_are_frame_encoding_errors() {
    let stream = |offset: u64, data: &[u8]| {
        let mut bytes = vec![0x0e, 0x00];
        put_var(&mut bytes, offset);
        put_var(&mut bytes, data.len() as u64);
        bytes.extend_from_slice(data);
        bytes
    };
    let crypto = |offset: u64, data: &[u8]| {
        let mut bytes = vec![0x06];
        put_var(&mut bytes, offset);
        put_var(&mut bytes, data.len() as u64);
        bytes.extend_from_slice(data);
        bytes
    };
    for (build, ty) in [
        (&stream as &dyn Fn(u64, &[u8]) -> Vec<u8>, 0x0e),
        (&crypto, 0x06),
    ] {
        assert!(decode_one(&build(VARINT_MAX, b"")).is_ok());
        assert!(decode_one(&build(VARINT_MAX - 2, b"ab")).is_ok());
        for (offset, data) in [(VARINT_MAX, &b"a"[..]), (VARINT_MAX - 1, b"ab")] {
            assert_error(
                &build(offset, data),
                FrameErrorKind::OffsetTooLarge,
                TransportErrorCode::FRAME_ENCODING_ERROR,
                ty,
            );
        }
    }
    // Without a Length field, the data to the end of the packet counts.
    let mut bytes = vec![0x0c, 0x00];
    put_var(&mut bytes, VARINT_MAX);
    bytes.push(0xff);
    assert_error(
        &bytes,
        FrameErrorKind::OffsetTooLarge,
        TransportErrorCode::FRAME_ENCODING_ERROR,
        0x0c,
    );
}

/// RFC 9000 §19.11, §19.14: stream counts above 2^60 are
/// FRAME_ENCODING_ERROR.
#[test]
fn stream_counts_past_2_60_are_frame_encoding_errors() {
    for ty in [0x12u8, 0x13, 0x16, 0x17] {
        let mut ok = vec![ty];
        put_var(&mut ok, 1 << 60);
        assert!(decode_one(&ok).is_ok());
        let mut bad = vec![ty];
        put_var(&mut bad, (1 << 60) + 1);
        assert_error(
            &bad,
            FrameErrorKind::StreamCountTooLarge,
            TransportErrorCode::FRAME_ENCODING_ERROR,
            u64::from(ty),
        );
    }
    let Ok(Frame::StreamsBlocked(blocked)) = decode_one(&[0x17, 0x05]) else {
        panic!()
    };
    assert_eq!((blocked.dir, blocked.limit), (Dir::Uni, 5));
}

/// RFC 9000 §19.15: a connection ID length of 0 or above 20, or a Retire
/// Prior To above the Sequence Number, is a FRAME_ENCODING_ERROR.
#[test]
fn new_connection_id_errors() {
    let frame = |sequence: u8, retire_prior_to: u8, len: u8| {
        let mut bytes = vec![0x18, sequence, retire_prior_to, len];
        bytes.extend(std::iter::repeat_n(0xaa, usize::from(len)));
        bytes.extend_from_slice(&[0x55; 16]);
        bytes
    };
    for len in [0, 21, 255] {
        assert_error(
            &frame(1, 0, len),
            FrameErrorKind::InvalidConnectionIdLength,
            TransportErrorCode::FRAME_ENCODING_ERROR,
            0x18,
        );
    }
    assert_error(
        &frame(1, 2, 8),
        FrameErrorKind::RetirePriorToTooLarge,
        TransportErrorCode::FRAME_ENCODING_ERROR,
        0x18,
    );
    let Ok(Frame::NewConnectionId(ok)) = decode_one(&frame(2, 2, 20)) else {
        panic!()
    };
    assert_eq!(ok.id.len(), 20);
    assert_eq!(ok.reset_token, [0x55; 16]);
    assert_eq!(u64::from(ok.retire_prior_to), 2);
}

/// RFC 9000 §19.7: "A client MUST treat receipt of a NEW_TOKEN frame with an
/// empty Token field as a connection error of type FRAME_ENCODING_ERROR."
#[test]
fn empty_new_token_is_frame_encoding_error() {
    assert_error(
        &[0x07, 0x00],
        FrameErrorKind::EmptyToken,
        TransportErrorCode::FRAME_ENCODING_ERROR,
        0x07,
    );
}

#[test]
fn iterator_stops_after_an_error() {
    let items = decode(&[0x01, 0x1f, 0x01, 0x01]);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0], Ok(Frame::Ping));
    assert!(items[1].is_err());
    let mut iter = Iter::new(Bytes::from_static(&[0x07, 0x00, 0x01]));
    assert!(iter.next().unwrap().is_err());
    assert!(iter.next().is_none());
    assert!(iter.remaining().is_empty());
}

#[test]
fn transport_error_conversions() {
    let err = FrameError {
        frame_type: FrameType::STREAM,
        kind: FrameErrorKind::OffsetTooLarge,
    };
    assert_eq!(
        err.to_string(),
        "FRAME_ENCODING_ERROR in frame 0x8: offset plus length exceeds 2^62-1"
    );
    let close = ConnectionClose::from(TransportError::from(err));
    assert_eq!(close.error_code, TransportErrorCode::FRAME_ENCODING_ERROR);
    assert_eq!(close.frame_type, FrameType::STREAM);
    assert_eq!(&close.reason[..], b"offset plus length exceeds 2^62-1");
    let close = ConnectionClose::from(TransportError::PROTOCOL_VIOLATION(format!("x{}", 1)));
    assert_eq!(
        (close.frame_type, &close.reason[..]),
        (FrameType::PADDING, &b"x1"[..])
    );
}

// ---------------------------------------------------------------------------
// Frame classification

const KNOWN_TYPES: [u64; 33] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x30,
    0x31,
];

fn ty(value: u64) -> FrameType {
    FrameType::from_var(var(value))
}

/// RFC 9000 §12.4 Table 3 "Pkts" column, with §12.5's 0-RTT exclusions
/// (RETIRE_CONNECTION_ID: Table 3 says `__01`, §12.5 says not in 0-RTT) and
/// RFC 9221 §5 for DATAGRAM (0-RTT or 1-RTT only).
#[test]
fn table_3_packet_types() {
    let table: [(u64, &str); 24] = [
        (0x00, "IH01"), // PADDING
        (0x01, "IH01"), // PING
        (0x02, "IH_1"), // ACK
        (0x03, "IH_1"),
        (0x04, "__01"), // RESET_STREAM
        (0x05, "__01"), // STOP_SENDING
        (0x06, "IH_1"), // CRYPTO
        (0x07, "___1"), // NEW_TOKEN
        (0x10, "__01"), // MAX_DATA
        (0x11, "__01"), // MAX_STREAM_DATA
        (0x12, "__01"), // MAX_STREAMS
        (0x13, "__01"),
        (0x14, "__01"), // DATA_BLOCKED
        (0x15, "__01"), // STREAM_DATA_BLOCKED
        (0x16, "__01"), // STREAMS_BLOCKED
        (0x17, "__01"),
        (0x18, "__01"), // NEW_CONNECTION_ID
        (0x19, "___1"), // RETIRE_CONNECTION_ID (§12.5)
        (0x1a, "__01"), // PATH_CHALLENGE
        (0x1b, "___1"), // PATH_RESPONSE
        (0x1c, "IH01"), // CONNECTION_CLOSE, transport ("ih": only 0x1c in I/H)
        (0x1d, "__01"), // CONNECTION_CLOSE, application
        (0x1e, "___1"), // HANDSHAKE_DONE
        (0x30, "__01"), // DATAGRAM
    ];
    let columns = [
        PacketKind::Initial,
        PacketKind::Handshake,
        PacketKind::ZeroRtt,
        PacketKind::OneRtt,
    ];
    let check = |value: u64, pkts: &str| {
        for (kind, mark) in columns.iter().zip(pkts.chars()) {
            assert_eq!(
                ty(value).allowed_in(*kind),
                mark != '_',
                "{:?} in {kind:?}",
                ty(value)
            );
        }
    };
    for (value, pkts) in table {
        check(value, pkts);
    }
    for value in 0x08..=0x0f {
        check(value, "__01"); // STREAM
    }
    check(0x31, "__01");
    // "Note that all frames can appear in 1-RTT packets."
    for value in KNOWN_TYPES {
        assert!(ty(value).allowed_in(PacketKind::OneRtt));
    }
    // Unknown types are allowed nowhere.
    for kind in PacketKind::ALL {
        assert!(!ty(0x1f).allowed_in(kind));
    }
}

/// RFC 9000 §12.5: "it is not possible to send the following frames in 0-RTT
/// packets ...: ACK, CRYPTO, HANDSHAKE_DONE, NEW_TOKEN, PATH_RESPONSE, and
/// RETIRE_CONNECTION_ID."
#[test]
fn section_12_5_zero_rtt_exclusions() {
    let excluded = [0x02, 0x03, 0x06, 0x1e, 0x07, 0x1b, 0x19];
    for value in KNOWN_TYPES {
        assert_eq!(
            ty(value).allowed_in(PacketKind::ZeroRtt),
            !excluded.contains(&value),
            "{:?}",
            ty(value)
        );
    }
    // Examples from the task's reading of Table 3.
    assert!(
        !Frame::Stream(Stream {
            id: StreamId::from_var(var(0)),
            offset: 0,
            fin: false,
            data: Bytes::new(),
        })
        .allowed_in(PacketKind::Initial)
    );
    assert!(Frame::Ping.allowed_in(PacketKind::Handshake));
    assert!(Frame::Padding(Padding { len: 1 }).allowed_in(PacketKind::ZeroRtt));
}

/// RFC 9000 §13.2.1 and RFC 9002 §2: ACK, PADDING and CONNECTION_CLOSE are
/// not ack-eliciting; only ACK and CONNECTION_CLOSE leave a packet out of
/// bytes in flight.
#[test]
fn ack_eliciting_and_in_flight() {
    for value in KNOWN_TYPES {
        let t = ty(value);
        let eliciting = !matches!(value, 0x00 | 0x02 | 0x03 | 0x1c | 0x1d);
        assert_eq!(t.is_ack_eliciting(), eliciting, "{t:?}");
        assert_eq!(t.counts_in_flight(), eliciting || value == 0x00, "{t:?}");
        assert!(t.is_known());
    }
    assert!(ty(0x30).is_ack_eliciting()); // RFC 9221 §5.2
    assert!(!Frame::Padding(Padding { len: 3 }).is_ack_eliciting());
    assert!(Frame::Padding(Padding { len: 3 }).counts_in_flight());
    // RFC 9000 §9.1: probing frames.
    let probing: Vec<u64> = KNOWN_TYPES
        .into_iter()
        .filter(|&value| ty(value).is_probing())
        .collect();
    assert_eq!(probing, [0x00, 0x18, 0x1a, 0x1b]);
    assert!(!ty(0x1f).is_known());
    assert_eq!(format!("{:?}", ty(0x0b)), "STREAM(0xb)");
}

// ---------------------------------------------------------------------------
// Robustness

/// Checks what can be checked of any successfully decoded frame.
fn check_decoded(frame: &Frame) {
    // It re-encodes to something that decodes to the same frame.
    let bytes = encode(frame);
    assert_eq!(decode_one(&bytes).as_ref(), Ok(frame));
    if let Frame::Ack(ack) = frame {
        let mut previous_start: Option<u64> = None;
        for range in ack.ranges() {
            assert!(range.start() <= range.end());
            if let Some(start) = previous_start {
                assert!(*range.end() + 2 <= start, "ranges must descend with gaps");
            }
            previous_start = Some(*range.start());
        }
        assert_eq!(previous_start, Some(ack.smallest()));
    }
}

fn drain(payload: &[u8]) {
    let mut items = 0;
    let mut failed = false;
    for item in Iter::new(Bytes::copy_from_slice(payload)) {
        assert!(!failed, "an item after an error");
        items += 1;
        match item {
            Ok(frame) => check_decoded(&frame),
            Err(_) => failed = true,
        }
    }
    assert!(items <= payload.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Arbitrary payloads never panic, and whatever decodes is well formed.
    #[test]
    fn arbitrary_bytes_never_panic(payload in vec(any::<u8>(), 0..300)) {
        drain(&payload);
    }

    /// Valid payloads with a few bytes changed exercise deeper paths.
    #[test]
    fn mutated_payloads_never_panic(
        frames in vec(frame(), 1..6),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut payload = Vec::new();
        for frame in &frames {
            frame.encode(&mut payload);
        }
        for (index, byte) in edits {
            let at = index.index(payload.len());
            payload[at] = byte;
        }
        let len = cut.index(payload.len() + 1);
        drain(&payload[..len]);
        drain(&payload);
    }
}

#[test]
fn encoders_write_into_any_bufmut() {
    // A fixed-size slice works as well as a Vec.
    let mut storage = [0u8; 16];
    let mut out = &mut storage[..];
    MaxData { max: var(1 << 20) }.encode(&mut out);
    let remaining = out.remaining_mut();
    assert_eq!(16 - remaining, 5);
    assert_eq!(storage[..5], [0x10, 0x80, 0x10, 0x00, 0x00]);
}
