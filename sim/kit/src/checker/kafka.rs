//! The kafka checker (spec §5.9): Jepsen's kafka analysis in assign-only,
//! non-transactional mode, as Maelstrom runs it.
//!
//! Per key, a log is rebuilt from acknowledged sends and from every poll; a message's
//! index is its rank among the known offsets (offsets may be sparse). Error types,
//! all of which invalidate:
//!
//! | type | condition |
//! |---|---|
//! | `inconsistent_offsets` | one offset seen with two different messages |
//! | `duplicate` | one message at two offsets |
//! | `lost_write` | an acknowledged message below the highest index any poll reached was never polled |
//! | `unseen` | an acknowledged message never appeared in any `ok` poll |
//! | `poll_skip` / `nonmonotonic_poll` | within one process, a poll starts more than one index after (or at or before) where its previous poll of the key ended |
//! | `int_poll_skip` / `int_nonmonotonic_poll` | the same between consecutive messages of one poll |
//! | `nonmonotonic_send` | within one process, a later send to a key got a lower or equal index |
//! | `G1a` | a polled message whose send failed |
//! | `G1c_realtime` | a polled message whose send was invoked after the poll completed (Elle's cycle check with wr and real-time edges) |
//! | `empty_transaction_graph` | no send or poll could be related to any other |
//!
//! Observed Maelstrom quirks kept: a duplicated message maps to its last position
//! (so `a, m, m, b` in one poll is a duplicate plus a skip plus a backward step),
//! process tracking survives assigns for keys that stay assigned, and a crash starts
//! a new process. A polled message that nobody sent makes the analysis impossible
//! (unknown), as Jepsen's checker throws there.

mod coverage;
mod errors;
mod log;
mod parse;
mod progress;

use std::collections::{BTreeMap, HashSet};

use serde_json::{json, Map, Value};

use crate::checker::cycles::txn::Atoms;
use crate::checker::{CheckResult, Finding, Validity};
use crate::history::{History, OpType};
use errors::{Cx, KErr};
use parse::Kind;

/// How many examples to keep per error type.
const MAX_EXAMPLES: usize = 8;

/// Checks a kafka history.
pub fn check(history: &History) -> CheckResult {
    let mut atoms = Atoms::default();
    let ops = parse::operations(history, &mut atoms);
    let ok_reads = log::ok_reads(&ops);
    let logs = log::build(&ops, &ok_reads);
    let cx = Cx::new(history, &ops, &atoms, &logs, &ok_reads);

    let mut errs: Vec<KErr> = Vec::new();
    errs.extend(coverage::inconsistent_offsets(&cx));
    errs.extend(coverage::duplicates(&cx));
    errs.extend(coverage::aborted_reads(&cx));
    errs.extend(coverage::future_reads(&cx));
    errs.extend(coverage::lost_writes(&cx));
    errs.extend(coverage::unseen(&cx));
    errs.extend(progress::poll_skips(&cx));
    errs.extend(progress::int_poll_skips(&cx));
    errs.extend(progress::nonmonotonic_sends(&cx));
    if let Some(e) = empty_graph(&cx) {
        errs.push(e);
    }
    let problems = phantoms(&cx);
    result(errs, problems, info_causes(history, &ops))
}

/// Polled messages that no operation ever sent.
fn phantoms(cx: &Cx) -> Vec<Finding> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, op) in cx.ops.iter().enumerate() {
        for (k, msgs) in &op.polls {
            for &(_, m) in msgs {
                if cx.writer_of.contains_key(&(*k, m)) || !seen.insert((*k, m)) {
                    continue;
                }
                out.push(Finding {
                    rule: "no_writer_of_value".into(),
                    explanation: format!(
                        "{} polled message {} of key {}, which no operation ever sent. The checker cannot place a message without a sender, so no verdict is possible (Maelstrom's checker throws here). A node that invents or corrupts messages causes this.",
                        cx.who(i),
                        cx.atoms.show(m),
                        cx.key(*k)
                    ),
                    ops: vec![cx.entry(i)],
                    note: false,
                });
            }
        }
    }
    out
}

