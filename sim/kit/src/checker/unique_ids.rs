//! Jepsen's `unique-ids` checker: every id a node acknowledged must be distinct.
//!
//! Ids are compared with JSON equality (`1`, `1.0` and `"1"` are three ids). Jepsen also
//! reports the `[lowest, highest]` id, which needs the ids to be mutually comparable:
//! numbers with numbers, strings with strings, arrays element by element. Mixing kinds, or
//! returning objects, makes Maelstrom's checker throw, so the verdict is then unknown
//! (exit code 2), and so is ours.

use super::{CheckResult, Finding, Validity};
use crate::history::{History, OpType};
use crate::json::JsonKey;
use serde_json::{json, Map, Value};
use std::cmp::Ordering;
use std::collections::HashMap;

/// At most this many duplicated ids appear in `details.duplicated`, as in Jepsen.
const MAX_DUPLICATED: usize = 48;

/// At most this many duplicated ids get a finding of their own.
const MAX_FINDINGS: usize = 10;

/// Two ids Clojure's `compare` refuses to order.
#[derive(Clone, Debug, PartialEq)]
pub struct Incomparable(pub Value, pub Value);

/// Orders two JSON values the way Clojure's `compare` orders the parsed values: `null`
/// first, numbers numerically (so `1` and `1.0` tie), strings by UTF-16 code units,
/// booleans false before true, arrays by length and then element by element. Anything
/// else (a number against a string, any object) is an error, as in Clojure.
pub fn clojure_compare(a: &Value, b: &Value) -> Result<Ordering, Incomparable> {
    let refuse = || Err(Incomparable(a.clone(), b.clone()));
    match (a, b) {
        (Value::Null, Value::Null) => Ok(Ordering::Equal),
        (Value::Null, _) => Ok(Ordering::Less),
        (_, Value::Null) => Ok(Ordering::Greater),
        (Value::Number(x), Value::Number(y)) => {
            let exact = |n: &serde_json::Number| {
                n.as_i64()
                    .map(i128::from)
                    .or_else(|| n.as_u64().map(i128::from))
            };
            match (exact(x), exact(y)) {
                (Some(i), Some(j)) => Ok(i.cmp(&j)),
                _ => {
                    let (f, g) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                    Ok(f.partial_cmp(&g).unwrap_or(Ordering::Equal))
                }
            }
        }
        (Value::String(x), Value::String(y)) => Ok(x.encode_utf16().cmp(y.encode_utf16())),
        (Value::Bool(x), Value::Bool(y)) => Ok(x.cmp(y)),
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Ok(x.len().cmp(&y.len()));
            }
            for (p, q) in x.iter().zip(y) {
                match clojure_compare(p, q)? {
                    Ordering::Equal => continue,
                    other => return Ok(other),
                }
            }
            Ok(Ordering::Equal)
        }
        _ => refuse(),
    }
}

/// A total order for sorting values in reports: Clojure's order where it exists, the JSON
/// text otherwise.
pub fn report_order(a: &Value, b: &Value) -> Ordering {
    clojure_compare(a, b).unwrap_or_else(|_| a.to_string().cmp(&b.to_string()))
}

/// Jepsen's range fold: the smallest and largest non-null ids, in history order.
fn id_range<'a>(ids: impl Iterator<Item = &'a Value>) -> Result<[Value; 2], Incomparable> {
    let mut lowest: Option<&Value> = None;
    let mut highest: Option<&Value> = None;
    for id in ids.filter(|id| !id.is_null()) {
        lowest = Some(match lowest {
            Some(m) if clojure_compare(id, m)? == Ordering::Greater => m,
            _ => id,
        });
        highest = Some(match highest {
            Some(m) if clojure_compare(id, m)? == Ordering::Less => m,
            _ => id,
        });
    }
    Ok([
        lowest.cloned().unwrap_or(Value::Null),
        highest.cloned().unwrap_or(Value::Null),
    ])
}

