"""The garbage collector: dependents follow their owners, as the deletion asked.

- Background: the owner is gone; a dependent none of whose other owners still stands is
  deleted (one that has another living owner only loses the dangling reference).
- Orphan: the owner waits, Terminating, with the `orphan` finalizer; every dependent loses
  its ownerReference to it, then the finalizer goes (and with it the owner).
- Foreground: the owner waits with `foregroundDeletion` while its dependents are deleted;
  once none that blocks it (`blockOwnerDeletion: true`) is left, the finalizer goes.

Each pass for one owner is one transaction under the cluster's lock, so no controller can
adopt a dependent between its release and the owner's removal.
"""
from __future__ import annotations

from typing import Callable

from cluster.apimachinery import kinds
from cluster.apimachinery.errors import APIError
from cluster.apiserver import rows, store
from cluster.componentbase import isolation
from cluster.models import Cluster, Object


def release_from(owner_uid: str) -> Callable[[dict], None]:
    """A document edit that drops the ownerReference to `owner_uid`, keeping any others."""

    def release(doc: dict) -> None:
        refs = [r for r in doc["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid]
        if refs:
            doc["metadata"]["ownerReferences"] = refs
        else:
            doc["metadata"].pop("ownerReferences", None)

    return release


def without_finalizer(name: str) -> Callable[[dict], None]:
    def drop(doc: dict) -> None:
        kept = [f for f in doc["metadata"].get("finalizers") or [] if f != name]
        if kept:
            doc["metadata"]["finalizers"] = kept
        else:
            doc["metadata"].pop("finalizers", None)

    return drop


def dependents(cluster: Cluster, owner_uid: str) -> list[dict]:
    """Every object with an ownerReference to `owner_uid`.

    The controller reference is indexed (owner_uid); other references are found in the
    documents. Events name the object they are about, they are not its dependents.
    """
    objects = Object.objects.filter(cluster=cluster).exclude(kind="Event")
    by_controller = objects.filter(owner_uid=owner_uid)
    by_reference = objects.filter(doc__metadata__ownerReferences__icontains=owner_uid).exclude(owner_uid=owner_uid)
    found = [doc for (doc,) in by_controller.values_list("doc")] + [doc for (doc,) in by_reference.values_list("doc")]
    return [doc for doc in found if any(r.get("uid") == owner_uid for r in doc["metadata"].get("ownerReferences") or [])]


def collect(cluster: Cluster, owner_uid: str) -> int:
    """One pass for one owner; returns how many dependents it deleted or released."""
    with store.locked(cluster):
        owner = store.by_uid(cluster, owner_uid)
        if owner is None:
            return _collect_dependents_of_gone(cluster, owner_uid)
        meta = owner["metadata"]
        if not meta.get("deletionTimestamp"):
            return 0
        finalizers = meta.get("finalizers") or []
        if store.ORPHAN_FINALIZER in finalizers:
            return _orphan(cluster, owner)
        if store.FOREGROUND_FINALIZER in finalizers:
            return _foreground(cluster, owner)
        return 0


def _kind_ns_name(doc: dict) -> tuple[kinds.Kind, str, str]:
    return kinds.BY_KIND[doc["kind"]], doc["metadata"].get("namespace", ""), doc["metadata"]["name"]


def _stands(cluster: Cluster, uid: str) -> bool:
    """A "solid" owner: it exists and does not wait for its dependents to be deleted."""
    owner = store.by_uid(cluster, uid)
    if owner is None:
        return False
    meta = owner["metadata"]
    return not (meta.get("deletionTimestamp") and store.FOREGROUND_FINALIZER in (meta.get("finalizers") or []))


def _delete_dependent(cluster: Cluster, doc: dict, *, owner_waits: bool) -> bool:
    """Delete one dependent. For an owner that waits (foreground), a dependent with
    dependents of its own goes in the foreground too, so the wait covers them all."""
    kind, ns, name = _kind_ns_name(doc)
    uid = doc["metadata"]["uid"]
    policy = "Foreground" if owner_waits and dependents(cluster, uid) else "Background"
    try:
        store.delete(cluster, kind, ns, name, by=store.GARBAGE_COLLECTOR, options=store.DeleteOptions(propagation=policy), expected_uid=uid)
    except APIError:
        return False  # deleted meanwhile by someone else
    return True


def _collect_dependents_of_gone(cluster: Cluster, owner_uid: str) -> int:
    done = 0
    for doc in dependents(cluster, owner_uid):
        # One dependent that fails is recorded on it; the others are still collected.
        with isolation.isolated(cluster, store.GARBAGE_COLLECTOR, uid=doc["metadata"]["uid"]):
            others = [r["uid"] for r in doc["metadata"].get("ownerReferences") or [] if r.get("uid") and r["uid"] != owner_uid]
            if any(_stands(cluster, uid) for uid in others):
                kind, ns, name = _kind_ns_name(doc)
                store.mutate(cluster, kind, ns, name, release_from(owner_uid), by=store.GARBAGE_COLLECTOR, expected_uid=doc["metadata"]["uid"])
                done += 1
            elif not doc["metadata"].get("deletionTimestamp") and _delete_dependent(cluster, doc, owner_waits=False):
                done += 1
    return done


def _orphan(cluster: Cluster, owner: dict) -> int:
    uid = owner["metadata"]["uid"]
    released = 0
    for doc in dependents(cluster, uid):
        kind, ns, name = _kind_ns_name(doc)
        # One dependent that fails is recorded on it; the others are still released.
        with isolation.isolated(cluster, store.GARBAGE_COLLECTOR, uid=doc["metadata"]["uid"]):
            store.mutate(cluster, kind, ns, name, release_from(uid), by=store.GARBAGE_COLLECTOR, expected_uid=doc["metadata"]["uid"])
            released += 1
    if dependents(cluster, uid):
        return released  # the owner stays until every dependent is released (a later pass)
    kind, ns, name = _kind_ns_name(owner)
    store.mutate(cluster, kind, ns, name, without_finalizer(store.ORPHAN_FINALIZER), by=store.GARBAGE_COLLECTOR, expected_uid=uid)
    return released


def _blocks(doc: dict, owner_uid: str) -> bool:
    return any(r.get("uid") == owner_uid and r.get("blockOwnerDeletion") for r in doc["metadata"].get("ownerReferences") or [])


def _foreground(cluster: Cluster, owner: dict) -> int:
    uid = owner["metadata"]["uid"]
    deleted = 0
    for doc in dependents(cluster, uid):
        if doc["metadata"].get("deletionTimestamp"):
            continue
        others = [r["uid"] for r in doc["metadata"].get("ownerReferences") or [] if r.get("uid") and r["uid"] != uid]
        if any(_stands(cluster, other) for other in others):
            # Another owner still stands: the dependent stays, without this owner.
            kind, ns, name = _kind_ns_name(doc)
            store.mutate(cluster, kind, ns, name, release_from(uid), by=store.GARBAGE_COLLECTOR, expected_uid=doc["metadata"]["uid"])
        elif _delete_dependent(cluster, doc, owner_waits=True):
            deleted += 1
    # Dependents that are still there (pods terminating, or held by their own finalizers)
    # block the owner; it is woken again when they go.
    if not any(_blocks(doc, uid) for doc in dependents(cluster, uid)):
        kind, ns, name = _kind_ns_name(owner)
        store.mutate(cluster, kind, ns, name, without_finalizer(store.FOREGROUND_FINALIZER), by=store.GARBAGE_COLLECTOR, expected_uid=uid)
    return deleted


def missing_owners(cluster: Cluster) -> list[str]:
    """Uids named as controlling owner that no longer exist: dependents left to collect."""
    owners = set(Object.objects.filter(cluster=cluster).exclude(kind="Event").exclude(owner_uid="").values_list("owner_uid", flat=True))
    if not owners:
        return []
    existing = set(Object.objects.filter(cluster=cluster, uid__in=owners).values_list("uid", flat=True))
    return sorted(owners - existing)


def waiting_owners(cluster: Cluster) -> list[str]:
    """Uids of the objects being deleted that wait for the collector (orphan, foreground)."""
    wanted = {store.ORPHAN_FINALIZER, store.FOREGROUND_FINALIZER}
    deleting = rows.json_fields(cluster.pk, None, (("metadata", "finalizers"),), having=("metadata", "deletionTimestamp"))
    return sorted(uid for uid, _, finalizers in deleting if isinstance(finalizers, list) and wanted & set(finalizers))
