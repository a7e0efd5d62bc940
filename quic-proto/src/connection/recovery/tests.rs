use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::connection::congestion::{NewReno, NewRenoConfig};
use crate::error::TransportErrorCode;
use crate::frame::{AckEncoder, Frame, Iter};

mod harness;
mod sent_store;

use harness::*;

/// RFC 9002 §5.1: the RTT sample is `ack_time - send_time_of_largest_acked`,
/// taken only when the largest acknowledged packet is newly acknowledged.
#[test]
fn rtt_sample_only_from_newly_acked_largest() {
    let mut h = Harness::new(Side::Client);
    h.send(SpaceId::Data, 0);
    h.advance(ms(10));
    h.send(SpaceId::Data, 1);
    h.advance(ms(90));
    let summary = h.ack(SpaceId::Data, &[0..=1]).unwrap();
    assert!(summary.rtt_sample);
    assert_eq!(h.r.rtt().latest_rtt(), ms(90));
    assert_eq!(h.r.first_rtt_sample(), Some(h.now));

    // The same ACK again acknowledges nothing new: no sample.
    h.advance(ms(200));
    let summary = h.ack(SpaceId::Data, &[0..=1]).unwrap();
    assert!(!summary.rtt_sample);
    assert_eq!(summary.newly_acked, 0);
    assert_eq!(h.r.rtt().latest_rtt(), ms(90));

    h.send(SpaceId::Data, 2);
    h.advance(ms(10));
    h.send(SpaceId::Data, 3);
    h.advance(ms(40));
    assert!(h.ack(SpaceId::Data, &[3..=3]).unwrap().rtt_sample);
    assert_eq!(h.r.rtt().latest_rtt(), ms(40));
    // Packet 2 is newly acknowledged, but the largest (3) is not: no sample.
    h.advance(ms(100));
    let summary = h.ack(SpaceId::Data, &[2..=3]).unwrap();
    assert_eq!(summary.largest_newly_acked, Some(2));
    assert!(!summary.rtt_sample);
    assert_eq!(h.r.rtt().latest_rtt(), ms(40));
}

/// RFC 9002 §5.1: no RTT sample from an ACK that newly acknowledges only
/// non-ack-eliciting packets; but one ack-eliciting packet among them is
/// enough, and the sample still uses the largest.
#[test]
fn rtt_sample_needs_an_ack_eliciting_packet() {
    let mut h = Harness::new(Side::Client);
    h.send_packet(SpaceId::Data, 0, 50, false, false);
    h.advance(ms(30));
    let summary = h.ack(SpaceId::Data, &[0..=0]).unwrap();
    assert_eq!(summary.newly_acked, 1);
    assert!(!summary.rtt_sample);
    assert!(!h.r.rtt().has_sample());

    h.send(SpaceId::Data, 1);
    h.advance(ms(5));
    h.send_packet(SpaceId::Data, 2, 50, false, false);
    h.advance(ms(45));
    let summary = h.ack(SpaceId::Data, &[1..=2]).unwrap();
    assert!(summary.rtt_sample && summary.ack_eliciting_acked);
    assert_eq!(h.r.rtt().latest_rtt(), ms(45));
}

/// RFC 9002 §5.3, Appendix A.7: the ACK delay adjusts Application Data
/// samples (capped at max_ack_delay once the handshake is confirmed) but not
/// Initial or Handshake ones, which the peer does not delay.
#[test]
fn ack_delay_only_for_application_data() {
    let adjusted = |space: SpaceId| {
        let mut h = Harness::new(Side::Client);
        h.send(space, 0);
        h.advance(ms(100));
        h.ack(space, &[0..=0]).unwrap();
        h.send(space, 1);
        h.advance(ms(150));
        h.ack_with(space, &[1..=1], ms(50), None).unwrap();
        h.r.rtt().smoothed_rtt()
    };
    // 7/8 * 100 ms + 1/8 * (150 ms - min(50 ms, 25 ms))
    assert_eq!(adjusted(SpaceId::Data), us(103_125));
    // 7/8 * 100 ms + 1/8 * 150 ms
    assert_eq!(adjusted(SpaceId::Initial), us(106_250));
    assert_eq!(adjusted(SpaceId::Handshake), us(106_250));
}

