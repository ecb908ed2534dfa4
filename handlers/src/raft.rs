//! A replicated state machine on Raft, serving Maelstrom's `lin-kv`, `txn-rw-register`
//! and `txn-list-append` workloads (the `machine` key picks one; each is its own handler
//! type, with its own message types).
//!
//! # Design
//!
//! - **Election** ([`election`]): randomized timeouts drawn from the node's seeded
//!   generator; a node whose timeout expires first asks for *pre-votes* and starts a real
//!   election only if a majority would vote for it, so a node cut off by a partition does
//!   not inflate its term and depose a healthy leader when it comes back. Votes honour
//!   the election restriction (the candidate's log must be at least as up to date), and
//!   a node that heard from a leader within the election timeout refuses to vote. A
//!   leader that has not heard from a majority for an election timeout steps down.
//! - **Replication** ([`replication`]): the leader sends appends in *rounds*: at most one
//!   round per `batch_ms` while requests wait (a lone request goes at once), a heartbeat
//!   round every `heartbeat_ms` otherwise, and at most one append in flight per follower.
//!   An entry commits once a majority stores it and it is of the leader's term (or
//!   precedes such an entry); every node applies committed entries in order.
//! - **Clients** ([`clients`]): the leader appends writes to its log and answers when it
//!   applies them. Read-only requests skip the log: the leader notes its commit index
//!   (a *read index*) and answers once a round sent after the request was acknowledged by
//!   a majority (so it was still the leader) and it has applied up to that index. A
//!   follower holds requests and hands them to the leader on its reply to the next
//!   append (no extra message); the leader answers the client directly. A node that
//!   knows no reachable leader for `leader_wait_ms` answers error 11, which is definite:
//!   the request never reached a log.
//! - **Exactly once**: every entry carries its client and `msg_id`; replicas skip an
//!   entry whose request was already applied, so a request that reached a log twice
//!   takes effect once.
//! - **Relays** ([`relay`]): each node learns, per peer and direction, whether the
//!   direct link works, and sends requests or answers that cannot go directly through
//!   another node, so one-way and partial partitions (Maelstrom's "majorities ring") do
//!   not stop a majority that is connected only indirectly.
//!
//! # Guarantees and limits
//!
//! Linearizable reads and writes (strict serializability for transactions) under
//! partitions, message loss, duplication and reordering: no acknowledged write is lost,
//! no read is stale across leader changes. Progress needs a majority that can talk both
//! ways. State lives in memory only: a node that restarted would come back with an
//! empty log and could vote twice in a term (Maelstrom never restarts nodes). The log is
//! never compacted (a few hundred bytes per request).
//!
//! Terms, elections, leadership and commit progress are logged at debug level.

pub mod alarm;
mod clients;
mod election;
pub mod kv;
pub mod log;
pub mod machine;
pub mod relay;
mod replication;
pub mod settings;
pub mod txn;
pub mod wire;

#[cfg(test)]
mod fuzz_regressions;
mod session;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use glomers_runtime::{
    ConfigError, Ctx, Error, Family, Handler, HandlerSpec, Result, RpcOutcome, Section, Sender,
};

use alarm::Alarm;
use kv::LinKv;
use log::{Log, Request};
use machine::{Machine, RaftMsg};
use relay::{Answer, Route};
use session::Session;
use settings::{MachineKind, Settings};
use slog::debug;
use txn::{ListAppend, RwRegister};

/// What a Raft timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RaftTimer {
    /// The election deadline may have passed.
    Election,
    /// The leader's next round may be due.
    Round,
    /// A held client request may have waited too long.
    Held,
}

/// What a Raft RPC is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RaftRpc {
    /// A (pre-)vote request to `peer` for `term`.
    Vote {
        /// The voter.
        peer: String,
        /// The term asked for.
        term: u64,
        /// A pre-vote.
        pre: bool,
    },
    /// An append to `peer`, sent in `term`, ending at index `last`, in round `round`.
    Append {
        /// The follower.
        peer: String,
        /// The leader's term when it was sent.
        term: u64,
        /// Index of the last entry it carried (its `prev_index` if none).
        last: u64,
        /// The leader's round number.
        round: u64,
        /// When it was sent.
        sent: Duration,
    },
}

