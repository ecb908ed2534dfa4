//! Jepsen's `set-full` checker, used by broadcast (adds are `broadcast` operations) and
//! g-set (adds are `add` operations). Reads are `read` operations returning every element.
//!
//! For each attempted element the checker follows three points of the history:
//! - **known**: the first, in history (completion) order, of the element's ok add
//!   completion and the completion of an ok read that contained it;
//! - **last present**: among ok reads that contained it, the one invoked last;
//! - **last absent**: among ok reads that did not contain it, the one invoked last.
//!
//! A read only counts for elements whose add was invoked before the read completed.
//! The element is then:
//! - **stable** if some read contained it and the last present read was invoked after the
//!   last absent one (or no read missed it);
//! - **lost** if it is known, some read missed it, the last absent read was invoked after
//!   the last present one and after the element became known;
//! - **never read** otherwise.
//!
//! The run is invalid if any element is lost, unknown if none is stable. Stable latency is
//! (last absent invocation time + 1 ns, or 0) − known time, floored at 0, in whole ms; a
//! stable element with positive latency is *stale*, which is reported but allowed.
//!
//! This module follows the elements through the history; [`report`] turns their outcomes
//! into the verdict, the details and the stories.

mod report;

use report::report;

use super::unique_ids::report_order;
use super::CheckResult;
use crate::history::{History, Op, OpType};
use crate::json::JsonKey;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// How many examples a note quotes.
pub(super) const EXAMPLES: usize = 5;

/// What the checker tracks for one attempted element.
pub(super) struct Element {
    value: Value,
    key: JsonKey,
    /// History index of the op that made the element known (a completion).
    known: Option<usize>,
    /// Invocation index of the last-invoked ok read that contained the element.
    last_present: Option<usize>,
    /// Invocation index of the last-invoked ok read that missed the element.
    last_absent: Option<usize>,
}

/// The verdict on one element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Stable { latency_ms: u64 },
    Lost { latency_ms: u64 },
    NeverRead,
}

impl Element {
    fn outcome(&self, ops: &[Op]) -> Outcome {
        let index = |i: Option<usize>| i.map_or(-1, |i| i as i64);
        let stable =
            self.last_present.is_some() && index(self.last_absent) < index(self.last_present);
        let lost = self.known.is_some()
            && self.last_absent.is_some()
            && index(self.last_present) < index(self.last_absent)
            && index(self.known) < index(self.last_absent);
        let known_time = self.known.map_or(0, |i| ops[i].time);
        let latency_after = |since: Option<usize>| {
            let start = since.map_or(0, |i| ops[i].time + 1);
            start.saturating_sub(known_time) / 1_000_000
        };
        if stable {
            Outcome::Stable {
                latency_ms: latency_after(self.last_absent),
            }
        } else if lost {
            Outcome::Lost {
                latency_ms: latency_after(self.last_present),
            }
        } else {
            Outcome::NeverRead
        }
    }
}

/// Things seen in reads that don't change the verdict but deserve a note.
#[derive(Default)]
pub(super) struct ReadOddities {
    /// (read completion, value) for values listed twice in one read.
    duplicates: Vec<(usize, Value)>,
    /// (read completion, value) for values no add ever attempted (filled in at the end).
    unattempted: Vec<(usize, Value)>,
    /// Read completions whose value is not a list: Jepsen's checker throws on them.
    not_a_list: Vec<usize>,
}

