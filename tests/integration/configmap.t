#!/usr/bin/env python3
"""The configmap collector against tests/fakes/k8s_fake.py (over TLS with its own CA and a
bearer token for the healthy target): the switchover-state ConfigMap as the existing agent
writes it becomes an info metric, a timestamp and counters; a transition written by a person
(merge-patch) shows at the next interval; a deleted ConfigMap is exists 0 with up 1 (logged
once) and its re-creation is counted; 401 and 403 go down with the apiserver's message in the
log; and every other failure mode (slow, hang, close, cut, 500, garbage, truncated, a body far
over the cap, a 404 that is not a Kubernetes NotFound) sets only that target's up to 0 while
the healthy target and a textfile collector in the same drwatch stay as they were, the textfile
collector keeps collecting, and the body over the cap is refused, not buffered (peak resident
memory, VmHWM, stays flat)."""
import json
import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from drwatch_test import (FAILURE_MODES, Drwatch, Tap, drill_textfile,  # noqa: E402
                          isolation_baseline, isolation_check, self_signed_cert, start_fake,
                          tmpdir, wait_for)

t = Tap()
work = tmpdir()
TOKEN = os.path.join(work, "token")
with open(TOKEN, "w") as f:
    f.write("s3cret\n")
CA, KEY = self_signed_cert(work)
TEXTFILE = drill_textfile(work)

# 401 and 404 are checked on their own (401 and 403 on the healthy target, not_k8s below).
MODES = {k: v for k, v in FAILURE_MODES.items() if k not in ("s401", "s404")}


def start(name, script, *args, tls=False):
    extra = ["--tls", CA, KEY] if tls else []
    port = start_fake(script, os.path.join(work, name + ".log"), *args, *extra)
    return "%s://127.0.0.1:%d" % ("https" if tls else "http", port)


def ctl(url, endpoint, payload):
    import ssl
    ctx = ssl.create_default_context(cafile=CA)
    req = urllib.request.Request(url + "/__fake/" + endpoint, data=json.dumps(payload).encode(),
                                 method="POST")
    with urllib.request.urlopen(req, timeout=5, context=ctx if url.startswith("https") else None) as r:
        return r.read()


