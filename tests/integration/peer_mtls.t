#!/usr/bin/env python3
"""The mTLS peer link between two drwatch instances (Gold and GoldDR) with openssl-made
certificates: each fetches the other's view (its DR state, from its own switchover-state
ConfigMap in a fake Kubernetes API; its GSLB view; its /health probe) and exports it;
the peer endpoint serves only a client whose certificate chains to the configured CA AND names
the expected identity. A client from the right CA with the wrong identity, one with no
certificate, one from another CA, an expired one, one not meant for TLS clients, plain HTTP,
idle connections and too many authenticated at once are all refused, counted by reason and logged
once while they repeat (a flood of strangers is peer_flood.t's). Also: the peer going away and coming back, reloads that change the allowed
identities or fail on a bad certificate, the --web.peer-listen-address flag, check-config."""
import json
import os
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from drwatch_test import Drwatch, Tap, check_config, free_port, start_fake, tmpdir  # noqa: E402
from drwatch_test import http, peer_fetch, wait_for  # noqa: E402
from gslb_fake import make_ca, make_cert  # noqa: E402

t = Tap()
d = tmpdir()
ca = make_ca(d, "ca")
other_ca = make_ca(d, "other-ca")
certs = {
    "gold": make_cert(d, "gold", ca, san=["DNS:drwatch.gold.test", "IP:127.0.0.1"]),
    "golddr": make_cert(d, "golddr", ca, san=["DNS:drwatch.golddr.test", "IP:127.0.0.1"]),
    "intruder": make_cert(d, "intruder", ca, san=["DNS:intruder.test"]),
    "impostor": make_cert(d, "impostor", other_ca, san=["DNS:drwatch.golddr.test"]),
    "expired": make_cert(d, "expired", ca, san=["DNS:drwatch.golddr.test"], expired=True),
    "server_only": make_cert(d, "server_only", ca, san=["DNS:drwatch.golddr.test"],
                             usage="serverAuth"),
    "cn_only": make_cert(d, "cn_only", ca, cn="drwatch.golddr.test"),
}

# The GSLB as both sites see it: the fake resolver answers Gold's address.
R = "127.0.0.1:%d" % start_fake("dns_fake.py", os.path.join(d, "dns.log"))

ports = {"gold": free_port(), "golddr": free_port()}
OTHER = {"gold": "golddr", "golddr": "gold"}

# Each site's Kubernetes API holds its switchover-state-dev ConfigMap (seeded active-passive),
# and Gold's /health page answers "iamalive"; both sites probe it.
k8s = {s: "http://127.0.0.1:%d" % start_fake("k8s_fake.py", os.path.join(d, s + "-k8s.log"))
       for s in ("gold", "golddr")}
health = "https://127.0.0.1:%d/health" % start_fake("gslb_fake.py", os.path.join(d, "health.log"),
                                                    *certs["gold"])


def config(site, allowed=None, cert=None):
    other = OTHER[site]
    cert = cert or certs[site][0]
    return """
drwatch = { site = "%(site)s", fast_interval = "1s" }
gslb = { name = "x.a1.test", sites = { gold = { "10.0.0.1" }, golddr = { "10.0.0.2" } },
         resolvers = { "%(r)s" }, timeout = "200ms",
         probes = { { site = "gold", url = "%(health)s", ca_file = "%(ca)s" } } }
configmap = { env = "dev", targets = { { site = "%(site)s", url = "%(k8s)s", namespace = "ops",
                                         interval = "1s" } } }
peer_listen = { address = "127.0.0.1:%(lp)d", cert_file = "%(cert)s", key_file = "%(key)s",
                client_ca_file = "%(ca)s", allowed_clients = { %(allowed)s },
                timeout = "3s", max_connections = 4, handshake_timeout = "500ms",
                max_handshakes = 8, max_handshakes_per_address = 4 }
peer = { targets = { { site = "%(other)s", url = "https://127.0.0.1:%(op)d", ca_file = "%(ca)s",
                       cert_file = "%(cert0)s", key_file = "%(key)s" } } }
""" % {"site": site, "other": other, "r": R, "lp": ports[site], "op": ports[other],
       "cert": cert, "cert0": certs[site][0], "key": certs[site][1], "ca": ca[0],
       "allowed": allowed or '"drwatch.%s.test"' % other, "health": health, "k8s": k8s[site]}


