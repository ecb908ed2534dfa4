#!/usr/bin/env python3
"""A hostile echo node: it answers its third echo with one 50 MB line (a correct reply
padded with a 50 MB extra field) and the others correctly."""
from maelnode import Node

node = Node()
count = [0]


def on_echo(m):
    count[0] += 1
    body = {"type": "echo_ok", "echo": m["body"]["echo"]}
    if count[0] == 3:
        body["pad"] = "x" * (50 * 1000 * 1000)
        node.log("sending a 50 MB line")
    node.reply(m, body)


node.on("echo", on_echo)
node.run()
