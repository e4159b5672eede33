#!/usr/bin/env python3
"""The daily DR drill, three times in a row (LAB_DRILL_CYCLES), end to end in the two-site lab (tests/lib/lab.py: real Patroni and
PostgreSQL with etcd, the GSLB as gslb.md's F5 over real dnsmasq, per site the Kubernetes,
Tekton and portal fakes, two drwatch joined by the mTLS peer link, the shipped default plans).

The lab's Prometheus scrapes both drwatch with the shipped Prometheus rules loaded: both
targets up, every rule file loaded and evaluating without error, Watchdog firing.

A person asks Gold each time (README, "Switchover"), and GoldDR follows through the peer
protocol:
  1. active-passive -> golddr-primary: asked of Gold, whose plan withdraws Gold from the GSLB,
     turns maintenance on, demotes Gold's database to a standby cluster of GoldDR, restarts
     Kong and tells GoldDR (tell_peer), which runs its own plan: maintenance on, its health API
     kept up, its database promoted once the C guard sees Gold read-only, withdrawn for
     `samples` GSLB samples and everything Gold wrote replayed (RPO 0), the deploy pipeline,
     maintenance off. Asked of GoldDR instead while Gold is reachable and writable, it is
     refused at once, saying to ask Gold (GoldDR's promotion would otherwise wait for a Gold
     that nobody demotes, until the step's deadline).
  2. golddr-primary -> gold-standby: asked of Gold; GoldDR confirms it is golddr-primary with
     nothing pending (202 awaiting_peer, then the run); Gold's plan keeps Gold withdrawn and
     following GoldDR, tells GoldDR (whose plan has no steps) and runs the pipeline.
  3. gold-standby -> active-passive: asked of Gold; GoldDR confirms it is gold-standby; Gold's
     plan tells GoldDR first (GoldDR demotes its database to follow Gold and offers itself as
     the fallback), offers Gold to the GSLB, promotes Gold once GoldDR is read-only, withdrawn
     (the GSLB answers Gold) and replayed, runs the pipeline and turns maintenance off.
After each: both sites' GET /api/v1/state, which leader is writable (pg_is_in_recovery()),
that every row written on the old primary before the switchover is on the new one, that a row
written after it reaches the standby (replication flows again), and what the GSLB answers.
Through the whole test a checker samples both leaders every 200 ms and fails the test if both
were ever writable at once.

Each run's recovery timeline (GET /api/v1/plans/<id>, /metrics): every milestone seen, in
order, RPO 0 bytes where a site promoted; the status pages show the last transitions; and
the switchover timeline dashboard's queries return data from the lab's Prometheus.
"""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import ROOT, Tap, wait_for  # noqa: E402
from lab import SITES, Lab, invariants_held, start_for, stop_for, show, step_ok  # noqa: E402

t = Tap()
T0 = time.time()
lab = Lab(log=t.diag, prometheus=True)
start_for(t, lab, T0)
t.is_((lab.state("gold").get("state"), lab.state("golddr").get("state")),
      ("active-passive", "active-passive"), "both sites start active-passive")
t.is_((lab.recovery("gold"), lab.recovery("golddr")), ("f", "t"),
      "gold's leader is writable, golddr's a standby")
t.is_(lab.gslb_answer(), "gold", "the GSLB answers gold")

# ---- the lab's Prometheus: both sites scraped, the shipped rules loaded and evaluating ----
prom = lab.prom
t.ok(wait_for(lambda: sorted(r["metric"].get("drwatch_site") for r in prom.query(
    'up{job="drwatch"} == 1')) == ["gold", "golddr"], 30, 0.2),
     "Prometheus scrapes both drwatch: up{job=\"drwatch\"} == 1 for gold and golddr")
groups = prom.api("rules")["groups"]
t.is_(sorted(set(os.path.basename(g["file"]) for g in groups)),
      sorted(os.path.basename(f) for f in lab.prometheus_rule_files()),
      "Prometheus loaded every shipped rule file (rules/prometheus/, rules/prometheus-only/)")
