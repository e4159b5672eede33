#!/usr/bin/env python3
"""A fake Patroni member REST API, for the failure modes a real Patroni cannot be made to show
(tests/integration/patroni_lab.t runs the real one): garbage, bodies over the cap, hangs,
errors, cut bodies, and Patroni 4.x naming.

Usage: patroni_fake.py PORT [--version 4.1.4|3.0.2] [--role primary|replica|standby_leader]
       [--scope NAME] [--name NAME]

Answers as patroni.md section 1 says Patroni does: HTTP/1.0, no Content-Length, the body ends
when the connection closes. GET /leader (and /patroni) give the status document of section 2
with 200 or 503 as section 3's matrix says for /leader; GET /cluster and GET /config as sections
4 and 6. The role "primary" is written "master" for versions before 4. Misbehaviour per path
through fakebase's /__fake/mode (hang, close, status, garbage, truncate, huge, ...).

PATCH /config (for the switchover actuators) merges the body into the config (RFC 7386, null
deletes) and answers 200 with the whole new config, as Patroni does; a standby_cluster object
makes the member a standby_leader, standby_cluster null a primary. Steered through
/__fake/state, which the GETs above leave alone:
  {"auth": "Basic ..."}          PATCH without that Authorization header: 401, as Patroni's
                                 restapi.authentication
  {"patch": {"status": 409}}     PATCH answers that status (Patroni's HTML error page)
  {"patch": {"garbage": true}}   PATCH answers 200 with bytes that are not JSON
  {"patch": {"ignore": true}}    PATCH answers 200 with the config unchanged
  {"patch": {"hang": true}}      PATCH never answers
  {"node_state": "stopped"}      the status documents say this state (a member that cannot
                                 start after its demotion)
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from fakebase import FakeHandler, serve  # noqa: E402


class Patroni(FakeHandler):
    protocol_version = "HTTP/1.0"
    opts = None

    def _send(self, status, headers, body, close=True):
        # Patroni's write_response: status line, Server/Date, Content-Type, no length.
        self.send_response(status)
        for k, v in headers:
            if k.lower() != "content-length":
                self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def error_body(self, status):
        return (("Content-Type", "text/html;charset=utf-8"),), (
            "<html><body><h1>Error response</h1><p>Error code: %d</p></body></html>\n"
            % status).encode()

    def _json(self, status, doc):
        return status, [("Content-Type", "application/json")], json.dumps(doc).encode()

    def custom(self, key, default=None):
        with self.state.lock:
            return self.state.custom.get(key, default)

    def role(self):
        return self.custom("role", self.opts.role)

    def config_doc(self):
        doc = self.custom("config")
        if doc is None:
            doc = {"ttl": 30, "loop_wait": 10, "retry_timeout": 10}
            if self.opts.role == "standby_leader":
                doc["standby_cluster"] = {"host": "10.97.20.10", "port": 5432,
                                          "primary_slot_name": "pg_golddr"}
        return doc

    def status_doc(self):
        o = self.opts
        v4 = int(o.version.split(".")[0]) >= 4
        role = self.role() if (self.role() != "primary" or v4) else "master"
        doc = {"state": self.custom("node_state", "running"),
               "postmaster_start_time": "2024-06-10 08:12:31.402155+00:00", "role": role, "server_version": 150007, "timeline": 4,
               "dcs_last_seen": 1718012345, "database_system_identifier": "7378919247352168477",
               "patroni": {"version": o.version, "scope": o.scope}}
        if v4:
            doc["patroni"]["name"] = o.name
        if self.role() == "primary":
            doc["xlog"] = {"location": 352321536}
        else:
            doc["xlog"] = {"received_location": 352319488, "replayed_location": 352319488,
                           "replayed_timestamp": "2024-06-10 09:45:39.998120+00:00",
                           "paused": False}
            doc["replication_state"] = "streaming"
        return doc

    def patch_config(self, h, q, b):
        knob = self.custom("patch", {})
        if self.custom("auth") and self.headers.get("Authorization") != self.custom("auth"):
            return 401, [("Content-Type", "text/html")], b"no auth header received"
        if knob.get("hang"):
            time.sleep(3600)
        if "status" in knob:
            headers, out = self.error_body(int(knob["status"]))
            return int(knob["status"]), list(headers), out
        if knob.get("garbage"):
            return 200, [("Content-Type", "application/json")], b"<html>\x01 not json"
        doc = self.config_doc()
        if not knob.get("ignore"):
            doc = merge(doc, json.loads(b or b"{}"))
            with self.state.lock:
                self.state.custom["config"] = doc
                self.state.custom["role"] = ("standby_leader" if isinstance(
                    doc.get("standby_cluster"), dict) else "primary")
        return self._json(200, doc)

    def routes(self):
        o = self.opts
        leader_role = {"primary": "leader", "standby_leader": "standby_leader"}.get(self.role(),
                                                                                    "replica")

        def leader(h, q, b):
            return self._json(200 if self.role() in ("primary", "standby_leader") else 503,
                              self.status_doc())

        def patroni(h, q, b):
            return self._json(200, self.status_doc())

        def cluster(h, q, b):
            port = self.server.server_address[1]
            m = {"name": o.name, "role": leader_role, "state": "running",
                 "api_url": "http://127.0.0.1:%d/patroni" % port, "host": "127.0.0.1",
                 "port": 5432, "timeline": 4}
            doc = {"members": [m]}
            if int(o.version.split(".")[0]) >= 4:
                doc["scope"] = o.scope
            return self._json(200, doc)

        def config(h, q, b):
            return self._json(200, self.config_doc())

        return {("GET", "/leader"): leader, ("GET", "/patroni"): patroni,
                ("GET", "/cluster"): cluster, ("GET", "/config"): config,
                ("PATCH", "/config"): self.patch_config}


def merge(target, patch):
    """RFC 7386 merge patch."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge(out.get(k), v)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--version", default="4.1.4")
    ap.add_argument("--role", default="primary")
    ap.add_argument("--scope", default="pg-gold")
    ap.add_argument("--name", default="pg-gold-0")
    Patroni.opts = ap.parse_args()
    serve(Patroni, Patroni.opts.port)


if __name__ == "__main__":
    main()
