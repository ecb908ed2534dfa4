//! The client-side schedule of a test, IO-free: when each operation starts and on which
//! worker, then the drain, the heal, the recovery wait and the final phase. Both drivers
//! ask it what to do next with the current time (since the generator started) and tell
//! it when a worker is free again; the real-time bench sleeps and waits on channels
//! between calls, the deterministic driver moves its virtual clock.
//!
//! The rules are Jepsen's (spec §3.6): the gap between successive main-phase operations,
//! across all workers, is uniform in [0, 2/rate); an operation waits for a free worker (so
//! the schedule slips when all are busy, it never bursts to catch up); free workers are
//! taken round-robin. `--rate 0` issues no main-phase operations. After the time limit
//! the schedule waits for the operations in flight, then the nemesis stops (healing the
//! network when the workload has a final phase); with a final phase it waits
//! `--recovery-time` and hands every worker its final operations.

use crate::dispatch::{pick_worker, stagger_gap};
use crate::workload::{FinalOps, GenContext, Generator, Invocation};
use rand::rngs::StdRng;
use std::time::Duration;

/// What the driver should do next.
pub enum Action {
    /// Start main-phase operation `inv` on `worker`.
    Run {
        /// The worker.
        worker: usize,
        /// The operation.
        inv: Invocation,
    },
    /// The main phase is over and drained: stop the nemesis (healing, if `heal`).
    StopNemesis {
        /// True when a final phase follows: heal the network and record it.
        heal: bool,
    },
    /// Give `worker` its final-phase operations.
    Final {
        /// The worker.
        worker: usize,
        /// Its operations.
        ops: Box<dyn FinalOps>,
    },
    /// Nothing to do before `until` (if given) or before a worker is free again.
    Wait {
        /// The time to ask again at, at the latest.
        until: Option<Duration>,
    },
    /// The test's client work is over.
    Done,
}

/// Where the schedule is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Main,
    Draining,
    Recovering { until: Duration },
    Final { next_worker: usize },
    FinalDraining,
    Done,
}

/// Everything the schedule needs from the test plan and the workload.
pub struct ScheduleSetup {
    /// Number of workers.
    pub concurrency: usize,
    /// Operations per second across all workers (0: none).
    pub rate: f64,
    /// Length of the main phase.
    pub time_limit: Duration,
    /// Wait between the heal and the final phase.
    pub recovery: Duration,
    /// The workload's main-phase generator.
    pub generator: Box<dyn Generator>,
    /// Each worker's final operations, when the workload has a final phase.
    pub final_ops: Option<Vec<Box<dyn FinalOps>>>,
    /// The generator's random stream (draws and gaps).
    pub rng: StdRng,
}

/// The schedule's state.
pub struct Schedule {
    phase: Phase,
    free: Vec<bool>,
    round_robin: usize,
    next_time: Duration,
    setup: ScheduleSetup,
    final_ops: Vec<Option<Box<dyn FinalOps>>>,
}

impl Schedule {
    /// A schedule at the start of the main phase, every worker free.
    pub fn new(mut setup: ScheduleSetup) -> Schedule {
        let final_ops = setup
            .final_ops
            .take()
            .map(|ops| ops.into_iter().map(Some).collect())
            .unwrap_or_default();
        Schedule {
            phase: Phase::Main,
            free: vec![true; setup.concurrency],
            round_robin: 0,
            next_time: Duration::ZERO,
            setup,
            final_ops,
        }
    }

    /// Worker `w` finished what it was given.
    pub fn worker_free(&mut self, w: usize) {
        if let Some(f) = self.free.get_mut(w) {
            *f = true;
        }
    }

    /// True once the schedule has nothing more to hand out.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// True while no worker has work.
    fn all_free(&self) -> bool {
        self.free.iter().all(|f| *f)
    }

    /// What to do at `now` (time since the main phase started).
    pub fn poll(&mut self, now: Duration) -> Action {
        loop {
            match self.phase {
                Phase::Main => match self.main(now) {
                    Some(action) => return action,
                    None => self.phase = Phase::Draining,
                },
                Phase::Draining => {
                    if !self.all_free() {
                        return Action::Wait { until: None };
                    }
                    let heal = !self.final_ops.is_empty();
                    self.phase = if heal {
                        Phase::Recovering {
                            until: now + self.setup.recovery,
                        }
                    } else {
                        Phase::Done
                    };
                    return Action::StopNemesis { heal };
                }
                Phase::Recovering { until } => {
                    if now < until {
                        return Action::Wait { until: Some(until) };
                    }
                    self.phase = Phase::Final { next_worker: 0 };
                }
                Phase::Final { next_worker } => {
                    let Some(slot) = self.final_ops.get_mut(next_worker) else {
                        self.phase = Phase::FinalDraining;
                        continue;
                    };
                    self.phase = Phase::Final {
                        next_worker: next_worker + 1,
                    };
                    if let Some(ops) = slot.take() {
                        self.free[next_worker] = false;
                        return Action::Final {
                            worker: next_worker,
                            ops,
                        };
                    }
                }
                Phase::FinalDraining => {
                    if !self.all_free() {
                        return Action::Wait { until: None };
                    }
                    self.phase = Phase::Done;
                }
                Phase::Done => return Action::Done,
            }
        }
    }

