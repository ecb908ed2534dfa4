#!/usr/bin/env python3
"""A broken echo node: every third reply echoes a different string."""
from maelnode import Node

node = Node()
count = [0]


def on_echo(m):
    count[0] += 1
    echo = m["body"]["echo"]
    if count[0] % 3 == 0:
        echo = echo + " (changed)"
    node.reply(m, {"type": "echo_ok", "echo": echo})


node.on("echo", on_echo)
node.run()
