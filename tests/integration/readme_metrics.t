#!/usr/bin/env python3
"""Every metric family drwatch emits is listed in the README with its HELP, word for word.

Where the HELP comes from (never from the README): (1) the golden files tests/data/**/*.prom and
tests/data/**/*.golden, the exact renderings of the collectors' output that the unit tests
compare against; (2) a live drwatch's /metrics, set up so that the families only a running
daemon has appear: self (build, config, snapshot, HTTP, process_*), drwatch_collector_* (with a
bad textfile, so errors_total too), textfile, gslb (a fake resolver and a dead /health probe),
peer_listen (a client fetches the view), the alert manager (a rule that always fires, a webhook
receiver) and the rules engine (plus a rule that always fails, and transition rules that ask,
are suppressed and fail: the switchover part refuses the request); (3) only for the families in
FROM_SOURCE, which need conditions this test does not set up, the string literal in the C
source (each entry says why). A family seen with two different HELP texts fails.

The rule for a README metric row, in the tables headed "| Metric | Type | HELP |" of README.md
and rules/README.md (where README.md sends the rules engine's metrics):
- the first cell holds exactly one `name{labels}` (one family per row);
- the third cell, Markdown backslash escapes undone (`\\|` is |, `\\<` is <), is the family's HELP
  with the text format's escapes undone (\\\\ and \\n), exactly; or that HELP followed by
  " — " and a note, for what the README adds (the note is not checked);
- no runtime suffix is left out: the endings some HELPs carry (" Collected every interval.",
  " Sampled every gslb interval (default drwatch.fast_interval, 5s).", ...) are compile-time
  literals (the EVERY / INTERVAL_NOTE macros of collectors/*.c), the same in every run
  whatever the config, so they are part of the HELP the README must show.
And each drwatch_* or process_* family drwatch emits (from (1) and (2)) must have a row; a row
whose family none of (1)-(3) shows fails too, as it cannot be checked. One TAP line per row
and per problem; a mismatch prints the name, the README text and the HELP."""
import glob
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fakes"))
from drwatch_test import (ROOT, Drwatch, Tap, free_port, peer_fetch, readme_rows,  # noqa: E402
                          start_fake, tmpdir, wait_for)
from gslb_fake import make_ca, make_cert  # noqa: E402

READMES = [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "rules", "README.md")]
PREFIX = re.compile(r"^(?:drwatch|process)_")
NOTE = " — "

# Families whose HELP is read from the C source: {name: why no golden or live output has it}.
FROM_SOURCE = {
    "drwatch_postgres_slot_safe_wal_size_bytes":
        "needs a PostgreSQL 13+ with max_slot_wal_keep_size set (the postgres goldens have none)",
    "drwatch_configmap_last_change_timestamp_seconds":
        "appears only once drwatch has seen the ConfigMap change (the goldens are single scrapes)",
    "drwatch_transition_info":
        "appears only while a plan runs (the live drwatch runs none)",
    "drwatch_transition_duration_seconds":
        "appears only once a run has finished (the live drwatch runs none)",
    "drwatch_transition_milestone_seconds":
        "appears only once a transition has run (the live drwatch runs none)",
    "drwatch_transition_requested_timestamp_seconds":
        "appears only once a transition has run (the live drwatch runs none)",
    "drwatch_transition_rpo_bytes":
        "appears only once this site promoted (the live drwatch runs none)",
    "drwatch_transition_rpo_seconds":
        "appears only once this site promoted (the live drwatch runs none)",
    "drwatch_action_step_duration_seconds":
        "appears only once a step has run (the live drwatch runs none)",
    "drwatch_switchover_configmap_watch_up":
        "needs a switchover section with a Kubernetes API (the live drwatch has none)",
    "drwatch_leader_changes_total":
        "appears only with leader_election enabled (leader_election.t runs two replicas)",
    "drwatch_leader_lease_errors_total":
        "appears only with leader_election enabled (leader_election.t runs two replicas)",
    "drwatch_maintenance_on":
        "needs a switchover section with a Kubernetes API holding Keycloak's Service (the live "
        "drwatch has none)",
    "drwatch_switchover_configmap_errors_total":
        "needs a Kubernetes API whose ConfigMap calls fail (switchover_configmap.t has one)",
}
SOURCE_DIRS = ("collectors", "exporter", "alerts", "rules", "switchover")

