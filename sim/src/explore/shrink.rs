//! Shrinking a failing case: fewer faults, shorter ones, a shorter test, a slower rate,
//! fewer nodes, for as long as the same rule still breaks. Each step is kept only if the
//! smaller case still fails with the rule the original broke first; the passes repeat
//! until none makes progress or the run budget is spent.

use super::case::{Case, Verdict};
use crate::deterministic::host::HostNodes;
use crate::faults::{FaultKind, FaultPlan};
use std::time::Duration;

/// The shortest fault the shrinker makes.
const MIN_FAULT: Duration = Duration::from_millis(100);

/// A shrunk case and what it took.
pub struct Shrunk {
    /// The smallest failing case found.
    pub case: Case,
    /// Its verdict.
    pub verdict: Verdict,
    /// Runs spent.
    pub runs: usize,
}

struct Shrinker<'a> {
    nodes: &'a HostNodes,
    rule: String,
    runs: usize,
    budget: usize,
}

impl Shrinker<'_> {
    /// Runs `candidate`; its verdict if it still breaks the rule.
    fn still_fails(&mut self, candidate: &Case) -> Option<Verdict> {
        if self.runs >= self.budget {
            return None;
        }
        self.runs += 1;
        let v = candidate.run_with(self.nodes, false, false);
        v.rules.contains(&self.rule).then_some(v)
    }
}

/// Shrinks `case`, which failed with `verdict`, spending at most `budget` runs.
pub fn shrink(case: &Case, verdict: &Verdict, nodes: &HostNodes, budget: usize) -> Shrunk {
    let Some(rule) = verdict.primary_rule().map(str::to_string) else {
        return Shrunk {
            case: case.clone(),
            verdict: verdict.clone(),
            runs: 0,
        };
    };
    let mut s = Shrinker {
        nodes,
        rule,
        runs: 0,
        budget,
    };
    let mut best = (case.clone(), verdict.clone());
    loop {
        let before = size(&best.0);
        drop_faults(&mut s, &mut best);
        shorten_faults(&mut s, &mut best);
        shorten_test(&mut s, &mut best);
        fewer_nodes(&mut s, &mut best);
        if size(&best.0) >= before || s.runs >= s.budget {
            break;
        }
    }
    Shrunk {
        case: best.0,
        verdict: best.1,
        runs: s.runs,
    }
}

/// A measure that every kept step lowers.
fn size(c: &Case) -> (usize, u128, u64, u64, usize) {
    let fault_time: u128 = c
        .faults
        .iter()
        .map(|f| {
            let end = f.end.unwrap_or(Duration::from_secs(c.args.time_limit));
            end.saturating_sub(f.start).as_millis()
        })
        .sum();
    (
        c.faults.len(),
        fault_time,
        c.args.time_limit,
        c.args.rate as u64,
        c.args.node_count.unwrap_or(5),
    )
}

fn try_keep(s: &mut Shrinker, best: &mut (Case, Verdict), candidate: Case) -> bool {
    match s.still_fails(&candidate) {
        Some(v) => {
            *best = (candidate, v);
            true
        }
        None => false,
    }
}

fn drop_faults(s: &mut Shrinker, best: &mut (Case, Verdict)) {
    let mut i = best.0.faults.len();
    while i > 0 {
        i -= 1;
        let mut c = best.0.clone();
        c.faults.remove(i);
        try_keep(s, best, c);
    }
}

fn shorten_faults(s: &mut Shrinker, best: &mut (Case, Verdict)) {
    for i in 0..best.0.faults.len() {
        loop {
            let limit = Duration::from_secs(best.0.args.time_limit);
            let Some(f) = best.0.faults.get(i) else {
                break;
            };
            let end = f.end.unwrap_or(limit.max(f.start));
            let length = end.saturating_sub(f.start);
            if length <= MIN_FAULT {
                break;
            }
            let mut c = best.0.clone();
            c.faults[i].end = Some(f.start + (length / 2).max(MIN_FAULT));
            if !try_keep(s, best, c) {
                break;
            }
        }
    }
}

fn shorten_test(s: &mut Shrinker, best: &mut (Case, Verdict)) {
    while best.0.args.time_limit > 1 {
        let mut c = best.0.clone();
        c.args.time_limit = (c.args.time_limit / 2).max(1);
        let limit = Duration::from_secs(c.args.time_limit);
        c.faults.retain(|f| f.start < limit);
        if !try_keep(s, best, c) {
            break;
        }
    }
    while best.0.args.rate > 1.0 {
        let mut c = best.0.clone();
        c.args.rate = (c.args.rate / 2.0).floor().max(1.0);
        if !try_keep(s, best, c) {
            break;
        }
    }
}

fn fewer_nodes(s: &mut Shrinker, best: &mut (Case, Verdict)) {
    loop {
        let n = best.0.node_ids().len();
        if n <= 1 {
            return;
        }
        let mut c = best.0.clone();
        c.args.node_count = Some(n - 1);
        let keep: Vec<String> = c.node_ids();
        c.faults = without_nodes(&c.faults, &keep);
        if !try_keep(s, best, c) {
            return;
        }
    }
}

/// The faults restricted to the nodes in `keep` (a fault left without effect is dropped).
fn without_nodes(faults: &FaultPlan, keep: &[String]) -> FaultPlan {
    let kept = |n: &String| keep.contains(n);
    faults
        .iter()
        .filter_map(|f| {
            let mut f = f.clone();
            match &mut f.kind {
                FaultKind::Partition { grudge, .. } => {
                    grudge.retain(|r, _| kept(r));
                    for sources in grudge.values_mut() {
                        sources.retain(kept);
                    }
                    grudge.retain(|_, s| !s.is_empty());
                    (!grudge.is_empty()).then_some(f)
                }
                FaultKind::Pause { node } | FaultKind::Duplicate { node } => {
                    kept(node).then_some(f)
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::Fault;

    #[test]
    fn removing_nodes_trims_grudges_and_drops_faults_on_them() {
        let faults = vec![
            Fault {
                start: Duration::ZERO,
                end: None,
                kind: FaultKind::Partition {
                    shape: "one".into(),
                    grudge: [
                        ("n0".to_string(), ["n2".to_string()].into()),
                        (
                            "n2".to_string(),
                            ["n0".to_string(), "n1".to_string()].into(),
                        ),
                        ("n1".to_string(), ["n2".to_string()].into()),
                    ]
                    .into(),
                },
            },
            Fault {
                start: Duration::ZERO,
                end: None,
                kind: FaultKind::Pause { node: "n2".into() },
            },
        ];
        let kept = without_nodes(&faults, &["n0".to_string(), "n1".to_string()]);
        assert!(kept.is_empty(), "n2 was the only one cut off: {kept:?}");
        let kept = without_nodes(
            &faults,
            &["n0".to_string(), "n1".to_string(), "n2".to_string()],
        );
        assert_eq!(kept.len(), 2);
    }
}
