use proptest::prelude::*;

use super::*;
use crate::cid::RandomConnectionIdGenerator;
use crate::error::TransportErrorCode;
use crate::rand::Rng;
use crate::reset::build_stateless_reset;

fn cid(byte: u8) -> ConnectionId {
    ConnectionId::new(&[byte; 8]).unwrap()
}

fn token(byte: u8) -> ResetToken {
    ResetToken::from([byte; 16])
}

/// A NEW_CONNECTION_ID frame whose ID and token derive from the sequence.
fn ncid(sequence: u64, retire_prior_to: u64) -> NewConnectionId {
    let byte = u8::try_from(sequence % 250).unwrap() + 1;
    NewConnectionId {
        sequence: VarInt::from_u64(sequence).unwrap(),
        retire_prior_to: VarInt::from_u64(retire_prior_to).unwrap(),
        id: ConnectionId::new(&sequence.to_be_bytes()).unwrap(),
        reset_token: [byte; 16],
    }
}

fn code(result: Result<impl std::fmt::Debug, TransportError>) -> TransportErrorCode {
    result.unwrap_err().code
}

struct Issuer {
    generator: RandomConnectionIdGenerator,
    rng: Rng,
    key: ResetKey,
}

impl Issuer {
    fn new() -> Self {
        let mut rng = Rng::seed_from_u64(1);
        let key = ResetKey::from_rng(&mut rng);
        Self {
            generator: RandomConnectionIdGenerator::default(),
            rng,
            key,
        }
    }

    fn table(&self, max_active: usize) -> LocalCids {
        LocalCids::new(cid(0xaa), self.key.token(&cid(0xaa)), max_active)
    }

    fn issue(&mut self, table: &mut LocalCids) -> Option<NewConnectionId> {
        table.issue(&mut self.generator, &mut self.rng, &self.key)
    }
}

/// RFC 9000 §5.1.1: sequence numbers increase by one from the handshake
/// ID's 0, and we never exceed the peer's active_connection_id_limit.
#[test]
fn local_issues_up_to_the_peer_limit() {
    let mut issuer = Issuer::new();
    let mut table = issuer.table(8);
    // Until the peer's transport parameters arrive, the default limit of 2.
    assert_eq!(table.wanted(), 1);
    let first = issuer.issue(&mut table).unwrap();
    assert_eq!(first.sequence.into_inner(), 1);
    assert_eq!(first.retire_prior_to.into_inner(), 0);
    assert_eq!(first.id.len(), 8);
    assert_eq!(first.reset_token, issuer.key.token(&first.id).into_bytes());
    assert_eq!(issuer.issue(&mut table), None);
    table.set_peer_limit(4);
    assert_eq!(table.wanted(), 2);
    let sequences: Vec<u64> = (0..2)
        .map(|_| issuer.issue(&mut table).unwrap().sequence.into_inner())
        .collect();
    assert_eq!(sequences, [2, 3]);
    assert_eq!(issuer.issue(&mut table), None);
    assert_eq!(table.active().len(), 4);
}

/// Our own cap wins when it is below the peer's limit.
#[test]
fn local_cap_bounds_issuance() {
    let mut issuer = Issuer::new();
    let mut table = issuer.table(3);
    table.set_peer_limit(u64::MAX);
    assert_eq!(table.limit(), 3);
    while issuer.issue(&mut table).is_some() {}
    assert_eq!(table.active().len(), 3);
}

/// RFC 9000 §5.1: the same ID is never issued twice on a connection.
#[test]
fn local_refuses_duplicate_ids() {
    let issuer = Issuer::new();
    let mut table = issuer.table(8);
    table.set_peer_limit(8);
    assert!(table.issue_with(cid(0xaa), token(1)).is_none());
    assert!(table.issue_with(ConnectionId::EMPTY, token(1)).is_none());
    assert!(table.issue_with(cid(1), token(1)).is_some());
    assert!(table.issue_with(cid(1), token(2)).is_none());
}

