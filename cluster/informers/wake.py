"""Which components a write wakes: the informers of our control plane.

A real controller watches the API server and queues the keys of objects it cares about.
Here `route`, registered with the store as a commit listener (cluster/apps.py), computes
those keys from each committed change and sends a Celery task per key to the role's
queue. Keys already queued and not yet started are
not queued again (a work queue's dedupe), so a burst of writes costs one reconcile.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Iterable

from celery import current_app, current_task
from django.conf import settings

from cluster.apimachinery import kinds, metav1
from cluster.apiserver import registry, store
from cluster.models import Cluster

log = logging.getLogger("podflow.wake")

# (task name, args): the task names are those of cluster/tasks.py.
Task = tuple[str, tuple]

RECONCILE_DEPLOYMENT = "cluster.tasks.reconcile_deployment"
RECONCILE_REPLICASET = "cluster.tasks.reconcile_replicaset"
COLLECT_GARBAGE = "cluster.tasks.collect_garbage"
SCHEDULE_POD = "cluster.tasks.schedule_pod"
SCHEDULE_PENDING = "cluster.tasks.schedule_pending"
SYNC_POD = "cluster.tasks.sync_pod"
RECONCILE_ENDPOINTS = "cluster.tasks.reconcile_endpoints"
SYNC_NAMESPACE_ENDPOINTS = "cluster.tasks.sync_namespace_endpoints"
RECONCILE_LOADBALANCER = "cluster.tasks.reconcile_loadbalancer"
RECONCILE_NAMESPACE = "cluster.tasks.reconcile_namespace"
RECONCILE_INGRESS = "cluster.tasks.reconcile_ingress"
SYNC_INGRESSES = "cluster.tasks.sync_ingresses"
SYNC_CONFIG_WAITERS = "cluster.tasks.sync_config_waiters"
# Not a component: a learner's lab checks re-run by the server (cluster/labs/follow.py).
EVALUATE_LABS = "cluster.tasks.evaluate_labs"
# Not woken by a change itself: the work queues that gather the scheduler's wake-ups of
# single pods and the kubelets' (one queue each per cluster) that are to run at once, so
# that one task takes a burst of them (see `dispatch`).
SCHEDULE_QUEUE = "cluster.tasks.schedule_queue"
SYNC_KUBELETS = "cluster.tasks.sync_kubelets"
# The periodic resync's pass over one cluster (the beat's resync sends one per cluster).
RESYNC_CLUSTER = "cluster.tasks.resync_cluster"

QUEUES = {
    RECONCILE_DEPLOYMENT: "controller-manager",
    RECONCILE_REPLICASET: "controller-manager",
    COLLECT_GARBAGE: "controller-manager",
    SCHEDULE_POD: "scheduler",
    SCHEDULE_PENDING: "scheduler",
    SYNC_POD: "kubelet",
    RECONCILE_ENDPOINTS: "controller-manager",
    SYNC_NAMESPACE_ENDPOINTS: "controller-manager",
    RECONCILE_LOADBALANCER: "controller-manager",
    RECONCILE_NAMESPACE: "controller-manager",
    RECONCILE_INGRESS: "controller-manager",
    SYNC_INGRESSES: "controller-manager",
    SYNC_CONFIG_WAITERS: "kubelet",
    EVALUATE_LABS: "controller-manager",
    SCHEDULE_QUEUE: "scheduler",
    SYNC_KUBELETS: "kubelet",
    RESYNC_CLUSTER: "controller-manager",
}


def _terminal(doc: dict | None) -> bool:
    return ((doc or {}).get("status") or {}).get("phase") in ("Succeeded", "Failed")


def route(cluster: Cluster, changes: list[store.Committed]) -> None:
    """The store's commit listener: wake, once per key, every component that watches what
    this transaction wrote."""
    tasks: dict[Task, None] = {}
    own: set[Task] = set()
    for change in changes:
        for task in for_change(cluster.pk, change.type, change.old, change.new, change.by):
            tasks[task] = None
            if task[1][-1:] == (change.new["metadata"]["uid"],):
                own.add(task)
    tasks = _with_services_only(cluster, tasks)
    # What an object's own change asks for is done at once (a new ReplicaSet's pods are
    # made, a scaled one's added or removed); what its dependents say of it (its pods'
    # status, its ReplicaSets' status) is gathered for its kind's coalescing time.
    urgent = [t for t in tasks if t in own and COALESCE_SECONDS.get(t[0])]
    if urgent and cluster.stage_seconds <= 0:
        here = [t for t in urgent if _worker_of(t)]
        run_next(here)
        dispatch([t for t in urgent if t not in here], countdown=0.0)
        tasks = {t: None for t in tasks if t not in own or not COALESCE_SECONDS.get(t[0])}
    dispatch_paced(cluster, list(tasks))


# --- the controller manager's own follow-ups ------------------------------------------------
#
# The controllers of kube-controller-manager run side by side in one process, each with its
# own work queue and workers: a ReplicaSet the Deployment controller creates reaches the
# ReplicaSet controller's queue through the shared informer and is synced at once, not
# after every Deployment waiting in the Deployment controller's queue. Our controller
# manager is a Celery worker taking one task at a time from one queue: sent to the broker,
# the new ReplicaSet's own reconcile waited behind every task queued before it (in a
# class's same-second Deployments, a third of a second). So an object's own reconcile that
# a controller-manager task's write asks for (`route`'s urgent ones) is run by the same
# worker as soon as that task ends (cluster/tasks.py, `run_queued_here`), not sent.
#
# What it gives up: a worker killed between the commit and that run loses the wake-up, as
# a lost message is lost, and the resync (every PODFLOW_RESYNC_SECONDS) makes it good.

_next = threading.local()
# Follow-ups of one task run at most this many in a row (those of the follow-ups included);
# the rest are sent to the broker as before.
RUN_NEXT_LIMIT = 20


def _worker_of(task: Task) -> bool:
    """Whether this process is running a task taken from `task`'s queue now (a worker of the
    role that would run it)."""
    if not getattr(settings, "PODFLOW_WAKE", True):
        return False
    running = current_task._get_current_object()  # None outside a task (daphne, a command)
    if running is None or running.request.is_eager:
        return False
    return (running.request.delivery_info or {}).get("routing_key") == QUEUES[task[0]]


def run_next(tasks: list[Task]) -> None:
    """Keep these to run in this worker once its current task ends (`take_next`)."""
    if not tasks:
        return
    queued: dict[Task, float] = getattr(_next, "tasks", None) or {}
    for task in tasks:
        queued.setdefault(task, time.time())
    _next.tasks = queued


def take_next() -> list[tuple[Task, float]]:
    """The follow-ups kept by `run_next` (each with when it was kept), and forget them."""
    queued = getattr(_next, "tasks", None) or {}
    _next.tasks = {}
    return list(queued.items())


def _with_services_only(cluster: Cluster, tasks: dict[Task, None]) -> dict[Task, None]:
    """A pod's change wakes the endpoint controllers for the Services of its namespace; in a
    namespace without a Service there is none to reconcile (the real controller, looking
    for the Services that select the pod, finds none), so no pass is queued — or held on a
    paused cluster as something that will happen. Which namespaces have a Service is read
    once, after the commit: a Service created after that reconciles itself against the
    pods as they are then."""
    if not any(name == SYNC_NAMESPACE_ENDPOINTS for name, _ in tasks):
        return tasks
    try:
        served = set(store.namespaces_of(cluster, kinds.SERVICE))
    except Exception:  # queue them all: a pass with nothing to do costs only itself
        log.exception("could not read which namespaces of %s have Services", cluster.name)
        return tasks
    return {task: None for task in tasks if task[0] != SYNC_NAMESPACE_ENDPOINTS or task[1][1] in served}


def dispatch_paced(cluster: Cluster, tasks: list[Task], *, unless_delayed: bool = False) -> None:
    """`dispatch`, at the cluster's pace: at normal and slow speed the control plane takes
    visible time too, a stage's worth per hop, as the kubelet does per stage — the learner
    sees step 3 and step 4 happen rather than find them done. (The kubelet paces its own
    stages; at instant speed nothing waits.)"""
    pace = cluster.stage_seconds
    if pace <= 0:
        dispatch(tasks, unless_delayed=unless_delayed)
        return
    dispatch([t for t in tasks if QUEUES[t[0]] == "kubelet"], unless_delayed=unless_delayed)
    dispatch([t for t in tasks if QUEUES[t[0]] != "kubelet"], countdown=pace, unless_delayed=unless_delayed)


def for_change(cluster_id: int, type_: str, old: dict | None, new: dict, by: str) -> Iterable[Task]:
    kind = new.get("kind")
    uid = new["metadata"]["uid"]
    deleted = type_ == "DELETED"
    yield from _deletion_wakes(cluster_id, type_, new, by)
    if kind == "Deployment":
        if deleted:
            yield (COLLECT_GARBAGE, (cluster_id, uid))
        elif by != store.DEPLOYMENT_CONTROLLER:
            yield (RECONCILE_DEPLOYMENT, (cluster_id, uid))
    elif kind == "ReplicaSet":
        if deleted:
            yield (COLLECT_GARBAGE, (cluster_id, uid))
        elif by != store.REPLICASET_CONTROLLER:
            yield (RECONCILE_REPLICASET, (cluster_id, uid))
        deployment = metav1.controller_uid(new, "Deployment")
        if deployment and by != store.DEPLOYMENT_CONTROLLER:
            yield (RECONCILE_DEPLOYMENT, (cluster_id, deployment))
    elif kind == "Pod":
        yield from _pod_wakes(cluster_id, old, new, deleted, by)
        if _endpoints_may_change(old, new, deleted):
            yield (SYNC_NAMESPACE_ENDPOINTS, (cluster_id, new["metadata"].get("namespace", "")))
    elif kind in ("Service", "Endpoints", "EndpointSlice"):
        yield from _service_wakes(cluster_id, type_, old, new, by)
        yield from _ingress_backend_wakes(cluster_id, type_, old, new)
    elif kind == "Ingress":
        # Its own status writes do not wake the ingress controller; anyone else's do.
        if not deleted and by != store.INGRESS_CONTROLLER:
            yield (RECONCILE_INGRESS, (cluster_id, new["metadata"].get("namespace", ""), new["metadata"]["name"]))
    elif kind == "IngressClass":
        yield (SYNC_INGRESSES, (cluster_id, "", ""))  # which Ingresses are the controller's may have changed
    elif kind in ("ConfigMap", "Secret") and not deleted:
        # A pod in CreateContainerConfigError may wait for this one: its kubelet tries again.
        yield (SYNC_CONFIG_WAITERS, (cluster_id, kind, new["metadata"].get("namespace", ""), new["metadata"]["name"]))
    elif kind == "Node":
        old_spec, new_spec = (old or {}).get("spec"), new.get("spec")
        # What the scheduler's filters read: spec (cordon, taints), Ready, labels, allocatable.
        if (
            deleted or old is None or old_spec != new_spec or metav1.is_ready(old) != metav1.is_ready(new)
            or old["metadata"].get("labels") != new["metadata"].get("labels")
            or (old.get("status") or {}).get("allocatable") != (new.get("status") or {}).get("allocatable")
        ):
            yield (SCHEDULE_PENDING, (cluster_id,))
        if deleted or old is None or metav1.is_ready(old) != metav1.is_ready(new):
            yield (SYNC_INGRESSES, (cluster_id, "", ""))  # the Ingresses' addresses are the Ready nodes'


def _ingress_backend_wakes(cluster_id: int, type_: str, old: dict | None, new: dict) -> Iterable[Task]:
    """A Service an Ingress may name came, went or changed its ports, or its Endpoints went
    from no ready address to some (or back): the controller looks at the Ingresses that name it.
    Keyed by Service, so which Ingresses those are is read after commit, by the task."""
    ns, name = new["metadata"].get("namespace", ""), new["metadata"]["name"]
    if new["kind"] == "Service":
        if old is None or type_ == "DELETED" or (old.get("spec") or {}).get("ports") != (new.get("spec") or {}).get("ports"):
            yield (SYNC_INGRESSES, (cluster_id, ns, name))
    elif new["kind"] == "Endpoints":
        if old is None or type_ == "DELETED" or _has_ready_address(old) != _has_ready_address(new):
            yield (SYNC_INGRESSES, (cluster_id, ns, name))


def _has_ready_address(endpoints: dict | None) -> bool:
    return any(subset.get("addresses") for subset in (endpoints or {}).get("subsets") or [] if isinstance(subset, dict))


def _deletion_wakes(cluster_id: int, type_: str, new: dict, by: str) -> Iterable[Task]:
    """The garbage collector and the namespace controller, which watch every kind."""
    meta = new["metadata"]
    deleted = type_ == "DELETED"
    namespace = meta.get("namespace") or ""
    if deleted and namespace and namespace not in registry.IMMORTAL_NAMESPACES:
        yield (RECONCILE_NAMESPACE, (cluster_id, namespace))  # it may be terminating, and now empty
    if new.get("kind") == "Namespace" and not deleted and meta.get("deletionTimestamp") and by != store.NAMESPACE_CONTROLLER:
        yield (RECONCILE_NAMESPACE, (cluster_id, meta["name"]))
    if new.get("kind") == "Event":
        return  # an Event names the object it is about; it owns nothing and nothing owns it
    if deleted:
        # The owners of what the components make; a client's ownerReferences to any other
        # kind are collected by the resync (missing_owners).
        if new.get("kind") in ("Deployment", "ReplicaSet", "Service"):
            yield (COLLECT_GARBAGE, (cluster_id, meta["uid"]))  # its dependents may be left
        for ref in meta.get("ownerReferences") or []:
            if ref.get("blockOwnerDeletion") and ref.get("uid"):
                yield (COLLECT_GARBAGE, (cluster_id, ref["uid"]))  # an owner deleted in the foreground may wait for it
    elif meta.get("deletionTimestamp") and {store.ORPHAN_FINALIZER, store.FOREGROUND_FINALIZER} & set(meta.get("finalizers") or []):
        yield (COLLECT_GARBAGE, (cluster_id, meta["uid"]))


def _endpoints_may_change(old: dict | None, new: dict, deleted: bool) -> bool:
    """What the endpoint controllers read of a pod: its IP, labels, readiness, node, phase
    and deletion. A pod without an IP is in no Service's endpoints, before or after."""
    old_status, new_status = (old or {}).get("status") or {}, new.get("status") or {}
    if not old_status.get("podIP") and not new_status.get("podIP"):
        return False
    if old is None or deleted:
        return True
    return (
        old_status.get("podIP") != new_status.get("podIP")
        or metav1.is_ready(old) != metav1.is_ready(new)
        or old_status.get("phase") != new_status.get("phase")
        or old["metadata"].get("labels") != new["metadata"].get("labels")
        or bool(old["metadata"].get("deletionTimestamp")) != bool(new["metadata"].get("deletionTimestamp"))
        or (old.get("spec") or {}).get("nodeName") != (new.get("spec") or {}).get("nodeName")
    )


