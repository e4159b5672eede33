#!/usr/bin/env python3
"""The Grafana dashboards in dashboards/ against a real Prometheus scraping two real drwatch
instances (gold and golddr, peered over mTLS) fed by the fakes: (a) every dashboard is JSON
with what Grafana needs to import it (uid, title, a prometheus `datasource` variable, panels
with gridPos inside the 24-column grid and not overlapping, unique ids, known panel types and
units, a description, targets with expr and a unique refId, only defined template variables);
(b) every PromQL expression (panel targets and variable queries), with the template variables
replaced by a concrete value and by their "All" value, is accepted by Prometheus' query API;
(c) every metric name the expressions use is one drwatch documents (the metric tables of
README.md and rules/README.md), so a typo fails here; (d) every expression returns data
(the setup feeds every collector: the fakes, a real PostgreSQL primary and its streaming
standby, the shipped rules and a failing one, a webhook receiver); and the key panels show
what the setup is (one writable primary, gold answering, one data plane unseen...)."""
import glob
import json
import os
import pwd
import re
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from drwatch_test import (ROOT, Drwatch, Prometheus, Tap, free_port, http, readme_rows,  # noqa: E402
                          spawn, tmpdir, wait_for)
import fakebase  # noqa: E402
import gslb_fake  # noqa: E402

t = Tap()
T0 = time.time()
FAKES = os.path.join(ROOT, "tests", "fakes")

# Metrics this setup cannot produce, and why: (d) accepts their absence and nothing else's.
# {"drwatch_x_": "why"}. The switchover's need a switchover section and transitions: the
# switchover timeline dashboard is checked for data against the two-site lab's Prometheus
# after three drills (lab_drill.t).
SWITCHOVER = "needs a switchover section and transitions (lab_drill.t checks them in the lab)"
ABSENT_PREFIXES = {p: SWITCHOVER for p in (
    "drwatch_state", "drwatch_transition_", "drwatch_action_", "drwatch_automation_")}

# ------------------------------------------------------------------------------------------
# The documented metrics: the tables headed "| Metric | Type | HELP |".


def documented_metrics(paths):
    """{name: type} from every metric table of the given Markdown files."""
    return {name: kind for _, _, names, kind, _ in readme_rows(paths) for name in names
            if re.match(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", name)}


def allowed_names(doc):
    """The documented names plus the series names a histogram family has."""
    names = set(doc)
    for name, kind in doc.items():
        if "histogram" in kind:
            names.update(name + s for s in ("_bucket", "_sum", "_count"))
    return names


# ------------------------------------------------------------------------------------------
# PromQL: the metric names an expression selects (enough of the grammar for dashboards).

KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "offset", "bool", "inf", "nan", "Inf", "NaN", "atan2"}
TOKEN = re.compile(r"(?P<num>0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[a-zA-Z]*)"
                   r"|(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)")


def metric_names(expr):
    names = set(re.findall(r'__name__\s*=\s*"([^"]+)"', expr))
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    for m in TOKEN.finditer(s):
        tok = m.group("name")
        if not tok or tok in KEYWORDS:
            continue
        if s[m.end():].lstrip().startswith("("):
            continue  # a function or an aggregation
        names.add(tok)
    return names


# ------------------------------------------------------------------------------------------
# Grafana template variables.

BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__interval_ms": "15000",
            "__range": "1h", "__range_s": "3600", "__range_ms": "3600000"}
VAR_REF = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)(?::\w+)?\]\]|\$(\w+)")


def regex_escape(v):
    """As Grafana's Prometheus data source escapes a value inside a PromQL string."""
    return re.sub(r"([\\^$*+?.()|{}\[\]])", r"\\\\\1", v)


