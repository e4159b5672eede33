#!/usr/bin/env python3
"""RTO and RPO of one daily drill cycle in the two-site lab (issue 14, "RTO and RPO, measured").

    bench/drill_rto.py [--cycles N]

Starts the lab (tests/lib/lab.py: real Patroni, etcd and PostgreSQL for gold and golddr, the
GSLB as an F5-like monitor over dnsmasq, the Kubernetes, Tekton and portal fakes, two drwatch)
and runs the drill: golddr-primary, gold-standby, active-passive, each asked of Gold as a
person would (POST /api/v1/transition). For each transition it reads both sites' run records
and recovery timelines (GET /api/v1/plans/<id>: the seconds from the request to each milestone
drwatch saw, and the RPO at promotion) and prints:

  db RTO       the request (to Gold) to the new primary's database writable, as Gold saw it
  svc RTO      the request to the GSLB answering the site that serves after it
  RPO          at the promotion: bytes of WAL the other site held beyond the promoted one, and
               the seconds of writes that loses (0 with 0 bytes)
and each site's plan split by who spent the time:
  patroni      its patroni_demote / patroni_promote steps (Patroni's switch, and the promotion
               guard's wait for the other site to be read-only, withdrawn and replayed)
  pipeline     its tekton_deploy step (the lab's Tekton fake finishes a run after 0.5 s)
  gslb         its health_api steps; and, for the transition, the GSLB's share of the service
               RTO: from the serving site's /health up to the GSLB answering it (the
               monitor's interval and timeout)
  peer         its tell_peer steps (the other site's plan, or its answer)
  drwatch      the rest: the wait for the peer's confirmation, the Kubernetes and portal calls
               (local fakes here), and the executor between steps
against the platform's objectives: database RTO under a minute, RPO under a minute, Kong 0 s.
The lab has no Kong data plane serving traffic: Kong's 0 s is not measured here. Nothing is
asserted. The lab's GSLB probes every 1 s and marks a site down after 3 s; a real F5's
(gslb.md: interval 30 s, timeout 120 s by default; about 30 s seen to switch to DR in real
runs) adds to the service RTO, and to golddr-primary's database RTO, whose promotion waits
for Gold to be withdrawn.
"""
import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
os.environ.setdefault("DRWATCH_BIN", os.path.join(ROOT, "drwatch"))
import drwatch_test  # noqa: E402
drwatch_test.BIN = os.environ["DRWATCH_BIN"]
from drwatch_test import wait_for  # noqa: E402
from lab import SITES, Lab  # noqa: E402

DRILL = ("golddr-primary", "gold-standby", "active-passive")
SHARE = {"patroni_demote": "patroni", "patroni_promote": "patroni",
         "patroni_rebuild": "patroni", "tekton_deploy": "pipeline", "health_api": "gslb",
         "tell_peer": "peer"}
OBJECTIVE_S = 60.0
GSLB = (1.0, 3.0)  # the lab's monitor interval and timeout (Lab's defaults)



def closed(lab, site, run_id):
    p = lab.plan(site, run_id) if run_id else None
    return p if p and (p.get("timeline") or {}).get("closed") else None


def one(lab, to):
    """Asks Gold for `to`; returns {site: plan record with its timeline}."""
    status, r = lab.ask("gold", to, reason="bench/drill_rto.py")
    if status != 202:
        raise SystemExit("%s refused: %d %s" % (to, status, r))
    gold = wait_for(lambda: (lambda p: p if p and p["status"] not in (
        "awaiting_peer", "running") else None)(lab.plan("gold", r["plan"])), 300, 0.2)
    if not gold or gold["status"] != "ok":
        raise SystemExit("gold's run for %s: %s" % (to, gold))
    tell = [s for s in gold["steps"] if s["action"] == "tell_peer"]
    peer_id = tell[0]["detail"].split("run ")[1].split(" ")[0] if tell and \
        "run " in tell[0]["detail"] else None
    if not wait_for(lambda: all(lab.idle(s, to) for s in SITES), 300, 0.2):
        raise SystemExit("%s did not settle: %s" % (to, [lab.state(s) for s in SITES]))
    runs = {"gold": r["plan"], "golddr": peer_id}
    out = {}
    for site in SITES:
        p = wait_for(lambda: closed(lab, site, runs[site]), 60, 0.2)
        if p:
            out[site] = p
    return out