def _load_balancer(doc: dict | None) -> bool:
    return ((doc or {}).get("spec") or {}).get("type") == "LoadBalancer"


def _service_wakes(cluster_id: int, type_: str, old: dict | None, new: dict, by: str) -> Iterable[Task]:
    ns = new["metadata"].get("namespace", "")
    if new["kind"] == "Service":
        name = new["metadata"]["name"]
        # The endpoint controllers read the spec and labels; the service controller's status
        # writes change neither.
        if old is None or type_ == "DELETED" or old.get("spec") != new.get("spec") or old["metadata"].get("labels") != new["metadata"].get("labels"):
            yield (RECONCILE_ENDPOINTS, (cluster_id, ns, name))
        if by != store.SERVICE_CONTROLLER and (_load_balancer(old) or _load_balancer(new)):
            yield (RECONCILE_LOADBALANCER, (cluster_id, ns, name))
    elif new["kind"] == "Endpoints":
        # Someone else wrote (or deleted) what the controller keeps: it puts it back.
        if by != store.ENDPOINT_CONTROLLER:
            yield (RECONCILE_ENDPOINTS, (cluster_id, ns, new["metadata"]["name"]))
    else:
        service = (new["metadata"].get("labels") or {}).get("kubernetes.io/service-name")
        if service and by != store.ENDPOINTSLICE_CONTROLLER:
            yield (RECONCILE_ENDPOINTS, (cluster_id, ns, service))


