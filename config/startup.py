"""What a long-running process of ours does once it has started (daphne in config/asgi.py, a
Celery worker through its signals in config/celery.py)."""
from __future__ import annotations

import gc


def freeze_startup_objects(**_) -> int:
    """Leave what the process holds once started out of the garbage collector's passes.

    Django, Celery, channels and our modules are about 147,000 container objects in a
    worker once loaded, and they live as long as the process. CPython's full collection
    walks every one of them each time it runs: 90 to 460 ms a collection in a worker during
    `make bench` on this project's 2-core test machine, a stall of the task it falls in.
    `gc.freeze()` moves them to a generation no collection visits (the full collections of
    the same run: 2 to 22 ms); what the process creates afterwards is collected as before.
    The garbage of starting up is collected first, so no unreachable cycle is kept for good.
    Returns how many objects are frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
