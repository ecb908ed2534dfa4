//! Raft's messages between nodes. Both are requests answered by a reply, so the runtime
//! matches each reply to its request and hands it back exactly once (both carry `relay`
//! when the sender wants the answer through another node too, see [`super::relay`]):
//!
//! - `raft_vote {term, last_index, last_term, pre}` → `raft_vote_ok {term, granted, led}`:
//!   a vote request; with `pre`, a pre-vote that changes nothing on the receiver (Raft
//!   thesis §9.6), asked before a real election so that a node cut off from the cluster
//!   cannot disrupt it with ever higher terms; `led` says a refusal came from a node
//!   that follows a live leader;
//! - `raft_append {term, prev_index, prev_term, entries, commit}` →
//!   `raft_append_ok {term, success, index, fwd}`: entries (possibly none: a heartbeat)
//!   and the leader's commit index. `index` is the follower's last matching index on
//!   success, and on failure where the leader should try next. `fwd` carries the client
//!   requests the follower received since its last reply: a request reaches the leader
//!   on the reply to the next append, at no extra message.

use serde::{Deserialize, Serialize};

use super::log::{Entry, Request};

/// Type of a vote request.
pub const VOTE: &str = "raft_vote";
/// Type of an append request.
pub const APPEND: &str = "raft_append";

/// An outgoing `raft_vote`.
#[derive(Serialize, Debug)]
pub struct VoteOut {
    /// Always [`VOTE`].
    #[serde(rename = "type")]
    pub msg_type: &'static str,
    /// The term the candidate asks the vote for (for a pre-vote: its term plus one).
    pub term: u64,
    /// Index of the candidate's last entry.
    pub last_index: u64,
    /// Term of the candidate's last entry.
    pub last_term: u64,
    /// A pre-vote: the receiver only says whether it would vote.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pre: bool,
    /// Answer through another node too (see [`super::relay`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub relay: bool,
    /// Answer through another node only.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub relay_only: bool,
}

/// An incoming `raft_vote`.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct VoteRequest {
    /// The term asked for.
    pub term: u64,
    /// Index of the candidate's last entry.
    pub last_index: u64,
    /// Term of the candidate's last entry.
    pub last_term: u64,
    /// A pre-vote.
    #[serde(default)]
    pub pre: bool,
    /// Answer through another node too.
    #[serde(default)]
    pub relay: bool,
    /// Answer through another node only.
    #[serde(default)]
    pub relay_only: bool,
}

/// `raft_vote_ok`, both ways.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "type", rename = "raft_vote_ok")]
pub struct VoteReply {
    /// The voter's term.
    pub term: u64,
    /// Whether it votes (or would vote, for a pre-vote) for the candidate.
    pub granted: bool,
    /// A refusal because the voter follows a leader it heard from recently: the
    /// candidate is cut off from a cluster that works, and backs off.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub led: bool,
}

/// An outgoing `raft_append`, borrowing the leader's log.
#[derive(Serialize, Debug)]
pub struct AppendOut<'a, C> {
    /// Always [`APPEND`].
    #[serde(rename = "type")]
    pub msg_type: &'static str,
    /// The leader's term.
    pub term: u64,
    /// Index of the entry just before `entries`.
    pub prev_index: u64,
    /// Its term.
    pub prev_term: u64,
    /// Entries to store after `prev_index` (none for a heartbeat).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub entries: &'a [Entry<C>],
    /// The leader's commit index.
    pub commit: u64,
    /// Answer through another node too (see [`super::relay`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub relay: bool,
    /// Answer through another node only.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub relay_only: bool,
}

/// An incoming `raft_append`.
#[derive(Deserialize, Debug, Clone, PartialEq)]
pub struct AppendRequest<C> {
    /// The leader's term.
    pub term: u64,
    /// Index of the entry just before `entries`.
    pub prev_index: u64,
    /// Its term.
    pub prev_term: u64,
    /// Entries to store after `prev_index`.
    #[serde(default = "Vec::new")]
    pub entries: Vec<Entry<C>>,
    /// The leader's commit index.
    pub commit: u64,
    /// Answer through another node too.
    #[serde(default)]
    pub relay: bool,
    /// Answer through another node only.
    #[serde(default)]
    pub relay_only: bool,
}

/// A client request on its way to the leader.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Forwarded<C> {
    /// The request.
    #[serde(flatten)]
    pub req: Request<C>,
    /// How many nodes have passed it on so far.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hops: u8,
}

fn is_zero(n: &u8) -> bool {
    *n == 0
}

/// `raft_append_ok`, both ways.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "type", rename = "raft_append_ok")]
pub struct AppendReply<C> {
    /// The follower's term.
    pub term: u64,
    /// Whether the entries were stored.
    pub success: bool,
    /// On success the follower's last index known to match the leader's log; on failure
    /// the index the leader should send from next.
    pub index: u64,
    /// Client requests for the leader.
    #[serde(default = "Vec::new", skip_serializing_if = "Vec::is_empty")]
    pub fwd: Vec<Forwarded<C>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shapes() {
        let vote = VoteOut {
            msg_type: VOTE,
            term: 3,
            last_index: 9,
            last_term: 2,
            pre: false,
            relay: false,
            relay_only: false,
        };
        assert_eq!(
            serde_json::to_string(&vote).unwrap(),
            r#"{"type":"raft_vote","term":3,"last_index":9,"last_term":2}"#
        );
        let heartbeat: AppendOut<u8> = AppendOut {
            msg_type: APPEND,
            term: 3,
            prev_index: 9,
            prev_term: 2,
            entries: &[],
            commit: 8,
            relay: false,
            relay_only: false,
        };
        let text = serde_json::to_string(&heartbeat).unwrap();
        assert_eq!(
            text,
            r#"{"type":"raft_append","term":3,"prev_index":9,"prev_term":2,"commit":8}"#
        );
        let back: AppendRequest<u8> = serde_json::from_str(&text).unwrap();
        assert!(back.entries.is_empty());
        let reply = AppendReply::<u8> {
            term: 3,
            success: true,
            index: 9,
            fwd: vec![Forwarded {
                req: Request {
                    client: "c2".into(),
                    id: 5,
                    op: 1,
                },
                hops: 0,
            }],
        };
        let text = serde_json::to_string(&reply).unwrap();
        assert_eq!(
            text,
            r#"{"type":"raft_append_ok","term":3,"success":true,"index":9,"fwd":[{"client":"c2","id":5,"op":1}]}"#
        );
        assert_eq!(
            serde_json::from_str::<AppendReply<u8>>(&text).unwrap(),
            reply
        );
    }
}
