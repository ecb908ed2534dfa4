//! Cluster tests of the raft family on the in-test cluster (virtual clock, partitions,
//! duplicated and reordered messages). Scenario tests cut a leader away at chosen
//! moments; randomized runs record a client history and hand it to the bench's own
//! checkers (linearizability for lin-kv, the transaction analysis at
//! strict-serializable for the txn machines).
//!
//! `RAFT_SEEDS=N cargo test --release -p glomers-handlers raft::tests::explore -- --ignored --nocapture`
//! explores N seeds per machine and prints a summary.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Duration;

use glomers_runtime::testkit::TestNode;
use glomers_runtime::{Family, Seeds};
use glomers_simkit::checker::{linearizable, list_append, rw_register, CheckResult, Validity};
use glomers_simkit::history::{History, Op, OpType};
use serde_json::{json, Value};

use super::kv::LinKv;
use super::machine::Machine;
use super::settings::Settings;
use super::txn::{ListAppend, RwRegister};
use super::Raft;
use crate::test_cluster::{is_node_to_node, Fate, Net, Rng};

const STEP: Duration = Duration::from_millis(5);
const CLIENT_TIMEOUT: Duration = Duration::from_secs(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// What the network does between nodes: one-way cuts, duplication, and a record of the
/// leaders seen (the sender of a `raft_append`, by term).
#[derive(Default)]
struct Wires {
    cut: BTreeSet<(String, String)>,
    duplicate: f64,
    leaders: BTreeMap<u64, String>,
    /// Vote requests sent, by sender (cut ones included).
    votes: BTreeMap<String, usize>,
}

/// A raft cluster on the in-test network.
struct Cluster {
    net: Net,
    now: Duration,
    ids: Vec<String>,
    wires: Rc<RefCell<Wires>>,
}

impl Cluster {
    fn new<M: Machine>(n: usize, seed: u64, settings: Settings) -> Cluster {
        let mut k = 0;
        let net = Net::new(n, seed, || {
            k += 1;
            let family = Family::new(Raft::<M>::new(settings)).named("raft");
            TestNode::seeded(vec![family], Seeds::fixed(seed * 1000 + k, k))
        });
        let wires = Rc::new(RefCell::new(Wires::default()));
        let mut cluster = Cluster {
            net,
            now: Duration::ZERO,
            ids: (0..n).map(|i| format!("n{i}")).collect(),
            wires: wires.clone(),
        };
        let mut rng = Rng::new(seed ^ 0xfa7e);
        cluster.net.fate = Box::new(move |m| {
            if !is_node_to_node(m) {
                return Fate::Deliver;
            }
            let mut w = wires.borrow_mut();
            let (src, dest) = (m["src"].as_str(), m["dest"].as_str());
            let (src, dest) = (src.unwrap_or_default(), dest.unwrap_or_default());
            if m["body"]["type"] == "raft_vote" {
                *w.votes.entry(src.to_string()).or_default() += 1;
            }
            if w.cut.contains(&(src.to_string(), dest.to_string())) {
                return Fate::Drop;
            }
            if m["body"]["type"] == "raft_append" {
                if let Some(term) = m["body"]["term"].as_u64() {
                    w.leaders.insert(term, src.to_string());
                }
            }
            if rng.chance(w.duplicate) {
                Fate::Duplicate
            } else {
                Fate::Deliver
            }
        });
        cluster
    }

    fn run(&mut self, d: Duration) {
        self.net.run(d, STEP);
        self.now += d;
    }

    /// The leader of the highest term seen so far.
    fn leader(&self) -> Option<(u64, String)> {
        let w = self.wires.borrow();
        w.leaders.iter().next_back().map(|(t, l)| (*t, l.clone()))
    }

    /// Runs until some node leads (at most 10 s) and returns it.
    fn await_leader(&mut self) -> String {
        for _ in 0..2000 {
            if let Some((_, l)) = self.leader() {
                return l;
            }
            self.run(STEP);
        }
        panic!("no leader after 10 s");
    }

    fn isolate(&mut self, node: &str) {
        let mut w = self.wires.borrow_mut();
        for other in &self.ids {
            if other != node {
                w.cut.insert((node.to_string(), other.clone()));
                w.cut.insert((other.clone(), node.to_string()));
            }
        }
    }

    /// Cuts every link between `group` and the rest, both ways.
    fn split(&mut self, group: &[String]) {
        let mut w = self.wires.borrow_mut();
        for a in group {
            for b in self.ids.iter().filter(|b| !group.contains(b)) {
                w.cut.insert((a.clone(), b.clone()));
                w.cut.insert((b.clone(), a.clone()));
            }
        }
    }

    /// Maelstrom's "majorities ring" on three nodes: each node can send to only one
    /// peer (n0 → n2 → n1 → n0), so no two nodes can talk both ways.
    fn one_way_ring(&mut self) {
        let mut w = self.wires.borrow_mut();
        let n = self.ids.len();
        for i in 0..n {
            w.cut
                .insert((self.ids[i].clone(), self.ids[(i + 1) % n].clone()));
        }
    }

    fn heal(&mut self) {
        self.wires.borrow_mut().cut.clear();
    }

    /// Sends `body` from `client` to `node`; returns the msg_id.
    fn send(&mut self, client: &str, node: &str, body: Value) -> u64 {
        self.net.request(client, node, body)
    }

    /// The reply to `msg_id`, if any arrived.
    fn reply(&self, msg_id: u64) -> Option<Value> {
        self.net.reply(msg_id).cloned()
    }

    /// Sends a request and runs until its reply (at most `within`).
    fn call(&mut self, node: &str, body: Value, within: Duration) -> Option<Value> {
        let id = self.send("c1", node, body);
        let mut waited = Duration::ZERO;
        while waited < within {
            if let Some(r) = self.reply(id) {
                return Some(r);
            }
            self.run(STEP);
            waited += STEP;
        }
        self.reply(id)
    }

    fn followers_of(&self, leader: &str) -> Vec<String> {
        self.ids.iter().filter(|i| *i != leader).cloned().collect()
    }
}

fn settings() -> Settings {
    Settings::default()
}

fn leased() -> Settings {
    Settings {
        read_lease: true,
        ..Settings::default()
    }
}

fn code(reply: &Value) -> Option<u64> {
    reply["code"].as_u64()
}

#[test]
fn one_leader_serves_writes_and_reads_from_every_node() {
    let mut c = Cluster::new::<LinKv>(3, 1, settings());
    c.await_leader();
    for (i, node) in ["n0", "n1", "n2"].iter().enumerate() {
        let w = json!({"type": "write", "key": i, "value": i * 10});
        let r = c.call(node, w, CLIENT_TIMEOUT).expect("write answered");
        assert_eq!(r["type"], "write_ok", "{r}");
    }
    for (i, node) in ["n2", "n0", "n1"].iter().enumerate() {
        let r = c.call(node, json!({"type": "read", "key": i}), CLIENT_TIMEOUT);
        assert_eq!(r.expect("read answered")["value"], json!(i * 10));
    }
    let terms = c.wires.borrow().leaders.len();
    assert_eq!(terms, 1, "a quiet cluster keeps its first leader");
}

#[test]
fn maelstrom_error_codes_for_bad_requests() {
    let mut c = Cluster::new::<LinKv>(3, 2, settings());
    let leader = c.await_leader();
    let cas = json!({"type": "cas", "key": 5, "from": 1, "to": 2});
    assert_eq!(
        code(&c.call("n1", cas.clone(), CLIENT_TIMEOUT).unwrap()),
        Some(20)
    );
    let w = json!({"type": "write", "key": 5, "value": 3});
    c.call(&leader, w, CLIENT_TIMEOUT).unwrap();
    assert_eq!(code(&c.call("n2", cas, CLIENT_TIMEOUT).unwrap()), Some(22));
    for bad in [
        json!({"type": "write", "key": 5}),
        json!({"type": "read"}),
        json!({"type": "cas", "key": 5, "from": 3}),
        json!({"type": "write", "value": 1}),
    ] {
        let r = c.call("n0", bad.clone(), CLIENT_TIMEOUT).unwrap();
        assert_eq!(code(&r), Some(12), "{bad} -> {r}");
    }
    let r = c.call("n0", json!({"type": "read", "key": 5}), CLIENT_TIMEOUT);
    assert_eq!(r.unwrap()["value"], 3, "bad requests changed nothing");
}

#[test]
fn a_node_cut_off_answers_error_11_instead_of_hanging() {
    let mut c = Cluster::new::<LinKv>(3, 3, settings());
    let leader = c.await_leader();
    let follower = c.followers_of(&leader)[0].clone();
    c.isolate(&follower);
    c.run(ms(5000));
    for body in [
        json!({"type": "write", "key": 1, "value": 1}),
        json!({"type": "read", "key": 1}),
    ] {
        let r = c
            .call(&follower, body, CLIENT_TIMEOUT)
            .expect("answered, no hang");
        assert_eq!(code(&r), Some(11), "{r}");
    }
    // The isolated leader steps down too, and refuses rather than hangs.
    c.heal();
    c.run(ms(2000));
    let (_, leader) = c.leader().unwrap();
    c.isolate(&leader);
    c.run(ms(5000));
    let r = c.call(&leader, json!({"type": "read", "key": 1}), CLIENT_TIMEOUT);
    assert_eq!(code(&r.expect("answered")), Some(11));
}

#[test]
fn a_leader_cut_off_mid_write_loses_only_its_unacknowledged_write() {
    for seed in 0..5 {
        let mut c = Cluster::new::<LinKv>(3, 10 + seed, settings());
        let old = c.await_leader();
        let w = json!({"type": "write", "key": 0, "value": 1});
        c.call(&old, w, CLIENT_TIMEOUT).expect("first write");
        // The leader accepts a write, and is cut off before any follower sees it.
        c.isolate(&old);
        let lost = c.send("c2", &old, json!({"type": "write", "key": 0, "value": 2}));
        c.run(ms(3000));
        let (_, new) = c.leader().unwrap();
        assert_ne!(new, old, "seed {seed}: the majority elected another leader");
        let w = json!({"type": "write", "key": 0, "value": 3});
        let r = c
            .call(&new, w, CLIENT_TIMEOUT)
            .expect("write on the new leader");
        assert_eq!(r["type"], "write_ok");
        c.heal();
        c.run(ms(2000));
        for node in ["n0", "n1", "n2"] {
            let r = c.call(node, json!({"type": "read", "key": 0}), CLIENT_TIMEOUT);
            assert_eq!(r.unwrap()["value"], 3, "seed {seed}: read on {node}");
        }
        if let Some(r) = c.reply(lost) {
            assert_ne!(
                r["type"], "write_ok",
                "seed {seed}: acknowledged a lost write"
            );
        }
    }
}

#[test]
fn an_acknowledged_write_survives_its_leader_being_cut_off() {
    for seed in 0..5 {
        let mut c = Cluster::new::<LinKv>(5, 20 + seed, settings());
        let old = c.await_leader();
        // Acknowledged by a majority, then the leader vanishes at once.
        let w = json!({"type": "write", "key": 7, "value": "kept"});
        let r = c.call(&old, w, CLIENT_TIMEOUT).unwrap();
        assert_eq!(r["type"], "write_ok");
        c.isolate(&old);
        c.run(ms(3000));
        let (_, new) = c.leader().unwrap();
        assert_ne!(new, old);
        let r = c.call(&new, json!({"type": "read", "key": 7}), CLIENT_TIMEOUT);
        assert_eq!(r.unwrap()["value"], "kept", "seed {seed}");
    }
}

#[test]
fn a_deposed_leader_never_serves_a_stale_read() {
    for (seed, lease) in (0..6).map(|s| (s, s % 2 == 1)) {
        let config = if lease { leased() } else { settings() };
        let mut c = Cluster::new::<LinKv>(3, 30 + seed, config);
        let old = c.await_leader();
        c.call(
            &old,
            json!({"type": "write", "key": 1, "value": "old"}),
            CLIENT_TIMEOUT,
        )
        .unwrap();
        // Cut off, the old leader keeps believing it leads until it notices no majority
        // answers; the others elect someone else and overwrite the key.
        c.isolate(&old);
        let early = c.send("c3", &old, json!({"type": "read", "key": 1}));
        // Under a lease the old leader may answer at once: no other leader exists yet.
        let at_once = c.reply(early);
        c.run(ms(3000));
        let (_, new) = c.leader().unwrap();
        let w = json!({"type": "write", "key": 1, "value": "new"});
        assert_eq!(c.call(&new, w, CLIENT_TIMEOUT).unwrap()["type"], "write_ok");
        for _ in 0..3 {
            let r = c.call(&old, json!({"type": "read", "key": 1}), CLIENT_TIMEOUT);
            if let Some(r) = r {
                assert_ne!(r["value"], "old", "seed {seed}: stale read from {old}");
            }
        }
        let early = c
            .reply(early)
            .expect("the early read was answered, not left hanging");
        match &at_once {
            Some(r) => assert_eq!(r["value"], "old", "seed {seed}"),
            None => assert_eq!(code(&early), Some(11), "seed {seed}: {early}"),
        }
        assert_eq!(
            at_once.is_some(),
            lease,
            "seed {seed}: only a lease answers at once"
        );
    }
}

fn is_type(t: &'static str) -> impl Fn(&Value) -> bool {
    move |m| m["body"]["type"] == t
}

/// A three-node cluster where only n0 is real: the test plays n1 and n2 by hand.
struct Puppets {
    node: TestNode,
}

impl Puppets {
    /// n0 elected leader of term 1, its first round acknowledged by both puppets.
    fn leading() -> Puppets {
        Puppets::leading_with(settings())
    }

    fn leading_with(config: Settings) -> Puppets {
        let family = Family::new(Raft::<LinKv>::new(config)).named("raft");
        let mut node = TestNode::seeded(vec![family], Seeds::fixed(9, 1));
        node.init("n0", &["n0", "n1", "n2"]);
        let mut p = Puppets { node };
        // Grant the pre-vote, then the vote; the new leader's round follows at once.
        let mut out = p.until(|m| m["body"]["type"] == "raft_vote");
        for _ in 0..2 {
            let asks: Vec<Value> = out.drain(..).filter(is_type("raft_vote")).collect();
            assert_eq!(asks.len(), 2, "{asks:?}");
            for ask in asks {
                out.extend(
                    p.node
                        .deliver(json!({"src": ask["dest"], "dest": "n0", "body": {
                    "type": "raft_vote_ok", "in_reply_to": ask["body"]["msg_id"],
                    "term": 0, "granted": true}})),
                );
            }
        }
        let appends: Vec<Value> = out.into_iter().filter(is_type("raft_append")).collect();
        assert_eq!(appends.len(), 2);
        p.ack_all(&appends);
        p
    }

    /// The appends in `out`, or else the next ones n0 sends.
    fn appends(&mut self, out: Vec<Value>) -> Vec<Value> {
        let now: Vec<Value> = out.into_iter().filter(is_type("raft_append")).collect();
        if now.is_empty() {
            self.until(is_type("raft_append"))
        } else {
            now
        }
    }

    /// Advances the clock until n0 sends messages matching `pick` (at most 3 s).
    fn until(&mut self, pick: impl Fn(&Value) -> bool) -> Vec<Value> {
        for _ in 0..600 {
            let out: Vec<Value> = self.node.advance(STEP).into_iter().filter(&pick).collect();
            if !out.is_empty() {
                return out;
            }
        }
        panic!("n0 never sent the expected messages");
    }

    /// Acknowledges `appends` as stored, in n0's term.
    fn ack_all(&mut self, appends: &[Value]) -> Vec<Value> {
        let mut out = Vec::new();
        for a in appends {
            let b = &a["body"];
            let index = b["prev_index"].as_u64().unwrap()
                + b["entries"].as_array().map_or(0, |e| e.len() as u64);
            out.extend(
                self.node
                    .deliver(json!({"src": a["dest"], "dest": "n0", "body": {
                "type": "raft_append_ok", "in_reply_to": b["msg_id"], "term": b["term"],
                "success": true, "index": index}})),
            );
        }
        out
    }

    fn client(&mut self, body: Value) -> Vec<Value> {
        self.node.request("c1", body)
    }
}

#[test]
fn a_read_waits_for_a_majority_to_answer_a_round_sent_after_it() {
    let mut p = Puppets::leading();
    let out = p.client(json!({"type": "write", "key": 1, "value": "old", "msg_id": 1}));
    let appends = p.appends(out);
    let out = p.ack_all(&appends);
    assert!(
        out.iter().any(|m| m["body"]["type"] == "write_ok"),
        "{out:?}"
    );
    // A round goes out; then a read arrives. Answers to that earlier round prove nothing
    // about leadership at the time of the read.
    let before = p.until(is_type("raft_append"));
    let out = p.client(json!({"type": "read", "key": 1, "msg_id": 2}));
    assert!(out.is_empty(), "{out:?}");
    let out = p.ack_all(&before);
    assert!(
        out.iter().all(|m| m["dest"] != "c1"),
        "served too early: {out:?}"
    );
    // One puppet answers the next round: with n0 that is a majority.
    let after = p.until(is_type("raft_append"));
    let out = p.ack_all(&after[..1]);
    let read: Vec<&Value> = out.iter().filter(|m| m["dest"] == "c1").collect();
    assert_eq!(read.len(), 1, "{out:?}");
    assert_eq!(
        read[0]["body"],
        json!({"type": "read_ok", "value": "old", "in_reply_to": 2})
    );
}

#[test]
fn a_leader_that_hears_from_no_majority_refuses_its_reads() {
    let mut p = Puppets::leading();
    let out = p.client(json!({"type": "write", "key": 1, "value": "old", "msg_id": 1}));
    let appends = p.appends(out);
    p.ack_all(&appends);
    // Silence: meanwhile, elsewhere, a new leader may have overwritten the key.
    p.client(json!({"type": "read", "key": 1, "msg_id": 2}));
    let mut answers = Vec::new();
    for _ in 0..400 {
        answers.extend(
            p.node
                .advance(STEP)
                .into_iter()
                .filter(|m| m["dest"] == "c1"),
        );
    }
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0]["body"]["code"], 11, "{answers:?}");
}

