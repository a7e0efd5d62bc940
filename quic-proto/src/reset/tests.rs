use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;
use crate::rand::Rng;

#[allow(clippy::disallowed_methods)] // test-only origin, never compared with real time
fn origin() -> Instant {
    Instant::now()
}

fn cid(bytes: &[u8]) -> ConnectionId {
    ConnectionId::new(bytes).unwrap()
}

/// RFC 9000 §10.3.2: the token is a function of the static key and the ID,
/// so an endpoint that lost state recomputes the same value.
#[test]
fn token_is_stable_for_a_cid() {
    let key = ResetKey::new(&[1; 32]);
    let restarted = ResetKey::new(&[1; 32]);
    let id = cid(&[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(key.token(&id), key.token(&id));
    assert_eq!(key.token(&id), restarted.token(&id));
    // And it is HMAC-SHA256(key, cid) truncated to 16 bytes.
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &[1; 32]), &id);
    assert_eq!(&key.token(&id).as_bytes()[..], &tag.as_ref()[..16]);
}

/// RFC 9000 §10.3.2: the same token must not be used for multiple IDs, and
/// tokens are hard to guess (different keys give different tokens).
#[test]
fn token_differs_across_cids_and_keys() {
    let key = ResetKey::new(&[1; 32]);
    let other_key = ResetKey::from_rng(&mut Rng::seed_from_u64(1));
    let a = cid(&[1; 8]);
    let b = cid(&[2; 8]);
    assert_ne!(key.token(&a), key.token(&b));
    assert_ne!(key.token(&a), other_key.token(&a));
    // A prefix is a different ID with a different token.
    assert_ne!(key.token(&a), key.token(&cid(&[1; 7])));
}

#[test]
fn token_conversions_and_debug() {
    let token = ResetToken::from([7; 16]);
    assert_eq!(token.into_bytes(), [7; 16]);
    assert_eq!(format!("{token:?}"), "ResetToken(..)");
    assert_eq!(format!("{:?}", ResetKey::new(&[0; 32])), "ResetKey(..)");
    let mut other = [7; 16];
    other[15] = 8;
    assert_ne!(token, ResetToken::from(other));
    other[15] = 7;
    other[0] = 0;
    assert_ne!(token, ResetToken::from(other));
}

/// RFC 9000 §10.3, §10.3.3: a reset is at least 21 bytes, strictly smaller
/// than its trigger, looks like a short header with the fixed bit set, and
/// ends in the token.
#[test]
fn reset_packet_size_and_shape() {
    let mut rng = Rng::seed_from_u64(2);
    let token = ResetToken::from([0xaa; 16]);
    for trigger in 0..=MIN_STATELESS_RESET_LEN {
        assert_eq!(build_stateless_reset(&mut rng, &token, trigger, 1500), None);
    }
    for trigger in MIN_STATELESS_RESET_LEN + 1..1500 {
        let packet = build_stateless_reset(&mut rng, &token, trigger, 1500).unwrap();
        assert!(packet.len() < trigger);
        assert!(packet.len() >= MIN_STATELESS_RESET_LEN);
        assert_eq!(packet[0] & 0xc0, 0x40, "short header, fixed bit set");
        assert_eq!(&packet[packet.len() - 16..], token.as_bytes());
        if trigger <= 43 {
            // §10.3: one byte shorter than a trigger of 43 bytes or less.
            assert_eq!(packet.len(), trigger - 1);
        } else {
            assert!(packet.len() >= 42);
        }
    }
}

#[test]
fn reset_packet_respects_max_len() {
    let mut rng = Rng::seed_from_u64(3);
    let token = ResetToken::from([1; 16]);
    assert_eq!(build_stateless_reset(&mut rng, &token, 1200, 20), None);
    let packet = build_stateless_reset(&mut rng, &token, 1200, 21).unwrap();
    assert_eq!(packet.len(), 21);
    for _ in 0..100 {
        let packet = build_stateless_reset(&mut rng, &token, 1200, 100).unwrap();
        assert!((42..=100).contains(&packet.len()));
    }
}

