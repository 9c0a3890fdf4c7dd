"""The API server's request log: who asked what of each cluster, kept as data; and the
traffic log: the simulated requests to Services and Ingresses, and who answered them.

The API server announces each request it answered (cluster/apiserver/audit.py, REQUEST:
client, verb, resource, namespace, name, code, reason), and each batch of simulated
requests (TRAFFIC: the answers). This listener, registered in cluster/apps.py, keeps them
as `RequestRecord` and `TrafficRecord` rows — the newest REQUEST_LOG_KEEP and
TRAFFIC_LOG_KEEP per cluster — so a lab's `request` check can ask "did kubectl create a
pod in this step?" and its `traffic` check "did requests to web reach several pods?" long
after the announcement went by.

A request's row is not written by the request's thread: it is handed to the process's
request-log writer (`_Writer`), a thread that writes the rows that came within
GATHER_SECONDS of the first, as one transaction — as kube-apiserver's audit log backend
does in its batch mode. The answer does not wait for the write (on SQLite, for the
database's one write lock behind every sandbox's components), and a class's requests in
the same second go in a few transactions rather than one each. A row is in the table a
moment after the answer (GATHER_SECONDS, and the write's own time under load); rows the
process had not written when it was killed are lost (it writes what is waiting when it
exits). PODFLOW_REQUEST_LOG_THREAD=0 has the request write its row before it is answered,
as the unit tests' database (one connection's open transaction) needs.
"""
from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
import time
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections, router, transaction
from django.utils import timezone

from cluster.apiserver import audit, store
from cluster.models import REQUEST_LOG_KEEP, TRAFFIC_LOG_KEEP, Cluster, RequestRecord, TrafficRecord

log = logging.getLogger("podflow.audit")

# The log is trimmed once every this many rows of a cluster (not at each request).
TRIM_EVERY = 50
# How long the writer gathers rows before it writes them (after the first one comes).
GATHER_SECONDS = 0.1


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
    if settings.PODFLOW_REQUEST_LOG_THREAD:
        _writer.add(_row(cluster_id, payload))
        return
    try:
        with store.queued_write():
            if _insert_request(cluster_id, payload) % TRIM_EVERY == 0:
                trim(cluster_id)
    except DatabaseError as exc:  # a busy database: the request it tells of stands
        log.warning("the request log of cluster %s missed a request: %s", cluster_name, exc)


def _row(cluster_id: int, payload: dict) -> dict:
    """A request's row, as the RequestRecord model's fields hold it (the time as the
    announcement's moment)."""
    return {
        "cluster_id": cluster_id,
        "time": timezone.now(),
        "client": str(payload.get("client") or "")[:120],
        "verb": str(payload.get("verb") or "")[:20],
        "resource": str(payload.get("resource") or "")[:120],
        "namespace": str(payload.get("namespace") or "")[:63],
        "name": str(payload.get("name") or "")[:253],
        "code": int(payload.get("code") or 0),
        "reason": str(payload.get("reason") or "")[:63],
    }


def _insert_request(cluster_id: int, payload: dict) -> int:
    """Write the request's row and return its id: one statement, the row the ORM's
    `RequestRecord.objects.create(...)` writes, without building a model and a query for
    it (every API request writes one: a tenth of what the API spent on a pod's POST)."""
    connection = connections[router.db_for_write(RequestRecord)]
    values = _row(cluster_id, payload)
    values["time"] = connection.ops.adapt_datetimefield_value(values["time"])
    returning = connection.features.can_return_columns_from_insert
    sql, columns = _insert_sql(returning)
    with connection.cursor() as cursor:
        cursor.execute(sql, [values[attname] for attname in columns])
        return cursor.fetchone()[0] if returning else cursor.lastrowid


class _Writer:
    """The process's request-log writer: rows handed to it wait in memory until its thread,
    GATHER_SECONDS after the first, writes all that are waiting in one transaction (those
    that come meanwhile go in the next). The thread is started with the first row (again
    in a forked child)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: list[dict] = []
        self.waiting = threading.Event()
        self.thread: threading.Thread | None = None
        self.pid = 0
        self.written: dict[int, int] = {}  # rows this process wrote per cluster, for trimming

    def add(self, row: dict) -> None:
        with self.lock:
            self.rows.append(row)
            if self.thread is None or self.pid != os.getpid() or not self.thread.is_alive():
                self.pid = os.getpid()
                self.thread = threading.Thread(target=self._run, name="request-log", daemon=True)
                self.thread.start()
        self.waiting.set()

    def _run(self) -> None:
        while True:
            self.waiting.wait()
            time.sleep(GATHER_SECONDS)  # the rows of the requests answered meanwhile come too
            self.waiting.clear()  # before taking the rows: one added after this wakes it again
            try:
                self.write()
            except Exception:  # the writer must go on: the next rows may fare better
                log.exception("the request log's writer failed")
            finally:
                connections.close_all()  # this thread's connections only (back to their pools)

    def write(self) -> int:
        """Write the rows waiting now, in one transaction. Returns how many went in."""
        with self.lock:
            rows, self.rows = self.rows, []
        if not rows:
            return 0
        connection = connections[router.db_for_write(RequestRecord)]
        sql, columns = _insert_sql(False)
        params = [[connection.ops.adapt_datetimefield_value(row["time"]) if c == "time" else row[c] for c in columns] for row in rows]
        counts: dict[int, int] = {}
        for row in rows:
            counts[row["cluster_id"]] = counts.get(row["cluster_id"], 0) + 1
        try:
            with store.queued_write(), transaction.atomic(using=connection.alias):
                with connection.cursor() as cursor:
                    cursor.executemany(sql, params)
                for cluster_id, count in counts.items():
                    before = self.written.get(cluster_id, 0)
                    self.written[cluster_id] = before + count
                    if (before + count) // TRIM_EVERY > before // TRIM_EVERY:
                        trim(cluster_id)
        except DatabaseError as exc:  # a busy database: the requests they tell of stand
            log.warning("the request log missed %d requests: %s", len(rows), exc)
            return 0
        return len(rows)


_writer = _Writer()


@atexit.register
def _write_at_exit() -> None:
    if _writer.rows and _writer.pid == os.getpid():
        try:
            _writer.write()
        except Exception:
            log.exception("the request log's last rows were not written")


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
