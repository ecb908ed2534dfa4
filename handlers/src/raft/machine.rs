//! What a state machine on Raft provides, and the family's message enum built from its
//! commands and Raft's own messages.
//!
//! The runtime routes by the variant names of a handler's message enum. A Raft handler
//! answers its machine's commands (`read`, `write`, `cas`; or `txn`) plus Raft's peer
//! messages, so [`RaftMsg`] is deserialized by hand: it names every type in
//! [`Machine::MESSAGE_TYPES`] and hands the body to the peer message structs or to the
//! machine's own command enum.

use std::fmt;
use std::marker::PhantomData;

use glomers_runtime::Result;
use serde::de::{self, DeserializeOwned, Deserializer, EnumAccess, VariantAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::relay::{RelayIn, RELAY};
use super::wire::{AppendRequest, VoteRequest, APPEND, VOTE};

/// The message types of Raft itself, which every machine's [`Machine::MESSAGE_TYPES`]
/// ends with.
pub const PEER_TYPES: [&str; 3] = [VOTE, APPEND, RELAY];

/// Lists a machine's message types: its commands' types, then [`PEER_TYPES`].
macro_rules! message_types {
    ($($command:literal),+ $(,)?) => {
        &[
            $($command,)+
            $crate::raft::wire::VOTE,
            $crate::raft::wire::APPEND,
            $crate::raft::relay::RELAY,
        ]
    };
}
pub(crate) use message_types;

/// A deterministic state machine replicated by Raft. Every replica applies the same
/// commands in the same order, so `apply` must depend on nothing but the state and the
/// command.
pub trait Machine: Default + 'static {
    /// A client request as its body reads (an enum tagged by `type`); also stored in log
    /// entries.
    type Command: Serialize + DeserializeOwned + fmt::Debug;
    /// A successful reply body (with its `type`).
    type Reply: Serialize;
    /// The `type`s routed to the family: the command enum's variants, then
    /// [`PEER_TYPES`] (write it with `message_types!`).
    const MESSAGE_TYPES: &'static [&'static str];

    /// True when `cmd` changes nothing: the leader serves it with a read index, outside
    /// the log, through [`Machine::read`].
    fn is_read_only(cmd: &Self::Command) -> bool;

    /// Answers a read-only command from the current state.
    fn read(&self, cmd: &Self::Command) -> Result<Self::Reply>;

    /// Applies a command from the log, in log order, and returns its reply (an error
    /// reply must be a definite one: the command had no effect).
    fn apply(&mut self, cmd: &Self::Command) -> Result<Self::Reply>;
}

/// Everything a Raft handler receives.
#[derive(Debug)]
pub enum RaftMsg<M: Machine> {
    /// A client request for the state machine.
    Client(M::Command),
    /// `raft_vote`: a candidate (or pre-candidate) asks for this node's vote.
    Vote(VoteRequest),
    /// `raft_append`: a leader's entries, commit index and heartbeat.
    Append(AppendRequest<M::Command>),
    /// `raft_relay`: a message passed on by another node.
    Relay(RelayIn),
}

/// Which variant a `type` names.
enum Tag {
    Vote,
    Append,
    Relay,
    Client,
}

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Tag, D::Error> {
        struct TagVisitor;
        impl Visitor<'_> for TagVisitor {
            type Value = Tag;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a message type")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Tag, E> {
                Ok(match v {
                    VOTE => Tag::Vote,
                    APPEND => Tag::Append,
                    RELAY => Tag::Relay,
                    _ => Tag::Client,
                })
            }
        }
        d.deserialize_identifier(TagVisitor)
    }
}

impl<'de, M: Machine> Deserialize<'de> for RaftMsg<M> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct MsgVisitor<M>(PhantomData<M>);
        impl<'de, M: Machine> Visitor<'de> for MsgVisitor<M> {
            type Value = RaftMsg<M>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Raft peer message or a client request")
            }
            fn visit_enum<A: EnumAccess<'de>>(
                self,
                data: A,
            ) -> std::result::Result<RaftMsg<M>, A::Error> {
                // The runtime hands the body's `type` as the variant and the whole body
                // as its content; each struct below ignores the fields it does not name.
                let (tag, body) = data.variant::<Tag>()?;
                match tag {
                    Tag::Vote => body.newtype_variant().map(RaftMsg::Vote),
                    Tag::Append => body.newtype_variant().map(RaftMsg::Append),
                    Tag::Relay => body.newtype_variant().map(RaftMsg::Relay),
                    Tag::Client => body.newtype_variant().map(RaftMsg::Client),
                }
            }
        }
        d.deserialize_enum("RaftMsg", M::MESSAGE_TYPES, MsgVisitor(PhantomData))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use glomers_runtime::routing::{decode, message_types};

    /// Checks that `M::MESSAGE_TYPES` lists exactly its command enum's types, then
    /// [`PEER_TYPES`].
    pub(crate) fn assert_routes<M: Machine>() {
        let mut expected: Vec<&str> = message_types::<M::Command>().unwrap().to_vec();
        expected.extend(PEER_TYPES);
        assert_eq!(M::MESSAGE_TYPES, expected.as_slice());
        assert_eq!(message_types::<RaftMsg<M>>().unwrap(), M::MESSAGE_TYPES);
    }

    #[test]
    fn peer_and_client_bodies_decode_to_their_variants() {
        use crate::raft::kv::LinKv;
        let vote =
            r#"{"type":"raft_vote","msg_id":4,"term":3,"last_index":7,"last_term":2,"pre":true}"#;
        match decode::<RaftMsg<LinKv>>("raft_vote", vote).unwrap() {
            RaftMsg::Vote(v) => assert!(v.pre && v.term == 3 && v.last_index == 7),
            other => panic!("{other:?}"),
        }
        let append = r#"{"type":"raft_append","term":1,"prev_index":0,"prev_term":0,"commit":0,
            "entries":[{"term":1},{"term":1,"req":{"client":"c1","id":2,"op":{"type":"read","key":0}}}]}"#;
        match decode::<RaftMsg<LinKv>>("raft_append", append).unwrap() {
            RaftMsg::Append(a) => assert_eq!(a.entries.len(), 2),
            other => panic!("{other:?}"),
        }
        let write = r#"{"type":"write","msg_id":1,"key":3,"value":4}"#;
        assert!(matches!(
            decode::<RaftMsg<LinKv>>("write", write).unwrap(),
            RaftMsg::Client(_)
        ));
        let err = decode::<RaftMsg<LinKv>>("write", r#"{"type":"write","key":3}"#).unwrap_err();
        assert!(err.to_string().contains("value"), "{err}");
    }
}
