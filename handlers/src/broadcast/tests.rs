//! Tests of the broadcast family: the client protocol on one node, and the gossip state
//! machine on small clusters of [`TestNode`]s joined by an in-test network with a virtual
//! clock, latency, partitions, duplication and reordering.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use glomers_runtime::config::Config;
use glomers_runtime::testkit::TestNode;
use serde_json::{json, Value};

use super::layout::Layout;
use super::settings::{Batching, Settings};
use super::Broadcast;

mod failover;
mod rounds;

const MS: Duration = Duration::from_millis(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn node(settings: Settings) -> TestNode {
    TestNode::with("broadcast", Broadcast::new(settings)).recording()
}

fn settings(text: &str) -> Settings {
    let config = Config::parse("test.toml", &format!("[broadcast]\n{text}")).unwrap();
    let mut section = config.section("broadcast");
    let s = Settings::from_section(&mut section).unwrap();
    section.finish().unwrap();
    s
}

/// A deterministic pseudo-random source (no dependency needed).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

/// One node-to-node message as it went over the test network.
#[derive(Debug, Clone)]
struct Sent {
    at: Duration,
    from: usize,
    to: usize,
    body: Value,
}

struct InFlight {
    at: Duration,
    seq: u64,
    from: usize,
    to: usize,
    msg: Value,
}

/// A cluster of test nodes with a network in between. Time moves in 1 ms steps; a message
/// sent at t is delivered at t + latency (+ jitter), unless its link is cut at delivery.
struct Net {
    nodes: Vec<TestNode>,
    ids: Vec<String>,
    now: Duration,
    latency: Duration,
    queue: Vec<InFlight>,
    seq: u64,
    cut: HashSet<(usize, usize)>,
    sent: Vec<Sent>,
    client_replies: Vec<Value>,
    next_msg_id: u64,
    duplicate: bool,
    jitter: Option<(Lcg, u64)>,
    /// Extra latency of messages from one node to another (a slow link or a stall).
    slow: HashMap<(usize, usize), Duration>,
    /// (when, to, value) for every value carried in a delivered message's `v`.
    arrivals: Vec<(Duration, usize, u64)>,
}

impl Net {
    fn new(count: usize, settings: &Settings) -> Net {
        Net::with_clocks(count, settings, |_| Duration::ZERO)
    }

    /// A cluster whose node `i` started `started_before(i)` before the test's time 0, so
    /// its clock (`ctx.now()`) reads that much more than the others'.
    fn with_clocks(
        count: usize,
        settings: &Settings,
        started_before: impl Fn(usize) -> Duration,
    ) -> Net {
        let ids: Vec<String> = (0..count).map(|i| format!("n{i}")).collect();
        let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut nodes = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let mut n = node(settings.clone());
            assert!(n.advance(started_before(i)).is_empty());
            let out = n.init(id, &id_refs);
            assert_eq!(out.len(), 1, "only init_ok on init: {out:?}");
            nodes.push(n);
        }
        Net {
            nodes,
            ids,
            now: Duration::ZERO,
            latency: ms(100),
            queue: Vec::new(),
            seq: 0,
            cut: HashSet::new(),
            sent: Vec::new(),
            client_replies: Vec::new(),
            next_msg_id: 1,
            duplicate: false,
            jitter: None,
            slow: HashMap::new(),
            arrivals: Vec::new(),
        }
    }

    fn index(&self, id: &str) -> usize {
        self.ids
            .iter()
            .position(|n| n == id)
            .unwrap_or_else(|| panic!("message to a non-node {id}"))
    }

    fn route(&mut self, from: usize, outs: Vec<Value>) {
        for msg in outs {
            let dest = msg["dest"].as_str().unwrap().to_string();
            assert_eq!(msg["src"], self.ids[from].as_str());
            if dest.starts_with('c') {
                self.client_replies.push(msg);
                continue;
            }
            let to = self.index(&dest);
            assert_ne!(to, from, "a node wrote to itself: {msg}");
            self.sent.push(Sent {
                at: self.now,
                from,
                to,
                body: msg["body"].clone(),
            });
            let copies = if self.duplicate { 2 } else { 1 };
            for _ in 0..copies {
                let mut extra = match &mut self.jitter {
                    Some((rng, max)) => ms(rng.below(*max + 1)),
                    None => Duration::ZERO,
                };
                extra += self.slow.get(&(from, to)).copied().unwrap_or_default();
                self.seq += 1;
                self.queue.push(InFlight {
                    at: self.now + self.latency + extra,
                    seq: self.seq,
                    from,
                    to,
                    msg: msg.clone(),
                });
            }
        }
    }

    /// Runs the cluster for `d`, in whole milliseconds: the same as stepping 1 ms at a
    /// time, but jumping over the milliseconds in which nothing is due.
    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.deliver_due();
            let step = self
                .next_event()
                .map_or(end, |t| t.min(end))
                .max(self.now + MS);
            let by = step - self.now;
            self.now = step;
            for i in 0..self.nodes.len() {
                let out = self.nodes[i].advance(by);
                self.route(i, out);
            }
        }
        self.deliver_due();
    }

    /// The first whole millisecond at which a message is due or a node has a deadline.
    fn next_event(&mut self) -> Option<Duration> {
        let mut next = self.queue.iter().map(|m| m.at).min();
        for n in &mut self.nodes {
            // A node's clock reads its start offset more than the network's.
            let offset = n.now() - self.now;
            if let Some(at) = n.node().next_deadline() {
                let at = at.saturating_sub(offset);
                next = Some(next.map_or(at, |t| t.min(at)));
            }
        }
        next.map(|t| Duration::from_millis(t.as_nanos().div_ceil(1_000_000) as u64))
    }

    fn deliver_due(&mut self) {
        loop {
            let next = self
                .queue
                .iter()
                .enumerate()
                .filter(|(_, m)| m.at <= self.now)
                .min_by_key(|(_, m)| (m.at, m.seq))
                .map(|(i, _)| i);
            let Some(i) = next else { break };
            let m = self.queue.swap_remove(i);
            if self.cut.contains(&(m.from, m.to)) {
                continue;
            }
            for v in values_in(&m.msg["body"]["v"]) {
                self.arrivals.push((self.now, m.to, v));
            }
            let out = self.nodes[m.to].deliver(m.msg);
            self.route(m.to, out);
        }
    }

    /// A client broadcast to node `at`; checks the reply is exactly `broadcast_ok`.
    fn broadcast(&mut self, at: usize, value: u64) {
        let id = self.next_msg_id;
        self.next_msg_id += 1;
        let out = self.nodes[at].request(
            "c1",
            json!({"type": "broadcast", "msg_id": id, "message": value}),
        );
        self.route(at, out);
        let reply = self.client_replies.pop().expect("a broadcast_ok");
        assert_eq!(
            reply["body"],
            json!({"type": "broadcast_ok", "in_reply_to": id})
        );
    }

    /// A client read at node `at`.
    fn read(&mut self, at: usize) -> BTreeSet<u64> {
        let id = self.next_msg_id;
        self.next_msg_id += 1;
        let out = self.nodes[at].request("c1", json!({"type": "read", "msg_id": id}));
        self.route(at, out);
        let reply = self.client_replies.pop().expect("a read_ok");
        let body = reply["body"].as_object().unwrap();
        assert_eq!(body.len(), 3, "type, in_reply_to, messages only: {body:?}");
        assert_eq!(body["type"], "read_ok");
        body["messages"]
            .as_array()
            .expect("messages is an array")
            .iter()
            .map(|v| v.as_u64().expect("integers only"))
            .collect()
    }

    fn isolate(&mut self, n: usize) {
        for other in 0..self.nodes.len() {
            if other != n {
                self.cut.insert((n, other));
                self.cut.insert((other, n));
            }
        }
    }

    /// Splits the cluster: nodes in `side` cannot talk to the others.
    fn split(&mut self, side: &[usize]) {
        for a in 0..self.nodes.len() {
            for b in 0..self.nodes.len() {
                if side.contains(&a) != side.contains(&b) {
                    self.cut.insert((a, b));
                }
            }
        }
    }

    fn heal(&mut self) {
        self.cut.clear();
    }

    fn messages_since(&self, t: Duration) -> usize {
        self.sent.iter().filter(|s| s.at >= t).count()
    }

    fn assert_everyone_has(&mut self, want: &BTreeSet<u64>) {
        for i in 0..self.nodes.len() {
            assert_eq!(&self.read(i), want, "node n{i} is missing values");
        }
    }
}

