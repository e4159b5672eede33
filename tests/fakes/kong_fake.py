#!/usr/bin/env python3
"""A fake Kong Gateway CE node: Admin API /status, /clustering/data-planes, / and the
Prometheus plugin's /metrics, plus the Status API paths (/status, /status/ready, /metrics),
answering as /work/shared/reference/kong.md says Kong 2.8 and 3.x do.

Usage: kong_fake.py PORT [--version 3.9.1] [--role traditional|control_plane|data_plane]
                         [--dbless] [--listener admin|status] [--tls CERT KEY [--client-ca CA]]
(--client-ca: ask for a client certificate signed by CA, as an admin_listen behind mTLS does.)

The Kong version decides the wire format (kong.md): 2.8 names and buckets in /metrics for 2.x,
the 3.x names otherwise (workspace label from 3.7, kong_kong_latency_ms 3000/6000 buckets from
3.9); on DB-less nodes and data planes /status has `database` up to 3.3 and only
`configuration_hash` from 3.4; data-plane rows gain updated_at (3.3), labels (3.5),
cert_details (3.6) and rpc_capabilities (3.7). Kong's quirks are reproduced: JSON keys come in
a random order, empty tables as {} (or [] with "empty_style"), memory as "X.XX MiB" strings
unless ?unit=b, 400 from /clustering/data-planes on a node that is not a control plane,
/metrics sorted by series key with HELP before TYPE, `le` without padding, gauges named _total.

State (POST /__fake/state, merged; see fakebase.py for the failure modes):
  version, role, dbless        as the options
  db_reachable                 false: database.reachable false, kong_datastore_reachable 0
  config_hash                  the node's configuration hash (DB-less nodes, data planes)
  data_planes                  rows for /clustering/data-planes; a row's "last_seen_ago" (s)
                               sets last_seen relative to now (default: two rows as in kong.md)
  empty_style                  "{}" (default) or "[]": how empty tables are encoded
  ignore_unit                  true: memory as MiB strings even when ?unit=b is asked
  traffic                      {service: {"codes": {"200": n, ...}, "latency_ms": {"30": n},
                                "routes": k}}: added to the counters at every GET /metrics
  counters                     {service: {"codes": {...}, "latency_ms": {...}}}: set totals
  restart                      true: every counter back to zero (a Kong restart), once
  stream                       true: append a stream exposition that repeats HELP/TYPE
  plugin_metrics               false: a 3.x plugin with status/latency/bandwidth metrics off
Only the Python standard library is used.
"""
import copy
import json
import os
import random
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakebase  # noqa: E402

NODE_ID = "2f5a1c7e-8d9b-4e63-a7f1-5c0d3b9e4a21"
DICTS_3 = [("kong", 0.04, 5), ("kong_locks", 0.06, 8), ("kong_healthchecks", 0.04, 5),
           ("kong_cluster_events", 0.04, 5), ("kong_rate_limiting_counters", 0.08, 12),
           ("kong_core_db_cache", 0.76, 128), ("kong_core_db_cache_miss", 0.08, 12),
           ("kong_db_cache", 0.76, 128), ("kong_db_cache_miss", 0.08, 12),
           ("kong_secrets", 0.04, 5), ("prometheus_metrics", 0.10, 5)]
DICTS_28 = [d for d in DICTS_3 if d[0] != "kong_secrets"]
WORKERS = [(1287, 48.73), (1288, 51.02)]
BUCKETS_28 = [1, 2, 5, 7, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100, 200, 300, 400, 500,
              1000, 2000, 5000, 10000, 30000, 60000]
BUCKETS_KONG_3 = [1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000]
BUCKETS_REQ_3 = [25, 50, 80, 100, 250, 400, 700, 1000, 2000, 5000, 10000, 30000, 60000]
SYNC_STATUS_3 = ["unknown", "normal", "kong_version_incompatible", "plugin_set_incompatible",
                 "plugin_version_incompatible", "filter_set_incompatible"]
