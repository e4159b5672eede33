#!/usr/bin/env python3
"""The patroni collector against fake members (tests/fakes/patroni_fake.py: HTTP/1.0, no
Content-Length, like Patroni) for what the real lab cannot show: Patroni 4.x naming next to
3.0.2, and a member that hangs, closes, answers 500, garbage, a cut body or a body over the
cap. A failing member only sets its endpoint_up to 0 and counts a reason; a site whose every
member fails is down with that reason; the other site and collectors are untouched."""
import itertools
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from drwatch_test import Drwatch, Tap, start_fake, tmpdir, wait_for  # noqa: E402
from fakebase import control  # noqa: E402

t = Tap()
d = tmpdir()
fake_count = itertools.count()


def fake(*args):
    log = os.path.join(d, "fake-%d.log" % next(fake_count))
    return "http://127.0.0.1:%d" % start_fake("patroni_fake.py", log, *args)


A = fake("--version", "4.1.4", "--role", "primary", "--name", "pg-gold-0")
B = fake("--version", "4.1.4", "--role", "replica", "--name", "pg-gold-1")
C = fake("--version", "3.0.2", "--role", "standby_leader", "--scope", "pg-golddr",
         "--name", "golddr1")
dw = Drwatch("""
drwatch = { site = "gold" }
patroni = { targets = {
  { site = "gold", name = "gold", url = "%s", member_urls = { "%s" }, interval = "1s",
    max_body_bytes = 1048576 },
  { site = "golddr", name = "golddr", url = "%s", interval = "1s" },
} }
""" % (A, B, C)).start()


def m():
    return dw.metrics()


def has(metrics, prefix):
    return [v for k, v in metrics.items() if k.startswith(prefix)]


def errors(site, reason):
    return m().get('drwatch_collector_errors_total{collector="patroni",reason="%s",site="%s",'
                   'target="%s"}' % (reason, site, site), 0)


def up(site):
    return m().get('drwatch_collector_up{collector="patroni",site="%s",target="%s"}'
                   % (site, site))


t.ok(wait_for(lambda: up("gold") == 1 and up("golddr") == 1), "both sites up")
x = m()
t.ok(has(x, 'drwatch_patroni_node_info{endpoint="%s",member="pg-gold-0",role="primary",'
            'scope="pg-gold",server_version="150007",site="gold",state="running"' % A),
     "4.1.4: role primary, member named by patroni.name")
t.ok(has(x, 'drwatch_patroni_node_info{endpoint="%s",member="golddr1",'
            'replication_state="streaming",role="standby_leader",scope="pg-golddr"' % C),
     "3.0.2: member name found through /cluster's api_url")
t.ok(wait_for(lambda: m().get('drwatch_patroni_node_replay_lag_bytes{member="golddr1",'
                              'scope="pg-golddr",site="golddr"}') == 2048.0, 5),
     "golddr's standby leader is 2048 bytes behind gold's primary (same system identifier)")
t.is_(x.get('drwatch_patroni_node_leader_check{member="pg-gold-1",scope="pg-gold",'
            'site="gold"}'), 0.0, "the replica's GET /leader is 503 with JSON: leader_check 0")
t.is_(x.get('drwatch_patroni_endpoint_up{endpoint="%s",site="gold"}' % B), 1.0,
      "and it counts as an answer")

# One member misbehaves: only its endpoint is down.
cases = [("hang", {}, "timeout"), ("close", {}, "connection"), ("status", {"status": 500},
                                                                 "http_500"),
         ("garbage", {}, "bad_json"), ("truncate", {}, "bad_json"),
         ("huge", {"bytes": 4 << 20}, "body_too_large")]
for mode, extra, reason in cases:
    before = errors("gold", reason)
    control(B, "mode", dict({"path": "/leader", "mode": mode}, **extra))
    got = wait_for(lambda: m().get('drwatch_patroni_endpoint_up{endpoint="%s",site="gold"}' % B)
                   == 0 and errors("gold", reason) > before, 10)
    t.ok(got, "member %s: endpoint_up 0, errors_total{reason=\"%s\"}" % (mode, reason))
    x = m()
    t.ok(up("gold") == 1 and x.get('drwatch_patroni_leader_present{scope="pg-gold",site="gold"}')
         == 1, "  the gold site stays up with its leader")
    control(B, "reset")
    t.ok(wait_for(lambda: m().get('drwatch_patroni_endpoint_up{endpoint="%s",site="gold"}' % B)
                  == 1, 10), "  and the member is back")

# /cluster fails on the first member: the next member's is used.
control(A, "mode", {"path": "/cluster", "mode": "status", "status": 500})
wait_for(lambda: errors("gold", "http_500") >= 2, 5)
t.is_(m().get('drwatch_patroni_cluster_up{scope="pg-gold",site="gold"}'), 1.0,
      "/cluster answered by the second member when the first fails")
control(A, "reset")

# The whole golddr site fails: golddr down with the reason, gold untouched.
control(C, "mode", {"path": "*", "mode": "status", "status": 503})
t.ok(wait_for(lambda: up("golddr") == 0, 10), "every golddr member fails: golddr down")
t.ok(errors("golddr", "bad_json") + errors("golddr", "http_503") >= 1,
     "with its reason (503 with an HTML page: bad_json for /leader, http_503 for the rest)")
x = m()
t.ok(up("gold") == 1 and not has(x, 'drwatch_patroni_leader_present{scope="pg-golddr"'),
     "gold stays up; golddr's samples are dropped, not served stale")
t.is_(x.get('drwatch_collector_up{collector="self",target="drwatch"}'), 1.0,
      "the self collector is untouched")
control(C, "reset")
t.ok(wait_for(lambda: up("golddr") == 1, 10), "golddr recovers")
dw.stop_clean(t)
t.done()