/// A leader's view of one follower.
#[derive(Debug, Clone)]
struct Progress {
    /// Next index to send.
    next: u64,
    /// Highest index known to match the leader's log.
    matched: u64,
    /// Highest round this follower acknowledged.
    acked_round: u64,
    /// An append is on its way or being answered.
    in_flight: bool,
    /// When it last answered.
    last_ack: Duration,
    /// When it was last sent an append.
    last_sent: Duration,
    /// When the latest append it acknowledged was sent: it refuses to vote for another
    /// leader until an election timeout after it received that append.
    acked_sent: Duration,
}

/// A read-only request waiting for its read index.
#[derive(Debug)]
struct PendingRead<C> {
    req: Request<C>,
    /// The commit index it must see applied.
    index: u64,
    /// The last round sent before it arrived: a majority must acknowledge a later one.
    after_round: u64,
}

/// Leader-only state.
#[derive(Debug)]
struct Leadership<C> {
    followers: BTreeMap<String, Progress>,
    /// Rounds sent in this term.
    round: u64,
    /// When the last round went out.
    last_round: Duration,
    /// Log length at the last round: entries after it wait for the next one.
    sent_upto: u64,
    /// Reads arrived since the last round.
    unsent_reads: bool,
    reads: Vec<PendingRead<C>>,
    /// Index of this term's first entry (its no-op).
    term_start: u64,
}

/// A (pre-)election in progress.
#[derive(Debug)]
struct Campaign {
    pre: bool,
    term: u64,
    granted: BTreeSet<String>,
    /// A voter refused because it follows a live leader.
    led_refusal: bool,
}

/// This node's role.
#[derive(Debug)]
enum Role<C> {
    Follower { leader: Option<String> },
    Candidate(Campaign),
    Leader(Leadership<C>),
}

/// A client request this node holds until it can pass it to a leader.
#[derive(Debug)]
struct Held<C> {
    req: Request<C>,
    hops: u8,
    since: Duration,
}

/// The Raft handler for state machine `M`.
pub struct Raft<M: Machine> {
    settings: Settings,
    machine: M,
    me: String,
    /// The other nodes, in `init` order.
    peers: Vec<String>,
    /// Votes or acknowledgements (this node included) that make a majority.
    quorum: usize,
    term: u64,
    voted_for: Option<String>,
    role: Role<M::Command>,
    log: Log<M::Command>,
    commit: u64,
    applied: u64,
    /// Per client, the ids of its requests applied most recently.
    sessions: BTreeMap<String, Session>,
    /// When a leader last reached this node (or this node last led, or started).
    leader_contact: Duration,
    election_at: Duration,
    /// Campaigns in a row that voters refused for following a live leader this node
    /// cannot reach; each doubles the next election timeout (up to 8 times).
    futile_campaigns: u32,
    election: Alarm,
    round: Alarm,
    held: VecDeque<Held<M::Command>>,
    held_alarm: Alarm,
    /// Peers this node's requests cannot reach directly: they go through another node
    /// ([`relay`]).
    relay_requests: BTreeSet<String>,
    /// Peers whose answers do not come back directly: requests ask for relayed answers
    /// (true: they were seen coming through a relay; false: they stopped coming).
    relay_answers: BTreeMap<String, bool>,
    /// Per peer whose answers come through a relay, when a request last also asked for a
    /// direct answer.
    answer_probes: BTreeMap<String, Duration>,
    /// Per target, turns among relay nodes.
    relay_turns: BTreeMap<String, usize>,
    /// Per target, the node through which its last answered request arrived.
    relay_via: BTreeMap<String, String>,
    /// Per target being relayed to, when a request last went to it directly.
    direct_probes: BTreeMap<String, Duration>,
}

impl<M: Machine> Raft<M> {
    /// A node with an empty log, in term 0.
    pub fn new(settings: Settings) -> Raft<M> {
        Raft {
            settings,
            machine: M::default(),
            me: String::new(),
            peers: Vec::new(),
            quorum: 1,
            term: 0,
            voted_for: None,
            role: Role::Follower { leader: None },
            log: Log::default(),
            commit: 0,
            applied: 0,
            sessions: BTreeMap::new(),
            leader_contact: Duration::ZERO,
            election_at: Duration::ZERO,
            futile_campaigns: 0,
            election: Alarm::default(),
            round: Alarm::default(),
            held: VecDeque::new(),
            held_alarm: Alarm::default(),
            relay_requests: BTreeSet::new(),
            relay_answers: BTreeMap::new(),
            answer_probes: BTreeMap::new(),
            relay_turns: BTreeMap::new(),
            relay_via: BTreeMap::new(),
            direct_probes: BTreeMap::new(),
        }
    }

