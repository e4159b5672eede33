"""Helpers for drwatch's integration tests (Python stdlib only, TAP on stdout).

A test is an executable tests/integration/*.t script that prove runs from the repo root. It
starts the real drwatch binary ($DRWATCH_BIN, default ./drwatch) and real servers on free
loopback ports in 20000-29999, and tears every process down at exit, also when it fails.
"""
import atexit
import gzip
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("DRWATCH_BIN", os.path.join(ROOT, "drwatch"))
FAKES = os.path.join(ROOT, "tests", "fakes")

# The failure modes of tests/fakes/fakebase.py that an HTTP collector's target is put through,
# each with the errors_total reason it must give: {name: (/__fake/mode request, reason)}.
FAILURE_MODES = {
    "slow": ({"mode": "slow", "ms": 3000}, "timeout"),
    "hang": ({"mode": "hang"}, "timeout"),
    "close": ({"mode": "close"}, "connection"),
    "cut": ({"mode": "cut"}, "truncated"),
    "s500": ({"mode": "status", "status": 500}, "http_500"),
    "s401": ({"mode": "status", "status": 401}, "http_401"),
    "s404": ({"mode": "status", "status": 404}, "http_404"),
    "garbage": ({"mode": "garbage"}, "bad_json"),
    "truncate": ({"mode": "truncate"}, "bad_json"),
    "huge": ({"mode": "huge", "bytes": 256 << 20}, "body_too_large"),
}


class Tap:
    """Minimal TAP producer; the plan is printed at the end."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name):
        self.n += 1
        print("%sok %d - %s" % ("" if cond else "not ", self.n, name), flush=True)
        if not cond:
            self.failed += 1
        return bool(cond)

    def is_(self, got, want, name):
        if not self.ok(got == want, name):
            self.diag("  got:  %r\n  want: %r" % (got, want))

    def diag(self, text):
        for line in str(text).splitlines():
            print("# " + line, flush=True)

    def done(self):
        print("1..%d" % self.n, flush=True)
        sys.exit(1 if self.failed else 0)


_procs = []
_dirs = []


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait()
    for d in _dirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))


def tmpdir():
    d = tempfile.mkdtemp(prefix="drwatch-test-")
    _dirs.append(d)
    return d


def free_port():
    """A TCP and UDP port free on 127.0.0.1, in the range the tests own."""
    for _ in range(500):
        port = random.randint(20000, 29999)
        try:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_INET, kind)
                s.bind(("127.0.0.1", port))
                s.close()
            return port
        except OSError:
            continue
    raise RuntimeError("no free port in 20000-29999")


def spawn(argv, log_path, env=None, preexec_fn=None):
    """Starts a process in its own process group, output to log_path; killed at exit."""
    log = open(log_path, "ab")
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                         start_new_session=True, preexec_fn=preexec_fn)
    _procs.append(p)
    return p


def start_fake(script, log_path, *args):
    """Runs tests/fakes/<script> PORT ARGS... on a free port, its output to log_path, and waits
    for the "ready" it prints once it listens. Returns the port."""
    port = free_port()
    spawn([sys.executable, os.path.join(FAKES, script), str(port)] + list(args), log_path)
    if not wait_for(lambda: "ready" in open(log_path).read()):
        raise RuntimeError("fake %s did not start; log:\n%s" % (script, open(log_path).read()))
    return port


def check_config(text, directory):
    """Runs `drwatch check-config` on text, written to directory/c.lua. Returns (exit code,
    stdout and stderr together, stripped)."""
    path = os.path.join(directory, "c.lua")
    with open(path, "w") as f:
        f.write(text)
    r = subprocess.run([BIN, "check-config", path], capture_output=True, text=True)
    return r.returncode, (r.stdout + r.stderr).strip()


def http(method, url, headers=None, body=None, timeout=10):
    """Returns (status, headers dict with lower-case names, body bytes); never raises on 4xx/5xx."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def wait_for(pred, timeout=10.0, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        try:
            v = pred()
            if v:
                return v
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(step)
    return None


