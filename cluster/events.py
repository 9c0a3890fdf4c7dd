"""Kubernetes Events (core/v1), written by the components through the API server."""
from __future__ import annotations

import secrets
import time

from . import kinds, store
from .models import Cluster, Object


def involved(doc: dict) -> dict:
    meta = doc["metadata"]
    ref = {
        "kind": doc["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "apiVersion": doc["apiVersion"],
        "resourceVersion": meta.get("resourceVersion", ""),
    }
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    return ref


def record(
    cluster: Cluster,
    about: dict,
    reason: str,
    message: str,
    *,
    by: str,
    component: str,
    host: str = "",
    type_: str = "Normal",
    field_path: str = "",
) -> dict:
    """Write one Event about `about` (a pod, node, ReplicaSet or Deployment)."""
    moment = store.rfc3339()
    namespace = about["metadata"].get("namespace") or "default"
    ref = involved(about)
    if field_path:
        ref["fieldPath"] = field_path
    source = {"component": component}
    if host:
        source["host"] = host
    doc = {
        "apiVersion": "v1",
        "kind": "Event",
        # As Kubernetes names them: the object's name and the time in hex, so names sort by time.
        "metadata": {"name": f"{about['metadata']['name']}.{time.time_ns():x}{secrets.token_hex(1)}", "namespace": namespace},
        "involvedObject": ref,
        "reason": reason,
        "message": message,
        "source": source,
        "firstTimestamp": moment,
        "lastTimestamp": moment,
        "count": 1,
        "type": type_,
        "eventTime": None,
        "reportingComponent": component,
        "reportingInstance": host,
    }
    return store.create(cluster, doc, by=by, namespace=namespace)


def reasons_for(cluster: Cluster, uid: str) -> list[str]:
    """The reasons of the Events recorded about one object, oldest first."""
    # Only the reason is read out of each document (the kubelet asks at every stage).
    rows = Object.objects.filter(cluster=cluster, kind="Event", owner_uid=uid).order_by("resource_version")
    return [reason or "" for reason in rows.values_list("doc__reason", flat=True)]
