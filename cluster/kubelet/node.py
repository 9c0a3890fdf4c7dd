"""The kubelet's side of its node: heartbeats, and the machine being stopped and started.

Every kubelet renews its node's Lease (coordination.k8s.io/v1, namespace kube-node-lease)
a quarter of the node-monitor grace period apart, and rewrites its node status (the
conditions' lastHeartbeatTime) only rarely, or when something changed — the Lease is the
heartbeat, as in Kubernetes since 1.17. The node controller reads both.

A learner can stop a node (`POST /k8s/<cluster>/podflow/v1/nodes/<name>/stop`, or
`python manage.py node <cluster> <node> stop`): the machine goes down, its kubelet with it.
Nothing is written about its pods — nobody is left to write it — and its heartbeats stop;
the node controller notices. Starting it boots the machine again with a new boot ID: the
kubelet says Starting, reports Ready, and finds its containers gone (SandboxChanged, then
restarted as their restartPolicy says).
"""
from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction

from cluster.apimachinery import kinds, metav1, wellknown
from cluster.apimachinery.errors import not_found
from cluster.apiserver import rows, store
from cluster.componentbase import events, isolation, timing
from cluster.informers import wake
from cluster.models import Cluster

STOPPED = "podflow.dev/stopped"
LEASE_NAMESPACE = wellknown.NODE_LEASE_NAMESPACE
CONDITIONS = wellknown.NODE_CONDITIONS
READY = {
    "MemoryPressure": ("False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    "DiskPressure": ("False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    "PIDPressure": ("False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    "Ready": ("True", "KubeletReady", "kubelet is posting ready status"),
}


def is_stopped(node: dict | None) -> bool:
    return bool(node) and STOPPED in ((node.get("metadata") or {}).get("annotations") or {})


def boot_id(node: dict) -> str:
    return ((node.get("status") or {}).get("nodeInfo") or {}).get("bootID", "")


def lease_doc(node: dict, moment: datetime) -> dict:
    name = node["metadata"]["name"]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": name,
            "namespace": LEASE_NAMESPACE,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": node["metadata"]["uid"]}],
        },
        "spec": {"holderIdentity": name, "leaseDurationSeconds": timing.LEASE_DURATION, "renewTime": metav1.micro_time(moment)},
    }


def _post_status(doc: dict, moment: str) -> None:
    """The kubelet's node status: every condition healthy, heartbeat now."""
    conditions = doc.setdefault("status", {}).setdefault("conditions", [])
    by_type = {c.get("type"): c for c in conditions}
    for type_ in CONDITIONS:
        value, reason, message = READY[type_]
        cond = by_type.get(type_)
        if cond is None:
            cond = {"type": type_, "lastTransitionTime": moment}
            conditions.append(cond)
        if cond.get("status") != value:
            cond["lastTransitionTime"] = moment
        cond.update(status=value, reason=reason, message=message, lastHeartbeatTime=moment)


def heartbeat(cluster: Cluster, *, due: bool | None = None) -> list[tuple[str, str]]:
    """One beat of every running kubelet of the cluster: renew the Leases that are due, post
    node status when it changed or is due. Returns the (node, pod uid) of pods on nodes that
    just became Ready again, for the caller to wake. `due`: whether anything is, as the
    caller read it for many clusters at once (`due_clusters`); None reads it here."""
    woken: list[tuple[str, str]] = []
    now = metav1.now()
    renew_every = timing.lease_renew_interval(cluster)
    status_every = timing.node_status_interval(cluster)
    lease_kind = kinds.BY_KIND.get("Lease")
    # Beat every second, write when due: a beat with nothing due takes no write lock.
    if due is None:
        due = cluster.pk in due_clusters([cluster])
    if not due:
        return woken
    with store.locked(cluster):
        leases = {d["metadata"]["name"]: d for d in store.list_docs(cluster, lease_kind, LEASE_NAMESPACE)} if lease_kind else {}
        for node in store.list_docs(cluster, kinds.NODE):
            if is_stopped(node):
                continue
            # Each kubelet beats alone: one node whose beat fails (recorded on that node)
            # must not leave the others silent, and so NotReady.
            name = node["metadata"]["name"]
            with isolation.isolated(cluster, store.KUBELET, uid=node["metadata"]["uid"], what=f"the heartbeat of node {name}"):
                woken += _beat(cluster, node, leases.get(name), lease_kind, now, renew_every, status_every)
    return woken


# Only the fields that say whether a beat is due (the database extracts them), not the Nodes'
# and Leases' whole documents: read every second for every cluster.
_NODE_FIELDS = (("metadata", "name"), ("metadata", "annotations"), ("status", "conditions"))
_LEASE_FIELDS = (("metadata", "name"), ("spec", "renewTime"))


