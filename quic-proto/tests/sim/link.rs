//! A [`Link`]: impairment nodes in series, carrying one direction of a path.

use std::ops::{Range, RangeInclusive};
use std::time::{Duration, Instant};

use super::nodes::{
    Bandwidth, Blackhole, Corrupt, Delay, Duplicate, EcnBleach, EcnMark, Loss, Mtu, Node,
    NodeStats, Reorder, Switch,
};
use super::{Datagram, SimRng};

/// Nodes in series: what leaves node `i` at time `t` enters node `i + 1` at
/// `t`. Poll at every [`next_wakeup`](Self::next_wakeup) (the network does)
/// so that each node sees its input at the right time.
#[derive(Debug)]
pub struct Link {
    nodes: Vec<Box<dyn Node>>,
    sent: u64,
    delivered: u64,
}

impl Link {
    /// A link through `nodes`, first to last. No nodes: delivery is instant.
    pub fn new(mut nodes: Vec<Box<dyn Node>>) -> Self {
        if nodes.is_empty() {
            nodes.push(Box::new(Delay::new(Duration::ZERO)));
        }
        Self {
            nodes,
            sent: 0,
            delivered: 0,
        }
    }

    /// A datagram enters the link at `now`.
    pub fn send(&mut self, now: Instant, datagram: Datagram) {
        self.sent += 1;
        if let Some(first) = self.nodes.first_mut() {
            first.send(now, datagram);
        }
    }

    /// The next datagram leaving the link at or before `now`.
    pub fn poll(&mut self, now: Instant) -> Option<Datagram> {
        self.pump(now);
        let datagram = self.nodes.last_mut()?.poll(now)?;
        self.delivered += 1;
        Some(datagram)
    }

    /// The earliest time any node holds something due.
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.nodes.iter().filter_map(|n| n.next_wakeup()).min()
    }

    /// The sum of the nodes' counters.
    pub fn stats(&self) -> NodeStats {
        let mut total = NodeStats::default();
        for node in &self.nodes {
            total += node.stats();
        }
        total
    }

    /// Datagrams that entered the link.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Datagrams that left the link.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Moves everything due at `now` from each node into the next, front to
    /// back, so a datagram can cross several zero-delay nodes in one call.
    fn pump(&mut self, now: Instant) {
        for i in 1..self.nodes.len() {
            let (before, after) = self.nodes.split_at_mut(i);
            let (Some(from), Some(to)) = (before.last_mut(), after.first_mut()) else {
                continue;
            };
            while let Some(datagram) = from.poll(now) {
                to.send(now, datagram);
            }
        }
    }
}

/// Builds a [`Link`] node by node, giving each random node its own fork of
/// the link's [`SimRng`] (in order, so appending a node never changes the
/// randomness of the nodes before it).
///
/// ```ignore
/// let link = LinkBuilder::new(rng).delay(ms(20)).loss(0.05).reorder(0.1, ms(5)).build();
/// ```
#[derive(Debug)]
pub struct LinkBuilder {
    rng: SimRng,
    nodes: Vec<Box<dyn Node>>,
}

impl LinkBuilder {
    /// An empty link drawing its randomness from `rng`.
    pub fn new(rng: SimRng) -> Self {
        Self {
            rng,
            nodes: Vec::new(),
        }
    }

    /// Appends any node, for impairments this module doesn't provide.
    pub fn node(mut self, node: impl Node + 'static) -> Self {
        self.nodes.push(Box::new(node));
        self
    }

    /// Fixed latency ([`Delay`]).
    pub fn delay(self, delay: Duration) -> Self {
        self.node(Delay::new(delay))
    }

    /// With `probability`, an extra delay up to `max_extra` ([`Reorder`]).
    pub fn reorder(self, probability: f64, max_extra: Duration) -> Self {
        self.reorder_range(probability, Duration::ZERO..=max_extra)
    }

    /// With `probability`, an extra delay drawn from `extra` ([`Reorder`]).
    pub fn reorder_range(mut self, probability: f64, extra: RangeInclusive<Duration>) -> Self {
        let rng = self.rng.fork();
        self.node(Reorder::new(rng, probability, extra))
    }

    /// Every datagram gets an extra delay drawn from `min..=max` ([`Reorder`]
    /// with probability 1).
    pub fn jitter(self, min: Duration, max: Duration) -> Self {
        self.reorder_range(1.0, min..=max)
    }

    /// Independent random loss ([`Loss`]).
    pub fn loss(mut self, probability: f64) -> Self {
        let rng = self.rng.fork();
        self.node(Loss::new(rng, probability))
    }

    /// Random duplication ([`Duplicate`]).
    pub fn duplicate(mut self, probability: f64) -> Self {
        let rng = self.rng.fork();
        self.node(Duplicate::new(rng, probability))
    }

    /// Random single-bit corruption ([`Corrupt`]).
    pub fn corrupt(mut self, probability: f64) -> Self {
        let rng = self.rng.fork();
        self.node(Corrupt::new(rng, probability))
    }

    /// Drops payloads longer than `max` bytes ([`Mtu`]).
    pub fn mtu(self, max: usize) -> Self {
        self.node(Mtu::new(max))
    }

    /// A serialising bottleneck with a tail-drop queue ([`Bandwidth`]).
    pub fn bandwidth(self, bytes_per_sec: u64, queue_limit_bytes: usize) -> Self {
        self.node(Bandwidth::new(bytes_per_sec, queue_limit_bytes))
    }

    /// Drops everything entering during `window` ([`Blackhole`]).
    pub fn blackhole(self, window: Range<Instant>) -> Self {
        self.node(Blackhole::window(window))
    }

    /// Drops everything entering while `switch` is on ([`Blackhole`]).
    pub fn switch(self, switch: &Switch) -> Self {
        self.node(Blackhole::switched(switch.clone()))
    }

    /// CE-marks ECN-capable datagrams with `probability` ([`EcnMark`]).
    pub fn ecn_mark(mut self, probability: f64) -> Self {
        let rng = self.rng.fork();
        self.node(EcnMark::new(rng, probability))
    }

    /// Clears every datagram's ECN field ([`EcnBleach`]).
    pub fn ecn_bleach(self) -> Self {
        self.node(EcnBleach::default())
    }

    /// The link, nodes in the order they were added.
    pub fn build(self) -> Link {
        Link::new(self.nodes)
    }
}
