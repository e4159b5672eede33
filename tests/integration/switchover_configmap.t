#!/usr/bin/env python3
"""The switchover-state ConfigMap as drwatch's operator interface (switchover/state_configmap.h)
on a running drwatch (site golddr, a switchover section with this site's Kubernetes API) against
tests/fakes/k8s_fake.py holding the old agent's objects. A person writes `transition` with
kubectl (a merge-patch to the fake when kubectl is absent), and drwatch:
- answers within a second, from its watch: the answer's PATCH comes before any read of the
  ConfigMap would (no GET between the person's write and it, well under the 1 s poll), carries
  the resourceVersion it saw, clears transition and says what was asked, the answer and when;
- refuses golddr-primary from independent with the reason, a value that is no transition with
  the reason, and answers "nothing to do" for the label it already has (§1.1: not judged);
- on a 409 reads the ConfigMap again and answers with the new version, judging once;
- runs active-passive-force as break-glass: accepted with the run id, drwatch_progress
  following the steps (one write per change) to the failure of patroni_demote (no Patroni
  here), last_stable_state untouched; with a plan file whose break-glass plan the fake can
  carry out, the run completes and last_stable_state and its timestamp are written in the old
  format, drwatch_progress says done;
- when the watch ends and its version is too old (410) lists again, and when the stream
  drops reads every second and lists again: each time the next request is answered within the
  deadline, exactly once; without the watch permission it keeps answering by reading;
- logs a ConfigMap without data (the bootstrap case) and a missing one once each, never
  creates it, and answers a request in the re-created one;
- counts each judged request once (drwatch_transition_requests_total{source="configmap"})."""
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from drwatch_test import Drwatch, Tap, start_fake, tmpdir, wait_for  # noqa: E402
from fakebase import control  # noqa: E402

t = Tap()
work = tmpdir()
port = start_fake("k8s_fake.py", os.path.join(work, "k8s.log"), "--delay-ms", "20")
URL = "http://127.0.0.1:%d" % port
CM = "/api/v1/namespaces/ops/configmaps/switchover-state-dev"
KUBECTL = shutil.which("kubectl")
ENV = dict(os.environ, KUBECONFIG=os.devnull, HOME=work)
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
LABELS = {"app": "switchover", "env": "dev", "name": "switchover-config"}


def api(method, path, body=None):
    req = urllib.request.Request(URL + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/merge-patch+json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


def data():
    return api("GET", CM).get("data") or {}


def set_cm(d):
    """The ConfigMap as a test sets it up, replaced whole (None: deleted)."""
    if d is None:
        return control(URL, "state", {"delete_configmap": ["ops", "switchover-state-dev"]})
    cm = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {
        "name": "switchover-state-dev", "namespace": "ops", "labels": LABELS}}
    if d:
        cm["data"] = d
    control(URL, "state", {"objects": [cm]})


def person(value, how="kubectl"):
    """A person writes transition = value: with kubectl when there is one, or as an edit that
    is not a PATCH (how="edit": the fake's control, so that a PATCH mode spares it)."""
    patch = json.dumps({"data": {"transition": value}})
    if how == "edit":
        cur = api("GET", CM)
        cur["data"] = dict(cur.get("data") or {}, transition=value)
        for k in ("resourceVersion", "uid", "creationTimestamp"):
            cur["metadata"].pop(k, None)
        control(URL, "state", {"objects": [cur]})
    elif KUBECTL:
        r = subprocess.run([KUBECTL, "--server", URL, "--cache-dir", os.path.join(work, "cache"),
                            "-n", "ops", "patch", "configmap", "switchover-state-dev", "--type",
                            "merge", "-p", patch], capture_output=True, text=True, env=ENV,
                           timeout=30)
        if r.returncode != 0:
            t.diag("kubectl: " + r.stderr)
    else:
        api("PATCH", CM, {"data": {"transition": value}})


def activity():
    with urllib.request.urlopen(URL + "/activity", timeout=5) as r:
        return json.loads(r.read())


def requests():
    with urllib.request.urlopen(URL + "/__fake/requests", timeout=5) as r:
        return json.loads(r.read())


def drwatch_writes(since=0):
    """drwatch's PATCHes of the ConfigMap since activity index `since` (they carry a
    resourceVersion; a person's do not)."""
    return [w for w in activity()[since:]
            if w["path"].partition("?")[0] == CM and w["method"] == "PATCH" and
            isinstance(w["body"], dict) and
            (w["body"].get("metadata") or {}).get("resourceVersion")]


