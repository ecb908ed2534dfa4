//! Routing around partial and one-way partitions through one other node.
//!
//! Maelstrom's "majorities ring" cuts links in one direction only: on three nodes each
//! node can send to one peer and hear from the other, so no two nodes can complete a
//! request and its reply, and nothing could ever commit. On five nodes it leaves a ring
//! in which the leader cannot reach the two nodes across it.
//!
//! So each node learns, per peer and per direction, whether the direct link works:
//! - **Requests.** After a request to a peer went unanswered, the next ones go through
//!   another node (`raft_relay`: the node through which the last one arrived, or else
//!   each in turn), plus straight to the peer at most once per two heartbeats to notice
//!   the link is back. Every answer says whether the request reached the peer directly
//!   or through which node (`via`); a direct arrival ends the relaying of requests.
//! - **Answers.** After a request went unanswered, the next ones carry `relay`: answer
//!   directly and through another node (the one that brought a relayed request, or else
//!   one in turn). While answers then come through a relay, requests carry `relay_only`
//!   instead (no direct answer), except once per two heartbeats. An answer that comes
//!   straight from the peer ends it.
//!
//! A relay passes a message on once and never relays it further; a relayed answer is
//! handed over as a reply to the original request (`in_reply_to`), so the runtime
//! matches it like any other. Copies that arrive twice are harmless: appends and votes
//! are idempotent, and the runtime hands each RPC's outcome over once.
//!
//! `raft_relay {to, from, id, reply_to, last, body}`: `body` is the message for `to`;
//! `id` the request's msg_id at `from` (absent when the relay message itself is that
//! request, sent as an RPC to the relay: its own msg_id is the request's), or `reply_to`
//! the msg_id it answers; `last` marks the final hop.

use std::time::Duration;

use glomers_runtime::{Ctx, RpcOutcome, Sender};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use slog::debug;

use super::machine::Machine;
use super::wire::{AppendRequest, VoteRequest, APPEND, VOTE};
use super::{Raft, RaftRpc};

/// Type of a relayed message.
pub const RELAY: &str = "raft_relay";

/// The field of an answer naming the node its request came through.
const VIA: &str = "via";

/// Reads [`VIA`] from an answer.
#[derive(Deserialize)]
struct ViaMark {
    #[serde(default)]
    via: Option<String>,
}

/// An outgoing `raft_relay`.
#[derive(Serialize, Debug)]
pub struct RelayOut<'a> {
    /// Always [`RELAY`].
    #[serde(rename = "type")]
    pub msg_type: &'static str,
    /// The final destination.
    pub to: &'a str,
    /// The original sender.
    pub from: &'a str,
    /// A request's msg_id at `from`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// The msg_id (at `to`) of the request a reply answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<u64>,
    /// This hop delivers to `to`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub last: bool,
    /// The message itself.
    pub body: &'a Map<String, Value>,
}

/// An incoming `raft_relay`.
#[derive(Deserialize, Debug, Clone, PartialEq)]
pub struct RelayIn {
    /// The final destination.
    pub to: String,
    /// The original sender.
    pub from: String,
    /// A request's msg_id at `from`.
    #[serde(default)]
    pub id: Option<u64>,
    /// The msg_id of the request a reply answers.
    #[serde(default)]
    pub reply_to: Option<u64>,
    /// This hop delivers to `to`.
    #[serde(default)]
    pub last: bool,
    /// The message itself.
    pub body: Map<String, Value>,
}

/// How a request asks to be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Directly (the usual).
    Direct,
    /// Directly and through another node: the sender's answers from here stopped
    /// arriving, for a reason it does not know.
    Both,
    /// Through another node only: the sender's answers from here come through a relay.
    RelayOnly,
}

impl Answer {
    /// The answer a request's `relay` and `relay_only` flags ask for.
    pub fn from_flags(relay: bool, relay_only: bool) -> Answer {
        match (relay, relay_only) {
            (_, true) => Answer::RelayOnly,
            (true, false) => Answer::Both,
            (false, false) => Answer::Direct,
        }
    }
}

/// How a request reached this node, and how to answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Straight from its sender.
    Direct {
        /// How the sender wants the answer.
        answer: Answer,
    },
    /// Through `via`, which can reach this node (and relays answers back through it).
    Relayed {
        /// The node that passed the request on.
        via: String,
        /// How the sender wants the answer.
        answer: Answer,
    },
}

