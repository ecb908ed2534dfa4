//! Message bodies: `topology`'s map and our node-to-node `bcast_gossip` (the other client
//! messages are fields of the family's message enum).
//!
//! `bcast_gossip` fields (every one optional on the wire):
//! - `v`: values for the receiver (a delta, never the whole set);
//! - `got`: other values the sender learned since its last message to the receiver, so
//!   the receiver knows the sender has them (this is how sends are confirmed);
//! - `have`: the sender's whole set as ranges, only on anti-entropy exchanges;
//! - `reply`: the receiver should answer at once (with its own `have` if `have` was sent,
//!   otherwise with a `got` confirming `v`);
//! - `at`: a leaf's batch to its relay, stamped with the leaf's clock (ms): the relay
//!   answers it at its next flush, even with nothing else to say;
//! - `next`: the relay's answer to `at` in round-aligned batching: when, on the leaf's
//!   clock (ms), its next batch should leave (see [`super::grid`]);
//! - `relay`: the sender routes around its silent relay through the receiver, which
//!   forwards `v` to every node (see [`super::route`]).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::range_set::RangeSet;

/// The internal message type of this family.
pub const GOSSIP: &str = "bcast_gossip";

/// `topology` request.
#[derive(Deserialize)]
pub struct TopologyRequest {
    /// Neighbours of every node.
    pub topology: HashMap<String, Vec<String>>,
}

/// An outgoing `bcast_gossip`, borrowing the sets it carries.
#[derive(Serialize, Debug)]
pub struct GossipOut<'a> {
    /// Always [`GOSSIP`].
    #[serde(rename = "type")]
    pub msg_type: &'static str,
    /// Values for the receiver.
    #[serde(skip_serializing_if = "RangeSet::is_empty")]
    pub v: &'a RangeSet,
    /// Values the sender learned since it last wrote to the receiver (besides `v`).
    #[serde(skip_serializing_if = "RangeSet::is_empty")]
    pub got: &'a RangeSet,
    /// The sender's whole set (anti-entropy only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub have: Option<&'a RangeSet>,
    /// Whether the receiver should answer at once.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reply: bool,
    /// The sender's clock (ms) when a leaf sends a batch that asks for an answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<u64>,
    /// When the receiver's next batch should leave, on its clock (ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<u64>,
    /// Forward `v` to every node: the sender cannot reach its relay.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub relay: bool,
}

/// An incoming `bcast_gossip`.
#[derive(Deserialize, Debug, Default, Clone, PartialEq, Eq)]
pub struct GossipIn {
    /// Values for us.
    #[serde(default)]
    pub v: RangeSet,
    /// More values the sender has.
    #[serde(default)]
    pub got: RangeSet,
    /// The sender's whole set, on anti-entropy exchanges.
    #[serde(default)]
    pub have: Option<RangeSet>,
    /// Whether we should answer at once.
    #[serde(default)]
    pub reply: bool,
    /// A leaf's batch stamp: answer it at the next flush.
    #[serde(default)]
    pub at: Option<u64>,
    /// When our next batch should leave, on our clock (ms).
    #[serde(default)]
    pub next: Option<u64>,
    /// Forward `v` to every node.
    #[serde(default)]
    pub relay: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_are_left_out() {
        let empty = RangeSet::new();
        let v: RangeSet = [1, 2, 3].into_iter().collect();
        let out = GossipOut {
            msg_type: GOSSIP,
            v: &v,
            got: &empty,
            have: None,
            reply: false,
            at: None,
            next: None,
            relay: false,
        };
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            r#"{"type":"bcast_gossip","v":[[1,3]]}"#
        );
        let out = GossipOut {
            msg_type: GOSSIP,
            v: &empty,
            got: &v,
            have: Some(&v),
            reply: true,
            at: None,
            next: None,
            relay: false,
        };
        let text = serde_json::to_string(&out).unwrap();
        assert_eq!(
            text,
            r#"{"type":"bcast_gossip","got":[[1,3]],"have":[[1,3]],"reply":true}"#
        );
        let back: GossipIn = serde_json::from_str(&text).unwrap();
        assert_eq!(back.got, v);
        assert_eq!(back.have, Some(v));
        assert!(back.reply && back.v.is_empty());
    }

    #[test]
    fn round_and_failover_fields_round_trip() {
        let empty = RangeSet::new();
        let v: RangeSet = [4].into_iter().collect();
        let out = GossipOut {
            msg_type: GOSSIP,
            v: &v,
            got: &empty,
            have: None,
            reply: false,
            at: Some(1234),
            next: Some(2500),
            relay: true,
        };
        let text = serde_json::to_string(&out).unwrap();
        assert_eq!(
            text,
            r#"{"type":"bcast_gossip","v":[4],"at":1234,"next":2500,"relay":true}"#
        );
        let back: GossipIn = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (back.at, back.next, back.relay),
            (Some(1234), Some(2500), true)
        );
        let bare: GossipIn = serde_json::from_str(r#"{"v":[4]}"#).unwrap();
        assert_eq!((bare.at, bare.next, bare.relay), (None, None, false));
    }
}
