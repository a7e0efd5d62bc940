use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

const MDS: u64 = 1200;
const CWND: u64 = 12_000;
const RTT: Duration = Duration::from_millis(100);
/// 1200 bytes at 1.25 * 12000 B / 100 ms = 150,000 B/s take 8 ms.
const INTERVAL: Duration = Duration::from_millis(8);

/// An arbitrary origin for the virtual clock; tests only use offsets from it.
#[allow(clippy::disallowed_methods)] // test-only origin, never compared with real time
fn origin() -> Instant {
    Instant::now()
}

/// Sends full datagrams at `now` for as long as the pacer allows; returns how
/// many.
fn burst(pacer: &mut Pacer, now: Instant, cwnd: u64, rtt: Duration) -> u64 {
    let mut sent = 0;
    while pacer.delay(now, MDS, cwnd, rtt, MDS).is_none() {
        pacer.on_sent(MDS);
        sent += 1;
        assert!(sent <= 1000, "pacer never blocks");
    }
    sent
}

/// RFC 9002 §7.7: the first burst is limited to the initial window, then
/// datagrams leave one interval apart.
#[test]
fn bursts_up_to_capacity_then_waits() {
    let t0 = origin();
    let mut pacer = Pacer::new();
    assert_eq!(pacer.capacity(CWND, MDS), 12_000);
    assert_eq!(burst(&mut pacer, t0, CWND, RTT), 10);
    assert_eq!(pacer.delay(t0, MDS, CWND, RTT, MDS), Some(t0 + INTERVAL));

    // One datagram per interval from then on.
    for i in 1..=5u32 {
        let at = t0 + INTERVAL * i;
        assert_eq!(burst(&mut pacer, at, CWND, RTT), 1, "interval {i}");
        assert_eq!(pacer.delay(at, MDS, CWND, RTT, MDS), Some(at + INTERVAL));
    }
}

/// The returned instant is exact: one nanosecond earlier is still too early.
#[test]
fn returned_instant_is_exact() {
    let t0 = origin();
    let mut pacer = Pacer::new();
    burst(&mut pacer, t0, CWND, RTT);
    // A rate that does not divide evenly: 1.25 * 12000 B / 70 ms.
    let rtt = Duration::from_millis(70);
    let at = pacer
        .delay(t0, MDS, CWND, rtt, MDS)
        .expect("bucket is empty");
    // 1200 * 4 * 70 ms / (5 * 12000) = 5.6 ms
    assert_eq!(at, t0 + Duration::from_micros(5600));
    let mut early = pacer.clone();
    assert_eq!(
        early.delay(at - Duration::from_nanos(1), MDS, CWND, rtt, MDS),
        Some(at)
    );
    assert_eq!(pacer.delay(at, MDS, CWND, rtt, MDS), None);

    // 1.25 * 12000 B / 1 s: 1 byte takes 66,666.67 ns; 1200 bytes 80 ms.
    let rtt = Duration::from_secs(1);
    pacer.on_sent(MDS);
    let at2 = pacer.delay(at, 7, CWND, rtt, MDS).expect("bucket is empty");
    assert_eq!(at2, at + Duration::from_nanos(466_667));
    let mut early = pacer.clone();
    assert!(
        early
            .delay(at2 - Duration::from_nanos(1), 7, CWND, rtt, MDS)
            .is_some()
    );
    assert_eq!(pacer.delay(at2, 7, CWND, rtt, MDS), None);
}

/// Polling often loses no fraction of a byte: after polling every 7 µs the
/// datagram is still released exactly one interval later.
#[test]
fn frequent_polling_loses_nothing() {
    let t0 = origin();
    let mut pacer = Pacer::new();
    burst(&mut pacer, t0, CWND, RTT);
    let step = Duration::from_micros(7);
    let mut now = t0;
    while now + step < t0 + INTERVAL {
        now += step;
        assert_eq!(pacer.delay(now, MDS, CWND, RTT, MDS), Some(t0 + INTERVAL));
    }
    assert_eq!(pacer.delay(t0 + INTERVAL, MDS, CWND, RTT, MDS), None);
}

