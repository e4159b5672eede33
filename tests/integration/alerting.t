#!/usr/bin/env python3
"""Alert delivery in the daemon, against a real HTTP webhook receiver (tests/fakes/webhook_fake.py):
a rule fires and the receiver gets Alertmanager's webhook JSON (version 4) with the bearer token
and an Idempotency-Key; 503s are retried with backoff and a 429's Retry-After is honoured; a 400
is not retried but counted and logged with the receiver's body; the webhook URL read from
url_file never shows in the log or /metrics; the silences API refuses changes without the
bearer token, explains a bad body, and mutes what a silence matches; a reload with a broken
alerting section is refused with file:line and the old one kept, a good one moves alerts to a
new receiver at once; a restart sends nothing twice and keeps silences."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from drwatch_test import Drwatch, Tap, free_port, http, spawn, tmpdir, wait_for  # noqa: E402
import fakebase  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
t = Tap()
d = tmpdir()
textdir = os.path.join(d, "text")
os.mkdir(textdir)


def write(name, text):
    path = os.path.join(d, name)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)
    return path


def values(x, y):
    write("text/v.prom", '# TYPE demo_value gauge\ndemo_value{instance="x"} %d\n'
          'demo_value{instance="y"} %d\n' % (x, y))


values(42, 43)
write("rules.lua", '''
alert("DemoHigh", {
  expr = function() return filter(series("demo_value"), function(s) return s.value > 10 end) end,
  severity = "critical",
  annotations = { summary = "demo {{ $labels.instance }} is {{ $value }}" },
})
''')
write("api-token", "api-s3cret\n")
write("hook-token", "hook-s3cret\n")

port = free_port()
fake = spawn([sys.executable, os.path.join(ROOT, "tests/fakes/webhook_fake.py"), str(port)],
             os.path.join(d, "fake.log"))
base = "http://127.0.0.1:%d" % port
t.ok(wait_for(lambda: http("GET", base + "/__fake/keys")[0] == 200), "the webhook receiver runs")
SECRET_PATH = "/hook/s3cr3t-path-0123456789"
write("hook-url", base + SECRET_PATH + "\n")

ALERTING = '''
alerting = {
  data_dir = "data", api_token_file = "api-token", external_url = "http://drwatch.test:8488/",
  retry_min = "200ms", retry_max = "2s",
  receivers = {
    { name = "hook", webhook = { url_file = "hook-url", bearer_token_file = "hook-token" } },
    { name = "flaky", webhook = { url = "%(base)s/hook/flaky" } },
    { name = "second", webhook = { url = "%(base)s/hook/second" } },
  },
  route = {
    receiver = "%(root)s", group_by = { "alertname", "instance" },
    group_wait = "1s", group_interval = "1s", repeat_interval = "1h",
    routes = { %(routes)s },
  },
}
'''
FLAKY_ROUTE = '{ matchers = { instance = "y" }, receiver = "flaky" }'


def config(root="hook", routes=FLAKY_ROUTE, extra=""):
    return ('drwatch = { site = "gold", fast_interval = "1s" }\n'
            'textfile = { directory = "%s", interval = "1s" }\n'
            'rules = { files = { "rules.lua" }, evaluation_interval = "1s" }\n' % textdir +
            ALERTING % {"base": base, "root": root, "routes": routes} + extra)


def received(path=None):
    status, _, body = http("GET", base + "/__fake/received")
    items = json.loads(body) if status == 200 else []
    return [r for r in items if path is None or r["path"] == path]


def mode(path, **kw):
    kw["path"] = path
    fakebase.control(base, "mode", kw)


def fingerprint(labels):
    """Alertmanager's model.LabelSet.Fingerprint (FNV-1a 64)."""
    h = 14695981039346656037
    for name in sorted(labels):
        for part in (name.encode(), b"\xff", labels[name].encode(), b"\xff"):
            for byte in part:
                h ^= byte
                h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


# The flaky receiver answers 503 twice, then 200.
mode("/hook/flaky", mode="status", status=503, count=2)
dw = Drwatch(config(), name="drwatch")
dw.config_path = write("drwatch.lua", config())
dw.start()

got = wait_for(lambda: received(SECRET_PATH), 20)
t.ok(got, "a firing alert reaches the webhook")
n = got[0] if got else {"body": {}, "auth": None, "key": None, "content_type": None}
b = n["body"]
t.is_(sorted(b.keys()) if isinstance(b, dict) else b,
      sorted(["receiver", "status", "alerts", "groupLabels", "commonLabels",
              "commonAnnotations", "externalURL", "version", "groupKey", "truncatedAlerts"]),
      "the payload has Alertmanager's webhook fields (version 4)")
