"""Django's ASGI handler for HTTP, with the request's middleware and view run in one go.

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
"""
from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase


class SyncPathASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        # thread_sensitive: the thread of this request's ThreadSensitiveContext (set up by
        # ASGIHandler.__call__), the one its signals' receivers ran in.
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def get_asgi_application() -> SyncPathASGIHandler:
    """As django.core.asgi.get_asgi_application, with this handler."""
    import django

    django.setup(set_prefix=False)
    return SyncPathASGIHandler()
