"""One object's trouble stays with that object.

A component works through many objects in a loop (the scheduler its pending pods, a
controller its pods or ReplicaSets, the resync its clusters). If one object makes the
work raise — a bug, a document no validator foresaw — the loop must not stop there, or
that one object blocks the component for the whole cluster, for ever (each retry meets it
first again). The real controllers get the same from their work queues: an error is
handled (logged, an event, a requeue with back-off) per key, and the worker takes the next.

`isolated` wraps one object's part of a loop: its writes are undone (a savepoint), what
went wrong is recorded on the object as a Warning event — counted on one Event, so a
retry at every resync does not flood — or, where no event can be written, in the log,
and the loop goes on.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

from cluster.apiserver import store
from cluster.componentbase import events
from cluster.models import Cluster

log = logging.getLogger("podflow.isolation")

# The reason of the Warning event recorded about an object a component failed on.
FAILED_SYNC = "FailedSync"
# An exception's text can be anything (a whole document): the event keeps its start.
MAX_MESSAGE = 1024


@contextmanager
def isolated(cluster: Cluster, component: str, *, uid: str = "", what: str = "") -> Iterator[None]:
    """Run one object's work; an unexpected error is recorded for that object and
    swallowed, so the caller's loop goes on with the next object.

    `uid` names the object the Warning event is about (none when it cannot be found);
    `what` says in the log which object it was. Inside a `locked` block the work runs in
    a savepoint, so the writes of the failed work are undone and the others' stay.
    """
    try:
        if store.in_transaction():
            with store.savepoint(cluster):
                yield
        else:
            # Outside a transaction each write of the work commits or rolls back on its
            # own: no transaction here, which would hold the lock for all of the work.
            yield
    except Exception as exc:
        log.exception("%s failed on %s in cluster %s; going on with the others", component, what or uid or "an object", cluster.name)
        record_failure(cluster, component, uid, exc)


def record_failure(cluster: Cluster, component: str, uid: str, exc: Exception) -> None:
    """A Warning event about the object, or a log line when none can be written."""
    if not uid:
        return
    message = f"{component} could not process this object: {type(exc).__name__}: {exc}"
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    try:
        with store.savepoint(cluster):
            about = store.by_uid(cluster, uid)
            if about is None:
                return
            events.record_aggregated(cluster, about, FAILED_SYNC, message, by=component, component=component, type_="Warning")
    except Exception:
        log.exception("%s could not record its failure on %s in cluster %s", component, uid, cluster.name)
