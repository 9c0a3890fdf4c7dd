"""Taints and tolerations as core/v1 defines them (Toleration.ToleratesTaint), read by the
scheduler's TaintToleration plugin and by the node lifecycle controller's eviction."""
from __future__ import annotations


def tolerates(toleration: dict, taint: dict) -> bool:
    """Effect and key must match when set; then the operator."""
    effect, key = toleration.get("effect") or "", toleration.get("key") or ""
    if effect and effect != taint.get("effect"):
        return False
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True  # an empty key with Exists tolerates every taint
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def tolerated(tolerations: list[dict], taint: dict) -> bool:
    return any(tolerates(t, taint) for t in tolerations)
