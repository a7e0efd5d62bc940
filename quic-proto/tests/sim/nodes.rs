//! Link impairments: small [`Node`]s composed in series into a
//! [`Link`](super::Link).
//!
//! Every node keeps its output in a [`TimedQueue`] ordered by due time, then
//! by arrival (so equal due times keep FIFO order and runs are deterministic).
//! Nodes that only filter (loss, MTU, ...) emit at the time they receive.
//! A node judges a datagram when it enters the node, at the `now` passed to
//! [`Node::send`]: a [`Blackhole`] placed before a [`Delay`] drops what is
//! *sent* in its window, placed after it drops what would *arrive* in it.

use std::cell::Cell;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::fmt;
use std::ops::{AddAssign, Range, RangeInclusive};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::{Datagram, SimRng};

/// One stage of a link. The network calls `send` when a datagram enters,
/// and `poll` at (or after) `next_wakeup` to take out what is due.
pub trait Node: fmt::Debug {
    /// A datagram enters the node at `now`.
    fn send(&mut self, now: Instant, datagram: Datagram);
    /// The next datagram due at or before `now`, earliest first.
    fn poll(&mut self, now: Instant) -> Option<Datagram>;
    /// When the next datagram will be due, if any is held.
    fn next_wakeup(&self) -> Option<Instant>;
    /// What the node did so far.
    fn stats(&self) -> NodeStats {
        NodeStats::default()
    }
}

/// Counters of what nodes did to the datagrams passing through them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Datagrams dropped (loss, MTU, tail drop, blackhole).
    pub dropped: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Datagrams with a bit flipped.
    pub corrupted: u64,
    /// Datagrams given extra delay by [`Reorder`].
    pub reordered: u64,
    /// Datagrams whose ECN field was changed.
    pub ecn_changed: u64,
}

impl AddAssign for NodeStats {
    fn add_assign(&mut self, o: Self) {
        self.dropped += o.dropped;
        self.duplicated += o.duplicated;
        self.corrupted += o.corrupted;
        self.reordered += o.reordered;
        self.ecn_changed += o.ecn_changed;
    }
}

/// Datagrams waiting for their due time, earliest first, FIFO among equals.
#[derive(Debug, Default)]
pub struct TimedQueue {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
}

#[derive(Debug)]
struct Entry {
    due: Instant,
    seq: u64,
    datagram: Datagram,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

impl TimedQueue {
    /// Holds `datagram` until `due`.
    pub fn push(&mut self, due: Instant, datagram: Datagram) {
        self.seq += 1;
        self.heap.push(Reverse(Entry {
            due,
            seq: self.seq,
            datagram,
        }));
    }

    /// The earliest datagram due at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<Datagram> {
        if self.next_due()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse(e)| e.datagram)
    }

    /// The earliest due time held.
    pub fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(e)| e.due)
    }

    /// How many datagrams are held.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// `poll` and `next_wakeup` for a node whose output is its `out` queue.
macro_rules! queue_output {
    () => {
        fn poll(&mut self, now: Instant) -> Option<Datagram> {
            self.out.pop_due(now)
        }
        fn next_wakeup(&self) -> Option<Instant> {
            self.out.next_due()
        }
    };
}

/// Fixed latency: every datagram leaves exactly `delay` after it entered, in
/// FIFO order.
#[derive(Debug)]
pub struct Delay {
    delay: Duration,
    out: TimedQueue,
}

impl Delay {
    /// A fixed latency of `delay`.
    pub fn new(delay: Duration) -> Self {
        Self {
            delay,
            out: TimedQueue::default(),
        }
    }
}

impl Node for Delay {
    fn send(&mut self, now: Instant, datagram: Datagram) {
        self.out.push(now + self.delay, datagram);
    }
    queue_output!();
}

/// Jitter and reordering: with `probability`, a datagram is held for an extra
/// delay drawn uniformly from `extra`, so later datagrams overtake it.
#[derive(Debug)]
pub struct Reorder {
    probability: f64,
    extra: RangeInclusive<Duration>,
    rng: SimRng,
    out: TimedQueue,
    stats: NodeStats,
}

impl Reorder {
    /// Holds a datagram back by a uniform draw from `extra` with `probability`.
    pub fn new(rng: SimRng, probability: f64, extra: RangeInclusive<Duration>) -> Self {
        assert!(
            extra.start() <= extra.end(),
            "empty extra delay range {extra:?}"
        );
        Self {
            probability,
            extra,
            rng,
            out: TimedQueue::default(),
            stats: NodeStats::default(),
        }
    }
}

impl Node for Reorder {
    fn send(&mut self, now: Instant, datagram: Datagram) {
        let mut due = now;
        if self.rng.gen_bool(self.probability) {
            due += self.rng.gen_duration(self.extra.clone());
            self.stats.reordered += 1;
        }
        self.out.push(due, datagram);
    }
    queue_output!();
    fn stats(&self) -> NodeStats {
        self.stats
    }
}

