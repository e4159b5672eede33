#!/usr/bin/env python3
"""How long SIGTERM takes to stop drwatch while its rules are slower than their interval.

    bench/sigterm_latency.py [DRWATCH_BIN]     (default ./drwatch)

Starts drwatch with a textfile collector (1 s) and rules at a 1 s evaluation interval with a 2 s
budget per file: one file busy-loops 1.2 s per evaluation, another loops until its budget stops
it. Once both have been evaluated, lets them run late for RUNS_LATE seconds, sends SIGTERM and
prints the time to exit (drwatch is killed after 120 s; the figure then reads "> 120 s"). For
context it also prints how long a POST /-/reload took just before. Prints figures; asserts
nothing. The reliability issue measured over 40 s at 331f33d."""
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
if len(sys.argv) > 1:
    os.environ["DRWATCH_BIN"] = os.path.abspath(sys.argv[1])
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from drwatch_test import Drwatch, http, tmpdir, wait_for  # noqa: E402

RUNS_LATE = 10


def main():
    work = tmpdir()
    text, rules = os.path.join(work, "text"), os.path.join(work, "rules")
    os.mkdir(text)
    os.mkdir(rules)
    with open(os.path.join(text, "x.prom"), "w") as f:
        f.write("x 1\n")
    with open(os.path.join(rules, "slow.lua"), "w") as f:
        f.write('alert("SlowRule", { expr = function()\n'
                '  local t0 = os.clock() while os.clock() - t0 < 1.2 do end return true\n'
                'end })\n')
    with open(os.path.join(rules, "budget.lua"), "w") as f:
        f.write('alert("OverBudget", { expr = function() while true do end end })\n')
    dw = Drwatch('''
drwatch = { site = "gold", fast_interval = "1s" }
textfile = { directory = "%s", interval = "1s" }
rules = { files = { "%s/*.lua" }, evaluation_interval = "1s", timeout = "2s" }
''' % (text, rules)).start()
    ran = 'drwatch_rule_evaluations_total{file="%s/%%s.lua",outcome="%%s"}' % rules
    if not wait_for(lambda: (lambda m: m.get(ran % ("budget", "timeout"), 0) >= 1 and
                             m.get(ran % ("slow", "ok"), 0) + m.get(ran % ("slow", "timeout"), 0)
                             >= 1)(dw.metrics()), timeout=60):
        sys.exit("the rules did not run; log:\n" + dw.log())
    time.sleep(RUNS_LATE)  # a benchmark: let the rules run late for a while
    t0 = time.monotonic()
    try:
        auth = {"Authorization": "Bearer %s" % dw.token} if dw.token else None
        status = http("POST", dw.url + "/-/reload", auth, timeout=60)[0]
    except OSError:
        status = "no answer"
    reload_s = time.monotonic() - t0
    t0 = time.monotonic()
    dw.signal(signal.SIGTERM)
    try:
        rc = dw.proc.wait(timeout=120)
        took = "%.2f s" % (time.monotonic() - t0)
    except subprocess.TimeoutExpired:
        dw.proc.kill()
        rc = dw.proc.wait()
        took = "> 120 s (killed)"
    print("drwatch: %s" % os.environ.get("DRWATCH_BIN", os.path.join(ROOT, "drwatch")))
    print("rules: 1.2 s of work and a 2 s budget per evaluation at a 1 s interval")
    print("POST /-/reload after %d s of late rules: %s in %.2f s" % (RUNS_LATE, status, reload_s))
    print("SIGTERM to exit: %s (exit status %s)" % (took, rc))


if __name__ == "__main__":
    main()
