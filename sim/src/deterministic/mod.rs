//! The deterministic driver: a whole test (nodes, network, services, clients, nemesis) on
//! one virtual clock and seeded random streams, single-threaded, in-process. The same
//! seed, plan, faults and nodes give the same history and journal, byte for byte.
//!
//! It shares every piece of a test with the real-time bench: the workload's generator,
//! clients, final phase and checker ([`crate::workload`]), the schedule
//! ([`crate::schedule`]), the network's fault model and services ([`NetCore`]), the
//! fault schedules ([`crate::faults`]) and the result files ([`crate::results`]). What
//! it adds is the event loop: at each step it handles everything due at the current
//! virtual time, then jumps to the earliest next deadline (a delivery, a node timer, a
//! client timeout, a fault, the schedule's next operation). Nodes take no time to run.
//!
//! Nodes are [`host::SimNode`]s; [`host::HostNodes`] builds the host's real `Node` from a
//! config, with the handler families linked into this binary.

pub mod clients;
pub mod host;
pub mod store;

use crate::faults::{edges, nemesis_record, Edge, FaultPlan, FaultState};
use crate::net::core::{unknown_id_problem, Delivered, NetCore};
use crate::net::envelope::{parse_line, LineError};
use crate::net::journal::Event;
use crate::net::{FaultKind, NetStats, NodeFault};
use crate::plan::TestPlan;
use crate::recorder::{Actor, ExceptionRecord, NemesisEvent, Recorder};
use crate::results::Crash;
use crate::schedule::{Action, Schedule, ScheduleSetup};
use crate::seed;
use crate::setup;
use crate::workload::{FinalOps, Invocation, Step, Workload, WorkloadClient};
use clients::VConn;
use glomers_simkit::history::{History, OpType};
use host::{NodeFactory, SimNode};
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// Upper bound of the time a node takes to pick up an input line or to wake for a timer:
/// drawn uniformly per event, so events that are due at the same instant are taken in a
/// random (seeded) order, as a real process's scheduling would, instead of always in the
/// driver's order. Measured on the real-time bench, a client round trip through a node
/// takes about 0.3 ms.
const MAX_PICKUP: Duration = Duration::from_micros(1000);

/// Virtual time a run may take beyond its time limit and recovery before it is called
/// stuck (an operation that never ends, a node that never answers init).
const GRACE: Duration = Duration::from_secs(120);

/// What a deterministic run needs.
pub struct DetSetup<'a> {
    /// The test plan (its `seed` drives every random stream).
    pub plan: &'a TestPlan,
    /// The workload.
    pub workload: &'a dyn Workload,
    /// The faults, as explicit windows (empty: none).
    pub faults: FaultPlan,
    /// Builds the nodes.
    pub nodes: &'a dyn NodeFactory,
}

/// What a deterministic run produced.
pub struct DetRun {
    /// The client history.
    pub history: History,
    /// Every network event, in order.
    pub journal: Vec<Event>,
    /// Network statistics.
    pub stats: NetStats,
    /// Nemesis operations.
    pub nemesis: Vec<NemesisEvent>,
    /// Client exceptions.
    pub exceptions: Vec<ExceptionRecord>,
    /// Problems with node output.
    pub node_faults: Vec<NodeFault>,
    /// Set when the run could not complete (setup failed, or it got stuck).
    pub crash: Option<Crash>,
    /// Virtual time at the end.
    pub virtual_time: Duration,
    /// Virtual time at which the main phase began (after init and setup): the faults'
    /// `start` and `end` count from it, while journal, history and nemesis times count
    /// from the test start.
    pub main_start: Duration,
}

/// Runs one test.
pub fn run(setup: DetSetup) -> DetRun {
    let mut d = match Driver::new(&setup) {
        Ok(d) => d,
        Err(crash) => {
            return DetRun {
                history: History::default(),
                journal: Vec::new(),
                stats: NetStats::default(),
                nemesis: Vec::new(),
                exceptions: Vec::new(),
                node_faults: Vec::new(),
                crash: Some(*crash),
                virtual_time: Duration::ZERO,
                main_start: Duration::ZERO,
            }
        }
    };
    d.run();
    d.finish()
}

