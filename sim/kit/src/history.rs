//! The history of client operations a test records: Jepsen-style invoke/complete pairs.
//!
//! Every operation a worker performs appears twice: an `invoke` entry when the request is
//! sent and a completion (`ok`, `fail` or `info`) when the reply, an error or a timeout
//! arrives. Checkers read nothing but this history (and, for reports, the network journal).
//!
//! Value conventions per workload (both the generators and the checkers rely on them):
//! - echo: `f = "echo"`; invoke value is the string sent, ok value the string echoed.
//! - unique-ids: `f = "generate"`; invoke value `null`, ok value the id returned.
//! - broadcast: `f = "broadcast"` with the integer value (same on invoke and completion);
//!   `f = "read"` with invoke value `null` and ok value the array of messages read.
//! - g-set: `f = "add"` with the integer element; `f = "read"` like broadcast.
//! - g-counter, pn-counter: `f = "add"` with the integer delta; `f = "read"`, ok value the
//!   integer read.
//! - kafka: `f = "send"`, invoke `{"key":k,"msg":m}`, ok `{"key":k,"msg":m,"offset":o}`;
//!   `f = "poll"`, ok `{"msgs":{k:[[o,m],…]}}`; `f = "assign"`, value `[k,…]`;
//!   `f = "crash"`, value `null` (always completes `info`).
//! - txn-rw-register / txn-list-append: `f = "txn"`, value the micro-op array
//!   `[["r",k,v],["w",k,v],["append",k,v]]`, reads `null` on invoke and filled in on ok.
//! - lin-kv: `f = "read" | "write" | "cas"`, value `[k, v]` (read: `v` null on invoke),
//!   cas: `[k, [from, to]]`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a history entry records: the start of an operation or one of its three endings.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    /// The worker sent the request.
    Invoke,
    /// The operation definitely happened and this is its result.
    Ok,
    /// The operation definitely did not happen.
    Fail,
    /// Indeterminate: the operation may or may not have happened (timeout, crash code...).
    Info,
}

/// One history entry.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Op {
    /// Position in the history, 0-based; equal to the index in [`History::ops`].
    pub index: usize,
    /// Nanoseconds since the start of the test.
    pub time: u64,
    /// Jepsen process number. A worker gets a fresh process after an `info` completion.
    pub process: u64,
    /// Invoke, ok, fail or info.
    #[serde(rename = "type")]
    pub kind: OpType,
    /// The operation's function name: "read", "broadcast", "send", "txn", ...
    pub f: String,
    /// The operation's value; see the module docs for the per-workload shape.
    pub value: Value,
    /// The node the worker addressed, e.g. "n3".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The client id that carried the request, e.g. "c7".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The request's `msg_id` (same on invoke and completion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<u64>,
    /// For fail/info completions: what went wrong, e.g. `["net-timeout"]` or
    /// `[11, "temporarily-unavailable", "text"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// True for operations of the final phase (after healing and recovery).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub final_phase: bool,
}

impl Op {
    /// True for completions (ok, fail, info).
    pub fn is_completion(&self) -> bool {
        self.kind != OpType::Invoke
    }

    /// Time in milliseconds since the test start, for reports.
    pub fn time_ms(&self) -> f64 {
        self.time as f64 / 1e6
    }

    /// Names the operation for a report: index, process, node, client and time, e.g.
    /// `op 17 (process 3, node n2, client c7, at 1.234 s)`. Shared by the part-1
    /// checkers.
    pub fn describe(&self) -> String {
        let mut s = format!("op {} (process {}", self.index, self.process);
        if let Some(node) = &self.node {
            s.push_str(", node ");
            s.push_str(node);
        }
        if let Some(client) = &self.client {
            s.push_str(", client ");
            s.push_str(client);
        }
        s.push_str(&format!(", at {:.3} s)", self.time as f64 / 1e9));
        s
    }
}

/// An ordered list of operations with helpers to pair invocations and completions.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct History {
    /// The entries in the order they happened.
    pub ops: Vec<Op>,
}

/// An invocation and, if it finished, its completion (indexes into [`History::ops`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair {
    /// Index of the invoke entry.
    pub invoke: usize,
    /// Index of the completion entry, if the operation completed.
    pub completion: Option<usize>,
}

impl History {
    /// Appends an entry, fixing its index, and returns the index.
    pub fn push(&mut self, mut op: Op) -> usize {
        op.index = self.ops.len();
        self.ops.push(op);
        self.ops.len() - 1
    }

    /// Pairs every invoke with the next completion of the same process, in invoke order.
    pub fn pairs(&self) -> Vec<Pair> {
        let mut open: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
        let mut pairs = Vec::new();
        let mut slot_of_invoke = std::collections::HashMap::new();
        for op in &self.ops {
            if op.kind == OpType::Invoke {
                open.insert(op.process, op.index);
                slot_of_invoke.insert(op.index, pairs.len());
                pairs.push(Pair {
                    invoke: op.index,
                    completion: None,
                });
            } else if let Some(inv) = open.remove(&op.process) {
                pairs[slot_of_invoke[&inv]].completion = Some(op.index);
            }
        }
        pairs
    }

    /// The completion of the operation invoked at `invoke`, if any.
    pub fn completion_of(&self, invoke: usize) -> Option<&Op> {
        let process = self.ops.get(invoke)?.process;
        self.ops[invoke + 1..]
            .iter()
            .find(|o| o.process == process && o.is_completion())
    }

    /// Number of client invocations (what Maelstrom divides by for msgs-per-op).
    pub fn invoke_count(&self) -> usize {
        self.ops.iter().filter(|o| o.kind == OpType::Invoke).count()
    }
}
