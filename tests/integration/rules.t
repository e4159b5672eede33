#!/usr/bin/env python3
"""The rules engine in the daemon: an alert fires and shows in /metrics (drwatch_alert) and
GET /api/v1/alerts; rules that error, loop, allocate without end or swallow their timeout with
pcall are stopped, counted and logged with file:line while the others and the daemon go on; a
reload keeps alert state (and refuses a broken rule file, keeping the old rules); a restart
restores the `for` progress of a pending alert from the state file."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import Drwatch, Tap, tmpdir, wait_for  # noqa: E402

t = Tap()
d = tmpdir()
textdir = os.path.join(d, "text")
os.mkdir(textdir)
with open(os.path.join(textdir, "v.prom"), "w") as f:
    f.write('# TYPE demo_value gauge\ndemo_value{instance="x"} 42\n'
            'drwatch_gslb_answer_class{resolver="system",class="golddr"} 1\n'
            'drwatch_gslb_answer_class{resolver="system",class="gold"} 0\n'
            'drwatch_patroni_leader_writable{site="gold",scope="gold"} 1\n'
            'drwatch_collector_up{collector="peer",site="golddr",target="p"} 0\n'
            'drwatch_configmap_state_info{site="gold",last_stable_state="active-passive",'
            'transition="golddr-maintenance"} 1\n'
            'drwatch_configmap_last_stable_state_timestamp_seconds{site="gold"} 1718012477\n'
            'drwatch_peer_info{site="golddr",version="0.1.0",state="active-passive"} 1\n')

GOOD = '''
alert("DemoValueHigh", {
  expr = function()
    return filter(series("demo_value"), function(s) return s.value > 10 end)
  end,
  severity = "critical",
  annotations = { summary = "demo_value is {{ $value }} on {{ $labels.instance }}" },
})
alert("DemoFacts", {
  expr = function()
    local f = facts()
    return f.gslb["system"] == "golddr" and f.patroni.gold.writable and not f.peer_reachable
       and f.dr_state.gold == "active-passive" and f.dr_state_since.gold == 1718012477
       and f.transition.gold == "golddr-maintenance" and f.peer_state == "active-passive"
  end,
  annotations = { summary = "facts seen" },
})
alert("DemoPending", {
  expr = function() return series("demo_value", { instance = "x" }) end,
  ["for"] = "1h",
  annotations = { note = function(labels, value) return "seen " .. labels.instance end },
})
'''
BAD = '''
alert("Broken", { expr = function() local t = nil; return t.x end })
'''
# One file each: a file's rules share its time budget.
LOOPS = 'alert("Loops", { expr = function() while true do end end })\n'
HOG = ('alert("Hog", { expr = function() local t = {} '
       'for i = 1, 1e9 do t[i] = ("x"):rep(64) .. i end end })\n')
# The memory bomb in an annotation function, which runs after expr: still out of memory.
ANNHOG = ('alert("AnnHog", { expr = function() return series("demo_value") end,\n'
          '  annotations = { x = function() local t = {}\n'
          '    for i = 1, 1e9 do t[i] = ("x"):rep(64) .. i end end } })\n')
SWALLOW = ('alert("Swallow", { expr = function()\n'
           '  while true do pcall(function() while true do end end) end\nend })\n')


def write(name, text):
    with open(os.path.join(d, name), "w") as f:
        f.write(text)


write("good.lua", GOOD)
write("bad.lua", BAD)
write("loops.lua", LOOPS)
write("hog.lua", HOG)
write("swallow.lua", SWALLOW)
write("annhog.lua", ANNHOG)
state = os.path.join(d, "alerts.json")
config = '''drwatch = { site = "gold", fast_interval = "1s" }
textfile = { directory = "%s", interval = "1s" }
rules = {
  files = { "%s/*.lua" },
  evaluation_interval = "1s",
  timeout = "200ms",
  memory_limit = 4194304,
  state_file = "%s",
  for_grace_period = "1s",
}
''' % (textdir, d, state)
dw = Drwatch(config).start()


def alerts():
    status, _, body = dw.get("/api/v1/alerts")
    return json.loads(body)["data"]["alerts"] if status == 200 else []


def find(name):
    return [a for a in alerts() if a["labels"]["alertname"] == name]


firing = wait_for(lambda: [a for a in find("DemoValueHigh") if a["state"] == "firing"], 15)
t.ok(firing, "DemoValueHigh fires")
t.is_(firing[0]["annotations"].get("summary") if firing else None, "demo_value is 42 on x",
      "its annotation is templated with $value and $labels")
t.is_(firing[0]["labels"] if firing else None,
      {"alertname": "DemoValueHigh", "instance": "x", "severity": "critical"},
      "labels: the series' (no name), the rule's, alertname")
t.ok(find("DemoFacts"), "facts() gives the GSLB class, Patroni roles, peer and DR state")
pend = find("DemoPending")
t.ok(pend and pend[0]["state"] == "pending" and pend[0]["annotations"]["note"] == "seen x",
     "DemoPending is pending, its annotation made by a Lua function")
t.ok(wait_for(lambda: dw.sample('drwatch_alert{alertname="DemoValueHigh",alertstate="firing",'
                                 'instance="x",severity="critical"}') == 1),
     "drwatch_alert shows it in /metrics (as ALERTS)")


def failures(alert, outcome, file):
    return wait_for(lambda: dw.metrics().get(
        'drwatch_rule_failures_total{alertname="%s",file="%s",outcome="%s"}'
        % (alert, os.path.join(d, file), outcome)), 15)


t.ok(failures("Broken", "error", "bad.lua"), "a rule that errors is counted as error")
t.ok(failures("Loops", "timeout", "loops.lua"), "a rule that loops forever is stopped: timeout")
t.ok(failures("Hog", "out_of_memory", "hog.lua"),
     "a rule that allocates without end: out_of_memory")
t.ok(failures("Swallow", "timeout", "swallow.lua"),
     "a rule whose pcall swallows the timeout is stopped anyway")
t.ok(failures("AnnHog", "out_of_memory", "annhog.lua"),
     "an annotation function that allocates without end: out_of_memory, not a string")
m = dw.metrics()
for file, outcome in (("bad.lua", "error"), ("loops.lua", "timeout"), ("hog.lua", "out_of_memory"),
                      ("good.lua", "ok")):
    t.ok(m.get('drwatch_rule_evaluations_total{file="%s",outcome="%s"}'
               % (os.path.join(d, file), outcome), 0) >= 1,
         "drwatch_rule_evaluations_total counts %s's outcome: %s" % (file, outcome))
log = dw.log()
t.ok("bad.lua:2: attempt to index a nil value" in log, "the error is logged with file:line")
t.ok("hog.lua:1: not enough memory" in log, "so is running out of memory")
t.is_(dw.get("/-/healthy")[0], 200, "the daemon stays healthy")
t.ok(wait_for(lambda: [a for a in find("DemoValueHigh") if a["state"] == "firing"]),
     "the good rules keep evaluating next to the bad ones")
t.ok(os.path.exists(state), "the alert state file is written")

# A reload with a broken rule file is refused; the rules in force go on.
write("bad.lua", BAD + "\nalert(\n")
status, _, body = dw.reload()
t.ok(status == 500 and b"bad.lua:" in body, "a broken rule file fails the reload: " +
     body.decode().strip()[:120])
active_before = find("DemoValueHigh")[0]["activeAt"]
# A reload with a changed rule keeps the alert's state.
for name in ("bad.lua", "loops.lua", "hog.lua", "swallow.lua", "annhog.lua"):
    write(name, "")
write("good.lua", GOOD.replace("demo_value is", "value is"))
status, _, body = dw.reload()
t.is_(status, 200, "a good reload")
ok = wait_for(lambda: [a for a in find("DemoValueHigh")
                       if a["annotations"]["summary"].startswith("value is")], 10)
t.ok(ok and ok[0]["activeAt"] == active_before and ok[0]["state"] == "firing",
     "the alert keeps firing with its activeAt over the reload, with the new annotation")

# A restart restores the `for` progress of the pending alert: as Prometheus' for-state
# restore, the time it was pending before the stop counts, the downtime does not, so its
# activeAt moves by the downtime but stays well before the restart.
def epoch(ts):
    return time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone


pending_at = epoch(find("DemoPending")[0]["activeAt"])
time.sleep(max(0, pending_at + 7 - time.time()))
stopped = time.time()
t.ok(stopped - pending_at > 5, "DemoPending has been pending for %.0fs" % (stopped - pending_at))
dw.stop_clean(t)
time.sleep(1.5)
restarted = time.time()
dw.start()
back = wait_for(lambda: find("DemoPending"), 15)
new_at = epoch(back[0]["activeAt"]) if back else restarted
t.ok(back and new_at < restarted - 3,
     "after a restart its `for` progress is kept (activeAt %.0fs before the restart, not at it)"
     % (restarted - new_at))
t.ok(abs((new_at - pending_at) - (restarted - stopped)) < 3,
     "shifted by the downtime only (%.1fs for %.1fs down)"
     % (new_at - pending_at, restarted - stopped))
dw.stop_clean(t)
t.done()
