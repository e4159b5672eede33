"""What the fake kube-apiserver (k8s_fake.py) holds at start and after /__fake/reset: the objects
the old switchover agent reads and writes, under the names it gives them for ENVIRONMENT=dev
(/work/shared/reference/switchover-plans.md), and some Tekton PipelineRuns.

Namespaces: `ops` is the tools namespace (the state ConfigMap, the health API and its PDB) and
also holds the tfvars Secret (the Tekton namespace defaults to the tools one); `gateway` is the
solution namespace (Keycloak's Services, the maintenance page, Kong, Patroni); the runs live in
`ops-pipelines`. Every workload starts settled: all its pods updated and ready."""
import base64

CREATED = "2024-05-01T12:00:00Z"


def meta(name, ns, labels=None, **extra):
    md = {"name": name, "namespace": ns, "creationTimestamp": CREATED}
    if labels:
        md["labels"] = labels
    md.update(extra)
    return md


def deployment(name, ns, replicas, app, port=8080):
    labels = {"app.kubernetes.io/name": app, "app.kubernetes.io/instance": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": meta(name, ns, labels, annotations={"deployment.kubernetes.io/revision":
                                                            "1"}),
            "spec": {"replicas": replicas, "revisionHistoryLimit": 10,
                     "selector": {"matchLabels": labels},
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [
                                      {"name": app, "image": "registry.example/%s:1.0" % app,
                                       "ports": [{"containerPort": port, "name": "http",
                                                  "protocol": "TCP"}]}]}}}}


def b64(s):
    return base64.b64encode(s.encode()).decode()


KEYCLOAK = {"app.kubernetes.io/instance": "keycloak", "app.kubernetes.io/name": "keycloak"}
SPILO = {"application": "spilo", "cluster-name": "patroni-spilo"}

