#!/usr/bin/env python3
"""The eight GSLB scenarios of gslb.md (the platform's own GSLB test suite) on the two-site lab
(tests/lib/lab.py: real Patroni and PostgreSQL with etcd, dnsmasq behind an F5-like monitor of
both sites' /health, per site the Kubernetes, Tekton and portal fakes, two drwatch joined by
the mTLS peer link, each loading the shipped switchover rules), in the suite's order, on one
lab:

  baseline_all_down, test_happy_path, test_switch_to_dr, test_total_outage,
  test_switch_to_primary, test_dr_down, test_dr_then_recovery, test_dr_maintenance_with_outage

Each is driven as the real suite drives it: by scaling a site's health API Deployment (here in
that site's Kubernetes fake, which the lab's router follows: /health answers "iamalive" while a
pod is ready, 503 once none is). GoldDR's maintenance is the real golddr-maintenance transition,
asked of Gold (GoldDR's plan withdraws it). For each scenario the test asserts:
  - what the GSLB answers (dnsmasq), and every answer the monitor gave since the scenario began
    (no flapping: "stable");
  - what both drwatch observe: drwatch_gslb_answer_class of the resolver, held for `samples`
    samples, and both sites' /health probes (drwatch_gslb_probe_up);
  - what they decide with automation off: GET /api/v1/evidence (complete or not, and which
    checks fail) and whether FailoverEvidenceAwaitingApproval fires (GET /api/v1/alerts), and
    that no transition starts.
In test_switch_to_dr GoldDR is then reloaded with automation on: with Gold's database still
writable and reachable (only its health API is down) no automatic failover may start, and the
evidence says which check blocks it (gold_db_not_writable; before that check, automation
started a failover whose promotion waited for a Gold nobody demotes). At the end, after DR
maintenance and back to active-passive, test_switch_to_dr is played as a real Gold outage
(health API down, PostgreSQL stopped, Patroni frozen) with automation on: GoldDR's evidence is
complete and it fails over alone, once; GoldDR's leader becomes writable. A checker samples
both leaders every 0.5 s: never two writable at once.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import Tap, wait_for  # noqa: E402
from lab import SITES, Lab, invariants_held, start_for, stop_for  # noqa: E402

t = Tap()
T0 = time.time()
SAMPLES = 2  # the lab's switchover.samples
# cooldown: the automatic failover at the end comes seconds after the maintenance transitions.
lab = Lab(log=t.diag, rules=True, switchover_extra='cooldown = "3s"')
start_for(t, lab, T0)
checker = lab.invariant_checker(0.5)
ALERT = "FailoverEvidenceAwaitingApproval"
ALL_CHECKS = None


def parse(dw):
    """/metrics as [(name, {labels}, value)]."""
    status, _, body = dw.get("/metrics")
    out = []
    for line in body.decode().splitlines():
        if not line or line.startswith("#"):
            continue
        series, value = line.rsplit(" ", 1)
        name, _, rest = series.partition("{")
        labels = {}
        for part in rest.rstrip("}").split('",'):
            if "=" in part:
                k, v = part.split("=", 1)
                labels[k.strip(",")] = v.strip('"')
        out.append((name, labels, float(value)))
    return out


def pick(ms, name, **want):
    return [(lb, v) for n, lb, v in ms if n == name and
            all(lb.get(k) == w for k, w in want.items())]


def observed(site):
    """What a drwatch sees: (class of its resolver, held samples, changes, {site: probe up})."""
    ms = parse(lab.dw[site])
    cls = [lb["class"] for lb, v in pick(ms, "drwatch_gslb_answer_class") if v == 1]
    held = [v for _, v in pick(ms, "drwatch_gslb_class_held_samples")]
    changes = [v for _, v in pick(ms, "drwatch_gslb_class_changes_total")]
    probes = {lb["site"]: v == 1 for lb, v in pick(ms, "drwatch_gslb_probe_up")}
    return (cls[0] if len(cls) == 1 else cls, held[0] if held else 0,
            changes[0] if changes else 0, probes)


def converged(site, cls, gold_up, golddr_up, held=SAMPLES + 1):
    o = observed(site)
    return o[0] == cls and o[1] >= held and o[3] == {"gold": gold_up, "golddr": golddr_up}


def health(gold=None, golddr=None):
    for site, n in (("gold", gold), ("golddr", golddr)):
        if n is not None:
            lab.scale_health(site, n)


def no_transition():
    return all(not lab.state(s).get("transition_in_progress") and
               "awaiting_peer" not in lab.state(s) and
               lab.state(s).get("state") == STATE[s] for s in SITES)


STATE = {"gold": "active-passive", "golddr": "active-passive"}
REQUESTS = 'drwatch_transition_requests_total'


def requests(site):
    return sum(v for _, v in pick(parse(lab.dw[site]), REQUESTS))


def last_evaluation(site):
    return max([v for _, v in pick(parse(lab.dw[site]),
                                   "drwatch_rule_last_evaluation_timestamp_seconds")] or [0])


def scenario(name, steps, answers, gold_up, golddr_up, evidence, alert, after=None):
    """steps: [(health kwargs, the GSLB's answer after it)]; answers: every answer the monitor
    gives from the start (in order; [] for none changed); evidence: {check: ok} the checks
    asserted on both sites (every other one free), or "complete"."""
    t.diag("---- %s ----" % name)
    start = time.time()
    mark = len(lab.gslb.history)
    reqs = {s: requests(s) for s in SITES}
    for kw, answer in steps:
        health(**kw)
        t.ok(wait_for(lambda: lab.gslb_answer() == answer, 30, 0.1),
             "%s: %s -> the GSLB answers %s (now %s, %.1fs)" % (
                 name, kw, answer, lab.gslb_answer(), time.time() - start))
    cls = steps[-1][1]
    for site in SITES:
        t.ok(wait_for(lambda: converged(site, cls, gold_up, golddr_up), 30, 0.2),
             "%s: %s sees class %s held %d+ samples, probes gold %s golddr %s (%s)" % (
                 name, site, cls, SAMPLES + 1, "up" if gold_up else "down",
                 "up" if golddr_up else "down", observed(site)))
    got = [a for _, a in lab.gslb.history[mark:]]
    if isinstance(answers, tuple):  # several sequences are right
        t.ok(got in answers, "%s: the GSLB's answers since the scenario began: %s, one of %s"
             % (name, got, answers))
    else:
        t.is_(got, answers, "%s: the GSLB's answers since the scenario began (stable)" % name)
    t.is_(lab.gslb_answer(), cls, "%s: dnsmasq still answers %s" % (name, cls))
    for site in SITES:
        if evidence == "complete":
            ok = wait_for(lambda: lab.evidence(site).get("complete") is True, 20, 0.2)
            e = lab.evidence(site)
            t.ok(ok, "%s: %s's evidence is complete (%s)" % (
                name, site, {c: v for c, v in e.get("checks", {}).items() if not v[0]}))
        else:
            def match():
                e = lab.evidence(site)
                return e.get("complete") is False and all(
                    e["checks"][c][0] == v for c, v in evidence.items())
            ok = wait_for(match, 20, 0.2)
            e = lab.evidence(site)
            t.ok(ok, "%s: %s's evidence is incomplete, checks %s (saw %s)" % (
                name, site, evidence, {c: e.get("checks", {}).get(c) for c in evidence}))
        if alert:
            t.ok(wait_for(lambda: ALERT in lab.alerts(site), 20, 0.2),
                 "%s: %s fires on %s (automation off)" % (name, ALERT, site))
        else:
            t.ok(wait_for(lambda: ALERT not in lab.alerts(site), 20, 0.2),
                 "%s: %s does not fire on %s (%s)" % (name, ALERT, site, lab.alerts(site)))
    t.ok(no_transition() and all(requests(s) == reqs[s] for s in SITES),
         "%s: no transition asked for or started on either site (%s)" % (
             name, [lab.state(s) for s in SITES]))
    if after:
        after(name)
    t.diag("%s done in %.1fs" % (name, time.time() - start))


t.ok(wait_for(lambda: ALERT not in lab.alerts("gold") and
              lab.dw["gold"].get("/api/v1/alerts")[0] == 200, 20, 0.2),
     "the rules run on both sites")

# The suite's baseline: both health APIs down; only the probes are asserted there. Both are
# scaled at once, and the monitor may see Gold time out a round before GoldDR: then it answers
# GoldDR for that round, as the F5 may.
scenario("baseline_all_down", [(dict(gold=0, golddr=0), "none")], (["none"], ["golddr", "none"]),
         False, False,
         {"gslb_golddr_alone": False, "gold_probe_down_here": True}, False)
scenario("test_happy_path", [(dict(gold=2, golddr=2), "gold")], ["gold"], True, True,
         {"gslb_golddr_alone": False, "gold_probe_down_here": False,
          "gold_probe_down_peer": False, "peer_agrees": False}, False)


def automation_blocked(name):
    """GoldDR reloaded with automation on while only Gold's health API is down: Gold's
    database is still writable and reachable, so the evidence holds back the automatic
    failover (GoldDR's promotion could never pass its guard, and nobody would demote Gold)."""
    t.ok(lab.set_automation("golddr", True), "%s: golddr reloaded with automation on" % name)
    since = time.time()
    reqs = requests("golddr")
    t.ok(wait_for(lambda: last_evaluation("golddr") > since + 3, 20, 0.2),
         "%s: golddr's rules evaluated 3 times with automation on" % name)
    e = lab.evidence("golddr")
    t.ok(e.get("automation") is True and e.get("complete") is False and
         [c for c, v in e["checks"].items() if not v[0]] == ["gold_db_not_writable"],
         "%s: golddr's evidence is incomplete, only gold_db_not_writable blocks it (%s)"
         % (name, e.get("checks", {}).get("gold_db_not_writable")))
    t.ok(no_transition() and requests("golddr") == reqs and lab.writable("gold"),
         "%s: no automatic failover: no request, no run, gold's leader writable (%s)" % (
             name, lab.state("golddr")))
    t.ok(lab.set_automation("golddr", False), "%s: golddr's automation off again" % name)


# Gold's health API down, its database up and writable: every GSLB check holds, the database
# check does not (the case the brief calls "evidence incomplete").
DR_ONLY_HEALTH = {"gslb_golddr_alone": True, "gold_probe_down_here": True,
                  "gold_probe_down_peer": True, "peer_agrees": True,
                  "golddr_not_in_maintenance": True, "lag_under_rpo": True,
                  "gold_db_not_writable": False}
scenario("test_switch_to_dr", [(dict(gold=0), "golddr")], ["golddr"], False, True,
         DR_ONLY_HEALTH, False, after=automation_blocked)
scenario("test_total_outage", [(dict(golddr=0), "none")], ["none"], False, False,
         {"gslb_golddr_alone": False, "gold_probe_down_here": True,
          "peer_agrees": False}, False)
scenario("test_switch_to_primary", [(dict(gold=2, golddr=2), "gold")], ["gold"], True, True,
         {"gslb_golddr_alone": False, "gold_probe_down_here": False}, False)
scenario("test_dr_down", [(dict(golddr=0), "gold")], [], True, False,
         {"gslb_golddr_alone": False, "gold_probe_down_here": False}, False)
scenario("test_dr_then_recovery", [(dict(golddr=2, gold=0), "golddr"), (dict(gold=2), "gold")],
         ["golddr", "gold"], True, True,
         {"gslb_golddr_alone": False, "gold_probe_down_here": False}, False)



def transition(to, why):
    """A person asks Gold for a transition whose peer must confirm; both sites run their
    plans; True once both are idle in `to`."""
    status, r = lab.ask("gold", to, reason=why)
    t.ok(status == 202 and r.get("status") in ("awaiting_peer", "accepted"),
         "%s asked of gold: 202 (%s)" % (to, r))
    ok = wait_for(lambda: all(lab.state(s).get("state") == to and
                              not lab.state(s).get("transition_in_progress") and
                              "awaiting_peer" not in lab.state(s) for s in SITES), 120, 0.25)
    t.ok(ok, "both sites %s, nothing running (%s)" % (to, [lab.state(s) for s in SITES]))
    for s in SITES:
        STATE[s] = to


# DR maintenance: the real golddr-maintenance transition (GoldDR's plan withdraws GoldDR, runs
# the pipeline). Gold up, then down: the GSLB has nothing to fall back to and answers nothing.
t.diag("---- test_dr_maintenance_with_outage ----")
transition("golddr-maintenance", "DR maintenance")
t.ok(wait_for(lambda: not lab.health_ready("golddr") and
              converged("gold", "gold", True, False), 30, 0.2),
     "golddr-maintenance: golddr's health API scaled to 0 by its plan, the GSLB answers gold")
scenario("test_dr_maintenance_with_outage", [(dict(gold=2), "gold"), (dict(gold=0), "none")],
         ["none"], False, False,
         {"gslb_golddr_alone": False, "golddr_not_in_maintenance": False}, False)
t.diag("---- back to active-passive ----")
health(gold=2)
t.ok(wait_for(lambda: lab.gslb_answer() == "gold", 30, 0.1), "gold up again: the GSLB answers gold")
transition("active-passive", "DR maintenance over")
t.ok(wait_for(lambda: lab.health_ready("golddr") and converged("golddr", "gold", True, True),
              30, 0.2), "golddr offered to the GSLB again by its plan")

# test_switch_to_dr once more, as a real Gold outage: its health API down and its database
# down too (PostgreSQL stopped, Patroni frozen): with automation on, GoldDR fails over alone.
t.diag("---- test_switch_to_dr, Gold's database down too, automation on ----")
t.ok(lab.set_automation("golddr", True), "golddr reloaded with automation on")
health(gold=0)
t.ok(wait_for(lambda: lab.gslb_answer() == "golddr", 30, 0.1), "the GSLB answers golddr")
lab.pg.stop_postgres("gold1")
lab.pg.stop_rest_api("gold1")
runs = []


def automatic_run():
    run = lab.state("golddr").get("run")
    if run and run.get("trigger") == "automation":
        runs.append(run)
    return runs and pick(parse(lab.dw["golddr"]), REQUESTS, to="golddr-primary",
                         source="automation", result="accepted")[0][1] == 1


t.ok(wait_for(automatic_run, 60, 0.1),
     "golddr's automation asked for golddr-primary once, accepted, and the run started (%s)"
     % (runs[0].get("reason") if runs else lab.evidence("golddr")))
t.ok(wait_for(lambda: lab.state("golddr").get("state") == "golddr-primary" and
              not lab.state("golddr").get("transition_in_progress"), 120, 0.25),
     "golddr's automatic failover ends: golddr-primary (%s)" % lab.state("golddr"))
t.is_(lab.recovery("golddr"), "f", "golddr's leader is writable")
t.ok(wait_for(lambda: lab.gslb_answer() == "golddr", 10, 0.1), "the GSLB answers golddr")
lab.pg.resume_rest_api("gold1")

invariants_held(t, checker)
stop_for(t, lab, T0, 'all scenarios in')
