"""A collection as it was at a past revision: the list `resourceVersionMatch=Exact` asks for.

etcd answers a read at an old revision from its MVCC history; here the change log
(`Change`, one row per revision, each holding the document as that write left it) is that
history, and the current rows (`Object`) are the state at the cluster's revision.

The state of one object at revision `rv` is its last write at or before `rv`: absent if
that write deleted it or if it had none yet. Compaction (`store.compact`) drops every row
up to a cutoff, so the log starts at its oldest retained revision O and the cutoff is
O - 1. What can still be rebuilt, per object of the collection:

* a retained write at or before `rv`: the last one says it all;
* no retained write at all: every write was at or before the cutoff, so the object is
  either gone (deleted before O) or the current row, untouched since then;
* only retained writes after `rv`: if the first is its ADDED, it did not exist yet at
  `rv`; otherwise it existed but its state at `rv` was a write the compaction dropped.

etcd keeps each key's latest version when it compacts; `store.compact` does not, so that
last case is state that is truly lost. A list at such an `rv` is refused with 410 Expired,
as etcd refuses a read below its compaction revision, naming the oldest revision at which
the collection can be rebuilt whole. Nothing is guessed: an answer is exact or a 410.
"""
from __future__ import annotations

from django.db.models import Count, Max, Min, Q, QuerySet

from cluster.apimachinery import kinds
from cluster.apimachinery.errors import APIError
from cluster.apiserver import store
from cluster.models import Change, Cluster, Object

# A compaction that lands while a list is being rebuilt makes it start over (it is rare:
# compaction runs now and then); after this many tries the list is answered as expired.
ATTEMPTS = 3


def too_old(revision: int, available: int) -> APIError:
    """410 Expired, worded as the API server's watch cache words it."""
    return APIError(410, "Expired", f"too old resource version: {revision} ({available})")


def oldest_retained(cluster: Cluster) -> int | None:
    """The revision of the oldest change-log row compaction has left, or None if it left none."""
    return Change.objects.filter(cluster=cluster).order_by("revision").values_list("revision", flat=True).first()


def compacted_through(cluster: Cluster, oldest: int | None) -> int:
    """The revision the log was compacted at: every write after it is still in the log.

    With rows left, that is the one before the oldest row (each revision has its row). With
    none left, every write so far was compacted away, and only the present can be listed.
    """
    if oldest is None:
        return store.current_revision(cluster)
    return oldest - 1


def _in_scope(rows: QuerySet, kind: kinds.Kind, namespace: str | None) -> QuerySet:
    """The rows of one kind, in one namespace when asked for one (as `store.list_docs`)."""
    rows = rows.filter(kind=kind.kind)
    if namespace is not None and kind.namespaced:
        rows = rows.filter(namespace=namespace)
    return rows


def _created_before_the_log(cluster: Cluster, kind: kinds.Kind, namespace: str | None) -> QuerySet:
    """(uid, first retained revision) of each object of the collection whose ADDED row was
    compacted away but which was written since: its state before that first retained write
    is lost. One grouped query."""
    return (
        _in_scope(Change.objects.filter(cluster=cluster), kind, namespace)
        .values("uid")
        .annotate(first=Min("revision"), created=Count("pk", filter=Q(type=Change.ADDED)))
        .filter(created=0)
        .values_list("uid", "first")
    )


def available_from(cluster: Cluster, kind: kinds.Kind, namespace: str | None) -> int:
    """The oldest revision at which the collection can be listed exactly: the compaction
    revision, or later if an object it kept untouched has been written since (see above)."""
    compacted = compacted_through(cluster, oldest_retained(cluster))
    latest = _created_before_the_log(cluster, kind, namespace).order_by("-first").values_list("first", flat=True).first()
    return max(compacted, latest or 0)


def list_at(cluster: Cluster, kind: kinds.Kind, namespace: str | None, revision: int) -> list[dict]:
    """The objects of `kind` (in `namespace`, or all) as they were at `revision`, in
    (namespace, name) order as `store.list_docs` lists the present.

    Each is the document its last write at or before `revision` stored. `revision` must not
    be newer than the cluster's (the caller answers that); one older than the history can
    rebuild raises 410 Expired. A handful of queries, however many objects or changes.

    The queries are not one snapshot; they are ordered so that a write landing meanwhile
    (always at a revision after `revision`) cannot make an object go missing, and a
    compaction landing meanwhile is noticed by the log's start having moved, and the
    list is rebuilt.
    """
    for _ in range(ATTEMPTS):
        oldest = oldest_retained(cluster)
        compacted = compacted_through(cluster, oldest)
        rebuilt = _rebuild(cluster, kind, namespace, revision, compacted) if revision >= compacted else None
        if oldest_retained(cluster) != oldest:
            continue  # compacted (or first written) meanwhile: read again
        if rebuilt is None:
            raise too_old(revision, compacted)
        found, complete = rebuilt
        if not complete:
            break
        return sorted(found, key=lambda doc: (doc["metadata"].get("namespace", ""), doc["metadata"]["name"]))
    raise too_old(revision, available_from(cluster, kind, namespace))


def _rebuild(cluster: Cluster, kind: kinds.Kind, namespace: str | None, revision: int, compacted: int) -> tuple[list[dict], bool]:
    """The collection at `revision` from a log compacted at `compacted`, and whether it is
    whole (False: an object's state at `revision` went with the compaction)."""
    # Objects with no retained write: their current row is their state since the
    # compaction. Read before the log, so that a write landing meanwhile shows up in the
    # log (and is noticed below) rather than being missed in both.
    untouched = {
        uid: doc
        for uid, doc in _in_scope(Object.objects.filter(cluster=cluster), kind, namespace)
        .filter(resource_version__lte=compacted)
        .values_list("uid", "doc")
    }
    # Every other object: its last write at or before `revision`, one grouped query.
    last = (
        _in_scope(Change.objects.filter(cluster=cluster, revision__lte=revision), kind, namespace)
        .values("uid")
        .annotate(last=Max("revision"))
        .values("last")
    )
    written = {
        uid: doc
        for uid, doc in Change.objects.filter(cluster=cluster, revision__in=last)
        .exclude(type=Change.DELETED)
        .values_list("uid", "doc")
    }
    # Objects that existed before the log begins and were first written after `revision`:
    # their state at `revision` is not kept anywhere. (A log never compacted still holds
    # every object's ADDED: nothing to look for.) One read just now (in `untouched`) is
    # known all the same, whatever was written to it since.
    lost = compacted > 0 and any(
        uid not in untouched for uid, _ in _created_before_the_log(cluster, kind, namespace).filter(first__gt=revision)
    )
    return [*untouched.values(), *written.values()], not lost
