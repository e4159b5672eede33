#!/usr/bin/env python3
"""kill -9 during a real switchover: one drwatch (site golddr) runs golddr's default
active-passive -> golddr-primary plan (switchover/plans/default.lua, less patroni_promote: no
Patroni acts here) against fakes: the Kubernetes API (tests/fakes/k8s_fake.py, the old agent's
objects, the health API withdrawn at 0 replicas as a passive site's), the Tekton EventListener
(tekton_listener_fake.py, whose PipelineRuns appear in the Kubernetes fake) and the portal
(portal_fake.py). Its steps: tfvars, maintenance on, health_api, tell_peer, tekton_deploy,
maintenance off. tell_peer stays: with no peer configured it fails at once ("no peer is
configured") and, being best-effort, the plan goes on; the test expects exactly that.

An uninterrupted run first is the reference: each step's writes (the fakes' /activity, in
order, less the state ConfigMap's), and the objects it leaves (the health API's replicas and
PDB, the tfvars flags, Keycloak's Service selector, the portal's banner, last_stable_state, the
PipelineRuns' outcome).

Then, for every step k, two kill points, each on fresh fakes and a fresh data directory: the
request, a wait on the journal file (data_dir/switchover.journal, parsed record by record, CRC
checked), SIGKILL, and a start with the same data directory and config:
- mid-step: step k's begin is on disk and its writes have reached the fakes, its end not (the
  steps wait: the fake's controller moves one pod per 100 ms and drwatch polls once a second;
  tfvars' PATCH is answered 500 ms late, so it is in flight at the kill and lands after). The
  instant after a begin is the step's check, a read: the boundary before it covers that;
- boundary: step k's end is on disk (where the next step reads first, that read is made
  slow, so that it has not acted; its begin may be on disk too, which the test names).
The restart waits until the fakes have settled what the killed process started (its requests
answered, the workloads settled): the world a check after a real crash would find a moment
later. Then, for every kill point: the same run (one start record, one id) resumes and finishes
ok (GET /api/v1/plans/<id>: ok, resumed), or had finished before the kill and is not resumed;
the objects equal the reference; the state becomes golddr-primary (the API,
drwatch_state{state="golddr-primary"} 1, last_stable_state); and the writes are the
reference's, each step's once, except the step in doubt at the kill, which the code decides
through its check, and the test with it:
- tfvars is found done when its PATCH landed; health_api when both PATCHes landed and the
  Deployment settled; maintenance when the Service's selector PATCH landed (its check then
  asks the portal with a PUT of the state it wants, the only write allowed); found done, the
  step writes nothing more; not found done, it acts again from the start, all its writes;
- tekton_deploy is never found done, but it never triggers twice (act_tekton.c: its mark in
  the journal says a trigger left, and its event id once the listener answered): killed after
  its trigger reached the listener, the resumed step follows that run and writes nothing again;
  killed before, it triggers after the restart; every kill point gets exactly one trigger;
- tell_peer acts again (no peer: fails again, best-effort).
Some kill points are races a test that reads a file cannot always win: tell_peer takes well
under a millisecond, the trigger follows health_api's and tell_peer's ends at once, and the
finish follows the last step's end. Such kills may land later: the test says where each one
landed, and the assertions above hold wherever that is. The descriptions count the resumed
runs.

A kill after the finish whose report never reached the ConfigMap (made certain by a ConfigMap
that answers 503 from the last step on): the restart writes it (done, last_stable_state) and
resumes nothing.

Last, a destructive step in doubt, with a plan made for the test whose third step is a
patroni_rebuild marked destructive (on the Kubernetes fake's StatefulSet and claims; Patroni
fakes give the guard a healthy gold leader, and the rebuild a golddr standby):
- killed once it has scaled the StatefulSet to 0: after the restart the run stops, reported
  (the plan API, the journal, drwatch_progress), maintenance is left on, no write of the
  rebuild happens again and the state stays active-passive;
- killed once it has scaled the StatefulSet back and waits for the standby: its check, which
  reads the world, finds it done; the run goes on without writing anything of it again.

The time is mostly waiting (drwatch polls a step once a second, and the plan runs 16 times),
so after the reference the runs go two at a time, each on its own Kubernetes, Tekton and
portal fakes (two lanes): about 50 s, also with both cores busy."""
import base64
import copy
import json
import os
import signal
import struct
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from drwatch_test import Drwatch, Tap, http, start_fake, tmpdir, wait_for  # noqa: E402
from fakebase import control  # noqa: E402
from k8s_seed import SEED_OBJECTS  # noqa: E402

