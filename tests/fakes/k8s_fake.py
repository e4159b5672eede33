#!/usr/bin/env python3
"""A fake kube-apiserver for drwatch's tests, answering as /work/shared/reference/kubernetes.md
and tekton.md say: the objects the switchover agent reads and writes, with a simulated
controller for Deployments and StatefulSets, and Tekton PipelineRuns.

Usage: k8s_fake.py PORT [--token TOKEN] [--tekton-versions v1,v1beta1] [--tls CERT KEY]
                        [--user system:serviceaccount:ops:drwatch] [--delay-ms 100]

Served (paths from the API root):
  core v1     configmaps, secrets, services, persistentvolumeclaims:
              list (labelSelector, limit, continue), get, create, update (PUT), patch, delete
  apps/v1     deployments, statefulsets: the same, and their /scale subresource (get, update,
              patch; autoscaling/v1 Scale, whose spec.replicas is omitted at 0)
  policy/v1   poddisruptionbudgets: the same
  coordination.k8s.io/v1  leases: the same; spec.acquireTime and renewTime must be MicroTime
              ("2006-01-02T15:04:05.000000Z07:00", else 400 as the apiserver's decoder says),
              leaseDurationSeconds > 0 and leaseTransitions >= 0 (else 422 Invalid)
  tekton.dev  {v1,v1beta1} pipelineruns: list, get, patch (merge-patch; strategic is 415)
  discovery   /version, /api, /api/v1, /apis, /apis/{group}/{version} (what kubectl reads)
Watches (GET of a collection with ?watch=true, every kind but PipelineRuns): a chunked stream
of JSON lines {"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": ...}, one for every
write that matches the request's labelSelector and fieldSelector (metadata.name,
metadata.namespace; lists take them too), the watcher's own writes included, from the given
resourceVersion on (absent or "0": an ADDED for each object first); a BOOKMARK every
bookmark_ms with allowWatchBookmarks=true; the stream ends after timeoutSeconds (default 1800).
A resourceVersion older than what the fake still holds (the last 1000 events, or a compaction
the test asked for) is answered, as the apiserver does, with 200 and one ERROR event carrying a
410 Expired Status ("too old resource version: R (NOW)"), then the end of the stream.
Patches: merge-patch+json, strategic-merge-patch+json (built-in kinds: lists merge by their
merge key) and json-patch+json, as k8s_patch.py says; apply-patch and anything else is 415.
A Secret's stringData is merged into its base64 data and never stored. A patch or update that
carries a stale metadata.resourceVersion is 409 Conflict; resourceVersion is bumped on every
write, and metadata.generation on every change of a spec. A PVC that a StatefulSet's pod still
uses is only marked (deletionTimestamp, the kubernetes.io/pvc-protection finalizer) and goes
once the pod is gone. Every error is a Status object with code equal to the HTTP status. With
--token, a request without "Authorization: Bearer TOKEN" gets 401. A Tekton version not in
--tekton-versions answers 404, as a cluster whose Tekton does not serve it.

The controller: a spec change is observed (status.observedGeneration) at once; then every
delay (--delay-ms, default 100) one pod moves: a scale adds or removes one, a change of the pod
template (a rollout restart) starts one new pod, then removes one old one, until every pod is
updated. status.replicas, updatedReplicas, readyReplicas and availableReplicas follow, omitted
when 0 as the Go types do (a StatefulSet always has replicas and availableReplicas). A
StatefulSet's pods come up in order, each with the claims of its volumeClaimTemplates (made when
absent). An "unready" workload starts pods that never become ready.

Test control (besides fakebase's /__fake/mode, /__fake/requests, /__fake/reset):
  GET  /activity                    every write so far, in order: {method, path, content_type,
                                    body (JSON when it parses), status, time, token (the
                                    request's bearer token, or null: which client wrote)}
  POST /__fake/state {"configmaps": [objects]}     replace every ConfigMap
                     {"objects": [objects]}        add or replace objects of any served kind
                     {"delete": [[resource, ns, name]]}
                     {"pipelineruns": [objects]}   replace every PipelineRun (v1 form)
                     {"tekton_versions": ["v1beta1"]}
                     {"token": "..."}               change the accepted token
                     {"forbidden": [["get", "configmaps"], ["list", "pipelineruns"]]}
                     {"rbac": ["apps deployments get", "\\"\\" secrets patch"]}  allow only
                                                   these "group resource[/sub] verb" ("" is
                                                   the core group); null: allow everything
                     {"delay_ms": 100}             the controller's pace
                     {"unready": ["deployments/ops/x"]}  workloads whose pods never get ready
                     {"clear_activity": true}
                     {"partition": [{"token": T, "how": "hang"}]}  cut clients off: a request
                                                   whose bearer token is T (or whose User-Agent
                                                   contains "user_agent") never reaches the
                                                   store: "hang" holds it unanswered until the
                                                   partition is lifted (then the connection
                                                   closes), "refuse" closes it at once; []
                                                   lifts every partition
                     {"expire_continue": true}     continue tokens answer 410 Expired
                     {"delete_configmap": [ns, name]}
                     {"compact": true}             watches from any resourceVersion seen so
                                                   far answer 410 (etcd compacted past it)
                     {"watch_close": true}         every open watch is dropped: the connection
                                                   closes without the stream's last chunk
                     {"watch_end": true}           every open watch ends cleanly, as at its
                                                   timeoutSeconds
                     {"bookmark_ms": 1000}         the pace of BOOKMARK events
                     {"watch_max_s": 60}           no watch lasts longer, whatever it asks
  POST /__fake/pipelinerun {"namespace": ns, "name": n, "merge": {...}, "unless_cancelled": b}
                     merge-patch one PipelineRun (v1 form), made from {} when absent, leaving
                     the others alone; with unless_cancelled, a run whose spec.status is a
                     cancel is left as it is (tekton_listener_fake.py makes and ends runs so)
"""
import base64
import copy
import io
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakebase  # noqa: E402
import k8s_patch  # noqa: E402
from k8s_seed import SEED_OBJECTS, SEED_RUNS  # noqa: E402