/// A node and what the driver keeps for it.
struct NodeSlot {
    id: String,
    node: Box<dyn SimNode>,
    paused: bool,
    /// Lines delivered to the node and when it picks each up (in order; paused nodes keep
    /// them until they resume).
    inbox: VecDeque<(Duration, Arc<str>)>,
    /// The node's next timer deadline and when it wakes for it.
    wake: Option<(Duration, Duration)>,
    /// Draws pickup delays.
    sched: StdRng,
    /// A fatal fault happened: its output is ignored from then on.
    dead: bool,
}

impl NodeSlot {
    fn pickup(&mut self) -> Duration {
        Duration::from_nanos(self.sched.random_range(0..MAX_PICKUP.as_nanos() as u64))
    }

    /// Queues a line delivered at `now`.
    fn deliver(&mut self, now: Duration, wire: Arc<str>) {
        let after = self.inbox.back().map_or(now, |(t, _)| (*t).max(now));
        let ready = after + self.pickup();
        self.inbox.push_back((ready, wire));
    }

    /// When the node next wakes for a timer (the deadline plus a pickup delay).
    fn timer_wake(&mut self) -> Option<Duration> {
        let deadline = self.node.next_deadline()?;
        match self.wake {
            Some((d, at)) if d == deadline => Some(at),
            _ => {
                let at = deadline + self.pickup();
                self.wake = Some((deadline, at));
                Some(at)
            }
        }
    }

