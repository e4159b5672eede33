#!/usr/bin/python3
"""gen_kong.py: a deterministic /metrics body in the shape of Kong 3.9's Prometheus plugin.

The body looks like what a Kong 3.9 traditional node answers with status_code_metrics,
latency_metrics, bandwidth_metrics and upstream_health_metrics on (reference/kong.md §6): the
same family names, HELP and TYPE text, label names and label order, Kong's buckets, `le`
without padding and `+Inf` last, families in alphabetical order, all `_bucket` lines of a
histogram before its `_count` lines and those before its `_sum` lines, integers as Lua's
%.14g prints them. Per-route families dominate, as they do on a real gateway: one route gives
about 58 series (its status codes, three histograms, two bandwidth directions).

--series N gives exactly N sample lines. Same --seed and N give the same bytes (only Python's
own random.Random and integer arithmetic decide the output).

usage: gen_kong.py --series N [--seed S] [-o FILE]
"""
import argparse
import math
import random
import sys

KONG_LATENCY_BUCKETS = [1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000, 3000, 6000]
UPSTREAM_LATENCY_BUCKETS = [25, 50, 80, 100, 250, 400, 700, 1000, 2000, 5000, 10000, 30000, 60000]

HELP = {
    "kong_bandwidth_bytes": "Total bandwidth (ingress/egress) throughput in bytes",
    "kong_datastore_reachable": "Datastore reachable from Kong, 0 is unreachable",
    "kong_http_requests_total": "HTTP status codes per consumer/service/route in Kong",
    "kong_kong_latency_ms":
        "Latency added by Kong and enabled plugins for each service/route in Kong",
    "kong_memory_lua_shared_dict_bytes": "Allocated slabs in bytes in a shared_dict",
    "kong_memory_lua_shared_dict_total_bytes": "Total capacity in bytes of a shared_dict",
    "kong_memory_workers_lua_vms_bytes": "Allocated bytes in worker Lua VM",
    "kong_nginx_connections_total": "Number of connections by subsystem",
    "kong_nginx_metric_errors_total": "Number of nginx-lua-prometheus errors",
    "kong_nginx_requests_total": "Number of requests total",
    "kong_nginx_timers": "Number of nginx timers",
    "kong_node_info": "Kong Node metadata information",
    "kong_request_latency_ms":
        "Total latency incurred during requests for each service/route in Kong",
    "kong_upstream_latency_ms":
        "Latency added by upstream response for each service/route in Kong",
    "kong_upstream_target_health":
        "Health status of targets of upstream. States = healthchecks_off|healthy|unhealthy|"
        "dns_error, value is 1 when state is populated.",
}
TYPE = {
    "kong_bandwidth_bytes": "counter",
    "kong_http_requests_total": "counter",
    "kong_kong_latency_ms": "histogram",
    "kong_nginx_metric_errors_total": "counter",
    "kong_request_latency_ms": "histogram",
    "kong_upstream_latency_ms": "histogram",
}  # every other family is a gauge, _total or not (kong.md §6, "counter naming oddities")

# (name, capacity) as in 3.9.3:kong/templates/nginx_kong.lua with mem_cache_size=128m.
SHARED_DICTS = [
    ("kong", 5 << 20), ("kong_cluster_events", 5 << 20), ("kong_core_db_cache", 128 << 20),
    ("kong_core_db_cache_miss", 12 << 20), ("kong_db_cache", 128 << 20),
    ("kong_db_cache_miss", 12 << 20), ("kong_healthchecks", 5 << 20),
    ("kong_locks", 8 << 20), ("kong_rate_limiting_counters", 12 << 20),
    ("kong_secrets", 5 << 20), ("prometheus_metrics", 5 << 20),
]

DOMAINS = ["orders", "payments", "catalog", "checkout", "inventory", "shipping", "billing",
           "accounts", "auth", "search", "pricing", "reviews", "loyalty", "notifications",
           "media", "ledger", "fraud", "quotes", "claims", "policy", "customers", "partners",
           "reports", "tickets", "stores", "offers", "carts", "wallet", "kyc", "documents"]
KINDS = ["api", "svc", "backend", "gateway", "public", "internal", "legacy", "bff"]
VERBS = ["get", "list", "create", "update", "delete", "search", "export", "callback", "health",
         "status", "bulk", "v1", "v2", "v3", "admin", "webhook"]

# (code, source, weight): the mix of answers a busy route sees. 200 is always there.
CODES = [("201", "service", 30), ("204", "service", 20), ("301", "service", 5),
         ("304", "service", 15), ("400", "service", 25), ("401", "kong", 25),
         ("403", "kong", 10), ("404", "service", 30), ("409", "service", 5),
         ("422", "service", 8), ("429", "kong", 15), ("499", "kong", 10),
         ("500", "service", 12), ("502", "kong", 10), ("503", "service", 8),
         ("503", "kong", 4), ("504", "kong", 6)]
