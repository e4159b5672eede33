#!/usr/bin/env python3
"""The peer protocol between two drwatch instances, Gold and GoldDR, over the mTLS peer link
(certificates from a throwaway CA, as peer_mtls.t), each with a switchover section and its own
fake Kubernetes API holding its switchover-state ConfigMap, which gives each site its state. No
actuator has anything to act on: a plan that starts fails at its first step for want of a
Kubernetes API, which is enough to see it start. What it proves:
- Gold asked for gold-standby while GoldDR is golddr-primary: the API answers 202 awaiting the
  peer at once; GoldDR answers the confirm yes, logs and counts it; Gold's run starts under the
  request's id;
- GoldDR not golddr-primary: its explicit no, with the reason, refuses the request; nothing
  starts; both sides count it;
- GoldDR down: the request is refused once peer_timeout has passed, "unreachable";
- a message sent again with the same seq is refused as a replay and counted;
- Gold's tell_peer step (active-passive -> golddr-maintenance) sends a transition message that
  GoldDR judges with its own table and answers: yes, with the run it started (as a request from
  the peer); a transition GoldDR's table refuses is answered no with the reason;
- a malformed message is answered 400 with an explicit no, a message without a length 411;
- a person's request through the ConfigMap that needs the peer is answered "pending" at once,
  and its answer there becomes "refused: ... unreachable" (peer down) or "accepted: run <id>"
  (peer's yes) once the peer has answered; transition is cleared once."""
import copy
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from drwatch_test import Drwatch, Tap, free_port, http, peer_fetch, start_fake  # noqa: E402
from drwatch_test import tmpdir, wait_for  # noqa: E402
from gslb_fake import make_ca, make_cert  # noqa: E402
from k8s_seed import SEED_OBJECTS  # noqa: E402

t = Tap()
d = tmpdir()
ca = make_ca(d, "ca")
certs = {s: make_cert(d, s, ca, san=["DNS:drwatch.%s.test" % s, "IP:127.0.0.1"])
         for s in ("gold", "golddr")}
ports = {"gold": free_port(), "golddr": free_port()}
OTHER = {"gold": "golddr", "golddr": "gold"}
k8s = {s: "http://127.0.0.1:%d" % start_fake("k8s_fake.py", os.path.join(d, s + "-k8s.log"))
       for s in ("gold", "golddr")}
STATE_CM = next(o for o in SEED_OBJECTS if o["kind"] == "ConfigMap" and
                o["metadata"]["name"] == "switchover-state-dev")


def set_label(site, state):
    cm = copy.deepcopy(STATE_CM)
    cm["data"]["last_stable_state"] = state
    status, _, body = http("POST", k8s[site] + "/__fake/state",
                           body=json.dumps({"objects": [cm]}).encode())
    assert status == 200, body


def config(site, with_k8s=False):
    return """
drwatch = { site = "%(site)s", interval = "1s", fast_interval = "1s" }
configmap = { env = "dev", targets = { { site = "%(site)s", url = "%(k8s)s", namespace = "ops",
                                         interval = "1s" } } }
peer_listen = { address = "127.0.0.1:%(lp)d", cert_file = "%(cert)s", key_file = "%(key)s",
                client_ca_file = "%(ca)s", allowed_clients = { "drwatch.%(other)s.test" } }
peer = { targets = { { site = "%(other)s", url = "https://127.0.0.1:%(op)d", ca_file = "%(ca)s",
                       cert_file = "%(cert)s", key_file = "%(key)s" } } }
switchover = { data_dir = "%(data)s", peer_timeout = "3s"%(k8s_sw)s }
""" % {"k8s_sw": "" if not with_k8s else
       ', env = "dev", kubernetes = { site = "%s", url = "%s", namespace = "ops" }, '
       'namespaces = { tools = "ops", solution = "gateway" }' % (site, k8s[site]),"site": site, "other": OTHER[site], "k8s": k8s[site], "lp": ports[site],
       "op": ports[OTHER[site]], "cert": certs[site][0], "key": certs[site][1], "ca": ca[0],
       "data": data[site]}


data = {s: tmpdir() for s in ("gold", "golddr")}
for s in ("gold", "golddr"):
    set_label(s, "golddr-primary")
