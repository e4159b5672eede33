#!/usr/bin/env python3
"""drwatch's HTTP surface: content negotiation, HEAD, 404 and 405 bodies, /-/healthy and
/-/ready, and configuration reloads through POST /-/reload and SIGHUP (a bad config is refused
with file:line and the old one kept), counted in drwatch_config_* metrics.

Who may reload (331f33d: POST /-/reload needed no credentials, and a web page's cross-site
text/plain POST reached it): /-/reload is off unless --web.enable-lifecycle (403 saying so;
SIGHUP reloads in any case); with --web.token-file it needs that bearer token (401); without
one, a browser's cross-site request (Origin of another host, or Sec-Fetch-Site) is refused."""
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import Drwatch, Tap, http, tmpdir, wait_for  # noqa: E402

t = Tap()
textdir = tmpdir()
with open(os.path.join(textdir, "a.prom"), "w") as f:
    f.write("# TYPE demo_value gauge\ndemo_value 42\n")
good = ('drwatch = { site = "gold", fast_interval = "1s" }\n'
        'textfile = { directory = "%s", interval = "1s" }\n' % textdir)
dw = Drwatch(good).start()

status, h, body = dw.get("/metrics")
t.ok(status == 200 and b"demo_value 42\n" in body, "GET /metrics serves the textfile sample")
t.is_(h.get("vary"), "Accept, Accept-Encoding", "Vary names both negotiated headers")
status, h, body = http("HEAD", dw.url + "/metrics")
t.ok(status == 200 and body == b"" and int(h.get("content-length", "0")) > 0,
     "HEAD /metrics: headers with the length, no body")
status, h, body = dw.get("/metrics", {"Accept": "application/openmetrics-text"})
t.ok(h["content-type"].startswith("application/openmetrics-text; version=1.0.0"),
     "OpenMetrics without a version means the newest (1.0.0)")
status, h, body = dw.get("/metrics", {"Accept": "application/openmetrics-text;version=0.0.1"})
t.ok(h["content-type"].startswith("text/plain; version=0.0.4"),
     "an OpenMetrics version drwatch does not speak falls back to text 0.0.4")
status, h, body = dw.get("/metrics", {"Accept-Encoding": "gzip;q=0"})
t.ok(h.get("content-encoding") is None, "gzip;q=0 means no gzip")

status, h, body = dw.get("/nope")
t.ok(status == 404 and b"/nope" in body and b"/metrics" in body,
     "404 says what was asked and which endpoints exist")
status, h, body = http("POST", dw.url + "/metrics")
t.ok(status == 405 and h.get("allow") == "GET, HEAD", "POST /metrics: 405 with Allow: GET, HEAD")
status, h, body = dw.get("/-/reload")
t.ok(status == 405 and b"POST" in body, "GET /-/reload changes nothing: 405")
status, h, body = dw.get("/-/healthy")
t.is_(status, 200, "/-/healthy")
status, h, body = dw.get("/-/ready")
t.is_(status, 200, "/-/ready after the first collection")
status, h, body = dw.get("/")
t.ok(status == 200 and b"/metrics" in body, "/ links to the endpoints")

# Who may reload.
status, h, body = dw.post("/-/reload")
t.ok(status == 401 and h.get("www-authenticate") == "Bearer" and b"--web.token-file" in body,
     "POST /-/reload without the token of --web.token-file: 401 (%s)" % body.decode().strip())
status, h, body = dw.post("/-/reload", headers={"Authorization": "Bearer wrong"})
t.is_(status, 401, "with another token: 401")
open_dw = Drwatch(good, lifecycle=False, extra_args=["--web.enable-lifecycle"]).start()
host = "127.0.0.1:%d" % open_dw.port
form = {"Content-Type": "text/plain"}
for name, extra, want in [
        ("a page of another site (Origin)", {"Origin": "http://evil.example"}, 403),
        ("a sandboxed page (Origin: null)", {"Origin": "null"}, 403),
        ("Sec-Fetch-Site: cross-site", {"Sec-Fetch-Site": "cross-site"}, 403),
        ("Sec-Fetch-Site: same-site (another port)", {"Sec-Fetch-Site": "same-site"}, 403),
        ("drwatch's own page (Origin: its host)", {"Origin": "http://" + host,
                                                   "Sec-Fetch-Site": "same-origin"}, 200),
        ("curl (neither header)", {}, 200)]:
    status, h, body = open_dw.post("/-/reload", b"x=1" if want == 403 else b"",
                                   dict(form, **extra))
    t.is_(status, want, "no token file: a text/plain POST from %s: %d" % (name, want))
status, h, body = open_dw.post("/-/reload", b"x=1")
t.ok(status == 413, "a reload takes no body: 413 (%d)" % status)
open_dw.stop_clean(t)
off = Drwatch(good, lifecycle=False).start()
status, h, body = off.post("/-/reload")
t.ok(status == 403 and b"--web.enable-lifecycle" in body,
     "without --web.enable-lifecycle: 403 saying how to turn it on")
off.signal(signal.SIGHUP)
t.ok(wait_for(lambda: off.sample('drwatch_config_reloads_total{result="success"}') == 1),
     "SIGHUP reloads all the same")
off.stop_clean(t)

# A good reload.
status, h, body = dw.reload()
t.ok(status == 200, "POST /-/reload with a good config: 200")
t.ok(wait_for(lambda: dw.sample('drwatch_config_reloads_total{result="success"}') == 1),
     "drwatch_config_reloads_total{result=\"success\"} counts it")

# A bad reload keeps the old config and says where the error is.
dw.write_config(good + 'textfile.interval = 5\nbogus = { }\n')
status, h, body = dw.reload()
t.ok(status == 500 and b"drwatch.lua:4:" in body and b"bogus" in body,
     "a bad config is refused with file:line: " + body.decode().strip())
t.ok(wait_for(lambda: dw.sample("drwatch_config_last_reload_successful") == 0),
     "drwatch_config_last_reload_successful drops to 0")
t.ok(wait_for(lambda: dw.sample('drwatch_config_reloads_total{result="failure"}') == 1),
     "the failure is counted")
t.ok(dw.sample("demo_value") == 42, "the old config keeps collecting")

dw.write_config(good.replace('site = "gold"', 'site = "nowhere"'))
dw.signal(signal.SIGHUP)
t.ok(wait_for(lambda: dw.sample('drwatch_config_reloads_total{result="failure"}') == 2),
     "SIGHUP with a bad value is refused too")
t.ok("drwatch.lua:1: drwatch.site: expected one of \\\"gold\\\", \\\"golddr\\\"" in dw.log(),
     "the log says file:line and what was expected")

dw.write_config(good)
dw.signal(signal.SIGHUP)
t.ok(wait_for(lambda: dw.sample("drwatch_config_last_reload_successful") == 1),
     "SIGHUP with a good config recovers")
dw.stop_clean(t)
t.done()
