//! A tiny in-test cluster for multi-node unit tests of the counter and kafka families:
//! several [`TestNode`]s on one virtual clock, fake `seq-kv` / `lin-kv` services with
//! Maelstrom's semantics, and a network that can cut node-to-node links, drop, duplicate
//! or reorder messages. Deterministic for a given seed.

use std::any::Any;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use glomers_runtime::testkit::TestNode;
use serde_json::{json, Value};

/// A small deterministic random number generator (xorshift64*).
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// A service answering request bodies like Maelstrom's.
pub trait FakeService: Any {
    /// The reply body (with `in_reply_to`) to `body` from `src`, or `None`.
    fn handle(&mut self, src: &str, body: &Value, rng: &mut Rng) -> Option<Value>;
    /// The service itself, to inspect its state.
    fn as_any(&mut self) -> &mut dyn Any;
}

fn error(code: u64, text: &str) -> Value {
    json!({"type": "error", "code": code, "text": text})
}

/// Runs a kv request on `current`; returns the reply and the new value if it changes.
fn apply(body: &Value, current: Option<&Value>) -> (Value, Option<Value>) {
    let changed = |new: &Value| (current != Some(new)).then(|| new.clone());
    match (body["type"].as_str(), current) {
        (Some("read"), Some(v)) => (json!({"type": "read_ok", "value": v}), None),
        (Some("read"), None) => (error(20, "key does not exist"), None),
        (Some("write"), _) => (json!({"type": "write_ok"}), changed(&body["value"])),
        (Some("cas"), Some(v)) if *v == body["from"] => {
            (json!({"type": "cas_ok"}), changed(&body["to"]))
        }
        (Some("cas"), Some(_)) => (error(22, "precondition failed"), None),
        (Some("cas"), None) if body["create_if_not_exists"] == json!(true) => {
            (json!({"type": "cas_ok"}), changed(&body["to"]))
        }
        (Some("cas"), None) => (error(20, "key does not exist"), None),
        _ => (error(10, "unsupported"), None),
    }
}

fn with_reply_to(body: &Value, mut reply: Value) -> Value {
    reply["in_reply_to"] = body["msg_id"].clone();
    reply
}

/// Maelstrom's `lin-kv`: one map, every request applied atomically.
#[derive(Default)]
pub struct LinKv {
    /// The stored map.
    pub map: HashMap<String, Value>,
    /// Number of requests served.
    pub requests: usize,
}

impl FakeService for LinKv {
    fn handle(&mut self, _src: &str, body: &Value, _rng: &mut Rng) -> Option<Value> {
        self.requests += 1;
        let key = body["key"].to_string();
        let (reply, new) = apply(body, self.map.get(&key));
        if let Some(v) = new {
            self.map.insert(key, v);
        }
        Some(with_reply_to(body, reply))
    }
    fn as_any(&mut self) -> &mut dyn Any {
        self
    }
}

/// Number of versions Maelstrom's seq-kv keeps.
const SEQ_KV_WINDOW: usize = 32;

/// Maelstrom's `seq-kv`: the last 32 versions of the map; each source reads a random
/// version between its last index and the newest, unless its request changes the state,
/// which runs on the newest version and moves the source to it.
pub struct SeqKv {
    versions: Vec<HashMap<String, Value>>,
    last: HashMap<String, usize>,
    /// Number of requests served.
    pub requests: usize,
}

impl Default for SeqKv {
    fn default() -> Self {
        SeqKv {
            versions: vec![HashMap::new()],
            last: HashMap::new(),
            requests: 0,
        }
    }
}

impl SeqKv {
    /// The newest value of `key`.
    pub fn newest(&self, key: &str) -> Option<&Value> {
        self.versions
            .last()
            .and_then(|m| m.get(&json!(key).to_string()))
    }
}

