//! Jepsen's `stats` checker: counts completions overall and per operation name (`f`), and
//! fails the run when some `f` never succeeded.
//!
//! As in Maelstrom, `crash` and `debug_topic_partitions` (kafka) never invalidate: kafka's
//! crash operations always end `info`.

use super::{CheckResult, Finding, Validity};
use crate::history::{History, Op, OpType};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Operation names allowed to have no `ok` completion at all.
const MAY_NEVER_SUCCEED: [&str; 3] = ["crash", "debug_topic_partitions", "debug-topic-partitions"];

/// How many error examples a finding quotes.
const ERROR_EXAMPLES: usize = 3;

/// Completion counts for one group of operations.
#[derive(Default)]
struct Counts {
    ok: usize,
    fail: usize,
    info: usize,
    /// The first few failed or indeterminate completions, as history indexes.
    examples: Vec<usize>,
}

impl Counts {
    fn add(&mut self, op: &Op) {
        match op.kind {
            OpType::Ok => self.ok += 1,
            OpType::Fail => self.fail += 1,
            OpType::Info => self.info += 1,
            OpType::Invoke => return,
        }
        if op.kind != OpType::Ok && self.examples.len() < ERROR_EXAMPLES {
            self.examples.push(op.index);
        }
    }

    fn count(&self) -> usize {
        self.ok + self.fail + self.info
    }

    fn to_json(&self, valid: Option<bool>) -> Value {
        let mut m = Map::new();
        m.insert("count".into(), json!(self.count()));
        m.insert("ok_count".into(), json!(self.ok));
        m.insert("fail_count".into(), json!(self.fail));
        m.insert("info_count".into(), json!(self.info));
        if let Some(valid) = valid {
            m.insert("valid".into(), json!(valid));
        }
        Value::Object(m)
    }
}

/// Counts client completions overall and per `f` (`details`: `count`, `ok_count`,
/// `fail_count`, `info_count`, and `by_f` with the same counts plus `valid` per `f`).
/// Invalid when an `f` other than `crash`/`debug_topic_partitions` has no `ok` completion.
pub fn check(history: &History) -> CheckResult {
    let mut all = Counts::default();
    let mut by_f: BTreeMap<&str, Counts> = BTreeMap::new();
    for op in history.ops.iter().filter(|op| op.is_completion()) {
        all.add(op);
        by_f.entry(op.f.as_str()).or_default().add(op);
    }

    let mut findings = Vec::new();
    let mut valid = Validity::Valid;
    let mut by_f_json = Map::new();
    for (f, counts) in &by_f {
        let succeeded = counts.ok > 0;
        by_f_json.insert((*f).to_string(), counts.to_json(Some(succeeded)));
        if succeeded || MAY_NEVER_SUCCEED.contains(f) {
            continue;
        }
        valid = Validity::Invalid;
        findings.push(never_succeeded(history, f, counts));
    }

    let mut details = all.to_json(None);
    if let Value::Object(m) = &mut details {
        m.insert("by_f".into(), Value::Object(by_f_json));
    }
    CheckResult {
        valid,
        details,
        findings,
    }
}

/// The finding for an operation name with no successful completion.
fn never_succeeded(history: &History, f: &str, counts: &Counts) -> Finding {
    let examples: Vec<String> = counts
        .examples
        .iter()
        .map(|&i| {
            let op = &history.ops[i];
            let what = match &op.error {
                Some(error) => error.to_string(),
                None => "no error recorded".to_string(),
            };
            format!("{} ended {}: {}", op.describe(), kind_name(op.kind), what)
        })
        .collect();
    let mut explanation = format!(
        "No \"{f}\" operation succeeded: {} completed, {} failed (definite error) and {} \
         are indeterminate (timeout, crash or malformed reply). Every operation type must \
         succeed at least once.",
        counts.count(),
        counts.fail,
        counts.info
    );
    if !examples.is_empty() {
        explanation.push_str(" First errors: ");
        explanation.push_str(&examples.join("; "));
        explanation.push('.');
    }
    Finding {
        rule: "never-succeeded".into(),
        explanation,
        ops: counts.examples.clone(),
        note: false,
    }
}