DEFAULT_DPS = [
    {"id": "0c5f7fd1-3d3e-4a57-9c1e-1b1f0f6a2b11", "hostname": "kong-dp-gold-7c9d5b6d8-x2kqp",
     "ip": "10.97.12.34", "last_seen_ago": 3, "config_hash": "a9a166c59873245db8f1a747ba9a80a7",
     "version": "3.9.1", "sync_status": "normal", "labels": {"site": "gold"},
     "cert_details": {"expiry_timestamp": 1749548345},
     "rpc_capabilities": ["kong.debug.v1", "kong.meta.v1"]},
    {"id": "5b1e2d9a-8c44-4f6e-a0e2-2cf3c7e9d0aa", "hostname": "kong-dp-golddr-5f7b8c9d4-h8w2n",
     "ip": "10.98.3.7", "last_seen_ago": 1246, "config_hash": "0" * 32, "version": "3.8.0",
     "sync_status": "normal"},
]
# Totals the counters start from (kong.md's samples).
START = {"orders-api": {"codes": {"200": 9721, "502": 4, "503": 17},
                        "latency_ms": {"20": 8012, "45": 1398, "300": 332}}}


def vtuple(v):
    out = []
    for part in str(v).split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits or 0))
    while len(out) < 3:
        out.append(0)
    return tuple(out)


def num(v):
    """LuaJIT tostring: %.14g."""
    if v == float("inf"):
        return "+Inf"
    return "%.14g" % v


def shuffled(obj):
    """lua-cjson's key order is hash order: any order."""
    if isinstance(obj, dict):
        items = list(obj.items())
        random.shuffle(items)
        return {k: shuffled(v) for k, v in items}
    if isinstance(obj, list):
        return [shuffled(x) for x in obj]
    return obj