def substitute(expr, values):
    """values: {var: value already formatted}; unknown names are left as they are."""
    def rep(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in BUILTINS:
            return BUILTINS[name]
        return values.get(name, m.group(0))
    return VAR_REF.sub(rep, expr)


def referenced_vars(expr):
    return {m.group(1) or m.group(2) or m.group(3) for m in VAR_REF.finditer(expr)}


# ------------------------------------------------------------------------------------------
# (a) The dashboard files.

PANEL_TYPES = {"row", "stat", "timeseries", "state-timeline", "table", "bargauge", "gauge",
               "text", "barchart", "piechart", "status-history", "heatmap"}
UNITS = {"s", "ms", "bytes", "percentunit", "percent", "reqps", "ops", "short", "none",
         "dateTimeFromNow", "dateTimeAsIso", "dtdurations"}
DS = {"type": "prometheus", "uid": "${datasource}"}


def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels") or [])


def units_of(p):
    fc = p.get("fieldConfig") or {}
    if "unit" in (fc.get("defaults") or {}):
        yield fc["defaults"]["unit"]
    for o in fc.get("overrides") or []:
        for prop in o.get("properties") or []:
            if prop.get("id") == "unit":
                yield prop.get("value")


def check_dashboard(path, d):
    """Returns a list of problems; empty when Grafana can import it as we mean it."""
    bad = []
    for key in ("uid", "title"):
        if not isinstance(d.get(key), str) or not d[key]:
            bad.append("no %s" % key)
    if isinstance(d.get("uid"), str) and not re.match(r"^[A-Za-z0-9_-]{1,40}$", d["uid"]):
        bad.append("uid %r is not 1-40 of [A-Za-z0-9_-]" % d["uid"])
    if d.get("id") is not None:
        bad.append("id must be null (Grafana assigns it on import)")
    if not isinstance(d.get("schemaVersion"), int) or d["schemaVersion"] < 36:
        bad.append("schemaVersion %r (want an int >= 36)" % d.get("schemaVersion"))
    variables = (d.get("templating") or {}).get("list") or []
    vnames = [v.get("name") for v in variables]
    if len(set(vnames)) != len(vnames):
        bad.append("duplicate template variables %s" % vnames)
    dsv = [v for v in variables if v.get("name") == "datasource"]
    if not dsv or dsv[0].get("type") != "datasource" or dsv[0].get("query") != "prometheus":
        bad.append("no `datasource` template variable of type datasource, query prometheus")
    for v in variables:
        if v.get("type") == "query" and v.get("datasource") != DS:
            bad.append("variable %s does not use ${datasource}" % v.get("name"))
    panels = d.get("panels")
    if not isinstance(panels, list) or not panels:
        return bad + ["no panels"]
    ids = []
    for p in all_panels(panels):
        what = "panel %r" % p.get("title")
        ids.append(p.get("id"))
        if not isinstance(p.get("id"), int):
            bad.append("%s: id %r is not an int" % (what, p.get("id")))
        if p.get("type") not in PANEL_TYPES:
            bad.append("%s: unknown type %r" % (what, p.get("type")))
        if not p.get("title"):
            bad.append("panel %r has no title" % p.get("id"))
        g = p.get("gridPos")
        if not isinstance(g, dict) or not all(isinstance(g.get(k), int) for k in "hwxy"):
            bad.append("%s: gridPos %r needs integer h, w, x, y" % (what, g))
        elif not (g["w"] >= 1 and g["h"] >= 1 and g["x"] >= 0 and g["y"] >= 0
                  and g["x"] + g["w"] <= 24):
            bad.append("%s: gridPos %r is outside the 24-column grid" % (what, g))
        if p.get("type") == "row":
            if p.get("targets"):
                bad.append("%s: a row with targets" % what)
            continue
        if not p.get("description"):
            bad.append("%s: no description" % what)
        if p.get("datasource") != DS:
            bad.append("%s: datasource %r is not ${datasource}" % (what, p.get("datasource")))
        for u in units_of(p):
            if u not in UNITS:
                bad.append("%s: unit %r is not one this test knows" % (what, u))
        targets = p.get("targets")
        if not isinstance(targets, list) or not targets:
            bad.append("%s: no targets" % what)
            continue
        refs = [tg.get("refId") for tg in targets]
        if len(set(refs)) != len(refs) or not all(isinstance(r, str) and r for r in refs):
            bad.append("%s: refIds %r are not unique non-empty strings" % (what, refs))
        for tg in targets:
            if not isinstance(tg.get("expr"), str) or not tg["expr"].strip():
                bad.append("%s: target %s has no expr" % (what, tg.get("refId")))
                continue
            if tg.get("datasource") not in (None, DS):
                bad.append("%s: target %s datasource %r" % (what, tg.get("refId"),
                                                            tg.get("datasource")))
            unknown = referenced_vars(tg["expr"]) - set(vnames) - set(BUILTINS)
            if unknown:
                bad.append("%s: undefined variables %s" % (what, sorted(unknown)))
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        bad.append("panel ids not unique: %s" % dup)
    # Top-level panels (and each collapsed row's) must not overlap.
    def overlaps(group):
        cells = {}
        for p in group:
            g = p.get("gridPos") or {}
            if not all(isinstance(g.get(k), int) for k in "hwxy"):
                continue
            for y in range(g["y"], g["y"] + g["h"]):
                for x in range(g["x"], g["x"] + g["w"]):
                    if (x, y) in cells:
                        bad.append("panels %r and %r overlap at x=%d y=%d"
                                   % (cells[(x, y)], p.get("title"), x, y))
                        return
                    cells[(x, y)] = p.get("title")
    overlaps(panels)
    for p in panels:
        if p.get("type") == "row" and p.get("panels"):
            overlaps(p["panels"])
    return bad


def queries(d):
    """[(where, expr)]: every panel target, and the selector of every label_values() query."""
    out = []
    for p in all_panels(d["panels"]):
        for tg in p.get("targets") or []:
            if isinstance(tg.get("expr"), str):
                out.append(("%s/%s" % (p.get("title"), tg.get("refId")), tg["expr"]))
    for v in (d.get("templating") or {}).get("list") or []:
        if v.get("type") != "query":
            continue
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.match(r"^\s*label_values\((.*),\s*\w+\s*\)\s*$", q or "", re.S)
        if m:
            out.append(("variable $%s" % v["name"], m.group(1)))
        elif re.match(r"^\s*query_result\((.*)\)\s*$", q or "", re.S):
            out.append(("variable $%s" % v["name"], q.strip()[len("query_result("):-1]))
    return out


def variable_values(d, concrete):
    """{var: value as Grafana would put it into a PromQL string}: the All value, or
    concrete[var] formatted as a one-element multi-value selection."""
    out = {}
    for v in (d.get("templating") or {}).get("list") or []:
        name = v.get("name")
        if name == "datasource":
            continue
        if concrete is None and v.get("includeAll"):
            out[name] = v.get("allValue") or ".*"
        else:
            val = (concrete or {}).get(name, "x")
            val = regex_escape(val)
            out[name] = "(%s)" % val if v.get("multi") or v.get("includeAll") else val
    return out


# ---- the files ----
paths = sorted(glob.glob(os.path.join(ROOT, "dashboards", "*.json")))
t.ok(len(paths) >= 2, "dashboards/ has the dashboards (%s)"
     % ", ".join(os.path.basename(p) for p in paths))
boards = {}
for path in paths:
    name = os.path.basename(path)
    try:
        with open(path) as f:
            board = json.load(f)
    except ValueError as e:
        t.ok(False, "%s is valid JSON" % name)
        t.diag(str(e))
        continue
    t.ok(isinstance(board, dict), "%s is valid JSON (an object)" % name)
    problems = check_dashboard(path, board)
    t.ok(not problems, "%s has what Grafana needs (%d panels)"
         % (name, sum(1 for _ in all_panels(board.get("panels") or []))))
    for p in problems[:40]:
        t.diag(p)
    if not problems:
        boards[name] = board
uids = [board["uid"] for board in boards.values()]
t.ok(len(set(uids)) == len(uids), "dashboard uids are unique (%s)" % ", ".join(uids))

# ---- (c) metric names ----
doc = documented_metrics([os.path.join(ROOT, "README.md"),
                          os.path.join(ROOT, "rules", "README.md")])
allowed = allowed_names(doc)
t.ok(len(doc) > 150 and "drwatch_collector_up" in doc and "drwatch_alert" in doc,
     "the metric tables of README.md and rules/README.md parse (%d metrics)" % len(doc))
# The checker itself: a typo is caught, the grammar's other words are not taken for names.
probe = ('sum by (site, le) (rate(drwatch_colector_errors_total{reason="a b",x=~"$y|"}'
         '[$__rate_interval] offset 5m)) * on (instance) group_left (version) '
         'drwatch_build_info > bool 1e3 or vector(0) and histogram_quantile(0.9, '
         'drwatch_tekton_pipelinerun_duration_seconds_bucket)')
got = metric_names(probe)
t.is_(sorted(got), ["drwatch_build_info", "drwatch_colector_errors_total",
                    "drwatch_tekton_pipelinerun_duration_seconds_bucket"],
      "the name checker finds exactly the metric names of an expression")
t.is_(sorted(got - allowed), ["drwatch_colector_errors_total"],
      "the name checker refuses a misspelt metric and accepts a histogram's _bucket")
for name, board in boards.items():
    unknown = ["%s: %s" % (where, n) for where, expr in queries(board)
               for n in sorted(metric_names(substitute(expr, variable_values(board, None)))
                               - allowed)]
    t.ok(not unknown, "%s uses only metrics drwatch documents" % name)
    for u in unknown:
        t.diag("undocumented metric in " + u)

# ------------------------------------------------------------------------------------------
# The setup: fakes, two drwatch instances peered over mTLS, Prometheus scraping both.

work = tmpdir()

# PostgreSQL: a primary for gold and a streaming standby of it for golddr (pg_basebackup -R),
# each in its own session through tests/lib/pg_start.sh, which stops the server on SIGTERM.
PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))[-1]
AS_PG = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]
pg = {}


