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

use super::unique_ids::report_order;
use super::{CheckResult, Finding, Validity};
use crate::history::{History, Op, OpType};
use crate::json::JsonKey;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, HashSet};

/// Quantiles reported for latencies, with their keys in `details`.
const QUANTILES: [(f64, &str); 5] = [
    (0.0, "0"),
    (0.5, "0.5"),
    (0.95, "0.95"),
    (0.99, "0.99"),
    (1.0, "1"),
];

/// How many stale elements `worst_stale` lists.
const WORST_STALE: usize = 8;

/// How many lost elements get a finding of their own.
const MAX_LOST_FINDINGS: usize = 10;

/// How many examples a note quotes.
const EXAMPLES: usize = 5;

/// What the checker tracks for one attempted element.
struct Element {
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
enum Outcome {
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
struct ReadOddities {
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

/// Builds the result from per-element outcomes (elements sorted by value).
fn report(
    history: &History,
    add_f: &str,
    elements: &[Element],
    outcomes: &[Outcome],
    oddities: &ReadOddities,
    completion_of: &[Option<usize>],
) -> CheckResult {
    let ops = &history.ops;
    let values_where = |pred: &dyn Fn(&Outcome) -> bool| -> Vec<Value> {
        elements
            .iter()
            .zip(outcomes)
            .filter(|(_, o)| pred(o))
            .map(|(e, _)| e.value.clone())
            .collect()
    };
    let lost = values_where(&|o| matches!(o, Outcome::Lost { .. }));
    let never_read = values_where(&|o| *o == Outcome::NeverRead);
    let stale = values_where(&|o| matches!(o, Outcome::Stable { latency_ms } if *latency_ms > 0));
    let stable_count = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Stable { .. }))
        .count();
    let stable_latencies: Vec<u64> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Stable { latency_ms } => Some(*latency_ms),
            _ => None,
        })
        .collect();
    let lost_latencies: Vec<u64> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Lost { latency_ms } => Some(*latency_ms),
            _ => None,
        })
        .collect();

    // Stale elements by latency, largest first; ties: larger element first (as Jepsen's
    // reverse of a stable ascending sort).
    let mut stale_elements: Vec<(&Element, u64)> = elements
        .iter()
        .zip(outcomes)
        .filter_map(|(e, o)| match o {
            Outcome::Stable { latency_ms } if *latency_ms > 0 => Some((e, *latency_ms)),
            _ => None,
        })
        .collect();
    stale_elements.sort_by(|a, b| a.1.cmp(&b.1).then(report_order(&a.0.value, &b.0.value)));
    stale_elements.reverse();
    let worst_stale: Vec<Value> = stale_elements
        .iter()
        .take(WORST_STALE)
        .map(|(e, latency)| {
            json!({
                "element": e.value,
                "outcome": "stable",
                "stable_latency": latency,
                "lost_latency": null,
                "known": e.known.map(|i| op_summary(&ops[i])),
                "last_absent": e.last_absent.map(|i| op_summary(&ops[i])),
            })
        })
        .collect();

    let mut details = json!({
        "attempt_count": elements.len(),
        "stable_count": stable_count,
        "lost_count": lost.len(),
        "lost": lost,
        "never_read_count": never_read.len(),
        "never_read": never_read,
        "stale_count": stale.len(),
        "stale": stale,
        "worst_stale": worst_stale,
        "duplicated_count": 0,
        "duplicated": {},
    });
    if let Value::Object(m) = &mut details {
        if !stable_latencies.is_empty() {
            // Our addition: the same distribution at every 5 %, for the report's chart.
            m.insert(
                "stable_latency_distribution".into(),
                distribution(stable_latencies.clone()),
            );
            m.insert("stable_latencies".into(), quantiles(stable_latencies));
        }
        if !lost_latencies.is_empty() {
            m.insert("lost_latencies".into(), quantiles(lost_latencies));
        }
    }

    let mut findings = Vec::new();
    let lost_elements: Vec<&Element> = elements
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| matches!(o, Outcome::Lost { .. }))
        .map(|(e, _)| e)
        .collect();
    for e in lost_elements.iter().take(MAX_LOST_FINDINGS) {
        findings.push(lost_story(history, add_f, e, completion_of));
    }
    if lost_elements.len() > MAX_LOST_FINDINGS {
        findings.push(Finding {
            rule: "lost".into(),
            explanation: format!(
                "{} more elements were lost (see details.lost).",
                lost_elements.len() - MAX_LOST_FINDINGS
            ),
            ops: Vec::new(),
            note: false,
        });
    }

    let mut valid = if !lost.is_empty() {
        Validity::Invalid
    } else if stable_count == 0 {
        findings.push(no_stable_finding(add_f, elements.len()));
        Validity::Unknown
    } else {
        Validity::Valid
    };
    if !oddities.not_a_list.is_empty() {
        valid = valid.merge(Validity::Unknown);
        let first = &ops[oddities.not_a_list[0]];
        findings.push(Finding {
            rule: "read-not-a-list".into(),
            explanation: format!(
                "{} returned {} instead of a list of elements; Maelstrom's checker cannot \
                 handle that and reports unknown.",
                first.describe(),
                first.value
            ),
            ops: oddities.not_a_list.iter().copied().take(EXAMPLES).collect(),
            note: false,
        });
    }
    findings.extend(notes(
        history,
        elements,
        outcomes,
        &stale_elements,
        oddities,
    ));
    CheckResult {
        valid,
        details,
        findings,
    }
}

