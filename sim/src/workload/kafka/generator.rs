//! The kafka main-phase generator (Jepsen's kafka workload in assign-only,
//! non-transactional mode, spec §5.9).
//!
//! - Each operation is one micro-op of Elle's generator with transactions of length 1:
//!   a write becomes `send {key, msg}` (values 1, 2, … per key), a read becomes `poll`.
//!   Keys follow the exponential distribution over `--key-count` active keys (default
//!   10) and retire past `--max-writes-per-key`; they are sent as decimal strings.
//! - With probability 1/64 an operation is replaced by an `assign` of its key (the
//!   displaced operation comes next); a third of those assigns also take every key with
//!   acknowledged sends that no poll has reached.
//! - `crash` operations come on their own schedule: gaps uniform in [0, 2 × 30 /
//!   concurrency) s, the first one due at the start. A due crash and the next regular
//!   operation are equally likely to go first (Jepsen's tie-break).

use super::tracker::Tracker;
use crate::workload::wr_txns::{MicroOp, WrTxns};
use crate::workload::{GenContext, Generator, Invocation};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Probability that an operation is replaced by an assign.
pub const ASSIGN_P: f64 = 1.0 / 64.0;
/// Probability that an assign also takes the keys with unpolled sends.
pub const UNSEEN_P: f64 = 1.0 / 3.0;
/// Seconds between crashes of any one client, on average.
pub const CRASH_INTERVAL_S: f64 = 30.0;

/// The main-phase generator.
pub struct KafkaGen {
    txns: WrTxns,
    tracker: Arc<Mutex<Tracker>>,
    displaced: Option<MicroOp>,
    crash_mean_gap: f64,
    next_crash: Duration,
}

impl KafkaGen {
    /// A generator for `concurrency` workers.
    pub fn new(txns: WrTxns, tracker: Arc<Mutex<Tracker>>, concurrency: usize) -> KafkaGen {
        KafkaGen {
            txns,
            tracker,
            displaced: None,
            crash_mean_gap: CRASH_INTERVAL_S / concurrency.max(1) as f64,
            next_crash: Duration::ZERO,
        }
    }

    fn assign(&self, op: MicroOp, rng: &mut StdRng) -> Invocation {
        let mut keys = vec![op.key];
        if rng.random_bool(UNSEEN_P) {
            let t = self.tracker.lock().unwrap_or_else(|p| p.into_inner());
            for k in t.unseen_keys() {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        let keys: Vec<Value> = keys.iter().map(|k| json!(k.to_string())).collect();
        Invocation::new("assign", Value::Array(keys))
    }
}

impl Generator for KafkaGen {
    fn next(&mut self, ctx: &GenContext, rng: &mut StdRng) -> Option<Invocation> {
        if ctx.elapsed >= self.next_crash && rng.random_bool(0.5) {
            let gap = rng.random_range(0.0..2.0 * self.crash_mean_gap);
            self.next_crash = ctx.elapsed + Duration::from_secs_f64(gap);
            return Some(Invocation::new("crash", Value::Null));
        }
        let op = match self.displaced.take() {
            Some(op) => op,
            None => self.txns.next_txn(rng).first().copied()?,
        };
        if rng.random_bool(ASSIGN_P) {
            self.displaced = Some(op);
            return Some(self.assign(op, rng));
        }
        Some(match op.value {
            Some(v) => Invocation::new("send", json!({"key": op.key.to_string(), "msg": v})),
            None => Invocation::new("poll", Value::Null),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::wr_txns::WrOptions;
    use rand::SeedableRng;
    use std::collections::HashMap;

    fn generator(tracker: Arc<Mutex<Tracker>>, concurrency: usize) -> KafkaGen {
        let txns = WrTxns::new(WrOptions {
            key_count: 10,
            min_len: 1,
            max_len: 1,
            max_writes_per_key: 16,
        });
        KafkaGen::new(txns, tracker, concurrency)
    }

    fn at(secs: f64) -> GenContext {
        GenContext {
            worker: 0,
            elapsed: Duration::from_secs_f64(secs),
        }
    }

    #[test]
    fn the_mix_is_half_sends_half_polls_with_rare_assigns() {
        let tracker = Arc::new(Mutex::new(Tracker::default()));
        let mut g = generator(tracker, 2);
        let mut rng = StdRng::seed_from_u64(4);
        let mut count: HashMap<String, usize> = HashMap::new();
        let mut msgs: HashMap<String, Vec<u64>> = HashMap::new();
        let n = 20_000;
        for i in 0..n {
            // 20 000 ops over 20 s: about 2 × 20 / 15 crashes.
            let inv = g.next(&at(i as f64 / 1000.0), &mut rng).unwrap();
            *count.entry(inv.f.clone()).or_default() += 1;
            if inv.f == "send" {
                let k = inv.value["key"].as_str().unwrap().to_string();
                assert!(k.parse::<u64>().is_ok());
                msgs.entry(k)
                    .or_default()
                    .push(inv.value["msg"].as_u64().unwrap());
            }
            if inv.f == "assign" {
                assert!(inv.value[0].is_string());
            }
        }
        let sends = count["send"] as f64;
        let polls = count["poll"] as f64;
        // Retiring a key draws the micro-op again, so sends come out a little rarer.
        assert!((0.85..1.02).contains(&(sends / polls)), "{count:?}");
        let assigns = count["assign"] as f64 / n as f64;
        assert!((assigns - 1.0 / 64.0).abs() < 0.004, "{assigns}");
        assert!((1..=6).contains(&count["crash"]), "{count:?}");
        for (k, vs) in msgs {
            let expected: Vec<u64> = (1..=vs.len() as u64).collect();
            assert_eq!(vs, expected, "key {k}: values 1, 2, … per key");
        }
    }

    #[test]
    fn crashes_come_every_thirty_seconds_per_client_on_average() {
        let tracker = Arc::new(Mutex::new(Tracker::default()));
        let mut g = generator(tracker, 4);
        let mut rng = StdRng::seed_from_u64(5);
        let mut crashes = 0;
        for i in 0..600_000 {
            if g.next(&at(i as f64 / 1000.0), &mut rng).unwrap().f == "crash" {
                crashes += 1;
            }
        }
        // 600 s with a mean gap of 7.5 s: about 80.
        assert!((65..=95).contains(&crashes), "{crashes}");
    }

    #[test]
    fn some_assigns_take_the_keys_with_unpolled_sends() {
        let tracker = Arc::new(Mutex::new(Tracker::default()));
        tracker
            .lock()
            .unwrap()
            .record_ok("send", &json!({"key": "77", "msg": 1, "offset": 3}));
        let mut g = generator(tracker, 2);
        let mut rng = StdRng::seed_from_u64(6);
        let assigns: Vec<Invocation> = (0..20_000)
            .map(|i| g.next(&at(i as f64 / 1000.0), &mut rng).unwrap())
            .filter(|i| i.f == "assign")
            .collect();
        let with_unseen = assigns
            .iter()
            .filter(|a| a.value.as_array().unwrap().contains(&json!("77")))
            .count() as f64;
        let frac = with_unseen / assigns.len() as f64;
        assert!(
            (frac - 1.0 / 3.0).abs() < 0.12,
            "{frac} of {}",
            assigns.len()
        );
        assert!(assigns.iter().all(|a| a.value[0] != json!("77")));
    }
}
