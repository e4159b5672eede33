#!/usr/bin/env python3
"""A fake Tekton Triggers EventListener for the tekton_deploy actuator's tests, answering as
/work/shared/reference/tekton.md §6 says, and making the PipelineRun a trigger starts in
tests/fakes/k8s_fake.py (through its POST /__fake/pipelinerun), which then finishes as the test
says.

Usage: tekton_listener_fake.py PORT --k8s URL [--secret S] [--namespace NS]
                               [--outcomes success,fail,...] [--finish-ms N] [--create-ms N]

  POST <any path but /live>   a trigger. The body must be a JSON object (else 400 with the
                              sink's body). X-Hub-Signature must be sha1=<HMAC-SHA1 of the exact
                              body under the secret> and X-Hub-Signature-256 sha256=<HMAC-SHA256>:
                              a missing or wrong one is 401 (state "bad_signature": "drop" instead
                              answers 202 and makes no run, as a real listener whose GitHub
                              interceptor drops the event: its 202 promises no run). Accepted:
                              202 {"eventListener","namespace","eventListenerUID","eventID"} and
                              a newline (Go's json.Encoder); with state "old_mock": true, the old
                              agent's mock instead: 200 {"eventID":"0000-0000-0000"}.
                              create_ms later a PipelineRun labelled
                              triggers.tekton.dev/triggers-eventid=<eventID> exists, Unknown/Running;
                              finish_ms after that it ends as this attempt's outcome says:
                                success   True/Succeeded
                                fail      False/Failed
                                timeout   False/PipelineRunTimeout (Tekton's own timeout)
                                hang      never (only a cancel ends it)
                              One outcome per accepted trigger, in order; the last one repeats
                              ("fail-then-succeed" is short for fail,success).
                              A run already cancelled (spec.status) is left as the cancel made it.
  GET  /live                  200 "ok"
  GET  /activity              every trigger received, in order: [{"at", "path", "headers" (the
                              ones a trigger carries), "body" (text), "status" (answered),
                              "event_id", "run", "outcome"}]

Test control (besides fakebase's): POST /__fake/state {"outcomes": [...], "finish_ms": N,
"create_ms": N, "secret": "...", "bad_signature": "401"|"drop", "old_mock": bool}; POST
/__fake/reset clears the activity and goes back to the command line's settings.
Only the Python standard library is used.
"""
import hashlib
import hmac
import json
import os
import random
import string
import sys
import threading
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakebase  # noqa: E402

LISTENER = "deploy-listener"
LISTENER_UID = "ea71a6e4-9531-43a1-94fe-6136515d938c"
HEADERS = ("Accept", "Content-Type", "X-GitHub-Event", "X-Hub-Signature", "X-Hub-Signature-256")
ENDINGS = {"success": ("True", "Succeeded", "Tasks Completed: 3 (Failed: 0, Cancelled 0), "
                                            "Skipped: 0"),
           "fail": ("False", "Failed", "Tasks Completed: 2 (Failed: 1, Cancelled 0), Skipped: 1"),
           "timeout": ("False", "PipelineRunTimeout",
                       'PipelineRun "%s" failed to finish within "1h0m0s"')}

OPTS = {"k8s": None, "secret": "", "namespace": "ops-pipelines", "outcomes": ["success"],
        "finish_ms": 200, "create_ms": 20, "bad_signature": "401", "old_mock": False}
LOCK = threading.Lock()
STATE = {}


def expand(outcomes):
    """The outcome list with its shorthands spelt out."""
    out = []
    for o in outcomes:
        out += ["fail", "success"] if o == "fail-then-succeed" else [o]
    return out


