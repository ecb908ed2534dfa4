#!/usr/bin/env python3
"""A broken node: it answers init with the wrong type, which crashes Maelstrom's setup."""
import json
import sys

for line in sys.stdin:
    msg = json.loads(line)
    body = msg["body"]
    if body.get("type") == "init":
        print("got init", file=sys.stderr, flush=True)
        reply = {"type": "init_okay", "in_reply_to": body["msg_id"]}
        print(json.dumps({"src": body["node_id"], "dest": msg["src"], "body": reply}), flush=True)
