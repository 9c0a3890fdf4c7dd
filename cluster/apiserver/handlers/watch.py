"""Watches as Kubernetes serves them: `?watch=true&resourceVersion=N`.

The stream is read from the change log: every change of the kind after N, in revision
order, one JSON document per line, flushed at once. A quiet stream gets a bare newline now
and then (harmless to clients, and how we notice a client that has gone), and bookmarks
when asked for. A resourceVersion older than the log keeps answers 410 Expired, so the
client lists again.
"""
from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator, Callable

from channels.db import database_sync_to_async

from cluster.apimachinery import jsontext, kinds
from cluster.apiserver import registry
from cluster.apiserver.serializers import tables
from cluster.models import Change, Cluster

POLL_SECONDS = 0.1
KEEPALIVE_SECONDS = 5.0
BOOKMARK_SECONDS = 30.0
BATCH = 500


def oldest_revision(cluster_id: int) -> int | None:
    return Change.objects.filter(cluster_id=cluster_id).order_by("revision").values_list("revision", flat=True).first()


def expired(cluster_id: int, resource_version: int) -> bool:
    """Is `resource_version` older than the change log keeps?"""
    oldest = oldest_revision(cluster_id)
    return oldest is not None and resource_version < oldest - 1


def _changes_after(cluster_id: int, kind: str, namespace: str | None, after: int) -> tuple[list[tuple[int, str, dict]], int]:
    """Changes of a kind after `after`, and the revision the next poll starts after.

    The cluster's revision is read first and the log only up to it: a transaction sets the
    revision and appends its changes together, so every change up to that revision is in
    the log by then. (Read the other way round, a transaction committing between the two
    reads had its changes skipped: the next poll started after them.)"""
    current = Cluster.objects.filter(pk=cluster_id).values_list("revision", flat=True).first()
    if current is None or current <= after:
        return [], after
    rows = Change.objects.filter(cluster_id=cluster_id, kind=kind, revision__gt=after, revision__lte=current)
    if namespace is not None:
        rows = rows.filter(namespace=namespace)
    found = list(rows.order_by("revision").values_list("revision", "type", "doc")[:BATCH])
    if len(found) == BATCH:
        return found, found[-1][0]
    # Nothing more of this kind up to that revision: the next poll starts there.
    return found, current


def _line(event: dict) -> bytes:
    return (jsontext.ascii_text(event) + "\n").encode()


def expired_event(resource_version: int, oldest: int | None) -> bytes:
    return _line(
        {
            "type": "ERROR",
            "object": {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": f"too old resource version: {resource_version} ({(oldest or 1) - 1})",
                "reason": "Expired",
                "code": 410,
            },
        }
    )


async def stream(
    cluster: Cluster,
    kind: kinds.Kind,
    namespace: str | None,
    resource_version: int,
    matches: Callable[[dict], bool],
    *,
    as_table: bool,
    include_object: str,
    bookmarks: bool,
    timeout_seconds: float | None,
) -> AsyncIterator[bytes]:
    after = resource_version
    deadline = time.monotonic() + timeout_seconds if timeout_seconds else None
    last_sent = last_bookmark = time.monotonic()
    first_table = True
    if await database_sync_to_async(expired)(cluster.pk, after):
        yield expired_event(after, await database_sync_to_async(oldest_revision)(cluster.pk))
        return
    while deadline is None or time.monotonic() < deadline:
        changes, after = await database_sync_to_async(_changes_after)(cluster.pk, kind.kind, namespace, after)
        lines = []
        for _, change_type, doc in changes:
            if not matches(doc):
                continue
            obj = tables.table(registry.strategy(kind), [doc], doc["metadata"]["resourceVersion"], include_object=include_object, columns=first_table) if as_table else doc
            first_table = False
            lines.append(_line({"type": change_type, "object": obj}))
        now = time.monotonic()
        if lines:
            yield b"".join(lines)
            last_sent = now
        elif bookmarks and now - last_bookmark >= BOOKMARK_SECONDS:
            yield _line({"type": "BOOKMARK", "object": {"kind": kind.kind, "apiVersion": kind.api_version, "metadata": {"resourceVersion": str(after)}}})
            last_bookmark = last_sent = now
        elif now - last_sent >= KEEPALIVE_SECONDS:
            yield b"\n"
            last_sent = now
        if len(changes) < BATCH:
            await asyncio.sleep(POLL_SECONDS)