/// "ok", "fail", "info" or "invoke".
pub fn kind_name(kind: OpType) -> &'static str {
    match kind {
        OpType::Invoke => "invoke",
        OpType::Ok => "ok",
        OpType::Fail => "fail",
        OpType::Info => "info",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds an op for hand-made histories; `index` is fixed by `History::push`.
    pub(crate) fn op(process: u64, kind: OpType, f: &str, value: Value) -> Op {
        Op {
            index: 0,
            time: 0,
            process,
            kind,
            f: f.to_string(),
            value,
            node: Some(format!("n{}", process % 3)),
            client: None,
            msg_id: None,
            error: None,
            final_phase: false,
        }
    }

    /// Builds a history from ops, giving them times 1 ms apart.
    pub(crate) fn history(ops: Vec<Op>) -> History {
        let mut h = History::default();
        for (i, mut o) in ops.into_iter().enumerate() {
            o.time = (i as u64 + 1) * 1_000_000;
            h.push(o);
        }
        h
    }

    fn pair(process: u64, f: &str, end: OpType) -> Vec<Op> {
        let mut done = op(process, end, f, Value::Null);
        if end != OpType::Ok {
            done.error = Some(json!(["net-timeout"]));
        }
        vec![op(process, OpType::Invoke, f, Value::Null), done]
    }

    #[test]
    fn counts_completions_overall_and_per_f() {
        let mut ops = Vec::new();
        ops.extend(pair(0, "read", OpType::Ok));
        ops.extend(pair(0, "read", OpType::Fail));
        ops.extend(pair(1, "write", OpType::Ok));
        ops.extend(pair(1, "write", OpType::Info));
        ops.push(op(2, OpType::Invoke, "write", Value::Null)); // never completes
        let r = check(&history(ops));
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["count"], json!(4));
        assert_eq!(r.details["ok_count"], json!(2));
        assert_eq!(r.details["fail_count"], json!(1));
        assert_eq!(r.details["info_count"], json!(1));
        assert_eq!(
            r.details["by_f"]["write"],
            json!({"count": 2, "ok_count": 1, "fail_count": 0, "info_count": 1, "valid": true})
        );
        assert!(r.findings.is_empty());
    }

    #[test]
    fn an_f_without_ok_invalidates_and_says_why() {
        let mut ops = Vec::new();
        ops.extend(pair(0, "read", OpType::Ok));
        ops.extend(pair(0, "broadcast", OpType::Info));
        ops.extend(pair(1, "broadcast", OpType::Fail));
        let h = history(ops);
        let r = check(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.details["by_f"]["broadcast"]["valid"], json!(false));
        assert_eq!(r.findings.len(), 1);
        let finding = &r.findings[0];
        assert_eq!(finding.rule, "never-succeeded");
        assert!(finding.explanation.contains("\"broadcast\""));
        assert!(finding.explanation.contains("net-timeout"));
        assert_eq!(finding.ops, vec![3, 5]);
    }

    #[test]
    fn crash_and_debug_topic_partitions_never_invalidate() {
        let mut ops = Vec::new();
        ops.extend(pair(0, "send", OpType::Ok));
        ops.extend(pair(0, "crash", OpType::Info));
        ops.extend(pair(1, "debug_topic_partitions", OpType::Info));
        let r = check(&history(ops));
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["by_f"]["crash"]["valid"], json!(false));
    }

    #[test]
    fn empty_history_is_valid() {
        let r = check(&History::default());
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["count"], json!(0));
    }

    #[test]
    fn describes_ops_with_their_context() {
        let mut o = op(3, OpType::Ok, "read", Value::Null);
        o.index = 17;
        o.time = 1_234_000_000;
        o.client = Some("c7".into());
        assert_eq!(
            o.describe(),
            "op 17 (process 3, node n0, client c7, at 1.234 s)"
        );
    }
}