def pg_start(site):
    port = free_port()
    log = os.path.join(work, "pg-%s.log" % site)
    proc = spawn(["sh", os.path.join(ROOT, "tests", "lib", "pg_start.sh"),
                  os.path.join(work, "pg-" + site), str(port)], log)
    pg[site] = (port, log, proc)


os.chmod(work, 0o755)  # the postgres user walks into it
pg_start("gold")


def fake(script, *args):
    port = free_port()
    log = os.path.join(work, "%s-%d.log" % (script, port))
    spawn([sys.executable, os.path.join(FAKES, script), str(port)] + list(args), log)
    return port, log


ca = gslb_fake.make_ca(work, "ca")
certs = {s: gslb_fake.make_cert(work, s, ca, san=["DNS:drwatch.%s.test" % s, "IP:127.0.0.1"])
         for s in ("gold", "golddr")}
dns_port, dns_log = fake("dns_fake.py")
health = {s: fake("gslb_fake.py", certs["gold"][0], certs["gold"][1]) for s in ("gold", "golddr")}
kong = {"kong-cp-gold": fake("kong_fake.py", "--version", "3.9.1", "--role", "control_plane"),
        "kong-dp-gold": fake("kong_fake.py", "--version", "3.9.1", "--role", "data_plane",
                             "--listener", "status"),
        "kong-golddr": fake("kong_fake.py", "--version", "2.8.4")}
