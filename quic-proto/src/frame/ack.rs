//! ACK frames (RFC 9000 §19.3): a zero-copy decoded form whose ranges are
//! validated once, and an encoder built from descending ranges.
//!
//! ```text
//! ACK Frame {
//!   Type (i) = 0x02..0x03,
//!   Largest Acknowledged (i),
//!   ACK Delay (i),
//!   ACK Range Count (i),
//!   First ACK Range (i),
//!   ACK Range (..) ...,
//!   [ECN Counts (..)],
//! }
//!
//! ACK Range {
//!   Gap (i),
//!   ACK Range Length (i),
//! }
//!
//! ECN Counts {
//!   ECT0 Count (i),
//!   ECT1 Count (i),
//!   ECN-CE Count (i),
//! }
//! ```

use std::fmt;
use std::iter::FusedIterator;
use std::ops::RangeInclusive;

use bytes::{Buf, BufMut, Bytes};

use super::{FrameErrorKind, FrameType};
use crate::coding::{BufExt, BufMutExt, VarInt, size_of_varint};

/// A decoded ACK frame (RFC 9000 §19.3).
///
/// The ACK Range fields stay in their wire form, borrowed from the packet
/// payload; decoding checked every one of them, so [`Ack::ranges`] can walk
/// them without failing. An `Ack` can only be made by decoding one; to send
/// an ACK frame, use [`AckEncoder`].
#[derive(Clone, PartialEq, Eq)]
pub struct Ack {
    largest: u64,
    delay: u64,
    first_range: u64,
    /// The ACK Range Count field: how many Gap/Length pairs `ranges` holds.
    extra_range_count: u64,
    /// The Gap/Length pairs, exactly as received.
    ranges: Bytes,
    smallest: u64,
    ecn: Option<EcnCounts>,
}

/// The ECN counts of an ACK frame of type 0x03 (RFC 9000 §19.3.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct EcnCounts {
    /// Packets received with the ECT(0) codepoint.
    pub ect0: u64,
    /// Packets received with the ECT(1) codepoint.
    pub ect1: u64,
    /// Packets received with the ECN-CE codepoint.
    pub ce: u64,
}

impl EcnCounts {
    fn decode(buf: &mut Bytes) -> Result<Self, FrameErrorKind> {
        Ok(Self {
            ect0: buf.get_var()?,
            ect1: buf.get_var()?,
            ce: buf.get_var()?,
        })
    }

    fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        for count in [self.ect0, self.ect1, self.ce] {
            out.put_var(VarInt::saturating_from_u64(count));
        }
    }

    fn encoded_len(&self) -> usize {
        size_of_varint(self.ect0) + size_of_varint(self.ect1) + size_of_varint(self.ce)
    }

    fn fits_varints(&self) -> bool {
        [self.ect0, self.ect1, self.ce]
            .iter()
            .all(|&count| count <= VarInt::MAX.into_inner())
    }
}

/// RFC 9000 §19.3.1: the range after one whose smallest packet number is
/// `prev_smallest`, as `(largest, smallest)`, or `None` if either would be
/// negative.
fn next_range(prev_smallest: u64, gap: u64, len: u64) -> Option<(u64, u64)> {
    // largest = previous_smallest - gap - 2; smallest = largest - ack_range
    let largest = prev_smallest.checked_sub(gap)?.checked_sub(2)?;
    Some((largest, largest.checked_sub(len)?))
}

impl Ack {
    /// Decodes the fields after the type; `ecn` says whether the type was
    /// 0x03. Every range is checked here, once (RFC 9000 §19.3.1).
    pub(super) fn decode(ecn: bool, buf: &mut Bytes) -> Result<Self, FrameErrorKind> {
        let largest = buf.get_var()?;
        let delay = buf.get_var()?;
        let extra_range_count = buf.get_var()?;
        let first_range = buf.get_var()?;
        let mut smallest = largest
            .checked_sub(first_range)
            .ok_or(FrameErrorKind::AckRangeUnderflow)?;
        // The count comes from the wire: nothing is allocated by it, and each
        // pass consumes at least two bytes or fails, so the work is bounded by
        // the payload length.
        let used = {
            let mut cursor: &[u8] = buf.chunk();
            let before = cursor.len();
            for _ in 0..extra_range_count {
                let gap = cursor.get_var()?;
                let len = cursor.get_var()?;
                let (_, next_smallest) =
                    next_range(smallest, gap, len).ok_or(FrameErrorKind::AckRangeUnderflow)?;
                smallest = next_smallest;
            }
            before - cursor.len()
        };
        let ranges = buf.split_to(used);
        let ecn = if ecn {
            Some(EcnCounts::decode(buf)?)
        } else {
            None
        };
        Ok(Self {
            largest,
            delay,
            first_range,
            extra_range_count,
            ranges,
            smallest,
            ecn,
        })
    }

    /// The frame type: 0x03 with ECN counts, 0x02 without.
    pub fn frame_type(&self) -> FrameType {
        if self.ecn.is_some() {
            FrameType::ACK_ECN
        } else {
            FrameType::ACK
        }
    }

