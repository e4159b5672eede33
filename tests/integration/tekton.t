#!/usr/bin/env python3
"""The tekton collector against tests/fakes/k8s_fake.py: the namespace's PipelineRuns, listed
in pages (limit/continue), become counts by status and reason, a duration histogram and the
newest run of each pipeline; a cluster that serves only v1beta1 is read through v1beta1, and a
later switch back to v1 is followed; an expired continue token restarts the listing once and
then fails with http_410; the max_runs cap counts the first runs and says so; and every
failure mode (slow, hang, close, cut, 500, 401, 404 for both versions, garbage, truncated, a
body far over the cap) sets only that target's up to 0 with its reason while the healthy
target and a textfile collector in the same drwatch stay as they were, the textfile collector
keeps collecting, and the body over the cap is refused, not buffered (peak resident memory,
VmHWM, stays flat). Over HTTPS, ca_file makes a private CA trusted and without it verification
is on: up 0 with reason tls."""
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from drwatch_test import (FAILURE_MODES, Drwatch, Tap, drill_textfile,  # noqa: E402
                          isolation_baseline, isolation_check, self_signed_cert, start_fake,
                          tmpdir, wait_for)
from fakebase import control  # noqa: E402

t = Tap()
work = tmpdir()
TOKEN = os.path.join(work, "token")
with open(TOKEN, "w") as f:
    f.write("s3cret")

MODES = FAILURE_MODES
CA, KEY = self_signed_cert(work)
TEXTFILE = drill_textfile(work)


def start(name, *args, tls=False):
    log = os.path.join(work, name + ".log")
    extra = ["--tls", CA, KEY] if tls else []
    port = start_fake("k8s_fake.py", log, *args, *extra)
    return "%s://127.0.0.1:%d" % ("https" if tls else "http", port)


def requests(url):
    with urllib.request.urlopen(url + "/__fake/requests", timeout=5) as r:
        return json.loads(r.read())


healthy = start("healthy", "--token", "s3cret")
beta = start("beta", "--tekton-versions", "v1beta1")
capped = start("capped")
expiring = start("expiring")
https = start("https", tls=True)
victims = {m: start(m) for m in MODES}

targets = ['{ site = "gold", url = "%s", namespace = "ops-pipelines", name = "healthy", '
           'bearer_token_file = "%s", page_size = 2 }' % (healthy, TOKEN),
           '{ site = "golddr", url = "%s", namespace = "ops-pipelines", name = "beta" }' % beta,
           '{ site = "golddr", url = "%s", namespace = "ops-pipelines", name = "capped", '
           'max_runs = 3, page_size = 2 }' % capped,
           '{ site = "golddr", url = "%s", namespace = "ops-pipelines", name = "expiring", '
           'page_size = 2 }' % expiring,
           '{ site = "gold", url = "%s", namespace = "ops-pipelines", name = "tls-ca", '
           'ca_file = "%s" }' % (https, CA),
           '{ site = "gold", url = "%s", namespace = "ops-pipelines", name = "tls-default" }'
           % https]
targets += ['{ site = "golddr", url = "%s", namespace = "ops-pipelines", name = "%s" }' % (u, m)
            for m, u in victims.items()]
OPTS = ', interval = "1s", timeout = "700ms", max_body_bytes = 1048576 }'
dw = Drwatch('drwatch = { site = "golddr" }\n'
             'textfile = { directory = "%s", interval = "1s" }\n'
             'tekton = { targets = {\n  %s\n} }\n'
             % (TEXTFILE, ",\n  ".join(x.replace(" }", OPTS) for x in targets))).start()

m = dw.metrics()
t.is_(m.get('drwatch_tekton_pipelineruns{namespace="ops-pipelines",reason="Succeeded",'
            'site="gold",status="True",target="healthy"}'), 1.0,
      "succeeded runs counted by status and reason")
t.is_(m.get('drwatch_tekton_pipelineruns{namespace="ops-pipelines",reason="Cancelled",'
            'site="gold",status="False",target="healthy"}'), 1.0, "a cancelled run")
t.is_(m.get('drwatch_tekton_pipelineruns{namespace="ops-pipelines",reason="PipelineRunTimeout",'
            'site="gold",status="False",target="healthy"}'), 1.0, "a timed-out run")
t.is_(m.get('drwatch_tekton_pipelineruns{namespace="ops-pipelines",reason="Running",'
            'site="gold",status="Unknown",target="healthy"}'), 1.0, "a running run")
t.is_(m.get('drwatch_tekton_pipelinerun_duration_seconds_count{namespace="ops-pipelines",'
            'pipeline="switchover",site="gold",status="True",target="healthy"}'), 1.0,
      "the duration histogram counts the finished successful switchover")
t.is_(m.get('drwatch_tekton_pipelinerun_duration_seconds_sum{namespace="ops-pipelines",'
            'pipeline="switchover",site="gold",status="True",target="healthy"}'), 675.0,
      "its duration is completionTime - startTime")
t.is_(m.get('drwatch_tekton_pipelinerun_duration_seconds_bucket{le="900",'
            'namespace="ops-pipelines",pipeline="switchover",site="gold",status="True",'
            'target="healthy"}'), 1.0, "in the 900 s bucket")
t.is_(m.get('drwatch_tekton_pipeline_last_run_info{event_id="14a657c3-6816-45bf-b214-'
            '4afdaefc4ebd",name="switchover-golddr-8x2kq",namespace="ops-pipelines",'
            'pipeline="switchover",reason="Succeeded",site="gold",status="True",'
            'target="healthy"}'), 1.0, "the newest switchover run with its event id")
