#!/usr/bin/env python3
"""tests/fakes/k8s_fake.py checked against the real client: kubectl (--server http://..., no
kubeconfig) discovers the fake's API groups, gets every kind the switchover actuators use,
scales a Deployment and a StatefulSet through their /scale subresource, patches with its
default strategic merge (a container list merged by name), --type merge (a Service selector
whose null values remove keys) and --type json (a PDB's minAvailable), annotates, restarts a
rollout and writes a Secret's stringData. For each, kubectl must be satisfied (exit 0) and the
fake's /activity must hold exactly the write kubectl sent (method, path, content type, body),
and the simulated controller must then show the outcome (ready replicas, a rollout's
observedGeneration and updatedReplicas). A PVC a StatefulSet pod still uses stays Terminating
until the pod is gone; an RBAC-restricted fake answers 403 with the apiserver's message, which
kubectl prints; a stale resourceVersion is 409 Conflict. `kubectl get configmap NAME -w` sees
the fake's watch stream: the object ADDED, then MODIFIED by kubectl's own patch, DELETED, and
ADDED again when re-created; and the stream's own contract, read raw: a resourceVersion older
than a compaction is 200 with one ERROR event carrying a 410 Expired Status, bookmarks come
with allowWatchBookmarks, timeoutSeconds ends the stream cleanly, and a dropped stream is cut
without its last chunk. Skipped when kubectl is absent."""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from drwatch_test import Tap, spawn, start_fake, tmpdir, wait_for  # noqa: E402
from fakebase import control  # noqa: E402

KUBECTL = shutil.which("kubectl")
if not KUBECTL:
    print("1..0 # SKIP kubectl is not installed (apt-get install kubernetes-client)")
    sys.exit(0)

t = Tap()
work = tmpdir()
# No token: client-go sends a bearer token only over TLS, and the brief's check is over http.
port = start_fake("k8s_fake.py", os.path.join(work, "k8s.log"), "--delay-ms", "50")
URL = "http://127.0.0.1:%d" % port
ENV = dict(os.environ, KUBECONFIG=os.devnull, HOME=work)


def kubectl(*args, ns="gateway"):
    """Runs kubectl against the fake; returns (exit code, stdout + stderr)."""
    r = subprocess.run([KUBECTL, "--server", URL, "--cache-dir",
                        os.path.join(work, "cache"), "--request-timeout", "10s", "-n", ns]
                       + list(args), capture_output=True, text=True, env=ENV, timeout=60)
    return r.returncode, (r.stdout + r.stderr).strip()


def get(path):
    with urllib.request.urlopen(URL + path, timeout=5) as r:
        return json.loads(r.read())


def activity():
    with urllib.request.urlopen(URL + "/activity", timeout=5) as r:
        return json.loads(r.read())


def last_write():
    """The one write since the last call (None when there were none or several)."""
    writes = activity()
    control(URL, "state", {"clear_activity": True})
    return writes[0] if len(writes) == 1 else None


def wrote(w, method, path, ctype, body):
    return (w is not None and w["method"] == method and w["path"].partition("?")[0] == path
            and w["content_type"] == ctype and w["body"] == body and w["status"] == 200)


APPS = "/apis/apps/v1/namespaces/gateway"
KONG = APPS + "/deployments/konghc-kong"
MERGE = "application/merge-patch+json"
SMP = "application/strategic-merge-patch+json"

# ---- get: discovery and every kind ----
for kind, name, ns in [("deployment", "konghc-kong", "gateway"),
                       ("statefulset", "patroni-spilo", "gateway"),
                       ("service", "keycloak-http", "gateway"),
                       ("pvc", "storage-volume-patroni-spilo-0", "gateway"),
                       ("configmap", "patroni-spilo-env-vars", "gateway"),
                       ("pdb", "bcgov-health-api-dev-generic-api-pdb", "ops"),
                       ("secret", "terraform-tfvars-dev", "ops")]:
    rc, out = kubectl("get", kind, name, "-o", "json", ns=ns)
    obj = json.loads(out) if rc == 0 else {}
    t.ok(rc == 0 and obj.get("metadata", {}).get("name") == name,
         "kubectl get %s %s -o json (%s)" % (kind, name, out[:80] if rc else "ok"))
rc, out = kubectl("get", "services", "-l", "app.kubernetes.io/component=http,"
                  "app.kubernetes.io/instance=keycloak", "-o", "name")
t.is_((rc, out), (0, "service/keycloak-http"), "a label selector lists the one matching Service")
control(URL, "state", {"clear_activity": True})

