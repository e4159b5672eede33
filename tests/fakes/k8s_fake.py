#!/usr/bin/env python3
"""A fake kube-apiserver for drwatch's tests: ConfigMaps and Tekton PipelineRuns, answering as
/work/shared/reference/kubernetes.md and tekton.md say.

Usage: k8s_fake.py PORT [--token TOKEN] [--tekton-versions v1,v1beta1] [--tls CERT KEY]
                        [--user system:serviceaccount:ops:drwatch]

Served:
  GET    /api/v1/namespaces/{ns}/configmaps[?labelSelector=&limit=&continue=]
  GET    /api/v1/namespaces/{ns}/configmaps/{name}
  POST   /api/v1/namespaces/{ns}/configmaps                       (409 AlreadyExists)
  PATCH  /api/v1/namespaces/{ns}/configmaps/{name}                merge-patch, json-patch is 415
                                                                  here; stale rv: 409 Conflict
  PUT    /api/v1/namespaces/{ns}/configmaps/{name}                (rv checked when given)
  GET    /apis/tekton.dev/{v1,v1beta1}/namespaces/{ns}/pipelineruns[?labelSelector=&limit=&continue=]
  GET    /apis/tekton.dev/{ver}/namespaces/{ns}/pipelineruns/{name}
  PATCH  /apis/tekton.dev/{ver}/namespaces/{ns}/pipelineruns/{name}   merge-patch (cancel);
                                                                  strategic merge is 415 (CRD)
Every error is a Status object with code equal to the HTTP status. With --token, a request
without "Authorization: Bearer TOKEN" gets 401. A Tekton version not in --tekton-versions
answers 404 (the server could not find the requested resource), as a cluster whose Tekton
does not serve it. resourceVersion is bumped on every write.

Test control (besides fakebase's /__fake/mode, /__fake/requests, /__fake/reset):
  POST /__fake/state {"configmaps": [objects]}     replace every ConfigMap
                     {"pipelineruns": [objects]}   replace every PipelineRun (v1 form)
                     {"tekton_versions": ["v1beta1"]}
                     {"token": "..."}               change the accepted token
                     {"forbidden": [["get", "configmaps"], ["list", "pipelineruns"]]}
                     {"expire_continue": true}     continue tokens answer 410 Expired
                     {"delete_configmap": [ns, name]}
  POST /__fake/pipelinerun {"namespace": ns, "name": n, "merge": {...}, "unless_cancelled": b}
                     merge-patch one PipelineRun (v1 form), made from {} when absent, leaving
                     the others alone; with unless_cancelled, a run whose spec.status is a
                     cancel is left as it is (tekton_listener_fake.py makes and ends runs so)
"""
import base64
import copy
import json
import os
import re
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakebase  # noqa: E402

OPTS = {"token": None, "tekton_versions": ["v1", "v1beta1"],
        "user": "system:serviceaccount:ops:drwatch", "tls": None}

SEED_CONFIGMAPS = [
    {"kind": "ConfigMap", "apiVersion": "v1",
     "metadata": {"name": "switchover-state-dev", "namespace": "ops",
                  "uid": "8f7c2a0e-5d1b-4c3e-9f21-7a6b5c4d3e2f",
                  "creationTimestamp": "2024-05-01T12:00:00Z",
                  "labels": {"app": "switchover", "env": "dev", "name": "switchover-config"}},
     "data": {"last_stable_state": "active-passive",
              "last_stable_state_ts": "2024-06-10T09:41:17.591398", "transition": ""}},
]


def run(name, pipeline, status, reason, message, start, completion=None, event_id=None,
        created=None, ns="ops-pipelines"):
    labels = {"tekton.dev/pipeline": pipeline}
    if event_id:
        labels.update({"triggers.tekton.dev/eventlistener": "ops-listener",
                       "triggers.tekton.dev/trigger": pipeline + "-trigger",
                       "triggers.tekton.dev/triggers-eventid": event_id})
    st = {"conditions": [{"type": "Succeeded", "status": status,
                          "lastTransitionTime": completion or start, "reason": reason,
                          "message": message}],
          "startTime": start}
    if completion:
        st["completionTime"] = completion
    return {"apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
            "metadata": {"name": name, "namespace": ns, "uid": "uid-" + name, "generation": 1,
                         "creationTimestamp": created or start, "labels": labels},
            "spec": {"pipelineRef": {"name": pipeline}, "timeouts": {"pipeline": "1h0m0s"},
                     "taskRunTemplate": {"serviceAccountName": "pipeline"}},
            "status": st}


