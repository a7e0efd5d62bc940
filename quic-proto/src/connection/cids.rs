//! The connection IDs of one connection (RFC 9000 §5.1.1, §5.1.2, §19.15,
//! §19.16): [`LocalCids`], the IDs we issued to the peer, and
//! [`RemoteCids`], the IDs the peer issued to us.
//!
//! Both tables are bounded whatever the peer sends (DESIGN.md rule 5):
//! `LocalCids` holds at most twice the number of IDs we allow to be active,
//! `RemoteCids` at most our `active_connection_id_limit` active IDs plus
//! twice that many retirements in progress.

use crate::cid::{ConnectionId, ConnectionIdGenerator};
use crate::coding::VarInt;
use crate::error::TransportError;
use crate::frame::{FrameType, NewConnectionId, RetireConnectionId};
use crate::rand::Rng;
use crate::range_set::RangeSet;
use crate::reset::{ResetKey, ResetToken, is_stateless_reset};

/// The default for `active_connection_id_limit` (RFC 9000 §18.2), which is
/// also its minimum.
const DEFAULT_ACTIVE_LIMIT: u64 = 2;
/// How often [`LocalCids::issue`] asks the generator again when it returns
/// an ID already active on this connection.
const GENERATE_ATTEMPTS: usize = 8;

/// One connection ID we issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalCid {
    /// Its sequence number (§5.1.1): 0 for the handshake ID, 1 for the
    /// preferred address ID if any, then one more for each new ID.
    pub sequence: u64,
    /// The ID.
    pub cid: ConnectionId,
    /// Its stateless reset token (§10.3).
    pub reset_token: ResetToken,
}

/// The connection IDs we issued to the peer and that it has not retired
/// (RFC 9000 §5.1.1): the peer may address packets to any of them, and the
/// endpoint routes all of them to this connection.
///
/// We keep up to `min(peer's active_connection_id_limit, our cap)` of them
/// active, and can rotate them all with Retire Prior To (§5.1.2). IDs below
/// the Retire Prior To we announced stay here, and stay routable, until the
/// peer retires them.
#[derive(Debug, Clone)]
pub struct LocalCids {
    /// Ascending by sequence number.
    active: Vec<LocalCid>,
    next_sequence: u64,
    retire_prior_to: u64,
    peer_limit: u64,
    max_active: usize,
    /// We use a zero-length ID: nothing to issue, nothing to retire.
    zero_length: bool,
}

impl LocalCids {
    /// The table after the handshake ID (sequence 0, the Source Connection
    /// ID of our first long-header packet) with its reset token. We keep at
    /// most `max_active` IDs active (at least 1).
    pub fn new(
        initial_cid: ConnectionId,
        initial_reset_token: ResetToken,
        max_active: usize,
    ) -> Self {
        Self {
            active: vec![LocalCid {
                sequence: 0,
                cid: initial_cid,
                reset_token: initial_reset_token,
            }],
            next_sequence: 1,
            retire_prior_to: 0,
            peer_limit: DEFAULT_ACTIVE_LIMIT,
            max_active: max_active.max(1),
            zero_length: initial_cid.is_empty(),
        }
    }

    /// Records the peer's `active_connection_id_limit` transport parameter.
    pub fn set_peer_limit(&mut self, limit: u64) {
        self.peer_limit = limit;
    }

    /// How many IDs may be active (not counting those being rotated out):
    /// the peer's limit or our cap, whichever is smaller.
    pub fn limit(&self) -> usize {
        usize::try_from(self.peer_limit).map_or(self.max_active, |peer| peer.min(self.max_active))
    }

    /// How many more IDs the peer can take now (§5.1.1: "MUST NOT provide
    /// more connection IDs than the peer's limit"). Zero when we use
    /// zero-length IDs (§5.1.1).
    pub fn wanted(&self) -> usize {
        if self.zero_length {
            return 0;
        }
        let current = self
            .active
            .iter()
            .filter(|id| id.sequence >= self.retire_prior_to)
            .count();
        self.limit().saturating_sub(current)
    }

    /// Issues one more ID if the peer can take it: asks `generator` for an ID
    /// not active on this connection, derives its reset token, and returns
    /// the NEW_CONNECTION_ID frame to send. The caller registers the ID with
    /// the endpoint; if the endpoint finds it in use by another connection it
    /// should choose the ID itself and call [`issue_with`](Self::issue_with).
    pub fn issue(
        &mut self,
        generator: &mut (impl ConnectionIdGenerator + ?Sized),
        rng: &mut Rng,
        reset_key: &ResetKey,
    ) -> Option<NewConnectionId> {
        if self.wanted() == 0 || generator.cid_len() == 0 {
            return None;
        }
        let cid = (0..GENERATE_ATTEMPTS)
            .map(|_| generator.generate(rng))
            .find(|cid| !self.active.iter().any(|id| id.cid == *cid))?;
        self.issue_with(cid, reset_key.token(&cid))
    }

