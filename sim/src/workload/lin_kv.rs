//! lin-kv (spec §5.6): Jepsen's linearizable register over independent keys.
//!
//! - Requests: `read {key}` → `read_ok {value}`, `write {key, value}` → `write_ok`,
//!   `cas {key, from, to}` → `cas_ok`. History values are `[key, value]` tuples (cas:
//!   `[key, [from, to]]`).
//! - Generator: workers form groups of 2 × node-count; each group works on one integer
//!   key (keys 0, 1, 2, … handed out in order). Workers whose absolute index is below
//!   the node count only read; the others write (values 0..4) or cas (from and to in
//!   0..4) in a 1:2 mix. So, as observed on Maelstrom, only the first group ever reads.
//!   A group moves to the next key once more than 20 distinct processes (the current
//!   processes of its workers, plus every earlier one on that key) would have touched
//!   its key.
//! - Client: reusable; only `read` is idempotent; timeout max(10 × latency, 1000) ms.
//! - Checker: per key, linearizability against a compare-and-set register starting at
//!   null, with a search budget (unknown when it runs out).
//!
//! Maelstrom's generator asserts that `--concurrency` is a multiple of 2 × node-count
//! and crashes the test (exit 255) once it runs; we refuse such plans before starting
//! the nodes, with the same exit code. With more than 10 nodes a group alone exceeds the
//! 20-process limit and Maelstrom's generator spins forever; we refuse that too.

