//! Reading lin-kv operations and splitting them by key.

use std::collections::HashMap;

use serde_json::Value;

use super::model::{Call, State, NULL};
use crate::checker::cycles::txn::{Atom, Atoms};
use crate::history::{History, OpType};

/// One operation that may have taken effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinOp {
    /// History index of the invoke.
    pub invoke: usize,
    /// History index of the `ok` completion; `None` for indeterminate operations,
    /// which may take effect at any time after their invocation, or never.
    pub completion: Option<usize>,
    /// What it does.
    pub call: Call,
}

/// The operations on one key, and the names of its values.
#[derive(Clone, Debug, Default)]
pub struct KeyHistory {
    /// The key.
    pub key: Option<Atom>,
    /// Its operations in invoke order; failed ones and indeterminate reads left out.
    pub ops: Vec<LinOp>,
    /// Value names: `values[s - 1]` is state `s`.
    pub values: Vec<Atom>,
}

impl KeyHistory {
    /// The state for a value (`null` is [`NULL`]).
    fn state(&mut self, v: &Value, atoms: &mut Atoms) -> State {
        if v.is_null() {
            return NULL;
        }
        let a = atoms.intern(v);
        match self.values.iter().position(|x| *x == a) {
            Some(i) => i as State + 1,
            None => {
                self.values.push(a);
                self.values.len() as State
            }
        }
    }

    /// A state for prose.
    pub fn show(&self, s: State, atoms: &Atoms) -> String {
        if s == NULL {
            "null".to_string()
        } else {
            self.values
                .get(s as usize - 1)
                .map_or_else(|| "?".to_string(), |a| atoms.show(*a))
        }
    }
}

/// Splits the history by key. Returns the keys (in order of first appearance) and
/// the operations that could not be read, as `(history index, reason)`.
pub fn by_key(history: &History, atoms: &mut Atoms) -> (Vec<KeyHistory>, Vec<(usize, String)>) {
    let mut keys: Vec<KeyHistory> = Vec::new();
    let mut slot: HashMap<Atom, usize> = HashMap::new();
    let mut bad = Vec::new();
    for pair in history.pairs() {
        let inv = &history.ops[pair.invoke];
        if !matches!(inv.f.as_str(), "read" | "write" | "cas") {
            continue;
        }
        let done = pair.completion.map(|c| &history.ops[c]);
        let kind = done.map_or(OpType::Info, |d| d.kind);
        if kind == OpType::Fail || (kind == OpType::Info && inv.f == "read") {
            continue;
        }
        let value = match (inv.f.as_str(), done) {
            ("read", Some(d)) => &d.value,
            _ => &inv.value,
        };
        let Some([k, v]) = value.as_array().map(Vec::as_slice) else {
            bad.push((
                pair.completion.unwrap_or(pair.invoke),
                format!("value {value} is not [key, value]"),
            ));
            continue;
        };
        let key = atoms.intern(k);
        let i = *slot.entry(key).or_insert_with(|| {
            keys.push(KeyHistory {
                key: Some(key),
                ..KeyHistory::default()
            });
            keys.len() - 1
        });
        let kh = &mut keys[i];
        let call = match inv.f.as_str() {
            "read" => Call::Read(kh.state(v, atoms)),
            "write" => Call::Write(kh.state(v, atoms)),
            _ => match v.as_array().map(Vec::as_slice) {
                Some([from, to]) => Call::Cas(kh.state(from, atoms), kh.state(to, atoms)),
                _ => {
                    bad.push((pair.invoke, format!("cas value {v} is not [from, to]")));
                    continue;
                }
            },
        };
        kh.ops.push(LinOp {
            invoke: pair.invoke,
            completion: if kind == OpType::Ok {
                pair.completion
            } else {
                None
            },
            call,
        });
    }
    (keys, bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::cycles::testkit::Hist;
    use serde_json::json;

    #[test]
    fn splits_by_key_and_drops_what_never_happened() {
        let mut h = Hist::new();
        h.op(0, "write", json!([1, 5]), OpType::Ok, json!([1, 5]));
        h.op(1, "read", json!([2, null]), OpType::Ok, json!([2, null]));
        h.op(
            0,
            "cas",
            json!([1, [5, 6]]),
            OpType::Info,
            json!([1, [5, 6]]),
        );
        h.op(1, "read", json!([1, null]), OpType::Fail, json!([1, null]));
        h.op(2, "read", json!([1, null]), OpType::Info, json!([1, null]));
        let mut atoms = Atoms::default();
        let (keys, bad) = by_key(&h.h, &mut atoms);
        assert!(bad.is_empty());
        assert_eq!(keys.len(), 2);
        let k1 = &keys[0];
        assert_eq!(k1.ops.len(), 2);
        assert_eq!(k1.ops[0].call, Call::Write(1));
        assert_eq!(k1.ops[1].call, Call::Cas(1, 2));
        assert_eq!(k1.ops[1].completion, None);
        assert_eq!(k1.show(2, &atoms), "6");
        assert_eq!(keys[1].ops[0].call, Call::Read(NULL));
    }
}
