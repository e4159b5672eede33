#!/usr/bin/env python3
"""deploy/kubernetes: both overlays render with a real `kubectl kustomize` (no server:
KUBECONFIG=/dev/null), and what they render is what drwatch needs, read back with
tests/lib/miniyaml.py:
- each namespace's Role holds exactly (no more, no less) the union of what `drwatch rbac`
  prints for the overlay's namespaces and the collectors' reads of
  deploy/kubernetes/collectors-rbac.txt, bound to the drwatch ServiceAccount of the tools
  namespace;
- the config in the ConfigMap passes `drwatch check-config`, with the environment the overlay's
  drwatch-site ConfigMap gives the pod and the mounted files stood in for in a temp dir;
- the probes are on /-/healthy and /-/ready at the port drwatch listens on, the Services on
  8488 and 8489 reach the container's ports, the Secrets are mounted read-only, the journal is
  on a PersistentVolumeClaim, one replica, Recreate, non-root with a read-only root;
- the overlays differ in site and peer URL, each pointing at the other site;
- overlays/gold-ha (gold plus components/two-replicas): two replicas, RollingUpdate, POD_NAME
  from the downward API, leader election on in the config (which passes check-config), the
  volume ReadWriteMany, the rules' state_file on a per-pod emptyDir, the PDB's minAvailable 1,
  and the tools Role exactly `drwatch rbac --leader-election` plus the collectors' reads."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import BIN, ROOT, Tap, self_signed_cert, tmpdir  # noqa: E402
import miniyaml  # noqa: E402

t = Tap()
d = tmpdir()
DEPLOY = os.path.join(ROOT, "deploy", "kubernetes")
SITES = ("gold", "golddr")
kubectl = shutil.which("kubectl")
if not kubectl:
    t.ok(True, "# SKIP kubectl is not installed: the overlays are not rendered")
    t.done()


def render(overlay):
    r = subprocess.run([kubectl, "kustomize", os.path.join(DEPLOY, "overlays", overlay)],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, KUBECONFIG=os.devnull, HOME=d))
    return r.returncode, r.stdout, r.stderr


def objects(docs, kind):
    return [o for o in docs if o.get("kind") == kind]


def one(docs, kind, name_prefix):
    """The one object of kind whose name is name_prefix, or it plus a generator's hash."""
    found = [o for o in objects(docs, kind)
             if re.fullmatch(re.escape(name_prefix) + r"(-[a-z0-9]{10})?", o["metadata"]["name"])]
    return found[0] if len(found) == 1 else None


def rules_of(role):
    """A Role's rules as a set of (apiGroup, resource, verb)."""
    return {(g, r, v) for rule in role.get("rules") or []
            for g in rule.get("apiGroups") or [] for r in rule.get("resources") or []
            for v in rule.get("verbs") or []}


