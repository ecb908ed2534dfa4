//! A set of `u64` kept as sorted, disjoint, non-adjacent inclusive ranges.
//!
//! Broadcast values are the integers 0, 1, 2, … handed out by one counter, so the set a
//! node knows is almost one contiguous range with a few holes: storing and sending it as
//! ranges keeps summaries tiny (`[[0, 999]]` for a thousand values). On the wire a set is
//! a JSON array whose items are either a single integer or a pair `[lo, hi]` (both ends
//! included), in increasing order; decoding also accepts unsorted or overlapping items.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// Sorted disjoint inclusive ranges; two ranges never touch (they would be merged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    ranges: Vec<(u64, u64)>,
}

impl RangeSet {
    /// The empty set.
    pub fn new() -> RangeSet {
        RangeSet::default()
    }

    /// True if the set holds no value.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of values in the set (`u64::MAX` if there are more: the set of every
    /// `u64` has 2^64).
    pub fn len(&self) -> u64 {
        self.ranges.iter().fold(0u64, |n, (lo, hi)| {
            n.saturating_add((hi - lo).saturating_add(1))
        })
    }

    /// The ranges, in increasing order, both ends included.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    /// Empties the set, keeping its allocation.
    pub fn clear(&mut self) {
        self.ranges.clear();
    }

    /// Index of the first range whose upper end is at least `v`.
    fn first_reaching(&self, v: u64) -> usize {
        self.ranges.partition_point(|&(_, hi)| hi < v)
    }

    /// True if `v` is in the set.
    pub fn contains(&self, v: u64) -> bool {
        let i = self.first_reaching(v);
        self.ranges.get(i).is_some_and(|&(lo, _)| lo <= v)
    }

    /// Adds `v`; returns true if it was not there before.
    pub fn insert(&mut self, v: u64) -> bool {
        let i = self.first_reaching(v);
        if self.ranges.get(i).is_some_and(|&(lo, _)| lo <= v) {
            return false;
        }
        let joins_prev = i > 0 && self.ranges[i - 1].1 + 1 == v;
        let joins_next = self.ranges.get(i).is_some_and(|&(lo, _)| lo == v + 1);
        match (joins_prev, joins_next) {
            (true, true) => {
                self.ranges[i - 1].1 = self.ranges[i].1;
                self.ranges.remove(i);
            }
            (true, false) => self.ranges[i - 1].1 = v,
            (false, true) => self.ranges[i].0 = v,
            (false, false) => self.ranges.insert(i, (v, v)),
        }
        true
    }

    /// Adds every value of `lo..=hi` (nothing if `lo > hi`).
    pub fn insert_range(&mut self, lo: u64, hi: u64) {
        if lo > hi {
            return;
        }
        // Fast path: appending past the end, the usual case for increasing values.
        match self.ranges.last_mut() {
            None => {
                self.ranges.push((lo, hi));
                return;
            }
            Some(last) if last.1 < lo => {
                if last.1 + 1 == lo {
                    last.1 = hi;
                } else {
                    self.ranges.push((lo, hi));
                }
                return;
            }
            Some(_) => {}
        }
        // Ranges from `start` to `end` (exclusive) overlap or touch lo..=hi.
        let start = self
            .ranges
            .partition_point(|&(_, h)| h.saturating_add(1) < lo);
        let end = self
            .ranges
            .partition_point(|&(l, _)| l <= hi.saturating_add(1));
        if start == end {
            self.ranges.insert(start, (lo, hi));
            return;
        }
        let merged = (lo.min(self.ranges[start].0), hi.max(self.ranges[end - 1].1));
        self.ranges[start] = merged;
        self.ranges.drain(start + 1..end);
    }

    /// Adds every value of `other`.
    pub fn union_with(&mut self, other: &RangeSet) {
        for &(lo, hi) in &other.ranges {
            self.insert_range(lo, hi);
        }
    }

    /// Removes `v`; returns true if it was there.
    pub fn remove(&mut self, v: u64) -> bool {
        let i = self.first_reaching(v);
        let Some(&(lo, hi)) = self.ranges.get(i) else {
            return false;
        };
        if v < lo {
            return false;
        }
        match (lo == v, hi == v) {
            (true, true) => {
                self.ranges.remove(i);
            }
            (true, false) => self.ranges[i].0 = v + 1,
            (false, true) => self.ranges[i].1 = v - 1,
            (false, false) => {
                self.ranges[i].1 = v - 1;
                self.ranges.insert(i + 1, (v + 1, hi));
            }
        }
        true
    }

    /// Replaces the contents of `out` with `self ∖ other`.
    pub fn difference_into(&self, other: &RangeSet, out: &mut RangeSet) {
        out.clear();
        let theirs = &other.ranges;
        let mut j = 0;
        for &(lo, hi) in &self.ranges {
            while j < theirs.len() && theirs[j].1 < lo {
                j += 1;
            }
            // Walk the ranges of `other` that overlap lo..=hi, keeping the gaps.
            let mut from = lo;
            let mut k = j;
            loop {
                match theirs.get(k) {
                    Some(&(olo, ohi)) if olo <= hi => {
                        if olo > from {
                            out.ranges.push((from, olo - 1));
                        }
                        if ohi >= hi {
                            break;
                        }
                        from = ohi + 1;
                        k += 1;
                    }
                    _ => {
                        out.ranges.push((from, hi));
                        break;
                    }
                }
            }
        }
    }

