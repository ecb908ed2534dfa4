#!/usr/bin/env python3
"""A single-node transactional store for txn-rw-register ("r"/"w") and txn-list-append
("r"/"append"), executing each transaction alone, in arrival order. The first argument
picks a behaviour:
  serial        (default) correct: strict-serializable;
  aborted       every 5th transaction that writes is applied but answered with error 30
                (txn-conflict), so later reads see writes of a failed transaction (G1a);
  intermediate  when a transaction writes a key twice, the store keeps the first write
                (the transaction itself reads its own latest write), so other
                transactions read a value that was not its final one (G1b)."""
import copy
import json
import sys
from maelnode import Node

mode = sys.argv[1] if len(sys.argv) > 1 else "serial"
node = Node()
state = {}
writing_txns = [0]


def key(k):
    # JSON keys may be any value, and lists are not hashable.
    return json.dumps(k, sort_keys=True)


def on_txn(m):
    txn = m["body"]["txn"]
    local = {}
    first = {}
    out = []
    for f, k, v in txn:
        kk = key(k)
        current = local[kk] if kk in local else state.get(kk)
        if f == "r":
            out.append([f, k, copy.deepcopy(current)])
        elif f == "w":
            local[kk] = v
            first.setdefault(kk, v)
            out.append([f, k, v])
        else:
            local[kk] = (current or []) + [v]
            out.append([f, k, v])
    if mode == "intermediate":
        state.update(first)
    else:
        state.update(local)
    if local:
        writing_txns[0] += 1
        if mode == "aborted" and writing_txns[0] % 5 == 0:
            node.reply(m, {"type": "error", "code": 30, "text": "txn-conflict (but applied)"})
            return
    node.reply(m, {"type": "txn_ok", "txn": out})


node.on("txn", on_txn)
node.run()
