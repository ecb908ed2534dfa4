//! The rest of the world, as the fuzzed node sees it: Maelstrom's services (`lin-kv`,
//! `seq-kv`, `lww-kv` as one correct key-value model each, `lin-tso` as a counter) and
//! the other nodes of the cluster, answering the node's requests the way a healthy peer
//! would. The generator decides whether an answer goes out as it is, mutated, twice,
//! late or never; this module only knows the correct one.
//!
//! It also keeps the last gossip the node sent to its peers, so the generator can play it
//! back as if a peer had sent it: the most realistic node-to-node bodies there are.

use std::collections::{HashMap, VecDeque};

use serde_json::value::RawValue;

use super::classify::Outbound;
use super::json::J;

/// Ids the node may address that are services.
pub const SERVICES: &[&str] = &["lin-kv", "seq-kv", "lww-kv", "lin-tso"];

/// Most unanswered requests remembered (older ones have timed out in the node anyway).
const MAX_PENDING: usize = 4096;
/// Most gossip bodies kept for replay.
const MAX_GOSSIP: usize = 64;

/// A key-value write: (service, key) and the value.
type Write = ((String, String), String);

/// A request the node sent and nobody has answered yet.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The service or node it went to.
    pub dest: String,
    /// Its msg_id.
    pub msg_id: u64,
    /// Its type.
    pub msg_type: String,
    /// Its body.
    pub body: Box<RawValue>,
}

/// Services and peers.
#[derive(Default)]
pub struct World {
    kv: HashMap<(String, String), String>,
    ts: u64,
    /// Requests waiting for an answer, oldest first.
    pub pending: VecDeque<Pending>,
    /// msg_ids of recent requests of the node, answered or not.
    pub rpc_ids: VecDeque<u64>,
    /// Bodies the node sent to peers, with the peer, newest last.
    pub gossip: VecDeque<(String, Box<RawValue>)>,
}

fn fields(body: &RawValue) -> HashMap<String, Box<RawValue>> {
    serde_json::from_str(body.get()).unwrap_or_default()
}

fn field_text(f: &HashMap<String, Box<RawValue>>, key: &str) -> String {
    f.get(key)
        .map_or_else(|| "null".to_string(), |r| r.get().to_string())
}

fn field_u64(f: &HashMap<String, Box<RawValue>>, key: &str) -> u64 {
    field_text(f, key).parse().unwrap_or(0)
}

fn error(code: u32, text: &str) -> J {
    J::Obj(vec![
        ("type".into(), J::Str("error".into())),
        ("code".into(), J::int(code)),
        ("text".into(), J::Str(text.into())),
    ])
}

fn typed(t: &str, rest: Vec<(&str, J)>) -> J {
    let mut fields = vec![("type".to_string(), J::Str(t.into()))];
    fields.extend(rest.into_iter().map(|(k, v)| (k.to_string(), v)));
    J::Obj(fields)
}

impl World {
    /// Takes note of one line the node wrote to someone other than a client.
    pub fn observe(&mut self, out: &Outbound, peers: &[String]) {
        if out.in_reply_to.is_some() {
            return;
        }
        if let Some(msg_id) = out.msg_id {
            if self.pending.len() == MAX_PENDING {
                self.pending.pop_front();
            }
            self.pending.push_back(Pending {
                dest: out.dest.clone(),
                msg_id,
                msg_type: out.msg_type.clone(),
                body: out.body.clone(),
            });
            if self.rpc_ids.len() == 64 {
                self.rpc_ids.pop_front();
            }
            self.rpc_ids.push_back(msg_id);
        }
        if peers.contains(&out.dest) {
            if self.gossip.len() == MAX_GOSSIP {
                self.gossip.pop_front();
            }
            self.gossip.push_back((out.dest.clone(), out.body.clone()));
        }
    }

    /// The answer a correct service or peer gives to `rpc` (without `in_reply_to`). With
    /// `apply` false a key-value operation is answered as if applied but leaves the store
    /// as it was: for answers that never arrive (a timeout may or may not have applied).
    pub fn answer(&mut self, rpc: &Pending, apply: bool) -> J {
        let f = fields(&rpc.body);
        if rpc.dest == "lin-tso" {
            self.ts += 1;
            return typed("ts_ok", vec![("ts", J::int(self.ts))]);
        }
        if SERVICES.contains(&rpc.dest.as_str()) {
            let (answer, write) = self.kv(&rpc.dest, &rpc.msg_type, &f);
            if let (true, Some((key, value))) = (apply, write) {
                self.kv.insert(key, value);
            }
            return answer;
        }
        match rpc.msg_type.as_str() {
            "kafka_repl" => typed(
                "kafka_repl_ok",
                vec![
                    ("applied", J::Raw(field_text(&f, "upto"))),
                    ("end", J::int(0)),
                    ("clock", J::Raw(field_text(&f, "clock"))),
                ],
            ),
            "counter_gossip" => typed(
                "counter_gossip_ok",
                vec![("counts", J::Raw(field_text(&f, "counts")))],
            ),
            "raft_vote" => {
                // A peer at the candidate's term (one below, for a pre-vote) that votes.
                let term = field_u64(&f, "term");
                let pre = field_text(&f, "pre") == "true";
                let own = if pre { term.saturating_sub(1) } else { term };
                typed(
                    "raft_vote_ok",
                    vec![("term", J::int(own)), ("granted", J::Raw("true".into()))],
                )
            }
            "raft_append" => {
                // A follower whose log matches: it stores the entries.
                let entries = f
                    .get("entries")
                    .and_then(|e| serde_json::from_str::<Vec<&RawValue>>(e.get()).ok())
                    .map_or(0, |e| e.len() as u64);
                let index = field_u64(&f, "prev_index").saturating_add(entries);
                typed(
                    "raft_append_ok",
                    vec![
                        ("term", J::int(field_u64(&f, "term"))),
                        ("success", J::Raw("true".into())),
                        ("index", J::int(index)),
                    ],
                )
            }
            other => error(10, &format!("peer does not answer {other}")),
        }
    }

    /// The answer to a key-value operation and the write it makes, if any.
    fn kv(
        &self,
        service: &str,
        op: &str,
        f: &HashMap<String, Box<RawValue>>,
    ) -> (J, Option<Write>) {
        let key = (service.to_string(), field_text(f, "key"));
        let current = self.kv.get(&key);
        match op {
            "read" => match current {
                Some(v) => (typed("read_ok", vec![("value", J::Raw(v.clone()))]), None),
                None => (error(20, "key does not exist"), None),
            },
            "write" => (
                typed("write_ok", vec![]),
                Some((key, field_text(f, "value"))),
            ),
            "cas" => {
                let create = field_text(f, "create_if_not_exists") == "true";
                match current {
                    None if create => (typed("cas_ok", vec![]), Some((key, field_text(f, "to")))),
                    None => (error(20, "key does not exist"), None),
                    Some(v) if *v == field_text(f, "from") => {
                        (typed("cas_ok", vec![]), Some((key, field_text(f, "to"))))
                    }
                    Some(_) => (error(22, "current value differs"), None),
                }
            }
            other => (
                error(10, &format!("{service} does not support {other}")),
                None,
            ),
        }
    }
}