/// RFC 9000 §19.16: retiring a sequence number never issued is a
/// PROTOCOL_VIOLATION.
#[test]
fn local_retire_of_unissued_sequence() {
    let mut issuer = Issuer::new();
    let mut table = issuer.table(8);
    issuer.issue(&mut table).unwrap();
    let err = table.on_retire(2, &cid(0xaa)).unwrap_err();
    assert_eq!(err.code, TransportErrorCode::PROTOCOL_VIOLATION);
    assert_eq!(err.frame_type, Some(0x19));
}

/// RFC 9000 §19.16: a RETIRE_CONNECTION_ID must not retire the ID its own
/// packet was sent to.
#[test]
fn local_retire_of_the_packets_own_cid() {
    let issuer = Issuer::new();
    let mut table = issuer.table(8);
    assert_eq!(
        code(table.on_retire(0, &cid(0xaa))),
        TransportErrorCode::PROTOCOL_VIOLATION
    );
}

/// RFC 9000 §5.1.1, §19.16: a retirement frees the ID for the routing table
/// and makes room for a replacement; repeats are harmless.
#[test]
fn local_retire_and_replace() {
    let mut issuer = Issuer::new();
    let mut table = issuer.table(8);
    let one = issuer.issue(&mut table).unwrap();
    assert_eq!(table.wanted(), 0);
    assert_eq!(table.on_retire(0, &one.id), Ok(Some(cid(0xaa))));
    assert_eq!(table.on_retire(0, &one.id), Ok(None));
    assert_eq!(table.wanted(), 1);
    let two = issuer.issue(&mut table).unwrap();
    assert_eq!(two.sequence.into_inner(), 2);
    assert_eq!(
        table.active().map(|id| id.sequence).collect::<Vec<_>>(),
        [1, 2]
    );
    // Retired IDs are not retransmitted.
    assert_eq!(table.new_connection_id_frame(0), None);
    assert_eq!(table.new_connection_id_frame(2), Some(two));
}

/// RFC 9000 §5.1.2: rotation asks the peer to retire everything issued so
/// far; a second rotation waits until that has happened.
#[test]
fn local_rotation() {
    let mut issuer = Issuer::new();
    let mut table = issuer.table(8);
    table.set_peer_limit(2);
    issuer.issue(&mut table).unwrap();
    assert!(table.rotate());
    assert_eq!(table.retire_prior_to(), 2);
    assert_eq!(table.wanted(), 2);
    let a = issuer.issue(&mut table).unwrap();
    let b = issuer.issue(&mut table).unwrap();
    assert_eq!(a.retire_prior_to.into_inner(), 2);
    assert_eq!(b.sequence.into_inner(), 3);
    assert_eq!(issuer.issue(&mut table), None);
    // The old IDs stay routable until retired; the table holds 2 × limit.
    assert_eq!(table.active().len(), 4);
    assert!(!table.rotate());
    assert_eq!(table.new_connection_id_frame(1), None);
    assert!(table.on_retire(0, &a.id).unwrap().is_some());
    assert!(!table.rotate());
    assert!(table.on_retire(1, &a.id).unwrap().is_some());
    assert!(table.rotate());
}

/// RFC 9000 §5.1.1, §19.16: an endpoint using a zero-length ID issues none
/// and treats RETIRE_CONNECTION_ID as a PROTOCOL_VIOLATION.
#[test]
fn local_zero_length() {
    let mut issuer = Issuer::new();
    let mut table = LocalCids::new(ConnectionId::EMPTY, token(0), 8);
    table.set_peer_limit(8);
    assert_eq!(table.wanted(), 0);
    assert_eq!(issuer.issue(&mut table), None);
    assert!(!table.rotate());
    assert_eq!(
        code(table.on_retire(0, &ConnectionId::EMPTY)),
        TransportErrorCode::PROTOCOL_VIOLATION
    );
}

/// RFC 9000 §5.1.1: a zero-length generator cannot feed NEW_CONNECTION_ID.
#[test]
fn local_zero_length_generator_issues_nothing() {
    let mut issuer = Issuer::new();
    issuer.generator = RandomConnectionIdGenerator::new(0).unwrap();
    let mut table = issuer.table(8);
    assert_eq!(issuer.issue(&mut table), None);
}