use super::{GenContext, Generator, Invocation, Step, Workload, WorkloadClient};
use crate::client::outcome::{complete, Completion, ErrorMode};
use crate::client::schema::{ReplySchema, Shape};
use crate::client::RpcResult;
use crate::plan::TestPlan;
use glomers_simkit::checker::{linearizable, CheckResult};
use glomers_simkit::history::History;
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Distinct processes a key may see before its group moves on (Jepsen's default).
pub const PROCESS_LIMIT: usize = 20;

/// The lin-kv workload. Its clients tell the generator when their worker's process
/// changes (after an `info`), which the per-key process limit needs.
#[derive(Default)]
pub struct LinKv {
    processes: OnceLock<Arc<Processes>>,
}

/// The current process of every worker.
pub struct Processes {
    current: Vec<AtomicU64>,
    concurrency: u64,
}

impl Processes {
    /// Worker `w` starts as process `w`.
    pub fn new(concurrency: usize) -> Processes {
        Processes {
            current: (0..concurrency as u64).map(AtomicU64::new).collect(),
            concurrency: concurrency as u64,
        }
    }

    /// The current process of worker `w`.
    pub fn of(&self, w: usize) -> u64 {
        self.current
            .get(w)
            .map_or(w as u64, |p| p.load(Ordering::SeqCst))
    }

    /// Worker `w` got a fresh process (its operation ended `info`).
    pub fn advance(&self, w: usize) {
        if let Some(p) = self.current.get(w) {
            p.fetch_add(self.concurrency, Ordering::SeqCst);
        }
    }
}

impl LinKv {
    fn processes(&self, plan: &TestPlan) -> Arc<Processes> {
        self.processes
            .get_or_init(|| Arc::new(Processes::new(plan.concurrency)))
            .clone()
    }
}

/// The client timeout: max(10 × mean latency, 1000) ms.
pub fn timeout(plan: &TestPlan) -> Duration {
    Duration::from_millis((plan.latency.mean_ms.saturating_mul(10)).max(1000))
}

/// Why Maelstrom's generator could not run this plan, if it could not.
pub fn concurrency_problem(concurrency: usize, nodes: usize) -> Option<String> {
    let group = 2 * nodes;
    if concurrency < group || !concurrency.is_multiple_of(group) {
        return Some(format!(
            "lin-kv needs --concurrency to be a multiple of 2 × node-count = {group} (e.g. \
             --concurrency 2n or 4n); got {concurrency}. Maelstrom's generator asserts this \
             and the test crashes (exit 255)"
        ));
    }
    if group > PROCESS_LIMIT {
        return Some(format!(
            "lin-kv with {nodes} nodes puts {group} workers on each key, more than the {PROCESS_LIMIT} \
             processes a key may see; Maelstrom's generator then never issues an operation. Use \
             at most 10 nodes"
        ));
    }
    None
}

struct Group {
    key: u64,
    procs: BTreeSet<u64>,
}

struct LinKvGen {
    node_count: usize,
    group_size: usize,
    groups: Vec<Group>,
    next_key: u64,
    processes: Arc<Processes>,
}

impl LinKvGen {
    fn new(node_count: usize, concurrency: usize, processes: Arc<Processes>) -> LinKvGen {
        let group_size = 2 * node_count.max(1);
        let count = concurrency.div_ceil(group_size).max(1);
        LinKvGen {
            node_count,
            group_size,
            groups: (0..count as u64)
                .map(|key| Group {
                    key,
                    procs: BTreeSet::new(),
                })
                .collect(),
            next_key: count as u64,
            processes,
        }
    }

    /// The key worker `w` works on now, moving its group to a fresh key when the
    /// group's processes would exceed the limit.
    fn key_for(&mut self, w: usize) -> u64 {
        let g = (w / self.group_size).min(self.groups.len() - 1);
        let members: Vec<u64> = (g * self.group_size..(g + 1) * self.group_size)
            .map(|m| self.processes.of(m))
            .collect();
        let group = &mut self.groups[g];
        let mut procs = group.procs.clone();
        procs.extend(members.iter().copied());
        if procs.len() > PROCESS_LIMIT {
            group.key = self.next_key;
            self.next_key += 1;
            procs = members.into_iter().collect();
        }
        group.procs = procs;
        group.key
    }
}

impl Generator for LinKvGen {
    fn next(&mut self, ctx: &GenContext, rng: &mut StdRng) -> Option<Invocation> {
        let k = self.key_for(ctx.worker);
        if ctx.worker < self.node_count {
            return Some(Invocation::new("read", json!([k, null])));
        }
        Some(if rng.random_range(0..3) == 0 {
            Invocation::new("write", json!([k, rng.random_range(0..5)]))
        } else {
            Invocation::new(
                "cas",
                json!([k, [rng.random_range(0..5), rng.random_range(0..5)]]),
            )
        })
    }
}

const READ_OK: ReplySchema = ReplySchema {
    reply_type: "read_ok",
    fields: &[("value", Shape::Any)],
};
const WRITE_OK: ReplySchema = ReplySchema {
    reply_type: "write_ok",
    fields: &[],
};
const CAS_OK: ReplySchema = ReplySchema {
    reply_type: "cas_ok",
    fields: &[],
};

struct LinKvClient {
    worker: usize,
    timeout: Duration,
    processes: Arc<Processes>,
}

/// The request and reply schema of a lin-kv invocation.
fn request_of(inv: &Invocation) -> (Value, &'static ReplySchema) {
    let k = inv.value.get(0).cloned().unwrap_or(Value::Null);
    let v = inv.value.get(1).cloned().unwrap_or(Value::Null);
    match inv.f.as_str() {
        "read" => (json!({"type": "read", "key": k}), &READ_OK),
        "write" => (json!({"type": "write", "key": k, "value": v}), &WRITE_OK),
        _ => (
            json!({"type": "cas", "key": k, "from": v.get(0), "to": v.get(1)}),
            &CAS_OK,
        ),
    }
}

impl WorkloadClient for LinKvClient {
    fn start(&mut self, inv: &Invocation) -> Step {
        Step::Call {
            body: request_of(inv).0,
            timeout: self.timeout,
        }
    }

    fn resume(&mut self, inv: &Invocation, result: RpcResult) -> Step {
        let k = inv.value.get(0).cloned().unwrap_or(Value::Null);
        let schema = request_of(inv).1;
        let done = complete(
            result,
            ErrorMode::WithErrors,
            inv.f == "read",
            &inv.value,
            schema,
            |body| {
                if inv.f == "read" {
                    json!([k, body["value"]])
                } else {
                    inv.value.clone()
                }
            },
        );
        if matches!(done, Completion::Info { .. }) {
            self.processes.advance(self.worker);
        }
        Step::Done(done)
    }
}

impl Workload for LinKv {
    fn name(&self) -> &'static str {
        "lin-kv"
    }
    fn reusable_client(&self) -> bool {
        true
    }
    fn validate(&self, plan: &TestPlan) -> Result<(), String> {
        concurrency_problem(plan.concurrency, plan.nodes.len()).map_or(Ok(()), Err)
    }
    fn refusal_exit_code(&self) -> i32 {
        255
    }
    fn generator(&self, plan: &TestPlan) -> Box<dyn Generator> {
        Box::new(LinKvGen::new(
            plan.nodes.len(),
            plan.concurrency,
            self.processes(plan),
        ))
    }
    fn client(&self, plan: &TestPlan) -> Box<dyn WorkloadClient> {
        self.worker_client(plan, 0)
    }
    fn worker_client(&self, plan: &TestPlan, worker: usize) -> Box<dyn WorkloadClient> {
        Box::new(LinKvClient {
            worker,
            timeout: timeout(plan),
            processes: self.processes(plan),
        })
    }
    fn check(&self, history: &History, _plan: &TestPlan) -> CheckResult {
        linearizable::check(history, linearizable::DEFAULT_BUDGET)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn ctx(worker: usize) -> GenContext {
        GenContext {
            worker,
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn concurrency_must_be_a_multiple_of_twice_the_nodes() {
        assert!(concurrency_problem(4, 2).is_none());
        assert!(concurrency_problem(8, 2).is_none());
        let e = concurrency_problem(2, 2).unwrap();
        assert!(e.contains("multiple of 2 × node-count = 4"), "{e}");
        assert!(concurrency_problem(6, 2).is_some());
        assert!(
            concurrency_problem(22, 11).is_some(),
            "more than 20 per key"
        );
        assert!(concurrency_problem(20, 10).is_none());
    }

    #[test]
    fn only_the_first_node_count_workers_read() {
        let procs = Arc::new(Processes::new(8));
        let mut g = LinKvGen::new(2, 8, procs);
        let mut rng = StdRng::seed_from_u64(9);
        let mut fs = vec![Vec::new(); 8];
        for _ in 0..300 {
            for (w, f) in fs.iter_mut().enumerate() {
                f.push(g.next(&ctx(w), &mut rng).unwrap());
            }
        }
        for (w, ops) in fs.iter().enumerate() {
            let reads = ops.iter().filter(|o| o.f == "read").count();
            if w < 2 {
                assert_eq!(reads, ops.len(), "worker {w}");
            } else {
                assert_eq!(reads, 0, "worker {w}: group 1 never reads");
                let writes = ops.iter().filter(|o| o.f == "write").count();
                let frac = writes as f64 / ops.len() as f64;
                assert!((frac - 1.0 / 3.0).abs() < 0.08, "{frac}");
            }
            let key = if w < 4 { 0 } else { 1 };
            assert!(ops.iter().all(|o| o.value[0] == json!(key)), "worker {w}");
        }
        let cas = fs[3].iter().find(|o| o.f == "cas").unwrap();
        let pair = cas.value[1].as_array().unwrap();
        assert!(pair.iter().all(|v| (0..5).contains(&v.as_i64().unwrap())));
    }

    #[test]
    fn client_maps_replies_and_counts_fresh_processes() {
        let (mut conn, seen) = crate::workload::stub_node::conn(|b: &Value| {
            Some(match b["type"].as_str()? {
                "read" => json!({"type": "read_ok", "value": 3}),
                "cas" => json!({"type": "error", "code": 22, "text": "from mismatch"}),
                _ => return None, // writes time out
            })
        });
        let procs = Arc::new(Processes::new(4));
        let mut c = LinKvClient {
            worker: 2,
            timeout: Duration::from_millis(100),
            processes: procs.clone(),
        };
        let read = crate::client::perform(
            &mut c,
            &Invocation::new("read", json!([5, null])),
            &mut conn,
        );
        assert_eq!(read, Completion::Ok(json!([5, 3])));
        let cas = crate::client::perform(
            &mut c,
            &Invocation::new("cas", json!([5, [1, 2]])),
            &mut conn,
        );
        assert!(matches!(cas, Completion::Fail { .. }), "{cas:?}");
        assert_eq!(procs.of(2), 2);
        let write =
            crate::client::perform(&mut c, &Invocation::new("write", json!([5, 4])), &mut conn);
        assert!(matches!(write, Completion::Info { .. }), "{write:?}");
        assert_eq!(
            procs.of(2),
            6,
            "a timed-out write gives worker 2 process 2 + 4"
        );
        let reqs = seen.lock().unwrap().clone();
        assert_eq!(reqs[0]["key"], json!(5));
        assert_eq!(reqs[1]["from"], json!(1));
        assert_eq!(reqs[1]["to"], json!(2));
        assert_eq!(reqs[2]["value"], json!(4));
    }

    #[test]
    fn a_group_moves_on_after_twenty_processes() {
        let procs = Arc::new(Processes::new(4));
        let mut g = LinKvGen::new(1, 4, procs.clone());
        let mut rng = StdRng::seed_from_u64(1);
        // Two groups of 2: keys 0 and 1; fresh keys start at 2.
        assert_eq!(g.next(&ctx(0), &mut rng).unwrap().value[0], json!(0));
        assert_eq!(g.next(&ctx(2), &mut rng).unwrap().value[0], json!(1));
        // Group 0 has seen processes 0 and 1; 18 more infos on worker 1 fill it to 20.
        for _ in 0..18 {
            procs.advance(1);
            assert_eq!(g.next(&ctx(1), &mut rng).unwrap().value[0], json!(0));
        }
        procs.advance(1);
        // The 21st process moves group 0 to key 2, for both of its workers.
        assert_eq!(g.next(&ctx(1), &mut rng).unwrap().value[0], json!(2));
        assert_eq!(g.next(&ctx(0), &mut rng).unwrap().value[0], json!(2));
        // Group 1 stays put.
        assert_eq!(g.next(&ctx(3), &mut rng).unwrap().value[0], json!(1));
    }
}