def reset():
    with LOCK:
        STATE.clear()
        STATE.update(json.loads(json.dumps(OPTS)))
        STATE["activity"] = []
        STATE["accepted"] = 0


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def k8s_put_run(ns, name, merge, unless_cancelled=False):
    """Merge-patches one PipelineRun in the Kubernetes fake (creating it)."""
    data = json.dumps({"namespace": ns, "name": name, "merge": merge,
                       "unless_cancelled": unless_cancelled}).encode()
    req = urllib.request.Request(STATE["k8s"] + "/__fake/pipelinerun", data=data, method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        r.read()


def new_run(ns, name, event_id, ref):
    labels = {"tekton.dev/pipeline": "deploy",
              "triggers.tekton.dev/eventlistener": LISTENER,
              "triggers.tekton.dev/trigger": "deploy-trigger",
              "triggers.tekton.dev/triggers-eventid": event_id}
    return {"metadata": {"name": name, "namespace": ns, "uid": str(uuid.uuid4()),
                         "generation": 1, "creationTimestamp": now_rfc3339(), "labels": labels},
            "spec": {"pipelineRef": {"name": "deploy"},
                     "params": [{"name": "release-namespace", "value": ns},
                                {"name": "git-release-branch", "value": ref}],
                     "timeouts": {"pipeline": "1h0m0s"},
                     "taskRunTemplate": {"serviceAccountName": "pipeline"}},
            "status": {"conditions": [{"type": "Succeeded", "status": "Unknown",
                                       "lastTransitionTime": now_rfc3339(), "reason": "Running",
                                       "message": "Tasks Completed: 0 (Failed: 0, Cancelled 0), "
                                                  "Incomplete: 3, Skipped: 0"}],
                       "startTime": now_rfc3339()}}


def start_run(ns, name, event_id, ref, outcome, create_ms, finish_ms):
    """Makes the run create_ms from now, and ends it finish_ms later (a thread each)."""
    def create():
        k8s_put_run(ns, name, new_run(ns, name, event_id, ref))
        if outcome in ENDINGS:
            threading.Timer(finish_ms / 1000.0, finish).start()

    def finish():
        st, reason, msg = ENDINGS[outcome]
        cond = {"type": "Succeeded", "status": st, "lastTransitionTime": now_rfc3339(),
                "reason": reason, "message": msg.replace("%s", name)}
        k8s_put_run(ns, name, {"status": {"conditions": [cond],
                                          "completionTime": now_rfc3339()}},
                    unless_cancelled=True)

    threading.Timer(create_ms / 1000.0, create).start()


def signed(secret, body, headers):
    key = secret.encode()
    want1 = "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()
    want256 = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    return (hmac.compare_digest(headers.get("X-Hub-Signature") or "", want1)
            and hmac.compare_digest(headers.get("X-Hub-Signature-256") or "", want256))


def json_reply(status, obj, newline=True):
    out = json.dumps(obj, separators=(",", ":")) + ("\n" if newline else "")
    return status, [("Content-Type", "application/json")], out.encode()


def trigger(handler, query, body):
    with LOCK:
        st = {k: v for k, v in STATE.items() if k != "activity"}
    entry = {"at": time.time(), "path": handler.path,
             "headers": {h: handler.headers.get(h) for h in HEADERS},
             "body": body.decode("utf-8", "replace"), "event_id": None, "run": None,
             "outcome": None}
    try:
        payload = json.loads(body)
        if not isinstance(payload, dict):
            raise ValueError("not an object")
    except ValueError as e:
        entry["status"] = 400
        reply = json_reply(400, {"eventListener": LISTENER, "namespace": st["namespace"],
                                 "eventListenerUID": "",
                                 "errorMessage": "Invalid event body format : %s" % e})
        return record(entry, reply)
    good = signed(st["secret"], body, handler.headers)
    if not good and st["bad_signature"] != "drop":
        entry["status"] = 401
        reply = json_reply(401, {"eventListener": LISTENER, "namespace": st["namespace"],
                                 "eventListenerUID": LISTENER_UID,
                                 "errorMessage": "X-Hub-Signature does not match the secret"})
        return record(entry, reply)
    event_id = "0000-0000-0000" if st["old_mock"] else str(uuid.uuid4())
    entry.update({"event_id": event_id, "status": 200 if st["old_mock"] else 202})
    if good:
        with LOCK:
            n = STATE["accepted"]
            STATE["accepted"] += 1
        outcomes = expand(st["outcomes"])
        outcome = outcomes[min(n, len(outcomes) - 1)]
        name = "deploy-" + "".join(random.choice(string.ascii_lowercase + string.digits)
                                   for _ in range(5))
        entry.update({"run": name, "outcome": outcome})
        start_run(st["namespace"], name, event_id, payload.get("ref", ""), outcome,
                  st["create_ms"], st["finish_ms"])
    if st["old_mock"]:
        return record(entry, json_reply(200, {"eventID": event_id}, newline=False))
    return record(entry, json_reply(202, {"eventListener": LISTENER, "namespace": st["namespace"],
                                          "eventListenerUID": LISTENER_UID,
                                          "eventID": event_id}))


def record(entry, reply):
    with LOCK:
        STATE["activity"].append(entry)
    return reply


def live(handler, query, body):
    return 200, [("Content-Type", "text/plain")], b"ok"


def activity(handler, query, body):
    with LOCK:
        return json_reply(200, STATE["activity"])


class Handler(fakebase.FakeHandler):
    def routes(self):
        path = self.path.partition("?")[0]
        r = {("GET", "/live"): live, ("GET", "/activity"): activity}
        if path != "/live":
            r[("POST", path)] = trigger
        return r

    def _control(self, path, body):
        if path == "/__fake/state":
            with LOCK:
                STATE.update(json.loads(body or b"{}"))
            return 200, [], b"ok\n"
        return super()._control(path, body)

    def on_reset(self):
        reset()


def main():
    args = sys.argv[1:]
    port = args.pop(0)
    while args:
        flag = args.pop(0)
        if flag == "--k8s":
            OPTS["k8s"] = args.pop(0).rstrip("/")
        elif flag == "--secret":
            OPTS["secret"] = args.pop(0)
        elif flag == "--namespace":
            OPTS["namespace"] = args.pop(0)
        elif flag == "--outcomes":
            OPTS["outcomes"] = args.pop(0).split(",")
        elif flag == "--finish-ms":
            OPTS["finish_ms"] = int(args.pop(0))
        elif flag == "--create-ms":
            OPTS["create_ms"] = int(args.pop(0))
        else:
            raise SystemExit("tekton_listener_fake: unknown option " + flag)
    if not OPTS["k8s"]:
        raise SystemExit("tekton_listener_fake: --k8s URL is required")
    reset()
    fakebase.serve(Handler, port)


if __name__ == "__main__":
    main()
