//! The router thread: queues, deadlines, partitions, services, journal and statistics.
//! See the module docs of [`crate::net`] for the delivery rules.
//!
//! Deviations from Maelstrom, for hostile nodes only: messages for a node whose stdin
//! backlog is full are dropped (journaled as drops, reported as `stdin-backlog`) instead of
//! queued without limit, and messages for a client whose inbox is full are dropped
//! (`inbox-full`). A second reply to one client request is delivered, as Maelstrom does,
//! and reported (`duplicate-reply`).

use super::journal::{Event, EventKind, JournalSink};
use super::latency::{is_client, LatencyModel};
use super::partition::Grudge;
use super::{Delivery, FaultKind, GroupStats, NetStats, NodeFault, RouterCmd, Shared, StdinBatch};
use glomers_simkit::service::{new_service, Service, SERVICE_IDS};
use rand::rngs::StdRng;
use serde_json::Value;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What sits behind an id.
enum Kind {
    Node(Sender<StdinBatch>),
    Service(Box<dyn Service>),
    Client(SyncSender<Delivery>),
    /// An unregistered client: its inbox sender is dropped, which wakes a waiting RPC.
    Closed,
}

struct Endpoint {
    id: String,
    /// The id as a JSON string literal, ready to splice into wire lines.
    id_json: String,
    kind: Kind,
    client: bool,
    queue: BinaryHeap<Reverse<Pending>>,
    busy: bool,
    /// For a client: the `in_reply_to`s of the last replies it was sent, to spot a node
    /// answering one request twice.
    answered: VecDeque<u64>,
}

/// How many recent replies per client are remembered for spotting duplicates (a client
/// has one request outstanding at a time, so a few suffice).
const ANSWERED_KEPT: usize = 16;

/// Per node: messages dropped because its stdin backlog was full.
#[derive(Debug, Default, Clone, Copy)]
struct BacklogDrops {
    /// Dropped so far.
    count: u64,
    /// True while the backlog is full (a fault is recorded when it fills).
    full: bool,
}

struct Pending {
    id: u64,
    deadline: Instant,
    seq: u64,
    src: usize,
    wire: Arc<str>,
    body_at: usize,
    parsed: Option<Value>,
    client_traffic: bool,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.deadline, self.seq).cmp(&(o.deadline, o.seq))
    }
}

/// Everything the router needs at start.
pub struct RouterSetup {
    /// Node ids and their stdin queues, in plan order.
    pub nodes: Vec<(String, Sender<StdinBatch>)>,
    /// Latency model between servers.
    pub latency: LatencyModel,
    /// Random stream for latencies and services.
    pub rng: StdRng,
    /// Journal sink.
    pub journal: JournalSink,
    /// Shared state.
    pub shared: Arc<Shared>,
}

/// The router's state.
pub struct Router {
    endpoints: Vec<Endpoint>,
    by_id: HashMap<String, usize>,
    node_count: usize,
    /// (deadline, seq, endpoint) of every destination's head message.
    heads: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    heads_msg: HashMap<usize, Pending>,
    grudge: HashMap<usize, HashSet<usize>>,
    latency: LatencyModel,
    rng: StdRng,
    journal: JournalSink,
    /// Journal events and stdin lines are batched and handed over before the router
    /// waits (or every few hundred commands), so IO threads are not woken per message.
    journal_buf: Vec<Event>,
    stdin_buf: Vec<StdinBatch>,
    shared: Arc<Shared>,
    next_id: u64,
    seq: u64,
    stats: NetStats,
    backlog_drops: Vec<BacklogDrops>,
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

impl Router {
    /// Builds a router with the nodes and the four services registered.
    pub fn new(setup: RouterSetup) -> Router {
        let mut r = Router {
            endpoints: Vec::new(),
            by_id: HashMap::new(),
            node_count: setup.nodes.len(),
            heads: BinaryHeap::new(),
            heads_msg: HashMap::new(),
            grudge: HashMap::new(),
            latency: setup.latency,
            rng: setup.rng,
            journal: setup.journal,
            journal_buf: Vec::with_capacity(4096),
            stdin_buf: Vec::new(),
            shared: setup.shared,
            next_id: 0,
            seq: 0,
            stats: NetStats::default(),
            backlog_drops: Vec::new(),
        };
        for (id, stdin) in setup.nodes {
            r.add(id, Kind::Node(stdin));
            r.stdin_buf.push(Vec::new());
            r.backlog_drops.push(BacklogDrops::default());
        }
        for id in SERVICE_IDS {
            if let Some(svc) = new_service(id) {
                r.add(id.to_string(), Kind::Service(svc));
            }
        }
        r
    }