/// RFC 9002 §6.1.1: a packet is lost once a packet sent kPacketThreshold (3)
/// packet numbers later is acknowledged; the packets in between wait for the
/// time threshold (§6.1.2), which arms the loss timer.
#[test]
fn packet_threshold_loss() {
    let mut h = Harness::new(Side::Client);
    for pn in 0..5 {
        h.send(SpaceId::Data, pn);
    }
    h.advance(ms(50));
    let summary = h.ack(SpaceId::Data, &[3..=3]).unwrap();
    assert_eq!(h.log.lost, [(SpaceId::Data, 0)]);
    assert_eq!(summary.lost.packets, 1);
    assert_eq!(summary.lost.bytes, 1200);
    assert_eq!(h.r.bytes_in_flight(), 3 * 1200);
    // 1 and 2 are not lost yet: the time threshold timer waits for them.
    let loss_time = h.r.loss_time(SpaceId::Data).unwrap();
    assert_eq!(loss_time, h.start + h.r.rtt().loss_delay());
    assert_eq!(h.r.loss_detection_timer(&h.ctx), Some(loss_time));

    h.ack(SpaceId::Data, &[3..=4]).unwrap();
    assert_eq!(h.log.lost, [(SpaceId::Data, 0), (SpaceId::Data, 1)]);
    assert_eq!(h.r.sent_packets(SpaceId::Data).lowest(), 2);
    assert_eq!(h.r.bytes_in_flight(), 1200);
    assert_eq!(h.events().congestion.len(), 2);
}

/// RFC 9002 §6.1.2, Appendix A.9: a packet sent before an acknowledged one
/// is lost after `max(9/8 * max(smoothed_rtt, latest_rtt), 1 ms)`; the loss
/// timer fires then, not before.
#[test]
fn time_threshold_loss_and_timer() {
    let mut h = Harness::new(Side::Client);
    h.send(SpaceId::Data, 0);
    h.advance(ms(10));
    h.send(SpaceId::Data, 1);
    h.advance(ms(100));
    h.ack(SpaceId::Data, &[1..=1]).unwrap();
    assert!(h.log.lost.is_empty());
    // First sample 100 ms: loss delay 112.5 ms from packet 0's send time.
    assert_eq!(h.r.rtt().loss_delay(), us(112_500));
    let deadline = h.start + us(112_500);
    assert_eq!(h.r.loss_time(SpaceId::Data), Some(deadline));
    assert_eq!(h.r.loss_detection_timer(&h.ctx), Some(deadline));

    h.now = deadline - us(1);
    assert_eq!(h.timeout(), TimeoutOutcome::NotDue);
    assert!(h.log.lost.is_empty());

    h.now = deadline;
    let TimeoutOutcome::Lost { space, summary } = h.timeout() else {
        panic!("expected a loss");
    };
    assert_eq!(
        (space, summary.packets, summary.bytes),
        (SpaceId::Data, 1, 1200)
    );
    assert_eq!(h.log.lost, [(SpaceId::Data, 0)]);
    assert_eq!(h.r.loss_time(SpaceId::Data), None);
    assert_eq!(h.r.bytes_in_flight(), 0);
    // Loss detection by timer does not count as a PTO.
    assert_eq!(h.r.pto_count(), 0);
    assert_eq!(h.r.loss_detection_timer(&h.ctx), None);
}

/// RFC 9002 §6.2.1: the PTO is `smoothed_rtt + max(4 * rttvar, 1 ms)`, plus
/// max_ack_delay for Application Data only, from the last ack-eliciting
/// packet; with several spaces in flight, the earliest wins.
#[test]
fn pto_per_space() {
    let mut h = Harness::new(Side::Client);
    // Initial RTT 100 ms: smoothed 100 ms + 4 * 50 ms.
    let base = ms(300);
    h.send(SpaceId::Initial, 0);
    assert_eq!(h.pto(), Some((h.start + base, SpaceId::Initial)));
    h.advance(ms(10));
    h.send(SpaceId::Data, 0);
    h.advance(ms(10));
    h.send(SpaceId::Handshake, 0);
    // Initial still expires first.
    assert_eq!(h.pto(), Some((h.start + base, SpaceId::Initial)));
    assert_eq!(h.r.loss_detection_timer(&h.ctx), Some(h.start + base));

    h.advance(ms(10));
    h.ack(SpaceId::Initial, &[0..=0]).unwrap();
    // Handshake (sent at 20 ms) now: 320 ms. Data (sent at 10 ms) would be
    // 10 + 300 + 25 = 335 ms.
    let handshake = h.start + ms(20) + h.r.rtt().pto_base();
    assert_eq!(h.pto(), Some((handshake, SpaceId::Handshake)));
    h.ack(SpaceId::Handshake, &[0..=0]).unwrap();
    let data = h.start + ms(10) + h.r.rtt().pto_base() + ms(25);
    assert_eq!(h.pto(), Some((data, SpaceId::Data)));
}