impl FakeService for SeqKv {
    fn handle(&mut self, src: &str, body: &Value, rng: &mut Rng) -> Option<Value> {
        self.requests += 1;
        let key = body["key"].to_string();
        let newest = self.versions.len() - 1;
        let last = self.last.get(src).copied().unwrap_or(0);
        let chosen = rng.range(last as u64, newest as u64) as usize;
        let stored = newest - (newest - chosen) % SEQ_KV_WINDOW;
        let (reply, new) = apply(body, self.versions[stored].get(&key));
        if new.is_none() {
            self.last.insert(src.to_string(), chosen);
            return Some(with_reply_to(body, reply));
        }
        let mut map = self.versions[newest].clone();
        let (reply, new) = apply(body, map.get(&key));
        if let Some(v) = new {
            map.insert(key, v);
        }
        self.versions.push(map);
        self.last.insert(src.to_string(), newest + 1);
        Some(with_reply_to(body, reply))
    }
    fn as_any(&mut self) -> &mut dyn Any {
        self
    }
}

/// What the network does to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Deliver it.
    Deliver,
    /// Lose it.
    Drop,
    /// Deliver it twice.
    Duplicate,
}

type FateFn = Box<dyn FnMut(&Value) -> Fate>;

/// The cluster: nodes, services, a network queue and the replies clients received.
pub struct Net {
    /// The nodes by id.
    pub nodes: BTreeMap<String, TestNode>,
    services: HashMap<String, Box<dyn FakeService>>,
    queue: VecDeque<Value>,
    /// Every message a node sent to a client (`c…`).
    pub to_clients: Vec<Value>,
    /// Messages between nodes and services: (node→node count, node↔service count).
    pub node_msgs: usize,
    /// Messages between nodes and services.
    pub service_msgs: usize,
    /// Decides each message's fate (default: deliver).
    pub fate: FateFn,
    /// When true, delivery order is shuffled within each round.
    pub reorder: bool,
    /// The random source for services and shuffling.
    pub rng: Rng,
    next_client_msg: u64,
}

