//! The txn-rw-register checker (spec §5.7): Elle's read/write-register analysis with
//! write-follows-read version inference, wrapped the way Maelstrom wraps it.
//!
//! - Direct anomalies: `internal`, `G1a` (read of a failed write), `G1b` (read of an
//!   intermediate write), `lost-update`.
//! - `cyclic-versions` when the inferred version order of a key is circular.
//! - Dependency cycles `G0`, `G1c`, `G-single-item`, `G-nonadjacent-item`, `G2-item`,
//!   plus `-realtime` variants when a model needs real-time order
//!   (strict-serializable).
//! - Anomalies the chosen models prohibit invalidate; the others are notes.
//! - As in Maelstrom's wrapper, a history with no dependency edge at all
//!   (`empty-transaction-graph`) is invalid, and cycle-search timeouts are dropped
//!   from the verdict (reported as notes).
//! - As observed on Maelstrom: a read of a value nobody wrote is ignored; a read of a
//!   value written by more than one transaction makes the analysis impossible
//!   (unknown).

mod deps;
mod direct;
mod parse;

use std::time::Duration;

use serde_json::json;

use crate::checker::cycles::models::Models;
use crate::checker::cycles::report::{
    meaning, unknown_models, Anomalies, Anomaly, CycleCheck, UnknownPolicy,
};
use crate::checker::cycles::txn::{describe, Atoms};
use crate::checker::{CheckResult, Finding};
use crate::history::History;

/// How long the cycle search may take by default.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(10);

/// Checks a txn-rw-register history against the given consistency models (names as
/// for `--consistency-models`; empty means strict-serializable).
pub fn check(history: &History, models: &[String]) -> CheckResult {
    check_with_budget(history, models, DEFAULT_BUDGET)
}

