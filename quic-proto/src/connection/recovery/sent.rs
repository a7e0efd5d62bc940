//! The packets sent in one packet number space and not yet acknowledged or
//! declared lost (`sent_packets[pn_space]`, RFC 9002 Appendix A.1).
//!
//! Packet numbers are sent in increasing order (RFC 9000 §12.3), so the store
//! is a ring buffer indexed by the offset of a packet number from the oldest
//! one still kept: inserting is a push at the back, finding a packet is an
//! index, and removing one leaves a hole that is reclaimed once every packet
//! before it is gone. Holes also stand for packet numbers the sender skipped
//! on purpose (RFC 9000 §21.4, to catch a peer that acknowledges packets it
//! never received); those are remembered apart, in a small bounded set, so
//! that an acknowledgment of one can be refused even after the ring has moved
//! past it.
//!
//! Memory follows the number of packets in flight: one slot per packet
//! number from the oldest outstanding packet to the newest sent. A skipped
//! number costs one slot too, so skips should be single numbers (or a few),
//! as they are in practice.

use std::collections::VecDeque;
use std::mem;
use std::ops::RangeInclusive;
use std::time::Instant;

use crate::coding::VarInt;
use crate::range_set::RangeSet;

/// How many ranges of deliberately skipped packet numbers a space remembers.
/// When more are skipped the oldest are forgotten: an acknowledgment of one
/// of those is then no longer detected, which weakens the check of
/// RFC 9000 §13.1 but never declares an honest peer faulty.
pub const MAX_SKIPPED_RANGES: usize = 32;

/// Above this many slots of capacity, an empty ring shrinks to a quarter of
/// it.
const SHRINK_THRESHOLD: usize = 4096;

/// What loss recovery keeps about one sent packet (RFC 9002 Appendix A.1.1).
///
/// `T` is what the packet carried, as the connection needs it to repeat the
/// information if the packet is lost or to release it once acknowledged
/// (RFC 9000 §13.3): stream ranges, flow control updates, ... The store
/// hands `info` back exactly once, on acknowledgment, loss or discard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentPacket<T> {
    /// When the packet was sent (`time_sent`).
    pub time_sent: Instant,
    /// The packet's size in bytes (`sent_bytes`): the QUIC header, payload and
    /// AEAD tag, without UDP or IP overhead. A QUIC packet never exceeds the
    /// 65,527-byte maximum UDP payload (RFC 9000 §18.2), so 16 bits suffice.
    pub size: u16,
    /// Whether the packet is ack-eliciting (RFC 9000 §13.2): it contains a
    /// frame other than ACK, PADDING and CONNECTION_CLOSE.
    pub ack_eliciting: bool,
    /// Whether the packet counts toward bytes in flight (RFC 9002 §2): it is
    /// ack-eliciting or contains PADDING. An ack-eliciting packet is always
    /// in flight; the store sets this flag for it if the caller did not.
    pub in_flight: bool,
    /// What the packet carried, for the connection.
    pub info: T,
}

/// One packet number of the ring.
#[derive(Debug, Clone)]
enum Slot<T> {
    /// Sent, neither acknowledged nor declared lost.
    Outstanding(SentPacket<T>),
    /// Acknowledged. Kept until the slots before it are gone, because
    /// persistent congestion needs to know whether an acknowledged packet was
    /// sent between two lost ones (RFC 9002 §7.6.2).
    Acked,
    /// Declared lost, or skipped by the sender.
    Gone,
}

/// What the store knows about one packet number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketState<'a, T> {
    /// Sent and neither acknowledged nor declared lost.
    Outstanding(&'a SentPacket<T>),
    /// Acknowledged, and still inside the ring (some older packet is still
    /// outstanding).
    Acked,
    /// Declared lost, skipped, discarded, not sent yet, or older than every
    /// outstanding packet.
    Removed,
}

