#!/usr/bin/env python3
"""The patroni and postgres collectors against a real lab (tests/lib/patroni_lab.py): etcd, a
gold primary cluster (gold1 leader, gold2 replica) and a golddr standby cluster (golddr1, the
standby leader, streaming from gold1 through the permanent slot "golddr"). One lab for every
scenario, the destructive ones last:

  1. roles, timelines, standby_cluster and replication as Patroni and PostgreSQL report them;
  2. writes on gold with golddr's replay held: replay lag in bytes and seconds, back to ~0;
  3. Patroni's REST API frozen (SIGSTOP) on gold2 (one member of a site) and on golddr1 (the
     whole site): the right endpoint/target fails, nothing else does;
  4. golddr's PostgreSQL stopped: postgres golddr fails (connect, then backoff), Patroni says
     stopped, the rest is untouched; it comes back;
  5. golddr promoted by PATCH /config {"standby_cluster": null}: two writable leaders;
  6. etcd stopped: /cluster fails, no leader lock, DCS contact stops; the REST APIs and the
     PostgreSQL targets stay up.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import Drwatch, Tap, tmpdir, wait_for  # noqa: E402
from patroni_lab import MONITOR_PASS, MONITOR_USER, PatroniLab  # noqa: E402

t = Tap()
T0 = time.time()
lab = PatroniLab(nodes=("gold1", "gold2", "golddr1"))
try:
    lab.start()
except Exception as e:  # noqa: BLE001 - report the lab's failure as a test failure
    t.ok(False, "the lab starts: %s" % e)
    t.done()
t.ok(True, "lab up: etcd %.1fs, gold leader %.1fs, gold2 and golddr1 streaming %.1fs" % (
    lab.timings["etcd"], lab.timings["gold leader"], lab.timings["all streaming"]))

secret = os.path.join(tmpdir(), "pgpass")
with open(secret, "w") as f:
    f.write(MONITOR_PASS + "\n")
G1, G2, DR1 = lab.rest("gold1"), lab.rest("gold2"), lab.rest("golddr1")
config = """
drwatch = { site = "golddr", fast_interval = "1s" }
patroni = { targets = {
  { site = "gold", name = "gold", url = "%s", member_urls = { "%s" } },
  { site = "golddr", name = "golddr", url = "%s" },
} }
postgres = { targets = {
  { site = "gold", name = "gold", host = "127.0.0.1", port = %d, user = "%s",
    password_file = "%s", reconnect_backoff_max = "2s" },
  { site = "golddr", name = "golddr", host = "127.0.0.1", port = %d, user = "%s",
    password_file = "%s", reconnect_backoff_max = "2s" },
} }
""" % (G1, G2, DR1, lab.pg_port("gold1"), MONITOR_USER, secret, lab.pg_port("golddr1"),
       MONITOR_USER, secret)
dw = Drwatch(config).start()

SERIES = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def find(metrics, name, **labels):
    """Values of the series of `name` whose labels include `labels`."""
    out = []
    for series, value in metrics.items():
        m = SERIES.match(series)
        if not m or m.group(1) != name:
            continue
        have = dict(LABEL.findall(m.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            out.append(value)
    return out


def val(name, m=None, **labels):
    got = find(m if m is not None else dw.metrics(), name, **labels)
    return got[0] if len(got) == 1 else None


def up(collector, site):
    return val("drwatch_collector_up", collector=collector, site=site)


def errors(collector, site, reason):
    return val("drwatch_collector_errors_total", collector=collector, site=site,
               reason=reason) or 0


def until(pred, timeout=15):
    return wait_for(pred, timeout, 0.2)


def num(x, default):
    """x, or default when the series is absent (0.0 is a value, not an absence)."""
    return default if x is None else x


STEP = [time.time()]


def step(name):
    now = time.time()
    t.diag("%s: %.1fs" % (name, now - STEP[0]))
    STEP[0] = now


# ---- 1. roles and timelines ----
t.ok(until(lambda: all(up(c, s) == 1 for c in ("patroni", "postgres") for s in ("gold", "golddr"))
           and val("drwatch_postgres_wal_receiver_streaming", site="golddr") == 1
           and len(find(dw.metrics(), "drwatch_patroni_member_timeline")) == 3
           and val("drwatch_patroni_member_lag_bytes", member="gold2") is not None),
     "all four targets up, every member published in /cluster")
m = dw.metrics()
t.is_(val("drwatch_patroni_member_info", m, site="gold", member="gold1", role="leader",
          state="running"), 1.0, "gold1 is gold's leader in /cluster")
t.is_(val("drwatch_patroni_member_info", m, site="gold", member="gold2", role="replica"), 1.0,
      "gold2 is a replica")
t.is_(val("drwatch_patroni_member_info", m, site="golddr", member="golddr1",
          role="standby_leader"), 1.0, "golddr1 is golddr's standby leader")
t.is_(val("drwatch_patroni_node_info", m, site="gold", member="gold1", role="primary"), 1.0,
      "gold1 says role master (Patroni 3.0.2), exported as primary")
t.is_(val("drwatch_patroni_node_info", m, site="golddr", member="golddr1",
          role="standby_leader"), 1.0, "golddr1's own document says standby_leader")
t.ok(all(v == 1 for v in find(m, "drwatch_patroni_member_timeline")) and
     len(find(m, "drwatch_patroni_member_timeline")) == 3, "every member on timeline 1")
t.is_(val("drwatch_patroni_node_timeline", m, member="golddr1"), 1.0, "golddr1's own timeline 1")
t.is_((val("drwatch_patroni_leader_present", m, site="gold"),
       val("drwatch_patroni_leader_present", m, site="golddr")), (1.0, 1.0),
      "a leader in each site")
t.is_((val("drwatch_patroni_leader_writable", m, site="gold"),
       val("drwatch_patroni_leader_writable", m, site="golddr")), (1.0, 0.0),
      "one writable leader: gold's")
t.is_(val("drwatch_patroni_standby_cluster", m, site="golddr"), 1.0, "golddr is a standby cluster")
t.is_(val("drwatch_patroni_standby_cluster_info", m, site="golddr", host="127.0.0.1",
          port=str(lab.pg_port("gold1")), primary_slot_name="golddr"), 1.0,
      "pointing at gold1's PostgreSQL through slot golddr")
t.is_(val("drwatch_patroni_standby_cluster", m, site="gold"), 0.0, "gold is not")
# Patroni computes a replica's lag from the WAL positions it last saw; just after start-up
# gold2 may still be a segment (16 MiB) behind, so wait for it to catch up, as it must.
t.ok(until(lambda: val("drwatch_patroni_member_lag_bytes", member="gold2") == 0),
     "gold2 catches up: lag 0 in /cluster")
t.is_(val("drwatch_patroni_endpoint_up", m, endpoint=G2), 1.0, "gold2's REST API answers")
t.is_((val("drwatch_postgres_in_recovery", m, site="gold"),
       val("drwatch_postgres_in_recovery", m, site="golddr")), (0.0, 1.0),
      "pg_is_in_recovery(): gold f, golddr t")
t.is_(val("drwatch_postgres_wal_receiver_info", m, site="golddr", status="streaming",
          sender_port=str(lab.pg_port("gold1")), slot_name="golddr"), 1.0,
      "golddr's WAL receiver streams from gold1 through slot golddr")
t.is_(len(find(m, "drwatch_postgres_replication_info", site="gold")), 2,
      "gold has two walsenders")
t.is_(val("drwatch_postgres_replication_info", m, site="gold", application_name="golddr1",
          state="streaming"), 1.0, "golddr1 among them")
t.is_(val("drwatch_postgres_slot_active", m, site="gold", slot_name="golddr"), 1.0,
      "slot golddr is active on gold")
ids = {v for s, v in [(s, re.search(r'system_identifier="(\d+)"', s)) for s in m
                      if s.startswith("drwatch_postgres_info")] if v}
t.is_(len({x.group(1) for x in ids}), 1, "gold and golddr share one system identifier")

step("roles")

# ---- 2. writes on gold, replay held on golddr, then released ----
t.ok(until(lambda: val("drwatch_postgres_replay_lag_seconds", site="golddr") == 0 and
           val("drwatch_postgres_replay_lag_bytes", site="golddr") == 0),
     "golddr is caught up before the writes: 0 bytes, 0 seconds")
lab.pause_replay("golddr1")
lab.write_rows(20000)
t.ok(until(lambda: num(val("drwatch_postgres_replay_lag_bytes", site="golddr"), 0) > 1 << 20),
     "writes on gold show up as golddr's replay lag in bytes (%s)"
     % val("drwatch_postgres_replay_lag_bytes", site="golddr"))
t.ok(until(lambda: num(val("drwatch_patroni_node_replay_lag_bytes", member="golddr1"), 0)
           > 1 << 20),
     "and in Patroni's view, against gold1's xlog.location (%s)"
     % val("drwatch_patroni_node_replay_lag_bytes", member="golddr1"))
t.ok(until(lambda: num(val("drwatch_postgres_replay_lag_seconds", site="golddr"), 0) > 0.5),
     "replay lag in seconds grows (%s)" % val("drwatch_postgres_replay_lag_seconds", site="golddr"))
t.ok(until(lambda: num(val("drwatch_postgres_receive_lag_bytes", site="golddr"), 1e9) < 1 << 20),
     "WAL is still received: receive lag stays small (%s)"
     % val("drwatch_postgres_receive_lag_bytes", site="golddr"))
m = dw.metrics()
t.is_((val("drwatch_postgres_replay_paused", m, site="golddr"),
       val("drwatch_patroni_node_replay_paused", m, member="golddr1"),
       val("drwatch_patroni_paused", m, site="golddr")), (1.0, 1.0, 1.0),
      "replay paused and maintenance mode reported")
t.ok(num(val("drwatch_postgres_replication_replay_lag_bytes", m, site="gold",
             application_name="golddr1"), 0) > 1 << 20, "gold's pg_stat_replication sees it too")
lab.resume_replay("golddr1")
t.ok(until(lambda: num(val("drwatch_postgres_replay_lag_bytes", site="golddr"), 1e9) < 65536 and
           val("drwatch_postgres_replay_lag_seconds", site="golddr") == 0),
     "replay lag returns to about zero (%s bytes, %s s)" % (
         val("drwatch_postgres_replay_lag_bytes", site="golddr"),
         val("drwatch_postgres_replay_lag_seconds", site="golddr")))
t.ok(until(lambda: num(val("drwatch_patroni_node_replay_lag_bytes", member="golddr1"), 1e9)
           < 65536 and val("drwatch_patroni_paused", site="golddr") == 0),
     "in Patroni's view too, out of maintenance mode")

step("lag")

# ---- 3. Patroni's REST API frozen: one member of gold, the whole of golddr ----
before = errors("patroni", "gold", "timeout")
lab.stop_rest_api("gold2")
lab.stop_rest_api("golddr1")
try:
    t.ok(until(lambda: val("drwatch_patroni_endpoint_up", endpoint=G2) == 0, 10),
         "gold2's frozen REST API: its endpoint_up is 0")
    t.ok(until(lambda: up("patroni", "golddr") == 0, 10),
         "golddr's only member frozen: the golddr patroni target is down")
    m = dw.metrics()
    t.ok(errors("patroni", "golddr", "timeout") >= 1, "with reason timeout")
    t.ok(errors("patroni", "gold", "timeout") > before, "gold2's timeout counted on gold")
    t.is_((up("patroni", "gold"), val("drwatch_patroni_leader_present", m, site="gold"),
           val("drwatch_patroni_cluster_up", m, site="gold")), (1.0, 1.0, 1.0),
          "gold's target stays up with its leader and cluster view")
    t.is_((up("postgres", "gold"), up("postgres", "golddr")), (1.0, 1.0),
          "PostgreSQL is untouched on both sites")
finally:
    lab.resume_rest_api("gold2")
    lab.resume_rest_api("golddr1")
t.ok(until(lambda: up("patroni", "golddr") == 1 and
           val("drwatch_patroni_endpoint_up", endpoint=G2) == 1, 15),
     "both REST APIs answer again")

step("REST API frozen")

# ---- 4. golddr's PostgreSQL stopped ----
lab.stop_postgres("golddr1")
t.ok(until(lambda: up("postgres", "golddr") == 0, 10), "golddr's PostgreSQL down: postgres "
     "golddr target down")
t.ok(until(lambda: errors("postgres", "golddr", "connect") + errors("postgres", "golddr",
                                                                     "connection") >= 1 and
           errors("postgres", "golddr", "backoff") >= 1, 10),
     "reasons connect (or connection), then backoff while reconnecting")


def golddr1_states(kind):
    """The state labels of golddr1's node_info or member_info series."""
    return [re.search(r'state="([^"]*)"', k).group(1) for k in dw.metrics()
            if k.startswith("drwatch_patroni_%s_info{" % kind) and 'member="golddr1"' in k]


