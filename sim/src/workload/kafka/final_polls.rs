//! Kafka's final phase (spec §5.9), per worker, all of it within 10 s of its first
//! operation: crash (a fresh client), assign every key the main phase learned about,
//! seeking to the beginning, then poll with gaps uniform in [0, 0.4 s) until this
//! worker's polls have reached, for every key, the highest offset recorded in the main
//! phase. Nothing at all happens when the main phase learned no key.

use super::tracker::{max_polled, Tracker};
use crate::workload::{FinalOps, Invocation};
use glomers_simkit::history::{Op, OpType};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the final phase may last.
pub const FINAL_LIMIT: Duration = Duration::from_secs(10);
/// Polls are staggered with gaps uniform in [0, 2 × this).
pub const POLL_MEAN_GAP: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Crash,
    Assign,
    Poll,
}

/// One worker's final operations.
pub struct FinalPolls {
    worker: usize,
    tracker: Arc<Mutex<Tracker>>,
    stage: Stage,
    /// Keys and target offsets, read when the phase starts.
    targets: Option<(Vec<u64>, BTreeMap<u64, i64>)>,
    rng: Option<StdRng>,
    next_poll: Option<Instant>,
}

fn final_op(f: &str, value: Value) -> Invocation {
    Invocation {
        f: f.to_string(),
        value,
        final_phase: true,
    }
}

impl FinalPolls {
    /// The final operations of `worker`.
    pub fn new(worker: usize, tracker: Arc<Mutex<Tracker>>) -> FinalPolls {
        FinalPolls {
            worker,
            tracker,
            stage: Stage::Crash,
            targets: None,
            rng: None,
            next_poll: None,
        }
    }

    /// Reads the targets and the shared deadline (set by the first worker to start).
    fn start(&mut self) -> Instant {
        let mut t = self.tracker.lock().unwrap_or_else(|p| p.into_inner());
        if self.targets.is_none() {
            let keys = t.max_offsets.keys().copied().collect();
            self.targets = Some((keys, t.max_offsets.clone()));
            self.rng = Some(crate::seed::rng(t.seed, "kafka-final", self.worker as u64));
        }
        *t.final_deadline
            .get_or_insert_with(|| Instant::now() + FINAL_LIMIT)
    }
}

impl FinalOps for FinalPolls {
    fn next(&mut self, previous: Option<&Op>) -> Option<Invocation> {
        let deadline = self.start();
        let (keys, targets) = self.targets.as_mut()?;
        if let Some(p) = previous.filter(|p| p.kind == OpType::Ok && p.f == "poll") {
            for (k, seen) in max_polled(&p.value) {
                if targets.get(&k).is_some_and(|&t| t <= seen) {
                    targets.remove(&k);
                }
            }
        }
        if targets.is_empty() {
            return None;
        }
        let now = Instant::now();
        match self.stage {
            Stage::Crash => {
                self.stage = Stage::Assign;
                (now < deadline).then(|| final_op("crash", Value::Null))
            }
            Stage::Assign => {
                self.stage = Stage::Poll;
                let ks: Vec<Value> = keys.iter().map(|k| json!(k.to_string())).collect();
                (now < deadline).then(|| final_op("assign", Value::Array(ks)))
            }
            Stage::Poll => {
                let at = self.next_poll.unwrap_or(now);
                if at >= deadline {
                    return None;
                }
                if at > now {
                    std::thread::sleep(at - now);
                }
                let gap = self
                    .rng
                    .as_mut()?
                    .random_range(Duration::ZERO..2 * POLL_MEAN_GAP);
                self.next_poll = Some(at.max(now) + gap);
                Some(final_op("poll", Value::Null))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: OpType, f: &str, value: Value) -> Op {
        Op {
            index: 0,
            time: 0,
            process: 0,
            kind,
            f: f.into(),
            value,
            node: None,
            client: None,
            msg_id: None,
            error: None,
            final_phase: true,
        }
    }

    fn tracker(offsets: &[(u64, i64)]) -> Arc<Mutex<Tracker>> {
        Arc::new(Mutex::new(Tracker {
            max_offsets: offsets.iter().copied().collect(),
            ..Tracker::default()
        }))
    }

    #[test]
    fn crash_assign_then_poll_until_every_target_is_reached() {
        let mut f = FinalPolls::new(0, tracker(&[(1, 5), (2, 0)]));
        let first = f.next(None).unwrap();
        assert_eq!((first.f.as_str(), first.final_phase), ("crash", true));
        let assign = f.next(None).unwrap();
        assert_eq!(assign.f, "assign");
        assert_eq!(assign.value, json!(["1", "2"]));
        assert_eq!(f.next(None).unwrap().f, "poll");
        // Key 1 only up to 3: keep polling. A failed poll changes nothing.
        let p = op(
            OpType::Ok,
            "poll",
            json!({"msgs": {"1": [[2, 1], [3, 2]], "2": [[0, 1]]}}),
        );
        assert_eq!(f.next(Some(&p)).unwrap().f, "poll");
        let failed = op(OpType::Fail, "poll", json!({"msgs": {"1": [[5, 3]]}}));
        assert_eq!(f.next(Some(&failed)).unwrap().f, "poll");
        let p = op(OpType::Ok, "poll", json!({"msgs": {"1": [[4, 3], [5, 4]]}}));
        assert!(f.next(Some(&p)).is_none(), "caught up on every key");
    }

    #[test]
    fn nothing_to_do_without_known_keys() {
        let mut f = FinalPolls::new(3, tracker(&[]));
        assert!(f.next(None).is_none());
    }

    #[test]
    fn the_phase_stops_at_the_shared_deadline() {
        let t = tracker(&[(1, 5)]);
        t.lock().unwrap().final_deadline = Some(Instant::now() + Duration::from_millis(300));
        let mut f = FinalPolls::new(0, t);
        let mut polls = 0;
        let started = Instant::now();
        while let Some(inv) = f.next(None) {
            if inv.f == "poll" {
                polls += 1;
            }
        }
        assert!(polls >= 1, "the first poll is immediate");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
