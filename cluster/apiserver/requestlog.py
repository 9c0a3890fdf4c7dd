"""The API server's request log: who asked what of each cluster, kept as data; and the
traffic log: the simulated requests to Services and Ingresses, and who answered them.

The API server announces each request it answered (cluster/apiserver/audit.py, REQUEST:
client, verb, resource, namespace, name, code, reason), and each batch of simulated
requests (TRAFFIC: the answers). This listener, registered in cluster/apps.py, keeps them
as `RequestRecord` and `TrafficRecord` rows — the newest REQUEST_LOG_KEEP and
TRAFFIC_LOG_KEEP per cluster — so a lab's `request` check can ask "did kubectl create a
pod in this step?" and its `traffic` check "did requests to web reach several pods?" long
after the announcement went by.
"""
from __future__ import annotations

import functools
import logging
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connections, router
from django.utils import timezone

from cluster.apiserver import audit, store
from cluster.models import REQUEST_LOG_KEEP, TRAFFIC_LOG_KEEP, Cluster, RequestRecord, TrafficRecord

log = logging.getLogger("podflow.audit")

# The log is trimmed once every this many rows of a cluster (not at each request).
TRIM_EVERY = 50


def record(cluster_name: str, what: str, payload: Any) -> None:
    """The audit listener: store a REQUEST or TRAFFIC announcement; ignore the others."""
    if what == audit.TRAFFIC and isinstance(payload, list):
        record_traffic(cluster_name, payload)
        return
    if what != audit.REQUEST or not isinstance(payload, dict):
        return
    cluster_id = payload.get(audit.CLUSTER_ID) or Cluster.objects.filter(name=cluster_name).values_list("pk", flat=True).first()
    if cluster_id is None:
        return
    try:
        with store.queued_write():
            if _insert_request(cluster_id, payload) % TRIM_EVERY == 0:
                trim(cluster_id)
    except DatabaseError as exc:  # a busy database: the request it tells of stands
        log.warning("the request log of cluster %s missed a request: %s", cluster_name, exc)


def _insert_request(cluster_id: int, payload: dict) -> int:
    """Write the request's row and return its id: one statement, the row the ORM's
    `RequestRecord.objects.create(...)` writes, without building a model and a query for
    it (every API request writes one: a tenth of what the API spent on a pod's POST)."""
    connection = connections[router.db_for_write(RequestRecord)]
    values = {
        "cluster_id": cluster_id,
        "time": connection.ops.adapt_datetimefield_value(timezone.now()),
        "client": str(payload.get("client") or "")[:120],
        "verb": str(payload.get("verb") or "")[:20],
        "resource": str(payload.get("resource") or "")[:120],
        "namespace": str(payload.get("namespace") or "")[:63],
        "name": str(payload.get("name") or "")[:253],
        "code": int(payload.get("code") or 0),
        "reason": str(payload.get("reason") or "")[:63],
    }
    returning = connection.features.can_return_columns_from_insert
    sql, columns = _insert_sql(returning)
    with connection.cursor() as cursor:
        cursor.execute(sql, [values[attname] for attname in columns])
        return cursor.fetchone()[0] if returning else cursor.lastrowid


@functools.cache
def _insert_sql(returning: bool) -> tuple[str, list[str]]:
    """The request log's INSERT (with RETURNING its id where the database can) and the
    attribute names its parameters follow."""
    meta = RequestRecord._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    sql = f"INSERT INTO {meta.db_table} ({', '.join(f.column for f in fields)}) VALUES ({', '.join(['%s'] * len(fields))})"
    return (sql + f" RETURNING {meta.pk.column}" if returning else sql), [f.attname for f in fields]


def record_traffic(cluster_name: str, answers: list) -> None:
    """Store a batch of simulated requests' answers (kube-proxy's or the ingress controller's)."""
    cluster_id = Cluster.objects.filter(name=cluster_name).values_list("pk", flat=True).first()
    if cluster_id is None:
        return
    moment = timezone.now()
    rows = []
    for body in answers[:TRAFFIC_LOG_KEEP]:
        if not isinstance(body, dict):
            continue
        kind, name = ("Ingress", body.get("ingress")) if body.get("ingress") else ("Service", body.get("service"))
        rows.append(TrafficRecord(
            cluster_id=cluster_id, time=moment, kind=kind, namespace=str(body.get("namespace") or "")[:63], name=str(name or "")[:253],
            via=str(body.get("via") or "")[:200], pod=str(body.get("pod") or "")[:253], status=int(body.get("status") or 0),
        ))
    try:
        with store.queued_write():
            TrafficRecord.objects.bulk_create(rows)
            trim(cluster_id, TRAFFIC_LOG_KEEP, TrafficRecord)  # a batch is a learner's click: trimmed each time
    except DatabaseError as exc:
        log.warning("the traffic log of cluster %s missed %d requests: %s", cluster_name, len(rows), exc)


def trim(cluster_id: int, keep: int = REQUEST_LOG_KEEP, model: type = RequestRecord) -> int:
    """Forget all but the newest `keep` rows of the cluster's log. Returns how many went."""
    oldest_kept = model.objects.filter(cluster_id=cluster_id).order_by("-id").values_list("id", flat=True)[keep - 1 : keep].first()
    if oldest_kept is None:
        return 0
    return model.objects.filter(cluster_id=cluster_id, id__lt=oldest_kept).delete()[0]


def since(cluster: Cluster, moment: datetime | None = None) -> list[RequestRecord]:
    """The cluster's requests answered at or after `moment` (all that are kept if None), oldest first."""
    rows = RequestRecord.objects.filter(cluster=cluster)
    if moment is not None:
        rows = rows.filter(time__gte=moment)
    return list(rows.order_by("id"))


def traffic_since(cluster: Cluster, moment: datetime | None = None) -> list[TrafficRecord]:
    """The cluster's simulated requests at or after `moment` (all that are kept if None), oldest first."""
    rows = TrafficRecord.objects.filter(cluster=cluster)
    if moment is not None:
        rows = rows.filter(time__gte=moment)
    return list(rows.order_by("id"))
