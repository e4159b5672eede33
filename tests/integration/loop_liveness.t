#!/usr/bin/env python3
"""The event loop stays live while the rules are slower than their interval.

Regression (measured at 331f33d): a rule slower than rules.evaluation_interval livelocked the
loop. The rules timer re-armed before it evaluated, loop_timer_start refreshed the loop's time,
and the loop ran timers as long as the heap's top was due, so it never reached epoll_wait: HTTP
collectors stalled, GET /api/v1/silences answered 503 after 10 s and POST /-/reload after 30 s,
SIGTERM went unanswered for over 40 s, and /-/healthy still said 200.

Here one rule file busy-loops 1.2 s per evaluation and another loops until its 2 s budget stops
it, at a 1 s interval, beside a textfile collector and a FluentD (HTTP) target scraped every
second. Meanwhile both collectors keep collecting, the silences API and /-/reload answer within
a few seconds, /-/healthy says 200, the evaluations that could not start on time are counted in
drwatch_rule_evaluations_missed_total, and SIGTERM stops drwatch within 5 s."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import Drwatch, Tap, drill_textfile, http, start_fake, tmpdir, wait_for  # noqa

t = Tap()
work = tmpdir()
TEXTFILE = drill_textfile(work)
rules_dir = os.path.join(work, "rules")
os.mkdir(rules_dir)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


# 1.2 s of work per evaluation (os.clock is CPU time: on a loaded machine it takes longer).
write(os.path.join(rules_dir, "slow.lua"),
      'alert("SlowRule", { expr = function()\n'
      '  local t0 = os.clock()\n'
      '  while os.clock() - t0 < 1.2 do end\n'
      '  return true\n'
      'end })\n')
write(os.path.join(rules_dir, "budget.lua"),
      'alert("OverBudget", { expr = function() while true do end end })\n')
token = write(os.path.join(work, "api-token"), "s3cret\n")
fluentd = "http://127.0.0.1:%d" % start_fake("fluentd_fake.py", os.path.join(work, "f.log"))

dw = Drwatch('''
drwatch = { site = "gold", fast_interval = "1s" }
textfile = { directory = "%s", interval = "1s" }
fluentd = { targets = { { site = "gold", url = "%s", interval = "1s", timeout = "900ms" } } }
rules = { files = { "%s/*.lua" }, evaluation_interval = "1s", timeout = "2s" }
alerting = {
  data_dir = "%s", api_token_file = "%s",
  receivers = { { name = "hook", webhook = { url = "http://127.0.0.1:9/hook" } } },
  route = { receiver = "hook" },
}
''' % (TEXTFILE, fluentd, rules_dir, os.path.join(work, "data"), token))
dw.start()


def timed(method, path, headers=None, body=None, timeout=8):
    """(status or None when no answer within timeout, seconds taken)."""
    t0 = time.monotonic()
    try:
        status = http(method, dw.url + path, headers, body, timeout=timeout)[0]
    except (OSError, urllib.error.URLError, socket.timeout):
        status = None
    return status, time.monotonic() - t0


def last_success(collector):
    prefix = 'drwatch_collector_last_success_timestamp_seconds{collector="%s"' % collector
    return next((v for k, v in dw.metrics().items() if k.startswith(prefix)), None)


def keeps_collecting(collector, times=3, within=10):
    """True once collector's last success has moved `times` times within `within` seconds."""
    seen = {last_success(collector)}
    return wait_for(lambda: seen.add(last_success(collector)) or len(seen) > times,
                    timeout=within, step=0.2)


BUDGET = 'drwatch_rule_evaluations_total{file="%s/budget.lua",outcome="timeout"}' % rules_dir
SLOW = 'drwatch_rule_evaluations_total{file="%s/slow.lua",outcome="%%s"}' % rules_dir


def both_ran():
    m = dw.metrics()
    # The slow file finishes, unless a very busy machine stretches its 1.2 s past the budget.
    slow = m.get(SLOW % "ok", 0) + m.get(SLOW % "timeout", 0)
    return m.get(BUDGET, 0) >= 1 and slow >= 1


if not t.ok(wait_for(both_ran, timeout=30, step=0.2),
            "the rules run: one file is stopped at its budget, the slow one runs 1.2 s"):
    t.diag(dw.log())

# ---- collectors ----
t.ok(keeps_collecting("textfile"),
     "the textfile collector keeps collecting every second while the rules run late")
t.ok(keeps_collecting("fluentd"),
     "the FluentD (HTTP) target keeps being scraped: the loop polls its socket")

# ---- the API on the loop ----
for i in range(3):
    status, took = timed("GET", "/api/v1/silences")
    t.ok(status == 200 and took < 3,
         "GET /api/v1/silences answers within 3 s (%s in %.2fs)" % (status, took))
silence = json.dumps({"matchers": [{"name": "alertname", "value": "SlowRule", "isRegex": False}],
                      "startsAt": "2000-01-01T00:00:00Z", "endsAt": "2100-01-01T00:00:00Z",
                      "createdBy": "test", "comment": "loop liveness"}).encode()
status, took = timed("POST", "/api/v1/silences",
                     {"Authorization": "Bearer s3cret", "Content-Type": "application/json"},
                     silence)
t.ok(status == 200 and took < 3,
     "POST /api/v1/silences answers within 3 s (%s in %.2fs)" % (status, took))
for i in range(2):
    status, took = timed("POST", "/-/reload", {"Authorization": "Bearer %s" % dw.token})
    t.ok(status == 200 and took < 5, "POST /-/reload answers 200 within 5 s, also while an "
         "evaluation runs (%s in %.2fs)" % (status, took))
status, took = timed("GET", "/-/healthy")
t.ok(status == 200 and took < 3, "/-/healthy: 200 (%s in %.2fs)" % (status, took))
t.ok(keeps_collecting("fluentd", times=2),
     "the FluentD target is still scraped after the reloads")

# ---- what could not run on time is counted, not queued ----
missed = wait_for(lambda: (dw.sample("drwatch_rule_evaluations_missed_total") or 0) >= 2,
                  timeout=15, step=0.2)
t.ok(missed, "evaluations that would start late are skipped and counted in "
     "drwatch_rule_evaluations_missed_total (%s)"
     % dw.sample("drwatch_rule_evaluations_missed_total"))

# ---- SIGTERM ----
t0 = time.monotonic()
dw.signal(signal.SIGTERM)
try:
    rc = dw.proc.wait(timeout=5)
except subprocess.TimeoutExpired:
    rc = None
took = time.monotonic() - t0
t.ok(rc == 0, "SIGTERM stops drwatch within 5 s, exit 0 (exit %s after %.2fs)" % (rc, took))
t.diag("SIGTERM to exit: %.2fs" % took)
bad = [line for line in dw.log().splitlines() if "Sanitizer" in line or "runtime error:" in line]
t.ok(not bad, "no sanitizer report")
for line in bad[:20]:
    t.diag(line)
t.done()
