"""A tiny Maelstrom node library for the bench's end-to-end tests (stdlib only).

Handlers run on the reader thread unless they start their own; `rpc_sync` blocks the
calling thread until the reply arrives, so call it from a worker thread.
"""
import json
import sys
import threading


class Node:
    def __init__(self):
        self.id = None
        self.ids = []
        self.handlers = {}
        self.lock = threading.Lock()
        self.next_msg_id = 0
        self.waiters = {}
        self.on_init = None

    def log(self, *args):
        print(*args, file=sys.stderr, flush=True)

    def send(self, dest, body):
        line = json.dumps({"src": self.id, "dest": dest, "body": body})
        with self.lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def raw(self, text):
        """Writes `text` as one stdout line, bypassing the envelope (for broken nodes)."""
        with self.lock:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def reply(self, msg, body):
        body = dict(body)
        body["in_reply_to"] = msg["body"]["msg_id"]
        self.send(msg["src"], body)

    def rpc_sync(self, dest, body, timeout=1.0):
        """Sends an RPC and waits for its reply body (None on timeout)."""
        with self.lock:
            self.next_msg_id += 1
            mid = self.next_msg_id
            ev = threading.Event()
            slot = {"event": ev, "reply": None}
            self.waiters[mid] = slot
        body = dict(body)
        body["msg_id"] = mid
        self.send(dest, body)
        ev.wait(timeout)
        with self.lock:
            self.waiters.pop(mid, None)
        return slot["reply"]

    def on(self, typ, fn):
        self.handlers[typ] = fn

    def run(self):
        for line in sys.stdin:
            msg = json.loads(line)
            body = msg["body"]
            irt = body.get("in_reply_to")
            if irt is not None:
                with self.lock:
                    slot = self.waiters.get(irt)
                if slot is not None:
                    slot["reply"] = body
                    slot["event"].set()
                continue
            typ = body.get("type")
            if typ == "init":
                self.id = body["node_id"]
                self.ids = body["node_ids"]
                if self.on_init:
                    self.on_init()
                self.reply(msg, {"type": "init_ok"})
                continue
            handler = self.handlers.get(typ)
            if handler is None:
                self.log("no handler for", typ)
                continue
            handler(msg)
