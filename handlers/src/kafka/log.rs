//! The node's copy of the logs, held compactly.
//!
//! Keys are interned once ([`Logs`] maps each key string to a small [`KeyId`]); every
//! other structure (replication outboxes, per-key claim state) refers to keys by id and
//! to messages by `(key, offset)`, so a message's value is stored exactly once, here.
//! A message is an [`Msg::Int`] when it is a JSON integer (what the workload sends) and
//! otherwise its raw JSON text. Each key's log is a vector of `(offset, msg)` sorted by
//! offset; offsets are unique per key.

use std::collections::HashMap;

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// A message value: an integer, or any other JSON value kept as its text.
#[derive(Debug, Clone)]
pub enum Msg {
    /// A JSON integer that fits in an i64.
    Int(i64),
    /// Any other JSON value, verbatim.
    Json(Box<RawValue>),
}

impl Msg {
    /// The message held by a raw JSON value.
    pub fn from_raw(raw: &RawValue) -> Msg {
        match serde_json::from_str::<i64>(raw.get()) {
            Ok(i) => Msg::Int(i),
            Err(_) => Msg::Json(raw.to_owned()),
        }
    }
}

/// Equal when both are the same integer or the same JSON text.
impl PartialEq for Msg {
    fn eq(&self, other: &Msg) -> bool {
        match (self, other) {
            (Msg::Int(a), Msg::Int(b)) => a == b,
            (Msg::Json(a), Msg::Json(b)) => a.get() == b.get(),
            _ => false,
        }
    }
}

impl Eq for Msg {}

impl Serialize for Msg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Msg::Int(i) => s.serialize_i64(*i),
            Msg::Json(raw) => raw.serialize(s),
        }
    }
}

/// One key's log: `(offset, msg)` pairs sorted by offset, offsets unique.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KeyLog {
    entries: Vec<(u64, Msg)>,
}

impl KeyLog {
    /// Stores `msg` at `offset`. Returns false (and keeps the stored message) when the
    /// offset is already taken.
    pub fn insert(&mut self, offset: u64, msg: Msg) -> bool {
        // Appends are the common case: offsets mostly arrive in order.
        if self.entries.last().is_none_or(|(o, _)| *o < offset) {
            self.entries.push((offset, msg));
            return true;
        }
        match self.entries.binary_search_by_key(&offset, |(o, _)| *o) {
            Ok(_) => false,
            Err(at) => {
                self.entries.insert(at, (offset, msg));
                true
            }
        }
    }

    /// The message at `offset`.
    pub fn get(&self, offset: u64) -> Option<&Msg> {
        self.entries
            .binary_search_by_key(&offset, |(o, _)| *o)
            .ok()
            .map(|i| &self.entries[i].1)
    }

    /// The highest offset stored.
    pub fn last_offset(&self) -> Option<u64> {
        self.entries.last().map(|(o, _)| *o)
    }

    /// Number of messages stored.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries with `from <= offset < below`, in offset order.
    pub fn range(&self, from: u64, below: u64) -> &[(u64, Msg)] {
        let start = self.entries.partition_point(|(o, _)| *o < from);
        let end = self.entries.partition_point(|(o, _)| *o < below);
        &self.entries[start..end.max(start)]
    }