def collectors_rbac():
    """deploy/kubernetes/collectors-rbac.txt: [(namespace key, group, resource, verbs)]."""
    out = []
    with open(os.path.join(DEPLOY, "collectors-rbac.txt")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            key, group, resource, verbs = line.split()
            out.append((key, "" if group == '""' else group, resource, verbs.split(",")))
    return out


def expected_rules(ns, lease=False):
    """{namespace: {(group, resource, verb)}}: `drwatch rbac` for ns plus the collectors'
    (lease: `drwatch rbac --leader-election`)."""
    r = subprocess.run([BIN, "rbac", "--tools", ns["tools"], "--solution", ns["solution"],
                        "--tekton", ns["tekton"]] + (["--leader-election"] if lease else []),
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("drwatch rbac: %s" % r.stderr)
    want = {}
    for role in objects(miniyaml.load_all(r.stdout), "Role"):
        want.setdefault(role["metadata"]["namespace"], set()).update(rules_of(role))
    for key, group, resource, verbs in collectors_rbac():
        want.setdefault(ns[key], set()).update((group, resource, v) for v in verbs)
    return want


def container_port(container, port):
    """A probe's or Service's port (a number or a port name) as the container's number."""
    for p in container.get("ports") or []:
        if str(port) in (p.get("name"), str(p.get("containerPort"))):
            return str(p["containerPort"])
    return None


def check_rbac(site, docs, ns, lease=False):
    want = expected_rules(ns, lease)
    got = {}
    for role in objects(docs, "Role"):
        got.setdefault(role["metadata"]["namespace"], set()).update(rules_of(role))
    t.is_(sorted(got), sorted(want), "%s: a Role in each namespace drwatch acts in" % site)
    for n in sorted(want):
        more, less = got.get(n, set()) - want[n], want[n] - got.get(n, set())
        if not t.ok(not more and not less,
                    "%s: the Role in %s holds exactly drwatch rbac's rules and the "
                    "collectors' reads" % (site, n)):
            t.diag("  more than needed: %s\n  missing: %s" % (sorted(more), sorted(less)))
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]) for r in objects(docs, "Role")}
    bindings = objects(docs, "RoleBinding")
    t.ok(len(bindings) == len(roles) and all(
        (b["metadata"]["namespace"], b["roleRef"]["name"]) in roles and
        b["roleRef"]["kind"] == "Role" and
        b["subjects"] == [{"kind": "ServiceAccount", "name": "drwatch",
                           "namespace": ns["tools"]}] for b in bindings),
        "%s: each Role bound to the drwatch ServiceAccount of the tools namespace" % site)
    sa = one(docs, "ServiceAccount", "drwatch")
    t.ok(sa and sa["metadata"]["namespace"] == ns["tools"],
         "%s: the ServiceAccount is in the tools namespace" % site)


def stand_in_files(root, config, container):
    """The config with the pod's paths moved under root, where the files they name now exist
    (a certificate and key for the peer link, one-line secrets); the rules from the source
    tree. Only paths under the container's mounts are moved: the config names no other."""
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    used = set(re.findall(r'"(/etc/drwatch/[a-z-]+/)', config))
    t.ok(used and all(u.rstrip("/") in mounts for u in used),
         "the config's file directories %s are the Deployment's mounts" % sorted(used))
    etc = os.path.join(root, "etc")
    peer = os.path.join(etc, "peer")
    os.makedirs(peer)
    cert, key = self_signed_cert(peer)
    os.rename(cert, os.path.join(peer, "tls.crt"))
    os.rename(key, os.path.join(peer, "tls.key"))
    shutil.copy(os.path.join(peer, "tls.crt"), os.path.join(peer, "ca.crt"))
    for name in re.findall(r'creds \.\. "([a-z-]+)"', config):
        os.makedirs(os.path.join(etc, "credentials"), exist_ok=True)
        with open(os.path.join(etc, "credentials", name), "w") as f:
            f.write("stand-in\n")
    return (config.replace('"/etc/drwatch/', '"' + etc + "/")
            .replace('"/usr/share/drwatch/rules/', '"' + os.path.join(ROOT, "rules", "lua") + "/")
            .replace('"/var/lib/drwatch', '"' + os.path.join(root, "var")))


def check_config(site, docs, env, where=None):
    cm = one(docs, "ConfigMap", "drwatch-config")
    dep = one(docs, "Deployment", "drwatch")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    args = c.get("args") or []
    t.ok("--config.file=/etc/drwatch/drwatch.lua" in args and any(
        m["mountPath"] == "/etc/drwatch/drwatch.lua" for m in c["volumeMounts"]),
        "%s: drwatch reads the ConfigMap's file where it is mounted" % site)
    mounted = [m["mountPath"] for m in c["volumeMounts"]]
    files = [a.split("=", 1)[1] for a in args if a.startswith(("--config.file=",
                                                                 "--web.token-file="))]
    t.ok(len(files) == 2 and all(any(f == m or f.startswith(m + "/") for m in mounted)
                                 for f in files),
         "%s: the config and token files drwatch is given are mounted" % site)
    root = os.path.join(d, where or site)
    os.makedirs(root)
    path = os.path.join(root, "drwatch.lua")
    with open(path, "w") as f:
        f.write(stand_in_files(root, cm["data"]["drwatch.lua"], c))
    # KUBERNETES_SERVICE_HOST stands for the pod's own API server (the in-pod targets have no url).
    r = subprocess.run([BIN, "check-config", path], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, KUBERNETES_SERVICE_HOST="10.0.0.1", **env))
    if not t.ok(r.returncode == 0 and ("ok, site %s," % site) in r.stdout,
                "%s: the ConfigMap's config passes drwatch check-config, site %s" % (site, site)):
        t.diag(r.stdout + r.stderr)


