//! What the families' integration tests share: cases built from the scorecard's challenge
//! commands and the embedded presets, run on glomers-sim's deterministic driver and judged
//! by the bench's own checkers; explicit fault windows (cut off a node, split the
//! cluster, cut single links); and readers of a run's network journal and history.
//!
//! Every test binary in `tests/` includes this module and uses a different part of it.
#![allow(dead_code)]

use std::sync::OnceLock;
use std::time::Duration;

use glomers_sim::challenges::{beyond, parse_test_args, table};
use glomers_sim::deterministic::host::{HostConfig, HostNodes};
use glomers_sim::deterministic::DetRun;
pub use glomers_sim::explore::case::{Case, Verdict};
use glomers_sim::faults::{draw, Fault, FaultKind, FaultMode};
use glomers_sim::net::journal::EventKind;
use glomers_sim::net::partition::{grudge_from_components, Grudge};
use glomers_simkit::history::{Op, OpType};
use serde_json::Value;

/// The seeds every challenge scenario runs with in `cargo test`; `glomers-sim explore`
/// runs as many more as wanted.
pub const SEEDS: [u64; 3] = [1, 2, 3];

/// Milliseconds as a [`Duration`].
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Seconds as a [`Duration`].
pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A case of the `glomers-sim test` flags `flags` (without `--bin`; `--nemesis` is
/// ignored, faults are explicit), run by nodes built from the embedded preset `preset`
/// (`broadcast-3e`), with `seed`.
pub fn case(flags: &str, preset: &str, seed: u64) -> Case {
    let argv: Vec<String> = ["glomers-sim", "test"]
        .into_iter()
        .chain(flags.split_whitespace())
        .map(String::from)
        .collect();
    let mut args = parse_test_args(&argv).unwrap_or_else(|e| panic!("`{flags}`: {e}"));
    args.deterministic = true;
    args.nemesis = None;
    args.seed = Some(seed);
    glomers_handlers::link();
    let config = HostConfig::preset(preset, glomers_handlers::PRESETS)
        .unwrap_or_else(|e| panic!("preset {preset}: {e}"));
    Case {
        args,
        config,
        faults: Vec::new(),
    }
}

/// A case with the host config `text` (a whole TOML file) instead of a preset.
pub fn case_with_config(flags: &str, text: &str, seed: u64) -> Case {
    let mut c = case(flags, "default", seed);
    c.config = HostConfig {
        source: "test config".into(),
        text: text.into(),
        overrides: Vec::new(),
    };
    c
}

/// The scorecard row `id` (`3d`, `6b/2`, `lin-kv/3`): its exact command and preset, with
/// `seed`, without faults. [`with_partitions`] adds the partition nemesis.
pub fn challenge(id: &str, seed: u64) -> Case {
    let row = table()
        .into_iter()
        .chain(beyond())
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no scorecard row {id}"));
    case(row.flags, row.preset, seed)
}

/// True if the scorecard row `id` runs with `--nemesis partition`.
pub fn challenge_has_nemesis(id: &str) -> bool {
    table()
        .into_iter()
        .chain(beyond())
        .any(|c| c.id == id && c.flags.contains("--nemesis partition"))
}

/// `case` with its main phase cut to `secs` seconds (the challenge commands run 20 or 30
/// s; a shorter run keeps the debug build's tests quick where the point still holds).
pub fn lasting(mut case: Case, secs: u64) -> Case {
    case.args.time_limit = secs;
    case
}

/// `case` with `[section] key = value` overridden (a TOML value), as the host's
/// `GLOMERS__SECTION__KEY` would.
pub fn with_override(mut case: Case, section: &str, key: &str, value: &str) -> Case {
    case.config = case.config.with_override(section, key, value);
    case
}

/// `case` with Maelstrom's partition nemesis drawn from its seed, exactly as
/// `--nemesis partition` draws it, in addition to its own faults.
pub fn with_partitions(case: Case) -> Case {
    with_drawn(case, FaultMode::Partition)
}

/// `case` with faults of `mode` drawn from its seed (`--nemesis-interval` apart on
/// average), in addition to its own.
pub fn with_drawn(mut case: Case, mode: FaultMode) -> Case {
    let (_, plan) = case.plan().unwrap_or_else(|e| panic!("{e}"));
    let drawn = draw(
        &[mode],
        &plan.nodes,
        plan.nemesis_interval,
        plan.time_limit,
        plan.seed,
    );
    case.faults.extend(drawn);
    case.faults.sort_by_key(|f| f.start);
    case
}

/// `case` with the fault `fault` added.
pub fn with_fault(mut case: Case, fault: Fault) -> Case {
    case.faults.push(fault);
    case.faults.sort_by_key(|f| f.start);
    case
}

fn partition(shape: &str, grudge: Grudge, from: Duration, until: Option<Duration>) -> Fault {
    Fault {
        start: from,
        end: until,
        kind: FaultKind::Partition {
            shape: shape.into(),
            grudge,
        },
    }
}

/// The nodes `n0..n(count-1)`.
pub fn node_ids(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("n{i}")).collect()
}