# ---- scale ----
rc, out = kubectl("scale", "deployment", "konghc-kong", "--replicas=3")
t.ok(rc == 0 and "scaled" in out, "kubectl scale deployment: %s" % out)
t.ok(wrote(last_write(), "PATCH", KONG + "/scale", MERGE, {"spec": {"replicas": 3}}),
     "the fake recorded its merge-patch of the scale subresource")
t.ok(wait_for(lambda: get(KONG)["status"].get("readyReplicas") == 3, timeout=10),
     "the controller brings readyReplicas to 3")
rc, out = kubectl("scale", "statefulset", "patroni-spilo", "--replicas=0")
t.ok(rc == 0 and wrote(last_write(), "PATCH", APPS + "/statefulsets/patroni-spilo/scale", MERGE,
                       {"spec": {"replicas": 0}}),
     "kubectl scale statefulset to 0: %s, recorded" % out)
t.ok(wait_for(lambda: get(APPS + "/statefulsets/patroni-spilo")["status"]["replicas"] == 0),
     "its status.replicas reaches 0 (and stays present at 0)")
scale = get(APPS + "/statefulsets/patroni-spilo/scale")
t.is_(scale["spec"], {}, "the Scale of 0 replicas has spec {} (replicas is omitempty)")

# ---- patch: strategic (kubectl's default), merge, json ----
gen = get(KONG)["metadata"]["generation"]
rc, out = kubectl("patch", "deployment", "konghc-kong", "-p",
                  '{"spec":{"template":{"spec":{"containers":[{"name":"kong",'
                  '"image":"registry.example/kong:3.4"}]}}}}')
t.ok(rc == 0 and wrote(last_write(), "PATCH", KONG, SMP, {"spec": {"template": {"spec": {
    "containers": [{"name": "kong", "image": "registry.example/kong:3.4"}]}}}}),
    "kubectl patch (strategic merge by default): %s, recorded" % out)
c = get(KONG)["spec"]["template"]["spec"]["containers"]
t.ok(len(c) == 1 and c[0]["image"] == "registry.example/kong:3.4" and c[0].get("ports"),
     "the container list merged by name: image changed, ports kept")
t.ok(wait_for(lambda: (lambda d: d["metadata"]["generation"] == gen + 1 and
                       d["status"].get("observedGeneration") == gen + 1 and
                       d["status"].get("updatedReplicas") == 3 and
                       d["status"].get("replicas") == 3)(get(KONG)), timeout=10),
     "the template change rolls out: generation and observedGeneration %d, 3 updated" % (gen + 1))
rc, out = kubectl("patch", "service", "keycloak-http", "--type", "merge", "-p",
                  '{"spec":{"selector":{"app":"keycloak-maintenance-page",'
                  '"app.kubernetes.io/instance":null,"app.kubernetes.io/name":null}}}')
t.ok(rc == 0 and wrote(last_write(), "PATCH", "/api/v1/namespaces/gateway/services/keycloak-http",
                       MERGE, {"spec": {"selector": {"app": "keycloak-maintenance-page",
                                                     "app.kubernetes.io/instance": None,
                                                     "app.kubernetes.io/name": None}}}),
     "kubectl patch --type merge of a Service selector: %s, recorded" % out)
t.is_(get("/api/v1/namespaces/gateway/services/keycloak-http")["spec"]["selector"],
      {"app": "keycloak-maintenance-page"}, "null removed the two Keycloak keys")
rc, out = kubectl("patch", "pdb", "bcgov-health-api-dev-generic-api-pdb", "--type", "json", "-p",
                  '[{"op":"replace","path":"/spec/minAvailable","value":0}]', ns="ops")
t.ok(rc == 0 and wrote(last_write(), "PATCH", "/apis/policy/v1/namespaces/ops/"
                       "poddisruptionbudgets/bcgov-health-api-dev-generic-api-pdb",
                       "application/json-patch+json",
                       [{"op": "replace", "path": "/spec/minAvailable", "value": 0}]),
     "kubectl patch --type json of a PDB: %s, recorded" % out)
pdb = get("/apis/policy/v1/namespaces/ops/poddisruptionbudgets/"
          "bcgov-health-api-dev-generic-api-pdb")
t.ok(pdb["spec"]["minAvailable"] == 0 and pdb["metadata"]["generation"] == 2,
     "minAvailable is 0, generation 2")
rc, out = kubectl("patch", "secret", "terraform-tfvars-dev", "--type", "merge", "-p",
                  '{"stringData":{"in_recovery":"true"}}', ns="ops")
