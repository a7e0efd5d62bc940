//! [`Network`]: hosts, links between their addresses, and the virtual clock.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::link::{Link, LinkBuilder};
use super::observe::{Event, EventKind, LogEntry, Traffic, hash_addr, hash_delivery};
use super::rng::{Fnv64, SimRng};
use super::{Datagram, ms};

/// Something attached to the network: a QUIC endpoint behind an adapter, or
/// a toy. The network drives it the way a sans-IO driver would: at every
/// instant it drains `poll_transmit`, hands over arrived datagrams with
/// `receive`, and calls `handle_timeout` once `poll_timeout` is due.
pub trait Host {
    /// A datagram addressed to one of the host's addresses arrived at `now`.
    fn receive(&mut self, now: Instant, datagram: Datagram);
    /// The next datagram to send at `now`, if any. Its `src` is whatever the
    /// host writes (the network does not check it, so spoofing is possible).
    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram>;
    /// The earliest deadline the host wants `handle_timeout` called at.
    fn poll_timeout(&mut self) -> Option<Instant>;
    /// Called at `now` once `now >= poll_timeout()`.
    fn handle_timeout(&mut self, now: Instant);
}

impl<H: Host + ?Sized> Host for Box<H> {
    fn receive(&mut self, now: Instant, datagram: Datagram) {
        (**self).receive(now, datagram);
    }
    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        (**self).poll_transmit(now)
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        (**self).poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        (**self).handle_timeout(now);
    }
}

/// Why driving the network stopped short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimError {
    /// Nothing left to happen (no timer, nothing in flight), goal not met.
    Stalled {
        /// Virtual time since the start.
        at: Duration,
    },
    /// The virtual time budget ran out before the goal was met.
    TimedOut {
        /// Virtual time since the start.
        at: Duration,
    },
    /// The step cap was hit: a host livelocks or a test runs far too long.
    StepLimit {
        /// Steps taken.
        steps: u64,
        /// Virtual time since the start.
        at: Duration,
    },
    /// An observer reported a broken invariant.
    Invariant {
        /// Virtual time since the start.
        at: Duration,
        /// The observer's message.
        message: String,
    },
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stalled { at } => write!(f, "stalled at {at:?}: nothing left to happen"),
            Self::TimedOut { at } => write!(f, "timed out at {at:?} of virtual time"),
            Self::StepLimit { steps, at } => write!(f, "step limit {steps} hit at {at:?}"),
            Self::Invariant { at, message } => write!(f, "invariant broken at {at:?}: {message}"),
        }
    }
}

impl std::error::Error for SimError {}

impl From<SimError> for String {
    fn from(e: SimError) -> String {
        e.to_string()
    }
}

/// Progress made by [`Network::step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The clock moved to this instant and everything due there was handled.
    Advanced(Instant),
    /// Nothing left to happen.
    Idle,
}

type Observer = Box<dyn FnMut(&Event<'_>, &Traffic) -> Result<(), String>>;
type LinkFactory = Box<dyn Fn(LinkBuilder) -> LinkBuilder>;

/// The one-way delay of links nobody configured.
pub const DEFAULT_DELAY: Duration = ms(10);
/// The default cap on steps (each transmit, delivery, timeout and clock move).
pub const DEFAULT_STEP_LIMIT: u64 = 1_000_000;

struct Slot<H> {
    addr: SocketAddr,
    host: H,
}

/// Hosts joined by per-direction links on a virtual clock, all randomness
/// drawn from one seed. See the module docs of `sim` for an example.
pub struct Network<H> {
    start: Instant,
    now: Instant,
    rng: SimRng,
    hosts: Vec<Slot<H>>,
    routes: BTreeMap<SocketAddr, usize>,
    links: BTreeMap<(SocketAddr, SocketAddr), Link>,
    default_link: LinkFactory,
    traffic: Traffic,
    observers: Vec<Observer>,
    digest: Fnv64,
    log: Option<Vec<LogEntry>>,
    steps: u64,
    step_limit: u64,
}

impl<H> fmt::Debug for Network<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Network")
            .field("seed", &self.rng.seed())
            .field("elapsed", &(self.now - self.start))
            .field("hosts", &self.routes.keys().collect::<Vec<_>>())
            .field("links", &self.links.len())
            .field("steps", &self.steps)
            .finish_non_exhaustive()
    }
}