t = Tap()
began = time.time()
work = tmpdir()
SECRET = "tekton-webhook-secret"
HMAC = os.path.join(work, "hmac")
with open(HMAC, "w") as f:
    f.write(SECRET + "\n")
# Read-only for these plans: one pair for every lane.
PATRONI = {s: "http://127.0.0.1:%d" % start_fake(
    "patroni_fake.py", os.path.join(work, "patroni-%s.log" % s), "--role", role, "--scope",
    "pg-" + s, "--name", "pg-%s-0" % s)
    for s, role in (("gold", "primary"), ("golddr", "standby_leader"))}

STATE_CM = "/api/v1/namespaces/ops/configmaps/switchover-state-dev"
HEALTH = "bcgov-health-api-dev-generic-api"
DEPLOYMENTS = "/apis/apps/v1/namespaces/%s/deployments/%s"
SECRET_PATH = "/api/v1/namespaces/ops/secrets/terraform-tfvars-dev"
SERVICES = "/api/v1/namespaces/gateway/services"
PDB_PATH = "/apis/policy/v1/namespaces/ops/poddisruptionbudgets/%s-pdb" % HEALTH
STS = "/apis/apps/v1/namespaces/gateway/statefulsets/patroni-spilo"
STEPS = ["tfvars", "maintenance on", "health_api", "tell_peer", "tekton_deploy",
         "maintenance off"]

# ---- the plan files ----
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
DEFAULT = open(os.path.join(ROOT, "switchover", "plans", "default.lua")).read()
FAILOVER = DEFAULT.index('plan { site = "golddr", from = "active-passive", to = "golddr-primary"')
FAILOVER_END = DEFAULT.index("} }\n", FAILOVER) + 4
PROMOTE = '    step { "patroni_promote", name = "golddr\'s database becomes the primary" },\n'
assert PROMOTE in DEFAULT[FAILOVER:FAILOVER_END]
PLANS = os.path.join(work, "plans.lua")
with open(PLANS, "w") as f:
    f.write(DEFAULT[:FAILOVER] + DEFAULT[FAILOVER:].replace(PROMOTE, "", 1))
REBUILD_PLANS = os.path.join(work, "rebuild.lua")
with open(REBUILD_PLANS, "w") as f:
    f.write(DEFAULT[:FAILOVER] + """\
plan { site = "golddr", from = "active-passive", to = "golddr-primary", steps = {
    step { "tfvars", in_recovery = true, in_maintenance = false },
    step { "maintenance", on = true },
    step { "patroni_rebuild", from = "gold", destructive = true, name = "a test's rebuild" },
    step { "maintenance", on = false },
} }
""" + DEFAULT[FAILOVER_END:])


def get_json(url):
    status, _, body = http("GET", url)
    return json.loads(body) if status == 200 else None


def seed(kind, name):
    return copy.deepcopy(next(o for o in SEED_OBJECTS
                              if o["kind"] == kind and o["metadata"]["name"] == name))


def norm_body(body):
    """A write's body less what differs from run to run (versions, restart stamps)."""
    b = copy.deepcopy(body)
    if isinstance(b, dict):
        (b.get("metadata") or {}).pop("resourceVersion", None)
        ann = (((b.get("spec") or {}).get("template") or {}).get("metadata") or {}).get(
            "annotations") or {}
        if "kubectl.kubernetes.io/restartedAt" in ann:
            ann["kubectl.kubernetes.io/restartedAt"] = "<stamp>"
    return json.dumps(b, sort_keys=True)