SEED_OBJECTS = [
    {"kind": "ConfigMap", "apiVersion": "v1",
     "metadata": {"name": "switchover-state-dev", "namespace": "ops",
                  "uid": "8f7c2a0e-5d1b-4c3e-9f21-7a6b5c4d3e2f",
                  "creationTimestamp": CREATED,
                  "labels": {"app": "switchover", "env": "dev", "name": "switchover-config"}},
     "data": {"last_stable_state": "active-passive",
              "last_stable_state_ts": "2024-06-10T09:41:17.591398", "transition": ""}},
    deployment("bcgov-health-api-dev-generic-api", "ops", 2, "generic-api"),
    {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
     "metadata": meta("bcgov-health-api-dev-generic-api-pdb", "ops"),
     "spec": {"minAvailable": 1, "selector": {"matchLabels": {
         "app.kubernetes.io/name": "generic-api",
         "app.kubernetes.io/instance": "bcgov-health-api-dev-generic-api"}}}},
    {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
     "metadata": meta("terraform-tfvars-dev", "ops"),
     "data": {"in_recovery": b64("false"), "in_maintenance": b64("false"),
              "region": b64("gold")}},
    deployment("keycloak-maintenance-redirect-generic-api", "gateway", 1, "generic-api"),
    deployment("konghc-kong", "gateway", 2, "kong", 8001),
    {"apiVersion": "v1", "kind": "Service",
     "metadata": meta("keycloak-http", "gateway",
                      dict(KEYCLOAK, **{"app.kubernetes.io/component": "http"})),
     "spec": {"type": "ClusterIP", "clusterIP": "10.98.12.7", "sessionAffinity": "None",
              "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}],
              "selector": dict(KEYCLOAK)},
     "status": {"loadBalancer": {}}},
    {"apiVersion": "v1", "kind": "Service",
     "metadata": meta("keycloak-headless", "gateway",
                      dict(KEYCLOAK, **{"app.kubernetes.io/component": "headless"})),
     "spec": {"type": "ClusterIP", "clusterIP": "None",
              "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}],
              "selector": dict(KEYCLOAK)},
     "status": {"loadBalancer": {}}},
    {"apiVersion": "apps/v1", "kind": "StatefulSet",
     "metadata": meta("patroni-spilo", "gateway", dict(SPILO)),
     "spec": {"replicas": 3, "serviceName": "patroni-spilo", "podManagementPolicy": "OrderedReady",
              "selector": {"matchLabels": dict(SPILO)},
              "template": {"metadata": {"labels": dict(SPILO)},
                           "spec": {"containers": [
                               {"name": "spilo", "image": "registry.example/spilo:15",
                                "envFrom": [{"configMapRef": {"name": "patroni-spilo-env-vars"}}],
                                "volumeMounts": [{"mountPath": "/home/postgres/pgdata",
                                                  "name": "storage-volume"}]}]}},
              "volumeClaimTemplates": [
                  {"metadata": {"name": "storage-volume"},
                   "spec": {"accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "10Gi"}}}}]}},
] + [
    {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
     "metadata": meta("storage-volume-patroni-spilo-%d" % i, "gateway", dict(SPILO),
                      finalizers=["kubernetes.io/pvc-protection"]),
     "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}},
              "volumeName": "pvc-seed-%d" % i},
     "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"],
                "capacity": {"storage": "10Gi"}}}
    for i in range(3)
] + [
    {"apiVersion": "v1", "kind": "ConfigMap",
     "metadata": meta("patroni-spilo-env-vars", "gateway"),
     "data": {"STANDBY_HOST": "", "STANDBY_PORT": "", "ALLOW_NOSSL": "true"}},
    {"apiVersion": "v1", "kind": "ConfigMap",
     "metadata": meta("patroni-spilo-config", "gateway", dict(SPILO),
                      annotations={"config": '{"loop_wait":10,"retry_timeout":10,"ttl":30}'})},
]


def run(name, pipeline, status, reason, message, start, completion=None, event_id=None,
        created=None, ns="ops-pipelines"):
    labels = {"tekton.dev/pipeline": pipeline}
    if event_id:
        labels.update({"triggers.tekton.dev/eventlistener": "ops-listener",
                       "triggers.tekton.dev/trigger": pipeline + "-trigger",
                       "triggers.tekton.dev/triggers-eventid": event_id})
    st = {"conditions": [{"type": "Succeeded", "status": status,
                          "lastTransitionTime": completion or start, "reason": reason,
                          "message": message}],
          "startTime": start}
    if completion:
        st["completionTime"] = completion
    return {"apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
            "metadata": {"name": name, "namespace": ns, "uid": "uid-" + name, "generation": 1,
                         "creationTimestamp": created or start, "labels": labels},
            "spec": {"pipelineRef": {"name": pipeline}, "timeouts": {"pipeline": "1h0m0s"},
                     "taskRunTemplate": {"serviceAccountName": "pipeline"}},
            "status": st}


SEED_RUNS = [
    run("switchover-golddr-8x2kq", "switchover", "True", "Succeeded",
        "Tasks Completed: 4 (Failed: 0, Cancelled 0), Skipped: 0",
        "2024-06-10T09:30:02Z", "2024-06-10T09:41:17Z",
        event_id="14a657c3-6816-45bf-b214-4afdaefc4ebd"),
    run("deploy-kong-config-7hd2m", "deploy-kong-config", "Unknown", "Running",
        "Tasks Completed: 1 (Failed: 0, Cancelled 0), Incomplete: 2, Skipped: 0",
        "2024-06-10T09:44:51Z"),
    run("db-backup-verify-q9w8e", "db-backup-verify", "False", "Failed",
        "Tasks Completed: 2 (Failed: 1, Cancelled 0), Skipped: 1",
        "2024-06-10T08:00:00Z", "2024-06-10T08:07:44Z"),
    run("switchover-golddr-c4nc1", "switchover", "False", "Cancelled",
        'PipelineRun "switchover-golddr-c4nc1" was cancelled',
        "2024-06-09T09:30:02Z", "2024-06-09T09:32:00Z",
        event_id="7d1f6b90-3c2e-4b8a-9a51-0f3e2d4c5b6a"),
    run("deploy-kong-config-t1me0", "deploy-kong-config", "False", "PipelineRunTimeout",
        'PipelineRun "deploy-kong-config-t1me0" failed to finish within "1h0m0s"',
        "2024-06-09T10:00:00Z", "2024-06-09T11:00:00Z"),
]
