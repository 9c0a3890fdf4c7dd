"""TaintToleration: a node's taints keep away the pods that do not tolerate them.

Filter: NoSchedule and NoExecute taints refuse the node. Score: PreferNoSchedule taints
only count against it — the fewer the pod does not tolerate, the better (weight 3).
"""
from __future__ import annotations

from cluster.apimachinery.taints import tolerated, tolerates  # noqa: F401 — the plugin's reading of core/v1
from cluster.scheduler.nodeinfo import NodeInfo, PodInfo
from cluster.scheduler.status import Status, default_normalize_score

NAME = "TaintToleration"
WEIGHT = 3


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
