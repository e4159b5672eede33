#!/usr/bin/env python3
"""make soak: many daily drills in a row on the two-site lab (tests/lib/lab.py), each
transition with a fault drawn at random, and the invariant checker running throughout.

Not part of `make test` (a cycle takes about a minute; CI has lab_drill.t and lab_faults.t).
It is for people: run it before a release, or overnight, and replay a failure from the seed
it prints first:

    make soak SOAK_CYCLES=20 SOAK_SEED=1234
    tests/soak/soak.py --cycles 20 --seed 1234

A cycle is the drill (golddr-primary, gold-standby, active-passive, each asked of Gold). The
faults, one per transition, drawn from the seed:
  none             nothing
  kill-gold        Gold's drwatch SIGKILLed 0-8 s after the ask, then restarted
  kill-golddr      the same for GoldDR's
  kill-both        both, at two moments drawn apart
  tekton-fail      both sites' next pipeline run fails once, then succeeds
  portal-down      one site's portal answers 503 (its maintenance steps are best-effort)

What it asserts, and reports with the seed when it fails:
  - never two writable primaries, never a promotion while the other site's leader answered
    writable, never a run nobody asked for (the lab's invariant checker, every 200 ms);
  - every transition ends with both sites in the state asked for, the right leader writable
    and every row written on the old primary before the ask on the new one;
  - no run is stranded: each one ends (ok, or failed/refused with a reason, after which the
    soak asks again as an on-call person would, at most twice).
Exit status 0 when all of it held, 1 otherwise.
"""
import argparse
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import http, wait_for  # noqa: E402
from lab import SITES, Lab  # noqa: E402

DRILL = (("golddr-primary", "golddr", "gold"), ("gold-standby", "golddr", "gold"),
         ("active-passive", "gold", "golddr"))
FAULTS = ("none", "kill-gold", "kill-golddr", "kill-both", "tekton-fail", "portal-down")
SETTLE_S = 240  # a transition with a kill and a pipeline retry ends well within it


def log(msg):
    print("%s %s" % (time.strftime("%H:%M:%S"), msg), flush=True)




def fake_post(url, path, body):
    status, _, text = http("POST", url + path, body=json.dumps(body).encode())
    if status != 200:
        raise RuntimeError("POST %s%s: %d %s" % (url, path, status, text[:200]))


