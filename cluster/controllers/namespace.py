"""The namespace controller: empties a namespace being deleted, then lets it go.

As kube-controller-manager's namespace controller: a deleted namespace stays Terminating,
held by the `kubernetes` finalizer of its spec, while everything in it is deleted (each
object as a client's delete would: pods stop gracefully, finalizers are honoured). Once
nothing is left, the finalizer goes and the API server removes the namespace.
"""
from __future__ import annotations

from cluster.apimachinery import kinds
from cluster.apimachinery.errors import APIError
from cluster.apiserver import store
from cluster.componentbase import isolation
from cluster.models import Cluster, Object

# Workloads first, so that no controller makes new pods while their owners are going.
_ORDER = {"Deployment": 0, "ReplicaSet": 1, "Pod": 2}


def reconcile(cluster: Cluster, name: str) -> bool:
    """One pass. Returns True when the namespace was finalized (its finalizer removed)."""
    with store.locked(cluster):
        namespace = store.find(cluster, kinds.NAMESPACE, "", name)
        if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
            return False
        if store.NAMESPACE_FINALIZER not in ((namespace.get("spec") or {}).get("finalizers") or []):
            return False
        delete_content(cluster, name)
        if Object.objects.filter(cluster=cluster, namespace=name).exists():
            return False  # pods still stopping, or finalizers pending: woken again as they go

        def finalize(doc: dict) -> None:
            spec = doc.setdefault("spec", {})
            spec["finalizers"] = [f for f in spec.get("finalizers") or [] if f != store.NAMESPACE_FINALIZER]

        store.mutate(cluster, kinds.NAMESPACE, "", name, finalize, by=store.NAMESPACE_CONTROLLER, expected_uid=namespace["metadata"]["uid"])
        return True


def delete_content(cluster: Cluster, namespace: str) -> int:
    """Delete every object of the namespace that is not already being deleted."""
    rows = Object.objects.filter(cluster=cluster, namespace=namespace).exclude(doc__metadata__deletionTimestamp__isnull=False)
    found = sorted(rows.values_list("kind", "name", "uid"), key=lambda row: (_ORDER.get(row[0], 9), row[0], row[1]))
    deleted = 0
    for kind, name, uid in found:
        with isolation.isolated(cluster, store.NAMESPACE_CONTROLLER, uid=uid, what=f"{kind} {namespace}/{name}"):
            try:
                store.delete(cluster, kinds.BY_KIND[kind], namespace, name, by=store.NAMESPACE_CONTROLLER, expected_uid=uid)
                deleted += 1
            except APIError:
                pass  # gone meanwhile
    return deleted


def terminating(cluster: Cluster) -> list[str]:
    """Names of the namespaces being deleted: what the resync must wake."""
    rows = Object.objects.filter(cluster=cluster, kind="Namespace", doc__metadata__deletionTimestamp__isnull=False)
    return sorted(rows.values_list("name", flat=True))
