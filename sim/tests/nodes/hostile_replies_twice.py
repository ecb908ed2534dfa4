#!/usr/bin/env python3
"""A hostile echo node: it answers every echo twice."""
from maelnode import Node

node = Node()


def on_echo(m):
    for _ in range(2):
        node.reply(m, {"type": "echo_ok", "echo": m["body"]["echo"]})


node.on("echo", on_echo)
node.run()
