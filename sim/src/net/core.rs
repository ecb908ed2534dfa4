//! The network's fault model, IO-free: ids, latencies, per-destination queues with
//! Maelstrom's head-of-line blocking, partitions checked at dequeue, services, statistics
//! and journal events. The caller hands it the time (`now`, since the network started)
//! with every call and collects what it delivers to nodes and clients; the real-time
//! router wraps it with channels and the wall clock, the deterministic driver with a
//! virtual clock. See the module docs of [`crate::net`] for the delivery rules.
//!
//! Beyond Maelstrom (for the explorer only): a node can be marked as duplicating, so each
//! message sent to it is delivered twice (the copy with its own latency draw).

use super::journal::{Event, EventKind};
use super::latency::{is_client, LatencyModel};
use super::partition::Grudge;
use super::{Delivery, GroupStats, NetStats};
use glomers_simkit::service::{new_service, Service, SERVICE_IDS};
use rand::rngs::StdRng;
use serde_json::Value;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// What sits behind an id.
enum Role {
    Node,
    Service(Box<dyn Service>),
    Client,
    /// An unregistered client: messages to it are discarded.
    Closed,
}

struct Endpoint {
    id: String,
    /// The id as a JSON string literal, ready to splice into wire lines.
    id_json: String,
    role: Role,
    client: bool,
    queue: BinaryHeap<Reverse<Pending>>,
    busy: bool,
}

struct Pending {
    id: u64,
    deadline: Duration,
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

/// A message the network hands to its destination.
#[derive(Debug, Clone)]
pub enum Delivered {
    /// A line for node `node`'s stdin (the whole wire form, without newline).
    ToNode {
        /// Index of the node in the plan's order.
        node: usize,
        /// `{"id":..,"src":..,"dest":..,"body":..}`.
        wire: Arc<str>,
    },
    /// A message for a client.
    ToClient {
        /// The client's id.
        client: String,
        /// The delivery.
        delivery: Delivery,
    },
}

/// A send the network refused: an endpoint id nobody registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEndpoint {
    /// The source id, if it is unknown.
    pub src: Option<String>,
    /// The destination id, if it is unknown.
    pub dest: Option<String>,
}

/// What a node is told when it sends from or to an id nobody registered.
pub fn unknown_id_problem(e: &UnknownEndpoint) -> String {
    let which = match (&e.src, &e.dest) {
        (Some(s), Some(d)) => format!("neither src {s:?} nor dest {d:?}"),
        (Some(s), None) => format!("src {s:?}"),
        (None, Some(d)) => format!("dest {d:?}"),
        (None, None) => "an id".to_string(),
    };
    let hint = if e.dest.as_deref().is_some_and(is_client) {
        " (a client that is closed or never existed: a late reply after a timeout?)"
    } else {
        ""
    };
    format!("invalid source/dest for message: {which} is not a registered id{hint}")
}

/// The network's state.
pub struct NetCore {
    endpoints: Vec<Endpoint>,
    by_id: HashMap<String, usize>,
    node_count: usize,
    /// (deadline, seq, endpoint) of every destination's head message.
    heads: BinaryHeap<Reverse<(Duration, u64, usize)>>,
    heads_msg: HashMap<usize, Pending>,
    grudge: HashMap<usize, HashSet<usize>>,
    duplicating: HashSet<usize>,
    latency: LatencyModel,
    rng: StdRng,
    journal: Vec<Event>,
    next_id: u64,
    seq: u64,
    stats: NetStats,
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

impl NetCore {
    /// A network with `nodes` (in plan order) and the four services registered.
    pub fn new(nodes: &[String], latency: LatencyModel, rng: StdRng) -> NetCore {
        let mut n = NetCore {
            endpoints: Vec::new(),
            by_id: HashMap::new(),
            node_count: nodes.len(),
            heads: BinaryHeap::new(),
            heads_msg: HashMap::new(),
            grudge: HashMap::new(),
            duplicating: HashSet::new(),
            latency,
            rng,
            journal: Vec::with_capacity(4096),
            next_id: 0,
            seq: 0,
            stats: NetStats::default(),
        };
        for id in nodes {
            n.add(id.clone(), Role::Node);
        }
        for id in SERVICE_IDS {
            if let Some(svc) = new_service(id) {
                n.add(id.to_string(), Role::Service(svc));
            }
        }
        n
    }

    fn add(&mut self, id: String, role: Role) {
        let idx = self.endpoints.len();
        self.by_id.insert(id.clone(), idx);
        self.endpoints.push(Endpoint {
            id_json: json_str(&id),
            client: is_client(&id),
            id,
            role,
            queue: BinaryHeap::new(),
            busy: false,
        });
    }

    /// Registers client `id` (again, if it was closed).
    pub fn register_client(&mut self, id: &str) {
        match self.by_id.get(id) {
            Some(&i) => self.endpoints[i].role = Role::Client,
            None => self.add(id.to_string(), Role::Client),
        }
    }

