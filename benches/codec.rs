//! Frame codec throughput: decoding and encoding a full 1-RTT payload of the
//! shapes a bulk transfer carries (one large STREAM frame, or many small ones
//! beside an ACK with gaps).
//!
//! `cargo bench --bench codec`

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quic::proto::frame::{AckEncoder, Frame, Iter, Stream};
use quic::proto::{Dir, Side, StreamId};
use std::hint::black_box;

/// A payload of one ACK with 16 ranges and `streams` STREAM frames sharing
/// `bytes` bytes of data.
fn payload(streams: u64, bytes: usize) -> Bytes {
    let mut out = BytesMut::new();
    let ranges = (0..16u64).map(|i| {
        let top = 10_000 - i * 10;
        top - 5..=top
    });
    AckEncoder::new(ranges, 25, None).unwrap().encode(&mut out);
    let chunk = bytes / streams as usize;
    for i in 0..streams {
        let frame = Stream {
            id: StreamId::new(Side::Client, Dir::Bi, i),
            offset: 1 << 20,
            fin: false,
            data: Bytes::from(vec![0xab; chunk]),
        };
        frame.encode(&mut out);
    }
    out.freeze()
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame_decode");
    for (name, streams) in [("1_stream", 1), ("10_streams", 10)] {
        let payload = payload(streams, 1100);
        group.throughput(Throughput::Bytes(payload.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut data = 0;
                for frame in Iter::new(black_box(payload.clone())) {
                    match frame.unwrap() {
                        Frame::Stream(s) => data += s.data.len(),
                        Frame::Ack(a) => data += a.ranges().count(),
                        _ => {}
                    }
                }
                data
            });
        });
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame_encode");
    for (name, streams) in [("1_stream", 1), ("10_streams", 10)] {
        let frames: Vec<Frame> = Iter::new(payload(streams, 1100))
            .map(Result::unwrap)
            .collect();
        let len: usize = frames.iter().map(Frame::encoded_len).sum();
        group.throughput(Throughput::Bytes(len as u64));
        let mut out = Vec::with_capacity(len);
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                for frame in black_box(&frames) {
                    frame.encode(&mut out);
                }
                out.len()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