dws = {s: Drwatch(config(s), name=s) for s in ("gold", "golddr")}
for dw in dws.values():
    dw.start()
A, B = dws["gold"], dws["golddr"]


def key(family, **labels):
    return "%s{%s}" % (family, ",".join('%s="%s"' % kv for kv in sorted(labels.items())))


def peer_up(dw, site):
    return dw.sample(key("drwatch_collector_up", collector="peer", site=site,
                         target="https://127.0.0.1:%d" % ports[site]))


# ---- the link ----
for me, dw in dws.items():
    other = OTHER[me]
    m = wait_for(lambda: (lambda m: m.get(key("drwatch_peer_gslb_answer_class", site=other,
                                              resolver=R, **{"class": "gold"})) == 1 and m)(
        dw.metrics()), timeout=10)
    t.ok(m, "%s reads %s's GSLB view over mTLS: gold" % (me, other))
    if not m:
        t.diag(dw.log())
        continue
    t.is_(peer_up(dw, other), 1.0, "%s: the peer collector is up" % me)
    rtt = m.get(key("drwatch_peer_rtt_seconds", site=other))
    t.ok(rtt and 0 < rtt < 1, "%s: round trip %.4fs" % (me, rtt or 0))
    skew = m.get(key("drwatch_peer_clock_skew_seconds", site=other))
    t.ok(skew is not None and abs(skew) < 0.5, "%s: clock skew %.4fs (one clock)" % (me, skew or 0))
    t.ok(any(k.startswith("drwatch_peer_info{") and 'site="%s"' % other in k and "version=" in k
             for k in m), "%s: the peer's version is exported" % me)
    t.ok(m.get(key("drwatch_peer_gslb_class_held_samples", site=other, resolver=R), 0) >= 1,
         "%s: and how long its class has held" % me)
    info = wait_for(lambda: [k for k in dw.metrics() if k.startswith("drwatch_peer_info{") and
                             'state="active-passive"' in k and 'site="%s"' % other in k])
    t.ok(info, "%s: the peer's DR state, from its ConfigMap: active-passive" % me)
    probe = wait_for(lambda: dw.metrics().get(key("drwatch_peer_probe_status", site=other,
                                                   probe=health, probe_site="gold",
                                                   status="up")) == 1)
    t.ok(probe, "%s: the peer's own /health probe of Gold: up" % me)
    m = wait_for(lambda: (lambda m: m.get(key("drwatch_peer_listener_responses_total",
                                              code="200"), 0) >= 1 and m)(dw.metrics()))
    t.ok(m, "%s: its own endpoint served the peer" % me)
    m = m or {}
    t.ok(m.get("drwatch_peer_listener_certificate_expiry_timestamp_seconds", 0) > time.time(),
         "%s: the served certificate's expiry is exported" % me)
    t.ok(m.get("drwatch_peer_listener_last_served_timestamp_seconds", 0) > time.time() - 5,
         "%s: and when the peer last fetched the view" % me)


# A person puts GoldDR in maintenance: Gold learns it over the link within a few seconds.
status, _, _ = http("PATCH", k8s["golddr"] + "/api/v1/namespaces/ops/configmaps/switchover-state-dev",
                    {"Content-Type": "application/merge-patch+json"},
                    json.dumps({"data": {"last_stable_state": "golddr-maintenance"}}).encode())
t.is_(status, 200, "GoldDR's ConfigMap now says golddr-maintenance")
t.ok(wait_for(lambda: any(k.startswith("drwatch_peer_info{") and 'site="golddr"' in k and
                          'state="golddr-maintenance"' in k for k in A.metrics())),
     "Gold sees GoldDR's new state through the peer link")


# ---- clients against Gold's endpoint ----
def fetch(cert=None, path="/peer/v1/view", method="GET", port=None, plain=False):
    """(status, body) from Gold's endpoint (or port's), or None when refused."""
    return peer_fetch(port or ports["gold"], ca[0], cert, path, method, plain)


