//! Log replication: the leader's rounds of appends, the follower's side of an append,
//! the commit index, and applying committed entries.

use std::time::Duration;

use glomers_runtime::{Ctx, RpcOutcome, Sender};
use slog::{debug, error};

use super::machine::Machine;
use super::relay::Route;
use super::wire::{AppendOut, AppendReply, AppendRequest, APPEND};
use super::{parsed_reply, Progress, Raft, RaftRpc, RaftTimer, Role};

/// A follower's answer to one append, as the leader reads it.
struct Ack {
    success: bool,
    /// Last index known to match (on success).
    matched: u64,
    /// Where to send from next (on failure).
    hint: u64,
    /// The round the append belonged to.
    round: u64,
    /// When the append was sent.
    sent: Duration,
}

impl<M: Machine> Raft<M> {
    /// Sends a round now if one is due, or arms the round timer for when it will be:
    /// `batch_ms` after the last round while requests wait, `heartbeat_ms` otherwise.
    pub(super) fn schedule_round(&mut self, ctx: &mut Ctx<Self>) {
        let Role::Leader(l) = &self.role else {
            return;
        };
        let waiting = l.unsent_reads || self.log.last_index() > l.sent_upto;
        let wait = if waiting {
            self.settings.batch.min(self.settings.heartbeat)
        } else {
            self.settings.heartbeat
        };
        let at = l.last_round + wait;
        if at <= ctx.now() {
            self.send_round(ctx);
        } else {
            self.round.arm(ctx, at, RaftTimer::Round);
        }
    }

    pub(super) fn on_round_timer(&mut self, ctx: &mut Ctx<Self>) {
        self.schedule_round(ctx);
    }

    /// One round: steps down if no majority answered for an election timeout, else sends
    /// every follower without an append in flight what it lacks (or a heartbeat).
    pub(super) fn send_round(&mut self, ctx: &mut Ctx<Self>) {
        let now = ctx.now();
        let timeout = self.settings.election_timeout;
        let last_index = self.log.last_index();
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let alive = 1 + l
            .followers
            .values()
            .filter(|p| now < p.last_ack + timeout)
            .count();
        if alive < self.quorum {
            debug!(ctx.log(), "raft: stepping down, no majority answered";
                "term" => self.term, "alive" => alive);
            let term = self.term;
            self.become_follower(ctx, term, None);
            return;
        }
        l.round += 1;
        l.last_round = now;
        l.sent_upto = last_index;
        l.unsent_reads = false;
        let chosen = self.round_members(now);
        for peer in chosen {
            self.send_append(ctx, &peer);
        }
        self.schedule_round(ctx);
        self.serve_reads(ctx);
    }

    /// Who gets this round's append, among the followers with none in flight: everyone
    /// not sent to for a heartbeat, and enough of the others (those waiting longest
    /// first, answering ones before silent ones) that, with this node, a majority is
    /// asked. A round costs messages to a majority, not to every node, and still commits
    /// (and confirms reads) when they answer.
    fn round_members(&self, now: Duration) -> Vec<String> {
        let Role::Leader(l) = &self.role else {
            return Vec::new();
        };
        let timeout = self.settings.election_timeout;
        let heartbeat = self.settings.heartbeat;
        let mut idle: Vec<(&String, &Progress)> =
            l.followers.iter().filter(|(_, p)| !p.in_flight).collect();
        // Answering followers first, then the longest unsent.
        idle.sort_by_key(|(peer, p)| (now >= p.last_ack + timeout, p.last_sent, *peer));
        let mut chosen = Vec::new();
        let mut asked = 0;
        for (peer, p) in idle {
            let due = p.last_sent + heartbeat <= now;
            if due || asked + 1 < self.quorum {
                chosen.push(peer.clone());
                asked += 1;
            }
        }
        chosen
    }

    /// Sends `peer` the entries from its next index on (at most `max_append_entries`).
    fn send_append(&mut self, ctx: &mut Ctx<Self>, peer: &str) {
        let (relay, relay_only) = self.answer_flags(peer, ctx.now());
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let Some(p) = l.followers.get_mut(peer) else {
            return;
        };
        let prev_index = p.next - 1;
        let prev_term = self.log.term_at(prev_index).unwrap_or(0);
        let entries = self.log.slice(p.next, self.settings.max_append_entries);
        let last = prev_index + entries.len() as u64;
        let body = AppendOut {
            msg_type: APPEND,
            term: self.term,
            prev_index,
            prev_term,
            entries,
            commit: self.commit,
            relay,
            relay_only,
        };
        let purpose = RaftRpc::Append {
            peer: peer.to_string(),
            term: self.term,
            last,
            round: l.round,
            sent: ctx.now(),
        };
        // A lost append or reply only delays this follower: after this long another goes.
        p.in_flight = true;
        p.last_sent = ctx.now();
        let timeout = self.settings.heartbeat * 2;
        if self.relay_requests.contains(peer) {
            // The body borrows the log; the relayed call takes an owned copy.
            if let Ok(copy) = serde_json::to_value(&body) {
                self.call(ctx, peer, &copy, timeout, purpose);
                return;
            }
        }
        ctx.rpc(peer, &body, timeout, purpose);
    }

