//! The real-time nemesis: plays a fault schedule ([`crate::faults`]) on the wall clock
//! by sending partitions to the router, and records each start and stop. With
//! `--nemesis partition` the schedule is Maelstrom's partition nemesis (spec §3.4),
//! drawn up front with the same draws the deterministic driver uses. Stopped by the
//! runner at the end of the main phase; for workloads with a final phase it then heals
//! (and records a `stop-partition`, as Jepsen's final generator does).
//!
//! Only partitions reach a real network: pause and duplicate faults are the
//! deterministic driver's, and are skipped here.

use crate::faults::{edges, nemesis_record, FaultKind, FaultPlan, FaultState};
use crate::net::partition::Grudge;
use crate::net::{Net, RouterCmd};
use crate::recorder::Recorder;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Instant;

/// Nemesis settings.
pub struct NemesisPlan {
    /// The faults, times counted from `start`.
    pub faults: FaultPlan,
    /// When the main phase started.
    pub start: Instant,
    /// Heal (and record it) when stopped.
    pub heal_at_end: bool,
}

/// Plays the plan until `stop` fires (or its sender is dropped).
pub fn run(plan: NemesisPlan, net: Net, rec: &Recorder, stop: Receiver<()>) {
    let faults: FaultPlan = plan
        .faults
        .iter()
        .filter(|f| matches!(f.kind, FaultKind::Partition { .. }))
        .cloned()
        .collect();
    let mut active = BTreeSet::new();
    for e in edges(&faults) {
        let due = plan.start + e.at;
        let now = Instant::now();
        if due > now {
            match stop.recv_timeout(due - now) {
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return heal(&plan, &net, rec),
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        if e.start {
            active.insert(e.index);
        } else {
            active.remove(&e.index);
        }
        let state = FaultState::of(&faults, &active);
        let _ = net.tx.send(RouterCmd::SetGrudge(state.grudge));
        let (f, value) = nemesis_record(&faults[e.index], e.start);
        rec.nemesis(&f, value);
    }
    // Nothing more to do in the main phase: wait for the stop signal.
    let _ = stop.recv();
    heal(&plan, &net, rec);
}

fn heal(plan: &NemesisPlan, net: &Net, rec: &Recorder) {
    if plan.heal_at_end {
        let _ = net.tx.send(RouterCmd::SetGrudge(Grudge::new()));
        rec.nemesis("stop-partition", json!("network-healed"));
    }
}
