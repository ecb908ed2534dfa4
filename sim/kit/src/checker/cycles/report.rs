//! Turning anomalies into findings and `results.json` details: examples per type,
//! cycle stories, and the verdict against the chosen consistency models.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::budget::Budget;
use super::graph::{Csr, Rel};
use super::models::{ruled_out, Models};
use super::search::{search, Cycle, SearchOptions};
use super::txn::{describe, TxnOp};
use crate::checker::{CheckResult, Finding, Validity};
use crate::history::History;

/// How many examples to keep per anomaly type.
pub const MAX_EXAMPLES: usize = 8;

/// One anomaly instance, told as a story.
#[derive(Clone, Debug, PartialEq)]
pub struct Anomaly {
    /// The anomaly type, e.g. "G1c" or "internal".
    pub kind: String,
    /// What happened, which transactions, and why it is an anomaly.
    pub explanation: String,
    /// History indexes of the operations involved.
    pub ops: Vec<usize>,
    /// Machine-readable extras for `results.json`.
    pub data: Value,
}

/// Anomalies by type: a count and the first few examples.
#[derive(Clone, Debug, Default)]
pub struct Anomalies {
    by_kind: BTreeMap<String, (usize, Vec<Anomaly>)>,
}

impl Anomalies {
    /// Records one instance (kept as an example if fewer than [`MAX_EXAMPLES`] are).
    pub fn add(&mut self, a: Anomaly) {
        let entry = self.by_kind.entry(a.kind.clone()).or_default();
        entry.0 += 1;
        if entry.1.len() < MAX_EXAMPLES {
            entry.1.push(a);
        }
    }

    /// True if an anomaly of this type was recorded.
    pub fn has(&self, kind: &str) -> bool {
        self.by_kind.contains_key(kind)
    }

    /// The recorded types, sorted.
    pub fn kinds(&self) -> impl Iterator<Item = &str> + Clone {
        self.by_kind.keys().map(String::as_str)
    }

    /// True if nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.by_kind.is_empty()
    }
}

/// A short description of each anomaly type, for stories.
pub fn meaning(kind: &str) -> String {
    let (base, ext) = match kind.rsplit_once('-') {
        Some((b, "realtime")) => (b, " once real-time order is counted (an operation that finished before another began must come first)"),
        Some((b, "process")) => (b, " once each process's own order is counted"),
        _ => (kind, ""),
    };
    let text = match base {
        "G0" => "a write cycle (dirty write): the transactions overwrote each other's values in a circle, so no order of their writes exists",
        "G1a" => "an aborted read: a committed transaction observed a write of a transaction that failed",
        "G1b" => "an intermediate read: a committed transaction observed a value that its writer overwrote before committing",
        "G1c" => "circular information flow: each transaction observed the effects of the one before it, all the way around",
        "G-single-item" | "G-single" => "read skew: a single anti-dependency (a read that missed a write which must have come earlier) closes a cycle of dependencies",
        "G-nonadjacent-item" | "G-nonadjacent" => "an anti-dependency cycle whose rw edges are never adjacent, which snapshot isolation forbids",
        "G2-item" | "G2" => "write skew: an anti-dependency cycle, where transactions each missed the others' writes",
        "internal" => "an internal inconsistency: a transaction's read disagrees with its own earlier reads or writes of the key",
        "lost-update" => "a lost update: several committed transactions read the same version of a key and each wrote a new one, so all but one update was lost",
        "cyclic-versions" => "cyclic versions: the version order inferred for a key goes round in a circle",
        "duplicate-elements" => "duplicate elements: a read list holds an appended value more than once",
        "incompatible-order" => "incompatible orders: two reads of a list disagree on the order of its elements (neither is a prefix of the other)",
        "dirty-update" => "a dirty update: a committed append came right after an append of a failed transaction",
        "future-read" => "a future read: a transaction read a value it appended only later",
        "empty-transaction-graph" => "no dependency at all between transactions could be inferred, so nothing was checked",
        "cycle-search-timeout" => "the cycle search ran out of time in a large component",
        other => return format!("{other}{ext}"),
    };
    format!("{text}{ext}")
}