t.ok(b.get("version") == "4" and b.get("receiver") == "hook" and b.get("status") == "firing"
     and b.get("truncatedAlerts") == 0 and b.get("externalURL") == "http://drwatch.test:8488",
     "version 4, receiver, status, truncatedAlerts, externalURL")
t.is_(b.get("groupKey"), '{}:{alertname="DemoHigh", instance="x"}',
      "groupKey as Alertmanager writes it (route key : group labels)")
t.is_(b.get("groupLabels"), {"alertname": "DemoHigh", "instance": "x"}, "groupLabels")
t.is_(b.get("commonLabels"), {"alertname": "DemoHigh", "instance": "x", "severity": "critical"},
      "commonLabels")
a = (b.get("alerts") or [{}])[0]
labels = {"alertname": "DemoHigh", "instance": "x", "severity": "critical"}
t.ok(a.get("status") == "firing" and a.get("labels") == labels and
     a.get("annotations") == {"summary": "demo x is 42"},
     "the alert: status, labels, annotations (templated by the rule)")
t.ok(a.get("endsAt") == "0001-01-01T00:00:00Z" and a.get("startsAt", "").endswith("Z") and
     a.get("generatorURL") == "http://drwatch.test:8488/api/v1/alerts",
     "startsAt RFC 3339, endsAt Go's zero time while firing, generatorURL")
t.is_(a.get("fingerprint"), fingerprint(labels), "the fingerprint is Alertmanager's")
t.is_(n["auth"], "Bearer hook-s3cret", "the bearer token from bearer_token_file is sent")
t.ok(n["key"] and len(n["key"]) > 30, "an Idempotency-Key carries the dedupe key")
t.is_(n["content_type"], "application/json", "Content-Type: application/json")

flaky = wait_for(lambda: received("/hook/flaky"), 20)
t.ok(flaky, "the flaky receiver gets its notification after two 503s")
t.ok(wait_for(lambda: dw.sample('drwatch_notifications_total{receiver="flaky",result="http_503"}')
              == 2 and
              dw.sample('drwatch_notifications_total{receiver="flaky",result="ok"}') == 1, 10),
     "both 503s and the success are counted")
hist = dw.sample('drwatch_notification_latency_seconds_count{receiver="flaky"}')
lat = dw.sample('drwatch_notification_latency_seconds_sum{receiver="flaky"}')
t.ok(hist == 1 and lat and lat >= 0.2, "latency from enqueue to success includes the retries "
     "(%.2fs)" % (lat or 0))

# A 429 with Retry-After: 2 when y resolves: the next try waits 2s.
mode("/hook/flaky", mode="429", retry_after=2, count=1)
values(42, 1)
res = wait_for(lambda: [r for r in received("/hook/flaky") if r["body"]["status"] == "resolved"],
               20)
t.ok(res, "the resolved notification arrives after a 429")
t.ok(dw.sample('drwatch_notifications_total{receiver="flaky",result="http_429"}') == 1,
     "the 429 is counted")
