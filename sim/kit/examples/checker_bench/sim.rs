//! A tiny discrete-event simulator producing histories: `concurrency` workers, each
//! invoking an operation, having it take effect atomically at some instant inside
//! its interval (a single serial executor), then completing.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use glomers_simkit::history::{History, Op, OpType};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// How an operation ended.
pub struct Outcome {
    /// ok, fail or info.
    pub kind: OpType,
    /// The completion value.
    pub value: Value,
    /// The error, for fail and info.
    pub error: Option<Value>,
}

impl Outcome {
    /// An ok completion.
    pub fn ok(value: Value) -> Outcome {
        Outcome {
            kind: OpType::Ok,
            value,
            error: None,
        }
    }

    /// A failed or indeterminate completion carrying the invoke value.
    pub fn err(kind: OpType, value: Value, error: Value) -> Outcome {
        Outcome {
            kind,
            value,
            error: Some(error),
        }
    }
}

/// A workload: what to invoke and what the serial executor answers.
pub trait Workload {
    /// The next operation of `worker` (`None`: the worker is done). `last` is true
    /// once the main phase has issued all its operations.
    fn invoke(&mut self, rng: &mut StdRng, worker: usize, last: bool) -> Option<(String, Value)>;
    /// Applies the operation atomically.
    fn apply(&mut self, rng: &mut StdRng, worker: usize, f: &str, value: &Value) -> Outcome;
    /// The worker got a new process (after an indeterminate completion).
    fn new_process(&mut self, _worker: usize) {}
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Invoke,
    Effect,
    Complete,
}

/// Runs `ops` main-phase operations (plus whatever final phase the workload has).
pub fn run<W: Workload>(w: &mut W, seed: u64, ops: usize, concurrency: usize) -> History {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut h = History::default();
    let mut heap: BinaryHeap<Reverse<(u64, usize, Phase)>> = BinaryHeap::new();
    let mut process: Vec<u64> = (0..concurrency as u64).collect();
    let mut pending: Vec<Option<(String, Value)>> = vec![None; concurrency];
    let mut outcome: Vec<Option<Outcome>> = (0..concurrency).map(|_| None).collect();
    for wk in 0..concurrency {
        heap.push(Reverse((rng.random_range(0..1_000_000), wk, Phase::Invoke)));
    }
    let mut issued = 0;
    let entry =
        |h: &mut History, time, process, kind, f: &str, value, error, worker: usize, last| {
            h.push(Op {
                index: 0,
                time,
                process,
                kind,
                f: f.to_string(),
                value,
                node: Some(format!("n{}", worker % 5)),
                client: None,
                msg_id: None,
                error,
                final_phase: last,
            });
        };
    while let Some(Reverse((t, wk, phase))) = heap.pop() {
        let last = issued >= ops;
        match phase {
            Phase::Invoke => {
                let Some((f, v)) = w.invoke(&mut rng, wk, last) else {
                    continue;
                };
                if !last {
                    issued += 1;
                }
                entry(
                    &mut h,
                    t,
                    process[wk],
                    OpType::Invoke,
                    &f,
                    v.clone(),
                    None,
                    wk,
                    last,
                );
                pending[wk] = Some((f, v));
                heap.push(Reverse((
                    t + rng.random_range(100_000..5_000_000),
                    wk,
                    Phase::Effect,
                )));
            }
            Phase::Effect => {
                if let Some((f, v)) = &pending[wk] {
                    outcome[wk] = Some(w.apply(&mut rng, wk, f, v));
                }
                heap.push(Reverse((
                    t + rng.random_range(100_000..5_000_000),
                    wk,
                    Phase::Complete,
                )));
            }
            Phase::Complete => {
                let (Some((f, _)), Some(out)) = (pending[wk].take(), outcome[wk].take()) else {
                    continue;
                };
                entry(
                    &mut h,
                    t,
                    process[wk],
                    out.kind,
                    &f,
                    out.value,
                    out.error,
                    wk,
                    last,
                );
                if out.kind == OpType::Info {
                    process[wk] += concurrency as u64;
                    w.new_process(wk);
                }
                heap.push(Reverse((
                    t + rng.random_range(0..1_000_000),
                    wk,
                    Phase::Invoke,
                )));
            }
        }
    }
    h
}

/// Picks slot `i` of `n` with probability proportional to 2^i (Jepsen's
/// exponential key distribution: the last slot gets about half the picks).
pub fn exponential_slot(rng: &mut StdRng, n: usize) -> usize {
    let r: u64 = rng.random_range(1..(1u64 << n));
    (63 - r.leading_zeros()) as usize
}
