//! A sender and a receiver `Streams` joined by a lossy, reordering link of
//! packets: random writes, packets, acknowledgments, losses, reads and
//! credit updates. Checks that flow control is never exceeded and that every
//! byte arrives exactly once, in order.

use std::collections::HashMap;

use bytes::Bytes;
use proptest::prelude::*;

use super::tests::{deliver, pair_with, test_config, transmit};
use super::*;
use crate::frame::{self, Frame};

#[derive(Debug, Clone)]
enum Op {
    /// The application writes up to `len` more bytes on a stream.
    Write { stream: usize, len: usize },
    /// The application finishes a stream.
    Finish { stream: usize },
    /// The sender builds a packet of at most `budget` bytes.
    Send { budget: usize },
    /// An in-flight packet meets its fate.
    Arrive { pick: usize, fate: Fate },
    /// The receiving application reads.
    Read { stream: usize, max: usize },
    /// The receiver sends its control frames (credit); maybe lost.
    Credit { lost: bool },
}

#[derive(Debug, Clone, Copy)]
enum Fate {
    /// Delivered and acknowledged.
    Acked,
    /// Never delivered.
    Lost,
    /// Delivered, but the acknowledgment was lost: the sender retransmits.
    AckLost,
}

fn op(streams: usize) -> impl Strategy<Value = Op> {
    let stream = 0..streams;
    prop_oneof![
        4 => (stream.clone(), 0usize..700).prop_map(|(stream, len)| Op::Write { stream, len }),
        1 => stream.clone().prop_map(|stream| Op::Finish { stream }),
        5 => (20usize..1500).prop_map(|budget| Op::Send { budget }),
        5 => (any::<usize>(), prop_oneof![
            6 => Just(Fate::Acked),
            2 => Just(Fate::Lost),
            1 => Just(Fate::AckLost),
        ])
            .prop_map(|(pick, fate)| Op::Arrive { pick, fate }),
        3 => (stream, 1usize..2000).prop_map(|(stream, max)| Op::Read { stream, max }),
        2 => any::<bool>().prop_map(|lost| Op::Credit { lost }),
    ]
}

/// The byte at `offset` of stream `i`.
fn byte(i: usize, offset: usize) -> u8 {
    (offset * 7 + i * 13 + offset / 251) as u8
}

struct Link {
    sender: Streams,
    receiver: Streams,
    ids: Vec<StreamId>,
    written: Vec<usize>,
    finished: Vec<bool>,
    received: Vec<Vec<u8>>,
    ended: Vec<bool>,
    in_flight: Vec<(Bytes, StreamsSent)>,
    /// The highest offset ever sent per stream, and the FIN's offset.
    highest: HashMap<StreamId, u64>,
    fin_at: HashMap<StreamId, u64>,
    /// Packets the receiver refused (chunk bound).
    refused: usize,
}

impl Link {
    fn new(config: StreamsConfig) -> Self {
        let (mut sender, receiver) = pair_with(config);
        let ids = vec![
            sender.open(Dir::Uni).unwrap(),
            sender.open(Dir::Bi).unwrap(),
            sender.open(Dir::Uni).unwrap(),
        ];
        let n = ids.len();
        Self {
            sender,
            receiver,
            ids,
            written: vec![0; n],
            finished: vec![false; n],
            received: vec![Vec::new(); n],
            ended: vec![false; n],
            in_flight: Vec::new(),
            highest: HashMap::new(),
            fin_at: HashMap::new(),
            refused: 0,
        }
    }

    fn write(&mut self, i: usize, len: usize) {
        if self.finished[i] {
            return;
        }
        let start = self.written[i];
        let data: Vec<u8> = (start..start + len).map(|o| byte(i, o)).collect();
        match self.sender.write(self.ids[i], Bytes::from(data)) {
            Ok(n) => {
                assert!(n <= len);
                self.written[i] += n;
            }
            Err(WriteError::Blocked) => assert!(len > 0),
            Err(e) => panic!("write: {e:?}"),
        }
    }

    fn finish(&mut self, i: usize) {
        if !self.finished[i] {
            self.sender.finish(self.ids[i]).unwrap();
            self.finished[i] = true;
        }
    }