fluentd = fake("fluentd_fake.py", "--version", "1.19.2")
webhook = fake("http_fake.py")  # the alert manager's webhook receiver: POST /echo answers 200
k8s = fake("k8s_fake.py")
patroni = {"gold": fake("patroni_fake.py", "--role", "primary", "--scope", "pg-gold",
                        "--name", "pg-gold-0"),
           "golddr": fake("patroni_fake.py", "--role", "standby_leader", "--scope", "pg-golddr",
                          "--name", "pg-golddr-0")}
dead_port = free_port()  # a FluentD nobody runs: a target down, an error reason, an alert
textdir = os.path.join(work, "textfile")
os.mkdir(textdir)
with open(os.path.join(textdir, "drill.prom"), "w") as f:
    f.write("# HELP dr_drill_success 1 if the last DR drill passed.\n"
            "# TYPE dr_drill_success gauge\ndr_drill_success 1\n")
with open(os.path.join(work, "broken.lua"), "w") as f:  # drwatch_rule_failures_total
    f.write('alert("DashboardsTestBroken", { expr = function() error("on purpose") end })\n')



def pg_ready(site):
    with open(pg[site][1]) as f:
        return "ready" in f.read()


if wait_for(lambda: pg_ready("gold"), timeout=20):
    os.makedirs(os.path.join(work, "pg-golddr"))
    pw = pwd.getpwnam("postgres")
    os.chown(os.path.join(work, "pg-golddr"), pw.pw_uid, pw.pw_gid)
    bb = subprocess.run(AS_PG + [os.path.join(PG_BIN, "pg_basebackup"), "-h", "127.0.0.1",
                                 "-p", str(pg["gold"][0]), "-U", "postgres", "-D",
                                 os.path.join(work, "pg-golddr", "data"), "-R", "-X", "stream",
                                 "-c", "fast"], capture_output=True, timeout=30)
    if bb.returncode == 0:
        pg_start("golddr")
    else:
        t.diag(bb.stderr.decode(errors="replace"))