OPTS = {"token": None, "tekton_versions": ["v1", "v1beta1"],
        "user": "system:serviceaccount:ops:drwatch", "delay_ms": 100}

# resource -> (group, version, Kind, has a generation, has /scale, short names)
KINDS = {
    "configmaps": ("", "v1", "ConfigMap", False, False, ["cm"]),
    "secrets": ("", "v1", "Secret", False, False, []),
    "services": ("", "v1", "Service", False, False, ["svc"]),
    "persistentvolumeclaims": ("", "v1", "PersistentVolumeClaim", False, False, ["pvc"]),
    "deployments": ("apps", "v1", "Deployment", True, True, ["deploy"]),
    "statefulsets": ("apps", "v1", "StatefulSet", True, True, ["sts"]),
    "poddisruptionbudgets": ("policy", "v1", "PodDisruptionBudget", True, False, ["pdb"]),
    "leases": ("coordination.k8s.io", "v1", "Lease", False, False, []),
}
RESOURCE_OF_KIND = {v[2]: k for k, v in KINDS.items()}
WORKLOADS = ("deployments", "statefulsets")
PVC_FINALIZER = "kubernetes.io/pvc-protection"
JSON_HEADERS = [("Content-Type", "application/json")]


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def b64(s):
    return base64.b64encode(s.encode()).decode()


def fold_string_data(secret):
    """stringData is write-only: its keys go into data, base64-encoded."""
    sd = secret.pop("stringData", None)
    if sd:
        data = secret.setdefault("data", {})
        for k, v in sd.items():
            data[k] = b64(v)


class Pods:
    """A workload's pods as counts: `new` run the current template, `old` an earlier one."""

    def __init__(self, n):
        self.new, self.old, self.observed, self.due = n, 0, 1, 0.0


WATCH_HISTORY = 1000  # events kept for watches that start from an older resourceVersion


class Store:
    def __init__(self):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.streams = set()  # open watches (their handlers), for watch_close / watch_end
        self.bookmark_ms = 1000
        self.watch_max_s = None
        self.reset()

    def reset(self):
        with self.lock:
            self.rv = 98812000
            self.events = []  # (rv, resource, type, object) for watches
            self.objects = {}  # (resource, ns, name) -> object
            self.pods = {}  # (resource, ns, name) -> Pods, for workloads
            self.runs = {}
            self.forbidden = []
            self.rbac = None
            self.unready = []
            self.activity = []
            self.partition = []
            self.delay_ms = OPTS["delay_ms"]
            self.expire_continue = False
            self.tekton_versions = list(OPTS["tekton_versions"])
            self.token = OPTS["token"]
            for o in SEED_OBJECTS:
                self.put(copy.deepcopy(o))
            for r in SEED_RUNS:
                self._put_run(copy.deepcopy(r))
            self.events = []  # the seed's are dropped just below
            self.compacted_rv = self.rv  # a watch from before this is too old
            for h in list(self.streams):
                h.stream_stop = "drop"
            self.cond.notify_all()

    def changed(self, key, type_, obj=None):
        """Records a watch event for the object at key (obj: the object a DELETED removes)."""
        obj = obj if obj is not None else self.objects[key]
        self.events.append((int(obj["metadata"]["resourceVersion"]), key[0], type_,
                            copy.deepcopy(obj)))
        if len(self.events) > WATCH_HISTORY:
            self.compacted_rv = self.events.pop(0)[0]
        self.cond.notify_all()

    def removed(self, key):
        """Deletes the object at key, with its DELETED event."""
        obj = self.objects.pop(key, None)
        self.pods.pop(key, None)
        rv = self.bump()
        if obj is not None:
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = rv
            self.changed(key, "DELETED", obj)

    def bump(self):
        self.rv += 1
        return str(self.rv)

    def put(self, obj):
        """Stores obj (a whole object, as a test or a create gives it) with its bookkeeping."""
        res = RESOURCE_OF_KIND[obj["kind"]]
        md = obj.setdefault("metadata", {})
        md.setdefault("namespace", "default")
        md.setdefault("uid", str(uuid.uuid5(uuid.NAMESPACE_URL, md["namespace"] + "/" +
                                            md["name"] + "/" + res)))
        md.setdefault("creationTimestamp", now_rfc3339())
        if KINDS[res][3]:
            md.setdefault("generation", 1)
        if res == "secrets":
            fold_string_data(obj)
        md["resourceVersion"] = self.bump()
        key = (res, md["namespace"], md["name"])
        existed = key in self.objects
        self.objects[key] = obj
        if res in WORKLOADS:
            n = obj["spec"].get("replicas", 1)
            self.pods[key] = Pods(n)
            self.pods[key].observed = md["generation"]
            self.refresh_status(key, event=False)
        self.changed(key, "MODIFIED" if existed else "ADDED")
        return key

    def _put_run(self, r):
        md = r.setdefault("metadata", {})
        md["resourceVersion"] = self.bump()
        self.runs[(md.get("namespace", "default"), md["name"])] = r

    # ---- the controller ----

    def refresh_status(self, key, event=True):
        obj, p = self.objects[key], self.pods[key]
        ready = p.old + (0 if self.is_unready(key) else p.new)
        st = {"observedGeneration": p.observed, "replicas": p.new + p.old,
              "updatedReplicas": p.new, "readyReplicas": ready, "availableReplicas": ready}
        if key[0] == "statefulsets":
            st["currentReplicas"] = p.new
            keep = ("observedGeneration", "replicas", "availableReplicas")
        else:
            keep = ("observedGeneration",)
        st = {k: v for k, v in st.items() if v or k in keep}
        if obj.get("status") != st:
            obj["status"] = st
            obj["metadata"]["resourceVersion"] = self.bump()
            if event:
                self.changed(key, "MODIFIED")

    def is_unready(self, key):
        return "%s/%s/%s" % key in self.unready

    def step(self, key):
        """One pod moves, if any must. Returns True when something changed."""
        obj, p = self.objects[key], self.pods[key]
        target = obj["spec"].get("replicas", 1)
        unready = self.is_unready(key)
        if p.old > 0 and p.new >= target and (not unready or target == 0):
            p.old -= 1
        elif p.new < target:
            if key[0] == "statefulsets":
                if unready and p.new > 0:
                    return False  # OrderedReady: the next pod waits for this one
                if not self.make_claims(key, p.new + p.old):
                    return False
            p.new += 1
        elif p.new > target:
            p.new -= 1
        else:
            return False
        return True

    def make_claims(self, key, ordinal):
        """The claims of a StatefulSet pod, made when absent. False while one is going."""
        _, ns, name = key
        obj = self.objects[key]
        for t in obj["spec"].get("volumeClaimTemplates") or []:
            claim = "%s-%s-%d" % (t["metadata"]["name"], name, ordinal)
            cur = self.objects.get(("persistentvolumeclaims", ns, claim))
            if cur and cur["metadata"].get("deletionTimestamp"):
                return False
            if not cur:
                spec = copy.deepcopy(t.get("spec") or {})
                uid = str(uuid.uuid4())
                spec["volumeName"] = "pvc-" + uid
                labels = dict(((obj["spec"].get("selector") or {}).get("matchLabels")) or {})
                self.put({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                          "metadata": {"name": claim, "namespace": ns, "uid": uid,
                                       "labels": labels, "finalizers": [PVC_FINALIZER]},
                          "spec": spec,
                          "status": {"phase": "Bound",
                                     "accessModes": spec.get("accessModes", []),
                                     "capacity": (spec.get("resources") or {}).get(
                                         "requests", {})}})
        return True

    def claims_in_use(self):
        used = set()
        for (res, ns, name), p in self.pods.items():
            if res != "statefulsets":
                continue
            for t in self.objects[(res, ns, name)]["spec"].get("volumeClaimTemplates") or []:
                for i in range(p.new + p.old):
                    used.add((ns, "%s-%s-%d" % (t["metadata"]["name"], name, i)))
        return used

    def tick(self):
        now = time.monotonic()
        with self.lock:
            for key, p in self.pods.items():
                gen = self.objects[key]["metadata"]["generation"]
                if p.observed != gen:
                    p.observed = gen
                if now >= p.due and self.step(key):
                    p.due = now + self.delay_ms / 1000.0
                self.refresh_status(key)
            used = self.claims_in_use()
            for key in [k for k, o in self.objects.items() if k[0] == "persistentvolumeclaims"
                        and o["metadata"].get("deletionTimestamp") and k[1:] not in used]:
                self.removed(key)
            self.refresh_pdbs()

    def refresh_pdbs(self):
        for (res, ns, name), pdb in self.objects.items():
            if res != "poddisruptionbudgets":
                continue
            want = (pdb["spec"].get("selector") or {}).get("matchLabels") or {}
            healthy = expected = 0
            for (wres, wns, wname), p in self.pods.items():
                labels = (((self.objects[(wres, wns, wname)]["spec"].get("template") or {})
                           .get("metadata") or {}).get("labels")) or {}
                if wns == ns and want and all(labels.get(k) == v for k, v in want.items()):
                    healthy += p.old + (0 if self.is_unready((wres, wns, wname)) else p.new)
                    expected += p.new + p.old
            mina = pdb["spec"].get("minAvailable")
            desired = mina if isinstance(mina, int) else expected
            st = {"observedGeneration": pdb["metadata"]["generation"], "currentHealthy": healthy,
                  "desiredHealthy": desired, "expectedPods": expected,
                  "disruptionsAllowed": max(0, healthy - desired)}
            if pdb.get("status") != st:
                pdb["status"] = st
                pdb["metadata"]["resourceVersion"] = self.bump()
                self.changed((res, ns, name), "MODIFIED")