    /// The next time this node has work.
    fn next_work(&mut self) -> Option<Duration> {
        if self.paused {
            return None;
        }
        let line = self.inbox.front().map(|(t, _)| *t);
        match (line, self.timer_wake()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Who owns a client id.
#[derive(Debug, Clone, Copy)]
enum Owner {
    Init(usize),
    Setup(usize),
    Worker(usize),
}

/// A worker: its client, its connection and the operation in progress.
struct Worker {
    node: String,
    process: u64,
    conn: Option<VConn>,
    client: Box<dyn WorkloadClient>,
    current: Option<(Invocation, Actor)>,
    finals: Option<Box<dyn FinalOps>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Init,
    Setup,
    Main,
    Over,
}

struct Driver<'a> {
    plan: &'a TestPlan,
    workload: &'a dyn Workload,
    now: Duration,
    phase: Phase,
    net: NetCore,
    nodes: Vec<NodeSlot>,
    recorder: Recorder,
    owners: HashMap<String, Owner>,
    next_client: u64,
    setup_conns: Vec<VConn>,
    setup_results: Vec<Option<Result<(), String>>>,
    workers: Vec<Worker>,
    schedule: Option<Schedule>,
    schedule_wake: Option<Duration>,
    gen_start: Duration,
    faults: FaultPlan,
    edges: Vec<Edge>,
    next_edge: usize,
    active: BTreeSet<usize>,
    node_faults: Vec<NodeFault>,
    journal: Vec<Event>,
    crash: Option<Crash>,
    deliveries: Vec<Delivered>,
}

impl<'a> Driver<'a> {
    fn new(s: &DetSetup<'a>) -> Result<Driver<'a>, Box<Crash>> {
        let plan = s.plan;
        let mut nodes = Vec::new();
        for (i, id) in plan.nodes.iter().enumerate() {
            let node = s
                .nodes
                .build(i, id, plan.seed)
                .map_err(|e| Box::new(Crash::setup(format!("cannot build node {id}: {e}"))))?;
            nodes.push(NodeSlot {
                id: id.clone(),
                node,
                paused: false,
                inbox: VecDeque::new(),
                wake: None,
                sched: seed::rng(plan.seed, "node-sched", i as u64),
                dead: false,
            });
        }
        let workers = (0..plan.concurrency)
            .map(|i| Worker {
                node: plan.nodes[i % plan.nodes.len()].clone(),
                process: i as u64,
                conn: None,
                client: s.workload.worker_client(plan, i),
                current: None,
                finals: None,
            })
            .collect();
        Ok(Driver {
            plan,
            workload: s.workload,
            now: Duration::ZERO,
            phase: Phase::Init,
            net: NetCore::new(
                &plan.nodes,
                plan.latency,
                seed::rng(plan.seed, "network", 0),
            ),
            nodes,
            recorder: Recorder::virtual_clock(),
            owners: HashMap::new(),
            next_client: 0,
            setup_conns: Vec::new(),
            setup_results: Vec::new(),
            workers,
            schedule: None,
            schedule_wake: None,
            gen_start: Duration::ZERO,
            faults: s.faults.clone(),
            edges: Vec::new(),
            next_edge: 0,
            active: BTreeSet::new(),
            node_faults: Vec::new(),
            journal: Vec::new(),
            crash: None,
            deliveries: Vec::new(),
        })
    }

    fn finish(mut self) -> DetRun {
        self.journal.extend(self.net.take_journal());
        DetRun {
            history: self.recorder.take_history(),
            journal: self.journal,
            stats: self.net.stats(),
            nemesis: self.recorder.nemesis_events(),
            exceptions: self.recorder.exceptions(),
            node_faults: self.node_faults,
            crash: self.crash,
            virtual_time: self.now,
            main_start: self.gen_start,
        }
    }

    fn run(&mut self) {
        self.start_init();
        let limit = self.plan.time_limit + self.plan.recovery_time + GRACE;
        while self.phase != Phase::Over {
            self.step_due();
            if self.phase == Phase::Over {
                break;
            }
            let Some(next) = self.next_time() else {
                self.stuck("nothing more can happen, yet the test is not over");
                break;
            };
            if next > limit {
                self.stuck("the test did not end in time");
                break;
            }
            self.now = next.max(self.now);
            if self.net.has_journal() {
                self.journal.extend(self.net.take_journal());
            }
        }
    }

    fn stuck(&mut self, why: &str) {
        self.crash = Some(Crash::bench(format!(
            "deterministic run stuck at {:.3} s ({:?} phase): {why}",
            self.now.as_secs_f64(),
            self.phase
        )));
        self.phase = Phase::Over;
    }

    /// The earliest time something is due.
    fn next_time(&mut self) -> Option<Duration> {
        let mut t: Option<Duration> = None;
        let mut consider = |x: Option<Duration>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        consider(self.net.next_deadline());
        for slot in &mut self.nodes {
            consider(slot.next_work());
        }
        for c in &self.setup_conns {
            consider(c.deadline());
        }
        for w in &self.workers {
            consider(w.conn.as_ref().and_then(VConn::deadline));
        }
        consider(self.schedule_wake);
        if let Some(e) = self.edges.get(self.next_edge) {
            consider(Some(self.gen_start + e.at));
        }
        t
    }

    /// Handles everything due at `now`, until nothing more is.
    fn step_due(&mut self) {
        let now = self.now;
        self.recorder.set_time(now.as_nanos() as u64);
        for _ in 0..1_000_000 {
            let mut progressed = self.apply_fault_edges();
            progressed |= self.deliver_network();
            for i in 0..self.nodes.len() {
                progressed |= self.run_node(i);
            }
            progressed |= self.expire_requests();
            progressed |= self.advance_phase();
            if !progressed || self.phase == Phase::Over {
                return;
            }
        }
        self.stuck("endless activity at one instant");
    }

    // ------------------------------------------------------------------ network and nodes

    fn deliver_network(&mut self) -> bool {
        let mut out = std::mem::take(&mut self.deliveries);
        self.net.deliver_due(self.now, &mut |_, _| true, &mut out);
        let any = !out.is_empty();
        for d in out.drain(..) {
            match d {
                Delivered::ToNode { node, wire } => self.nodes[node].deliver(self.now, wire),
                Delivered::ToClient { client, delivery } => self.client_message(&client, delivery),
            }
        }
        self.deliveries = out;
        any
    }

    /// Lets node `i` take the lines and timers due now; true if it did anything.
    fn run_node(&mut self, i: usize) -> bool {
        let now = self.now;
        let slot = &mut self.nodes[i];
        if slot.paused {
            return false;
        }
        let mut any = false;
        while slot.inbox.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, wire)) = slot.inbox.pop_front() {
                slot.node.handle_line(now, wire.as_bytes());
                any = true;
            }
        }
        if slot.timer_wake().is_some_and(|t| t <= now) {
            slot.node.handle_timeout(now);
            slot.wake = None;
            any = true;
        }
        if any {
            self.route_output(i);
        }
        any
    }

