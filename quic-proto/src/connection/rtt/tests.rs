use std::time::Duration;

use proptest::prelude::*;

use super::*;

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

fn us(micros: u64) -> Duration {
    Duration::from_micros(micros)
}

/// An estimator that has taken one 100 ms sample: `min_rtt = smoothed_rtt =
/// 100 ms`, `rttvar = 50 ms`.
fn after_first_sample() -> RttEstimator {
    let mut rtt = RttEstimator::default();
    rtt.update(ms(50), ms(100), true, ms(25));
    rtt
}

/// RFC 9002 §5.3, §6.2.2: before any sample, `smoothed_rtt = kInitialRtt =
/// 333 ms` and `rttvar = kInitialRtt / 2`, which gives a PTO of about 1 s.
#[test]
fn initial_values() {
    let rtt = RttEstimator::default();
    assert_eq!(rtt.initial_rtt(), ms(333));
    assert_eq!(rtt.smoothed_rtt(), ms(333));
    assert_eq!(rtt.rttvar(), us(166_500));
    assert_eq!(rtt.latest_rtt(), Duration::ZERO);
    assert_eq!(rtt.min_rtt(), Duration::ZERO);
    assert!(!rtt.has_sample());
    // 333 ms + 4 * 166.5 ms
    assert_eq!(rtt.pto_base(), ms(999));
    // 9/8 * 333 ms
    assert_eq!(rtt.loss_delay(), us(374_625));
}

/// RFC 9002 §5.3: the initial RTT comes from configuration.
#[test]
fn configured_initial_rtt() {
    let rtt = RttEstimator::new(ms(100));
    assert_eq!(rtt.smoothed_rtt(), ms(100));
    assert_eq!(rtt.rttvar(), ms(50));
    assert_eq!(rtt.pto_base(), ms(300));
}

/// RFC 9002 §5.2, §5.3: the first sample sets min_rtt and smoothed_rtt to the
/// sample and rttvar to half of it; its ACK delay is not used.
#[test]
fn first_sample_resets_estimator() {
    let rtt = after_first_sample();
    assert!(rtt.has_sample());
    assert_eq!(rtt.latest_rtt(), ms(100));
    assert_eq!(rtt.min_rtt(), ms(100));
    assert_eq!(rtt.smoothed_rtt(), ms(100));
    assert_eq!(rtt.rttvar(), ms(50));
}

/// RFC 9002 §5.3 / Appendix A.7 on a hand-computed sequence.
#[test]
fn smoothing_sequence() {
    let mut rtt = after_first_sample();

    // latest 120, ack_delay 10: 120 >= 100 + 10, so adjusted = 110.
    // rttvar = 3/4 * 50 + 1/4 * |100 - 110| = 40
    // smoothed = 7/8 * 100 + 1/8 * 110 = 101.25
    rtt.update(ms(10), ms(120), true, ms(25));
    assert_eq!(rtt.latest_rtt(), ms(120));
    assert_eq!(rtt.min_rtt(), ms(100));
    assert_eq!(rtt.rttvar(), ms(40));
    assert_eq!(rtt.smoothed_rtt(), us(101_250));

    // latest 80, ack_delay 5: min_rtt = 80; 80 < 80 + 5, so adjusted = 80.
    // rttvar = 3/4 * 40 + 1/4 * |101.25 - 80| = 35.3125
    // smoothed = 7/8 * 101.25 + 1/8 * 80 = 98.59375
    rtt.update(ms(5), ms(80), true, ms(25));
    assert_eq!(rtt.min_rtt(), ms(80));
    assert_eq!(rtt.rttvar(), Duration::from_nanos(35_312_500));
    assert_eq!(rtt.smoothed_rtt(), Duration::from_nanos(98_593_750));
}

/// Appendix A.7 (and RFC 6298 §2.3): rttvar is computed with the smoothed RTT
/// from before the sample. With the new smoothed RTT it would be
/// 3/4 * 50 + 1/4 * |121.875 - 275| = 75.78125 ms instead of 81.25 ms.
#[test]
fn rttvar_uses_previous_smoothed_rtt() {
    let mut rtt = after_first_sample();
    rtt.update(ms(200), ms(300), true, ms(25));
    assert_eq!(rtt.rttvar(), us(81_250));
}