/// RFC 9002 §7.7: the rate is N * cwnd / smoothed_rtt, so the interval
/// follows changes of the window and the RTT.
#[test]
fn rate_follows_window_and_rtt() {
    let t0 = origin();
    let wait = |cwnd: u64, rtt: Duration| {
        let mut pacer = Pacer::new();
        while pacer.delay(t0, MDS, cwnd, rtt, MDS).is_none() {
            pacer.on_sent(MDS);
        }
        pacer
            .delay(t0, MDS, cwnd, rtt, MDS)
            .expect("bucket is empty")
            - t0
    };
    assert_eq!(wait(CWND, RTT), INTERVAL);
    assert_eq!(wait(2 * CWND, RTT), INTERVAL / 2);
    assert_eq!(wait(CWND, 2 * RTT), INTERVAL * 2);
    assert_eq!(wait(4 * CWND, RTT / 2), INTERVAL / 8);

    // A change mid-way applies from the next refill on.
    let mut pacer = Pacer::new();
    burst(&mut pacer, t0, CWND, RTT);
    assert_eq!(pacer.delay(t0, MDS, CWND, RTT, MDS), Some(t0 + INTERVAL));
    assert_eq!(
        pacer.delay(t0, MDS, 2 * CWND, RTT, MDS),
        Some(t0 + INTERVAL / 2)
    );
}

/// Over a long run the pacer sends 1.25 windows per RTT.
#[test]
fn long_run_rate() {
    let t0 = origin();
    let mut pacer = Pacer::new();
    let mut now = t0;
    let mut sent = 0u64;
    let end = t0 + RTT * 10;
    while now <= end {
        sent += burst(&mut pacer, now, CWND, RTT) * MDS;
        now = pacer
            .delay(now, MDS, CWND, RTT, MDS)
            .expect("bucket is empty");
    }
    // 10 RTTs at 1.25 * 12000 per RTT, plus the initial full bucket.
    assert_eq!(sent, 10 * 15_000 + 12_000);
}

/// The capacity: the initial window at first, up to 64 KiB once the window is
/// larger (one GSO batch), never more than the window, and at least one
/// datagram.
#[test]
fn capacity_choice() {
    let pacer = Pacer::new();
    assert_eq!(pacer.capacity(12_000, 1200), 12_000);
    assert_eq!(pacer.capacity(30_000, 1200), 30_000);
    assert_eq!(pacer.capacity(1 << 20, 1200), 65_536);
    assert_eq!(pacer.capacity(2400, 1200), 2400);
    assert_eq!(pacer.capacity(500, 1200), 1200);
    assert_eq!(pacer.capacity(1 << 20, 9000), 65_536);

    let strict = Pacer::with_max_burst(0);
    assert_eq!(strict.capacity(1 << 20, 1200), 12_000);
    assert_eq!(strict.capacity(1 << 20, 1472), 14_720);
}

/// A whole 64 KiB GSO batch leaves at once when the window allows it, and
/// `budget` tells how large a batch may be.
#[test]
fn releases_gso_batch() {
    let t0 = origin();
    let mut pacer = Pacer::new();
    let cwnd = 1 << 20;
    let rtt = Duration::from_millis(10);
    assert_eq!(pacer.budget(t0, cwnd, rtt, MDS), 65_536);
    let batch = 54 * MDS; // 64,800 bytes
    assert_eq!(pacer.delay(t0, batch, cwnd, rtt, MDS), None);
    pacer.on_sent(batch);
    assert_eq!(pacer.budget(t0, cwnd, rtt, MDS), 65_536 - batch);
    // The next batch waits for 64,800 - 736 bytes at 1.25 * 2^20 B / 10 ms.
    let at = pacer
        .delay(t0, batch, cwnd, rtt, MDS)
        .expect("bucket is low");
    let units = u128::from(batch - 736) * 4 * 10_000_000;
    let nanos = units.div_ceil(5 * (1 << 20));
    assert_eq!(at - t0, Duration::from_nanos(nanos as u64));
    assert_eq!(pacer.budget(at, cwnd, rtt, MDS), batch);
}