/// The closing sentence: forbidden by which models, or only a note.
pub fn verdict(kind: &str, models: &Models) -> String {
    let by = models.prohibiting(kind);
    if by.is_empty() {
        format!(
            "The chosen model ({}) allows this, so it is only a note.",
            models.describe()
        )
    } else {
        format!("{} forbids this.", super::models::join_names(&by))
    }
}

/// How a checker justifies a data edge of a cycle.
pub trait ExplainEdge {
    /// Why transaction `a` precedes `b` under `rel` (ww, wr or rw), naming them
    /// `an` and `bn`, e.g. "T1 wrote key 3 = 4 and T2 read it".
    fn explain(&self, a: usize, b: usize, rel: Rel, an: &str, bn: &str) -> String;
}

/// Tells a cycle as a story: who the transactions are, each edge's justification in
/// order, the anomaly's meaning and which chosen model forbids it.
pub fn cycle_story(
    history: &History,
    txns: &[TxnOp],
    cycle: &Cycle,
    explainer: &dyn ExplainEdge,
    models: &Models,
) -> Anomaly {
    let kind = cycle.class.name();
    // Start the story at the transaction that came first in the history.
    let mut steps = cycle.steps.clone();
    if let Some(first) = (0..steps.len()).min_by_key(|&i| txns[steps[i].from as usize].index()) {
        steps.rotate_left(first);
    }
    let ids: Vec<usize> = steps.iter().map(|s| s.from as usize).collect();
    let name = |t: usize| format!("T{}", ids.iter().position(|&x| x == t).map_or(0, |p| p + 1));
    let mut text = format!("{kind} cycle of {} transactions. ", ids.len());
    for (i, &t) in ids.iter().enumerate() {
        text.push_str(&format!("T{} = {}. ", i + 1, describe(history, &txns[t])));
    }
    let mut steps_json = Vec::new();
    for s in &steps {
        let (a, b) = (s.from as usize, s.to as usize);
        let (an, bn) = (name(a), name(b));
        let why = match s.rel {
            Rel::Realtime => {
                let done = txns[a].completion.map_or(0.0, |c| history.ops[c].time_ms());
                let start = history.ops[txns[b].invoke].time_ms();
                format!("{an} completed at {done:.2} ms, before {bn} was invoked at {start:.2} ms")
            }
            Rel::Process => format!(
                "{an} and {bn} ran one after the other on process {}",
                history.ops[txns[a].invoke].process
            ),
            rel => explainer.explain(a, b, rel, &an, &bn),
        };
        text.push_str(&format!("{an} < {bn} ({}): {why}. ", s.rel));
        steps_json.push(json!({
            "from": txns[a].index(),
            "to": txns[b].index(),
            "rel": s.rel.name(),
            "why": why,
        }));
    }
    text.push_str(&format!(
        "Each edge says its left transaction must come first, so these transactions cannot be put in any order: this is {}. {}",
        meaning(&kind),
        verdict(&kind, models)
    ));
    Anomaly {
        kind,
        explanation: text,
        ops: ids.iter().map(|&t| txns[t].index()).collect(),
        data: json!({ "cycle": steps_json }),
    }
}

/// How a workload treats the special "unknown" anomaly types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownPolicy {
    /// Maelstrom's txn-rw-register wrapper: search timeouts are dropped, an empty
    /// transaction graph invalidates.
    RwRegister,
    /// Plain Elle (txn-list-append): both give an unknown verdict.
    Elle,
}