/// Random loss: each datagram is dropped with `probability`, independently.
#[derive(Debug)]
pub struct Loss {
    probability: f64,
    rng: SimRng,
    out: TimedQueue,
    stats: NodeStats,
}

impl Loss {
    /// Drops each datagram with `probability`.
    pub fn new(rng: SimRng, probability: f64) -> Self {
        Self {
            probability,
            rng,
            out: TimedQueue::default(),
            stats: NodeStats::default(),
        }
    }
}

impl Node for Loss {
    fn send(&mut self, now: Instant, datagram: Datagram) {
        if self.rng.gen_bool(self.probability) {
            self.stats.dropped += 1;
        } else {
            self.out.push(now, datagram);
        }
    }
    queue_output!();
    fn stats(&self) -> NodeStats {
        self.stats
    }
}

/// Duplication: with `probability`, a datagram is followed by an identical copy.
#[derive(Debug)]
pub struct Duplicate {
    probability: f64,
    rng: SimRng,
    out: TimedQueue,
    stats: NodeStats,
}

impl Duplicate {
    /// Copies each datagram with `probability`.
    pub fn new(rng: SimRng, probability: f64) -> Self {
        Self {
            probability,
            rng,
            out: TimedQueue::default(),
            stats: NodeStats::default(),
        }
    }
}

impl Node for Duplicate {
    fn send(&mut self, now: Instant, datagram: Datagram) {
        if self.rng.gen_bool(self.probability) {
            self.out.push(now, datagram.clone());
            self.stats.duplicated += 1;
        }
        self.out.push(now, datagram);
    }
    queue_output!();
    fn stats(&self) -> NodeStats {
        self.stats
    }
}

/// Corruption: with `probability`, exactly one uniformly chosen bit of the
/// payload is flipped (empty payloads pass untouched).
#[derive(Debug)]
pub struct Corrupt {
    probability: f64,
    rng: SimRng,
    out: TimedQueue,
    stats: NodeStats,
}

impl Corrupt {
    /// Flips one bit of each datagram with `probability`.
    pub fn new(rng: SimRng, probability: f64) -> Self {
        Self {
            probability,
            rng,
            out: TimedQueue::default(),
            stats: NodeStats::default(),
        }
    }
}

impl Node for Corrupt {
    fn send(&mut self, now: Instant, mut datagram: Datagram) {
        if !datagram.is_empty() && self.rng.gen_bool(self.probability) {
            let len = datagram.len() as u64;
            let byte = self.rng.gen_range(0..len) as usize;
            let bit = self.rng.gen_range(0..8);
            datagram.payload[byte] ^= 1 << bit;
            self.stats.corrupted += 1;
        }
        self.out.push(now, datagram);
    }
    queue_output!();
    fn stats(&self) -> NodeStats {
        self.stats
    }
}

/// A path MTU: datagrams whose payload exceeds `max` bytes are dropped.
#[derive(Debug)]
pub struct Mtu {
    max: usize,
    out: TimedQueue,
    stats: NodeStats,
}

impl Mtu {
    /// Drops payloads longer than `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            out: TimedQueue::default(),
            stats: NodeStats::default(),
        }
    }
}

impl Node for Mtu {
    fn send(&mut self, now: Instant, datagram: Datagram) {
        if datagram.len() > self.max {
            self.stats.dropped += 1;
        } else {
            self.out.push(now, datagram);
        }
    }
    queue_output!();
    fn stats(&self) -> NodeStats {
        self.stats
    }
}

/// A bottleneck: datagrams are serialised one after another at
/// `bytes_per_sec` (a payload of `n` bytes takes `ceil(n * 1e9 / rate)` ns),
/// behind a tail-drop queue. The backlog counts every byte accepted and not
/// yet out of the node, including the datagram being serialised; a datagram
/// that would push it past `queue_limit_bytes` is dropped.
#[derive(Debug)]
pub struct Bandwidth {
    bytes_per_sec: u64,
    queue_limit_bytes: usize,
    backlog: usize,
    busy_until: Option<Instant>,
    out: TimedQueue,
    stats: NodeStats,
}

impl Bandwidth {
    /// A bottleneck of `bytes_per_sec` (must be non-zero) behind a queue of
    /// `queue_limit_bytes`.
    pub fn new(bytes_per_sec: u64, queue_limit_bytes: usize) -> Self {
        assert!(bytes_per_sec > 0, "bandwidth must be non-zero");
        Self {
            bytes_per_sec,
            queue_limit_bytes,
            backlog: 0,
            busy_until: None,
            out: TimedQueue::default(),
            stats: NodeStats::default(),
        }
    }

    /// How long `len` bytes take to serialise.
    pub fn serialisation_time(&self, len: usize) -> Duration {
        let nanos = (len as u128 * 1_000_000_000).div_ceil(u128::from(self.bytes_per_sec));
        Duration::from_nanos(u64::try_from(nanos).expect("serialisation time fits u64 ns"))
    }