t.ok(rc == 0 and wrote(last_write(), "PATCH", "/api/v1/namespaces/ops/secrets/terraform-tfvars-dev",
                       MERGE, {"stringData": {"in_recovery": "true"}}),
     "kubectl patch of a Secret's stringData: %s, recorded" % out)
sec = get("/api/v1/namespaces/ops/secrets/terraform-tfvars-dev")
t.ok(base64.b64decode(sec["data"]["in_recovery"]) == b"true" and "stringData" not in sec and
     base64.b64decode(sec["data"]["in_maintenance"]) == b"false",
     "stringData went into data as base64 and is not stored")

# ---- annotate, rollout restart ----
rc, out = kubectl("annotate", "deployment", "konghc-kong", "drwatch.example/drill=1")
t.ok(rc == 0 and wrote(last_write(), "PATCH", KONG, MERGE,
                       {"metadata": {"annotations": {"drwatch.example/drill": "1"}}}),
     "kubectl annotate: %s, recorded as a merge-patch" % out)
gen = get(KONG)["metadata"]["generation"]
t.is_(get(KONG)["status"].get("observedGeneration"), gen,
      "an annotation of the object is no spec change: the generation stays")
rc, out = kubectl("rollout", "restart", "deployment", "konghc-kong")
w = last_write()
stamp = (((((w or {}).get("body") or {}).get("spec") or {}).get("template") or {})
         .get("metadata") or {}).get("annotations", {}).get("kubectl.kubernetes.io/restartedAt")
