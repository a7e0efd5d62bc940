//! A `Recovery<u64>` (the info is the packet number) on a virtual clock,
//! with a controller that records what it is told.

use super::*;

pub(crate) fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

pub(crate) fn us(micros: u64) -> Duration {
    Duration::from_micros(micros)
}

#[allow(clippy::disallowed_methods)] // test-only origin, never compared with real time
fn origin() -> Instant {
    Instant::now()
}

/// An ACK frame for `ranges` (largest first), decoded from its encoding as a
/// received one would be.
pub(crate) fn ack_frame(ranges: &[RangeInclusive<u64>], ecn: Option<EcnCounts>) -> Ack {
    let mut buf = Vec::new();
    AckEncoder::new(ranges.iter().cloned(), 0, ecn)
        .expect("valid ranges")
        .encode(&mut buf);
    match Iter::new(Bytes::from(buf)).next() {
        Some(Ok(Frame::Ack(ack))) => ack,
        other => panic!("not an ACK frame: {other:?}"),
    }
}

/// What the sink was told, in order.
#[derive(Debug, Default)]
pub(crate) struct Log {
    pub(crate) acked: Vec<(SpaceId, u64)>,
    pub(crate) lost: Vec<(SpaceId, u64)>,
    pub(crate) discarded: Vec<(SpaceId, u64)>,
}

impl Log {
    /// How many events of each kind: (acked, lost, discarded).
    pub(crate) fn events(&self) -> (usize, usize, usize) {
        (self.acked.len(), self.lost.len(), self.discarded.len())
    }
}

impl AckSink<u64> for Log {
    fn on_acked(&mut self, space: SpaceId, pn: u64, info: u64) {
        assert_eq!(info, pn);
        self.acked.push((space, pn));
    }

    fn on_lost(&mut self, space: SpaceId, pn: u64, info: u64) {
        assert_eq!(info, pn);
        self.lost.push((space, pn));
    }

    fn on_discarded(&mut self, space: SpaceId, pn: u64, info: u64) {
        assert_eq!(info, pn);
        self.discarded.push((space, pn));
    }
}

/// What the controller was told.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Events {
    /// In-flight packets sent.
    pub(crate) sent: u64,
    /// Loss congestion events: (sent_time, persistent, lost_bytes).
    pub(crate) congestion: Vec<(Instant, bool, u64)>,
    /// ECN-CE congestion events: sent_time.
    pub(crate) ecn: Vec<Instant>,
}

/// NewReno, recording the calls it gets.
#[derive(Debug, Clone)]
struct Recorder {
    inner: NewReno,
    events: Arc<Mutex<Events>>,
}

impl Controller for Recorder {
    fn on_packet_sent(&mut self, now: Instant, bytes: u64) {
        self.events.lock().unwrap().sent += 1;
        self.inner.on_packet_sent(now, bytes);
    }

    fn on_packet_acked(
        &mut self,
        now: Instant,
        sent_time: Instant,
        bytes: u64,
        app_limited: bool,
        rtt: &RttEstimator,
    ) {
        self.inner
            .on_packet_acked(now, sent_time, bytes, app_limited, rtt);
    }

    fn on_congestion_event(
        &mut self,
        now: Instant,
        sent_time: Instant,
        is_persistent_congestion: bool,
        lost_bytes: u64,
    ) {
        self.events.lock().unwrap().congestion.push((
            sent_time,
            is_persistent_congestion,
            lost_bytes,
        ));
        self.inner
            .on_congestion_event(now, sent_time, is_persistent_congestion, lost_bytes);
    }

    fn on_ecn_ce(&mut self, now: Instant, sent_time: Instant) {
        self.events.lock().unwrap().ecn.push(sent_time);
        self.inner.on_ecn_ce(now, sent_time);
    }

    fn on_persistent_congestion(&mut self, now: Instant) {
        self.inner.on_persistent_congestion(now);
    }

    fn on_mtu_update(&mut self, max_datagram_size: u64) {
        self.inner.on_mtu_update(max_datagram_size);
    }

    fn window(&self) -> u64 {
        self.inner.window()
    }

    fn initial_window(&self) -> u64 {
        self.inner.initial_window()
    }

    fn minimum_window(&self) -> u64 {
        self.inner.minimum_window()
    }

    fn in_recovery(&self, sent_time: Instant) -> bool {
        self.inner.in_recovery(sent_time)
    }

