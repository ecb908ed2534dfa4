#!/usr/bin/env python3
"""A broken broadcast node: it acknowledges broadcasts but never tells other nodes, so
reads on other nodes miss acknowledged values (lost)."""
from maelnode import Node

node = Node()
values = set()


def on_broadcast(m):
    values.add(m["body"]["message"])
    node.reply(m, {"type": "broadcast_ok"})


node.on("topology", lambda m: node.reply(m, {"type": "topology_ok"}))
node.on("broadcast", on_broadcast)
node.on("read", lambda m: node.reply(m, {"type": "read_ok", "messages": sorted(values)}))
node.run()
