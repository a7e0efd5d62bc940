//! The ring buffer of sent packets (RFC 9002 Appendix A.1).

use super::*;

fn packet(at: Instant, size: u16, ack_eliciting: bool) -> SentPacket<u64> {
    SentPacket {
        time_sent: at,
        size,
        ack_eliciting,
        in_flight: false,
        info: 0,
    }
}

#[allow(clippy::disallowed_methods)] // test-only origin, never compared with real time
fn now() -> Instant {
    Instant::now()
}

/// Packets are found by number; removing them leaves holes that are
/// reclaimed once the oldest packets are gone, so memory follows what is
/// outstanding.
#[test]
fn insert_remove_reclaim() {
    let t = now();
    let mut sent = SentPackets::new();
    for pn in 0..5 {
        sent.insert(pn, packet(t, 100, true)).unwrap();
    }
    assert_eq!((sent.len(), sent.bytes_in_flight()), (5, 500));
    assert_eq!(sent.ack_eliciting_in_flight(), 5);
    // An ack-eliciting packet is in flight whatever the caller said.
    assert!(sent.get(0).unwrap().in_flight);

    assert!(sent.remove(2, true).is_some());
    assert!(sent.remove(2, true).is_none());
    assert_eq!(sent.state(2), PacketState::Acked);
    assert!(sent.remove(1, false).is_some());
    assert_eq!(sent.state(1), PacketState::Removed);
    sent.reclaim();
    assert_eq!(sent.lowest(), 0, "packet 0 is still outstanding");
    assert!(sent.remove(0, true).is_some());
    sent.reclaim();
    assert_eq!(sent.lowest(), 3);
    assert_eq!(sent.state(0), PacketState::Removed);
    assert_eq!((sent.len(), sent.bytes_in_flight()), (2, 200));

    sent.remove(3, true);
    sent.remove(4, true);
    sent.reclaim();
    assert!(sent.is_empty());
    assert_eq!(sent.lowest(), 5);
    assert_eq!(sent.largest_sent(), Some(4));
    assert_eq!(sent.clip(0..=10), None);
}

/// RFC 9000 §12.3: packet numbers never repeat or go down; gaps are skips.
#[test]
fn packet_numbers_increase() {
    let t = now();
    let mut sent = SentPackets::new();
    sent.insert(3, packet(t, 10, false)).unwrap();
    assert!(sent.insert(3, packet(t, 10, false)).is_err());
    assert!(sent.insert(1, packet(t, 10, false)).is_err());
    assert!(sent.insert(1 << 62, packet(t, 10, false)).is_err());
    sent.insert(6, packet(t, 10, false)).unwrap();
    assert_eq!(
        sent.lowest(),
        3,
        "skips before the first packet take no slot"
    );
    assert_eq!(sent.bytes_in_flight(), 0);
    assert_eq!(sent.clip(0..=100), Some(3..=6));
    assert_eq!(sent.clip(4..=5), Some(4..=5));
    assert_eq!(sent.state(4), PacketState::Removed);
    for (ranges, unsent) in [
        (vec![3..=3], false),
        (vec![6..=6, 3..=3], false),
        (vec![7..=7], true),
        (vec![6..=6, 4..=4], true),
        (vec![6..=6, 0..=0], true),
        (vec![5..=6], true),
    ] {
        assert_eq!(sent.includes_unsent(ranges.into_iter()), unsent);
    }
}

/// Skips are remembered in a bounded set: the oldest are forgotten.
#[test]
fn skipped_numbers_are_bounded() {
    let t = now();
    let mut sent = SentPackets::new();
    let mut pn = 0;
    for _ in 0..MAX_SKIPPED_RANGES + 2 {
        sent.insert(pn, packet(t, 10, false)).unwrap();
        pn += 2;
    }
    let is_unsent = |sent: &SentPackets<u64>, pn: u64| sent.includes_unsent([pn..=pn].into_iter());
    assert!(!is_unsent(&sent, 1), "forgotten");
    assert!(is_unsent(&sent, 2 * MAX_SKIPPED_RANGES as u64 + 1));
    assert!(is_unsent(&sent, 5));
}

/// RFC 9002 §6.4: draining yields the outstanding packets only, and the
/// packet numbers continue afterwards.
#[test]
fn drain_outstanding() {
    let t = now();
    let mut sent = SentPackets::new();
    for pn in [0, 1, 2, 4] {
        let mut p = packet(t, 10, pn != 1);
        p.info = pn;
        sent.insert(pn, p).unwrap();
    }
    sent.remove(1, true);
    let drained: Vec<u64> = sent
        .drain()
        .map(|(pn, p)| {
            assert_eq!(p.info, pn);
            pn
        })
        .collect();
    assert_eq!(drained, [0, 2, 4]);
    assert!(sent.is_empty());
    assert_eq!(
        (sent.bytes_in_flight(), sent.ack_eliciting_in_flight()),
        (0, 0)
    );
    assert!(sent.insert(4, packet(t, 10, false)).is_err());
    sent.insert(5, packet(t, 10, false)).unwrap();
    assert_eq!(sent.lowest(), 5);
    assert!(sent.includes_unsent([3..=3].into_iter()));
}
