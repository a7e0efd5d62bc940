use std::collections::HashSet;

use ring::hmac;

use super::*;

fn first_bytes(rng: &mut Rng) -> [u8; 64] {
    rng.gen_bytes()
}

/// DESIGN.md rule 1: the same seed replays the same stream.
#[test]
fn same_seed_same_stream() {
    let mut a = Rng::from_seed([7; 32]);
    let mut b = Rng::from_seed([7; 32]);
    assert_eq!(first_bytes(&mut a), first_bytes(&mut b));
    assert_eq!(a.next_u64(), b.next_u64());
    let mut a = Rng::seed_from_u64(42);
    let mut b = Rng::seed_from_u64(42);
    assert_eq!(first_bytes(&mut a), first_bytes(&mut b));
}

#[test]
fn different_seeds_differ() {
    assert_ne!(
        first_bytes(&mut Rng::from_seed([1; 32])),
        first_bytes(&mut Rng::from_seed([2; 32]))
    );
    assert_ne!(
        first_bytes(&mut Rng::seed_from_u64(1)),
        first_bytes(&mut Rng::seed_from_u64(2))
    );
}

/// The stream is HMAC-SHA256(seed, label || counter), block by block.
#[test]
fn stream_is_hmac_counter_mode() {
    let seed = [0x5a; 32];
    let key = hmac::Key::new(hmac::HMAC_SHA256, &seed);
    let mut expected = Vec::new();
    for counter in 0u64..3 {
        let mut msg = LABEL.to_vec();
        msg.extend_from_slice(&counter.to_be_bytes());
        expected.extend_from_slice(hmac::sign(&key, &msg).as_ref());
    }
    let mut rng = Rng::from_seed(seed);
    let mut got = [0; 96];
    rng.fill(&mut got);
    assert_eq!(&got[..], &expected[..]);
}

/// Buffering does not depend on how the output is sliced.
#[test]
fn fill_is_independent_of_chunking() {
    let mut whole = [0; 100];
    Rng::seed_from_u64(9).fill(&mut whole);
    let mut rng = Rng::seed_from_u64(9);
    let mut pieces = Vec::new();
    for size in [1, 7, 31, 2, 33, 26] {
        let mut piece = vec![0; size];
        rng.fill(&mut piece);
        pieces.extend(piece);
    }
    assert_eq!(&whole[..], &pieces[..]);
}

#[test]
fn fork_is_deterministic_and_differs_from_parent() {
    let mut parent_a = Rng::seed_from_u64(5);
    let mut parent_b = Rng::seed_from_u64(5);
    let mut child_a = parent_a.fork();
    let mut child_b = parent_b.fork();
    let child_out = first_bytes(&mut child_a);
    assert_eq!(child_out, first_bytes(&mut child_b));
    let parent_out = first_bytes(&mut parent_a);
    assert_eq!(parent_out, first_bytes(&mut parent_b));
    assert_ne!(child_out, parent_out);
    // Two forks of one parent differ from each other too.
    let mut second = parent_a.fork();
    assert_ne!(first_bytes(&mut second), child_out);
}

#[test]
fn gen_range_stays_in_bounds_and_covers_it() {
    let mut rng = Rng::seed_from_u64(3);
    let mut seen = HashSet::new();
    for _ in 0..1000 {
        let x = rng.gen_range(10..17);
        assert!((10..17).contains(&x));
        seen.insert(x);
    }
    assert_eq!(seen.len(), 7);
    for _ in 0..100 {
        assert_eq!(rng.gen_range(5..=5), 5);
        let x = rng.gen_range(u64::MAX - 1..=u64::MAX);
        assert!(x >= u64::MAX - 1);
    }
    // The full range has no rejection zone at all.
    let _ = rng.gen_range(..);
    let _ = rng.gen_range(0..=u64::MAX);
}

/// With a span of 3 * 2^62, a quarter of the draws land in the rejection
/// zone. Folding them with a modulo would put half of the results below 2^62
/// instead of a third.
#[test]
fn gen_range_rejects_instead_of_folding() {
    let mut rng = Rng::seed_from_u64(11);
    let third = 1u64 << 62;
    let low = (0..3000)
        .filter(|_| rng.gen_range(0..3 * third) < third)
        .count();
    assert!((850..1150).contains(&low), "{low} of 3000");
}

#[test]
#[should_panic(expected = "empty range")]
fn gen_range_panics_on_empty_range() {
    let mut rng = Rng::seed_from_u64(0);
    #[allow(clippy::reversed_empty_ranges)]
    let _ = rng.gen_range(5..5);
}

#[test]
fn gen_ratio_extremes() {
    let mut rng = Rng::seed_from_u64(1);
    for _ in 0..100 {
        assert!(!rng.gen_ratio(0, 3));
        assert!(rng.gen_ratio(3, 3));
    }
}

#[test]
fn from_os_works_and_debug_hides_state() {
    let mut a = Rng::from_os().unwrap();
    let mut b = Rng::from_os().unwrap();
    assert_ne!(first_bytes(&mut a), first_bytes(&mut b));
    let shown = format!("{a:?}");
    assert!(shown.starts_with("Rng {"), "{shown}");
    assert!(!shown.contains("key"));
}
