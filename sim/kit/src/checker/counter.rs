//! Maelstrom's g-counter / pn-counter checker: every ok final read must equal the sum of
//! the acknowledged adds plus the deltas of some subset of the indeterminate adds.
//!
//! The acceptable set is built exactly as a list of closed integer ranges: it starts as
//! {S} (S = sum of ok add deltas) and every indeterminate add with delta d turns a set A
//! into A ∪ (A + d). Failed adds are ignored. Reads outside the final phase are never
//! checked; with no ok final read the checker is trivially valid.

use super::{CheckResult, Finding, Validity};
use crate::history::{History, Op, OpType};
use serde_json::{json, Value};

/// How many bad reads get a finding of their own.
const MAX_FINDINGS: usize = 10;

/// How many ranges or deltas an explanation prints before eliding the rest.
const MAX_PRINTED: usize = 8;

/// A set of integers as sorted, disjoint, non-adjacent closed ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeSet(Vec<(i128, i128)>);

impl RangeSet {
    /// The set {x}.
    pub fn single(x: i128) -> RangeSet {
        RangeSet(vec![(x, x)])
    }

    /// Returns self ∪ (self + delta).
    pub fn with_optional(&self, delta: i128) -> RangeSet {
        let mut all: Vec<(i128, i128)> = self
            .0
            .iter()
            .copied()
            .chain(self.0.iter().map(|&(lo, hi)| (lo + delta, hi + delta)))
            .collect();
        all.sort_unstable();
        let mut merged: Vec<(i128, i128)> = Vec::with_capacity(all.len());
        for (lo, hi) in all {
            match merged.last_mut() {
                Some(last) if lo <= last.1 + 1 => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        RangeSet(merged)
    }

    /// True if `x` is in the set.
    pub fn contains(&self, x: i128) -> bool {
        let i = self.0.partition_point(|&(_, hi)| hi < x);
        self.0.get(i).is_some_and(|&(lo, _)| lo <= x)
    }

    /// The ranges as JSON `[[lo, hi], …]`.
    pub fn to_json(&self) -> Value {
        Value::Array(
            self.0
                .iter()
                .map(|&(lo, hi)| json!([int_json(lo), int_json(hi)]))
                .collect(),
        )
    }

    fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .0
            .iter()
            .take(MAX_PRINTED)
            .map(|&(lo, hi)| {
                if lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo}..{hi}")
                }
            })
            .collect();
        if self.0.len() > MAX_PRINTED {
            parts.push(format!("… ({} ranges in all)", self.0.len()));
        }
        parts.join(", ")
    }
}

/// An integer as a JSON number (a float only beyond 64 bits, which no real run reaches).
fn int_json(x: i128) -> Value {
    if let Ok(i) = i64::try_from(x) {
        json!(i)
    } else if let Ok(u) = u64::try_from(x) {
        json!(u)
    } else {
        json!(x as f64)
    }
}

/// A JSON integer, if the value is one (floats such as `5.0` are not).
fn as_int(v: &Value) -> Option<i128> {
    v.as_i64()
        .map(i128::from)
        .or_else(|| v.as_u64().map(i128::from))
}

