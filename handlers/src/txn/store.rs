//! The replicated register store: one last-writer-wins cell per key, a Lamport clock that
//! stamps local transactions, and a change index that yields "everything changed since
//! version V" for delta replication.
//!
//! Every mutation of the store (a local commit or the merge of one replication message)
//! applies all of its writes in one call, so a transaction's write set is never half
//! visible. Each cell change takes the next local `version` number and the cell remembers
//! it; [`Store::changes_since`] walks the cells changed after a version, in change order.
//! Versions read between calls are therefore always at a mutation boundary: the cells
//! changed after such a version carry whole transactions (or their newer replacements).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

/// The total order of writes: a Lamport time, ties broken by the writing node's index in
/// the sorted list of node ids. Every node compares stamps the same way, so replicas that
/// saw the same writes hold the same value per key, whatever order the writes came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    /// Lamport time of the transaction that wrote.
    pub lamport: u64,
    /// Index of the node that ran that transaction.
    pub node: u32,
}

/// A register key in canonical form: its compact JSON text (Maelstrom uses integers, but
/// any JSON value works and compares by its canonical text).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(String);

impl Key {
    /// The canonical key for a JSON value.
    pub fn from_json(value: &Value) -> Key {
        Key(value.to_string())
    }

    /// The JSON value this key stands for.
    pub fn to_json(&self) -> Value {
        // The text was produced by serde_json, so it always parses; fall back to a string.
        serde_json::from_str(&self.0).unwrap_or_else(|_| Value::String(self.0.clone()))
    }
}

/// A key's current value and who wrote it.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// The last writer's value.
    pub value: Value,
    /// The last writer's stamp.
    pub stamp: Stamp,
    /// The store version at which this cell last changed.
    changed_at: u64,
}

/// One write as replicated between nodes: key, value and the stamp of its transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct StampedWrite {
    /// The key written.
    pub key: Key,
    /// The value written (the transaction's final write to that key).
    pub value: Value,
    /// The writing transaction's stamp.
    pub stamp: Stamp,
}

/// Per-key last-writer-wins registers with a change index. Memory is bounded by the
/// number of keys: one cell and one index entry per key.
#[derive(Debug, Default)]
pub struct Store {
    cells: HashMap<Key, Cell>,
    /// `changed_at` → key, one entry per key (its latest change).
    changes: BTreeMap<u64, Key>,
    version: u64,
    clock: u64,
}

impl Store {
    /// An empty store: every key reads as absent.
    pub fn new() -> Store {
        Store::default()
    }

    /// The current value of `key`, if any transaction wrote it.
    pub fn get(&self, key: &Key) -> Option<&Value> {
        self.cells.get(key).map(|c| &c.value)
    }

    /// The local version: how many cell changes this store has seen.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The Lamport clock: at least the time of every write this store holds or merged.
    #[cfg(test)]
    pub fn clock(&self) -> u64 {
        self.clock
    }

    /// Commits a local transaction's final writes (one per key) with a fresh stamp greater
    /// than every stamp this store has seen, so they win locally. Returns the stamp, or
    /// `None` for a read-only transaction (nothing changes).
    pub fn commit_local(&mut self, node: u32, writes: Vec<(Key, Value)>) -> Option<Stamp> {
        if writes.is_empty() {
            return None;
        }
        self.clock += 1;
        let stamp = Stamp {
            lamport: self.clock,
            node,
        };
        for (key, value) in writes {
            self.put(key, value, stamp);
        }
        Some(stamp)
    }

    /// Merges writes from another node in one step: each one replaces the local cell only
    /// if its stamp is greater (so duplicates and stale writes change nothing). Advances
    /// the clock past every stamp seen. Returns how many cells changed.
    pub fn merge(&mut self, writes: impl IntoIterator<Item = StampedWrite>) -> usize {
        let mut changed = 0;
        for w in writes {
            self.clock = self.clock.max(w.stamp.lamport);
            let newer = match self.cells.get(&w.key) {
                Some(cell) => w.stamp > cell.stamp,
                None => true,
            };
            if newer {
                self.put(w.key, w.value, w.stamp);
                changed += 1;
            }
        }
        changed
    }

