"""The etcd view and the watch inspector against the live stack (real workers, instant
speed): the keys as kube-apiserver stores them, with their revisions; the past with `?at=`;
410 once compacted; and which components each change of a pod's and a Deployment's life
woke — the wake-ups the store's listener sent to the real workers."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from tests.livehelpers import deployment_manifest, http, is_ready, pod_manifest, token_for, wait_until

pytestmark = pytest.mark.integration

CLUSTER = "etcdview"
PODFLOW = f"/k8s/{CLUSTER}/podflow/v1"
PODS = f"/k8s/{CLUSTER}/api/v1/namespaces/default/pods"
SERVICES = f"/k8s/{CLUSTER}/api/v1/namespaces/default/services"
DEPLOYMENTS = f"/k8s/{CLUSTER}/apis/apps/v1/namespaces/default/deployments"


@pytest.fixture(scope="module")
def base(live_stack):
    live_stack.manage("democluster", "--name", CLUSTER, "--speed", "instant")
    return live_stack.url


def keys(base: str, query: str = "") -> dict:
    code, body = http(base, "GET", f"{PODFLOW}/etcd{query}")
    assert code == 200, body
    return body


def by_key(body: dict) -> dict[str, dict]:
    return {item["key"]: item for item in body["keys"]}


def revision_now(base: str) -> int:
    return keys(base, "?prefix=/registry/namespaces/")["revision"]


def watch_events(base: str, since: int) -> list[dict]:
    code, body = http(base, "GET", f"{PODFLOW}/watches?since={since}&limit=1000")
    assert code == 200, body
    return body["events"]


def ready(base: str, name: str) -> bool:
    code, pod = http(base, "GET", f"{PODS}/{name}")
    return code == 200 and is_ready(pod)


def test_the_keys_of_a_pod_a_service_its_endpoints_a_node_and_a_deployment(base):
    assert http(base, "POST", PODS, {**pod_manifest("keyed"), "metadata": {"name": "keyed", "labels": {"app": "keyed"}}})[0] == 201
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "keyed"}, "spec": {"selector": {"app": "keyed"}, "ports": [{"port": 80}]}}
    assert http(base, "POST", SERVICES, service)[0] == 201
    assert http(base, "POST", DEPLOYMENTS, deployment_manifest("shop", 1))[0] == 201
    wait_until(lambda: ready(base, "keyed"), 30, "the pod to be Ready")
    endpoints = "/registry/services/endpoints/default/keyed"
    wait_until(lambda: (by_key(keys(base, "?prefix=/registry/services/")).get(endpoints) or {}).get("value", {}).get("subsets"), 30, "the Endpoints to list the pod")

    # The Deployment's ReplicaSet is the controller manager's to make: wait for it too.
    wait_until(lambda: any(k.startswith("/registry/replicasets/default/shop-") for k in by_key(keys(base, "?prefix=/registry/replicasets/"))), 30, "the ReplicaSet of shop")
    body = keys(base, "?limit=5000")
    found = by_key(body)
    assert body["truncated"] is False and body["count"] == len(body["keys"])

    for key in (
        "/registry/pods/default/keyed",
        "/registry/services/specs/default/keyed",
        endpoints,
        "/registry/minions/node-1",
        "/registry/deployments/default/shop",
        "/registry/leases/kube-node-lease/node-1",
        "/registry/ingressclasses/podflow",
    ):
        assert key in found, key
    assert any(k.startswith("/registry/replicasets/default/shop-") for k in found)
    listed = [item["key"] for item in body["keys"]]
    assert listed == sorted(listed, key=str.encode)
    for item in body["keys"]:
        assert item["createRevision"] is None or item["createRevision"] <= item["modRevision"] <= body["revision"], item
        assert "resourceVersion" not in item["value"]["metadata"]
    pod = found["/registry/pods/default/keyed"]
    assert (pod["kind"], pod["namespace"], pod["name"]) == ("Pod", "default", "keyed")
    assert pod["value"]["spec"]["nodeName"] and pod["modRevision"] > pod["createRevision"]
    # etcd's version: one per write since the create, each a watch event of that key.
    writes = [e for e in watch_events(base, pod["createRevision"] - 1) if e["key"] == pod["key"] and e["revision"] <= pod["modRevision"]]
    assert pod["version"] == len(writes) > 2
    assert found["/registry/services/specs/default/keyed"]["value"]["spec"]["clusterIP"]


def test_at_a_revision_a_later_pod_is_absent_and_a_deleted_one_present(base):
    assert http(base, "POST", PODS, pod_manifest("doomed"))[0] == 201
    wait_until(lambda: ready(base, "doomed"), 30, "doomed to be Ready")
    then = revision_now(base)
    assert http(base, "POST", PODS, pod_manifest("late"))[0] == 201
    assert http(base, "DELETE", f"{PODS}/doomed?gracePeriodSeconds=0")[0] == 200
    wait_until(lambda: http(base, "GET", f"{PODS}/doomed")[0] == 404, 30, "doomed to be gone")

    past = by_key(keys(base, f"?prefix=/registry/pods/default/&at={then}"))
    present = by_key(keys(base, "?prefix=/registry/pods/default/"))

    assert "/registry/pods/default/doomed" in past and "/registry/pods/default/late" not in past
    assert past["/registry/pods/default/doomed"]["modRevision"] <= then
    assert "/registry/pods/default/doomed" not in present and "/registry/pods/default/late" in present


def test_a_compacted_revision_is_410_expired(live_stack):
    live_stack.manage("democluster", "--name", "etcd-compacted", "--speed", "instant")
    live_stack.manage("compact", "etcd-compacted", "--keep", "2")

    code, body = http(live_stack.url, "GET", "/k8s/etcd-compacted/podflow/v1/etcd?at=1")
    assert (code, body["kind"], body["reason"]) == (410, "Status", "Expired")
    code, body = http(live_stack.url, "GET", "/k8s/etcd-compacted/podflow/v1/watches?since=1")
    assert (code, body["reason"]) == (410, "Expired")


@pytest.mark.parametrize(("query", "fields"), [("?prefix=/pods/", ["prefix"]), ("?limit=many", ["limit"]), ("?limit=0&prefix=x", ["prefix", "limit"])])
def test_bad_input_is_a_400_status_with_causes(base, query, fields):
    code, body = http(base, "GET", f"{PODFLOW}/etcd{query}")
    assert (code, body["kind"], body["reason"]) == (400, "Status", "BadRequest")
    assert [c["field"] for c in body["details"]["causes"]] == fields


def test_another_clusters_token_is_refused(base, live_stack):
    live_stack.manage("democluster", "--name", "etcd-other", "--speed", "instant")
    other = token_for(base, "etcd-other")
    for path in ("etcd", "watches"):
        request = urllib.request.Request(f"{base}{PODFLOW}/{path}", headers={"Authorization": f"Bearer {other}"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 403
        assert json.loads(refused.value.read())["reason"] == "Forbidden"


def test_a_pods_add_wakes_the_scheduler_and_its_bind_the_kubelet_of_its_node(base):
    start = revision_now(base)
    assert http(base, "POST", PODS, pod_manifest("watched"))[0] == 201
    wait_until(lambda: ready(base, "watched"), 30, "watched to be Ready")

    events = [e for e in watch_events(base, start) if e["key"] == "/registry/pods/default/watched"]

    added = events[0]
    assert (added["type"], added["kind"], added["namespace"], added["name"]) == ("ADDED", "Pod", "default", "watched")
    assert {"component": "scheduler", "task": "schedule_pod", "controller": "scheduler"} in added["woke"]
    assert (added["by"], added["bySource"]) == ("podflow-tests", "step-log")
    bind = next(e for e in events if e["type"] == "MODIFIED" and e["by"] == "scheduler")
    node = next(w["component"] for w in bind["woke"] if w["task"] == "sync_pod").split("@", 1)[1]
    assert node.startswith("node-") and bind["bySource"] == "step-log"
    assert f"kubelet@{node}" in bind["receivedBy"]
    code, pod = http(base, "GET", f"{PODS}/watched")
    assert pod["spec"]["nodeName"] == node
    # The kubelet's own status writes come after, and do not wake it again.
    after = [e for e in events if e["revision"] > bind["revision"] and e["by"] == "kubelet"]
    assert after and all(f"kubelet@{node}" not in {w["component"] for w in e["woke"]} for e in after)


def test_a_deployments_add_wakes_the_controller_manager(base):
    start = revision_now(base)
    assert http(base, "POST", DEPLOYMENTS, deployment_manifest("watched-shop", 1))[0] == 201
    wait_until(lambda: any(e["kind"] == "Pod" and e["type"] == "ADDED" and e["name"].startswith("watched-shop-") for e in watch_events(base, start)), 30, "the Deployment's pod")

    code, body = http(base, "GET", f"{PODFLOW}/watches?since={start}")
    added = next(e for e in body["events"] if e["key"] == "/registry/deployments/default/watched-shop")
    rs = next(e for e in body["events"] if e["kind"] == "ReplicaSet" and e["type"] == "ADDED" and e["name"].startswith("watched-shop-"))
    pod = next(e for e in body["events"] if e["kind"] == "Pod" and e["type"] == "ADDED" and e["name"].startswith("watched-shop-"))

    assert added["type"] == "ADDED"
    assert {"component": "controller-manager", "task": "reconcile_deployment", "controller": "Deployment controller"} in added["woke"]
    assert (rs["by"], [w["task"] for w in rs["woke"]]) == ("deployment-controller", ["reconcile_replicaset"])
    assert (pod["by"], pod["bySource"]) == ("replicaset-controller", "step-log")
    assert "scheduler" in {w["component"] for w in pod["woke"]}
    assert body["watchers"]["scheduler"] == ["Node", "Pod"]
    assert "Pod" in body["watchers"]["kubelet"] and "Deployment" in body["watchers"]["controller-manager"]