impl<M: Machine> Raft<M> {
    /// Whether requests to `peer` go through another node.
    fn relays_requests(&self, peer: &str) -> bool {
        self.peers.len() >= 2 && self.relay_requests.contains(peer)
    }

    /// The `relay` and `relay_only` flags of the next request to `peer`: none while its
    /// answers come straight back; both directions after an unanswered request; through
    /// a relay only while answers come that way, except once per two heartbeats (both,
    /// to notice the direct link is back).
    pub(super) fn answer_flags(&mut self, peer: &str, now: Duration) -> (bool, bool) {
        if self.peers.len() < 2 {
            return (false, false);
        }
        match self.relay_answers.get(peer) {
            None => (false, false),
            Some(false) => (true, false),
            Some(true) => {
                let probe = self.answer_probes.get(peer).copied();
                if probe.is_none_or(|t| now >= t + self.settings.heartbeat * 2) {
                    self.answer_probes.insert(peer.to_string(), now);
                    (true, false)
                } else {
                    (true, true)
                }
            }
        }
    }

    /// Learns from how a request to `peer` ended which directions need a relay: no
    /// answer, both; otherwise the answer says how the request arrived, and its sender
    /// shows how the answer came.
    pub(super) fn note_answer(&mut self, peer: &str, end: &RpcOutcome) {
        let RpcOutcome::Reply(msg) = end else {
            self.relay_requests.insert(peer.to_string());
            self.relay_answers.insert(peer.to_string(), false);
            self.relay_via.remove(peer);
            return;
        };
        match msg.parse::<ViaMark>().ok().and_then(|m| m.via) {
            Some(via) => {
                self.relay_requests.insert(peer.to_string());
                self.relay_via.insert(peer.to_string(), via);
            }
            None => {
                self.relay_requests.remove(peer);
                self.relay_via.remove(peer);
            }
        }
        if msg.src == peer {
            self.relay_answers.remove(peer);
        } else {
            self.relay_answers.insert(peer.to_string(), true);
        }
    }

    /// Sends request `body` to `peer` as an RPC with `purpose`: directly, or, while
    /// requests to `peer` need a relay, through another node (plus directly at most once
    /// per two heartbeats).
    pub(super) fn call<B: Serialize>(
        &mut self,
        ctx: &mut Ctx<Self>,
        peer: &str,
        body: &B,
        timeout: Duration,
        purpose: RaftRpc,
    ) {
        let via = if self.relays_requests(peer) {
            self.relay_for(peer)
        } else {
            None
        };
        // Serialized only when relayed.
        let relayed = via.and_then(|via| match serde_json::to_value(body) {
            Ok(Value::Object(map)) => Some((via, map)),
            _ => None,
        });
        let Some((via, map)) = relayed else {
            ctx.rpc(peer, body, timeout, purpose);
            return;
        };
        let now = ctx.now();
        let probe_due = self
            .direct_probes
            .get(peer)
            .is_none_or(|t| now >= *t + self.settings.heartbeat * 2);
        let mut out = RelayOut {
            msg_type: RELAY,
            to: peer,
            from: &self.me,
            id: None,
            reply_to: None,
            last: false,
            body: &map,
        };
        if probe_due {
            let id = ctx.rpc(peer, body, timeout, purpose);
            out.id = Some(id);
            ctx.send(&via, &out);
            self.direct_probes.insert(peer.to_string(), now);
        } else {
            // The relay learns the request's msg_id from this message's own.
            ctx.rpc(&via, &out, timeout, purpose);
        }
    }

    /// A node to pass a message for `target` through: the one that last brought an
    /// answer from it, or else one that answers us if any, taken in turn (per target, so
    /// that each target tries every relay).
    fn relay_for(&mut self, target: &str) -> Option<String> {
        if let Some(via) = self.relay_via.get(target) {
            return Some(via.clone());
        }
        let others: Vec<&String> = self.peers.iter().filter(|p| *p != target).collect();
        let answering: Vec<&String> = others
            .iter()
            .copied()
            .filter(|p| !self.relay_requests.contains(*p))
            .collect();
        let pool = if answering.is_empty() {
            others
        } else {
            answering
        };
        let turn = self.relay_turns.entry(target.to_string()).or_default();
        *turn = turn.wrapping_add(1);
        pool.get(*turn % pool.len().max(1)).map(|p| p.to_string())
    }

