"""What the kubelet remembers about a pod: the Events it recorded, read back in order.

A real kubelet keeps pull progress and back-off timers in memory; ours keeps nothing and
reads them from the pod's Events each time (the Pulling it wrote, the pull that Failed and
how often), so any worker can pick up any pod. Events are aggregated as Kubernetes'
event recorder does: the same reason and message about the same container again raises
the event's `count` and `lastTimestamp` instead of writing a new one.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from cluster.apimachinery import kinds, metav1
from cluster.apimachinery.errors import APIError
from cluster.apiserver import store
from cluster.componentbase import events
from cluster.models import Cluster

FIELD_PATH_RE = re.compile(r"^spec\.(?:init)?[cC]ontainers\{(.+)\}$")


@dataclass
class Seen:
    name: str  # the Event object's name
    reason: str
    container: str  # from the event's fieldPath; "" for the pod itself
    message: str
    type: str
    count: int
    at: datetime  # when it last happened, to the microsecond (the row's update time)
    rv: int


def container_of(field_path: str | None) -> str:
    match = FIELD_PATH_RE.match(field_path or "")
    return match.group(1) if match else ""


def history(cluster: Cluster, uid: str) -> list[Seen]:
    """The pod's Events, oldest (by last occurrence) first."""
    return [
        Seen(
            row.name, row.doc.get("reason") or "", container_of((row.doc.get("involvedObject") or {}).get("fieldPath")),
            row.doc.get("message") or "", row.doc.get("type") or "Normal", int(row.doc.get("count") or 1), row.updated, row.revision,
        )
        for row in store.list_written(cluster, kinds.EVENT, owner_uid=uid)
    ]


def latest(seen: list[Seen], container: str, reasons: tuple[str, ...], *, about: str = "", after: int = 0) -> Seen | None:
    """The newest event of `container` with one of `reasons` (and `about` in its message)."""
    for item in reversed(seen):
        if item.rv <= after:
            return None
        if item.container == container and item.reason in reasons and (not about or about in item.message):
            return item
    return None


def emit(cluster: Cluster, pod: dict, seen: list[Seen], host: str, reason: str, message: str, *, container: str = "", type_: str = "Normal") -> None:
    """Record an Event about the pod (or one of its containers), aggregated."""
    for i in range(len(seen) - 1, -1, -1):
        item = seen[i]
        if (item.reason, item.container, item.message, item.type) == (reason, container, message, type_):
            moment = metav1.rfc3339()

            def again(doc: dict) -> None:
                doc["count"] = int(doc.get("count") or 1) + 1
                doc["lastTimestamp"] = moment

            try:
                updated = store.mutate(cluster, kinds.EVENT, pod["metadata"]["namespace"], item.name, again, by=store.KUBELET)
            except APIError:  # the event went (deleted by a client): write a new one
                break
            seen.pop(i)
            seen.append(Seen(item.name, reason, container, message, type_, item.count + 1, metav1.now(), int(updated["metadata"]["resourceVersion"])))
            return
    doc = events.record(
        cluster, pod, reason, message, by=store.KUBELET, component="kubelet", host=host, type_=type_,
        field_path=f"spec.containers{{{container}}}" if container else "",
    )
    seen.append(Seen(doc["metadata"]["name"], reason, container, message, type_, 1, metav1.now(), int(doc["metadata"]["resourceVersion"])))