def _pod_wakes(cluster_id: int, old: dict | None, new: dict, deleted: bool, by: str) -> Iterable[Task]:
    uid = new["metadata"]["uid"]
    node = (new.get("spec") or {}).get("nodeName") or ""
    terminating = bool(new["metadata"].get("deletionTimestamp"))
    if not deleted:
        if not node and not terminating and by != store.SCHEDULER:
            yield (SCHEDULE_POD, (cluster_id, uid))
        if node and by != store.KUBELET:
            yield (SYNC_POD, (cluster_id, node, uid))
        if node and old is not None and _terminal(new) and not _terminal(old):
            yield (SCHEDULE_PENDING, (cluster_id,))  # a finished pod's room on the node is free
    else:
        if (old or {}).get("spec", {}).get("nodeName"):
            yield (SCHEDULE_PENDING, (cluster_id,))  # its room on the node is free again
    rs = metav1.controller_uid(new, "ReplicaSet")
    if rs and by != store.REPLICASET_CONTROLLER:
        old_status, new_status = (old or {}).get("status") or {}, new.get("status") or {}
        counted_changed = (
            old is None
            or deleted
            or metav1.is_ready(old) != metav1.is_ready(new)
            or old_status.get("phase") != new_status.get("phase")
            or bool((old or {}).get("metadata", {}).get("deletionTimestamp")) != terminating
            or (old or {}).get("metadata", {}).get("labels") != new["metadata"].get("labels")
        )
        if counted_changed:
            yield (RECONCILE_REPLICASET, (cluster_id, rs))