    /// Removes every value of `other` from the set.
    pub fn subtract(&mut self, other: &RangeSet) {
        if self.is_empty() || other.is_empty() {
            return;
        }
        let mut out = RangeSet::new();
        self.difference_into(other, &mut out);
        *self = out;
    }

    /// The values in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.ranges.iter().flat_map(|&(lo, hi)| lo..=hi)
    }

    /// Rebuilds the set from values in any order (duplicates allowed), reusing the
    /// allocation. `scratch` is sorted in place.
    pub fn assign_from(&mut self, scratch: &mut [u64]) {
        self.clear();
        scratch.sort_unstable();
        for &v in scratch.iter() {
            self.insert_range(v, v);
        }
    }

    /// A serializer for the values one by one, as a plain JSON array of integers.
    pub fn as_values(&self) -> Values<'_> {
        Values(self)
    }
}

impl FromIterator<u64> for RangeSet {
    fn from_iter<I: IntoIterator<Item = u64>>(iter: I) -> RangeSet {
        let mut set = RangeSet::new();
        for v in iter {
            set.insert_range(v, v);
        }
        set
    }
}

/// Serializes a [`RangeSet`] as a flat JSON array of its values (for `read_ok`).
pub struct Values<'a>(&'a RangeSet);

impl Serialize for Values<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let len = usize::try_from(self.0.len()).ok();
        let mut seq = s.serialize_seq(len)?;
        for v in self.0.iter() {
            seq.serialize_element(&v)?;
        }
        seq.end()
    }
}

impl Serialize for RangeSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.ranges.len()))?;
        for &(lo, hi) in &self.ranges {
            if lo == hi {
                seq.serialize_element(&lo)?;
            } else {
                seq.serialize_element(&[lo, hi])?;
            }
        }
        seq.end()
    }
}

/// One wire item: a value or an inclusive pair.
struct Item(u64, u64);

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Item, D::Error> {
        struct ItemVisitor;
        impl<'de> Visitor<'de> for ItemVisitor {
            type Value = Item;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a non-negative integer or a pair [lo, hi] with lo <= hi")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Item, E> {
                Ok(Item(v, v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Item, A::Error> {
                let lo: u64 = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let hi: u64 = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &self));
                }
                if lo > hi {
                    return Err(de::Error::custom(format!(
                        "range [{lo}, {hi}] has its ends reversed"
                    )));
                }
                Ok(Item(lo, hi))
            }
        }
        d.deserialize_any(ItemVisitor)
    }
}

