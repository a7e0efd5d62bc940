use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;
use crate::connection::congestion::ControllerFactory;

const MDS: u64 = 1200;
const RTT: Duration = Duration::from_millis(100);

/// An arbitrary origin for the virtual clock; tests only use offsets from it.
#[allow(clippy::disallowed_methods)] // test-only origin, never compared with real time
fn origin() -> Instant {
    Instant::now()
}

/// A sender with an unlimited supply of data on a loss-free path: each round
/// sends one window of full-sized packets and gets all of them acknowledged
/// one RTT later.
struct Sim {
    cc: NewReno,
    now: Instant,
    rtt: RttEstimator,
}

impl Sim {
    fn new(config: NewRenoConfig) -> Self {
        Self {
            cc: NewReno::new(config, MDS),
            now: origin(),
            rtt: RttEstimator::new(RTT),
        }
    }

    /// Sends a window of packets now, then acknowledges all of them one RTT
    /// later. Returns the number of bytes acknowledged.
    fn round(&mut self, app_limited: bool) -> u64 {
        let sent_time = self.now;
        let packets = self.cc.window() / MDS;
        for _ in 0..packets {
            self.cc.on_packet_sent(sent_time, MDS);
        }
        self.now += RTT;
        for _ in 0..packets {
            self.cc
                .on_packet_acked(self.now, sent_time, MDS, app_limited, &self.rtt);
        }
        self.cc.on_end_acks(self.now, 0, app_limited);
        packets * MDS
    }

    fn ack(&mut self, sent_time: Instant, bytes: u64) {
        self.cc
            .on_packet_acked(self.now, sent_time, bytes, false, &self.rtt);
    }
}

/// RFC 9002 §7.2: the initial window is min(10 * mds, max(14720, 2 * mds)),
/// the minimum window 2 * mds.
#[test]
fn initial_and_minimum_window_formulas() {
    assert_eq!(initial_window(1200), 12_000);
    assert_eq!(initial_window(1472), 14_720);
    assert_eq!(initial_window(1500), 14_720);
    assert_eq!(initial_window(9000), 18_000);
    assert_eq!(minimum_window(1200), 2400);
    assert_eq!(minimum_window(1500), 3000);

    let cc = NewReno::new(NewRenoConfig::default(), MDS);
    assert_eq!(cc.window(), 12_000);
    assert_eq!(cc.initial_window(), 12_000);
    assert_eq!(cc.minimum_window(), 2400);
    // Appendix B.3: slow start with an infinite threshold.
    assert_eq!(cc.ssthresh(), None);
    assert!(cc.in_slow_start());
}

/// RFC 9000 §14: no path has a maximum datagram size below 1200 bytes.
#[test]
fn datagram_size_floor() {
    let cc = NewReno::new(NewRenoConfig::default(), 500);
    assert_eq!(cc.max_datagram_size(), 1200);
    assert_eq!(cc.window(), 12_000);
}

/// `NewRenoConfig::with_initial_window` overrides §7.2, but not below the
/// minimum window.
#[test]
fn initial_window_override() {
    let big = NewReno::new(NewRenoConfig::default().with_initial_window(100_000), MDS);
    assert_eq!(big.window(), 100_000);
    assert_eq!(big.initial_window(), 100_000);
    let tiny = NewReno::new(NewRenoConfig::default().with_initial_window(10), MDS);
    assert_eq!(tiny.window(), 2400);
}

/// RFC 9002 §7.3.1: in slow start the window grows by the bytes acknowledged,
/// doubling every round trip.
#[test]
fn slow_start_doubles_per_rtt() {
    let mut sim = Sim::new(NewRenoConfig::default());
    let mut expected = 12_000;
    for _ in 0..5 {
        assert_eq!(sim.cc.window(), expected);
        let acked = sim.round(false);
        assert_eq!(acked, expected);
        expected *= 2;
    }
    assert_eq!(sim.cc.window(), 12_000 << 5);
    assert!(sim.cc.in_slow_start());
}

/// RFC 9002 §7.3.2: a loss halves the window and sets ssthresh to the half.
#[test]
fn loss_halves_window() {
    let mut sim = Sim::new(NewRenoConfig::default());
    sim.round(false);
    assert_eq!(sim.cc.window(), 24_000);
    let lost_sent_time = sim.now;
    sim.now += RTT;
    sim.cc
        .on_congestion_event(sim.now, lost_sent_time, false, MDS);
    assert_eq!(sim.cc.window(), 12_000);
    assert_eq!(sim.cc.ssthresh(), Some(12_000));
    assert!(!sim.cc.in_slow_start());
    assert!(sim.cc.in_recovery(lost_sent_time));
    assert!(sim.cc.in_recovery(sim.now));
    assert!(!sim.cc.in_recovery(sim.now + Duration::from_nanos(1)));
}

