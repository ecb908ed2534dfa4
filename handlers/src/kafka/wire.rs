//! Message bodies of the kafka family: the client RPCs (spec §5.9) and the internal
//! `kafka_repl` / `kafka_repl_ok` replication messages. Replies to clients carry only the
//! fields the workload allows.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

use super::log::Msg;

/// `send {key, msg}`.
#[derive(Deserialize)]
pub struct SendRequest<'a> {
    /// The log's key.
    #[serde(borrow)]
    pub key: Cow<'a, str>,
    /// The message, any JSON value.
    #[serde(borrow)]
    pub msg: &'a RawValue,
}

/// `poll {offsets}` and `commit_offsets {offsets}`: key → offset.
#[derive(Deserialize)]
pub struct OffsetsRequest<'a> {
    /// Requested (poll) or committed (commit_offsets) offset per key.
    #[serde(borrow)]
    pub offsets: BTreeMap<Cow<'a, str>, u64>,
}

/// `list_committed_offsets {keys}`.
#[derive(Deserialize)]
pub struct ListRequest<'a> {
    /// Keys asked about.
    #[serde(borrow)]
    pub keys: Vec<Cow<'a, str>>,
}

/// `send_ok {offset}`.
#[derive(Serialize)]
pub struct SendOk {
    #[serde(rename = "type")]
    msg_type: &'static str,
    offset: u64,
}

impl SendOk {
    /// The reply for a message stored at `offset`.
    pub fn new(offset: u64) -> SendOk {
        SendOk {
            msg_type: "send_ok",
            offset,
        }
    }
}

/// A body with only a `type` (`commit_offsets_ok`).
#[derive(Serialize)]
pub struct Bare {
    #[serde(rename = "type")]
    msg_type: &'static str,
}

/// The `commit_offsets_ok` body.
pub const COMMIT_OK: Bare = Bare {
    msg_type: "commit_offsets_ok",
};

/// `poll_ok {msgs: {key: [[offset, msg], …]}}`.
#[derive(Serialize)]
pub struct PollOk<'a> {
    #[serde(rename = "type")]
    msg_type: &'static str,
    msgs: PollMsgs<'a>,
}

impl<'a> PollOk<'a> {
    /// A reply with `runs`: per key, a contiguous run of the log.
    pub fn new(runs: Vec<(&'a str, &'a [(u64, Msg)])>) -> PollOk<'a> {
        PollOk {
            msg_type: "poll_ok",
            msgs: PollMsgs(runs),
        }
    }
}

/// Per key, a run of `(offset, msg)`, serialized as `{key: [[offset, msg], …]}`.
pub struct PollMsgs<'a>(Vec<(&'a str, &'a [(u64, Msg)])>);

impl Serialize for PollMsgs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (key, run) in &self.0 {
            map.serialize_entry(key, run)?;
        }
        map.end()
    }
}

/// `list_committed_offsets_ok {offsets}`.
#[derive(Serialize)]
pub struct ListOk<'a> {
    #[serde(rename = "type")]
    msg_type: &'static str,
    offsets: BTreeMap<&'a str, u64>,
}

impl<'a> ListOk<'a> {
    /// A reply with the committed offsets found.
    pub fn new(offsets: BTreeMap<&'a str, u64>) -> ListOk<'a> {
        ListOk {
            msg_type: "list_committed_offsets_ok",
            offsets,
        }
    }
}

/// A batch of a node's replication stream to one peer (`kafka_repl`).
///
/// The stream is a sequence of events numbered from 0; this batch carries events
/// `seq..upto`, grouped into `entries` (messages this node stored) and `commits`
/// (committed offsets). `end` is the length of the sender's stream to this peer when it
/// sent the batch and `clock` its Lamport clock then: once the receiver has applied the
/// stream up to `end`, it has every message the sender stored with an offset below
/// `(clock + 1) × nodes`.
#[derive(Serialize, Deserialize)]
pub struct Repl<E, C> {
    #[serde(rename = "type")]
    msg_type: Cow<'static, str>,
    /// First event number in this batch.
    pub seq: u64,
    /// One past the last event number in this batch.
    pub upto: u64,
    /// Length of the sender's stream to this peer.
    pub end: u64,
    /// The sender's Lamport clock.
    pub clock: u64,
    /// Messages by key.
    pub entries: E,
    /// Committed offsets by key.
    pub commits: C,
}

impl<E, C> Repl<E, C> {
    /// A batch body.
    pub fn new(seq: u64, upto: u64, end: u64, clock: u64, entries: E, commits: C) -> Self {
        Repl {
            msg_type: Cow::Borrowed("kafka_repl"),
            seq,
            upto,
            end,
            clock,
            entries,
            commits,
        }
    }
}

/// Outgoing entries, grouped by key: `{key: [[offset, msg], …]}`.
pub struct EntriesOut<'a>(pub Vec<(&'a str, Vec<(u64, &'a Msg)>)>);

impl Serialize for EntriesOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (key, run) in &self.0 {
            map.serialize_entry(key, &Pairs(run))?;
        }
        map.end()
    }
}