/// Checks a g-counter or pn-counter history (`f = "add"` with the integer delta,
/// `f = "read"` with the integer read). `details`: `final_reads` (the values of ok final
/// reads), `acceptable` (closed ranges) and `errors` (the bad final reads, or null).
pub fn check(history: &History) -> CheckResult {
    let ops = &history.ops;
    let pairs = history.pairs();
    let mut invoke_of = vec![None; ops.len()];
    for pair in &pairs {
        if let Some(c) = pair.completion {
            invoke_of[c] = Some(pair.invoke);
        }
    }
    // An add's delta: its completion value, or its invocation's if the completion has none.
    let delta = |op: &Op| -> Option<i128> {
        let value = match (&op.value, invoke_of[op.index]) {
            (Value::Null, Some(i)) => &ops[i].value,
            (v, _) => v,
        };
        as_int(value)
    };

    let mut findings = Vec::new();
    let mut unusable_adds = Vec::new();
    let mut sum: i128 = 0;
    let mut maybe: Vec<(usize, i128)> = Vec::new();
    for op in ops.iter().filter(|o| o.f == "add") {
        match op.kind {
            OpType::Ok | OpType::Info => match delta(op) {
                Some(d) if op.kind == OpType::Ok => sum += d,
                Some(d) => maybe.push((op.index, d)),
                None => unusable_adds.push(op.index),
            },
            OpType::Fail | OpType::Invoke => {}
        }
    }
    // Adds that never completed may or may not have happened, like info adds.
    let unfinished: Vec<usize> = pairs
        .iter()
        .filter(|p| p.completion.is_none() && ops[p.invoke].f == "add")
        .map(|p| p.invoke)
        .collect();
    for &i in &unfinished {
        match as_int(&ops[i].value) {
            Some(d) => maybe.push((i, d)),
            None => unusable_adds.push(i),
        }
    }

    let mut acceptable = RangeSet::single(sum);
    for &(_, d) in &maybe {
        acceptable = acceptable.with_optional(d);
    }

    let final_reads: Vec<&Op> = ops
        .iter()
        .filter(|o| o.kind == OpType::Ok && o.final_phase && o.f == "read")
        .collect();
    let bad: Vec<&Op> = final_reads
        .iter()
        .copied()
        .filter(|o| !as_int(&o.value).is_some_and(|x| acceptable.contains(x)))
        .collect();

    for op in bad.iter().take(MAX_FINDINGS) {
        findings.push(bad_read(op, sum, &maybe, &acceptable));
    }
    if bad.len() > MAX_FINDINGS {
        findings.push(Finding {
            rule: "wrong-final-read".into(),
            explanation: format!(
                "{} more final reads are wrong (see details.errors).",
                bad.len() - MAX_FINDINGS
            ),
            ops: Vec::new(),
            note: false,
        });
    }

    let mut valid = Validity::from_bool(bad.is_empty());
    if !unusable_adds.is_empty() {
        valid = valid.merge(Validity::Unknown);
        findings.push(Finding {
            rule: "non-integer-delta".into(),
            explanation: format!(
                "{} has a delta that is not an integer ({}), so the acceptable sums cannot \
                 be computed.",
                ops[unusable_adds[0]].describe(),
                ops[unusable_adds[0]].value
            ),
            ops: unusable_adds.clone(),
            note: false,
        });
    }
    if final_reads.is_empty() {
        findings.push(Finding {
            rule: "no-final-reads".into(),
            explanation: "No final read succeeded, so nothing was checked (the stats checker \
                          flags a read type that never succeeded)."
                .into(),
            ops: Vec::new(),
            note: true,
        });
    }
    if !unfinished.is_empty() {
        findings.push(Finding {
            rule: "unfinished-adds".into(),
            explanation: format!(
                "{} add operations never completed; they count as indeterminate.",
                unfinished.len()
            ),
            ops: unfinished.iter().copied().take(MAX_PRINTED).collect(),
            note: true,
        });
    }

    let errors: Vec<Value> = bad
        .iter()
        .map(|o| json!({"index": o.index, "process": o.process, "node": o.node, "value": o.value}))
        .collect();
    CheckResult {
        valid,
        details: json!({
            "final_reads": final_reads.iter().map(|o| o.value.clone()).collect::<Vec<_>>(),
            "acceptable": acceptable.to_json(),
            "errors": if errors.is_empty() { Value::Null } else { Value::Array(errors) },
        }),
        findings,
    }
}

