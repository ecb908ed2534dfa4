//! The properties, checked on what goes in and what comes out:
//! - every request (see [`super::classify`]) is answered exactly once; a request of a
//!   one-way type at most once, and only with an error;
//! - nothing else is answered;
//! - every output line is a well-formed message from this node (once it has an id);
//! - a message that is not a reply goes to another node of the cluster or to a service,
//!   never to a client;
//! - error code 13 (a handler crashed) never appears.
//!
//! A family whose requests may be answered by another node (Raft: the leader that
//! applies a request answers it) names the requests a message between nodes carries
//! ([`Handoffs`]). A request this node hands to a peer needs no answer from it; one that
//! reaches it from a peer (a log entry, a relayed answer) may be answered by it. Such a
//! family may also name its leadership epoch ([`Epoch`], Raft's term): a request still
//! unanswered at the end that arrived before the epoch moved on may have been lost with
//! a deposed leader's uncommitted log, as Raft allows (Maelstrom's client times out), and
//! is counted apart rather than as a violation. One unanswered with no change of epoch
//! since it arrived is a violation.
//!
//! Violations are counted; the first few are kept with the input line that caused them.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::classify::{self, Inbound, Outbound};
use super::peers::SERVICES;

/// Violations kept in full per kind; beyond this only counted.
const KEEP: u64 = 3;

/// The requests that share one (src, msg_id), and the answers they got. Answers are
/// counted rather than paired with requests, so the check does not depend on the order
/// they are read in: `ok` answers may only go to required requests, errors to any, and
/// at the end every required request must have one.
#[derive(Debug, Default)]
struct Slot {
    /// Required requests: line number, preview and the epoch when it arrived.
    required: Vec<(u64, String, u64)>,
    /// One-way requests (an error answer allowed, none needed).
    optional: u32,
    /// Answers other than errors.
    ok: u32,
    /// Error answers.
    errors: u32,
    /// Times a message to a peer handed the request over for another node to answer.
    handed: u32,
    /// Times a message from a peer carried it here, for this node to answer.
    carried: u32,
}

impl Slot {
    /// Required requests that no answer can account for yet.
    fn open(&self) -> usize {
        self.required
            .len()
            .saturating_sub((self.ok + self.errors + self.handed) as usize)
    }
}

/// Counts of what the run saw.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Input lines.
    pub lines: u64,
    /// Input bytes.
    pub bytes: u64,
    /// Input lines that were requests.
    pub requests: u64,
    /// Replies the node wrote.
    pub replies: u64,
    /// Of those, errors, by code.
    pub errors: BTreeMap<i64, u64>,
    /// Requests left unanswered across a change of leadership epoch (see the module
    /// docs).
    pub lost_to_leader_change: u64,
    /// Other messages the node wrote (gossip, requests to peers and services).
    pub sends: u64,
}

/// Names the requests (asker, msg_id) a message between nodes carries for another node
/// to answer, read off the JSON text (a body may nest deeper than a parser allows).
pub type Handoffs = fn(&str) -> Vec<(String, u64)>;

/// Reads the node's leadership epoch from a body it sent to a peer, if it carries one.
pub type Epoch = fn(&serde_json::Value) -> Option<u64>;

/// Expectations and violations of one run.
pub struct Oracle {
    me: String,
    others: HashSet<String>,
    one_way: HashSet<String>,
    handoffs: Vec<Handoffs>,
    /// `"src":"<peer>"` for each peer and service: what marks a line from one of them.
    peer_srcs: Vec<String>,
    epochs: Vec<Epoch>,
    epoch: u64,
    expected: HashMap<(String, String), Slot>,
    required_open: usize,
    initialized: bool,
    /// The latest input line, named in violations when outputs follow inputs in step.
    last_input: Option<String>,
    /// What the run saw.
    pub tally: Tally,
    /// Number of violations.
    pub violation_count: u64,
    /// Number of violations by kind.
    pub kinds: BTreeMap<&'static str, u64>,
    /// The first violations of each kind, described.
    pub violations: Vec<String>,
}

