"""The garbage collector: when an owner is gone, its dependents go too (background cascade)."""
from __future__ import annotations

from .. import kinds, pods, store
from ..errors import APIError
from ..models import Cluster, Object


def release_from(owner_uid: str):
    """A document edit that drops the ownerReference to `owner_uid`, keeping any others."""

    def release(doc: dict) -> None:
        refs = [r for r in doc["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid]
        if refs:
            doc["metadata"]["ownerReferences"] = refs
        else:
            doc["metadata"].pop("ownerReferences", None)

    return release


def collect(cluster: Cluster, owner_uid: str) -> int:
    """Delete the ReplicaSets and Pods whose controlling owner `owner_uid` no longer exists."""
    if Object.objects.filter(cluster=cluster, uid=owner_uid).exists():
        return 0
    deleted = 0
    dependents = Object.objects.filter(cluster=cluster, owner_uid=owner_uid, kind__in=["ReplicaSet", "Pod"]).values_list("kind", "namespace", "name", "uid")
    for kind, namespace, name, uid in list(dependents):
        try:
            if kind == "Pod":
                pods.delete(cluster, namespace, name, by=store.GARBAGE_COLLECTOR)
            else:
                store.remove(cluster, kinds.BY_KIND[kind], namespace, name, by=store.GARBAGE_COLLECTOR, expected_uid=uid)
            deleted += 1
        except APIError:
            pass  # deleted meanwhile by someone else
    return deleted


def missing_owners(cluster: Cluster) -> list[str]:
    """Uids named as controlling owner by a ReplicaSet or Pod that no longer exist."""
    owners = set(Object.objects.filter(cluster=cluster, kind__in=["ReplicaSet", "Pod"]).exclude(owner_uid="").values_list("owner_uid", flat=True))
    if not owners:
        return []
    existing = set(Object.objects.filter(cluster=cluster, uid__in=owners).values_list("uid", flat=True))
    return sorted(owners - existing)
