#!/usr/bin/env python3
"""Rules engine cost per evaluation cycle (make bench). The shipped rules (rules/lua/*.lua)
over a snapshot of 10k and 100k series (a Kong plugin body from gen_kong.py, as passthrough
re-exports it, plus the drwatch_* families the rules read), and 1,000 synthetic rules each
selecting its own series. Prints figures; asserts nothing. The issue's target: at most 10 ms
per cycle for the shipped rules at 100k series."""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("DRWATCH_BUILD", os.path.join(ROOT, "build"))
BENCH = os.path.join(BUILD, "bench", "rules_bench")
CYCLES = "60" if os.environ.get("BENCH_QUICK") else "200"


def run(args):
    out = subprocess.run([BENCH] + args, capture_output=True, text=True, check=True).stdout
    return dict(kv.split("=") for kv in out.split())


def main():
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (10000, 100000):
            body = os.path.join(tmp, "kong-%d.prom" % n)
            with open(body, "w") as f:
                subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gen_kong.py"),
                                "--series", str(n), "--seed", "1"], stdout=f, check=True)
            r = run(["--body", body, "--rules", os.path.join(ROOT, "rules", "lua", "*.lua"),
                     "--cycles", CYCLES])
            rows.append(("shipped rules", r))
        r = run(["--rules", os.path.join(ROOT, "rules", "lua", "*.lua"), "--synthetic", "1000",
                 "--cycles", CYCLES])
        rows.append(("shipped + 1000 synthetic", r))
    print("Rules evaluation per cycle (bench/rules_bench.c; %s cycles, t += 5 s)" % CYCLES)
    print("  %-26s %8s %6s %10s %10s %10s" % ("", "series", "rules", "median ms", "p99 ms",
                                             "max ms"))
    for name, r in rows:
        print("  %-26s %8s %6s %10s %10s %10s" % (name, r["series"], r["rules"], r["median_ms"],
                                                 r["p99_ms"], r["max_ms"]))
    big = rows[1][1]
    print("  target: shipped rules at 100k series <= 10 ms per cycle: median %s ms, p99 %s ms: %s"
          % (big["median_ms"], big["p99_ms"],
             "met" if float(big["p99_ms"]) <= 10 else "MISSED"))


if __name__ == "__main__":
    main()