/// RFC 9000 §19.15: a repeated frame is not an error.
#[test]
fn remote_accepts_repeats() {
    let mut table = RemoteCids::new(cid(0xbb), 4);
    table.on_new_connection_id(&ncid(1, 0)).unwrap();
    table.on_new_connection_id(&ncid(1, 0)).unwrap();
    assert_eq!(table.active_count(), 2);
    assert_eq!(table.spare(), 1);
    assert_eq!(table.current(), cid(0xbb));
}

/// RFC 9000 §19.15: a sequence number reused for another ID or token, or an
/// ID or token reused under another sequence number, is a
/// PROTOCOL_VIOLATION.
#[test]
fn remote_conflicting_duplicates() {
    let mut table = RemoteCids::new(cid(0xbb), 4);
    table.on_new_connection_id(&ncid(1, 0)).unwrap();
    let mut other_cid = ncid(1, 0);
    other_cid.id = cid(9);
    let mut other_token = ncid(1, 0);
    other_token.reset_token = [0xee; 16];
    let mut moved = ncid(1, 0);
    moved.sequence = VarInt::from_u32(2);
    let mut token_reused = ncid(2, 0);
    token_reused.reset_token = ncid(1, 0).reset_token;
    for frame in [other_cid, other_token, moved, token_reused] {
        let err = table.on_new_connection_id(&frame).unwrap_err();
        assert_eq!(err.code, TransportErrorCode::PROTOCOL_VIOLATION);
        assert_eq!(err.frame_type, Some(0x18));
    }
    // The handshake ID cannot come back under a new sequence number.
    let mut handshake = ncid(3, 0);
    handshake.id = cid(0xbb);
    assert_eq!(
        code(table.on_new_connection_id(&handshake)),
        TransportErrorCode::PROTOCOL_VIOLATION
    );
}

/// RFC 9000 §5.1.1: more active IDs than our limit is a
/// CONNECTION_ID_LIMIT_ERROR.
#[test]
fn remote_limit() {
    let mut table = RemoteCids::new(cid(0xbb), 3);
    table.on_new_connection_id(&ncid(1, 0)).unwrap();
    table.on_new_connection_id(&ncid(2, 0)).unwrap();
    assert_eq!(
        code(table.on_new_connection_id(&ncid(3, 0))),
        TransportErrorCode::CONNECTION_ID_LIMIT_ERROR
    );
    assert_eq!(table.active_count(), 3);
}

/// RFC 9000 §5.1.1: the limit is checked after retiring, so a frame that
/// retires enough may bring the count to the limit.
#[test]
fn remote_limit_counts_after_retirement() {
    let mut table = RemoteCids::new(cid(0xbb), 2);
    table.on_new_connection_id(&ncid(1, 0)).unwrap();
    table.on_new_connection_id(&ncid(2, 1)).unwrap();
    assert_eq!(
        table.active().map(|id| id.sequence).collect::<Vec<_>>(),
        [1, 2]
    );
}

/// RFC 9000 §5.1.2: Retire Prior To retires the older IDs, including the
/// current one, which is replaced by the lowest remaining ID.
#[test]
fn remote_retire_prior_to_replaces_current() {
    let mut table = RemoteCids::new(cid(0xbb), 4);
    table.on_new_connection_id(&ncid(1, 0)).unwrap();
    table.on_new_connection_id(&ncid(2, 0)).unwrap();
    table.on_new_connection_id(&ncid(3, 2)).unwrap();
    assert_eq!(table.current_sequence(), 2);
    assert_eq!(table.current(), ncid(2, 0).id);
    let mut sent = Vec::new();
    while let Some(frame) = table.poll_retire() {
        sent.push(frame.sequence.into_inner());
    }
    assert_eq!(sent, [0, 1]);
    assert!(!table.has_pending_retire());
    // Smaller values later have no effect (§19.15).
    table.on_new_connection_id(&ncid(4, 1)).unwrap();
    assert_eq!(table.poll_retire(), None);
    assert_eq!(table.active_count(), 3);
}

