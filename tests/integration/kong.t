#!/usr/bin/env python3
"""The Kong collector against fake Kong nodes (tests/fakes/kong_fake.py), next to the textfile
collector: a 3.9 control plane and a 3.9 data plane (Status API, passthrough on) in gold, a 2.8
traditional node in golddr (memory as MiB strings), and three victim nodes. Checks the
mapping end to end (/status with ?unit=b, the control plane's data planes, the per-site
service summaries from advancing counters, passthrough with site and instance labels, bearer
auth), then every failure mode of the fakes on each endpoint of a victim: the victim's up goes
to 0 with errors_total{reason="<endpoint>_<why>"}, while every other target's output stays as
it was; a body over the cap is refused without growing drwatch's memory; the daemon stops
clean (make asan)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from drwatch_test import Drwatch, Tap, hwm_kib, http, start_fake, tmpdir, wait_for  # noqa: E402
import fakebase  # noqa: E402

t = Tap()
d = tmpdir()


def start(name, *args):
    return "http://127.0.0.1:%d" % start_fake("kong_fake.py", os.path.join(d, name + ".log"), *args)


fakes = {
    "gold-cp": start("gold-cp", "--version", "3.9.1", "--role", "control_plane"),
    "gold-dp": start("gold-dp", "--version", "3.9.1", "--role", "data_plane", "--listener",
                     "status"),
    "golddr": start("golddr", "--version", "2.8.4"),
    "v-status": start("v-status", "--version", "3.9.1", "--role", "control_plane"),
    "v-dp": start("v-dp", "--version", "3.6.0", "--role", "control_plane"),
    "v-metrics": start("v-metrics", "--version", "3.4.1", "--role", "control_plane"),
}

# Traffic: the counters advance at every GET /metrics, so the summaries have something to show.
fakebase.control(fakes["gold-dp"], "state", {"traffic": {
    "orders-api": {"codes": {"200": 100, "503": 5}, "latency_ms": {"30": 105}}}})
fakebase.control(fakes["golddr"], "state", {"ignore_unit": True, "traffic": {
    "orders-api": {"codes": {"200": 50}, "latency_ms": {"30": 50}}}})
# The victim of /metrics failures lists no data planes: its body is then the same every time.
fakebase.control(fakes["v-metrics"], "state", {"data_planes": []})

token = os.path.join(d, "token")
with open(token, "w") as f:
    f.write("s3cret\n")
tf = os.path.join(d, "textfile")
os.mkdir(tf)
with open(os.path.join(tf, "drill.prom"), "w") as f:
    f.write("# HELP dr_drill_ok Last DR drill result.\n# TYPE dr_drill_ok gauge\n"
            "dr_drill_ok{site=\"golddr\"} 1\n")


def target(name, site, role, extra=""):
    return ('  { name = "%s", site = "%s", url = "%s", role = "%s", interval = "1s",\n'
            '    timeout = "500ms"%s },\n' % (name, site, fakes[name], role, extra))


config = ('drwatch = { site = "gold" }\n'
          'textfile = { directory = "%s", interval = "1s" }\n'
          'kong = { targets = {\n' % tf
          + target("gold-cp", "gold", "control_plane", ', bearer_token_file = "%s"' % token)
          + target("gold-dp", "gold", "data_plane", ", passthrough = true")
          + target("golddr", "golddr", "traditional")
          + "".join(target(v, "golddr", "control_plane", ", max_body_bytes = 1048576")
                    for v in ("v-status", "v-dp", "v-metrics"))
          + "} }\n")
dw = Drwatch(config).start()

UP = 'drwatch_collector_up{collector="kong",site="%s",target="%s"}'
SITE = {"gold-cp": "gold", "gold-dp": "gold", "golddr": "golddr", "v-status": "golddr",
        "v-dp": "golddr", "v-metrics": "golddr"}


def svc(m, family, site, quantile=None):
    q = 'quantile="%s",' % quantile if quantile else ""
    return m.get('%s{%sservice="orders-api",site="%s"}' % (family, q, site))


# ---- normal operation ----

m = wait_for(lambda: (lambda m: m if m.get('drwatch_kong_site_nodes{site="gold"}') == 2 and
                      m.get('drwatch_kong_site_nodes{site="golddr"}') == 4 else None)(
    dw.metrics()), timeout=15)
t.ok(m is not None, "every node gives a window after two scrapes (site_nodes 2 and 4)")
m = m or dw.metrics()
for name, site in SITE.items():
    t.is_(m.get(UP % (site, name)), 1.0, "%s is up" % name)
t.is_(m.get(UP % ("gold", "summary")), 1.0, "the gold summary target is up")
t.is_(m.get('drwatch_kong_datastore_reachable{site="gold",target="gold-cp"}'), 1.0,
      "the control plane's datastore is reachable")
t.ok('drwatch_kong_datastore_reachable{site="gold",target="gold-dp"}' not in m,
     "a data plane has no datastore_reachable (3.4+ has no database in /status)")
t.is_(m.get('drwatch_kong_config_loaded{site="gold",target="gold-dp"}'), 1.0,
      "the data plane has loaded a configuration")
DP1 = 'hostname="kong-dp-gold-7c9d5b6d8-x2kqp",node_id="0c5f7fd1-3d3e-4a57-9c1e-1b1f0f6a2b11",'
DP2 = 'hostname="kong-dp-golddr-5f7b8c9d4-h8w2n",node_id="5b1e2d9a-8c44-4f6e-a0e2-2cf3c7e9d0aa",'
t.is_(m.get('drwatch_kong_data_plane_config_in_sync{%ssite="gold",target="gold-cp"}' % DP1), 1.0,
      "the fresh data plane is in sync")
t.is_(m.get('drwatch_kong_data_plane_config_in_sync{%ssite="gold",target="gold-cp"}' % DP2), 0.0,
      "the stale data plane without a configuration is not")
age = m.get('drwatch_kong_data_plane_last_seen_age_seconds{%ssite="gold",target="gold-cp"}' % DP1)
t.ok(age is not None and 2 <= age <= 6, "last seen age of the fresh data plane (%s s)" % age)
t.ok(any(k.startswith("drwatch_kong_data_plane_info{") and 'dp_site="gold"' in k and
         'sync_status="normal"' in k and 'version="3.9.1"' in k for k in m),
     "data plane info carries version, sync_status and the DP's site label")
t.is_(m.get('drwatch_kong_node_info{node_id="2f5a1c7e-8d9b-4e63-a7f1-5c0d3b9e4a21",'
            'role="data_plane",site="gold",target="gold-dp",version="3.9.1"}'), 1.0,
      "node info of the data plane (version from kong_node_info)")
vm = m.get('drwatch_kong_memory_lua_vm_bytes{pid="1287",site="golddr",target="golddr"}')
t.ok(vm is not None and abs(vm - 48.73 * 1048576) < 1,
     "memory given as \"48.73 MiB\" strings is read (2.8 node ignoring ?unit=b): %s" % vm)

rps = svc(m, "drwatch_kong_service_requests_per_second", "gold")
t.ok(rps is not None and 80 <= rps <= 130, "gold orders-api: about 105 requests/s (%s)" % rps)
ratio = svc(m, "drwatch_kong_service_5xx_ratio", "gold")
t.ok(ratio is not None and abs(ratio - 5 / 105) < 1e-9, "gold 5xx ratio 5/105 (%s)" % ratio)
p50 = svc(m, "drwatch_kong_service_request_duration_seconds", "gold", "0.5")
t.ok(p50 is not None and abs(p50 - 0.0375) < 1e-9,
     "gold p50 from 3.x buckets: 30 ms requests in (25, 50] give 37.5 ms (%s)" % p50)
rps = svc(m, "drwatch_kong_service_requests_per_second", "golddr")
t.ok(rps is not None and 35 <= rps <= 65, "golddr (Kong 2.8) orders-api: about 50/s (%s)" % rps)
p50 = svc(m, "drwatch_kong_service_request_duration_seconds", "golddr", "0.5")
t.ok(p50 is not None and abs(p50 - 0.0275) < 1e-9,
     "golddr p50 from 2.8 buckets: (25, 30] gives 27.5 ms (%s)" % p50)

# A reload keeps each node's last observation and window (keyed by site and URL): the
# summaries go on at once instead of vanishing for the two scrapes a new window needs.
status, _, body = dw.reload()
t.is_(status, 200, "a reload")
gaps, end = 0, time.time() + 2.5
while time.time() < end:
    mm = dw.metrics()
    if mm.get('drwatch_kong_site_nodes{site="gold"}') != 2 or \
            svc(mm, "drwatch_kong_service_requests_per_second", "gold") is None:
        gaps += 1
    time.sleep(0.05)
t.is_(gaps, 0, "the gold summaries never left /metrics in the 2.5 s after the reload")

pt = [k for k in m if k.startswith("kong_http_requests_total{")]
t.ok(pt and all('instance="gold-dp"' in k and 'site="gold"' in k for k in pt),
     "passthrough re-exports Kong's samples with site and instance (%d series)" % len(pt))
t.ok(not any(k.startswith("kong_") and 'instance="gold-cp"' in k for k in m),
     "no passthrough where it is off")
t.ok(m.get('dr_drill_ok{site="golddr"}') == 1.0, "the textfile collector runs alongside")

reqs = {name: json.loads(http("GET", fakes[name] + "/__fake/requests")[2])
        for name in ("gold-cp", "gold-dp")}
paths = {r["path"] for r in reqs["gold-cp"]}
t.ok({"/status?unit=b", "/clustering/data-planes?size=1000", "/metrics"} <= paths,
     "the control plane is asked for /status?unit=b, its data planes and /metrics")
t.ok(not any("clustering" in r["path"] for r in reqs["gold-dp"]),
     "a data plane is never asked for /clustering/data-planes")
t.ok(all(r["headers"].get("Authorization") == "Bearer s3cret" for r in reqs["gold-cp"]),
     "the bearer token from the file is sent on every request")

# ---- failure modes: one victim per endpoint, the same mode on all three at once ----

STABLE_SKIP = ("_age_seconds", "_last_seen_timestamp_seconds", "drwatch_kong_requests_total",
               "drwatch_kong_service_", "drwatch_kong_site_nodes")
OTHERS = ('target="gold-cp"', 'target="gold-dp"', 'target="golddr"')


def stable(m):
    """Every other target's output that does not move by itself with time or traffic."""
    out = {}
    for k, v in m.items():
        if k.startswith("dr_drill_ok") or k.startswith("drwatch_textfile_file_valid"):
            out[k] = v
        elif k.startswith("drwatch_kong_") and any(o in k for o in OTHERS) and \
                not any(s in k for s in STABLE_SKIP):
            out[k] = v
        elif k.startswith("drwatch_collector_up") and 'target="v-' not in k:
            out[k] = v
    return out