    /// Issues `cid` with `reset_token`, if the peer can take another ID and
    /// `cid` is neither empty nor active already.
    pub fn issue_with(
        &mut self,
        cid: ConnectionId,
        reset_token: ResetToken,
    ) -> Option<NewConnectionId> {
        if self.wanted() == 0 || cid.is_empty() || self.active.iter().any(|id| id.cid == cid) {
            return None;
        }
        let sequence = VarInt::from_u64(self.next_sequence).ok()?;
        self.active.push(LocalCid {
            sequence: self.next_sequence,
            cid,
            reset_token,
        });
        self.next_sequence += 1;
        self.new_connection_id_frame(sequence.into_inner())
    }

    /// The NEW_CONNECTION_ID frame for an active ID, to retransmit a lost
    /// one; `None` once the peer retired it or we asked it to (then it needs
    /// no repair).
    pub fn new_connection_id_frame(&self, sequence: u64) -> Option<NewConnectionId> {
        let id = self.get(sequence)?;
        if id.sequence < self.retire_prior_to {
            return None;
        }
        Some(NewConnectionId {
            sequence: VarInt::from_u64(id.sequence).ok()?,
            retire_prior_to: VarInt::from_u64(self.retire_prior_to).ok()?,
            id: id.cid,
            reset_token: id.reset_token.into_bytes(),
        })
    }

    /// Asks the peer to retire every ID issued so far (§5.1.2): the next
    /// issued ID carries a Retire Prior To of the next sequence number, and
    /// [`wanted`](Self::wanted) becomes the full limit again. Refused
    /// (`false`) while IDs from an earlier rotation are still active, as
    /// §5.1.2 advises ("SHOULD NOT issue updates of the Retire Prior To field
    /// before receiving RETIRE_CONNECTION_ID frames that retire all connection
    /// IDs indicated by the previous Retire Prior To value"); that also keeps
    /// the table within twice the limit. Use it when the generator's
    /// [`lifetime`](ConnectionIdGenerator::lifetime) has passed.
    pub fn rotate(&mut self) -> bool {
        if self.zero_length
            || self
                .active
                .iter()
                .any(|id| id.sequence < self.retire_prior_to)
        {
            return false;
        }
        self.retire_prior_to = self.next_sequence;
        true
    }

    /// The Retire Prior To value we announce.
    pub fn retire_prior_to(&self) -> u64 {
        self.retire_prior_to
    }

    /// Handles a RETIRE_CONNECTION_ID frame (§19.16) that arrived in a packet
    /// addressed to `packet_dst_cid`. Returns the ID that stops being valid,
    /// which the endpoint removes from its routing table (and the connection
    /// should replace, §5.1.1), or `None` for a repeat.
    ///
    /// PROTOCOL_VIOLATION if we use zero-length IDs, if `sequence` was never
    /// issued, or if it names the ID the packet itself was sent to.
    pub fn on_retire(
        &mut self,
        sequence: u64,
        packet_dst_cid: &ConnectionId,
    ) -> Result<Option<ConnectionId>, TransportError> {
        let error = |reason: &'static str| {
            Err(TransportError::PROTOCOL_VIOLATION(reason)
                .with_frame_type(FrameType::RETIRE_CONNECTION_ID.into_inner()))
        };
        if self.zero_length {
            return error("RETIRE_CONNECTION_ID sent to a zero-length connection ID");
        }
        if sequence >= self.next_sequence {
            return error("RETIRE_CONNECTION_ID for a sequence number never issued");
        }
        let Some(index) = self.active.iter().position(|id| id.sequence == sequence) else {
            return Ok(None);
        };
        if self.active[index].cid == *packet_dst_cid {
            return error("RETIRE_CONNECTION_ID retires the packet's own connection ID");
        }
        Ok(Some(self.active.remove(index).cid))
    }

    /// The active ID with `sequence`.
    pub fn get(&self, sequence: u64) -> Option<&LocalCid> {
        self.active.iter().find(|id| id.sequence == sequence)
    }

    /// Every ID the peer may still use, ascending by sequence number: what
    /// the endpoint must route here (and forget when the connection ends).
    pub fn active(&self) -> impl ExactSizeIterator<Item = &LocalCid> + '_ {
        self.active.iter()
    }
}

