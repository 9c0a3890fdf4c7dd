"""Which components a write wakes: wake.for_change is a pure function of the change."""
from __future__ import annotations

import copy
from contextlib import contextmanager, nullcontext

from cluster.apiserver import store
from cluster.informers import wake

CLUSTER = 7


def doc(kind: str, uid: str = "u1", *, node: str = "", owner: tuple[str, str] | None = None, ready: bool | None = None, deleting: bool = False) -> dict:
    meta: dict = {"name": "x", "namespace": "default", "uid": uid}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "uid": owner[1], "controller": True, "name": "o", "apiVersion": "apps/v1"}]
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    spec: dict = {"nodeName": node} if node else {}
    status: dict = {"phase": "Pending"}
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {"kind": kind, "metadata": meta, "spec": spec, "status": status}


def wakes(type_: str, old: dict | None, new: dict, by: str) -> set:
    return set(wake.for_change(CLUSTER, type_, old, new, by))


def names(tasks: set) -> set[str]:
    return {name for name, _ in tasks}


def test_a_new_unscheduled_pod_wakes_the_scheduler():
    assert wakes("ADDED", None, doc("Pod"), store.API) == {(wake.SCHEDULE_POD, (CLUSTER, "u1"))}


def test_a_scheduler_write_to_an_unscheduled_pod_does_not_wake_the_scheduler():
    pod = doc("Pod")

    assert wakes("MODIFIED", pod, pod, store.SCHEDULER) == set()


def test_a_bound_pod_wakes_the_kubelet_of_its_node():
    old = doc("Pod")

    assert wakes("MODIFIED", old, doc("Pod", node="node-2"), store.SCHEDULER) == {(wake.SYNC_POD, (CLUSTER, "node-2", "u1"))}


def test_a_kubelet_write_does_not_wake_the_kubelet():
    old = doc("Pod", node="node-2")
    new = copy.deepcopy(old)
    new["status"]["podIP"] = "10.244.2.2"

    # Only the endpoint controllers hear of the new IP (they list pods by IP).
    assert wakes("MODIFIED", old, new, store.KUBELET) == {(wake.SYNC_NAMESPACE_ENDPOINTS, (CLUSTER, "default"))}


def test_deleting_a_bound_pod_wakes_its_kubelet():
    old = doc("Pod", node="node-2")

    assert wakes("MODIFIED", old, doc("Pod", node="node-2", deleting=True), store.API) == {(wake.SYNC_POD, (CLUSTER, "node-2", "u1"))}


def test_a_terminating_unbound_pod_does_not_wake_the_scheduler():
    assert wake.SCHEDULE_POD not in names(wakes("MODIFIED", doc("Pod"), doc("Pod", deleting=True), store.API))


def test_a_pod_readiness_change_wakes_its_replicaset():
    old = doc("Pod", node="node-1", owner=("ReplicaSet", "rs1"), ready=False)
    new = doc("Pod", node="node-1", owner=("ReplicaSet", "rs1"), ready=True)

    assert wakes("MODIFIED", old, new, store.KUBELET) == {(wake.RECONCILE_REPLICASET, (CLUSTER, "rs1"))}


def test_a_pod_change_the_replicaset_does_not_count_does_not_wake_it():
    old = doc("Pod", node="node-1", owner=("ReplicaSet", "rs1"), ready=False)
    new = copy.deepcopy(old)
    new["status"]["podIP"] = "10.244.1.2"

    assert wakes("MODIFIED", old, new, store.KUBELET) == {(wake.SYNC_NAMESPACE_ENDPOINTS, (CLUSTER, "default"))}


def test_the_replicaset_controller_is_not_woken_by_its_own_pods():
    created = doc("Pod", owner=("ReplicaSet", "rs1"))

    assert wakes("ADDED", None, created, store.REPLICASET_CONTROLLER) == {(wake.SCHEDULE_POD, (CLUSTER, "u1"))}


def test_a_removed_pod_frees_room_and_wakes_its_replicaset():
    gone = doc("Pod", node="node-1", owner=("ReplicaSet", "rs1"), ready=True)

    assert wakes("DELETED", gone, gone, store.KUBELET) == {
        (wake.SCHEDULE_PENDING, (CLUSTER,)),
        (wake.RECONCILE_REPLICASET, (CLUSTER, "rs1")),
    }