def shares(p):
    """{share: seconds} of a site's plan, from its steps and its timeline."""
    ms = p["timeline"]["milestones"]
    total = ms.get("plan_ended", 0.0)
    out = {k: 0.0 for k in ("patroni", "pipeline", "gslb", "peer")}
    for s in p["steps"]:
        k = SHARE.get(s["action"])
        if k:
            out[k] += s["seconds"]
    out["drwatch"] = max(0.0, total - sum(out.values()))
    return total, out


def fmt(v, unit="s"):
    return "-" if v is None else ("%.1f %s" % (v, unit) if unit == "s" else "%.0f %s" % (v, unit))


def report(to, runs):
    gold = runs.get("gold")
    ms = gold["timeline"]["milestones"] if gold else {}
    db, svc = ms.get("primary_writable"), ms.get("gslb_answering")
    promoter = next((p for p in runs.values() if p["timeline"]["rpo_bytes"] is not None), None)
    rpo_b = promoter["timeline"]["rpo_bytes"] if promoter else None
    rpo_s = promoter["timeline"]["rpo_seconds"] if promoter else None
    print("\n%s (asked of gold)" % to)
    print("  db RTO   %-9s (objective < 60 s: %s)" % (fmt(db), "met" if db is not None and
                                                       db < OBJECTIVE_S else "NOT MET"))
    print("  svc RTO  %-9s (the GSLB answering the serving site)" % fmt(svc))
    if promoter:
        print("  RPO      %s, %s (objective < 60 s: %s)" % (
            fmt(rpo_b, "bytes"), fmt(rpo_s), "met" if rpo_s is not None and
            rpo_s < OBJECTIVE_S else "NOT MET"))
    else:
        print("  RPO      no promotion (the serving database does not change)")
    up = ms.get("health_up")
    lag = svc - up if svc is not None and up is not None and svc > up else 0.0
    print("  GSLB     %s from the serving site's /health up to the GSLB answering it (the "
          "monitor: interval %.0f s, timeout %.0f s)" % (fmt(lag), GSLB[0], GSLB[1]))
    print("  Kong     not measured in the lab (no data plane serves traffic); objective 0 s")
    print("  %-7s %9s %9s %9s %9s %9s %9s" % ("plan", "total", "drwatch", "patroni", "pipeline",
                                            "gslb", "peer"))
    for site in SITES:
        p = runs.get(site)
        if not p:
            print("  %-7s (no run record)" % site)
            continue
        total, sh = shares(p)
        print("  %-7s %9s %9s %9s %9s %9s %9s" % (site, fmt(total), fmt(sh["drwatch"]),
                                                fmt(sh["patroni"]), fmt(sh["pipeline"]),
                                                fmt(sh["gslb"]), fmt(sh["peer"])))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", type=int, default=1)
    a = ap.parse_args()
    print("drill_rto: starting the two-site lab ...", flush=True)
    t0 = time.time()
    lab = Lab(gslb_interval=GSLB[0], gslb_timeout=GSLB[1]).start()
    print("drill_rto: lab up in %.1fs (%s)" % (time.time() - t0, lab.timings), flush=True)
    try:
        for c in range(a.cycles):
            print("\n==== drill cycle %d of %d ====" % (c + 1, a.cycles))
            c0 = time.time()
            for to in DRILL:
                report(to, one(lab, to))
            print("\ncycle %d: %.1fs" % (c + 1, time.time() - c0), flush=True)
    finally:
        lab.stop()


if __name__ == "__main__":
    main()