t.ok(until(lambda: golddr1_states("node") and "running" not in golddr1_states("node") and
           golddr1_states("member") and "running" not in golddr1_states("member"), 10),
     "Patroni reports golddr1's PostgreSQL not running (own document: %s, /cluster: %s)"
     % (golddr1_states("node"), golddr1_states("member")))
m = dw.metrics()
t.is_((up("patroni", "golddr"), val("drwatch_patroni_leader_present", m, site="gold")),
      (1.0, 1.0), "golddr's Patroni target stays up, gold keeps its leader")
t.is_((up("postgres", "gold"), up("patroni", "gold")), (1.0, 1.0), "gold is untouched")
lab.start_postgres("golddr1")
t.ok(until(lambda: up("postgres", "golddr") == 1 and
           val("drwatch_postgres_wal_receiver_streaming", site="golddr") == 1, 30),
     "golddr's PostgreSQL is back and streaming, the collector reconnected")

step("PostgreSQL stopped")

# ---- 5. promote golddr: two writable leaders ----
status, body = lab.promote("golddr")
t.ok(status == 200 and "standby_cluster" not in body, "PATCH /config {standby_cluster: null}")
t.ok(until(lambda: val("drwatch_patroni_leader_writable", site="golddr") == 1 and
           val("drwatch_patroni_leader_writable", site="gold") == 1, 20),
     "two writable leaders reported (gold and golddr): the worst DR alarm")
