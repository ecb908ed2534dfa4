//! The stream of input lines: valid seeds of every family, mutated or not, answers to
//! the node's own requests (correct, mutated, errors, twice, late or never), gossip the
//! node sent played back as if from a peer, replies to requests never sent, second
//! `init`s, deep nesting, garbage, and now and then a huge line.
//!
//! Everything comes from one seeded generator, so a run is reproducible from its seed.

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::classify::Outbound;
use super::corpus::{Cluster, FamilyCorpus};
use super::json::J;
use super::mutate::{self, Hints};
use super::peers::{Pending, World, SERVICES};

/// How often and how big the huge lines are.
#[derive(Debug, Clone, Copy)]
pub struct Huge {
    /// One line in this many is huge (0: never).
    pub every: u64,
    /// Its size in bytes.
    pub bytes: usize,
}

/// Where a line came from (for the statistics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// A seed as it is.
    Valid,
    /// A seed with tree or byte mutations.
    Mutated,
    /// An answer to one of the node's requests.
    Answer,
    /// Gossip the node sent, played back.
    Replay,
    /// Garbage, deep nesting, blank lines, replies to nothing, second inits.
    Special,
    /// A huge line.
    Huge,
}

/// The line generator.
pub struct Generator<'c> {
    rng: StdRng,
    /// The cluster the node is told it belongs to.
    pub cluster: Cluster,
    enabled: Vec<&'c FamilyCorpus>,
    every: &'c [FamilyCorpus],
    types: Vec<&'static str>,
    ids: Vec<String>,
    next_msg_id: u64,
    recent_ids: Vec<u64>,
    /// Services and peers, and what the node asked of them.
    pub world: World,
    again: VecDeque<Vec<u8>>,
    huge: Huge,
    count: u64,
}

const CLIENTS: &[&str] = &["c1", "c2", "c3", "c4", "c5"];

impl<'c> Generator<'c> {
    /// A generator for a node running `enabled` (a subset of `every`), seeded with `seed`.
    pub fn new(seed: u64, every: &'c [FamilyCorpus], enabled: &[String], huge: Huge) -> Self {
        let cluster = Cluster::three();
        let mut types: Vec<&'static str> = glomers_runtime::registry::all_specs()
            .iter()
            .filter_map(|s| s.default_message_types().ok())
            .flatten()
            .collect();
        types.push("init");
        let mut ids: Vec<String> = cluster.nodes.clone();
        ids.extend(SERVICES.iter().map(|s| s.to_string()));
        ids.extend(["c1".to_string(), "n9".to_string(), String::new()]);
        Generator {
            rng: StdRng::seed_from_u64(seed),
            cluster,
            enabled: every
                .iter()
                .filter(|c| enabled.iter().any(|e| e == c.family))
                .collect(),
            every,
            types,
            ids,
            next_msg_id: 1000,
            recent_ids: Vec::new(),
            world: World::default(),
            again: VecDeque::new(),
            huge,
            count: 0,
        }
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_msg_id += 1;
        if self.recent_ids.len() >= 32 {
            let i = self.rng.random_range(0..self.recent_ids.len());
            self.recent_ids.swap_remove(i);
        }
        self.recent_ids.push(self.next_msg_id);
        self.next_msg_id
    }

    /// A message from `src` to the node with `body`, given a fresh msg_id if `request`.
    fn message(&mut self, src: &str, body: Value, request: bool) -> J {
        let mut body = J::from(body);
        if request {
            let id = self.fresh_id();
            body.set("msg_id", J::int(id));
        }
        let mut fields = vec![
            ("src".to_string(), J::Str(src.to_string())),
            ("dest".to_string(), J::Str(self.cluster.me.clone())),
            ("body".to_string(), body),
        ];
        if self.rng.random_bool(0.2) {
            fields.insert(0, ("id".into(), J::int(self.count)));
        }
        J::Obj(fields)
    }

    /// The valid `init` that gives the node its identity.
    pub fn init_line(&mut self) -> Vec<u8> {
        let body = self.cluster.init_body();
        self.message("c0", body, true).to_bytes()
    }