    /// A follower's side: accept the sender as leader if its term is current, check that
    /// the logs agree at `prev_index`, store the entries, learn the commit index, and
    /// answer with the client requests held here.
    pub(super) fn on_append(
        &mut self,
        ctx: &mut Ctx<Self>,
        from: &Sender,
        route: Route,
        req: AppendRequest<M::Command>,
    ) {
        let refusal = AppendReply::<M::Command> {
            term: self.term,
            success: false,
            index: 0,
            fwd: Vec::new(),
        };
        if req.term < self.term {
            self.respond(ctx, from, &route, &refusal);
            return;
        }
        if self.is_leader() && req.term == self.term {
            error!(ctx.log(), "raft: two leaders in one term"; "term" => self.term, "other" => from.id());
            self.respond(ctx, from, &route, &refusal);
            return;
        }
        let following = matches!(&self.role, Role::Follower { leader: Some(l) } if l == from.id());
        if req.term > self.term || !following {
            self.become_follower(ctx, req.term, Some(from.id().to_string()));
        }
        self.leader_contact = ctx.now();
        self.futile_campaigns = 0;
        self.reset_election(ctx);
        // Held requests ride on the reply; an append that cannot be answered (no msg_id)
        // leaves them here for the next one.
        let fwd = if from.msg_id().is_some() {
            self.take_held(ctx)
        } else {
            Vec::new()
        };
        let (success, index) = match self.log.term_at(req.prev_index) {
            None => (false, self.log.last_index() + 1),
            Some(term) if term != req.prev_term => {
                (false, self.log.first_of_term_at(req.prev_index))
            }
            Some(_) => match self.log.merge(req.prev_index, req.entries, self.commit) {
                Ok(last) => {
                    let commit = req.commit.min(last);
                    if commit > self.commit {
                        self.commit = commit;
                        self.apply_committed(ctx);
                    }
                    (true, last)
                }
                Err(conflict) => {
                    error!(ctx.log(), "raft: a leader asked to replace a committed entry";
                        "leader" => from.id(), "index" => conflict.index, "commit" => self.commit);
                    (false, self.commit + 1)
                }
            },
        };
        let reply = AppendReply {
            term: self.term,
            success,
            index,
            fwd,
        };
        self.respond(ctx, from, &route, &reply);
    }

    /// The leader's side of an answered (or timed out) append.
    pub(super) fn on_append_reply(
        &mut self,
        ctx: &mut Ctx<Self>,
        peer: String,
        term: u64,
        (last, round, sent): (u64, u64, Duration),
        end: &RpcOutcome,
    ) {
        let current = self.term == term;
        self.note_answer(&peer, end);
        if let Role::Leader(l) = &mut self.role {
            if let Some(p) = l.followers.get_mut(&peer).filter(|_| current) {
                p.in_flight = false;
            }
        }
        let Some(reply) = parsed_reply::<AppendReply<M::Command>, M>(ctx, &peer, APPEND, end)
        else {
            return;
        };
        let AppendReply {
            term: their_term,
            success,
            index,
            fwd,
        } = reply;
        if their_term > self.term {
            self.become_follower(ctx, their_term, None);
        } else if current {
            let ack = Ack {
                success,
                matched: index.min(last),
                hint: index,
                round,
                sent,
            };
            self.record_ack(ctx, &peer, ack);
        }
        for f in fwd {
            self.route(ctx, f.req, f.hops.saturating_add(1));
        }
        self.serve_reads(ctx);
    }

    /// Updates `peer`'s progress from its answer, advances the commit index, and sends
    /// at once if the follower is behind (a log mismatch, or committed entries missing).
    fn record_ack(&mut self, ctx: &mut Ctx<Self>, peer: &str, ack: Ack) {
        let Ack {
            success,
            matched,
            hint,
            round,
            sent,
        } = ack;
        let now = ctx.now();
        let last_index = self.log.last_index();
        let commit = self.commit;
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let Some(p) = l.followers.get_mut(peer) else {
            return;
        };
        p.last_ack = now;
        let behind = if success {
            p.matched = p.matched.max(matched);
            p.next = p.next.max(p.matched + 1);
            p.acked_round = p.acked_round.max(round);
            p.acked_sent = p.acked_sent.max(sent);
            p.next <= commit
        } else {
            p.next = hint.clamp(p.matched + 1, last_index + 1);
            true
        };
        let resend = behind && !p.in_flight && p.next <= last_index;
        if success {
            self.advance_commit(ctx);
        }
        if resend {
            self.send_append(ctx, peer);
        }
    }

    /// Commits the highest index a majority stores, if it is of the current term.
    pub(super) fn advance_commit(&mut self, ctx: &mut Ctx<Self>) {
        let Role::Leader(l) = &self.role else {
            return;
        };
        let mut matched: Vec<u64> = l.followers.values().map(|p| p.matched).collect();
        matched.push(self.log.last_index());
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let Some(&majority) = matched.get(self.quorum - 1) else {
            return;
        };
        if majority > self.commit && self.log.term_at(majority) == Some(self.term) {
            self.commit = majority;
            debug!(ctx.log(), "raft: committed"; "term" => self.term, "commit" => majority);
            self.apply_committed(ctx);
        }
    }

    /// Applies committed entries in order. The leader answers each entry's client;
    /// requests already applied (a duplicate that reached the log) are skipped.
    pub(super) fn apply_committed(&mut self, ctx: &mut Ctx<Self>) {
        let leading = self.is_leader();
        while self.applied < self.commit {
            let Some(entry) = self.log.get(self.applied + 1) else {
                break;
            };
            self.applied += 1;
            let Some(req) = &entry.req else {
                continue;
            };
            let session = self.sessions.entry(req.client.clone()).or_default();
            if !session.admit(req.id) {
                debug!(ctx.log(), "raft: skipping a request applied before";
                    "client" => &req.client, "msg_id" => req.id);
                continue;
            }
            let result = self.machine.apply(&req.op);
            if leading {
                Self::answer(ctx, &req.client, req.id, result);
            }
        }
    }
}
