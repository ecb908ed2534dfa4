//! The lin-kv checker (spec §5.6): every key must be linearizable with respect to a
//! compare-and-set register whose initial value is null (Knossos' cas-register).
//!
//! Keys are checked independently (P-compositionality). Failed operations never took
//! effect and are left out; indeterminate writes and cas operations may take effect
//! at any time after their invocation, or never; indeterminate reads are left out
//! (they change nothing). A missing key may be read as null (an error 20 read is a
//! failed read). When the search budget runs out, the key's verdict is unknown,
//! never a guess.

mod model;
mod parse;
mod search;

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::checker::cycles::txn::{describe_op, Atoms, TxnOp};
use crate::checker::cycles::Budget;
use crate::checker::{CheckResult, Finding, Validity};
use crate::history::{History, OpType};
use model::Call;
use parse::KeyHistory;
use search::Outcome;

/// A sensible default budget for a whole history.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(20);

/// Checks a lin-kv history, spending at most about `budget` on the search.
pub fn check(history: &History, budget: Duration) -> CheckResult {
    let mut atoms = Atoms::default();
    let (mut keys, bad) = parse::by_key(history, &mut atoms);
    keys.sort_by_key(|k| k.ops.len());
    let mut budget = Budget::new(budget);
    let mut findings: Vec<Finding> = bad
        .into_iter()
        .map(|(i, e)| Finding {
            rule: "malformed-operation".into(),
            explanation: format!(
                "Op {i} could not be read as a lin-kv operation ({e}), so no verdict is possible."
            ),
            ops: vec![i],
            note: false,
        })
        .collect();
    let mut valid = if findings.is_empty() {
        Validity::Valid
    } else {
        Validity::Unknown
    };
    let mut results = Map::new();
    let mut failures = Vec::new();
    let mut unknown = Vec::new();
    for kh in &keys {
        let name = kh.key.map_or_else(String::new, |k| atoms.show(k));
        let outcome = search::check_key(kh, &mut budget);
        let (key_valid, extra) = match &outcome {
            Outcome::Linearizable { max_configs } => {
                (Validity::Valid, json!({ "max_configs": max_configs }))
            }
            Outcome::Violation(v) => {
                failures.push(name.clone());
                findings.push(violation_story(history, kh, &atoms, &name, v));
                (Validity::Invalid, json!({ "op": op_index(&kh.ops[v.op]) }))
            }
            Outcome::OutOfBudget { done } => {
                unknown.push(name.clone());
                findings.push(Finding {
                    rule: "search-budget-exhausted".into(),
                    explanation: format!(
                        "The linearizability search for key {name} ran out of time after {done} of its {} completed operations, so its verdict is unknown (not a failure). Many indeterminate (timed-out) writes on one key make the search expensive.",
                        kh.ops.iter().filter(|o| o.completion.is_some()).count()
                    ),
                    ops: vec![],
                    note: false,
                });
                (Validity::Unknown, json!({ "returns_checked": done }))
            }
            Outcome::TooConcurrent => {
                unknown.push(name.clone());
                findings.push(Finding {
                    rule: "too-concurrent".into(),
                    explanation: format!(
                        "Key {name} had more than {} completed operations in flight at once; the checker does not handle that, so its verdict is unknown.",
                        search::MAX_IN_FLIGHT
                    ),
                    ops: vec![],
                    note: false,
                });
                (Validity::Unknown, json!({}))
            }
        };
        valid = valid.merge(key_valid);
        let mut entry = json!({
            "valid": validity_json(key_valid),
            "ops": kh.ops.len(),
        });
        if let (Value::Object(e), Value::Object(x)) = (&mut entry, extra) {
            e.extend(x);
        }
        results.insert(name, entry);
    }
    CheckResult {
        valid,
        details: json!({
            "valid": validity_json(valid),
            "key_count": keys.len(),
            "failures": failures,
            "unknown_keys": unknown,
            "results": results,
        }),
        findings,
    }
}

fn validity_json(v: Validity) -> Value {
    match v {
        Validity::Valid => json!(true),
        Validity::Invalid => json!(false),
        Validity::Unknown => json!("unknown"),
    }
}

fn op_index(op: &parse::LinOp) -> usize {
    op.completion.unwrap_or(op.invoke)
}