# The families the live drwatch must show before its /metrics is taken (they need an event).
LIVE_EVENTS = ("drwatch_collector_errors_total", "drwatch_notifications_total",
               "drwatch_notification_latency_seconds",
               "drwatch_peer_listener_last_served_timestamp_seconds",
               "drwatch_rule_failures_total", "drwatch_alert",
               "drwatch_rule_transition_failures_total")


# ------------------------------------------------------------------------------------------
# The README side.

# ------------------------------------------------------------------------------------------
# The HELP side: {name: {help text: [where]}}.

def help_unescape(text):
    return re.sub(r"\\(\\|n)", lambda m: "\\" if m.group(1) == "\\" else "\n", text)


def add_help(out, text, where):
    for m in re.finditer(r"^# HELP (\S+) ?(.*)$", text, re.M):
        if PREFIX.match(m.group(1)):
            out.setdefault(m.group(1), {}).setdefault(help_unescape(m.group(2)), []).append(where)


def golden_help(out):
    data = os.path.join(ROOT, "tests", "data")
    paths = sorted(glob.glob(os.path.join(data, "**", "*.prom"), recursive=True) +
                   glob.glob(os.path.join(data, "**", "*.golden"), recursive=True))
    for path in paths:
        with open(path, errors="replace") as f:
            add_help(out, f.read(), os.path.relpath(path, ROOT))
    return len(paths)


def live_metrics():
    """The /metrics body of a drwatch that shows every family a running daemon has."""
    d = tmpdir()
    ca = make_ca(d, "ca")
    server = make_cert(d, "gold", ca, san=["DNS:drwatch.gold.test", "IP:127.0.0.1"])
    client = make_cert(d, "golddr", ca, san=["DNS:drwatch.golddr.test"])
    resolver = start_fake("dns_fake.py", os.path.join(d, "dns.log"))
    webhook = start_fake("webhook_fake.py", os.path.join(d, "webhook.log"))
    textdir = os.path.join(d, "textfile")
    os.mkdir(textdir)
    for path in glob.glob(os.path.join(ROOT, "examples", "textfile", "*.prom")):
        with open(path) as src, open(os.path.join(textdir, os.path.basename(path)), "w") as dst:
            dst.write(src.read())
    with open(os.path.join(textdir, "bad.prom"), "w") as f:
        f.write("this is not the text format\n")
    with open(os.path.join(d, "rules.lua"), "w") as f:
        f.write('alert("ReadmeAlwaysFiring", {\n'
                '  expr = function() return series("drwatch_build_info") end,\n'
                '})\n'
                'alert("ReadmeAlwaysFailing", {\n'
                '  expr = function() error("fails on purpose") end,\n'
                '})\n'
                'transition("ReadmeAsks", { to = "golddr-primary", reason = "readme",\n'
                '  when = function() return true end })\n'
                'transition("ReadmeAlsoAsks", { to = "golddr-primary", reason = "readme",\n'
                '  when = function() return true end })\n'
                'transition("ReadmeFailing", { to = "golddr-primary", reason = "readme",\n'
                '  when = function() error("fails on purpose") end })\n')
    listen = free_port()
    config = """
drwatch = { site = "gold", interval = "1s", fast_interval = "1s" }
textfile = { directory = "%(text)s", interval = "1s" }
gslb = { name = "x.a1.test", sites = { gold = { "10.0.0.1" }, golddr = { "10.0.0.2" } },
         resolvers = { "127.0.0.1:%(resolver)d" }, timeout = "200ms",
         probes = { { site = "gold", url = "https://127.0.0.1:%(dead)d/health",
                      insecure_skip_verify = true, timeout = "200ms" } } }
peer_listen = { address = "127.0.0.1:%(listen)d", cert_file = "%(cert)s", key_file = "%(key)s",
                client_ca_file = "%(ca)s", allowed_clients = { "drwatch.golddr.test" } }
rules = { files = { "%(d)s/rules.lua" }, evaluation_interval = "1s" }
switchover = { data_dir = "%(d)s" }
alerting = {
  data_dir = "%(d)s/alerting",
  receivers = { { name = "hook", webhook = { url = "http://127.0.0.1:%(webhook)d/hook" } } },
  route = { receiver = "hook", group_wait = "0s", group_interval = "1s" },
}
""" % {"text": textdir, "resolver": resolver, "dead": free_port(), "listen": listen,
       "cert": server[0], "key": server[1], "ca": ca[0], "d": d, "webhook": webhook}
    dw = Drwatch(config, name="readme").start()
    wait_for(lambda: (peer_fetch(listen, ca[0], client) or (0,))[0] == 200, timeout=15)

    def body():
        text = dw.get("/metrics")[2].decode()
        seen = set(re.findall(r"^# HELP (\S+)", text, re.M))
        return text if all(name in seen for name in LIVE_EVENTS) else None

    text = wait_for(body, timeout=30, step=0.2)
    if text is None:
        text = dw.get("/metrics")[2].decode()
        seen = set(re.findall(r"^# HELP (\S+)", text, re.M))
        raise RuntimeError("the live drwatch never showed %s; log:\n%s" % (
            ", ".join(n for n in LIVE_EVENTS if n not in seen), dw.log()[-3000:]))
    dw.stop()
    return text