def answers(value, since):
    return [w for w in drwatch_writes(since)
            if (w["body"].get("data") or {}).get("drwatch_request") == value and
            w["status"] == 200]


def ask(value, timeout=5, how="kubectl"):
    """A person asks for value; waits for drwatch's answer. Returns (the ConfigMap's data after
    it, seconds from the person's write to drwatch's answer, the answer writes, the activity
    index of the person's write)."""
    since = len(activity())
    t0 = time.time()
    person(value, how)
    got = wait_for(lambda: answers(value, since), timeout=timeout)
    if not got:
        return data(), None, [], since
    mine = next((w for w in activity()[since:] if w["path"].partition("?")[0] == CM and
                 w["method"] == "PATCH"), None)
    return data(), got[0]["time"] - (mine["time"] if mine and how != "edit" else t0), got, since


def metric(series):
    return dw.sample(series) or 0


def counted(to, result):
    return metric('drwatch_transition_requests_total{result="%s",source="configmap",to="%s"}'
                  % (result, to))


def lists():
    return sum(1 for r in requests() if "fieldSelector" in r["path"] and "watch" not in r["path"])


def relist():
    """Makes drwatch read the ConfigMap again (its watch ends, and the version it would go on
    from is too old) and waits until it watches again."""
    n = lists()
    control(URL, "state", {"compact": True})
    control(URL, "state", {"watch_end": True})
    return wait_for(lambda: lists() > n and metric("drwatch_switchover_configmap_watch_up") == 1)


def config(plans_file=None):
    return """
drwatch = { site = "golddr", interval = "1s", fast_interval = "1s" }
switchover = {
  data_dir = "%s", env = "dev",%s
  kubernetes = { site = "golddr", url = "%s", namespace = "ops" },
  namespaces = { tools = "ops", solution = "gateway" },
}
""" % (os.path.join(work, "journal"), ' plans_file = "%s",' % plans_file if plans_file else "",
       URL)


os.mkdir(os.path.join(work, "journal"))

# ---- bootstrap: a ConfigMap without data ----
set_cm({})
dw = Drwatch(config(), name="switchover-configmap").start()
t.ok(wait_for(lambda: metric("drwatch_switchover_configmap_watch_up") == 1),
     "drwatch lists the ConfigMap and watches it")
reqs = [r["path"] for r in requests() if "configmaps" in r["path"]]
t.ok(any("fieldSelector=metadata.name%3Dswitchover-state-dev" in p and "watch=true" not in p
         for p in reqs) and
     any("watch=true" in p and "allowWatchBookmarks=true" in p and "resourceVersion=" in p
         for p in reqs),
     "a list (fieldSelector on the name) for the version, then a watch from it with bookmarks")
BOOT = "has no data: the old agent's bootstrap case"
t.ok(wait_for(lambda: BOOT in dw.log()), "a ConfigMap without data is logged as the bootstrap case")
api("PATCH", CM, {"metadata": {"annotations": {"note": "still no data"}}})
t.ok(relist(), "drwatch reads it again (a change, then a list after a 410)")
t.is_(dw.log().count(BOOT), 1, "logged once: reading it again without data logs nothing more")
t.ok("transition" not in data() and not drwatch_writes(),
     "drwatch writes nothing into it (an empty label reads as independent)")
api("PATCH", CM, {"data": {"last_stable_state": "independent", "transition": ""}})

# ---- a refusal, from the watch ----
d, took, got, since = ask("golddr-primary")
t.ok(got and d.get("transition") == "" and d.get("drwatch_request") == "golddr-primary" and
     d.get("drwatch_answer", "").startswith("refused: independent cannot go to golddr-primary") and
     RFC3339.match(d.get("drwatch_answered_at", "")),
     "golddr-primary from independent: refused with the reason, transition cleared (%s)"
     % d.get("drwatch_answer"))
t.ok(took is not None and took < 0.5,
     "answered %.0f ms after the person's write: faster than the 1 s poll fallback could"
     % ((took if took is not None else 9) * 1000))
seq = requests()
write_at = next(i for i in range(len(seq) - 1, -1, -1)
                if seq[i]["method"] == "PATCH" and "drwatch" not in seq[i]["headers"].get(
                    "User-Agent", ""))
answer_at = next(i for i in range(write_at, len(seq)) if seq[i]["method"] == "PATCH" and
                 "drwatch" in seq[i]["headers"].get("User-Agent", ""))
