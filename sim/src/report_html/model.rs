//! What the pictures are drawn from, derived once from the store files: operations as
//! invoke–completion spans, messages as send–delivery spans, partition intervals, lanes,
//! and the time range of the run.

use super::inputs::{natural_cmp, HistoryOp, JournalKind, NemesisEvent, RunFiles};
use glomers_simkit::history::OpType;
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Maelstrom's services: they get lanes of their own.
pub const SERVICES: [&str; 4] = ["lin-kv", "seq-kv", "lww-kv", "lin-tso"];

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Definitely happened.
    Ok,
    /// Definitely did not happen.
    Fail,
    /// Indeterminate (timeout, crash code, malformed reply).
    Info,
    /// Never completed (the run stopped first).
    Open,
}

impl Outcome {
    /// The word used on the page and in CSS classes.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
            Outcome::Open => "open",
        }
    }

    fn of(kind: OpType) -> Outcome {
        match kind {
            OpType::Ok => Outcome::Ok,
            OpType::Fail => Outcome::Fail,
            OpType::Info => Outcome::Info,
            OpType::Invoke => Outcome::Open,
        }
    }
}

/// One client operation: its invocation and, if it finished, its completion.
#[derive(Debug, Clone, Copy)]
pub struct OpSpan<'a> {
    /// The invoke entry.
    pub invoke: &'a HistoryOp,
    /// The completion entry.
    pub completion: Option<&'a HistoryOp>,
    /// How it ended.
    pub outcome: Outcome,
}

impl OpSpan<'_> {
    /// Invocation time in ns.
    pub fn start(&self) -> u64 {
        self.invoke.time
    }

    /// Completion time in ns, if it completed.
    pub fn end(&self) -> Option<u64> {
        self.completion.map(|c| c.time)
    }

    /// Latency in ms, if it completed.
    pub fn latency_ms(&self) -> Option<f64> {
        self.end()
            .map(|e| e.saturating_sub(self.start()) as f64 / 1e6)
    }
}

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Delivered at this time (ns).
    Delivered(u64),
    /// Discarded by a partition at this time (ns).
    Dropped(u64),
    /// Still in the network when the run stopped.
    InFlight,
}

/// Which kind of link a message used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LinkKind {
    /// To or from a client (zero latency, never partitioned).
    Client,
    /// Between nodes.
    Server,
    /// To or from a service.
    Service,
}

impl LinkKind {
    /// The CSS class suffix.
    pub fn class(self) -> &'static str {
        match self {
            LinkKind::Client => "c",
            LinkKind::Server => "s",
            LinkKind::Service => "v",
        }
    }
}

/// One network message, from send to its fate.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The network's id.
    pub id: u64,
    /// Sender.
    pub src: &'a str,
    /// Receiver.
    pub dest: &'a str,
    /// Send time in ns.
    pub sent: u64,
    /// Delivery, drop, or neither.
    pub fate: Fate,
    /// The body as written in the journal.
    pub body: Option<&'a RawValue>,
}

impl Message<'_> {
    /// The link this message used.
    pub fn link(&self) -> LinkKind {
        let (a, b) = (lane_kind(self.src), lane_kind(self.dest));
        if a == LaneKind::Client || b == LaneKind::Client {
            LinkKind::Client
        } else if a == LaneKind::Service || b == LaneKind::Service {
            LinkKind::Service
        } else {
            LinkKind::Server
        }
    }

    /// When the message stopped being in flight (delivery or drop), if it did.
    pub fn ended(&self) -> Option<u64> {
        match self.fate {
            Fate::Delivered(t) | Fate::Dropped(t) => Some(t),
            Fate::InFlight => None,
        }
    }

    /// The body's `type`, when it has one.
    pub fn body_type(&self) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Typed {
            #[serde(rename = "type")]
            kind: Option<String>,
        }
        let b = self.body?;
        serde_json::from_str::<Typed>(b.get()).ok()?.kind
    }
}

/// What a lane stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LaneKind {
    /// A client (`c…`), as Maelstrom tells them apart.
    Client,
    /// A test node.
    Node,
    /// A Maelstrom service.
    Service,
}

/// The kind of lane an id gets.
pub fn lane_kind(id: &str) -> LaneKind {
    if SERVICES.contains(&id) {
        LaneKind::Service
    } else if id.starts_with('c') {
        LaneKind::Client
    } else {
        LaneKind::Node
    }
}

