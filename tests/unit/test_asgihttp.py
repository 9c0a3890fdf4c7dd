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


@run
async def test_one_request_after_another_is_served_by_the_same_thread(cluster, monkeypatch):
    """A request borrows a thread kept from the one before (no thread started and joined
    per request), and its request_started and request_finished receivers run there too."""
    from django.core import signals

    from cluster.apiserver.handlers import k8s

    threads: list[tuple[str, int]] = []

    def in_view(wrapped):
        def call(*args, **kwargs):
            threads.append(("view", threading.get_ident()))
            return wrapped(*args, **kwargs)

        return call

    def started(**_):
        threads.append(("started", threading.get_ident()))

    def finished(**_):
        threads.append(("finished", threading.get_ident()))

    monkeypatch.setattr(k8s, "_in_flight", in_view(k8s._in_flight))
    signals.request_started.connect(started, weak=False)
    signals.request_finished.connect(finished, weak=False)
    try:
        before = threading.active_count()
        for i in range(5):
            assert (await request(cluster, "POST", PODS, json.dumps(pod(f"web-{i}")).encode()))["status"] == 201
        assert (await request(cluster, "GET", PODS + "/web-0"))["status"] == 200
    finally:
        signals.request_started.disconnect(started)
        signals.request_finished.disconnect(finished)
    assert [what for what, _ in threads[:3]] == ["started", "view", "finished"]
    assert len({ident for _, ident in threads}) == 1, threads
    assert threading.get_ident() not in {ident for _, ident in threads}  # not the loop's
    assert threading.active_count() <= before + 1


@run
async def test_requests_in_flight_at_once_each_have_a_thread_of_their_own(cluster, monkeypatch):
    """Two requests at once do not queue behind each other in one thread: each waits in its
    view until the other has reached its own."""
    import asyncio

    from cluster.apiserver.handlers import k8s

    both_in = threading.Barrier(2, timeout=10)
    seen: set[int] = set()

    def in_view(wrapped):
        def call(*args, **kwargs):
            seen.add(threading.get_ident())
            both_in.wait()  # a BrokenBarrierError (500) if the other never comes
            return wrapped(*args, **kwargs)

        return call

    for name in ("one", "two"):
        assert (await request(cluster, "POST", PODS, json.dumps(pod(name)).encode()))["status"] == 201
    monkeypatch.setattr(k8s, "_in_flight", in_view(k8s._in_flight))
    # Reads: the test database (SQLite in memory, its cache shared) takes one writer at a time.
    first, second = await asyncio.gather(request(cluster, "GET", PODS + "/one"), request(cluster, "GET", PODS + "/two"))
    assert (first["status"], second["status"]) == (200, 200), (first["body"][:200], second["body"][:200])
    assert len(seen) == 2


def test_an_executor_beyond_the_idle_ones_is_let_go():
    from web.asgihttp import _Executors

    pool = _Executors(keep=1)
    a, b = pool.take(), pool.take()
    assert a is not b
    pool.give_back(a)
    pool.give_back(b)
    assert pool.idle == [a]
    assert b._shutdown
    assert pool.take() is a
