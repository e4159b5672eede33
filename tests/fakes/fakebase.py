"""Shared machinery for drwatch's fake servers (Kong, FluentD, Kubernetes, Teams...).

A fake is a subclass of FakeHandler with a `routes()` method mapping (method, path) to a
function returning (status, headers, body). Tests steer a running fake over HTTP on the same
port, through control endpoints that a real server would never have:

  POST /__fake/mode    {"path": "/status", "mode": "slow", "ms": 2000}   one path
                       {"path": "*", "mode": "ok"}                        every path
  POST /__fake/state   {...}     fake-specific state (e.g. the Kong version, data planes)
  GET  /__fake/requests          the requests seen so far (method, path, headers, body)
  POST /__fake/reset             back to the start state
A route may also answer by itself (a stream) and return None.

Modes (what the next requests to that path get):
  ok            the normal answer
  slow          the normal answer after `ms` milliseconds
  hang          no answer at all (the connection stays open)
  close         the connection is closed without an answer
  cut           the status line and headers, half the body, then the connection closes
  status        the given `status` (e.g. 500, 401, 404) with the fake's error body for it
  garbage       200 with a body of random bytes
  truncate      200 with the normal body cut in half (valid length, invalid content)
  huge          200 with a body of `bytes` bytes (default 64 MiB) of valid-looking filler
  429           429 with Retry-After: `retry_after` (default 1)
A mode can be limited to the next `count` requests, after which the path answers normally, and
to one method ("method": "PATCH"): the path's other requests are answered normally.

Run a fake as: python3 tests/fakes/<fake>.py PORT [options]; it prints "ready" once listening.
Only the Python standard library is used.
"""
import http.server
import json
import os
import socketserver
import threading
import time


class FakeState:
    """Modes and request log, shared by the handler threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.modes = {}
            self.requests = []
            self.custom = {}

    def mode_for(self, path, method=None):
        with self.lock:
            m = self.modes.get(path) or self.modes.get("*")
            if not m or (m.get("method") and method and m["method"] != method):
                return {"mode": "ok"}
            if "count" in m:
                m["count"] -= 1
                if m["count"] < 0:
                    self.modes.pop(path if path in self.modes else "*", None)
                    return {"mode": "ok"}
            return dict(m)


class FakeHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # a FakeState, set by serve()

    def log_message(self, fmt, *args):
        pass

    # Subclasses override these.
    def routes(self):
        """{(method, path): fn(handler, query, body) -> (status, headers list, body bytes)}"""
        return {}

    def error_body(self, status):
        return (("Content-Type", "application/json"),), json.dumps(
            {"message": "fake error %d" % status}).encode()

    def handle(self):
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):
            pass

    def _send(self, status, headers, body, close=False):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if not any(k.lower() == "content-length" for k, v in headers):
            self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _control(self, path, body):
        st = self.state
        if path == "/__fake/mode":
            m = json.loads(body or b"{}")
            with st.lock:
                st.modes[m.get("path", "*")] = m
            return 200, [], b"ok\n"
        if path == "/__fake/state":
            with st.lock:
                st.custom.update(json.loads(body or b"{}"))
            return 200, [], b"ok\n"
        if path == "/__fake/reset":
            st.reset()
            self.on_reset()
            return 200, [], b"ok\n"
        if path == "/__fake/requests":
            with st.lock:
                return 200, [("Content-Type", "application/json")], json.dumps(st.requests).encode()
        return 404, [], b"no such control endpoint\n"

    def on_reset(self):
        pass

    def _dispatch(self, method):
        path, _, query = self.path.partition("?")
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if path.startswith("/__fake/"):
            status, headers, out = self._control(path, body)
            return self._send(status, headers, out)
        with self.state.lock:
            self.state.requests.append({"method": method, "path": self.path,
                                        "headers": dict(self.headers.items()),
                                        "body": body.decode("utf-8", "replace")})
        route = self.routes().get((method, path))
        m = self.state.mode_for(path, method)
        mode = m.get("mode", "ok")
        if mode == "hang":
            time.sleep(3600)
            return
        if mode == "close":
            self.close_connection = True
            return
        if mode == "slow":
            time.sleep(m.get("ms", 1000) / 1000.0)
        if mode == "status":
            code = int(m.get("status", 500))
            headers, out = self.error_body(code)
            return self._send(code, list(headers), out)
        if mode == "429":
            return self._send(429, [("Retry-After", str(m.get("retry_after", 1)))], b"slow down\n")
        if mode == "garbage":
            return self._send(200, [("Content-Type", "application/json")], os.urandom(4096))
        if mode == "huge":
            size = int(m.get("bytes", 64 << 20))
            return self._send_huge(size)
        if route is None:
            headers, out = self.error_body(404)
            return self._send(404, list(headers), out)
        answer = route(self, query, body)
        if answer is None:  # the route answered itself (a stream)
            return
        status, headers, out = answer
        if mode == "truncate":
            return self._send(status, headers, out[: len(out) // 2])
        if mode == "cut":
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out[: len(out) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        return self._send(status, headers, out)

    def _send_huge(self, size):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = b"filler_metric{i=\"0\"} 1\n" * 4096
        sent = 0
        try:
            while sent < size:
                piece = chunk[: size - sent]
                self.wfile.write(piece)
                sent += len(piece)
        except (ConnectionResetError, BrokenPipeError):
            pass

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops SYNs of concurrent clients


def serve(handler_cls, port, tls=None):
    """Serves handler_cls on 127.0.0.1:port (HTTPS when tls=(certfile, keyfile)); prints
    "ready" and blocks."""
    handler_cls.state = FakeState()
    srv = _Server(("127.0.0.1", int(port)), handler_cls)
    if tls:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*tls)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("ready", flush=True)
    srv.serve_forever()


def control(base_url, endpoint, payload=None):
    """For tests: POST a control request to a running fake."""
    import urllib.request
    data = json.dumps(payload or {}).encode()
    req = urllib.request.Request(base_url + "/__fake/" + endpoint, data=data, method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.read()
