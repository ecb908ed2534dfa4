//! The router thread: the network's fault model ([`NetCore`]) on the wall clock, with the
//! channels to node stdins and client inboxes, the journal hand-off, and the checks of
//! what nodes send. See the module docs of [`crate::net`] for the delivery rules.
//!
//! Deviations from Maelstrom, for hostile nodes only: messages for a node whose stdin
//! backlog is full are dropped (journaled as drops, reported as `stdin-backlog`) instead of
//! queued without limit, and messages for a client whose inbox is full are dropped
//! (`inbox-full`). A second reply to one client request is delivered, as Maelstrom does,
//! and reported (`duplicate-reply`).

use super::core::{unknown_id_problem, Delivered, NetCore};
use super::journal::{Event, JournalSink};
use super::latency::LatencyModel;
use super::{Delivery, FaultKind, NetStats, NodeFault, RouterCmd, Shared, StdinBatch};
use rand::rngs::StdRng;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::time::Duration;

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

/// A registered client's channel and its recent replies.
struct ClientInbox {
    inbox: SyncSender<Delivery>,
    /// The `in_reply_to`s of the last replies it was sent, to spot a node answering one
    /// request twice.
    answered: VecDeque<u64>,
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
    net: NetCore,
    node_ids: Vec<String>,
    node_index: HashMap<String, usize>,
    stdin: Vec<Sender<StdinBatch>>,
    clients: HashMap<String, ClientInbox>,
    journal: JournalSink,
    /// Stdin lines are batched and handed over before the router waits (or every few
    /// hundred commands), so IO threads are not woken per message.
    stdin_buf: Vec<StdinBatch>,
    shared: Arc<Shared>,
    backlog_drops: Vec<BacklogDrops>,
    deliveries: Vec<Delivered>,
}

