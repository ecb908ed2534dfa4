//! Challenge 4: a grow-only counter (`add {delta}` → `add_ok`, `read` → `read_ok {value}`),
//! in one of two modes chosen by `counter.mode`.
//!
//! - `seq-kv` (default, what the challenge asks for, [`seq_kv`]): the counter lives in
//!   Maelstrom's `seq-kv` service, one key per node (`counter/<node>`, holding that node's
//!   contribution). Nodes never talk to each other, so partitions between nodes change
//!   nothing. Adds are batched and written with one compare-and-set per batch; reads are
//!   answered from a cache of the other nodes' keys that is refreshed in the background
//!   with reads made *fresh* by a preceding state-changing request (seq-kv only promises
//!   a node fresh state after its own write). The module doc of [`seq_kv`] explains why
//!   the node's state is only a cache.
//! - `crdt` ([`crdt`]): a state-based G-counter CRDT (a per-node count vector merged by
//!   pointwise maximum), gossiped between nodes with push-pull exchanges; no service.
//!
//! Both modes also accept negative deltas (pn-counter): a contribution is a pair of
//! grow-only totals, increments and decrements, so every stored value only grows.
//! Deltas of 0 are acknowledged at once without any message.

use std::time::Duration;

use glomers_runtime::{ConfigError, Family, HandlerSpec, Section};
use serde::{Deserialize, Serialize};

pub mod crdt;
pub mod seq_kv;

/// One node's contribution: everything it ever added, split into increments and
/// decrements so both parts only grow. Serialized as `[up, down]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Contribution {
    /// Sum of positive deltas.
    pub up: u64,
    /// Sum of the magnitudes of negative deltas.
    pub down: u64,
}

impl Contribution {
    /// The contribution's value (`up - down`).
    pub fn value(self) -> i64 {
        (self.up as i128 - self.down as i128) as i64
    }

    /// This contribution plus `delta`.
    pub fn plus(self, delta: i64) -> Contribution {
        if delta >= 0 {
            Contribution {
                up: self.up.saturating_add(delta as u64),
                down: self.down,
            }
        } else {
            Contribution {
                up: self.up,
                down: self.down.saturating_add(delta.unsigned_abs()),
            }
        }
    }

    /// The pointwise maximum (the CRDT join).
    pub fn join(self, other: Contribution) -> Contribution {
        Contribution {
            up: self.up.max(other.up),
            down: self.down.max(other.down),
        }
    }

    /// True when `self` is at or below `other` in both parts.
    pub fn le(self, other: Contribution) -> bool {
        self.up <= other.up && self.down <= other.down
    }
}

/// The componentwise sum (a contribution plus a batch of deltas).
impl std::ops::Add for Contribution {
    type Output = Contribution;

    fn add(self, other: Contribution) -> Contribution {
        Contribution {
            up: self.up.saturating_add(other.up),
            down: self.down.saturating_add(other.down),
        }
    }
}

impl Serialize for Contribution {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        (self.up, self.down).serialize(s)
    }
}

/// The largest part of a [`Contribution`] accepted from a peer or a service: beyond
/// any real counter, and far enough from `u64::MAX` that this node's own adds never
/// saturate. A larger part would pin a node's entry near the top, where its adds are
/// lost.
pub const MAX_PART: u64 = 1 << 62;

/// The largest `|delta|` of one `add`: far beyond any workload, and small enough that
/// four million of them stay below [`MAX_PART`]. Larger deltas (`i64::MIN`, say) would
/// saturate the node's contribution after a few adds and lose every add after them.
pub const MAX_DELTA: u64 = 1 << 40;

/// Refuses an `add` whose delta is beyond [`MAX_DELTA`] (a definite error: nothing
/// was added).
pub(crate) fn check_delta(delta: i64) -> glomers_runtime::Result<()> {
    if delta.unsigned_abs() > MAX_DELTA {
        return Err(glomers_runtime::Error::malformed(format!(
            "delta {delta} is beyond the largest accepted magnitude ({MAX_DELTA})"
        )));
    }
    Ok(())
}

impl<'de> Deserialize<'de> for Contribution {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let (up, down) = <(u64, u64)>::deserialize(d)?;
        if up > MAX_PART || down > MAX_PART {
            return Err(serde::de::Error::custom(format!(
                "contribution [{up}, {down}] is beyond the largest accepted part ({MAX_PART})"
            )));
        }
        Ok(Contribution { up, down })
    }
}

/// Replies to clients, with only the fields the workload allows.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum CounterReply {
    AddOk,
    ReadOk { value: i64 },
}

