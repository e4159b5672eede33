#!/usr/bin/env python3
"""The mTLS peer endpoint under pressure from strangers (site/peer_server.c).

Out of file descriptors: when accept fails with EMFILE the listener stops watching its socket
for a moment instead of spinning on the level-triggered event (it spun at 100% CPU), counts the
pause, and serves again once descriptors are free."""
import os
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from drwatch_test import Drwatch, Tap, free_port, peer_fetch, tmpdir, wait_for  # noqa: E402
from gslb_fake import make_ca, make_cert  # noqa: E402

t = Tap()
d = tmpdir()
ca = make_ca(d, "ca")
certs = {
    "gold": make_cert(d, "gold", ca, san=["DNS:drwatch.gold.test", "IP:127.0.0.1"]),
    "golddr": make_cert(d, "golddr", ca, san=["DNS:drwatch.golddr.test", "IP:127.0.0.1"]),
}
ports = {"gold": free_port(), "golddr": free_port()}
OTHER = {"gold": "golddr", "golddr": "gold"}


def config(site, peer=True, timeout="5s"):
    """A site with its peer endpoint (default limits) and, when peer, a fetch of the other's."""
    other = OTHER[site]
    text = """
drwatch = { site = "%(site)s", fast_interval = "1s" }
peer_listen = { address = "127.0.0.1:%(lp)d", cert_file = "%(cert)s", key_file = "%(key)s",
                client_ca_file = "%(ca)s", allowed_clients = { "drwatch.%(other)s.test" },
                timeout = "%(timeout)s" }
""" % {"site": site, "other": other, "lp": ports[site], "cert": certs[site][0],
       "key": certs[site][1], "ca": ca[0], "timeout": timeout}
    if peer:
        text += """
peer = { targets = { { site = "%(other)s", url = "https://127.0.0.1:%(op)d", ca_file = "%(ca)s",
                       cert_file = "%(cert)s", key_file = "%(key)s" } } }
""" % {"other": other, "op": ports[other], "ca": ca[0], "cert": certs[site][0],
       "key": certs[site][1]}
    return text


def key(family, **labels):
    return "%s{%s}" % (family, ",".join('%s="%s"' % kv for kv in sorted(labels.items())))


def served(port):
    r = peer_fetch(port, ca[0], certs["golddr"])
    return r is not None and r[0] == 200


def cpu_seconds(pid):
    """utime + stime of pid, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- out of file descriptors ----
# A lone listener (no collectors that open sockets). Its soft RLIMIT_NOFILE is lowered to the
# descriptors it holds, so that accept fails with EMFILE while clients wait in the backlog.
C = Drwatch(config("gold", peer=False, timeout="30s"), name="emfile")
C.start()
t.ok(wait_for(lambda: served(ports["gold"])), "a lone listener serves the peer")
pid = C.proc.pid
limits = resource.prlimit(pid, resource.RLIMIT_NOFILE)
resource.prlimit(pid, resource.RLIMIT_NOFILE, (len(os.listdir("/proc/%d/fd" % pid)), limits[1]))
waiting = [socket.create_connection(("127.0.0.1", ports["gold"])) for _ in range(8)]
cpu0, wall0 = cpu_seconds(pid), time.monotonic()
time.sleep(2)  # the measurement window
cpu = cpu_seconds(pid) - cpu0
wall = time.monotonic() - wall0
# Spinning takes a whole core (under load, still a good share of one); paused, the listener
# wakes a few times a second. 0.25 s of CPU in 2 s is a generous bound for the second.
t.ok(cpu < 0.25, "out of descriptors, the listener does not spin: %.3fs CPU in %.1fs"
     % (cpu, wall))
resource.prlimit(pid, resource.RLIMIT_NOFILE, limits)
t.ok(wait_for(lambda: served(ports["gold"]), timeout=10),
     "descriptors free again: the peer is served again")
paused = wait_for(lambda: C.sample("drwatch_peer_listener_accept_paused_total"))
t.ok(paused and paused >= 1, "the pauses are counted (%s)" % paused)
t.ok("stopped accepting peer connections" in C.log(), "and logged")
for s in waiting:
    s.close()
C.stop_clean(t)

t.done()