/// Runs set-full over `history`, where adds have `f == add_f` ("broadcast" or "add") and
/// reads have `f == "read"`. See the module docs for the rules; `details` has Jepsen's
/// fields in snake_case.
pub fn check(history: &History, add_f: &str) -> CheckResult {
    let ops = &history.ops;
    let mut invoke_of: Vec<Option<usize>> = vec![None; ops.len()];
    let mut completion_of: Vec<Option<usize>> = vec![None; ops.len()];
    for pair in history.pairs() {
        if let Some(c) = pair.completion {
            invoke_of[c] = Some(pair.invoke);
            completion_of[pair.invoke] = Some(c);
        }
    }

    let mut elements: Vec<Element> = Vec::new();
    let mut slot: HashMap<JsonKey, usize> = HashMap::new();
    let mut oddities = ReadOddities::default();
    let mut read_values: Vec<(usize, Value)> = Vec::new();

    for op in ops {
        if op.f == add_f {
            if op.kind == OpType::Invoke {
                let key = JsonKey(op.value.clone());
                let fresh = Element {
                    value: op.value.clone(),
                    key: key.clone(),
                    known: None,
                    last_present: None,
                    last_absent: None,
                };
                // A second add of the same element starts its tracking afresh, as in Jepsen.
                match slot.get(&key) {
                    Some(&i) => elements[i] = fresh,
                    None => {
                        slot.insert(key, elements.len());
                        elements.push(fresh);
                    }
                }
            } else if op.kind == OpType::Ok {
                let value = invoke_of[op.index].map_or(&op.value, |i| &ops[i].value);
                if let Some(&i) = slot.get(&JsonKey(value.clone())) {
                    elements[i].known.get_or_insert(op.index);
                }
            }
        } else if op.f == "read" && op.kind == OpType::Ok {
            let Some(invoke) = invoke_of[op.index] else {
                continue;
            };
            let items: &[Value] = match &op.value {
                Value::Array(items) => items,
                Value::Null => &[],
                _ => {
                    oddities.not_a_list.push(op.index);
                    continue;
                }
            };
            let mut present: HashSet<JsonKey> = HashSet::with_capacity(items.len());
            for item in items {
                if !present.insert(JsonKey(item.clone())) && oddities.duplicates.len() < EXAMPLES {
                    oddities.duplicates.push((op.index, item.clone()));
                }
                if read_values.len() < 10_000 {
                    read_values.push((op.index, item.clone()));
                }
            }
            for e in &mut elements {
                if present.contains(&e.key) {
                    e.known.get_or_insert(op.index);
                    if e.last_present.is_none_or(|p| p < invoke) {
                        e.last_present = Some(invoke);
                    }
                } else if e.last_absent.is_none_or(|a| a < invoke) {
                    e.last_absent = Some(invoke);
                }
            }
        }
    }
    for (read, value) in read_values {
        if !slot.contains_key(&JsonKey(value.clone())) && oddities.unattempted.len() < EXAMPLES {
            oddities.unattempted.push((read, value));
        }
    }

    elements.sort_by(|a, b| report_order(&a.value, &b.value));
    let outcomes: Vec<Outcome> = elements.iter().map(|e| e.outcome(ops)).collect();
    report(
        history,
        add_f,
        &elements,
        &outcomes,
        &oddities,
        &completion_of,
    )
}

#[cfg(test)]
mod tests {
    use super::report::quantiles;
    use super::*;
    use crate::checker::stats::tests::op;
    use crate::checker::Validity;
    use serde_json::json;

    /// A small history builder with explicit times (ms) and processes.
    #[derive(Default)]
    struct Builder {
        h: History,
    }

    impl Builder {
        fn at(&mut self, ms: u64, process: u64, kind: OpType, f: &str, value: Value) -> usize {
            let mut o = op(process, kind, f, value);
            o.time = ms * 1_000_000;
            self.h.push(o)
        }
        fn invoke_add(&mut self, ms: u64, p: u64, v: u64) -> usize {
            self.at(ms, p, OpType::Invoke, "broadcast", json!(v))
        }
        fn add_ok(&mut self, ms: u64, p: u64, v: u64) -> usize {
            self.at(ms, p, OpType::Ok, "broadcast", json!(v))
        }
        fn add(&mut self, ms: u64, p: u64, v: u64) {
            self.invoke_add(ms, p, v);
            self.add_ok(ms + 1, p, v);
        }
        fn invoke_read(&mut self, ms: u64, p: u64) -> usize {
            self.at(ms, p, OpType::Invoke, "read", Value::Null)
        }
        fn read_ok(&mut self, ms: u64, p: u64, values: Value) -> usize {
            self.at(ms, p, OpType::Ok, "read", values)
        }
        fn read(&mut self, ms: u64, p: u64, values: Value) -> usize {
            let i = self.invoke_read(ms, p);
            self.read_ok(ms + 1, p, values);
            i
        }
    }

