#!/usr/bin/env python3
"""A real SMTP server for drwatch's e-mail tests: aiosmtpd (Debian's python3-aiosmtpd) with
STARTTLS and AUTH PLAIN/LOGIN, saving every accepted message to a directory.

Usage: smtp_server.py PORT DIR [--cert CERT --key KEY] [--user USER --password PW]
                                [--implicit-tls]
  --cert/--key     offer STARTTLS with this certificate (required before AUTH and MAIL)
  --implicit-tls   TLS from the first byte (smtps://) instead of STARTTLS
  --user/--password  require AUTH with these credentials (only over TLS)
Prints "ready" once it listens. Each message is saved as DIR/<n>.eml (the DATA bytes) with
DIR/<n>.json beside it: {"mail_from", "rcpt_tos", "auth": user or null, "tls": bool}.

Recipients steer failures, as a real server's replies would:
  reject@...   550 at RCPT (permanent)     busy@...   451 at RCPT (temporary)
  baddata@...  554 after DATA              slowdata@... 451 after DATA
"""
import asyncio
import json
import logging
import os
import ssl
import sys
import threading
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, directory):
        self.dir = directory
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        if local == "reject":
            return "550 5.1.1 No such user"
        if local == "busy":
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        locals_ = {a.split("@", 1)[0] for a in envelope.rcpt_tos}
        if "baddata" in locals_:
            return "554 5.6.0 Message refused"
        if "slowdata" in locals_:
            return "451 4.3.0 Queue full"
        with self.lock:
            self.count += 1
            n = self.count
        base = os.path.join(self.dir, "%d" % n)
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        auth = session.auth_data.login.decode() if isinstance(session.auth_data,
                                                              LoginPassword) else None
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "auth": auth, "tls": session.ssl is not None or
                       server.transport.get_extra_info("ssl_object") is not None}, f)
        return "250 2.0.0 OK: queued as %d" % n


class Authenticator:
    def __init__(self, user, password):
        self.user = user.encode()
        self.password = password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        if auth_data.login == self.user and auth_data.password == self.password:
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535


class TLSController(Controller):
    """Controller whose SMTP objects get our settings (aiosmtpd 1.4)."""

    def __init__(self, handler, smtp_kwargs, **kwargs):
        self.smtp_kwargs = smtp_kwargs
        super().__init__(handler, **kwargs)

    def factory(self):
        return SMTP(self.handler, hostname="mail.drwatch.test", **self.smtp_kwargs)


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    port, directory = int(args.pop(0)), args.pop(0)
    cert = key = user = password = None
    implicit = False
    while args:
        a = args.pop(0)
        if a == "--cert":
            cert = args.pop(0)
        elif a == "--key":
            key = args.pop(0)
        elif a == "--user":
            user = args.pop(0)
        elif a == "--password":
            password = args.pop(0)
        elif a == "--implicit-tls":
            implicit = True
        else:
            sys.exit("smtp_server: unknown option %s" % a)
    os.makedirs(directory, exist_ok=True)
    # Failed handshakes and deprecations are expected in the tests: keep TAP output clean.
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    warnings.simplefilter("ignore")
    ctx = None
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
    smtp_kwargs = {"decode_data": False}
    if ctx and not implicit:
        smtp_kwargs.update(tls_context=ctx, require_starttls=True)
    if user:
        smtp_kwargs.update(authenticator=Authenticator(user, password or ""),
                           auth_required=True, auth_require_tls=True)
    kwargs = {"hostname": "127.0.0.1", "port": port}
    if implicit:
        kwargs["ssl_context"] = ctx
    controller = TLSController(Handler(directory), smtp_kwargs, **kwargs)
    controller.start()
    print("ready", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    asyncio.set_event_loop(asyncio.new_event_loop())
    main()