/// A network partition, from its start to its heal (or the end of the run).
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    /// Start (ns).
    pub start: u64,
    /// Heal (ns).
    pub end: u64,
    /// Shape and sides, in words.
    pub label: String,
}

/// The derived view of a run.
pub struct Model<'a> {
    /// Operations in invocation order.
    pub ops: Vec<OpSpan<'a>>,
    /// Messages in send order.
    pub messages: Vec<Message<'a>>,
    /// Partitions in time order.
    pub partitions: Vec<Partition>,
    /// The last time anything happened (ns), at least 1.
    pub end: u64,
    /// Node ids in order (from the plan, else from the traffic).
    pub nodes: Vec<String>,
    /// Where each message is in `messages`, by id.
    pub by_id: HashMap<u64, usize>,
    /// The request and reply messages of each (client, msg_id) exchange.
    pub by_exchange: HashMap<(&'a str, u64), Vec<usize>>,
    /// The operation each history index belongs to (position in `ops`).
    pub op_of_index: HashMap<usize, usize>,
    /// The operation each (client, msg_id) request belongs to (position in `ops`).
    pub op_of_request: HashMap<(&'a str, u64), usize>,
    /// The exchange of each client message (position in `messages` → (client, msg_id)).
    exchange_of_message: HashMap<usize, (&'a str, u64)>,
}

impl<'a> Model<'a> {
    /// Derives everything from the parsed files.
    pub fn new(run: &'a RunFiles) -> Model<'a> {
        let ops = pair_ops(&run.history);
        let mut op_of_index = HashMap::new();
        let mut op_of_request = HashMap::new();
        for (k, s) in ops.iter().enumerate() {
            if let (Some(c), Some(m)) = (s.invoke.client.as_deref(), s.invoke.msg_id) {
                op_of_request.insert((c, m), k);
            }
            op_of_index.insert(s.invoke.index, k);
            if let Some(c) = s.completion {
                op_of_index.insert(c.index, k);
            }
        }
        let messages = messages(run);
        let by_id: HashMap<u64, usize> = messages
            .iter()
            .enumerate()
            .map(|(k, m)| (m.id, k))
            .collect();
        let by_exchange = exchanges(&messages);
        let exchange_of_message = by_exchange
            .iter()
            .flat_map(|(key, ks)| ks.iter().map(move |&k| (k, *key)))
            .collect();
        let mut end = 1u64;
        for op in &run.history {
            end = end.max(op.time);
        }
        for m in &messages {
            end = end.max(m.ended().unwrap_or(m.sent));
        }
        for n in &run.nemesis {
            end = end.max(n.time);
        }
        let partitions = partitions(&run.nemesis, end);
        let mut nodes: Vec<String> = run
            .results
            .as_ref()
            .map(|r| r.test.nodes.clone())
            .unwrap_or_default();
        if nodes.is_empty() {
            let seen: BTreeSet<&str> = messages
                .iter()
                .flat_map(|m| [m.src, m.dest])
                .filter(|id| lane_kind(id) == LaneKind::Node)
                .collect();
            nodes = seen.into_iter().map(String::from).collect();
            nodes.sort_by(|a, b| natural_cmp(a, b));
        }
        Model {
            ops,
            messages,
            partitions,
            end,
            nodes,
            by_id,
            by_exchange,
            op_of_index,
            op_of_request,
            exchange_of_message,
        }
    }

    /// The messages of the exchange an operation made (request and replies).
    pub fn messages_of(&self, op: &OpSpan<'_>) -> Vec<&Message<'a>> {
        let (Some(client), Some(msg_id)) = (op.invoke.client.as_deref(), op.invoke.msg_id) else {
            return Vec::new();
        };
        self.by_exchange
            .get(&(client, msg_id))
            .map(|ks| ks.iter().map(|&k| &self.messages[k]).collect())
            .unwrap_or_default()
    }

    /// The (client, msg_id) exchange message `k` belongs to, if it is a client request
    /// or a reply to one.
    pub fn exchange_of(&self, k: usize) -> Option<(&'a str, u64)> {
        self.exchange_of_message.get(&k).copied()
    }

    /// Operation names in order of first appearance.
    pub fn op_names(&self) -> Vec<&'a str> {
        let mut names: Vec<&str> = Vec::new();
        for s in &self.ops {
            if !names.contains(&s.invoke.f.as_str()) {
                names.push(&s.invoke.f);
            }
        }
        names
    }
}

/// Pairs each invocation with the next completion of the same process.
fn pair_ops(history: &[HistoryOp]) -> Vec<OpSpan<'_>> {
    let mut open: HashMap<u64, usize> = HashMap::new();
    let mut spans: Vec<OpSpan<'_>> = Vec::new();
    for op in history {
        if op.kind == OpType::Invoke {
            open.insert(op.process, spans.len());
            spans.push(OpSpan {
                invoke: op,
                completion: None,
                outcome: Outcome::Open,
            });
        } else if let Some(k) = open.remove(&op.process) {
            spans[k].completion = Some(op);
            spans[k].outcome = Outcome::of(op.kind);
        }
    }
    spans
}

/// Joins each message's send, recv and drop lines.
fn messages(run: &RunFiles) -> Vec<Message<'_>> {
    let mut out: Vec<Message<'_>> = Vec::new();
    let mut at: HashMap<u64, usize> = HashMap::new();
    for e in &run.journal {
        let k = *at.entry(e.id).or_insert_with(|| {
            out.push(Message {
                id: e.id,
                src: &e.src,
                dest: &e.dest,
                sent: e.time,
                fate: Fate::InFlight,
                body: None,
            });
            out.len() - 1
        });
        let m = &mut out[k];
        match e.kind {
            JournalKind::Send => {
                m.sent = e.time;
                m.body = e.body.as_deref();
            }
            JournalKind::Recv => m.fate = Fate::Delivered(e.time),
            JournalKind::Drop => m.fate = Fate::Dropped(e.time),
        }
    }
    out.sort_by_key(|m| (m.sent, m.id));
    out
}

/// Indexes request and reply messages by (client, msg_id): a client's request carries
/// `msg_id`, the node's reply `in_reply_to`.
fn exchanges<'a>(messages: &[Message<'a>]) -> HashMap<(&'a str, u64), Vec<usize>> {
    #[derive(serde::Deserialize)]
    struct Ids {
        msg_id: Option<u64>,
        in_reply_to: Option<u64>,
    }
    let mut out: HashMap<(&str, u64), Vec<usize>> = HashMap::new();
    for (k, m) in messages.iter().enumerate() {
        if m.link() != LinkKind::Client {
            continue;
        }
        let Some(ids) = m
            .body
            .and_then(|b| serde_json::from_str::<Ids>(b.get()).ok())
        else {
            continue;
        };
        if lane_kind(m.src) == LaneKind::Client {
            if let Some(id) = ids.msg_id {
                out.entry((m.src, id)).or_default().push(k);
            }
        }
        if lane_kind(m.dest) == LaneKind::Client {
            if let Some(id) = ids.in_reply_to {
                out.entry((m.dest, id)).or_default().push(k);
            }
        }
    }
    out
}