t.ok("golddr" in pg and wait_for(lambda: pg_ready("golddr"), timeout=20),
     "PostgreSQL: a primary (gold) and its streaming standby (golddr)")

URL = {k: "http://127.0.0.1:%d" % v[0] for k, v in
       list(kong.items()) + [("fluentd", fluentd), ("k8s", k8s)]
       + [("patroni-" + s, p) for s, p in patroni.items()]}
listen = {"gold": free_port(), "golddr": free_port()}
OTHER = {"gold": "golddr", "golddr": "gold"}


def common(site):
    return """
drwatch = { site = "%(site)s", interval = "1s", fast_interval = "1s" }
peer_listen = { address = "127.0.0.1:%(lp)d", cert_file = "%(cert)s", key_file = "%(key)s",
                client_ca_file = "%(ca)s", allowed_clients = { "drwatch.%(other)s.test" } }
peer = { targets = { { site = "%(other)s", url = "https://127.0.0.1:%(op)d", ca_file = "%(ca)s",
                       cert_file = "%(cert)s", key_file = "%(key)s" } } }
gslb = { name = "gslb.a1.test", sites = { gold = { "10.0.0.1" }, golddr = { "10.0.0.2" } },
         resolvers = { "127.0.0.1:%(dns)d" }, timeout = "300ms",
         probes = { { site = "gold", url = "https://127.0.0.1:%(hg)d/health", ca_file = "%(ca)s" },
                    { site = "golddr", url = "https://127.0.0.1:%(hd)d/health",
                      ca_file = "%(ca)s" } } }
""" % {"site": site, "other": OTHER[site], "lp": listen[site], "op": listen[OTHER[site]],
       "cert": certs[site][0], "key": certs[site][1], "ca": ca[0], "dns": dns_port,
       "hg": health["gold"][0], "hd": health["golddr"][0]}