dws = {s: Drwatch(config(s), name=s).start() for s in ("gold", "golddr")}
A, B = dws["gold"], dws["golddr"]


def state(dw):
    status, _, body = dw.get("/api/v1/state")
    return json.loads(body) if status == 200 else {}


def ask(dw, to, reason="test"):
    status, _, body = dw.post("/api/v1/transition", json.dumps({"to": to, "reason": reason}).encode(),
                              headers={"Authorization": "Bearer %s" % dw.token})
    return status, json.loads(body)


def plan(dw, run_id):
    status, _, body = dw.get("/api/v1/plans/" + run_id)
    return json.loads(body) if status == 200 else None


def metric(dw, family, **labels):
    return dw.sample("%s{%s}" % (family, ",".join('%s="%s"' % kv for kv in sorted(labels.items()))))


def settled(dw, run_id):
    """The record of run_id once it no longer awaits the peer and no longer runs."""
    p = plan(dw, run_id)
    return p if p and p["status"] not in ("awaiting_peer", "running") else None


for dw in dws.values():
    t.ok(wait_for(lambda: state(dw).get("state") == "golddr-primary", timeout=15),
         "%s's state comes from its ConfigMap: golddr-primary" % state(dw).get("site"))

# ---- the handshake: yes ----
status, r = ask(A, "gold-standby")
t.ok(status == 202 and r["status"] == "awaiting_peer" and r["plan"] and
     "awaiting the peer's confirmation that it is golddr-primary" in r["reason"],
     "gold-standby: 202 at once, awaiting the peer (%s)" % r)
rid = r["plan"]
p = wait_for(lambda: settled(A, rid), timeout=10)
t.ok(p and p["id"] == rid and p["trigger"] == "api" and p["to"] == "gold-standby" and
     len(p["steps"]) > 0 and p["steps"][0]["status"] != "pending",
     "golddr said yes: gold's run started under the request's id (%s)" %
     (p and "%s: %s" % (p["status"], p["detail"]),))
t.ok(p and p["status"] == "failed" and "not configured" in p["detail"],
     "and failed at its first step, there being no Kubernetes API here (%s)" % (p and p["detail"]))
t.ok(wait_for(lambda: metric(B, "drwatch_peer_messages_total", kind="confirm", answer="yes") == 1),
     "golddr counted the confirm it said yes to")
t.ok(("confirm %s" % rid) in B.log() and "answered yes" in B.log(),
     "and logged it with the request's id")
t.ok(wait_for(lambda: metric(A, "drwatch_peer_requests_total", kind="confirm", answer="yes") == 1),
     "gold counted golddr's yes")

# ---- the handshake: no ----
set_label("golddr", "active-passive")
t.ok(wait_for(lambda: state(B).get("state") == "active-passive", timeout=10),
     "golddr is now active-passive")
t.ok(wait_for(lambda: state(A).get("state") == "golddr-primary"), "gold is golddr-primary again")
status, r = ask(A, "gold-standby")
t.ok(status == 202 and r["status"] == "awaiting_peer", "gold asks again: 202, awaiting the peer")
p = wait_for(lambda: settled(A, r["plan"]), timeout=10)
t.ok(p and p["status"] == "refused" and p["steps"] == [] and
     "the peer answered no: this site is active-passive, not golddr-primary" in p["detail"],
     "golddr's explicit no refuses it, with the reason, and nothing starts (%s)" %
     (p and p["detail"]))
t.ok(state(A).get("transition_in_progress") is False and "awaiting_peer" not in state(A),
     "gold runs nothing and awaits nothing")
t.ok(wait_for(lambda: metric(B, "drwatch_peer_messages_total", kind="confirm", answer="no") == 1 and
              metric(A, "drwatch_peer_requests_total", kind="confirm", answer="no") == 1 and
              metric(A, "drwatch_transition_requests_total", to="gold-standby", source="api",
                     result="refused") == 1),
     "counted on both sides, and as a refused request")
journal = open(os.path.join(data["gold"], "switchover.journal"), "rb").read()
t.ok(b"the peer answered no" in journal, "and journaled with the reason")

