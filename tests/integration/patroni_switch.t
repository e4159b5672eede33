#!/usr/bin/env python3
"""The Patroni actuators (switchover/act_patroni.c) against a real lab (tests/lib/patroni_lab.py:
etcd, a gold primary cluster gold1 + gold2, a golddr standby cluster golddr1), each step run
through the executor by tests/tools/act_step with the real actuator table. Each site has its
own fake Kubernetes API (tests/fakes/k8s_fake.py) holding Patroni's env-vars ConfigMap.

Proves:
  0. the executor's promotion guard holds promote's act back while gold is writable (refused,
     no PATCH: golddr's DCS config is untouched);
  1. the planned failover: gold demoted to a standby cluster following golddr (both read-only
     for a moment), golddr promoted, gold (and gold2 behind it) replicating from golddr, with
     pg_is_in_recovery() of both sites read after each step and the env ConfigMaps following;
  2. idempotence: demote and promote again find it done in check and change nothing (the DCS
     config key's mod_revision and the ConfigMap PATCH count stay as they were);
  3. the way back: golddr demoted to follow gold, gold promoted, replication gold -> golddr;
  4. never two writable primaries through 0-3: a thread samples both clusters every 200 ms,
     /cluster's leader role and the leader's own document (pg_is_in_recovery() as Patroni
     reads it), and fails if both sites are ever writable at once;
  5. a demotion Patroni cannot complete fails its step with that detail once stall_timeout has
     passed: golddr promoted while gold is cut off (the guard's unreachable case), gold writes
     on (diverged timelines), then gold is demoted with use_pg_rewind off: it turns read-only
     but cannot stream from golddr.
"""
import base64
import json
import os
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
import act_step  # noqa: E402
from drwatch_test import Tap, http, start_fake, tmpdir, wait_for  # noqa: E402
from fakebase import control  # noqa: E402
from patroni_lab import API_PASS, API_USER, PatroniLab  # noqa: E402

t = Tap()
T0 = time.time()
if not os.access(act_step.TOOL, os.X_OK):
    t.ok(False, "%s is built (make tests-build)" % act_step.TOOL)
    t.done()
lab = PatroniLab(nodes=("gold1", "gold2", "golddr1"))
try:
    lab.start()
except Exception as e:  # noqa: BLE001 - report the lab's failure as a test failure
    t.ok(False, "the lab starts: %s" % e)
    t.done()
t.ok(True, "lab up in %.1fs" % lab.timings["all streaming"])

D = tmpdir()
PASSWORD = os.path.join(D, "patroni-password")
with open(PASSWORD, "w") as f:
    f.write(API_PASS + "\n")
NS, CM = "abc-prod", "patroni-spilo-env-vars"
LEADER = {"gold": "gold1", "golddr": "golddr1"}
OTHER = {"gold": "golddr", "golddr": "gold"}


def configmap(standby_host, standby_port):
    return {"kind": "ConfigMap", "apiVersion": "v1",
            "metadata": {"name": CM, "namespace": NS},
            "data": {"STANDBY_HOST": standby_host, "STANDBY_PORT": standby_port,
                     "SCOPE": "patroni-spilo"}}


K8S = {}
for site in ("gold", "golddr"):
    port = start_fake("k8s_fake.py", os.path.join(D, "k8s-%s.log" % site))
    K8S[site] = "http://127.0.0.1:%d" % port
control(K8S["gold"], "state", {"configmaps": [configmap("", "")]})
control(K8S["golddr"], "state",
        {"configmaps": [configmap("127.0.0.1", str(lab.pg_port("gold1")))]})


def env_of(site):
    _, _, body = http("GET", "%s/api/v1/namespaces/%s/configmaps/%s" % (K8S[site], NS, CM))
    d = json.loads(body)["data"]
    return d.get("STANDBY_HOST"), d.get("STANDBY_PORT")