/// RFC 9002 §7.2: a reduction never goes below the minimum window.
#[test]
fn loss_respects_minimum_window() {
    let mut cc = NewReno::new(NewRenoConfig::default().with_initial_window(3000), MDS);
    let t0 = origin();
    cc.on_congestion_event(t0 + RTT, t0, false, MDS);
    assert_eq!(cc.ssthresh(), Some(1500));
    assert_eq!(cc.window(), 2400);
}

/// RFC 9002 §7.3.2: the window is reduced once per recovery period. Losses of
/// packets sent before the period started do not reduce it again; a loss of a
/// packet sent after it does.
#[test]
fn one_reduction_per_recovery_period() {
    let mut sim = Sim::new(NewRenoConfig::default());
    sim.round(false);
    sim.round(false);
    assert_eq!(sim.cc.window(), 48_000);
    let early = sim.now;
    let late = sim.now + Duration::from_millis(10);
    sim.now += Duration::from_millis(50);
    let recovery_start = sim.now;
    sim.cc
        .on_congestion_event(recovery_start, early, false, MDS);
    assert_eq!(sim.cc.window(), 24_000);

    // More losses of packets sent before the recovery started.
    sim.now += Duration::from_millis(5);
    sim.cc.on_congestion_event(sim.now, late, false, MDS);
    sim.cc
        .on_congestion_event(sim.now, recovery_start, false, MDS);
    sim.cc.on_ecn_ce(sim.now, late);
    assert_eq!(sim.cc.window(), 24_000);
    assert_eq!(sim.cc.ssthresh(), Some(24_000));

    // A packet sent after the recovery started is lost: a new period.
    let after = recovery_start + Duration::from_millis(1);
    sim.now += RTT;
    sim.cc.on_congestion_event(sim.now, after, false, MDS);
    assert_eq!(sim.cc.window(), 12_000);
}

/// RFC 9002 §7.3.2: acknowledgments of packets sent before the recovery
/// period do not grow the window; the first acknowledgment of a packet sent
/// during it ends the period, and congestion avoidance begins.
#[test]
fn recovery_ends_on_ack_of_packet_sent_during_it() {
    let mut sim = Sim::new(NewRenoConfig::default());
    let before = sim.now;
    sim.now += RTT;
    sim.cc.on_congestion_event(sim.now, before, false, MDS);
    assert_eq!(sim.cc.window(), 6000);
    let recovery_start = sim.now;

    sim.now += Duration::from_millis(10);
    for _ in 0..10 {
        sim.ack(before, 6000);
    }
    assert_eq!(sim.cc.window(), 6000);

    let during = recovery_start + Duration::from_millis(1);
    sim.now += RTT;
    sim.ack(during, 6000);
    assert!(!sim.cc.in_recovery(during));
    // Congestion avoidance: 6000 bytes acked for a 6000-byte window: + 1 MDS.
    assert_eq!(sim.cc.window(), 7200);
}

/// RFC 9002 §7.3.3 and Appendix B.5: in congestion avoidance the window grows
/// by one maximum datagram size per window acknowledged, and not before a
/// whole window is acknowledged.
#[test]
fn congestion_avoidance_adds_one_datagram_per_window() {
    let mut sim = Sim::new(NewRenoConfig::default());
    sim.round(false);
    let before = sim.now;
    sim.now += Duration::from_millis(1);
    sim.cc.on_congestion_event(sim.now, before, false, MDS);
    assert_eq!(sim.cc.window(), 12_000);
    sim.now += Duration::from_millis(1);

    // Nine packets of a ten-packet window: no growth yet.
    let sent_time = sim.now;
    sim.now += RTT;
    for _ in 0..9 {
        sim.ack(sent_time, MDS);
    }
    assert_eq!(sim.cc.window(), 12_000);
    // The tenth completes the window.
    sim.ack(sent_time, MDS);
    assert_eq!(sim.cc.window(), 13_200);

    // Then one datagram per round trip of full windows.
    for round in 1..=20u64 {
        let before = sim.cc.window();
        sim.round(false);
        assert_eq!(sim.cc.window(), before + MDS, "round {round}");
    }
    assert!(!sim.cc.in_slow_start());
}

