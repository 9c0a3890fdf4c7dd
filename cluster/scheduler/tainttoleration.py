"""TaintToleration: a node's taints keep away the pods that do not tolerate them.

Filter: NoSchedule and NoExecute taints refuse the node. Score: PreferNoSchedule taints
only count against it — the fewer the pod does not tolerate, the better (weight 3).
"""
from __future__ import annotations

from .nodeinfo import NodeInfo, PodInfo
from .status import Status, default_normalize_score

NAME = "TaintToleration"
WEIGHT = 3


def tolerates(toleration: dict, taint: dict) -> bool:
    """core/v1 Toleration.ToleratesTaint: effect and key must match when set; then the operator."""
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


def untolerated_reason(taint: dict) -> str:
    # Kubernetes 1.32's words. From 1.35 (and 1.34.2) kube-scheduler no longer names the
    # taint, saying "node(s) had untolerated taint(s)"; we simulate 1.32 and teach more so.
    return f"node(s) had untolerated taint {{{taint.get('key') or ''}: {taint.get('value') or ''}}}"


def filter(pod: PodInfo, node: NodeInfo) -> Status | None:
    for taint in node.taints:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerated(pod.tolerations, taint):
            return Status(NAME, [untolerated_reason(taint)])
    return None


def score(pod: PodInfo, node: NodeInfo) -> int:
    """How many PreferNoSchedule taints of the node the pod does not tolerate."""
    tolerations = [t for t in pod.tolerations if (t.get("effect") or "PreferNoSchedule") == "PreferNoSchedule"]
    return sum(1 for t in node.taints if t.get("effect") == "PreferNoSchedule" and not tolerated(tolerations, t))


def normalize(scores: dict[str, int]) -> dict[str, int]:
    return default_normalize_score(scores, reverse=True)
