#!/usr/bin/env python3
"""Alert delivery in the daemon to each receiver type of alerts/ but the webhook (alerting.t has
that): one firing alert routed (continue = true) to a legacy Teams connector and a Teams
Workflows trigger (tests/fakes/teams_fake.py, which validates the MessageCard and the Adaptive
Card envelope), to e-mail through a real SMTP server with STARTTLS and AUTH
(tests/fakes/smtp_server.py on aiosmtpd; the MIME parsed by Python's email package), and to a
real Alertmanager (Debian's prometheus-alertmanager; read back from GET /api/v2/alerts). Then
it resolves and each receiver hears so. The webhook URLs and the SMTP password never show in
the log or /metrics."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import Drwatch, Tap, free_port, http, spawn, tmpdir, wait_for  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PY = "/usr/bin/python3"  # Debian's, which has aiosmtpd
t = Tap()
d = tmpdir()
textdir = os.path.join(d, "text")
os.mkdir(textdir)


def write(name, text):
    path = os.path.join(d, name)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)
    return path


def value(v):
    write("text/v.prom", '# TYPE demo_value gauge\ndemo_value{instance="x"} %d\n' % v)


value(42)
write("rules.lua", '''
alert("DemoHigh", {
  expr = function() return filter(series("demo_value"), function(s) return s.value > 10 end) end,
  severity = "critical",
  annotations = { summary = "demo {{ $labels.instance }} is {{ $value }}",
                  description = "a_long_description with <html> & markdown *stars*" },
})
''')

# Teams (both kinds) on one fake.
teams_port = free_port()
spawn([PY, os.path.join(ROOT, "tests/fakes/teams_fake.py"), str(teams_port)],
      os.path.join(d, "teams.log"))
teams = "http://127.0.0.1:%d" % teams_port
t.ok(wait_for(lambda: http("GET", teams + "/validation")[0] == 200), "the Teams fake runs")
LEGACY = "/webhookb2/tenant@x/IncomingWebhook/0a1b2c3d4e5f/guid-1"
FLOW = "/workflows/abc123/triggers/manual/paths/invoke"
SIG = "S3CR3TSIG0123456789"
write("teams-url", teams + LEGACY + "\n")
write("flow-url", teams + FLOW + "?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=" +
      SIG + "\n")

# SMTP with STARTTLS and AUTH.
cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
write("smtp-password", "sm7p-s3cret\n")
smtp_port = free_port()
maildir = os.path.join(d, "mail")
spawn([PY, os.path.join(ROOT, "tests/fakes/smtp_server.py"), str(smtp_port), maildir,
       "--cert", cert, "--key", key, "--user", "alerts", "--password", "sm7p-s3cret"],
      os.path.join(d, "smtp.log"))
t.ok(wait_for(lambda: "ready" in open(os.path.join(d, "smtp.log")).read()),
     "the SMTP server runs")

# A real Alertmanager.
am_port = free_port()
write("am.yml", "route:\n  receiver: blackhole\n  group_wait: 1h\n"
                "receivers:\n  - name: blackhole\n")
spawn(["prometheus-alertmanager", "--config.file=" + os.path.join(d, "am.yml"),
       "--storage.path=" + os.path.join(d, "am-data"),
       "--web.listen-address=127.0.0.1:%d" % am_port, "--cluster.listen-address="],
      os.path.join(d, "am.log"))
am = "http://127.0.0.1:%d" % am_port
t.ok(wait_for(lambda: http("GET", am + "/-/ready")[0] == 200, 20), "Alertmanager runs")

CONFIG = '''
drwatch = { site = "gold", fast_interval = "1s" }
textfile = { directory = "%(text)s", interval = "1s" }
rules = { files = { "rules.lua" }, evaluation_interval = "1s" }
alerting = {
  data_dir = "data", external_url = "http://drwatch.test:8488/",
  grafana_url = "https://grafana.test/d/drwatch",
  templates_dir = "%(root)s/alerts/templates",
  retry_min = "200ms", retry_max = "2s",
  receivers = {
    { name = "teams", msteams = { webhook_url_file = "teams-url" } },
    { name = "flow", msteams_workflow = { webhook_url_file = "flow-url" } },
    { name = "mail", email = { url = "smtp://127.0.0.1:%(smtp)d", from = "drwatch <alerts@drwatch.test>",
                               to = { "DBA <dba@example.org>" }, bcc = { "audit@example.org" },
                               username = "alerts", password_file = "smtp-password",
                               ca_file = "cert.pem" } },
    { name = "am", alertmanager = { urls = { "%(am)s" }, firing_valid_for = "4s" } },
  },
  route = {
    receiver = "teams", group_by = { "alertname" },
    group_wait = "1s", group_interval = "1s", repeat_interval = "1h",
    routes = {
      { receiver = "teams", matchers = { alertname = "DemoHigh" }, continue = true },
      { receiver = "flow", matchers = { alertname = "DemoHigh" }, continue = true },
      { receiver = "mail", matchers = { alertname = "DemoHigh" }, continue = true },
      -- Alertmanager drops a firing alert 4s after its last receipt: resend every second.
      { receiver = "am", matchers = { alertname = "DemoHigh" }, repeat_interval = "1s" },
    },
  },
}
''' % {"text": textdir, "root": ROOT, "smtp": smtp_port, "am": am}

dw = Drwatch(CONFIG, name="drwatch")
dw.config_path = write("drwatch.lua", CONFIG)
dw.start()


def teams_requests(path):
    st, _, body = http("GET", teams + "/__fake/requests")
    return [r for r in json.loads(body) if r["path"].startswith(path)] if st == 200 else []


def mails():
    if not os.path.isdir(maildir):
        return []
    return sorted(f for f in os.listdir(maildir) if f.endswith(".eml"))


def parse_mail(name):
    out = subprocess.run([PY, os.path.join(ROOT, "tests/fakes/mail_parse.py"),
                          os.path.join(maildir, name)], capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else {}


def am_alerts():
    st, _, body = http("GET", am + "/api/v2/alerts?active=true")
    return json.loads(body) if st == 200 else []


# ---- firing ----
legacy = wait_for(lambda: teams_requests(LEGACY), 20)
t.ok(legacy, "the legacy Teams connector gets a MessageCard")
card = json.loads(legacy[0]["body"]) if legacy else {}
t.ok(card.get("@type") == "MessageCard" and card.get("summary") == "[FIRING:1] DemoHigh (x critical)",
     "MessageCard with Alertmanager's subject (%s)" % card.get("summary"))
t.ok(any("a\\_long\\_description" in s.get("text", "") for s in card.get("sections", [])),
     "Markdown in values is escaped")
flow = wait_for(lambda: teams_requests(FLOW), 20)
t.ok(flow, "the Workflows trigger gets an Adaptive Card")
env = json.loads(flow[0]["body"]) if flow else {}
att = (env.get("attachments") or [{}])[0]
t.ok(env.get("type") == "message" and att.get("contentType") ==
     "application/vnd.microsoft.card.adaptive" and att.get("content", {}).get("type") ==
     "AdaptiveCard", "in the attachments envelope")
st, _, body = http("GET", teams + "/validation")
found = json.loads(body) if st == 200 else []
t.ok(len(found) >= 2 and not any(v["errors"] for v in found),
     "the fake found nothing wrong with either card: %s" % [v["errors"] for v in found])

got = wait_for(mails, 20)
t.ok(got, "the mail arrives over STARTTLS with AUTH")
m = parse_mail(got[0]) if got else {}
h = m.get("headers", {})
t.ok(h.get("Subject") == "[FIRING:1] DemoHigh (x critical)" and
     h.get("From") == "drwatch <alerts@drwatch.test>" and h.get("To") == "DBA <dba@example.org>"
     and "Bcc" not in h and h.get("Message-ID", "").startswith("<drwatch."),
     "Subject, From, To, Message-ID; no Bcc header (%s)" % h.get("Subject"))
parts = m.get("parts", [])
t.ok(m.get("multipart") == "alternative" and [p["type"] for p in parts] ==
     ["text/plain", "text/html"] and not m.get("defects"), "multipart/alternative, text and HTML")
t.ok(parts and "demo x is 42" in parts[0]["text"] and
     "&lt;html&gt; &amp; markdown" in parts[1]["text"] and
     "https://grafana.test/d/drwatch" in parts[1]["text"],
     "the parts carry the alert, HTML escaped, with the Grafana link")
envelope = json.load(open(os.path.join(maildir, got[0].replace(".eml", ".json")))) if got else {}
t.ok(envelope.get("tls") and envelope.get("auth") == "alerts" and
     envelope.get("rcpt_tos") == ["dba@example.org", "audit@example.org"],
     "sent over TLS, authenticated, Bcc in the envelope only")

fired = wait_for(lambda: [a for a in am_alerts() if a["labels"].get("alertname") == "DemoHigh"],
                 20)
t.ok(fired, "Alertmanager has the alert")
if fired:
    a = fired[0]
    t.ok(a["labels"] == {"alertname": "DemoHigh", "instance": "x", "severity": "critical"} and
         a["annotations"].get("summary") == "demo x is 42" and
         a["status"]["state"] == "active", "with its labels and annotations, active")
    # Still active well past firing_valid_for: drwatch resends it, as Prometheus does.
    time.sleep(6)
    later = [x for x in am_alerts() if x["labels"].get("alertname") == "DemoHigh"]
    t.ok(later and later[0]["status"]["state"] == "active" and
         later[0]["endsAt"] > a["endsAt"],
         "still active 6s later, its endsAt pushed on by resends (%s -> %s)"
         % (a["endsAt"], later[0]["endsAt"] if later else None))

t.ok(wait_for(lambda: all(dw.sample('drwatch_notifications_total{receiver="%s",result="ok"}' % r)
                          == 1 for r in ("teams", "flow", "mail")) and
              dw.sample('drwatch_notifications_total{receiver="am",result="ok"}') >= 2, 10),
     "each receiver's delivery is counted as ok (Alertmanager's once per resend)")

# ---- resolved ----
value(1)
t.ok(wait_for(lambda: not am_alerts(), 30), "resolved: Alertmanager no longer lists it active")
t.ok(wait_for(lambda: len(mails()) >= 2, 20), "resolved: a second mail")
if len(mails()) >= 2:
    t.is_(parse_mail(mails()[1]).get("headers", {}).get("Subject"), "[RESOLVED] DemoHigh (x critical)",
          "its subject says RESOLVED")
t.ok(wait_for(lambda: len(teams_requests(LEGACY)) >= 2 and len(teams_requests(FLOW)) >= 2, 20),
     "resolved: both Teams receivers hear it")
res = teams_requests(LEGACY)
t.ok(len(res) >= 2 and json.loads(res[-1]["body"]).get("themeColor") == "2DC72D",
     "the resolved MessageCard is green")

log = dw.log()
metrics = http("GET", dw.url + "/metrics")[2].decode()
t.ok("0a1b2c3d4e5f" not in log + metrics and SIG not in log + metrics and
     "sm7p-s3cret" not in log + metrics, "no webhook URL or SMTP password in the log or /metrics")
dw.stop_clean(t)
t.done()