    /// Every cell that changed after `version`, oldest change first.
    pub fn changes_since(&self, version: u64) -> impl Iterator<Item = (&Key, &Cell)> {
        self.changes
            .range(version.saturating_add(1)..)
            .filter_map(|(_, key)| self.cells.get_key_value(key))
    }

    fn put(&mut self, key: Key, value: Value, stamp: Stamp) {
        self.version += 1;
        let changed_at = self.version;
        match self.cells.get_mut(&key) {
            Some(cell) => {
                self.changes.remove(&cell.changed_at);
                cell.value = value;
                cell.stamp = stamp;
                cell.changed_at = changed_at;
            }
            None => {
                self.cells.insert(
                    key.clone(),
                    Cell {
                        value,
                        stamp,
                        changed_at,
                    },
                );
            }
        }
        self.changes.insert(changed_at, key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(k: i64) -> Key {
        Key::from_json(&json!(k))
    }

    fn write(k: i64, v: i64, lamport: u64, node: u32) -> StampedWrite {
        StampedWrite {
            key: key(k),
            value: json!(v),
            stamp: Stamp { lamport, node },
        }
    }

    fn changed_keys(store: &Store, since: u64) -> Vec<Key> {
        store.changes_since(since).map(|(k, _)| k.clone()).collect()
    }

    #[test]
    fn stamps_order_by_lamport_then_node() {
        let s = |lamport, node| Stamp { lamport, node };
        assert!(s(2, 0) > s(1, 9));
        assert!(s(2, 1) > s(2, 0));
    }

    #[test]
    fn keys_compare_by_canonical_json() {
        assert_eq!(key(3), Key::from_json(&json!(3)));
        assert_ne!(key(3), Key::from_json(&json!("3")));
        assert_eq!(Key::from_json(&json!("a")).to_json(), json!("a"));
    }

    #[test]
    fn local_commits_outrank_everything_merged() {
        let mut s = Store::new();
        s.merge([write(1, 10, 7, 3)]);
        assert_eq!(s.clock(), 7);
        let stamp = s.commit_local(0, vec![(key(1), json!(11))]);
        assert_eq!(
            stamp,
            Some(Stamp {
                lamport: 8,
                node: 0
            })
        );
        assert_eq!(s.get(&key(1)), Some(&json!(11)));
        assert_eq!(s.commit_local(0, vec![]), None, "read-only: no stamp");
    }

    #[test]
    fn merge_is_idempotent_and_ignores_stale_writes() {
        let mut s = Store::new();
        assert_eq!(s.merge([write(1, 10, 5, 0), write(2, 20, 5, 0)]), 2);
        let v = s.version();
        assert_eq!(s.merge([write(1, 10, 5, 0), write(2, 20, 5, 0)]), 0);
        assert_eq!(s.merge([write(1, 9, 4, 1)]), 0);
        assert_eq!(s.version(), v, "nothing changed, no new version");
        assert_eq!(s.get(&key(1)), Some(&json!(10)));
    }

    #[test]
    fn changes_since_lists_each_key_once_in_change_order() {
        let mut s = Store::new();
        s.commit_local(0, vec![(key(1), json!(1)), (key(2), json!(1))]);
        let after_first = s.version();
        s.commit_local(0, vec![(key(3), json!(1))]);
        s.commit_local(0, vec![(key(1), json!(2))]);
        assert_eq!(changed_keys(&s, 0), vec![key(2), key(3), key(1)]);
        assert_eq!(changed_keys(&s, after_first), vec![key(3), key(1)]);
        assert!(changed_keys(&s, s.version()).is_empty());
        // One index entry per key, however often it changes.
        for v in 3..100 {
            s.commit_local(0, vec![(key(1), json!(v))]);
        }
        assert_eq!(changed_keys(&s, 0).len(), 3);
    }
}
