#!/usr/bin/python3
"""bench/http_overload.py: what strangers' connections cost drwatch's HTTP server.

Two measurements, for each drwatch binary given (e.g. this tree's and an old build):

1. /metrics latency while SLOW connections are held: an attacker on 127.0.0.2 keeps SLOW
   connections open, sending one byte a second on each and opening a new one for every one
   the server closes (once a second); meanwhile a scraper on 127.0.0.1 GETs /metrics
   SCRAPES times, one every 250 ms, each with a 5 s timeout. Printed: how many were answered,
   median, p90 and max latency (unanswered ones count as the timeout), and what the attacker
   held. Run with drwatch's defaults, and (for a build that has the flag) with the
   per-client limit off, where the attacker can fill every slot until the read timeout.
2. RSS while BODIES connections hold request bodies: each POSTs /api/v1/silences with the
   token and a Content-Length of 1 MiB - 1 (and, second run, 60,000 bytes: under the route's
   cap) and sends all but the last byte as fast as the server reads; printed: VmRSS before,
   while they are held (2 s after the last byte was sent), 2 s after they closed, and the
   peak (VmHWM).

Nothing is asserted. Usage (from the repository root, after `make`):
    bench/http_overload.py [--bin PATH]... [--slow 2000] [--bodies 1000] [--scrapes 20]
Default binary: DRWATCH_BIN or ./drwatch. Needs about 2 x (slow + bodies) file descriptors
(it raises its soft limit to the hard one).
"""
import argparse
import json
import os
import resource
import select
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import drwatch_test  # noqa: E402
from drwatch_test import Drwatch, http, tmpdir  # noqa: E402

MIB = 1 << 20


def has_limits(binary):
    out = subprocess.run([binary, "--help"], capture_output=True, text=True).stdout
    return "--web.max-connections" in out


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Attacker(threading.Thread):
    """Keeps n connections from src open, a byte a second each, replacing closed ones."""

    def __init__(self, port, n, src="127.0.0.2"):
        super().__init__(daemon=True)
        self.port, self.n, self.src = port, n, src
        self.socks, self.stop, self.held, self.reopened = [], False, 0, 0

    def connect(self):
        s = socket.socket()
        s.bind((self.src, 0))
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", self.port))
        return s

    def run(self):
        self.socks = [self.connect() for _ in range(self.n)]
        while not self.stop:
            poller = select.poll()
            for s in self.socks:
                poller.register(s, select.POLLIN | select.POLLERR | select.POLLHUP)
            closed = {fd for fd, ev in poller.poll(0)}
            keep = []
            for s in self.socks:
                if s.fileno() not in closed:
                    try:
                        s.send(b"G")
                        keep.append(s)
                        continue
                    except (BlockingIOError, InterruptedError):
                        keep.append(s)
                        continue
                    except OSError:
                        pass
                s.close()
            self.held = len(keep)
            self.reopened += self.n - len(keep)
            self.socks = keep + [self.connect() for _ in range(self.n - len(keep))]
            time.sleep(1)
        for s in self.socks:
            s.close()


def scrape_latency(dw, slow, scrapes, args):
    attacker = Attacker(dw.port, slow)
    attacker.start()
    time.sleep(2)
    times, answered = [], 0
    for _ in range(scrapes):
        t0 = time.monotonic()
        try:
            ok = http("GET", dw.url + "/metrics", timeout=5)[0] == 200
        except OSError:
            ok = False
        took = time.monotonic() - t0
        answered += ok
        times.append(took if ok else 5.0)
        time.sleep(0.25)
    held, rss = attacker.held, status_kib(dw.proc.pid, "VmRSS")
    fds = len(os.listdir("/proc/%d/fd" % dw.proc.pid))
    attacker.stop = True
    attacker.join()
    times.sort()
    print("  %-44s answered %2d/%d  median %7.1f ms  p90 %7.1f ms  max %7.1f ms"
          % (" ".join(args) or "(defaults)", answered, scrapes, 1000 * statistics.median(times),
             1000 * times[int(0.9 * (len(times) - 1))], 1000 * times[-1]))
    print("  %-44s attacker held %d of %d (reopened %d), drwatch RSS %d MiB, %d fds"
          % ("", held, slow, attacker.reopened, rss >> 10, fds))