    /// Bytes accepted and not yet out of the node.
    pub fn backlog(&self) -> usize {
        self.backlog
    }
}

impl Node for Bandwidth {
    fn send(&mut self, now: Instant, datagram: Datagram) {
        let len = datagram.len();
        if self.backlog + len > self.queue_limit_bytes {
            self.stats.dropped += 1;
            return;
        }
        let start = self.busy_until.map_or(now, |busy| busy.max(now));
        let done = start + self.serialisation_time(len);
        self.busy_until = Some(done);
        self.backlog += len;
        self.out.push(done, datagram);
    }
    fn poll(&mut self, now: Instant) -> Option<Datagram> {
        let datagram = self.out.pop_due(now)?;
        self.backlog -= datagram.len();
        Some(datagram)
    }
    fn next_wakeup(&self) -> Option<Instant> {
        self.out.next_due()
    }
    fn stats(&self) -> NodeStats {
        self.stats
    }
}

/// A shared on/off switch for a [`Blackhole`], flipped by the test at run
/// time (clones share the state). Single-threaded, like the simulator.
#[derive(Debug, Clone, Default)]
pub struct Switch(Rc<Cell<bool>>);

impl Switch {
    /// A switch, initially off (datagrams pass).
    pub fn new() -> Self {
        Self::default()
    }
    /// Turns the blackhole on (`true`: drop everything) or off.
    pub fn set(&self, on: bool) {
        self.0.set(on);
    }
    /// Whether the blackhole is on.
    pub fn is_on(&self) -> bool {
        self.0.get()
    }
}

/// A blackhole: drops every datagram entering while `now` is inside one of
/// its half-open windows `[from, until)` or while its [`Switch`] is on.
#[derive(Debug, Default)]
pub struct Blackhole {
    windows: Vec<Range<Instant>>,
    switch: Option<Switch>,
    out: TimedQueue,
    stats: NodeStats,
}

impl Blackhole {
    /// Drops everything entering during `window`.
    pub fn window(window: Range<Instant>) -> Self {
        Self {
            windows: vec![window],
            ..Self::default()
        }
    }

    /// Drops everything entering while `switch` is on.
    pub fn switched(switch: Switch) -> Self {
        Self {
            switch: Some(switch),
            ..Self::default()
        }
    }

    /// Adds another window.
    pub fn and_window(mut self, window: Range<Instant>) -> Self {
        self.windows.push(window);
        self
    }

    fn is_dropping(&self, now: Instant) -> bool {
        self.switch.as_ref().is_some_and(Switch::is_on)
            || self.windows.iter().any(|w| w.contains(&now))
    }
}

impl Node for Blackhole {
    fn send(&mut self, now: Instant, datagram: Datagram) {
        if self.is_dropping(now) {
            self.stats.dropped += 1;
        } else {
            self.out.push(now, datagram);
        }
    }
    queue_output!();
    fn stats(&self) -> NodeStats {
        self.stats
    }
}

/// The CE codepoint (RFC 3168 §5).
pub const ECN_CE: u8 = 0b11;

/// ECN congestion marking, as an AQM router does: an ECN-capable datagram
/// (ECT(0) or ECT(1)) is marked CE with `probability`; Not-ECT passes as is.
#[derive(Debug)]
pub struct EcnMark {
    probability: f64,
    rng: SimRng,
    out: TimedQueue,
    stats: NodeStats,
}

impl EcnMark {
    /// Marks ECN-capable datagrams CE with `probability`.
    pub fn new(rng: SimRng, probability: f64) -> Self {
        Self {
            probability,
            rng,
            out: TimedQueue::default(),
            stats: NodeStats::default(),
        }
    }
}

impl Node for EcnMark {
    fn send(&mut self, now: Instant, mut datagram: Datagram) {
        let capable = matches!(datagram.ecn, Some(0b01 | 0b10));
        if capable && self.rng.gen_bool(self.probability) {
            datagram.ecn = Some(ECN_CE);
            self.stats.ecn_changed += 1;
        }
        self.out.push(now, datagram);
    }
    queue_output!();
    fn stats(&self) -> NodeStats {
        self.stats
    }
}

/// ECN bleaching, as a misbehaving middlebox does: the ECN field is cleared
/// to Not-ECT on every datagram (RFC 9000 §13.4.2 validation must notice).
#[derive(Debug, Default)]
pub struct EcnBleach {
    out: TimedQueue,
    stats: NodeStats,
}

impl Node for EcnBleach {
    fn send(&mut self, now: Instant, mut datagram: Datagram) {
        if datagram.ecn.take().is_some() {
            self.stats.ecn_changed += 1;
        }
        self.out.push(now, datagram);
    }
    queue_output!();
    fn stats(&self) -> NodeStats {
        self.stats
    }
}
