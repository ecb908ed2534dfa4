#!/usr/bin/env python3
"""A broken unique-ids node: a plain local counter, so nodes hand out the same ids."""
import itertools
from maelnode import Node

node = Node()
counter = itertools.count()
node.on("generate", lambda m: node.reply(m, {"type": "generate_ok", "id": next(counter)}))
node.run()