/// RFC 9002 §5.3: after handshake confirmation the ACK delay MUST be capped at
/// max_ack_delay.
#[test]
fn ack_delay_capped_after_handshake_confirmed() {
    let mut rtt = after_first_sample();
    // ack_delay 200 capped to 25: adjusted = 300 - 25 = 275.
    // rttvar = 3/4 * 50 + 1/4 * 175 = 81.25; smoothed = 87.5 + 34.375
    rtt.update(ms(200), ms(300), true, ms(25));
    assert_eq!(rtt.rttvar(), us(81_250));
    assert_eq!(rtt.smoothed_rtt(), us(121_875));
}

/// RFC 9002 §5.3: max_ack_delay is ignored until the handshake is confirmed.
#[test]
fn ack_delay_not_capped_before_handshake_confirmed() {
    let mut rtt = after_first_sample();
    // 300 >= 100 + 200: adjusted = 100, the same as smoothed_rtt.
    rtt.update(ms(200), ms(300), false, ms(25));
    assert_eq!(rtt.rttvar(), us(37_500));
    assert_eq!(rtt.smoothed_rtt(), ms(100));
    assert_eq!(rtt.latest_rtt(), ms(300));
}

/// RFC 9002 §5.3: the ACK delay MUST NOT be subtracted if the result would be
/// smaller than min_rtt; at exactly min_rtt it is subtracted.
#[test]
fn ack_delay_ignored_below_min_rtt() {
    let mut below = after_first_sample();
    below.update(ms(20), ms(110), true, ms(25));
    // adjusted = 110 (110 - 20 = 90 < 100): smoothed = 87.5 + 13.75
    assert_eq!(below.smoothed_rtt(), us(101_250));
    assert_eq!(below.rttvar(), us(40_000));

    let mut at = after_first_sample();
    at.update(ms(20), ms(120), true, ms(25));
    // adjusted = 120 - 20 = 100 = min_rtt: nothing moves but rttvar decays.
    assert_eq!(at.smoothed_rtt(), ms(100));
    assert_eq!(at.rttvar(), us(37_500));
}

/// RFC 9002 §5.2: min_rtt is the smallest sample without ACK delay adjustment.
#[test]
fn min_rtt_ignores_ack_delay() {
    let mut rtt = after_first_sample();
    rtt.update(ms(50), ms(90), true, ms(100));
    assert_eq!(rtt.min_rtt(), ms(90));
    rtt.update(Duration::ZERO, ms(150), true, ms(100));
    assert_eq!(rtt.min_rtt(), ms(90));
}

/// RFC 9002 §5.2: after persistent congestion, min_rtt SHOULD be set to the
/// newest sample.
#[test]
fn reset_min_rtt_takes_latest_sample() {
    let mut fresh = RttEstimator::default();
    fresh.reset_min_rtt();
    assert_eq!(fresh.min_rtt(), Duration::ZERO);

    let mut rtt = after_first_sample();
    rtt.update(Duration::ZERO, ms(80), true, ms(25));
    rtt.update(Duration::ZERO, ms(150), true, ms(25));
    assert_eq!(rtt.min_rtt(), ms(80));
    rtt.reset_min_rtt();
    assert_eq!(rtt.min_rtt(), ms(150));
}

/// RFC 9002 §5.3: a reset (migration) forgets all history; the next sample is
/// a first sample again.
#[test]
fn reset_starts_over() {
    let mut rtt = after_first_sample();
    rtt.update(ms(10), ms(120), true, ms(25));
    rtt.reset(ms(50));
    assert_eq!(rtt, RttEstimator::new(ms(50)));
    rtt.update(ms(10), ms(30), true, ms(25));
    assert_eq!(rtt.smoothed_rtt(), ms(30));
    assert_eq!(rtt.rttvar(), ms(15));
    assert_eq!(rtt.min_rtt(), ms(30));
}

/// RFC 9002 §6.2.1: PTO base = smoothed_rtt + max(4 * rttvar, kGranularity).
#[test]
fn pto_base_formula() {
    let rtt = after_first_sample();
    assert_eq!(rtt.pto_base(), ms(300));

    // A zero sample leaves rttvar at zero: the granularity floor applies.
    let mut zero = RttEstimator::default();
    zero.update(Duration::ZERO, Duration::ZERO, true, ms(25));
    assert_eq!(zero.pto_base(), GRANULARITY);

    let mut tiny = RttEstimator::default();
    tiny.update(Duration::ZERO, us(200), true, ms(25));
    // 4 * 100 us = 400 us < 1 ms
    assert_eq!(tiny.pto_base(), us(1_200));
}