fn bad_read(op: &Op, sum: i128, maybe: &[(usize, i128)], acceptable: &RangeSet) -> Finding {
    let what = if as_int(&op.value).is_some() {
        format!("returned {}", op.value)
    } else {
        format!("returned {}, which is not an integer", op.value)
    };
    let indeterminate = if maybe.is_empty() {
        "no add was indeterminate".to_string()
    } else {
        let mut deltas: Vec<String> = maybe
            .iter()
            .take(MAX_PRINTED)
            .map(|(_, d)| d.to_string())
            .collect();
        if maybe.len() > MAX_PRINTED {
            deltas.push("…".into());
        }
        format!(
            "{} indeterminate adds (deltas {}) may or may not have happened",
            maybe.len(),
            deltas.join(", ")
        )
    };
    Finding {
        rule: "wrong-final-read".into(),
        explanation: format!(
            "Final read {} {what}, but the counter can only be {}: acknowledged adds sum to \
             {sum} and {indeterminate}.",
            op.describe(),
            acceptable.describe()
        ),
        ops: vec![op.index],
        note: false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::stats::tests::{history, op};
    use super::*;

    fn add(process: u64, delta: i64, end: OpType) -> Vec<Op> {
        vec![
            op(process, OpType::Invoke, "add", json!(delta)),
            op(process, end, "add", json!(delta)),
        ]
    }

    fn final_read(process: u64, value: Value) -> Vec<Op> {
        let mut invoke = op(process, OpType::Invoke, "read", Value::Null);
        invoke.final_phase = true;
        let mut done = op(process, OpType::Ok, "read", value);
        done.final_phase = true;
        vec![invoke, done]
    }

    fn ranges(r: &RangeSet) -> Vec<(i128, i128)> {
        r.0.clone()
    }

    #[test]
    fn range_sets_are_exact_subset_sums() {
        let s = RangeSet::single(1).with_optional(2);
        assert_eq!(ranges(&s), vec![(1, 1), (3, 3)]);
        assert!(!s.contains(2));
        let s = s.with_optional(1);
        assert_eq!(ranges(&s), vec![(1, 4)]);
        let s = RangeSet::single(0).with_optional(-5).with_optional(10);
        assert_eq!(ranges(&s), vec![(-5, -5), (0, 0), (5, 5), (10, 10)]);
        assert!(s.contains(5) && s.contains(-5) && !s.contains(4) && !s.contains(11));
        assert_eq!(RangeSet::single(3).with_optional(0), RangeSet::single(3));
    }

    #[test]
    fn exact_final_reads_are_valid() {
        let mut ops = add(0, 3, OpType::Ok);
        ops.extend(add(1, 4, OpType::Ok));
        ops.extend(final_read(0, json!(7)));
        ops.extend(final_read(1, json!(7)));
        let r = check(&history(ops));
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["final_reads"], json!([7, 7]));
        assert_eq!(r.details["acceptable"], json!([[7, 7]]));
        assert_eq!(r.details["errors"], Value::Null);
        assert!(r.findings.is_empty());
    }

    #[test]
    fn a_wrong_final_read_is_invalid_and_explained() {
        let mut ops = add(0, 3, OpType::Ok);
        ops.extend(add(1, 2, OpType::Info));
        ops.extend(final_read(0, json!(4)));
        let r = check(&history(ops));
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.details["acceptable"], json!([[3, 3], [5, 5]]));
        assert_eq!(r.details["errors"][0]["value"], json!(4));
        let f = &r.findings[0];
        assert_eq!(f.rule, "wrong-final-read");
        assert_eq!(f.ops, vec![5]);
        assert!(f.explanation.contains("can only be 3, 5"));
        assert!(f.explanation.contains("deltas 2"));
    }

    #[test]
    fn indeterminate_adds_may_or_may_not_count() {
        for read in [3, 5] {
            let mut ops = add(0, 3, OpType::Ok);
            ops.extend(add(1, 2, OpType::Info));
            ops.extend(final_read(0, json!(read)));
            assert_eq!(check(&history(ops)).valid, Validity::Valid, "read {read}");
        }
    }

    #[test]
    fn negative_info_deltas_for_pn_counters() {
        let mut ops = add(0, 4, OpType::Ok);
        ops.extend(add(1, -5, OpType::Info));
        ops.extend(add(2, -3, OpType::Info));
        ops.extend(final_read(0, json!(-4)));
        ops.extend(final_read(1, json!(1)));
        let r = check(&history(ops));
        assert_eq!(
            r.details["acceptable"],
            json!([[-4, -4], [-1, -1], [1, 1], [4, 4]])
        );
        assert_eq!(r.valid, Validity::Valid);
    }

    #[test]
    fn failed_adds_are_ignored() {
        let mut ops = add(0, 4, OpType::Ok);
        ops.extend(add(1, 9, OpType::Fail));
        ops.extend(final_read(0, json!(13)));
        let r = check(&history(ops));
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.details["acceptable"], json!([[4, 4]]));
    }

    #[test]
    fn only_final_reads_are_checked() {
        let mut ops = add(0, 4, OpType::Ok);
        ops.push(op(1, OpType::Invoke, "read", Value::Null));
        ops.push(op(1, OpType::Ok, "read", json!(100)));
        let r = check(&history(ops));
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["final_reads"], json!([]));
        assert!(r
            .findings
            .iter()
            .any(|f| f.rule == "no-final-reads" && f.note));
    }

    #[test]
    fn a_float_read_fails() {
        let mut ops = add(0, 4, OpType::Ok);
        ops.extend(final_read(0, serde_json::from_str("4.0").unwrap()));
        let r = check(&history(ops));
        assert_eq!(r.valid, Validity::Invalid);
        assert!(r.findings[0].explanation.contains("not an integer"));
    }

    #[test]
    fn unfinished_adds_count_as_indeterminate() {
        let mut ops = add(0, 4, OpType::Ok);
        ops.push(op(1, OpType::Invoke, "add", json!(2)));
        ops.extend(final_read(0, json!(6)));
        let r = check(&history(ops));
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["acceptable"], json!([[4, 4], [6, 6]]));
        assert!(r.findings.iter().any(|f| f.rule == "unfinished-adds"));
    }

    #[test]
    fn a_non_integer_delta_makes_the_verdict_unknown() {
        let mut ops = add(0, 4, OpType::Ok);
        ops.push(op(1, OpType::Invoke, "add", json!("x")));
        ops.push(op(1, OpType::Ok, "add", json!("x")));
        ops.extend(final_read(0, json!(4)));
        assert_eq!(check(&history(ops)).valid, Validity::Unknown);
    }

    #[test]
    fn no_adds_means_zero() {
        let r = check(&history(final_read(0, json!(0))));
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["acceptable"], json!([[0, 0]]));
    }
}
