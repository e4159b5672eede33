#!/usr/bin/env python3
"""A tiny UDP DNS server for drwatch's c-ares tests (the GSLB tests use real dnsmasq).

Usage: dns_fake.py PORT [MODE]  (prints "ready" once listening)

MODE makes every query, whatever the name, get one failure (the GSLB tests' broken
resolvers): servfail, refused, nxdomain, nodata, or timeout (no reply at all). Without it:

Answers A queries by name:
  <anything>.a1.test       one A record 10.0.0.1, TTL 30
  <anything>.a2.test       two A records 10.0.0.1 and 10.0.0.2, TTL 30 and 60
  nodata.test              NOERROR with no answer
  nx.test                  NXDOMAIN
  servfail.test            SERVFAIL
  refused.test             REFUSED
  timeout.test             no reply at all
"""
import socket
import struct
import sys


def qname(data, off):
    labels = []
    while data[off]:
        n = data[off]
        labels.append(data[off + 1:off + 1 + n].decode())
        off += n + 1
    return ".".join(labels), off + 1


MODES = {"servfail": 2, "refused": 5, "nxdomain": 3, "nodata": 0, "timeout": None}


def answer(data, mode=None):
    qid, flags, qd = struct.unpack(">HHH", data[:6])
    name, end = qname(data, 12)
    question = data[12:end + 4]
    rcode, records = 0, []
    if mode:
        if MODES[mode] is None:
            return None
        rcode = MODES[mode]
    elif name.endswith(".a1.test"):
        records = [("10.0.0.1", 30)]
    elif name.endswith(".a2.test"):
        records = [("10.0.0.1", 30), ("10.0.0.2", 60)]
    elif name == "nodata.test":
        pass
    elif name == "nx.test":
        rcode = 3
    elif name == "servfail.test":
        rcode = 2
    elif name == "refused.test":
        rcode = 5
    elif name == "timeout.test":
        return None
    else:
        rcode = 3
    hdr = struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, len(records), 0, 0)
    body = b""
    for ip, ttl in records:
        body += struct.pack(">HHHIH", 0xC00C, 1, 1, ttl, 4) + socket.inet_aton(ip)
    return hdr + question + body


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", int(sys.argv[1])))
    mode = sys.argv[2] if len(sys.argv) > 2 else None
    if mode and mode not in MODES:
        sys.exit("dns_fake: unknown mode %s (%s)" % (mode, ", ".join(MODES)))
    print("ready", flush=True)
    while True:
        data, peer = s.recvfrom(4096)
        reply = answer(data, mode)
        if reply:
            s.sendto(reply, peer)


if __name__ == "__main__":
    main()
