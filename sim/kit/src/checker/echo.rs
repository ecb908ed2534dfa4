//! The echo workload's checker: every `ok` reply must carry back exactly the value sent.
//!
//! As observed on real Maelstrom, only a wrong echo in an `ok` completion invalidates the
//! run. Timeouts, error replies and malformed replies are listed as notes.

use super::stats::kind_name;
use super::{CheckResult, Finding, Validity};
use crate::history::{History, OpType};
use serde_json::json;

/// How many operations get a finding of their own before the rest are summarised.
const MAX_LISTED: usize = 10;

/// Checks an echo history (`f = "echo"`, invoke value the string sent, ok value the string
/// echoed). `details.errors` lists every wrong echo as `{invoke, completion, expected,
/// received}`.
pub fn check(history: &History) -> CheckResult {
    let mut errors = Vec::new();
    let mut findings = Vec::new();
    let mut not_ok = Vec::new();
    let mut unfinished = Vec::new();
    for pair in history.pairs() {
        let invoke = &history.ops[pair.invoke];
        let Some(done) = pair.completion.map(|i| &history.ops[i]) else {
            unfinished.push(pair.invoke);
            continue;
        };
        if done.kind != OpType::Ok {
            not_ok.push(done.index);
            continue;
        }
        if done.value == invoke.value {
            continue;
        }
        errors.push(json!({
            "invoke": invoke.index,
            "completion": done.index,
            "expected": invoke.value,
            "received": done.value,
        }));
        if errors.len() <= MAX_LISTED {
            findings.push(Finding {
                rule: "wrong-echo".into(),
                explanation: format!(
                    "{} sent {} but the ok reply {} echoed {}: an echo reply must return \
                     exactly the value it was sent.",
                    invoke.describe(),
                    invoke.value,
                    done.describe(),
                    done.value
                ),
                ops: vec![invoke.index, done.index],
                note: false,
            });
        }
    }
    if errors.len() > MAX_LISTED {
        findings.push(Finding {
            rule: "wrong-echo".into(),
            explanation: format!(
                "{} more wrong echoes (see details.errors).",
                errors.len() - MAX_LISTED
            ),
            ops: Vec::new(),
            note: false,
        });
    }
    findings.extend(not_ok_notes(history, &not_ok));
    if !unfinished.is_empty() {
        findings.push(Finding {
            rule: "unfinished".into(),
            explanation: format!(
                "{} echo operations never completed; this does not invalidate the run.",
                unfinished.len()
            ),
            ops: unfinished.iter().copied().take(MAX_LISTED).collect(),
            note: true,
        });
    }
    CheckResult {
        valid: Validity::from_bool(errors.is_empty()),
        details: json!({
            "errors": errors,
            "not_ok_count": not_ok.len(),
        }),
        findings,
    }
}

/// Notes for completions that were not ok (they do not change the verdict).
fn not_ok_notes(history: &History, not_ok: &[usize]) -> Vec<Finding> {
    let mut notes: Vec<Finding> = not_ok
        .iter()
        .take(MAX_LISTED)
        .map(|&i| {
            let op = &history.ops[i];
            let error = op
                .error
                .as_ref()
                .map(|e| format!(" with {e}"))
                .unwrap_or_default();
            Finding {
                rule: "not-ok".into(),
                explanation: format!(
                    "{} ended {}{error}; Maelstrom lists this as an exception but the run \
                     stays valid.",
                    op.describe(),
                    kind_name(op.kind)
                ),
                ops: vec![i],
                note: true,
            }
        })
        .collect();
    if not_ok.len() > MAX_LISTED {
        notes.push(Finding {
            rule: "not-ok".into(),
            explanation: format!(
                "{} more echo operations did not complete ok.",
                not_ok.len() - MAX_LISTED
            ),
            ops: Vec::new(),
            note: true,
        });
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::super::stats::tests::{history, op};
    use super::*;
    use serde_json::Value;

    fn echo(process: u64, sent: &str, end: OpType, received: Value) -> Vec<crate::history::Op> {
        vec![
            op(process, OpType::Invoke, "echo", json!(sent)),
            op(process, end, "echo", received),
        ]
    }

    #[test]
    fn matching_echoes_are_valid() {
        let mut ops = echo(0, "Please echo 1", OpType::Ok, json!("Please echo 1"));
        ops.extend(echo(1, "Please echo 2", OpType::Ok, json!("Please echo 2")));
        let r = check(&history(ops));
        assert_eq!(r.valid, Validity::Valid);
        assert!(r.findings.is_empty());
        assert_eq!(r.details["errors"], json!([]));
    }

    #[test]
    fn a_wrong_echo_is_invalid() {
        let mut ops = echo(0, "Please echo 1", OpType::Ok, json!("Please echo 1"));
        ops.extend(echo(1, "Please echo 2", OpType::Ok, json!("Please echo 3")));
        let r = check(&history(ops));
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(
            r.details["errors"],
            json!([{"invoke": 2, "completion": 3, "expected": "Please echo 2", "received": "Please echo 3"}])
        );
        assert_eq!(r.findings.len(), 1);
        assert_eq!(r.findings[0].rule, "wrong-echo");
        assert!(r.findings[0].explanation.contains("\"Please echo 3\""));
        assert_eq!(r.findings[0].ops, vec![2, 3]);
    }

    #[test]
    fn a_missing_echo_in_an_ok_reply_is_invalid() {
        let r = check(&history(echo(0, "Please echo 5", OpType::Ok, Value::Null)));
        assert_eq!(r.valid, Validity::Invalid);
    }

    #[test]
    fn timeouts_errors_and_unfinished_ops_are_only_notes() {
        let mut ops = echo(0, "Please echo 1", OpType::Info, json!("Please echo 1"));
        ops[1].error = Some(json!(["net-timeout"]));
        ops.extend(echo(
            1,
            "Please echo 2",
            OpType::Fail,
            json!("Please echo 2"),
        ));
        ops.extend(echo(2, "Please echo 3", OpType::Ok, json!("Please echo 3")));
        ops.push(op(3, OpType::Invoke, "echo", json!("Please echo 4")));
        let r = check(&history(ops));
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["not_ok_count"], json!(2));
        assert_eq!(r.findings.len(), 3);
        assert!(r.findings.iter().all(|f| f.note));
        assert!(r.findings[0].explanation.contains("net-timeout"));
        assert_eq!(r.findings[2].rule, "unfinished");
    }
}
