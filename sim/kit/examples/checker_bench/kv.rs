//! lin-kv histories as Maelstrom generates them: one group of workers on one key at
//! a time, moving to a new key once more than 20 processes have touched it; half
//! reads, then writes and cas over values 0..4. Optionally with stale reads.

use std::collections::{HashMap, HashSet};

use glomers_simkit::history::OpType;
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

use crate::sim::{Outcome, Workload};

/// The generator and the register store.
pub struct KvWorkload {
    anomalies: bool,
    key: i64,
    processes: HashSet<(usize, u64)>,
    generation: Vec<u64>,
    store: HashMap<i64, Vec<i64>>,
}

impl KvWorkload {
    /// A new workload for `concurrency` workers.
    pub fn new(concurrency: usize, anomalies: bool) -> KvWorkload {
        KvWorkload {
            anomalies,
            key: 0,
            processes: HashSet::new(),
            generation: vec![0; concurrency],
            store: HashMap::new(),
        }
    }

    fn current(&self, k: i64) -> Option<i64> {
        self.store.get(&k).and_then(|v| v.last().copied())
    }
}

impl Workload for KvWorkload {
    fn invoke(&mut self, rng: &mut StdRng, worker: usize, last: bool) -> Option<(String, Value)> {
        if last {
            return None;
        }
        self.processes.insert((worker, self.generation[worker]));
        if self.processes.len() > 20 {
            self.key += 1;
            self.processes.clear();
        }
        let k = self.key;
        Some(match rng.random_range(0..6) {
            0..=2 => ("read".to_string(), json!([k, null])),
            3 => ("write".to_string(), json!([k, rng.random_range(0..5)])),
            _ => (
                "cas".to_string(),
                json!([k, [rng.random_range(0..5), rng.random_range(0..5)]]),
            ),
        })
    }

    fn apply(&mut self, rng: &mut StdRng, _worker: usize, f: &str, value: &Value) -> Outcome {
        let k = value[0].as_i64().unwrap_or(0);
        let timeout = rng.random_bool(0.005);
        match f {
            "read" => {
                if timeout {
                    return Outcome::err(OpType::Fail, value.clone(), json!(["net-timeout"]));
                }
                let versions = self.store.get(&k).map(Vec::as_slice).unwrap_or(&[]);
                let stale = self.anomalies && versions.len() >= 2 && rng.random_bool(0.02);
                let v = if stale {
                    Some(versions[versions.len() - 2])
                } else {
                    versions.last().copied()
                };
                Outcome::ok(json!([k, v]))
            }
            "write" => {
                if !timeout || rng.random_bool(0.5) {
                    self.store
                        .entry(k)
                        .or_default()
                        .push(value[1].as_i64().unwrap_or(0));
                }
                if timeout {
                    return Outcome::err(OpType::Info, value.clone(), json!(["net-timeout"]));
                }
                Outcome::ok(value.clone())
            }
            _ => {
                let (from, to) = (value[1][0].as_i64(), value[1][1].as_i64().unwrap_or(0));
                let matches = self.current(k) == from;
                if matches && (!timeout || rng.random_bool(0.5)) {
                    self.store.entry(k).or_default().push(to);
                }
                if timeout {
                    return Outcome::err(OpType::Info, value.clone(), json!(["net-timeout"]));
                }
                match self.current(k) {
                    _ if matches => Outcome::ok(value.clone()),
                    None => Outcome::err(
                        OpType::Fail,
                        value.clone(),
                        json!([20, "key does not exist"]),
                    ),
                    Some(_) => Outcome::err(
                        OpType::Fail,
                        value.clone(),
                        json!([22, "precondition failed"]),
                    ),
                }
            }
        }
    }

    fn new_process(&mut self, worker: usize) {
        self.generation[worker] += 1;
    }
}
