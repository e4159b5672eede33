#!/usr/bin/env python3
"""A fake FluentD in_monitor_agent (port 24220 API), answering as
/work/shared/reference/fluentd.md says, with the FluentD version as a parameter.

Usage: fluentd_fake.py PORT [--version 1.19.3] [--include-config BOOL] [--include-retry BOOL]
                        [--tls CERT KEY]

Endpoints: GET /api/plugins.json (compact JSON {"plugins":[...]}), GET /api/plugins (LTSV),
GET /api/config.json, GET /api/config; anything else 404 {"message":"Not found"}. Query
filters ?tag= (ignored here: no routing), ?@id=/?id=, ?@type=/?type=.

Version differences (fluentd.md §2):
  <= 1.19.2   config and retry objects shown by default; ?with_config= / ?with_retry= override
  >= 1.19.3   shown only with include_config / include_retry true; the query is ignored
  <  1.19.0   outputs lack write_secondary_count and drop_oldest_chunk_count
  <  1.14.0   inputs and filters lack emit_records and emit_size

State (POST /__fake/state): {"version": "1.18.0"}, {"include_retry": true},
{"include_config": true}, {"plugins": [full plugin objects, as 1.19.2 with config and retry
would show them]}. Misbehaviour through fakebase's /__fake/mode.
"""
import copy
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakebase  # noqa: E402

# Full objects in monitor_agent's key order (identity, MONITOR_INFO, statistics, retry).
DEFAULT_PLUGINS = [
    {"plugin_id": "in_forward", "plugin_category": "input", "type": "forward",
     "config": {"@type": "forward", "@id": "in_forward", "port": "24224"},
     "output_plugin": False, "retry_count": None, "emit_records": 1840221, "emit_size": 0},
    {"plugin_id": "in_monitor_agent", "plugin_category": "input", "type": "monitor_agent",
     "config": {"@type": "monitor_agent", "@id": "in_monitor_agent", "port": "24220"},
     "output_plugin": False, "retry_count": None, "emit_records": 0, "emit_size": 0},
    {"plugin_id": "out_es", "plugin_category": "output", "type": "elasticsearch",
     "config": {"@type": "elasticsearch", "@id": "out_es", "host": "es.logging.svc",
                "port": "9200"},
     "output_plugin": True, "buffer_queue_length": 12, "buffer_timekeys": [],
     "buffer_total_queued_size": 50331648, "retry_count": 7, "emit_records": 1840221,
     "emit_size": 0, "emit_count": 90233, "write_count": 4410, "write_secondary_count": 0,
     "rollback_count": 7, "slow_flush_count": 3, "flush_time_count": 982341,
     "drop_oldest_chunk_count": 0, "buffer_stage_length": 1, "buffer_stage_byte_size": 2097152,
     "buffer_queue_byte_size": 48234496, "buffer_available_buffer_space_ratios": 92.5,
     "retry": {"start": "2024-06-10 09:41:02 +0000", "steps": 6,
               "next_time": "2024-06-10 09:45:18 +0000"}},
    {"plugin_id": "out_stdout", "plugin_category": "output", "type": "stdout",
     "config": {"@type": "stdout", "@id": "out_stdout"},
     "output_plugin": True, "retry_count": 0, "emit_records": 12, "emit_size": 0,
     "emit_count": 12, "write_count": 0, "write_secondary_count": 0, "rollback_count": 0,
     "slow_flush_count": 0, "flush_time_count": 0, "drop_oldest_chunk_count": 0,
     "retry": {}},
    {"plugin_id": "filter_k8s", "plugin_category": "filter", "type": "kubernetes_metadata",
     "config": {"@type": "kubernetes_metadata", "@id": "filter_k8s"},
     "output_plugin": False, "retry_count": None, "emit_records": 1840221, "emit_size": 0},
]


def version_tuple(v):
    return tuple(int(x) for x in v.split(".")[:3])


