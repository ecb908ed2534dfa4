#!/usr/bin/env python3
"""A correct echo node. It logs its arguments and working directory on stderr."""
import os
import sys
from maelnode import Node

print("args:", sys.argv[1:], "cwd:", os.getcwd(), file=sys.stderr, flush=True)
node = Node()
node.on("echo", lambda m: node.reply(m, {"type": "echo_ok", "echo": m["body"]["echo"]}))
node.run()
