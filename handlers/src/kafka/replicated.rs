//! The `replicated` mode (5c, also fine for 5a): no service, no forwarding, no owner.
//!
//! A send is stored at once under a Lamport offset `L × N + i` (the node's clock ticked,
//! `N` nodes, `i` this node's index), acknowledged, and streamed to every peer by the
//! [`Replica`]. Commits are kept per node as a maximum and streamed the same way; lists
//! answer what this node knows. Polls wait for the watermark (see the family's doc).

use std::collections::BTreeMap;

use glomers_runtime::{Ctx, Sender};

use super::log::Msg;
use super::replica::Replica;
use super::wire::{ListOk, ListRequest, OffsetsRequest, SendOk, SendRequest, COMMIT_OK};
use super::Kafka;

/// `send`: tick the clock, store, acknowledge.
pub fn on_send(replica: &mut Replica, ctx: &mut Ctx<Kafka>, from: &Sender, req: SendRequest) {
    let key = replica.logs.intern(&req.key);
    replica.clock += 1;
    let offset = replica
        .clock
        .saturating_mul(replica.nodes)
        .saturating_add(replica.index);
    replica
        .logs
        .key_mut(key)
        .log
        .insert(offset, Msg::from_raw(req.msg));
    replica.record_entry(key, offset);
    ctx.reply(from, &SendOk::new(offset));
}

/// `commit_offsets`: keep the maximum, stream it.
pub fn on_commit(replica: &mut Replica, ctx: &mut Ctx<Kafka>, from: &Sender, req: OffsetsRequest) {
    for (name, offset) in &req.offsets {
        let key = replica.logs.intern(name);
        if replica.logs.commit(key, *offset) {
            replica.record_commit(key, *offset);
        }
    }
    ctx.reply(from, &COMMIT_OK);
}

/// `list_committed_offsets`: what this node knows.
pub fn on_list(replica: &Replica, ctx: &mut Ctx<Kafka>, from: &Sender, req: ListRequest) {
    let offsets: BTreeMap<&str, u64> = req
        .keys
        .iter()
        .filter_map(|name| {
            let entry = replica.logs.key(replica.logs.id(name)?);
            Some((entry.name.as_ref(), entry.committed?))
        })
        .collect();
    ctx.reply(from, &ListOk::new(offsets));
}