/// Cuts `node` off from the other nodes of `nodes` (both ways) from `from` until `until`
/// (or the end of the main phase), times counted from the start of the main phase.
pub fn isolate(node: &str, nodes: &[String], from: Duration, until: Option<Duration>) -> Fault {
    let rest: Vec<String> = nodes.iter().filter(|n| *n != node).cloned().collect();
    let grudge = grudge_from_components(&[vec![node.to_string()], rest]);
    partition("one", grudge, from, until)
}

/// Splits `side` from the other nodes of `nodes` (both ways).
pub fn split(side: &[&str], nodes: &[String], from: Duration, until: Option<Duration>) -> Fault {
    let side: Vec<String> = side.iter().map(|s| s.to_string()).collect();
    let rest: Vec<String> = nodes
        .iter()
        .filter(|n| !side.contains(n))
        .cloned()
        .collect();
    let grudge = grudge_from_components(&[side, rest]);
    partition("split", grudge, from, until)
}

/// Drops every message sent over the one-way links `(from_node, to_node)` in `links`.
pub fn cut_links(links: &[(&str, &str)], from: Duration, until: Option<Duration>) -> Fault {
    let mut grudge = Grudge::new();
    for (src, dest) in links {
        grudge
            .entry(dest.to_string())
            .or_default()
            .insert(src.to_string());
    }
    partition("links", grudge, from, until)
}

/// One run of a case: its verdict, the run (history, journal) and `results.json`.
pub struct Outcome {
    /// What ran.
    pub case: Case,
    /// The bench's verdict.
    pub verdict: Verdict,
    /// The run.
    pub run: DetRun,
    /// `results.json` (null for a crash).
    pub results: Value,
    /// The journal, parsed on first use.
    journal: OnceLock<Vec<Message>>,
    /// Its node-to-node messages, parsed on first use.
    gossip: OnceLock<Vec<Message>>,
}

/// Runs `case` on the deterministic driver.
pub fn run(case: &Case) -> Outcome {
    glomers_handlers::link();
    let nodes = HostNodes::new(&case.config).unwrap_or_else(|e| panic!("config: {e}"));
    let traced = case.run_traced(&nodes);
    let run = traced
        .run
        .unwrap_or_else(|| panic!("the case could not run: {:?}", traced.verdict.findings));
    Outcome {
        case: case.clone(),
        verdict: traced.verdict,
        run,
        results: traced.results.unwrap_or(Value::Null),
        journal: OnceLock::new(),
        gossip: OnceLock::new(),
    }
}

/// Runs every case, spread over the cores, and returns the outcomes in order.
pub fn run_parallel(cases: &[Case]) -> Vec<Outcome> {
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done: std::sync::Mutex<Vec<(usize, Outcome)>> = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(cases.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(case) = cases.get(i) else { break };
                let out = run(case);
                done.lock().expect("no worker panicked").push((i, out));
            });
        }
    });
    let mut done = done.into_inner().expect("no worker panicked");
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, out)| out).collect()
}

/// Runs `case` and asserts that the bench judges it valid.
pub fn run_valid(case: &Case) -> Outcome {
    let out = run(case);
    out.assert_valid();
    out
}

/// A short description of a case: workload, nodes, seed, faults and config.
pub fn describe(case: &Case) -> String {
    let faults: Vec<String> = case.faults.iter().map(Fault::describe).collect();
    format!(
        "{} on {} nodes, {} s at {} op/s, seed {}, config {}{}, faults [{}]",
        case.args.workload,
        case.args.node_count.unwrap_or(5),
        case.args.time_limit,
        case.args.rate,
        case.args.seed.unwrap_or_default(),
        case.config.source,
        case.config
            .overrides
            .iter()
            .map(|(k, v)| format!(" {k}={v}"))
            .collect::<String>(),
        faults.join("; ")
    )
}

/// A message as the network journal recorded it.
#[derive(Debug, Clone)]
pub struct Message {
    /// Sent, delivered, or dropped by a partition.
    pub kind: EventKind,
    /// Since the test start.
    pub at: Duration,
    /// Sender.
    pub src: String,
    /// Receiver.
    pub dest: String,
    /// The body.
    pub body: Value,
}

/// True if the raw wire form (`{"id":..,"src":"..","dest":"..","body":..}`) is a message
/// between two nodes, read without parsing the body.
fn node_to_node(wire: &str) -> bool {
    let field = |name: &str| {
        let start = wire.find(name)? + name.len();
        let rest = &wire[start..];
        rest.find('"').map(|end| &rest[..end])
    };
    field("\"src\":\"").is_some_and(is_node) && field("\"dest\":\"").is_some_and(is_node)
}

