//! Pieces shared by the transactional checkers: interned keys and values, the list of
//! transactions of a history, and how to name one in a report.

use std::collections::HashMap;

use serde_json::Value;

use super::order::Span;
use crate::history::{History, OpType};

/// A key or value from a micro-op, interned: integers stay integers, anything else
/// gets a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Atom {
    /// A JSON integer.
    Int(i64),
    /// Any other JSON value, by interning number.
    Other(u32),
}

/// The interning table for [`Atom`]s.
#[derive(Clone, Debug, Default)]
pub struct Atoms {
    ids: HashMap<String, u32>,
    values: Vec<Value>,
}

impl Atoms {
    /// The atom for `v`.
    pub fn intern(&mut self, v: &Value) -> Atom {
        if let Some(i) = v.as_i64() {
            return Atom::Int(i);
        }
        let text = v.to_string();
        if let Some(&id) = self.ids.get(&text) {
            return Atom::Other(id);
        }
        let id = self.values.len() as u32;
        self.values.push(v.clone());
        self.ids.insert(text, id);
        Atom::Other(id)
    }

    /// The JSON value of an atom.
    pub fn value(&self, a: Atom) -> Value {
        match a {
            Atom::Int(i) => Value::from(i),
            Atom::Other(id) => self.values.get(id as usize).cloned().unwrap_or(Value::Null),
        }
    }

    /// The atom as JSON text, for prose.
    pub fn show(&self, a: Atom) -> String {
        match a {
            Atom::Int(i) => i.to_string(),
            Atom::Other(_) => self.value(a).to_string(),
        }
    }

    /// An optional atom as JSON text (`None` is `null`).
    pub fn show_opt(&self, a: Option<Atom>) -> String {
        a.map_or_else(|| "null".to_string(), |a| self.show(a))
    }
}

/// One operation of a history: its invoke and, if it finished, its completion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxnOp {
    /// Index of the invoke entry.
    pub invoke: usize,
    /// Index of the completion entry.
    pub completion: Option<usize>,
    /// How it ended; `Info` if it never completed.
    pub kind: OpType,
}

impl TxnOp {
    /// The index used to name the operation: the completion's, else the invoke's.
    pub fn index(&self) -> usize {
        self.completion.unwrap_or(self.invoke)
    }

    /// Where the operation sits, for order edges.
    pub fn span(&self, history: &History) -> Span {
        Span {
            invoke: self.invoke,
            completion: self.completion,
            ok: self.kind == OpType::Ok,
            process: history.ops[self.invoke].process,
        }
    }

    /// The operation's value: the completion's if it has one, else the invocation's.
    pub fn value<'h>(&self, history: &'h History) -> &'h Value {
        match self.completion.map(|c| &history.ops[c].value) {
            Some(v) if !v.is_null() => v,
            _ => &history.ops[self.invoke].value,
        }
    }
}

/// Every operation with function `f`, in invoke order.
pub fn collect(history: &History, f: &str) -> Vec<TxnOp> {
    history
        .pairs()
        .into_iter()
        .filter(|p| history.ops[p.invoke].f == f)
        .map(|p| TxnOp {
            invoke: p.invoke,
            completion: p.completion,
            kind: p.completion.map_or(OpType::Info, |c| history.ops[c].kind),
        })
        .collect()
}

/// The micro-ops of a transaction value, or why it is not an array of them.
pub fn mop_list(value: &Value) -> Result<&[Value], String> {
    value
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| format!("the transaction {value} is not an array of micro-ops"))
}

/// Every "txn" operation of the history, its value read by `parse` and the
/// transaction made by `build`; unparseable ones come back as `(history index,
/// reason)` and are left out.
pub fn parse_txns<M, T>(
    history: &History,
    atoms: &mut Atoms,
    parse: impl Fn(&Value, &mut Atoms) -> Result<M, String>,
    build: impl Fn(TxnOp, M) -> T,
) -> (Vec<T>, Vec<(usize, String)>) {
    let mut txns = Vec::new();
    let mut errors = Vec::new();
    for op in collect(history, "txn") {
        match parse(op.value(history), atoms) {
            Ok(mops) => txns.push(build(op, mops)),
            Err(e) => errors.push((op.index(), e)),
        }
    }
    (txns, errors)
}

/// "op 57 (process 3 on n1, invoked at 10.20 ms, ok at 11.05 ms)".
pub fn describe_op(history: &History, t: &TxnOp) -> String {
    let inv = &history.ops[t.invoke];
    let node = inv
        .node
        .as_deref()
        .map(|n| format!(" on {n}"))
        .unwrap_or_default();
    let end = match t.completion {
        Some(c) => {
            let op = &history.ops[c];
            let kind = match op.kind {
                OpType::Ok => "ok",
                OpType::Fail => "failed",
                OpType::Info => "indeterminate",
                OpType::Invoke => "invoked",
            };
            format!("{kind} at {:.2} ms", op.time_ms())
        }
        None => "never completed".to_string(),
    };
    format!(
        "op {} (process {}{node}, invoked at {:.2} ms, {end})",
        t.index(),
        inv.process,
        inv.time_ms()
    )
}

/// [`describe_op`] followed by the operation's value as JSON.
pub fn describe(history: &History, t: &TxnOp) -> String {
    let value = serde_json::to_string(t.value(history)).unwrap_or_default();
    format!("{}: {value}", describe_op(history, t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Op;
    use serde_json::json;

    #[test]
    fn atoms_keep_integers_and_intern_the_rest() {
        let mut a = Atoms::default();
        assert_eq!(a.intern(&json!(5)), Atom::Int(5));
        let s = a.intern(&json!("x"));
        assert_eq!(a.intern(&json!("x")), s);
        assert_ne!(a.intern(&json!("y")), s);
        assert_eq!(a.show(s), "\"x\"");
        assert_eq!(a.show_opt(None), "null");
    }

    #[test]
    fn collects_pairs_and_describes_them() {
        let mut h = History::default();
        let op = |process, kind, value: Value, time| Op {
            index: 0,
            time,
            process,
            kind,
            f: "txn".into(),
            value,
            node: Some("n1".into()),
            client: None,
            msg_id: None,
            error: None,
            final_phase: false,
        };
        h.push(op(0, OpType::Invoke, json!([["r", 1, null]]), 1_000_000));
        h.push(op(1, OpType::Invoke, json!([["w", 1, 2]]), 1_500_000));
        h.push(op(0, OpType::Ok, json!([["r", 1, 2]]), 2_000_000));
        let txns = collect(&h, "txn");
        assert_eq!(txns.len(), 2);
        assert_eq!(txns[0].completion, Some(2));
        assert_eq!(txns[1].kind, OpType::Info);
        let d = describe(&h, &txns[0]);
        assert!(
            d.starts_with("op 2 (process 0 on n1, invoked at 1.00 ms, ok at 2.00 ms)"),
            "{d}"
        );
        assert!(d.ends_with("[[\"r\",1,2]]"), "{d}");
        assert_eq!(txns[1].value(&h), &json!([["w", 1, 2]]));
    }
}
