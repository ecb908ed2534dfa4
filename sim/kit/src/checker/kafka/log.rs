//! The log of each key as far as the history shows it: offsets from acknowledged
//! sends and from every poll. Offsets may be sparse; a message's *index* is the rank
//! of its offset among the known offsets of the key.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::parse::{KOp, Kind};
use crate::checker::cycles::txn::Atom;
use crate::history::OpType;

/// One key's log.
#[derive(Clone, Debug, Default)]
pub struct KeyLog {
    /// Offset -> messages seen there, each with the first operation (history index)
    /// that showed it.
    pub offsets: BTreeMap<i64, Vec<(Atom, usize)>>,
    /// Index -> (offset, message); the smallest message if an offset has several.
    pub by_index: Vec<(i64, Atom)>,
    /// Message -> index of its *last* position (a duplicated message maps there,
    /// as in Jepsen). Only the representative message of each offset is here.
    pub by_value: HashMap<Atom, usize>,
    /// Message -> index of its first position (every message).
    pub first_index: HashMap<Atom, usize>,
    /// Message -> index of its last position (every message).
    pub last_index: HashMap<Atom, usize>,
}

impl KeyLog {
    /// Index -> messages whose last position is that index.
    pub fn last_index_values(&self) -> Vec<Vec<Atom>> {
        let mut out = vec![Vec::new(); self.by_index.len()];
        let mut msgs: Vec<(&Atom, &usize)> = self.last_index.iter().collect();
        msgs.sort_unstable();
        for (m, &i) in msgs {
            out[i].push(*m);
        }
        out
    }
}

/// Every key's log.
#[derive(Clone, Debug, Default)]
pub struct Logs {
    /// Log per key.
    pub keys: HashMap<Atom, KeyLog>,
}

impl Logs {
    /// The index of `msg` in `key`'s log, if known.
    pub fn index(&self, key: Atom, msg: Atom) -> Option<usize> {
        self.keys.get(&key)?.by_value.get(&msg).copied()
    }

    /// The `(offset, message)` at `index` of `key`'s log.
    pub fn at(&self, key: Atom, index: usize) -> Option<(i64, Atom)> {
        self.keys.get(&key)?.by_index.get(index).copied()
    }

    /// The offset of `msg` in `key`'s log (its last position), if known.
    pub fn offset(&self, key: Atom, msg: Atom) -> Option<i64> {
        self.at(key, self.index(key, msg)?).map(|(o, _)| o)
    }
}

/// Messages returned by `ok` polls: `(key, message)`.
pub fn ok_reads(ops: &[KOp]) -> HashSet<(Atom, Atom)> {
    ops.iter()
        .filter(|o| o.kind == OpType::Ok && o.f == Kind::Poll)
        .flat_map(|o| {
            o.polls
                .iter()
                .flat_map(|(k, ms)| ms.iter().map(move |(_, m)| (*k, *m)))
        })
        .collect()
}

/// True if the operation's sends surely took effect: it is `ok`, or indeterminate
/// with one of its messages polled by an `ok` poll.
pub fn must_have_committed(op: &KOp, ok_reads: &HashSet<(Atom, Atom)>) -> bool {
    op.kind == OpType::Ok
        || (op.kind == OpType::Info
            && op
                .sends
                .iter()
                .any(|(k, m, _)| ok_reads.contains(&(*k, *m))))
}

/// Builds the logs from sends that surely took effect and from all polls.
pub fn build(ops: &[KOp], ok_reads: &HashSet<(Atom, Atom)>) -> Logs {
    let mut raw: HashMap<Atom, BTreeMap<i64, Vec<(Atom, usize)>>> = HashMap::new();
    let mut note = |k: Atom, o: i64, m: Atom, entry: usize| {
        let at = raw.entry(k).or_default().entry(o).or_default();
        if !at.iter().any(|(x, _)| *x == m) {
            at.push((m, entry));
        }
    };
    for op in ops {
        if op.f == Kind::Send && must_have_committed(op, ok_reads) {
            for &(k, m, o) in &op.sends {
                if let Some(o) = o {
                    note(k, o, m, op.entry);
                }
            }
        }
        for (k, msgs) in &op.polls {
            for &(o, m) in msgs {
                if let Some(o) = o {
                    note(*k, o, m, op.entry);
                }
            }
        }
    }
    let mut logs = Logs::default();
    for (k, offsets) in raw {
        let mut log = KeyLog::default();
        for (i, (&o, msgs)) in offsets.iter().enumerate() {
            let first = msgs.iter().map(|(m, _)| *m).min().unwrap_or(Atom::Int(0));
            log.by_index.push((o, first));
            log.by_value.insert(first, i);
            for &(m, _) in msgs {
                log.last_index.insert(m, i);
                log.first_index.entry(m).or_insert(i);
            }
        }
        log.offsets = offsets;
        logs.keys.insert(k, log);
    }
    logs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_are_ranks_and_duplicates_map_to_their_last_position() {
        let k = Atom::Int(0);
        let m = Atom::Int;
        let op = KOp {
            entry: 1,
            invoke: 0,
            completion: Some(1),
            process: 0,
            kind: OpType::Ok,
            f: Kind::Poll,
            sends: vec![],
            polls: vec![(
                k,
                vec![
                    (Some(0), m(10)),
                    (Some(3), m(11)),
                    (Some(6), m(11)),
                    (Some(9), m(12)),
                ],
            )],
            assign: vec![],
        };
        let reads = ok_reads(std::slice::from_ref(&op));
        let logs = build(&[op], &reads);
        assert_eq!(logs.index(k, m(10)), Some(0));
        assert_eq!(logs.index(k, m(11)), Some(2), "last position");
        assert_eq!(logs.keys[&k].first_index[&m(11)], 1);
        assert_eq!(logs.index(k, m(12)), Some(3));
        assert_eq!(logs.offset(k, m(12)), Some(9));
        assert_eq!(logs.keys[&k].last_index_values()[1], Vec::<Atom>::new());
    }
}
