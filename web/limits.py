"""Counters of attempts per key in a fixed window, in the cache every server process shares:
failed sign-ins per account name and per address, sandboxes made per address.

If the cache cannot be reached the limits are not applied (and the log says so): a
learner must not be locked out because Redis restarted.
"""
from __future__ import annotations

import logging
import time

from django.core.cache import cache
from django.http import HttpRequest

log = logging.getLogger("podflow.limits")


def client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def wait_seconds(key: str, limit: int) -> int:
    """Seconds until the window of `key` ends if it has reached `limit`, else 0."""
    try:
        window = cache.get(key)
    except Exception:
        log.warning("attempt counters unavailable", exc_info=True)
        return 0
    if window and window["count"] >= limit:
        return max(1, int(window["until"] - time.time()))
    return 0


def count(key: str, seconds: int) -> None:
    """One more attempt in the window of `key` (a new window if the last one ended)."""
    now = time.time()
    try:
        window = cache.get(key)
        if not window or window["until"] <= now:
            window = {"count": 0, "until": now + seconds}
        window["count"] += 1
        cache.set(key, window, timeout=int(window["until"] - now) + 1)
    except Exception:
        log.warning("attempt counters unavailable", exc_info=True)