gold_config = common("gold") + """
textfile = { directory = "%(text)s" }
kong = { targets = {
  { site = "gold", name = "kong-cp-gold", url = "%(kong-cp-gold)s", role = "control_plane" },
  { site = "gold", name = "kong-dp-gold", url = "%(kong-dp-gold)s", role = "data_plane" },
  { site = "golddr", name = "kong-golddr", url = "%(kong-golddr)s", role = "traditional" } } }
fluentd = { targets = {
  { site = "gold", name = "fluentd-gold", url = "%(fluentd)s" },
  { site = "golddr", name = "fluentd-golddr", url = "http://127.0.0.1:%(dead)d",
    timeout = "300ms" } } }
tekton = { targets = { { site = "gold", name = "k8s-gold", url = "%(k8s)s",
                         namespace = "ops-pipelines" } } }
configmap = { env = "dev", targets = {
  { site = "gold", name = "k8s-gold", url = "%(k8s)s", namespace = "ops" },
  { site = "golddr", name = "k8s-golddr", url = "%(k8s)s", namespace = "ops" } } }
patroni = { targets = {
  { site = "gold", name = "gold", url = "%(patroni-gold)s" },
  { site = "golddr", name = "golddr", url = "%(patroni-golddr)s" } } }
postgres = { targets = {
  { site = "gold", name = "pg-gold", host = "127.0.0.1", port = %(pg-gold)d, user = "postgres" },
  { site = "golddr", name = "pg-golddr", host = "127.0.0.1", port = %(pg-golddr)d,
    user = "postgres" } } }
rules = { files = { "%(root)s/rules/lua/*.lua", "%(broken)s" } }
alerting = {
  data_dir = "%(alerting)s",
  receivers = { { name = "hook", webhook = { url = "http://127.0.0.1:%(webhook)d/echo" } } },
  route = { receiver = "hook", group_wait = "1s", group_interval = "1s" },
}
""" % dict(URL, text=textdir, dead=dead_port, root=ROOT, broken=os.path.join(work, "broken.lua"),
           alerting=os.path.join(work, "alerting"), webhook=webhook[0],
           **{"pg-" + s: pg[s][0] if s in pg else 1 for s in ("gold", "golddr")})
golddr_config = common("golddr") + 'rules = { files = { "%s/rules/lua/*.lua" } }\n' % ROOT

fakes_ready = wait_for(lambda: all(
    "ready" in open(log).read() for _, log in
    [(0, dns_log), webhook] + list(health.values()) + list(patroni.values())) and all(
    http("GET", URL[k] + "/__fake/requests")[0] == 200
    for k in list(kong) + ["fluentd", "k8s"]), timeout=15)
t.ok(fakes_ready, "the fakes are up (DNS, two /health, three Kong nodes, FluentD, "
     "Kubernetes, two Patroni members, a webhook)")
# Kong traffic: the counters advance at every GET /metrics, so the per-site service figures
# (requests/s, 5xx ratio, latency quantiles) have something to show.
for node, traffic in (("kong-dp-gold", {"200": 100, "503": 5}), ("kong-golddr", {"200": 50})):
    fakebase.control(URL[node], "state", {"traffic": {"orders-api": {
        "codes": traffic, "latency_ms": {"30": sum(traffic.values())}}}})

dws = {"gold": Drwatch(gold_config, name="gold"), "golddr": Drwatch(golddr_config, name="golddr")}
prom = Prometheus([("drwatch-" + s, "127.0.0.1:%d" % dw.port) for s, dw in dws.items()])
prom.start()
for dw in dws.values():
    dw.start()
t.ok(True, "two drwatch instances and Prometheus started (%.1f s)" % (time.time() - T0))


def query(expr):
    """(status, result or error text) of an instant query."""
    q = urllib.parse.urlencode({"query": expr})
    status, _, body = http("GET", prom.url + "/api/v1/query?" + q)
    try:
        data = json.loads(body)
    except ValueError:
        return "bad_json", body[:200]
    if data.get("status") != "success":
        return data.get("status"), "%s: %s" % (data.get("errorType"), data.get("error"))
    return "success", data["data"]["result"]


# ---- (b) Prometheus accepts every expression ----
concrete = {"instance": "127.0.0.1:%d" % dws["gold"].port, "site": "gold",
            "service": "orders-api"}
for name, board in boards.items():
    for where, expr in queries(board):
        errs = []
        for values in (variable_values(board, concrete), variable_values(board, None)):
            e = substitute(expr, values)
            status, res = query(e)
            if status != "success":
                errs.append("%s\n  %s" % (e, res))
        t.ok(not errs, "%s: %s: Prometheus accepts the query" % (name, where))
        for e in errs:
            t.diag(e)

# ---- (d) data ----


def settled():
    """Both drwatch scraped a few times, the Kong summaries and the peer view are in."""
    for e in ('count_over_time(drwatch_build_info[1m]) >= 4',
              'drwatch_kong_service_request_duration_seconds{site="golddr"}',
              'drwatch_peer_rtt_seconds', 'drwatch_alert', 'drwatch_rule_failures_total',
              'drwatch_notification_latency_seconds_bucket'):
        status, res = query(e)
        if status != "success" or not res:
            return False
    status, res = query('count_over_time(drwatch_build_info[1m]) >= 4')
    return len(res) == 2


