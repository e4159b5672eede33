#!/usr/bin/env python3
"""tests/fakes/k8s_fake.py's Leases (coordination.k8s.io/v1) checked against the real client,
and its partition control. kubectl discovers the group, `kubectl apply` creates a Lease (a POST
the fake records whole) and changes it (kubectl's strategic merge PATCH), `kubectl get lease`
lists and reads it, `kubectl replace` with a stale resourceVersion gets the apiserver's 409
Conflict and kubectl prints it, a missing Lease is NotFound as the apiserver words it, a
renewTime that is not MicroTime is refused as the apiserver's decoder refuses it (400), a
leaseDurationSeconds of 0 is 422 Invalid. Raw, as drwatch speaks: POST of an existing Lease is
409 AlreadyExists, PUT with the version read lands and bumps it, PUT with an old one is 409.
A partition on one bearer token holds that client's requests unanswered (never stored, never in
/activity) while another token's go through, and lifting it closes the held connection; "refuse"
closes at once. Skipped when kubectl is absent."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from drwatch_test import Tap, start_fake, tmpdir  # noqa: E402
from fakebase import control  # noqa: E402

KUBECTL = shutil.which("kubectl")
if not KUBECTL:
    print("1..0 # SKIP kubectl is not installed (apt-get install kubernetes-client)")
    sys.exit(0)

t = Tap()
work = tmpdir()
port = start_fake("k8s_fake.py", os.path.join(work, "k8s.log"))
URL = "http://127.0.0.1:%d" % port
ENV = dict(os.environ, KUBECONFIG=os.devnull, HOME=work)
LEASES = "/apis/coordination.k8s.io/v1/namespaces/ops/leases"


def kubectl(*args, stdin=None):
    r = subprocess.run([KUBECTL, "--server", URL, "--cache-dir", os.path.join(work, "cache"),
                        "--request-timeout", "10s", "-n", "ops"] + list(args),
                       capture_output=True, text=True, env=ENV, timeout=60, input=stdin)
    return r.returncode, (r.stdout + r.stderr).strip()


def api(method, path, body=None, token=None, timeout=5):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(URL + path, method=method, headers=headers,
                                 data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def activity():
    with urllib.request.urlopen(URL + "/activity", timeout=5) as r:
        return json.loads(r.read())


def lease(holder, renew="2026-12-07T21:15:00.000000Z", duration=15):
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "drwatch-gold", "namespace": "ops"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration,
                     "acquireTime": "2026-12-07T21:15:00.000000Z", "renewTime": renew,
                     "leaseTransitions": 0}}


# ---- kubectl ----
rc, out = kubectl("api-resources", "--api-group=coordination.k8s.io", "-o", "name")
t.is_((rc, out), (0, "leases.coordination.k8s.io"), "kubectl discovers leases in the group")
rc, out = kubectl("apply", "--validate=false", "-f", "-", stdin=json.dumps(lease("pod-a")))
w = activity()
t.ok(rc == 0 and "created" in out and len(w) == 1 and w[0]["method"] == "POST" and
     w[0]["path"].partition("?")[0] == LEASES and w[0]["status"] == 201 and
     w[0]["body"]["spec"] == lease("pod-a")["spec"],
     "kubectl apply creates the Lease: one POST, recorded whole (%s)" % out)
rc, out = kubectl("get", "lease")
t.ok(rc == 0 and "drwatch-gold" in out, "kubectl get lease lists it")
rc, out = kubectl("apply", "--validate=false", "-f", "-", stdin=json.dumps(lease("pod-b")))
w = activity()[-1]
t.ok(rc == 0 and "configured" in out and w["method"] == "PATCH" and
     w["content_type"] == "application/strategic-merge-patch+json" and
     w["body"]["spec"] == {"holderIdentity": "pod-b"},
     "kubectl apply again: a strategic merge PATCH of the holder only (%s)" % out)
rc, out = kubectl("get", "lease", "drwatch-gold", "-o", "json")
obj = json.loads(out) if rc == 0 else {}
t.ok(obj.get("spec", {}).get("holderIdentity") == "pod-b" and
     obj["spec"]["renewTime"] == "2026-12-07T21:15:00.000000Z",
     "kubectl get lease NAME -o json reads the change, MicroTime as written")
stale = dict(obj)
stale["metadata"] = dict(obj["metadata"], resourceVersion="1")
rc, out = kubectl("replace", "--validate=false", "-f", "-", stdin=json.dumps(stale))
t.ok(rc != 0 and 'Operation cannot be fulfilled on leases.coordination.k8s.io "drwatch-gold": '
     "the object has been modified" in out, "kubectl replace with a stale version: 409 (%s)" % out)
# kubectl then asks whether the namespace exists (the fake serves no namespaces), so the
# Status it got is read from its -v=8 trace.
rc, out = kubectl("get", "lease", "nope", "-v=8")
t.ok(rc != 0 and '"message":"leases.coordination.k8s.io \\"nope\\" not found","reason":'
     '"NotFound"' in out, "a missing Lease: NotFound as the apiserver says it")
bad = lease("pod-c", renew="2026-12-07T21:15:00Z")
bad["metadata"]["name"] = "other"
rc, out = kubectl("apply", "--validate=false", "-f", "-", stdin=json.dumps(bad))
t.ok(rc != 0 and "cannot be handled as a Lease" in out,
     "a renewTime that is not MicroTime: refused by the decoder (%s)" % out)
bad = lease("pod-c", duration=0)
bad["metadata"]["name"] = "other"
st, body = api("POST", LEASES, bad)
t.ok(st == 422 and body["reason"] == "Invalid" and "spec.leaseDurationSeconds" in body["message"],
     "leaseDurationSeconds 0: 422 Invalid (%s)" % body.get("message"))

# ---- raw, as drwatch writes ----
st, body = api("POST", LEASES, lease("pod-x"))
t.ok(st == 409 and body["reason"] == "AlreadyExists", "POST of an existing Lease: AlreadyExists")
st, cur = api("GET", LEASES + "/drwatch-gold")
mine = lease("pod-c")
mine["metadata"]["resourceVersion"] = cur["metadata"]["resourceVersion"]
st, body = api("PUT", LEASES + "/drwatch-gold", mine)
t.ok(st == 200 and body["spec"]["holderIdentity"] == "pod-c" and
     body["metadata"]["resourceVersion"] != cur["metadata"]["resourceVersion"],
     "PUT with the version read lands, with a new version")
st, body = api("PUT", LEASES + "/drwatch-gold", mine)
t.ok(st == 409 and body["reason"] == "Conflict", "PUT with the version before it: 409 Conflict")
st, body = api("GET", LEASES + "/missing")
t.ok(st == 404 and body["details"] == {"name": "missing", "group": "coordination.k8s.io",
                                       "kind": "leases"}, "GET of a missing Lease: 404")

# ---- partition ----
control(URL, "state", {"partition": [{"token": "cut", "how": "hang"}]})
n = len(activity())
s = socket.create_connection(("127.0.0.1", port), timeout=20)
body = json.dumps(lease("cut-off")).encode()
s.sendall(b"PUT %s/drwatch-gold HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer cut\r\n"
          b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
          % (LEASES.encode(), len(body), body))
s.settimeout(1.0)
try:
    s.recv(100)
    held = False  # answered or closed: not held
except socket.timeout:
    held = True
st, _ = api("GET", LEASES + "/drwatch-gold", token="fine")
t.ok(held and st == 200, "a partitioned client's request is held; another client's is answered")
control(URL, "state", {"partition": []})
s.settimeout(10)
t0 = time.time()
t.ok(s.recv(100) == b"" and time.time() - t0 < 5,
     "lifting the partition closes the held connection unanswered")
s.close()
t.ok(len(activity()) == n and api("GET", LEASES + "/drwatch-gold")[1]["spec"]["holderIdentity"]
     == "pod-c", "the held write never reached the store nor /activity")
control(URL, "state", {"partition": [{"token": "cut", "how": "refuse"}]})
t0 = time.time()
try:
    api("GET", LEASES + "/drwatch-gold", token="cut")
    refused = False
except (urllib.error.URLError, OSError):
    refused = True
t.ok(refused and time.time() - t0 < 3, "\"refuse\": the connection closes at once")
control(URL, "state", {"partition": []})
t.done()
