//! Reading txn-rw-register transactions: micro-ops `["r", k, v]` and `["w", k, v]`,
//! and each transaction's external reads and writes.

use serde_json::Value;

use crate::checker::cycles::txn::{mop_list, parse_txns, Atom, Atoms, TxnOp};
use crate::history::{History, OpType};

/// One micro-op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mop {
    /// `["r", key, value]`; `None` is a null read (the initial state, or unknown on
    /// an invocation).
    Read(Atom, Option<Atom>),
    /// `["w", key, value]`.
    Write(Atom, Atom),
}

/// Parses a transaction value; the error says what is wrong.
pub fn parse_mops(value: &Value, atoms: &mut Atoms) -> Result<Vec<Mop>, String> {
    mop_list(value)?
        .iter()
        .map(|m| match m.as_array().map(Vec::as_slice) {
            Some([f, k, v]) if f == "r" => {
                let val = (!v.is_null()).then(|| atoms.intern(v));
                Ok(Mop::Read(atoms.intern(k), val))
            }
            Some([f, k, v]) if f == "w" && !v.is_null() => {
                Ok(Mop::Write(atoms.intern(k), atoms.intern(v)))
            }
            _ => Err(format!(
                "the micro-op {m} is not [\"r\", key, value] or [\"w\", key, value]"
            )),
        })
        .collect()
}

/// An external read: `(key, value, mop index)`.
pub type ExtRead = (Atom, Option<Atom>, usize);
/// An external write: `(key, value, mop index)`.
pub type ExtWrite = (Atom, Atom, usize);

/// A transaction with its micro-ops and external reads and writes.
#[derive(Clone, Debug)]
pub struct Txn {
    /// Where it is in the history.
    pub op: TxnOp,
    /// Its micro-ops (from the completion, or the invocation if it has none).
    pub mops: Vec<Mop>,
    /// Reads of a key before the transaction wrote or read it: `(key, value, mop index)`.
    pub ext_reads: Vec<ExtRead>,
    /// The last write to each key: `(key, value, mop index)`.
    pub ext_writes: Vec<ExtWrite>,
}

impl Txn {
    /// True if the transaction completed `ok`.
    pub fn ok(&self) -> bool {
        self.op.kind == OpType::Ok
    }

    /// The external read of `key`, if any.
    pub fn ext_read(&self, key: Atom) -> Option<Option<Atom>> {
        self.ext_reads.iter().find(|r| r.0 == key).map(|r| r.1)
    }

    /// The external (final) write of `key`, if any.
    pub fn ext_write(&self, key: Atom) -> Option<Atom> {
        self.ext_writes.iter().find(|w| w.0 == key).map(|w| w.1)
    }
}

/// External reads and writes of a micro-op list.
fn externals(mops: &[Mop]) -> (Vec<ExtRead>, Vec<ExtWrite>) {
    let mut reads: Vec<ExtRead> = Vec::new();
    let mut writes: Vec<ExtWrite> = Vec::new();
    let mut touched: Vec<Atom> = Vec::new();
    for (i, m) in mops.iter().enumerate() {
        match *m {
            Mop::Read(k, v) => {
                if !touched.contains(&k) {
                    reads.push((k, v, i));
                    touched.push(k);
                }
            }
            Mop::Write(k, v) => {
                if !touched.contains(&k) {
                    touched.push(k);
                }
                match writes.iter_mut().find(|w| w.0 == k) {
                    Some(w) => *w = (k, v, i),
                    None => writes.push((k, v, i)),
                }
            }
        }
    }
    (reads, writes)
}

/// Every "txn" operation of the history, parsed. Unparseable ones are reported in
/// the error list (by history index) and left out.
pub fn transactions(history: &History, atoms: &mut Atoms) -> (Vec<Txn>, Vec<(usize, String)>) {
    parse_txns(history, atoms, parse_mops, |op, mops| {
        let (ext_reads, ext_writes) = externals(&mops);
        Txn {
            op,
            mops,
            ext_reads,
            ext_writes,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn external_reads_come_before_any_write_and_writes_are_final() {
        let mut atoms = Atoms::default();
        let mops = parse_mops(
            &json!([
                ["r", 1, null],
                ["w", 1, 2],
                ["r", 1, 2],
                ["w", 1, 3],
                ["w", 2, 4],
                ["r", 2, 4],
                ["r", 3, 9]
            ]),
            &mut atoms,
        )
        .unwrap();
        let (reads, writes) = externals(&mops);
        let k = |i| Atom::Int(i);
        assert_eq!(reads, vec![(k(1), None, 0), (k(3), Some(k(9)), 6)]);
        assert_eq!(writes, vec![(k(1), k(3), 3), (k(2), k(4), 4)]);
    }

    #[test]
    fn rejects_malformed_micro_ops() {
        let mut atoms = Atoms::default();
        assert!(parse_mops(&json!([["r", 1]]), &mut atoms).is_err());
        assert!(parse_mops(&json!([["append", 1, 2]]), &mut atoms).is_err());
        assert!(parse_mops(&json!({"r": 1}), &mut atoms).is_err());
    }
}
