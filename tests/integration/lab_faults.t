#!/usr/bin/env python3
"""Faults during the daily drill, in one two-site lab (tests/lib/lab.py: real Patroni and
PostgreSQL with etcd, the GSLB over real dnsmasq, per site the Kubernetes, Tekton and portal
fakes, two drwatch joined by the mTLS peer link, the shipped default plans), reused from case
to case. A checker samples both leaders every 200 ms throughout: never two writable
primaries, never a leader promoted while the other site's answered writable.

  1. kill -9 mid-plan: active-passive -> golddr-primary asked of Gold; Gold's drwatch is
     killed while its database is being demoted, and GoldDR's while it waits to promote; each
     restarted on its own data directory resumes its run (GET /api/v1/plans/<id>: resumed),
     and the drill ends where it should: both golddr-primary, GoldDR writable, no row lost.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import Tap, wait_for  # noqa: E402
from lab import SITES, Lab  # noqa: E402

t = Tap()
T0 = time.time()
lab = Lab(log=t.diag)
try:
    lab.start()
except Exception as e:  # noqa: BLE001 - the lab's failure is the test's
    t.ok(False, "the lab starts: %s" % e)
    t.done()
t.ok(True, "the lab is up in %.1fs (%s)" % (time.time() - T0, lab.timings))
checker = lab.invariant_checker(0.2)
t.ok(wait_for(lambda: checker.samples >= 3, 10), "the invariant checker samples both leaders")

STATE_CM_PATH = "/api/v1/namespaces/ops/configmaps/switchover-state-dev"


def settled(site, run_id):
    p = lab.plan(site, run_id)
    return p if p and p["status"] not in ("awaiting_peer", "running") else None


def idle(site, state):
    s = lab.state(site)
    return s.get("state") == state and not s.get("transition_in_progress") and \
        "awaiting_peer" not in s


def show(p):
    return "%s: %s; steps: %s" % (p["status"], p["detail"], ", ".join(
        "%s %s" % (s["action"], s["status"]) for s in p["steps"])) if p else "no record"


def step_ok(p):
    return p and p["status"] == "ok" and all(s["status"] in ("ok", "already") for s in p["steps"])


def resumed_ok(p, at):
    """A resumed run that ended ok from its step `at` in doubt on. The steps it had ended
    before the restart show as pending: the resumed record holds only what ran since
    (executor.h, sw_run_record.resumed)."""
    if not (p and p["status"] == "ok" and p["resumed"]):
        return False
    i = next((n for n, s in enumerate(p["steps"]) if s["action"] == at), None)
    return i is not None and all(s["status"] == "pending" for s in p["steps"][:i]) and \
        all(s["status"] in ("ok", "already") for s in p["steps"][i:])


def running_step(site, run_id):
    p = lab.plan(site, run_id)
    return next((s["action"] for s in (p or {}).get("steps", []) if s["status"] == "running"),
                None)


def rows(site):
    return lab.psql(site, "SELECT count(*) || ' ' || coalesce(max(id), 0) FROM rows",
                    check=False)


def label(site):
    return ((lab.k8s_get(site, STATE_CM_PATH) or {}).get("data") or {}).get("last_stable_state")


def switchover_log(site):
    return "\n".join(line for line in lab.dw[site].log().splitlines()
                     if "component=switchover" in line)[-4000:]


def ends_at(to, primary, standby, before=None):
    """Both sites idle in `to`, their labels `to`, primary's leader writable and standby's in
    recovery, the rows counted before on primary."""
    t.ok(wait_for(lambda: idle("gold", to) and idle("golddr", to), 60, 0.2),
         "GET /api/v1/state: both sites %s, nothing running or awaited (%s, %s)"
         % (to, lab.state("gold").get("state"), lab.state("golddr").get("state")))
    t.ok(wait_for(lambda: [label(s) for s in SITES] == [to, to], 10, 0.2),
         "both state ConfigMaps' last_stable_state: %s" % to)
    got = (lab.recovery(primary), lab.recovery(standby))
    t.is_(got, ("f", "t"), "%s's leader is writable, %s's in recovery" % (primary, standby))
    if got != ("f", "t"):
        for site in SITES:
            t.diag("%s's switchover log:\n%s" % (site, switchover_log(site)))
    if before is not None:
        t.is_(rows(primary), before, "every row written before is on %s (count, max id)"
              % primary)


def kill_at(site, run_id, action, timeout=90):
    """SIGKILLs site's drwatch once its run's step `action` is running; restarts it."""
    got = wait_for(lambda: running_step(site, run_id) == action, timeout, 0.05)
    t.ok(got, "%s's run %s reaches %s" % (site, run_id, action))
    if not got:
        return False
    lab.kill(site)
    t.diag("%s's drwatch killed during %s" % (site, action))
    lab.restart(site)
    return True


# ---- 1. kill -9 mid-plan, on each site ----
t.diag("---- 1. SIGKILL mid-plan: active-passive -> golddr-primary ----")
lab.psql("gold", "INSERT INTO rows (payload) SELECT 'before kill ' || g "
         "FROM generate_series(1, 500) g")
before = rows("gold")
status, r = lab.ask("gold", "golddr-primary", reason="drill with kills")
t.ok(status == 202 and r.get("status") == "accepted", "golddr-primary asked of gold: 202 (%s)"
     % r)
gold_run = r.get("plan", "")
if kill_at("gold", gold_run, "patroni_demote"):
    p = wait_for(lambda: lab.plan("gold", gold_run), 30, 0.2)
    t.ok(p and p["resumed"], "gold, restarted, resumed its run %s (%s)" % (gold_run, show(p)))
p = wait_for(lambda: settled("gold", gold_run), 120, 0.25)
t.ok(resumed_ok(p, "patroni_demote"), "gold's resumed run ends ok from patroni_demote on (%s)"
     % show(p))
golddr_run = wait_for(lambda: (lab.state("golddr").get("run") or {}).get("id"), 30, 0.05)
t.ok(golddr_run, "golddr runs its plan, asked by gold (%s)" % golddr_run)
if golddr_run and kill_at("golddr", golddr_run, "patroni_promote"):
    gp = wait_for(lambda: lab.plan("golddr", golddr_run), 30, 0.2)
    t.ok(gp and gp["resumed"], "golddr, restarted, resumed its run %s (%s)"
         % (golddr_run, show(gp)))
gp = wait_for(lambda: settled("golddr", golddr_run or ""), 120, 0.25)
t.ok(resumed_ok(gp, "patroni_promote"),
     "golddr's resumed run ends ok from patroni_promote on (%s)" % show(gp))
ends_at("golddr-primary", "golddr", "gold", before)
t.ok(wait_for(lambda: lab.gslb_answer() == "golddr", 15, 0.2), "the GSLB answers golddr")

# ---- the end ----
checker.stop()
t.diag("writability seen (s since the lab began: gold, golddr in recovery):")
for at, w in checker.states:
    t.diag("  %7.2f  %s" % (at, w))
t.ok(checker.samples > 50, "%d samples of both leaders" % checker.samples)
t.is_(checker.both, [], "never were both leaders writable at once")
t.is_(checker.unsafe_promotions, [],
      "no leader was promoted while the other answered writable (promotions: %s)"
      % checker.promotions)
for site in SITES:
    lab.dw[site].stop_clean(t)
lab.stop()
t.ok(True, "whole file %.1fs" % (time.time() - T0))
t.done()
