#!/usr/bin/env python3
"""/-/ready and /-/healthy say no when they should, and /metrics never waits.

/-/ready answers 503 until every target has been collected once (here a FluentD target that
hangs until its timeout), then 200. /-/healthy says whether the event loop serves I/O: a rule
that runs for its whole time budget (14 s) runs on the rules' own thread and leaves the loop
alone, so /-/healthy stays 200 meanwhile and the textfile collector goes on; a loop that has not
polled for 10 s (held here for some 12 s by a reload whose 20 rule files are slow to load) makes
it 503, while /metrics still answers at once from the last snapshot; then it is 200 again."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from drwatch_test import (Drwatch, Tap, drill_textfile, http, start_fake,  # noqa: E402
                          textfile_last_success, tmpdir, wait_for)
from fakebase import control  # noqa: E402

t = Tap()
work = tmpdir()
TEXTFILE = drill_textfile(work)
RULES_DIR = os.path.join(work, "rules")
os.mkdir(RULES_DIR)
RULES = os.path.join(RULES_DIR, "rules.lua")
with open(RULES, "w") as f:
    f.write("")
fluentd = "http://127.0.0.1:%d" % start_fake("fluentd_fake.py", os.path.join(work, "f.log"))
control(fluentd, "mode", {"mode": "hang", "path": "*"})

dw = Drwatch('''
drwatch = { site = "gold" }
textfile = { directory = "%s", interval = "1s" }
fluentd = { targets = { { site = "gold", url = "%s", interval = "5s", timeout = "3s" } } }
rules = { files = { "%s/*.lua" }, evaluation_interval = "1s", timeout = "14s" }
''' % (TEXTFILE, fluentd, RULES_DIR))
dw.start(wait_ready=False)

# ---- ready ----
status, _, body = wait_for(lambda: dw.get("/-/ready"), timeout=5) or (0, None, b"")
if not t.ok(status == 503 and b"first collection is still running" in body,
            "/-/ready: 503 while a target's first collection hangs (%d: %s)"
            % (status, body.decode().strip())):
    t.diag(dw.log())
t.ok(wait_for(lambda: dw.get("/-/ready")[0] == 200, timeout=10),
     "/-/ready: 200 once the hanging target has timed out (collected once, up 0)")
t.is_(dw.sample('drwatch_collector_up{collector="fluentd",site="gold",target="%s"}' % fluentd),
      0.0, "that target is down")
control(fluentd, "mode", {"mode": "ok", "path": "*"})
t.is_(dw.get("/-/healthy")[0], 200, "/-/healthy: 200 while the loop turns")

# ---- healthy ----
# It loops in the evaluations of the next 5 s only: one evaluation runs for the 14 s budget.
with open(RULES, "w") as f:
    f.write('alert("RunsLong", { expr = function()\n'
            '  if time() < %f then while true do end end\nend })\n' % (time.time() + 5))
status, _, body = dw.reload()
t.is_(status, 200, "a rule file that loops is loaded (it may run 14 s per evaluation)")
STOPPED = 'drwatch_rule_evaluations_total{file="%s",outcome="timeout"}' % RULES
seen = textfile_last_success(dw)
unhealthy = []


def stopped_while_healthy():
    status = dw.get("/-/healthy")[0]
    if status != 200:
        unhealthy.append(status)
    return (dw.sample(STOPPED) or 0) >= 1


t.ok(wait_for(stopped_while_healthy, timeout=25, step=0.5),
     "the rule runs until its 14 s budget stops it")
t.ok(not unhealthy, "/-/healthy stays 200 meanwhile: the rules do not run on the loop (%s)"
     % unhealthy)
t.ok(textfile_last_success(dw) > seen + 5,
     "and the textfile collector kept collecting (last success moved %.0fs)"
     % (textfile_last_success(dw) - seen))

# A loop held for some 12 s: until the deadline, each of 20 rule files works while it loads
# until the clock's second changes (at most 1 s, under the 2 s load budget however busy the
# machine is).
deadline = int(time.time()) + 13
for i in range(20):
    with open(os.path.join(RULES_DIR, "slow%02d.lua" % i), "w") as f:
        f.write('local t0 = os.time()\n'
                'while os.time() < %d and os.time() == t0 do end\n'
                'alert("Slow%02d", { expr = function() return false end })\n' % (deadline, i))
reload = []
th = threading.Thread(
    target=lambda: reload.append(http("POST", dw.url + "/-/reload", timeout=40,
                                      headers={"Authorization": "Bearer %s" % dw.token})[0]))
th.start()
stalled = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(dw.get("/-/healthy")),
                   timeout=20, step=0.2)
t.ok(stalled and b"the event loop has not polled for I/O for" in stalled[2],
     "/-/healthy: 503 once the loop has not polled for 10 s: %s"
     % (stalled[2].decode().strip() if stalled else "never"))
t0 = time.monotonic()
status, _, body = dw.get("/metrics")
took = time.monotonic() - t0
t.ok(status == 200 and b'dr_drill_ok{site="golddr"} 1' in body and took < 1,
     "/metrics still answers from the last snapshot meanwhile (%.3fs)" % took)
th.join(timeout=40)
t.is_(reload, [200], "the slow reload is applied")
t.ok(wait_for(lambda: dw.get("/-/healthy")[0] == 200, timeout=8),
     "/-/healthy: 200 again once the loop polls again")
dw.stop_clean(t)
t.done()