    /// The main phase's next action, or `None` when it is over.
    fn main(&mut self, now: Duration) -> Option<Action> {
        let limit = self.setup.time_limit;
        if now >= limit {
            return None;
        }
        if self.setup.rate <= 0.0 {
            return Some(Action::Wait { until: Some(limit) });
        }
        let Some(worker) = pick_worker(&self.free, self.round_robin) else {
            return Some(Action::Wait { until: Some(limit) });
        };
        let emit = self.next_time.max(now);
        if emit >= limit {
            return None;
        }
        if emit > now {
            return Some(Action::Wait { until: Some(emit) });
        }
        let ctx = GenContext {
            worker,
            elapsed: now,
        };
        let inv = self.setup.generator.next(&ctx, &mut self.setup.rng)?;
        self.free[worker] = false;
        self.round_robin = (worker + 1) % self.free.len();
        self.next_time = emit + stagger_gap(self.setup.rate, &mut self.setup.rng);
        Some(Action::Run { worker, inv })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::FixedOps;
    use rand::SeedableRng;
    use serde_json::json;

    /// Numbered operations, forever.
    struct Counting(u64);

    impl Generator for Counting {
        fn next(&mut self, _ctx: &GenContext, _rng: &mut StdRng) -> Option<Invocation> {
            self.0 += 1;
            Some(Invocation::new("op", json!(self.0)))
        }
    }

    fn schedule(rate: f64, with_final: bool) -> Schedule {
        Schedule::new(ScheduleSetup {
            concurrency: 2,
            rate,
            time_limit: Duration::from_secs(1),
            recovery: Duration::from_secs(2),
            generator: Box::new(Counting(0)),
            final_ops: with_final.then(|| {
                (0..2)
                    .map(|_| FixedOps::boxed(vec![Invocation::new("read", json!(null))]))
                    .collect()
            }),
            rng: StdRng::seed_from_u64(3),
        })
    }

    /// Runs the schedule with operations that take `op_time`, returning what happened.
    fn trace(mut s: Schedule, op_time: Duration) -> Vec<String> {
        let mut now = Duration::ZERO;
        let mut busy: Vec<(Duration, usize)> = Vec::new();
        let mut seen = Vec::new();
        for _ in 0..10_000 {
            busy.sort();
            while let Some(&(t, w)) = busy.first() {
                if t > now {
                    break;
                }
                busy.remove(0);
                s.worker_free(w);
            }
            match s.poll(now) {
                Action::Run { worker, inv } => {
                    seen.push(format!("{} run {} on {worker}", now.as_millis(), inv.value));
                    busy.push((now + op_time, worker));
                }
                Action::Final { worker, .. } => {
                    seen.push(format!("{} final on {worker}", now.as_millis()));
                    busy.push((now + op_time, worker));
                }
                Action::StopNemesis { heal } => {
                    seen.push(format!("{} stop nemesis heal={heal}", now.as_millis()))
                }
                Action::Wait { until } => {
                    let next_free = busy.iter().map(|b| b.0).min();
                    now = match (until, next_free) {
                        (Some(a), Some(b)) => a.min(b),
                        (a, b) => a.or(b).expect("something to wait for"),
                    };
                }
                Action::Done => {
                    seen.push(format!("{} done", now.as_millis()));
                    return seen;
                }
            }
        }
        panic!("the schedule never finished: {seen:?}");
    }

    #[test]
    fn operations_are_staggered_round_robin_and_stop_at_the_limit() {
        let seen = trace(schedule(10.0, false), Duration::from_millis(5));
        let runs: Vec<&String> = seen.iter().filter(|l| l.contains(" run ")).collect();
        // About rate × time limit operations, alternating workers while both are free.
        assert!((4..=20).contains(&runs.len()), "{seen:?}");
        assert!(runs[0].starts_with("0 run 1 on 0"), "{seen:?}");
        assert!(runs[1].ends_with("on 1"), "{seen:?}");
        let last_run: u128 = runs[runs.len() - 1]
            .split(' ')
            .next()
            .and_then(|t| t.parse().ok())
            .unwrap_or(u128::MAX);
        assert!(last_run < 1000, "{seen:?}");
        assert!(seen[seen.len() - 2].ends_with("stop nemesis heal=false"));
    }

    #[test]
    fn slow_operations_make_the_schedule_slip_not_burst() {
        // Each operation takes 400 ms: only a handful fit in 1 s on 2 workers.
        let seen = trace(schedule(1000.0, false), Duration::from_millis(400));
        let runs = seen.iter().filter(|l| l.contains(" run ")).count();
        assert!(runs <= 6, "{seen:?}");
        // The drain waits for the last operation before the nemesis stops.
        let stop = seen.iter().find(|l| l.contains("stop nemesis")).unwrap();
        let at: u128 = stop.split(' ').next().unwrap().parse().unwrap();
        assert!(at >= 1000, "{seen:?}");
    }

    #[test]
    fn final_phase_heals_waits_for_recovery_then_runs_every_worker() {
        let seen = trace(schedule(10.0, true), Duration::from_millis(5));
        let stop = seen.iter().position(|l| l.ends_with("heal=true")).unwrap();
        let at = |l: &str| -> u128 { l.split(' ').next().unwrap().parse().unwrap() };
        let finals: Vec<&String> = seen.iter().filter(|l| l.contains("final on")).collect();
        assert_eq!(finals.len(), 2, "{seen:?}");
        assert_eq!(at(finals[0]) - at(&seen[stop]), 2000, "{seen:?}");
        assert!(seen.last().unwrap().ends_with("done"));
    }

    #[test]
    fn rate_zero_issues_nothing_and_still_ends() {
        let seen = trace(schedule(0.0, false), Duration::from_millis(5));
        assert_eq!(seen, vec!["1000 stop nemesis heal=false", "1000 done"]);
    }
}
