//! g-set (spec §5.4): `add {element}` → `add_ok`, `read` → `read_ok {value: [...]}` (the
//! field is `value`); no error wrapper (every error or timeout is info); a final read per
//! worker. Checker: set-full over adds.
//!
//! Deviation (representation only): Maelstrom does not flag g-set's final reads `:final?`;
//! we set `final_phase` on every final-phase op, as the history model documents.

use super::simple::{same_value, OpSpec, SimpleClient};
use super::{
    FinalOps, FixedOps, GenContext, Generator, Invocation, Workload, WorkloadClient,
    DEFAULT_TIMEOUT,
};
use crate::client::outcome::ErrorMode;
use crate::client::schema::{ReplySchema, Shape};
use crate::plan::TestPlan;
use glomers_simkit::checker::CheckResult;
use glomers_simkit::history::History;
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

/// The g-set workload.
pub struct GSet;

const ADD_OK: ReplySchema = ReplySchema {
    reply_type: "add_ok",
    fields: &[],
};
const READ_OK: ReplySchema = ReplySchema {
    reply_type: "read_ok",
    // Maelstrom's `[s/Any]` schema accepts null as an empty sequence.
    fields: &[("value", Shape::ArrayOrNull)],
};

struct Gen {
    next_element: u64,
}

impl Generator for Gen {
    fn next(&mut self, _ctx: &GenContext, rng: &mut StdRng) -> Option<Invocation> {
        if rng.random_bool(0.5) {
            let v = self.next_element;
            self.next_element += 1;
            Some(Invocation::new("add", json!(v)))
        } else {
            Some(Invocation::new("read", Value::Null))
        }
    }
}

fn spec(inv: &Invocation) -> OpSpec {
    if inv.f == "add" {
        OpSpec {
            request: json!({"type": "add", "element": inv.value}),
            schema: &ADD_OK,
            idempotent: false,
            ok: same_value,
        }
    } else {
        OpSpec {
            request: json!({"type": "read"}),
            schema: &READ_OK,
            idempotent: true,
            ok: |_, body: &Value| match &body["value"] {
                Value::Null => json!([]),
                v => v.clone(),
            },
        }
    }
}

impl Workload for GSet {
    fn name(&self) -> &'static str {
        "g-set"
    }
    fn reusable_client(&self) -> bool {
        false
    }
    fn has_final_phase(&self) -> bool {
        true
    }
    fn generator(&self, _plan: &TestPlan) -> Box<dyn Generator> {
        Box::new(Gen { next_element: 0 })
    }
    fn final_ops(&self, _worker: usize) -> Box<dyn FinalOps> {
        FixedOps::boxed(vec![Invocation {
            f: "read".into(),
            value: Value::Null,
            final_phase: true,
        }])
    }
    fn client(&self, _plan: &TestPlan) -> Box<dyn WorkloadClient> {
        Box::new(SimpleClient {
            spec,
            mode: ErrorMode::NoWrapper,
            timeout: DEFAULT_TIMEOUT,
        })
    }
    fn check(&self, history: &History, _plan: &TestPlan) -> CheckResult {
        glomers_simkit::checker::set_full::check(history, "add")
    }
}