STORE = Store()


def controller():
    while True:
        STORE.tick()
        time.sleep(0.01)


def status_body(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason}
    if details:
        body["details"] = details
    body["code"] = code
    return code, list(JSON_HEADERS), json.dumps(body, separators=(",", ":")).encode()


def ok_body(obj, code=200):
    return code, list(JSON_HEADERS), json.dumps(obj, separators=(",", ":")).encode()


def group_resource(res, group):
    return res + ("." + group if group else "")


def not_found(res, group, name):
    d = {"name": name, "group": group, "kind": res} if group else {"name": name, "kind": res}
    return status_body(404, "NotFound", '%s "%s" not found' % (group_resource(res, group), name),
                       d)


def conflict(res, group, name):
    d = {"name": name, "group": group, "kind": res} if group else {"name": name, "kind": res}
    return status_body(409, "Conflict",
                       'Operation cannot be fulfilled on %s "%s": the object has been modified; '
                       "please apply your changes to the latest version and try again"
                       % (group_resource(res, group), name), d)


def invalid(kind, group, name, field, value, why):
    gk = kind + ("." + group if group else "")
    return status_body(422, "Invalid", '%s "%s" is invalid: %s: Invalid value: %s: %s'
                       % (gk, name, field, json.dumps(value), why),
                       {"name": name, "group": group, "kind": kind,
                        "causes": [{"reason": "FieldValueInvalid",
                                    "message": "Invalid value: %s: %s" % (json.dumps(value), why),
                                    "field": field}]})


MICROTIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$")


def lease_invalid(obj):
    """What the apiserver says of a Lease it cannot take, or None: a time that is not
    MicroTime fails decoding (400), a bad number fails validation (422)."""
    spec = obj.get("spec") or {}
    name = (obj.get("metadata") or {}).get("name")
    for f in ("acquireTime", "renewTime"):
        v = spec.get(f)
        if v is not None and (not isinstance(v, str) or not MICROTIME.match(v)):
            return status_body(400, "BadRequest", 'Lease in version "v1" cannot be handled as a '
                               'Lease: parsing time %s as "2006-01-02T15:04:05.000000Z07:00": '
                               "cannot parse" % json.dumps(v))
    for f, low in (("leaseDurationSeconds", 1), ("leaseTransitions", 0)):
        v = spec.get(f)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < low):
            return invalid("Lease", "coordination.k8s.io", name, "spec." + f, v,
                           "must be greater than %s" % ("0" if low else "or equal to 0"))
    return None