/// The start of a line, for reports.
pub fn preview(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(&line[..line.len().min(160)]);
    if line.len() > 160 {
        format!("{text}… ({} bytes)", line.len())
    } else {
        text.into_owned()
    }
}

impl Oracle {
    /// An oracle for node `me` among `nodes`, whose families treat `one_way` types as
    /// needing no answer, pass requests between nodes as `handoffs` say and show their
    /// leadership epoch as `epochs` read it.
    pub fn new(
        me: &str,
        nodes: &[String],
        one_way: &[&str],
        handoffs: Vec<Handoffs>,
        epochs: Vec<Epoch>,
    ) -> Oracle {
        let mut others: HashSet<String> = nodes.iter().filter(|n| *n != me).cloned().collect();
        others.extend(SERVICES.iter().map(|s| s.to_string()));
        let peer_srcs = others.iter().map(|o| format!("\"src\":\"{o}\"")).collect();
        Oracle {
            me: me.to_string(),
            others,
            one_way: one_way.iter().map(|s| s.to_string()).collect(),
            peer_srcs,
            handoffs,
            epochs,
            epoch: 0,
            expected: HashMap::new(),
            required_open: 0,
            initialized: false,
            last_input: None,
            tally: Tally::default(),
            violation_count: 0,
            kinds: BTreeMap::new(),
            violations: Vec::new(),
        }
    }

    /// Names the input line in each violation found on output that follows it (for
    /// in-process runs, where outputs come right after the line that caused them).
    pub fn attribute_outputs(&mut self) {
        self.last_input = Some(String::new());
    }

    /// Records a violation of kind `kind`.
    pub fn violation(&mut self, kind: &'static str, what: String) {
        self.violation_count += 1;
        let seen = self.kinds.entry(kind).or_default();
        *seen += 1;
        if *seen <= KEEP {
            match &self.last_input {
                Some(line) if !line.is_empty() => self
                    .violations
                    .push(format!("{what}\n      after input: {line}")),
                _ => self.violations.push(what),
            }
        }
    }

    /// Registers input line number `line_no`.
    pub fn on_input(&mut self, line_no: u64, line: &[u8]) {
        self.tally.lines += 1;
        self.tally.bytes += line.len() as u64 + 1;
        if self.last_input.is_some() {
            self.last_input = Some(preview(line));
        }
        if !self.handoffs.is_empty() {
            self.carry_in(line);
        }
        let Inbound::Request {
            src,
            msg_id,
            msg_type,
        } = classify::inbound(line)
        else {
            return;
        };
        self.tally.requests += 1;
        let required = !msg_type.is_some_and(|t| self.one_way.contains(&t));
        let slot = self.expected.entry((src, msg_id)).or_default();
        let before = slot.open();
        if required {
            slot.required.push((line_no, preview(line), self.epoch));
        } else {
            slot.optional += 1;
        }
        self.required_open = self.required_open + slot.open() - before;
    }

    /// Checks one output line.
    pub fn on_output(&mut self, line: &[u8]) -> Option<Outbound> {
        let out = match classify::outbound(line) {
            Ok(out) => out,
            Err(e) => {
                self.violation(
                    "bad output",
                    format!("bad output line ({e}): {}", preview(line)),
                );
                return None;
            }
        };
        if out.msg_type == "init_ok" && out.src == self.me {
            self.initialized = true;
        }
        if self.initialized && out.src != self.me {
            self.violation(
                "wrong src",
                format!(
                    "output from {} instead of {}: {}",
                    out.src,
                    self.me,
                    preview(line)
                ),
            );
        }
        if out.code == Some(13) {
            self.violation(
                "error 13",
                format!("a handler crashed (error 13): {}", preview(line)),
            );
        }
        match &out.in_reply_to {
            None => {
                self.tally.sends += 1;
                if !self.others.contains(&out.dest) {
                    self.violation(
                        "unsolicited",
                        format!(
                            "unsolicited message to {}, which is neither a peer nor a service: {}",
                            out.dest,
                            preview(line)
                        ),
                    );
                } else {
                    self.hand_over(&out);
                }
            }
            Some(id) => {
                self.tally.replies += 1;
                if out.msg_type == "error" {
                    *self.tally.errors.entry(out.code.unwrap_or(-1)).or_default() += 1;
                }
                self.match_reply(&out, id.clone(), line);
                // A reply to a peer can carry requests too (Raft's `fwd`).
                if self.others.contains(&out.dest) {
                    self.hand_over(&out);
                }
            }
        }
        Some(out)
    }