/// RFC 9000 §10.3: the bytes before the token are unpredictable, and the
/// lengths for large triggers vary.
#[test]
fn reset_packet_is_unpredictable() {
    let mut rng = Rng::seed_from_u64(4);
    let token = ResetToken::from([1; 16]);
    let a = build_stateless_reset(&mut rng, &token, 43, 1500).unwrap();
    let b = build_stateless_reset(&mut rng, &token, 43, 1500).unwrap();
    assert_eq!(a.len(), b.len());
    assert_ne!(a[..a.len() - 16], b[..b.len() - 16]);
    let lengths: std::collections::HashSet<usize> = (0..50)
        .map(|_| {
            build_stateless_reset(&mut rng, &token, 1200, 1500)
                .unwrap()
                .len()
        })
        .collect();
    assert!(lengths.len() > 10);
}

/// RFC 9000 §10.3.1: a datagram is a reset if its last 16 bytes equal a
/// token of an ID in use.
#[test]
fn detection() {
    let mut rng = Rng::seed_from_u64(5);
    let key = ResetKey::new(&[3; 32]);
    let ours = key.token(&cid(&[1; 8]));
    let other = key.token(&cid(&[2; 8]));
    let packet = build_stateless_reset(&mut rng, &ours, 100, 1500).unwrap();
    assert!(is_stateless_reset(&packet, [&other, &ours]));
    assert!(is_stateless_reset(&packet, &[ours]));
    assert!(!is_stateless_reset(&packet, [&other]));
    assert!(!is_stateless_reset(&packet, []));
    // Only the tail counts.
    let mut moved = packet.clone();
    moved.push(0);
    assert!(!is_stateless_reset(&moved, [&ours]));
    // Too short to be any valid packet, even if it ends in the token.
    let mut short = vec![0x40; 4];
    short.extend_from_slice(ours.as_bytes());
    assert_eq!(short.len(), 20);
    assert!(!is_stateless_reset(&short, [&ours]));
    short.insert(0, 0x40);
    assert!(is_stateless_reset(&short, [&ours]));
}

/// RFC 9000 §10.3.3: resets are limited; the bucket refills with time.
#[test]
fn rate_limiter() {
    let start = origin();
    let mut limiter = ResetRateLimiter::new(10, 3);
    assert!(limiter.allow(start));
    assert!(limiter.allow(start));
    assert!(limiter.allow(start));
    assert!(!limiter.allow(start));
    // One token per 100 ms.
    assert!(!limiter.allow(start + Duration::from_millis(99)));
    assert!(limiter.allow(start + Duration::from_millis(100)));
    assert!(!limiter.allow(start + Duration::from_millis(100)));
    // Time going backwards adds nothing.
    assert!(!limiter.allow(start));
    // A long pause refills to the burst, not beyond.
    let later = start + Duration::from_secs(3600);
    for _ in 0..3 {
        assert!(limiter.allow(later));
    }
    assert!(!limiter.allow(later));
    let mut never = ResetRateLimiter::new(0, 0);
    assert!(!never.allow(start));
    assert!(!never.allow(later));
}

proptest! {
    /// RFC 9000 §10.3, §10.3.3 for any trigger and cap.
    #[test]
    fn reset_rules_hold(seed: u64, trigger in 0usize..70_000, max_len in 0usize..70_000) {
        let mut rng = Rng::seed_from_u64(seed);
        let token = ResetToken::from(rng.gen_bytes());
        match build_stateless_reset(&mut rng, &token, trigger, max_len) {
            None => prop_assert!(trigger <= MIN_STATELESS_RESET_LEN || max_len < MIN_STATELESS_RESET_LEN),
            Some(packet) => {
                prop_assert!(packet.len() < trigger);
                prop_assert!(packet.len() <= max_len);
                prop_assert!(packet.len() >= MIN_STATELESS_RESET_LEN);
                prop_assert_eq!(packet[0] & 0xc0, 0x40);
                prop_assert!(is_stateless_reset(&packet, [&token]));
            }
        }
    }

    #[test]
    fn detection_never_panics(datagram in proptest::collection::vec(any::<u8>(), 0..64)) {
        let token = ResetToken::from([0; 16]);
        let found = is_stateless_reset(&datagram, [&token]);
        prop_assert_eq!(found, datagram.len() >= 21 && datagram[datagram.len() - 16..] == [0; 16]);
    }
}
