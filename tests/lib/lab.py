"""The two-site lab (issue 14): the whole Gold / GoldDR platform and two drwatch instances on
127.0.0.1, ports picked free, torn down at exit (atexit, SIGTERM, SIGINT, SIGHUP).

    lab = Lab().start()
    lab.dw["gold"].url                      # drwatch of each site (drwatch_test.Drwatch)
    lab.ask("gold", "golddr-primary")       # POST /api/v1/transition with the site's token
    lab.state("golddr")                     # GET /api/v1/state
    lab.writable("gold")                    # pg_is_in_recovery() false on gold's leader
    lab.gslb_answer()                       # what dnsmasq answers now: gold, golddr, none, both
    lab.scale_health("gold", 0)             # break Gold as the GSLB sees it
    checker = lab.invariant_checker()       # never two writable primaries, sampled every 200 ms

What it starts, per the references in /work/shared/reference/:
- PostgreSQL under Patroni with etcd (tests/lib/patroni_lab.py): gold a primary cluster, golddr
  a standby cluster replicating from gold's leader, each keeping a permanent slot for the other;
- per site a Kubernetes API fake (tests/fakes/k8s_fake.py, seeded with the old agent's objects:
  the state ConfigMap, the health API Deployment and PDB, Keycloak's Services, the maintenance
  page, Kong, the tfvars Secret, Patroni's env ConfigMap and StatefulSet), a Tekton
  EventListener fake that makes the PipelineRun in that fake and finishes it after
  `tekton_finish_ms`, and the portal fake; every fake keeps what it was asked (GET /activity);
  and the gateway as the collectors see it: Kong's control plane and a data plane
  (tests/fakes/kong_fake.py) and FluentD (fluentd_fake.py);
- the GSLB as the F5 of gslb.md: each site's HTTPS /health "iamalive" endpoint
  (tests/fakes/gslb_fake.py) answers while that site's health API Deployment has a ready pod,
  and 503 (the router's answer with no endpoint) once it has none; a monitor thread probes both
  every `gslb_interval` with the Host header, marks a site down after `gslb_timeout` without a
  good probe and up at its first good one, and rewrites what dnsmasq answers for the GSLB name
  (Gold while Gold is up; GoldDR when only GoldDR is; nothing when neither), then SIGHUPs it;
- two drwatch (gold, golddr), each with its own data directory and config: the patroni,
  postgres, gslb, kong and fluentd collectors over both sites, the configmap collector over
  its own site, the mTLS peer link (a throwaway CA made with openssl), and a switchover
  section whose actuators point at that site's Kubernetes fake, Tekton fake, portal fake and
  Patroni REST API, with the shipped default plans;
- with prometheus=True (examples/run-lab; in tests only where asked), a real Prometheus scraping
  both drwatch as job "drwatch" with rules/prometheus/ and rules/prometheus-only/ loaded.
"""
import atexit
import glob
import json
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "fakes"))
import drwatch_test  # noqa: E402
from drwatch_test import Drwatch, free_port, http, spawn, start_fake, tmpdir, wait_for  # noqa: E402
import gslb_fake  # noqa: E402
from patroni_lab import API_PASS, API_USER, MONITOR_PASS, MONITOR_USER, PatroniLab  # noqa: E402

SITES = ("gold", "golddr")
OTHER = {"gold": "golddr", "golddr": "gold"}
LEADER = {"gold": "gold1", "golddr": "golddr1"}
SITE_IP = {"gold": "142.34.229.4", "golddr": "142.34.64.4"}  # gslb.md's, only ever in DNS
GSLB_NAME, GSLB_POOL, GSLB_HOST = "ggw.api.example.test", "ggw.glb.example.test", \
    "ggw.api.example.test"
TOOLS, SOLUTION = "ops", "gateway"  # k8s_seed.py's namespaces
HEALTH_DEPLOY = "bcgov-health-api-dev-generic-api"
STATE_CM = "switchover-state-dev"
TEKTON_SECRET = "lab-webhook-secret"

_labs = []


def _stop_all(*_):
    for lab in list(_labs):
        lab.stop()


atexit.register(_stop_all)


def _on_signal(signum, frame):
    _stop_all()
    sys.exit(128 + signum)


for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


def dns_query_a(server, port, name, timeout=1.0):
    """The A records the DNS server at server:port answers for name (following nothing: the
    server puts the CNAME's target records in the same answer). None on no answer."""
    qid = os.getpid() & 0xFFFF
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(q, (server, port))
        data, _ = s.recvfrom(4096)
    except OSError:
        return None
    finally:
        s.close()
    _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", data[:12])
    if flags & 0xF:
        return None

    def skip_name(off):
        while True:
            n = data[off]
            if n == 0:
                return off + 1
            if n & 0xC0 == 0xC0:
                return off + 2
            off += n + 1

    off = 12
    for _ in range(qd):
        off = skip_name(off) + 4
    out = []
    for _ in range(an):
        off = skip_name(off)
        rtype, _, _, rdlen = struct.unpack(">HHIH", data[off:off + 10])
        off += 10
        if rtype == 1 and rdlen == 4:
            out.append(socket.inet_ntoa(data[off:off + 4]))
        off += rdlen
    return out


