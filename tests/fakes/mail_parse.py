#!/usr/bin/env python3
"""Parses a received message (an .eml saved by smtp_server.py) with Python's email package,
strictly, and prints what the e-mail tests check, as JSON:
  {"headers": {name: decoded value}, "defects": [...], "multipart": subtype,
   "parts": [{"type", "charset", "cte", "text"}], "crlf_only": bool, "max_line": n}

Usage: mail_parse.py FILE
"""
import email
import email.policy
import json
import sys


def main():
    raw = open(sys.argv[1], "rb").read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    lines = raw.split(b"\r\n")
    out = {
        "headers": {k: str(v) for k, v in msg.items()},
        "defects": [str(d) for d in msg.defects],
        "multipart": msg.get_content_subtype() if msg.is_multipart() else None,
        "parts": [],
        "crlf_only": b"\n" not in raw.replace(b"\r\n", b""),
        "max_line": max(len(x) for x in lines),
    }
    for part in (msg.iter_parts() if msg.is_multipart() else [msg]):
        out["defects"] += [str(d) for d in part.defects]
        out["parts"].append({
            "type": part.get_content_type(),
            "charset": part.get_content_charset(),
            "cte": part.get("Content-Transfer-Encoding"),
            "text": part.get_content(),
        })
    print(json.dumps(out))


if __name__ == "__main__":
    main()
