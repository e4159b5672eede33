#!/usr/bin/env python3
"""GET /federate?match[]=...: drwatch's answers in text, OpenMetrics and gzip (the selected
series, each once, families with HELP and TYPE once, no timestamps), its 400s with the reason
and their count; then a real Prometheus scrapes /federate with honor_labels: true and match[]
params, and what reads back through its query API is exactly the selected series of drwatch's
/metrics, with their labels (their own job and instance kept) and values, and nothing else."""
import os
import re
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import Drwatch, Prometheus, Tap, gunzip, tmpdir, wait_for  # noqa: E402

START = time.time()
t = Tap()
textdir = tmpdir()
with open(os.path.join(textdir, "fed.prom"), "w") as f:
    f.write('# HELP fed_gauge A gauge.\n# TYPE fed_gauge gauge\n'
            'fed_gauge{env="prod",note="a b \\"q\\" c\\\\d"} 42\n'
            'fed_gauge{env="dev"} 7\n'
            '# HELP fed_kong_up Kong targets as another Prometheus saw them.\n'
            '# TYPE fed_kong_up gauge\n'
            'fed_kong_up{instance="10.0.0.1:8100",job="kong"} 1\n'
            'fed_kong_up{instance="10.0.0.2:8100",job="kong"} 0\n'
            '# HELP fed_requests_total Requests.\n# TYPE fed_requests_total counter\n'
            'fed_requests_total{code="200"} 1027\nfed_requests_total{code="500"} 3\n'
            '# HELP fed_latency_seconds Latency.\n# TYPE fed_latency_seconds histogram\n'
            'fed_latency_seconds_bucket{le="0.1"} 2\nfed_latency_seconds_bucket{le="1.0"} 5\n'
            'fed_latency_seconds_bucket{le="+Inf"} 6\n'
            'fed_latency_seconds_sum 2.5\nfed_latency_seconds_count 6\n'
            '# HELP fed_rpc_seconds RPCs.\n# TYPE fed_rpc_seconds summary\n'
            'fed_rpc_seconds{quantile="0.5"} 0.01\nfed_rpc_seconds{quantile="0.99"} 0.2\n'
            'fed_rpc_seconds_sum 3\nfed_rpc_seconds_count 300\n'
            '# HELP fed_other Not federated.\n# TYPE fed_other gauge\nfed_other 1\n')
dw = Drwatch('drwatch = { site = "gold" }\nself = { interval = "1s" }\n'
             'textfile = { directory = "%s", interval = "1s" }\n' % textdir).start()

OM_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
             "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def federate(matches, headers=None, method="GET"):
    from drwatch_test import http
    q = urllib.parse.urlencode([("match[]", m) for m in matches])
    return http(method, dw.url + "/federate" + ("?" + q if q else ""), headers)


