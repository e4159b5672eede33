#!/usr/bin/env python3
"""A real Prometheus scrapes drwatch: the target is up, a sample drwatch exports comes back
through Prometheus' query API, and promtool finds nothing to lint in drwatch's output."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import Drwatch, Prometheus, Tap, tmpdir, wait_for, gunzip  # noqa: E402

t = Tap()
textdir = tmpdir()
with open(os.path.join(textdir, "drill.prom"), "w") as f:
    f.write('# HELP dr_drill_success 1 if the last DR drill passed.\n'
            '# TYPE dr_drill_success gauge\n'
            'dr_drill_success{env="prod",note="quote \\" and backslash \\\\"} 1\n')
dw = Drwatch('drwatch = { site = "gold" }\n'
             'textfile = { directory = "%s", interval = "1s" }\n' % textdir).start()

# promtool lints exactly what Prometheus would scrape.
status, headers, body = dw.get("/metrics")
t.is_(headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8",
      "text exposition has the exact 0.0.4 content type")
lint = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
t.ok(lint.returncode == 0, "promtool check metrics reports nothing on drwatch's output")
if lint.returncode:
    t.diag(lint.stderr.decode())

status, headers, gz = dw.get("/metrics", {"Accept-Encoding": "gzip"})
t.is_(headers.get("content-encoding"), "gzip", "gzip when accepted")
t.ok(b"dr_drill_success" in gunzip(gz), "the gzip body decodes to the exposition")

om_accept = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
             "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
status, headers, om = dw.get("/metrics", {"Accept": om_accept})
t.is_(headers.get("content-type"), "application/openmetrics-text; version=1.0.0; charset=utf-8",
      "OpenMetrics when Prometheus asks for it")
t.ok(om.endswith(b"# EOF\n"), "OpenMetrics body ends with # EOF")

prom = Prometheus([("drwatch", "127.0.0.1:%d" % dw.port)]).start()
up = wait_for(lambda: [r for r in prom.query('up{job="drwatch"}') if r["value"][1] == "1"],
              timeout=30)
t.ok(up, "Prometheus scrapes drwatch: up == 1")
res = wait_for(lambda: prom.query('dr_drill_success{env="prod"}'), timeout=30)
t.ok(res and res[0]["value"][1] == "1", "a textfile sample reads back through the query API")
t.is_(res[0]["metric"].get("note") if res else None, 'quote " and backslash \\',
      "escaped label values survive the round trip")
res = wait_for(lambda: prom.query('drwatch_collector_up{collector="textfile"}'), timeout=30)
t.ok(res and res[0]["value"][1] == "1", "drwatch_collector_up reads back as 1")
# Prometheus negotiated OpenMetrics: a counter's family name is without _total there, and the
# series must still be stored under the same name as in text format.
res = wait_for(lambda: prom.query('drwatch_http_requests_total{handler="/metrics",code="200"}'),
               timeout=30)
t.ok(res, "counters keep their _total names when scraped as OpenMetrics")
targets = prom.targets()
t.ok(targets and targets[0]["health"] == "up" and not targets[0]["lastError"],
     "the target shows no scrape error (%s)" % (targets[0]["lastError"] if targets else "none"))
dw.stop_clean(t)
t.done()