def c_literal(name):
    """The HELP of name from the C source: in the statement or initializer after the literal
    "name", the last argument made only of adjacent string literals. None if not found."""
    pattern = re.compile(r'"%s"\s*,(?P<rest>(?:"(?:[^"\\]|\\.)*"|[^;{}"])*)' % re.escape(name))
    for d in SOURCE_DIRS:
        for path in sorted(glob.glob(os.path.join(ROOT, d, "*.c"))):
            with open(path, errors="replace") as f:
                m = pattern.search(f.read())
            if not m:
                continue
            args = re.findall(r'(?:\s*"(?:[^"\\]|\\.)*")+\s*(?=,|\)|$)|[^,"]+(?=,|\)|$)',
                              m.group("rest").rstrip(") \n\t"))
            helps = [a for a in args if a.strip().startswith('"')]
            if not helps:
                return None
            parts = re.findall(r'"((?:[^"\\]|\\.)*)"', helps[-1])
            text = "".join(parts)
            return re.sub(r'\\(["\\])', r"\1", text), os.path.relpath(path, ROOT)
    return None


# ------------------------------------------------------------------------------------------

def check(t, rows, helps, emitted):
    documented = {}
    for path, n, names, kind, desc in rows:
        where = "%s:%d" % (path, n)
        ok = t.ok
        if len(names) != 1:
            ok(False, "%s: one metric per row (this one has %s)" % (where, ", ".join(names)))
            continue
        name = names[0]
        if name in documented:
            ok(False, "%s: %s has a row already, at %s" % (where, name, documented[name]))
            continue
        documented[name] = where
        texts = helps.get(name)
        if not texts:
            ok(False, "%s: %s: no golden file, live /metrics or FROM_SOURCE entry shows its "
                      "HELP" % (where, name))
            continue
        if len(texts) > 1:
            ok(False, "%s: drwatch gives %s two different HELPs" % (where, name))
            for text, seen in texts.items():
                t.diag("  %s (%s)" % (text, ", ".join(seen[:3])))
            continue
        help_text = next(iter(texts))
        good = desc == help_text or (desc.startswith(help_text + NOTE) and
                                     desc[len(help_text + NOTE):].strip())
        if not ok(good, "%s: %s: the description is its HELP" % (where, name)):
            t.diag("  README: %s" % desc)
            t.diag("  HELP:   %s" % help_text)
            t.diag("  (from %s)" % ", ".join(next(iter(texts.values()))[:2]))
    for name in sorted(emitted):
        if name not in documented:
            t.ok(False, "%s (HELP: %s) has no README row" % (name, next(iter(helps[name]))))
    t.ok(not set(emitted) - set(documented),
         "all %d drwatch_/process_ families drwatch emits have a README row" % len(emitted))
    for name in sorted(FROM_SOURCE):
        t.ok(name not in emitted, "%s: still needs FROM_SOURCE (%s)" % (name, FROM_SOURCE[name]))


def gather_help():
    """({name: {help: [where]}}, set of names emitted by goldens or live), and a summary."""
    helps = {}
    files = golden_help(helps)
    golden = len(helps)
    add_help(helps, live_metrics(), "live /metrics")
    emitted = set(helps)
    for name in FROM_SOURCE:
        found = c_literal(name)
        if found and name not in helps:
            helps[name] = {found[0]: [found[1]]}
    summary = ("%d families from %d golden files, %d more from a live drwatch, %d from the C "
               "source" % (golden, files, len(emitted) - golden, len(set(helps) - emitted)))
    return helps, emitted, summary


def main():
    t = Tap()
    helps, emitted, summary = gather_help()
    t.diag(summary)
    for name in FROM_SOURCE:
        t.ok(name in helps, "%s: HELP found in the C source" % name)
    check(t, readme_rows(READMES), helps, emitted)
    t.done()


if __name__ == "__main__":
    main()
