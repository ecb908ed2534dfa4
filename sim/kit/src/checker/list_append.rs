//! The txn-list-append checker (spec §5.8): Elle's list-append analysis.
//!
//! Reads return whole lists, so the longest read of each key gives its append order
//! (every other read must be a prefix of it, else `incompatible-order`). From that
//! order come ww, wr and rw edges between `ok` and indeterminate transactions, and
//! the cycle classes `G0`, `G1c`, `G-single-item`, `G-nonadjacent-item`, `G2-item`
//! (with `-realtime` variants for strict-serializable). Also detected: `G1a`, `G1b`,
//! `internal`, `future-read`, `dirty-update`, `duplicate-elements`, `lost-update`.
//!
//! Unlike txn-rw-register there is no Maelstrom wrapper: an empty transaction graph
//! or a cycle-search timeout makes the verdict unknown. As in Elle, values appended
//! twice, elements nobody appended and unexpected micro-ops make the analysis
//! impossible (unknown).

mod deps;
mod direct;
mod order;
mod parse;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use crate::checker::cycles::models::Models;
use crate::checker::cycles::report::{
    unknown_models, Anomalies, Anomaly, CycleCheck, UnknownPolicy,
};
use crate::checker::cycles::txn::{Atom, Atoms};
use crate::checker::{CheckResult, Finding};
use crate::history::{History, OpType};

/// How long the cycle search may take by default.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(10);

/// Checks a txn-list-append history against the given consistency models (names as
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
            rule: "unexpected-txn-micro-op-types".into(),
            explanation: format!("Op {i} could not be read as a list-append transaction: {e}. Elle refuses such histories."),
            ops: vec![i],
            note: false,
        })
        .collect();
    problems.extend(duplicate_appends(history, &mut atoms));

    let orders = order::Orders::build(&txns);
    let mut anomalies = Anomalies::default();
    let cx = direct::Ctx {
        history,
        txns: &txns,
        atoms: &atoms,
        models: &models,
        orders: &orders,
    };
    let mut scratch = atoms.clone();
    direct::find(&cx, &mut scratch, &mut anomalies);
    for (k, e) in direct::dirty_updates(&cx, &mut anomalies) {
        problems.push(Finding {
            rule: "phantom-element".into(),
            explanation: format!(
                "A read of key {} contains {}, which no transaction ever appended. A node that invents or corrupts list elements causes this; Elle cannot order such a list, so no verdict is possible.",
                atoms.show(k),
                atoms.show(e)
            ),
            ops: vec![],
            note: false,
        });
    }

    let index = deps::Index::build(&txns);
    let graph = deps::build(history, &txns, &orders, &index, models.order_edges());
    if graph.edge_count() == 0 {
        anomalies.add(Anomaly {
            kind: "empty-transaction-graph".into(),
            explanation: format!(
                "No dependency between any two transactions could be inferred ({} transactions, {} ok): no transaction read another's append, and no append could be ordered after a read. With nothing to order, nothing was checked, so the verdict is unknown.",
                txns.len(),
                txns.iter().filter(|t| t.ok()).count()
            ),
            ops: vec![],
            data: json!({}),
        });
    }

    let explainer = deps::Explainer {
        txns: &txns,
        atoms: &atoms,
        orders: &orders,
        index: &index,
    };
    let ops: Vec<_> = txns.iter().map(|t| t.op).collect();
    CycleCheck {
        history,
        ops: &ops,
        graph: &graph,
        explainer: &explainer,
        models: &models,
        policy: UnknownPolicy::Elle,
    }
    .finish(budget, anomalies, problems)
}

