//! The seeds the fuzzer mutates, per handler family: valid client requests and valid
//! node-to-node bodies, with values drawn fresh each time; which inbound types a family
//! answers with nothing (one-way gossip); and a check, run after the fuzzing, that the
//! node still serves the family's requests correctly.
//!
//! Every registered family needs an entry in [`all`] (`host/tests/fuzz.rs` fails
//! otherwise): its message shapes are what lets the mutations reach its code.
//!
//! Also here: the configs the fuzzer runs ([`targets`]): every preset, and each family
//! alone in each of its modes.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::Rng;
use serde_json::{json, Value};

use glomers_runtime::config::Config;
use glomers_runtime::registry::node_settings;

/// The cluster the fuzzed node belongs to (the fuzzer plays every other member).
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The fuzzed node's id.
    pub me: String,
    /// Every node id, the fuzzed one included.
    pub nodes: Vec<String>,
}

impl Cluster {
    /// Node n0 of n0, n1, n2.
    pub fn three() -> Cluster {
        Cluster {
            me: "n0".into(),
            nodes: vec!["n0".into(), "n1".into(), "n2".into()],
        }
    }

    /// The other nodes.
    pub fn peers(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| **n != self.me)
            .cloned()
            .collect()
    }

    /// The `init` body that gives the node this identity.
    pub fn init_body(&self) -> Value {
        json!({"type": "init", "node_id": self.me, "node_ids": self.nodes})
    }
}

/// Sends one valid request after the fuzzing and returns the body of its answer.
pub trait Ask {
    /// `body` (with `type` and fields; the msg_id is added) from a fresh client.
    fn ask(&mut self, body: Value) -> Result<Value, String>;
}

/// What the fuzzer knows about one handler family.
pub struct FamilyCorpus {
    /// The family's registered name.
    pub family: &'static str,
    /// A valid client request body (without msg_id).
    pub client: fn(&mut StdRng, &Cluster) -> Value,
    /// A valid body another node of the cluster may send, if the family has any.
    pub peer: Option<fn(&mut StdRng, &Cluster) -> Value>,
    /// Inbound types the family handles without answering.
    pub one_way: &'static [&'static str],
    /// After the fuzzing: valid requests and checks of their answers.
    pub sanity: fn(&mut dyn Ask) -> Result<(), String>,
    /// Client requests (client, msg_id) a body this node sends to a peer hands over for
    /// another node to answer, for families where whoever applies a request answers it
    /// (Raft's leader). `None` for families that answer their own clients.
    pub handoffs: Option<super::oracle::Handoffs>,
    /// The family's leadership epoch in a body it sends to a peer (Raft's term), for
    /// families whose deposed leaders may leave requests unanswered.
    pub epoch: Option<super::oracle::Epoch>,
}

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items.choose(rng).copied().unwrap_or("")
}

fn expect_type(reply: &Value, t: &str) -> Result<(), String> {
    if reply["type"] == t {
        Ok(())
    } else {
        Err(format!("expected {t}, got {reply}"))
    }
}

fn echo_client(rng: &mut StdRng, _: &Cluster) -> Value {
    let echo = match rng.random_range(0..4) {
        0 => json!(format!("Please echo {}", rng.random_range(0..128))),
        1 => json!(rng.random_range(-100i64..100)),
        2 => json!({"nested": [1, 2.5, null, "x"]}),
        _ => json!([]),
    };
    json!({"type": "echo", "echo": echo})
}

fn echo_sanity(ask: &mut dyn Ask) -> Result<(), String> {
    let echo = json!({"after": "fuzzing", "n": [1, 2, 3]});
    let reply = ask.ask(json!({"type": "echo", "echo": echo}))?;
    expect_type(&reply, "echo_ok")?;
    if reply["echo"] != echo {
        return Err(format!("echo came back as {}", reply["echo"]));
    }
    Ok(())
}

fn generate_client(_: &mut StdRng, _: &Cluster) -> Value {
    json!({"type": "generate"})
}

fn generate_sanity(ask: &mut dyn Ask) -> Result<(), String> {
    let mut ids = std::collections::HashSet::new();
    for _ in 0..3 {
        let reply = ask.ask(json!({"type": "generate"}))?;
        expect_type(&reply, "generate_ok")?;
        if !ids.insert(reply["id"].to_string()) {
            return Err(format!("generate handed out {} twice", reply["id"]));
        }
    }
    Ok(())
}

