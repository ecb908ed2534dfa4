#!/usr/bin/env python3
"""A hostile echo node: after two correct echoes it closes its stdout and keeps running,
reading (and ignoring) everything sent to it."""
import os
import sys
from maelnode import Node

node = Node()
count = [0]


def on_echo(m):
    count[0] += 1
    if count[0] <= 2:
        node.reply(m, {"type": "echo_ok", "echo": m["body"]["echo"]})
    elif count[0] == 3:
        node.log("closing stdout, staying alive")
        sys.stdout.flush()
        os.close(1)


node.on("echo", on_echo)
node.run()
