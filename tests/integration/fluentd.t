#!/usr/bin/env python3
"""The fluentd collector against tests/fakes/fluentd_fake.py: the reference body becomes the
documented series; FluentD 1.19.2 shows retry state and 1.19.3 does not (until include_retry);
and every failure mode (slow, hang, close mid-body, 500, 401, 404, malformed and truncated
JSON, a body far over the cap) sets only that target's up to 0 with its reason, logged once,
while the healthy target's series and a textfile collector in the same drwatch stay as they
were, and the textfile collector keeps collecting. A body over the cap is refused, not buffered
(peak resident memory, VmHWM, stays flat). Over HTTPS, ca_file makes a private CA trusted and
without it verification is on: up 0 with reason tls."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from drwatch_test import (FAILURE_MODES, Drwatch, Tap, drill_textfile,  # noqa: E402
                          isolation_baseline, isolation_check, self_signed_cert, start_fake,
                          tmpdir, wait_for)
from fakebase import control  # noqa: E402

t = Tap()
work = tmpdir()
MODES = FAILURE_MODES


CA, KEY = self_signed_cert(work)
TEXTFILE = drill_textfile(work)


def start(name, *args, tls=False):
    log = os.path.join(work, name + ".log")
    extra = ["--tls", CA, KEY] if tls else []
    port = start_fake("fluentd_fake.py", log, *args, *extra)
    return "%s://127.0.0.1:%d" % ("https" if tls else "http", port)


healthy = start("healthy", "--version", "1.19.3")
old = start("old", "--version", "1.19.2")
https = start("https", "--version", "1.19.3", tls=True)
victims = {m: start(m, "--version", "1.19.3") for m in MODES}

targets = ['{ site = "gold", url = "%s", name = "healthy" }' % healthy,
           '{ site = "golddr", url = "%s", name = "old" }' % old,
           '{ site = "gold", url = "%s", name = "tls-ca", ca_file = "%s" }' % (https, CA),
           '{ site = "gold", url = "%s", name = "tls-default" }' % https]
targets += ['{ site = "golddr", url = "%s", name = "%s" }' % (u, m) for m, u in victims.items()]
OPTS = ', interval = "1s", timeout = "700ms", max_body_bytes = 1048576 }'
dw = Drwatch('drwatch = { site = "gold" }\n'
             'textfile = { directory = "%s", interval = "1s" }\n'
             'fluentd = { targets = {\n  %s\n} }\n'
             % (TEXTFILE, ",\n  ".join(x.replace(" }", OPTS) for x in targets))).start()

L = 'plugin_category="output",plugin_id="out_es",site="gold",target="healthy",type="elasticsearch"'
m = dw.metrics()
t.is_(m.get("drwatch_fluentd_buffer_queue_length{%s}" % L), 12.0, "buffer_queue_length")
t.is_(m.get("drwatch_fluentd_buffer_total_queued_bytes{%s}" % L), 50331648.0,
      "buffer_total_queued_size in bytes")
t.is_(m.get("drwatch_fluentd_retries_total{%s}" % L), 7.0, "retry_count as a counter")
t.is_(m.get("drwatch_fluentd_emit_records_total{%s}" % L), 1840221.0, "emit_records")
t.is_(m.get("drwatch_fluentd_buffer_available_space_ratio{%s}" % L), 0.925,
      "free buffer space as a 0-1 ratio")
t.is_(m.get("drwatch_fluentd_flush_time_seconds_total{%s}" % L), 982.341, "flush time in seconds")
t.is_(m.get('drwatch_fluentd_emit_records_total{plugin_category="input",plugin_id="in_forward",'
            'site="gold",target="healthy",type="forward"}'), 1840221.0, "an input's emit_records")
t.ok(not any(k.startswith("drwatch_fluentd_retries_total") and "in_forward" in k for k in m),
     "an input's retry_count null is not exported")
t.ok(not any(k.startswith("drwatch_fluentd_buffer_") and "out_stdout" in k for k in m),
     "an output without a buffer has no buffer series")
t.ok(not any(k.startswith("drwatch_fluentd_retry_steps") and 'target="healthy"' in k for k in m),
     "1.19.3 defaults: no retry state is invented")
t.is_(m.get('drwatch_fluentd_retry_steps{plugin_category="output",plugin_id="out_es",'
            'site="golddr",target="old",type="elasticsearch"}'), 6.0,
      "1.19.2 defaults: retry.steps is exported")
t.is_(m.get('drwatch_fluentd_retry_wait_seconds{plugin_category="output",plugin_id="out_es",'
            'site="golddr",target="old",type="elasticsearch"}'), 256.0,
      "and the back-off (next_time - start)")
control(healthy, "state", {"include_retry": True})
t.ok(wait_for(lambda: dw.sample('drwatch_fluentd_retry_steps{plugin_category="output",'
                                'plugin_id="out_es",site="gold",target="healthy",'
                                'type="elasticsearch"}') == 6),
     "1.19.3 with include_retry true: retry state appears")
t.is_(m.get('drwatch_fluentd_plugins{plugin_category="output",site="gold",target="healthy"}'),
      2.0, "plugins by category")

# TLS: the same target code as Kong's (exporter/http_target.c, http_client.c).
t.is_(m.get('drwatch_collector_up{collector="fluentd",site="gold",target="tls-ca"}'), 1.0,
      "HTTPS with ca_file naming a private CA: up")
t.is_(m.get("drwatch_fluentd_buffer_queue_length{%s}" % L.replace("healthy", "tls-ca")), 12.0,
      "and its series are read")
t.is_(m.get('drwatch_collector_up{collector="fluentd",site="gold",target="tls-default"}'), 0.0,
      "HTTPS without ca_file: verification is on by default, up 0")
t.ok((m.get('drwatch_collector_errors_total{collector="fluentd",reason="tls",site="gold",'
            'target="tls-default"}') or 0) >= 1, "with errors_total{reason=\"tls\"}")
t.ok(any("target tls-default failed: tls: " in line and "certificate" in line
         for line in dw.log().splitlines()), "and the certificate problem in the log")


def healthy_series():
    return {k: v for k, v in dw.metrics().items()
            if 'target="healthy"' in k and not k.startswith("drwatch_collector_")}


before = healthy_series()
baseline = isolation_baseline(t, dw)
for mode, (spec, _) in MODES.items():
    control(victims[mode], "mode", dict(spec, path="*"))


isolation_check(t, dw, "fluentd", MODES, baseline)
m = dw.metrics()
t.ok(not any('target="s500"' in k and not k.startswith("drwatch_collector_") for k in m),
     "a failed target's series are dropped, not served stale")
t.is_(healthy_series(), before, "the healthy target's series are exactly as they were")
t.is_(m.get('drwatch_collector_up{collector="fluentd",site="gold",target="healthy"}'), 1.0,
      "the healthy target stays up")
t.is_(m.get('drwatch_collector_up{collector="self",target="drwatch"}'), 1.0,
      "the self collector is unaffected")
log = dw.log()
t.ok(any("target s404 failed: http_404: HTTP 404" in line and "Not found" in line
         for line in log.splitlines()), "a 404 is logged with monitor_agent's answer")
t.ok("is url monitor_agent's base URL" in log, "and a hint about the URL")
time.sleep(1.2)
t.is_(dw.log().count("target s500 failed"), 1, "a failure that repeats is logged once")

for u in victims.values():
    control(u, "mode", {"path": "*", "mode": "ok"})
t.ok(wait_for(lambda: all(dw.sample('drwatch_collector_up{collector="fluentd",site="golddr",'
                                    'target="%s"}' % k) == 1 for k in MODES), timeout=15),
     "every target recovers when its FluentD does")
t.ok("target s500 recovered" in dw.log(), "recovery is logged")

# A URL that is not monitor_agent's: the fake's other paths answer 404 {"message":"Not found"}.
dw.write_config('drwatch = { site = "gold" }\nfluentd = { targets = {\n'
                '  { site = "gold", url = "%s/api/plugins.json", name = "full-url", '
                'interval = "1s" },\n'
                '  { site = "gold", url = "%s/wrong", name = "wrong", interval = "1s" },\n} }\n'
                % (healthy, healthy))
status, _, body = dw.reload()
t.is_(status, 200, "reload with a URL that names the endpoint and a wrong one")
t.ok(wait_for(lambda: dw.sample('drwatch_collector_up{collector="fluentd",site="gold",'
                                'target="full-url"}') == 1),
     "a url ending in /api/plugins.json is used as it is")
t.ok(wait_for(lambda: (dw.sample('drwatch_collector_errors_total{collector="fluentd",'
                               'reason="http_404",site="gold",target="wrong"}') or 0) >= 1),
     "a wrong path is http_404")
t.ok(any("target wrong failed: http_404: HTTP 404" in line and "Not found" in line
         for line in dw.log().splitlines()), "with monitor_agent's own 404 message in the log")
dw.stop_clean(t)
t.done()
