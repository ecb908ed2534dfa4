//! The shared vocabulary of the kafka checks: one error record, and the context
//! they read (operations, logs, who sent and who polled each message).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::log::Logs;
use super::parse::{KOp, Kind};
use crate::checker::cycles::txn::{describe_op, Atom, Atoms, TxnOp};
use crate::history::{History, OpType};

/// One error found by a check.
#[derive(Clone, Debug)]
pub struct KErr {
    /// The error type, e.g. "poll_skip".
    pub kind: &'static str,
    /// The story: which operations, processes, nodes and messages, and the rule.
    pub explanation: String,
    /// History indexes of the operations involved.
    pub ops: Vec<usize>,
    /// Machine-readable fields for `results.json`.
    pub data: Value,
    /// Larger is shown first (e.g. the size of a skip).
    pub severity: i64,
}

/// What the checks read.
pub struct Cx<'a> {
    /// The history.
    pub history: &'a History,
    /// Its kafka operations, in invoke order.
    pub ops: &'a [KOp],
    /// Key and message names.
    pub atoms: &'a Atoms,
    /// The logs.
    pub logs: &'a Logs,
    /// Messages returned by `ok` polls.
    pub ok_reads: &'a HashSet<(Atom, Atom)>,
    /// `(key, message)` -> the last operation (index into `ops`, by completion) that
    /// sent it.
    pub writer_of: HashMap<(Atom, Atom), usize>,
    /// `(key, message)` -> the first `ok` poll (index into `ops`) that returned it.
    pub first_reader: HashMap<(Atom, Atom), usize>,
}

impl<'a> Cx<'a> {
    /// Builds the context, indexing writers and readers.
    pub fn new(
        history: &'a History,
        ops: &'a [KOp],
        atoms: &'a Atoms,
        logs: &'a Logs,
        ok_reads: &'a HashSet<(Atom, Atom)>,
    ) -> Cx<'a> {
        // Operations that never completed count as indeterminate writers.
        let mut by_completion: Vec<usize> = (0..ops.len()).collect();
        by_completion.sort_by_key(|&i| ops[i].entry);
        let mut writer_of = HashMap::new();
        let mut first_reader = HashMap::new();
        for i in by_completion {
            let op = &ops[i];
            for &(k, m, _) in &op.sends {
                writer_of.insert((k, m), i);
            }
            if op.kind == OpType::Ok && op.f == Kind::Poll {
                for (k, ms) in &op.polls {
                    for &(_, m) in ms {
                        first_reader.entry((*k, m)).or_insert(i);
                    }
                }
            }
        }
        Cx {
            history,
            ops,
            atoms,
            logs,
            ok_reads,
            writer_of,
            first_reader,
        }
    }

    /// "op 57 (process 3 on n1, invoked at 10.20 ms, ok at 11.05 ms)".
    pub fn who(&self, i: usize) -> String {
        let op = &self.ops[i];
        describe_op(
            self.history,
            &TxnOp {
                invoke: op.invoke,
                completion: op.completion,
                kind: op.kind,
            },
        )
    }

    /// A key for prose.
    pub fn key(&self, k: Atom) -> String {
        self.atoms.show(k)
    }

    /// A message with its offset, if known: "7 (offset 12)".
    pub fn msg(&self, k: Atom, m: Atom) -> String {
        match self.logs.offset(k, m) {
            Some(o) => format!("{} (offset {o})", self.atoms.show(m)),
            None => self.atoms.show(m),
        }
    }

    /// A note for messages stored at several offsets, which Jepsen (and this
    /// checker) place at their last position; empty otherwise.
    pub fn duplicate_note(&self, k: Atom, ms: &[Atom]) -> String {
        let Some(log) = self.logs.keys.get(&k) else {
            return String::new();
        };
        let dups: Vec<String> = ms
            .iter()
            .filter(|m| log.first_index.get(m) != log.last_index.get(m))
            .map(|m| self.atoms.show(*m))
            .collect();
        if dups.is_empty() {
            String::new()
        } else {
            format!(
                " (Message {} is stored at several offsets, see duplicate; like Maelstrom, indexes count it at its last position.)",
                dups.join(", ")
            )
        }
    }

    /// The JSON value of an atom.
    pub fn json(&self, a: Atom) -> Value {
        self.atoms.value(a)
    }

    /// History index naming operation `i`.
    pub fn entry(&self, i: usize) -> usize {
        self.ops[i].entry
    }
}