struct Pairs<'a, 'b>(&'b [(u64, &'a Msg)]);

impl Serialize for Pairs<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for pair in self.0 {
            seq.serialize_element(pair)?;
        }
        seq.end()
    }
}

/// Outgoing commits: `{key: offset}`.
pub type CommitsOut<'a> = BTreeMap<&'a str, u64>;

/// Incoming entries, borrowed from the message.
pub type EntriesIn<'a> = BTreeMap<Cow<'a, str>, Vec<(u64, &'a RawValue)>>;

/// Incoming commits.
pub type CommitsIn<'a> = BTreeMap<Cow<'a, str>, u64>;

/// A received `kafka_repl` batch.
#[derive(Deserialize)]
pub struct ReplIn<'a> {
    /// First event number.
    pub seq: u64,
    /// One past the last event number.
    pub upto: u64,
    /// Sender's stream length.
    pub end: u64,
    /// Sender's clock.
    pub clock: u64,
    /// Messages by key.
    #[serde(borrow)]
    pub entries: EntriesIn<'a>,
    /// Commits by key.
    #[serde(borrow)]
    pub commits: CommitsIn<'a>,
}

/// `kafka_repl_ok`: the receiver has applied its inbound stream up to `applied`; `end`
/// and `clock` describe the receiver's own stream to the sender, as in [`Repl`].
#[derive(Serialize, Deserialize)]
pub struct ReplOk {
    #[serde(rename = "type")]
    msg_type: Cow<'static, str>,
    /// Events of the sender's stream applied so far.
    pub applied: u64,
    /// Length of the receiver's stream back to the sender.
    pub end: u64,
    /// The receiver's Lamport clock.
    pub clock: u64,
}

impl ReplOk {
    /// An acknowledgement body.
    pub fn new(applied: u64, end: u64, clock: u64) -> ReplOk {
        ReplOk {
            msg_type: Cow::Borrowed("kafka_repl_ok"),
            applied,
            end,
            clock,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn poll_ok_has_the_workload_shape() {
        let run = [(3, Msg::Int(7)), (4, Msg::Int(-1))];
        let body = PollOk::new(vec![("k1", &run[..])]);
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"type": "poll_ok", "msgs": {"k1": [[3, 7], [4, -1]]}})
        );
        assert_eq!(
            serde_json::to_value(SendOk::new(9)).unwrap(),
            json!({"type": "send_ok", "offset": 9})
        );
        assert_eq!(
            serde_json::to_value(ListOk::new([("a", 2)].into())).unwrap(),
            json!({"type": "list_committed_offsets_ok", "offsets": {"a": 2}})
        );
    }

    #[test]
    fn replication_batches_round_trip() {
        let m = Msg::Int(5);
        let out = Repl::new(
            2,
            4,
            6,
            11,
            EntriesOut(vec![("x", vec![(8, &m)])]),
            CommitsOut::from([("x", 8)]),
        );
        let text = serde_json::to_string(&out).unwrap();
        let back: ReplIn = serde_json::from_str(&text).unwrap();
        assert_eq!((back.seq, back.upto, back.end, back.clock), (2, 4, 6, 11));
        assert_eq!(back.entries["x"][0].0, 8);
        assert_eq!(back.entries["x"][0].1.get(), "5");
        assert_eq!(back.commits["x"], 8);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["type"], "kafka_repl");
    }

    #[test]
    fn requests_parse_with_escaped_keys() {
        let s: SendRequest =
            serde_json::from_str(r#"{"type":"send","key":"a\"b","msg":{"x":1}}"#).unwrap();
        assert_eq!(s.key, "a\"b");
        assert_eq!(s.msg.get(), r#"{"x":1}"#);
        let p: OffsetsRequest = serde_json::from_str(r#"{"offsets":{"1":0,"2":5}}"#).unwrap();
        assert_eq!(p.offsets.len(), 2);
        let l: ListRequest = serde_json::from_str(r#"{"keys":["1"]}"#).unwrap();
        assert_eq!(l.keys, vec!["1"]);
    }
}