SEED_RUNS = [
    run("switchover-golddr-8x2kq", "switchover", "True", "Succeeded",
        "Tasks Completed: 4 (Failed: 0, Cancelled 0), Skipped: 0",
        "2024-06-10T09:30:02Z", "2024-06-10T09:41:17Z",
        event_id="14a657c3-6816-45bf-b214-4afdaefc4ebd"),
    run("deploy-kong-config-7hd2m", "deploy-kong-config", "Unknown", "Running",
        "Tasks Completed: 1 (Failed: 0, Cancelled 0), Incomplete: 2, Skipped: 0",
        "2024-06-10T09:44:51Z"),
    run("db-backup-verify-q9w8e", "db-backup-verify", "False", "Failed",
        "Tasks Completed: 2 (Failed: 1, Cancelled 0), Skipped: 1",
        "2024-06-10T08:00:00Z", "2024-06-10T08:07:44Z"),
    run("switchover-golddr-c4nc1", "switchover", "False", "Cancelled",
        'PipelineRun "switchover-golddr-c4nc1" was cancelled',
        "2024-06-09T09:30:02Z", "2024-06-09T09:32:00Z",
        event_id="7d1f6b90-3c2e-4b8a-9a51-0f3e2d4c5b6a"),
    run("deploy-kong-config-t1me0", "deploy-kong-config", "False", "PipelineRunTimeout",
        'PipelineRun "deploy-kong-config-t1me0" failed to finish within "1h0m0s"',
        "2024-06-09T10:00:00Z", "2024-06-09T11:00:00Z"),
]


class Store:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.rv = 98812000
            self.configmaps = {}
            self.runs = {}
            self.forbidden = []
            self.expire_continue = False
            self.tekton_versions = list(OPTS["tekton_versions"])
            self.token = OPTS["token"]
            for cm in SEED_CONFIGMAPS:
                self._put_cm(copy.deepcopy(cm))
            for r in SEED_RUNS:
                self._put_run(copy.deepcopy(r))

    def bump(self):
        self.rv += 1
        return str(self.rv)

    def _put_cm(self, cm):
        md = cm.setdefault("metadata", {})
        md["resourceVersion"] = self.bump()
        self.configmaps[(md.get("namespace", "default"), md["name"])] = cm

    def _put_run(self, r):
        md = r.setdefault("metadata", {})
        md["resourceVersion"] = self.bump()
        self.runs[(md.get("namespace", "default"), md["name"])] = r


STORE = Store()


def status_body(code, reason, message, details=None):
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason}
    if details:
        body["details"] = details
    body["code"] = code
    return code, [("Content-Type", "application/json")], json.dumps(
        body, separators=(",", ":")).encode()


