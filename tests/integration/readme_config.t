#!/usr/bin/env python3
"""The configs the documentation shows pass `drwatch check-config`, so they cannot rot:
every ```lua block of README.md (a block without a `drwatch` section gets a minimal one),
and examples/two-site.lua for each site. Their absolute paths (/etc/drwatch, /var/lib/drwatch,
/run/secrets, /usr/share/drwatch/rules) are moved into a temporary directory that holds the
files they name: tokens, secrets, a webhook URL, certificates made by openssl (check-config
reads and matches them), and the shipped rules."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from drwatch_test import BIN, ROOT, Tap, tmpdir  # noqa: E402
from gslb_fake import make_ca, make_cert  # noqa: E402

t = Tap()
d = tmpdir()
etc, var = os.path.join(d, "etc"), os.path.join(d, "var")
tls = os.path.join(etc, "tls")
for sub in (tls, os.path.join(var, "textfile"), os.path.join(var, "alerting")):
    os.makedirs(sub)


def put(path, text):
    with open(path, "w") as f:
        f.write(text)


for name in ("api-token", "smtp-password", "kong-admin-token", "gold-token", "golddr-token"):
    put(os.path.join(etc, name), "s3cret\n")
put(os.path.join(etc, "teams-flow-url"), "https://prod.westus.logic.azure.com/workflows/x\n")
put(os.path.join(etc, "dba-hook-url"), "https://hooks.example.org/dba\n")
put(os.path.join(d, "pg-password"), "s3cret\n")
peer_ca = make_ca(tls, "peer-ca")  # tls/peer-ca.crt
make_cert(tls, "peer", peer_ca, san=["DNS:drwatch.gold.example"])  # tls/peer.crt, peer.key
for name in ("kong-ca.crt", "gold-k8s-ca.crt", "golddr-k8s-ca.crt"):
    shutil.copy(peer_ca[0], os.path.join(tls, name))


def relocate(text):
    return (text.replace("/etc/drwatch/", etc + "/")
                .replace("/var/lib/drwatch/", var + "/")
                .replace("/run/secrets/pg", os.path.join(d, "pg-password"))
                .replace("/usr/share/drwatch/rules/", os.path.join(ROOT, "rules", "lua") + "/")
                .replace('"rules/lua/', '"%s/' % os.path.join(ROOT, "rules", "lua")))


def check(name, text, env=None):
    path = os.path.join(d, name)
    put(path, relocate(text))
    r = subprocess.run([BIN, "check-config", path], capture_output=True, text=True,
                       env=dict(os.environ, **(env or {})))
    out = (r.stdout + r.stderr).strip()
    if not t.ok(r.returncode == 0, "%s passes check-config: %s" % (name, out.splitlines()[-1]
                                                                    if out else "")):
        t.diag(out)


readme = open(os.path.join(ROOT, "README.md")).read()
blocks = [(readme[:m.start()].count("\n") + 1, m.group(1))
          for m in re.finditer(r"^```lua\n(.*?)^```", readme, re.S | re.M)]
t.ok(len(blocks) >= 2, "README.md shows %d Lua configs" % len(blocks))
for line, block in blocks:
    if not re.search(r"^drwatch\s*=", block, re.M):
        block = 'drwatch = { site = "gold" }\n' + block
    check("README.md-line-%d.lua" % line, block)

two_site = open(os.path.join(ROOT, "examples", "two-site.lua")).read()
# Its own site's Kubernetes API is the pod's (in-cluster config): run check-config as if in one.
for site in ("gold", "golddr"):
    check("two-site-%s.lua" % site, two_site,
          {"DRWATCH_SITE": site, "KUBERNETES_SERVICE_HOST": "10.96.0.1",
           "KUBERNETES_SERVICE_PORT": "443"})
t.done()