    /// Answers a peer's request along `route` (see the module docs); an answer to a
    /// relayed request names the relay in `via`.
    pub(super) fn respond<B: Serialize>(
        &mut self,
        ctx: &mut Ctx<Self>,
        to: &Sender,
        route: &Route,
        body: &B,
    ) {
        let (answer, mark) = match route {
            Route::Direct { answer } => (*answer, None),
            Route::Relayed { via, answer } => (*answer, Some(via.clone())),
        };
        let via = match answer {
            Answer::Direct => None,
            Answer::Both | Answer::RelayOnly => match &mark {
                Some(via) => Some(via.clone()),
                None => self.relay_for(to.id()),
            },
        };
        if mark.is_none() && via.is_none() {
            ctx.reply(to, body);
            return;
        }
        let (Some(id), Ok(Value::Object(mut body))) = (to.msg_id(), serde_json::to_value(body))
        else {
            ctx.reply(to, body);
            return;
        };
        if let Some(mark) = mark {
            body.insert(VIA.to_string(), Value::String(mark));
        }
        if answer != Answer::RelayOnly || via.is_none() {
            ctx.reply(to, &body);
        }
        if let Some(via) = via {
            let out = RelayOut {
                msg_type: RELAY,
                to: to.id(),
                from: &self.me,
                id: None,
                reply_to: Some(id),
                last: false,
                body: &body,
            };
            ctx.send(&via, &out);
        }
    }

    /// A `raft_relay` from `from`: pass it on (once), or handle the request it carries.
    pub(super) fn on_relay(&mut self, ctx: &mut Ctx<Self>, from: &Sender, r: RelayIn) {
        if r.to != self.me {
            if r.last || !self.is_peer(&r.to) {
                debug!(ctx.log(), "raft: dropping a relay"; "to" => &r.to, "from" => &r.from);
                return;
            }
            match r.reply_to {
                // Handed over as the reply it is, if it is one: a body with a string
                // `type` from a member of the cluster (the runtime adds `in_reply_to`).
                Some(id) => {
                    let mut body = r.body;
                    if !self.is_peer(&r.from) || !body.get("type").is_some_and(Value::is_string) {
                        debug!(ctx.log(), "raft: not relaying a malformed answer";
                            "to" => &r.to, "from" => &r.from);
                        return;
                    }
                    body.remove("in_reply_to");
                    body.remove("msg_id");
                    ctx.reply(&Sender::new(&r.to, Some(id)), &body);
                }
                None => {
                    let out = RelayOut {
                        msg_type: RELAY,
                        to: &r.to,
                        from: &r.from,
                        id: r.id.or(from.msg_id()),
                        reply_to: None,
                        last: true,
                        body: &r.body,
                    };
                    ctx.send(&r.to, &out);
                }
            }
            return;
        }
        if !self.is_peer(&r.from) || r.reply_to.is_some() {
            return;
        }
        // A request relayed as an RPC to the relay carries its msg_id in that message.
        let sender = Sender::new(&r.from, r.id.or(from.msg_id()));
        let via = from.id().to_string();
        let kind = r
            .body
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (kind, body) = (kind.to_string(), Value::Object(r.body));
        match kind.as_str() {
            VOTE => match serde_json::from_value::<VoteRequest>(body) {
                Ok(req) => {
                    let answer = Answer::from_flags(req.relay, req.relay_only);
                    let route = Route::Relayed { via, answer };
                    self.on_vote(ctx, &sender, route, req);
                }
                Err(e) => debug!(ctx.log(), "raft: bad relayed vote"; "error" => %e),
            },
            APPEND => match serde_json::from_value::<AppendRequest<M::Command>>(body) {
                Ok(req) => {
                    let answer = Answer::from_flags(req.relay, req.relay_only);
                    let route = Route::Relayed { via, answer };
                    self.on_append(ctx, &sender, route, req);
                }
                Err(e) => debug!(ctx.log(), "raft: bad relayed append"; "error" => %e),
            },
            other => debug!(ctx.log(), "raft: unknown relayed message"; "type" => other),
        }
    }
}