def dumps(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


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


class Handler(fakebase.FakeHandler):
    # ---- errors ----
    def error_body(self, status):
        path = self.path.partition("?")[0]
        res, group, name, ns = self.resource_of(path)
        gr = res + ("." + group if group else "")
        if status == 401:
            _, h, b = status_body(401, "Unauthorized", "Unauthorized")
        elif status == 403:
            _, h, b = self.forbidden_body("get" if name else "list", res, group, name, ns)
        elif status == 404:
            if name:
                d = {"name": name, "kind": res}
                if group:
                    d = {"name": name, "group": group, "kind": res}
                _, h, b = status_body(404, "NotFound", '%s "%s" not found' % (gr, name), d)
            else:
                _, h, b = status_body(404, "NotFound",
                                      "the server could not find the requested resource")
        elif status == 409:
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

    @staticmethod
    def resource_of(path):
        m = re.match(r"^/api/v1/namespaces/([^/]+)/([^/]+)(?:/([^/]+))?$", path)
        if m:
            return m.group(2), "", m.group(3), m.group(1)
        m = re.match(r"^/apis/([^/]+)/[^/]+/namespaces/([^/]+)/([^/]+)(?:/([^/]+))?$", path)
        if m:
            return m.group(3), m.group(1), m.group(4), m.group(2)
        return "", "", None, None

    def forbidden_body(self, verb, res, group, name, ns):
        gr = res + ("." + group if group else "")
        who = '%s "%s"' % (gr, name) if name else gr
        return status_body(403, "Forbidden",
                           '%s is forbidden: User "%s" cannot %s resource "%s" in API group '
                           '"%s" in the namespace "%s"' % (who, OPTS["user"], verb, res, group,
                                                           ns),
                           {"name": name, "group": group, "kind": res} if name and group else
                           ({"name": name, "kind": res} if name else
                            ({"group": group, "kind": res} if group else {"kind": res})))

    # ---- control ----
    def _control(self, path, body):
        if path == "/__fake/state":
            st = json.loads(body or b"{}")
            with STORE.lock:
                if "configmaps" in st:
                    STORE.configmaps = {}
                    for cm in st["configmaps"]:
                        STORE._put_cm(cm)
                if "pipelineruns" in st:
                    STORE.runs = {}
                    for r in st["pipelineruns"]:
                        STORE._put_run(r)
                if "delete_configmap" in st:
                    STORE.configmaps.pop(tuple(st["delete_configmap"]), None)
                    STORE.bump()
                for key in ("tekton_versions", "token", "forbidden", "expire_continue"):
                    if key in st:
                        setattr(STORE, key, st[key])
            return 200, [], b"ok\n"
        if path == "/__fake/pipelinerun":
            return self.control_pipelinerun(body)
        return super()._control(path, body)

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
            STORE._put_run(merge_patch(cur, st.get("merge") or {}))
        return 200, [], b"ok\n"

    # ---- dispatch: the API paths have variables, so routes are matched here ----
    def _dispatch(self, method):
        path = self.path.partition("?")[0]
        if not path.startswith("/__fake/") and not self.authorized():
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            return self._send(*status_body(401, "Unauthorized", "Unauthorized"))
        return super()._dispatch(method)

    def authorized(self):
        with STORE.lock:
            token = STORE.token
        return not token or self.headers.get("Authorization") == "Bearer " + token

    def routes(self):
        path = self.path.partition("?")[0]
        handler = Handler.api
        return {(m, path): handler for m in ("GET", "POST", "PATCH", "PUT", "DELETE")}

    def api(self, query, body):
        path = self.path.partition("?")[0]
        method = self.command
        q = urllib.parse.parse_qs(query)
        m = re.match(r"^/api/v1/namespaces/([a-z0-9-]+)/configmaps(?:/([a-z0-9.-]+))?$", path)
        if m:
            return self.configmaps(method, m.group(1), m.group(2), q, body)
        m = re.match(r"^/apis/tekton\.dev/(v1|v1beta1)/namespaces/([a-z0-9-]+)/pipelineruns"
                     r"(?:/([a-z0-9.-]+))?$", path)
        if m:
            with STORE.lock:
                served = m.group(1) in STORE.tekton_versions
            if not served:
                return status_body(404, "NotFound",
                                   "the server could not find the requested resource")
            return self.pipelineruns(method, m.group(1), m.group(2), m.group(3), q, body)
        return status_body(404, "NotFound", "the server could not find the requested resource")

    def is_forbidden(self, verb, res):
        with STORE.lock:
            return [verb, res] in STORE.forbidden

    # ---- lists ----
    def list_of(self, kind, api_version, objs, q):
        sel = (q.get("labelSelector") or [""])[0]
        if sel:
            try:
                objs = [o for o in objs
                        if selector_matches(sel, o.get("metadata", {}).get("labels") or {})]
            except ValueError:
                return status_body(400, "BadRequest",
                                   'unable to parse requirement: invalid label selector "%s"'
                                   % sel)
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
        return 200, [("Content-Type", "application/json")], dumps(
            {"apiVersion": api_version, "kind": kind, "metadata": md, "items": page})

    # ---- ConfigMaps ----
    def configmaps(self, method, ns, name, q, body):
        verb = {"GET": "get" if name else "list", "POST": "create", "PATCH": "patch",
                "PUT": "update", "DELETE": "delete"}[method]
        if self.is_forbidden(verb, "configmaps"):
            return self.forbidden_body(verb, "configmaps", "", name, ns)
        with STORE.lock:
            if not name and method == "GET":
                objs = [copy.deepcopy(v) for (n, _), v in STORE.configmaps.items() if n == ns]
            else:
                cur = copy.deepcopy(STORE.configmaps.get((ns, name)))
        if not name and method == "GET":
            for o in objs:
                o.pop("kind", None)
                o.pop("apiVersion", None)
            return self.list_of("ConfigMapList", "v1", objs, q)
        if method == "POST":
            obj = json.loads(body or b"{}")
            name = obj.get("metadata", {}).get("name")
            with STORE.lock:
                if (ns, name) in STORE.configmaps:
                    return status_body(409, "AlreadyExists",
                                       'configmaps "%s" already exists' % name,
                                       {"name": name, "kind": "configmaps"})
                obj.setdefault("metadata", {})["namespace"] = ns
                obj.update({"kind": "ConfigMap", "apiVersion": "v1"})
                STORE._put_cm(obj)
                return 201, [("Content-Type", "application/json")], dumps(obj)
        if cur is None:
            return status_body(404, "NotFound", 'configmaps "%s" not found' % name,
                               {"name": name, "kind": "configmaps"})
        if method == "GET":
            return 200, [("Content-Type", "application/json")], dumps(cur)
        if method in ("PATCH", "PUT"):
            if method == "PATCH":
                r = self.check_patch_type(crd=False)
                if r:
                    return r
            try:
                patch = json.loads(body or b"{}")
            except ValueError:
                return status_body(400, "BadRequest", "error decoding patch: invalid JSON")
            want_rv = (patch.get("metadata") or {}).get("resourceVersion")
            if want_rv and want_rv != cur["metadata"]["resourceVersion"]:
                return status_body(409, "Conflict",
                                   'Operation cannot be fulfilled on configmaps "%s": the '
                                   "object has been modified; please apply your changes to "
                                   "the latest version and try again" % name,
                                   {"name": name, "kind": "configmaps"})
            new = merge_patch(cur, patch) if method == "PATCH" else patch
            new.setdefault("metadata", {}).update({"name": name, "namespace": ns})
            new.update({"kind": "ConfigMap", "apiVersion": "v1"})
            with STORE.lock:
                STORE._put_cm(new)
            return 200, [("Content-Type", "application/json")], dumps(new)
        with STORE.lock:
            STORE.configmaps.pop((ns, name), None)
            STORE.bump()
        return 200, [("Content-Type", "application/json")], dumps(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
             "details": {"name": name, "kind": "configmaps"}})

    def check_patch_type(self, crd):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        accepted = ["application/json-patch+json", "application/merge-patch+json",
                    "application/apply-patch+yaml"]
        if not crd:
            accepted.insert(2, "application/strategic-merge-patch+json")
        if ctype not in accepted:
            return status_body(415, "UnsupportedMediaType",
                               "the body of the request was in an unknown format - accepted "
                               "media types include: " + ", ".join(accepted))
        if ctype != "application/merge-patch+json":
            return status_body(415, "UnsupportedMediaType",
                               "this fake only implements merge-patch (%s)" % ctype)
        return None

    # ---- PipelineRuns ----
    def pipelineruns(self, method, version, ns, name, q, body):
        verb = {"GET": "get" if name else "list", "PATCH": "patch"}.get(method)
        if verb is None:
            return status_body(405, "MethodNotAllowed", "the server does not allow this "
                               "method on the requested resource")
        if self.is_forbidden(verb, "pipelineruns"):
            return self.forbidden_body(verb, "pipelineruns", "tekton.dev", name, ns)
        conv = (lambda r: r) if version == "v1" else to_v1beta1
        with STORE.lock:
            if not name:
                objs = [conv(copy.deepcopy(v)) for (n, _), v in STORE.runs.items() if n == ns]
            else:
                cur = copy.deepcopy(STORE.runs.get((ns, name)))
        if not name:
            return self.list_of("PipelineRunList", "tekton.dev/" + version, objs, q)
        if cur is None:
            return status_body(404, "NotFound",
                               'pipelineruns.tekton.dev "%s" not found' % name,
                               {"name": name, "group": "tekton.dev", "kind": "pipelineruns"})
        if method == "GET":
            return 200, [("Content-Type", "application/json")], dumps(conv(cur))
        r = self.check_patch_type(crd=True)
        if r:
            return r
        new = merge_patch(cur, json.loads(body or b"{}"))
        if (new.get("spec") or {}).get("status") in ("Cancelled", "CancelledRunFinally"):
            c = new["status"]["conditions"][0]
            if c["status"] == "Unknown":
                c.update({"status": "False", "reason": "Cancelled",
                          "message": 'PipelineRun "%s" was cancelled' % name})
        with STORE.lock:
            STORE._put_run(new)
        return 200, [("Content-Type", "application/json")], dumps(conv(new))


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
        elif flag == "--tls":
            tls = (args.pop(0), args.pop(0))
        else:
            raise SystemExit("k8s_fake: unknown option " + flag)
    STORE.reset()
    fakebase.serve(Handler, port, tls=tls)


if __name__ == "__main__":
    main()
