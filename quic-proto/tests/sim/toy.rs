//! Toy hosts: enough behaviour to exercise the simulator without QUIC.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{Datagram, Host};

/// A host that sends datagrams at scripted times, records everything it
/// receives, and optionally echoes each datagram back to its sender.
#[derive(Debug, Default)]
pub struct Scripted {
    script: VecDeque<(Instant, Datagram)>,
    outbox: VecDeque<Datagram>,
    echo: bool,
    /// Every datagram received, with its arrival time.
    pub received: Vec<(Instant, Datagram)>,
}

impl Scripted {
    /// A host that sends nothing until told.
    pub fn new() -> Self {
        Self::default()
    }

    /// A host that answers every datagram with the same payload, addresses
    /// swapped.
    pub fn echo() -> Self {
        Self {
            echo: true,
            ..Self::default()
        }
    }

    /// Schedules `datagram` to be sent at `at` (same-time sends keep order).
    pub fn send_at(&mut self, at: Instant, datagram: Datagram) {
        let pos = self.script.partition_point(|(t, _)| *t <= at);
        self.script.insert(pos, (at, datagram));
    }

    /// The arrival times of everything received.
    pub fn arrival_times(&self) -> Vec<Instant> {
        self.received.iter().map(|(t, _)| *t).collect()
    }
}

impl Host for Scripted {
    fn receive(&mut self, now: Instant, datagram: Datagram) {
        if self.echo {
            let mut reply = datagram.clone();
            std::mem::swap(&mut reply.src, &mut reply.dst);
            self.outbox.push_back(reply);
        }
        self.received.push((now, datagram));
    }
    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        self.outbox.pop_front()
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.script.front().map(|(t, _)| *t)
    }
    fn handle_timeout(&mut self, now: Instant) {
        while self.script.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, d)) = self.script.pop_front() {
                self.outbox.push_back(d);
            }
        }
    }
}

/// A broken host that never lets the clock move on.
#[derive(Debug)]
pub enum Livelock {
    /// Its timer is always due, however often it fires.
    Timer(Instant),
    /// It always has another datagram to send.
    Flood(Datagram),
}

impl Host for Livelock {
    fn receive(&mut self, _now: Instant, _datagram: Datagram) {}
    fn poll_transmit(&mut self, _now: Instant) -> Option<Datagram> {
        match self {
            Self::Flood(d) => Some(d.clone()),
            Self::Timer(_) => None,
        }
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        match self {
            Self::Timer(at) => Some(*at),
            Self::Flood(_) => None,
        }
    }
    fn handle_timeout(&mut self, _now: Instant) {}
}

const DATA: u8 = 0;
const ACK: u8 = 1;
/// Header of a toy data packet: kind, sequence number, total chunk count.
const HEADER: usize = 9;

/// A toy reliable transfer, one way: the sender numbers fixed-size chunks,
/// keeps up to `window` unacknowledged, and retransmits a chunk when its
/// fixed `rto` expires; the receiver acknowledges every chunk it gets
/// (duplicates too, so lost acks are repaired) and reassembles in order.
#[derive(Debug)]
pub struct ToyPeer {
    addr: SocketAddr,
    peer: SocketAddr,
    chunks: Vec<Vec<u8>>,
    next: usize,
    window: usize,
    rto: Duration,
    unacked: BTreeMap<u32, Instant>,
    resend: VecDeque<u32>,
    acks: VecDeque<u32>,
    received: BTreeMap<u32, Vec<u8>>,
    total: Option<u32>,
    /// How many chunks were sent again.
    pub retransmits: u64,
}

impl ToyPeer {
    /// A peer at `addr` that sends `data` to `peer` in `chunk`-byte pieces.
    pub fn sender(addr: SocketAddr, peer: SocketAddr, data: &[u8], chunk: usize) -> Self {
        let chunks = data.chunks(chunk).map(<[u8]>::to_vec).collect();
        Self {
            chunks,
            ..Self::receiver(addr, peer)
        }
    }

    /// A peer at `addr` that only receives from `peer`.
    pub fn receiver(addr: SocketAddr, peer: SocketAddr) -> Self {
        Self {
            addr,
            peer,
            chunks: Vec::new(),
            next: 0,
            window: 8,
            rto: Duration::from_millis(200),
            unacked: BTreeMap::new(),
            resend: VecDeque::new(),
            acks: VecDeque::new(),
            received: BTreeMap::new(),
            total: None,
            retransmits: 0,
        }
    }

    /// Sets the window and retransmission timeout.
    pub fn tuned(mut self, window: usize, rto: Duration) -> Self {
        self.window = window;
        self.rto = rto;
        self
    }

    /// Whether every chunk was sent and acknowledged.
    pub fn all_acked(&self) -> bool {
        self.next == self.chunks.len() && self.unacked.is_empty()
    }

    /// The reassembled data once every chunk arrived.
    pub fn received_data(&self) -> Option<Vec<u8>> {
        let total = self.total?;
        (self.received.len() == total as usize)
            .then(|| self.received.values().flatten().copied().collect())
    }

    fn data_packet(&self, seq: u32) -> Datagram {
        let total = self.chunks.len() as u32;
        let mut payload = vec![DATA];
        payload.extend_from_slice(&seq.to_be_bytes());
        payload.extend_from_slice(&total.to_be_bytes());
        payload.extend_from_slice(&self.chunks[seq as usize]);
        Datagram::new(self.addr, self.peer, payload)
    }

    fn on_data(&mut self, seq: u32, total: u32, data: &[u8]) {
        self.total = Some(total);
        self.received.entry(seq).or_insert_with(|| data.to_vec());
        self.acks.push_back(seq);
    }
}

fn be_u32(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?))
}

impl Host for ToyPeer {
    fn receive(&mut self, _now: Instant, datagram: Datagram) {
        let p = &datagram.payload[..];
        match p.first() {
            Some(&DATA) if p.len() >= HEADER => {
                let (Some(seq), Some(total)) = (be_u32(&p[1..]), be_u32(&p[5..])) else {
                    return;
                };
                self.on_data(seq, total, &p[HEADER..]);
            }
            Some(&ACK) => {
                if let Some(seq) = be_u32(&p[1..]) {
                    self.unacked.remove(&seq);
                    self.resend.retain(|&s| s != seq);
                }
            }
            _ => {}
        }
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        if let Some(seq) = self.acks.pop_front() {
            let mut payload = vec![ACK];
            payload.extend_from_slice(&seq.to_be_bytes());
            return Some(Datagram::new(self.addr, self.peer, payload));
        }
        if let Some(seq) = self.resend.pop_front() {
            self.retransmits += 1;
            return Some(self.data_packet(seq));
        }
        if self.next < self.chunks.len() && self.unacked.len() < self.window {
            let seq = self.next as u32;
            self.next += 1;
            self.unacked.insert(seq, now + self.rto);
            return Some(self.data_packet(seq));
        }
        None
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.unacked.values().min().copied()
    }

    fn handle_timeout(&mut self, now: Instant) {
        for (&seq, deadline) in &mut self.unacked {
            if *deadline <= now {
                *deadline = now + self.rto;
                self.resend.push_back(seq);
            }
        }
    }
}
