//! kafka histories from one serial log per key, following Maelstrom's client and
//! generator: sends and polls half and half, occasional assigns and crashes, and a
//! final phase where every worker crashes, assigns all keys from the beginning and
//! polls to the end. Optionally with injected skips, lost and duplicated messages.

use std::collections::HashMap;

use glomers_simkit::history::OpType;
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Map, Value};

use crate::sim::{exponential_slot, Outcome, Workload};

/// Where a worker is in the final phase.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Final {
    No,
    Crash,
    Assign,
    Poll,
    Done,
}

/// The generator, the clients and the logs.
pub struct KafkaWorkload {
    anomalies: bool,
    active: Vec<i64>,
    next_key: i64,
    next_value: HashMap<i64, i64>,
    logs: HashMap<String, Vec<(i64, i64)>>,
    committed: HashMap<String, usize>,
    /// Per worker: assigned key -> next position in the log.
    clients: Vec<HashMap<String, usize>>,
    finals: Vec<Final>,
}

impl KafkaWorkload {
    /// A new workload for `concurrency` workers.
    pub fn new(concurrency: usize, anomalies: bool) -> KafkaWorkload {
        KafkaWorkload {
            anomalies,
            active: (0..10).collect(),
            next_key: 10,
            next_value: HashMap::new(),
            logs: HashMap::new(),
            committed: HashMap::new(),
            clients: vec![HashMap::new(); concurrency],
            finals: vec![Final::No; concurrency],
        }
    }

    fn key(&mut self, rng: &mut StdRng) -> String {
        let slot = exponential_slot(rng, self.active.len());
        self.active[slot].to_string()
    }

    fn poll(&mut self, rng: &mut StdRng, worker: usize, batch: usize) -> Value {
        let mut msgs = Map::new();
        let keys: Vec<String> = self.clients[worker].keys().cloned().collect();
        for k in keys {
            let log = self.logs.get(&k).map(Vec::as_slice).unwrap_or(&[]);
            let pos = self.clients[worker][&k];
            let mut start = pos;
            if self.anomalies && start < log.len() && rng.random_bool(0.01) {
                start += 1; // skip a message
                self.clients[worker].insert(k.clone(), start);
            }
            let end = (start + batch).min(log.len());
            if start >= end {
                continue;
            }
            msgs.insert(
                k.clone(),
                json!(log[start..end]
                    .iter()
                    .map(|(o, m)| json!([o, m]))
                    .collect::<Vec<_>>()),
            );
            self.clients[worker].insert(k.clone(), end);
            let c = self.committed.entry(k).or_default();
            *c = (*c).max(end);
        }
        json!({ "msgs": msgs })
    }

    fn polled_to_end(&self, worker: usize) -> bool {
        self.logs
            .iter()
            .all(|(k, l)| self.clients[worker].get(k).is_some_and(|&p| p >= l.len()))
    }
}

impl Workload for KafkaWorkload {
    fn invoke(&mut self, rng: &mut StdRng, worker: usize, last: bool) -> Option<(String, Value)> {
        if last {
            return match self.finals[worker] {
                Final::No | Final::Crash => {
                    self.finals[worker] = Final::Crash;
                    Some(("crash".into(), Value::Null))
                }
                Final::Assign => {
                    let mut keys: Vec<String> = self.logs.keys().cloned().collect();
                    keys.sort();
                    Some(("assign".into(), json!(keys)))
                }
                Final::Poll if !self.polled_to_end(worker) => Some(("poll".into(), Value::Null)),
                Final::Poll | Final::Done => {
                    self.finals[worker] = Final::Done;
                    None
                }
            };
        }
        if rng.random_range(0..3000) == 0 {
            return Some(("crash".into(), Value::Null));
        }
        let k = self.key(rng);
        if rng.random_range(0..64) == 0 {
            let mut keys = vec![k];
            if rng.random_bool(0.33) {
                keys.push(self.key(rng));
            }
            keys.sort();
            keys.dedup();
            return Some(("assign".into(), json!(keys)));
        }
        if rng.random_bool(0.5) {
            return Some(("poll".into(), Value::Null));
        }
        let slot = self
            .active
            .iter()
            .position(|a| a.to_string() == k)
            .unwrap_or(0);
        let ki = self.active[slot];
        let v = *self.next_value.get(&ki).unwrap_or(&1);
        if v > 16 {
            self.active[slot] = self.next_key;
            self.next_key += 1;
            return Some(("poll".into(), Value::Null));
        }
        self.next_value.insert(ki, v + 1);
        Some(("send".into(), json!({ "key": k, "msg": v })))
    }

    fn apply(&mut self, rng: &mut StdRng, worker: usize, f: &str, value: &Value) -> Outcome {
        match f {
            "crash" => {
                if self.finals[worker] == Final::Crash {
                    self.finals[worker] = Final::Assign;
                }
                Outcome::err(OpType::Info, Value::Null, json!(["crash"]))
            }
            "assign" => {
                let keys: Vec<String> = value
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|k| k.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                let seek_start = self.finals[worker] == Final::Assign;
                let client = &mut self.clients[worker];
                client.retain(|k, _| keys.contains(k));
                for k in keys {
                    let start = if seek_start {
                        0
                    } else {
                        *self.committed.get(&k).unwrap_or(&0)
                    };
                    client.entry(k).or_insert(start);
                }
                if seek_start {
                    self.finals[worker] = Final::Poll;
                }
                Outcome::ok(value.clone())
            }
            "poll" => {
                let batch = if self.finals[worker] == Final::Poll {
                    200
                } else {
                    10
                };
                Outcome::ok(self.poll(rng, worker, batch))
            }
            _ => {
                let k = value["key"].as_str().unwrap_or("0").to_string();
                let msg = value["msg"].as_i64().unwrap_or(0);
                if rng.random_bool(0.002) {
                    if rng.random_bool(0.5) {
                        let log = self.logs.entry(k).or_default();
                        log.push((log.len() as i64, msg));
                    }
                    return Outcome::err(OpType::Info, value.clone(), json!(["net-timeout"]));
                }
                let log = self.logs.entry(k.clone()).or_default();
                let offset = log.len() as i64;
                let lost = self.anomalies && rng.random_bool(0.0005);
                if !lost {
                    log.push((offset, msg));
                    if self.anomalies && rng.random_bool(0.0005) {
                        log.push((offset + 1, msg)); // stored twice
                    }
                }
                Outcome::ok(json!({ "key": k, "msg": msg, "offset": offset }))
            }
        }
    }

    fn new_process(&mut self, worker: usize) {
        self.clients[worker].clear();
    }
}
