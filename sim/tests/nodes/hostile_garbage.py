#!/usr/bin/env python3
"""A hostile echo node: after two correct echoes it writes random bytes to stdout at about
100 MB/s (1 MB every 10 ms, newlines and invalid UTF-8 included) and never stops."""
import os
import sys
import time
from maelnode import Node

node = Node()
count = [0]
GARBAGE = os.urandom(8 << 20)
CHUNK = 1 << 20


def flood():
    out = sys.stdout.buffer
    next_at = time.monotonic()
    offset = 0
    while True:
        out.write(GARBAGE[offset:offset + CHUNK])
        out.flush()
        offset = (offset + CHUNK) % len(GARBAGE)
        next_at += 0.01
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def on_echo(m):
    count[0] += 1
    if count[0] <= 2:
        node.reply(m, {"type": "echo_ok", "echo": m["body"]["echo"]})
    else:
        node.log("flooding stdout with garbage")
        with node.lock:
            flood()


node.on("echo", on_echo)
node.run()