# ---- the handshake: the peer down ----
B.stop()
start = time.time()
status, r = ask(A, "gold-standby")
t.ok(status == 202 and r["status"] == "awaiting_peer",
     "golddr stopped: still 202 at once, awaiting (%s)" % r.get("reason"))
t.ok(state(A).get("awaiting_peer", {}).get("id") == r["plan"],
     "GET /api/v1/state shows the request awaiting the peer")
p = wait_for(lambda: settled(A, r["plan"]), timeout=10)
took = time.time() - start
t.ok(p and p["status"] == "refused" and "unreachable" in p["detail"] and took >= 2.5,
     "refused once the 3s peer_timeout passed (%.1fs): %s" % (took, p and p["detail"]))
t.ok(wait_for(lambda: metric(A, "drwatch_peer_requests_total", kind="confirm",
                             answer="unreachable") == 1),
     "counted as unreachable")

# ---- replays ----
B.start()
t.ok(wait_for(lambda: state(B).get("state") == "active-passive", timeout=15),
     "golddr back (same data directory)")


def confirm_body(seq, msg_id):
    return json.dumps({"format": "drwatch-peer-msg/1", "kind": "confirm", "id": msg_id,
                       "seq": seq, "from_site": "gold", "sender_state": "golddr-primary",
                       "required_states": ["golddr-primary"], "to": "gold-standby",
                       "reason": "replay test"}).encode()


def send(path, body, cert=certs["gold"]):
    return peer_fetch(ports["golddr"], ca[0], cert, path=path, method="POST", body=body)


seq = int(time.time() * 1e6)
first = send("/peer/v1/confirm", confirm_body(seq, "gold-replay-1"))
again = send("/peer/v1/confirm", confirm_body(seq, "gold-replay-2"))
a1 = json.loads(first[1]) if first and first[0] == 200 else {}
a2 = json.loads(again[1]) if again and again[0] == 200 else {}
t.ok(a1.get("id") == "gold-replay-1" and a1.get("answer") == "no" and
     "replayed" not in a1.get("reason", ""),
     "a message with a new seq is answered (no: %s)" % a1.get("reason"))
t.ok(a2.get("id") == "gold-replay-2" and a2.get("answer") == "no" and
     "replayed: seq %d is not above %d" % (seq, seq) in a2.get("reason", ""),
     "the same seq again: no, a replay (%s)" % a2.get("reason"))
t.ok(wait_for(lambda: metric(B, "drwatch_peer_messages_total", kind="confirm",
                             answer="replayed") == 1),
     "counted as replayed")

r = send("/peer/v1/confirm", b"{not json")
t.ok(r and r[0] == 400 and json.loads(r[1])["answer"] == "no" and
     "could not be read" in json.loads(r[1])["reason"],
     "a malformed message: 400 with an explicit no (%s)" % (r and r[1][:120]))
r = peer_fetch(ports["golddr"], ca[0], certs["gold"], path="/peer/v1/transition", method="POST")
t.ok(r and r[0] == 411, "a message without a Content-Length: 411")
r = peer_fetch(ports["golddr"], ca[0], certs["gold"], path="/peer/v1/confirm")
t.ok(r and r[0] == 405, "GET on a message path: 405")

# ---- tell_peer: a transition message from gold ----
# Gold's state is its last run's now, whatever its ConfigMap says: a new data directory.
A.stop()
data["gold"] = tmpdir()
A.write_config(config("gold"))
set_label("gold", "active-passive")
A.start()
t.ok(wait_for(lambda: state(A).get("state") == "active-passive", timeout=15),
     "gold starts again, active-passive (golddr too)")
status, r = ask(A, "golddr-maintenance", reason="golddr's maintenance window")
t.ok(status == 202 and r["status"] == "awaiting_peer", "gold asks for golddr-maintenance")
p = wait_for(lambda: settled(A, r["plan"]), timeout=15)
tell = p and p["steps"][0]
t.ok(p and p["status"] == "ok" and tell["action"] == "tell_peer" and tell["status"] == "ok" and
     "the peer follows: accepted: run golddr-" in tell["detail"],
     "golddr confirmed, gold ran its plan: tell_peer ended with golddr's yes (%s)" %
     (tell and tell["detail"]))
