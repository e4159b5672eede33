#!/usr/bin/env python3
"""--web.config.file (exporter-toolkit's format): a real Prometheus scrapes drwatch over TLS
with basic auth (scheme: https, tls_config.ca_file, basic_auth) and its query API shows up == 1.
Refused and counted: a wrong password and none (401 with WWW-Authenticate: Basic), a plain-HTTP
client (drwatch_http_tls_handshake_errors_total), a client that refuses an expired server
certificate, and under RequireAndVerifyClientCert a client without a certificate and one whose
certificate another CA signed. A changed password hash works without a restart, the old
password no longer does; a bad file at reload keeps the one in force, and at start refuses
to start with file:line. Certificates are made here with openssl (an expired one with
`openssl ca -startdate/-enddate`)."""
import base64
import http.client
import os
import ssl
import subprocess
import sys
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import BIN, Drwatch, Prometheus, Tap, tmpdir, wait_for  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # bcrypt hashes as htpasswd -B makes them (deprecated in 3.11, still there)

t = Tap()
D = tmpdir()


def run(*argv):
    subprocess.run(list(argv), check=True, capture_output=True, cwd=D)


def bcrypt(password):
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 10))


def make_ca(name):
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "2", "-subj", "/CN=%s" % name, "-keyout", name + ".key",
        "-out", name + ".crt")
    os.makedirs(os.path.join(D, name + ".db", "new"))
    open(os.path.join(D, name + ".db", "index.txt"), "w").close()
    with open(os.path.join(D, name + ".db", "serial"), "w") as f:
        f.write("1000\n")
    with open(os.path.join(D, name + ".cnf"), "w") as f:
        f.write("[ca]\ndefault_ca = d\n[d]\ndir = %s\ndatabase = $dir/index.txt\n"
                "new_certs_dir = $dir/new\nserial = $dir/serial\ndefault_md = sha256\n"
                "policy = p\ncopy_extensions = copy\nunique_subject = no\n"
                "[p]\ncommonName = supplied\n" % os.path.join(D, name + ".db"))


def issue(ca, name, start, end, san="IP:127.0.0.1"):
    """name.crt and name.key signed by ca, valid from start to end (YYYYMMDDHHMMSSZ)."""
    run("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-subj", "/CN=%s" % name, "-addext", "subjectAltName=" + san,
        "-keyout", name + ".key", "-out", name + ".csr")
    run("openssl", "ca", "-batch", "-notext", "-config", ca + ".cnf", "-cert", ca + ".crt",
        "-keyfile", ca + ".key", "-in", name + ".csr", "-out", name + ".crt",
        "-startdate", start, "-enddate", end)


make_ca("ca")
make_ca("otherca")
issue("ca", "server", "20240101000000Z", "20991231000000Z")
issue("ca", "expired", "20200101000000Z", "20200102000000Z")
issue("ca", "client", "20240101000000Z", "20991231000000Z", san="DNS:scraper")
issue("otherca", "stranger", "20240101000000Z", "20991231000000Z", san="DNS:stranger")
path = lambda n: os.path.join(D, n)  # noqa: E731

CONFIG = 'drwatch = { site = "gold", fast_interval = "1s" }\n'


def write_web(name, text):
    with open(path(name) + ".tmp", "w") as f:
        f.write(text)
    os.rename(path(name) + ".tmp", path(name))
    return path(name)


def auth(user, password):
    return {"Authorization": "Basic " + base64.b64encode(
        ("%s:%s" % (user, password)).encode()).decode()}


