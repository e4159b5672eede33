"""Runs build/tests/tools/act_step (tests/tools/act_step.c): one plan step through the executor
with the real actuators, and what came of it: the phases the executor called, the run's result,
and the step's own result and detail as the executor logged them.

    out = act_step.run(["--site", "gold", "--action", "patroni_demote", ...])
    out.phases        ["check", "act", "poll", "poll"]
    out.result        "ok" (the run), out.detail (the run's detail when it failed)
    out.step_result   "ok" or "already" ..., out.step_detail (what the actuator said)
"""
import os
import re
import subprocess
import time

from drwatch_test import ROOT

TOOL = os.path.join(os.environ.get("DRWATCH_BUILD", os.path.join(ROOT, "build")), "tests",
                    "tools", "act_step")
STEP = re.compile(r'msg="run \S+ step 1\.0 \w+: (\w+)(?:: (.*))?"\s*$')


class Outcome:
    def __init__(self, proc, seconds):
        self.rc = proc.returncode
        self.seconds = seconds
        self.stderr = proc.stderr
        fields = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
        self.phases = fields.get("phases", "").split()
        self.result = fields.get("result", "none")
        self.detail = fields.get("detail", "")
        self.step_result, self.step_detail = None, ""
        for line in proc.stderr.splitlines():
            m = STEP.search(line)
            if m:
                self.step_result = m.group(1)
                self.step_detail = (m.group(2) or "").replace('\\"', '"').replace("\\\\", "\\")

    def acted(self):
        return "act" in self.phases

    def __str__(self):
        return "rc %d in %.1fs, phases %s, result %s, step %s: %s%s" % (
            self.rc, self.seconds, " ".join(self.phases), self.result, self.step_result,
            self.step_detail, (" (run: %s)" % self.detail) if self.detail else "")


def run(args, timeout=300):
    t0 = time.time()
    proc = subprocess.run([TOOL] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout)
    return Outcome(proc, time.time() - t0)