t.ok(rc == 0 and stamp and wrote(w, "PATCH", KONG, SMP, {"spec": {"template": {"metadata": {
    "annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}}),
    "kubectl rollout restart: %s, recorded as a strategic merge of restartedAt %s" % (out, stamp))


def rolled_out(d):
    st, gen = d["status"], d["metadata"]["generation"]
    return (st.get("observedGeneration") == gen and st.get("updatedReplicas") == 3 and
            st.get("replicas") == 3 and st.get("readyReplicas") == 3)


seen = []
t.ok(wait_for(lambda: seen.append(get(KONG)["status"]) or rolled_out(get(KONG)), timeout=10),
     "the restart rolls out")
t.ok(any(s.get("updatedReplicas", 0) < 3 for s in seen),
     "through states with fewer pods updated (%d seen)" % len(seen))

# ---- PVC protection ----
rc, out = kubectl("scale", "statefulset", "patroni-spilo", "--replicas=1")
t.ok(rc == 0 and wait_for(lambda: get(APPS + "/statefulsets/patroni-spilo")["status"]
                          .get("readyReplicas") == 1), "the StatefulSet back at 1 ready")
control(URL, "state", {"clear_activity": True})
PVC = "/api/v1/namespaces/gateway/persistentvolumeclaims/storage-volume-patroni-spilo-"
rc, out = kubectl("delete", "pvc", "storage-volume-patroni-spilo-0", "--wait=false")
t.ok(rc == 0 and wrote(last_write(), "DELETE", PVC + "0", "application/json",
                       {"propagationPolicy": "Background"}),
     "kubectl delete pvc (in use by pod 0): %s, recorded with its DeleteOptions" % out)
t.ok(get(PVC + "0")["metadata"].get("deletionTimestamp"),
     "the claim pod 0 uses is only marked Terminating")
rc, out = kubectl("delete", "pvc", "storage-volume-patroni-spilo-2", "--wait=false")
t.ok(rc == 0 and wait_for(lambda: "storage-volume-patroni-spilo-2" not in
                          kubectl("get", "pvc", "-o", "name")[1]),
     "an unused claim goes at once")
kubectl("scale", "statefulset", "patroni-spilo", "--replicas=0")
t.ok(wait_for(lambda: "storage-volume-patroni-spilo-0" not in
              kubectl("get", "pvc", "-o", "name")[1]),
     "the marked claim goes once its pod is gone")

# ---- RBAC and conflicts ----
control(URL, "state", {"rbac": ["apps deployments get"]})
rc, out = kubectl("scale", "deployment", "konghc-kong", "--replicas=1")
t.ok(rc != 0 and 'cannot patch resource "deployments/scale" in API group "apps" in the '
     'namespace "gateway"' in out, "with RBAC on, kubectl gets the 403 message: %s" % out)
rc, out = kubectl("get", "deployment", "konghc-kong", "-o", "name")
t.is_((rc, out), (0, "deployment.apps/konghc-kong"), "and an allowed verb still works")
control(URL, "state", {"rbac": None})
rc, out = kubectl("patch", "configmap", "patroni-spilo-env-vars", "--type", "merge", "-p",
                  '{"metadata":{"resourceVersion":"1"},"data":{"STANDBY_HOST":"x"}}')
t.ok(rc != 0 and "the object has been modified" in out,
     "a stale resourceVersion: 409 Conflict: %s" % out)

# ---- watch: kubectl get -w ----
CMS = "/api/v1/namespaces/ops/configmaps"
watch_log = os.path.join(work, "watch.out")
spawn([KUBECTL, "--server", URL, "--cache-dir", os.path.join(work, "cache"), "-n", "ops", "get",
       "configmap", "switchover-state-dev", "-w", "-o", "json", "--output-watch-events"],
      watch_log, env=ENV)


def watched():
    """The events kubectl printed so far: [(type, data)]."""
    text, out, dec, i = open(watch_log).read(), [], json.JSONDecoder(), 0
    while True:
        i = text.find("{", i)
        if i < 0:
            return out
        try:
            ev, i = dec.raw_decode(text, i)
        except ValueError:
            return out
        out.append((ev.get("type"), (ev.get("object") or {}).get("data")))


def saw(kind, key=None, value=None):
    return wait_for(lambda: any(k == kind and (key is None or (d or {}).get(key) == value)
                                for k, d in watched()), timeout=10)


t.ok(saw("ADDED", "last_stable_state", "active-passive"),
     "kubectl get configmap -w: the ConfigMap ADDED")
rc, out = kubectl("patch", "configmap", "switchover-state-dev", "--type", "merge", "-p",
                  '{"data":{"transition":"golddr-primary"}}', ns="ops")
t.ok(rc == 0 and saw("MODIFIED", "transition", "golddr-primary"),
     "kubectl's own merge-patch comes back as a MODIFIED event (%s)" % out)
control(URL, "state", {"delete_configmap": ["ops", "switchover-state-dev"]})
t.ok(saw("DELETED"), "a deleted ConfigMap: DELETED")
rc, out = kubectl("create", "configmap", "switchover-state-dev",
                  "--from-literal=transition=active-passive-force", ns="ops")
t.ok(rc == 0 and saw("ADDED", "transition", "active-passive-force"),
     "re-created: ADDED again (%s)" % out)


# ---- watch: the stream itself ----
def stream(query):
    """Reads a watch on the ops ConfigMaps to its end: ([events], "end" when the stream ended
    with its last chunk, else "cut")."""
    c = socket.create_connection(("127.0.0.1", port), timeout=15)
    c.sendall(("GET %s?watch=true&%s HTTP/1.1\r\nHost: x\r\n\r\n" % (CMS, query)).encode())
    data = b""
    while True:
        piece = c.recv(65536)
        if not piece:
            break
        data += piece
    c.close()
    body, evs = data.partition(b"\r\n\r\n")[2], []
    while True:
        size, _, rest = body.partition(b"\r\n")
        if not size or len(rest) < int(size, 16) + 2:
            return evs, "cut"
        if int(size, 16) == 0:
            return evs, "end"
        evs += [json.loads(x) for x in rest[:int(size, 16)].splitlines()]
        body = rest[int(size, 16) + 2:]


lst = get(CMS)
rv = lst["metadata"]["resourceVersion"]
evs, how = stream("resourceVersion=%s&timeoutSeconds=1" % rv)
t.ok(evs == [] and how == "end", "nothing written: a watch ends cleanly at timeoutSeconds")
control(URL, "state", {"bookmark_ms": 200})
evs, how = stream("resourceVersion=%s&allowWatchBookmarks=true&timeoutSeconds=1" % rv)
t.ok(how == "end" and evs and all(e["type"] == "BOOKMARK" and
                                  int(e["object"]["metadata"]["resourceVersion"]) >= int(rv)
                                  for e in evs),
     "allowWatchBookmarks: BOOKMARKs with a resourceVersion (%d in 1s)" % len(evs))
control(URL, "state", {"compact": True})
evs, how = stream("resourceVersion=%s" % rv)
st = evs[0]["object"] if evs else {}
t.ok(how == "end" and len(evs) == 1 and evs[0]["type"] == "ERROR" and st.get("code") == 410 and
     st.get("reason") == "Expired" and "too old resource version: %s" % rv in st.get("message"),
     "after a compaction, a watch from before it: one ERROR event, 410 Expired (%s)"
     % st.get("message"))
rv = get(CMS)["metadata"]["resourceVersion"]
threading.Timer(0.5, lambda: control(URL, "state", {"watch_close": True})).start()
evs, how = stream("resourceVersion=%s&timeoutSeconds=10" % rv)
t.is_(how, "cut", "watch_close drops the stream without its last chunk")
t.done()