arrivals = json.loads(http("GET", base + "/__fake/arrivals")[2])
flaky_at = [x["at"] for x in arrivals if x["path"] == "/hook/flaky"]
gap = flaky_at[-1] - flaky_at[-2] if len(flaky_at) >= 2 else 0
t.ok(1.9 <= gap < 3.5, "the retry after the 429 waited its Retry-After: 2 (%.2fs)" % gap)
if res:
    t.ok(res[0]["body"]["alerts"][0]["status"] == "resolved" and
         res[0]["body"]["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z",
         "the resolved alert has its endsAt")

# A 400 is final: the resolved notification for x is refused, counted, logged with the body.
mode(SECRET_PATH, mode="status", status=400, count=1)
values(1, 1)
t.ok(wait_for(lambda: dw.sample('drwatch_notifications_total{receiver="hook",result="http_400"}')
              == 1, 20), "a 400 is counted and not retried")
time.sleep(1.5)
t.is_(dw.sample('drwatch_outbox_entries'), 0, "the refused notification left the outbox")
log = dw.log()
t.ok("fake refuses with 400" in log, "the receiver's error body is logged")
metrics = http("GET", dw.url + "/metrics")[2].decode()
t.ok("s3cr3t-path" not in log and "s3cr3t-path" not in metrics and "hook-s3cret" not in log,
     "the secret URL and token never show in the log or /metrics")

# Fires again: delivered as a new firing notification.
before = len(received(SECRET_PATH))
values(42, 1)
t.ok(wait_for(lambda: len(received(SECRET_PATH)) > before, 20), "x fires again: notified")

# ---- the silences API ----
good = json.dumps({"matchers": [{"name": "instance", "value": "x", "isRegex": False}],
                   "startsAt": "2000-01-01T00:00:00Z", "endsAt": "2100-01-01T00:00:00Z",
                   "createdBy": "test", "comment": "maintenance of x"}).encode()
auth = {"Authorization": "Bearer api-s3cret", "Content-Type": "application/json"}
t.is_(http("POST", dw.url + "/api/v1/silences", body=good)[0], 401, "POST without a token: 401")
t.is_(http("POST", dw.url + "/api/v1/silences", {"Authorization": "Bearer nope"}, good)[0], 401,
      "POST with a wrong token: 401")
st, _, out = http("POST", dw.url + "/api/v1/silences", auth, b'{"matchers": []}')
t.ok(st == 400 and b"matchers" in out, "a bad body: 400 saying what is wrong (%s)" %
     out.decode().strip())
st, _, out = http("POST", dw.url + "/api/v1/silences", auth, good)
sid = json.loads(out).get("silenceID") if st == 200 else None
t.ok(st == 200 and sid, "POST with the token creates the silence %s" % sid)
st, _, out = http("GET", dw.url + "/api/v1/silences")
lst = json.loads(out) if st == 200 else []
t.ok(st == 200 and lst and lst[0]["id"] == sid and lst[0]["status"]["state"] == "active",
     "GET lists it, active (no token needed)")
t.ok(wait_for(lambda: dw.sample('drwatch_alerts{state="suppressed"}') == 1, 10),
     "the silenced alert counts as suppressed")
t.ok(wait_for(lambda: dw.sample('drwatch_silences{state="active"}') == 1, 10),
     "drwatch_silences{state=\"active\"} 1")
before = len(received(SECRET_PATH))
values(1, 1)  # x resolves while silenced: no notification
time.sleep(3)
t.is_(len(received(SECRET_PATH)), before, "a silenced alert's resolution is not notified")
t.is_(http("DELETE", dw.url + "/api/v1/silences?id=" + sid)[0], 401, "DELETE without a token: 401")
t.is_(http("DELETE", dw.url + "/api/v1/silences?id=" + sid, auth)[0], 200,
      "DELETE with the token expires it")
st, _, out = http("GET", dw.url + "/api/v1/silences")
t.ok(json.loads(out)[0]["status"]["state"] == "expired", "it is expired now")

# ---- reload ----
broken = config(root="nobody")
write("drwatch.lua", broken)
st, _, out = dw.reload()
line = broken.splitlines().index([s for s in broken.splitlines() if "receiver = \"nobody\"" in s][0]) + 1
t.ok(st == 500 and ("drwatch.lua:%d: alerting.route.receiver: no receiver is named \"nobody\""
                    % line).encode() in out,
     "a broken alerting section fails the reload with file:line: " + out.decode().strip()[-90:])
values(42, 43)
before = len(received("/hook/flaky"))
t.ok(wait_for(lambda: len(received("/hook/flaky")) > before, 20),
     "the old alerting config goes on (y fires again, to flaky)")
write("drwatch.lua", config(root="second", routes=""))
st, _, out = dw.reload()
t.is_(st, 200, "a good reload")
t.ok(wait_for(lambda: len({r["body"]["groupKey"] for r in received("/hook/second")}) == 2, 10),
     "after the reload both groups go to the new receiver at once")

# ---- restart ----
# Once the outbox is empty (a send cut by the stop would be repeated, with its key).
t.ok(wait_for(lambda: dw.sample("drwatch_outbox_entries") == 0, 10), "the outbox is empty")
total = len(received())
dw.stop_clean(t)
dw.start()
time.sleep(4)
t.is_(len(received()), total, "a restart sends nothing twice (the notification log is kept)")
for r in received()[total:]:
    t.diag("after the restart: %s %s" % (r["path"], json.dumps(r["body"])[:300]))
st, _, out = http("GET", dw.url + "/api/v1/silences")
t.ok(st == 200 and json.loads(out) and json.loads(out)[0]["id"] == sid,
     "silences survive a restart")
dw.stop_clean(t)
t.done()
