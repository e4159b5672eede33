#!/usr/bin/env python3
"""drwatch's Lua rules and the same conditions written as Prometheus rules give the same alert
timelines. For every test file in rules/tests/ (promtool's format, rule_files naming
../lua/NAME.lua):
  1. drwatch test-rules passes it, transition_rule_test entries included;
  2. promtool test rules passes it with rule_files pointed at ../prometheus/NAME.yml and the
     transition_rule_test entries taken out (Prometheus has no transition requests, and
     promtool refuses a key it does not know);
  3. drwatch's whole timeline (test-rules --timeline: the firing alerts of every rule at every
     evaluation step) passes promtool with the Prometheus rules: no mismatch at any step.
And rules/prometheus-only/ (what only an outside Prometheus can say: Watchdog, drwatch down or
absent) passes promtool check rules and promtool test rules with its own tests."""
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import BIN, ROOT, Tap, tmpdir  # noqa: E402

t = Tap()
prom_rules = sorted(glob.glob(os.path.join(ROOT, "rules", "prometheus", "*.yml")))
r = subprocess.run(["promtool", "check", "rules"] + prom_rules, capture_output=True, text=True)
if not t.ok(r.returncode == 0, "promtool check rules passes the %d Prometheus rule files"
            % len(prom_rules)):
    t.diag(r.stdout + r.stderr)
lua_rules = sorted(glob.glob(os.path.join(ROOT, "rules", "lua", "*.lua")))
t.is_([os.path.basename(p)[:-4] for p in lua_rules],
      [os.path.basename(p)[:-4] for p in prom_rules],
      "every Lua rule file has its Prometheus twin")
tests = sorted(glob.glob(os.path.join(ROOT, "rules", "tests", "*.yml")))
t.is_([os.path.basename(p)[:-4] for p in tests], [os.path.basename(p)[:-4] for p in lua_rules],
      "every rule file has its tests")
t.ok(tests, "rules/tests has test files (%d)" % len(tests))
work = tmpdir()


def to_prometheus(text):
    """rule_files ../lua/NAME.lua -> the absolute path of rules/prometheus/NAME.yml."""
    def repl(m):
        return os.path.join(ROOT, "rules", "prometheus", m.group(1) + ".yml")
    return re.sub(r'"?\.\./lua/([A-Za-z0-9_-]+)\.lua"?', repl, text)


def without_transitions(text):
    """text without its transition_rule_test keys and what is indented under them (a block
    sequence may sit at its key's own indentation, as `- ` lines)."""
    out, key_indent = [], None
    for line in text.splitlines(keepends=True):
        body = line.strip()
        indent = len(line) - len(line.lstrip(" "))
        if key_indent is not None:
            if (not body or body.startswith("#") or indent > key_indent or
                    (indent == key_indent and body.startswith("- "))):
                continue
            key_indent = None
        m = re.match(r"( *)transition_rule_test:", line)
        if m:
            key_indent = len(m.group(1))
            continue
        out.append(line)
    return "".join(out)


transition_tests = 0
for path in tests:
    name = os.path.basename(path)
    r = subprocess.run([BIN, "test-rules", path], capture_output=True, text=True)
    if not t.ok(r.returncode == 0 and "SUCCESS" in r.stdout, "drwatch test-rules %s" % name):
        t.diag(r.stdout + r.stderr)
    with open(path) as f:
        text = f.read()
    prom = to_prometheus(without_transitions(text))
    transition_tests += text.count("exp_transition:")
    t.ok("transition_rule_test" not in prom and "exp_transition" not in prom,
         "%s for promtool: without transition tests" % name)
    p1 = os.path.join(work, "prom-" + name)
    with open(p1, "w") as f:
        f.write(prom)
    r = subprocess.run(["promtool", "test", "rules", p1], capture_output=True, text=True)
    if not t.ok(r.returncode == 0, "promtool test rules %s (Prometheus rules)" % name):
        t.diag(r.stdout + r.stderr)
    r = subprocess.run([BIN, "test-rules", "--timeline", path], capture_output=True, text=True,
                       cwd=os.path.dirname(path))
    if not t.ok(r.returncode == 0 and "alert_rule_test" in r.stdout,
                "drwatch test-rules --timeline %s" % name):
        t.diag(r.stderr)
        continue
    p2 = os.path.join(work, "timeline-" + name)
    with open(p2, "w") as f:
        f.write(to_prometheus(r.stdout))
    steps = r.stdout.count("eval_time:")
    r = subprocess.run(["promtool", "test", "rules", p2], capture_output=True, text=True)
    if not t.ok(r.returncode == 0,
                "promtool agrees with drwatch at all %d evaluation steps of %s" % (steps, name)):
        t.diag(r.stdout[-3000:] + r.stderr)
t.ok(transition_tests, "drwatch test-rules ran the shipped rules' %d transition tests"
     % transition_tests)

only = os.path.join(ROOT, "rules", "prometheus-only")
only_rules = sorted(glob.glob(os.path.join(only, "*.yml")))
only_tests = sorted(glob.glob(os.path.join(only, "tests", "*.yml")))
t.is_([os.path.basename(p) for p in only_tests], [os.path.basename(p) for p in only_rules],
      "every Prometheus-only rule file has its tests")
r = subprocess.run(["promtool", "check", "rules"] + only_rules, capture_output=True, text=True)
if not t.ok(only_rules and r.returncode == 0,
            "promtool check rules passes the Prometheus-only rules"):
    t.diag(r.stdout + r.stderr)
for path in only_tests:
    r = subprocess.run(["promtool", "test", "rules", path], capture_output=True, text=True)
    if not t.ok(r.returncode == 0, "promtool test rules prometheus-only/tests/%s"
                % os.path.basename(path)):
        t.diag(r.stdout + r.stderr)
with open(os.path.join(only, "drwatch_alive.yml")) as f:
    alive = f.read()
t.ok(all("alert: " + a in alive for a in ("Watchdog", "DrwatchDown", "DrwatchAbsent")),
     "Watchdog, DrwatchDown and DrwatchAbsent ship")
t.done()
