"""The scheduler: filter the nodes a pod fits on, score them, bind the pod to the best.

It runs inside the cluster's lock, so two scheduling passes never both spend the same
room on a node (the real scheduler gets the same from its single loop and assume cache).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from . import events, kinds, narration, pods, quantity, store
from .models import Cluster


@dataclass
class NodeRoom:
    name: str
    ready: bool
    unschedulable: bool
    cpu: int  # allocatable millicores
    memory: int  # allocatable bytes
    max_pods: int
    used_cpu: int = 0
    used_memory: int = 0
    scored_cpu: int = 0  # with kube-scheduler's non-zero defaults, for scoring only
    scored_memory: int = 0
    count: int = 0
    reasons: list[str] = field(default_factory=list)


def node_rooms(cluster: Cluster) -> dict[str, NodeRoom]:
    rooms: dict[str, NodeRoom] = {}
    for node in store.list_docs(cluster, kinds.NODE):
        alloc = (node.get("status") or {}).get("allocatable") or {}
        ready = pods.condition(node, "Ready")
        rooms[node["metadata"]["name"]] = NodeRoom(
            name=node["metadata"]["name"],
            ready=bool(ready and ready.get("status") == "True"),
            unschedulable=bool((node.get("spec") or {}).get("unschedulable")),
            cpu=quantity.millicores(alloc.get("cpu", "0")),
            memory=quantity.bytes_(alloc.get("memory", "0")),
            max_pods=int(quantity.parse(alloc.get("pods", "110"))),
        )
    for pod in store.list_docs(cluster, kinds.POD):
        room = rooms.get(pod["spec"].get("nodeName") or "")
        if room is None or pods.is_terminal(pod):
            continue
        cpu, memory = pods.requests(pod)
        scored_cpu, scored_memory = pods.requests(pod, non_zero=True)
        room.used_cpu += cpu
        room.used_memory += memory
        room.scored_cpu += scored_cpu
        room.scored_memory += scored_memory
        room.count += 1
    return rooms


def filter_node(room: NodeRoom, cpu: int, memory: int) -> list[str]:
    """Why the pod cannot go on this node, in the scheduler's words; empty if it can."""
    if not room.ready:
        return ["node(s) had untolerated taint {node.kubernetes.io/not-ready: }"]
    if room.unschedulable:
        return ["node(s) were unschedulable"]
    reasons = []
    if room.count + 1 > room.max_pods:
        reasons.append("Too many pods")
    if cpu and room.used_cpu + cpu > room.cpu:
        reasons.append("Insufficient cpu")
    if memory and room.used_memory + memory > room.memory:
        reasons.append("Insufficient memory")
    return reasons


def score(room: NodeRoom, cpu: int, memory: int) -> float:
    """LeastAllocated: the share of CPU and memory left free after placing the pod, 0–100."""
    free_cpu = max(room.cpu - room.scored_cpu - cpu, 0) / room.cpu if room.cpu else 0
    free_mem = max(room.memory - room.scored_memory - memory, 0) / room.memory if room.memory else 0
    return 100 * (free_cpu + free_mem) / 2


def unschedulable_message(total: int, reasons: Counter) -> str:
    # kube-scheduler sorts the "<count> <reason>" strings, counts included.
    parts = ", ".join(sorted(f"{count} {reason}" for reason, count in reasons.items()))
    return f"0/{total} nodes are available: {parts}."


def schedule(cluster: Cluster, uid: str) -> str | None:
    """One scheduling attempt for one pod. Returns the node chosen, or None."""
    with store.locked(cluster):
        pod = store.by_uid(cluster, uid)
        if pod is None or pod["kind"] != "Pod" or pod["spec"].get("nodeName") or pod["metadata"].get("deletionTimestamp"):
            return None
        rooms = node_rooms(cluster)
        cpu, memory = pods.requests(pod)
        scored_cpu, scored_memory = pods.requests(pod, non_zero=True)
        feasible: list[NodeRoom] = []
        why: Counter = Counter()
        for room in rooms.values():
            reasons = filter_node(room, cpu, memory)
            if reasons:
                why.update(reasons)
            else:
                feasible.append(room)
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        if not feasible:
            _mark_unschedulable(cluster, pod, unschedulable_message(len(rooms), why) if rooms else "no nodes available to schedule pods")
            return None
        best = max(feasible, key=lambda r: (score(r, scored_cpu, scored_memory), -r.count, r.name))

        def bind(doc: dict) -> None:
            doc["spec"]["nodeName"] = best.name
            pods.set_condition(doc, "PodScheduled", "True")

        bound = store.mutate(
            cluster, kinds.POD, ns, name, bind, by=store.SCHEDULER, expected_uid=uid,
            steps=lambda doc, rev: [narration.scheduled(doc, best.name, len(feasible), len(rooms))],
        )
        events.record(cluster, bound, "Scheduled", f"Successfully assigned {ns}/{name} to {best.name}", by=store.SCHEDULER, component="default-scheduler")
        return best.name


def _mark_unschedulable(cluster: Cluster, pod: dict, message: str) -> None:
    """Record why the pod waits; only a new reason writes anything (retries stay quiet)."""
    current = pods.condition(pod, "PodScheduled")
    if current and current.get("status") == "False" and current.get("message") == message:
        return

    def apply(doc: dict) -> None:
        pods.set_condition(doc, "PodScheduled", "False", "Unschedulable", message)

    updated = store.mutate(cluster, kinds.POD, pod["metadata"]["namespace"], pod["metadata"]["name"], apply, by=store.SCHEDULER)
    events.record(cluster, updated, "FailedScheduling", message, by=store.SCHEDULER, component="default-scheduler", type_="Warning")


def pending_pods(cluster: Cluster) -> list[str]:
    """Uids of the pods waiting for a node, oldest first."""
    waiting = [
        p for p in store.list_docs(cluster, kinds.POD, node="")
        if not p["metadata"].get("deletionTimestamp") and not pods.is_terminal(p)
    ]
    waiting.sort(key=lambda p: p["metadata"]["creationTimestamp"])
    return [p["metadata"]["uid"] for p in waiting]
