"""What the page shows of a pod or a node, printed by the server (display.py): the same
words as `kubectl get` (tables.py), and the diagram's shape for each state."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from cluster.apimachinery import metav1
from cluster.apiserver.serializers import display, tables
from cluster.demo import node_doc

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


def ago(seconds: int) -> str:
    return metav1.rfc3339(NOW - timedelta(seconds=seconds))


def a_pod(*statuses: dict, phase: str = "Pending", conditions: list | None = None, deleting: bool = False, containers: int | None = None, **status) -> dict:
    count = containers if containers is not None else max(len(statuses), 1)
    doc = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "uid": "u-1", "creationTimestamp": ago(600)},
        "spec": {
            "nodeName": "node-1",
            "containers": [
                {"name": f"c{i}", "image": "nginx", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}} for i in range(count)
            ],
        },
        "status": {"phase": phase, "conditions": conditions or [], "containerStatuses": list(statuses), **status},
    }
    if deleting:
        doc["metadata"]["deletionTimestamp"] = ago(5)
    return doc


def cs(name: str = "c0", *, ready: bool = False, restarts: int = 0, last_finished: str | None = None, **state) -> dict:
    status = {"name": name, "ready": ready, "restartCount": restarts, "image": "nginx", "state": state}
    if last_finished:
        status["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": last_finished}}
    return status


def cond(type_: str, status: str, reason: str = "", message: str = "") -> dict:
    return {"type": type_, "status": status, "reason": reason, "message": message}


READY = [cond("PodScheduled", "True"), cond("Ready", "True"), cond("ContainersReady", "True")]
NOT_READY = [cond("PodScheduled", "True"), cond("Ready", "False", "ContainersNotReady"), cond("ContainersReady", "False")]
UNSCHEDULABLE = "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."

# (the case, the pod, its STATUS word, the diagram's key, the reason shown)
CASES = [
    (
        "pending, unschedulable",
        a_pod(conditions=[cond("PodScheduled", "False", "Unschedulable", UNSCHEDULABLE)]),
        "Pending", "pending", UNSCHEDULABLE,
    ),
    ("pending, not looked at yet", a_pod(), "Pending", "pending", ""),
    (
        "ContainerCreating",
        a_pod(cs(waiting={"reason": "ContainerCreating"}), conditions=[cond("PodScheduled", "True")]),
        "ContainerCreating", "creating", "",
    ),
    (
        "ErrImagePull",
        a_pod(cs(waiting={"reason": "ErrImagePull", "message": 'failed to pull image "nginx:nope": not found'})),
        "ErrImagePull", "failed", 'failed to pull image "nginx:nope": not found',
    ),
    (
        "CrashLoopBackOff",
        a_pod(
            cs(restarts=3, last_finished=ago(45), waiting={"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container=c0"}),
            phase="Running", conditions=NOT_READY,
        ),
        "CrashLoopBackOff", "failed", "back-off 40s restarting failed container=c0",
    ),
    ("Running, not ready", a_pod(cs(running={"startedAt": ago(30)}), phase="Running", conditions=NOT_READY), "Running", "running", ""),
    ("Ready", a_pod(cs(ready=True, running={"startedAt": ago(30)}), phase="Running", conditions=READY), "Running", "ready", ""),
    (
        "Terminating",
        a_pod(cs(ready=True, running={"startedAt": ago(30)}), phase="Running", conditions=READY, deleting=True),
        "Terminating", "terminating", "",
    ),
    (
        "NodeLost: Unknown",
        a_pod(cs(ready=True, running={"startedAt": ago(30)}), phase="Running", conditions=READY, deleting=True, reason="NodeLost", message="Node node-1 which was running pod web is unresponsive"),
        "Unknown", "terminating", "",
    ),
    (
        "Completed",
        a_pod(cs(terminated={"exitCode": 0, "reason": "Completed", "finishedAt": ago(10)}), phase="Succeeded"),
        "Completed", "succeeded", "",
    ),
    (
        "Error",
        a_pod(cs(terminated={"exitCode": 2, "reason": "Error", "finishedAt": ago(10)}), phase="Failed"),
        "Error", "failed", "exit code 2",
    ),
    (
        "ExitCode with no reason",
        a_pod(cs(terminated={"exitCode": 137, "finishedAt": ago(10)}), phase="Failed"),
        "ExitCode:137", "failed", "exit code 137",
    ),
    (
        "a terminated container's own message",
        a_pod(cs(terminated={"exitCode": 1, "reason": "Error", "message": "panic: no config"}), phase="Failed"),
        "Error", "failed", "panic: no config",
    ),
    (
        "evicted by the kubelet",
        a_pod(phase="Failed", reason="Evicted", message="The node was low on resource: memory."),
        "Evicted", "failed", "The node was low on resource: memory.",
    ),
    (
        "Completed beside a running container",
        a_pod(
            cs("c0", terminated={"exitCode": 0, "reason": "Completed"}),
            cs("c1", ready=True, running={"startedAt": ago(30)}),
            phase="Running", conditions=READY,
        ),
        "Running", "ready", "",
    ),
]


@pytest.mark.parametrize("doc, word, key, reason", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_it_prints_kubectls_status_word_and_the_diagrams_shape(doc, word, key, reason):
    shown = display.pod(doc, NOW)

    assert shown["status"] == word == tables.pod_status_reason(doc)
    assert (shown["key"], shown["reason"]) == (key, reason)
    assert shown["key"] in display.KEYS


def test_it_prints_restarts_as_kubectl_does_with_how_long_ago():
    doc = a_pod(
        cs(restarts=3, last_finished=ago(45), waiting={"reason": "CrashLoopBackOff"}),
        phase="Running", conditions=NOT_READY,
    )

    shown = display.pod(doc, NOW)

    assert (shown["restarts"], shown["restartCount"]) == ("3 (45s ago)", 3)
    assert shown["restarts"] == tables.pod_restarts(doc, NOW)
    assert (display.pod(a_pod(), NOW)["restarts"], display.pod(a_pod(), NOW)["restartCount"]) == ("0", 0)


def test_it_counts_restarts_and_readiness_over_every_container():
    doc = a_pod(
        cs("c0", ready=True, restarts=1, last_finished=ago(300), running={}),
        cs("c1", restarts=2, last_finished=ago(90), running={}),
        phase="Running", conditions=NOT_READY,
    )

    shown = display.pod(doc, NOW)

    assert (shown["ready"], shown["restarts"], shown["restartCount"]) == ("1/2", "3 (90s ago)", 3)


def test_the_first_container_names_the_status_as_kubectl_reads_them():
    """kubectl walks the containers from the last to the first: the first one's state wins."""
    doc = a_pod(cs("c0", waiting={"reason": "ErrImagePull"}), cs("c1", waiting={"reason": "ContainerCreating"}))

    assert display.pod(doc, NOW)["status"] == "ErrImagePull" == tables.pod_status_reason(doc)


