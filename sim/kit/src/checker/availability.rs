//! Maelstrom's availability checker (`--availability`): the fraction of client operations
//! that completed `ok`, against a required minimum.

use super::stats::kind_name;
use super::{CheckResult, Finding, Validity};
use crate::history::{History, OpType};
use serde_json::json;

/// What `--availability` demands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Availability {
    /// Every operation must succeed (`total`).
    Total,
    /// At least this fraction of operations must succeed (a number in [0, 1]).
    AtLeast(f64),
}

/// Parses the `--availability` argument: `total` or a number between 0 and 1.
pub fn parse(s: &str) -> Result<Availability, String> {
    let s = s.trim();
    if s == "total" {
        return Ok(Availability::Total);
    }
    match s.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(Availability::AtLeast(x)),
        _ => Err(format!(
            "--availability must be either 'total' or a number between 0 and 1, not {s:?}"
        )),
    }
}

/// How many failed operations a finding quotes.
const EXAMPLES: usize = 5;

/// Computes `ok_fraction` = ok completions ÷ invocations (1 when nothing was invoked) and
/// compares it with `required`; `None` is always valid.
///
/// Like Maelstrom, the verdict uses the fraction rounded to single precision (Clojure's
/// `float`); `details.ok_fraction` reports the exact ratio.
pub fn check(history: &History, required: Option<Availability>) -> CheckResult {
    let invokes = history.invoke_count();
    let oks = history.ops.iter().filter(|o| o.kind == OpType::Ok).count();
    let fraction = if invokes == 0 {
        1.0
    } else {
        oks as f64 / invokes as f64
    };
    let as_maelstrom = f64::from(fraction as f32);
    let ok = match required {
        None => true,
        Some(Availability::Total) => as_maelstrom == 1.0,
        Some(Availability::AtLeast(min)) => min <= as_maelstrom,
    };
    let mut findings = Vec::new();
    if !ok {
        findings.push(shortfall(history, required, oks, invokes, fraction));
    }
    CheckResult {
        valid: Validity::from_bool(ok),
        details: json!({
            "ok_fraction": fraction,
            "ok_count": oks,
            "invoke_count": invokes,
        }),
        findings,
    }
}

fn shortfall(
    history: &History,
    required: Option<Availability>,
    oks: usize,
    invokes: usize,
    fraction: f64,
) -> Finding {
    let wanted = match required {
        Some(Availability::AtLeast(min)) => format!("at least {min}"),
        _ => "every operation (total)".to_string(),
    };
    let bad: Vec<usize> = history
        .ops
        .iter()
        .filter(|o| matches!(o.kind, OpType::Fail | OpType::Info))
        .map(|o| o.index)
        .collect();
    let examples: Vec<String> = bad
        .iter()
        .take(EXAMPLES)
        .map(|&i| {
            let op = &history.ops[i];
            let error = op.error.as_ref().map(|e| e.to_string()).unwrap_or_default();
            format!(
                "{} {} {} {}",
                op.f,
                op.describe(),
                kind_name(op.kind),
                error
            )
            .trim_end()
            .to_string()
        })
        .collect();
    let unfinished = invokes.saturating_sub(oks + bad.len());
    let mut explanation = format!(
        "Only {oks} of {invokes} operations succeeded (ok fraction {fraction:.6}); \
         --availability requires {wanted}. {} failed or were indeterminate",
        bad.len()
    );
    if unfinished > 0 {
        explanation.push_str(&format!(" and {unfinished} never completed"));
    }
    explanation.push('.');
    if !examples.is_empty() {
        explanation.push_str(" First: ");
        explanation.push_str(&examples.join("; "));
        explanation.push('.');
    }
    Finding {
        rule: "availability".into(),
        explanation,
        ops: bad.into_iter().take(EXAMPLES).collect(),
        note: false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::stats::tests::{history, op};
    use super::*;
    use serde_json::Value;

    fn ops(oks: usize, infos: usize) -> History {
        let mut v = Vec::new();
        for i in 0..oks + infos {
            let p = i as u64;
            v.push(op(p, OpType::Invoke, "generate", Value::Null));
            let kind = if i < oks { OpType::Ok } else { OpType::Info };
            let mut done = op(p, kind, "generate", json!(i));
            if kind == OpType::Info {
                done.error = Some(json!(["net-timeout"]));
            }
            v.push(done);
        }
        history(v)
    }

    #[test]
    fn parses_total_and_fractions() {
        assert_eq!(parse("total"), Ok(Availability::Total));
        assert_eq!(parse("0.99"), Ok(Availability::AtLeast(0.99)));
        assert_eq!(parse("1"), Ok(Availability::AtLeast(1.0)));
        assert_eq!(parse("0"), Ok(Availability::AtLeast(0.0)));
        assert!(parse("1.5").is_err());
        assert!(parse("-0.1").is_err());
        assert!(parse("NaN").is_err());
        assert!(parse("most").is_err());
    }

    #[test]
    fn none_is_always_valid_but_reports_the_fraction() {
        let r = check(&ops(1, 3), None);
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["ok_fraction"], json!(0.25));
    }

    #[test]
    fn total_requires_every_operation_to_succeed() {
        assert_eq!(
            check(&ops(5, 0), Some(Availability::Total)).valid,
            Validity::Valid
        );
        let r = check(&ops(9, 1), Some(Availability::Total));
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.findings.len(), 1);
        assert!(r.findings[0].explanation.contains("9 of 10"));
        assert!(r.findings[0].explanation.contains("net-timeout"));
        assert_eq!(r.findings[0].ops, vec![19]);
    }

    #[test]
    fn an_unfinished_invocation_counts_against_availability() {
        let mut h = ops(3, 0);
        h.push(op(9, OpType::Invoke, "generate", Value::Null));
        let r = check(&h, Some(Availability::Total));
        assert_eq!(r.valid, Validity::Invalid);
        assert!(r.findings[0].explanation.contains("1 never completed"));
    }

    #[test]
    fn a_threshold_is_a_lower_bound() {
        assert_eq!(
            check(&ops(3, 1), Some(Availability::AtLeast(0.75))).valid,
            Validity::Valid
        );
        assert_eq!(
            check(&ops(3, 1), Some(Availability::AtLeast(0.76))).valid,
            Validity::Invalid
        );
    }

    #[test]
    fn an_empty_history_is_fully_available() {
        let r = check(&History::default(), Some(Availability::Total));
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.details["ok_fraction"], json!(1.0));
    }
}