class Lane:
    """A Kubernetes API, a Tekton EventListener and a portal of its own: one run at a time."""

    def __init__(self, name):
        log = os.path.join(work, name + "-%s.log")
        self.k8s = "http://127.0.0.1:%d" % start_fake("k8s_fake.py", log % "k8s",
                                                      "--delay-ms", "100")
        self.tekton = "http://127.0.0.1:%d" % start_fake(
            "tekton_listener_fake.py", log % "tekton", "--k8s", self.k8s, "--secret", SECRET,
            "--namespace", "ops", "--finish-ms", "200")
        self.portal = "http://127.0.0.1:%d" % start_fake("portal_fake.py", log % "portal")

    def config(self, data_dir, plans):
        return """
drwatch = { site = "golddr", interval = "1s", fast_interval = "1s" }
configmap = { env = "dev", targets = { { site = "golddr", url = "%(k8s)s", namespace = "ops",
                                         interval = "1s" } } }
patroni = { targets = { { site = "gold", name = "gold", url = "%(pg)s" },
                        { site = "golddr", name = "golddr", url = "%(pgdr)s" } } }
switchover = {
  data_dir = "%(data)s", env = "dev", plans_file = "%(plans)s",
  kubernetes = { site = "golddr", url = "%(k8s)s", namespace = "ops" },
  namespaces = { tools = "ops", solution = "gateway", tekton = "ops" },
  portal = { site = "golddr", url = "%(portal)s" },
  tekton = { site = "golddr", url = "%(tekton)s", hmac_secret_file = "%(hmac)s",
             repo = "https://github.com/example/infra.git", ref = "refs/heads/deploy/dev" },
  standby = { host = "patroni-gold.example.org", port = 5432 },
}
""" % {"k8s": self.k8s, "pg": PATRONI["gold"], "pgdr": PATRONI["golddr"], "data": data_dir,
       "plans": plans, "portal": self.portal, "tekton": self.tekton, "hmac": HMAC}

    def reset(self):
        """The seed, with the health API withdrawn (0 replicas, PDB minAvailable 0) as a
        passive site's is; the state ConfigMap says active-passive; no activity anywhere."""
        for url in (self.k8s, self.tekton, self.portal):
            control(url, "reset")
        dep, pdb = seed("Deployment", HEALTH), seed("PodDisruptionBudget", HEALTH + "-pdb")
        dep["spec"]["replicas"] = 0
        pdb["spec"]["minAvailable"] = 0
        control(self.k8s, "state", {"objects": [dep, pdb]})
        control(self.k8s, "state", {"clear_activity": True})

    def slow(self, path, method, ms):
        control(self.k8s, "mode", {"path": path, "method": method, "mode": "slow", "ms": ms})

    def normal(self, path):
        control(self.k8s, "mode", {"path": path, "mode": "ok"})

    def obj(self, path):
        return get_json(self.k8s + path)

    def cm(self):
        return self.obj(STATE_CM)["data"]

    def writes(self):
        """Every write drwatch's steps made, in order: (time, fake, what, answered), what as
        "METHOD path body"; the state ConfigMap's are left out (drwatch's reports)."""
        out = []
        for w in get_json(self.k8s + "/activity"):
            path = w["path"].partition("?")[0]
            if path != STATE_CM:
                out.append((w["time"], "k8s", "%s %s %s" % (w["method"], path,
                                                             norm_body(w["body"])),
                            w["status"] is not None))
        for w in get_json(self.portal + "/activity"):
            out.append((w["time"], "portal", "PUT " + w["path"], w["status"] is not None))
        for w in get_json(self.tekton + "/activity"):
            out.append((w["at"], "tekton", "POST trigger %s" % w["status"], True))
        return sorted(out, key=lambda w: w[0])

    def settled(self):
        """The fakes have answered every write and their workloads are settled."""
        if not all(w[3] for w in self.writes()):
            return False
        for path in (DEPLOYMENTS % ("ops", HEALTH),
                     DEPLOYMENTS % ("gateway", "keycloak-maintenance-redirect-generic-api"), STS):
            o = self.obj(path)
            st, n = o.get("status") or {}, o["spec"].get("replicas", 1)
            if st.get("observedGeneration", 0) < o["metadata"]["generation"] or \
                    st.get("replicas", 0) != n or st.get("updatedReplicas", 0) != n or \
                    st.get("readyReplicas", 0) != n:
                return False
        return True

    def maintenance(self):
        """The portal's banner: the last PUT it took (it has no read)."""
        puts = [w for w in get_json(self.portal + "/activity") if w["status"] == 200]
        return puts[-1]["path"].endswith("/true") if puts else False

    def objects(self):
        """What the reference compares: the objects the plan changes."""
        dep = self.obj(DEPLOYMENTS % ("ops", HEALTH))
        runs = get_json(self.k8s + "/apis/tekton.dev/v1/namespaces/ops/pipelineruns?"
                        "labelSelector=tekton.dev%2Fpipeline%3Ddeploy")["items"]
        return {
            "health API replicas": dep["spec"]["replicas"],
            "health API ready": (dep.get("status") or {}).get("readyReplicas", 0),
            "PDB minAvailable": self.obj(PDB_PATH)["spec"]["minAvailable"],
            "tfvars": {k: base64.b64decode(v).decode()
                       for k, v in self.obj(SECRET_PATH)["data"].items()},
            "Keycloak selector": self.obj(SERVICES + "/keycloak-http")["spec"]["selector"],
            "portal maintenance": self.maintenance(),
            "last_stable_state": self.cm().get("last_stable_state"),
            "PipelineRuns": sorted({r["status"]["conditions"][0]["reason"] for r in runs}),
        }