/// RFC 9002 §6.2.1: no PTO for Application Data before the handshake is
/// confirmed; and §6.2.2.1: no timer for a server at its anti-amplification
/// limit.
#[test]
fn pto_not_armed_for_data_before_confirmation_or_at_amplification_limit() {
    let mut h = Harness::new(Side::Server);
    h.ctx.handshake_confirmed = false;
    h.send(SpaceId::Data, 0);
    assert_eq!(h.r.loss_detection_timer(&h.ctx), None);
    assert_eq!(h.pto(), None);
    h.ctx.handshake_confirmed = true;
    assert!(h.r.loss_detection_timer(&h.ctx).is_some());

    h.ctx.handshake_confirmed = false;
    h.send(SpaceId::Initial, 0);
    assert_eq!(h.pto().map(|(_, space)| space), Some(SpaceId::Initial));
    h.ctx.at_anti_amplification_limit = true;
    assert_eq!(h.r.loss_detection_timer(&h.ctx), None);
    // Appendix A.6: once a datagram lifts the limit, the deadline (possibly
    // in the past) is there again.
    h.ctx.at_anti_amplification_limit = false;
    h.advance(ms(400));
    let deadline = h.r.loss_detection_timer(&h.ctx).unwrap();
    assert!(deadline <= h.now);
    assert!(matches!(h.timeout(), TimeoutOutcome::Probe(_)));
}

/// RFC 9002 §6.2.1: each PTO doubles the period (`2^pto_count`), across
/// spaces; §6.2.4: a PTO asks for up to two ack-eliciting probes in the
/// space that expired and declares nothing lost (§6.2).
#[test]
fn pto_backoff_and_probes() {
    let mut h = Harness::new(Side::Client);
    h.send(SpaceId::Data, 0);
    h.send(SpaceId::Data, 1);
    let period = ms(300 + 25);
    assert_eq!(h.r.loss_detection_timer(&h.ctx), Some(h.start + period));
    h.now = h.start + period;
    let outcome = h.timeout();
    assert_eq!(
        outcome,
        TimeoutOutcome::Probe(Probe {
            space: SpaceId::Data,
            packets: 2,
            anti_deadlock: false
        })
    );
    assert_eq!(h.r.pto_count(), 1);
    assert!(h.log.lost.is_empty());
    assert_eq!(h.r.bytes_in_flight(), 2 * 1200);
    // Still counted from the last ack-eliciting packet, now doubled.
    assert_eq!(h.r.loss_detection_timer(&h.ctx), Some(h.start + period * 2));

    // The probes themselves restart the timer from their send time.
    h.send(SpaceId::Data, 2);
    let probe_time = h.now;
    assert_eq!(
        h.r.loss_detection_timer(&h.ctx),
        Some(probe_time + period * 2)
    );
    h.now = probe_time + period * 2;
    assert!(matches!(h.timeout(), TimeoutOutcome::Probe(_)));
    assert_eq!(h.r.pto_count(), 2);
    assert_eq!(
        h.r.loss_detection_timer(&h.ctx),
        Some(probe_time + period * 4)
    );

    // An acknowledgment resets the backoff.
    h.ack(SpaceId::Data, &[2..=2]).unwrap();
    assert_eq!(h.r.pto_count(), 0);
}

