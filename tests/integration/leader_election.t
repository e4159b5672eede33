#!/usr/bin/env python3
"""Two drwatch replicas of one site elect a leader through a coordination.k8s.io/v1 Lease on
tests/fakes/k8s_fake.py (exporter/leader.h). They share one data directory (the switchover
journal and the alert outbox), as two pods on a ReadWriteMany volume do; each reaches the API
with a token of its own, so that the fake's /activity says who wrote and a partition can cut
one replica off. Both collect and evaluate an always-firing rule; only the leader may act: send
notifications (to /hook/<replica> of the webhook fake), write the state ConfigMap, write the
Lease. Lease: 4 s, renew deadline 2.5 s, retry period 0.5 s.
- check-config refuses a renew deadline not under the lease, a retry period not under the
  deadline, a lease in fractions of a second, a Lease name that is no DNS subdomain, an unknown
  key and an out-of-range duration (those two with file:line), and takes the defaults;
- exactly one replica reports drwatch_leader 1; the follower reads the Lease and writes nothing
  at all to the API (no Lease write, no ConfigMap answer, no plan step) and sends no
  notification, while the leader does both;
- kill -9 of the leader: the other takes over, and the Lease's own timestamps bound it: its
  acquireTime is at least lease_duration after the dead leader's last renewTime (never
  earlier: it waited out the lease by its own clock) and at most lease_duration + 2 retry
  periods + 2 s after it; leaseTransitions + 1; the new leader picks up the alert delivery;
- the leader cut off from the API (its requests hang): it reports drwatch_leader 0 before the
  other replica's take-over write reaches the fake, its last notification arrives before the
  new leader's first; lifting the partition, it stays a follower;
- a leader killed -9 in the middle of a plan's step (the break-glass plan, reduced to the health
  API scaled to 2, whose pods come up slowly): the other takes over, resumes that run from the
  shared journal (GET /api/v1/plans/<id>: ok, resumed) and writes its end into the state
  ConfigMap, as a restarted drwatch would;
- SIGTERM of the leader: it releases the Lease (holderIdentity emptied, leaseDurationSeconds 1),
  exits 0, and the other takes over within about a retry period, far sooner than the lease;
- throughout, /metrics of both sampled every 50 ms never shows two leaders, and in the order
  the fakes saw them, notifications and API writes change hands only across a Lease take-over
  by the new writer."""
import datetime
import json
import os
import re
import shutil
import subprocess
import signal
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from drwatch_test import Drwatch, Tap, check_config, http, start_fake, tmpdir, wait_for  # noqa: E402,E501
from fakebase import control  # noqa: E402
from k8s_seed import SEED_OBJECTS  # noqa: E402

LEASE_S, DEADLINE_S, RETRY_S = 4.0, 2.5, 0.5
t = Tap()
work = tmpdir()
port = start_fake("k8s_fake.py", os.path.join(work, "k8s.log"))
URL = "http://127.0.0.1:%d" % port
HOOK = "http://127.0.0.1:%d" % start_fake("webhook_fake.py", os.path.join(work, "hook.log"))
LEASE = "/apis/coordination.k8s.io/v1/namespaces/ops/leases/drwatch-golddr"
CM = "/api/v1/namespaces/ops/configmaps/switchover-state-dev"
HEALTH_DEP = "/apis/apps/v1/namespaces/ops/deployments/bcgov-health-api-dev-generic-api"
SCALE = HEALTH_DEP + "/scale"
shared = os.path.join(work, "shared")
for sub in ("shared/journal", "shared/alerts", "text"):
    os.makedirs(os.path.join(work, sub))
with open(os.path.join(work, "text", "v.prom"), "w") as f:
    f.write("# HELP demo_value A value that makes an alert fire.\n"
            "# TYPE demo_value gauge\ndemo_value 42\n")
# The break-glass plan of golddr, as the fake can carry it out: the health API scaled to 2 (one
# pod per delay_ms), a step long enough to kill its replica in.
PLANS = os.path.join(work, "plans.lua")
DEFAULT = open(os.path.join(os.path.dirname(__file__), "..", "..", "switchover", "plans",
                            "default.lua")).read()