/// The one real instant every network starts from; all later times are
/// offsets from it, so runs never depend on the wall clock.
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    // The only clock read in the simulator: it fixes the origin, nothing else.
    #[allow(clippy::disallowed_methods)]
    *EPOCH.get_or_init(Instant::now)
}

/// A stable 64-bit key for a direction, so each link's randomness depends
/// only on the seed and its addresses (not on the order links appear in).
fn pair_key(src: SocketAddr, dst: SocketAddr) -> u64 {
    let mut h = Fnv64::default();
    hash_addr(&mut h, src);
    hash_addr(&mut h, dst);
    h.finish()
}

impl<H: Host> Network<H> {
    /// An empty network on `seed`, starting at [`epoch`]. Links nobody
    /// configures get a fixed [`DEFAULT_DELAY`].
    pub fn new(seed: u64) -> Self {
        Self::with_start(seed, epoch())
    }

    /// An empty network on `seed` whose clock starts at `start`.
    pub fn with_start(seed: u64, start: Instant) -> Self {
        Self {
            start,
            now: start,
            rng: SimRng::from_seed(seed),
            hosts: Vec::new(),
            routes: BTreeMap::new(),
            links: BTreeMap::new(),
            default_link: Box::new(|l| l.delay(DEFAULT_DELAY)),
            traffic: Traffic::default(),
            observers: Vec::new(),
            digest: Fnv64::default(),
            log: None,
            steps: 0,
            step_limit: DEFAULT_STEP_LIMIT,
        }
    }

    // ----- hosts -----

    /// Attaches `host` at `addr`.
    ///
    /// # Panics
    /// If `addr` is taken.
    pub fn add_host(&mut self, addr: SocketAddr, host: H) {
        let index = self.hosts.len();
        assert!(
            self.routes.insert(addr, index).is_none(),
            "address {addr} already taken"
        );
        self.hosts.push(Slot { addr, host });
    }

    /// Routes datagrams for `extra` to the host at `existing` too (a second
    /// interface, or the new address after a migration).
    pub fn add_address(&mut self, existing: SocketAddr, extra: SocketAddr) {
        let index = self.index(existing);
        assert!(
            self.routes.insert(extra, index).is_none(),
            "address {extra} already taken"
        );
    }

    /// The host owning `addr`.
    ///
    /// # Panics
    /// If no host owns `addr`.
    pub fn host(&self, addr: SocketAddr) -> &H {
        &self.hosts[self.index(addr)].host
    }

    /// The host owning `addr`, mutably (say, to open a stream between steps).
    pub fn host_mut(&mut self, addr: SocketAddr) -> &mut H {
        let index = self.index(addr);
        &mut self.hosts[index].host
    }

