#!/usr/bin/env python3
"""The outbox keeps every notification over kill -9: drwatch delivers a steady stream of
notifications (five alerts, each its own group, re-sent every 200 ms) to two webhook receivers
that take 0-30 ms to answer, while this test sends it SIGKILL at random moments 200 times,
restarting it each time. A notification counts as enqueued once drwatch has logged "queued
notification <key>", which it does only after the outbox record is fsynced. At the end drwatch
runs without repeats until its outbox is empty, and every enqueued key must have reached a
receiver at least once (a notification cut by a kill is sent again with the same
Idempotency-Key: duplicates are expected and counted, losses are not allowed)."""
import json
import os
import random
import re
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import BIN, Tap, free_port, http, spawn, tmpdir, wait_for  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KILLS = int(os.environ.get("DRWATCH_KILLS", "200"))
t = Tap()
d = tmpdir()
random.seed(int(os.environ.get("DRWATCH_KILL_SEED", str(int(time.time())))))
os.mkdir(os.path.join(d, "text"))
with open(os.path.join(d, "text", "v.prom"), "w") as f:
    f.write("# TYPE demo_value gauge\n" +
            "".join('demo_value{instance="i%d"} 42\n' % i for i in range(5)))
with open(os.path.join(d, "rules.lua"), "w") as f:
    f.write('alert("Busy", { expr = function() return series("demo_value") end })\n')

hook_port = free_port()
spawn([sys.executable, os.path.join(ROOT, "tests/fakes/webhook_fake.py"), str(hook_port),
       "--delay-ms", "30"], os.path.join(d, "fake.log"))
base = "http://127.0.0.1:%d" % hook_port
t.ok(wait_for(lambda: http("GET", base + "/__fake/keys")[0] == 200), "the webhook receiver runs")


def config(repeat):
    return '''drwatch = { site = "gold", fast_interval = "1s" }
textfile = { directory = "%(d)s/text", interval = "1s" }
rules = { files = { "%(d)s/rules.lua" }, evaluation_interval = "1s" }
alerting = {
  data_dir = "%(d)s/data", retry_min = "50ms", retry_max = "500ms",
  receivers = {
    { name = "a", timeout = "2s", webhook = { url = "%(base)s/hook/a" } },
    { name = "b", timeout = "2s", webhook = { url = "%(base)s/hook/b" } },
  },
  route = {
    receiver = "a", group_by = { "..." },
    group_wait = "0s", group_interval = "200ms", repeat_interval = "%(repeat)s",
    routes = { { matchers = { instance = "=~i[34]" }, receiver = "b" } },
  },
}
''' % {"d": d, "base": base, "repeat": repeat}


cfg = os.path.join(d, "drwatch.lua")
log_path = os.path.join(d, "drwatch.log")
port = free_port()
url = "http://127.0.0.1:%d" % port


def start(repeat):
    with open(cfg, "w") as f:
        f.write(config(repeat))
    p = spawn([BIN, "--config.file=" + cfg, "--web.listen-address=127.0.0.1:%d" % port],
              log_path)
    return p


def listening(p):
    return wait_for(lambda: p.poll() is None and http("GET", url + "/-/healthy", timeout=2)[0]
                    == 200, 10, 0.005)


began = time.time()
kills = 0
failed_starts = 0
for i in range(KILLS):
    p = start("100ms")
    if not listening(p):
        failed_starts += 1
    time.sleep(random.uniform(0.05, 0.45))
    p.send_signal(signal.SIGKILL)
    p.wait()
    kills += 1
killing = time.time() - began
t.is_(failed_starts, 0, "drwatch started every time after a SIGKILL")
t.is_(kills, KILLS, "%d SIGKILLs during delivery (%.0fs)" % (kills, killing))

# The last run: nothing repeats any more; the outbox drains.
p = start("1h")
listening(p)


def outbox_entries():
    status, _, body = http("GET", url + "/metrics")
    m = re.search(rb"^drwatch_outbox_entries (\S+)$", body, re.M)
    return m and float(m.group(1)) == 0


t.ok(wait_for(outbox_entries, 60, 0.2), "the outbox drains after the last restart")
time.sleep(0.5)
with open(log_path, errors="replace") as f:
    log = f.read()
queued = re.findall(r'msg="queued notification (\S+) for (\S+) ', log)
keys = json.loads(http("GET", base + "/__fake/keys")[2])
got = set(keys)
lost = [k for k, _ in queued if k not in got]
dups = len(keys) - len(got)
replayed = sum(int(n) for n in re.findall(r"(\d+) notifications pending from before", log))
t.ok(len(queued) > 3 * KILLS, "%d notifications were enqueued across the runs" % len(queued))
t.is_(len(lost), 0, "every enqueued notification was delivered at least once "
      "(%d enqueued, %d received, %d unique, %d duplicates, %d lost)"
      % (len(queued), len(keys), len(got), dups, len(lost)))
for k in lost[:10]:
    t.diag("lost: " + k)
t.ok(replayed > 0, "restarts found pending notifications and sent them "
     "(%d pending at the starts, summed)" % replayed)
torn = len(re.findall(r"cut off \d+ bytes after the last whole record", log))
t.diag("kills: %d, enqueued: %d, received: %d (%d unique), duplicates: %d, lost: %d, "
       "pending at the restarts (summed): %d, torn records cut: %d, time killing: %.0fs, total: %.0fs"
       % (kills, len(queued), len(keys), len(got), dups, len(lost), replayed, torn, killing,
          time.time() - began))
bad = [line for line in log.splitlines() if "Sanitizer" in line or "runtime error:" in line]
t.ok(not bad, "no sanitizer report in any run")
for line in bad[:10]:
    t.diag(line)
p.terminate()
t.is_(p.wait(timeout=10), 0, "the last run stops cleanly")
t.done()
