//! One fuzzing run against one node: lines before `init`, `init`, the mutated stream, a
//! calm phase in which services and peers answer everything correctly until every
//! request has had its answer, then each enabled family's sanity check, and the report.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use super::classify::Outbound;
use super::corpus::{Ask, FamilyCorpus, Target};
use super::generate::{Generator, Huge};
use super::json::J;
use super::oracle::{Oracle, Tally};
use super::transport::Transport;

/// How a run is shaped.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Lines after `init`.
    pub lines: u64,
    /// Lines before `init`.
    pub before_init: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Huge lines.
    pub huge: Huge,
    /// Longest time between two lines (virtual; a real process just runs).
    pub max_gap: Duration,
    /// Time step of the calm phase and of waiting for sanity answers.
    pub step: Duration,
    /// Most steps the calm phase and each sanity request may take.
    pub max_steps: u32,
    /// Collect the node's output every this many lines (1 for in-process runs).
    pub collect_every: u64,
}

impl Plan {
    /// A plan for an in-process run of `lines` lines.
    pub fn in_process(lines: u64, seed: u64, huge: Huge) -> Plan {
        Plan {
            lines,
            before_init: 40,
            seed,
            huge,
            max_gap: Duration::from_millis(2),
            step: Duration::from_millis(50),
            max_steps: 2000,
            collect_every: 1,
        }
    }

    /// A plan for a run through a real process.
    pub fn process(lines: u64, seed: u64, huge: Huge) -> Plan {
        Plan {
            max_gap: Duration::ZERO,
            step: Duration::from_millis(20),
            max_steps: 1500,
            collect_every: 512,
            ..Plan::in_process(lines, seed, huge)
        }
    }
}

/// What a run found.
#[derive(Debug)]
pub struct Report {
    /// The target's name.
    pub target: String,
    /// The plan's seed.
    pub seed: u64,
    /// Wall time of the fuzzing phase (before the calm phase).
    pub fuzz_secs: f64,
    /// Counts.
    pub tally: Tally,
    /// Panics and process exits.
    pub crashes: Vec<String>,
    /// Property violations: count and the first few.
    pub violation_count: u64,
    /// Violations by kind.
    pub kinds: std::collections::BTreeMap<&'static str, u64>,
    /// The first violations.
    pub violations: Vec<String>,
    /// Memory after the run, bytes.
    pub memory_after: Option<u64>,
    /// Peak memory, bytes.
    pub memory_peak: Option<u64>,
}

impl Report {
    /// Input lines per second of the fuzzing phase.
    pub fn lines_per_sec(&self) -> f64 {
        self.tally.lines as f64 / self.fuzz_secs.max(1e-9)
    }

    /// True when nothing went wrong.
    pub fn clean(&self) -> bool {
        self.crashes.is_empty() && self.violation_count == 0
    }

    /// Everything that went wrong, one finding per line.
    pub fn findings(&self) -> String {
        let mut text = String::new();
        for c in &self.crashes {
            text.push_str(&format!("  crash: {c}\n"));
        }
        for v in &self.violations {
            text.push_str(&format!("  violation: {v}\n"));
        }
        if self.violation_count > 0 {
            let kinds: Vec<String> = self
                .kinds
                .iter()
                .map(|(kind, n)| format!("{kind}: {n}"))
                .collect();
            text.push_str(&format!(
                "  {} violations in all ({})\n",
                self.violation_count,
                kinds.join(", ")
            ));
        }
        text
    }
}

/// The client the sanity checks ask from.
const SANITY_CLIENT: &str = "c99";

struct Session<'a, 'c> {
    transport: &'a mut dyn Transport,
    gen: Generator<'c>,
    oracle: Oracle,
    plan: Plan,
    rng: StdRng,
    line_no: u64,
    out: Vec<Vec<u8>>,
    sanity_id: u64,
    sanity_reply: Option<Value>,
}

impl Session<'_, '_> {
    fn feed(&mut self, line: &[u8]) {
        self.line_no += 1;
        self.oracle.on_input(self.line_no, line);
        self.transport.send(line);
    }

    fn pass(&mut self, by: Duration) {
        self.transport.pass(by, &mut self.out);
        for line in std::mem::take(&mut self.out) {
            let Some(out) = self.oracle.on_output(&line) else {
                continue;
            };
            self.sanity_answer(&out);
            self.gen.observe(&out);
        }
    }

    fn sanity_answer(&mut self, out: &Outbound) {
        if out.dest == SANITY_CLIENT
            && out.in_reply_to.as_deref() == Some(self.sanity_id.to_string().as_str())
        {
            self.sanity_reply = serde_json::from_str(out.body.get()).ok();
        }
    }