/// Jepsen's frequency distribution: for each quantile q, the sorted sample at index
/// min(n − 1, floor(n·q)). `sample` must not be empty.
fn quantiles(mut sample: Vec<u64>) -> Value {
    sample.sort_unstable();
    let n = sample.len();
    let mut m = Map::new();
    for (q, name) in QUANTILES {
        let i = ((n as f64 * q).floor() as usize).min(n - 1);
        m.insert(name.to_string(), json!(sample[i]));
    }
    Value::Object(m)
}

/// The sample at every 5 % (0, 0.05, …, 1), picked as in [`quantiles`]. `sample` must not
/// be empty.
fn distribution(mut sample: Vec<u64>) -> Value {
    sample.sort_unstable();
    let n = sample.len();
    let mut m = Map::new();
    for k in 0..=20u32 {
        let q = f64::from(k) / 20.0;
        let i = ((n as f64 * q).floor() as usize).min(n - 1);
        m.insert(format!("{q}"), json!(sample[i]));
    }
    Value::Object(m)
}

/// The fields of an op worth printing in `details`.
fn op_summary(op: &Op) -> Value {
    json!({
        "index": op.index,
        "time": op.time,
        "type": super::stats::kind_name(op.kind),
        "f": op.f,
        "process": op.process,
        "node": op.node,
    })
}

/// Tells how an element got lost: when it became known, the last read that had it, and
/// the later read that did not.
fn lost_story(
    history: &History,
    add_f: &str,
    e: &Element,
    completion_of: &[Option<usize>],
) -> Finding {
    let ops = &history.ops;
    let mut involved = Vec::new();
    let known = e.known.map(|i| &ops[i]);
    let known_text = match known {
        Some(op) if op.f == add_f => format!("its {add_f} was acknowledged by {}", op.describe()),
        Some(op) => format!("read {} returned it", op.describe()),
        None => "it was never known".to_string(),
    };
    involved.extend(e.known);
    let present_text = match e.last_present {
        Some(p) => {
            involved.push(p);
            involved.extend(completion_of[p]);
            format!(
                "The last read that contained it was {}",
                read_text(history, p, completion_of)
            )
        }
        None => "No read ever contained it".to_string(),
    };
    let absent_text = match e.last_absent {
        Some(a) => {
            involved.push(a);
            involved.extend(completion_of[a]);
            format!(
                "the later read {} did not contain it, and no read invoked after that saw it again",
                read_text(history, a, completion_of)
            )
        }
        None => String::new(),
    };
    Finding {
        rule: "lost".into(),
        explanation: format!(
            "Element {} was lost: {known_text}. {present_text}; {absent_text}. Once an \
             element is acknowledged or seen, every later read must contain it.",
            e.value
        ),
        ops: involved,
        note: false,
    }
}

