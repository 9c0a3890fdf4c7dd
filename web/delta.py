"""A change as the stream sends it when the page already holds the object: a merge patch.

The page keeps every object of the kinds its snapshot carries (`KEPT_KINDS`), each with
its resourceVersion. When one of them is modified, the stream sends what changed since
the version before — an RFC 7386 JSON merge patch of the page's view of the object — and
the revision it applies to (`base`). A pod's status update is then a few hundred bytes
instead of the whole pod, and a class of followers costs daphne that much less to send.

The page applies a patch only to the version it names: an object it holds at a newer
version already has the change; one it holds at an older version (or not at all) makes it
ask for a fresh snapshot (static/podflow/store.js). `apply` here is what the page does.

A merge patch cannot say "set this to null" (null deletes), so a new version with a null
where a patch would carry it is sent whole (`Unpatchable`); lists are always replaced
whole, nulls inside them included.
"""
from __future__ import annotations

from typing import Any

# What the page's snapshot carries and the page keeps whole, every object of the kind
# (web/stream.py SNAPSHOT_KINDS; static/podflow/store.js KINDS). Events are not among
# them: the page keeps only the newest few hundred.
KEPT_KINDS = frozenset(("Node", "Pod", "Deployment", "ReplicaSet", "Service", "Endpoints", "ConfigMap", "Secret", "Ingress", "IngressClass"))


class Unpatchable(ValueError):
    """The new version has a null a merge patch would have to carry: send it whole."""


def diff(old: dict, new: dict) -> dict:
    """The merge patch that turns `old` into `new` (both JSON objects)."""
    patch: dict[str, Any] = {}
    for key in old:
        if key not in new:
            patch[key] = None
    for key, value in new.items():
        if key in old:
            before = old[key]
            if before == value:
                continue
            if isinstance(before, dict) and isinstance(value, dict):
                patch[key] = diff(before, value)
                continue
        _no_null(value)
        patch[key] = value
    return patch


def _no_null(value: Any) -> None:
    """A value carried in a patch as it is: a null in it, outside a list, would delete."""
    if value is None:
        raise Unpatchable("a null outside a list")
    if isinstance(value, dict):
        for inner in value.values():
            _no_null(inner)


def apply(target: Any, patch: Any) -> Any:
    """RFC 7386, as the page applies a patch: objects merge, null deletes, anything else
    (lists included) replaces. `target` is left as it was."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply(result.get(key), value)
    return result
