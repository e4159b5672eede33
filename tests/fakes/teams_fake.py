#!/usr/bin/env python3
"""A fake Microsoft Teams webhook endpoint, both kinds, answering as
/work/shared/reference/msteams.md says Teams does, and validating what it receives.

Usage: teams_fake.py PORT  (prints "ready" once listening)

Paths:
  POST /webhookb2/tenant@x/IncomingWebhook/0a1b2c3d4e5f/guid-1     legacy connector (MessageCard)
  POST /workflows/abc123/triggers/manual/paths/invoke             Workflows (Adaptive Card)
  GET  /validation      what the fake found wrong with each payload: [{"kind", "errors"}]

Legacy connector (msteams.md §2): malformed JSON -> 400 "Bad payload received by generic
incoming webhook."; neither summary nor text -> 400 "Summary or Text is required."; more
than 28 KB -> 200 with the "HTTP error 413" body; otherwise 200 "1".
Workflows (msteams.md §3): 202 with an empty body, whatever the payload (as the real trigger);
envelope problems are only recorded (a flow's run history), readable at /validation. More
than 28 KB is recorded too and answered 413 (what a client then sees is not documented).

State (POST /__fake/state): {"teams_error": 429, "teams_error_count": 1} makes the next
legacy answers 200 with "...returned HTTP error 429..." (any code). The failure modes of
fakebase.py apply as well (status, 429 with retry_after, hang, close, slow).
Only the Python standard library is used.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakebase  # noqa: E402

LEGACY = "/webhookb2/tenant@x/IncomingWebhook/0a1b2c3d4e5f/guid-1"
WORKFLOW = "/workflows/abc123/triggers/manual/paths/invoke"
LIMIT = 28 * 1024
COLORS = {"Default", "Dark", "Light", "Accent", "Good", "Warning", "Attention"}
ERROR_BODY = ("Webhook message delivery failed with error: Microsoft Teams endpoint returned "
              "HTTP error %d with ContextId tcid=0,server=fake,cv=x,MS-CV=x..")


def check_message_card(card):
    errors = []
    if not isinstance(card, dict):
        return ["the card is not an object"]
    kind = card.get("@type", card.get("type"))
    if kind != "MessageCard":
        errors.append("@type is %r, not MessageCard" % (kind,))
    if card.get("@context") != "http://schema.org/extensions":
        errors.append("@context is not http://schema.org/extensions")
    for k in ("summary", "title", "text"):
        if k in card and not isinstance(card[k], str):
            errors.append("%s is not a string" % k)
    color = card.get("themeColor")
    if color is not None and not re.fullmatch(r"[0-9A-Fa-f]{6}", str(color)):
        errors.append("themeColor %r is not hex without #" % (color,))
    sections = card.get("sections", [])
    if not isinstance(sections, list):
        errors.append("sections is not a list")
        sections = []
    if len(sections) > 10:
        errors.append("%d sections: Teams shows at most 10" % len(sections))
    for i, s in enumerate(sections):
        for f in s.get("facts", []):
            if set(f) != {"name", "value"} or not all(isinstance(v, str) for v in f.values()):
                errors.append("section %d: a fact is not {name, value} strings" % i)
    for a in card.get("potentialAction", []):
        if a.get("@type") != "OpenUri" or not a.get("targets"):
            errors.append("potentialAction: not an OpenUri with targets")
    return errors


def check_element(e, path, errors):
    if not isinstance(e, dict) or "type" not in e:
        errors.append("%s: an element without type" % path)
        return
    if e["type"] == "TextBlock":
        if not isinstance(e.get("text"), str):
            errors.append("%s: TextBlock without text" % path)
        if "color" in e and e["color"] not in COLORS:
            errors.append("%s: color %r is not a named colour" % (path, e["color"]))
    elif e["type"] == "FactSet":
        for f in e.get("facts", []):
            if set(f) != {"title", "value"} or not all(isinstance(v, str) for v in f.values()):
                errors.append("%s: a fact is not {title, value} strings" % path)
    elif e["type"] == "Container":
        for j, item in enumerate(e.get("items", [])):
            check_element(item, "%s.items[%d]" % (path, j), errors)
    elif e["type"] in ("ColumnSet", "Image", "ActionSet", "RichTextBlock", "Table"):
        pass
    else:
        errors.append("%s: unknown element type %r" % (path, e["type"]))


def check_envelope(msg):
    errors = []
    if not isinstance(msg, dict):
        return ["the message is not an object"]
    if msg.get("type") != "message":
        errors.append("type is %r, not message" % (msg.get("type"),))
    atts = msg.get("attachments")
    if not isinstance(atts, list) or not atts:
        return errors + ["'@triggerOutputs()?['body']?['attachments']' is of type 'Null'"]
    for i, a in enumerate(atts):
        if a.get("contentType") != "application/vnd.microsoft.card.adaptive":
            errors.append("attachments[%d].contentType is not the adaptive card type" % i)
        if "contentUrl" not in a or a["contentUrl"] is not None:
            errors.append("attachments[%d].contentUrl is not null" % i)
        card = a.get("content")
        if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
            errors.append("attachments[%d]: Property 'type' must be 'AdaptiveCard'" % i)
            continue
        if not card.get("version"):
            errors.append("attachments[%d]: no version" % i)
        for j, e in enumerate(card.get("body", [])):
            check_element(e, "attachments[%d].body[%d]" % (i, j), errors)
        for act in card.get("actions", []):
            if act.get("type") == "Action.Submit":
                errors.append("Action.Submit is not supported")
    return errors


class TeamsHandler(fakebase.FakeHandler):
    def error_body(self, status):
        if status == 400:
            return (("Content-Type", "text/plain; charset=utf-8"),), \
                b"Bad payload received by generic incoming webhook."
        return (("Content-Type", "text/plain; charset=utf-8"),), \
            ("fake teams error %d (%s)" % (status, self.path)).encode()

    def record(self, kind, errors, size):
        with self.state.lock:
            self.state.custom.setdefault("validation", []).append(
                {"kind": kind, "errors": errors, "bytes": size})

    def legacy(self, query, body):
        text = [("Content-Type", "text/plain; charset=utf-8")]
        with self.state.lock:
            code = self.state.custom.get("teams_error")
            left = self.state.custom.get("teams_error_count", 1 << 30)
            if code:
                left -= 1
                self.state.custom["teams_error_count"] = left
                if left < 0:
                    self.state.custom.pop("teams_error", None)
                    code = None
        try:
            card = json.loads(body)
        except ValueError:
            self.record("legacy", ["malformed JSON"], len(body))
            return 400, text, b"Bad payload received by generic incoming webhook."
        errors = check_message_card(card)
        self.record("legacy", errors, len(body))
        if not isinstance(card, dict) or not (card.get("summary") or card.get("text")):
            return 400, text, b"Summary or Text is required."
        if code:
            return 200, text, (ERROR_BODY % int(code)).encode()
        if len(body) > LIMIT:
            return 200, text, (ERROR_BODY % 413).encode()
        return 200, text, b"1"

    def workflow(self, query, body):
        try:
            msg = json.loads(body)
            errors = check_envelope(msg)
        except ValueError:
            errors = ["malformed JSON"]
        if len(body) > LIMIT:
            errors.append("%d bytes: over the 28 KB limit" % len(body))
            self.record("workflow", errors, len(body))
            return 413, [("Content-Type", "text/plain")], b"Request Entity Too Large"
        self.record("workflow", errors, len(body))
        return 202, [], b""

    def validation(self, query, body):
        with self.state.lock:
            out = json.dumps(self.state.custom.get("validation", []))
        return 200, [("Content-Type", "application/json")], out.encode()

    def routes(self):
        return {("POST", LEGACY): TeamsHandler.legacy,
                ("POST", WORKFLOW): TeamsHandler.workflow,
                ("GET", "/validation"): TeamsHandler.validation}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: teams_fake.py PORT")
    fakebase.serve(TeamsHandler, int(sys.argv[1]))


if __name__ == "__main__":
    main()
