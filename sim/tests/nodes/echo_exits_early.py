#!/usr/bin/env python3
"""A broken echo node: it exits with status 3 after its fifth echo."""
import sys
from maelnode import Node

node = Node()
count = [0]


def on_echo(m):
    count[0] += 1
    node.reply(m, {"type": "echo_ok", "echo": m["body"]["echo"]})
    if count[0] == 5:
        node.log("giving up after five echoes")
        sys.exit(3)


node.on("echo", on_echo)
node.run()