class Drwatch:
    """One drwatch process with its config file in its own directory.

    lifecycle: serve POST /-/reload (--web.enable-lifecycle) behind a bearer token in a
    --web.token-file of its own (self.token); reload() sends it. nofile: (soft, hard) open-file
    limits to start drwatch with."""

    def __init__(self, config, name="drwatch", extra_args=(), lifecycle=True, nofile=None):
        self.dir = tmpdir()
        self.config_path = os.path.join(self.dir, "drwatch.lua")
        self.log_path = os.path.join(self.dir, name + ".log")
        self.write_config(config)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.extra_args = list(extra_args)
        self.token = None
        if lifecycle:
            self.token = "reload-%d" % random.randint(0, 1 << 30)
            with open(os.path.join(self.dir, "web-token"), "w") as f:
                f.write(self.token + "\n")
            self.extra_args += ["--web.enable-lifecycle",
                                "--web.token-file=" + os.path.join(self.dir, "web-token")]
        self.nofile = nofile
        self.proc = None

    def write_config(self, text):
        with open(self.config_path + ".tmp", "w") as f:
            f.write(text)
        os.rename(self.config_path + ".tmp", self.config_path)

    def start(self, wait_ready=True):
        argv = [BIN, "--config.file=" + self.config_path,
                "--web.listen-address=127.0.0.1:%d" % self.port] + self.extra_args
        limits = None
        if self.nofile:
            import resource
            limits = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, self.nofile)  # noqa: E731
        self.proc = spawn(argv, self.log_path, preexec_fn=limits)
        if wait_ready and not wait_for(lambda: self.get("/-/ready")[0] == 200):
            raise RuntimeError("drwatch did not become ready; log:\n" + self.log())
        return self

    def get(self, path, headers=None):
        return http("GET", self.url + path, headers)

    def post(self, path, body=b"", headers=None):
        return http("POST", self.url + path, headers, body)

    def reload(self):
        """POST /-/reload with the bearer token it needs: (status, headers, body)."""
        return self.post("/-/reload", headers={"Authorization": "Bearer %s" % self.token})

    def metrics(self):
        """The /metrics body parsed into {series text: value}, series text as rendered."""
        status, _, body = self.get("/metrics")
        out = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                series, value = line.rsplit(" ", 1)
                out[series] = float(value)
        return out

    def sample(self, series):
        return self.metrics().get(series)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop_clean(self, t):
        """Stops drwatch and asserts it exits 0 with no sanitizer report (make asan)."""
        rc = self.stop()
        log = self.log()
        bad = [l for l in log.splitlines()
               if "Sanitizer" in l or "runtime error:" in l or "LeakSanitizer" in l]
        t.ok(rc == 0 and not bad, "drwatch stops cleanly on SIGTERM (exit %s)" % rc)
        for line in bad[:20]:
            t.diag(line)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait()
        return self.proc.returncode if self.proc else None


