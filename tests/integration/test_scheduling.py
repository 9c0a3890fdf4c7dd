"""The scheduler in the real stack, seen the way a learner sees it: through kubectl.

A pod with a nodeSelector lands on the labelled node; a pod that fits nowhere shows
FailedScheduling in Kubernetes' words in `kubectl get events` and `kubectl describe pod`,
and is bound once room appears (a label, a removed taint, a deleted pod); the reasoning is
in the pod's annotations. Names are unique per run, and every node change is undone.
"""
from __future__ import annotations

import json
import uuid

import pytest

from tests.livehelpers import wait_until

pytestmark = pytest.mark.integration

FILTER_RESULT = "kube-scheduler-simulator.sigs.k8s.io/filter-result"
SCORE_RESULT = "kube-scheduler-simulator.sigs.k8s.io/score-result"
FINAL_SCORE_RESULT = "kube-scheduler-simulator.sigs.k8s.io/finalscore-result"
SELECTED_NODE = "kube-scheduler-simulator.sigs.k8s.io/selected-node"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def create_pod(kubectl, name: str, *, node_selector: dict | None = None, cpu: str | None = None) -> None:
    container: dict = {"name": "app", "image": "nginx"}
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu}}
    spec: dict = {"containers": [container]}
    if node_selector:
        spec["nodeSelector"] = node_selector
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}
    assert kubectl("apply", "-f", "-", input=json.dumps(manifest)).stdout.strip() == f"pod/{name} created"


def get_pod(kubectl, name: str) -> dict:
    return json.loads(kubectl("get", "pod", name, "-o", "json").stdout)


def wait_bound(kubectl, name: str, timeout: float = 30) -> dict:
    return wait_until(lambda: (lambda p: p if p["spec"].get("nodeName") else None)(get_pod(kubectl, name)), timeout, f"pod {name} to be bound", interval=0.3)


def wait_unschedulable(kubectl, name: str, timeout: float = 30) -> str:
    """The message of the pod's PodScheduled=False condition, once the scheduler has written it."""
    def check():
        for cond in get_pod(kubectl, name)["status"].get("conditions") or []:
            if cond["type"] == "PodScheduled" and cond["status"] == "False" and cond.get("reason") == "Unschedulable":
                return cond["message"]
        return None

    return wait_until(check, timeout, f"pod {name} to be Unschedulable", interval=0.3)


def events_about(kubectl, name: str) -> list[str]:
    return [line for line in kubectl("get", "events").stdout.splitlines() if f"pod/{name}" in line]


def delete_pods(kubectl, *names: str) -> None:
    kubectl("delete", "pod", *names, "--ignore-not-found", "--wait=false", check=False)


def test_a_pod_with_a_node_selector_lands_on_the_labelled_node(kubectl):
    key, name = unique("disk"), unique("picky")
    kubectl("label", "node", "node-2", f"{key}=ssd")
    try:
        create_pod(kubectl, name, node_selector={key: "ssd"})
        pod = wait_bound(kubectl, name)

        assert pod["spec"]["nodeName"] == "node-2"
        annotations = pod["metadata"]["annotations"]
        assert annotations[SELECTED_NODE] == "node-2"
        filters = json.loads(annotations[FILTER_RESULT])
        assert filters["node-1"]["NodeAffinity"] == filters["node-3"]["NodeAffinity"] == "node(s) didn't match Pod's node affinity/selector"
        assert set(filters["node-2"].values()) == {"passed"}
        # One node left: kube-scheduler binds it without scoring.
        assert json.loads(annotations[SCORE_RESULT]) == {} and json.loads(annotations[FINAL_SCORE_RESULT]) == {}
    finally:
        delete_pods(kubectl, name)
        kubectl("label", "node", "node-2", f"{key}-")
    assert key not in get_node_labels(kubectl, "node-2")


def get_node_labels(kubectl, node: str) -> dict:
    return json.loads(kubectl("get", "node", node, "-o", "json").stdout)["metadata"].get("labels") or {}


def test_a_pod_that_fits_nowhere_says_why_in_kubernetes_words_then_runs_once_a_node_is_labelled(kubectl):
    key, name = unique("gpu"), unique("nowhere")
    expected = (
        "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. "
        f"preemption: 0/3 nodes are available: 3 {NOT_HELPFUL}."
    )
    try:
        create_pod(kubectl, name, node_selector={key: "yes"})
        assert wait_unschedulable(kubectl, name) == expected
        assert get_pod(kubectl, name)["status"]["phase"] == "Pending"

        failed = [line for line in events_about(kubectl, name) if "FailedScheduling" in line]
        assert len(failed) == 1
        assert failed[0].split()[1:3] == ["Warning", "FailedScheduling"] and failed[0].endswith(expected)
        described = kubectl("describe", "pod", name).stdout
        assert "Warning  FailedScheduling" in described and expected in described
        assert "default-scheduler" in described

        pod = get_pod(kubectl, name)
        filters = json.loads(pod["metadata"]["annotations"][FILTER_RESULT])
        assert {node: result["NodeAffinity"] for node, result in filters.items()} == {
            f"node-{i}": "node(s) didn't match Pod's node affinity/selector" for i in (1, 2, 3)
        }
        assert SELECTED_NODE not in pod["metadata"]["annotations"]

        kubectl("label", "node", "node-3", f"{key}=yes")
        pod = wait_bound(kubectl, name)

        assert pod["spec"]["nodeName"] == "node-3"
        assert pod["metadata"]["annotations"][SELECTED_NODE] == "node-3"
        assert any("Scheduled" in line and f"Successfully assigned default/{name} to node-3" in line for line in events_about(kubectl, name))
    finally:
        delete_pods(kubectl, name)
        kubectl("label", "node", "node-3", f"{key}-", check=False)
    assert key not in get_node_labels(kubectl, "node-3")