impl Net {
    /// A cluster of `n` nodes `n0..`, each built by `make`, all initialised.
    pub fn new(n: usize, seed: u64, mut make: impl FnMut() -> TestNode) -> Net {
        let ids: Vec<String> = (0..n).map(|i| format!("n{i}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut net = Net {
            nodes: BTreeMap::new(),
            services: HashMap::new(),
            queue: VecDeque::new(),
            to_clients: Vec::new(),
            node_msgs: 0,
            service_msgs: 0,
            fate: Box::new(|_| Fate::Deliver),
            reorder: false,
            rng: Rng::new(seed),
            next_client_msg: 1,
        };
        for id in &ids {
            let mut node = make();
            let out = node.init(id, &refs);
            net.nodes.insert(id.clone(), node);
            net.route(out);
        }
        net
    }

    /// Registers a fake service under `id`.
    pub fn with_service(mut self, id: &str, service: impl FakeService + 'static) -> Net {
        self.services.insert(id.to_string(), Box::new(service));
        self
    }

    /// The service registered as `id`, to inspect it.
    pub fn service<T: FakeService>(&mut self, id: &str) -> &mut T {
        self.services
            .get_mut(id)
            .and_then(|s| s.as_any().downcast_mut::<T>())
            .expect("a service of this type is registered under this id")
    }

    fn route(&mut self, out: Vec<Value>) {
        for msg in out {
            let dest = msg["dest"].as_str().unwrap_or_default();
            if msg["body"]["type"] == "init_ok" {
                continue;
            }
            if dest.starts_with('c') {
                self.to_clients.push(msg);
            } else {
                self.queue.push_back(msg);
            }
        }
    }

    /// Sends a client request `body` (its msg_id is filled in) from `client` to `node`
    /// and returns the msg_id used.
    pub fn request(&mut self, client: &str, node: &str, mut body: Value) -> u64 {
        let id = self.next_client_msg;
        self.next_client_msg += 1;
        body["msg_id"] = json!(id);
        let out = self
            .nodes
            .get_mut(node)
            .expect("node exists")
            .request(client, body);
        self.route(out);
        id
    }

    /// The reply to request `msg_id`, if one arrived.
    pub fn reply(&self, msg_id: u64) -> Option<&Value> {
        self.to_clients
            .iter()
            .map(|m| &m["body"])
            .find(|b| b["in_reply_to"] == json!(msg_id))
    }

    /// Delivers queued messages until the network is quiet (messages sent in response
    /// are delivered too, in the same call).
    pub fn settle(&mut self) {
        let mut rounds = 0;
        while !self.queue.is_empty() {
            rounds += 1;
            assert!(rounds < 100_000, "the cluster never goes quiet");
            if self.reorder && self.queue.len() > 1 {
                let len = self.queue.len();
                let i = self.rng.range(0, len as u64 - 1) as usize;
                self.queue.swap(0, i);
            }
            let Some(msg) = self.queue.pop_front() else {
                break;
            };
            let times = match (self.fate)(&msg) {
                Fate::Deliver => 1,
                Fate::Drop => 0,
                Fate::Duplicate => 2,
            };
            for _ in 0..times {
                self.deliver(&msg);
            }
        }
    }

    fn deliver(&mut self, msg: &Value) {
        let src = msg["src"].as_str().unwrap_or_default().to_string();
        let dest = msg["dest"].as_str().unwrap_or_default().to_string();
        if let Some(service) = self.services.get_mut(&dest) {
            self.service_msgs += 1;
            if let Some(reply) = service.handle(&src, &msg["body"], &mut self.rng) {
                self.service_msgs += 1;
                let back = json!({"src": dest, "dest": src, "body": reply});
                if (self.fate)(&back) != Fate::Drop {
                    let out = self.nodes.get_mut(&src).expect("node").deliver(back);
                    self.route(out);
                }
            }
        } else if let Some(node) = self.nodes.get_mut(&dest) {
            self.node_msgs += 1;
            let out = node.deliver(msg.clone());
            self.route(out);
        } else {
            panic!("message to an unknown destination: {msg}");
        }
    }

    /// Moves every node's clock forward by `total` in steps of `step`, settling the
    /// network after each step.
    pub fn run(&mut self, total: Duration, step: Duration) {
        self.settle();
        let mut elapsed = Duration::ZERO;
        while elapsed < total {
            elapsed += step;
            let ids: Vec<String> = self.nodes.keys().cloned().collect();
            for id in ids {
                let out = self.nodes.get_mut(&id).expect("node").advance(step);
                self.route(out);
            }
            self.settle();
        }
    }
}

/// A fate function cutting every node-to-node message while `cut` says so; services and
/// clients are never cut, as in Maelstrom.
pub fn is_node_to_node(msg: &Value) -> bool {
    let is_node = |f: &str| {
        msg[f]
            .as_str()
            .is_some_and(|s| s.starts_with('n') && s[1..].chars().all(|c| c.is_ascii_digit()))
    };
    is_node("src") && is_node("dest")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(svc: &mut dyn FakeService, src: &str, body: Value) -> Value {
        svc.handle(src, &body, &mut Rng::new(1)).unwrap()
    }

    #[test]
    fn lin_kv_follows_maelstrom_semantics() {
        let mut kv = LinKv::default();
        let r = call(&mut kv, "n0", json!({"type":"read","key":"k","msg_id":1}));
        assert_eq!(
            (r["code"].clone(), r["in_reply_to"].clone()),
            (json!(20), json!(1))
        );
        let r = call(
            &mut kv,
            "n0",
            json!({"type":"cas","key":"k","from":1,"to":2,"msg_id":2}),
        );
        assert_eq!(r["code"], 20);
        let r = call(
            &mut kv,
            "n0",
            json!({"type":"cas","key":"k","from":null,"to":2,"create_if_not_exists":true,"msg_id":3}),
        );
        assert_eq!(r["type"], "cas_ok");
        let r = call(
            &mut kv,
            "n1",
            json!({"type":"cas","key":"k","from":1,"to":3,"msg_id":4}),
        );
        assert_eq!(r["code"], 22);
        let r = call(&mut kv, "n1", json!({"type":"read","key":"k","msg_id":5}));
        assert_eq!(r["value"], 2);
        assert_eq!(kv.requests, 5);
    }

    #[test]
    fn seq_kv_pins_a_source_after_its_own_state_change() {
        let mut kv = SeqKv::default();
        let mut rng = Rng::new(3);
        for i in 0..10 {
            kv.handle(
                "n0",
                &json!({"type":"write","key":"k","value":i,"msg_id":i}),
                &mut rng,
            );
        }
        kv.handle(
            "n1",
            &json!({"type":"write","key":"pin","value":1,"msg_id":0}),
            &mut rng,
        );
        for _ in 0..20 {
            let r = kv.handle("n1", &json!({"type":"read","key":"k","msg_id":1}), &mut rng);
            assert_eq!(r.unwrap()["value"], 9);
        }
    }
}
