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

use crate::client::{ClientIds, Conn};
use crate::dispatch::{self, Job, WorkerSetup};
use crate::memory::{RssSamples, SAMPLE_EVERY};
use crate::nemesis::{self, NemesisPlan};
use crate::net::journal::Journal;
use crate::net::router::{Router, RouterSetup};
use crate::net::{Net, NetStats, RouterCmd, Shared};
use crate::plan::TestPlan;
use crate::process::{self, NodeProc, SpawnSpec};
use crate::progress::Progress;
use crate::recorder::Recorder;
use crate::results::{self, Crash};
use crate::schedule::{Action, Schedule, ScheduleSetup};
use crate::seed;
use crate::setup;
use crate::workload::Workload;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError};
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

/// Phase timings, printed on stderr when `GLOMERS_SIM_TIMING` is set (for the benchmark).
struct Timing {
    on: bool,
    last: Instant,
    phases: Vec<(&'static str, Duration)>,
}

impl Timing {
    fn new() -> Timing {
        Timing {
            on: std::env::var_os("GLOMERS_SIM_TIMING").is_some(),
            last: Instant::now(),
            phases: Vec::new(),
        }
    }

    fn mark(&mut self, phase: &'static str) {
        let now = Instant::now();
        self.phases.push((phase, now - self.last));
        self.last = now;
    }

