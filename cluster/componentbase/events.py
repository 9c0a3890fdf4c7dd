"""Kubernetes Events (core/v1), written by the components through the API server."""
from __future__ import annotations

import secrets
import time
import uuid

from cluster.apimachinery import kinds, metav1
from cluster.apiserver import store
from cluster.apiserver.registry import validation
from cluster.models import Cluster, Object


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


def event_name(object_name: str) -> str:
    """As Kubernetes names Events: the object's name and the time in hex, so names sort by
    time (two random hex digits more: several Events can share a nanosecond here).

    An object's name can be valid while `<name>.<hex>` is not (a 253-character pod name
    leaves no room): then, as client-go's GenerateEventName does, a UUID instead, and the
    Event names its object in involvedObject as always.
    """
    name = f"{object_name}.{time.time_ns():x}{secrets.token_hex(1)}"
    if validation.validate_name(name):
        return str(uuid.uuid4())
    return name


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
    annotations: dict[str, str] | None = None,
) -> dict:
    """Write one Event about `about` (a pod, node, ReplicaSet or Deployment)."""
    moment = metav1.rfc3339()
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
        "metadata": {"name": event_name(about["metadata"]["name"]), "namespace": namespace},
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
    if annotations:
        doc["metadata"]["annotations"] = dict(annotations)
    return store.create(cluster, doc, by=by, namespace=namespace)


def reasons_for(cluster: Cluster, uid: str) -> list[str]:
    """The reasons of the Events recorded about one object, oldest first."""
    # Only the reason is read out of each document (the kubelet asks at every stage).
    rows = Object.objects.filter(cluster=cluster, kind="Event", owner_uid=uid).order_by("resource_version")
    return [reason or "" for reason in rows.values_list("doc__reason", flat=True)]


# How Kubernetes' event aggregator marks an Event that stands for several similar ones.
COMBINED = "(combined from similar events): "


def record_aggregated(
    cluster: Cluster,
    about: dict,
    reason: str,
    message: str,
    *,
    by: str,
    component: str,
    host: str = "",
    type_: str = "Normal",
) -> dict:
    """Record an Event, or count it on the one already recorded about the same object for
    the same reason, as client-go's EventCorrelator does.

    For a component that fails the same way at every sync (a ReplicaSet over its quota):
    one Event whose `count` and `lastTimestamp` grow, not a row per try. A message that
    differs (each try names a new pod) replaces the old one, marked as combined.
    """
    previous = (
        Object.objects.filter(cluster=cluster, kind="Event", owner_uid=about["metadata"]["uid"])
        .filter(doc__reason=reason, doc__type=type_, doc__source__component=component)
        .order_by("-resource_version")
        .values_list("namespace", "name")
        .first()
    )
    if previous is None:
        return record(cluster, about, reason, message, by=by, component=component, host=host, type_=type_)

    def bump(doc: dict) -> None:
        doc["count"] = int(doc.get("count") or 1) + 1
        doc["lastTimestamp"] = metav1.rfc3339()
        if doc.get("message") != message:
            doc["message"] = COMBINED + message

    return store.mutate(cluster, kinds.EVENT, previous[0], previous[1], bump, by=by)
