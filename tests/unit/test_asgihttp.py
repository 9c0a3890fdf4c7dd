"""daphne's HTTP handler (web/asgihttp.py): Django's request path in the request's thread
in one go, the event loop left only to read the request and send the response."""
from __future__ import annotations

import json
import threading

import pytest
from asgiref import sync
from asgiref.testing import ApplicationCommunicator
from django.conf import settings

from config.asgi import application

from .manifests import pod
from .test_consumers import run

pytestmark = pytest.mark.django_db(transaction=True)

PODS = "/k8s/test/api/v1/namespaces/default/pods"


async def request(cluster, method: str, path: str, body: bytes = b"") -> dict:
    """One request through daphne's application: its status and its whole body, however
    many messages (a watch streams several)."""
    path, _, query = path.partition("?")
    scope = {
        "type": "http", "http_version": "1.1", "method": method, "path": path, "raw_path": path.encode(),
        "query_string": query.encode(), "root_path": "", "scheme": "http", "headers": _bearer(cluster),
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await communicator.receive_output(20)
    assert start["type"] == "http.response.start", start
    chunks = []
    while True:
        message = await communicator.receive_output(20)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    await communicator.wait(20)
    return {"status": start["status"], "body": b"".join(chunks)}


def _bearer(cluster) -> list[tuple[bytes, bytes]]:
    return [(b"host", b"testserver"), (b"authorization", f"Bearer {cluster.token}".encode()), (b"content-type", b"application/json")]


@pytest.fixture
def hops(monkeypatch):
    """The request's hops: into a thread (SyncToAsync) and back to the loop (AsyncToSync),
    and the threads the middleware and the view ran in."""
    seen = {"in": [], "back": [], "threads": set()}
    into, back = sync.SyncToAsync.__call__, sync.AsyncToSync.__call__

    async def counted_in(self, *args, **kwargs):
        seen["in"].append(getattr(self.func, "__qualname__", repr(self.func)))
        return await into(self, *args, **kwargs)

    def counted_back(self, *args, **kwargs):
        seen["back"].append(getattr(self.awaitable, "__qualname__", repr(self.awaitable)))
        return back(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counted_in)
    monkeypatch.setattr(sync.AsyncToSync, "__call__", counted_back)
    return seen


@run
async def test_a_write_runs_its_middleware_and_view_in_one_thread_without_a_hop_back_to_the_loop(cluster, hops, monkeypatch):
    from cluster.apiserver.handlers import k8s
    from web import metrics

    def in_thread(wrapped):
        def call(*args, **kwargs):
            hops["threads"].add(threading.get_ident())
            return wrapped(*args, **kwargs)

        return call

    monkeypatch.setattr(k8s, "_in_flight", in_thread(k8s._in_flight))  # inside the view
    monkeypatch.setattr(metrics.metrics, "http_request", in_thread(metrics.metrics.http_request))  # the first middleware, on the way out
    hops["in"].clear()  # the test's own start
    hops["back"].clear()
    response = await request(cluster, "POST", PODS, json.dumps(pod("web")).encode())

    assert response["status"] == 201, response["body"][:300]
    assert json.loads(response["body"])["metadata"]["name"] == "web"
    assert hops["back"] == []
    assert len(hops["threads"]) == 1
    # In: the request_started receivers, the request, the response's close, request_finished.
    assert len(hops["in"]) <= 4 < len(settings.MIDDLEWARE), hops["in"]


@run
async def test_bad_input_is_still_a_status_and_a_watch_still_streams(cluster, hops):
    hops["back"].clear()  # the test's own start
    bad = await request(cluster, "POST", PODS, b"{not json")
    assert bad["status"] == 400
    status = json.loads(bad["body"])
    assert status["kind"] == "Status" and "not valid JSON" in status["message"]

    created = await request(cluster, "POST", PODS, json.dumps(pod("web")).encode())
    assert created["status"] == 201
    watched = await request(cluster, "GET", PODS + "?watch=true&timeoutSeconds=1")
    assert watched["status"] == 200
    events = [json.loads(line) for line in watched["body"].decode().splitlines() if line]
    assert ("ADDED", "web") in [(e["type"], e["object"]["metadata"]["name"]) for e in events]
    assert hops["back"] == []