/// RFC 9000 §19.15: an ID with a sequence number below the largest Retire
/// Prior To is retired at once, and only once.
#[test]
fn remote_late_id_is_retired_immediately() {
    let mut table = RemoteCids::new(cid(0xbb), 4);
    table.on_new_connection_id(&ncid(3, 2)).unwrap();
    assert_eq!(table.poll_retire().unwrap().sequence.into_inner(), 0);
    table.on_new_connection_id(&ncid(1, 0)).unwrap();
    assert_eq!(table.active_count(), 1);
    assert_eq!(table.poll_retire().unwrap().sequence.into_inner(), 1);
    table.on_retire_acked(1);
    table.on_new_connection_id(&ncid(1, 0)).unwrap();
    assert_eq!(table.poll_retire(), None);
    assert_eq!(table.retiring_count(), 1);
}

/// RFC 9000 §5.1.2: retirements are repeated until acknowledged.
#[test]
fn remote_retirements_survive_loss() {
    let mut table = RemoteCids::new(cid(0xbb), 4);
    table.on_new_connection_id(&ncid(1, 1)).unwrap();
    assert_eq!(table.poll_retire().unwrap().sequence.into_inner(), 0);
    assert_eq!(table.poll_retire(), None);
    table.on_retire_lost(0);
    assert!(table.has_pending_retire());
    assert_eq!(table.poll_retire().unwrap().sequence.into_inner(), 0);
    table.on_retire_acked(0);
    assert_eq!(table.retiring_count(), 0);
}

/// RFC 9000 §5.1.2: a peer raising Retire Prior To faster than our
/// retirements are acknowledged cannot grow the table: past twice the limit
/// it is a CONNECTION_ID_LIMIT_ERROR, found before the frame that breaks
/// the bound changes anything.
#[test]
fn remote_retire_prior_to_flood_stays_bounded() {
    let mut table = RemoteCids::new(cid(0xbb), 2);
    let mut result = Ok(());
    let mut sequence = 1;
    while result.is_ok() && sequence < 1000 {
        result = table.on_new_connection_id(&ncid(sequence, sequence));
        assert!(table.retiring_count() <= 4, "{}", table.retiring_count());
        assert!(table.active_count() <= 2);
        sequence += 1;
    }
    assert_eq!(code(result), TransportErrorCode::CONNECTION_ID_LIMIT_ERROR);
    assert!(sequence <= 7, "{sequence}");
}

/// The same flood is fine when our retirements get through.
#[test]
fn remote_rotation_with_acknowledged_retirements() {
    let mut table = RemoteCids::new(cid(0xbb), 2);
    for sequence in 1..1000 {
        table
            .on_new_connection_id(&ncid(sequence, sequence))
            .unwrap();
        while let Some(frame) = table.poll_retire() {
            table.on_retire_acked(frame.sequence.into_inner());
        }
        assert_eq!(table.current_sequence(), sequence);
    }
    assert_eq!(table.active_count(), 1);
}

/// RFC 9000 §5.1.2, §9.5: switching to a spare ID retires the old one; a
/// late copy of the retired ID's frame does not revive it.
#[test]
fn remote_retire_current() {
    let mut table = RemoteCids::new(cid(0xbb), 4);
    assert_eq!(table.retire_current(), None);
    table.on_new_connection_id(&ncid(1, 0)).unwrap();
    table.on_new_connection_id(&ncid(2, 0)).unwrap();
    assert_eq!(table.retire_current(), Some(ncid(1, 0).id));
    assert_eq!(table.retire_current(), Some(ncid(2, 0).id));
    assert_eq!(table.retire_current(), None);
    assert_eq!(table.current_sequence(), 2);
    let retired: Vec<u64> = std::iter::from_fn(|| table.poll_retire())
        .map(|frame| frame.sequence.into_inner())
        .collect();
    assert_eq!(retired, [0, 1]);
    table.on_retire_acked(0);
    table.on_retire_acked(1);
    table.on_new_connection_id(&ncid(1, 0)).unwrap();
    assert_eq!(table.active_count(), 1);
    assert_eq!(table.poll_retire(), None);
}