t.ok(wait_for(settled, timeout=20, step=0.5),
     "Prometheus has a few scrapes of both drwatch instances (%.1f s)" % (time.time() - T0))
status, _, body = http("GET", prom.url + "/api/v1/label/__name__/values")
present = set(json.loads(body)["data"])


def absent_reason(metric):
    for prefix, why in ABSENT_PREFIXES.items():
        if metric.startswith(prefix):
            return why
    return None


checked = skipped = 0
for name, board in boards.items():
    values = variable_values(board, None)
    for where, expr in queries(board):
        e = substitute(expr, values)
        missing = sorted(metric_names(e) - present)
        if missing:
            unexplained = [m for m in missing if not absent_reason(m)]
            t.ok(not unexplained, "%s: %s: not checked for data (%s)"
                 % (name, where, "; ".join(sorted({absent_reason(m) or "UNEXPLAINED"
                                                   for m in missing}))))
            for m in unexplained:
                t.diag("%s is documented but this setup does not export it" % m)
            skipped += 1
            continue
        res = wait_for(lambda: (lambda r: r[1] if r[0] == "success" and r[1] else None)(
            query(e)), timeout=5, step=0.5)
        t.ok(res, "%s: %s: returns data (%d series)" % (name, where, len(res or [])))
        if not res:
            t.diag(e)
        checked += 1
t.diag("%d queries returned data, %d not checked for data; %d metric names in Prometheus"
       % (checked, skipped, len(present)))
t.ok(checked >= 3 * skipped, "most queries are checked against data (%d of %d)"
     % (checked, checked + skipped))

# ---- what the key panels say about this setup: gold is the primary site, golddr a standby
# cluster streaming from it, the GSLB answers gold, both /health pages are up, one of Kong's
# two data planes is unseen and out of sync, FluentD golddr is down, a rule fails on purpose.


def panel_expr(board, title, ref):
    board = boards.get(board) or {"panels": []}
    for p in all_panels(board["panels"]):
        for tg in p.get("targets") or [] if p.get("title") == title else []:
            if tg.get("refId") == ref:
                return substitute(tg["expr"], variable_values(board, None))
    return None


def by(res, label):
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in res}


def values(res):
    return sorted(float(r["value"][1]) for r in res)


