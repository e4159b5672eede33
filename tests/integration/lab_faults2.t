#!/usr/bin/env python3
"""More faults on the two-site lab (tests/lib/lab.py), after lab_faults.t (which grew long):
one lab, reused from case to case, with a second GSLB resolver in both drwatch configs that
nothing answers on, the shipped switchover rules, and automation on at GoldDR. A checker
samples both leaders every 200 ms throughout: never two writable primaries, never a leader
promoted while the other site's answered writable.

  1. one resolver failing: Gold's health API down, so dnsmasq answers GoldDR alone, but the
     second resolver answers nothing. The evidence requires every configured resolver:
     gslb_golddr_alone stays false naming the failing resolver, drwatch_gslb_answer_class
     shows it as error, and no automatic failover starts (issue 14). Nor may a planned
     promotion (every resolver must show Gold withdrawn): the resolver is then taken out of
     both configs (reload) for the next case.
  2. kill -9 right after the trigger (active-passive -> golddr-primary asked of Gold):
     GoldDR's drwatch is killed as soon as
     its EventListener fake has received the tekton_deploy trigger, and restarted; the resumed
     step follows that trigger's PipelineRun instead of sending another: exactly one trigger,
     and the plan finishes, no row lost (issue 13). Then maintenance as each drwatch observes
     it: off at GoldDR, which serves, on at Gold, the standby.
  3. Gold's PostgreSQL stopped during a drill (golddr-primary -> gold-standby asked of Gold):
     Gold's demotion stalls and fails after stall_timeout; its destructive fallback,
     patroni_rebuild, is refused by the guard, since Gold's position is unknown; the run
     fails there with maintenance on, TransitionFailed fires, GoldDR stays the one writable
     primary.

Not here: a kill during patroni_rebuild's destructive step (switchover_kill.t does it on fakes).
In this lab the rebuild is reached only when the demotion fails while Gold's position is known:
with Gold's PostgreSQL stopped the guard refuses it (case 3), and with Gold's Patroni frozen
(SIGSTOP) the demotion waits for its 5-minute deadline, too long for CI.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import Tap, free_port, http, wait_for  # noqa: E402
from lab import SITES, Lab, invariants_held, start_for, stop_for, show, told_run  # noqa: E402

t = Tap()
T0 = time.time()
DEAD = "127.0.0.1:%d" % free_port()  # nothing listens: every lookup there fails
lab = Lab(log=t.diag, rules=True, automation=("golddr",), extra_resolvers=(DEAD,),
          tekton_attempt_timeout="20s")
start_for(t, lab, T0)
checker = lab.invariant_checker(0.2)
settled, idle, rows, running_step = (lab.settled, lab.idle, lab.rows,
                                      lab.running_step)
t.ok(wait_for(lambda: checker.samples >= 3, 10), "the invariant checker samples both leaders")








def sample(site, name, **labels):
    for series, v in lab.dw[site].metrics().items():
        if (series == name or series.startswith(name + "{")) and all('%s="%s"' % kv in series
                                                 for kv in labels.items()):
            return v
    return None


def lookups(site, resolver):
    return sum(v for series, v in lab.dw[site].metrics().items()
               if series.startswith("drwatch_gslb_lookups_total{") and
               'resolver="%s"' % resolver in series)


# ---- 1. one resolver failing ----
t.diag("---- 1. one resolver failing: gold's health API down, automation on at golddr ----")
lab.scale_health("gold", 0)
t.ok(wait_for(lambda: lab.gslb_answer() == "golddr", 20, 0.2), "dnsmasq answers golddr alone")


def alone_check():
    return lab.evidence("golddr").get("checks", {}).get("gslb_golddr_alone", (None, ""))


t.ok(wait_for(lambda: DEAD in alone_check()[1], 30, 0.2),
     "golddr's gslb_golddr_alone check names the failing resolver once dnsmasq's answer has "
     "held (%s)" % (alone_check(),))
t.is_(alone_check()[0], False, "and it is false: every configured resolver must answer golddr")
t.is_(sample("golddr", "drwatch_gslb_answer_class", resolver=DEAD, **{"class": "error"}), 1.0,
      "drwatch_gslb_answer_class{resolver=%s,class=error} is 1: drwatch reports it" % DEAD)
ev = lab.evidence("golddr")
t.ok(ev.get("automation") and not ev.get("complete"),
     "automation is on and the evidence is not complete (%s)" % ev.get("checks"))
base = lookups("golddr", DEAD)
t.ok(wait_for(lambda: lookups("golddr", DEAD) >= base + 5, 30, 0.2),
     "five more lookups of the failing resolver (samples is 2)")
s = lab.state("golddr")
t.ok(s.get("state") == "active-passive" and not s.get("transition_in_progress") and
     not s.get("run"), "no automatic failover started: golddr is active-passive, no run (%s)"
     % s)
t.is_(lab.writable("gold"), True, "gold's leader is still the writable one")
lab.scale_health("gold", 2)
t.ok(wait_for(lambda: lab.gslb_answer() == "gold", 20, 0.2), "gold's health API back")
t.ok(lab.set_automation("golddr", False), "automation off for the drill")
# A resolver that fails keeps the GSLB from ever showing Gold withdrawn, so no promotion, not
# even a planned one, may pass the guard (guards.c sw_gslb_excludes): the drill needs it gone.
for site in SITES:
    lab.set_extra_resolvers(site, [])
t.ok(wait_for(lambda: all(sample(s, "drwatch_gslb_answer_class", resolver=DEAD,
                                 **{"class": "error"}) is None for s in SITES), 20, 0.2),
     "the failing resolver is out of both configs (reloaded)")

# ---- 2. a kill -9 right after the trigger ----
t.diag("---- 2. golddr's drwatch killed right after its tekton_deploy trigger ----")
lab.psql("gold", "INSERT INTO rows (payload) SELECT 'before the drill ' || g "
         "FROM generate_series(1, 300) g")
before = rows("gold")
# A longer pipeline run, so that the kill lands while it is in flight.
status, _, text = http("POST", lab.tekton["golddr"] + "/__fake/state",
                       body=b'{"outcomes": ["success"], "finish_ms": 4000}')
t.is_(status, 200, "golddr's pipeline runs take 4s")
triggers_before = len(lab.activity("golddr", "tekton"))
status, r = lab.ask("gold", "golddr-primary", reason="drill with a kill after the trigger")
t.ok(status == 202, "golddr-primary asked of gold: 202 (%s)" % r)
gold_run = r.get("plan", "")
p = wait_for(lambda: settled("gold", gold_run), 120, 0.25)
t.ok(p and p["status"] == "ok", "gold's run ends ok (%s)" % show(p))
golddr_run = told_run(p)
t.ok(golddr_run, "gold told golddr, which accepted: run %s" % golddr_run)

got = wait_for(lambda: len(lab.activity("golddr", "tekton")) > triggers_before, 120, 0.05)
t.ok(got, "golddr's EventListener received the trigger")
if got:
    lab.kill("golddr")
    lab.restart("golddr")
gp = wait_for(lambda: settled("golddr", golddr_run or ""), 120, 0.25)
t.ok(gp and gp["status"] == "ok" and gp["resumed"],
     "golddr's resumed run ends ok (%s)" % show(gp))
deploy = [s for s in (gp or {}).get("steps", []) if s["action"] == "tekton_deploy"]
triggers = lab.activity("golddr", "tekton")[triggers_before:]
t.is_(len(triggers), 1, "exactly one trigger reached golddr's EventListener (%s)"
      % (deploy and deploy[0]["detail"]))
t.ok("instead of triggering again" in lab.dw["golddr"].log(),
   "golddr's log says the resumed step followed the trigger sent before the kill")
t.ok(wait_for(lambda: idle("gold", "golddr-primary") and idle("golddr", "golddr-primary"), 60,
              0.2), "both sites golddr-primary, nothing running")
t.is_((lab.recovery("golddr"), lab.recovery("gold")), ("f", "t"),
      "golddr's leader is writable, gold's in recovery")
t.is_(rows("golddr"), before, "every row written before the drill is on golddr")
# Maintenance as observed (Keycloak's Service, read every 10s): golddr serves without it,
# gold (the standby) keeps it, as their plans left them.
t.ok(wait_for(lambda: (sample("golddr", "drwatch_maintenance_on"),
                       sample("golddr", "drwatch_maintenance_should_be_off"),
                       sample("gold", "drwatch_maintenance_on"),
                       sample("gold", "drwatch_maintenance_should_be_off")) == (0, 1, 1, 0),
              25, 0.5),
     "drwatch_maintenance_on and _should_be_off: golddr 0 and 1, gold 1 and 0 (%s)"
     % [(sample(s, "drwatch_maintenance_on"), sample(s, "drwatch_maintenance_should_be_off"))
        for s in ("golddr", "gold")])
t.ok(wait_for(lambda: lab.gslb_answer() == "golddr", 15, 0.2), "the GSLB answers golddr")

# ---- 3. Gold's PostgreSQL stopped during a drill ----
t.diag("---- 3. gold's PostgreSQL stopped: golddr-primary -> gold-standby ----")
lab.pg.stop_postgres("gold1")
failed_before = sample("gold", "drwatch_action_steps_total", action="patroni_rebuild",
                       result="refused") or 0
status, r = lab.ask("gold", "gold-standby", reason="drill, gold's database down")
t.ok(status == 202, "gold-standby asked of gold: 202 (%s)" % r)
run = r.get("plan", "")
p = wait_for(lambda: settled("gold", run), 120, 0.25)
steps = {s["action"]: s for s in (p or {}).get("steps", [])}
t.ok(p and p["status"] == "failed" and "patroni_rebuild: guard" in p["detail"] and
     "unknown" in p["detail"] and steps.get("tell_peer", {}).get("status") == "pending",
     "gold's demotion stalls (stall_timeout 30s); its destructive fallback is refused by the "
     "guard (gold's position is unknown: nothing proves golddr holds all it had); the run "
     "fails there (%s)" % show(p))
t.ok(wait_for(lambda: (sample("gold", "drwatch_action_steps_total", action="patroni_rebuild",
                              result="refused") or 0) == failed_before + 1, 10, 0.2),
     "drwatch_action_steps_total{action=patroni_rebuild,result=refused} +1")
t.ok(wait_for(lambda: "TransitionFailed" in lab.alerts("gold"), 20, 0.5),
     "TransitionFailed fires on gold (%s)" % lab.alerts("gold"))
t.ok(sample("gold", "drwatch_maintenance_on") == 1, "gold's maintenance stays on")
t.ok(idle("gold", "golddr-primary") and idle("golddr", "golddr-primary"),
     "both sites still golddr-primary, nothing running")
t.is_(lab.recovery("golddr"), "f", "golddr's leader is still the writable one")
lab.pg.start_postgres("gold1")
t.ok(wait_for(lambda: lab.recovery("gold", timeout=3) == "t", 60, 0.5),
     "gold's PostgreSQL back, in recovery")

# ---- the end ----
invariants_held(t, checker)
stop_for(t, lab, T0, 'whole file')