class Soak:
    def __init__(self, lab, rng):
        self.lab, self.rng = lab, rng
        self.problems = []
        self.tally = {}

    def inject(self, fault):
        """Strikes with a kill fault right after an ask (the others are armed before it)."""
        lab, rng = self.lab, self.rng
        if fault.startswith("kill-"):
            sites = SITES if fault == "kill-both" else (fault[len("kill-"):],)
            for site in sorted(sites, key=lambda _: rng.random()):
                delay = rng.uniform(0, 8)
                time.sleep(delay)  # the fault's moment, drawn from the seed: not a wait
                log("  SIGKILL %s's drwatch %.1fs into the transition" % (site, delay))
                lab.kill(site)
                lab.restart(site)

    def arm(self, fault):
        lab = self.lab
        if fault == "tekton-fail":
            for site in SITES:
                fake_post(lab.tekton[site], "/__fake/state",
                          {"outcomes": ["fail", "success"], "accepted": 0})
        elif fault == "portal-down":
            site = self.rng.choice(SITES)
            log("  %s's portal answers 503" % site)
            fake_post(lab.portal[site], "/__fake/mode", {"path": "*", "mode": "status",
                                                         "status": 503})

    def disarm(self, fault):
        lab = self.lab
        if fault == "tekton-fail":
            for site in SITES:
                fake_post(lab.tekton[site], "/__fake/state", {"outcomes": ["success"]})
        elif fault == "portal-down":
            for site in SITES:
                fake_post(lab.portal[site], "/__fake/reset", {})

    def ask_until(self, to):
        """Asks Gold for `to`, and asks again (Gold, then the site behind) when a run ends
        short of it, as on-call would. True when both sites reached `to`."""
        lab = self.lab
        whom = ["gold", "gold", "golddr"]
        for attempt, site in enumerate(whom):
            if attempt:
                if lab.state(site).get("state") == to:
                    site = next(s for s in SITES if lab.state(s).get("state") != to)
                log("  not there yet (gold %s, golddr %s): asking %s again" % (
                    lab.state("gold").get("state"), lab.state("golddr").get("state"), site))
                self.tally["asked again"] = self.tally.get("asked again", 0) + 1
            try:
                status, r = lab.ask(site, to, reason="soak")
            except (OSError, ValueError) as e:
                status, r = 0, {"reason": str(e)}
            if status != 202:
                log("  %s answered %s: %s" % (site, status, r.get("reason", r)))
            if attempt == 0:
                yield
            done = wait_for(lambda: all(lab.idle(s) for s in SITES) and all(
                lab.state(s).get("state") == to for s in SITES), SETTLE_S, 0.5)
            if done:
                return
            if not wait_for(lambda: all(lab.idle(s) for s in SITES), 5, 0.5):
                self.problems.append("%s: a run neither ended nor reached %s in %ds" % (
                    to, to, SETTLE_S))
                return
        self.problems.append("%s: not reached after asking %d times" % (to, len(whom)))

    def transition(self, cycle, to, primary, standby):
        lab = self.lab
        fault = self.rng.choice(FAULTS)
        self.tally[fault] = self.tally.get(fault, 0) + 1
        log("cycle %d: %s, fault %s" % (cycle, to, fault))
        old = standby if to != "gold-standby" else primary
        lab.psql(old, "INSERT INTO rows (payload) SELECT 'soak %d %s ' || g "
                 "FROM generate_series(1, 200) g" % (cycle, to))
        before = lab.rows(old)
        self.arm(fault)
        start = time.time()
        asking = self.ask_until(to)
        next(asking, None)  # the first ask is out: the fault strikes now
        self.inject(fault)
        for _ in asking:
            pass
        self.disarm(fault)
        got = (lab.recovery(primary), lab.recovery(standby))
        if got != ("f", "t"):
            self.problems.append("cycle %d %s: writable (%s, %s) = %s, want (f, t)" % (
                cycle, to, primary, standby, got))
        if lab.rows(primary) != before:
            self.problems.append("cycle %d %s: rows on %s %s, before %s" % (
                cycle, to, primary, lab.rows(primary), before))
        log("  done in %.1fs" % (time.time() - start))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", type=int, default=10)
    ap.add_argument("--seed", type=int, default=None)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1 << 31)
    log("soak: %d cycles, seed %d (replay: tests/soak/soak.py --cycles %d --seed %d)" % (
        a.cycles, seed, a.cycles, seed))
    rng = random.Random(seed)
    lab = Lab(log=lambda m: None, tekton_attempt_timeout="8s")
    t0 = time.time()
    lab.start()
    log("the lab is up in %.1fs" % (time.time() - t0))
    checker = lab.invariant_checker(0.2)
    soak = Soak(lab, rng)
    try:
        for cycle in range(1, a.cycles + 1):
            for to, primary, standby in DRILL:
                soak.transition(cycle, to, primary, standby)
                if soak.problems:
                    break
            if soak.problems:
                break
    finally:
        checker.stop()
        lab.stop()
    if checker.both:
        soak.problems.append("both leaders writable at once: %s" % checker.both)
    if checker.unsafe_promotions:
        soak.problems.append("promotions while the other site answered writable: %s"
                             % checker.unsafe_promotions)
    if checker.unasked:
        soak.problems.append("runs nobody asked for: %s" % checker.unasked)
    log("faults drawn: %s" % ", ".join("%s %d" % kv for kv in sorted(soak.tally.items())))
    log("%d samples of both leaders in %.0fs" % (checker.samples, time.time() - t0))
    for p in soak.problems:
        log("FAILED: %s" % p)
    log("%s (seed %d)" % ("FAILED" if soak.problems else "ok", seed))
    return 1 if soak.problems else 0


if __name__ == "__main__":
    sys.exit(main())