t.ok(wait_for(lambda: any(a["labels"]["alertname"] == "Watchdog" and a["state"] == "firing"
                          for a in prom.api("alerts")["alerts"]), 30, 0.2),
     "Watchdog fires in Prometheus (GET /api/v1/alerts): the rules evaluate")
t.ok(wait_for(lambda: all(r.get("health") == "ok" for g in prom.api("rules")["groups"]
                          for r in g["rules"]), 15, 0.2),
     "every rule evaluates without error: %s" % [
         (r["name"], r.get("lastError")) for g in prom.api("rules")["groups"]
         for r in g["rules"] if r.get("health") != "ok"])
alerts = lambda: sorted(a["labels"]["alertname"] for a in prom.api(  # noqa: E731
    "alerts")["alerts"] if a["state"] == "firing")
t.ok(not any(a.startswith("Drwatch") for a in alerts()),
     "neither DrwatchDown nor DrwatchAbsent fires (%s)" % alerts())

checker = lab.invariant_checker(0.2)
settled, idle, rows = lab.settled, lab.idle, lab.rows
t.ok(wait_for(lambda: checker.samples >= 3, 10), "the invariant checker samples both leaders")







WRITES = [  # what a Kubernetes write's path says it is (the state ConfigMap is left out)
    ("secrets/terraform-tfvars-dev", "tfvars"),
    ("deployments/bcgov-health-api-dev-generic-api/scale", "health scale"),
    ("poddisruptionbudgets/bcgov-health-api-dev-generic-api-pdb", "health pdb"),
    ("deployments/keycloak-maintenance-redirect-generic-api", "page restart"),
    ("services/keycloak-http", "keycloak selector"),
    ("configmaps/patroni-spilo-env-vars", "patroni env"),
    ("deployments/konghc-kong", "kong restart"),
    ("pipelineruns/", "pipelinerun"),
]


STATE_CM_PATH = "/api/v1/namespaces/ops/configmaps/switchover-state-dev"


def confirms():
    return lab.dw["golddr"].sample('drwatch_peer_messages_total{answer="yes",kind="confirm"}') \
        or 0


def marks():
    return {s: {f: len(lab.activity(s, f)) for f in ("k8s", "portal", "tekton")} for s in SITES}


def calls(site, since):
    """What the site's fakes were asked since the marks: [k8s writes], [portal PUTs], the
    number of Tekton triggers."""
    k8s = []
    for a in lab.activity(site, "k8s")[since[site]["k8s"]:]:
        what = next((w for p, w in WRITES if p in a["path"]), None)
        if what is None:
            if "switchover-state-dev" not in a["path"]:
                k8s.append("%s %s" % (a["method"], a["path"]))
            continue
        k8s.append(what)
    portal = [a["path"].rsplit("/", 1)[1] for a in lab.activity(site, "portal")[
        since[site]["portal"]:]]
    return k8s, portal, len(lab.activity(site, "tekton")[since[site]["tekton"]:])