/// RFC 9000 §19.15: NEW_CONNECTION_ID to an endpoint that sends to a
/// zero-length ID is a PROTOCOL_VIOLATION.
#[test]
fn remote_zero_length() {
    let mut table = RemoteCids::new(ConnectionId::EMPTY, 4);
    assert_eq!(
        code(table.on_new_connection_id(&ncid(1, 0))),
        TransportErrorCode::PROTOCOL_VIOLATION
    );
    table.set_initial(cid(0xcc));
    assert_eq!(table.current(), cid(0xcc));
    table.on_new_connection_id(&ncid(1, 0)).unwrap();
}

/// RFC 9000 §19.15: Retire Prior To above the sequence number.
#[test]
fn remote_retire_prior_to_above_sequence() {
    let mut table = RemoteCids::new(cid(0xbb), 4);
    let mut frame = ncid(1, 0);
    frame.retire_prior_to = VarInt::from_u32(2);
    assert_eq!(
        code(table.on_new_connection_id(&frame)),
        TransportErrorCode::FRAME_ENCODING_ERROR
    );
}

/// RFC 9000 §10.3.1: only tokens of used, unretired IDs detect resets.
#[test]
fn remote_reset_detection() {
    let mut rng = Rng::seed_from_u64(3);
    let mut table = RemoteCids::new(cid(0xbb), 4);
    let initial = token(0x77);
    table.set_initial_reset_token(initial);
    table.on_new_connection_id(&ncid(1, 0)).unwrap();
    let spare = ResetToken::from(ncid(1, 0).reset_token);
    let reset =
        |rng: &mut Rng, token: &ResetToken| build_stateless_reset(rng, token, 100, 100).unwrap();
    assert!(table.is_stateless_reset(&reset(&mut rng, &initial)));
    // The spare is unused: its token does not count yet.
    assert!(!table.is_stateless_reset(&reset(&mut rng, &spare)));
    table.retire_current().unwrap();
    assert!(table.is_stateless_reset(&reset(&mut rng, &spare)));
    // The retired ID's token no longer counts.
    assert!(!table.is_stateless_reset(&reset(&mut rng, &initial)));
    assert_eq!(table.reset_tokens().count(), 1);
}

proptest! {
    /// Whatever NEW_CONNECTION_ID frames a peer sends, with or without our
    /// retirements getting through, the table stays within its bounds and
    /// always has a current ID while it has not failed.
    #[test]
    fn remote_bounded_under_arbitrary_frames(
        frames in proptest::collection::vec((0u64..40, 0u64..40, any::<bool>()), 0..200),
        limit in 2u64..6,
    ) {
        let mut table = RemoteCids::new(cid(0xbb), limit);
        let limit = usize::try_from(limit).unwrap();
        for (sequence, retire_prior_to, ack) in frames {
            let frame = ncid(sequence, retire_prior_to.min(sequence));
            let failed = table.on_new_connection_id(&frame).is_err();
            // Bounded even by the frame that fails.
            prop_assert!(table.retiring_count() <= 2 * limit);
            if failed {
                break;
            }
            prop_assert!(table.active_count() <= limit);
            prop_assert!(table.retiring_count() <= 2 * limit);
            prop_assert!(table.retired.len() <= 2 * limit);
            prop_assert!(table.active().any(|id| id.sequence == table.current_sequence()));
            if ack {
                while let Some(frame) = table.poll_retire() {
                    table.on_retire_acked(frame.sequence.into_inner());
                }
            }
        }
    }

    /// The local table never holds more than twice its limit, whatever the
    /// peer retires.
    #[test]
    fn local_bounded_under_arbitrary_retirements(
        ops in proptest::collection::vec((0u64..30, any::<bool>()), 0..200),
    ) {
        let mut issuer = Issuer::new();
        let mut table = issuer.table(4);
        table.set_peer_limit(3);
        for (sequence, rotate) in ops {
            if rotate {
                table.rotate();
            }
            while issuer.issue(&mut table).is_some() {}
            let _ = table.on_retire(sequence, &ConnectionId::EMPTY);
            prop_assert!(table.active().len() <= 6);
            prop_assert!(table.wanted() <= 3);
        }
    }
}