/// The sent packets of one packet number space, in a ring buffer indexed by
/// packet number (see the module documentation).
#[derive(Debug, Clone)]
pub struct SentPackets<T> {
    /// `slots[i]` is packet number `base + i`.
    slots: VecDeque<Slot<T>>,
    /// The packet number of `slots[0]`. Always `next - slots.len()`.
    base: u64,
    /// One more than the largest packet number sent; 0 before any.
    next: u64,
    /// The largest packet number sent, if any.
    largest_sent: Option<u64>,
    /// Packet numbers skipped on purpose (bounded by [`MAX_SKIPPED_RANGES`]).
    skipped: RangeSet,
    /// How many slots are [`Slot::Outstanding`].
    outstanding: usize,
    /// How many outstanding packets are ack-eliciting.
    ack_eliciting_outstanding: usize,
    /// The sum of the sizes of the outstanding in-flight packets.
    bytes_in_flight: u64,
}

impl<T> Default for SentPackets<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> SentPackets<T> {
    /// An empty store; nothing sent yet.
    pub fn new() -> Self {
        Self {
            slots: VecDeque::new(),
            base: 0,
            next: 0,
            largest_sent: None,
            skipped: RangeSet::new(),
            outstanding: 0,
            ack_eliciting_outstanding: 0,
            bytes_in_flight: 0,
        }
    }

    /// Records packet `pn` as sent, in O(1) (amortized). Packet numbers
    /// between the previous one and `pn` are recorded as skipped.
    ///
    /// Hands the packet back if `pn` is not larger than every packet number
    /// sent before (RFC 9000 §12.3 forbids reuse) or is not below 2^62.
    pub fn insert(&mut self, pn: u64, mut packet: SentPacket<T>) -> Result<(), SentPacket<T>> {
        if pn < self.next || pn > VarInt::MAX.into_inner() {
            return Err(packet);
        }
        if pn > self.next {
            let Ok(gap) = usize::try_from(pn - self.next) else {
                return Err(packet);
            };
            self.note_skipped(self.next, pn);
            if self.slots.is_empty() {
                self.base = pn;
            } else {
                self.slots
                    .resize_with(self.slots.len() + gap, || Slot::Gone);
            }
        }
        packet.in_flight |= packet.ack_eliciting;
        self.outstanding += 1;
        self.ack_eliciting_outstanding += usize::from(packet.ack_eliciting);
        if packet.in_flight {
            self.bytes_in_flight += u64::from(packet.size);
        }
        self.slots.push_back(Slot::Outstanding(packet));
        self.next = pn + 1;
        self.largest_sent = Some(pn);
        Ok(())
    }

    /// Remembers that `start..end` were skipped, forgetting the oldest skips
    /// beyond the bound.
    fn note_skipped(&mut self, start: u64, end: u64) {
        self.skipped.insert(start..end);
        while self.skipped.len() > MAX_SKIPPED_RANGES {
            self.skipped.pop_min();
        }
    }

    /// The largest packet number sent in this space.
    pub fn largest_sent(&self) -> Option<u64> {
        self.largest_sent
    }

    /// The lowest packet number the ring still holds: every packet below it
    /// has been acknowledged, declared lost or discarded (or skipped). Equal
    /// to the next packet number when nothing is outstanding.
    pub fn lowest(&self) -> u64 {
        self.base
    }

    /// How many packets are outstanding.
    pub fn len(&self) -> usize {
        self.outstanding
    }

    /// Whether no packet is outstanding.
    pub fn is_empty(&self) -> bool {
        self.outstanding == 0
    }

    /// How many outstanding packets are ack-eliciting (and so in flight).
    pub fn ack_eliciting_in_flight(&self) -> usize {
        self.ack_eliciting_outstanding
    }

    /// The sum of the sizes of the outstanding in-flight packets.
    pub fn bytes_in_flight(&self) -> u64 {
        self.bytes_in_flight
    }

    /// The slot of `pn`, if the ring holds it.
    fn slot(&self, pn: u64) -> Option<&Slot<T>> {
        let index = usize::try_from(pn.checked_sub(self.base)?).ok()?;
        self.slots.get(index)
    }