def truthy(v):
    return str(v).lower() in ("1", "true", "yes")


class Handler(fakebase.FakeHandler):
    options = {}

    def custom(self, key, default):
        with self.state.lock:
            return self.state.custom.get(key, self.options.get(key, default))

    def error_body(self, status):
        msg = "Not found" if status == 404 else "fake error %d" % status
        return (("Content-Type", "application/json"),), json.dumps(
            {"message": msg}, separators=(",", ":")).encode()

    def visible_plugins(self, query):
        q = urllib.parse.parse_qs(query)
        version = version_tuple(self.custom("version", "1.19.3"))
        show_config = truthy(self.custom("include_config", version < (1, 19, 3)))
        show_retry = truthy(self.custom("include_retry", version < (1, 19, 3)))
        if version < (1, 19, 3):
            if "with_config" in q:
                show_config = truthy(q["with_config"][0])
            if "with_retry" in q:
                show_retry = truthy(q["with_retry"][0])
        want_id = (q.get("@id") or q.get("id") or [None])[0]
        want_type = (q.get("@type") or q.get("type") or [None])[0]
        out = []
        for p in copy.deepcopy(self.custom("plugins", DEFAULT_PLUGINS)):
            if want_id and p.get("plugin_id") != want_id:
                continue
            if want_type and p.get("type") != want_type:
                continue
            if not show_config:
                p.pop("config", None)
            if not show_retry:
                p.pop("retry", None)
            if version < (1, 19, 0):
                p.pop("write_secondary_count", None)
                p.pop("drop_oldest_chunk_count", None)
            if version < (1, 14, 0) and p.get("plugin_category") != "output":
                p.pop("emit_records", None)
                p.pop("emit_size", None)
            out.append(p)
        return out

    def plugins_json(self, query, body):
        data = json.dumps({"plugins": self.visible_plugins(query)}, separators=(",", ":"))
        return 200, [("Content-Type", "application/json")], data.encode()

    def plugins_ltsv(self, query, body):
        lines = []
        for p in self.visible_plugins(query):
            cols = []
            for k, v in p.items():
                if isinstance(v, dict):
                    continue  # Hash values (config, retry) are skipped
                if isinstance(v, list):
                    v = ",".join(str(x) for x in v)
                elif v is None:
                    v = ""
                elif isinstance(v, bool):
                    v = "true" if v else "false"
                cols.append("%s:%s" % (k, v))
            lines.append("\t".join(cols))
        return 200, [("Content-Type", "text/plain")], ("\n".join(lines) + "\n").encode()

    def config_info(self):
        return {"pid": 2817, "ppid": 2801, "version": self.custom("version", "1.19.3"),
                "config_path": "/fluentd/etc/fluent.conf", "pid_file": None,
                "plugin_dirs": ["/etc/fluent/plugin"], "log_path": None}

    def config_json(self, query, body):
        return 200, [("Content-Type", "application/json")], json.dumps(
            self.config_info(), separators=(",", ":")).encode()

    def config_ltsv(self, query, body):
        text = "\t".join("%s:%s" % (k, "" if v is None else v)
                         for k, v in self.config_info().items()
                         if not isinstance(v, list)) + "\n"
        return 200, [("Content-Type", "text/plain")], text.encode()

    def routes(self):
        return {("GET", "/api/plugins.json"): Handler.plugins_json,
                ("GET", "/api/plugins"): Handler.plugins_ltsv,
                ("GET", "/api/config.json"): Handler.config_json,
                ("GET", "/api/config"): Handler.config_ltsv}


def main():
    args = sys.argv[1:]
    port = args.pop(0)
    tls = None
    while args:
        flag = args.pop(0)
        if flag == "--tls":
            tls = (args.pop(0), args.pop(0))
            continue
        value = args.pop(0)
        key = flag.lstrip("-").replace("-", "_")
        Handler.options[key] = value
    fakebase.serve(Handler, port, tls=tls)


if __name__ == "__main__":
    main()