    fn add(&mut self, id: String, kind: Kind) {
        let idx = self.endpoints.len();
        self.by_id.insert(id.clone(), idx);
        self.endpoints.push(Endpoint {
            id_json: json_str(&id),
            client: is_client(&id),
            id,
            kind,
            queue: BinaryHeap::new(),
            busy: false,
            answered: VecDeque::new(),
        });
    }

    /// Runs until a `Stop` command (or until every sender is gone).
    pub fn run(mut self, rx: Receiver<RouterCmd>) {
        loop {
            self.deliver_due();
            self.flush_io();
            let cmd = match self.heads.peek() {
                Some(Reverse((deadline, _, _))) => {
                    let now = Instant::now();
                    if *deadline <= now {
                        continue;
                    }
                    match rx.recv_timeout(*deadline - now) {
                        Ok(c) => c,
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
                None => match rx.recv() {
                    Ok(c) => c,
                    Err(_) => return,
                },
            };
            if !self.handle(cmd) {
                return;
            }
            // Drain a batch before looking at the clock again.
            for _ in 0..512 {
                match rx.try_recv() {
                    Ok(c) => {
                        if !self.handle(c) {
                            return;
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return,
                }
            }
        }
    }

    /// Handles one command; false means stop.
    fn handle(&mut self, cmd: RouterCmd) -> bool {
        match cmd {
            RouterCmd::FromNode { node, line, msg } => {
                if let Some(b) = self.shared.inbound.get(node) {
                    b.release(line.len());
                }
                self.accept_node_line(node, line, msg)
            }
            RouterCmd::FromClient { src, dest, body } => {
                let (Some(&s), Some(&d)) = (self.by_id.get(&src), self.by_id.get(&dest)) else {
                    eprintln!("glomers-sim: internal: client {src} sent to unknown {dest}");
                    return true;
                };
                let body_text = body.to_string();
                self.send(s, d, &body_text, Some(body));
            }
            RouterCmd::Register { id, inbox } => {
                if let Some(&i) = self.by_id.get(&id) {
                    self.endpoints[i].kind = Kind::Client(inbox);
                    self.endpoints[i].answered.clear();
                } else {
                    self.add(id, Kind::Client(inbox));
                }
            }
            RouterCmd::Unregister { id } => {
                if let Some(i) = self.by_id.remove(&id) {
                    self.endpoints[i].kind = Kind::Closed;
                }
            }
            RouterCmd::SetGrudge(g) => self.set_grudge(&g),
            RouterCmd::Stop(reply) => {
                self.flush_io();
                self.report_backlog_drops();
                let _ = reply.send(self.stats);
                return false;
            }
        }
        true
    }

    fn accept_node_line(&mut self, node: usize, line: String, msg: super::envelope::NodeMessage) {
        if self.shared.is_dead(node) {
            return;
        }
        let name = self.endpoints[node].id.clone();
        let src = self.by_id.get(&msg.src).copied();
        let dest = self.by_id.get(&msg.dest).copied();
        let (Some(s), Some(d)) = (src, dest) else {
            let which = match (src, dest) {
                (None, None) => format!("neither src {:?} nor dest {:?}", msg.src, msg.dest),
                (None, _) => format!("src {:?}", msg.src),
                _ => format!("dest {:?}", msg.dest),
            };
            let hint = if is_client(&msg.dest) && dest.is_none() {
                " (a client that is closed or never existed: a late reply after a timeout?)"
            } else {
                ""
            };
            self.shared.fault(
                node,
                NodeFault::new(
                    &name,
                    FaultKind::UnknownId,
                    format!(
                        "invalid source/dest for message: {which} is not a registered id{hint}"
                    ),
                )
                .with_line(&line)
                .fatal(),
            );
            return;
        };
        if msg.trailing {
            self.shared.fault(
                node,
                NodeFault::new(
                    &name,
                    FaultKind::TwoValues,
                    "more than one JSON value on one line: only the first is used (Maelstrom \
                     silently loses the rest)",
                )
                .with_line(&line),
            );
        }
        let body = &line[msg.body];
        self.send(s, d, body, None);
    }

    /// Hands a message to the network: id, journal, latency, queue.
    fn send(&mut self, src: usize, dest: usize, body: &str, parsed: Option<Value>) {
        let id = self.next_id;
        self.next_id += 1;
        let prefix = format!(
            "{{\"id\":{id},\"src\":{},\"dest\":{},\"body\":",
            self.endpoints[src].id_json, self.endpoints[dest].id_json
        );
        let body_at = prefix.len();
        let mut w = prefix;
        w.push_str(body);
        w.push('}');
        let wire: Arc<str> = Arc::from(w);
        let now = Instant::now();
        let client_traffic = self.endpoints[src].client || self.endpoints[dest].client;
        self.count(client_traffic, true);
        self.journal(EventKind::Send, now, &wire, body_at);
        let latency = if client_traffic {
            0
        } else {
            self.latency.draw(&mut self.rng)
        };
        self.seq += 1;
        let p = Pending {
            id,
            deadline: now + Duration::from_millis(latency),
            seq: self.seq,
            src,
            wire,
            body_at,
            parsed,
            client_traffic,
        };
        if self.endpoints[dest].client {
            // Clients read their queue directly and are never partitioned.
            self.deliver(dest, p);
            return;
        }
        self.endpoints[dest].queue.push(Reverse(p));
        if !self.endpoints[dest].busy {
            self.promote(dest);
        }
    }

    /// Takes the next message of `dest`'s queue as its head, dropping partitioned ones.
    fn promote(&mut self, dest: usize) {
        while let Some(Reverse(p)) = self.endpoints[dest].queue.pop() {
            if self
                .grudge
                .get(&dest)
                .is_some_and(|ignored| ignored.contains(&p.src))
            {
                self.stats.dropped += 1;
                self.journal(EventKind::Drop, Instant::now(), &p.wire, p.body_at);
                continue;
            }
            self.heads.push(Reverse((p.deadline, p.seq, dest)));
            self.heads_msg.insert(dest, p);
            self.endpoints[dest].busy = true;
            return;
        }
        self.endpoints[dest].busy = false;
    }

    fn deliver_due(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((deadline, _, dest))) = self.heads.peek().copied() {
            if deadline > now {
                break;
            }
            self.heads.pop();
            if let Some(p) = self.heads_msg.remove(&dest) {
                self.deliver(dest, p);
            }
            self.promote(dest);
        }
    }

    fn deliver(&mut self, dest: usize, p: Pending) {
        if matches!(self.endpoints[dest].kind, Kind::Node(_)) && !self.admit_to_stdin(dest, &p) {
            return;
        }
        self.count(p.client_traffic, false);
        self.journal(EventKind::Recv, Instant::now(), &p.wire, p.body_at);
        let body_text = &p.wire[p.body_at..p.wire.len() - 1];
        let src_name = if matches!(self.endpoints[dest].kind, Kind::Node(_)) {
            String::new()
        } else {
            self.endpoints[p.src].id.clone()
        };
        match &mut self.endpoints[dest].kind {
            Kind::Node(_) => {
                if let Some(buf) = self.stdin_buf.get_mut(dest) {
                    buf.push(p.wire.clone());
                }
            }
            Kind::Client(_) => {
                let body = match p.parsed {
                    Some(v) => v,
                    None => serde_json::from_str(body_text).unwrap_or(Value::Null),
                };
                if p.src < self.node_count {
                    self.check_duplicate_reply(dest, p.src, &body, &p.wire);
                }
                let Kind::Client(inbox) = &self.endpoints[dest].kind else {
                    return;
                };
                let delivery = Delivery {
                    id: p.id,
                    src: src_name,
                    body,
                };
                if let Err(TrySendError::Full(_)) = inbox.try_send(delivery) {
                    self.inbox_full(dest, p.src);
                }
            }
            Kind::Service(_) => {
                let body: Value = match p.parsed {
                    Some(v) => v,
                    None => serde_json::from_str(body_text).unwrap_or(Value::Null),
                };
                let src_id = src_name;
                let reply = match &mut self.endpoints[dest].kind {
                    Kind::Service(svc) => svc.handle(&src_id, &body, &mut self.rng),
                    _ => None,
                };
                if let Some(reply) = reply {
                    // The requester may have gone away (a closed client): drop quietly.
                    if self.by_id.contains_key(&src_id) {
                        let text = reply.to_string();
                        self.send(dest, p.src, &text, Some(reply));
                    }
                }
            }
            Kind::Closed => {}
        }
    }

    /// Takes room in node `dest`'s stdin backlog for `p`; when the node does not read and
    /// the backlog is full, drops the message instead (journaled as a drop) and says so
    /// once per episode, so the router never waits for a node.
    fn admit_to_stdin(&mut self, dest: usize, p: &Pending) -> bool {
        let Some(budget) = self.shared.stdin_backlog.get(dest) else {
            return true;
        };
        let admitted = budget.try_acquire(p.wire.len() + 1);
        let cap = budget.cap();
        let drops = &mut self.backlog_drops[dest];
        if admitted {
            drops.full = false;
            return true;
        }
        drops.count += 1;
        let first_of_episode = !drops.full;
        drops.full = true;
        self.journal(EventKind::Drop, Instant::now(), &p.wire, p.body_at);
        if first_of_episode {
            let node = self.endpoints[dest].id.clone();
            self.shared.fault(
                dest,
                NodeFault::new(
                    &node,
                    FaultKind::StdinBacklog,
                    format!(
                        "{node} is not reading its stdin: {} MiB of messages are waiting for \
                         it, so the network drops further messages to {node} until it reads \
                         again (Maelstrom would queue them without limit)",
                        cap >> 20
                    ),
                ),
            );
        }
        false
    }

    /// Records the total of messages dropped per node because its backlog was full.
    fn report_backlog_drops(&mut self) {
        for (i, d) in self.backlog_drops.iter().enumerate() {
            if d.count == 0 {
                continue;
            }
            let node = &self.endpoints[i].id;
            self.shared.fault(
                i,
                NodeFault::new(
                    node,
                    FaultKind::StdinBacklog,
                    format!(
                        "in all, {} messages to {node} were dropped because it did not read \
                         its stdin",
                        d.count
                    ),
                ),
            );
        }
    }

    /// Spots node `src` sending client `dest` a second reply to one request.
    fn check_duplicate_reply(&mut self, dest: usize, src: usize, body: &Value, wire: &str) {
        let Some(irt) = body.get("in_reply_to").and_then(Value::as_u64) else {
            return;
        };
        let answered = &mut self.endpoints[dest].answered;
        if !answered.contains(&irt) {
            if answered.len() == ANSWERED_KEPT {
                answered.pop_front();
            }
            answered.push_back(irt);
            return;
        }
        let node = self.endpoints[src].id.clone();
        let client = &self.endpoints[dest].id;
        self.shared.fault(
            src,
            NodeFault::new(
                &node,
                FaultKind::DuplicateReply,
                format!(
                    "{node} replied a second time to {client}'s request msg_id {irt}; the \
                     client already had its answer and ignores this one (so does Maelstrom)"
                ),
            )
            .with_line(wire),
        );
    }

    /// Client `dest`'s inbox is full: the message from `src` was dropped.
    fn inbox_full(&mut self, dest: usize, src: usize) {
        let (sender, client) = (&self.endpoints[src].id, &self.endpoints[dest].id);
        let problem = format!(
            "{sender} sent client {client} more than {} messages it did not read; later ones \
             are dropped",
            super::CLIENT_INBOX
        );
        let node = sender.clone();
        self.shared
            .fault(src, NodeFault::new(&node, FaultKind::InboxFull, problem));
    }

    fn set_grudge(&mut self, g: &Grudge) {
        self.grudge.clear();
        for (receiver, sources) in g {
            let Some(&r) = self.by_id.get(receiver) else {
                continue;
            };
            let set: HashSet<usize> = sources
                .iter()
                .filter_map(|s| self.by_id.get(s).copied())
                .filter(|&s| s < self.node_count)
                .collect();
            if r < self.node_count && !set.is_empty() {
                self.grudge.insert(r, set);
            }
        }
    }

    fn count(&mut self, client_traffic: bool, send: bool) {
        let bump = |g: &mut GroupStats| {
            if send {
                g.send_count += 1;
                g.msg_count += 1;
            } else {
                g.recv_count += 1;
            }
        };
        bump(&mut self.stats.all);
        if client_traffic {
            bump(&mut self.stats.clients);
        } else {
            bump(&mut self.stats.servers);
        }
    }

    fn journal(&mut self, kind: EventKind, at: Instant, wire: &Arc<str>, body_at: usize) {
        let time = at.saturating_duration_since(self.shared.start).as_nanos() as u64;
        self.journal_buf.push(Event {
            kind,
            time,
            wire: wire.clone(),
            body_at,
        });
    }

    /// Hands batched journal events and stdin lines to their threads.
    pub fn flush_io(&mut self) {
        if !self.journal_buf.is_empty() {
            let batch = std::mem::replace(&mut self.journal_buf, Vec::with_capacity(4096));
            self.journal.send(batch);
        }
        for (i, buf) in self.stdin_buf.iter_mut().enumerate() {
            if buf.is_empty() {
                continue;
            }
            if let Kind::Node(stdin) = &self.endpoints[i].kind {
                let _ = stdin.send(std::mem::take(buf));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::budget::ByteBudget;
    use crate::net::latency::LatencyDist;
    use rand::SeedableRng;
    use std::sync::mpsc::{channel, sync_channel};

    struct Rig {
        router: Router,
        stdin: Vec<Receiver<StdinBatch>>,
        journal: Receiver<Vec<Event>>,
        shared: Arc<Shared>,
    }

    fn rig(n: usize, latency_ms: u64) -> Rig {
        rig_with(n, latency_ms, crate::net::BufferLimits::default())
    }

    fn rig_with(n: usize, latency_ms: u64, limits: crate::net::BufferLimits) -> Rig {
        let shared = Arc::new(Shared::with_limits(Instant::now(), n, limits));
        let (jtx, jrx) = channel();
        let mut nodes = Vec::new();
        let mut stdin = Vec::new();
        for i in 0..n {
            let (tx, rx) = channel();
            nodes.push((format!("n{i}"), tx));
            stdin.push(rx);
        }
        let router = Router::new(RouterSetup {
            nodes,
            latency: LatencyModel {
                mean_ms: latency_ms,
                dist: LatencyDist::Constant,
            },
            rng: StdRng::seed_from_u64(1),
            journal: JournalSink::new(jtx, Arc::new(ByteBudget::new(usize::MAX))),
            shared: shared.clone(),
        });
        Rig {
            router,
            stdin,
            journal: jrx,
            shared,
        }
    }

    fn node_line(r: &mut Rig, node: usize, line: &str) {
        let msg = crate::net::envelope::parse_line(line).unwrap();
        r.router.handle(RouterCmd::FromNode {
            node,
            line: line.to_string(),
            msg,
        });
    }

    #[test]
    fn ids_start_at_zero_and_fifo_per_destination() {
        let mut r = rig(2, 0);
        for k in 0..3 {
            node_line(
                &mut r,
                0,
                &format!(r#"{{"src":"n0","dest":"n1","body":{{"k":{k}}}}}"#),
            );
        }
        r.router.deliver_due();
        r.router.flush_io();
        let got: Vec<String> = r.stdin[1]
            .try_iter()
            .flatten()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(got.len(), 3);
        for (k, line) in got.iter().enumerate() {
            let v: Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["id"], k as u64);
            assert_eq!(v["body"]["k"], k as u64);
            assert_eq!(v["src"], "n0");
        }
        assert_eq!(r.router.stats.servers.send_count, 3);
        assert_eq!(r.router.stats.servers.recv_count, 3);
    }

    #[test]
    fn partition_drops_at_dequeue_and_journals_it() {
        let mut r = rig(2, 0);
        let mut g = Grudge::new();
        g.insert("n1".into(), ["n0".to_string()].into_iter().collect());
        r.router.handle(RouterCmd::SetGrudge(g));
        node_line(&mut r, 0, r#"{"src":"n0","dest":"n1","body":{}}"#);
        node_line(&mut r, 1, r#"{"src":"n1","dest":"n0","body":{}}"#);
        r.router.deliver_due();
        r.router.flush_io();
        assert_eq!(r.stdin[1].try_iter().flatten().count(), 0);
        assert_eq!(r.stdin[0].try_iter().flatten().count(), 1);
        let kinds: Vec<EventKind> = r.journal.try_iter().flatten().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            vec![
                EventKind::Send,
                EventKind::Drop,
                EventKind::Send,
                EventKind::Recv
            ]
        );
        assert_eq!(r.router.stats.dropped, 1);
    }

    #[test]
    fn latency_applies_between_servers_but_not_to_clients() {
        let mut r = rig(1, 200);
        let (tx, rx) = sync_channel(8);
        r.router.handle(RouterCmd::Register {
            id: "c0".into(),
            inbox: tx,
        });
        node_line(&mut r, 0, r#"{"src":"n0","dest":"c0","body":{"type":"x"}}"#);
        let d = rx.try_recv().unwrap();
        assert_eq!(d.src, "n0");
        assert_eq!(d.body["type"], "x");
        node_line(
            &mut r,
            0,
            r#"{"src":"n0","dest":"lin-kv","body":{"type":"x"}}"#,
        );
        r.router.deliver_due();
        r.router.flush_io();
        assert_eq!(r.router.stats.servers.recv_count, 0, "still in flight");
        assert_eq!(r.router.stats.clients.recv_count, 1);
    }

    #[test]
    fn unknown_dest_kills_the_node_output() {
        let mut r = rig(2, 0);
        node_line(&mut r, 0, r#"{"src":"n0","dest":"n7","body":{}}"#);
        assert!(r.shared.is_dead(0));
        node_line(&mut r, 0, r#"{"src":"n0","dest":"n1","body":{}}"#);
        r.router.deliver_due();
        r.router.flush_io();
        assert_eq!(r.stdin[1].try_iter().flatten().count(), 0);
        let faults = r.shared.faults();
        assert_eq!(faults.len(), 1);
        assert!(faults[0].problem.contains("n7"));
        assert_eq!(faults[0].kind, FaultKind::UnknownId);
        assert!(faults[0].fatal);
    }

    #[test]
    fn closed_clients_are_invalid_destinations() {
        let mut r = rig(1, 0);
        let (tx, _rx) = sync_channel(8);
        r.router.handle(RouterCmd::Register {
            id: "c3".into(),
            inbox: tx,
        });
        r.router.handle(RouterCmd::Unregister { id: "c3".into() });
        node_line(&mut r, 0, r#"{"src":"n0","dest":"c3","body":{}}"#);
        assert!(r.shared.is_dead(0));
    }

    #[test]
    fn a_node_that_does_not_read_gets_its_messages_dropped_past_its_backlog() {
        let limits = crate::net::BufferLimits {
            inbound: 1 << 20,
            stdin_backlog: 300,
        };
        let mut r = rig_with(2, 0, limits);
        for k in 0..10 {
            node_line(
                &mut r,
                0,
                &format!(r#"{{"src":"n0","dest":"n1","body":{{"k":{k}}}}}"#),
            );
            r.router.deliver_due();
        }
        r.router.flush_io();
        // Nobody writes n1's stdin (so nothing is given back): only what fits got through.
        let got = r.stdin[1].try_iter().flatten().count();
        assert!((3..10).contains(&got), "{got} of 10 admitted");
        assert!(r.shared.stdin_backlog[1].used() <= 300);
        let drops = r
            .journal
            .try_iter()
            .flatten()
            .filter(|e| e.kind == EventKind::Drop)
            .count();
        assert_eq!(drops, 10 - got);
        let (tx, _stats) = channel();
        r.router.handle(RouterCmd::Stop(tx));
        let faults = r.shared.faults();
        assert!(faults
            .iter()
            .all(|f| f.kind == FaultKind::StdinBacklog && f.node == "n1"));
        assert_eq!(faults.len(), 2, "one when it filled, one total: {faults:?}");
        assert!(faults[1]
            .problem
            .contains(&format!("{} messages", 10 - got)));
        assert_eq!(r.router.stats.servers.recv_count, got as u64);
    }

    #[test]
    fn lines_from_a_node_give_their_bytes_back_to_its_inbound_budget() {
        let mut r = rig(2, 0);
        let line = r#"{"src":"n0","dest":"n1","body":{}}"#;
        assert!(r.shared.inbound[0].acquire(line.len()));
        node_line(&mut r, 0, line);
        assert_eq!(r.shared.inbound[0].used(), 0);
    }

    #[test]
    fn a_second_reply_to_one_request_is_reported_and_still_delivered() {
        let mut r = rig(1, 0);
        let (tx, rx) = sync_channel(8);
        r.router.handle(RouterCmd::Register {
            id: "c4".into(),
            inbox: tx,
        });
        let reply = r#"{"src":"n0","dest":"c4","body":{"type":"echo_ok","in_reply_to":3}}"#;
        node_line(&mut r, 0, reply);
        assert!(r.shared.faults().is_empty());
        node_line(&mut r, 0, reply);
        assert_eq!(rx.try_iter().count(), 2);
        let faults = r.shared.faults();
        assert_eq!(faults.len(), 1);
        assert_eq!(faults[0].kind, FaultKind::DuplicateReply);
        assert!(!faults[0].fatal);
        assert!(
            faults[0].problem.contains("c4's request msg_id 3"),
            "{}",
            faults[0].problem
        );
    }

    #[test]
    fn a_flooded_client_inbox_drops_and_blames_the_sender() {
        let mut r = rig(1, 0);
        let (tx, rx) = sync_channel(2);
        r.router.handle(RouterCmd::Register {
            id: "c0".into(),
            inbox: tx,
        });
        for k in 0..5 {
            node_line(
                &mut r,
                0,
                &format!(r#"{{"src":"n0","dest":"c0","body":{{"k":{k}}}}}"#),
            );
        }
        assert_eq!(rx.try_iter().count(), 2);
        let counts = r.shared.fault_counts();
        assert_eq!(counts["n0"]["inbox-full"], 3);
        assert!(!r.shared.is_dead(0), "not fatal");
    }
}
