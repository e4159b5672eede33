#!/usr/bin/env python3
"""The Kong collector's TLS settings against fake Kong nodes on HTTPS (like admin_listen
8444 ssl), with certificates made by openssl for the test: certificate verification is on
unless insecure_skip_verify says otherwise, ca_file makes a private CA trusted, and cert_file
with key_file answer a node that asks for a client certificate (mTLS)."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import Drwatch, Tap, start_fake, tmpdir, wait_for  # noqa: E402

t = Tap()
d = tmpdir()


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=d)


EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
openssl("req", "-x509", *EC, "-days", "1", "-subj", "/CN=drwatch test CA", "-keyout", "ca.key",
        "-out", "ca.crt")
for name, cn, ext in (("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1"),
                      ("client", "drwatch", "extendedKeyUsage=clientAuth")):
    openssl("req", *EC, "-subj", "/CN=" + cn, "-keyout", name + ".key", "-out", name + ".csr")
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write(ext + "\n")
    openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "1", "-extfile", name + ".ext", "-out", name + ".crt")
P = {n: os.path.join(d, n) for n in ("ca.crt", "server.crt", "server.key", "client.crt",
                                     "client.key")}


def start(name, *args):
    port = start_fake("kong_fake.py", os.path.join(d, name + ".log"), "--role", "control_plane",
                      "--tls", P["server.crt"], P["server.key"], *args)
    return "https://127.0.0.1:%d" % port


tls_url = start("tls")
mtls_url = start("mtls", "--client-ca", P["ca.crt"])

targets = [
    ("with-ca", tls_url, 'ca_file = "%s"' % P["ca.crt"], 1),
    ("no-ca", tls_url, None, 0),
    ("insecure", tls_url, "insecure_skip_verify = true", 1),
    ("mtls", mtls_url, 'ca_file = "%s", cert_file = "%s", key_file = "%s"'
     % (P["ca.crt"], P["client.crt"], P["client.key"]), 1),
    ("mtls-no-cert", mtls_url, 'ca_file = "%s"' % P["ca.crt"], 0),
]
config = 'drwatch = { site = "gold" }\nkong = { targets = {\n' + "".join(
    '  { name = "%s", site = "gold", url = "%s", role = "control_plane", interval = "1s"%s },\n'
    % (name, url, ", " + extra if extra else "") for name, url, extra, _ in targets) + "} }\n"
dw = Drwatch(config).start()
UP = 'drwatch_collector_up{collector="kong",site="gold",target="%s"}'
# A scrape may time out on a loaded machine (TLS handshakes under ASan): wait until every
# target shows what its settings give, not for the first value each shows.
m = wait_for(lambda: (lambda m: m if all(m.get(UP % n) == float(w) for n, _, _, w in targets)
                      else None)(dw.metrics()), timeout=30)
m = m or dw.metrics()
for name, url, extra, want in targets:
    t.is_(m.get(UP % name), float(want), "%s: up %d" % (name, want))
reasons = [k for k in m if k.startswith("drwatch_collector_errors_total") and
           'target="no-ca"' in k]
t.ok(any('reason="status_tls"' in k for k in reasons),
     "an unknown CA fails verification by default: reason status_tls (%s)" % reasons)
reasons = [k.split('reason="')[1].split('"')[0] for k in m
           if k.startswith("drwatch_collector_errors_total") and 'target="mtls-no-cert"' in k]
t.ok(reasons and all(r.startswith("status_") for r in reasons),
     "a node that wants a client certificate refuses the target without one (%s)" % reasons)
t.ok(m.get('drwatch_kong_data_planes{site="gold",target="mtls"}') == 2.0,
     "the mTLS node's data planes are read")
dw.stop_clean(t)
t.done()
