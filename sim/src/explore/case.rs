//! One explicit test case of the explorer: the bench's flags, the host config's text, the
//! seed and the fault windows. A case is plain data: it runs the same way every time on
//! the deterministic driver, it can be shrunk field by field, and a replay file is one
//! case plus what it is expected to break.

use crate::cli::TestArgs;
use crate::deterministic::host::{HostConfig, HostNodes};
use crate::deterministic::{self, store, DetRun, DetSetup};
use crate::faults::FaultPlan;
use crate::plan::TestPlan;
use crate::workload::{lookup, Workload};
use glomers_simkit::checker::Finding;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// A replayable test case.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Case {
    /// The bench's flags (the seed among them; `--nemesis` is unused: the faults are
    /// explicit).
    pub args: TestArgs,
    /// The host config the nodes are built from.
    pub config: HostConfig,
    /// The faults.
    pub faults: FaultPlan,
}

/// What a case did.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The bench's exit code: 0 valid, 1 invalid, 2 unknown, 255 a crash (or a case that
    /// cannot run).
    pub exit_code: i32,
    /// Every broken rule, as `checker:rule` (`crash` for a crash).
    pub rules: BTreeSet<String>,
    /// The broken rules' explanations, in the checkers' order.
    pub findings: Vec<String>,
    /// Servers msgs/op.
    pub msgs_per_op: Option<f64>,
    /// Operations invoked.
    pub ops: usize,
    /// Virtual seconds the run covered.
    pub virtual_seconds: f64,
    /// The store directory, when it was written.
    pub dir: Option<PathBuf>,
}

/// A case's verdict together with what its run produced.
pub struct TracedRun {
    /// The verdict, as [`Case::run_with`] gives it.
    pub verdict: Verdict,
    /// The run (history, network journal, nemesis operations, times); `None` when the
    /// case could not start (bad flags).
    pub run: Option<DetRun>,
    /// `results.json` as the bench writes it; `None` for a crash.
    pub results: Option<serde_json::Value>,
}

impl Verdict {
    /// True unless the run was valid.
    pub fn failed(&self) -> bool {
        self.exit_code != 0
    }

    /// The rule the explorer shrinks for: the first broken one.
    pub fn primary_rule(&self) -> Option<&str> {
        self.rules.iter().next().map(String::as_str)
    }

    /// A short word for tables: valid, INVALID, unknown or CRASH.
    pub fn word(&self) -> &'static str {
        match self.exit_code {
            0 => "valid",
            1 => "INVALID",
            2 => "unknown",
            _ => "CRASH",
        }
    }

    fn cannot_run(why: String) -> Verdict {
        Verdict {
            exit_code: 255,
            rules: BTreeSet::from(["crash".to_string()]),
            findings: vec![why],
            msgs_per_op: None,
            ops: 0,
            virtual_seconds: 0.0,
            dir: None,
        }
    }
}

fn broken(
    checker: &str,
    findings: &[Finding],
    rules: &mut BTreeSet<String>,
    out: &mut Vec<String>,
) {
    for f in findings.iter().filter(|f| !f.note) {
        rules.insert(format!("{checker}:{}", f.rule));
        out.push(format!("{checker}: [{}] {}", f.rule, f.explanation));
    }
}

impl Case {
    /// The workload and the plan of this case.
    pub fn plan(&self) -> Result<(Box<dyn Workload>, TestPlan), String> {
        let workload = lookup(&self.args.workload).map_err(|e| e.to_string())?;
        let mut args = self.args.clone();
        args.deterministic = true;
        args.nemesis = None;
        let plan = TestPlan::from_args(&args).map_err(|e| e.to_string())?;
        workload.validate(&plan)?;
        Ok((workload, plan))
    }

    /// Runs the case with nodes from `nodes` (built from [`Case::config`]); writes the
    /// store (and its report) if `write`.
    pub fn run_with(&self, nodes: &HostNodes, write: bool, report: bool) -> Verdict {
        self.execute(nodes, write, report).verdict
    }

    /// Runs the case with nodes from `nodes` and keeps everything the run produced
    /// (nothing is written), for tests that assert more than the verdict.
    pub fn run_traced(&self, nodes: &HostNodes) -> TracedRun {
        self.execute(nodes, false, false)
    }

    fn execute(&self, nodes: &HostNodes, write: bool, report: bool) -> TracedRun {
        let (workload, plan) = match self.plan() {
            Ok(p) => p,
            Err(e) => {
                return TracedRun {
                    verdict: Verdict::cannot_run(e),
                    run: None,
                    results: None,
                }
            }
        };
        let run = deterministic::run(DetSetup {
            plan: &plan,
            workload: workload.as_ref(),
            faults: self.faults.clone(),
            nodes,
        });
        let ops = run.history.invoke_count();
        let virtual_seconds = run.virtual_time.as_secs_f64();
        let dir = write
            .then(|| store::write_store(&plan, workload.as_ref(), &run, report).dir)
            .flatten();
        let Some(a) = store::analyse(&plan, workload.as_ref(), &run) else {
            let why = run
                .crash
                .as_ref()
                .map_or_else(|| "crash".to_string(), |c| c.message.clone());
            let mut verdict = Verdict::cannot_run(why);
            verdict.dir = dir;
            return TracedRun {
                verdict,
                run: Some(run),
                results: None,
            };
        };
        let mut rules = BTreeSet::new();
        let mut findings = Vec::new();
        broken("workload", &a.workload.findings, &mut rules, &mut findings);
        broken("stats", &a.stats.findings, &mut rules, &mut findings);
        broken(
            "availability",
            &a.availability.findings,
            &mut rules,
            &mut findings,
        );
        if a.exit_code != 0 && rules.is_empty() {
            rules.insert("unknown".into());
        }
        let verdict = Verdict {
            exit_code: a.exit_code,
            rules,
            findings,
            msgs_per_op: a.json["net"]["servers"]["msgs_per_op"].as_f64(),
            ops,
            virtual_seconds,
            dir,
        };
        TracedRun {
            verdict,
            run: Some(run),
            results: Some(a.json),
        }
    }

    /// Runs the case, building its nodes first.
    pub fn run(&self, write: bool, report: bool) -> Verdict {
        match HostNodes::new(&self.config) {
            Ok(nodes) => self.run_with(&nodes, write, report),
            Err(e) => Verdict::cannot_run(format!("cannot load the node config: {e}")),
        }
    }

    /// The node ids of this case.
    pub fn node_ids(&self) -> Vec<String> {
        self.plan().map(|(_, p)| p.nodes).unwrap_or_default()
    }
}
