#!/usr/bin/env python3
"""The GSLB observer against a real DNS server: dnsmasq serves the GSLB name (a CNAME to the
pool name, as *.api.gov.bc.ca is) and the test moves it through the answers of the platform's
eight GSLB scenarios (gslb.md) while two HTTPS health endpoints (openssl-made certificates)
play the sites' /health. For each scenario: the answer class, every A record, the TTL, both
probes, and the held/changes counters. As the real F5 lags its monitors, each switch first
changes the health endpoints and checks that the probes see it while the answer stays put."""
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from drwatch_test import Drwatch, Tap, free_port, spawn, start_fake, tmpdir, wait_for  # noqa: E402
import gslb_fake  # noqa: E402

t = Tap()
d = tmpdir()
GOLD, GOLDDR = "142.34.229.4", "142.34.64.4"
NAME, POOL = "api.example.test", "ggw.glb.example.test"
TTL = 5

# ---- dnsmasq serving the GSLB name ----
hosts = os.path.join(d, "gslb.hosts")
dns_port = free_port()
dnsmasq = None


def set_answer(ips):
    """The pool name's A records; none at all (only an AAAA) is the F5's empty answer."""
    with open(hosts + ".tmp", "w") as f:
        for ip in ips:
            f.write("%s %s\n" % (ip, POOL))
        if not ips:
            f.write("fd00::1 %s\n" % POOL)
    os.rename(hosts + ".tmp", hosts)
    if dnsmasq:
        dnsmasq.send_signal(signal.SIGHUP)  # re-reads --addn-hosts


set_answer([])
dns_log = os.path.join(d, "dnsmasq.log")
dnsmasq = spawn(["dnsmasq", "--no-daemon", "--port=%d" % dns_port, "--listen-address=127.0.0.1",
                 "--bind-interfaces", "--no-resolv", "--no-hosts", "--addn-hosts=" + hosts,
                 "--local-ttl=%d" % TTL, "--local=/example.test/",
                 "--cname=%s,%s" % (NAME, POOL), "--user=root",
                 "--pid-file=" + os.path.join(d, "dnsmasq.pid")], dns_log)
t.ok(wait_for(lambda: "read " + hosts in open(dns_log).read()), "dnsmasq serves the GSLB name")

# ---- the sites' health endpoints ----
ca = gslb_fake.make_ca(d, "ca")
cert = gslb_fake.make_cert(d, "site", ca, san=["DNS:localhost", "IP:127.0.0.1"])
health = {}
for site in ("gold", "golddr"):
    port = start_fake("gslb_fake.py", os.path.join(d, site + "-health.log"), *cert)
    health[site] = "https://127.0.0.1:%d" % port


def set_health(site, state):
    url = health[site]
    gslb_fake.control(url, "reset")
    if state == "down":  # the health API scaled to 0: the router answers 503
        gslb_fake.control(url, "mode", {"path": "/health", "mode": "status", "status": 503})


set_health("gold", "down")
set_health("golddr", "down")

R = "127.0.0.1:%d" % dns_port
dw = Drwatch("""
drwatch = { site = "gold", fast_interval = "1s" }
gslb = {
  name = "%s",
  sites = { gold = { "%s" }, golddr = { "%s" } },
  resolvers = { "%s" },
  timeout = "300ms", tries = 2,
  probes = {
    { site = "gold", url = "%s/health", host = "ggw.example.test", ca_file = "%s" },
    { site = "golddr", url = "%s/health", host = "ggw.example.test", insecure_skip_verify = true },
  },
}
""" % (NAME, GOLD, GOLDDR, R, health["gold"], ca[0], health["golddr"])).start()

CLASSES = ("gold", "golddr", "both", "none", "unknown", "error")


def cls_key(c):
    return 'drwatch_gslb_answer_class{class="%s",resolver="%s"}' % (c, R)


HELD = 'drwatch_gslb_class_held_samples{resolver="%s"}' % R
CHANGES = 'drwatch_gslb_class_changes_total{resolver="%s"}' % R


def probe_key(site, status):
    return 'drwatch_gslb_probe_status{probe="%s/health",site="%s",status="%s"}' % (
        health[site], site, status)


def current_class(m):
    on = [c for c in CLASSES if m.get(cls_key(c)) == 1]
    return on[0] if len(on) == 1 else None


def probes_are(m, gold, golddr):
    return m.get(probe_key("gold", gold)) == 1 and m.get(probe_key("golddr", golddr)) == 1


def settle(klass, gold, golddr, min_held=2):
    """Waits until the answer class has held min_held samples and both probes agree."""
    return wait_for(lambda: (lambda m: current_class(m) == klass and m.get(HELD, 0) >= min_held
                             and probes_are(m, gold, golddr) and m)(dw.metrics()), timeout=10)


def health_then_answer(gold, golddr, answer, what):
    """The F5 lags its monitors: the probes see the change while the answer stays."""
    before = current_class(dw.metrics())
    set_health("gold", gold)
    set_health("golddr", golddr)
    m = wait_for(lambda: (lambda m: probes_are(m, gold, golddr) and m)(dw.metrics()), timeout=10)
    t.ok(m and current_class(m) == before,
         "%s: the probes see gold %s, golddr %s while the answer is still %s (stale)"
         % (what, gold, golddr, before))
    set_answer(answer)