/// Checks a unique-ids history (`f = "generate"`, ok value the id). `details`:
/// `attempted_count`, `acknowledged_count`, `duplicated_count`, `duplicated` (up to 48
/// ids, keyed by the id's JSON text, with how many times each was returned) and `range`.
pub fn check(history: &History) -> CheckResult {
    let generate = |kind: OpType| {
        history
            .ops
            .iter()
            .filter(move |o| o.f == "generate" && o.kind == kind)
    };
    let attempted = generate(OpType::Invoke).count();
    let acks: Vec<&crate::history::Op> = generate(OpType::Ok).collect();

    // Every id with the completions that returned it, in first-seen order.
    let mut slot: HashMap<JsonKey, usize> = HashMap::new();
    let mut seen: Vec<(&Value, Vec<usize>)> = Vec::new();
    for op in &acks {
        let i = *slot.entry(JsonKey(op.value.clone())).or_insert_with(|| {
            seen.push((&op.value, Vec::new()));
            seen.len() - 1
        });
        seen[i].1.push(op.index);
    }
    let mut dups: Vec<&(&Value, Vec<usize>)> = seen.iter().filter(|(_, o)| o.len() > 1).collect();
    // Most repeated first, then by id.
    dups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(report_order(a.0, b.0)));

    let mut findings: Vec<Finding> = dups
        .iter()
        .take(MAX_FINDINGS)
        .map(|(id, ops)| duplicate_finding(history, id, ops))
        .collect();
    if dups.len() > MAX_FINDINGS {
        findings.push(Finding {
            rule: "duplicate-id".into(),
            explanation: format!(
                "{} more ids were returned more than once (see details.duplicated).",
                dups.len() - MAX_FINDINGS
            ),
            ops: Vec::new(),
            note: false,
        });
    }

    let mut shown: Vec<&(&Value, Vec<usize>)> = dups.iter().take(MAX_DUPLICATED).copied().collect();
    shown.sort_by(|a, b| report_order(a.0, b.0));
    let duplicated: Map<String, Value> = shown
        .iter()
        .map(|(id, ops)| (id.to_string(), json!(ops.len())))
        .collect();

    let mut valid = Validity::from_bool(dups.is_empty());
    let range = match id_range(acks.iter().map(|o| &o.value)) {
        Ok(range) => json!(range),
        Err(Incomparable(a, b)) => {
            valid = Validity::Unknown;
            findings.push(Finding {
                rule: "incomparable-ids".into(),
                explanation: format!(
                    "Ids {a} and {b} cannot be ordered against each other (mixed kinds, or \
                     objects), so Maelstrom's checker fails while computing the id range and \
                     the verdict is unknown (exit code 2). Return ids of a single kind: all \
                     integers or all strings."
                ),
                ops: incomparable_ops(&acks, &a, &b),
                note: false,
            });
            Value::Null
        }
    };

    CheckResult {
        valid,
        details: json!({
            "attempted_count": attempted,
            "acknowledged_count": acks.len(),
            "duplicated_count": dups.len(),
            "duplicated": duplicated,
            "range": range,
        }),
        findings,
    }
}

/// The first completions that returned each of the two incomparable ids.
fn incomparable_ops(acks: &[&crate::history::Op], a: &Value, b: &Value) -> Vec<usize> {
    [a, b]
        .iter()
        .filter_map(|id| acks.iter().find(|o| &&o.value == id).map(|o| o.index))
        .collect()
}

