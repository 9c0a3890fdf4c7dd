"""The cluster's clock and component switches with real workers: pause, step, resume; a
stopped scheduler and a stopped controller manager (the cluster at instant speed)."""
from __future__ import annotations

from collections import Counter

import pytest

from tests.livehelpers import Stream, deployment_manifest, http, is_ready, pod_manifest, step_done, wait_until

pytestmark = pytest.mark.integration

CLUSTER = "clocked"
PODS = f"/k8s/{CLUSTER}/api/v1/namespaces/default/pods"
DEPLOYMENTS = f"/k8s/{CLUSTER}/apis/apps/v1/namespaces/default/deployments"
CLOCK = f"/k8s/{CLUSTER}/podflow/v1/clock"
COMPONENTS = f"/k8s/{CLUSTER}/podflow/v1/components"


@pytest.fixture(scope="module")
def cluster(live_stack):
    live_stack.manage("democluster", "--name", CLUSTER, "--speed", "instant")
    return live_stack.url


@pytest.fixture
def paused(cluster):
    assert http(cluster, "POST", CLOCK, {"paused": True})[0] == 200
    yield cluster
    http(cluster, "POST", CLOCK, {"paused": False})


def once_each(steps: list[dict]) -> dict[int, int]:
    """How many times each step happened: a step is one (number, revision); the same one
    may reach a follower twice (in its snapshot and in a change) and is still one."""
    return dict(Counter(number for number, _ in {(s["number"], s["revision"]) for s in steps}))


def next_actions(base: str) -> list[dict]:
    return http(base, "GET", CLOCK)[1]["next"]


def held_for(base: str, ref: str) -> dict | None:
    return next((a for a in next_actions(base) if ref in a["action"]), None)


def pod(base: str, name: str) -> dict:
    return http(base, "GET", f"{PODS}/{name}")[1]


def test_paused_a_pod_stays_pending_until_stepped_one_action_at_a_time(paused):
    base = paused
    with Stream(base, CLUSTER) as stream:
        assert http(base, "POST", PODS, pod_manifest("held"))[0] == 201
        bind = wait_until(lambda: held_for(base, "default/held"), 20, "the scheduler's bind to be held")
        assert bind["component"] == "scheduler" and bind["step"] == 4 and "bind default/held to node-" in bind["action"]
        assert "nodeName" not in pod(base, "held")["spec"] and pod(base, "held")["status"]["phase"] == "Pending"

        answer = http(base, "POST", CLOCK + "/step", {})[1]
        assert answer["released"]["step"] == 4
        stream.receive_until(step_done("held", 4), 20, "step 4 of held")
        admit = wait_until(lambda: held_for(base, "default/held"), 20, "the kubelet's next stage to be held")
        assert admit["component"] == "kubelet" and admit["step"] == 5
        assert once_each(stream.steps_for("held")) == {1: 1, 2: 1, 3: 1, 4: 1}  # 3: not needed for a bare pod

        for _ in range(12):  # step until Ready, waiting for each next action to be held
            if is_ready(pod(base, "held")):
                break
            wait_until(lambda: held_for(base, "default/held"), 20, "the next action of held")
            assert http(base, "POST", CLOCK + "/step", {"component": "kubelet"})[0] == 200
            wait_until(lambda: is_ready(pod(base, "held")) or held_for(base, "default/held"), 20, "the step to be taken")
        stream.receive_until(step_done("held", 8), 20, "step 8 of held")
        assert once_each(stream.steps_for("held")) == {n: 1 for n in range(1, 9)}


def test_resume_releases_a_pending_deployment_and_each_step_happens_once(paused):
    base = paused
    with Stream(base, CLUSTER) as stream:
        assert http(base, "POST", DEPLOYMENTS, deployment_manifest("later", 10))[0] == 201
        wait_until(lambda: held_for(base, "Deployment default/later"), 20, "the deployment controller's action to be held")
        assert http(base, "GET", PODS + "?labelSelector=app%3Dlater")[1]["items"] == []

        assert http(base, "POST", CLOCK, {"paused": False})[1]["paused"] is False
        wait_until(lambda: len([p for p in http(base, "GET", PODS + "?labelSelector=app%3Dlater")[1]["items"] if is_ready(p)]) == 10, 60, "10 Ready pods")
        names = [p["metadata"]["name"] for p in http(base, "GET", PODS + "?labelSelector=app%3Dlater")[1]["items"]]
        for name in names:
            stream.receive_until(lambda m, n=name: any(s["pod"] == n and s["number"] == 8 for s in stream.steps_for(n)), 30, f"step 8 of {name}")
            counts = once_each(stream.steps_for(name))
            assert set(counts.values()) == {1}, (name, counts)
    assert next_actions(base) == []


