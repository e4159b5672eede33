#!/usr/bin/env python3
"""A small HTTP server for drwatch's HTTP client tests, able to misbehave on request.

Usage: http_fake.py PORT  (prints "ready" on stdout once listening)

Paths:
  /ok                       200, body "hello\n"
  /status/<code>            that status, body "status <code>\n"
  /slow?ms=N                waits N ms, then 200
  /hang                     never answers (until the client goes away)
  /big?bytes=N              200 with N bytes of 'x'
  /chunked?bytes=N          200 with N bytes of 'x' in 64 KiB chunks, no Content-Length
  /gzip                     200, gzip-encoded body of 100000 'a' when the client accepts gzip
  /truncate                 announces 1000 bytes, sends 10, closes
  /close                    closes the connection without answering
  /retry-after              429 with Retry-After: 7
  /headers                  200, echoes request headers as "Name: value" lines
  /echo                     200, echoes the request body (POST/PUT)
  /lines?n=N&ms=M           200, chunked: N lines "line <i>", one chunk every M ms, each line
                            split across two chunks (a watch stream), then the end
  /lines?...&hold=1         the same, then the stream stays open (until the client goes)
  /longline?bytes=N         200, chunked: N bytes of 'x' and no newline
"""
import gzip
import http.server
import socketserver
import sys
import time
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: tests read TAP from stdout
        pass

    def handle(self):
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):
            pass  # the client gave up (a body cap, a deadline): expected in these tests

    def send_body(self, code, body, headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        p = url.path
        if p == "/ok":
            self.send_body(200, b"hello\n", [("Content-Type", "text/plain")])
        elif p.startswith("/status/"):
            code = int(p.split("/")[2])
            self.send_body(code, b"status %d\n" % code)
        elif p == "/slow":
            time.sleep(int(q.get("ms", ["1000"])[0]) / 1000.0)
            self.send_body(200, b"slow\n")
        elif p == "/hang":
            time.sleep(3600)
        elif p == "/big":
            self.send_body(200, b"x" * int(q.get("bytes", ["1000"])[0]))
        elif p == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            left = int(q.get("bytes", ["1000"])[0])
            try:
                while left > 0:
                    n = min(left, 65536)
                    self.wfile.write(b"%x\r\n%s\r\n" % (n, b"x" * n))
                    left -= n
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up: what a cap should do
        elif p in ("/lines", "/longline"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                self.stream(p, q)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
        elif p == "/gzip":
            body = b"a" * 100000
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                self.send_body(200, gzip.compress(body), [("Content-Encoding", "gzip")])
            else:
                self.send_body(200, body)
        elif p == "/truncate":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.close_connection = True
        elif p == "/close":
            self.close_connection = True
        elif p == "/retry-after":
            self.send_body(429, b"slow down\n", [("Retry-After", "7")])
        elif p == "/headers":
            lines = "".join("%s: %s\n" % (k, v) for k, v in self.headers.items())
            self.send_body(200, lines.encode())
        else:
            self.send_body(404, b"not found\n")

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def stream(self, p, q):
        if p == "/longline":
            left = int(q.get("bytes", ["1000"])[0])
            while left > 0:
                n = min(left, 65536)
                self.chunk(b"x" * n)
                left -= n
        else:
            ms = int(q.get("ms", ["0"])[0])
            for i in range(int(q.get("n", ["3"])[0])):
                line = b"line %d\r\n" % i if i % 2 else b"line %d\n" % i
                self.chunk(line[:3])
                time.sleep(ms / 2000.0)
                self.chunk(line[3:])
                time.sleep(ms / 2000.0)
            if q.get("hold"):
                time.sleep(3600)
        self.wfile.write(b"0\r\n\r\n")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self.send_body(200, body)

    do_PUT = do_POST


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the default 5 drops SYNs of concurrent clients (1 s retries)


def main():
    srv = Server(("127.0.0.1", int(sys.argv[1])), Handler)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
