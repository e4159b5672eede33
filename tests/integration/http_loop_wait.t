#!/usr/bin/env python3
"""/metrics answers at once while requests wait for a slow loop.

Regression (331f33d): the handlers that run on the loop (POST /-/reload, which waited up to 30 s,
and the silences API, up to 10 s) held one of the HTTP server's four threads each while they
waited for the loop, so four POSTs to /-/reload starved /metrics, /-/healthy and everything else
for over 30 s. Since bb06e94 such requests are suspended and handed to the loop (HTTP_ON_LOOP),
and no HTTP thread waits.

Here the loop is made slow for some 12 s by a reload whose 20 rule files each work for up to 1 s
while they load (until a deadline). While that reload, three more and four silences requests
wait for the loop, GET /metrics, /-/healthy and /-/ready each answer within 2 s; then every
request that waited gets its answer."""
import os
import sys
import threading
import time
import urllib.error

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import Drwatch, Tap, drill_textfile, http, tmpdir  # noqa: E402

t = Tap()
work = tmpdir()
TEXTFILE = drill_textfile(work)
rules_dir = os.path.join(work, "rules")
os.mkdir(rules_dir)
with open(os.path.join(rules_dir, "quick.lua"), "w") as f:
    f.write('alert("Quick", { expr = function() return false end })\n')
dw = Drwatch('''
drwatch = { site = "gold", fast_interval = "1s" }
textfile = { directory = "%s", interval = "1s" }
rules = { files = { "%s/*.lua" }, evaluation_interval = "1s" }
alerting = {
  data_dir = "%s",
  receivers = { { name = "hook", webhook = { url = "http://127.0.0.1:9/hook" } } },
  route = { receiver = "hook" },
}
''' % (TEXTFILE, rules_dir, os.path.join(work, "data"))).start()

# Loaded before the deadline, each file works until the clock's second changes (at most 1 s,
# under the 2 s load budget however busy the machine is): the first reload holds the loop until
# the deadline.
deadline = int(time.time()) + 13
for i in range(20):
    with open(os.path.join(rules_dir, "slow%02d.lua" % i), "w") as f:
        f.write('local t0 = os.time()\n'
                'while os.time() < %d and os.time() == t0 do end\n'
                'alert("Slow%02d", { expr = function() return false end })\n' % (deadline, i))

answers = {}


def waiter(name, method, path):
    auth = {"Authorization": "Bearer %s" % dw.token} if method == "POST" else None
    try:
        status = http(method, dw.url + path, auth, timeout=60)[0]
    except (OSError, urllib.error.URLError) as e:
        status = "no answer: %s" % e
    answers[name] = (status, time.monotonic())


threads = [threading.Thread(target=waiter, args=("reload%d" % i, "POST", "/-/reload"))
           for i in range(4)]
threads += [threading.Thread(target=waiter, args=("silences%d" % i, "GET", "/api/v1/silences"))
            for i in range(4)]
started = time.monotonic()
for th in threads:
    th.start()

# While they wait: what HTTP threads serve alone must answer at once.
slow, samples = [], 0
while not any(k.startswith("reload") for k in answers) and time.time() < deadline - 1:
    for path in ("/metrics", "/-/healthy", "/-/ready"):
        t0 = time.monotonic()
        try:
            status = http("GET", dw.url + path, timeout=20)[0]
        except (OSError, urllib.error.URLError):
            status = None
        took = time.monotonic() - t0
        samples += 1
        if status is None or took > 2 or (path != "/-/healthy" and status != 200):
            slow.append("%s: %s in %.2fs" % (path, status, took))
    time.sleep(0.2)
t.ok(samples >= 9, "requests were made while the reloads waited for the loop (%d; answered "
     "meanwhile: %s)" % (samples, sorted(answers)))
t.ok(not slow, "GET /metrics, /-/healthy and /-/ready each answer within 2 s while requests "
     "wait for the loop%s" % (": " + "; ".join(slow[:5]) if slow else ""))

for th in threads:
    th.join(timeout=90)
if answers:
    t.diag("the first waiting request was answered after %.1fs" %
           (min(v[1] for v in answers.values()) - started))
t.is_(sorted(answers), sorted("reload%d" % i for i in range(4)) +
      sorted("silences%d" % i for i in range(4)), "every waiting request got an answer")
t.ok(all(answers.get("reload%d" % i, (0,))[0] == 200 for i in range(4)),
     "the reloads succeeded: %s" % {k: v[0] for k, v in answers.items() if k.startswith("r")})
t.ok(all(answers.get("silences%d" % i, (0,))[0] == 200 for i in range(4)),
     "the silences requests were answered 200: %s"
     % {k: v[0] for k, v in answers.items() if k.startswith("s")})
dw.stop_clean(t)
t.done()
