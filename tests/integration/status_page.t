#!/usr/bin/env python3
"""The status page (GET /) as an on-call person sees it: loaded in headless Chromium with a
phone's viewport (tests/lib/browser.py), on the two-site lab (tests/lib/lab.py) after a
failover whose best-effort step failed and with the peer's drwatch stopped.

What the person must see on Gold's page, read from the rendered text (innerText), not the
HTML source:
  - the site and its state, both sites in a table: Gold golddr-primary, its database a
    read-only standby cluster; GoldDR (the peer) unreachable, its database the writable
    primary; the GSLB's answer;
  - the last run step by step, each with its outcome and time: the maintenance step failed
    (the portal answered 503; best-effort, the run ended ok);
  - the evidence checks one by one;
  - the firing alerts: TransitionFailed (the failed step), with its summary;
  - every target's health, the peer target down and listed first;
and the page fits a phone's width (nothing wider than the screen but the tables, which scroll
on their own), tells the browser to refresh it, and loads nothing from outside.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import Tap, http, wait_for  # noqa: E402
from lab import Lab, start_for  # noqa: E402
import browser  # noqa: E402

t = Tap()
if not browser.CHROMIUM:
    t.ok(False, "chromium is installed (Debian package chromium; make deps installs it)")
    t.done()
T0 = time.time()
lab = Lab(log=t.diag, rules=True)
start_for(t, lab, T0)

# A failover whose best-effort maintenance step fails: Gold's portal answers 503.
status, _, _ = http("POST", lab.portal["gold"] + "/__fake/mode", body=json.dumps(
    {"path": "*", "mode": "status", "status": 503}).encode())
t.is_(status, 200, "gold's portal answers 503 from now on")
status, r = lab.ask("gold", "golddr-primary", reason="status page test")
t.ok(status == 202, "golddr-primary asked of gold: 202 (%s)" % r)
run = r.get("plan", "")
p = wait_for(lambda: lab.settled("gold", run), 120, 0.25)
t.is_(p and p["status"], "ok", "gold's run ends ok, its maintenance step failed (best-effort)")
t.ok(wait_for(lambda: lab.state("golddr").get("state") == "golddr-primary" and not
              lab.state("golddr").get("transition_in_progress"), 120, 0.25),
     "golddr's run ends: golddr-primary")
t.ok(wait_for(lambda: "TransitionFailed" in lab.alerts("gold"), 30, 0.25),
     "TransitionFailed fires on gold (%s)" % lab.alerts("gold"))
lab.dw["golddr"].stop()
t.ok(wait_for(lambda: [v for k, v in lab.dw["gold"].metrics().items() if k.startswith(
    "drwatch_collector_up{") and 'collector="peer"' in k] == [0.0], 30, 0.25),
    "gold's peer target is down (golddr's drwatch stopped)")

with browser.Browser() as b:
    b.phone()
    b.open(lab.dw["gold"].url + "/")
    text = b.eval("document.body.innerText")
    t.diag("the page as a phone shows it:\n" + text)
    t.is_(b.eval("document.title"), "drwatch gold", "the title names the site")
    t.ok("state golddr-primary" in text, "the site's state: golddr-primary")
    rows = b.eval("""[...document.querySelectorAll('table')[0].rows].map(
        r => [...r.cells].map(c => c.innerText))""")
    t.ok(rows[1][:2] == ["gold (here)", "golddr-primary"] and
         rows[1][2].startswith("standby cluster (read-only)"),
         "gold's row: here, golddr-primary, its database a read-only standby cluster (%s)"
         % rows[1])
    t.is_(rows[2][:3], ["golddr (peer)", "unreachable", "primary (writable)"],
          "golddr's row: the peer, unreachable, its database the writable primary")
    t.ok("The GSLB answers" in text, "the GSLB's answer is shown")
    steps = b.eval("""[...document.querySelectorAll('h3')].filter(
        h => h.innerText == 'The last run').map(h => [...h.nextElementSibling
        .querySelector('table').rows].slice(1).map(r => [...r.cells].map(
        c => c.innerText)))[0] || []""")
    t.ok(len(steps) >= 5 and all(len(s) == 5 for s in steps),
         "the last run's %d steps, each with outcome, time and detail" % len(steps))
    maint = [s for s in steps if s[1] == "maintenance page and portal banner on or off"]
    t.ok(maint and all(s[2] == "failed" for s in maint) and
         all(s[3].endswith(" s") for s in steps if s[2] != "pending"),
         "the maintenance step shows failed, every step its time (%s)" % maint)
    t.ok(all(c in text for c in ("gslb_golddr_alone", "gold_db_not_writable")),
         "the evidence checks, one by one")
    t.ok("TransitionFailed" in text and "firing" in text, "the firing alert TransitionFailed")
    targets = b.eval("""[...document.querySelectorAll('h2')].filter(
        h => h.innerText == 'Targets').map(h => [...h.nextElementSibling.nextElementSibling
        .querySelector('table').rows].slice(1).map(r => [...r.cells].map(
        c => c.innerText)))[0] || []""")
    t.ok(targets and targets[0][0] == "peer" and targets[0][3] == "down",
         "the targets' health, the peer target first and down (%s)" % (targets[:1],))
    t.ok(len(targets) >= 5 and all(r[3] in ("up", "down", "not yet") for r in targets),
         "%d targets, each up, down or not yet" % len(targets))
    width = b.eval("[window.innerWidth, document.documentElement.scrollWidth]")
    t.ok(width[0] == 390 and width[1] <= width[0],
         "the page fits a phone's width, nothing to scroll sideways (%s)" % width)
    t.is_(b.eval("document.querySelector('meta[http-equiv=refresh]').content"), "5",
          "it asks the browser to refresh it every 5 s")
    outside = b.eval("""performance.getEntriesByType('resource').map(e => e.name)""")
    t.is_(outside, [], "it loads nothing else (no script, stylesheet, font or image)")

lab.stop()
t.ok(True, "whole file %.1fs" % (time.time() - T0))
t.done()
