"""The whole path, for real: HTTP → API server → Celery roles → websocket."""
from __future__ import annotations

import pytest

from tests.livehelpers import Stream, deployment_manifest, http, is_ready, pod_manifest, step_done, wait_until

pytestmark = pytest.mark.integration

PODS = "/k8s/demo/api/v1/namespaces/default/pods"
DEPLOYMENTS = "/k8s/demo/apis/apps/v1/namespaces/default/deployments"


def test_it_streams_steps_one_to_eight_in_order_for_a_pod_created_over_http(live_stack):
    with Stream(live_stack.url) as stream:
        snapshot = stream.receive_until(lambda m: m["type"] == "snapshot", 10, "the snapshot")
        assert {n["metadata"]["name"] for n in snapshot["nodes"]} == {"node-1", "node-2", "node-3"}

        status, created = http(live_stack.url, "POST", PODS, pod_manifest("lifecycle"), agent="kubectl/v1.32.4 (linux/amd64)")
        assert status == 201, created
        stream.receive_until(step_done("lifecycle", 8), 30, "step 8 of pod lifecycle")

        steps = stream.steps_for("lifecycle")
        assert [s["number"] for s in steps] == [1, 2, 3, 4, 5, 6, 7, 8]
        assert steps[0]["actor"] == "kubectl" and "kubectl" in steps[0]["text"]["en"]
        assert steps[2]["status"] == "not-needed"
        assert [s["component"] for s in steps[3:]] == ["scheduler", "kubelet", "container-runtime", "pod", "kubelet"]
        revisions = [m["revision"] for m in stream.changes()]
        assert revisions == list(range(snapshot["revision"] + 1, snapshot["revision"] + 1 + len(revisions)))

    status, pod = http(live_stack.url, "GET", PODS + "/lifecycle")
    assert status == 200
    assert pod["status"]["phase"] == "Running" and is_ready(pod)
    assert pod["spec"]["nodeName"] in {"node-1", "node-2", "node-3"}
    assert pod["status"]["podIP"].startswith("10.244.")


def test_it_brings_a_five_replica_deployment_to_five_ready_pods_spread_over_the_nodes(live_stack):
    status, body = http(live_stack.url, "POST", DEPLOYMENTS, deployment_manifest("spread", 5))
    assert status == 201, body

    def ready_pods():
        _, listing = http(live_stack.url, "GET", PODS + "?labelSelector=app%3Dspread")
        ready = [p for p in listing["items"] if is_ready(p) and not p["metadata"].get("deletionTimestamp")]
        return ready if len(ready) == 5 else None

    pods = wait_until(ready_pods, 30, "5 ready pods of deployment spread")
    assert len({p["spec"]["nodeName"] for p in pods}) == 3
    _, deployment = http(live_stack.url, "GET", DEPLOYMENTS + "/spread")
    wait_until(lambda: http(live_stack.url, "GET", DEPLOYMENTS + "/spread")[1]["status"].get("readyReplicas") == 5, 15, "readyReplicas 5")

    victim = pods[0]["metadata"]["name"]
    status, _ = http(live_stack.url, "DELETE", PODS + "/" + victim)
    assert status == 200

    def replaced():
        _, listing = http(live_stack.url, "GET", PODS + "?labelSelector=app%3Dspread")
        names = {p["metadata"]["name"] for p in listing["items"] if is_ready(p) and not p["metadata"].get("deletionTimestamp")}
        return names if len(names) == 5 and victim not in names else None

    wait_until(replaced, 30, "the deleted pod to be replaced")
    assert http(live_stack.url, "GET", PODS + "/" + victim)[0] == 404


def test_it_records_steps_one_to_three_for_a_deployment_pod_through_the_controller_manager(live_stack):
    with Stream(live_stack.url) as stream:
        stream.receive_until(lambda m: m["type"] == "snapshot", 10, "the snapshot")
        http(live_stack.url, "POST", DEPLOYMENTS, deployment_manifest("owned", 1))
        message = stream.receive_until(lambda m: m.get("type") == "change" and any(s["number"] == 8 and s["pod"].startswith("owned-") for s in m["steps"]), 30, "a ready pod of deployment owned")
        pod = next(s["pod"] for s in message["steps"] if s["number"] == 8)
        steps = stream.steps_for(pod)
        assert [s["number"] for s in steps] == [1, 2, 3, 4, 5, 6, 7, 8]
        assert steps[2]["status"] == "done" and steps[2]["component"] == "controller-manager"
        assert "Deployment default/owned" in steps[0]["text"]["en"]


def test_it_resumes_a_stream_with_exactly_the_changes_it_missed(live_stack):
    with Stream(live_stack.url) as first:
        snapshot = first.receive_until(lambda m: m["type"] == "snapshot", 10, "the snapshot")
        last = snapshot["revision"]
    status, _ = http(live_stack.url, "POST", PODS, pod_manifest("missed"))
    assert status == 201
    wait_until(lambda: is_ready(http(live_stack.url, "GET", PODS + "/missed")[1]), 30, "pod missed to be ready")
    current = int(http(live_stack.url, "GET", PODS)[1]["metadata"]["resourceVersion"])

    with Stream(live_stack.url, since=last) as resumed:
        resumed.receive_until(lambda m: m.get("revision") == current and m["type"] == "change", 15, f"revision {current}")
        revisions = [m["revision"] for m in resumed.changes()]
        # Every revision it missed, once and in order (no gap, no duplicate). What the cluster
        # wrote by itself after `current` was read (a kubelet renewing its node's Lease) may
        # come in the same replay or frame, after them.
        assert revisions == list(range(last + 1, last + 1 + len(revisions)))
        assert revisions[-1] >= current
        assert [s["number"] for s in resumed.steps_for("missed")] == [1, 2, 3, 4, 5, 6, 7, 8]
