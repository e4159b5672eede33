#!/usr/bin/env python3
"""A generic webhook receiver for drwatch's alert delivery tests (Alertmanager's webhook JSON).

Usage: webhook_fake.py PORT [--delay-ms MAX] [--log FILE]  (prints "ready" once listening)

  POST /hook, /hook/<anything>   records the notification, answers 200 "ok"
  GET  /__fake/received          what was received, in order: [{"path", "key", "auth",
                                 "content_type", "body" (parsed JSON, or the text), "at"}]
  GET  /__fake/keys              only the Idempotency-Key of each, in order
  GET  /__fake/arrivals          every POST to /hook... as it arrived, whatever it was answered
                                 (also 429s and 5xx of the failure modes): [{"path", "at"}]

--delay-ms MAX waits a random 0..MAX ms before answering (so that a test killing the sender
finds notifications in flight). --log FILE appends each key to FILE as it arrives (flushed),
so a test can read what arrived even if it stops the fake. The failure modes of fakebase.py
apply (POST /__fake/mode {"path": "/hook", "mode": "status", "status": 503, "count": 2}).
Only the Python standard library is used.
"""
import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakebase  # noqa: E402

OPTS = {"delay_ms": 0, "log": None}
RECEIVED = []
ARRIVALS = []
LOCK = threading.Lock()


def hook(handler, query, body):
    if OPTS["delay_ms"]:
        time.sleep(random.uniform(0, OPTS["delay_ms"]) / 1000.0)
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = body.decode("utf-8", "replace")
    item = {"path": handler.path, "key": handler.headers.get("Idempotency-Key"),
            "auth": handler.headers.get("Authorization"),
            "content_type": handler.headers.get("Content-Type"), "body": parsed,
            "at": time.time()}
    with LOCK:
        RECEIVED.append(item)
        if OPTS["log"]:
            with open(OPTS["log"], "a") as f:
                f.write("%s\n" % item["key"])
    return 200, [("Content-Type", "text/plain")], b"ok\n"


class WebhookHandler(fakebase.FakeHandler):
    def _dispatch(self, method):
        if method == "POST" and self.path.startswith("/hook"):
            with LOCK:
                ARRIVALS.append({"path": self.path, "at": time.time()})
        return super()._dispatch(method)

    def routes(self):
        path = self.path.partition("?")[0]
        r = {("POST", "/hook"): hook}
        if path.startswith("/hook/"):
            r[("POST", path)] = hook
        return r

    def _control(self, path, body):
        if path in ("/__fake/received", "/__fake/keys", "/__fake/arrivals"):
            with LOCK:
                if path.endswith("received"):
                    out = RECEIVED
                elif path.endswith("keys"):
                    out = [r["key"] for r in RECEIVED]
                else:
                    out = ARRIVALS
                data = json.dumps(out).encode()
            return 200, [("Content-Type", "application/json")], data
        if path == "/__fake/reset":
            with LOCK:
                RECEIVED.clear()
                ARRIVALS.clear()
        return super()._control(path, body)

    def error_body(self, status):
        # Echoes the path, as some receivers do: a secret in the URL must be cut from logs.
        return (("Content-Type", "application/json"),), json.dumps(
            {"error": "fake refuses with %d" % status, "path": self.path}).encode()


def main():
    args = sys.argv[1:]
    port = args.pop(0)
    while args:
        a = args.pop(0)
        if a == "--delay-ms":
            OPTS["delay_ms"] = int(args.pop(0))
        elif a == "--log":
            OPTS["log"] = args.pop(0)
        else:
            sys.exit("webhook_fake: unknown option %s" % a)
    fakebase.serve(WebhookHandler, port)


if __name__ == "__main__":
    main()