/// RFC 9002 §6.2.1: the backoff is capped so that it cannot overflow, while
/// `pto_count` keeps counting.
#[test]
fn pto_backoff_is_capped() {
    let mut h = Harness::new(Side::Client);
    h.send(SpaceId::Data, 0);
    let mut deadlines = Vec::new();
    for _ in 0..MAX_PTO_BACKOFF_EXPONENT + 3 {
        let deadline = h.r.loss_detection_timer(&h.ctx).unwrap();
        deadlines.push(deadline);
        h.now = deadline;
        assert!(matches!(h.timeout(), TimeoutOutcome::Probe(_)));
    }
    assert_eq!(h.r.pto_count(), MAX_PTO_BACKOFF_EXPONENT + 3);
    let n = deadlines.len();
    assert_eq!(deadlines[1] - deadlines[0], deadlines[0] - h.start);
    assert_eq!(deadlines[n - 1], deadlines[n - 2]);
    let expected = ms(325) * (1 << MAX_PTO_BACKOFF_EXPONENT);
    assert_eq!(deadlines[n - 1] - h.start, expected);
}

/// RFC 9002 §6.2.1: a client does not reset the PTO backoff on an ACK in an
/// Initial packet, since it cannot tell whether the server validated its
/// address; an ACK in a Handshake packet tells it. A server always resets.
#[test]
fn pto_backoff_reset_rules() {
    let mut client = Harness::new(Side::Client);
    client.ctx.handshake_confirmed = false;
    client.send(SpaceId::Initial, 0);
    client.send(SpaceId::Initial, 1);
    client.now = client.r.loss_detection_timer(&client.ctx).unwrap();
    assert!(matches!(client.timeout(), TimeoutOutcome::Probe(_)));
    client.ack(SpaceId::Initial, &[0..=0]).unwrap();
    assert_eq!(client.r.pto_count(), 1);
    client.send(SpaceId::Handshake, 0);
    client.ack(SpaceId::Handshake, &[0..=0]).unwrap();
    assert_eq!(client.r.pto_count(), 0);

    let mut server = Harness::new(Side::Server);
    server.ctx.handshake_confirmed = false;
    server.send(SpaceId::Initial, 0);
    server.send(SpaceId::Initial, 1);
    server.now = server.r.loss_detection_timer(&server.ctx).unwrap();
    assert!(matches!(server.timeout(), TimeoutOutcome::Probe(_)));
    server.ack(SpaceId::Initial, &[0..=0]).unwrap();
    assert_eq!(server.r.pto_count(), 0);
}

/// RFC 9002 §6.2.2.1, Appendix A.8, A.9: a client that has not seen a
/// Handshake ACK keeps a PTO armed with nothing in flight, counted from when
/// the timer was last set, and sends one anti-deadlock probe: Handshake if it
/// has the keys, else a padded Initial.
#[test]
fn client_anti_deadlock_probe() {
    let mut h = Harness::new(Side::Client);
    h.ctx.handshake_confirmed = false;
    h.ctx.has_handshake_keys = false;
    h.send(SpaceId::Initial, 0);
    h.advance(ms(100));
    h.ack(SpaceId::Initial, &[0..=0]).unwrap();
    assert_eq!(h.r.bytes_in_flight(), 0);
    // First sample 100 ms: PTO base 100 + 4 * 50 = 300 ms from the ACK.
    let deadline = h.now + ms(300);
    assert_eq!(h.r.loss_detection_timer(&h.ctx), Some(deadline));
    h.now = deadline;
    assert_eq!(
        h.timeout(),
        TimeoutOutcome::Probe(Probe {
            space: SpaceId::Initial,
            packets: 1,
            anti_deadlock: true
        })
    );
    assert_eq!(h.r.pto_count(), 1);
    h.ctx.has_handshake_keys = true;
    let deadline = h.now + ms(600);
    assert_eq!(
        h.pto(),
        Some((deadline, SpaceId::Handshake)),
        "backed off, from the timeout, in Handshake now"
    );

    // Once the handshake is confirmed the client stops.
    h.ctx.handshake_confirmed = true;
    assert_eq!(h.r.loss_detection_timer(&h.ctx), None);
    // A server never arms an anti-deadlock timer.
    let mut server = Harness::new(Side::Server);
    server.ctx.handshake_confirmed = false;
    server.send(SpaceId::Initial, 0);
    server.ack(SpaceId::Initial, &[0..=0]).unwrap();
    assert_eq!(server.r.loss_detection_timer(&server.ctx), None);
}