fn broadcast_client(rng: &mut StdRng, c: &Cluster) -> Value {
    match rng.random_range(0..6) {
        0..=2 => json!({"type": "broadcast", "message": rng.random_range(0..2000u64)}),
        3 | 4 => json!({"type": "read"}),
        _ => {
            let topology: serde_json::Map<String, Value> = c
                .nodes
                .iter()
                .map(|n| {
                    (
                        n.clone(),
                        json!(c.nodes.iter().filter(|m| *m != n).collect::<Vec<_>>()),
                    )
                })
                .collect();
            json!({"type": "topology", "topology": topology})
        }
    }
}

fn broadcast_peer(rng: &mut StdRng, _: &Cluster) -> Value {
    let lo = rng.random_range(0..2000u64);
    let mut body =
        json!({"type": "bcast_gossip", "v": [[lo, lo + rng.random_range(0..5)], lo + 9]});
    if rng.random_bool(0.5) {
        body["got"] = json!([rng.random_range(0..2000u64)]);
    }
    if rng.random_bool(0.3) {
        body["have"] = json!([[0, rng.random_range(0..2000u64)]]);
    }
    if rng.random_bool(0.3) {
        body["reply"] = json!(true);
    }
    body
}

/// Sends `add` (answered by `ok`), then reads: the read's `field` must list `value`.
fn read_shows_added(
    ask: &mut dyn Ask,
    add: Value,
    ok: &str,
    field: &str,
    value: u64,
) -> Result<(), String> {
    expect_type(&ask.ask(add.clone())?, ok)?;
    let reply = ask.ask(json!({"type": "read"}))?;
    expect_type(&reply, "read_ok")?;
    let has = reply[field]
        .as_array()
        .is_some_and(|m| m.contains(&json!(value)));
    if !has {
        return Err(format!("the read after {add} lacks {value}: {reply}"));
    }
    Ok(())
}

fn broadcast_sanity(ask: &mut dyn Ask) -> Result<(), String> {
    let value = 987_654_321u64;
    let add = json!({"type": "broadcast", "message": value});
    read_shows_added(ask, add, "broadcast_ok", "messages", value)
}

fn counter_client(rng: &mut StdRng, _: &Cluster) -> Value {
    if rng.random_bool(0.6) {
        json!({"type": "add", "delta": rng.random_range(-3i64..10)})
    } else {
        json!({"type": "read"})
    }
}

fn counter_peer(rng: &mut StdRng, c: &Cluster) -> Value {
    let counts: serde_json::Map<String, Value> = c
        .nodes
        .iter()
        .map(|n| {
            (
                n.clone(),
                json!([rng.random_range(0..100u64), rng.random_range(0..10u64)]),
            )
        })
        .collect();
    json!({"type": "counter_gossip", "counts": counts})
}

fn counter_sanity(ask: &mut dyn Ask) -> Result<(), String> {
    let read = |ask: &mut dyn Ask| -> Result<i64, String> {
        let reply = ask.ask(json!({"type": "read"}))?;
        expect_type(&reply, "read_ok")?;
        reply["value"]
            .as_i64()
            .ok_or_else(|| format!("read_ok value is not an integer: {reply}"))
    };
    let before = read(ask)?;
    expect_type(&ask.ask(json!({"type": "add", "delta": 3}))?, "add_ok")?;
    let after = read(ask)?;
    // Nobody else adds during the check, and this node reads its own adds at once.
    if after != before.wrapping_add(3) {
        return Err(format!("read {before}, added 3, read {after}"));
    }
    Ok(())
}

const KAFKA_KEYS: &[&str] = &["k0", "k1", "k2", "k3"];

fn kafka_client(rng: &mut StdRng, _: &Cluster) -> Value {
    let key = pick(rng, KAFKA_KEYS);
    match rng.random_range(0..8) {
        0..=3 => json!({"type": "send", "key": key, "msg": rng.random_range(0..1000)}),
        4 | 5 => json!({"type": "poll", "offsets": {key: rng.random_range(0..20u64), "k9": 0}}),
        6 => json!({"type": "commit_offsets", "offsets": {key: rng.random_range(0..20u64)}}),
        _ => json!({"type": "list_committed_offsets", "keys": [key, "k9"]}),
    }
}

fn kafka_peer(rng: &mut StdRng, _: &Cluster) -> Value {
    let seq = rng.random_range(0..4u64);
    let n = rng.random_range(0..3u64);
    let key = pick(rng, KAFKA_KEYS);
    let offset = rng.random_range(0..50u64);
    json!({"type": "kafka_repl", "seq": seq, "upto": seq + n, "end": seq + n,
           "clock": rng.random_range(0..30u64),
           "entries": {key: [[offset, rng.random_range(0..1000)], [offset + 3, "m"]]},
           "commits": {key: offset}})
}

