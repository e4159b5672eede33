#!/usr/bin/env python3
"""`drwatch check-config FILE` and start-up: a good config passes; a bad one is refused with
file:line and what was expected, and drwatch does not start on it."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import BIN, ROOT, Tap, check_config, free_port, tmpdir  # noqa: E402

t = Tap()
d = tmpdir()


def check(text):
    rc, out = check_config(text, d)
    return rc, out.replace(os.path.join(d, "c.lua"), "c.lua")


r = subprocess.run([BIN, "check-config", os.path.join(ROOT, "examples", "demo.lua")],
                   capture_output=True, text=True, cwd=ROOT)
t.ok(r.returncode == 0 and "ok" in r.stdout, "examples/demo.lua passes: " + r.stdout.strip())

cases = [
    ('drwatch = { site = "gold" }\ntextfile = { directory = 3 }\n',
     'c.lua:2: textfile.directory: expected a string (a directory holding *.prom files), '
     'got an integer'),
    ('drwatch = {\n  site = "gold",\n  interval = "fast",\n}\n',
     'c.lua:3: drwatch.interval: expected a duration such as "15s", "1m30s" or "500ms", '
     'got "fast"'),
    ('drwatch = { site = "gold" }\ntextfile = {\n  directory = "/x",\n  intervall = "5s",\n}\n',
     'c.lua:4: textfile.intervall: unknown key (known keys: directory, interval, max_file_bytes)'),
    ('drwatch = { }\n', 'c.lua:1: drwatch.site: missing, and required (the site this drwatch '
     'runs in)'),
    ('drwatch = { site = "gold" }\nfoo = 1\n', "c.lua:2: unknown section 'foo'"),
    ('drwatch = { site = "gold" \n', "c.lua:2: '}' expected"),
]
for text, want in cases:
    rc, out = check(text)
    t.ok(rc == 1 and out.startswith(want), "refused with: " + want)
    if not out.startswith(want):
        t.diag("got: " + out)

# drwatch itself refuses to start on a bad config, with the same message, exit code 1.
path = os.path.join(d, "bad.lua")
with open(path, "w") as f:
    f.write('drwatch = { site = "gold", interval = "0s" }\n')
r = subprocess.run([BIN, "--config.file=" + path,
                    "--web.listen-address=127.0.0.1:%d" % free_port()],
                   capture_output=True, text=True, timeout=10)
t.ok(r.returncode == 1 and "bad.lua:1: drwatch.interval" in r.stderr,
     "drwatch does not start on a bad config: " + r.stderr.strip().splitlines()[-1])
r = subprocess.run([BIN, "--log.level=loud"], capture_output=True, text=True)
t.ok(r.returncode == 2 and "--log.level" in r.stderr, "a bad flag value is refused (exit 2)")
t.done()