NOW_MS = time.time() * 1000
OV, SELF = "drwatch-dr-overview.json", "drwatch-self.json"
SEMANTICS = [
    (OV, "Two writable leaders?", "A", lambda r: values(r) == [1],
     "one writable primary across the sites (1)"),
    (OV, "GSLB answer per resolver", "A", lambda r: values(r) == [1, 1],
     "both drwatch instances see the GSLB answer gold (1)"),
    (OV, "GSLB answer class per resolver", "B", lambda r: values(r) == [1, 1],
     "each drwatch shows its peer's GSLB view: gold (1)"),
    (OV, "Site /health probes", "A", lambda r: values(r) == [1] * 4,
     "both sites' /health up as both drwatch probe them (1)"),
    (OV, "Site /health probes", "B", lambda r: values(r) == [1] * 4,
     "both sites' /health up as each peer probes them (1)"),
    (OV, "Peer link", "A", lambda r: values(r) == [1, 1], "the peer link is up both ways"),
    (OV, "Site role (Patroni)", "A", lambda r: by(r, "site") == {"gold": 1, "golddr": 2},
     "site roles: gold primary (1), golddr standby cluster (2)"),
    (OV, "Patroni leader", "A", lambda r: by(r, "site") == {"gold": 1, "golddr": 1},
     "both Patroni clusters have a leader"),
    (OV, "Worst replay lag vs RPO", "A", lambda r: len(r) == 1 and 0 <= values(r)[0] < 60,
     "the standby's replay lag is a number of seconds under the RPO"),
    (OV, "WAL receiver streaming", "A", lambda r: by(r, "site") == {"golddr": 1},
     "the golddr standby's WAL receiver streams (1); the primary has none"),
    (OV, "Replication lag (bytes)", "A",
     lambda r: list(by(r, "site")) == ["golddr"] and values(r)[0] >= 0,
     "receive lag in bytes is the golddr standby's"),
    (OV, "Requests/s per site", "A",
     lambda r: sorted(by(r, "site")) == ["gold", "golddr"] and min(values(r)) > 0,
     "Kong requests/s per site, both sites taking traffic"),
    (OV, "5xx ratio per service", "A",
     lambda r: 0.02 < by(r, "site")["gold"] < 0.08 and by(r, "site")["golddr"] == 0,
     "5xx ratio: gold about 5/105, golddr 0"),
    (OV, "p99 latency per service", "A", lambda r: all(0 < v <= 0.1 for v in values(r)),
     "p99 latency in seconds (the fakes observe 30 ms)"),
    (OV, "Data planes unseen > 5 min", "A", lambda r: values(r) == [1],
     "one data plane unseen for over 5 minutes"),
    (OV, "Data planes out of sync", "A", lambda r: values(r) == [1],
     "one data plane out of sync"),
    (OV, "Firing alerts", "A", lambda r: values(r)[0] >= 1, "firing alerts counted"),
    (OV, "Active alerts", "A",
     lambda r: any(x["metric"].get("alertname") == "DrwatchCollectorDown"
                   and x["metric"].get("alertstate") == "pending"
                   and abs(float(x["value"][1]) - NOW_MS) < 120000 for x in r),
     "active alerts: DrwatchCollectorDown pending, active since moments ago (ms)"),
    (OV, "Collector targets up", "A",
     lambda r: {x["metric"]["target"] for x in r if x["value"][1] == "0"} == {"fluentd-golddr"},
     "collector targets: only fluentd-golddr is down"),
    (OV, "Last run per pipeline", "A",
     lambda r: {x["metric"]["pipeline"]: (x["metric"]["status"], float(x["value"][1]))
                for x in r}.get("db-backup-verify") == ("False", 1718006400000.0),
     "last runs: db-backup-verify failed, started 2024-06-10T08:00:00Z (ms)"),
    (OV, "Switchover state (ConfigMap)", "A",
     lambda r: sorted((x["metric"]["site"], x["metric"]["last_stable_state"]) for x in r)
     == [("gold", "active-passive"), ("golddr", "active-passive")],
     "ConfigMap state: active-passive in both sites"),
    (SELF, "Last config load", "A", lambda r: values(r) == [1, 1],
     "both drwatch loaded their configuration"),
    (SELF, "Rule failures", "A",
     lambda r: any(x["metric"].get("alertname") == "DashboardsTestBroken" for x in r),
     "rule failures: the broken rule is shown"),
    (SELF, "HTTP non-200 share", "A", lambda r: all(0 <= v <= 1 for v in values(r)),
     "HTTP non-200 share is a ratio"),
    (SELF, "Notifications/s by receiver and result", "A",
     lambda r: any(x["metric"].get("receiver") == "hook" and x["metric"].get("result") == "ok"
                   for x in r), "notifications: the webhook receiver took them (result ok)"),
]
for board, title, ref, pred, what in SEMANTICS:
    if board not in boards:
        continue  # already failed (a)
    e = panel_expr(board, title, ref)
    status, res = query(e) if e else ("no such panel", None)
    try:
        good = status == "success" and bool(pred(res))
    except (KeyError, IndexError, ValueError):
        good = False
    t.ok(good, "%s: %s" % (title, what))
    if not good:
        t.diag("%s\n%s" % (e, json.dumps(res)[:1500]))

for dw in dws.values():
    dw.stop_clean(t)
for _, _, proc in pg.values():  # pg_start.sh stops its server on SIGTERM
    proc.terminate()
for _, _, proc in pg.values():
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass  # killed with its process group at exit
t.diag("%.1f s" % (time.time() - T0))
t.done()
