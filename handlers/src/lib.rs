//! Handler families for the Gossip Glomers challenges and for Maelstrom's other workloads
//! ("beyond" in the table). Each module registers itself with
//! the runtime's registry at link time (`inventory::submit!`); the host binary links this
//! crate and the config decides which families run.
//!
//! | family     | challenge | message types |
//! |------------|-----------|---------------|
//! | `echo`     | 1         | echo          |
//! | `generate` | 2         | generate      |
//! | `broadcast`| 3a–3e     | broadcast, read, topology (+ `bcast_*` gossip) |
//! | `counter`  | 4; beyond: pn-counter (crdt mode) | add, read (+ `counter_*` gossip) |
//! | `kafka`    | 5a–5c     | send, poll, commit_offsets, list_committed_offsets (+ `kafka_*`) |
//! | `txn`      | 6a–6c     | txn (+ `txn_*` replication) |
//! | `gset`     | beyond: g-set | add, read (+ broadcast's `bcast_gossip`) |
//! | `raft`     | beyond: lin-kv, txn-rw-register, txn-list-append | read, write, cas or txn (+ `raft_*`) |

pub mod broadcast;
pub mod counter;
pub mod echo;
pub mod g_set;
pub mod generate;
pub mod kafka;
pub mod raft;
pub mod txn;

#[cfg(test)]
mod served_node;

include!(concat!(env!("OUT_DIR"), "/presets.rs"));

/// Referenced by the host binary so the linker keeps this crate (and with it every
/// family's registration) even though nothing else in it is called by name.
pub fn link() {}

/// The guide `handlers/README.md`, whose worked example runs as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct AddingAFamily;