t.ok(until(lambda: val("drwatch_postgres_in_recovery", site="golddr") == 0 and
           val("drwatch_postgres_in_recovery", site="gold") == 0, 20),
     "PostgreSQL: two primaries of one system identifier")
t.ok(until(lambda: val("drwatch_patroni_standby_cluster", site="golddr") == 0 and
           not find(dw.metrics(), "drwatch_patroni_standby_cluster_info", site="golddr"), 10),
     "golddr's standby_cluster is gone")
t.ok(until(lambda: val("drwatch_patroni_member_timeline", member="golddr1") == 2 and
           val("drwatch_postgres_timeline", site="golddr") == 2, 20),
     "golddr1 on timeline 2")
t.is_(val("drwatch_patroni_member_info", site="golddr", member="golddr1", role="leader"), 1.0,
      "golddr1's role is leader")

step("promote")

# ---- 6. etcd stopped ----
failed_before = sum(errors("patroni", site, r) for site in ("gold", "golddr")
                    for r in ("timeout", "connection", "http_502"))
lab.stop_etcd()
t.ok(until(lambda: val("drwatch_patroni_cluster_up", site="gold") == 0 and
           val("drwatch_patroni_cluster_up", site="golddr") == 0, 10),
     "etcd down: /cluster fails on both sites")