/// A request larger than the capacity waits for a full bucket, then empties
/// it.
#[test]
fn oversized_request_waits_for_full_bucket() {
    let t0 = origin();
    let mut pacer = Pacer::new();
    assert_eq!(pacer.budget(t0, CWND, RTT, MDS), 12_000);
    pacer.on_sent(MDS);
    // Needs the full 12,000: 1200 bytes missing.
    assert_eq!(pacer.delay(t0, 50_000, CWND, RTT, MDS), Some(t0 + INTERVAL));
    assert_eq!(pacer.delay(t0 + INTERVAL, 50_000, CWND, RTT, MDS), None);
    pacer.on_sent(50_000);
    assert_eq!(pacer.budget(t0 + INTERVAL, CWND, RTT, MDS), 0);
}

/// A zero RTT or window disables pacing rather than dividing by zero.
#[test]
fn zero_rtt_or_window_never_delays() {
    let t0 = origin();
    let mut pacer = Pacer::new();
    for _ in 0..100 {
        assert_eq!(pacer.delay(t0, MDS, CWND, Duration::ZERO, MDS), None);
        pacer.on_sent(MDS);
    }
    for _ in 0..100 {
        assert_eq!(pacer.delay(t0, MDS, 0, RTT, MDS), None);
        pacer.on_sent(MDS);
    }
}

/// Huge gaps of time fill the bucket without overflow; a `now` in the past
/// adds nothing; extreme rates saturate.
#[test]
fn extreme_times_and_rates() {
    let t0 = origin();
    let mut pacer = Pacer::new();
    burst(&mut pacer, t0, u64::MAX, Duration::MAX);
    let later = t0
        .checked_add(Duration::from_secs(1 << 40))
        .expect("representable");
    assert_eq!(
        pacer.budget(later, u64::MAX, Duration::from_nanos(1), MDS),
        65_536
    );
    assert_eq!(pacer.budget(later, u64::MAX, Duration::MAX, MDS), 65_536);
    pacer.on_sent(65_536);
    assert_eq!(pacer.budget(t0, CWND, RTT, MDS), 0);
    assert_eq!(pacer.delay(t0, MDS, CWND, RTT, MDS), Some(later + INTERVAL));
    // A wait too long to represent gives way rather than panicking.
    assert_eq!(pacer.delay(later, MDS, 1, Duration::MAX, MDS), None);
}

proptest! {
    /// Whatever the inputs: a returned instant is after `now`, one nanosecond
    /// before it the datagram is still held back, and at it the datagram may
    /// go; the bucket never holds more than its capacity.
    #[test]
    fn returned_instants_are_exact(
        steps in proptest::collection::vec(
            (0u64..20_000_000, 1u64..70_000, 1u64..2_000_000, 1u64..1_000_000_000),
            1..40,
        ),
    ) {
        let t0 = origin();
        let mut now = t0;
        let mut pacer = Pacer::new();
        for (advance, bytes, cwnd, rtt) in steps {
            now += Duration::from_nanos(advance);
            let rtt = Duration::from_nanos(rtt);
            let budget = pacer.budget(now, cwnd, rtt, MDS);
            prop_assert!(budget <= pacer.capacity(cwnd, MDS));
            match pacer.delay(now, bytes, cwnd, rtt, MDS) {
                None => pacer.on_sent(bytes),
                Some(at) => {
                    prop_assert!(at > now);
                    let mut early = pacer.clone();
                    prop_assert_eq!(
                        early.delay(at - Duration::from_nanos(1), bytes, cwnd, rtt, MDS),
                        Some(at)
                    );
                    prop_assert_eq!(pacer.delay(at, bytes, cwnd, rtt, MDS), None);
                    now = at;
                    pacer.on_sent(bytes);
                }
            }
        }
    }
}