class Gslb(threading.Thread):
    """The F5 of gslb.md: probes each site's /health every interval (Host header, certificate
    not verified), marks a site down once no probe succeeded for timeout and up at its first
    good probe, and makes dnsmasq answer Gold while Gold is up, GoldDR when only GoldDR is,
    nothing when neither (only an AAAA record: the F5's empty answer)."""

    def __init__(self, lab, interval, timeout):
        super().__init__(daemon=True, name="gslb-monitor")
        self.lab, self.interval, self.timeout = lab, interval, timeout
        self.up = {s: False for s in SITES}
        self.last_ok = {s: 0.0 for s in SITES}
        self.answer = None
        self.history = []  # (time, answer) at each change
        self.stopping = threading.Event()
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE

    def probe(self, site):
        req = urllib.request.Request(self.lab.health_url[site] + "/health",
                                     headers={"Host": GSLB_HOST})
        try:
            with urllib.request.urlopen(req, timeout=min(self.interval, 2.0),
                                        context=self.ctx) as r:
                return r.status == 200 and r.read() == gslb_fake.IAMALIVE
        except (OSError, ValueError):
            return False

    def decide(self):
        if self.up["gold"]:
            return "gold"
        return "golddr" if self.up["golddr"] else "none"

    def run(self):
        while not self.stopping.is_set():
            t0 = time.time()
            for s in SITES:
                if self.probe(s):
                    self.last_ok[s] = time.time()
                    self.up[s] = True
                elif time.time() - self.last_ok[s] >= self.timeout:
                    self.up[s] = False
            answer = self.decide()
            if answer != self.answer:
                self.answer = answer
                self.history.append((time.time(), answer))
                self.lab.set_dns_answer(answer)
            self.stopping.wait(max(0.0, self.interval - (time.time() - t0)))


class InvariantChecker(threading.Thread):
    """Samples both sites' leaders every period: pg_is_in_recovery() through psql. Two
    writable primaries at once is recorded in `both` (with the time and what each said); a
    leader that became writable (in recovery at the sample before) while the other site's
    leader answered writable at that sample before, in `unsafe_promotions` (a promotion while
    the other site was writable and reachable; one that did not answer may be promoted past).

    It also reads both drwatch's GET /api/v1/state at every sample, and records in `unasked`
    every run nobody asked for: one asked through the API that no lab.ask made, one from
    automation on a site whose automation the lab did not turn on, one from the ConfigMap that
    the lab did not write, one from the peer while the other site ran or awaited nothing
    within PEER_ASK_WINDOW_S and was asked nothing by the lab. `runs` holds every run seen:
    {(site, id): (time, trigger)}."""

    PEER_ASK_WINDOW_S = 120  # a peer's run follows a run of the other site, which was seen

    def __init__(self, lab, period=0.2):
        super().__init__(daemon=True, name="invariant-checker")
        self.lab, self.period = lab, period
        self.samples = 0
        self.both = []
        self.promotions = []  # (time, site) each time a leader was seen becoming writable
        self.unsafe_promotions = []
        self.states = []  # distinct (gold, golddr) writability, with when it began
        self.runs = {}
        self._unasked = []
        self._api_runs = []  # judged when read: lab.ask learns the id after the run starts
        self.busy_at = {}  # site: when it was last seen running or awaiting a run
        self.stopping = threading.Event()

    def _why_unasked(self, site, trigger, at):
        lab = self.lab
        if trigger == "automation":
            off = lab.automation_off_at.get(site)  # a run it started may be seen just after
            return None if site in lab.automation_on or (off is not None and at - off < 10) \
                else "automation is off"
        if trigger == "configmap":
            return None if site in lab.configmap_asked else "the lab wrote no ConfigMap request"
        if trigger == "peer":
            seen = max(self.busy_at.get(OTHER[site], -1e9), lab.asked_at.get(OTHER[site], -1e9))
            return None if seen is not None and at - seen <= self.PEER_ASK_WINDOW_S else \
                "the peer ran nothing before"
        return "trigger %r" % trigger

    def _sample_runs(self, at):
        for site in SITES:
            s = self.lab.state(site)
            run = s.get("run") or s.get("awaiting_peer")
            if not run:
                continue
            self.busy_at[site] = at
            key = (site, run.get("id"))
            if key in self.runs:
                continue
            trigger = run.get("trigger")
            self.runs[key] = (at, trigger)
            if trigger == "api":
                self._api_runs.append((at, site, run.get("id")))
                continue
            why = self._why_unasked(site, trigger, at)
            if why:
                self._unasked.append((at, site, run.get("id"), trigger, why))

    @property
    def unasked(self):
        return self._unasked + [(at, site, rid, "api", "asked through the API, not by the lab")
                                for at, site, rid in self._api_runs
                                if (site, rid) not in self.lab.asked]

    def run(self):
        prev, last = None, [None, None]  # the sample before; each leader's last answer
        while not self.stopping.is_set():
            t0 = time.time()
            w = (self.lab.recovery("gold", timeout=2), self.lab.recovery("golddr", timeout=2))
            self.samples += 1
            at = round(time.time() - self.lab.t0, 2)
            if w == ("f", "f"):
                self.both.append((at, w))
            for i, site in enumerate(SITES):
                if last[i] == "t" and w[i] == "f":
                    self.promotions.append((at, site))
                    if prev and prev[1 - i] == "f":
                        self.unsafe_promotions.append((at, site, prev, w))
                if w[i] is not None:
                    last[i] = w[i]
            prev = w
            self._sample_runs(at)
            if not self.states or self.states[-1][1] != w:
                self.states.append((round(time.time() - self.lab.t0, 2), w))
            self.stopping.wait(max(0.0, self.period - (time.time() - t0)))

    def stop(self):
        self.stopping.set()
        self.join(5)


