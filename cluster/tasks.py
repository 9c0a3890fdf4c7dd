"""Celery tasks: the thin interface of each control-plane role.

Each task takes ids, re-reads current state and calls one reconcile function
(invariant 4, see cluster/__init__.py). Queues: controller-manager, scheduler, kubelet.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

from celery import current_app, shared_task, signals
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore

from cluster import actions, kubelet, metrics, sandbox, scheduler
from cluster.apimachinery import kinds
from cluster.apiserver import store
from cluster.componentbase import clock, isolation
from cluster.controllers import deployment, endpoints, garbagecollector, ingress, loadbalancer
from cluster.controllers import namespace as namespace_controller
from cluster.controllers import node as node_controller
from cluster.controllers import replicaset
from cluster.informers import wake, watchers
from cluster.labs import follow
from cluster.models import Cluster

log = logging.getLogger("podflow.tasks")


def _cluster(cluster_id: int) -> Cluster | None:
    return Cluster.objects.one("id", cluster_id)


def _admitted(task: wake.Task, *, once: list | None = None) -> Cluster | None:
    """The start of every component task: the work queue forgets the key, then the
    cluster's clock says whether the component may act now (cluster/componentbase/clock.py).
    None when it may not: the cluster is gone, the component is stopped, or the clock is
    paused (the action is then held, and listed as what happens next). `once`, when given,
    gets True appended if a step let just this one action through."""
    wake.started(task)
    name, args = task
    cluster = _cluster(args[0])
    if cluster is None:
        return None
    verdict = clock.admit(cluster, wake.QUEUES[name], name, args, lambda: actions.describe(cluster, name, args))
    if not verdict:
        return None
    if once is not None and verdict == clock.ONCE:
        once.append(True)
    return cluster


@signals.task_postrun.connect(weak=False, dispatch_uid="podflow-run-next")
def run_queued_here(task=None, **_) -> None:
    """A task has ended: run the follow-ups its writes kept for this worker (wake.run_next:
    an object's own reconcile, in the controller manager), each as its task would run, and
    theirs in turn; past wake.RUN_NEXT_LIMIT the rest go to the broker. Each is timed as a
    task of its queue (/metrics), its wait being from its write's commit."""
    ran = 0
    over: list[wake.Task] = []
    while followups := wake.take_next():
        for (name, args), kept in followups:
            if ran >= wake.RUN_NEXT_LIMIT:
                over.append((name, args))
                continue
            ran += 1
            queue = wake.QUEUES[name]
            metrics.TASK_QUEUED_SECONDS.labels(queue, name).observe(max(0.0, time.time() - kept))
            began = time.perf_counter()
            try:
                current_app.tasks[name].run(*args)
            except Exception:  # one follow-up's trouble must not keep the others (the resync retries it)
                log.exception("%s%r, run after %s, failed", watchers.task_name(name), tuple(args), getattr(task, "name", "a task"))
            metrics.TASK_RUN_SECONDS.labels(queue, name).observe(time.perf_counter() - began)
    if over:
        wake.dispatch(over, countdown=0.0)  # in one round trip


@shared_task(name="cluster.tasks.reconcile_deployment")
def reconcile_deployment(cluster_id: int, uid: str) -> None:
    if cluster := _admitted((wake.RECONCILE_DEPLOYMENT, (cluster_id, uid))):
        with isolation.isolated(cluster, store.DEPLOYMENT_CONTROLLER, uid=uid):
            deployment.reconcile(cluster, uid)


@shared_task(name="cluster.tasks.reconcile_replicaset")
def reconcile_replicaset(cluster_id: int, uid: str) -> None:
    if cluster := _admitted((wake.RECONCILE_REPLICASET, (cluster_id, uid))):
        more = False
        with isolation.isolated(cluster, store.REPLICASET_CONTROLLER, uid=uid):
            more = replicaset.reconcile(cluster, uid)
        if more:  # stopped at its burst limit: the next pass queues behind what is waiting
            wake.dispatch([(wake.RECONCILE_REPLICASET, (cluster_id, uid))], countdown=0.0)


@shared_task(name="cluster.tasks.collect_garbage")
def collect_garbage(cluster_id: int, owner_uid: str) -> None:
    if cluster := _admitted((wake.COLLECT_GARBAGE, (cluster_id, owner_uid))):
        with isolation.isolated(cluster, store.GARBAGE_COLLECTOR, uid=owner_uid):
            garbagecollector.collect(cluster, owner_uid)


@shared_task(name="cluster.tasks.reconcile_namespace")
def reconcile_namespace(cluster_id: int, name: str) -> None:
    if cluster := _admitted((wake.RECONCILE_NAMESPACE, (cluster_id, name))):
        with isolation.isolated(cluster, store.NAMESPACE_CONTROLLER, what=f"namespace {name}"):
            namespace_controller.reconcile(cluster, name)


@shared_task(name="cluster.tasks.reconcile_endpoints")
def reconcile_endpoints(cluster_id: int, namespace: str, name: str) -> None:
    """The endpoint and EndpointSlice controllers, for one Service."""
    if cluster := _admitted((wake.RECONCILE_ENDPOINTS, (cluster_id, namespace, name))):
        with isolation.isolated(cluster, store.ENDPOINT_CONTROLLER, what=f"service {namespace}/{name}"):
            endpoints.reconcile(cluster, namespace, name)


@shared_task(name="cluster.tasks.sync_namespace_endpoints")
def sync_namespace_endpoints(cluster_id: int, namespace: str) -> None:
    """A pod changed what Services may send it: every Service of its namespace, once."""
    if cluster := _admitted((wake.SYNC_NAMESPACE_ENDPOINTS, (cluster_id, namespace))):
        endpoints.reconcile_namespace(cluster, namespace)


@shared_task(name="cluster.tasks.reconcile_loadbalancer")
def reconcile_loadbalancer(cluster_id: int, namespace: str, name: str) -> None:
    if cluster := _admitted((wake.RECONCILE_LOADBALANCER, (cluster_id, namespace, name))):
        with isolation.isolated(cluster, store.SERVICE_CONTROLLER, what=f"service {namespace}/{name}"):
            loadbalancer.reconcile(cluster, namespace, name)


@shared_task(name="cluster.tasks.reconcile_ingress")
def reconcile_ingress(cluster_id: int, namespace: str, name: str) -> None:
    if cluster := _admitted((wake.RECONCILE_INGRESS, (cluster_id, namespace, name))):
        with isolation.isolated(cluster, store.INGRESS_CONTROLLER, what=f"ingress {namespace}/{name}"):
            ingress.reconcile(cluster, namespace, name)


@shared_task(name="cluster.tasks.sync_ingresses")
def sync_ingresses(cluster_id: int, namespace: str, service: str) -> None:
    """The ingress controller over several Ingresses: all ("" namespace), or those naming a Service."""
    if cluster := _admitted((wake.SYNC_INGRESSES, (cluster_id, namespace, service))):
        ingress.sync_all(cluster, namespace, service)


@shared_task(name="cluster.tasks.schedule_pod")
def schedule_pod(cluster_id: int, uid: str) -> None:
    if cluster := _admitted((wake.SCHEDULE_POD, (cluster_id, uid))):
        _schedule_one(cluster, uid)


def _schedule_one(cluster: Cluster, uid: str) -> None:
    """One scheduling attempt; a pod that cannot be scheduled for an unexpected reason is
    recorded on that pod and skipped (its writes undone)."""
    with isolation.isolated(cluster, store.SCHEDULER, uid=uid):
        scheduler.schedule(cluster, uid)


@shared_task(name="cluster.tasks.schedule_pending")
def schedule_pending(cluster_id: int) -> None:
    """Something changed that may make room: try every waiting pod again, oldest first."""
    cluster = _cluster(cluster_id)
    if cluster is not None and cluster.paused and clock.SCHEDULER not in (cluster.stopped_components or []):
        # Paused, the pass is held as what it is made of: one bind per pending pod, each
        # its own next action (a step binds one pod, not all of them). A bind a step has
        # let through is taken here and now: admitting it used up the step.
        wake.started((wake.SCHEDULE_PENDING, (cluster_id,)))
        for uid in scheduler.pending_pods(cluster):
            if _admitted((wake.SCHEDULE_POD, (cluster_id, uid))):
                _schedule_one(cluster, uid)
        return
    if cluster := _admitted((wake.SCHEDULE_PENDING, (cluster_id,))):
        _schedule_in_batches(cluster, scheduler.pending_pods(cluster))


@shared_task(name="cluster.tasks.schedule_queue")
def schedule_queue(cluster_id: int) -> None:
    """The scheduler's queue: every pod woken for since the last pass (wake.dispatch
    gathers them). At instant speed, in the queue's order, bound in batches.

    Paused, or at a paced speed, each pod is taken as its own task would take it: on a
    paused cluster its bind is held as its own next action (a step binds one pod).
    """
    task = (wake.SCHEDULE_QUEUE, (cluster_id,))
    uids = wake.take_queued(task)  # started, and its queue taken
    cluster = _cluster(cluster_id) if uids else None
    if cluster is None:
        return
    wake.started(*[(wake.SCHEDULE_POD, (cluster_id, uid)) for uid in uids])  # each pod's task, as if started
    if clock.SCHEDULER in (cluster.stopped_components or []):
        return  # it catches up through the resync when started
    if cluster.paused or cluster.stage_seconds > 0:
        for uid in uids:
            schedule_pod(cluster_id, uid)
        return
    _schedule_in_batches(cluster, scheduler.queue_order(cluster, uids))


def _schedule_in_batches(cluster: Cluster, uids: list[str]) -> None:
    """A scheduling pass over these pods, in this order: each transaction binds a batch,
    the nodes read once for it. One pod that cannot be scheduled for an unexpected reason
    is recorded on that pod and skipped (its writes undone): it must not keep every pod
    behind it waiting."""
    for start in range(0, len(uids), scheduler.BATCH):
        with scheduler.batch(cluster):
            batch = uids[start:start + scheduler.BATCH]
            store.prefetch(cluster, batch)  # the pods, in one read
            for uid in batch:
                _schedule_one(cluster, uid)


@shared_task(name="cluster.tasks.sync_pod")
def sync_pod(cluster_id: int, node: str, uid: str) -> None:
    """Run the kubelet's stages for one pod while they are due; come back for the rest."""
    task = (wake.SYNC_POD, (cluster_id, node, uid))
    once: list = []
    cluster = _admitted(task, once=once)
    if cluster is None:
        return
    while True:
        wait = None
        with isolation.isolated(cluster, store.KUBELET, uid=uid, what=f"pod {uid} on {node}"):
            wait = kubelet.run_due_stages(cluster, node, uid, limit=1) if once else kubelet.run_due_stages(cluster, node, uid)
        if wait is None:
            return
        if once:
            # A step lets one stage through: the next is held as what happens next.
            wake.dispatch([task], countdown=max(wait, 0.0) or None)
            return
        if wait > 0:
            wake.dispatch([task], countdown=wait)
            return
        cluster.refresh_from_db(fields=["speed"])
        if cluster.stage_seconds > 0:
            # Paced: let the next stage be due a stage-time from now.
            wake.dispatch([task], countdown=cluster.stage_seconds)
            return


@shared_task(name="cluster.tasks.sync_kubelets")
def sync_kubelets(cluster_id: int) -> None:
    """The kubelets' pass over the pods of a cluster woken for since the last one (wake.
    dispatch gathers them, whichever node each is on). At instant speed every due stage of
    each, a batch of pods per transaction; a pod with a stage due later is woken again
    then, on its own. Each pod is taken by the kubelet of its node, as its own task
    (`sync_pod`) would take it; one task for the cluster's nodes pays a task's fixed cost
    once for a sandbox's new Deployment rather than once per node.

    Paused, or at a paced speed, each pod is taken as its own task would take it: on a
    paused cluster its next stage is held as its own next action.
    """
    task = (wake.SYNC_KUBELETS, (cluster_id,))
    members = wake.take_queued(task)  # started, and its queue taken
    cluster = _cluster(cluster_id) if members else None
    if cluster is None:
        return
    woken = [wake.kubelet_woken(member) for member in members]  # (node, uid), by node
    wake.started(*[(wake.SYNC_POD, (cluster_id, node, uid)) for node, uid in woken])  # each pod's task, as if started
    if clock.KUBELET in (cluster.stopped_components or []):
        return
    if cluster.paused or cluster.stage_seconds > 0:
        for node, uid in woken:
            sync_pod(cluster_id, node, uid)
        return
    later: dict[float, list[wake.Task]] = {}
    for start in range(0, len(woken), kubelet.PODS_AT_ONCE):
        with store.locked(cluster):
            batch = woken[start:start + kubelet.PODS_AT_ONCE]
            store.prefetch(cluster, [uid for _, uid in batch], owned_kind=kinds.EVENT)  # the pods and their Events: two reads, not two a pod
            for node, uid in batch:
                wait = None
                with isolation.isolated(cluster, store.KUBELET, uid=uid, what=f"pod {uid} on {node}"):
                    wait = kubelet.run_due_stages(cluster, node, uid)
                if wait is not None:
                    later.setdefault(wait, []).append((wake.SYNC_POD, (cluster_id, node, uid)))
    for wait, again in later.items():
        wake.dispatch(again, countdown=wait)


@shared_task(name="cluster.tasks.sync_config_waiters")
def sync_config_waiters(cluster_id: int, kind: str, namespace: str, name: str) -> None:
    """A ConfigMap or Secret appeared or changed: the kubelets of the pods in
    CreateContainerConfigError that read it try again."""
    wake.started((wake.SYNC_CONFIG_WAITERS, (cluster_id, kind, namespace, name)))
    wake.dispatch([(wake.SYNC_POD, (cluster_id, node, uid)) for node, uid in kubelet.pods_waiting_on(cluster_id, kind, namespace, name)])


@shared_task(name="cluster.tasks.evaluate_labs")
def evaluate_labs(cluster_id: int) -> None:
    """The cluster changed while a lab is in progress: its checks run again on the server
    (cluster/labs/follow.py), so progress and the class's roster follow without the page."""
    wake.started((wake.EVALUATE_LABS, (cluster_id,)))
    follow.evaluate(cluster_id)


@shared_task(name="cluster.tasks.resync")
def resync() -> None:
    """The periodic resync: wake every component for everything not yet converged.

    Wake-ups are only a fast path; this makes a lost message (a killed worker, a Redis
    restart) a delay rather than lost work. Each cluster's pass is a task of its own in the
    controller manager's lane behind (wake.BEHIND): one pass over a class's thirty clusters
    took a third of a second, and the controllers' own work waited behind it.
    """
    wake.dispatch([(wake.RESYNC_CLUSTER, (pk,)) for pk in Cluster.objects.order_by("pk").values_list("pk", flat=True)])


# Clusters whose last pass found nothing to wake (by id and creation: an id can be taken
# again by a later cluster), with the revision that pass read. Each part
# of the pass reads the cluster's stored objects, and, where it finds nothing, finds nothing
# again from the same objects: while no write has happened there since (the revision is
# the same), the next pass is skipped. A class at rest is thirty such clusters, each passed
# every few seconds. Not marked when a part failed, or when pods wait to be scheduled (the
# scheduler's part then answers by the clock: an unschedulable pod's retry minute).
_quiet: dict[tuple[int, str], int] = {}
QUIET_MAX = 10000


@shared_task(name="cluster.tasks.resync_cluster")
def resync_cluster(cluster_id: int) -> None:
    """One cluster's part of the resync: its change log compacted, its components woken
    for what is not converged."""
    wake.started((wake.RESYNC_CLUSTER, (cluster_id,)))
    cluster = _cluster(cluster_id)
    if cluster is None:
        return
    key = (cluster.pk, str(cluster.created))
    if _quiet.get(key) == cluster.revision:
        return
    _quiet.pop(key, None)
    read_at = cluster.revision
    done = 0
    # One part's trouble (or one object's, in one of the collectors below) must not keep
    # the resync from the others: each part fails alone, in the log.
    with isolation.isolated(cluster, "resync", what="its change-log compaction"):
        store.compact(cluster, settings.PODFLOW_CHANGE_LOG_KEEP)
        done += 1
    tasks: list[wake.Task] = []
    # Only what is not converged: a resync over every object of every cluster would cost
    # more than the work it guards (a class runs thirty clusters).
    parts = resync_parts(cluster)
    for what, found in parts:
        with isolation.isolated(cluster, "resync", what=what):
            tasks.extend(found())
            done += 1
    wake.dispatch_paced(cluster, tasks, unless_delayed=True)
    if not tasks and done == len(parts) + 1 and not scheduler.pending_pods(cluster):
        if len(_quiet) >= QUIET_MAX:
            _quiet.clear()
        _quiet[key] = read_at


def resync_parts(cluster: Cluster) -> list[tuple[str, Callable[[], list[wake.Task]]]]:
    """Each component's part of the resync: what it must be woken for in this cluster."""
    pk = cluster.pk
    return [
        ("deployments", lambda: [(wake.RECONCILE_DEPLOYMENT, (pk, uid)) for uid in deployment.unconverged(cluster)]),
        ("replicasets", lambda: [(wake.RECONCILE_REPLICASET, (pk, uid)) for uid in replicaset.unconverged(cluster)]),
        ("owners", lambda: [(wake.COLLECT_GARBAGE, (pk, uid)) for uid in garbagecollector.missing_owners(cluster) + garbagecollector.waiting_owners(cluster)]),
        ("namespaces", lambda: [(wake.RECONCILE_NAMESPACE, (pk, name)) for name in namespace_controller.terminating(cluster)]),
        ("pending pods", lambda: [(wake.SCHEDULE_PENDING, (pk,))] if scheduler.resync_wanted(cluster) else []),
        ("services", lambda: [(wake.SYNC_NAMESPACE_ENDPOINTS, (pk, ns)) for ns in endpoints.namespaces_with_services(cluster)]),
        ("endpoints", lambda: [(wake.RECONCILE_ENDPOINTS, (pk, ns, name)) for ns, name in endpoints.orphaned_services(cluster)]),
        ("load balancers", lambda: [(wake.RECONCILE_LOADBALANCER, (pk, ns, name)) for ns, name in loadbalancer.services_to_resync(cluster)]),
        ("ingresses", lambda: [(wake.RECONCILE_INGRESS, (pk, ns, name)) for ns, name in ingress.ingresses_to_resync(cluster)]),
        ("kubelets", lambda: [(wake.SYNC_POD, (pk, node, uid)) for node, uid in kubelet.pods_needing_work(cluster)]),
    ]


def _work_in(clusters: list[Cluster], find: Callable[[list[Cluster]], set[int]], what: str) -> Callable[[Cluster], bool | None]:
    """Whether a periodic pass has work in each cluster, as `find` read it for all of them
    at once (a few statements, not a few per cluster); if that read failed, None: each
    cluster reads its own."""
    try:
        found = find(clusters)
    except Exception:
        log.exception("%s could not read which clusters have work: each reads its own", what)
        return lambda cluster: None
    return lambda cluster: cluster.pk in found


@shared_task(name="cluster.tasks.heartbeat")
def heartbeat() -> None:
    """Every running kubelet renews its node Lease, and now and then posts node status.
    A paused cluster's kubelets are frozen with its clock (and so is its node controller)."""
    clusters = list(Cluster.objects.filter(paused=False))
    due = _work_in(clusters, kubelet.heartbeats_due, "the heartbeat")
    for cluster in clusters:
        try:
            woken = kubelet.heartbeat(cluster, due=due(cluster))
        except Exception:  # one cluster's trouble must not stop the others' heartbeats
            log.exception("heartbeat of cluster %s failed", cluster.name)
            continue
        wake.dispatch([(wake.SYNC_POD, (cluster.pk, node, uid)) for node, uid in woken])


@shared_task(name="cluster.tasks.monitor_nodes")
def monitor_nodes() -> None:
    """The node lifecycle controller's pass (--node-monitor-period) over every cluster whose
    clock runs and whose controller manager runs."""
    clusters = [c for c in Cluster.objects.filter(paused=False) if clock.CONTROLLER_MANAGER not in (c.stopped_components or [])]
    work = _work_in(clusters, node_controller.clusters_with_work, "the node monitor")
    for cluster in clusters:
        try:
            node_controller.reconcile(cluster, work=work(cluster))
        except Exception:
            log.exception("node monitor of cluster %s failed", cluster.name)


@shared_task(name="cluster.tasks.expire_sandboxes")
def expire_sandboxes() -> None:
    """Remove anonymous sandboxes nobody has used for PODFLOW_SANDBOX_IDLE_HOURS, and the
    sessions that have ended (what `manage.py clearsessions` does)."""
    sandbox.expire()
    SessionStore.clear_expired()
