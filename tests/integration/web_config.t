#!/usr/bin/env python3
"""--web.config.file (exporter-toolkit's format): a real Prometheus scrapes drwatch over TLS
with basic auth (scheme: https, tls_config.ca_file, basic_auth) and its query API shows up == 1.
Refused and counted: a wrong password and none (401 with WWW-Authenticate: Basic), a plain-HTTP
client (drwatch_http_tls_handshake_errors_total), a client that refuses an expired server
certificate, and under RequireAndVerifyClientCert a client without a certificate and one whose
certificate another CA signed. A changed password hash works without a restart, the old
password no longer does; TLS changes apply without a restart: min_version, an in-place
rotation of the certificate and key (new connections get the new certificate, a keep-alive
connection opened before keeps working, Prometheus keeps scraping up == 1), a mismatching key
(refused and counted, the certificate in force stays), client_auth_type; a bad file at reload keeps the one in force, and at start refuses
to start with file:line. Certificates are made here with openssl (an expired one with
`openssl ca -startdate/-enddate`)."""
import base64
import http.client
import os
import ssl
import subprocess
import sys
import time
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

# ---- TLS changes apply without a restart ----

scrape_hash = bcrypt("scrape-pw")


def web_text(tls_extra=""):
    return ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n" + tls_extra +
            "basic_auth_users:\n  prometheus: '%s'\n" % scrape_hash)


def applied():
    return dw.log().count("the listener serves the new TLS settings")


def tls12_only(creds=good):
    ctx = ssl.create_default_context(cafile=path("ca.crt"))
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    c = http.client.HTTPSConnection("127.0.0.1", dw.port, context=ctx, timeout=10)
    try:
        c.request("GET", "/-/healthy", headers=creds)
        return c.getresponse().status
    finally:
        c.close()


t.is_(tls12_only(new), 200, "before: a TLS 1.2 client is served")
write_web("web.yml", web_text("  min_version: TLS13\n"))
t.ok(wait_for(lambda: applied() == 1, timeout=10),
     "a TLS change at reload (min_version: TLS13) applies without a restart")
t.ok(refused(tls12_only) is not None, "... a TLS 1.2 client is now refused")
t.ok(wait_for(lambda: metric(dw.port, "drwatch_web_config_last_reload_successful", good) == 1,
              timeout=10),
     "the users of that file apply: drwatch_web_config_last_reload_successful 1")
t.ok(wait_for(lambda: [r for r in prom.query('up{job="drwatch"}') if r["value"][1] == "1"],
              timeout=30), "Prometheus with the password back: up == 1")
up_since = time.time()


def der_of(name):
    with open(path(name)) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def new_conn_cert():
    """The DER certificate a new TLS connection is served."""
    c = http.client.HTTPSConnection("127.0.0.1", dw.port, context=insecure_ctx(), timeout=10)
    try:
        c.request("GET", "/-/healthy", headers=good)
        c.getresponse().read()
        return c.sock.getpeercert(binary_form=True)
    finally:
        c.close()


def insecure_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def overwrite(name, source):
    """Rewrites name in place (same inode), as cert-manager rotates a certificate."""
    with open(path(source), "rb") as f:
        data = f.read()
    with open(path(name), "r+b") as f:
        f.write(data)
        f.truncate()


old_der = der_of("server.crt")
issue("ca", "server2", "20240101000000Z", "20991231000000Z")
new_der = der_of("server2.crt")
t.ok(new_conn_cert() == old_der, "before the rotation: the old certificate is served")
keep = http.client.HTTPSConnection("127.0.0.1", dw.port,
                                   context=ssl.create_default_context(cafile=path("ca.crt")),
                                   timeout=10)
keep.request("GET", "/-/healthy", headers=good)
keep.getresponse().read()
ino = os.stat(path("server.crt")).st_ino
rotated_at = time.time()
overwrite("server.key", "server2.key")
overwrite("server.crt", "server2.crt")
t.ok(os.stat(path("server.crt")).st_ino == ino, "the certificate was rewritten in place")
t.ok(wait_for(lambda: new_conn_cert() == new_der, timeout=15),
     "after an in-place rotation, new connections get the new certificate without a restart")
keep.request("GET", "/-/healthy", headers=good)
r = keep.getresponse()
r.read()
t.ok(r.status == 200 and keep.sock.getpeercert(binary_form=True) == old_der,
     "a keep-alive connection opened before keeps working (on the old certificate)")
keep.close()


def scraped_after(when):
    r = prom.query('timestamp(up{job="drwatch"})')
    return r and float(r[0]["value"][1]) > when


after = time.time() + 2
t.ok(wait_for(lambda: scraped_after(after), timeout=30),
     "Prometheus scrapes on after the rotation")
window = max(1, int(time.time() - up_since))
r = prom.query('min_over_time(up{job="drwatch"}[%ds])' % window)
t.ok(r and r[0]["value"][1] == "1",
     "... up == 1 at every scrape across the rotation (the last %d s: %s)" % (window, r))

# ---- a broken new key: refused, the old certificate stays ----

failures = metric(dw.port, "drwatch_web_config_reload_failures_total", good)
overwrite("server.key", "client.key")
t.ok(wait_for(lambda: metric(dw.port, "drwatch_web_config_reload_failures_total", good)
              == failures + 1, timeout=15),
     "a key that does not match the certificate is counted: "
     "drwatch_web_config_reload_failures_total %s" % (failures + 1))
t.ok("keeping the listener's TLS settings" in dw.log(), "... and logged with the reason")
t.is_(metric(dw.port, "drwatch_web_config_last_reload_successful", good), 0.0,
      "drwatch_web_config_last_reload_successful 0")
t.ok(new_conn_cert() == new_der, "... and the certificate in force is still served")
overwrite("server.key", "server2.key")
t.ok(wait_for(lambda: metric(dw.port, "drwatch_web_config_last_reload_successful", good) == 1,
              timeout=15),
     "the matching key back (what is served): drwatch_web_config_last_reload_successful 1")

# ---- client_auth_type changed at reload ----

write_web("web.yml", web_text("  client_auth_type: RequireAndVerifyClientCert\n"
                              "  client_ca_file: ca.crt\n"))
t.ok(wait_for(lambda: refused(lambda: tls_get(dw.port, "/-/healthy", good)) is not None,
              timeout=15),
     "client_auth_type: RequireAndVerifyClientCert at reload: a client without a certificate "
     "is refused")
t.is_(tls_get(dw.port, "/-/healthy", good, cert="client")[0], 200,
      "... one with a certificate the CA signed: 200")
t.ok(refused(lambda: tls_get(dw.port, "/-/healthy", good, cert="stranger")) is not None,
     "... one another CA signed: refused")
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
