"""The Celery tasks are thin: ids in, one reconcile function, wake again when work is left."""
from __future__ import annotations

import pytest

from cluster import scheduler, tasks
from cluster.apimachinery import kinds, pods
from cluster.apiserver import store
from cluster.informers import wake
from cluster.models import Speed

from .manifests import deployment, pod


@pytest.fixture
def dispatched(monkeypatch) -> list[tuple[list, float]]:
    """What the tasks ask to wake (dispatch is off in the unit settings)."""
    sent: list[tuple[list, float]] = []
    monkeypatch.setattr(wake, "dispatch", lambda tasks_, countdown=0.0, unless_delayed=False: sent.append((list(tasks_), countdown)))
    return sent


def bound(cluster) -> tuple[str, str]:
    created = store.create(cluster, pod("web"))
    return scheduler.schedule(cluster, created["metadata"]["uid"]), created["metadata"]["uid"]


def test_the_kubelet_task_runs_every_due_stage_at_instant_speed(cluster, dispatched):
    node, uid = bound(cluster)

    tasks.sync_pod(cluster.pk, node, uid)

    assert pods.is_ready(store.get(cluster, kinds.POD, "default", "web"))
    assert dispatched == []


def test_the_kubelet_task_comes_back_a_stage_later_at_normal_speed(cluster, dispatched):
    store.set_speed(cluster, Speed.NORMAL)
    node, uid = bound(cluster)

    tasks.sync_pod(cluster.pk, node, uid)

    [(sent, countdown)] = dispatched
    assert sent == [(wake.SYNC_POD, (cluster.pk, node, uid))]
    assert 0 < countdown <= 1.0
    assert "hostIP" not in store.get(cluster, kinds.POD, "default", "web")["status"]


def test_the_resync_passes_over_each_cluster_in_a_task_of_its_own_behind_the_controllers_work(cluster, dispatched):
    from cluster.demo import ensure_cluster

    other, _ = ensure_cluster("other", nodes=1)

    tasks.resync()

    assert dispatched == [([(wake.RESYNC_CLUSTER, (cluster.pk,)), (wake.RESYNC_CLUSTER, (other.pk,))], 0.0)]
    assert wake._behind(wake.RESYNC_CLUSTER, None) and wake.QUEUES[wake.RESYNC_CLUSTER] == "controller-manager"
    assert not wake._behind(wake.RECONCILE_DEPLOYMENT, 0.0)  # an object's own change: the lane in front


def test_the_resync_wakes_everything_not_yet_converged(cluster, dispatched):
    dep = store.create(cluster, deployment("web", replicas=1))
    waiting = store.create(cluster, pod("waiting"))
    node, uid = bound(cluster)

    tasks.resync_cluster(cluster.pk)

    [(sent, _)] = dispatched
    assert (wake.RECONCILE_DEPLOYMENT, (cluster.pk, dep["metadata"]["uid"])) in sent
    assert (wake.SCHEDULE_PENDING, (cluster.pk,)) in sent
    assert (wake.SYNC_POD, (cluster.pk, node, uid)) in sent
    assert waiting["metadata"]["uid"] in scheduler.pending_pods(cluster)


def test_the_resync_leaves_converged_deployments_and_replicasets_alone(cluster, dispatched):
    from cluster.controllers import deployment as deployment_controller
    from cluster.controllers import replicaset as replicaset_controller

    dep = store.create(cluster, deployment("calm", replicas=0))
    deployment_controller.reconcile(cluster, dep["metadata"]["uid"])
    [rs] = store.list_docs(cluster, kinds.REPLICASET)
    replicaset_controller.reconcile(cluster, rs["metadata"]["uid"])
    deployment_controller.reconcile(cluster, dep["metadata"]["uid"])

    tasks.resync_cluster(cluster.pk)

    [(sent, _)] = dispatched
    assert not [t for t in sent if t[0] in (wake.RECONCILE_DEPLOYMENT, wake.RECONCILE_REPLICASET, wake.COLLECT_GARBAGE)]
    store.mutate(cluster, kinds.REPLICASET, "default", rs["metadata"]["name"], lambda d: d["status"].__setitem__("replicas", 3), by=store.API)
    tasks.resync_cluster(cluster.pk)
    assert (wake.RECONCILE_REPLICASET, (cluster.pk, rs["metadata"]["uid"])) in dispatched[-1][0]  # a status that lies is resynced