    fn print(&self) {
        if self.on {
            let parts: Vec<String> = self
                .phases
                .iter()
                .map(|(p, d)| format!("{p} {:.3} s", d.as_secs_f64()))
                .collect();
            eprintln!("glomers-sim timing: {}", parts.join(", "));
        }
    }
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

/// The faults of a plan: Maelstrom's partition nemesis with `--nemesis partition`.
pub fn plan_faults(plan: &TestPlan) -> crate::faults::FaultPlan {
    if !plan.nemesis_partition {
        return Vec::new();
    }
    crate::faults::draw(
        &[crate::faults::FaultMode::Partition],
        &plan.nodes,
        plan.nemesis_interval,
        plan.time_limit,
        plan.seed,
    )
}

/// What the schedule of a test starts from: the plan's rates and limits, the workload's
/// generator and final operations, and the generator's random stream.
pub fn schedule_setup(plan: &TestPlan, workload: &dyn Workload) -> ScheduleSetup {
    ScheduleSetup {
        concurrency: plan.concurrency,
        rate: plan.rate,
        time_limit: plan.time_limit,
        recovery: plan.recovery_time,
        generator: workload.generator(plan),
        final_ops: workload.has_final_phase().then(|| {
            (0..plan.concurrency)
                .map(|w| workload.final_ops(w))
                .collect()
        }),
        rng: seed::rng(plan.seed, "generator", 0),
    }
}

/// The dispatcher thread's inputs.
struct Dispatch<'a> {
    schedule: Schedule,
    gen_start: Instant,
    abort: &'a AtomicBool,
    free_rx: std::sync::mpsc::Receiver<usize>,
    job_txs: Vec<std::sync::mpsc::Sender<Job>>,
    nemesis: Option<NemesisHandle>,
    recovery: Duration,
}

/// The nemesis thread and the sender whose drop stops it.
type NemesisHandle = (
    std::sync::mpsc::Sender<()>,
    Option<std::thread::JoinHandle<()>>,
);

/// Stops the nemesis (it heals if the workload has a final phase) and waits for it.
fn stop_nemesis(handle: Option<NemesisHandle>) {
    if let Some((stop, thread)) = handle {
        drop(stop);
        if let Some(h) = thread {
            let _ = h.join();
        }
    }
}

/// Asks the schedule what to do, hands jobs to workers, and waits (for a worker to be
/// free or the schedule's next time) in between; stops early when the run is aborted.
fn dispatch_loop(mut d: Dispatch) {
    loop {
        if d.abort.load(Ordering::Relaxed) {
            break;
        }
        while let Ok(w) = d.free_rx.try_recv() {
            d.schedule.worker_free(w);
        }
        match d.schedule.poll(d.gen_start.elapsed()) {
            Action::Run { worker, inv } => {
                if d.job_txs[worker].send(Job::Run(inv)).is_err() {
                    break;
                }
            }
            Action::Final { worker, ops } => {
                if d.job_txs[worker].send(Job::Final(ops)).is_err() {
                    d.schedule.worker_free(worker);
                }
            }
            Action::StopNemesis { heal } => {
                stop_nemesis(d.nemesis.take());
                if heal {
                    eprintln!(
                        "glomers-sim: healed; waiting {:.1} s for recovery before the final reads",
                        d.recovery.as_secs_f64()
                    );
                }
            }
            Action::Wait { until } => {
                let now = d.gen_start.elapsed();
                let left = until
                    .map_or(Duration::from_millis(100), |u| u.saturating_sub(now))
                    .min(Duration::from_millis(100));
                match d.free_rx.recv_timeout(left) {
                    Ok(w) => d.schedule.worker_free(w),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            Action::Done => break,
        }
    }
    stop_nemesis(d.nemesis.take());
    for tx in &d.job_txs {
        let _ = tx.send(Job::Exit);
    }
}

/// Fails with a crash if any node has exited (or the user interrupted the run).
fn check_exits(procs: &mut [NodeProc]) -> Result<(), Box<Crash>> {
    if crate::interrupt::requested() {
        return Err(Box::new(Crash::interrupted()));
    }
    for p in procs.iter_mut() {
        if let Some(st) = p.poll_exit() {
            return Err(Box::new(Crash::node_exit(&p.id, &st, p.log_tail())));
        }
    }
    Ok(())
}

/// Waits for setup threads while watching the nodes. When one exits, the setup clients
/// are unregistered, which wakes their threads at once (their RPCs end as timeouts).
fn watch_setup<T>(
    handles: &[std::thread::ScopedJoinHandle<'_, T>],
    procs: &mut [NodeProc],
    net: &Net,
    client_ids: &[String],
) -> Option<Box<Crash>> {
    while !handles.iter().all(|h| h.is_finished()) {
        if let Err(crash) = check_exits(procs) {
            for id in client_ids {
                let _ = net.tx.send(RouterCmd::Unregister { id: id.clone() });
            }
            return Some(crash);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Opens one client per node and runs `work` with each in its own thread while
/// watching the nodes ([`watch_setup`]). Returns every client with its result, and the
/// crash if a node exited first.
fn on_every_node<R: Send>(
    plan: &TestPlan,
    net: &Net,
    ids: &ClientIds,
    procs: &mut [NodeProc],
    work: impl Fn(&mut Conn) -> R + Sync,
) -> (Vec<(Conn, R)>, Option<Box<Crash>>) {
    let conns: Vec<Conn> = plan.nodes.iter().map(|n| Conn::open(net, ids, n)).collect();
    let client_ids: Vec<String> = conns.iter().map(|c| c.id.clone()).collect();
    std::thread::scope(|s| {
        let work = &work;
        let handles: Vec<_> = conns
            .into_iter()
            .map(|mut c| {
                s.spawn(move || {
                    let r = work(&mut c);
                    (c, r)
                })
            })
            .collect();
        let exited = watch_setup(&handles, procs, net, &client_ids);
        let results: Vec<(Conn, R)> = handles.into_iter().filter_map(|h| h.join().ok()).collect();
        (results, exited)
    })
}

fn init_nodes(
    plan: &TestPlan,
    net: &Net,
    ids: &ClientIds,
    procs: &mut [NodeProc],
) -> Result<(), Box<Crash>> {
    let (results, exited) = on_every_node(plan, net, ids, procs, |c| {
        c.rpc(setup::init_body(plan, &c.node), setup::INIT_TIMEOUT)
    });
    if let Some(crash) = exited {
        return Err(crash);
    }
    let mut problem = None;
    for (c, r) in results {
        let node = c.node.clone();
        c.close();
        if problem.is_some() {
            continue;
        }
        if let Err(p) = setup::check_init(&node, r) {
            problem = Some(p);
        }
    }
    check_exits(procs)?;
    match problem {
        Some(p) => Err(Box::new(Crash::setup(p))),
        None => Ok(()),
    }
}

fn setup_clients(
    plan: &TestPlan,
    workload: &dyn Workload,
    net: &Net,
    ids: &ClientIds,
    procs: &mut [NodeProc],
) -> Result<Vec<Conn>, Box<Crash>> {
    let (results, exited) = on_every_node(plan, net, ids, procs, |c| {
        match workload.setup_request(plan) {
            Some(req) => workload.check_setup(c.rpc(req.body, req.timeout)),
            None => Ok(()),
        }
    });
    if let Some(crash) = exited {
        for (c, _) in results {
            c.close();
        }
        return Err(crash);
    }
    check_exits(procs)?;
    let mut kept = Vec::new();
    let mut problem = None;
    for (c, r) in results {
        if let Err(e) = r {
            problem.get_or_insert(format!("client setup on {} failed: {e}", c.node));
        }
        kept.push(c);
    }
    match problem {
        Some(p) => {
            for c in kept {
                c.close();
            }
            Err(Box::new(Crash::setup(p)))
        }
        None => Ok(kept),
    }
}

#[allow(clippy::too_many_arguments)]
fn main_and_final(
    plan: &TestPlan,
    workload: &dyn Workload,
    net: &Net,
    ids: &Arc<ClientIds>,
    recorder: &Arc<Recorder>,
    procs: &mut [NodeProc],
    rss: &mut RssSamples,
    opts: RunOptions,
) -> Result<(), Box<Crash>> {
    let gen_start = Instant::now();
    let abort = Arc::new(AtomicBool::new(false));
    // Workers.
    let (free_tx, free_rx) = channel::<usize>();
    let mut job_txs = Vec::new();
    let mut worker_threads = Vec::new();
    for i in 0..plan.concurrency {
        let (jtx, jrx) = channel::<Job>();
        job_txs.push(jtx);
        let setup = WorkerSetup {
            index: i,
            concurrency: plan.concurrency,
            node: plan.nodes[i % plan.nodes.len()].clone(),
            reusable: workload.reusable_client(),
            client: workload.worker_client(plan, i),
            net: net.clone(),
            ids: ids.clone(),
            recorder: recorder.clone(),
        };
        let ftx = free_tx.clone();
        let h = std::thread::Builder::new()
            .name(format!("worker-{i}"))
            .spawn(move || dispatch::worker(setup, jrx, ftx))
            .map_err(|e| Box::new(Crash::bench(format!("cannot start worker threads: {e}"))))?;
        worker_threads.push(h);
    }
    drop(free_tx);
    // Nemesis: the fault schedule, drawn up front as the deterministic driver draws it.
    let (nem_stop_tx, nem_stop_rx) = channel::<()>();
    let faults = plan_faults(plan);
    let nemesis_thread = if faults.is_empty() {
        None
    } else {
        let np = NemesisPlan {
            faults,
            start: gen_start,
            heal_at_end: workload.has_final_phase(),
        };
        let (n2, r2) = (net.clone(), recorder.clone());
        Some(
            std::thread::Builder::new()
                .name("nemesis".into())
                .spawn(move || nemesis::run(np, n2, &r2, nem_stop_rx))
                .map_err(|e| Box::new(Crash::bench(format!("cannot start the nemesis: {e}"))))?,
        )
    };
    // Dispatcher: the shared schedule on the wall clock.
    let dispatcher = {
        let abort = abort.clone();
        let schedule = Schedule::new(schedule_setup(plan, workload));
        let recovery = plan.recovery_time;
        std::thread::Builder::new()
            .name("dispatcher".into())
            .spawn(move || {
                dispatch_loop(Dispatch {
                    schedule,
                    gen_start,
                    abort: &abort,
                    free_rx,
                    job_txs,
                    nemesis: Some((nem_stop_tx, nemesis_thread)),
                    recovery,
                })
            })
            .map_err(|e| Box::new(Crash::bench(format!("cannot start the dispatcher: {e}"))))?
    };
    // Supervise: node exits, memory samples and progress.
    let mut progress = Progress::new(opts.progress, gen_start);
    let mut crash = None;
    let mut next_sample = gen_start + SAMPLE_EVERY;
    while !dispatcher.is_finished() {
        std::thread::sleep(Duration::from_millis(50));
        if crash.is_none() {
            if let Err(c) = check_exits(procs) {
                abort.store(true, Ordering::SeqCst);
                crash = Some(c);
            }
        }
        if Instant::now() >= next_sample {
            let kib: Vec<Option<u64>> = procs.iter().map(NodeProc::rss_kib).collect();
            rss.record(net.shared.start.elapsed().as_secs_f64(), &kib);
            next_sample += SAMPLE_EVERY;
        }
        progress.tick(&recorder.counts);
    }
    progress.finish(&recorder.counts);
    let _ = dispatcher.join();
    if let Some(c) = crash {
        return Err(c);
    }
    for h in worker_threads {
        let _ = h.join();
    }
    check_exits(procs)
}
