#!/usr/bin/env python3
"""The switchover part's HTTP API on a running drwatch (no actuators are needed: what is
asked here is judged, planned or refused, and a refusal touches nothing):
- POST /api/v1/transition needs the bearer token of --web.token-file (401 before the body is
  read), takes {"to", "reason", "dry_run", "force"} (422 otherwise), refuses what the
  transition table refuses with the reason and what would be accepted (409), refuses what
  needs the peer's agreement while no peer can give it (409), and answers a dry run with the
  plan and starts nothing;
- GET /api/v1/state, /api/v1/evidence (every check with what it saw), /api/v1/plans/<id>,
  and the status page's switchover section (state, last run, evidence checks)
  (a run's record; 404 for a run it does not know);
- refusals are counted (drwatch_transition_requests_total) and journaled;
- without a switchover section every route says so (404)."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import Drwatch, Tap, tmpdir, wait_for  # noqa: E402

t = Tap()
d = tmpdir()
dw = Drwatch("""
drwatch = { site = "gold", interval = "1s", fast_interval = "1s" }
switchover = { data_dir = "%s" }
""" % d, name="switchover-api").start()
auth = {"Authorization": "Bearer %s" % dw.token}


def ask(body, headers=auth):
    status, _, text = dw.post("/api/v1/transition", json.dumps(body).encode(), headers=headers)
    try:
        return status, json.loads(text)
    except ValueError:
        return status, {"text": text.decode(errors="replace")}


status, _, body = dw.get("/api/v1/state")
state = json.loads(body)
t.ok(status == 200 and state["site"] == "gold" and state["state"] == "independent" and
     state["transition_in_progress"] is False and state["automation"] is False,
     "GET /api/v1/state: gold, independent, nothing running, automation off")

status, _ = ask({"to": "golddr-primary"}, headers={})
t.is_(status, 401, "a transition without the bearer token: 401")
status, _ = ask({"to": "golddr-primary"}, headers={"Authorization": "Bearer wrong"})
t.is_(status, 401, "with another token: 401")
status, _, _ = dw.post("/api/v1/transition", b"not json", headers=auth)
t.is_(status, 422, "a body that is not JSON: 422")
status, r = ask({"to": 5})
t.ok(status == 422 and "\"to\"" in r.get("reason", ""), "a body of the wrong shape: 422 with the shape")

status, r = ask({"to": "golddr-primary", "reason": "test"})
t.ok(status == 409 and r["status"] == "refused" and
     "independent cannot go to golddr-primary" in r["reason"] and
     "drwatch goes to active-passive" in r["reason"],
     "from independent golddr-primary is refused, saying what would be accepted (%s)" %
     r.get("reason"))
status, r = ask({"to": "bogus"})
t.ok(status == 422 and "is not a transition" in r["reason"], "an unknown target: 422")
status, r = ask({"to": "active-passive", "reason": "pairing"})
t.ok(status == 409 and "the peer must confirm" in r["reason"] and
     "not configured" in r["reason"],
     "pairing needs the peer's agreement, and no peer is configured (%s)" % r.get("reason"))

status, r = ask({"to": "active-passive-force", "dry_run": True, "reason": "break glass"})
steps = (r.get("plan") or {}).get("steps", [])
t.ok(status == 200 and r["status"] == "dry_run" and r["plan"]["site"] == "gold" and
     any(s["action"] == "patroni_promote" for s in steps),
     "a break-glass dry run answers gold's plan (%d steps)" % len(steps))
status, _, body = dw.get("/api/v1/state")
t.ok(json.loads(body)["transition_in_progress"] is False, "and starts nothing")

status, _, body = dw.get("/api/v1/evidence")
ev = json.loads(body)
names = [c["check"] for c in ev.get("checks", [])]
t.ok(status == 200 and ev["complete"] is False and len(names) == 8 and
     "gslb_golddr_alone" in names and all(c["saw"] for c in ev["checks"]),
     "GET /api/v1/evidence: eight checks, each with what it saw")
status, _, body = dw.get("/api/v1/plans/gold-0-ffff")
t.ok(status == 404 and b"no such run" in body, "GET /api/v1/plans/<unknown id>: 404")

# Regression: handlers saw the route's path ("/api/v1/plans/") instead of the request's, so
# GET /api/v1/plans/<id> answered 404 for every run, also the one just started.
status, r = ask({"to": "active-passive-force", "reason": "break glass <script>x()</script>"})
run_id = r.get("plan", "")
t.ok(status == 202 and r["status"] == "accepted" and run_id,
     "a break-glass run starts (and fails at once: no Kubernetes API here): %s" % run_id)
rec = wait_for(lambda: (lambda s, b: s == 200 and json.loads(b))(
    *dw.get("/api/v1/plans/" + run_id)[::2]))
t.ok(rec and rec["id"] == run_id and rec["trigger"] == "api" and rec["steps"],
     "GET /api/v1/plans/<its id> answers its record (%s)" % (rec and rec["status"]))

wait_for(lambda: json.loads(dw.get("/api/v1/state")[2])["transition_in_progress"] is False)
status, headers, body = dw.get("/")
page = body.decode()
t.ok(status == 200 and "<h2>Switchover</h2>" in page and "state <b>" in page and
     "Last run: run <code>%s</code>" % run_id in page and "gslb_golddr_alone" in page and
     "evidence <b>not complete</b>" in page,
     "the status page shows the state, the last run with its result, and each evidence check")
t.ok("<script" not in page and "break glass &lt;script&gt;x()&lt;/script&gt;" in page,
     "a person's reason is shown as text, escaped")

refused = wait_for(lambda: dw.sample(
    'drwatch_transition_requests_total{result="refused",source="api",to="golddr-primary"}'))
t.ok(refused == 1, "the refusal is counted")
journal = open(os.path.join(d, "switchover.journal"), "rb").read()
t.ok(b'"kind":"refused"' in journal and b"independent cannot go to golddr-primary" in journal,
     "and journaled with its reason")
dw.stop_clean(t)

bare = Drwatch('drwatch = { site = "golddr" }\n', name="no-switchover").start()
status, _, body = bare.get("/api/v1/state")
t.ok(status == 404 and b"not configured" in body, "without a switchover section: 404 saying so")
status, _, body = bare.get("/")
t.ok(status == 200 and b"No switchover section in the config" in body,
     "and the status page says it carries out no transition")
bare.stop()
t.done()