#[test]
fn a_node_cut_off_for_long_does_not_depose_the_leader_when_it_returns() {
    let mut c = Cluster::new::<LinKv>(3, 4, settings());
    let leader = c.await_leader();
    let follower = c.followers_of(&leader)[0].clone();
    c.isolate(&follower);
    c.run(ms(10_000));
    c.heal();
    c.run(ms(3000));
    let w = c.wires.borrow();
    assert_eq!(
        w.leaders.len(),
        1,
        "pre-votes keep the returning node from forcing an election: {:?}",
        w.leaders
    );
}

#[test]
fn a_node_that_only_reaches_followers_of_a_live_leader_backs_off() {
    let mut c = Cluster::new::<LinKv>(5, 7, settings());
    let leader = c.await_leader();
    let followers = c.followers_of(&leader);
    let (lonely, unreachable) = (followers[0].clone(), followers[1].clone());
    {
        let mut w = c.wires.borrow_mut();
        for other in [&leader, &unreachable] {
            w.cut.insert((lonely.clone(), other.clone()));
            w.cut.insert((other.clone(), lonely.clone()));
        }
    }
    c.run(ms(12_000));
    // Without backing off it would ask its 4 peers every 0.5-1 s: at least 12 campaigns.
    let campaigns = c.wires.borrow().votes.get(&lonely).copied().unwrap_or(0) / 4;
    println!("{lonely} campaigned {campaigns} times in 12 s");
    assert!(campaigns <= 6, "{campaigns} campaigns");
    // Once it can reach the leader again, it rejoins without an election.
    c.heal();
    c.run(ms(1000));
    let r = c.call(
        &lonely,
        json!({"type": "write", "key": 1, "value": 1}),
        CLIENT_TIMEOUT,
    );
    assert_eq!(r.unwrap()["type"], "write_ok");
    assert_eq!(c.wires.borrow().leaders.len(), 1);
}

