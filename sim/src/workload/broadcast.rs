//! broadcast (spec §5.3): `topology` at setup, then a 50/50 mix of `broadcast` (values 0,
//! 1, 2, … from one shared counter) and `read`; a final read per worker, flagged final.
//! `read` is idempotent, `broadcast` is not. Checker: set-full over broadcasts.

use super::simple::{add_or_read, final_read, list_or_empty, AddOrRead, OpSpec, SimpleClient};
use super::{
    FinalOps, Generator, Invocation, SetupRequest, Workload, WorkloadClient, DEFAULT_TIMEOUT,
};
use crate::client::outcome::ErrorMode;
use crate::client::schema::{ReplySchema, Shape};
use crate::client::RpcResult;
use crate::plan::TestPlan;
use crate::topology;
use glomers_simkit::checker::CheckResult;
use glomers_simkit::history::History;
use serde_json::{json, Value};

/// The broadcast workload.
pub struct Broadcast;

const BROADCAST_OK: ReplySchema = ReplySchema {
    reply_type: "broadcast_ok",
    fields: &[],
};
const READ_OK: ReplySchema = ReplySchema {
    reply_type: "read_ok",
    // Maelstrom's `[s/Any]` schema accepts null as an empty sequence.
    fields: &[("messages", Shape::ArrayOrNull)],
};
const TOPOLOGY_OK: ReplySchema = ReplySchema {
    reply_type: "topology_ok",
    fields: &[],
};

fn spec(inv: &Invocation) -> OpSpec {
    add_or_read(
        inv,
        "broadcast",
        "message",
        &BROADCAST_OK,
        &READ_OK,
        |_, body: &Value| list_or_empty(&body["messages"]),
    )
}

impl Workload for Broadcast {
    fn name(&self) -> &'static str {
        "broadcast"
    }
    fn reusable_client(&self) -> bool {
        false
    }
    fn has_final_phase(&self) -> bool {
        true
    }
    fn setup_request(&self, plan: &TestPlan) -> Option<SetupRequest> {
        let topo = topology::to_json(&topology::build(plan.topology, &plan.nodes));
        Some(SetupRequest {
            body: json!({"type": "topology", "topology": topo}),
            timeout: DEFAULT_TIMEOUT,
        })
    }
    fn check_setup(&self, result: RpcResult) -> Result<(), String> {
        match result {
            RpcResult::Reply(body) => crate::client::schema::validate(&TOPOLOGY_OK, &body)
                .map_err(|e| format!("bad reply to topology: {e}")),
            RpcResult::Error { code, text, .. } => {
                Err(format!("topology answered with error {code:?}: {text}"))
            }
            RpcResult::Timeout(hint) => Err(format!(
                "no topology_ok within 5 s{}",
                hint.map(|h| format!(" ({h})")).unwrap_or_default()
            )),
        }
    }
    fn generator(&self, _plan: &TestPlan) -> Box<dyn Generator> {
        Box::new(AddOrRead::new("broadcast"))
    }
    fn final_ops(&self, _worker: usize) -> Box<dyn FinalOps> {
        final_read()
    }
    fn client(&self, _plan: &TestPlan) -> Box<dyn WorkloadClient> {
        SimpleClient::boxed(spec, ErrorMode::WithErrors)
    }
    fn check(&self, history: &History, _plan: &TestPlan) -> CheckResult {
        glomers_simkit::checker::set_full::check(history, "broadcast")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::TEST_CTX;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn values_are_unique_and_the_mix_is_even() {
        let mut rng = StdRng::seed_from_u64(11);
        let mut g = AddOrRead::new("broadcast");
        let ops: Vec<Invocation> = (0..2000)
            .map(|_| g.next(&TEST_CTX, &mut rng).unwrap())
            .collect();
        let values: Vec<u64> = ops
            .iter()
            .filter(|o| o.f == "broadcast")
            .map(|o| o.value.as_u64().unwrap())
            .collect();
        assert_eq!(values, (0..values.len() as u64).collect::<Vec<_>>());
        assert!((900..1100).contains(&values.len()), "{}", values.len());
        assert!(spec(&ops[0]).schema.fields.len() <= 1);
    }
}
