//! Workloads: for each one, its generator, its client (request, reply schema, error
//! mapping), its setup (broadcast's topology), its final phase and its checker, side by
//! side in one module. The runner only sees the [`Workload`] trait and [`lookup`].
//!
//! Shared pieces: [`simple`] (one RPC per operation), [`wr_txns`] (Elle's transaction
//! generator, for the txn workloads and kafka) and [`reply_shapes`] (nested reply checks
//! for kafka and txn).

pub mod broadcast;
pub mod counter;
pub mod echo;
pub mod g_set;
pub mod kafka;
pub mod lin_kv;
pub mod reply_shapes;
pub mod simple;
#[cfg(test)]
pub mod stub_node;
pub mod txn;
pub mod unique_ids;
pub mod wr_txns;

use crate::client::outcome::Completion;
use crate::client::RpcResult;
use crate::plan::TestPlan;
use glomers_simkit::checker::CheckResult;
use glomers_simkit::history::{History, Op};
use rand::rngs::StdRng;
use serde_json::Value;
use std::time::Duration;

/// One operation to perform.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// Function name (`echo`, `read`, `broadcast`, ...).
    pub f: String,
    /// Invocation value (see the history module docs for the shapes).
    pub value: Value,
    /// True for final-phase operations.
    pub final_phase: bool,
}

impl Invocation {
    /// A main-phase invocation.
    pub fn new(f: &str, value: Value) -> Invocation {
        Invocation {
            f: f.to_string(),
            value,
            final_phase: false,
        }
    }
}

/// What a generator knows when it is asked for an operation.
#[derive(Debug, Clone, Copy)]
pub struct GenContext {
    /// The worker (thread) that will perform the operation.
    pub worker: usize,
    /// Time since the main phase started.
    pub elapsed: Duration,
}

/// The context unit tests ask generators with: worker 0 at the start of the main phase.
#[cfg(test)]
pub const TEST_CTX: GenContext = GenContext {
    worker: 0,
    elapsed: Duration::ZERO,
};

/// Produces main-phase operations (shared by all workers, like Jepsen's generator).
/// A generator that must react to results (kafka's assigns) shares state with the
/// workload's clients through the workload instance that creates both.
pub trait Generator: Send {
    /// The next operation, or `None` when the generator is exhausted.
    fn next(&mut self, ctx: &GenContext, rng: &mut StdRng) -> Option<Invocation>;
}

/// A worker's final-phase operations, produced one at a time so that a workload can
/// decide the next one from the previous result (kafka polls until it has caught up).
pub trait FinalOps: Send {
    /// The next operation, given the completion of the previous one (`None` at first);
    /// `None` when the worker is done.
    fn next(&mut self, previous: Option<&Op>) -> Option<Invocation>;
}

/// A fixed list of final operations.
pub struct FixedOps(std::vec::IntoIter<Invocation>);

impl FixedOps {
    /// Boxes a fixed list.
    pub fn boxed(ops: Vec<Invocation>) -> Box<dyn FinalOps> {
        Box::new(FixedOps(ops.into_iter()))
    }
}

impl FinalOps for FixedOps {
    fn next(&mut self, _previous: Option<&Op>) -> Option<Invocation> {
        self.0.next()
    }
}

/// The next thing an operation needs: a request over its client connection, or nothing
/// more because it ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Send `body` (without `msg_id`) to the client's node and resume with the result.
    Call {
        /// The request body.
        body: Value,
        /// How long to wait for the reply.
        timeout: Duration,
    },
    /// The operation ended.
    Done(Completion),
}

/// Performs operations as a sequence of RPCs over one client connection (one client per
/// worker). IO-free: a driver sends each [`Step::Call`] and hands the result back, so the
/// real-time bench and the deterministic driver run the same client code.
pub trait WorkloadClient: Send {
    /// The first step of `inv`.
    fn start(&mut self, inv: &Invocation) -> Step;
    /// The step after the RPC of the previous [`Step::Call`] ended with `result`.
    fn resume(&mut self, inv: &Invocation, result: RpcResult) -> Step;
}

/// A request made once per node before the main phase (broadcast's `topology`).
#[derive(Debug, Clone, PartialEq)]
pub struct SetupRequest {
    /// The request body.
    pub body: Value,
    /// How long to wait for the reply.
    pub timeout: Duration,
}