class Counters:
    """Request counters and latency observations per service, as a Kong node accumulates them."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset(START)

    def reset(self, start=None):
        with self.lock:
            self.svc = {}
            for name, c in (start or {}).items():
                self._ensure(name, c.get("routes", 1))
                self._add(name, c)

    def _ensure(self, name, routes=1):
        if name not in self.svc:
            self.svc[name] = {"routes": max(1, int(routes)), "codes": {}, "obs": {}}
        return self.svc[name]

    def _add(self, name, inc):
        s = self._ensure(name, inc.get("routes", 1))
        for code, n in inc.get("codes", {}).items():
            s["codes"][str(code)] = s["codes"].get(str(code), 0) + int(n)
        for ms, n in inc.get("latency_ms", {}).items():
            s["obs"][float(ms)] = s["obs"].get(float(ms), 0) + int(n)

    def advance(self, traffic):
        with self.lock:
            for name, inc in (traffic or {}).items():
                self._add(name, inc)

    def set(self, totals):
        with self.lock:
            for name, c in totals.items():
                s = self._ensure(name, c.get("routes", 1))
                s["codes"] = {str(k): int(v) for k, v in c.get("codes", {}).items()}
                s["obs"] = {float(k): int(v) for k, v in c.get("latency_ms", {}).items()}

    def snapshot(self):
        with self.lock:
            return copy.deepcopy(self.svc)


COUNTERS = Counters()


class KongHandler(fakebase.FakeHandler):
    opts = {"version": "3.9.1", "role": "traditional", "dbless": False, "listener": "admin"}

    # ---- state ----

    def st(self, key, default=None):
        with self.state.lock:
            if key in self.state.custom:
                return self.state.custom[key]
        return self.opts.get(key, default)

    def version(self):
        return vtuple(self.st("version"))

    def major(self):
        return self.version()[0]

    def role(self):
        return self.st("role")

    def no_db(self):
        return self.role() == "data_plane" or bool(self.st("dbless"))

    def empty(self):
        return [] if self.st("empty_style", "{}") == "[]" else {}

    def on_reset(self):
        COUNTERS.reset(START)

    def json_answer(self, status, obj):
        body = json.dumps(shuffled(obj)).encode()
        return status, [("Content-Type", "application/json; charset=utf-8"),
                        ("Server", "kong/%s" % self.st("version"))], body

    def error_body(self, status):
        msg = {404: "Not found", 500: "An unexpected error happened",
               401: "Unauthorized", 403: "Forbidden"}.get(status, "fake error %d" % status)
        return (("Content-Type", "application/json; charset=utf-8"),), json.dumps(
            {"message": msg}).encode()

    def routes(self):
        status_api = self.opts["listener"] == "status"
        r = {("GET", "/status"): KongHandler.status, ("GET", "/metrics"): KongHandler.metrics}
        if status_api:
            if self.version() >= (3, 3, 0):
                r[("GET", "/status/ready")] = KongHandler.ready
        else:
            r[("GET", "/")] = KongHandler.root
            r[("GET", "/clustering/data-planes")] = KongHandler.data_planes
            r[("GET", "/clustering/status")] = KongHandler.clustering_status
        return r

    # ---- /status ----

    def status(self, query, body):
        q = urllib.parse.parse_qs(query)
        unit = q.get("unit", ["m"])[0]
        scale = q.get("scale", ["2"])[0]
        if unit not in ("b", "B", "k", "K", "m", "M", "g", "G"):
            return self.json_answer(400, {"message": "invalid unit '%s' (expected 'k/K', "
                                                     "'m/M', or 'g/G')" % unit})
        try:
            scale = int(scale)
            if scale < 0:
                raise ValueError
        except ValueError:
            return self.json_answer(400, {"message": "scale must be a positive number"})
        if self.st("ignore_unit"):
            unit = "m"

        def mem(mib):
            b = int(mib * 1048576)
            u = unit.lower()
            if u == "b":
                return b
            div, suffix = {"k": (1024, "KiB"), "m": (1048576, "MiB"), "g": (1073741824, "GiB")}[u]
            return "%.*f %s" % (scale, b / div, suffix)

        total = sum(sum(s["codes"].values()) for s in COUNTERS.snapshot().values())
        dicts = DICTS_28 if self.major() < 3 else DICTS_3
        out = {
            "server": {"connections_accepted": 120331, "connections_active": 9,
                       "connections_handled": 120331, "connections_reading": 0,
                       "connections_waiting": 7, "connections_writing": 2,
                       "total_requests": total},
            "memory": {
                "workers_lua_vms": [{"http_allocated_gc": mem(m), "pid": p} for p, m in WORKERS],
                "lua_shared_dicts": {n: {"allocated_slabs": mem(a), "capacity": mem(c)}
                                     for n, a, c in dicts},
            },
        }
        if self.no_db():
            out["configuration_hash"] = self.st("config_hash", "a9a166c59873245db8f1a747ba9a80a7")
            if self.version() < (3, 4, 0):
                out["database"] = {"reachable": True}
        else:
            out["database"] = {"reachable": bool(self.st("db_reachable", True))}
        return self.json_answer(200, out)

    def ready(self, query, body):
        if not self.no_db() and not self.st("db_reachable", True):
            return self.json_answer(503, {"message": "failed to connect to database"})
        if self.no_db() and set(self.st("config_hash", "1")) == {"0"}:
            return self.json_answer(503, {"message": "no configuration available (configuration "
                                                     "hash is not initialized)"})
        return self.json_answer(200, {"message": "ready"})

    def root(self, query, body):
        out = {"tagline": "Welcome to kong", "version": self.st("version"),
               "hostname": "kong-fake", "node_id": NODE_ID,
               "timers": {"running": 39, "pending": 6}, "lua_version": "LuaJIT 2.1.0-20231117",
               "plugins": {"available_on_server": {"prometheus": {"version": self.st("version"),
                                                                  "priority": 13}},
                           "enabled_in_cluster": ["prometheus"]},
               "configuration": {"role": self.role(),
                                 "database": "off" if self.no_db() else "postgres"},
               "pids": {"master": 1, "workers": [p for p, _ in WORKERS]}}
        if self.version() >= (3, 6, 0):
            out["edition"] = "community"
        return self.json_answer(200, out)

    # ---- hybrid mode ----

    def dp_rows(self):
        now = int(time.time())
        v = self.version()
        rows = []
        for src in self.st("data_planes", DEFAULT_DPS):
            r = dict(src)
            if "last_seen_ago" in r:
                r["last_seen"] = now - int(r.pop("last_seen_ago"))
            r.setdefault("ttl", 1209600 - max(0, now - r.get("last_seen", now)))
            if v >= (3, 3, 0):
                r.setdefault("updated_at", r.get("last_seen", now))
            else:
                r.pop("updated_at", None)
            if v < (3, 5, 0):
                r.pop("labels", None)
            elif "labels" in r and not r["labels"]:
                r["labels"] = self.empty()
            if v < (3, 6, 0):
                r.pop("cert_details", None)
            if v < (3, 7, 0):
                r.pop("rpc_capabilities", None)
            rows.append(r)
        return rows

    def not_cp(self):
        return self.json_answer(400, {"message": "this endpoint is only available when Kong is "
                                                 "configured to run as Control Plane for the "
                                                 "cluster"})

    def data_planes(self, query, body):
        if self.role() != "control_plane":
            return self.not_cp()
        q = urllib.parse.parse_qs(query)
        size = int(q.get("size", ["100"])[0])
        offset = int(q.get("offset", ["0"])[0] or 0)
        rows = self.dp_rows()
        page = rows[offset:offset + size]
        out = {"data": page if page else self.empty(), "next": None}
        if offset + size < len(rows):
            out["offset"] = str(offset + size)
            out["next"] = "/clustering/data-planes?offset=%d&size=%d" % (offset + size, size)
        return self.json_answer(200, out)

    def clustering_status(self, query, body):
        if self.role() != "control_plane":
            return self.not_cp()
        out = {r["id"]: {k: r[k] for k in ("config_hash", "hostname", "ip", "last_seen") if k in r}
               for r in self.dp_rows()}
        status, headers, body = self.json_answer(200, out or self.empty())
        return status, headers + [("Deprecation", "true")], body

    # ---- /metrics ----

    def metrics(self, query, body):
        if self.st("restart"):
            with self.state.lock:
                self.state.custom.pop("restart", None)
            COUNTERS.reset()
        if self.st("counters"):
            COUNTERS.set(self.st("counters"))
            with self.state.lock:
                self.state.custom.pop("counters", None)
        COUNTERS.advance(self.st("traffic"))
        svc = COUNTERS.snapshot()
        series = self.series_28(svc) if self.major() < 3 else self.series_3(svc)
        text = render(series)
        if self.st("stream"):
            text += render(self.stream_series())
        return 200, [("Content-Type", "text/plain; charset=UTF-8")], text.encode()

    def node_series(self, node_labels, sub="kong_subsystem"):
        """Memory families, the same in 2.8 and 3.x (plus node_id in 3.x)."""
        out = []
        for n, a, c in (DICTS_28 if self.major() < 3 else DICTS_3):
            lab = node_labels + [("shared_dict", n), (sub, "http")]
            out.append(("kong_memory_lua_shared_dict_bytes", "gauge",
                        "Allocated slabs in bytes in a shared_dict", "", lab, int(a * 1048576)))
            out.append(("kong_memory_lua_shared_dict_total_bytes", "gauge",
                        "Total capacity in bytes of a shared_dict", "", lab, int(c * 1048576)))
        for p, m in WORKERS:
            out.append(("kong_memory_workers_lua_vms_bytes", "gauge",
                        "Allocated bytes in worker Lua VM", "",
                        node_labels + [("pid", str(p)), (sub, "http")], int(m * 1048576)))
        return out

    def cluster_series(self, with_compat_version):
        out = []
        if self.role() == "control_plane":
            for r in self.dp_rows():
                lab = [("node_id", r["id"]), ("hostname", r.get("hostname", "")),
                       ("ip", r.get("ip", ""))]
                h = r.get("config_hash", "0" * 32)
                out.append(("kong_data_plane_config_hash", "gauge",
                            "Config hash numeric value of the data plane", "", lab,
                            float(int(h, 16)) if h.strip("0") else 0))
                out.append(("kong_data_plane_last_seen", "gauge",
                            "Last time data plane contacted control plane", "", lab,
                            r.get("last_seen", 0)))
                compat = 0 if r.get("sync_status", "").endswith("_incompatible") else 1
                out.append(("kong_data_plane_version_compatible", "gauge",
                            "Version compatible status of the data plane, 0 is incompatible", "",
                            lab + [("kong_version", r.get("version", ""))], compat))
        elif self.role() == "data_plane":
            out.append(("kong_data_plane_cluster_cert_expiry_timestamp", "gauge",
                        "Unix timestamp of Data Plane's cluster_cert expiry time", "", [],
                        1749548345))
        return out

    def upstream_series(self):
        if self.role() == "control_plane":
            return []
        out = []
        for state in ("dns_error", "healthchecks_off", "healthy", "unhealthy"):
            lab = [("upstream", "orders-upstream"), ("target", "10.1.2.3:8080"),
                   ("address", "10.1.2.3:8080"), ("state", state), ("subsystem", "http")]
            out.append(("kong_upstream_target_health", "gauge",
                        "Health status of targets of upstream. States = healthchecks_off|healthy|"
                        "unhealthy|dns_error, value is 1 when state is populated.", "", lab,
                        1 if state == "healthy" else 0))
        return out

    def histogram(self, name, help_, labels, obs, buckets, pick):
        """_bucket, _count and _sum series of one label set; pick maps an observation (ms) to
        the value this histogram records."""
        out = []
        values = [(pick(ms), n) for ms, n in obs.items()]
        for b in buckets + [float("inf")]:
            cnt = sum(n for v, n in values if v <= b)
            out.append((name, "histogram", help_, "_bucket", labels + [("le", b)], cnt))
        out.append((name, "histogram", help_, "_count", labels, sum(n for _, n in values)))
        out.append((name, "histogram", help_, "_sum", labels, sum(v * n for v, n in values)))
        return out

    def routes_of(self, name, s):
        k = s.get("routes", 1)
        return ["%s-route" % name] if k == 1 else ["%s-route-%d" % (name, i) for i in range(k)]

    @staticmethod
    def split(total, parts, i):
        """The i-th of `parts` near-equal shares of an integer total."""
        return total // parts + (1 if i < total % parts else 0)

    def series_3(self, svc):
        v = self.version()
        ws = [("workspace", "default")] if v >= (3, 7, 0) else []
        node = [("node_id", NODE_ID)]
        db_ok = 1 if (self.no_db() or self.st("db_reachable", True)) else 0
        out = [("kong_datastore_reachable", "gauge",
                "Datastore reachable from Kong, 0 is unreachable", "", [], db_ok)]
        conns = {"accepted": 120331, "active": 9, "handled": 120331, "reading": 0,
                 "total": sum(sum(s["codes"].values()) for s in svc.values()), "waiting": 7,
                 "writing": 2}
        for state, val in conns.items():
            out.append(("kong_nginx_connections_total", "gauge",
                        "Number of connections by subsystem", "",
                        node + [("subsystem", "http"), ("state", state)], val))
        out.append(("kong_nginx_metric_errors_total", "counter",
                    "Number of nginx-lua-prometheus errors", "", [], 0))
        out.append(("kong_nginx_requests_total", "gauge", "Number of requests total", "",
                    node + [("subsystem", "http")], conns["total"]))
        for state, val in (("pending", 6), ("running", 39)):
            out.append(("kong_nginx_timers", "gauge", "Number of nginx timers", "",
                        [("state", state)], val))
        out.append(("kong_node_info", "gauge", "Kong Node metadata information", "",
                    node + [("version", self.st("version"))], 1))
        out += self.node_series(node)
        out += self.cluster_series(True)
        out += self.upstream_series()
        if self.st("plugin_metrics", True) and self.role() != "control_plane":
            kb = BUCKETS_KONG_3 + ([3000, 6000] if v >= (3, 9, 0) else [])
            for name, s in svc.items():
                routes = self.routes_of(name, s)
                for i, route in enumerate(routes):
                    base = [("service", name), ("route", route)]
                    for code, n in s["codes"].items():
                        source = "kong" if code == "502" else "service"
                        out.append(("kong_http_requests_total", "counter",
                                    "HTTP status codes per consumer/service/route in Kong", "",
                                    base + [("code", code), ("source", source)] + ws +
                                    [("consumer", "")], self.split(n, len(routes), i)))
                    obs = {ms: self.split(n, len(routes), i) for ms, n in s["obs"].items()}
                    out += self.histogram("kong_request_latency_ms",
                                          "Total latency incurred during requests for each "
                                          "service/route in Kong", base + ws, obs,
                                          BUCKETS_REQ_3, lambda ms: ms)
                    out += self.histogram("kong_kong_latency_ms",
                                          "Latency added by Kong and enabled plugins for each "
                                          "service/route in Kong", base + ws, obs, kb,
                                          lambda ms: min(ms, 2))
                    out += self.histogram("kong_upstream_latency_ms",
                                          "Latency added by upstream response for each "
                                          "service/route in Kong", base + ws, obs, BUCKETS_REQ_3,
                                          lambda ms: max(ms - 2, 0))
                    total = sum(s["codes"].values())
                    for direction, per in (("egress", 538), ("ingress", 122)):
                        out.append(("kong_bandwidth_bytes", "counter",
                                    "Total bandwidth (ingress/egress) throughput in bytes", "",
                                    base + [("direction", direction)] + ws + [("consumer", "")],
                                    per * self.split(total, len(routes), i)))
        return out

    def series_28(self, svc):
        db_ok = 1 if (self.no_db() or self.st("db_reachable", True)) else 0
        out = [("kong_datastore_reachable", "gauge",
                "Datastore reachable from Kong, 0 is unreachable", "", [], db_ok)]
        conns = {"accepted": 120331, "active": 9, "handled": 120331, "reading": 0,
                 "total": sum(sum(s["codes"].values()) for s in svc.values()), "waiting": 7,
                 "writing": 2}
        for state, val in conns.items():
            out.append(("kong_nginx_http_current_connections", "gauge",
                        "Number of HTTP connections", "", [("state", state)], val))
        out.append(("kong_nginx_metric_errors_total", "counter",
                    "Number of nginx-lua-prometheus errors", "", [], 0))
        for state, val in (("pending", 6), ("running", 39)):
            out.append(("kong_nginx_timers", "gauge", "Number of nginx timers", "",
                        [("state", state)], val))
        out += self.node_series([])
        out += self.cluster_series(True)
        out += self.upstream_series()
        if self.role() != "control_plane":
            for name, s in svc.items():
                routes = self.routes_of(name, s)
                for i, route in enumerate(routes):
                    base = [("service", name), ("route", route)]
                    for code, n in s["codes"].items():
                        out.append(("kong_http_status", "counter",
                                    "HTTP status codes per service/route in Kong", "",
                                    base + [("code", code)], self.split(n, len(routes), i)))
                    obs = {ms: self.split(n, len(routes), i) for ms, n in s["obs"].items()}
                    help_ = ("Latency added by Kong, total request time and upstream latency "
                             "for each service/route in Kong")
                    for typ, pick in (("kong", lambda ms: min(ms, 2)), ("request", lambda ms: ms),
                                      ("upstream", lambda ms: max(ms - 2, 0))):
                        out += self.histogram("kong_latency", help_, base + [("type", typ)], obs,
                                              BUCKETS_28, pick)
                    total = sum(s["codes"].values())
                    for typ, per in (("egress", 538), ("ingress", 122)):
                        out.append(("kong_bandwidth", "counter",
                                    "Total bandwidth in bytes consumed per service/route in Kong",
                                    "", base + [("type", typ)],
                                    per * self.split(total, len(routes), i)))
        return out

    def stream_series(self):
        """The stream subsystem's exposition, appended after the HTTP one (kong.md section 6)."""
        node = [("node_id", NODE_ID)] if self.major() >= 3 else []
        out = [("kong_memory_lua_shared_dict_bytes", "gauge",
                "Allocated slabs in bytes in a shared_dict", "",
                node + [("shared_dict", "stream_kong"), ("kong_subsystem", "stream")], 40960),
               ("kong_memory_workers_lua_vms_bytes", "gauge", "Allocated bytes in worker Lua VM",
                "", node + [("pid", "1287"), ("kong_subsystem", "stream")], 30412800)]
        if self.major() >= 3:
            out.append(("kong_nginx_connections_total", "gauge",
                        "Number of connections by subsystem", "",
                        node + [("subsystem", "stream"), ("state", "active")], 2))
            out.append(("kong_stream_sessions_total", "counter",
                        "Stream status codes per service/route in Kong", "",
                        [("service", "pg-proxy"), ("route", "pg-route"), ("code", "200"),
                         ("source", "service")], 311))
        return out