t.is_(m.get('drwatch_tekton_pipeline_last_run_start_timestamp_seconds{namespace="ops-pipelines",'
            'pipeline="switchover",site="gold",target="healthy"}'), 1718011802.0,
      "and its start time")
t.is_(m.get('drwatch_tekton_api_info{api_version="v1",namespace="ops-pipelines",site="gold",'
            'target="healthy"}'), 1.0, "read through tekton.dev/v1")
pages = [r for r in requests(healthy) if "/pipelineruns" in r["path"]]
t.ok(any("continue=" in r["path"] for r in pages) and all("limit=2" in r["path"] for r in pages),
     "the list is paged with limit and continue (%d requests)" % len(pages))
t.ok(all(r["headers"].get("Authorization") == "Bearer s3cret" for r in pages),
     "with the bearer token from the file")

# TLS: the same target code as Kong's and the configmap collector's (exporter/k8s.c, http_client.c).
t.is_(m.get('drwatch_collector_up{collector="tekton",site="gold",target="tls-ca"}'), 1.0,
      "HTTPS with ca_file naming a private CA: up")
t.is_(m.get('drwatch_tekton_api_info{api_version="v1",namespace="ops-pipelines",site="gold",'
            'target="tls-ca"}'), 1.0, "and its PipelineRuns are read")
t.is_(m.get('drwatch_collector_up{collector="tekton",site="gold",target="tls-default"}'), 0.0,
      "HTTPS without ca_file: verification is on by default, up 0")
t.ok((m.get('drwatch_collector_errors_total{collector="tekton",reason="tls",site="gold",'
            'target="tls-default"}') or 0) >= 1, "with errors_total{reason=\"tls\"}")
t.ok(any("target tls-default failed: tls: " in line and "certificate" in line
         for line in dw.log().splitlines()), "and the certificate problem in the log")

t.is_(m.get('drwatch_tekton_api_info{api_version="v1beta1",namespace="ops-pipelines",'
            'site="golddr",target="beta"}'), 1.0, "a cluster serving only v1beta1 is read")
t.is_(m.get('drwatch_collector_up{collector="tekton",site="golddr",target="beta"}'), 1.0,
      "and the target is up")
n_before = len(requests(beta))
wait_for(lambda: len(requests(beta)) >= n_before + 2, timeout=5)
recent = [r["path"] for r in requests(beta)][n_before:]
t.ok(recent and all("/v1beta1/" in p for p in recent),
     "the working version is remembered (no more v1 requests)")
control(beta, "state", {"tekton_versions": ["v1"]})
t.ok(wait_for(lambda: dw.sample('drwatch_tekton_api_info{api_version="v1",'
                                'namespace="ops-pipelines",site="golddr",target="beta"}') == 1),
     "an upgrade to v1-only is followed")

t.is_(m.get('drwatch_tekton_list_truncated{namespace="ops-pipelines",site="golddr",'
            'target="capped"}'), 1.0, "over max_runs: truncated 1")
t.ok((m.get('drwatch_collector_errors_total{collector="tekton",reason="too_many_runs",'
            'site="golddr",target="capped"}') or 0) >= 1, "counted as too_many_runs")
t.ok(sum(v for k, v in m.items() if k.startswith("drwatch_tekton_pipelineruns{")
         and 'target="capped"' in k) == 3, "and the first three runs counted")
t.is_(m.get('drwatch_collector_up{collector="tekton",site="golddr",target="capped"}'), 1.0,
      "the capped target stays up")

n_before = len(requests(expiring))
control(expiring, "state", {"expire_continue": True})
t.ok(wait_for(lambda: (dw.sample('drwatch_collector_errors_total{collector="tekton",'
                                 'reason="http_410",site="golddr",target="expiring"}') or 0) >= 1),
     "an expired continue token that stays expired: http_410")
paths = [r["path"] for r in requests(expiring)][n_before:]
firsts = [i for i, p in enumerate(paths) if "continue=" not in p]
t.ok(any(firsts[i + 1] == firsts[i] + 2 for i in range(len(firsts) - 1)),
     "after a 410 the list was started again once before giving up")
t.ok("Expired: The provided continue parameter is too old" in dw.log(),
     "the log carries the apiserver's message")
control(expiring, "state", {"expire_continue": False})
t.ok(wait_for(lambda: dw.sample('drwatch_collector_up{collector="tekton",site="golddr",'
                                'target="expiring"}') == 1), "and recovers")


def healthy_series():
    return {k: v for k, v in dw.metrics().items()
            if 'target="healthy"' in k and not k.startswith("drwatch_collector_")}


before = healthy_series()
baseline = isolation_baseline(t, dw)
for mode, (spec, _) in MODES.items():
    control(victims[mode], "mode", dict(spec, path="*"))


isolation_check(t, dw, "tekton", MODES, baseline)
t.is_(healthy_series(), before, "the healthy target's series are exactly as they were")
t.is_(dw.sample('drwatch_collector_up{collector="self",target="drwatch"}'), 1.0,
      "the self collector is unaffected")
log = dw.log()
t.ok("target s401 failed: http_401: list v1 PipelineRuns in ops-pipelines: Unauthorized" in log,
     "401 is logged with the apiserver's message")
for u in victims.values():
    control(u, "mode", {"path": "*", "mode": "ok"})
t.ok(wait_for(lambda: all(dw.sample('drwatch_collector_up{collector="tekton",site="golddr",'
                                    'target="%s"}' % k) == 1 for k in MODES), timeout=15),
     "every target recovers")
dw.stop_clean(t)
t.done()
