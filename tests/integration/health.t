#!/usr/bin/env python3
"""/-/ready and /-/healthy say no when they should, and /metrics never waits.

/-/ready answers 503 until every target has been collected once (here a FluentD target that
hangs until its timeout), then 200. /-/healthy answers 503 once the loop has not turned for
10 s: a rule file that loops is stopped only at its time budget (here 14 s, on purpose above
those 10 s), and while it holds the loop thread /metrics still answers at once from the last
snapshot; once the rule is stopped the loop turns again and /-/healthy is back to 200."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from drwatch_test import Drwatch, Tap, drill_textfile, start_fake, tmpdir, wait_for  # noqa: E402
from fakebase import control  # noqa: E402

t = Tap()
work = tmpdir()
TEXTFILE = drill_textfile(work)
RULES = os.path.join(work, "rules.lua")
with open(RULES, "w") as f:
    f.write("")
fluentd = "http://127.0.0.1:%d" % start_fake("fluentd_fake.py", os.path.join(work, "f.log"))
control(fluentd, "mode", {"mode": "hang", "path": "*"})

dw = Drwatch('''
drwatch = { site = "gold" }
textfile = { directory = "%s", interval = "1s" }
fluentd = { targets = { { site = "gold", url = "%s", interval = "5s", timeout = "3s" } } }
rules = { files = { "%s" }, evaluation_interval = "1s", timeout = "14s" }
''' % (TEXTFILE, fluentd, RULES))
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
# It loops in the evaluations of the next 5 s only, so one evaluation holds the loop.
with open(RULES, "w") as f:
    f.write('alert("HoldsTheLoop", { expr = function()\n'
            '  if time() < %f then while true do end end\nend })\n' % (time.time() + 5))
status, _, body = dw.reload()
t.is_(status, 200, "a rule file that loops is loaded (it may run 14 s per evaluation)")
stalled = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(dw.get("/-/healthy")),
                   timeout=16, step=0.2)
t.ok(stalled and b"the collection loop has not run for" in stalled[2],
     "/-/healthy: 503 once the loop has not turned for 10 s: %s"
     % (stalled[2].decode().strip() if stalled else "never"))
t0 = time.monotonic()
status, _, body = dw.get("/metrics")
took = time.monotonic() - t0
t.ok(status == 200 and b'dr_drill_ok{site="golddr"} 1' in body and took < 1,
     "/metrics still answers from the last snapshot meanwhile (%.3fs)" % took)
t.ok(wait_for(lambda: dw.get("/-/healthy")[0] == 200, timeout=8),
     "/-/healthy: 200 again once the rule is stopped and the loop turns")
t.ok("timeout: script ran past its time budget (14000 ms)" in dw.log(),
     "the rule's timeout is logged")
dw.stop_clean(t)
t.done()
