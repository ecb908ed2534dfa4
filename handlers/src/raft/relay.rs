//! Routing around partial and one-way partitions through one other node.
//!
//! Maelstrom's "majorities ring" cuts links in one direction only: on three nodes each
//! node can send to one peer and hear from the other, so no two nodes can complete a
//! request and its reply, and nothing could ever commit. On five nodes it leaves a ring
//! in which the leader cannot reach the two nodes across it.
//!
//! So a node that left its last request to a peer unanswered sends the next ones
//! through another node (`raft_relay`; the one that last brought an answer back, or
//! else each in turn), plus straight to the peer at most once per two heartbeats to
//! notice the link is back, and marks the copies `relay`: the peer then
//! answers directly and through another node too (the one that brought a relayed
//! request, which can reach it, or else one in turn). A relay passes a message on once
//! and never relays it further; a relayed reply is handed over as a reply to the
//! original request (`in_reply_to`), so the runtime matches it like any other. Replies
//! that took a relay, or answer a request that did, say `relayed`; only a direct answer
//! to a direct request ends the relaying. Copies that arrive twice are harmless: appends
//! and votes are idempotent, and the runtime hands each RPC's outcome over once.
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

/// The field of a reply that went (or whose request went) through another node.
const RELAYED: &str = "relayed";

/// Reads [`RELAYED`] from a reply.
#[derive(Deserialize)]
struct RelayMark {
    #[serde(default)]
    relayed: bool,
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

/// How a request reached this node, which decides how to answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Straight from its sender; `relay`: answer through another node too.
    Direct {
        /// The sender asked for a relayed answer.
        relay: bool,
    },
    /// Through `via`, which can reach this node: answer directly and through it.
    Relayed {
        /// The node that passed the request on.
        via: String,
    },
}

impl<M: Machine> Raft<M> {
    /// Whether requests to `peer` also go through another node.
    pub(super) fn relaying(&self, peer: &str) -> bool {
        self.peers.len() >= 2 && self.unanswered.contains(peer)
    }

    /// Records how a request to `peer` ended. Only an answer that came straight back,
    /// to a request that went straight there, ends the relaying: one that needed a
    /// relay either way says the direct link is still cut. The node that brought an
    /// answer back becomes the relay for `peer`; a timeout drops it.
    pub(super) fn note_answer(&mut self, peer: &str, end: &RpcOutcome) {
        let RpcOutcome::Reply(msg) = end else {
            self.unanswered.insert(peer.to_string());
            self.relay_via.remove(peer);
            return;
        };
        if msg.src != peer {
            self.relay_via.insert(peer.to_string(), msg.src.to_string());
        }
        if msg.src == peer && !msg.parse::<RelayMark>().is_ok_and(|m| m.relayed) {
            self.unanswered.remove(peer);
            self.relay_via.remove(peer);
        } else {
            self.unanswered.insert(peer.to_string());
        }
    }

    /// Sends request `body` to `peer` as an RPC with `purpose`. While `peer` is being
    /// relayed to, the request goes through another node, plus straight to `peer` at
    /// most once per two heartbeats (to notice when the link is back).
    pub(super) fn call<B: Serialize>(
        &mut self,
        ctx: &mut Ctx<Self>,
        peer: &str,
        body: &B,
        timeout: Duration,
        purpose: RaftRpc,
    ) {
        let via = if self.relaying(peer) {
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
            .filter(|p| !self.unanswered.contains(*p))
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

    /// Answers a peer's request along `route`: directly, and through another node when
    /// the sender asked or the request itself came through one (the answer then says
    /// so, in `relayed`).
    pub(super) fn respond<B: Serialize>(
        &mut self,
        ctx: &mut Ctx<Self>,
        to: &Sender,
        route: &Route,
        body: &B,
    ) {
        let via = match route {
            Route::Direct { relay: false } => None,
            Route::Direct { relay: true } => self.relay_for(to.id()),
            Route::Relayed { via } => Some(via.clone()),
        };
        let (Some(via), Some(id), Ok(Value::Object(mut body))) =
            (via, to.msg_id(), serde_json::to_value(body))
        else {
            ctx.reply(to, body);
            return;
        };
        if matches!(route, Route::Relayed { .. }) {
            body.insert(RELAYED.to_string(), Value::Bool(true));
        }
        ctx.reply(to, &body);
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

    /// A `raft_relay` from `from`: pass it on (once), or handle the request it carries.
    pub(super) fn on_relay(&mut self, ctx: &mut Ctx<Self>, from: &Sender, r: RelayIn) {
        if r.to != self.me {
            if r.last || !self.is_peer(&r.to) {
                debug!(ctx.log(), "raft: dropping a relay"; "to" => &r.to, "from" => &r.from);
                return;
            }
            match r.reply_to {
                // Handed over as the reply it is, marked as relayed.
                Some(id) => {
                    let mut body = r.body;
                    body.insert(RELAYED.to_string(), Value::Bool(true));
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
        let route = Route::Relayed {
            via: from.id().to_string(),
        };
        let kind = r
            .body
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (kind, body) = (kind.to_string(), Value::Object(r.body));
        match kind.as_str() {
            VOTE => match serde_json::from_value::<VoteRequest>(body) {
                Ok(req) => self.on_vote(ctx, &sender, route, req),
                Err(e) => debug!(ctx.log(), "raft: bad relayed vote"; "error" => %e),
            },
            APPEND => match serde_json::from_value::<AppendRequest<M::Command>>(body) {
                Ok(req) => self.on_append(ctx, &sender, route, req),
                Err(e) => debug!(ctx.log(), "raft: bad relayed append"; "error" => %e),
            },
            other => debug!(ctx.log(), "raft: unknown relayed message"; "type" => other),
        }
    }
}