fn values_in(field: &Value) -> Vec<u64> {
    let mut out = Vec::new();
    for item in field.as_array().into_iter().flatten() {
        match item {
            Value::Number(n) => out.push(n.as_u64().unwrap()),
            Value::Array(pair) => {
                let (lo, hi) = (pair[0].as_u64().unwrap(), pair[1].as_u64().unwrap());
                out.extend(lo..=hi);
            }
            other => panic!("bad range item {other}"),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// The client protocol on one node (3a).

#[test]
fn single_node_acks_reads_and_answers_topology() {
    let mut n = node(Settings::default());
    n.init("n0", &["n0"]);
    let out = n.request(
        "c1",
        json!({"type": "topology", "msg_id": 1, "topology": {"n0": []}}),
    );
    assert_eq!(
        out,
        vec![json!({"src": "n0", "dest": "c1", "body": {"type": "topology_ok", "in_reply_to": 1}})]
    );
    let out = n.request("c1", json!({"type": "read", "msg_id": 2}));
    assert_eq!(out[0]["body"]["messages"], json!([]));
    for (i, v) in [5, 3, 4, 1000, 3].into_iter().enumerate() {
        let out = n.request(
            "c2",
            json!({"type": "broadcast", "msg_id": 10 + i, "message": v}),
        );
        assert_eq!(
            out,
            vec![
                json!({"src": "n0", "dest": "c2", "body": {"type": "broadcast_ok", "in_reply_to": 10 + i}})
            ],
            "a lone node sends nothing but the reply"
        );
    }
    let out = n.request("c1", json!({"type": "read", "msg_id": 3}));
    assert_eq!(
        out[0]["body"],
        json!({"type": "read_ok", "in_reply_to": 3, "messages": [3, 4, 5, 1000]})
    );
    assert!(n.advance(ms(10_000)).is_empty(), "no gossip without peers");
}

#[test]
fn malformed_broadcast_is_rejected_with_code_12() {
    let mut n = node(Settings::default());
    n.init("n0", &["n0", "n1"]);
    for bad in [json!("x"), json!(-1), json!(1.5), Value::Null] {
        let out = n.request(
            "c1",
            json!({"type": "broadcast", "msg_id": 1, "message": bad}),
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0]["body"]["type"], "error");
        assert_eq!(out[0]["body"]["code"], 12);
    }
    let out = n.request("c1", json!({"type": "read", "msg_id": 2}));
    assert_eq!(out[0]["body"]["messages"], json!([]));
}

#[test]
fn gossip_from_non_nodes_is_ignored_and_never_answered() {
    let mut n = node(Settings::default());
    n.init("n1", &["n0", "n1"]);
    for src in ["c4", "lin-kv", "n9"] {
        let out = n.deliver(json!({"src": src, "dest": "n1", "body": {
            "type": "bcast_gossip", "v": [7], "have": [7], "reply": true}}));
        assert!(out.is_empty(), "{src}: {out:?}");
    }
    let out = n.request("c1", json!({"type": "read", "msg_id": 2}));
    assert_eq!(out[0]["body"]["messages"], json!([]));
}

// ---------------------------------------------------------------------------------------
// Settings.

#[test]
fn settings_defaults_and_overrides() {
    assert_eq!(settings(""), Settings::default());
    let s = settings(
        "topology = \"tree\"\nfanout = 3\norigin_batch_ms = 5\nrelay_batch_ms = 7\n\
         anti_entropy_ms = 0\nretry_after_ms = 9\nrepair_grace_ms = 11\nacks = true\n",
    );
    assert_eq!(s.layout, Layout::Tree { fanout: 3 });
    assert_eq!((s.origin_batch, s.relay_batch), (ms(5), ms(7)));
    assert_eq!(s.anti_entropy, None);
    assert_eq!((s.retry_after, s.repair_grace), (ms(9), ms(11)));
    assert!(s.acks);
    assert_eq!(s.failover, Some(ms(500)));
    let s = settings(
        "batching = \"rounds\"\nround_ms = 900\nround_slack_ms = 12\nround_markers = false\n\
         failover_ms = 0",
    );
    assert_eq!(
        s.batching,
        Batching::Rounds {
            period: ms(900),
            slack: ms(12),
            markers: false
        }
    );
    assert_eq!(s.failover, None);
}

#[test]
fn settings_reject_bad_values() {
    for bad in [
        "topology = \"ring\"",
        "fanout = 0",
        "relay_batch_ms = -1",
        "retry_after_ms = 0",
        "acks = 1",
        "batching = \"lockstep\"",
        "round_ms = 100\nround_slack_ms = 100",
        "round_ms = 0",
    ] {
        let config = Config::parse("t.toml", &format!("[broadcast]\n{bad}\n")).unwrap();
        let mut section = config.section("broadcast");
        assert!(
            Settings::from_section(&mut section).is_err(),
            "{bad} should be rejected"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Dissemination and delta tracking.

#[test]
fn star_delivers_every_value_once_to_every_node() {
    let s = settings("topology = \"star\"\norigin_batch_ms = 0\nrelay_batch_ms = 200");
    let mut net = Net::new(5, &s);
    let mut want = BTreeSet::new();
    for v in 0..40u64 {
        net.broadcast((v % 5) as usize, v);
        want.insert(v);
        net.run(ms(37));
    }
    net.run(ms(1000));
    net.assert_everyone_has(&want);
    // Deltas: no value is ever sent to the same node twice, and never back to its origin.
    let mut seen: HashMap<(usize, u64), usize> = HashMap::new();
    for s in &net.sent {
        for v in values_in(&s.body["v"]) {
            *seen.entry((s.to, v)).or_default() += 1;
            assert_ne!(
                v % 5,
                s.to as u64,
                "value {v} sent back to its origin n{}",
                s.to
            );
        }
        // Only leaf<->hub links are used.
        assert!(s.from == 0 || s.to == 0, "{s:?}");
    }
    assert!(seen.values().all(|&c| c == 1), "duplicates: {seen:?}");
    assert_eq!(seen.len(), 40 * 4);
}

#[test]
fn relay_batching_coalesces_values_into_one_message_per_leaf() {
    let s = settings("topology = \"star\"\norigin_batch_ms = 0\nrelay_batch_ms = 200");
    let mut net = Net::new(5, &s);
    for leaf in 1..5 {
        net.broadcast(leaf, leaf as u64);
    }
    // Leaves send at once: 4 messages. The hub gets them at 100 ms and flushes at 300 ms.
    net.run(ms(299));
    assert_eq!(net.sent.len(), 4);
    assert!(net.sent.iter().all(|s| s.to == 0 && s.at == Duration::ZERO));
    net.run(ms(2));
    assert_eq!(net.sent.len(), 8, "one batch per leaf: {:#?}", net.sent);
    for s in &net.sent[4..] {
        assert_eq!(s.at, ms(300));
        let mut expect: Vec<u64> = (1..5).filter(|&v| v != s.to as u64).collect();
        expect.sort();
        assert_eq!(values_in(&s.body["v"]), expect);
        // The batch also confirms the leaf's own value back to it.
        assert_eq!(values_in(&s.body["got"]), vec![s.to as u64]);
    }
}

#[test]
fn origin_batching_holds_values_for_the_configured_interval() {
    let s = settings("topology = \"star\"\norigin_batch_ms = 100\nrelay_batch_ms = 0");
    let mut net = Net::new(3, &s);
    net.broadcast(1, 10);
    net.run(ms(30));
    net.broadcast(1, 11);
    net.run(ms(30));
    net.broadcast(1, 13);
    net.run(ms(39));
    assert!(
        net.sent.is_empty(),
        "held until 100 ms after the first value"
    );
    net.run(ms(1));
    assert_eq!(net.sent.len(), 1);
    assert_eq!(net.sent[0].to, 0);
    assert_eq!(net.sent[0].body["v"], json!([[10, 11], 13]));
    // The batch is stamped: it asks the hub for an answer.
    assert_eq!(net.sent[0].body["at"], json!(100));
    // The hub relays at once (relay batch 0) to the other leaf, and answers the origin
    // with a confirmation only.
    net.run(ms(101));
    assert_eq!(net.sent.len(), 3);
    assert_eq!((net.sent[1].to, net.sent[1].at), (1, ms(200)));
    assert_eq!(
        net.sent[1].body,
        json!({"type": "bcast_gossip", "got": [[10, 11], 13]})
    );
    assert_eq!((net.sent[2].to, net.sent[2].at), (2, ms(200)));
    assert_eq!(net.sent[2].body["v"], json!([[10, 11], 13]));
}

#[test]
fn anti_entropy_goes_quiet_once_everything_is_confirmed() {
    let s = settings(
        "topology = \"star\"\nrelay_batch_ms = 100\nanti_entropy_ms = 500\nretry_after_ms = 1000",
    );
    let mut net = Net::new(6, &s);
    for v in 0..12 {
        net.broadcast(v as usize % 6, v);
    }
    net.run(ms(5000));
    let want: BTreeSet<u64> = (0..12).collect();
    net.assert_everyone_has(&want);
    let settled = net.now;
    net.run(ms(10_000));
    assert_eq!(
        net.messages_since(settled),
        0,
        "{:#?}",
        &net.sent[net.sent.len().saturating_sub(5)..]
    );
}

#[test]
fn total_layout_sends_only_own_values_directly() {
    let s = settings("topology = \"total\"\norigin_batch_ms = 0");
    let mut net = Net::new(4, &s);
    net.broadcast(2, 7);
    net.broadcast(0, 8);
    net.run(ms(500));
    net.assert_everyone_has(&[7, 8].into_iter().collect());
    for s in &net.sent {
        for v in values_in(&s.body["v"]) {
            let origin = if v == 7 { 2 } else { 0 };
            assert_eq!(s.from, origin, "n{} relayed {v}", s.from);
        }
    }
    assert_eq!(
        net.sent
            .iter()
            .filter(|s| s.body.get("v").is_some())
            .count(),
        6
    );
}

#[test]
fn maelstrom_layout_follows_the_topology_message() {
    let s = settings("topology = \"maelstrom\"\nrelay_batch_ms = 0\norigin_batch_ms = 0");
    let mut net = Net::new(3, &s);
    let topo = json!({"n0": ["n1"], "n1": ["n0", "n2"], "n2": ["n1"]});
    for i in 0..3 {
        let out = net.nodes[i].request(
            "c9",
            json!({"type": "topology", "msg_id": 1, "topology": topo}),
        );
        assert_eq!(out[0]["body"]["type"], "topology_ok");
    }
    net.broadcast(0, 1);
    net.broadcast(2, 2);
    net.run(ms(500));
    net.assert_everyone_has(&[1, 2].into_iter().collect());
    assert!(
        net.sent.iter().all(|s| s.from == 1 || s.to == 1),
        "a line never links n0 and n2: {:#?}",
        net.sent
    );
}

#[test]
fn tree_and_grid_layouts_converge() {
    for text in [
        "topology = \"tree\"\nfanout = 2",
        "topology = \"grid\"",
        "topology = \"tree\"\nfanout = 3\nacks = true",
    ] {
        let s = settings(&format!(
            "{text}\nrelay_batch_ms = 50\norigin_batch_ms = 20"
        ));
        let mut net = Net::new(10, &s);
        for v in 0..30 {
            net.broadcast((v * 7 % 10) as usize, v);
            net.run(ms(11));
        }
        net.run(ms(2000));
        net.assert_everyone_has(&(0..30).collect());
    }
}

// ---------------------------------------------------------------------------------------
// Faults: partitions, duplicates, reordering.

#[test]
fn isolated_hub_catches_up_and_spreads_after_the_heal() {
    // Without failover, leaves wait for the hub.
    let s = settings("topology = \"star\"\nrelay_batch_ms = 100\nfailover_ms = 0");
    let mut net = Net::new(7, &s);
    net.broadcast(3, 100);
    net.run(ms(500));
    net.isolate(0);
    for v in 0..30 {
        net.broadcast(v as usize % 7, v);
        net.run(ms(50));
    }
    net.run(ms(2000));
    // While the hub is cut off, a leaf knows its own values and the early one only.
    let at_leaf = net.read(1);
    assert!(
        at_leaf.contains(&100) && !at_leaf.contains(&2),
        "{at_leaf:?}"
    );
    net.heal();
    let healed = net.now;
    net.run(ms(6000));
    let want: BTreeSet<u64> = (0..30).chain([100]).collect();
    net.assert_everyone_has(&want);
    // Repairs use compact summaries: no `have` list is longer than the set has ranges
    // at worst, and after the repair the whole set is one range plus the lone 100.
    let last_have = net
        .sent
        .iter()
        .rev()
        .find_map(|s| s.body.get("have"))
        .expect("anti-entropy exchanged summaries");
    assert_eq!(last_have, &json!([[0, 29], 100]));
    assert!(net.messages_since(healed) > 0);
    let quiet_from = net.now;
    net.run(ms(5000));
    assert_eq!(net.messages_since(quiet_from), 0);
}

#[test]
fn isolated_leaf_and_split_cluster_converge_after_the_heal() {
    let s = settings("topology = \"star\"\nrelay_batch_ms = 100\norigin_batch_ms = 30");
    let mut net = Net::new(9, &s);
    let mut want = BTreeSet::new();
    let mut v = 0;
    for round in 0..3 {
        match round {
            0 => net.isolate(4),
            1 => net.split(&[0, 1, 2]),
            _ => net.split(&[5, 6, 7, 8]),
        }
        for _ in 0..25 {
            net.broadcast(v as usize % 9, v);
            want.insert(v);
            v += 1;
            net.run(ms(40));
        }
        net.run(ms(1000));
        net.heal();
        net.run(ms(500));
    }
    net.run(ms(5000));
    net.assert_everyone_has(&want);
}

#[test]
fn a_partition_that_heals_before_the_check_still_repairs_dropped_relays() {
    // The hub's batch to n2 is dropped; nothing else is sent afterwards, so only the
    // anti-entropy check can notice.
    let s = settings(
        "topology = \"star\"\nrelay_batch_ms = 0\nanti_entropy_ms = 300\nretry_after_ms = 600",
    );
    let mut net = Net::new(3, &s);
    net.cut.insert((0, 2));
    net.broadcast(1, 42);
    net.run(ms(250));
    net.heal();
    assert!(!net.read(2).contains(&42));
    net.run(ms(2000));
    assert!(net.read(2).contains(&42));
}

#[test]
fn duplicated_and_reordered_delivery_is_harmless() {
    for acks in [false, true] {
        let s = settings(&format!(
            "topology = \"star\"\nrelay_batch_ms = 40\norigin_batch_ms = 10\nacks = {acks}"
        ));
        let mut net = Net::new(6, &s);
        net.duplicate = true;
        net.jitter = Some((Lcg(99), 150));
        let mut want = BTreeSet::new();
        for v in 0..60 {
            net.broadcast((v * 5 % 6) as usize, v);
            want.insert(v);
            net.run(ms(7));
            if v == 30 {
                net.isolate(0);
            }
            if v == 45 {
                net.heal();
            }
        }
        net.run(ms(6000));
        net.assert_everyone_has(&want);
    }
}

#[test]
fn acks_confirm_each_batch_and_lost_batches_are_retried() {
    let s = settings(
        "topology = \"star\"\nrelay_batch_ms = 0\nacks = true\nanti_entropy_ms = 200\nretry_after_ms = 500\n\
         failover_ms = 0",
    );
    let mut net = Net::new(3, &s);
    net.broadcast(1, 5);
    net.run(ms(450));
    // n1 -> n0 (asks for an ack), n0 -> n1 ack, n0 -> n2 relay (asks), n2 -> n0 ack.
    assert_eq!(net.sent.len(), 4, "{:#?}", net.sent);
    let acks: Vec<&Sent> = net
        .sent
        .iter()
        .filter(|s| s.body.get("reply").is_none())
        .collect();
    assert_eq!(acks.len(), 2);
    for a in acks {
        assert_eq!(values_in(&a.body["got"]), vec![5], "{a:?}");
    }
    // Now lose the relay of a second value to n2: the hub retries it.
    net.cut.insert((0, 2));
    net.broadcast(1, 6);
    net.run(ms(300));
    net.heal();
    assert!(!net.read(2).contains(&6));
    net.run(ms(1500));
    assert!(net.read(2).contains(&6));
}

#[test]
fn big_cluster_with_rolling_partitions_converges() {
    let s = settings("topology = \"star\"\nrelay_batch_ms = 200\norigin_batch_ms = 100");
    let mut net = Net::new(25, &s);
    let mut rng = Lcg(5);
    let mut want = BTreeSet::new();
    for v in 0..200 {
        net.broadcast(rng.below(25) as usize, v);
        want.insert(v);
        net.run(ms(20));
        if v % 50 == 10 {
            let side: Vec<usize> = (0..25).filter(|_| rng.below(3) == 0).collect();
            net.split(&side);
        }
        if v % 50 == 40 {
            net.heal();
        }
    }
    net.heal();
    net.run(ms(6000));
    net.assert_everyone_has(&want);
}

// Fuzzer finding: a gossip delta given as one huge range (`[[0, 10^12]]`, a few bytes)
// made the node learn it value by value until memory ran out.
#[test]
fn a_gossip_delta_too_large_to_learn_is_refused() {
    let mut n = node(settings("topology = \"total\""));
    n.init("n0", &["n0", "n1"]);
    let out = n.deliver(json!({"src": "n1", "dest": "n0",
        "body": {"type": "bcast_gossip", "msg_id": 3, "v": [[0, 1_000_000_000_000u64]]}}));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["body"]["code"], 12);
    let out = n.deliver(json!({"src": "n1", "dest": "n0",
        "body": {"type": "bcast_gossip", "v": [[0, 18446744073709551615u64]]}}));
    assert!(out.is_empty(), "{out:?}");
    let out = n.request("c1", json!({"type": "read", "msg_id": 4}));
    assert_eq!(out[0]["body"]["messages"], json!([]));
    // A large but plausible delta is still learned.
    n.deliver(json!({"src": "n1", "dest": "n0",
        "body": {"type": "bcast_gossip", "v": [[0, super::MAX_VALUES_PER_GOSSIP - 1]]}}));
    let out = n.request("c1", json!({"type": "read", "msg_id": 5}));
    assert_eq!(
        out[0]["body"]["messages"].as_array().map(Vec::len),
        Some(super::MAX_VALUES_PER_GOSSIP as usize)
    );
}