/// [`check`] with an explicit time budget for the cycle search.
pub fn check_with_budget(history: &History, models: &[String], budget: Duration) -> CheckResult {
    let models = match Models::parse(models) {
        Ok(m) => m,
        Err(unknown) => return unknown_models(&unknown),
    };
    let mut atoms = Atoms::default();
    let (txns, malformed) = parse::transactions(history, &mut atoms);
    let mut problems: Vec<Finding> = malformed
        .into_iter()
        .map(|(i, e)| Finding {
            rule: "malformed-transaction".into(),
            explanation: format!(
                "Op {i} could not be read, so it was left out of the analysis: {e}."
            ),
            ops: vec![i],
            note: false,
        })
        .collect();

    let mut anomalies = Anomalies::default();
    direct::find(history, &txns, &mut atoms, &models, &mut anomalies);

    let deps = deps::build(history, &txns, models.order_edges());
    for (k, values, by) in &deps.cyclic {
        let shown: Vec<String> = values.iter().map(|v| atoms.show(*v)).collect();
        let ops: Vec<usize> = by.iter().map(|&t| txns[t].op.index()).collect();
        anomalies.add(Anomaly {
            kind: "cyclic-versions".into(),
            explanation: format!(
                "Transactions that read one value of key {} and then wrote another imply a circular version order over the values {}: ops {:?}. This is {}. Because of it, the write-follows-read order was not used for any key. {}",
                atoms.show(*k),
                shown.join(", "),
                ops,
                meaning("cyclic-versions"),
                crate::checker::cycles::report::verdict("cyclic-versions", &models)
            ),
            ops,
            data: json!({ "key": atoms.value(*k), "values": values.iter().map(|v| atoms.value(*v)).collect::<Vec<_>>() }),
        });
    }
    for (k, v, writers) in &deps.ambiguous {
        let who: Vec<String> = writers
            .iter()
            .map(|&t| describe(history, &txns[t].op))
            .collect();
        problems.push(Finding {
            rule: "duplicate-write".into(),
            explanation: format!(
                "Key {} = {} was read, but that value was written by more than one transaction ({}). Values must be unique per key for the analysis to say who a reader saw, so no verdict is possible (Maelstrom's checker throws here). A node that returns a value another transaction wrote, or writes a value twice, causes this.",
                atoms.show(*k),
                atoms.show(*v),
                who.join("; ")
            ),
            ops: writers.iter().map(|&t| txns[t].op.index()).collect(),
            note: false,
        });
    }

    let graph = &deps.graph;
    if graph.edge_count() == 0 {
        let oks = txns.iter().filter(|t| t.ok()).count();
        anomalies.add(Anomaly {
            kind: "empty-transaction-graph".into(),
            explanation: format!(
                "No dependency between any two transactions could be inferred ({oks} of {} transactions completed ok): no transaction read a value another one wrote, none read the initial null of a key someone wrote, and none read then wrote a key{}. With nothing to order, nothing can be checked; Maelstrom's txn-rw-register checker counts this as a failure.",
                txns.len(),
                if models.order_edges().is_some() { ", and no transaction finished before another began" } else { "" }
            ),
            ops: vec![],
            data: json!({}),
        });
    }

    let explainer = deps::Explainer {
        txns: &txns,
        atoms: &atoms,
        versions: &deps.versions,
    };
    let ops: Vec<_> = txns.iter().map(|t| t.op).collect();
    CycleCheck {
        history,
        ops: &ops,
        graph,
        explainer: &explainer,
        models: &models,
        policy: UnknownPolicy::RwRegister,
    }
    .finish(budget, anomalies, problems)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::cycles::testkit::{has, kinds, model_names, Hist};
    use crate::checker::Validity;
    use crate::history::OpType;
    use serde_json::json;

    fn run(h: &Hist, models: &[&str]) -> CheckResult {
        check(&h.h, &model_names(models))
    }

    #[test]
    fn a_serial_history_is_valid() {
        let mut h = Hist::new();
        h.txn(0, json!([["w", 1, 1], ["r", 2, null]]));
        h.txn(1, json!([["r", 1, 1], ["w", 1, 2]]));
        h.txn(0, json!([["r", 1, 2], ["w", 2, 1]]));
        h.txn(1, json!([["r", 2, 1], ["r", 1, 2]]));
        let r = run(&h, &["strict-serializable"]);
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.findings);
        assert!(r.findings.is_empty());
    }

    #[test]
    fn g1a_read_of_a_failed_write() {
        let mut h = Hist::new();
        h.op(
            0,
            "txn",
            json!([["w", 1, 1]]),
            OpType::Fail,
            json!([["w", 1, 1]]),
        );
        h.txn(1, json!([["r", 1, 1]]));
        let r = run(&h, &["read-committed"]);
        assert_eq!(r.valid, Validity::Invalid);
        assert!(has(&r, "G1a"));
        let f = r.findings.iter().find(|f| f.rule == "G1a").unwrap();
        assert_eq!(f.ops, vec![1, 3]);
        assert!(f.explanation.contains("failed"), "{}", f.explanation);
        // Near miss: the write was indeterminate, not failed.
        let mut h = Hist::new();
        h.op(
            0,
            "txn",
            json!([["w", 1, 1]]),
            OpType::Info,
            json!([["w", 1, 1]]),
        );
        h.txn(1, json!([["r", 1, 1]]));
        let r = run(&h, &["read-committed"]);
        assert!(!has(&r, "G1a"), "{:?}", r.findings);
    }

    #[test]
    fn g1b_read_of_an_intermediate_write() {
        let mut h = Hist::new();
        h.txn(0, json!([["w", 1, 1], ["w", 1, 2]]));
        h.txn(1, json!([["r", 1, 1]]));
        let r = run(&h, &["read-committed"]);
        assert!(has(&r, "G1b"));
        assert_eq!(r.valid, Validity::Invalid);
        // Near miss: reading the final write.
        let mut h = Hist::new();
        h.txn(0, json!([["w", 1, 1], ["w", 1, 2]]));
        h.txn(1, json!([["r", 1, 2]]));
        let r = run(&h, &["read-committed"]);
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.findings);
    }

    #[test]
    fn internal_inconsistency_is_prohibited_by_serializable_only() {
        let mut h = Hist::new();
        h.txn(0, json!([["w", 1, 1]]));
        h.txn(1, json!([["w", 1, 5], ["r", 1, 1]]));
        let r = run(&h, &["serializable"]);
        assert!(has(&r, "internal"));
        assert_eq!(r.valid, Validity::Invalid);
        let rc = run(&h, &["read-committed"]);
        assert!(rc.findings.iter().any(|f| f.rule == "internal" && f.note));
        // Near miss: reading back one's own write.
        let mut h = Hist::new();
        h.txn(1, json!([["w", 1, 5], ["r", 1, 5]]));
        h.txn(0, json!([["r", 1, 5]]));
        assert!(!has(&run(&h, &["serializable"]), "internal"));
    }

    #[test]
    fn lost_update_two_writers_from_one_read() {
        let mut h = Hist::new();
        h.txn(2, json!([["w", 1, 1]]));
        h.concurrent_txns(
            json!([["r", 1, 1], ["w", 1, 2]]),
            json!([["r", 1, 1], ["w", 1, 3]]),
        );
        let r = run(&h, &["repeatable-read"]);
        assert!(has(&r, "lost-update"), "{:?}", kinds(&r));
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(run(&h, &["read-committed"]).valid, Validity::Valid);
        // Near miss: the second read sees the first update.
        let mut h = Hist::new();
        h.txn(2, json!([["w", 1, 1]]));
        h.txn(0, json!([["r", 1, 1], ["w", 1, 2]]));
        h.txn(1, json!([["r", 1, 2], ["w", 1, 3]]));
        assert!(!has(&run(&h, &["repeatable-read"]), "lost-update"));
    }

    #[test]
    fn g1c_circular_information_flow() {
        let mut h = Hist::new();
        h.concurrent_txns(
            json!([["w", 1, 1], ["r", 2, 1]]),
            json!([["w", 2, 1], ["r", 1, 1]]),
        );
        let r = run(&h, &["read-committed"]);
        assert!(has(&r, "G1c"), "{:?}", kinds(&r));
        assert_eq!(r.valid, Validity::Invalid);
        let f = r.findings.iter().find(|f| f.rule == "G1c").unwrap();
        assert!(
            f.explanation.contains("T1 wrote key") && f.explanation.contains("(wr)"),
            "{}",
            f.explanation
        );
        // Near miss: only one sees the other.
        let mut h = Hist::new();
        h.concurrent_txns(
            json!([["w", 1, 1], ["r", 2, null]]),
            json!([["w", 2, 1], ["r", 1, 1]]),
        );
        let r = run(&h, &["read-committed"]);
        assert!(!has(&r, "G1c"));
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.findings);
    }

    #[test]
    fn g_single_read_skew() {
        // T1 reads x=1 (T0's) and y=null, T2 wrote y=1 having read x=1... build:
        // T0: w x 1. T1: r x 1, w y 1 (after reading y? no). Classic: T2 reads x=null
        // but y=1, where T1 wrote x=1 then y=1 in one txn.
        let mut h = Hist::new();
        h.concurrent_txns(
            json!([["w", 1, 1], ["w", 2, 1]]),
            json!([["r", 1, null], ["r", 2, 1]]),
        );
        let r = run(&h, &["snapshot-isolation"]);
        assert!(has(&r, "G-single-item"), "{:?}", kinds(&r));
        assert_eq!(r.valid, Validity::Invalid);
        // Allowed (a note) under read-committed.
        let rc = run(&h, &["read-committed"]);
        assert_eq!(rc.valid, Validity::Valid);
        assert!(rc.findings.iter().all(|f| f.note));
        // Near miss: the reader saw both writes.
        let mut h = Hist::new();
        h.concurrent_txns(
            json!([["w", 1, 1], ["w", 2, 1]]),
            json!([["r", 1, 1], ["r", 2, 1]]),
        );
        assert_eq!(run(&h, &["snapshot-isolation"]).valid, Validity::Valid);
    }

    #[test]
    fn g2_write_skew() {
        // Both read both keys as null, each writes one of them.
        let mut h = Hist::new();
        h.concurrent_txns(
            json!([["r", 1, null], ["r", 2, null], ["w", 1, 1]]),
            json!([["r", 1, null], ["r", 2, null], ["w", 2, 1]]),
        );
        let r = run(&h, &["serializable"]);
        assert!(has(&r, "G2-item"), "{:?}", kinds(&r));
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(run(&h, &["snapshot-isolation"]).valid, Validity::Valid);
        // Near miss: the second saw the first's write.
        let mut h = Hist::new();
        h.txn(0, json!([["r", 1, null], ["r", 2, null], ["w", 1, 1]]));
        h.txn(1, json!([["r", 1, 1], ["r", 2, null], ["w", 2, 1]]));
        assert_eq!(run(&h, &["serializable"]).valid, Validity::Valid);
    }

    #[test]
    fn g0_write_cycle_needs_write_follows_read_orders() {
        // T1 read x=1 then wrote x=2 ; T2 read y=1.. build ww both ways:
        // x: 1 < 2 (T_b read 1, wrote 2), writers: T_a wrote x=1, T_b wrote x=2.
        // y: 1 < 2 (T_a read y=1, wrote y=2), writers: T_b wrote y=1, T_a wrote y=2.
        let mut h = Hist::new();
        h.concurrent_txns(
            json!([["w", 1, 1], ["r", 2, 1], ["w", 2, 2]]),
            json!([["w", 2, 1], ["r", 1, 1], ["w", 1, 2]]),
        );
        let r = run(&h, &["read-uncommitted"]);
        assert!(has(&r, "G0"), "{:?}", kinds(&r));
        assert_eq!(r.valid, Validity::Invalid);
    }

    #[test]
    fn stale_read_after_a_completed_write_is_a_realtime_anomaly() {
        let mut h = Hist::new();
        h.txn(0, json!([["w", 1, 1]]));
        h.txn(1, json!([["r", 1, null]]));
        let strict = run(&h, &["strict-serializable"]);
        assert!(
            has(&strict, "G-single-item-realtime"),
            "{:?}",
            kinds(&strict)
        );
        assert_eq!(strict.valid, Validity::Invalid);
        assert_eq!(run(&h, &["serializable"]).valid, Validity::Valid);
        // Near miss: the read was concurrent with the write.
        let mut h = Hist::new();
        h.concurrent_txns(json!([["w", 1, 1]]), json!([["r", 1, null]]));
        assert_eq!(run(&h, &["strict-serializable"]).valid, Validity::Valid);
    }

    #[test]
    fn empty_transaction_graph_is_invalid_as_in_maelstrom() {
        let mut h = Hist::new();
        h.txn(0, json!([["r", 1, null]]));
        let r = run(&h, &["read-committed"]);
        assert_eq!(r.valid, Validity::Invalid);
        assert!(has(&r, "empty-transaction-graph"));
        // Near miss: a read of the initial state before a write gives an rw edge.
        let mut h = Hist::new();
        h.txn(0, json!([["r", 1, null]]));
        h.txn(1, json!([["w", 1, 1]]));
        assert_eq!(run(&h, &["read-committed"]).valid, Validity::Valid);
    }

    #[test]
    fn reads_of_unwritten_values_are_ignored_and_duplicate_writers_unknown() {
        let mut h = Hist::new();
        h.txn(0, json!([["r", 1, null]]));
        h.txn(1, json!([["w", 1, 1], ["r", 2, 99]]));
        assert_eq!(run(&h, &["serializable"]).valid, Validity::Valid);
        let mut h = Hist::new();
        h.txn(0, json!([["w", 1, 1]]));
        h.txn(1, json!([["w", 1, 1]]));
        h.txn(2, json!([["r", 1, 1]]));
        let r = run(&h, &["serializable"]);
        assert_eq!(r.valid, Validity::Unknown);
        assert!(has(&r, "duplicate-write"));
    }

    #[test]
    fn cyclic_versions_are_reported() {
        let mut h = Hist::new();
        h.concurrent_txns(
            json!([["r", 1, 1], ["w", 1, 3]]),
            json!([["r", 1, 3], ["w", 1, 1]]),
        );
        let r = run(&h, &["read-uncommitted"]);
        assert!(has(&r, "cyclic-versions"), "{:?}", kinds(&r));
    }

    #[test]
    fn unknown_model_is_unknown() {
        let h = Hist::new();
        assert_eq!(run(&h, &["linearizable"]).valid, Validity::Unknown);
    }
}