r = fetch(certs["golddr"])
t.ok(r and r[0] == 200, "the right CA and identity: served")
view = json.loads(r[1]) if r and r[0] == 200 else {}
t.ok(view.get("format") == "drwatch-peer-view/1" and view.get("site") == "gold"
     and view.get("gslb", [{}])[0].get("class") == "gold" and "time" in view,
     "the view: site, time and the GSLB per resolver")
r = fetch(certs["cn_only"])
t.ok(r and r[0] == 200, "a certificate without SAN names is matched on its CN")
t.is_(fetch(certs["golddr"], path="/metrics"), (404, b"404 not found: the peer endpoint "
                                                     b"serves /peer/v1/view, /peer/v1/confirm "
                                                     b"and /peer/v1/transition\n"),
      "other paths: 404")
r = fetch(certs["golddr"], method="POST")
t.ok(r and r[0] == 405, "other methods: 405")

refusals = [
    ("wrong_identity", lambda: fetch(certs["intruder"]), "the right CA but another identity"),
    ("no_certificate", lambda: fetch(None), "no client certificate"),
    ("bad_ca", lambda: fetch(certs["impostor"]), "the right name from another CA"),
    ("expired", lambda: fetch(certs["expired"]), "an expired certificate"),
    ("bad_certificate", lambda: fetch(certs["server_only"]), "a certificate only for servers"),
    ("handshake", lambda: fetch(plain=True), "plain HTTP"),
]
for reason, call, what in refusals:
    results = [call() for _ in range(3)]
    t.ok(all(r is None for r in results), "%s: refused" % what)


def refused(reason):
    return A.sample(key("drwatch_peer_listener_refused_total", reason=reason)) or 0


for reason, call, what in refusals:
    t.ok(wait_for(lambda: refused(reason) >= 3), "%s: counted as %s (%s)"
         % (what, reason, refused(reason)))
    t.is_(A.log().count("refused a peer client (%s)" % reason), 1,
          "%s: logged once while it repeats" % reason)
line = [ln for ln in A.log().splitlines() if "(wrong_identity)" in ln]
t.ok(line and "DNS:intruder.test" in line[0], "the log says what the client presented")
t.ok(fetch(certs["golddr"])[0] == 200, "the right client is still served")



def closed_by_server(s):
    """Whether the server closed s (EOF or reset); s must be non-blocking."""
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


# Idle connections time out. They come from an address of their own, whose share of the
# handshake budget (max_handshakes_per_address = 4) only they use: GoldDR fetches Gold's view
# every second from 127.0.0.1 (and its fetch once took a slot that this test counted on). At
# most 4 of the 6 are held at once, so when they come together the 5th and 6th make the oldest
# give way (address_evicted); the test counts only what it controls: Gold closes all six, at
# least four time out, and each is counted.
IDLE_FROM = "127.0.0.3"
before = {r: refused(r) for r in ("timeout", "address_evicted")}
idle = [socket.create_connection(("127.0.0.1", ports["gold"]), source_address=(IDLE_FROM, 0))
        for _ in range(6)]
for s in idle:
    s.setblocking(False)
t.ok(wait_for(lambda: all(closed_by_server(s) for s in idle), timeout=10),
     "Gold closes every idle connection")


def idle_counted():
    got = {r: refused(r) - n for r, n in before.items()}
    return got["timeout"] >= 4 and sum(got.values()) >= 6 and got


got = wait_for(idle_counted, timeout=5)
t.ok(got, "idle connections time out (handshake_timeout), or give way to newer ones from their "
     "address: each is counted (%s)" % (got or {r: refused(r) - n for r, n in before.items()}))
for s in idle:
    s.close()

