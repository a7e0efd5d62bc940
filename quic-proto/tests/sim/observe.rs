//! What the network lets tests see: datagram events, the event log and
//! per-direction traffic counters.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::Datagram;
use super::rng::Fnv64;

/// What happened to a datagram, for observers and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A host (or [`Network::inject`]) sent it into a link.
    Sent,
    /// It left the link and was handed to the host owning `dst`.
    Delivered,
    /// It left the link but no host owns `dst`; it is discarded.
    Unroutable,
}

/// One datagram event, as observers see it.
#[derive(Debug)]
pub struct Event<'a> {
    /// What happened.
    pub kind: EventKind,
    /// When.
    pub now: Instant,
    /// The datagram.
    pub datagram: &'a Datagram,
}

/// One line of the optional event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Virtual time since the start.
    pub at: Duration,
    /// What happened.
    pub kind: EventKind,
    /// Source address.
    pub src: SocketAddr,
    /// Destination address.
    pub dst: SocketAddr,
    /// ECN codepoint.
    pub ecn: Option<u8>,
    /// Payload length.
    pub len: usize,
}

/// Counters for one `(src, dst)` direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PairStats {
    /// Datagrams sent into the link.
    pub sent_datagrams: u64,
    /// Payload bytes sent into the link.
    pub sent_bytes: u64,
    /// Datagrams that came out of the link (duplicates count twice).
    pub delivered_datagrams: u64,
    /// Payload bytes that came out of the link.
    pub delivered_bytes: u64,
}

/// Per-`(src, dst)` traffic counters, updated before observers are called.
#[derive(Debug, Default)]
pub struct Traffic {
    pairs: BTreeMap<(SocketAddr, SocketAddr), PairStats>,
}

impl Traffic {
    /// The counters for datagrams from `src` to `dst` (zero if none).
    pub fn pair(&self, src: SocketAddr, dst: SocketAddr) -> PairStats {
        self.pairs.get(&(src, dst)).copied().unwrap_or_default()
    }

    /// Every direction seen so far, in address order.
    pub fn iter(&self) -> impl Iterator<Item = (SocketAddr, SocketAddr, PairStats)> + '_ {
        self.pairs.iter().map(|(&(s, d), &p)| (s, d, p))
    }

    /// Whether the bytes `server` sent to `client` are at most `factor` times
    /// the bytes delivered from `client` to `server`: the anti-amplification
    /// limit of RFC 9000 §8.1 (factor 3) while the address is unvalidated.
    pub fn within_amplification(
        &self,
        server: SocketAddr,
        client: SocketAddr,
        factor: u64,
    ) -> bool {
        let sent = self.pair(server, client).sent_bytes;
        sent <= factor.saturating_mul(self.pair(client, server).delivered_bytes)
    }

    pub(super) fn record_sent(&mut self, d: &Datagram) {
        let stats = self.pairs.entry((d.src, d.dst)).or_default();
        stats.sent_datagrams += 1;
        stats.sent_bytes += d.len() as u64;
    }

    pub(super) fn record_delivered(&mut self, d: &Datagram) {
        let stats = self.pairs.entry((d.src, d.dst)).or_default();
        stats.delivered_datagrams += 1;
        stats.delivered_bytes += d.len() as u64;
    }
}

/// Mixes an address into `h` in a fixed, version-independent encoding.
pub fn hash_addr(h: &mut Fnv64, a: SocketAddr) {
    match a.ip() {
        IpAddr::V4(ip) => {
            h.write(&[4]);
            h.write(&ip.octets());
        }
        IpAddr::V6(ip) => {
            h.write(&[6]);
            h.write(&ip.octets());
        }
    }
    h.write(&a.port().to_be_bytes());
}

/// Mixes a delivery at `at` since the start into `h`: time, addresses, ECN
/// and payload bytes.
pub fn hash_delivery(h: &mut Fnv64, at: Duration, d: &Datagram) {
    let nanos = u64::try_from(at.as_nanos()).unwrap_or(u64::MAX);
    h.write(&nanos.to_le_bytes());
    hash_addr(h, d.src);
    hash_addr(h, d.dst);
    h.write(&[d.ecn.unwrap_or(0xff)]);
    h.write(&(d.len() as u64).to_le_bytes());
    h.write(&d.payload);
}
