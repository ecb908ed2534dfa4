//! The test lifecycle (spec §1.5): results directory, journal and router, node processes,
//! `init` (10 s, msg_id 1, one fresh client per node, closed afterwards), workload setup
//! (one client per node, kept until teardown), the main phase with the nemesis, the final
//! phase, teardown (SIGKILL), analysis and files.
//!
//! Deviations from Maelstrom:
//! - All node ids are registered before any node starts (Maelstrom registers each node
//!   just before spawning it, in parallel); a message to a peer during that tiny window is
//!   fatal there and fine here.
//! - A node that exits early stops the test at once (Maelstrom finds out at teardown);
//!   the verdict is the same: a crash, exit 255, no results.json (we write crash.json).
//! - Init clients get ids c0..c(N-1) in node order (Maelstrom opens them in parallel).
//! - History and journal share one time origin, the network start (Maelstrom's history
//!   counts from the generator start), so times in reports line up.
//!
//! The parts: [`setup_phase`] (init and the workload's setup), [`main_phase`] (workers,
//! nemesis, the schedule's dispatcher, supervision), [`record`] (result files, checkers,
//! results.json, the report), [`timing`]; this module opens the store and the network,
//! spawns the nodes and tears them down.

mod main_phase;
mod record;
mod setup_phase;
mod timing;

use main_phase::main_and_final;
pub use main_phase::{plan_faults, schedule_setup};
use setup_phase::{init_nodes, setup_clients};
use timing::Timing;

use crate::client::ClientIds;
use crate::memory::RssSamples;
use crate::net::journal::Journal;
use crate::net::router::{Router, RouterSetup};
use crate::net::{Net, NetStats, RouterCmd, Shared};
use crate::plan::TestPlan;
use crate::process::{self, NodeProc, SpawnSpec};
use crate::recorder::Recorder;
use crate::results::{self, Crash};
use crate::seed;
use crate::workload::Workload;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How much the runner prints.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Print the full report on stdout.
    pub report: bool,
    /// Print the progress line on stderr.
    pub progress: bool,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// 0 valid, 1 invalid, 2 unknown, 255 crash.
    pub exit_code: i32,
    /// Results directory.
    pub dir: Option<PathBuf>,
    /// The results.json content (None for a crash).
    pub results: Option<Value>,
    /// The crash, if the test crashed.
    pub crash: Option<Crash>,
}

/// Runs one test, then writes its `report.html` (crashed runs too, from whatever files
/// they left) and refreshes the store's `index.html`.
pub fn run_test(plan: &TestPlan, workload: &dyn Workload, opts: RunOptions) -> RunOutcome {
    let outcome = run_and_record(plan, workload, opts);
    if let Some(dir) = &outcome.dir {
        match crate::report_html::publish(dir, &plan.store) {
            Ok(path) if opts.report => println!("Report: {}", path.display()),
            Ok(_) => {}
            Err(e) => eprintln!("glomers-sim: could not write report.html: {e}"),
        }
    }
    outcome
}

/// Runs one test and writes its result files.
fn run_and_record(plan: &TestPlan, workload: &dyn Workload, opts: RunOptions) -> RunOutcome {
    let mut timing = Timing::new();
    let dir = match results::make_run_dir(&plan.store, workload.name()) {
        Ok(d) => d,
        Err(e) => {
            return crashed(
                None,
                Crash::bench(format!("cannot create the results directory: {e}")),
                opts,
            )
        }
    };
    let log_dir = dir.join("node-logs");
    if let Err(e) = std::fs::create_dir_all(&log_dir) {
        return crashed(
            Some(dir),
            Crash::bench(format!("cannot create node-logs/: {e}")),
            opts,
        );
    }
    let journal = match Journal::create(&dir.join("messages.jsonl")) {
        Ok(j) => j,
        Err(e) => {
            return crashed(
                Some(dir),
                Crash::bench(format!("cannot create the journal: {e}")),
                opts,
            )
        }
    };
    let shared = Arc::new(Shared::new(Instant::now(), plan.nodes.len()));
    let spared_children = process::prepare();
    let (tx, rx) = channel();
    let net = Net {
        tx,
        shared: shared.clone(),
    };
    let mut stdin_rxs = Vec::new();
    let mut router_nodes = Vec::new();
    for id in &plan.nodes {
        let (stx, srx) = process::stdin_queue();
        router_nodes.push((id.clone(), stx));
        stdin_rxs.push(srx);
    }
    let router = Router::new(RouterSetup {
        nodes: router_nodes,
        latency: plan.latency,
        rng: seed::rng(plan.seed, "network", 0),
        journal: journal.sender(),
        shared: shared.clone(),
    });
    let router_thread = std::thread::Builder::new()
        .name("router".into())
        .spawn(move || router.run(rx));
    if let Err(e) = router_thread {
        return crashed(
            Some(dir),
            Crash::bench(format!("cannot start the router: {e}")),
            opts,
        );
    }
    let recorder = Arc::new(Recorder::new(shared.start));
    let mut procs: Vec<NodeProc> = Vec::new();
    let mut rss = RssSamples::default();
    let spec = SpawnSpec {
        bin: &plan.bin,
        args: &plan.bin_args,
        log_dir: &log_dir,
        log_stderr: plan.log_stderr,
    };
    let mut body = || -> Result<(), Box<Crash>> {
        for (i, (id, srx)) in plan.nodes.iter().zip(stdin_rxs.drain(..)).enumerate() {
            let p = process::spawn(&spec, i, id, srx, &net).map_err(|e| {
                Box::new(Crash::bench(format!(
                    "cannot start {} for {id}: {e}",
                    plan.bin.display()
                )))
            })?;
            procs.push(p);
        }
        let ids = Arc::new(ClientIds::default());
        init_nodes(plan, &net, &ids, &mut procs)?;
        let setup_conns = setup_clients(plan, workload, &net, &ids, &mut procs)?;
        timing.mark("setup");
        let result = main_and_final(
            plan, workload, &net, &ids, &recorder, &mut procs, &mut rss, opts,
        );
        timing.mark("run");
        for c in setup_conns {
            c.close();
        }
        result
    };
    let outcome = body();
    // Read each node's peak memory before the kill takes its /proc entry away.
    let peaks: Vec<Option<u64>> = procs.iter().map(NodeProc::peak_rss_kib).collect();
    let node_memory = rss.to_json(&plan.nodes, &peaks);
    process::kill_all(&mut procs, &shared, &spared_children);
    timing.mark("kill");
    let (stx, srx) = channel();
    let stats = if net.tx.send(RouterCmd::Stop(stx)).is_ok() {
        srx.recv_timeout(Duration::from_secs(10))
            .unwrap_or_default()
    } else {
        NetStats::default()
    };
    shared.close_budgets();
    drop(net);
    timing.mark("router-stop");
    let journal_ok = journal.finish();
    timing.mark("journal-flush");
    record::record(record::Finished {
        plan,
        workload,
        dir,
        outcome,
        stats,
        journal_ok,
        node_memory,
        shared: &shared,
        recorder: &recorder,
        timing,
        opts,
    })
}

fn crashed(dir: Option<PathBuf>, crash: Crash, opts: RunOptions) -> RunOutcome {
    if let Some(d) = &dir {
        if let Err(e) = results::write_crash(d, &crash) {
            eprintln!("glomers-sim: could not write crash.json: {e}");
        }
    }
    if opts.report {
        crate::report::print_crash(dir.as_deref(), &crash);
    }
    RunOutcome {
        exit_code: if crash.kind == "interrupted" {
            130
        } else {
            255
        },
        dir,
        results: None,
        crash: Some(crash),
    }
}