impl Router {
    /// Builds a router with the nodes and the four services registered.
    pub fn new(setup: RouterSetup) -> Router {
        let node_ids: Vec<String> = setup.nodes.iter().map(|(id, _)| id.clone()).collect();
        let n = node_ids.len();
        Router {
            net: NetCore::new(&node_ids, setup.latency, setup.rng),
            node_index: node_ids
                .iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i))
                .collect(),
            node_ids,
            stdin: setup.nodes.into_iter().map(|(_, tx)| tx).collect(),
            clients: HashMap::new(),
            journal: setup.journal,
            stdin_buf: vec![Vec::new(); n],
            shared: setup.shared,
            backlog_drops: vec![BacklogDrops::default(); n],
            deliveries: Vec::new(),
        }
    }

    /// Time since the network started: the clock the network core runs on.
    fn now(&self) -> Duration {
        self.shared.start.elapsed()
    }

    /// Runs until a `Stop` command (or until every sender is gone).
    pub fn run(mut self, rx: Receiver<RouterCmd>) {
        loop {
            self.deliver_due();
            self.flush_io();
            let cmd = match self.net.next_deadline() {
                Some(deadline) => {
                    let now = self.now();
                    if deadline <= now {
                        continue;
                    }
                    match rx.recv_timeout(deadline - now) {
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
                let now = self.now();
                if self.net.send_value(now, &src, &dest, body).is_err() {
                    eprintln!("glomers-sim: internal: client {src} sent to unknown {dest}");
                }
            }
            RouterCmd::Register { id, inbox } => {
                self.net.register_client(&id);
                self.clients.insert(
                    id,
                    ClientInbox {
                        inbox,
                        answered: VecDeque::new(),
                    },
                );
            }
            RouterCmd::Unregister { id } => {
                self.net.unregister_client(&id);
                self.clients.remove(&id);
            }
            RouterCmd::SetGrudge(g) => self.net.set_grudge(&g),
            RouterCmd::Stop(reply) => {
                self.flush_io();
                self.report_backlog_drops();
                let _ = reply.send(self.net.stats());
                return false;
            }
        }
        true
    }

    fn accept_node_line(&mut self, node: usize, line: String, msg: super::envelope::NodeMessage) {
        if self.shared.is_dead(node) {
            return;
        }
        let name = self.node_ids[node].clone();
        let now = self.now();
        let body = &line[msg.body.clone()];
        if let Err(e) = self.net.send_text(now, &msg.src, &msg.dest, body) {
            self.shared.fault(
                node,
                NodeFault::new(&name, FaultKind::UnknownId, unknown_id_problem(&e))
                    .with_line(&line)
                    .fatal(),
            );
            return;
        }
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
    }

    /// Delivers what is due: lines to node stdins (within their backlogs), messages to
    /// client inboxes.
    fn deliver_due(&mut self) {
        let now = self.now();
        let mut out = std::mem::take(&mut self.deliveries);
        let (shared, drops, ids) = (&self.shared, &mut self.backlog_drops, &self.node_ids);
        let mut admit = |node: usize, wire: &str| admit_to_stdin(shared, drops, ids, node, wire);
        self.net.deliver_due(now, &mut admit, &mut out);
        for d in out.drain(..) {
            match d {
                Delivered::ToNode { node, wire } => {
                    if let Some(buf) = self.stdin_buf.get_mut(node) {
                        buf.push(wire);
                    }
                }
                Delivered::ToClient { client, delivery } => {
                    self.deliver_to_client(&client, delivery)
                }
            }
        }
        self.deliveries = out;
    }

    fn deliver_to_client(&mut self, client: &str, delivery: Delivery) {
        let src = self.node_index.get(&delivery.src).copied();
        if let Some(src) = src {
            self.check_duplicate_reply(client, src, &delivery.body);
        }
        let Some(c) = self.clients.get(client) else {
            return;
        };
        if let Err(TrySendError::Full(_)) = c.inbox.try_send(delivery) {
            if let Some(src) = src {
                self.inbox_full(client, src);
            }
        }
    }

    /// Records the total of messages dropped per node because its backlog was full.
    fn report_backlog_drops(&mut self) {
        for (i, d) in self.backlog_drops.iter().enumerate() {
            if d.count == 0 {
                continue;
            }
            let node = &self.node_ids[i];
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

    /// Spots node `src` sending `client` a second reply to one request.
    fn check_duplicate_reply(&mut self, client: &str, src: usize, body: &Value) {
        let Some(irt) = body.get("in_reply_to").and_then(Value::as_u64) else {
            return;
        };
        let Some(c) = self.clients.get_mut(client) else {
            return;
        };
        if !c.answered.contains(&irt) {
            if c.answered.len() == ANSWERED_KEPT {
                c.answered.pop_front();
            }
            c.answered.push_back(irt);
            return;
        }
        let node = self.node_ids[src].clone();
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
            .with_line(&body.to_string()),
        );
    }

    /// `client`'s inbox is full: the message from node `src` was dropped.
    fn inbox_full(&mut self, client: &str, src: usize) {
        let sender = &self.node_ids[src];
        let problem = format!(
            "{sender} sent client {client} more than {} messages it did not read; later ones \
             are dropped",
            super::CLIENT_INBOX
        );
        let node = sender.clone();
        self.shared
            .fault(src, NodeFault::new(&node, FaultKind::InboxFull, problem));
    }

    /// Hands journal events and stdin lines to their threads.
    pub fn flush_io(&mut self) {
        if self.net.has_journal() {
            let batch: Vec<Event> = self.net.take_journal();
            self.journal.send(batch);
        }
        for (i, buf) in self.stdin_buf.iter_mut().enumerate() {
            if buf.is_empty() {
                continue;
            }
            if let Some(stdin) = self.stdin.get(i) {
                let _ = stdin.send(std::mem::take(buf));
            }
        }
    }

    /// The traffic statistics so far.
    pub fn stats(&self) -> NetStats {
        self.net.stats()
    }
}

/// Takes room in node `dest`'s stdin backlog for `wire`; when the node does not read and
/// the backlog is full, refuses it (the network journals a drop) and says so once per
/// episode, so the router never waits for a node.
fn admit_to_stdin(
    shared: &Shared,
    drops: &mut [BacklogDrops],
    ids: &[String],
    dest: usize,
    wire: &str,
) -> bool {
    let Some(budget) = shared.stdin_backlog.get(dest) else {
        return true;
    };
    let admitted = budget.try_acquire(wire.len() + 1);
    let cap = budget.cap();
    let Some(d) = drops.get_mut(dest) else {
        return admitted;
    };
    if admitted {
        d.full = false;
        return true;
    }
    d.count += 1;
    let first_of_episode = !d.full;
    d.full = true;
    if first_of_episode {
        let node = &ids[dest];
        shared.fault(
            dest,
            NodeFault::new(
                node,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::budget::ByteBudget;
    use crate::net::journal::EventKind;
    use crate::net::latency::LatencyDist;
    use crate::net::partition::Grudge;
    use rand::SeedableRng;
    use std::sync::mpsc::{channel, sync_channel};
    use std::time::Instant;

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
        assert_eq!(r.router.stats().servers.send_count, 3);
        assert_eq!(r.router.stats().servers.recv_count, 3);
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
        assert_eq!(r.router.stats().dropped, 1);
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
        r.router.deliver_due();
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
        assert_eq!(r.router.stats().servers.recv_count, 0, "still in flight");
        assert_eq!(r.router.stats().clients.recv_count, 1);
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
        assert_eq!(r.router.stats().servers.recv_count, got as u64);
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
        r.router.deliver_due();
        assert!(r.shared.faults().is_empty());
        node_line(&mut r, 0, reply);
        r.router.deliver_due();
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
        r.router.deliver_due();
        assert_eq!(rx.try_iter().count(), 2);
        let counts = r.shared.fault_counts();
        assert_eq!(counts["n0"]["inbox-full"], 3);
        assert!(!r.shared.is_dead(0), "not fatal");
    }
}
