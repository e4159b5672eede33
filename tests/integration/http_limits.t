#!/usr/bin/env python3
"""Slow connections cannot take drwatch's HTTP server or its collectors down (measured on
331f33d: 1,100 connections sending a byte a second left /metrics answering 0 of 4 requests,
held their connections for ever, and with the usual 1,024 open-file limit starved the
collectors of descriptors).

The flood comes from 127.0.0.2, the scraper from 127.0.0.1 (two clients on one machine):

1. --web.max-connections-per-client=50: of 1,100 connections sending a byte a second, 50
   are held and the rest refused and counted (max_per_client); /metrics keeps answering the
   other client at once and the collectors keep collecting; the held ones are shut by the
   read deadline (3 s here) although they keep sending, and counted (read_timeout).
2. No per-client limit, drwatch started under a 1,024 open-file limit it cannot raise: the
   flood fills --web.max-connections (512) and no more, each connection past them taking the
   slot of the one waiting longest (evicted, counted); so /metrics still answers, each scrape
   taking a slow connection's slot; drwatch's descriptors stay under the limit, so the
   textfile collector (a directory to open every second) keeps collecting without an error;
   the deadline shuts what is left."""
import os
import resource
import select
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import Drwatch, Tap, drill_textfile, http, tmpdir, wait_for  # noqa: E402

t = Tap()
work = tmpdir()
TEXTFILE = drill_textfile(work)
N = 1100
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < 2 * N + 200 <= hard:
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def flood(port, n, src="127.0.0.2"):
    """n connections from src, each having sent the first byte of a request line."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind((src, 0))
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
    return socks


def open_ones(socks, trickle=True):
    """The connections the server has not closed; each open one gets one more byte."""
    alive = []
    poller = select.poll()
    for s in socks:
        poller.register(s, select.POLLIN | select.POLLERR | select.POLLHUP)
    closed = {fd for fd, ev in poller.poll(0)}
    for s in socks:
        if s.fileno() in closed:
            continue
        if trickle:
            try:
                s.send(b"G")
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                continue
        alive.append(s)
    return alive


def hold(socks, seconds):
    """Sends a byte a second on every open connection for `seconds`; returns the open ones."""
    end = time.monotonic() + seconds
    while True:
        socks = open_ones(socks)
        if time.monotonic() >= end:
            return socks
        time.sleep(1)


def close_all(socks):
    for s in socks:
        s.close()


def timed_get(dw, path="/metrics"):
    t0 = time.monotonic()
    try:
        status = http("GET", dw.url + path, timeout=5)[0]
    except OSError:
        status = 0
    return status, time.monotonic() - t0


def counter(dw, series):
    try:
        return dw.sample(series) or 0
    except OSError:  # /metrics did not answer
        return -1


REFUSED = 'drwatch_http_connections_refused_total{reason="%s"}'
CLOSED = 'drwatch_http_connections_closed_total{reason="%s"}'

# ---- 1. a per-client limit ----
dw = Drwatch('drwatch = { site = "gold", fast_interval = "1s" }\n'
             'textfile = { directory = "%s", interval = "1s" }\n' % TEXTFILE,
             extra_args=["--web.max-connections-per-client=50", "--web.read-timeout=3s"]).start()
published = counter(dw, "drwatch_snapshots_published_total")
socks = flood(dw.port, N)
t0 = time.monotonic()
held = hold(socks, 1.5)
t.ok(40 <= len(held) <= 50, "1,100 connections from one client: %d held (the limit is 50)"
     % len(held))
times = []
for _ in range(10):
    held = open_ones(held)
    status, took = timed_get(dw)
    times.append(took if status == 200 else 99)
t.ok(max(times) < 2, "/metrics answers another client meanwhile: 10 of 10, median %.3fs, max "
     "%.3fs" % (statistics.median(times), max(times)))
t.ok(wait_for(lambda: counter(dw, REFUSED % "max_per_client") >= N - 50, timeout=5),
     "the refusals are counted: max_per_client %d" % counter(dw, REFUSED % "max_per_client"))
t.ok(counter(dw, "drwatch_snapshots_published_total") >= published + 1,
     "the collectors keep collecting during the flood")
t.ok(counter(dw, "drwatch_http_connections") <= 50 + 5,
     "drwatch_http_connections %d" % counter(dw, "drwatch_http_connections"))
while held and time.monotonic() - t0 < 3 + 6:
    held = hold(held, 1)
t.ok(not held, "every held connection is shut by the read deadline (3s) although it keeps "
     "sending (%d still open after %.1fs)" % (len(held), time.monotonic() - t0))
t.ok(wait_for(lambda: counter(dw, CLOSED % "read_timeout") >= 40, timeout=5),
     "... and counted: read_timeout %d" % counter(dw, CLOSED % "read_timeout"))
close_all(socks)
dw.stop_clean(t)

# ---- 2. no per-client limit, a 1,024 open-file limit ----
dw = Drwatch('drwatch = { site = "gold", fast_interval = "1s" }\n'
             'textfile = { directory = "%s", interval = "1s" }\n' % TEXTFILE,
             extra_args=["--web.max-connections-per-client=0", "--web.read-timeout=3s"],
             nofile=(1024, 1024)).start()
socks = flood(dw.port, N)
t0, wall0 = time.monotonic(), time.time()
held = hold(socks, 1.5)
t.ok(len(held) <= 512, "without a per-client limit 1,100 connections fill the 512 slots and "
     "no more: %d held" % len(held))
times = []
for _ in range(10):
    held = open_ones(held)
    status, took = timed_get(dw)
    times.append(took if status == 200 else 99)
t.ok(max(times) < 2, "/metrics answers meanwhile, taking a slow connection's slot: median "
     "%.3fs, max %.3fs" % (statistics.median(times), max(times)))
fds = len(os.listdir("/proc/%d/fd" % dw.proc.pid))
t.ok(fds <= 1024 - 200, "drwatch holds %d descriptors of its 1,024: room for the collectors"
     % fds)
while held and time.monotonic() - t0 < 3 + 6:
    held = hold(held, 1)
t.ok(not held, "the read deadline shuts the rest (%d still open)" % len(held))
close_all(socks)
t.ok(wait_for(lambda: timed_get(dw)[0] == 200, timeout=5), "/metrics answers")
m = dw.metrics()
errors = sum(v for k, v in m.items()
             if k.startswith('drwatch_collector_errors_total{collector="textfile"'))
t.ok(errors == 0 and "Too many open files" not in dw.log(),
     "the textfile collector never ran out of descriptors (%d errors)" % errors)
last = m.get('drwatch_collector_last_success_timestamp_seconds{collector="textfile",'
             'target="%s"}' % TEXTFILE, 0)
t.ok(last >= wall0 + 1, "and kept collecting through the flood (last success %.1fs after it "
     "began)" % (last - wall0))
made_room, refused = m.get(CLOSED % "evicted", 0), m.get(REFUSED % "max_connections", 0)
t.ok(made_room >= 1 and made_room + refused >= N - 512,
     "the connections shut to make room are counted: evicted %d (refused %d while too many "
     "were being shut at once)" % (made_room, refused))
t.is_(m.get("drwatch_http_connections_limit"), 512.0, "drwatch_http_connections_limit 512")
dw.stop_clean(t)
t.done()