def test_a_deleted_deployment_wakes_the_garbage_collector():
    gone = doc("Deployment", "d1")

    assert wakes("DELETED", gone, gone, store.API) == {(wake.COLLECT_GARBAGE, (CLUSTER, "d1"))}


def test_a_deleted_replicaset_wakes_the_garbage_collector_and_its_deployment():
    gone = doc("ReplicaSet", "rs1", owner=("Deployment", "d1"))

    assert wakes("DELETED", gone, gone, store.API) == {
        (wake.COLLECT_GARBAGE, (CLUSTER, "rs1")),
        (wake.RECONCILE_DEPLOYMENT, (CLUSTER, "d1")),
    }


def test_a_deployment_written_by_a_user_wakes_the_deployment_controller_but_not_its_own_status_write():
    dep = doc("Deployment", "d1")

    assert wakes("MODIFIED", dep, dep, store.API) == {(wake.RECONCILE_DEPLOYMENT, (CLUSTER, "d1"))}
    assert wakes("MODIFIED", dep, dep, store.DEPLOYMENT_CONTROLLER) == set()


def test_a_replicaset_scaled_by_its_deployment_wakes_the_replicaset_controller_only():
    rs = doc("ReplicaSet", "rs1", owner=("Deployment", "d1"))

    assert wakes("MODIFIED", rs, rs, store.DEPLOYMENT_CONTROLLER) == {(wake.RECONCILE_REPLICASET, (CLUSTER, "rs1"))}


def test_a_replicaset_status_write_wakes_its_deployment_only():
    rs = doc("ReplicaSet", "rs1", owner=("Deployment", "d1"))

    assert wakes("MODIFIED", rs, rs, store.REPLICASET_CONTROLLER) == {(wake.RECONCILE_DEPLOYMENT, (CLUSTER, "d1"))}


def test_a_node_becoming_ready_or_cordoned_wakes_the_pending_pods():
    node = doc("Node", "n1", ready=False)
    ready = doc("Node", "n1", ready=True)
    cordoned = copy.deepcopy(ready)
    cordoned["spec"]["unschedulable"] = True

    # Readiness also moves the Ingresses' addresses (the Ready nodes'): the ingress controller hears of it.
    assert wakes("MODIFIED", node, ready, store.API) == {(wake.SCHEDULE_PENDING, (CLUSTER,)), (wake.SYNC_INGRESSES, (CLUSTER, "", ""))}
    assert wakes("MODIFIED", ready, cordoned, store.API) == {(wake.SCHEDULE_PENDING, (CLUSTER,))}
    assert wakes("MODIFIED", ready, ready, store.KUBELET) == set()


def test_a_node_label_or_allocatable_change_wakes_the_pending_pods():
    node = doc("Node", "n1", ready=True)
    labelled = copy.deepcopy(node)
    labelled["metadata"]["labels"] = {"disk": "ssd"}
    bigger = copy.deepcopy(node)
    bigger["status"]["allocatable"] = {"cpu": "8"}

    assert wakes("MODIFIED", node, labelled, store.API) == {(wake.SCHEDULE_PENDING, (CLUSTER,))}
    assert wakes("MODIFIED", node, bigger, store.KUBELET) == {(wake.SCHEDULE_PENDING, (CLUSTER,))}


def test_a_bound_pod_that_finishes_frees_room_for_the_pending_pods():
    running = doc("Pod", node="node-2")
    done = copy.deepcopy(running)
    done["status"]["phase"] = "Succeeded"

    assert (wake.SCHEDULE_PENDING, (CLUSTER,)) in wakes("MODIFIED", running, done, store.KUBELET)
    assert (wake.SCHEDULE_PENDING, (CLUSTER,)) not in wakes("MODIFIED", done, done, store.KUBELET)


def test_events_and_namespaces_wake_nobody():
    assert wakes("ADDED", None, doc("Event"), store.SCHEDULER) == set()
    assert wakes("ADDED", None, doc("Namespace"), store.API) == set()


