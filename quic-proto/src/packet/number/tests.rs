use proptest::prelude::*;

use super::*;

/// RFC 9000 App. A.2: with 0xabe8b3 acknowledged, 0xac5c02 has 29,519
/// (0x734f) packet numbers outstanding; twice that needs 16 bits.
#[test]
fn rfc9000_appendix_a2_example_two_bytes() {
    let pn = PacketNumber::new(0xac5c02, Some(0xabe8b3));
    assert_eq!(pn.encoded_len(), 2);
    assert_eq!(pn.truncated(), 0x5c02);
    let mut out = Vec::new();
    pn.encode(&mut out);
    assert_eq!(out, [0x5c, 0x02]);
}

/// RFC 9000 App. A.2: in the same state, 0xace8fe needs 18 bits, so 24-bit
/// encoding.
#[test]
fn rfc9000_appendix_a2_example_three_bytes() {
    let pn = PacketNumber::new(0xace8fe, Some(0xabe8b3));
    assert_eq!(pn.encoded_len(), 3);
    assert_eq!(pn.truncated(), 0xace8fe);
    let mut out = Vec::new();
    pn.encode(&mut out);
    assert_eq!(out, [0xac, 0xe8, 0xfe]);
}

/// RFC 9000 App. A.3: largest 0xa82f30ea, 16-bit value 0x9b32 → 0xa82f9b32.
#[test]
fn rfc9000_appendix_a3_example() {
    let pn = PacketNumber::from_truncated(0x9b32, 2).unwrap();
    assert_eq!(pn.expand(Some(0xa82f30ea)), 0xa82f9b32);
}

/// RFC 9001 App. A.5: packet number 654360564 sent in 3 bytes as 0x00bff4.
#[test]
fn rfc9001_appendix_a5_packet_number() {
    let pn = PacketNumber::truncate(654_360_564, 3);
    let mut out = Vec::new();
    pn.encode(&mut out);
    assert_eq!(out, [0x00, 0xbf, 0xf4]);
    assert_eq!(pn.expand(Some(654_360_563)), 654_360_564);
}

/// RFC 9000 §17.1: the encoding must cover more than twice the distance.
#[test]
fn length_boundaries() {
    // Nothing acknowledged: the whole number counts.
    assert_eq!(PacketNumber::len_for(0, None), 1);
    assert_eq!(PacketNumber::len_for(126, None), 1); // 2 * 127 + 1 = 255
    assert_eq!(PacketNumber::len_for(127, None), 2); // 2 * 128 + 1 = 257
    // A distance of 127 fits one byte (window 256 > 254); 128 does not.
    assert_eq!(PacketNumber::len_for(1127, Some(1000)), 1);
    assert_eq!(PacketNumber::len_for(1128, Some(1000)), 2);
    assert_eq!(PacketNumber::len_for(1 << 15, Some(1)), 2);
    assert_eq!(PacketNumber::len_for((1 << 15) + 1, Some(1)), 3);
    assert_eq!(PacketNumber::len_for((1 << 23) + 1, Some(1)), 4);
    // Too far for any length: 4 bytes, the maximum.
    assert_eq!(PacketNumber::len_for(1 << 40, Some(0)), 4);
    assert_eq!(PacketNumber::len_for(u64::MAX, None), 4);
    // A number at or below the largest acknowledged (a caller bug) still
    // gets a valid length.
    assert_eq!(PacketNumber::len_for(5, Some(10)), 1);
}

#[test]
fn from_truncated_checks_range() {
    assert!(PacketNumber::from_truncated(0xff, 1).is_some());
    assert!(PacketNumber::from_truncated(0x100, 1).is_none());
    assert!(PacketNumber::from_truncated(0xffff_ffff, 4).is_some());
    assert!(PacketNumber::from_truncated(0, 0).is_none());
    assert!(PacketNumber::from_truncated(0, 5).is_none());
}