def check_workload(site, docs, ns):
    dep = one(docs, "Deployment", "drwatch")
    spec = dep["spec"]
    pod = spec["template"]["spec"]
    c = pod["containers"][0]
    args = c.get("args") or []
    t.ok("--web.listen-address=:8488" in args and container_port(c, 8488) == "8488" and
         container_port(c, 8489) == "8489", "%s: drwatch listens on 8488, the peer on 8489" % site)
    for probe, path in (("livenessProbe", "/-/healthy"), ("readinessProbe", "/-/ready")):
        get = (c.get(probe) or {}).get("httpGet") or {}
        t.ok(get.get("path") == path and container_port(c, get.get("port")) == "8488",
             "%s: %s on %s at 8488" % (site, probe, path))
    svc, peer = one(docs, "Service", "drwatch"), one(docs, "Service", "drwatch-peer")
    t.ok(svc and [(str(p["port"]), container_port(c, p["targetPort"])) for p in
                  svc["spec"]["ports"]] == [("8488", "8488")] and
         peer and [(str(p["port"]), container_port(c, p["targetPort"])) for p in
                   peer["spec"]["ports"]] == [("8489", "8489")],
         "%s: the Service on 8488 and the peer Service on 8489 reach those ports" % site)
    labels = pod and spec["template"]["metadata"]["labels"]
    t.ok(all(all(labels.get(k) == v for k, v in sel.items()) for sel in (
        svc["spec"]["selector"], peer["spec"]["selector"], spec["selector"]["matchLabels"],
        one(docs, "PodDisruptionBudget", "drwatch")["spec"]["selector"]["matchLabels"],
        one(docs, "NetworkPolicy", "drwatch")["spec"]["podSelector"]["matchLabels"])),
        "%s: the Services, PDB and NetworkPolicy select the pod" % site)
    t.ok(str(spec["replicas"]) == "1" and spec["strategy"]["type"] == "Recreate",
         "%s: one replica, replaced by Recreate (never two executors)" % site)
    sc, csc = pod.get("securityContext") or {}, c.get("securityContext") or {}
    t.ok(sc.get("runAsNonRoot") == "true" and csc.get("readOnlyRootFilesystem") == "true" and
         csc.get("allowPrivilegeEscalation") == "false",
         "%s: non-root, read-only root filesystem, no privilege escalation" % site)
    t.ok(c.get("resources", {}).get("requests") and c.get("resources", {}).get("limits"),
         "%s: resource requests and limits" % site)
    vols = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    secrets = sorted(v["secret"]["secretName"] for v in vols.values() if "secret" in v)
    t.ok(secrets == ["drwatch-credentials", "drwatch-peer-tls", "drwatch-web-token"] and all(
        mounts[n].get("readOnly") == "true" for n, v in vols.items() if "secret" in v or
        "configMap" in v), "%s: the token, peer certificates and credentials from Secrets, "
        "mounted read-only" % site)
    data = [n for n, m in mounts.items() if m["mountPath"] == "/var/lib/drwatch"]
    pvc = data and vols[data[0]].get("persistentVolumeClaim", {}).get("claimName")
    t.ok(pvc and one(docs, "PersistentVolumeClaim", pvc) and
         one(docs, "PersistentVolumeClaim", pvc)["metadata"]["namespace"] == ns["tools"],
         "%s: /var/lib/drwatch (the journal) on a PersistentVolumeClaim" % site)
    cm = one(docs, "ConfigMap", "drwatch-site")
    t.ok([e["configMapRef"]["name"] for e in c.get("envFrom") or []] == [cm["metadata"]["name"]],
         "%s: the environment from the drwatch-site ConfigMap" % site)
    t.ok(all(o["metadata"]["namespace"] == ns["tools"] for o in docs
             if o["kind"] not in ("Role", "RoleBinding")),
         "%s: everything but the Roles in the tools namespace %s" % (site, ns["tools"]))


