//! Roles and elections: timeouts, pre-votes, votes, and the moves between follower,
//! candidate and leader.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use glomers_runtime::{Ctx, RpcOutcome, Sender};
use rand::Rng;
use slog::debug;

use super::log::Entry;
use super::machine::Machine;
use super::relay::Route;
use super::wire::{VoteOut, VoteReply, VoteRequest, VOTE};
use super::{parsed_reply, Campaign, Leadership, Progress, Raft, RaftRpc, RaftTimer, Role};

impl<M: Machine> Raft<M> {
    /// After `init`: a lone node leads at once; otherwise the first election deadline is
    /// drawn from half the usual range, so a cluster elects its first leader sooner.
    pub(super) fn start(&mut self, ctx: &mut Ctx<Self>) {
        self.leader_contact = ctx.now();
        if self.peers.is_empty() {
            self.term = 1;
            self.voted_for = Some(self.me.clone());
            self.become_leader(ctx);
            return;
        }
        let base = self.settings.election_timeout / 2;
        let jitter = self.jitter(ctx, base);
        self.election_at = ctx.now() + base + jitter;
        self.election
            .arm(ctx, self.election_at, RaftTimer::Election);
    }

    /// A random duration in `0..=max`, from the node's seeded generator.
    fn jitter(&self, ctx: &mut Ctx<Self>, max: Duration) -> Duration {
        let ms = max.as_millis() as u64;
        Duration::from_millis(ctx.rng().random_range(0..=ms))
    }

    /// Pushes the election deadline to a fresh random point in
    /// [election timeout, 2 × election timeout] from now, times 2 for each futile
    /// campaign in a row (at most 8).
    pub(super) fn reset_election(&mut self, ctx: &mut Ctx<Self>) {
        let base = self.settings.election_timeout * (1 << self.futile_campaigns.min(3));
        let jitter = self.jitter(ctx, base);
        self.election_at = ctx.now() + base + jitter;
        self.election
            .arm(ctx, self.election_at, RaftTimer::Election);
    }

    pub(super) fn on_election_timer(&mut self, ctx: &mut Ctx<Self>) {
        if self.is_leader() {
            return;
        }
        if ctx.now() < self.election_at {
            self.election
                .arm(ctx, self.election_at, RaftTimer::Election);
            return;
        }
        if matches!(&self.role, Role::Candidate(c) if c.led_refusal) {
            // The others follow a leader this node cannot reach: asking again soon only
            // costs messages. The leader's next append ends the wait.
            self.futile_campaigns += 1;
        }
        self.campaign(ctx, true);
    }

    /// Starts a pre-vote (`pre`) or a real election.
    fn campaign(&mut self, ctx: &mut Ctx<Self>, pre: bool) {
        let term = if pre {
            self.term + 1
        } else {
            self.term += 1;
            self.voted_for = Some(self.me.clone());
            self.term
        };
        debug!(ctx.log(), "raft: campaigning";
            "pre_vote" => pre, "term" => term, "last_index" => self.log.last_index());
        self.role = Role::Candidate(Campaign {
            pre,
            term,
            granted: BTreeSet::from([self.me.clone()]),
            led_refusal: false,
        });
        self.reset_election(ctx);
        if self.quorum <= 1 {
            self.campaign_won(ctx, pre);
            return;
        }
        let timeout = self.settings.election_timeout;
        for peer in self.peers.clone() {
            let (relay, relay_only) = self.answer_flags(&peer, ctx.now());
            let body = VoteOut {
                msg_type: VOTE,
                term,
                last_index: self.log.last_index(),
                last_term: self.log.last_term(),
                pre,
                relay,
                relay_only,
            };
            let purpose = RaftRpc::Vote {
                peer: peer.clone(),
                term,
                pre,
            };
            self.call(ctx, &peer, &body, timeout, purpose);
        }
    }

    fn campaign_won(&mut self, ctx: &mut Ctx<Self>, pre: bool) {
        if pre {
            self.campaign(ctx, false);
        } else {
            self.become_leader(ctx);
        }
    }

    /// Whether this node heard from a live leader recently enough to refuse votes.
    fn led_recently(&self, now: Duration) -> bool {
        match &self.role {
            Role::Leader(_) => true,
            Role::Follower { leader: Some(_) } => {
                now < self.leader_contact + self.settings.election_timeout
            }
            _ => false,
        }
    }

