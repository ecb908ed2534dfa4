//! Test helpers: a terse way to write histories by hand.

use serde_json::Value;

use crate::checker::CheckResult;
use crate::history::{History, OpType};

/// Builds a history entry by entry; every entry is 1 ms after the previous one.
#[derive(Default)]
pub struct Hist {
    /// The history so far.
    pub h: History,
}

impl Hist {
    /// A new, empty history.
    pub fn new() -> Hist {
        Hist::default()
    }

    fn push(&mut self, process: u64, kind: OpType, f: &str, value: Value) -> usize {
        let mut op = crate::checker::stats::tests::op(process, kind, f, value);
        op.time = (self.h.ops.len() as u64 + 1) * 1_000_000;
        self.h.push(op)
    }

    /// An invocation by `process`.
    pub fn invoke(&mut self, process: u64, f: &str, value: Value) -> usize {
        self.push(process, OpType::Invoke, f, value)
    }

    /// A completion of `process`'s pending operation (`f` is copied from the invoke).
    pub fn complete(&mut self, process: u64, kind: OpType, value: Value) -> usize {
        let f = self
            .h
            .ops
            .iter()
            .rev()
            .find(|o| o.process == process && o.kind == OpType::Invoke)
            .map(|o| o.f.clone())
            .unwrap_or_default();
        self.push(process, kind, &f, value)
    }

    /// A completion with an error value, e.g. `[20, "key-does-not-exist"]`.
    pub fn complete_err(
        &mut self,
        process: u64,
        kind: OpType,
        value: Value,
        error: Value,
    ) -> usize {
        let i = self.complete(process, kind, value);
        self.h.ops[i].error = Some(error);
        i
    }

    /// An invocation immediately followed by its completion.
    pub fn op(&mut self, process: u64, f: &str, invoke: Value, kind: OpType, done: Value) -> usize {
        self.invoke(process, f, invoke);
        self.complete(process, kind, done)
    }

    /// A transaction ("txn") that completes `ok` right away: the invoke value has
    /// the reads blanked out.
    pub fn txn(&mut self, process: u64, done: Value) -> usize {
        let invoke = blank_reads(&done);
        self.op(process, "txn", invoke, OpType::Ok, done)
    }

    /// Two concurrent transactions: `a` (process 0) then `b` (process 1) invoked,
    /// then both complete `ok` in the same order.
    pub fn concurrent_txns(&mut self, a: Value, b: Value) {
        self.invoke(0, "txn", blank_reads(&a));
        self.invoke(1, "txn", blank_reads(&b));
        self.complete(0, OpType::Ok, a);
        self.complete(1, OpType::Ok, b);
    }
}

/// Consistency model names in the form the checkers take them.
pub fn model_names(models: &[&str]) -> Vec<String> {
    models.iter().map(|s| s.to_string()).collect()
}

/// The distinct rules of a result's findings, sorted.
pub fn kinds(r: &CheckResult) -> Vec<String> {
    let mut k: Vec<String> = r.findings.iter().map(|f| f.rule.clone()).collect();
    k.sort();
    k.dedup();
    k
}

/// True if some finding of the result has the rule `kind`.
pub fn has(r: &CheckResult, kind: &str) -> bool {
    r.findings.iter().any(|f| f.rule == kind)
}

/// The invocation form of a transaction: every read's value replaced by null.
pub fn blank_reads(txn: &Value) -> Value {
    match txn {
        Value::Array(mops) => Value::Array(
            mops.iter()
                .map(|m| match m.as_array() {
                    Some(a) if a.len() == 3 && a[0] == "r" => {
                        Value::Array(vec![a[0].clone(), a[1].clone(), Value::Null])
                    }
                    _ => m.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}
