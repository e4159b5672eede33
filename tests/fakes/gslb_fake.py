#!/usr/bin/env python3
"""A site's GSLB health endpoint over HTTPS, as the F5 monitor sees it (gslb.md), and the
openssl helpers that make the test certificates for it and for the peer link.

Usage: gslb_fake.py PORT CERT KEY   (prints "ready" once listening)

  GET /health   200 with the "iamalive" page: <html><body>iamalive</body></html>
The test steers it through fakebase's control endpoints (over HTTPS, see control()):
  alive         POST /__fake/reset
  another body  POST /__fake/state {"body": "<html>maintenance</html>"}
  503           POST /__fake/mode  {"path": "/health", "mode": "status", "status": 503}
  hang          POST /__fake/mode  {"path": "/health", "mode": "hang"}
GET /__fake/requests shows what was asked, with the Host header.

As a module: make_ca(), make_cert() (openssl CLI, EC P-256 keys, so they take milliseconds).
"""
import json
import os
import ssl
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fakebase import FakeHandler, serve  # noqa: E402

IAMALIVE = b"<html><body>iamalive</body></html>"


class Handler(FakeHandler):
    def routes(self):
        return {("GET", "/health"): Handler.health}

    def health(self, query, body):
        with self.state.lock:
            out = self.state.custom.get("body")
        out = out.encode() if out is not None else IAMALIVE
        return 200, [("Content-Type", "text/html")], out

    def error_body(self, status):
        return (("Content-Type", "text/html"),), (
            "<html><body>%d</body></html>" % status).encode()


def control(base_url, endpoint, payload=None):
    """POSTs a control request to a running fake over HTTPS (certificate not checked)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    data = json.dumps(payload or {}).encode()
    req = urllib.request.Request(base_url + "/__fake/" + endpoint, data=data, method="POST")
    with urllib.request.urlopen(req, timeout=5, context=ctx) as r:
        return r.read()


def requests(base_url):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(base_url + "/__fake/requests", timeout=5, context=ctx) as r:
        return json.loads(r.read())


def _openssl(*args, cwd=None):
    r = subprocess.run(["openssl"] + list(args), capture_output=True, text=True, cwd=cwd)
    if r.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), r.stderr))


def make_ca(d, name):
    """A self-signed CA in d: returns (cert path, key path)."""
    cert, key = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + name,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return cert, key


def make_cert(d, name, ca, san=None, cn=None, usage="serverAuth,clientAuth", expired=False):
    """A certificate signed by ca=(cert, key): returns (cert path, key path). san is a list
    such as ["DNS:drwatch.gold.test", "IP:127.0.0.1"] (None: no subjectAltName); cn defaults
    to name. expired makes one that ended in 2020."""
    cert, key = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
    csr, ext = os.path.join(d, name + ".csr"), os.path.join(d, name + ".ext")
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=" + (cn or name))
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n")
        f.write("extendedKeyUsage=%s\n" % usage)
        if san:
            f.write("subjectAltName=%s\n" % ",".join(san))
    if not expired:
        _openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
                 "-out", cert, "-days", "2", "-sha256", "-extfile", ext)
        return cert, key
    # `openssl x509` cannot back-date; `openssl ca` can, with a throwaway database.
    db = os.path.join(d, name + ".db")
    os.makedirs(db, exist_ok=True)
    open(os.path.join(db, "index.txt"), "w").close()
    with open(os.path.join(db, "serial"), "w") as f:
        f.write("1000\n")
    cnf = os.path.join(db, "ca.cnf")
    with open(cnf, "w") as f:
        f.write("[ca]\ndefault_ca=c\n[c]\ndatabase=%s/index.txt\nnew_certs_dir=%s\n"
                "serial=%s/serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n"
                % (db, db, db))
    _openssl("ca", "-batch", "-config", cnf, "-cert", ca[0], "-keyfile", ca[1], "-in", csr,
             "-out", cert, "-startdate", "20200101000000Z", "-enddate", "20200102000000Z",
             "-extfile", ext, "-notext")
    return cert, key


if __name__ == "__main__":
    serve(Handler, sys.argv[1], tls=(sys.argv[2], sys.argv[3]))