fn kafka_sanity(ask: &mut dyn Ask) -> Result<(), String> {
    let mut last = None;
    for msg in [41, 42] {
        let reply = ask.ask(json!({"type": "send", "key": "sanity", "msg": msg}))?;
        expect_type(&reply, "send_ok")?;
        let offset = reply["offset"]
            .as_u64()
            .ok_or_else(|| format!("send_ok without an offset: {reply}"))?;
        if last.is_some_and(|l| offset <= l) {
            return Err(format!("offsets of one key went {last:?} -> {offset}"));
        }
        last = Some(offset);
    }
    let offset = last.unwrap_or_default();
    let reply = ask.ask(json!({"type": "commit_offsets", "offsets": {"sanity": offset}}))?;
    expect_type(&reply, "commit_offsets_ok")?;
    let reply = ask.ask(json!({"type": "list_committed_offsets", "keys": ["sanity"]}))?;
    expect_type(&reply, "list_committed_offsets_ok")?;
    if reply["offsets"]["sanity"].as_u64() < Some(offset) {
        return Err(format!("committed {offset}, listed {reply}"));
    }
    let reply = ask.ask(json!({"type": "poll", "offsets": {"sanity": 0}}))?;
    expect_type(&reply, "poll_ok")?;
    if let Some(entries) = reply["msgs"]["sanity"].as_array() {
        let values: Vec<&Value> = entries.iter().map(|e| &e[1]).collect();
        if values.iter().any(|v| **v != json!(41) && **v != json!(42)) {
            return Err(format!("poll shows messages never sent: {reply}"));
        }
    }
    Ok(())
}

fn txn_client(rng: &mut StdRng, _: &Cluster) -> Value {
    let ops: Vec<Value> = (0..rng.random_range(1..4))
        .map(|_| {
            let key = rng.random_range(0..8);
            if rng.random_bool(0.5) {
                json!(["r", key, null])
            } else {
                json!(["w", key, rng.random_range(0..100)])
            }
        })
        .collect();
    json!({"type": "txn", "txn": ops})
}

fn txn_peer(rng: &mut StdRng, _: &Cluster) -> Value {
    let writes: Vec<Value> = (0..rng.random_range(0..3))
        .map(|_| {
            json!([
                rng.random_range(0..8),
                rng.random_range(0..100),
                rng.random_range(0..50u64),
                rng.random_range(0..3u32)
            ])
        })
        .collect();
    json!({"type": "txn_sync", "upto": rng.random_range(0..50u64),
           "ack": rng.random_range(0..50u64), "writes": writes})
}

fn txn_sanity(ask: &mut dyn Ask) -> Result<(), String> {
    // A key the fuzzing wrote to (and peers replicated to), and a fresh one.
    for key in [json!(3), json!("sanity-key")] {
        let reply =
            ask.ask(json!({"type": "txn", "txn": [["w", key, 12345], ["r", key, null]]}))?;
        expect_type(&reply, "txn_ok")?;
        if reply["txn"] != json!([["w", key, 12345], ["r", key, 12345]]) {
            return Err(format!("a transaction did not read its own write: {reply}"));
        }
        let reply = ask.ask(json!({"type": "txn", "txn": [["r", key, null]]}))?;
        if reply["txn"] != json!([["r", key, 12345]]) {
            return Err(format!(
                "the next transaction did not read the write: {reply}"
            ));
        }
    }
    Ok(())
}

fn gset_client(rng: &mut StdRng, _: &Cluster) -> Value {
    if rng.random_bool(0.6) {
        json!({"type": "add", "element": rng.random_range(0..2000u64)})
    } else {
        json!({"type": "read"})
    }
}

fn gset_sanity(ask: &mut dyn Ask) -> Result<(), String> {
    let element = 987_654_321u64;
    let add = json!({"type": "add", "element": element});
    read_shows_added(ask, add, "add_ok", "value", element)
}

fn raft_client(rng: &mut StdRng, _: &Cluster) -> Value {
    let key = rng.random_range(0..4);
    match rng.random_range(0..8) {
        0 | 1 => json!({"type": "read", "key": key}),
        2 | 3 => json!({"type": "write", "key": key, "value": rng.random_range(0..10)}),
        4 | 5 => json!({"type": "cas", "key": key, "from": rng.random_range(0..10),
                        "to": rng.random_range(0..10)}),
        6 => json!({"type": "txn", "txn": [["r", key, null], ["w", key, rng.random_range(0..10)]]}),
        _ => {
            json!({"type": "txn", "txn": [["append", key, rng.random_range(0..10)], ["r", key, null]]})
        }
    }
}