def test_an_eviction_by_the_node_controller_is_marked_with_its_message():
    doc = a_pod(
        cs(ready=True, running={}),
        phase="Running", deleting=True,
        conditions=[*READY, cond("DisruptionTarget", "True", "DeletionByTaintManager", "Taint manager: deleting due to NoExecute taint")],
    )

    shown = display.pod(doc, NOW)

    assert (shown["status"], shown["key"], shown["evicted"]) == ("Terminating", "terminating", True)
    assert shown["reason"] == "Taint manager: deleting due to NoExecute taint"
    assert display.pod(a_pod(phase="Failed", reason="Evicted"), NOW)["evicted"] is False  # the word says it


def test_it_sums_what_the_containers_request():
    doc = a_pod(containers=2)

    assert display.pod(doc, NOW)["requests"] == {"cpu": "500m", "memory": "128Mi", "milliCpu": 500, "memoryBytes": 128 * 2**20}
    doc["spec"]["containers"] = [{"name": "c0", "image": "nginx"}]
    assert display.pod(doc, NOW)["requests"] == {"cpu": "0", "memory": "0", "milliCpu": 0, "memoryBytes": 0}


@pytest.mark.parametrize("phase, holds", [("Pending", True), ("Running", True), ("Succeeded", False), ("Failed", False)])
def test_a_pod_holds_its_nodes_resources_until_it_has_finished(phase, holds):
    assert display.pod(a_pod(phase=phase), NOW)["holdsResources"] is holds


def test_a_long_reason_is_cut_to_one_line_of_bounded_size():
    doc = a_pod(cs(waiting={"reason": "ErrImagePull", "message": "x" * 5000}))

    reason = display.pod(doc, NOW)["reason"]

    assert len(reason) == display.REASON_CHARS and reason.endswith("…")


def test_it_prints_a_nodes_status_and_allocatable():
    node = node_doc(1, cpu="4", memory="8Gi")

    assert display.node(node) == {
        "status": "Ready", "ready": True,
        "allocatable": {"cpu": "4", "memory": "8Gi", "milliCpu": 4000, "memoryBytes": 8 * 2**30},
    }
    node["spec"]["unschedulable"] = True
    next(c for c in node["status"]["conditions"] if c["type"] == "Ready")["status"] = "Unknown"
    node["status"]["allocatable"] = {"cpu": "1500m", "memory": "2G"}
    shown = display.node(node)
    assert shown["status"] == "NotReady,SchedulingDisabled" == tables.node_status(node)
    assert shown["ready"] is False
    assert shown["allocatable"] == {"cpu": "1500m", "memory": "2G", "milliCpu": 1500, "memoryBytes": 2 * 10**9}


@pytest.mark.parametrize("amount, text", [(0, "0"), (64 * 2**20, "64Mi"), (8 * 2**30, "8Gi"), (100 * 10**6, "100M"), (1536 * 2**20, "1536Mi"), (2 * 10**9, "2G"), (1024000, "1024k"), (1000 * 2**20, "1000Mi"), (12345, "12345")])
def test_memory_is_written_exactly_as_a_quantity(amount, text):
    assert display.memory_text(amount) == text


def test_only_pods_and_nodes_have_display_fields():
    assert display.of({"kind": "Service", "metadata": {"name": "web"}}) is None
    assert display.of(a_pod(), NOW)["key"] == "pending"
    assert display.of(node_doc(1))["status"] == "Ready"
