"""Pod helpers shared by the API, the controllers and the kubelet."""
from __future__ import annotations

from . import kinds, quantity, store
from .models import Cluster

# The scheduler counts a container with no request as this much (kube-scheduler's
# non-zero defaults), so that pods without requests still spread over the nodes.
DEFAULT_CPU_MILLI = 100
DEFAULT_MEMORY_BYTES = 200 * 2**20


def is_terminal(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def is_active(pod: dict) -> bool:
    """Counted by its ReplicaSet: not finished and not being deleted."""
    return not is_terminal(pod) and not pod["metadata"].get("deletionTimestamp")


def condition(doc: dict, type_: str) -> dict | None:
    for cond in (doc.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return cond
    return None


def is_ready(pod: dict) -> bool:
    cond = condition(pod, "Ready")
    return bool(cond and cond.get("status") == "True")


def set_condition(doc: dict, type_: str, status: str, reason: str = "", message: str = "") -> None:
    """Set a condition; its lastTransitionTime moves only when its status changes."""
    conditions = doc.setdefault("status", {}).setdefault("conditions", [])
    for cond in conditions:
        if cond.get("type") == type_:
            if cond.get("status") != status:
                cond["lastTransitionTime"] = store.rfc3339()
            cond["status"] = status
            _reason(cond, reason, message)
            return
    cond = {"type": type_, "status": status, "lastProbeTime": None, "lastTransitionTime": store.rfc3339()}
    _reason(cond, reason, message)
    conditions.append(cond)


def _reason(cond: dict, reason: str, message: str) -> None:
    for key, value in (("reason", reason), ("message", message)):
        if value:
            cond[key] = value
        else:
            cond.pop(key, None)


def requests(pod: dict, *, non_zero: bool = False) -> tuple[int, int]:
    """(millicores, bytes) the pod's containers request."""
    cpu = memory = 0
    for container in pod["spec"].get("containers", []):
        req = (container.get("resources") or {}).get("requests") or {}
        c = quantity.millicores(req["cpu"]) if "cpu" in req else (DEFAULT_CPU_MILLI if non_zero else 0)
        m = quantity.bytes_(req["memory"]) if "memory" in req else (DEFAULT_MEMORY_BYTES if non_zero else 0)
        cpu, memory = cpu + c, memory + m
    return cpu, memory


def delete(cluster: Cluster, namespace: str, name: str, *, by: str, grace_seconds: int | None = None) -> dict:
    """Delete a pod as the API server does (store.delete has the pod's grace rules).

    A pod whose kubelet has started it goes Terminating (deletionTimestamp) and the kubelet
    removes it once its containers have stopped. A pod no kubelet has touched yet, or a
    deletion with grace 0 (`--grace-period=0 --force`), is removed at once.
    """
    return store.delete(cluster, kinds.POD, namespace, name, by=by, options=store.DeleteOptions(grace_seconds=grace_seconds))