FORCE = DEFAULT.index('plan { site = "golddr", from = "force"')
with open(PLANS, "w") as f:
    f.write(DEFAULT[:FORCE] + DEFAULT[FORCE:].replace(
        '    step { "patroni_demote", follow = "gold" },\n', "", 1).replace(
        '    step { "tfvars", in_recovery = false, in_maintenance = false },\n', "", 1))
with open(os.path.join(work, "rules.lua"), "w") as f:
    f.write('alert("Busy", { expr = function() return series("demo_value") end })\n')
# The fake enforces the Role `drwatch rbac --leader-election` gives the tools namespace (the
# Lease's and the state ConfigMap's rules): the elector needs nothing more.
control(URL, "state", {"rbac": ["coordination.k8s.io leases get", "coordination.k8s.io leases "
                                "create", "coordination.k8s.io leases update",
                                '"" configmaps get', '"" configmaps list', '"" configmaps watch',
                                '"" configmaps patch', "apps deployments get",
                                "apps deployments/scale patch", "policy poddisruptionbudgets get",
                                "policy poddisruptionbudgets patch"]})
# The health API withdrawn, as a passive site's is: 0 replicas, its PDB at minAvailable 0.
dep = next(o for o in SEED_OBJECTS if o["kind"] == "Deployment" and
           o["metadata"]["name"] == "bcgov-health-api-dev-generic-api")
pdb = next(o for o in SEED_OBJECTS if o["kind"] == "PodDisruptionBudget" and
           o["metadata"]["name"] == "bcgov-health-api-dev-generic-api-pdb")
dep["spec"]["replicas"] = 0
pdb["spec"]["minAvailable"] = 0
control(URL, "state", {"objects": [dep, pdb]})
control(URL, "state", {"objects": [{
    "kind": "ConfigMap", "apiVersion": "v1",
    "metadata": {"name": "switchover-state-dev", "namespace": "ops",
                 "labels": {"app": "switchover", "env": "dev", "name": "switchover-config"}},
    "data": {"last_stable_state": "independent", "transition": ""}}]})


def config(name, identity):
    tok = os.path.join(work, "token-" + name)
    with open(tok, "w") as f:
        f.write(name + "\n")
    k8s = 'site = "golddr", url = "%s", namespace = "ops", bearer_token_file = "%s"' % (URL, tok)
    return """
drwatch = { site = "golddr", interval = "1s", fast_interval = "1s" }
textfile = { directory = "%(work)s/text", interval = "1s" }
rules = { files = { "%(work)s/rules.lua" }, evaluation_interval = "1s" }
leader_election = {
  enabled = true, lease_name = "drwatch-golddr", %(identity)s
  lease_duration = "4s", renew_deadline = "2500ms", retry_period = "500ms",
  kubernetes = { %(k8s)s },
}
switchover = {
  data_dir = "%(shared)s/journal", env = "dev", plans_file = "%(plans)s",
  kubernetes = { %(k8s)s },
  namespaces = { tools = "ops", solution = "gateway" },
}
alerting = {
  data_dir = "%(shared)s/alerts", retry_min = "50ms", retry_max = "500ms",
  receivers = { { name = "hook", timeout = "2s", webhook = { url = "%(hook)s/hook/%(name)s" } } },
  route = { receiver = "hook", group_by = { "..." }, group_wait = "0s",
            group_interval = "200ms", repeat_interval = "1s" },
}
""" % {"work": work, "shared": shared, "plans": PLANS, "identity": identity, "k8s": k8s, "hook": HOOK,
       "name": name}


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def activity():
    return get_json(URL + "/activity")


def lease():
    return get_json(URL + LEASE)


def notified():
    """(time, replica) of every notification that reached the webhook fake, in order."""
    return [(n["at"], n["path"].rsplit("/", 1)[1]) for n in get_json(HOOK + "/__fake/received")]


def lease_writes(holder=None):
    """Successful writes of the Lease, optionally only those naming holder."""
    return [w for w in activity() if w["path"].partition("?")[0].startswith(LEASE.rsplit("/", 1)[0])
            and w["status"] in (200, 201) and isinstance(w["body"], dict) and
            (holder is None or w["body"]["spec"].get("holderIdentity") == holder)]