MAX_EXTRA_CODES = 6
ROUTE_FIXED = (len(UPSTREAM_LATENCY_BUCKETS) + 3) * 2 + (len(KONG_LATENCY_BUCKETS) + 3) + 2


def fmt(v):
    """A number as Lua's tostring (%.14g) prints it."""
    if isinstance(v, int) and abs(v) < 10 ** 14:
        return str(v)
    s = "%.14g" % v
    return s


def uuid(rng):
    h = "%032x" % rng.getrandbits(128)
    return "%s-%s-4%s-%s-%s" % (h[0:8], h[8:12], h[13:16], "89ab"[int(h[16], 16) % 4] + h[17:20],
                               h[20:32])


def lognormal_cdf(x, mu, sigma):
    return 0.5 * (1.0 + math.erf((math.log(x) - mu) / (sigma * math.sqrt(2.0))))


class Body:
    def __init__(self):
        self.fams = {}  # family -> list of (sort key, line)

    def add(self, family, sample_name, labels, value, le=None):
        text = ",".join('%s="%s"' % kv for kv in labels)
        # Kong sorts by the whole key, with le zero-padded; +Inf last.
        order = {"_bucket": 0, "_count": 1, "_sum": 2}.get(sample_name[len(family):], 0)
        lekey = (0 if le is None else (math.inf if le == "+Inf" else float(le)))
        if le is not None:
            text += ',le="%s"' % le
        line = "%s{%s} %s\n" % (sample_name, text, fmt(value)) if text else \
            "%s %s\n" % (sample_name, fmt(value))
        self.fams.setdefault(family, []).append(((order, ",".join('%s="%s"' % kv for kv in labels),
                                                  lekey), line))

    def histogram(self, family, labels, buckets, count, mu, sigma):
        cum = 0
        for b in buckets:
            c = int(round(count * lognormal_cdf(b, mu, sigma)))
            cum = max(cum, min(c, count))
            self.add(family, family + "_bucket", labels, cum, le=str(b))
        self.add(family, family + "_bucket", labels, count, le="+Inf")
        self.add(family, family + "_count", labels, count)
        mean = math.exp(mu + sigma * sigma / 2.0)
        self.add(family, family + "_sum", labels, int(count * mean))

    def series(self):
        return sum(len(v) for v in self.fams.values())

    def write(self, out):
        for fam in sorted(self.fams):
            out.write("# HELP %s %s\n" % (fam, HELP[fam]))
            out.write("# TYPE %s %s\n" % (fam, TYPE.get(fam, "gauge")))
            for _, line in sorted(self.fams[fam], key=lambda e: e[0]):
                out.write(line)


def route_series(b, rng, service, route):
    total = int(rng.lognormvariate(9.0, 2.0)) + 1
    extra = rng.sample(CODES, rng.randint(0, MAX_EXTRA_CODES))
    weights = [200] + [w for _, _, w in extra]
    wsum = sum(weights)
    left = total
    codes = [("200", "service")] + [(c, s) for c, s, _ in extra]
    for i, (code, source) in enumerate(codes):
        n = left if i == len(codes) - 1 else int(total * weights[i] / wsum)
        left -= n
        b.add("kong_http_requests_total", "kong_http_requests_total",
              [("service", service), ("route", route), ("code", code), ("source", source),
               ("workspace", "default"), ("consumer", "")], max(n, 1))
    lab = [("service", service), ("route", route), ("workspace", "default")]
    up_mu = rng.uniform(3.0, 6.5)
    up_sigma = rng.uniform(0.4, 1.3)
    kong_mu = rng.uniform(-0.5, 1.5)
    b.histogram("kong_upstream_latency_ms", lab, UPSTREAM_LATENCY_BUCKETS, total, up_mu, up_sigma)
    b.histogram("kong_request_latency_ms", lab, UPSTREAM_LATENCY_BUCKETS, total,
                up_mu + 0.05, up_sigma)
    b.histogram("kong_kong_latency_ms", lab, KONG_LATENCY_BUCKETS, total, kong_mu,
                rng.uniform(0.3, 0.9))
    for direction, per_req in (("egress", rng.randint(300, 60000)),
                               ("ingress", rng.randint(200, 2000))):
        b.add("kong_bandwidth_bytes", "kong_bandwidth_bytes",
              [("service", service), ("route", route), ("direction", direction),
               ("workspace", "default"), ("consumer", "")], total * per_req)
    return len(codes) + ROUTE_FIXED


