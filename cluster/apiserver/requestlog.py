"""The API server's request log: who asked what of each cluster, kept as data.

The API server announces each request it answered (cluster/apiserver/audit.py, REQUEST:
client, verb, resource, namespace, name, code, reason). This listener, registered in
cluster/apps.py, keeps them as `RequestRecord` rows — the newest REQUEST_LOG_KEEP per
cluster — so a lab's `request` check can ask "did kubectl create a pod in this step?"
long after the announcement went by.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import DatabaseError
from django.utils import timezone

from cluster.apiserver import audit
from cluster.models import REQUEST_LOG_KEEP, Cluster, RequestRecord

log = logging.getLogger("podflow.audit")

# The log is trimmed once every this many rows of a cluster (not at each request).
TRIM_EVERY = 50


def record(cluster_name: str, what: str, payload: Any) -> None:
    """The audit listener: store a REQUEST announcement; ignore the others."""
    if what != audit.REQUEST or not isinstance(payload, dict):
        return
    cluster_id = Cluster.objects.filter(name=cluster_name).values_list("pk", flat=True).first()
    if cluster_id is None:
        return
    try:
        row = RequestRecord.objects.create(
            cluster_id=cluster_id,
            time=timezone.now(),
            client=str(payload.get("client") or "")[:120],
            verb=str(payload.get("verb") or "")[:20],
            resource=str(payload.get("resource") or "")[:120],
            namespace=str(payload.get("namespace") or "")[:63],
            name=str(payload.get("name") or "")[:253],
            code=int(payload.get("code") or 0),
            reason=str(payload.get("reason") or "")[:63],
        )
        if row.pk % TRIM_EVERY == 0:
            trim(cluster_id)
    except DatabaseError as exc:  # a busy database: the request it tells of stands
        log.warning("the request log of cluster %s missed a request: %s", cluster_name, exc)


def trim(cluster_id: int, keep: int = REQUEST_LOG_KEEP) -> int:
    """Forget all but the newest `keep` requests of the cluster. Returns how many went."""
    oldest_kept = RequestRecord.objects.filter(cluster_id=cluster_id).order_by("-id").values_list("id", flat=True)[keep - 1 : keep].first()
    if oldest_kept is None:
        return 0
    return RequestRecord.objects.filter(cluster_id=cluster_id, id__lt=oldest_kept).delete()[0]


def since(cluster: Cluster, moment: datetime | None = None) -> list[RequestRecord]:
    """The cluster's requests answered at or after `moment` (all that are kept if None), oldest first."""
    rows = RequestRecord.objects.filter(cluster=cluster)
    if moment is not None:
        rows = rows.filter(time__gte=moment)
    return list(rows.order_by("id"))
