#!/usr/bin/env python3
"""A correct unique-ids node: node id plus a local counter."""
import itertools
from maelnode import Node

node = Node()
counter = itertools.count()
node.on("generate", lambda m: node.reply(m, {"type": "generate_ok", "id": f"{node.id}-{next(counter)}"}))
node.run()
