//! echo (spec §5.1): `{"type":"echo","echo":"Please echo k"}` → `echo_ok` with the same
//! value. No final phase; only a wrong echo in an ok reply is invalid.

use super::simple::{OpSpec, SimpleClient};
use super::{GenContext, Generator, Invocation, Workload, WorkloadClient};
use crate::client::outcome::ErrorMode;
use crate::client::schema::{ReplySchema, Shape};
use crate::plan::TestPlan;
use glomers_simkit::checker::CheckResult;
use glomers_simkit::history::History;
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

/// The echo workload.
pub struct Echo;

const ECHO_OK: ReplySchema = ReplySchema {
    reply_type: "echo_ok",
    fields: &[("echo", Shape::Any)],
};

struct Gen;

impl Generator for Gen {
    fn next(&mut self, _ctx: &GenContext, rng: &mut StdRng) -> Option<Invocation> {
        let k: u32 = rng.random_range(0..128);
        Some(Invocation::new("echo", json!(format!("Please echo {k}"))))
    }
}

fn spec(inv: &Invocation) -> OpSpec {
    OpSpec {
        request: json!({"type": "echo", "echo": inv.value}),
        schema: &ECHO_OK,
        idempotent: false,
        ok: |_, body: &Value| body["echo"].clone(),
    }
}

impl Workload for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }
    fn reusable_client(&self) -> bool {
        false
    }
    fn generator(&self, _plan: &TestPlan) -> Box<dyn Generator> {
        Box::new(Gen)
    }
    fn client(&self, _plan: &TestPlan) -> Box<dyn WorkloadClient> {
        SimpleClient::boxed(spec, ErrorMode::WithErrors)
    }
    fn check(&self, history: &History, _plan: &TestPlan) -> CheckResult {
        glomers_simkit::checker::echo::check(history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::TEST_CTX;
    use rand::SeedableRng;

    #[test]
    fn generates_please_echo_k_below_128() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut g = Gen;
        for _ in 0..200 {
            let inv = g.next(&TEST_CTX, &mut rng).unwrap();
            assert_eq!(inv.f, "echo");
            let s = inv.value.as_str().unwrap();
            let k: u32 = s.strip_prefix("Please echo ").unwrap().parse().unwrap();
            assert!(k < 128);
        }
        assert_eq!(
            spec(&Invocation::new("echo", json!("x"))).request["echo"],
            "x"
        );
    }
}
