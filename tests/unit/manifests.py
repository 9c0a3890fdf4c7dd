"""Manifests and small read helpers shared by the unit tests."""
from __future__ import annotations

from cluster.apiserver import store
from cluster.models import Change, Cluster, Object, Step


def pod(name: str = "web", *, image: str = "nginx", labels: dict | None = None, **requests: str) -> dict:
    container: dict = {"name": "app", "image": image}
    if requests:
        container["resources"] = {"requests": requests}
    meta: dict = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"containers": [container]}}


def workload(kind: str, name: str = "web", *, replicas: int = 3, image: str = "nginx", labels: dict | None = None) -> dict:
    labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(labels)},
            "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [{"name": "app", "image": image}]}},
        },
    }


def deployment(name: str = "web", **kwargs) -> dict:
    return workload("Deployment", name, **kwargs)


def replicaset(name: str = "web", **kwargs) -> dict:
    return workload("ReplicaSet", name, **kwargs)


def revision(cluster: Cluster) -> int:
    return store.current_revision(cluster)


def counts(cluster: Cluster) -> tuple[int, int, int, int]:
    """What a write leaves behind: the revision and the object, change and step rows."""
    return (
        revision(cluster),
        Object.objects.filter(cluster=cluster).count(),
        Change.objects.filter(cluster=cluster).count(),
        Step.objects.filter(cluster=cluster).count(),
    )


def changes_after(cluster: Cluster, after: int) -> list[Change]:
    return list(Change.objects.filter(cluster=cluster, revision__gt=after).order_by("revision"))


def steps_of(uid: str) -> list[tuple[int, str]]:
    return list(Step.objects.filter(pod_uid=uid).order_by("number").values_list("number", "status"))