def drill(to, primary, standby, gslb, confirm, want_calls, before_ask=None):
    """One transition asked of Gold; primary/standby: the sites after it."""
    t.diag("---- %s ----" % to)
    since = marks()
    old_primary = standby if to != "gold-standby" else primary
    lab.psql(old_primary, "INSERT INTO rows (payload) SELECT 'before %s ' || g "
             "FROM generate_series(1, 500) g" % to)
    before = rows(old_primary)
    confirms_before = confirms()
    if before_ask:
        before_ask()
    start = time.time()
    status, r = lab.ask("gold", to, reason="daily drill")
    want = "awaiting_peer" if confirm else "accepted"
    t.ok(status == 202 and r.get("status") == want,
         "%s asked of gold: 202 %s (%s)" % (to, want, r))
    p = wait_for(lambda: settled("gold", r.get("plan", "")), 180, 0.25)
    t.ok(step_ok(p), "gold's run ends ok (%s)" % show(p))
    tell = [s for s in (p or {}).get("steps", []) if s["action"] == "tell_peer"]
    m = re.search(r"accepted: run (\S+)", tell[0]["detail"]) if tell else None
    t.ok(m, "gold told golddr, which accepted (%s)" % (tell and tell[0]["detail"]))
    gp = wait_for(lambda: settled("golddr", m.group(1)), 180, 0.25) if m else None
    t.ok(step_ok(gp) and gp["trigger"] == "peer",
         "golddr's run, asked by the peer, ends ok (%s)" % show(gp))
    t.ok(wait_for(lambda: idle("gold", to) and idle("golddr", to), 30, 0.2),
         "GET /api/v1/state: both sites %s, nothing running or awaited (%.1fs after the ask)"
         % (to, time.time() - start))
    if confirm:
        t.is_(confirms() - confirms_before, 1, "golddr answered gold's confirm yes, once")
    labels = lambda: [(lab.k8s_get(s, STATE_CM_PATH) or {}).get("data", {}).get(  # noqa: E731
        "last_stable_state") for s in SITES]
    t.ok(wait_for(lambda: labels() == [to, to], 10, 0.2),
         "both state ConfigMaps' last_stable_state: %s (%s)" % (to, labels()))
    got = (lab.recovery(primary), lab.recovery(standby))
    t.is_(got, ("f", "t"), "%s's leader is writable, %s's in recovery" % (primary, standby))
    if got != ("f", "t"):
        for site in SITES:
            t.diag("%s's switchover log:\n%s" % (site, "\n".join(
                line for line in lab.dw[site].log().splitlines()
                if "component=switchover" in line)[-4000:]))
    t.is_(rows(primary), before,
          "every row written before the switchover is on %s (count, max id: %s)"
          % (primary, before))
    marker = "after %s at %.6f" % (to, time.time())  # each cycle's own
    lab.psql(primary, "INSERT INTO rows (payload) VALUES ('%s')" % marker)
    t.ok(wait_for(lambda: lab.psql(standby, "SELECT count(*) FROM rows WHERE payload = '%s'"
                                   % marker, check=False) == "1", 30, 0.2),
         "a row written on %s after it reaches %s: replication flows" % (primary, standby))
    t.ok(wait_for(lambda: lab.gslb_answer() == gslb, 15, 0.2),
         "the GSLB answers %s (now: %s)" % (gslb, lab.gslb_answer()))
    for site in SITES:
        t.is_(calls(site, since), want_calls[site],
              "%s's fakes were asked what its plan says, in order (Kubernetes writes, portal "
              "PUTs, Tekton triggers)" % site)
    runs = {"gold": p and p["id"], "golddr": gp and gp["id"]}
    check_timelines(to, runs, primary)
    return runs


WORLD = ("primary_writable", "health_up", "gslb_answering")


def metric(site, name, **labels):
    """The value of the series of family name with exactly these labels in site's /metrics."""
    for series, v in lab.dw[site].metrics().items():
        m = re.match(r"([a-z_]+)\{(.*)\}$", series)
        if m and m.group(1) == name and dict(re.findall(r'(\w+)="([^"]*)"', m.group(2))) == labels:
            return v
    return None


def timeline(site, run_id):
    p = lab.plan(site, run_id) if run_id else None
    return (p or {}).get("timeline")