base = stable(dw.metrics())
VICTIMS = {"v-status": ("/status", "status"),
           "v-dp": ("/clustering/data-planes", "data_planes"),
           "v-metrics": ("/metrics", "metrics")}
ERR = 'drwatch_collector_errors_total{collector="kong",reason="%s",site="golddr",target="%s"}'

# The truncated /metrics body must not end on a line boundary, or it is still valid text.
status, _, body = http("GET", fakes["v-metrics"] + "/metrics")
cut_ok = body[len(body) // 2 - 1:len(body) // 2] != b"\n"
MODES = [
    ("slow", {"mode": "slow", "ms": 2000}, "timeout", "timeout"),
    ("hang", {"mode": "hang"}, "timeout", "timeout"),
    ("close", {"mode": "close"}, "connection", "connection"),
    ("cut mid-body", {"mode": "cut"}, "truncated", "truncated"),
    ("500", {"mode": "status", "status": 500}, "http_500", "http_500"),
    ("401", {"mode": "status", "status": 401}, "http_401", "http_401"),
    ("404", {"mode": "status", "status": 404}, "http_404", "http_404"),
    ("429", {"mode": "429"}, "http_429", "http_429"),
    ("garbage", {"mode": "garbage"}, "bad_json", "bad_body"),
    ("truncated body", {"mode": "truncate"}, "bad_json", "bad_body"),
    ("64 MiB body over a 1 MiB cap", {"mode": "huge", "bytes": 64 << 20}, "body_too_large",
     "body_too_large"),
]


for label, mode, json_reason, text_reason in MODES:
    before = dw.metrics()
    want = {}
    for victim, (path, ep) in VICTIMS.items():
        reason = "%s_%s" % (ep, text_reason if ep == "metrics" else json_reason)
        if label == "truncated body" and ep == "metrics" and not cut_ok:
            continue
        want[victim] = (ERR % (reason, victim), before.get(ERR % (reason, victim), 0))
        fakebase.control(fakes[victim], "mode", dict(mode, path=path))
    hwm0 = hwm_kib(dw.proc.pid)

    def all_failed():
        m = dw.metrics()
        return m if all(m.get(k, 0) > n0 and m.get(UP % ("golddr", v)) == 0
                        for v, (k, n0) in want.items()) else None

    m = wait_for(all_failed, timeout=8)
    for victim, (k, n0) in want.items():
        t.ok(m is not None and m.get(k, 0) > n0 and m.get(UP % ("golddr", victim)) == 0,
             "%s on %s: up 0, %s" % (label, VICTIMS[victim][0],
                                     k.split('reason="')[1].split('"')[0]))
    m = m or dw.metrics()
    now = stable(m)
    diff = sorted(set(base.items()) ^ set(now.items()))
    t.ok(not diff, "%s: every other target's output is as it was" % label)
    for k in diff[:6]:
        t.diag("  changed: %s %s" % k)
    if mode["mode"] == "huge":
        grew = hwm_kib(dw.proc.pid) - hwm0
        # Buffered, three 64 MiB bodies would add at least 64 MiB; ASan's quarantine alone
        # moves the peak by a few MiB.
        t.ok(grew < 16384, "the 64 MiB bodies were refused, not buffered (peak RSS %+d KiB)"
             % grew)
    for victim, (path, ep) in VICTIMS.items():
        fakebase.control(fakes[victim], "mode", {"path": path, "mode": "ok"})

if not cut_ok:
    t.diag("the /metrics body would be cut on a line boundary; its truncate case was skipped")

# Kong's own refusals: /clustering/data-planes on a node that is not a control plane is a 400.
fakebase.control(fakes["v-dp"], "state", {"role": "data_plane"})
k = ERR % ("data_planes_http_400", "v-dp")
t.ok(wait_for(lambda: dw.metrics().get(k, 0) >= 1, timeout=8),
     "a node configured as control plane that is not one: data_planes_http_400")
fakebase.control(fakes["v-dp"], "state", {"role": "control_plane"})

# Everyone recovers.
t.ok(wait_for(lambda: all(dw.metrics().get(UP % (s, n)) == 1 for n, s in SITE.items()),
              timeout=10), "every victim recovers once its fake answers normally")
t.ok(stable(dw.metrics()) == base, "and the others never changed")

# A bearer token file that disappears fails that target only, with its own reason.
os.rename(token, token + ".gone")
k = 'drwatch_collector_errors_total{collector="kong",reason="token_file",site="gold",' \
    'target="gold-cp"}'
t.ok(wait_for(lambda: dw.metrics().get(k, 0) >= 1, timeout=8),
     "a missing bearer_token_file: up 0 with reason token_file")
os.rename(token + ".gone", token)
t.ok(wait_for(lambda: dw.metrics().get(UP % ("gold", "gold-cp")) == 1, timeout=8),
     "and the target recovers when the file is back")
t.is_(dw.log().count("target gold-cp failed"), 1, "the failure was logged once")
dw.stop_clean(t)
t.done()