class Prometheus:
    """A real Prometheus (Debian's) scraping the given targets every second. A target is
    (job, host:port), or (job, host:port, options): options is YAML put into the job as it is
    (lines such as "metrics_path: /federate", indented by the helper). rule_files: rule files
    Prometheus loads, evaluated every second. jobs: scrape_configs entries written as they are
    (YAML, each a "- job_name: ..." item), after those of targets."""

    def __init__(self, targets, scrape_interval="1s", rule_files=(), jobs=""):
        extra_jobs = "\n" + jobs if jobs else ""
        self.dir = tmpdir()
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        jobs = "".join("""
  - job_name: %s
    scrape_interval: %s
%s    static_configs:
      - targets: ['%s']
""" % (t[0], scrape_interval,
       "".join("    %s\n" % line for line in (t[2] if len(t) > 2 else "").splitlines()),
       t[1]) for t in targets)
        with open(os.path.join(self.dir, "prometheus.yml"), "w") as f:
            f.write("global:\n  evaluation_interval: 1s\n")
            if rule_files:
                f.write("rule_files:\n%s" % "".join("  - '%s'\n" % p for p in rule_files))
            f.write("scrape_configs:%s%s" % (jobs, extra_jobs))
        self.log_path = os.path.join(self.dir, "prometheus.log")

    def start(self):
        binary = shutil.which("prometheus") or "/usr/bin/prometheus"
        self.proc = spawn([binary, "--config.file=" + os.path.join(self.dir, "prometheus.yml"),
                           "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                           "--web.listen-address=127.0.0.1:%d" % self.port,
                           "--web.enable-lifecycle"], self.log_path)
        if not wait_for(lambda: http("GET", self.url + "/-/ready")[0] == 200, timeout=60):
            raise RuntimeError("prometheus did not start; log:\n" + open(self.log_path).read())
        return self

    def query(self, expr):
        q = urllib.parse.urlencode({"query": expr})
        status, _, body = http("GET", self.url + "/api/v1/query?" + q)
        data = json.loads(body)
        if data.get("status") != "success":
            raise RuntimeError("query %s: %s" % (expr, body[:300]))
        return data["data"]["result"]

    def targets(self):
        status, _, body = http("GET", self.url + "/api/v1/targets")
        return json.loads(body)["data"]["activeTargets"]

    def api(self, path):
        """GET /api/v1/<path>'s data (rules, alerts, ...)."""
        status, _, body = http("GET", self.url + "/api/v1/" + path)
        data = json.loads(body)
        if data.get("status") != "success":
            raise RuntimeError("%s: %s" % (path, body[:300]))
        return data["data"]

    def stop(self):
        if getattr(self, "proc", None) and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def gunzip(data):
    return gzip.decompress(data)


# ---- for tests that check a failing collector leaves the others alone ----

def self_signed_cert(directory):
    """(cert, key) paths: a self-signed EC certificate for 127.0.0.1, its own CA."""
    cert, key = os.path.join(directory, "ca.crt"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key,
                    "-out", cert], check=True, capture_output=True)
    return cert, key


def drill_textfile(directory):
    """A textfile directory under directory holding drill.prom (dr_drill_ok{site="golddr"} 1),
    for a textfile collector to run beside the collector under test. Returns its path."""
    path = os.path.join(directory, "textfile")
    os.mkdir(path)
    with open(os.path.join(path, "drill.prom"), "w") as f:
        f.write("# HELP dr_drill_ok Last DR drill result.\n# TYPE dr_drill_ok gauge\n"
                "dr_drill_ok{site=\"golddr\"} 1\n")
    return path


def textfile_series(m):
    """The textfile collector's output in metrics m, less the two series that move with time."""
    return {k: v for k, v in m.items()
            if (k.startswith(("dr_drill_ok", "drwatch_textfile_")) or 'collector="textfile"' in k)
            and not k.startswith(("drwatch_collector_scrape_duration_seconds",
                                  "drwatch_collector_last_success_timestamp_seconds"))}


def textfile_last_success(dw):
    return next((v for k, v in dw.metrics().items()
                 if k.startswith('drwatch_collector_last_success_timestamp_seconds{'
                                 'collector="textfile"')), None)


def isolation_baseline(t, dw):
    """Before a test's failure modes start: what isolation_check compares with (the textfile
    collector's samples and drwatch's peak RSS); asserts the textfile collector runs."""
    tf = textfile_series(dw.metrics())
    t.ok(tf.get('dr_drill_ok{site="golddr"}') == 1.0 and
         tf.get('drwatch_textfile_file_valid{file="drill.prom"}') == 1.0,
         "a textfile collector runs in the same drwatch")
    return tf, hwm_kib(dw.proc.pid)