t.ok(not any(r["method"] == "GET" and "watch=true" not in r["path"] and "configmaps" in r["path"]
             for r in seq[write_at:answer_at]),
     "no read of the ConfigMap between the write and the answer: the watch delivered it")
t.ok(got and got[0]["body"]["metadata"]["resourceVersion"] and got[0]["status"] == 200,
     "the answer carried the resourceVersion it saw, and it was current (200, not 409): %s"
     % got[0]["body"]["metadata"])
t.ok(wait_for(lambda: counted("golddr-primary", "refused") == 1),
     "judged once through the front door: counted as a configmap request, refused")
t.ok("ConfigMap ops/switchover-state-dev asks for golddr-primary: refused" in dw.log(),
     "and logged with the answer")

d, took, got, since = ask("independent")
t.ok(got and d.get("transition") == "" and
     d.get("drwatch_answer") == "nothing to do: last_stable_state is independent already",
     "transition equal to last_stable_state: nothing to do, cleared (%s)" % d.get("drwatch_answer"))
t.ok(counted("independent", "refused") == 0 and counted("other", "refused") == 0,
     "and not judged (the old agent's rule, §1.1)")
d, took, got, since = ask("please-failover")
t.ok(got and d.get("transition") == "" and
     d.get("drwatch_answer", "").startswith('refused: "please-failover" is not a transition'),
     "a value that is no transition: refused with the reason (%s)" % d.get("drwatch_answer"))

# ---- a 409: read again, decide again, judged once ----
control(URL, "mode", {"path": CM, "method": "PATCH", "mode": "status", "status": 409,
                      "count": 1})
before = counted("golddr-primary", "refused")
d, took, got, since = ask("golddr-primary", how="edit")
writes = drwatch_writes(since)
t.ok(got and len(writes) >= 2 and writes[0]["status"] == 409 and d.get("transition") == "" and
     wait_for(lambda: counted("golddr-primary", "refused") == before + 1) and
     counted("golddr-primary", "refused") == before + 1,
     "a 409 on the answer: read again and written again, the request judged once (%s)"
     % [w["status"] for w in writes])
t.ok(any(r["method"] == "GET" and r["path"] == CM for r in requests()),
     "the read again is a GET of the ConfigMap")

# ---- break-glass with the default plans: fails at patroni_demote ----
d, took, got, since = ask("active-passive-force")
run = re.match(r"accepted: run (golddr-\S+): break-glass", got[0]["body"]["data"]
               ["drwatch_answer"]) if got else None
t.ok(run is not None, "active-passive-force: accepted with the run id (%s)"
     % (got[0]["body"]["data"]["drwatch_answer"] if got else None))
t.ok(wait_for(lambda: data().get("drwatch_progress", "").startswith("failed at step 2/3 "
                                                                    "patroni_demote: ")),
     "drwatch_progress says where it failed: %s" % data().get("drwatch_progress"))
progress = [w["body"]["data"]["drwatch_progress"] for w in drwatch_writes(since)
            if "drwatch_progress" in (w["body"].get("data") or {})]
t.ok(progress and progress[0].startswith("step 1/3 tfvars: running") and
     all(a != b for a, b in zip(progress, progress[1:])),
     "the progress writes follow the steps, one per change: %s" % progress)
d = data()
t.ok(d.get("last_stable_state") == "independent" and "last_stable_state_ts" not in d,
     "a failed run leaves last_stable_state alone")
t.ok(wait_for(lambda: counted("active-passive-force", "accepted") == 1), "counted as accepted")

# ---- a plan that completes: last_stable_state in the old format ----
plans = open(os.path.join(os.path.dirname(__file__), "..", "..", "switchover", "plans",
                          "default.lua")).read()
golddr_force = plans.index('plan { site = "golddr", from = "force"')
plans = plans[:golddr_force] + plans[golddr_force:].replace(
    '    step { "patroni_demote", follow = "gold" },\n', "", 1)
with open(os.path.join(work, "plans.lua"), "w") as f:
    f.write(plans)
dw.write_config(config(os.path.join(work, "plans.lua")))
st, _, out = dw.reload()
t.is_(st, 200, "a reload with a plan file whose golddr break-glass plan the fake can carry out")
t.ok(wait_for(lambda: metric("drwatch_switchover_configmap_watch_up") == 1),
     "the remade switchover part watches the ConfigMap again")
d, took, got, since = ask("active-passive-force")
t.ok(wait_for(lambda: data().get("drwatch_progress", "").startswith("done: independent -> "
                                                                    "active-passive (run ")),
     "the run completes: %s" % data().get("drwatch_progress"))
