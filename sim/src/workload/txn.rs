//! txn-rw-register and txn-list-append (spec §5.7, §5.8): one `txn` request per
//! operation, `{"type":"txn","txn":[["r",k,null],["w",k,v],…]}` (`"append"` instead of
//! `"w"` for list-append), answered by `txn_ok {txn}` with the reads filled in.
//!
//! - Generator: Elle's write/read transactions ([`super::wr_txns`]) with
//!   `--key-count` (default 10), `--max-txn-length` (default 4) and
//!   `--max-writes-per-key` (default 16).
//! - Client: reusable, nothing idempotent (a timeout is `info`, errors are mapped by
//!   definiteness); every reply micro-op must be exactly `[f, k, v]` with `f` `"r"` or
//!   the write name, and list-append reads must be lists or null.
//! - Checker: Elle's rw-register (with Maelstrom's wrapper) or list-append analysis for
//!   `--consistency-models`. No final phase.
//!
//! Deviation: Maelstrom accepts every consistency-model name Elle knows; our checkers
//! implement read-uncommitted, read-committed, repeatable-read, snapshot-isolation,
//! serializable and strict-serializable, so other names are refused up front (exit 254)
//! instead of running a test whose verdict we could not give.

use super::reply_shapes::{malformed, micro_ops};
use super::wr_txns::{WrOptions, WrTxns};
use super::{GenContext, Generator, Invocation, Step, Workload, WorkloadClient, DEFAULT_TIMEOUT};
use crate::client::outcome::{complete, Completion, ErrorMode};
use crate::client::schema::{ReplySchema, Shape};
use crate::client::RpcResult;
use crate::plan::TestPlan;
use glomers_simkit::checker::cycles::Model;
use glomers_simkit::checker::{list_append, rw_register, CheckResult};
use glomers_simkit::history::History;
use rand::rngs::StdRng;
use serde_json::{json, Value};

/// Which of the two transactional workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnFlavor {
    /// txn-rw-register: `r` and `w` on registers.
    RwRegister,
    /// txn-list-append: `r` of whole lists and `append`.
    ListAppend,
}

impl TxnFlavor {
    /// The write micro-op's name.
    pub fn write_name(self) -> &'static str {
        match self {
            TxnFlavor::RwRegister => "w",
            TxnFlavor::ListAppend => "append",
        }
    }
}

/// A transactional workload.
pub struct Txn {
    /// Registers or lists.
    pub flavor: TxnFlavor,
}

const TXN_OK: ReplySchema = ReplySchema {
    reply_type: "txn_ok",
    // A sequence schema: Maelstrom also accepts null (an empty transaction).
    fields: &[("txn", Shape::ArrayOrNull)],
};

/// Refuses consistency-model names the checkers do not implement.
pub fn validate_models(models: &[String]) -> Result<(), String> {
    let unknown: Vec<&String> = models
        .iter()
        .filter(|m| Model::parse(m).is_none())
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let known: Vec<&str> = Model::ALL.iter().map(|m| m.name()).collect();
    Err(format!(
        "--consistency-models: unknown model{} {}; glomers-sim checks {} (separate several \
         with \" , \", a comma with spaces around it, as Maelstrom does)",
        if unknown.len() == 1 { "" } else { "s" },
        unknown
            .iter()
            .map(|m| format!("{m:?}"))
            .collect::<Vec<_>>()
            .join(", "),
        known.join(", ")
    ))
}

/// Elle's generator settings from the plan.
pub fn wr_options(plan: &TestPlan, max_len: u64) -> WrOptions {
    WrOptions {
        key_count: plan.key_count.unwrap_or(10),
        min_len: 1,
        max_len,
        max_writes_per_key: plan.max_writes_per_key,
    }
}

struct TxnGen {
    txns: WrTxns,
    write_name: &'static str,
}

impl Generator for TxnGen {
    fn next(&mut self, _ctx: &GenContext, rng: &mut StdRng) -> Option<Invocation> {
        let txn: Vec<Value> = self
            .txns
            .next_txn(rng)
            .into_iter()
            .map(|op| match op.value {
                Some(v) => json!([self.write_name, op.key, v]),
                None => json!(["r", op.key, null]),
            })
            .collect();
        Some(Invocation::new("txn", Value::Array(txn)))
    }
}

struct TxnClient {
    flavor: TxnFlavor,
}