def lease_reads(token):
    return sum(1 for r in get_json(URL + "/__fake/requests")
               if r["method"] == "GET" and r["path"] == LEASE and
               r["headers"].get("Authorization") == "Bearer " + token)


def leader_of(dw):
    """drwatch_leader of a running replica, 0 when it does not answer."""
    try:
        st, _, body = http("GET", dw.url + "/metrics", timeout=2)
    except OSError:
        return 0
    for line in body.decode().splitlines() if st == 200 else []:
        if line.startswith("drwatch_leader "):
            return float(line.split()[1])
    return 0


class Sampler(threading.Thread):
    """/metrics of both replicas every 50 ms: [(time, leader of a, leader of b)]."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples, self.stopping = [], threading.Event()

    def run(self):
        while not self.stopping.is_set():
            a, b = leader_of(A), leader_of(B)
            self.samples.append((time.time(), a, b))
            self.stopping.wait(0.05)  # the sampling period; stop() ends it at once

    def first(self, which, value, since):
        i = 1 if which is A else 2
        return next((s[0] for s in self.samples if s[0] >= since and s[i] == value), None)


# ---- the section, as check-config judges it ----
BASE = 'drwatch = { site = "golddr" }\nleader_election = { enabled = true, %s\n' \
    '  kubernetes = { site = "golddr", url = "%s", namespace = "ops" } }\n'
for keys, want in [
        ('identity = "x", lease_duration = "4s", renew_deadline = "4s",',
         "renew_deadline must be shorter than lease_duration"),
        ('identity = "x", renew_deadline = "1s", retry_period = "1s",',
         "retry_period must be shorter than renew_deadline"),
        ('identity = "x", lease_duration = "4500ms",', "lease_duration must be whole seconds"),
        ('identity = "x", lease_name = "Not_A_Name",', "lease_name must be a DNS subdomain"),
        ('identity = "x", lease_time = "4s",', "c.lua:2: leader_election.lease_time"),
        ('identity = "x", renew_deadline = "50ms",', "c.lua:2: leader_election.renew_deadline")]:
    rc, out = check_config(BASE % (keys, URL), work)
    t.ok(rc != 0 and want in out, "check-config refuses %s: %s" % (keys, out))
rc, out = check_config(BASE % ('identity = "x",', URL), work)
t.ok(rc == 0, "and takes the defaults (15 s, 10 s, 2 s): %s" % out)

A = Drwatch(config("a", 'identity = "drwatch-a",'), name="a")
B = Drwatch(config("b", ""), name="b")  # identity from POD_NAME, as the downward API gives it
A.start()
t.ok(wait_for(lambda: leader_of(A) == 1, timeout=10), "the first replica becomes the leader")
os.environ["POD_NAME"] = "drwatch-b"
B.start()
del os.environ["POD_NAME"]
sampler = Sampler()
sampler.start()
n0 = lease_reads("b")
t.ok(wait_for(lambda: lease_reads("b") >= n0 + 4, timeout=10) and leader_of(B) == 0 and
     leader_of(A) == 1, "the second reads the Lease and follows: exactly one drwatch_leader 1")
t.ok(lease()["spec"]["holderIdentity"] == "drwatch-a", "the Lease names the leader")
PROMTOOL = shutil.which("promtool")
if PROMTOOL:
    for dw in (A, B):
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=dw.get("/metrics")[2],
                           capture_output=True, timeout=30)
        t.ok(r.returncode == 0 and b"drwatch_leader_lease_errors_total" in dw.get("/metrics")[2],
             "promtool check metrics: clean, with the leader families (%s)"
             % (r.stdout + r.stderr).decode().strip()[:200])

# ---- the follower acts on nothing ----
api = urllib.request.Request(URL + CM, method="PATCH",
                             data=json.dumps({"data": {"transition": "golddr-primary"}}).encode(),
                             headers={"Content-Type": "application/merge-patch+json"})
urllib.request.urlopen(api, timeout=5).read()
t.ok(wait_for(lambda: any(w["token"] == "a" and w["path"].startswith(CM) and w["status"] == 200
                          for w in activity()), timeout=10),
     "the leader answers a request in the state ConfigMap")
t.ok(wait_for(lambda: any(who == "a" for _, who in notified()), timeout=10),
     "the leader sends the firing alert's notification")
n0 = lease_reads("b")
wait_for(lambda: lease_reads("b") >= n0 + 4, timeout=10)
t.is_([w["path"] for w in activity() if w["token"] == "b"], [],
      "the follower wrote nothing to the API: no Lease, no ConfigMap answer, no plan step")
t.is_([x for x in notified() if x[1] == "b"], [], "the follower sent no notification")
t.ok("drwatch-b</code>, follows" in B.get("/")[2].decode(), "its status page says it follows")

# ---- kill -9 of the leader ----
os.kill(A.proc.pid, signal.SIGKILL)
A.proc.wait()
killed = time.time()
dead = lease()["spec"]  # no renew can come any more: this is the last one
t.ok(wait_for(lambda: leader_of(B) == 1, timeout=LEASE_S + 10), "the other replica takes over")
spec = lease()["spec"]


def ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


gap = ts(spec["acquireTime"]) - ts(dead["renewTime"])
t.ok(spec["holderIdentity"] == "drwatch-b" and spec["leaseTransitions"] ==
     dead["leaseTransitions"] + 1, "the Lease names it, leaseTransitions + 1")
t.ok(LEASE_S <= gap <= LEASE_S + 2 * RETRY_S + 2,
     "acquired %.2f s after the last renewTime: no sooner than the lease (%.0f s), within it and "
     "two retry periods" % (gap, LEASE_S))
t.ok(wait_for(lambda: any(who == "b" and at > killed for at, who in notified()), timeout=10),
     "the new leader delivers the alerts (its alert manager made on taking over)")

# ---- a partition cuts the leader off from the API ----
A = Drwatch(config("a", 'identity = "drwatch-a",'), name="a2")
A.start()
n0 = lease_reads("a")
t.ok(wait_for(lambda: lease_reads("a") >= n0 + 4, timeout=10) and leader_of(A) == 0,
     "restarted, the old leader follows")
cut = time.time()
control(URL, "state", {"partition": [{"token": "b", "how": "hang"}]})
t.ok(wait_for(lambda: leader_of(A) == 1, timeout=LEASE_S + 10),
     "the replica that still reaches the API takes over")
taken = [w for w in lease_writes("drwatch-a") if w["time"] > cut][0]["time"]
b_stopped = sampler.first(B, 0, cut)
t.ok(b_stopped is not None and b_stopped < taken,
     "the cut-off leader reported drwatch_leader 0 %.2f s before the other's take-over write"
     % (taken - (b_stopped or 0)))
last_b = max([at for at, who in notified() if who == "b"] or [0])
t.ok(wait_for(lambda: any(who == "a" and at > cut for at, who in notified()), timeout=10) and
     last_b < min(at for at, who in notified() if who == "a" and at > cut),
     "its last notification arrived before the new leader's first")
control(URL, "state", {"partition": []})
n0 = lease_reads("b")
t.ok(wait_for(lambda: lease_reads("b") >= n0 + 4, timeout=15) and leader_of(B) == 0 and
     leader_of(A) == 1, "the partition lifted, it reads the Lease again and stays a follower")

# ---- a leader killed mid-run: the other resumes the run from the shared journal ----
control(URL, "state", {"delay_ms": 1500})  # the health API's pods come up one per 1.5 s
ask = urllib.request.Request(URL + CM, method="PATCH", data=json.dumps(
    {"data": {"transition": "active-passive-force"}}).encode(),
    headers={"Content-Type": "application/merge-patch+json"})
urllib.request.urlopen(ask, timeout=5).read()
answer = wait_for(lambda: get_json(URL + CM)["data"].get("drwatch_request") ==
                  "active-passive-force" and get_json(URL + CM)["data"]["drwatch_answer"])
m = re.search(r"run ([A-Za-z0-9_.:-]+[A-Za-z0-9])", answer or "")
rid = m.group(1) if m else ""
t.ok(answer and answer.startswith("accepted: run "), "the leader starts a plan (%s)" % answer)
scaled = wait_for(lambda: [w for w in activity() if w["token"] == "a" and
                           w["path"].startswith(SCALE) and w["status"] == 200], timeout=15)
os.kill(A.proc.pid, signal.SIGKILL)
A.proc.wait()
t.ok(scaled and get_json(URL + HEALTH_DEP)["status"].get("readyReplicas", 0) < 2,
     "killed -9 mid-step: its scale landed, the pods are not all up")
t.ok(wait_for(lambda: leader_of(B) == 1, timeout=LEASE_S + 10), "the other takes over")


def plan_of(dw):
    st, _, body = dw.get("/api/v1/plans/" + rid)
    return json.loads(body) if st == 200 else None


p = wait_for(lambda: (plan_of(B) or {}).get("status") in ("ok", "failed", "stopped") and
             plan_of(B), timeout=30)
t.ok(p and p["status"] == "ok" and p["resumed"],
     "it resumes the run from the shared journal and finishes it (%s)"
     % (p and "%s, resumed %s" % (p["status"], p["resumed"])))
t.ok(wait_for(lambda: get_json(URL + CM)["data"].get("drwatch_progress", "").startswith("done: ")
              and [w for w in activity() if w["token"] == "b" and w["path"].startswith(CM)]),
     "the new leader writes the run's end into the state ConfigMap: %s"
     % get_json(URL + CM)["data"].get("drwatch_progress"))
control(URL, "state", {"delay_ms": 100})

# ---- SIGTERM releases ----
A = Drwatch(config("a", 'identity = "drwatch-a",'), name="a3")
A.start()
n0 = lease_reads("a")
t.ok(wait_for(lambda: lease_reads("a") >= n0 + 4, timeout=10) and leader_of(A) == 0,
     "restarted again, it follows")
resumed_at = time.time()
B.proc.send_signal(signal.SIGTERM)
rc = B.proc.wait(timeout=15)
stopped = time.time()
released = [w for w in lease_writes() if w["token"] == "b" and
            w["body"]["spec"].get("holderIdentity") == "" and w["time"] > resumed_at]
if not t.ok(rc == 0 and released and
            released[-1]["body"]["spec"]["leaseDurationSeconds"] == 1,
            "SIGTERM: the leader releases the Lease (no holder, duration 1) and exits 0"):
    t.diag("exit %s; its log:\n%s" % (rc, B.log()[-3000:]))
    released = [{"time": stopped}]
t.ok(wait_for(lambda: leader_of(A) == 1, timeout=10), "the other takes over")
took = [w for w in lease_writes("drwatch-a") if w["time"] > stopped - 5][-1]["time"] - \
    released[-1]["time"]
t.ok(took < RETRY_S + 1.5, "%.2f s after the release: about a retry period, not the lease" % took)
bad = [l for l in B.log().splitlines() if "Sanitizer" in l or "runtime error:" in l]
t.is_(bad[:5], [], "no sanitizer report from the replica stopped by SIGTERM")

# ---- invariants over the whole run ----
sampler.stopping.set()
sampler.join()
both = [s for s in sampler.samples if s[1] == 1 and s[2] == 1]
t.ok(not both and len(sampler.samples) > 100,
     "%d samples of both /metrics, never two leaders" % len(sampler.samples))
takeovers = [(w["time"], w["token"]) for w in lease_writes() if w["body"]["spec"].get(
    "holderIdentity")]


def hands_over_cleanly(events):
    """events: (time, writer) in order. Each change of writer needs a Lease write by the new
    writer after the old one's last act and before the new one's first."""
    bad = []
    for (t0, w0), (t1, w1) in zip(events, events[1:]):
        if w0 != w1 and not any(t0 < tt <= t1 and who == w1 for tt, who in takeovers):
            bad.append((t0, w0, t1, w1))
    return bad


acts = sorted((w["time"], w["token"]) for w in activity()
              if w["token"] and not w["path"].startswith(LEASE.rsplit("/", 1)[0]))
t.is_(hands_over_cleanly(sorted(notified())), [],
      "notifications change hands only across a take-over of the Lease")
t.is_(hands_over_cleanly(acts), [], "API writes change hands only across a take-over")
A.stop_clean(t)
t.done()