def api(url, method, path, body=None, ctype="application/merge-patch+json"):
    import ssl
    ctx = ssl.create_default_context(cafile=CA)
    req = urllib.request.Request(url + path, method=method, data=body and json.dumps(body).encode(),
                                 headers={"Authorization": "Bearer s3cret", "Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=5, context=ctx) as r:
        return json.loads(r.read())


healthy = start("healthy", "k8s_fake.py", "--token", "s3cret", tls=True)
victims = {m: start(m, "k8s_fake.py") for m in MODES}
victims["not_k8s"] = start("not_k8s", "fluentd_fake.py")
MODES["not_k8s"] = (None, "http_404")

targets = ['{ site = "gold", url = "%s", namespace = "ops", name = "healthy", ca_file = "%s", '
           'bearer_token_file = "%s" }' % (healthy, CA, TOKEN)]
targets += ['{ site = "golddr", url = "%s", namespace = "ops", name = "%s" }' % (u, m)
            for m, u in victims.items()]
OPTS = ', interval = "1s", timeout = "700ms", max_body_bytes = 1048576 }'
dw = Drwatch('drwatch = { site = "gold" }\n'
             'textfile = { directory = "%s", interval = "1s" }\n'
             'configmap = { env = "dev", targets = {\n  %s\n} }\n'
             % (TEXTFILE, ",\n  ".join(x.replace(" }", OPTS) for x in targets))).start()

L = 'configmap="switchover-state-dev",namespace="ops",site="gold",target="healthy"'
m = dw.metrics()
t.is_(m.get('drwatch_collector_up{collector="configmap",site="gold",target="healthy"}'), 1.0,
      "the healthy target is up (TLS with ca_file, bearer token)")
t.is_(m.get("drwatch_configmap_exists{%s}" % L), 1.0, "the ConfigMap exists")
t.is_(m.get('drwatch_configmap_state_info{configmap="switchover-state-dev",'
            'last_stable_state="active-passive",namespace="ops",site="gold",target="healthy"}'),
      1.0, "last_stable_state as a label, an empty transition left out")
t.is_(m.get("drwatch_configmap_transition_requested{%s}" % L), 0.0, "no transition requested")
t.is_(m.get("drwatch_configmap_last_stable_state_timestamp_seconds{%s}" % L), 1718012477.591398,
      "the agent's naive isoformat timestamp, read as UTC")
t.is_(m.get("drwatch_configmap_resource_version_changes_total{%s}" % L), 0.0, "no change yet")

api(healthy, "PATCH", "/api/v1/namespaces/ops/configmaps/switchover-state-dev",
    {"data": {"transition": "golddr-primary"}})
t.ok(wait_for(lambda: dw.sample("drwatch_configmap_transition_requested{%s}" % L) == 1),
     "a transition written to the ConfigMap shows")
m = dw.metrics()
t.is_(m.get('drwatch_configmap_state_info{configmap="switchover-state-dev",'
            'last_stable_state="active-passive",namespace="ops",site="gold",target="healthy",'
            'transition="golddr-primary"}'), 1.0, "as the transition label")
t.is_(m.get("drwatch_configmap_resource_version_changes_total{%s}" % L), 1.0,
      "the resourceVersion change is counted")
t.ok(m.get("drwatch_configmap_last_change_timestamp_seconds{%s}" % L, 0) > time.time() - 60,
     "with the time it was seen")

ctl(healthy, "state", {"delete_configmap": ["ops", "switchover-state-dev"]})
t.ok(wait_for(lambda: dw.sample("drwatch_configmap_exists{%s}" % L) == 0),
     "a deleted ConfigMap: exists 0")
m = dw.metrics()
t.is_(m.get('drwatch_collector_up{collector="configmap",site="gold",target="healthy"}'), 1.0,
      "and the scrape is still up (the API answered)")
t.ok(not any(k.startswith("drwatch_configmap_state_info") and 'target="healthy"' in k for k in m),
     "no state info without a ConfigMap")
t.ok("ConfigMap ops/switchover-state-dev is missing: NotFound: configmaps" in dw.log(),
     "the log says it is missing, with the API's message")
api(healthy, "POST", "/api/v1/namespaces/ops/configmaps",
    {"metadata": {"name": "switchover-state-dev"},
     "data": {"last_stable_state": "golddr-primary", "last_stable_state_ts": "2024-06-11T00:00:00",
              "transition": ""}}, ctype="application/json")
t.ok(wait_for(lambda: dw.sample("drwatch_configmap_exists{%s}" % L) == 1), "re-created: exists 1")
t.is_(dw.log().count("is missing"), 1, "the missing ConfigMap was logged once")
t.ok("ConfigMap ops/switchover-state-dev exists again" in dw.log(), "and its return logged")
t.is_(dw.sample("drwatch_configmap_resource_version_changes_total{%s}" % L), 3.0,
      "edit, deletion and re-creation: three changes")


def healthy_series():
    return {k: v for k, v in dw.metrics().items()
            if 'target="healthy"' in k and not k.startswith("drwatch_collector_")
            and "last_change_timestamp" not in k}


# RBAC denial and a refused token: down with the apiserver's message.
ctl(healthy, "state", {"forbidden": [["get", "configmaps"]]})
t.ok(wait_for(lambda: (dw.sample('drwatch_collector_errors_total{collector="configmap",'
                                 'reason="http_403",site="gold",target="healthy"}') or 0) >= 1),
     "403: errors_total{reason=\"http_403\"}")
t.ok('is forbidden: User \\"system:serviceaccount:ops:drwatch\\" cannot get resource '
     '\\"configmaps\\"' in dw.log(), "the log carries the RBAC message")
ctl(healthy, "state", {"forbidden": []})
t.ok(wait_for(lambda: dw.sample('drwatch_collector_up{collector="configmap",site="gold",'
                                'target="healthy"}') == 1), "allowed again: back up")
ctl(healthy, "state", {"token": "rotated"})
t.ok(wait_for(lambda: (dw.sample('drwatch_collector_errors_total{collector="configmap",'
                                 'reason="http_401",site="gold",target="healthy"}') or 0) >= 1),
     "401: errors_total{reason=\"http_401\"}")
t.ok("failed: http_401: GET /api/v1/namespaces/ops/configmaps/switchover-state-dev: "
     "Unauthorized" in dw.log(), "the log says Unauthorized and what was asked")
with open(TOKEN + ".tmp", "w") as f:
    f.write("rotated\n")
os.rename(TOKEN + ".tmp", TOKEN)
t.ok(wait_for(lambda: dw.sample('drwatch_collector_up{collector="configmap",site="gold",'
                                'target="healthy"}') == 1),
     "a rotated token file is read again: back up")


before = healthy_series()
baseline = isolation_baseline(t, dw)
for mode, (spec, _) in MODES.items():
    if spec:
        ctl(victims[mode], "mode", dict(spec, path="*"))


isolation_check(t, dw, "configmap", MODES, baseline)
t.is_(healthy_series(), before, "the healthy target's series are exactly as they were")
m = dw.metrics()
t.is_(m.get('drwatch_collector_up{collector="self",target="drwatch"}'), 1.0,
      "the self collector is unaffected")
t.ok("not a Kubernetes Status body" in dw.log(), "a 404 from something else says so")
for mode, (spec, _) in MODES.items():
    if spec:
        ctl(victims[mode], "mode", {"path": "*", "mode": "ok"})
t.ok(wait_for(lambda: all(dw.sample('drwatch_collector_up{collector="configmap",site="golddr",'
                                    'target="%s"}' % k) == 1 for k in MODES if k != "not_k8s"),
              timeout=15), "every target recovers")
dw.stop_clean(t)
t.done()