    pub(super) fn on_vote(
        &mut self,
        ctx: &mut Ctx<Self>,
        from: &Sender,
        route: Route,
        req: VoteRequest,
    ) {
        let log_ok = self.log.is_behind_or_equal(req.last_index, req.last_term);
        let led = self.led_recently(ctx.now());
        let granted = if led {
            false
        } else if req.pre {
            // A pre-vote changes nothing here.
            req.term > self.term && log_ok
        } else {
            if req.term > self.term {
                self.become_follower(ctx, req.term, None);
            }
            let free = self.voted_for.as_deref().is_none_or(|v| v == from.id());
            let grant = req.term == self.term && free && log_ok;
            if grant {
                self.voted_for = Some(from.id().to_string());
                self.reset_election(ctx);
            }
            grant
        };
        debug!(ctx.log(), "raft: vote request";
            "from" => from.id(), "pre_vote" => req.pre, "term" => req.term, "granted" => granted);
        let reply = VoteReply {
            term: self.term,
            granted,
            led,
        };
        self.respond(ctx, from, &route, &reply);
    }

    pub(super) fn on_vote_reply(
        &mut self,
        ctx: &mut Ctx<Self>,
        peer: String,
        term: u64,
        pre: bool,
        end: &RpcOutcome,
    ) {
        self.note_answer(&peer, end);
        let Some(reply) = parsed_reply::<VoteReply, M>(ctx, &peer, VOTE, end) else {
            return;
        };
        if reply.term > self.term {
            self.become_follower(ctx, reply.term, None);
            return;
        }
        let won = match &mut self.role {
            Role::Candidate(c) if c.pre == pre && c.term == term => {
                c.led_refusal |= reply.led;
                if reply.granted {
                    c.granted.insert(peer);
                }
                c.granted.len() >= self.quorum
            }
            _ => false,
        };
        if won {
            self.campaign_won(ctx, pre);
        }
    }

    /// Becomes (or stays) a follower of `leader` in `term` (at least the current term).
    pub(super) fn become_follower(
        &mut self,
        ctx: &mut Ctx<Self>,
        term: u64,
        leader: Option<String>,
    ) {
        if term > self.term {
            debug!(ctx.log(), "raft: new term"; "term" => term, "was" => self.term);
            self.term = term;
            self.voted_for = None;
        }
        let was_leader = self.is_leader();
        let same = matches!(&self.role, Role::Follower { leader: l } if *l == leader);
        if !same {
            debug!(ctx.log(), "raft: following";
                "term" => self.term, "leader" => leader.as_deref().unwrap_or("unknown"));
        }
        let old = std::mem::replace(&mut self.role, Role::Follower { leader });
        if let Role::Leader(leadership) = old {
            self.round.disarm(ctx);
            self.refuse_reads(ctx, leadership.reads);
        }
        if was_leader {
            self.leader_contact = ctx.now();
            self.reset_election(ctx);
        }
    }

    /// Takes over: appends this term's no-op, then sends a round at once. Requests held
    /// here are served as the leader's own.
    pub(super) fn become_leader(&mut self, ctx: &mut Ctx<Self>) {
        let now = ctx.now();
        self.futile_campaigns = 0;
        let term_start = self.log.push(Entry {
            term: self.term,
            req: None,
        });
        debug!(ctx.log(), "raft: leading"; "term" => self.term, "first_index" => term_start,
            "commit" => self.commit);
        let followers: BTreeMap<String, Progress> = self
            .peers
            .iter()
            .map(|p| {
                let progress = Progress {
                    next: term_start,
                    matched: 0,
                    acked_round: 0,
                    in_flight: false,
                    last_ack: now,
                    // Never: the first round goes to everyone.
                    last_sent: Duration::ZERO,
                    acked_sent: Duration::ZERO,
                };
                (p.clone(), progress)
            })
            .collect();
        self.role = Role::Leader(Leadership {
            followers,
            round: 0,
            last_round: now,
            sent_upto: term_start - 1,
            unsent_reads: false,
            reads: Vec::new(),
            term_start,
        });
        self.election.disarm(ctx);
        let held = std::mem::take(&mut self.held);
        self.held_alarm.disarm(ctx);
        for h in held {
            self.lead(ctx, h.req);
        }
        self.advance_commit(ctx);
        self.send_round(ctx);
    }
}
