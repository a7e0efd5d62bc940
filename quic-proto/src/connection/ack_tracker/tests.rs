use std::collections::BTreeSet;

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::frame::{Ack, Frame, FrameType, Iter};

#[allow(clippy::disallowed_methods)] // test-only origin, never compared with real time
fn origin() -> Instant {
    Instant::now()
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

const MAX_ACK_DELAY: Duration = Duration::from_millis(25);

fn tracker(space: SpaceId) -> ReceivedPackets {
    ReceivedPackets::new(space, AckTrackerConfig::default())
}

/// Writes an ACK frame and decodes it back.
fn write_and_decode(
    tracker: &mut ReceivedPackets,
    now: Instant,
    exponent: u8,
    budget: usize,
) -> Option<(u64, Ack)> {
    let mut out = Vec::new();
    let largest = tracker.write_ack(now, exponent, budget, &mut out)?;
    assert!(out.len() <= budget);
    match Iter::new(Bytes::from(out)).next() {
        Some(Ok(Frame::Ack(ack))) => Some((largest, ack)),
        other => panic!("not an ACK frame: {other:?}"),
    }
}

fn ranges_of(ack: &Ack) -> Vec<RangeInclusive<u64>> {
    ack.ranges().collect()
}

/// RFC 9000 §12.3, §21.10: a packet number seen before is a duplicate, and
/// a duplicate is neither recorded again nor counted for ECN (§13.4.1).
#[test]
fn duplicates_are_detected() {
    let now = origin();
    let mut t = tracker(SpaceId::Data);
    assert!(!t.is_duplicate(5));
    assert!(t.on_packet_received(now, 5, false, Some(EcnCodepoint::Ect0)));
    assert!(t.is_duplicate(5));
    assert!(!t.is_duplicate(4) && !t.is_duplicate(6));
    assert!(!t.on_packet_received(now, 5, true, Some(EcnCodepoint::Ce)));
    assert_eq!(
        t.ecn_counts(),
        EcnCounts {
            ect0: 1,
            ect1: 0,
            ce: 0
        }
    );
    assert!(!t.wants_ack_now(), "the duplicate elicited nothing");
    assert_eq!(t.largest_received(), Some(5));
}

/// RFC 9000 §13.2.3: the number of ranges is bounded; the lowest range is
/// dropped, and everything below its end then counts as a duplicate (a
/// range may only be forgotten if no packet in it will be accepted again).
#[test]
fn range_count_is_bounded() {
    let now = origin();
    let config = AckTrackerConfig {
        max_ranges: 3,
        ..AckTrackerConfig::default()
    };
    let mut t = ReceivedPackets::new(SpaceId::Data, config);
    for pn in [10, 12, 14] {
        t.on_packet_received(now, pn, false, None);
    }
    assert_eq!(t.ranges().len(), 3);
    t.on_packet_received(now, 16, false, None);
    assert_eq!(t.ranges().len(), 3);
    assert_eq!(t.ranges().min(), Some(12));
    for pn in [0, 9, 10] {
        assert!(t.is_duplicate(pn), "{pn} is below the floor");
    }
    assert!(!t.is_duplicate(11) && !t.is_duplicate(13));
    // 13 joins two ranges.
    assert!(t.on_packet_received(now, 13, false, None));
    assert_eq!(t.ranges().iter().collect::<Vec<_>>(), [12..15, 16..17]);
    t.on_packet_received(now, 20, false, None);
    t.on_packet_received(now, 18, false, None);
    assert_eq!(t.ranges().len(), 3);
    assert_eq!(t.ranges().min(), Some(16));
    assert!(t.is_duplicate(13) && t.is_duplicate(14));
    assert!(
        !t.is_duplicate(15),
        "never received, and not below the dropped range's end"
    );
}

/// RFC 9000 §13.2.1: ack-eliciting Initial and Handshake packets are
/// acknowledged immediately; packets that are not ack-eliciting never make
/// an ACK due on their own.
#[test]
fn initial_and_handshake_ack_immediately() {
    let now = origin();
    for space in [SpaceId::Initial, SpaceId::Handshake] {
        let mut t = tracker(space);
        t.on_packet_received(now, 0, false, None);
        assert!(!t.wants_ack_now());
        assert_eq!(t.ack_deadline(MAX_ACK_DELAY), None);
        assert!(t.has_unacked());
        t.on_packet_received(now, 1, true, None);
        assert!(t.wants_ack_now());
        assert_eq!(t.ack_deadline(MAX_ACK_DELAY), Some(now));
        assert!(t.should_send_ack(now, MAX_ACK_DELAY));
    }
}

/// RFC 9000 §13.2.1, §13.2.2: in Application Data one ack-eliciting packet
/// may wait up to max_ack_delay; the second makes the ACK due at once.
#[test]
fn application_data_acks_every_second_packet_or_after_max_ack_delay() {
    let start = origin();
    let mut t = tracker(SpaceId::Data);
    t.on_packet_received(start, 0, true, None);
    assert!(!t.wants_ack_now());
    assert_eq!(t.ack_deadline(MAX_ACK_DELAY), Some(start + MAX_ACK_DELAY));
    assert!(!t.should_send_ack(start + ms(24), MAX_ACK_DELAY));
    assert!(t.should_send_ack(start + ms(25), MAX_ACK_DELAY));

    t.on_packet_received(start + ms(5), 1, false, None);
    assert!(!t.wants_ack_now(), "not ack-eliciting: does not count");
    t.on_packet_received(start + ms(10), 2, true, None);
    assert!(t.wants_ack_now());
    assert_eq!(t.ack_deadline(MAX_ACK_DELAY), Some(start + ms(10)));

    assert_eq!(
        write_and_decode(&mut t, start + ms(10), 3, 100).unwrap().0,
        2
    );
    assert!(!t.wants_ack_now() && !t.has_unacked());
    assert_eq!(t.ack_deadline(MAX_ACK_DELAY), None);
    t.on_packet_received(start + ms(20), 3, true, None);
    assert!(!t.wants_ack_now(), "the count restarts after an ACK");
    assert_eq!(t.ack_deadline(MAX_ACK_DELAY), Some(start + ms(45)));
}

/// RFC 9000 §13.2.1: an ack-eliciting packet that arrives out of order
/// (below another ack-eliciting one, or after a gap) is acknowledged at
/// once; packets that are not ack-eliciting fill gaps.
#[test]
fn out_of_order_packets_ack_immediately() {
    let now = origin();
    let config = AckTrackerConfig {
        ack_eliciting_threshold: 10,
        ..AckTrackerConfig::default()
    };
    let fresh = || ReceivedPackets::new(SpaceId::Data, config);

    let mut t = fresh();
    t.on_packet_received(now, 0, true, None);
    t.on_packet_received(now, 2, true, None);
    assert!(t.wants_ack_now(), "gap before 2");

    let mut t = fresh();
    t.on_packet_received(now, 0, true, None);
    t.on_packet_received(now, 1, false, None);
    t.on_packet_received(now, 2, true, None);
    assert!(!t.wants_ack_now(), "1 arrived, not ack-eliciting");

    let mut t = fresh();
    t.on_packet_received(now, 3, true, None);
    t.on_packet_received(now, 1, true, None);
    assert!(t.wants_ack_now(), "1 is below 3");

    let mut t = fresh();
    t.on_packet_received(now, 0, true, None);
    t.on_packet_received(now, 5, false, None);
    assert!(!t.wants_ack_now(), "not ack-eliciting: never immediate");
}

/// RFC 9000 §13.2.1: an ack-eliciting packet marked ECN-CE is acknowledged
/// at once; ECN counts are kept per codepoint and reported (§13.4.1, §19.3.2).
#[test]
fn ce_marked_packets_ack_immediately_and_counts_are_reported() {
    let now = origin();
    let mut t = tracker(SpaceId::Data);
    t.on_packet_received(now, 0, false, Some(EcnCodepoint::Ce));
    assert!(!t.wants_ack_now());
    t.on_packet_received(now, 1, true, Some(EcnCodepoint::Ce));
    assert!(t.wants_ack_now());
    t.on_packet_received(now, 2, false, Some(EcnCodepoint::Ect1));
    t.on_packet_received(now, 3, false, Some(EcnCodepoint::Ect0));
    t.on_packet_received(now, 4, false, None);
    let (_, ack) = write_and_decode(&mut t, now, 3, 100).unwrap();
    assert_eq!(ack.frame_type(), FrameType::ACK_ECN);
    assert_eq!(
        ack.ecn(),
        Some(EcnCounts {
            ect0: 1,
            ect1: 1,
            ce: 2
        })
    );

    let mut plain = tracker(SpaceId::Data);
    plain.on_packet_received(now, 0, true, None);
    let (_, ack) = write_and_decode(&mut plain, now, 3, 100).unwrap();
    assert_eq!(ack.frame_type(), FrameType::ACK);
}

/// EcnCodepoint maps to the IP header's ECN bits (RFC 3168 §5).
#[test]
fn ecn_codepoint_bits() {
    for codepoint in [EcnCodepoint::Ect0, EcnCodepoint::Ect1, EcnCodepoint::Ce] {
        assert_eq!(EcnCodepoint::from_bits(codepoint.bits()), Some(codepoint));
    }
    assert_eq!(EcnCodepoint::from_bits(0), None);
    assert_eq!(EcnCodepoint::from_bits(0b10), Some(EcnCodepoint::Ect0));
}

/// RFC 9000 §13.2.5, §19.3: the ACK Delay field is the time since the
/// largest packet arrived, in microseconds divided by 2^ack_delay_exponent.
#[test]
fn ack_delay_field() {
    let start = origin();
    let mut t = tracker(SpaceId::Data);
    assert_eq!(t.ack_delay_field(start, 3), 0);
    t.on_packet_received(start, 7, true, None);
    t.on_packet_received(start + ms(4), 3, true, None);
    let sent_at = start + ms(10);
    assert_eq!(t.ack_delay_field(sent_at, 3), 10_000 >> 3);
    assert_eq!(t.ack_delay_field(sent_at, 0), 10_000);
    assert_eq!(t.ack_delay_field(sent_at, 20), 0);
    assert_eq!(t.ack_delay_field(start - ms(1), 3), 0);
    let (largest, ack) = write_and_decode(&mut t, sent_at, 3, 100).unwrap();
    assert_eq!(largest, 7);
    assert_eq!(ack.delay(), 1250);
    assert_eq!(ack.delay_micros(3), 10_000);
    assert_eq!(ranges_of(&ack), [7..=7, 3..=3]);
}

/// RFC 9000 §13.2.3: an ACK frame that does not fit leaves out the oldest
/// ranges; one that cannot fit at all is not written and the ACK stays due.
#[test]
fn ack_fits_budget_by_dropping_oldest_ranges() {
    let now = origin();
    let mut t = tracker(SpaceId::Initial);
    for pn in (0..40).step_by(2) {
        t.on_packet_received(now, pn, true, None);
    }
    let mut out = Vec::new();
    assert_eq!(t.write_ack(now, 3, 4, &mut out), None);
    assert!(out.is_empty());
    assert!(t.wants_ack_now());

    let (largest, ack) = write_and_decode(&mut t, now, 3, 15).unwrap();
    assert_eq!(largest, 38);
    let ranges = ranges_of(&ack);
    assert!(ranges.len() > 1 && ranges.len() < 20);
    assert_eq!(ranges[0], 38..=38);
    let expected: Vec<_> = (0..ranges.len() as u64)
        .map(|i| 38 - 2 * i..=38 - 2 * i)
        .collect();
    assert_eq!(ranges, expected);
    assert!(!t.wants_ack_now());
}

/// RFC 9000 §13.2.4: once a packet carrying our ACK frame is acknowledged,
/// packets up to its Largest Acknowledged are no longer reported, and are
/// duplicates from then on; the largest received packet number is kept for
/// packet number decoding (§13.2.3).
#[test]
fn ack_of_ack_prunes_ranges() {
    let now = origin();
    let mut t = tracker(SpaceId::Data);
    for pn in [0, 1, 2, 4, 5] {
        t.on_packet_received(now, pn, true, None);
    }
    let (largest, _) = write_and_decode(&mut t, now, 3, 100).unwrap();
    assert_eq!(largest, 5);
    t.on_packet_received(now, 8, true, None);
    t.on_packet_received(now, 9, false, None);
    t.on_ack_of_ack(largest);
    assert_eq!(t.ranges().min(), Some(8));
    assert_eq!(t.ranges().max(), Some(9));
    assert_eq!(t.ranges().len(), 1);
    assert!(t.is_duplicate(3), "below the acknowledged ACK");
    assert!(!t.is_duplicate(6) && !t.is_duplicate(7));
    let (largest, ack) = write_and_decode(&mut t, now, 3, 100).unwrap();
    assert_eq!((largest, ranges_of(&ack)), (9, vec![8..=9]));

    // A late packet below our last ACK's largest is due at once, but if the
    // peer then acknowledges that ACK there is nothing left to send.
    t.on_packet_received(now, 7, true, None);
    assert!(t.wants_ack_now());
    t.on_ack_of_ack(9);
    assert!(!t.wants_ack_now());
    assert_eq!(t.ack_deadline(MAX_ACK_DELAY), None);
    t.on_packet_received(now, 10, true, None);
    t.on_packet_received(now, 11, false, None);

    // An older ACK being acknowledged late changes nothing.
    t.on_ack_of_ack(2);
    assert_eq!(t.ranges().len(), 1);
    t.on_ack_of_ack(11);
    assert!(t.ranges().is_empty());
    assert_eq!(t.largest_received(), Some(11));
    assert!(!t.has_unacked());
    assert_eq!(write_and_decode(&mut t, now, 3, 100).map(|(l, _)| l), None);
}

proptest! {
    /// Any order of arrivals: without the range bound being reached,
    /// `is_duplicate` matches a model set exactly; the ACK frame written
    /// reports exactly the packets received, newest first.
    #[test]
    fn matches_model(pns in proptest::collection::vec(0u64..120, 1..100)) {
        let now = origin();
        let config = AckTrackerConfig { max_ranges: 1000, ..AckTrackerConfig::default() };
        let mut t = ReceivedPackets::new(SpaceId::Data, config);
        let mut model = BTreeSet::new();
        for pn in pns {
            prop_assert_eq!(t.is_duplicate(pn), model.contains(&pn));
            prop_assert_eq!(t.on_packet_received(now, pn, true, None), model.insert(pn));
        }
        let (largest, ack) = write_and_decode(&mut t, now, 3, 10_000).unwrap();
        prop_assert_eq!(Some(&largest), model.iter().next_back());
        let reported: Vec<u64> = ack.ranges().flat_map(|r| r.rev()).collect();
        let expected: Vec<u64> = model.iter().rev().copied().collect();
        prop_assert_eq!(reported, expected);
    }

    /// With a small range bound, a packet reported as new was never
    /// reported as new before (no packet is processed twice), and the ranges
    /// stay within the bound.
    #[test]
    fn bounded_never_accepts_twice(pns in proptest::collection::vec(0u64..200, 1..200)) {
        let now = origin();
        let config = AckTrackerConfig { max_ranges: 4, ..AckTrackerConfig::default() };
        let mut t = ReceivedPackets::new(SpaceId::Data, config);
        let mut accepted = BTreeSet::new();
        for pn in pns {
            if t.on_packet_received(now, pn, true, None) {
                prop_assert!(accepted.insert(pn), "{} accepted twice", pn);
            }
            prop_assert!(t.ranges().len() <= 4);
        }
    }
}