    /// Unregisters client `id`: later messages to it are invalid destinations.
    pub fn unregister_client(&mut self, id: &str) {
        if let Some(i) = self.by_id.remove(id) {
            self.endpoints[i].role = Role::Closed;
        }
    }

    /// True when `id` is registered.
    pub fn knows(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// Sends a node's message (its body as JSON text) from `src` to `dest`.
    pub fn send_text(
        &mut self,
        now: Duration,
        src: &str,
        dest: &str,
        body: &str,
    ) -> Result<(), UnknownEndpoint> {
        let (s, d) = self.ends(src, dest)?;
        self.send(now, s, d, body, None);
        Ok(())
    }

    /// Sends a client's message (its parsed body) from `src` to `dest`.
    pub fn send_value(
        &mut self,
        now: Duration,
        src: &str,
        dest: &str,
        body: Value,
    ) -> Result<(), UnknownEndpoint> {
        let (s, d) = self.ends(src, dest)?;
        let text = body.to_string();
        self.send(now, s, d, &text, Some(body));
        Ok(())
    }

    fn ends(&self, src: &str, dest: &str) -> Result<(usize, usize), UnknownEndpoint> {
        match (self.by_id.get(src), self.by_id.get(dest)) {
            (Some(&s), Some(&d)) => Ok((s, d)),
            (s, d) => Err(UnknownEndpoint {
                src: s.is_none().then(|| src.to_string()),
                dest: d.is_none().then(|| dest.to_string()),
            }),
        }
    }

    /// Hands a message to the network: id, journal, latency, queue.
    fn send(&mut self, now: Duration, src: usize, dest: usize, body: &str, parsed: Option<Value>) {
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
        let client_traffic = self.endpoints[src].client || self.endpoints[dest].client;
        self.count(client_traffic, true);
        self.record(EventKind::Send, now, &wire, body_at);
        let copies = if !client_traffic && self.duplicating.contains(&dest) {
            2
        } else {
            1
        };
        for _ in 0..copies {
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
                wire: wire.clone(),
                body_at,
                parsed: parsed.clone(),
                client_traffic,
            };
            self.endpoints[dest].queue.push(Reverse(p));
            if !self.endpoints[dest].busy {
                self.promote(now, dest);
            }
        }
    }

    /// Takes the next message of `dest`'s queue as its head, dropping partitioned ones.
    fn promote(&mut self, now: Duration, dest: usize) {
        while let Some(Reverse(p)) = self.endpoints[dest].queue.pop() {
            if self
                .grudge
                .get(&dest)
                .is_some_and(|ignored| ignored.contains(&p.src))
            {
                self.stats.dropped += 1;
                self.record(EventKind::Drop, now, &p.wire, p.body_at);
                continue;
            }
            self.heads.push(Reverse((p.deadline, p.seq, dest)));
            self.heads_msg.insert(dest, p);
            self.endpoints[dest].busy = true;
            return;
        }
        self.endpoints[dest].busy = false;
    }

    /// The time of the next delivery.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.heads.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Delivers every message due by `now` into `out`, in delivery order; services answer
    /// as their requests arrive. `admit(node, wire)` may refuse a line for a node (its
    /// stdin is full): the message is then journaled as dropped.
    pub fn deliver_due(
        &mut self,
        now: Duration,
        admit: &mut dyn FnMut(usize, &str) -> bool,
        out: &mut Vec<Delivered>,
    ) {
        while let Some(Reverse((deadline, _, dest))) = self.heads.peek().copied() {
            if deadline > now {
                break;
            }
            self.heads.pop();
            if let Some(p) = self.heads_msg.remove(&dest) {
                self.deliver(deadline, dest, p, admit, out);
            }
            self.promote(deadline, dest);
        }
    }

    fn deliver(
        &mut self,
        at: Duration,
        dest: usize,
        p: Pending,
        admit: &mut dyn FnMut(usize, &str) -> bool,
        out: &mut Vec<Delivered>,
    ) {
        let is_node = matches!(self.endpoints[dest].role, Role::Node);
        if is_node && !admit(dest, &p.wire) {
            self.record(EventKind::Drop, at, &p.wire, p.body_at);
            return;
        }
        self.count(p.client_traffic, false);
        self.record(EventKind::Recv, at, &p.wire, p.body_at);
        let body_text = &p.wire[p.body_at..p.wire.len() - 1];
        let src_id = self.endpoints[p.src].id.clone();
        match &mut self.endpoints[dest].role {
            Role::Node => out.push(Delivered::ToNode {
                node: dest,
                wire: p.wire.clone(),
            }),
            Role::Client => {
                let body = match p.parsed {
                    Some(v) => v,
                    None => serde_json::from_str(body_text).unwrap_or(Value::Null),
                };
                out.push(Delivered::ToClient {
                    client: self.endpoints[dest].id.clone(),
                    delivery: Delivery {
                        id: p.id,
                        src: src_id,
                        body,
                    },
                });
            }
            Role::Service(svc) => {
                let body: Value = match p.parsed {
                    Some(v) => v,
                    None => serde_json::from_str(body_text).unwrap_or(Value::Null),
                };
                if let Some(reply) = svc.handle(&src_id, &body, &mut self.rng) {
                    // The requester may have gone away (a closed client): drop quietly.
                    if self.by_id.contains_key(&src_id) {
                        let text = reply.to_string();
                        self.send(at, dest, p.src, &text, Some(reply));
                    }
                }
            }
            Role::Closed => {}
        }
    }