fn raft_peer(rng: &mut StdRng, _: &Cluster) -> Value {
    let term = rng.random_range(0..6u64);
    if rng.random_bool(0.3) {
        return json!({"type": "raft_vote", "term": term, "last_index": rng.random_range(0..20u64),
                      "last_term": rng.random_range(0..term + 1), "pre": rng.random_bool(0.5)});
    }
    let prev = rng.random_range(0..10u64);
    let entries: Vec<Value> = (0..rng.random_range(0..3))
        .map(|i| {
            if i == 0 && rng.random_bool(0.3) {
                json!({"term": term})
            } else {
                json!({"term": term, "req": {"client": "c9", "id": rng.random_range(0..100u64),
                       "op": {"type": "write", "key": rng.random_range(0..4), "value": 1}}})
            }
        })
        .collect();
    json!({"type": "raft_append", "term": term, "prev_index": prev,
           "prev_term": rng.random_range(0..term + 1), "entries": entries,
           "commit": rng.random_range(0..prev + 1)})
}

/// Whether `reply` is Maelstrom's temporarily-unavailable error: a Raft node that
/// cannot reach a leader says so rather than answer.
fn unavailable(reply: &Value) -> bool {
    reply["type"] == "error" && reply["code"] == 11
}

fn raft_sanity(ask: &mut dyn Ask) -> Result<(), String> {
    // The fuzzer's peers grant votes and accept appends, so the node can lead and commit;
    // a node that follows a leader the fuzzing made up may refuse with error 11 instead.
    let write = ask.ask(json!({"type": "write", "key": "sanity", "value": 7}))?;
    if write["type"] == "error" && write["code"] == 10 {
        // A transactional state machine.
        let reply = ask.ask(json!({"type": "txn", "txn": [["r", 1, null]]}))?;
        if reply["type"] != "txn_ok" && !unavailable(&reply) {
            return Err(format!("a read-only txn got {reply}"));
        }
        return Ok(());
    }
    if unavailable(&write) {
        return Ok(());
    }
    expect_type(&write, "write_ok")?;
    let read = ask.ask(json!({"type": "read", "key": "sanity"}))?;
    if unavailable(&read) {
        return Ok(());
    }
    expect_type(&read, "read_ok")?;
    if read["value"] != json!(7) {
        return Err(format!("wrote 7, read {read}"));
    }
    Ok(())
}

/// Every request a Raft message carries for another node to answer, read off its JSON
/// text as the node writes it: client requests (`{"client":…,"id":…,"op":…}`: log
/// entries in an append, requests forwarded on an append's reply, either inside a
/// relay), whose answer comes from the leader that applies them, and a relayed answer
/// (`"to":…` then `"reply_to":…`), which the relay hands to `to`.
fn raft_handoffs(text: &str) -> Vec<(String, u64)> {
    fn string_at(text: &str) -> Option<&str> {
        text.find('"').map(|end| &text[..end])
    }
    fn number_at(text: &str) -> Option<u64> {
        let end = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        text[..end].parse().ok()
    }
    let mut out = Vec::new();
    for (i, key) in text.match_indices("\"client\":\"") {
        let rest = &text[i + key.len()..];
        let Some(client) = string_at(rest) else {
            continue;
        };
        let after = &rest[client.len() + 1..];
        if let Some(id) = after.strip_prefix(",\"id\":").and_then(number_at) {
            out.push((client.to_string(), id));
        }
    }
    for (i, key) in text.match_indices("\"reply_to\":") {
        let Some(id) = number_at(&text[i + key.len()..]) else {
            continue;
        };
        const TO: &str = "\"to\":\"";
        let to = text[..i]
            .rfind(TO)
            .and_then(|j| string_at(&text[j + TO.len()..]));
        if let Some(to) = to {
            out.push((to.to_string(), id));
        }
    }
    out
}

/// The term of a Raft message the node sends (a relay's inner message included).
fn raft_term(body: &Value) -> Option<u64> {
    body["term"]
        .as_u64()
        .or_else(|| body["body"]["term"].as_u64())
}