SELECTOR_PART = re.compile(r"\s*(!?)([A-Za-z0-9./_-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9._-]*)|"
                           r"\s+(in|notin)\s*\(([^)]*)\))?\s*$")


def split_selector(sel):
    parts, depth, cur = [], 0, ""
    for ch in sel:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return parts


def selector_matches(sel, labels):
    for part in split_selector(sel):
        m = SELECTOR_PART.match(part)
        if not m:
            raise ValueError(part)
        neg, key, op, val, setop, vals = m.groups()
        have = labels.get(key)
        if setop:
            choices = [v.strip() for v in vals.split(",")]
            ok = have in choices if setop == "in" else have not in choices
        elif op in ("=", "=="):
            ok = have == val
        elif op == "!=":
            ok = have != val
        else:
            ok = (have is None) if neg else (have is not None)
        if not ok:
            return False
    return True


FIELDS = {"metadata.name": lambda o: o["metadata"].get("name"),
          "metadata.namespace": lambda o: o["metadata"].get("namespace")}


def selected(obj, q):
    """Whether obj matches the request's labelSelector and fieldSelector (the two fields every
    kind supports). ValueError with the apiserver's message for a selector it cannot read."""
    sel = (q.get("labelSelector") or [""])[0]
    try:
        if sel and not selector_matches(sel, obj.get("metadata", {}).get("labels") or {}):
            return False
    except ValueError:
        raise ValueError('unable to parse requirement: invalid label selector "%s"' % sel)
    for part in [p for p in (q.get("fieldSelector") or [""])[0].split(",") if p]:
        m = re.match(r"^([a-z.]+)\s*(==|=|!=)\s*(.*)$", part)
        if not m or m.group(1) not in FIELDS:
            raise ValueError('"%s" is not a known field selector: only "metadata.name", '
                             '"metadata.namespace"' % (m.group(1) if m else part))
        have = FIELDS[m.group(1)](obj)
        if (have == m.group(3)) != (m.group(2) != "!="):
            return False
    return True


def to_v1beta1(r):
    r = copy.deepcopy(r)
    r["apiVersion"] = "tekton.dev/v1beta1"
    spec = r.get("spec", {})
    trt = spec.pop("taskRunTemplate", None)
    if trt and "serviceAccountName" in trt:
        spec["serviceAccountName"] = trt["serviceAccountName"]
    st = r.get("status", {})
    if "results" in st:
        st["pipelineResults"] = st.pop("results")
    return r


def scale_of(obj):
    """The autoscaling/v1 Scale of a workload: spec.replicas is omitempty (0 gives spec {})."""
    md = obj["metadata"]
    labels = ((obj["spec"].get("selector") or {}).get("matchLabels")) or {}
    n = obj["spec"].get("replicas", 1)
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                            "creationTimestamp")},
            "spec": {"replicas": n} if n else {},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                       "selector": ",".join("%s=%s" % kv for kv in sorted(labels.items()))}}


# ---- discovery: what kubectl needs to map a resource name to its path ----

VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def api_resources(group, version):
    out = []
    for res, (g, v, kind, _, scale, short) in sorted(KINDS.items()):
        if (g, v) != (group, version):
            continue
        r = {"name": res, "singularName": kind.lower(), "namespaced": True, "kind": kind,
             "verbs": VERBS}
        if short:
            r["shortNames"] = short
        out.append(r)
        if scale:
            out.append({"name": res + "/scale", "singularName": "", "namespaced": True,
                        "group": "autoscaling", "version": "v1", "kind": "Scale",
                        "verbs": ["get", "patch", "update"]})
    return out


def discovery(path, port):
    with STORE.lock:
        tekton = [v for v in ("v1", "v1beta1") if v in STORE.tekton_versions]
    if path == "/version":
        return ok_body({"major": "1", "minor": "30", "gitVersion": "v1.30.0-drwatch-fake",
                        "platform": "linux/amd64"})
    if path == "/api":
        return ok_body({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:%s" % port}]})
    groups = [("apps", ["v1"]), ("policy", ["v1"]), ("coordination.k8s.io", ["v1"])] + ([("tekton.dev", tekton)] if tekton else [])
    if path == "/apis":
        return ok_body({"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": g, "versions": [{"groupVersion": "%s/%s" % (g, v), "version": v}
                                     for v in vs],
             "preferredVersion": {"groupVersion": "%s/%s" % (g, vs[0]), "version": vs[0]}}
            for g, vs in groups]})
    m = re.match(r"^/api/(v1)$|^/apis/([^/]+)/([^/]+)$", path)
    if not m:
        return None
    group, version = ("", "v1") if m.group(1) else (m.group(2), m.group(3))
    if group == "tekton.dev" and version in tekton:
        resources = [{"name": "pipelineruns", "singularName": "pipelinerun", "namespaced": True,
                      "kind": "PipelineRun", "verbs": ["get", "list", "patch", "watch"],
                      "shortNames": ["pr", "prs"]}]
    elif (group, version) in (("", "v1"), ("apps", "v1"), ("policy", "v1"),
                              ("coordination.k8s.io", "v1")):
        resources = api_resources(group, version)
    else:
        return None
    return ok_body({"kind": "APIResourceList", "apiVersion": "v1",
                    "groupVersion": "%s/%s" % (group, version) if group else version,
                    "resources": resources})


API_PATH = re.compile(r"^/(?:api/(v1)|apis/([a-z0-9.-]+)/(v1|v1beta1))/namespaces/([a-z0-9-]+)/"
                      r"([a-z]+)(?:/([a-z0-9.-]+)(?:/(scale|status))?)?$")


