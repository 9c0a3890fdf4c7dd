"""The cluster's clock (pause, step, resume) and component switches, driven through the
component tasks themselves and the API that releases them."""
from __future__ import annotations

import json

from cluster import tasks
from cluster.apimachinery import kinds, metav1
from cluster.apiserver import store
from cluster.componentbase import clock as cluster_clock
from cluster.models import Cluster, HeldAction

from .manifests import pod, replicaset, steps_of

CLOCK = "/k8s/test/podflow/v1/clock"


def post(api, url: str, body: dict | None = None):
    return api.post(url, data=json.dumps(body or {}), content_type="application/json")


def current(cluster, name: str = "web") -> dict:
    return store.get(cluster, kinds.POD, "default", name)


def held(cluster) -> list[tuple[str, int | None, str]]:
    return [(a["component"], a["step"], a["action"]) for a in cluster_clock.next_actions(cluster)]


def run_held(cluster) -> None:
    """What the workers do with released actions: run each task (the wake-up is not sent in
    unit tests, so the test plays the queue)."""
    for row in list(HeldAction.objects.filter(cluster=cluster, released=True).order_by("id")):
        getattr(tasks, row.task.rsplit(".", 1)[-1])(*row.args)


def test_paused_the_api_still_stores_but_the_scheduler_holds_its_bind(cluster, api):
    assert post(api, CLOCK, {"paused": True}).status_code == 200
    made = store.create(cluster, pod("web"))
    uid = made["metadata"]["uid"]

    tasks.schedule_pod(cluster.pk, uid)
    tasks.schedule_pod(cluster.pk, uid)  # woken twice: held once

    assert "nodeName" not in current(cluster)["spec"]
    [(component, step, action)] = held(cluster)
    assert (component, step) == ("scheduler", 4)
    assert action.startswith("bind default/web to node-")
    body = api.get(CLOCK).json()
    assert body["paused"] is True and body["next"][0]["action"] == action and body["next"][0]["action_ko"]


def test_a_step_lets_exactly_one_action_through(cluster, api):
    post(api, CLOCK, {"paused": True})
    uid = store.create(cluster, pod("web"))["metadata"]["uid"]
    tasks.schedule_pod(cluster.pk, uid)

    answer = post(api, CLOCK + "/step").json()
    assert answer["released"]["step"] == 4
    run_held(cluster)
    node = current(cluster)["spec"]["nodeName"]
    assert [n for n, _ in steps_of(uid)] == [4]  # (steps 1 and 2 are the HTTP request's)
    assert cluster_clock.next_actions(cluster) == []

    # The kubelet's next stage is held too; a step runs one stage: step 5, then 6.
    tasks.sync_pod(cluster.pk, node, uid)
    assert held(cluster)[0][:2] == ("kubelet", 5)
    post(api, CLOCK + "/step", {"component": "kubelet"})
    run_held(cluster)
    assert [n for n, _ in steps_of(uid)] == [4, 5]
    tasks.sync_pod(cluster.pk, node, uid)
    assert held(cluster)[0][:2] == ("kubelet", 6)


def test_stepping_to_ready_then_each_step_happened_once(cluster, api):
    post(api, CLOCK, {"paused": True})
    uid = store.create(cluster, pod("web"))["metadata"]["uid"]
    tasks.schedule_pod(cluster.pk, uid)
    for _ in range(20):
        if metav1.is_ready(current(cluster)):
            break
        assert post(api, CLOCK + "/step").status_code == 200
        run_held(cluster)
        node = current(cluster)["spec"].get("nodeName")
        if node:
            tasks.sync_pod(cluster.pk, node, uid)
    assert metav1.is_ready(current(cluster))
    numbers = [n for n, _ in steps_of(uid)]
    assert numbers == sorted(set(numbers)) and numbers[-1] == 8


def test_resume_lets_every_held_action_through_in_order(cluster, api):
    post(api, CLOCK, {"paused": True})
    rs = store.create(cluster, replicaset("web", replicas=3))
    tasks.reconcile_replicaset(cluster.pk, rs["metadata"]["uid"])
    assert held(cluster)[0][:2] == ("controller-manager", 3)
    assert store.list_docs(cluster, kinds.POD) == []

    released = cluster_clock.resume(cluster)
    assert released == [("cluster.tasks.reconcile_replicaset", (cluster.pk, rs["metadata"]["uid"]))]
    tasks.reconcile_replicaset(*released[0][1])
    assert len(store.list_docs(cluster, kinds.POD)) == 3
    assert HeldAction.objects.filter(cluster=cluster).count() == 0


def test_a_paused_pending_pass_is_held_as_one_bind_per_pod(cluster, api):
    post(api, CLOCK, {"paused": True})
    for name in ("a", "b"):
        store.create(cluster, pod(name))
    tasks.schedule_pending(cluster.pk)
    assert [h[:2] for h in held(cluster)] == [("scheduler", 4), ("scheduler", 4)]