def test_an_untolerated_taint_keeps_a_pod_off_until_it_is_removed(kubectl):
    key, name = unique("dedicated"), unique("tainted")
    kubectl("taint", "nodes", "node-1", f"{key}=batch:NoSchedule")
    try:
        create_pod(kubectl, name, node_selector={"kubernetes.io/hostname": "node-1"})
        assert wait_unschedulable(kubectl, name) == (
            f"0/3 nodes are available: 1 node(s) had untolerated taint {{{key}: batch}}, "
            "2 node(s) didn't match Pod's node affinity/selector. "
            f"preemption: 0/3 nodes are available: 3 {NOT_HELPFUL}."
        )
        filters = json.loads(get_pod(kubectl, name)["metadata"]["annotations"][FILTER_RESULT])
        assert filters["node-1"]["TaintToleration"] == f"node(s) had untolerated taint {{{key}: batch}}"

        kubectl("taint", "nodes", "node-1", f"{key}-")
        assert wait_bound(kubectl, name)["spec"]["nodeName"] == "node-1"
    finally:
        delete_pods(kubectl, name)
        kubectl("taint", "nodes", "node-1", f"{key}-", check=False)
    node = json.loads(kubectl("get", "node", "node-1", "-o", "json").stdout)
    assert not [t for t in node["spec"].get("taints") or [] if t.get("key") == key]


def test_a_pod_waiting_for_cpu_is_bound_once_a_pod_is_deleted(kubectl):
    hog, wants = unique("hog"), unique("wants")
    pinned = {"kubernetes.io/hostname": "node-1"}
    try:
        create_pod(kubectl, hog, node_selector=pinned, cpu="3")
        assert wait_bound(kubectl, hog)["spec"]["nodeName"] == "node-1"
        create_pod(kubectl, wants, node_selector=pinned, cpu="2")
        assert wait_unschedulable(kubectl, wants) == (
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector. "
            f"preemption: 0/3 nodes are available: 1 {NO_VICTIMS}, 2 {NOT_HELPFUL}."
        )
        filters = json.loads(get_pod(kubectl, wants)["metadata"]["annotations"][FILTER_RESULT])
        assert filters["node-1"]["NodeResourcesFit"] == "Insufficient cpu"

        kubectl("delete", "pod", hog)
        pod = wait_bound(kubectl, wants)

        assert pod["spec"]["nodeName"] == "node-1"
        assert [line.split()[2] for line in events_about(kubectl, wants) if "Scheduling" in line or "Scheduled" in line] == ["FailedScheduling", "Scheduled"]
    finally:
        delete_pods(kubectl, hog, wants)


def test_the_reasoning_of_a_scored_choice_is_readable_with_kubectl(kubectl):
    name = unique("scored")
    try:
        create_pod(kubectl, name, cpu="100m")
        pod = wait_bound(kubectl, name)
        annotations = pod["metadata"]["annotations"]

        finals = json.loads(annotations[FINAL_SCORE_RESULT])
        assert set(finals) == {"node-1", "node-2", "node-3"}
        for scores in finals.values():
            assert set(scores) == {"TaintToleration", "NodeResourcesFit", "NodeResourcesBalancedAllocation", "total"}
            assert int(scores.pop("total")) == sum(int(v) for v in scores.values())
        best = max(int(s["TaintToleration"]) + int(s["NodeResourcesFit"]) + int(s["NodeResourcesBalancedAllocation"]) for s in finals.values())
        chosen = finals[pod["spec"]["nodeName"]]
        assert int(chosen["TaintToleration"]) + int(chosen["NodeResourcesFit"]) + int(chosen["NodeResourcesBalancedAllocation"]) == best
        assert annotations[SELECTED_NODE] == pod["spec"]["nodeName"]
        assert set(json.loads(annotations[SCORE_RESULT])) == {"node-1", "node-2", "node-3"}
        assert FILTER_RESULT in kubectl("get", "pod", name, "-o", "yaml").stdout
    finally:
        delete_pods(kubectl, name)