# More than max_connections (4) authenticated at once: the one past it is closed once its
# handshake is done. TLS 1.2, whose handshake ends for the client only after Gold's Finished, so
# that each connection is authenticated on Gold's side before the next one starts; each is held
# for timeout (3 s), time enough for five handshakes on a loaded machine.
tls12 = ssl.create_default_context(cafile=ca[0])
tls12.load_cert_chain(*certs["golddr"])
tls12.maximum_version = ssl.TLSVersion.TLSv1_2
before = refused("too_many_connections")
held = []
for _ in range(5):
    try:
        held.append(tls12.wrap_socket(socket.create_connection(("127.0.0.1", ports["gold"])),
                                      server_hostname="127.0.0.1"))
    except OSError:
        pass
t.is_(len(held), 5, "five authenticated connections, held without a request")
t.ok(wait_for(lambda: refused("too_many_connections") > before),
     "the one past max_connections is refused (too_many_connections)")
for s in held:
    s.close()
t.ok(wait_for(lambda: (fetch(certs["golddr"]) or (0,))[0] == 200), "then clients are served again")

# ---- the peer goes away and comes back ----
B.stop()
t.ok(wait_for(lambda: peer_up(A, "golddr") == 0, timeout=5), "GoldDR stopped: Gold's peer is down")
t.ok(A.sample(key("drwatch_collector_errors_total", collector="peer", reason="connect",
                  site="golddr", target="https://127.0.0.1:%d" % ports["golddr"])) >= 1,
     "with reason connect")
t.ok(not any(k.startswith("drwatch_peer_gslb") for k in A.metrics()),
     "and the peer's view is not served stale")
B.start()
t.ok(wait_for(lambda: peer_up(A, "golddr") == 1, timeout=10), "GoldDR back: the link is up again")

# ---- reloads ----
A.write_config(config("gold", allowed='"someone.else.test"'))
A.reload()
t.ok(wait_for(lambda: peer_up(B, "gold") == 0, timeout=5),
     "Gold no longer allows GoldDR's identity: GoldDR's fetch fails")
t.ok(wait_for(lambda: refused("wrong_identity") >= 4), "and Gold counts wrong_identity")
A.write_config(config("gold"))
A.reload()
t.ok(wait_for(lambda: peer_up(B, "gold") == 1, timeout=5), "allowed again: the link is back")
A.write_config(config("gold", cert=os.path.join(d, "missing.crt")))
status, _, body = A.reload()
t.ok(status == 500 and b"missing.crt" in body, "a reload with a missing certificate is refused: "
     + body.decode().strip())
time.sleep(1.5)
t.is_(peer_up(B, "gold"), 1.0, "and the listener keeps serving with the old certificate")
A.write_config(config("gold"))

# ---- the flag overrides the configured address ----
flag_port = free_port()
C = Drwatch(config("gold").replace("peer = {", "peer_unused = {").split("peer_unused")[0],
            name="flag", extra_args=["--web.peer-listen-address=127.0.0.1:%d" % flag_port])
C.start()
t.ok((fetch(certs["golddr"], port=flag_port) or (0,))[0] == 200,
     "--web.peer-listen-address overrides peer_listen.address")
C.stop_clean(t)

for dw in (A, B):
    dw.stop_clean(t)

# ---- check-config ----
base = 'drwatch = { site = "gold" }\n%s\n'
listen = ('peer_listen = { cert_file = "%s", key_file = "%s", client_ca_file = "%s", %%s }'
          % (certs["gold"][0], certs["gold"][1], ca[0]))
target = ('peer = { targets = { { site = "%%s", url = "%%s", ca_file = "%s", %%s } } }' % ca[0])
cases = [
    (listen % 'allowed_clients = { }', "allowed_clients is empty"),
    (listen % 'allowed_clients = { "x" }, key_file = "%s"' % certs["golddr"][1],
     "key_file"),
    (target % ("golddr", "http://127.0.0.1:1", 'cert_file = "%s", key_file = "%s"'
               % certs["gold"]), "url must be https://"),
    (target % ("golddr", "https://127.0.0.1:1", ""), "cert_file and key_file are required"),
    (target % ("gold", "https://127.0.0.1:1", 'cert_file = "%s", key_file = "%s"'
               % certs["gold"]), "the peer is the other site"),
]
for body, want in cases:
    rc, out = check_config(base % body, d)
    t.ok(rc == 1 and want in out, "check-config refuses: %s" % out)
t.done()