def test_it_does_not_dispatch_when_waking_is_off(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("nothing may be sent when PODFLOW_WAKE is off")

    monkeypatch.setattr(wake, "_redis_client", fail)

    wake.dispatch([(wake.SCHEDULE_PENDING, (CLUSTER,))])
    wake.started((wake.SCHEDULE_PENDING, (CLUSTER,)))


def test_it_keys_a_task_by_its_name_and_arguments():
    assert wake.pending_key((wake.SYNC_POD, (CLUSTER, "node-1", "u1"))) == "podflow:queued:sync_pod:7:node-1:u1"


def service_doc(type_: str = "ClusterIP", **spec) -> dict:
    return {"kind": "Service", "metadata": {"name": "web", "namespace": "default", "uid": "s1"}, "spec": {"type": type_, "selector": {"app": "web"}, **spec}, "status": {"loadBalancer": {}}}


def test_a_pod_getting_ready_wakes_the_endpoint_controllers_of_its_namespace():
    old = doc("Pod", node="node-1", ready=False)
    old["status"]["podIP"] = "10.244.1.2"
    new = copy.deepcopy(old)
    new["status"]["conditions"][0]["status"] = "True"

    assert (wake.SYNC_NAMESPACE_ENDPOINTS, (CLUSTER, "default")) in wakes("MODIFIED", old, new, store.KUBELET)


def test_a_pod_without_an_ip_does_not_wake_the_endpoint_controllers():
    old = doc("Pod")
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"app": "web"}

    assert wake.SYNC_NAMESPACE_ENDPOINTS not in names(wakes("MODIFIED", old, new, store.API))


def test_a_deleted_pod_with_an_ip_wakes_the_endpoint_controllers():
    gone = doc("Pod", node="node-1")
    gone["status"]["podIP"] = "10.244.1.2"

    assert (wake.SYNC_NAMESPACE_ENDPOINTS, (CLUSTER, "default")) in wakes("DELETED", gone, gone, store.KUBELET)


def test_a_service_change_wakes_its_endpoints_and_a_load_balancer_its_service_controller():
    # A new Service may be one an Ingress already names: the ingress controller looks.
    assert wakes("ADDED", None, service_doc(), store.API) == {(wake.RECONCILE_ENDPOINTS, (CLUSTER, "default", "web")), (wake.SYNC_INGRESSES, (CLUSTER, "default", "web"))}
    assert wakes("MODIFIED", service_doc(), service_doc("LoadBalancer"), store.API) == {
        (wake.RECONCILE_ENDPOINTS, (CLUSTER, "default", "web")),
        (wake.RECONCILE_LOADBALANCER, (CLUSTER, "default", "web")),
    }


def test_the_service_controllers_status_write_wakes_nobody():
    old = service_doc("LoadBalancer")
    new = copy.deepcopy(old)
    new["status"]["loadBalancer"] = {"ingress": [{"ip": "192.168.49.200"}]}

    assert wakes("MODIFIED", old, new, store.SERVICE_CONTROLLER) == set()


def test_endpoints_written_by_someone_else_wake_the_controller_and_its_own_writes_do_not():
    ep = {"kind": "Endpoints", "metadata": {"name": "web", "namespace": "default", "uid": "e1"}}
    es = {"kind": "EndpointSlice", "metadata": {"name": "web-abc", "namespace": "default", "uid": "e2", "labels": {"kubernetes.io/service-name": "web"}}}

    assert wakes("DELETED", ep, ep, store.API) == {(wake.RECONCILE_ENDPOINTS, (CLUSTER, "default", "web")), (wake.SYNC_INGRESSES, (CLUSTER, "default", "web"))}
    assert wakes("MODIFIED", es, es, store.API) == {(wake.RECONCILE_ENDPOINTS, (CLUSTER, "default", "web"))}
    assert wakes("MODIFIED", ep, ep, store.ENDPOINT_CONTROLLER) == set()
    assert wakes("ADDED", None, es, store.ENDPOINTSLICE_CONTROLLER) == set()


# --- routing runs after commit, from the committed changes --------------------------------

def test_wakes_are_routed_after_commit_from_what_committed(cluster, monkeypatch, django_capture_on_commit_callbacks):
    from cluster.apimachinery import kinds

    from .manifests import deployment, pod

    sent: list[list] = []
    monkeypatch.setattr(wake, "dispatch", lambda tasks, **kw: sent.append(list(tasks)))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with store.locked(cluster):
            made = store.create(cluster, deployment("web"))
            store.create(cluster, pod("bare"))
            assert sent == []  # nothing is routed inside the write transaction
        assert sent == []  # nor before the commit

    for callback in callbacks:
        callback()
    # Routed once for the whole transaction (what is done at once and what is gathered
    # in a call each).
    tasks = [task for batch in sent for task in batch]
    assert len(tasks) == len(set(tasks))
    assert (wake.RECONCILE_DEPLOYMENT, (cluster.pk, made["metadata"]["uid"])) in tasks
    bare = store.get(cluster, kinds.POD, "default", "bare")
    assert (wake.SCHEDULE_POD, (cluster.pk, bare["metadata"]["uid"])) in tasks


