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
"""
import argparse
import json
import os
import sys

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

    def status_doc(self):
        o = self.opts
        v4 = int(o.version.split(".")[0]) >= 4
        role = o.role if (o.role != "primary" or v4) else "master"
        doc = {"state": "running", "postmaster_start_time": "2024-06-10 08:12:31.402155+00:00",
               "role": role, "server_version": 150007, "timeline": 4,
               "dcs_last_seen": 1718012345, "database_system_identifier": "7378919247352168477",
               "patroni": {"version": o.version, "scope": o.scope}}
        if v4:
            doc["patroni"]["name"] = o.name
        if o.role == "primary":
            doc["xlog"] = {"location": 352321536}
        else:
            doc["xlog"] = {"received_location": 352319488, "replayed_location": 352319488,
                           "replayed_timestamp": "2024-06-10 09:45:39.998120+00:00",
                           "paused": False}
            doc["replication_state"] = "streaming"
        return doc

    def routes(self):
        o = self.opts
        leader_role = {"primary": "leader", "standby_leader": "standby_leader"}.get(o.role,
                                                                                    "replica")

        def leader(h, q, b):
            return self._json(200 if o.role in ("primary", "standby_leader") else 503,
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
            doc = {"ttl": 30, "loop_wait": 10, "retry_timeout": 10}
            if o.role == "standby_leader":
                doc["standby_cluster"] = {"host": "10.97.20.10", "port": 5432,
                                          "primary_slot_name": "pg_golddr"}
            return self._json(200, doc)

        return {("GET", "/leader"): leader, ("GET", "/patroni"): patroni,
                ("GET", "/cluster"): cluster, ("GET", "/config"): config}


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
