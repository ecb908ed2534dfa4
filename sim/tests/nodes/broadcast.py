#!/usr/bin/env python3
"""A correct broadcast node: stores values and gossips its whole set to every other node
every 200 ms (anti-entropy), so values cross partitions once they heal."""
import threading
import time
from maelnode import Node

node = Node()
values = set()
vlock = threading.Lock()


def gossip_loop():
    while True:
        time.sleep(0.2)
        with vlock:
            snapshot = sorted(values)
        for peer in node.ids:
            if peer != node.id:
                node.send(peer, {"type": "gossip", "values": snapshot})


def on_broadcast(m):
    with vlock:
        values.add(m["body"]["message"])
    node.reply(m, {"type": "broadcast_ok"})


def on_gossip(m):
    with vlock:
        values.update(m["body"]["values"])


def on_read(m):
    with vlock:
        snapshot = sorted(values)
    node.reply(m, {"type": "read_ok", "messages": snapshot})


node.on_init = lambda: threading.Thread(target=gossip_loop, daemon=True).start()
node.on("topology", lambda m: node.reply(m, {"type": "topology_ok"}))
node.on("broadcast", on_broadcast)
node.on("gossip", on_gossip)
node.on("read", on_read)
node.run()