seen = {}
for site in SITES:
    rc, out, err = render(site)
    if not t.ok(rc == 0, "kubectl kustomize overlays/%s renders" % site):
        t.diag(err)
        continue
    docs = miniyaml.load_all(out)
    env = one(docs, "ConfigMap", "drwatch-site")["data"]
    seen[site] = env
    # The switchover section's namespaces: tools and solution from the environment, tekton =
    # tools (drwatch rbac's default), which is what the Roles are checked against.
    lua = one(docs, "ConfigMap", "drwatch-config")["data"]["drwatch.lua"]
    t.ok(re.search(r"namespaces = \{ tools = tools, solution = solution, tekton = tools \}", lua),
         "%s: the config's namespaces are the overlay's, tekton = tools" % site)
    ns = {"tools": env["DRWATCH_TOOLS_NAMESPACE"], "solution": env["DRWATCH_SOLUTION_NAMESPACE"],
          "tekton": env["DRWATCH_TOOLS_NAMESPACE"]}
    t.is_(env["DRWATCH_SITE"], site, "%s: the overlay's site" % site)
    check_rbac(site, docs, ns)
    check_config(site, docs, env)
    check_workload(site, docs, ns)

# ---- two replicas under leader election ----
rc, out, err = render("gold-ha")
if t.ok(rc == 0, "kubectl kustomize overlays/gold-ha renders"):
    docs = miniyaml.load_all(out)
    env = one(docs, "ConfigMap", "drwatch-site")["data"]
    ns = {"tools": env["DRWATCH_TOOLS_NAMESPACE"], "solution": env["DRWATCH_SOLUTION_NAMESPACE"],
          "tekton": env["DRWATCH_TOOLS_NAMESPACE"]}
    t.ok(env["DRWATCH_LEADER_ELECTION"] == "true" and env["DRWATCH_SITE"] == "gold",
         "gold-ha: gold's site, leader election on")
    check_rbac("gold-ha", docs, ns, lease=True)
    check_config("gold", docs, dict(env, POD_NAME="drwatch-6d8f9c7b5-x2x7q"), where="gold-ha")
    spec = one(docs, "Deployment", "drwatch")["spec"]
    c = spec["template"]["spec"]["containers"][0]
    vols = {v["name"]: v for v in spec["template"]["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    t.ok(str(spec["replicas"]) == "2" and spec["strategy"]["type"] == "RollingUpdate" and
         str(spec["strategy"]["rollingUpdate"]["maxSurge"]) == "0",
         "gold-ha: two replicas, a rolling update without surge")
    t.ok({"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
         in (c.get("env") or []), "gold-ha: POD_NAME from the downward API (holderIdentity)")
    state = env["DRWATCH_RULES_STATE_FILE"]
    local = mounts.get(os.path.dirname(state))
    t.ok(local and "emptyDir" in vols[local] and not state.startswith("/var/lib/drwatch/"),
         "gold-ha: the rules' state_file on a per-pod emptyDir, off the shared volume")
    pvc = one(docs, "PersistentVolumeClaim", "drwatch-data")["spec"]
    t.ok(pvc["accessModes"] == ["ReadWriteMany"],
         "gold-ha: the data volume (journal, outbox) is ReadWriteMany, shared by both pods")
    pdb = one(docs, "PodDisruptionBudget", "drwatch")["spec"]
    t.ok(str(pdb.get("minAvailable")) == "1" and "maxUnavailable" not in pdb,
         "gold-ha: the PodDisruptionBudget keeps one pod up (minAvailable 1)")

if len(seen) == 2:
    g, dr = seen["gold"], seen["golddr"]
    t.ok(g["DRWATCH_SITE"] != dr["DRWATCH_SITE"] and
         g["DRWATCH_PEER_URL"] != dr["DRWATCH_PEER_URL"],
         "the overlays differ in site and peer URL")
    t.ok("golddr" in g["DRWATCH_PEER_URL"] and "golddr" not in dr["DRWATCH_PEER_URL"] and
         "gold." in dr["DRWATCH_PEER_URL"], "each site's peer is the other site")
t.done()