def due_clusters(clusters: list[Cluster]) -> set[int]:
    """The ids of those clusters in which a running kubelet has a Lease to renew or a status
    to post, read in two statements for all of them (read outside any lock: what falls due
    after this is written by the next beat)."""
    now = metav1.now()
    lease_kind = kinds.BY_KIND.get("Lease")
    ids = [c.pk for c in clusters]
    nodes = rows.json_fields_of_clusters(ids, kinds.NODE.kind, _NODE_FIELDS)
    leases = rows.json_fields_of_clusters(ids, lease_kind.kind, _LEASE_FIELDS, namespace=LEASE_NAMESPACE) if lease_kind else None
    return {
        c.pk for c in clusters
        if _due(nodes[c.pk], leases[c.pk] if leases is not None else None, now, timing.lease_renew_interval(c), timing.node_status_interval(c))
    }


def _due(nodes: list[tuple], renewals: list[tuple] | None, now: datetime, renew_every: float, status_every: float) -> bool:
    """From `_NODE_FIELDS` of the nodes and `_LEASE_FIELDS` of the Leases (None: the API
    has no Leases)."""
    leases = {name: {"spec": {"renewTime": renewed}} for _, _, name, renewed in renewals or ()}
    for _, _, name, notes, conditions in nodes:
        node = {"metadata": {"name": name, "annotations": notes or {}}, "status": {"conditions": conditions or []}}
        if is_stopped(node):
            continue
        if renewals is not None and _lease_due(leases.get(name), now, renew_every):
            return True
        if _status_due(node, now, status_every):
            return True
    return False


def _lease_due(lease: dict | None, now: datetime, renew_every: float) -> bool:
    if lease is None:
        return True
    renewed = metav1.parse_time((lease.get("spec") or {}).get("renewTime"))
    return renewed is None or (now - renewed).total_seconds() >= renew_every * 0.8


def _status_due(node: dict, now: datetime, status_every: float) -> bool:
    ready = metav1.condition(node, "Ready") or {}
    beat = metav1.parse_time(ready.get("lastHeartbeatTime"))
    healthy = ready.get("status") == "True" and ready.get("reason") == "KubeletReady"
    return not (healthy and beat is not None and (now - beat).total_seconds() < status_every)


def _beat(cluster: Cluster, node: dict, lease: dict | None, lease_kind, now: datetime, renew_every: float, status_every: float) -> list[tuple[str, str]]:
    """One node's kubelet: renew its Lease when due, post its status when due or changed."""
    name = node["metadata"]["name"]
    if lease_kind is not None:
        if lease is None:
            store.create(cluster, lease_doc(node, now), by=store.KUBELET, namespace=LEASE_NAMESPACE)
        elif _lease_due(lease, now, renew_every):
            store.mutate(
                cluster, lease_kind, LEASE_NAMESPACE, name,
                lambda d: d.setdefault("spec", {}).update(renewTime=metav1.micro_time(now), holderIdentity=name),
                by=store.KUBELET,
            )
    ready = metav1.condition(node, "Ready") or {}
    if not _status_due(node, now, status_every):
        return []
    moment = metav1.rfc3339(now)
    store.mutate(cluster, kinds.NODE, "", name, lambda d: _post_status(d, moment), by=store.KUBELET)
    if ready.get("status") == "True":
        return []
    events.record(cluster, node, "NodeReady", f"Node {name} status is now: NodeReady", by=store.KUBELET, component="kubelet", host=name)
    return [(name, p["metadata"]["uid"]) for p in store.list_docs(cluster, kinds.POD, node=name)]


def stop(cluster: Cluster, name: str, *, by: str = "podflow") -> dict:
    """Power the node off: its kubelet stops heartbeating and stops running its pods."""
    with store.locked(cluster):
        if store.find(cluster, kinds.NODE, "", name) is None:
            raise not_found("nodes", "", name)

        def power_off(doc: dict) -> None:
            doc["metadata"].setdefault("annotations", {}).setdefault(STOPPED, metav1.rfc3339())

        return store.mutate(cluster, kinds.NODE, "", name, power_off, by=by)


def start(cluster: Cluster, name: str, *, by: str = "podflow") -> dict:
    """Power the node on: a new boot, the kubelet starts, and reports Ready at once."""

    with store.locked(cluster):
        node = store.find(cluster, kinds.NODE, "", name)
        if node is None:
            raise not_found("nodes", "", name)
        if not is_stopped(node):
            return node

        def power_on(doc: dict) -> None:
            doc["metadata"].get("annotations", {}).pop(STOPPED, None)
            doc.setdefault("status", {}).setdefault("nodeInfo", {})["bootID"] = str(uuid.uuid4())

        node = store.mutate(cluster, kinds.NODE, "", name, power_on, by=by)
        events.record(cluster, node, "Starting", "Starting kubelet.", by=store.KUBELET, component="kubelet", host=name)
        woken = heartbeat(cluster)
        node = store.get(cluster, kinds.NODE, "", name)
        woken += [(name, p["metadata"]["uid"]) for p in store.list_docs(cluster, kinds.POD, node=name)]
    tasks = list(dict.fromkeys((wake.SYNC_POD, (cluster.pk, n, uid)) for n, uid in woken))
    transaction.on_commit(lambda: wake.dispatch(tasks))
    return node
