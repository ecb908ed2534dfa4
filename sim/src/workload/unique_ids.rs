//! unique-ids (spec §5.2): `generate` → `generate_ok {id}`; reusable client; nothing is
//! idempotent; no final phase; valid iff no id is returned twice.

use super::simple::{OpSpec, SimpleClient};
use super::{GenContext, Generator, Invocation, Workload, WorkloadClient};
use crate::client::outcome::ErrorMode;
use crate::client::schema::{ReplySchema, Shape};
use crate::plan::TestPlan;
use glomers_simkit::checker::CheckResult;
use glomers_simkit::history::History;
use rand::rngs::StdRng;
use serde_json::{json, Value};

/// The unique-ids workload.
pub struct UniqueIds;

const GENERATE_OK: ReplySchema = ReplySchema {
    reply_type: "generate_ok",
    fields: &[("id", Shape::Any)],
};

struct Gen;

impl Generator for Gen {
    fn next(&mut self, _ctx: &GenContext, _rng: &mut StdRng) -> Option<Invocation> {
        Some(Invocation::new("generate", Value::Null))
    }
}

fn spec(_inv: &Invocation) -> OpSpec {
    OpSpec {
        request: json!({"type": "generate"}),
        schema: &GENERATE_OK,
        idempotent: false,
        ok: |_, body: &Value| body["id"].clone(),
    }
}

impl Workload for UniqueIds {
    fn name(&self) -> &'static str {
        "unique-ids"
    }
    fn reusable_client(&self) -> bool {
        true
    }
    fn generator(&self, _plan: &TestPlan) -> Box<dyn Generator> {
        Box::new(Gen)
    }
    fn client(&self, _plan: &TestPlan) -> Box<dyn WorkloadClient> {
        SimpleClient::boxed(spec, ErrorMode::WithErrors)
    }
    fn check(&self, history: &History, _plan: &TestPlan) -> CheckResult {
        glomers_simkit::checker::unique_ids::check(history)
    }
}