def test_writes_undone_by_a_savepoint_wake_nothing(cluster, monkeypatch, django_capture_on_commit_callbacks):
    from .manifests import deployment, pod

    sent: list[list] = []
    monkeypatch.setattr(wake, "dispatch", lambda tasks, **kw: sent.append(list(tasks)))
    with django_capture_on_commit_callbacks(execute=True):
        with store.locked(cluster):
            store.create(cluster, pod("kept"))
            try:
                with store.savepoint(cluster):
                    store.create(cluster, deployment("undone"))
                    raise RuntimeError("the object's part fails")
            except RuntimeError:
                pass

    [tasks] = sent
    assert [name for name, _ in tasks] == [wake.SCHEDULE_POD]


def test_a_failing_listener_does_not_stop_the_others(cluster, monkeypatch, django_capture_on_commit_callbacks):
    from .manifests import pod

    sent: list[list] = []
    monkeypatch.setattr(wake, "dispatch", lambda tasks, **kw: sent.append(list(tasks)))

    def broken(cluster, changes):
        raise RuntimeError("a listener that fails")

    monkeypatch.setattr(store, "_listeners", [broken, *store._listeners])
    with django_capture_on_commit_callbacks(execute=True):
        store.create(cluster, pod("web"))
    assert [name for name, _ in sent[0]] == [wake.SCHEDULE_POD]


def test_at_normal_and_slow_speed_the_control_plane_waits_a_stage_per_hop(cluster, monkeypatch):
    """dispatch_paced: component wake-ups wait the cluster's stage time (1 s normal, 3 s
    slow) so steps 3 and 4 are seen happening; the kubelet paces its own stages."""
    sent: list[tuple[list, dict]] = []
    monkeypatch.setattr(wake, "dispatch", lambda tasks, **kw: sent.append((list(tasks), kw)))
    scheduler_task = (wake.SCHEDULE_POD, (cluster.pk, "u"))
    kubelet_task = (wake.SYNC_POD, (cluster.pk, "node-1", "u"))
    for speed, pace in (("normal", 1.0), ("slow", 3.0)):
        store.set_speed(cluster, speed)
        sent.clear()
        wake.dispatch_paced(cluster, [scheduler_task, kubelet_task])
        assert ([kubelet_task], {"unless_delayed": False}) in sent
        assert ([scheduler_task], {"countdown": pace, "unless_delayed": False}) in sent
    store.set_speed(cluster, "instant")
    sent.clear()
    wake.dispatch_paced(cluster, [scheduler_task, kubelet_task])
    assert sent == [([scheduler_task, kubelet_task], {"unless_delayed": False})]


def test_an_objects_own_change_is_acted_on_at_once_and_what_its_pods_say_is_gathered(cluster, monkeypatch):
    sent: list[tuple[list, dict]] = []
    monkeypatch.setattr(wake, "dispatch", lambda tasks, **kw: sent.append((list(tasks), kw)))

    made = doc("ReplicaSet", "rs1", owner=("Deployment", "d1"))
    wake.route(cluster, [store.Committed("ADDED", 10, None, made, store.DEPLOYMENT_CONTROLLER)])
    own = (wake.RECONCILE_REPLICASET, (cluster.pk, made["metadata"]["uid"]))
    assert [kw for tasks, kw in sent if own in tasks] == [{"countdown": 0.0}]

    sent.clear()
    old = doc("Pod", "p1", node="node-1", owner=("ReplicaSet", "rs1"), ready=False)
    new = doc("Pod", "p1", node="node-1", owner=("ReplicaSet", "rs1"), ready=True)
    wake.route(cluster, [store.Committed("MODIFIED", 11, old, new, store.KUBELET)])
    assert [kw.get("countdown") for tasks, kw in sent if own in tasks] == [None]  # its kind's coalescing time

    sent.clear()
    scaled = copy.deepcopy(made)
    scaled["spec"]["replicas"] = 5
    wake.route(cluster, [store.Committed("MODIFIED", 12, made, scaled, store.DEPLOYMENT_CONTROLLER)])
    assert [kw for tasks, kw in sent if own in tasks] == [{"countdown": 0.0}]  # its own change: at once