def check_timelines(to, runs, primary):
    """Each run's recovery timeline (GET /api/v1/plans/<id>): every milestone of the site
    that serves after it seen, in order; maintenance off where the plan turns it off; RPO 0
    bytes where the site promoted (a planned switchover loses nothing); the same figures in
    /metrics."""
    promoter = {"golddr-primary": "golddr", "active-passive": "gold"}.get(to)
    for site in SITES:
        tl = wait_for(lambda: (lambda x: x if x and x["closed"] else None)(
            timeline(site, runs[site])), 30, 0.2)
        if not t.ok(tl, "%s's run %s has a closed timeline" % (site, runs[site])):
            t.diag("timeline: %s" % timeline(site, runs[site]))
            continue
        ms = tl["milestones"]
        want = ["plan_started"] + list(WORLD) + ["plan_ended"]
        if site == promoter or (to == "active-passive" and site == "gold"):
            want.append("maintenance_off")
        t.ok(all(m in ms for m in want), "%s's timeline of %s has %s (%s)"
             % (site, to, ", ".join(want), ms))
        order = ["plan_started", "maintenance_off", "plan_ended"]
        seq = [ms[m] for m in order if m in ms]
        t.ok(seq == sorted(seq) and all(ms.get(m, 1e9) >= ms["plan_started"] for m in WORLD),
             "%s: request <= plan start <= each world milestone; maintenance off <= plan end"
             % site)
        if site == promoter:
            t.ok(ms.get("primary_writable", 1e9) <= ms["plan_ended"],
                 "%s promoted inside its plan: writable %.2fs <= plan end %.2fs after the request"
                 % (site, ms.get("primary_writable", -1), ms["plan_ended"]))
            t.is_(tl["rpo_bytes"], 0, "%s's promotion: RPO 0 bytes (lag %s s)"
                  % (site, tl["rpo_seconds"]))
            # /metrics is the next published snapshot: wait for it, the API is live.
            got = wait_for(lambda: metric(site, "drwatch_transition_rpo_bytes", plan=runs[site],
                                          to=to) == 0.0, 10, 0.2)
            t.ok(got, "%s's /metrics: drwatch_transition_rpo_bytes 0" % site)
        else:
            t.is_(tl["rpo_bytes"], None, "%s promoted nothing: no RPO figure" % site)
        ended = lambda: metric(site, "drwatch_transition_milestone_seconds",  # noqa: E731
                               plan=runs[site], to=to, milestone="plan_ended")
        got = wait_for(lambda: ended() is not None and abs(ended() - ms["plan_ended"]) < 0.01,
                       10, 0.2) and ended()
        t.ok(got is not None and abs(got - ms["plan_ended"]) < 0.01,
             "%s's /metrics: drwatch_transition_milestone_seconds{milestone=plan_ended} %s"
             % (site, got))
        t.diag("%s %s timeline: %s; RPO %s B, %s s" % (site, to, ", ".join(
            "%s %.1fs" % (m, v) for m, v in sorted(ms.items(), key=lambda kv: kv[1])),
            tl["rpo_bytes"], tl["rpo_seconds"]))


status, r = lab.ask("golddr", "golddr-primary", reason="asked of the wrong site")
t.ok(status == 409 and "ask gold for golddr-primary" in r.get("reason", ""),
     "golddr-primary asked of GoldDR while Gold is up: 409, ask Gold (%s)" % r.get("reason"))


def golddr_answering_slowly():
    """Regression (found by examples/run-lab drill): a site answered its peer's confirm "no: a
    transition is asked for or running here" while only a write to its state ConfigMap was on
    its way (a finished run's last_stable_state, an answer), though GET /api/v1/state showed it
    idle. Here a person's request equal to golddr's label is answered "nothing to do" in a
    PATCH the fake holds for 3s; gold asks for gold-standby meanwhile."""
    cm = lab.k8s_get("golddr", STATE_CM_PATH)
    cm["data"]["transition"] = "golddr-primary"
    lab.k8s_mode("golddr", {"path": STATE_CM_PATH, "method": "PATCH", "mode": "slow",
                            "ms": 3000, "count": 1})
    lab.k8s_put("golddr", STATE_CM_PATH, cm)
    t.ok(wait_for(lambda: any(r["method"] == "PATCH" and STATE_CM_PATH in r["path"] and
                              r["status"] is None for r in lab.activity("golddr", "k8s")), 5,
                  0.02), "golddr's answer to a person's request is on its way (held 3s)")


