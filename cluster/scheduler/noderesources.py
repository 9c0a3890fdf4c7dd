"""NodeResourcesFit (filter and LeastAllocated score) and NodeResourcesBalancedAllocation.

Filter: the pod's requests must fit in what the node's pods have not already requested,
and the node must have a pod slot left. Scores, weight 1 each, both 0–100:
- LeastAllocated favours the emptiest node. It counts a container that requests nothing as
  100m CPU and 200Mi memory, so that pods without requests still spread out.
- BalancedAllocation favours the node where CPU and memory would be used in the most equal
  shares. It uses the real requests and skips pods that request nothing (as kube-scheduler
  does since 1.33, so that best-effort pods do not pile onto one node).
"""
from __future__ import annotations

from cluster.scheduler.nodeinfo import NodeInfo, PodInfo
from cluster.scheduler.status import MAX_NODE_SCORE, Status

FIT = "NodeResourcesFit"
BALANCED = "NodeResourcesBalancedAllocation"
FIT_WEIGHT = 1
BALANCED_WEIGHT = 1


def filter(pod: PodInfo, node: NodeInfo) -> Status | None:
    reasons: list[str] = []
    unresolvable = False  # a request larger than the whole node: no preemption can help
    if node.count + 1 > node.max_pods:
        reasons.append("Too many pods")
    if pod.cpu and pod.cpu > node.cpu - node.requested_cpu:
        reasons.append("Insufficient cpu")
        unresolvable |= pod.cpu > node.cpu
    if pod.memory and pod.memory > node.memory - node.requested_memory:
        reasons.append("Insufficient memory")
        unresolvable |= pod.memory > node.memory
    return Status(FIT, reasons, resolvable=not unresolvable) if reasons else None


def _least_requested(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def least_allocated(pod: PodInfo, node: NodeInfo) -> int:
    """The share of CPU and memory left free after placing the pod, averaged, 0–100."""
    scores = [
        _least_requested(node.nonzero_cpu + pod.nonzero_cpu, node.cpu) if node.cpu else None,
        _least_requested(node.nonzero_memory + pod.nonzero_memory, node.memory) if node.memory else None,
    ]
    counted = [s for s in scores if s is not None]
    return sum(counted) // len(counted) if counted else 0


def skip_balanced(pod: PodInfo) -> bool:
    return pod.cpu == 0 and pod.memory == 0


def balanced_allocation(pod: PodInfo, node: NodeInfo) -> int:
    """100 × (1 − the standard deviation of the CPU and memory fractions after placing the pod)."""
    fractions = [
        min((requested + wanted) / capacity, 1.0)
        for requested, wanted, capacity in (
            (node.requested_cpu, pod.cpu, node.cpu),
            (node.requested_memory, pod.memory, node.memory),
        )
        if capacity
    ]
    std = abs(fractions[0] - fractions[1]) / 2 if len(fractions) == 2 else 0.0
    return int((1 - std) * MAX_NODE_SCORE)
