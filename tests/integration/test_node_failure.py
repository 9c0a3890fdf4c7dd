"""A worker node dies and its pods come back elsewhere: heartbeats, the node controller and
the taint eviction, with real workers and beat (the cluster at instant speed)."""
from __future__ import annotations

import pytest

from tests.livehelpers import deployment_manifest, http, is_ready, wait_until

pytestmark = pytest.mark.integration

CLUSTER = "nodefail"
API = f"/k8s/{CLUSTER}/api/v1"
PODS = f"{API}/namespaces/default/pods"
NODES = f"{API}/nodes"
DEPLOYMENTS = f"/k8s/{CLUSTER}/apis/apps/v1/namespaces/default/deployments"
LEASES = f"/k8s/{CLUSTER}/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
POWER = f"/k8s/{CLUSTER}/podflow/v1/nodes"


@pytest.fixture(scope="module")
def cluster(live_stack):
    live_stack.manage("democluster", "--name", CLUSTER, "--speed", "instant")
    return live_stack.url


def node(base: str, name: str) -> dict:
    return http(base, "GET", f"{NODES}/{name}")[1]


def ready_status(doc: dict) -> str:
    return next((c["status"] for c in doc["status"]["conditions"] if c["type"] == "Ready"), "")


def pods_of(base: str, app: str) -> list[dict]:
    return http(base, "GET", PODS + f"?labelSelector=app%3D{app}")[1]["items"]


def test_kubelets_keep_their_node_leases_fresh(cluster):
    first = {l["metadata"]["name"]: l["spec"]["renewTime"] for l in http(cluster, "GET", LEASES)[1]["items"]}
    assert set(first) == {"node-1", "node-2", "node-3"}

    def renewed():
        now = {l["metadata"]["name"]: l["spec"]["renewTime"] for l in http(cluster, "GET", LEASES)[1]["items"]}
        return all(now[n] > first[n] for n in first)

    wait_until(renewed, 15, "every node Lease to be renewed")


def test_a_stopped_nodes_pods_come_back_running_elsewhere(cluster):
    status, _ = http(cluster, "POST", DEPLOYMENTS, deployment_manifest("survive", 6))
    assert status == 201
    wait_until(lambda: len([p for p in pods_of(cluster, "survive") if is_ready(p)]) == 6, 60, "6 ready pods")
    victims = {p["metadata"]["name"] for p in pods_of(cluster, "survive") if p["spec"]["nodeName"] == "node-2"}
    assert victims, "the scheduler spreads six pods over three nodes"

    status, body = http(cluster, "POST", f"{POWER}/node-2/stop")
    assert status == 200, body

    wait_until(lambda: ready_status(node(cluster, "node-2")) == "Unknown", 30, "node-2 to be NotReady (Unknown)")
    taints = {(t["key"], t["effect"]) for t in node(cluster, "node-2")["spec"].get("taints", [])}
    assert ("node.kubernetes.io/unreachable", "NoSchedule") in taints

    def replaced():
        found = pods_of(cluster, "survive")
        live = [p for p in found if is_ready(p) and not p["metadata"].get("deletionTimestamp")]
        return len(live) == 6 and all(p["spec"]["nodeName"] != "node-2" for p in live) and found

    found = wait_until(replaced, 60, "6 ready pods off node-2")
    terminating = {p["metadata"]["name"] for p in found if p["metadata"].get("deletionTimestamp")}
    assert terminating == victims  # left Terminating: no kubelet on node-2 to finish them
    events = http(cluster, "GET", f"{API}/namespaces/default/events")[1]["items"]
    evicted = {e["involvedObject"]["name"] for e in events if e["reason"] == "TaintManagerEviction"}
    assert victims <= evicted
    assert any(e["reason"] == "NodeNotReady" and e["involvedObject"]["name"] == "node-2" for e in events + http(cluster, "GET", f"{API}/events")[1]["items"])

    status, _ = http(cluster, "POST", f"{POWER}/node-2/start")
    assert status == 200
    wait_until(lambda: ready_status(node(cluster, "node-2")) == "True", 30, "node-2 to be Ready again")
    wait_until(lambda: not node(cluster, "node-2")["spec"].get("taints"), 30, "node-2's taints to go")
    wait_until(lambda: not {p["metadata"]["name"] for p in pods_of(cluster, "survive")} & victims, 30, "node-2's kubelet to finish the evicted pods")
    assert len([p for p in pods_of(cluster, "survive") if is_ready(p)]) == 6
