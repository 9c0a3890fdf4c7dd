"""The last middleware: it keeps a request's middleware in one thread.

Under Django's own ASGI handler, Django runs a middleware that can work both ways in the
mode of the handler below it, and the innermost handler is async: so each of Django's own
middleware (sync code in MiddlewareMixin) ran each of its process_request /
process_response methods through sync_to_async, a hop from daphne's event loop to a
thread and back, some fifteen a request, with the views sync anyway. A sync-only
middleware at the bottom makes every one above it run sync, in the request's thread: one
hop in at the top and one down to the view, whatever the number of middleware.

daphne serves HTTP through web/asgihttp.py, which loads the middleware in sync mode and
calls the view in the same thread, with no hop down; there this middleware only passes
the request on. It stays for Django's own handler (the tests' AsyncClient uses it).
"""
from __future__ import annotations

from typing import Callable

from django.http import HttpRequest, HttpResponse


def sync_chain(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    # A plain function middleware is sync-capable only (Django's default for it).
    def middleware(request: HttpRequest) -> HttpResponse:
        return get_response(request)

    return middleware