    /// Sends what node `i` wrote, checking each line as the bench's readers do.
    fn route_output(&mut self, i: usize) {
        let slot = &mut self.nodes[i];
        if slot.node.output().is_empty() {
            return;
        }
        let out = slot.node.output().to_vec();
        slot.node.clear_output();
        for raw in out.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            if self.nodes[i].dead {
                return;
            }
            let line = String::from_utf8_lossy(raw);
            let (kind, problem) = match parse_line(&line) {
                Ok(msg) => {
                    let body = &line[msg.body.clone()];
                    match self.net.send_text(self.now, &msg.src, &msg.dest, body) {
                        Ok(()) => continue,
                        Err(e) => (FaultKind::UnknownId, unknown_id_problem(&e)),
                    }
                }
                Err(e @ LineError::NotJson(_)) => (FaultKind::NotJson, e.to_string()),
                Err(e) => (FaultKind::Schema, e.to_string()),
            };
            let slot = &mut self.nodes[i];
            slot.dead = true;
            let fault = NodeFault::new(&slot.id, kind, problem)
                .with_line(&line)
                .at(self.now.as_nanos() as u64)
                .fatal();
            self.node_faults.push(fault);
        }
    }

    fn set_paused(&mut self, i: usize, paused: bool) {
        let slot = &mut self.nodes[i];
        if slot.paused == paused {
            return;
        }
        slot.paused = paused;
        if !paused {
            // Everything that queued up is taken at once on resume.
            for entry in slot.inbox.iter_mut() {
                entry.0 = entry.0.max(self.now);
            }
            self.run_node(i);
        }
    }

    // ------------------------------------------------------------------ faults

    /// Applies the fault starts and ends due now.
    fn apply_fault_edges(&mut self) -> bool {
        let mut changed = false;
        while let Some(e) = self.edges.get(self.next_edge).copied() {
            if self.gen_start + e.at > self.now {
                break;
            }
            self.next_edge += 1;
            if e.start {
                self.active.insert(e.index);
            } else {
                self.active.remove(&e.index);
            }
            let (f, value) = nemesis_record(&self.faults[e.index], e.start);
            self.recorder.nemesis(&f, value);
            changed = true;
        }
        if changed {
            self.apply_fault_state();
        }
        changed
    }

    fn apply_fault_state(&mut self) {
        let state = FaultState::of(&self.faults, &self.active);
        self.net.set_grudge(&state.grudge);
        for i in 0..self.nodes.len() {
            let id = self.nodes[i].id.clone();
            self.net
                .set_duplicating(&id, state.duplicating.contains(&id));
            self.set_paused(i, state.paused.contains(&id));
        }
    }

    /// The nemesis stops at the end of the main phase; with a final phase it heals
    /// everything and records it, as Maelstrom's final generator does.
    fn stop_nemesis(&mut self, heal: bool) {
        self.next_edge = self.edges.len();
        if heal && !self.faults.is_empty() {
            self.active.clear();
            self.apply_fault_state();
            self.recorder
                .nemesis("stop-partition", serde_json::json!("network-healed"));
        }
    }

    // ------------------------------------------------------------------ clients

    fn open_conn(&mut self, node: &str, owner: Owner) -> VConn {
        let id = format!("c{}", self.next_client);
        self.next_client += 1;
        self.net.register_client(&id);
        self.owners.insert(id.clone(), owner);
        VConn::new(id, node)
    }

    fn close_conn(&mut self, c: &VConn) {
        self.net.unregister_client(&c.id);
        self.owners.remove(&c.id);
    }

    fn send_request(&mut self, conn: &mut VConn, body: serde_json::Value, timeout: Duration) {
        let body = conn.request(body, self.now, timeout);
        // Both ends are registered: the client just now, the node at start.
        let _ = self.net.send_value(self.now, &conn.id, &conn.node, body);
    }

    fn client_message(&mut self, client: &str, d: crate::net::Delivery) {
        match self.owners.get(client).copied() {
            Some(Owner::Init(i)) | Some(Owner::Setup(i)) => {
                let mut conn =
                    std::mem::replace(&mut self.setup_conns[i], VConn::new(String::new(), ""));
                if let Some(result) = conn.receive(d) {
                    self.setup_done(i, &conn, result);
                }
                self.setup_conns[i] = conn;
            }
            Some(Owner::Worker(w)) => {
                let result = self.workers[w].conn.as_mut().and_then(|c| c.receive(d));
                if let Some(result) = result {
                    self.resume(w, result);
                }
            }
            None => {}
        }
    }

    fn expire_requests(&mut self) -> bool {
        let mut any = false;
        for i in 0..self.setup_conns.len() {
            if let Some(result) = self.setup_conns[i].expire(self.now) {
                let conn =
                    std::mem::replace(&mut self.setup_conns[i], VConn::new(String::new(), ""));
                self.setup_done(i, &conn, result);
                self.setup_conns[i] = conn;
                any = true;
            }
        }
        for w in 0..self.workers.len() {
            let result = self.workers[w]
                .conn
                .as_mut()
                .and_then(|c| c.expire(self.now));
            if let Some(result) = result {
                self.resume(w, result);
                any = true;
            }
        }
        any
    }

    // ------------------------------------------------------------------ init and setup

    fn start_init(&mut self) {
        self.phase = Phase::Init;
        let ids = self.plan.nodes.clone();
        self.setup_conns.clear();
        self.setup_results = vec![None; ids.len()];
        for (i, node) in ids.iter().enumerate() {
            let mut c = self.open_conn(node, Owner::Init(i));
            let body = setup::init_body(self.plan, node);
            self.send_request(&mut c, body, setup::INIT_TIMEOUT);
            self.setup_conns.push(c);
        }
    }

    fn start_setup(&mut self) {
        let Some(req) = self.workload.setup_request(self.plan) else {
            return self.start_main();
        };
        self.phase = Phase::Setup;
        let ids = self.plan.nodes.clone();
        self.setup_conns.clear();
        self.setup_results = vec![None; ids.len()];
        for (i, node) in ids.iter().enumerate() {
            let mut c = self.open_conn(node, Owner::Setup(i));
            self.send_request(&mut c, req.body.clone(), req.timeout);
            self.setup_conns.push(c);
        }
    }

    fn setup_done(&mut self, i: usize, conn: &VConn, result: crate::client::RpcResult) {
        let checked = match self.phase {
            Phase::Init => setup::check_init(&conn.node, result),
            _ => self
                .workload
                .check_setup(result)
                .map_err(|e| format!("client setup on {} failed: {e}", conn.node)),
        };
        if let Some(slot) = self.setup_results.get_mut(i) {
            *slot = Some(checked);
        }
    }

    /// Moves through the phases; true if something happened.
    fn advance_phase(&mut self) -> bool {
        match self.phase {
            Phase::Init | Phase::Setup => {
                if self.setup_results.iter().any(Option::is_none) {
                    return false;
                }
                let problem = self
                    .setup_results
                    .iter()
                    .find_map(|r| r.as_ref().and_then(|r| r.as_ref().err()).cloned());
                if let Some(p) = problem {
                    self.crash = Some(Crash::setup(p));
                    self.phase = Phase::Over;
                    return true;
                }
                if self.phase == Phase::Init {
                    for c in std::mem::take(&mut self.setup_conns) {
                        self.close_conn(&c);
                    }
                    self.start_setup();
                } else {
                    // Setup clients stay open until teardown, as in the real-time bench.
                    self.setup_results.clear();
                    self.start_main();
                }
                true
            }
            Phase::Main => self.poll_schedule(),
            Phase::Over => false,
        }
    }

    fn start_main(&mut self) {
        self.phase = Phase::Main;
        self.gen_start = self.now;
        let final_ops = self.workload.has_final_phase().then(|| {
            (0..self.plan.concurrency)
                .map(|w| self.workload.final_ops(w))
                .collect()
        });
        self.schedule = Some(Schedule::new(ScheduleSetup {
            concurrency: self.plan.concurrency,
            rate: self.plan.rate,
            time_limit: self.plan.time_limit,
            recovery: self.plan.recovery_time,
            generator: self.workload.generator(self.plan),
            final_ops,
            rng: seed::rng(self.plan.seed, "generator", 0),
        }));
        self.edges = edges(&self.faults);
        self.next_edge = 0;
    }

    // ------------------------------------------------------------------ the main phase

    fn poll_schedule(&mut self) -> bool {
        let mut any = false;
        loop {
            let Some(schedule) = self.schedule.as_mut() else {
                return any;
            };
            let action = schedule.poll(self.now.saturating_sub(self.gen_start));
            self.schedule_wake = None;
            match action {
                Action::Run { worker, inv } => self.perform(worker, inv),
                Action::Final { worker, mut ops } => match ops.next(None) {
                    Some(inv) => {
                        self.workers[worker].finals = Some(ops);
                        self.perform(worker, inv);
                    }
                    None => schedule.worker_free(worker),
                },
                Action::StopNemesis { heal } => self.stop_nemesis(heal),
                Action::Wait { until } => {
                    self.schedule_wake = until.map(|u| self.gen_start + u);
                    return any;
                }
                Action::Done => {
                    self.teardown();
                    return true;
                }
            }
            any = true;
        }
    }

    fn teardown(&mut self) {
        for c in std::mem::take(&mut self.setup_conns) {
            self.close_conn(&c);
        }
        self.phase = Phase::Over;
    }

    /// Starts `inv` on worker `w`.
    fn perform(&mut self, w: usize, inv: Invocation) {
        if self.workers[w].conn.is_none() {
            let node = self.workers[w].node.clone();
            let conn = self.open_conn(&node, Owner::Worker(w));
            self.workers[w].conn = Some(conn);
        }
        let worker = &mut self.workers[w];
        let Some(conn) = worker.conn.as_ref() else {
            return;
        };
        let who = Actor {
            process: worker.process,
            node: worker.node.clone(),
            client: conn.id.clone(),
            msg_id: Some(conn.peek_msg_id()),
        };
        self.recorder
            .invoke(&who, &inv.f, &inv.value, inv.final_phase);
        let step = worker.client.start(&inv);
        worker.current = Some((inv, who));
        self.take_step(w, step);
    }

    fn resume(&mut self, w: usize, result: crate::client::RpcResult) {
        let worker = &mut self.workers[w];
        let Some((inv, _)) = worker.current.as_ref() else {
            return;
        };
        let step = worker.client.resume(inv, result);
        self.take_step(w, step);
    }

    fn take_step(&mut self, w: usize, step: Step) {
        match step {
            Step::Call { body, timeout } => {
                let Some(mut conn) = self.workers[w].conn.take() else {
                    return;
                };
                self.send_request(&mut conn, body, timeout);
                self.workers[w].conn = Some(conn);
            }
            Step::Done(done) => self.complete(w, done),
        }
    }

    fn complete(&mut self, w: usize, done: crate::client::outcome::Completion) {
        let reusable = self.workload.reusable_client();
        let concurrency = self.plan.concurrency as u64;
        let Some((inv, who)) = self.workers[w].current.take() else {
            return;
        };
        let (kind, index) = self.recorder.complete(&who, &inv.f, done, inv.final_phase);
        if kind == OpType::Info {
            self.workers[w].process += concurrency;
            if !reusable {
                if let Some(c) = self.workers[w].conn.take() {
                    self.close_conn(&c);
                }
            }
        }
        let next = match self.workers[w].finals.as_mut() {
            Some(ops) => {
                let previous = self.recorder.op(index);
                ops.next(previous.as_ref())
            }
            None => None,
        };
        match next {
            Some(inv) => self.perform(w, inv),
            None => {
                self.workers[w].finals = None;
                if let Some(s) = self.schedule.as_mut() {
                    s.worker_free(w);
                }
            }
        }
    }
}