/// RFC 9002 §6.1.2: loss delay = max(9/8 * max(smoothed_rtt, latest_rtt),
/// kGranularity).
#[test]
fn loss_delay_formula() {
    let mut rtt = after_first_sample();
    assert_eq!(rtt.loss_delay(), us(112_500));
    // latest 120 > smoothed 101.25
    rtt.update(ms(10), ms(120), true, ms(25));
    assert_eq!(rtt.loss_delay(), ms(135));
    // latest 80 < smoothed 98.59375 ms
    rtt.update(ms(5), ms(80), true, ms(25));
    assert_eq!(rtt.loss_delay(), Duration::from_nanos(110_917_968));

    let mut zero = RttEstimator::default();
    zero.update(Duration::ZERO, Duration::ZERO, true, ms(25));
    assert_eq!(zero.loss_delay(), GRANULARITY);
}

/// RFC 9002 §7.6.1: (smoothed_rtt + max(4 * rttvar, kGranularity) +
/// max_ack_delay) * 3.
#[test]
fn persistent_congestion_duration_formula() {
    let rtt = after_first_sample();
    // (100 + 200 + 25) * 3
    assert_eq!(rtt.persistent_congestion_duration(ms(25)), ms(975));
}

/// RFC 9002 §7.6.3: with a PTO of 2 (including max_ack_delay) the duration is
/// 6, and losses sent at t = 1 and t = 8 span 7, so congestion is persistent.
#[test]
fn persistent_congestion_example() {
    let mut rtt = RttEstimator::default();
    // smoothed = 0.5 s, rttvar = 0.25 s: 0.5 + 1 + max_ack_delay 0.5 = 2 s.
    rtt.update(Duration::ZERO, ms(500), true, ms(500));
    let duration = rtt.persistent_congestion_duration(ms(500));
    assert_eq!(duration, Duration::from_secs(6));
    let (oldest_lost, newest_lost) = (Duration::from_secs(1), Duration::from_secs(8));
    assert!(newest_lost - oldest_lost > duration);
}

/// Extreme inputs saturate instead of panicking.
#[test]
fn extreme_values_do_not_panic() {
    let mut rtt = RttEstimator::new(Duration::MAX);
    assert_eq!(rtt.pto_base(), Duration::MAX);
    assert_eq!(rtt.loss_delay(), Duration::MAX);
    assert_eq!(
        rtt.persistent_congestion_duration(Duration::MAX),
        Duration::MAX
    );
    rtt.update(Duration::MAX, Duration::MAX, false, Duration::MAX);
    rtt.update(Duration::MAX, Duration::MAX, false, Duration::MAX);
    rtt.update(Duration::MAX, ms(1), true, Duration::MAX);
    assert_eq!(rtt.min_rtt(), ms(1));
}

proptest! {
    /// Whatever the samples: min_rtt is the smallest sample, smoothed_rtt stays
    /// between min_rtt and the largest sample, and the timer periods respect
    /// the granularity floor.
    #[test]
    fn invariants_hold(
        samples in proptest::collection::vec(
            (0u64..10_000_000, 0u64..10_000_000, any::<bool>(), 0u64..1_000_000),
            1..50,
        ),
    ) {
        let mut rtt = RttEstimator::default();
        let mut smallest = Duration::MAX;
        let mut largest = Duration::ZERO;
        for (delay, sample, confirmed, max_delay) in samples {
            let sample = us(sample);
            rtt.update(us(delay), sample, confirmed, us(max_delay));
            smallest = smallest.min(sample);
            largest = largest.max(sample);
            prop_assert_eq!(rtt.latest_rtt(), sample);
            prop_assert_eq!(rtt.min_rtt(), smallest);
            prop_assert!(rtt.smoothed_rtt() >= rtt.min_rtt());
            prop_assert!(rtt.smoothed_rtt() <= largest);
            prop_assert!(rtt.pto_base() >= rtt.smoothed_rtt() + GRANULARITY);
            prop_assert!(rtt.loss_delay() >= GRANULARITY);
            prop_assert!(rtt.loss_delay() >= rtt.latest_rtt());
        }
    }
}
