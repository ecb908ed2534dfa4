#!/usr/bin/env python3
"""A single-node kafka: one in-memory log per key with offsets 0, 1, 2, ..., committed
offsets kept as given. The first argument picks a behaviour:
  correct  (default) a correct node;
  lose     every 4th acknowledged send is never stored (a lost write);
  reorder  a poll returning two or more messages swaps its first two."""
import sys
from maelnode import Node

mode = sys.argv[1] if len(sys.argv) > 1 else "correct"
node = Node()
logs = {}
next_offset = {}
committed = {}
sends = [0]


def on_send(m):
    b = m["body"]
    k = b["key"]
    offset = next_offset.get(k, 0)
    next_offset[k] = offset + 1
    sends[0] += 1
    if not (mode == "lose" and sends[0] % 4 == 0):
        logs.setdefault(k, []).append([offset, b["msg"]])
    node.reply(m, {"type": "send_ok", "offset": offset})


def on_poll(m):
    out = {}
    for k, start in m["body"]["offsets"].items():
        msgs = [p for p in logs.get(k, []) if p[0] >= start]
        if mode == "reorder" and len(msgs) >= 2:
            msgs[0], msgs[1] = msgs[1], msgs[0]
        if msgs:
            out[k] = msgs
    node.reply(m, {"type": "poll_ok", "msgs": out})


def on_commit(m):
    for k, offset in m["body"]["offsets"].items():
        committed[k] = max(committed.get(k, offset), offset)
    node.reply(m, {"type": "commit_offsets_ok"})


def on_list(m):
    offsets = {k: committed[k] for k in m["body"]["keys"] if k in committed}
    node.reply(m, {"type": "list_committed_offsets_ok", "offsets": offsets})


node.on("send", on_send)
node.on("poll", on_poll)
node.on("commit_offsets", on_commit)
node.on("list_committed_offsets", on_list)
node.run()