#[test]
fn a_one_way_ring_of_three_still_elects_and_commits_through_relays() {
    for (seed, lease) in [(40, false), (41, true)] {
        let config = if lease { leased() } else { settings() };
        let mut c = Cluster::new::<LinKv>(3, seed, config);
        // From the start, before any leader exists.
        c.one_way_ring();
        c.run(ms(5000));
        let (_, leader) = c.leader().expect("a leader despite the ring");
        for (i, node) in ["n0", "n1", "n2"].iter().enumerate() {
            let w = json!({"type": "write", "key": 9, "value": i});
            let r = c.call(node, w, CLIENT_TIMEOUT).expect("answered");
            assert_eq!(
                r["type"], "write_ok",
                "seed {seed}: write on {node} ({leader} leads): {r}"
            );
            let r = c.call(node, json!({"type": "read", "key": 9}), CLIENT_TIMEOUT);
            assert_eq!(
                r.expect("answered")["value"],
                i,
                "seed {seed}: read on {node}"
            );
        }
    }
}

#[test]
fn a_five_node_ring_serves_the_nodes_across_from_the_leader() {
    let mut c = Cluster::new::<LinKv>(5, 42, settings());
    let leader = c.await_leader();
    // Each node keeps only its two ring neighbours (both ways): the leader cannot reach
    // the two nodes across the ring directly.
    let order: Vec<String> = std::iter::once(leader.clone())
        .chain(c.followers_of(&leader))
        .collect();
    {
        let mut w = c.wires.borrow_mut();
        for (i, a) in order.iter().enumerate() {
            for (j, b) in order.iter().enumerate() {
                let gap = (i + 5 - j) % 5;
                if a != b && gap != 1 && gap != 4 {
                    w.cut.insert((a.clone(), b.clone()));
                }
            }
        }
    }
    c.run(ms(3000));
    for node in &order {
        let w = json!({"type": "write", "key": 3, "value": node});
        let r = c.call(node, w, CLIENT_TIMEOUT).expect("answered");
        assert_eq!(r["type"], "write_ok", "write on {node}: {r}");
    }
}