    /// For a dense log (offsets 0, 1, 2, …): how many offsets from 0 are all present.
    pub fn contiguous_len(&self) -> u64 {
        // Offsets are unique and sorted, so entries[i].0 >= i, with equality exactly on
        // the gap-free prefix: binary search for its end.
        let (mut lo, mut hi) = (0, self.entries.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.entries[mid].0 == mid as u64 {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo as u64
    }
}

/// A key's interned id.
pub type KeyId = u32;

/// All logs of this node, plus committed offsets, by interned key.
#[derive(Debug, Default)]
pub struct Logs {
    ids: HashMap<Box<str>, KeyId>,
    keys: Vec<KeyEntry>,
}

/// One key: its name, log and committed offset.
#[derive(Debug)]
pub struct KeyEntry {
    /// The key string.
    pub name: Box<str>,
    /// Its log.
    pub log: KeyLog,
    /// The highest offset committed for it that this node knows of.
    pub committed: Option<u64>,
}

impl Logs {
    /// The id of `key`, interning it if new.
    pub fn intern(&mut self, key: &str) -> KeyId {
        if let Some(id) = self.ids.get(key) {
            return *id;
        }
        let id = KeyId::try_from(self.keys.len()).unwrap_or(KeyId::MAX);
        self.ids.insert(key.into(), id);
        self.keys.push(KeyEntry {
            name: key.into(),
            log: KeyLog::default(),
            committed: None,
        });
        id
    }

    /// The id of `key` if it is known.
    pub fn id(&self, key: &str) -> Option<KeyId> {
        self.ids.get(key).copied()
    }

    /// The key with id `id`. Ids come from [`Logs::intern`], so they are always valid.
    pub fn key(&self, id: KeyId) -> &KeyEntry {
        &self.keys[id as usize]
    }

    /// The key with id `id`, mutably.
    pub fn key_mut(&mut self, id: KeyId) -> &mut KeyEntry {
        &mut self.keys[id as usize]
    }

    /// Raises the committed offset of `id` to `offset`; true if it grew.
    pub fn commit(&mut self, id: KeyId, offset: u64) -> bool {
        let slot = &mut self.key_mut(id).committed;
        if slot.is_some_and(|c| c >= offset) {
            return false;
        }
        *slot = Some(offset);
        true
    }

    /// Number of keys.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Total messages stored.
    pub fn message_count(&self) -> usize {
        self.keys.iter().map(|k| k.log.len()).sum()
    }

    /// Ids of all keys.
    pub fn ids(&self) -> impl Iterator<Item = KeyId> {
        0..self.keys.len() as KeyId
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    #[test]
    fn integers_are_unboxed_and_other_values_kept_verbatim() {
        assert_eq!(Msg::from_raw(&raw("42")), Msg::Int(42));
        assert_eq!(Msg::from_raw(&raw("-7")), Msg::Int(-7));
        for text in ["1.5", "\"x\"", "{\"a\":[1,null]}", "18446744073709551615"] {
            let m = Msg::from_raw(&raw(text));
            assert!(matches!(m, Msg::Json(_)), "{text}");
            assert_eq!(serde_json::to_string(&m).unwrap(), text);
        }
        assert_eq!(serde_json::to_string(&Msg::Int(-3)).unwrap(), "-3");
    }

    #[test]
    fn insert_keeps_offsets_sorted_and_unique() {
        let mut log = KeyLog::default();
        assert!(log.insert(5, Msg::Int(50)));
        assert!(log.insert(1, Msg::Int(10)));
        assert!(log.insert(9, Msg::Int(90)));
        assert!(!log.insert(5, Msg::Int(99)), "taken offsets are kept");
        assert_eq!(log.get(5), Some(&Msg::Int(50)));
        let offsets: Vec<u64> = log.range(0, u64::MAX).iter().map(|e| e.0).collect();
        assert_eq!(offsets, vec![1, 5, 9]);
        assert_eq!(log.last_offset(), Some(9));
    }

    #[test]
    fn range_is_half_open_and_tolerates_empty_windows() {
        let mut log = KeyLog::default();
        for o in [0, 2, 4, 6] {
            log.insert(o, Msg::Int(o as i64));
        }
        let offs = |s: &[(u64, Msg)]| s.iter().map(|e| e.0).collect::<Vec<_>>();
        assert_eq!(offs(log.range(1, 6)), vec![2, 4]);
        assert_eq!(offs(log.range(4, 5)), vec![4]);
        assert!(log.range(7, 100).is_empty());
        assert!(log.range(5, 3).is_empty());
    }

    #[test]
    fn contiguous_len_counts_the_gap_free_prefix() {
        let mut log = KeyLog::default();
        assert_eq!(log.contiguous_len(), 0);
        log.insert(1, Msg::Int(1));
        assert_eq!(log.contiguous_len(), 0);
        log.insert(0, Msg::Int(0));
        log.insert(3, Msg::Int(3));
        assert_eq!(log.contiguous_len(), 2);
        log.insert(2, Msg::Int(2));
        assert_eq!(log.contiguous_len(), 4);
    }

    #[test]
    fn keys_are_interned_once_and_commits_only_grow() {
        let mut logs = Logs::default();
        let a = logs.intern("a");
        assert_eq!(logs.intern("a"), a);
        let b = logs.intern("b");
        assert_ne!(a, b);
        assert_eq!(logs.id("b"), Some(b));
        assert_eq!(logs.id("c"), None);
        assert!(logs.commit(a, 4));
        assert!(!logs.commit(a, 3));
        assert_eq!(logs.key(a).committed, Some(4));
        assert_eq!(logs.key(b).name.as_ref(), "b");
    }
}
