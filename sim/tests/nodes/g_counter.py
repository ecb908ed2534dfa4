#!/usr/bin/env python3
"""A correct g-counter on seq-kv: each node keeps its own total under its id in seq-kv and
a read sums every node's key, after a unique write that pins this node to seq-kv's newest
state (so the read is fresh)."""
import threading
import uuid
from maelnode import Node

node = Node()
mine = [0]
mlock = threading.Lock()


def on_add(m):
    def work():
        with mlock:
            mine[0] += m["body"]["delta"]
            total = mine[0]
            node.rpc_sync("seq-kv", {"type": "write", "key": node.id, "value": total})
        node.reply(m, {"type": "add_ok"})

    threading.Thread(target=work, daemon=True).start()


def on_read(m):
    def work():
        node.rpc_sync("seq-kv", {"type": "write", "key": "nonce-" + node.id, "value": uuid.uuid4().hex})
        total = 0
        for peer in node.ids:
            r = node.rpc_sync("seq-kv", {"type": "read", "key": peer})
            if r is not None and r.get("type") == "read_ok":
                total += r["value"]
        node.reply(m, {"type": "read_ok", "value": total})

    threading.Thread(target=work, daemon=True).start()


node.on("add", on_add)
node.on("read", on_read)
node.run()
