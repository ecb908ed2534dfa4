//! Reading kafka operations: sends, polls, assigns and crashes, per completion.

use serde_json::Value;

use crate::checker::cycles::txn::{Atom, Atoms};
use crate::history::{History, OpType};

/// What an operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `send`.
    Send,
    /// `poll`.
    Poll,
    /// `assign`.
    Assign,
    /// `crash` or anything else.
    Other,
}

/// A sent message: `(key, message, offset if acknowledged)`.
pub type Sent = (Atom, Atom, Option<i64>);
/// Messages polled from one key, in order: `(offset, message)`.
pub type Polled = (Atom, Vec<(Option<i64>, Atom)>);

/// One completed (or never completed) kafka operation.
#[derive(Clone, Debug)]
pub struct KOp {
    /// History index of the completion, or of the invoke if there is none.
    pub entry: usize,
    /// History index of the invoke.
    pub invoke: usize,
    /// History index of the completion.
    pub completion: Option<usize>,
    /// The process.
    pub process: u64,
    /// How it ended (`Info` if it never did).
    pub kind: OpType,
    /// What it does.
    pub f: Kind,
    /// Messages it sent.
    pub sends: Vec<Sent>,
    /// Messages it polled, per key.
    pub polls: Vec<Polled>,
    /// Keys it assigned.
    pub assign: Vec<Atom>,
}

impl KOp {
    /// The messages polled from `key`, if the poll returned that key.
    pub fn polled(&self, key: Atom) -> Option<&[(Option<i64>, Atom)]> {
        self.polls
            .iter()
            .find(|p| p.0 == key)
            .map(|p| p.1.as_slice())
    }

    /// The messages sent to `key`.
    pub fn sent_to(&self, key: Atom) -> impl Iterator<Item = Atom> + '_ {
        self.sends.iter().filter(move |s| s.0 == key).map(|s| s.1)
    }
}

/// Reads a send value `{"key", "msg", "offset"?}`.
fn send_of(v: &Value, atoms: &mut Atoms) -> Option<Sent> {
    let key = v.get("key")?;
    let msg = v.get("msg")?;
    Some((
        atoms.intern(key),
        atoms.intern(msg),
        v.get("offset").and_then(Value::as_i64),
    ))
}

/// Reads a poll value `{"msgs": {k: [[o, m], …]}}`.
fn polls_of(v: &Value, atoms: &mut Atoms) -> Vec<Polled> {
    let Some(msgs) = v.get("msgs").and_then(Value::as_object) else {
        return Vec::new();
    };
    msgs.iter()
        .map(|(k, pairs)| {
            let list = pairs
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter_map(|p| {
                            let p = p.as_array()?;
                            Some((p.first()?.as_i64(), atoms.intern(p.get(1)?)))
                        })
                        .collect()
                })
                .unwrap_or_default();
            (atoms.intern(&Value::String(k.clone())), list)
        })
        .collect()
}

/// Every kafka operation of the history, in invoke order.
pub fn operations(history: &History, atoms: &mut Atoms) -> Vec<KOp> {
    let mut out = Vec::new();
    for pair in history.pairs() {
        let inv = &history.ops[pair.invoke];
        let done = pair.completion.map(|c| &history.ops[c]);
        let kind = done.map_or(OpType::Info, |d| d.kind);
        let value = match done {
            Some(d) if !d.value.is_null() => &d.value,
            _ => &inv.value,
        };
        let f = match inv.f.as_str() {
            "send" => Kind::Send,
            "poll" => Kind::Poll,
            "assign" => Kind::Assign,
            _ => Kind::Other,
        };
        let mut op = KOp {
            entry: pair.completion.unwrap_or(pair.invoke),
            invoke: pair.invoke,
            completion: pair.completion,
            process: inv.process,
            kind,
            f,
            sends: Vec::new(),
            polls: Vec::new(),
            assign: Vec::new(),
        };
        match f {
            Kind::Send => {
                if let Some(s) = send_of(value, atoms).or_else(|| send_of(&inv.value, atoms)) {
                    op.sends.push(s);
                }
            }
            Kind::Poll => op.polls = polls_of(value, atoms),
            Kind::Assign => {
                op.assign = value
                    .as_array()
                    .or_else(|| inv.value.as_array())
                    .map(|ks| ks.iter().map(|k| atoms.intern(k)).collect())
                    .unwrap_or_default();
            }
            Kind::Other => {}
        }
        out.push(op);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::cycles::testkit::Hist;
    use serde_json::json;

    #[test]
    fn parses_each_kind() {
        let mut h = Hist::new();
        h.op(
            0,
            "send",
            json!({"key": "1", "msg": 5}),
            OpType::Ok,
            json!({"key": "1", "msg": 5, "offset": 3}),
        );
        h.op(
            0,
            "poll",
            json!(null),
            OpType::Ok,
            json!({"msgs": {"1": [[3, 5], [4, 6]]}}),
        );
        h.op(
            0,
            "assign",
            json!(["1", "2"]),
            OpType::Ok,
            json!(["1", "2"]),
        );
        h.op(
            0,
            "send",
            json!({"key": "2", "msg": 1}),
            OpType::Info,
            json!(null),
        );
        let mut atoms = Atoms::default();
        let ops = operations(&h.h, &mut atoms);
        let k1 = atoms.intern(&json!("1"));
        assert_eq!(ops[0].sends, vec![(k1, Atom::Int(5), Some(3))]);
        assert_eq!(
            ops[1].polled(k1).unwrap(),
            &[(Some(3), Atom::Int(5)), (Some(4), Atom::Int(6))]
        );
        assert_eq!(ops[2].assign.len(), 2);
        assert_eq!(ops[3].sends[0].2, None, "info send: no offset");
        assert_eq!(ops[3].kind, OpType::Info);
    }
}