golddr_run = tell["detail"].split("accepted: run ")[1].split(" ")[0] if tell else ""
gp = wait_for(lambda: settled(B, golddr_run), timeout=10)
t.ok(gp and gp["trigger"] == "peer" and gp["to"] == "golddr-maintenance" and
     "gold asks" in gp["reason"],
     "golddr judged it as a request from the peer and ran its own plan (%s)" %
     (gp and "%s: %s" % (gp["status"], gp["detail"]),))
t.ok(wait_for(lambda: metric(B, "drwatch_peer_messages_total", kind="transition", answer="yes") == 1
              and metric(A, "drwatch_peer_requests_total", kind="transition", answer="yes") == 1),
     "counted on both sides")
t.ok(wait_for(lambda: state(A).get("state") == "golddr-maintenance"),
     "gold is golddr-maintenance")

body = json.dumps({"format": "drwatch-peer-msg/1", "kind": "transition", "id": "gold-x-1",
                   "seq": int(time.time() * 1e6), "from_site": "gold",
                   "sender_state": "golddr-maintenance", "to": "gold-standby",
                   "reason": "not in the table"}).encode()
r = send("/peer/v1/transition", body)
ans = json.loads(r[1]) if r and r[0] == 200 else {}
t.ok(ans.get("answer") == "no" and "cannot go to gold-standby" in ans.get("reason", "") and
     ans.get("state") == "active-passive",
     "a transition golddr's table refuses: no, with the reason and its state (%s)" %
     ans.get("reason"))

# ---- a person's request through gold's ConfigMap, which the peer must confirm ----
CM_PATH = "/api/v1/namespaces/ops/configmaps/switchover-state-dev"


def cm_data(site):
    status, _, body = http("GET", k8s[site] + CM_PATH)
    return json.loads(body).get("data") or {} if status == 200 else {}


def person(site, value):
    status, _, body = http("PATCH", k8s[site] + CM_PATH,
                           body=json.dumps({"data": {"transition": value}}).encode(),
                           headers={"Content-Type": "application/merge-patch+json"})
    assert status == 200, body


def cm_answer(site, prefix):
    a = cm_data(site).get("drwatch_answer", "")
    return a if a.startswith(prefix) else None


A.stop()
A.write_config(config("gold", with_k8s=True))
set_label("gold", "golddr-maintenance")  # what gold's run would have written there
A.start()
t.ok(wait_for(lambda: state(A).get("state") == "golddr-maintenance", timeout=15),
     "gold again, watching its ConfigMap, golddr-maintenance from its journal")
B.stop()
person("gold", "active-passive")
a = wait_for(lambda: cm_answer("gold", "pending: request gold-"), timeout=5)
t.ok(a and "awaiting the peer's confirmation that it is golddr-maintenance" in a and
     cm_data("gold").get("transition") == "",
     "golddr down: the ConfigMap's answer is pending at once, transition cleared (%s)" % a)
a = wait_for(lambda: cm_answer("gold", "refused: "), timeout=10)
t.ok(a and "unreachable" in a, "then refused, unreachable, once peer_timeout passed (%s)" % a)
# golddr's own run to golddr-maintenance failed (no Kubernetes API there): it starts afresh
# in golddr-maintenance, from its ConfigMap.
data["golddr"] = tmpdir()
B.write_config(config("golddr"))
set_label("golddr", "golddr-maintenance")
B.start()
t.ok(wait_for(lambda: state(B).get("state") == "golddr-maintenance", timeout=15),
     "golddr back, golddr-maintenance")
person("gold", "active-passive")
a = wait_for(lambda: cm_answer("gold", "accepted: run gold-"), timeout=10)
t.ok(a and "the peer confirmed" in a and cm_data("gold").get("transition") == "",
     "golddr up: the answer becomes accepted with the run, the peer having confirmed (%s)" %
     (a or cm_data("gold").get("drwatch_answer")))
t.ok(wait_for(lambda: metric(A, "drwatch_transition_requests_total", to="active-passive",
                             source="configmap", result="refused") == 1),
     "the refusal counted once as a ConfigMap request")

for dw in dws.values():
    dw.stop_clean(t)
t.done()