/// RFC 9002 §6.2.2.1 (the refinement in the module documentation): 0-RTT
/// packets in flight cannot arm a PTO before the handshake is confirmed, so
/// they do not keep a client from arming its anti-deadlock timer.
#[test]
fn zero_rtt_in_flight_does_not_block_anti_deadlock_timer() {
    let mut h = Harness::new(Side::Client);
    h.ctx.handshake_confirmed = false;
    h.send(SpaceId::Initial, 0);
    h.send(SpaceId::Data, 0);
    h.advance(ms(100));
    h.ack(SpaceId::Initial, &[0..=0]).unwrap();
    assert!(h.r.has_ack_eliciting_in_flight(SpaceId::Data));
    assert_eq!(h.pto().map(|(_, s)| s), Some(SpaceId::Handshake));
    assert_eq!(h.r.loss_detection_timer(&h.ctx), Some(h.now + ms(300)));
}

/// RFC 9002 §7.6.3: the example, with the RTT state chosen so that
/// `smoothed_rtt + max(4 * rttvar, kGranularity) + max_ack_delay` is 2 units
/// (1 unit = 1 s) when the acknowledgment of packet 9 is processed:
/// packets 2 to 8 are lost over 7 units, more than the 6-unit persistent
/// congestion duration, and the window drops to the minimum (§7.6.2).
#[test]
fn persistent_congestion_example() {
    let (mut h, t) = persistent_congestion_setup();
    h.now = t(12_200);
    let summary = h.ack(SpaceId::Data, &[9..=9]).unwrap();
    // Samples 400, 1200 and 200 ms: smoothed 462.5 ms, rttvar 337.5 ms.
    assert_eq!(h.r.rtt().pto_base() + h.ctx.max_ack_delay, ms(2000));
    let lost: Vec<u64> = h.log.lost.iter().map(|&(_, pn)| pn).collect();
    assert_eq!(lost, [2, 3, 4, 5, 6, 7, 8]);
    assert!(summary.lost.persistent_congestion);
    assert_eq!(h.events().congestion, [(t(8_000), true, 7 * 1200)]);
    assert_eq!(h.r.congestion_window(), 2 * 1200);
    // §5.2: min_rtt restarts from the latest sample.
    assert_eq!(h.r.rtt().min_rtt(), ms(200));
}

/// RFC 9002 §7.6.2: an acknowledged packet sent between the lost ones
/// breaks the period; so does the lack of an RTT sample before the lost
/// packets were sent.
#[test]
fn persistent_congestion_needs_no_ack_between_and_a_prior_sample() {
    let (mut h, t) = persistent_congestion_setup();
    h.now = t(12_200);
    let summary = h.ack(SpaceId::Data, &[9..=9, 5..=5]).unwrap();
    assert_eq!(summary.lost.packets, 6);
    assert!(!summary.lost.persistent_congestion);
    assert_eq!(h.events().congestion.len(), 1);
    assert!(h.r.congestion_window() > 2 * 1200);

    // Same losses, but the first RTT sample comes with the final ACK.
    let mut h = Harness::new(Side::Client);
    let start = h.start;
    let t = move |millis: u64| start + ms(millis);
    for (pn, at) in [(1, 0), (2, 1000), (3, 2000), (4, 3000), (5, 4000)] {
        h.now = t(at);
        h.send(SpaceId::Data, pn);
    }
    for (pn, at) in [(6, 5000), (7, 6000), (8, 8000), (9, 12_000)] {
        h.now = t(at);
        h.send(SpaceId::Data, pn);
    }
    h.now = t(12_200);
    let summary = h.ack(SpaceId::Data, &[9..=9]).unwrap();
    assert_eq!(summary.lost.packets, 8);
    assert!(!summary.lost.persistent_congestion);
}

