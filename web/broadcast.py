"""Publishing committed writes to the browser stream, and messages to the pages.

A cluster's stream goes over Redis publish/subscribe (web/bus.py): the thread that
committed publishes its changes, encoded once, right after the commit. Redis makes delivery
fast; the change log makes it complete (invariant 7): a follower that sees a gap in
revisions fills it from the database, so nothing here has to be reliable, only quick.

A class's messages to its instructor's pages (the roster changed) go to a Channels group.
`async_to_sync(group_send)` would build a new event loop and Redis connection per call
(2.6–3.7 ms here); instead each process keeps one loop in a daemon thread and a single
sender coroutine that sends them in order.
"""
from __future__ import annotations

import asyncio
import logging
import os
import threading
from datetime import datetime, timezone
from typing import Any

from django.conf import settings

from cluster.apimachinery import metav1
from cluster.apiserver import audit, store
from cluster.apiserver.serializers import display
from cluster.models import Cluster, Step
from web import bus, delta, redact

log = logging.getLogger("podflow.broadcast")


class _Sender:
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.queue: asyncio.Queue | None = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="podflow-broadcast", daemon=True)
        self.thread.start()
        self.ready.wait(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.queue = asyncio.Queue()
        self.ready.set()
        self.loop.run_until_complete(self._drain())

    async def _drain(self) -> None:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        assert self.queue is not None
        while True:
            group, message = await self.queue.get()
            try:
                await layer.group_send(group, message)
            except Exception:
                log.exception("could not send to %s", group)

    def put(self, group: str, message: dict) -> None:
        assert self.queue is not None
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (group, message))


_sender: _Sender | None = None
_lock = threading.Lock()


def _get_sender() -> _Sender:
    global _sender
    with _lock:
        # A forked Celery child inherits the parent's object but not its thread.
        if _sender is None or _sender.pid != os.getpid():
            _sender = _Sender()
        return _sender


def _enabled() -> bool:
    return getattr(settings, "PODFLOW_BROADCAST", True)


def send(group: str, message: dict[str, Any]) -> None:
    """Any message to a Channels group, in order with the rest (the classroom's)."""
    if _enabled():
        _get_sender().put(group, message)


def to_cluster(cluster_name: str, message: dict[str, Any]) -> None:
    """A message to the followers of a cluster, in order with its changes (its `type`
    names the followers' handler: cluster.request → cluster_request)."""
    if _enabled():
        bus.publish(cluster_name, bus.message_payload(message))


def publish(cluster_name: str, entries: list[dict[str, Any]]) -> None:
    if _enabled() and entries:
        bus.publish(cluster_name, bus.changes_payload(bus.encode(entries)))


def publish_cluster(cluster_name: str) -> None:
    """The cluster's settings changed (speed): followers re-read and forward them."""
    to_cluster(cluster_name, {"type": "cluster.settings"})


def publish_request(cluster_name: str, request: dict[str, Any]) -> None:
    """A request reached the API server: the diagram flashes step 1 (not stored)."""
    to_cluster(cluster_name, {"type": "cluster.request", "request": request})


def publish_traffic(cluster_name: str, answers: list[dict[str, Any]]) -> None:
    """Simulated requests to a Service and the pods that answered (not stored: not a change)."""
    if answers:
        to_cluster(cluster_name, {"type": "cluster.traffic", "answers": answers})


def entry(change: store.Committed) -> dict[str, Any]:
    """One committed write as the page's stream carries it (Secrets redacted, a large
    object summarised; see web/redact.py; a Pod or Node with its `display`; `at`, when it
    committed). A modified object of a kind the page keeps goes as a merge patch of the
    page's view since its version before (web/delta.py): `uid`, `base` (that version's
    resourceVersion), `patch`, and `display` beside it rather than inside."""
    head = {"revision": change.revision, "at": commit_time(change.at), "change": change.type, "kind": change.kind}
    steps = [step_payload(s) for s in change.steps]
    now = metav1.now()
    shown = redact.for_browser(change.new, change.size_hint)
    if change.type == "MODIFIED" and change.old is not None and change.kind in delta.KEPT_KINDS:
        try:
            patch = delta.diff(redact.for_browser(change.old), shown)
        except delta.Unpatchable:
            pass
        else:
            meta = change.new.get("metadata") or {}
            patched = {**head, "uid": meta.get("uid"), "base": (change.old.get("metadata") or {}).get("resourceVersion"), "patch": patch}
            fields = _display(change.new, now)
            if fields is not None:
                patched["display"] = fields
            return {**patched, "steps": steps}
    fields = _display(change.new, now)
    return {**head, "object": shown if fields is None else {**shown, "display": fields}, "steps": steps}


def commit_time(moment: datetime | None) -> str | None:
    """When a change committed, as every stream entry carries it (`at`): its Change row's
    time in RFC 3339, UTC, always to the microsecond (2026-12-03T10:00:00.000000Z)."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def for_page(doc: dict, size_hint: int | None = None, now: datetime | None = None) -> dict:
    """An object as the page gets it: what redact.for_browser lets it see and, for a Pod or
    a Node, a top-level `display` with what kubectl would print of it (see
    cluster/apiserver/serializers/display.py), read from the whole object even when the page
    gets it summarised. The stored document is never changed: the display goes on a copy."""
    shown = redact.for_browser(doc, size_hint)
    fields = _display(doc, now or metav1.now())
    return shown if fields is None else {**shown, "display": fields}


def _display(doc: dict, now: datetime) -> dict | None:
    try:
        return display.of(doc, now)
    except Exception:  # the stream must go on: the page falls back to the object's phase
        log.exception("could not print the display fields of %s %s", doc.get("kind"), (doc.get("metadata") or {}).get("name"))
        return None


def step_payload(step: Step) -> dict[str, Any]:
    return {
        "revision": step.revision,
        "pod_uid": step.pod_uid,
        "namespace": step.namespace,
        "pod": step.pod_name,
        "number": step.number,
        "status": step.status,
        "component": step.component,
        "actor": step.actor,
        "object": step.object_ref,
        "text": {"en": step.text_en, "ko": step.text_ko},
        "time": step.time.isoformat().replace("+00:00", "Z") if step.time else None,
    }


def publish_committed(cluster: Cluster, changes: list[store.Committed]) -> None:
    """The store's commit listener (registered in web/apps.py)."""
    if _enabled():
        publish(cluster.name, [entry(c) for c in changes])


def publish_announced(cluster_name: str, what: str, payload: Any) -> None:
    """The API server's audit listener (registered in web/apps.py)."""
    if what == audit.CLUSTER:
        publish_cluster(cluster_name)
    elif what == audit.REQUEST:
        publish_request(cluster_name, {k: v for k, v in payload.items() if k != audit.CLUSTER_ID} if isinstance(payload, dict) else payload)
    elif what == audit.TRAFFIC:
        publish_traffic(cluster_name, payload)
    elif what == "clock":
        # The clock or its held actions changed: followers read them and pass them on.
        to_cluster(cluster_name, {"type": "cluster.clock"})
