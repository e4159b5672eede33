#!/usr/bin/env python3
"""Scrapes never see a half-built snapshot: eight threads fetch /metrics (plain, gzip and
OpenMetrics) for a few seconds while the textfile collector publishes new snapshots every
200 ms. Every body must be complete and self-consistent; under `make asan` this is also the
race and lifetime test of the shared response objects."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import Drwatch, Tap, gunzip, tmpdir  # noqa: E402

t = Tap()
d = tmpdir()


def write(gen):
    lines = ["# TYPE stress_gen gauge", "stress_gen %d" % gen, "# TYPE stress_series gauge"]
    lines += ['stress_series{i="%d",gen="%d"} %d' % (i, gen, i) for i in range(2000)]
    with open(os.path.join(d, "s.prom.tmp"), "w") as f:
        f.write("\n".join(lines) + "\n")
    os.rename(os.path.join(d, "s.prom.tmp"), os.path.join(d, "s.prom"))


write(0)
dw = Drwatch('drwatch = { site = "gold", fast_interval = "1s" }\n'
             'textfile = { directory = "%s", interval = "1s" }\n' % d).start()
published_before = dw.sample("drwatch_snapshots_published_total") or 0
stop = time.time() + 6
errors = []
counts = [0] * 8
variants = [{}, {"Accept-Encoding": "gzip"},
            {"Accept": "application/openmetrics-text;version=1.0.0"},
            {"Accept": "application/openmetrics-text;version=1.0.0", "Accept-Encoding": "gzip"}]


def scraper(n):
    headers = variants[n % 4]
    while time.time() < stop:
        status, h, body = dw.get("/metrics", headers)
        if h.get("content-encoding") == "gzip":
            body = gunzip(body)
        text = body.decode()
        gen = [l for l in text.splitlines() if l.startswith("stress_gen ")]
        series = [l for l in text.splitlines() if l.startswith("stress_series{")]
        if status != 200 or len(gen) != 1 or len(series) != 2000:
            errors.append("status %d, %d gen lines, %d series" % (status, len(gen), len(series)))
            return
        g = gen[0].split()[1]
        if any('gen="%s"' % g not in s for s in series):
            errors.append("a body mixes two generations")
            return
        if "openmetrics" in h.get("content-type", "") and not text.endswith("# EOF\n"):
            errors.append("OpenMetrics body without # EOF")
            return
        counts[n] += 1


threads = [threading.Thread(target=scraper, args=(i,)) for i in range(8)]
for th in threads:
    th.start()
gen = 0
while time.time() < stop:
    gen += 1
    write(gen)
    time.sleep(0.2)
for th in threads:
    th.join()
t.ok(not errors, "every scrape was complete and consistent (%d scrapes, %d file rewrites)"
     % (sum(counts), gen))
for e in errors[:5]:
    t.diag(e)
t.ok(all(c > 0 for c in counts), "every variant was served")
# At least two new snapshots while the scrapers ran (the textfile is read every second; a
# loaded machine under ASan may fit only a few of the six seconds' reads).
published = dw.sample("drwatch_snapshots_published_total") or 0
t.ok(published >= published_before + 2, "snapshots kept being published meanwhile (%s -> %s)"
     % (published_before, published))
dw.stop_clean(t)
t.done()
