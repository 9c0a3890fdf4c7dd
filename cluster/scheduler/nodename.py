"""NodeName: a pod that names its node (spec.nodeName) fits only there.

Such a pod is bound by the API server when it is created and never reaches the scheduler,
so in practice this filter always passes; it is here because kube-scheduler runs it.
"""
from __future__ import annotations

from cluster.scheduler.nodeinfo import NodeInfo, PodInfo
from cluster.scheduler.status import Status

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"


def filter(pod: PodInfo, node: NodeInfo) -> Status | None:
    wanted = pod.spec.get("nodeName")
    if not wanted or wanted == node.name:
        return None
    return Status(NAME, [ERR_REASON])