    fn clone_box(&self) -> Box<dyn Controller> {
        Box::new(self.clone())
    }
}

/// Loss recovery under test, its sink, and a virtual clock. The initial RTT
/// is 100 ms (PTO base 300 ms), the peer's max_ack_delay 25 ms, the
/// handshake confirmed, the window 12,000 bytes (NewReno, 1200-byte
/// datagrams).
pub(crate) struct Harness {
    pub(crate) r: Recovery<u64>,
    pub(crate) log: Log,
    pub(crate) start: Instant,
    pub(crate) now: Instant,
    pub(crate) ctx: RecoveryContext,
    events: Arc<Mutex<Events>>,
}

impl Harness {
    pub(crate) fn new(side: Side) -> Self {
        let events = Arc::new(Mutex::new(Events::default()));
        let controller = Recorder {
            inner: NewReno::new(NewRenoConfig::default(), 1200),
            events: events.clone(),
        };
        let start = origin();
        Self {
            r: Recovery::new(side, RttEstimator::new(ms(100)), Box::new(controller)),
            log: Log::default(),
            start,
            now: start,
            ctx: RecoveryContext {
                handshake_confirmed: true,
                has_handshake_keys: true,
                at_anti_amplification_limit: false,
                max_ack_delay: ms(25),
            },
            events,
        }
    }

    pub(crate) fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// Sends a 1200-byte ack-eliciting packet now.
    pub(crate) fn send(&mut self, space: SpaceId, pn: u64) {
        self.send_packet(space, pn, 1200, true, true);
    }

    pub(crate) fn send_packet(
        &mut self,
        space: SpaceId,
        pn: u64,
        size: u16,
        ack_eliciting: bool,
        in_flight: bool,
    ) {
        let packet = SentPacket {
            time_sent: self.now,
            size,
            ack_eliciting,
            in_flight,
            info: pn,
        };
        self.r.on_packet_sent(space, pn, packet);
    }

    /// Receives an ACK of `ranges` (largest first) without delay or ECN.
    pub(crate) fn ack(
        &mut self,
        space: SpaceId,
        ranges: &[RangeInclusive<u64>],
    ) -> Result<AckSummary, TransportError> {
        self.ack_with(space, ranges, Duration::ZERO, None)
    }

    pub(crate) fn ack_with(
        &mut self,
        space: SpaceId,
        ranges: &[RangeInclusive<u64>],
        ack_delay: Duration,
        ecn: Option<EcnCounts>,
    ) -> Result<AckSummary, TransportError> {
        let ack = ack_frame(ranges, ecn);
        self.r
            .on_ack_received(self.now, space, &ack, ack_delay, &self.ctx, &mut self.log)
    }

    pub(crate) fn timeout(&mut self) -> TimeoutOutcome {
        self.r
            .on_loss_detection_timeout(self.now, &self.ctx, &mut self.log)
    }

    pub(crate) fn pto(&self) -> Option<(Instant, SpaceId)> {
        self.r.get_pto_time_and_space(&self.ctx)
    }

    pub(crate) fn events(&self) -> Events {
        self.events.lock().unwrap().clone()
    }
}

/// The sequence of RFC 9002 §7.6.3 (1 unit = 1 s) up to the sending of packet
/// 9, after an earlier 400 ms RTT sample, with max_ack_delay 187.5 ms.
/// Returns the harness and the example's clock (milliseconds from t = 0).
pub(crate) fn persistent_congestion_setup() -> (Harness, impl Fn(u64) -> Instant) {
    let mut h = Harness::new(Side::Client);
    h.ctx.max_ack_delay = us(187_500);
    let t0 = h.start + ms(1000);
    let t = move |millis: u64| t0 + ms(millis);
    h.now = t0 - ms(600);
    h.send(SpaceId::Data, 0);
    h.now = t0 - ms(200);
    h.ack(SpaceId::Data, &[0..=0]).unwrap();
    h.now = t(0);
    h.send(SpaceId::Data, 1);
    h.now = t(1000);
    h.send(SpaceId::Data, 2);
    h.now = t(1200);
    h.ack(SpaceId::Data, &[1..=1]).unwrap();
    let sends = [
        (3, 2000),
        (4, 3000),
        (5, 4000),
        (6, 5000),
        (7, 6000),
        (8, 8000),
        (9, 12_000),
    ];
    for (pn, at) in sends {
        h.now = t(at);
        h.send(SpaceId::Data, pn);
    }
    (h, t)
}