fn duplicate_finding(history: &History, id: &Value, ops: &[usize]) -> Finding {
    let listed: Vec<String> = ops
        .iter()
        .take(5)
        .map(|&i| history.ops[i].describe())
        .collect();
    let more = if ops.len() > 5 {
        format!(" and {} more", ops.len() - 5)
    } else {
        String::new()
    };
    Finding {
        rule: "duplicate-id".into(),
        explanation: format!(
            "Id {id} was returned {} times: by {}{more}. Every generate must return an id \
             no other generate returned.",
            ops.len(),
            listed.join(", ")
        ),
        ops: ops.to_vec(),
        note: false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::stats::tests::{history, op};
    use super::*;

    fn generated(ids: &[Value]) -> History {
        let mut ops = Vec::new();
        for (p, id) in ids.iter().enumerate() {
            ops.push(op(p as u64, OpType::Invoke, "generate", Value::Null));
            ops.push(op(p as u64, OpType::Ok, "generate", id.clone()));
        }
        history(ops)
    }

    fn parse(s: &str) -> Value {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn distinct_ids_are_valid() {
        let mut h = generated(&[json!(3), json!(1), json!(2)]);
        h.push(op(9, OpType::Invoke, "generate", Value::Null));
        let r = check(&h);
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["attempted_count"], json!(4));
        assert_eq!(r.details["acknowledged_count"], json!(3));
        assert_eq!(r.details["duplicated_count"], json!(0));
        assert_eq!(r.details["range"], json!([1, 3]));
        assert!(r.findings.is_empty());
    }

    #[test]
    fn a_duplicate_is_invalid_and_names_both_ops() {
        let r = check(&generated(&[
            json!("a"),
            json!("b"),
            json!("a"),
            json!("a"),
        ]));
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.details["duplicated_count"], json!(1));
        assert_eq!(r.details["duplicated"], json!({"\"a\"": 3}));
        assert_eq!(r.details["range"], json!(["a", "b"]));
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].ops, vec![1, 5, 7]);
        assert!(r.findings[0].explanation.contains("returned 3 times"));
        assert!(r.findings[0].explanation.contains("node n2"));
    }

    #[test]
    fn serde_json_keeps_integers_and_floats_apart() {
        assert_ne!(parse("1"), parse("1.0"));
        assert_ne!(parse("1"), json!("1"));
        assert_eq!(parse("1"), json!(1u64));
        assert_eq!(parse("-1"), json!(-1i64));
    }

    #[test]
    fn one_and_one_point_zero_are_different_ids() {
        let r = check(&generated(&[parse("1"), parse("1.0")]));
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["duplicated_count"], json!(0));
        // They tie in Clojure's order, so the range is 1..1.0 (later ties win).
        assert_eq!(
            clojure_compare(&parse("1"), &parse("1.0")),
            Ok(Ordering::Equal)
        );
    }

    #[test]
    fn mixed_kinds_make_the_verdict_unknown() {
        let r = check(&generated(&[json!(1), json!("2"), json!(3)]));
        assert_eq!(r.valid, Validity::Unknown);
        assert_eq!(r.details["range"], Value::Null);
        let finding = r
            .findings
            .iter()
            .find(|f| f.rule == "incomparable-ids")
            .unwrap();
        assert!(finding.explanation.contains("exit code 2"));
        assert_eq!(finding.ops, vec![3, 1]);
    }

    #[test]
    fn objects_make_the_verdict_unknown_even_with_a_duplicate() {
        let r = check(&generated(&[json!({"n": 1}), json!({"n": 1})]));
        assert_eq!(r.valid, Validity::Unknown);
        assert_eq!(r.details["duplicated_count"], json!(1));
        assert!(r.findings.iter().any(|f| f.rule == "duplicate-id"));
    }

    #[test]
    fn a_single_object_id_needs_no_comparison() {
        let r = check(&generated(&[json!({"n": 1})]));
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["range"], json!([{"n": 1}, {"n": 1}]));
    }

    #[test]
    fn null_ids_are_skipped_by_the_range_but_can_be_duplicates() {
        let r = check(&generated(&[Value::Null, json!(5), Value::Null]));
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.details["range"], json!([5, 5]));
        assert_eq!(r.details["duplicated"], json!({"null": 2}));
    }

    #[test]
    fn arrays_compare_by_length_then_elements() {
        let cmp = |a: Value, b: Value| clojure_compare(&a, &b);
        assert_eq!(cmp(json!([9]), json!([1, 2])), Ok(Ordering::Less));
        assert_eq!(cmp(json!([1, 3]), json!([1, 2])), Ok(Ordering::Greater));
        assert!(cmp(json!([1]), json!(["a"])).is_err());
        // Different lengths never look at the elements.
        assert!(cmp(json!([1]), json!(["a", "b"])).is_ok());
        let r = check(&generated(&[json!([1, 2]), json!([0, 5]), json!([3])]));
        assert_eq!(r.details["range"], json!([[3], [1, 2]]));
    }

    #[test]
    fn no_acknowledged_ids() {
        let h = history(vec![op(0, OpType::Invoke, "generate", Value::Null), {
            let mut o = op(0, OpType::Info, "generate", Value::Null);
            o.error = Some(json!(["net-timeout"]));
            o
        }]);
        let r = check(&h);
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["range"], json!([null, null]));
        assert_eq!(r.details["attempted_count"], json!(1));
    }

    #[test]
    fn duplicated_keeps_the_48_most_repeated() {
        let mut ids = Vec::new();
        for i in 0..60 {
            ids.push(json!(i));
            ids.push(json!(i));
        }
        ids.push(json!(59));
        let r = check(&generated(&ids));
        assert_eq!(r.details["duplicated_count"], json!(60));
        let shown = r.details["duplicated"].as_object().unwrap();
        assert_eq!(shown.len(), 48);
        assert_eq!(shown["59"], json!(3));
        assert_eq!(r.findings.len(), MAX_FINDINGS + 1);
    }
}