/// Invocations appending a value that another invocation already appended to the
/// same key (Elle requires unique appends).
fn duplicate_appends(history: &History, atoms: &mut Atoms) -> Vec<Finding> {
    let mut seen: HashMap<(Atom, Atom), usize> = HashMap::new();
    let mut out = Vec::new();
    for op in history
        .ops
        .iter()
        .filter(|o| o.f == "txn" && o.kind == OpType::Invoke)
    {
        let Ok(mops) = parse::parse_mops(&op.value, atoms) else {
            continue;
        };
        for m in mops {
            let parse::Mop::Append(k, v) = m else {
                continue;
            };
            if let Some(&first) = seen.get(&(k, v)) {
                out.push(Finding {
                    rule: "duplicate-appends".into(),
                    explanation: format!(
                        "Ops {first} and {} both append {} to key {}; the checker needs every appended value to be unique per key, so no verdict is possible.",
                        op.index,
                        atoms.show(v),
                        atoms.show(k)
                    ),
                    ops: vec![first, op.index],
                    note: false,
                });
            } else {
                seen.insert((k, v), op.index);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::cycles::testkit::{has, kinds, model_names, Hist};
    use crate::checker::Validity;

    fn run(h: &Hist, models: &[&str]) -> CheckResult {
        check(&h.h, &model_names(models))
    }

    #[test]
    fn a_serial_history_is_valid() {
        let mut h = Hist::new();
        h.txn(0, json!([["append", 1, 1], ["r", 2, null]]));
        h.txn(1, json!([["r", 1, [1]], ["append", 1, 2]]));
        h.txn(0, json!([["append", 2, 1], ["r", 1, [1, 2]]]));
        h.txn(1, json!([["r", 2, [1]], ["r", 1, [1, 2]]]));
        let r = run(&h, &["strict-serializable"]);
        assert_eq!(r.valid, Validity::Valid, "{:?}", r.findings);
        assert!(r.findings.is_empty());
    }

    #[test]
    fn g1a_aborted_read() {
        let mut h = Hist::new();
        h.op(
            0,
            "txn",
            json!([["append", 1, 1]]),
            OpType::Fail,
            json!([["append", 1, 1]]),
        );
        h.txn(1, json!([["r", 1, [1]]]));
        let r = run(&h, &["read-committed"]);
        assert!(has(&r, "G1a"), "{:?}", kinds(&r));
        assert_eq!(r.valid, Validity::Invalid);
        let mut h = Hist::new();
        h.op(
            0,
            "txn",
            json!([["append", 1, 1]]),
            OpType::Info,
            json!([["append", 1, 1]]),
        );
        h.txn(1, json!([["r", 1, [1]]]));
        assert!(!has(&run(&h, &["read-committed"]), "G1a"));
    }

    #[test]
    fn g1b_intermediate_read() {
        let mut h = Hist::new();
        h.txn(0, json!([["append", 1, 1], ["append", 1, 2]]));
        h.txn(1, json!([["r", 1, [1]]]));
        let r = run(&h, &["read-committed"]);
        assert!(has(&r, "G1b"), "{:?}", kinds(&r));
        assert_eq!(r.valid, Validity::Invalid);
        let mut h = Hist::new();
        h.txn(0, json!([["append", 1, 1], ["append", 1, 2]]));
        h.txn(1, json!([["r", 1, [1, 2]]]));
        assert_eq!(run(&h, &["read-committed"]).valid, Validity::Valid);
    }

    #[test]
    fn internal_and_future_read() {
        let mut h = Hist::new();
        h.txn(0, json!([["append", 1, 1]]));
        h.txn(1, json!([["append", 1, 2], ["r", 1, [1]]]));
        let r = run(&h, &["serializable"]);
        assert!(has(&r, "internal"), "{:?}", kinds(&r));
        assert_eq!(r.valid, Validity::Invalid);
        // Near miss: the read ends with the transaction's own append.
        let mut h = Hist::new();
        h.txn(0, json!([["append", 1, 1]]));
        h.txn(1, json!([["append", 1, 2], ["r", 1, [1, 2]]]));
        assert!(!has(&run(&h, &["serializable"]), "internal"));
        // Future read: the transaction sees what it appends later.
        let mut h = Hist::new();
        h.txn(0, json!([["r", 1, [1]], ["append", 1, 1]]));
        let r = run(&h, &["read-committed"]);
        assert!(has(&r, "future-read"), "{:?}", kinds(&r));
        assert_eq!(r.valid, Validity::Invalid);
    }

    #[test]
    fn duplicate_elements_and_incompatible_order() {
        let mut h = Hist::new();
        h.txn(0, json!([["append", 1, 1]]));
        h.txn(1, json!([["r", 1, [1, 1]]]));
        let r = run(&h, &["read-uncommitted"]);
        assert!(has(&r, "duplicate-elements"), "{:?}", kinds(&r));
        assert_eq!(r.valid, Validity::Invalid);
        let mut h = Hist::new();
        h.txn(0, json!([["append", 1, 1]]));
        h.txn(1, json!([["append", 1, 2]]));
        h.txn(2, json!([["r", 1, [1, 2]]]));
        h.txn(3, json!([["r", 1, [2, 1]]]));
        let r = run(&h, &["read-committed"]);
        assert!(has(&r, "incompatible-order"), "{:?}", kinds(&r));
        assert_eq!(r.valid, Validity::Invalid);
        // Near miss: a prefix is compatible.
        let mut h = Hist::new();
        h.txn(0, json!([["append", 1, 1]]));
        h.txn(2, json!([["r", 1, [1]]]));
        h.txn(1, json!([["append", 1, 2]]));
        h.txn(3, json!([["r", 1, [1, 2]]]));
        assert_eq!(run(&h, &["strict-serializable"]).valid, Validity::Valid);
    }

    #[test]
    fn dirty_update_after_a_failed_append() {
        let mut h = Hist::new();
        h.op(
            0,
            "txn",
            json!([["append", 1, 1]]),
            OpType::Fail,
            json!([["append", 1, 1]]),
        );
        h.txn(1, json!([["append", 1, 2]]));
        h.txn(2, json!([["r", 1, [1, 2]]]));
        let r = run(&h, &["read-committed"]);
        assert!(has(&r, "dirty-update"), "{:?}", kinds(&r));
        assert_eq!(r.valid, Validity::Invalid);
    }

    #[test]
    fn lost_update() {
        let mut h = Hist::new();
        h.txn(2, json!([["append", 1, 1]]));
        h.concurrent_txns(
            json!([["r", 1, [1]], ["append", 1, 2]]),
            json!([["r", 1, [1]], ["append", 1, 3]]),
        );
        h.txn(2, json!([["r", 1, [1, 2, 3]]]));
        let r = run(&h, &["repeatable-read"]);
        assert!(has(&r, "lost-update"), "{:?}", kinds(&r));
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(run(&h, &["read-committed"]).valid, Validity::Valid);
    }

    #[test]
    fn g1c_and_g0_cycles() {
        let mut h = Hist::new();
        h.concurrent_txns(
            json!([["append", 1, 1], ["r", 2, [1]]]),
            json!([["append", 2, 1], ["r", 1, [1]]]),
        );
        let r = run(&h, &["read-committed"]);
        assert!(has(&r, "G1c"), "{:?}", kinds(&r));
        assert_eq!(r.valid, Validity::Invalid);
        // G0: the two lists disagree on which transaction appended first.
        let mut h = Hist::new();
        h.concurrent_txns(
            json!([["append", 1, 1], ["append", 2, 2]]),
            json!([["append", 1, 2], ["append", 2, 1]]),
        );
        h.txn(2, json!([["r", 1, [1, 2]], ["r", 2, [1, 2]]]));
        let r = run(&h, &["read-uncommitted"]);
        assert!(has(&r, "G0"), "{:?}", kinds(&r));
        assert_eq!(r.valid, Validity::Invalid);
        // Near miss: both lists in the same transaction order.
        let mut h = Hist::new();
        h.concurrent_txns(
            json!([["append", 1, 1], ["append", 2, 1]]),
            json!([["append", 1, 2], ["append", 2, 2]]),
        );
        h.txn(2, json!([["r", 1, [1, 2]], ["r", 2, [1, 2]]]));
        assert_eq!(run(&h, &["strict-serializable"]).valid, Validity::Valid);
    }

    #[test]
    fn g_single_and_g2() {
        // Read skew: the reader sees key 2's append but not key 1's, both by one txn.
        let mut h = Hist::new();
        h.concurrent_txns(
            json!([["append", 1, 1], ["append", 2, 1]]),
            json!([["r", 1, null], ["r", 2, [1]]]),
        );
        let r = run(&h, &["snapshot-isolation"]);
        assert!(has(&r, "G-single-item"), "{:?}", kinds(&r));
        assert_eq!(r.valid, Validity::Invalid);
        // Write skew.
        let mut h = Hist::new();
        h.concurrent_txns(
            json!([["r", 1, null], ["r", 2, null], ["append", 1, 1]]),
            json!([["r", 1, null], ["r", 2, null], ["append", 2, 1]]),
        );
        h.txn(2, json!([["r", 1, [1]], ["r", 2, [1]]]));
        let r = run(&h, &["serializable"]);
        assert!(has(&r, "G2-item"), "{:?}", kinds(&r));
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(run(&h, &["snapshot-isolation"]).valid, Validity::Valid);
    }

    #[test]
    fn realtime_stale_read() {
        let mut h = Hist::new();
        h.txn(0, json!([["append", 1, 1]]));
        h.txn(1, json!([["r", 1, null]]));
        let r = run(&h, &["strict-serializable"]);
        assert!(has(&r, "G-single-item-realtime"), "{:?}", kinds(&r));
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(run(&h, &["serializable"]).valid, Validity::Valid);
    }

    #[test]
    fn empty_graph_phantoms_and_duplicate_appends_are_unknown() {
        let mut h = Hist::new();
        h.txn(0, json!([["r", 1, null]]));
        assert_eq!(run(&h, &["serializable"]).valid, Validity::Unknown);
        let mut h = Hist::new();
        h.txn(0, json!([["append", 1, 1]]));
        h.txn(1, json!([["r", 1, [1, 7]]]));
        let r = run(&h, &["serializable"]);
        assert_eq!(r.valid, Validity::Unknown);
        assert!(has(&r, "phantom-element"));
        let mut h = Hist::new();
        h.txn(0, json!([["append", 1, 1]]));
        h.txn(1, json!([["append", 1, 1]]));
        h.txn(1, json!([["r", 1, [1]]]));
        assert!(has(&run(&h, &["serializable"]), "duplicate-appends"));
    }
}