#[test]
fn a_request_that_reaches_the_log_twice_applies_once() {
    let mut c = Cluster::new::<LinKv>(3, 5, settings());
    let leader = c.await_leader();
    c.call(
        &leader,
        json!({"type": "write", "key": 0, "value": 1}),
        CLIENT_TIMEOUT,
    )
    .unwrap();
    // Two copies of one request (same client, same msg_id), as a duplicating network
    // would deliver them.
    let body = json!({"type": "cas", "key": 0, "from": 1, "to": 2, "msg_id": 500});
    for _ in 0..2 {
        let out = c
            .net
            .nodes
            .get_mut(&leader)
            .unwrap()
            .request("c7", body.clone());
        assert!(out.iter().all(|m| m["dest"] != "c7"));
    }
    c.run(ms(500));
    let replies: Vec<&Value> = c
        .net
        .to_clients
        .iter()
        .filter(|m| m["dest"] == "c7")
        .collect();
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0]["body"]["type"], "cas_ok");
}

#[test]
fn a_lone_node_serves_at_once() {
    let mut c = Cluster::new::<RwRegister>(1, 6, settings());
    let t = json!({"type": "txn", "txn": [["w", 1, 1], ["r", 1, null]]});
    let r = c
        .call("n0", t, ms(10))
        .expect("answered without waiting for a peer");
    assert_eq!(r["txn"], json!([["w", 1, 1], ["r", 1, 1]]));
}