def test_a_pods_new_address_queues_an_endpoints_pass_only_where_a_service_is(cluster, monkeypatch):
    """route, after the commit: a namespace without a Service has no endpoints to keep, so
    nothing is queued (nor held, on a paused cluster) for it."""
    sent: list = []
    monkeypatch.setattr(wake, "dispatch", lambda tasks, **kw: sent.extend(tasks))
    old = doc("Pod", node="node-1", ready=False)
    new = copy.deepcopy(old)
    new["status"]["podIP"] = "10.244.1.2"
    changed = [store.Committed("MODIFIED", 10, old, new, store.KUBELET)]
    wanted = (wake.SYNC_NAMESPACE_ENDPOINTS, (cluster.pk, "default"))

    wake.route(cluster, changed)
    assert wanted not in sent

    store.create(cluster, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    sent.clear()
    wake.route(cluster, changed)
    assert wanted in sent


# --- the controller manager's own follow-ups ----------------------------------------------

@contextmanager
def running_task(name: str, queue: str):
    """As inside a worker running a task taken from `queue`."""
    from celery import _state, current_app

    task = current_app.tasks[name]
    task.push_request(delivery_info={"routing_key": queue}, is_eager=False)
    _state._task_stack.push(task)
    try:
        yield task
    finally:
        _state._task_stack.pop()
        task.pop_request()


def test_a_replicaset_the_deployment_controller_made_is_reconciled_by_the_same_worker_after_its_task(cluster, monkeypatch, settings, django_capture_on_commit_callbacks):
    from cluster import tasks
    from cluster.apimachinery import kinds
    from cluster.controllers import deployment

    from .manifests import deployment as deployment_manifest

    sent: list[tuple[list, dict]] = []
    monkeypatch.setattr(wake, "dispatch", lambda tasks, **kw: sent.append((list(tasks), kw)))
    made = store.create(cluster, deployment_manifest("web", replicas=2))
    settings.PODFLOW_WAKE = True
    wake.take_next()
    with running_task(wake.RECONCILE_DEPLOYMENT, "controller-manager"):
        with django_capture_on_commit_callbacks(execute=True):
            deployment.reconcile(cluster, made["metadata"]["uid"])
        [rs] = store.list_docs(cluster, kinds.REPLICASET, "default")
        own = (wake.RECONCILE_REPLICASET, (cluster.pk, rs["metadata"]["uid"]))
        assert not any(own in tasks for tasks, _ in sent)  # not sent to the broker
        settings.PODFLOW_WAKE = False  # what the follow-up wakes is not this test's
        with django_capture_on_commit_callbacks(execute=True):
            tasks.run_queued_here()
    # Its pods were made as the task ended, by the ReplicaSet controller's reconcile.
    assert len(store.list_docs(cluster, kinds.POD, "default")) == 2
    assert wake.take_next() == []


def test_outside_the_controller_manager_an_objects_own_reconcile_goes_to_the_broker(cluster, monkeypatch, settings):
    sent: list[tuple[list, dict]] = []
    monkeypatch.setattr(wake, "dispatch", lambda tasks, **kw: sent.append((list(tasks), kw)))
    settings.PODFLOW_WAKE = True
    made = doc("ReplicaSet", "rs1", owner=("Deployment", "d1"))
    own = (wake.RECONCILE_REPLICASET, (cluster.pk, "rs1"))
    for queue in ("scheduler", None):
        sent.clear()
        with running_task(wake.SCHEDULE_QUEUE, queue) if queue else nullcontext():
            wake.route(cluster, [store.Committed("ADDED", 10, None, made, store.DEPLOYMENT_CONTROLLER)])
        assert [kw for tasks, kw in sent if own in tasks] == [{"countdown": 0.0}]
        assert wake.take_next() == []


def test_follow_ups_past_the_limit_go_to_the_broker(cluster, monkeypatch, settings):
    from cluster import tasks

    sent: list[tuple[list, dict]] = []
    monkeypatch.setattr(wake, "dispatch", lambda tasks, **kw: sent.append((list(tasks), kw)))
    monkeypatch.setattr(wake, "RUN_NEXT_LIMIT", 1)
    gone = 10**9  # clusters that do not exist: each run returns at once
    wake.run_next([(wake.RECONCILE_REPLICASET, (gone, "a")), (wake.RECONCILE_REPLICASET, (gone, "b"))])
    tasks.run_queued_here()
    assert sent == [([(wake.RECONCILE_REPLICASET, (gone, "b"))], {"countdown": 0.0})]
    assert wake.take_next() == []
