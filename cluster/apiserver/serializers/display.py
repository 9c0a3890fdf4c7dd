"""What the page shows of a Pod or a Node, printed once, by the server.

The page's stream sends each Pod and Node with a `display` of these fields, so the browser
draws what kubectl would print instead of re-implementing kubectl's printers in
JavaScript. The words are tables.py's (the `kubectl get` columns): one source of truth.

A pod's `display`:

    status          kubectl's STATUS word (tables.pod_status_reason): Running, Pending,
                    ContainerCreating, CrashLoopBackOff, Terminating, Completed, Error ...
    key             the diagram's shape for it: pending, creating, running, ready,
                    terminating, succeeded, failed or unknown
    reason          one line of why, when there is one (the scheduler's message, the
                    waiting container's message, the exit code, the eviction)
    ready           the READY column: "1/2"
    restarts        the RESTARTS column: "3 (45s ago)", relative to when it was printed
    restartCount    the same count as a number
    evicted         the node controller is evicting it (DisruptionTarget while deleting)
    requests        what its containers request: {"cpu": "250m", "memory": "64Mi",
                    "milliCpu": 250, "memoryBytes": 67108864}
    holdsResources  it counts against its node's allocatable (it has not finished)

A node's `display`: {"status": "Ready,SchedulingDisabled" (the STATUS column), "ready":
bool, "allocatable": {"cpu", "memory", "milliCpu", "memoryBytes"}}.

"(45s ago)" is relative to the moment of printing; the page shows it and reads nothing
from it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from cluster.apimachinery import metav1, pods, quantity
from cluster.apiserver.serializers import tables

# The diagram's shapes (static/podflow/diagram.js draws one per key).
KEYS = ("pending", "creating", "running", "ready", "terminating", "succeeded", "failed", "unknown")
# Waiting reasons of a pod on its way up, not stuck: drawn as "creating".
WAITING_STARTING = frozenset({"ContainerCreating", "PodInitializing"})
# `reason` is one line beside the pod: a longer message is cut (the object keeps it whole).
REASON_CHARS = 1024


def pod(doc: dict, now: datetime | None = None) -> dict[str, Any]:
    """The pod as the page shows it (see the module's docstring)."""
    status = doc.get("status") or {}
    phase = status.get("phase") or "Pending"
    statuses = [cs for cs in status.get("containerStatuses") or [] if isinstance(cs, dict)]
    deleting = bool(doc["metadata"].get("deletionTimestamp"))
    word = tables.pod_status_reason(doc)
    waiting = next((w for w in (_state(cs, "waiting") for cs in statuses) if w and w.get("reason") == word), None)
    terminated = next((t for t in (_state(cs, "terminated") for cs in statuses) if t is not None and (t.get("reason") == word or not t.get("reason"))), None)
    reason = ""
    evicted = False
    if word == "Terminating" or (word == "Unknown" and deleting):
        key = "terminating"
        disruption = metav1.condition(doc, "DisruptionTarget")
        if disruption and disruption.get("status") == "True":
            reason = disruption.get("message") or disruption.get("reason") or ""
            evicted = True
    elif waiting is not None:
        key = "creating" if word in WAITING_STARTING else "failed"
        reason = waiting.get("message") or ""
    elif word == "Completed" or (phase == "Succeeded" and terminated is None):
        key = "succeeded"
    elif terminated is not None:
        key = "failed"
        reason = terminated.get("message") or (f"exit code {terminated['exitCode']}" if "exitCode" in terminated else "")
    elif phase == "Running" or word in ("Running", "NotReady"):
        key = "ready" if metav1.is_ready(doc) else "running"
    elif phase == "Failed":
        key = "failed"
        reason = status.get("message") or ""
    elif phase == "Pending":
        key = "pending"
        scheduled = metav1.condition(doc, "PodScheduled")
        if scheduled and scheduled.get("status") == "False":
            reason = scheduled.get("message") or scheduled.get("reason") or ""
    else:
        key = "unknown"
    try:
        cpu, memory = pods.requests(doc)
    except (ValueError, TypeError, AttributeError):  # stored objects are valid; a summary may not be
        cpu = memory = 0
    return {
        "status": word,
        "key": key,
        "reason": _line(reason),
        "ready": tables.pod_ready(doc),
        "restarts": str(tables.pod_restarts(doc, now)),
        "restartCount": tables.pod_restart_count(doc),
        "evicted": evicted,
        "requests": amounts(cpu, memory),
        "holdsResources": not pods.is_terminal(doc),
    }


def node(doc: dict) -> dict[str, Any]:
    """The node as the page shows it: kubectl's STATUS, Ready, and what pods may take."""
    alloc = (doc.get("status") or {}).get("allocatable") or {}
    try:
        cpu = quantity.millicores(alloc.get("cpu", "0"))
    except ValueError:
        cpu = 0
    try:
        memory = quantity.bytes_(alloc.get("memory", "0"))
    except ValueError:
        memory = 0
    return {"status": tables.node_status(doc), "ready": metav1.is_ready(doc), "allocatable": amounts(cpu, memory)}


def of(doc: dict, now: datetime | None = None) -> dict[str, Any] | None:
    """The display fields of a Pod or a Node; None for the other kinds."""
    kind = doc.get("kind")
    if kind == "Pod":
        return pod(doc, now)
    if kind == "Node":
        return node(doc)
    return None


def amounts(milli_cpu: int, memory_bytes: int) -> dict[str, Any]:
    return {"cpu": cpu_text(milli_cpu), "memory": memory_text(memory_bytes), "milliCpu": milli_cpu, "memoryBytes": memory_bytes}


def cpu_text(milli_cpu: int) -> str:
    """CPU as Kubernetes writes a quantity: whole cores ("4") or millicores ("250m")."""
    return quantity.format_millicores(milli_cpu)


_BINARY = (("Ei", 2**60), ("Pi", 2**50), ("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10))
_DECIMAL = (("E", 10**18), ("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3))


def memory_text(memory_bytes: int) -> str:
    """Memory as a quantity, exactly: with the largest binary suffix that divides it
    ("64Mi") or the largest decimal one ("2G"), whichever is shorter (binary when
    equal), else in bytes."""
    found = []
    for suffixes in (_BINARY, _DECIMAL):
        largest = next(((suffix, size) for suffix, size in suffixes if memory_bytes and memory_bytes % size == 0), None)
        if largest:
            found.append(f"{memory_bytes // largest[1]}{largest[0]}")
    return min(found, key=len) if found else str(memory_bytes)  # min keeps the first of equals


def _state(container_status: dict, name: str) -> dict | None:
    state = container_status.get("state")
    found = state.get(name) if isinstance(state, dict) else None
    return found if isinstance(found, dict) else None


def _line(text: object) -> str:
    text = str(text or "")
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"