    /// The Largest Acknowledged field.
    pub fn largest(&self) -> u64 {
        self.largest
    }

    /// The smallest packet number acknowledged by any range.
    pub fn smallest(&self) -> u64 {
        self.smallest
    }

    /// The ACK Delay field as sent: microseconds divided by 2 to the power of
    /// the sender's ack_delay_exponent (RFC 9000 §19.3, §18.2).
    pub fn delay(&self) -> u64 {
        self.delay
    }

    /// The ACK delay in microseconds given the sender's ack_delay_exponent,
    /// saturating at `u64::MAX`.
    pub fn delay_micros(&self, ack_delay_exponent: u8) -> u64 {
        let scale = 1u64
            .checked_shl(u32::from(ack_delay_exponent))
            .unwrap_or(u64::MAX);
        self.delay.saturating_mul(scale)
    }

    /// The ECN counts, present in frames of type 0x03.
    pub fn ecn(&self) -> Option<EcnCounts> {
        self.ecn
    }

    /// The number of ranges, including the first.
    pub fn range_count(&self) -> u64 {
        self.extra_range_count.saturating_add(1)
    }

    /// The acknowledged packet numbers as inclusive ranges, largest first.
    pub fn ranges(&self) -> AckRanges<'_> {
        AckRanges {
            // Decoding checked that the first range does not go below zero.
            next: Some((self.largest, self.largest.saturating_sub(self.first_range))),
            rest: &self.ranges,
        }
    }

    /// Appends the frame, with the ranges exactly as they were received.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        self.frame_type().encode(out);
        for field in [
            self.largest,
            self.delay,
            self.extra_range_count,
            self.first_range,
        ] {
            out.put_var(VarInt::saturating_from_u64(field));
        }
        out.put_slice(&self.ranges);
        if let Some(ecn) = &self.ecn {
            ecn.encode(out);
        }
    }

    /// The number of bytes [`Ack::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        1 + size_of_varint(self.largest)
            + size_of_varint(self.delay)
            + size_of_varint(self.extra_range_count)
            + size_of_varint(self.first_range)
            + self.ranges.len()
            + self.ecn.as_ref().map_or(0, EcnCounts::encoded_len)
    }
}

impl fmt::Debug for Ack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Ranges<'a>(&'a Ack);
        impl fmt::Debug for Ranges<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.0.ranges()).finish()
            }
        }
        f.debug_struct("Ack")
            .field("ranges", &Ranges(self))
            .field("delay", &self.delay)
            .field("ecn", &self.ecn)
            .finish()
    }
}

/// The ranges of an [`Ack`], largest first. See [`Ack::ranges`].
#[derive(Debug, Clone)]
pub struct AckRanges<'a> {
    /// The next range to yield, as `(largest, smallest)`.
    next: Option<(u64, u64)>,
    /// Gap/Length pairs not yet read.
    rest: &'a [u8],
}

impl AckRanges<'_> {
    fn read_next(&mut self, prev_smallest: u64) -> Option<(u64, u64)> {
        let gap = self.rest.get_var().ok()?;
        let len = self.rest.get_var().ok()?;
        next_range(prev_smallest, gap, len)
    }
}

impl Iterator for AckRanges<'_> {
    type Item = RangeInclusive<u64>;

    fn next(&mut self) -> Option<Self::Item> {
        let (largest, smallest) = self.next.take()?;
        if !self.rest.is_empty() {
            // Decoding validated every pair, so this never fails; if it did,
            // iteration would simply stop.
            self.next = self.read_next(smallest);
        }
        Some(smallest..=largest)
    }
}

impl FusedIterator for AckRanges<'_> {}

/// The ranges given to [`AckEncoder::new`] cannot be encoded: there are none,
/// one has its start above its end, a value is 2^62 or more, or they are not
/// in descending order with at least one packet number missing between
/// neighbours (RFC 9000 §19.3.1 has no way to express adjacent or
/// overlapping ranges).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidAckRanges;

impl fmt::Display for InvalidAckRanges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ACK ranges are empty, unordered, adjacent or out of bounds")
    }
}

impl std::error::Error for InvalidAckRanges {}

/// Writes an ACK frame from packet number ranges, largest first
/// (RFC 9000 §19.3, with the Gap and ACK Range Length arithmetic of
/// §19.3.1).
///
/// `I` is walked once to check the ranges and measure the frame, and again to
/// write it, so it must replay the same ranges when cloned (a `Rev` over a
/// `BTreeMap` iterator, a slice iterator, ...). Nothing is allocated.
///
/// ```
/// # use quic_proto::frame::AckEncoder;
/// let mut out = Vec::new();
/// let ack = AckEncoder::new([10..=12, 5..=7, 0..=1], 3, None).unwrap();
/// ack.encode(&mut out);
/// assert_eq!(out, [0x02, 12, 3, 2, 2, 1, 2, 2, 1]);
/// assert_eq!(ack.encoded_len(), out.len());
/// ```
#[derive(Debug, Clone)]
pub struct AckEncoder<I> {
    ranges: I,
    delay: u64,
    ecn: Option<EcnCounts>,
    /// How many ranges, largest first, are written.
    count: usize,
    len: usize,
}