def test_a_task_for_a_cluster_that_is_gone_does_nothing(db, dispatched):
    tasks.reconcile_deployment(999, "uid")
    tasks.sync_pod(999, "node-1", "uid")

    assert dispatched == []


def test_the_resync_wakes_the_endpoint_controllers_and_the_service_controller(cluster, dispatched):
    store.create(cluster, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shop"}, "spec": {"type": "LoadBalancer", "selector": {"app": "shop"}, "ports": [{"port": 80}]}})

    tasks.resync_cluster(cluster.pk)

    [(sent, _)] = dispatched
    assert (wake.SYNC_NAMESPACE_ENDPOINTS, (cluster.pk, "default")) in sent
    assert (wake.RECONCILE_LOADBALANCER, (cluster.pk, "default", "shop")) in sent


def test_the_endpoints_task_writes_a_services_endpoints(cluster, dispatched):
    store.create(cluster, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})

    tasks.reconcile_endpoints(cluster.pk, "default", "web")
    tasks.sync_namespace_endpoints(cluster.pk, "default")
    tasks.reconcile_loadbalancer(cluster.pk, "default", "web")

    assert store.find(cluster, kinds.ENDPOINTS, "default", "web") is not None


def test_the_resync_skips_a_cluster_where_nothing_was_written_since_it_found_nothing(cluster, dispatched, django_assert_max_num_queries):
    from cluster.controllers import deployment as deployment_controller
    from cluster.controllers import replicaset as replicaset_controller

    dep = store.create(cluster, deployment("calm", replicas=0))
    deployment_controller.reconcile(cluster, dep["metadata"]["uid"])
    [rs] = store.list_docs(cluster, kinds.REPLICASET)
    replicaset_controller.reconcile(cluster, rs["metadata"]["uid"])
    deployment_controller.reconcile(cluster, dep["metadata"]["uid"])
    tasks.resync_cluster(cluster.pk)  # finds nothing to wake
    assert not [t for sent, _ in dispatched for t in sent]

    with django_assert_max_num_queries(1):  # the cluster's row, and nothing else
        tasks.resync_cluster(cluster.pk)

    # A write since: the next pass reads again, and finds what the write left to do.
    store.mutate(cluster, kinds.REPLICASET, "default", rs["metadata"]["name"], lambda d: d["status"].__setitem__("replicas", 3), by=store.API)
    tasks.resync_cluster(cluster.pk)
    assert (wake.RECONCILE_REPLICASET, (cluster.pk, rs["metadata"]["uid"])) in dispatched[-1][0]


def test_a_cluster_with_a_pod_waiting_to_be_scheduled_is_passed_every_time(cluster, dispatched, monkeypatch):
    """The scheduler's part answers by the clock too (an unschedulable pod is tried again
    after a minute): such a cluster is never skipped as quiet."""
    from cluster.scheduler import cycle

    waiting = store.create(cluster, pod("waiting"))
    monkeypatch.setattr(cycle, "_tried", lambda p: True)  # tried, its minute not up
    monkeypatch.setattr(cycle, "_retried_at", {(cluster.pk, str(cluster.created)): float("inf")})
    tasks.resync_cluster(cluster.pk)
    assert (wake.SCHEDULE_PENDING, (cluster.pk,)) not in [t for sent, _ in dispatched for t in sent]

    monkeypatch.setattr(cycle, "_retried_at", {})  # the minute is up, nothing written meanwhile
    tasks.resync_cluster(cluster.pk)
    assert (wake.SCHEDULE_PENDING, (cluster.pk,)) in dispatched[-1][0]
    assert waiting["metadata"]["uid"] in scheduler.pending_pods(cluster)
