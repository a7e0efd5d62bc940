use proptest::prelude::*;

use super::*;
use crate::frame::{Frame, Iter};
use crate::shared::{Dir, Side};

fn buffer_with(chunks: &[&'static [u8]]) -> SendBuffer {
    let mut buffer = SendBuffer::default();
    for chunk in chunks {
        buffer.push(Bytes::from_static(chunk));
    }
    buffer
}

fn copy(buffer: &SendBuffer, range: Range<u64>) -> Vec<u8> {
    let mut out = Vec::new();
    buffer.copy_range(range, &mut out);
    out
}

#[test]
fn copies_across_chunks_and_frees_acked_prefixes() {
    let mut buffer = buffer_with(&[b"hello", b" ", b"world"]);
    assert_eq!(buffer.end(), 11);
    assert_eq!(copy(&buffer, 3..8), b"lo wo");
    buffer.on_sent(0..11);
    buffer.on_ack(0..4);
    assert_eq!(buffer.unacked(), 7);
    assert_eq!(buffer.chunks.front().map(|c| c.0), Some(4));
    assert_eq!(copy(&buffer, 4..11), b"o world");
    // An ack out of order is remembered, then joins the prefix.
    buffer.on_ack(6..11);
    assert_eq!(buffer.unacked(), 7);
    buffer.on_ack(4..6);
    assert!(buffer.all_acked());
    assert!(buffer.chunks.is_empty());
}

#[test]
fn losses_skip_acknowledged_ranges() {
    let mut buffer = buffer_with(&[&[0; 100]]);
    buffer.on_sent(0..100);
    buffer.on_ack(20..30);
    buffer.on_ack(50..60);
    buffer.on_lost(10..80);
    assert_eq!(
        buffer.lost.iter().collect::<Vec<_>>(),
        [10..20, 30..50, 60..80]
    );
    // A late acknowledgment of a range declared lost cancels it.
    buffer.on_ack(30..50);
    assert_eq!(buffer.first_lost(), Some(10..20));
    buffer.on_sent(10..20);
    assert_eq!(buffer.first_lost(), Some(60..80));
    // Nothing is lost beyond what was sent.
    buffer.on_lost(90..200);
    assert_eq!(buffer.lost.iter().last(), Some(90..100));
}

#[test]
fn discard_returns_unsent_bytes() {
    let mut buffer = buffer_with(&[&[1; 50]]);
    buffer.on_sent(0..20);
    assert_eq!(buffer.discard(), 30);
    assert_eq!((buffer.end(), buffer.sent(), buffer.unacked()), (20, 20, 0));
    assert!(buffer.first_lost().is_none());
}

fn decode_stream(bytes: Vec<u8>) -> frame::Stream {
    let frames: Vec<_> = Iter::new(Bytes::from(bytes)).collect();
    match &frames[..] {
        [Ok(Frame::Stream(stream))] => stream.clone(),
        other => panic!("expected one STREAM frame, got {other:?}"),
    }
}

#[test]
fn write_frame_fills_space_and_sets_fin_on_the_last_byte() {
    let id = StreamId::new(Side::Client, Dir::Uni, 1);
    let mut stream = SendStream::new(1000);
    stream.buffer.push(Bytes::from_static(b"abcdefghij"));
    stream.fin_requested = true;
    stream.fin_pending = true;
    let mut out = Vec::new();
    let frame = stream.write_frame(id, false, 9, &mut out).unwrap();
    assert_eq!(out.len(), 9);
    assert_eq!(
        frame,
        SentFrame::Stream {
            id,
            offset: 0,
            len: 6,
            fin: false
        }
    );
    assert_eq!(stream.state, SendState::Send);
    let mut out = Vec::new();
    let frame = stream.write_frame(id, false, 100, &mut out).unwrap();
    assert_eq!(
        frame,
        SentFrame::Stream {
            id,
            offset: 6,
            len: 4,
            fin: true
        }
    );
    let decoded = decode_stream(out);
    assert_eq!(
        (decoded.offset, &decoded.data[..], decoded.fin),
        (6, &b"ghij"[..], true)
    );
    assert_eq!(stream.state, SendState::DataSent);
    assert!(stream.next_range(false).is_none());
    // Too small for one byte.
    stream.on_frame_lost(0..6, false);
    assert!(stream.write_frame(id, true, 3, &mut Vec::new()).is_none());
    assert!(stream.write_frame(id, true, 4, &mut Vec::new()).is_some());
}

proptest! {
    /// The header written before data spanning several chunks is exactly
    /// what `frame::Stream::encode` writes for the same frame.
    #[test]
    fn header_matches_frame_encoder(
        index in 0u64..(1 << 20),
        offset in prop_oneof![Just(0u64), 0u64..(1 << 40)],
        len in 0usize..300,
        fin: bool,
    ) {
        let id = StreamId::new(Side::Server, Dir::Bi, index);
        let data = Bytes::from(vec![7u8; len]);
        let mut ours = Vec::new();
        encode_stream_header(id, offset, len as u64, fin, &mut ours);
        ours.extend_from_slice(&data);
        let mut theirs = Vec::new();
        frame::Stream { id, offset, fin, data }.encode(&mut theirs);
        prop_assert_eq!(ours, theirs);
    }

    /// Random acks and losses: the buffer's lost set never holds
    /// acknowledged bytes, and copies always return the written bytes.
    #[test]
    fn buffer_matches_model(
        chunks in proptest::collection::vec(1usize..40, 1..10),
        events in proptest::collection::vec((any::<bool>(), 0u64..400, 1u64..60), 0..40),
    ) {
        let mut buffer = SendBuffer::default();
        let mut model = Vec::new();
        for (i, len) in chunks.iter().enumerate() {
            let chunk: Vec<u8> = (0..*len).map(|j| (i * 31 + j) as u8).collect();
            model.extend_from_slice(&chunk);
            buffer.push(Bytes::from(chunk));
        }
        let end = model.len() as u64;
        buffer.on_sent(0..end);
        let mut acked = vec![false; model.len()];
        for (ack, start, len) in events {
            let start = start % end;
            let range = start..(start + len).min(end);
            if ack {
                buffer.on_ack(range.clone());
                for i in range { acked[i as usize] = true; }
            } else {
                buffer.on_lost(range);
            }
            for lost in buffer.lost.iter() {
                prop_assert!(lost.clone().all(|i| !acked[i as usize]));
                prop_assert_eq!(copy(&buffer, lost.clone()), &model[lost.start as usize..lost.end as usize]);
            }
            let prefix = acked.iter().take_while(|&&a| a).count() as u64;
            prop_assert_eq!(buffer.unacked(), end - prefix);
        }
    }
}
