"""A real browser for tests: Debian's headless Chromium driven over the DevTools protocol
(a WebSocket on loopback), with Python's standard library only.

    with Browser() as b:
        b.phone()                       # a phone's viewport (390x844, touch, mobile)
        b.open("http://127.0.0.1:8488/")
        text = b.eval("document.body.innerText")   # what a person sees, as rendered

Chromium runs with its own throwaway profile, on a free port it picks itself (read back from
what it prints on stderr once it listens), and is killed when the block ends.
"""
import base64
import json
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.request

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class BrowserError(RuntimeError):
    pass


class _WebSocket:
    """The client half of RFC 6455, enough for DevTools: text frames, masked, unfragmented."""

    def __init__(self, url, timeout):
        assert url.startswith("ws://")
        hostport, path = url[5:].split("/", 1)
        host, port = hostport.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n" % (path, hostport, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise BrowserError("DevTools closed the WebSocket handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise BrowserError("DevTools refused the WebSocket: %r" % head[:200])
        self.buf = head.split(b"\r\n\r\n", 1)[1]

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                                struct.pack("!BH", 0x80 | 126, n) if n < 65536 else
                                struct.pack("!BQ", 0x80 | 127, n))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise BrowserError("DevTools closed the WebSocket")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)
            if b0 & 0x0F == 0x8:
                raise BrowserError("DevTools closed the WebSocket")
            if b0 & 0x0F in (0x9, 0xA):  # ping, pong: DevTools sends none; skip them
                continue
            message += payload
            if b0 & 0x80:
                return message.decode()

    def close(self):
        self.sock.close()


class Browser:
    def __init__(self, timeout=30):
        if not CHROMIUM:
            raise BrowserError("no chromium (Debian package chromium)")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="drwatch-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--remote-debugging-port=0", "--remote-allow-origins=*",
             "--user-data-dir=" + self.profile, "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        port = self._devtools_port()
        pages = json.loads(urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port,
                                                  timeout=timeout).read())
        page = next((p for p in pages if p.get("type") == "page"), None)
        if not page:
            raise BrowserError("Chromium has no page: %s" % pages)
        self.ws = _WebSocket(page["webSocketDebuggerUrl"], timeout)
        self.next_id = 0
        self.events = []
        self.call("Page.enable")
        self.call("Runtime.enable")

    def _devtools_port(self):
        """The port Chromium listens on: it says so on stderr ("DevTools listening on
        ws://127.0.0.1:PORT/..."), read as it comes, under the deadline. The rest
        of stderr is drained by a thread so that Chromium never blocks writing it."""
        deadline = time.monotonic() + self.timeout
        fd = self.proc.stderr.fileno()
        said = b""
        while True:
            m = re.search(rb"DevTools listening on ws://[^:]+:(\d+)/", said)
            if m:
                threading.Thread(target=self._drain, args=(fd,), daemon=True).start()
                return int(m.group(1))
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise BrowserError("Chromium said nothing of DevTools in %ss: %s" % (
                    self.timeout, said[-500:].decode(errors="replace")))
            chunk = os.read(fd, 65536)
            if not chunk:
                raise BrowserError("Chromium exited (%s): %s" % (
                    self.proc.wait(), said[-500:].decode(errors="replace")))
            said += chunk

    @staticmethod
    def _drain(fd):
        while os.read(fd, 65536):
            pass

    def call(self, method, **params):
        """Sends a DevTools command and returns its result (events that come first are kept)."""
        self.next_id += 1
        want = self.next_id
        self.ws.send(json.dumps({"id": want, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == want:
                if "error" in msg:
                    raise BrowserError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method):
        for i, e in enumerate(self.events):
            if e["method"] == method:
                return self.events.pop(i)
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("method") == method:
                return msg
            if "method" in msg:
                self.events.append(msg)

    def phone(self, width=390, height=844):
        """A phone's viewport: what a person on call sees on theirs."""
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=3, mobile=True)
        self.call("Emulation.setTouchEmulationEnabled", enabled=True)

    def open(self, url):
        """Navigates to url and returns once the page's load event fired."""
        self.events = [e for e in self.events if e["method"] != "Page.loadEventFired"]
        r = self.call("Page.navigate", url=url)
        if r.get("errorText"):
            raise BrowserError("%s: %s" % (url, r["errorText"]))
        self.wait_event("Page.loadEventFired")

    def eval(self, expression):
        """The value of a JavaScript expression in the page (JSON-serialisable)."""
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in r:
            raise BrowserError("%s: %s" % (expression, r["exceptionDetails"]))
        return r["result"].get("value")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.ws.close()
        except (OSError, AttributeError):
            pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