impl<'de> Deserialize<'de> for RangeSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RangeSet, D::Error> {
        struct SetVisitor;
        impl<'de> Visitor<'de> for SetVisitor {
            type Value = RangeSet;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of integers and [lo, hi] pairs")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RangeSet, A::Error> {
                let mut set = RangeSet {
                    ranges: Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024)),
                };
                while let Some(Item(lo, hi)) = seq.next_element()? {
                    set.insert_range(lo, hi);
                }
                Ok(set)
            }
        }
        d.deserialize_seq(SetVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn set(values: &[u64]) -> RangeSet {
        values.iter().copied().collect()
    }

    /// A seeded generator for the model test: `next(bound)` is uniform in `0..bound`.
    struct Draws(rand::rngs::StdRng);
    impl Draws {
        fn new(seed: u64) -> Draws {
            Draws(rand::SeedableRng::seed_from_u64(seed))
        }
        fn next(&mut self, bound: u64) -> u64 {
            rand::Rng::random_range(&mut self.0, 0..bound)
        }
    }

    #[test]
    fn insert_merges_neighbours_and_reports_news() {
        let mut s = RangeSet::new();
        assert!(s.insert(5));
        assert!(s.insert(7));
        assert_eq!(s.ranges(), &[(5, 5), (7, 7)]);
        assert!(s.insert(6));
        assert_eq!(s.ranges(), &[(5, 7)]);
        assert!(!s.insert(6));
        assert!(s.insert(4) && s.insert(8));
        assert_eq!(s.ranges(), &[(4, 8)]);
        assert!(s.insert(0));
        assert_eq!(s.ranges(), &[(0, 0), (4, 8)]);
        assert_eq!(s.len(), 6);
    }

    #[test]
    fn insert_range_swallows_overlapping_and_touching_ranges() {
        let mut s = set(&[1, 3, 5, 9, 20]);
        s.insert_range(2, 8);
        assert_eq!(s.ranges(), &[(1, 9), (20, 20)]);
        s.insert_range(10, 19);
        assert_eq!(s.ranges(), &[(1, 20)]);
        s.insert_range(30, 40);
        s.insert_range(25, 26);
        assert_eq!(s.ranges(), &[(1, 20), (25, 26), (30, 40)]);
        s.insert_range(u64::MAX - 1, u64::MAX);
        s.insert_range(0, u64::MAX - 2);
        assert_eq!(s.ranges(), &[(0, u64::MAX)]);
    }

    #[test]
    fn remove_splits_ranges() {
        let mut s = set(&[1, 2, 3, 4, 5]);
        assert!(s.remove(3));
        assert_eq!(s.ranges(), &[(1, 2), (4, 5)]);
        assert!(!s.remove(3));
        assert!(s.remove(1) && s.remove(5));
        assert_eq!(s.ranges(), &[(2, 2), (4, 4)]);
        assert!(s.remove(2) && s.remove(4));
        assert!(s.is_empty());
    }

    #[test]
    fn operations_agree_with_a_btreeset_model() {
        let mut rng = Draws::new(7);
        for round in 0..200 {
            let mut a = RangeSet::new();
            let mut b = RangeSet::new();
            let mut ma = BTreeSet::new();
            let mut mb = BTreeSet::new();
            for _ in 0..rng.next(60) {
                let v = rng.next(80);
                assert_eq!(a.insert(v), ma.insert(v), "round {round}");
            }
            for _ in 0..rng.next(10) {
                let lo = rng.next(80);
                let hi = lo + rng.next(8);
                b.insert_range(lo, hi);
                mb.extend(lo..=hi);
            }
            for _ in 0..rng.next(10) {
                let v = rng.next(80);
                assert_eq!(b.remove(v), mb.remove(&v));
            }
            assert_eq!(
                a.iter().collect::<Vec<_>>(),
                ma.iter().copied().collect::<Vec<_>>()
            );
            assert_eq!(
                b.iter().collect::<Vec<_>>(),
                mb.iter().copied().collect::<Vec<_>>()
            );
            for w in a.ranges().windows(2) {
                assert!(
                    w[0].1 + 1 < w[1].0,
                    "ranges must not touch: {:?}",
                    a.ranges()
                );
            }
            let mut diff = RangeSet::new();
            a.difference_into(&b, &mut diff);
            let want: Vec<u64> = ma.difference(&mb).copied().collect();
            assert_eq!(diff.iter().collect::<Vec<_>>(), want, "{a:?} - {b:?}");
            let mut u = a.clone();
            u.union_with(&b);
            let want: Vec<u64> = ma.union(&mb).copied().collect();
            assert_eq!(u.iter().collect::<Vec<_>>(), want);
            for v in 0..90 {
                assert_eq!(u.contains(v), ma.contains(&v) || mb.contains(&v));
            }
            assert_eq!(u.len() as usize, ma.union(&mb).count());
        }
    }

    #[test]
    fn wire_format_is_compact_and_round_trips() {
        let s = set(&[0, 1, 2, 3, 7, 9, 10]);
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(text, "[[0,3],7,[9,10]]");
        let back: RangeSet = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
        assert_eq!(
            serde_json::to_string(&s.as_values()).unwrap(),
            "[0,1,2,3,7,9,10]"
        );
        assert_eq!(serde_json::to_string(&RangeSet::new()).unwrap(), "[]");
    }

    #[test]
    fn decoding_normalizes_unsorted_and_overlapping_items() {
        let s: RangeSet = serde_json::from_str("[9,[2,4],3,[5,6],0]").unwrap();
        assert_eq!(s.ranges(), &[(0, 0), (2, 6), (9, 9)]);
    }

    #[test]
    fn decoding_rejects_bad_items() {
        for bad in [
            "[-1]",
            "[[3,1]]",
            "[[1]]",
            "[[1,2,3]]",
            "[1.5]",
            "[\"1\"]",
            "{}",
        ] {
            assert!(
                serde_json::from_str::<RangeSet>(bad).is_err(),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn subtract_removes_overlaps_only() {
        let mut s = set(&[1, 2, 3, 4, 5, 9]);
        s.subtract(&set(&[2, 3, 9, 20]));
        assert_eq!(s.ranges(), &[(1, 1), (4, 5)]);
        s.subtract(&RangeSet::new());
        assert_eq!(s.ranges(), &[(1, 1), (4, 5)]);
    }

    #[test]
    fn assign_from_sorts_and_dedups() {
        let mut s = set(&[100]);
        let mut scratch = vec![5, 3, 4, 3, 10];
        s.assign_from(&mut scratch);
        assert_eq!(s.ranges(), &[(3, 5), (10, 10)]);
    }

    // Fuzzer finding: the length of a set received as `[[0, 18446744073709551615]]`
    // overflowed (a panic in debug builds, 0 in release).
    #[test]
    fn the_length_of_huge_sets_saturates() {
        let all: RangeSet = serde_json::from_str("[[0, 18446744073709551615]]").unwrap();
        assert_eq!(all.len(), u64::MAX);
        let two: RangeSet =
            serde_json::from_str("[[0, 18446744073709551614], 18446744073709551615]").unwrap();
        assert_eq!(two.len(), u64::MAX);
        assert_eq!(set(&[1, 2, 5]).len(), 3);
    }
}