/// Builds the checker result from anomalies: prohibited ones invalidate, others are
/// notes; `problems` are reasons the analysis itself could not be completed (they
/// make the verdict unknown, as a checker exception does in Maelstrom).
pub fn txn_result(
    models: &Models,
    anomalies: &Anomalies,
    policy: UnknownPolicy,
    problems: Vec<Finding>,
    graph: Value,
) -> CheckResult {
    let mut findings = Vec::new();
    let mut reportable = Vec::new();
    let mut notes = Vec::new();
    let mut anomalies_json = Map::new();
    let mut valid = Validity::Valid;
    for (kind, (count, examples)) in &anomalies.by_kind {
        let special = matches!(
            kind.as_str(),
            "empty-transaction-graph" | "cycle-search-timeout"
        );
        let prohibited = models.prohibit(kind);
        let effect = match (special, policy, kind.as_str()) {
            (false, _, _) if prohibited => Validity::Invalid,
            (false, _, _) => Validity::Valid,
            (true, UnknownPolicy::RwRegister, "empty-transaction-graph") => Validity::Invalid,
            (true, UnknownPolicy::RwRegister, _) => Validity::Valid,
            (true, UnknownPolicy::Elle, _) => Validity::Unknown,
        };
        let counts_against = effect != Validity::Valid;
        if counts_against {
            reportable.push(kind.clone());
        } else {
            notes.push(kind.clone());
        }
        valid = valid.merge(effect);
        let shown = examples.len();
        for (i, ex) in examples.iter().enumerate() {
            let prefix = if *count > 1 {
                format!("(example {} of {count}) ", i + 1)
            } else {
                String::new()
            };
            findings.push(Finding {
                rule: kind.clone(),
                explanation: format!("{prefix}{}", ex.explanation),
                ops: ex.ops.clone(),
                note: !counts_against,
            });
        }
        let examples_json: Vec<Value> = examples
            .iter()
            .map(|ex| {
                let mut obj = match &ex.data {
                    Value::Object(m) => m.clone(),
                    _ => Map::new(),
                };
                obj.insert("ops".into(), json!(ex.ops));
                obj.insert("explanation".into(), json!(ex.explanation));
                Value::Object(obj)
            })
            .collect();
        anomalies_json.insert(
            kind.clone(),
            json!({ "count": count, "shown": shown, "examples": examples_json }),
        );
    }
    // A problem means the analysis itself failed (Maelstrom's checker would have
    // thrown): the verdict is unknown whatever else was found.
    for p in &problems {
        valid = Validity::Unknown;
        findings.push(p.clone());
    }
    let (not, also_not) = ruled_out(anomalies.kinds());
    let names = |ms: Vec<super::models::Model>| ms.iter().map(|m| m.name()).collect::<Vec<_>>();
    CheckResult {
        valid,
        details: json!({
            "valid": match valid { Validity::Valid => json!(true), Validity::Invalid => json!(false), Validity::Unknown => json!("unknown") },
            "models": models.list().iter().map(|m| m.name()).collect::<Vec<_>>(),
            "anomaly_types": reportable,
            "other_anomaly_types": notes,
            "anomalies": anomalies_json,
            "not": names(not),
            "also_not": names(also_not),
            "problems": problems.iter().map(|p| json!({"rule": p.rule, "explanation": p.explanation})).collect::<Vec<_>>(),
            "graph": graph,
        }),
        findings,
    }
}

impl UnknownPolicy {
    /// What a cycle-search timeout means for the verdict, as the end of the sentence
    /// that reports it.
    fn timeout_consequence(self) -> &'static str {
        match self {
            UnknownPolicy::RwRegister => {
                ". Maelstrom's txn-rw-register checker ignores these timeouts."
            }
            UnknownPolicy::Elle => "; the verdict is unknown.",
        }
    }
}

/// The cycle-search half of a transactional checker, shared by txn-rw-register and
/// txn-list-append: everything it needs once the dependency graph is built.
pub struct CycleCheck<'a> {
    /// The history being checked.
    pub history: &'a History,
    /// The operation of each transaction, by transaction index (graph node).
    pub ops: &'a [TxnOp],
    /// The dependency graph over the transactions.
    pub graph: &'a Csr,
    /// Justifies each data edge of a cycle.
    pub explainer: &'a dyn ExplainEdge,
    /// The chosen consistency models.
    pub models: &'a Models,
    /// How the workload treats the special "unknown" anomaly types.
    pub policy: UnknownPolicy,
}

