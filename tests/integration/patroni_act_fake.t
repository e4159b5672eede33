#!/usr/bin/env python3
"""The Patroni actuators (switchover/act_patroni.c) through the executor (tests/tools/act_step)
against fakes, for what the real lab (patroni_switch.t) cannot be made to do: this site's
Patroni is tests/fakes/patroni_fake.py (3.0.2, basic auth on PATCH), its Kubernetes API
tests/fakes/k8s_fake.py holding the env-vars ConfigMap.

Proves: a step without its settings fails "not configured" before any request; what goes on
the wire (basic auth on PATCH only, never to the leader's api_url; the standby_cluster and the
ConfigMap merge patch); no Kubernetes is a note, not a failure; every failure of Patroni (401,
409, 503, garbage, an unapplied PATCH, a hang past the target's timeout, an unreadable password
file, a malformed /cluster) and of Kubernetes (RBAC) fails the step with what was seen; a leader
that stays stopped fails the demotion at stall_timeout; promotion's PATCH and ConfigMap."""
import base64
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
import act_step  # noqa: E402
from drwatch_test import Tap, http, start_fake, tmpdir  # noqa: E402
from fakebase import control  # noqa: E402

t = Tap()
if not os.access(act_step.TOOL, os.X_OK):
    t.ok(False, "%s is built (make tests-build)" % act_step.TOOL)
    t.done()
D = tmpdir()
P = "http://127.0.0.1:%d" % start_fake("patroni_fake.py", os.path.join(D, "patroni.log"),
                                       "--version", "3.0.2", "--role", "primary", "--name",
                                       "gold1", "--scope", "gold")
K = "http://127.0.0.1:%d" % start_fake("k8s_fake.py", os.path.join(D, "k8s.log"))
PW = os.path.join(D, "password")
with open(PW, "w") as f:
    f.write("apipass\n")
BAD_PW = os.path.join(D, "wrong")
with open(BAD_PW, "w") as f:
    f.write("nope\n")
AUTH = "Basic " + base64.b64encode(b"patroni:apipass").decode()
NS, CM = "abc-prod", "patroni-spilo-env-vars"


def reset(role="primary"):
    control(P, "reset")
    state = {"auth": AUTH}
    if role == "standby_leader":
        state.update(role=role, config={"ttl": 30, "standby_cluster": {
            "host": "10.0.0.9", "port": 5432, "primary_slot_name": "gold"}})
    control(P, "state", state)
    control(K, "reset")
    control(K, "state", {"configmaps": [{
        "kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": CM, "namespace": NS},
        "data": {"STANDBY_HOST": "10.0.0.9" if role == "standby_leader" else "",
                 "STANDBY_PORT": "5432" if role == "standby_leader" else ""}}]})


def requests(base, method=None):
    _, _, body = http("GET", base + "/__fake/requests")
    return [r for r in json.loads(body) if method is None or r["method"] == method]


def run(action="patroni_demote", *extra, patroni=True, standby=True, k8s=True, password=PW):
    # --no-watch: every request the fakes see is the actuator's, none the tool's own.
    args = ["--site", "gold", "--action", action, "--timeout", "20s", "--data-dir", tmpdir(),
            "--no-watch"]
    if patroni:
        args += ["--patroni", P, "--user", "patroni", "--password-file", password]
    if k8s:
        args += ["--k8s", K, "--namespace", NS]
    if action == "patroni_demote":
        args += ["--follow", "golddr", "--slot", "gold"]
        if standby:
            args += ["--standby-host", "pg-golddr.example", "--standby-port", "5433"]
    out = act_step.run(args + list(extra), timeout=60)
    t.diag(str(out))
    return out


def failed(out, want, what, phases=None):
    t.ok(out.result == "failed" and out.step_result == "failed" and want in out.step_detail,
         "%s: the step fails with what was seen (%s)" % (what, out.step_detail))
    if phases is not None:
        t.is_(out.phases, phases, "%s: after %s" % (what, " ".join(phases)))


# ---- settings ----
reset()
failed(run(patroni=False), "patroni_demote: not configured: the switchover section has no patroni",
       "no patroni settings", ["check"])
failed(run(standby=False), "not configured: the switchover section has no standby",
       "a demotion without the other site's primary", ["check"])
t.is_(requests(P), [], "nothing was asked of Patroni")

# ---- a demotion, and what goes on the wire ----
out = run()
t.ok(out.result == "ok" and out.phases[:3] == ["check", "act", "poll"],
     "demoted through check, act, poll")
patch = requests(P, "PATCH")
t.is_(len(patch), 1, "one PATCH /config")
t.is_(json.loads(patch[0]["body"]),
      {"standby_cluster": {"host": "pg-golddr.example", "port": 5433, "primary_slot_name": "gold",
                           "restore_command": None, "create_replica_methods": ["basebackup"]}},
      "its body: the standby_cluster to follow")