    /// Notes what a message to a peer hands over, and the epoch it shows (for families
    /// that declare either).
    fn hand_over(&mut self, out: &Outbound) {
        if !self.epochs.is_empty() {
            if let Ok(body) = serde_json::from_str::<serde_json::Value>(out.body.get()) {
                if let Some(epoch) = self.epochs.iter().filter_map(|f| f(&body)).max() {
                    self.epoch = self.epoch.max(epoch);
                }
            }
        }
        let text = out.body.get();
        let handed: Vec<(String, u64)> = self.handoffs.iter().flat_map(|f| f(text)).collect();
        for (client, id) in handed {
            if let Some(slot) = self.expected.get_mut(&(client, id.to_string())) {
                let before = slot.open();
                slot.handed += 1;
                self.required_open = self.required_open + slot.open() - before;
            }
        }
    }

    /// Notes the requests an input line from a peer carries for this node to answer.
    fn carry_in(&mut self, line: &[u8]) {
        let Ok(text) = std::str::from_utf8(line) else {
            return;
        };
        if !self.peer_srcs.iter().any(|p| text.contains(p.as_str())) {
            return;
        }
        let carried: Vec<(String, u64)> = self.handoffs.iter().flat_map(|f| f(text)).collect();
        for (asker, id) in carried {
            self.expected
                .entry((asker, id.to_string()))
                .or_default()
                .carried += 1;
        }
    }

    fn match_reply(&mut self, out: &Outbound, id: String, line: &[u8]) {
        let key = (out.dest.clone(), id);
        let error = out.msg_type == "error";
        let Some(slot) = self.expected.get_mut(&key) else {
            self.violation(
                "unasked reply",
                format!(
                    "reply to {} in_reply_to {} that no request asked for: {}",
                    key.0,
                    key.1,
                    preview(line)
                ),
            );
            return;
        };
        let before = slot.open();
        let required = slot.required.len() as u32;
        let problem = if slot.ok + slot.errors >= required + slot.optional + slot.carried {
            Some(("unasked reply", "more answers than requests"))
        } else if !error && slot.ok >= required + slot.carried {
            Some((
                "one-way answered",
                "a one-way message answered with a result",
            ))
        } else {
            None
        };
        if error {
            slot.errors += 1;
        } else {
            slot.ok += 1;
        }
        let optional = slot.optional;
        self.required_open = self.required_open + slot.open() - before;
        if let Some((kind, what)) = problem {
            self.violation(
                kind,
                format!(
                    "reply to {} in_reply_to {}: {what} ({required} required, {optional} one-way): {}",
                    key.0,
                    key.1,
                    preview(line)
                ),
            );
        }
    }

    /// Requests still waiting for their answer.
    pub fn open_requests(&self) -> usize {
        self.required_open
    }

    /// Ends the run: every request still unanswered is a violation, unless the node's
    /// leadership epoch moved on since it arrived (see the module docs).
    pub fn finish(&mut self) {
        let mut open: Vec<(u64, String, u64)> = self
            .expected
            .values()
            .flat_map(|slot| {
                let missing = slot.open();
                slot.required[slot.required.len() - missing..]
                    .iter()
                    .cloned()
            })
            .collect();
        open.sort();
        for (line_no, preview, epoch) in open {
            if !self.epochs.is_empty() && epoch < self.epoch {
                self.tally.lost_to_leader_change += 1;
                continue;
            }
            self.violation(
                "never answered",
                format!("request on line {line_no} never answered: {preview}"),
            );
        }
        self.expected.clear();
        self.required_open = 0;
    }
}
