#!/usr/bin/python3
"""bench/cycle_concurrency.py: one collection cycle over many slow targets runs concurrently.

Starts TARGETS fake Kong control planes (tests/fakes/kong_fake.py), each answering every
request after DELAY ms (/status, /clustering/data-planes and /metrics: three requests per
scrape), and drwatch with one Kong target per fake, all on the same interval. Then, from
drwatch's own metrics only (drwatch_collector_scrape_duration_seconds and
drwatch_collector_last_success_timestamp_seconds of every target), it reports for each cycle
how long the whole cycle took (first scrape start to last scrape end) next to the sum of the
scrape durations, which is what one target after the other would take. Nothing is asserted.

Usage (from the repository root, after `make`):
    bench/cycle_concurrency.py [--targets 20] [--delay-ms 200] [--cycles 4] [--interval 5]
Environment: DRWATCH_BIN (default ./drwatch).
"""
import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
sys.path.insert(0, os.path.join(ROOT, "tests", "fakes"))
from drwatch_test import Drwatch, free_port, http, spawn, tmpdir, wait_for  # noqa: E402
import fakebase  # noqa: E402

FAKE = os.path.join(ROOT, "tests", "fakes", "kong_fake.py")
PREFIX_DUR = 'drwatch_collector_scrape_duration_seconds{collector="kong",site="%s",target="%s"}'
PREFIX_END = ('drwatch_collector_last_success_timestamp_seconds{collector="kong",site="%s",'
              'target="%s"}')
PREFIX_UP = 'drwatch_collector_up{collector="kong",site="%s",target="%s"}'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--targets", type=int, default=20)
    ap.add_argument("--delay-ms", type=int, default=200)
    ap.add_argument("--cycles", type=int, default=4)
    ap.add_argument("--interval", type=int, default=5, help="seconds between cycles")
    a = ap.parse_args()
    d = tmpdir()

    print("cycle_concurrency: %d Kong targets, every request answered after %d ms "
          "(3 requests per scrape), interval %d s" % (a.targets, a.delay_ms, a.interval))
    fakes = []
    for i in range(a.targets):
        port = free_port()
        spawn([sys.executable, FAKE, str(port), "--role", "control_plane"],
              os.path.join(d, "fake%d.log" % i))
        fakes.append("http://127.0.0.1:%d" % port)
    for url in fakes:
        if not wait_for(lambda: http("GET", url + "/__fake/requests")[0] == 200, timeout=20):
            sys.exit("a fake did not start; logs in %s" % d)
        fakebase.control(url, "mode", {"path": "*", "mode": "slow", "ms": a.delay_ms})

    names = [("gold" if i % 2 == 0 else "golddr", "kong-%02d" % i) for i in range(a.targets)]
    targets = "".join('  { name = "%s", site = "%s", url = "%s", role = "control_plane", '
                      'interval = "%ds" },\n' % (n, s, fakes[i], a.interval)
                      for i, (s, n) in enumerate(names))
    dw = Drwatch('drwatch = { site = "gold" }\nkong = { targets = {\n%s} }\n' % targets)
    dw.start(wait_ready=False)
    if not wait_for(lambda: dw.get("/-/ready")[0] == 200, timeout=30):
        sys.exit("drwatch did not become ready:\n" + dw.log())

    cycles, seen = [], None
    deadline = time.time() + a.interval * (a.cycles + 2) + 10
    while len(cycles) < a.cycles and time.time() < deadline:
        m = dw.metrics()
        ends = [m.get(PREFIX_END % nm) for nm in names]
        durs = [m.get(PREFIX_DUR % nm) for nm in names]
        ups = [m.get(PREFIX_UP % nm) for nm in names]
        key = tuple(ends)
        # A cycle is complete when every target has a new success since the last one recorded.
        if None not in ends and key != seen and (seen is None or
                                                 all(e != s for e, s in zip(ends, seen))):
            seen = key
            starts = [e - du for e, du in zip(ends, durs)]
            cycles.append({"span": max(ends) - min(starts), "durs": durs,
                           "up": sum(1 for u in ups if u == 1)})
        time.sleep(0.1)
    dw.stop()
    if not cycles:
        sys.exit("no complete cycle seen; drwatch log:\n" + dw.log())

    print()
    print("%-6s %14s %18s %15s %22s %6s" % ("cycle", "cycle took", "scrape median", "scrape max",
                                              "sum of the scrapes", "up"))
    for i, c in enumerate(cycles, 1):
        print("%-6d %11.0f ms %15.0f ms %12.0f ms %19.0f ms %3d/%d" % (
            i, c["span"] * 1000, statistics.median(c["durs"]) * 1000, max(c["durs"]) * 1000,
            sum(c["durs"]) * 1000, c["up"], a.targets))
    spans = [c["span"] for c in cycles]
    seq = statistics.median(sum(c["durs"]) for c in cycles)
    print()
    print("A cycle over %d targets took %.0f ms (median of %d cycles); one target after the "
          "other it would take %.2f s (the sum of the scrape durations)." % (
              a.targets, statistics.median(spans) * 1000, len(spans), seq))
    print("Figures from drwatch's own drwatch_collector_scrape_duration_seconds and "
          "drwatch_collector_last_success_timestamp_seconds.")


if __name__ == "__main__":
    main()