impl WorkloadClient for TxnClient {
    fn start(&mut self, inv: &Invocation) -> Step {
        Step::Call {
            body: json!({"type": "txn", "txn": inv.value}),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    fn resume(&mut self, inv: &Invocation, result: RpcResult) -> Step {
        Step::Done(self.finish(inv, result))
    }
}

impl TxnClient {
    /// The completion of a txn, with the micro-ops of the reply checked.
    fn finish(&self, inv: &Invocation, result: RpcResult) -> Completion {
        let done = complete(
            result,
            ErrorMode::WithErrors,
            false,
            &inv.value,
            &TXN_OK,
            |b| match &b["txn"] {
                Value::Null => json!([]),
                t => t.clone(),
            },
        );
        let Completion::Ok(txn) = &done else {
            return done;
        };
        let names = ["r", self.flavor.write_name()];
        let lists = self.flavor == TxnFlavor::ListAppend;
        match micro_ops(txn.as_array().map_or(&[], Vec::as_slice), &names, lists) {
            Ok(()) => done,
            Err(why) => malformed(&inv.value, why),
        }
    }
}

impl Workload for Txn {
    fn name(&self) -> &'static str {
        match self.flavor {
            TxnFlavor::RwRegister => "txn-rw-register",
            TxnFlavor::ListAppend => "txn-list-append",
        }
    }
    fn reusable_client(&self) -> bool {
        true
    }
    fn validate(&self, plan: &TestPlan) -> Result<(), String> {
        validate_models(&plan.consistency_models)
    }
    fn generator(&self, plan: &TestPlan) -> Box<dyn Generator> {
        Box::new(TxnGen {
            txns: WrTxns::new(wr_options(plan, plan.max_txn_length)),
            write_name: self.flavor.write_name(),
        })
    }
    fn client(&self, _plan: &TestPlan) -> Box<dyn WorkloadClient> {
        Box::new(TxnClient {
            flavor: self.flavor,
        })
    }
    fn check(&self, history: &History, plan: &TestPlan) -> CheckResult {
        match self.flavor {
            TxnFlavor::RwRegister => rw_register::check(history, &plan.consistency_models),
            TxnFlavor::ListAppend => list_append::check(history, &plan.consistency_models),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::TEST_CTX;
    use rand::SeedableRng;

    fn generator(flavor: TxnFlavor) -> TxnGen {
        TxnGen {
            txns: WrTxns::new(WrOptions {
                key_count: 10,
                min_len: 1,
                max_len: 4,
                max_writes_per_key: 16,
            }),
            write_name: flavor.write_name(),
        }
    }

    #[test]
    fn invocations_are_micro_op_triples_with_null_reads() {
        for flavor in [TxnFlavor::RwRegister, TxnFlavor::ListAppend] {
            let mut rng = StdRng::seed_from_u64(5);
            let mut g = generator(flavor);
            for _ in 0..200 {
                let inv = g.next(&TEST_CTX, &mut rng).unwrap();
                assert_eq!(inv.f, "txn");
                let txn = inv.value.as_array().unwrap();
                assert!((1..=4).contains(&txn.len()));
                for mop in txn {
                    let m = mop.as_array().unwrap();
                    assert_eq!(m.len(), 3);
                    match m[0].as_str().unwrap() {
                        "r" => assert!(m[2].is_null()),
                        w => {
                            assert_eq!(w, flavor.write_name());
                            assert!((1..=16).contains(&m[2].as_u64().unwrap()));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn client_checks_micro_ops_and_maps_aborts() {
        let (mut conn, _) = crate::workload::stub_node::conn(|b: &Value| {
            let txn = b["txn"].as_array()?;
            Some(match txn[0][1].as_i64()? {
                1 => json!({"type": "txn_ok", "txn": [["r", 1, [1, 2]], ["append", 1, 3]]}),
                2 => json!({"type": "txn_ok", "txn": [["r", 2, 5]]}),
                3 => json!({"type": "error", "code": 30, "text": "conflict"}),
                _ => json!({"type": "txn_ok", "txn": [["r", 4]]}),
            })
        });
        let mut c = TxnClient {
            flavor: TxnFlavor::ListAppend,
        };
        let mut run = |k: i64| {
            let inv = Invocation::new("txn", json!([["r", k, null], ["append", k, 3]]));
            crate::client::perform(&mut c, &inv, &mut conn)
        };
        assert_eq!(
            run(1),
            Completion::Ok(json!([["r", 1, [1, 2]], ["append", 1, 3]]))
        );
        match run(2) {
            Completion::Info {
                exception: Some(e), ..
            } => assert!(e.contains("must return a list"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(run(3), Completion::Fail { .. }),
            "code 30 is definite"
        );
        match run(4) {
            Completion::Info {
                exception: Some(e), ..
            } => assert!(e.contains("exactly 3 elements"), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn models_are_checked_by_name() {
        assert!(validate_models(&["read-committed".into()]).is_ok());
        assert!(validate_models(&["strict-serializable".into(), "serializable".into()]).is_ok());
        let e = validate_models(&["read-committed,serializable".into()]).unwrap_err();
        assert!(e.contains("\"read-committed,serializable\""), "{e}");
        assert!(e.contains("read-uncommitted"), "{e}");
    }
}