#[test]
fn a_lease_answers_reads_for_three_quarters_of_an_election_timeout_only() {
    let mut p = Puppets::leading_with(leased());
    let out = p.client(json!({"type": "write", "key": 1, "value": "v", "msg_id": 1}));
    let appends = p.appends(out);
    let acked_at = p.node.now();
    p.ack_all(&appends);
    // Within 300 ms of that acknowledged round (< 375 ms): answered at once.
    p.node.advance(ms(300));
    let out = p.client(json!({"type": "read", "key": 1, "msg_id": 2}));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0]["body"]["value"], "v");
    // Past 375 ms without another acknowledgement: no answer from the lease.
    let wait = ms(380).saturating_sub(p.node.now() - acked_at);
    p.node.advance(wait);
    let out = p.client(json!({"type": "read", "key": 1, "msg_id": 3}));
    assert!(
        out.iter().all(|m| m["dest"] != "c1"),
        "served past the lease: {out:?}"
    );
    let mut answers = Vec::new();
    for _ in 0..400 {
        answers.extend(
            p.node
                .advance(STEP)
                .into_iter()
                .filter(|m| m["dest"] == "c1"),
        );
    }
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0]["body"]["code"], 11);
}

// --- randomized runs judged by the bench's checkers ---

/// A client request in flight.
struct Pending {
    msg_id: u64,
    invoke: usize,
    idempotent: bool,
    at: Duration,
}