def isolation_check(t, dw, collector, modes, baseline, site="golddr"):
    """Once each target named in modes ({name: (fake mode, reason)}) was told to fail: each goes
    down with errors_total{reason}, the textfile collector's samples stay exactly as they were
    and it keeps collecting, and the body far over the cap (256 MiB) was not buffered."""
    tf_before, hwm_before = baseline
    up = 'drwatch_collector_up{collector="%s",site="%s",target="%%s"}' % (collector, site)
    err = ('drwatch_collector_errors_total{collector="%s",reason="%%s",site="%s",target="%%s"}'
           % (collector, site))
    t.ok(wait_for(lambda: (lambda m: all(m.get(up % k) == 0 for k in modes))(dw.metrics()),
                  timeout=15), "every failing target goes down")
    tf_seen = textfile_last_success(dw)
    for mode, (_, reason) in modes.items():
        t.ok(wait_for(lambda: (dw.sample(err % (reason, mode)) or 0) >= 1, timeout=5),
             "%s: errors_total{reason=\"%s\"}" % (mode, reason))
        t.is_(textfile_series(dw.metrics()), tf_before,
              "%s: the textfile collector's samples are unchanged" % mode)
    t.ok(wait_for(lambda: textfile_last_success(dw) > tf_seen, timeout=5),
         "the textfile collector kept collecting while every mode failed")
    grew = hwm_kib(dw.proc.pid) - hwm_before
    # Buffered, the 256 MiB body would add at least 256 MiB. Every failure mode runs at once,
    # and under make asan the memory they free waits in ASan's quarantine: some 45 MiB measured.
    t.ok(grew < 128 * 1024,
         "a 256 MiB body over the 1 MiB cap is refused, not buffered (peak RSS %+d KiB)" % grew)


def hwm_kib(pid):
    """Peak resident memory of pid in KiB (VmHWM): a body buffered then freed still shows."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


# ---- README.md's metric tables (the tables headed "| Metric | Type | HELP |") ----

def md_cells(line):
    """The cells of a Markdown table row, split at unescaped pipes, stripped."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def md_unescape(text):
    """CommonMark backslash escapes: a backslash before ASCII punctuation is dropped."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


def readme_rows(paths):
    """[(path, line number, [names], type, description)] of every metric-table row."""
    rows = []
    for path in paths:
        in_table = False
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if re.match(r"^\|\s*Metric\s*\|\s*Type\s*\|\s*HELP\s*\|", line):
                    in_table = True
                    continue
                if not line.startswith("|"):
                    in_table = False
                    continue
                if not in_table or re.match(r"^\|[\s|:-]+\|$", line):
                    continue
                cells = md_cells(line)
                names = [item.split("{", 1)[0].strip()
                         for item in re.findall(r"`([^`]+)`", cells[0])]
                rows.append((os.path.relpath(path, ROOT), n, names,
                             cells[1] if len(cells) > 1 else "",
                             md_unescape(cells[2]) if len(cells) > 2 else ""))
    return rows


def peer_fetch(port, ca, cert=None, path="/peer/v1/view", method="GET", plain=False,
               body=None):
    """A request to a drwatch peer endpoint on 127.0.0.1:port, over TLS trusting the CA file ca
    with the client certificate cert = (cert, key) (None: none), or plain; body (bytes) is sent
    with its Content-Length. Returns (status, body), or None when the connection or the
    handshake is refused."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        return None
    length = "Content-Length: %d\r\n" % len(body) if body is not None else ""
    req = ("%s %s HTTP/1.1\r\nHost: drwatch.gold.test\r\n%s\r\n" % (method, path, length)).encode()
    req += body or b""
    try:
        if not plain:
            ctx = ssl.create_default_context(cafile=ca)
            if cert:
                ctx.load_cert_chain(*cert)
            s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
        s.sendall(req)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ssl.SSLError, OSError):
        return None
    finally:
        s.close()
    if not data.startswith(b"HTTP/1.1 "):
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body
