//! Reading txn-list-append transactions: micro-ops `["r", k, [v…] | null]` and
//! `["append", k, v]`.

use serde_json::Value;

use crate::checker::cycles::txn::{mop_list, parse_txns, Atom, Atoms, TxnOp};
use crate::history::{History, OpType};

/// One micro-op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mop {
    /// `["r", key, list]`; `None` for a null read (empty list, or unknown on an
    /// invocation).
    Read(Atom, Option<Vec<Atom>>),
    /// `["append", key, value]`.
    Append(Atom, Atom),
}

/// Parses a transaction value; the error says what is wrong.
pub fn parse_mops(value: &Value, atoms: &mut Atoms) -> Result<Vec<Mop>, String> {
    mop_list(value)?
        .iter()
        .map(|m| match m.as_array().map(Vec::as_slice) {
            Some([f, k, v]) if f == "r" => {
                let read = match v {
                    Value::Null => None,
                    Value::Array(items) => Some(items.iter().map(|e| atoms.intern(e)).collect()),
                    _ => return Err(format!("the read {m} returned {v}, not a list or null")),
                };
                Ok(Mop::Read(atoms.intern(k), read))
            }
            Some([f, k, v]) if f == "append" && !v.is_null() => {
                Ok(Mop::Append(atoms.intern(k), atoms.intern(v)))
            }
            _ => Err(format!(
                "the micro-op {m} is not [\"r\", key, list] or [\"append\", key, value]"
            )),
        })
        .collect()
}

/// A transaction and its micro-ops.
#[derive(Clone, Debug)]
pub struct Txn {
    /// Where it is in the history.
    pub op: TxnOp,
    /// Its micro-ops (from the completion, or the invocation if it has none).
    pub mops: Vec<Mop>,
}

impl Txn {
    /// True if the transaction completed `ok`.
    pub fn ok(&self) -> bool {
        self.op.kind == OpType::Ok
    }

    /// True if it may have taken effect (`ok` or indeterminate).
    pub fn possible(&self) -> bool {
        self.op.kind != OpType::Fail
    }
}

/// Every "txn" operation, parsed; unparseable ones come back as `(index, reason)`.
pub fn transactions(history: &History, atoms: &mut Atoms) -> (Vec<Txn>, Vec<(usize, String)>) {
    parse_txns(history, atoms, parse_mops, |op, mops| Txn { op, mops })
}

/// A list for prose: `[1, 2, 3]`, shortened in the middle when long.
pub fn show_list(list: &[Atom], atoms: &Atoms) -> String {
    let show = |s: &[Atom]| {
        s.iter()
            .map(|a| atoms.show(*a))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if list.len() <= 10 {
        format!("[{}]", show(list))
    } else {
        format!(
            "[{}, … {} more …, {}]",
            show(&list[..3]),
            list.len() - 6,
            show(&list[list.len() - 3..])
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_reads_and_appends() {
        let mut atoms = Atoms::default();
        let m = parse_mops(
            &json!([["r", 1, [1, 2]], ["append", 1, 3], ["r", 2, null]]),
            &mut atoms,
        )
        .unwrap();
        let a = Atom::Int;
        assert_eq!(
            m,
            vec![
                Mop::Read(a(1), Some(vec![a(1), a(2)])),
                Mop::Append(a(1), a(3)),
                Mop::Read(a(2), None)
            ]
        );
        assert!(parse_mops(&json!([["w", 1, 2]]), &mut atoms).is_err());
        assert!(parse_mops(&json!([["r", 1, 5]]), &mut atoms).is_err());
    }

    #[test]
    fn long_lists_are_shortened() {
        let atoms = Atoms::default();
        let list: Vec<Atom> = (1..=20).map(Atom::Int).collect();
        assert_eq!(
            show_list(&list, &atoms),
            "[1, 2, 3, … 14 more …, 18, 19, 20]"
        );
        assert_eq!(show_list(&list[..2], &atoms), "[1, 2]");
    }
}