/// A Maelstrom-like client: one request at a time, bound to one node, a new process
/// after an indefinite outcome.
struct Client {
    id: String,
    node: String,
    process: u64,
    pending: Option<Pending>,
}

/// Generates requests of one workload and their history values.
trait Workload {
    /// The next request: (f, body, invoke value, idempotent).
    fn next(&mut self, rng: &mut Rng) -> (String, Value, Value, bool);
    /// The completion value of an ok reply.
    fn ok_value(&self, f: &str, invoke: &Value, reply: &Value) -> Value;
    /// Judges the history.
    fn check(&self, history: &History) -> CheckResult;
}

struct KvLoad;

impl Workload for KvLoad {
    fn next(&mut self, rng: &mut Rng) -> (String, Value, Value, bool) {
        let key = rng.range(0, 2);
        match rng.range(0, 2) {
            0 => (
                "read".into(),
                json!({"type": "read", "key": key}),
                json!([key, null]),
                true,
            ),
            1 => {
                let v = rng.range(0, 4);
                let body = json!({"type": "write", "key": key, "value": v});
                ("write".into(), body, json!([key, v]), false)
            }
            _ => {
                let (from, to) = (rng.range(0, 4), rng.range(0, 4));
                let body = json!({"type": "cas", "key": key, "from": from, "to": to});
                ("cas".into(), body, json!([key, [from, to]]), false)
            }
        }
    }
    fn ok_value(&self, f: &str, invoke: &Value, reply: &Value) -> Value {
        match f {
            "read" => json!([invoke[0], reply["value"]]),
            _ => invoke.clone(),
        }
    }
    fn check(&self, history: &History) -> CheckResult {
        linearizable::check(history, Duration::from_secs(30))
    }
}

/// Elle-style transactions with unique writes per key.
struct TxnLoad {
    append: bool,
    next_value: BTreeMap<u64, u64>,
}