impl CycleCheck<'_> {
    /// Searches the graph for the cycles the models care about within `budget`, adds
    /// each cycle (shortest first) and every search timeout to `anomalies`, and
    /// builds the checker result with [`txn_result`].
    pub fn finish(
        &self,
        budget: Duration,
        mut anomalies: Anomalies,
        problems: Vec<Finding>,
    ) -> CheckResult {
        let mut budget = Budget::new(budget);
        let opts = SearchOptions {
            ext: self.models.order_edges(),
            nonadjacent_matters: self.models.nonadjacent_matters(),
        };
        let outcome = search(self.graph, &opts, &mut budget);
        let mut cycles = outcome.cycles.clone();
        cycles.sort_by_key(|c| c.steps.len());
        for c in &cycles {
            anomalies.add(cycle_story(
                self.history,
                self.ops,
                c,
                self.explainer,
                self.models,
            ));
        }
        for t in &outcome.timeouts {
            anomalies.add(Anomaly {
                kind: "cycle-search-timeout".into(),
                explanation: format!(
                    "The search for {} cycles in a component of {} transactions ran out of time, so such cycles may exist unreported{}",
                    t.class.name(),
                    t.scc_size,
                    self.policy.timeout_consequence()
                ),
                ops: vec![],
                data: json!({ "class": t.class.name(), "scc_size": t.scc_size }),
            });
        }
        let graph_json = json!({
            "transactions": self.ops.len(),
            "edges": self.graph.edge_count(),
            "cyclic_components": outcome.scc_count,
            "largest_component": outcome.largest_scc,
        });
        txn_result(self.models, &anomalies, self.policy, problems, graph_json)
    }
}

/// The result when `--consistency-models` names a model we do not know.
pub fn unknown_models(unknown: &[String]) -> CheckResult {
    CheckResult {
        valid: Validity::Unknown,
        details: json!({ "valid": "unknown", "unknown_models": unknown }),
        findings: vec![Finding {
            rule: "unknown-consistency-model".into(),
            explanation: format!(
                "Unknown consistency model(s) {unknown:?}; known: read-uncommitted, read-committed, repeatable-read, snapshot-isolation, serializable, strict-serializable."
            ),
            ops: vec![],
            note: false,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anomaly(kind: &str) -> Anomaly {
        Anomaly {
            kind: kind.into(),
            explanation: format!("a {kind}"),
            ops: vec![1],
            data: json!({}),
        }
    }

    #[test]
    fn prohibited_types_invalidate_and_others_are_notes() {
        let models = Models::parse(&["read-committed".into()]).unwrap();
        let mut a = Anomalies::default();
        a.add(anomaly("G2-item"));
        let r = txn_result(&models, &a, UnknownPolicy::Elle, vec![], json!({}));
        assert_eq!(r.valid, Validity::Valid);
        assert!(r.findings.iter().all(|f| f.note));
        a.add(anomaly("G1c"));
        let r = txn_result(&models, &a, UnknownPolicy::Elle, vec![], json!({}));
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.details["anomaly_types"], json!(["G1c"]));
        assert_eq!(r.details["other_anomaly_types"], json!(["G2-item"]));
        assert_eq!(r.details["not"], json!(["read-committed"]));
    }

    #[test]
    fn special_types_follow_the_workload_policy() {
        let models = Models::parse(&[]).unwrap();
        let mut a = Anomalies::default();
        a.add(anomaly("empty-transaction-graph"));
        assert_eq!(
            txn_result(&models, &a, UnknownPolicy::RwRegister, vec![], json!({})).valid,
            Validity::Invalid
        );
        assert_eq!(
            txn_result(&models, &a, UnknownPolicy::Elle, vec![], json!({})).valid,
            Validity::Unknown
        );
        let mut t = Anomalies::default();
        t.add(anomaly("cycle-search-timeout"));
        assert_eq!(
            txn_result(&models, &t, UnknownPolicy::RwRegister, vec![], json!({})).valid,
            Validity::Valid
        );
        assert_eq!(
            txn_result(&models, &t, UnknownPolicy::Elle, vec![], json!({})).valid,
            Validity::Unknown
        );
    }

    #[test]
    fn examples_are_capped_but_counted() {
        let mut a = Anomalies::default();
        for _ in 0..20 {
            a.add(anomaly("G0"));
        }
        let r = txn_result(
            &Models::parse(&[]).unwrap(),
            &a,
            UnknownPolicy::Elle,
            vec![],
            json!({}),
        );
        assert_eq!(r.findings.len(), MAX_EXAMPLES);
        assert_eq!(r.details["anomalies"]["G0"]["count"], json!(20));
        assert!(r.findings[0].explanation.starts_with("(example 1 of 20)"));
    }
}
