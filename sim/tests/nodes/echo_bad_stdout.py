#!/usr/bin/env python3
"""A broken echo node: on its third echo request it prints a log line on stdout, which
kills its output for the rest of the test (as in Maelstrom)."""
from maelnode import Node

node = Node()
count = [0]


def on_echo(m):
    count[0] += 1
    if count[0] == 3:
        node.raw("handling echo number 3")
    node.reply(m, {"type": "echo_ok", "echo": m["body"]["echo"]})


node.on("echo", on_echo)
node.run()