    /// Whether this node is the leader.
    pub fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader(_))
    }

    /// The current term.
    pub fn term(&self) -> u64 {
        self.term
    }

    /// The commit index.
    pub fn commit_index(&self) -> u64 {
        self.commit
    }

    fn is_peer(&self, id: &str) -> bool {
        self.peers.iter().any(|p| p == id)
    }
}

/// The answer `end` brought from `peer` to a `what` request, parsed: `None` for a
/// timeout or an error reply, and (logged at debug) for an answer that does not parse.
fn parsed_reply<T: serde::de::DeserializeOwned, M: Machine>(
    ctx: &Ctx<Raft<M>>,
    peer: &str,
    what: &str,
    end: &RpcOutcome,
) -> Option<T> {
    match end {
        RpcOutcome::Reply(msg) if msg.error().is_none() => match msg.parse() {
            Ok(reply) => Some(reply),
            Err(e) => {
                debug!(ctx.log(), "raft: bad reply"; "to" => what, "from" => peer, "error" => %e);
                None
            }
        },
        _ => None,
    }
}

impl<M: Machine> Handler for Raft<M> {
    type Msg<'a> = RaftMsg<M>;
    type Timer = RaftTimer;
    type Rpc = RaftRpc;

    fn on_init(&mut self, ctx: &mut Ctx<Self>) -> Result<()> {
        self.me = ctx.node_id().to_string();
        self.peers = ctx.peers().map(str::to_string).collect();
        let nodes = self.peers.len() + 1;
        self.quorum = nodes / 2 + 1;
        self.start(ctx);
        Ok(())
    }

    fn on_message(&mut self, ctx: &mut Ctx<Self>, from: Sender, msg: RaftMsg<M>) -> Result<()> {
        match msg {
            RaftMsg::Client(op) => self.on_client(ctx, &from, op),
            RaftMsg::Vote(req) if self.is_peer(from.id()) => {
                let answer = Answer::from_flags(req.relay, req.relay_only);
                let route = Route::Direct { answer };
                self.on_vote(ctx, &from, route, req);
            }
            RaftMsg::Append(req) if self.is_peer(from.id()) => {
                let answer = Answer::from_flags(req.relay, req.relay_only);
                let route = Route::Direct { answer };
                self.on_append(ctx, &from, route, req);
            }
            RaftMsg::Relay(r) if self.is_peer(from.id()) => self.on_relay(ctx, &from, r),
            RaftMsg::Vote(_) | RaftMsg::Append(_) | RaftMsg::Relay(_) => {
                // Refused (answered with an error when it has a msg_id) and otherwise
                // ignored: only the other members of the cluster take part in Raft.
                return Err(Error::malformed(format!(
                    "raft: {} is not another member of this cluster",
                    from.id()
                )));
            }
        }
        Ok(())
    }

    fn on_rpc(&mut self, ctx: &mut Ctx<Self>, rpc: RaftRpc, end: RpcOutcome) -> Result<()> {
        match rpc {
            RaftRpc::Vote { peer, term, pre } => self.on_vote_reply(ctx, peer, term, pre, &end),
            RaftRpc::Append {
                peer,
                term,
                last,
                round,
                sent,
            } => self.on_append_reply(ctx, peer, term, (last, round, sent), &end),
        }
        Ok(())
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, timer: RaftTimer) -> Result<()> {
        match timer {
            RaftTimer::Election => {
                self.election.fired();
                self.on_election_timer(ctx);
            }
            RaftTimer::Round => {
                self.round.fired();
                self.on_round_timer(ctx);
            }
            RaftTimer::Held => {
                self.held_alarm.fired();
                self.expire_held(ctx);
            }
        }
        Ok(())
    }
}

/// Each machine is its own handler type, with its own message types.
fn build(s: &mut Section) -> std::result::Result<Family, ConfigError> {
    let settings = Settings::from_section(s)?;
    Ok(match settings.machine {
        MachineKind::LinKv => Family::new(Raft::<LinKv>::new(settings)),
        MachineKind::TxnRwRegister => Family::new(Raft::<RwRegister>::new(settings)),
        MachineKind::TxnListAppend => Family::new(Raft::<ListAppend>::new(settings)),
    })
}

glomers_runtime::inventory::submit! {
    HandlerSpec {
        family: "raft",
        summary: "lin-kv, txn-rw-register or txn-list-append (strict-serializable) on Raft",
        build,
    }
}
