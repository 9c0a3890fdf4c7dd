"""Pod helpers shared by the API, the controllers and the kubelet (reading only: writes go
through the store)."""
from __future__ import annotations

from cluster.apimachinery import quantity

# The condition helpers every kind shares, as the pod code reads them.
from cluster.apimachinery.metav1 import condition, is_ready, set_condition  # noqa: F401

# The scheduler counts a container with no request as this much (kube-scheduler's
# non-zero defaults), so that pods without requests still spread over the nodes.
DEFAULT_CPU_MILLI = 100
DEFAULT_MEMORY_BYTES = 200 * 2**20


def is_terminal(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_active(pod: dict) -> bool:
    """Counted by its ReplicaSet: not finished and not being deleted."""
    return not is_terminal(pod) and not pod["metadata"].get("deletionTimestamp")


def requests(pod: dict, *, non_zero: bool = False) -> tuple[int, int]:
    """(millicores, bytes) the pod's containers request."""
    cpu = memory = 0
    for container in pod["spec"].get("containers", []):
        req = (container.get("resources") or {}).get("requests") or {}
        c = quantity.millicores(req["cpu"]) if "cpu" in req else (DEFAULT_CPU_MILLI if non_zero else 0)
        m = quantity.bytes_(req["memory"]) if "memory" in req else (DEFAULT_MEMORY_BYTES if non_zero else 0)
        cpu, memory = cpu + c, memory + m
    return cpu, memory