def parse_path(path):
    """(group, version, resource, namespace, name, subresource), or None."""
    m = API_PATH.match(path)
    if not m:
        return None
    group = m.group(2) or ""
    version = m.group(1) or m.group(3)
    return group, version, m.group(5), m.group(4), m.group(6), m.group(7)


def verb_of(method, name, query):
    if method == "GET":
        if not name:
            return "watch" if "watch" in urllib.parse.parse_qs(query) else "list"
        return "get"
    return {"POST": "create", "PUT": "update", "PATCH": "patch",
            "DELETE": "delete" if name else "deletecollection"}.get(method, method.lower())


class Handler(fakebase.FakeHandler):
    # ---- errors ----
    def error_body(self, status):
        path = self.path.partition("?")[0]
        p = parse_path(path) or ("", "", "", None, None, None)
        group, _, res, ns, name, _ = p
        gr = group_resource(res, group)
        if status == 401:
            _, h, b = status_body(401, "Unauthorized", "Unauthorized")
        elif status == 403:
            _, h, b = self.forbidden_body("get" if name else "list", res, None, group, name, ns)
        elif status == 404:
            if name:
                _, h, b = not_found(res, group, name)
            else:
                _, h, b = status_body(404, "NotFound",
                                      "the server could not find the requested resource")
        elif status == 409:
            _, h, b = conflict(res, group, name)
            if not group:  # the old fake's shape for the core group: kept for its tests
                _, h, b = status_body(409, "Conflict",
                                      'Operation cannot be fulfilled on %s "%s": the object has '
                                      "been modified; please apply your changes to the latest "
                                      "version and try again" % (gr, name),
                                      {"name": name, "kind": res})
        elif status == 429:
            _, h, b = status_body(429, "TooManyRequests",
                                  "Too many requests, please try again later.")
        elif status == 503:
            _, h, b = status_body(503, "ServiceUnavailable", "the server is currently unable "
                                  "to handle the request")
        else:
            _, h, b = status_body(status, "InternalError",
                                  "Internal error occurred: fake error %d" % status)
        return tuple(h), b

    def forbidden_body(self, verb, res, sub, group, name, ns):
        gr = group_resource(res, group)
        who = '%s "%s"' % (gr, name) if name else gr
        details = ({"name": name, "group": group, "kind": res} if name and group else
                   ({"name": name, "kind": res} if name else
                    ({"group": group, "kind": res} if group else {"kind": res})))
        return status_body(403, "Forbidden",
                           '%s is forbidden: User "%s" cannot %s resource "%s" in API group '
                           '"%s" in the namespace "%s"' % (who, OPTS["user"], verb,
                                                           res + ("/" + sub if sub else ""),
                                                           group, ns), details)

    # ---- control ----
    def _control(self, path, body):
        if path == "/__fake/pipelinerun":
            return self.control_pipelinerun(body)
        if path != "/__fake/state":
            return super()._control(path, body)
        st = json.loads(body or b"{}")
        with STORE.lock:
            if "configmaps" in st:
                keep = set(("configmaps", (c.get("metadata") or {}).get("namespace", "default"),
                            (c.get("metadata") or {}).get("name")) for c in st["configmaps"])
                for key in [k for k in STORE.objects if k[0] == "configmaps" and k not in keep]:
                    STORE.removed(key)
                for cm in st["configmaps"]:
                    cm.setdefault("kind", "ConfigMap")
                    cm.setdefault("apiVersion", "v1")
                    STORE.put(cm)
            for obj in st.get("objects", []):
                STORE.put(obj)
            for res, ns, name in st.get("delete", []):
                STORE.removed((res, ns, name))
            if "pipelineruns" in st:
                STORE.runs = {}
                for r in st["pipelineruns"]:
                    STORE._put_run(r)
            if "delete_configmap" in st:
                STORE.removed(("configmaps",) + tuple(st["delete_configmap"]))
            if st.get("compact"):
                STORE.compacted_rv = int(STORE.bump())
            for flag, how in (("watch_close", "drop"), ("watch_end", "end")):
                if st.get(flag):
                    for h in list(STORE.streams):
                        h.stream_stop = how
                    STORE.cond.notify_all()
            if st.get("clear_activity"):
                STORE.activity = []
            if "partition" in st:
                STORE.partition = st["partition"]
                STORE.cond.notify_all()
            for key in ("tekton_versions", "token", "forbidden", "expire_continue", "rbac",
                        "unready", "delay_ms", "bookmark_ms", "watch_max_s"):
                if key in st:
                    setattr(STORE, key, st[key])
        return 200, [], b"ok\n"

    def on_reset(self):
        STORE.reset()

    def control_pipelinerun(self, body):
        """POST /__fake/pipelinerun: one run made or changed (see the top of this file)."""
        st = json.loads(body or b"{}")
        ns, name = st["namespace"], st["name"]
        with STORE.lock:
            cur = STORE.runs.get((ns, name)) or {
                "apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
                "metadata": {"name": name, "namespace": ns}}
            if st.get("unless_cancelled") and (cur.get("spec") or {}).get("status") in (
                    "Cancelled", "CancelledRunFinally", "StoppedRunFinally"):
                return 200, [], b"cancelled: left alone\n"
            STORE._put_run(k8s_patch.merge_patch(cur, st.get("merge") or {}))
        return 200, [], b"ok\n"

    # ---- dispatch: the API paths have variables, so routes are matched here ----
    def _dispatch(self, method):
        path, _, query = self.path.partition("?")
        if path == "/activity" and method == "GET":
            with STORE.lock:
                return self._send(*ok_body(STORE.activity))
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        self.entry = None
        if not path.startswith("/__fake/") and self.partitioned():
            return None
        if method != "GET" and not path.startswith("/__fake/"):
            self.entry = self.record(method, body)
        if not path.startswith("/__fake/") and not self.authorized():
            return self._send(*status_body(401, "Unauthorized", "Unauthorized"))
        # fakebase reads the body again: hand it a copy, then the connection back.
        conn, self.rfile = self.rfile, io.BytesIO(body)
        try:
            return super()._dispatch(method)
        finally:
            self.rfile = conn

    def record(self, method, body):
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode("utf-8", "replace")
        auth = self.headers.get("Authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else None
        entry = {"method": method, "path": self.path,
                 "content_type": (self.headers.get("Content-Type") or "").split(";")[0].strip(),
                 "body": parsed, "status": None, "time": time.time(), "token": token}
        with STORE.lock:
            STORE.activity.append(entry)
        return entry

    def _send(self, status, headers, body, close=False):
        if getattr(self, "entry", None) is not None:
            with STORE.lock:
                self.entry["status"] = status
            self.entry = None
        return super()._send(status, headers, body, close)

    def cut_off(self):
        """The partition rule this request falls under, or None."""
        auth = self.headers.get("Authorization") or ""
        ua = self.headers.get("User-Agent") or ""
        for rule in STORE.partition:
            if ("token" in rule and auth == "Bearer " + rule["token"]) or \
                    ("user_agent" in rule and rule["user_agent"] in ua):
                return rule
        return None

    def partitioned(self):
        """Whether a partition keeps this request from the store: then it is never answered
        (held until the partition is lifted, or closed at once) and the connection closes."""
        with STORE.lock:
            rule = self.cut_off()
            if rule is None:
                return False
            if rule.get("how", "hang") == "hang":
                end = time.monotonic() + 300
                while self.cut_off() is not None and time.monotonic() < end:
                    STORE.cond.wait(1.0)
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return True

    def authorized(self):
        with STORE.lock:
            token = STORE.token
        return not token or self.headers.get("Authorization") == "Bearer " + token

    def routes(self):
        path = self.path.partition("?")[0]
        return {(m, path): Handler.api for m in ("GET", "POST", "PATCH", "PUT", "DELETE")}

    def api(self, query, body):
        path = self.path.partition("?")[0]
        method = self.command
        if method == "GET":
            r = discovery(path, self.server.server_address[1])
            if r:
                return r
        p = parse_path(path)
        if not p:
            return status_body(404, "NotFound", "the server could not find the requested resource")
        group, version, res, ns, name, sub = p
        q = urllib.parse.parse_qs(query)
        verb = verb_of(method, name, query)
        if group == "tekton.dev" and res == "pipelineruns" and not sub:
            with STORE.lock:
                served = version in STORE.tekton_versions
            if not served:
                return status_body(404, "NotFound",
                                   "the server could not find the requested resource")
            if self.denied(verb, group, res, None):
                return self.forbidden_body(verb, res, None, group, name, ns)
            with STORE.lock:  # read, change and store at once, as the apiserver's retries do
                return self.pipelineruns(method, version, ns, name, q, body)
        kind = KINDS.get(res)
        if not kind or (kind[0], kind[1]) != (group, version) or (sub and not name) or \
                (sub == "scale" and not kind[4]) or sub == "status":
            return status_body(404, "NotFound", "the server could not find the requested resource")
        if self.denied(verb, group, res, sub):
            return self.forbidden_body(verb, res, sub, group, name, ns)
        if verb == "watch" and method == "GET":
            return self.watch(res, ns, q)
        with STORE.lock:  # read, change and store at once, as the apiserver's retries do
            if sub == "scale":
                return self.scale(method, res, ns, name, body)
            return self.objects(method, res, ns, name, q, body)

    def denied(self, verb, group, res, sub):
        with STORE.lock:
            if [verb, res] in STORE.forbidden:
                return True
            if STORE.rbac is None:
                return False
            rule = "%s %s%s %s" % (group or '""', res, "/" + sub if sub else "", verb)
            return rule not in STORE.rbac

    # ---- lists ----
    def list_of(self, kind, api_version, objs, q):
        try:
            objs = [o for o in objs if selected(o, q)]
        except ValueError as e:
            return status_body(400, "BadRequest", str(e))
        objs.sort(key=lambda o: o["metadata"]["name"])
        start = 0
        cont = (q.get("continue") or [""])[0]
        with STORE.lock:
            rv = str(STORE.rv)
            expire = STORE.expire_continue
        if cont:
            if expire:
                return status_body(410, "Expired",
                                   "The provided continue parameter is too old to display a "
                                   "consistent list result. You can start a new list without "
                                   "the continue parameter.")
            try:
                tok = json.loads(base64.b64decode(cont))
                start = int(tok["start"])
            except (ValueError, KeyError, TypeError):
                return status_body(400, "BadRequest", "continue key is not valid")
        limit = int((q.get("limit") or ["0"])[0] or 0)
        page = objs[start:start + limit] if limit > 0 else objs[start:]
        md = {"resourceVersion": rv}
        nxt = start + len(page)
        if limit > 0 and nxt < len(objs):
            md["continue"] = base64.b64encode(json.dumps(
                {"v": "meta.k8s.io/v1", "rv": int(rv), "start": nxt}).encode()).decode()
            md["remainingItemCount"] = len(objs) - nxt
        else:
            md["continue"] = ""
        return ok_body({"apiVersion": api_version, "kind": kind, "metadata": md, "items": page})

    # ---- watches ----
    def watch(self, res, ns, q):
        """A watch on a collection (see the top of this file); answers itself, chunked."""
        try:
            selected({"metadata": {}}, q)
        except ValueError as e:
            return status_body(400, "BadRequest", str(e))
        rv = (q.get("resourceVersion") or [""])[0]
        bookmarks = (q.get("allowWatchBookmarks") or [""])[0] in ("true", "1")
        timeout = float((q.get("timeoutSeconds") or ["1800"])[0])
        with STORE.lock:
            if STORE.watch_max_s is not None:
                timeout = min(timeout, float(STORE.watch_max_s))
            now = STORE.rv
            if rv not in ("", "0") and (not rv.isdigit() or int(rv) < STORE.compacted_rv):
                first = [{"type": "ERROR", "object": {
                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": "too old resource version: %s (%d)" % (rv, now),
                    "reason": "Expired", "code": 410}}]
                cursor = None
            elif rv in ("", "0"):
                first = [{"type": "ADDED", "object": copy.deepcopy(o)}
                         for (r, n, _), o in sorted(STORE.objects.items())
                         if r == res and n == ns and selected(o, q)]
                cursor = now
            else:
                first, cursor = [], int(rv)
            self.stream_stop = None
            STORE.streams.add(self)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            self.stream_events(res, ns, q, first, cursor, bookmarks, timeout)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            with STORE.lock:
                STORE.streams.discard(self)
        return None

    def write_event(self, ev):
        line = json.dumps(ev, separators=(",", ":")).encode() + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
        self.wfile.flush()

    def stream_events(self, res, ns, q, first, cursor, bookmarks, timeout):
        end = time.monotonic() + timeout
        next_bookmark = time.monotonic() + STORE.bookmark_ms / 1000.0

        def due():
            return [(r, t, o) for r, kind, t, o in STORE.events
                    if r > cursor and kind == res and o["metadata"].get("namespace") == ns
                    and selected(o, q)]
        for ev in first:
            self.write_event(ev)
        while cursor is not None:
            with STORE.lock:
                evs = due()
                wait = min(end, next_bookmark) - time.monotonic()
                if not evs and not self.stream_stop and wait > 0:
                    STORE.cond.wait(wait)
                    evs = due()
                stop, now = self.stream_stop, STORE.rv
            for r, t, o in evs:
                self.write_event({"type": t, "object": o})
                cursor = r
            if stop == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if stop == "end" or time.monotonic() >= end:
                break
            if time.monotonic() >= next_bookmark:
                next_bookmark = time.monotonic() + STORE.bookmark_ms / 1000.0
                if bookmarks:
                    kind = KINDS[res]
                    self.write_event({"type": "BOOKMARK", "object": {
                        "kind": kind[2], "apiVersion": "%s/%s" % (kind[0], kind[1]) if kind[0]
                        else kind[1], "metadata": {"resourceVersion": str(max(now, cursor))}}})
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True

    # ---- every kind but PipelineRuns ----
    def objects(self, method, res, ns, name, q, body):
        group, version, kind = KINDS[res][:3]
        api_version = "%s/%s" % (group, version) if group else version
        with STORE.lock:
            if not name:
                objs = [copy.deepcopy(o) for (r, n, _), o in STORE.objects.items()
                        if r == res and n == ns]
            cur = copy.deepcopy(STORE.objects.get((res, ns, name))) if name else None
        if not name and method == "GET":
            for o in objs:
                o.pop("kind", None)
                o.pop("apiVersion", None)
            return self.list_of(kind + "List", api_version, objs, q)
        if method == "POST" and not name:
            return self.create(res, ns, body)
        if not name:
            return status_body(405, "MethodNotAllowed", "the server does not allow this method "
                               "on the requested resource")
        if cur is None:
            return not_found(res, group, name)
        if method == "GET":
            return ok_body(cur)
        if method == "DELETE":
            return self.delete(res, ns, name)
        try:
            patch = json.loads(body or b"{}")
        except ValueError:
            return status_body(400, "BadRequest", "error decoding patch: invalid JSON")
        want_rv = (patch.get("metadata") or {}).get("resourceVersion") \
            if isinstance(patch, dict) else None
        if want_rv and want_rv != cur["metadata"]["resourceVersion"]:
            return conflict(res, group, name)
        if method == "PUT":
            new = patch
        else:
            try:
                new = k8s_patch.apply(self.content_type(), cur, patch, crd=False)
            except k8s_patch.PatchError as e:
                return status_body(e.code, e.reason, e.message)
        return self.store(res, ns, name, cur, new)

    def content_type(self):
        return (self.headers.get("Content-Type") or "").split(";")[0].strip()

    def create(self, res, ns, body):
        group, version, kind = KINDS[res][:3]
        try:
            obj = json.loads(body or b"{}")
        except ValueError:
            return status_body(400, "BadRequest", "error decoding body: invalid JSON")
        name = obj.get("metadata", {}).get("name")
        bad = lease_invalid(obj) if res == "leases" else None
        if bad:
            return bad
        with STORE.lock:
            if (res, ns, name) in STORE.objects:
                d = {"name": name, "group": group, "kind": res} if group else \
                    {"name": name, "kind": res}
                return status_body(409, "AlreadyExists", '%s "%s" already exists'
                                   % (group_resource(res, group), name), d)
            obj.setdefault("metadata", {})["namespace"] = ns
            obj.update({"kind": kind, "apiVersion": "%s/%s" % (group, version) if group
                        else version})
            for k in ("uid", "resourceVersion", "generation", "creationTimestamp"):
                obj["metadata"].pop(k, None)
            STORE.put(obj)
            return ok_body(obj, 201)

    def delete(self, res, ns, name):
        with STORE.lock:
            obj = STORE.objects[(res, ns, name)]
            if res == "persistentvolumeclaims" and PVC_FINALIZER in (
                    obj["metadata"].get("finalizers") or []):
                # pvc-protection: marked now, gone once no pod uses it (the controller).
                obj["metadata"].setdefault("deletionTimestamp", now_rfc3339())
                obj["metadata"]["deletionGracePeriodSeconds"] = 0
                obj["metadata"]["resourceVersion"] = STORE.bump()
                STORE.changed((res, ns, name), "MODIFIED")
                return ok_body(copy.deepcopy(obj))
            STORE.removed((res, ns, name))
        group = KINDS[res][0]
        d = {"name": name, "group": group, "kind": res} if group else {"name": name, "kind": res}
        d["uid"] = obj["metadata"].get("uid")
        return ok_body({"kind": "Status", "apiVersion": "v1", "metadata": {},
                        "status": "Success", "details": d})

    def store(self, res, ns, name, cur, new):
        """Validates and stores the object a patch or an update made."""
        group, version, kind, has_gen = KINDS[res][:4]
        if not isinstance(new, dict):
            return status_body(400, "BadRequest", "the patch does not make an object")
        md = new.setdefault("metadata", {})
        for k in ("name", "namespace", "uid", "creationTimestamp", "generation",
                  "deletionTimestamp"):
            if k in cur["metadata"]:
                md[k] = cur["metadata"][k]
        md["name"], md["namespace"] = name, ns
        new.update({"kind": kind, "apiVersion": "%s/%s" % (group, version) if group
                    else version})
        if res == "secrets":
            fold_string_data(new)
        bad = lease_invalid(new) if res == "leases" else None
        if bad:
            return bad
        if res in WORKLOADS:
            new["status"] = cur.get("status", {})  # the main resource never writes status
            n = (new.get("spec") or {}).get("replicas", 1)
            if not isinstance(n, int) or isinstance(n, bool):
                return status_body(400, "BadRequest", "json: cannot unmarshal %s into Go struct "
                                   "field %sSpec.spec.replicas of type int32"
                                   % (type(n).__name__, kind))
            if n < 0:
                return invalid(kind, group, name, "spec.replicas", n,
                               "must be greater than or equal to 0")
        with STORE.lock:
            key = (res, ns, name)
            if has_gen and new.get("spec") != cur.get("spec"):
                md["generation"] = cur["metadata"].get("generation", 1) + 1
            md["resourceVersion"] = STORE.bump()
            STORE.objects[key] = new
            if res in WORKLOADS:
                self.spec_changed(key, cur, new)
                STORE.refresh_status(key, event=False)
            STORE.changed(key, "MODIFIED")
            return ok_body(copy.deepcopy(new))

    @staticmethod
    def spec_changed(key, cur, new):
        p = STORE.pods[key]
        if (new.get("spec") or {}).get("template") != (cur.get("spec") or {}).get("template"):
            p.old += p.new  # a rollout: every running pod is now of the old template
            p.new = 0
        if new.get("spec") != cur.get("spec"):
            p.due = time.monotonic() + STORE.delay_ms / 1000.0

    def scale(self, method, res, ns, name, body):
        group = KINDS[res][0]
        with STORE.lock:
            cur = copy.deepcopy(STORE.objects.get((res, ns, name)))
        if cur is None:
            return not_found(res, group, name)
        view = scale_of(cur)
        if method == "GET":
            return ok_body(view)
        if method not in ("PATCH", "PUT"):
            return status_body(405, "MethodNotAllowed", "the server does not allow this method "
                               "on the requested resource")
        try:
            patch = json.loads(body or b"{}")
        except ValueError:
            return status_body(400, "BadRequest", "error decoding patch: invalid JSON")
        want_rv = (patch.get("metadata") or {}).get("resourceVersion") \
            if isinstance(patch, dict) else None
        if want_rv and want_rv != cur["metadata"]["resourceVersion"]:
            return conflict(res, group, name)
        try:
            new_view = patch if method == "PUT" else k8s_patch.apply(self.content_type(), view,
                                                                     patch, crd=False)
        except k8s_patch.PatchError as e:
            return status_body(e.code, e.reason, e.message)
        n = ((new_view or {}).get("spec") or {}).get("replicas", 0)
        if not isinstance(n, int) or isinstance(n, bool):
            return status_body(400, "BadRequest", "json: cannot unmarshal %s into Go struct field "
                               "ScaleSpec.spec.replicas of type int32" % type(n).__name__)
        if n < 0:
            return invalid("Scale", "autoscaling", name, "spec.replicas", n,
                           "must be greater than or equal to 0")
        new = copy.deepcopy(cur)
        new["spec"]["replicas"] = n
        r = self.store(res, ns, name, cur, new)
        if r[0] != 200:
            return r
        with STORE.lock:
            return ok_body(scale_of(STORE.objects[(res, ns, name)]))

    # ---- PipelineRuns ----
    def pipelineruns(self, method, version, ns, name, q, body):
        if method not in ("GET", "PATCH"):
            return status_body(405, "MethodNotAllowed", "the server does not allow this "
                               "method on the requested resource")
        conv = (lambda r: r) if version == "v1" else to_v1beta1
        with STORE.lock:
            if not name:
                objs = [conv(copy.deepcopy(v)) for (n, _), v in STORE.runs.items() if n == ns]
            else:
                cur = copy.deepcopy(STORE.runs.get((ns, name)))
        if not name:
            return self.list_of("PipelineRunList", "tekton.dev/" + version, objs, q)
        if cur is None:
            return not_found("pipelineruns", "tekton.dev", name)
        if method == "GET":
            return ok_body(conv(cur))
        try:
            patch = json.loads(body or b"{}")
            new = k8s_patch.apply(self.content_type(), cur, patch, crd=True)
        except ValueError:
            return status_body(400, "BadRequest", "error decoding patch: invalid JSON")
        except k8s_patch.PatchError as e:
            return status_body(e.code, e.reason, e.message)
        if (new.get("spec") or {}).get("status") in ("Cancelled", "CancelledRunFinally"):
            c = new["status"]["conditions"][0]
            if c["status"] == "Unknown":
                c.update({"status": "False", "reason": "Cancelled",
                          "message": 'PipelineRun "%s" was cancelled' % name})
        with STORE.lock:
            STORE._put_run(new)
        return ok_body(conv(new))


def main():
    args = sys.argv[1:]
    port = args.pop(0)
    tls = None
    while args:
        flag = args.pop(0)
        if flag == "--token":
            OPTS["token"] = args.pop(0)
        elif flag == "--tekton-versions":
            OPTS["tekton_versions"] = args.pop(0).split(",")
        elif flag == "--user":
            OPTS["user"] = args.pop(0)
        elif flag == "--delay-ms":
            OPTS["delay_ms"] = int(args.pop(0))
        elif flag == "--tls":
            tls = (args.pop(0), args.pop(0))
        else:
            raise SystemExit("k8s_fake: unknown option " + flag)
    STORE.reset()
    threading.Thread(target=controller, daemon=True).start()
    fakebase.serve(Handler, port, tls=tls)


if __name__ == "__main__":
    main()