# --- dispatch ---------------------------------------------------------------------------

_redis = None


def _redis_client():
    global _redis
    if _redis is None:
        import redis

        _redis = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
    return _redis


def pending_key(task: Task) -> str:
    name, args = task
    return "podflow:queued:" + name.rsplit(".", 1)[-1] + ":" + ":".join(str(a) for a in args)


# The controller manager's work queue coalesces wake-ups of one key that come close
# together (a ReplicaSet hears from each of its pods as it starts, a Deployment from each
# status write of its ReplicaSets): one reconcile then sees them all. A real controller
# gets the same from its informer's queue. Such a wake-up also goes into the queue's lane
# behind (Celery's message priority: the Redis transport keeps a list per priority and a
# worker takes from the first that has work), so a new object's own reconcile — a
# Deployment's first ReplicaSet, a ReplicaSet's pods — is not kept waiting by what other
# objects' dependents report; while it waits there, more wake-ups of its key are not
# queued again (`_delayed_key`). An object's own changes are not gathered (`route`).
COALESCE_SECONDS = {RECONCILE_REPLICASET: 0.1, RECONCILE_DEPLOYMENT: 0.1, SYNC_NAMESPACE_ENDPOINTS: 0.1, SYNC_INGRESSES: 0.1}

COALESCE_SECONDS[RECONCILE_NAMESPACE] = 0.1  # a namespace hears of every object that leaves it