/// RFC 9000 §13.1, §21.4: acknowledging a packet number above the largest
/// sent, or one skipped on purpose, is a PROTOCOL_VIOLATION, detected
/// before any state changes.
#[test]
fn ack_of_unsent_or_skipped_packet_is_protocol_violation() {
    let mut h = Harness::new(Side::Client);
    let err = h.ack(SpaceId::Data, &[0..=0]).unwrap_err();
    assert_eq!(err.code, TransportErrorCode::PROTOCOL_VIOLATION);

    h.send(SpaceId::Data, 0);
    h.send(SpaceId::Data, 1);
    h.send(SpaceId::Data, 3); // 2 skipped
    h.send(SpaceId::Data, 4);
    for ranges in [&[0..=5][..], &[2..=2], &[4..=4, 2..=2], &[4..=4, 1..=2]] {
        let err = h.ack(SpaceId::Data, ranges).unwrap_err();
        assert_eq!(err.code, TransportErrorCode::PROTOCOL_VIOLATION);
        assert_eq!(err.frame_type, Some(0x02));
    }
    assert!(h.log.acked.is_empty());
    assert_eq!(h.r.largest_acked(SpaceId::Data), None);
    assert_eq!(h.r.bytes_in_flight(), 4 * 1200);

    h.ack(SpaceId::Data, &[3..=4, 0..=1]).unwrap();
    assert_eq!(h.log.acked.len(), 4);
    // The ring has moved past 2, but the skip is remembered.
    assert_eq!(h.r.sent_packets(SpaceId::Data).lowest(), 5);
    let err = h.ack(SpaceId::Data, &[0..=4]).unwrap_err();
    assert_eq!(err.code, TransportErrorCode::PROTOCOL_VIOLATION);
    // Acknowledging again what was sent is fine.
    assert_eq!(
        h.ack(SpaceId::Data, &[3..=4, 0..=1]).unwrap().newly_acked,
        0
    );
    // Other spaces are separate.
    assert!(h.ack(SpaceId::Handshake, &[0..=0]).is_err());
}

/// RFC 9002 §6.4, Appendix A.11, B.9: discarding a space removes its packets
/// from bytes in flight without a congestion signal, hands them to the sink,
/// resets its timers and the PTO backoff.
#[test]
fn discard_space_removes_bytes_in_flight() {
    let mut h = Harness::new(Side::Client);
    h.send(SpaceId::Initial, 0);
    h.send(SpaceId::Initial, 1);
    h.send(SpaceId::Handshake, 0);
    h.send_packet(SpaceId::Initial, 2, 100, false, false);
    assert_eq!(h.r.bytes_in_flight(), 3 * 1200);
    h.now = h.r.loss_detection_timer(&h.ctx).unwrap();
    assert!(matches!(h.timeout(), TimeoutOutcome::Probe(_)));
    assert_eq!(h.r.pto_count(), 1);
    let window = h.r.congestion_window();

    h.r.discard_space(h.now, SpaceId::Initial, &mut h.log);
    assert_eq!(h.r.bytes_in_flight(), 1200);
    assert_eq!(
        h.log.discarded,
        [
            (SpaceId::Initial, 0),
            (SpaceId::Initial, 1),
            (SpaceId::Initial, 2)
        ]
    );
    assert!(h.log.acked.is_empty() && h.log.lost.is_empty());
    assert_eq!(h.r.pto_count(), 0);
    assert_eq!(h.r.congestion_window(), window);
    assert!(h.events().congestion.is_empty());
    assert!(!h.r.has_ack_eliciting_in_flight(SpaceId::Initial));
    assert_eq!(h.pto().map(|(_, space)| space), Some(SpaceId::Handshake));
}

/// RFC 9002 §7.1, Appendix B.7, RFC 9000 §13.4.2: an increase of the
/// ECN-CE count is one congestion event, sent at the largest acknowledged
/// packet's send time; an unchanged count is none. Counts that go down with
/// a new largest acknowledged fail validation, after which ECN is ignored.
#[test]
fn ecn_ce_increase_is_one_congestion_event() {
    let mut h = Harness::new(Side::Client);
    let counts = |ect0, ce| Some(EcnCounts { ect0, ect1: 0, ce });
    h.send(SpaceId::Data, 0);
    h.advance(ms(10));
    h.send(SpaceId::Data, 1);
    h.advance(ms(50));
    let summary = h
        .ack_with(SpaceId::Data, &[0..=1], ms(0), counts(1, 1))
        .unwrap();
    assert!(summary.ecn_ce_increased);
    assert_eq!(h.events().ecn, [h.start + ms(10)]);
    assert!(h.events().congestion.is_empty());

    h.send(SpaceId::Data, 2);
    let summary = h
        .ack_with(SpaceId::Data, &[2..=2], ms(0), counts(2, 1))
        .unwrap();
    assert!(!summary.ecn_ce_increased);
    assert_eq!(h.events().ecn.len(), 1);

    // A reordered ACK (no new largest) with lower counts is ignored.
    h.send(SpaceId::Data, 3);
    h.send(SpaceId::Data, 4);
    h.ack_with(SpaceId::Data, &[4..=4], ms(0), counts(3, 2))
        .unwrap();
    assert_eq!(h.events().ecn.len(), 2);
    h.ack_with(SpaceId::Data, &[3..=3], ms(0), counts(2, 1))
        .unwrap();
    assert!(!h.r.ecn_failed());

    h.send(SpaceId::Data, 5);
    h.send(SpaceId::Data, 6);
    h.ack_with(SpaceId::Data, &[5..=5], ms(0), counts(1, 2))
        .unwrap();
    assert!(h.r.ecn_failed());
    let summary = h
        .ack_with(SpaceId::Data, &[6..=6], ms(0), counts(9, 9))
        .unwrap();
    assert!(!summary.ecn_ce_increased);
    assert_eq!(h.events().ecn.len(), 2);
}