def check_records(m, klass, what):
    want = {"gold": [(GOLD, "gold")], "golddr": [(GOLDDR, "golddr")], "none": []}[klass]
    got = sorted((k.split('address="')[1].split('"')[0], k.split('site="')[1].split('"')[0])
                 for k in m if k.startswith("drwatch_gslb_answer_address{"))
    t.is_(got, sorted(want), "%s: A records exported with their site" % what)
    t.is_(m.get('drwatch_gslb_answer_addresses{resolver="%s"}' % R), float(len(want)),
          "%s: %d records counted" % (what, len(want)))
    ttl = m.get('drwatch_gslb_answer_ttl_seconds{resolver="%s"}' % R)
    t.ok(ttl == TTL if want else ttl is None, "%s: answer TTL %s" % (what, ttl))


def scenario(name, steps, changes_delta):
    before = dw.metrics().get(CHANGES, 0)
    for i, (gold, golddr, answer, klass) in enumerate(steps):
        what = name + ("" if len(steps) == 1 else " step %d" % (i + 1))
        if answer is not None:
            health_then_answer(gold, golddr, answer, what)
        m = settle(klass, gold, golddr)
        if not t.ok(m, "%s: the answer is %s and stays (gold %s, golddr %s)"
                    % (what, klass, gold, golddr)):
            m = dw.metrics()
            t.diag("class %s held %s probes %s" % (current_class(m), m.get(HELD), {
                k: v for k, v in m.items() if "probe_status{" in k and v == 1}))
            continue
        check_records(m, klass, what)
    t.is_(dw.metrics().get(CHANGES, 0) - before, float(changes_delta),
          "%s: the class changed %d times" % (name, changes_delta))


# baseline_all_down: only the probes are asserted (both down); the F5 answers nothing.
m = settle("none", "down", "down")
t.ok(m, "baseline_all_down: both probes down, the answer empty")
t.is_(m and m.get('drwatch_gslb_probe_http_status{probe="%s/health",site="gold"}'
                  % health["gold"]), 503.0, "baseline_all_down: the probe saw the 503")
t.is_(m and m.get('drwatch_gslb_probe_up{probe="%s/health",site="golddr"}' % health["golddr"]),
      0.0, "baseline_all_down: golddr is not up")

scenario("test_happy_path", [("up", "up", [GOLD], "gold")], 1)
scenario("test_switch_to_dr", [("down", "up", [GOLDDR], "golddr")], 1)
scenario("test_total_outage", [("down", "down", [], "none")], 1)
scenario("test_switch_to_primary", [("up", "up", [GOLD], "gold")], 1)

# test_dr_down: GoldDR's health goes, the answer stays Gold: no change, held keeps growing.
m = dw.metrics()
held0, changes0 = m.get(HELD, 0), m.get(CHANGES)
set_health("golddr", "down")
m = settle("gold", "up", "down", min_held=held0 + 2)
t.ok(m, "test_dr_down: GoldDR down, the answer stays gold")
t.is_(m and m.get(CHANGES) - changes0, 0.0, "test_dr_down: no class change")

scenario("test_dr_then_recovery", [("down", "up", [GOLDDR], "golddr"),
                                   ("up", "up", [GOLD], "gold")], 2)

# test_dr_maintenance_with_outage: DR in maintenance (health 0), then Gold goes too: the answer
# must go empty, never to GoldDR.
set_health("golddr", "down")
t.ok(settle("gold", "up", "down"), "test_dr_maintenance_with_outage: DR in maintenance, gold")
changes0 = dw.metrics().get(CHANGES)
health_then_answer("down", "down", [], "test_dr_maintenance_with_outage")
seen = set()
m = wait_for(lambda: (lambda m: seen.add(current_class(m)) or (
    current_class(m) == "none" and m.get(HELD, 0) >= 2 and m))(dw.metrics()), timeout=10)
t.ok(m, "test_dr_maintenance_with_outage: the answer goes empty")
t.ok("golddr" not in seen, "test_dr_maintenance_with_outage: traffic never went to GoldDR")
t.is_(m and m.get(CHANGES) - changes0, 1.0, "test_dr_maintenance_with_outage: one change")
check_records(m or {}, "none", "test_dr_maintenance_with_outage")

# Across all of it.
m = dw.metrics()
t.ok(m.get('drwatch_gslb_lookups_total{resolver="%s",status="ok"}' % R, 0) >= 15 and
     m.get('drwatch_gslb_lookups_total{resolver="%s",status="nodata"}' % R, 0) >= 5,
     "lookups are counted: ok with records, nodata for the empty answers")
t.ok(not any(k.startswith("drwatch_gslb_lookups_total{") and 'status="ok"' not in k
             and 'status="nodata"' not in k for k in m), "and none failed")
t.ok(0 < m.get('drwatch_gslb_lookup_duration_seconds{resolver="%s"}' % R, 0) < 0.3,
     "lookup latency is measured")
t.ok(all(v == 1 for k, v in m.items() if k.startswith('drwatch_collector_up{collector="gslb"')),
     "every gslb target stayed up")
t.is_(m.get('drwatch_gslb_lookup_info{name="%s",resolver="%s",servers="%s",status="nodata"}'
            % (NAME, R, R)), 1.0, "the lookup info names the GSLB name, the server and the status")
hosts_seen = {r["headers"].get("Host") for r in gslb_fake.requests(health["gold"])}
t.is_(hosts_seen, {"ggw.example.test"}, "the probe sends the public name as Host")
t.ok('answer class none -> gold' in dw.log() and 'gold -> golddr' in dw.log(),
     "class changes are logged")
dw.stop_clean(t)
t.done()
