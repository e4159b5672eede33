#!/usr/bin/env python3
"""The mTLS peer endpoint under pressure from strangers (site/peer_server.c).

Out of file descriptors: when accept fails with EMFILE the listener stops watching its socket
for a moment instead of spinning on the level-triggered event (it spun at 100% CPU), counts the
pause, and serves again once descriptors are free.

A flood of plain TCP connections: strangers that keep 64 connections open, renewing each one as
soon as it is closed, from the peer's own address and from many others, must not lock out the
peer, whose reachability feeds DR decisions ("the peer is unreachable or agrees"): GoldDR keeps
fetching Gold's view (drwatch_collector_up{collector="peer"} stays or comes back to 1, and Gold
serves it again and again) while the flood runs. Before, 32 such connections filled
max_connections for the whole 5 s timeout, again and again."""
import os
import resource
import selectors
import socket
import sys
import threading
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
for s in waiting:
    s.sendall(b"\x16")  # a byte, so that the kernel hands the connection over at once
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


# ---- a flood of plain TCP connections ----
class Flood:
    """Keeps n plain TCP connections to 127.0.0.1:port open from the source addresses given (in
    turn), in a thread, and renews each one as soon as the server closes it. Each sends first,
    when given, a few bytes (less than a ClientHello), then nothing more."""

    def __init__(self, port, n, sources, first=b""):
        self.port, self.n, self.sources, self.first = port, n, sources, first
        self.renewed = 0       # connections the server closed and the flood opened again
        self.failed = 0        # connects that failed (a full backlog drops the SYN)
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)

    def connect(self, sel, i):
        s = socket.socket()
        try:
            s.bind((self.sources[i % len(self.sources)], 0))
            s.settimeout(2)
            s.connect(("127.0.0.1", self.port))
            if self.first:
                s.sendall(self.first)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            return s
        except OSError:
            self.failed += 1
            s.close()
            return None

    def run(self):
        sel = selectors.DefaultSelector()
        i, open_ = 0, 0
        while not self.stopping:
            while open_ < self.n and not self.stopping:
                if self.connect(sel, i):
                    open_ += 1
                i += 1
            for k, _ in sel.select(timeout=0.1):
                try:
                    gone = k.fileobj.recv(1) == b""
                except BlockingIOError:
                    gone = False
                except OSError:
                    gone = True
                if gone:
                    sel.unregister(k.fileobj)
                    k.fileobj.close()
                    open_ -= 1
                    self.renewed += 1
        for k in list(sel.get_map().values()):
            k.fileobj.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping = True
        self.thread.join()


dws = {s: Drwatch(config(s), name=s) for s in ("gold", "golddr")}
for dw in dws.values():
    dw.start()
A, B = dws["gold"], dws["golddr"]
PEER_UP = key("drwatch_collector_up", collector="peer", site="gold",
              target="https://127.0.0.1:%d" % ports["gold"])
SERVED = key("drwatch_peer_listener_responses_total", code="200")


def refused(reason):
    return A.sample(key("drwatch_peer_listener_refused_total", reason=reason)) or 0


def fetch_errors():
    """GoldDR's failed fetches of Gold's view so far, by reason."""
    return {k.split('reason="')[1].split('"')[0]: v for k, v in B.metrics().items()
            if k.startswith('drwatch_collector_errors_total{collector="peer"')}


t.ok(wait_for(lambda: B.sample(PEER_UP) == 1, timeout=15), "GoldDR fetches Gold's view")

# Silent connections wait in the kernel until they send (TCP_DEFER_ACCEPT) and reach Gold a
# second later; those that send a byte reach it at once, as fast as the flood renews them.
OTHERS = ["127.0.1.%d" % i for i in range(1, 33)]
floods = [
    ("silent, from the peer's own address", ["127.0.0.1"], b"", "address_evicted"),
    ("silent, from 32 other addresses", OTHERS, b"", "evicted"),
    ("a byte each, from the peer's own address", ["127.0.0.1"], b"\x16", "address_evicted"),
    ("a byte each, from 32 other addresses", OTHERS, b"\x16", "evicted"),
]
for what, sources, first, reason in floods:
    evicted0, errors0, served00 = refused(reason), fetch_errors(), A.sample(SERVED) or 0
    with Flood(ports["gold"], 64, sources, first) as flood:
        t.ok(wait_for(lambda: flood.renewed >= 64, timeout=15),
             "%s: 64 connections held, renewed as Gold closes them (%d renewed)"
             % (what, flood.renewed))
        served0 = A.sample(SERVED) or 0
        t.ok(wait_for(lambda: (A.sample(SERVED) or 0) >= served0 + 3 and B.sample(PEER_UP) == 1,
                      timeout=20),
             "%s: GoldDR still fetches Gold's view (%d more served), its peer is up"
             % (what, (A.sample(SERVED) or 0) - served0))
        t.ok(not flood.stopping and flood.thread.is_alive(),
             "%s: the flood went on meanwhile (%d renewed, %d connects failed)"
             % (what, flood.renewed, flood.failed))
    errors = {r: n - errors0.get(r, 0) for r, n in fetch_errors().items() if n > errors0.get(r, 0)}
    t.diag("%s: GoldDR's fetches meanwhile: %d served, failed %s"
           % (what, (A.sample(SERVED) or 0) - served00, errors or "never"))
    t.ok(wait_for(lambda: refused(reason) > evicted0),
         "%s: Gold counts the strangers it dropped as %s (%d)"
         % (what, reason, refused(reason) - evicted0))

for dw in (A, B):
    dw.stop_clean(t)
t.done()
