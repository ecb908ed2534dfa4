//! The version order of each list, recovered from reads: every read of a key must be
//! a prefix of the longest one, which then orders the key's appends.

use std::collections::HashMap;

use super::parse::{Mop, Txn};
use crate::checker::cycles::txn::Atom;

/// The order of the appends to one key.
#[derive(Clone, Debug, Default)]
pub struct KeyOrder {
    /// Elements in append order (the longest read, duplicates dropped).
    pub values: Vec<Atom>,
    /// Position of each element in `values`.
    pub index: HashMap<Atom, usize>,
}

/// Two reads of a key of which neither is a prefix of the other.
#[derive(Clone, Debug)]
pub struct Incompatible {
    /// The key.
    pub key: Atom,
    /// The shorter read and the transaction (index into the txn list) that saw it.
    pub shorter: (Vec<Atom>, usize),
    /// The longer read and its transaction.
    pub longer: (Vec<Atom>, usize),
}

/// Version orders of every key.
#[derive(Clone, Debug, Default)]
pub struct Orders {
    /// Order per key.
    pub by_key: HashMap<Atom, KeyOrder>,
    /// Conflicting reads, at most one pair per key.
    pub incompatible: Vec<Incompatible>,
}

impl Orders {
    /// Builds the orders from the reads of `ok` and indeterminate transactions. A key
    /// appended exactly once and never read still gets the order `[v]`.
    pub fn build(txns: &[Txn]) -> Orders {
        // key -> distinct non-empty reads -> first transaction that saw it
        let mut reads: HashMap<Atom, HashMap<Vec<Atom>, usize>> = HashMap::new();
        let mut single_append: HashMap<Atom, Option<Atom>> = HashMap::new();
        for (i, t) in txns.iter().enumerate().filter(|(_, t)| t.possible()) {
            for m in &t.mops {
                match m {
                    Mop::Read(k, Some(list)) if !list.is_empty() => {
                        reads
                            .entry(*k)
                            .or_default()
                            .entry(list.clone())
                            .or_insert(i);
                    }
                    Mop::Append(k, v) => {
                        single_append
                            .entry(*k)
                            .and_modify(|s| *s = None)
                            .or_insert(Some(*v));
                    }
                    Mop::Read(..) => {}
                }
            }
        }
        let mut orders = Orders::default();
        let mut keys: Vec<Atom> = reads.keys().chain(single_append.keys()).copied().collect();
        keys.sort_unstable();
        keys.dedup();
        for k in keys {
            let mut values: Vec<(Vec<Atom>, usize)> = reads
                .remove(&k)
                .map(|m| m.into_iter().collect())
                .unwrap_or_default();
            if let Some(Some(v)) = single_append.get(&k) {
                if values.is_empty() {
                    values.push((vec![*v], usize::MAX));
                }
            }
            values.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.1.cmp(&b.1)));
            if let Some(w) = values.windows(2).find(|w| !w[1].0.starts_with(&w[0].0)) {
                orders.incompatible.push(Incompatible {
                    key: k,
                    shorter: w[0].clone(),
                    longer: w[1].clone(),
                });
            }
            let Some((longest, _)) = values.pop() else {
                continue;
            };
            let mut order = KeyOrder::default();
            for v in longest {
                if let std::collections::hash_map::Entry::Vacant(e) = order.index.entry(v) {
                    e.insert(order.values.len());
                    order.values.push(v);
                }
            }
            orders.by_key.insert(k, order);
        }
        orders
    }

    /// The element appended just before `v` to `key` (`None`: `v` was the first). An
    /// element never read is placed after the last element read.
    pub fn previous(&self, key: Atom, v: Atom) -> Option<Atom> {
        let order = self.by_key.get(&key)?;
        match order.index.get(&v) {
            Some(&0) => None,
            Some(&i) => Some(order.values[i - 1]),
            None => order.values.last().copied(),
        }
    }

    /// True if `v` appears in some read of `key`.
    pub fn was_read(&self, key: Atom, v: Atom) -> bool {
        self.by_key
            .get(&key)
            .is_some_and(|o| o.index.contains_key(&v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::cycles::txn::TxnOp;
    use crate::history::OpType;

    fn txn(mops: Vec<Mop>) -> Txn {
        Txn {
            op: TxnOp {
                invoke: 0,
                completion: Some(1),
                kind: OpType::Ok,
            },
            mops,
        }
    }

    #[test]
    fn longest_read_orders_appends_and_conflicts_are_found() {
        let a = Atom::Int;
        let txns = vec![
            txn(vec![Mop::Read(a(1), Some(vec![a(5)]))]),
            txn(vec![Mop::Read(a(1), Some(vec![a(5), a(6), a(7)]))]),
            txn(vec![
                Mop::Read(a(2), Some(vec![a(1), a(2)])),
                Mop::Read(a(2), Some(vec![a(1), a(3)])),
            ]),
            txn(vec![Mop::Append(a(3), a(9))]),
        ];
        let o = Orders::build(&txns);
        assert_eq!(o.previous(a(1), a(6)), Some(a(5)));
        assert_eq!(o.previous(a(1), a(5)), None);
        assert_eq!(o.previous(a(1), a(8)), Some(a(7)), "unread appends go last");
        assert_eq!(o.by_key[&a(3)].values, vec![a(9)], "single append");
        assert_eq!(o.incompatible.len(), 1);
        assert_eq!(o.incompatible[0].key, a(2));
    }
}