/// `empty_transaction_graph` when no poll read a sent message and no send or poll
/// finished before another began.
fn empty_graph(cx: &Cx) -> Option<KErr> {
    let relevant = |o: &&parse::KOp| matches!(o.f, Kind::Send | Kind::Poll);
    let any_read = cx.ops.iter().filter(relevant).any(|o| {
        o.polls
            .iter()
            .any(|(k, ms)| ms.iter().any(|(_, m)| cx.writer_of.contains_key(&(*k, *m))))
    });
    let first_ok_done = cx
        .ops
        .iter()
        .filter(relevant)
        .filter(|o| o.kind == OpType::Ok)
        .filter_map(|o| o.completion)
        .min();
    let last_invoke = cx
        .ops
        .iter()
        .filter(relevant)
        .filter(|o| o.completion.is_some())
        .map(|o| o.invoke)
        .max();
    let ordered = matches!((first_ok_done, last_invoke), (Some(d), Some(i)) if d < i);
    (!any_read && !ordered).then(|| KErr {
        kind: "empty_transaction_graph",
        explanation: "No send or poll could be related to any other: no poll returned a sent message and no operation completed ok before another began. Maelstrom's kafka checker counts this as an error.".into(),
        ops: vec![],
        data: json!({}),
        severity: 0,
    })
}

/// Distinct errors of indeterminate sends and polls.
fn info_causes(history: &History, ops: &[parse::KOp]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for op in ops
        .iter()
        .filter(|o| o.kind == OpType::Info && matches!(o.f, Kind::Send | Kind::Poll))
    {
        let cause = op
            .completion
            .and_then(|c| history.ops[c].error.clone())
            .unwrap_or(Value::Null);
        if !out.contains(&cause) {
            out.push(cause);
        }
    }
    out
}