def test_a_stopped_scheduler_leaves_a_pod_pending_and_start_places_it(cluster):
    assert http(cluster, "POST", f"{COMPONENTS}/scheduler/stop")[1]["stopped"] == ["scheduler"]
    try:
        assert http(cluster, "POST", PODS, pod_manifest("unscheduled"))[0] == 201
        assert "nodeName" not in pod(cluster, "unscheduled")["spec"]
    finally:
        assert http(cluster, "POST", f"{COMPONENTS}/scheduler/start")[1]["stopped"] == []
    wait_until(lambda: is_ready(pod(cluster, "unscheduled")), 30, "the pod to run once the scheduler is back")


def test_a_stopped_controller_manager_does_not_replace_a_deleted_pod_until_started(cluster):
    selector = PODS + "?labelSelector=app%3Dkept"
    assert http(cluster, "POST", DEPLOYMENTS, deployment_manifest("kept", 2))[0] == 201
    wait_until(lambda: len([p for p in http(cluster, "GET", selector)[1]["items"] if is_ready(p)]) == 2, 60, "2 Ready pods")
    http(cluster, "POST", f"{COMPONENTS}/controller-manager/stop")
    try:
        victim = http(cluster, "GET", selector)[1]["items"][0]["metadata"]["name"]
        assert http(cluster, "DELETE", f"{PODS}/{victim}?gracePeriodSeconds=0")[0] == 200
        wait_until(lambda: len(http(cluster, "GET", selector)[1]["items"]) == 1, 20, "the pod to be gone")
        assert http(cluster, "GET", CLOCK)[1]["stopped"] == ["controller-manager"]
        assert len(http(cluster, "GET", selector)[1]["items"]) == 1
    finally:
        http(cluster, "POST", f"{COMPONENTS}/controller-manager/start")
    wait_until(lambda: len([p for p in http(cluster, "GET", selector)[1]["items"] if is_ready(p)]) == 2, 60, "the pod to be replaced")



def test_stepping_a_paused_rollout_keeps_max_surge_and_max_unavailable(cluster):
    """A rolling update with maxSurge 1 and maxUnavailable 0, taken one held action at a time:
    after every step there are at most replicas + 1 pods wanted across the ReplicaSets and
    never fewer than `replicas` available — the paused clock changes when, never what.

    Available is counted as the Deployment controller counts it (cluster/controllers/
    deployment.py): the pods as stored, Ready and not being deleted. The ReplicaSets'
    status lags behind those (each ReplicaSet's status write is a held action of its own),
    so their sum can dip for a step — an old ReplicaSet's status already down by the pod
    it deleted, the new one's not yet up by the pod that made that deletion allowed."""
    base = cluster
    name = "surge"
    manifest = deployment_manifest(name, 3, "nginx:1.27")
    manifest["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    assert http(base, "POST", DEPLOYMENTS, manifest)[0] == 201
    selector = "?labelSelector=app%3Dsurge"
    replicasets = f"/k8s/{CLUSTER}/apis/apps/v1/namespaces/default/replicasets{selector}"

    def available() -> int:
        items = http(base, "GET", PODS + selector)[1]["items"]
        return sum(1 for pod in items if is_ready(pod) and not pod["metadata"].get("deletionTimestamp"))

    def wanted() -> int:
        return sum(rs["spec"].get("replicas") or 0 for rs in http(base, "GET", replicasets)[1]["items"])

    def done() -> bool:
        dep = http(base, "GET", f"{DEPLOYMENTS}/{name}")[1]
        status = dep.get("status") or {}
        return (status.get("observedGeneration") == dep["metadata"]["generation"] and status.get("updatedReplicas") == 3
                and status.get("availableReplicas") == 3 and (status.get("replicas") or 0) == 3)

    wait_until(lambda: available() == 3, 60, "3 available pods")
    assert http(base, "POST", CLOCK, {"paused": True})[0] == 200
    try:
        dep = http(base, "GET", f"{DEPLOYMENTS}/{name}")[1]
        dep["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
        assert http(base, "PUT", f"{DEPLOYMENTS}/{name}", dep)[0] == 200
        steps = 0
        while not done():
            wait_until(lambda: next_actions(base) or done(), 20, "the next held action")
            if done():
                break
            assert http(base, "POST", CLOCK + "/step", {})[0] == 200
            steps += 1
            assert steps < 300, "the rollout did not finish in 300 steps"
            assert wanted() <= 3 + 1, "maxSurge 1: at most 4 pods wanted"
            assert available() >= 3, "maxUnavailable 0: never fewer than 3 available"
        assert steps > 3  # it really was taken one action at a time
    finally:
        http(base, "POST", CLOCK, {"paused": False})
