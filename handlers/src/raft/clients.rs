//! Client requests: where each goes (the leader's log, a read index, or a hold until a
//! leader can take it), and the answers.

use std::time::Duration;

use glomers_runtime::{Ctx, Error, Result, Sender};
use slog::debug;

use super::log::{Entry, Request};
use super::machine::Machine;
use super::wire::Forwarded;
use super::{Held, PendingRead, Raft, RaftTimer, Role};

/// A request passed on this many times is refused rather than passed on again (it can
/// only bounce while leadership keeps changing).
const MAX_HOPS: u8 = 3;

impl<M: Machine> Raft<M> {
    pub(super) fn on_client(&mut self, ctx: &mut Ctx<Self>, from: &Sender, op: M::Command) {
        let Some(id) = from.msg_id() else {
            debug!(ctx.log(), "raft: ignoring a request without msg_id"; "src" => from.id());
            return;
        };
        let req = Request {
            client: from.id().to_string(),
            id,
            op,
        };
        self.route(ctx, req, 0);
    }

    /// Serves `req` as the leader, or holds it for the next append from one.
    pub(super) fn route(&mut self, ctx: &mut Ctx<Self>, req: Request<M::Command>, hops: u8) {
        let now = ctx.now();
        if self.is_leader() {
            self.lead(ctx, req);
        } else if hops > MAX_HOPS {
            let err = Error::unavailable("raft: leadership keeps changing; try again");
            Self::answer(ctx, &req.client, req.id, Err(err));
        } else if now >= self.leader_contact + self.settings.leader_wait {
            // No leader reached this node for a while: refuse at once rather than hold
            // the client for nothing.
            self.refuse(ctx, &req);
        } else {
            let since = ctx.now();
            self.held.push_back(Held { req, hops, since });
            self.arm_held(ctx);
        }
    }

    /// The leader's part: a read-only request is answered under a lease or waits for its
    /// read index; anything else goes into the log, answered once applied.
    pub(super) fn lead(&mut self, ctx: &mut Ctx<Self>, req: Request<M::Command>) {
        if !self.is_leader() {
            return;
        }
        if M::is_read_only(&req.op) {
            if self.lease_holds(ctx.now()) {
                let result = self.machine.read(&req.op);
                Self::answer(ctx, &req.client, req.id, result);
                return;
            }
            let Role::Leader(l) = &mut self.role else {
                return;
            };
            l.reads.push(PendingRead {
                req,
                index: self.commit.max(l.term_start),
                after_round: l.round,
            });
            l.unsent_reads = true;
        } else {
            self.log.push(Entry {
                term: self.term,
                req: Some(req),
            });
            // A lone node commits at once.
            self.advance_commit(ctx);
        }
        self.schedule_round(ctx);
    }

    /// Answers the reads whose read index is confirmed: a majority acknowledged a round
    /// sent after the read arrived, and this node applied up to the index.
    pub(super) fn serve_reads(&mut self, ctx: &mut Ctx<Self>) {
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        if l.reads.is_empty() {
            return;
        }
        let mut acked: Vec<u64> = l.followers.values().map(|p| p.acked_round).collect();
        acked.push(l.round);
        acked.sort_unstable_by(|a, b| b.cmp(a));
        let confirmed = acked.get(self.quorum - 1).copied().unwrap_or(0);
        let applied = self.applied;
        let leased = self.lease_holds(ctx.now());
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let (ready, waiting) = std::mem::take(&mut l.reads)
            .into_iter()
            .partition(|r| (leased || r.after_round < confirmed) && r.index <= applied);
        l.reads = waiting;
        for read in ready {
            let PendingRead { req, .. } = read;
            let result = self.machine.read(&req.op);
            Self::answer(ctx, &req.client, req.id, result);
        }
    }

    /// Whether this leader may answer reads from its own state without a round: with
    /// `read_lease` on, it has applied its term's first entry (so everything committed
    /// before it), and a majority acknowledged appends sent less than 3/4 of an
    /// election timeout ago. Each of those followers refuses to vote for another node
    /// until an election timeout after it received the append, so no other leader can
    /// exist yet. This assumes the nodes' clocks run at the same rate (they share one
    /// host under Maelstrom); the last quarter of the timeout is the margin.
    fn lease_holds(&self, now: Duration) -> bool {
        let Role::Leader(l) = &self.role else {
            return false;
        };
        if !self.settings.read_lease || self.applied < l.term_start {
            return false;
        }
        let mut sent: Vec<Duration> = l.followers.values().map(|p| p.acked_sent).collect();
        sent.push(now);
        sent.sort_unstable_by(|a, b| b.cmp(a));
        let Some(&oldest) = sent.get(self.quorum - 1) else {
            return false;
        };
        let timeout = self.settings.election_timeout;
        oldest > Duration::ZERO && now < oldest + timeout - timeout / 4
    }

    /// Refuses reads a leader that steps down can no longer confirm (a read changes
    /// nothing, so the refusal is definite).
    pub(super) fn refuse_reads(
        &mut self,
        ctx: &mut Ctx<Self>,
        reads: Vec<PendingRead<M::Command>>,
    ) {
        for read in reads {
            let err = Error::unavailable("raft: lost leadership before the read was confirmed");
            Self::answer(ctx, &read.req.client, read.req.id, Err(err));
        }
    }

    /// Hands every held request over, for the reply to the leader's append.
    pub(super) fn take_held(&mut self, ctx: &mut Ctx<Self>) -> Vec<Forwarded<M::Command>> {
        if self.held.is_empty() {
            return Vec::new();
        }
        self.held_alarm.disarm(ctx);
        self.held
            .drain(..)
            .map(|h| Forwarded {
                req: h.req,
                hops: h.hops,
            })
            .collect()
    }

    fn arm_held(&mut self, ctx: &mut Ctx<Self>) {
        if let Some(first) = self.held.front() {
            let at = first.since + self.settings.leader_wait;
            self.held_alarm.arm(ctx, at, RaftTimer::Held);
        }
    }

    /// Refuses requests held for `leader_wait_ms` with error 11: no leader took them, so
    /// they had no effect.
    pub(super) fn expire_held(&mut self, ctx: &mut Ctx<Self>) {
        let now = ctx.now();
        let wait = self.settings.leader_wait;
        while self.held.front().is_some_and(|h| h.since + wait <= now) {
            if let Some(h) = self.held.pop_front() {
                self.refuse(ctx, &h.req);
            }
        }
        self.arm_held(ctx);
    }

    /// Answers error 11: no leader took the request, so it had no effect.
    fn refuse(&self, ctx: &mut Ctx<Self>, req: &Request<M::Command>) {
        let err = Error::unavailable(format!(
            "raft: no leader reached {} within {} ms",
            self.me,
            self.settings.leader_wait.as_millis()
        ));
        Self::answer(ctx, &req.client, req.id, Err(err));
    }

    /// Answers request `id` of `client` with `result`.
    pub(super) fn answer(ctx: &mut Ctx<Self>, client: &str, id: u64, result: Result<M::Reply>) {
        let to = Sender::new(client, Some(id));
        match result {
            Ok(reply) => ctx.reply(&to, &reply),
            Err(err) => ctx.reply_error(&to, &err),
        }
    }
}
