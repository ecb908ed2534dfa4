#!/usr/bin/env python3
"""A hostile echo node: after two correct echoes it sends messages to a node that does not
exist (n9) in a tight loop, forever."""
import json
import sys
from maelnode import Node

node = Node()
count = [0]


def on_echo(m):
    count[0] += 1
    if count[0] <= 2:
        node.reply(m, {"type": "echo_ok", "echo": m["body"]["echo"]})
        return
    node.log("flooding messages to n9")
    line = json.dumps({"src": node.id, "dest": "n9", "body": {"type": "gossip"}}) + "\n"
    block = (line * 1000).encode()
    with node.lock:
        out = sys.stdout.buffer
        while True:
            out.write(block)
            out.flush()


node.on("echo", on_echo)
node.run()
