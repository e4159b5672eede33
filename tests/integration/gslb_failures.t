#!/usr/bin/env python3
"""The GSLB observer when things are broken or odd: resolvers that answer SERVFAIL or REFUSED,
time out, or are not there (each its own status, an error and never an answer, counted but not
a failed target); answers with two addresses (in either order: "both"), an address of neither
site, NXDOMAIN; health endpoints that answer another body, 503, hang, fail TLS verification or
refuse connections. Also: held/changes survive a reload, resolver failures are logged once while
they repeat, and check-config refuses bad gslb sections with a reason."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from drwatch_test import Drwatch, Tap, check_config, free_port, spawn, start_fake  # noqa: E402
from drwatch_test import tmpdir, wait_for  # noqa: E402
import gslb_fake  # noqa: E402

t = Tap()
d = tmpdir()
GOLD, GOLDDR, OTHER = "142.34.229.4", "142.34.64.4", "10.9.9.9"
POOL = "ggw.glb.example.test"

# ---- resolvers: dnsmasq for real answers, the fake for failures, and nobody ----
hosts = os.path.join(d, "gslb.hosts")
dnsmasq = None


def set_answer(ips):
    with open(hosts + ".tmp", "w") as f:
        f.write("".join("%s %s\n" % (ip, POOL) for ip in ips))
    os.rename(hosts + ".tmp", hosts)
    if dnsmasq:
        dnsmasq.send_signal(signal.SIGHUP)


set_answer([GOLD, GOLDDR])
good = free_port()
dns_log = os.path.join(d, "dnsmasq.log")
dnsmasq = spawn(["dnsmasq", "--no-daemon", "--port=%d" % good, "--listen-address=127.0.0.1",
                 "--bind-interfaces", "--no-resolv", "--no-hosts", "--addn-hosts=" + hosts,
                 "--local-ttl=2", "--local=/example.test/", "--user=root",
                 "--pid-file=" + os.path.join(d, "dnsmasq.pid")], dns_log)
wait_for(lambda: "read " + hosts in open(dns_log).read())
bad = {}
for mode in ("servfail", "refused", "timeout"):
    bad[mode] = "127.0.0.1:%d" % start_fake("dns_fake.py", os.path.join(d, mode + ".log"), mode)
bad["connrefused"] = "127.0.0.1:%d" % free_port()  # nothing listens there
G = "127.0.0.1:%d" % good

# ---- health endpoints ----
ca = gslb_fake.make_ca(d, "ca")
other_ca = gslb_fake.make_ca(d, "other-ca")
cert = gslb_fake.make_cert(d, "site", ca, san=["DNS:localhost", "IP:127.0.0.1",
                                               "DNS:ggw.example.test"])
hport = start_fake("gslb_fake.py", os.path.join(d, "health.log"), *cert)
H = "https://127.0.0.1:%d" % hport
closed = "https://127.0.0.1:%d/health" % free_port()

resolvers = [G] + [bad[k] for k in ("servfail", "refused", "timeout", "connrefused")]
config = """
drwatch = { site = "golddr", fast_interval = "1s" }
gslb = {
  name = "%s",
  sites = { gold = { "%s" }, golddr = { "%s" } },
  resolvers = { %s },
  timeout = "200ms", tries = 2,
  probes = {
    { site = "gold", url = "%s/health", host = "ggw.example.test", ca_file = "%s" },
    { site = "golddr", name = "wrong-ca", url = "%s/health", ca_file = "%s" },
    { site = "golddr", name = "closed", url = "%s", insecure_skip_verify = true },
    { site = "golddr", name = "by-name", url = "https://ggw.example.test:%d/health",
      connect_to = "127.0.0.1", ca_file = "%s" },
    { site = "golddr", name = "other-name", url = "https://other.example.test:%d/health",
      connect_to = "127.0.0.1", ca_file = "%s" },
  },
}
""" % (POOL, GOLD, GOLDDR, ", ".join('"%s"' % r for r in resolvers), H, ca[0], H, other_ca[0],
       closed, hport, ca[0], hport, ca[0])
dw = Drwatch(config).start()


def key(family, **labels):
    return "%s{%s}" % (family, ",".join('%s="%s"' % kv for kv in sorted(labels.items())))


def cls_of(m, r):
    on = [c for c in ("gold", "golddr", "both", "none", "unknown", "error")
          if m.get(key("drwatch_gslb_answer_class", resolver=r, **{"class": c})) == 1]
    return on[0] if len(on) == 1 else None


def status_of(m, r):
    for k, v in m.items():
        if k.startswith("drwatch_gslb_lookup_info{") and 'resolver="%s"' % r in k:
            return k.split('status="')[1].split('"')[0]
    return None


m = wait_for(lambda: (lambda m: all(status_of(m, r) for r in resolvers) and m)(dw.metrics()))
# ---- failures are told apart, and are never an answer ----
for mode in ("servfail", "refused", "timeout", "connrefused"):
    r = bad[mode]
    t.ok(cls_of(m, r) == "error" and status_of(m, r) == mode,
         "%s resolver: class error, status %s (got %s, %s)" % (mode, mode, cls_of(m, r),
                                                               status_of(m, r)))
    t.is_(m.get(key("drwatch_gslb_answer_addresses", resolver=r)), 0.0,
          "%s resolver: no addresses" % mode)
    t.is_(m.get(key("drwatch_collector_up", collector="gslb", target=r)), 1.0,
          "%s resolver: the target itself is up (the error is an observation)" % mode)
    t.ok(m.get(key("drwatch_collector_errors_total", collector="gslb", target=r,
                   reason="dns_" + mode), 0) >= 1, "%s resolver: counted as dns_%s" % (mode, mode))
    t.ok(m.get(key("drwatch_gslb_lookups_total", resolver=r, status=mode), 0) >= 1,
         "%s resolver: lookups_total{status=%s}" % (mode, mode))
dur = m.get(key("drwatch_gslb_lookup_duration_seconds", resolver=bad["timeout"]))
t.ok(dur and 0.5 <= dur < 0.95, "the timing-out resolver gave up after timeout and retry (%.3fs)"
     % (dur or 0))
t.ok(m.get(key("drwatch_gslb_lookup_duration_seconds", resolver=bad["servfail"]), 1) < 0.2,
     "SERVFAIL is reported at once, not retried into a timeout")

# ---- odd answers from the real server ----
for _ in range(3):  # dnsmasq rotates the two records: the class must not depend on the order
    m = wait_for(lambda: (lambda m: cls_of(m, G) == "both" and m)(dw.metrics()))
    t.ok(m, "a two-address answer is both")
    time.sleep(0.5)
t.is_(sorted(k for k in m if k.startswith("drwatch_gslb_answer_address{") and G in k),
      sorted([key("drwatch_gslb_answer_address", address=GOLDDR, resolver=G, site="golddr"),
              key("drwatch_gslb_answer_address", address=GOLD, resolver=G, site="gold")]),
      "both records are exported, each with its site")

set_answer([OTHER])
m = wait_for(lambda: (lambda m: cls_of(m, G) == "unknown" and m)(dw.metrics()))
t.ok(m, "an address of neither site is unknown")
t.ok(m and m.get(key("drwatch_gslb_answer_address", address=OTHER, resolver=G)) == 1,
     "and exported without a site")
set_answer([GOLD, OTHER])
t.ok(wait_for(lambda: cls_of(dw.metrics(), G) == "unknown"),
     "a Gold address beside an unknown one is unknown, not gold")
set_answer([])
m = wait_for(lambda: (lambda m: cls_of(m, G) == "error" and m)(dw.metrics()))
t.ok(m and status_of(m, G) == "nxdomain", "a name that is gone is an error: nxdomain")
set_answer([GOLD])
t.ok(wait_for(lambda: cls_of(dw.metrics(), G) == "gold"), "and it answers gold again")

# ---- held and changes survive a reload ----
m = dw.metrics()
held0 = m.get(key("drwatch_gslb_class_held_samples", resolver=G))
changes0 = m.get(key("drwatch_gslb_class_changes_total", resolver=G))
timeout_held0 = m.get(key("drwatch_gslb_class_held_samples", resolver=bad["timeout"]))
dw.signal(signal.SIGHUP)
t.ok(wait_for(lambda: dw.log().count("loaded ") >= 1), "SIGHUP reloaded the config")
m = wait_for(lambda: (lambda m: m.get(key("drwatch_gslb_class_held_samples", resolver=G), 0)
                      > held0 + 1 and m)(dw.metrics()))
t.ok(m, "held keeps counting across the reload (%s before)" % held0)
t.is_(m and m.get(key("drwatch_gslb_class_changes_total", resolver=G)), changes0,
      "and the change counter is kept")
t.ok(m and m.get(key("drwatch_gslb_class_held_samples", resolver=bad["timeout"]), 0)
     > timeout_held0, "an error class is held across the reload too")

# ---- probes ----
PG = H + "/health"


def probe(m, name, site):
    for st in ("up", "down", "wrong_body"):
        if m.get(key("drwatch_gslb_probe_status", probe=name, site=site, status=st)) == 1:
            return st


def probe_reason_count(m, name, site, reason):
    return m.get(key("drwatch_gslb_probe_results_total", probe=name, site=site, reason=reason), 0)


m = dw.metrics()
t.is_(probe(m, PG, "gold"), "up", "the Gold probe is up (CA verified, Host sent)")
t.is_(probe(m, "wrong-ca", "golddr"), "down", "a certificate from another CA: down")
t.ok(probe_reason_count(m, "wrong-ca", "golddr", "tls") >= 1, "with reason tls")
t.is_(probe(m, "by-name", "golddr"), "up",
      "connect_to: the URL names the public host, TLS verifies the certificate against it")
t.is_(probe(m, "other-name", "golddr"), "down",
      "connect_to with a name the certificate does not carry: down")
t.ok(probe_reason_count(m, "other-name", "golddr", "tls") >= 1, "with reason tls")
t.is_(probe(m, "closed", "golddr"), "down", "a closed port: down")
t.ok(probe_reason_count(m, "closed", "golddr", "connect") >= 1, "with reason connect")

gslb_fake.control(H, "state", {"body": "<html><body>maintenance</body></html>"})
m = wait_for(lambda: (lambda m: probe(m, PG, "gold") == "wrong_body" and m)(dw.metrics()))
t.ok(m, "another body is wrong_body")
t.ok(m and probe_reason_count(m, PG, "gold", "body_mismatch") >= 1, "counted as body_mismatch")
t.is_(m and m.get(key("drwatch_gslb_probe_http_status", probe=PG, site="gold")), 200.0,
      "with its HTTP status")
gslb_fake.control(H, "reset")
gslb_fake.control(H, "mode", {"path": "/health", "mode": "status", "status": 503})
m = wait_for(lambda: (lambda m: probe(m, PG, "gold") == "down" and m)(dw.metrics()))
t.ok(m and probe_reason_count(m, PG, "gold", "http_503") >= 1, "503 is down, reason http_503")
gslb_fake.control(H, "reset")
t.ok(wait_for(lambda: probe(dw.metrics(), PG, "gold") == "up"), "back up")
gslb_fake.control(H, "mode", {"path": "/health", "mode": "hang"})
m = wait_for(lambda: (lambda m: probe(m, PG, "gold") == "down" and m)(dw.metrics()))
t.ok(m and probe_reason_count(m, PG, "gold", "timeout") >= 1, "a hanging endpoint is down: timeout")
dur = m and m.get(key("drwatch_gslb_probe_duration_seconds", probe=PG, site="gold"))
t.ok(dur and 0.8 <= dur < 1.0, "after the probe's share of the interval (%.3fs)" % (dur or 0))
t.is_(m and m.get(key("drwatch_collector_up", collector="gslb", site="gold", target=PG)), 1.0,
      "the probe target stays up: down is an observation")
t.ok(m and m.get(key("drwatch_gslb_probe_status_changes_total", probe=PG, site="gold")) == 4,
     "every probe status change was counted (up, wrong_body, down, up, down)")
gslb_fake.control(H, "reset")
t.ok(wait_for(lambda: probe(dw.metrics(), PG, "gold") == "up"), "and up again")
gslb_fake.control(H, "mode", {"path": "/health", "mode": "huge", "bytes": 1 << 20})
m = wait_for(lambda: (lambda m: probe(m, PG, "gold") == "wrong_body" and m)(dw.metrics()))
t.ok(m and probe_reason_count(m, PG, "gold", "body_too_large") >= 1,
     "a body far over the 64 KiB cap is wrong_body: body_too_large")
gslb_fake.control(H, "reset")
t.ok(wait_for(lambda: probe(dw.metrics(), PG, "gold") == "up"), "up again")

log = dw.log()
t.is_(log.count("resolver %s: lookup of %s failed" % (bad["servfail"], POOL)), 1,
      "a failing resolver is logged once while it repeats")
t.ok("probe %s of gold: up -> wrong_body" % PG in log, "probe changes are logged")
t.is_(m.get(key("drwatch_collector_up", collector="self", target="drwatch")), 1.0,
      "the self collector is unaffected")
dw.stop_clean(t)

# ---- check-config refuses bad sections ----
base = 'drwatch = { site = "gold" }\ngslb = { name = "g.test", %s }\n'
cases = [
    ('sites = { gold = { "1.2.3.4" }, golddr = { "1.2.3" } }', 'sites.golddr[1]: "1.2.3" is not'),
    ('sites = { gold = { "1.2.3.4" }, golddr = { "1.2.3.4" } }', "listed for both sites"),
    ('sites = { gold = { "1.2.3.4" } }', "golddr: missing"),
    ('sites = { gold = { "1.2.3.4" }, golddr = { "5.6.7.8" } }, resolvers = { "dns.example" }',
     'resolvers[1]: "dns.example" is not'),
    ('sites = { gold = { "1.2.3.4" }, golddr = { "5.6.7.8" } }, resolvers = { "1.1.1.1", '
     '"1.1.1.1" }', "listed twice"),
    ('sites = { gold = { "1.2.3.4" }, golddr = { "5.6.7.8" } }, resolvers = { "1.1.1.1:53" }, '
     'timeout = "2s", tries = 3', "can take 14s per lookup"),
    ('sites = { gold = { "1.2.3.4" }, golddr = { "5.6.7.8" } }, probes = { { site = "gold", '
     'url = "ftp://x/health" } }', "url must start with http"),
]
for body, want in cases:
    rc, out = check_config(base % body, d)
    t.ok(rc == 1 and want in out, "check-config refuses: %s" % out)
t.done()
