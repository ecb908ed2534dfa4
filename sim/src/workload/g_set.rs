//! g-set (spec §5.4): `add {element}` → `add_ok`, `read` → `read_ok {value: [...]}` (the
//! field is `value`); no error wrapper (every error or timeout is info); a final read per
//! worker. Checker: set-full over adds.
//!
//! Deviation (representation only): Maelstrom does not flag g-set's final reads `:final?`;
//! we set `final_phase` on every final-phase op, as the history model documents.

use super::simple::{add_or_read, final_read, list_or_empty, AddOrRead, OpSpec, SimpleClient};
use super::{FinalOps, Generator, Invocation, Workload, WorkloadClient};
use crate::client::outcome::ErrorMode;
use crate::client::schema::{ReplySchema, Shape};
use crate::plan::TestPlan;
use glomers_simkit::checker::CheckResult;
use glomers_simkit::history::History;
use serde_json::Value;

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

fn spec(inv: &Invocation) -> OpSpec {
    add_or_read(
        inv,
        "add",
        "element",
        &ADD_OK,
        &READ_OK,
        |_, body: &Value| list_or_empty(&body["value"]),
    )
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
        Box::new(AddOrRead::new("add"))
    }
    fn final_ops(&self, _worker: usize) -> Box<dyn FinalOps> {
        final_read()
    }
    fn client(&self, _plan: &TestPlan) -> Box<dyn WorkloadClient> {
        SimpleClient::boxed(spec, ErrorMode::NoWrapper)
    }
    fn check(&self, history: &History, _plan: &TestPlan) -> CheckResult {
        glomers_simkit::checker::set_full::check(history, "add")
    }
}