def send_bodies(socks, size, seconds=60):
    chunk = b" " * 65536
    left = {s.fileno(): [s, size] for s in socks}
    end = time.monotonic() + seconds
    while left and time.monotonic() < end:
        poller = select.poll()
        for fd in left:
            poller.register(fd, select.POLLOUT)
        for fd, ev in poller.poll(500):
            s, n = left[fd]
            try:
                n -= s.send(chunk[:min(n, len(chunk))])
            except BlockingIOError:
                continue
            except OSError:
                del left[fd]
                continue
            left[fd][1] = n
            if n == 0:
                del left[fd]


def body_rss(dw, bodies, length):
    before = status_kib(dw.proc.pid, "VmRSS")
    head = (b"POST /api/v1/silences HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer bench\r\n"
            b"Content-Length: %d\r\n\r\n" % length)
    socks = []
    for _ in range(bodies):
        s = socket.create_connection(("127.0.0.1", dw.port), timeout=10)
        s.sendall(head)
        s.setblocking(False)
        socks.append(s)
    t0 = time.monotonic()
    send_bodies(socks, length - 1)
    took = time.monotonic() - t0
    time.sleep(2)  # what is still in socket buffers reaches drwatch
    held = status_kib(dw.proc.pid, "VmRSS")
    for s in socks:
        s.close()
    time.sleep(2)
    after, hwm = status_kib(dw.proc.pid, "VmRSS"), status_kib(dw.proc.pid, "VmHWM")
    print("  %d x Content-Length %-8d RSS before %4d MiB, held %5d MiB, after close %4d MiB, "
          "peak %5d MiB  (bodies sent in %.1fs)"
          % (bodies, length, before >> 10, held >> 10, after >> 10, hwm >> 10, took))


def run(binary, a):
    drwatch_test.BIN = binary
    new = has_limits(binary)
    print("\n%s (%s)" % (binary, "with HTTP limits" if new else "without HTTP limits"))
    d = tmpdir()
    with open(os.path.join(d, "token"), "w") as f:
        f.write("bench\n")
    with open(os.path.join(d, "drill.prom"), "w") as f:
        f.write("# TYPE dr_drill_ok gauge\ndr_drill_ok 1\n")
    config = ('drwatch = { site = "gold", fast_interval = "1s" }\n'
              'textfile = { directory = "%(d)s", interval = "1s" }\n'
              'alerting = { data_dir = "%(d)s/data", api_token_file = "%(d)s/token",\n'
              '  receivers = { { name = "h", webhook = { url = "http://127.0.0.1:9/" } } },\n'
              '  route = { receiver = "h" } }\n' % {"d": d})
    print(" /metrics while %d slow connections are held:" % a.slow)
    variants = [[]] + ([["--web.max-connections-per-client=0"]] if new else [])
    for args in variants:
        dw = Drwatch(config, lifecycle=False, extra_args=args).start()
        scrape_latency(dw, a.slow, a.scrapes, args)
        dw.stop()
    print(" RSS while %d connections hold request bodies:" % a.bodies)
    args = ["--web.max-connections=%d" % (a.bodies + 100), "--web.max-connections-per-client=0"]
    for length in (MIB - 1, 60000):
        dw = Drwatch(config, lifecycle=False, extra_args=args if new else []).start()
        body_rss(dw, a.bodies, length)
        if new:
            print("    refused 503 for the 4 MiB total: %s"
                  % json.dumps(dw.sample("drwatch_http_request_bodies_refused_total")))
        dw.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", action="append", help="a drwatch binary (repeatable)")
    ap.add_argument("--slow", type=int, default=2000)
    ap.add_argument("--bodies", type=int, default=1000)
    ap.add_argument("--scrapes", type=int, default=20)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print("http_overload: %d slow connections, %d bodies, %d scrapes; open-file limit %d"
          % (a.slow, a.bodies, a.scrapes, hard))
    for binary in a.bin or [os.environ.get("DRWATCH_BIN", os.path.join(ROOT, "drwatch"))]:
        run(os.path.abspath(binary), a)


if __name__ == "__main__":
    main()
