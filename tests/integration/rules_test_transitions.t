#!/usr/bin/env python3
"""drwatch test-rules checks transition_rule_test entries: at each eval_time the evaluation's
transition request must be exp_transition (a target, or "" for none), made by exp_rule with
exp_reason when those are given. A passing file says SUCCESS and exits 0; a mismatch is
reported in promtool's manner (FAILED, the time, exp and got with the rule and reason that
asked) and exits 1; a bad entry is named and exits 1; --timeline writes alerts only (promtool
reads it). Also: a request made between two eval_times is checked only where a test asks."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import BIN, Tap, tmpdir  # noqa: E402

t = Tap()
d = tmpdir()
with open(os.path.join(d, "r.lua"), "w") as f:
    f.write('transition("OnX", {\n'
            '  to = "golddr-primary",\n'
            '  when = function() return value("x") == 1 end,\n'
            '  reason = function(facts) return "x is 1, gslb " .. tostring(facts.gslb.system) end,\n'
            '})\n'
            'transition("OnY", {\n'
            '  to = "active-passive", when = function() return value("y") == 1 end,\n'
            '  reason = "y is 1",\n'
            '})\n'
            'alert("XAlert", { expr = function() return series("x") end })\n')
HEAD = '''rule_files: [r.lua]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'x'
        values: '0 1 1 0 0'
      - series: 'y'
        values: '0 0 1 1 0'
      - series: 'drwatch_gslb_answer_class{resolver="system",class="golddr"}'
        values: '1x5'
'''


def run(name, body, *args):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(HEAD + body)
    return subprocess.run([BIN, "test-rules"] + list(args) + [path], capture_output=True,
                          text=True)


r = run("pass.yml", '''    transition_rule_test:
      - eval_time: 0m
        exp_transition: ""
      - eval_time: 1m
        exp_transition: golddr-primary
        exp_rule: OnX
        exp_reason: "x is 1, gslb golddr"
      - eval_time: 2m
        exp_transition: golddr-primary
      - eval_time: 3m
        exp_transition: active-passive
        exp_rule: OnY
      - eval_time: 4m
    alert_rule_test:
      - eval_time: 1m
        alertname: XAlert
        exp_alerts: [{exp_labels: {}}]
''')
t.ok(r.returncode == 0 and "SUCCESS" in r.stdout,
     "transition tests that hold pass: none, a request with its rule and reason, first wins, "
     "a missing exp_transition is none")
if r.returncode:
    t.diag(r.stdout + r.stderr)

r = run("fail.yml", '''    transition_rule_test:
      - eval_time: 2m
        exp_transition: active-passive
      - eval_time: 3m
        exp_transition: active-passive
        exp_reason: "not this"
      - eval_time: 4m
        exp_transition: golddr-primary
''')
t.is_(r.returncode, 1, "a mismatch exits 1")
t.ok("FAILED:" in r.stdout, "and is reported as FAILED")
t.ok("    transition, time: 2m, \n        exp: active-passive, \n        got: golddr-primary, "
     "rule: OnX, reason: \"x is 1, gslb golddr\"\n" in r.stdout,
     "with the time, exp and got (the rule and reason that asked): first wins is checked")
t.ok("exp: active-passive, reason: \"not this\", \n        got: active-passive, rule: OnY, "
     "reason: \"y is 1\"" in r.stdout, "a reason that differs fails")
t.ok("    transition, time: 4m, \n        exp: golddr-primary, \n        got: none\n"
     in r.stdout, "no request where one is expected fails")
t.ok("time: 0m" not in r.stdout and "time: 1m" not in r.stdout,
     "evaluations no test asks about are not checked")

r = run("bad.yml", '''    transition_rule_test:
      - exp_transition: golddr-primary
''')
t.ok(r.returncode == 1 and "transition_rule_test 1: bad eval_time or exp_transition" in r.stdout,
     "an entry without eval_time is named (%s)" % r.stdout.strip().replace("\n", " / "))

r = run("timeline.yml", '''    transition_rule_test:
      - eval_time: 4m
        exp_transition: ""
''', "--timeline")
t.ok(r.returncode == 0 and "alert_rule_test" in r.stdout and "transition" not in r.stdout
     and r.stdout.count("eval_time:") == 5,
     "--timeline writes every step's alerts, up to the last transition test, and no transitions")
t.done()