    /// What is known about packet `pn`, in O(1).
    pub fn state(&self, pn: u64) -> PacketState<'_, T> {
        match self.slot(pn) {
            Some(Slot::Outstanding(packet)) => PacketState::Outstanding(packet),
            Some(Slot::Acked) => PacketState::Acked,
            Some(Slot::Gone) | None => PacketState::Removed,
        }
    }

    /// The outstanding packet `pn`, if there is one.
    pub fn get(&self, pn: u64) -> Option<&SentPacket<T>> {
        match self.slot(pn) {
            Some(Slot::Outstanding(packet)) => Some(packet),
            _ => None,
        }
    }

    /// Removes outstanding packet `pn` as acknowledged (`acked`) or lost.
    /// Returns `None` if `pn` is not outstanding. The slot stays in the ring
    /// until [`reclaim`](Self::reclaim).
    pub fn remove(&mut self, pn: u64, acked: bool) -> Option<SentPacket<T>> {
        let index = usize::try_from(pn.checked_sub(self.base)?).ok()?;
        let slot = self.slots.get_mut(index)?;
        if !matches!(slot, Slot::Outstanding(_)) {
            return None;
        }
        let marker = if acked { Slot::Acked } else { Slot::Gone };
        let Slot::Outstanding(packet) = mem::replace(slot, marker) else {
            return None;
        };
        self.outstanding -= 1;
        self.ack_eliciting_outstanding -= usize::from(packet.ack_eliciting);
        if packet.in_flight {
            self.bytes_in_flight -= u64::from(packet.size);
        }
        Some(packet)
    }

    /// Frees the slots in front of the oldest outstanding packet. Amortized
    /// O(1) per packet sent.
    pub fn reclaim(&mut self) {
        while matches!(self.slots.front(), Some(Slot::Acked | Slot::Gone)) {
            self.slots.pop_front();
            self.base += 1;
        }
        if self.slots.is_empty() {
            // Give back the memory of an unusually large window once it is
            // all acknowledged; below the threshold the capacity is kept, so
            // that steady traffic never allocates.
            if self.slots.capacity() > SHRINK_THRESHOLD {
                self.slots.shrink_to(SHRINK_THRESHOLD / 4);
            }
            self.base = self.next;
        }
    }

    /// The part of `range` that the ring holds, if any.
    pub fn clip(&self, range: RangeInclusive<u64>) -> Option<RangeInclusive<u64>> {
        let last = self.next.checked_sub(1)?;
        let start = (*range.start()).max(self.base);
        let end = (*range.end()).min(last);
        (start <= end).then_some(start..=end)
    }

    /// Whether `ranges` (largest first, as in an ACK frame) include a packet
    /// number that was never sent: one above the largest sent, or one skipped
    /// on purpose (RFC 9000 §13.1, §21.4). Walks the ranges and the skipped
    /// set once, together.
    pub fn includes_unsent(&self, mut ranges: impl Iterator<Item = RangeInclusive<u64>>) -> bool {
        let Some(largest) = self.largest_sent else {
            return ranges.next().is_some();
        };
        let mut skipped = self.skipped.iter().rev().peekable();
        for range in ranges {
            if *range.end() > largest {
                return true;
            }
            // Skipped ranges wholly above this one cannot meet later ranges.
            while skipped.next_if(|s| s.start > *range.end()).is_some() {}
            match skipped.peek() {
                None => return false,
                Some(s) if s.end > *range.start() => return true,
                Some(_) => {}
            }
        }
        false
    }

    /// Removes every outstanding packet (when the space's keys are
    /// discarded, RFC 9002 §6.4) and yields them with their packet numbers.
    /// The skipped numbers and the next packet number are kept.
    pub fn drain(&mut self) -> impl Iterator<Item = (u64, SentPacket<T>)> + '_ {
        let base = self.base;
        self.base = self.next;
        self.outstanding = 0;
        self.ack_eliciting_outstanding = 0;
        self.bytes_in_flight = 0;
        self.slots
            .drain(..)
            .zip(base..)
            .filter_map(|(slot, pn)| match slot {
                Slot::Outstanding(packet) => Some((pn, packet)),
                Slot::Acked | Slot::Gone => None,
            })
    }
}
