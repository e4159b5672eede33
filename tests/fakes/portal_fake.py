#!/usr/bin/env python3
"""A fake of the API services portal's maintenance switch, as the old switchover agent uses it
(/work/shared/reference/switchover-plans.md, MAINT_ON / MAINT_OFF): PUT
<MAINTENANCE_URL>/maintenance/true or /maintenance/false sets the banner and answers 200 with
{"state": <bool>}. Nothing else is documented, so nothing else is served (a GET is 404).

Usage: portal_fake.py PORT [--token TOKEN] [--tls CERT KEY] [--prefix /api]
  --token   a PUT without "Authorization: Bearer TOKEN" gets 401
  --prefix  the path the portal's URL ends with (MAINTENANCE_URL), default none

Test control (besides fakebase's /__fake/mode, /__fake/requests, /__fake/reset):
  GET  /activity                 every PUT so far, in order: {method, path, status, time}
  POST /__fake/state {"state": true}           the banner as it is now
                     {"answer": {"ok": 1}}     answer 200 with this body instead
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakebase  # noqa: E402

OPTS = {"token": None, "prefix": ""}
LOCK = threading.Lock()
STATE = {"state": False, "answer": None, "activity": []}


def reset():
    with LOCK:
        STATE.update({"state": False, "answer": None, "activity": []})


class Handler(fakebase.FakeHandler):
    def routes(self):
        p = OPTS["prefix"]
        return {("PUT", p + "/maintenance/true"): lambda h, q, b: h.put(True),
                ("PUT", p + "/maintenance/false"): lambda h, q, b: h.put(False)}

    def put(self, on):
        if OPTS["token"] and self.headers.get("Authorization") != "Bearer " + OPTS["token"]:
            return 401, [("Content-Type", "application/json")], b'{"detail":"Unauthorized"}'
        with LOCK:
            STATE["state"] = on
            body = STATE["answer"] if STATE["answer"] is not None else {"state": on}
        return 200, [("Content-Type", "application/json")], json.dumps(body).encode()

    def _dispatch(self, method):
        path = self.path.partition("?")[0]
        if path == "/activity" and method == "GET":
            with LOCK:
                body = json.dumps(STATE["activity"]).encode()
            return self._send(200, [("Content-Type", "application/json")], body)
        self.entry = None
        if method == "PUT":
            self.entry = {"method": method, "path": self.path, "status": None,
                          "time": time.time()}
            with LOCK:
                STATE["activity"].append(self.entry)
        return super()._dispatch(method)

    def _send(self, status, headers, body, close=False):
        if getattr(self, "entry", None) is not None:
            with LOCK:
                self.entry["status"] = status
            self.entry = None
        return super()._send(status, headers, body, close)

    def _control(self, path, body):
        if path == "/__fake/state":
            st = json.loads(body or b"{}")
            with LOCK:
                for k in ("state", "answer"):
                    if k in st:
                        STATE[k] = st[k]
            return 200, [], b"ok\n"
        return super()._control(path, body)

    def on_reset(self):
        reset()


def main():
    args = sys.argv[1:]
    port = args.pop(0)
    tls = None
    while args:
        flag = args.pop(0)
        if flag == "--token":
            OPTS["token"] = args.pop(0)
        elif flag == "--prefix":
            OPTS["prefix"] = args.pop(0).rstrip("/")
        elif flag == "--tls":
            tls = (args.pop(0), args.pop(0))
        else:
            raise SystemExit("portal_fake: unknown option " + flag)
    fakebase.serve(Handler, port, tls=tls)


if __name__ == "__main__":
    main()