/// One connection ID the peer issued to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteCid {
    /// The peer's sequence number for it.
    pub sequence: u64,
    /// The ID.
    pub cid: ConnectionId,
    /// Its stateless reset token; `None` for the handshake ID unless the
    /// server sent one in its transport parameters.
    pub reset_token: Option<ResetToken>,
    /// Whether we have sent packets to it (§10.3.1 only checks the tokens of
    /// IDs in use).
    used: bool,
}

/// A RETIRE_CONNECTION_ID frame not yet acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Retirement {
    sequence: u64,
    /// Sent and not declared lost.
    in_flight: bool,
}

/// The connection IDs the peer issued to us (RFC 9000 §5.1.2, §19.15): the
/// one we send to, the spares, and the retirements we owe.
///
/// Bounds: at most our `active_connection_id_limit` active IDs (more is
/// CONNECTION_ID_LIMIT_ERROR, §5.1.1) and at most twice that many
/// RETIRE_CONNECTION_ID frames awaiting acknowledgement. §5.1.2 allows
/// treating more as CONNECTION_ID_LIMIT_ERROR, and we do: a peer that keeps
/// raising Retire Prior To while our retirements cannot get through would
/// otherwise grow this table without end.
#[derive(Debug, Clone)]
pub struct RemoteCids {
    /// Ascending by sequence number; never empty for a well-behaved peer.
    active: Vec<RemoteCid>,
    current_sequence: u64,
    /// The ID we send to. Kept even if the peer wrongly retires everything,
    /// so a CONNECTION_CLOSE can still be addressed.
    current_cid: ConnectionId,
    largest_retire_prior_to: u64,
    limit: usize,
    max_retiring: usize,
    retiring: Vec<Retirement>,
    /// Sequence numbers we have retired, so a late copy of their
    /// NEW_CONNECTION_ID is not taken as a fresh ID.
    retired: RangeSet,
    /// The peer uses a zero-length ID (§19.15).
    zero_length: bool,
}

impl RemoteCids {
    /// The table after the handshake: `initial_cid` is the Source Connection
    /// ID of the peer's first long-header packet (sequence 0), and
    /// `local_limit` the `active_connection_id_limit` we advertised (at least
    /// 2, §18.2; it bounds this table's memory).
    pub fn new(initial_cid: ConnectionId, local_limit: u64) -> Self {
        let limit = usize::try_from(local_limit.max(DEFAULT_ACTIVE_LIMIT)).unwrap_or(usize::MAX);
        Self {
            active: vec![RemoteCid {
                sequence: 0,
                cid: initial_cid,
                reset_token: None,
                used: true,
            }],
            current_sequence: 0,
            current_cid: initial_cid,
            largest_retire_prior_to: 0,
            limit,
            max_retiring: limit.saturating_mul(2),
            retiring: Vec::new(),
            retired: RangeSet::new(),
            zero_length: initial_cid.is_empty(),
        }
    }

    /// Replaces the sequence-0 ID: a client learns the server's chosen ID
    /// from its first Initial or Retry packet (§7.2). Call only during the
    /// handshake, before any NEW_CONNECTION_ID frame.
    pub fn set_initial(&mut self, cid: ConnectionId) {
        if let Some(first) = self.active.iter_mut().find(|id| id.sequence == 0) {
            first.cid = cid;
        }
        if self.current_sequence == 0 {
            self.current_cid = cid;
        }
        self.zero_length = cid.is_empty();
    }

    /// Records the server's `stateless_reset_token` transport parameter for
    /// the handshake ID (§10.3; clients only).
    pub fn set_initial_reset_token(&mut self, token: ResetToken) {
        if let Some(first) = self.active.iter_mut().find(|id| id.sequence == 0) {
            first.reset_token = Some(token);
        }
    }

    /// The ID to put in the Destination Connection ID of packets we send.
    pub fn current(&self) -> ConnectionId {
        self.current_cid
    }

    /// The sequence number of [`current`](Self::current).
    pub fn current_sequence(&self) -> u64 {
        self.current_sequence
    }

    /// How many active IDs we have not used yet: the supply for migration.
    pub fn spare(&self) -> usize {
        self.active.iter().filter(|id| !id.used).count()
    }

    /// The number of active IDs.
    pub fn active_count(&self) -> usize {
        self.active.len()
    }

    /// The number of RETIRE_CONNECTION_ID frames not yet acknowledged.
    pub fn retiring_count(&self) -> usize {
        self.retiring.len()
    }

