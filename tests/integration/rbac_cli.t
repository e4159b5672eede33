#!/usr/bin/env python3
"""`drwatch rbac`: the switchover part's Roles as YAML that a real kubectl reads (`kubectl
kustomize` over it, no server needed): one Role and RoleBinding per distinct namespace, named
as asked, binding the service account in the tools namespace; tekton defaults to tools. A
missing namespace is a usage error (2); a namespace that is no Kubernetes name is refused (1)
with the reason. --leader-election adds the Lease's rule to the tools Role."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from drwatch_test import BIN, Tap, tmpdir  # noqa: E402

t = Tap()
d = tmpdir()


def rbac(*args):
    return subprocess.run([BIN, "rbac"] + list(args), capture_output=True, text=True, timeout=30)


r = rbac("--tools", "abc-tools", "--solution", "abc-prod", "--name", "dw", "--service-account",
         "drwatch-sa")
t.ok(r.returncode == 0 and r.stdout.count("\nkind: Role\n") == 2 and
     r.stdout.count("\nkind: RoleBinding\n") == 2,
     "two namespaces, tekton defaulting to tools: two Roles, two RoleBindings")
t.ok(r.stdout.count("  name: drwatch-sa\n  namespace: abc-tools\n") == 2,
     "both bind the service account in the tools namespace")

kubectl = shutil.which("kubectl")
if not kubectl:
    for _ in range(2):
        t.ok(True, "# SKIP kubectl is not installed: the YAML is not checked with a real client")
else:
    with open(os.path.join(d, "roles.yaml"), "w") as f:
        f.write(r.stdout)
    with open(os.path.join(d, "kustomization.yaml"), "w") as f:
        f.write("resources:\n- roles.yaml\n")
    k = subprocess.run([kubectl, "kustomize", d], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, KUBECONFIG=os.devnull, HOME=d))
    t.ok(k.returncode == 0, "kubectl kustomize reads every document (%s)" % k.stderr.strip()[:200])
    t.ok("resources:\n  - deployments/scale\n" in k.stdout and
         "namespace: abc-prod\n" in k.stdout and "name: dw\n" in k.stdout,
         "and finds the rules, the namespaces and the name in them")

r = rbac("--tools", "t", "--solution", "s", "--tekton", "k")
t.ok(r.returncode == 0 and r.stdout.count("\nkind: Role\n") == 3, "a tekton namespace of its own")
r = rbac("--tools", "t")
t.ok(r.returncode == 2 and "usage: drwatch rbac" in r.stderr, "no --solution: usage, exit 2")
r = rbac("--tools", "t", "--solution", "Bad_NS")
t.ok(r.returncode == 1 and 'namespace solution: "Bad_NS" is no Kubernetes namespace name' in
     r.stderr, "a bad namespace is refused with the reason: " + r.stderr.strip())
plain = rbac("--tools", "abc-tools", "--solution", "abc-prod").stdout
r = rbac("--tools", "abc-tools", "--solution", "abc-prod", "--leader-election")
lease_rule = ('- apiGroups: ["coordination.k8s.io"]\n  resources: ["leases"]\n'
              '  verbs: ["create", "get", "update"]\n')
t.ok(r.returncode == 0 and "coordination.k8s.io" not in plain and
     r.stdout.count(lease_rule) == 1 and
     r.stdout.index(lease_rule) < r.stdout.index("namespace: abc-prod") and
     r.stdout.replace(lease_rule, "") == plain,
     "--leader-election adds leases get, create, update to the tools Role, and nothing else")
t.done()
