"""What the API server tells its watchers besides object changes.

Object changes reach the layers above through `store.on_commit`. Three more things are
worth showing a learner as they happen, and each is announced here: a request the API
server accepted (what kubectl asked, as an audit log records it), the answers to simulated
traffic (a request through a Service or an Ingress), and a change to the cluster itself
(its speed, a reset, its deletion). The browser stream subscribes when its app is ready
(web/apps.py); nothing here knows it.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from django.db import transaction

log = logging.getLogger("podflow.audit")

CLUSTER = "cluster"  # payload: None
REQUEST = "request"  # payload: the request's summary (verb, resource, client, code)
TRAFFIC = "traffic"  # payload: the list of answers
# A REQUEST's payload may carry the cluster's id under this key, for listeners that store
# it (the request log); it is not part of what the page is shown.
CLUSTER_ID = "cluster_id"

Listener = Callable[[str, str, Any], None]
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> None:
    """Call `listener(cluster_name, what, payload)` for every announcement (once per listener)."""
    if listener not in _listeners:
        _listeners.append(listener)


def announce(cluster_name: str, what: str, payload: Any = None) -> None:
    for listener in list(_listeners):
        try:
            listener(cluster_name, what, payload)
        except Exception:  # an announcement is for watching; the request it tells of stands
            log.exception("an audit listener failed for cluster %s", cluster_name)


def announce_on_commit(cluster_name: str, what: str, payload: Any = None) -> None:
    """Announce once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: announce(cluster_name, what, payload))
