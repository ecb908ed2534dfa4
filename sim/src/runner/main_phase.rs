//! The main and final phases on the wall clock: worker threads running the workload's
//! clients, the nemesis thread playing the fault schedule, the dispatcher thread asking
//! the shared [`Schedule`] what to do next, and the supervision of the nodes (exits,
//! memory samples, progress).

use super::setup_phase::check_exits;
use super::*;
use crate::client::ClientIds;
use crate::dispatch::{self, Job, WorkerSetup};
use crate::memory::{RssSamples, SAMPLE_EVERY};
use crate::nemesis::{self, NemesisPlan};
use crate::net::Net;
use crate::process::NodeProc;
use crate::progress::Progress;
use crate::recorder::Recorder;
use crate::schedule::{Action, Schedule, ScheduleSetup};
use crate::seed;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

#[allow(clippy::too_many_arguments)]
pub(super) fn main_and_final(
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
