#!/usr/bin/env python3
"""How drwatch reads a request's framing and line, over raw sockets (each defect measured on
331f33d):

- request smuggling: two Content-Lengths, or Content-Length with Transfer-Encoding, kept the
  connection open and served a pipelined second request (a proxy in front may have framed the
  bytes differently); now 400 and the connection closed, nothing more served. Likewise a
  Transfer-Encoding other than chunked (read until the peer closed) and a header name with a
  space before its colon.
- 500 query parameters got no answer for 30 s (libmicrohttpd's pool ran out and its 431 was
  lost); now 400 at once, as is a URI over 8 KiB (414).
- GET or HEAD with a body was dropped without an answer; now answered, then closed.
And what must not change: pipelined GETs on one connection are all answered, keep-alive."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import Drwatch, Tap, tmpdir  # noqa: E402

t = Tap()
textdir = tmpdir()
with open(os.path.join(textdir, "a.prom"), "w") as f:
    f.write("# TYPE demo_value gauge\ndemo_value 42\n")
dw = Drwatch('drwatch = { site = "gold", fast_interval = "1s" }\n'
             'textfile = { directory = "%s", interval = "1s" }\n' % textdir,
             lifecycle=False).start()


def exchange(data, wait=8.0, want=None):
    """Sends data on a fresh connection and reads until the server closes or wait passes (or,
    with want, 1 s after want answers). Returns (responses [(status, headers, body)], closed
    by the server, seconds taken)."""
    s = socket.create_connection(("127.0.0.1", dw.port), timeout=wait)
    t0 = time.monotonic()
    s.sendall(data)
    raw, closed = b"", False
    try:
        while time.monotonic() - t0 < wait:
            if want and len(parse(raw)) >= want:
                s.settimeout(1)
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            raw += chunk
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    took = time.monotonic() - t0
    s.close()
    return parse(raw), closed, took


def parse(raw):
    out = []
    while raw.startswith(b"HTTP/1."):
        head, sep, rest = raw.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip()
                   for k, _, v in (line.partition(":") for line in lines[1:])}
        n = int(headers.get("content-length", "0"))
        out.append((int(lines[0].split()[1]), headers, rest[:n]))
        raw = rest[n:]
    return out


def statuses(resps):
    return [r[0] for r in resps]


NEXT = b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"  # what a smuggler hides behind the first

# ---- smuggling ----
resps, closed, took = exchange(b"POST /-/reload HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Length: 0\r\nContent-Length: 31\r\n\r\n" + NEXT)
t.ok(statuses(resps) == [400] and closed and b"more than one Content-Length" in resps[0][2],
     "two Content-Lengths: 400 and closed, the pipelined request is not served (%s, closed %s)"
     % (statuses(resps), closed))
t.ok(resps and resps[0][1].get("connection") == "close", "the 400 says Connection: close")

resps, closed, took = exchange(b"GET /metrics HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Length: 0\r\nContent-Length: 0\r\n\r\n" + NEXT)
t.ok(statuses(resps) == [400] and closed,
     "two Content-Lengths on GET /metrics, even equal: 400 and closed (%s)" % statuses(resps))

resps, closed, took = exchange(b"POST /-/reload HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                               b"0\r\n\r\n" + NEXT)
t.ok(statuses(resps) == [400] and closed and b"Transfer-Encoding" in resps[0][2],
     "Content-Length with Transfer-Encoding: 400 and closed, nothing pipelined served (%s)"
     % statuses(resps))

resps, closed, took = exchange(b"POST /api/v1/silences HTTP/1.1\r\nHost: x\r\n"
                               b"Transfer-Encoding: gzip\r\n\r\nabc")
t.ok(statuses(resps) == [400] and closed and took < 5,
     "Transfer-Encoding: gzip (no length drwatch can trust): 400 and closed at once (%s, %.1fs)"
     % (statuses(resps), took))

resps, closed, took = exchange(b"POST /api/v1/silences HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Length : 31\r\n\r\n" + NEXT)
t.ok(statuses(resps) == [400] and closed,
     "a space between a field name and its colon: 400 and closed (%s)" % statuses(resps))

# ---- the request line ----
query = "&".join("a%d=1" % i for i in range(500)).encode()
resps, closed, took = exchange(b"GET /metrics?" + query + b" HTTP/1.1\r\nHost: x\r\n\r\n")
t.ok(statuses(resps) == [400] and took < 5 and b"500 query parameters" in resps[0][2],
     "500 query parameters: 400 at once, not silence for 30 s (%s in %.1fs)"
     % (statuses(resps), took))
query = "&".join("a%d=1" % i for i in range(128)).encode()
resps, closed, took = exchange(b"GET /metrics?" + query + b" HTTP/1.1\r\nHost: x\r\n\r\n", 5, 1)
t.is_(statuses(resps), [200], "128 query parameters are still served")
resps, closed, took = exchange(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
t.ok(statuses(resps) == [414] and closed and took < 5,
     "a 9000-byte URI: 414 at once (%s)" % statuses(resps))

# ---- GET and HEAD with a body ----
resps, closed, took = exchange(b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"
                               b"hello")
t.ok(statuses(resps) == [200] and b"demo_value 42" in resps[0][2] and closed,
     "GET /metrics with a body: answered (then closed), not dropped (%s)" % statuses(resps))
resps, closed, took = exchange(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"
                               b"hello")
t.ok(statuses(resps) == [200] and closed, "HEAD /metrics with a body: answered (%s)"
     % statuses(resps))
resps, closed, took = exchange(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
t.ok(statuses(resps) == [200] and closed, "GET /-/healthy with a chunked body: answered (%s)"
     % statuses(resps))
resps, closed, took = exchange(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
t.ok(statuses(resps) == [200] and b"/metrics" in resps[0][2],
     "GET / (answered on the loop) with a body: answered (%s)" % statuses(resps))

# ---- what stays ----
two = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"
resps, closed, took = exchange(two, 5, 2)
t.ok(statuses(resps) == [200, 200] and not closed,
     "two pipelined GETs: both answered, the connection kept (%s, closed %s)"
     % (statuses(resps), closed))
resps, closed, took = exchange(b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n" + NEXT, 5, 2)
t.ok(statuses(resps) == [404, 404] and not closed, "a 404 keeps the connection too (%s)"
     % statuses(resps))
m = dw.metrics()
t.ok(m.get('drwatch_http_requests_total{code="400",handler="other"}', 0) >= 1 and
     m.get('drwatch_http_requests_total{code="414",handler="other"}', 0) >= 1,
     "the refusals are counted under their codes")
dw.stop_clean(t)
t.done()
