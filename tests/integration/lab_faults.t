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
  4. the peer link cut: GoldDR's drwatch stopped, gold-standby asked of Gold: 202
     awaiting_peer, then refused "unreachable" within peer_timeout (10s), counted, and no
     fake of either site asked anything; GoldDR's drwatch back, the pair still golddr-primary.
  2a. Gold's pipeline fails once, then succeeds (golddr-primary -> gold-standby): the
     actuator triggers it again and the drill completes.
  3. Gold's portal answers 503 (gold-standby -> active-passive): the maintenance steps are
     best-effort (the action's default, actions.c): both fail, are counted, and the run ends
     ok; the drill completes with every row on Gold.
  2b. GoldDR's pipeline fails every time (active-passive -> golddr-primary): GoldDR's run
     fails at tekton_deploy after its retry, counted in drwatch_action_steps_total (what
     TransitionFailed alerts on); GoldDR's maintenance stays on and its state and
     last_stable_state stay active-passive, its database already promoted (Gold's plan made
     it read-only first); asked again of GoldDR once the pipeline works, the run finds its
     earlier steps done, deploys, turns maintenance off, and the pair is golddr-primary.
  2c. GoldDR's pipeline hangs once, then succeeds (that second request): the hung run is
     cancelled after attempt_timeout (8s in this lab), triggered again, and the drill ends.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import Tap, http, wait_for  # noqa: E402
from lab import SITES, Lab, invariants_held, start_for, stop_for, show, step_ok, told_run  # noqa: E402

t = Tap()
T0 = time.time()
lab = Lab(log=t.diag, tekton_attempt_timeout="8s")
start_for(t, lab, T0)
checker = lab.invariant_checker(0.2)
settled, idle, rows, running_step = (lab.settled, lab.idle, lab.rows,
                                      lab.running_step)
t.ok(wait_for(lambda: checker.samples >= 3, 10), "the invariant checker samples both leaders")

STATE_CM_PATH = "/api/v1/namespaces/ops/configmaps/switchover-state-dev"






def resumed_ok(p, at):
    """A resumed run that ended ok, its step `at` the one in doubt at the kill. Every step
    shows how it ended, those ended before the kill as the journal has them (regression: they
    showed as pending, as if they had never run)."""
    return bool(p and p["status"] == "ok" and p["resumed"] and
                any(s["action"] == at for s in p["steps"]) and
                all(s["status"] in ("ok", "already") for s in p["steps"]))





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
t.ok(resumed_ok(p, "patroni_demote"), "gold's resumed run ends ok, every step ok or already (%s)"
     % show(p))
golddr_run = told_run(p) or (lab.state("golddr").get("run") or {}).get("id")
t.ok(golddr_run, "golddr runs its plan, asked by gold (%s)" % golddr_run)
if golddr_run and kill_at("golddr", golddr_run, "patroni_promote"):
    gp = wait_for(lambda: lab.plan("golddr", golddr_run), 30, 0.2)
    t.ok(gp and gp["resumed"], "golddr, restarted, resumed its run %s (%s)"
         % (golddr_run, show(gp)))
gp = wait_for(lambda: settled("golddr", golddr_run or ""), 120, 0.25)
t.ok(resumed_ok(gp, "patroni_promote"),
     "golddr's resumed run ends ok, every step ok or already (%s)" % show(gp))
ends_at("golddr-primary", "golddr", "gold", before)
t.ok(wait_for(lambda: lab.gslb_answer() == "golddr", 15, 0.2), "the GSLB answers golddr")



def marks():
    return {s: {f: len(lab.activity(s, f)) for f in ("k8s", "portal", "tekton")} for s in SITES}


def writes_since(since):
    """What each site's fakes were asked since the marks, the state ConfigMap's writes left
    out: {site: [(fake, method path)]}."""
    out = {}
    for site in SITES:
        out[site] = []
        for fake in ("k8s", "portal", "tekton"):
            for a in lab.activity(site, fake)[since[site][fake]:]:
                path = a.get("path", "")
                if fake == "k8s" and (a.get("method") == "GET" or "switchover-state-dev" in path):
                    continue
                out[site].append((fake, "%s %s" % (a.get("method", "POST"), path)))
    return out


def counter(site, name, **labels):
    """The sum of a counter's series with these labels on site's /metrics (0 when none)."""
    total = 0.0
    for series, v in lab.dw[site].metrics().items():
        if series.startswith(name + "{") and all('%s="%s"' % kv in series
                                                 for kv in labels.items()):
            total += v
    return total


def counted(site, name, before, want, **labels):
    """Waits until site's /metrics (a snapshot, published after the fact) shows the counter
    at before + want; returns the increase seen last."""
    got = wait_for(lambda: counter(site, name, **labels) - before == want, 10, 0.2)
    return want if got else counter(site, name, **labels) - before


def fake_post(url, path, body):
    status, _, text = http("POST", url + path, body=json.dumps(body).encode())
    if status != 200:
        raise RuntimeError("POST %s%s: %d %s" % (url, path, status, text[:200]))


def tekton(site, outcomes):
    """The outcomes of site's next pipeline runs (the fake's count of triggers starts again)."""
    fake_post(lab.tekton[site], "/__fake/state", {"outcomes": outcomes, "accepted": 0})


def portal_state(site):
    """The last maintenance PUT site's portal answered 200: True (on), False, None."""
    puts = [a for a in lab.activity(site, "portal") if a["status"] == 200]
    return puts[-1]["path"].endswith("/true") if puts else None


def keycloak_selects_page(site):
    svc = lab.k8s_get(site, "/api/v1/namespaces/gateway/services/keycloak-http") or {}
    return (svc.get("spec") or {}).get("selector", {}).get("app") == "keycloak-maintenance-page"


def ask_confirmed(to, why):
    """Asks gold for a transition the peer confirms; returns gold's settled run."""
    status, r = lab.ask("gold", to, reason=why)
    t.ok(status == 202 and r.get("status") == "awaiting_peer",
         "%s asked of gold: 202 awaiting_peer (%s)" % (to, r))
    return r.get("plan", ""), wait_for(lambda: settled("gold", r.get("plan", "")), 180, 0.25)


# ---- 4. the peer link cut ----
t.diag("---- 4. the peer link cut: gold-standby asked while golddr's drwatch is down ----")
lab.dw["golddr"].stop()
t.ok(lab.dw["golddr"].proc.poll() is not None, "golddr's drwatch is stopped")
since = marks()
unreachable_before = counter("gold", "drwatch_peer_requests_total", kind="confirm",
                             answer="unreachable")
start = time.time()
status, r = lab.ask("gold", "gold-standby", reason="peer link cut")
t.ok(status == 202 and r.get("status") == "awaiting_peer",
     "gold-standby asked of gold: 202 awaiting_peer (%s)" % r)
p = wait_for(lambda: (lambda q: q if q and q["status"] != "awaiting_peer" else None)(
    lab.plan("gold", r.get("plan", ""))), 30, 0.1)
took = time.time() - start
t.ok(p and p["status"] == "refused" and "unreachable" in p["detail"],
     "refused: the peer is unreachable (%s)" % (p and p["detail"]))
t.ok(took <= 10 + 2, "refused within peer_timeout (10s): %.1fs" % took)
t.is_(counted("gold", "drwatch_peer_requests_total", unreachable_before, 1.0, kind="confirm",
              answer="unreachable"), 1.0, "drwatch_peer_requests_total{kind=confirm,answer=unreachable}")
t.ok(idle("gold", "golddr-primary"), "gold is still golddr-primary, nothing running")
t.is_(writes_since(since), {"gold": [], "golddr": []}, "nothing ran on either site")
t.is_((lab.recovery("golddr"), lab.recovery("gold")), ("f", "t"),
      "golddr's leader still writable, gold's in recovery")
lab.restart("golddr")
t.ok(wait_for(lambda: idle("golddr", "golddr-primary"), 30, 0.2),
     "golddr's drwatch back, golddr-primary")

# ---- 2a. the pipeline fails once, then succeeds ----
t.diag("---- 2a. gold's pipeline fails once, then succeeds: golddr-primary -> gold-standby ----")
tekton("gold", ["fail", "success"])
since = marks()
run_id, p = ask_confirmed("gold-standby", "drill, the pipeline fails once")
t.ok(step_ok(p), "gold's run ends ok (%s)" % show(p))
deploy = [s for s in (p or {}).get("steps", []) if s["action"] == "tekton_deploy"]
triggers = [a["outcome"] for a in lab.activity("gold", "tekton")[since["gold"]["tekton"]:]]
t.is_(triggers, ["fail", "success"], "gold's pipeline was triggered twice: failed, then ok (%s)"
      % (deploy and deploy[0]["detail"]))
ends_at("gold-standby", "golddr", "gold")
tekton("gold", ["success"])

# ---- 3. the portal down ----
t.diag("---- 3. gold's portal down: gold-standby -> active-passive ----")
fake_post(lab.portal["gold"], "/__fake/mode", {"path": "*", "mode": "status", "status": 503})
lab.psql("golddr", "INSERT INTO rows (payload) SELECT 'before return ' || g "
         "FROM generate_series(1, 500) g")
before = rows("golddr")
failed_before = counter("gold", "drwatch_action_steps_total", action="maintenance",
                        result="failed")
run_id, p = ask_confirmed("active-passive", "drill, the portal down")
maint = [s["status"] for s in (p or {}).get("steps", []) if s["action"] == "maintenance"]
t.ok(p and p["status"] == "ok" and maint == ["failed", "failed"] and all(
    s["status"] in ("ok", "already") for s in p["steps"] if s["action"] != "maintenance"),
    "the maintenance steps are best-effort (actions.c): both fail, the run ends ok (%s)"
    % show(p))
t.is_(counted("gold", "drwatch_action_steps_total", failed_before, 2.0, action="maintenance",
              result="failed"), 2.0, "drwatch_action_steps_total{action=maintenance,result=failed} +2")
ends_at("active-passive", "gold", "golddr", before)
t.ok(wait_for(lambda: lab.gslb_answer() == "gold", 15, 0.2), "the GSLB answers gold")
fake_post(lab.portal["gold"], "/__fake/reset", {})

# ---- 2b. the pipeline fails every time ----
t.diag("---- 2b. golddr's pipeline fails every time: active-passive -> golddr-primary ----")
tekton("golddr", ["fail"])
failed_before = counter("golddr", "drwatch_action_steps_total", action="tekton_deploy",
                        result="failed")
status, r = lab.ask("gold", "golddr-primary", reason="drill, golddr's pipeline broken")
t.ok(status == 202, "golddr-primary asked of gold: 202 (%s)" % r)
p = wait_for(lambda: settled("gold", r.get("plan", "")), 120, 0.25)
t.ok(step_ok(p), "gold's run ends ok (%s)" % show(p))
golddr_run = told_run(p)
t.ok(golddr_run, "gold told golddr, which accepted: run %s" % golddr_run)
gp = wait_for(lambda: settled("golddr", golddr_run or ""), 120, 0.25)
failed = [s["action"] for s in (gp or {}).get("steps", []) if s["status"] == "failed"]
t.ok(gp and gp["status"] == "failed" and failed == ["tekton_deploy"] and
     gp["steps"][-1]["status"] == "pending",
     "golddr's run fails at tekton_deploy, maintenance off never runs (%s)" % show(gp))
t.is_(counted("golddr", "drwatch_action_steps_total", failed_before, 1.0,
              action="tekton_deploy", result="failed"), 1.0, "drwatch_action_steps_total{action=tekton_deploy,result=failed} +1 "
      "(TransitionFailed's basis)")
t.ok(wait_for(lambda: idle("golddr", "active-passive"), 10, 0.2) and label("golddr") ==
     "active-passive", "golddr's state and last_stable_state unchanged: active-passive (%s)"
     % label("golddr"))
t.ok(portal_state("golddr") is True and keycloak_selects_page("golddr"),
     "golddr's maintenance stays on (portal banner on, Keycloak's Service on the page)")
t.is_((lab.recovery("golddr"), lab.recovery("gold")), ("f", "t"),
      "golddr's leader is writable (promoted before the pipeline), gold's in recovery")
t.diag("---- 2c. golddr's pipeline hangs once, then succeeds: golddr-primary asked again ----")
tekton("golddr", ["hang", "success"])
since = marks()
status, r = lab.ask("golddr", "golddr-primary", reason="the pipeline is fixed: again")
t.ok(status == 202, "golddr-primary asked again, of golddr: 202 (%s)" % r)
gp = wait_for(lambda: settled("golddr", r.get("plan", "")), 120, 0.25)
t.ok(step_ok(gp), "golddr's second run finds its steps done, deploys, ends ok (%s)" % show(gp))
triggers = lab.activity("golddr", "tekton")[since["golddr"]["tekton"]:]
t.is_([a["outcome"] for a in triggers], ["hang", "success"],
      "golddr's pipeline was triggered twice: the first run hung, the second succeeded")
hung = triggers[0].get("run") if triggers else None
t.ok(hung and any(a["method"] == "PATCH" and a["path"].endswith("/pipelineruns/" + hung)
                  for a in lab.activity("golddr", "k8s")[since["golddr"]["k8s"]:]),
     "the hung run %s was cancelled (PATCH) after attempt_timeout (8s)" % hung)
ends_at("golddr-primary", "golddr", "gold")
t.ok(portal_state("golddr") is False and not keycloak_selects_page("golddr"),
     "golddr's maintenance is off")

# ---- the end ----
invariants_held(t, checker)
stop_for(t, lab, T0, 'whole file')
