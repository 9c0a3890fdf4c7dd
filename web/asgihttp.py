"""Django's ASGI handler for HTTP, with the request's middleware and view run in one go, in
a thread kept from one request to the next.

Django's ASGI handler runs the middleware chain in async mode. Our views are sync, and so
is Django's own middleware: each sync part ran through a hop between daphne's event loop
and a thread (web/syncchain.py made the middleware one hop, but the view, its view
middleware — CSRF's — and the way back still bounced through the loop). Under load each
hop is a wait for the loop to be scheduled and to take the interpreter: timing a POST
inside daphne over (e) on PostgreSQL, the way back from the view alone took p50 18 ms,
p90 68 ms.

Here the middleware is loaded in sync mode, as under WSGI, and the whole of Django's sync
request path (middleware, URL resolving, view middleware, view, exception handling) runs
in the request's thread in one call. Reading the body, the request_started and
request_finished signals and sending the response — streamed ones (watches, logs)
included — stay Django's ASGI handler's own, in the loop.

The request's thread: Django's handler gives every request a ThreadSensitiveContext of
its own, and asgiref a new single-thread executor for it — a thread started for the
request and joined when it ends (about a sixth of daphne's time on a request answered
404). Here each request borrows a single-thread executor from `_Executors` for its
context (asgiref's ThreadSensitiveContext(executor=...)) and gives it back when the
request is done: the same few threads serve one request after another, as a WSGI
server's threads do. A request still holds its thread alone while it runs (a watch
streaming for minutes keeps its own), so requests in flight at once still run side by
side.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase

# Idle threads kept for the next requests; more may run at once (one per request in
# flight), and those beyond this are let go when their request ends.
IDLE_THREADS = 16


class _Executors:
    """Single-thread executors lent to requests, most recently returned first (its thread
    and connection are the warmest). Used from daphne's event loop only."""

    def __init__(self, keep: int = IDLE_THREADS) -> None:
        self.keep = keep
        self.idle: list[ThreadPoolExecutor] = []
        self.lock = threading.Lock()  # (the loop is one thread; this keeps a test's own loop safe too)

    def take(self) -> ThreadPoolExecutor:
        with self.lock:
            if self.idle:
                return self.idle.pop()
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        # A view a client left mid-way may still be running there: the next request's calls
        # queue behind it in the same thread (max_workers=1), as on a WSGI thread.
        with self.lock:
            if len(self.idle) < self.keep:
                self.idle.append(executor)
                return
        executor.shutdown(wait=False)


class SyncPathASGIHandler(ASGIHandler):
    executors = _Executors()

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = self.executors.take()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            self.executors.give_back(executor)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        # thread_sensitive: the thread of this request's ThreadSensitiveContext (set up by
        # __call__), the one its signals' receivers ran in.
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def get_asgi_application() -> SyncPathASGIHandler:
    """As django.core.asgi.get_asgi_application, with this handler."""
    import django

    django.setup(set_prefix=False)
    return SyncPathASGIHandler()