/// "op 40 (process 1, node n0, invoked at 2.000 s, completed at 2.010 s)".
fn read_text(history: &History, invoke: usize, completion_of: &[Option<usize>]) -> String {
    let op = &history.ops[invoke];
    let mut s = format!("op {} (process {}", op.index, op.process);
    if let Some(node) = &op.node {
        s.push_str(&format!(", node {node}"));
    }
    s.push_str(&format!(", invoked at {:.3} s", op.time as f64 / 1e9));
    if let Some(c) = completion_of[invoke] {
        s.push_str(&format!(
            ", completed at {:.3} s",
            history.ops[c].time as f64 / 1e9
        ));
    }
    s.push(')');
    s
}

fn no_stable_finding(add_f: &str, attempts: usize) -> Finding {
    let explanation = if attempts == 0 {
        format!("No {add_f} operation was attempted, so there is nothing to judge.")
    } else {
        format!(
            "None of the {attempts} attempted elements is stable: no successful read \
             invoked after the last read that missed an element contained it. Without \
             successful reads the checker cannot tell, so the verdict is unknown."
        )
    };
    Finding {
        rule: "no-stable-elements".into(),
        explanation,
        ops: Vec::new(),
        note: false,
    }
}

/// Notes on never-read and stale elements and on odd read contents.
fn notes(
    history: &History,
    elements: &[Element],
    outcomes: &[Outcome],
    stale: &[(&Element, u64)],
    oddities: &ReadOddities,
) -> Vec<Finding> {
    let ops = &history.ops;
    let mut notes = Vec::new();
    let note = |rule: &str, explanation: String, ops: Vec<usize>| Finding {
        rule: rule.into(),
        explanation,
        ops,
        note: true,
    };
    let never: Vec<&Element> = elements
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| **o == Outcome::NeverRead)
        .map(|(e, _)| e)
        .collect();
    if !never.is_empty() {
        let listed: Vec<String> = never
            .iter()
            .take(EXAMPLES)
            .map(|e| e.value.to_string())
            .collect();
        notes.push(note(
            "never-read",
            format!(
                "{} elements were never read after they became known (e.g. {}). This is \
                 allowed: typically adds that never completed, or adds at the very end.",
                never.len(),
                listed.join(", ")
            ),
            Vec::new(),
        ));
    }
    if let Some((worst, latency)) = stale.first() {
        let mut involved: Vec<usize> = worst.known.into_iter().collect();
        involved.extend(worst.last_absent);
        let missed_by = worst
            .last_absent
            .map(|i| format!("; the last read to miss it was {}", ops[i].describe()))
            .unwrap_or_default();
        notes.push(note(
            "stale",
            format!(
                "{} elements were stale (a read invoked after they became known missed \
                 them); allowed, but it shows propagation delay. Worst: element {} took {} \
                 ms to show up everywhere{missed_by}.",
                stale.len(),
                worst.value,
                latency
            ),
            involved,
        ));
    }
    if let Some((read, value)) = oddities.unattempted.first() {
        let listed: Vec<String> = oddities
            .unattempted
            .iter()
            .map(|(_, v)| v.to_string())
            .collect();
        notes.push(note(
            "unattempted-values",
            format!(
                "Reads returned values nobody added (e.g. {value} in {}; all examples: {}). \
                 The checker ignores them.",
                ops[*read].describe(),
                listed.join(", ")
            ),
            oddities.unattempted.iter().map(|(r, _)| *r).collect(),
        ));
    }
    if let Some((read, value)) = oddities.duplicates.first() {
        notes.push(note(
            "duplicate-in-read",
            format!(
                "{} listed {value} more than once. Harmless for the verdict, but it usually \
                 means the node stores messages in a list instead of a set.",
                ops[*read].describe()
            ),
            oddities.duplicates.iter().map(|(r, _)| *r).collect(),
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::super::stats::tests::op;
    use super::*;

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