/// When the seq-kv mode answers an `add`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AddAck {
    /// Once seq-kv has stored it: nothing a client was told is ever only in a node's
    /// memory. With one client per node (Maelstrom's `--concurrency 1n`), a node then
    /// never has two adds to batch, so every add costs a compare-and-set.
    #[default]
    Stored,
    /// On receipt; it is stored with the next batch, at most `flush_ms` later. Many adds
    /// share one compare-and-set, but a node that crashed in between would lose adds it
    /// acknowledged (the g-counter challenge crashes no node).
    Received,
}

/// Settings of the `seq-kv` mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeqKvSettings {
    /// When adds are acknowledged.
    pub add_ack: AddAck,
    /// How often pending adds are written as one batch (and the tick of all timers).
    pub flush_every: Duration,
    /// Shortest time between two refreshes of the other nodes' contributions.
    pub refresh_every: Duration,
    /// Longest time between two refreshes (the interval doubles while nothing changes).
    pub refresh_max: Duration,
    /// Timeout of one request to seq-kv.
    pub kv_timeout: Duration,
}

impl Default for SeqKvSettings {
    fn default() -> Self {
        SeqKvSettings {
            add_ack: AddAck::Stored,
            flush_every: Duration::from_millis(100),
            refresh_every: Duration::from_millis(500),
            refresh_max: Duration::from_millis(2000),
            kv_timeout: Duration::from_millis(1000),
        }
    }
}

/// Settings of the `crdt` mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrdtSettings {
    /// How often a node pushes its state to peers that may lack some of it.
    pub gossip_every: Duration,
    /// How long a push waits for the peer's answer before it may be sent again.
    pub gossip_timeout: Duration,
}

impl Default for CrdtSettings {
    fn default() -> Self {
        CrdtSettings {
            gossip_every: Duration::from_millis(200),
            gossip_timeout: Duration::from_millis(1000),
        }
    }
}

/// Which design runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CounterMode {
    /// Contributions in seq-kv ([`seq_kv`]).
    #[default]
    SeqKv,
    /// A gossiped CRDT ([`crdt`]).
    Crdt,
}

/// Everything the `[counter]` section configures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterSettings {
    /// The design.
    pub mode: CounterMode,
    /// Settings of the seq-kv mode.
    pub seq_kv: SeqKvSettings,
    /// Settings of the crdt mode.
    pub crdt: CrdtSettings,
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

impl CounterSettings {
    /// Reads and checks `[counter]`; absent keys take the [`Default`] values.
    pub fn from_section(s: &mut Section) -> std::result::Result<Self, ConfigError> {
        let d = CounterSettings::default();
        let mode = match s.choice("mode", "seq-kv", &["seq-kv", "crdt"])?.as_str() {
            "crdt" => CounterMode::Crdt,
            _ => CounterMode::SeqKv,
        };
        let add_ack = match s
            .choice("add_ack", "stored", &["stored", "received"])?
            .as_str()
        {
            "received" => AddAck::Received,
            _ => AddAck::Stored,
        };
        let seq_kv = SeqKvSettings {
            add_ack,
            flush_every: s.millis("flush_ms", ms(d.seq_kv.flush_every), 1..=10_000)?,
            refresh_every: s.millis("refresh_ms", ms(d.seq_kv.refresh_every), 1..=60_000)?,
            refresh_max: s.millis("refresh_max_ms", ms(d.seq_kv.refresh_max), 1..=60_000)?,
            kv_timeout: s.millis("kv_timeout_ms", ms(d.seq_kv.kv_timeout), 1..=60_000)?,
        };
        if seq_kv.refresh_max < seq_kv.refresh_every {
            return Err(s.error(
                "refresh_max_ms",
                "must be at least refresh_ms (the refresh interval only grows up to it)",
            ));
        }
        let crdt = CrdtSettings {
            gossip_every: s.millis("gossip_ms", ms(d.crdt.gossip_every), 1..=60_000)?,
            gossip_timeout: s.millis("gossip_timeout_ms", ms(d.crdt.gossip_timeout), 1..=60_000)?,
        };
        Ok(CounterSettings { mode, seq_kv, crdt })
    }
}

/// Each mode is its own handler, with its own message types: `counter_gossip` is only
/// routed here in the crdt mode.
fn build(s: &mut Section) -> std::result::Result<Family, ConfigError> {
    let settings = CounterSettings::from_section(s)?;
    Ok(match settings.mode {
        CounterMode::Crdt => Family::new(crdt::CrdtCounter::new(settings.crdt)),
        CounterMode::SeqKv => Family::new(seq_kv::SeqKvCounter::new(settings.seq_kv)),
    })
}