# ---- the journal: data_dir/switchover.journal (run_journal.h, exporter/journal.h) ----
MAGIC = 0x4a575344
KINDS = {1: "start", 2: "begin", 3: "end", 4: "finish", 5: "note", 6: "timeline", 7: "mark"}


def journal(data_dir):
    """The whole records of the journal, in order, each its JSON with "type" added; a torn
    tail (a record being written) ends the list."""
    try:
        with open(os.path.join(data_dir, "switchover.journal"), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    out, pos = [], 0
    while pos + 24 <= len(data):
        magic, kind, length, crc, _ = struct.unpack_from("<IB3xIIQ", data, pos)
        body = data[pos + 24:pos + 24 + length]
        head = data[pos:pos + 12] + b"\0\0\0\0" + data[pos + 16:pos + 24]
        if magic != MAGIC or len(body) != length or zlib.crc32(head + body) != crc:
            break
        rec = json.loads(body)
        rec["type"] = KINDS.get(kind, "?")
        out.append(rec)
        pos += 24 + length
    return out


def has(recs, kind, step=None, rid=None):
    return any(r["type"] == kind and (step is None or r.get("step") == step) and
               (rid is None or r.get("id") == rid) for r in recs)


def where(recs, rid, kill_at):
    """Where the kill landed, from the journal the killed process left."""
    mine = [r for r in recs if r.get("id") == rid and "at" in r and r["at"] < kill_at]
    last = mine[-1] if mine else None
    if not last:
        return "before the start"
    if last["type"] in ("begin", "end", "mark"):
        return "after step %d's %s" % (last["step"] + 1, last["type"])
    return "after the " + last["type"]


def windows(recs, restart_at):
    """Each begin with its end: [(step, begin at, end at, result, process)], process 0 the
    killed one, 1 the one after it. A begin that the killed process never ended is closed at
    the restart (what the fakes received before it came from the killed process), result
    None."""
    out, open_ = [], None
    for r in recs:
        if r["type"] == "begin":
            if open_:
                out.append((open_["step"], open_["at"], restart_at, None, 0))
            open_ = r
        elif r["type"] == "end" and open_:
            out.append((r["step"], open_["at"], r["at"], r["result"],
                        0 if r["at"] < restart_at else 1))
            open_ = None
    if open_:
        out.append((open_["step"], open_["at"], restart_at, None, 0))
    return out


def per_step(ws, wins):
    """The writes of each window, by time: [(window, [what...])], and the writes in none."""
    got = [(win, []) for win in wins]
    stray = []
    for w in ws:
        home = next((g for g in got if g[0][1] <= w[0] <= g[0][2]), None)
        (home[1] if home else stray).append(w[1] + " " + w[2])
    return got, stray


# ---- drwatch ----

def state(dw):
    status, _, body = dw.get("/api/v1/state")
    return json.loads(body).get("state") if status == 200 else None


def plan(dw, rid):
    status, _, body = dw.get("/api/v1/plans/" + rid)
    return json.loads(body) if status == 200 else None


def ask(dw):
    status, _, body = dw.post("/api/v1/transition", json.dumps(
        {"to": "golddr-primary", "reason": "switchover_kill.t"}).encode(),
        headers={"Authorization": "Bearer %s" % dw.token})
    r = json.loads(body)
    return r.get("plan") if status == 202 and r.get("status") == "accepted" else None


def kill9(dw):
    dw.signal(signal.SIGKILL)
    dw.proc.wait()


def ended(dw, rid, timeout=30):
    return wait_for(lambda: (lambda p: p if p and p["status"] != "running" else None)(
        plan(dw, rid)), timeout=timeout)


class Round:
    """One run of a plan on a lane. Its TAP lines are kept, and printed in order once every
    round has run (rounds run two at a time)."""

    def __init__(self, lane, name, plans=PLANS):
        self.lane, self.name, self.lines = lane, name, []
        lane.reset()
        self.data = tmpdir()
        self.dw = Drwatch(lane.config(self.data, plans), name=name).start()
        if not wait_for(lambda: state(self.dw) == "active-passive", timeout=10):
            self.diag("drwatch never read active-passive from its ConfigMap")
        self.rid = ask(self.dw)

    def ok(self, cond, text):
        self.lines.append(("ok", bool(cond), text))
        return bool(cond)

    def is_(self, got, want, text):
        if not self.ok(got == want, text):
            self.diag("  got:  %r\n  want: %r" % (got, want))

    def diag(self, text):
        self.lines.append(("diag", None, text))

    def golddr_primary(self):
        return wait_for(lambda: state(self.dw) == "golddr-primary" and
                        self.dw.sample('drwatch_state{state="golddr-primary"}') == 1 and
                        self.lane.cm().get("last_stable_state") == "golddr-primary", timeout=10)

    def kill(self, landed):
        """Waits for landed() (polling the journal), kills drwatch, waits for the fakes to
        settle what it started, starts it again. Returns (whether it landed, the journal at the
        kill, when it was killed, when it started again)."""
        hit = wait_for(landed, timeout=30, step=0.005)
        kill9(self.dw)
        kill_at = time.time()
        at_kill = journal(self.data)
        if not wait_for(self.lane.settled, timeout=20):
            self.diag("the fakes did not settle after the kill")
        restart_at = time.time()
        self.dw.start()
        return hit, at_kill, kill_at, restart_at

    def flush(self):
        for kind, cond, text in self.lines:
            if kind == "ok":
                t.ok(cond, text)
            else:
                t.diag(text)


# ---- the reference: a run nobody kills ----
lanes = [Lane("a"), Lane("b")]
ref = Round(lanes[0], "reference")
p = ended(ref.dw, ref.rid)
ok_run = t.ok(p and p["status"] == "ok" and not p["resumed"],
              "the reference run finishes ok (%s)" % (p and p["status"]))
t.ok(p and [s["status"] for s in p["steps"]] == ["ok", "ok", "ok", "failed", "ok", "ok"] and
     "no peer is configured" in p["steps"][3]["detail"],
     "every step acts; tell_peer fails at once, no peer being configured, and the plan goes on "
     "(best-effort): %s" % (p and p["steps"][3]["detail"]))
t.ok(ref.golddr_primary(), "golddr-primary: the API, drwatch_state, last_stable_state")
REF_OBJECTS = lanes[0].objects()
ref_windows = windows(journal(ref.data), float("inf"))
by_step, stray = per_step(lanes[0].writes(), ref_windows)
REF = {win[0]: w for win, w in by_step}
t.ok(len(ref_windows) == 6 and not stray and all(REF[k] for k in (0, 1, 2, 4, 5)) and
     REF[3] == [], "each write of the reference falls in one step; every step but tell_peer "
     "writes")
for k, name in enumerate(STEPS):
    t.diag("reference step %d %s: %s" % (k + 1, name, "; ".join(REF.get(k, [])) or "nothing"))
t.diag("reference objects: %s" % json.dumps(REF_OBJECTS, sort_keys=True))
ref.flush()
ref.dw.stop()
if not ok_run or len(REF) != 6:
    t.diag(ref.dw.log()[-3000:])
    t.done()


# ---- what a step in doubt does again, as its check decides (see the top) ----

def found_done(k, before):
    """Whether step k's check finds it done after a kill that left its writes `before`."""
    name = STEPS[k]
    if name in ("tfvars", "health_api"):
        return before == REF[k]
    if name.startswith("maintenance"):
        return any(w.startswith("k8s PATCH " + SERVICES) for w in before)
    return False  # tell_peer: no peer to see; tekton_deploy: a deploy is never done already


def judge_writes(lane, recs, restart_at):
    """The writes of the run, step by step, against the reference and what the checks decide.
    Returns (problems, the step in doubt at the kill as (step, its writes before the kill, its
    result after) or None)."""
    by_step, stray = per_step(lane.writes(), windows(recs, restart_at))
    problems = ["a write in no step: %s" % w for w in stray]
    groups = {}
    for (step, _, _, result, proc), ws in by_step:
        groups.setdefault(step, []).append((result, proc, ws))
    if sorted(groups) != list(range(6)) or any(len(g) > 2 for g in groups.values()):
        problems.append("steps begun: %s" % {k: len(g) for k, g in groups.items()})
    doubt = None
    for step, g in sorted(groups.items()):
        if len(g) == 1:
            if g[0][2] != REF[step]:
                problems.append("step %d: %s, not the reference's %s" % (step + 1, g[0][2],
                                                                          REF[step]))
            continue
        (_, _, before), (result, _, again) = g[0], g[1]
        if before != REF[step][:len(before)]:
            problems.append("step %d before the kill: %s, not a start of %s"
                            % (step + 1, before, REF[step]))
        done = found_done(step, before)
        want_result = "already" if done else ("failed" if STEPS[step] == "tell_peer" else "ok")
        want = REF[step] if not done else \
            [w for w in REF[step] if w.startswith("portal PUT")]  # a maintenance check's PUT
        if STEPS[step] == "tekton_deploy" and any(w.startswith("tekton") for w in before):
            want = []  # it follows the run its trigger made before the kill
        if result != want_result or again != want:
            problems.append("step %d after the restart: %s with %s; the code guarantees %s "
                            "with %s (before the kill: %s)" % (step + 1, result, again,
                                                               want_result, want, before))
        doubt = (step, before, result)
    return problems, doubt


# ---- every kill point ----

def mid(k):
    """Step k has begun and its writes are in (tfvars': in flight, answered late)."""
    def landed(lane, data, rid):
        recs = journal(data)
        begin = next((r for r in recs if r["type"] == "begin" and r["step"] == k and
                      r["id"] == rid), None)
        if not begin:
            return False
        if has(recs, "end", k, rid) or not REF[k]:
            return True  # nothing to wait for (tell_peer), or it has ended already: late
        return len([w for w in lane.writes() if w[0] >= begin["at"]]) >= len(REF[k])
    return landed


def boundary(k):
    return lambda lane, data, rid: has(journal(data), "end", k, rid)


# What makes a point land where it is meant to: a slow write (in flight at the kill), or a
# slow first read of the next step (it has not acted at the kill).
SLOW = {("mid", 0): (SECRET_PATH, "PATCH", 500), ("end", 0): (SERVICES, "GET", 400),
        ("end", 1): (PDB_PATH, "GET", 400), ("end", 4): (SERVICES, "GET", 400)}


def kill_round(lane, kind, k):
    label = "%s step %d/6 %s" % ("mid" if kind == "mid" else "end of", k + 1, STEPS[k])
    r = Round(lane, "kill-%s-%d" % (kind, k))
    if (kind, k) in SLOW:
        lane.slow(*SLOW[(kind, k)])
    if not r.ok(r.rid, "%s: the request is accepted (%s)" % (label, r.rid)):
        r.dw.stop()
        return r
    landed = (mid if kind == "mid" else boundary)(k)
    hit, at_kill, kill_at, restart_at = r.kill(lambda: landed(lane, r.data, r.rid))
    if (kind, k) in SLOW:
        lane.normal(SLOW[(kind, k)][0])
    spot = where(at_kill, r.rid, kill_at)
    finished_before = has(at_kill, "finish", rid=r.rid)
    if finished_before:
        done = wait_for(lambda: state(r.dw) == "golddr-primary", timeout=10) and \
            "resuming" not in r.dw.log()
        detail = "had finished: not resumed"
    else:
        p = ended(r.dw, r.rid)
        done = p and p["status"] == "ok" and p["resumed"]
        detail = "resumed, %s" % (p and p["status"])
    r.resumed = bool(done and not finished_before)
    r.finished_before = bool(done and finished_before)
    recs = journal(r.data)
    starts = [x for x in recs if x["type"] == "start"]
    r.ok(hit and done and len(starts) == 1 and starts[0]["id"] == r.rid and
         has(recs, "finish", rid=r.rid),
         "%s: killed %s; the run %s (resumed runs: %d)" % (label, spot, detail, r.resumed))
    if not done:
        r.diag(r.dw.log()[-2000:])
    r.ok(r.golddr_primary(), "%s: golddr-primary (API, drwatch_state, last_stable_state)"
         % label)
    r.is_(lane.objects(), REF_OBJECTS, "%s: the objects are the reference's" % label)
    problems, doubt = judge_writes(lane, recs, restart_at)
    triggers = len([w for w in lane.writes() if w[1] == "tekton"])
    followed = bool(doubt and STEPS[doubt[0]] == "tekton_deploy" and
                    any(w.startswith("tekton") for w in doubt[1]))
    how = ""
    if doubt:
        how = ", step %d in doubt with %d of its %d writes: %s" % (
            doubt[0] + 1, len(doubt[1]), len(REF[doubt[0]]),
            "its check found it done, not acted again" if doubt[2] == "already" else
            "followed its trigger" if STEPS[doubt[0]] == "tekton_deploy" and followed else
            "acted again" if doubt[1] else "acted (it had not yet)")
    r.ok(not problems and triggers == 1,
         "%s: each step's writes as the reference's%s; %d trigger(s)" % (label, how, triggers))
    for line in problems:
        r.diag(line)
    r.summary = "%-30s killed %-22s %s%s" % (label, spot, detail, how)
    r.dw.stop()
    return r


# ---- the last run's report, cut off by a kill after its finish ----

def report_round(lane):
    """The ConfigMap refuses drwatch's writes (503) from the last step on, so that the kill
    after the finish record comes before the report is written, as a kill a moment after the
    finish can; the restart must write it (a regression: drwatch_progress said "step 6/6
    ...: running" and last_stable_state active-passive for good, while drwatch was
    golddr-primary)."""
    r = Round(lane, "kill-report")
    wait_for(lambda: has(journal(r.data), "begin", 5, r.rid), timeout=20, step=0.005)
    control(lane.k8s, "mode", {"path": STATE_CM, "method": "PATCH", "mode": "status",
                               "status": 503})
    hit = wait_for(lambda: has(journal(r.data), "finish", rid=r.rid), timeout=20, step=0.005)
    kill9(r.dw)
    lane.normal(STATE_CM)
    cm = lane.cm()
    r.ok(hit and cm.get("last_stable_state") == "active-passive" and
         cm.get("drwatch_progress", "").startswith("step "),
         "killed after the finish, its report not written: %s" % cm.get("drwatch_progress"))
    r.dw.start()
    done = "done: active-passive -> golddr-primary (run %s)" % r.rid
    r.ok(wait_for(lambda: lane.cm().get("drwatch_progress") == done, timeout=10) and
         r.golddr_primary(),
         "the restart writes it: %s, last_stable_state golddr-primary" % done)
    recs = journal(r.data)
    r.ok(len([x for x in recs if x["type"] == "start"]) == 1 and
         len([x for x in recs if x["type"] == "begin"]) == 6 and "resuming" not in r.dw.log(),
         "and resumes nothing: the run had finished")
    r.dw.stop()
    return r


# ---- a destructive step in doubt ----
SCALE = "k8s PATCH %s/scale " % STS


def rebuild_writes(lane):
    return [w[1] + " " + w[2] for w in lane.writes()
            if w[1] == "k8s" and ("/gateway/statefulsets/" in w[2] or "/gateway/persistent" in
                                  w[2] or "/gateway/configmaps/patroni-spilo" in w[2])]


def rebuild_kill(lane, name, replicas):
    """A run of the rebuild plan killed once the rebuild has scaled the StatefulSet to
    replicas: (the round, the rebuild's writes before the restart)."""
    r = Round(lane, name, REBUILD_PLANS)
    r.ok(r.rid, "%s: a plan with a destructive patroni_rebuild, accepted (%s)" % (name, r.rid))
    scaled = SCALE + '{"spec": {"replicas": %d}}' % replicas
    hit, at_kill, kill_at, _ = r.kill(lambda: has(journal(r.data), "begin", 2, r.rid) and any(
        w.startswith(scaled) for w in rebuild_writes(lane)))
    before = rebuild_writes(lane)
    r.ok(hit and not has(at_kill, "end", 2, r.rid),
         "%s: killed mid-rebuild (%s, %d of its writes in)"
         % (name, where(at_kill, r.rid, kill_at), len(before)))
    return r, before


def rebuild_early(lane):
    """Killed while the StatefulSet goes to 0: its check cannot find the rebuild done."""
    r, before = rebuild_kill(lane, "destructive-early", 0)
    p = ended(r.dw, r.rid)
    r.ok(p and p["status"] == "stopped" and p["resumed"] and
         "destructive step patroni_rebuild was in progress at a restart" in p["detail"] and
         "maintenance stays on" in p["detail"],
         "after the restart the run stops, saying why (%s)" % (p and p["detail"]))
    recs = journal(r.data)
    fin = [x for x in recs if x["type"] == "finish" and x["id"] == r.rid]
    r.ok(fin and fin[0]["result"] == "stopped" and
         not [x for x in recs if x["type"] == "begin" and x["step"] == 3],
         "journaled as stopped; the step after it never began")
    r.ok(wait_for(lambda: lane.cm().get("drwatch_progress", "").startswith(
        "stopped: destructive step patroni_rebuild"), timeout=10),
        "drwatch_progress says so: %s" % lane.cm().get("drwatch_progress"))
    r.is_(rebuild_writes(lane), before, "nothing of the rebuild is written again")
    r.ok(lane.maintenance() and lane.obj(SERVICES + "/keycloak-http")["spec"]["selector"].get(
        "app") == "keycloak-maintenance-page",
        "maintenance is left on: the portal's banner and the Service")
    r.ok(wait_for(lambda: state(r.dw) == "active-passive" and
                  r.dw.sample('drwatch_state{state="active-passive"}') == 1) and
         lane.cm().get("last_stable_state") == "active-passive",
         "the state stays active-passive")
    r.dw.stop()
    return r


def rebuild_late(lane):
    """Killed once the rebuild scaled back and waits for the standby: once the world is
    observed its check finds it done (the env points at gold, the StatefulSet settled, Patroni
    a healthy standby), and the run goes on. (A regression: the resume came before the first
    observation, the check saw no Patroni, and the run stopped.)"""
    r, before = rebuild_kill(lane, "destructive-late", 3)
    p = ended(r.dw, r.rid)
    step = p and p["steps"][2]
    r.ok(p and p["status"] == "ok" and p["resumed"] and step["status"] == "already",
         "after the restart its check finds the rebuild done, and the run finishes ok (%s)"
         % (step and "%s: %s" % (step["status"], step["detail"])))
    r.is_(rebuild_writes(lane), before, "nothing of the rebuild is written again")
    r.ok(r.golddr_primary() and not lane.maintenance(), "golddr-primary, maintenance off")
    r.dw.stop_clean(r)
    return r


# ---- two lanes, each a list of rounds; the TAP lines in this order ----
JOBS = [(kill_round, kind, k) for k in range(6) for kind in ("mid", "end")] + \
    [(report_round,), (rebuild_early,), (rebuild_late,)]
results = [None] * len(JOBS)


def lane_worker(lane, first):
    for i in range(first, len(JOBS), 2):
        fn, *args = JOBS[i]
        try:
            results[i] = fn(lane, *args)
        except Exception as e:  # a round that broke: say so, go on with the others
            results[i] = e


threads = [threading.Thread(target=lane_worker, args=(lane, i)) for i, lane in enumerate(lanes)]
for th in threads:
    th.start()
for th in threads:
    th.join()
resumed = finished = 0
for (fn, *args), r in zip(JOBS, results):
    if isinstance(r, Exception):
        t.ok(False, "%s%s raised %r" % (fn.__name__, tuple(args), r))
        continue
    r.flush()
    resumed += getattr(r, "resumed", False)
    finished += getattr(r, "finished_before", False)
t.diag("kill points:\n" + "\n".join(r.summary for r in results if hasattr(r, "summary")))
t.ok(resumed + finished == 12 and finished <= 1,
     "%d of 12 kill points left a run to resume, and each resumed and finished ok; %d came "
     "after the finish (at most the last step's end can)" % (resumed, finished))
t.diag("took %.0fs" % (time.time() - began))
t.done()
