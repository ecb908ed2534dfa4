#!/usr/bin/env python3
"""A correct echo node."""
from maelnode import Node

node = Node()
node.on("echo", lambda m: node.reply(m, {"type": "echo_ok", "echo": m["body"]["echo"]}))
node.run()