    /// Builds a packet and checks every STREAM frame in it against the
    /// credit the sender was given (RFC 9000 §4.1) and the final size.
    fn send(&mut self, budget: usize) {
        let (payload, sent) = transmit(&mut self.sender, budget);
        if payload.is_empty() {
            assert!(sent.is_empty());
            return;
        }
        for frame in frame::Iter::new(payload.clone()) {
            let Frame::Stream(stream) = frame.unwrap() else {
                continue;
            };
            let end = stream.offset + stream.data.len() as u64;
            let i = self.ids.iter().position(|&id| id == stream.id).unwrap();
            let expected: Vec<u8> = (stream.offset..end).map(|o| byte(i, o as usize)).collect();
            assert_eq!(&stream.data[..], &expected[..], "wrong bytes");
            let credit = self.sender.send.get(&stream.id).map(|s| s.max_stream_data);
            assert!(end <= credit.unwrap(), "beyond MAX_STREAM_DATA");
            if let Some(&fin) = self.fin_at.get(&stream.id) {
                assert!(end <= fin, "data beyond the final size");
            }
            if stream.fin {
                assert_eq!(*self.fin_at.entry(stream.id).or_insert(end), end);
            }
            let highest = self.highest.entry(stream.id).or_insert(0);
            *highest = (*highest).max(end);
        }
        let total: u64 = self.highest.values().sum();
        assert!(total <= self.sender.peer_max_data(), "beyond MAX_DATA");
        assert_eq!(total, self.sender.data_sent());
        self.in_flight.push((payload, sent));
    }

    fn arrive(&mut self, pick: usize, fate: Fate) {
        if self.in_flight.is_empty() {
            return;
        }
        let (payload, sent) = self.in_flight.remove(pick % self.in_flight.len());
        let delivered = match fate {
            Fate::Lost => false,
            Fate::Acked | Fate::AckLost => {
                let outcome = deliver(&mut self.receiver, payload).expect("no transport error");
                self.refused += usize::from(outcome == StreamFrameOutcome::Refused);
                outcome == StreamFrameOutcome::Accepted
            }
        };
        // A refused packet is dropped unacknowledged: the sender loses it.
        if delivered && matches!(fate, Fate::Acked) {
            self.sender.on_packet_acked(sent);
        } else {
            self.sender.on_packet_lost(sent);
        }
    }

    fn read(&mut self, i: usize, max: usize) {
        // Nothing to read before the stream is opened by its first frame.
        if self.ended[i] || !self.receiver.limits.was_opened(self.ids[i]) {
            return;
        }
        loop {
            match self.receiver.read(self.ids[i], max) {
                Ok(Some(data)) => {
                    assert!(!data.is_empty() && data.len() <= max);
                    self.received[i].extend_from_slice(&data);
                }
                Ok(None) => {
                    self.ended[i] = true;
                    return;
                }
                Err(ReadError::Blocked) => return,
                Err(e) => panic!("read: {e:?}"),
            }
        }
    }

    fn credit(&mut self, lost: bool) {
        let (payload, sent) = transmit(&mut self.receiver, 1200);
        if lost {
            self.receiver.on_packet_lost(sent);
        } else {
            assert_eq!(
                deliver(&mut self.sender, payload),
                Ok(StreamFrameOutcome::Accepted)
            );
            self.receiver.on_packet_acked(sent);
        }
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Write { stream, len } => self.write(stream, len),
            Op::Finish { stream } => self.finish(stream),
            Op::Send { budget } => self.send(budget),
            Op::Arrive { pick, fate } => self.arrive(pick, fate),
            Op::Read { stream, max } => self.read(stream, max),
            Op::Credit { lost } => self.credit(lost),
        }
    }

    /// Finishes every stream and runs a perfect link until all is read.
    fn drain(&mut self) {
        for i in 0..self.ids.len() {
            self.finish(i);
        }
        for _ in 0..10_000 {
            while !self.in_flight.is_empty() {
                self.arrive(0, Fate::Acked);
            }
            for i in 0..self.ids.len() {
                self.read(i, usize::MAX);
            }
            if self.ended.iter().all(|&e| e) && !self.sender.wants_to_send() {
                return;
            }
            self.credit(false);
            while self.sender.wants_to_send() {
                self.send(1200);
            }
        }
        panic!("the transfer never completed");
    }

    fn check_delivery(&mut self) {
        for i in 0..self.ids.len() {
            let expected: Vec<u8> = (0..self.written[i]).map(|o| byte(i, o)).collect();
            assert_eq!(self.received[i], expected, "stream {i}");
            assert!(
                self.sender.is_finished(self.ids[i]),
                "stream {i} acknowledged"
            );
        }
        let total = self.written.iter().sum::<usize>() as u64;
        assert_eq!(
            self.receiver.receive.received, total,
            "every byte counted once"
        );
        assert_eq!(self.receiver.buffered_chunks(), 0);
        let finished = std::iter::from_fn(|| self.sender.poll_event())
            .filter(|e| matches!(e, StreamEvent::Finished { .. }))
            .count();
        assert_eq!(finished, self.ids.len());
    }
}