def cm_patches(site):
    _, _, body = http("GET", K8S[site] + "/__fake/requests")
    return sum(1 for r in json.loads(body) if r["method"] == "PATCH")


def config_revision(cluster):
    """The etcd mod_revision of the cluster's DCS config key: every PATCH /config writes it."""
    key = base64.b64encode(("/dwlab/%s/config" % cluster).encode()).decode()
    req = urllib.request.Request("http://127.0.0.1:%d/v3/kv/range" % lab.etcd_port,
                                 data=json.dumps({"key": key}).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        return int(json.loads(r.read())["kvs"][0]["mod_revision"])


def step(site, action, *extra, other=True, timeout="60s"):
    me, them = LEADER[site], LEADER[OTHER[site]]
    args = ["--site", site, "--action", action, "--patroni", lab.rest(me), "--user", API_USER,
            "--password-file", PASSWORD, "--k8s", K8S[site], "--namespace", NS,
            "--timeout", timeout, "--data-dir", tmpdir()]
    if other:
        args += ["--other", lab.rest(them)]
    if action == "patroni_demote":
        # Each site follows the other through a slot named after itself (the lab's permanent
        # slots: golddr on gold, gold on golddr).
        args += ["--follow", OTHER[site], "--standby-host", "127.0.0.1",
                 "--standby-port", lab.pg_port(them), "--slot", site]
    out = act_step.run(args + list(extra))
    t.diag("%s %s: %s" % (site, action, out))
    return out


def recovery():
    return (lab.psql("gold1", "SELECT pg_is_in_recovery()", check=False),
            lab.psql("golddr1", "SELECT pg_is_in_recovery()", check=False))


def caught_up(primary, standby, timeout=30):
    """Waits until standby has replayed everything primary wrote (the RPO-0 condition the
    promotion guard checks; in a plan the withdrawn site writes nothing more)."""
    lsn = lab.psql(LEADER[primary], "SELECT pg_current_wal_lsn()")
    return wait_for(lambda: lab.psql(LEADER[standby], "SELECT pg_wal_lsn_diff("
                                     "pg_last_wal_replay_lsn(), '%s') >= 0" % lsn,
                                     check=False) == "t", timeout, 0.1)


def replicates(frm, to, text, nodes=None):
    lab.psql(LEADER[frm], "INSERT INTO rows (payload) VALUES ('%s')" % text)
    return wait_for(lambda: all(lab.psql(n, "SELECT count(*) FROM rows WHERE payload = '%s'"
                                         % text, check=False) == "1"
                                for n in (nodes or [LEADER[to]])), 30, 0.2)


# ---- the sampler: never two writable primaries ----

class Sampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.stop_at = None
        self.samples = 0
        self.both = []        # samples where both sites were writable
        self.states = []      # the sequence of distinct (gold, golddr) states
        self.errors = 0
        self.last_error = None

    @staticmethod
    def get(url):
        # Patroni's /patroni retries its query for a second while PostgreSQL restarts.
        with urllib.request.urlopen(url, timeout=3) as r:
            return json.loads(r.read())

    def site(self, node):
        """(/cluster's leader role, the leader's own role) of node's cluster."""
        c = self.get(lab.rest(node) + "/cluster")
        lead = [m for m in c["members"] if m["role"] in ("leader", "standby_leader")]
        if not lead:
            return ("none", "none")
        return (lead[0]["role"], self.get(lead[0]["api_url"]).get("role", "?"))

    def run(self):
        while self.stop_at is None:
            t1 = time.time()
            try:
                g, d = self.site("gold1"), self.site("golddr1")
            except (OSError, ValueError, KeyError) as e:
                self.errors += 1
                self.last_error = "%.2f %s" % (time.time() - T0, e)
                time.sleep(0.2)
                continue
            self.samples += 1
            writable = [s[0] == "leader" or s[1] in ("master", "primary") for s in (g, d)]
            if all(writable):
                self.both.append((round(time.time() - T0, 2), g, d))
            state = (g, d)
            if not self.states or self.states[-1][1] != state:
                self.states.append((round(time.time() - T0, 2), state))
            time.sleep(max(0, 0.2 - (time.time() - t1)))

    def read_only_both(self):
        """Whether some sample saw neither site writable (the moment between demote and
        promote)."""
        return any(s[0] != "leader" and s[1] not in ("master", "primary") and
                   d[0] != "leader" and d[1] not in ("master", "primary")
                   for _, (s, d) in self.states)


sampler = Sampler()
sampler.start()
t.ok(wait_for(lambda: sampler.samples >= 2, 10), "the sampler watches both clusters")

# ---- 0. the promotion guard is the executor's: promote waits while gold is writable ----
t.is_(recovery(), ("f", "t"), "start: gold is the primary, golddr a standby")
rev = config_revision("golddr")
out = step("golddr", "patroni_promote", timeout="4s")
t.ok(out.step_result == "refused" and out.result == "failed" and not out.acted(),
     "promoting golddr while gold is writable: the step is refused by the guard (the run "
     "fails), act never called")
t.ok("gold's leader is writable" in out.detail, "the refusal names why (%s)" % out.detail)
t.is_((config_revision("golddr"), recovery()), (rev, ("f", "t")),
      "no PATCH reached golddr's DCS config; golddr is still a standby")

# ---- 1. planned failover: demote gold, promote golddr ----
t.ok(replicates("gold", "golddr", "before failover"), "gold replicates to golddr")
t.ok(caught_up("gold", "golddr"), "golddr has replayed everything gold wrote")
out = step("gold", "patroni_demote")
t.ok(out.result == "ok" and out.step_result == "ok" and out.phases[:2] == ["check", "act"],
     "gold demoted through check, act and poll (%s)" % " ".join(out.phases))
t.ok("not a writable primary yet" in out.step_detail,
     "done once gold is a read-only standby leader: golddr is no primary to stream from yet")
t.is_(recovery(), ("t", "t"), "after the demotion: both sites read-only")
g = lab.get_json("gold1", "/config").get("standby_cluster", {})
t.is_((g.get("host"), g.get("port"), g.get("primary_slot_name"), g.get("create_replica_methods")),
      ("127.0.0.1", lab.pg_port("golddr1"), "gold", ["basebackup"]),
      "gold's standby_cluster: golddr1's address, slot gold, basebackup")
t.is_(env_of("gold"), ("127.0.0.1", str(lab.pg_port("golddr1"))),
      "gold's env ConfigMap: STANDBY_HOST/PORT name golddr1")
out = step("golddr", "patroni_promote")
t.ok(out.result == "ok" and out.acted(), "golddr promoted once gold is read-only (%s)"
     % " ".join(out.phases))
t.is_(recovery(), ("t", "f"), "after the promotion: gold read-only, golddr the primary")
t.is_(env_of("golddr"), ("", ""), "golddr's env ConfigMap: STANDBY_HOST/PORT blank")
t.ok("standby_cluster" not in lab.get_json("golddr1", "/config"), "golddr has no standby_cluster")
t.ok(replicates("golddr", "gold", "after failover", nodes=["gold1", "gold2"]),
     "a row written on golddr is read on gold1 and on gold2 behind it")
t.is_(lab.psql("gold1", "SELECT status || ' ' || sender_port || ' ' || slot_name "
               "FROM pg_stat_wal_receiver", check=False),
      "streaming %d gold" % lab.pg_port("golddr1"), "gold1 streams from golddr1 through slot gold")
t.ok(sampler.read_only_both(), "the sampler saw the moment both sites were read-only")

# ---- 2. idempotence ----
revs, patches = (config_revision("gold"), config_revision("golddr")), \
    (cm_patches("gold"), cm_patches("golddr"))
out = step("gold", "patroni_demote")
t.ok(out.result == "ok" and out.step_result == "already" and out.phases == ["check"],
     "demote gold again: check finds it done, nothing acted")
t.ok("streaming from" in out.step_detail, "and now that golddr is a primary, gold streams from "
     "it (%s)" % out.step_detail)
out = step("golddr", "patroni_promote")
t.ok(out.result == "ok" and out.step_result == "already" and out.phases == ["check"],
     "promote golddr again: check finds it done, nothing acted")
t.is_(((config_revision("gold"), config_revision("golddr")), (cm_patches("gold"),
                                                            cm_patches("golddr"))),
      (revs, patches), "no PATCH: both DCS config keys and both ConfigMaps untouched")
t.is_(recovery(), ("t", "f"), "roles unchanged")

# ---- 3. the way back: demote golddr, promote gold ----
t.ok(caught_up("golddr", "gold"), "gold has replayed everything golddr wrote")
out = step("golddr", "patroni_demote")
t.ok(out.result == "ok" and out.acted(), "golddr demoted to follow gold")
t.is_(recovery(), ("t", "t"), "both sites read-only again")
t.is_(env_of("golddr"), ("127.0.0.1", str(lab.pg_port("gold1"))),
      "golddr's env ConfigMap names gold1 again")
out = step("gold", "patroni_promote")
t.ok(out.result == "ok" and out.acted(), "gold promoted")
t.is_(recovery(), ("f", "t"), "gold is the primary again, golddr a standby")
t.is_(env_of("gold"), ("", ""), "gold's env ConfigMap blank again")
t.ok(replicates("gold", "golddr", "after the way back", nodes=["golddr1", "gold2"]),
     "replication flows gold -> golddr again (and to gold2)")
t.is_(lab.psql("golddr1", "SELECT status || ' ' || sender_port || ' ' || slot_name "
               "FROM pg_stat_wal_receiver", check=False),
      "streaming %d golddr" % lab.pg_port("gold1"), "golddr1 streams from gold1 through slot "
      "golddr")

# ---- 4. never two writable primaries ----
sampler.stop_at = time.time()
sampler.join(5)
t.diag("states seen (s since start: (gold /cluster, gold node), (golddr ...)):")
for at, (gs, ds) in sampler.states:
    t.diag("  %6.2f gold %-28s golddr %s" % (at, "%s/%s" % gs, "%s/%s" % ds))
t.ok(sampler.samples > 50, "%d samples of both clusters (%d failed%s)" % (
    sampler.samples, sampler.errors, ", last: %s" % sampler.last_error if sampler.errors else ""))
t.is_(sampler.both, [], "never were both sites writable at once")

# ---- 5. a demotion Patroni cannot complete ----
# golddr is promoted while gold is unobserved (the guard's cut-off case: no --other), as after a
# network partition; gold, still writable, writes on, so its timeline diverges; use_pg_rewind
# is off in the lab, so Patroni cannot make gold follow golddr.
out = step("golddr", "patroni_promote", other=False)
t.ok(out.result == "ok", "golddr promoted with gold unobserved (cut off)")
lab.write_rows(200, node="gold1")
t.is_(recovery(), ("f", "f"), "two primaries: gold diverged (the partition)")
out = step("gold", "patroni_demote", "--stall-timeout", "8000", timeout="60s")
t.ok(out.result == "failed" and out.step_result == "failed" and out.seconds < 40,
     "the demotion fails after the stall bound, not at the step's deadline (%.1fs)"
     % out.seconds)
t.ok("no demotion after 8s" in out.step_detail and "not streaming from" in out.step_detail,
     "with what Patroni could not do (%s)" % out.step_detail)
t.is_(recovery()[0], "t", "gold is read-only nonetheless: fenced, for the fallback to rebuild")

sampler.stop_at = sampler.stop_at or time.time()
t0 = time.time()
lab.stop()
t.ok(True, "lab torn down in %.1fs; whole test %.1fs" % (time.time() - t0, time.time() - T0))
t.done()
