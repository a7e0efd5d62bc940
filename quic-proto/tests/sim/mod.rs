//! A deterministic simulated network for integration tests (DESIGN.md
//! "Testing layers" 2, STYLE.md §10).
//!
//! The simulator moves [`Datagram`]s between [`Host`]s on a virtual clock. It
//! knows nothing about QUIC: an adapter implementing [`Host`] for an endpoint
//! plugs QUIC in. Everything random comes from one seed through [`SimRng`], so
//! a failing run replays exactly (see [`run_seeded`]). Nothing sleeps and no
//! clock is read after the network's start instant is fixed.
//!
//! The pieces, from the bottom up:
//!
//! - [`rng`]: [`SimRng`], a seeded xoshiro256** with deterministic forks.
//! - [`nodes`]: link impairments ([`Delay`], [`Reorder`], [`Loss`],
//!   [`Duplicate`], [`Corrupt`], [`Mtu`], [`Bandwidth`], [`Blackhole`],
//!   [`EcnMark`], [`EcnBleach`]), each a small [`Node`].
//! - [`link`]: a [`Link`] is nodes in series, one per direction, built with
//!   [`LinkBuilder`].
//! - [`network`]: [`Network`] routes datagrams between hosts over links and
//!   drives the clock from event to event.
//! - [`observe`]: what tests can watch: [`Event`]s, the log, [`Traffic`].
//! - [`seeds`]: [`run_seeded`] runs a test over many seeds, prints the failing
//!   seed and honours `SIM_SEED`.
//! - [`toy`]: small hosts (ping-pong, a toy reliable transfer, a livelocked
//!   host) used by the self-tests and handy as background traffic.
//!
//! ```ignore
//! mod sim;
//! use sim::{addr, ms, secs, Network};
//!
//! sim::run_seeded("transfer_survives_loss", sim::seeds(20), |seed| {
//!     let (a, b) = (addr(1), addr(2));
//!     let mut net = Network::new(seed);
//!     net.add_host(a, client_host(net.derive_rng(1)));
//!     net.add_host(b, server_host(net.derive_rng(2)));
//!     net.set_links(a, b, |l| l.delay(ms(20)).loss(0.05).reorder(0.1, ms(5)));
//!     net.drive_until(|n| n.host(a).is_done(), secs(10))?;
//!     Ok(())
//! });
//! ```

// Integration tests compile this module into every test binary that declares
// `mod sim;`, and each binary uses only part of it, so unused items and
// re-exports would otherwise warn (and fail `clippy -D warnings`) in every one.
#![allow(dead_code, unused_imports)]

pub mod link;
pub mod network;
pub mod nodes;
pub mod observe;
pub mod rng;
pub mod seeds;
pub mod toy;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::BytesMut;

pub use link::{Link, LinkBuilder};
pub use network::{Host, Network, Progress, SimError, epoch};
pub use nodes::{
    Bandwidth, Blackhole, Corrupt, Delay, Duplicate, ECN_CE, EcnBleach, EcnMark, Loss, Mtu, Node,
    NodeStats, Reorder, Switch, TimedQueue,
};
pub use observe::{Event, EventKind, LogEntry, PairStats, Traffic};
pub use rng::SimRng;
pub use seeds::{run_seeded, seeds};

/// One UDP datagram in flight: addresses, ECN codepoint and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Source address, as the sending host wrote it (it may be spoofed).
    pub src: SocketAddr,
    /// Destination address; the network routes on it.
    pub dst: SocketAddr,
    /// The 2-bit ECN codepoint of the IP header (RFC 3168: `0b01` ECT(1),
    /// `0b10` ECT(0), `0b11` CE), or `None` for Not-ECT.
    pub ecn: Option<u8>,
    /// The UDP payload.
    pub payload: BytesMut,
}

impl Datagram {
    /// A Not-ECT datagram carrying `payload`.
    pub fn new(src: SocketAddr, dst: SocketAddr, payload: impl AsRef<[u8]>) -> Self {
        Self {
            src,
            dst,
            ecn: None,
            payload: BytesMut::from(payload.as_ref()),
        }
    }

    /// The same datagram with ECN codepoint `ecn` (only the low two bits count).
    pub fn with_ecn(mut self, ecn: u8) -> Self {
        self.ecn = Some(ecn & 0b11);
        self
    }

    /// The payload length in bytes (what [`Mtu`] and [`Bandwidth`] measure).
    pub fn len(&self) -> usize {
        self.payload.len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }
}

/// `n` milliseconds.
pub const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `n` microseconds.
pub const fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

/// `n` seconds.
pub const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A distinct test address: `10.0.0.n:4433`.
pub fn addr(n: u8) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(10, 0, 0, n), 4433))
}
