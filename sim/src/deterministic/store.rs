//! A deterministic run's verdict and files: the same checkers, `results.json`,
//! `history.jsonl`, `messages.jsonl` and `nemesis.jsonl` as the real-time bench, in the
//! same store layout, so every report and tool works on both.

use super::DetRun;
use crate::net::journal::write_event;
use crate::plan::TestPlan;
use crate::results::{self, Analysis};
use crate::runner::RunOutcome;
use crate::workload::Workload;
use serde_json::json;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Runs the checkers on a finished run (`None` for a crashed one).
pub fn analyse(plan: &TestPlan, workload: &dyn Workload, run: &DetRun) -> Option<Analysis> {
    if run.crash.is_some() {
        return None;
    }
    let mut a = results::analyse(
        plan,
        workload,
        &run.history,
        &run.stats,
        &run.exceptions,
        &run.node_faults,
        &run.nemesis,
    );
    a.json["test"]["driver"] = json!("deterministic");
    a.json["test"]["virtual_seconds"] = json!(run.virtual_time.as_secs_f64());
    Some(a)
}

/// Writes `messages.jsonl` (the journal) into `dir`.
pub fn write_journal(dir: &Path, run: &DetRun) -> std::io::Result<()> {
    let file = std::fs::File::create(dir.join("messages.jsonl"))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    for e in &run.journal {
        write_event(&mut out, e)?;
    }
    out.flush()
}

/// Writes the run into a new directory of the plan's store with its `report.html` (and
/// refreshes the store's `index.html`) and, if `report`, prints the bench's report. The
/// exit code is the bench's: 0 valid, 1 invalid, 2 unknown, 255 a crash.
pub fn write_store(
    plan: &TestPlan,
    workload: &dyn Workload,
    run: &DetRun,
    report: bool,
) -> RunOutcome {
    let outcome = write_files(plan, workload, run, report);
    if let Some(dir) = &outcome.dir {
        match crate::report_html::publish(dir, &plan.store) {
            Ok(path) if report => println!("Report: {}", path.display()),
            Ok(_) => {}
            Err(e) => eprintln!("glomers-sim: could not write report.html: {e}"),
        }
    }
    outcome
}

fn write_files(plan: &TestPlan, workload: &dyn Workload, run: &DetRun, report: bool) -> RunOutcome {
    let dir = match results::make_run_dir(&plan.store, workload.name()) {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("glomers-sim: cannot create the results directory: {e}");
            None
        }
    };
    if let Some(d) = &dir {
        // The same layout as the bench; nodes in-process log to stderr, if at all.
        let _ = std::fs::create_dir_all(d.join("node-logs"));
        let files = write_journal(d, run)
            .and_then(|()| results::write_run_files(d, &run.history, &run.nemesis));
        if let Err(e) = files {
            eprintln!("glomers-sim: could not write every result file: {e}");
        }
    }
    let Some(analysis) = analyse(plan, workload, run) else {
        let crash = run
            .crash
            .clone()
            .unwrap_or_else(|| results::Crash::bench("internal: no analysis".into()));
        if let Some(d) = &dir {
            if let Err(e) = results::write_crash(d, &crash) {
                eprintln!("glomers-sim: could not write crash.json: {e}");
            }
            let _ = results::link_latest(d, &plan.store);
        }
        if report {
            crate::report::print_crash(dir.as_deref(), &crash);
        }
        return RunOutcome {
            exit_code: 255,
            dir,
            results: None,
            crash: Some(crash),
        };
    };
    if let Some(d) = &dir {
        if let Err(e) = results::write_results(d, &plan.store, &analysis.json) {
            eprintln!("glomers-sim: could not write results.json: {e}");
        }
        if report {
            crate::report::print(plan, d, &run.history, &analysis);
        }
    }
    RunOutcome {
        exit_code: analysis.exit_code,
        dir,
        results: Some(analysis.json),
        crash: None,
    }
}

/// Runs `plan` on the deterministic driver with the host's handler families linked into
/// this binary (the config comes from the plan's node arguments, as `glomers-host` reads
/// them), writes the store like the bench and returns the bench's outcome.
pub fn run_in_process(plan: &TestPlan, workload: &dyn Workload, report: bool) -> RunOutcome {
    glomers_handlers::link();
    let nodes = match super::host::HostNodes::from_args(&plan.bin_args, glomers_handlers::PRESETS) {
        Ok(n) => n,
        Err(e) => {
            let crash = results::Crash::setup(format!("cannot load the node config: {e}"));
            if report {
                crate::report::print_crash(None, &crash);
            }
            return RunOutcome {
                exit_code: 255,
                dir: None,
                results: None,
                crash: Some(crash),
            };
        }
    };
    let nodes = if plan.log_stderr {
        nodes.logging("info")
    } else {
        nodes
    };
    let run = super::run(super::DetSetup {
        plan,
        workload,
        faults: crate::runner::plan_faults(plan),
        nodes: &nodes,
    });
    write_store(plan, workload, &run, report)
}
