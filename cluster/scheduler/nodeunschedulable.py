"""NodeUnschedulable: a cordoned node (spec.unschedulable) takes no new pods.

Unless the pod tolerates the taint `kubectl cordon` stands for,
`node.kubernetes.io/unschedulable:NoSchedule` (DaemonSet pods do).
"""
from __future__ import annotations

from cluster.scheduler import tainttoleration
from cluster.scheduler.nodeinfo import UNSCHEDULABLE, NodeInfo, PodInfo
from cluster.scheduler.status import Status

NAME = "NodeUnschedulable"
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"


def filter(pod: PodInfo, node: NodeInfo) -> Status | None:
    if not node.unschedulable:
        return None
    if tainttoleration.tolerated(pod.tolerations, {"key": UNSCHEDULABLE, "effect": "NoSchedule"}):
        return None
    return Status(NAME, [ERR_REASON_UNSCHEDULABLE])