d = data()
t.ok(d.get("last_stable_state") == "active-passive" and
     RFC3339.match(d.get("last_stable_state_ts", "")) and d.get("transition") == "",
     "last_stable_state active-passive, last_stable_state_ts %s (UTC, seconds, Z)"
     % d.get("last_stable_state_ts"))
d, took, got, since = ask("active-passive-force")
t.ok(got and d.get("drwatch_answer", "").startswith("accepted: run "),
     "break-glass again from active-passive: still accepted (%s)" % d.get("drwatch_answer"))
wait_for(lambda: data().get("drwatch_progress", "").startswith("done: "))

# ---- the watch ends and its version is too old (410): list again ----
gone = metric('drwatch_switchover_configmap_errors_total{call="watch",reason="gone"}')
t.ok(relist(), "when the watch ends and the version it goes on from is too old, drwatch lists "
     "again and watches from the new version")
t.ok(wait_for(lambda: metric('drwatch_switchover_configmap_errors_total{call="watch",'
                             'reason="gone"}') > gone),
     "the 410 is counted (reason gone)")
# From here this site is active-passive (its journal): gold-standby is refused from it.
before = counted("gold-standby", "refused")
d, took, got, since = ask("gold-standby")
t.ok(got and len(got) == 1 and d.get("transition") == "" and took < 0.5 and
     d.get("drwatch_answer", "").startswith("refused: active-passive cannot go to gold-standby") and
     wait_for(lambda: counted("gold-standby", "refused") == before + 1),
     "and answers the next request at once (%.0f ms), once"
     % ((took if took is not None else 9) * 1000))

# ---- the stream drops: read every second, list again ----
control(URL, "state", {"watch_close": True})
before = counted("gold-standby", "refused")
d, took, got, since = ask("gold-standby")
t.ok(got and d.get("transition") == "" and took < 3,
     "a request written as the stream drops is answered within the deadline (%.1f s)"
     % (took if took is not None else 99))
n = lists()
t.ok(wait_for(lambda: lists() > n and metric("drwatch_switchover_configmap_watch_up") == 1),
     "and lists again and watches")
t.ok(len(answers("gold-standby", since)) == 1 and
     wait_for(lambda: counted("gold-standby", "refused") == before + 1),
     "the request was answered exactly once, whether a read or the new watch saw it first")

# ---- without the watch permission: it keeps answering by reading ----
control(URL, "state", {"rbac": ['"" configmaps get', '"" configmaps list',
                                '"" configmaps patch']})
control(URL, "state", {"watch_end": True})
t.ok(wait_for(lambda: metric('drwatch_switchover_configmap_errors_total{call="watch",'
                             'reason="http_403"}') >= 1 and
              metric("drwatch_switchover_configmap_watch_up") == 0),
     "a watch that is forbidden: 403 counted, watch_up 0")
d, took, got, since = ask("gold-standby")
t.ok(got and d.get("transition") == "" and took < 3,
     "a request is still answered, by reading every second (%.1f s)"
     % (took if took is not None else 99))
control(URL, "state", {"rbac": ['"" configmaps get', '"" configmaps list',
                                '"" configmaps watch', '"" configmaps patch']})
t.ok(wait_for(lambda: metric("drwatch_switchover_configmap_watch_up") == 1, timeout=40),
     "with the four permissions of the state ConfigMap (get, list, watch, patch), it watches")
control(URL, "state", {"rbac": None})

# ---- deleted and re-created ----
set_cm(None)
MISSING = "ConfigMap ops/switchover-state-dev does not exist: drwatch never creates it"
t.ok(wait_for(lambda: MISSING in dw.log()), "a deleted ConfigMap is logged")
t.ok(relist(), "drwatch reads it again: the list is empty")
t.ok(dw.log().count(MISSING) == 1 and
     not any(w["method"] == "POST" for w in activity()),
     "logged once, and drwatch does not create it")
before = counted("gold-standby", "refused")
since = len(activity())
set_cm({"last_stable_state": "active-passive", "transition": "gold-standby"})
t.ok(wait_for(lambda: data().get("transition") == "" and answers("gold-standby", since)),
     "re-created holding a request: it is answered (%s)" % data().get("drwatch_answer"))
t.ok(wait_for(lambda: counted("gold-standby", "refused") == before + 1), "judged once")
t.ok("ConfigMap ops/switchover-state-dev exists" in dw.log(), "its return is logged")
dw.stop_clean(t)
t.done()
