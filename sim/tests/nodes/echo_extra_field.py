#!/usr/bin/env python3
"""A broken echo node: its replies carry a field the schema does not allow (`node`)."""
from maelnode import Node

node = Node()
node.on(
    "echo",
    lambda m: node.reply(m, {"type": "echo_ok", "echo": m["body"]["echo"], "node": node.id}),
)
node.run()
