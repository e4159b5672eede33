#!/usr/bin/env python3
"""A rule's transition request reaches the switchover part and is judged there: a drwatch in
GoldDR with a switchover section and automation on, in active-passive (its ConfigMap says so,
through the textfile collector), and a rule file whose rule asks for golddr-primary at every
evaluation. The switchover part refuses it with the evidence's reason (the automatic failover's
evidence is not complete: nothing shows Gold down), counts it in
drwatch_transition_requests_total{source="automation",result="refused"}, journals the refusal
and starts nothing (no actuator exists yet, and nothing may run). A second true rule is
suppressed and never reaches switchover. Without a switchover section (after a reload) the
request is logged once and ignored."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import Drwatch, Tap, tmpdir, wait_for  # noqa: E402

t = Tap()
d = tmpdir()
textdir = os.path.join(d, "text")
swdir = os.path.join(d, "switchover")
os.mkdir(textdir)
os.mkdir(swdir)
with open(os.path.join(textdir, "state.prom"), "w") as f:
    f.write('drwatch_configmap_state_info{site="golddr",last_stable_state="active-passive"} 1\n')
rules = os.path.join(d, "ask.lua")
with open(rules, "w") as f:
    f.write('transition("AskAlways", {\n'
            '  to = "golddr-primary",\n'
            '  when = function() return true end,\n'
            '  reason = "the integration test asks",\n'
            '  evidence = function() return { asked = true } end,\n'
            '})\n'
            'transition("AlsoAsks", {\n'
            '  to = "active-passive", when = function() return true end, reason = "second",\n'
            '})\n')
RULES = '''drwatch = { site = "golddr", interval = "1s", fast_interval = "1s" }
textfile = { directory = "%s", interval = "1s" }
rules = { files = { "%s" }, evaluation_interval = "1s" }
''' % (textdir, rules)
SWITCHOVER = 'switchover = { data_dir = "%s", automation = true }\n' % swdir
dw = Drwatch(RULES + SWITCHOVER).start()

REFUSED = ('drwatch_transition_requests_total{result="refused",source="automation",'
           'to="golddr-primary"}')
t.ok(wait_for(lambda: dw.sample('drwatch_state{state="active-passive"}') == 1, 15),
     "the switchover part is in active-passive (the ConfigMap's label)")
t.is_(dw.sample("drwatch_automation_enabled"), 1.0, "with automation on")
t.ok(wait_for(lambda: (dw.sample(REFUSED) or 0) >= 2, 15),
     "the rule's request is judged by the switchover part and refused, at every evaluation")
t.ok(wait_for(lambda: "the evidence is not complete" in dw.log()),
     "refused with the evidence's reason")
log = dw.log()
t.ok("refused active-passive -> golddr-primary (automation): the evidence is not complete: "
     in log, "the switchover part logs the refusal, naming the missing check")
line = [ln for ln in log.splitlines()
        if "rule AskAlways: the integration test asks (evidence: asked=true), asking for "
           "golddr-primary: refused: the evidence is not complete" in ln]
t.is_(len(line), 1, "the rule's side (its name, reason and evidence) is logged once while it "
                    "repeats")
m = dw.metrics()
t.ok(m.get('drwatch_rule_transition_requests_total{file="%s",rule="AskAlways",'
           'to="golddr-primary"}' % rules, 0) >= 2,
     "drwatch_rule_transition_requests_total counts the rule's requests")
t.ok(m.get('drwatch_rule_transition_suppressed_total{file="%s",rule="AlsoAsks",'
           'to="active-passive"}' % rules, 0) >= 2,
     "the second true rule is counted as suppressed")
t.is_([k for k, v in m.items() if k.startswith("drwatch_transition_requests_total") and v > 0
       and (REFUSED not in k)], [],
      "and nothing but the refused automation request reached switchover")
t.is_(m.get("drwatch_transition_in_progress"), 0.0, "no plan runs")
t.is_(sum(v for k, v in m.items() if k.startswith("drwatch_action_steps_total")), 0.0,
      "no step ran")
with open(os.path.join(swdir, "switchover.journal"), "rb") as f:
    journal = f.read()
t.ok(b'"kind": "refused"' in journal or b'"kind":"refused"' in journal,
     "the refusal is journaled")
t.ok(b"the evidence is not complete" in journal, "with its reason")

# Without a switchover section the request has nobody to go to: logged once, ignored.
dw.write_config(RULES)
status, _, body = dw.reload()
t.is_(status, 200, "a reload drops the switchover section")
before = dw.metrics().get('drwatch_rule_transition_requests_total{file="%s",rule="AskAlways",'
                          'to="golddr-primary"}' % rules, 0)
t.ok(wait_for(lambda: dw.metrics().get('drwatch_rule_transition_requests_total{file="%s",'
                                       'rule="AskAlways",to="golddr-primary"}' % rules, 0)
              >= before + 2, 15),
     "the rule keeps asking")
ignored = [ln for ln in dw.log().splitlines() if "there is no switchover section: ignored" in ln]
t.is_(len(ignored), 1, "without a switchover part the request is logged once and ignored")
t.ok(not any(k.startswith("drwatch_transition_requests_total") for k in dw.metrics()),
     "and no switchover metrics are left")
dw.stop_clean(t)
t.done()
