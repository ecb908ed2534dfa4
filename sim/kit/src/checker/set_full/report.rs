//! The set-full checker's report: the verdict, `results.json`'s details (counts, latency
//! quantiles and distribution, the worst stale elements) and the findings told as stories
//! (each lost element with the reads that prove it, and the notes).

use super::{Element, Outcome, ReadOddities, EXAMPLES};
use crate::checker::stats::kind_name;
use crate::checker::unique_ids::report_order;
use crate::checker::{CheckResult, Finding, Validity};
use crate::history::{History, Op};
use serde_json::{json, Map, Value};

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

/// Builds the result from per-element outcomes (elements sorted by value).
pub(super) fn report(
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
pub(super) fn quantiles(mut sample: Vec<u64>) -> Value {
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
        "type": kind_name(op.kind),
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