    fn gap(&mut self) -> Duration {
        if self.plan.max_gap.is_zero() {
            return Duration::ZERO;
        }
        let max = self.plan.max_gap.as_micros() as u64;
        Duration::from_micros(self.rng.random_range(0..=max))
    }

    /// Correct answers to whatever the node waits for, until no request is open.
    fn calm(&mut self) {
        for _ in 0..self.plan.max_steps {
            for line in self.gen.calm() {
                self.feed(&line);
            }
            let step = self.plan.step;
            self.pass(step);
            // Peers and services keep being asked things (replication never stops), so
            // the phase ends once every client request has its answer.
            if self.oracle.open_requests() == 0 {
                return;
            }
        }
    }
}

impl Ask for Session<'_, '_> {
    fn ask(&mut self, body: Value) -> Result<Value, String> {
        self.sanity_id += 1;
        self.sanity_reply = None;
        let mut body = J::from(body);
        body.set("msg_id", J::int(self.sanity_id));
        let msg = J::Obj(vec![
            ("src".into(), J::Str(SANITY_CLIENT.into())),
            ("dest".into(), J::Str(self.gen.cluster.me.clone())),
            ("body".into(), body.clone()),
        ]);
        let line = msg.to_bytes();
        self.feed(&line);
        for _ in 0..self.plan.max_steps {
            let step = self.plan.step;
            self.pass(step);
            if let Some(reply) = self.sanity_reply.take() {
                return Ok(reply);
            }
            for line in self.gen.calm() {
                self.feed(&line);
            }
        }
        Err(format!(
            "no answer to {} within {} steps",
            String::from_utf8_lossy(&body.to_bytes()),
            self.plan.max_steps
        ))
    }
}

/// Runs `plan` against the node behind `transport`, built from `target`; `corpora` must
/// hold an entry for every family the target enables.
pub fn run(
    target: &Target,
    corpora: &[FamilyCorpus],
    transport: &mut dyn Transport,
    plan: Plan,
) -> Report {
    let families = match target.families() {
        Ok(f) => f,
        Err(e) => panic!("target {} has a bad config: {e}", target.name),
    };
    let enabled: Vec<&FamilyCorpus> = corpora
        .iter()
        .filter(|c| families.iter().any(|f| f == c.family))
        .collect();
    let one_way: Vec<&str> = enabled
        .iter()
        .flat_map(|c| c.one_way.iter().copied())
        .collect();
    let gen = Generator::new(plan.seed, corpora, &families, plan.huge);
    let handoffs: Vec<_> = enabled.iter().filter_map(|c| c.handoffs).collect();
    let epochs: Vec<_> = enabled.iter().filter_map(|c| c.epoch).collect();
    let mut oracle = Oracle::new(
        &gen.cluster.me,
        &gen.cluster.nodes,
        &one_way,
        handoffs,
        epochs,
    );
    if plan.collect_every == 1 {
        oracle.attribute_outputs();
    }
    let mut s = Session {
        transport,
        gen,
        oracle,
        plan,
        rng: StdRng::seed_from_u64(plan.seed ^ 0x9e37_79b9),
        line_no: 0,
        out: Vec::new(),
        sanity_id: 9_000_000_000,
        sanity_reply: None,
    };
    for _ in 0..plan.before_init {
        let (line, _) = s.gen.before_init();
        s.feed(&line);
    }
    let init = s.gen.init_line();
    s.feed(&init);
    s.pass(Duration::ZERO);
    let started = Instant::now();
    for i in 0..plan.lines {
        let (line, _) = s.gen.next();
        s.feed(&line);
        if (i + 1).is_multiple_of(plan.collect_every) {
            let gap = s.gap();
            s.pass(gap);
        }
    }
    s.pass(Duration::ZERO);
    let fuzz_secs = started.elapsed().as_secs_f64();
    s.calm();
    for corpus in &enabled {
        if let Err(e) = (corpus.sanity)(&mut s) {
            s.oracle.violation(
                "sanity",
                format!("after fuzzing, {} no longer works: {e}", corpus.family),
            );
        }
    }
    s.calm();
    s.oracle.finish();
    let (memory_after, memory_peak) = s.transport.memory();
    let mut crashes = s.transport.crashes();
    if let Err(e) = s.transport.finish() {
        crashes.push(e);
    }
    Report {
        target: target.name.clone(),
        seed: plan.seed,
        fuzz_secs,
        tally: s.oracle.tally.clone(),
        crashes,
        violation_count: s.oracle.violation_count,
        kinds: s.oracle.kinds.clone(),
        violations: s.oracle.violations.clone(),
        memory_after,
        memory_peak,
    }
}