class Lab:
    def __init__(self, gslb_interval=1.0, gslb_timeout=3.0, tekton_finish_ms=500,
                 log=None, drwatch_args=(), rules=False, automation=(), switchover_extra="",
                 tekton_attempt_timeout="60s", prometheus=False, extra_resolvers=()):
        """rules: each drwatch loads the shipped switchover rules (rules/lua/switchover.lua:
        FailoverEvidenceAwaitingApproval, AutomaticFailover, ...), evaluated every second.
        automation: the sites whose drwatch starts with switchover.automation = true (see also
        set_automation). switchover_extra: more keys for both switchover sections, e.g.
        'cooldown = "0s", rpo = "1h"'. tekton_attempt_timeout: a hung run is cancelled after
        it. prometheus: a real Prometheus scrapes both drwatch (job "drwatch", label
        drwatch_site) with the shipped Prometheus rules loaded (self.prom, start_prometheus).
        extra_resolvers: more "host:port" entries for both drwatch's gslb.resolvers, after
        the lab's dnsmasq (e.g. a port nothing answers on: one resolver failing)."""
        self.want_prometheus, self.prom = prometheus, None
        self.extra_resolvers = list(extra_resolvers)
        self.gslb_interval, self.gslb_timeout = gslb_interval, gslb_timeout
        self.rules, self.automation = rules, set(automation)
        self.automation_on = set(automation)  # now (set_automation changes it)
        self.automation_off_at = {}  # site: when set_automation turned it off
        self.asked = set()  # (site, run id) of every transition lab.ask had accepted
        self.asked_at = {}  # site: when lab.ask last had one accepted (s since the lab began)
        self.configmap_asked = set()  # sites whose state ConfigMap the lab wrote a request in
        self.switchover_extra = switchover_extra
        self.tekton_finish_ms = tekton_finish_ms
        self.tekton_attempt_timeout = tekton_attempt_timeout  # a hung run is cancelled after it
        self.log = log or (lambda msg: None)
        self.drwatch_args = list(drwatch_args)
        self.dir = tmpdir()
        self.t0 = time.time()
        self.timings = {}
        self.pg = None
        self.dnsmasq = None
        self.gslb = None
        self.dw = {}
        self.k8s, self.tekton, self.portal, self.health_url = {}, {}, {}, {}
        self.kong_cp, self.kong_dp, self.fluentd = {}, {}, {}
        self._health_up = {}
        self._stopping = threading.Event()
        self._stopped = False
        _labs.append(self)

    # ---- start ----

    def start(self):
        self.log("starting the Patroni lab (etcd, gold primary cluster, golddr standby cluster)")
        self.pg = PatroniLab(nodes=("gold1", "golddr1"), log=self.log).start()
        self._mark("patroni")
        for site in SITES:
            self._start_site(site)
        self._mark("fakes")
        self._start_gslb()
        self._mark("gslb")
        self._start_drwatch()
        self._mark("drwatch")
        if self.want_prometheus:
            self.start_prometheus()
            self._mark("prometheus")
        return self

    def _mark(self, what):
        self.timings[what] = round(time.time() - self.t0, 1)
        self.log("%s up at %.1fs" % (what, self.timings[what]))

    def _path(self, name):
        return os.path.join(self.dir, name)

    def _start_site(self, site):
        self.k8s[site] = "http://127.0.0.1:%d" % start_fake(
            "k8s_fake.py", self._path(site + "-k8s.log"))
        # What the switchover agent's Patroni env ConfigMap says of each site at start.
        env = {"STANDBY_HOST": "", "STANDBY_PORT": ""} if site == "gold" else \
            {"STANDBY_HOST": "127.0.0.1", "STANDBY_PORT": str(self.pg.pg_port("gold1"))}
        self.k8s_patch(site, "/api/v1/namespaces/%s/configmaps/patroni-spilo-env-vars" % SOLUTION,
                       {"data": env})
        self.tekton[site] = "http://127.0.0.1:%d" % start_fake(
            "tekton_listener_fake.py", self._path(site + "-tekton.log"), "--k8s", self.k8s[site],
            "--secret", TEKTON_SECRET, "--namespace", TOOLS, "--outcomes", "success",
            "--create-ms", "200", "--finish-ms", str(self.tekton_finish_ms))
        self.portal[site] = "http://127.0.0.1:%d" % start_fake(
            "portal_fake.py", self._path(site + "-portal.log"))
        # The gateway each site runs, as the collectors see it: Kong's control plane (Admin
        # API), a data plane (status listener) and FluentD (monitor_agent).
        self.kong_cp[site] = "http://127.0.0.1:%d" % start_fake(
            "kong_fake.py", self._path(site + "-kong-cp.log"), "--version", "3.9.1", "--role",
            "control_plane")
        self.kong_dp[site] = "http://127.0.0.1:%d" % start_fake(
            "kong_fake.py", self._path(site + "-kong-dp.log"), "--version", "3.9.1", "--role",
            "data_plane", "--listener", "status")
        self.fluentd[site] = "http://127.0.0.1:%d" % start_fake(
            "fluentd_fake.py", self._path(site + "-fluentd.log"), "--version", "1.19.2")

    def k8s_patch(self, site, path, body):
        if "switchover-state" in path and "transition" in json.dumps(body.get("data") or {}):
            self.configmap_asked.add(site)
        status, _, text = http("PATCH", self.k8s[site] + path, body=json.dumps(body).encode(),
                               headers={"Content-Type": "application/merge-patch+json"})
        if status != 200:
            raise RuntimeError("PATCH %s on %s's fake: %d %s" % (path, site, status, text[:200]))
        return json.loads(text)

    def k8s_put(self, site, path, obj):
        if "switchover-state" in path and "transition" in json.dumps(obj.get("data") or {}):
            self.configmap_asked.add(site)
        status, _, text = http("PUT", self.k8s[site] + path, body=json.dumps(obj).encode(),
                               headers={"Content-Type": "application/json"})
        if status != 200:
            raise RuntimeError("PUT %s on %s's fake: %d %s" % (path, site, status, text[:200]))
        return json.loads(text)

    def k8s_mode(self, site, mode):
        """A fakebase failure mode on a site's Kubernetes fake (/__fake/mode)."""
        status, _, text = http("POST", self.k8s[site] + "/__fake/mode",
                               body=json.dumps(mode).encode())
        if status != 200:
            raise RuntimeError("mode on %s's fake: %d %s" % (site, status, text[:200]))

    def k8s_get(self, site, path):
        status, _, text = http("GET", self.k8s[site] + path, timeout=3)
        return json.loads(text) if status == 200 else None

    # ---- the GSLB ----

    def _start_gslb(self):
        self.hosts = self._path("gslb.hosts")
        self.dns_port = free_port()
        self.set_dns_answer("none")
        dns_log = self._path("dnsmasq.log")
        self.dnsmasq = spawn(["dnsmasq", "--no-daemon", "--port=%d" % self.dns_port,
                              "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv",
                              "--no-hosts", "--addn-hosts=" + self.hosts, "--local-ttl=1",
                              "--local=/example.test/",
                              "--cname=%s,%s" % (GSLB_NAME, GSLB_POOL), "--user=root",
                              "--pid-file=" + self._path("dnsmasq.pid")], dns_log)
        if not wait_for(lambda: "read " + self.hosts in open(dns_log).read(), 20):
            raise RuntimeError("dnsmasq did not start:\n" + open(dns_log).read())
        self.ca = gslb_fake.make_ca(self.dir, "lab-ca")
        cert = gslb_fake.make_cert(self.dir, "site", self.ca, san=["DNS:localhost",
                                                                   "IP:127.0.0.1"])
        for site in SITES:
            port = start_fake("gslb_fake.py", self._path(site + "-health.log"), *cert)
            self.health_url[site] = "https://127.0.0.1:%d" % port
            self._health_up[site] = True
        self._follow_health()  # the seed's health APIs are scaled to 2
        threading.Thread(target=self._health_loop, daemon=True, name="health-api").start()
        self.gslb = Gslb(self, self.gslb_interval, self.gslb_timeout)
        self.gslb.start()
        if not wait_for(lambda: self.gslb_answer() == "gold", 20, 0.1):
            raise RuntimeError("the GSLB does not answer gold at start")

    def set_dns_answer(self, answer):
        ips = {"gold": [SITE_IP["gold"]], "golddr": [SITE_IP["golddr"]], "none": [],
               "both": [SITE_IP["gold"], SITE_IP["golddr"]]}[answer]
        with open(self.hosts + ".tmp", "w") as f:
            for ip in ips:
                f.write("%s %s\n" % (ip, GSLB_POOL))
            if not ips:
                f.write("fd00::1 %s\n" % GSLB_POOL)
        os.rename(self.hosts + ".tmp", self.hosts)
        if self.dnsmasq and self.dnsmasq.poll() is None:
            self.dnsmasq.send_signal(signal.SIGHUP)  # re-reads --addn-hosts
        self.log("GSLB now answers %s" % answer)

    def gslb_answer(self):
        """What dnsmasq answers for the GSLB name now: gold, golddr, both, none or None (no
        answer)."""
        ips = dns_query_a("127.0.0.1", self.dns_port, GSLB_NAME)
        if ips is None:
            return None
        sites = sorted(s for s in SITES if SITE_IP[s] in ips)
        return {(): "none", ("gold",): "gold", ("golddr",): "golddr"}.get(tuple(sites), "both")

    def health_ready(self, site):
        d = self.k8s_get(site, "/apis/apps/v1/namespaces/%s/deployments/%s" % (TOOLS,
                                                                             HEALTH_DEPLOY))
        return bool(d and (d.get("status") or {}).get("readyReplicas", 0) > 0)

    def _follow_health(self):
        """The router in front of each site's health API: /health answers while a pod of the
        Deployment is ready, 503 once none is."""
        for site in SITES:
            try:
                up = self.health_ready(site)
            except OSError:
                continue
            if up == self._health_up.get(site):
                continue
            url = self.health_url[site]
            gslb_fake.control(url, "reset")
            if not up:
                gslb_fake.control(url, "mode", {"path": "/health", "mode": "status",
                                                "status": 503})
            self._health_up[site] = up
            self.log("%s's health API %s" % (site, "up" if up else "down (503)"))

    def _health_loop(self):
        while not self._stopping.wait(0.2):
            try:
                self._follow_health()
            except OSError:
                pass

    def scale_health(self, site, replicas):
        """Scales a site's health API, as a person (or gslb.md's test suite) does."""
        self.k8s_patch(site, "/apis/apps/v1/namespaces/%s/deployments/%s/scale" % (
            TOOLS, HEALTH_DEPLOY), {"spec": {"replicas": replicas}})

    # ---- drwatch ----

    def _start_drwatch(self):
        certs = {s: gslb_fake.make_cert(self.dir, "drwatch-" + s, self.ca,
                                        san=["DNS:drwatch.%s.test" % s, "IP:127.0.0.1"])
                 for s in SITES}
        peer_ports = {s: free_port() for s in SITES}
        with open(self._path("patroni-password"), "w") as f:
            f.write(API_PASS + "\n")
        with open(self._path("pg-password"), "w") as f:
            f.write(MONITOR_PASS + "\n")
        with open(self._path("tekton-secret"), "w") as f:
            f.write(TEKTON_SECRET + "\n")
        for site in SITES:
            data = os.path.join(self.dir, site + "-data")
            os.makedirs(data)
            cfg = self.config(site, certs, peer_ports, data)
            self.dw[site] = Drwatch(cfg, name=site, extra_args=self.drwatch_args)
        for site in SITES:
            self.dw[site].start(wait_ready=False)
        for site in SITES:
            if not wait_for(lambda: self.dw[site].proc.poll() is not None or
                            self.dw[site].get("/-/ready")[0] == 200, 60, 0.2) or \
                    self.dw[site].proc.poll() is not None:
                raise RuntimeError("drwatch %s did not become ready; log:\n%s" % (
                    site, self.dw[site].log()[-3000:]))
        for site in SITES:
            if not wait_for(lambda: self.state(site).get("state") == "active-passive", 30, 0.2):
                raise RuntimeError("drwatch %s is not active-passive: %s" % (site,
                                                                            self.state(site)))

    def config(self, site, certs, peer_ports, data):
        other = OTHER[site]
        pg = self.pg
        v = dict(
            site=site, other=other, name=GSLB_NAME, gold_ip=SITE_IP["gold"],
            golddr_ip=SITE_IP["golddr"], dns=self.dns_port, host=GSLB_HOST,
            gold_health=self.health_url["gold"], golddr_health=self.health_url["golddr"],
            ca=self.ca[0], cert=certs[site][0], key=certs[site][1], lp=peer_ports[site],
            op=peer_ports[other], gold_rest=pg.rest("gold1"), golddr_rest=pg.rest("golddr1"),
            gold_pg=pg.pg_port("gold1"), golddr_pg=pg.pg_port("golddr1"),
            user=MONITOR_USER, pgpass=self._path("pg-password"), k8s=self.k8s[site],
            data=data, rest=pg.rest(LEADER[site]), api_user=API_USER,
            api_pass=self._path("patroni-password"), slot=site,
            standby_port=pg.pg_port(LEADER[other]), portal=self.portal[site],
            gold_kong_cp=self.kong_cp["gold"], gold_kong_dp=self.kong_dp["gold"],
            golddr_kong_cp=self.kong_cp["golddr"], golddr_kong_dp=self.kong_dp["golddr"],
            gold_fluentd=self.fluentd["gold"], golddr_fluentd=self.fluentd["golddr"],
            tekton=self.tekton[site], secret=self._path("tekton-secret"), tools=TOOLS,
            solution=SOLUTION, attempt_timeout=self.tekton_attempt_timeout,
            extra_resolvers="".join(', "%s"' % r for r in self.extra_resolvers),
            automation="true" if site in self.automation else "false",
            extra=(self.switchover_extra + ",") if self.switchover_extra else "",
            rules=('rules = { files = { "%s" }, evaluation_interval = "1s" }\n' %
                   os.path.join(HERE, "..", "..", "rules", "lua", "switchover.lua"))
            if self.rules else "")
        return """-- drwatch %(site)s in the two-site lab (tests/lib/lab.py)
drwatch = { site = "%(site)s", interval = "2s", fast_interval = "1s" }
gslb = {
  name = "%(name)s",
  sites = { gold = { "%(gold_ip)s" }, golddr = { "%(golddr_ip)s" } },
  resolvers = { "127.0.0.1:%(dns)d"%(extra_resolvers)s },
  timeout = "300ms", tries = 2,
  probes = {
    { site = "gold", url = "%(gold_health)s/health", host = "%(host)s", ca_file = "%(ca)s" },
    { site = "golddr", url = "%(golddr_health)s/health", host = "%(host)s", ca_file = "%(ca)s" },
  },
}
patroni = { targets = {
  { site = "gold", name = "gold", url = "%(gold_rest)s" },
  { site = "golddr", name = "golddr", url = "%(golddr_rest)s" },
} }
postgres = { targets = {
  { site = "gold", name = "gold", host = "127.0.0.1", port = %(gold_pg)d, user = "%(user)s",
    password_file = "%(pgpass)s", reconnect_backoff_max = "1s" },
  { site = "golddr", name = "golddr", host = "127.0.0.1", port = %(golddr_pg)d, user = "%(user)s",
    password_file = "%(pgpass)s", reconnect_backoff_max = "1s" },
} }
kong = { targets = {
  { site = "gold", name = "kong-cp-gold", url = "%(gold_kong_cp)s", role = "control_plane" },
  { site = "gold", name = "kong-dp-gold", url = "%(gold_kong_dp)s", role = "data_plane" },
  { site = "golddr", name = "kong-cp-golddr", url = "%(golddr_kong_cp)s", role = "control_plane" },
  { site = "golddr", name = "kong-dp-golddr", url = "%(golddr_kong_dp)s", role = "data_plane" },
} }
fluentd = { targets = {
  { site = "gold", name = "gold/fluentd-0", url = "%(gold_fluentd)s" },
  { site = "golddr", name = "golddr/fluentd-0", url = "%(golddr_fluentd)s" },
} }
configmap = { env = "dev", targets = { { site = "%(site)s", url = "%(k8s)s",
                                         namespace = "%(tools)s", interval = "1s" } } }
peer_listen = { address = "127.0.0.1:%(lp)d", cert_file = "%(cert)s", key_file = "%(key)s",
                client_ca_file = "%(ca)s", allowed_clients = { "drwatch.%(other)s.test" } }
peer = { targets = { { site = "%(other)s", url = "https://127.0.0.1:%(op)d", ca_file = "%(ca)s",
                       cert_file = "%(cert)s", key_file = "%(key)s", interval = "1s" } } }
switchover = {
  data_dir = "%(data)s",
  samples = 2, hold = "1s", fresh = "5s", peer_timeout = "10s",
  automation = %(automation)s, %(extra)s
  env = "dev",
  kubernetes = { site = "%(site)s", url = "%(k8s)s", namespace = "%(tools)s" },
  namespaces = { tools = "%(tools)s", solution = "%(solution)s", tekton = "%(tools)s" },
  patroni = { site = "%(site)s", url = "%(rest)s", username = "%(api_user)s",
              password_file = "%(api_pass)s", primary_slot_name = "%(slot)s",
              stall_timeout = "30s" },
  standby = { host = "127.0.0.1", port = %(standby_port)d },
  portal = { site = "%(site)s", url = "%(portal)s" },
  tekton = { site = "%(site)s", url = "%(tekton)s", hmac_secret_file = "%(secret)s",
             repo = "https://github.com/example/gateway-config.git", ref = "refs/heads/main",
             retries = 1, retry_interval = "1s", attempt_timeout = "%(attempt_timeout)s",
             total_cap = "120s" },
}
%(rules)s""" % v

    # ---- what a test reads and asks ----

    def state(self, site):
        try:
            status, _, body = self.dw[site].get("/api/v1/state")
        except OSError:
            return {}
        return json.loads(body) if status == 200 else {}

    def ask(self, site, to, reason="lab", **extra):
        body = dict(extra, to=to, reason=reason)
        dw = self.dw[site]
        status, _, text = dw.post("/api/v1/transition", json.dumps(body).encode(),
                                  headers={"Authorization": "Bearer %s" % dw.token})
        r = json.loads(text)
        if r.get("plan"):
            self.asked.add((site, r["plan"]))
            self.asked_at[site] = time.time() - self.t0
        return status, r

    def settled(self, site, run_id):
        """The run's record (GET /api/v1/plans/<id>) once it ended (or was refused), else None."""
        p = self.plan(site, run_id)
        return p if p and p["status"] not in ("awaiting_peer", "running") else None

    def idle(self, site, state=None):
        """Whether the site runs and awaits nothing (and is in state, when given)."""
        s = self.state(site)
        return bool(s) and not s.get("transition_in_progress") and "awaiting_peer" not in s \
            and (state is None or s.get("state") == state)

    def running_step(self, site, run_id):
        """The action of the run's step running now, or None."""
        p = self.plan(site, run_id)
        return next((s["action"] for s in (p or {}).get("steps", [])
                     if s["status"] == "running"), None)

    def rows(self, site):
        """The lab's test table on site's leader: "count max_id"."""
        return self.psql(site, "SELECT count(*) || ' ' || coalesce(max(id), 0) FROM rows",
                         check=False)

    def plan(self, site, run_id):
        status, _, body = self.dw[site].get("/api/v1/plans/" + run_id)
        return json.loads(body) if status == 200 else None

    def kill(self, site):
        """SIGKILL a site's drwatch: it keeps only what it wrote and fsynced."""
        dw = self.dw[site]
        dw.proc.kill()
        dw.proc.wait(10)
        self.log("drwatch %s killed (SIGKILL)" % site)

    def restart(self, site, timeout=60):
        """Starts a site's drwatch again with the same config, data directory, ports and log
        (appended to), and waits until it is ready."""
        dw = self.dw[site]
        dw.start(wait_ready=False)
        if not wait_for(lambda: dw.proc.poll() is not None or dw.get("/-/ready")[0] == 200,
                        timeout, 0.1) or dw.proc.poll() is not None:
            raise RuntimeError("drwatch %s did not become ready again; log:\n%s" % (
                site, dw.log()[-3000:]))
        self.log("drwatch %s restarted" % site)

    def recovery(self, site, timeout=10):
        """pg_is_in_recovery() on the site's leader: "t", "f", or None (no answer)."""
        return self.pg.psql(LEADER[site], "SELECT pg_is_in_recovery()", check=False,
                            timeout=timeout)

    def writable(self, site):
        return self.recovery(site) == "f"

    def psql(self, site, sql, check=True):
        return self.pg.psql(LEADER[site], sql, check=check)

    def invariant_checker(self, period=0.2):
        c = InvariantChecker(self, period)
        c.start()
        return c

    def activity(self, site, fake):
        """What a site's fake (k8s, tekton, portal) was asked, in order."""
        url = {"k8s": self.k8s, "tekton": self.tekton, "portal": self.portal}[fake][site]
        status, _, body = http("GET", url + "/activity")
        return json.loads(body)

    def set_automation(self, site, on):
        """Rewrites the site's config with switchover.automation on or off and reloads it
        (POST /-/reload); True once drwatch_automation_enabled says so."""
        dw = self.dw[site]
        with open(dw.config_path) as f:
            text = f.read()
        new = re.sub(r"automation = (true|false)", "automation = %s" % (
            "true" if on else "false"), text, count=1)
        dw.write_config(new)
        status, _, body = dw.reload()
        if status != 200:
            raise RuntimeError("reload of %s: %d %s" % (site, status, body[:300]))
        (self.automation_on.add if on else self.automation_on.discard)(site)
        if not on:
            self.automation_off_at[site] = time.time() - self.t0
        return bool(wait_for(lambda: dw.sample("drwatch_automation_enabled") == (
            1.0 if on else 0.0), 10, 0.1))

    def set_extra_resolvers(self, site, extra):
        """Rewrites the site's config with these extra GSLB resolvers after the lab's dnsmasq
        (none: dnsmasq alone) and reloads it (POST /-/reload)."""
        dw = self.dw[site]
        with open(dw.config_path) as f:
            text = f.read()
        new = re.sub(r'resolvers = \{ "127\.0\.0\.1:%d"[^}]*\}' % self.dns_port,
                     lambda m: 'resolvers = { "127.0.0.1:%d"%s }' % (
                         self.dns_port, "".join(', "%s"' % r for r in extra)), text, count=1)
        dw.write_config(new)
        status, _, body = dw.reload()
        if status != 200:
            raise RuntimeError("reload of %s: %d %s" % (site, status, body[:300]))

    def evidence(self, site):
        """GET /api/v1/evidence: {"complete", "automation", "checks": {name: (ok, saw)}}."""
        status, _, body = self.dw[site].get("/api/v1/evidence")
        if status != 200:
            return {}
        e = json.loads(body)
        e["checks"] = {c["check"]: (c["ok"], c["saw"]) for c in e.get("checks", [])}
        return e

    def alerts(self, site):
        """The names of the alerts firing on the site (GET /api/v1/alerts)."""
        status, _, body = self.dw[site].get("/api/v1/alerts")
        if status != 200:
            return []
        return sorted(a["labels"]["alertname"] for a in json.loads(body)["data"]["alerts"]
                      if a.get("state") == "firing")

    def urls(self):
        return {s: self.dw[s].url for s in SITES}

    # ---- Prometheus ----

    def prometheus_rule_files(self):
        """What an outside Prometheus loads: the Prometheus twins of the Lua rules and the
        rules only it can evaluate (Watchdog, DrwatchDown, DrwatchAbsent)."""
        root = os.path.join(HERE, "..", "..", "rules")
        return sorted(glob.glob(os.path.join(root, "prometheus", "*.yml"))) + \
            sorted(glob.glob(os.path.join(root, "prometheus-only", "*.yml")))

    def start_prometheus(self, scrape_interval="1s"):
        """A real Prometheus scraping both drwatch every scrape_interval as job "drwatch" (the
        name rules/prometheus-only/ expects), each target labelled drwatch_site (not site:
        drwatch's samples carry site, which Prometheus would rename), with
        prometheus_rule_files() loaded and evaluated every second. Waits until it is ready."""
        targets = "".join("""      - targets: ['127.0.0.1:%d']
        labels: { drwatch_site: '%s' }
""" % (self.dw[s].port, s) for s in SITES)
        job = "  - job_name: drwatch\n    scrape_interval: %s\n    static_configs:\n%s" % (
            scrape_interval, targets)
        self.prom = drwatch_test.Prometheus([], rule_files=self.prometheus_rule_files(),
                                            jobs=job).start()
        self.log("Prometheus at %s" % self.prom.url)
        return self.prom

    # ---- teardown ----

    def stop(self):
        if self._stopped:
            return
        self._stopped = True
        if self in _labs:
            _labs.remove(self)
        self._stopping.set()
        if self.gslb:
            self.gslb.stopping.set()
        if self.prom:
            self.prom.stop()
        for dw in self.dw.values():
            try:
                dw.stop()
            except (OSError, subprocess.SubprocessError):
                pass
        if self.pg:
            self.pg.stop()
        drwatch_test._cleanup()  # the fakes and dnsmasq (spawned through drwatch_test)