# The lane behind: kombu's Redis transport orders priorities 0 (first, every message
# without one) to 9 (last).
BEHIND = 9


def _behind(name: str, countdown: float | None) -> bool:
    """Whether a task goes into its queue's lane behind: a gathered wake-up (not one given
    a time of its own), and the resync's pass over a cluster."""
    return name == RESYNC_CLUSTER or (countdown is None and name in COALESCE_SECONDS)


# A task's countdown waits unacknowledged in the worker; Redis hands such a task to a worker
# again once the broker's visibility timeout passes, so longer waits are taken in steps
# (the task re-reads state and waits again).
MAX_COUNTDOWN = 60.0


def gathered(task: Task) -> tuple[Task, str] | None:
    """The work queue a single pod's wake-up goes into when it is to run at once, and the
    pod's member in it: the scheduler's queue of its cluster (the pod's uid), or the
    kubelets' of its cluster (the pod's node and uid, `kubelet_member`)."""
    name, args = task
    if name == SCHEDULE_POD:
        return (SCHEDULE_QUEUE, (args[0],)), str(args[1])
    if name == SYNC_POD:
        return (SYNC_KUBELETS, (args[0],)), kubelet_member(args[1], args[2])
    return None


def kubelet_member(node: str, uid: str) -> str:
    """A pod's member of its cluster's kubelet queue (a node's name has no slash)."""
    return f"{node}/{uid}"


def kubelet_woken(member: str) -> tuple[str, str]:
    """(node, pod uid) of a member of a kubelet queue."""
    node, _, uid = member.rpartition("/")
    return node, uid


def queue_key(task: Task) -> str:
    return pending_key(task).replace(":queued:", ":workqueue:", 1)


# A work queue nobody takes (its cluster deleted meanwhile) goes after this long; the
# resync wakes whatever it held that still needs work.
QUEUE_TTL_SECONDS = 600


