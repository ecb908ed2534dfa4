//! txn-rw-register and txn-list-append histories from a serial executor, Elle's
//! generator shape (1-4 micro-ops, exponential keys, at most 16 writes per key),
//! optionally with injected anomalies (stale reads, visible failed writes).

use std::collections::HashMap;

use glomers_simkit::history::OpType;
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

use crate::sim::{exponential_slot, Outcome, Workload};

/// The generator and the store.
pub struct TxnWorkload {
    append: bool,
    anomalies: bool,
    stale_rate: f64,
    active: Vec<i64>,
    next_key: i64,
    next_value: HashMap<i64, i64>,
    /// Per key: every version written (register) or the list (append).
    store: HashMap<i64, Vec<i64>>,
}

impl TxnWorkload {
    /// `append`: list-append instead of rw-register; `stale_rate`: how often a read
    /// returns the previous version (only with `anomalies`).
    pub fn new(append: bool, anomalies: bool, stale_rate: f64) -> TxnWorkload {
        TxnWorkload {
            append,
            anomalies,
            stale_rate,
            active: (0..10).collect(),
            next_key: 10,
            next_value: HashMap::new(),
            store: HashMap::new(),
        }
    }

    fn read(&self, rng: &mut StdRng, k: i64) -> Value {
        let versions = self.store.get(&k).map(Vec::as_slice).unwrap_or(&[]);
        let stale = self.anomalies && !versions.is_empty() && rng.random_bool(self.stale_rate);
        let n = if stale {
            versions.len() - 1
        } else {
            versions.len()
        };
        if self.append {
            if n == 0 {
                Value::Null
            } else {
                json!(versions[..n])
            }
        } else {
            n.checked_sub(1).map_or(Value::Null, |i| json!(versions[i]))
        }
    }

    fn execute(&mut self, rng: &mut StdRng, txn: &Value, fill: bool) -> Value {
        let mut out = Vec::new();
        for m in txn.as_array().map(Vec::as_slice).unwrap_or(&[]) {
            let (f, k, v) = (
                m[0].as_str().unwrap_or(""),
                m[1].as_i64().unwrap_or(0),
                &m[2],
            );
            if f == "r" {
                out.push(json!([
                    "r",
                    k,
                    if fill { self.read(rng, k) } else { Value::Null }
                ]));
            } else {
                self.store
                    .entry(k)
                    .or_default()
                    .push(v.as_i64().unwrap_or(0));
                out.push(m.clone());
            }
        }
        Value::Array(out)
    }
}

impl Workload for TxnWorkload {
    fn invoke(&mut self, rng: &mut StdRng, _worker: usize, last: bool) -> Option<(String, Value)> {
        if last {
            return None;
        }
        let len = rng.random_range(1..=4);
        let mut mops = Vec::new();
        while mops.len() < len {
            let slot = exponential_slot(rng, self.active.len());
            let k = self.active[slot];
            if rng.random_bool(0.5) {
                mops.push(json!(["r", k, null]));
                continue;
            }
            let v = *self.next_value.get(&k).unwrap_or(&1);
            if v > 16 {
                self.active[slot] = self.next_key;
                self.next_key += 1;
                continue;
            }
            self.next_value.insert(k, v + 1);
            mops.push(json!([if self.append { "append" } else { "w" }, k, v]));
        }
        Some(("txn".to_string(), Value::Array(mops)))
    }

    fn apply(&mut self, rng: &mut StdRng, _worker: usize, _f: &str, value: &Value) -> Outcome {
        let p: f64 = rng.random();
        if p < 0.005 {
            if self.anomalies && rng.random_bool(0.3) {
                self.execute(rng, value, false);
            }
            return Outcome::err(OpType::Fail, value.clone(), json!([30, "txn-conflict"]));
        }
        if p < 0.01 {
            if rng.random_bool(0.5) {
                self.execute(rng, value, false);
            }
            return Outcome::err(OpType::Info, value.clone(), json!(["net-timeout"]));
        }
        Outcome::ok(self.execute(rng, value, true))
    }
}
