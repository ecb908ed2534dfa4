#!/usr/bin/env python3
"""A broken broadcast node: it forwards each new value to every other node exactly once
and never retries, so a value whose gossip a partition drops stays missing on the far
side (lost under --nemesis partition; fine without one)."""
from maelnode import Node

node = Node()
values = set()


def on_broadcast(m):
    v = m["body"]["message"]
    if v not in values:
        values.add(v)
        for peer in node.ids:
            if peer != node.id:
                node.send(peer, {"type": "gossip", "value": v})
    node.reply(m, {"type": "broadcast_ok"})


def on_gossip(m):
    values.add(m["body"]["value"])


node.on("topology", lambda m: node.reply(m, {"type": "topology_ok"}))
node.on("broadcast", on_broadcast)
node.on("gossip", on_gossip)
node.on("read", lambda m: node.reply(m, {"type": "read_ok", "messages": sorted(values)}))
node.run()