def escape(v):
    return str(v).replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def render(series):
    """nginx-lua-prometheus: sorted by the series key with `le` zero-padded, HELP then TYPE once
    at a family's first series, `le` printed with tostring(tonumber())."""
    keyed = []
    for fam, typ, help_, suffix, labels, value in series:
        key_labels, out_labels = [], []
        for k, v in labels:
            if k == "le":
                key_labels.append('le="%s"' % ("Inf" if v == float("inf") else "%016.3f" % v))
                out_labels.append('le="%s"' % num(v))
            else:
                key_labels.append('%s="%s"' % (k, escape(v)))
                out_labels.append('%s="%s"' % (k, escape(v)))
        name = fam + suffix
        key = name + ("{" + ",".join(key_labels) + "}" if key_labels else "")
        line = name + ("{" + ",".join(out_labels) + "}" if out_labels else "")
        keyed.append((key, fam, typ, help_, line, value))
    keyed.sort(key=lambda x: x[0])
    out, seen = [], set()
    for key, fam, typ, help_, line, value in keyed:
        if fam not in seen:
            seen.add(fam)
            out.append("# HELP %s %s\n# TYPE %s %s\n" % (fam, help_, fam, typ))
        out.append("%s %s\n" % (line, num(value)))
    return "".join(out)


def serve_mtls(port, cert, key, client_ca):
    """fakebase.serve, with client certificates required."""
    import ssl
    KongHandler.state = fakebase.FakeState()
    srv = fakebase._Server(("127.0.0.1", int(port)), KongHandler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(client_ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("ready", flush=True)
    srv.serve_forever()


def main():
    args = sys.argv[1:]
    port = args.pop(0)
    tls = client_ca = None
    while args:
        a = args.pop(0)
        if a == "--version":
            KongHandler.opts["version"] = args.pop(0)
        elif a == "--role":
            KongHandler.opts["role"] = args.pop(0)
        elif a == "--dbless":
            KongHandler.opts["dbless"] = True
        elif a == "--listener":
            KongHandler.opts["listener"] = args.pop(0)
        elif a == "--tls":
            tls = (args.pop(0), args.pop(0))
        elif a == "--client-ca":
            client_ca = args.pop(0)
        else:
            sys.exit("kong_fake: unknown option %s" % a)
    if tls and client_ca:
        serve_mtls(port, tls[0], tls[1], client_ca)
    else:
        fakebase.serve(KongHandler, port, tls)


if __name__ == "__main__":
    main()
