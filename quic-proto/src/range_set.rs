//! A set of disjoint half-open `u64` ranges, kept sorted and merged.
//!
//! Used for the packet numbers a connection has received (the ACK ranges of
//! RFC 9000 §13.2.3) and for the byte ranges of stream data acknowledged or
//! received. The set itself does not cap its size; callers that store
//! peer-controlled ranges bound it with [`RangeSet::len`] and
//! [`RangeSet::pop_min`], so that memory never grows with the peer's whims
//! (DESIGN.md rule 5).
//!
//! Backed by a sorted `Vec`: the sets QUIC keeps are small (tens of ranges),
//! where a vector's binary search and memmove beat a tree's allocations.

use std::ops::Range;

/// A sorted set of disjoint, non-adjacent half-open ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    ranges: Vec<Range<u64>>,
}

impl RangeSet {
    /// An empty set.
    pub const fn new() -> Self {
        Self { ranges: Vec::new() }
    }

    /// The number of disjoint ranges.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether the set holds no values.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether `value` is in the set.
    pub fn contains(&self, value: u64) -> bool {
        let i = self.ranges.partition_point(|r| r.end <= value);
        self.ranges.get(i).is_some_and(|r| r.start <= value)
    }

    /// Whether every value of `range` is in the set.
    pub fn contains_range(&self, range: Range<u64>) -> bool {
        if range.is_empty() {
            return true;
        }
        let i = self.ranges.partition_point(|r| r.end <= range.start);
        self.ranges
            .get(i)
            .is_some_and(|r| r.start <= range.start && range.end <= r.end)
    }

    /// Adds one value. Returns whether it was new.
    pub fn insert_one(&mut self, value: u64) -> bool {
        match value.checked_add(1) {
            Some(end) => self.insert(value..end),
            None => false,
        }
    }

    /// Adds every value of `range`. Returns whether any of them was new.
    pub fn insert(&mut self, range: Range<u64>) -> bool {
        if range.is_empty() {
            return false;
        }
        // The first range that ends at or after our start may touch us.
        let first = self.ranges.partition_point(|r| r.end < range.start);
        // Ranges from `first` up to `last` (exclusive) overlap or touch us.
        let last = first + self.ranges[first..].partition_point(|r| r.start <= range.end);
        if first == last {
            self.ranges.insert(first, range);
            return true;
        }
        let merged_start = self.ranges[first].start.min(range.start);
        let merged_end = self.ranges[last - 1].end.max(range.end);
        let new = last - first > 1
            || self.ranges[first].start > range.start
            || self.ranges[first].end < range.end;
        self.ranges[first] = merged_start..merged_end;
        self.ranges.drain(first + 1..last);
        new
    }

    /// Removes every value of `range`.
    pub fn remove(&mut self, range: Range<u64>) {
        if range.is_empty() {
            return;
        }
        let first = self.ranges.partition_point(|r| r.end <= range.start);
        let last = first + self.ranges[first..].partition_point(|r| r.start < range.end);
        if first == last {
            return;
        }
        let head = self.ranges[first].start..range.start;
        let tail = range.end..self.ranges[last - 1].end;
        let keep: [Range<u64>; 2] = [head, tail];
        let kept = keep.into_iter().filter(|r| !r.is_empty());
        self.ranges.splice(first..last, kept);
    }

    /// Removes and returns the lowest range.
    pub fn pop_min(&mut self) -> Option<Range<u64>> {
        if self.ranges.is_empty() {
            return None;
        }
        Some(self.ranges.remove(0))
    }

    /// The lowest value in the set.
    pub fn min(&self) -> Option<u64> {
        self.ranges.first().map(|r| r.start)
    }

    /// The highest value in the set.
    pub fn max(&self) -> Option<u64> {
        self.ranges.last().map(|r| r.end - 1)
    }

    /// The ranges in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Range<u64>> + ExactSizeIterator + '_ {
        self.ranges.iter().cloned()
    }

    /// Removes every value below `value`.
    pub fn remove_below(&mut self, value: u64) {
        self.remove(0..value);
    }
}

#[cfg(test)]
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn insert_merges_overlapping_and_adjacent() {
        let mut set = RangeSet::new();
        assert!(set.insert(10..20));
        assert!(set.insert(30..40));
        assert!(!set.insert(12..18));
        assert!(set.insert(20..30)); // touches both neighbours
        assert_eq!(set.iter().collect::<Vec<_>>(), [10..40]);
        assert!(set.insert(0..5));
        assert!(set.insert(50..51));
        assert_eq!(set.len(), 3);
        assert!(set.insert(4..60));
        assert_eq!(set.iter().collect::<Vec<_>>(), [0..60]);
        assert!(!set.insert(7..7));
        assert!(!set.insert_one(u64::MAX));
    }

    #[test]
    fn remove_splits() {
        let mut set = RangeSet::new();
        set.insert(0..100);
        set.remove(10..20);
        set.remove(50..50);
        assert_eq!(set.iter().collect::<Vec<_>>(), [0..10, 20..100]);
        set.remove(5..30);
        assert_eq!(set.iter().collect::<Vec<_>>(), [0..5, 30..100]);
        set.remove_below(40);
        assert_eq!(set.iter().collect::<Vec<_>>(), [40..100]);
        assert_eq!(set.min(), Some(40));
        assert_eq!(set.max(), Some(99));
        assert_eq!(set.pop_min(), Some(40..100));
        assert!(set.is_empty());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(Range<u64>),
        Remove(Range<u64>),
    }

    fn op() -> impl Strategy<Value = Op> {
        let range = (0u64..200, 0u64..20).prop_map(|(s, l)| s..s + l);
        prop_oneof![
            range.clone().prop_map(Op::Insert),
            range.prop_map(Op::Remove)
        ]
    }

    proptest! {
        /// The set agrees with a model `BTreeSet<u64>` after any sequence of
        /// operations, and its ranges stay sorted, disjoint and non-adjacent.
        #[test]
        fn matches_model(ops in proptest::collection::vec(op(), 0..60)) {
            let mut set = RangeSet::new();
            let mut model = BTreeSet::new();
            for op in ops {
                match op {
                    Op::Insert(r) => {
                        let new = r.clone().any(|v| !model.contains(&v));
                        prop_assert_eq!(set.insert(r.clone()), new);
                        model.extend(r);
                    }
                    Op::Remove(r) => {
                        set.remove(r.clone());
                        for v in r { model.remove(&v); }
                    }
                }
                let flat: Vec<u64> = set.iter().flatten().collect();
                prop_assert_eq!(&flat, &model.iter().copied().collect::<Vec<_>>());
                for pair in set.ranges.windows(2) {
                    prop_assert!(pair[0].end < pair[1].start);
                }
                for v in 0..220 {
                    prop_assert_eq!(set.contains(v), model.contains(&v));
                    let r = v..v + 7;
                    prop_assert_eq!(set.contains_range(r.clone()), r.clone().all(|x| model.contains(&x)));
                }
            }
        }
    }
}