fn is_node(id: &str) -> bool {
    id.strip_prefix('n')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

impl Message {
    /// True for node-to-node traffic (not clients, not services).
    pub fn between_nodes(&self) -> bool {
        is_node(&self.src) && is_node(&self.dest)
    }

    /// The body's `type`.
    pub fn kind_of_body(&self) -> &str {
        self.body["type"].as_str().unwrap_or_default()
    }
}

impl Outcome {
    /// Panics, with the case and every broken rule, unless the run was valid.
    pub fn assert_valid(&self) {
        assert!(
            self.verdict.exit_code == 0,
            "{}: exit code {} ({})\n{}",
            describe(&self.case),
            self.verdict.exit_code,
            self.verdict.word(),
            self.verdict.findings.join("\n")
        );
    }

    /// Every journal event, parsed (once).
    pub fn messages(&self) -> &[Message] {
        self.journal
            .get_or_init(|| self.messages_where(|_, _| true))
    }

    /// The journal events `keep` accepts, given their time (since the test start) and raw
    /// wire text, parsed: much cheaper than [`Outcome::messages`] on a big journal when
    /// only a few are wanted.
    pub fn messages_where(&self, keep: impl Fn(Duration, &str) -> bool) -> Vec<Message> {
        self.run
            .journal
            .iter()
            .filter(|e| keep(Duration::from_nanos(e.time), &e.wire))
            .map(|e| {
                let wire: Value = serde_json::from_str(&e.wire).expect("journal lines are JSON");
                Message {
                    kind: e.kind,
                    at: Duration::from_nanos(e.time),
                    src: wire["src"].as_str().unwrap_or_default().to_string(),
                    dest: wire["dest"].as_str().unwrap_or_default().to_string(),
                    body: wire["body"].clone(),
                }
            })
            .collect()
    }

    /// The messages handed to the network (each once, whatever became of it).
    pub fn sent(&self) -> impl Iterator<Item = &Message> {
        self.messages().iter().filter(|m| m.kind == EventKind::Send)
    }

    /// The messages delivered.
    pub fn delivered(&self) -> impl Iterator<Item = &Message> {
        self.messages().iter().filter(|m| m.kind == EventKind::Recv)
    }

    /// The journal's node-to-node events, parsed (once, and only those: client traffic is
    /// most of a journal).
    pub fn node_messages(&self) -> &[Message] {
        self.gossip
            .get_or_init(|| self.messages_where(|_, wire| node_to_node(wire)))
    }

    /// The node-to-node messages sent from `since` (since the test start) on.
    pub fn gossip_since(&self, since: Duration) -> impl Iterator<Item = &Message> {
        self.node_messages()
            .iter()
            .filter(move |m| m.kind == EventKind::Send && m.at >= since)
    }

    /// A time of the main phase (as fault windows count) as a time since the test start
    /// (as the journal and the history count).
    pub fn since_start(&self, main_phase_time: Duration) -> Duration {
        self.run.main_start + main_phase_time
    }

    /// When the main phase ended and the recovery began, since the test start.
    pub fn main_end(&self) -> Duration {
        self.since_start(secs(self.case.args.time_limit))
    }

    /// The history's operations.
    pub fn ops(&self) -> &[Op] {
        &self.run.history.ops
    }

    /// Each invocation with its completion (`None` if it never completed).
    pub fn operations(&self) -> Vec<(&Op, Option<&Op>)> {
        let ops = &self.run.history.ops;
        self.run
            .history
            .pairs()
            .into_iter()
            .map(|p| (&ops[p.invoke], p.completion.map(|c| &ops[c])))
            .collect()
    }

    /// The ok completions of `f`.
    pub fn ok(&self, f: &str) -> Vec<&Op> {
        self.ops()
            .iter()
            .filter(|o| o.kind == OpType::Ok && o.f == f)
            .collect()
    }

    /// Servers msgs/op.
    pub fn msgs_per_op(&self) -> f64 {
        self.verdict.msgs_per_op.unwrap_or(f64::NAN)
    }

    /// The workload checker's stable latencies (median, max) in ms, if it has them.
    pub fn stable_latency(&self) -> Option<(f64, f64)> {
        let l = &self.results["workload"]["stable_latencies"];
        Some((l["0.5"].as_f64()?, l["1"].as_f64()?))
    }

    /// The availability checker's fraction of ok operations.
    pub fn ok_fraction(&self) -> f64 {
        self.results["availability"]["ok_fraction"]
            .as_f64()
            .unwrap_or(f64::NAN)
    }
}