def take_queued(task: Task) -> list[str]:
    """Start a work queue's task and empty its queue, in one round trip: the task's queued
    marks cleared first (as `started` does), then the pods woken since the queue was last
    taken, in no particular order. A uid added after this is queued with a task of its
    own again, because the queue's mark was cleared before it was emptied."""
    if not getattr(settings, "PODFLOW_WAKE", True):
        return []
    try:
        pipe = _redis_client().pipeline(transaction=True)
        pipe.delete(pending_key(task), _delayed_key(task))
        pipe.smembers(queue_key(task))
        pipe.delete(queue_key(task))
        _, members, _ = pipe.execute()
    except Exception:  # the resync wakes what was lost with them
        log.exception("could not take the work queue of %s", task)
        return []
    return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)


def dispatch(tasks: list[Task], *, countdown: float | None = None, unless_delayed: bool = False) -> None:
    """Queue each task unless the same key is already queued and not started.

    `countdown` delays them all; without it each waits its kind's coalescing time.
    `unless_delayed` (the resync) also skips a key whose delayed run is already pending:
    that run re-reads state when it fires, so the resync has nothing to add.

    A single pod's scheduler or kubelet wake-up that is to run at once goes into its work
    queue (`gathered`), and the queue's task is queued instead (once, like any task): a
    Deployment's three hundred pods cost the scheduler a few tasks, each binding a batch,
    instead of three hundred, and a sandbox's new Deployment its kubelets one task rather
    than one per node. (What each pod's task would have done, the queue's task does
    for each: held one by one on a paused cluster, paced one by one at a paced speed.)
    """
    if not getattr(settings, "PODFLOW_WAKE", True) or not tasks:
        return
    app = current_app
    try:
        client = _redis_client()
        if unless_delayed:
            pipe = client.pipeline(transaction=False)
            for task in tasks:
                pipe.exists(_delayed_key(task))
            tasks = [task for task, delayed in zip(tasks, pipe.execute()) if not delayed]
        pipe = client.pipeline(transaction=False)
        if countdown is None:
            # Into the queue first, then the queue's task: a task that has started (and so
            # cleared its mark) before the pod went in is queued again below.
            kept: dict[Task, None] = {}
            for task in tasks:
                into = gathered(task)
                if into is None:
                    kept[task] = None
                    continue
                queue, member = into
                pipe.sadd(queue_key(queue), member)
                pipe.expire(queue_key(queue), QUEUE_TTL_SECONDS)
                kept[queue] = None
            tasks = list(kept)
        delays = [min(countdown if countdown is not None else COALESCE_SECONDS.get(name, 0.0), MAX_COUNTDOWN) for name, _ in tasks]
        for task, delay in zip(tasks, delays):
            if delay <= 0:
                pipe.set(pending_key(task), 1, nx=True, ex=15)
            else:
                # One delayed run per key is enough: it re-reads state when it fires (it
                # may wait behind other work before its countdown even starts).
                pipe.set(_delayed_key(task), 1, nx=True, ex=int(delay) + 15)
        fresh = pipe.execute()[-len(tasks):] if tasks else []
        sending = [(name, list(args), delay) for (name, args), delay, is_new in zip(tasks, delays, fresh) if is_new]
        if sending:
            # One producer, its messages pushed to Redis in one pipeline (kombu's publish
            # batch) when the block ends.
            with app.producer_or_acquire() as producer, producer.batch():
                for name, args, delay in sending:
                    behind = {"priority": BEHIND} if _behind(name, countdown) else {}
                    # The message's repr is given (Celery's safe repr of the arguments is a
                    # quarter of sending one), and the queue not declared again: a Redis queue
                    # is a list that a push creates, and the workers declared theirs.
                    app.send_task(name, args=args, queue=QUEUES[name], countdown=delay or None, producer=producer,
                                  argsrepr=repr(args), kwargsrepr="{}", declare=[], **behind)
    except Exception:  # a lost wake-up only delays work: the resync picks it up
        log.exception("could not wake %d component task(s)", len(tasks))


def _delayed_key(task: Task) -> str:
    return pending_key(task).replace(":queued:", ":delayed:", 1)


def started(task: Task, *more: Task) -> None:
    """Called first thing by a task, so writes after this point queue it again. A work
    queue's task calls it also for the single pods' tasks it took from its queue: each
    counts as started (a delayed run of one no longer keeps a new one from being queued)."""
    if not getattr(settings, "PODFLOW_WAKE", True):
        return
    keys = [key for t in (task, *more) for key in (pending_key(t), _delayed_key(t))]
    try:
        _redis_client().delete(*keys)
    except Exception:
        log.exception("could not clear the queued mark of %s", task)