impl<I: Iterator<Item = RangeInclusive<u64>> + Clone> AckEncoder<I> {
    /// Checks `ranges` (largest first) and measures the frame. `delay` is the
    /// ACK Delay field value, already divided by 2^ack_delay_exponent;
    /// `ecn` selects type 0x03 and carries its counts.
    pub fn new(
        ranges: impl IntoIterator<IntoIter = I>,
        delay: u64,
        ecn: Option<EcnCounts>,
    ) -> Result<Self, InvalidAckRanges> {
        let ranges = ranges.into_iter();
        if delay > VarInt::MAX.into_inner() || !ecn.as_ref().is_none_or(EcnCounts::fits_varints) {
            return Err(InvalidAckRanges);
        }
        let mut count = 0usize;
        let mut body = 0usize;
        for fields in Fields::new(ranges.clone()) {
            let (a, b) = fields?;
            body += size_of_varint(a) + size_of_varint(b);
            count += 1;
        }
        if count == 0 {
            return Err(InvalidAckRanges);
        }
        let mut encoder = Self {
            ranges,
            delay,
            ecn,
            count,
            len: 0,
        };
        encoder.len = encoder.fixed_len() + size_of_varint(count as u64 - 1) + body;
        Ok(encoder)
    }

    /// Drops the smallest ranges until the frame fits in `budget` bytes.
    /// Returns `None` if even the largest range alone does not fit.
    pub fn fit(mut self, budget: usize) -> Option<Self> {
        if self.len <= budget {
            return Some(self);
        }
        let fixed = self.fixed_len();
        let mut body = 0usize;
        let mut best = None;
        let fields = Fields::new(self.ranges.clone()).take(self.count);
        for (index, fields) in fields.enumerate() {
            let (a, b) = fields.ok()?;
            body += size_of_varint(a) + size_of_varint(b);
            // The ACK Range Count field holds `index` for `index + 1` ranges.
            let len = fixed + size_of_varint(index as u64) + body;
            if len > budget {
                break;
            }
            best = Some((index + 1, len));
        }
        (self.count, self.len) = best?;
        Some(self)
    }

    /// The number of ranges that will be written, including the first.
    pub fn range_count(&self) -> usize {
        self.count
    }

    /// The number of bytes [`AckEncoder::encode`] writes.
    pub fn encoded_len(&self) -> usize {
        self.len
    }

    /// Appends the ACK frame.
    pub fn encode<B: BufMut + ?Sized>(&self, out: &mut B) {
        let ty = if self.ecn.is_some() {
            FrameType::ACK_ECN
        } else {
            FrameType::ACK
        };
        ty.encode(out);
        let mut fields = Fields::new(self.ranges.clone()).take(self.count);
        // The first pair is (Largest Acknowledged, First ACK Range); the ACK
        // Delay and ACK Range Count fields go between them.
        let Some(Ok((largest, first_range))) = fields.next() else {
            return;
        };
        out.put_var(VarInt::saturating_from_u64(largest));
        out.put_var(VarInt::saturating_from_u64(self.delay));
        out.put_var(VarInt::saturating_from_u64(self.count as u64 - 1));
        out.put_var(VarInt::saturating_from_u64(first_range));
        for (gap, len) in fields.map_while(Result::ok) {
            out.put_var(VarInt::saturating_from_u64(gap));
            out.put_var(VarInt::saturating_from_u64(len));
        }
        if let Some(ecn) = &self.ecn {
            ecn.encode(out);
        }
    }

    /// Type, ACK Delay and ECN counts.
    fn fixed_len(&self) -> usize {
        1 + size_of_varint(self.delay) + self.ecn.as_ref().map_or(0, EcnCounts::encoded_len)
    }
}

/// Turns ranges (largest first) into the pairs of varints that encode them:
/// `(Largest Acknowledged, First ACK Range)`, then `(Gap, ACK Range Length)`
/// per further range (RFC 9000 §19.3.1), checking each range on the way.
#[derive(Debug, Clone)]
struct Fields<I> {
    ranges: I,
    prev_smallest: Option<u64>,
    failed: bool,
}

impl<I> Fields<I> {
    fn new(ranges: I) -> Self {
        Self {
            ranges,
            prev_smallest: None,
            failed: false,
        }
    }
}

impl<I: Iterator<Item = RangeInclusive<u64>>> Iterator for Fields<I> {
    type Item = Result<(u64, u64), InvalidAckRanges>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let range = self.ranges.next()?;
        let (smallest, largest) = (*range.start(), *range.end());
        let first = match self.prev_smallest {
            None => Some(largest),
            // gap = previous_smallest - largest - 2
            Some(prev) => prev.checked_sub(largest).and_then(|d| d.checked_sub(2)),
        };
        let valid = smallest <= largest && largest <= VarInt::MAX.into_inner();
        match first {
            Some(first) if valid => {
                self.prev_smallest = Some(smallest);
                Some(Ok((first, largest - smallest)))
            }
            _ => {
                self.failed = true;
                Some(Err(InvalidAckRanges))
            }
        }
    }
}
