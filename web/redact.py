"""What the browser may see of an object: Secret values never leave the API.

The page's stream sends every changed object; a Secret's values (base64 is an encoding,
not a secret) are replaced there by their size. The Kubernetes API is not redacted:
`kubectl get secret -o yaml` shows the base64 data, as a real cluster does to whoever may
read Secrets.
"""
from __future__ import annotations

from cluster.apimachinery import jsontext
from cluster.apiserver.serializers import secrets

# An object larger than this is sent to the browser summarised: a frame of the stream must
# stay far below daphne's 1 MiB, and no page shows a megabyte annotation usefully.
OBJECT_BYTES = 64 * 1024
# What a summary keeps: strings up to this long, lists up to this many items.
KEEP_CHARS = 1024
KEEP_ITEMS = 50


# How far below OBJECT_BYTES a size measured before the write's last metadata stamps
# (uid, resourceVersion, timestamps) must be for the object to be certainly small.
HINT_MARGIN = 4 * 1024


def for_browser(doc: dict, size_hint: int | None = None) -> dict:
    """The object as the page may show it: a Secret with its values replaced by "(N bytes)",
    and an object too large for the stream summarised (see `summarised`).

    `size_hint`: the size the API server measured when it admitted the write; an object
    well below the limit is then not serialised a second time on the write path."""
    if doc.get("kind") == "Secret":
        doc = _secret_for_browser(doc)
        size_hint = None
    if size_hint is not None and size_hint < OBJECT_BYTES - HINT_MARGIN:
        return doc
    size = len(jsontext.utf8(doc))
    return summarised(doc, size) if size > OBJECT_BYTES else doc


def summarised(doc: dict, size: int) -> dict:
    """A large object as the browser gets it: long strings (a megabyte annotation, a
    ConfigMap's file) replaced by "(N bytes)", long lists (5,000 containers) cut, and
    `podflowSummarised` saying how large the whole was. `kubectl get -o yaml` shows it all."""
    small = _shrink(doc)
    if len(jsontext.utf8(small)) > OBJECT_BYTES:
        # Wide rather than long (thousands of keys): what identifies it and where it stands.
        meta = doc.get("metadata") or {}
        small = {
            "apiVersion": doc.get("apiVersion"),
            "kind": doc.get("kind"),
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "ownerReferences") if k in meta},
            "spec": {"nodeName": (doc.get("spec") or {}).get("nodeName")} if isinstance(doc.get("spec"), dict) else {},
            "status": {"phase": (doc.get("status") or {}).get("phase")} if isinstance(doc.get("status"), dict) else {},
        }
    small["podflowSummarised"] = size
    return small


def _shrink(value: object) -> object:
    if isinstance(value, str):
        return value if len(value) <= KEEP_CHARS else f"({len(value.encode())} bytes)"
    if isinstance(value, list):
        return [_shrink(v) for v in value[:KEEP_ITEMS]]
    if isinstance(value, dict):
        return {k: _shrink(v) for k, v in value.items()}
    return value


def _secret_for_browser(doc: dict) -> dict:
    return secrets.redacted(doc)