fn config(chunk_bound: usize) -> StreamsConfig {
    StreamsConfig {
        send_buffer_limit: 3000,
        max_out_of_order_chunks: chunk_bound,
        ..test_config()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// RFC 9000 §4.1, §2.2, §13.3: whatever the writes, packet sizes,
    /// losses, reordering and credit updates, no STREAM frame goes beyond
    /// the peer's MAX_STREAM_DATA or MAX_DATA, and the receiver reads every
    /// byte exactly once, in order. A tight chunk bound makes the receiver
    /// refuse packets, which the sender must then recover.
    #[test]
    fn rfc9000_4_1_transfer_respects_credit_and_delivers_exactly_once(
        ops in proptest::collection::vec(op(3), 0..250),
        chunk_bound in prop_oneof![Just(2usize), Just(8), Just(4096)],
    ) {
        let mut link = Link::new(config(chunk_bound));
        for op in ops {
            link.apply(op);
            prop_assert!(link.receiver.buffered_chunks() <= 2 * chunk_bound + 64);
        }
        link.drain();
        link.check_delivery();
    }
}

/// A long transfer over a link that loses every third packet and reorders
/// the rest, with auto-growing windows.
#[test]
fn long_lossy_transfer_completes() {
    let config = StreamsConfig {
        auto_grow_windows: true,
        max_stream_receive_window: 64_000,
        max_connection_receive_window: 200_000,
        ..config(64)
    };
    let mut link = Link::new(config);
    let mut round = 0usize;
    while link.written.iter().any(|&w| w < 20_000) {
        round += 1;
        if round >= 100_000 {
            panic!(
                "stuck: written {:?} received {:?} in flight {} sender {:?} receiver {:?}",
                link.written,
                link.received.iter().map(Vec::len).collect::<Vec<_>>(),
                link.in_flight.len(),
                link.sender.send_credit,
                link.receiver.receive,
            );
        }
        for i in 0..3 {
            link.write(i, 1000);
        }
        link.send(1200);
        if link.in_flight.len() > 3 || !link.sender.wants_to_send() {
            let fate = if round % 3 == 0 {
                Fate::Lost
            } else {
                Fate::Acked
            };
            link.arrive(round, fate);
        }
        for i in 0..3 {
            link.read(i, 700);
        }
        link.credit(round % 7 == 0);
    }
    link.drain();
    link.check_delivery();
    assert!(
        link.receiver.receive.window.window() > 2500,
        "the window grew"
    );
}

/// Packets delivered in reverse order overflow a tiny chunk bound; the
/// refused packets are lost to the sender, which sends them again, and the
/// transfer completes.
#[test]
fn refused_packets_are_recovered() {
    let mut link = Link::new(config(2));
    link.write(0, 1000);
    link.write(2, 1000);
    while link.sender.wants_to_send() {
        link.send(100);
    }
    assert!(link.in_flight.len() > 10);
    while !link.in_flight.is_empty() {
        let last = link.in_flight.len() - 1;
        link.arrive(last, Fate::Acked);
        assert!(link.receiver.buffered_chunks() <= 4);
    }
    assert!(link.refused > 5, "{} refused", link.refused);
    link.drain();
    link.check_delivery();
}