    /// Handles a NEW_CONNECTION_ID frame (§19.15, §5.1.1, §5.1.2).
    ///
    /// A repeat of a frame is fine. IDs below the Retire Prior To are retired
    /// (and the frame's own ID, if its sequence number is below the largest
    /// Retire Prior To seen); if that includes the current ID, the lowest
    /// remaining one becomes current. Retirements are queued for
    /// [`poll_retire`](Self::poll_retire).
    ///
    /// Errors: PROTOCOL_VIOLATION if the peer uses a zero-length ID, if a
    /// sequence number comes back with another ID or token, or an ID or token
    /// with another sequence number; CONNECTION_ID_LIMIT_ERROR past our
    /// limit or with too many retirements outstanding; FRAME_ENCODING_ERROR
    /// if Retire Prior To exceeds the sequence number.
    pub fn on_new_connection_id(&mut self, frame: &NewConnectionId) -> Result<(), TransportError> {
        let ty = FrameType::NEW_CONNECTION_ID.into_inner();
        if self.zero_length {
            return Err(TransportError::PROTOCOL_VIOLATION(
                "NEW_CONNECTION_ID from a peer using a zero-length connection ID",
            )
            .with_frame_type(ty));
        }
        let sequence = frame.sequence.into_inner();
        let retire_prior_to = frame.retire_prior_to.into_inner();
        if retire_prior_to > sequence {
            return Err(TransportError::FRAME_ENCODING_ERROR(
                "Retire Prior To above Sequence Number",
            )
            .with_frame_type(ty));
        }
        let token = ResetToken::from(frame.reset_token);
        let known = self.check_consistent(sequence, &frame.id, &token)?;
        // Checked before anything changes, so the queue never holds more
        // than its bound, even on the frame that breaks it.
        let retiring = self.retiring.len() + self.retirements_needed(sequence, retire_prior_to);
        if retiring > self.max_retiring {
            return Err(TransportError::CONNECTION_ID_LIMIT_ERROR(
                "too many connection IDs awaiting retirement",
            )
            .with_frame_type(ty));
        }
        if retire_prior_to > self.largest_retire_prior_to {
            self.largest_retire_prior_to = retire_prior_to;
            self.retire_below(retire_prior_to);
        }
        if sequence < self.largest_retire_prior_to {
            // §19.15: retire a late ID at once, unless done already.
            if !self.retired.contains(sequence) {
                self.queue_retire(sequence);
            }
        } else if !known && !self.retired.contains(sequence) {
            if self.active.len() >= self.limit {
                return Err(TransportError::CONNECTION_ID_LIMIT_ERROR(
                    "more active connection IDs than active_connection_id_limit",
                )
                .with_frame_type(ty));
            }
            self.insert(sequence, frame.id, token);
        }
        self.ensure_current().map_err(|e| e.with_frame_type(ty))
    }

    /// How many retirements a NEW_CONNECTION_ID with `sequence` and
    /// `retire_prior_to` would queue: the active IDs below the new Retire
    /// Prior To, and the frame's own ID if it comes late.
    fn retirements_needed(&self, sequence: u64, retire_prior_to: u64) -> usize {
        let below = retire_prior_to.max(self.largest_retire_prior_to);
        let active = self.active.iter().filter(|id| id.sequence < below).count();
        let known = self.active.iter().any(|id| id.sequence == sequence);
        let late = sequence < below && !known && !self.retired.contains(sequence);
        active + usize::from(late)
    }

    /// Checks the frame against the active IDs; `true` if it repeats one.
    fn check_consistent(
        &self,
        sequence: u64,
        cid: &ConnectionId,
        token: &ResetToken,
    ) -> Result<bool, TransportError> {
        let mut known = false;
        for id in &self.active {
            let same_sequence = id.sequence == sequence;
            let same_cid = id.cid == *cid;
            let same_token = id.reset_token.as_ref() == Some(token);
            if same_sequence && same_cid && same_token {
                known = true;
            } else if same_sequence || same_cid || same_token {
                return Err(TransportError::PROTOCOL_VIOLATION(
                    "NEW_CONNECTION_ID conflicts with an earlier one",
                )
                .with_frame_type(FrameType::NEW_CONNECTION_ID.into_inner()));
            }
        }
        Ok(known)
    }

    fn insert(&mut self, sequence: u64, cid: ConnectionId, token: ResetToken) {
        let index = self.active.partition_point(|id| id.sequence < sequence);
        self.active.insert(
            index,
            RemoteCid {
                sequence,
                cid,
                reset_token: Some(token),
                used: false,
            },
        );
    }