def target_health(b, rng, upstream, i, targets):
    target = None
    while target is None or target in targets:
        if rng.random() < 0.05:
            target, address, state = "%s-%d.internal:80" % (upstream, i), "", "dns_error"
        else:
            ip = "10.%d.%d.%d" % (rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254))
            port = rng.choice([80, 443, 8000, 8080, 8443, 9000])
            target = address = "%s:%d" % (ip, port)
            state = rng.choices(["healthy", "unhealthy", "healthchecks_off"], [85, 5, 10])[0]
    targets.add(target)
    for s in ("healthchecks_off", "healthy", "unhealthy", "dns_error"):
        b.add("kong_upstream_target_health", "kong_upstream_target_health",
              [("upstream", upstream), ("target", target), ("address", address), ("state", s),
               ("subsystem", "http")], 1 if s == state else 0)


def generate(n, seed):
    rng = random.Random(seed)
    b = Body()
    node_id = uuid(rng)
    node_fixed = 7 + 1 + 2 + 1 + 1 + 2 * len(SHARED_DICTS) + 1  # without workers
    workers = 2
    ntargets = max(2, n // 400)
    budget = n - node_fixed - workers - 4 * ntargets
    if budget < 0:
        sys.exit("gen_kong: --series must be at least %d" % (node_fixed + workers + 8))
    services, upstreams, routes, targets = [], [], set(), set()
    used = 0
    while True:
        if not services or rng.random() < 0.25:
            name = "%s-%s" % (rng.choice(DOMAINS), rng.choice(KINDS))
            suffix = 2
            base = name
            while name in services:
                name = "%s-%d" % (base, suffix)
                suffix += 1
            services.append(name)
            upstreams.append(name + "-upstream")
        if used + MAX_EXTRA_CODES + 1 + ROUTE_FIXED > budget:
            break
        service = services[-1]
        route = None
        while route is None or route in routes:
            if rng.random() < 0.2:
                route = uuid(rng)  # an unnamed route is reported by its id
            else:
                route = "%s-%s-%d" % (service, rng.choice(VERBS), rng.randint(1, 999))
        routes.add(route)
        used += route_series(b, rng, service, route)
    left = budget - used
    ntargets += left // 4
    workers += left % 4
    for i in range(ntargets):
        target_health(b, rng, upstreams[i % len(upstreams)], i, targets)

    reqs = rng.randint(10 ** 7, 10 ** 9)
    accepted = rng.randint(10 ** 5, 10 ** 7)
    for state, v in (("accepted", accepted), ("active", rng.randint(5, 900)),
                     ("handled", accepted), ("reading", rng.randint(0, 10)),
                     ("total", reqs), ("waiting", rng.randint(0, 800)),
                     ("writing", rng.randint(1, 100))):
        b.add("kong_nginx_connections_total", "kong_nginx_connections_total",
              [("node_id", node_id), ("subsystem", "http"), ("state", state)], v)
    b.add("kong_nginx_requests_total", "kong_nginx_requests_total",
          [("node_id", node_id), ("subsystem", "http")], reqs)
    b.add("kong_nginx_timers", "kong_nginx_timers", [("state", "pending")], rng.randint(0, 20))
    b.add("kong_nginx_timers", "kong_nginx_timers", [("state", "running")], rng.randint(10, 90))
    b.add("kong_datastore_reachable", "kong_datastore_reachable", [], 1)
    b.add("kong_node_info", "kong_node_info", [("node_id", node_id), ("version", "3.9.1")], 1)
    b.add("kong_nginx_metric_errors_total", "kong_nginx_metric_errors_total", [], 0)
    for name, cap in SHARED_DICTS:
        lab = [("node_id", node_id), ("shared_dict", name), ("kong_subsystem", "http")]
        b.add("kong_memory_lua_shared_dict_bytes", "kong_memory_lua_shared_dict_bytes", lab,
              4096 * rng.randint(10, cap // 4096 // 3))
        b.add("kong_memory_lua_shared_dict_total_bytes",
              "kong_memory_lua_shared_dict_total_bytes", lab, cap)
    pid = rng.randint(1000, 30000)
    for w in range(workers):
        b.add("kong_memory_workers_lua_vms_bytes", "kong_memory_workers_lua_vms_bytes",
              [("node_id", node_id), ("pid", str(pid + w)), ("kong_subsystem", "http")],
              rng.randint(40 << 20, 400 << 20))
    assert b.series() == n, (b.series(), n)
    return b


def main():
    ap = argparse.ArgumentParser(description="Kong 3.9-like /metrics body, deterministic.")
    ap.add_argument("--series", type=int, required=True, help="number of sample lines")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("-o", "--output", help="file to write (default stdout)")
    a = ap.parse_args()
    body = generate(a.series, a.seed)
    if a.output:
        with open(a.output, "w", encoding="utf-8", newline="\n") as f:
            body.write(f)
    else:
        body.write(sys.stdout)


if __name__ == "__main__":
    main()