/// A workload, as the runner sees it.
pub trait Workload: Send + Sync {
    /// Maelstrom's name.
    fn name(&self) -> &'static str;
    /// Reusable clients survive an `info`; others are closed and replaced (spec §1.9).
    fn reusable_client(&self) -> bool;
    /// Whether the test ends with heal, recovery and final operations.
    fn has_final_phase(&self) -> bool {
        false
    }
    /// Refuses plans the workload cannot run (e.g. lin-kv needs concurrency a multiple
    /// of 2 × nodes); the message becomes an error exiting with
    /// [`Workload::refusal_exit_code`].
    fn validate(&self, _plan: &TestPlan) -> Result<(), String> {
        Ok(())
    }
    /// Exit code for a plan `validate` refuses: 254 (bad arguments), or 255 where
    /// Maelstrom only finds out once the test runs and crashes (lin-kv's concurrency).
    fn refusal_exit_code(&self) -> i32 {
        254
    }
    /// The setup request sent to each node over its own client (kept open until
    /// teardown), if the workload has one.
    fn setup_request(&self, _plan: &TestPlan) -> Option<SetupRequest> {
        None
    }
    /// Checks a node's answer to the setup request.
    fn check_setup(&self, _result: RpcResult) -> Result<(), String> {
        Ok(())
    }
    /// The main-phase generator.
    fn generator(&self, plan: &TestPlan) -> Box<dyn Generator>;
    /// Final-phase operations of one worker.
    fn final_ops(&self, _worker: usize) -> Box<dyn FinalOps> {
        FixedOps::boxed(Vec::new())
    }
    /// A fresh per-worker client.
    fn client(&self, plan: &TestPlan) -> Box<dyn WorkloadClient>;
    /// The client of worker `worker` (the runner calls this once per worker). Workloads
    /// whose generator follows each worker's process (lin-kv) override it.
    fn worker_client(&self, plan: &TestPlan, _worker: usize) -> Box<dyn WorkloadClient> {
        self.client(plan)
    }
    /// The workload checker.
    fn check(&self, history: &History, plan: &TestPlan) -> CheckResult;
}

/// A workload name that is not one of Maelstrom's.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownWorkload(pub String);

impl std::fmt::Display for UnknownWorkload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unknown workload {:?}; Maelstrom's workloads are: {}",
            self.0,
            MAELSTROM.join(", ")
        )
    }
}

/// Every Maelstrom workload name.
pub const MAELSTROM: [&str; 10] = [
    "broadcast",
    "echo",
    "g-counter",
    "g-set",
    "kafka",
    "lin-kv",
    "pn-counter",
    "txn-list-append",
    "txn-rw-register",
    "unique-ids",
];

/// Finds the workload called `name` (the bench runs every one of Maelstrom's).
pub fn lookup(name: &str) -> Result<Box<dyn Workload>, UnknownWorkload> {
    Ok(match name {
        "echo" => Box::new(echo::Echo),
        "unique-ids" => Box::new(unique_ids::UniqueIds),
        "broadcast" => Box::new(broadcast::Broadcast),
        "g-set" => Box::new(g_set::GSet),
        "g-counter" => Box::new(counter::Counter { grow_only: true }),
        "pn-counter" => Box::new(counter::Counter { grow_only: false }),
        "kafka" => Box::<kafka::Kafka>::default(),
        "lin-kv" => Box::<lin_kv::LinKv>::default(),
        "txn-rw-register" => Box::new(txn::Txn {
            flavor: txn::TxnFlavor::RwRegister,
        }),
        "txn-list-append" => Box::new(txn::Txn {
            flavor: txn::TxnFlavor::ListAppend,
        }),
        other => return Err(UnknownWorkload(other.to_string())),
    })
}

/// Maelstrom's default RPC timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5000);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_knows_every_maelstrom_workload() {
        for w in MAELSTROM {
            assert_eq!(lookup(w).map(|w| w.name()).ok(), Some(w));
        }
        assert_eq!(lookup("bogus").err(), Some(UnknownWorkload("bogus".into())));
        assert!(lookup("bogus")
            .err()
            .unwrap()
            .to_string()
            .contains("txn-list-append"));
    }
}