/// Partition intervals from the nemesis log; one still open at the end runs to `end`.
fn partitions(events: &[NemesisEvent], end: u64) -> Vec<Partition> {
    let mut out = Vec::new();
    let mut open: Option<(u64, String)> = None;
    for e in events {
        if e.f == "start-partition" {
            if let Some((start, label)) = open.take() {
                out.push(Partition {
                    start,
                    end: e.time,
                    label,
                });
            }
            open = Some((e.time, describe_partition(&e.value)));
        } else if let Some((start, label)) = open.take() {
            out.push(Partition {
                start,
                end: e.time,
                label,
            });
        }
    }
    if let Some((start, label)) = open {
        out.push(Partition { start, end, label });
    }
    out
}

/// `one: n5 | n0 n1 …`: the shape and the groups of nodes that can still talk. Nodes
/// that ignore the same peers form one side; when every node has its own view (a ring),
/// the page says so instead of listing them.
pub fn describe_partition(value: &Value) -> String {
    let shape = value
        .get("shape")
        .and_then(Value::as_str)
        .unwrap_or("partition");
    let Some(grudge) = value.get("grudge").and_then(Value::as_object) else {
        return shape.to_string();
    };
    let mut sides: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for (node, ignored) in grudge {
        let mut ignored: Vec<String> = ignored
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        ignored.sort();
        sides.entry(ignored).or_default().push(node.clone());
    }
    if sides.len() > 3 && sides.len() == grudge.len() {
        return format!("{shape}: every node sees a different majority");
    }
    let mut groups: Vec<Vec<String>> = sides.into_values().collect();
    for g in &mut groups {
        g.sort_by(|a, b| natural_cmp(a, b));
    }
    groups.sort_by(|a, b| {
        a.len()
            .cmp(&b.len())
            .then_with(|| natural_cmp(&a[0], &b[0]))
    });
    let text: Vec<String> = groups
        .iter()
        .map(|g| {
            if g.len() > 6 {
                format!("{} … {} ({} nodes)", g[0], g[g.len() - 1], g.len())
            } else {
                g.join(" ")
            }
        })
        .collect();
    format!("{shape}: {}", text.join(" | "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report_html::inputs::JournalEvent;
    use serde_json::json;

    fn op(index: usize, time_ns: u64, process: u64, kind: OpType) -> HistoryOp {
        let mut o =
            crate::report_html::inputs::test_op(index, 0, process, kind, "read", Value::Null);
        o.time = time_ns;
        o.msg_id = Some(index as u64);
        o
    }

    fn line(text: &str) -> JournalEvent {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn operations_pair_per_process_and_unfinished_ones_stay_open() {
        let history = vec![
            op(0, 10, 0, OpType::Invoke),
            op(1, 20, 1, OpType::Invoke),
            op(2, 30, 1, OpType::Fail),
            op(3, 45, 0, OpType::Ok),
            op(4, 50, 0, OpType::Invoke),
        ];
        let spans = pair_ops(&history);
        let got: Vec<(usize, Outcome, Option<u64>)> = spans
            .iter()
            .map(|s| (s.invoke.index, s.outcome, s.end()))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, Outcome::Ok, Some(45)),
                (1, Outcome::Fail, Some(30)),
                (4, Outcome::Open, None)
            ]
        );
        assert_eq!(spans[0].latency_ms(), Some(35.0 / 1e6));
    }

    #[test]
    fn journal_lines_join_into_messages_with_their_fate() {
        let run = RunFiles {
            journal: vec![
                line(
                    r#"{"kind":"send","time":5,"id":0,"src":"c4","dest":"n0","body":{"type":"read","msg_id":1}}"#,
                ),
                line(
                    r#"{"kind":"send","time":6,"id":1,"src":"n0","dest":"n1","body":{"type":"gossip"}}"#,
                ),
                line(r#"{"kind":"recv","time":7,"id":0,"src":"c4","dest":"n0"}"#),
                line(
                    r#"{"kind":"send","time":8,"id":2,"src":"n0","dest":"c4","body":{"type":"read_ok","in_reply_to":1}}"#,
                ),
                line(r#"{"kind":"drop","time":9,"id":1,"src":"n0","dest":"n1"}"#),
                line(
                    r#"{"kind":"send","time":9,"id":3,"src":"n1","dest":"seq-kv","body":{"type":"read","msg_id":1}}"#,
                ),
            ],
            ..RunFiles::default()
        };
        let m = Model::new(&run);
        let fates: Vec<(u64, Fate, LinkKind)> = m
            .messages
            .iter()
            .map(|x| (x.id, x.fate, x.link()))
            .collect();
        assert_eq!(
            fates,
            vec![
                (0, Fate::Delivered(7), LinkKind::Client),
                (1, Fate::Dropped(9), LinkKind::Server),
                (2, Fate::InFlight, LinkKind::Client),
                (3, Fate::InFlight, LinkKind::Service),
            ]
        );
        assert_eq!(m.messages[1].body_type().as_deref(), Some("gossip"));
        assert_eq!(m.by_exchange[&("c4", 1)], vec![0, 2]);
        assert_eq!(m.nodes, vec!["n0", "n1"]);
        assert_eq!(m.end, 9);
    }

    #[test]
    fn partitions_run_from_start_to_heal_or_the_end() {
        let ev = |time, f: &str, value| NemesisEvent {
            time,
            f: f.into(),
            value,
        };
        let one =
            json!({"shape": "one", "grudge": {"n0": ["n2"], "n1": ["n2"], "n2": ["n0", "n1"]}});
        let events = vec![
            ev(10, "start-partition", one.clone()),
            ev(20, "stop-partition", json!("network-healed")),
            ev(30, "start-partition", json!({"shape": "majority"})),
        ];
        let p = partitions(&events, 100);
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].start, p[0].end), (10, 20));
        assert_eq!(p[0].label, "one: n2 | n0 n1");
        assert_eq!(
            (p[1].start, p[1].end, p[1].label.as_str()),
            (30, 100, "majority")
        );
    }
}