t.ok(until(lambda: val("drwatch_patroni_leader_present", site="gold") == 0 and
           val("drwatch_patroni_leader_present", site="golddr") == 0, 20),
     "no leader lock left in either site")
time.sleep(2.5)
m = dw.metrics()
seen = val("drwatch_patroni_node_dcs_last_seen_timestamp_seconds", m, member="gold1")
t.ok(seen is not None and time.time() - seen >= 2,
     "dcs_last_seen stops moving (%.1fs old)" % (time.time() - (seen or 0)))
t.is_((up("patroni", "gold"), up("patroni", "golddr")), (1.0, 1.0),
      "the REST APIs still answer: both patroni targets up")
t.ok(until(lambda: up("postgres", "gold") == 1 and up("postgres", "golddr") == 1 and
           val("drwatch_postgres_in_recovery", site="gold") == 1, 20),
     "both postgres targets up, the leaders demoted to read-only (Patroni without its DCS)")
t.ok(sum(errors("patroni", site, r) for site in ("gold", "golddr")
        for r in ("timeout", "connection", "http_502")) > failed_before,
     "the failed /cluster and /config are counted (timeout: Patroni waits on etcd)")

step("etcd stopped")
dw.stop_clean(t)
t0 = time.time()
lab.stop()
t.ok(not lab._lab_pids(), "the lab is torn down (%.1fs); whole test %.1fs" % (
    time.time() - t0, time.time() - T0))
t.done()