    fn corpus(&mut self) -> &'c FamilyCorpus {
        let from_enabled = !self.enabled.is_empty() && self.rng.random_bool(0.85);
        let pool: Vec<&'c FamilyCorpus> = if from_enabled {
            self.enabled.clone()
        } else {
            self.every.iter().collect()
        };
        pool.choose(&mut self.rng)
            .copied()
            .unwrap_or(&self.every[0])
    }

    fn client_request(&mut self) -> J {
        let corpus = self.corpus();
        let body = (corpus.client)(&mut self.rng, &self.cluster);
        let src = CLIENTS.choose(&mut self.rng).copied().unwrap_or("c1");
        self.message(src, body, true)
    }

    fn peer_message(&mut self) -> J {
        let corpus = self.corpus();
        let Some(peer_body) = corpus.peer else {
            return self.client_request();
        };
        let body = peer_body(&mut self.rng, &self.cluster);
        let rpc = matches!(body["type"].as_str(), Some("kafka_repl" | "counter_gossip"));
        let src = self.peer_id();
        let with_id = rpc || self.rng.random_bool(0.3);
        self.message(&src, body, with_id)
    }

    fn peer_id(&mut self) -> String {
        let peers = self.cluster.peers();
        match self.rng.random_range(0..10) {
            0 => "c1".into(),
            1 => self.cluster.me.clone(),
            2 => "n9".into(),
            _ => peers.choose(&mut self.rng).cloned().unwrap_or_default(),
        }
    }

    fn mutate(&mut self, msg: &mut J) {
        let rpc_ids: Vec<u64> = self.world.rpc_ids.iter().copied().collect();
        let hints = Hints {
            types: &self.types,
            rpc_ids: &rpc_ids,
            recent_ids: &self.recent_ids,
            ids: &self.ids,
        };
        mutate::mutate_message(&mut self.rng, msg, &hints);
    }

    fn finish(&mut self, msg: &J, byte_mutation: f64) -> Vec<u8> {
        let mut line = msg.to_bytes();
        if self.rng.random_bool(byte_mutation) {
            mutate::mutate_bytes(&mut self.rng, &mut line);
        }
        mutate::no_newlines(&mut line);
        line
    }

    /// A line to send before `init`: anything but a valid `init`.
    pub fn before_init(&mut self) -> (Vec<u8>, Origin) {
        match self.rng.random_range(0..10) {
            0 => {
                // An init the node must refuse: its node_ids are not a list of strings.
                let mut body = self.cluster.init_body();
                body["node_ids"] = [json!(null), json!("n0"), json!([1])]
                    .choose(&mut self.rng)
                    .cloned()
                    .unwrap_or(Value::Null);
                (self.message("c0", body, true).to_bytes(), Origin::Special)
            }
            1 | 2 => {
                let msg = self.peer_message();
                (self.finish(&msg, 0.0), Origin::Valid)
            }
            3..=5 => {
                let mut msg = self.client_request();
                self.mutate(&mut msg);
                (self.finish(&msg, 0.2), Origin::Mutated)
            }
            _ => {
                let msg = self.client_request();
                (self.finish(&msg, 0.0), Origin::Valid)
            }
        }
    }

    /// The next line after `init`.
    pub fn next(&mut self) -> (Vec<u8>, Origin) {
        self.count += 1;
        if self.huge.every > 0 && self.count.is_multiple_of(self.huge.every) {
            return (self.huge_line(), Origin::Huge);
        }
        if !self.again.is_empty() && self.rng.random_bool(0.05) {
            if let Some(line) = self.again.pop_front() {
                return (line, Origin::Answer);
            }
        }
        match self.rng.random_range(0..100) {
            0..=29 => {
                let msg = self.client_request();
                (self.finish(&msg, 0.0), Origin::Valid)
            }
            30..=54 => {
                let mut msg = self.client_request();
                self.mutate(&mut msg);
                (self.finish(&msg, 0.25), Origin::Mutated)
            }
            55..=64 => {
                let mut msg = self.peer_message();
                let mutated = self.rng.random_bool(0.6);
                if mutated {
                    self.mutate(&mut msg);
                }
                let origin = if mutated {
                    Origin::Mutated
                } else {
                    Origin::Valid
                };
                (self.finish(&msg, if mutated { 0.2 } else { 0.0 }), origin)
            }
            65..=76 => match self.answer_line() {
                Some(line) => (line, Origin::Answer),
                None => {
                    let msg = self.client_request();
                    (self.finish(&msg, 0.0), Origin::Valid)
                }
            },
            77..=82 => (self.replay_line(), Origin::Replay),
            83..=88 => {
                let msg = self.client_request();
                let mut line = msg.to_bytes();
                mutate::mutate_bytes(&mut self.rng, &mut line);
                (line, Origin::Mutated)
            }
            89..=92 => (self.special_line(), Origin::Special),
            93..=95 => (self.reply_to_nothing(), Origin::Special),
            96 | 97 => (self.second_init(), Origin::Special),
            _ => (self.deep_line(), Origin::Special),
        }
    }

    /// Correct answers to every request the node is waiting on, and nothing else.
    pub fn calm(&mut self) -> Vec<Vec<u8>> {
        let pending: Vec<Pending> = self.world.pending.drain(..).collect();
        pending
            .iter()
            .map(|rpc| {
                let body = self.world.answer(rpc, true);
                self.answer_message(rpc, body).to_bytes()
            })
            .collect()
    }

    /// Takes note of a line the node wrote.
    pub fn observe(&mut self, out: &Outbound) {
        let peers = self.cluster.peers();
        self.world.observe(out, &peers);
    }

    fn answer_message(&self, rpc: &Pending, mut body: J) -> J {
        body.set("in_reply_to", J::int(rpc.msg_id));
        J::Obj(vec![
            ("src".into(), J::Str(rpc.dest.clone())),
            ("dest".into(), J::Str(self.cluster.me.clone())),
            ("body".into(), body),
        ])
    }

    fn answer_line(&mut self) -> Option<Vec<u8>> {
        let n = self.world.pending.len();
        if n == 0 {
            return None;
        }
        let at = if self.rng.random_bool(0.7) {
            0
        } else {
            self.rng.random_range(0..n)
        };
        let rpc = self.world.pending.remove(at)?;
        // A definite error is only honest if the operation did not happen, so fabricated
        // errors leave the services' state alone; a lost answer may or may not have been
        // applied; every other answer reports an applied operation.
        let line = match self.rng.random_range(0..100) {
            0..=64 => {
                let correct = self.world.answer(&rpc, true);
                self.answer_message(&rpc, correct).to_bytes()
            }
            65..=79 => {
                let correct = self.world.answer(&rpc, true);
                let mut msg = self.answer_message(&rpc, correct);
                self.mutate(&mut msg);
                self.finish(&msg, 0.1)
            }
            80..=86 => {
                let code = [0u32, 1, 10, 11, 12, 13, 14, 20, 21, 22, 30, 1000]
                    .choose(&mut self.rng)
                    .copied()
                    .unwrap_or(13);
                let body = J::from(json!({"type": "error", "code": code, "text": "fuzzed"}));
                self.answer_message(&rpc, body).to_bytes()
            }
            87..=91 => {
                let correct = self.world.answer(&rpc, true);
                let line = self.answer_message(&rpc, correct).to_bytes();
                self.again.push_back(line.clone());
                line
            }
            _ => {
                let applied = self.rng.random_bool(0.5);
                self.world.answer(&rpc, applied);
                return Some(self.special_line());
            }
        };
        Some(line)
    }

    fn replay_line(&mut self) -> Vec<u8> {
        let Some((peer, body)) = self
            .world
            .gossip
            .iter()
            .collect::<Vec<_>>()
            .choose(&mut self.rng)
            .map(|(p, b)| (p.clone(), b.clone()))
        else {
            let msg = self.peer_message();
            return self.finish(&msg, 0.0);
        };
        let mut body = serde_json::from_str::<Value>(body.get())
            .map(J::from)
            .unwrap_or_else(|_| J::Raw(body.get().to_string()));
        // A peer numbers its own requests: the node's msg_id would make this request
        // share its (src, msg_id) with others, and the oracle could not tell their
        // answers apart when it reads them in batches.
        if body.get("msg_id").is_some() {
            let id = self.fresh_id();
            body.set("msg_id", J::int(id));
        }
        let mut msg = J::Obj(vec![
            ("src".into(), J::Str(peer)),
            ("dest".into(), J::Str(self.cluster.me.clone())),
            ("body".into(), body),
        ]);
        // Tree mutations cost time quadratic in the tree's size; big batches get byte
        // mutations only.
        if msg.size() < 400 && self.rng.random_bool(0.5) {
            self.mutate(&mut msg);
        }
        self.finish(&msg, 0.1)
    }

    fn special_line(&mut self) -> Vec<u8> {
        let mut line: Vec<u8> = match self.rng.random_range(0..8) {
            0 => Vec::new(),
            1 => b"   \t".to_vec(),
            2 => b"\r".to_vec(),
            3 => (0..self.rng.random_range(1..200)).map(|_| self.rng.random::<u8>()).collect(),
            4 => b"null".to_vec(),
            5 => b"[1,2,3]".to_vec(),
            6 => br#"{"src":"c1","dest":"n0","body":{"type":"echo","msg_id":1,"echo":"x"}}{"src":"c1"}"#.to_vec(),
            _ => b"\x00\x00\x00".to_vec(),
        };
        mutate::no_newlines(&mut line);
        line
    }

    fn reply_to_nothing(&mut self) -> Vec<u8> {
        let src = self.ids.choose(&mut self.rng).cloned().unwrap_or_default();
        let t = self
            .types
            .choose(&mut self.rng)
            .copied()
            .unwrap_or("read_ok");
        let body = json!({"type": format!("{t}_ok"), "in_reply_to": self.rng.random_range(1_000_000..u64::MAX),
                          "msg_id": self.rng.random_range(0..10u64)});
        self.message(&src, body, false).to_bytes()
    }

    fn second_init(&mut self) -> Vec<u8> {
        let mut body = self.cluster.init_body();
        if self.rng.random_bool(0.5) {
            body["node_id"] = json!("n1");
            body["node_ids"] = json!(["n1", "n7"]);
        }
        let mut msg = self.message("c0", body, true);
        if self.rng.random_bool(0.5) {
            self.mutate(&mut msg);
        }
        self.finish(&msg, 0.1)
    }

    fn deep_line(&mut self) -> Vec<u8> {
        let depth = match self.rng.random_range(0..4) {
            0 => mutate::SERDE_DEPTH_LIMIT - 1,
            1 => mutate::SERDE_DEPTH_LIMIT,
            2 => mutate::SERDE_DEPTH_LIMIT + 1,
            _ => self.rng.random_range(1_000..50_000),
        };
        let deep = mutate::nested(depth);
        let mut msg = self.client_request();
        match self.rng.random_range(0..4) {
            0 => {
                if let Some(body) = msg.get_mut("body") {
                    body.set("deep", deep);
                }
            }
            1 => {
                // Into a field the family reads, whichever that is.
                if let Some(J::Obj(fields)) = msg.get_mut("body") {
                    if let Some(slot) = fields
                        .iter_mut()
                        .find(|(k, _)| k != "type" && k != "msg_id")
                    {
                        slot.1 = deep;
                    }
                }
            }
            2 => msg.set("body", deep),
            _ => return deep.to_bytes(),
        }
        msg.to_bytes()
    }

    fn huge_line(&mut self) -> Vec<u8> {
        let size = self.huge.bytes;
        let mut msg = self.client_request();
        let mut line = match self.rng.random_range(0..6) {
            0 => {
                let body = json!({"type": "echo", "echo": "e".repeat(size)});
                self.message("c1", body, true).to_bytes()
            }
            1 => {
                if let Some(body) = msg.get_mut("body") {
                    body.set("pad", J::Str("p".repeat(size)));
                }
                msg.to_bytes()
            }
            2 => {
                let mut line = msg.to_bytes();
                let at = line.len().saturating_sub(1);
                line.splice(at..at, std::iter::repeat_n(b' ', size));
                line
            }
            3 => {
                let ones = "1,".repeat(size / 2);
                if let Some(body) = msg.get_mut("body") {
                    body.set("pad", J::Raw(format!("[{ones}1]")));
                }
                msg.to_bytes()
            }
            4 => {
                if let Some(body) = msg.get_mut("body") {
                    body.set("pad", J::Str("p".repeat(size)));
                }
                let mut line = msg.to_bytes();
                line.truncate(size / 2);
                line
            }
            _ => {
                const GARBAGE: &[u8] = b"{[\"x:,1 \x00\xff}";
                (0..size).map(|i| GARBAGE[i % GARBAGE.len()]).collect()
            }
        };
        mutate::no_newlines(&mut line);
        line
    }
}
