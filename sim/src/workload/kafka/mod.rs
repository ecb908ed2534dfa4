//! kafka (spec §5.9): append-only logs per string key, polled by offset, with
//! committed offsets. Requests `send`, `poll`, `commit_offsets` and
//! `list_committed_offsets`; clients are not reusable; only `assign` is idempotent.
//!
//! Modules: [`generator`] (send/poll mix, assigns, crash schedule), [`client`] (local
//! offsets, poll + commit as one operation), [`final_polls`] (crash, assign from the
//! beginning, poll until caught up, within 10 s) and [`tracker`] (what the generator and
//! the final polls learn from completed operations). Checker: Jepsen's kafka analysis
//! (`glomers_simkit::checker::kafka`).

pub mod client;
pub mod final_polls;
pub mod generator;
pub mod tracker;

use super::wr_txns::{WrOptions, WrTxns};
use super::{FinalOps, Generator, Workload, WorkloadClient};
use crate::plan::TestPlan;
use glomers_simkit::checker::{kafka, CheckResult};
use glomers_simkit::history::History;
use std::sync::{Arc, Mutex};
use tracker::Tracker;

/// The kafka workload; one instance per test run (it holds what the generator learns).
#[derive(Default)]
pub struct Kafka {
    tracker: Arc<Mutex<Tracker>>,
}

impl Kafka {
    fn remember_seed(&self, plan: &TestPlan) {
        self.tracker.lock().unwrap_or_else(|p| p.into_inner()).seed = plan.seed;
    }
}

impl Workload for Kafka {
    fn name(&self) -> &'static str {
        "kafka"
    }
    fn reusable_client(&self) -> bool {
        false
    }
    fn has_final_phase(&self) -> bool {
        true
    }
    fn generator(&self, plan: &TestPlan) -> Box<dyn Generator> {
        self.remember_seed(plan);
        let txns = WrTxns::new(WrOptions {
            key_count: plan.key_count.unwrap_or(10),
            min_len: 1,
            max_len: 1,
            max_writes_per_key: plan.max_writes_per_key,
        });
        Box::new(generator::KafkaGen::new(
            txns,
            self.tracker.clone(),
            plan.concurrency,
        ))
    }
    fn final_ops(&self, worker: usize) -> Box<dyn FinalOps> {
        Box::new(final_polls::FinalPolls::new(worker, self.tracker.clone()))
    }
    fn client(&self, plan: &TestPlan) -> Box<dyn WorkloadClient> {
        self.remember_seed(plan);
        Box::new(client::KafkaClient::new(self.tracker.clone()))
    }
    fn check(&self, history: &History, _plan: &TestPlan) -> CheckResult {
        kafka::check(history)
    }
}