/// Groups errors by type into findings and details.
fn result(errs: Vec<KErr>, problems: Vec<Finding>, info_causes: Vec<Value>) -> CheckResult {
    let mut by_kind: BTreeMap<&'static str, Vec<KErr>> = BTreeMap::new();
    for e in errs {
        by_kind.entry(e.kind).or_default().push(e);
    }
    let mut details = Map::new();
    let mut findings = Vec::new();
    let types: Vec<&str> = by_kind.keys().copied().collect();
    for (kind, mut list) in by_kind {
        list.sort_by_key(|e| -e.severity);
        let count = list.len();
        list.truncate(MAX_EXAMPLES);
        let mut shown = Vec::new();
        for (i, e) in list.into_iter().enumerate() {
            let prefix = if count > 1 {
                format!("(example {} of {count}) ", i + 1)
            } else {
                String::new()
            };
            let mut obj = match e.data {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            obj.insert("explanation".into(), json!(e.explanation));
            shown.push(Value::Object(obj));
            findings.push(Finding {
                rule: kind.to_string(),
                explanation: format!("{prefix}{}", e.explanation),
                ops: e.ops,
                note: false,
            });
        }
        details.insert(kind.to_string(), json!({ "count": count, "errs": shown }));
    }
    let valid = if !problems.is_empty() {
        Validity::Unknown
    } else {
        Validity::from_bool(types.is_empty())
    };
    details.insert(
        "valid".into(),
        match valid {
            Validity::Valid => json!(true),
            Validity::Invalid => json!(false),
            Validity::Unknown => json!("unknown"),
        },
    );
    details.insert("error_types".into(), json!(types));
    details.insert("bad_error_types".into(), json!(types));
    details.insert("info_txn_causes".into(), json!(info_causes));
    details.insert(
        "problems".into(),
        json!(problems
            .iter()
            .map(|p| json!({"rule": p.rule, "explanation": p.explanation}))
            .collect::<Vec<_>>()),
    );
    findings.extend(problems);
    CheckResult {
        valid,
        details: Value::Object(details),
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::cycles::testkit::Hist;
    use serde_json::json;

    fn send(h: &mut Hist, p: u64, k: &str, m: i64, offset: i64) {
        h.op(
            p,
            "send",
            json!({"key": k, "msg": m}),
            OpType::Ok,
            json!({"key": k, "msg": m, "offset": offset}),
        );
    }

    fn poll(h: &mut Hist, p: u64, msgs: Value) {
        h.op(p, "poll", json!(null), OpType::Ok, json!({ "msgs": msgs }));
    }

    fn types(r: &CheckResult) -> Vec<String> {
        r.details["error_types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }

    fn only(r: &CheckResult, expected: &[&str]) {
        assert_eq!(types(r), expected, "{:#?}", r.findings);
        assert_eq!(r.valid, Validity::from_bool(expected.is_empty()));
    }

    /// Three messages on key "1" at sparse offsets, polled in order by process 1.
    fn base() -> Hist {
        let mut h = Hist::new();
        send(&mut h, 0, "1", 10, 0);
        send(&mut h, 0, "1", 11, 3);
        send(&mut h, 0, "1", 12, 6);
        h
    }

    #[test]
    fn a_clean_history_with_sparse_offsets_is_valid() {
        let mut h = base();
        poll(&mut h, 1, json!({"1": [[0, 10], [3, 11]]}));
        poll(&mut h, 1, json!({"1": [[6, 12]]}));
        only(&check(&h.h), &[]);
    }

    #[test]
    fn inconsistent_offsets() {
        let mut h = base();
        send(&mut h, 2, "1", 13, 3);
        poll(&mut h, 1, json!({"1": [[0, 10], [3, 11], [6, 12]]}));
        let r = check(&h.h);
        assert!(
            types(&r).contains(&"inconsistent_offsets".to_string()),
            "{:?}",
            types(&r)
        );
        assert_eq!(r.valid, Validity::Invalid);
    }

    #[test]
    fn duplicate_message_quirk_also_skips_and_steps_back() {
        let mut h = Hist::new();
        send(&mut h, 0, "1", 1, 0);
        send(&mut h, 0, "1", 2, 1);
        send(&mut h, 0, "1", 3, 3);
        poll(&mut h, 1, json!({"1": [[0, 1], [1, 2], [2, 2], [3, 3]]}));
        only(
            &check(&h.h),
            &["duplicate", "int_nonmonotonic_poll", "int_poll_skip"],
        );
    }

    #[test]
    fn lost_write_and_unseen() {
        let mut h = base();
        poll(&mut h, 1, json!({"1": [[0, 10]]}));
        poll(&mut h, 2, json!({"1": [[6, 12]]}));
        let r = check(&h.h);
        only(&r, &["lost_write", "unseen"]);
        let lost = r.findings.iter().find(|f| f.rule == "lost_write").unwrap();
        assert!(
            lost.explanation.contains("Message 11"),
            "{}",
            lost.explanation
        );
        // An acknowledged message never stored and never polled is unseen only.
        let mut h = base();
        poll(&mut h, 1, json!({"1": [[0, 10], [3, 11]]}));
        only(&check(&h.h), &["unseen"]);
    }

    #[test]
    fn poll_skip_and_what_resets_tracking() {
        let mut h = base();
        poll(&mut h, 1, json!({"1": [[0, 10]]}));
        poll(&mut h, 1, json!({"1": [[6, 12]]}));
        poll(&mut h, 2, json!({"1": [[3, 11]]}));
        let r = check(&h.h);
        only(&r, &["poll_skip"]);
        assert!(
            r.findings[0].explanation.contains("skipping 1 message"),
            "{}",
            r.findings[0].explanation
        );
        // Near miss: an assign that drops the key in between.
        let mut h = base();
        poll(&mut h, 1, json!({"1": [[0, 10]]}));
        h.op(1, "assign", json!(["2"]), OpType::Ok, json!(["2"]));
        poll(&mut h, 1, json!({"1": [[6, 12]]}));
        poll(&mut h, 2, json!({"1": [[3, 11]]}));
        only(&check(&h.h), &[]);
        // An assign that keeps the key keeps tracking.
        let mut h = base();
        poll(&mut h, 1, json!({"1": [[0, 10]]}));
        h.op(
            1,
            "assign",
            json!(["1", "2"]),
            OpType::Ok,
            json!(["1", "2"]),
        );
        poll(&mut h, 1, json!({"1": [[6, 12]]}));
        poll(&mut h, 2, json!({"1": [[3, 11]]}));
        only(&check(&h.h), &["poll_skip"]);
        // A crash starts a new process.
        let mut h = base();
        poll(&mut h, 1, json!({"1": [[0, 10]]}));
        h.op(1, "crash", json!(null), OpType::Info, json!(null));
        poll(&mut h, 5, json!({"1": [[6, 12]]}));
        poll(&mut h, 2, json!({"1": [[3, 11]]}));
        only(&check(&h.h), &[]);
    }

    #[test]
    fn nonmonotonic_poll() {
        let mut h = base();
        poll(&mut h, 1, json!({"1": [[0, 10], [3, 11]]}));
        poll(&mut h, 1, json!({"1": [[3, 11], [6, 12]]}));
        only(&check(&h.h), &["nonmonotonic_poll"]);
    }

    #[test]
    fn skips_and_backward_steps_inside_one_poll() {
        let mut h = base();
        poll(&mut h, 1, json!({"1": [[0, 10], [6, 12]]}));
        poll(&mut h, 2, json!({"1": [[3, 11]]}));
        only(&check(&h.h), &["int_poll_skip"]);
        let mut h = base();
        poll(&mut h, 1, json!({"1": [[3, 11], [0, 10], [6, 12]]}));
        // 11 -> 10 steps back; 10 -> 12 skips over 11.
        only(&check(&h.h), &["int_nonmonotonic_poll", "int_poll_skip"]);
    }

    #[test]
    fn nonmonotonic_send() {
        let mut h = Hist::new();
        send(&mut h, 0, "1", 10, 5);
        send(&mut h, 0, "1", 11, 3);
        poll(&mut h, 1, json!({"1": [[3, 11], [5, 10]]}));
        only(&check(&h.h), &["nonmonotonic_send"]);
        // Near miss: two different producers.
        let mut h = Hist::new();
        send(&mut h, 0, "1", 10, 5);
        send(&mut h, 2, "1", 11, 3);
        poll(&mut h, 1, json!({"1": [[3, 11], [5, 10]]}));
        only(&check(&h.h), &[]);
    }

    #[test]
    fn g1a_failed_send_polled() {
        let mut h = base();
        h.op(
            0,
            "send",
            json!({"key": "1", "msg": 13}),
            OpType::Fail,
            json!({"key": "1", "msg": 13}),
        );
        poll(
            &mut h,
            1,
            json!({"1": [[0, 10], [3, 11], [6, 12], [7, 13]]}),
        );
        only(&check(&h.h), &["G1a"]);
        // Near miss: an indeterminate send may be polled.
        let mut h = base();
        h.op(
            0,
            "send",
            json!({"key": "1", "msg": 13}),
            OpType::Info,
            json!({"key": "1", "msg": 13}),
        );
        poll(
            &mut h,
            1,
            json!({"1": [[0, 10], [3, 11], [6, 12], [7, 13]]}),
        );
        only(&check(&h.h), &[]);
    }

    #[test]
    fn a_poll_cannot_see_the_future() {
        let mut h = base();
        poll(
            &mut h,
            1,
            json!({"1": [[0, 10], [3, 11], [6, 12], [7, 13]]}),
        );
        send(&mut h, 0, "1", 13, 7);
        only(&check(&h.h), &["G1c_realtime"]);
    }

    #[test]
    fn phantom_messages_make_the_verdict_unknown() {
        let mut h = base();
        poll(
            &mut h,
            1,
            json!({"1": [[0, 10], [3, 11], [6, 12], [9, 99]]}),
        );
        let r = check(&h.h);
        assert_eq!(r.valid, Validity::Unknown);
        assert!(r.findings.iter().any(|f| f.rule == "no_writer_of_value"));
    }

    #[test]
    fn crashes_never_invalidate() {
        let mut h = base();
        h.op(0, "crash", json!(null), OpType::Info, json!(null));
        poll(&mut h, 1, json!({"1": [[0, 10], [3, 11], [6, 12]]}));
        only(&check(&h.h), &[]);
    }
}