impl Workload for TxnLoad {
    fn next(&mut self, rng: &mut Rng) -> (String, Value, Value, bool) {
        let len = rng.range(1, 4);
        let ops: Vec<Value> = (0..len)
            .map(|_| {
                let key = rng.range(0, 5);
                if rng.chance(0.5) {
                    json!(["r", key, null])
                } else {
                    let v = self.next_value.entry(key).or_insert(0);
                    *v += 1;
                    json!([if self.append { "append" } else { "w" }, key, *v])
                }
            })
            .collect();
        let body = json!({"type": "txn", "txn": ops});
        ("txn".into(), body, Value::Array(ops), false)
    }
    fn ok_value(&self, _f: &str, _invoke: &Value, reply: &Value) -> Value {
        reply["txn"].clone()
    }
    fn check(&self, history: &History) -> CheckResult {
        let models = ["strict-serializable".to_string()];
        if self.append {
            list_append::check(history, &models)
        } else {
            rw_register::check(history, &models)
        }
    }
}

/// Figures of one randomized run.
#[derive(Debug, Default, Clone, Copy)]
struct Outcome {
    ok: usize,
    fail: usize,
    info: usize,
    terms: usize,
}

/// Runs `seconds` of random client traffic over random partitions (and 2 % duplicated
/// node-to-node messages, and reordering), heals, and checks the history.
fn random_run<M: Machine>(
    nodes: usize,
    seed: u64,
    seconds: u64,
    config: Settings,
    load: &mut dyn Workload,
) -> (Outcome, CheckResult) {
    let mut c = Cluster::new::<M>(nodes, seed, config);
    c.net.reorder = true;
    c.wires.borrow_mut().duplicate = 0.02;
    let mut rng = Rng::new(seed);
    let mut history = History::default();
    let mut clients: Vec<Client> = (0..nodes * 2)
        .map(|i| Client {
            id: format!("c{}", 100 + i),
            node: format!("n{}", i % nodes),
            process: i as u64,
            pending: None,
        })
        .collect();
    let procs = clients.len() as u64;
    let mut out = Outcome::default();
    let end = Duration::from_secs(seconds);
    let mut next_fault = ms(rng.range(500, 3000));
    // Replies to clients, by request msg_id.
    let mut replies: BTreeMap<u64, Value> = BTreeMap::new();
    while c.now < end + ms(3000) {
        if c.now >= next_fault && c.now < end {
            next_fault = c.now + ms(rng.range(500, 3000));
            fault(&mut c, &mut rng);
        }
        if c.now >= end {
            c.heal();
        }
        for client in clients.iter_mut().filter(|cl| cl.pending.is_none()) {
            if !rng.chance(0.2) {
                continue;
            }
            let (f, body, value, idempotent) = load.next(&mut rng);
            let msg_id = c.send(&client.id, &client.node, body);
            let invoke = history.push(op(&c, client, OpType::Invoke, &f, value, None));
            client.pending = Some(Pending {
                msg_id,
                invoke,
                idempotent,
                at: c.now,
            });
        }
        c.run(ms(10));
        for m in c.net.to_clients.drain(..) {
            if let Some(id) = m["body"]["in_reply_to"].as_u64() {
                replies.insert(id, m["body"].clone());
            }
        }
        for client in clients.iter_mut() {
            let Some(p) = &client.pending else { continue };
            let (f, invoked) = {
                let inv = &history.ops[p.invoke];
                (inv.f.clone(), inv.value.clone())
            };
            let (kind, value, error) = match replies.remove(&p.msg_id) {
                Some(r) if r["type"] == "error" => {
                    let code = r["code"].as_u64().unwrap_or(13);
                    let definite = matches!(code, 1 | 10 | 11 | 12 | 14 | 20 | 21 | 22 | 30);
                    let kind = if definite || p.idempotent {
                        OpType::Fail
                    } else {
                        OpType::Info
                    };
                    (kind, invoked, Some(json!([code, r["text"]])))
                }
                Some(r) => (OpType::Ok, load.ok_value(&f, &invoked, &r), None),
                None if c.now >= p.at + CLIENT_TIMEOUT => {
                    let kind = if p.idempotent {
                        OpType::Fail
                    } else {
                        OpType::Info
                    };
                    (kind, invoked, Some(json!(["net-timeout"])))
                }
                None => continue,
            };
            match kind {
                OpType::Ok => out.ok += 1,
                OpType::Fail => out.fail += 1,
                _ => out.info += 1,
            }
            history.push(op(&c, client, kind, &f, value, error));
            client.pending = None;
            if kind == OpType::Info {
                client.process += procs;
            }
        }
    }
    out.terms = c.wires.borrow().leaders.len();
    let result = load.check(&history);
    (out, result)
}

