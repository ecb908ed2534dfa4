//! The client-side scheduler: Jepsen's global stagger (spec §3.6) and worker threads.
//!
//! The gap between successive main-phase operations, across all workers, is uniform in
//! [0, 2/rate); an operation waits for a free worker (so the schedule slips when all are
//! busy, it never bursts to catch up). Free workers are taken round-robin, as Jepsen's
//! context does (Jepsen also counts its nemesis thread in that rotation; we do not, which
//! only changes which idle worker gets an operation). `--rate 0` issues no main-phase
//! operations.

use crate::client::outcome::Completion;
use crate::client::{ClientIds, Conn};
use crate::net::Net;
use crate::recorder::{Actor, Recorder};
use crate::workload::{FinalOps, Invocation, WorkloadClient};
use glomers_simkit::history::OpType;
use rand::rngs::StdRng;
use rand::Rng;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

/// Gap before the next operation: uniform in [0, 2/rate).
pub fn stagger_gap(rate: f64, rng: &mut StdRng) -> Duration {
    if rate <= 0.0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(rng.random_range(0.0..2.0 / rate))
}

/// The first free worker at or after `from`, wrapping around.
pub fn pick_worker(free: &[bool], from: usize) -> Option<usize> {
    let n = free.len();
    (0..n).map(|k| (from + k) % n).find(|&i| free[i])
}

/// Work for a worker.
pub enum Job {
    /// Perform one main-phase operation, then report free.
    Run(Invocation),
    /// Perform final-phase operations until they run out, then report free.
    Final(Box<dyn FinalOps>),
    /// Close the client and stop.
    Exit,
}

/// What a worker needs.
pub struct WorkerSetup {
    /// Worker index (thread number).
    pub index: usize,
    /// Total workers (process numbers step by this after an info).
    pub concurrency: usize,
    /// The node it talks to.
    pub node: String,
    /// Reusable clients survive an info.
    pub reusable: bool,
    /// The workload client.
    pub client: Box<dyn WorkloadClient>,
    /// Network handle.
    pub net: Net,
    /// Client id allocator.
    pub ids: Arc<ClientIds>,
    /// History recorder.
    pub recorder: Arc<Recorder>,
}

/// Runs a worker until `Exit` (or the dispatcher goes away).
pub fn worker(mut w: WorkerSetup, jobs: Receiver<Job>, free: Sender<usize>) {
    let mut state = WorkerState {
        process: w.index as u64,
        conn: None,
    };
    while let Ok(job) = jobs.recv() {
        match job {
            Job::Run(inv) => {
                perform(&mut w, &mut state, &inv);
            }
            Job::Final(mut ops) => {
                let mut previous = None;
                while let Some(inv) = ops.next(previous.as_ref()) {
                    let index = perform(&mut w, &mut state, &inv);
                    previous = w.recorder.op(index);
                }
            }
            Job::Exit => break,
        }
        if free.send(w.index).is_err() {
            break;
        }
    }
    if let Some(c) = state.conn.take() {
        c.close();
    }
}

struct WorkerState {
    process: u64,
    conn: Option<Conn>,
}

/// Performs one operation and records it; returns the completion's history index.
fn perform(w: &mut WorkerSetup, st: &mut WorkerState, inv: &Invocation) -> usize {
    let c = st
        .conn
        .get_or_insert_with(|| Conn::open(&w.net, &w.ids, &w.node));
    let who = Actor {
        process: st.process,
        node: w.node.clone(),
        client: c.id.clone(),
        msg_id: Some(c.peek_msg_id()),
    };
    w.recorder.invoke(&who, &inv.f, &inv.value, inv.final_phase);
    let completion: Completion = crate::client::perform(w.client.as_mut(), inv, c);
    let (kind, index) = w
        .recorder
        .complete(&who, &inv.f, completion, inv.final_phase);
    if kind == OpType::Info {
        st.process += w.concurrency as u64;
        if !w.reusable {
            if let Some(c) = st.conn.take() {
                c.close();
            }
        }
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn stagger_is_uniform_below_two_over_rate() {
        let mut rng = StdRng::seed_from_u64(1);
        let gaps: Vec<f64> = (0..10_000)
            .map(|_| stagger_gap(100.0, &mut rng).as_secs_f64())
            .collect();
        assert!(gaps.iter().all(|&g| (0.0..0.02).contains(&g)));
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        assert!((mean - 0.01).abs() < 0.0005, "{mean}");
        assert_eq!(stagger_gap(0.0, &mut rng), Duration::ZERO);
    }

    #[test]
    fn workers_are_picked_round_robin_among_free_ones() {
        let free = [true, false, true, true];
        assert_eq!(pick_worker(&free, 0), Some(0));
        assert_eq!(pick_worker(&free, 1), Some(2));
        assert_eq!(pick_worker(&free, 3), Some(3));
        assert_eq!(pick_worker(&[false, false], 1), None);
        assert_eq!(pick_worker(&[true, false], 1), Some(0));
    }
}
