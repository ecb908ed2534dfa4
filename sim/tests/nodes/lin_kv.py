#!/usr/bin/env python3
"""A lin-kv node that forwards read, write and cas to Maelstrom's lin-kv service and
relays its answers (errors included). With the argument `stale` it caches the first
value it reads for each key and answers every later read from that cache, which is not
linearizable."""
import sys
import threading
from maelnode import Node

stale = len(sys.argv) > 1 and sys.argv[1] == "stale"
node = Node()
cache = {}
cache_lock = threading.Lock()


def relay(m, request, ok):
    def work():
        r = node.rpc_sync("lin-kv", request, timeout=2.0)
        if r is None:
            return
        if r.get("type") == "error":
            node.reply(m, {"type": "error", "code": r.get("code"), "text": r.get("text", "")})
            return
        node.reply(m, ok(r))

    threading.Thread(target=work, daemon=True).start()


def on_read(m):
    k = m["body"]["key"]
    if stale:
        with cache_lock:
            if k in cache:
                node.reply(m, {"type": "read_ok", "value": cache[k]})
                return

    def ok(r):
        if stale:
            with cache_lock:
                cache.setdefault(k, r["value"])
        return {"type": "read_ok", "value": r["value"]}

    relay(m, {"type": "read", "key": k}, ok)


def on_write(m):
    b = m["body"]
    relay(m, {"type": "write", "key": b["key"], "value": b["value"]}, lambda r: {"type": "write_ok"})


def on_cas(m):
    b = m["body"]
    relay(m, {"type": "cas", "key": b["key"], "from": b["from"], "to": b["to"]},
          lambda r: {"type": "cas_ok"})


node.on("read", on_read)
node.on("write", on_write)
node.on("cas", on_cas)
node.run()
