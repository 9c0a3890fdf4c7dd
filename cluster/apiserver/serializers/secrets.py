"""A Secret as a browser may see it: its values (base64 is an encoding, not a secret) and the
copy `kubectl apply` keeps of them in an annotation replaced by their size.

The page's stream (web/redact.py) and the etcd view of the page (handlers/etcd.py) both use
it; the Kubernetes API itself is not redacted: `kubectl get secret -o yaml` shows the base64
data, as a real cluster does to whoever may read Secrets.
"""
from __future__ import annotations

import base64
import binascii
import copy
import json

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _size(value: object, *, encoded: bool) -> str:
    if not isinstance(value, str):
        return "(redacted)"
    if encoded:
        try:
            return f"({len(base64.b64decode(value))} bytes)"
        except (binascii.Error, ValueError):
            return "(redacted)"
    return f"({len(value.encode())} bytes)"


def _redact_values(doc: dict) -> None:
    for field, encoded in (("data", True), ("stringData", False)):
        values = doc.get(field)
        if isinstance(values, dict):
            doc[field] = {key: _size(value, encoded=encoded) for key, value in values.items()}


def redacted(doc: dict) -> dict:
    """A copy of the Secret `doc` with every value replaced by "(N bytes)"."""
    safe = copy.deepcopy(doc)
    _redact_values(safe)
    annotations = (safe.get("metadata") or {}).get("annotations") or {}
    if LAST_APPLIED in annotations:
        try:
            applied = json.loads(annotations[LAST_APPLIED])
            if not isinstance(applied, dict):
                raise ValueError
            _redact_values(applied)
            annotations[LAST_APPLIED] = json.dumps(applied, separators=(",", ":"))
        except ValueError:
            annotations[LAST_APPLIED] = "(redacted)"
    return safe