#[test]
fn decode_checks_length_and_input() {
    assert_eq!(
        PacketNumber::decode(3, &mut &[1u8, 2, 3][..]),
        Ok(PacketNumber::from_truncated(0x010203, 3).unwrap())
    );
    assert_eq!(
        PacketNumber::decode(3, &mut &[1u8, 2][..]),
        Err(UnexpectedEnd)
    );
    assert_eq!(PacketNumber::decode(0, &mut &[1u8][..]), Err(UnexpectedEnd));
    assert_eq!(
        PacketNumber::decode(5, &mut &[0u8; 8][..]),
        Err(UnexpectedEnd)
    );
}

/// RFC 9000 App. A.3's guards keep the result inside 0..2^62 at both ends.
#[test]
fn expand_stays_in_range_at_the_edges() {
    // Near zero: a value "behind" the window cannot go negative.
    let pn = PacketNumber::from_truncated(0xff, 1).unwrap();
    assert_eq!(pn.expand(None), 0xff);
    assert_eq!(pn.expand(Some(0)), 0xff);
    // Near 2^62: a value "ahead" of the window cannot exceed 2^62 - 1.
    let top = MAX_PACKET_NUMBER;
    let pn = PacketNumber::truncate(top, 1);
    assert_eq!(pn.expand(Some(top - 1)), top);
    let pn = PacketNumber::truncate(0, 1);
    assert_eq!(pn.expand(Some(top)), top - 0xff);
    // Out-of-range largest values (never produced by a valid peer) neither
    // overflow nor panic.
    for len in 1..=4 {
        let pn = PacketNumber::truncate(u64::MAX, len);
        assert!(pn.expand(Some(u64::MAX)) <= top);
    }
}

proptest! {
    /// RFC 9000 §17.1: when the sender picks the length with App. A.2 and
    /// the receiver's largest received packet lies between the sender's
    /// largest acknowledged and the packet just before this one, App. A.3
    /// recovers the full number.
    #[test]
    fn truncate_then_expand_round_trips(
        largest_acked in 0u64..MAX_PACKET_NUMBER,
        distance in 1u64..(1 << 31),
        received_fraction in 0.0f64..1.0,
    ) {
        let full = largest_acked + distance;
        prop_assume!(full <= MAX_PACKET_NUMBER);
        let largest_received = largest_acked + ((distance - 1) as f64 * received_fraction) as u64;
        let pn = PacketNumber::new(full, Some(largest_acked));
        prop_assert_eq!(pn.expand(Some(largest_received)), full);
        // The receiver may also know only the sender's largest acknowledged.
        prop_assert_eq!(pn.expand(Some(largest_acked)), full);
    }

    /// Before any acknowledgment and any packet received, the number is
    /// recovered too (RFC 9000 §17.1).
    #[test]
    fn first_packets_round_trip(full in 0u64..(1 << 31) - 1) {
        let pn = PacketNumber::new(full, None);
        prop_assert_eq!(pn.expand(None), full);
    }

    /// Wire encoding round-trips for every length.
    #[test]
    fn encode_decode_round_trip(full in any::<u64>(), len in 1usize..=4) {
        let pn = PacketNumber::truncate(full, len);
        let mut out = Vec::new();
        pn.encode(&mut out);
        prop_assert_eq!(out.len(), len);
        prop_assert_eq!(PacketNumber::decode(len, &mut &out[..]), Ok(pn));
    }

    /// Expansion never panics and the result always carries the wire bits.
    #[test]
    fn expand_never_panics(truncated in any::<u32>(), len in 1usize..=4, largest in any::<Option<u64>>()) {
        let pn = PacketNumber::truncate(u64::from(truncated), len);
        let full = pn.expand(largest);
        prop_assert!(full <= MAX_PACKET_NUMBER);
        prop_assert_eq!(PacketNumber::truncate(full, len), pn);
    }
}