    /// Replaces the partition state (empty: healed). Only node-to-node links are cut.
    pub fn set_grudge(&mut self, g: &Grudge) {
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

    /// Makes every message from another node to `node` arrive twice (or stops it).
    pub fn set_duplicating(&mut self, node: &str, on: bool) {
        if let Some(&i) = self.by_id.get(node).filter(|&&i| i < self.node_count) {
            if on {
                self.duplicating.insert(i);
            } else {
                self.duplicating.remove(&i);
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

    fn record(&mut self, kind: EventKind, at: Duration, wire: &Arc<str>, body_at: usize) {
        self.journal.push(Event {
            kind,
            time: at.as_nanos() as u64,
            wire: wire.clone(),
            body_at,
        });
    }

    /// Takes the journal events recorded since the last call.
    pub fn take_journal(&mut self) -> Vec<Event> {
        std::mem::replace(&mut self.journal, Vec::with_capacity(4096))
    }

    /// True when journal events wait to be taken.
    pub fn has_journal(&self) -> bool {
        !self.journal.is_empty()
    }

    /// The traffic statistics so far.
    pub fn stats(&self) -> NetStats {
        self.stats
    }

    /// The id of endpoint `index` (nodes come first, in plan order).
    pub fn id_of(&self, index: usize) -> &str {
        &self.endpoints[index].id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::latency::LatencyDist;
    use rand::SeedableRng;
    use serde_json::json;

    fn net(latency_ms: u64) -> NetCore {
        let nodes = vec!["n0".to_string(), "n1".to_string()];
        let model = LatencyModel {
            mean_ms: latency_ms,
            dist: LatencyDist::Constant,
        };
        NetCore::new(&nodes, model, StdRng::seed_from_u64(1))
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn run(n: &mut NetCore, now: Duration) -> Vec<Delivered> {
        let mut out = Vec::new();
        n.deliver_due(now, &mut |_, _| true, &mut out);
        out
    }

    #[test]
    fn node_messages_arrive_after_the_latency_and_clients_at_once() {
        let mut n = net(100);
        n.register_client("c1");
        n.send_text(ms(0), "n0", "n1", r#"{"type":"x"}"#).unwrap();
        n.send_value(ms(0), "c1", "n0", json!({"type": "echo", "msg_id": 1}))
            .unwrap();
        let now = run(&mut n, ms(0));
        assert_eq!(now.len(), 1, "the client's request is not delayed");
        assert!(matches!(&now[0], Delivered::ToNode { node: 0, .. }));
        assert_eq!(n.next_deadline(), Some(ms(100)));
        let later = run(&mut n, ms(100));
        match &later[..] {
            [Delivered::ToNode { node: 1, wire }] => {
                assert_eq!(
                    &**wire,
                    r#"{"id":0,"src":"n0","dest":"n1","body":{"type":"x"}}"#
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(n.stats().servers.recv_count, 1);
    }

    #[test]
    fn partitions_drop_at_dequeue_and_services_answer() {
        let mut n = net(10);
        let g: Grudge = [("n1".to_string(), ["n0".to_string()].into())].into();
        n.set_grudge(&g);
        n.send_text(ms(0), "n0", "n1", r#"{"type":"x"}"#).unwrap();
        n.send_text(
            ms(0),
            "n0",
            "lin-kv",
            r#"{"type":"read","key":1,"msg_id":3}"#,
        )
        .unwrap();
        let out = run(&mut n, ms(30));
        assert_eq!(n.stats().dropped, 1);
        match &out[..] {
            [Delivered::ToNode { node: 0, wire }] => {
                assert!(wire.contains(r#""in_reply_to":3"#), "{wire}")
            }
            other => panic!("{other:?}"),
        }
        let kinds: Vec<EventKind> = n.take_journal().iter().map(|e| e.kind).collect();
        assert!(kinds.contains(&EventKind::Drop));
        assert_eq!(
            n.send_text(ms(0), "n0", "n7", "{}"),
            Err(UnknownEndpoint {
                src: None,
                dest: Some("n7".into())
            })
        );
    }

    #[test]
    fn a_duplicating_node_gets_each_message_twice() {
        let mut n = net(10);
        n.set_duplicating("n1", true);
        n.send_text(ms(0), "n0", "n1", r#"{"type":"x"}"#).unwrap();
        assert_eq!(run(&mut n, ms(50)).len(), 2);
        n.set_duplicating("n1", false);
        n.send_text(ms(50), "n0", "n1", r#"{"type":"x"}"#).unwrap();
        assert_eq!(run(&mut n, ms(100)).len(), 1);
    }
}