/// RFC 9002 §7, Appendix B.4: only in-flight packets count toward bytes in
/// flight, which bound what may be sent.
#[test]
fn bytes_in_flight_and_can_send() {
    let mut h = Harness::new(Side::Client);
    let window = h.r.congestion_window();
    assert_eq!(window, 12_000);
    h.send_packet(SpaceId::Data, 0, 40, false, false);
    assert_eq!(h.r.bytes_in_flight(), 0);
    h.send_packet(SpaceId::Data, 1, 1000, false, true); // PADDING only
    assert_eq!(h.r.bytes_in_flight(), 1000);
    for pn in 2..11 {
        h.send(SpaceId::Data, pn);
    }
    assert_eq!(h.r.bytes_in_flight(), 1000 + 9 * 1200);
    assert!(h.r.can_send(200));
    assert!(!h.r.can_send(201));
    assert_eq!(h.events().sent, 10);
    h.r.on_mtu_update(1500);
    assert_eq!(h.r.congestion_window(), 14_720);
}

/// RFC 9002 §7.8: acknowledgments do not grow the window while the sender
/// is application limited.
#[test]
fn app_limited_acks_do_not_grow_the_window() {
    let mut h = Harness::new(Side::Client);
    let window = h.r.congestion_window();
    h.r.set_app_limited(true);
    h.send(SpaceId::Data, 0);
    h.ack(SpaceId::Data, &[0..=0]).unwrap();
    assert_eq!(h.r.congestion_window(), window);
    h.r.set_app_limited(false);
    h.send(SpaceId::Data, 1);
    let summary = h.ack(SpaceId::Data, &[1..=1]).unwrap();
    assert_eq!(summary.bytes_acked, 1200);
    assert_eq!(h.r.congestion_window(), window + 1200);
}

#[derive(Debug, Clone)]
enum Op {
    /// Send the next packet after skipping `skip` numbers.
    Send {
        space: usize,
        skip: u8,
        size: u16,
        ack_eliciting: bool,
        in_flight: bool,
    },
    /// Acknowledge ranges of sent packet numbers (by index into what was
    /// sent), possibly including packet numbers never sent.
    Ack {
        space: usize,
        picks: Vec<(u8, u8)>,
        include_unsent: bool,
    },
    Advance(u16),
    Timeout,
    Discard(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 0..3u8, 20..1500u16, any::<bool>(), any::<bool>()).prop_map(
            |(space, skip, size, ack_eliciting, in_flight)| Op::Send {
                space,
                skip,
                size,
                ack_eliciting,
                in_flight
            }
        ),
        3 => (0..3usize, proptest::collection::vec((any::<u8>(), 0..6u8), 1..4), prop::bool::weighted(0.1))
            .prop_map(|(space, picks, include_unsent)| Op::Ack { space, picks, include_unsent }),
        2 => (0..500u16).prop_map(Op::Advance),
        1 => Just(Op::Timeout),
        1 => (0..3usize).prop_map(Op::Discard),
    ]
}

proptest! {
    /// Random sends, ACKs (some of unsent numbers), timeouts and discards:
    /// bytes in flight always equal the sizes of the outstanding in-flight
    /// packets; every packet is reported at most once (acked, lost or
    /// discarded, never two of them); only sent packets are acknowledged,
    /// and an ACK of an unsent number fails without effect.
    #[test]
    fn bookkeeping_is_consistent(ops in proptest::collection::vec(op(), 1..80)) {
        run_model(ops)?;
    }
}