# ---- reading a run's record (GET /api/v1/plans/<id>) ----

def show(p):
    """A run's record in one line, for test output."""
    return "%s: %s; steps: %s" % (p["status"], p["detail"], ", ".join(
        "%s %s" % (s["action"], s["status"]) for s in p["steps"])) if p else "no record"


def step_ok(p):
    """A run that ended ok, every step ok or found done already."""
    return bool(p and p["status"] == "ok" and
                all(s["status"] in ("ok", "already") for s in p["steps"]))


def told_run(p):
    """The peer's run id, from the tell_peer step of a settled run p ("accepted: run X")."""
    tell = [s for s in (p or {}).get("steps", []) if s["action"] == "tell_peer"]
    m = re.search(r"accepted: run (\S+)", tell[0]["detail"]) if tell else None
    return m.group(1) if m else None


# ---- a lab test's beginning and end ----

def start_for(t, lab, t0):
    """Starts lab for the TAP test t; a lab that does not come up is the test's failure."""
    try:
        lab.start()
    except Exception as e:  # noqa: BLE001 - the lab's failure is the test's
        t.ok(False, "the lab starts: %s" % e)
        t.done()
    t.ok(True, "the lab is up in %.1fs (%s)" % (time.time() - t0, lab.timings))


def invariants_held(t, checker):
    """Stops the checker and asserts the issue's three invariants over everything it saw."""
    checker.stop()
    t.diag("writability seen (s since the lab began: gold, golddr in recovery):")
    for at, w in checker.states:
        t.diag("  %7.2f  %s" % (at, w))
    t.ok(checker.samples > 50, "%d samples of both leaders" % checker.samples)
    t.is_(checker.both, [], "never were both leaders writable at once")
    t.is_(checker.unsafe_promotions, [],
          "no leader was promoted while the other answered writable (promotions: %s)"
          % checker.promotions)
    t.is_(checker.unasked, [], "every run was asked for: by the test, the peer's run, or "
          "automation where it is on (%d runs seen)" % len(checker.runs))


def stop_for(t, lab, t0, what="whole file"):
    """Stops both drwatch (each must exit cleanly on SIGTERM) and the lab; ends the test."""
    for site in SITES:
        lab.dw[site].stop_clean(t)
    lab.stop()
    t.ok(True, "%s %.1fs" % (what, time.time() - t0))
    t.done()
