"""A real Patroni lab on loopback, from Debian packages: etcd, a "gold" primary cluster and a
"golddr" standby cluster replicating from gold's leader (the verified loopback recipe for a primary and a standby cluster).

    lab = PatroniLab(nodes=("gold1", "gold2", "golddr1")).start()
    lab.rest("golddr1")              # http://127.0.0.1:PORT
    lab.pg_port("gold1")
    lab.write_rows(1000)             # on gold's leader
    lab.stop_postgres("golddr1")     # maintenance mode first, so Patroni does not restart it
    lab.stop_rest_api("gold2")       # SIGSTOP Patroni: its REST API hangs, PostgreSQL runs on
    lab.stop_etcd()
    lab.promote("golddr")            # PATCH /config {"standby_cluster": null}

Everything runs in a temporary directory with ports picked free in 20000-29999. Patroni runs
as the postgres user through setpriv (it execs, so the PID is Patroni's) under `env -i` (no
PG* or ETCD* variables leak in), with the recipe's small settings (ttl 10, loop_wait 1) and
fsync off. The lab is torn down at exit, also when the test fails or is killed with SIGTERM:
Patroni's postmasters run in their own sessions, so teardown kills each Patroni, then each
postmaster named in a postmaster.pid, then anything whose command line still names the lab
directory, then etcd.
"""
import atexit
import base64
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

from drwatch_test import free_port, wait_for

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                key=lambda p: int(p.split("/")[-2]))[-1] if glob.glob(
    "/usr/lib/postgresql/*/bin") else "/usr/lib/postgresql/15/bin"
API_USER, API_PASS = "patroni", "apipass"
SUPER_PASS, REPL_PASS = "supersecret", "replsecret"
MONITOR_USER, MONITOR_PASS = "drwatch", "drwatchsecret"
CLUSTERS = {"gold": ("gold1", "gold2"), "golddr": ("golddr1", "golddr2")}

_labs = []


def _teardown_all():
    for lab in list(_labs):
        lab.stop()


atexit.register(_teardown_all)


