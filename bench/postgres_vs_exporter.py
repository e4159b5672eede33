#!/usr/bin/env python3
"""drwatch's postgres collector against Debian's prometheus-postgres-exporter, side by side on
one throwaway PostgreSQL (tests/lib/pg_start.sh). Prints a table; asserts nothing.

  bench/postgres_vs_exporter.py [--scrapes N] [--drwatch PATH]

What is measured, per scrape (N of each):
  - prometheus-postgres-exporter queries PostgreSQL when /metrics is fetched: the time of each
    GET /metrics, and the CPU seconds of the exporter and of PostgreSQL (postmaster and its
    children, from /proc) over the N fetches;
  - drwatch collects on its own interval (1 s here) and /metrics serves a snapshot: the
    collection time is drwatch_collector_scrape_duration_seconds{collector="postgres"}, read
    after each collection, and the CPU of drwatch and of PostgreSQL over N collections. The
    time of GET /metrics is shown too.
Needs root (PostgreSQL runs as postgres) and the prometheus-postgres-exporter package
(installed with apt-get when missing).
"""
import argparse
import glob
import os
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
from drwatch_test import free_port, http, spawn, tmpdir, wait_for  # noqa: E402

EXPORTER = "/usr/bin/prometheus-postgres-exporter"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except OSError:
        return 0.0


def pg_pids(postmaster):
    pids = [postmaster]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/stat" % pid) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == postmaster:
                        pids.append(int(pid))
            except OSError:
                pass
    return pids


def pg_cpu(postmaster):
    """CPU of PostgreSQL: the postmaster and its live children (exited backends are counted
    in the postmaster's cutime/cstime, so those are added too)."""
    total = sum(cpu_seconds(p) for p in pg_pids(postmaster))
    try:
        with open("/proc/%d/stat" % postmaster) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += (int(fields[13]) + int(fields[14])) / TICK
    except OSError:
        pass
    return total


def ensure_exporter():
    if os.path.exists(EXPORTER):
        return True
    print("installing prometheus-postgres-exporter (apt-get)...", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    policy = "/usr/sbin/policy-rc.d"
    made_policy = not os.path.exists(policy)
    if made_policy:  # the package ships a service: do not let it start
        with open(policy, "w") as f:
            f.write("#!/bin/sh\nexit 101\n")
        os.chmod(policy, 0o755)
    try:
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                        "prometheus-postgres-exporter"], env=env, check=False,
                       stdout=subprocess.DEVNULL)
    finally:
        if made_policy:
            os.unlink(policy)
    return os.path.exists(EXPORTER)


def stats(values):
    if not values:
        return "-", "-", "-"
    v = sorted(values)
    p95 = v[min(len(v) - 1, int(round(0.95 * (len(v) - 1))))]
    return ("%.2f" % (statistics.median(v) * 1000), "%.2f" % (p95 * 1000),
            "%.2f" % (max(v) * 1000))


def bench_exporter(port, pg_port, postmaster, n, d):
    env = {"PATH": "/usr/bin:/bin",
           "DATA_SOURCE_NAME": "postgresql://drwatch@127.0.0.1:%d/postgres?sslmode=disable"
                               % pg_port}
    p = spawn([EXPORTER, "--web.listen-address=127.0.0.1:%d" % port], os.path.join(d, "pe.log"),
              env=env)
    url = "http://127.0.0.1:%d/metrics" % port
    if not wait_for(lambda: http("GET", url)[0] == 200, 20):
        raise RuntimeError("postgres_exporter did not start")
    for _ in range(3):  # warm up: connections, first queries
        http("GET", url)
    cpu0, pg0 = cpu_seconds(p.pid), pg_cpu(postmaster)
    times, series = [], 0
    for _ in range(n):
        t0 = time.perf_counter()
        status, _, body = http("GET", url)
        times.append(time.perf_counter() - t0)
        series = sum(1 for line in body.split(b"\n") if line and not line.startswith(b"#"))
    cpu, pgc = cpu_seconds(p.pid) - cpu0, pg_cpu(postmaster) - pg0
    print("  %s: %.2fs CPU, PostgreSQL %.2fs CPU" % (os.path.basename(p.args[0]), cpu, pgc),
          file=sys.stderr)
    p.send_signal(signal.SIGTERM)
    p.wait()
    return {"collect": times, "http": times, "cpu": cpu / n, "pg_cpu": pgc / n,
            "series": series}


def sample(body, name):
    for line in body.decode().split("\n"):
        if line.startswith(name + "{") and 'collector="postgres"' in line:
            return float(line.rsplit(" ", 1)[1])
    return None