glomers_runtime::inventory::submit! {
    HandlerSpec {
        family: "counter",
        summary: "challenge 4: grow-only counter on seq-kv (or a gossiped CRDT)",
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contribution_arithmetic() {
        let c = Contribution::default().plus(5).plus(-2).plus(0);
        assert_eq!(c, Contribution { up: 5, down: 2 });
        assert_eq!(c.value(), 3);
        let j = c.join(Contribution { up: 4, down: 7 });
        assert_eq!(j, Contribution { up: 5, down: 7 });
        assert!(c.le(j));
        assert!(!j.le(c));
    }

    #[test]
    fn contribution_wire_shape_is_a_pair() {
        let c = Contribution { up: 9, down: 1 };
        assert_eq!(serde_json::to_string(&c).unwrap(), "[9,1]");
        let back: Contribution = serde_json::from_str("[9,1]").unwrap();
        assert_eq!(back, c);
        assert!(serde_json::from_str::<Contribution>("9").is_err());
    }

    // Fuzzer finding: a peer's gossip (or a seq-kv read) with a part near u64::MAX
    // raised this node's own entry so high that its next adds saturated and were lost.
    #[test]
    fn contributions_beyond_the_limit_are_refused() {
        let at_limit = format!("[{MAX_PART}, 0]");
        assert!(serde_json::from_str::<Contribution>(&at_limit).is_ok());
        for bad in ["[18446744073709551615, 0]", "[0, 4611686018427387905]"] {
            assert!(serde_json::from_str::<Contribution>(bad).is_err(), "{bad}");
        }
        let mut n = glomers_runtime::testkit::TestNode::with(
            "counter",
            crdt::CrdtCounter::new(CrdtSettings::default()),
        );
        n.init("n0", &["n0", "n1"]);
        let out = n.deliver(serde_json::json!({"src": "n1", "dest": "n0", "body": {
            "type": "counter_gossip", "msg_id": 1, "counts": {"n0": [u64::MAX, 0]}}}));
        assert_eq!(out[0]["body"]["code"], 12, "{out:?}");
        n.request(
            "c1",
            serde_json::json!({"type": "add", "msg_id": 2, "delta": 3}),
        );
        let out = n.request("c1", serde_json::json!({"type": "read", "msg_id": 3}));
        assert_eq!(out[0]["body"]["value"], 3);
    }

    fn section(text: &str) -> Section {
        glomers_runtime::config::Config::parse("test", text)
            .unwrap()
            .section("counter")
    }

    #[test]
    fn config_accepts_both_modes_and_rejects_nonsense() {
        assert!(build(&mut section("[counter]\nmode = \"crdt\"")).is_ok());
        assert!(build(&mut section("[counter]\nflush_ms = 50")).is_ok());
        assert!(build(&mut section("[counter]\nmode = \"paxos\"")).is_err());
        assert!(build(&mut section("[counter]\nadd_ack = \"received\"")).is_ok());
        assert!(build(&mut section("[counter]\nadd_ack = \"never\"")).is_err());
        assert!(build(&mut section(
            "[counter]\nrefresh_ms = 900\nrefresh_max_ms = 100"
        ))
        .is_err());
    }

    #[test]
    fn the_preset_enables_the_family_and_parses() {
        let text = include_str!("../../config/g-counter.toml");
        let config = glomers_runtime::config::Config::parse("g-counter.toml", text).unwrap();
        let mut s = config.section("counter");
        let settings = CounterSettings::from_section(&mut s).unwrap();
        s.finish().unwrap();
        assert_eq!(settings.mode, CounterMode::SeqKv);
        assert_eq!(settings.seq_kv.add_ack, AddAck::Received);
        let handlers = config.section("node").strings("handlers", &[]).unwrap();
        assert_eq!(handlers, vec!["counter"]);
    }

    // Fuzzer finding: adds of i64::MAX or i64::MIN, valid as JSON, saturated the node's
    // contribution (every later add was lost) and, in seq-kv mode, stored a part that
    // reads back beyond MAX_PART.
    #[test]
    fn deltas_beyond_the_limit_are_refused_in_both_modes() {
        let crdt = Family::new(crdt::CrdtCounter::new(CrdtSettings::default()));
        let seq = Family::new(seq_kv::SeqKvCounter::new(SeqKvSettings::default()));
        for family in [crdt, seq] {
            let mut n = glomers_runtime::testkit::TestNode::new(vec![family.named("counter")]);
            n.init("n0", &["n0"]);
            for (id, delta) in [(2, i64::MAX), (3, i64::MIN), (4, -(MAX_DELTA as i64) - 1)] {
                let out = n.request(
                    "c1",
                    serde_json::json!({"type": "add", "msg_id": id, "delta": delta}),
                );
                assert_eq!(out[0]["body"]["code"], 12, "{delta}: {out:?}");
            }
            let out = n.request("c1", serde_json::json!({"type": "read", "msg_id": 5}));
            assert_eq!(out[0]["body"]["value"], 0);
        }
        assert!(check_delta(MAX_DELTA as i64).is_ok());
    }
}