def unescape(v):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def series_of(text):
    """[(name, {labels}, value, rest)] of an exposition's sample lines; rest is what follows
    the value (a timestamp, if any)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if "{" in line:
            name, _, tail = line.partition("{")
            body, _, after = tail.rpartition("}")
            labels = {k: unescape(v) for k, v in LABEL.findall(body)}
        else:
            name, _, after = line.partition(" ")
            labels = {}
        fields = after.split()
        out.append((name, labels, float(fields[0]), fields[1:]))
    return out


# ---- drwatch's answers ----

TEXTFILE_SEL = ['fed_gauge{env="prod"}', '{__name__=~"fed_latency_seconds_(sum|count)"}',
                'fed_rpc_seconds', 'fed_requests_total', '{job="kong"}']
status, headers, body = federate(TEXTFILE_SEL)
t.is_(status, 200, "GET /federate with five match[]: 200")
t.is_(headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8",
      "text 0.0.4 by default, with its exact content type")
t.is_(headers.get("vary"), "Accept, Accept-Encoding", "Vary names what the answer depends on")
text = body.decode()
want_text = (
    '# HELP fed_gauge A gauge.\n# TYPE fed_gauge gauge\n'
    'fed_gauge{env="prod",note="a b \\"q\\" c\\\\d"} 42\n'
    '# HELP fed_kong_up Kong targets as another Prometheus saw them.\n# TYPE fed_kong_up gauge\n'
    'fed_kong_up{instance="10.0.0.1:8100",job="kong"} 1\n'
    'fed_kong_up{instance="10.0.0.2:8100",job="kong"} 0\n'
    '# HELP fed_latency_seconds Latency.\n# TYPE fed_latency_seconds histogram\n'
    'fed_latency_seconds_sum 2.5\nfed_latency_seconds_count 6\n'
    '# HELP fed_requests_total Requests.\n# TYPE fed_requests_total counter\n'
    'fed_requests_total{code="200"} 1027\nfed_requests_total{code="500"} 3\n'
    '# HELP fed_rpc_seconds RPCs.\n# TYPE fed_rpc_seconds summary\n'
    'fed_rpc_seconds{quantile="0.5"} 0.01\nfed_rpc_seconds{quantile="0.99"} 0.2\n')
t.is_(text, want_text, "exactly the selected series, by family, HELP and TYPE once, no buckets, "
      "no _sum or _count of the summary, nothing not asked for")
samples = series_of(text)
t.ok(all(not rest for _, _, _, rest in samples), "no sample carries a timestamp")
t.ok(len({(n, tuple(sorted(l.items()))) for n, l, _, _ in samples}) == len(samples),
     "no series twice")
lint = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True)
t.ok(lint.returncode in (0, 3), "promtool parses the text answer (exit %d: 0 clean, 3 lints)"
     % lint.returncode)

status, headers, gz = federate(TEXTFILE_SEL, {"Accept-Encoding": "gzip"})
t.is_(headers.get("content-encoding"), "gzip", "gzip when Accept-Encoding allows it")
t.is_(gunzip(gz).decode(), want_text, "and it decodes to the text answer")

status, headers, om = federate(TEXTFILE_SEL, {"Accept": OM_ACCEPT})
t.is_(headers.get("content-type"), "application/openmetrics-text; version=1.0.0; charset=utf-8",
      "OpenMetrics when Prometheus' Accept asks for it")
om = om.decode()
t.ok(om.endswith("# EOF\n") and "# TYPE fed_requests counter\n" in om and
     'fed_requests_total{code="200"} 1027\n' in om and "fed_latency_seconds_count 6\n" in om,
     "OpenMetrics: # EOF, the counter's family without _total, its samples with it")
t.is_(sorted((n, sorted(l.items()), v) for n, l, v, _ in series_of(om)),
      sorted((n, sorted(l.items()), v) for n, l, v, _ in samples),
      "the same series and values as the text answer")
status, headers, omgz = federate(TEXTFILE_SEL, {"Accept": OM_ACCEPT, "Accept-Encoding": "gzip"})
t.is_(gunzip(omgz).decode() if headers.get("content-encoding") == "gzip" else None, om,
      "OpenMetrics gzip-compressed decodes to the OpenMetrics answer")

# urlencode writes the blank as '+': it must reach the selector as a blank.
status, _, body = federate(['fed_gauge{note="a b \\"q\\" c\\\\d"}'])
t.ok(status == 200 and b'fed_gauge{env="prod"' in body,
     "a value with blanks, quotes and a backslash, URL-encoded with +, selects its series")
status, _, body = federate(["nothing_at_all"])
t.ok(status == 200 and body == b"", "a selector of nothing: 200 with an empty body")
status, headers, body = federate(["fed_gauge"], method="HEAD")
t.ok(status == 200 and body == b"", "HEAD: 200 without a body")

status, headers, body = federate([])
t.ok(status == 400 and b"no match[] parameter" in body, "no match[]: 400 saying so (%s)"
     % body.decode().strip())
status, _, body = federate(["up", 'fed_gauge{env="prod"'])
t.ok(status == 400 and body.decode().startswith(
    '400 bad request: match[]=fed_gauge{env="prod": 1:21: parse error: unexpected end of input '
    'inside braces'), "a selector that does not parse: 400 naming it and why (%s)"
     % body.decode().strip())
status, _, body = federate(['{env=~".*"}'])
t.ok(status == 400 and b"at least one non-empty matcher" in body,
     "a selector of everything: 400, as Prometheus refuses it")
status, _, body = federate(["rate(fed_gauge[5m])"])
t.ok(status == 400 and b"only a series selector" in body, "an expression: 400")
status, _, body = federate(["up"] * 33)
t.ok(status == 400 and b"at most 32" in body, "33 match[]: 400 with the cap")
status, headers, _ = dw.post("/federate")
t.ok(status == 405 and headers.get("allow") == "GET, HEAD", "POST: 405, Allow: GET, HEAD")

COUNT = 'drwatch_http_requests_total{code="%d",handler="/federate"}'
counts = wait_for(lambda: (lambda m: [m.get(COUNT % c) for c in (200, 400, 405)]
                           if m.get(COUNT % 405) else None)(dw.metrics()), timeout=10)
t.is_(counts, [7, 5, 1], "requests and refusals are counted: drwatch_http_requests_total"
      "{handler=\"/federate\",code} 200, 400 and 405")

# ---- a real Prometheus federates from drwatch ----

PROM_SEL = ['{__name__=~"drwatch_collector_up|fed_requests_total"}', "fed_latency_seconds_count",
            "fed_rpc_seconds", '{__name__="fed_gauge",env="prod"}', "fed_kong_up"]
options = ("honor_labels: true\nmetrics_path: /federate\nparams:\n  'match[]':\n" +
           "".join("    - '%s'\n" % s for s in PROM_SEL))
target = "127.0.0.1:%d" % dw.port
prom = Prometheus([("federate", target, options)]).start()
up = wait_for(lambda: [r for r in prom.query('up{job="federate"}') if r["value"][1] == "1"],
              timeout=30)
t.ok(up, "Prometheus scrapes /federate: up == 1")
targets = prom.targets()
t.ok(targets and targets[0]["health"] == "up" and not targets[0]["lastError"],
     "no scrape error (%s)" % (targets[0]["lastError"] if targets else "no target"))
t.ok(targets and targets[0]["scrapeUrl"].startswith("http://%s/federate?match%%5B%%5D=" % target),
     "the scrape URL carries the match[] params (%s)"
     % (targets[0]["scrapeUrl"][:80] if targets else ""))


def selected(name, labels):
    return name in ("drwatch_collector_up", "fed_requests_total", "fed_latency_seconds_count",
                    "fed_rpc_seconds", "fed_kong_up") or \
        (name == "fed_gauge" and labels.get("env") == "prod")


def expected():
    """drwatch's /metrics, the selected series, as Prometheus should store them: job and
    instance from the scrape only where the series has none (honor_labels)."""
    status, _, body = dw.get("/metrics")
    out = {}
    for name, labels, value, _ in series_of(body.decode()):
        if selected(name, labels):
            full = dict(labels, __name__=name)
            full.setdefault("job", "federate")
            full.setdefault("instance", target)
            out[tuple(sorted(full.items()))] = value
    return out


def stored():
    res = prom.query('{__name__=~"drwatch_.+|fed_.+"}')
    return {tuple(sorted(r["metric"].items())): float(r["value"][1]) for r in res}


same = wait_for(lambda: (lambda e, s: e if e == s else None)(expected(), stored()), timeout=30)
t.ok(same, "what Prometheus stores is exactly the selected series of /metrics, labels and "
     "values")
if not same:
    e, s = expected(), stored()
    t.diag("missing: %s" % sorted(set(e) - set(s))[:10])
    t.diag("extra:   %s" % sorted(set(s) - set(e))[:10])
    t.diag("values:  %s" % [(k, e[k], s[k]) for k in set(e) & set(s) if e[k] != s[k]][:10])
names = {dict(k)["__name__"] for k in (same or {})}
t.is_(names, {"drwatch_collector_up", "fed_requests_total", "fed_latency_seconds_count",
              "fed_rpc_seconds", "fed_gauge", "fed_kong_up"}, "every selected name is there")
kong = prom.query("fed_kong_up")
t.ok(kong and all(r["metric"]["job"] == "kong" and r["metric"]["instance"].startswith("10.0.0.")
                  for r in kong),
     "honor_labels: a series' own job and instance are kept")
gauge = prom.query("fed_gauge")
t.ok(len(gauge) == 1 and gauge[0]["metric"].get("note") == 'a b "q" c\\d' and
     gauge[0]["value"][1] == "42", "a label value with blanks, quotes and a backslash survives")
for absent in ("fed_other", "fed_latency_seconds_bucket", "fed_latency_seconds_sum",
               "fed_rpc_seconds_count", 'fed_gauge{env="dev"}', "drwatch_build_info",
               "drwatch_http_requests_total"):
    t.is_(prom.query(absent), [], "not selected, not in Prometheus: %s" % absent)
dw.stop_clean(t)
t.diag("ran in %.1fs" % (time.time() - START))
t.done()