    /// Every host with the address it was added at, in the order added.
    pub fn hosts(&self) -> impl Iterator<Item = (SocketAddr, &H)> + '_ {
        self.hosts.iter().map(|s| (s.addr, &s.host))
    }

    fn index(&self, addr: SocketAddr) -> usize {
        *self
            .routes
            .get(&addr)
            .unwrap_or_else(|| panic!("no host at {addr}"))
    }

    // ----- links -----

    /// The link factory for directions nobody configured (built lazily on a
    /// direction's first datagram, with that direction's own randomness).
    pub fn set_default_link(&mut self, f: impl Fn(LinkBuilder) -> LinkBuilder + 'static) {
        self.default_link = Box::new(f);
    }

    /// Configures the `src → dst` direction. Replacing a link discards what
    /// was in flight on it.
    pub fn set_link(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        f: impl FnOnce(LinkBuilder) -> LinkBuilder,
    ) {
        let link = f(LinkBuilder::new(self.link_rng(src, dst))).build();
        self.links.insert((src, dst), link);
    }

    /// Configures both directions between `a` and `b` alike (each direction
    /// still draws its own random numbers).
    pub fn set_links(
        &mut self,
        a: SocketAddr,
        b: SocketAddr,
        f: impl Fn(LinkBuilder) -> LinkBuilder,
    ) {
        self.set_link(a, b, &f);
        self.set_link(b, a, &f);
    }

    /// Installs a hand-built link for `src → dst`.
    pub fn insert_link(&mut self, src: SocketAddr, dst: SocketAddr, link: Link) {
        self.links.insert((src, dst), link);
    }

    /// The `src → dst` link, once configured or used.
    pub fn link(&self, src: SocketAddr, dst: SocketAddr) -> Option<&Link> {
        self.links.get(&(src, dst))
    }

    /// The random stream reserved for the `src → dst` link: a function of
    /// the seed and the two addresses only.
    pub fn link_rng(&self, src: SocketAddr, dst: SocketAddr) -> SimRng {
        self.rng.derive(pair_key(src, dst))
    }

    /// A random stream for anything else (seeding a host's RNG, say), named
    /// by `key`. Hosts should take their randomness from here.
    pub fn derive_rng(&self, key: u64) -> SimRng {
        self.rng.derive(key.rotate_left(32) ^ 0x686f_7374) // "host"
    }

    // ----- observation -----

    /// Calls `f` on every datagram sent, delivered or unroutable, after the
    /// traffic counters include it. An `Err` stops the drive with
    /// [`SimError::Invariant`].
    pub fn observe(&mut self, f: impl FnMut(&Event<'_>, &Traffic) -> Result<(), String> + 'static) {
        self.observers.push(Box::new(f));
    }

    /// Starts recording every event in [`log`](Self::log).
    pub fn record_log(&mut self) {
        self.log.get_or_insert_with(Vec::new);
    }

    /// The events recorded since [`record_log`](Self::record_log).
    pub fn log(&self) -> &[LogEntry] {
        self.log.as_deref().unwrap_or_default()
    }

    /// A hash of every delivery so far (time, addresses, ECN, payload bytes):
    /// equal digests mean byte-identical delivery sequences.
    pub fn delivery_digest(&self) -> u64 {
        self.digest.finish()
    }

    /// Per-direction counters.
    pub fn traffic(&self) -> &Traffic {
        &self.traffic
    }

    /// The seed everything derives from.
    pub fn seed(&self) -> u64 {
        self.rng.seed()
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The instant the clock started at.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Caps the total number of steps; past it every drive fails with
    /// [`SimError::StepLimit`].
    pub fn set_step_limit(&mut self, limit: u64) {
        self.step_limit = limit;
    }

    // ----- driving -----

    /// Sends `datagram` into its link at the current time as if a host had
    /// (for spoofed or hand-crafted packets).
    pub fn inject(&mut self, datagram: Datagram) -> Result<(), SimError> {
        self.dispatch(datagram)
    }

    /// Handles everything due now, then moves the clock to the next event
    /// (earliest host timeout or link delivery) and handles everything due
    /// there.
    pub fn step(&mut self) -> Result<Progress, SimError> {
        self.settle()?;
        let Some(next) = self.next_event() else {
            return Ok(Progress::Idle);
        };
        self.advance(next)?;
        self.settle()?;
        Ok(Progress::Advanced(self.now))
    }

    /// Runs until `done` holds (checked whenever an instant is fully
    /// handled), failing if nothing is left to happen or `max` of virtual
    /// time passes first.
    pub fn drive_until(
        &mut self,
        mut done: impl FnMut(&Self) -> bool,
        max: Duration,
    ) -> Result<(), SimError> {
        let deadline = self.now + max;
        loop {
            self.settle()?;
            if done(self) {
                return Ok(());
            }
            match self.next_event() {
                None => return Err(SimError::Stalled { at: self.elapsed() }),
                Some(t) if t > deadline => {
                    self.now = deadline;
                    return Err(SimError::TimedOut { at: self.elapsed() });
                }
                Some(t) => self.advance(t)?,
            }
        }
    }

    /// Runs until nothing is left to happen, failing if that takes more than
    /// `max` of virtual time.
    pub fn drive_idle(&mut self, max: Duration) -> Result<(), SimError> {
        let deadline = self.now + max;
        loop {
            self.settle()?;
            match self.next_event() {
                None => return Ok(()),
                Some(t) if t > deadline => {
                    self.now = deadline;
                    return Err(SimError::TimedOut { at: self.elapsed() });
                }
                Some(t) => self.advance(t)?,
            }
        }
    }

    /// Runs every event up to and including `now + duration`, then leaves the
    /// clock there.
    pub fn run_for(&mut self, duration: Duration) -> Result<(), SimError> {
        let deadline = self.now + duration;
        loop {
            self.settle()?;
            match self.next_event() {
                Some(t) if t <= deadline => self.advance(t)?,
                _ => {
                    self.now = deadline;
                    return Ok(());
                }
            }
        }
    }

    /// The earliest future event: a link delivery or a host deadline.
    fn next_event(&mut self) -> Option<Instant> {
        let links = self.links.values().filter_map(Link::next_wakeup);
        let links = links.min();
        let hosts = self
            .hosts
            .iter_mut()
            .filter_map(|s| s.host.poll_timeout())
            .min();
        links.into_iter().chain(hosts).min()
    }

    fn advance(&mut self, to: Instant) -> Result<(), SimError> {
        self.charge()?;
        self.now = self.now.max(to);
        Ok(())
    }

    /// Counts one step against the cap.
    fn charge(&mut self) -> Result<(), SimError> {
        self.steps += 1;
        if self.steps > self.step_limit {
            return Err(SimError::StepLimit {
                steps: self.step_limit,
                at: self.elapsed(),
            });
        }
        Ok(())
    }

    /// Handles everything due at `now` until nothing more happens: hosts'
    /// transmits first, then link deliveries, then due host timeouts, again.
    fn settle(&mut self) -> Result<(), SimError> {
        loop {
            let sent = self.drain_transmits()?;
            let delivered = self.deliver_due()?;
            let fired = self.fire_timeouts()?;
            if !(sent || delivered || fired) {
                return Ok(());
            }
        }
    }

    fn drain_transmits(&mut self) -> Result<bool, SimError> {
        let mut any = false;
        for i in 0..self.hosts.len() {
            while let Some(datagram) = self.hosts[i].host.poll_transmit(self.now) {
                self.charge()?;
                self.dispatch(datagram)?;
                any = true;
            }
        }
        Ok(any)
    }

    fn dispatch(&mut self, datagram: Datagram) -> Result<(), SimError> {
        self.traffic.record_sent(&datagram);
        self.notify(EventKind::Sent, &datagram)?;
        let key = (datagram.src, datagram.dst);
        if !self.links.contains_key(&key) {
            let link = (self.default_link)(LinkBuilder::new(self.link_rng(key.0, key.1))).build();
            self.links.insert(key, link);
        }
        if let Some(link) = self.links.get_mut(&key) {
            link.send(self.now, datagram);
        }
        Ok(())
    }

    /// Delivers what the links release now, in link (address) order.
    fn deliver_due(&mut self) -> Result<bool, SimError> {
        let mut due = Vec::new();
        for link in self.links.values_mut() {
            while let Some(datagram) = link.poll(self.now) {
                due.push(datagram);
            }
        }
        let any = !due.is_empty();
        for datagram in due {
            self.charge()?;
            self.deliver(datagram)?;
        }
        Ok(any)
    }

    fn deliver(&mut self, datagram: Datagram) -> Result<(), SimError> {
        self.traffic.record_delivered(&datagram);
        let Some(&index) = self.routes.get(&datagram.dst) else {
            return self.notify(EventKind::Unroutable, &datagram);
        };
        let at = self.elapsed();
        hash_delivery(&mut self.digest, at, &datagram);
        self.notify(EventKind::Delivered, &datagram)?;
        self.hosts[index].host.receive(self.now, datagram);
        Ok(())
    }

    fn fire_timeouts(&mut self) -> Result<bool, SimError> {
        let mut any = false;
        for i in 0..self.hosts.len() {
            let due = self.hosts[i]
                .host
                .poll_timeout()
                .is_some_and(|t| t <= self.now);
            if due {
                self.charge()?;
                self.hosts[i].host.handle_timeout(self.now);
                any = true;
            }
        }
        Ok(any)
    }

    fn notify(&mut self, kind: EventKind, datagram: &Datagram) -> Result<(), SimError> {
        let at = self.now - self.start;
        if let Some(log) = &mut self.log {
            let (src, dst, ecn, len) = (datagram.src, datagram.dst, datagram.ecn, datagram.len());
            log.push(LogEntry {
                at,
                kind,
                src,
                dst,
                ecn,
                len,
            });
        }
        let event = Event {
            kind,
            now: self.now,
            datagram,
        };
        for observer in &mut self.observers {
            observer(&event, &self.traffic)
                .map_err(|message| SimError::Invariant { at, message })?;
        }
        Ok(())
    }
}