    /// Retires every active ID below `retire_prior_to` (§5.1.2).
    fn retire_below(&mut self, retire_prior_to: u64) {
        let count = self
            .active
            .partition_point(|id| id.sequence < retire_prior_to);
        let retired: Vec<u64> = self.active.drain(..count).map(|id| id.sequence).collect();
        for sequence in retired {
            self.queue_retire(sequence);
        }
    }

    /// Queues a RETIRE_CONNECTION_ID frame and remembers the retirement. The
    /// caller checks the queue's bound.
    fn queue_retire(&mut self, sequence: u64) {
        if !self.retiring.iter().any(|r| r.sequence == sequence) {
            self.retiring.push(Retirement {
                sequence,
                in_flight: false,
            });
        }
        self.retired.insert_one(sequence);
        // A compliant peer leaves only a few holes in the retired sequence
        // numbers; a peer that skips numbers could leave many. Past the bound
        // the lowest hole is filled: IDs in it then count as retired, which
        // only costs the misbehaving peer those IDs.
        while self.retired.len() > self.max_retiring.max(2) {
            let (Some(lowest), Some(next)) = (self.retired.pop_min(), self.retired.min()) else {
                break;
            };
            self.retired.insert(lowest.start..next);
        }
    }

    /// Makes sure the current ID is active, switching to the lowest active
    /// one if it was retired. PROTOCOL_VIOLATION if none is left, which a
    /// peer following §5.1.2 cannot cause.
    fn ensure_current(&mut self) -> Result<(), TransportError> {
        if self
            .active
            .iter()
            .any(|id| id.sequence == self.current_sequence)
        {
            return Ok(());
        }
        let Some(next) = self.active.first_mut() else {
            return Err(TransportError::PROTOCOL_VIOLATION(
                "every connection ID was retired without a replacement",
            ));
        };
        next.used = true;
        self.current_sequence = next.sequence;
        self.current_cid = next.cid;
        Ok(())
    }

    /// Moves to an unused ID and retires the current one (§5.1.2, §9.5: for
    /// migration, or to break linkability). Returns the new current ID, or
    /// `None` (and changes nothing) without a spare ID or room to queue the
    /// retirement.
    pub fn retire_current(&mut self) -> Option<ConnectionId> {
        if self.retiring.len() >= self.max_retiring {
            return None;
        }
        let next = self.active.iter_mut().find(|id| !id.used)?;
        next.used = true;
        let (old, sequence, cid) = (self.current_sequence, next.sequence, next.cid);
        self.current_sequence = sequence;
        self.current_cid = cid;
        self.active.retain(|id| id.sequence != old);
        self.queue_retire(old);
        Some(cid)
    }

    /// The next RETIRE_CONNECTION_ID frame to send, now counted as in flight.
    pub fn poll_retire(&mut self) -> Option<RetireConnectionId> {
        let pending = self.retiring.iter_mut().find(|r| !r.in_flight)?;
        pending.in_flight = true;
        Some(RetireConnectionId {
            sequence: VarInt::from_u64(pending.sequence).ok()?,
        })
    }

    /// Whether a RETIRE_CONNECTION_ID frame is waiting to be sent.
    pub fn has_pending_retire(&self) -> bool {
        self.retiring.iter().any(|r| !r.in_flight)
    }

    /// The peer acknowledged the RETIRE_CONNECTION_ID for `sequence`.
    pub fn on_retire_acked(&mut self, sequence: u64) {
        self.retiring.retain(|r| r.sequence != sequence);
    }

    /// The RETIRE_CONNECTION_ID for `sequence` was lost: send it again.
    pub fn on_retire_lost(&mut self, sequence: u64) {
        if let Some(r) = self.retiring.iter_mut().find(|r| r.sequence == sequence) {
            r.in_flight = false;
        }
    }

    /// The reset tokens to check an undecryptable datagram against
    /// (§10.3.1): those of active IDs we have used, never of unused or
    /// retired ones.
    pub fn reset_tokens(&self) -> impl Iterator<Item = &ResetToken> + '_ {
        self.active
            .iter()
            .filter(|id| id.used)
            .filter_map(|id| id.reset_token.as_ref())
    }

    /// Whether `datagram` is a Stateless Reset for this connection (§10.3.1),
    /// compared in constant time.
    pub fn is_stateless_reset(&self, datagram: &[u8]) -> bool {
        is_stateless_reset(datagram, self.reset_tokens())
    }

    /// The active IDs, ascending by sequence number.
    pub fn active(&self) -> impl ExactSizeIterator<Item = &RemoteCid> + '_ {
        self.active.iter()
    }
}

#[cfg(test)]
mod tests;
