#!/usr/bin/env python3
"""A hostile node: it answers init, then never reads stdin again, so its pipe fills up.
Meanwhile it sends its peers 12 MB of valid but useless messages (1 KB each), which fill
their stdin backlogs as well, since they do not read either."""
import json
import sys
import time

init = json.loads(sys.stdin.readline())
me = init["body"]["node_id"]
peers = [n for n in init["body"]["node_ids"] if n != me]
reply = {"src": me, "dest": init["src"],
         "body": {"type": "init_ok", "in_reply_to": init["body"]["msg_id"]}}
sys.stdout.write(json.dumps(reply) + "\n")
sys.stdout.flush()
print("answered init; never reading stdin again", file=sys.stderr, flush=True)
pad = "x" * 1000
for peer in peers:
    line = json.dumps({"src": me, "dest": peer, "body": {"type": "noise", "pad": pad}}) + "\n"
    block = line * 1000
    for _ in range(12):
        sys.stdout.write(block)
        sys.stdout.flush()
while True:
    time.sleep(60)