/// "read → 3", "write 4", "cas 1 → 2".
fn show_call(call: Call, kh: &KeyHistory, atoms: &Atoms) -> String {
    let v = |s| kh.show(s, atoms);
    match call {
        Call::Read(x) => format!("read → {}", v(x)),
        Call::Write(x) => format!("write {}", v(x)),
        Call::Cas(f, t) => format!("cas {} → {}", v(f), v(t)),
    }
}

/// One operation for prose: "op 57 (process 3 on n1, …): read → 3".
fn show_op(history: &History, kh: &KeyHistory, atoms: &Atoms, i: usize) -> String {
    let op = &kh.ops[i];
    let done = history.completion_of(op.invoke);
    let t = TxnOp {
        invoke: op.invoke,
        completion: op.completion.or_else(|| done.map(|c| c.index)),
        kind: done.map_or(OpType::Info, |c| c.kind),
    };
    format!(
        "{}: {}",
        describe_op(history, &t),
        show_call(op.call, kh, atoms)
    )
}

/// Tells why a key is not linearizable.
fn violation_story(
    history: &History,
    kh: &KeyHistory,
    atoms: &Atoms,
    name: &str,
    v: &search::Violation,
) -> Finding {
    let x = &kh.ops[v.op];
    let values: Vec<String> = v.possible.iter().map(|s| kh.show(*s, atoms)).collect();
    let values = if values.is_empty() {
        "nothing".to_string()
    } else {
        values.join(" or ")
    };
    let what = match x.call {
        Call::Read(r) => format!("it returned {}, but", kh.show(r, atoms)),
        Call::Cas(f, _) => format!("its cas from {} succeeded, but", kh.show(f, atoms)),
        Call::Write(_) => "but".to_string(),
    };
    let shown: Vec<String> = v
        .in_flight
        .iter()
        .take(8)
        .map(|&i| show_op(history, kh, atoms, i))
        .collect();
    let flight = if v.in_flight.is_empty() {
        "No other operation on the key was in flight.".to_string()
    } else {
        format!(
            "Operations in flight at that time (each may take effect at any point of its own interval, indeterminate ones also never): {}{}.",
            shown.join("; "),
            if v.in_flight.len() > 8 {
                format!("; and {} more", v.in_flight.len() - 8)
            } else {
                String::new()
            }
        )
    };
    let last_write = kh
        .ops
        .iter()
        .enumerate()
        .filter(|(_, o)| !o.call.is_read() && o.completion.is_some_and(|c| c < x.invoke))
        .max_by_key(|(_, o)| o.completion)
        .map(|(i, _)| {
            format!(
                " The last write or cas to complete before it began was {}.",
                show_op(history, kh, atoms, i)
            )
        })
        .unwrap_or_default();
    let mut ops = vec![op_index(x)];
    ops.extend(v.in_flight.iter().take(8).map(|&i| op_index(&kh.ops[i])));
    Finding {
        rule: "nonlinearizable".into(),
        explanation: format!(
            "Key {name} is not linearizable. {}: {what} taking every earlier result into account, the register could only hold {values} while it was in flight.{last_write} {flight} No order of these operations that respects real time explains its result, so a linearizable register could not have produced it.",
            show_op(history, kh, atoms, v.op)
        ),
        ops,
        note: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::cycles::testkit::Hist;
    use serde_json::json;

    fn run(h: &Hist) -> CheckResult {
        check(&h.h, Duration::from_secs(10))
    }

    #[test]
    fn a_linearizable_history_with_concurrency_and_missing_keys() {
        let mut h = Hist::new();
        h.op(0, "read", json!([1, null]), OpType::Ok, json!([1, null]));
        h.invoke(0, "read", json!([1, null]));
        h.complete_err(
            0,
            OpType::Fail,
            json!([1, null]),
            json!([20, "key-does-not-exist"]),
        );
        h.invoke(1, "write", json!([1, 3]));
        h.invoke(2, "read", json!([1, null]));
        h.complete(2, OpType::Ok, json!([1, 3]));
        h.complete(1, OpType::Ok, json!([1, 3]));
        h.op(2, "cas", json!([1, [3, 4]]), OpType::Ok, json!([1, [3, 4]]));
        h.invoke(0, "cas", json!([1, [3, 0]]));
        h.complete_err(
            0,
            OpType::Fail,
            json!([1, [3, 0]]),
            json!([22, "precondition-failed"]),
        );
        h.op(1, "read", json!([1, null]), OpType::Ok, json!([1, 4]));
        h.op(1, "read", json!([2, null]), OpType::Ok, json!([2, null]));
        let r = run(&h);
        assert_eq!(r.valid, Validity::Valid, "{:#?}", r.findings);
        assert_eq!(r.details["key_count"], json!(2));
    }

    #[test]
    fn a_stale_read_is_not_linearizable() {
        let mut h = Hist::new();
        h.op(0, "write", json!([1, 3]), OpType::Ok, json!([1, 3]));
        h.op(1, "write", json!([1, 4]), OpType::Ok, json!([1, 4]));
        h.op(2, "read", json!([1, null]), OpType::Ok, json!([1, 3]));
        let r = run(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.details["failures"], json!(["1"]));
        let f = &r.findings[0];
        assert_eq!(f.rule, "nonlinearizable");
        assert_eq!(f.ops, vec![5]);
        assert!(
            f.explanation.contains("could only hold 4"),
            "{}",
            f.explanation
        );
        assert!(f.explanation.contains("process 2"), "{}", f.explanation);
    }

    #[test]
    fn a_cas_that_could_not_have_matched() {
        let mut h = Hist::new();
        h.op(0, "write", json!([1, 1]), OpType::Ok, json!([1, 1]));
        h.op(1, "cas", json!([1, [2, 3]]), OpType::Ok, json!([1, [2, 3]]));
        let r = run(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert!(
            r.findings[0].explanation.contains("cas from 2 succeeded"),
            "{}",
            r.findings[0].explanation
        );
    }

    #[test]
    fn an_info_write_that_must_have_happened() {
        let mut h = Hist::new();
        h.invoke(0, "write", json!([1, 2]));
        h.complete(0, OpType::Info, json!([1, 2]));
        h.op(1, "read", json!([1, null]), OpType::Ok, json!([1, 2]));
        assert_eq!(run(&h).valid, Validity::Valid);
        // ... but not before it was invoked.
        let mut h = Hist::new();
        h.op(1, "read", json!([1, null]), OpType::Ok, json!([1, 2]));
        h.invoke(0, "write", json!([1, 2]));
        h.complete(0, OpType::Info, json!([1, 2]));
        assert_eq!(run(&h).valid, Validity::Invalid);
    }

    #[test]
    fn an_info_write_that_must_not_have_happened() {
        let mut h = Hist::new();
        h.op(0, "write", json!([1, 1]), OpType::Ok, json!([1, 1]));
        h.invoke(1, "write", json!([1, 2]));
        h.complete(1, OpType::Info, json!([1, 2]));
        h.op(2, "read", json!([1, null]), OpType::Ok, json!([1, 1]));
        h.op(2, "read", json!([1, null]), OpType::Ok, json!([1, 1]));
        assert_eq!(run(&h).valid, Validity::Valid);
        // If it happened, it happened once: 2, then 1, then 2 again is impossible.
        let mut h = Hist::new();
        h.invoke(1, "write", json!([1, 2]));
        h.complete(1, OpType::Info, json!([1, 2]));
        h.op(2, "read", json!([1, null]), OpType::Ok, json!([1, 2]));
        h.op(0, "write", json!([1, 1]), OpType::Ok, json!([1, 1]));
        h.op(2, "read", json!([1, null]), OpType::Ok, json!([1, 2]));
        let r = run(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert!(
            r.findings[0].explanation.contains("indeterminate"),
            "{}",
            r.findings[0].explanation
        );
    }

    #[test]
    fn an_exhausted_budget_is_unknown_not_invalid() {
        let mut h = Hist::new();
        for i in 0..20_000 {
            h.op(0, "write", json!([1, i % 5]), OpType::Ok, json!([1, i % 5]));
        }
        let r = check(&h.h, Duration::ZERO);
        assert_eq!(r.valid, Validity::Unknown);
        assert_eq!(r.findings[0].rule, "search-budget-exhausted");
        assert_eq!(check(&h.h, Duration::from_secs(60)).valid, Validity::Valid);
    }
}