class PatroniLab:
    def __init__(self, nodes=("gold1", "gold2", "golddr1"), log=None):
        self.nodes = list(nodes)
        self.log = log or (lambda msg: None)
        # Short: socket paths ($dir/run/.s.PGSQL.NNNNN) must stay under 108 bytes.
        self.dir = tempfile.mkdtemp(prefix="dwlab")
        os.chmod(self.dir, 0o755)
        self.etcd_port, self.etcd_peer = free_port(), free_port()
        self.ports = {n: (free_port(), free_port()) for n in self.nodes}  # rest, pg
        self.procs = {}
        self.etcd = None
        self.timings = {}
        _labs.append(self)

    # ---- addresses ----

    def rest(self, node):
        return "http://127.0.0.1:%d" % self.ports[node][0]

    def pg_port(self, node):
        return self.ports[node][1]

    def cluster_of(self, node):
        return "golddr" if node.startswith("golddr") else "gold"

    def members(self, cluster):
        return [n for n in self.nodes if self.cluster_of(n) == cluster]

    def leader_of(self, cluster):
        return self.members(cluster)[0]

    # ---- configuration ----

    def _config(self, node):
        rest, pg = self.ports[node]
        cluster = self.cluster_of(node)
        # Each cluster keeps a permanent slot for the other to follow it through (golddr on
        # gold, gold on golddr): a demoted gold follows golddr through slot "gold".
        if cluster == "gold":
            extra = "    slots:\n      golddr:\n        type: physical\n"
        else:
            extra = ("    standby_cluster:\n      host: 127.0.0.1\n      port: %d\n"
                     "      primary_slot_name: golddr\n      create_replica_methods:\n"
                     "        - basebackup\n"
                     "    slots:\n      gold:\n        type: physical\n" % self.pg_port("gold1"))
        d = os.path.join(self.dir, node)
        return """scope: %(cluster)s
namespace: /dwlab/
name: %(node)s
log:
  level: INFO
restapi:
  listen: 127.0.0.1:%(rest)d
  connect_address: 127.0.0.1:%(rest)d
  authentication:
    username: %(api_user)s
    password: %(api_pass)s
etcd3:
  hosts: 127.0.0.1:%(etcd)d
watchdog:
  mode: off
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: false
      use_slots: true
      parameters:
        wal_level: replica
        hot_standby: "on"
        max_connections: 30
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 64MB
        shared_buffers: 16MB
        wal_retrieve_retry_interval: 500ms
        fsync: "off"
        synchronous_commit: "off"
        full_page_writes: "off"
%(extra)s  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - no-sync
postgresql:
  listen: 127.0.0.1:%(pg)d
  connect_address: 127.0.0.1:%(pg)d
  data_dir: %(d)s/data
  bin_dir: %(bin)s
  pgpass: %(d)s/pgpass
  basebackup:
    - checkpoint: fast
    - no-sync
  authentication:
    superuser:
      username: postgres
      password: %(super)s
    replication:
      username: replicator
      password: %(repl)s
  parameters:
    unix_socket_directories: %(run)s
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 scram-sha-256
    - host replication replicator 127.0.0.1/32 scram-sha-256
""" % dict(cluster=cluster, node=node, rest=rest, pg=pg, etcd=self.etcd_port, extra=extra,
           d=d, bin=PG_BIN, super=SUPER_PASS, repl=REPL_PASS, run=os.path.join(self.dir, "run"),
           api_user=API_USER, api_pass=API_PASS)

    # ---- start ----

    def start(self):
        t0 = time.time()
        os.makedirs(os.path.join(self.dir, "run"))
        for n in self.nodes:
            os.makedirs(os.path.join(self.dir, n))
            with open(os.path.join(self.dir, n, "patroni.yml"), "w") as f:
                f.write(self._config(n))
        subprocess.run(["chown", "-R", "postgres:postgres", self.dir], check=True)
        self._start_etcd()
        if not wait_for(lambda: self._get("http://127.0.0.1:%d/health" % self.etcd_port), 20):
            raise RuntimeError("etcd did not start:\n" + self.file_tail("etcd.log"))
        self.timings["etcd"] = time.time() - t0
        self.start_node("gold1")
        self.wait_ready("gold1", "primary", 60)
        self.timings["gold leader"] = time.time() - t0
        self.psql("gold1", "CREATE ROLE %s LOGIN PASSWORD '%s' IN ROLE pg_monitor; "
                  "CREATE TABLE rows (id serial PRIMARY KEY, payload text)"
                  % (MONITOR_USER, MONITOR_PASS))
        # gold's replica and golddr's standby leader both copy from gold1: start them together.
        rest = [n for n in self.nodes if n != "gold1"]
        first = [n for n in rest if n in ("gold2", "golddr1")]
        for n in first:
            self.start_node(n)
        for n in first:
            self.wait_ready(n, "standby_leader" if n == "golddr1" else "replica", 90)
        for n in rest:
            if n not in first:
                self.start_node(n)
                self.wait_ready(n, "replica", 90)
        self.timings["all streaming"] = time.time() - t0
        return self

    def _start_etcd(self):
        d = os.path.join(self.dir, "etcd")
        url = "http://127.0.0.1:%d" % self.etcd_port
        peer = "http://127.0.0.1:%d" % self.etcd_peer
        log = open(os.path.join(self.dir, "etcd.log"), "ab")
        self.etcd = subprocess.Popen(
            ["etcd", "--name", "dwlab", "--data-dir", d, "--listen-client-urls", url,
             "--advertise-client-urls", url, "--listen-peer-urls", peer,
             "--initial-advertise-peer-urls", peer, "--initial-cluster", "dwlab=" + peer,
             "--initial-cluster-state", "new", "--initial-cluster-token", "dwlab"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, start_new_session=True)

    def start_node(self, node):
        d = os.path.join(self.dir, node)
        log = open(os.path.join(d, "patroni.log"), "ab")
        self.procs[node] = subprocess.Popen(
            ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--",
             "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "HOME=" + d,
             "/usr/bin/patroni", os.path.join(d, "patroni.yml")],
            cwd=d, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)

    def wait_ready(self, node, role, timeout):
        """A leader is ready when /primary is 200 and PostgreSQL is writable; a standby when
        its health check answers and its WAL receiver streams (patroni-lab.md pitfall 8)."""
        rest = self.rest(node)
        if role == "primary":
            def ready():
                return self.code(rest + "/primary") == 200 and \
                    self.psql(node, "SELECT pg_is_in_recovery()", check=False) == "f"
        else:
            path = "/standby-leader" if role == "standby_leader" else "/replica"

            def ready():
                return self.code(rest + path) == 200 and self.psql(
                    node, "SELECT status FROM pg_stat_wal_receiver", check=False) == "streaming"
        if not wait_for(ready, timeout, 0.1):
            raise RuntimeError("%s did not become %s; log:\n%s" % (
                node, role, self.file_tail(os.path.join(node, "patroni.log"))))

    # ---- helpers ----

    def file_tail(self, rel, n=40):
        try:
            with open(os.path.join(self.dir, rel), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError as e:
            return str(e)

    def _get(self, url, timeout=2):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return r.read()
        except (OSError, urllib.error.URLError):
            return None

    def code(self, url, timeout=2):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except (OSError, urllib.error.URLError):
            return None

    def get_json(self, node, path):
        req = urllib.request.Request(self.rest(node) + path)
        try:
            with urllib.request.urlopen(req, timeout=3) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read())

    def patch_config(self, node, body):
        auth = base64.b64encode(("%s:%s" % (API_USER, API_PASS)).encode()).decode()
        data = json.dumps(body).encode()
        req = urllib.request.Request(self.rest(node) + "/config", data=data, method="PATCH",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": "Basic " + auth})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())

    def psql(self, node, sql, check=True, timeout=10):
        """Runs sql as the superuser over TCP; returns the unaligned output, or None."""
        env = {"PATH": "/usr/bin:/bin", "PGPASSWORD": SUPER_PASS, "PGCONNECT_TIMEOUT": "2"}
        try:
            r = subprocess.run([os.path.join(PG_BIN, "psql"), "-XAtq", "-h", "127.0.0.1", "-p",
                                str(self.pg_port(node)), "-U", "postgres", "-d", "postgres",
                                "-c", sql], env=env, capture_output=True, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            if check:
                raise
            return None
        if r.returncode != 0:
            if check:
                raise RuntimeError("psql on %s: %s" % (node, r.stderr.strip()))
            return None
        return r.stdout.strip()

    # ---- actions ----

    def write_rows(self, n, node="gold1"):
        self.psql(node, "INSERT INTO rows (payload) SELECT repeat('x', 200) "
                  "FROM generate_series(1, %d)" % n)

    def _log_size(self, node):
        try:
            return os.path.getsize(os.path.join(self.dir, node, "patroni.log"))
        except OSError:
            return 0

    def _log_has(self, node, text, offset):
        with open(os.path.join(self.dir, node, "patroni.log"), "rb") as f:
            f.seek(offset)
            return text.encode() in f.read()

    def pause(self, cluster, on=True):
        """Patroni maintenance mode: it then leaves PostgreSQL alone. Returns once every
        member's HA loop has acted on it (logged "PAUSE:"), not only once the DCS has it:
        a loop that has not seen it yet would undo what the caller does next."""
        leader = self.leader_of(cluster)
        offsets = {n: self._log_size(n) for n in self.members(cluster)}
        self.patch_config(leader, {"pause": True if on else None})
        want = bool(on)
        wait_for(lambda: bool(self.get_json(leader, "/patroni").get("pause")) == want, 10, 0.1)
        if on:
            for n, off in offsets.items():
                wait_for(lambda: self._log_has(n, "PAUSE:", off), 10, 0.05)

    def pause_replay(self, node="golddr1"):
        """Holds replay on a standby: Patroni (PG >= 14) resumes a plain pg_wal_replay_pause()
        by itself, so its cluster goes into maintenance mode first (patroni-lab.md)."""
        self.pause(self.cluster_of(node))
        self.psql(node, "SELECT pg_wal_replay_pause()")

    def resume_replay(self, node="golddr1"):
        self.psql(node, "SELECT pg_wal_replay_resume()")
        self.pause(self.cluster_of(node), False)

    def stop_postgres(self, node):
        """Stops a member's PostgreSQL and keeps it down while Patroni runs on. Patroni 3.0.2
        restarts a stopped standby leader even in maintenance mode ("changing primary_conninfo
        and restarting"), so the port is taken over until start_postgres: Patroni's restarts
        fail to bind, and a client's connection is closed at once, as by a dead server behind
        its address. (A bound socket that never listens would refuse clients more faithfully,
        but the server's TIME_WAIT sockets on that port forbid it without SO_REUSEADDR, and
        with it PostgreSQL could bind too.)"""
        self.pause(self.cluster_of(node))
        pg_ctl = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--",
                  os.path.join(PG_BIN, "pg_ctl"), "-D", os.path.join(self.dir, node, "data"),
                  "-m", "fast", "-w", "stop"]
        subprocess.run(pg_ctl, capture_output=True, env={"PATH": "/usr/bin:/bin"})
        hold = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        end = time.time() + 20
        while True:
            try:
                hold.bind(("127.0.0.1", self.pg_port(node)))
                hold.listen(16)
                break
            except OSError:  # Patroni's restart won the race: stop that one too
                if time.time() > end:
                    hold.close()
                    raise RuntimeError("could not take over %s's port" % node)
                subprocess.run(pg_ctl, capture_output=True, env={"PATH": "/usr/bin:/bin"})
                time.sleep(0.05)

        def refuse():
            while True:
                try:
                    conn, _ = hold.accept()
                except OSError:
                    return
                conn.close()
        threading.Thread(target=refuse, daemon=True).start()
        self._held = getattr(self, "_held", {})
        self._held[node] = hold

    def start_postgres(self, node):
        """Frees the port and leaves maintenance mode: Patroni starts PostgreSQL again."""
        hold = getattr(self, "_held", {}).pop(node, None)
        if hold:
            hold.shutdown(socket.SHUT_RDWR)
            hold.close()
        self.pause(self.cluster_of(node), False)

    def stop_rest_api(self, node):
        """Freezes Patroni (SIGSTOP): its REST API accepts connections and never answers, while
        PostgreSQL goes on. Keep it shorter than ttl (10 s) or the member loses its lock."""
        os.kill(self.procs[node].pid, signal.SIGSTOP)

    def resume_rest_api(self, node):
        os.kill(self.procs[node].pid, signal.SIGCONT)

    def stop_etcd(self):
        self.etcd.terminate()
        self.etcd.wait(10)

    def promote(self, cluster="golddr"):
        """Clears standby_cluster (patroni.md section 6): the standby leader becomes a primary."""
        return self.patch_config(self.leader_of(cluster), {"standby_cluster": None})

    # ---- teardown ----

    def stop(self):
        if self not in _labs:
            return
        _labs.remove(self)
        # Immediate teardown: the data is thrown away, so no clean shutdown is needed.
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                p.wait()
        for n in self.nodes:
            try:
                with open(os.path.join(self.dir, n, "data", "postmaster.pid")) as f:
                    os.kill(int(f.readline()), signal.SIGQUIT)
            except (OSError, ValueError):
                pass
        self._sweep(signal.SIGQUIT)
        wait_for(lambda: not self._lab_pids(), 5, 0.05)
        self._sweep(signal.SIGKILL)
        if self.etcd and self.etcd.poll() is None:
            self.etcd.kill()
            self.etcd.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _lab_pids(self):
        """Processes whose command line names the lab directory (postmasters, Patroni)."""
        pids = []
        needle = self.dir.encode()
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    if needle in f.read():
                        pids.append(int(pid))
            except OSError:
                pass
        return pids

    def _sweep(self, sig):
        for pid in self._lab_pids():
            try:
                os.kill(pid, sig)
            except OSError:
                pass