/// Appendix B.5 with RFC 3465 counting: bytes beyond a full window carry over
/// to the next increase.
#[test]
fn congestion_avoidance_carries_over_bytes() {
    let mut sim = Sim::new(NewRenoConfig::default());
    let before = sim.now;
    sim.now += Duration::from_millis(1);
    sim.cc.on_congestion_event(sim.now, before, false, MDS);
    let sent_time = sim.now + Duration::from_millis(1);
    sim.now += RTT;
    // window 6000: ack 8000 = one window + 2000 carried.
    sim.ack(sent_time, 8000);
    assert_eq!(sim.cc.window(), 7200);
    // 2000 + 5200 = 7200: exactly one more window.
    sim.ack(sent_time, 5199);
    assert_eq!(sim.cc.window(), 7200);
    sim.ack(sent_time, 1);
    assert_eq!(sim.cc.window(), 8400);
}

/// RFC 9002 §7.6.2 and Appendix B.8: persistent congestion drops the window to
/// the minimum window and ends the recovery period; the sender then slow
/// starts back up to ssthresh (§7.3.1).
#[test]
fn persistent_congestion_collapses_window() {
    let mut sim = Sim::new(NewRenoConfig::default());
    sim.round(false);
    sim.round(false);
    assert_eq!(sim.cc.window(), 48_000);
    let lost = sim.now;
    sim.now += Duration::from_secs(2);
    sim.cc.on_congestion_event(sim.now, lost, true, 10 * MDS);
    assert_eq!(sim.cc.window(), 2400);
    assert_eq!(sim.cc.ssthresh(), Some(24_000));
    assert!(!sim.cc.in_recovery(lost));
    assert!(sim.cc.in_slow_start());

    // Slow start again: acknowledged bytes grow the window one for one.
    let sent_time = sim.now;
    sim.now += RTT;
    sim.ack(sent_time, 2400);
    assert_eq!(sim.cc.window(), 4800);
}

/// The direct hook behaves like the flag on a congestion event.
#[test]
fn on_persistent_congestion_hook() {
    let mut sim = Sim::new(NewRenoConfig::default());
    sim.round(false);
    let lost = sim.now;
    sim.now += RTT;
    sim.cc.on_congestion_event(sim.now, lost, false, MDS);
    sim.cc.on_persistent_congestion(sim.now);
    assert_eq!(sim.cc.window(), 2400);
    assert!(!sim.cc.in_recovery(lost));
    // Later losses of old packets start a new recovery period again.
    sim.cc.on_congestion_event(sim.now, lost, false, MDS);
    assert_eq!(sim.cc.window(), 2400);
    assert_eq!(sim.cc.ssthresh(), Some(1200));
}

/// RFC 9002 §7.8: an application-limited sender does not grow its window, in
/// slow start or in congestion avoidance.
#[test]
fn app_limited_does_not_grow() {
    let mut sim = Sim::new(NewRenoConfig::default());
    for _ in 0..3 {
        sim.round(true);
    }
    assert_eq!(sim.cc.window(), 12_000);

    let lost = sim.now;
    sim.now += Duration::from_millis(1);
    sim.cc.on_congestion_event(sim.now, lost, false, MDS);
    sim.now += Duration::from_millis(1);
    for _ in 0..3 {
        sim.round(true);
    }
    assert_eq!(sim.cc.window(), 6000);
    sim.round(false);
    assert_eq!(sim.cc.window(), 7200);
}

/// RFC 9002 §7.1: an ECN-CE increase is a congestion event like a loss.
#[test]
fn ecn_ce_reduces_like_loss() {
    let mut cc = NewReno::new(NewRenoConfig::default(), MDS);
    let t0 = origin();
    cc.on_ecn_ce(t0 + RTT, t0);
    assert_eq!(cc.window(), 6000);
    assert!(cc.in_recovery(t0 + RTT));
}

/// RFC 9002 §7.2: the initial window is recalculated when the datagram size
/// changes; a window still at its initial value follows it, also when the size
/// shrinks; a grown window is kept but not below the new minimum.
#[test]
fn mtu_update() {
    let mut cc = NewReno::new(NewRenoConfig::default(), MDS);
    cc.on_mtu_update(1500);
    assert_eq!(cc.max_datagram_size(), 1500);
    assert_eq!(cc.initial_window(), 14_720);
    assert_eq!(cc.minimum_window(), 3000);
    assert_eq!(cc.window(), 14_720);
    cc.on_mtu_update(1200);
    assert_eq!(cc.window(), 12_000);
    cc.on_mtu_update(100);
    assert_eq!(cc.max_datagram_size(), 1200);

    let mut sim = Sim::new(NewRenoConfig::default());
    sim.round(false);
    sim.cc.on_mtu_update(1500);
    assert_eq!(sim.cc.window(), 24_000);

    // After persistent congestion at 1200 bytes, the window is 2400; with
    // 1500-byte datagrams the minimum is 3000.
    let lost = sim.now;
    sim.now += RTT;
    sim.cc.on_mtu_update(1200);
    sim.cc.on_congestion_event(sim.now, lost, true, MDS);
    assert_eq!(sim.cc.window(), 2400);
    sim.cc.on_mtu_update(1500);
    assert_eq!(sim.cc.window(), 3000);

    // Congestion avoidance grows by the new size.
    let mut ca = NewReno::new(NewRenoConfig::default(), MDS);
    let t0 = origin();
    ca.on_congestion_event(t0 + RTT, t0, false, MDS);
    ca.on_mtu_update(1500);
    assert_eq!(ca.window(), 6000);
    ca.on_packet_acked(
        t0 + 3 * RTT,
        t0 + 2 * RTT,
        6000,
        false,
        &RttEstimator::default(),
    );
    assert_eq!(ca.window(), 7500);
}

