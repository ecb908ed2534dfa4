#!/usr/bin/env python3
"""A hostile echo node that ignores SIGTERM, SIGINT and SIGHUP."""
import signal
from maelnode import Node

for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, signal.SIG_IGN)
node = Node()
node.on("echo", lambda m: node.reply(m, {"type": "echo_ok", "echo": m["body"]["echo"]}))
node.log("ignoring SIGTERM, SIGINT and SIGHUP")
node.run()
