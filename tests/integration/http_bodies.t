#!/usr/bin/env python3
"""What request bodies strangers can make drwatch hold (measured on 331f33d: every non-GET
request on any path buffered up to 1 MiB before routing or authentication; 1,000 connections
each holding 1 MiB - 1 raised RSS to 1.14 GB, and 210 MB stayed after they closed).

1. 1,000 connections each sending a 1 MiB - 1 body to /api/v1/silences (with and without its
   token), /-/reload and an unknown path: every one is refused from its head (413, 401, 404)
   before its body is read, RSS stays within a bound while they are open, and after they close.
2. Credentials come before the body: POST /api/v1/silences without the token, and /-/reload
   while it is off, are answered from the head alone, without waiting for the body.
3. The total held at once is capped (4 MiB): of 100 silences of 60,000 bytes being sent at
   once, those past the cap are answered 503 before their body is read and counted; the
   others complete and are created."""
import json
import os
import resource
import select
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import Drwatch, Tap, http, tmpdir, wait_for  # noqa: E402

t = Tap()
d = tmpdir()
with open(os.path.join(d, "api-token"), "w") as f:
    f.write("api-s3cret\n")
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < 1400 <= hard:
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
dw = Drwatch('''
drwatch = { site = "gold", fast_interval = "1s" }
alerting = {
  data_dir = "%(d)s/data", api_token_file = "%(d)s/api-token",
  receivers = { { name = "hook", webhook = { url = "http://127.0.0.1:9/hook" } } },
  route = { receiver = "hook" },
}
''' % {"d": d}, extra_args=["--web.max-connections=1100", "--web.max-connections-per-client=0"])
dw.start()
TOKEN = b"Authorization: Bearer api-s3cret\r\n"
RELOAD = b"Authorization: Bearer " + dw.token.encode() + b"\r\n"
MIB = 1 << 20


def rss_kib():
    with open("/proc/%d/status" % dw.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def head(path, length, extra=b""):
    return (b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s"
            b"Content-Length: %d\r\n\r\n" % (path.encode(), extra, length))


def start(heads):
    socks = []
    for h in heads:
        s = socket.create_connection(("127.0.0.1", dw.port), timeout=10)
        s.sendall(h)
        s.setblocking(False)
        socks.append(s)
    return socks


def send_bodies(socks, size, seconds=60):
    """Sends size bytes of body on every socket, as fast as the server reads, until each has
    sent them all or the server stopped taking them. Returns how many sent them all."""
    chunk = b" " * 65536
    left = {s.fileno(): [s, size] for s in socks}
    end = time.monotonic() + seconds
    full = 0
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
            except OSError:  # refused and closed: nothing more is read
                del left[fd]
                continue
            left[fd][1] = n
            if n == 0:
                full += 1
                del left[fd]
    return full


def answers(socks, wait=3.0):
    """The status line of whatever each socket was answered within wait (None: nothing)."""
    out = {}
    end = time.monotonic() + wait
    while time.monotonic() < end and len(out) < len(socks):
        for s in socks:
            if s in out:
                continue
            try:
                data = s.recv(4096)
                out[s] = int(data.split()[1]) if data.startswith(b"HTTP/1.1 ") else 0
            except BlockingIOError:
                pass
            except OSError:
                out[s] = 0
        time.sleep(0.05)
    return [out.get(s) for s in socks]


# ---- 1. 1,000 bodies of 1 MiB - 1 ----
before = rss_kib()
heads = [head("/api/v1/silences", MIB - 1, TOKEN), head("/api/v1/silences", MIB - 1),
         head("/-/reload", MIB - 1, RELOAD), head("/nope", MIB - 1)]
socks = start(heads[i % 4] for i in range(1000))
full = send_bodies(socks, MIB - 2)  # all but the last byte
held = rss_kib()
codes = answers(socks, 5)
t.ok(sorted(set(codes)) == [401, 404, 413],
     "every 1 MiB - 1 body is refused from its head: %s" % sorted(set(map(str, codes))))
t.ok(held - before < 64 * 1024,
     "RSS with 1,000 such requests open: %+d MiB (331f33d: +1,100 MiB)" % ((held - before) >> 10))
for s in socks:
    s.close()
time.sleep(1)
after = rss_kib()
t.ok(after - before < 32 * 1024, "RSS once they closed: %+d MiB (331f33d: +210 MiB)"
     % ((after - before) >> 10))
t.ok(wait_for(lambda: dw.sample("drwatch_http_request_body_bytes") == 0, 5),
     "no body bytes are held any more")

# ---- 2. credentials before the body ----
socks = start([head("/api/v1/silences", 60000), head("/api/v1/silences", 60000,
               b"Authorization: Bearer nope\r\n")])
t.is_(answers(socks), [401, 401],
      "POST /api/v1/silences without the token, or a wrong one: 401 before the body")
for s in socks:
    s.close()
off = Drwatch('drwatch = { site = "gold" }\n', lifecycle=False).start()
s = socket.create_connection(("127.0.0.1", off.port), timeout=10)
s.sendall(b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
try:
    reply = s.recv(4096)
except socket.timeout:
    reply = b""
t.ok(reply.startswith(b"HTTP/1.1 403") and b"--web.enable-lifecycle" in reply,
     "/-/reload while off: 403 saying how to switch it on, before the body")
s.close()
off.stop_clean(t)

# ---- 3. the total held at once ----
silence = json.dumps({"matchers": [{"name": "instance", "value": "x", "isRegex": False}],
                      "startsAt": "2000-01-01T00:00:00Z", "endsAt": "2100-01-01T00:00:00Z",
                      "createdBy": "test", "comment": "held"}).encode()
silence += b" " * (60000 - len(silence))
socks = start(head("/api/v1/silences", len(silence), TOKEN) for _ in range(100))
for s in socks:
    s.setblocking(True)
    s.sendall(silence[:-1])
    s.setblocking(False)
early = answers(socks, 2)
refused = [c for c in early if c is not None]
t.ok(set(refused) == {503} and 25 <= len(refused) <= 40,
     "100 bodies of 60,000 bytes at once: the %d past 4 MiB are answered 503 before their body"
     % len(refused))
t.ok(wait_for(lambda: (dw.sample("drwatch_http_request_body_bytes") or 0) >= 60 * 60000, 5),
     "drwatch_http_request_body_bytes %s (at most 4 MiB)"
     % dw.sample("drwatch_http_request_body_bytes"))
t.ok((dw.sample("drwatch_http_request_body_bytes") or 0) <= 4 * MIB, "... never more than 4 MiB")
waiting = [s for s, c in zip(socks, early) if c is None]
done = []
for i in range(0, len(waiting), 16):  # 16 at a time: the loop takes at most 64 in its queue
    for s in waiting[i:i + 16]:
        s.send(silence[-1:])
    done += answers(waiting[i:i + 16], 10)
t.ok(done and set(done) == {200}, "the %d held complete: 200 (%s)" % (len(done), set(done)))
t.ok(wait_for(lambda: dw.sample("drwatch_http_request_bodies_refused_total") == len(refused), 5),
     "drwatch_http_request_bodies_refused_total %s" %
     dw.sample("drwatch_http_request_bodies_refused_total"))
st, _, out = http("GET", dw.url + "/api/v1/silences")
t.is_(len(json.loads(out)), len(done), "each one made its silence")
for s in socks:
    s.close()
t.ok(wait_for(lambda: dw.sample("drwatch_http_request_body_bytes") == 0, 5),
     "and the bytes set aside for them are free again")
dw.stop_clean(t)
t.done()