    #[test]
    fn everything_read_back_is_stable_and_valid() {
        let mut b = Builder::default();
        b.add(0, 0, 0);
        b.add(10, 1, 1);
        b.read(20, 0, json!([0, 1]));
        b.read(30, 1, json!([1, 0]));
        let r = check(&b.h, "broadcast");
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["attempt_count"], json!(2));
        assert_eq!(r.details["stable_count"], json!(2));
        assert_eq!(r.details["lost_count"], json!(0));
        assert_eq!(r.details["stale_count"], json!(0));
        assert_eq!(
            r.details["stable_latencies"],
            json!({"0": 0, "0.5": 0, "0.95": 0, "0.99": 0, "1": 0})
        );
        assert!(r.details.get("lost_latencies").is_none());
        assert_eq!(r.details["duplicated_count"], json!(0));
        assert!(r.findings.is_empty());
    }

    #[test]
    fn an_element_missing_from_the_final_reads_is_lost_with_its_story() {
        let mut b = Builder::default();
        b.add(0, 0, 7); // ops 0, 1: acknowledged at 1 ms
        let present = b.read(10, 1, json!([7])); // ops 2, 3
        let absent = b.read(20, 2, json!([])); // ops 4, 5
        let r = check(&b.h, "broadcast");
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.details["lost"], json!([7]));
        assert_eq!(r.details["lost_count"], json!(1));
        // Lost latency: last present invocation (10 ms) + 1 ns − known (1 ms) → 9 ms.
        assert_eq!(r.details["lost_latencies"]["1"], json!(9));
        let story = &r.findings[0];
        assert_eq!(story.rule, "lost");
        assert_eq!(story.ops, vec![1, present, present + 1, absent, absent + 1]);
        assert!(story.explanation.contains("Element 7 was lost"));
        assert!(story
            .explanation
            .contains("acknowledged by op 1 (process 0, node n0"));
        assert!(story
            .explanation
            .contains("op 2 (process 1, node n1, invoked at 0.010 s, completed at 0.011 s)"));
        assert!(story.explanation.contains(
            "later read op 4 (process 2, node n2, invoked at 0.020 s, completed at 0.021 s) did not"
        ));
    }

    #[test]
    fn an_acknowledged_element_no_read_ever_contained_is_lost() {
        let mut b = Builder::default();
        b.add(0, 0, 3);
        b.read(10, 1, json!([]));
        let r = check(&b.h, "add");
        // With add_f = "add" the broadcast ops are not adds at all.
        assert_eq!(r.details["attempt_count"], json!(0));
        let r = check(&b.h, "broadcast");
        assert_eq!(r.valid, Validity::Invalid);
        assert!(r.findings[0]
            .explanation
            .contains("No read ever contained it"));
        // No stable element at all, but lost wins over unknown.
        assert_eq!(r.details["stable_count"], json!(0));
    }

    #[test]
    fn a_read_concurrent_with_the_add_may_miss_it() {
        // The read is invoked before the add completes and completes after: missing the
        // element is allowed (the read may linearize first), so it is never-read, not lost.
        let mut b = Builder::default();
        b.add(0, 0, 6); // 0, 1
        b.invoke_add(10, 0, 5); // 2
        let read = b.invoke_read(11, 1); // 3
        b.add_ok(12, 0, 5); // 4: 5 is known
        b.read_ok(13, 1, json!([6])); // 5: misses 5, but was invoked before op 4
        let r = check(&b.h, "broadcast");
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["never_read"], json!([5]));
        assert_eq!(r.details["stable_count"], json!(1));
        assert!(read < 4);

        // The same read invoked after the acknowledgement would make 5 lost.
        let mut b = Builder::default();
        b.add(0, 0, 6);
        b.add(10, 0, 5);
        b.read(13, 1, json!([6]));
        assert_eq!(check(&b.h, "broadcast").valid, Validity::Invalid);
        assert!(r.findings.iter().all(|f| f.note));
        assert!(r.findings.iter().any(|f| f.rule == "never-read"));
    }

    #[test]
    fn a_read_completed_before_the_add_was_invoked_does_not_count() {
        let mut b = Builder::default();
        b.read(0, 1, json!([]));
        b.add(10, 0, 1);
        b.read(20, 1, json!([1]));
        let r = check(&b.h, "broadcast");
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["stale_count"], json!(0));
    }

    #[test]
    fn late_appearance_is_stale_but_valid() {
        let mut b = Builder::default();
        b.add(0, 0, 1); // known at 1 ms
        b.read(100, 1, json!([])); // misses it, invoked at 100 ms
        b.read(200, 2, json!([1])); // then it shows up
        let r = check(&b.h, "broadcast");
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["stale"], json!([1]));
        // Stable latency = 100 ms + 1 ns − 1 ms, truncated to 99 ms.
        assert_eq!(r.details["stable_latencies"]["1"], json!(99));
        let dist = r.details["stable_latency_distribution"]
            .as_object()
            .unwrap();
        assert_eq!(dist.len(), 21);
        assert_eq!(
            (&dist["0"], &dist["0.05"], &dist["1"]),
            (&json!(99), &json!(99), &json!(99))
        );
        let worst = &r.details["worst_stale"][0];
        assert_eq!(worst["element"], json!(1));
        assert_eq!(worst["stable_latency"], json!(99));
        assert_eq!(worst["last_absent"]["index"], json!(2));
        assert!(r.findings.iter().any(|f| f.rule == "stale" && f.note));
    }

    #[test]
    fn a_read_can_make_an_element_known_before_its_ack() {
        // The read sees the element before the add completes: known = the read.
        let mut b = Builder::default();
        b.invoke_add(0, 0, 4); // 0
        b.read(1, 1, json!([4])); // 1, 2: known at op 2
        b.read(5, 2, json!([])); // 3, 4: absent afterwards
        b.add_ok(9, 0, 4); // 5
        let r = check(&b.h, "broadcast");
        assert_eq!(r.valid, Validity::Invalid);
        assert!(r.findings[0].explanation.contains("read op 2"));
    }

    #[test]
    fn no_reads_means_unknown() {
        let mut b = Builder::default();
        b.add(0, 0, 1);
        let r = check(&b.h, "broadcast");
        assert_eq!(r.valid, Validity::Unknown);
        assert_eq!(r.details["never_read"], json!([1]));
        assert!(r.findings.iter().any(|f| f.rule == "no-stable-elements"));
        let empty = check(&History::default(), "broadcast");
        assert_eq!(empty.valid, Validity::Unknown);
    }

    #[test]
    fn unattempted_values_and_duplicates_in_reads_are_only_notes() {
        let mut b = Builder::default();
        b.add(0, 0, 1);
        b.read(10, 1, json!([1, 1, 99]));
        let r = check(&b.h, "broadcast");
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["attempt_count"], json!(1));
        assert!(r
            .findings
            .iter()
            .any(|f| f.rule == "unattempted-values" && f.note && f.explanation.contains("99")));
        assert!(r
            .findings
            .iter()
            .any(|f| f.rule == "duplicate-in-read" && f.note));
    }

    #[test]
    fn read_values_use_json_equality() {
        let mut b = Builder::default();
        b.add(0, 0, 1);
        b.read(10, 1, serde_json::from_str("[1.0, \"1\"]").unwrap());
        let r = check(&b.h, "broadcast");
        assert_eq!(r.valid, Validity::Invalid);
    }

    #[test]
    fn failed_and_indeterminate_adds_are_not_known_until_read() {
        let mut b = Builder::default();
        b.invoke_add(0, 0, 1);
        b.at(1, 0, OpType::Info, "broadcast", json!(1));
        b.invoke_add(2, 3, 2);
        b.at(3, 3, OpType::Fail, "broadcast", json!(2));
        b.add(4, 4, 3);
        b.read(10, 1, json!([3]));
        let r = check(&b.h, "broadcast");
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["never_read"], json!([1, 2]));
    }

    #[test]
    fn a_null_read_is_empty_and_a_non_list_read_is_unknown() {
        let mut b = Builder::default();
        b.add(0, 0, 1);
        b.read(10, 1, Value::Null);
        assert_eq!(check(&b.h, "broadcast").valid, Validity::Invalid);

        let mut b = Builder::default();
        b.add(0, 0, 1);
        b.read(10, 1, json!([1]));
        b.read(20, 1, json!(5));
        let r = check(&b.h, "broadcast");
        assert_eq!(r.valid, Validity::Unknown);
        assert!(r.findings.iter().any(|f| f.rule == "read-not-a-list"));
    }

    #[test]
    fn quantiles_follow_jepsen_indexing() {
        let q = quantiles((1..=10).rev().collect());
        assert_eq!(
            q,
            json!({"0": 1, "0.5": 6, "0.95": 10, "0.99": 10, "1": 10})
        );
        let q = quantiles(vec![5]);
        assert_eq!(q, json!({"0": 5, "0.5": 5, "0.95": 5, "0.99": 5, "1": 5}));
        let q = quantiles((0..100).collect());
        assert_eq!(q["0.95"], json!(95));
        assert_eq!(q["0.99"], json!(99));
    }

    #[test]
    fn worst_stale_keeps_the_eight_slowest() {
        let mut b = Builder::default();
        for v in 0..10u64 {
            b.add(v, 0, v);
        }
        // Each element v is missed by a read invoked at 100 + 10 v ms.
        for v in 0..10u64 {
            let others: Vec<u64> = (0..10).filter(|x| *x != v).collect();
            b.read(100 + 10 * v, 1, json!(others));
        }
        b.read(1000, 2, json!((0..10).collect::<Vec<u64>>()));
        let r = check(&b.h, "broadcast");
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["stale_count"], json!(10));
        let worst = r.details["worst_stale"].as_array().unwrap();
        assert_eq!(worst.len(), 8);
        assert_eq!(worst[0]["element"], json!(9));
        assert_eq!(worst[7]["element"], json!(2));
    }
}