def tls_get(port, urlpath, headers=None, cert=None, ca="ca.crt"):
    """(status, headers, body) over TLS, verifying drwatch's certificate against ca."""
    ctx = ssl.create_default_context(cafile=path(ca))
    if cert:
        ctx.load_cert_chain(path(cert + ".crt"), path(cert + ".key"))
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    try:
        c.request("GET", urlpath, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def metric(port, series, creds=None, cert=None):
    _, _, body = tls_get(port, "/metrics", creds, cert)
    for line in body.decode().splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def refused(fn):
    """The exception fn raised (a refused handshake or a closed connection), or None."""
    try:
        fn()
    except (ssl.SSLError, ConnectionError, http.client.HTTPException, OSError) as e:
        return e
    return None


# ---- TLS and basic auth, scraped by a real Prometheus ----

web = write_web("web.yml",
                "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                "http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n"
                "basic_auth_users:\n  prometheus: '%s'\n" % bcrypt("scrape-pw"))
r = subprocess.run([BIN, "--web.config.file=" + web, "check-config", "/dev/null"],
                   capture_output=True, text=True)
t.ok(web + ": ok, TLS, 1 basic auth users" in r.stdout,
     "check-config --web.config.file checks the web config (%s)" % r.stdout.strip()[:100])

dw = Drwatch(CONFIG, lifecycle=False, extra_args=["--web.config.file=" + web]).start(
    wait_ready=False)
good = auth("prometheus", "scrape-pw")
t.ok(wait_for(lambda: tls_get(dw.port, "/-/ready", good)[0] == 200, timeout=20),
     "drwatch serves HTTPS with the web config's certificate")
status, h, body = tls_get(dw.port, "/metrics", good)
t.ok(status == 200 and b"drwatch_build_info" in body, "/metrics with the right password: 200")
t.is_(h.get("x-content-type-options"), "nosniff", "http_server_config.headers on /metrics")

status, h, _ = tls_get(dw.port, "/metrics")
t.ok(status == 401 and h.get("www-authenticate") == "Basic",
     "no credentials: 401 with WWW-Authenticate: Basic (%s)" % status)
t.is_(h.get("x-content-type-options"), "nosniff", "... and the headers on the refusal")
status, _, _ = tls_get(dw.port, "/-/healthy", auth("prometheus", "wrong"))
t.is_(status, 401, "a wrong password: 401")
status, _, _ = tls_get(dw.port, "/-/healthy", auth("nobody", "scrape-pw"))
t.is_(status, 401, "an unknown user: 401")
t.ok(wait_for(lambda: metric(dw.port, 'drwatch_http_auth_failures_total{reason="wrong_credentials"}',
                             good) == 2, timeout=10),
     "counted: drwatch_http_auth_failures_total{reason=\"wrong_credentials\"} 2")
t.ok(wait_for(lambda: metric(dw.port, 'drwatch_http_auth_failures_total{reason="no_credentials"}',
                             good) == 1, timeout=10),
     "counted: drwatch_http_auth_failures_total{reason=\"no_credentials\"} 1")


def plain_http():
    c = http.client.HTTPConnection("127.0.0.1", dw.port, timeout=10)
    c.request("GET", "/metrics")
    return c.getresponse().status


t.ok(refused(plain_http) is not None, "a plain-HTTP client gets no answer")
t.ok(wait_for(lambda: metric(dw.port, "drwatch_http_tls_handshake_errors_total", good) == 1,
              timeout=10),
     "counted: drwatch_http_tls_handshake_errors_total 1")

prom = Prometheus([("drwatch", "127.0.0.1:%d" % dw.port,
                    "scheme: https\ntls_config:\n  ca_file: %s\nbasic_auth:\n"
                    "  username: prometheus\n  password: scrape-pw\n" % path("ca.crt"))]).start()
up = wait_for(lambda: [r for r in prom.query('up{job="drwatch"}') if r["value"][1] == "1"],
              timeout=30)
t.ok(up, "a real Prometheus scrapes over TLS with basic auth: up == 1")
targets = prom.targets()
t.ok(targets and targets[0]["scrapeUrl"].startswith("https://"),
     "its scrape URL is https (%s)" % (targets[0]["scrapeUrl"] if targets else ""))

# ---- reload: a new hash, no restart ----

write_web("web.yml",
          "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
          "basic_auth_users:\n  prometheus: '%s'\n" % bcrypt("rotated-pw"))
new = auth("prometheus", "rotated-pw")
t.ok(wait_for(lambda: tls_get(dw.port, "/-/healthy", good)[0] == 401, timeout=10),
     "after the file changed, the old password gets 401 without a restart")
t.is_(tls_get(dw.port, "/-/healthy", new)[0], 200, "... and the new one 200")
down = wait_for(lambda: [r for r in prom.query('up{job="drwatch"}') if r["value"][1] == "0"],
                timeout=30)
t.ok(down, "Prometheus with the old password: up == 0")

write_web("web.yml", "basic_auth_users:\n  prometheus: not-a-hash\n")
t.ok(wait_for(lambda: metric(dw.port, "drwatch_web_config_reload_failures_total", new) == 1,
              timeout=10),
     "a bad file at reload is counted: drwatch_web_config_reload_failures_total 1")
t.is_(metric(dw.port, "drwatch_web_config_last_reload_successful", new), 0.0,
      "drwatch_web_config_last_reload_successful 0")
t.is_(tls_get(dw.port, "/-/healthy", new)[0], 200, "the config in force stays")
t.ok("web.yml:2: basic_auth_users" in dw.log(), "the error is logged with file:line")
write_web("web.yml",
          "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
          "  min_version: TLS13\nbasic_auth_users:\n  prometheus: '%s'\n" % bcrypt("rotated-pw"))
t.ok(wait_for(lambda: "tls_server_config changed; the listener keeps its TLS settings" in dw.log(),
              timeout=10),
     "a TLS change at reload is logged as waiting for a restart")
t.ok(wait_for(lambda: metric(dw.port, "drwatch_web_config_last_reload_successful", new) == 1,
              timeout=10),
     "the users of that file apply: drwatch_web_config_last_reload_successful 1")
dw.stop_clean(t)

# ---- a bad file at start ----

bad = write_web("bad.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: x\n"
                "  client_auth_typo: NoClientCert\n")
with open(path("c.lua"), "w") as f:
    f.write(CONFIG)
r = subprocess.run([BIN, "--config.file=" + path("c.lua"), "--web.listen-address=127.0.0.1:0",
                    "--web.config.file=" + bad], capture_output=True, text=True, timeout=30)
t.ok(r.returncode != 0 and bad + ":4: tls_server_config: unknown key" in r.stderr and
     "client_auth_typo" in r.stderr,
     "a bad file at start: drwatch refuses to start with file:line (%s)" % r.stderr.strip()[-120:])

# ---- an expired server certificate ----

web2 = write_web("expired.yml", "tls_server_config:\n  cert_file: expired.crt\n"
                 "  key_file: expired.key\n")
dw2 = Drwatch(CONFIG, lifecycle=False, extra_args=["--web.config.file=" + web2]).start(
    wait_ready=False)
insecure = ssl.create_default_context()
insecure.check_hostname = False
insecure.verify_mode = ssl.CERT_NONE


def insecure_get(port, urlpath, cert=None):
    """(status, body) over TLS without checking drwatch's certificate."""
    ctx = insecure
    if cert:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.load_cert_chain(path(cert + ".crt"), path(cert + ".key"))
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    try:
        c.request("GET", urlpath)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def has_sample(port, line, cert=None):
    status, body = insecure_get(port, "/metrics", cert)
    return status == 200 and (line + "\n").encode() in body


t.ok(wait_for(lambda: insecure_get(dw2.port, "/-/ready")[0] == 200, timeout=20),
     "drwatch starts with an expired certificate")
e = refused(lambda: tls_get(dw2.port, "/-/healthy"))
t.ok(isinstance(e, ssl.SSLCertVerificationError) and "expired" in str(e),
     "a client refuses the expired certificate (%s)" % e)
t.ok(wait_for(lambda: has_sample(dw2.port, "drwatch_http_tls_handshake_errors_total 1"),
              timeout=10),
     "counted: drwatch_http_tls_handshake_errors_total 1")
dw2.stop_clean(t)

# ---- RequireAndVerifyClientCert ----

web3 = write_web("mtls.yml", "tls_server_config:\n  cert_file: server.crt\n"
                 "  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n"
                 "  client_ca_file: ca.crt\n  min_version: TLS12\n"
                 "  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n")
dw3 = Drwatch(CONFIG, lifecycle=False, extra_args=["--web.config.file=" + web3]).start(
    wait_ready=False)
t.ok(wait_for(lambda: tls_get(dw3.port, "/-/ready", cert="client")[0] == 200, timeout=20),
     "a client certificate the CA signed: 200")
t.ok(refused(lambda: tls_get(dw3.port, "/-/healthy")) is not None,
     "no client certificate: refused")
t.ok(refused(lambda: tls_get(dw3.port, "/-/healthy", cert="stranger")) is not None,
     "a client certificate another CA signed: refused")
for reason in ("client_cert_missing", "client_cert_invalid"):
    t.ok(wait_for(lambda: has_sample(dw3.port, 'drwatch_http_auth_failures_total{reason="%s"} 1'
                                     % reason, cert="client"), timeout=10),
         "counted: drwatch_http_auth_failures_total{reason=\"%s\"} 1" % reason)
dw3.stop_clean(t)
t.done()