t.is_((patch[0]["headers"].get("Authorization"), patch[0]["headers"].get("Content-Type")),
      (AUTH, "application/json"), "with basic auth from the password file, as JSON")
gets = requests(P, "GET")
t.ok(gets and all("Authorization" not in r["headers"] for r in gets),
     "no GET carries credentials, the leader's api_url (/patroni) included (%s)"
     % sorted({r["path"] for r in gets}))
kp = requests(K, "PATCH")
t.is_([(r["path"], r["headers"].get("Content-Type"), json.loads(r["body"])) for r in kp],
      [("/api/v1/namespaces/%s/configmaps/%s" % (NS, CM), "application/merge-patch+json",
        {"data": {"STANDBY_HOST": "pg-golddr.example", "STANDBY_PORT": "5433"}})],
      "the env ConfigMap merge-patched with STANDBY_HOST/STANDBY_PORT as strings")
out = run()
t.ok(out.step_result == "already" and out.phases == ["check"] and
     len(requests(P, "PATCH")) == 1 and len(requests(K, "PATCH")) == 1,
     "again: check finds it done, no PATCH anywhere")

reset()
out = run(k8s=False)
t.ok(out.result == "ok" and
     "no Kubernetes configured: env ConfigMap not updated" in out.step_detail,
     "without Kubernetes: done, with a note (%s)" % out.step_detail)
t.is_(requests(K), [], "and the Kubernetes API was not asked")

# ---- Patroni's failures ----
for knob, want, what in [
        ({"status": 409}, "Patroni answered 409, its DCS changed under the request",
         "PATCH 409"),
        ({"status": 503}, "Patroni answered 503, the config key is missing from its DCS",
         "PATCH 503"),
        ({"garbage": True}, "PATCH /config's answer: not JSON", "PATCH garbage"),
        ({"ignore": True}, "PATCH /config answered 200, but the new config has no "
         "standby_cluster", "PATCH not applied")]:
    reset()
    control(P, "state", {"patch": knob})
    failed(run(), want, what, ["check", "act"])
    t.is_(requests(K, "PATCH"), [], "%s: the ConfigMap is left alone" % what)

reset()
control(P, "state", {"patch": {"hang": True}})
out = run("patroni_demote", "--patroni-timeout", "1000")
failed(out, "PATCH /config: no answer from Patroni (timeout", "PATCH hangs")
t.ok(out.seconds < 10, "within the target's 1s timeout, not the step's 20s (%.1fs)" % out.seconds)

reset()
failed(run(password=BAD_PW), "Patroni answered 401, refused: check patroni.username and "
       "password_file", "a wrong password")
failed(run(password=os.path.join(D, "missing")), "password_file %s: No such file"
       % os.path.join(D, "missing"), "an unreadable password file")
t.is_(requests(P, "PATCH") and [r["headers"].get("Authorization") for r in requests(P, "PATCH")],
      ["Basic " + base64.b64encode(b"patroni:nope").decode()],
      "only the wrong password was sent; an unreadable file sends nothing")

reset()
control(P, "mode", {"path": "/cluster", "mode": "garbage"})
failed(run(), "GET /cluster: not JSON", "a /cluster of random bytes", ["check"])

# ---- Kubernetes' failures ----
reset()
control(K, "state", {"forbidden": [["patch", "configmaps"]]})
failed(run(), "PATCH the env ConfigMap %s/%s:" % (NS, CM), "the ConfigMap PATCH forbidden")
t.is_((len(requests(P, "PATCH")), len(requests(K, "PATCH"))), (1, 1),
      "after Patroni's PATCH, the ConfigMap's was tried once")

# ---- a leader that stays stopped ----
reset()
control(P, "state", {"node_state": "stopped"})
out = run("patroni_demote", "--stall-timeout", "2000")
failed(out, "no demotion after 2s", "a leader that stays stopped")
t.ok("gold1's PostgreSQL is stopped" in out.step_detail and out.seconds < 15,
     "saying it is stopped, after the bound, not the step's deadline (%.1fs)" % out.seconds)

# ---- a promotion ----
reset("standby_leader")
out = run("patroni_promote")
t.ok(out.result == "ok" and out.phases[:2] == ["check", "act"], "promoted (%s)" % out.step_detail)
t.is_([r["body"] for r in requests(P, "PATCH")], ['{"standby_cluster":null}'],
      "PATCH /config {\"standby_cluster\": null}")
t.is_([json.loads(r["body"]) for r in requests(K, "PATCH")],
      [{"data": {"STANDBY_HOST": "", "STANDBY_PORT": ""}}], "the env ConfigMap blanked")
out = run("patroni_promote")
t.ok(out.step_result == "already" and out.phases == ["check"], "again: already done")
t.done()