def bench_drwatch(binary, pg_port, postmaster, n, d):
    pw = os.path.join(d, "pw")
    with open(pw, "w") as f:
        f.write("unused\n")
    cfg = os.path.join(d, "drwatch.lua")
    with open(cfg, "w") as f:
        f.write('drwatch = { site = "gold" }\n'
                'self = { interval = "1h" }\n'
                'postgres = { targets = { { site = "gold", host = "127.0.0.1", port = %d,'
                ' user = "drwatch", password_file = "%s", interval = "1s" } } }\n' % (pg_port, pw))
    port = free_port()
    p = spawn([binary, "--config.file=" + cfg, "--web.listen-address=127.0.0.1:%d" % port],
              os.path.join(d, "drwatch.log"))
    url = "http://127.0.0.1:%d/metrics" % port
    if not wait_for(lambda: http("GET", url)[0] == 200 and
                    sample(http("GET", url)[2], "drwatch_collector_up") == 1, 20):
        raise RuntimeError("drwatch did not collect; log in " + d)
    time.sleep(1.2)  # one more collection on a kept connection
    cpu0, pg0 = cpu_seconds(p.pid), pg_cpu(postmaster)
    collect, gets, series = [], [], 0
    last = None
    t_start = time.time()
    while len(collect) < n and time.time() - t_start < n * 3:
        t0 = time.perf_counter()
        status, _, body = http("GET", url)
        gets.append(time.perf_counter() - t0)
        ts = sample(body, "drwatch_collector_last_success_timestamp_seconds")
        if ts != last and last is not None:
            collect.append(sample(body, "drwatch_collector_scrape_duration_seconds"))
            series = sum(1 for line in body.split(b"\n")
                         if line.startswith(b"drwatch_postgres_"))
        last = ts
        time.sleep(0.25)
    cpu, pgc = cpu_seconds(p.pid) - cpu0, pg_cpu(postmaster) - pg0
    print("  %s: %.2fs CPU, PostgreSQL %.2fs CPU" % (os.path.basename(p.args[0]), cpu, pgc),
          file=sys.stderr)
    p.send_signal(signal.SIGTERM)
    p.wait()
    k = max(len(collect), 1)
    return {"collect": collect, "http": gets, "cpu": cpu / k, "pg_cpu": pgc / k,
            "series": series}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scrapes", type=int, default=30)
    ap.add_argument("--drwatch", default=os.path.join(ROOT, "drwatch"))
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (PostgreSQL is started as the postgres user)")
    if not ensure_exporter():
        sys.exit("prometheus-postgres-exporter is not installed and apt-get failed")
    d = tmpdir()
    os.chmod(d, 0o755)  # PostgreSQL runs as postgres, under d
    pg_port = free_port()
    pg = spawn(["sh", os.path.join(ROOT, "tests", "lib", "pg_start.sh"), os.path.join(d, "pg"),
                str(pg_port)], os.path.join(d, "pg_start.log"))
    if not wait_for(lambda: "ready" in open(os.path.join(d, "pg_start.log")).read(), 30):
        sys.exit("PostgreSQL did not start")
    with open(os.path.join(d, "pg", "data", "postmaster.pid")) as f:
        postmaster = int(f.readline())
    psql = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"),
                  key=lambda p: int(p.split("/")[-3]))[-1]
    subprocess.run([psql, "-XAtq", "-h", "127.0.0.1", "-p", str(pg_port), "-U", "postgres",
                    "-c", "CREATE ROLE drwatch LOGIN IN ROLE pg_monitor"], check=True)
    try:
        pe = bench_exporter(free_port(), pg_port, postmaster, a.scrapes, d)
        dw = bench_drwatch(a.drwatch, pg_port, postmaster, a.scrapes, d)
    finally:
        pg.send_signal(signal.SIGTERM)
        pg.wait()
    print("\nPostgreSQL %s, %d scrapes each; times in ms (median / p95 / max), CPU per scrape "
          "in ms\n" % (open(os.path.join(d, "pg", "data", "PG_VERSION")).read().strip(),
                       a.scrapes))
    head = ("", "collect med", "p95", "max", "GET /metrics med", "CPU exporter", "CPU postgres",
            "series")
    rows = []
    for name, r in (("prometheus-postgres-exporter", pe), ("drwatch (postgres collector)", dw)):
        c, h = stats(r["collect"]), stats(r["http"])
        rows.append((name, c[0], c[1], c[2], h[0], "%.3f" % (r["cpu"] * 1000),
                     "%.3f" % (r["pg_cpu"] * 1000), str(r["series"])))
    widths = [max(len(str(x[i])) for x in [head] + rows) for i in range(len(head))]
    for row in [head] + rows:
        print("  ".join(str(v).rjust(w) if i else str(v).ljust(w)
                        for i, (v, w) in enumerate(zip(row, widths))))
    print("\nprometheus-postgres-exporter collects inside GET /metrics (collect = GET); drwatch "
          "collects on its interval\nover one kept connection and serves a snapshot. CPU: "
          "utime+stime from /proc, divided by the scrapes.")


if __name__ == "__main__":
    main()