fn run_model(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut h = Harness::new(Side::Client);
    let mut model = Model::default();
    for op in ops {
        match op {
            Op::Send {
                space,
                skip,
                size,
                ack_eliciting,
                in_flight,
            } => {
                let pn = model.next[space] + u64::from(skip);
                model.skips[space] += usize::from(skip > 0);
                model.next[space] = pn + 1;
                model.sent[space].push(pn);
                let in_flight = in_flight || ack_eliciting;
                model.outstanding[space].insert(pn, (size, in_flight));
                h.send_packet(SpaceId::ALL[space], pn, size, ack_eliciting, in_flight);
            }
            Op::Ack {
                space,
                picks,
                include_unsent,
            } => {
                let ranges = model.ack_ranges(space, &picks, include_unsent);
                let Some(ranges) = ranges else { continue };
                let before = h.log.events();
                let bytes = h.r.bytes_in_flight();
                let result = h.ack(SpaceId::ALL[space], &ranges);
                let unsent = ranges
                    .iter()
                    .flat_map(|r| r.clone())
                    .any(|pn| !model.sent[space].contains(&pn));
                // Beyond MAX_SKIPPED_RANGES skips, the oldest may be forgotten.
                if model.skips[space] <= MAX_SKIPPED_RANGES || result.is_err() {
                    prop_assert_eq!(result.is_err(), unsent);
                }
                if unsent {
                    prop_assert_eq!(h.log.events(), before);
                    prop_assert_eq!(h.r.bytes_in_flight(), bytes);
                }
                for &(s, pn) in &h.log.acked[before.0..] {
                    prop_assert_eq!(s, SpaceId::ALL[space]);
                    prop_assert!(ranges.iter().any(|r| r.contains(&pn)));
                }
            }
            Op::Advance(millis) => h.advance(ms(u64::from(millis))),
            Op::Timeout => {
                h.timeout();
            }
            Op::Discard(space) => h.r.discard_space(h.now, SpaceId::ALL[space], &mut h.log),
        }
        model.apply(&h.log)?;
        let expected: u64 = model
            .outstanding
            .iter()
            .flat_map(|o| o.values())
            .filter(|(_, in_flight)| *in_flight)
            .map(|(size, _)| u64::from(*size))
            .sum();
        prop_assert_eq!(h.r.bytes_in_flight(), expected);
        for (space, outstanding) in model.outstanding.iter().enumerate() {
            prop_assert_eq!(
                h.r.sent_packets(SpaceId::ALL[space]).len(),
                outstanding.len()
            );
        }
    }
    Ok(())
}

/// What the property test expects.
#[derive(Debug, Default)]
struct Model {
    next: [u64; 3],
    sent: [Vec<u64>; 3],
    /// How many times a packet number was skipped.
    skips: [usize; 3],
    outstanding: [BTreeMap<u64, (u16, bool)>; 3],
    /// How many sink events of each kind were applied.
    seen: (usize, usize, usize),
}

impl Model {
    /// Descending, non-adjacent ranges around sent packet numbers.
    fn ack_ranges(
        &self,
        space: usize,
        picks: &[(u8, u8)],
        include_unsent: bool,
    ) -> Option<Vec<RangeInclusive<u64>>> {
        let sent = &self.sent[space];
        let mut points: Vec<(u64, u64)> = Vec::new();
        for &(index, len) in picks {
            let start = if include_unsent {
                u64::from(index) % (self.next[space] + 2)
            } else {
                *sent.get(usize::from(index) % sent.len().max(1))?
            };
            points.push((start, start + u64::from(len)));
        }
        points.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (start, mut end) in points {
            if !include_unsent {
                // Stay within what was sent.
                end = end.min(*sent.last()?);
            }
            match merged.last_mut() {
                Some(last) if start <= last.1 + 1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        Some(merged.into_iter().rev().map(|(s, e)| s..=e).collect())
    }

    fn apply(&mut self, log: &Log) -> Result<(), TestCaseError> {
        let (acked, lost, discarded) = self.seen;
        for (kind, events) in [
            ("acked", &log.acked[acked..]),
            ("lost", &log.lost[lost..]),
            ("discarded", &log.discarded[discarded..]),
        ] {
            for &(space, pn) in events {
                let removed = self.outstanding[space as usize].remove(&pn);
                prop_assert!(
                    removed.is_some(),
                    "{} reported for {:?} {} not outstanding",
                    kind,
                    space,
                    pn
                );
            }
        }
        self.seen = log.events();
        Ok(())
    }
}
