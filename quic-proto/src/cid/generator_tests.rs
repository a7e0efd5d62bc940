use std::collections::HashSet;
use std::time::Duration;

use super::*;

/// RFC 9000 §17.2: IDs are 0 to 20 bytes; the generator makes exactly its
/// configured length.
#[test]
fn random_generator_lengths() {
    let mut rng = Rng::seed_from_u64(1);
    for len in 0..=ConnectionId::MAX_LEN {
        let mut generator = RandomConnectionIdGenerator::new(len).unwrap();
        assert_eq!(generator.cid_len(), len);
        let cid = generator.generate(&mut rng);
        assert_eq!(cid.len(), len);
        assert!(generator.validate(&cid));
    }
    assert_eq!(
        RandomConnectionIdGenerator::new(21),
        Err(ConnectionIdTooLong)
    );
    let default = RandomConnectionIdGenerator::default();
    assert_eq!(default.cid_len(), 8);
    assert_eq!(default.lifetime(), None);
    let other_len = ConnectionId::new(&[0; 9]).unwrap();
    assert!(!default.validate(&other_len));
}

/// RFC 9000 §5.1: IDs must not be linkable, so they are random and distinct.
#[test]
fn random_generator_output_is_random_and_seeded() {
    let mut generator = RandomConnectionIdGenerator::default();
    let mut rng = Rng::seed_from_u64(2);
    let ids: HashSet<_> = (0..1000).map(|_| generator.generate(&mut rng)).collect();
    assert_eq!(ids.len(), 1000);
    let replay = generator.generate(&mut Rng::seed_from_u64(2));
    let first = generator.generate(&mut Rng::seed_from_u64(2));
    assert_eq!(replay, first);
}

#[test]
fn lifetime_is_reported() {
    let generator = RandomConnectionIdGenerator::default().with_lifetime(Duration::from_secs(60));
    assert_eq!(generator.lifetime(), Some(Duration::from_secs(60)));
    let sharded = ShardedConnectionIdGenerator::new(1, 1, 8)
        .unwrap()
        .with_lifetime(Duration::from_secs(5));
    assert_eq!(sharded.lifetime(), Some(Duration::from_secs(5)));
}

#[test]
fn sharded_plain_encoding() {
    let mut rng = Rng::seed_from_u64(3);
    let mut one = ShardedConnectionIdGenerator::new(0xab, 1, 8).unwrap();
    let cid = one.generate(&mut rng);
    assert_eq!(cid.len(), 8);
    assert_eq!(cid[0], 0xab);
    assert_eq!(one.shard_of(&cid), Some(0xab));
    assert!(one.validate(&cid));

    let mut two = ShardedConnectionIdGenerator::new(0x1234, 2, 12).unwrap();
    let cid = two.generate(&mut rng);
    assert_eq!(&cid[..2], &[0x12, 0x34]);
    assert_eq!(two.shard_of(&cid), Some(0x1234));
    // A different length cannot be ours.
    assert_eq!(two.shard_of(&ConnectionId::new(&[0x12; 8]).unwrap()), None);
}

/// A datagram that reached the wrong shard is recognised and routed to its
/// owner (DESIGN.md, "Scaling past one machine").
#[test]
fn sharded_routes_between_shards() {
    let mut rng = Rng::seed_from_u64(4);
    let key = [9; 32];
    let mut shards: Vec<_> = (0..4u16)
        .map(|shard| {
            ShardedConnectionIdGenerator::new(shard, 1, 8)
                .unwrap()
                .with_obfuscation_key(&key)
        })
        .collect();
    for owner in 0..4u16 {
        let cid = shards[usize::from(owner)].generate(&mut rng);
        for (index, shard) in shards.iter().enumerate() {
            assert_eq!(shard.shard_of(&cid), Some(owner));
            assert_eq!(shard.validate(&cid), index == usize::from(owner));
        }
    }
}

/// RFC 9000 §5.1: with a key the shard bytes vary between IDs of one shard,
/// so observers cannot group IDs by shard; without the key they are constant.
#[test]
fn obfuscated_shard_bytes_look_random() {
    let mut rng = Rng::seed_from_u64(5);
    let mut hidden = ShardedConnectionIdGenerator::new(7, 1, 8)
        .unwrap()
        .with_obfuscation_key(&[1; 32]);
    let first_bytes: HashSet<u8> = (0..200).map(|_| hidden.generate(&mut rng)[0]).collect();
    assert!(first_bytes.len() > 100, "{}", first_bytes.len());
    // A router with the wrong key reads garbage.
    let wrong = ShardedConnectionIdGenerator::new(7, 1, 8)
        .unwrap()
        .with_obfuscation_key(&[2; 32]);
    let wrong_reads = (0..50)
        .filter(|_| wrong.shard_of(&hidden.generate(&mut rng)) != Some(7))
        .count();
    assert!(wrong_reads > 40);
}

#[test]
fn sharded_config_errors() {
    use ShardConfigError::*;
    assert_eq!(
        ShardedConnectionIdGenerator::new(1, 0, 8).err(),
        Some(InvalidShardLen)
    );
    assert_eq!(
        ShardedConnectionIdGenerator::new(1, 3, 8).err(),
        Some(InvalidShardLen)
    );
    assert_eq!(
        ShardedConnectionIdGenerator::new(256, 1, 8).err(),
        Some(ShardTooLarge)
    );
    assert!(ShardedConnectionIdGenerator::new(256, 2, 8).is_ok());
    assert_eq!(
        ShardedConnectionIdGenerator::new(1, 1, 4).err(),
        Some(InvalidCidLen)
    );
    assert!(ShardedConnectionIdGenerator::new(1, 1, 5).is_ok());
    assert_eq!(
        ShardedConnectionIdGenerator::new(1, 2, 21).err(),
        Some(InvalidCidLen)
    );
    assert!(ShardedConnectionIdGenerator::new(1, 2, 20).is_ok());
}

/// The trait is object safe: the endpoint holds a `Box<dyn ..>`.
#[test]
fn generators_are_object_safe() {
    let mut generators: Vec<Box<dyn ConnectionIdGenerator>> = vec![
        Box::new(RandomConnectionIdGenerator::default()),
        Box::new(ShardedConnectionIdGenerator::new(3, 1, 10).unwrap()),
    ];
    let mut rng = Rng::seed_from_u64(6);
    for generator in &mut generators {
        let cid = generator.generate(&mut rng);
        assert_eq!(cid.len(), generator.cid_len());
        assert!(generator.validate(&cid));
    }
}
