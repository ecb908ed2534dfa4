//! Message bodies: `topology`'s map and our node-to-node `bcast_gossip` (the other client
//! messages are fields of the family's message enum).
//!
//! `bcast_gossip` fields (every one optional on the wire):
//! - `v`: values for the receiver (a delta, never the whole set);
//! - `got`: other values the sender learned since its last message to the receiver, so
//!   the receiver knows the sender has them (this is how sends are confirmed);
//! - `have`: the sender's whole set as ranges, only on anti-entropy exchanges;
//! - `reply`: the receiver should answer at once (with its own `have` if `have` was sent,
//!   otherwise with a `got` confirming `v`).

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
}