/// The factory builds a controller per path, and a boxed controller clones
/// with its state.
#[test]
fn factory_and_clone_box() {
    let factory = NewRenoConfig::default().with_initial_window(20_000);
    assert_eq!(factory.initial_window(), Some(20_000));
    let t0 = origin();
    let mut first: Box<dyn Controller> = factory.build(t0, MDS);
    assert_eq!(first.window(), 20_000);
    first.on_congestion_event(t0 + RTT, t0, false, MDS);
    let copy = first.clone();
    assert_eq!(copy.window(), 10_000);
    assert!(copy.in_recovery(t0));
    first.on_persistent_congestion(t0 + RTT);
    assert_eq!(copy.window(), 10_000);
    assert_eq!(first.window(), 2400);
    assert_eq!(factory.build(t0, MDS).window(), 20_000);
}

/// Growth saturates instead of overflowing.
#[test]
fn window_saturates() {
    let mut cc = NewReno::new(
        NewRenoConfig::default().with_initial_window(u64::MAX - 1),
        MDS,
    );
    let t0 = origin();
    cc.on_packet_acked(t0 + RTT, t0, u64::MAX, false, &RttEstimator::default());
    assert_eq!(cc.window(), u64::MAX);
}

/// One input to the controller in the property test below.
#[derive(Debug, Clone)]
enum Input {
    /// A packet sent `age_ms` before now is acknowledged.
    Ack {
        age_ms: u64,
        bytes: u64,
        app_limited: bool,
    },
    /// A packet sent `age_ms` before now is lost.
    Loss { age_ms: u64, persistent: bool },
    /// The maximum datagram size changes.
    Mtu(u64),
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        4 => (0u64..300, 1u64..20_000, any::<bool>())
            .prop_map(|(age_ms, bytes, app_limited)| Input::Ack { age_ms, bytes, app_limited }),
        1 => (0u64..300, any::<bool>())
            .prop_map(|(age_ms, persistent)| Input::Loss { age_ms, persistent }),
        1 => (0u64..10_000).prop_map(Input::Mtu),
    ]
}

proptest! {
    /// RFC 9002 §7: whatever happens, the window stays at or above the minimum
    /// window; acknowledgments never shrink it, grow it only outside recovery
    /// and when not application limited (§7.8), and by at most one datagram in
    /// congestion avoidance (§7.3.3); congestion events never grow it.
    #[test]
    fn window_rules_hold(inputs in proptest::collection::vec(input(), 1..200)) {
        let t0 = origin() + Duration::from_secs(1);
        let mut now = t0;
        let mut cc = NewReno::new(NewRenoConfig::default(), MDS);
        let rtt = RttEstimator::default();
        for input in inputs {
            now += Duration::from_millis(7);
            let before = cc.window();
            match input {
                Input::Ack { age_ms, bytes, app_limited } => {
                    let sent_time = now - Duration::from_millis(age_ms);
                    let in_recovery = cc.in_recovery(sent_time);
                    let slow_start = cc.in_slow_start();
                    cc.on_packet_acked(now, sent_time, bytes, app_limited, &rtt);
                    if app_limited || in_recovery {
                        prop_assert_eq!(cc.window(), before);
                    } else if slow_start {
                        prop_assert_eq!(cc.window(), before + bytes);
                    } else {
                        prop_assert!(cc.window() - before <= cc.max_datagram_size());
                    }
                }
                Input::Loss { age_ms, persistent } => {
                    let sent_time = now - Duration::from_millis(age_ms);
                    cc.on_congestion_event(now, sent_time, persistent, MDS);
                    prop_assert!(cc.window() <= before.max(cc.minimum_window()));
                    if persistent {
                        prop_assert_eq!(cc.window(), cc.minimum_window());
                    }
                }
                Input::Mtu(size) => cc.on_mtu_update(size),
            }
            prop_assert!(cc.window() >= cc.minimum_window());
        }
    }
}