/// Every family the fuzzer knows.
pub fn all() -> Vec<FamilyCorpus> {
    vec![
        FamilyCorpus {
            family: "echo",
            client: echo_client,
            peer: None,
            one_way: &[],
            sanity: echo_sanity,
            handoffs: None,
            epoch: None,
        },
        FamilyCorpus {
            family: "generate",
            client: generate_client,
            peer: None,
            one_way: &[],
            sanity: generate_sanity,
            handoffs: None,
            epoch: None,
        },
        FamilyCorpus {
            family: "broadcast",
            client: broadcast_client,
            peer: Some(broadcast_peer),
            one_way: &["bcast_gossip"],
            sanity: broadcast_sanity,
            handoffs: None,
            epoch: None,
        },
        FamilyCorpus {
            family: "counter",
            client: counter_client,
            peer: Some(counter_peer),
            one_way: &[],
            sanity: counter_sanity,
            handoffs: None,
            epoch: None,
        },
        FamilyCorpus {
            family: "kafka",
            client: kafka_client,
            peer: Some(kafka_peer),
            one_way: &[],
            sanity: kafka_sanity,
            handoffs: None,
            epoch: None,
        },
        FamilyCorpus {
            family: "txn",
            client: txn_client,
            peer: Some(txn_peer),
            one_way: &["txn_sync"],
            sanity: txn_sanity,
            handoffs: None,
            epoch: None,
        },
        FamilyCorpus {
            family: "gset",
            client: gset_client,
            peer: Some(broadcast_peer),
            one_way: &["bcast_gossip"],
            sanity: gset_sanity,
            handoffs: None,
            epoch: None,
        },
        FamilyCorpus {
            family: "raft",
            client: raft_client,
            peer: Some(raft_peer),
            one_way: &[],
            sanity: raft_sanity,
            handoffs: Some(raft_handoffs),
            epoch: Some(raft_term),
        },
    ]
}

/// One config the fuzzer runs: a preset (or inline text) plus environment overrides.
#[derive(Debug, Clone)]
pub struct Target {
    /// Name in reports.
    pub name: String,
    /// The preset's file name without `.toml` (also what the binary is given).
    pub preset: String,
    /// `GLOMERS__…` overrides.
    pub env: Vec<(String, String)>,
    /// Config text for in-process runs; `None` reads the embedded preset.
    pub text: Option<String>,
}

impl Target {
    /// The config, overrides applied.
    pub fn config(&self) -> Result<Config, String> {
        let text = match &self.text {
            Some(t) => t.clone(),
            None => glomers_handlers::PRESETS
                .iter()
                .find(|p| p.name == self.preset)
                .map(|p| p.text.to_string())
                .ok_or_else(|| format!("no preset {}", self.preset))?,
        };
        let mut config =
            Config::parse(&format!("{}.toml", self.preset), &text).map_err(|e| e.to_string())?;
        config
            .apply_overrides(self.env.iter().cloned())
            .map_err(|e| e.to_string())?;
        Ok(config)
    }

    /// The families the config enables.
    pub fn families(&self) -> Result<Vec<String>, String> {
        Ok(node_settings(&self.config()?)
            .map_err(|e| e.to_string())?
            .handlers)
    }
}

fn alone(name: &str, family: &str, extra: &[(&str, &str)]) -> Target {
    let mut env = vec![(
        "GLOMERS__NODE__HANDLERS".to_string(),
        format!("[\"{family}\"]"),
    )];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Target {
        name: name.to_string(),
        preset: "default".into(),
        env,
        text: None,
    }
}

/// Every preset, then every family alone in each of its modes.
pub fn targets() -> Vec<Target> {
    let mut targets: Vec<Target> = glomers_handlers::PRESETS
        .iter()
        .map(|p| Target {
            name: p.name.to_string(),
            preset: p.name.to_string(),
            env: Vec::new(),
            text: None,
        })
        .collect();
    for corpus in all() {
        let f = corpus.family;
        match f {
            "counter" => {
                targets.push(alone(
                    "counter/seq-kv",
                    f,
                    &[("GLOMERS__COUNTER__MODE", "\"seq-kv\"")],
                ));
                targets.push(alone(
                    "counter/crdt",
                    f,
                    &[("GLOMERS__COUNTER__MODE", "\"crdt\"")],
                ));
            }
            "kafka" => {
                targets.push(alone(
                    "kafka/replicated",
                    f,
                    &[("GLOMERS__KAFKA__MODE", "\"replicated\"")],
                ));
                targets.push(alone(
                    "kafka/lin-kv",
                    f,
                    &[("GLOMERS__KAFKA__MODE", "\"lin-kv\"")],
                ));
            }
            "raft" => {
                for machine in ["lin-kv", "txn-rw-register", "txn-list-append"] {
                    targets.push(alone(
                        &format!("raft/{machine}"),
                        f,
                        &[("GLOMERS__RAFT__MACHINE", &format!("\"{machine}\""))],
                    ));
                }
            }
            _ => targets.push(alone(&format!("{f}/alone"), f, &[])),
        }
    }
    targets
}