fn op(
    c: &Cluster,
    client: &Client,
    kind: OpType,
    f: &str,
    value: Value,
    error: Option<Value>,
) -> Op {
    Op {
        index: 0,
        time: c.now.as_nanos() as u64,
        process: client.process,
        kind,
        f: f.to_string(),
        value,
        node: Some(client.node.clone()),
        client: Some(client.id.clone()),
        msg_id: None,
        error,
        final_phase: false,
    }
}

/// One random fault: heal, cut off a node (often the leader), split off a minority, or
/// Maelstrom's one-way "majorities ring".
fn fault(c: &mut Cluster, rng: &mut Rng) {
    c.heal();
    let n = c.ids.len();
    match rng.range(0, 4) {
        0 => {}
        1 => {
            let victim = match c.leader() {
                Some((_, l)) if rng.chance(0.7) => l,
                _ => c.ids[rng.range(0, n as u64 - 1) as usize].clone(),
            };
            c.isolate(&victim);
        }
        2 => {
            let mut ids = c.ids.clone();
            let first = rng.range(0, n as u64 - 1) as usize;
            ids.rotate_left(first);
            let minority: Vec<String> = ids[..n / 2].to_vec();
            c.split(&minority);
        }
        _ => c.one_way_ring(),
    }
}

fn assert_valid(what: &str, seed: u64, out: Outcome, result: &CheckResult) {
    println!("{what} seed {seed}: {out:?} -> {:?}", result.valid);
    assert!(
        result.valid == Validity::Valid,
        "{what} seed {seed}: {:?}\n{:#?}",
        result.valid,
        result.findings
    );
    assert!(out.ok > 0, "{what} seed {seed}: no request succeeded");
}

#[test]
fn lin_kv_histories_under_random_partitions_are_linearizable() {
    for (nodes, seed, lease) in [(3, 1, false), (5, 3, false), (3, 2, true), (5, 4, true)] {
        let config = if lease { leased() } else { settings() };
        let (out, result) = random_run::<LinKv>(nodes, seed, 20, config, &mut KvLoad);
        assert_valid("lin-kv", seed, out, &result);
    }
}

#[test]
fn txn_histories_under_random_partitions_are_strict_serializable() {
    for (append, seed) in [(false, 4), (true, 5)] {
        let mut load = TxnLoad {
            append,
            next_value: BTreeMap::new(),
        };
        let (out, result) = if append {
            random_run::<ListAppend>(3, seed, 20, leased(), &mut load)
        } else {
            random_run::<RwRegister>(3, seed, 20, settings(), &mut load)
        };
        assert_valid(
            if append { "list-append" } else { "rw-register" },
            seed,
            out,
            &result,
        );
    }
}

/// Explores `RAFT_SEEDS` seeds (default 20) of 20 s per machine, 3 and 5 nodes, with
/// and without read leases.
#[test]
#[ignore = "long: run with --release and RAFT_SEEDS=N"]
fn explore() {
    let seeds: u64 = std::env::var("RAFT_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let mut totals: BTreeMap<&str, (u64, Outcome)> = BTreeMap::new();
    for seed in 0..seeds {
        let nodes = if seed % 2 == 0 { 3 } else { 5 };
        let config = if seed % 4 < 2 { settings() } else { leased() };
        let mut rw = TxnLoad {
            append: false,
            next_value: BTreeMap::new(),
        };
        let mut la = TxnLoad {
            append: true,
            next_value: BTreeMap::new(),
        };
        let runs = [
            (
                "lin-kv",
                random_run::<LinKv>(nodes, seed, 20, config, &mut KvLoad),
            ),
            (
                "txn-rw-register",
                random_run::<RwRegister>(nodes, seed, 20, config, &mut rw),
            ),
            (
                "txn-list-append",
                random_run::<ListAppend>(nodes, seed, 20, config, &mut la),
            ),
        ];
        for (what, (out, result)) in runs {
            assert!(
                result.valid == Validity::Valid,
                "{what} seed {seed} ({nodes} nodes, lease {}): {:?}\n{:#?}",
                config.read_lease,
                result.valid,
                result.findings
            );
            let t = totals.entry(what).or_default();
            t.0 += 1;
            t.1.ok += out.ok;
            t.1.fail += out.fail;
            t.1.info += out.info;
            t.1.terms += out.terms;
        }
    }
    for (what, (runs, t)) in totals {
        println!(
            "{what}: {runs} seeds valid; ops ok {} / fail {} / info {}; {} leader terms",
            t.ok, t.fail, t.info, t.terms
        );
    }
}