def test_a_step_let_through_is_taken_by_a_pending_pass_that_comes_first(cluster, api):
    """A step releases a pod's bind; a pending pass (woken by a node's change) runs before
    the pod's own task: the pass binds it, and the step is not used up for nothing."""
    post(api, CLOCK, {"paused": True})
    store.create(cluster, pod("a"))
    tasks.schedule_pending(cluster.pk)
    assert post(api, CLOCK + "/step").json()["released"]["step"] == 4
    tasks.schedule_pending(cluster.pk)
    assert current(cluster, "a")["spec"].get("nodeName")
    assert held(cluster) == []


def test_a_stopped_scheduler_leaves_pods_pending_and_holds_nothing(cluster, api):
    answer = post(api, "/k8s/test/podflow/v1/components/scheduler/stop")
    assert answer.status_code == 200 and answer.json()["stopped"] == ["scheduler"]
    uid = store.create(cluster, pod("web"))["metadata"]["uid"]
    tasks.schedule_pod(cluster.pk, uid)
    assert "nodeName" not in current(cluster)["spec"]
    assert cluster_clock.next_actions(cluster) == []

    assert post(api, "/k8s/test/podflow/v1/components/scheduler/start").json()["stopped"] == []
    tasks.schedule_pod(cluster.pk, uid)
    assert current(cluster)["spec"]["nodeName"]


def test_a_stopped_controller_manager_does_not_replace_pods(cluster, api):
    post(api, "/k8s/test/podflow/v1/components/controller-manager/stop")
    rs = store.create(cluster, replicaset("web", replicas=2))
    tasks.reconcile_replicaset(cluster.pk, rs["metadata"]["uid"])
    assert store.list_docs(cluster, kinds.POD) == []
    post(api, "/k8s/test/podflow/v1/components/controller-manager/start")
    tasks.reconcile_replicaset(cluster.pk, rs["metadata"]["uid"])
    assert len(store.list_docs(cluster, kinds.POD)) == 2


def test_time_stops_for_heartbeats_and_the_node_controller_while_paused(cluster, api, clock):
    from cluster.kubelet import node as kubelet_node

    kubelet_node.heartbeat(cluster)
    post(api, CLOCK, {"paused": True})
    leases_before = {d["metadata"]["name"]: d["spec"]["renewTime"] for d in store.list_docs(cluster, kinds.BY_KIND["Lease"], "kube-node-lease")}
    clock.advance(3600)
    tasks.heartbeat()
    tasks.monitor_nodes()
    leases_after = {d["metadata"]["name"]: d["spec"]["renewTime"] for d in store.list_docs(cluster, kinds.BY_KIND["Lease"], "kube-node-lease")}
    assert leases_after == leases_before
    assert all(metav1.is_ready(n) for n in store.list_docs(cluster, kinds.NODE))

    post(api, CLOCK, {"paused": False})  # resume: the kubelets beat before anything else
    tasks.monitor_nodes()
    assert all(metav1.is_ready(n) for n in store.list_docs(cluster, kinds.NODE))


def test_the_clock_refuses_what_it_cannot_do(cluster, api):
    assert post(api, CLOCK + "/step").status_code == 409  # not paused
    assert post(api, CLOCK, {"paused": "yes"}).status_code == 400
    assert post(api, CLOCK, {"speed": "warp"}).status_code == 400
    assert post(api, CLOCK, {"hold": True}).status_code == 400
    assert api.post(CLOCK, data="{", content_type="application/json").status_code == 400
    assert post(api, "/k8s/test/podflow/v1/components/etcd/stop").status_code == 404
    assert post(api, "/k8s/test/podflow/v1/components/scheduler/pause").status_code == 404
    assert api.get("/k8s/test/podflow/v1/components/scheduler/stop").status_code == 405
    post(api, CLOCK, {"paused": True})
    assert post(api, CLOCK + "/step", {"component": "etcd"}).status_code == 400
    answer = post(api, CLOCK + "/step")
    assert answer.status_code == 200 and answer.json()["released"] is None  # nothing held
    assert Cluster.objects.get(pk=cluster.pk).paused


def test_speed_moves_to_the_clock(cluster, api):
    assert post(api, CLOCK, {"speed": "slow"}).json()["speed"] == "slow"
    assert Cluster.objects.get(pk=cluster.pk).speed == "slow"


def test_a_task_that_read_its_cluster_paused_just_before_a_resume_acts_and_holds_nothing(cluster):
    """A task reads its cluster once as it starts; a resume that commits between that read
    and the hold is seen under the cluster's row lock, so no held row outlives the pause."""
    made = store.create(cluster, pod("web"))
    as_read = Cluster.objects.get(pk=cluster.pk)
    as_read.paused = True  # what the task read; the resume has committed since

    args = (cluster.pk, made["metadata"]["uid"])
    verdict = cluster_clock.admit(as_read, cluster_clock.SCHEDULER, "cluster.tasks.schedule_pod", args, lambda: cluster_clock.Action(en="bind", ko="바인딩"))

    assert verdict == cluster_clock.RUN
    assert not HeldAction.objects.filter(cluster=cluster).exists()
    Cluster.objects.filter(pk=cluster.pk).update(paused=True)  # and paused for real: held, once
    for _ in range(2):
        assert cluster_clock.admit(as_read, cluster_clock.SCHEDULER, "cluster.tasks.schedule_pod", args, lambda: cluster_clock.Action(en="bind", ko="바인딩")) == ""
    assert HeldAction.objects.filter(cluster=cluster).count() == 1
