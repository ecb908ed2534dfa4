//! g-counter and pn-counter (spec §5.5): `add {delta}` → `add_ok`, `read` →
//! `read_ok {value: int}`; no error wrapper; a final read per worker, flagged final.
//! pn-counter mixes reads and adds with delta uniform in −5..4; g-counter is the same
//! stream with negative adds filtered out (so deltas 0..4, about ⅓ adds, ⅔ reads).

use super::simple::{add_or_read, final_read, OpSpec, SimpleClient};
use super::{FinalOps, GenContext, Generator, Invocation, Workload, WorkloadClient};
use crate::client::outcome::ErrorMode;
use crate::client::schema::{ReplySchema, Shape};
use crate::plan::TestPlan;
use glomers_simkit::checker::CheckResult;
use glomers_simkit::history::History;
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

/// g-counter (`grow_only`) or pn-counter.
pub struct Counter {
    /// Drop negative adds (g-counter).
    pub grow_only: bool,
}

const ADD_OK: ReplySchema = ReplySchema {
    reply_type: "add_ok",
    fields: &[],
};
const READ_OK: ReplySchema = ReplySchema {
    reply_type: "read_ok",
    fields: &[("value", Shape::Int)],
};

struct Gen {
    grow_only: bool,
}

impl Generator for Gen {
    fn next(&mut self, _ctx: &GenContext, rng: &mut StdRng) -> Option<Invocation> {
        loop {
            if rng.random_bool(0.5) {
                return Some(Invocation::new("read", Value::Null));
            }
            let delta: i64 = rng.random_range(-5..5);
            if self.grow_only && delta < 0 {
                continue;
            }
            return Some(Invocation::new("add", json!(delta)));
        }
    }
}

fn spec(inv: &Invocation) -> OpSpec {
    add_or_read(inv, "add", "delta", &ADD_OK, &READ_OK, |_, body: &Value| {
        body["value"].clone()
    })
}

impl Workload for Counter {
    fn name(&self) -> &'static str {
        if self.grow_only {
            "g-counter"
        } else {
            "pn-counter"
        }
    }
    fn reusable_client(&self) -> bool {
        false
    }
    fn has_final_phase(&self) -> bool {
        true
    }
    fn generator(&self, _plan: &TestPlan) -> Box<dyn Generator> {
        Box::new(Gen {
            grow_only: self.grow_only,
        })
    }
    fn final_ops(&self, _worker: usize) -> Box<dyn FinalOps> {
        final_read()
    }
    fn client(&self, _plan: &TestPlan) -> Box<dyn WorkloadClient> {
        SimpleClient::boxed(spec, ErrorMode::NoWrapper)
    }
    fn check(&self, history: &History, _plan: &TestPlan) -> CheckResult {
        glomers_simkit::checker::counter::check(history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::TEST_CTX;
    use rand::SeedableRng;

    fn mix(grow_only: bool) -> (usize, usize, Vec<i64>) {
        let mut rng = StdRng::seed_from_u64(3);
        let mut g = Gen { grow_only };
        let ops: Vec<Invocation> = (0..3000)
            .map(|_| g.next(&TEST_CTX, &mut rng).unwrap())
            .collect();
        let deltas: Vec<i64> = ops
            .iter()
            .filter(|o| o.f == "add")
            .map(|o| o.value.as_i64().unwrap())
            .collect();
        let reads = ops.iter().filter(|o| o.f == "read").count();
        (reads, deltas.len(), deltas)
    }

    #[test]
    fn g_counter_adds_are_non_negative_and_a_third() {
        let (reads, adds, deltas) = mix(true);
        assert!(deltas.iter().all(|d| (0..=4).contains(d)));
        assert!(deltas.contains(&0) && deltas.contains(&4));
        let frac = adds as f64 / (reads + adds) as f64;
        assert!((frac - 1.0 / 3.0).abs() < 0.04, "{frac}");
    }

    #[test]
    fn pn_counter_deltas_span_minus_five_to_four() {
        let (_, _, deltas) = mix(false);
        assert!(deltas.iter().all(|d| (-5..=4).contains(d)));
        assert!(deltas.contains(&-5) && deltas.contains(&4));
    }
}