# The daily drill, CYCLES times in a row (the issue asks for three): each cycle ends where the
# next begins, with everything written before on the new primary and replication flowing.
CYCLES = int(os.environ.get("LAB_DRILL_CYCLES", "3"))
runs = []  # (to, {site: run id}) of every transition
for cycle in range(CYCLES):
    t.diag("==== cycle %d of %d (%.1fs into the test) ====" % (cycle + 1, CYCLES,
                                                              time.time() - T0))
    c0 = time.time()
    runs.append(("golddr-primary", drill(
        "golddr-primary", primary="golddr", standby="gold", gslb="golddr", confirm=False,
        want_calls={
            "gold": (["tfvars", "health scale", "health pdb", "page restart",
                      "keycloak selector", "patroni env", "kong restart"], ["true"], 0),
            # The seed has golddr out of maintenance; active-passive leaves it in (a standby
            # site shows the maintenance page): from the second cycle on, it is already on.
            "golddr": (["tfvars", "page restart", "keycloak selector", "patroni env",
                        "keycloak selector", "page restart"] if cycle == 0 else
                       ["tfvars", "patroni env", "keycloak selector", "page restart"],
                       ["true", "false"], 1)})))
    # Gold is already withdrawn, in maintenance and following GoldDR: its checks find it so
    # (the maintenance check is the portal's PUT of the state it must have), then the pipeline
    # runs. The slow ConfigMap answer's regression once is enough.
    runs.append(("gold-standby", drill(
        "gold-standby", primary="golddr", standby="gold", gslb="golddr", confirm=True,
        want_calls={"gold": ([], ["true"], 1), "golddr": ([], [], 0)},
        before_ask=golddr_answering_slowly if cycle == 0 else None)))
    runs.append(("active-passive", drill(
        "active-passive", primary="gold", standby="golddr", gslb="gold", confirm=True,
        want_calls={
            "gold": (["tfvars", "health scale", "health pdb", "patroni env",
                      "keycloak selector", "page restart"], ["true", "false"], 1),
            "golddr": (["tfvars", "page restart", "keycloak selector", "patroni env"],
                       ["true"], 1)})))
    t.ok(True, "cycle %d of %d took %.1fs" % (cycle + 1, CYCLES, time.time() - c0))

# The last transitions with their timelines: on each site's status page, and in Prometheus.
for site in SITES:
    status, _, body = lab.dw[site].get("/")
    page = body.decode(errors="replace")
    last = [r[site] for _, r in runs[-3:]]
    t.ok(status == 200 and "Last transitions with their timelines" in page and
         all(i in page for i in last),
         "%s's status page shows its last transitions with their timelines (%s)" % (site, last))
t.ok(wait_for(lambda: {r["metric"].get("drwatch_site") for r in prom.query(
    'drwatch_transition_milestone_seconds{milestone="plan_ended"}')} == set(SITES), 15, 0.2),
     "Prometheus has both sites' drwatch_transition_milestone_seconds")

# The timelines outlive a restart: the journal keeps the last ones (SIGKILL: only what was
# fsynced counts).
before = {to: lab.plan("gold", r["gold"])["timeline"] for to, r in runs[-3:]}
lab.kill("gold")
lab.restart("gold")
after = {to: (lab.plan("gold", r["gold"]) or {}).get("timeline") for to, r in runs[-3:]}
t.is_(after, before, "after gold's drwatch is killed and restarted, GET /api/v1/plans/<id> "
      "gives its last 3 transitions' timelines as before")
t.ok(metric("gold", "drwatch_transition_rpo_bytes", plan=runs[-1][1]["gold"],
            to="active-passive") == 0.0,
     "and /metrics its last promotion's RPO (0 bytes)")

# The switchover timeline dashboard against the lab's Prometheus, after the drills: every
# query (panel targets, the instance variable's) is accepted and returns data, with the
# variables at their All value (dashboards.t checks the rest of what Grafana needs).
BUILTINS = {"__rate_interval": "2m", "__interval": "15s", "__range": "1h"}
with open(os.path.join(ROOT, "dashboards", "drwatch-switchover-timeline.json")) as f:
    board = json.load(f)
exprs = [("%s/%s" % (p["title"], tg["refId"]), tg["expr"]) for p in board["panels"]
         for tg in p.get("targets") or []]
exprs.append(("variable $instance", "drwatch_build_info"))


def query_or_error(e):
    try:
        return prom.query(e)
    except RuntimeError as err:  # Prometheus refused the expression
        t.diag(str(err))
        return None


for where, expr in exprs:
    e = re.sub(r"\$(\w+)", lambda m: BUILTINS.get(m.group(1), ".+"), expr)
    got = wait_for(lambda: query_or_error(e), 10, 0.5)
    t.ok(got, "switchover timeline dashboard: %s returns data (%d series)"
         % (where, len(got or [])))
    if not got:
        t.diag(e)

invariants_held(t, checker)
stop_for(t, lab, T0, 'whole drill')
