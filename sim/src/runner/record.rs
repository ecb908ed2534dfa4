//! After the nodes are gone: the result files, the checkers, `results.json` and the
//! report on stdout (files and checkers in parallel: the cores are free).

use super::timing::Timing;
use super::{crashed, RunOptions, RunOutcome};
use crate::net::{NetStats, Shared};
use crate::plan::TestPlan;
use crate::recorder::Recorder;
use crate::results::{self, Crash};
use crate::workload::Workload;
use serde_json::{json, Map, Value};
use std::path::PathBuf;

/// A finished run, its nodes killed and its network stopped.
pub(super) struct Finished<'a> {
    /// The test plan.
    pub plan: &'a TestPlan,
    pub workload: &'a dyn Workload,
    pub dir: PathBuf,
    /// How the run itself ended.
    pub outcome: Result<(), Box<Crash>>,
    pub stats: NetStats,
    /// Whether the journal reached the disk.
    pub journal_ok: std::io::Result<()>,
    pub node_memory: Map<String, Value>,
    pub shared: &'a Shared,
    pub recorder: &'a Recorder,
    pub timing: Timing,
    pub opts: RunOptions,
}

/// Writes the files, runs the checkers, writes results.json (or crash.json) and prints
/// the report.
pub(super) fn record(f: Finished) -> RunOutcome {
    let Finished {
        plan,
        workload,
        dir,
        outcome,
        stats,
        journal_ok,
        node_memory,
        shared,
        recorder,
        mut timing,
        opts,
    } = f;
    let faults = shared.faults();
    let fault_counts = shared.fault_counts();
    let history = recorder.take_history();
    let nemesis_events = recorder.nemesis_events();
    // Files and checkers in parallel: the nodes are gone, the cores are free.
    let (files, analysis) = std::thread::scope(|s| {
        let writer = s.spawn(|| results::write_run_files(&dir, &history, &nemesis_events));
        let analysis = outcome.is_ok().then(|| {
            results::analyse(
                plan,
                workload,
                &history,
                &stats,
                &recorder.exceptions(),
                &faults,
                &nemesis_events,
            )
        });
        let files = writer
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("history writer panicked")));
        (files, analysis)
    });
    if let Err(e) = journal_ok.and(files) {
        eprintln!("glomers-sim: could not write every result file: {e}");
    }
    timing.mark("files+checkers");
    let (Ok(()), Some(analysis)) = (&outcome, analysis) else {
        let crash = match outcome {
            Err(mut crash) => {
                crash.faults = faults;
                crash.fault_counts = fault_counts;
                *crash
            }
            Ok(()) => Crash::bench("internal: no analysis".into()),
        };
        timing.print();
        let _ = results::link_latest(&dir, &plan.store);
        return crashed(Some(dir), crash, opts);
    };
    let mut analysis = analysis;
    analysis.json["node_memory"] = Value::Object(node_memory);
    analysis.json["node_fault_counts"] = json!(fault_counts);
    analysis.fault_counts = fault_counts;
    if let Err(e) = results::write_results(&dir, &plan.store, &analysis.json) {
        eprintln!("glomers-sim: could not write results.json: {e}");
    }
    if opts.report {
        crate::report::print(plan, &dir, &history, &analysis);
    }
    timing.mark("report");
    timing.print();
    RunOutcome {
        exit_code: analysis.exit_code,
        dir: Some(dir),
        results: Some(analysis.json),
        crash: None,
    }
}
